//! Heaps a host creates, caps and destroys (`gb_heap_*`, src/ffi/heap.rs).
//!
//! One generic layer keeps what is the same on every backend: the byte limit
//! and the counters. Each backend module (`jemalloc`, `mimalloc`, `system`)
//! supplies the memory: a jemalloc arena used with the thread cache
//! bypassed, a mimalloc 3 heap, or the C library's `malloc` with a locked
//! map of the heap's blocks.
//!
//! **The limit counts usable bytes** (what `gb_usable_size` reports for each
//! live block), so the sum over a heap's live blocks is never above it. A
//! request reserves the usable size the backend will give (jemalloc:
//! `nallocx`; mimalloc: `mi_good_size`) with one compare-and-swap before it
//! allocates; where that size is not known in advance (the system backend,
//! aligned blocks on mimalloc) the block is allocated first and released
//! again when its usable size does not fit. Either way the counter never
//! passes the limit, under any number of threads.
//!
//! **Freeing**: `gb_free` and its relatives accept heap blocks. While no
//! heap exists (`LIVE_HEAPS` is 0) they pay one load and a branch; while
//! one does, every free asks the backend which heap, if any, the block
//! belongs to ([`free_if_heap_block`]).

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::sys::errno;

#[cfg(gb_backend = "jemalloc")]
#[path = "jemalloc.rs"]
mod imp;
#[cfg(gb_backend = "mimalloc")]
#[path = "mimalloc.rs"]
mod imp;
#[cfg(gb_backend = "system")]
#[path = "system.rs"]
mod imp;

#[cfg_attr(not(feature = "checked"), allow(dead_code))]
pub(crate) mod checked;

/// Largest size any function accepts: `PTRDIFF_MAX`.
const MAX_SIZE: usize = isize::MAX as usize;

/// Heaps created and not yet destroyed. `gb_free` looks a block up only
/// while this is not zero. The heap profiler (feature `profiling`) also
/// sets [`SAMPLES_LIVE`] in it while samples are live, so that `gb_free`'s
/// one check covers both.
pub(crate) static LIVE_HEAPS: AtomicUsize = AtomicUsize::new(0);

/// The bit of `LIVE_HEAPS` that counts no heap: set by the heap profiler
/// while a sample is live (`src/profile/`).
#[cfg_attr(not(feature = "profiling"), allow(dead_code))]
pub(crate) const SAMPLES_LIVE: usize = 1 << (usize::BITS - 1);

/// Numbers heaps for checked mode's messages.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A heap: the limit, its counters and the backend's handle.
pub struct Heap {
    id: u64,
    /// The limit in usable bytes; `usize::MAX` when there is none.
    limit: usize,
    /// Usable bytes of the live blocks (never above `limit`).
    allocated: AtomicUsize,
    peak: AtomicUsize,
    blocks: AtomicUsize,
    refused: AtomicU64,
    raw: imp::Raw,
}

/// The counters `gb_heap_stats` reports.
pub struct Counters {
    pub limit: usize,
    pub allocated: usize,
    pub peak: usize,
    pub blocks: usize,
    pub refused: u64,
}

#[cold]
fn enomem() -> *mut c_void {
    errno::set(libc::ENOMEM);
    core::ptr::null_mut()
}

impl Heap {
    /// A new heap, boxed (its address is the C handle), or `None` when the
    /// backend cannot make one (errno set).
    pub fn new(limit: usize) -> Option<Box<Heap>> {
        let raw = imp::Raw::new()?;
        let heap = Box::new(Heap {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            limit: if limit == 0 { usize::MAX } else { limit },
            allocated: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            blocks: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            raw,
        });
        imp::register(&heap);
        if cfg!(feature = "checked") {
            checked::heap_created(&*heap as *const Heap as usize, heap.id);
        }
        LIVE_HEAPS.fetch_add(1, Ordering::SeqCst);
        Some(heap)
    }

