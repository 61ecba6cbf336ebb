//! Checked mode: misuse of the free/realloc functions aborts with a one-line
//! message instead of corrupting the heap.
//!
//! Checked mode is its own library, built with the Cargo feature `checked`
//! (`libgraphbit_alloc_checked`, same ABI): the default library compiles this
//! module but never calls it, so it pays nothing. In the checked library
//! every live block is recorded (address, requested size, alignment), and
//! `gb_free`, `gb_free_sized`, `gb_free_aligned_sized` and `gb_realloc` look
//! the pointer up before the backend sees it:
//!
//! - a pointer that is not a live block: "double free" when the address was
//!   freed by graphbit-alloc recently (see [`FREED_RING`](table::FREED_RING)); "not allocated
//!   by graphbit-alloc" when the backend can tell it does not own the memory
//!   (jemalloc, mimalloc); otherwise "not a live block" (on the `system`
//!   backend a foreign `malloc` block looks like any other unknown address);
//! - `gb_free_sized` with a size other than the one asked for, or on a block
//!   from `gb_aligned_alloc` (C23: those go to `gb_free_aligned_sized`);
//! - `gb_free_aligned_sized` with a size or alignment other than the ones
//!   given to `gb_aligned_alloc`.
//!
//! ## The record
//! 64 shards, each a spin lock around an open-addressing hash table (linear
//! probing, backward-shift deletion, so no tombstones) whose memory comes
//! from the operating system directly (`mmap`; `VirtualAlloc` on Windows),
//! never from the backend: recording a block allocates nothing per call, and
//! a table grows by mapping one twice as big and rehashing under its lock
//! (at 3/4 load; tables never shrink). When that mapping fails, `record`
//! frees the block with the backend and returns NULL with `errno` `ENOMEM`,
//! as the unchecked library does when the memory cannot be had. Each
//! shard's mapping also holds a ring of the last [`FREED_RING`](table::FREED_RING) addresses
//! freed in it, for the "double free" message: bounded, and nothing to
//! allocate.
//!
//! ## gb_realloc never loses a block
//! `take_for_realloc` (gb_realloc) removes the entry but leaves its
//! slot counted in the shard's load: a reservation, noted in a thread-local.
//! `restore` (the resize failed) puts the entry back into that room, and
//! `record` of the resized block (called next on the same thread) uses it
//! when the block's own shard has no room and cannot grow: the entry is then
//! kept, as a "stray", in the shard of the reservation. Neither can fail, by
//! construction. A lookup that misses in the address's own shard searches
//! every other shard before reporting misuse, so strays are found (that
//! search only runs on the way to an abort, or for a stray).
//!
//! ## Platforms
//! The tables are mapped with `mmap` on Unix and `VirtualAlloc` on Windows;
//! elsewhere they come from `std::alloc::System` (the C library's heap, once
//! per growth, not per call). The fork handlers (Unix) take every shard's
//! lock before `fork` and release them in both processes.
//!
//! ## The rooms
//! `table.rs` (one shard's hash table and freed ring), `record.rs` (the 64
//! locked shards, reservations, fork handling), `report.rs` (the abort
//! message); this file is the API the C functions call.

mod record;
mod report;
mod table;

use core::ffi::c_void;

use crate::backend::{Backend, Selected};
use crate::sys::errno;
use record::{register_fork_handlers, Found, Removal, RECORD};
pub use table::Block;

/// Records a block just handed out (no-op for NULL) and returns it. When the
/// record has no room and the memory for more cannot be had, frees the block
/// and returns NULL with `errno` set to `ENOMEM`; but the block that
/// `gb_realloc` returns, recorded right after its `take`, always fits.
#[cold]
#[inline(never)]
pub fn record(block: *mut c_void, size: usize, alignment: usize) -> *mut c_void {
    if block.is_null() || try_record(block, size, alignment) {
        return block;
    }
    // SAFETY: a live block of this backend, just allocated, not handed out.
    unsafe { Selected::free(block) };
    errno::set(libc::ENOMEM);
    core::ptr::null_mut()
}

