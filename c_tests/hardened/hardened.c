/* The hardened override (libgraphbit_alloc_override_hardened.so), from the
 * outside: run as `hardened CASE` with the library preloaded (or linked
 * first) and GB_HARDENED_SAMPLE set by tests/hardened.sh, which checks the
 * exit status and the one line on stderr of each case.
 *
 * Cases that must be stopped (SIGABRT, one line naming the block):
 *   overflow        malloc(4096), write 1 byte past its end (the guard page)
 *   overflow-read   malloc(4096), read 1 byte past its end
 *   overflow-new    operator new[](256), write 1 byte past its end
 *   uaf-read        malloc(64), free, read it
 *   uaf-write       malloc(64), free, write it
 *   uaf-realloc     realloc moves a sampled block; write the old one
 *   slack           malloc(13), write byte 13 (in the slot, not the guard
 *                   page): caught by free
 *   underflow       malloc(64), write byte -1: caught by free
 *   double-free     free twice
 *   eventually      at the default rate: a loop of malloc(64), read and
 *                   write one byte past its end, free; must be caught
 *                   (prints the iterations done on stdout every 10000)
 * Cases that must run to the end (exit 0, nothing on stderr):
 *   api             every malloc-family function and their results, and
 *                   the gb_* API of the preloaded library
 *   threads         8 threads allocating, filling, checking, freeing
 *   fork            fork with sampled blocks live, both sides use them
 *   null            a NULL dereference: the default SIGSEGV death
 *                   (tests/hardened.sh expects signal 11, no hardened line) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Keeps the compiler from removing or moving the accesses. */
static volatile unsigned char sink;

static void *opaque(void *p) {
    __asm__ volatile(""
                     : "+r"(p));
    return p;
}

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stdout, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

static int api(void) {
    /* Sizes across the slot limit (16 KiB with 4 KiB pages). */
    size_t sizes[] = {0, 1, 8, 13, 16, 64, 100, 4095, 4096, 4097, 16384, 16385, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *p = opaque(malloc(n));
        CHECK(p != NULL);
        /* glibc's 16 bytes, except jemalloc's 8 for malloc(1..8)
         * (docs/whole-process.md). */
        CHECK(((uintptr_t)p & (n <= 8 ? 7 : 15)) == 0);
        CHECK(malloc_usable_size(p) >= n);
        memset(p, 0x5a, n);
        unsigned char *z = opaque(calloc(1, n));
        CHECK(z != NULL);
        for (size_t j = 0; j < n; j++) CHECK(z[j] == 0);
        /* realloc keeps the bytes, growing and shrinking. */
        unsigned char *q = opaque(realloc(p, n + 5000));
        CHECK(q != NULL);
        for (size_t j = 0; j < n; j++) CHECK(q[j] == 0x5a);
        q = opaque(realloc(q, n / 2 + 1));
        CHECK(q != NULL);
        for (size_t j = 0; j < n / 2 + 1 && j < n; j++) CHECK(q[j] == 0x5a);
        free(q);
        free(z);
    }
    for (size_t a = 1; a <= 65536; a *= 2) {
        void *p = NULL;
        if (a >= sizeof(void *)) {
            CHECK(posix_memalign(&p, a, 100) == 0);
            CHECK(((uintptr_t)p & (a - 1)) == 0);
            memset(p, 1, 100);
            free(p);
        }
        p = opaque(memalign(a, 3000));
        CHECK(p != NULL && ((uintptr_t)p & (a - 1)) == 0);
        memset(p, 2, 3000);
        free(p);
        p = opaque(aligned_alloc(a, 64));
        CHECK(p != NULL && ((uintptr_t)p & (a - 1)) == 0);
        free(p);
    }
    void *v = opaque(valloc(100));
    CHECK(v != NULL && ((uintptr_t)v & 4095) == 0);
    free(v);
    /* Failures keep glibc's answers. */
    volatile size_t huge = SIZE_MAX;
    errno = 0;
    CHECK(opaque(malloc(huge)) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(opaque(calloc(huge / 2, 3)) == NULL && errno == ENOMEM);
    /* errno survives a free. */
    void *e = opaque(malloc(10));
    errno = 1234;
    free(e);
    CHECK(errno == 1234);
    free(NULL);
    CHECK(realloc(opaque(malloc(10)), 0) == NULL);
    /* Many live sampled blocks at once, more than the pool holds: the
     * rest come from the backend, and all work. */
    enum { LIVE = 3000 };
    static unsigned char *live[LIVE];
    for (int i = 0; i < LIVE; i++) {
        live[i] = opaque(malloc(48));
        CHECK(live[i] != NULL);
        memset(live[i], i & 0xff, 48);
    }
    for (int i = 0; i < LIVE; i++) {
        for (int j = 0; j < 48; j++) CHECK(live[i][j] == (i & 0xff));
        free(live[i]);
    }
    /* The prefixed API of the preloaded library: its blocks are sampled as
     * malloc's are, and gb_free, gb_free_sized, gb_free_aligned_sized and
     * gb_realloc free them in the pool (gb_free handed them to the backend,
     * which crashed). */
    void *(*gb_alloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "gb_alloc");
    void *(*gb_aligned_alloc)(size_t, size_t) =
        (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "gb_aligned_alloc");
    void *(*gb_realloc)(void *, size_t) = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "gb_realloc");
    void (*gb_free)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "gb_free");
    void (*gb_free_sized)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "gb_free_sized");
    void (*gb_free_aligned_sized)(void *, size_t, size_t) =
        (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "gb_free_aligned_sized");
    CHECK(gb_alloc && gb_aligned_alloc && gb_realloc && gb_free && gb_free_sized && gb_free_aligned_sized);
    for (int i = 0; i < 100; i++) {
        unsigned char *p = opaque(gb_alloc(64));
        CHECK(p != NULL);
        memset(p, 3, 64);
        gb_free(p);
        p = opaque(gb_alloc(100));
        CHECK(p != NULL);
        gb_free_sized(p, 100);
        p = opaque(gb_aligned_alloc(256, 512));
        CHECK(p != NULL && ((uintptr_t)p & 255) == 0);
        gb_free_aligned_sized(p, 256, 512);
        p = opaque(gb_alloc(32));
        CHECK(p != NULL);
        memset(p, 4, 32);
        p = opaque(gb_realloc(p, 5000));
        CHECK(p != NULL && p[31] == 4);
        gb_free(p);
    }
    puts("api ok");
    return 0;
}

