//! The record of samples: live sampled blocks (address -> size, stack,
//! weight), the distinct call stacks with what was allocated from each since
//! the start, and the peak snapshot. All of it lives in memory mapped here
//! (`mmap`), never in the allocator being profiled, behind one lock that is
//! never held across anything that could allocate.
//!
//! The lock is taken in `fork`'s prepare handler and released on both sides,
//! so a child never inherits it held: the child keeps its parent's samples
//! and can dump its own profile. A dump copies what it needs under the lock
//! into a fresh mapping and builds the file after releasing it, so threads
//! that allocate meanwhile wait at most for that copy.
//!
//! Frees look up a 64 Ki-slot counting filter first (a multiply, a shift and
//! a load; no lock, no call): only a block whose slot counts a live sample
//! takes the lock. While no sample is live, frees do not look at the filter
//! at all (`super::SAMPLES_LIVE`, kept here under the lock).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::stack::MAX_DEPTH;
use super::Which;

/// Distinct stacks kept; samples from further new stacks are dropped. The
/// store is reserved up front (virtual memory, `MAP_NORESERVE`) and filled
/// in order, so only what is used becomes resident.
const MAX_STACKS: usize = 1 << 18;
const FILTER_SLOTS: usize = 1 << 16;
const FIRST_LIVE_CAPACITY: usize = 1 << 12;
const FIRST_INDEX_CAPACITY: usize = 1 << 12;

/// One distinct call stack and what was allocated from it since the start.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Stack {
    hash: u64,
    depth: u64,
    /// Allocations sampled from it, each weighted (estimated count).
    pub(crate) alloc_objects: f64,
    /// The same, in bytes.
    pub(crate) alloc_space: f64,
    /// Its live samples, weighted (estimated count), kept as samples come
    /// and go so that a peak or a dump copies these instead of walking the
    /// live table.
    inuse_objects: f64,
    /// The same, in bytes.
    inuse_space: f64,
    frames: [usize; MAX_DEPTH],
}

impl Stack {
    /// Return addresses, innermost first.
    pub(crate) fn frames(&self) -> &[usize] {
        &self.frames[..(self.depth as usize).min(MAX_DEPTH)]
    }
}

/// Estimated totals of one stack in a snapshot.
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct Totals {
    pub(crate) inuse_objects: f64,
    pub(crate) inuse_space: f64,
    pub(crate) alloc_objects: f64,
    pub(crate) alloc_space: f64,
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Live {
    /// 0: empty slot.
    address: usize,
    size: usize,
    /// The block's usable size where the sampler said (jemalloc's), else 0.
    usable: usize,
    stack: usize,
    weight: f64,
}

struct State {
    live: *mut Live,
    live_capacity: usize,
    live_count: usize,
    stacks: *mut Stack,
    stack_count: usize,
    /// Open addressing: stack id + 1, 0 empty.
    index: *mut u32,
    index_capacity: usize,
    live_bytes: f64,
    /// The live heap (per stack) when `peak_bytes` was last recorded.
    peak: *mut Totals,
    peak_capacity: usize,
    peak_stacks: usize,
    peak_bytes: f64,
    /// Samples recorded in this process: since its start, or in a fork
    /// child since the fork (see [`recorded_here`]).
    recorded_here: u64,
}

struct Shared(UnsafeCell<State>);
// SAFETY: the state is only touched with LOCK held.
unsafe impl Sync for Shared {}

static STATE: Shared = Shared(UnsafeCell::new(State {
    live: core::ptr::null_mut(),
    live_capacity: 0,
    live_count: 0,
    stacks: core::ptr::null_mut(),
    stack_count: 0,
    index: core::ptr::null_mut(),
    index_capacity: 0,
    live_bytes: 0.0,
    peak: core::ptr::null_mut(),
    peak_capacity: 0,
    peak_stacks: 0,
    peak_bytes: 0.0,
    recorded_here: 0,
}));

static LOCK: AtomicBool = AtomicBool::new(false);
static FORK_HANDLERS: AtomicBool = AtomicBool::new(false);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU32 = AtomicU32::new(0);
static FILTER: [AtomicU32; FILTER_SLOTS] = [ZERO; FILTER_SLOTS];

fn lock() {
    let mut spins = 0u32;
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spins += 1;
        if spins < 64 {
            core::hint::spin_loop();
        } else {
            // SAFETY: no preconditions; allocates nothing.
            unsafe { libc::sched_yield() };
        }
    }
}

