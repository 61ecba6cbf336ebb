//! # graphbit-alloc
//!
//! A fast general-purpose allocator for C, C++ and other FFI hosts: jemalloc on
//! Linux, mimalloc on macOS and Windows, the C library's `malloc` elsewhere,
//! behind a small C ABI (`gb_alloc`, `gb_free`, ...) declared in
//! `include/graphbit_alloc.h`.
//!
//! The backend is chosen at build time (Cargo feature `backend-auto`, the
//! default, or one of `backend-jemalloc`, `backend-mimalloc`,
//! `backend-system`) and is also installed as Rust's `#[global_allocator]`
//! unless the `no-global-allocator` feature is set. Three variants of the
//! library share this source: the default (initial-exec TLS, for programs
//! that link it at start-up), `dlopen` (loadable with `dlopen`) and `checked`
//! (every free checked).
//!
//! ## Error handling
//! Functions that return a pointer return NULL on failure and set `errno`:
//! `ENOMEM` when the memory cannot be had (including any size above
//! `PTRDIFF_MAX`), `EINVAL` for
//! an alignment that is not a power of two. `gb_free` and `gb_free_sized` never
//! change `errno`. Nothing panics across the boundary: the crate is built with
//! `panic = "abort"` and the exported functions contain no panicking code.
//!
//! ## Thread safety
//! Every function may be called from any thread at any time; memory may be
//! freed by a thread other than the one that allocated it.
//!
//! ## Compatibility
//! While the version is 0.x, the shared library's SONAME is
//! `libgraphbit_alloc.so.0.<minor>`: a minor release may change the ABI. The
//! header's `GB_VERSION_NUMBER` and the runtime `gb_version_number()` catch a
//! header/library mismatch.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(all(feature = "backend-jemalloc", feature = "backend-mimalloc"))]
compile_error!(
    "features `backend-jemalloc` and `backend-mimalloc` are exclusive: pick one backend"
);
#[cfg(all(feature = "backend-jemalloc", feature = "backend-system"))]
compile_error!("features `backend-jemalloc` and `backend-system` are exclusive: pick one backend");
#[cfg(all(feature = "backend-mimalloc", feature = "backend-system"))]
compile_error!("features `backend-mimalloc` and `backend-system` are exclusive: pick one backend");

/// A hook of the heap profiler (`src/profile/`, Cargo feature `profiling`):
/// `profile_hook!(after_alloc(block, size))`; nothing without the feature.
#[allow(unused_macros)]
macro_rules! profile_hook {
    ($($call:tt)*) => {
        #[cfg(feature = "profiling")]
        crate::profile::$($call)*;
    };
}

mod backend;
// Compiled in every build (so it cannot rot), called only with `checked`.
#[cfg_attr(not(feature = "checked"), allow(dead_code))]
mod checked;
pub mod diagnostics;
mod errno;
/// `GB_STATS_AT_EXIT=1`: a summary on stderr at exit (ELF platforms).
#[cfg(target_os = "linux")]
mod exit_stats;
pub mod ffi;
/// The whole-process malloc family (Cargo feature `override`): not part of
/// the prefixed C API, so not in its header.
///
/// cbindgen:ignore
#[cfg(feature = "override")]
mod override_malloc;
/// Sampled heap profiles (Cargo feature `profiling`).
///
/// cbindgen:ignore
#[cfg(feature = "profiling")]
mod profile;
mod verify;

pub use ffi::*;

/// Rust's own allocations inside the library (and in a Rust program that
/// links the rlib) go through the same backend as `gb_alloc`.
#[cfg(not(feature = "no-global-allocator"))]
#[global_allocator]
static GLOBAL: backend::RustAllocator = backend::RUST_ALLOCATOR;