/// Records `block` (not NULL), a block of any allocator's: false when the
/// record has no room and the memory for more cannot be had (the caller
/// frees the block); the block that `gb_realloc` returns, recorded right
/// after its `take`, always fits.
pub fn try_record(block: *mut c_void, size: usize, alignment: usize) -> bool {
    register_fork_handlers();
    RECORD.insert(block as usize, Block { size, alignment })
}

/// gb_free's check (NULL is fine). Out of line and cold, so that the
/// unchecked path pays only for the branch that skips it.
#[cold]
#[inline(never)]
pub fn on_free(ptr: *mut c_void) {
    if !ptr.is_null() {
        check_and_forget("gb_free", ptr, Claim::Live);
    }
}

/// gb_free_sized's check (`ptr` is not NULL).
#[cold]
#[inline(never)]
pub fn on_free_sized(ptr: *mut c_void, size: usize) {
    check_and_forget("gb_free_sized", ptr, Claim::Size(size));
}

/// The check of gb_free_sized or gb_free_aligned_sized (`function`) called
/// with a size or alignment that cannot be right, which their contract
/// ignores: only that the block is live (`ptr` is not NULL).
#[cold]
#[inline(never)]
pub fn on_free_ignoring_size(function: &'static str, ptr: *mut c_void) {
    check_and_forget(function, ptr, Claim::Live);
}

