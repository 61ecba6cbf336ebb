/* Multi-threaded stress: THREADS threads run a seeded random mix of every
 * allocation and free function over sizes from 0 to 4 MiB, and pass blocks to
 * each other through queues, so that many blocks are freed (or resized) by a
 * thread other than the one that allocated them.
 *
 * Every block carries a byte pattern derived from its address and size,
 * checked before every free, after every realloc (the kept prefix) and when
 * a block changes hands; every result is checked for alignment, for
 * gb_usable_size >= size, and calloc's for zero fill. At every round all
 * threads stop and one checks that no two live blocks overlap.
 *
 *   stress [THREADS [OPS [SEED]]]   (or GB_STRESS_THREADS, GB_STRESS_OPS,
 *                                    GB_STRESS_SEED; defaults 4, 400000, 1)
 * OPS counts allocation and free calls over all threads. Prints one summary
 * line; exits non-zero on the first corruption. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

enum { SLOTS = 512, QUEUE = 1024, MAX_THREADS = 64, ROUND_OPS = 200000 };

typedef struct {
    unsigned char *ptr;
    size_t size;
    size_t alignment; /* 0: not from gb_aligned_alloc */
} block_t;

typedef struct {
    pthread_mutex_t lock;
    block_t items[QUEUE];
    size_t head, count;
} queue_t;

typedef struct {
    int id;
    uint64_t seed;
    uint64_t ops, received, sent, bytes;
    block_t slots[SLOTS];
} worker_t;

static int threads = 4;
static uint64_t ops_per_thread, round_ops;
static queue_t queues[MAX_THREADS];
static worker_t workers[MAX_THREADS];
static pthread_barrier_t barrier;

static void fail(const char *what, const block_t *b) {
    fprintf(stderr, "stress: %s: block %p size %zu alignment %zu\n", what, (void *)b->ptr, b->size,
            b->alignment);
    abort();
}

/* Sizes: mostly small, some medium, a few up to 4 MiB; 0 included. */
static size_t pick_size(uint64_t *seed) {
    uint64_t r = gb_rand(seed);
    switch (r % 100) {
    case 0: return gb_rand(seed) % 5 ? (size_t)(gb_rand(seed) % (256u << 10)) : (size_t)(gb_rand(seed) % (4u << 20));
    case 1: return (size_t)(gb_rand(seed) % 65536);
    case 2: return 0;
    default:
        if (r % 7 < 5) return (size_t)(gb_rand(seed) % 256);
        return (size_t)(gb_rand(seed) % 8192);
    }
}

/* The pattern, 8 bytes at a time: word j of a block is a function of the
 * block's address, its size and j. Blocks above 64 KiB carry it on their first
 * and last 4 KiB and on the first 64 bytes of every 64 KiB, so that a run stays
 * fast; smaller ones everywhere. */
static uint64_t block_seed(const void *key, size_t size) {
    uint64_t x = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull ^ (uint64_t)size * 0xC2B2AE3D27D4EB4Full;
    return x ^ (x >> 31);
}

static uint64_t word_at(uint64_t seed, size_t j) {
    uint64_t x = seed + (uint64_t)j * 0xD6E8FEB86659FD93ull;
    return x ^ (x >> 29);
}

static int patterned(size_t offset, size_t size) {
    return size <= 65536 || offset < 4096 || offset + 4096 >= size || (offset & 65535) < 64;
}

static void fill(const block_t *b) {
    uint64_t seed = block_seed(b->ptr, b->size);
    for (size_t j = 0; j * 8 < b->size; j++) {
        if (!patterned(j * 8, b->size)) continue;
        uint64_t w = word_at(seed, j);
        size_t n = b->size - j * 8 < 8 ? b->size - j * 8 : 8;
        memcpy(b->ptr + j * 8, &w, n);
    }
}

/* True if the first `prefix` bytes carry the pattern of (key, size). */
static int intact(const unsigned char *ptr, size_t prefix, const void *key, size_t size) {
    uint64_t seed = block_seed(key, size);
    for (size_t j = 0; j * 8 < prefix; j++) {
        if (!patterned(j * 8, size)) continue;
        uint64_t w = word_at(seed, j);
        size_t n = prefix - j * 8 < 8 ? prefix - j * 8 : 8;
        if (memcmp(ptr + j * 8, &w, n)) return 0;
    }
    return 1;
}

