//! glibc's rules, as ordinary functions over the backend: what the C standard
//! and glibc leave open is done as glibc 2.36 does it (the table in
//! `src/override/mod.rs`). `exports.rs` gives them the C library's names.
//! Every function is inlined into its export, so `malloc` stays a
//! comparison and a tail call into the backend.

use core::ffi::{c_int, c_void};

use crate::backend::{Backend, LARGE_BLOCK, MAX_SIZE};
use crate::sys;
use crate::sys::errno::null_with as fail;
use crate::Allocator as Selected;

/// Largest alignment glibc's `memalign` accepts (`SIZE_MAX / 2 + 1`); above
/// it, `EINVAL`.
const MAX_ALIGNMENT: usize = usize::MAX / 2 + 1;

/// Before a request of `size` bytes: a large one goes to the backend's
/// [`Backend::before_large_request`]. One comparison, and none at all where
/// the backend does not watch large requests.
#[inline(always)]
fn before_request(size: usize) {
    if Selected::WATCHES_LARGE_REQUESTS && size >= LARGE_BLOCK {
        Selected::before_large_request();
    }
}

/// An allocation by the backend, with `errno` kept on success as glibc keeps
/// it.
#[inline(always)]
fn allocate(allocation: impl FnOnce() -> *mut c_void) -> *mut c_void {
    Selected::keeping_errno_on_success(allocation)
}

/// glibc 2.36's `_mid_memalign`: the alignment is rounded up to a power of
/// two; the block comes from the backend's aligned allocation, so that it is
/// aligned as asked even where the backend's `malloc` gives small blocks
/// less than glibc's 16 bytes.
#[inline]
pub(super) unsafe fn memalign(alignment: usize, size: usize) -> *mut c_void {
    #[cfg(feature = "profiling")] // gb-profile hook: a check, then the tail call
    if crate::profile::sampling() {
        // SAFETY: any arguments.
        return crate::profile::profiled_alloc_out_of_line(size, move || unsafe {
            memalign_unprofiled(alignment, size)
        });
    }
    // SAFETY: any arguments.
    unsafe { memalign_unprofiled(alignment, size) }
}

/// `memalign` itself.
#[inline]
unsafe fn memalign_unprofiled(alignment: usize, size: usize) -> *mut c_void {
    before_request(size);
    if alignment <= 1 {
        // SAFETY: any size.
        return allocate(|| unsafe { Selected::alloc(size) });
    }
    if alignment > MAX_ALIGNMENT {
        return fail(libc::EINVAL);
    }
    let alignment = alignment.next_power_of_two();
    match size.checked_next_multiple_of(alignment) {
        Some(padded) if padded <= MAX_SIZE && alignment <= MAX_SIZE => {
            // SAFETY: a power of two, and the padded size fits.
            allocate(|| unsafe { Selected::aligned_alloc(alignment, size) })
        }
        _ => fail(libc::ENOMEM),
    }
}

/// `malloc(3)`: the backend's allocation. `malloc(0)` is a unique block;
/// above `PTRDIFF_MAX` or out of memory, NULL and `ENOMEM`.
#[inline(always)]
pub(super) unsafe fn malloc(size: usize) -> *mut c_void {
    // gb-profile hook: where the backend watches large requests, folded into
    // that comparison (a limit that sampling lowers to 0: no instruction
    // more than without profiling); elsewhere a check, then the tail call.
    #[cfg(feature = "profiling")]
    {
        if Selected::WATCHES_LARGE_REQUESTS {
            if crate::profile::above_malloc_limit(size) {
                // SAFETY: any size.
                return unsafe { malloc_watched(size) };
            }
            // SAFETY: any size below LARGE_BLOCK (the backend keeps the contract).
            return allocate(|| unsafe { Selected::alloc(size) });
        }
        if crate::profile::sampling() {
            // SAFETY: any size.
            return crate::profile::profiled_alloc(size, move || unsafe {
                malloc_unprofiled(size)
            });
        }
    }
    // SAFETY: any size.
    unsafe { malloc_unprofiled(size) }
}

/// `malloc` above the profiler's limit (see `malloc`): a large request, or
/// any while sampling.
#[cfg(feature = "profiling")]
#[cold]
#[inline(never)]
unsafe fn malloc_watched(size: usize) -> *mut c_void {
    if crate::profile::sampling() {
        // SAFETY: any size.
        return crate::profile::profiled_alloc(size, move || unsafe { malloc_unprofiled(size) });
    }
    // SAFETY: any size.
    unsafe { malloc_unprofiled(size) }
}

