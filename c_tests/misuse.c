/* Misuse that checked mode (libgraphbit_alloc_checked) must catch: `misuse
 * CASE` prints the pointer it is about to misuse on stdout, then commits the
 * misuse. Against the checked library the process aborts with a one-line
 * message on stderr; the harness (tests/reliability.rs) checks the message
 * and the signal. `misuse ok` uses every function correctly and must exit 0
 * with checked mode on, and `misuse wrong_size` is harmless to the backends
 * (same size class), so it must exit 0 against the default library. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

static void show(const void *p) {
    printf("%p\n", p);
    fflush(stdout);
}

static void *correct_use_thread(void *arg) {
    (void)arg;
    uint64_t seed = 7;
    for (int i = 0; i < 20000; i++) {
        size_t size = (size_t)(gb_rand(&seed) % 3000);
        void *p = gb_alloc(size);
        void *q = gb_calloc(3, size);
        size_t alignment = (size_t)1 << (gb_rand(&seed) % 12);
        void *r = gb_aligned_alloc(alignment, size);
        REQUIRE(p && q && r);
        p = gb_realloc(p, size * 2);
        REQUIRE(p);
        gb_free_sized(p, size * 2);
        gb_free_sized(q, 3 * size);
        gb_free_aligned_sized(r, alignment, size);
    }
    return NULL;
}

static int correct_use(void) {
    void *p = gb_realloc(NULL, 10);
    REQUIRE(p);
    p = gb_realloc(p, 0);
    REQUIRE(p);
    gb_free_sized(p, 0);
    void *a = gb_aligned_alloc(4096, 10);
    REQUIRE(a);
    a = gb_realloc(a, 5000);
    REQUIRE(a);
    gb_free_sized(a, 5000);
    void *b = gb_aligned_alloc(64, 100);
    REQUIRE(b);
    gb_free_aligned_sized(b, 64, 100);
    /* A failed realloc leaves the block live and with its old size. */
    void *c = gb_alloc(77);
    REQUIRE(c);
    errno = 0;
    CHECK(gb_realloc(c, (size_t)PTRDIFF_MAX - 4096) == NULL);
    CHECK(errno == ENOMEM);
    gb_free_sized(c, 77);
    gb_free(NULL);
    gb_free_sized(NULL, 5);
    gb_free_aligned_sized(NULL, 3, 5);
    /* Sizes and alignments that cannot be right are ignored (the header says
     * so): the block is freed as by gb_free, in checked mode too. */
    void *s = gb_alloc(100);
    REQUIRE(s);
    gb_free_sized(s, SIZE_MAX);
    s = gb_alloc(100);
    REQUIRE(s);
    gb_free_sized(s, (size_t)PTRDIFF_MAX + 1);
    s = gb_aligned_alloc(64, 100);
    REQUIRE(s);
    gb_free_aligned_sized(s, 3, 100);
    s = gb_aligned_alloc(64, 100);
    REQUIRE(s);
    gb_free_aligned_sized(s, 64, SIZE_MAX);
    /* gb_lua_alloc after a shrink that kept the old block (it may, when the
     * memory cannot be had): Lua then frees it with the smaller size, which
     * is not the block's. The adapter frees unsized, so that is correct use. */
    void *l = gb_lua_alloc(NULL, NULL, 5 /* LUA_TTABLE */, 100000);
    REQUIRE(l);
    CHECK(gb_lua_alloc(NULL, l, 1000, 0) == NULL); /* Lua's osize is stale */
    l = gb_lua_alloc(NULL, NULL, 0, 64);
    REQUIRE(l);
    CHECK(gb_lua_alloc(NULL, l, 1, 0) == NULL);
    /* Addresses are reused after a free without being taken for double frees. */
    for (int i = 0; i < 100000; i++) gb_free(gb_alloc(48));
    pthread_t t[4];
    for (int i = 0; i < 4; i++) REQUIRE(pthread_create(&t[i], NULL, correct_use_thread, NULL) == 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    return gb_test_finish("misuse ok");
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    const char *c = argv[1];
    if (!strcmp(c, "ok")) return correct_use();

    void *p = gb_alloc(100);
    void *a = gb_aligned_alloc(64, 100);
    REQUIRE(p && a);
    /* Host blocks: memory graphbit-alloc never handed out. */
    void *host = malloc(100);
    void *host_aligned = NULL;
    REQUIRE(host && posix_memalign(&host_aligned, 64, 100) == 0);

    if (!strcmp(c, "foreign_free")) { show(host); gb_free(host); }
    else if (!strcmp(c, "foreign_free_sized")) { show(host); gb_free_sized(host, 100); }
    else if (!strcmp(c, "foreign_realloc")) { show(host); p = gb_realloc(host, 200); }
    else if (!strcmp(c, "foreign_free_aligned_sized")) { show(host_aligned); gb_free_aligned_sized(host_aligned, 64, 100); }
    else if (!strcmp(c, "double_free")) { gb_free(p); show(p); gb_free(p); }
    else if (!strcmp(c, "double_free_sized")) { gb_free_sized(p, 100); show(p); gb_free_sized(p, 100); }
    else if (!strcmp(c, "realloc_after_free")) { gb_free(p); show(p); p = gb_realloc(p, 200); }
    else if (!strcmp(c, "double_free_aligned_sized")) { gb_free_aligned_sized(a, 64, 100); show(a); gb_free_aligned_sized(a, 64, 100); }
    else if (!strcmp(c, "wrong_size")) { show(p); gb_free_sized(p, 99); return 0; }
    else if (!strcmp(c, "wrong_size_after_realloc")) { p = gb_realloc(p, 5000); REQUIRE(p); show(p); gb_free_sized(p, 100); }
    else if (!strcmp(c, "wrong_aligned_size")) { show(a); gb_free_aligned_sized(a, 64, 99); }
    else if (!strcmp(c, "wrong_alignment")) { show(a); gb_free_aligned_sized(a, 32, 100); }
    else if (!strcmp(c, "not_aligned_block")) { show(p); gb_free_aligned_sized(p, 16, 100); }
    else if (!strcmp(c, "aligned_free_sized")) { show(a); gb_free_sized(a, 100); }
    else if (!strcmp(c, "interior_pointer")) { show((char *)p + 16); gb_free((char *)p + 16); }
    else if (!strcmp(c, "interior_pointer_large")) {
        char *big = gb_alloc(1 << 20);
        REQUIRE(big);
        show(big + 65536);
        gb_free(big + 65536);
    }
    else { fprintf(stderr, "unknown case %s\n", c); return 2; }
    fprintf(stderr, "misuse %s was not detected\n", c);
    return 1;
}
