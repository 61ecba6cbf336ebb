//! One shard's table: open addressing over memory mapped from the OS, and
//! the ring of the addresses freed last.

use crate::sys::{map, unmap};

/// What checked mode knows about a live block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Block {
    pub(crate) size: usize,
    /// 0 for blocks from gb_alloc, gb_calloc and gb_realloc.
    pub(crate) alignment: usize,
}

/// One entry of a table; `address` 0 marks an empty slot.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) address: usize,
    pub(super) block: Block,
}

pub(super) const SHARDS: usize = 64;
/// Slots in a shard's first table (it doubles from there).
pub(super) const INITIAL_CAPACITY: usize = 256;
/// Freed addresses remembered per shard (the most recent ones) for "double
/// free" messages; an older double free reads "not a live block".
pub(crate) const FREED_RING: usize = 512;

/// The hash of an address: all bits mixed (murmur3's finaliser). The top 6
/// bits pick the shard, the low bits the slot.
pub(super) fn hash(address: usize) -> u64 {
    let mut k = address as u64;
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The shard that holds `address` (unless it is a stray).
pub(super) fn home(address: usize) -> usize {
    (hash(address) >> 58) as usize % SHARDS
}

/// A shard's table. Its region holds the freed ring (`FREED_RING` addresses)
/// and then `capacity` slots. Invariant: occupied slots <= `used` <=
/// `load_limit(capacity)` < `capacity`, so a probe always meets an empty slot;
/// `used` - occupied is the number of reservations (see `take`).
pub(super) struct Table {
    pub(super) region: *mut u8,
    /// 0 (nothing mapped yet) or a power of two.
    pub(super) capacity: usize,
    /// Entries plus reservations.
    pub(super) used: usize,
    /// Addresses pushed into the freed ring so far.
    pub(super) freed_count: usize,
    /// Largest capacity it may grow to (a test lowers it to make growth fail
    /// as a failed mmap would).
    pub(super) max_capacity: usize,
}

/// Most entries (plus reservations) a table of `capacity` slots takes.
pub(super) fn load_limit(capacity: usize) -> usize {
    capacity - capacity / 4
}

/// Bytes of a table's region.
pub(super) fn region_bytes(capacity: usize) -> Option<usize> {
    capacity
        .checked_mul(core::mem::size_of::<Slot>())?
        .checked_add(FREED_RING * core::mem::size_of::<usize>())
}

impl Table {
    pub(super) const fn new() -> Table {
        Table {
            region: core::ptr::null_mut(),
            capacity: 0,
            used: 0,
            freed_count: 0,
            max_capacity: usize::MAX,
        }
    }

    pub(super) fn ring(&self) -> *mut usize {
        self.region.cast()
    }

    pub(super) fn slots(&self) -> *mut Slot {
        // SAFETY: the slots follow the ring inside the region (when mapped).
        unsafe { self.region.add(FREED_RING * core::mem::size_of::<usize>()) }.cast()
    }

    /// Slot `i` (below `capacity`).
    pub(super) fn get(&self, i: usize) -> Slot {
        debug_assert!(i < self.capacity);
        // SAFETY: i < capacity, within the mapped region.
        unsafe { self.slots().add(i).read() }
    }

    pub(super) fn put(&mut self, i: usize, slot: Slot) {
        debug_assert!(i < self.capacity);
        // SAFETY: as in `get`; `&mut self`: the shard's lock is held.
        unsafe { self.slots().add(i).write(slot) }
    }

    pub(super) fn mask(&self) -> usize {
        self.capacity - 1
    }

    /// The slot of `address`, if it is in the table.
    pub(super) fn find(&self, address: usize) -> Option<usize> {
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
    pub(super) fn place(&mut self, address: usize, block: Block) {
        let mut i = hash(address) as usize & self.mask();
        while self.get(i).address != 0 {
            i = (i + 1) & self.mask();
        }
        self.put(i, Slot { address, block });
    }

    /// Empties slot `i`, moving later entries of its probe run back so that
    /// every entry stays reachable from its home slot.
    pub(super) fn remove_at(&mut self, i: usize) {
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
    pub(super) fn grow(&mut self) -> bool {
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
    pub(super) fn insert(&mut self, address: usize, block: Block) -> bool {
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
    pub(super) fn insert_reserved(&mut self, address: usize, block: Block) {
        debug_assert!(self.capacity > 0 && self.used > 0);
        if let Some(i) = self.find(address) {
            self.put(i, Slot { address, block });
            self.used -= 1;
        } else {
            self.place(address, block);
        }
    }

    pub(super) fn push_freed(&mut self, address: usize) {
        // SAFETY: the index is below FREED_RING, within the ring (mapped:
        // only a table with entries frees).
        unsafe { *self.ring().add(self.freed_count % FREED_RING) = address };
        self.freed_count = self.freed_count.wrapping_add(1);
    }

    pub(super) fn was_freed(&self, address: usize) -> bool {
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
