/* Runs a test body in forked children (for limits a child sets on itself,
 * such as RLIMIT_AS): each must exit 0, neither with another status nor by a
 * signal. Then the parent, which never hit the limit, must still allocate. */
#ifndef GB_CHILD_H
#define GB_CHILD_H

#include <sys/wait.h>
#include <unistd.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

/* The process's mapped address space now (/proc/self/statm), in bytes: a
 * child sets its RLIMIT_AS relative to it, since each backend reserves
 * differently (mimalloc 3 reserves whole arenas up front). */
static inline size_t gb_mapped_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Waits for child `pid` (run number `run`): true if it exited 0; otherwise
 * says how it ended on stderr. */
static inline int gb_wait_child(pid_t pid, int run) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
    fprintf(stderr, "child %d: %s %d\n", run, WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 0;
}

static inline void gb_run_children(int runs, int (*child)(void)) {
    for (int run = 0; run < runs; run++) {
        fflush(stdout);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) _exit(child());
        if (!gb_wait_child(pid, run)) gb_test_failures++;
    }
    void *p = gb_alloc(1 << 20);
    CHECK(p != NULL);
    gb_free(p);
}

#endif
