//! The allocator behind the C API, chosen at build time.
//!
//! Each backend module provides the same set of functions with the same
//! signatures; `build.rs` sets `cfg(gb_backend = "...")` to pick one, so a call
//! from the C API is a direct call into the backend with nothing in between.
//!
//! The C API layer has already refused sizes above `PTRDIFF_MAX`, zero or
//! non-power-of-two alignments, and NULL where it is not meaningful; backend
//! functions only translate to the backend's own calls.

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
}
