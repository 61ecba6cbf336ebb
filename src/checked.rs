//! Checked mode (`GB_CHECK=1`): misuse of the free/realloc functions aborts
//! with a one-line message instead of corrupting the heap.
//!
//! The environment is read once, by a constructor that runs when the library
//! is loaded. When checked mode is off, each C API function pays one load of
//! [`ENABLED`] and one predictable branch. When it is on, every live block is
//! recorded (address, requested size, alignment) in a sharded, lock-protected
//! map, and `gb_free`, `gb_free_sized`, `gb_free_aligned_sized` and
//! `gb_realloc` look the pointer up before the backend sees it:
//!
//! - a pointer that is not a live block: "double free" when the address was
//!   freed by graphbit-alloc and not handed out since; "not allocated by
//!   graphbit-alloc" when the backend can tell it does not own the memory
//!   (jemalloc, mimalloc); otherwise "not a live block" (on the `system`
//!   backend a foreign `malloc` block looks like any other unknown address);
//! - `gb_free_sized` with a size other than the one asked for;
//! - `gb_free_aligned_sized` with a size or alignment other than the ones
//!   given to `gb_aligned_alloc`.
//!
//! Blocks handed out before the constructor ran (by another library's
//! constructor that ran first) are not recorded, and freeing them later is
//! reported as misuse.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use std::collections::{BTreeMap, BTreeSet};

use crate::backend;

/// True when `GB_CHECK=1` was set at load time. Written once, by the
/// constructor, before any other thread can call into the library.
pub static ENABLED: AtomicBool = AtomicBool::new(false);

/// True when checked mode is on: one plain load.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Runs when the library is loaded (shared) or the program starts (static).
#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init;

extern "C" fn init() {
    // SAFETY: getenv with a NUL-terminated name; the result is only read here.
    let value = unsafe { libc::getenv(c"GB_CHECK".as_ptr()) };
    // SAFETY: a non-NULL getenv result is a NUL-terminated string.
    if value.is_null() || unsafe { core::ffi::CStr::from_ptr(value) }.to_bytes() != b"1" {
        return;
    }
    // Make the backend set up (and register its own fork handlers) before
    // ours, so that ours run first at fork: our locks are taken before the
    // backend's, in the same order as on the allocation path.
    drop(Box::new(0u64));
    // SAFETY: plain function pointers with no preconditions.
    unsafe { libc::pthread_atfork(Some(lock_all), Some(unlock_all), Some(unlock_all)) };
    ENABLED.store(true, Ordering::Relaxed);
}

/// What checked mode knows about a live block.
#[derive(Clone, Copy)]
struct Block {
    size: usize,
    /// 0 for blocks from gb_alloc, gb_calloc and gb_realloc.
    alignment: usize,
}

struct Table {
    live: BTreeMap<usize, Block>,
    /// Addresses freed and not handed out again (bounded; see FREED_LIMIT).
    freed: BTreeSet<usize>,
}

/// One shard: a spin lock (so that fork handlers can take and release it from
/// different functions) around a table.
struct Shard {
    locked: AtomicBool,
    table: UnsafeCell<Table>,
}

// SAFETY: `table` is only touched while `locked` is held.
unsafe impl Sync for Shard {}

const SHARDS: usize = 64;
/// Freed addresses remembered per shard for "double free" messages; beyond
/// that the shard forgets them and a double free reads "not a live block".
const FREED_LIMIT: usize = 1 << 14;

static TABLES: [Shard; SHARDS] = [const {
    Shard {
        locked: AtomicBool::new(false),
        table: UnsafeCell::new(Table {
            live: BTreeMap::new(),
            freed: BTreeSet::new(),
        }),
    }
}; SHARDS];

fn lock(shard: &Shard) {
    while shard
        .locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
}

fn unlock(shard: &Shard) {
    shard.locked.store(false, Ordering::Release);
}

extern "C" fn lock_all() {
    TABLES.iter().for_each(lock);
}

extern "C" fn unlock_all() {
    TABLES.iter().for_each(unlock);
}

