//! The malloc family: each function checks its arguments against the
//! contract in its doc comment and makes one direct call into the backend.

use core::ffi::{c_int, c_void};

use crate::checked::{self, Claim};
use crate::{backend, errno};

/// Largest size any function accepts: `PTRDIFF_MAX`. Larger requests fail
/// with `ENOMEM` before the backend is called.
const MAX_SIZE: usize = isize::MAX as usize;

#[cold]
#[inline(never)]
fn fail(code: c_int) -> *mut c_void {
    errno::set(code);
    core::ptr::null_mut()
}

/// Sets `ENOMEM` when the backend returned NULL (mimalloc never sets errno).
#[inline(always)]
fn check_out_of_memory(block: *mut c_void) -> *mut c_void {
    if block.is_null() {
        return fail(libc::ENOMEM);
    }
    block
}

/// Allocates `size` bytes, aligned as `malloc` aligns them (for any object
/// that fits in `size` bytes), and returns the block, which the caller owns and releases with `gb_free` (or
/// `gb_free_sized`). The memory is not initialised. `size` 0 returns a unique,
/// freeable block. Returns NULL and sets `errno` to `ENOMEM` when `size` is
/// larger than `PTRDIFF_MAX` or the memory cannot be had.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_alloc(size: usize) -> *mut c_void {
    if size > MAX_SIZE {
        return fail(libc::ENOMEM);
    }
    // SAFETY: any size up to PTRDIFF_MAX.
    let block = check_out_of_memory(unsafe { backend::alloc(size) });
    if checked::enabled() {
        return checked::record(block, size, 0);
    }
    block
}

/// Allocates an array of `count` elements of `size` bytes each, all bytes
/// zero, and returns it; the caller releases it with `gb_free`. A zero
/// `count` or `size` returns a unique, freeable block. Returns NULL and sets
/// `errno` to `ENOMEM` when `count * size` overflows or exceeds
/// `PTRDIFF_MAX`, or the memory cannot be had.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_calloc(count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        Some(total) if total <= MAX_SIZE => {
            // SAFETY: the product fits in PTRDIFF_MAX.
            let block = check_out_of_memory(unsafe { backend::alloc_zeroed(count, size) });
            if checked::enabled() {
                return checked::record(block, total, 0);
            }
            block
        }
        _ => fail(libc::ENOMEM),
    }
}

/// Resizes the block `ptr` to `size` bytes, keeping its contents up to the
/// smaller of the two sizes, and returns the (possibly moved) block; `ptr`
/// must not be used afterwards. `ptr` NULL behaves as `gb_alloc(size)`.
/// `size` 0 releases `ptr` and returns a unique minimal block (on every
/// backend). On failure returns NULL with `errno` set to `ENOMEM` and leaves
/// `ptr` untouched and still owned by the caller; `size` above `PTRDIFF_MAX`
/// always fails that way.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if size > MAX_SIZE {
        return fail(libc::ENOMEM);
    }
    if checked::enabled() {
        // SAFETY: as below; the block is checked first.
        return unsafe { checked_realloc(ptr, size) };
    }
    // SAFETY: the caller's contract.
    unsafe { realloc_unchecked(ptr, size) }
}

/// gb_realloc in checked mode: the block must be live; the result replaces
/// it in the record (or it is put back when the resize fails).
#[cold]
unsafe fn checked_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        // SAFETY: NULL is a valid argument.
        return checked::record(unsafe { realloc_unchecked(ptr, size) }, size, 0);
    }
    let old = checked::take("gb_realloc", ptr, Claim::Live, false);
    // SAFETY: ptr is a live block (just checked).
    let block = unsafe { realloc_unchecked(ptr, size) };
    if block.is_null() {
        checked::restore(ptr, old);
        return block;
    }
    checked::record(block, size, 0)
}

