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
//!
//! The hardened override's pool ([`exclude`]) is kept outside the range, so
//! that the same test also sends every sampled block to the cold path and
//! the hardened `free` needs no test of its own (x86-64, where the order of
//! the range's two stores is the order in which `free` can see them).

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

/// Addresses the range must never cover, in units of 8 bytes: the hardened
/// override's pool (start, end); empty until [`exclude`] names it.
#[cfg(all(gb_backend = "jemalloc", feature = "override-hardened"))]
static EXCLUDED: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// Whether a pointer that passed [`free_fast`] is known to be outside the
/// hardened override's pool: true where the range is kept clear of it
/// (jemalloc on x86-64), so that `free` skips the pool's own test.
#[cfg(feature = "override-hardened")]
pub(crate) const FAST_EXCLUDES_POOL: bool =
    cfg!(all(gb_backend = "jemalloc", target_arch = "x86_64"));

/// Keeps `[base, base + length)` (the hardened override's pool) out of the
/// range from now on, before any block there is handed out: a range that
/// already covers part of it is emptied (it is learnt again, block by block,
/// on the cold path), and [`widen`] never grows the range over it. A block
/// of jemalloc's on the far side of the pool from the range then takes the
/// cold path at every `free` (slower, still checked); the pool is placed
/// away from jemalloc's mappings so that this does not happen in practice.
/// Only where [`FAST_EXCLUDES_POOL`]: elsewhere the hardened `free` tests
/// the pool itself, and the range may cover it.
#[cfg(all(gb_backend = "jemalloc", feature = "override-hardened"))]
pub(crate) fn exclude(base: usize, length: usize) {
    if !FAST_EXCLUDES_POOL {
        return;
    }
    lock_range();
    let (low, high) = (base >> 3, (base + length) >> 3);
    EXCLUDED[0].store(low, Ordering::Relaxed);
    EXCLUDED[1].store(high, Ordering::Relaxed);
    let start = START.load(Ordering::Relaxed);
    let length = LENGTH.load(Ordering::Relaxed);
    if length != 0 && start < high && low < start + length {
        LENGTH.store(0, Ordering::Relaxed);
    }
    unlock_range();
}

#[cfg(all(not(gb_backend = "jemalloc"), feature = "override-hardened"))]
pub(crate) fn exclude(_base: usize, _length: usize) {}

#[cfg(gb_backend = "jemalloc")]
static BUSY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

#[cfg(gb_backend = "jemalloc")]
fn lock_range() {
    while BUSY
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
}

#[cfg(gb_backend = "jemalloc")]
fn unlock_range() {
    BUSY.store(false, Ordering::Release);
}

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
    #[cfg(gb_backend = "jemalloc")]
    {
        // The hardened override's pool is kept outside the range ([`exclude`]):
        // its blocks take this path (they are sampled, so rarely) and pass.
        // (Elsewhere the alignment test alone lets them through.)
        #[cfg(feature = "override-hardened")]
        if crate::guarded::in_pool(ptr) {
            return;
        }
        if !Selected::owns(ptr) {
            invalid(function, ptr, "not a block of this allocator")
        }
        widen(ptr as usize);
    }
}

/// Widens the range to hold `address`'s 2 MiB chunk (callers serialised by
/// a lock), unless that would cover the hardened override's pool. `free`
/// reads the start, then the length; they are stored in that order (the
/// start only when it moves), so that a reader that sees one word new and
/// the other old sees a range inside the new one (x86-64 keeps stores and
/// loads in order): too narrow at worst (a block takes the cold path
/// again), never over the pool, and never a refused block, since the cold
/// path asks jemalloc before it aborts.
#[cfg(gb_backend = "jemalloc")]
fn widen(address: usize) {
    lock_range();
    let start = START.load(Ordering::Relaxed);
    let length = LENGTH.load(Ordering::Relaxed);
    #[cfg(feature = "override-hardened")]
    let excluded = (
        EXCLUDED[0].load(Ordering::Relaxed),
        EXCLUDED[1].load(Ordering::Relaxed),
    );
    #[cfg(not(feature = "override-hardened"))]
    let excluded = (0, 0);
    if let Some((new_start, new_length)) = widened(start, length, address, excluded) {
        if new_start != start || length == 0 {
            START.store(new_start, Ordering::Relaxed);
        }
        // Release: not moved before the start's store.
        LENGTH.store(new_length, Ordering::Release);
    }
    unlock_range();
}

