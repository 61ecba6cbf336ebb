//! Which 2 MiB chunks of the address space hold heap arenas' memory, so that
//! `gb_free` can tell an ordinary block from a heap block without asking
//! jemalloc (`arenas.lookup` takes jemalloc's global `ctl` mutex).
//!
//! Heap arenas get their memory through extent hooks that wrap jemalloc's
//! own (`arenas.create` with `HOOKS`): each mapping is asked 2 MiB-aligned,
//! and its pages are counted per chunk, with the arena's index, in a
//! two-level table (a static directory of leaves mapped on first use). A
//! chunk with all 512 pages counted belongs to that arena alone; a chunk
//! with none holds no heap memory; a partly counted chunk (the tail of a
//! mapping, whose rest may be anyone's) sends the caller to
//! `arenas.lookup`. Destroying the arena's extents uncounts their pages, so
//! a chunk returns to "none" when its heap mapping is gone.

use core::ffi::{c_uint, c_void};
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::OnceLock;

#[cfg(gb_backend_auto_dep)]
use graphbit_alloc_auto::tikv_jemalloc_sys as je;
#[cfg(not(gb_backend_auto_dep))]
use tikv_jemalloc_sys as je;

const CHUNK_SHIFT: u32 = 21;
const UNIT_SHIFT: u32 = 12; // pages are counted in 4 KiB units
const FULL: u32 = 1 << (CHUNK_SHIFT - UNIT_SHIFT); // 512
const ADDRESS_BITS: u32 = 48;
const LEAF_BITS: u32 = 15;
const LEAF_LEN: usize = 1 << LEAF_BITS;
const DIRECTORY_LEN: usize = 1 << (ADDRESS_BITS - CHUNK_SHIFT - LEAF_BITS);
/// A chunk's entry: units counted in bits 0..16, arena index in 16..32.
type Leaf = [AtomicU32; LEAF_LEN];

static DIRECTORY: [AtomicPtr<Leaf>; DIRECTORY_LEN] =
    [const { AtomicPtr::new(ptr::null_mut()) }; DIRECTORY_LEN];

/// What the table says of an address.
pub enum Owner {
    /// No heap memory in its chunk: an ordinary block.
    None,
    /// The chunk is wholly this arena's.
    Arena(u32),
    /// Ask jemalloc.
    Unknown,
}

/// The owner of `ptr`'s chunk.
#[inline]
pub fn owner(ptr: *const c_void) -> Owner {
    let address = ptr as usize;
    if cfg!(target_pointer_width = "64") && (address as u64) >> ADDRESS_BITS != 0 {
        return Owner::None;
    }
    let chunk = address >> CHUNK_SHIFT;
    let leaf = DIRECTORY[chunk >> LEAF_BITS].load(Ordering::Acquire);
    if leaf.is_null() {
        return Owner::None;
    }
    // SAFETY: leaves are never unmapped.
    let entry = unsafe { &(*leaf)[chunk & (LEAF_LEN - 1)] }.load(Ordering::Acquire);
    match entry & 0xFFFF {
        0 => Owner::None,
        FULL => Owner::Arena(entry >> 16),
        _ => Owner::Unknown,
    }
}

