//! The allocator behind the C API, chosen at build time.
//!
//! Every backend module defines a unit struct `Backend` that implements
//! [`Heap`], the one list of allocation functions the C API needs, plus the
//! same set of free functions for introspection (`version`, `stats`, `trim`,
//! ...). `build.rs` sets `cfg(gb_backend = "...")` to compile one module; the
//! C API calls `Backend`'s functions directly (static dispatch, inlined), so
//! on the hot path there is nothing between the C function and the backend's
//! own entry point. CI builds every backend, so a function missing from one
//! fails its build there.

use core::ffi::c_void;

#[cfg(gb_backend = "jemalloc")]
mod jemalloc;
#[cfg(gb_backend = "jemalloc")]
pub use jemalloc::*;

#[cfg(gb_backend = "mimalloc")]
mod mimalloc;
#[cfg(gb_backend = "mimalloc")]
pub use self::mimalloc::*;

#[cfg(gb_backend = "system")]
mod system;
#[cfg(gb_backend = "system")]
pub use system::*;

/// The allocation functions of a backend. Each one implements the whole
/// contract of the C function it serves (see `src/ffi/alloc.rs`), except what
/// the C API layer checks before calling it, as each function's comment says.
/// Where the backend's own entry point already keeps a row of the contract
/// (jemalloc refuses any size above its largest size class, which is below
/// `PTRDIFF_MAX`, with `ENOMEM`), the implementation does not check it again;
/// `c_tests/api_contract.c` proves every row on every backend.
pub(crate) trait Heap {
    /// `gb_alloc`: any size; above `PTRDIFF_MAX` or out of memory: NULL and
    /// `ENOMEM`; 0 returns a unique block.
    unsafe fn alloc(size: usize) -> *mut c_void;
    /// `gb_calloc`: zeroed; an overflowing product or one above
    /// `PTRDIFF_MAX`: NULL and `ENOMEM`; a zero count or size returns a
    /// unique block.
    unsafe fn calloc(count: usize, size: usize) -> *mut c_void;
    /// `gb_realloc` for a live block `ptr` (or NULL) and any size; size 0
    /// returns a unique minimal block; failure: NULL, `ENOMEM`, `ptr` kept.
    unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    /// `gb_aligned_alloc` once the C API has checked that `alignment` is a
    /// power of two and `size` rounded up to it is at most `PTRDIFF_MAX`;
    /// failure: NULL and `ENOMEM`.
    unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void;
    /// `gb_free`: NULL or a live block; keeps `errno`.
    unsafe fn free(ptr: *mut c_void);
    /// `gb_free_sized` for a live block `ptr` (never NULL) from `alloc`,
    /// `calloc` or `realloc` of `size` (at most `PTRDIFF_MAX`); keeps `errno`.
    unsafe fn free_sized(ptr: *mut c_void, size: usize);
    /// `gb_free_aligned_sized` for a live block (never NULL) from
    /// `aligned_alloc(alignment, size)`; keeps `errno`.
    unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize);
    /// `gb_usable_size` for a live block (never NULL).
    unsafe fn usable_size(ptr: *const c_void) -> usize;
}

/// The backend's own statistics, in bytes; `None` where it does not keep one.
#[derive(Default, Debug, Clone, Copy)]
pub struct Stats {
    /// Bytes in live allocations (or the closest figure the backend keeps).
    pub allocated: Option<u64>,
    /// Bytes in pages that hold live allocations.
    pub active: Option<u64>,
    /// Bytes of the backend's memory resident in RAM.
    pub resident: Option<u64>,
    /// Bytes the backend has mapped from the OS.
    pub mapped: Option<u64>,
    /// Bytes the backend keeps mapped but unused (returned to the OS lazily).
    pub retained: Option<u64>,
    /// Allocations made since start-up, where the backend counts them.
    pub allocations: Option<u64>,
}
