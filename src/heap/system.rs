//! Heaps on the C library's `malloc`, which has none of its own: a heap's
//! blocks are ordinary `malloc` blocks, listed (under one lock, for all
//! heaps) in a map from block to heap, so that `gb_free` can tell a heap's
//! block and `gb_heap_destroy` can free them all. Destroy then asks the C
//! library to return free memory to the OS (`malloc_trim`).

use core::ffi::c_void;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::Heap;

#[derive(Default)]
struct Blocks {
    /// Block address -> heap address.
    heap_of: HashMap<usize, usize>,
    /// Heap address -> its blocks.
    of_heap: HashMap<usize, HashSet<usize>>,
}

static BLOCKS: Mutex<Option<Blocks>> = Mutex::new(None);

fn with_blocks<R>(f: impl FnOnce(&mut Blocks) -> R) -> R {
    let mut guard = BLOCKS.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Blocks::default))
}

/// A system heap has no state of its own beyond its entry in the map.
pub(crate) struct Raw {
    /// The heap's address once registered (its key in the map).
    key: core::sync::atomic::AtomicUsize,
}

impl Raw {
    pub fn new() -> Option<Raw> {
        Some(Raw {
            key: core::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// # Safety
    /// As `Heap::alloc`.
    pub unsafe fn alloc(
        &self,
        heap: &Heap,
        size: usize,
        alignment: usize,
        zero: bool,
    ) -> *mut c_void {
        let size = size.max(1);
        // SAFETY: any size; posix_memalign gets a power of two that is a
        // multiple of sizeof(void *).
        let block = unsafe {
            if alignment == 0 {
                if zero {
                    libc::calloc(1, size)
                } else {
                    libc::malloc(size)
                }
            } else {
                let mut block = core::ptr::null_mut();
                let alignment = alignment.max(core::mem::size_of::<*mut c_void>());
                if libc::posix_memalign(&mut block, alignment, size) != 0 {
                    block = core::ptr::null_mut();
                } else if zero {
                    core::ptr::write_bytes(block.cast::<u8>(), 0, size);
                }
                block
            }
        };
        if block.is_null() {
            return block;
        }
        let heap = heap as *const Heap as usize;
        with_blocks(|b| {
            b.heap_of.insert(block as usize, heap);
            b.of_heap.entry(heap).or_default().insert(block as usize);
        });
        block
    }

    pub fn destroy(self, _peak: usize) {
        let heap = self.key.load(core::sync::atomic::Ordering::Relaxed);
        let blocks = with_blocks(|b| {
            let blocks = b.of_heap.remove(&heap).unwrap_or_default();
            for block in &blocks {
                b.heap_of.remove(block);
            }
            blocks
        });
        for block in blocks {
            // SAFETY: a live block of the heap, no longer listed.
            unsafe { libc::free(block as *mut c_void) };
        }
        let _ = <crate::backend::Selected as crate::backend::Backend>::trim();
    }
}

/// The usable size is known only after the allocation.
pub(crate) const GOOD_SIZE_EXACT: bool = false;

/// Not known before allocating.
pub fn good_size(_size: usize, _alignment: usize) -> usize {
    0
}

/// # Safety
/// A live block of this backend.
pub unsafe fn usable_size(ptr: *const c_void) -> usize {
    use crate::backend::{Backend, Selected};
    // SAFETY: as above.
    unsafe { Selected::usable_size(ptr) }
}

/// # Safety
/// A live block of a heap.
pub unsafe fn free(ptr: *mut c_void) {
    with_blocks(|b| {
        if let Some(heap) = b.heap_of.remove(&(ptr as usize)) {
            if let Some(set) = b.of_heap.get_mut(&heap) {
                set.remove(&(ptr as usize));
            }
        }
    });
    // SAFETY: as above.
    unsafe { libc::free(ptr) }
}

pub fn register(heap: &Heap, raw: &Raw) {
    let key = heap as *const Heap as usize;
    raw.key.store(key, core::sync::atomic::Ordering::Relaxed);
    with_blocks(|b| {
        b.of_heap.insert(key, HashSet::new());
    });
}

pub fn unregister(_raw: &Raw) {
    // Destroy removes the heap's entry with its blocks.
}

/// The heap that holds `ptr`, if any.
pub fn lookup(ptr: *const c_void) -> Option<*const Heap> {
    with_blocks(|b| b.heap_of.get(&(ptr as usize)).map(|&h| h as *const Heap))
}
