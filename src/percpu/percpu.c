/* A per-CPU cache of small jemalloc blocks (8 B - 4 KiB), on the restartable
 * sequence (rseq) area that glibc 2.35+ registers for every thread
 * (__rseq_offset, struct rseq's cpu_id). x86-64 Linux only.
 *
 * Each CPU owns a region of REGION bytes: a count per size class, then the
 * slots of every class (a stack of block addresses, capacity cap[c]). A
 * thread pops or pushes one block of its CPU's stack in a critical section
 * that the kernel restarts (at the abort label) when the thread is preempted,
 * migrated or interrupted by a signal before the commit: the one store of
 * the new count. So no atomic instruction and no lock; every block in a
 * stack is a jemalloc block of exactly that class's size.
 *
 * An empty stack is refilled with half its capacity from jemalloc, bypassing
 * the thread's cache (MALLOCX_TCACHE_NONE); a full one is drained by half.
 * Where the thread has no rseq registration (glibc older than 2.35,
 * GLIBC_TUNABLES=glibc.pthread.rseq=0, valgrind: cpu_id is then negative),
 * the calls go to jemalloc's own entry points and its thread cache.
 *
 * The mechanics (descriptor in __rseq_cs, abort signature before the abort
 * handler, the commit as the last instruction) follow the kernel's
 * Documentation and librseq; this is our own code, with one critical section
 * per operation. An experiment: nothing calls it unless the library is built
 * with GB_PERCPU (see docs/memory.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <unistd.h>

#if !defined(__x86_64__) || !defined(__linux__)
#error "src/percpu/percpu.c: x86-64 Linux only"
#endif

void *_rjem_malloc(size_t size);
void *_rjem_mallocx(size_t size, int flags);
void _rjem_free(void *ptr);
void _rjem_sdallocx(void *ptr, size_t size, int flags);
size_t _rjem_sallocx(const void *ptr, int flags);

#define TCACHE_NONE (1 << 8) /* jemalloc's MALLOCX_TCACHE_NONE */
#define HIDDEN __attribute__((visibility("hidden")))

/* jemalloc's size classes up to 4 KiB on x86-64 (quantum 16). */
#define CLASSES 29
#define MAX_SMALL 4096
static const uint16_t class_size[CLASSES] = {
    8,
    16,
    32,
    48,
    64,
    80,
    96,
    112,
    128,
    160,
    192,
    224,
    256,
    320,
    384,
    448,
    512,
    640,
    768,
    896,
    1024,
    1280,
    1536,
    1792,
    2048,
    2560,
    3072,
    3584,
    4096,
};

/* Per class: at most 32 KiB of blocks, between 8 and 64 of them. */
static uint32_t cap[CLASSES];
/* Per class: where its slots start in a CPU's region, in bytes. */
static uint64_t slot_offset[CLASSES];
/* (size + 7) / 8 -> class, for sizes 0 - 4096. */
static uint8_t class_of[MAX_SMALL / 8 + 1];

#define LG_REGION 14 /* 16 KiB per CPU: 128 B of counts, the slots */
#define REGION ((size_t)1 << LG_REGION)

/* The regions, one per configured CPU; NULL until set up. */
static char *_Atomic regions;
static uint32_t region_count;
/* Set when the cache cannot be used in this process (no rseq, no memory). */
static atomic_int disabled;

