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
//!   freed by graphbit-alloc recently (see [`FREED_RING`]); "not allocated
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
//! shard's mapping also holds a ring of the last [`FREED_RING`] addresses
//! freed in it, for the "double free" message: bounded, and nothing to
//! allocate.
//!
//! ## gb_realloc never loses a block
//! `take(.., freeing: false)` (gb_realloc) removes the entry but leaves its
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

use core::cell::{Cell, UnsafeCell};
use core::ffi::c_void;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::backend::{self, Backend, Heap};
use crate::errno;

/// Registers the fork handlers, once, before the first block is recorded:
/// the shards' locks are taken before fork and released in both processes.
/// If registering fails (the C library is out of memory), a later record
/// tries again.
fn register_fork_handlers() {
    #[cfg(unix)]
    {
        use core::sync::atomic::AtomicU8;
        /// 0: not registered, 1: being registered, 2: registered.
        static STATE: AtomicU8 = AtomicU8::new(0);
        if STATE.load(Ordering::Acquire) == 2 {
            return;
        }
        if STATE
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: plain function pointers with no preconditions.
            let rc = errno::preserve(|| unsafe {
                libc::pthread_atfork(Some(lock_all), Some(unlock_all), Some(unlock_all))
            });
            STATE.store(if rc == 0 { 2 } else { 0 }, Ordering::Release);
        }
    }
}

/// What checked mode knows about a live block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Block {
    size: usize,
    /// 0 for blocks from gb_alloc, gb_calloc and gb_realloc.
    alignment: usize,
}

/// One entry of a table; `address` 0 marks an empty slot.
#[repr(C)]
#[derive(Clone, Copy)]
struct Slot {
    address: usize,
    block: Block,
}

const SHARDS: usize = 64;
/// Slots in a shard's first table (it doubles from there).
const INITIAL_CAPACITY: usize = 256;
/// Freed addresses remembered per shard (the most recent ones) for "double
/// free" messages; an older double free reads "not a live block".
pub(crate) const FREED_RING: usize = 512;

/// The operating system's memory, zeroed, for a table; NULL when it cannot
/// be had. Keeps `errno`.
fn map(bytes: usize) -> *mut u8 {
    #[cfg(unix)]
    {
        errno::preserve(|| {
            // SAFETY: a fresh anonymous private mapping, no address given.
            let p = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANON,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                core::ptr::null_mut()
            } else {
                p.cast()
            }
        })
    }
    #[cfg(windows)]
    {
        // SAFETY: a fresh committed region, no address given (zeroed).
        unsafe { windows::VirtualAlloc(core::ptr::null_mut(), bytes, 0x3000, 0x04) }.cast()
    }
    #[cfg(not(any(unix, windows)))]
    {
        match std::alloc::Layout::from_size_align(bytes, 4096) {
            // SAFETY: a non-zero size (a table is never empty).
            Ok(layout) => unsafe { std::alloc::alloc_zeroed(layout) },
            Err(_) => core::ptr::null_mut(),
        }
    }
}

/// Gives back a region from `map(bytes)`. Keeps `errno`.
fn unmap(region: *mut u8, bytes: usize) {
    #[cfg(unix)]
    {
        // SAFETY: a mapping of `bytes` from `map`, no longer used.
        errno::preserve(|| unsafe { libc::munmap(region.cast(), bytes) });
    }
    #[cfg(windows)]
    {
        let _ = bytes;
        // SAFETY: a region from VirtualAlloc, no longer used (MEM_RELEASE).
        unsafe { windows::VirtualFree(region.cast(), 0, 0x8000) };
    }
    #[cfg(not(any(unix, windows)))]
    {
        if let Ok(layout) = std::alloc::Layout::from_size_align(bytes, 4096) {
            // SAFETY: allocated by `map` with this layout.
            unsafe { std::alloc::dealloc(region, layout) }
        }
    }
}

#[cfg(windows)]
mod windows {
    use core::ffi::c_void;
    #[link(name = "kernel32")]
    extern "system" {
        pub fn VirtualAlloc(
            address: *mut c_void,
            size: usize,
            kind: u32,
            protect: u32,
        ) -> *mut c_void;
        pub fn VirtualFree(address: *mut c_void, size: usize, kind: u32) -> i32;
    }
}

