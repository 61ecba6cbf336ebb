//! The allocator behind the C API, chosen at build time.
//!
//! [`Backend`] is the whole interface a backend provides, declared once with
//! a one-line contract per item (as mimalloc's `prim.h` declares its platform
//! layer). Each backend module implements it on its own type (`Jemalloc`,
//! `Mimalloc`, `System`), and [`Selected`] names the one `build.rs` chose
//! (`cfg(gb_backend = "...")`): the only place a backend is picked. The C API
//! calls `Selected`'s functions directly (static dispatch, inlined), so on the
//! hot path there is nothing between the C function and the backend's own
//! entry point. CI builds every backend, so an item missing from one fails
//! its build there. No `cfg(gb_backend)` appears outside this folder.

use core::ffi::{c_int, c_void, CStr};

#[cfg(gb_backend = "jemalloc")]
mod jemalloc;
#[cfg(all(gb_backend = "jemalloc", feature = "profiling"))]
mod jemalloc_sampler;
/// The backend this build uses.
#[cfg(gb_backend = "jemalloc")]
pub(crate) type Selected = jemalloc::Jemalloc;

#[cfg(gb_backend = "mimalloc")]
mod mimalloc;
/// The backend this build uses.
#[cfg(gb_backend = "mimalloc")]
pub(crate) type Selected = self::mimalloc::Mimalloc;

#[cfg(gb_backend = "system")]
mod system;
/// The backend this build uses.
#[cfg(gb_backend = "system")]
pub(crate) type Selected = system::System;

/// Largest size any function accepts: `PTRDIFF_MAX`.
pub(crate) const MAX_SIZE: usize = isize::MAX as usize;

// `LARGE_BLOCK`, shared with build.rs (which hands it to the C++ side).
include!("large_block.rs");

