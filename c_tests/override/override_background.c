/* How many threads a preloaded process has: after small allocations, then
 * after one block of 2 MiB. The override's jemalloc starts its background
 * thread only at the first request of 1 MiB or more
 * (src/backend/jemalloc_conf.c), so a process that never asks for one stays
 * single-threaded. Prints "THREADS_BEFORE THREADS_AFTER". */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static int threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int main(void) {
    for (int i = 1; i < 1000; i++) {
        char *volatile small = malloc((size_t)i * 100); /* up to ~100 KiB */
        if (!small) return 1;
        small[0] = 1;
        free(small);
    }
    int before = threads();
    char *volatile big = malloc(2 << 20);
    if (!big) return 1;
    big[0] = 1;
    free(big);
    printf("%d %d\n", before, threads());
    return 0;
}
