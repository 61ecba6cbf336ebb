/* Side by side: the malloc family's edge cases under glibc and under
 * libgraphbit_alloc_override.so (tests/override.sh runs this program both
 * ways and compares the output line by line).
 *
 * Lines starting with "=" are the contract and must be identical under both;
 * lines starting with "~" report what differs by design (glibc's extensions
 * answered from the backend's figures, C23 functions glibc 2.36 lacks) and are
 * shown, not compared. Each line: the call, then the result (NULL / a block
 * with its alignment / a return value), then errno (SENTINEL when the call
 * left it alone). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SENTINEL 7777
#define HUGE_SIZE ((size_t)PTRDIFF_MAX + 1)

static const char *errno_name(int e) {
    switch (e) {
    case SENTINEL: return "untouched";
    case 0: return "0";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    default: return "other";
    }
}

/* A block's alignment, as the largest power of two dividing its address,
 * capped at `want` (so that the luck of a more aligned address is not a
 * difference): "aligned" if at least `want`. */
static void report_block(const char *what, void *p, int err, size_t want, size_t size) {
    if (p == NULL) {
        printf("= %-44s NULL errno=%s\n", what, errno_name(err));
        return;
    }
    int aligned = want == 0 || ((uintptr_t)p % want) == 0;
    int usable = malloc_usable_size(p) >= size;
    memset(p, 0x5A, size);
    printf("= %-44s block aligned(%zu)=%s usable>=%zu=%s errno=%s\n", what, want,
           aligned ? "yes" : "NO", size, usable ? "yes" : "NO", errno_name(err));
}

