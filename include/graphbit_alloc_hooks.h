/**
 * \file graphbit_alloc_hooks.h
 * \brief Installers that send other C libraries' allocations to graphbit-alloc.
 *
 * Header-only, with no dependency of its own: each section below is compiled
 * only when the program has already included that library's header, so
 * include this header after them. Each section has its own guard: including
 * this header again after another library's header adds that library's
 * section. C99 and C++11; every function is static inline.
 *
 *   library   compiled after           call                        before
 *   Lua 5.x   (nothing to install)     lua_newstate(gb_lua_alloc, NULL), from graphbit_alloc.h
 *                                      (or a heap for NULL: capped, freed all at once)
 *   SQLite 3  <sqlite3.h>              gb_sqlite3_install()        sqlite3_initialize()
 *                                      gb_sqlite3_install_heap(h)  (all its memory in heap h)
 *   zlib      <zlib.h>                 gb_zlib_install(&strm)      deflateInit/inflateInit on strm
 *   OpenSSL   <openssl/crypto.h>       gb_openssl_install()        OpenSSL's first allocation
 *   libcurl   <curl/curl.h>            gb_curl_global_init(flags)  any other libcurl call
 *   libxml2   <libxml/xmlmemory.h>     gb_xml_install()            any other libxml2 call
 *   Jansson   <jansson.h>              gb_jansson_install()        any other Jansson call
 *
 * Why "before": once installed, the library frees every block with gb_free
 * (or its sized form). A block it got from malloc before the installer ran
 * and frees afterwards is undefined behaviour (with jemalloc or mimalloc, a
 * crash or a corrupt heap). SQLite and OpenSSL refuse a late installer and
 * say so; libcurl ignores one silently; zlib, libxml2 and Jansson cannot tell.
 * Each function's comment says what happens when it is called too late.
 *
 * A block the library hands to the program to release (a string from
 * curl_easy_escape, xmlDocDumpMemory, sqlite3_mprintf, json_dumps) is then a
 * graphbit-alloc block: release it with the library's own function
 * (curl_free, xmlFree, sqlite3_free, OPENSSL_free; for Jansson's, which has
 * none, gb_free), never with free. Names starting gb_hooks_ are this
 * header's internals.
 */

#include "graphbit_alloc.h"

#ifndef GRAPHBIT_ALLOC_HOOKS_COMMON
#define GRAPHBIT_ALLOC_HOOKS_COMMON

#include <limits.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* strdup on gb_alloc: one allocation of the string's length (libcurl, libxml2). */
static inline char *gb_hooks_strdup(const char *str) {
    size_t size = strlen(str) + 1;
    char *copy = (char *)gb_alloc(size);
    if (copy != NULL) memcpy(copy, str, size);
    return copy;
}

/* ceil(log2(n)), for n >= 2. */
static inline unsigned gb_hooks_ceil_log2(size_t n) {
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)(sizeof(unsigned long long) * CHAR_BIT) -
           (unsigned)__builtin_clzll((unsigned long long)(n - 1));
#else
    unsigned lg = 0;
    for (n -= 1; n != 0; n >>= 1) lg++;
    return lg;
#endif
}

/*
 * The size of the block the backend serves for a request of n bytes (what
 * gb_usable_size reports), or a smaller value >= n where this header does
 * not know the backend's rule: the result is always a size that may be asked
 * for instead of n without taking more memory. n at most PTRDIFF_MAX / 2.
 *   jemalloc 5.3: 8, then classes 16 bytes apart up to 128, then 4 per
 *     doubling (160, 192, 224, 256, 320, ...), large sizes too.
 *   mimalloc 3: the same up to 512 KiB; above, 64 KiB slices.
 *   glibc (64-bit): chunks of 16 bytes less their 8-byte header (24, 40,
 *     56, ...); blocks above the mmap threshold get more.
 *   anything else: a multiple of 8 (SQLite's own rounding).
 */
