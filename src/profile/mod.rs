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
//! The cost, as tcmalloc's and jemalloc's samplers keep it (docs/profiling.md,
//! Cost): while profiling is off, `gb_alloc` tests one flag byte ([`sampling`],
//! two instructions), the override's `malloc` nothing more than without the
//! feature (the flag is folded into its large-request comparison,
//! [`above_malloc_limit`]), and the frees nothing more either while no sample
//! is live (`gb_free`'s flag is a bit of the heaps' `LIVE_HEAPS`; the
//! override's `free`, [`tracking`], two instructions). While sampling, an
//! allocation subtracts its size from a per-thread countdown and branches
//! (three instructions on x86-64 Linux, [`countdown`]); a free of an
//! unsampled block tests one slot of a filter indexed by the address's hash
//! ([`dropping`]); only a countdown crossing zero or a filter hit goes out of
//! line. Out-of-line samplers are tail-called or call [`sample`] directly,
//! so the captured stack has a known number of the profiler's own frames
//! on top, which are dropped with the library's (see [`stack`]).

pub(crate) mod record;
pub(crate) mod stack;

mod build_id;
mod gzip;
mod pprof;
mod symbolize;

mod at_exit;

use core::cell::Cell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::backend::{Backend, Selected};

/// Default sample interval: 512 KiB, jemalloc's `lg_prof_sample:19`.
pub(crate) const DEFAULT_INTERVAL: u64 = 512 * 1024;

/// Set while sampling is on: new allocations may be sampled. A byte the
/// entry points test with `cmp` and a branch (see [`flag_set`]).
static SAMPLING: AtomicBool = AtomicBool::new(false);

/// Set while any sample is live (from the first sample until the last
/// sampled block is freed, or the next start; changed only under the
/// record's lock): frees may then have to drop one. While it is clear, a
/// free looks nothing up.
static SAMPLES_LIVE: AtomicBool = AtomicBool::new(false);

/// The override's `malloc` limit (see [`above_malloc_limit`]): the largest
/// size it serves without a second look, `LARGE_BLOCK - 1` while not
/// sampling, 0 while sampling.
static MALLOC_LIMIT: AtomicUsize = AtomicUsize::new(crate::backend::LARGE_BLOCK - 1);

/// Whether `malloc(size)` must take the override's second look: `size` is
/// a large request (the backend watches those) or sampling is on. It
/// replaces the large-request comparison, with the same two instructions
/// on x86-64 (a compare with memory instead of an immediate, and a branch),
/// so that the profiling override's `malloc` costs nothing more than the
/// plain one while profiling is off.
#[cfg_attr(not(feature = "override"), allow(dead_code))]
#[inline(always)]
pub(crate) fn above_malloc_limit(size: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads one word of a static (as a relaxed load would) and
    // writes only the flags.
    unsafe {
        core::arch::asm!(
            "cmp {size}, qword ptr [rip + {limit}]",
            "ja {above}",
            size = in(reg) size,
            limit = sym MALLOC_LIMIT,
            above = label { return true },
            options(nostack, readonly),
        );
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        size > MALLOC_LIMIT.load(Ordering::Relaxed)
    }
}

/// The interval of the current (or last) run, in bytes.
static INTERVAL: AtomicU64 = AtomicU64::new(DEFAULT_INTERVAL);

/// Set once the backend's own sampler serves this process
/// ([`backend_sampler`]; never cleared): the entry points' sampler and the
/// frees' filter are then never used, and their flags stay clear.
static BACKEND_SAMPLER: AtomicBool = AtomicBool::new(false);

/// Set while the backend's sampler is on.
static BACKEND_SAMPLING: AtomicBool = AtomicBool::new(false);

/// Sets [`SAMPLES_LIVE`]; called by the record under its lock. Nothing
/// while the backend samples: its frees report their samples themselves.
pub(crate) fn set_samples_live(live: bool) {
    if BACKEND_SAMPLER.load(Ordering::Relaxed) {
        return;
    }
    if SAMPLES_LIVE.swap(live, Ordering::AcqRel) == live {
        return;
    }
    // And in gb_free's function and the other frees' check
    // (`heap::any_live`): no instruction of its own.
    crate::heap::set_samples_live(live);
}