/// gb_free_aligned_sized's check (`ptr` is not NULL).
#[cold]
#[inline(never)]
pub fn on_free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    check_and_forget(
        "gb_free_aligned_sized",
        ptr,
        Claim::Aligned(alignment, size),
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

impl Claim {
    fn matches(&self, b: Block) -> bool {
        match *self {
            Claim::Live => true,
            Claim::Size(size) => b.size == size && b.alignment == 0,
            Claim::Aligned(alignment, size) => b.size == size && b.alignment == alignment,
        }
    }
}

/// Checks that `ptr` (not NULL) is a live block matching `claim` and forgets
/// it as freed; aborts naming `function` otherwise.
fn check_and_forget(function: &str, ptr: *mut c_void, claim: Claim) {
    take(function, ptr, claim, Removal::AsFreed);
}

/// Checks that `ptr` (not NULL) is a live block matching `claim`, forgets it
/// as freed and returns its record; aborts naming `function` otherwise (the
/// checked override's free, a destroyed heap's blocks).
pub fn forget(function: &str, ptr: *mut c_void, claim: Claim) -> Block {
    take(function, ptr, claim, Removal::AsFreed)
}

/// `take_for_realloc` for another function (`function`), as the checked
/// override's realloc and malloc_usable_size.
pub fn take_keeping_room(function: &str, ptr: *mut c_void) -> Block {
    take(function, ptr, Claim::Live, Removal::KeepingRoom)
}

/// gb_realloc's check: `ptr` (not NULL) must be a live block; aborts
/// otherwise. Returns its record, to put back with `restore` if the resize
/// fails. The block's room stays reserved for this thread's next `restore`
/// or `record`, which must follow.
pub fn take_for_realloc(ptr: *mut c_void) -> Block {
    take("gb_realloc", ptr, Claim::Live, Removal::KeepingRoom)
}

/// Finds `ptr` as `claim` says and removes it as `removal` says (freed, or
/// holding its room for this thread), or aborts with the message that
/// names the misuse.
fn take(function: &str, ptr: *mut c_void, claim: Claim, removal: Removal) -> Block {
    let address = ptr as usize;
    match RECORD.take(address, &claim, removal) {
        Found::Taken(block) => block,
        Found::Mismatch(block) => report::mismatch(function, ptr, &claim, block),
        Found::Missing => {
            if let Some(heap) = crate::heap::checked::destroyed_heap_of(address) {
                report::destroyed_heap_block(function, ptr, &claim, heap)
            }
            missing(function, ptr, claim, address)
        }
    }
}

/// The message for a pointer that is not a live block.
#[cold]
fn missing(function: &str, ptr: *mut c_void, claim: Claim, address: usize) -> ! {
    if RECORD.was_freed(address) {
        report::double_free(function, ptr, &claim)
    }
    // Before the ownership question: jemalloc's page map does not know the
    // inside of a large block.
    match RECORD.containing(address) {
        Some((start, block)) => report::interior(function, ptr, &claim, address - start, block),
        None => report::missing(function, ptr, &claim),
    }
}

/// A heap handle that is not a live heap: reports it, naming the heap
/// (`id`) when it is one that was destroyed, and aborts.
#[cold]
pub fn heap_misuse(function: &str, heap: *mut c_void, id: Option<u64>) -> ! {
    report::heap_misuse(function, heap, id)
}

/// Puts back a block that a failed realloc left to its owner, into the room
/// its `take` reserved: cannot fail.
pub fn restore(ptr: *mut c_void, block: Block) {
    // Only false without a reservation (no `take` before it): nothing to do.
    let _ = RECORD.insert(ptr as usize, block);
}

#[cfg(test)]
mod tests {
    use super::record::*;
    use super::table::*;
    use super::*;
    use core::cell::UnsafeCell;
    use core::sync::atomic::AtomicUsize;

    fn block(n: usize) -> Block {
        Block {
            size: n,
            alignment: n % 3,
        }
    }

    /// Distinct fake addresses, 16-aligned as blocks are.
    fn address(i: usize) -> usize {
        0x1000_0000 + 16 * i
    }

    fn occupied(t: &Table) -> usize {
        (0..t.capacity).filter(|&i| t.get(i).address != 0).count()
    }

    #[test]
    fn a_thread_that_holds_a_lock_is_refused_it_again() {
        let shard = Shard {
            owner: AtomicUsize::new(0),
            table: UnsafeCell::new(Table::new()),
        };
        assert_eq!(acquire(&shard, 7), Ok(()));
        assert_eq!(
            acquire(&shard, 7),
            Err(()),
            "re-entry must not wait for itself"
        );
        unlock(&shard);
        assert_eq!(acquire(&shard, 7), Ok(()));
        unlock(&shard);
        assert_ne!(me(), 0);
        let other = std::thread::spawn(me).join().unwrap();
        assert_ne!(me(), other);
    }

    #[test]
    fn containing_finds_the_block_an_interior_pointer_is_in() {
        let record = Record::new();
        assert!(record.insert(0x10_0000, block(100)));
        assert!(record.insert(0x20_0000, block(1 << 20)));
        assert_eq!(record.containing(0x10_0010), Some((0x10_0000, block(100))));
        assert_eq!(
            record.containing(0x10_0000 + 99),
            Some((0x10_0000, block(100)))
        );
        assert_eq!(record.containing(0x10_0000 + 100), None);
        assert_eq!(
            record.containing(0x10_0000),
            None,
            "a block's start is not inside it"
        );
        assert_eq!(
            record.containing(0x20_0000 + 700_000),
            Some((0x20_0000, block(1 << 20)))
        );
    }

    #[test]
    fn table_insert_find_remove_grow() {
        let mut t = Table::new();
        assert_eq!(t.find(address(1)), None);
        let n = 100_000;
        for i in 0..n {
            assert!(t.insert(address(i), block(i)));
        }
        assert_eq!(t.used, n);
        assert!(t.capacity.is_power_of_two() && n <= load_limit(t.capacity));
        for i in 0..n {
            let s = t.find(address(i)).expect("inserted");
            assert_eq!(t.get(s).block, block(i));
        }
        // Remove every other one (in a scattered order): the rest stay
        // reachable after the backward shifts.
        for i in (0..n).step_by(2).rev() {
            let s = t.find(address(i)).unwrap();
            t.remove_at(s);
            t.used -= 1;
        }
        for i in 0..n {
            assert_eq!(t.find(address(i)).is_some(), i % 2 == 1, "{i}");
        }
        assert_eq!(occupied(&t), n / 2);
        // Re-inserting an address updates it.
        assert!(t.insert(address(1), block(7)));
        assert_eq!(t.used, n / 2);
        assert_eq!(t.get(t.find(address(1)).unwrap()).block, block(7));
    }

    #[test]
    fn table_colliding_addresses() {
        // Addresses that differ in high bits only, and 8-byte neighbours.
        let mut t = Table::new();
        let addrs: Vec<usize> = (0..5000)
            .flat_map(|i| [(i + 1) << 40 | 8, ((i + 1) << 40) | 16, ((i + 1) << 20) | 8])
            .collect();
        for (k, &a) in addrs.iter().enumerate() {
            assert!(t.insert(a, block(k)));
        }
        for (k, &a) in addrs.iter().enumerate().rev() {
            let s = t.find(a).unwrap();
            assert_eq!(t.get(s).block, block(k));
            t.remove_at(s);
            t.used -= 1;
            assert_eq!(t.find(a), None);
        }
        assert_eq!(occupied(&t), 0);
    }

    #[test]
    fn table_full_without_growth_refuses_and_reservations_still_fit() {
        let mut t = Table::new();
        t.max_capacity = INITIAL_CAPACITY;
        let limit = load_limit(INITIAL_CAPACITY);
        for i in 0..limit {
            assert!(t.insert(address(i), block(i)));
        }
        // As if mmap failed.
        assert!(!t.insert(address(limit), block(0)));
        assert_eq!(t.used, limit);
        // A removal that keeps its room (gb_realloc), then the room is used.
        let s = t.find(address(3)).unwrap();
        t.remove_at(s);
        assert!(!t.insert(address(limit), block(0)));
        t.insert_reserved(address(limit), block(1));
        assert_eq!(t.get(t.find(address(limit)).unwrap()).block, block(1));
        assert_eq!(t.used, limit);
        assert_eq!(occupied(&t), limit);
    }

    #[test]
    fn freed_ring_is_bounded() {
        let mut t = Table::new();
        assert!(!t.was_freed(address(0)));
        assert!(t.insert(address(0), block(0)));
        let bytes = region_bytes(t.capacity).unwrap();
        let n = 10 * FREED_RING + 7;
        for i in 0..n {
            t.push_freed(address(i));
        }
        for i in 0..n {
            assert_eq!(t.was_freed(address(i)), i >= n - FREED_RING, "{i}");
        }
        // The ring lives in the table's region: nothing else was mapped.
        assert_eq!(region_bytes(t.capacity).unwrap(), bytes);
        // The ring survives growth.
        for i in 1..2000 {
            assert!(t.insert(address(i), block(i)));
        }
        assert!(t.capacity > INITIAL_CAPACITY);
        assert!(t.was_freed(address(n - 1)) && !t.was_freed(address(n - FREED_RING - 1)));
    }

    #[test]
    fn record_take_and_double_free_memory() {
        let r = Box::new(Record::new());
        let n = 50_000;
        for i in 0..n {
            assert!(r.insert(address(i), block(i)));
        }
        for i in 0..n {
            match r.take(address(i), &Claim::Live, Removal::AsFreed) {
                Found::Taken(b) => assert_eq!(b, block(i)),
                _ => panic!("{i} missing"),
            }
        }
        assert!(matches!(
            r.take(address(5), &Claim::Live, Removal::AsFreed),
            Found::Missing
        ));
        assert!(r.was_freed(address(n - 1)));
        assert!(!r.was_freed(address(n + 1)));
        // Wrong claims leave the block alone.
        assert!(r.insert(
            address(1),
            Block {
                size: 10,
                alignment: 0
            }
        ));
        assert!(matches!(
            r.take(address(1), &Claim::Size(11), Removal::AsFreed),
            Found::Mismatch(_)
        ));
        assert!(matches!(
            r.take(address(1), &Claim::Aligned(16, 10), Removal::AsFreed),
            Found::Mismatch(_)
        ));
        assert!(matches!(
            r.take(address(1), &Claim::Size(10), Removal::AsFreed),
            Found::Taken(_)
        ));
    }

    /// Every table full and unable to grow: a realloc's block still lands
    /// (as a stray in the reserved shard), can be found, and a restore fits.
    #[test]
    fn realloc_records_never_fail_when_tables_are_full() {
        let r = Box::new(Record::new());
        for i in 0..SHARDS {
            r.with(i, |t| t.max_capacity = INITIAL_CAPACITY);
        }
        let mut n = 0;
        let mut refused = 0;
        while refused < 1000 {
            if r.insert(address(n), block(n)) {
                refused = 0;
            } else {
                refused += 1;
            }
            n += 1;
        }
        let live: Vec<usize> = (0..n)
            .filter(|&i| r.with(home(address(i)), |t| t.find(address(i)).is_some()))
            .collect();
        for i in 0..SHARDS {
            r.with(i, |t| assert_eq!(t.used, load_limit(INITIAL_CAPACITY)));
        }
        // realloc failed: restore.
        let a = address(live[0]);
        assert!(matches!(
            r.take(a, &Claim::Live, Removal::KeepingRoom),
            Found::Taken(_)
        ));
        assert!(r.insert(a, block(1)));
        // realloc moved the blocks to new addresses whose shards are full.
        let mut moved = Vec::new();
        for (k, &i) in live.iter().enumerate().take(500) {
            let old = address(i);
            assert!(matches!(
                r.take(old, &Claim::Live, Removal::KeepingRoom),
                Found::Taken(_)
            ));
            let new = address(10_000_000 + k);
            assert!(r.insert(new, block(k)), "{k}");
            moved.push((new, k));
            assert_eq!(PENDING.with(|p| p.get()), 0);
        }
        assert!(!r.insert(address(20_000_000), block(0)));
        for &(new, k) in &moved {
            match r.take(new, &Claim::Size(k), Removal::AsFreed) {
                Found::Taken(b) => assert_eq!(b, block(k)),
                Found::Mismatch(_) if k % 3 != 0 => {}
                _ => panic!("moved block {k} lost"),
            }
        }
        for i in 0..SHARDS {
            r.with(i, |t| {
                assert!(occupied(t) <= t.used && t.used <= load_limit(t.capacity))
            });
        }
    }

    /// The real record, from several threads, with real blocks.
    #[test]
    fn record_and_free_real_blocks_from_threads() {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut blocks = Vec::new();
                    for i in 0..20_000usize {
                        let size = (i * 7 + t) % 300;
                        // SAFETY: any size.
                        let p = record(unsafe { Selected::alloc(size) }, size, 0);
                        assert!(!p.is_null());
                        blocks.push((p as usize, size));
                        if i % 3 == 0 {
                            let (q, s) = blocks.swap_remove(i % blocks.len());
                            on_free_sized(q as *mut c_void, s);
                            // SAFETY: a live block, checked and forgotten.
                            unsafe { Selected::free(q as *mut c_void) };
                        }
                    }
                    blocks
                })
            })
            .collect();
        let all: Vec<(usize, usize)> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        // Freed by another thread, half through a realloc.
        for (k, &(p, size)) in all.iter().enumerate() {
            let mut p = p as *mut c_void;
            if k % 2 == 0 {
                let old = take_for_realloc(p);
                assert_eq!(old, Block { size, alignment: 0 });
                // SAFETY: a live block.
                let q = unsafe { Selected::realloc(p, size + 100) };
                assert!(!q.is_null());
                p = record(q, size + 100, 0);
                on_free_sized(p, size + 100);
            } else {
                on_free(p);
            }
            // SAFETY: a live block, checked and forgotten.
            unsafe { Selected::free(p) };
        }
    }
}
