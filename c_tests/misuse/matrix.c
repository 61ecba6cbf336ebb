/* One heap misuse per run, for the side-by-side table of tests/misuse-matrix.sh
 * (as GrapheneOS hardened_malloc's test/ has one program per class):
 *
 *   misuse_matrix CASE SIZE [API]
 *
 * commits misuse CASE on blocks of SIZE bytes (8, 4096, 262144), through
 * the C library's functions (API "libc", the default: whatever malloc the
 * process has, so an LD_PRELOAD decides) or through graphbit-alloc's
 * prefixed API (API "gb": gb_alloc/gb_free/gb_free_sized from the library
 * named by GB_MISUSE_LIB, loaded with dlopen). Then it keeps using the heap
 * a little (so an allocator that notices late still can) and prints "silent"
 * and exits 0 if nothing stopped it. Caught means: killed by a signal with
 * a message on stderr. `misuse_matrix list` prints the cases.
 *
 * C++'s sized delete is called by its mangled names (_Znwm, _ZdlPvm), so that
 * this stays a C program; it is linked with the C++ runtime for them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *_Znwm(size_t size);
void _ZdlPvm(void *ptr, size_t size);

static void *(*x_malloc)(size_t) = malloc;
static void (*x_free)(void *) = free;
/* Sized free: C++ sized delete (libc), gb_free_sized (gb). */
static void *(*x_new)(size_t) = _Znwm;
static void (*x_free_sized)(void *, size_t) = _ZdlPvm;
static void *(*x_realloc)(void *, size_t) = realloc;

static char static_buffer[64];

/* Keeps the compiler from proving anything about the pointers. */
static void *volatile sink;

/* Allocates and frees a while: reuse of freed memory, and evictions from a
 * quarantine. */
static void churn(size_t size) {
    int rounds = size >= 65536 ? 300 : 70000;
    for (int i = 0; i < rounds; i++) {
        void *p = x_malloc(size);
        if (p == NULL) abort();
        ((volatile char *)p)[0] = 1;
        sink = p;
        x_free(p);
    }
}

static int run(const char *name, size_t size) {
    char stack_buffer[64];
    if (!strcmp(name, "double_free")) {
        char *p = x_malloc(size);
        x_free(p);
        x_free(p);
    } else if (!strcmp(name, "double_free_after_others")) {
        char *p = x_malloc(size), *q = x_malloc(size), *r = x_malloc(size);
        x_free(p);
        x_free(q);
        x_free(r);
        x_free(p);
    } else if (!strcmp(name, "double_free_after_reuse")) {
        char *p = x_malloc(size);
        x_free(p);
        /* The address is handed out again (without a quarantine): the
         * second free of p then frees one of these. They are kept. */
        for (int i = 0; i < 64; i++) sink = x_malloc(size);
        x_free(p);
    } else if (!strcmp(name, "free_stack")) {
        sink = stack_buffer;
        x_free(sink);
    } else if (!strcmp(name, "free_static")) {
        sink = static_buffer;
        x_free(sink);
    } else if (!strcmp(name, "realloc_stack")) {
        /* realloc of memory no allocator handed out (glibc: "realloc():
         * invalid pointer"). */
        sink = stack_buffer;
        sink = x_realloc(sink, size);
    } else if (!strcmp(name, "free_interior")) {
        char *p = x_malloc(size);
        x_free(p + size / 2);
    } else if (!strcmp(name, "free_far")) {
        /* Memory no allocator handed out: a page of its own. */
        char *page = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) return 2;
        x_free(page + 4096);
    } else if (!strcmp(name, "free_unaligned")) {
        char *p = x_malloc(size);
        x_free(p + 1);
    } else if (!strcmp(name, "wrong_size_delete")) {
        char *p = x_new(size);
        x_free_sized(p, size == 8 ? 4096 : 8);
        /* A wrong size class would be handed out next. */
        for (int i = 0; i < 8; i++) memset(sink = x_malloc(size == 8 ? 4096 : 8), 1, 8);
    } else if (!strcmp(name, "overflow_1")) {
        char *p = x_malloc(size);
        char *q = x_malloc(size);
        memset(p, 'A', size + 1);
        x_free(p);
        x_free(q);
    } else if (!strcmp(name, "overflow_32")) {
        char *p = x_malloc(size);
        char *q = x_malloc(size);
        memset(p, 'A', size + 32);
        x_free(p);
        x_free(q);
    } else if (!strcmp(name, "underflow")) {
        char *before = x_malloc(size);
        char *p = x_malloc(size);
        memset(p - 8, 'A', 8);
        x_free(p);
        x_free(before);
    } else if (!strcmp(name, "write_after_free")) {
        char *p = x_malloc(size);
        x_free(p);
        memset(p, 'A', size < 16 ? size : 16);
    } else if (!strcmp(name, "read_after_free")) {
        char *p = x_malloc(size);
        memset(p, 'A', size);
        x_free(p);
        volatile char c = p[size / 2];
        (void)c;
    } else {
        fprintf(stderr, "misuse_matrix: unknown case %s\n", name);
        return 2;
    }
    churn(size);
    churn(8);
    return 0;
}

static const char *const cases[] = {
    "double_free",
    "double_free_after_others",
    "double_free_after_reuse",
    "free_stack",
    "free_static",
    "realloc_stack",
    "free_interior",
    "free_far",
    "free_unaligned",
    "wrong_size_delete",
    "overflow_1",
    "overflow_32",
    "underflow",
    "write_after_free",
    "read_after_free",
};

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "list")) {
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) puts(cases[i]);
        return 0;
    }
    /* The backend of a preloaded graphbit-alloc override ("none" without one). */
    if (argc == 2 && !strcmp(argv[1], "backend")) {
        const char *(*name)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "gb_allocator_name");
        puts(name ? name() : "none");
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: misuse_matrix CASE SIZE [libc|gb] | misuse_matrix list | misuse_matrix backend\n");
        return 2;
    }
    if (argc > 3 && !strcmp(argv[3], "gb")) {
        const char *path = getenv("GB_MISUSE_LIB");
        void *lib = path ? dlopen(path, RTLD_NOW) : NULL;
        if (lib == NULL) {
            fprintf(stderr, "misuse_matrix: GB_MISUSE_LIB: %s\n", path ? dlerror() : "not set");
            return 2;
        }
        x_malloc = (void *(*)(size_t))dlsym(lib, "gb_alloc");
        x_free = (void (*)(void *))dlsym(lib, "gb_free");
        x_new = x_malloc;
        x_free_sized = (void (*)(void *, size_t))dlsym(lib, "gb_free_sized");
        x_realloc = (void *(*)(void *, size_t))dlsym(lib, "gb_realloc");
        if (!x_malloc || !x_free || !x_free_sized || !x_realloc) return 2;
    }
    int rc = run(argv[1], (size_t)strtoul(argv[2], NULL, 10));
    if (rc == 0) {
        printf("silent\n");
        fflush(stdout);
    }
    return rc;
}
