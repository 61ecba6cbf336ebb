//! The record of live blocks: 64 shards, each a spin lock around a table;
//! the per-thread reservation that keeps gb_realloc from losing a block;
//! the fork handlers.

use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::table::{home, Block, Table, SHARDS};
use super::{report, Claim};
use crate::sys;

/// Registers the fork handlers, once, before the first block is recorded:
/// the shards' locks are taken before fork and released in both processes.
/// If registering fails (the C library is out of memory), a later record
/// tries again.
pub(super) fn register_fork_handlers() {
    static STATE: AtomicU8 = AtomicU8::new(0);
    sys::at_fork_once(&STATE, lock_all, unlock_all);
}

/// One shard: a spin lock (so that fork handlers can take and release it from
/// different functions) around a table.
pub(super) struct Shard {
    /// The thread holding the lock (`me()`), or 0.
    pub(super) owner: AtomicUsize,
    pub(super) table: UnsafeCell<Table>,
}

/// The record of live blocks.
pub(super) struct Record {
    pub(super) shards: [Shard; SHARDS],
}

// SAFETY: each table is only touched while its shard's lock is held, and
// its region is owned by it alone.
unsafe impl Sync for Record {}
// SAFETY: as above (a test's own record is moved between threads only whole).
unsafe impl Send for Record {}

pub(super) static RECORD: Record = Record::new();

thread_local! {
    /// 1 + the shard in which this thread's gb_realloc holds a reservation
    /// (between `take_for_realloc` and `restore` or `record`), else 0.
    pub(super) static PENDING: Cell<usize> = const { Cell::new(0) };
}

thread_local! {
    /// Its address tells the threads apart (const, no destructor: usable
    /// until the thread is gone, also from signal handlers).
    static ME: u8 = const { 0 };
}

/// An identity of the calling thread, never 0.
pub(super) fn me() -> usize {
    ME.with(|me| me as *const u8 as usize)
}

/// Takes the shard's lock. A thread that already holds it was interrupted
/// inside checked mode (by a signal handler that allocates) and would wait
/// for itself forever: that aborts with a message instead.
pub(super) fn lock(shard: &Shard) {
    if acquire(shard, me()).is_err() {
        report::reentered()
    }
}

/// Takes the shard's lock for thread `me`, waiting for any other holder;
/// `Err` at once if `me` holds it already.
pub(super) fn acquire(shard: &Shard, me: usize) -> Result<(), ()> {
    loop {
        match shard
            .owner
            .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => return Ok(()),
            Err(owner) if owner == me => return Err(()),
            Err(_) => std::thread::yield_now(),
        }
    }
}

pub(super) fn unlock(shard: &Shard) {
    shard.owner.store(0, Ordering::Release);
}

pub(super) extern "C" fn lock_all() {
    RECORD.shards.iter().for_each(lock);
}

pub(super) extern "C" fn unlock_all() {
    RECORD.shards.iter().for_each(unlock);
}

/// How `take` removes a block it found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Removal {
    /// Freed: its slot is released and its address joins the freed ring.
    AsFreed,
    /// Resized by gb_realloc: its slot stays reserved for this thread's next
    /// `restore` or `record`.
    KeepingRoom,
}

/// Outcome of a lookup for `take`.
pub(super) enum Found {
    /// Live and as claimed: removed.
    Taken(Block),
    /// Live but not as claimed: left alone.
    Mismatch(Block),
    /// Not a live block.
    Missing,
}

impl Record {
    pub(super) const fn new() -> Record {
        Record {
            shards: [const {
                Shard {
                    owner: AtomicUsize::new(0),
                    table: UnsafeCell::new(Table::new()),
                }
            }; SHARDS],
        }
    }

    /// Runs `f` on shard `index`'s table, under its lock.
    pub(super) fn with<R>(&self, index: usize, f: impl FnOnce(&mut Table) -> R) -> R {
        let shard = &self.shards[index];
        lock(shard);
        // SAFETY: the shard's lock is held.
        let result = f(unsafe { &mut *shard.table.get() });
        unlock(shard);
        result
    }

    /// Records `address`; false when there is no room and none can be had.
    /// Uses (and ends) this thread's reservation if it holds one, and then
    /// cannot fail.
    pub(super) fn insert(&self, address: usize, block: Block) -> bool {
        let own = home(address);
        let pending = PENDING.with(|p| p.replace(0));
        if pending == 0 {
            return self.with(own, |t| t.insert(address, block));
        }
        let reserved = pending - 1;
        if reserved == own {
            self.with(own, |t| t.insert_reserved(address, block));
        } else if self.with(own, |t| t.insert(address, block)) {
            self.with(reserved, |t| t.used -= 1);
        } else {
            // A stray: kept where the room is; lookups search every shard.
            self.with(reserved, |t| t.insert_reserved(address, block));
        }
        true
    }

    /// Finds `address` (in its own shard, else in any other: strays) and, if
    /// it matches `claim`, removes it: as freed, or holding its room for
    /// this thread (`Removal::KeepingRoom`, gb_realloc).
    pub(super) fn take(&self, address: usize, claim: &Claim, removal: Removal) -> Found {
        let take_in = |index: usize| {
            self.with(index, |t| {
                let i = t.find(address)?;
                let block = t.get(i).block;
                if !claim.matches(block) {
                    return Some(Found::Mismatch(block));
                }
                t.remove_at(i);
                if removal == Removal::AsFreed {
                    t.used -= 1;
                    t.push_freed(address);
                } else {
                    PENDING.with(|p| p.set(index + 1));
                }
                Some(Found::Taken(block))
            })
        };
        let own = home(address);
        if let Some(found) = take_in(own) {
            return found;
        }
        (0..SHARDS)
            .filter(|&i| i != own)
            .find_map(take_in)
            .unwrap_or(Found::Missing)
    }

    /// The live block that `address` points inside of (not at its start), if
    /// any: a scan of every table, for the abort message only.
    pub(super) fn containing(&self, address: usize) -> Option<(usize, Block)> {
        (0..SHARDS).find_map(|i| {
            self.with(i, |t| {
                (0..t.capacity).map(|j| t.get(j)).find_map(|slot| {
                    let inside = slot.address != 0
                        && slot.address < address
                        && address - slot.address < slot.block.size;
                    inside.then_some((slot.address, slot.block))
                })
            })
        })
    }

    /// True if `address` is among the addresses freed recently.
    pub(super) fn was_freed(&self, address: usize) -> bool {
        (0..SHARDS).any(|i| self.with(i, |t| t.was_freed(address)))
    }
}