/// Whether the flag byte is set: on x86-64 `cmp byte [flag], 0` and `jne`,
/// two instructions (an atomic load is three there: the compiler loads,
/// tests, then branches).
macro_rules! flag_set {
    ($flag:path) => {{
        #[cfg(target_arch = "x86_64")]
        // SAFETY: reads one byte of a static (as a relaxed load of the
        // AtomicBool would) and writes only the flags.
        unsafe {
            core::arch::asm!(
                "cmp byte ptr [rip + {flag}], 0",
                "jne {set}",
                flag = sym $flag,
                set = label { return true },
                options(nostack, readonly),
            );
            false
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $flag.load(Ordering::Relaxed)
        }
    }};
}

/// Per-thread sampler state. `const` initialised and without `Drop`, so it
/// lives in the thread's static TLS block and touching it never allocates.
/// Only the slow path (a countdown crossing zero) touches it; the countdown
/// itself is [`countdown`]'s.
struct ThreadSampler {
    /// The interval the countdown was drawn for (0: none yet).
    drawn_for: Cell<u64>,
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
            drawn_for: Cell::new(0),
            random: Cell::new(0),
            busy: Cell::new(false),
        }
    };
}

/// The thread's countdown: bytes left before the next sample, as the
/// allocation fast path sees it (tcmalloc's `bytes_until_sample`), an
/// unsigned word below 2^63. It starts at 0, so a thread's first allocation
/// while sampling takes the slow path, which draws its first countdown.
///
/// On x86-64 Linux it is an initial-exec TLS word of its own (defined
/// below in assembly), so that an allocation counts down with three
/// instructions and no call, in the shared library too (Rust's
/// `thread_local!` reaches TLS there through a call to `__tls_get_addr`).
/// The library already needs static TLS (jemalloc's and mimalloc's thread
/// caches); this adds 8 bytes to it.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod countdown {
    core::arch::global_asm!(
        ".pushsection .tbss.graphbit_alloc_profile_countdown,\"awT\",@nobits",
        ".p2align 3",
        // Global (the code generation units that use it may be others),
        // hidden (a shared library does not export it).
        ".globl graphbit_alloc_profile_countdown",
        ".hidden graphbit_alloc_profile_countdown",
        ".type graphbit_alloc_profile_countdown, @object",
        ".size graphbit_alloc_profile_countdown, 8",
        "graphbit_alloc_profile_countdown:",
        ".zero 8",
        ".popsection",
    );

    /// Subtracts `size` from the countdown: true when `size` was larger
    /// (this allocation is to be sampled, or the countdown needs drawing;
    /// the word is garbage then, until [`set`]).
    #[inline(always)]
    pub(super) fn cross(size: usize) -> bool {
        // SAFETY: a read-modify-write of this thread's own TLS word; only
        // the flags and a scratch register change.
        unsafe {
            core::arch::asm!(
                "mov {offset}, qword ptr [rip + graphbit_alloc_profile_countdown@GOTTPOFF]",
                "sub qword ptr fs:[{offset}], {size}",
                "jb {crossed}",
                offset = out(reg) _,
                size = in(reg) size,
                crossed = label { return true },
                options(nostack),
            );
        }
        false
    }

    /// Sets the countdown.
    pub(super) fn set(value: u64) {
        // SAFETY: a store to this thread's own TLS word.
        unsafe {
            core::arch::asm!(
                "mov {offset}, qword ptr [rip + graphbit_alloc_profile_countdown@GOTTPOFF]",
                "mov qword ptr fs:[{offset}], {value}",
                offset = out(reg) _,
                value = in(reg) value,
                options(nostack),
            );
        }
    }
}

/// The countdown elsewhere: a `thread_local!` word.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod countdown {
    use core::cell::Cell;

    thread_local! {
        static COUNTDOWN: Cell<u64> = const { Cell::new(0) };
    }

    /// Subtracts `size` from the countdown: true when `size` was larger.
    #[inline(always)]
    pub(super) fn cross(size: usize) -> bool {
        COUNTDOWN
            .try_with(|countdown| {
                let (left, crossed) = countdown.get().overflowing_sub(size as u64);
                countdown.set(left);
                crossed
            })
            .unwrap_or(false)
    }

    /// Sets the countdown.
    pub(super) fn set(value: u64) {
        let _ = COUNTDOWN.try_with(|countdown| countdown.set(value));
    }
}

