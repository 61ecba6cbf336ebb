//! The checked override (Cargo feature `override-checked`, library
//! `libgraphbit_alloc_override_checked.so`): whole-process mode with checked
//! mode's record under it, for `LD_PRELOAD` into any program.
//!
//! [`Checked`] is a [`Backend`] over the selected one that `src/override/`
//! and `src/ffi/alloc.rs` call instead of the backend itself (one `use`
//! line each), and the C++ operators reach through two hidden entry points
//! (`gb_override_checked_new`, `gb_override_checked_delete`, called by
//! `src/override/new.cpp`). Every block is recorded (`src/checked/`) with
//! its requested size, alignment and how it was allocated; every free,
//! `realloc` and `malloc_usable_size` takes the pointer out of the record
//! first, and anything that is not a live block, or a size or alignment
//! other than the block's, stops the process with one line on stderr:
//! `graphbit-alloc: FUNCTION(POINTER[, size...]): what is wrong`.
//!
//! On top of checked mode:
//! - canary: each block is asked of the backend one byte larger than
//!   requested, and the slack of its size class after the requested size
//!   (at least 1 byte; its first and last [`CANARY_MAX`] bytes) is filled with bytes derived
//!   from the address; a free or `realloc` that finds one changed reports an
//!   overflow (so does an underflow into the previous block's slack, when
//!   that block is freed);
//! - quarantine (`quarantine.rs`): freed blocks are filled and held back,
//!   so that a double free long after (with the address not yet reused) is
//!   still caught, and a write into a freed block is caught when it leaves;
//! - `realloc` that does not fit in the block moves it and quarantines the
//!   old one; `malloc_usable_size` answers the requested size (the bytes
//!   after it are the canary's);
//! - guarded blocks (`src/guarded/`): one allocation in `GB_CHECKED_SAMPLE`
//!   (default 1000; 1: every one that fits the pool; 0: none) is a block of
//!   the pool of guarded slots instead of the backend's, recorded like the
//!   others, without a canary: it ends where a `PROT_NONE` page begins and
//!   the bytes around it hold a pattern, so an overflow or underflow faults
//!   or is found when it is freed, and once freed its pages are protected
//!   until it leaves the quarantine, so that a read or write after free
//!   faults at once. Its slot is handed out again only after that.

mod quarantine;

use core::ffi::{c_int, c_void};
use core::fmt::Write as _;

use crate::backend::{Backend, Selected, LARGE_BLOCK, MAX_SIZE};
use crate::checked::{self, Claim};
use crate::guarded::{in_pool, pool};
use crate::sys::errno;

/// Largest size any function accepts: `PTRDIFF_MAX`.
/// Slack bytes written and checked: this many right after the requested
/// size (an overflow) and this many at the end of the slack (an underflow
/// from the next block), all of it when the slack is smaller.
pub(crate) const CANARY_MAX: usize = 256;

/// How a block was allocated, kept in the record's alignment field with the
/// alignment: `kind | (log2(alignment) + 1) << 4` (0 without one).
const FROM_MALLOC: usize = 1;
const FROM_ALIGNED: usize = 2;
const FROM_NEW: usize = 3;

fn encode(kind: usize, alignment: usize) -> usize {
    if alignment == 0 {
        kind
    } else {
        kind | (alignment.trailing_zeros() as usize + 1) << 4
    }
}

fn kind_of(field: usize) -> usize {
    field & 0xf
}

fn alignment_of(field: usize) -> usize {
    match field >> 4 {
        0 => 0,
        n => 1 << (n - 1),
    }
}

/// "(from malloc)", for messages.
pub(crate) struct Describe(usize);

impl core::fmt::Display for Describe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let how = match kind_of(self.0) {
            FROM_MALLOC => "malloc, calloc or realloc",
            FROM_ALIGNED => "memalign, aligned_alloc or posix_memalign",
            FROM_NEW => "operator new",
            _ => "an unknown function",
        };
        write!(f, "(from {how}")?;
        match alignment_of(self.0) {
            0 => f.write_str(")"),
            a => write!(f, ", alignment {a})"),
        }
    }
}

pub(crate) fn describe(field: usize) -> Describe {
    Describe(field)
}

/// A one-line message built on the stack, written to stderr before aborting.
pub(crate) struct Message {
    buf: [u8; 320],
    len: usize,
}

impl core::fmt::Write for Message {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl Message {
    pub(crate) fn new() -> Message {
        Message {
            buf: [0; 320],
            len: 0,
        }
    }

