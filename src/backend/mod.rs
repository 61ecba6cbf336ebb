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