/// Called with every new block (NULL allowed) of `size` bytes asked for,
/// by the entry points that are not split into [`sampling`] and
/// [`profiled_alloc`].
#[inline(always)]
pub(crate) fn after_alloc(block: *mut c_void, size: usize) {
    if sampling() && countdown::cross(size) && crossed(size) && !block.is_null() {
        // Called from the entry point itself, which returns `block` after
        // it: never a tail call, so the stack depth is known.
        sample(block, size);
    }
}

/// Whether allocations are being sampled: the entry points whose off path
/// must stay shortest check this and, when it holds, hand the whole call to
/// [`profiled_alloc`]. Two instructions on x86-64.
#[inline(always)]
pub(crate) fn sampling() -> bool {
    flag_set!(SAMPLING)
}

/// Whether a free may have to drop a sample: a live sample exists. Two
/// instructions on x86-64; see [`dropping`].
#[inline(always)]
pub(crate) fn tracking() -> bool {
    flag_set!(SAMPLES_LIVE)
}

/// Whether freeing `block` may have to drop its sample: samples are live
/// and the block's slot of the record's filter counts one (no lock, no
/// call). False for every block never sampled but a few in the filter's
/// collisions.
#[inline(always)]
pub(crate) fn dropping(block: *mut c_void) -> bool {
    tracking() && record::may_hold(block as usize)
}

/// An allocation while sampling: the countdown (three instructions on
/// x86-64 Linux), then `allocate` as a tail call, unless the countdown
/// crosses zero ([`sampled_alloc`]). Inlined into the entry point, after its
/// [`sampling`] check.
#[inline(always)]
pub(crate) fn profiled_alloc(size: usize, allocate: impl FnOnce() -> *mut c_void) -> *mut c_void {
    if countdown::cross(size) {
        return sampled_alloc(size, allocate);
    }
    allocate()
}

/// [`profiled_alloc`] out of line, for an entry point whose path without
/// sampling must save no registers (its allocation's arguments live across
/// the check): the entry point tail-calls this, so its frame is the entry
/// point's on the sampler's stacks.
#[inline(never)]
pub(crate) fn profiled_alloc_out_of_line(
    size: usize,
    allocate: impl FnOnce() -> *mut c_void,
) -> *mut c_void {
    profiled_alloc(size, allocate)
}

/// An allocation whose bytes crossed the countdown: `allocate`, then the
/// sampler. Out of line and tail-called by the entry point, so its frame
/// stands in for the entry point's, which is the library's and is dropped
/// from the stack (see [`stack`]).
#[inline(never)]
#[cold]
fn sampled_alloc(size: usize, allocate: impl FnOnce() -> *mut c_void) -> *mut c_void {
    let block = allocate();
    if crossed(size) && !block.is_null() {
        sample(block, size);
    }
    block
}

/// A free of a block that may hold a sample ([`dropping`]): drops it, then
/// `free`. (The override's `free`; `gb_free` folds its check into the
/// heaps' one, see [`set_samples_live`].)
#[cfg(feature = "override")]
#[inline(never)]
#[cold]
pub(crate) fn profiled_free(block: *mut c_void, free: impl FnOnce()) {
    record::forget(block as usize);
    free()
}

/// A free while samples are live (`gb_free`'s function then, which needs
/// no flag): drops the sample of `block` (NULL allowed) if its slot of the
/// filter counts one.
#[inline(always)]
pub(crate) fn drop_sample_if_held(block: *mut c_void) {
    if record::may_hold(block as usize) {
        record::forget(block as usize);
    }
}

/// Called before a block (NULL allowed) goes back to the backend.
#[inline(always)]
pub(crate) fn before_free(block: *mut c_void) {
    if dropping(block) {
        record::forget(block as usize);
    }
}

