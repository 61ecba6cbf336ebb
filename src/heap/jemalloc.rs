//! Heaps on jemalloc: one arena per heap (`arenas.create`), every
//! allocation and free with `MALLOCX_TCACHE_NONE`, so that no thread cache
//! ever holds a block of the arena (jemalloc#1535: a cached block of a
//! destroyed arena would be handed out again), and `arena.<i>.destroy` to
//! free everything at once. jemalloc recycles a destroyed arena's index for
//! the next `arenas.create`, so creating and destroying heaps does not grow
//! the number of arenas. Which heap a block belongs to: the chunk table of
//! `jemalloc_chunks` (heap arenas map their memory through hooks that
//! record it), then `arenas.lookup` only for a chunk shared with other
//! memory, then a table indexed by arena.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

#[cfg(gb_backend_auto_dep)]
use graphbit_alloc_auto::tikv_jemalloc_sys as je;
#[cfg(not(gb_backend_auto_dep))]
use tikv_jemalloc_sys as je;

use super::Heap;

#[path = "jemalloc_chunks.rs"]
mod chunks;

/// Arena indices are below 4096 (`MALLCTL_ARENAS_ALL`).
const ARENAS: usize = 4096;

/// The heap of each arena index, null for arenas that are not heaps.
static HEAP_OF_ARENA: [AtomicPtr<Heap>; ARENAS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; ARENAS];

/// A heap's arena.
pub(crate) struct Raw {
    arena: u32,
}

fn flags(arena: u32) -> i32 {
    je::MALLOCX_ARENA(arena as usize) | je::MALLOCX_TCACHE_NONE
}

/// The flags for an allocation with `alignment` (0: malloc's).
fn alloc_flags(arena: u32, alignment: usize, zero: bool) -> i32 {
    let mut flags = flags(arena);
    if alignment != 0 {
        flags |= je::MALLOCX_ALIGN(alignment);
    }
    if zero {
        flags |= je::MALLOCX_ZERO;
    }
    flags
}

impl Raw {
    /// A new arena (a reset one from the pool when there is one), or
    /// `None` with errno set (`EAGAIN`: jemalloc has no arena index left).
    pub fn new() -> Option<Raw> {
        if let Some(arena) = pool_take() {
            return Some(Raw { arena });
        }
        let Some(mut hooks) = chunks::hooks() else {
            crate::sys::errno::set(libc::ENOMEM);
            return None;
        };
        let mut arena: u32 = 0;
        let mut len = core::mem::size_of::<u32>();
        // SAFETY: "arenas.create" writes an unsigned and reads an
        // extent_hooks_t pointer, which stays valid for good.
        let rc = unsafe {
            je::mallctl(
                c"arenas.create".as_ptr(),
                (&mut arena as *mut u32).cast(),
                &mut len,
                (&mut hooks as *mut *mut je::extent_hooks_t).cast(),
                core::mem::size_of::<*mut je::extent_hooks_t>(),
            )
        };
        if rc != 0 || arena as usize >= ARENAS {
            crate::sys::errno::set(if rc != 0 { rc } else { libc::EAGAIN });
            return None;
        }
        Some(Raw { arena })
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
        // SAFETY: valid flags for a live arena; size at least 1.
        unsafe { je::mallocx(size.max(1), alloc_flags(self.arena, alignment, zero)) }
    }

