//! Sampled heap profiles (Cargo feature `profiling`): one sampler for every
//! backend, in the wrapper.
//!
//! Sampling is by bytes, geometric, as jemalloc's `lg_prof_sample` and
//! tcmalloc's sampler: each thread counts down a random number of bytes drawn
//! from an exponential distribution whose mean is the sample interval, and
//! the allocation that crosses zero is sampled (so an allocation of `s`
//! bytes is sampled with probability `1 - exp(-s / interval)`, and a dump
//! weighs it by the inverse). A sampled allocation records its size and
//! call stack ([`stack`]) in a table of live samples ([`record`]) kept in
//! memory mapped here, never allocated through the allocator being
//! profiled; freeing the block drops the sample.
//!
//! The hooks are [`after_alloc`] and [`before_free`], called by the C API
//! (`src/ffi/alloc.rs`) and the override: while profiling is off they cost a
//! load and a branch each. Entry points call them directly (never as a tail
//! call), so the captured stack has a known number of the profiler's own
//! frames on top, which are dropped with the library's (see [`stack`]).

pub(crate) mod record;
pub(crate) mod stack;

mod build_id;
mod pprof;

mod at_exit;

use core::cell::Cell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Default sample interval: 512 KiB, jemalloc's `lg_prof_sample:19`.
pub(crate) const DEFAULT_INTERVAL: u64 = 512 * 1024;

/// Set while sampling is on: new allocations may be sampled.
static SAMPLING: AtomicBool = AtomicBool::new(false);

/// Set once any sample was recorded (until the next start): frees may have
/// to drop one.
static SAMPLES_MAY_BE_LIVE: AtomicBool = AtomicBool::new(false);

/// The interval of the current (or last) run, in bytes.
static INTERVAL: AtomicU64 = AtomicU64::new(DEFAULT_INTERVAL);

/// Bumped by every start, so that each thread draws a fresh countdown.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Per-thread sampler state. `const` initialised and without `Drop`, so it
/// lives in the thread's static TLS block and touching it never allocates.
struct ThreadSampler {
    /// Bytes left before the next sample.
    countdown: Cell<i64>,
    /// The `EPOCH` the countdown was drawn in.
    epoch: Cell<u64>,
    /// xorshift64* state (0: not seeded yet).
    random: Cell<u64>,
    /// Set while this thread is inside the profiler (recording a sample, or
    /// dumping): allocations it makes then are not sampled, so the profiler
    /// never recurses into itself.
    busy: Cell<bool>,
}

thread_local! {
    static SAMPLER: ThreadSampler = const {
        ThreadSampler {
            countdown: Cell::new(0),
            epoch: Cell::new(u64::MAX),
            random: Cell::new(0),
            busy: Cell::new(false),
        }
    };
}

/// Called with every new block (NULL allowed) of `size` bytes asked for.
#[inline(always)]
pub(crate) fn after_alloc(block: *mut c_void, size: usize) {
    if SAMPLING.load(Ordering::Relaxed) && should_sample(block, size) {
        // Called from the entry point itself, which returns `block` after
        // it: never a tail call, so the stack depth is known.
        sample(block, size);
    }
}

/// Whether allocations are being sampled: the entry points whose off path
/// must stay shortest check this and, when it holds, hand the whole call to
/// [`profiled_alloc`].
#[inline(always)]
pub(crate) fn sampling() -> bool {
    SAMPLING.load(Ordering::Relaxed)
}

/// Whether a free may have to drop a sample (see [`profiled_free`]).
#[inline(always)]
pub(crate) fn tracking() -> bool {
    SAMPLES_MAY_BE_LIVE.load(Ordering::Relaxed)
}

/// An allocation while sampling: `allocate`, then the sampler. Out of line,
/// so that the entry point's own path is a check and a tail call; its frame
/// is the library's and is dropped from the stack (see [`stack`]).
#[inline(never)]
#[cold]
pub(crate) fn profiled_alloc(size: usize, allocate: impl FnOnce() -> *mut c_void) -> *mut c_void {
    let block = allocate();
    if should_sample(block, size) {
        sample(block, size);
    }
    block
}

/// A free while samples may be live: drops the block's sample, then `free`.
#[inline(never)]
#[cold]
pub(crate) fn profiled_free(block: *mut c_void, free: impl FnOnce()) {
    before_free(block);
    free()
}

/// Called before a block (NULL allowed) goes back to the backend.
#[inline(always)]
pub(crate) fn before_free(block: *mut c_void) {
    if SAMPLES_MAY_BE_LIVE.load(Ordering::Relaxed) && record::may_hold(block as usize) {
        record::forget(block as usize);
    }
}

/// The hooks of the C++ operators (src/override/new.cpp): `new`'s block
/// (returned, so that `new` can tail-call this), and `delete`'s.
#[cfg(feature = "override")]
#[no_mangle]
pub extern "C" fn graphbit_alloc_profile_after_alloc(
    block: *mut c_void,
    size: usize,
) -> *mut c_void {
    after_alloc(block, size);
    block
}