/// The range (start, length, in units of 8 bytes) widened to hold
/// `address`'s 2 MiB chunk, or None when it would then meet `excluded`
/// (start, end, in the same units; empty when equal).
#[cfg_attr(not(gb_backend = "jemalloc"), allow(dead_code))]
fn widened(
    start: usize,
    length: usize,
    address: usize,
    excluded: (usize, usize),
) -> Option<(usize, usize)> {
    let chunk = 2 << 20;
    let low = (address & !(chunk - 1)) >> 3;
    let high = ((address & !(chunk - 1)) + chunk) >> 3;
    let (new_start, new_end) = if length == 0 {
        (low, high)
    } else {
        (start.min(low), (start + length).max(high))
    };
    let new_length = new_end - new_start;
    // A reader may pair the old start with the new length (it loads the
    // start first): that range, too, must stay clear of the excluded one.
    let (torn_start, torn_end) = if length == 0 {
        (new_start, new_end)
    } else {
        (start, start + new_length)
    };
    let overlaps = |a: usize, b: usize| excluded.0 < excluded.1 && excluded.0 < b && a < excluded.1;
    if overlaps(new_start, new_end) || overlaps(torn_start, torn_end) {
        return None;
    }
    Some((new_start, new_length))
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

#[cfg(test)]
mod tests {
    use super::widened;

    const MIB: usize = 1 << 20;

    #[test]
    fn widening_keeps_clear_of_the_excluded_addresses() {
        let none = (0, 0);
        // The first block sets the range to its 2 MiB chunk.
        assert_eq!(
            widened(0, 0, 5 * MIB, none),
            Some(((4 * MIB) >> 3, (2 * MIB) >> 3))
        );
        // Blocks below and above widen it.
        let (start, length) = widened(0, 0, 100 * MIB, none).unwrap();
        assert_eq!(
            widened(start, length, 10 * MIB, none),
            Some(((10 * MIB) >> 3, (92 * MIB) >> 3))
        );
        assert_eq!(
            widened(start, length, 201 * MIB, none),
            Some(((100 * MIB) >> 3, (102 * MIB) >> 3))
        );
        // A pool at 64..128 MiB: the range above it may not grow over it,
        // nor may a first block's chunk overlap it, but it may grow upward.
        let pool = ((64 * MIB) >> 3, (128 * MIB) >> 3);
        let (start, length) = widened(0, 0, 130 * MIB, pool).unwrap();
        assert_eq!(widened(start, length, 10 * MIB, pool), None);
        assert_eq!(widened(start, length, 127 * MIB, pool), None);
        assert_eq!(widened(0, 0, 64 * MIB, pool), None);
        assert_eq!(
            widened(start, length, 300 * MIB, pool),
            Some((start, (172 * MIB) >> 3))
        );
        // A range above the pool growing down by more than its gap to the
        // pool's end: a reader pairing the old start (130 MiB) with the new
        // length (52 MiB) would see 128..180 MiB, clear; the one below the
        // pool growing down to 40 MiB would pair 60 MiB with a length
        // reaching 82 MiB, over the pool: refused.
        let (below, below_length) = widened(0, 0, 61 * MIB, pool).unwrap();
        assert_eq!(widened(below, below_length, 40 * MIB, pool), None);
        assert_eq!(
            widened(below, below_length, 59 * MIB, pool),
            Some(((58 * MIB) >> 3, (4 * MIB) >> 3))
        );
        // Just below the pool is fine.
        assert_eq!(
            widened(0, 0, 63 * MIB, pool),
            Some(((62 * MIB) >> 3, (2 * MIB) >> 3))
        );
    }
}