fn unlock() {
    LOCK.store(false, Ordering::Release);
}

/// Runs `f` on the state with the lock held.
fn locked<R>(f: impl FnOnce(&mut State) -> R) -> R {
    lock();
    // SAFETY: the lock is held: nobody else touches the state.
    let result = f(unsafe { &mut *STATE.0.get() });
    unlock();
    result
}

extern "C" fn before_fork() {
    lock();
}

extern "C" fn after_fork() {
    unlock();
}

extern "C" fn after_fork_in_child() {
    // SAFETY: the lock is held (taken before the fork), so nobody else
    // touches the state; in the child only this thread lives.
    unsafe { (*STATE.0.get()).recorded_here = 0 };
    unlock();
}

/// Samples recorded by this process itself: since it started, or, in a
/// child forked from a sampling process, since the fork (what the child
/// inherited does not count).
pub(crate) fn recorded_here() -> u64 {
    locked(|state| state.recorded_here)
}

fn map(bytes: usize) -> *mut u8 {
    // SAFETY: a fresh anonymous mapping; no allocation.
    let memory = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if memory == libc::MAP_FAILED {
        core::ptr::null_mut()
    } else {
        memory as *mut u8
    }
}

/// Zeroes `bytes` of a mapping made by [`map`], releasing its pages.
fn clear(memory: *mut u8, bytes: usize) {
    if memory.is_null() || bytes == 0 {
        return;
    }
    // SAFETY: a private anonymous mapping of at least `bytes` made by `map`;
    // MADV_DONTNEED makes it read as zeros again.
    if unsafe { libc::madvise(memory as *mut libc::c_void, bytes, libc::MADV_DONTNEED) } != 0 {
        // SAFETY: as above, writable.
        unsafe { core::ptr::write_bytes(memory, 0, bytes) };
    }
}

fn unmap(memory: *mut u8, bytes: usize) {
    if !memory.is_null() {
        // SAFETY: a mapping of `bytes` made by `map`, no longer used.
        unsafe { libc::munmap(memory as *mut libc::c_void, bytes) };
    }
}

fn mix(value: u64) -> u64 {
    let mut x = value;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The filter slot of `address`: Fibonacci hashing (the top 16 bits of the
/// address times 2^64 / golden ratio), which spreads neighbouring blocks and
/// page-aligned ones alike, in three instructions.
#[inline(always)]
fn filter_slot(address: usize) -> &'static AtomicU32 {
    const BITS: u32 = FILTER_SLOTS.trailing_zeros();
    &FILTER[((address as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BITS)) as usize]
}

/// Whether a live sample may be recorded for `address` (no false
/// negatives; NULL may answer true, and then nothing is found). One load,
/// no lock.
#[inline(always)]
pub(crate) fn may_hold(address: usize) -> bool {
    filter_slot(address).load(Ordering::Relaxed) != 0
}

/// Maps the tables (once) and installs the fork handlers (once). Not under
/// the lock: `pthread_atfork` may allocate.
pub(crate) fn prepare() -> Result<(), i32> {
    if !FORK_HANDLERS.swap(true, Ordering::AcqRel) {
        // SAFETY: the handlers are plain functions that touch only LOCK.
        let code = unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork),
                Some(after_fork_in_child),
            )
        };
        if code != 0 {
            FORK_HANDLERS.store(false, Ordering::Release);
            return Err(code);
        }
    }
    locked(|state| {
        if state.stacks.is_null() {
            state.stacks = map(MAX_STACKS * core::mem::size_of::<Stack>()) as *mut Stack;
            if state.stacks.is_null() {
                return Err(libc::ENOMEM);
            }
        }
        if state.live.is_null() {
            state.live = map(FIRST_LIVE_CAPACITY * core::mem::size_of::<Live>()) as *mut Live;
            if state.live.is_null() {
                return Err(libc::ENOMEM);
            }
            state.live_capacity = FIRST_LIVE_CAPACITY;
        }
        if state.index.is_null() {
            state.index = map(FIRST_INDEX_CAPACITY * 4) as *mut u32;
            if state.index.is_null() {
                return Err(libc::ENOMEM);
            }
            state.index_capacity = FIRST_INDEX_CAPACITY;
        }
        Ok(())
    })
}

