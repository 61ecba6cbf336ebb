/* A program outside the project that uses an installed graphbit-alloc. It
 * checks that it got the backend it expects and that gb_alloc comes from
 * where the link mode says: the installed shared library (GB_EXPECT_LINK
 * "shared") or this executable itself ("static").
 * Build with -DGB_EXPECT_BACKEND="..." -DGB_EXPECT_LINK="shared|static". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphbit_alloc.h"

static int failures = 0;
#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "consumer: CHECK failed: %s (line %d)\n", #cond, __LINE__); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

int main(int argc, char **argv) {
    (void)argc;
    CHECK(strcmp(gb_allocator_name(), GB_EXPECT_BACKEND) == 0);
    CHECK(strcmp(gb_version(), GB_VERSION_STRING) == 0);
    CHECK(gb_version_number() == GB_VERSION_NUMBER);
    CHECK(gb_verify());

    char *p = gb_alloc(1000);
    CHECK(p != NULL);
    if (p) memset(p, 7, 1000);
    p = gb_realloc(p, 100000);
    CHECK(p != NULL && p[999] == 7);
    gb_free(p);

    /* Where does gb_alloc live? */
    Dl_info info;
    CHECK(dladdr((void *)gb_alloc, &info) != 0 && info.dli_fname != NULL);
    char where[PATH_MAX] = "", self[PATH_MAX] = "";
    if (info.dli_fname) CHECK(realpath(info.dli_fname, where) != NULL);
    CHECK(realpath("/proc/self/exe", self) != NULL);
    if (strcmp(GB_EXPECT_LINK, "static") == 0) {
        CHECK(strcmp(where, self) == 0);
    } else {
        CHECK(strstr(where, "/libgraphbit_alloc.so") != NULL);
        CHECK(strcmp(where, self) != 0);
    }
    if (failures) return 1;
    printf("%s (%s): ok, %s %s, gb_alloc from %s\n", argv[0], GB_EXPECT_LINK,
           gb_allocator_name(), gb_version(), where);
    return 0;
}
