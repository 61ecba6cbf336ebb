//! mimalloc, statically linked. Its functions keep their `mi_` names and never
//! replace the host's `malloc`; on ELF platforms it is built with the
//! local-dynamic TLS model so that the shared library can be `dlopen`-ed.
//! mimalloc does not set `errno`: the C API layer does.

use core::ffi::{c_void, CStr};
use std::sync::OnceLock;

use libmimalloc_sys as mi;

/// The backend's name as `gb_allocator_name` reports it.
pub const NAME: &CStr = c"mimalloc";

/// Rust's global allocator for this backend.
pub type RustAllocator = mimalloc::MiMalloc;
/// The value installed as `#[global_allocator]`.
pub const RUST_ALLOCATOR: RustAllocator = mimalloc::MiMalloc;

/// mimalloc's version as "major.minor.patch" (from `mi_version()`).
pub fn version() -> &'static CStr {
    static VERSION: OnceLock<std::ffi::CString> = OnceLock::new();
    VERSION.get_or_init(|| {
        // SAFETY: no preconditions.
        let v = unsafe { mi::mi_version() };
        let text = format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
        std::ffi::CString::new(text).unwrap_or_default()
    })
}

#[inline]
pub unsafe fn alloc(size: usize) -> *mut c_void {
    // SAFETY: mi_malloc accepts any size, 0 included.
    unsafe { mi::mi_malloc(size) }
}

#[inline]
pub unsafe fn alloc_zeroed(count: usize, size: usize) -> *mut c_void {
    // SAFETY: mi_calloc checks the product itself as well.
    unsafe { mi::mi_calloc(count, size) }
}

#[inline]
pub unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: a live block of this backend.
    unsafe { mi::mi_realloc(ptr, size) }
}

#[inline]
pub unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: alignment is a power of two.
    unsafe { mi::mi_malloc_aligned(size, alignment) }
}

#[inline]
pub unsafe fn free(ptr: *mut c_void) {
    // SAFETY: NULL or a live block of this backend.
    unsafe { mi::mi_free(ptr) }
}

/// mimalloc's sized free only checks the size in debug builds, so it is
/// correct for blocks from `aligned_alloc` as well.
#[inline]
pub unsafe fn free_sized(ptr: *mut c_void, size: usize) {
    // SAFETY: a live block of this backend.
    unsafe { mi::mi_free_size(ptr, size) }
}

#[inline]
pub unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    // SAFETY: a live block from `aligned_alloc(alignment, size)`.
    unsafe { mi::mi_free_size_aligned(ptr, size, alignment) }
}

#[inline]
pub unsafe fn usable_size(ptr: *const c_void) -> usize {
    // SAFETY: a live block of this backend.
    unsafe { mi::mi_usable_size(ptr) }
}

/// This backend can tell its own blocks from foreign pointers.
pub const CAN_TELL_OWNERSHIP: bool = true;

/// True if `ptr` lies in memory that mimalloc manages. Safe for any pointer
/// value: mimalloc consults its own page map.
pub fn owns(ptr: *const c_void) -> bool {
    // SAFETY: mi_is_in_heap_region accepts any pointer.
    !ptr.is_null() && unsafe { mi::mi_is_in_heap_region(ptr) }
}

/// mimalloc keeps no byte counter in release builds; ownership is the evidence.
pub fn allocation_counter() -> Option<u64> {
    None
}
