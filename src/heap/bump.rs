//! A heap's small blocks, the same on every backend: bump-allocated from
//! 256 KiB chunks the heap owns, with a free list per size class for blocks
//! freed one by one, and every chunk given back at once by destroy.
//!
//! - **Chunks** are 256 KiB, aligned to 256 KiB, mapped with `mmap`. A chunk
//!   starts with the address of the heap's next chunk (8 bytes); blocks
//!   follow. While a heap owns a chunk, the chunk table below maps the
//!   chunk to the heap, so that `gb_free` finds the heap of any block in
//!   a few loads. Destroy takes the heap's chunks out of the table and puts
//!   up to `CACHE_LEN` of them (4 MiB) in a process-wide cache for the next
//!   heaps (a heap per request then maps nothing); the rest are unmapped.
//! - **Blocks** of up to `SMALL_MAX` bytes with at most 16-byte alignment.
//!   Each is preceded by an 8-byte header holding its stride (header plus
//!   block, a multiple of 16), so the block is 16-aligned and its usable
//!   size is the stride less 8. Strides come in 48 classes: steps of 16 up
//!   to 512, then four per doubling up to 8 KiB (at most 25% rounding).
//! - **A block freed by `gb_free`** goes on its heap's free list for its
//!   class, and the next allocation of that class takes it back; memory is
//!   returned to the OS only when the heap is destroyed (as with mimalloc's
//!   and other arena allocators' heaps).
//! - Every heap has a lock (uncontended in practice: a request's heap is
//!   used by one thread at a time) around its bump pointer and free lists.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Mutex;

use super::Heap;

pub(crate) const CHUNK_SHIFT: u32 = 18;
pub(crate) const CHUNK: usize = 1 << CHUNK_SHIFT;
/// The largest block size served from chunks.
pub(crate) const SMALL_MAX: usize = 8192 - HEADER;
/// Bytes before each block: its stride.
const HEADER: usize = 8;
/// Size classes (see `class_of`).
pub(crate) const CLASSES: usize = 48;

/// The class and stride (header + usable bytes) for a block of `size`
/// bytes, `1 <= size <= SMALL_MAX`.
#[inline]
pub(crate) fn class_of(size: usize) -> (usize, usize) {
    let need = size + HEADER;
    if need <= 512 {
        let stride = (need + 15) & !15;
        (stride / 16 - 1, stride)
    } else {
        // need in (2^k, 2^(k+1)], k >= 9: steps of 2^(k-2).
        let k = usize::BITS - 1 - (need - 1).leading_zeros();
        let step_shift = k - 2;
        let units = (need + (1 << step_shift) - 1) >> step_shift; // 5..=8
        (32 + (k as usize - 9) * 4 + units - 5, units << step_shift)
    }
}

/// A heap's chunks and free lists (under the heap's lock).
pub(crate) struct Bump {
    /// Next header position in the current chunk, and its end.
    top: usize,
    end: usize,
    /// The heap's first chunk (each chunk starts with the next one's
    /// address); 0 for none.
    chunks: usize,
    /// The first free block of each class (each holds the next one's
    /// address in its first 8 bytes); 0 for none.
    free: [usize; CLASSES],
    /// The classes whose free list was ever filled (bit per class), so
    /// that a reset clears only those.
    used: u64,
    /// A chunk kept from the heap's previous life (struct reuse, see
    /// `Heap::destroy`), out of the table; 0 for none.
    spare: usize,
}

impl Bump {
    pub(crate) const fn new() -> Bump {
        Bump {
            top: 0,
            end: 0,
            chunks: 0,
            free: [0; CLASSES],
            used: 0,
            spare: 0,
        }
    }

    /// A block of `class` and `stride` for `heap`, its header written, or
    /// null when no chunk can be had.
    #[inline]
    pub(crate) fn alloc(&mut self, heap: &Heap, class: usize, stride: usize) -> *mut c_void {
        let head = self.free[class];
        if head != 0 {
            // SAFETY: a free block of this heap: its first word is the next.
            self.free[class] = unsafe { *(head as *const usize) };
            return head as *mut c_void;
        }
        if self.end - self.top < stride && !self.new_chunk(heap) {
            return ptr::null_mut();
        }
        let header = self.top;
        self.top += stride;
        // SAFETY: inside a chunk this heap owns, 8-aligned.
        unsafe { *(header as *mut usize) = stride };
        (header + HEADER) as *mut c_void
    }

