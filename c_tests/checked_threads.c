/* Threads hammering the checked library's record with correct usage only:
 * every block is freed the way checked mode requires (gb_free_sized with its
 * size for gb_alloc/gb_calloc/gb_realloc blocks, gb_free_aligned_sized or
 * gb_free for gb_aligned_alloc blocks), and blocks change hands through a
 * shared table of atomic slots, so that most are resized or freed by a
 * thread other than the one that allocated them. For ThreadSanitizer
 * (tests/tsan-checked.sh) and as a plain test: exits 0 unless a block's
 * contents were damaged (checked mode itself aborts on any record error).
 *
 *   checked_threads [THREADS [OPS_PER_THREAD [SEED]]]   (defaults 4 100000 1) */
#include <pthread.h>
#include <stdatomic.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

enum { SHARED = 4096, MAX_THREADS = 64 };

typedef struct {
    size_t size, alignment; /* alignment 0: not from gb_aligned_alloc */
    unsigned char data[];   /* the rest of the block: a pattern */
} header_t;

static _Atomic(header_t *) shared[SHARED];
static uint64_t ops_per_thread = 100000;
static uint64_t base_seed = 1;

static void fill(header_t *h) { gb_fill(h->data, h->size - sizeof *h, h); }

static int intact(const header_t *h) { return gb_intact(h->data, h->size - sizeof *h, h); }

static header_t *make(uint64_t *seed) {
    size_t size = sizeof(header_t) + (size_t)(gb_rand(seed) % 600);
    header_t *h;
    switch (gb_rand(seed) % 3) {
    case 0: h = gb_alloc(size); break;
    case 1: h = gb_calloc(1, size); break;
    default: {
        size_t alignment = (size_t)16 << (gb_rand(seed) % 6);
        h = gb_aligned_alloc(alignment, size);
        REQUIRE(h);
        h->alignment = alignment;
        h->size = size;
        fill(h);
        return h;
    }
    }
    REQUIRE(h);
    h->alignment = 0;
    h->size = size;
    fill(h);
    return h;
}

static void release(header_t *h, uint64_t *seed) {
    if (!intact(h)) {
        fprintf(stderr, "checked_threads: block %p damaged\n", (void *)h);
        abort();
    }
    if (h->alignment) {
        if (gb_rand(seed) % 2) gb_free_aligned_sized(h, h->alignment, h->size);
        else gb_free(h);
    } else if (gb_rand(seed) % 2) {
        gb_free_sized(h, h->size);
    } else {
        gb_free(h);
    }
}

static header_t *resize(header_t *h, uint64_t *seed) {
    if (!intact(h)) {
        fprintf(stderr, "checked_threads: block %p damaged before realloc\n", (void *)h);
        abort();
    }
    size_t size = sizeof(header_t) + (size_t)(gb_rand(seed) % 2000);
    header_t *r = gb_realloc(h, size);
    REQUIRE(r);
    r->size = size;
    r->alignment = 0; /* a resized block has malloc's alignment only */
    fill(r);
    return r;
}

static void *run(void *arg) {
    uint64_t seed = base_seed * 0x9E3779B97F4A7C15ull + (uint64_t)(uintptr_t)arg + 1;
    for (uint64_t i = 0; i < ops_per_thread; i++) {
        header_t *mine = make(&seed);
        if (gb_rand(&seed) % 4 == 0) mine = resize(mine, &seed);
        /* Swap it into a random slot; whatever was there is ours now. */
        header_t *theirs = atomic_exchange(&shared[gb_rand(&seed) % SHARED], mine);
        if (!theirs) continue;
        if (gb_rand(&seed) % 3 == 0) theirs = resize(theirs, &seed);
        release(theirs, &seed);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2) ops_per_thread = strtoull(argv[2], NULL, 10);
    if (argc > 3) base_seed = strtoull(argv[3], NULL, 10);
    REQUIRE(threads >= 1 && threads <= MAX_THREADS);
    pthread_t ids[MAX_THREADS];
    for (int t = 0; t < threads; t++)
        REQUIRE(pthread_create(&ids[t], NULL, run, (void *)(uintptr_t)t) == 0);
    for (int t = 0; t < threads; t++) REQUIRE(pthread_join(ids[t], NULL) == 0);
    uint64_t seed = 99;
    for (int i = 0; i < SHARED; i++) {
        header_t *h = atomic_load(&shared[i]);
        if (h) release(h, &seed);
    }
    printf("checked_threads: %d threads x %llu ops\n", threads, (unsigned long long)ops_per_thread);
    return gb_test_finish("checked_threads");
}
