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

/// Turns guarded blocks off for the calling thread, for tests that count
/// the backend's allocations.
#[cfg(test)]
pub(crate) fn unguarded_thread() {
    #[cfg(feature = "override-checked")]
    crate::checked_override::unguarded_thread();
    #[cfg(feature = "override-hardened")]
    crate::hardened::unguarded_thread();
}
