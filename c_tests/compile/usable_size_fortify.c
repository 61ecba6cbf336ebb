/* Built with -O2 -D_FORTIFY_SOURCE=3 (tests/header.rs): all of
 * gb_usable_size(p) may be written, so the header must not give the compiler
 * an alloc_size that makes _FORTIFY_SOURCE stop at the requested size. */
#include <stdio.h>
#include <string.h>
#include "graphbit_alloc.h"
int main(void) {
    for (size_t n = 1; n < 5000; n += 7) {
        char *p = gb_alloc(n);
        if (!p) return 1;
        memset(p, 1, gb_usable_size(p));
        gb_free(p);
    }
    char *q = gb_alloc(10); /* a constant size: the object size is known */
    if (!q) return 1;
    memset(q, 1, gb_usable_size(q));
    gb_free(q);
    puts("usable_size_fortify: ok");
    return 0;
}
