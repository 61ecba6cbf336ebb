/* The heap profiler's proof program (tests/profile.sh): 4 threads keep
 * about 90 MiB allocated from keep_ninety() and 10 MiB from keep_ten(), in
 * blocks of many sizes, interleaved, so that a profile must attribute 90% of
 * the live bytes to the first. Modes:
 *   keep        allocate and exit with everything live (GB_PROFILE: PATH)
 *   free        allocate, free everything, exit (GB_PROFILE: PATH.peak)
 *   api PATH    the same through gb_profile_start/dump/dump_peak: PATH is
 *               the live profile, PATH.peak the peak after freeing it all
 *   fork PATH   allocate, fork; the child keeps 30 MiB more from
 *               child_only() and dumps PATH.child; the parent dumps PATH
 *   race PATH   threads allocate and free while the main thread dumps 50
 *               times (each must succeed)
 *   forks       under GB_PROFILE: allocate, then fork two children that
 *               exit (running the library's destructor): the first at
 *               once, the second after keeping 30 MiB from child_only();
 *               prints their process ids, the first's line first
 *   sequential  8 threads, one after another, each allocating and freeing
 *               8 MiB (each takes samples); with GB_PROFILE the profile's
 *               comment must name libunwind alone where it loads: each
 *               thread gives its slot back when it exits
 *   notsup      every gb_profile_* call answers ENOTSUP (a library built
 *               without profiling)
 *   off         gb_profile_start answers ENOTSUP and gb_verify_report says
 *               why (the shared profiling library on jemalloc, run with
 *               _RJEM_MALLOC_CONF=prof:false)
 *   static PATH keep 8 MiB from keep_static(), a static function, and dump
 *               PATH
 *   aligned PATH aligned blocks (alignments 1 B - 64 KiB, sizes 0 - 40 KB)
 *               with the given (small) interval, so that many are sampled:
 *               each must be aligned and usable to its size (jemalloc
 *               moves a sampled block; src/backend/jemalloc.rs,
 *               small_aligned), then freed both ways
 * Built with -rdynamic so dladdr names the functions, all but the static
 * ones (not in the dynamic symbol table): keep_static is named only by
 * pprof reading the program's DWARF (tests/profile.sh). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graphbit_alloc.h"

#define THREADS 4
#define MIB (1024 * 1024)
#define SLOTS 200000

static int use_api; /* gb_alloc/gb_free instead of malloc/free */
static void *blocks[THREADS][SLOTS];
static size_t counts[THREADS];
static size_t bytes_ninety[THREADS], bytes_ten[THREADS];

/* Each entry point in turn (`turn` picks it: a thread's block count), so
 * that every one must put its caller on the sampled stacks: malloc, calloc
 * and posix_memalign (the override's memalign family), or gb_alloc,
 * gb_calloc and gb_aligned_alloc. Inlined, so that the caller is the
 * allocating function on every stack. */
static inline __attribute__((always_inline)) void *get(size_t turn, size_t size) {
    void *block = NULL;
    switch (turn % 3) {
    case 0:
        return use_api ? gb_alloc(size) : malloc(size);
    case 1:
        return use_api ? gb_calloc(1, size) : calloc(1, size);
    default:
        if (use_api) return gb_aligned_alloc(64, size);
        return posix_memalign(&block, 64, size) == 0 ? block : NULL;
    }
}
static void put(void *block) {
    if (use_api)
        gb_free(block);
    else
        free(block);
}

