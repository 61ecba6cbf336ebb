//! The platform's default backend crates for graphbit-alloc, re-exported:
//! `tikv_jemalloc_sys` and `tikv_jemallocator` on Linux, `libmimalloc_sys` and
//! `mimalloc` on macOS and Windows, nothing elsewhere.
#![no_std]

#[cfg(target_os = "linux")]
pub use tikv_jemalloc_sys;
#[cfg(target_os = "linux")]
pub use tikv_jemallocator;

#[cfg(any(target_os = "macos", windows))]
pub use libmimalloc_sys;
#[cfg(any(target_os = "macos", windows))]
pub use mimalloc;
