//! The malloc family. Each function is the backend's own entry point, called
//! directly (a tail call where the contract needs nothing else): the backend
//! modules keep the contract in the doc comments below, and the checks here
//! are only those no backend does itself (alignment, `PTRDIFF_MAX` where a
//! size is given back). In the checked library (Cargo feature `checked`,
//! `libgraphbit_alloc_checked`) every block is also recorded and every free
//! checked; in the default library that code is compiled but never reached.

use core::ffi::c_void;

use crate::backend::{Backend, MAX_SIZE};
use crate::sys::errno::null_with as fail;
use crate::Allocator as Selected;
use crate::{checked, heap};

use super::heap::gb_heap_realloc;

/// True in the checked library: a constant, so the default library carries
/// no flag and no branch.
const CHECKED: bool = cfg!(feature = "checked");

/// Allocates `size` bytes, aligned as `malloc` aligns them (for any object
/// that fits in `size` bytes), and returns the block, which the caller owns
/// and releases with `gb_free` (or `gb_free_sized`). The memory is not
/// initialised. `size` 0 returns a unique, freeable block. Returns NULL and
/// sets `errno` to `ENOMEM` when `size` is larger than `PTRDIFF_MAX` or the
/// memory cannot be had.
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_SIZE(1)
// In the shared library on jemalloc (outside checked mode, profiling, the
// overrides and the per-CPU experiment) the exported `gb_alloc` is
// jemalloc's `malloc` itself, and this definition is unused: build.rs links
// with `--defsym=gb_alloc=_rjem_malloc`, which saves this function's jump.
#[cfg(not(all(feature = "profiling", gb_free_jumps)))]
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_alloc(size: usize) -> *mut c_void {
    #[cfg(feature = "profiling")] // gb-profile hook: a check, then the backend's tail call
    if crate::profile::sampling() {
        // SAFETY: any size.
        return crate::profile::profiled_alloc(size, move || unsafe { alloc_unprofiled(size) });
    }
    // SAFETY: any size.
    unsafe { alloc_unprofiled(size) }
}

/// What `gb_alloc` jumps to in a profiling build on x86-64 Linux
/// (`free_jump::gb_alloc`): the backend's C allocation function while the
/// entry points' sampler is off, so that the feature costs `gb_alloc`
/// nothing then (the other definition tests a flag: two instructions), and
/// `alloc_sampling` while it runs ([`route_alloc`]).
#[cfg(all(feature = "profiling", gb_free_jumps))]
pub(crate) static ALLOC: core::sync::atomic::AtomicPtr<()> =
    core::sync::atomic::AtomicPtr::new(<Selected as crate::backend::Backend>::C_ALLOC as *mut ());

/// `gb_alloc` while the entry points' sampler runs (see [`ALLOC`]): the
/// countdown, then the backend; reached by a jump, so its frame is the
/// entry point's on the sampler's stacks.
#[cfg(all(feature = "profiling", gb_free_jumps))]
unsafe extern "C" fn alloc_sampling(size: usize) -> *mut c_void {
    // SAFETY: any size.
    crate::profile::profiled_alloc(size, move || unsafe { alloc_unprofiled(size) })
}

/// Points `gb_alloc` at the sampling or the plain allocation function (the
/// entry points' sampler starting or stopping); elsewhere nothing (the
/// Rust `gb_alloc` tests the sampler's flag itself).
#[cfg(feature = "profiling")]
pub(crate) fn route_alloc(sampling: bool) {
    #[cfg(gb_free_jumps)]
    {
        let target = if sampling {
            alloc_sampling as unsafe extern "C" fn(usize) -> *mut c_void
        } else {
            <Selected as crate::backend::Backend>::C_ALLOC
        };
        ALLOC.store(target as *mut (), core::sync::atomic::Ordering::Release);
    }
    #[cfg(not(gb_free_jumps))]
    let _ = sampling;
}

/// `gb_alloc` itself.
#[inline(always)]
unsafe fn alloc_unprofiled(size: usize) -> *mut c_void {
    // SAFETY: any size (the backend keeps the contract).
    let block = unsafe { Selected::alloc(size) };
    if CHECKED {
        return checked::record(block, size, 0);
    }
    block
}

