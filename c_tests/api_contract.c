/* The C API contract, row by row (README "API" contract table). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

#ifndef GB_EXPECT_BACKEND
#error "compile with -DGB_EXPECT_BACKEND=\"jemalloc\" (or mimalloc, system)"
#endif

#define TOO_BIG ((size_t)PTRDIFF_MAX + 1)

/* Calls EXPR expecting NULL with errno == CODE. */
#define CHECK_FAILS_WITH(EXPR, CODE)       \
    do {                                   \
        errno = 0;                         \
        void *result_ = (EXPR);            \
        CHECK(result_ == NULL);            \
        CHECK(errno == (CODE));            \
        if (result_) gb_free(result_);     \
    } while (0)

static void test_identity(void) {
    CHECK(strcmp(gb_allocator_name(), GB_EXPECT_BACKEND) == 0);
    CHECK(gb_allocator_version() != NULL && strlen(gb_allocator_version()) > 0);
    CHECK(strcmp(gb_version(), GB_VERSION_STRING) == 0);
    CHECK(gb_version_number() == GB_VERSION_NUMBER);
    CHECK(GB_VERSION_NUMBER == GB_VERSION_MAJOR * 10000 + GB_VERSION_MINOR * 100 + GB_VERSION_PATCH);
    /* Static strings: the same pointer every time. */
    CHECK(gb_allocator_name() == gb_allocator_name());
    CHECK(gb_allocator_version() == gb_allocator_version());
    CHECK(gb_verify());
}

static void test_zero_sizes(void) {
    void *a = gb_alloc(0), *b = gb_alloc(0);
    CHECK(a != NULL && b != NULL && a != b);
    void *c = gb_calloc(0, 16), *d = gb_calloc(16, 0), *e = gb_calloc(0, 0);
    CHECK(c != NULL && d != NULL && e != NULL);
    CHECK(c != d && d != e && c != e && c != a && c != b);
    gb_free(a);
    gb_free_sized(b, 0);
    gb_free(c);
    gb_free(d);
    gb_free_sized(e, 0);
}

static void test_too_big(void) {
    const size_t sizes[] = {TOO_BIG, TOO_BIG + 1, SIZE_MAX / 2 + 12345, SIZE_MAX - 4096, SIZE_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        CHECK_FAILS_WITH(gb_alloc(n), ENOMEM);
        CHECK_FAILS_WITH(gb_calloc(1, n), ENOMEM);
        CHECK_FAILS_WITH(gb_calloc(n, 1), ENOMEM);
        CHECK_FAILS_WITH(gb_realloc(NULL, n), ENOMEM);
        CHECK_FAILS_WITH(gb_aligned_alloc(16, n), ENOMEM);
        CHECK_FAILS_WITH(gb_aligned_alloc(4096, n), ENOMEM);

        char *p = gb_alloc(64);
        REQUIRE(p != NULL);
        gb_fill(p, 64, p);
        CHECK_FAILS_WITH(gb_realloc(p, n), ENOMEM);
        CHECK(gb_intact(p, 64, p)); /* old block intact and still ours */
        gb_free(p);
    }
    /* An alignment above PTRDIFF_MAX, and size rounded up past it. */
    CHECK_FAILS_WITH(gb_aligned_alloc(TOO_BIG, 1), ENOMEM);
    CHECK_FAILS_WITH(gb_aligned_alloc((size_t)1 << 62, (size_t)1 << 62 | 1), ENOMEM);
}

static void test_calloc_overflow(void) {
    CHECK_FAILS_WITH(gb_calloc(SIZE_MAX / 2, 3), ENOMEM);
    CHECK_FAILS_WITH(gb_calloc((size_t)1 << 32, (size_t)1 << 32), ENOMEM);
    CHECK_FAILS_WITH(gb_calloc(SIZE_MAX, SIZE_MAX), ENOMEM);
    CHECK_FAILS_WITH(gb_calloc((size_t)PTRDIFF_MAX / 2 + 1, 2), ENOMEM);
}