static void check_new(const block_t *b) {
    if (!b->ptr) fail(errno == ENOMEM ? "out of memory" : "NULL without ENOMEM", b);
    size_t want = b->alignment ? b->alignment : (b->size >= 16 ? 16 : b->size >= 8 ? 8 : 1);
    if ((uintptr_t)b->ptr % want) fail("misaligned", b);
    size_t usable = gb_usable_size(b->ptr);
    if (usable < b->size) fail("usable size below size", b);
    if (usable > b->size) b->ptr[usable - 1] = 0x5A; /* all of the usable size may be written */
}

static void release(worker_t *w, block_t *b) {
    if (!intact(b->ptr, b->size, b->ptr, b->size)) fail("pattern damaged before free", b);
    switch (gb_rand(&w->seed) % 3) {
    case 0: gb_free(b->ptr); break;
    case 1: /* C23: an aligned block is not gb_free_sized's */
        if (b->alignment) gb_free(b->ptr);
        else gb_free_sized(b->ptr, b->size);
        break;
    default:
        if (b->alignment) gb_free_aligned_sized(b->ptr, b->alignment, b->size);
        else gb_free_sized(b->ptr, b->size);
    }
    w->ops++;
    b->ptr = NULL;
}

static void make(worker_t *w, block_t *b) {
    uint64_t r = gb_rand(&w->seed) % 10;
    b->size = pick_size(&w->seed);
    b->alignment = 0;
    if (r < 5) {
        b->ptr = gb_alloc(b->size);
        check_new(b);
    } else if (r < 7) {
        size_t count = 1 + (size_t)(gb_rand(&w->seed) % 8);
        size_t each = b->size / count;
        b->size = count * each;
        b->ptr = gb_calloc(count, each);
        check_new(b);
        for (size_t i = 0; i < b->size; i++)
            if (patterned(i & ~(size_t)7, b->size) && b->ptr[i]) fail("calloc block not zero", b);
    } else if (r < 9) {
        b->alignment = (size_t)1 << (gb_rand(&w->seed) % (r == 7 ? 7 : 17));
        b->ptr = gb_aligned_alloc(b->alignment, b->size);
        check_new(b);
    } else {
        b->ptr = gb_realloc(NULL, b->size);
        check_new(b);
    }
    w->ops++;
    w->bytes += b->size;
    fill(b);
}

static void resize(worker_t *w, block_t *b) {
    size_t old = b->size;
    unsigned char *old_ptr = b->ptr;
    size_t size = gb_rand(&w->seed) % 4 == 0 ? pick_size(&w->seed)
                                              : old + (size_t)(gb_rand(&w->seed) % 64) - (old > 32 ? 32 : old);
    b->ptr = gb_realloc(b->ptr, size);
    b->size = size;
    b->alignment = 0;
    check_new(b);
    size_t kept = old < size ? old : size;
    if (!intact(b->ptr, kept, old_ptr, old)) fail("contents not kept by realloc", b);
    w->ops++;
    w->bytes += size;
    fill(b);
}

static int send(worker_t *w, block_t *b) {
    /* Always another thread: what arrives in a queue is foreign to its reader. */
    uint64_t other = 1 + gb_rand(&w->seed) % (uint64_t)(threads - 1);
    queue_t *q = &queues[((uint64_t)w->id + other) % (uint64_t)threads];
    int sent = 0;
    pthread_mutex_lock(&q->lock);
    if (q->count < QUEUE) {
        q->items[(q->head + q->count++) % QUEUE] = *b;
        sent = 1;
    }
    pthread_mutex_unlock(&q->lock);
    if (sent) {
        w->sent++;
        b->ptr = NULL;
    }
    return sent;
}

/* Takes up to 8 blocks from this thread's queue into its slots (freeing what
 * was there), checking each block's pattern on arrival. */
static void receive(worker_t *w) {
    queue_t *q = &queues[w->id];
    for (int n = 0; n < 8; n++) {
        block_t b;
        pthread_mutex_lock(&q->lock);
        int got = q->count > 0;
        if (got) {
            b = q->items[q->head];
            q->head = (q->head + 1) % QUEUE;
            q->count--;
        }
        pthread_mutex_unlock(&q->lock);
        if (!got) return;
        if (!intact(b.ptr, b.size, b.ptr, b.size)) fail("pattern damaged in transit", &b);
        block_t *slot = &w->slots[gb_rand(&w->seed) % SLOTS];
        if (slot->ptr) release(w, slot);
        *slot = b;
        w->received++;
        if (gb_rand(&w->seed) % 2) resize(w, slot); /* realloc of another thread's block */
        else release(w, slot);
    }
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const block_t *)a)->ptr, y = (uintptr_t)((const block_t *)b)->ptr;
    return x < y ? -1 : x > y;
}