#define ROW(want, size, expr)                                                   \
    do {                                                                        \
        errno = SENTINEL;                                                       \
        void *p_ = (expr);                                                      \
        int e_ = errno;                                                         \
        report_block(#expr, p_, e_, (want), (size));                           \
        free(p_);                                                               \
    } while (0)

static size_t pow2_at_least(size_t a) {
    size_t p = 1;
    while (p < a && p != 0) p <<= 1;
    return p;
}

int main(void) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* malloc */
    ROW(0, 0, malloc(0));
    ROW(16, 24, malloc(24));
    ROW(0, 0, malloc(HUGE_SIZE));
    ROW(0, 0, malloc(SIZE_MAX));
    /* calloc */
    ROW(0, 0, calloc(0, 8));
    ROW(0, 0, calloc(8, 0));
    ROW(0, 0, calloc(SIZE_MAX / 2, 3));
    ROW(0, 0, calloc(1, HUGE_SIZE));
    ROW(0, 0, calloc(HUGE_SIZE, 1));
    {
        unsigned char *z = calloc(1000, 3);
        int zero = 1;
        for (size_t i = 0; i < 3000; i++) zero &= z[i] == 0;
        printf("= calloc(1000, 3) zeroed=%s\n", zero ? "yes" : "NO");
        free(z);
    }
    /* realloc */
    ROW(0, 0, realloc(NULL, 0));
    ROW(16, 100, realloc(NULL, 100));
    ROW(0, 0, realloc(NULL, HUGE_SIZE));
    {
        char *p = malloc(32);
        strcpy(p, "kept");
        errno = SENTINEL;
        void *q = realloc(p, 0);
        printf("= realloc(p, 0) %s errno=%s\n", q ? "block" : "NULL", errno_name(errno));
        free(q);

        p = malloc(32);
        strcpy(p, "kept");
        errno = SENTINEL;
        q = realloc(p, HUGE_SIZE);
        printf("= realloc(p, PTRDIFF_MAX+1) %s errno=%s old=%s\n", q ? "block" : "NULL",
               errno_name(errno), q ? "-" : p);
        errno = SENTINEL;
        q = realloc(p, SIZE_MAX);
        printf("= realloc(p, SIZE_MAX) %s errno=%s old=%s\n", q ? "block" : "NULL",
               errno_name(errno), q ? "-" : p);
        errno = SENTINEL;
        q = realloc(p, 100000);
        printf("= realloc(p, 100000) %s errno=%s contents=%s\n", q ? "block" : "NULL",
               errno_name(errno), q ? (char *)q : "-");
        free(q);
    }
    /* reallocarray */
    ROW(0, 0, reallocarray(NULL, SIZE_MAX / 2, 3));
    ROW(0, 0, reallocarray(NULL, 0, 8));
    ROW(16, 32, reallocarray(NULL, 4, 8));
    {
        char *p = malloc(16);
        strcpy(p, "kept");
        errno = SENTINEL;
        void *q = reallocarray(p, SIZE_MAX / 2, 3);
        printf("= reallocarray(p, overflow) %s errno=%s old=%s\n", q ? "block" : "NULL",
               errno_name(errno), q ? "-" : p);
        errno = SENTINEL;
        q = reallocarray(p, 0, 8);
        printf("= reallocarray(p, 0, 8) %s errno=%s\n", q ? "block" : "NULL", errno_name(errno));
        free(q);
    }
    /* memalign and aligned_alloc (the same function in glibc 2.36) */
    static const size_t alignments[] = {0, 1, 2, 3, 8, 16, 24, 32, 48, 64, 100, 4096, 65536,
                                        (size_t)1 << 20, (size_t)1 << 62, (size_t)1 << 63,
                                        ((size_t)1 << 63) + 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof alignments / sizeof alignments[0]; i++) {
        size_t a = alignments[i];
        size_t want = a <= 16 ? (a <= 1 ? 0 : pow2_at_least(a)) : pow2_at_least(a);
        char what[96];
        snprintf(what, sizeof what, "memalign(%zu, 10)", a);
        errno = SENTINEL;
        void *p = memalign(a, 10);
        report_block(what, p, errno, want, 10);
        free(p);
        snprintf(what, sizeof what, "aligned_alloc(%zu, 10)", a);
        errno = SENTINEL;
        p = aligned_alloc(a, 10);
        report_block(what, p, errno, want, 10);
        free(p);
    }
    ROW(64, 0, memalign(64, 0));
    ROW(0, 0, memalign(64, HUGE_SIZE));
    ROW(0, 0, memalign(64, PTRDIFF_MAX - 10));
    ROW(0, 0, aligned_alloc(4096, SIZE_MAX));
    /* posix_memalign */
    static const size_t pm_alignments[] = {0, 1, 4, 8, 12, 16, 24, 32, 4096, (size_t)1 << 62,
                                           (size_t)1 << 63, SIZE_MAX};
    for (size_t i = 0; i < sizeof pm_alignments / sizeof pm_alignments[0]; i++) {
        size_t a = pm_alignments[i];
        void *p = (void *)0x1234;
        errno = SENTINEL;
        int rc = posix_memalign(&p, a, 10);
        int e = errno;
        int aligned = rc == 0 && ((uintptr_t)p % a) == 0;
        printf("= posix_memalign(&p, %zu, 10) rc=%s p=%s errno=%s\n", a, errno_name(rc),
               rc == 0 ? (aligned ? "aligned" : "MISALIGNED")
                       : (p == (void *)0x1234 ? "untouched" : "WRITTEN"),
               errno_name(e));
        if (rc == 0) free(p);
    }
    {
        void *p = (void *)0x1234;
        errno = SENTINEL;
        int rc = posix_memalign(&p, 64, HUGE_SIZE);
        printf("= posix_memalign(&p, 64, PTRDIFF_MAX+1) rc=%s p=%s errno=%s\n", errno_name(rc),
               p == (void *)0x1234 ? "untouched" : "WRITTEN", errno_name(errno));
        errno = SENTINEL;
        rc = posix_memalign(&p, 64, 0);
        printf("= posix_memalign(&p, 64, 0) rc=%s errno=%s\n", errno_name(rc), errno_name(errno));
        if (rc == 0) free(p);
    }
    /* valloc, pvalloc */
    ROW(page, 10, valloc(10));
    ROW(page, 0, valloc(0));
    ROW(0, 0, valloc(HUGE_SIZE));
    ROW(page, page, pvalloc(10));
    ROW(page, 0, pvalloc(0));
    ROW(page, page + 1, pvalloc(page + 1));
    ROW(0, 0, pvalloc(SIZE_MAX));
    ROW(0, 0, pvalloc(HUGE_SIZE));
    /* malloc_usable_size, free */
    printf("= malloc_usable_size(NULL)=%zu\n", malloc_usable_size(NULL));
    {
        errno = SENTINEL;
        free(NULL);
        printf("= free(NULL) errno=%s\n", errno_name(errno));
        void *big = malloc(64 << 20), *small = malloc(40);
        memset(big, 1, 64 << 20);
        errno = SENTINEL;
        free(big);
        free(small);
        printf("= free(64 MiB block), free(40-byte block) errno=%s\n", errno_name(errno));
    }
    /* glibc's extensions */
    {
        struct mallinfo2 before = mallinfo2();
        void *blocks[10];
        for (int i = 0; i < 10; i++) {
            blocks[i] = malloc(1 << 20);
            memset(blocks[i], 1, 1 << 20);
        }
        struct mallinfo2 after = mallinfo2();
        size_t grew = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
        size_t held = after.arena + after.hblkhd;
        /* mimalloc counts committed memory, not live bytes: "in use" may not
         * grow when the blocks reuse memory it already holds, so the row asks
         * for at least the live bytes. */
        (void)grew;
        printf("= mallinfo2: in use (uordblks+hblkhd) >= 10 MiB while 10 MiB live=%s, held (arena+hblkhd) >= in use=%s\n",
               after.uordblks + after.hblkhd >= (10u << 20) ? "yes" : "NO",
               held >= after.uordblks + after.hblkhd ? "yes" : "NO");
        struct mallinfo old = mallinfo();
        printf("= mallinfo: in use > 10 MiB=%s\n",
               (size_t)old.uordblks + (size_t)old.hblkhd >= (10u << 20) ? "yes" : "NO");
        for (int i = 0; i < 10; i++) free(blocks[i]);
        printf("~ mallinfo2 arena=%zu uordblks=%zu fordblks=%zu hblkhd=%zu\n", after.arena,
               after.uordblks, after.fordblks, after.hblkhd);
        printf("~ malloc_trim(0)=%d\n", malloc_trim(0));
        printf("~ mallopt(M_ARENA_MAX, 2)=%d mallopt(M_MMAP_THRESHOLD, 1 MiB)=%d\n",
               mallopt(M_ARENA_MAX, 2), mallopt(M_MMAP_THRESHOLD, 1 << 20));
    }
    {
        /* The smallest blocks: glibc's are always 16-byte aligned; the
         * backends' 8-byte size class is 8-byte aligned, which is all C asks
         * of a block that can hold nothing larger than 8 bytes. Shown: the
         * fewest 16-byte-aligned blocks among 64 of each size. */
        for (size_t size = 1; size <= 16; size *= 2) {
            void *blocks[64];
            int aligned16 = 0, aligned8 = 0;
            for (int i = 0; i < 64; i++) {
                blocks[i] = malloc(size);
                aligned16 += blocks[i] && (uintptr_t)blocks[i] % 16 == 0;
                aligned8 += blocks[i] && (uintptr_t)blocks[i] % 8 == 0;
            }
            for (int i = 0; i < 64; i++) free(blocks[i]);
            if (size <= 8)
                printf("~ malloc(%zu): of 64 blocks, %d 8-byte aligned, %d 16-byte aligned\n", size,
                       aligned8, aligned16);
            else
                printf("= malloc(%zu): 64 blocks all 16-byte aligned=%s\n", size,
                       aligned16 == 64 ? "yes" : "NO");
        }
        /* A 1 TiB alignment: glibc refuses it (ENOMEM); the backends reserve
         * the address space (not memory) and succeed. */
        void *p = NULL;
        int rc = posix_memalign(&p, (size_t)1 << 40, 1);
        printf("~ posix_memalign(&p, 1 TiB, 1) rc=%s\n", errno_name(rc));
        if (rc == 0) free(p);
    }
    {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        int rc = malloc_info(0, f);
        fclose(f);
        printf("= malloc_info(0, f)=%d document starts <malloc version=\"1\">=%s ends </malloc>=%s\n",
               rc, strncmp(text, "<malloc version=\"1\">", 20) == 0 ? "yes" : "NO",
               len >= 10 && strcmp(text + len - 10, "</malloc>\n") == 0 ? "yes" : "NO");
        free(text);
        f = fopen("/dev/null", "w");
        errno = SENTINEL;
        rc = malloc_info(1, f);
        printf("= malloc_info(1, f)=%d errno=%s\n", rc, errno_name(errno));
        fclose(f);
    }
    /* C23's sized frees: glibc 2.36 has none; under the override they exist. */
    {
        void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
        void (*fas)(void *, size_t, size_t) =
            (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
        if (fs && fas) {
            errno = SENTINEL;
            fs(NULL, 8);
            fs(malloc(100), 100);
            fs(calloc(10, 10), 100);
            fs(malloc(0), 0);
            fas(NULL, 64, 8);
            fas(aligned_alloc(64, 100), 64, 100);
            fas(aligned_alloc(3, 100), 3, 100);
            fas(aligned_alloc(0, 100), 0, 100);
            fas(memalign(4096, 10), 4096, 10);
            printf("~ free_sized, free_aligned_sized: present, errno=%s\n", errno_name(errno));
        } else {
            printf("~ free_sized, free_aligned_sized: absent\n");
        }
    }
    return 0;
}
