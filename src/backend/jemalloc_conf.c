/* jemalloc's built-in run-time options. jemalloc reads the string named
 * malloc_conf under its symbol prefix (`_rjem_`) before the environment, so
 * `_RJEM_MALLOC_CONF` still overrides each option at run time. Defined here,
 * in the library, so that every build of the crate (as a dependency, vendored,
 * from crates.io) runs with them; hidden, so the shared library does not
 * export it and cannot configure another copy of jemalloc in the process.
 *
 * Chosen with gb-bench (gb-bench/scripts/tune.sh jemalloc, gb-bench/scripts/tune-server.sh); the
 * measurements behind each are in docs/tuning.md (runs: docs/tune-jemalloc.txt,
 * docs/tune-server.txt):
 * - background_thread:true,max_background_threads:1: one jemalloc thread
 *   returns freed pages to the OS along the decay curve, instead of the
 *   allocating threads purging eagerly (much faster on large blocks; a freed
 *   burst is still given back). It also keeps system calls out of the free
 *   path, which is why gb_free can be jemalloc's free itself (errno).
 * - oversize_threshold:0: no separate arena for blocks of 8 MiB and more (that
 *   arena purged them on free, so each one was faulted in again).
 * - disable_large_size_classes:false: jemalloc 5.3's large size classes (the
 *   5.3.1 snapshot rounds large blocks to pages only, which leaves a growing
 *   buffer no slack, and realloc slower).
 * - dirty_decay_ms:1000: freed pages are kept dirty for 1 s, not 10: a lower
 *   peak RSS on the server workload at the same requests/s.
 * - percpu_arena:percpu,tcache_max:4096,tcache_nslots_small_max:64
 *   (docs/memory.md): one arena per CPU, chosen by the CPU the thread runs
 *   on; no thread caches blocks above 4 KiB (jemalloc's TUNING.md,
 *   "prioritize memory"), and at most 64 of each small size (jemalloc: 200):
 *   a lower peak RSS on the server and the built-in workloads at the same
 *   speed within noise.
 */
/* The profiling variants (Cargo feature `profiling`, GB_PROFILING here) build
 * jemalloc with its sampler, which their shared libraries use
 * (src/backend/jemalloc_sampler.rs): enabled, inactive until
 * gb_profile_start or GB_PROFILE. Other builds have no such options (jemalloc
 * would print "Invalid conf pair" for them). cache_oblivious:false: jemalloc
 * places a sampled block on a page boundary, and with cache-oblivious large
 * blocks (at a random offset in their first page) every sampled resize of a
 * large block then moved and copied it: 1.40x the instructions per realloc of
 * profiling off on gb-bench's realloc workload, 1.01x without
 * (docs/profiling.md, Cost). */
#ifdef GB_PROFILING
#define GB_PROF_CONF ",prof:true,prof_active:false,lg_prof_sample:19,cache_oblivious:false"
#else
#define GB_PROF_CONF ""
#endif
#ifndef GB_WHOLE_PROCESS
__attribute__((visibility("hidden"))) const char *_rjem_malloc_conf =
    "background_thread:true,max_background_threads:1,oversize_threshold:0,"
    "disable_large_size_classes:false,dirty_decay_ms:1000,"
    "percpu_arena:percpu,tcache_max:4096,tcache_nslots_small_max:64" GB_PROF_CONF;
#else
/* The override library (Cargo feature `override`) serves every program it is
 * preloaded into: a thread of jemalloc's own from the first malloc would make
 * each of them multi-threaded from the start (unshare(CLONE_NEWUSER) then
 * fails, as do programs that must stay single-threaded). So it starts
 * without one, and starts it (one thread) only when the process first asks
 * for a block of 1 MiB or more (graphbit_alloc_start_background_thread
 * below): where the allocating threads would otherwise purge the freed large
 * blocks themselves and fault them in again (docs/whole-process.md, "The
 * background thread on demand"). Small programs (shells, git, most tools)
 * never get the thread. */
#define _GNU_SOURCE /* secure_getenv */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

__attribute__((visibility("hidden"))) const char *_rjem_malloc_conf =
    "max_background_threads:1,oversize_threshold:0,disable_large_size_classes:false,"
    "dirty_decay_ms:1000,percpu_arena:percpu,tcache_max:4096,tcache_nslots_small_max:64" GB_PROF_CONF;

