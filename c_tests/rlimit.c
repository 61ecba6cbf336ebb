/* Allocation until the address space runs out: a child process lowers
 * RLIMIT_AS to what it uses plus 512 MiB and allocates until graphbit-alloc
 * says no. Every failure must be NULL with errno ENOMEM (never a crash or an
 * abort), a failed realloc must leave its block intact, and once memory is
 * given back the library must work again. The parent checks the child's exit
 * status; an alarm turns a hang into a failure. */
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "graphbit_alloc.h"
#include "gb_test.h"
#include "gb_child.h"

enum { MAX_BLOCKS = 1 << 16 };
static void *blocks[MAX_BLOCKS];

/* Fills the address space with blocks of `size` from blocks[n] on; returns
 * the new number of blocks. */
static int exhaust(int n, size_t size, int *bad_errno) {
    while (n < MAX_BLOCKS) {
        errno = 0;
        void *p = gb_alloc(size);
        if (!p) {
            if (errno != ENOMEM) (*bad_errno)++;
            break;
        }
        ((volatile char *)p)[0] = 1; /* the block is real */
        blocks[n++] = p;
    }
    return n;
}

static int child(void) {
    alarm(120);
    /* Warm the library up first, so that its own set-up is within budget. */
    gb_free(gb_alloc(1));
    struct rlimit limit = {gb_mapped_bytes() + (512u << 20), RLIM_INFINITY};
    limit.rlim_max = limit.rlim_cur;
    if (setrlimit(RLIMIT_AS, &limit) != 0) return 10;

    int bad_errno = 0;
    unsigned char *keep = gb_alloc(1000);
    if (!keep) return 11;
    gb_fill(keep, 1000, keep);

    /* Big blocks first, then small ones fill what is left. */
    int big = exhaust(0, 16u << 20, &bad_errno);
    if (big == 0 || big == MAX_BLOCKS) return 12;
    int total = big;
    for (size_t size = 1u << 20; size >= 4096; size /= 16) total = exhaust(total, size, &bad_errno);
    /* Every kind of request fails cleanly while memory is short. */
    errno = 0;
    if (gb_calloc(1u << 20, 64) != NULL || errno != ENOMEM) return 13;
    errno = 0;
    if (gb_aligned_alloc(1u << 20, 64u << 20) != NULL || errno != ENOMEM) return 14;
    errno = 0;
    unsigned char *grown = gb_realloc(keep, 256u << 20);
    if (grown != NULL || errno != ENOMEM) return 15;
    if (!gb_intact(keep, 1000, keep)) return 16;
    if (bad_errno) return 17;

    /* Give it all back; the library works again, big and small. */
    for (int i = 0; i < total; i++) gb_free(blocks[i]);
    for (int i = 0; i < big; i++) {
        blocks[i] = gb_alloc(16u << 20);
        if (!blocks[i]) return 18;
    }
    for (int i = 0; i < big; i++) gb_free(blocks[i]);
    unsigned char *small = gb_calloc(100, 10);
    if (!small || small[999] != 0) return 19;
    gb_free(small);
    grown = gb_realloc(keep, 64u << 20);
    if (!grown || !gb_intact(grown, 1000, keep)) return 20;
    gb_free(grown);
    printf("rlimit child: %d blocks of 16 MiB, %d in all, before the limit\n", big, total);
    return 0;
}

int main(void) {
    gb_run_children(3, child);
    return gb_test_finish("rlimit");
}
