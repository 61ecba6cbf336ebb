/* LD_PRELOAD shim for counting the per-CPU cache's instructions under
 * valgrind (gb-bench/scripts/percpu-workloads.sh). Valgrind does not
 * implement rseq, so glibc's registration fails there and cpu_id reads
 * negative: the cache would take its fallback. This writes cpu_id 0 into
 * the main thread's rseq area and into that of every thread the program
 * creates with pthread_create (glibc checks the creating thread's cpu_id to
 * decide whether a new thread must register, so it is put back to "failed"
 * around the real call).
 *
 * Sound only where one thread at a time allocates: valgrind runs one thread
 * at a time but may switch between them anywhere, and without rseq an
 * interrupted critical section is not restarted. Threads created other than
 * through this pthread_create (jemalloc's background thread, which looks it
 * up with dlsym(RTLD_NEXT)) abort in glibc: run with
 * _RJEM_MALLOC_CONF=background_thread:false. Never for production. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/rseq.h>

#define REGISTRATION_FAILED ((uint32_t)-2) /* glibc's RSEQ_CPU_ID_REGISTRATION_FAILED */

static struct rseq *area(void) {
    return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static void pretend(void) {
    if ((int32_t)area()->cpu_id < 0) area()->cpu_id = 0;
}

__attribute__((constructor)) static void pretend_main(void) { pretend(); }

struct start {
    void *(*fn)(void *);
    void *arg;
};

static void *trampoline(void *p) {
    struct start s = *(struct start *)p;
    free(p);
    pretend();
    return s.fn(s.arg);
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    if (real == NULL) real = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(RTLD_NEXT, "pthread_create");
    struct start *s = malloc(sizeof *s);
    if (s == NULL) return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    uint32_t saved = area()->cpu_id;
    area()->cpu_id = REGISTRATION_FAILED;
    int r = real(thread, attr, trampoline, s);
    area()->cpu_id = saved;
    if (r != 0) free(s);
    return r;
}
