//! The default override's one cheap check: `free` of a pointer that is not
//! 8-byte aligned, which no allocation function ever returns (an interior
//! pointer into a small block, a pointer off by a few bytes), stops the
//! process with one line, as glibc's `free(): invalid pointer` does, instead
//! of handing the backend a pointer it would file as a free block. Two
//! instructions on `free` (a test and a branch not taken): 89 -> 91
//! instructions per malloc+free pair (docs/checked-override.md). The checked
//! override does not use it (its record says more about such a pointer).

use core::ffi::c_void;
use core::fmt::Write as _;

use crate::diagnostics::Text;

/// Aborts when `ptr` cannot be a block (not 8-byte aligned).
#[inline(always)]
pub(super) fn check_free(function: &'static str, ptr: *mut c_void) {
    if !cfg!(feature = "override-checked") && ptr as usize & 7 != 0 {
        misaligned(ptr, function)
    }
}

#[cold]
#[inline(never)]
fn misaligned(ptr: *mut c_void, function: &'static str) -> ! {
    let mut line = Text::<[u8; 160]>::new();
    let _ = write!(
        line,
        "graphbit-alloc: {function}({ptr:p}): invalid pointer (no block starts there: not 8-byte aligned)"
    );
    crate::sys::write_stderr(line.as_line());
    // SAFETY: no preconditions.
    unsafe { libc::abort() }
}