/// See `graphbit_alloc_profile_after_alloc`.
#[cfg(feature = "override")]
#[no_mangle]
pub extern "C" fn graphbit_alloc_profile_before_free(block: *mut c_void) {
    before_free(block);
}

/// Counts `size` bytes against this thread's countdown: true when it
/// crosses zero and the block is to be sampled. Out of line: the entry
/// points stay small.
#[inline(never)]
fn should_sample(block: *mut c_void, size: usize) -> bool {
    if block.is_null() {
        return false;
    }
    let sampled = SAMPLER.try_with(|sampler| {
        if sampler.busy.get() {
            return false;
        }
        let epoch = EPOCH.load(Ordering::Relaxed);
        if sampler.epoch.get() != epoch {
            sampler.epoch.set(epoch);
            let countdown = draw(sampler);
            sampler.countdown.set(countdown);
        }
        let left = sampler
            .countdown
            .get()
            .saturating_sub(size.min(i64::MAX as usize) as i64);
        if left >= 0 {
            sampler.countdown.set(left);
            return false;
        }
        let countdown = draw(sampler);
        sampler.countdown.set(countdown);
        true
    });
    sampled == Ok(true)
}

/// Records a sampled block with its call stack. Its own function, never
/// inlined, so the stack above it is always the same depth.
#[inline(never)]
#[cold]
fn sample(block: *mut c_void, size: usize) {
    let _guard = Busy::enter();
    let mut frames = [0usize; stack::MAX_DEPTH];
    let depth = stack::capture(&mut frames);
    let interval = INTERVAL.load(Ordering::Relaxed);
    record::insert(
        block as usize,
        size,
        &frames[..depth],
        weight(size, interval),
    );
    SAMPLES_MAY_BE_LIVE.store(true, Ordering::Relaxed);
}

/// How many allocations of `size` bytes one sample stands for: the inverse
/// of the probability that such an allocation is sampled.
fn weight(size: usize, interval: u64) -> f64 {
    let size = size.max(1) as f64;
    let probability = 1.0 - (-size / interval as f64).exp();
    if probability > 0.0 {
        1.0 / probability
    } else {
        1.0
    }
}

/// A countdown drawn from the exponential distribution whose mean is the
/// interval.
fn draw(sampler: &ThreadSampler) -> i64 {
    let mut state = sampler.random.get();
    if state == 0 {
        // Seeded from the thread's TLS address and the clock: distinct
        // threads (and forked children, which reseed on the next start)
        // draw distinct sequences.
        state = (sampler as *const ThreadSampler as u64) ^ clock() ^ 0x9e37_79b9_7f4a_7c15;
        if state == 0 {
            state = 1;
        }
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    sampler.random.set(state);
    let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11; // 53 bits
    let uniform = (bits as f64 + 1.0) / (1u64 << 53) as f64; // (0, 1]
    let interval = INTERVAL.load(Ordering::Relaxed) as f64;
    let countdown = -uniform.ln() * interval;
    countdown.min(i64::MAX as f64) as i64
}

fn clock() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64).wrapping_mul(1_000_000_000) ^ now.tv_nsec as u64
}

/// Marks this thread as inside the profiler for its lifetime.
pub(crate) struct Busy {
    was: bool,
}

impl Busy {
    pub(crate) fn enter() -> Busy {
        let was = SAMPLER.try_with(|s| s.busy.replace(true)).unwrap_or(true);
        Busy { was }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let was = self.was;
        let _ = SAMPLER.try_with(|s| s.busy.set(was));
    }
}

/// Starts sampling every `interval` bytes on average (0: the default).
/// Clears what an earlier run recorded. `EBUSY` when already sampling.
pub(crate) fn start(interval: u64) -> i32 {
    let interval = if interval == 0 {
        DEFAULT_INTERVAL
    } else {
        interval
    };
    if interval > i64::MAX as u64 {
        return libc::EINVAL;
    }
    if let Err(code) = record::prepare() {
        return code;
    }
    stack::locate_self();
    if SAMPLING.load(Ordering::Acquire) {
        return libc::EBUSY;
    }
    record::reset();
    INTERVAL.store(interval, Ordering::Relaxed);
    EPOCH.fetch_add(1, Ordering::Relaxed);
    if SAMPLING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return libc::EBUSY;
    }
    0
}

/// Stops sampling. The samples taken stay (for a dump) until their blocks
/// are freed or the next start. `EINVAL` when not sampling.
pub(crate) fn stop() -> i32 {
    if SAMPLING.swap(false, Ordering::AcqRel) {
        0
    } else {
        libc::EINVAL
    }
}

/// Which profile a dump writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// The live heap now.
    Live,
    /// The live heap when the live bytes were highest.
    Peak,
}

/// Writes a profile to `path`: 0 or an errno value.
pub(crate) fn dump(path: &std::ffi::CStr, which: Which) -> i32 {
    let _guard = Busy::enter();
    let snapshot = match record::snapshot(which) {
        Ok(snapshot) => snapshot,
        Err(code) => return code,
    };
    pprof::write(path, &snapshot, INTERVAL.load(Ordering::Relaxed))
}