/// `malloc` itself.
#[inline(always)]
unsafe fn malloc_unprofiled(size: usize) -> *mut c_void {
    if Selected::WATCHES_LARGE_REQUESTS && size >= LARGE_BLOCK {
        // SAFETY: any size.
        return unsafe { malloc_large(size) };
    }
    // SAFETY: any size (the backend keeps the contract).
    allocate(|| unsafe { Selected::alloc(size) })
}

/// `malloc` of a large block, out of line so that the fast path stays a
/// comparison and a tail call.
#[cold]
#[inline(never)]
unsafe fn malloc_large(size: usize) -> *mut c_void {
    before_request(size);
    // SAFETY: any size.
    allocate(|| unsafe { Selected::alloc(size) })
}

/// `free(3)`: NULL or a block of this library; keeps `errno`. A pointer
/// that cannot be a block aborts (`src/override/guard.rs`).
#[inline(always)]
pub(super) unsafe fn free(ptr: *mut c_void) {
    if !super::guard::free_fast(ptr) {
        // SAFETY: as below, once the guard has seen a block.
        return super::guard::free_slow("free", ptr, move || unsafe { free_block(ptr) });
    }
    #[cfg(feature = "override-hardened")]
    if super::guard::FAST_EXCLUDES_POOL {
        // SAFETY: a block in the guard's range, which the hardened
        // override's pool is kept out of: the backend's.
        return unsafe { free_block_of(ptr, |ptr| crate::backend::Selected::free(ptr)) };
    }
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { free_block(ptr) }
}

/// `free` of a block that passed the guard.
#[inline(always)]
unsafe fn free_block(ptr: *mut c_void) {
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { free_block_of(ptr, |ptr| Selected::free(ptr)) }
}

/// `free` of a block by `release` (`Selected::free`, or the backend's own
/// where the guard has ruled out the hardened override's pool).
#[inline(always)]
unsafe fn free_block_of(ptr: *mut c_void, release: impl Fn(*mut c_void) + Copy) {
    #[cfg(feature = "profiling")] // gb-profile hook: a check, then the tail call below
    if crate::profile::dropping(ptr) {
        return crate::profile::profiled_free(ptr, move || release(ptr));
    }
    release(ptr)
}

/// `calloc(3)`: zeroed; an overflowing product or one above `PTRDIFF_MAX`:
/// NULL and `ENOMEM`.
#[inline(always)]
pub(super) unsafe fn calloc(count: usize, size: usize) -> *mut c_void {
    #[cfg(feature = "profiling")] // gb-profile hook: a check, then the tail call
    if crate::profile::sampling() {
        // SAFETY: any arguments.
        return crate::profile::profiled_alloc_out_of_line(
            count.wrapping_mul(size),
            move || unsafe { calloc_unprofiled(count, size) },
        );
    }
    // SAFETY: any arguments.
    unsafe { calloc_unprofiled(count, size) }
}

/// `calloc` itself.
#[inline(always)]
unsafe fn calloc_unprofiled(count: usize, size: usize) -> *mut c_void {
    before_request(count.saturating_mul(size));
    // SAFETY: any arguments (the backend checks the product).
    allocate(|| unsafe { Selected::calloc(count, size) })
}

/// `realloc(3)` as glibc: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)`
/// frees `p` and returns NULL (errno untouched); on failure NULL, `ENOMEM`,
/// `p` kept. A `p` that cannot be a block aborts (`src/override/guard.rs`).
#[inline(always)]
pub(super) unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    super::guard::check_block("realloc", ptr);
    if size == 0 && !ptr.is_null() {
        // The sample goes first (after, another thread could get the
        // address).
        profile_hook!(before_free(ptr));
        // SAFETY: a live block (caller's contract).
        unsafe { Selected::free(ptr) };
        return core::ptr::null_mut();
    }
    before_request(size);
    // gb-profile hook: counts only what the block gains (see
    // profiled_realloc).
    #[cfg(feature = "profiling")]
    return crate::profile::profiled_realloc(
        ptr,
        size,
        // SAFETY: asked only for a live block (ptr not NULL).
        || unsafe { Selected::usable_size(ptr) },
        // SAFETY: NULL or a live block; any size.
        || allocate(|| unsafe { Selected::realloc(ptr, size) }),
    );
    #[allow(unreachable_code)]
    // SAFETY: NULL or a live block; any size.
    allocate(|| unsafe { Selected::realloc(ptr, size) })
}

