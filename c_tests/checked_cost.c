/* Measurement, not a test: the cost of one gb_alloc + gb_free pair (and of
 * gb_alloc + gb_free_sized), for comparing the checked library with the
 * default one, or two builds of the library. Run it under `valgrind --tool=callgrind` for
 * instruction counts that do not depend on the machine's load:
 *   checked_cost [PAIRS]   prints ns per pair (wall clock, noisy) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "graphbit_alloc.h"

int main(int argc, char **argv) {
    long pairs = argc > 1 ? atol(argv[1]) : 10000000;
    void *keep[64] = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < pairs; i++) {
        size_t slot = (size_t)i & 63, size = 16 + (size_t)(i & 7) * 8;
        if (i & 1) gb_free(keep[slot]);
        else gb_free_sized(keep[slot], 16 + (size_t)((i - 64) & 7) * 8);
        keep[slot] = gb_alloc(size);
        if (!keep[slot]) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int i = 0; i < 64; i++) gb_free(keep[i]);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)pairs;
    Dl_info where = {0};
    const char *library = dladdr((void *)gb_alloc, &where) && where.dli_fname ? where.dli_fname : "?";
    printf("checked_cost: %ld alloc+free pairs, %.1f ns per pair, gb_alloc from %s\n", pairs, ns,
           library);
    return 0;
}