int _rjem_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

static atomic_bool graphbit_alloc_background_asked;

/* Called by the override's allocation functions (src/override/glibc.rs
 * through Backend::before_large_request, src/override/new.cpp) before each
 * request of LARGE_BLOCK (src/backend/large_block.rs, 1 MiB) or more, a cost
 * next to such a block's own: the first time, starts jemalloc's background
 * thread, unless _RJEM_MALLOC_CONF names background_thread (then the user's
 * setting stands). Runs once per
 * process, outside jemalloc's locks; the thread's own creation allocates
 * through malloc again, which finds the flag set. A child made by fork
 * inherits the flag and runs without the thread, as jemalloc's children do. */
__attribute__((visibility("hidden"), cold, noinline)) void graphbit_alloc_start_background_thread(void) {
    if (atomic_load_explicit(&graphbit_alloc_background_asked, memory_order_relaxed)) return;
    if (atomic_exchange_explicit(&graphbit_alloc_background_asked, true, memory_order_relaxed)) return;
    const char *conf = secure_getenv("_RJEM_MALLOC_CONF");
    if (conf && strstr(conf, "background_thread")) return;
    bool on = true;
    _rjem_mallctl("background_thread", NULL, NULL, &on, sizeof on);
}

#endif

/* jemalloc writes its messages to stderr through malloc_message. One of them
 * is not the host's business: "background thread creation failed" (under
 * RLIMIT_NPROC or a container's pids limit), about the thread the built-in
 * options ask for; without it the allocating threads return freed memory
 * themselves, and gb_trim reports the error. This filter drops that message
 * and writes the others as jemalloc would, allocating nothing. It is
 * installed when the library is loaded (this object is linked whole, so the
 * constructor below is in every program), unless the host set its own. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void graphbit_alloc_write_all(const char *text, size_t left) {
    while (left > 0) {
        ssize_t n = write(2, text, left);
        if (n <= 0) return;
        text += n;
        left -= (size_t)n;
    }
}

extern void (*_rjem_malloc_message)(void *opaque, const char *text);

static void graphbit_alloc_message_filter(void *opaque, const char *text) {
    (void)opaque;
    if (text == NULL) return;
    if (strncmp(text, "<jemalloc>: ", 12) == 0 && strstr(text, "background thread creation failed"))
        return;
    graphbit_alloc_write_all(text, strlen(text));
}

/* jemalloc's safety checks (JEMALLOC_OPT_SAFETY_CHECKS, which this
 * repository's builds define through CPPFLAGS in .cargo/config.toml) stop the
 * process on a double free of a large block ("pages being freed ... not
 * currently active") and on metadata they find corrupt. jemalloc writes the
 * report without a newline and aborts; this hook writes it as the library's
 * other reports are written, one line with the library's name, then aborts.
 * jemalloc's internal setter is a weak reference: a jemalloc without it
 * keeps its own report. */
__attribute__((weak, visibility("hidden"))) void _rjem_je_safety_check_set_abort(
    void (*abort_fn)(const char *message));

static void graphbit_alloc_safety_abort(const char *message) {
    static const char prefix[] = "graphbit-alloc: jemalloc: ";
    graphbit_alloc_write_all(prefix, sizeof prefix - 1);
    size_t length = message ? strlen(message) : 0;
    while (length > 0 && message[length - 1] == '\n') length--;
    graphbit_alloc_write_all(message, length);
    graphbit_alloc_write_all("\n", 1);
    abort();
}

/* Both hooks are installed when the library is loaded. */
__attribute__((constructor)) static void graphbit_alloc_install_jemalloc_hooks(void) {
    if (_rjem_malloc_message == NULL) _rjem_malloc_message = graphbit_alloc_message_filter;
    if (_rjem_je_safety_check_set_abort) _rjem_je_safety_check_set_abort(graphbit_alloc_safety_abort);
}

/* For the verification report: the string above, as Rust reads it. */
__attribute__((visibility("hidden"))) const char *graphbit_alloc_jemalloc_builtin_conf(void) {
    return _rjem_malloc_conf;
}