static const size_t sizes[] = {24, 96, 200, 1000, 4096, 9000, 33000, 120000, 700000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void keep(int thread, void *block, size_t size) {
    if (block == NULL || counts[thread] == SLOTS) {
        fprintf(stderr, "allocation of %zu failed or too many blocks\n", size);
        exit(2);
    }
    memset(block, 1, size < 64 ? size : 64);
    blocks[thread][counts[thread]++] = block;
}

__attribute__((noinline)) void keep_ninety(int thread, size_t size) {
    keep(thread, get(counts[thread], size), size);
    __asm__ volatile("" ::
                         : "memory"); /* not a tail call */
}

__attribute__((noinline)) void keep_ten(int thread, size_t size) {
    keep(thread, get(counts[thread], size), size);
    __asm__ volatile("" ::
                         : "memory");
}

__attribute__((noinline)) void child_only(int thread, size_t size) {
    keep(thread, get(counts[thread], size), size);
    __asm__ volatile("" ::
                         : "memory");
}

/* Static: dladdr cannot name it (see the top); `go tool pprof
 * -symbolize=local:force` can, from the mapping's file and offset and the
 * program's DWARF. Its body differs from keep_ninety's (the counter), or
 * gcc's identical code folding would make it keep_ninety; noclone keeps gcc
 * from specialising it (keep_static.constprop.0), whose DWARF entry has no
 * name of its own (Go's pprof reads only DW_AT_name). */
#if defined(__GNUC__) && !defined(__clang__)
#define NOCLONE __attribute__((noclone))
#else
#define NOCLONE
#endif
static volatile size_t static_calls;
static __attribute__((noinline)) NOCLONE void keep_static(int thread, size_t size) {
    keep(thread, get(counts[thread], size), size);
    static_calls++;
    __asm__ volatile("" ::
                         : "memory");
}

/* Each thread: 22.5 MiB from keep_ninety, 2.5 MiB from keep_ten, in turns
 * of 9 to 1 by bytes, cycling through the sizes. */
static void *fill(void *arg) {
    int thread = (int)(long)arg;
    size_t ninety = 0, ten = 0, turn = (size_t)thread;
    while (ninety < 45 * MIB / 2) {
        size_t size = sizes[turn++ % NSIZES];
        /* keep_ten takes the sizes up to 33000 B, so that it overshoots its
         * share by little: the true split is 90.0% within 0.2 points. */
        while (ten * 9 < ninety) {
            size_t small = sizes[turn++ % (NSIZES - 2)];
            keep_ten(thread, small), ten += small;
        }
        keep_ninety(thread, size), ninety += size;
    }
    bytes_ninety[thread] = ninety;
    bytes_ten[thread] = ten;
    return NULL;
}

/* Prints the true split ("ninety PERCENT") for the test's log. */
static void fill_all(void) {
    pthread_t threads[THREADS];
    for (long t = 0; t < THREADS; t++)
        if (pthread_create(&threads[t], NULL, fill, (void *)t) != 0) exit(2);
    size_t ninety = 0, ten = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        ninety += bytes_ninety[t];
        ten += bytes_ten[t];
    }
    printf("true split: keep_ninety %.2f%% of %.1f MiB\n", 100.0 * ninety / (ninety + ten),
           (ninety + ten) / (double)MIB);
    fflush(stdout);
}

static void free_all(void) {
    for (int t = 0; t < THREADS; t++) {
        for (size_t i = 0; i < counts[t]; i++) put(blocks[t][i]);
        counts[t] = 0;
    }
}

static int check(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, strerror(rc));
        exit(1);
    }
    return rc;
}

static volatile int stop_churn;
static void *churn(void *arg) {
    (void)arg;
    void *ring[64] = {0};
    unsigned i = 0;
    while (!stop_churn) {
        unsigned slot = i++ % 64;
        put(ring[slot]);
        ring[slot] = get(i, sizes[i % NSIZES]);
    }
    for (int s = 0; s < 64; s++) put(ring[s]);
    return NULL;
}

