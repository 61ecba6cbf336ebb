//! Heaps a host creates, caps and destroys (`gb_heap_*`, src/ffi/heap.rs).
//!
//! One generic layer keeps what is the same on every backend: the byte limit,
//! the counters and the small blocks (up to `bump::SMALL_MAX` bytes, at most
//! 16-byte aligned), bump-allocated from chunks the heap owns with a free
//! list per size class (`bump`). Each backend module (`jemalloc`,
//! `mimalloc`, `system`) supplies the larger and over-aligned blocks, made
//! on a heap's first such block: a jemalloc arena used with the thread
//! cache bypassed, a mimalloc 3 heap, or the C library's `malloc` with a
//! locked map of the heap's blocks.
//!
//! **The limit counts usable bytes** (what `gb_usable_size` reports for each
//! live block), so the sum over a heap's live blocks is never above it. The
//! counters live under the heap's lock. A small block's usable size is its
//! class's, known in advance; a large one reserves the usable size the
//! backend will give (jemalloc: `nallocx`; mimalloc: `mi_good_size`) before
//! it allocates, or, where that size is not known in advance (the system
//! backend, aligned blocks on mimalloc), is allocated first and released
//! again when its usable size does not fit. Either way the counter never
//! passes the limit, under any number of threads.
//!
//! **Freeing**: `gb_free` and its relatives accept heap blocks. While no
//! heap exists (`LIVE_HEAPS` is 0) they pay one load and a branch (`gb_free`
//! an indirect jump through `FREE`, with a load before it where it is not
//! assembly); while
//! one does, every free looks the block's chunk up in the chunk table of
//! small blocks, then asks the backend which heap, if any, the block
//! belongs to ([`free_if_heap_block`]).

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

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

mod bump;

/// Largest size any function accepts: `PTRDIFF_MAX`.
const MAX_SIZE: usize = isize::MAX as usize;

/// Heaps created and not yet destroyed. `gb_free` looks a block up only
/// while this is not zero. The heap profiler (feature `profiling`) also
/// sets [`SAMPLES_LIVE`] in it while samples are live, so that `gb_free`'s
/// one check covers both.
pub(crate) static LIVE_HEAPS: AtomicUsize = AtomicUsize::new(0);

/// What `gb_free` calls: the backend's own C `free` while no heap exists
/// and no profile sample is live ([`plain_free`]), `free_any` while a heap
/// does, `free_sampled` while only samples are live. `gb_free` then costs
/// one indirect jump through it more than the backend's free on x86-64
/// Linux (`jmp [FREE]`, in assembly: src/ffi/alloc.rs), elsewhere a load
/// and the jump (a flag check costs a load, a test and a branch: Rust's
/// atomic loads are not folded into a compare). Switched under
/// `TRANSITIONS` with `LIVE_HEAPS`, so that it is `free_any` whenever a heap
/// exists; a block of a heap reaches another thread only through some
/// synchronisation, after which that thread sees the switch.
pub(crate) static FREE: AtomicPtr<()> = AtomicPtr::new(plain_free() as *mut ());
static TRANSITIONS: Mutex<()> = Mutex::new(());

/// The type of `gb_free`'s functions.
type FreeFn = unsafe extern "C" fn(*mut c_void);

// What `gb_free` frees an ordinary block with: the backend, or the
// override's wrapper that `free` calls (`crate::Allocator`).
use crate::Allocator as Selected;

/// `gb_free`'s function while no heap exists and no sample is live: the
/// backend's own C `free` (jemalloc's entry point itself), so that nothing
/// stands between `gb_free`'s jump and the backend (in the checked and
/// hardened overrides, their `free`).
const fn plain_free() -> FreeFn {
    use crate::backend::Backend;
    Selected::C_FREE
}

/// `gb_free` while a heap exists or a profile sample is live.
///
/// # Safety
/// NULL or a live block.
#[inline(never)]
unsafe extern "C" fn free_any(ptr: *mut c_void) {
    use crate::backend::Backend;
    // gb-profile hook: a live sample's block drops its sample; with no heap,
    // no lookup.
    #[cfg(feature = "profiling")]
    {
        crate::profile::before_free(ptr);
        if !any_heap() {
            // SAFETY: NULL or a live block, not a heap's (none exists).
            return unsafe { Selected::free(ptr) };
        }
    }
    // SAFETY: as above.
    if !unsafe { free_if_heap_block(ptr) } {
        // SAFETY: an ordinary block.
        unsafe { Selected::free(ptr) }
    }
}

