/* The library loaded at run time with dlopen (as Python's ctypes does),
 * used from several threads, dlclose-d while a thread that used it is still
 * alive, and that thread then exits (running the backend's per-thread
 * destructors). Repeated, to catch a library that really unloads.
 * Usage: dlopen <path to libgraphbit_alloc.so> */
#include <dlfcn.h>
#include <pthread.h>

#include "gb_test.h"

typedef void *(*alloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef int (*verify_fn)(void);

static alloc_fn lib_alloc;
static free_fn lib_free;
static pthread_barrier_t used, closed;

static void *user_thread(void *arg) {
    (void)arg;
    void *p = lib_alloc(1000);
    void *q = lib_alloc(100000);
    if (p) memset(p, 1, 1000);
    lib_free(p);
    lib_free(q);
    pthread_barrier_wait(&used);
    pthread_barrier_wait(&closed); /* the main thread has called dlclose */
    return p ? NULL : (void *)1;   /* thread exit: the backend's TSD destructors run */
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    for (int round = 0; round < 5; round++) {
        void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            fprintf(stderr, "dlopen failed: %s\n", dlerror());
            return 1;
        }
        lib_alloc = (alloc_fn)dlsym(lib, "gb_alloc");
        lib_free = (free_fn)dlsym(lib, "gb_free");
        verify_fn verify = (verify_fn)dlsym(lib, "gb_verify");
        const char *(*name)(void) = (const char *(*)(void))dlsym(lib, "gb_allocator_name");
        REQUIRE(lib_alloc && lib_free && verify && name);
        CHECK(verify());
        if (round == 0) printf("dlopen: backend %s\n", name());

        pthread_barrier_init(&used, NULL, 2);
        pthread_barrier_init(&closed, NULL, 2);
        pthread_t thread;
        REQUIRE(pthread_create(&thread, NULL, user_thread, NULL) == 0);
        pthread_barrier_wait(&used);
        CHECK(dlclose(lib) == 0);
        pthread_barrier_wait(&closed);
        void *result = NULL;
        pthread_join(thread, &result);
        CHECK(result == NULL);
        pthread_barrier_destroy(&used);
        pthread_barrier_destroy(&closed);
    }
    return gb_test_finish("dlopen");
}