/// Forgets every sample and stack (a new start).
pub(crate) fn reset() {
    locked(|state| {
        // Zeroed by giving their pages back (anonymous private mappings
        // read as zeros again): writing zeros would make every page of a
        // table never used resident.
        clear(
            state.live as *mut u8,
            state.live_capacity * core::mem::size_of::<Live>(),
        );
        clear(state.index as *mut u8, state.index_capacity * 4);
        state.live_count = 0;
        state.stack_count = 0;
        state.live_bytes = 0.0;
        state.peak_stacks = 0;
        state.peak_bytes = 0.0;
        for slot in FILTER.iter() {
            if slot.load(Ordering::Relaxed) != 0 {
                slot.store(0, Ordering::Relaxed);
            }
        }
        super::set_samples_live(false);
    })
}

/// Records a sampled block: `address` of `size` bytes, from `frames`,
/// standing for `weight` allocations like it.
pub(crate) fn insert(address: usize, size: usize, frames: &[usize], weight: f64) {
    insert_usable(address, size, 0, frames, weight)
}

/// As [`insert`], with the block's usable size (see [`forget_usable`]).
pub(crate) fn insert_usable(
    address: usize,
    size: usize,
    usable: usize,
    frames: &[usize],
    weight: f64,
) {
    locked(|state| {
        if state.live.is_null() || state.stacks.is_null() {
            return;
        }
        let Some(stack) = stack_id(state, frames) else {
            return;
        };
        // SAFETY: `stack` < stack_count, within the store.
        let record = unsafe { &mut *state.stacks.add(stack) };
        state.recorded_here += 1;
        record.alloc_objects += weight;
        record.alloc_space += weight * size as f64;
        add_live(
            state,
            Live {
                address,
                size,
                usable,
                stack,
                weight,
            },
        );
    })
}

/// Adds a live sample (replacing one of the same address: a block freed by a
/// path the profiler did not see, whose address is reused) and keeps the
/// live bytes, the flag and the peak. Grows the live table first when it
/// would be more than half full; drops the sample when it cannot.
fn add_live(state: &mut State, entry: Live) {
    if (state.live_count + 1) * 2 > state.live_capacity && !grow_live(state) {
        return;
    }
    if remove(state, entry.address).is_some() {
        filter_slot(entry.address).fetch_sub(1, Ordering::Relaxed);
    }
    put(state, entry);
    state.live_count += 1;
    state.live_bytes += entry.weight * entry.size as f64;
    // SAFETY: entry.stack < stack_count, within the store.
    let stack = unsafe { &mut *state.stacks.add(entry.stack) };
    stack.inuse_objects += entry.weight;
    stack.inuse_space += entry.weight * entry.size as f64;
    filter_slot(entry.address).fetch_add(1, Ordering::Relaxed);
    super::set_samples_live(true);
    if state.live_bytes > state.peak_bytes {
        // A new high: keep the live heap of this moment, at most every
        // 1/64 of growth (each copy walks the stacks).
        if (state.peak_stacks == 0 || state.live_bytes >= state.peak_bytes * (1.0 + 1.0 / 64.0))
            && take_peak(state)
        {
            state.peak_bytes = state.live_bytes;
        }
    }
}

/// A live sample taken out of the record by [`take`], to be put back by
/// [`restore`] (a block resized in place).
pub(crate) struct Taken {
    /// The block's size when it was sampled (or last resized in place).
    pub(crate) size: usize,
    stack: usize,
    weight: f64,
}

