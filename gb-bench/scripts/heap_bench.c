/* Heaps measured (docs/heaps.md; gb-bench/scripts/heaps.sh runs it):
 *
 *   heap_bench footprint N      N heaps with one 16-byte block each: resident
 *                               and mapped bytes per heap; then 10 N heaps
 *                               made and destroyed in turn: address space and
 *                               resident growth
 *   heap_bench request R B      R "requests" of B small blocks (16-512 B)
 *                               each, three ways, interleaved: a heap per
 *                               request destroyed at its end; gb_alloc +
 *                               gb_free of each block; malloc + free of each
 *                               block. Prints ns per request, per round.
 *   heap_bench one WAY R B      R requests of B blocks one way only (WAY:
 *                               heap, gb or malloc), for callgrind:
 *                               instructions per request
 *   heap_bench pairs N [live]   N gb_alloc/gb_free pairs of 16-79 B, with a
 *                               heap alive during them when "live" (for
 *                               callgrind: what a free costs while heaps exist)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graphbit_alloc.h"

static long statm(int field) {
    long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &size, &rss) != 2) return -1;
    fclose(f);
    return (field == 0 ? size : rss) * 4096;
}

static long resident_bytes(void) { return statm(1); }

static unsigned long long mapped_bytes(void) {
    gb_stats_t s;
    s.size = sizeof s;
    return gb_stats(&s) == 0 ? s.mapped : 0;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static unsigned next(unsigned *x) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static int footprint(int n) {
    gb_heap_t **heaps = malloc(sizeof *heaps * (size_t)n);
    if (heaps == NULL) return 1;
    long rss0 = resident_bytes();
    unsigned long long mapped0 = mapped_bytes();
    for (int i = 0; i < n; i++) {
        heaps[i] = gb_heap_new(0);
        if (heaps[i] == NULL) {
            perror("gb_heap_new");
            return 1;
        }
        char *p = gb_heap_alloc(heaps[i], 16);
        if (p == NULL) return 1;
        memset(p, 1, 16);
    }
    long rss1 = resident_bytes();
    unsigned long long mapped1 = mapped_bytes();
    for (int i = 0; i < n; i++) gb_heap_destroy(heaps[i]);
    long rss2 = resident_bytes();
    printf("backend %s: %d heaps with one 16-byte block each: %.0f resident bytes per heap, "
           "%.0f mapped bytes per heap (gb_stats; 0 where the backend does not say); "
           "resident after destroying them all: %+ld KiB from the start\n",
           gb_allocator_name(), n, (double)(rss1 - rss0) / n,
           mapped1 > mapped0 ? (double)(mapped1 - mapped0) / n : 0.0, (rss2 - rss0) / 1024);
    /* Churn: heaps created and destroyed one after another. */
    long vm0 = statm(0), rss3 = resident_bytes();
    for (int i = 0; i < 10 * n; i++) {
        gb_heap_t *heap = gb_heap_new(0);
        if (heap == NULL || gb_heap_alloc(heap, 100) == NULL) return 1;
        gb_heap_destroy(heap);
    }
    printf("backend %s: %d heaps created and destroyed in turn: address space %+ld KiB, "
           "resident %+ld KiB\n",
           gb_allocator_name(), 10 * n, (statm(0) - vm0) / 1024, (resident_bytes() - rss3) / 1024);
    free(heaps);
    return 0;
}

/* R requests of B blocks one way (0: heap, 1: gb_alloc + gb_free, 2: malloc
 * + free), as request() runs them. */
static int one_way(int way, int requests, int blocks) {
    void **held = malloc(sizeof *held * (size_t)blocks);
    if (held == NULL) return 1;
    unsigned x = 12345;
    for (int r = 0; r < requests; r++) {
        gb_heap_t *heap = way == 0 ? gb_heap_new(0) : NULL;
        if (way == 0 && heap == NULL) return 1;
        for (int b = 0; b < blocks; b++) {
            size_t size = 16 + next(&x) % 497;
            char *p = way == 0 ? gb_heap_alloc(heap, size) : way == 1 ? gb_alloc(size)
                                                                      : malloc(size);
            if (p == NULL) return 1;
            p[0] = (char)b;
            held[b] = p;
        }
        if (way == 0) {
            gb_heap_destroy(heap);
        } else {
            for (int b = 0; b < blocks; b++) {
                if (way == 1)
                    gb_free(held[b]);
                else
                    free(held[b]);
            }
        }
    }
    free(held);
    return 0;
}

static int request(int requests, int blocks, int rounds) {
    void **held = malloc(sizeof *held * (size_t)blocks);
    if (held == NULL) return 1;
    printf("backend %s: %d requests of %d blocks (16-512 B), ns per request\n", gb_allocator_name(),
           requests, blocks);
    printf("round  heap-destroy  gb_alloc+gb_free  malloc+free\n");
    for (int round = 0; round < rounds; round++) {
        double t[3];
        for (int way = 0; way < 3; way++) {
            unsigned x = 12345;
            double start = now_ns();
            for (int r = 0; r < requests; r++) {
                gb_heap_t *heap = way == 0 ? gb_heap_new(0) : NULL;
                for (int b = 0; b < blocks; b++) {
                    size_t size = 16 + next(&x) % 497;
                    char *p = way == 0 ? gb_heap_alloc(heap, size) : way == 1 ? gb_alloc(size)
                                                                              : malloc(size);
                    if (p == NULL) return 1;
                    p[0] = (char)b;
                    held[b] = p;
                }
                if (way == 0) {
                    gb_heap_destroy(heap);
                } else {
                    for (int b = 0; b < blocks; b++) {
                        if (way == 1)
                            gb_free(held[b]);
                        else
                            free(held[b]);
                    }
                }
            }
            t[way] = (now_ns() - start) / requests;
        }
        printf("%5d  %12.0f  %16.0f  %11.0f\n", round, t[0], t[1], t[2]);
    }
    free(held);
    return 0;
}

static int pairs(long n, int live) {
    gb_heap_t *heap = live ? gb_heap_new(0) : NULL;
    void *volatile sink;
    for (long i = 0; i < n; i++) {
        void *p = gb_alloc(16 + (size_t)(i % 64));
        sink = p;
        gb_free(p);
    }
    (void)sink;
    gb_heap_destroy(heap);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "footprint") == 0) return footprint(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "request") == 0)
        return request(atoi(argv[2]), atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 5);
    if (argc >= 5 && strcmp(argv[1], "one") == 0) {
        int way = strcmp(argv[2], "heap") == 0 ? 0 : strcmp(argv[2], "gb") == 0   ? 1
                                                 : strcmp(argv[2], "malloc") == 0 ? 2
                                                                                  : -1;
        if (way < 0) return 2;
        return one_way(way, atoi(argv[3]), atoi(argv[4]));
    }
    if (argc >= 3 && strcmp(argv[1], "pairs") == 0)
        return pairs(atol(argv[2]), argc > 3 && strcmp(argv[3], "live") == 0);
    fprintf(stderr, "usage: %s footprint N | request R B [ROUNDS] | one heap|gb|malloc R B | pairs N [live]\n",
            argv[0]);
    return 2;
}
