/* Soundness test of src/percpu/percpu.c (the per-CPU cache experiment):
 * every live block is filled with its own tag and checked before it is
 * freed, so a block handed out twice, or a slot lost or duplicated by a
 * critical section that was not restarted, shows up as a wrong tag.
 *
 *   threads   8 threads, blocks of 0 B - 5 KiB freed by the thread that
 *             allocated them or handed to the next thread
 *   repin     2 threads that move themselves to another CPU
 *             (sched_setaffinity) before every call
 *   signals   a 20 kHz SIGALRM interrupting two threads that share CPU 0
 *   first     in 40 fresh processes (forked before anything allocated), 8
 *             threads make their first allocations at once: set-up runs
 *             in several threads while others already refill
 *   fork      fork while 4 threads allocate; the child allocates and exits
 *
 * Build: gb-bench/scripts/percpu.sh (links target/release/libgraphbit_alloc.a). Run it
 * also with GLIBC_TUNABLES=glibc.pthread.rseq=0 and under valgrind (no rseq:
 * the fallback). Prints whether the cache was in use; exits non-zero on the
 * first failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

void *graphbit_percpu_alloc(size_t size);
void graphbit_percpu_free(void *ptr);
void graphbit_percpu_free_sized(void *ptr, size_t size);
void graphbit_percpu_note(void *block, size_t size);
void *graphbit_percpu_alloc_aligned(size_t alignment, size_t size);
void graphbit_percpu_flush(void);
size_t _rjem_sallocx(const void *ptr, int flags);
size_t _rjem_nallocx(size_t size, int flags);
void *_rjem_calloc(size_t count, size_t size);
void *_rjem_malloc(size_t size);
void *_rjem_realloc(void *ptr, size_t size);
void *_rjem_mallocx(size_t size, int flags);
#define ALIGN_64 6 /* MALLOCX_LG_ALIGN(6); MALLOCX_LG_ALIGN(la) is la */

static atomic_ulong next_tag = 1;

#define FAIL(...)                                     \
    do {                                              \
        fprintf(stderr, "percpu_test: " __VA_ARGS__); \
        fputc('\n', stderr);                          \
        _exit(1);                                     \
    } while (0)

typedef struct {
    unsigned char *ptr;
    size_t size;
    unsigned char tag;
    unsigned char aligned; /* log2 of an aligned request's alignment, or 0:
                              freed without the size */
} block_t;

/* One allocation in four takes one of the library's other paths in a
 * GB_PERCPU build: gb_calloc and gb_realloc (jemalloc's entry point, then
 * graphbit_percpu_note), gb_alloc_aligned (the cache, or jemalloc and the
 * note), and an aligned block noted as unknown. */
static unsigned char *other_path(size_t size, uint64_t r, unsigned char *aligned) {
    void *p;
    switch (r % 4) {
    case 0:
        p = _rjem_calloc(1, size);
        graphbit_percpu_note(p, size);
        return p;
    case 1:
        p = _rjem_malloc(size / 2);
        graphbit_percpu_note(p, size / 2);
        p = _rjem_realloc(p, size ? size : 1);
        graphbit_percpu_note(p, size ? size : 1);
        return p;
    case 2: /* gb_alloc_aligned: alignments of 8 B to 4 KiB */
        *aligned = (unsigned char)(3 + (r >> 2) % 10);
        return graphbit_percpu_alloc_aligned((size_t)1 << *aligned, size);
    default: /* noted as unknown */
        p = _rjem_mallocx(size ? size : 1, ALIGN_64);
        graphbit_percpu_note(p, SIZE_MAX);
        *aligned = ALIGN_64;
        return p;
    }
}

