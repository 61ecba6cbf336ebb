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

/// NULL, with `errno` set to `code`: an allocation function's failure. The
/// NULL goes through `black_box`, so that the compiler cannot know what this
/// returns: an entry point then tail-calls it, instead of calling it and
/// returning NULL itself, which needs a stack frame that the compiler sets
/// up on every path (`gb_aligned_alloc` had a `push`/`pop` on its fast
/// path).
#[cold]
#[inline(never)]
pub fn null_with(code: c_int) -> *mut core::ffi::c_void {
    set(code);
    core::hint::black_box(core::ptr::null_mut())
}

/// Runs `f` and puts `errno` back as it was, looking its address up once
/// (for the backends whose free path may change it).
#[allow(dead_code)] // used by the backends whose free path may change errno
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

/// Runs an allocation and, when it succeeds, puts `errno` back as it was
/// (for a backend that can leave a failed system call's `errno` behind in a
/// successful allocation).
#[allow(dead_code)] // used by the backends that need it
#[inline(always)]
pub fn keep_on_success(
    allocate: impl FnOnce() -> *mut core::ffi::c_void,
) -> *mut core::ffi::c_void {
    // SAFETY: a valid pointer to this thread's errno, for the thread's life.
    let location = unsafe { errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *location };
    let block = allocate();
    if !block.is_null() {
        // SAFETY: as above.
        unsafe { *location = saved };
    }
    block
}
