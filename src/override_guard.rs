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

/// Aborts when `ptr` cannot be a block (not 8-byte aligned).
#[inline(always)]
pub(crate) fn check_free(function: &'static str, ptr: *mut c_void) {
    if !cfg!(feature = "override-checked") && ptr as usize & 7 != 0 {
        misaligned(ptr, function)
    }
}

#[cold]
#[inline(never)]
fn misaligned(ptr: *mut c_void, function: &'static str) -> ! {
    struct Line {
        buf: [u8; 160],
        len: usize,
    }
    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    let mut line = Line {
        buf: [0; 160],
        len: 0,
    };
    let _ = writeln!(
        line,
        "graphbit-alloc: {function}({ptr:p}): invalid pointer (no block starts there: not 8-byte aligned)"
    );
    // SAFETY: our own buffer to fd 2, then abort.
    unsafe {
        libc::write(2, line.buf.as_ptr().cast(), line.len);
        libc::abort()
    }
}
