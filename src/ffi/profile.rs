//! Sampled heap profiles: start, stop, and dump as pprof files. Only the
//! profiling library (Cargo feature `profiling`) samples; the others answer
//! `ENOTSUP`, so a host can ask at run time.

#[cfg_attr(not(feature = "profiling"), allow(unused_imports))]
use core::ffi::CStr;
use core::ffi::{c_char, c_int};

/// Starts sampling allocations: on average one sample every `sample_bytes`
/// bytes allocated (0: the default, 512 KiB; the shared libraries on
/// jemalloc, which sample with jemalloc's sampler, round it to the nearest
/// power of two), drawn geometrically per thread, so a block of `s` bytes
/// is sampled with probability `1 - exp(-s / sample_bytes)`. A sample records the block's size and the
/// call stack that allocated it, and is dropped when the block is freed.
/// Clears the samples and the peak of an earlier run. Returns 0, or
/// `EBUSY` when already sampling, `EINVAL` when `sample_bytes` exceeds
/// `INT64_MAX`, `ENOMEM` when the record cannot be mapped, `ENOTSUP` in a
/// library built without profiling (only `libgraphbit_alloc_profiling` and
/// the override built with it sample) and in the shared
/// `libgraphbit_alloc_profiling` on jemalloc when jemalloc's profiler is
/// turned off (`_RJEM_MALLOC_CONF=prof:false`; `gb_verify_report` says
/// which). Thread-safe; samples allocations of every thread made through
/// this library.
#[no_mangle]
pub extern "C" fn gb_profile_start(sample_bytes: usize) -> c_int {
    #[cfg(feature = "profiling")]
    {
        if sample_bytes as u64 > i64::MAX as u64 {
            return libc::EINVAL;
        }
        crate::profile::start(sample_bytes as u64)
    }
    #[cfg(not(feature = "profiling"))]
    {
        let _ = sample_bytes;
        libc::ENOTSUP
    }
}

/// Stops sampling. The samples already taken stay, so a later
/// `gb_profile_dump` still shows them, until their blocks are freed or the
/// next `gb_profile_start`. Returns 0, `EINVAL` when not sampling, or
/// `ENOTSUP` in a library built without profiling.
#[no_mangle]
pub extern "C" fn gb_profile_stop() -> c_int {
    #[cfg(feature = "profiling")]
    {
        crate::profile::stop()
    }
    #[cfg(not(feature = "profiling"))]
    libc::ENOTSUP
}

/// Writes the live heap (the sampled blocks not yet freed, by call stack)
/// to the file `path` (created or truncated) as a gzip-compressed pprof
/// `profile.proto`: sample types `alloc_objects`/`alloc_space` (since the
/// start) and `inuse_objects`/`inuse_space` (default), estimated from the
/// samples; every location has its address and mapping, and a function
/// name where `dladdr` finds one (exported symbols; build programs with
/// `-rdynamic`, or let `pprof` symbolize from the binaries). May be called
/// while sampling or after `gb_profile_stop`, from any thread, while other
/// threads allocate; works in a forked child (which has its parent's
/// samples). Returns 0, or `EINVAL` for a NULL `path`, `ENOTSUP` in a library
/// built without profiling, `ENOMEM`, or the `errno` of creating or writing
/// the file.
#[no_mangle]
pub unsafe extern "C" fn gb_profile_dump(path: *const c_char) -> c_int {
    // SAFETY: NULL or a NUL-terminated string (caller's contract).
    unsafe { dump(path, false) }
}

/// Writes the peak heap: the live heap as it was when the estimated live
/// bytes were highest since `gb_profile_start` (recorded each time they grew
/// by 1/64 over the last record, so within 1/64 of the peak), in the format
/// and with the errors of `gb_profile_dump`. Its `alloc_*` values are those
/// of that moment.
#[no_mangle]
pub unsafe extern "C" fn gb_profile_dump_peak(path: *const c_char) -> c_int {
    // SAFETY: as above.
    unsafe { dump(path, true) }
}

unsafe fn dump(path: *const c_char, peak: bool) -> c_int {
    #[cfg(feature = "profiling")]
    {
        if path.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: a NUL-terminated string (caller's contract).
        let path = unsafe { CStr::from_ptr(path) };
        let which = if peak {
            crate::profile::Which::Peak
        } else {
            crate::profile::Which::Live
        };
        crate::profile::dump(path, which)
    }
    #[cfg(not(feature = "profiling"))]
    {
        let _ = (path, peak);
        libc::ENOTSUP
    }
}
