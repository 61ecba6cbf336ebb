/* One loop of alloc+free pairs of 16-79 B blocks through function pointers
 * (as bench/pair_loop.c), for counting instructions with callgrind
 * (bench/percpu.sh):
 *
 *   percpu_loop PAIRS gb              gb_alloc/gb_free (jemalloc's thread cache)
 *   percpu_loop PAIRS percpu-sized    the per-CPU cache, free with the size
 *   percpu_loop PAIRS percpu-unsized  the per-CPU cache, free without it
 *
 * Valgrind does not implement rseq, so glibc's registration fails there and
 * cpu_id is negative. To count the instructions of the cache's own path,
 * the loop then writes cpu_id 0 into its thread's rseq area before the first
 * call: no kernel ever reads it, the critical sections run straight through
 * (nothing restarts them), and the instructions executed are the ones a
 * registered thread executes when it is not interrupted. Outside valgrind
 * the area is left alone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>

#include "graphbit_alloc.h"

void *graphbit_percpu_alloc(size_t size);
void graphbit_percpu_free(void *ptr);
void graphbit_percpu_free_sized(void *ptr, size_t size);

typedef void *(*alloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void (*free_sized_fn)(void *, size_t);

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PAIRS gb|percpu-sized|percpu-unsized\n", argv[0]);
        return 2;
    }
    long pairs = atol(argv[1]);
    struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
    if ((int32_t)rs->cpu_id < 0) rs->cpu_id = 0; /* valgrind: see above */
    alloc_fn volatile alloc = gb_alloc;
    free_fn volatile release = gb_free;
    free_sized_fn volatile release_sized = NULL;
    if (strcmp(argv[2], "percpu-sized") == 0) {
        alloc = graphbit_percpu_alloc;
        release_sized = graphbit_percpu_free_sized;
    } else if (strcmp(argv[2], "percpu-unsized") == 0) {
        alloc = graphbit_percpu_alloc;
        release = graphbit_percpu_free;
    } else if (strcmp(argv[2], "gb") != 0) {
        fprintf(stderr, "unknown mode %s\n", argv[2]);
        return 2;
    }
    unsigned long sum = 0;
    for (long i = 0; i < pairs; i++) {
        size_t size = 16 + (size_t)(i & 63);
        char *p = alloc(size);
        if (p == NULL) return 1;
        p[0] = (char)i;
        sum += (unsigned char)p[0];
        if (release_sized) release_sized(p, size);
        else release(p);
    }
    printf("%lu\n", sum);
    return 0;
}
