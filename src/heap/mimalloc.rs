//! Heaps on mimalloc 3: one `mi_heap_t` per heap (`mi_heap_new`), which
//! any thread may allocate in and free to; `mi_heap_destroy` frees every
//! block at once, and `mi_collect(true)` then returns the pages to the OS.
//! Which heap a block belongs to: `mi_heap_of`, then a map from mimalloc's
//! heap to ours.

use core::ffi::c_void;
use std::collections::HashMap;
use std::sync::RwLock;

#[cfg(gb_backend_auto_dep)]
use graphbit_alloc_auto::libmimalloc_sys as mi;
#[cfg(not(gb_backend_auto_dep))]
use libmimalloc_sys as mi;

use super::Heap;

extern "C" {
    // mimalloc 3's API; libmimalloc-sys 0.1.49 declares v2's list.
    fn mi_heap_of(p: *const c_void) -> *mut mi::mi_heap_t;
    fn mi_heap_main() -> *mut mi::mi_heap_t;
}

/// Our heap for each of mimalloc's (addresses as integers).
static HEAPS: RwLock<Option<HashMap<usize, usize>>> = RwLock::new(None);

/// The peak size from which destroying a heap collects at once.
const COLLECT_AFTER: usize = 4 << 20;

/// A heap's mimalloc heap.
pub(crate) struct Raw {
    heap: *mut mi::mi_heap_t,
}

// SAFETY: mimalloc 3 heaps may be used from any thread.
unsafe impl Send for Raw {}
// SAFETY: as above.
unsafe impl Sync for Raw {}

impl Raw {
    pub fn new() -> Option<Raw> {
        // SAFETY: no preconditions.
        let heap = unsafe { mi::mi_heap_new() };
        if heap.is_null() {
            crate::sys::errno::set(libc::ENOMEM);
            return None;
        }
        Some(Raw { heap })
    }

    /// # Safety
    /// As `Heap::alloc`.
    pub unsafe fn alloc(
        &self,
        _heap: &Heap,
        size: usize,
        alignment: usize,
        zero: bool,
    ) -> *mut c_void {
        // SAFETY: a live mimalloc heap; alignment a power of two when not 0.
        unsafe {
            match (alignment, zero) {
                (0, false) => mi::mi_heap_malloc(self.heap, size),
                (0, true) => mi::mi_heap_zalloc(self.heap, size),
                (_, false) => mi::mi_heap_malloc_aligned(self.heap, size, alignment),
                (_, true) => mi::mi_heap_zalloc_aligned(self.heap, size, alignment),
            }
        }
    }

    /// Destroys the heap. A heap that held `COLLECT_AFTER` bytes or more
    /// at its peak has its pages returned to the OS at once
    /// (`mi_collect(true)`, which walks the whole process's memory and costs
    /// far more than destroying a small heap); a smaller one's pages go
    /// back after mimalloc's purge delay.
    pub fn destroy(self, peak: usize) {
        // SAFETY: a live heap, destroyed once.
        unsafe { mi::mi_heap_destroy(self.heap) };
        if peak >= COLLECT_AFTER {
            // SAFETY: no preconditions.
            unsafe { mi::mi_collect(true) };
        }
    }
}

/// `mi_good_size` is not promised to be the block's usable size: checked
/// after the allocation.
pub(crate) const GOOD_SIZE_EXACT: bool = false;

/// The usable size mimalloc will give `size` bytes (`mi_good_size`), or 0
/// (not known) for an aligned block.
pub fn good_size(size: usize, alignment: usize) -> usize {
    if alignment != 0 {
        return 0;
    }
    // SAFETY: only computes.
    unsafe { mi::mi_good_size(size) }
}

/// # Safety
/// A live block of this backend.
pub unsafe fn usable_size(ptr: *const c_void) -> usize {
    // SAFETY: as above.
    unsafe { mi::mi_usable_size(ptr) }
}

/// # Safety
/// A live block of a heap.
pub unsafe fn free(ptr: *mut c_void) {
    // SAFETY: as above; mi_free finds the block's heap itself.
    unsafe { mi::mi_free(ptr) }
}

pub fn register(heap: &Heap, raw: &Raw) {
    let mut map = HEAPS.write().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new)
        .insert(raw.heap as usize, heap as *const Heap as usize);
}

pub fn unregister(raw: &Raw) {
    let mut map = HEAPS.write().unwrap_or_else(|e| e.into_inner());
    if let Some(map) = map.as_mut() {
        map.remove(&(raw.heap as usize));
    }
}

/// The heap that holds `ptr`, if any.
pub fn lookup(ptr: *const c_void) -> Option<*const Heap> {
    // SAFETY: mi_is_in_heap_region accepts any pointer; mi_heap_of then
    // reads the page of one of mimalloc's blocks.
    let mi_heap = unsafe {
        if !mi::mi_is_in_heap_region(ptr) {
            return None;
        }
        mi_heap_of(ptr)
    };
    // SAFETY: no preconditions.
    if mi_heap.is_null() || mi_heap == unsafe { mi_heap_main() } {
        return None;
    }
    let map = HEAPS.read().unwrap_or_else(|e| e.into_inner());
    map.as_ref()?
        .get(&(mi_heap as usize))
        .map(|&h| h as *const Heap)
}