/// A resize of `ptr` (NULL allowed) to `size` bytes by `resize`,
/// the backend's `realloc`, with the sampler's hooks around it; `usable`
/// gives a live block's usable size. Inlined into the entry point, which
/// returns its result; while no sample is live and sampling is off, it
/// tests the two flags and tail-calls `resize`.
///
/// What it counts against the countdown keeps every live block sampled
/// with the probability its weight assumes (so `inuse_*` stays unbiased):
/// - a block resized in place within its old usable size gains no bytes:
///   nothing is counted, and its sample, if it has one, stays (its stack
///   and weight, the new size);
/// - any other result (a new block, or one grown in place beyond its old
///   usable size) is a new allocation of `size` bytes: its old sample is
///   dropped and `size` counted, as by `malloc`.
///
/// The old sample is taken out before the backend call (after it, another
/// thread could receive the address) and put back when the block stays, or
/// when the call fails (the block is still the caller's).
#[inline(always)]
pub(crate) fn profiled_realloc(
    ptr: *mut c_void,
    size: usize,
    usable: impl FnOnce() -> usize,
    resize: impl FnOnce() -> *mut c_void,
) -> *mut c_void {
    if BACKEND_SAMPLING.load(Ordering::Relaxed) {
        // The backend counts every resize's whole new size; one that keeps
        // the block's usable size gains nothing, and is not asked.
        if !ptr.is_null() && size != 0 {
            let kept = Selected::usable_size_of(size);
            if kept != 0 && kept == usable() {
                return ptr;
            }
        }
        return resize();
    }
    if !tracking() && !sampling() {
        return resize();
    }
    let taken = if dropping(ptr) {
        record::take(ptr as usize)
    } else {
        None
    };
    // The old usable size decides whether the block gains bytes; asked only
    // when that matters (sampling, or a sample to keep).
    let capacity = if !ptr.is_null() && (taken.is_some() || sampling()) {
        usable()
    } else {
        0
    };
    let block = resize();
    if block.is_null() {
        // Failed: `ptr` is unchanged.
        if let Some(taken) = taken {
            record::restore(ptr as usize, taken.size, taken);
        }
        return block;
    }
    if block == ptr && size <= capacity {
        if let Some(taken) = taken {
            record::restore(ptr as usize, size, taken);
        }
        return block;
    }
    after_alloc(block, size);
    block
}

/// A block the backend's sampler sampled ([`backend_sampler`]): `block`
/// of `size` bytes asked for and `usable` bytes, allocated from `frames`
/// (the library's own dropped). Not recorded when the profiler itself
/// allocated it (a dump's buffers).
#[allow(dead_code)] // called by a backend with a sampler of its own (jemalloc)
pub(crate) fn backend_sampled(block: usize, size: usize, usable: usize, frames: &[usize]) {
    if SAMPLER.try_with(|sampler| sampler.busy.get()) != Ok(false) {
        return;
    }
    let interval = INTERVAL.load(Ordering::Relaxed);
    // The backend counts usable bytes towards its samples (jemalloc's
    // thread-event counter): a block is sampled with probability
    // 1 - exp(-usable / interval).
    record::insert_usable(block, size, usable, frames, weight(usable, interval));
}

/// A sampled block of `usable` bytes freed, reported by the backend's
/// sampler.
#[allow(dead_code)] // as backend_sampled
pub(crate) fn backend_freed(block: usize, usable: usize) {
    record::forget_usable(block, usable);
}

/// Whether the backend's sampler can serve this process: the backend has
/// one, and this library is a shared object whose own frames the stacks
/// can drop (linked into a program, its frames and jemalloc's are the
/// program's, and only the entry points' sampler knows how deep it is).
fn backend_sampler() -> bool {
    Selected::OWN_SAMPLER && stack::own_frames_known()
}

/// Whether `start` can succeed in this process: false only in the shared
/// library whose `gb_alloc` is jemalloc's `malloc` itself (build.rs) when
/// jemalloc's profiler is turned off (`_RJEM_MALLOC_CONF=prof:false`), since
/// the entry points' sampler cannot take over there (`gb_verify_report`'s
/// `build.profiling` says so).
pub(crate) fn startable() -> bool {
    if !cfg!(gb_shared_alloc_aliased) {
        return true;
    }
    stack::locate_self();
    !backend_sampler() || Selected::sampler_available()
}