/// `gb_free` while profile samples are live and no heap exists: a block
/// whose slot of the profiler's filter counts a sample drops it, then the
/// backend's free. No flag to test (this function is only called while
/// samples are live) and no heap to look for: the filter's few
/// instructions and the tail call.
///
/// # Safety
/// NULL or a live block of the backend.
#[cfg(feature = "profiling")]
#[inline(never)]
unsafe extern "C" fn free_sampled(ptr: *mut c_void) {
    use crate::backend::Backend;
    // gb-profile hook
    crate::profile::drop_sample_if_held(ptr);
    // SAFETY: as above.
    unsafe { Selected::free(ptr) }
}

/// `gb_free`'s function for a value of `LIVE_HEAPS`: `plain_free` while it
/// is zero, `free_sampled` while it counts live samples and no heap,
/// `free_any` while a heap exists.
pub(crate) fn free_for(live: usize) -> *mut () {
    if live == 0 {
        plain_free() as *mut ()
    } else if live == SAMPLES_LIVE {
        samples_only_free()
    } else {
        free_any as *mut ()
    }
}

/// `gb_free`'s function while only samples are live.
#[cfg(feature = "profiling")]
fn samples_only_free() -> *mut () {
    free_sampled as *mut ()
}

/// Without the profiler no sample is ever live; `free_any` would be right.
#[cfg(not(feature = "profiling"))]
fn samples_only_free() -> *mut () {
    free_any as *mut ()
}

/// The function `gb_free` calls for a block (see `FREE`).
#[inline(always)]
pub(crate) fn free_fn() -> FreeFn {
    let f = FREE.load(Ordering::Relaxed);
    // SAFETY: FREE only ever holds `plain_free()`, `free_sampled` or
    // `free_any`, all `FreeFn`s.
    unsafe { core::mem::transmute::<*mut (), FreeFn>(f) }
}

/// Counts a heap made (`+1`) or destroyed (`-1`), switching `FREE`.
fn count_live(made: bool) {
    let _one_at_a_time = TRANSITIONS.lock().unwrap_or_else(|e| e.into_inner());
    let now = if made {
        LIVE_HEAPS.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        LIVE_HEAPS.fetch_sub(1, Ordering::SeqCst) - 1
    };
    publish_free(now);
}

/// Sets or clears [`SAMPLES_LIVE`] (the heap profiler, under its record's
/// lock), switching `FREE` with it.
#[cfg_attr(not(feature = "profiling"), allow(dead_code))]
pub(crate) fn set_samples_live(live: bool) {
    let _one_at_a_time = TRANSITIONS.lock().unwrap_or_else(|e| e.into_inner());
    let now = if live {
        LIVE_HEAPS.fetch_or(SAMPLES_LIVE, Ordering::SeqCst) | SAMPLES_LIVE
    } else {
        LIVE_HEAPS.fetch_and(!SAMPLES_LIVE, Ordering::SeqCst) & !SAMPLES_LIVE
    };
    publish_free(now);
}

/// Stores [`free_for`]`(live)` in `FREE`. Called under `TRANSITIONS`.
fn publish_free(live: usize) {
    FREE.store(free_for(live), Ordering::SeqCst);
}

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
    refused: AtomicU64,
    /// The counters and the small blocks, under the heap's lock.
    state: bump::Lock<State>,
    /// The backend's heap, made on the first large block.
    raw: OnceLock<imp::Raw>,
}

/// What a heap's lock guards.
struct State {
    /// Small blocks: chunks and free lists.
    bump: bump::Bump,
    /// Usable bytes of the live blocks (never above the limit).
    allocated: usize,
    peak: usize,
    blocks: usize,
}

impl State {
    /// Counts `bytes` more, if `limit` allows.
    #[inline]
    fn reserve(&mut self, bytes: usize, limit: usize) -> bool {
        if bytes > limit - self.allocated {
            return false;
        }
        self.allocated += bytes;
        self.peak = self.peak.max(self.allocated);
        true
    }
}

/// The counters `gb_heap_stats` reports.
pub struct Counters {
    pub limit: usize,
    pub allocated: usize,
    pub peak: usize,
    pub blocks: usize,
    pub refused: u64,
}

fn enomem() -> *mut c_void {
    errno::null_with(libc::ENOMEM)
}