/// `reallocarray(3)`: `realloc(p, count * size)`, or NULL and `ENOMEM` (with
/// `p` kept) when the product overflows.
#[inline(always)]
pub(super) unsafe fn reallocarray(ptr: *mut c_void, count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        // SAFETY: as realloc.
        Some(bytes) => unsafe { realloc(ptr, bytes) },
        None => fail(libc::ENOMEM),
    }
}

/// `posix_memalign(3)`: returns `EINVAL` when `alignment` is not a power of
/// two multiple of `sizeof(void *)`, `ENOMEM` when the block cannot be had
/// (then `errno` is `ENOMEM` too, as glibc 2.36 leaves it: its
/// `posix_memalign` fails through the allocation that sets it); `*out` is
/// written only on success.
#[inline(always)]
pub(super) unsafe fn posix_memalign(out: *mut *mut c_void, alignment: usize, size: usize) -> c_int {
    let word = core::mem::size_of::<*mut c_void>();
    if !alignment.is_power_of_two() || alignment < word {
        return libc::EINVAL;
    }
    // SAFETY: any arguments.
    let block = unsafe { memalign(alignment, size) };
    if block.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: the caller passes a writable pointer.
    unsafe { *out = block };
    0
}

/// `valloc(3)`: `memalign(page size, size)`.
#[inline(always)]
pub(super) unsafe fn valloc(size: usize) -> *mut c_void {
    // SAFETY: any arguments.
    unsafe { memalign(sys::page_size(), size) }
}

/// `pvalloc(3)`: `size` rounded up to whole pages, page-aligned; `ENOMEM`
/// when the rounding overflows.
#[inline(always)]
pub(super) unsafe fn pvalloc(size: usize) -> *mut c_void {
    let page = sys::page_size();
    match size.checked_next_multiple_of(page) {
        // SAFETY: any arguments.
        Some(rounded) => unsafe { memalign(page, rounded) },
        None => fail(libc::ENOMEM),
    }
}

/// `malloc_usable_size(3)`: bytes usable in the block; 0 for NULL.
#[inline(always)]
pub(super) unsafe fn malloc_usable_size(ptr: *mut c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    super::guard::check_block("malloc_usable_size", ptr);
    // SAFETY: a live block (caller's contract).
    unsafe { Selected::usable_size(ptr) }
}

/// C23 `free_sized`: `size` is the size the block from `malloc`, `calloc`
/// or `realloc` was asked with; NULL is a no-op; keeps `errno`. The default
/// override ignores the size, as glibc 2.39's `free_sized` does: jemalloc's
/// `sdallocx` trusts it to pick the size class, so a wrong one would file
/// the block under another class. The checked override checks it.
#[inline(always)]
pub(super) unsafe fn free_sized(ptr: *mut c_void, size: usize) {
    if cfg!(feature = "override-checked") {
        // SAFETY: as gb_free_sized (the same contract).
        unsafe { crate::ffi::gb_free_sized(ptr, size) }
    } else {
        // SAFETY: NULL or a live block (caller's contract).
        unsafe { free(ptr) }
    }
}

/// C23 `free_aligned_sized` for a block from `aligned_alloc(alignment,
/// size)`; NULL is a no-op; keeps `errno`. The default override ignores the
/// alignment and the size, as `free_sized` does; the checked override checks
/// them (an alignment that is not a power of two, which glibc's rounding
/// served as the next one, or a size above `PTRDIFF_MAX`: the block is freed
/// as by `free`).
#[inline(always)]
pub(super) unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    if !cfg!(feature = "override-checked") {
        // SAFETY: NULL or a live block (caller's contract).
        return unsafe { free(ptr) };
    }
    if alignment <= 1 {
        // aligned_alloc(0 or 1, n) was served by malloc(n).
        // SAFETY: as free_sized.
        return unsafe { crate::ffi::gb_free_sized(ptr, size) };
    }
    // SAFETY: as gb_free_aligned_sized (the same contract).
    unsafe { crate::ffi::gb_free_aligned_sized(ptr, alignment, size) }
}
