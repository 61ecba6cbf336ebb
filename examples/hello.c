/* The smallest graphbit-alloc program: allocate, use, free, and show which
 * allocator served it. Build lines in README.md ("C quick start"). */
#include <stdio.h>
#include <string.h>

#include "graphbit_alloc.h"

int main(void) {
    char *greeting = gb_alloc(64);
    if (!greeting) {
        perror("gb_alloc");
        return 1;
    }
    strcpy(greeting, "hello from graphbit-alloc");
    printf("%s: backend %s %s, library %s, gb_verify() = %s\n", greeting, gb_allocator_name(),
           gb_allocator_version(), gb_version(), gb_verify() ? "true" : "false");
    gb_free(greeting);
    return gb_verify() ? 0 : 1;
}