/// Allocates an array of `count` elements of `size` bytes each, all bytes
/// zero, and returns it; the caller releases it with `gb_free` (or
/// `gb_free_sized` with `count * size`). A zero `count` or `size` returns a
/// unique, freeable block. Returns NULL and sets `errno` to `ENOMEM` when
/// `count * size` overflows or exceeds `PTRDIFF_MAX`, or the memory cannot
/// be had.
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_SIZE2(1, 2)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_calloc(count: usize, size: usize) -> *mut c_void {
    #[cfg(feature = "profiling")] // gb-profile hook: a check, then the backend's tail call
    if crate::profile::sampling() {
        // SAFETY: any arguments.
        return crate::profile::profiled_alloc(count.wrapping_mul(size), move || unsafe {
            calloc_unprofiled(count, size)
        });
    }
    // SAFETY: any arguments.
    unsafe { calloc_unprofiled(count, size) }
}

/// `gb_calloc` itself.
#[inline(always)]
unsafe fn calloc_unprofiled(count: usize, size: usize) -> *mut c_void {
    // SAFETY: any arguments (the backend checks the product).
    let block = unsafe { Selected::calloc(count, size) };
    if CHECKED {
        return checked::record(block, count.wrapping_mul(size), 0);
    }
    block
}

/// Resizes the block `ptr` to `size` bytes, keeping its contents up to the
/// smaller of the two sizes, and returns the (possibly moved) block; `ptr`
/// must not be used afterwards. `ptr` NULL behaves as `gb_alloc(size)`.
/// `size` 0 releases `ptr` and returns a unique minimal block (on every
/// backend). On failure returns NULL with `errno` set to `ENOMEM` and leaves
/// `ptr` untouched and still owned by the caller; `size` above `PTRDIFF_MAX`
/// always fails that way. A block from `gb_aligned_alloc` may be resized; the
/// result has `malloc`'s alignment only.
///
/// cbindgen:postfix=GB_DEALLOC GB_ALLOC_SIZE(2)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if heap::any_live() {
        // SAFETY: NULL or a live block (caller's contract).
        if let Some(block) = unsafe { heap_realloc(ptr, size) } {
            return block;
        }
    }
    if CHECKED {
        // SAFETY: the block is checked first.
        return unsafe { checked_realloc(ptr, size) };
    }
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { backend_realloc(ptr, size) }
}

/// The backend's realloc, with the profiler's hooks around it in a
/// `profiling` build (it counts only what the block gains, see
/// profiled_realloc); the checked library calls it after its checks.
#[inline(always)]
unsafe fn backend_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // gb-profile hook
    #[cfg(feature = "profiling")]
    {
        return crate::profile::profiled_realloc(
            ptr,
            size,
            // SAFETY: asked only for a live block (ptr not NULL).
            || unsafe { Selected::usable_size(ptr) },
            // SAFETY: NULL or a live block (caller's contract).
            || unsafe { Selected::realloc(ptr, size) },
        );
    }
    // SAFETY: NULL or a live block (caller's contract).
    #[allow(unreachable_code)]
    unsafe {
        Selected::realloc(ptr, size)
    }
}

/// gb_realloc of a heap block (`gb_heap_realloc` in its heap), checked in
/// the checked library; `None` for any other block.
#[cold]
unsafe fn heap_realloc(ptr: *mut c_void, size: usize) -> Option<*mut c_void> {
    let heap = heap::heap_of(ptr)?;
    Some(unsafe { gb_heap_realloc((heap as *const heap::Heap).cast_mut().cast(), ptr, size) })
}

/// gb_realloc in checked mode: the block must be live; the result replaces
/// it in the record (or it is put back when the resize fails).
#[cold]
unsafe fn checked_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        // SAFETY: NULL is a valid argument.
        return checked::record(unsafe { backend_realloc(ptr, size) }, size, 0);
    }
    let old = checked::take_for_realloc(ptr);
    // SAFETY: ptr is a live block (just checked).
    let block = unsafe { backend_realloc(ptr, size) };
    if block.is_null() {
        checked::restore(ptr, old);
        return block;
    }
    checked::record(block, size, 0)
}