    /// Puts a block of this heap back on its class's free list.
    ///
    /// # Safety
    /// `block` is a live small block of this heap, of `class`.
    #[inline]
    pub(crate) unsafe fn free(&mut self, block: *mut c_void, class: usize) {
        // SAFETY: the block has at least 8 usable bytes.
        unsafe { *(block as *mut usize) = self.free[class] };
        self.free[class] = block as usize;
        self.used |= 1 << class;
    }

    #[cold]
    #[inline(never)]
    fn new_chunk(&mut self, heap: &Heap) -> bool {
        let base = match core::mem::take(&mut self.spare) {
            0 => match chunk_take() {
                Some(base) => base,
                None => return false,
            },
            spare => spare,
        };
        if !table_set(base, heap as *const Heap as *mut Heap) {
            chunk_give(base);
            return false;
        }
        // SAFETY: a chunk of ours: its first word links the heap's chunks.
        unsafe { *(base as *mut usize) = self.chunks };
        self.chunks = base;
        self.top = base + HEADER;
        self.end = base + CHUNK;
        true
    }

    /// Takes every chunk out of the table and gives it back (cache or OS),
    /// but one kept as `spare` when `keep_one`; empties the free lists.
    pub(crate) fn release_all(&mut self, keep_one: bool) {
        let mut chunk = self.chunks;
        let mut keep = keep_one && self.spare == 0;
        while chunk != 0 {
            // SAFETY: a chunk of this heap: its first word is the next one.
            let next = unsafe { *(chunk as *const usize) };
            table_set(chunk, ptr::null_mut());
            if keep {
                self.spare = chunk;
                keep = false;
            } else {
                chunk_give(chunk);
            }
            chunk = next;
        }
        if !keep_one {
            self.give_spare();
        }
        while self.used != 0 {
            let class = self.used.trailing_zeros() as usize;
            self.free[class] = 0;
            self.used &= self.used - 1;
        }
        self.top = 0;
        self.end = 0;
        self.chunks = 0;
    }

    /// Gives the spare chunk back (cache or OS).
    pub(crate) fn give_spare(&mut self) {
        let spare = core::mem::take(&mut self.spare);
        if spare != 0 {
            chunk_give(spare);
        }
    }
}

/// A heap's lock: a flag taken with one compare-and-swap and released with
/// one store (a request's heap is used by one thread at a time, so the lock
/// is almost never contended; a waiter spins briefly, then yields). Unlike
/// `std::sync::Mutex` it has no poisoning to check: nothing under it panics.
pub(crate) struct Lock<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, one thread at a time.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Lock<T> {}