/// Drops the sample of `address`, if there is one (a free).
#[inline(never)]
#[cold]
pub(crate) fn forget(address: usize) {
    let _ = take(address);
}

/// Removes the live sample of `address`, if there is one, and keeps the
/// filter and the flag (the state is under the lock).
fn drop_live(state: &mut State, address: usize) -> Option<Live> {
    let entry = remove(state, address)?;
    filter_slot(address).fetch_sub(1, Ordering::Relaxed);
    if state.live_count == 0 {
        super::set_samples_live(false);
    }
    Some(entry)
}

/// Drops the sample of `address` of `usable` bytes, if there is one: not
/// one recorded with another usable size. (jemalloc reports a block resized
/// in place and sampled again as the new sample first, then the old one's
/// free, for the same address.)
#[inline(never)]
#[cold]
#[allow(dead_code)] // reached through a backend's own sampler (jemalloc)
pub(crate) fn forget_usable(address: usize, usable: usize) {
    locked(|state| {
        if state.live.is_null() {
            return;
        }
        match find(state, address) {
            Some(entry) if entry.usable == 0 || entry.usable == usable => {
                drop_live(state, address);
            }
            _ => {}
        }
    })
}

/// Drops the sample of `address`, if there is one, and returns what
/// [`restore`] needs to put it back.
#[inline(never)]
#[cold]
pub(crate) fn take(address: usize) -> Option<Taken> {
    locked(|state| {
        if state.live.is_null() {
            return None;
        }
        let entry = drop_live(state, address)?;
        Some(Taken {
            size: entry.size,
            stack: entry.stack,
            weight: entry.weight,
        })
    })
}

/// Puts back a sample [`take`] took from `address`, now of `size` bytes,
/// with its stack and weight (not counted again in the stack's `alloc_*`:
/// no new allocation). Dropped when the live table cannot grow.
#[inline(never)]
#[cold]
pub(crate) fn restore(address: usize, size: usize, taken: Taken) {
    locked(|state| {
        if state.live.is_null() {
            return;
        }
        add_live(
            state,
            Live {
                address,
                size,
                usable: 0,
                stack: taken.stack,
                weight: taken.weight,
            },
        );
    })
}

/// Live samples now.
#[cfg(test)]
pub(crate) fn live_samples() -> usize {
    locked(|state| state.live_count)
}

/// What the live sample of `address` adds to the estimated live bytes
/// (weight times size; 0 when there is none).
#[cfg(test)]
pub(crate) fn estimate(address: usize) -> f64 {
    locked(|state| find(state, address).map_or(0.0, |entry| entry.weight * entry.size as f64))
}

/// Whether a live sample is recorded for `address`.
#[cfg(test)]
pub(crate) fn holds(address: usize) -> bool {
    locked(|state| find(state, address).is_some())
}

fn stack_hash(frames: &[usize]) -> u64 {
    let mut hash = frames.len() as u64;
    for &frame in frames {
        hash = mix(hash ^ frame as u64);
    }
    hash
}

/// The id of `frames` in the store, added if new; None when the store is
/// full or the index cannot grow.
fn stack_id(state: &mut State, frames: &[usize]) -> Option<usize> {
    let hash = stack_hash(frames);
    let mask = state.index_capacity - 1;
    let mut slot = (hash as usize) & mask;
    loop {
        // SAFETY: slot < index_capacity.
        let entry = unsafe { *state.index.add(slot) };
        if entry == 0 {
            break;
        }
        let id = entry as usize - 1;
        // SAFETY: ids in the index are < stack_count.
        let stack = unsafe { &*state.stacks.add(id) };
        if stack.hash == hash && stack.frames() == frames {
            return Some(id);
        }
        slot = (slot + 1) & mask;
    }
    if state.stack_count == MAX_STACKS {
        return None;
    }
    if (state.stack_count + 1) * 2 > state.index_capacity {
        if !grow_index(state) {
            return None;
        }
        return stack_id(state, frames);
    }
    let id = state.stack_count;
    let mut stack = Stack {
        hash,
        depth: frames.len() as u64,
        alloc_objects: 0.0,
        alloc_space: 0.0,
        inuse_objects: 0.0,
        inuse_space: 0.0,
        frames: [0; MAX_DEPTH],
    };
    stack.frames[..frames.len()].copy_from_slice(frames);
    // SAFETY: id < MAX_STACKS, within the reserved store; slot is empty.
    unsafe {
        state.stacks.add(id).write(stack);
        *state.index.add(slot) = id as u32 + 1;
    }
    state.stack_count += 1;
    Some(id)
}