/// Allocates `size` bytes whose address is a multiple of `alignment`, and
/// returns the block; the caller releases it with `gb_free` or
/// `gb_free_aligned_sized` (not `gb_free_sized`, as C23 requires of
/// `free_sized`). `alignment` must be a power of two (any, from 1 up); `size`
/// need not be a multiple of it. Returns NULL and sets `errno` to `EINVAL`
/// when `alignment` is 0 or not a power of two, and to `ENOMEM` when `size`
/// rounded up to `alignment` exceeds `PTRDIFF_MAX` or the memory cannot be
/// had.
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_ALIGN(1) GB_ALLOC_SIZE(2)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    if !alignment.is_power_of_two() {
        return fail(libc::EINVAL);
    }
    match size.checked_next_multiple_of(alignment) {
        Some(padded) if padded <= MAX_SIZE && alignment <= MAX_SIZE => {
            #[cfg(feature = "profiling")] // gb-profile hook: a check, then the backend's tail call
            if crate::profile::sampling() {
                // SAFETY: as below.
                return crate::profile::profiled_alloc_out_of_line(size, move || unsafe {
                    aligned_alloc_unprofiled(alignment, size)
                });
            }
            // SAFETY: alignment is a power of two, the size fits.
            unsafe { aligned_alloc_unprofiled(alignment, size) }
        }
        _ => fail(libc::ENOMEM),
    }
}

/// `gb_aligned_alloc` itself, for a power-of-two `alignment` and a `size`
/// that fits when rounded up to it.
#[inline(always)]
unsafe fn aligned_alloc_unprofiled(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: as the caller vouches.
    let block = unsafe { Selected::aligned_alloc(alignment, size) };
    if CHECKED {
        return checked::record(block, size, alignment);
    }
    block
}

/// Releases a block from any `gb_` allocation function. NULL is a no-op.
/// Any thread may free any block. Never changes `errno`.
#[cfg(not(gb_free_jumps))]
#[no_mangle]
pub unsafe extern "C" fn gb_free(ptr: *mut c_void) {
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { free_block(ptr) }
}

/// `gb_free`'s work, for the library's own callers (adapters, the Rust
/// API, gb_verify): inlined, since `gb_free` itself is assembly where it
/// jumps through `FREE` and cannot be. (That those calls never reach another
/// copy of the library loaded first is the link's `-Bsymbolic-functions`,
/// build.rs, for every call of an exported function.)
///
/// # Safety
/// NULL or a live block of this library.
#[inline(always)]
pub(crate) unsafe fn free_block(ptr: *mut c_void) {
    if CHECKED {
        checked::on_free(ptr);
    }
    // The backend's free while no heap and no profile sample is live, else
    // one that knows heap blocks and drops samples (heap::free_fn; the
    // gb-profile hook is there): one load and an indirect jump, no compare
    // and branch.
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { heap::free_fn()(ptr) }
}

// On x86-64 Linux outside checked mode, with Rust 1.88 or newer (build.rs):
// `gb_free` as one indirect jump, in a file that older compilers never parse.
#[cfg(gb_free_jumps)]
mod free_jump;
#[cfg(all(feature = "profiling", gb_free_jumps))]
pub use free_jump::gb_alloc;
#[cfg(gb_free_jumps)]
pub use free_jump::gb_free;

/// Releases a block from `gb_alloc`, `gb_calloc` or `gb_realloc`, given the
/// size that was asked for when it was allocated (or last resized; `count *
/// size` for `gb_calloc`), which lets the backend skip looking the size up,
/// as C23's `free_sized`. A block from `gb_aligned_alloc` must go to
/// `gb_free_aligned_sized` or `gb_free` instead (checked mode reports the
/// mistake). NULL is a no-op; a `size` above `PTRDIFF_MAX` cannot be right
/// and is ignored (the block is freed as by `gb_free`, in every library:
/// checked mode then checks only that the block is live). Never changes
/// `errno`.
#[no_mangle]
pub unsafe extern "C" fn gb_free_sized(ptr: *mut c_void, size: usize) {
    if ptr.is_null() {
        return;
    }
    #[cfg(feature = "profiling")]
    crate::profile::before_free(ptr); // gb-profile hook
    if size > MAX_SIZE {
        // The size is ignored, in checked mode too (which checks the rest).
        if CHECKED {
            checked::on_free_ignoring_size("gb_free_sized", ptr);
        }
        if heap::any_live() {
            // SAFETY: a live block (caller's contract).
            return unsafe { free_while_heaps_live(ptr) };
        }
        // SAFETY: a live block of this backend (caller's contract).
        return unsafe { Selected::free(ptr) };
    }
    if CHECKED {
        checked::on_free_sized(ptr, size);
    }
    if heap::any_live() {
        // SAFETY: a live block (caller's contract).
        return unsafe { free_sized_while_heaps_live(ptr, size) };
    }
    // SAFETY: as above, with the size it was allocated with.
    unsafe { Selected::free_sized(ptr, size) }
}

