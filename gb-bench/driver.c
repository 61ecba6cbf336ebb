/*
 * gb-bench's workload driver: one C program, compiled once per contender by
 * gb-bench (gb-bench/src), which runs it once per (contender, workload,
 * repetition) in a fresh process.
 *
 * Every contender is reached the same way: through the function pointers in
 * the global `A`, filled at start-up by setup_contender() for the contender
 * chosen at compile time (-DCONTENDER_...). So each allocation costs one
 * indirect call for every contender, whether it is graphbit-alloc (linked,
 * static or dlopen-ed), the C library's malloc, or Debian's jemalloc or
 * mimalloc (linked first, so their malloc replaces the C library's).
 * -DCONTENDER_PRELOAD calls the plain malloc family too, for a library that
 * replaces it with LD_PRELOAD (graphbit-alloc's whole-process mode, the
 * override library): what the preloaded library is, and its trim, are
 * looked up with dlsym at start-up.
 *
 * Usage: driver info
 *        driver <workload> <scale> <threads> <seed>
 * Prints one line of JSON on stdout: the peak of the bytes the workload held
 * where it counts them (all but pair, which holds one block, and jansson;
 * for the churn workloads the sum of each thread's peak, which is at least
 * the process's; for producer-consumer what was allocated less what was
 * freed, read by the producer after each batch), and for server and burst-idle a timeline: [seconds, RSS KiB,
 * live bytes] every 50 ms;
 * exits non-zero (with a message on stderr) when a workload finds its data
 * corrupted or an allocation fails.
 * Every workload returns a checksum of the data it wrote and read back, which
 * depends only on the seed, so gb-bench can check that all contenders
 * computed the same thing.
 *
 * The driver's own bookkeeping (slot arrays, queues) comes from mmap, never
 * from the allocator under test.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <obstack.h>

#ifdef WITH_JANSSON
#include <jansson.h>
#endif

#if defined(CONTENDER_GB_LINKED)
#include "graphbit_alloc.h"
#elif defined(CONTENDER_JEMALLOC)
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#elif defined(CONTENDER_MIMALLOC)
void mi_collect(bool force);
int mi_version(void);
#elif defined(CONTENDER_SYSTEM) || defined(CONTENDER_GB_DLOPEN) || defined(CONTENDER_PRELOAD)
#else
#error "define one CONTENDER_..."
#endif

/* ------------------------------------------------------------------ */
/* The allocator under test                                            */

typedef struct {
    void *(*malloc_fn)(size_t size);
    void (*free_fn)(void *ptr);
    void *(*realloc_fn)(void *ptr, size_t size);
    void *(*aligned_fn)(size_t alignment, size_t size);
    int (*trim_fn)(void); /* NULL when the contender has none */
    /* graphbit-alloc's heaps (gb_heap_new, gb_heap_alloc, gb_heap_destroy);
     * NULL for the contenders without them (the request-heap workload then
     * uses glibc's obstack over the contender's malloc). */
    void *(*heap_new_fn)(size_t limit);
    void *(*heap_alloc_fn)(void *heap, size_t size);
    void (*heap_destroy_fn)(void *heap);
    char version[128];
} allocator_t;

/* Global and written at run time, so the compiler cannot turn the indirect
 * calls into direct ones (or drop a malloc/free pair it recognises). */
allocator_t A;

static void die(const char *what) {
    fprintf(stderr, "driver: %s\n", what);
    exit(2);
}

#if defined(CONTENDER_SYSTEM) || defined(CONTENDER_PRELOAD)
static int system_trim(void) {
    malloc_trim(0);
    return 0;
}
#elif defined(CONTENDER_JEMALLOC)
static int jemalloc_trim(void) {
    /* arena.<MALLCTL_ARENAS_ALL>.purge; MALLCTL_ARENAS_ALL is 4096. */
    return mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
}
#elif defined(CONTENDER_MIMALLOC)
static int mimalloc_trim(void) {
    mi_collect(true);
    return 0;
}
#endif

#if defined(CONTENDER_GB_DLOPEN)
static void *must_sym(void *lib, const char *name) {
    void *sym = dlsym(lib, name);
    if (!sym) {
        fprintf(stderr, "driver: %s missing: %s\n", name, dlerror());
        exit(2);
    }
    return sym;
}
#endif

static void setup_contender(void) {
#if defined(CONTENDER_SYSTEM)
    A.malloc_fn = malloc;
    A.free_fn = free;
    A.realloc_fn = realloc;
    A.aligned_fn = aligned_alloc;
    A.trim_fn = system_trim;
    snprintf(A.version, sizeof A.version, "glibc %s", gnu_get_libc_version());
#elif defined(CONTENDER_JEMALLOC)
    A.malloc_fn = malloc;
    A.free_fn = free;
    A.realloc_fn = realloc;
    A.aligned_fn = aligned_alloc;
    A.trim_fn = jemalloc_trim;
    const char *v = "unknown";
    size_t len = sizeof v;
    if (mallctl("version", &v, &len, NULL, 0) != 0) die("mallctl(version) failed");
    snprintf(A.version, sizeof A.version, "%s", v);
#elif defined(CONTENDER_MIMALLOC)
    A.malloc_fn = malloc;
    A.free_fn = free;
    A.realloc_fn = realloc;
    A.aligned_fn = aligned_alloc;
    A.trim_fn = mimalloc_trim;
    int v = mi_version();
    snprintf(A.version, sizeof A.version, "%d.%d.%d", v / 100, (v / 10) % 10, v % 10);
#elif defined(CONTENDER_GB_LINKED)
    A.malloc_fn = gb_alloc;
    A.free_fn = gb_free;
    A.realloc_fn = gb_realloc;
    A.aligned_fn = gb_aligned_alloc;
#ifdef GB_HAVE_HEAP
    A.heap_new_fn = (void *(*)(size_t))gb_heap_new;
    A.heap_alloc_fn = (void *(*)(void *, size_t))gb_heap_alloc;
    A.heap_destroy_fn = (void (*)(void *))gb_heap_destroy;
#endif
#ifdef GB_HAVE_TRIM
    A.trim_fn = gb_trim;
#endif
    snprintf(A.version, sizeof A.version, "graphbit-alloc %s (%s %s) gb_verify=%s", gb_version(),
             gb_allocator_name(), gb_allocator_version(), gb_verify() ? "true" : "false");
#elif defined(CONTENDER_GB_DLOPEN)
    const char *path = getenv("GB_BENCH_LIB");
    if (!path) die("GB_BENCH_LIB is not set");
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "driver: dlopen(%s): %s\n", path, dlerror());
        exit(2);
    }
    A.malloc_fn = (void *(*)(size_t))must_sym(lib, "gb_alloc");
    A.free_fn = (void (*)(void *))must_sym(lib, "gb_free");
    A.realloc_fn = (void *(*)(void *, size_t))must_sym(lib, "gb_realloc");
    A.aligned_fn = (void *(*)(size_t, size_t))must_sym(lib, "gb_aligned_alloc");
    A.trim_fn = (int (*)(void))dlsym(lib, "gb_trim");
    A.heap_new_fn = (void *(*)(size_t))dlsym(lib, "gb_heap_new");
    A.heap_alloc_fn = (void *(*)(void *, size_t))dlsym(lib, "gb_heap_alloc");
    A.heap_destroy_fn = (void (*)(void *))dlsym(lib, "gb_heap_destroy");
    const char *(*version)(void) = (const char *(*)(void))must_sym(lib, "gb_version");
    const char *(*name)(void) = (const char *(*)(void))must_sym(lib, "gb_allocator_name");
    const char *(*backend_version)(void) =
        (const char *(*)(void))must_sym(lib, "gb_allocator_version");
    bool (*verify)(void) = (bool (*)(void))must_sym(lib, "gb_verify");
    snprintf(A.version, sizeof A.version, "graphbit-alloc %s (%s %s) gb_verify=%s", version(),
             name(), backend_version(), verify() ? "true" : "false");
