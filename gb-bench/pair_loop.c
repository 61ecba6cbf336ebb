/* One loop of malloc+free pairs of 16-79 B blocks through function pointers,
 * for counting instructions per pair with callgrind (gb-bench/scripts/instructions.sh).
 *
 *   pair_loop PAIRS            the process's malloc/free (glibc, or a preload)
 *   pair_loop PAIRS gb         gb_alloc/gb_free, linked in (static or shared)
 *   pair_loop PAIRS LIB.so     gb_alloc/gb_free from LIB.so, loaded with dlopen
 *   pair_loop PAIRS libc calloc, pair_loop PAIRS gb calloc
 *                              calloc(1, n) (gb_calloc) instead of malloc
 *   pair_loop PAIRS libc large, pair_loop PAIRS gb large
 *                              large blocks instead: 20000 B, 64 KiB,
 *                              256 KiB and 1 MiB in turn
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PAIR_LOOP_GB
#include "graphbit_alloc.h"
#endif

typedef void *(*alloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void (*free_fn)(void *);

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PAIRS [gb | LIB.so | libc] [calloc]\n", argv[0]);
        return 2;
    }
    long pairs = atol(argv[1]);
    alloc_fn volatile alloc = malloc;
    calloc_fn volatile zeroed = calloc;
    free_fn volatile release = free;
    int use_calloc = argc > 3 && strcmp(argv[3], "calloc") == 0;
    int use_large = argc > 3 && strcmp(argv[3], "large") == 0;
    if (argc > 2 && strcmp(argv[2], "libc") == 0) {
        /* the process's, as without an argument */
    } else if (argc > 2 && strcmp(argv[2], "gb") == 0) {
#ifdef PAIR_LOOP_GB
        alloc = gb_alloc;
        zeroed = gb_calloc;
        release = gb_free;
#else
        fprintf(stderr, "built without graphbit-alloc\n");
        return 2;
#endif
    } else if (argc > 2) {
        void *lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        alloc = (alloc_fn)dlsym(lib, "gb_alloc");
        release = (free_fn)dlsym(lib, "gb_free");
        if (!alloc || !release) {
            fprintf(stderr, "dlsym: %s\n", dlerror());
            return 1;
        }
    }
    unsigned long sum = 0;
    if (use_calloc) { /* its own loop, so that the malloc loop's instructions stay the same */
        for (long i = 0; i < pairs; i++) {
            char *p = zeroed(1, 16 + (size_t)((i * 37) & 63));
            if (!p) return 1;
            sum += (unsigned char)p[1];
            release(p);
        }
        printf("%lu\n", sum);
        return 0;
    }
    if (use_large) { /* its own loop too */
        static const size_t sizes[4] = {20000, 65536, 262144, 1 << 20};
        for (long i = 0; i < pairs; i++) {
            char *p = alloc(sizes[i & 3]);
            if (!p) return 1;
            p[0] = (char)i;
            sum += (unsigned char)p[0];
            release(p);
        }
        printf("%lu\n", sum);
        return 0;
    }
    for (long i = 0; i < pairs; i++) {
        char *p = alloc(16 + (size_t)((i * 37) & 63));
        if (!p) return 1;
        p[0] = (char)i;
        sum += (unsigned char)p[0];
        release(p);
    }
    printf("%lu\n", sum);
    return 0;
}