static bool all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void test_calloc_zeroes_reused_memory(void) {
    const size_t sizes[] = {1, 8, 24, 100, 512, 4000, 16384, 65536, 200000, 1 << 21, 5 << 20};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            /* Dirty blocks of this size, free them, then calloc the same size. */
            void *dirty[8];
            for (int k = 0; k < 8; k++) {
                dirty[k] = gb_alloc(n);
                REQUIRE(dirty[k] != NULL);
                memset(dirty[k], 0xAB, gb_usable_size(dirty[k]));
            }
            for (int k = 0; k < 8; k++) gb_free(dirty[k]);
            for (int k = 0; k < 8; k++) {
                unsigned char *z = gb_calloc(1, n);
                REQUIRE(z != NULL);
                CHECK(all_zero(z, n));
                dirty[k] = z;
            }
            for (int k = 0; k < 8; k++) gb_free(dirty[k]);
            unsigned char *z = gb_calloc(n, 1);
            REQUIRE(z != NULL);
            CHECK(all_zero(z, n));
            gb_free(z);
        }
    }
}

/* Contents that do not depend on the block's size, so a prefix can be checked
 * after a resize. */
static void fill_stream(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = gb_pattern("stream", 0, i);
}
static bool stream_intact(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != gb_pattern("stream", 0, i)) return false;
    return true;
}

static void test_realloc(void) {
    /* realloc(NULL, n) allocates. */
    char *p = gb_realloc(NULL, 100);
    REQUIRE(p != NULL);
    CHECK(gb_usable_size(p) >= 100);
    memset(p, 7, 100);

    /* Growth and shrinking keep the contents. */
    fill_stream((unsigned char *)p, 100);
    const size_t steps[] = {1000, 5000, 100000, 3 << 20, 64, 10, 200};
    size_t kept = 100;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t n = steps[i];
        char *q = gb_realloc(p, n);
        REQUIRE(q != NULL);
        size_t common = kept < n ? kept : n;
        CHECK(stream_intact((unsigned char *)q, common));
        CHECK(gb_usable_size(q) >= n);
        fill_stream((unsigned char *)q, n);
        kept = n;
        p = q;
    }

    /* realloc(p, 0) frees p and returns a unique minimal live block. */
    void *m = gb_realloc(p, 0);
    CHECK(m != NULL);
    void *other = gb_alloc(0);
    CHECK(other != NULL && other != m);
    gb_free(other);
    gb_free(m);

    /* Failing realloc: NULL, ENOMEM, the old block intact and still owned. */
    char *keep = gb_alloc(256);
    REQUIRE(keep != NULL);
    gb_fill(keep, 256, keep);
    errno = 0;
    void *huge = gb_realloc(keep, (size_t)PTRDIFF_MAX); /* allowed size, cannot be had */
    CHECK(huge == NULL);
    CHECK(errno == ENOMEM);
    CHECK(gb_intact(keep, 256, keep));
    char *grown = gb_realloc(keep, 4096); /* still ours: can be resized and freed */
    REQUIRE(grown != NULL);
    CHECK(gb_intact(grown, 256, keep));
    gb_free(grown);
}

static void test_aligned(void) {
    const size_t bad[] = {0, 3, 6, 12, 24, 48, 100, 4095, 4097, (size_t)3 << 40, SIZE_MAX, TOO_BIG + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_FAILS_WITH(gb_aligned_alloc(bad[i], 64), EINVAL);
        CHECK_FAILS_WITH(gb_aligned_alloc(bad[i], 0), EINVAL);
    }
    const size_t sizes[] = {0, 1, 3, 7, 8, 40, 100, 1000, 4097, 20000, 300000};
    for (size_t a = 1; a <= ((size_t)4 << 20); a <<= 1) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            for (int how = 0; how < 2; how++) { /* C23: not gb_free_sized */
                unsigned char *p = gb_aligned_alloc(a, n);
                REQUIRE(p != NULL);
                CHECK(((uintptr_t)p & (a - 1)) == 0);
                CHECK(gb_usable_size(p) >= n);
                memset(p, 0x5A, gb_usable_size(p));
                if (how == 0) gb_free(p);
                else gb_free_aligned_sized(p, a, n);
            }
        }
    }
}