    /// Counts `bytes` more, if the limit allows.
    fn reserve(&self, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let limit = self.limit;
        match self
            .allocated
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                now.checked_add(bytes).filter(|&after| after <= limit)
            }) {
            Ok(before) => {
                self.peak.fetch_max(before + bytes, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    fn release(&self, bytes: usize) {
        self.allocated.fetch_sub(bytes, Ordering::Relaxed);
    }

    #[cold]
    fn refuse(&self) -> *mut c_void {
        self.refused.fetch_add(1, Ordering::Relaxed);
        enomem()
    }

    /// Allocates `size` bytes (`alignment` 0: `malloc`'s alignment), zeroed
    /// when `zero`; the limit is kept exactly.
    ///
    /// # Safety
    /// `alignment` is 0 or a power of two with `size` rounded up to it at
    /// most `PTRDIFF_MAX`.
    pub unsafe fn alloc(&self, size: usize, alignment: usize, zero: bool) -> *mut c_void {
        if size > MAX_SIZE {
            return enomem();
        }
        let guess = imp::good_size(size, alignment);
        if !self.reserve(guess) {
            return self.refuse();
        }
        // SAFETY: the arguments are as `imp::Raw::alloc` requires.
        let block = unsafe { self.raw.alloc(self, size, alignment, zero) };
        if block.is_null() {
            self.release(guess);
            return enomem();
        }
        let usable = if imp::GOOD_SIZE_EXACT {
            guess
        } else {
            // SAFETY: a live block of this heap.
            unsafe { imp::usable_size(block) }
        };
        if usable > guess {
            if !self.reserve(usable - guess) {
                // SAFETY: the block just allocated, not yet counted.
                unsafe { imp::free(block) };
                self.release(guess);
                return self.refuse();
            }
        } else {
            self.release(guess - usable);
        }
        self.blocks.fetch_add(1, Ordering::Relaxed);
        if cfg!(feature = "checked") {
            checked::block_allocated(block as usize, self.id);
        }
        block
    }

    /// `gb_heap_calloc`.
    ///
    /// # Safety
    /// None beyond a live heap.
    pub unsafe fn calloc(&self, count: usize, size: usize) -> *mut c_void {
        match count.checked_mul(size) {
            // SAFETY: alignment 0, any size.
            Some(total) => unsafe { self.alloc(total, 0, true) },
            None => enomem(),
        }
    }

    /// `gb_heap_realloc` for a live block of this heap (or NULL): a new
    /// block in this heap, the contents copied, the old block freed, so
    /// that a failure (limit or memory) changes nothing. A block that
    /// already holds `size` bytes and would not waste more than half of
    /// itself is returned as it is.
    ///
    /// # Safety
    /// `ptr` is NULL or a live block of this heap.
    pub unsafe fn realloc(&self, ptr: *mut c_void, size: usize) -> *mut c_void {
        if ptr.is_null() {
            // SAFETY: alignment 0.
            return unsafe { self.alloc(size, 0, false) };
        }
        if size > MAX_SIZE {
            return enomem();
        }
        // SAFETY: a live block of this heap.
        let old = unsafe { imp::usable_size(ptr) };
        if size <= old && size >= old / 2 {
            return ptr;
        }
        // SAFETY: alignment 0.
        let block = unsafe { self.alloc(size.max(1), 0, false) };
        if !block.is_null() {
            // SAFETY: both blocks hold at least the bytes copied.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr.cast::<u8>(), block.cast::<u8>(), old.min(size))
            };
            // SAFETY: ptr is a live block of this heap.
            unsafe { self.free(ptr) };
        }
        block
    }

    /// Frees a live block of this heap (any thread).
    ///
    /// # Safety
    /// `ptr` is a live block of this heap.
    pub unsafe fn free(&self, ptr: *mut c_void) {
        // SAFETY: a live block of this heap.
        let usable = unsafe { imp::usable_size(ptr) };
        if cfg!(feature = "checked") {
            checked::block_freed(ptr as usize);
        }
        // SAFETY: as above.
        unsafe { imp::free(ptr) };
        self.release(usable);
        self.blocks.fetch_sub(1, Ordering::Relaxed);
    }

    /// The counters, as `gb_heap_stats` reports them.
    pub fn counters(&self) -> Counters {
        Counters {
            limit: if self.limit == usize::MAX {
                0
            } else {
                self.limit
            },
            allocated: self.allocated.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            blocks: self.blocks.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Frees every block at once and the heap itself; its memory goes back
    /// to the OS.
    pub fn destroy(heap: Box<Heap>) {
        if cfg!(feature = "checked") {
            for block in checked::heap_destroyed(&*heap as *const Heap as usize, heap.id) {
                crate::checked::forget(
                    "gb_heap_destroy",
                    block as *mut c_void,
                    crate::checked::Claim::Live,
                );
            }
        }
        imp::unregister(&heap);
        let peak = heap.peak.load(Ordering::Relaxed);
        let Heap { raw, .. } = *heap;
        raw.destroy(peak);
        LIVE_HEAPS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The heap that owns `ptr`, if any. Safe for any pointer the backend's
/// `owns` accepts, and for live blocks of the backend.
pub(crate) fn heap_of(ptr: *const c_void) -> Option<&'static Heap> {
    if ptr.is_null() || LIVE_HEAPS.load(Ordering::Relaxed) & !SAMPLES_LIVE == 0 {
        return None;
    }
    // SAFETY: a heap stays registered (and alive) until it is destroyed,
    // and a block may not be used after its heap is destroyed.
    imp::lookup(ptr).map(|heap| unsafe { &*heap })
}

/// True while any heap exists: `gb_free` then checks each block.
#[inline(always)]
pub(crate) fn any_live() -> bool {
    LIVE_HEAPS.load(Ordering::Relaxed) != 0
}

/// True while any heap exists, whether or not samples are live.
#[cfg_attr(not(feature = "profiling"), allow(dead_code))]
#[inline(always)]
pub(crate) fn any_heap() -> bool {
    LIVE_HEAPS.load(Ordering::Relaxed) & !SAMPLES_LIVE != 0
}

/// `gb_free`'s path while heaps exist: frees `ptr` as a heap block when it
/// is one (keeping `errno`) and returns true; false for an ordinary block.
///
/// # Safety
/// `ptr` is NULL or a live block.
#[cold]
#[inline(never)]
pub(crate) unsafe fn free_if_heap_block(ptr: *mut c_void) -> bool {
    match heap_of(ptr) {
        Some(heap) => {
            // SAFETY: a live block of that heap (caller's contract).
            errno::preserve(|| unsafe { heap.free(ptr) });
            true
        }
        None => false,
    }
}
