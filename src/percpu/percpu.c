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
 * An empty stack is refilled with half its capacity from jemalloc, through a
 * jemalloc thread cache of the CPU's own (batches under one lock); a full one
 * is drained by half the same way.
 *
 * A free without the size (gb_free, free) reads the class from a page map:
 * one byte per 4 KiB page of the address space (reserved, touched only where
 * blocks are), class + 1 of the blocks on that page, or 0 for "ask
 * jemalloc". Every path that hands a block out writes its page's byte before
 * it does (the refill, for each block it takes; gb_calloc, gb_realloc and
 * gb_alloc_aligned through graphbit_percpu_note), and a page holds blocks of
 * one class only while any of them is live (jemalloc's slabs are
 * single-class and its large extents whole pages), so the byte a free reads
 * is its block's class or 0. A free that reads 0 goes to jemalloc's free.
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
#include <stdio.h>
#include <string.h>
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
void *_rjem_aligned_alloc(size_t alignment, size_t size);
int _rjem_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
int _rjem_mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp);
int _rjem_mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

#define TCACHE_NONE (1 << 8) /* jemalloc's MALLOCX_TCACHE_NONE */
#define HIDDEN __attribute__((visibility("hidden")))

/* jemalloc's size classes up to 4 KiB on x86-64 (quantum 16), all served
 * from slabs, so never resized in place into another class; setup() checks
 * them against jemalloc's arenas.bin.N.size. (Caching its slab classes up to
 * 14 KiB as well was measured: the server workload ran at 0.6x the speed,
 * docs/memory.md.) */
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

/* Per class: at most 32 KiB of blocks, between 8 and MAX_CAP of them. A
 * refill or a drain moves at most half a stack (MAX_CAP / 2 blocks). */
#define MAX_CAP 64
static uint32_t cap[CLASSES];
/* Per class: how many blocks a refill takes from jemalloc in one
 * experimental.batch_alloc call (fewer than a slab holds: a batch of a whole
 * slab or more would take fresh slabs and leave partly used ones unused),
 * or 0 where that is under 2 (refills then take block by block). */
static uint32_t batch[CLASSES];
/* experimental.batch_alloc's MIB; batch_mib_len 0 where jemalloc has none. */
static size_t batch_mib[3];
static size_t batch_mib_len;

/* Per class: where its slots start in a CPU's region, in bytes. */
static uint64_t slot_offset[CLASSES];
/* (size + 7) / 8 -> class, for sizes 0 - 4096. */
static uint8_t class_of[MAX_SMALL / 8 + 1];

#define MAX_CPUS 4096 /* the most CPUs the cache serves; more: disabled */
#define LG_REGION 14  /* 16 KiB per CPU: 128 B of counts, the slots */
#define COUNTS 128
#define REGION ((size_t)1 << LG_REGION)

/* The regions, one per configured CPU; NULL until set up. */
static char *_Atomic regions;
static uint32_t region_count;
/* Set when the cache cannot be used in this process (no rseq, no memory). */
static atomic_int disabled;

/* The page map: byte p >> 12 is class + 1 of the blocks on page p, or 0.
 * NULL until set up, and where it cannot be reserved (frees then ask
 * jemalloc the size). Covers the 47-bit user address space of x86-64. */
#define MAP_PAGES ((uint64_t)1 << 35)
static _Atomic(_Atomic uint8_t *) page_map;

static inline void map_set(_Atomic uint8_t *map, const void *block, uint8_t value) {
    uint64_t page = (uint64_t)block >> 12;
    if (map != NULL && page < MAP_PAGES) atomic_store_explicit(&map[page], value, memory_order_relaxed);
}