#elif defined(CONTENDER_PRELOAD)
    /* Whatever LD_PRELOAD put in front of the C library. */
    A.malloc_fn = malloc;
    A.free_fn = free;
    A.realloc_fn = realloc;
    A.aligned_fn = aligned_alloc;
    const char *(*version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "gb_version");
    const char *(*name)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "gb_allocator_name");
    const char *(*backend_version)(void) =
        (const char *(*)(void))dlsym(RTLD_DEFAULT, "gb_allocator_version");
    bool (*verify)(void) = (bool (*)(void))dlsym(RTLD_DEFAULT, "gb_verify");
    int (*trim)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "gb_trim");
    if (version && name && backend_version && verify) {
        /* graphbit-alloc's override: in that mode gb_verify also checks that
         * the process's malloc, strdup, getline and operator new blocks are
         * the backend's (host_malloc_captured). */
        A.trim_fn = trim ? trim : system_trim;
        A.heap_new_fn = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "gb_heap_new");
        A.heap_alloc_fn = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "gb_heap_alloc");
        A.heap_destroy_fn = (void (*)(void *))dlsym(RTLD_DEFAULT, "gb_heap_destroy");
        snprintf(A.version, sizeof A.version, "graphbit-alloc %s (%s %s) gb_verify=%s",
                 version(), name(), backend_version(), verify() ? "true" : "false");
    } else {
        A.trim_fn = system_trim; /* malloc_trim(0), the preloaded library's if it has one */
        snprintf(A.version, sizeof A.version, "no gb_version in the process (glibc %s)",
                 gnu_get_libc_version());
    }
