//! The C API's additions to plain allocation, as safe Rust: statistics,
//! trimming, verification, ownership, names and versions.
//!
//! Each function is the `gb_*` C function of the same name (`stats` is
//! `gb_stats`, ...) without raw pointers or error codes; the C functions stay
//! exported at the crate root as well.

use core::ffi::c_void;
use std::io;

use crate::backend::{Backend, Selected};
use crate::diagnostics;

/// The backend's statistics, in bytes, as `gb_stats` gives them; `None`
/// where the backend does not keep that figure (mimalloc keeps no
/// `retained`, glibc no `active`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes in live allocations (or the closest figure the backend keeps).
    pub allocated: Option<u64>,
    /// Bytes in pages that hold live allocations.
    pub active: Option<u64>,
    /// Bytes of the backend's memory resident in RAM.
    pub resident: Option<u64>,
    /// Bytes the backend has mapped from the OS.
    pub mapped: Option<u64>,
    /// Bytes the backend keeps mapped but unused.
    pub retained: Option<u64>,
    /// The process's peak resident set size (`getrusage`).
    pub peak_resident: Option<u64>,
}

/// The backend's statistics now. Costs more than an allocation (jemalloc
/// refreshes its counters): for monitoring code, not hot paths.
pub fn stats() -> Stats {
    let s = Selected::stats();
    Stats {
        allocated: s.allocated,
        active: s.active,
        resident: s.resident,
        mapped: s.mapped,
        retained: s.retained,
        peak_resident: crate::sys::peak_resident_bytes(),
    }
}

/// Returns the memory the backend holds but does not use to the OS now
/// (`gb_trim`: jemalloc purges every arena, mimalloc collects the calling
/// thread's heap, glibc runs `malloc_trim(0)`). The error is the errno value
/// `gb_trim` returns (on jemalloc, `EAGAIN` when its background thread
/// could not be started again; the next call retries). Slow: for after a
/// phase that freed much memory.
pub fn trim() -> io::Result<()> {
    match Selected::trim() {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Checks with real allocations that the backend serves `gb_alloc` and
/// Rust's global allocator, and that the host's `malloc` is as the build
/// says (`gb_verify`). True only if every check passes. The Rust check
/// requires the backend only with the `global-allocator` feature (the library
/// installs the allocator then); without it, the program picks Rust's
/// allocator, and the check passes whoever served its block, saying whose it
/// was ([`verify_report`]: `owned`, `required: false`). To confirm that a
/// program's own `#[global_allocator]` is [`GraphbitAlloc`](crate::GraphbitAlloc),
/// ask [`owns`] about one of its blocks.
pub fn verify() -> bool {
    crate::diagnostics::verify::run().passed()
}

/// The checks [`verify`] runs, each with its evidence (`Display` puts it in
/// words); `gb_verify_report` gives the same as JSON.
pub fn verify_report() -> diagnostics::Report {
    crate::diagnostics::verify::run()
}

/// True if `ptr` points into memory the backend manages, as its own page map
/// says (a block from this library, live or recently freed); false for
/// memory from elsewhere. Any pointer value is safe: nothing is read through
/// it. The `system` backend cannot tell and always answers false.
pub fn owns<T: ?Sized>(ptr: *const T) -> bool {
    Selected::owns(ptr.cast::<c_void>())
}

/// The backend's name: "jemalloc", "mimalloc" or "system".
pub fn allocator_name() -> &'static str {
    Selected::NAME.to_str().unwrap_or("unknown")
}

/// The backend's own version string (e.g. "5.3.1-0-g..." for jemalloc).
pub fn allocator_version() -> &'static str {
    Selected::version().to_str().unwrap_or("unknown")
}

/// This library's version, `CARGO_PKG_VERSION` ("0.1.0").
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The backend's own detailed report as text (`gb_backend_stats_text`:
/// jemalloc's `malloc_stats_print`, mimalloc's statistics, glibc's
/// `malloc_info` XML); empty when the backend cannot produce one.
pub fn backend_stats_text() -> String {
    let mut text = String::new();
    if diagnostics::write_backend_stats(&mut text).is_err() {
        text.clear();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_match_the_c_api() {
        // SAFETY: static NUL-terminated strings.
        let c = |p| unsafe { core::ffi::CStr::from_ptr(p) }.to_str().unwrap();
        assert_eq!(allocator_name(), c(crate::gb_allocator_name()));
        assert_eq!(allocator_version(), c(crate::gb_allocator_version()));
        assert_eq!(version(), c(crate::gb_version()));
    }

    #[test]
    fn owns_tells_the_backends_blocks_from_others() {
        let local = 7u64;
        assert!(!owns(&local as *const u64));
        assert!(!owns(core::ptr::null::<u8>()));
        // SAFETY: a plain allocation through the C API, freed below.
        let block = unsafe { crate::gb_alloc(64) };
        assert_eq!(owns(block), Selected::CAN_TELL_OWNERSHIP);
        assert_eq!(owns(block), crate::gb_owns(block));
        // SAFETY: the block from gb_alloc.
        unsafe { crate::gb_free(block) };
    }

    #[test]
    fn stats_and_trim_answer() {
        let s = stats();
        if cfg!(gb_backend = "jemalloc") {
            assert!(s.allocated.unwrap() > 0 && s.resident.unwrap() > 0);
        }
        assert!(s.peak_resident.unwrap() > 0);
        trim().unwrap();
        assert!(!backend_stats_text().is_empty() || cfg!(gb_backend = "system"));
    }

    #[test]
    fn verify_report_agrees_with_verify() {
        let report = verify_report();
        assert_eq!(report.checks.len(), 3);
        let gb_alloc = &report.checks[0];
        assert!(gb_alloc.passed, "{}", gb_alloc.evidence);
    }
}
