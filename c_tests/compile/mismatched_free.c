/* Must NOT compile with -Werror=mismatched-dealloc on GCC 11 or newer: the
 * header marks gb_alloc's blocks as gb_free's (tests/header.rs). */
#include <stdlib.h>
#include "graphbit_alloc.h"
int main(void) {
    free(gb_alloc(8));
    return 0;
}
