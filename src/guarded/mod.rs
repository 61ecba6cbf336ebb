//! Sampled guarded blocks, shared by the hardened override (`src/hardened/`)
//! and the checked override (`src/checked_override/`): one allocation in
//! N is served from a pool of guarded slots (`pool.rs`, GWP-ASan's design)
//! instead of the backend, so that an overflow past its end, an underflow
//! before its start or any access after it was freed faults, and the fault
//! handler (`fault.rs`) names the block in one line before `abort`.
//!
//! The two overrides differ in what they sample, and in when a freed slot
//! is handed out again: the hardened override frees a sampled block into
//! the pool's queue at once; the checked override retires it (its pages
//! protected, its slot held) and recycles the slot only when the block
//! leaves its quarantine, so that a stale double free is still a double
//! free there.

pub(crate) mod fault;
pub(crate) mod pool;

/// The variable that sets one allocation in how many is sampled, read once
/// with the rest of the environment (not in a set-user-ID process), and
/// its default: GWP-ASan's 1 in 5000 for production (the hardened
/// override); 1 in 1000 where every call already pays for a record (the
/// checked override, a debugging tool).
#[cfg(feature = "override-hardened")]
pub(crate) const RATE_VARIABLE: &core::ffi::CStr = c"GB_HARDENED_SAMPLE";
#[cfg(feature = "override-hardened")]
pub(crate) const DEFAULT_RATE: u64 = 5000;
#[cfg(not(feature = "override-hardened"))]
pub(crate) const RATE_VARIABLE: &core::ffi::CStr = c"GB_CHECKED_SAMPLE";
#[cfg(not(feature = "override-hardened"))]
pub(crate) const DEFAULT_RATE: u64 = 1000;

/// How the pool's messages start.
#[cfg(feature = "override-hardened")]
const PREFIX: &str = "graphbit-alloc: hardened: ";
#[cfg(not(feature = "override-hardened"))]
const PREFIX: &str = "graphbit-alloc: ";

/// Whether `ptr` lies in the pool (off the fast paths).
pub(crate) fn in_pool(ptr: *const core::ffi::c_void) -> bool {
    pool::contains(ptr as usize)
}

/// The slow path of an override's sampling countdown: a pool block of
/// `size` bytes aligned to `alignment` (0: malloc's), zeroed; or NULL (the
/// caller then asks the backend) when sampling is off, the pool is full,
/// the request does not fit a slot, or this is the thread's `first`
/// allocation (whose countdown was not drawn yet: at rates above 1 it is not
/// sampled, so that a program that starts many threads does not fill the
/// pool with their first blocks). Draws the thread's next countdown with
/// `set_countdown`; any allocation made meanwhile (the C library's, in
/// `sigaction` or `pthread_atfork` when the pool starts) goes to the
/// backend. Keeps `errno`.
pub(crate) fn sample(
    first: bool,
    size: usize,
    alignment: usize,
    set_countdown: impl Fn(u64),
) -> *mut core::ffi::c_void {
    set_countdown(u64::MAX);
    let block = crate::sys::errno::preserve(|| {
        if first && pool::rate() != 1 {
            core::ptr::null_mut()
        } else {
            pool::allocate(size, alignment)
        }
    });
    set_countdown(pool::next_countdown());
    block
}

/// The items of `impl Backend` that the checked and hardened overrides take
/// from the selected backend, with the pool's blocks counted as the
/// library's (`owns`, the counter, the statistics).
macro_rules! the_rest_from_the_backend {
    () => {
        type RustAllocator = <$crate::backend::Selected as $crate::backend::Backend>::RustAllocator;
        const RUST_ALLOCATOR: Self::RustAllocator = $crate::backend::Selected::RUST_ALLOCATOR;
        const WATCHES_LARGE_REQUESTS: bool = $crate::backend::Selected::WATCHES_LARGE_REQUESTS;
        fn before_large_request() {
            $crate::backend::Selected::before_large_request()
        }
        fn keeping_errno_on_success(
            allocate: impl FnOnce() -> *mut core::ffi::c_void,
        ) -> *mut core::ffi::c_void {
            $crate::backend::Selected::keeping_errno_on_success(allocate)
        }
        const NAME: &'static core::ffi::CStr = $crate::backend::Selected::NAME;
        const TLS_MODEL: &'static str = $crate::backend::Selected::TLS_MODEL;
        const CAN_TELL_OWNERSHIP: bool = $crate::backend::Selected::CAN_TELL_OWNERSHIP;
        const COUNTER: $crate::backend::Counter = $crate::backend::Selected::COUNTER;
        const IS_C_LIBRARY_MALLOC: bool = $crate::backend::Selected::IS_C_LIBRARY_MALLOC;
        fn version() -> &'static core::ffi::CStr {
            $crate::backend::Selected::version()
        }
        fn owns(ptr: *const core::ffi::c_void) -> bool {
            $crate::guarded::in_pool(ptr) || $crate::backend::Selected::owns(ptr)
        }
        /// The backend's counter and the bytes the pool handed out.
        fn allocation_counter() -> Option<u64> {
            $crate::backend::Selected::allocation_counter()
                .map(|n| n + $crate::guarded::pool::totals().0)
        }
        /// The backend's figures with the pool's live blocks added.
        fn stats() -> $crate::backend::Stats {
            let mut stats = $crate::backend::Selected::stats();
            let (_, live, blocks) = $crate::guarded::pool::totals();
            stats.allocated = stats.allocated.map(|n| n + live);
            stats.active = stats.active.map(|n| n + live);
            stats.allocations = stats.allocations.map(|n| n + blocks);
            stats
        }
        fn stats_enabled() -> bool {
            $crate::backend::Selected::stats_enabled()
        }
        fn thread_idle() -> core::ffi::c_int {
            $crate::backend::Selected::thread_idle()
        }
        fn trim() -> core::ffi::c_int {
            $crate::backend::Selected::trim()
        }
        fn settings() -> $crate::diagnostics::Settings {
            $crate::backend::Selected::settings()
        }
        fn detailed_stats(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
            $crate::backend::Selected::detailed_stats(out)
        }
    };
}
pub(crate) use the_rest_from_the_backend;

/// Turns guarded blocks off for the calling thread, for tests that count
/// the backend's allocations.
#[cfg(all(test, gb_backend = "jemalloc"))]
pub(crate) fn unguarded_thread() {
    #[cfg(feature = "override-checked")]
    crate::checked_override::unguarded_thread();
    #[cfg(feature = "override-hardened")]
    crate::hardened::unguarded_thread();
}
