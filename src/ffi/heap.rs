//! Heaps (`gb_heap_*`): memory a host allocates from any thread, caps with
//! a byte limit, and frees all at once. The logic is in `src/heap/`.

use core::ffi::{c_int, c_void};

use crate::checked;
use crate::heap::Heap;

/// True in the checked library.
const CHECKED: bool = cfg!(feature = "checked");

/// A heap: blocks allocated in it are freed one by one with `gb_free` (or
/// `gb_free_sized`, `gb_free_aligned_sized`), or all at once by
/// `gb_heap_destroy`. Opaque; made by `gb_heap_new`.
#[allow(non_camel_case_types)]
pub struct gb_heap_t {
    _private: [u8; 0],
}

/// A heap's counters, filled by `gb_heap_stats`. The caller sets `size` to
/// `sizeof(gb_heap_stats_t)` first, so that the struct can grow in later
/// versions: the library fills only the fields that fit in `size` bytes and
/// sets `size` to the number of bytes it filled.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
pub struct gb_heap_stats_t {
    /// In: `sizeof(gb_heap_stats_t)` as the caller knows it. Out: bytes
    /// filled.
    pub size: usize,
    /// The heap's limit in usable bytes, 0 for none.
    pub limit_bytes: u64,
    /// Usable bytes (as `gb_usable_size` counts them) of the heap's live
    /// blocks: the figure the limit caps.
    pub allocated_bytes: u64,
    /// The highest `allocated_bytes` has been.
    pub peak_allocated_bytes: u64,
    /// Live blocks.
    pub blocks: u64,
    /// Requests refused because they would have passed the limit.
    pub refused: u64,
}

fn heap<'a>(function: &str, heap: *const gb_heap_t) -> Option<&'a Heap> {
    if heap.is_null() {
        return None;
    }
    if CHECKED {
        if let Err(id) = crate::heap::checked::check_heap(heap as usize) {
            checked::heap_misuse(function, heap.cast_mut().cast(), id);
        }
    }
    // SAFETY: a heap from gb_heap_new, not destroyed (caller's contract).
    Some(unsafe { &*heap.cast::<Heap>() })
}

fn einval() -> *mut c_void {
    crate::sys::errno::null_with(libc::EINVAL)
}

/// Creates a heap whose live blocks may take at most `limit_bytes` usable
/// bytes (0: no limit) and returns it; release it with `gb_heap_destroy`.
/// The limit counts usable bytes, as `gb_usable_size` reports them for each
/// live block, and is exact: the sum over the heap's live blocks never
/// passes it, whatever the number of threads allocating. Returns NULL with
/// `errno` set to `ENOMEM` when the heap cannot be made. Blocks of up to
/// 8184 bytes come from chunks the heap owns; larger ones from the
/// backend's own heap, made on the first (on jemalloc an arena: past 4095
/// such heaps at once, that block fails with `ENOMEM`).
/// Any thread may use the heap; its blocks may be freed by any thread.
#[no_mangle]
#[must_use]
pub extern "C" fn gb_heap_new(limit_bytes: usize) -> *mut gb_heap_t {
    match Heap::new(limit_bytes) {
        Some(heap) => Box::into_raw(heap).cast(),
        None => core::ptr::null_mut(),
    }
}

/// Allocates `size` bytes in `heap`, aligned as `gb_alloc` aligns them, and
/// returns the block, which the caller releases with `gb_free` (or
/// `gb_free_sized`) or with the whole heap. `size` 0 returns a unique
/// block. Returns NULL with `errno` set to `ENOMEM` when the block would
/// take the heap above its limit (nothing changes: the heap stays usable),
/// when `size` exceeds `PTRDIFF_MAX` or the memory cannot be had, and to
/// `EINVAL` when `heap` is NULL.
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_SIZE(2)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_heap_alloc(heap: *mut gb_heap_t, size: usize) -> *mut c_void {
    let Some(h) = self::heap("gb_heap_alloc", heap) else {
        return einval();
    };
    // SAFETY: malloc's alignment, any size.
    let block = unsafe { h.alloc(size, 0, false) };
    if CHECKED {
        return checked::record(block, size, 0);
    }
    block
}

/// As `gb_heap_alloc` for `count * size` bytes, all zero; a product that
/// overflows or exceeds `PTRDIFF_MAX` returns NULL with `ENOMEM`.
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_SIZE2(2, 3)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_heap_calloc(
    heap: *mut gb_heap_t,
    count: usize,
    size: usize,
) -> *mut c_void {
    let Some(h) = self::heap("gb_heap_calloc", heap) else {
        return einval();
    };
    // SAFETY: any arguments.
    let block = unsafe { h.calloc(count, size) };
    if CHECKED {
        return checked::record(block, count.wrapping_mul(size), 0);
    }
    block
}

