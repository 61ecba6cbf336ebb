/* Whole-process stress for libgraphbit_alloc_override.so, in the manner of
 * mimalloc's test-stress and jemalloc's stress tests: it calls only the plain
 * C malloc family (malloc, calloc, realloc, posix_memalign, aligned_alloc,
 * free), never gb_*, so it runs the same under glibc and under the preload.
 *
 *  - THREADS worker threads per round, re-created ROUNDS times: every round
 *    ends with all of them exiting (thread-cache teardown THREADS*ROUNDS
 *    times), and the blocks they leave behind are freed by the threads of
 *    the next rounds (and, at the end, by the main thread);
 *  - sizes mostly small (8 B - 1 KiB), 1 in 100 up to 64 KiB, 1 in 1000 up
 *    to 4 MiB; alignments 8 B - 64 KiB for posix_memalign/aligned_alloc;
 *  - cross-thread frees: besides its own slots, each thread swaps blocks in
 *    and out of one array of slots shared by all (atomic_exchange), and
 *    frees or reallocs what it takes out;
 *  - contents: every block is filled with a pattern derived from its address
 *    and size, checked before every free, after every realloc (the kept
 *    prefix), and when a block is taken from the shared slots; calloc's
 *    blocks are checked for zero first; every result for alignment and for
 *    malloc_usable_size >= size.
 *
 * The first 8 bytes of a block are its header: its size and the serial number
 * of the thread that allocated it, encoded with its address, so that a block
 * taken from the shared slots can be checked with nothing but its pointer and
 * frees by another thread (or after the allocating thread exited) counted.
 * Every size is therefore >= 8; the size classes below 8 bytes are those of
 * 8 bytes in glibc, jemalloc and mimalloc alike.
 *
 *   override_stress THREADS OPS_TOTAL [ROUNDS]      (ROUNDS default 10)
 * OPS_TOTAL counts calls to the malloc family over every thread (a little
 * more is done: what the threads free at exit). Prints one summary line:
 * threads, ops, rounds, seconds, ops/s, ..., and last the allocator that
 * served it (gb_allocator_name() when the process has it, through
 * dlsym(RTLD_DEFAULT), else "glibc"). Exits 0 only if every check passed;
 * aborts at the first corruption, with the block; an alarm() watchdog (20 s +
 * 10 us per operation) turns a hang into exit status 3.
 *
 * gcc -O2 -std=c11 -Wall -Wextra -pthread -Ic_tests -o override_stress \
 *     c_tests/override/override_stress.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "../gb_test.h"

enum {
    LOCAL_SLOTS = 512,     /* blocks a thread holds */
    SHARED_SLOTS = 4096,   /* blocks in transit between threads */
    MAX_THREADS = 1024,
    FULL_PATTERN = 16384,  /* blocks up to this size carry the pattern on every word */
    EDGE = 1024,           /* bigger ones on their first and last EDGE bytes ... */
    PAGE = 4096,           /* ... and on the first 16 bytes of every 4 KiB */
};
#define MAX_SIZE ((size_t)4 << 20)

static _Atomic(unsigned char *) shared_slots[SHARED_SLOTS];

typedef struct {
    pthread_t id;
    uint32_t serial;  /* unique over the whole run: round * threads + index */
    uint64_t seed;
    uint64_t quota;   /* malloc-family calls to make before exiting */
    uint64_t ops, bytes, foreign_frees, orphan_frees, foreign_reallocs, exchanges;
    unsigned char *slots[LOCAL_SLOTS];
} worker_t;

static int threads;
static uint32_t serials; /* threads * rounds + 1: the main thread's is the last */
static atomic_uint_fast32_t first_live_serial; /* serials below it: threads that have exited */

/* ---- the pattern ------------------------------------------------------ */

static uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return x;
}

static uint64_t header_key(const void *block) { return mix((uint64_t)(uintptr_t)block * 0x9E3779B97F4A7C15ull); }

static uint64_t make_header(const void *block, size_t size, uint32_t serial) {
    return ((uint64_t)size | (uint64_t)serial << 32) ^ header_key(block);
}

/* Word j >= 1 of a block of (address, size). */
static uint64_t word_at(uint64_t seed, size_t j) { return mix(seed + (uint64_t)j * 0xD6E8FEB86659FD93ull); }

static uint64_t block_seed(uintptr_t block, size_t size) {
    return mix((uint64_t)block ^ (uint64_t)size * 0xC2B2AE3D27D4EB4Full);
}

static bool patterned(size_t offset, size_t size) {
    return size <= FULL_PATTERN || offset < EDGE || offset + EDGE >= size || (offset & (PAGE - 1)) < 16;
}

