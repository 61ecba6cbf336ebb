/* jemalloc's entry points for C and C++ code of the library
 * (src/override/new.cpp), as src/backend/jemalloc.rs calls them from Rust:
 * the backend's half of the C++ side, chosen by build.rs (GB_BACKEND_HEADER)
 * so that no file outside src/backend/ knows which backend it is. */
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
void *_rjem_malloc(size_t size);
void *_rjem_aligned_alloc(size_t alignment, size_t size);
void _rjem_free(void *ptr);
void _rjem_sdallocx(void *ptr, size_t size, int flags);
/* src/backend/jemalloc_conf.c (whole-process mode). */
void graphbit_alloc_start_background_thread(void);
#ifdef __cplusplus
}
#endif

/* Before a request of GB_LARGE_BLOCK bytes or more (build.rs, from
 * src/backend/large_block.rs): starts jemalloc's background thread once. */
static inline void backend_before_request(size_t size) {
    if (size >= (size_t)GB_LARGE_BLOCK) graphbit_alloc_start_background_thread();
}
static inline void *backend_alloc(size_t size) {
    backend_before_request(size);
    return _rjem_malloc(size);
}
static inline void *backend_aligned_alloc(size_t alignment, size_t size) {
    backend_before_request(size);
    return _rjem_aligned_alloc(alignment, size);
}
static inline void backend_free(void *ptr) { _rjem_free(ptr); }
/* Size 0 was served as 1, and is freed as 1. */
static inline void backend_free_sized(void *ptr, size_t size) {
    _rjem_sdallocx(ptr, size ? size : 1, 0);
}
static inline void backend_free_aligned_sized(void *ptr, size_t alignment, size_t size) {
    /* MALLOCX_ALIGN(alignment): log2 of the alignment, a power of two. */
    _rjem_sdallocx(ptr, size ? size : 1, __builtin_ctzll(alignment));
}
