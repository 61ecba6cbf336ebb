//! What the library is and whether it works: names, versions, verification.

use core::ffi::{c_char, c_int, c_void};

use crate::backend::Backend;
use crate::diagnostics::{self, Text};
use crate::Allocator as Selected;

/// Name of the backend this library was built with: "jemalloc", "mimalloc"
/// or "system". A static string; never NULL.
#[no_mangle]
pub extern "C" fn gb_allocator_name() -> *const c_char {
    Selected::NAME.as_ptr()
}

/// The backend's own version string (for example "5.3.1-0-g81034ce1..." for
/// jemalloc, "3.3.2" for mimalloc, "glibc 2.36" for system). A static string;
/// never NULL.
#[no_mangle]
pub extern "C" fn gb_allocator_version() -> *const c_char {
    Selected::version().as_ptr()
}

/// This library's version, "MAJOR.MINOR.PATCH". A static string; never NULL.
/// Compare with the header's `GB_VERSION_STRING` to catch a mismatch.
#[no_mangle]
pub extern "C" fn gb_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// This library's version as one number, `MAJOR * 10000 + MINOR * 100 +
/// PATCH`: the header's `GB_VERSION_NUMBER` for the library actually loaded.
#[no_mangle]
pub extern "C" fn gb_version_number() -> u32 {
    VERSION_NUMBER
}

/// `MAJOR * 10000 + MINOR * 100 + PATCH`, from Cargo.toml.
const VERSION_NUMBER: u32 = parse_u32(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
    + parse_u32(env!("CARGO_PKG_VERSION_MINOR")) * 100
    + parse_u32(env!("CARGO_PKG_VERSION_PATCH"));

const fn parse_u32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// Checks, with real allocations, that the backend serves `gb_alloc` and
/// Rust's global allocator inside the library, and that the host's `malloc`
/// was not replaced. Returns true only if every check passes. The Rust check
/// must find the backend only in a library built to install it (Cargo feature
/// `global-allocator`: CMake's builds and the bindings' have it, a plain
/// `cargo build` does not); otherwise it records which allocator served the
/// block (`gb_verify_report`'s `"required": false`) and passes.
#[no_mangle]
pub extern "C" fn gb_verify() -> bool {
    diagnostics::run_checks().passed()
}

/// Writes the verification report, a JSON document naming every check, whether
/// it passed and the evidence it found (as text, "evidence", and as values,
/// "measured"), plus the backend, its version, how the library was built and
/// the backend settings in effect ("build" -> "settings", and
/// "settings_in_effect" as name: value pairs), and whether heap profiles
/// can be taken and why ("build" -> "profiling" -> "available", "why": the
/// libraries built without profiling answer `ENOTSUP` to `gb_profile_start`),
/// into `buf` (`buf_len` bytes).
///
/// Returns the report's length in bytes, not counting the terminating NUL, as
/// `snprintf` does; the report is written, NUL-terminated, only when it fits
/// (`buf_len` greater than that length). When it does not fit, `buf[0]` is set
/// to NUL (if `buf_len` is not 0) so no truncated document is ever read. A
/// NULL `buf` is never written. Allocates nothing but the checks' probes, and
/// never aborts: a probe that cannot be had is a failed check.
///
/// Every call runs the checks again, and the report holds what they measured
/// (each check's outcome, counter movements, object paths), so two calls may
/// differ in length. Addresses are written with a fixed width, so on jemalloc
/// and mimalloc the length is stable while the outcome is; on the system
/// backend glibc's process-wide counter moves with other threads' allocations.
/// The value returned is always the length of the report that call made. Read
/// it by calling until it fits:
///
/// ```c
/// size_t len = gb_verify_report(NULL, 0);
/// char *buf = NULL;
/// for (;;) {
///     buf = realloc(buf, len + 1);          // check for NULL
///     size_t got = gb_verify_report(buf, len + 1);
///     if (got <= len) break;                // it fitted: buf holds it
///     len = got;                            // it grew: try again
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn gb_verify_report(buf: *mut c_char, buf_len: usize) -> usize {
    let report = diagnostics::run_checks();
    let build = diagnostics::build();
    // SAFETY: buf is NULL or holds buf_len bytes (caller's contract).
    let mut out = unsafe { Text::over_raw(buf.cast(), buf_len) };
    // The writer never fails; the document is complete either way.
    let _ = diagnostics::write_json(&report, &build, &mut out);
    out.finish()
}

/// Value of a `gb_stats_t` field that the backend does not keep.
pub const GB_STAT_UNAVAILABLE: u64 = u64::MAX;

/// Memory statistics, in bytes. The caller sets `size` to
/// `sizeof(gb_stats_t)` before calling `gb_stats`, so that the struct can
/// grow in later versions without breaking callers built against this one:
/// the library fills only the fields that fit in `size` bytes and sets `size`
/// to the number of bytes it filled. A field the backend does not keep is
/// `GB_STAT_UNAVAILABLE`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct gb_stats_t {
    /// In: `sizeof(gb_stats_t)` as the caller knows it. Out: bytes filled.
    pub size: usize,
    /// Bytes in live allocations (jemalloc: `stats.allocated`; glibc:
    /// `mallinfo2` in-use bytes). mimalloc keeps no live-byte count in release
    /// builds: it reports its committed-memory counter, an upper bound that
    /// grows with allocations but is not lowered when freed pages are purged.
    pub allocated: u64,
    /// Bytes in pages that hold live allocations (jemalloc: `stats.active`).
    pub active: u64,
    /// Bytes of the backend's memory resident in RAM (jemalloc:
    /// `stats.resident`).
    pub resident: u64,
    /// Bytes the backend has mapped from the OS (jemalloc: `stats.mapped`;
    /// glibc: heap plus mmapped blocks).
    pub mapped: u64,
    /// Bytes kept mapped but unused, given back lazily (jemalloc:
    /// `stats.retained`; glibc: free bytes in the heap).
    pub retained: u64,
    /// The process's peak resident set size as the OS reports it (all memory,
    /// not only this library's).
    pub peak_resident: u64,
}