/* Next patterned offset at or after `offset` (a multiple of 8). */
static size_t next_patterned(size_t offset, size_t size) {
    if (patterned(offset, size)) return offset;
    size_t page_start = (offset | (PAGE - 1)) + 1, tail = (size - EDGE + 7) & ~(size_t)7;
    return page_start < tail ? page_start : tail;
}

static void fill(unsigned char *p, size_t size, uint32_t serial) {
    uint64_t h = make_header(p, size, serial), seed = block_seed((uintptr_t)p, size);
    memcpy(p, &h, 8);
    for (size_t off = 8; off < size; off = next_patterned(off + 8, size)) {
        uint64_t w = word_at(seed, off / 8);
        memcpy(p + off, &w, size - off < 8 ? size - off : 8);
    }
}

/* True if bytes [8, prefix) of p carry the pattern of a block of (key, size):
 * key is the address the block had when it was filled. */
static bool intact_prefix(const unsigned char *p, size_t prefix, uintptr_t key, size_t size) {
    uint64_t seed = block_seed(key, size);
    for (size_t off = 8; off < prefix; off = next_patterned(off + 8, size)) {
        uint64_t w = word_at(seed, off / 8);
        if (memcmp(p + off, &w, prefix - off < 8 ? prefix - off : 8)) return false;
    }
    return true;
}

typedef struct {
    size_t size;
    uint32_t serial;
} header_t;

/* ---- failures --------------------------------------------------------- */

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static _Noreturn void fail(const worker_t *w, const char *what, const void *p, size_t size) {
    pthread_mutex_lock(&report_lock);
    fprintf(stderr, "override_stress: thread serial %ld, after %llu ops: %s: block %p size %zu\n",
            w ? (long)w->serial : -1L, w ? (unsigned long long)w->ops : 0ull, what, p, size);
    abort();
}

static header_t read_header(const worker_t *w, const unsigned char *p) {
    uint64_t h;
    memcpy(&h, p, 8);
    h ^= header_key(p);
    header_t r = {(size_t)(uint32_t)h, (uint32_t)(h >> 32)};
    if (r.size < 8 || r.size > MAX_SIZE || r.serial >= serials)
        fail(w, "header damaged", p, r.size);
    return r;
}

/* Checks a whole block; returns its header. */
static header_t check_block(const worker_t *w, const unsigned char *p, const char *what) {
    header_t h = read_header(w, p);
    if (!intact_prefix(p, h.size, (uintptr_t)p, h.size)) fail(w, what, p, h.size);
    return h;
}

static void check_new(worker_t *w, unsigned char *p, size_t size, size_t alignment) {
    if (!p) fail(w, errno == ENOMEM ? "out of memory" : "NULL without ENOMEM", p, size);
    size_t want = alignment ? alignment : size >= 16 ? 16 : 8;
    if ((uintptr_t)p % want) fail(w, "misaligned", p, size);
    size_t usable = malloc_usable_size(p);
    if (usable < size) fail(w, "malloc_usable_size below the size", p, size);
    if (usable > size) p[usable - 1] = 0xA5; /* all of the usable size may be written */
    w->bytes += size;
}

/* ---- operations -------------------------------------------------------- */

static size_t pick_size(uint64_t *seed) {
    uint64_t r = gb_rand(seed);
    if (r % 1000 == 0) return 65536 + (size_t)(gb_rand(seed) % (MAX_SIZE - 65536 + 1));
    if (r % 100 == 0) return 1024 + (size_t)(gb_rand(seed) % (65536 - 1024 + 1));
    if (r % 10 < 7) return 8 + (size_t)(gb_rand(seed) % 121);  /* 8 - 128 */
    return 8 + (size_t)(gb_rand(seed) % 1017);                  /* 8 - 1024 */
}