/* sequential: 8 MiB in 64 KiB blocks, kept until all are had, then freed. */
static void *one_after_another(void *unused) {
    (void)unused;
    void *blocks[128];
    for (int i = 0; i < 128; i++) blocks[i] = get(i, 64 * 1024);
    for (int i = 0; i < 128; i++) put(blocks[i]);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *mode = argv[1];
    const char *path = argc > 2 ? argv[2] : NULL;
    char other[4096];
    if (strcmp(mode, "keep") == 0) {
        fill_all();
        return 0;
    }
    if (strcmp(mode, "free") == 0) {
        fill_all();
        free_all();
        return 0;
    }
    if (strcmp(mode, "forks") == 0) {
        fill_all();
        for (int which = 0; which < 2; which++) {
            fflush(stdout); /* the child's exit would print it again */
            pid_t child = fork();
            if (child < 0) return 2;
            if (child == 0) {
                if (which == 1)
                    for (size_t bytes = 0; bytes < 30 * MIB; bytes += 33000) child_only(0, 33000);
                exit(0);
            }
            int status = 0;
            if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return fprintf(stderr, "child failed\n"), 1;
            printf("%d\n", (int)child);
        }
        return 0;
    }
    if (strcmp(mode, "sequential") == 0) {
        for (int t = 0; t < 8; t++) {
            pthread_t thread;
            if (pthread_create(&thread, NULL, one_after_another, NULL) != 0) return 2;
            pthread_join(thread, NULL);
        }
        return 0;
    }
    if (strcmp(mode, "notsup") == 0) { /* a library built without profiling */
        char name[] = "/tmp/gb-profile-notsup-XXXXXX";
        return gb_profile_start(0) == ENOTSUP && gb_profile_stop() == ENOTSUP &&
                       gb_profile_dump(name) == ENOTSUP && gb_profile_dump_peak(name) == ENOTSUP &&
                       access(name, F_OK) != 0
                   ? 0
                   : 1;
    }
    if (strcmp(mode, "off") == 0) {
        /* jemalloc's profiler turned off; the report's length can change */
        size_t room = gb_verify_report(NULL, 0) + 4096;
        char *report = malloc(room);
        if (report == NULL || gb_verify_report(report, room) >= room) return 1;
        int says_why = strstr(report, "prof:false") != NULL;
        free(report);
        int started = gb_profile_start(0);
        if (started != ENOTSUP) fprintf(stderr, "gb_profile_start: %s\n", strerror(started));
        if (!says_why) fprintf(stderr, "gb_verify_report does not say prof:false\n");
        return started == ENOTSUP && says_why ? 0 : 1;
    }
    if (path == NULL) return 2;
    use_api = 1;
    check(gb_profile_start(argc > 3 ? strtoull(argv[3], NULL, 10) : 0), "gb_profile_start");
    if (gb_profile_start(0) != EBUSY) return fprintf(stderr, "second start not EBUSY\n"), 1;
    if (gb_profile_dump(NULL) != EINVAL) return fprintf(stderr, "dump(NULL) not EINVAL\n"), 1;
    if (gb_profile_dump("/nonexistent-dir/x") != ENOENT)
        return fprintf(stderr, "dump to a missing directory not ENOENT\n"), 1;
    if (strcmp(mode, "api") == 0) {
        fill_all();
        check(gb_profile_dump(path), "gb_profile_dump");
        free_all();
        snprintf(other, sizeof other, "%s.peak", path);
        check(gb_profile_dump_peak(other), "gb_profile_dump_peak");
        check(gb_profile_stop(), "gb_profile_stop");
        if (gb_profile_stop() != EINVAL) return fprintf(stderr, "second stop not EINVAL\n"), 1;
        return 0;
    }
    if (strcmp(mode, "fork") == 0) {
        fill_all();
        pid_t child = fork();
        if (child < 0) return 2;
        if (child == 0) {
            for (size_t bytes = 0; bytes < 30 * MIB; bytes += 33000) child_only(0, 33000);
            snprintf(other, sizeof other, "%s.child", path);
            _exit(gb_profile_dump(other) == 0 ? 0 : 1);
        }
        int status = 0;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return fprintf(stderr, "child failed\n"), 1;
        check(gb_profile_dump(path), "gb_profile_dump (parent)");
        return 0;
    }
    if (strcmp(mode, "static") == 0) {
        for (size_t bytes = 0; bytes < 8 * MIB; bytes += 33000) keep_static(0, 33000);
        check(gb_profile_dump(path), "gb_profile_dump (static)");
        return 0;
    }
    if (strcmp(mode, "aligned") == 0) {
        static const size_t asked[] = {0, 1, 7, 24, 100, 1000, 3000, 4096, 5000, 9000, 14336, 16000, 40000};
        size_t bad = 0;
        for (int round = 0; round < 40; round++)
            for (size_t a = 1; a <= 65536; a <<= 1)
                for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
                    size_t n = asked[i];
                    unsigned char *p = gb_aligned_alloc(a, n);
                    if (p == NULL) return fprintf(stderr, "gb_aligned_alloc(%zu, %zu) failed\n", a, n), 1;
                    if (((uintptr_t)p & (a - 1)) != 0 || gb_usable_size(p) < n) bad++;
                    memset(p, 0x5A, n);
                    if ((round + i) % 2) gb_free_aligned_sized(p, a, n);
                    else gb_free(p);
                }
        check(gb_profile_dump(path), "gb_profile_dump (aligned)");
        if (bad) return fprintf(stderr, "%zu misaligned or short aligned blocks\n", bad), 1;
        return 0;
    }
    if (strcmp(mode, "race") == 0) {
        pthread_t threads[THREADS];
        for (int t = 0; t < THREADS; t++)
            if (pthread_create(&threads[t], NULL, churn, NULL) != 0) return 2;
        for (int i = 0; i < 50; i++) {
            check(gb_profile_dump(path), "gb_profile_dump (race)");
            check(gb_profile_dump_peak(path), "gb_profile_dump_peak (race)");
        }
        stop_churn = 1;
        for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
        check(gb_profile_dump(path), "gb_profile_dump (after race)");
        return 0;
    }
    return 2;
}
