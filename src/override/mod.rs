//! Whole-process mode (Cargo feature `override`, library
//! `libgraphbit_alloc_override.so`): the process's `malloc` family and every
//! C++ `operator new`/`delete`, served by the backend, for
//! `LD_PRELOAD=libgraphbit_alloc_override.so program` or for linking the
//! library before the C library. The prefixed `gb_*` API is exported as well,
//! on the same backend instance.
//!
//! Each function calls the backend's entry point directly (`Selected`, the
//! [`Backend`](crate::backend::Backend) the `gb_*` functions use): `malloc`,
//! `free`, `calloc` are tail calls into jemalloc or mimalloc. What the C
//! standard and glibc leave open is done as glibc 2.36 does it (the library
//! is a drop-in replacement for it), each row checked side by side against
//! glibc by `c_tests/override/override_semantics.c` (`tests/override.sh`):
//!
//! | call | result |
//! |---|---|
//! | `malloc(0)` | a unique, freeable block |
//! | any size above `PTRDIFF_MAX` | NULL, `ENOMEM` |
//! | `calloc` whose product overflows | NULL, `ENOMEM` |
//! | `realloc(NULL, n)` | `malloc(n)` (so `realloc(NULL, 0)` is a block) |
//! | `realloc(p, 0)`, `p` not NULL | frees `p`, returns NULL, `errno` kept (glibc's `REALLOC_ZERO_BYTES_FREES`) |
//! | `realloc` failure | NULL, `ENOMEM`, `p` kept |
//! | `reallocarray(p, n, m)` | `ENOMEM` when `n * m` overflows, else `realloc(p, n * m)` |
//! | `memalign(a, n)`, `aligned_alloc(a, n)` | glibc 2.36's `_mid_memalign`: `a` above `SIZE_MAX / 2 + 1`: `EINVAL`; any other `a` is rounded up to a power of two (0 and 1 mean `malloc`'s alignment); `aligned_alloc` is `memalign` (glibc 2.38 rejects non-powers of two, 2.36 does not) |
//! | `posix_memalign(&p, a, n)` | returns `EINVAL` (errno untouched) unless `a` is a power of two multiple of `sizeof(void *)`; returns `ENOMEM` when out of memory, with `errno` also `ENOMEM` as glibc 2.36 leaves it; `p` untouched on failure |
//! | `valloc(n)` | `memalign(page, n)` |
//! | `pvalloc(n)` | `memalign(page, n rounded up to pages)`; `ENOMEM` on overflow |
//! | `malloc_usable_size(NULL)` | 0 |
//! | `free`, `cfree`, `free_sized`, `free_aligned_sized` | never change `errno`; NULL is a no-op |
//!
//! glibc's own extensions answer from the backend's statistics (see each
//! function). The backend's thread-local state uses initial-exec TLS: the
//! library is loaded at start-up (preload or link), never with `dlopen`.
//! Nothing on the allocation paths needs a constructor: the backend
//! initialises itself on its first call, which may come from the dynamic
//! loader before any constructor has run, and no allocation path calls
//! `dlsym`. One constructor (`at_load`, at the end) only checks that the
//! library was not loaded with `dlopen` after start-up, and says so if it
//! was.
//!
//! The rooms: `glibc.rs` (glibc's rules, as ordinary functions), `exports.rs`
//! (the C library's names, one line each), `extensions.rs` (glibc's
//! statistics and tunables), `cxx.rs` and `new.cpp` (C++ `new`/`delete`).

mod cxx;
mod exports;
mod extensions;
mod glibc;
mod guard;

#[cfg(feature = "override-hardened")]
pub(crate) use guard::exclude as exclude_from_guard;

#[cfg(feature = "checked")]
compile_error!("features `override` and `checked` cannot be combined");
#[cfg(feature = "dlopen")]
compile_error!(
    "features `override` and `dlopen` cannot be combined: the override is loaded at start-up \
     (LD_PRELOAD or linked first), where initial-exec TLS is right"
);
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!("feature `override` is implemented for Linux on x86-64 and AArch64 only");

/// At load time: if the process's `malloc` is not this library's, the library
/// was loaded with `dlopen` after start-up (possible only where glibc has
/// static TLS to spare, `GLIBC_TUNABLES=glibc.rtld.optional_static_tls`;
/// otherwise `dlopen` already failed with "cannot allocate memory in static
/// TLS block"). Every block the process already has, and every one it gets
/// from `malloc` later, is the C library's: say so in one line on stderr.
/// The `gb_*` functions still work. Preloaded or linked, the check finds
/// this library's `malloc` and prints nothing.
#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;

extern "C" fn at_load() {
    if crate::diagnostics::verify::process_malloc_block_is_backends() {
        return;
    }
    let line = b"graphbit-alloc: libgraphbit_alloc_override.so was loaded after start-up \
(dlopen), so the process's malloc is still the C library's; preload it \
(LD_PRELOAD=/path/to/libgraphbit_alloc_override.so) or link it before the C library\n";
    crate::sys::write_stderr(line);
}