#endif
    if (!A.heap_new_fn || !A.heap_alloc_fn || !A.heap_destroy_fn) {
        A.heap_new_fn = NULL;
        A.heap_alloc_fn = NULL;
        A.heap_destroy_fn = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: small, fast, good enough to pick sizes and slots. */
static inline uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Bookkeeping memory, kept away from the allocator under test. */
static void *book_alloc(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap for bookkeeping failed");
    return p;
}
static void book_free(void *p, size_t bytes) { munmap(p, bytes); }

static void *must_alloc(size_t size) {
    void *p = A.malloc_fn(size);
    if (!p) die("allocation failed");
    return p;
}

/* A block carries a tag in its first 8 bytes and, from 16 bytes up, the
 * tag's complement in its last 8 (size >= 8). */
static inline void tag_block(unsigned char *p, size_t size, uint64_t tag) {
    memcpy(p, &tag, 8);
    uint64_t tail = ~tag;
    if (size >= 16) memcpy(p + size - 8, &tail, 8);
}

/* Checks a block's tags; returns the tag for the checksum. */
static inline uint64_t check_block(const unsigned char *p, size_t size, uint64_t tag) {
    uint64_t head, tail = ~tag;
    memcpy(&head, p, 8);
    if (size >= 16) memcpy(&tail, p + size - 8, 8);
    if (head != tag || tail != ~tag) die("corrupted block: tag mismatch");
    return tag;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long pages_total = 0, pages_resident = 0;
    int n = fscanf(f, "%ld %ld", &pages_total, &pages_resident);
    fclose(f);
    if (n != 2) return -1;
    return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct {
    uint64_t ops;
    uint64_t checksum;
    long rss_end_kib;  /* -1: not measured */
    long rss_trim_kib; /* -1: not measured */
    uint64_t live_bytes;
    int64_t peak_live_bytes; /* -1: not counted */
} result_t;

#define RESULT_INIT {0, 0, -1, -1, 0, -1}

/* RSS over time (server, burst-idle): a sample every TIMELINE_MS ms of the
 * RSS and of the bytes the workload holds at that moment, in bookkeeping
 * memory. The RSS is read with open/read, so sampling allocates nothing
 * from the allocator under test. */
enum { TIMELINE_MS = 50, TIMELINE_MAX = 8192 };
typedef struct {
    double t;
    long rss_kib;
    uint64_t live;
} sample_t;
static sample_t *timeline;
static size_t timeline_len;
static double timeline_start, timeline_next;

static long rss_kib_noalloc(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    long pages_total = 0, pages_resident = 0;
    if (sscanf(buf, "%ld %ld", &pages_total, &pages_resident) != 2) return -1;
    return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void timeline_begin(void) {
    timeline = book_alloc(TIMELINE_MAX * sizeof *timeline);
    timeline_len = 0;
    timeline_start = now_seconds();
    timeline_next = timeline_start;
}

/* Takes a sample if one is due (every TIMELINE_MS ms) or `force`. */
static void timeline_sample(uint64_t live, bool force) {
    double now = now_seconds();
    if (!timeline || timeline_len >= TIMELINE_MAX || (!force && now < timeline_next)) return;
    timeline[timeline_len++] = (sample_t){now - timeline_start, rss_kib_noalloc(), live};
    timeline_next = now + TIMELINE_MS * 1e-3;
}

/* ------------------------------------------------------------------ */
/* Workloads                                                           */

/* malloc + free of one small block, back to back: the per-call cost. */
static result_t run_pair(uint64_t n, uint64_t seed) {
    result_t r = RESULT_INIT;
    uint64_t rng = seed;
    for (uint64_t i = 0; i < n; i++) {
        size_t size = 16 + (i & 7) * 16;
        unsigned char *p = must_alloc(size);
        uint64_t tag = next_random(&rng);
        tag_block(p, size, tag);
        r.checksum += check_block(p, size, tag);
        A.free_fn(p);
    }
    r.ops = n;
    return r;
}

/* Small-object churn: a table of live blocks (8-512 B); each step frees a
 * random slot's block and puts a new one there, so frees come in random
 * order. `aligned` uses aligned allocations (64 B - 4 KiB) instead. */
typedef struct {
    uint64_t ops;
    uint64_t seed;
    bool aligned;
    uint64_t checksum;
    uint64_t peak_live; /* the most bytes this thread held at once */
} churn_args_t;

enum { CHURN_SLOTS = 8192 };

static void *churn_thread(void *arg) {
    churn_args_t *c = arg;
    unsigned char **ptrs = book_alloc(CHURN_SLOTS * sizeof *ptrs);
    uint32_t *sizes = book_alloc(CHURN_SLOTS * sizeof *sizes);
    uint64_t *tags = book_alloc(CHURN_SLOTS * sizeof *tags);
    uint64_t rng = c->seed, sum = 0, live = 0, peak = 0;
    for (uint64_t i = 0; i < c->ops; i++) {
        uint64_t x = next_random(&rng);
        size_t slot = x % CHURN_SLOTS;
        if (ptrs[slot]) {
            sum += check_block(ptrs[slot], sizes[slot], tags[slot]);
            A.free_fn(ptrs[slot]);
            live -= sizes[slot];
        }
        size_t size;
        unsigned char *p;
        if (c->aligned) {
            size_t alignment = (size_t)64 << ((x >> 20) % 7); /* 64 .. 4096 */
            /* A multiple of the alignment, as C11's aligned_alloc wants. */
            size = (8 + (x >> 32) % 2048 + alignment - 1) & ~(alignment - 1);
            p = A.aligned_fn(alignment, size);
            if (!p) die("aligned allocation failed");
            if ((uintptr_t)p & (alignment - 1)) die("misaligned block");
        } else {
            size = 8 + (x >> 32) % 505; /* 8 .. 512 */
            p = must_alloc(size);
        }
        ptrs[slot] = p;
        sizes[slot] = (uint32_t)size;
        tags[slot] = x;
        tag_block(p, size, x);
        live += size;
        if (live > peak) peak = live;
    }
    for (size_t slot = 0; slot < CHURN_SLOTS; slot++) {
        if (ptrs[slot]) {
            sum += check_block(ptrs[slot], sizes[slot], tags[slot]);
            A.free_fn(ptrs[slot]);
        }
    }
    book_free(ptrs, CHURN_SLOTS * sizeof *ptrs);
    book_free(sizes, CHURN_SLOTS * sizeof *sizes);
    book_free(tags, CHURN_SLOTS * sizeof *tags);
    c->checksum = sum;
    c->peak_live = peak;
    return NULL;
}

static result_t run_churn(uint64_t ops_per_thread, int threads, uint64_t seed, bool aligned) {
    churn_args_t *args = book_alloc(sizeof(churn_args_t) * threads);
    pthread_t *ids = book_alloc(sizeof(pthread_t) * threads);
    for (int t = 0; t < threads; t++) {
        args[t] = (churn_args_t){ops_per_thread, seed + (uint64_t)t * 1000003u, aligned, 0, 0};
        if (pthread_create(&ids[t], NULL, churn_thread, &args[t])) die("pthread_create failed");
    }
    result_t r = RESULT_INIT;
    uint64_t peak = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        r.checksum += args[t].checksum;
        peak += args[t].peak_live;
    }
    r.peak_live_bytes = (int64_t)peak;
    r.ops = ops_per_thread * (uint64_t)threads;
    return r;
}

/* Producer-consumer (larson-style server pattern): producers allocate blocks
 * (16-1024 B) and hand them over in batches through a bounded queue; the
 * consumer on the other side checks and frees them, so every free is
 * cross-thread. One queue per producer/consumer pair. */
enum { BATCH = 64, QUEUE_BATCHES = 64 };

typedef struct {
    unsigned char *ptr[BATCH];
    uint32_t size[BATCH];
    uint64_t tag[BATCH];
} batch_t;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    batch_t *ring; /* QUEUE_BATCHES entries */
    size_t head, tail;
    uint64_t batches;
    uint64_t seed;
    uint64_t checksum; /* consumer's */
    /* Bytes allocated by the producer and freed by the consumer, added once
     * per batch; the producer reads their difference after each batch it
     * allocated, and keeps the most (the peak live bytes). */
    _Atomic uint64_t produced, consumed;
    uint64_t peak_live;
} pair_queue_t;

static void *producer_thread(void *arg) {
    pair_queue_t *q = arg;
    uint64_t rng = q->seed;
    for (uint64_t b = 0; b < q->batches; b++) {
        batch_t local;
        uint64_t bytes = 0;
        for (int i = 0; i < BATCH; i++) {
            uint64_t x = next_random(&rng);
            size_t size = 16 + (x >> 32) % 1009;
            local.ptr[i] = must_alloc(size);
            local.size[i] = (uint32_t)size;
            local.tag[i] = x;
            tag_block(local.ptr[i], size, x);
            bytes += size;
        }
        uint64_t live = atomic_fetch_add_explicit(&q->produced, bytes, memory_order_relaxed) +
                        bytes - atomic_load_explicit(&q->consumed, memory_order_relaxed);
        if (live > q->peak_live) q->peak_live = live;
        pthread_mutex_lock(&q->lock);
        while (q->tail - q->head == QUEUE_BATCHES) pthread_cond_wait(&q->changed, &q->lock);
        q->ring[q->tail % QUEUE_BATCHES] = local;
        q->tail++;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
    }
    return NULL;
}

static void *consumer_thread(void *arg) {
    pair_queue_t *q = arg;
    uint64_t sum = 0;
    for (uint64_t b = 0; b < q->batches; b++) {
        pthread_mutex_lock(&q->lock);
        while (q->tail == q->head) pthread_cond_wait(&q->changed, &q->lock);
        batch_t local = q->ring[q->head % QUEUE_BATCHES];
        q->head++;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        uint64_t bytes = 0;
        for (int i = 0; i < BATCH; i++) {
            sum += check_block(local.ptr[i], local.size[i], local.tag[i]);
            A.free_fn(local.ptr[i]);
            bytes += local.size[i];
        }
        atomic_fetch_add_explicit(&q->consumed, bytes, memory_order_relaxed);
    }
    q->checksum = sum;
    return NULL;
}

static result_t run_producer_consumer(uint64_t blocks_per_pair, int pairs, uint64_t seed) {
    pair_queue_t *queues = book_alloc(sizeof(pair_queue_t) * pairs);
    pthread_t *ids = book_alloc(sizeof(pthread_t) * 2 * pairs);
    uint64_t batches = blocks_per_pair / BATCH + 1;
    for (int p = 0; p < pairs; p++) {
        pair_queue_t *q = &queues[p];
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->changed, NULL);
        q->ring = book_alloc(sizeof(batch_t) * QUEUE_BATCHES);
        q->batches = batches;
        q->seed = seed + (uint64_t)p * 7919u;
        if (pthread_create(&ids[2 * p], NULL, producer_thread, q) ||
            pthread_create(&ids[2 * p + 1], NULL, consumer_thread, q))
            die("pthread_create failed");
    }
    result_t r = RESULT_INIT;
    uint64_t peak = 0;
    for (int p = 0; p < pairs; p++) {
        pthread_join(ids[2 * p], NULL);
        pthread_join(ids[2 * p + 1], NULL);
        r.checksum += queues[p].checksum;
        peak += queues[p].peak_live;
    }
    r.peak_live_bytes = (int64_t)peak;
    r.ops = batches * BATCH * (uint64_t)pairs;
    return r;
}

