/* A program outside the project that takes the heap-profiling library of an
 * installed graphbit-alloc (CMake GraphBitAlloc::graphbit_alloc_profiling,
 * pkg-config graphbit-alloc-profiling), or the prefixed library under the
 * preloaded profiling override: gb_profile_start must succeed (not ENOTSUP,
 * the answer of the other libraries) and gb_profile_dump must write a gzip
 * file. Usage: consumer_profile [PATH] (default consumer_profile.pb.gz). */
#include <stdio.h>
#include <stdlib.h>

#include "graphbit_alloc.h"

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "consumer_profile.pb.gz";
    int failures = 0;
    int rc = gb_profile_start(4096);
    if (rc != 0) {
        fprintf(stderr, "gb_profile_start: %d (not a profiling library?)\n", rc);
        return 1;
    }
    enum { COUNT = 1000 };
    void *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) blocks[i] = gb_alloc(1000);
    rc = gb_profile_dump(path);
    if (rc != 0) failures++, fprintf(stderr, "gb_profile_dump: %d\n", rc);
    FILE *file = fopen(path, "rb");
    unsigned char magic[2] = {0, 0};
    if (file == NULL || fread(magic, 1, 2, file) != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
        failures++, fprintf(stderr, "%s: not a gzip file\n", path);
    if (file != NULL) fclose(file);
    if (gb_profile_stop() != 0) failures++, fprintf(stderr, "gb_profile_stop failed\n");
    for (int i = 0; i < COUNT; i++) gb_free(blocks[i]);
    printf("consumer_profile: %s, %d failure(s)\n", path, failures);
    return failures != 0;
}