static inline struct rseq *rseq_area(void) {
    return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static __attribute__((cold, noinline)) char *setup(void) {
    if (atomic_load(&disabled)) return NULL;
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    /* The first caller's registration stands for the process's: glibc
     * registers every thread or none (cpu_id is negative when it did not). */
    if ((int32_t)rseq_area()->cpu_id < 0 || cpus <= 0 || cpus > 4096) {
        atomic_store(&disabled, 1);
        return NULL;
    }
    uint64_t offset = 128;
    for (int c = 0; c < CLASSES; c++) {
        uint32_t n = 32768 / class_size[c];
        cap[c] = n < 8 ? 8 : n > 64 ? 64
                                    : n;
        slot_offset[c] = offset;
        offset += (uint64_t)cap[c] * sizeof(void *);
    }
    _Static_assert(CLASSES * 4 <= 128, "the counts fit before the slots");
    if (offset > REGION) {
        atomic_store(&disabled, 1);
        return NULL;
    }
    for (size_t size = 0, c = 0; size <= MAX_SMALL; size += 8) {
        while (class_size[c] < (size ? size : 1)) c++;
        class_of[size / 8] = (uint8_t)c;
    }
    /* Pages are touched only for the CPUs that run allocating threads. */
    void *mem = mmap(NULL, (size_t)cpus * REGION, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        atomic_store(&disabled, 1);
        return NULL;
    }
    char *expected = NULL;
    region_count = (uint32_t)cpus;
    if (!atomic_compare_exchange_strong(&regions, &expected, (char *)mem)) {
        munmap(mem, (size_t)cpus * REGION); /* another thread won */
        return expected;
    }
    return (char *)mem;
}

/* One block of class c from this CPU's stack. Returns 1 and sets *out, 0 when
 * the stack is empty, -1 when this thread has no rseq registration. */
static inline int pop(char *base, uint64_t c, void **out) {
    struct rseq *rs = rseq_area();
    void *block;
retry:
    __asm__ goto(
        ".pushsection __rseq_cs, \"aw\"\n\t"
        ".balign 32\n"
        "3:\n\t"
        ".long 0, 0\n\t"
        ".quad 1f, (2f - 1f), 4f\n\t"
        ".popsection\n\t"
        "leaq 3b(%%rip), %%rax\n\t"
        "movq %%rax, %c[cs](%[rs])\n"
        "1:\n\t"
        "movl %c[cpu](%[rs]), %%eax\n\t"
        "cmpl %[ncpu], %%eax\n\t"
        "jae %l[unregistered]\n\t"
        "shlq %[lg], %%rax\n\t"
        "addq %[base], %%rax\n\t"
        "movl (%%rax, %q[c], 4), %%edx\n\t"
        "testl %%edx, %%edx\n\t"
        "jz %l[empty]\n\t"
        "subl $1, %%edx\n\t"
        "movq %[off], %%rcx\n\t"
        "addq %%rax, %%rcx\n\t"
        "movq (%%rcx, %%rdx, 8), %%rcx\n\t"
        "movq %%rcx, %[out]\n\t"
        "movl %%edx, (%%rax, %q[c], 4)\n" /* commit */
        "2:\n\t"
        ".pushsection __rseq_failure, \"ax\"\n\t"
        ".byte 0x0f, 0xb9, 0x3d\n\t"
        ".long 0x53053053\n" /* RSEQ_SIG, what glibc registered */
        "4:\n\t"
        "jmp %l[aborted]\n\t"
        ".popsection\n\t"
        : [out] "=&r"(block)
        : [rs] "r"(rs), [base] "r"(base), [c] "r"(c), [off] "m"(slot_offset[c]),
          [ncpu] "m"(region_count), [lg] "i"(LG_REGION),
          [cs] "i"(offsetof(struct rseq, rseq_cs)), [cpu] "i"(offsetof(struct rseq, cpu_id))
        : "rax", "rcx", "rdx", "memory", "cc"
        : unregistered, empty, aborted);
    *out = block;
    return 1;
empty:
    return 0;
unregistered:
    return -1;
aborted:
    goto retry;
}

/* Puts `block` of class c on this CPU's stack. Returns 1, 0 when the stack
 * is full, -1 when this thread has no rseq registration. */
static inline int push(char *base, uint64_t c, void *block) {
    struct rseq *rs = rseq_area();
retry:
    __asm__ goto(
        ".pushsection __rseq_cs, \"aw\"\n\t"
        ".balign 32\n"
        "3:\n\t"
        ".long 0, 0\n\t"
        ".quad 1f, (2f - 1f), 4f\n\t"
        ".popsection\n\t"
        "leaq 3b(%%rip), %%rax\n\t"
        "movq %%rax, %c[cs](%[rs])\n"
        "1:\n\t"
        "movl %c[cpu](%[rs]), %%eax\n\t"
        "cmpl %[ncpu], %%eax\n\t"
        "jae %l[unregistered]\n\t"
        "shlq %[lg], %%rax\n\t"
        "addq %[base], %%rax\n\t"
        "movl (%%rax, %q[c], 4), %%edx\n\t"
        "cmpl %[cap], %%edx\n\t"
        "jae %l[full]\n\t"
        "movq %[off], %%rcx\n\t"
        "addq %%rax, %%rcx\n\t"
        "movq %[block], (%%rcx, %%rdx, 8)\n\t" /* above the count: not yet visible */
        "addl $1, %%edx\n\t"
        "movl %%edx, (%%rax, %q[c], 4)\n" /* commit */
        "2:\n\t"
        ".pushsection __rseq_failure, \"ax\"\n\t"
        ".byte 0x0f, 0xb9, 0x3d\n\t"
        ".long 0x53053053\n"
        "4:\n\t"
        "jmp %l[aborted]\n\t"
        ".popsection\n\t"
        :
        : [rs] "r"(rs), [base] "r"(base), [c] "r"(c), [off] "m"(slot_offset[c]),
          [cap] "m"(cap[c]), [block] "r"(block), [ncpu] "m"(region_count),
          [lg] "i"(LG_REGION), [cs] "i"(offsetof(struct rseq, rseq_cs)),
          [cpu] "i"(offsetof(struct rseq, cpu_id))
        : "rax", "rcx", "rdx", "memory", "cc"
        : unregistered, full, aborted);
    return 1;
full:
    return 0;
unregistered:
    return -1;
aborted:
    goto retry;
}

static __attribute__((noinline)) void *refill(char *base, uint64_t c) {
    size_t size = class_size[c];
    void *first = _rjem_mallocx(size, TCACHE_NONE);
    if (first == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    for (uint32_t i = 1; i < cap[c] / 2; i++) {
        void *block = _rjem_mallocx(size, TCACHE_NONE);
        if (block == NULL) break;
        if (push(base, c, block) != 1) {
            _rjem_sdallocx(block, size, TCACHE_NONE);
            break;
        }
    }
    return first;
}

static __attribute__((noinline)) void drain(char *base, uint64_t c, void *block) {
    size_t size = class_size[c];
    int saved = errno;
    _rjem_sdallocx(block, size, TCACHE_NONE);
    for (uint32_t i = 1; i < cap[c] / 2; i++) {
        void *other;
        if (pop(base, c, &other) != 1) break;
        _rjem_sdallocx(other, size, TCACHE_NONE);
    }
    errno = saved;
}

HIDDEN void *graphbit_percpu_alloc(size_t size);

/* The first allocation of the process (or every one, where the cache is
 * off): sets the regions up, then allocates as usual. */
static __attribute__((cold, noinline)) void *first_alloc(size_t size) {
    if (setup() == NULL) return _rjem_malloc(size);
    return graphbit_percpu_alloc(size);
}

/* gb_alloc through the per-CPU cache. */
HIDDEN void *graphbit_percpu_alloc(size_t size) {
    char *base = atomic_load_explicit(&regions, memory_order_acquire);
    if (__builtin_expect(size > MAX_SMALL, 0)) return _rjem_malloc(size);
    if (__builtin_expect(base == NULL, 0)) return first_alloc(size);
    uint64_t c = class_of[(size + 7) >> 3];
    void *block;
    int got = pop(base, c, &block);
    if (__builtin_expect(got == 1, 1)) return block;
    if (got == 0) return refill(base, c);
    return _rjem_malloc(size);
}

/* gb_free_sized through the per-CPU cache (ptr not NULL). */
HIDDEN void graphbit_percpu_free_sized(void *ptr, size_t size) {
    char *base = atomic_load_explicit(&regions, memory_order_acquire);
    if (__builtin_expect(size > MAX_SMALL || base == NULL, 0)) {
        _rjem_sdallocx(ptr, size ? size : 1, 0);
        return;
    }
    uint64_t c = class_of[(size + 7) >> 3];
    int put = push(base, c, ptr);
    if (__builtin_expect(put == 1, 1)) return;
    if (put == 0) drain(base, c, ptr);
    else _rjem_sdallocx(ptr, size ? size : 1, 0);
}

/* gb_free through the per-CPU cache: the block's size from jemalloc. */
HIDDEN void graphbit_percpu_free(void *ptr) {
    if (ptr == NULL) return;
    graphbit_percpu_free_sized(ptr, _rjem_sallocx(ptr, 0));
}
