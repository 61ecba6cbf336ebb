//! Reading and writing the C library's `errno` for the calling thread.

use libc::c_int;

#[cfg(any(target_os = "linux", target_os = "android", target_os = "emscripten"))]
use libc::__errno_location as errno_location;

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
use libc::__error as errno_location;

#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
use libc::__errno as errno_location;

#[cfg(windows)]
extern "C" {
    #[link_name = "_errno"]
    fn errno_location() -> *mut c_int;
}

/// Sets the calling thread's `errno`.
#[inline]
pub fn set(code: c_int) {
    // SAFETY: the C library returns a valid pointer to this thread's errno.
    unsafe { *errno_location() = code }
}

/// Runs `f` and puts `errno` back as it was, looking its address up once
/// (for the backends whose free path may change it).
#[cfg_attr(gb_backend = "jemalloc", allow(dead_code))]
#[inline(always)]
pub fn preserve<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: a valid pointer to this thread's errno, for the thread's life.
    let location = unsafe { errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *location };
    let result = f();
    // SAFETY: as above.
    unsafe { *location = saved };
    result
}