    #[cold]
    pub(crate) fn abort(mut self) -> ! {
        self.buf[self.len] = b'\n';
        // SAFETY: our own buffer to fd 2, then abort.
        unsafe {
            libc::write(2, self.buf.as_ptr().cast(), self.len + 1);
            libc::abort()
        }
    }
}

#[cold]
#[inline(never)]
fn fail(code: c_int) -> *mut c_void {
    errno::set(code);
    core::ptr::null_mut()
}

/// The canary byte at `offset` past the requested size of the block at
/// `address`: high bit set, never 0xff (so neither 0, 0xff nor ASCII).
fn canary_byte(address: usize, offset: usize) -> u8 {
    let mixed = (address >> 4)
        .wrapping_add(offset)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    0x80 | ((mixed >> 56) as u8 & 0x7e)
}

/// The offsets (past the requested size) of a block's canary bytes: the
/// start and the end of its slack.
///
/// # Safety
/// `ptr` is a live block of the backend.
unsafe fn canary_offsets(ptr: *mut c_void, size: usize) -> impl Iterator<Item = usize> {
    // SAFETY: as the caller promises.
    let slack = unsafe { Selected::usable_size(ptr) }.saturating_sub(size);
    let head = slack.min(CANARY_MAX);
    (0..head).chain(slack.saturating_sub(CANARY_MAX).max(head)..slack)
}

/// # Safety
/// `ptr` is a live block of the backend with at least `size + 1` usable bytes.
unsafe fn write_canary(ptr: *mut c_void, size: usize) {
    let address = ptr as usize;
    let start = ptr.cast::<u8>();
    // SAFETY: as the caller promises.
    for i in unsafe { canary_offsets(ptr, size) } {
        // SAFETY: within the block's usable bytes.
        unsafe { start.add(size + i).write(canary_byte(address, i)) };
    }
}

/// Aborts if the canary after the requested `size` was changed.
///
/// # Safety
/// `ptr` is a block of the backend just taken out of the record.
unsafe fn check_canary(function: &str, ptr: *mut c_void, size: usize, field: usize) {
    let address = ptr as usize;
    let start = ptr.cast::<u8>();
    // SAFETY: as the caller promises.
    for i in unsafe { canary_offsets(ptr, size) } {
        // SAFETY: within the block's usable bytes.
        let found = unsafe { start.add(size + i).read() };
        if found != canary_byte(address, i) {
            let mut line = Message::new();
            let _ = write!(
                line,
                "graphbit-alloc: {function}({ptr:p}): heap overflow: the block of size {size} {} \
                 was written past its end (byte {} after it changed; or the next block's start \
                 was written before it)",
                describe(field),
                i
            );
            line.abort()
        }
    }
}

/// Canary, then record (which frees the block and fails with `ENOMEM` if
/// the record has no room).
fn finish(block: *mut c_void, size: usize, kind: usize, alignment: usize) -> *mut c_void {
    if block.is_null() {
        return block;
    }
    // SAFETY: a fresh block of at least size + 1 usable bytes.
    unsafe { write_canary(block, size) };
    checked::record(block, size, encode(kind, alignment))
}

std::thread_local! {
    /// Allocations left before this thread's next guarded block: 0 until
    /// drawn, `u64::MAX` while one is being served.
    static COUNTDOWN: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// No guarded blocks on this thread any more (tests).
#[cfg(all(test, gb_backend = "jemalloc"))]
pub(crate) fn unguarded_thread() {
    COUNTDOWN.with(|c| c.set(u64::MAX));
}

/// A guarded block of `size` bytes aligned to `alignment` (0: malloc's),
/// zeroed and recorded, when this allocation is the one in
/// `GB_CHECKED_SAMPLE` to guard and the pool has a slot that fits; NULL
/// otherwise (the caller asks the backend). A thread's first allocation is
/// not guarded at rates above 1 (it draws the countdown), so that a
/// program that starts many threads does not fill the pool with their
/// first blocks.
fn guarded(size: usize, kind: usize, alignment: usize) -> *mut c_void {
    let left = COUNTDOWN.with(|c| {
        let left = c.get();
        c.set(left.saturating_sub(1));
        left
    });
    if left > 1 {
        return core::ptr::null_mut();
    }
    guarded_slow(left == 0, size, kind, alignment)
}

#[cold]
#[inline(never)]
fn guarded_slow(first: bool, size: usize, kind: usize, alignment: usize) -> *mut c_void {
    let block = crate::guarded::sample(first, size, alignment, |left| {
        COUNTDOWN.with(|c| c.set(left))
    });
    if block.is_null() || checked::try_record(block, size, encode(kind, alignment)) {
        return block;
    }
    // No room in the record: as for the backend's blocks, ENOMEM.
    pool::free("malloc", block, None);
    fail(libc::ENOMEM)
}

/// A recorded block of `size` (+ 1 for the canary) bytes from `malloc`,
/// `calloc` or `realloc`: guarded, or the backend's (zeroed when `zero`).
fn allocate(size: usize, zero: bool) -> *mut c_void {
    let block = guarded(size, FROM_MALLOC, 0);
    if !block.is_null() {
        return block;
    }
    // SAFETY: any size (at most MAX_SIZE, so size + 1 fits).
    let block = unsafe {
        if zero {
            Selected::calloc(1, size + 1)
        } else {
            Selected::alloc(size + 1)
        }
    };
    finish(block, size, FROM_MALLOC, 0)
}

/// Quarantines `ptr`, a block just taken out of the record: a guarded one
/// retired (checked, its pages protected), the backend's checked for its
/// canary and filled.
///
/// # Safety
/// `ptr` was a live block, taken out of the record.
unsafe fn retire(function: &str, ptr: *mut c_void, size: usize, field: usize) {
    if in_pool(ptr) {
        pool::retire(function, ptr, None);
    } else {
        // SAFETY: a block of the backend (the caller's promise).
        unsafe { check_canary(function, ptr, size, field) };
    }
    // SAFETY: no longer recorded; nothing may use it.
    unsafe { quarantine::put(ptr, size, field) };
}

/// What a free claims about the block.
#[derive(Clone, Copy)]
enum Expect {
    Live,
    Size(usize),
    Alignment(usize),
    SizeAndAlignment(usize, usize),
}

/// Takes `ptr` (not NULL) out of the record, checks the claim and the
/// canary, and quarantines it.
///
/// # Safety
/// None: every misuse is caught before the backend sees the pointer.
unsafe fn release(function: &str, ptr: *mut c_void, expect: Expect) {
    let checked::Block {
        size,
        alignment: field,
    } = checked::forget(function, ptr, Claim::Live);
    let alignment = alignment_of(field);
    let wrong_size = match expect {
        Expect::Size(n) | Expect::SizeAndAlignment(n, _) => n != size,
        _ => false,
    };
    let wrong_alignment = match expect {
        Expect::Alignment(a) | Expect::SizeAndAlignment(_, a) => a != alignment,
        _ => false,
    };
    if wrong_size || wrong_alignment {
        let mut line = Message::new();
        let _ = write!(line, "graphbit-alloc: {function}({ptr:p}");
        let _ = match expect {
            Expect::Live => Ok(()),
            Expect::Size(n) => write!(line, ", size {n}"),
            Expect::Alignment(a) => write!(line, ", alignment {a}"),
            Expect::SizeAndAlignment(n, a) => write!(line, ", size {n}, alignment {a}"),
        };
        let _ = write!(
            line,
            "): wrong {}: the block was allocated with size {size} {}",
            if wrong_size { "size" } else { "alignment" },
            describe(field)
        );
        line.abort()
    }
    // SAFETY: just taken out of the record.
    unsafe { retire(function, ptr, size, field) }
}

/// The backend with checked mode, canaries and the quarantine around it.
pub(crate) struct Checked;

impl Backend for Checked {
    unsafe fn alloc(size: usize) -> *mut c_void {
        if size > MAX_SIZE {
            return fail(libc::ENOMEM);
        }
        allocate(size, false)
    }

    unsafe fn calloc(count: usize, size: usize) -> *mut c_void {
        match count.checked_mul(size) {
            Some(n) if n <= MAX_SIZE => allocate(n, true),
            _ => fail(libc::ENOMEM),
        }
    }

    unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
        if ptr.is_null() {
            // SAFETY: any size.
            return unsafe { Self::alloc(size) };
        }
        let old = checked::take_keeping_room("realloc", ptr);
        let (old_size, field) = (old.size, old.alignment);
        let from_pool = in_pool(ptr);
        if !from_pool {
            // SAFETY: just taken out of the record (its room is reserved).
            unsafe { check_canary("realloc", ptr, old_size, field) };
        }
        if size > MAX_SIZE {
            checked::restore(ptr, old);
            return fail(libc::ENOMEM);
        }
        if !from_pool {
            // SAFETY: a live block of the backend.
            let usable = unsafe { Selected::usable_size(ptr) };
            if size < usable && size >= usable / 2 {
                // Stays: a new canary after the new size.
                // SAFETY: size + 1 <= usable.
                unsafe { write_canary(ptr, size) };
                return checked::record(ptr, size, encode(FROM_MALLOC, 0));
            }
        }
        // The reservation of the `take` above makes the record of the new
        // block succeed.
        let block = allocate(size, false);
        if block.is_null() {
            checked::restore(ptr, old);
            return fail(libc::ENOMEM);
        }
        // SAFETY: both blocks hold at least min(old_size, size) bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(
                ptr.cast::<u8>(),
                block.cast::<u8>(),
                old_size.min(size),
            );
        }
        // SAFETY: the old block is no longer recorded; nothing may use it.
        unsafe { retire("realloc", ptr, old_size, field) };
        block
    }

    unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
        if size >= MAX_SIZE - alignment {
            return fail(libc::ENOMEM);
        }
        let block = guarded(size, FROM_ALIGNED, alignment);
        if !block.is_null() {
            return block;
        }
        // SAFETY: a power of two; the padded size fits.
        let block = unsafe { Selected::aligned_alloc(alignment, size + 1) };
        finish(block, size, FROM_ALIGNED, alignment)
    }

    unsafe fn free(ptr: *mut c_void) {
        if !ptr.is_null() {
            // SAFETY: checked before the backend sees it.
            unsafe { release("free", ptr, Expect::Live) }
        }
    }

    const C_FREE: unsafe extern "C" fn(*mut c_void) = crate::backend::free_of::<Self>;

    unsafe fn free_sized(ptr: *mut c_void, size: usize) {
        // SAFETY: as free.
        unsafe { release("free_sized", ptr, Expect::Size(size)) }
    }

    unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
        // SAFETY: as free.
        unsafe {
            release(
                "free_aligned_sized",
                ptr,
                Expect::SizeAndAlignment(size, alignment),
            )
        }
    }

    unsafe fn usable_size(ptr: *const c_void) -> usize {
        let ptr = ptr.cast_mut();
        let old = checked::take_keeping_room("malloc_usable_size", ptr);
        checked::restore(ptr, old);
        old.size
    }

    // Everything else is the backend's, with the pool's blocks counted.
    crate::guarded::the_rest_from_the_backend!();
}