/// The leaf for `chunk`, mapped on first use; `None` when it cannot be
/// mapped (then the caller falls back: see `count`).
fn leaf(chunk: usize) -> Option<&'static Leaf> {
    let slot = &DIRECTORY[chunk >> LEAF_BITS];
    let mut leaf = slot.load(Ordering::Acquire);
    if leaf.is_null() {
        // SAFETY: an anonymous private mapping (zeroed: every entry 0).
        let fresh = unsafe {
            libc::mmap(
                ptr::null_mut(),
                core::mem::size_of::<Leaf>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if fresh == libc::MAP_FAILED {
            return None;
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
    Some(unsafe { &*leaf })
}

/// Counts (`add`) or uncounts the pages of `[addr, addr + size)` for
/// `arena`. Returns false when a leaf could not be mapped (allocation then
/// fails: memory the table cannot see must not be handed out).
fn count(addr: usize, size: usize, arena: u32, add: bool) -> bool {
    let end = addr + size;
    let mut at = addr;
    while at < end {
        let chunk = at >> CHUNK_SHIFT;
        let chunk_end = (chunk + 1) << CHUNK_SHIFT;
        let units = ((chunk_end.min(end) - at) >> UNIT_SHIFT) as u32;
        let Some(leaf) = leaf(chunk) else {
            return false;
        };
        let entry = &leaf[chunk & (LEAF_LEN - 1)];
        if add {
            // The arena's index goes with the first units; a chunk never
            // holds two heap arenas' memory (mappings start on chunk
            // boundaries), so it stays right.
            let _ = entry.fetch_update(Ordering::AcqRel, Ordering::Acquire, |e| {
                Some(((arena & 0xFFFF) << 16) | ((e & 0xFFFF) + units))
            });
        } else {
            let _ = entry.fetch_update(Ordering::AcqRel, Ordering::Acquire, |e| {
                let left = (e & 0xFFFF).saturating_sub(units);
                Some(if left == 0 {
                    0
                } else {
                    (e & 0xFFFF_0000) | left
                })
            });
        }
        at = chunk_end;
    }
    true
}

/// jemalloc's default hooks, read once from arena 0.
fn defaults() -> Option<&'static je::extent_hooks_t> {
    static DEFAULTS: OnceLock<usize> = OnceLock::new();
    let hooks = *DEFAULTS.get_or_init(|| {
        let mut hooks: *mut je::extent_hooks_t = ptr::null_mut();
        let mut len = core::mem::size_of::<*mut je::extent_hooks_t>();
        // SAFETY: "arena.0.extent_hooks" reads an extent_hooks_t pointer.
        let rc = unsafe {
            je::mallctl(
                c"arena.0.extent_hooks".as_ptr(),
                (&mut hooks as *mut *mut je::extent_hooks_t).cast(),
                &mut len,
                ptr::null_mut(),
                0,
            )
        };
        if rc == 0 {
            hooks as usize
        } else {
            0
        }
    });
    // SAFETY: jemalloc's static default hooks.
    (hooks != 0).then(|| unsafe { &*(hooks as *const je::extent_hooks_t) })
}

unsafe extern "C" fn alloc(
    _hooks: *mut je::extent_hooks_t,
    new_addr: *mut c_void,
    size: usize,
    alignment: usize,
    zero: *mut bool,
    commit: *mut bool,
    arena: c_uint,
) -> *mut c_void {
    let Some(default) = defaults().and_then(|d| d.alloc) else {
        return ptr::null_mut();
    };
    let alignment = if new_addr.is_null() {
        alignment.max(1 << CHUNK_SHIFT)
    } else {
        alignment
    };
    let hooks = defaults().map_or(ptr::null_mut(), |d| d as *const _ as *mut _);
    // SAFETY: jemalloc's own function, with the arguments it was given (a
    // larger alignment).
    let block = unsafe { default(hooks, new_addr, size, alignment, zero, commit, arena) };
    if !block.is_null() && !count(block as usize, size, arena, true) {
        count(block as usize, size, arena, false);
        if let Some(destroy) = defaults().and_then(|d| d.destroy) {
            // SAFETY: the mapping just made, never handed out.
            unsafe { destroy(hooks, block, size, *commit, arena) };
        }
        return ptr::null_mut();
    }
    block
}

unsafe extern "C" fn dalloc(
    _hooks: *mut je::extent_hooks_t,
    addr: *mut c_void,
    size: usize,
    committed: bool,
    arena: c_uint,
) -> bool {
    let Some(default) = defaults().and_then(|d| d.dalloc) else {
        return true; // keep it (retained)
    };
    let hooks = defaults().map_or(ptr::null_mut(), |d| d as *const _ as *mut _);
    // SAFETY: jemalloc's own function.
    let kept = unsafe { default(hooks, addr, size, committed, arena) };
    if !kept {
        count(addr as usize, size, arena, false);
    }
    kept
}

unsafe extern "C" fn destroy(
    _hooks: *mut je::extent_hooks_t,
    addr: *mut c_void,
    size: usize,
    committed: bool,
    arena: c_uint,
) {
    if let Some(default) = defaults().and_then(|d| d.destroy) {
        let hooks = defaults().map_or(ptr::null_mut(), |d| d as *const _ as *mut _);
        // Uncounted first: the addresses may be mapped again at once.
        count(addr as usize, size, arena, false);
        // SAFETY: jemalloc's own function.
        unsafe { default(hooks, addr, size, committed, arena) };
    }
}

/// The hooks of heap arenas: jemalloc's, with `alloc`, `dalloc` and
/// `destroy` wrapped; `None` when jemalloc's could not be read.
pub fn hooks() -> Option<*mut je::extent_hooks_t> {
    static HOOKS: OnceLock<usize> = OnceLock::new();
    let hooks = *HOOKS.get_or_init(|| {
        let Some(d) = defaults() else { return 0 };
        let hooks = je::extent_hooks_t {
            alloc: Some(alloc),
            dalloc: Some(dalloc),
            destroy: Some(destroy),
            commit: d.commit,
            decommit: d.decommit,
            purge_lazy: d.purge_lazy,
            purge_forced: d.purge_forced,
            split: d.split,
            merge: d.merge,
        };
        // jemalloc keeps the pointer for the arenas' lifetime: leaked once.
        Box::into_raw(Box::new(hooks)) as usize
    });
    (hooks != 0).then_some(hooks as *mut je::extent_hooks_t)
}
