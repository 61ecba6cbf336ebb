/* dlopen_tls_pressure FILLER.so DLOPEN_VARIANT.so DEFAULT.so
 * Loads FILLER (which uses most of glibc's static TLS reserve), then the
 * dlopen variant of graphbit-alloc, verifies it and allocates from 4 threads;
 * then tries the default (initial-exec) library and prints what happened. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void *(*gb_alloc_fn)(size_t);
static void (*gb_free_fn)(void *);

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        char *p = gb_alloc_fn(16 + (size_t)(i % 200));
        if (!p) return (void *)1;
        memset(p, 0x5A, 16);
        gb_free_fn(p);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s FILLER.so DLOPEN_VARIANT.so DEFAULT.so\n", argv[0]);
        return 2;
    }
    void *filler = dlopen(argv[1], RTLD_NOW);
    if (!filler) {
        fprintf(stderr, "filler: %s\n", dlerror());
        return 1;
    }
    char *(*touch)(void) = (char *(*)(void))dlsym(filler, "gb_tls_filler_touch");
    if (!touch || !touch()) return 1;

    void *lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen variant: %s\n", dlerror());
        return 1;
    }
    bool (*verify)(void) = (bool (*)(void))dlsym(lib, "gb_verify");
    gb_alloc_fn = (void *(*)(size_t))dlsym(lib, "gb_alloc");
    gb_free_fn = (void (*)(void *))dlsym(lib, "gb_free");
    if (!verify || !gb_alloc_fn || !gb_free_fn || !verify()) {
        fprintf(stderr, "dlopen variant: missing symbols or gb_verify() false\n");
        return 1;
    }
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&threads[i], NULL, worker, NULL) != 0) return 1;
    for (int i = 0; i < 4; i++) {
        void *result;
        pthread_join(threads[i], &result);
        if (result) return 1;
    }
    printf("dlopen variant: loaded, verified, 4 threads ok\n");

    void *initial_exec = dlopen(argv[3], RTLD_NOW | RTLD_LOCAL);
    if (initial_exec) printf("default library: loaded\n");
    else printf("default library: refused: %s\n", dlerror());
    return 0;
}
