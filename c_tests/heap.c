/* The heap API from C (gb_heap_*): every function's contract rows, the limit
 * kept exactly by 4 threads allocating at once (usable bytes), blocks freed
 * by other threads with gb_free and gb_free_sized, gb_owns and gb_usable_size
 * on heap blocks, and destroy freeing what is left. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

static gb_heap_stats_t stats(const gb_heap_t *heap) {
    gb_heap_stats_t s;
    s.size = sizeof s;
    REQUIRE(gb_heap_stats(heap, &s) == 0);
    REQUIRE(s.size == sizeof s);
    return s;
}


#define LIMIT (4u << 20)
#define MAX_BLOCKS 100000
static gb_heap_t *shared;
static void *blocks[4][MAX_BLOCKS];
static size_t sizes[4][MAX_BLOCKS];
static size_t counts[4];
static size_t usable[4];
static atomic_int ready;

static void *fill(void *arg) {
    size_t t = (size_t)arg;
    atomic_fetch_add(&ready, 1);
    while (atomic_load(&ready) < 4) {
    }
    for (size_t attempt = 0;; attempt++) {
        size_t size = 16 + (attempt * 37 + t * 11) % 3000;
        errno = 0;
        void *p = gb_heap_alloc(shared, size);
        if (p == NULL) {
            CHECK(errno == ENOMEM);
            /* A small block may still fit; the limit is what stops it. */
            if (size <= 64) break;
            continue;
        }
        REQUIRE(counts[t] < MAX_BLOCKS);
        memset(p, (int)t, size);
        sizes[t][counts[t]] = size;
        blocks[t][counts[t]++] = p;
        usable[t] += gb_usable_size(p);
    }
    return NULL;
}

static void *free_all(void *arg) {
    size_t t = ((size_t)arg + 1) % 4; /* another thread's blocks */
    for (size_t i = 0; i < counts[t]; i++) {
        if (i % 2)
            gb_free(blocks[t][i]);
        else
            gb_free_sized(blocks[t][i], sizes[t][i]);
    }
    return NULL;
}

int main(void) {
    /* Contract rows. */
    errno = 0;
    CHECK(gb_heap_alloc(NULL, 8) == NULL && errno == EINVAL);
    CHECK(gb_heap_aligned_alloc(NULL, 8, 8) == NULL);
    gb_heap_destroy(NULL);
    gb_heap_stats_t s;
    s.size = sizeof s;
    CHECK(gb_heap_stats(NULL, &s) == EINVAL);

    gb_heap_t *heap = gb_heap_new(0);
    REQUIRE(heap != NULL);
    unsigned char *a = gb_heap_alloc(heap, 100);
    REQUIRE(a != NULL);
    CHECK(gb_owns(a)); /* every backend knows its heaps' blocks */
    CHECK(gb_usable_size(a) >= 100);
    unsigned char *z = gb_heap_calloc(heap, 100, 10);
    REQUIRE(z != NULL);
    for (int i = 0; i < 1000; i++) CHECK(z[i] == 0);
    errno = 0;
    CHECK(gb_heap_calloc(heap, SIZE_MAX, 2) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(gb_heap_aligned_alloc(heap, 3, 8) == NULL && errno == EINVAL);
    void *al = gb_heap_aligned_alloc(heap, 1 << 16, 10);
    REQUIRE(al != NULL);
    CHECK(((uintptr_t)al & 0xffff) == 0);
    memset(a, 0x11, 100);
    unsigned char *b = gb_heap_realloc(heap, a, 50000);
    REQUIRE(b != NULL);
    for (int i = 0; i < 100; i++) CHECK(b[i] == 0x11);
    s = stats(heap);
    CHECK(s.blocks == 3 && s.limit_bytes == 0);
    CHECK(s.allocated_bytes == gb_usable_size(b) + gb_usable_size(z) + gb_usable_size(al));
    gb_free_aligned_sized(al, 1 << 16, 10);
    gb_free(z);
    CHECK(stats(heap).blocks == 1);
    gb_heap_destroy(heap); /* b goes with it */

    /* The limit under 4 threads. */
    shared = gb_heap_new(LIMIT);
    REQUIRE(shared != NULL);
    pthread_t threads[4];
    for (size_t t = 0; t < 4; t++) REQUIRE(pthread_create(&threads[t], NULL, fill, (void *)t) == 0);
    for (size_t t = 0; t < 4; t++) pthread_join(threads[t], NULL);
    size_t total = usable[0] + usable[1] + usable[2] + usable[3];
    s = stats(shared);
    CHECK(s.allocated_bytes == total);
    CHECK(total <= LIMIT);
    CHECK(LIMIT - total < 128); /* no 16..64-byte block fitted any more */
    CHECK(s.peak_allocated_bytes == total && s.refused > 0);
    printf("limit %u: %zu usable bytes in %zu blocks, %llu refused\n", LIMIT, total,
           counts[0] + counts[1] + counts[2] + counts[3], (unsigned long long)s.refused);
    /* Freed by other threads (each frees another's blocks). */
    for (size_t t = 0; t < 4; t++) REQUIRE(pthread_create(&threads[t], NULL, free_all, (void *)t) == 0);
    for (size_t t = 0; t < 4; t++) pthread_join(threads[t], NULL);
    s = stats(shared);
    CHECK(s.blocks == 0 && s.allocated_bytes == 0);
    gb_heap_destroy(shared);
    return gb_test_finish("heap");
}
