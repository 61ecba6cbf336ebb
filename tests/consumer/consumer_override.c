/* A program outside the project that takes the whole-process mode of an
 * installed graphbit-alloc: linked (CMake GraphBitAlloc::override or
 * GraphBitAlloc::override_static; pkg-config graphbit-alloc-override) or
 * preloaded. Its plain malloc, and the C library's own allocations
 * (strdup), must be the backend's, and gb_verify() must prove it.
 * Build with -DGB_EXPECT_BACKEND="...". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphbit_alloc.h"

int main(void) {
    int failures = 0;
    void *block = malloc(100);
    char *copy = strdup("consumer");
    if (strcmp(gb_allocator_name(), GB_EXPECT_BACKEND) != 0) failures++, fprintf(stderr, "backend %s\n", gb_allocator_name());
    if (!gb_owns(block) || !gb_owns(copy)) failures++, fprintf(stderr, "malloc/strdup not the backend's\n");
    if (!gb_verify()) failures++, fprintf(stderr, "gb_verify() false\n");
    free(copy);
    free(block);
    printf("consumer_override: %s, %d failure(s)\n", gb_allocator_name(), failures);
    return failures != 0;
}