    /// Frees every block of the arena and returns its pages to the OS. Up to
    /// `POOL_LEN` arenas are kept for the next heaps, reset (`arena.<i>.reset`)
    /// and, after a heap that peaked at `PURGE_AFTER` bytes or more, purged
    /// (`arena.<i>.purge`): creating and destroying an
    /// arena costs far more, and jemalloc does not unmap a destroyed
    /// arena's metadata (2 MiB of address space each). Beyond that the
    /// arena is destroyed.
    pub fn destroy(self, peak: usize) {
        if pool_has_room() {
            // A small heap's pages are left to jemalloc's decay (its
            // background thread purges them); a big one's go back at once.
            let steps: &[&[u8]] = if peak >= PURGE_AFTER {
                &[b"reset", b"purge"]
            } else {
                &[b"reset"]
            };
            for &what in steps {
                let name = format_arena_ctl(self.arena, what);
                // SAFETY: write-only mallctls that take no value; no thread
                // cache holds the arena's blocks.
                unsafe {
                    je::mallctl(
                        name.as_ptr().cast(),
                        ptr::null_mut(),
                        ptr::null_mut(),
                        ptr::null_mut(),
                        0,
                    )
                };
            }
            if pool_put(self.arena) {
                return;
            }
        }
        let name = format_arena_ctl(self.arena, b"destroy");
        // SAFETY: a write-only mallctl that takes no value; no thread is
        // associated with the arena and no thread cache holds its blocks.
        unsafe {
            je::mallctl(
                name.as_ptr().cast(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                0,
            )
        };
    }
}

/// The peak size from which a pooled arena is purged at once.
const PURGE_AFTER: usize = 4 << 20;

/// Reset arenas kept for the next heaps.
const POOL_LEN: usize = 64;
static POOL: std::sync::Mutex<([u32; POOL_LEN], usize)> = std::sync::Mutex::new(([0; POOL_LEN], 0));

fn pool_has_room() -> bool {
    POOL.lock().unwrap_or_else(|e| e.into_inner()).1 < POOL_LEN
}

fn pool_put(arena: u32) -> bool {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let (arenas, len) = &mut *pool;
    if *len == POOL_LEN {
        return false;
    }
    arenas[*len] = arena;
    *len += 1;
    true
}

fn pool_take() -> Option<u32> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let (arenas, len) = &mut *pool;
    if *len == 0 {
        return None;
    }
    *len -= 1;
    Some(arenas[*len])
}

/// "arena.<i>.<what>\0" without allocating.
fn format_arena_ctl(arena: u32, what: &[u8]) -> [u8; 40] {
    let mut name = [0u8; 40];
    let mut at = 0;
    for &b in b"arena." {
        name[at] = b;
        at += 1;
    }
    let mut digits = [0u8; 10];
    let (mut n, mut count) = (arena, 0);
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in digits[..count].iter().rev() {
        name[at] = b;
        at += 1;
    }
    name[at] = b'.';
    at += 1;
    for &b in what {
        name[at] = b;
        at += 1;
    }
    name
}

/// `good_size` is the usable size of the block `Raw::alloc` then returns
/// (jemalloc documents `nallocx` as exact for the same size and flags), so
/// `Heap::alloc` need not ask `malloc_usable_size` again (60 instructions of
/// a heap allocation's ~640 in callgrind, docs/heaps.md).
pub(crate) const GOOD_SIZE_EXACT: bool = true;

/// The usable size jemalloc will give `size` bytes (exact: `nallocx`).
pub fn good_size(size: usize, alignment: usize) -> usize {
    let flags = if alignment != 0 {
        je::MALLOCX_ALIGN(alignment)
    } else {
        0
    };
    // SAFETY: nallocx only computes; size at least 1.
    unsafe { je::nallocx(size.max(1), flags) }
}

/// # Safety
/// A live block of this backend.
pub unsafe fn usable_size(ptr: *const c_void) -> usize {
    // SAFETY: as above.
    unsafe { je::malloc_usable_size(ptr) }
}

/// Frees a heap block around the thread cache.
///
/// # Safety
/// A live block of a heap.
pub unsafe fn free(ptr: *mut c_void) {
    // SAFETY: as above; the arena is the block's own.
    unsafe { je::dallocx(ptr, je::MALLOCX_TCACHE_NONE) }
}

pub fn register(heap: &Heap, raw: &Raw) {
    HEAP_OF_ARENA[raw.arena as usize].store(heap as *const Heap as *mut Heap, Ordering::Release);
}

pub fn unregister(raw: &Raw) {
    HEAP_OF_ARENA[raw.arena as usize].store(ptr::null_mut(), Ordering::Release);
}

/// The heap whose arena holds `ptr`, if any: jemalloc is asked only when
/// `ptr`'s chunk holds both a heap's memory and other memory.
pub fn lookup(ptr: *const c_void) -> Option<*const Heap> {
    let arena = match chunks::owner(ptr) {
        chunks::Owner::None => return None,
        chunks::Owner::Arena(arena) => arena,
        chunks::Owner::Unknown => arena_of(ptr)?,
    };
    let heap = HEAP_OF_ARENA.get(arena as usize)?.load(Ordering::Acquire);
    (!heap.is_null()).then_some(heap as *const Heap)
}