/// gb_realloc after the size check, without checked mode.
#[inline(always)]
unsafe fn realloc_unchecked(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        // SAFETY: any size up to PTRDIFF_MAX.
        return check_out_of_memory(unsafe { backend::alloc(size) });
    }
    // Backends disagree on realloc(p, 0); a one-byte block is the same answer
    // everywhere.
    // SAFETY: ptr is a live block of this backend (caller's contract).
    check_out_of_memory(unsafe { backend::realloc(ptr, size.max(1)) })
}

/// Allocates `size` bytes whose address is a multiple of `alignment`, and
/// returns the block; the caller releases it with `gb_free`, `gb_free_sized`
/// or `gb_free_aligned_sized`. `alignment` must be a power of two (any, from
/// 1 up); `size` need not be a multiple of it. Returns NULL and sets `errno`
/// to `EINVAL` when `alignment` is 0 or not a power of two, and to `ENOMEM`
/// when `size` rounded up to `alignment` exceeds `PTRDIFF_MAX` or the memory
/// cannot be had.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    if !alignment.is_power_of_two() {
        return fail(libc::EINVAL);
    }
    match size.checked_next_multiple_of(alignment) {
        Some(padded) if padded <= MAX_SIZE && alignment <= MAX_SIZE => {
            // SAFETY: alignment is a power of two, the size fits.
            let block = check_out_of_memory(unsafe { backend::aligned_alloc(alignment, size) });
            if checked::enabled() {
                return checked::record(block, size, alignment);
            }
            block
        }
        _ => fail(libc::ENOMEM),
    }
}

/// Releases a block from any `gb_` allocation function. NULL is a no-op.
/// Any thread may free any block. Never changes `errno`.
#[no_mangle]
pub unsafe extern "C" fn gb_free(ptr: *mut c_void) {
    if checked::enabled() {
        checked::on_free(ptr);
    }
    // SAFETY: NULL or a live block of this backend (caller's contract).
    errno::preserve(|| unsafe { backend::free(ptr) });
}

/// Releases a block, given the size that was asked for when it was
/// allocated (or last resized), which lets the backend skip looking the size
/// up. Also correct for blocks from `gb_aligned_alloc`. NULL is a no-op; a
/// `size` above `PTRDIFF_MAX` cannot be right and is ignored (the block is
/// freed as by `gb_free`). Never changes `errno`.
#[no_mangle]
pub unsafe extern "C" fn gb_free_sized(ptr: *mut c_void, size: usize) {
    if ptr.is_null() {
        return;
    }
    if checked::enabled() {
        checked::on_free_sized(ptr, size);
    }
    errno::preserve(|| {
        if size > MAX_SIZE {
            // SAFETY: a live block of this backend (caller's contract).
            unsafe { backend::free(ptr) };
        } else {
            // SAFETY: as above, with the size it was allocated with.
            unsafe { backend::free_sized(ptr, size) };
        }
    });
}

/// Releases a block from `gb_aligned_alloc(alignment, size)`, given the same
/// `alignment` and `size` (as C23's `free_aligned_sized`); the fastest way to
/// free an aligned block. NULL is a no-op; an `alignment` that is not a power
/// of two or a `size` above `PTRDIFF_MAX` cannot be right and is ignored (the
/// block is freed as by `gb_free`). Never changes `errno`.
#[no_mangle]
pub unsafe extern "C" fn gb_free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    if ptr.is_null() {
        return;
    }
    if checked::enabled() {
        checked::on_free_aligned_sized(ptr, alignment, size);
    }
    errno::preserve(|| {
        if alignment.is_power_of_two() && alignment <= MAX_SIZE && size <= MAX_SIZE {
            // SAFETY: a live aligned block with these parameters (caller's contract).
            unsafe { backend::free_aligned_sized(ptr, alignment, size) };
        } else {
            // SAFETY: a live block of this backend (caller's contract).
            unsafe { backend::free(ptr) };
        }
    });
}

/// Number of bytes usable in the block `ptr`: at least the size asked for,
/// and all of it may be written. Returns 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn gb_usable_size(ptr: *const c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: a live block of this backend (caller's contract).
    unsafe { backend::usable_size(ptr) }
}