fn grow_index(state: &mut State) -> bool {
    let capacity = state.index_capacity * 2;
    let index = map(capacity * 4) as *mut u32;
    if index.is_null() {
        return false;
    }
    for id in 0..state.stack_count {
        // SAFETY: id < stack_count.
        let hash = unsafe { (*state.stacks.add(id)).hash };
        let mut slot = (hash as usize) & (capacity - 1);
        // SAFETY: slots < capacity of the new mapping.
        unsafe {
            while *index.add(slot) != 0 {
                slot = (slot + 1) & (capacity - 1);
            }
            *index.add(slot) = id as u32 + 1;
        }
    }
    unmap(state.index as *mut u8, state.index_capacity * 4);
    state.index = index;
    state.index_capacity = capacity;
    true
}

fn home(address: usize, capacity: usize) -> usize {
    (mix(address as u64) as usize) & (capacity - 1)
}

fn put(state: &mut State, entry: Live) {
    let mask = state.live_capacity - 1;
    let mut slot = home(entry.address, state.live_capacity);
    // SAFETY: slots < live_capacity; the table is never full (load <= 1/2).
    unsafe {
        while (*state.live.add(slot)).address != 0 {
            slot = (slot + 1) & mask;
        }
        state.live.add(slot).write(entry);
    }
}

/// The live entry of `address` (not 0), if there is one.
fn find(state: &State, address: usize) -> Option<Live> {
    if state.live.is_null() || address == 0 {
        return None;
    }
    let mask = state.live_capacity - 1;
    let mut slot = home(address, state.live_capacity);
    loop {
        // SAFETY: slot < live_capacity; the table is never full.
        let entry = unsafe { *state.live.add(slot) };
        if entry.address == 0 {
            return None;
        }
        if entry.address == address {
            return Some(entry);
        }
        slot = (slot + 1) & mask;
    }
}

/// Removes the entry of `address` (backward-shift deletion, so lookups
/// never need tombstones) and returns it, if it was there.
fn remove(state: &mut State, address: usize) -> Option<Live> {
    let mask = state.live_capacity - 1;
    let mut slot = home(address, state.live_capacity);
    // SAFETY: all slots < live_capacity.
    unsafe {
        let removed = loop {
            let entry = *state.live.add(slot);
            if entry.address == 0 {
                return None;
            }
            if entry.address == address {
                state.live_bytes -= entry.weight * entry.size as f64;
                if state.live_bytes < 0.0 {
                    state.live_bytes = 0.0;
                }
                let stack = &mut *state.stacks.add(entry.stack);
                stack.inuse_objects -= entry.weight;
                stack.inuse_space -= entry.weight * entry.size as f64;
                state.live_count -= 1;
                break entry;
            }
            slot = (slot + 1) & mask;
        };
        let mut hole = slot;
        let mut next = (hole + 1) & mask;
        loop {
            let entry = *state.live.add(next);
            if entry.address == 0 {
                break;
            }
            let wanted = home(entry.address, state.live_capacity);
            // Moves back into the hole unless its home lies after the hole
            // (cyclically) up to `next`.
            let stays = if hole <= next {
                hole < wanted && wanted <= next
            } else {
                hole < wanted || wanted <= next
            };
            if !stays {
                state.live.add(hole).write(entry);
                hole = next;
            }
            next = (next + 1) & mask;
        }
        (*state.live.add(hole)).address = 0;
        Some(removed)
    }
}