/// `arenas.lookup`, by its MIB (looked up once). Safe for any pointer, as
/// `owns` is (the same guard against high bits).
fn arena_of(ptr: *const c_void) -> Option<u32> {
    if cfg!(target_pointer_width = "64") && (ptr as u64) >> 48 != 0 {
        return None;
    }
    use std::sync::OnceLock;
    static MIB: OnceLock<[usize; 2]> = OnceLock::new();
    let mib = MIB.get_or_init(|| {
        let mut mib = [0usize; 2];
        let mut len = 2;
        // SAFETY: "arenas.lookup" has a two-part MIB.
        unsafe { je::mallctlnametomib(c"arenas.lookup".as_ptr(), mib.as_mut_ptr(), &mut len) };
        mib
    });
    let mut arena: u32 = 0;
    let mut len = core::mem::size_of::<u32>();
    let mut query = ptr;
    // SAFETY: "arenas.lookup" reads a `void *` and writes an `unsigned`.
    let rc = unsafe {
        je::mallctlbymib(
            mib.as_ptr(),
            2,
            (&mut arena as *mut u32).cast(),
            &mut len,
            (&mut query as *mut *const c_void).cast(),
            core::mem::size_of::<*const c_void>(),
        )
    };
    (rc == 0).then_some(arena)
}

/// jemalloc's arena count (`arenas.narenas`), for the tests.
#[cfg(test)]
pub fn arena_count() -> u32 {
    let mut n: u32 = 0;
    let mut len = core::mem::size_of::<u32>();
    // SAFETY: "arenas.narenas" is a read-only unsigned.
    unsafe {
        je::mallctl(
            c"arenas.narenas".as_ptr(),
            (&mut n as *mut u32).cast(),
            &mut len,
            ptr::null_mut(),
            0,
        )
    };
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creating and destroying heaps does not grow jemalloc's arena count:
    /// `arenas.create` reuses a destroyed arena's index.
    #[test]
    fn destroyed_arenas_are_reused() {
        // Through the C API, which checked mode's record needs (the
        // checked library aborts on a heap block it never recorded).
        use crate::ffi::{gb_heap_alloc, gb_heap_destroy, gb_heap_new};
        let first = gb_heap_new(0);
        assert!(!first.is_null());
        let start = arena_count();
        for _ in 0..2000 {
            let heap = gb_heap_new(0);
            assert!(!heap.is_null());
            // SAFETY: a live heap; the block dies with it (large enough to
            // be the arena's, not a small block).
            assert!(!unsafe { gb_heap_alloc(heap, 100_000) }.is_null());
            // SAFETY: a live heap, not used again.
            unsafe { gb_heap_destroy(heap) };
        }
        // Other tests may hold a few heaps at the same time.
        assert!(
            arena_count() <= start + 16,
            "{} arenas after 2000 heaps, {start} before",
            arena_count()
        );
        // SAFETY: a live heap, not used again.
        unsafe { gb_heap_destroy(first) };
    }

    /// The chunk table answers for heap blocks and ordinary blocks alike
    /// without asking jemalloc, for small and large blocks.
    #[test]
    fn the_chunk_table_tells_heap_blocks() {
        let heap = Heap::new(0).unwrap();
        for size in [10_000usize, 100_000, 5 << 20] {
            // SAFETY: malloc's alignment; freed below.
            let block = unsafe { heap.alloc(size, 0, false) };
            assert!(
                matches!(chunks::owner(block), chunks::Owner::Arena(a) if a == heap.raw.get().unwrap().arena),
                "size {size}"
            );
            assert_eq!(lookup(block), Some(&*heap as *const Heap));
            // SAFETY: a plain jemalloc block.
            let ordinary = unsafe { je::malloc(size) };
            assert!(
                matches!(chunks::owner(ordinary), chunks::Owner::None),
                "ordinary block of {size}"
            );
            assert_eq!(lookup(ordinary), None);
            // SAFETY: both live.
            unsafe {
                je::free(ordinary);
                heap.free(block);
            }
        }
        Heap::destroy(heap);
    }
}
