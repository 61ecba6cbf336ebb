/* LD_PRELOAD recorder of the sizes a program asks malloc for, over glibc's own
 * __libc_* functions (docs/memory.md, sqlite3): writes, at exit, the peak of
 * live requested bytes and, per 16-byte bucket, the blocks live at that peak
 * and all calls. Build: gcc -O2 -shared -fPIC request_sizes.c -o request_sizes.so
 * Run: SIZES_OUT=sizes.txt LD_PRELOAD=./request_sizes.so PROGRAM ARGS */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern void *__libc_malloc(size_t), *__libc_realloc(void *, size_t), *__libc_calloc(size_t, size_t);
extern void __libc_free(void *);
#define H 16
#define NB 4096 /* 16-byte buckets up to 64 KiB, the last is everything above */
static long live[NB], atpeak[NB], calls[NB];
static size_t cur, peak;
static int bucket(size_t n) {
    size_t b = (n + 15) / 16;
    return b >= NB ? NB - 1 : (int)b;
}
static void *note(char *p, size_t n) {
    if (!p) return NULL;
    *(size_t *)p = n;
    cur += n;
    live[bucket(n)]++;
    calls[bucket(n)]++;
    if (cur > peak) {
        peak = cur;
        memcpy(atpeak, live, sizeof live);
    }
    return p + H;
}
static void drop(void *q) {
    if (!q) return;
    size_t n = *(size_t *)((char *)q - H);
    cur -= n;
    live[bucket(n)]--;
}
void *malloc(size_t n) { return note(__libc_malloc(n + H), n); }
void *calloc(size_t a, size_t b) { return note(__libc_calloc(1, a * b + H), a * b); }
void free(void *q) {
    drop(q);
    if (q) __libc_free((char *)q - H);
}
void *realloc(void *q, size_t n) {
    if (!q) return malloc(n);
    drop(q);
    return note(__libc_realloc((char *)q - H, n + H), n);
}
size_t malloc_usable_size(void *q) { return q ? *(size_t *)((char *)q - H) : 0; }
/* Aligned requests are not recorded (the header would break the alignment):
 * a program that makes them stops here, rather than be measured wrongly. */
void *memalign(size_t a, size_t n) {
    (void)a;
    (void)n;
    fprintf(stderr, "memalign!\n");
    abort();
}
int posix_memalign(void **r, size_t a, size_t n) {
    (void)a;
    (void)n;
    (void)r;
    fprintf(stderr, "posix_memalign!\n");
    abort();
}
void *aligned_alloc(size_t a, size_t n) {
    (void)a;
    (void)n;
    fprintf(stderr, "aligned_alloc!\n");
    abort();
}
__attribute__((destructor)) static void report(void) {
    char *path = getenv("SIZES_OUT");
    FILE *f = fopen(path ? path : "/dev/stderr", "w");
    fprintf(f, "peak_live %zu\n", peak);
    for (int i = 0; i < NB; i++)
        if (atpeak[i] || calls[i]) fprintf(f, "%d %ld %ld\n", i * 16, atpeak[i], calls[i]);
    fclose(f);
}
