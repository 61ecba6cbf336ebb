//! The default override's checks on `free` (`free`, `cfree`, `__libc_free`,
//! and `free_sized`/`free_aligned_sized` through `free`), and the same on
//! `realloc` and `malloc_usable_size`, glibc's cheapest:
//! a pointer no allocation function returned stops the process with one line
//! on stderr, as glibc's `free(): invalid pointer` does, instead of being
//! handed to the backend (which would crash in its page map or file the
//! pointer as a free block and hand it out again).
//!
//! - Not 8-byte aligned: no block starts there (an interior pointer into a
//!   small block, a pointer off by a few bytes). Every backend.
//! - jemalloc: outside the address range where jemalloc's blocks have been
//!   seen (a stack, a program's static data, a mapping of its own below or
//!   above the heap). The range is learnt: a pointer outside it goes to a
//!   cold path that asks jemalloc (`arenas.lookup`, its page map) whether the
//!   pointer is its, and if so widens the range to the pointer's 2 MiB chunk;
//!   if not, it aborts. So no block of jemalloc's is ever refused, and a
//!   foreign pointer inside the range (between two of jemalloc's mappings)
//!   passes unchecked, as before.
//!
//! The fast path is one test for both: the pointer rotated right by 3 bits
//! (an unaligned pointer then has a top bit set), minus the range's start,
//! compared with its length: `mov`, `ror`, `sub`, `cmp`, `ja`, 5 instructions
//! on `free` where the alignment test alone was 2 (NULL, below every range,
//! takes the cold path too, which returns). Measured in
//! docs/runs/instructions.txt. The checked override does not use it (its
//! record says more about such a pointer).

use core::ffi::c_void;
use core::fmt::Write as _;
#[cfg(gb_backend = "jemalloc")]
use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(gb_backend = "jemalloc")]
use crate::backend::{Backend, Selected};
use crate::diagnostics::Text;

/// The learnt range, in units of 8 bytes (addresses shifted right by 3): its
/// start and its length. Both 0 at first: every pointer is outside.
#[cfg(gb_backend = "jemalloc")]
static START: AtomicUsize = AtomicUsize::new(0);
#[cfg(gb_backend = "jemalloc")]
static LENGTH: AtomicUsize = AtomicUsize::new(0);

/// The range grows by the 2 MiB chunk around a block found outside it.
#[cfg(gb_backend = "jemalloc")]
const CHUNK: usize = 2 << 20;

/// Whether `free(ptr)` may go straight to the backend: `ptr` is 8-byte
/// aligned and inside the learnt range (jemalloc), or 8-byte aligned (other
/// backends). False for NULL with jemalloc (the cold path returns for it).
#[inline(always)]
pub(super) fn free_fast(ptr: *mut c_void) -> bool {
    if cfg!(feature = "override-checked") {
        return true;
    }
    // x86-64: the test written out, as the compiler does not fold atomic
    // loads into the subtraction and the comparison (8 instructions then).
    #[cfg(all(gb_backend = "jemalloc", target_arch = "x86_64"))]
    // SAFETY: reads the two words (as relaxed atomic loads would) and
    // writes only the scratch register and the flags.
    unsafe {
        core::arch::asm!(
            "mov {units}, {ptr}",
            "ror {units}, 3",
            "sub {units}, qword ptr [rip + {start}]",
            "cmp {units}, qword ptr [rip + {length}]",
            "jae {outside}",
            ptr = in(reg) ptr,
            units = out(reg) _,
            start = sym START,
            length = sym LENGTH,
            outside = label { return false },
            options(nostack, readonly),
        );
        true
    }
    #[cfg(all(gb_backend = "jemalloc", not(target_arch = "x86_64")))]
    {
        let units = (ptr as usize).rotate_right(3);
        units.wrapping_sub(START.load(Ordering::Relaxed)) < LENGTH.load(Ordering::Relaxed)
    }
    #[cfg(not(gb_backend = "jemalloc"))]
    {
        ptr as usize & 7 == 0
    }
}

/// `free(ptr)` for a pointer [`free_fast`] turned away: NULL returns;
/// an unaligned pointer, or (jemalloc) one that jemalloc does not know,
/// aborts with one line; any other is a block outside the range so far,
/// which widens it, and is freed by `free_block`.
#[cold]
#[inline(never)]
pub(super) fn free_slow(function: &'static str, ptr: *mut c_void, free_block: impl FnOnce()) {
    if ptr.is_null() {
        return;
    }
    outside(function, ptr);
    free_block()
}

/// For `realloc` and `malloc_usable_size`: the same check as `free`'s,
/// aborting with the function's name for a pointer that cannot be a block
/// (NULL passes; the caller handles it).
#[inline(always)]
pub(super) fn check_block(function: &'static str, ptr: *mut c_void) {
    if !free_fast(ptr) && !ptr.is_null() {
        outside(function, ptr)
    }
}

/// A pointer outside the range, not NULL: aborts unless it is a block (of
/// jemalloc's, which widens the range to it).
#[cold]
#[inline(never)]
fn outside(function: &'static str, ptr: *mut c_void) {
    if ptr as usize & 7 != 0 {
        invalid(function, ptr, "no block starts there: not 8-byte aligned")
    }
    // The hardened override's guarded pool lies outside jemalloc's range:
    // its blocks take this path (they are sampled, so rarely) and pass.
    #[cfg(feature = "override-hardened")]
    if crate::hardened::in_pool(ptr) {
        return;
    }
    #[cfg(gb_backend = "jemalloc")]
    {
        if !Selected::owns(ptr) {
            invalid(function, ptr, "not a block of this allocator")
        }
        widen(ptr as usize);
    }
}

/// Widens the range to hold `address`'s 2 MiB chunk (callers serialised by
/// a flag). A reader may see one word new and the other old: a range too
/// narrow (a block takes the cold path again) or one that reaches past the
/// end (a foreign pointer there passes, as it did before this check); never
/// a refused block, since the cold path asks jemalloc before it aborts.
#[cfg(gb_backend = "jemalloc")]
fn widen(address: usize) {
    static BUSY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    while BUSY
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let low = (address & !(CHUNK - 1)) >> 3;
    let high = ((address & !(CHUNK - 1)) + CHUNK) >> 3;
    let start = START.load(Ordering::Relaxed);
    let length = LENGTH.load(Ordering::Relaxed);
    let (new_start, new_end) = if length == 0 {
        (low, high)
    } else {
        (start.min(low), (start + length).max(high))
    };
    LENGTH.store(new_end - new_start, Ordering::Relaxed);
    START.store(new_start, Ordering::Relaxed);
    BUSY.store(false, Ordering::Release);
}

#[cold]
#[inline(never)]
fn invalid(function: &'static str, ptr: *mut c_void, why: &str) -> ! {
    let mut line = Text::<[u8; 160]>::new();
    let _ = write!(
        line,
        "graphbit-alloc: {function}({ptr:p}): invalid pointer ({why})"
    );
    crate::sys::write_stderr(line.as_line());
    // SAFETY: no preconditions.
    unsafe { libc::abort() }
}