static unsigned char *allocate(worker_t *w) {
    size_t size = pick_size(&w->seed), alignment = 0;
    unsigned char *p = NULL;
    uint64_t kind = gb_rand(&w->seed) % 20;
    if (kind < 12) {
        p = malloc(size);
    } else if (kind < 15) {
        size_t count = 1 + (size_t)(gb_rand(&w->seed) % 8), each = (size + count - 1) / count;
        size = count * each;
        p = calloc(count, each);
        check_new(w, p, size, 0);
        for (size_t off = 0; off < size; off = next_patterned(off + 8, size)) {
            static const unsigned char zero[8];
            if (memcmp(p + off, zero, size - off < 8 ? size - off : 8)) fail(w, "calloc block not zero", p, size);
        }
    } else if (kind < 17) {
        /* 8 B - 4 KiB, 1 in 16 up to 64 KiB */
        alignment = (size_t)8 << (gb_rand(&w->seed) % (gb_rand(&w->seed) % 16 ? 10 : 14));
        void *q = NULL;
        int rc = posix_memalign(&q, alignment, size);
        if (rc) fail(w, rc == ENOMEM ? "posix_memalign: ENOMEM" : "posix_memalign: error", q, size);
        p = q;
    } else if (kind < 19) {
        alignment = (size_t)8 << (gb_rand(&w->seed) % (gb_rand(&w->seed) % 16 ? 10 : 14));
        size = (size + alignment - 1) & ~(alignment - 1); /* C11: a multiple of the alignment */
        if (size > MAX_SIZE) size = MAX_SIZE;             /* MAX_SIZE is one too */
        p = aligned_alloc(alignment, size);
    } else {
        p = realloc(NULL, size);
    }
    if (kind < 12 || kind >= 15) check_new(w, p, size, alignment);
    w->ops++;
    fill(p, size, w->serial);
    return p;
}

static void count_free(worker_t *w, header_t h) {
    if (h.serial != w->serial) {
        w->foreign_frees++;
        if (h.serial < atomic_load_explicit(&first_live_serial, memory_order_relaxed)) w->orphan_frees++;
    }
}

static void release(worker_t *w, unsigned char *p) {
    header_t h = check_block(w, p, "pattern damaged before free");
    count_free(w, h);
    free(p);
    w->ops++;
}

static unsigned char *resize(worker_t *w, unsigned char *p) {
    header_t h = check_block(w, p, "pattern damaged before realloc");
    uint64_t r = gb_rand(&w->seed);
    size_t size;
    if (r % 2) {
        size = pick_size(&w->seed);
    } else { /* small steps, in place where the allocator can */
        size = h.size + (size_t)(gb_rand(&w->seed) % 129); /* h.size - 64 .. h.size + 64 */
        size = size >= 64 + 8 ? size - 64 : 8;
        if (size > MAX_SIZE) size = MAX_SIZE;
    }
    uint64_t header;
    memcpy(&header, p, 8);
    uintptr_t old = (uintptr_t)p;
    p = realloc(p, size);
    check_new(w, p, size, 0);
    size_t kept = h.size < size ? h.size : size;
    uint64_t kept_header;
    memcpy(&kept_header, p, 8);
    if (kept_header != header || !intact_prefix(p, kept, old, h.size))
        fail(w, "contents not kept by realloc", p, size);
    if (h.serial != w->serial) w->foreign_reallocs++;
    w->ops++;
    fill(p, size, w->serial);
    return p;
}

/* Puts p (may be NULL) in a random shared slot; returns what was there. */
static unsigned char *exchange(worker_t *w, unsigned char *p) {
    size_t i = (size_t)(gb_rand(&w->seed) % SHARED_SLOTS);
    unsigned char *q = atomic_exchange_explicit(&shared_slots[i], p, memory_order_acq_rel);
    w->exchanges++;
    if (q) check_block(w, q, "pattern damaged in the shared slots");
    return q;
}

static void *run(void *arg) {
    worker_t *w = arg;
    while (w->ops < w->quota) {
        unsigned char **slot = &w->slots[gb_rand(&w->seed) % LOCAL_SLOTS];
        uint64_t r = gb_rand(&w->seed) % 100;
        if (!*slot) {
            *slot = allocate(w);
        } else if (r < 30) {
            release(w, *slot);
            *slot = NULL;
        } else if (r < 50) {
            *slot = resize(w, *slot);
        } else if (r < 80) {
            /* Hand the block to the others; take one of theirs, and free it,
             * realloc it, or keep it. */
            unsigned char *q = exchange(w, *slot);
            *slot = NULL;
            if (q) {
                uint64_t what = gb_rand(&w->seed) % 4;
                if (what < 2) release(w, q);
                else if (what == 2) *slot = resize(w, q);
                else *slot = q;
            }
        } else if (r < 90) {
            release(w, *slot);
            *slot = allocate(w);
        } else if (r < 97) {
            /* A burst: up to 16 small blocks, freed last-in first-out. */
            unsigned char *burst[16];
            int n = 1 + (int)(gb_rand(&w->seed) % 16);
            for (int i = 0; i < n; i++) burst[i] = allocate(w);
            while (n--) release(w, burst[n]);
        } else {
            check_block(w, *slot, "pattern damaged");
        }
    }
    /* Exit: half of what the thread holds goes to the shared slots, for the
     * threads of the next rounds to free; the rest is freed here. */
    for (int i = 0; i < LOCAL_SLOTS; i++) {
        unsigned char *p = w->slots[i];
        if (!p) continue;
        w->slots[i] = NULL;
        if (gb_rand(&w->seed) % 2) p = exchange(w, p);
        if (p) release(w, p);
    }
    return NULL;
}