static void *worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    enum { SLOTS = 64 };
    unsigned char *blocks[SLOTS] = {0};
    size_t sizes[SLOTS] = {0};
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        int k = (seed >> 16) % SLOTS;
        if (blocks[k]) {
            for (size_t j = 0; j < sizes[k]; j++)
                if (blocks[k][j] != (unsigned char)(k + sizes[k])) {
                    fprintf(stdout, "FAIL: thread block changed\n");
                    exit(1);
                }
            free(blocks[k]);
            blocks[k] = NULL;
        } else {
            sizes[k] = (seed >> 8) % 5000;
            blocks[k] = malloc(sizes[k]);
            if (!blocks[k]) exit(1);
            memset(blocks[k], (unsigned char)(k + sizes[k]), sizes[k]);
        }
    }
    for (int k = 0; k < SLOTS; k++) free(blocks[k]);
    return NULL;
}

static int threads(void) {
    pthread_t t[8];
    for (int i = 0; i < 8; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    for (int i = 0; i < 8; i++) CHECK(pthread_join(t[i], NULL) == 0);
    puts("threads ok");
    return 0;
}

static int forked(void) {
    unsigned char *p = opaque(malloc(100));
    memset(p, 7, 100);
    /* Another thread allocating while this one forks. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, (void *)(uintptr_t)99) == 0);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            for (int j = 0; j < 100; j++)
                if (p[j] != 7) _exit(2);
            free(p);
            for (int i = 0; i < 1000; i++) {
                void *q = malloc((size_t)i);
                if (!q) _exit(3);
                memset(q, 1, (size_t)i);
                free(q);
            }
            _exit(0);
        }
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK(pthread_join(t, NULL) == 0);
    for (int j = 0; j < 100; j++) CHECK(p[j] == 7);
    free(p);
    puts("fork ok");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hardened CASE\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "overflow")) {
        unsigned char *p = opaque(malloc(4096));
        ((volatile unsigned char *)p)[4096] = 1;
    } else if (!strcmp(c, "overflow-read")) {
        unsigned char *p = opaque(malloc(4096));
        sink = p[4096];
    } else if (!strcmp(c, "uaf-read")) {
        unsigned char *p = opaque(malloc(64));
        free(p);
        sink = ((volatile unsigned char *)p)[10];
    } else if (!strcmp(c, "uaf-write")) {
        unsigned char *p = opaque(malloc(64));
        free(p);
        ((volatile unsigned char *)p)[10] = 1;
    } else if (!strcmp(c, "uaf-realloc")) {
        unsigned char *p = opaque(malloc(64));
        unsigned char *q = opaque(realloc(p, 6000));
        CHECK(q != p);
        ((volatile unsigned char *)p)[0] = 1;
    } else if (!strcmp(c, "slack")) {
        unsigned char *p = opaque(malloc(13));
        ((volatile unsigned char *)p)[13] = 1;
        free(opaque(p));
    } else if (!strcmp(c, "underflow")) {
        unsigned char *p = opaque(malloc(64));
        ((volatile unsigned char *)p)[-1] = 1;
        free(opaque(p));
    } else if (!strcmp(c, "double-free")) {
        void *p = opaque(malloc(64));
        free(p);
        free(p);
    } else if (!strcmp(c, "eventually")) {
        for (long i = 1; i <= 100000000; i++) {
            unsigned char *p = opaque(malloc(64));
            /* One byte past the end, every time: read and written back
             * unchanged, so that where the block was not sampled the
             * backend's next block (mimalloc keeps its free list there)
             * is not damaged; where it was, the read faults. */
            volatile unsigned char *v = p;
            v[64] = v[64];
            free(opaque(p));
            if (i % 10000 == 0) {
                printf("%ld\n", i);
                fflush(stdout);
            }
        }
    } else if (!strcmp(c, "api")) {
        return api();
    } else if (!strcmp(c, "threads")) {
        return threads();
    } else if (!strcmp(c, "fork")) {
        return forked();
    } else if (!strcmp(c, "null")) {
        sink = *(volatile unsigned char *)opaque(NULL);
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 2;
    }
    puts("not caught");
    return 1;
}