/// Fills `*out` with current memory statistics (see `gb_stats_t`; set
/// `out->size` first). Returns 0 on success, or `EINVAL` when `out` is NULL
/// or `out->size` is too small to hold even `allocated`; `*out` is left
/// untouched on failure. Costs more than an allocation (jemalloc refreshes
/// its statistics): call it from monitoring code, not hot paths.
#[no_mangle]
pub unsafe extern "C" fn gb_stats(out: *mut gb_stats_t) -> c_int {
    if out.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: out points to at least a size_t (caller's contract).
    let caller_size = unsafe { core::ptr::addr_of!((*out).size).read() };
    let first_field_end = core::mem::offset_of!(gb_stats_t, allocated) + 8;
    if caller_size < first_field_end {
        return libc::EINVAL;
    }
    let stats = Selected::stats();
    let value = |field: Option<u64>| field.unwrap_or(GB_STAT_UNAVAILABLE);
    let full = gb_stats_t {
        size: 0,
        allocated: value(stats.allocated),
        active: value(stats.active),
        resident: value(stats.resident),
        mapped: value(stats.mapped),
        retained: value(stats.retained),
        peak_resident: value(crate::sys::peak_resident_bytes()),
    };
    // Copy whole fields only, as many as the caller's struct holds.
    let filled = caller_size.min(core::mem::size_of::<gb_stats_t>());
    let filled = first_field_end + (filled - first_field_end) / 8 * 8;
    let full = gb_stats_t {
        size: filled,
        ..full
    };
    // SAFETY: out holds `caller_size >= filled` bytes; both are plain data.
    unsafe {
        core::ptr::copy_nonoverlapping(
            (&full as *const gb_stats_t).cast::<u8>(),
            out.cast::<u8>(),
            filled,
        )
    };
    0
}

/// Returns memory the backend holds but does not use to the OS now, instead
/// of waiting for its own schedule (jemalloc: flush this thread's cache and
/// purge every arena, with jemalloc's background thread paused meanwhile;
/// mimalloc: `mi_collect(true)`, for what the calling thread's heap holds;
/// glibc: `malloc_trim(0)`).
/// Returns 0 on success or an errno value. Calls from several threads take
/// turns. On jemalloc, if the background thread cannot be started again
/// after the purge (the system refuses a new thread), returns that error
/// (`EAGAIN`); the next `gb_trim` starts it again. Slow: for after a phase
/// that freed much memory, not for hot paths.
#[no_mangle]
pub extern "C" fn gb_trim() -> c_int {
    Selected::trim()
}

/// Tells the backend that the calling thread is going idle (a worker about
/// to wait for work), so that what it holds for this thread can go back to
/// the shared heap instead of waiting for the thread's next allocation or
/// exit (jemalloc: `thread.idle`, which flushes this thread's cache to the
/// arenas, whose unused pages then follow the background thread's decay;
/// mimalloc:
/// `mi_collect(false)` on the thread's heap; glibc: nothing, as glibc has no
/// call for one thread's cache). Only a hint: blocks stay valid, and the
/// thread may allocate again at any time (its cache refills as it does).
/// Returns 0 on success or an errno value; keeps `errno`. Costs about a
/// cache flush (microseconds): call it when a thread goes quiet, not per
/// allocation. Memory is returned without it too, on the backend's schedule.
#[no_mangle]
pub extern "C" fn gb_thread_idle() -> c_int {
    crate::sys::errno::preserve(Selected::thread_idle)
}

/// True if `ptr` points into memory managed by this library's backend, as
/// the backend's own page map says (a block from `gb_alloc` and friends, live
/// or recently freed). False for NULL and for memory from the host's
/// `malloc`, the stack or static data. Safe to call with any pointer value.
/// The `system` backend cannot tell its blocks from the host's (they are the
/// same allocator) and returns false, except for live blocks of a heap
/// (`gb_heap_new`), which every backend recognises (the system backend
/// only by the address the allocation returned, not an address inside).
#[no_mangle]
pub extern "C" fn gb_owns(ptr: *const c_void) -> bool {
    // Heaps' small blocks live in chunks of their own (the chunk table is
    // safe for any pointer); for larger ones only the system backend needs
    // the heaps' own list (the others' page maps know heap blocks).
    Selected::owns(ptr)
        || crate::heap::in_small_chunk(ptr)
        || (!Selected::CAN_TELL_OWNERSHIP && crate::heap::heap_of(ptr).is_some())
}

/// Writes the backend's own detailed statistics report as text (jemalloc:
/// `malloc_stats_print`; mimalloc: `mi_stats_print_out`; glibc:
/// `malloc_info` XML) into `buf`, with the same size rules as
/// `gb_verify_report`: returns the length needed, writes the NUL-terminated
/// text only when it fits, and the text may differ from one call to the next
/// (call until it fits, with room to spare: it is a few KiB that grow with
/// the number of threads and arenas). The text goes straight into `buf`:
/// nothing is allocated by the library (glibc's `malloc_info` writes through
/// a `FILE` that glibc allocates with its own `malloc`). Returns 0, with
/// `buf[0]` set to NUL, when the backend cannot produce its report.
#[no_mangle]
pub unsafe extern "C" fn gb_backend_stats_text(buf: *mut c_char, buf_len: usize) -> usize {
    // SAFETY: buf is NULL or holds buf_len bytes (caller's contract).
    let mut out = unsafe { Text::over_raw(buf.cast(), buf_len) };
    if diagnostics::write_backend_stats(&mut out).is_err() {
        // SAFETY: as above.
        return unsafe { Text::over_raw(buf.cast(), buf_len) }.finish();
    }
    out.finish()
}
