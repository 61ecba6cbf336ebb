/* The free functions never change errno, also on their slow paths: blocks of
 * every size class up to 64 MiB, freed by the thread that allocated them and
 * by others, in bursts large enough to flush thread caches and empty whole
 * slabs and extents. The manifest runs it a second time with jemalloc told to
 * purge on the freeing thread at once (_RJEM_MALLOC_CONF=background_thread:
 * false,dirty_decay_ms:0,muzzy_decay_ms:0), so that every free of a large
 * block makes its madvise there; on jemalloc the C API's gb_free is
 * jemalloc's free itself, and this is the evidence that it keeps errno. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

enum { BLOCKS = 3000, THREADS = 4 };

static size_t size_of(uint64_t *seed) {
    /* Mostly small, some large, a few huge: every path of every backend. */
    uint64_t r = gb_rand(seed);
    switch (r % 16) {
    case 0: return (size_t)(r >> 8) % (64u << 20);
    case 1: case 2: return (size_t)(r >> 8) % (1u << 20);
    case 3: case 4: case 5: return (size_t)(r >> 8) % 65536;
    default: return (size_t)(r >> 8) % 1024;
    }
}

/* Frees one block the way `how` says, checking errno around it. */
static void free_checked(void *p, size_t n, size_t alignment, int how) {
    errno = 4242;
    if (alignment) {
        if (how) gb_free_aligned_sized(p, alignment, n);
        else gb_free(p);
    } else if (how) {
        gb_free_sized(p, n);
    } else {
        gb_free(p);
    }
    CHECK(errno == 4242);
}

typedef struct {
    void *p[BLOCKS];
    size_t n[BLOCKS];
    size_t alignment[BLOCKS];
    uint64_t seed;
} batch;

static void fill(batch *b) {
    for (int i = 0; i < BLOCKS; i++) {
        b->n[i] = size_of(&b->seed);
        b->alignment[i] = (i % 7 == 0) ? (size_t)1 << (gb_rand(&b->seed) % 14) : 0;
        b->p[i] = b->alignment[i] ? gb_aligned_alloc(b->alignment[i], b->n[i]) : gb_alloc(b->n[i]);
        REQUIRE(b->p[i] != NULL);
        memset(b->p[i], 0x5A, b->n[i] < 4096 ? b->n[i] : 4096);
    }
}

static void release(batch *b) {
    for (int i = 0; i < BLOCKS; i++) free_checked(b->p[i], b->n[i], b->alignment[i], i & 1);
}

/* Each thread frees the batch of the thread before it (cross-thread frees),
 * then its own next batch. */
static batch batches[THREADS];
static pthread_barrier_t barrier;

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int round = 0; round < 3; round++) {
        fill(&batches[id]);
        pthread_barrier_wait(&barrier);
        release(&batches[(id + 1) % THREADS]);
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(void) {
    static batch own = {.seed = 7};
    for (int round = 0; round < 3; round++) {
        fill(&own);
        release(&own);
        CHECK(gb_trim() == 0); /* purged: the next round maps and frees afresh */
    }
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        batches[i].seed = 100 + (uint64_t)i;
        REQUIRE(pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) == 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    return gb_test_finish("free_errno");
}