/// C++ `operator new` (alignment 0) and aligned new (a power of two, servable:
/// src/override/new.cpp checks), for src/override/new.cpp.
extern "C" fn cxx_new(size: usize, alignment: usize) -> *mut c_void {
    if Selected::WATCHES_LARGE_REQUESTS && size >= LARGE_BLOCK {
        Selected::before_large_request();
    }
    if size > MAX_SIZE - alignment.max(1) {
        return core::ptr::null_mut();
    }
    let block = guarded(size, FROM_NEW, alignment);
    if !block.is_null() {
        return block;
    }
    // SAFETY: any size; a servable power-of-two alignment.
    let block = unsafe {
        if alignment == 0 {
            Selected::alloc(size + 1)
        } else {
            Selected::aligned_alloc(alignment, size + 1)
        }
    };
    finish(block, size, FROM_NEW, alignment)
}

/// C++ `operator delete` in all its forms, for src/override/new.cpp: `size`
/// is `usize::MAX` and `alignment` 0 when the form does not pass them.
extern "C" fn cxx_delete(ptr: *mut c_void, size: usize, alignment: usize) {
    if ptr.is_null() {
        return;
    }
    let expect = match (size, alignment) {
        (usize::MAX, 0) => Expect::Live,
        (usize::MAX, a) => Expect::Alignment(a),
        (n, 0) => Expect::Size(n),
        (n, a) => Expect::SizeAndAlignment(n, a),
    };
    // SAFETY: checked before the backend sees it.
    unsafe { release("operator delete", ptr, expect) }
}

// Hidden entry points for src/override/new.cpp (crate::hidden_entry!).

hidden_entry!("gb_override_checked_new", cxx_new);
hidden_entry!("gb_override_checked_delete", cxx_delete);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_keeps_kind_and_alignment() {
        for kind in [FROM_MALLOC, FROM_ALIGNED, FROM_NEW] {
            for shift in 0..63 {
                let a = 1usize << shift;
                let f = encode(kind, a);
                assert_eq!((kind_of(f), alignment_of(f)), (kind, a));
            }
            assert_eq!(alignment_of(encode(kind, 0)), 0);
        }
    }

    #[test]
    fn canary_bytes_are_never_common_fill_values() {
        for a in (0..4096usize).map(|i| 0x7f00_0000_0000 + 16 * i) {
            for o in 0..CANARY_MAX {
                let b = canary_byte(a, o);
                assert!(b >= 0x80 && b != 0xff && b != quarantine::FREED_BYTE);
            }
        }
    }
}
