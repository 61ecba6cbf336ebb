/* gb_stats, gb_trim, gb_thread_idle, gb_owns, gb_verify_report, gb_backend_stats_text,
 * also while other threads allocate and trim. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* gb_thread_idle: 0, errno kept, the thread allocates on afterwards; on
 * jemalloc the blocks its cache held go back to the arena, which the
 * arena's live-byte count (stats.allocated counts cached blocks as live)
 * shows. Run in a new thread, so its cache holds only this test's blocks. */
static void *idle_thread(void *arg) {
    (void)arg;
    /* 100 blocks of each size from 16 B to 2 KiB: each size's cache keeps
     * some of them (jemalloc flushes part of a full one at free). */
    enum { SIZES = 8, BLOCKS = 100 };
    static _Thread_local void *blocks[SIZES][BLOCKS];
    for (int s = 0; s < SIZES; s++) {
        for (int i = 0; i < BLOCKS; i++) {
            blocks[s][i] = gb_alloc((size_t)16 << s);
            REQUIRE(blocks[s][i] != NULL);
            memset(blocks[s][i], 0x5A, (size_t)16 << s);
        }
    }
    for (int s = 0; s < SIZES; s++)
        for (int i = 0; i < BLOCKS; i++) gb_free(blocks[s][i]);
    uint64_t cached = read_stats().allocated;
    errno = 4321;
    CHECK(gb_thread_idle() == 0);
    CHECK(errno == 4321);
    uint64_t flushed = read_stats().allocated;
    printf("introspection: allocated %llu KiB with freed blocks of 16 B-2 KiB cached, %llu KiB after gb_thread_idle\n",
           (unsigned long long)(cached >> 10), (unsigned long long)(flushed >> 10));
    if (backend_is("jemalloc")) CHECK(flushed + 16 * 1024 <= cached);
    CHECK(gb_thread_idle() == 0); /* twice in a row: nothing left, still 0 */
    void *again = gb_alloc(1024); /* a hint only: the thread allocates on */
    REQUIRE(again != NULL);
    memset(again, 0x5B, 1024);
    gb_free(again);
    return NULL;
}

static void test_thread_idle(void) {
    CHECK(gb_thread_idle() == 0); /* the main thread too */
    pthread_t thread;
    REQUIRE(pthread_create(&thread, NULL, idle_thread, NULL) == 0);
    REQUIRE(pthread_join(thread, NULL) == 0);
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
        /* The same address with a bit above the address width set is not a
         * block (jemalloc's page map looks at the low 48 bits only). */
        for (unsigned bit = 48; UINTPTR_MAX > UINT32_MAX && bit < 64; bit++) {
            const uint64_t high = (uint64_t)1 << bit;
            CHECK(!gb_owns((void *)(uintptr_t)((uint64_t)(uintptr_t)p | high)));
        }
        gb_free(p);
        gb_free(a);
    }
}

/* With no other thread running, two reports in a row have the same length
 * (addresses are written with a fixed width). */
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

/* The documented way to read an snprintf-style report whose length may change
 * between calls: call until it fits. Returns a malloc-ed string (the caller
 * frees it) and its length in *len; *rounds counts the calls that filled.
 * Every buffer has a guard after its end that must stay untouched. */
enum { GUARD = 64 };
static char *read_until_fits(size_t (*text)(char *, size_t), size_t *len, int *rounds) {
    size_t want = text(NULL, 0);
    *rounds = 0;
    for (;;) {
        char *buf = malloc(want + 1 + GUARD);
        REQUIRE(buf != NULL);
        memset(buf, 'x', want + 1 + GUARD);
        size_t got = text(buf, want + 1);
        ++*rounds;
        for (size_t i = want + 1; i < want + 1 + GUARD; i++) REQUIRE(buf[i] == 'x');
        if (got <= want) { /* it fitted: written whole, NUL-terminated */
            CHECK(strlen(buf) == got);
            *len = got;
            return buf;
        }
        CHECK(buf[0] == '\0'); /* it did not: an empty string, never a prefix */
        free(buf);
        REQUIRE(*rounds < 20);
        want = got;
    }
}

static atomic_bool churn_stop;

/* Allocates and frees through the library and the host's malloc, so that
 * every backend's counters move while the main thread reads reports. */
static void *churn(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    void *held[64] = {0};
    while (!atomic_load(&churn_stop)) {
        unsigned slot = (unsigned)(gb_rand(&seed) % 64);
        gb_free(held[slot]);
        size_t size = (size_t)(gb_rand(&seed) % 200000) + 1;
        held[slot] = gb_alloc(size);
        if (held[slot]) memset(held[slot], 1, size < 4096 ? size : 4096);
        free(malloc(size));
    }
    for (int i = 0; i < 64; i++) gb_free(held[i]);
    return NULL;
}

/* The report read while other threads allocate: every read that fits is a
 * whole document of the length returned, a NULL buffer is never written, and
 * on jemalloc and mimalloc (whose evidence does not depend on other threads)
 * it passes and keeps one length. On the system backend glibc's counter is
 * process-wide, so other threads' frees can make a probe fail: only the
 * protocol is checked there. */