/* Realloc growth: buffers that grow like strings (+1..64 B) or vectors
 * (doubling) up to 256 KiB, then shrink to a quarter; each writes the bytes
 * it grew by, as a string or a vector does (so peak RSS follows the live
 * bytes for every allocator, not only for those that copy on a move); the
 * head tag and the old tail tag must survive every move. */
enum { REALLOC_BUFFERS = 256, REALLOC_MAX = 256 * 1024 };

static result_t run_realloc(uint64_t n, uint64_t seed) {
    unsigned char **ptrs = book_alloc(REALLOC_BUFFERS * sizeof *ptrs);
    size_t *lens = book_alloc(REALLOC_BUFFERS * sizeof *lens);
    uint64_t *tags = book_alloc(REALLOC_BUFFERS * sizeof *tags);
    uint64_t rng = seed;
    result_t r = RESULT_INIT;
    uint64_t live = 16 * REALLOC_BUFFERS, peak = live;
    for (size_t i = 0; i < REALLOC_BUFFERS; i++) {
        tags[i] = next_random(&rng);
        lens[i] = 16;
        ptrs[i] = must_alloc(16);
        tag_block(ptrs[i], 16, tags[i]);
    }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t x = next_random(&rng);
        size_t i = x % REALLOC_BUFFERS;
        size_t old = lens[i];
        size_t len = (x >> 40) & 1 ? old * 2 : old + 1 + (x >> 48) % 64;
        if (len > REALLOC_MAX) len = old / 4;
        unsigned char *p = A.realloc_fn(ptrs[i], len);
        if (!p) die("realloc failed");
        uint64_t head;
        memcpy(&head, p, 8);
        if (head != tags[i]) die("realloc lost the block's head");
        if (len >= old) {
            uint64_t tail;
            memcpy(&tail, p + old - 8, 8);
            if (tail != ~tags[i]) die("realloc lost the block's tail");
        }
        /* A string or a vector writes what it grew by. */
        if (len > old) memset(p + old, (int)(k & 0xff), len - old);
        tag_block(p, len, tags[i]);
        ptrs[i] = p;
        lens[i] = len;
        live = live + len - old;
        if (live > peak) peak = live;
        r.checksum += len;
    }
    for (size_t i = 0; i < REALLOC_BUFFERS; i++) {
        r.checksum += check_block(ptrs[i], lens[i], tags[i]);
        A.free_fn(ptrs[i]);
    }
    r.ops = n;
    r.peak_live_bytes = (int64_t)peak;
    return r;
}

enum { LARGE_LIVE = 4, PAGE = 4096 };

/* Blocks of a page or more carry tag + offset in the first 8 bytes of every
 * page: writing and checking them touches all of the block's pages. */
static void write_pages(unsigned char *p, size_t size, uint64_t tag) {
    for (size_t off = 0; off + 8 <= size; off += PAGE) {
        uint64_t v = tag + off;
        memcpy(p + off, &v, 8);
    }
}

static void check_pages(const unsigned char *p, size_t size, uint64_t tag) {
    for (size_t off = 0; off + 8 <= size; off += PAGE) {
        uint64_t v;
        memcpy(&v, p + off, 8);
        if (v != tag + off) die("corrupted block: page tag mismatch");
    }
}

/* Large blocks, 64 KiB - 16 MiB: allocate, write every page, check every
 * page, free; four live at a time. */
