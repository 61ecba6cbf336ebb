/* Whole-process mode as a program gets it: linked first (CMake
 * GraphBitAlloc::override, or -lgraphbit_alloc_override), linked whole into
 * the program (GraphBitAlloc::override_static), or preloaded into a program
 * that links the prefixed library (LD_PRELOAD=libgraphbit_alloc_override.so).
 *
 *   override_linked WHERE
 *
 * WHERE is the object that must serve malloc and gb_alloc: a part of its
 * file name ("libgraphbit_alloc_override"), or "main" for the program
 * itself. Checks that every block of the malloc family and of the C
 * library's own allocating functions (strdup, getline, open_memstream) is
 * the backend's, that gb_* and malloc share one heap (blocks cross both
 * ways), and that gb_verify() proves override mode. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

/* Blocks cross between gb_* and malloc on purpose: the point of the test. */
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"

static const char *object_of(void *address) {
    Dl_info info;
    if (!address || !dladdr(address, &info) || !info.dli_fname) return "(none)";
    return info.dli_fname;
}

/* The object that defines `symbol` in the process's lookup order. A program
 * linked with the static archive exports only the functions shared
 * libraries call (the malloc family), not gb_*: for those, `own` (the
 * function's address as the program sees it) tells. */
static const char *object_serving(const char *symbol, void *own) {
    void *address = dlsym(RTLD_DEFAULT, symbol);
    return object_of(address ? address : own);
}

static int served_by(const char *symbol, void *own, const char *where) {
    const char *object = object_serving(symbol, own);
    /* The program itself has an empty name in dladdr, or its path. */
    int ok = strcmp(where, "main") == 0
                 ? (object[0] == '\0' || strstr(object, "override_linked") != NULL)
                 : strstr(object, where) != NULL;
    if (!ok) fprintf(stderr, "%s is served by '%s', expected '%s'\n", symbol, object, where);
    return ok;
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    const char *where = argv[1];
    CHECK(served_by("malloc", NULL, where));
    CHECK(served_by("free", NULL, where));
    CHECK(served_by("posix_memalign", NULL, where));
    CHECK(served_by("gb_alloc", (void *)gb_alloc, where));

    void *m = malloc(100), *c = calloc(10, 10), *r = realloc(NULL, 300);
    void *a = aligned_alloc(64, 128), *p = NULL;
    CHECK(posix_memalign(&p, 256, 100) == 0);
    char *s = strdup("graphbit-alloc");
    CHECK(gb_owns(m) && gb_owns(c) && gb_owns(r) && gb_owns(a) && gb_owns(p) && gb_owns(s));
    CHECK(malloc_usable_size(m) == gb_usable_size(m));
    free(m), free(c), free(r), free(a), free(p), free(s);

    /* Allocated inside the C library, released by the program. */
    FILE *in = fmemopen("one line\n", 9, "r");
    REQUIRE(in != NULL);
    char *line = NULL;
    size_t capacity = 0;
    CHECK(getline(&line, &capacity, in) == 9 && gb_owns(line));
    free(line);
    fclose(in);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    REQUIRE(out != NULL);
    for (int i = 0; i < 1000; i++) fprintf(out, "%d,", i);
    fclose(out);
    CHECK(len > 3000 && gb_owns(text));
    free(text);

    /* One heap: blocks cross between the prefixed API and malloc. */
    void *g = gb_alloc(1000);
    CHECK(g != NULL);
    g = realloc(g, 5000);
    CHECK(g != NULL && gb_owns(g));
    free(g);
    m = malloc(1000);
    CHECK(m != NULL);
    m = gb_realloc(m, 9000);
    CHECK(m != NULL);
    gb_free(m);

    /* gb_verify proves override mode (host_malloc_captured passes). */
    CHECK(gb_verify());
    char report[16384];
    size_t need = gb_verify_report(report, sizeof report);
    REQUIRE(need < sizeof report);
    int captured = strstr(report, "{\"name\":\"host_malloc_captured\",\"passed\":true") != NULL;
    CHECK(captured);
    if (!captured) fprintf(stderr, "%s\n", report);
    printf("override_linked: malloc and gb_alloc served by %s (%s)\n", object_serving("malloc", NULL),
           gb_allocator_name());
    return gb_test_finish("override_linked");
}