/* Sized frees (of aligned blocks, with their alignment) must leave the heap consistent:
 * afterwards, many live blocks of assorted sizes must not overlap and must
 * keep their contents. A wrong size class would hand out a block twice. */
static void test_sized_free_keeps_heap_consistent(void) {
    enum { N = 4000 };
    static unsigned char *blocks[N];
    static size_t sizes[N];
    uint64_t seed = 42;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = (size_t)(gb_rand(&seed) % 600);
            size_t a = (size_t)1 << (gb_rand(&seed) % 10); /* 1 .. 512 */
            if (i % 3 == 0) {
                unsigned char *p = gb_aligned_alloc(a, n);
                REQUIRE(p != NULL);
                gb_free_aligned_sized(p, a, n);
            } else {
                unsigned char *p = gb_alloc(n);
                REQUIRE(p != NULL);
                gb_free_sized(p, n);
            }
        }
        for (int i = 0; i < N; i++) {
            sizes[i] = 1 + (size_t)(gb_rand(&seed) % 600);
            blocks[i] = gb_alloc(sizes[i]);
            REQUIRE(blocks[i] != NULL);
            gb_fill(blocks[i], sizes[i], blocks[i]);
        }
        for (int i = 0; i < N; i++) CHECK(gb_intact(blocks[i], sizes[i], blocks[i]));
        for (int i = 0; i < N; i++) gb_free_sized(blocks[i], sizes[i]);
    }
}

static void test_free_null_and_errno(void) {
    gb_free(NULL);
    gb_free_sized(NULL, 0);
    gb_free_sized(NULL, 123);
    gb_free_sized(NULL, SIZE_MAX);
    gb_free_aligned_sized(NULL, 64, 64);

    const size_t sizes[] = {0, 1, 100, 5000, 70000, 1 << 20, 40 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *a = gb_alloc(sizes[i]), *b = gb_alloc(sizes[i]), *c = gb_aligned_alloc(256, sizes[i]);
        REQUIRE(a && b && c);
        errno = 4242;
        gb_free(a);
        CHECK(errno == 4242);
        gb_free_sized(b, sizes[i]);
        CHECK(errno == 4242);
        gb_free_aligned_sized(c, 256, sizes[i]);
        CHECK(errno == 4242);
        gb_free(NULL);
        CHECK(errno == 4242);
    }
    /* A size that cannot be right is ignored, not trusted. */
    void *p = gb_alloc(32);
    REQUIRE(p != NULL);
    gb_free_sized(p, SIZE_MAX);
    p = gb_aligned_alloc(64, 32);
    REQUIRE(p != NULL);
    gb_free_aligned_sized(p, 3, 32);
}

static void test_usable_size(void) {
    CHECK(gb_usable_size(NULL) == 0);
    for (size_t n = 0; n < 70000; n = n * 2 + 1) {
        unsigned char *p = gb_alloc(n);
        REQUIRE(p != NULL);
        size_t usable = gb_usable_size(p);
        CHECK(usable >= n);
        memset(p, 0xCD, usable); /* all of it writable */
        gb_free(p);
    }
}

int main(void) {
    test_identity();
    test_zero_sizes();
    test_too_big();
    test_calloc_overflow();
    test_calloc_zeroes_reused_memory();
    test_realloc();
    test_aligned();
    test_sized_free_keeps_heap_consistent();
    test_free_null_and_errno();
    test_usable_size();
    return gb_test_finish("api_contract");
}