static result_t run_large(uint64_t n, uint64_t seed) {
    unsigned char *ptrs[LARGE_LIVE] = {0};
    size_t sizes[LARGE_LIVE] = {0};
    uint64_t tags[LARGE_LIVE] = {0};
    uint64_t rng = seed, live = 0, peak = 0;
    result_t r = RESULT_INIT;
    for (uint64_t k = 0; k < n + LARGE_LIVE; k++) {
        size_t slot = k % LARGE_LIVE;
        if (ptrs[slot]) {
            check_pages(ptrs[slot], sizes[slot], tags[slot]);
            r.checksum += tags[slot];
            A.free_fn(ptrs[slot]);
            ptrs[slot] = NULL;
            live -= sizes[slot];
        }
        if (k >= n) continue;
        uint64_t x = next_random(&rng);
        size_t base = (size_t)(64 * 1024) << (x % 8); /* 64 KiB .. 8 MiB */
        size_t size = base + (x >> 16) % base;        /* .. 16 MiB */
        unsigned char *p = must_alloc(size);
        write_pages(p, size, x);
        ptrs[slot] = p;
        sizes[slot] = size;
        tags[slot] = x;
        live += size;
        if (live > peak) peak = live;
    }
    r.ops = n;
    r.peak_live_bytes = (int64_t)peak;
    return r;
}

/* Fragmentation and footprint: in each phase, fill the heap to `heap_bytes`
 * with blocks from that phase's size classes, then free 90% of all live
 * blocks in random order. The next phase uses other size classes, so it can
 * reuse the holes only if the allocator manages them well. At the end: RSS
 * with the survivors live, then RSS after the contender's trim. */
typedef struct {
    unsigned char *ptr;
    uint32_t size;
    uint64_t tag;
} live_block_t;

static size_t phase_size(int phase, uint64_t x) {
    switch (phase % 4) {
    case 0: return 16 + x % 113;                                    /* 16 .. 128 */
    case 1: return 256 + x % 1793;                                  /* 256 .. 2 KiB */
    case 2: return (x & 7) ? 32 + x % 481 : 4096 + x % 28673;      /* mixed, some 4-32 KiB */
    default: return 64 + x % 4033;                                  /* 64 .. 4 KiB */
    }
}

/* The fragmentation workload keeps only a pointer per live block (its
 * bookkeeping is part of every contender's RSS alike, so it is kept small):
 * the block itself carries its tag, whose low 4 bits are the phase, from
 * which the size follows. */
static inline size_t fragment_size(uint64_t tag) { return phase_size((int)(tag & 15), tag >> 8); }

static uint64_t check_fragment(const unsigned char *p) {
    uint64_t tag;
    memcpy(&tag, p, 8);
    return check_block(p, fragment_size(tag), tag);
}

static result_t run_fragmentation(uint64_t heap_bytes, int phases, uint64_t seed) {
    size_t cap = heap_bytes / 16 + 1024;
    unsigned char **live = book_alloc(cap * sizeof *live);
    size_t count = 0;
    uint64_t live_bytes = 0, rng = seed, tags_allocated = 0, tags_freed = 0, peak = 0;
    result_t r = RESULT_INIT;
    for (int phase = 0; phase < phases; phase++) {
        while (live_bytes < heap_bytes && count < cap) {
            uint64_t tag = (next_random(&rng) & ~(uint64_t)15) | (uint64_t)phase;
            size_t size = fragment_size(tag);
            unsigned char *p = must_alloc(size);
            tag_block(p, size, tag);
            live[count++] = p;
            live_bytes += size;
            tags_allocated += tag;
            r.ops++;
        }
        if (live_bytes > peak) peak = live_bytes; /* each phase peaks full */
        /* Free 90% in random order: shuffle the survivors to the front. */
        size_t keep = count / 10;
        for (size_t i = 0; i < keep; i++) {
            size_t j = i + next_random(&rng) % (count - i);
            unsigned char *t = live[i];
            live[i] = live[j];
            live[j] = t;
        }
        for (size_t i = keep; i < count; i++) {
            uint64_t tag = check_fragment(live[i]);
            tags_freed += tag;
            live_bytes -= fragment_size(tag);
            A.free_fn(live[i]);
            r.ops++;
        }
        count = keep;
    }
    r.live_bytes = live_bytes;
    r.peak_live_bytes = (int64_t)peak;
    r.rss_end_kib = rss_kib();
    if (A.trim_fn) {
        if (A.trim_fn() != 0) die("trim failed");
        r.rss_trim_kib = rss_kib();
    }
    for (size_t i = 0; i < count; i++) {
        tags_freed += check_fragment(live[i]);
        A.free_fn(live[i]);
    }
    if (tags_freed != tags_allocated) die("fragmentation: blocks lost or corrupted");
    r.checksum = tags_allocated;
    book_free(live, cap * sizeof *live);
    return r;
}

/* Slow leak: small-object churn (16 B - 1 KiB) where one allocation in 64 is
 * never freed until the end, so long-lived blocks end up scattered among
 * short-lived ones, as in a long-running server with a leak. */
static result_t run_leak(uint64_t n, uint64_t seed) {
    size_t leak_cap = n / 64 + 1;
    live_block_t *leaked = book_alloc(leak_cap * sizeof *leaked);
    live_block_t *slots = book_alloc(CHURN_SLOTS * sizeof *slots);
    size_t leaks = 0;
    uint64_t rng = seed, live = 0, peak = 0;
    result_t r = RESULT_INIT;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = next_random(&rng);
        size_t size = 16 + (x >> 32) % 1009;
        unsigned char *p = must_alloc(size);
        tag_block(p, size, x);
        live += size;
        if (live > peak) peak = live;
        if (i % 64 == 63 && leaks < leak_cap) {
            leaked[leaks++] = (live_block_t){p, (uint32_t)size, x};
            r.live_bytes += size;
            continue;
        }
        live_block_t *s = &slots[x % CHURN_SLOTS];
        if (s->ptr) {
            r.checksum += check_block(s->ptr, s->size, s->tag);
            A.free_fn(s->ptr);
            live -= s->size;
        }
        *s = (live_block_t){p, (uint32_t)size, x};
    }
    r.peak_live_bytes = (int64_t)peak;
    r.rss_end_kib = rss_kib();
    for (size_t i = 0; i < CHURN_SLOTS; i++) {
        if (slots[i].ptr) {
            r.checksum += check_block(slots[i].ptr, slots[i].size, slots[i].tag);
            A.free_fn(slots[i].ptr);
        }
    }
    for (size_t i = 0; i < leaks; i++) {
        r.checksum += check_block(leaked[i].ptr, leaked[i].size, leaked[i].tag);
        A.free_fn(leaked[i].ptr);
    }
    book_free(slots, CHURN_SLOTS * sizeof *slots);
    book_free(leaked, leak_cap * sizeof *leaked);
    r.ops = n;
    return r;
}