static void test_report_under_concurrent_allocation(void) {
    enum { THREADS = 4, READS = 100 };
    pthread_t threads[THREADS];
    atomic_store(&churn_stop, false);
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&threads[i], NULL, churn, (void *)(uintptr_t)(i + 1)) == 0);

    char expect[64];
    snprintf(expect, sizeof expect, "\"backend\":\"%s\"", GB_EXPECT_BACKEND);
    size_t first_len = 0;
    int most_rounds = 0, differing = 0;
    for (int r = 0; r < READS; r++) {
        size_t len = 0;
        int rounds = 0;
        char *report = read_until_fits(gb_verify_report, &len, &rounds);
        if (rounds > most_rounds) most_rounds = rounds;
        CHECK(len > 100 && report[0] == '{' && report[len - 1] == '}');
        CHECK(strstr(report, expect) != NULL);
        if (r == 0) first_len = len;
        if (len != first_len) differing++;
        if (!backend_is("system")) {
            CHECK(strstr(report, "\"passed\":false") == NULL);
            CHECK(len == first_len);
        }
        free(report);
        CHECK(gb_verify_report(NULL, 1000) > 100);
        if (r % 10 == 0) {
            char *text = read_until_fits(gb_backend_stats_text, &len, &rounds);
            CHECK(len > 0);
            free(text);
        }
    }
    atomic_store(&churn_stop, true);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    printf("introspection: %d reports read under concurrent allocation, %d of another length, "
           "at most %d call(s) each\n", READS, differing, most_rounds);
}

/* Each trimming thread frees its own working set first: mimalloc's
 * mi_collect gives back what the calling thread's heap holds, so memory
 * freed by one thread is trimmed by that thread. The main thread measures
 * between the phases, while the threads are still alive. */
static pthread_barrier_t trim_phase;
enum { TRIM_BLOCKS = 2048 };
static const size_t trim_block = 64 * 1024; /* 128 MiB per thread */

static void *trim_at_once(void *arg) {
    int *rc = arg;
    void **blocks = malloc(TRIM_BLOCKS * sizeof *blocks);
    REQUIRE(blocks != NULL);
    for (int i = 0; i < TRIM_BLOCKS; i++) {
        blocks[i] = gb_alloc(trim_block);
        REQUIRE(blocks[i] != NULL);
        memset(blocks[i], 0x5A, trim_block);
    }
    pthread_barrier_wait(&trim_phase); /* main: loaded */
    pthread_barrier_wait(&trim_phase);
    for (int i = 0; i < TRIM_BLOCKS; i++) gb_free(blocks[i]);
    free(blocks);
    pthread_barrier_wait(&trim_phase); /* both start trimming together */
    for (int i = 0; i < 10 && *rc == 0; i++) *rc = gb_trim();
    pthread_barrier_wait(&trim_phase); /* main: trimmed */
    pthread_barrier_wait(&trim_phase);
    return NULL;
}

/* True if jemalloc's statistics report one background thread running. */
static bool jemalloc_background_thread_running(void) {
    size_t len = 0;
    int rounds = 0;
    char *text = read_until_fits(gb_backend_stats_text, &len, &rounds);
    bool running = strstr(text, "Background threads: 1,") != NULL;
    free(text);
    return running;
}

/* Two threads trimming at once: both succeed, the freed working sets leave
 * RAM, and jemalloc's background thread, paused by each trim, runs again. */
static void test_concurrent_trims(void) {
    bool background_before = backend_is("jemalloc") && jemalloc_background_thread_running();
    REQUIRE(pthread_barrier_init(&trim_phase, NULL, 3) == 0);
    pthread_t threads[2];
    int rc[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&threads[i], NULL, trim_at_once, &rc[i]) == 0);
    pthread_barrier_wait(&trim_phase);
    size_t loaded = resident_bytes();
    pthread_barrier_wait(&trim_phase);
    pthread_barrier_wait(&trim_phase);
    pthread_barrier_wait(&trim_phase);
    size_t trimmed = resident_bytes();
    pthread_barrier_wait(&trim_phase);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&trim_phase);
    printf("introspection: two threads trimming at once: %d %d, resident %zu MiB -> %zu MiB\n", rc[0],
           rc[1], loaded / MiB, trimmed / MiB);
    CHECK(rc[0] == 0 && rc[1] == 0);
    CHECK(trimmed + 128 * MiB <= loaded);
    if (backend_is("jemalloc")) {
        bool background_after = jemalloc_background_thread_running();
        printf("introspection: jemalloc background thread %s before, %s after\n",
               background_before ? "on" : "off", background_after ? "on" : "off");
        CHECK(background_after == background_before);
    }
}

int main(void) {
    test_stats_contract();
    test_stats_follow_a_large_block();
    test_trim_returns_memory();
    test_thread_idle();
    test_owns();
    test_verify_report();
    test_report_under_concurrent_allocation();
    test_concurrent_trims();
    return gb_test_finish("introspection");
}
