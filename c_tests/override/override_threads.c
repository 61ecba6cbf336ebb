/* Start-up and threading hazards under libgraphbit_alloc_override.so (run by
 * tests/override.sh with and without the preload; the output must match):
 * cross-thread frees, fork while other threads allocate (the child allocates,
 * then execs a child of its own, which inherits LD_PRELOAD), posix_spawn,
 * a storm of short-lived threads, and glibc's dynamic TLS: a dlopen-ed
 * library with a large __thread block (argv[1]), which glibc allocates with
 * malloc in every thread that touches it and frees at thread exit. And
 * allocation before any constructor: a .preinit_array function of the
 * program runs before the constructors of every shared library, the
 * override's (and libstdc++'s) included. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int early_blocks;
static void early(int argc, char **argv, char **envp) {
    (void)argc, (void)argv, (void)envp;
    char *p = malloc(100), *q = calloc(10, 10), *r = aligned_alloc(64, 64);
    p = realloc(p, 5000);
    early_blocks = (p != NULL) + (q != NULL) + (r != NULL);
    free(p), free(q), free(r);
}
__attribute__((section(".preinit_array"), used)) static void (*preinit)(int, char **, char **) = early;

#define THREADS 4
#define SLOTS 4096

static void *volatile slots[SLOTS];
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

static unsigned next(unsigned *state) {
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* Each thread allocates blocks of random sizes, fills them with a pattern
 * derived from their size, and frees what another thread left in a slot,
 * checking the pattern first. */
static void *churn(void *arg) {
    unsigned state = (unsigned)(uintptr_t)arg;
    long bad = 0;
    while (!stop) {
        size_t size = 1 + next(&state) % (next(&state) % 16 == 0 ? 300000 : 512);
        unsigned char *p = malloc(size + sizeof(size_t));
        memcpy(p, &size, sizeof size);
        memset(p + sizeof size, (int)(size & 0xFF), size);
        unsigned slot = next(&state) % SLOTS;
        pthread_mutex_lock(&slot_lock);
        unsigned char *old = slots[slot];
        slots[slot] = p;
        pthread_mutex_unlock(&slot_lock);
        if (old) {
            size_t old_size;
            memcpy(&old_size, old, sizeof old_size);
            for (size_t i = 0; i < old_size; i += 97)
                if (old[sizeof old_size + i] != (unsigned char)(old_size & 0xFF)) bad++;
            free(old);
        }
    }
    return (void *)bad;
}

static void *short_lived(void *arg) {
    char *s = strdup((const char *)arg);
    void *q = malloc(1000 + strlen(s));
    free(s);
    return q; /* freed by the joining thread */
}

typedef int (*touch_fn)(int);
static touch_fn touch_tls;
static void *tls_user(void *arg) {
    return (void *)(intptr_t)touch_tls((int)(intptr_t)arg);
}

int main(int argc, char **argv) {
    printf("allocation before constructors: %d of 3 blocks\n", early_blocks);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, churn, (void *)(uintptr_t)(i + 1));

    /* fork while the others allocate: the child allocates, then execs. */
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            char *buf = malloc(100000);
            memset(buf, 1, 100000);
            free(buf);
            char *blocks[100];
            for (int i = 0; i < 100; i++) blocks[i] = malloc((size_t)i * 100 + 1);
            for (int i = 0; i < 100; i++) free(blocks[i]);
            if (round % 5 == 0) {
                execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
                _exit(99);
            }
            _exit(7);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) {
            printf("fork round %d: child status %d\n", round, status);
            return 1;
        }
    }
    printf("fork: 20 children allocated, 4 exec-ed, all exited 7\n");

    pid_t spawned;
    char *spawn_argv[] = {"sh", "-c", "echo spawned child ran", NULL};
    fflush(stdout);
    if (posix_spawn(&spawned, "/bin/sh", NULL, NULL, spawn_argv, environ) == 0) {
        int status;
        waitpid(spawned, &status, 0);
        printf("posix_spawn: exit %d\n", WEXITSTATUS(status));
    }

    /* thread storm */
    long storm_ok = 0;
    for (int wave = 0; wave < 50; wave++) {
        pthread_t t[20];
        for (int i = 0; i < 20; i++) pthread_create(&t[i], NULL, short_lived, "thread storm");
        for (int i = 0; i < 20; i++) {
            void *q;
            pthread_join(t[i], &q);
            storm_ok += q != NULL;
            free(q);
        }
    }
    printf("thread storm: %ld of 1000 threads allocated\n", storm_ok);

    /* dynamic TLS of a dlopen-ed library, touched from new threads */
    if (argc > 1) {
        void *lib = dlopen(argv[1], RTLD_NOW);
        touch_tls = lib ? (touch_fn)dlsym(lib, "touch_tls") : NULL;
        if (touch_tls == NULL) {
            printf("dlopen %s failed\n", argv[1]);
            return 1;
        }
        long sum = touch_tls(1);
        for (int wave = 0; wave < 20; wave++) {
            pthread_t t[8];
            for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, tls_user, (void *)(intptr_t)(i + 2));
            for (int i = 0; i < 8; i++) {
                void *r;
                pthread_join(t[i], &r);
                sum += (intptr_t)r;
            }
        }
        printf("dynamic TLS: sum %ld\n", sum);
    }

    stop = 1;
    long bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(threads[i], &r);
        bad += (long)r;
    }
    for (int i = 0; i < SLOTS; i++) free(slots[i]);
    printf("cross-thread frees: %ld corrupted blocks\n", bad);
    return bad != 0;
}