impl Heap {
    /// A new heap, boxed (its address is the C handle). Nothing is asked
    /// of the backend until the heap's first large block (`raw`), so this
    /// does not fail (`Option` for callers that handle a failure).
    pub fn new(limit: usize) -> Option<Box<Heap>> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let limit = if limit == 0 { usize::MAX } else { limit };
        let heap = match spare_take() {
            Some(mut heap) => {
                // Reset by destroy: empty, with no backend heap.
                heap.id = id;
                heap.limit = limit;
                *heap.refused.get_mut() = 0;
                heap
            }
            None => Box::new(Heap {
                id,
                limit,
                refused: AtomicU64::new(0),
                state: bump::Lock::new(State {
                    bump: bump::Bump::new(),
                    allocated: 0,
                    peak: 0,
                    blocks: 0,
                }),
                raw: OnceLock::new(),
            }),
        };
        if cfg!(feature = "checked") {
            checked::heap_created(&*heap as *const Heap as usize, heap.id);
        }
        count_live(true);
        Some(heap)
    }

    #[inline]
    fn lock(&self) -> bump::Guard<'_, State> {
        self.state.lock()
    }

    /// The backend's heap, made (and registered) on first use; `None` with
    /// errno set when the backend cannot make one.
    #[inline]
    fn raw(&self) -> Option<&imp::Raw> {
        match self.raw.get() {
            Some(raw) => Some(raw),
            None => self.make_raw(),
        }
    }

    #[cold]
    #[inline(never)]
    fn make_raw(&self) -> Option<&imp::Raw> {
        let _one_at_a_time = self.lock();
        if self.raw.get().is_none() {
            let raw = imp::Raw::new()?;
            let _ = self.raw.set(raw);
            imp::register(self, self.raw.get()?);
        }
        self.raw.get()
    }

    /// Counts `bytes` more, if the limit allows.
    fn reserve(&self, bytes: usize) -> bool {
        self.lock().reserve(bytes, self.limit)
    }

    fn release(&self, bytes: usize) {
        self.lock().allocated -= bytes;
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
    #[inline]
    pub unsafe fn alloc(&self, size: usize, alignment: usize, zero: bool) -> *mut c_void {
        if size <= bump::SMALL_MAX && alignment <= 16 {
            // SAFETY: as required.
            unsafe { self.alloc_small(size, zero) }
        } else {
            // SAFETY: as required.
            unsafe { self.alloc_large(size, alignment, zero) }
        }
    }

    /// `alloc` of a block the backend makes.
    ///
    /// # Safety
    /// As `alloc`.
    #[inline(never)]
    unsafe fn alloc_large(&self, size: usize, alignment: usize, zero: bool) -> *mut c_void {
        if size > MAX_SIZE {
            return enomem();
        }
        let Some(raw) = self.raw() else {
            // The backend has no heap to give (jemalloc: no arena index
            // left): the block cannot be had.
            return enomem();
        };
        let guess = imp::good_size(size, alignment);
        if !self.reserve(guess) {
            return self.refuse();
        }
        // SAFETY: the arguments are as `imp::Raw::alloc` requires.
        let block = unsafe { raw.alloc(self, size, alignment, zero) };
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
        if usable > guess && !self.reserve(usable - guess) {
            // SAFETY: the block just allocated, not yet counted.
            unsafe { imp::free(block) };
            self.release(guess);
            return self.refuse();
        }
        {
            let mut state = self.lock();
            state.allocated -= guess.saturating_sub(usable);
            state.blocks += 1;
        }
        if cfg!(feature = "checked") {
            checked::block_allocated(block as usize, self.id);
        }
        block
    }

    /// A small block from the heap's chunks (`bump`).
    ///
    /// # Safety
    /// `size <= bump::SMALL_MAX`.
    #[inline]
    unsafe fn alloc_small(&self, size: usize, zero: bool) -> *mut c_void {
        let (class, stride) = bump::class_of(size.max(1));
        let usable = bump::usable_of(stride);
        let block = {
            let mut state = self.lock();
            if !state.reserve(usable, self.limit) {
                drop(state);
                return self.refuse();
            }
            let block = state.bump.alloc(self, class, stride);
            if block.is_null() {
                state.allocated -= usable;
                drop(state);
                return enomem();
            }
            state.blocks += 1;
            block
        };
        if zero {
            // SAFETY: the block holds `usable` bytes.
            unsafe { core::ptr::write_bytes(block.cast::<u8>(), 0, usable) };
        }
        if cfg!(feature = "checked") {
            checked::block_allocated(block as usize, self.id);
        }
        block
    }

    /// The usable size of a live block of this heap.
    ///
    /// # Safety
    /// `ptr` is a live block of this heap.
    unsafe fn usable(&self, ptr: *const c_void) -> usize {
        if bump::owner(ptr).is_some() {
            // SAFETY: a live small block.
            bump::usable_of(unsafe { bump::stride_of(ptr) })
        } else {
            // SAFETY: a live block of the backend.
            unsafe { imp::usable_size(ptr) }
        }
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
        let old = unsafe { self.usable(ptr) };
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
        if cfg!(feature = "checked") {
            checked::block_freed(ptr as usize);
        }
        if bump::owner(ptr).is_some() {
            // SAFETY: a live small block of this heap.
            let stride = unsafe { bump::stride_of(ptr) };
            let usable = bump::usable_of(stride);
            let (class, _) = bump::class_of(usable);
            let mut state = self.lock();
            // SAFETY: as above, of that class.
            unsafe { state.bump.free(ptr, class) };
            state.allocated -= usable;
            state.blocks -= 1;
        } else {
            // SAFETY: a live block of the backend in this heap.
            let usable = unsafe { imp::usable_size(ptr) };
            // SAFETY: as above.
            unsafe { imp::free(ptr) };
            let mut state = self.lock();
            state.allocated -= usable;
            state.blocks -= 1;
        }
    }

    /// The counters, as `gb_heap_stats` reports them.
    pub fn counters(&self) -> Counters {
        let state = self.lock();
        Counters {
            limit: if self.limit == usize::MAX {
                0
            } else {
                self.limit
            },
            allocated: state.allocated,
            peak: state.peak,
            blocks: state.blocks,
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Frees every block at once and the heap itself; its memory goes back
    /// to the OS.
    pub fn destroy(mut heap: Box<Heap>) {
        if cfg!(feature = "checked") {
            for block in checked::heap_destroyed(&*heap as *const Heap as usize, heap.id) {
                crate::checked::forget(
                    "gb_heap_destroy",
                    block as *mut c_void,
                    crate::checked::Claim::Live,
                );
            }
        }
        // The struct is kept for the next heap (with one chunk, out of the
        // table), except in checked mode, which tells heaps by address.
        let keep = !cfg!(feature = "checked");
        let state = heap.state.get_mut();
        state.bump.release_all(keep);
        let peak = state.peak;
        (state.allocated, state.peak, state.blocks) = (0, 0, 0);
        if let Some(raw) = heap.raw.take() {
            imp::unregister(&raw);
            raw.destroy(peak);
        }
        count_live(false);
        if keep {
            spare_put(heap);
        }
    }
}

/// Heap structs of destroyed heaps, reset, each with up to one chunk, for
/// the next `gb_heap_new` (no allocation, no zeroing, no chunk to find).
const SPARE_LEN: usize = 8;
static SPARE_HEAPS: Mutex<([usize; SPARE_LEN], usize)> = Mutex::new(([0; SPARE_LEN], 0));

fn spare_take() -> Option<Box<Heap>> {
    let mut spare = SPARE_HEAPS.lock().unwrap_or_else(|e| e.into_inner());
    let (heaps, len) = &mut *spare;
    if *len == 0 {
        return None;
    }
    *len -= 1;
    // SAFETY: put there by `spare_put` from a Box, taken once.
    Some(unsafe { Box::from_raw(heaps[*len] as *mut Heap) })
}

fn spare_put(mut heap: Box<Heap>) {
    {
        let mut spare = SPARE_HEAPS.lock().unwrap_or_else(|e| e.into_inner());
        let (heaps, len) = &mut *spare;
        if *len < SPARE_LEN {
            heaps[*len] = Box::into_raw(heap) as usize;
            *len += 1;
            return;
        }
    }
    heap.state.get_mut().bump.give_spare();
}

/// The heap that owns `ptr`, if any. Safe for any pointer the backend's
/// `owns` accepts, and for live blocks of the backend.
pub(crate) fn heap_of(ptr: *const c_void) -> Option<&'static Heap> {
    if ptr.is_null() || LIVE_HEAPS.load(Ordering::Relaxed) & !SAMPLES_LIVE == 0 {
        return None;
    }
    // SAFETY: a heap stays registered (and alive) until it is destroyed,
    // and a block may not be used after its heap is destroyed.
    bump::owner(ptr)
        .or_else(|| imp::lookup(ptr))
        .map(|heap| unsafe { &*heap })
}

/// True when `ptr` points into a chunk of a live heap's small blocks. Safe
/// for any pointer value.
pub(crate) fn in_small_chunk(ptr: *const c_void) -> bool {
    any_live() && bump::owner(ptr).is_some()
}

/// The usable size of a heap's small block, `None` for any other block.
///
/// # Safety
/// `ptr` is a live block.
pub(crate) unsafe fn small_usable_size(ptr: *const c_void) -> Option<usize> {
    bump::owner(ptr)?;
    // SAFETY: a live small block.
    Some(bump::usable_of(unsafe { bump::stride_of(ptr) }))
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