/// The hash of an address: all bits mixed (murmur3's finaliser). The top 6
/// bits pick the shard, the low bits the slot.
fn hash(address: usize) -> u64 {
    let mut k = address as u64;
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The shard that holds `address` (unless it is a stray).
fn home(address: usize) -> usize {
    (hash(address) >> 58) as usize % SHARDS
}

/// A shard's table. Its region holds the freed ring (`FREED_RING` addresses)
/// and then `capacity` slots. Invariant: occupied slots <= `used` <=
/// `load_limit(capacity)` < `capacity`, so a probe always meets an empty slot;
/// `used` - occupied is the number of reservations (see `take`).
struct Table {
    region: *mut u8,
    /// 0 (nothing mapped yet) or a power of two.
    capacity: usize,
    /// Entries plus reservations.
    used: usize,
    /// Addresses pushed into the freed ring so far.
    freed_count: usize,
    /// Largest capacity it may grow to (a test lowers it to make growth fail
    /// as a failed mmap would).
    max_capacity: usize,
}

/// Most entries (plus reservations) a table of `capacity` slots takes.
fn load_limit(capacity: usize) -> usize {
    capacity - capacity / 4
}

/// Bytes of a table's region.
fn region_bytes(capacity: usize) -> Option<usize> {
    capacity
        .checked_mul(core::mem::size_of::<Slot>())?
        .checked_add(FREED_RING * core::mem::size_of::<usize>())
}

impl Table {
    const fn new() -> Table {
        Table {
            region: core::ptr::null_mut(),
            capacity: 0,
            used: 0,
            freed_count: 0,
            max_capacity: usize::MAX,
        }
    }

    fn ring(&self) -> *mut usize {
        self.region.cast()
    }

    fn slots(&self) -> *mut Slot {
        // SAFETY: the slots follow the ring inside the region (when mapped).
        unsafe { self.region.add(FREED_RING * core::mem::size_of::<usize>()) }.cast()
    }

    /// Slot `i` (below `capacity`).
    fn get(&self, i: usize) -> Slot {
        debug_assert!(i < self.capacity);
        // SAFETY: i < capacity, within the mapped region.
        unsafe { self.slots().add(i).read() }
    }

    fn put(&mut self, i: usize, slot: Slot) {
        debug_assert!(i < self.capacity);
        // SAFETY: as in `get`; `&mut self`: the shard's lock is held.
        unsafe { self.slots().add(i).write(slot) }
    }

    fn mask(&self) -> usize {
        self.capacity - 1
    }

    /// The slot of `address`, if it is in the table.
    fn find(&self, address: usize) -> Option<usize> {
        if self.capacity == 0 {
            return None;
        }
        let mut i = hash(address) as usize & self.mask();
        loop {
            match self.get(i).address {
                a if a == address => return Some(i),
                0 => return None,
                _ => i = (i + 1) & self.mask(),
            }
        }
    }

    /// Puts `address` (not in the table) into an empty slot; the caller has
    /// counted it in `used`.
    fn place(&mut self, address: usize, block: Block) {
        let mut i = hash(address) as usize & self.mask();
        while self.get(i).address != 0 {
            i = (i + 1) & self.mask();
        }
        self.put(i, Slot { address, block });
    }

    /// Empties slot `i`, moving later entries of its probe run back so that
    /// every entry stays reachable from its home slot.
    fn remove_at(&mut self, i: usize) {
        let mask = self.mask();
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let entry = self.get(j);
            if entry.address == 0 {
                break;
            }
            let wanted = hash(entry.address) as usize & mask;
            // The entry may fill the hole if the hole lies on its probe path
            // (from its home slot to j).
            if j.wrapping_sub(wanted) & mask >= j.wrapping_sub(hole) & mask {
                self.put(hole, entry);
                hole = j;
            }
        }
        self.put(
            hole,
            Slot {
                address: 0,
                block: Block {
                    size: 0,
                    alignment: 0,
                },
            },
        );
    }

    /// Doubles the table (maps the first one); false when the memory cannot
    /// be had. Keeps `errno`.
    fn grow(&mut self) -> bool {
        let capacity = if self.capacity == 0 {
            INITIAL_CAPACITY
        } else {
            match self.capacity.checked_mul(2) {
                Some(c) => c,
                None => return false,
            }
        };
        if capacity > self.max_capacity {
            return false;
        }
        let Some(bytes) = region_bytes(capacity) else {
            return false;
        };
        let region = map(bytes);
        if region.is_null() {
            return false;
        }
        let old = Table {
            region: self.region,
            capacity: self.capacity,
            used: 0,
            freed_count: 0,
            max_capacity: 0,
        };
        self.region = region;
        self.capacity = capacity;
        if !old.region.is_null() {
            // SAFETY: both rings are FREED_RING addresses long, in
            // different mappings.
            unsafe { core::ptr::copy_nonoverlapping(old.ring(), self.ring(), FREED_RING) };
            for i in 0..old.capacity {
                let entry = old.get(i);
                if entry.address != 0 {
                    self.place(entry.address, entry.block);
                }
            }
        }
        // `old` unmaps its region when dropped.
        true
    }

    /// Records a new entry, growing the table if it is full; false when it
    /// is full and cannot grow.
    fn insert(&mut self, address: usize, block: Block) -> bool {
        if let Some(i) = self.find(address) {
            // Already recorded: the backend handed the address out again
            // without it being freed through graphbit-alloc (a block freed
            // with the C library's free on the system backend, say).
            self.put(i, Slot { address, block });
            return true;
        }
        if (self.capacity == 0 || self.used + 1 > load_limit(self.capacity)) && !self.grow() {
            return false;
        }
        self.place(address, block);
        self.used += 1;
        true
    }

    /// Records an entry into room reserved by `take` (already counted in
    /// `used`): cannot fail.
    fn insert_reserved(&mut self, address: usize, block: Block) {
        debug_assert!(self.capacity > 0 && self.used > 0);
        if let Some(i) = self.find(address) {
            self.put(i, Slot { address, block });
            self.used -= 1;
        } else {
            self.place(address, block);
        }
    }

    fn push_freed(&mut self, address: usize) {
        // SAFETY: the index is below FREED_RING, within the ring (mapped:
        // only a table with entries frees).
        unsafe { *self.ring().add(self.freed_count % FREED_RING) = address };
        self.freed_count = self.freed_count.wrapping_add(1);
    }

    fn was_freed(&self, address: usize) -> bool {
        if self.region.is_null() {
            return false;
        }
        let n = self.freed_count.min(FREED_RING);
        // SAFETY: the first n addresses of the ring have been written.
        (0..n).any(|i| unsafe { *self.ring().add(i) } == address)
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if let (false, Some(bytes)) = (self.region.is_null(), region_bytes(self.capacity)) {
            unmap(self.region, bytes);
        }
    }
}