/* ---- main --------------------------------------------------------------- */

static void watchdog(int sig) {
    (void)sig;
    static const char msg[] = "override_stress: watchdog: not done in time (a hang?)\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(3);
}

static uint64_t number(const char *text, const char *what) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end) {
        fprintf(stderr, "override_stress: %s: not a number: '%s'\n", what, text);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s THREADS OPS_TOTAL [ROUNDS]\n", argv[0]);
        return 2;
    }
    threads = (int)number(argv[1], "THREADS");
    uint64_t ops_total = number(argv[2], "OPS_TOTAL");
    uint64_t rounds = argc > 3 ? number(argv[3], "ROUNDS") : 10;
    REQUIRE(threads >= 1 && threads <= MAX_THREADS);
    REQUIRE(rounds >= 1 && rounds <= 0xFFFF);
    uint64_t quota = ops_total / ((uint64_t)threads * rounds);
    REQUIRE(quota >= 1);
    serials = (uint32_t)(rounds * (uint64_t)threads + 1);

    unsigned seconds = (unsigned)(20 + ops_total / 100000);
    signal(SIGALRM, watchdog);
    alarm(seconds);

    /* Who serves malloc: graphbit-alloc when the process has its API and
     * malloc's blocks are its own. */
    const char *(*allocator_name)(void) = NULL;
    bool (*owns)(const void *) = NULL;
    *(void **)&allocator_name = dlsym(RTLD_DEFAULT, "gb_allocator_name");
    *(void **)&owns = dlsym(RTLD_DEFAULT, "gb_owns");
    const char *served_by = "glibc";
    if (allocator_name) {
        void *probe = malloc(64);
        REQUIRE(probe);
        if (!owns || owns(probe)) served_by = allocator_name();
        else served_by = "glibc (gb_allocator_name present, but malloc's blocks are not graphbit-alloc's)";
        free(probe);
    }

    worker_t *workers = calloc((size_t)threads, sizeof *workers);
    REQUIRE(workers);
    uint64_t total = 0, bytes = 0, foreign = 0, orphan = 0, foreign_reallocs = 0, exchanges = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t round = 0; round < rounds; round++) {
        for (int t = 0; t < threads; t++) {
            worker_t *w = &workers[t];
            memset(w, 0, sizeof *w);
            w->serial = (uint32_t)(round * (uint64_t)threads + (uint64_t)t);
            w->seed = mix(w->serial + 1) | 1;
            w->quota = quota;
            REQUIRE(pthread_create(&w->id, NULL, run, w) == 0);
        }
        for (int t = 0; t < threads; t++) {
            worker_t *w = &workers[t];
            REQUIRE(pthread_join(w->id, NULL) == 0);
            total += w->ops, bytes += w->bytes, foreign += w->foreign_frees, orphan += w->orphan_frees;
            foreign_reallocs += w->foreign_reallocs, exchanges += w->exchanges;
        }
        atomic_store(&first_live_serial, (uint32_t)((round + 1) * (uint64_t)threads));
    }
    /* What is left in the shared slots: freed by the main thread. */
    worker_t last = {.serial = (uint32_t)(rounds * (uint64_t)threads)};
    for (int i = 0; i < SHARED_SLOTS; i++) {
        unsigned char *p = atomic_exchange(&shared_slots[i], NULL);
        if (p) release(&last, p);
    }
    total += last.ops, foreign += last.foreign_frees, orphan += last.orphan_frees;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    alarm(0);
    free(workers);

    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(total >= ops_total - ops_total % ((uint64_t)threads * rounds));
    printf("override_stress: threads=%d ops=%llu rounds=%llu seconds=%.2f ops/s=%.0f thread_exits=%llu "
           "exchanges=%llu freed_by_other_thread=%llu freed_after_owner_exit=%llu realloc_by_other_thread=%llu "
           "bytes_allocated=%llu %s allocator=%s\n",
           threads, (unsigned long long)total, (unsigned long long)rounds, secs, secs > 0 ? (double)total / secs : 0.0,
           (unsigned long long)(rounds * (uint64_t)threads), (unsigned long long)exchanges,
           (unsigned long long)foreign, (unsigned long long)orphan, (unsigned long long)foreign_reallocs,
           (unsigned long long)bytes, gb_test_failures ? "FAILED" : "ok", served_by);
    return gb_test_failures ? 1 : 0;
}