/// Everything a backend provides. The allocation functions each implement the
/// whole contract of the C function they serve (see `src/ffi/alloc.rs`),
/// except what the C API layer checks before calling them, as each item says.
/// Where the backend's own entry point already keeps a row of the contract
/// (jemalloc refuses any size above its largest size class, which is below
/// `PTRDIFF_MAX`, with `ENOMEM`), the implementation does not check it again;
/// `c_tests/api_contract.c` proves every row on every backend.
pub(crate) trait Backend {
    // Allocation.

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
    /// `free` as a C function (the same contract): what `gb_free` jumps to
    /// while no heap and no profile sample is live (`src/heap/mod.rs`,
    /// `FREE`), so that it jumps straight into the backend where the
    /// backend's own entry point keeps the contract.
    /// ([`free_of`] where the backend's entry point is not one itself.)
    const C_FREE: unsafe extern "C" fn(*mut c_void);
    /// `gb_free_sized` for a live block `ptr` (never NULL) from `alloc`,
    /// `calloc` or `realloc` of `size` (at most `PTRDIFF_MAX`); keeps `errno`.
    unsafe fn free_sized(ptr: *mut c_void, size: usize);
    /// `gb_free_aligned_sized` for a live block (never NULL) from
    /// `aligned_alloc(alignment, size)`; keeps `errno`.
    unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize);
    /// `gb_usable_size` for a live block (never NULL).
    unsafe fn usable_size(ptr: *const c_void) -> usize;

    // Rust's allocations.

    /// The backend's own Rust allocator, behind `GraphbitAlloc` (src/global.rs).
    type RustAllocator: core::alloc::GlobalAlloc;
    /// The value `GraphbitAlloc` forwards to.
    const RUST_ALLOCATOR: Self::RustAllocator;

    // Whole-process mode (src/override/).

    /// Whether [`Backend::before_large_request`] does anything: when false,
    /// the override's `malloc` skips the size comparison altogether.
    #[cfg_attr(not(feature = "override"), allow(dead_code))]
    const WATCHES_LARGE_REQUESTS: bool = false;
    /// Called by the override before a request of [`LARGE_BLOCK`] bytes or
    /// more (jemalloc: starts its background thread, once per process).
    #[cfg_attr(not(feature = "override"), allow(dead_code))]
    #[inline(always)]
    fn before_large_request() {}
    /// Runs an allocation of the override and returns its block; on success
    /// `errno` must be as before (glibc never changes it then).
    #[cfg_attr(not(feature = "override"), allow(dead_code))]
    #[inline(always)]
    fn keeping_errno_on_success(allocate: impl FnOnce() -> *mut c_void) -> *mut c_void {
        allocate()
    }

    // Heap profiles (src/profile/, feature `profiling`).

    /// Whether the backend has a sampler of its own for the profiler
    /// (jemalloc's, compiled in by the feature): [`Backend::sampler_start`]
    /// can work.
    #[cfg(feature = "profiling")]
    const OWN_SAMPLER: bool = false;
    /// Starts the backend's sampler at a mean interval of `2^lg_interval`
    /// bytes, forgetting its earlier samples; it then reports each sampled
    /// block to `crate::profile::backend_sampled` with a stack from
    /// `crate::profile::stack::capture_in_library`, and each sampled
    /// block's free to `crate::profile::backend_freed`. 0 or an errno value.
    #[cfg(feature = "profiling")]
    fn sampler_start(_lg_interval: u32) -> c_int {
        libc::ENOTSUP
    }
    /// Whether [`Backend::sampler_start`] can work in this process (the
    /// backend's sampler was not turned off by its own options).
    #[cfg(feature = "profiling")]
    fn sampler_available() -> bool {
        Self::OWN_SAMPLER
    }
    /// `alloc` as a C function (the same contract): what the profiling
    /// library's `gb_alloc` jumps to while the entry points' sampler is off
    /// (`crate::ffi::ALLOC`). ([`alloc_of`] where the backend's entry point
    /// is not one itself.)
    #[cfg(feature = "profiling")]
    #[allow(dead_code)] // read where gb_alloc jumps (x86-64 Linux)
    const C_ALLOC: unsafe extern "C" fn(usize) -> *mut c_void = alloc_of::<Self>;
    /// Stops the backend's sampler (the frees of sampled blocks are still
    /// reported).
    #[cfg(feature = "profiling")]
    fn sampler_stop() {}
    /// The usable size of a block of `size` bytes (any size), 0 if unknown:
    /// a resize that keeps it keeps the block.
    #[cfg(feature = "profiling")]
    fn usable_size_of(_size: usize) -> usize {
        0
    }

    // Introspection (src/ffi/info.rs, src/diagnostics/).

    /// The name `gb_allocator_name` reports.
    const NAME: &'static CStr;
    /// How the backend's thread-local state is reached, for the report.
    const TLS_MODEL: &'static str;
    /// Whether [`Backend::owns`] can tell this backend's blocks from others.
    const CAN_TELL_OWNERSHIP: bool;
    /// What [`Backend::allocation_counter`] counts.
    #[allow(dead_code)] // read by the tests, which expect what it says
    const COUNTER: Counter;
    /// Whether the backend is the C library's `malloc` (so Rust's default
    /// allocator is the backend too).
    #[allow(dead_code)] // as COUNTER
    const IS_C_LIBRARY_MALLOC: bool = false;
    /// The backend's version string; allocates nothing.
    fn version() -> &'static CStr;
    /// True if `ptr` (any value) lies in the backend's live memory; false
    /// whenever `CAN_TELL_OWNERSHIP` is false.
    fn owns(ptr: *const c_void) -> bool;
    /// A byte counter that grows with this process's allocations (`None`
    /// where the backend keeps none), for the verification probes.
    fn allocation_counter() -> Option<u64>;
    /// The backend's statistics, fresh; allocates nothing.
    fn stats() -> Stats;
    /// Whether the backend keeps statistics (built with them).
    fn stats_enabled() -> bool;
    /// The calling thread is going idle: its cached blocks go back to the
    /// backend's shared pool; 0 or an error code; keeps errno.
    fn thread_idle() -> c_int;
    /// Returns unused memory to the OS now; 0 or an error code.
    fn trim() -> c_int;
    /// The run-time options that decide the speed/footprint trade-off, as in
    /// effect; allocates nothing.
    fn settings() -> crate::diagnostics::Settings;
    /// The backend's own statistics report, as it writes it, into `out`.
    fn detailed_stats(out: &mut dyn core::fmt::Write) -> core::fmt::Result;
}

/// What a backend's allocation counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // each build constructs its backend's variant only
pub(crate) enum Counter {
    /// It keeps none.
    None,
    /// The calling thread's allocated bytes, exactly (by size class).
    PerThread,
    /// The process's bytes in use, moved by every thread.
    ProcessWide,
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

/// `B::alloc` as a C function: [`Backend::C_ALLOC`] for a backend whose own
/// allocation function is not a C entry point that keeps the contract.
///
/// # Safety
/// None beyond `B::alloc`'s: any size.
#[cfg(feature = "profiling")]
#[allow(dead_code)] // as C_ALLOC
pub(crate) unsafe extern "C" fn alloc_of<B: Backend + ?Sized>(size: usize) -> *mut c_void {
    // SAFETY: any size.
    unsafe { B::alloc(size) }
}

/// `B::free` as a C function: [`Backend::C_FREE`] for a backend whose own
/// `free` is not a C entry point that keeps the contract.
///
/// # Safety
/// NULL or a live block of `B`.
#[cfg_attr(
    all(
        gb_backend = "jemalloc",
        not(any(feature = "override-hardened", feature = "override-checked"))
    ),
    allow(dead_code)
)]
pub(crate) unsafe extern "C" fn free_of<B: Backend>(ptr: *mut c_void) {
    // SAFETY: as above.
    unsafe { B::free(ptr) }
}
