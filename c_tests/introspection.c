/* gb_stats, gb_trim, gb_owns, gb_verify_report, gb_backend_stats_text. */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

#ifndef GB_EXPECT_BACKEND
#error "compile with -DGB_EXPECT_BACKEND=\"jemalloc\" (or mimalloc, system)"
#endif

#define MiB ((size_t)1 << 20)

static bool backend_is(const char *name) { return strcmp(GB_EXPECT_BACKEND, name) == 0; }

/* Resident set of the process from /proc/self/statm, in bytes. */
static size_t resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    REQUIRE(f != NULL);
    unsigned long size = 0, resident = 0;
    REQUIRE(fscanf(f, "%lu %lu", &size, &resident) == 2);
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static gb_stats_t read_stats(void) {
    gb_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    REQUIRE(gb_stats(&s) == 0);
    CHECK(s.size == sizeof s);
    return s;
}

static void test_stats_contract(void) {
    CHECK(gb_stats(NULL) == EINVAL);

    /* Too small to hold `allocated`: EINVAL, untouched. */
    gb_stats_t s;
    memset(&s, 0x77, sizeof s);
    s.size = sizeof(size_t);
    CHECK(gb_stats(&s) == EINVAL);
    CHECK(s.size == sizeof(size_t) && s.allocated == 0x7777777777777777ull);

    /* An older caller whose struct ends after `active`: only that is filled. */
    memset(&s, 0x77, sizeof s);
    s.size = offsetof(gb_stats_t, active) + sizeof s.active;
    CHECK(gb_stats(&s) == 0);
    CHECK(s.size == offsetof(gb_stats_t, active) + sizeof s.active);
    CHECK(s.allocated != 0x7777777777777777ull);
    CHECK(s.resident == 0x7777777777777777ull && s.peak_resident == 0x7777777777777777ull);

    /* A newer caller with a bigger struct: we fill what we know. */
    struct { gb_stats_t known; uint64_t future[4]; } bigger;
    memset(&bigger, 0x77, sizeof bigger);
    bigger.known.size = sizeof bigger;
    CHECK(gb_stats(&bigger.known) == 0);
    CHECK(bigger.known.size == sizeof(gb_stats_t));
    CHECK(bigger.future[0] == 0x7777777777777777ull);

    gb_stats_t full = read_stats();
    CHECK(full.allocated != GB_STAT_UNAVAILABLE);
    CHECK(full.peak_resident != GB_STAT_UNAVAILABLE && full.peak_resident > 0);
    if (backend_is("jemalloc")) {
        CHECK(full.active != GB_STAT_UNAVAILABLE && full.active >= full.allocated);
        CHECK(full.resident != GB_STAT_UNAVAILABLE && full.mapped != GB_STAT_UNAVAILABLE);
        CHECK(full.retained != GB_STAT_UNAVAILABLE);
    }
}

/* allocated grows by at least 64 MiB while a touched 64 MiB block is live,
 * and falls back after it is freed. */
static void test_stats_follow_a_large_block(void) {
    gb_stats_t before = read_stats();
    unsigned char *big = gb_alloc(64 * MiB);
    REQUIRE(big != NULL);
    memset(big, 1, 64 * MiB);
    gb_stats_t during = read_stats();
    gb_free(big);
    gb_stats_t after = read_stats();
    printf("introspection: allocated %llu -> %llu -> %llu bytes\n", (unsigned long long)before.allocated,
           (unsigned long long)during.allocated, (unsigned long long)after.allocated);
    CHECK(during.allocated >= before.allocated + 64 * MiB);
    /* mimalloc keeps no live-byte count in release builds: its `allocated` is
     * its committed-memory counter, which mimalloc 3.3 does not lower when it
     * purges freed pages (resident memory does fall: see the trim test). */
    if (!backend_is("mimalloc")) CHECK(after.allocated + 32 * MiB <= during.allocated);
    CHECK(during.peak_resident >= 64 * MiB);
}

/* Freeing a large working set of medium blocks and trimming gives resident
 * memory back to the OS. */
