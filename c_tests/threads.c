/* Threads allocate blocks, fill them with a pattern, and hand them through a
 * shared queue to other threads, which check the contents and free them with
 * the various free functions (cross-thread free). Seeded and reproducible. */
#include <pthread.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

enum { THREADS = 4, OPS_PER_THREAD = 40000, QUEUE = 1024 };

struct block {
    unsigned char *ptr;
    size_t size;
    size_t alignment; /* 0 for plain blocks */
};

static struct block queue[QUEUE];
static size_t queue_len = 0;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures[THREADS];

static size_t pick_size(uint64_t *seed) {
    uint64_t r = gb_rand(seed);
    switch (r % 8) {
    case 0: return 0;
    case 1: return (size_t)(r >> 8) % 70000;      /* medium */
    case 2: return (size_t)(r >> 8) % (1 << 21);  /* up to 2 MiB, rare */
    default: return (size_t)(r >> 8) % 600;       /* small, common */
    }
}

static void release(struct block b, uint64_t *seed, int *fail) {
    if (!gb_intact(b.ptr, b.size, b.ptr)) (*fail)++;
    if (b.alignment && ((uintptr_t)b.ptr & (b.alignment - 1))) (*fail)++;
    switch (gb_rand(seed) % 3) {
    case 0: gb_free(b.ptr); break;
    case 1: /* C23: an aligned block is not gb_free_sized's */
        if (b.alignment) gb_free(b.ptr);
        else gb_free_sized(b.ptr, b.size);
        break;
    default:
        if (b.alignment) gb_free_aligned_sized(b.ptr, b.alignment, b.size);
        else gb_free_sized(b.ptr, b.size);
    }
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t seed = 0x1234567ull + (uint64_t)id * 7919;
    int fail = 0;
    for (int op = 0; op < OPS_PER_THREAD; op++) {
        struct block b = {0};
        b.size = pick_size(&seed);
        if (b.size > 100000 && gb_rand(&seed) % 4) b.size = 100; /* keep big ones rare */
        uint64_t kind = gb_rand(&seed) % 4;
        if (kind == 0) {
            b.alignment = (size_t)1 << (gb_rand(&seed) % 13); /* 1 .. 4096 */
            b.ptr = gb_aligned_alloc(b.alignment, b.size);
        } else if (kind == 1) {
            b.ptr = gb_calloc(1, b.size);
            if (b.ptr)
                for (size_t i = 0; i < b.size; i++)
                    if (b.ptr[i]) { fail++; break; }
        } else if (kind == 2) {
            size_t old_size = (size_t)(gb_rand(&seed) % 2000);
            unsigned char *p = gb_alloc(old_size);
            if (!p) { fail++; continue; }
            gb_fill(p, old_size, p);
            b.ptr = gb_realloc(p, b.size);
            /* realloc keeps the common prefix (keyed by the old address). */
            size_t common = b.size < old_size ? b.size : old_size;
            if (b.ptr && !gb_intact_prefix(b.ptr, common, old_size, p)) fail++;
        } else {
            b.ptr = gb_alloc(b.size);
        }
        if (!b.ptr) { fail++; continue; }
        if (gb_usable_size(b.ptr) < b.size) fail++;
        gb_fill(b.ptr, b.size, b.ptr);

        struct block victim = {0};
        pthread_mutex_lock(&queue_lock);
        if (queue_len == QUEUE) {
            size_t i = (size_t)(gb_rand(&seed) % QUEUE);
            victim = queue[i];
            queue[i] = b;
        } else {
            queue[queue_len++] = b;
        }
        pthread_mutex_unlock(&queue_lock);
        if (victim.ptr) release(victim, &seed, &fail);
    }
    failures[id] = fail;
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    uint64_t seed = 99;
    int fail = 0;
    for (size_t i = 0; i < queue_len; i++) release(queue[i], &seed, &fail);
    for (int i = 0; i < THREADS; i++) {
        if (failures[i]) fprintf(stderr, "thread %d: %d bad blocks\n", i, failures[i]);
        CHECK(failures[i] == 0);
    }
    CHECK(fail == 0);
    return gb_test_finish("threads");
}