/// One shard: a spin lock (so that fork handlers can take and release it from
/// different functions) around a table.
struct Shard {
    /// The thread holding the lock (`me()`), or 0.
    owner: AtomicUsize,
    table: UnsafeCell<Table>,
}

/// The record of live blocks.
struct Record {
    shards: [Shard; SHARDS],
}

// SAFETY: each table is only touched while its shard's lock is held, and
// its region is owned by it alone.
unsafe impl Sync for Record {}
// SAFETY: as above (a test's own record is moved between threads only whole).
unsafe impl Send for Record {}

static RECORD: Record = Record::new();

thread_local! {
    /// 1 + the shard in which this thread's gb_realloc holds a reservation
    /// (between `take(.., false)` and `restore` or `record`), else 0.
    static PENDING: Cell<usize> = const { Cell::new(0) };
}

thread_local! {
    /// Its address tells the threads apart (const, no destructor: usable
    /// until the thread is gone, also from signal handlers).
    static ME: u8 = const { 0 };
}

/// An identity of the calling thread, never 0.
fn me() -> usize {
    ME.with(|me| me as *const u8 as usize)
}

/// Takes the shard's lock. A thread that already holds it was interrupted
/// inside checked mode (by a signal handler that allocates) and would wait
/// for itself forever: that aborts with a message instead.
fn lock(shard: &Shard) {
    if acquire(shard, me()).is_err() {
        reentered()
    }
}