fn grow_live(state: &mut State) -> bool {
    let old = state.live;
    let old_capacity = state.live_capacity;
    let capacity = old_capacity * 2;
    let live = map(capacity * core::mem::size_of::<Live>()) as *mut Live;
    if live.is_null() {
        return false;
    }
    state.live = live;
    state.live_capacity = capacity;
    for slot in 0..old_capacity {
        // SAFETY: slot < old_capacity.
        let entry = unsafe { *old.add(slot) };
        if entry.address != 0 {
            put(state, entry);
        }
    }
    unmap(old as *mut u8, old_capacity * core::mem::size_of::<Live>());
    true
}

/// The live samples' totals per stack (kept by `add_live` and `remove`)
/// and the totals since the start, into `totals` (stack_count long).
fn sum_live(state: &State, totals: *mut Totals) {
    for id in 0..state.stack_count {
        // SAFETY: id < stack_count, within both.
        unsafe {
            let stack = &*state.stacks.add(id);
            // Sums kept by additions and subtractions: a stack whose
            // samples are all freed may be a rounding error from 0.
            totals.add(id).write(Totals {
                inuse_objects: stack.inuse_objects.max(0.0),
                inuse_space: stack.inuse_space.max(0.0),
                alloc_objects: stack.alloc_objects,
                alloc_space: stack.alloc_space,
            });
        }
    }
}

/// Copies the live heap per stack into the peak snapshot.
fn take_peak(state: &mut State) -> bool {
    if state.peak_capacity < state.stack_count {
        let capacity = (state.stack_count * 2).max(1024);
        let peak = map(capacity * core::mem::size_of::<Totals>()) as *mut Totals;
        if peak.is_null() {
            return false;
        }
        unmap(
            state.peak as *mut u8,
            state.peak_capacity * core::mem::size_of::<Totals>(),
        );
        state.peak = peak;
        state.peak_capacity = capacity;
    }
    sum_live(state, state.peak);
    state.peak_stacks = state.stack_count;
    true
}

/// What a dump writes, copied out of the record: the stacks and their
/// totals, in one private mapping.
pub(crate) struct Snapshot {
    memory: *mut u8,
    bytes: usize,
    count: usize,
}

impl Snapshot {
    pub(crate) fn stacks(&self) -> &[Stack] {
        if self.count == 0 {
            return &[];
        }
        // SAFETY: the mapping starts with `count` stacks.
        unsafe { core::slice::from_raw_parts(self.memory as *const Stack, self.count) }
    }

    pub(crate) fn totals(&self) -> &[Totals] {
        if self.count == 0 {
            return &[];
        }
        // SAFETY: followed by `count` totals (Stack's size is a multiple of
        // Totals' alignment).
        unsafe {
            core::slice::from_raw_parts(
                self.memory.add(self.count * core::mem::size_of::<Stack>()) as *const Totals,
                self.count,
            )
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        unmap(self.memory, self.bytes);
    }
}

/// Copies the live heap (or the peak one) out, under the lock.
pub(crate) fn snapshot(which: Which) -> Result<Snapshot, i32> {
    locked(|state| {
        let count = match which {
            Which::Live => state.stack_count,
            Which::Peak => state.peak_stacks,
        };
        let bytes =
            (count * (core::mem::size_of::<Stack>() + core::mem::size_of::<Totals>())).max(1);
        let memory = map(bytes);
        if memory.is_null() {
            return Err(libc::ENOMEM);
        }
        let snapshot = Snapshot {
            memory,
            bytes,
            count,
        };
        if count > 0 {
            // SAFETY: the store holds stack_count >= count stacks; the
            // mapping has room for them and their totals.
            unsafe {
                core::ptr::copy_nonoverlapping(state.stacks, memory as *mut Stack, count);
                let totals = memory.add(count * core::mem::size_of::<Stack>()) as *mut Totals;
                match which {
                    Which::Live => sum_live(state, totals),
                    Which::Peak => core::ptr::copy_nonoverlapping(state.peak, totals, count),
                }
            }
        }
        Ok(snapshot)
    })
}