/* With every thread stopped: no two live blocks (usable sizes) overlap. */
static void check_no_overlap(void) {
    size_t n = 0, cap = (size_t)threads * (SLOTS + QUEUE);
    block_t *all = malloc(cap * sizeof *all);
    REQUIRE(all);
    for (int t = 0; t < threads; t++) {
        for (int i = 0; i < SLOTS; i++)
            if (workers[t].slots[i].ptr) all[n++] = workers[t].slots[i];
        for (size_t i = 0; i < queues[t].count; i++) all[n++] = queues[t].items[(queues[t].head + i) % QUEUE];
    }
    qsort(all, n, sizeof *all, by_address);
    for (size_t i = 1; i < n; i++)
        if ((uintptr_t)all[i - 1].ptr + gb_usable_size(all[i - 1].ptr) > (uintptr_t)all[i].ptr)
            fail("live blocks overlap", &all[i]);
    free(all);
}

static void *run(void *arg) {
    worker_t *w = arg;
    uint64_t next_round = round_ops;
    while (w->ops < ops_per_thread) {
        block_t *b = &w->slots[gb_rand(&w->seed) % SLOTS];
        uint64_t r = gb_rand(&w->seed) % 16;
        if (!b->ptr) make(w, b);
        else if (r < 5) release(w, b);
        else if (r < 8) resize(w, b);
        else if (r < 10 && threads > 1) { if (!send(w, b)) release(w, b); }
        else if (r == 10 && !intact(b->ptr, b->size, b->ptr, b->size)) fail("pattern damaged", b);
        if ((w->ops & 15) == 0) receive(w);
        if (w->ops >= next_round) {
            next_round += round_ops;
            /* Everyone stops at the same round count; one thread checks. */
            if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) check_no_overlap();
            pthread_barrier_wait(&barrier);
        }
    }
    /* Rounds are counted by each thread's own ops; let the others finish theirs. */
    return NULL;
}

static uint64_t arg_or_env(int argc, char **argv, int i, const char *env, uint64_t fallback) {
    const char *text = argc > i ? argv[i] : getenv(env);
    return text && *text ? strtoull(text, NULL, 10) : fallback;
}

int main(int argc, char **argv) {
    threads = (int)arg_or_env(argc, argv, 1, "GB_STRESS_THREADS", 4);
    uint64_t ops = arg_or_env(argc, argv, 2, "GB_STRESS_OPS", 400000);
    uint64_t seed = arg_or_env(argc, argv, 3, "GB_STRESS_SEED", 1);
    REQUIRE(threads >= 1 && threads <= MAX_THREADS);
    /* Rounds end at multiples of round_ops, which every thread reaches: no
     * thread may leave while others wait at the barrier. */
    round_ops = (ops < ROUND_OPS ? ops : ROUND_OPS) / (uint64_t)threads;
    REQUIRE(round_ops > 0);
    ops_per_thread = ops / (uint64_t)threads;
    ops_per_thread -= ops_per_thread % round_ops;
    REQUIRE(pthread_barrier_init(&barrier, NULL, (unsigned)threads) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t ids[MAX_THREADS];
    for (int t = 0; t < threads; t++) pthread_mutex_init(&queues[t].lock, NULL);
    for (int t = 0; t < threads; t++) {
        workers[t].id = t;
        workers[t].seed = seed * 0x9E3779B97F4A7C15ull + (uint64_t)t + 1;
        REQUIRE(pthread_create(&ids[t], NULL, run, &workers[t]) == 0);
    }
    for (int t = 0; t < threads; t++) REQUIRE(pthread_join(ids[t], NULL) == 0);
    check_no_overlap();
    uint64_t total = 0, received = 0, bytes = 0;
    for (int t = 0; t < threads; t++) {
        worker_t *w = &workers[t];
        block_t rest = {0};
        for (int i = 0; i < SLOTS; i++)
            if (w->slots[i].ptr) release(w, &w->slots[i]);
        while (queues[t].count) {
            rest = queues[t].items[queues[t].head];
            queues[t].head = (queues[t].head + 1) % QUEUE;
            queues[t].count--;
            release(w, &rest);
        }
        total += w->ops, received += w->received, bytes += w->bytes;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("stress: backend=%s threads=%d seed=%llu operations=%llu freed_or_resized_by_other_thread=%llu "
           "bytes_allocated=%llu seconds=%.1f ok\n",
           gb_allocator_name(), threads, (unsigned long long)seed, (unsigned long long)total,
           (unsigned long long)received, (unsigned long long)bytes, secs);
    return 0;
}