pub(crate) struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    pub(crate) const fn new(value: T) -> Lock<T> {
        Lock {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        if self
            .taken
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.wait();
        }
        Guard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn wait(&self) {
        let mut spins = 0u32;
        loop {
            if !self.taken.load(Ordering::Relaxed)
                && self
                    .taken
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            spins += 1;
            if spins < 64 {
                core::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the lock is held.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held, by this guard alone.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.taken.store(false, Ordering::Release);
    }
}

/// The stride of a small block (from its header).
///
/// # Safety
/// `block` is a live small block.
#[inline]
pub(crate) unsafe fn stride_of(block: *const c_void) -> usize {
    // SAFETY: the header precedes every small block.
    unsafe { *((block as usize - HEADER) as *const usize) }
}

/// Usable bytes of a small block of `stride`.
#[inline]
pub(crate) fn usable_of(stride: usize) -> usize {
    stride - HEADER
}

// The chunk table: chunk number -> heap, two levels (a static directory of
// leaves mapped on first use, never unmapped).

const ADDRESS_BITS: u32 = 48;
const LEAF_BITS: u32 = 15;
const LEAF_LEN: usize = 1 << LEAF_BITS;
const DIRECTORY_LEN: usize = 1 << (ADDRESS_BITS - CHUNK_SHIFT - LEAF_BITS);
type Leaf = [AtomicPtr<Heap>; LEAF_LEN];

static DIRECTORY: [AtomicPtr<Leaf>; DIRECTORY_LEN] =
    [const { AtomicPtr::new(ptr::null_mut()) }; DIRECTORY_LEN];

/// The heap whose chunk holds `ptr`, if any. Safe for any pointer value.
#[inline]
pub(crate) fn owner(ptr: *const c_void) -> Option<*const Heap> {
    let address = ptr as usize;
    if cfg!(target_pointer_width = "64") && (address as u64) >> ADDRESS_BITS != 0 {
        return None;
    }
    let chunk = address >> CHUNK_SHIFT;
    let leaf = DIRECTORY[chunk >> LEAF_BITS].load(Ordering::Acquire);
    if leaf.is_null() {
        return None;
    }
    // SAFETY: leaves are never unmapped.
    let heap = unsafe { &(*leaf)[chunk & (LEAF_LEN - 1)] }.load(Ordering::Acquire);
    (!heap.is_null()).then_some(heap as *const Heap)
}

/// Maps `base`'s chunk to `heap` (null: to none). False when the leaf
/// could not be mapped (only when setting).
fn table_set(base: usize, heap: *mut Heap) -> bool {
    let chunk = base >> CHUNK_SHIFT;
    let slot = &DIRECTORY[chunk >> LEAF_BITS];
    let mut leaf = slot.load(Ordering::Acquire);
    if leaf.is_null() {
        if heap.is_null() {
            return true;
        }
        let fresh = map(core::mem::size_of::<Leaf>());
        if fresh.is_null() {
            return false;
        }
        match slot.compare_exchange(
            ptr::null_mut(),
            fresh.cast(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => leaf = fresh.cast(),
            Err(winner) => {
                // SAFETY: our own mapping, never published.
                unsafe { libc::munmap(fresh, core::mem::size_of::<Leaf>()) };
                leaf = winner;
            }
        }
    }
    // SAFETY: a live leaf, never unmapped.
    unsafe { &(*leaf)[chunk & (LEAF_LEN - 1)] }.store(heap, Ordering::Release);
    true
}

fn map(len: usize) -> *mut c_void {
    // SAFETY: an anonymous private mapping.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p
    }
}

// The chunk cache: chunks of destroyed heaps, for the next heaps.

/// Chunks kept (4 MiB); beyond that destroy unmaps them.
const CACHE_LEN: usize = 16;
static CACHE: Mutex<([usize; CACHE_LEN], usize)> = Mutex::new(([0; CACHE_LEN], 0));

/// A chunk from the cache or a new mapping; `None` when none can be had
/// (errno is `ENOMEM` then).
fn chunk_take() -> Option<usize> {
    {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let (chunks, len) = &mut *cache;
        if *len > 0 {
            *len -= 1;
            return Some(chunks[*len]);
        }
    }
    // Twice the size, trimmed to an aligned chunk.
    let raw = map(2 * CHUNK);
    if raw.is_null() {
        return None;
    }
    let start = raw as usize;
    let base = (start + CHUNK - 1) & !(CHUNK - 1);
    // SAFETY: the parts of our own mapping outside the aligned chunk.
    unsafe {
        if base > start {
            libc::munmap(raw, base - start);
        }
        let tail = start + 2 * CHUNK - (base + CHUNK);
        if tail > 0 {
            libc::munmap((base + CHUNK) as *mut c_void, tail);
        }
    }
    Some(base)
}

/// Gives a chunk no heap owns any more to the cache, or to the OS.
fn chunk_give(base: usize) {
    {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let (chunks, len) = &mut *cache;
        if *len < CACHE_LEN {
            chunks[*len] = base;
            *len += 1;
            return;
        }
    }
    // SAFETY: a chunk of ours that nothing uses.
    unsafe { libc::munmap(base as *mut c_void, CHUNK) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_size_once() {
        let mut last = (0, 16);
        for size in 1..=SMALL_MAX {
            let (class, stride) = class_of(size);
            assert!(class < CLASSES, "size {size}");
            assert!(usable_of(stride) >= size, "size {size}");
            assert_eq!(stride % 16, 0, "size {size}");
            let waste = stride - (size + HEADER);
            assert!(waste < 16 || waste < stride / 4, "size {size}");
            // Classes grow with the size and one class has one stride.
            assert!(class >= last.0);
            if class == last.0 {
                assert_eq!(stride, last.1, "size {size}");
            }
            last = (class, stride);
        }
        assert_eq!(last.0, CLASSES - 1);
        assert_eq!(last.1, 8192);
    }
}