/// Takes the shard's lock for thread `me`, waiting for any other holder;
/// `Err` at once if `me` holds it already.
fn acquire(shard: &Shard, me: usize) -> Result<(), ()> {
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

fn unlock(shard: &Shard) {
    shard.owner.store(0, Ordering::Release);
}

#[cold]
fn reentered() -> ! {
    let mut line = Line::empty();
    let _ = line.write_str(
        "graphbit-alloc: checked mode was re-entered on one thread (an allocation function \
         called from a signal handler that interrupted one, which is undefined); aborting",
    );
    line.abort()
}

extern "C" fn lock_all() {
    RECORD.shards.iter().for_each(lock);
}

extern "C" fn unlock_all() {
    RECORD.shards.iter().for_each(unlock);
}

/// Outcome of a lookup for `take`.
enum Found {
    /// Live and as claimed: removed.
    Taken(Block),
    /// Live but not as claimed: left alone.
    Mismatch(Block),
    /// Not a live block.
    Missing,
}

impl Record {
    const fn new() -> Record {
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
    fn with<R>(&self, index: usize, f: impl FnOnce(&mut Table) -> R) -> R {
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
    fn insert(&self, address: usize, block: Block) -> bool {
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
    /// this thread (`freeing` false, gb_realloc).
    fn take(&self, address: usize, claim: &Claim, freeing: bool) -> Found {
        let take_in = |index: usize| {
            self.with(index, |t| {
                let i = t.find(address)?;
                let block = t.get(i).block;
                if !claim.matches(block) {
                    return Some(Found::Mismatch(block));
                }
                t.remove_at(i);
                if freeing {
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
    fn containing(&self, address: usize) -> Option<(usize, Block)> {
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
    fn was_freed(&self, address: usize) -> bool {
        (0..SHARDS).any(|i| self.with(i, |t| t.was_freed(address)))
    }
}

/// Records a block just handed out (no-op for NULL) and returns it. When the
/// record has no room and the memory for more cannot be had, frees the block
/// and returns NULL with `errno` set to `ENOMEM`; but the block that
/// `gb_realloc` returns, recorded right after its `take`, always fits.
#[cold]
#[inline(never)]
pub fn record(block: *mut c_void, size: usize, alignment: usize) -> *mut c_void {
    if block.is_null() {
        return block;
    }
    register_fork_handlers();
    if RECORD.insert(block as usize, Block { size, alignment }) {
        return block;
    }
    // SAFETY: a live block of this backend, just allocated, not handed out.
    unsafe { Backend::free(block) };
    errno::set(libc::ENOMEM);
    core::ptr::null_mut()
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

/// The check of gb_free_sized or gb_free_aligned_sized (`function`) called
/// with a size or alignment that cannot be right, which their contract
/// ignores: only that the block is live (`ptr` is not NULL).
#[cold]
#[inline(never)]
pub fn on_free_ignoring_size(function: &'static str, ptr: *mut c_void) {
    take(function, ptr, Claim::Live, true);
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
/// it (as freed when `freeing`); aborts naming `function` otherwise. Returns
/// the block's record, to put back with `restore` if a realloc fails. With
/// `freeing` false (gb_realloc) the block's room stays reserved for this
/// thread's next `restore` or `record`, which must follow.
pub fn take(function: &str, ptr: *mut c_void, claim: Claim, freeing: bool) -> (usize, usize) {
    let address = ptr as usize;
    match RECORD.take(address, &claim, freeing) {
        Found::Taken(b) => (b.size, b.alignment),
        Found::Mismatch(b) => {
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
                Claim::Size(_) if b.alignment != 0 => {
                    let _ = write!(
                        line,
                        "block from gb_aligned_alloc({}, {}): free it with gb_free_aligned_sized or gb_free",
                        b.alignment, b.size
                    );
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
        Found::Missing if crate::heap::checked::destroyed_heap_of(address).is_some() => {
            let heap = crate::heap::checked::destroyed_heap_of(address).unwrap_or(0);
            let mut line = Line::new(function, ptr, &claim);
            let _ = write!(
                line,
                "block of heap #{heap}, freed already by gb_heap_destroy"
            );
            line.abort()
        }
        Found::Missing if RECORD.was_freed(address) => {
            Line::new(function, ptr, &claim).finish("double free")
        }
        Found::Missing => {
            if let Some((start, b)) = RECORD.containing(address) {
                // Before the ownership question: jemalloc's page map does not
                // know the inside of a large block.
                let mut line = Line::new(function, ptr, &claim);
                let _ = write!(
                    line,
                    "interior pointer: {} bytes into a live block of size {}",
                    address - start,
                    b.size
                );
                line.abort()
            }
            missing(function, ptr, &claim)
        }
    }
}

/// The message for a pointer that is neither a live block nor inside one.
#[cold]
fn missing(function: &str, ptr: *mut c_void, claim: &Claim) -> ! {
    let line = Line::new(function, ptr, claim);
    if backend::CAN_TELL_OWNERSHIP && !backend::owns(ptr) {
        line.finish("pointer not allocated by graphbit-alloc")
    } else {
        line.finish("not a live block (freed already, or not allocated by graphbit-alloc)")
    }
}

/// A heap handle that is not a live heap: reports it, naming the heap
/// (`id`) when it is one that was destroyed, and aborts.
#[cold]
pub fn heap_misuse(function: &str, heap: *mut c_void, id: Option<u64>) -> ! {
    let mut line = Line::new(function, heap, &Claim::Live);
    match id {
        Some(id) => {
            let _ = write!(line, "heap #{id} was destroyed already");
        }
        None => {
            let _ = write!(line, "not a heap from gb_heap_new");
        }
    }
    line.abort()
}

/// Puts back a block that a failed realloc left to its owner, into the room
/// its `take` reserved: cannot fail.
pub fn restore(ptr: *mut c_void, (size, alignment): (usize, usize)) {
    // Only false without a reservation (no `take` before it): nothing to do.
    let _ = RECORD.insert(ptr as usize, Block { size, alignment });
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
    fn empty() -> Line {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }

    fn new(function: &str, ptr: *mut c_void, claim: &Claim) -> Line {
        let mut line = Line::empty();
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
        // SAFETY: writes our own buffer to fd 2, then aborts. (The count's
        // type differs between platforms: size_t, or unsigned on Windows.)
        unsafe {
            libc::write(2, self.buf.as_ptr().cast(), (self.len + 1) as _);
            libc::abort()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            match r.take(address(i), &Claim::Live, true) {
                Found::Taken(b) => assert_eq!(b, block(i)),
                _ => panic!("{i} missing"),
            }
        }
        assert!(matches!(
            r.take(address(5), &Claim::Live, true),
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
            r.take(address(1), &Claim::Size(11), true),
            Found::Mismatch(_)
        ));
        assert!(matches!(
            r.take(address(1), &Claim::Aligned(16, 10), true),
            Found::Mismatch(_)
        ));
        assert!(matches!(
            r.take(address(1), &Claim::Size(10), true),
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
        assert!(matches!(r.take(a, &Claim::Live, false), Found::Taken(_)));
        assert!(r.insert(a, block(1)));
        // realloc moved the blocks to new addresses whose shards are full.
        let mut moved = Vec::new();
        for (k, &i) in live.iter().enumerate().take(500) {
            let old = address(i);
            assert!(matches!(r.take(old, &Claim::Live, false), Found::Taken(_)));
            let new = address(10_000_000 + k);
            assert!(r.insert(new, block(k)), "{k}");
            moved.push((new, k));
            assert_eq!(PENDING.with(|p| p.get()), 0);
        }
        assert!(!r.insert(address(20_000_000), block(0)));
        for &(new, k) in &moved {
            match r.take(new, &Claim::Size(k), true) {
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
                        let p = record(unsafe { Backend::alloc(size) }, size, 0);
                        assert!(!p.is_null());
                        blocks.push((p as usize, size));
                        if i % 3 == 0 {
                            let (q, s) = blocks.swap_remove(i % blocks.len());
                            on_free_sized(q as *mut c_void, s);
                            // SAFETY: a live block, checked and forgotten.
                            unsafe { Backend::free(q as *mut c_void) };
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
                let old = take("gb_realloc", p, Claim::Live, false);
                assert_eq!(old, (size, 0));
                // SAFETY: a live block.
                let q = unsafe { Backend::realloc(p, size + 100) };
                assert!(!q.is_null());
                p = record(q, size + 100, 0);
                on_free_sized(p, size + 100);
            } else {
                on_free(p);
            }
            // SAFETY: a live block, checked and forgotten.
            unsafe { Backend::free(p) };
        }
    }
}