enum { GB_HOOKS_OTHER, GB_HOOKS_JEMALLOC, GB_HOOKS_MIMALLOC, GB_HOOKS_GLIBC };

static inline int gb_hooks_backend(void) {
    const char *name = gb_allocator_name();
    if (strcmp(name, "jemalloc") == 0) return GB_HOOKS_JEMALLOC;
    if (strcmp(name, "mimalloc") == 0) return GB_HOOKS_MIMALLOC;
#if defined(__GLIBC__) && SIZE_MAX > 0xFFFFFFFFu
    if (strcmp(name, "system") == 0) return GB_HOOKS_GLIBC;
#endif
    return GB_HOOKS_OTHER;
}

static inline size_t gb_hooks_size_class(int backend, size_t n) {
    if (backend == GB_HOOKS_MIMALLOC && n > ((size_t)512 << 10))
        return (n + 0xFFFF) & ~(size_t)0xFFFF;
    if (backend == GB_HOOKS_JEMALLOC || backend == GB_HOOKS_MIMALLOC) {
        unsigned lg;
        size_t delta;
        if (n <= 8) return 8;
        lg = gb_hooks_ceil_log2(n);
        delta = (size_t)1 << (lg < 7 ? 4 : lg - 3);
        return (n + delta - 1) & ~(delta - 1);
    }
    if (backend == GB_HOOKS_GLIBC) return n <= 24 ? 24 : ((n + 23) & ~(size_t)15) - 8;
    return (n + 7) & ~(size_t)7;
}

#ifdef __cplusplus
}
#endif

#endif /* GRAPHBIT_ALLOC_HOOKS_COMMON */

/* ---- SQLite 3 ------------------------------------------------------------ */
#if defined(SQLITE_VERSION_NUMBER) && !defined(GRAPHBIT_ALLOC_HOOKS_SQLITE3)
#define GRAPHBIT_ALLOC_HOOKS_SQLITE3

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Each block carries the size SQLite asked for in an 8-byte prefix, as
 * SQLite's own mem1.c does where malloc_usable_size is missing: SQLite asks
 * for a block's size (xSize) at every allocation and free for its
 * accounting, and reading the prefix is cheaper than gb_usable_size; it also
 * makes every free sized. The price: a request within 8 bytes of the end of
 * a size class takes the next class. docs/runs/hooks.txt has both ways measured
 * (gb-bench/scripts/hooks.sh): the prefix took 5% fewer instructions and 10% more peak
 * memory. The blocks are 8-byte aligned, which is what sqlite3_malloc
 * promises, and start 8 bytes into a graphbit-alloc block: only sqlite3_free
 * may release them. xRoundup returns the backend's size class less the
 * prefix: SQLite asks xMalloc for exactly that much and uses the slack (and
 * skips xRealloc when a resize stays in the class).
 */
/* The heap of gb_sqlite3_install_heap (NULL: gb_alloc's allocator). Frees and
   reallocs need no heap: gb_free_sized and gb_realloc know a heap's blocks. */
static inline gb_heap_t **gb_hooks_sqlite3_heap(void) {
    static gb_heap_t *heap = NULL;
    return &heap;
}

static inline void *gb_hooks_sqlite3_malloc(int size) {
    int64_t *block;
    gb_heap_t *heap = *gb_hooks_sqlite3_heap();
    if (size < 0) return NULL;
    block = (int64_t *)(heap != NULL ? gb_heap_alloc(heap, (size_t)size + 8)
                                     : gb_alloc((size_t)size + 8));
    if (block == NULL) return NULL;
    block[0] = size;
    return block + 1;
}

static inline void gb_hooks_sqlite3_free(void *ptr) {
    int64_t *block;
    if (ptr == NULL) return;
    block = (int64_t *)ptr - 1;
    gb_free_sized(block, (size_t)block[0] + 8);
}