static block_t make(size_t size) {
    unsigned tag = atomic_fetch_add(&next_tag, 1);
    block_t b = {NULL, size, (unsigned char)(tag | 1), 0};
    uint64_t r = (uint64_t)tag * 0x9E3779B97F4A7C15ull >> 32;
    b.ptr = r % 4 == 0 ? other_path(size, r >> 2, &b.aligned) : graphbit_percpu_alloc(size);
    if (b.ptr == NULL) FAIL("alloc(%zu) returned NULL", size);
    if (((uintptr_t)b.ptr & 15) != 0 && size > 8) FAIL("alloc(%zu) misaligned %p", size, (void *)b.ptr);
    /* The block is of the class jemalloc gives the size: a block cached
     * under the wrong class (its page's class misread) would show here. */
    size_t usable = _rjem_sallocx(b.ptr, 0),
           expected = _rjem_nallocx(size ? size : 1, b.aligned);
    if (b.aligned && ((uintptr_t)b.ptr & (((uintptr_t)1 << b.aligned) - 1)) != 0)
        FAIL("aligned(%zu, %zu) gave %p", (size_t)1 << b.aligned, size, (void *)b.ptr);
    if (usable != expected) FAIL("alloc(%zu) gave a block of %zu B, not %zu", size, usable, expected);
    memset(b.ptr, b.tag, size);
    return b;
}

static void check_and_free(block_t b, int sized) {
    for (size_t i = 0; i < b.size; i++)
        if (b.ptr[i] != b.tag) FAIL("block %p of %zu B: byte %zu is %u, not %u", (void *)b.ptr, b.size, i, b.ptr[i], b.tag);
    int saved = errno = 4242;
    if (sized && !b.aligned) graphbit_percpu_free_sized(b.ptr, b.size);
    else graphbit_percpu_free(b.ptr);
    if (errno != saved) FAIL("free changed errno");
}

static uint64_t rng(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static size_t random_size(uint64_t *x) {
    uint64_t r = rng(x);
    return (r & 7) == 0 ? (size_t)(r >> 8) % 16400 : (size_t)(r >> 8) % 300;
}

/* threads: each keeps 256 live blocks and passes one in 8 to the next. */
#define THREADS 8
#define SLOTS 256
static _Atomic(block_t *) mailbox[THREADS];

static void *churn(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(id + 1);
    static _Thread_local block_t live[SLOTS];
    for (int i = 0; i < SLOTS; i++) live[i] = make(random_size(&x));
    for (int round = 0; round < 200000; round++) {
        int i = (int)(rng(&x) % SLOTS);
        if (rng(&x) % 8 == 0) {
            block_t *box = malloc(sizeof *box);
            *box = live[i];
            block_t *old = atomic_exchange(&mailbox[(id + 1) % THREADS], box);
            if (old) {
                check_and_free(*old, (int)(x & 1));
                free(old);
            }
        } else {
            check_and_free(live[i], (int)(x & 1));
        }
        live[i] = make(random_size(&x));
        /* gb_thread_idle and gb_trim, while the other threads allocate. */
        if (round % 20000 == id) graphbit_percpu_flush();
    }
    for (int i = 0; i < SLOTS; i++) check_and_free(live[i], 1);
    return NULL;
}

static void run_threads(int count, void *(*body)(void *)) {
    pthread_t t[THREADS];
    for (int i = 0; i < count; i++)
        if (pthread_create(&t[i], NULL, body, (void *)(intptr_t)i) != 0) FAIL("pthread_create");
    for (int i = 0; i < count; i++) pthread_join(t[i], NULL);
}

static void drain_mailboxes(void) {
    for (int i = 0; i < THREADS; i++) {
        block_t *old = atomic_exchange(&mailbox[i], NULL);
        if (old) {
            check_and_free(*old, 0);
            free(old);
        }
    }
}

/* repin: move to the next CPU before each call. */
static void *repin(void *arg) {
    int id = (int)(intptr_t)arg;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t x = 12345 + (uint64_t)id;
    block_t live[16];
    for (int i = 0; i < 16; i++) live[i] = make(random_size(&x));
    for (int round = 0; round < 20000; round++) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((round + id) % cpus, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) FAIL("sched_setaffinity: %s", strerror(errno));
        int i = (int)(rng(&x) % 16);
        check_and_free(live[i], round & 1);
        CPU_ZERO(&set);
        CPU_SET((round + id + 1) % cpus, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) FAIL("sched_setaffinity: %s", strerror(errno));
        live[i] = make(random_size(&x));
    }
    for (int i = 0; i < 16; i++) check_and_free(live[i], 0);
    return NULL;
}

/* signals: a 20 kHz timer interrupts two threads pinned to one CPU, which
 * allocate and free from that CPU's stacks: each signal aborts the critical
 * section it lands in, and the other thread may change the stack before the
 * first resumes. (The handler itself does not allocate: malloc, jemalloc's
 * included, is not async-signal-safe, so a handler that did could deadlock
 * on a jemalloc lock the thread holds in a refill.) */
