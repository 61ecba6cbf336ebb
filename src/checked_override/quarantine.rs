//! The checked override's quarantine (Cargo feature `override-checked`):
//! freed blocks are held back from the backend for a while, so that their
//! addresses are not handed out again at once. A second free of a block in
//! quarantine is a double free (the address is not live in the record), even
//! when other blocks were allocated and freed in between; without the
//! quarantine the backend would have handed the address to one of them, and
//! the second free would have freed that block instead.
//!
//! Each block entering quarantine is filled with [`FREED_BYTE`] (its first
//! [`FILL_MAX`] usable bytes); when it leaves (the oldest first, once the
//! quarantine holds more than its byte budget or [`SLOTS`] blocks), the fill
//! is checked: a changed byte is a write after free, and the process aborts
//! with one line naming the block. The blocks still in quarantine are
//! checked the same way when the process exits.
//!
//! A guarded block (`src/guarded/`) is not filled: its pages were
//! protected when it was freed, so a write after free faults at once; when
//! it leaves, its slot goes back to the pool's queue instead of the backend.
//!
//! The budget is 16 MiB of usable bytes (a guarded block counts the pages
//! it held), or `GB_QUARANTINE_BYTES` (read
//! with `secure_getenv` on first use; 0 turns the quarantine off). A block
//! larger than the budget goes back to the backend at once (after its
//! checks). The ring of entries is mapped from the operating system (2 MiB
//! of address space, touched as it fills), never from the backend; one lock
//! guards it, taken around `fork`.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::{describe, Message};
use crate::backend::{Backend, Selected};
use crate::guarded::{in_pool, pool};
use crate::sys::errno;

/// Most blocks held at once.
pub(crate) const SLOTS: usize = 1 << 16;
/// Bytes of a freed block filled and checked (from its start).
pub(crate) const FILL_MAX: usize = 4096;
/// The fill of a freed block: not 0, not 0xff, not ASCII.
pub(crate) const FREED_BYTE: u8 = 0xdf;
/// Default budget in usable bytes.
const DEFAULT_BUDGET: usize = 16 << 20;

#[derive(Clone, Copy)]
struct Entry {
    address: usize,
    /// Requested size and record field (how it was allocated), for messages.
    size: usize,
    field: usize,
    /// Usable bytes (counted against the budget) and bytes filled.
    usable: usize,
    filled: usize,
}

struct Ring {
    /// SLOTS entries, mapped on first use; NULL before (or if mapping failed).
    entries: *mut Entry,
    /// Index of the oldest entry, and the number held.
    head: usize,
    len: usize,
    bytes: usize,
    budget: usize,
    /// Set up (mapped, or off) on first use.
    ready: bool,
}

struct Quarantine {
    owner: AtomicUsize,
    ring: UnsafeCell<Ring>,
}

// SAFETY: the ring is only touched under the lock (`owner`).
unsafe impl Sync for Quarantine {}

static QUARANTINE: Quarantine = Quarantine {
    owner: AtomicUsize::new(0),
    ring: UnsafeCell::new(Ring {
        entries: core::ptr::null_mut(),
        head: 0,
        len: 0,
        bytes: 0,
        budget: 0,
        ready: false,
    }),
};

thread_local! {
    static ME: u8 = const { 0 };
}

fn me() -> usize {
    ME.with(|me| me as *const u8 as usize)
}

fn lock() {
    let me = me();
    loop {
        match QUARANTINE
            .owner
            .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => return,
            Err(owner) if owner == me => {
                let mut line = Message::new();
                let _ = line.write_str(
                    "graphbit-alloc: the checked override's quarantine was re-entered on one \
                     thread (free called from a signal handler that interrupted one, which is \
                     undefined); aborting",
                );
                line.abort()
            }
            Err(_) => std::thread::yield_now(),
        }
    }
}

fn unlock() {
    QUARANTINE.owner.store(0, Ordering::Release);
}

extern "C" fn lock_for_fork() {
    lock();
}

extern "C" fn unlock_after_fork() {
    unlock();
}

/// Registers the fork handlers once (outside the lock: registering
/// allocates); a failure is tried again at the next free.
fn register_fork_handlers() {
    static STATE: AtomicU8 = AtomicU8::new(0);
    crate::sys::at_fork_once(&STATE, lock_for_fork, unlock_after_fork);
}

/// The budget from `GB_QUARANTINE_BYTES`, else the default.
fn budget_from_environment() -> usize {
    // SAFETY: a NUL-terminated name; secure_getenv allocates nothing.
    let value = unsafe { crate::sys::getenv_unless_setuid(c"GB_QUARANTINE_BYTES".as_ptr()) };
    if value.is_null() {
        return DEFAULT_BUDGET;
    }
    // SAFETY: a NUL-terminated string from the environment.
    let text = unsafe { core::ffi::CStr::from_ptr(value) };
    text.to_str()
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_BUDGET)
}

