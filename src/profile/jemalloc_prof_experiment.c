/* An experiment, not part of any shipped library: built only with
 * GB_JEPROF_EXPERIMENT=1 in the environment of the build (build.rs), for
 * gb-bench/scripts/profile_jemalloc.sh. With jemalloc's own profiler compiled
 * in (tikv-jemalloc-sys's `profiling` feature), it gives jemalloc's sampler
 * libunwind's stacks instead of libgcc's: at load time it looks for
 * libunwind.so.8 (Debian's libunwind8), makes libunwind's caches per-thread
 * (as src/profile/stack.rs does), and sets jemalloc 5.3.1's
 * experimental.hooks.prof_backtrace to unw_backtrace. Nothing reads the
 * samples: the script counts what taking them costs. */
#include <dlfcn.h>
#include <stddef.h>

int _rjem_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

typedef int (*gb_backtrace_fn)(void **, int);
static gb_backtrace_fn gb_backtrace;

static void gb_jeprof_backtrace(void **frames, unsigned *len, unsigned max) {
    int n = gb_backtrace(frames, (int)max);
    *len = n > 0 ? (unsigned)n : 0;
}

__attribute__((constructor)) static void gb_jeprof_experiment(void) {
    void *unwind = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!unwind) return;
    gb_backtrace = (gb_backtrace_fn)dlsym(unwind, "unw_backtrace");
    void **space = (void **)dlsym(unwind, "_ULx86_64_local_addr_space");
    int (*policy)(void *, int) = (int (*)(void *, int))dlsym(unwind, "_ULx86_64_set_caching_policy");
    if (policy && space) policy(*space, 2 /* UNW_CACHE_PER_THREAD */);
    void (*hook)(void **, unsigned *, unsigned) = gb_jeprof_backtrace;
    if (gb_backtrace) _rjem_mallctl("experimental.hooks.prof_backtrace", NULL, NULL, &hook, sizeof hook);
}