/* Burst, then quiet: a request spike allocates `burst_bytes` (three blocks in
 * four of 16 B - 1 KiB, one in four of 4 KiB - 2 MiB), writes every page,
 * then frees everything in random order. Then the program goes quiet for
 * `quiet_seconds`, as a server does between spikes, doing light work once a
 * millisecond (eight small blocks and one 64 - 256 KiB block, written and
 * freed). end RSS: RSS at the end of the quiet phase, i.e. what the
 * allocator gave back to the system by itself; trimmed: after the
 * allocator's trim. Speed counts the burst only: the quiet phase lasts the
 * same for every contender (quiet_seconds_spent is subtracted in main). */
static double quiet_seconds_spent;

static size_t burst_size(uint64_t x) {
    if (x & 3) return 16 + (x >> 8) % 1009;
    int lg = 12 + (int)((x >> 2) % 10);          /* 4 KiB .. 2 MiB, log-uniform */
    return ((size_t)1 << lg) + (x >> 16) % ((size_t)1 << lg);
}

static result_t run_burst_idle(uint64_t burst_bytes, double quiet_seconds, uint64_t seed) {
    size_t cap = burst_bytes / 16 + 1024;
    live_block_t *live = book_alloc(cap * sizeof *live);
    size_t count = 0;
    uint64_t bytes = 0, rng = seed;
    result_t r = RESULT_INIT;
    timeline_begin();
    timeline_sample(0, true);
    while (bytes < burst_bytes && count < cap) {
        uint64_t x = next_random(&rng);
        size_t size = burst_size(x);
        unsigned char *p = must_alloc(size);
        write_pages(p, size, x);
        live[count++] = (live_block_t){p, (uint32_t)size, x};
        bytes += size;
        timeline_sample(bytes, false);
    }
    r.ops = count;
    r.peak_live_bytes = (int64_t)bytes;
    timeline_sample(bytes, true);
    for (size_t i = 0; i < count; i++) { /* free in random order */
        size_t j = i + next_random(&rng) % (count - i);
        live_block_t b = live[j];
        live[j] = live[i];
        check_pages(b.ptr, b.size, b.tag);
        r.checksum += b.tag;
        A.free_fn(b.ptr);
        bytes -= b.size;
        timeline_sample(bytes, false);
    }
    book_free(live, cap * sizeof *live);
    /* The spike is over: nothing is live between the quiet ticks. */
    timeline_sample(0, true);

    double quiet_start = now_seconds(), quiet_end = quiet_start + quiet_seconds;
    uint64_t quiet_rng = seed ^ 0x5157u;
    struct timespec tick = {0, 1000000};
    while (now_seconds() < quiet_end) {
        /* All nine blocks are written before any is checked and freed, so
         * overlapping blocks would show. */
        live_block_t small[8];
        for (int i = 0; i < 8; i++) {
            uint64_t x = next_random(&quiet_rng);
            size_t size = 16 + (x >> 8) % 1009;
            small[i] = (live_block_t){must_alloc(size), (uint32_t)size, x};
            tag_block(small[i].ptr, size, x);
        }
        uint64_t x = next_random(&quiet_rng);
        size_t size = (64u << 10) + (x >> 8) % (192u << 10);
        unsigned char *p = must_alloc(size);
        write_pages(p, size, x);
        /* Sampled with the tick's nine blocks live: its working set. */
        uint64_t tick_bytes = size;
        for (int i = 0; i < 8; i++) tick_bytes += small[i].size;
        timeline_sample(tick_bytes, false);
        check_pages(p, size, x);
        A.free_fn(p);
        for (int i = 0; i < 8; i++) {
            check_block(small[i].ptr, small[i].size, small[i].tag);
            A.free_fn(small[i].ptr);
        }
        nanosleep(&tick, NULL);
    }
    r.rss_end_kib = rss_kib();
    timeline_sample(0, true);
    quiet_seconds_spent = now_seconds() - quiet_start;
    if (A.trim_fn) {
        if (A.trim_fn() != 0) die("trim failed");
        r.rss_trim_kib = rss_kib();
    }
    return r;
}

/* Per-request arena: a server request allocates REQUEST_BLOCKS blocks (3 in
 * 4 of 16-256 B, 1 in 4 of 256 B - 2 KiB), writes and checks their tags,
 * and ends. `heap` false: each block is freed (free each). `heap` true: a
 * graphbit-alloc contender allocates the request's blocks in a heap of its
 * own (gb_heap_new(0), gb_heap_alloc) and frees them all with
 * gb_heap_destroy; a contender without heaps in an obstack, glibc's region
 * allocator (its default 4 KiB chunks from the contender's malloc), freed
 * whole with obstack_free. ops = requests; peak live bytes = the largest
 * request's bytes. The checksum is the same for both ways. */
enum { REQUEST_BLOCKS = 200 };

static void *obstack_chunk(size_t size) { return must_alloc(size); }
static void obstack_chunk_release(void *p) { A.free_fn(p); }

static result_t run_request(uint64_t requests, uint64_t seed, bool heap) {
    unsigned char *ptrs[REQUEST_BLOCKS];
    size_t sizes[REQUEST_BLOCKS];
    uint64_t tags[REQUEST_BLOCKS];
    uint64_t rng = seed, peak = 0;
    result_t r = RESULT_INIT;
    for (uint64_t q = 0; q < requests; q++) {
        void *h = NULL;
        struct obstack ob;
        if (heap && A.heap_new_fn) {
            h = A.heap_new_fn(0);
            if (!h) die("gb_heap_new failed");
        } else if (heap) {
            if (!obstack_specify_allocation(&ob, 0, 0, obstack_chunk, obstack_chunk_release))
                die("obstack_init failed");
        }
        uint64_t bytes = 0;
        for (int i = 0; i < REQUEST_BLOCKS; i++) {
            uint64_t x = next_random(&rng);
            size_t size = (x & 3) ? 16 + (x >> 8) % 241 : 256 + (x >> 8) % 1793;
            unsigned char *p = !heap ? A.malloc_fn(size)
                               : h  ? A.heap_alloc_fn(h, size)
                                    : obstack_alloc(&ob, size);
            if (!p) die("allocation failed");
            tag_block(p, size, x);
            ptrs[i] = p;
            sizes[i] = size;
            tags[i] = x;
            bytes += size;
        }
        for (int i = 0; i < REQUEST_BLOCKS; i++) r.checksum += check_block(ptrs[i], sizes[i], tags[i]);
        if (h) {
            A.heap_destroy_fn(h);
        } else if (heap) {
            obstack_free(&ob, NULL);
        } else {
            for (int i = 0; i < REQUEST_BLOCKS; i++) A.free_fn(ptrs[i]);
        }
        if (bytes > peak) peak = bytes;
    }
    r.ops = requests;
    r.peak_live_bytes = (int64_t)peak;
    return r;
}

