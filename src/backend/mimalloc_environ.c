/* The environment mimalloc reads its MIMALLOC_* options from, in the shared
 * libraries built with the mimalloc backend on Linux: none in a set-user-ID
 * or other AT_SECURE process, as jemalloc reads _RJEM_MALLOC_CONF with
 * secure_getenv and glibc's loader strips its own MALLOC_* variables there.
 *
 * mimalloc reads `environ` itself (it cannot call getenv before the C
 * library is initialised) and has no switch to ignore it. build.rs links
 * each shared library with `--defsym=environ=graphbit_mimalloc_environ`, so
 * that mimalloc's (and only this library's) references to `environ` read the
 * variable below instead: NULL (no environment) until the constructor has
 * run, then the process's environment, or an empty one under AT_SECURE.
 * mimalloc leaves an option it did not find unread while it is still
 * "preloading" (until its own constructor has run), so an allocation before
 * this constructor finds nothing and the option is read again later; the
 * constructor's priority puts it before mimalloc's (default priority). */
#include <stddef.h>
#include <sys/auxv.h>

extern char **__environ; /* glibc's name of the process's environment */

static char *graphbit_mimalloc_no_environment[1] = {NULL};

__attribute__((visibility("hidden"))) char **graphbit_mimalloc_environ;

/* Before mimalloc's constructor (which reads every option). */
__attribute__((constructor(101))) static void graphbit_mimalloc_environ_init(void) {
    graphbit_mimalloc_environ = getauxval(AT_SECURE) ? graphbit_mimalloc_no_environment : __environ;
}