static inline struct rseq *rseq_area(void) {
    return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static __attribute__((cold, noinline)) char *setup(void) {
    if (atomic_load(&disabled)) return NULL;
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    /* The first caller's registration stands for the process's: glibc
     * registers every thread or none (cpu_id is negative when it did not). */
    if ((int32_t)rseq_area()->cpu_id < 0 || cpus <= 0 || cpus > MAX_CPUS) {
        atomic_store(&disabled, 1);
        return NULL;
    }
    /* Two threads may set up at once, and the first to finish is refilling
     * while the other runs: what they share is written with final values
     * only (the same in both), the rest is computed in locals. */
    uint32_t nregs[CLASSES];
    /* The classes must be jemalloc's (its page size or build could differ). */
    unsigned nbins = 0;
    size_t len = sizeof nbins;
    if (_rjem_mallctl("arenas.nbins", &nbins, &len, NULL, 0) != 0 || nbins < CLASSES) {
        atomic_store(&disabled, 1);
        return NULL;
    }
    for (unsigned c = 0; c < CLASSES; c++) {
        char name[32] = "arenas.bin.";
        size_t size = 0, at = 11;
        if (c >= 10) name[at++] = (char)('0' + c / 10);
        name[at++] = (char)('0' + c % 10);
        memcpy(name + at, ".size", 6);
        len = sizeof size;
        if (_rjem_mallctl(name, &size, &len, NULL, 0) != 0 || size != class_size[c]) {
            atomic_store(&disabled, 1);
            return NULL;
        }
        memcpy(name + at, ".nregs", 7);
        len = sizeof nregs[c];
        if (_rjem_mallctl(name, &nregs[c], &len, NULL, 0) != 0) nregs[c] = 0;
    }
    size_t mib[3], mib_len = 3;
    if (_rjem_mallctlnametomib("experimental.batch_alloc", mib, &mib_len) != 0) mib_len = 0;
    uint64_t offset = COUNTS;
    for (int c = 0; c < CLASSES; c++) {
        uint32_t n = 32768 / class_size[c];
        cap[c] = n < 8 ? 8 : n > MAX_CAP ? MAX_CAP
                                         : n;
        slot_offset[c] = offset;
        uint32_t most = nregs[c] > 0 ? nregs[c] - 1 : 0;
        if (most > cap[c] / 2) most = cap[c] / 2;
        batch[c] = most < 2 ? 0 : most;
        offset += (uint64_t)cap[c] * sizeof(void *);
    }
    _Static_assert(CLASSES * 4 <= COUNTS, "the counts fit before the slots");
    if (offset > REGION) {
        atomic_store(&disabled, 1);
        return NULL;
    }
    memcpy(batch_mib, mib, sizeof mib);
    batch_mib_len = mib_len;
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
    /* The page map: address space only, until blocks are recorded. Set
     * before the regions, so that every refill writes it. */
    void *map = mmap(NULL, MAP_PAGES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map != MAP_FAILED) {
        _Atomic uint8_t *none = NULL;
        if (!atomic_compare_exchange_strong(&page_map, &none, (_Atomic uint8_t *)map))
            munmap(map, MAP_PAGES); /* another thread's is in place */
    }
    char *expected = NULL;
    region_count = (uint32_t)cpus;
    if (!atomic_compare_exchange_strong(&regions, &expected, (char *)mem)) {
        munmap(mem, (size_t)cpus * REGION); /* another thread won */
        return expected;
    }
    return (char *)mem;
}

/* The frame of every critical section below (one per operation): its
 * descriptor in __rseq_cs (start 1, length up to the post-commit label 2,
 * abort handler 4), stored in the thread's rseq area before label 1; the
 * section then runs from label 1 to its commit, the last instruction before
 * RSEQ_END. The abort handler, preceded by the signature glibc registered
 * (RSEQ_SIG), jumps to the C label `aborted`, which retries. Operands [rs]
 * (the rseq area) and [cs] (offsetof rseq_cs) must be given; %rax is
 * clobbered. */
#define RSEQ_START                       \
    ".pushsection __rseq_cs, \"aw\"\n\t" \
    ".balign 32\n"                       \
    "3:\n\t"                             \
    ".long 0, 0\n\t"                     \
    ".quad 1f, (2f - 1f), 4f\n\t"        \
    ".popsection\n\t"                    \
    "leaq 3b(%%rip), %%rax\n\t"          \
    "movq %%rax, %c[cs](%[rs])\n"        \
    "1:\n\t"
#define RSEQ_END                              \
    "2:\n\t"                                  \
    ".pushsection __rseq_failure, \"ax\"\n\t" \
    ".byte 0x0f, 0xb9, 0x3d\n\t"              \
    ".long 0x53053053\n"                      \
    "4:\n\t"                                  \
    "jmp %l[aborted]\n\t"                     \
    ".popsection\n\t"

/* One block of class c from this CPU's stack. Returns 1 and sets *out, 0 when
 * the stack is empty, -1 when this thread has no rseq registration. */
static inline int pop(char *base, uint64_t c, void **out) {
    struct rseq *rs = rseq_area();
    void *block;
retry:
    __asm__ goto(
        RSEQ_START
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
        RSEQ_END
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
        RSEQ_START
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
        RSEQ_END
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

/* Puts blocks[0..n) (n >= 1) on this CPU's stack of class c in one critical
 * section: the slots above the count are written, then the count is
 * committed. Returns 1, 0 when they do not all fit, -1 when this thread has
 * no rseq registration. */
static inline int push_many(char *base, uint64_t c, void *const *blocks, uint64_t n) {
    struct rseq *rs = rseq_area();
retry:
    __asm__ goto(
        RSEQ_START
        "movl %c[cpu](%[rs]), %%eax\n\t"
        "cmpl %[ncpu], %%eax\n\t"
        "jae %l[unregistered]\n\t"
        "shlq %[lg], %%rax\n\t"
        "addq %[base], %%rax\n\t"
        "movl (%%rax, %q[c], 4), %%edx\n\t"
        "movl %%edx, %%ecx\n\t"
        "addl %k[n], %%ecx\n\t"
        "cmpl %[cap], %%ecx\n\t"
        "ja %l[full]\n\t"
        "movq %[off], %%r8\n\t"
        "addq %%rax, %%r8\n\t"
        "leaq (%%r8, %%rdx, 8), %%r8\n\t"
        "xorl %%r9d, %%r9d\n"
        "5:\n\t" /* above the count: not yet visible */
        "movq (%[blocks], %%r9, 8), %%rdx\n\t"
        "movq %%rdx, (%%r8, %%r9, 8)\n\t"
        "addq $1, %%r9\n\t"
        "cmpq %[n], %%r9\n\t"
        "jb 5b\n\t"
        "movl %%ecx, (%%rax, %q[c], 4)\n" /* commit */
        RSEQ_END
        :
        : [rs] "r"(rs), [base] "r"(base), [c] "r"(c), [off] "m"(slot_offset[c]),
          [cap] "m"(cap[c]), [blocks] "r"(blocks), [n] "r"(n), [ncpu] "m"(region_count),
          [lg] "i"(LG_REGION), [cs] "i"(offsetof(struct rseq, rseq_cs)),
          [cpu] "i"(offsetof(struct rseq, cpu_id))
        : "rax", "rcx", "rdx", "r8", "r9", "memory", "cc"
        : unregistered, full, aborted);
    return 1;
full:
    return 0;
unregistered:
    return -1;
aborted:
    goto retry;
}

/* Takes the top n blocks (n >= 1) of this CPU's stack of class c into
 * out[0..n) in one critical section (copied, then the count is committed).
 * Returns 1, 0 when the stack holds fewer, -1 when this thread has no rseq
 * registration. */
static inline int pop_many(char *base, uint64_t c, void **out, uint64_t n) {
    struct rseq *rs = rseq_area();
retry:
    __asm__ goto(
        RSEQ_START
        "movl %c[cpu](%[rs]), %%eax\n\t"
        "cmpl %[ncpu], %%eax\n\t"
        "jae %l[unregistered]\n\t"
        "shlq %[lg], %%rax\n\t"
        "addq %[base], %%rax\n\t"
        "movl (%%rax, %q[c], 4), %%edx\n\t"
        "subq %[n], %%rdx\n\t"
        "jb %l[empty]\n\t"
        "movq %[off], %%r8\n\t"
        "addq %%rax, %%r8\n\t"
        "leaq (%%r8, %%rdx, 8), %%r8\n\t"
        "xorl %%r9d, %%r9d\n"
        "5:\n\t"
        "movq (%%r8, %%r9, 8), %%rcx\n\t"
        "movq %%rcx, (%[out], %%r9, 8)\n\t"
        "addq $1, %%r9\n\t"
        "cmpq %[n], %%r9\n\t"
        "jb 5b\n\t"
        "movl %%edx, (%%rax, %q[c], 4)\n" /* commit */
        RSEQ_END
        :
        : [rs] "r"(rs), [base] "r"(base), [c] "r"(c), [off] "m"(slot_offset[c]),
          [out] "r"(out), [n] "r"(n), [ncpu] "m"(region_count), [lg] "i"(LG_REGION),
          [cs] "i"(offsetof(struct rseq, rseq_cs)), [cpu] "i"(offsetof(struct rseq, cpu_id))
        : "rax", "rcx", "rdx", "r8", "r9", "memory", "cc"
        : unregistered, empty, aborted);
    return 1;
empty:
    return 0;
unregistered:
    return -1;
aborted:
    goto retry;
}

/* Refills and drains go through a jemalloc thread cache of the CPU's own
 * (tcache.create), which takes and returns blocks in batches, one lock
 * each, rather than one per block: held by one thread at a time through its
 * flag. A thread that finds it busy (another thread of that CPU refilling,
 * or, in a fork child, the parent's thread that held it) goes to the
 * arenas directly. */
#define TCACHE(t) (((int)(t) + 2) << 8)      /* MALLOCX_TCACHE */
static _Atomic unsigned tcache_of[MAX_CPUS]; /* index + 1; 0 until created */
static atomic_flag tcache_busy[MAX_CPUS];

/* The flags for a batch through this CPU's cache, or TCACHE_NONE (with
 * *cpu_out set to MAX_CPUS) when it is busy or cannot be had. */
static int take_cpu_cache(uint32_t *cpu_out) {
    uint32_t cpu = (uint32_t)rseq_area()->cpu_id;
    *cpu_out = MAX_CPUS;
    if (cpu >= region_count) return TCACHE_NONE; /* region_count <= MAX_CPUS */
    if (atomic_flag_test_and_set_explicit(&tcache_busy[cpu], memory_order_acquire)) return TCACHE_NONE;
    unsigned t = atomic_load_explicit(&tcache_of[cpu], memory_order_relaxed);
    if (t == 0) {
        unsigned created;
        size_t len = sizeof created;
        if (_rjem_mallctl("tcache.create", &created, &len, NULL, 0) == 0) {
            t = created + 1;
            atomic_store_explicit(&tcache_of[cpu], t, memory_order_relaxed);
        }
    }
    if (t == 0) {
        atomic_flag_clear_explicit(&tcache_busy[cpu], memory_order_release);
        return TCACHE_NONE;
    }
    *cpu_out = cpu;
    return TCACHE(t - 1);
}

static void put_cpu_cache(uint32_t cpu) {
    if (cpu < MAX_CPUS) atomic_flag_clear_explicit(&tcache_busy[cpu], memory_order_release);
}

/* Per class, blocks that one CPU drained and another may take (tcmalloc's
 * transfer cache): a stack of at most twice the class's per-CPU capacity,
 * held by one thread at a time through a flag that nobody waits for (a
 * thread that finds it busy, or a fork child whose parent held it, goes to
 * jemalloc instead). So when one CPU allocates what another frees, blocks
 * cycle through here without reaching jemalloc. */
#define TRANSFER_MAX 128
typedef struct {
    atomic_flag busy;
    uint32_t count;
    void *blocks[TRANSFER_MAX];
} transfer_t;
static transfer_t transfer[CLASSES];

/* Takes up to half a stack of class c from the transfer cache: returns one
 * block and pushes the others onto this CPU's stack; NULL when it has none
 * or is busy. */
static void *transfer_take(char *base, uint64_t c) {
    transfer_t *t = &transfer[c];
    if (atomic_flag_test_and_set_explicit(&t->busy, memory_order_acquire)) return NULL;
    void *first = NULL;
    if (t->count > 0) {
        first = t->blocks[--t->count];
        uint32_t n = cap[c] / 2 - 1 < t->count ? cap[c] / 2 - 1 : t->count;
        if (n > 0 && push_many(base, c, &t->blocks[t->count - n], n) == 1) t->count -= n;
    }
    atomic_flag_clear_explicit(&t->busy, memory_order_release);
    return first;
}

/* Puts `block` and up to half a stack more of this CPU's class c into the
 * transfer cache; returns 0 when it is busy or full (nothing moved). */
static int transfer_give(char *base, uint64_t c, void *block) {
    transfer_t *t = &transfer[c];
    uint32_t limit = 2 * cap[c] < TRANSFER_MAX ? 2 * cap[c] : TRANSFER_MAX;
    if (atomic_flag_test_and_set_explicit(&t->busy, memory_order_acquire)) return 0;
    int moved = t->count < limit;
    if (moved) {
        t->blocks[t->count++] = block;
        uint32_t n = cap[c] / 2 - 1 < limit - t->count ? cap[c] / 2 - 1 : limit - t->count;
        if (n > 0 && pop_many(base, c, &t->blocks[t->count], n) == 1) t->count += n;
    }
    atomic_flag_clear_explicit(&t->busy, memory_order_release);
    return moved;
}

static __attribute__((noinline)) void *refill(char *base, uint64_t c) {
    void *taken = transfer_take(base, c);
    if (taken != NULL) return taken;
    size_t size = class_size[c];
    _Atomic uint8_t *map = atomic_load_explicit(&page_map, memory_order_acquire);
    uint32_t cpu;
    int flags = take_cpu_cache(&cpu);
    if (batch[c] != 0 && batch_mib_len != 0) {
        /* One call for the batch: jemalloc copies it out of the CPU's
         * thread cache (filling that from the arena as needed). */
        void *got[MAX_CAP / 2];
        struct {
            void **ptrs;
            size_t num;
            size_t size;
            int flags;
        } packet = {got, batch[c] < MAX_CAP / 2 ? batch[c] : MAX_CAP / 2, size, flags};
        size_t filled = 0, len = sizeof filled;
        if (_rjem_mallctlbymib(batch_mib, batch_mib_len, &filled, &len, &packet, sizeof packet) == 0 &&
            filled > 0) {
            for (size_t i = 0; i < filled; i++) map_set(map, got[i], (uint8_t)(c + 1));
            if (filled > 1 && push_many(base, c, got + 1, filled - 1) != 1)
                for (size_t i = 1; i < filled; i++) _rjem_sdallocx(got[i], size, flags);
            put_cpu_cache(cpu);
            return got[0];
        }
    }
    void *first = _rjem_mallocx(size, flags);
    if (first == NULL) {
        put_cpu_cache(cpu);
        errno = ENOMEM;
        return NULL;
    }
    map_set(map, first, (uint8_t)(c + 1));
    for (uint32_t i = 1; i < cap[c] / 2; i++) {
        void *block = _rjem_mallocx(size, flags);
        if (block == NULL) break;
        map_set(map, block, (uint8_t)(c + 1));
        if (push(base, c, block) != 1) {
            _rjem_sdallocx(block, size, flags);
            break;
        }
    }
    put_cpu_cache(cpu);
    return first;
}

static __attribute__((noinline)) void drain(char *base, uint64_t c, void *block) {
    if (transfer_give(base, c, block)) return;
    size_t size = class_size[c];
    int saved = errno;
    uint32_t cpu;
    int cache = take_cpu_cache(&cpu);
    _rjem_sdallocx(block, size, cache);
    void *out[MAX_CAP / 2];
    uint64_t n = cap[c] / 2 - 1;
    if (n > 0 && pop_many(base, c, out, n) == 1)
        for (uint64_t i = 0; i < n; i++) _rjem_sdallocx(out[i], size, cache);
    put_cpu_cache(cpu);
    errno = saved;
}

HIDDEN void *graphbit_percpu_alloc(size_t size);

/* The first allocation of the process (or every one, where the cache is
 * off): sets the regions up, then allocates as usual. */
static __attribute__((cold, noinline)) void *first_alloc(size_t size) {
    if (setup() == NULL) return _rjem_malloc(size);
    return graphbit_percpu_alloc(size);
}

HIDDEN void graphbit_percpu_note(void *block, size_t size);

/* A block from jemalloc's own entry points, past the cache. */
static __attribute__((noinline)) void *uncached_alloc(size_t size) {
    void *block = _rjem_malloc(size);
    graphbit_percpu_note(block, size);
    return block;
}

/* gb_alloc through the per-CPU cache. */
HIDDEN void *graphbit_percpu_alloc(size_t size) {
    char *base = atomic_load_explicit(&regions, memory_order_acquire);
    if (__builtin_expect(size > MAX_SMALL, 0)) return uncached_alloc(size);
    if (__builtin_expect(base == NULL, 0)) return first_alloc(size);
    uint64_t c = class_of[(size + 7) >> 3];
    void *block;
    int got = pop(base, c, &block);
    if (__builtin_expect(got == 1, 1)) return block;
    if (got == 0) return refill(base, c);
    return uncached_alloc(size);
}

/* gb_alloc_aligned through the per-CPU cache (alignment a power of two):
 * jemalloc gives an aligned request the class of its size rounded up to the
 * alignment, and that class's blocks are all aligned to it when the class
 * size is a multiple of it (slabs start on a page); other requests go to
 * jemalloc, noted. */
HIDDEN void *graphbit_percpu_alloc_aligned(size_t alignment, size_t size) {
    /* class_of is filled by setup(): a process whose first requests are
     * aligned sets the cache up here (until then every class read 8 B, so
     * each aligned block went to jemalloc and each free asked its size). */
    if (__builtin_expect(atomic_load_explicit(&regions, memory_order_acquire) == NULL, 0) && setup() == NULL)
        return _rjem_aligned_alloc(alignment, size);
    size_t rounded = ((size ? size : 1) + alignment - 1) & ~(alignment - 1);
    if (alignment <= 4096 && rounded >= size && rounded <= MAX_SMALL &&
        (class_size[class_of[(rounded + 7) >> 3]] & (alignment - 1)) == 0)
        return graphbit_percpu_alloc(rounded);
    void *block = _rjem_aligned_alloc(alignment, size);
    graphbit_percpu_note(block, rounded >= size ? rounded : SIZE_MAX);
    return block;
}

/* Records in the page map a block (NULL allowed) that jemalloc handed out
 * for a request of `size` bytes (for an aligned request, the size rounded up
 * to the alignment): its class is the one the size names; sizes above the
 * cache's (SIZE_MAX included) record 0, "ask jemalloc". Called before the
 * block is handed out. */
HIDDEN void graphbit_percpu_note(void *block, size_t size) {
    _Atomic uint8_t *map = atomic_load_explicit(&page_map, memory_order_acquire);
    if (block == NULL || map == NULL) return;
    map_set(map, block, size <= MAX_SMALL ? (uint8_t)(class_of[(size + 7) >> 3] + 1) : 0);
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

/* gb_thread_idle and gb_trim: the blocks cached for the CPU the thread runs
 * on (its stacks, its jemalloc thread cache) and those in the transfer
 * cache go back to jemalloc's arenas. Other CPUs' stacks stay (only a
 * thread running there may touch them). */
HIDDEN void graphbit_percpu_flush(void) {
    char *base = atomic_load_explicit(&regions, memory_order_acquire);
    if (base == NULL) return;
    int saved = errno;
    for (uint64_t c = 0; c < CLASSES; c++) {
        void *block;
        while (pop(base, c, &block) == 1) _rjem_sdallocx(block, class_size[c], TCACHE_NONE);
        transfer_t *t = &transfer[c];
        if (!atomic_flag_test_and_set_explicit(&t->busy, memory_order_acquire)) {
            while (t->count > 0) _rjem_sdallocx(t->blocks[--t->count], class_size[c], TCACHE_NONE);
            atomic_flag_clear_explicit(&t->busy, memory_order_release);
        }
    }
    uint32_t cpu;
    take_cpu_cache(&cpu);
    if (cpu < MAX_CPUS) {
        unsigned t = atomic_load_explicit(&tcache_of[cpu], memory_order_relaxed) - 1;
        _rjem_mallctl("tcache.flush", NULL, NULL, &t, sizeof t);
        put_cpu_cache(cpu);
    }
    errno = saved;
}

/* gb_free through the per-CPU cache: the class from the page map; a block
 * whose page reads 0 (and NULL) goes to jemalloc's free. */
HIDDEN void graphbit_percpu_free(void *ptr) {
    _Atomic uint8_t *map = atomic_load_explicit(&page_map, memory_order_acquire);
    uint64_t page = (uint64_t)ptr >> 12;
    if (__builtin_expect(map != NULL && page < MAP_PAGES, 1)) {
        uint64_t c = (uint64_t)atomic_load_explicit(&map[page], memory_order_relaxed) - 1;
        if (__builtin_expect(c >= CLASSES, 0)) {
            _rjem_free(ptr);
            return;
        }
        char *base = atomic_load_explicit(&regions, memory_order_relaxed);
        int put = push(base, c, ptr);
        if (__builtin_expect(put == 1, 1)) return;
        if (put == 0) drain(base, c, ptr);
        else _rjem_sdallocx(ptr, class_size[c], 0);
        return;
    }
    /* No map: jemalloc says the size (and the block goes back to this CPU's
     * cache, not to the thread's). */
    if (ptr != NULL) graphbit_percpu_free_sized(ptr, _rjem_sallocx(ptr, 0));
}
