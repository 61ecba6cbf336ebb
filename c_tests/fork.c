/* fork() while other threads allocate: the child must be able to allocate
 * and exit cleanly (no lock left held by a thread that no longer exists),
 * many times over. An alarm turns a deadlock into a failure.
 *
 * mimalloc 3.3 registers no fork handlers: a child forked while another
 * thread holds one of its locks (seen: mi_page_map_lock) hangs at its first
 * allocation. With that backend the busy threads pause around each fork (a
 * documented limitation, README "Limitations", docs/reliability.md); the child still
 * inherits a heap that other threads used and must allocate from it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graphbit_alloc.h"
#include "gb_test.h"
#include "gb_child.h"

/* argv[1], if given, is the number of forks (default 200). */
enum { BUSY_THREADS = 3, FORKS = 200 };

static atomic_int stop = 0;
/* Held for reading by the busy threads while they allocate, for writing
 * around fork, only where the backend cannot fork while others allocate. */
static pthread_rwlock_t fork_guard = PTHREAD_RWLOCK_INITIALIZER;
static int quiesce = 0;

static void *busy(void *arg) {
    uint64_t seed = (uint64_t)(intptr_t)arg + 1;
    void *held[64] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        size_t i = (size_t)(gb_rand(&seed) % 64);
        if (quiesce) pthread_rwlock_rdlock(&fork_guard);
        gb_free(held[i]);
        held[i] = gb_alloc((size_t)(gb_rand(&seed) % 5000));
        if (held[i]) memset(held[i], 1, 16 < gb_usable_size(held[i]) ? 16 : gb_usable_size(held[i]));
        if (quiesce) pthread_rwlock_unlock(&fork_guard);
    }
    for (int i = 0; i < 64; i++) gb_free(held[i]);
    return NULL;
}

static int child_work(void) {
    alarm(20);
    for (int i = 0; i < 1000; i++) {
        unsigned char *p = gb_alloc((size_t)i * 37 % 9000);
        if (!p) return 2;
        gb_fill(p, (size_t)i * 37 % 9000, p);
        if (!gb_intact(p, (size_t)i * 37 % 9000, p)) return 3;
        gb_free(p);
    }
    void *big = gb_alloc(4 << 20);
    if (!big) return 4;
    gb_free(big);
    return 0;
}

int main(int argc, char **argv) {
    alarm(240);
    int forks = argc > 1 ? atoi(argv[1]) : FORKS;
    REQUIRE(forks > 0);
    quiesce = strcmp(gb_allocator_name(), "mimalloc") == 0;
    if (quiesce) {
        printf("fork: mimalloc has no fork handlers: busy threads pause around fork\n");
        /* Writer preference, so that the forking thread is not starved. */
        pthread_rwlockattr_t attr;
        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&fork_guard, &attr);
        pthread_rwlockattr_destroy(&attr);
    }
    pthread_t threads[BUSY_THREADS];
    for (int i = 0; i < BUSY_THREADS; i++)
        REQUIRE(pthread_create(&threads[i], NULL, busy, (void *)(intptr_t)i) == 0);
    int bad = 0;
    for (int i = 0; i < forks; i++) {
        if (quiesce) pthread_rwlock_wrlock(&fork_guard);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) _exit(child_work());
        if (quiesce) pthread_rwlock_unlock(&fork_guard);
        if (!gb_wait_child(pid, i)) bad++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < BUSY_THREADS; i++) pthread_join(threads[i], NULL);
    CHECK(bad == 0);
    /* The parent still works. */
    void *p = gb_alloc(100);
    CHECK(p != NULL);
    gb_free(p);
    return gb_test_finish("fork");
}
