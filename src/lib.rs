//! # graphbit-alloc
//!
//! A fast general-purpose allocator for C, C++ and other FFI hosts: jemalloc on
//! Linux, mimalloc on macOS and Windows, the C library's `malloc` elsewhere,
//! behind a small C ABI (`gb_alloc`, `gb_free`, ...) declared in
//! `include/graphbit_alloc.h`.
//!
//! The backend is chosen at build time (Cargo feature `backend-auto`, the
//! default, or one of `backend-jemalloc`, `backend-mimalloc`,
//! `backend-system`). Three variants of the
//! library share this source: the default (initial-exec TLS, for programs
//! that link it at start-up), `dlopen` (loadable with `dlopen`) and `checked`
//! (every free checked).
//!
//! ## In a Rust program
//! [`GraphbitAlloc`] is the backend as a Rust global allocator, which a
//! program installs itself (as with `tikv-jemallocator` or `mimalloc`); the
//! default features install nothing, so a crate may depend on this one and
//! keep any `#[global_allocator]` of its own:
//!
//! ```toml
//! [dependencies]
//! graphbit-alloc = "0.1"
//! ```
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: graphbit_alloc::GraphbitAlloc = graphbit_alloc::GraphbitAlloc;
//! ```
//!
//! The feature `global-allocator` (not a default) installs [`GraphbitAlloc`]
//! from inside the library instead: the C library builds (CMake, the Python
//! wheel, gb-bench; `cargo build --features global-allocator`) turn it on, so
//! the library's own Rust allocations go to the backend, and `override`
//! implies it. Features only add: if any crate in a build turns it on, the
//! library's allocator is the program's, and the program declares none.
//!
//! The C API's extras as safe Rust: [`stats`], [`trim`], [`verify`] (and
//! [`verify_report`], saying why), [`owns`], [`allocator_name`],
//! [`allocator_version`], [`version`], [`backend_stats_text`], [`Heap`]
//! (`gb_heap_*`), [`profile_start`], [`profile_stop`], [`profile_dump`],
//! [`profile_dump_peak`], [`thread_idle`]; the `gb_*` functions themselves
//! are here too, for what needs raw pointers.
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
/// `profile_hook!(before_free(ptr))`; nothing without the feature.
#[allow(unused_macros)]
macro_rules! profile_hook {
    ($($call:tt)*) => {
        #[cfg(feature = "profiling")]
        crate::profile::$($call)*;
    };
}

/// A hidden entry point for src/override/new.cpp: a symbol `$name` that
/// jumps to `$target`, global in the link but absent from the library's
/// exports (the override exports exactly the malloc family, new/delete and
/// the gb_* API). Used by the checked and hardened overrides.
#[cfg(any(feature = "override-checked", feature = "override-hardened"))]
macro_rules! hidden_entry {
    ($name:literal, $target:path) => {
        #[cfg(target_arch = "x86_64")]
        core::arch::global_asm!(
            concat!(".globl ", $name),
            concat!(".hidden ", $name),
            concat!(".type ", $name, ",@function"),
            concat!($name, ":"),
            "jmp {target}",
            target = sym $target,
        );
        #[cfg(target_arch = "aarch64")]
        core::arch::global_asm!(
            concat!(".globl ", $name),
            concat!(".hidden ", $name),
            concat!(".type ", $name, ",%function"),
            concat!($name, ":"),
            "b {target}",
            target = sym $target,
        );
    };
}

// The C API first: cbindgen writes the header in module order.
pub mod ffi;

mod api;
/// Heaps, profiles and the idle hint as safe Rust.
///
/// cbindgen:ignore
mod api_heap;
mod backend;
// Compiled in every build (so it cannot rot), called only with `checked`.
#[cfg_attr(not(feature = "checked"), allow(dead_code))]
mod checked;
/// The checked override (Cargo feature `override-checked`).
///
/// cbindgen:ignore
#[cfg(feature = "override-checked")]
mod checked_override;
pub mod diagnostics;
mod global;
/// Sampled guarded blocks, for the hardened and the checked override.
///
/// cbindgen:ignore
#[cfg(any(feature = "override-checked", feature = "override-hardened"))]
mod guarded;
/// The hardened override (Cargo feature `override-hardened`).
///
/// cbindgen:ignore
#[cfg(feature = "override-hardened")]
mod hardened;
/// Heaps (`gb_heap_*`): the limit, the counters, each backend's memory.
mod heap;
/// The whole-process malloc family (Cargo feature `override`): not part of
/// the prefixed C API, so not in its header.
///
/// cbindgen:ignore
#[cfg(feature = "override")]
mod r#override;
/// Sampled heap profiles (Cargo feature `profiling`).
///
/// cbindgen:ignore
#[cfg(feature = "profiling")]
mod profile;
mod sys;

/// The allocator behind the C functions: the backend, or in the checked and
/// hardened overrides the wrapper around it (their records and sampled
/// blocks count as the library's, and the backend never sees a guarded
/// block).
#[cfg(not(any(feature = "override-checked", feature = "override-hardened")))]
use backend::Selected as Allocator;
#[cfg(feature = "override-checked")]
use checked_override::Checked as Allocator;
#[cfg(feature = "override-hardened")]
use hardened::Hardened as Allocator;

pub use api::*;
pub use api_heap::{
    profile_dump, profile_dump_peak, profile_start, profile_stop, thread_idle, Heap, HeapStats,
};
pub use ffi::*;
pub use global::GraphbitAlloc;

/// Rust's own allocations inside the library (and in a Rust program that
/// links the rlib) go through the same backend as `gb_alloc`.
#[cfg(feature = "global-allocator")]
#[global_allocator]
static GLOBAL: GraphbitAlloc = GraphbitAlloc;