impl Ring {
    /// Maps the entries on first use; false when the quarantine is off.
    fn set_up(&mut self) -> bool {
        if !self.ready {
            self.ready = true;
            self.budget = budget_from_environment();
            if self.budget > 0 {
                let bytes = SLOTS * core::mem::size_of::<Entry>();
                let p = errno::preserve(|| {
                    // SAFETY: a fresh anonymous private mapping.
                    unsafe {
                        libc::mmap(
                            core::ptr::null_mut(),
                            bytes,
                            libc::PROT_READ | libc::PROT_WRITE,
                            libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_NORESERVE,
                            -1,
                            0,
                        )
                    }
                });
                if p != libc::MAP_FAILED {
                    self.entries = p.cast();
                }
            }
        }
        !self.entries.is_null()
    }

    fn at(&self, i: usize) -> *mut Entry {
        // SAFETY: i < SLOTS, inside the mapping.
        unsafe { self.entries.add(i % SLOTS) }
    }

    /// Takes the oldest block out, checks its fill and frees it.
    fn evict(&mut self) {
        // SAFETY: len > 0, so the head entry was written.
        let entry = unsafe { self.at(self.head).read() };
        self.head = (self.head + 1) % SLOTS;
        self.len -= 1;
        self.bytes -= entry.usable;
        check_fill(&entry);
        // SAFETY: held since its checked free; nothing else holds it.
        unsafe { let_go(entry.address as *mut c_void) };
    }
}

/// Gives a block that leaves the quarantine back: a guarded block's slot to
/// the pool, any other block to the backend.
///
/// # Safety
/// `ptr` is a block of the backend, or a retired guarded block, that nothing
/// may use any more.
unsafe fn let_go(ptr: *mut c_void) {
    if in_pool(ptr) {
        pool::recycle(ptr)
    } else {
        // SAFETY: as the caller promises.
        unsafe { Selected::free(ptr) }
    }
}

/// Aborts if a byte of a quarantined block's fill was changed.
fn check_fill(entry: &Entry) {
    let start = entry.address as *const u8;
    // SAFETY: the first `filled` bytes of a block the quarantine owns.
    let bytes = unsafe { core::slice::from_raw_parts(start, entry.filled) };
    if let Some(offset) = bytes.iter().position(|&b| b != FREED_BYTE) {
        let mut line = Message::new();
        let _ = write!(
            line,
            "graphbit-alloc: write after free: {:p}, a block of size {} {} freed earlier, was \
             written at offset {} (byte 0x{:02x}, the free left 0x{:02x})",
            start,
            entry.size,
            describe(entry.field),
            offset,
            bytes[offset],
            FREED_BYTE
        );
        line.abort()
    }
}

/// Fills a block that the record has just let go (`size` requested bytes,
/// allocated as `field` says) and holds it back from the backend, freeing
/// the oldest blocks (after checking their fill) beyond the budget.
///
/// # Safety
/// `ptr` is a block of the backend, or a retired guarded block, that
/// nothing may use any more.
pub(crate) unsafe fn put(ptr: *mut c_void, size: usize, field: usize) {
    register_fork_handlers();
    let (usable, filled) = if in_pool(ptr) {
        (pool::pages_of(ptr), 0)
    } else {
        // SAFETY: a live block of the backend.
        let usable = unsafe { Selected::usable_size(ptr) };
        (usable, usable.min(FILL_MAX))
    };
    let entry = Entry {
        address: ptr as usize,
        size,
        field,
        usable,
        filled,
    };
    // SAFETY: the block's first `filled` bytes are ours to write.
    unsafe { core::ptr::write_bytes(ptr.cast::<u8>(), FREED_BYTE, entry.filled) };
    lock();
    // SAFETY: the lock is held.
    let ring = unsafe { &mut *QUARANTINE.ring.get() };
    if !ring.set_up() || usable > ring.budget {
        unlock();
        // SAFETY: as the caller promises.
        return unsafe { let_go(ptr) };
    }
    while ring.len > 0 && (ring.len == SLOTS || ring.bytes + usable > ring.budget) {
        ring.evict();
    }
    // SAFETY: len < SLOTS, so the slot after the newest is free.
    unsafe { ring.at(ring.head + ring.len).write(entry) };
    ring.len += 1;
    ring.bytes += usable;
    unlock();
}

/// At exit: checks the fill of every block still in quarantine (they are
/// left to the process's end).
extern "C" fn check_at_exit() {
    lock();
    // SAFETY: the lock is held.
    let ring = unsafe { &mut *QUARANTINE.ring.get() };
    for i in 0..ring.len {
        // SAFETY: the `len` entries from `head` were written.
        check_fill(&unsafe { ring.at(ring.head + i).read() });
    }
    unlock();
}

#[used]
#[link_section = ".fini_array"]
static AT_EXIT: extern "C" fn() = check_at_exit;
