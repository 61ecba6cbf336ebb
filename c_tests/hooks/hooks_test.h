/* Shared by the programs of c_tests/hooks/: each runs a real library with
 * graphbit-alloc installed as its allocator, checks the library's results,
 * and checks that blocks the library hands back are graphbit-alloc's
 * (gb_owns). gb_owns is always false on the system backend (it cannot tell
 * its blocks from malloc's: README, Limitations), so there the programs check
 * the results only, and say so. */
#ifndef GB_HOOKS_TEST_H
#define GB_HOOKS_TEST_H

#include "graphbit_alloc.h"
#include "../gb_test.h"

static inline int gb_hooks_owns_known(void) {
    return strcmp(gb_allocator_name(), "system") != 0;
}

/* A block the library returned comes from graphbit-alloc's backend. */
#define CHECK_OWNED(ptr) CHECK(!gb_hooks_owns_known() || gb_owns(ptr))
/* A block the library returned does not (it kept its own allocator). */
#define CHECK_NOT_OWNED(ptr) CHECK(!gb_owns(ptr))

static inline void gb_hooks_start(const char *name) {
#ifdef GB_EXPECT_BACKEND
    REQUIRE(strcmp(gb_allocator_name(), GB_EXPECT_BACKEND) == 0);
#endif
    printf("%s: backend %s%s\n", name, gb_allocator_name(),
           gb_hooks_owns_known() ? ""
                                 : " (gb_owns is always false here: results checked, not ownership)");
}

#endif