static atomic_ulong handled;
static void on_alarm(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

static void *signalled(void *arg) {
    int id = (int)(intptr_t)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) FAIL("sched_setaffinity: %s", strerror(errno));
    uint64_t x = 777 + (uint64_t)id;
    block_t live[64];
    for (int i = 0; i < 64; i++) live[i] = make(random_size(&x));
    for (int round = 0; round < 400000; round++) {
        int i = (int)(rng(&x) % 64);
        check_and_free(live[i], round & 1);
        live[i] = make(random_size(&x) % 200);
    }
    for (int i = 0; i < 64; i++) check_and_free(live[i], 0);
    return NULL;
}

static void run_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &every, NULL);
    /* The process timer's signal goes to any thread that does not block it:
     * block it here, so the allocating threads take every one. */
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, signalled, (void *)(intptr_t)i);
    pthread_sigmask(SIG_BLOCK, &alarm_only, NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    pthread_sigmask(SIG_UNBLOCK, &alarm_only, NULL);
    printf("percpu_test: signals: %lu signals interrupted two threads sharing CPU 0\n", atomic_load(&handled));
    if (atomic_load(&handled) < 100) FAIL("only %lu signals arrived", atomic_load(&handled));
}

static atomic_bool stop_forkers;
static void *fork_churn(void *arg) {
    uint64_t x = 99 + (uint64_t)(intptr_t)arg;
    while (!atomic_load(&stop_forkers)) {
        block_t b = make(random_size(&x));
        check_and_free(b, (int)(x & 1));
    }
    return NULL;
}

static void run_fork(void) {
    fflush(stdout); /* the children must not print the parent's buffer again */
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, fork_churn, (void *)(intptr_t)i);
    for (int n = 0; n < 50; n++) {
        pid_t pid = fork();
        if (pid < 0) FAIL("fork: %s", strerror(errno));
        if (pid == 0) {
            uint64_t x = 5;
            block_t live[32];
            for (int i = 0; i < 32; i++) live[i] = make(random_size(&x));
            for (int r = 0; r < 20000; r++) {
                int i = (int)(rng(&x) % 32);
                check_and_free(live[i], r & 1);
                live[i] = make(random_size(&x));
            }
            for (int i = 0; i < 32; i++) check_and_free(live[i], 0);
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            FAIL("forked child %d failed (status %d)", n, status);
    }
    atomic_store(&stop_forkers, true);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
}

static pthread_barrier_t start_line;
static void *first_churn(void *arg) {
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)((intptr_t)arg + 1);
    block_t live[64];
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < 64; i++) live[i] = make(random_size(&x));
    for (int round = 0; round < 4000; round++) {
        int i = (int)(rng(&x) % 64);
        check_and_free(live[i], (int)(x & 1));
        live[i] = make(random_size(&x));
    }
    for (int i = 0; i < 64; i++) check_and_free(live[i], 1);
    return NULL;
}

/* Before main has allocated through the cache: each child's threads set it
 * up. */
static void run_first(void) {
    for (int n = 0; n < 40; n++) {
        pid_t pid = fork();
        if (pid < 0) FAIL("fork: %s", strerror(errno));
        if (pid == 0) {
            pthread_barrier_init(&start_line, NULL, THREADS);
            run_threads(THREADS, first_churn);
            _exit(0);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            FAIL("first allocations at once: child %d failed (status %d)", n, status);
    }
}

int main(void) {
    struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
    printf("percpu_test: rseq %s (size %u, cpu_id %d)\n", __rseq_size ? "registered" : "not registered",
           __rseq_size, (int)rs->cpu_id);
    fflush(stdout);
    run_first();
    puts("percpu_test: first: ok");
    uint64_t x = 1;
    for (int i = 0; i < 100000; i++) check_and_free(make(random_size(&x)), i & 1);
    check_and_free(make(0), 1);
    check_and_free(make(0), 0);
    graphbit_percpu_free(NULL);
    run_threads(THREADS, churn);
    drain_mailboxes();
    puts("percpu_test: threads: ok");
    run_threads(2, repin);
    puts("percpu_test: repin: ok");
    run_signals();
    run_fork();
    puts("percpu_test: fork: ok");
    puts("percpu_test: passed");
    return 0;
}