/// Which sampler the samples come from, for the profile's comments: the
/// backend's name (its own sampler) or "graphbit-alloc" (the entry points').
pub(crate) fn sampler() -> &'static str {
    if BACKEND_SAMPLER.load(Ordering::Relaxed) {
        Selected::NAME.to_str().unwrap_or("the backend")
    } else {
        "graphbit-alloc"
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

/// The countdown went below zero with an allocation of `size` bytes: true
/// when the block is to be sampled. Draws the next countdown either way.
/// Out of line and rare (once per interval on average).
///
/// A countdown drawn for another interval (a new thread's, which starts at
/// 0 and was drawn for none, or one left from a run with another interval)
/// is replaced by a fresh draw, from which this allocation counts down as
/// any other. One left from an earlier run with the same interval stays:
/// the exponential distribution is memoryless, so what is left of it is a
/// fresh draw's equal.
#[inline(never)]
#[cold]
fn crossed(size: usize) -> bool {
    let sampled = SAMPLER.try_with(|sampler| {
        let interval = INTERVAL.load(Ordering::Relaxed);
        if sampler.drawn_for.get() != interval {
            sampler.drawn_for.set(interval);
            if let Some(left) = draw(sampler).checked_sub(size as u64) {
                countdown::set(left);
                return false;
            }
        }
        countdown::set(draw(sampler));
        !sampler.busy.get()
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
/// interval (below 2^63).
fn draw(sampler: &ThreadSampler) -> u64 {
    let mut state = sampler.random.get();
    if state == 0 {
        // Seeded from the thread's TLS address and the clock: distinct
        // threads draw distinct sequences.
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
    countdown.min(i64::MAX as f64) as u64
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
    stack::choose_unwinder();
    if SAMPLING.load(Ordering::Acquire) || BACKEND_SAMPLING.load(Ordering::Acquire) {
        return libc::EBUSY;
    }
    if backend_sampler() {
        // Started, or another thread's start won the race; any other
        // error (jemalloc's profiler is off): the entry points' sampler,
        // except in the shared library whose gb_alloc is jemalloc's malloc
        // itself (build.rs), where it could not see gb_alloc.
        let code = start_backend(interval);
        if code == 0 || code == libc::EBUSY {
            return code;
        }
        if cfg!(gb_shared_alloc_aliased) {
            return libc::ENOTSUP;
        }
    }
    record::reset();
    INTERVAL.store(interval, Ordering::Relaxed);
    if SAMPLING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return libc::EBUSY;
    }
    MALLOC_LIMIT.store(0, Ordering::Release);
    crate::ffi::route_alloc(true);
    0
}

/// Starts the backend's sampler at the power of two nearest `interval`;
/// 0, or its error (the entry points' sampler is used then).
fn start_backend(interval: u64) -> i32 {
    // Nearest in log scale: 2^lg <= interval < 2^(lg + 1), rounded up
    // from 1.5 * 2^lg.
    let mut lg = 63 - interval.leading_zeros();
    if lg < 62 && interval >= 3 << lg >> 1 {
        lg += 1;
    }
    if BACKEND_SAMPLING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return libc::EBUSY;
    }
    BACKEND_SAMPLER.store(true, Ordering::Relaxed);
    record::reset();
    INTERVAL.store(1 << lg, Ordering::Relaxed);
    let code = Selected::sampler_start(lg);
    if code != 0 {
        BACKEND_SAMPLING.store(false, Ordering::Release);
        BACKEND_SAMPLER.store(false, Ordering::Relaxed);
    }
    code
}

/// Stops sampling. The samples taken stay (for a dump) until their blocks
/// are freed or the next start. `EINVAL` when not sampling.
pub(crate) fn stop() -> i32 {
    if BACKEND_SAMPLING.swap(false, Ordering::AcqRel) {
        Selected::sampler_stop();
        return 0;
    }
    if SAMPLING.swap(false, Ordering::AcqRel) {
        MALLOC_LIMIT.store(crate::backend::LARGE_BLOCK - 1, Ordering::Release);
        crate::ffi::route_alloc(false);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests that start and stop the (process-wide) profiler run one at a
    /// time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn countdown_crosses_only_when_the_size_is_larger_than_what_is_left() {
        // This thread's own word: no other test sees it.
        countdown::set(100);
        assert!(!countdown::cross(40));
        assert!(!countdown::cross(60)); // exactly used up: 0 left
        assert!(countdown::cross(1));
        countdown::set(10);
        assert!(countdown::cross(usize::MAX));
        countdown::set(0);
        assert!(!countdown::cross(0));
    }

    #[test]
    fn flags_and_the_malloc_limit_follow_start_and_stop() {
        let _serial = SERIAL.lock().unwrap();
        assert!(!sampling());
        assert!(above_malloc_limit(crate::backend::LARGE_BLOCK));
        assert!(!above_malloc_limit(crate::backend::LARGE_BLOCK - 1));
        assert_eq!(start(1 << 16), 0);
        assert!(sampling());
        assert!(above_malloc_limit(1));
        assert!(!above_malloc_limit(0));
        assert_eq!(start(1 << 16), libc::EBUSY);
        assert_eq!(stop(), 0);
        assert!(!sampling());
        assert!(!above_malloc_limit(crate::backend::LARGE_BLOCK - 1));
        assert_eq!(stop(), libc::EINVAL);
    }

    /// The sampler through the C API's entry points: as many samples as
    /// bytes / interval (within 6 standard deviations), each block's sample
    /// dropped when it is freed, and frees looking nothing up once the last
    /// sample is gone.
    #[test]
    fn samples_about_one_per_interval_and_drops_them_on_free() {
        let _serial = SERIAL.lock().unwrap();
        const INTERVAL: u64 = 1 << 14;
        const BLOCKS: usize = 20_000;
        const SIZE: usize = 512;
        assert_eq!(start(INTERVAL), 0);
        let blocks: Vec<usize> = (0..BLOCKS)
            // SAFETY: any size.
            .map(|_| unsafe { crate::ffi::gb_alloc(SIZE) } as usize)
            .collect();
        assert_eq!(stop(), 0);
        assert!(blocks.iter().all(|&block| block != 0));
        let live = blocks.iter().filter(|&&block| record::holds(block)).count();
        // Each block is sampled with probability p = 1 - exp(-SIZE /
        // INTERVAL): a binomial count.
        let p = 1.0 - (-(SIZE as f64) / INTERVAL as f64).exp();
        let mean = BLOCKS as f64 * p;
        let spread = 6.0 * (mean * (1.0 - p)).sqrt();
        assert!(
            (live as f64 - mean).abs() <= spread,
            "{live} samples, expected {mean:.0} +- {spread:.0}"
        );
        assert!(tracking());
        let sampled = blocks
            .iter()
            .filter(|&&block| record::may_hold(block))
            .count();
        assert!(sampled >= live, "the filter lost a sample");
        for &block in &blocks {
            // SAFETY: a live block of gb_alloc, freed once.
            unsafe { crate::ffi::gb_free(block as *mut c_void) };
        }
        assert!(blocks.iter().all(|&block| !record::holds(block)));
        // Other tests' blocks may have been sampled meanwhile: the flag
        // must say whether any sample is live, whichever.
        assert_eq!(tracking(), record::live_samples() != 0);
    }

    /// The backend sampler's reports (jemalloc's hooks): a sample recorded
    /// with its usable size goes with a free of that usable size only
    /// (jemalloc reports a block resized in place and sampled again as the
    /// new sample first, then the old one's free); the profiler's own
    /// allocations (a thread inside it) are not recorded.
    #[test]
    fn backend_reports_keep_a_resampled_block_and_skip_the_profilers_own() {
        let _serial = SERIAL.lock().unwrap();
        assert_eq!(record::prepare(), Ok(()));
        // Addresses no allocator hands out here: only the record sees them.
        let (resized, own) = (0x10_0000_0010usize, 0x10_0000_0020usize);
        backend_sampled(resized, 100, 112, &[0x1000, 0x2000]);
        assert!(record::holds(resized));
        backend_freed(resized, 128);
        assert!(
            record::holds(resized),
            "the old size's free dropped the new sample"
        );
        backend_freed(resized, 112);
        assert!(!record::holds(resized));
        {
            let _inside = Busy::enter();
            backend_sampled(own, 64, 64, &[0x1000]);
        }
        assert!(
            !record::holds(own),
            "the profiler's own allocation was recorded"
        );
        assert_eq!(tracking(), record::live_samples() != 0);
    }

    /// A new thread's first countdown is drawn before its first allocation
    /// counts: an allocation far above the interval is sampled at once.
    #[test]
    fn a_new_threads_first_large_allocation_is_sampled() {
        let _serial = SERIAL.lock().unwrap();
        assert_eq!(start(4096), 0);
        let block = std::thread::spawn(|| {
            // SAFETY: any size.
            (unsafe { crate::ffi::gb_alloc(1 << 20) }) as usize
        })
        .join()
        .unwrap();
        assert_eq!(stop(), 0);
        assert_ne!(block, 0);
        // p = 1 - exp(-256): certain.
        assert!(record::holds(block));
        assert!(record::may_hold(block));
        assert!(tracking());
        assert!(crate::heap::any_live(), "gb_free would not look");
        // SAFETY: a live block of gb_alloc.
        unsafe { crate::ffi::gb_free(block as *mut c_void) };
        assert!(!record::holds(block));
        assert_eq!(tracking(), record::live_samples() != 0);
    }

    /// gb_free's one check covers heaps and samples (the top bit of
    /// LIVE_HEAPS): with both live, a heap's blocks go back to their heap
    /// and sampled blocks drop their samples; heap_of ignores the bit.
    #[test]
    fn gb_free_sorts_heap_blocks_and_sampled_blocks_while_both_are_live() {
        use crate::ffi::*;
        let _serial = SERIAL.lock().unwrap();
        assert_eq!(start(256), 0);
        let plain: Vec<usize> = (0..2000)
            // SAFETY: any size.
            .map(|_| (unsafe { gb_alloc(1024) }) as usize)
            .collect();
        let heap = gb_heap_new(0);
        assert!(!heap.is_null());
        let in_heap: Vec<usize> = (0..100)
            // SAFETY: a live heap.
            .map(|_| (unsafe { gb_heap_alloc(heap, 100) }) as usize)
            .collect();
        assert_eq!(stop(), 0);
        let sampled: Vec<usize> = plain
            .iter()
            .copied()
            .filter(|&block| record::holds(block))
            .collect();
        // p = 1 - exp(-4) per block: all but a few dozen.
        assert!(sampled.len() > 1900, "{} sampled", sampled.len());
        assert!(tracking() && crate::heap::any_live());
        assert!(crate::heap::heap_of(plain[0] as *const c_void).is_none());
        for &block in plain.iter().chain(&in_heap) {
            // SAFETY: live blocks of gb_alloc and of the heap, freed once.
            unsafe { gb_free(block as *mut c_void) };
        }
        assert!(sampled.iter().all(|&block| !record::holds(block)));
        let mut stats: gb_heap_stats_t = unsafe { core::mem::zeroed() };
        stats.size = core::mem::size_of::<gb_heap_stats_t>();
        // SAFETY: a live heap and a stats struct of the size given.
        assert_eq!(unsafe { gb_heap_stats(heap, &mut stats) }, 0);
        assert_eq!((stats.blocks, stats.allocated_bytes), (0, 0));
        // SAFETY: a live heap, no block of it left.
        unsafe { gb_heap_destroy(heap) };
        assert_eq!(tracking(), record::live_samples() != 0);
        // (Other tests may have heaps of their own: only the bit counts.)
        let bit = crate::heap::LIVE_HEAPS.load(Ordering::Relaxed) & crate::heap::SAMPLES_LIVE;
        assert_eq!(bit != 0, tracking());
    }
    /// gb_realloc counts what a block gains: nothing when it stays within
    /// its usable size (its sample stays, with the new size), the new size
    /// when it grows past it or moves (a new allocation, whose old sample
    /// goes); a failed resize keeps the old sample.
    #[test]
    fn realloc_counts_only_what_the_block_gains() {
        use crate::ffi::*;
        let _serial = SERIAL.lock().unwrap();
        const LARGE: u64 = 1 << 40;
        assert_eq!(start(1 << 16), 0);
        // This thread's first countdown is drawn for this interval here.
        // SAFETY: any size; a live block, freed once.
        unsafe { gb_free(gb_alloc(1 << 20)) };
        // A countdown of 0: the next allocation is sampled.
        countdown::set(0);
        // SAFETY: any size.
        let block = unsafe { gb_alloc(100) };
        assert!(!block.is_null() && record::holds(block as usize));
        // SAFETY: a live block.
        let usable = unsafe { gb_usable_size(block) };
        assert!(usable >= 100);

        // Within the usable size: in place, nothing counted, sample kept.
        countdown::set(LARGE);
        // SAFETY: a live block; the result replaces it.
        let same = unsafe { gb_realloc(block, usable) };
        assert_eq!(same, block, "a resize within the usable size moved");
        assert!(
            record::holds(same as usize),
            "the in-place resize lost the sample"
        );
        assert!(
            !countdown::cross(LARGE as usize) && countdown::cross(1),
            "counted"
        );

        // A failed resize: NULL, the block and its sample stay.
        countdown::set(LARGE);
        // SAFETY: a live block; above PTRDIFF_MAX fails.
        let failed = unsafe { gb_realloc(same, usize::MAX / 2 + 1) };
        assert!(failed.is_null());
        assert!(
            record::holds(same as usize),
            "the failed resize lost the sample"
        );

        // Past the usable size: a new allocation of the new size, the old
        // sample gone (the countdown is far from crossing: no new sample).
        let grown_size = usable * 64;
        countdown::set(LARGE);
        // SAFETY: a live block; the result replaces it.
        let grown = unsafe { gb_realloc(same, grown_size) };
        assert!(!grown.is_null());
        assert!(!record::holds(same as usize) && !record::holds(grown as usize));
        let left = LARGE as usize - grown_size;
        assert!(
            !countdown::cross(left) && countdown::cross(1),
            "the grown block's size was not counted"
        );
        assert_eq!(stop(), 0);
        // SAFETY: a live block.
        unsafe { gb_free(grown) };
        assert_eq!(tracking(), record::live_samples() != 0);
    }

    /// gb_free's function follows LIVE_HEAPS: the backend's free with
    /// nothing live, the filter alone while only samples are live, the heap
    /// lookup (and the filter) while a heap exists.
    #[test]
    fn gb_free_tests_only_the_filter_while_only_samples_are_live() {
        use crate::heap::{free_for, SAMPLES_LIVE};
        let (plain, sampled, any) = (free_for(0), free_for(SAMPLES_LIVE), free_for(1));
        assert!(plain != sampled && sampled != any && plain != any);
        assert_eq!(free_for(SAMPLES_LIVE | 1), any);
        assert_eq!(free_for(2), any);
    }

    /// Buffers resized as strings and vectors grow (in place within their
    /// usable size, in place past it, moved) keep the estimate of their
    /// live bytes unbiased: within 6 standard deviations of the truth.
    #[test]
    fn resized_buffers_keep_the_live_estimate_unbiased() {
        use crate::ffi::*;
        let _serial = SERIAL.lock().unwrap();
        const INTERVAL: u64 = 4096;
        const BUFFERS: usize = 4000;
        const MAX: usize = 16 * 1024;
        assert_eq!(start(INTERVAL), 0);
        let mut sizes = vec![64usize; BUFFERS];
        let mut blocks: Vec<*mut c_void> = (0..BUFFERS)
            // SAFETY: any size.
            .map(|_| unsafe { gb_alloc(64) })
            .collect();
        let mut random = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20 * BUFFERS {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            let i = (random % BUFFERS as u64) as usize;
            let old = sizes[i];
            let mut size = if random >> 40 & 1 == 1 {
                old * 2
            } else {
                old + 1 + (random >> 48) as usize % 64
            };
            if size > MAX {
                size = old / 4;
            }
            // SAFETY: a live block; the result replaces it.
            let block = unsafe { gb_realloc(blocks[i], size) };
            assert!(!block.is_null());
            blocks[i] = block;
            sizes[i] = size;
        }
        assert_eq!(stop(), 0);
        let truth: usize = sizes.iter().sum();
        let estimate: f64 = blocks.iter().map(|&b| record::estimate(b as usize)).sum();
        // Each block of s bytes adds s / p with probability p = 1 -
        // exp(-s / INTERVAL): variance s^2 (1 - p) / p.
        let variance: f64 = sizes
            .iter()
            .map(|&s| {
                let p = 1.0 - (-(s as f64) / INTERVAL as f64).exp();
                (s as f64).powi(2) * (1.0 - p) / p
            })
            .sum();
        let spread = 6.0 * variance.sqrt();
        assert!(
            (estimate - truth as f64).abs() <= spread,
            "estimated {estimate:.0} live bytes, true {truth} +- {spread:.0}"
        );
        for &block in &blocks {
            // SAFETY: a live block, freed once.
            unsafe { gb_free(block) };
        }
        assert_eq!(tracking(), record::live_samples() != 0);
    }
}
