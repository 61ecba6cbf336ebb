/* The checked library under RLIMIT_AS: its record of live blocks must run out
 * of memory as gracefully as the allocator does. A child process lowers
 * RLIMIT_AS to 768 MiB above what it maps and allocates 1 MiB blocks until gb_alloc says no,
 * then 48-byte blocks (which the backend can still serve while the record's
 * own tables run out of room: they cannot map more), then 4 KiB blocks, then
 * 48-byte blocks again. Every failure must be NULL with errno ENOMEM,
 * never an abort. While memory is short, gb_realloc must either succeed or
 * fail leaving its block intact and still recorded (freeing it afterwards
 * must not be reported as misuse), and gb_calloc and gb_aligned_alloc fail
 * cleanly. Once everything is freed the library works again. The parent
 * checks that the child exited 0 and not by a signal; an alarm turns a hang
 * into a failure. Passes against the unchecked library as well. */
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graphbit_alloc.h"
#include "gb_test.h"
#include "gb_child.h"


/* Blocks are chained through their first word: no storage of our own. */
typedef struct node {
    struct node *next;
} node_t;

/* Allocates blocks of `size` until gb_alloc fails, then tries `retries`
 * more times (each must succeed or fail with ENOMEM). Returns the number
 * allocated; counts failures with another errno in *bad. */
static size_t exhaust(node_t **head, size_t size, int retries, int *bad) {
    size_t n = 0;
    for (;;) {
        errno = 0;
        node_t *p = gb_alloc(size);
        if (!p) {
            if (errno != ENOMEM) (*bad)++;
            if (retries-- == 0) return n;
            continue;
        }
        p->next = *head;
        *head = p;
        n++;
    }
}

static size_t free_all(node_t *p) {
    size_t n = 0;
    while (p) {
        node_t *next = p->next;
        gb_free(p);
        p = next;
        n++;
    }
    return n;
}

static int child(void) {
    alarm(300);
    /* Warm the library up (its first tables, the fork handlers). */
    gb_free(gb_alloc(1));
    gb_free_aligned_sized(gb_aligned_alloc(64, 64), 64, 64);
    /* 768 MiB beyond what the process maps now. */
    rlim_t cap = (rlim_t)gb_mapped_bytes() + ((rlim_t)768 << 20);
    struct rlimit limit = {cap, cap};
    if (setrlimit(RLIMIT_AS, &limit) != 0) return 10;

    unsigned char *keep = gb_alloc(1000);
    if (!keep) return 11;
    gb_fill(keep, 1000, keep);

    int bad = 0;
    node_t *big = NULL, *page = NULL, *small = NULL;
    /* 1 MiB blocks until the address space is full; then 48-byte blocks,
     * which the backend still serves from memory it holds, while the
     * record's tables fill and cannot map more (with jemalloc this phase
     * ends in the record, not in the heap); then 4 KiB and 48 B blocks. */
    size_t n_big = exhaust(&big, 1u << 20, 4, &bad);
    size_t n_early = exhaust(&small, 48, 256, &bad);
    size_t n_page = exhaust(&page, 4096, 16, &bad);
    size_t n_small = exhaust(&small, 48, 256, &bad);
    if (n_big == 0) return 12;
    if (bad) return 13;

    /* Every kind of request fails cleanly while memory is short. */
    errno = 0;
    if (gb_calloc(1u << 20, 64) != NULL || errno != ENOMEM) return 14;
    errno = 0;
    if (gb_aligned_alloc(4096, 64u << 20) != NULL || errno != ENOMEM) return 15;
    errno = 0;
    if (gb_realloc(keep, 256u << 20) != NULL || errno != ENOMEM) return 16;
    if (!gb_intact(keep, 1000, keep)) return 17;

    /* Resizes while short: each one moves the block or fails and keeps it. */
    size_t moved = 0, kept = 0;
    node_t **link = &small;
    for (int i = 0; i < 4000 && *link; i++) {
        node_t *p = *link, *next = p->next;
        size_t size = i % 2 ? 32 : 4000;
        errno = 0;
        node_t *q = gb_realloc(p, size);
        if (q) {
            if (q->next != next) return 18;
            *link = q;
            moved++;
        } else {
            if (errno != ENOMEM || p->next != next) return 19;
            kept++;
        }
        link = &(*link)->next;
    }

    /* Give it all back: every block is still recorded (no misuse report). */
    size_t freed = free_all(big) + free_all(page) + free_all(small);
    if (freed != n_big + n_page + n_early + n_small) return 20;
    /* keep was put back with its size by the failed realloc. */
    if (!gb_intact(keep, 1000, keep)) return 21;
    gb_free_sized(keep, 1000);
    node_t *again = NULL;
    for (int i = 0; i < 64; i++) {
        node_t *p = gb_alloc(1u << 20);
        if (!p) return 22;
        p->next = again;
        again = p;
    }
    free_all(again);
    for (int i = 0; i < 100000; i++) gb_free(gb_alloc(48));
    printf("checked_rlimit child: before ENOMEM %zu blocks of 1 MiB, then %zu of 48 B, %zu of 4 KiB, "
           "%zu of 48 B; then %zu reallocs moved their block, %zu failed and kept it\n",
           n_big, n_early, n_page, n_small, moved, kept);
    fflush(stdout); /* the child leaves with _exit */
    return 0;
}

int main(void) {
    gb_run_children(2, child);
    printf("library: %s\n", gb_allocator_name());
    return gb_test_finish("checked_rlimit");
}