static void test_trim_returns_memory(void) {
    enum { BLOCKS = 4096 };
    static void *blocks[BLOCKS];
    const size_t block = 64 * 1024; /* 256 MiB in all */
    CHECK(gb_trim() == 0);
    size_t base = resident_bytes();
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = gb_alloc(block);
        REQUIRE(blocks[i] != NULL);
        memset(blocks[i], 0x3C, block);
    }
    size_t loaded = resident_bytes();
    for (int i = 0; i < BLOCKS; i++) gb_free(blocks[i]);
    size_t freed = resident_bytes();
    CHECK(gb_trim() == 0);
    size_t trimmed = resident_bytes();
    printf("introspection: resident %zu MiB, loaded %zu MiB, after free %zu MiB, after gb_trim %zu MiB\n",
           base / MiB, loaded / MiB, freed / MiB, trimmed / MiB);
    CHECK(loaded >= base + 200 * MiB);
    /* After trimming, at most a quarter of the working set stays resident. */
    CHECK(trimmed <= base + 64 * MiB);
    CHECK(gb_trim() == 0); /* idempotent */
}

static int a_static_int;

static void test_owns(void) {
    CHECK(!gb_owns(NULL));
    void *host = malloc(64);
    REQUIRE(host != NULL);
    CHECK(!gb_owns(host));
    free(host);
    int on_stack = 0;
    CHECK(!gb_owns(&on_stack));
    CHECK(!gb_owns(&a_static_int));
    CHECK(!gb_owns((void *)(uintptr_t)0x1000));
    CHECK(!gb_owns((void *)UINTPTR_MAX));
    const size_t sizes[] = {0, 1, 100, 5000, 100000, 8 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = gb_alloc(sizes[i]);
        void *a = gb_aligned_alloc(4096, sizes[i]);
        REQUIRE(p && a);
        /* The system backend cannot tell its blocks from the host's. */
        CHECK(gb_owns(p) == !backend_is("system"));
        CHECK(gb_owns(a) == !backend_is("system"));
        gb_free(p);
        gb_free(a);
    }
}

static void test_verify_report(void) {
    CHECK(gb_verify());
    size_t needed = gb_verify_report(NULL, 0);
    CHECK(needed > 100);
    char *buf = malloc(needed + 1);
    REQUIRE(buf != NULL);
    /* One byte short: nothing but an empty string. */
    memset(buf, 'x', needed + 1);
    CHECK(gb_verify_report(buf, needed) == needed);
    CHECK(buf[0] == '\0');
    /* Exactly enough. */
    CHECK(gb_verify_report(buf, needed + 1) == needed);
    CHECK(strlen(buf) == needed);
    CHECK(buf[0] == '{' && buf[needed - 1] == '}');
    CHECK(strstr(buf, "\"passed\":true,\"checks\"") != NULL);
    CHECK(strstr(buf, "\"gb_alloc_served_by_backend\"") != NULL);
    CHECK(strstr(buf, "\"rust_global_allocator_served_by_backend\"") != NULL);
    CHECK(strstr(buf, "\"host_malloc_not_captured\"") != NULL);
    CHECK(strstr(buf, "\"passed\":false") == NULL);
    char expect[64];
    snprintf(expect, sizeof expect, "\"backend\":\"%s\"", GB_EXPECT_BACKEND);
    CHECK(strstr(buf, expect) != NULL);
    /* NULL with a length is never written. */
    CHECK(gb_verify_report(NULL, 100) == needed);
    free(buf);

    /* The backend's report can grow between two calls: leave room. */
    size_t text_len = gb_backend_stats_text(NULL, 0);
    CHECK(text_len > 0);
    size_t room = 2 * text_len + 65536;
    char *text = malloc(room);
    REQUIRE(text != NULL);
    size_t written = gb_backend_stats_text(text, room);
    CHECK(written < room && strlen(text) == written && written > 0);
    free(text);
}

int main(void) {
    test_stats_contract();
    test_stats_follow_a_large_block();
    test_trim_returns_memory();
    test_owns();
    test_verify_report();
    return gb_test_finish("introspection");
}