/// Releases a block from `gb_aligned_alloc(alignment, size)`, given the same
/// `alignment` and `size` (as C23's `free_aligned_sized`); the fastest way to
/// free an aligned block. NULL is a no-op; an `alignment` that is not a power
/// of two or a `size` above `PTRDIFF_MAX` cannot be right and is ignored (the
/// block is freed as by `gb_free`, in every library: checked mode then checks
/// only that the block is live). Never changes `errno`.
#[no_mangle]
pub unsafe extern "C" fn gb_free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    if ptr.is_null() {
        return;
    }
    #[cfg(feature = "profiling")]
    crate::profile::before_free(ptr); // gb-profile hook
    if alignment.is_power_of_two() && alignment <= MAX_SIZE && size <= MAX_SIZE {
        if CHECKED {
            checked::on_free_aligned_sized(ptr, alignment, size);
        }
        if heap::any_live() {
            // SAFETY: a live block (caller's contract); a heap block is
            // freed as by gb_free.
            return unsafe { free_aligned_sized_while_heaps_live(ptr, alignment, size) };
        }
        // SAFETY: a live aligned block with these parameters (caller's contract).
        unsafe { Selected::free_aligned_sized(ptr, alignment, size) }
    } else {
        // Alignment and size are ignored, in checked mode too.
        if CHECKED {
            checked::on_free_ignoring_size("gb_free_aligned_sized", ptr);
        }
        if heap::any_live() {
            // SAFETY: a live block (caller's contract).
            return unsafe { free_while_heaps_live(ptr) };
        }
        // SAFETY: a live block of this backend (caller's contract).
        unsafe { Selected::free(ptr) }
    }
}

/// The free functions' path while a heap exists (out of line, so that their
/// own path stays a compare and a tail call): a heap's block is freed in its
/// heap, any other as the function would free it.
#[cold]
#[inline(never)]
unsafe fn free_while_heaps_live(ptr: *mut c_void) {
    // gb-profile hook: gb_free's (the others' own hook ran first; this one
    // then finds nothing). Here for live samples alone, no heap: no lookup.
    #[cfg(feature = "profiling")]
    {
        crate::profile::before_free(ptr);
        if !heap::any_heap() {
            // SAFETY: NULL or a live block, not a heap's (none exists).
            return unsafe { Selected::free(ptr) };
        }
    }
    // SAFETY: NULL or a live block (caller's contract).
    if !unsafe { heap::free_if_heap_block(ptr) } {
        // SAFETY: an ordinary block.
        unsafe { Selected::free(ptr) }
    }
}

/// As `free_while_heaps_live`, for gb_free_sized.
#[cold]
#[inline(never)]
unsafe fn free_sized_while_heaps_live(ptr: *mut c_void, size: usize) {
    // SAFETY: a live block (caller's contract).
    if !unsafe { heap::free_if_heap_block(ptr) } {
        // SAFETY: an ordinary block of that size.
        unsafe { Selected::free_sized(ptr, size) }
    }
}

/// As `free_while_heaps_live`, for gb_free_aligned_sized.
#[cold]
#[inline(never)]
unsafe fn free_aligned_sized_while_heaps_live(ptr: *mut c_void, alignment: usize, size: usize) {
    // SAFETY: a live block (caller's contract).
    if !unsafe { heap::free_if_heap_block(ptr) } {
        // SAFETY: an ordinary aligned block with these parameters.
        unsafe { Selected::free_aligned_sized(ptr, alignment, size) }
    }
}

/// Number of bytes usable in the block `ptr`: at least the size asked for,
/// and all of it may be written. Returns 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn gb_usable_size(ptr: *const c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    if heap::any_live() {
        // SAFETY: a live block (caller's contract).
        if let Some(usable) = unsafe { heap::small_usable_size(ptr) } {
            return usable;
        }
    }
    // SAFETY: a live block of this backend (caller's contract).
    unsafe { Selected::usable_size(ptr) }
}
