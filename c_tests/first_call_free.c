/* A thread whose first call into graphbit-alloc frees (or resizes) a block
 * that another thread allocated, then exits at once: the backend must set up
 * its per-thread state on a free and tear it down at thread exit. Blocks are
 * also freed after the thread that allocated them has exited. Repeated for
 * many short-lived threads, a few at a time. */
#include <pthread.h>

#include "graphbit_alloc.h"
#include "gb_test.h"

enum { ROUNDS = 500, AT_ONCE = 4 };

typedef struct {
    unsigned char *block;
    size_t size;
    int how;
    unsigned char *made; /* a block this thread allocates and leaves behind */
    size_t made_size;
    int damaged;
} job_t;

static void *first_call_is_free(void *arg) {
    job_t *job = arg;
    /* No graphbit-alloc call before this one on this thread. */
    switch (job->how % 4) {
    case 0: gb_free(job->block); break;
    case 1: gb_free_sized(job->block, job->size); break;
    case 2: gb_free_aligned_sized(job->block, 64, job->size); break;
    default: {
        unsigned char *bigger = gb_realloc(job->block, job->size * 3 + 1);
        if (!bigger || !gb_intact_prefix(bigger, job->size, job->size, job->block)) job->damaged = 1;
        gb_free(bigger);
    }
    }
    if (job->how % 2) { /* half the threads leave a block behind for main to free */
        job->made_size = (size_t)job->how * 13 % 20000;
        job->made = gb_alloc(job->made_size);
        if (job->made) gb_fill(job->made, job->made_size, job->made);
    }
    return NULL;
}

int main(void) {
    uint64_t seed = 11;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t ids[AT_ONCE];
        job_t jobs[AT_ONCE];
        for (int t = 0; t < AT_ONCE; t++) {
            job_t *job = &jobs[t];
            memset(job, 0, sizeof *job);
            job->how = round * AT_ONCE + t;
            job->size = (size_t)(gb_rand(&seed) % 70000);
            job->block = job->how % 4 == 2 ? gb_aligned_alloc(64, job->size) : gb_alloc(job->size);
            REQUIRE(job->block);
            gb_fill(job->block, job->size, job->block);
        }
        for (int t = 0; t < AT_ONCE; t++)
            REQUIRE(pthread_create(&ids[t], NULL, first_call_is_free, &jobs[t]) == 0);
        for (int t = 0; t < AT_ONCE; t++) {
            REQUIRE(pthread_join(ids[t], NULL) == 0);
            CHECK(!jobs[t].damaged);
            if (jobs[t].how % 2) {
                REQUIRE(jobs[t].made);
                /* Its thread has exited; the block must be intact and freeable. */
                CHECK(gb_intact(jobs[t].made, jobs[t].made_size, jobs[t].made));
                gb_free_sized(jobs[t].made, jobs[t].made_size);
            }
        }
    }
    return gb_test_finish("first_call_free");
}