static inline void *gb_hooks_sqlite3_realloc(void *ptr, int size) {
    int64_t *block;
    if (ptr == NULL) return gb_hooks_sqlite3_malloc(size);
    if (size < 0) return NULL;
    block = (int64_t *)gb_realloc((int64_t *)ptr - 1, (size_t)size + 8);
    if (block == NULL) return NULL;
    block[0] = size;
    return block + 1;
}

static inline int gb_hooks_sqlite3_size(void *ptr) {
    return ptr == NULL ? 0 : (int)((int64_t *)ptr)[-1];
}

/* The size class less the prefix; a multiple of 8 where that passes INT_MAX
   (SQLite asks for at most 0x7fffff00 bytes), and 0 (the request fails, as
   SQLite documents) where even that does not fit. */
static inline int gb_hooks_sqlite3_roundup_for(int backend, int size) {
    size_t rounded;
    if (size <= 0) return 8;
    rounded = gb_hooks_size_class(backend, (size_t)size + 8) - 8;
    if (rounded > INT_MAX) rounded = ((size_t)size + 7) & ~(size_t)7;
    return rounded > INT_MAX ? 0 : (int)rounded;
}
static inline int gb_hooks_sqlite3_roundup_jemalloc(int size) {
    return gb_hooks_sqlite3_roundup_for(GB_HOOKS_JEMALLOC, size);
}
static inline int gb_hooks_sqlite3_roundup_mimalloc(int size) {
    return gb_hooks_sqlite3_roundup_for(GB_HOOKS_MIMALLOC, size);
}
static inline int gb_hooks_sqlite3_roundup_glibc(int size) {
    return gb_hooks_sqlite3_roundup_for(GB_HOOKS_GLIBC, size);
}
static inline int gb_hooks_sqlite3_roundup_other(int size) {
    return gb_hooks_sqlite3_roundup_for(GB_HOOKS_OTHER, size);
}

static inline int gb_hooks_sqlite3_init(void *app_data) {
    (void)app_data;
    return SQLITE_OK;
}
static inline void gb_hooks_sqlite3_shutdown(void *app_data) { (void)app_data; }

/** The methods gb_sqlite3_install gives SQLite (xRoundup for this backend). */
static inline sqlite3_mem_methods gb_hooks_sqlite3_methods(void) {
    sqlite3_mem_methods methods;
    methods.xMalloc = gb_hooks_sqlite3_malloc;
    methods.xFree = gb_hooks_sqlite3_free;
    methods.xRealloc = gb_hooks_sqlite3_realloc;
    methods.xSize = gb_hooks_sqlite3_size;
    switch (gb_hooks_backend()) {
    case GB_HOOKS_JEMALLOC: methods.xRoundup = gb_hooks_sqlite3_roundup_jemalloc; break;
    case GB_HOOKS_MIMALLOC: methods.xRoundup = gb_hooks_sqlite3_roundup_mimalloc; break;
    case GB_HOOKS_GLIBC: methods.xRoundup = gb_hooks_sqlite3_roundup_glibc; break;
    default: methods.xRoundup = gb_hooks_sqlite3_roundup_other; break;
    }
    methods.xInit = gb_hooks_sqlite3_init;
    methods.xShutdown = gb_hooks_sqlite3_shutdown;
    methods.pAppData = NULL;
    return methods;
}

/**
 * Makes SQLite allocate all its memory (sqlite3_malloc, sqlite3_mprintf,
 * every connection's and statement's) with graphbit-alloc:
 * sqlite3_config(SQLITE_CONFIG_MALLOC, ...). Returns SQLite's result code:
 * SQLITE_OK, or SQLITE_MISUSE when SQLite is already initialized, and then
 * nothing changes (SQLite goes on with its own allocator, safely). Call it
 * before sqlite3_initialize and before any function that initializes SQLite
 * implicitly (sqlite3_open*, sqlite3_malloc, sqlite3_mprintf, ...). After
 * sqlite3_shutdown it may be called again only when no block from the
 * earlier allocator is still held. Not thread-safe, like sqlite3_config.
 */