#ifdef WITH_JANSSON
/* A real program: jansson, with the contender plugged in through
 * json_set_alloc_funcs, builds a document of `records` objects, dumps it,
 * parses the text back and checks that both documents are equal. */
static json_t *build_document(size_t records, uint64_t *rng) {
    json_t *doc = json_array();
    for (size_t i = 0; i < records; i++) {
        uint64_t x = next_random(rng);
        char name[48];
        snprintf(name, sizeof name, "user-%016" PRIx64, x);
        json_t *tags = json_array();
        for (int t = 0; t < (int)(x % 6); t++) {
            char tag[24];
            snprintf(tag, sizeof tag, "tag%d-%u", t, (unsigned)(x >> (8 * t)) & 0xffff);
            json_array_append_new(tags, json_string(tag));
        }
        json_t *history = json_array();
        for (int h = 0; h < (int)((x >> 8) % 8); h++)
            json_array_append_new(history, json_integer((json_int_t)((x >> h) & 0xffffff)));
        json_t *rec = json_object();
        json_object_set_new(rec, "id", json_integer((json_int_t)i));
        json_object_set_new(rec, "name", json_string(name));
        json_object_set_new(rec, "score", json_real((double)(x % 100000) / 7.0));
        json_object_set_new(rec, "active", json_boolean(x & 1));
        json_object_set_new(rec, "tags", tags);
        json_object_set_new(rec, "profile",
                            json_pack("{s:s, s:i, s:o}", "city", (x & 2) ? "Lyon" : "Turin",
                                      "zip", (int)(x % 99999), "history", history));
        json_array_append_new(doc, rec);
    }
    return doc;
}

static result_t run_jansson(uint64_t documents, size_t records, uint64_t seed) {
    json_set_alloc_funcs(A.malloc_fn, A.free_fn);
    uint64_t rng = seed;
    result_t r = RESULT_INIT;
    for (uint64_t d = 0; d < documents; d++) {
        json_t *doc = build_document(records, &rng);
        if (!doc || json_array_size(doc) != records) die("jansson: building failed");
        char *text = json_dumps(doc, JSON_COMPACT);
        if (!text) die("jansson: dump failed");
        json_error_t error;
        json_t *parsed = json_loads(text, 0, &error);
        if (!parsed) die("jansson: parse failed");
        if (!json_equal(doc, parsed)) die("jansson: parsed document differs");
        json_t *last = json_array_get(parsed, records - 1);
        if (json_integer_value(json_object_get(last, "id")) != (json_int_t)(records - 1))
            die("jansson: wrong last record");
        r.checksum += strlen(text);
        A.free_fn(text);
        json_decref(parsed);
        json_decref(doc);
    }
    r.ops = documents;
    return r;
}
#endif

/* ------------------------------------------------------------------ */

static void json_escape_print(const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s >= 0x20) putchar(*s);
    }
}

/* A long-running multi-threaded server: many more threads than cores, for
 * `seconds`. Each request allocates a burst of 8-64 blocks (15 in 16 of
 * 16-512 B, the others up to 64 KiB), writes and checks their tags, frees
 * them in reverse; then replaces one entry of a cache shared by all threads
 * (64 B - 5 KiB values, 16384 slots, about 40 MiB when full), freeing the
 * entry it displaced, which another thread allocated (cross-thread frees).
 * ops = requests; live_bytes = the cache's bytes at the end. Time-based, so
 * the checksum is 0 for every contender: the tags are checked instead. */
enum { SERVER_CACHE_SLOTS = 16384 };

typedef struct {
    _Atomic(unsigned char *) *cache;
    _Atomic uint64_t *live;
    _Atomic int *stop;
    uint64_t seed;
    uint64_t requests;
} server_args_t;

static size_t cache_entry_size(const unsigned char *p) {
    uint64_t size;
    memcpy(&size, p + 8, 8);
    return (size_t)size;
}

static void *server_thread(void *arg) {
    server_args_t *a = arg;
    uint64_t rng = a->seed;
    unsigned char *burst[64];
    size_t sizes[64];
    uint64_t tags[64];
    while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
        uint64_t x = next_random(&rng);
        int n = 8 + (int)(x % 57);
        for (int i = 0; i < n; i++) {
            uint64_t y = next_random(&rng);
            sizes[i] = (y & 15) ? 16 + (y >> 8) % 497 : 512 + (y >> 8) % (64 * 1024 - 511);
            tags[i] = y;
            burst[i] = must_alloc(sizes[i]);
            tag_block(burst[i], sizes[i], y);
        }
        for (int i = n - 1; i >= 0; i--) {
            check_block(burst[i], sizes[i], tags[i]);
            A.free_fn(burst[i]);
        }
        uint64_t y = next_random(&rng);
        uint64_t size = 64 + (y >> 16) % (5 * 1024 - 63);
        unsigned char *entry = must_alloc(size);
        memcpy(entry, &y, 8);
        memcpy(entry + 8, &size, 8);
        entry[size - 1] = (unsigned char)y;
        atomic_fetch_add_explicit(a->live, size, memory_order_relaxed);
        unsigned char *old = atomic_exchange_explicit(&a->cache[y % SERVER_CACHE_SLOTS], entry,
                                                      memory_order_acq_rel);
        if (old) {
            uint64_t tag;
            size_t old_size = cache_entry_size(old);
            memcpy(&tag, old, 8);
            if (old[old_size - 1] != (unsigned char)tag) die("corrupted cache entry");
            atomic_fetch_sub_explicit(a->live, old_size, memory_order_relaxed);
            A.free_fn(old);
        }
        a->requests++;
    }
    return NULL;
}