/// Resizes `ptr`, a live block of `heap` (or NULL: then as
/// `gb_heap_alloc`), to `size` bytes in the same heap, keeping its contents
/// up to the smaller size, and returns the (possibly moved) block. On
/// failure (the limit, `size` above `PTRDIFF_MAX`, no memory) returns NULL
/// with `ENOMEM` and leaves `ptr` untouched and still counted; `heap` NULL:
/// NULL with `EINVAL`. `gb_realloc` on a heap block resizes it in its heap
/// the same way.
///
/// cbindgen:postfix=GB_DEALLOC GB_ALLOC_SIZE(3)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_heap_realloc(
    heap: *mut gb_heap_t,
    ptr: *mut c_void,
    size: usize,
) -> *mut c_void {
    let Some(h) = self::heap("gb_heap_realloc", heap) else {
        return einval();
    };
    if CHECKED && !ptr.is_null() {
        let old = checked::take_keeping_room("gb_heap_realloc", ptr);
        // SAFETY: a live block of this heap (caller's contract).
        let block = unsafe { h.realloc(ptr, size) };
        if block.is_null() {
            checked::restore(ptr, old);
            return block;
        }
        return checked::record(block, size, 0);
    }
    // SAFETY: NULL or a live block of this heap (caller's contract).
    let block = unsafe { h.realloc(ptr, size) };
    if CHECKED {
        return checked::record(block, size, 0);
    }
    block
}

/// Allocates `size` bytes in `heap` at an address that is a multiple of
/// `alignment` (a power of two, from 1 up). Release it with `gb_free` or
/// `gb_free_aligned_sized`, or with the heap. Returns NULL with `EINVAL`
/// when `heap` is NULL or `alignment` is not a power of two, and with
/// `ENOMEM` as `gb_heap_alloc` does (and when `size` rounded up to
/// `alignment` exceeds `PTRDIFF_MAX`).
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_ALIGN(2) GB_ALLOC_SIZE(3)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_heap_aligned_alloc(
    heap: *mut gb_heap_t,
    alignment: usize,
    size: usize,
) -> *mut c_void {
    let Some(h) = self::heap("gb_heap_aligned_alloc", heap) else {
        return einval();
    };
    if !alignment.is_power_of_two() {
        return einval();
    }
    match size.checked_next_multiple_of(alignment) {
        Some(padded) if padded <= isize::MAX as usize => {
            // SAFETY: alignment is a power of two, the size fits.
            let block = unsafe { h.alloc(size, alignment, false) };
            if CHECKED {
                return checked::record(block, size, alignment);
            }
            block
        }
        _ => {
            crate::sys::errno::set(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

/// Frees every block of `heap` at once, returns its memory to the
/// operating system, and frees the heap itself. Every block of the heap is
/// invalid afterwards (freeing one is undefined; the checked library
/// reports it, naming the heap). NULL is a no-op. Destroying a heap twice,
/// or while another thread allocates in it, is undefined (the checked
/// library reports the second destroy).
#[no_mangle]
pub unsafe extern "C" fn gb_heap_destroy(heap: *mut gb_heap_t) {
    if self::heap("gb_heap_destroy", heap).is_none() {
        return;
    }
    // SAFETY: made by gb_heap_new with Box::into_raw, destroyed once.
    Heap::destroy(unsafe { Box::from_raw(heap.cast::<Heap>()) });
}

/// Fills `*out` with `heap`'s counters (see `gb_heap_stats_t`; set
/// `out->size` first). Returns 0, or `EINVAL` when `heap` or `out` is NULL
/// or `out->size` is too small to hold even `limit_bytes`; `*out` is left
/// untouched on failure. Cheap (a few atomic loads): the figures are a
/// snapshot that other threads may change at once.
#[no_mangle]
pub unsafe extern "C" fn gb_heap_stats(heap: *const gb_heap_t, out: *mut gb_heap_stats_t) -> c_int {
    if out.is_null() {
        return libc::EINVAL;
    }
    let Some(h) = self::heap("gb_heap_stats", heap) else {
        return libc::EINVAL;
    };
    // SAFETY: out points to at least a size_t (caller's contract).
    let caller_size = unsafe { core::ptr::addr_of!((*out).size).read() };
    let first_field_end = core::mem::offset_of!(gb_heap_stats_t, limit_bytes) + 8;
    if caller_size < first_field_end {
        return libc::EINVAL;
    }
    let c = h.counters();
    let filled = caller_size.min(core::mem::size_of::<gb_heap_stats_t>());
    let filled = first_field_end + (filled - first_field_end) / 8 * 8;
    let full = gb_heap_stats_t {
        size: filled,
        limit_bytes: c.limit as u64,
        allocated_bytes: c.allocated as u64,
        peak_allocated_bytes: c.peak as u64,
        blocks: c.blocks as u64,
        refused: c.refused,
    };
    // SAFETY: out holds `caller_size >= filled` bytes; both are plain data.
    unsafe {
        core::ptr::copy_nonoverlapping(
            (&full as *const gb_heap_stats_t).cast::<u8>(),
            out.cast::<u8>(),
            filled,
        )
    };
    0
}