static inline int gb_sqlite3_install(void) {
    sqlite3_mem_methods methods = gb_hooks_sqlite3_methods();
    *gb_hooks_sqlite3_heap() = NULL;
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods); /* SQLite copies it */
}

/**
 * As gb_sqlite3_install, with every block SQLite allocates taken from `heap`
 * (gb_heap_new): the heap's limit caps SQLite's memory (past it SQLite gets
 * NULL and reports SQLITE_NOMEM), and gb_heap_stats says how much it holds.
 * The heap must outlive SQLite's use of it: destroy it only after
 * sqlite3_shutdown (a block of a destroyed heap must not be freed). Returns
 * SQLITE_MISUSE, changing nothing, when SQLite is already initialized or
 * `heap` is NULL. Not thread-safe, like sqlite3_config.
 */
static inline int gb_sqlite3_install_heap(gb_heap_t *heap) {
    gb_heap_t *before = *gb_hooks_sqlite3_heap();
    sqlite3_mem_methods methods = gb_hooks_sqlite3_methods();
    int rc;
    if (heap == NULL) return SQLITE_MISUSE;
    *gb_hooks_sqlite3_heap() = heap;
    rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
    if (rc != SQLITE_OK) *gb_hooks_sqlite3_heap() = before;
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif /* SQLite */

/* ---- zlib ---------------------------------------------------------------- */
#if defined(ZLIB_VERSION) && !defined(GRAPHBIT_ALLOC_HOOKS_ZLIB)
#define GRAPHBIT_ALLOC_HOOKS_ZLIB

#ifdef __cplusplus
extern "C" {
#endif

static inline voidpf gb_hooks_zlib_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    if (size != 0 && items > SIZE_MAX / size) return Z_NULL;
    return gb_alloc((size_t)items * size);
}

static inline void gb_hooks_zlib_free(voidpf opaque, voidpf address) {
    (void)opaque;
    gb_free(address);
}

/**
 * Makes the stream `strm` allocate its state with graphbit-alloc: sets
 * strm->zalloc, strm->zfree and strm->opaque (to Z_NULL; the hooks do not use
 * it). zlib's allocator is per stream: call it on each stream, before
 * deflateInit, deflateInit2, inflateInit, inflateInit2 or inflateBackInit;
 * the hooks stay for later re-inits of the stream. Called too late (on a
 * stream already initialized), deflateEnd/inflateEnd would free zlib's
 * malloc-ed state with gb_free: undefined, not detected. compress(),
 * uncompress() and the gz* file functions always use malloc.
 */
static inline void gb_zlib_install(z_stream *strm) {
    strm->zalloc = gb_hooks_zlib_alloc;
    strm->zfree = gb_hooks_zlib_free;
    strm->opaque = Z_NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* zlib */

/* ---- OpenSSL (1.1 and 3.x) ----------------------------------------------- */
#if (defined(OPENSSL_CRYPTO_H) || defined(HEADER_CRYPTO_H)) && !defined(GRAPHBIT_ALLOC_HOOKS_OPENSSL)
#define GRAPHBIT_ALLOC_HOOKS_OPENSSL

#ifdef __cplusplus
extern "C" {
#endif

static inline void *gb_hooks_openssl_malloc(size_t num, const char *file, int line) {
    (void)file;
    (void)line;
    return gb_alloc(num);
}

/* OpenSSL's own CRYPTO_realloc frees the block for a size of 0 and returns
   NULL, and its callers count on that; gb_realloc would return a new block. */
static inline void *gb_hooks_openssl_realloc(void *addr, size_t num, const char *file, int line) {
    (void)file;
    (void)line;
    if (num == 0) {
        gb_free(addr);
        return NULL;
    }
    return gb_realloc(addr, num);
}

static inline void gb_hooks_openssl_free(void *addr, const char *file, int line) {
    (void)file;
    (void)line;
    gb_free(addr);
}

/**
 * Makes OpenSSL (libcrypto and libssl: OPENSSL_malloc and everything built on
 * it) allocate with graphbit-alloc: CRYPTO_set_mem_functions. Returns 1, or
 * 0 when OpenSSL has already allocated, and then nothing changes (OpenSSL
 * goes on with malloc, safely). Call it first in main, before any OpenSSL
 * function and before initializing a library that initializes OpenSSL
 * (curl_global_init does: call this before gb_curl_global_init). A library
 * that allocates with OpenSSL from a constructor, before main, makes it fail.
 */
static inline int gb_openssl_install(void) {
    return CRYPTO_set_mem_functions(gb_hooks_openssl_malloc, gb_hooks_openssl_realloc,
                                    gb_hooks_openssl_free);
}

#ifdef __cplusplus
}
#endif

#endif /* OpenSSL */

/* ---- libcurl ------------------------------------------------------------- */
#if (defined(CURLINC_CURL_H) || defined(__CURL_CURL_H)) && !defined(GRAPHBIT_ALLOC_HOOKS_CURL)
#define GRAPHBIT_ALLOC_HOOKS_CURL

#ifdef __cplusplus
extern "C" {
#endif

/**
 * curl_global_init(flags) with libcurl's allocations sent to graphbit-alloc
 * (curl_global_init_mem with gb_alloc, gb_free, gb_realloc, a strdup on
 * gb_alloc and gb_calloc); returns its CURLcode. Use it instead of
 * curl_global_init, before any other libcurl function (curl_easy_init
 * initializes libcurl itself with malloc when nobody did), and pair it with
 * curl_global_cleanup as usual. Called too late (libcurl already
 * initialized), it returns CURLE_OK, changes nothing and only counts one
 * more init to clean up: libcurl does not tell. Only libcurl's own memory:
 * the TLS library it initializes (OpenSSL: gb_openssl_install first), zlib
 * and nghttp2 keep their own allocators.
 */
static inline CURLcode gb_curl_global_init(long flags) {
    return curl_global_init_mem(flags, gb_alloc, gb_free, gb_realloc, gb_hooks_strdup, gb_calloc);
}

#ifdef __cplusplus
}
#endif

#endif /* libcurl */

/* ---- libxml2 ------------------------------------------------------------- */
#if defined(__DEBUG_MEMORY_ALLOC__) && !defined(GRAPHBIT_ALLOC_HOOKS_XML)
#define GRAPHBIT_ALLOC_HOOKS_XML

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Makes libxml2 allocate with graphbit-alloc (xmlMemSetup with gb_free,
 * gb_alloc, gb_realloc and a strdup on gb_alloc: documents, nodes,
 * dictionaries, the strings it returns); returns xmlMemSetup's 0 (or -1).
 * Call it before any other libxml2 function, xmlInitParser and
 * LIBXML_TEST_VERSION included. Called too late, libxml2 cannot tell: what it
 * allocated before (its parser globals, any document) is later freed with
 * gb_free: undefined (a crash with jemalloc or mimalloc).
 */
static inline int gb_xml_install(void) {
    return xmlMemSetup(gb_free, gb_alloc, gb_realloc, gb_hooks_strdup);
}

#ifdef __cplusplus
}
#endif

#endif /* libxml2 */

/* ---- Jansson ------------------------------------------------------------- */
#if defined(JANSSON_VERSION_HEX) && !defined(GRAPHBIT_ALLOC_HOOKS_JANSSON)
#define GRAPHBIT_ALLOC_HOOKS_JANSSON

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Makes Jansson allocate with graphbit-alloc (json_set_alloc_funcs with
 * gb_alloc and gb_free); the strings json_dumps returns are then released
 * with gb_free. Call it before any other Jansson function. Called too late,
 * Jansson cannot tell: a value created before and released after (the last
 * json_decref) is freed with gb_free: undefined (a crash with jemalloc or
 * mimalloc).
 */
static inline void gb_jansson_install(void) { json_set_alloc_funcs(gb_alloc, gb_free); }

#ifdef __cplusplus
}
#endif

#endif /* Jansson */