static result_t run_server(double seconds, int threads, uint64_t seed) {
    _Atomic(unsigned char *) *cache = book_alloc(sizeof *cache * SERVER_CACHE_SLOTS);
    _Atomic uint64_t live = 0;
    _Atomic int stop = 0;
    server_args_t *args = book_alloc(sizeof *args * threads);
    timeline_begin();
    timeline_sample(0, true);
    pthread_t *ids = book_alloc(sizeof *ids * threads);
    for (int t = 0; t < threads; t++) {
        args[t] = (server_args_t){cache, &live, &stop, seed + (uint64_t)t * 7919u, 0};
        if (pthread_create(&ids[t], NULL, server_thread, &args[t])) die("pthread_create failed");
    }
    /* The main thread samples RSS and the cache's bytes while the workers
     * run; the peak of the live bytes is the peak of those samples. */
    uint64_t peak_live = 0;
    double end = now_seconds() + seconds;
    for (double now = now_seconds(); now < end; now = now_seconds()) {
        double wait = end - now < TIMELINE_MS * 1e-3 ? end - now : TIMELINE_MS * 1e-3;
        struct timespec pause = {0, (long)(wait * 1e9)};
        nanosleep(&pause, NULL);
        uint64_t l = atomic_load_explicit(&live, memory_order_relaxed);
        if (l > peak_live) peak_live = l;
        timeline_sample(l, false);
    }
    atomic_store(&stop, 1);
    result_t r = RESULT_INIT;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        r.ops += args[t].requests;
    }
    r.live_bytes = atomic_load(&live);
    if (r.live_bytes > peak_live) peak_live = r.live_bytes;
    r.peak_live_bytes = (int64_t)peak_live;
    r.rss_end_kib = rss_kib();
    for (size_t i = 0; i < SERVER_CACHE_SLOTS; i++) {
        unsigned char *p = atomic_load(&cache[i]);
        if (p) A.free_fn(p);
    }
    return r;
}

int main(int argc, char **argv) {
    setup_contender();
    if (argc == 2 && strcmp(argv[1], "info") == 0) {
        /* Which object really provides the functions called: catches a raw
         * backend that did not replace the C library's malloc. */
        Dl_info where = {0};
        dladdr((void *)A.malloc_fn, &where);
        printf("{\"version\":\"");
        json_escape_print(A.version);
        printf("\",\"malloc_object\":\"");
        json_escape_print(where.dli_fname ? where.dli_fname : "?");
        printf("\",\"trim\":%s,\"heap\":%s,\"libc\":\"%s\"}\n", A.trim_fn ? "true" : "false",
               A.heap_new_fn ? "true" : "false", gnu_get_libc_version());
        return 0;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: %s info | <workload> <scale> <threads> <seed>\n", argv[0]);
        return 2;
    }
    const char *workload = argv[1];
    double scale = strtod(argv[2], NULL);
    int threads = atoi(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    if (!(scale > 0) || threads < 1) die("bad scale or threads");
#define SCALED(n) ((uint64_t)((double)(n) * scale) + 1)

    result_t r;
    double start = now_seconds();
    if (strcmp(workload, "pair") == 0) {
        r = run_pair(SCALED(40000000), seed);
    } else if (strcmp(workload, "churn") == 0) {
        r = run_churn(SCALED(12000000), threads, seed, false);
    } else if (strcmp(workload, "producer-consumer") == 0) {
        r = run_producer_consumer(SCALED(6000000), threads, seed);
    } else if (strcmp(workload, "realloc") == 0) {
        r = run_realloc(SCALED(500000), seed);
    } else if (strcmp(workload, "large") == 0) {
        r = run_large(SCALED(1000), seed);
    } else if (strcmp(workload, "fragmentation") == 0) {
        r = run_fragmentation(SCALED(128u << 20), 6, seed);
    } else if (strcmp(workload, "aligned") == 0) {
        r = run_churn(SCALED(6000000), 1, seed, true);
    } else if (strcmp(workload, "leak") == 0) {
        r = run_leak(SCALED(6000000), seed);
    } else if (strcmp(workload, "burst-idle") == 0) {
        /* 12 s of quiet at scale >= 0.5 (longer than jemalloc's 10 s decay),
         * proportionally less in quick and smoke runs. */
        r = run_burst_idle(SCALED(256u << 20), scale >= 0.5 ? 12.0 : 24.0 * scale, seed);
    } else if (strcmp(workload, "server") == 0) {
        r = run_server(60.0 * scale, threads, seed);
    } else if (strcmp(workload, "request") == 0) {
        r = run_request(SCALED(100000), seed, false);
    } else if (strcmp(workload, "request-heap") == 0) {
        r = run_request(SCALED(100000), seed, true);
    } else if (strcmp(workload, "jansson") == 0) {
#ifdef WITH_JANSSON
        /* 3 documents of 20000 records at scale 1; below scale 1/3, one
         * document of fewer records (quick and smoke runs). */
        r = run_jansson(SCALED(3), scale * 3 >= 1 ? 20000 : (size_t)(60000 * scale) + 1, seed);
#else
        die("built without jansson");
#endif
    } else {
        die("unknown workload");
    }
    double seconds = now_seconds() - start - quiet_seconds_spent;
    printf("{\"ops\":%" PRIu64 ",\"seconds\":%.6f,\"checksum\":\"%016" PRIx64 "\","
           "\"rss_end_kib\":%ld,\"rss_trim_kib\":%ld,\"live_bytes\":%" PRIu64
           ",\"peak_live_bytes\":%" PRId64 ",\"timeline\":[",
           r.ops, seconds, r.checksum, r.rss_end_kib, r.rss_trim_kib, r.live_bytes,
           r.peak_live_bytes);
    for (size_t i = 0; i < timeline_len; i++)
        printf("%s[%.3f,%ld,%" PRIu64 "]", i ? "," : "", timeline[i].t, timeline[i].rss_kib,
               timeline[i].live);
    printf("]}\n");
    return 0;
}
