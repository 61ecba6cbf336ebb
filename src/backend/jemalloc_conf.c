/* jemalloc's built-in run-time options. jemalloc reads the string named
 * malloc_conf under its symbol prefix (`_rjem_`) before the environment, so
 * `_RJEM_MALLOC_CONF` still overrides each option at run time. Defined here,
 * in the library, so that every build of the crate (as a dependency, vendored,
 * from crates.io) runs with them; hidden, so the shared library does not
 * export it and cannot configure another copy of jemalloc in the process.
 *
 * Chosen with gb-bench (bench/tune.sh jemalloc; docs/tune-jemalloc.txt):
 * - background_thread:true,max_background_threads:1: one jemalloc thread
 *   returns freed pages to the OS along the 10 s decay curve, instead of the
 *   allocating threads purging eagerly (large blocks 0.5x -> 3x glibc's speed;
 *   a freed burst is still given back). It also keeps system calls out of the
 *   free path, which is why gb_free can be jemalloc's free itself (errno).
 * - oversize_threshold:0: no separate arena for blocks of 8 MiB and more (that
 *   arena purged them on free, so each one was faulted in again).
 * - disable_large_size_classes:false: jemalloc 5.3's large size classes (the
 *   5.3.1 snapshot rounds large blocks to pages only, which leaves a growing
 *   buffer no slack: realloc 2.4x -> 3.7x glibc's speed).
 */
#ifndef GB_WHOLE_PROCESS
__attribute__((visibility("hidden"))) const char *_rjem_malloc_conf =
    "background_thread:true,max_background_threads:1,oversize_threshold:0,"
    "disable_large_size_classes:false";
#else
/* The override library (Cargo feature `override`) serves every program it is
 * preloaded into: a thread of jemalloc's own from the first malloc would make
 * each of them multi-threaded from the start (unshare(CLONE_NEWUSER) then
 * fails, as do programs that must stay single-threaded), so there the
 * allocating threads purge, as with jemalloc's own defaults. */
__attribute__((visibility("hidden"))) const char *_rjem_malloc_conf =
    "oversize_threshold:0,disable_large_size_classes:false";
#endif

/* For the verification report: the string above, as Rust reads it. */
__attribute__((visibility("hidden"))) const char *graphbit_alloc_jemalloc_builtin_conf(void) {
    return _rjem_malloc_conf;
}