/// Runs `f` on the table that holds `address`, under its lock.
fn with_table<R>(address: usize, f: impl FnOnce(&mut Table) -> R) -> R {
    let index = ((address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) % SHARDS;
    let shard = &TABLES[index];
    lock(shard);
    // SAFETY: the shard's lock is held.
    let result = f(unsafe { &mut *shard.table.get() });
    unlock(shard);
    result
}

/// Records a block just handed out (no-op for NULL).
#[cold]
#[inline(never)]
pub fn record(block: *mut c_void, size: usize, alignment: usize) -> *mut c_void {
    if !block.is_null() {
        let address = block as usize;
        with_table(address, |t| {
            t.freed.remove(&address);
            t.live.insert(address, Block { size, alignment });
        });
    }
    block
}

/// gb_free's check (NULL is fine). Out of line and cold, so that the
/// unchecked path pays only for the branch that skips it.
#[cold]
#[inline(never)]
pub fn on_free(ptr: *mut c_void) {
    if !ptr.is_null() {
        take("gb_free", ptr, Claim::Live, true);
    }
}

/// gb_free_sized's check (`ptr` is not NULL).
#[cold]
#[inline(never)]
pub fn on_free_sized(ptr: *mut c_void, size: usize) {
    take("gb_free_sized", ptr, Claim::Size(size), true);
}

/// gb_free_aligned_sized's check (`ptr` is not NULL).
#[cold]
#[inline(never)]
pub fn on_free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    take(
        "gb_free_aligned_sized",
        ptr,
        Claim::Aligned(alignment, size),
        true,
    );
}

/// What the caller claims about the block it passes.
pub enum Claim {
    /// gb_free, gb_realloc: only that it is live.
    Live,
    /// gb_free_sized: its requested size.
    Size(usize),
    /// gb_free_aligned_sized: its alignment and size.
    Aligned(usize, usize),
}

/// Checks that `ptr` (not NULL) is a live block matching `claim` and forgets
/// it (as freed when `freeing`); aborts naming `function` otherwise. Returns
/// the block's record, to put back if a realloc fails.
pub fn take(function: &str, ptr: *mut c_void, claim: Claim, freeing: bool) -> (usize, usize) {
    let address = ptr as usize;
    let found = with_table(address, |t| {
        let block = t.live.get(&address).copied();
        let matches = match (block, &claim) {
            (Some(_), Claim::Live) => true,
            (Some(b), Claim::Size(size)) => b.size == *size,
            (Some(b), Claim::Aligned(alignment, size)) => {
                b.size == *size && b.alignment == *alignment
            }
            (None, _) => false,
        };
        if matches {
            t.live.remove(&address);
            if freeing {
                if t.freed.len() >= FREED_LIMIT {
                    t.freed.clear();
                }
                t.freed.insert(address);
            }
        }
        (block, matches, t.freed.contains(&address))
    });
    match found {
        (Some(b), true, _) => (b.size, b.alignment),
        (Some(b), false, _) => {
            let mut line = Line::new(function, ptr, &claim);
            match claim {
                Claim::Aligned(alignment, _) if alignment != b.alignment => {
                    let _ = write!(line, "wrong alignment: the block was allocated with ");
                    if b.alignment == 0 {
                        let _ = write!(line, "no alignment (not by gb_aligned_alloc)");
                    } else {
                        let _ = write!(line, "alignment {}", b.alignment);
                    }
                }
                _ => {
                    let _ = write!(
                        line,
                        "wrong size: the block was allocated with size {}",
                        b.size
                    );
                }
            }
            line.abort()
        }
        (None, _, true) => Line::new(function, ptr, &claim).finish("double free"),
        (None, _, false) if backend::CAN_TELL_OWNERSHIP && !backend::owns(ptr) => {
            Line::new(function, ptr, &claim).finish("pointer not allocated by graphbit-alloc")
        }
        (None, _, false) => Line::new(function, ptr, &claim)
            .finish("not a live block (freed already, or not allocated by graphbit-alloc)"),
    }
}

/// Puts back a block that a failed realloc left to its owner.
pub fn restore(ptr: *mut c_void, (size, alignment): (usize, usize)) {
    record(ptr, size, alignment);
}

/// A one-line message built on the stack (no allocation while the heap may
/// be corrupt), written to stderr before aborting:
/// `graphbit-alloc: gb_free_sized(0x..., 10): wrong size: ...`.
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl Line {
    fn new(function: &str, ptr: *mut c_void, claim: &Claim) -> Line {
        let mut line = Line {
            buf: [0; 256],
            len: 0,
        };
        let _ = write!(line, "graphbit-alloc: {function}({ptr:p}");
        let _ = match claim {
            Claim::Live => Ok(()),
            Claim::Size(size) => write!(line, ", {size}"),
            Claim::Aligned(alignment, size) => write!(line, ", {alignment}, {size}"),
        };
        let _ = write!(line, "): ");
        line
    }

    fn finish(mut self, what: &str) -> ! {
        let _ = self.write_str(what);
        self.abort()
    }

    #[cold]
    fn abort(mut self) -> ! {
        self.buf[self.len] = b'\n';
        // SAFETY: writes our own buffer to fd 2, then aborts.
        unsafe {
            libc::write(2, self.buf.as_ptr().cast(), self.len + 1);
            libc::abort()
        }
    }
}
