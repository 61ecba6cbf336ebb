//! The pool of guarded slots (GWP-ASan's design): one
//! reservation of [`POOL_BYTES`], `PROT_NONE` except where a sampled block
//! lives, in two halves of [`REGION`]: small slots of [`SMALL_PAGES`] pages
//! (blocks up to 16 KiB with 4 KiB pages) and large slots of
//! [`LARGE_BYTES`] (blocks up to 1 MiB, as jemalloc's `san_guard_large`
//! guards large extents). Each half is a guard page, then for each slot its
//! data and a guard page:
//!
//! ```text
//! | guard | slot 0 data | guard | slot 1 data | guard | ... |
//! ```
//!
//! A block is placed at the end of its slot's data (aligned down to its
//! alignment, at least 16), so an overflow past a block whose size is a
//! multiple of 16 faults on its first byte; the bytes between the block's end
//! and the guard (at most alignment - 1) and those before it on its first
//! page are filled with a pattern that `free` checks. Only the pages the
//! block covers are readable and writable. A freed block's pages become
//! `PROT_NONE` (and, when it had more than one, are given back with
//! `MADV_DONTNEED`) and the slot goes to the back of the free queue: it is
//! reused as late as possible, and until then any access to it faults (use
//! after free). Every block reads as zero when handed out.
//!
//! Slot state lives in atomics so that the fault handler can read it at any
//! moment; the free queue is under a spin lock held for a few instructions
//! (and around `fork`, so that a child never inherits it held).

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::backend::MAX_SIZE;
use crate::diagnostics::Text;

/// log2 of the pool's size: the pool is aligned to its size, so that a
/// pointer is in it when its bits above these are the pool's.
pub(crate) const SHIFT: u32 = 26;
/// The pool's address space, reserved at the first sample (`PROT_NONE`,
/// `MAP_NORESERVE`: costs no memory until a slot is used).
pub(crate) const POOL_BYTES: usize = 1 << SHIFT;
/// Each half: small slots, then large ones.
const REGION: usize = POOL_BYTES / 2;
/// Data pages per small slot.
const SMALL_PAGES: usize = 4;
/// Data bytes per large slot (whole pages): larger blocks always go to the
/// backend.
const LARGE_BYTES: usize = 1 << 20;
/// At most this many slots of each kind (with 4 KiB pages a half holds 1638
/// small slots or 31 large ones).
const MAX_SMALL: usize = 1024;
const MAX_LARGE: usize = 32;
const MAX_SLOTS: usize = MAX_SMALL + MAX_LARGE;

/// Where the pool starts; until it exists, the top of the address space,
/// where no user-space pointer lies, so that [`contains`] is false for every
/// block of the backend (and NULL) without a second test.
static BASE: AtomicUsize = AtomicUsize::new(0usize.wrapping_sub(POOL_BYTES));

// The pool's address shifted right by SHIFT, for the fast paths' one
// comparison (`when_in_pool!`); until the pool exists, a value no shifted
// pointer has. Hidden: not exported, reached without the GOT.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .data,\"aw\",@progbits",
    ".p2align 3",
    ".globl gb_guarded_pool_high",
    ".hidden gb_guarded_pool_high",
    ".type gb_guarded_pool_high,@object",
    ".size gb_guarded_pool_high,8",
    "gb_guarded_pool_high:",
    ".quad -1",
    ".popsection",
);

/// Publishes the pool's address to `when_in_pool!`.
fn publish(base: usize) {
    BASE.store(base, Ordering::Release);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a store to the library's own variable (a word: atomic on x86-64).
    unsafe {
        core::arch::asm!(
            "mov qword ptr [rip + gb_guarded_pool_high], {high}",
            high = in(reg) base >> SHIFT,
            options(nostack, preserves_flags),
        );
    }
}

/// Whether `address` lies in the pool.
#[inline(always)]
pub(crate) fn contains(address: usize) -> bool {
    address.wrapping_sub(BASE.load(Ordering::Relaxed)) < POOL_BYTES
}

const UNINIT: u8 = 0;
const STARTING: u8 = 1;
const ON: u8 = 2;
const OFF: u8 = 3;
static STATE: AtomicU8 = AtomicU8::new(UNINIT);
static RATE: AtomicU64 = AtomicU64::new(super::DEFAULT_RATE);
static PAGE: AtomicUsize = AtomicUsize::new(4096);
/// How many small and large slots there are (0 until the pool exists).
static SMALL_COUNT: AtomicUsize = AtomicUsize::new(0);
static LARGE_COUNT: AtomicUsize = AtomicUsize::new(0);
static RANDOM: AtomicU64 = AtomicU64::new(0);
/// Bytes ever handed out from the pool, and bytes live in it now, and
/// blocks ever handed out: added to the backend's figures (`gb_stats`,
/// `mallinfo2`, `gb_verify`'s probe), which do not see the pool.
static ALLOCATED_TOTAL: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static BLOCKS_TOTAL: AtomicU64 = AtomicU64::new(0);

/// (bytes ever allocated, bytes live, blocks ever allocated) in the pool.
pub(crate) fn totals() -> (u64, u64, u64) {
    (
        ALLOCATED_TOTAL.load(Ordering::Relaxed),
        LIVE_BYTES.load(Ordering::Relaxed),
        BLOCKS_TOTAL.load(Ordering::Relaxed),
    )
}

const NEVER: usize = 0;
const LIVE: usize = 1;
const FREEING: usize = 2;
const FREED: usize = 3;

/// One slot's record, read by the fault handler without a lock.
struct Slot {
    state: AtomicUsize,
    block: AtomicUsize,
    size: AtomicUsize,
    allocated_by: AtomicUsize,
    freed_by: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    state: AtomicUsize::new(NEVER),
    block: AtomicUsize::new(0),
    size: AtomicUsize::new(0),
    allocated_by: AtomicUsize::new(0),
    freed_by: AtomicUsize::new(0),
};

static SLOT: [Slot; MAX_SLOTS] = [EMPTY_SLOT; MAX_SLOTS];

/// Free slots of one kind, least recently freed first.
struct Ring<const N: usize> {
    ring: [u16; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Ring<N> {
    const fn new() -> Self {
        Ring {
            ring: [0; N],
            head: 0,
            len: 0,
        }
    }

    fn pop(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let i = self.ring[self.head] as usize;
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(i)
    }

    fn push(&mut self, i: usize) {
        if self.len < N {
            self.ring[(self.head + self.len) % N] = i as u16;
            self.len += 1;
        }
    }
}

/// The free slots: small ones by index, large ones by index - MAX_SMALL.
struct Queue {
    small: Ring<MAX_SMALL>,
    large: Ring<MAX_LARGE>,
}

struct Locked {
    busy: AtomicBool,
    queue: UnsafeCell<Queue>,
}

// SAFETY: `queue` is touched only with `busy` held.
unsafe impl Sync for Locked {}

static FREE: Locked = Locked {
    busy: AtomicBool::new(false),
    queue: UnsafeCell::new(Queue {
        small: Ring::new(),
        large: Ring::new(),
    }),
};

fn lock() {
    while FREE
        .busy
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
}

fn unlock() {
    FREE.busy.store(false, Ordering::Release);
}

fn with_queue<R>(f: impl FnOnce(&mut Queue) -> R) -> R {
    lock();
    // SAFETY: the lock is held.
    let r = f(unsafe { &mut *FREE.queue.get() });
    unlock();
    r
}

extern "C" fn before_fork() {
    lock();
}

extern "C" fn after_fork() {
    unlock();
}

/// The sampling rate, starting the pool on the first call.
pub(crate) fn rate() -> u64 {
    if STATE.load(Ordering::Acquire) != ON {
        start();
    }
    RATE.load(Ordering::Relaxed)
}

/// The countdown to the next sample: 1 at rate 1, otherwise uniform in
/// 1..2*rate (mean: the rate); `u64::MAX` when sampling is off.
pub(crate) fn next_countdown() -> u64 {
    if STATE.load(Ordering::Acquire) == OFF {
        return u64::MAX;
    }
    let rate = RATE.load(Ordering::Relaxed);
    if rate <= 1 {
        return 1;
    }
    // splitmix64 over a shared counter (the slow path only).
    1 + mix(RANDOM.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)) % (2 * rate - 1)
}

/// splitmix64's output step.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// [`super::RATE_VARIABLE`]: a decimal number (0: off); anything else, or
/// unset, or a set-user-ID process: the default.
fn rate_from_environment() -> u64 {
    // SAFETY: a NUL-terminated name.
    let value = unsafe { crate::sys::getenv_unless_setuid(super::RATE_VARIABLE.as_ptr()) };
    if value.is_null() {
        return super::DEFAULT_RATE;
    }
    // SAFETY: the environment's NUL-terminated string.
    let bytes = unsafe { core::ffi::CStr::from_ptr(value) }.to_bytes();
    parse_rate(bytes).unwrap_or(super::DEFAULT_RATE)
}

fn parse_rate(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 18 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Reserves the pool and installs the fault handler, once. Other threads
/// do not wait for the one that does it: their allocations meanwhile go to
/// the backend. (Waiting could last forever in a child forked while
/// another thread was starting the pool.)
#[cold]
fn start() {
    if STATE
        .compare_exchange(UNINIT, STARTING, Ordering::Acquire, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    // The backend starts on its first allocation, and mimalloc 3's `free`
    // (even of NULL) needs it started: with every block sampled, the pool
    // could take all of the process's first allocations and leave it
    // unstarted. (The countdown of this thread is off while this runs.)
    {
        use crate::backend::{Backend, Selected};
        // SAFETY: a block of the backend, freed by it.
        unsafe { Selected::free(Selected::alloc(1)) };
    }
    let rate = rate_from_environment();
    RATE.store(rate, Ordering::Relaxed);
    if rate == 0 {
        STATE.store(OFF, Ordering::Release);
        return;
    }
    let page = crate::sys::page_size();
    RANDOM.store(random_word(), Ordering::Relaxed);
    let Some(base) = reserve_aligned() else {
        STATE.store(OFF, Ordering::Release);
        return;
    };
    PAGE.store(page, Ordering::Relaxed);
    let small = ((REGION - page) / small_stride()).min(MAX_SMALL);
    let large = ((REGION - page) / large_stride()).min(MAX_LARGE);
    SMALL_COUNT.store(small, Ordering::Relaxed);
    LARGE_COUNT.store(large, Ordering::Relaxed);
    with_queue(|q| {
        (0..small).for_each(|i| q.small.push(i));
        (0..large).for_each(|j| q.large.push(j));
    });
    RANDOM.store(random_word() ^ base as u64, Ordering::Relaxed);
    super::fault::install();
    // If this fails (out of memory), a fork while another thread holds the
    // lock could leave the child's pool locked: the child then never samples.
    let _ = crate::sys::at_fork(before_fork, after_fork);
    // The checked override does not use the default override's guard.
    #[cfg(feature = "override-hardened")]
    crate::r#override::exclude_from_guard(base, POOL_BYTES);
    publish(base);
    STATE.store(ON, Ordering::Release);
}

/// Where the pool is placed when that address space is free: a random
/// multiple of [`POOL_BYTES`] in `[PLACE_LOW, 2 * PLACE_LOW)` (16 to 32 TiB,
/// 2^18 places), far below the kernel's top-down mappings (near 128 TiB on
/// x86-64: libraries, stacks, jemalloc's chunks) and above a non-PIE
/// program's heap. Away from jemalloc's chunks, the pool stays outside the
/// address range that `free`'s guard lets through without asking
/// (src/override/guard.rs), so that one comparison tells both a foreign
/// pointer and a sampled block from jemalloc's.
const PLACE_LOW: usize = 1 << 44;

/// [`POOL_BYTES`] of address space aligned to [`POOL_BYTES`]: at a random
/// place from [`PLACE_LOW`] when it is free (a few tries), or else wherever
/// the kernel puts twice that, the ends given back.
fn reserve_aligned() -> Option<usize> {
    for _ in 0..4 {
        let hint = PLACE_LOW + (random_word() as usize % (PLACE_LOW / POOL_BYTES)) * POOL_BYTES;
        // SAFETY: MAP_FIXED_NOREPLACE never replaces a mapping; a kernel
        // before 4.17 takes the address as a hint, and another one is
        // given back.
        unsafe {
            let region = libc::mmap(
                hint as *mut c_void,
                POOL_BYTES,
                libc::PROT_NONE,
                libc::MAP_PRIVATE
                    | libc::MAP_ANONYMOUS
                    | libc::MAP_NORESERVE
                    | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            );
            if region as usize == hint {
                return Some(hint);
            }
            if region != libc::MAP_FAILED {
                libc::munmap(region, POOL_BYTES);
            }
        }
    }
    // SAFETY: a fresh anonymous reservation, then parts of it unmapped.
    unsafe {
        let region = libc::mmap(
            core::ptr::null_mut(),
            2 * POOL_BYTES,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if region == libc::MAP_FAILED {
            return None;
        }
        let start = region as usize;
        let base = (start + POOL_BYTES - 1) & !(POOL_BYTES - 1);
        if base > start {
            libc::munmap(region, base - start);
        }
        let end = start + 2 * POOL_BYTES;
        if end > base + POOL_BYTES {
            libc::munmap(
                (base + POOL_BYTES) as *mut c_void,
                end - (base + POOL_BYTES),
            );
        }
        Some(base)
    }
}

fn page() -> usize {
    PAGE.load(Ordering::Relaxed)
}

fn small_data() -> usize {
    SMALL_PAGES * page()
}

fn small_stride() -> usize {
    small_data() + page()
}

fn large_data() -> usize {
    LARGE_BYTES.next_multiple_of(page())
}

fn large_stride() -> usize {
    large_data() + page()
}

/// Where slot `i`'s data starts and ends.
fn data_of(i: usize) -> (usize, usize) {
    let base = BASE.load(Ordering::Relaxed);
    if i < MAX_SMALL {
        let start = base + page() + i * small_stride();
        (start, start + small_data())
    } else {
        let start = base + REGION + page() + (i - MAX_SMALL) * large_stride();
        (start, start + large_data())
    }
}

/// A random word: the kernel's (`getrandom`, without waiting for its
/// entropy at boot), mixed by splitmix64 with the shared counter; the
/// clock and the process id when the kernel has none to give.
fn random_word() -> u64 {
    let mut word = 0u64;
    // SAFETY: 8 writable bytes.
    let got = unsafe {
        libc::getrandom(
            (&mut word as *mut u64).cast::<c_void>(),
            8,
            libc::GRND_NONBLOCK,
        )
    };
    if got != 8 {
        // SAFETY: a plain out-parameter.
        unsafe {
            let mut now: libc::timespec = core::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
            word = (now.tv_nsec as u64) << 20 ^ now.tv_sec as u64 ^ (libc::getpid() as u64) << 40;
        }
    }
    mix(word ^ RANDOM.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed))
}

/// Whether slot `i` exists.
fn exists(i: usize) -> bool {
    if i < MAX_SMALL {
        i < SMALL_COUNT.load(Ordering::Relaxed)
    } else {
        i - MAX_SMALL < LARGE_COUNT.load(Ordering::Relaxed)
    }
}

/// The pattern byte at `address` in a slot's unused bytes: high bit set,
/// never 0xff.
fn pattern(address: usize) -> u8 {
    let mixed = (address >> 4)
        .wrapping_add(address)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    0x80 | ((mixed >> 56) as u8 & 0x7e)
}

fn thread_id() -> usize {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as usize }
}

/// A sampled block of `size` bytes, `alignment` (0, or a power of two);
/// NULL when the pool is off or full or the block does not fit a slot. The
/// block's bytes are zero.
pub(crate) fn allocate(size: usize, alignment: usize) -> *mut c_void {
    if STATE.load(Ordering::Acquire) != ON {
        start();
        if STATE.load(Ordering::Acquire) != ON {
            return core::ptr::null_mut();
        }
    }
    let page = page();
    let alignment = alignment.max(16);
    if alignment > page || size > large_data() {
        return core::ptr::null_mut();
    }
    let small = size <= small_data();
    let Some(i) = with_queue(|q| {
        if small {
            q.small.pop()
        } else {
            q.large.pop().map(|j| MAX_SMALL + j)
        }
    }) else {
        return core::ptr::null_mut();
    };
    let (start, end) = data_of(i);
    let block = (end - size.max(1)) & !(alignment - 1);
    let first_page = block & !(page - 1);
    // SAFETY: pages of our own reservation.
    let rc = unsafe {
        libc::mprotect(
            first_page as *mut c_void,
            end - first_page,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    };
    if rc != 0 {
        put_back(i);
        return core::ptr::null_mut();
    }
    debug_assert!(block >= start);
    // SAFETY: the pages just opened. Only the slot's last page can hold an
    // earlier block's bytes (larger blocks' pages were given back): zero
    // the part of this block on it, so that every block reads as zero.
    unsafe {
        let last_page = end - page;
        let stale = block.max(last_page);
        core::ptr::write_bytes(stale as *mut u8, 0, (block + size).saturating_sub(stale));
        for a in unused_bytes(first_page, block, size, end) {
            (a as *mut u8).write(pattern(a));
        }
    }
    let slot = &SLOT[i];
    slot.block.store(block, Ordering::Relaxed);
    slot.size.store(size, Ordering::Relaxed);
    slot.allocated_by.store(thread_id(), Ordering::Relaxed);
    slot.freed_by.store(0, Ordering::Relaxed);
    slot.state.store(LIVE, Ordering::Release);
    ALLOCATED_TOTAL.fetch_add(size as u64, Ordering::Relaxed);
    LIVE_BYTES.fetch_add(size as u64, Ordering::Relaxed);
    BLOCKS_TOTAL.fetch_add(1, Ordering::Relaxed);
    block as *mut c_void
}

/// Bytes at most this far before a block are filled with the pattern and
/// checked when it is freed (an underflow further back, into the pages
/// before the block's first, faults).
const UNDERFLOW_BYTES: usize = 32;

/// The addresses of the pattern around a block of `size` bytes at `block`
/// whose first page starts at `first_page` and whose slot ends at `end`:
/// the slack after it (up to the guard page, at most its alignment - 1
/// bytes) and [`UNDERFLOW_BYTES`] before it, on its first page.
fn unused_bytes(
    first_page: usize,
    block: usize,
    size: usize,
    end: usize,
) -> impl Iterator<Item = usize> {
    (block.saturating_sub(UNDERFLOW_BYTES).max(first_page)..block).chain(block + size..end)
}

fn put_back(i: usize) {
    with_queue(|q| {
        if i < MAX_SMALL {
            q.small.push(i)
        } else {
            q.large.push(i - MAX_SMALL)
        }
    });
}

/// The slot whose data or following guard page holds `address` (in the
/// pool), or None for each half's first guard page and unused space.
fn slot_at(address: usize) -> Option<usize> {
    let offset = address.checked_sub(BASE.load(Ordering::Relaxed))?;
    let i = if offset < REGION {
        offset.checked_sub(page())? / small_stride()
    } else {
        MAX_SMALL + (offset - REGION).checked_sub(page())? / large_stride()
    };
    exists(i).then_some(i)
}

/// The first slot of the half whose first guard page holds `address`.
fn first_slot_after_guard(address: usize) -> Option<usize> {
    let offset = address.checked_sub(BASE.load(Ordering::Relaxed))?;
    let i = match offset {
        o if o < page() => 0,
        o if (REGION..REGION + page()).contains(&o) => MAX_SMALL,
        _ => return None,
    };
    exists(i).then_some(i)
}

/// The live slot whose block starts at `ptr`; otherwise stops the process
/// with what `ptr` is.
fn live_slot(function: &str, ptr: *const c_void) -> usize {
    let address = ptr as usize;
    if let Some(i) = slot_at(address) {
        let slot = &SLOT[i];
        if slot.block.load(Ordering::Relaxed) == address {
            match slot.state.load(Ordering::Acquire) {
                LIVE => return i,
                FREEING | FREED => die(format_args!(
                    "{function}({ptr:p}): double free: the sampled block of size {} was freed \
                     already (allocated by thread {}, freed by thread {})",
                    slot.size.load(Ordering::Relaxed),
                    slot.allocated_by.load(Ordering::Relaxed),
                    slot.freed_by.load(Ordering::Relaxed),
                )),
                _ => {}
            }
        }
    }
    die(format_args!(
        "{function}({ptr:p}): invalid pointer: no block starts there (inside the pool of \
         sampled blocks)"
    ))
}

/// The requested size of the live pool block `ptr`.
#[cfg_attr(not(feature = "override-hardened"), allow(dead_code))]
pub(crate) fn usable_size(function: &str, ptr: *const c_void) -> usize {
    SLOT[live_slot(function, ptr)].size.load(Ordering::Relaxed)
}

/// Frees the pool block `ptr` (checking `size` when given and meaningful):
/// [`retire`], then the slot goes to the back of the queue. Keeps `errno`.
pub(crate) fn free(function: &str, ptr: *mut c_void, size: Option<usize>) {
    put_back(retire(function, ptr, size));
}

/// Puts the slot of `ptr`, a block [`retire`]d earlier, at the back of the
/// queue: the checked override does this when the block leaves its
/// quarantine, so that the address is not handed out again before then.
#[cfg_attr(feature = "override-hardened", allow(dead_code))]
pub(crate) fn recycle(ptr: *mut c_void) {
    if let Some(i) = slot_at(ptr as usize) {
        put_back(i);
    }
}

/// The bytes of the pages that the pool block `ptr` (live or retired)
/// holds or held.
#[cfg_attr(feature = "override-hardened", allow(dead_code))]
pub(crate) fn pages_of(ptr: *const c_void) -> usize {
    let block = ptr as usize;
    slot_at(block).map_or(0, |i| data_of(i).1 - (block & !(page() - 1)))
}

/// Takes the pool block `ptr` out of use without freeing its slot: checks
/// `size` when given and meaningful, and the pattern around the block
/// (underflow, overflow into the slack), then makes its pages `PROT_NONE`
/// (and gives them back when more than one), so that any later access
/// faults. Returns the slot. Keeps `errno`.
pub(crate) fn retire(function: &str, ptr: *mut c_void, size: Option<usize>) -> usize {
    let i = live_slot(function, ptr);
    let slot = &SLOT[i];
    if slot
        .state
        .compare_exchange(LIVE, FREEING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread freed it in between.
        live_slot(function, ptr);
    }
    let block = ptr as usize;
    let requested = slot.size.load(Ordering::Relaxed);
    if let Some(n) = size {
        if n <= MAX_SIZE && n != requested {
            die(format_args!(
                "{function}({ptr:p}, size {n}): wrong size: the sampled block was allocated \
                 with size {requested}"
            ));
        }
    }
    let end = data_of(i).1;
    let first_page = block & !(page() - 1);
    for a in unused_bytes(first_page, block, requested, end) {
        // SAFETY: the block's pages are open until protected below.
        if unsafe { (a as *const u8).read() } != pattern(a) {
            let (what, distance) = if a < block {
                ("heap underflow: written before its start", block - a)
            } else {
                (
                    "heap overflow: written past its end",
                    a - (block + requested) + 1,
                )
            };
            die(format_args!(
                "{function}({ptr:p}): {what} (byte {distance} {}): the sampled block of size \
                 {requested} (allocated by thread {})",
                if a < block { "before it" } else { "after it" },
                slot.allocated_by.load(Ordering::Relaxed),
            ));
        }
    }
    slot.freed_by.store(thread_id(), Ordering::Relaxed);
    slot.state.store(FREED, Ordering::Release);
    LIVE_BYTES.fetch_sub(requested as u64, Ordering::Relaxed);
    crate::sys::errno::preserve(|| {
        // SAFETY: the block's pages, ours. A block on one page keeps it
        // (the next block of the slot zeroes what it reuses of it); the
        // pages of a larger one go back to the system.
        unsafe {
            libc::mprotect(first_page as *mut c_void, end - first_page, libc::PROT_NONE);
            if end - first_page > page() {
                libc::madvise(
                    first_page as *mut c_void,
                    end - first_page,
                    libc::MADV_DONTNEED,
                );
            }
        }
    });
    i
}

/// Writes [`super::PREFIX`] and the message, and aborts.
#[cold]
fn die(args: core::fmt::Arguments<'_>) -> ! {
    let mut line = Text::<[u8; 320]>::new();
    let _ = line.write_str(super::PREFIX);
    let _ = line.write_fmt(args);
    crate::sys::write_stderr(line.as_line());
    // SAFETY: no preconditions.
    unsafe { libc::abort() }
}

/// From the fault handler: a fault at `address`, inside the pool. Names
/// what it hit and aborts. Async-signal-safe: reads atomics, formats on the
/// stack, `write`, `abort`.
pub(crate) fn report_fault(address: usize, access: &str) -> ! {
    let at = address as *const c_void;
    let describe = |i: usize| {
        let slot = &SLOT[i];
        (
            slot.state.load(Ordering::Acquire),
            slot.block.load(Ordering::Relaxed),
            slot.size.load(Ordering::Relaxed),
            slot.allocated_by.load(Ordering::Relaxed),
            slot.freed_by.load(Ordering::Relaxed),
        )
    };
    let Some(i) = slot_at(address) else {
        // A half's first guard page: an underflow of its first block.
        if let Some(first) = first_slot_after_guard(address) {
            let (state, block, size, by, _) = describe(first);
            if state != NEVER {
                underflow(access, address, block, size, by)
            }
        }
        nowhere(access, at)
    };
    let (start, end) = data_of(i);
    let (state, block, size, by, freed_by) = describe(i);
    if address >= end {
        // The guard page after slot i: past the end of its block, or before
        // the start of the next one.
        if state == LIVE || state == FREEING {
            die(format_args!(
                "heap overflow: {access} at {at:p} is {} bytes past the end of the sampled \
                 block {:p} of size {size} (allocated by thread {by})",
                address - (block + size),
                block as *const c_void
            ))
        }
        if state == FREED {
            die(format_args!(
                "use after free: {access} at {at:p} is {} bytes past the end of the freed \
                 sampled block {:p} of size {size} (allocated by thread {by}, freed by thread \
                 {freed_by})",
                address - (block + size),
                block as *const c_void
            ))
        }
        if i + 1 != MAX_SMALL && exists(i + 1) {
            let (next, block, size, by, _) = describe(i + 1);
            if next != NEVER {
                underflow(access, address, block, size, by)
            }
        }
    } else if state == FREED || state == FREEING {
        if address >= block {
            die(format_args!(
                "use after free: {access} at {at:p} is byte {} of the freed sampled block {:p} \
                 of size {size} (allocated by thread {by}, freed by thread {freed_by})",
                address - block,
                block as *const c_void
            ))
        }
        die(format_args!(
            "use after free: {access} at {at:p} is {} bytes before the freed sampled block \
             {:p} of size {size} (allocated by thread {by}, freed by thread {freed_by})",
            block - address,
            block as *const c_void
        ))
    } else if state == LIVE && address < block && address >= start {
        underflow(access, address, block, size, by)
    }
    nowhere(access, at)
}

/// For [`report_fault`]: a fault on the guard page before the sampled
/// `block` (of `size`, allocated by thread `by`).
fn underflow(access: &str, address: usize, block: usize, size: usize, by: usize) -> ! {
    die(format_args!(
        "heap underflow: {access} at {:p} is {} bytes before the sampled block {:p} of size \
         {size} (allocated by thread {by})",
        address as *const c_void,
        block - address,
        block as *const c_void
    ))
}

/// For [`report_fault`]: a fault in the pool where no block is or was.
fn nowhere(access: &str, at: *const c_void) -> ! {
    die(format_args!(
        "{access} at {at:p}: inside the pool of sampled blocks, where no block was"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_parsing() {
        assert_eq!(parse_rate(b"1"), Some(1));
        assert_eq!(parse_rate(b"0"), Some(0));
        assert_eq!(parse_rate(b"5000"), Some(5000));
        assert_eq!(parse_rate(b""), None);
        assert_eq!(parse_rate(b"-1"), None);
        assert_eq!(parse_rate(b"1e3"), None);
        assert_eq!(parse_rate(b"9999999999999999999"), None);
    }

    #[test]
    fn the_pool_holds_its_blocks_and_nothing_else() {
        use crate::backend::{Backend, Selected};
        // Before the pool exists, and after: never NULL, the top of the
        // address space, the stack or a block of the backend.
        let local = 0u8;
        // SAFETY: any size.
        let backend = unsafe { Selected::alloc(64) };
        for address in [
            0,
            usize::MAX,
            &local as *const u8 as usize,
            backend as usize,
        ] {
            assert!(!contains(address), "{address:#x}");
        }
        let block = allocate(100, 0) as usize;
        assert_ne!(
            block, 0,
            "no pool (GB_HARDENED_SAMPLE=0 in the environment?)"
        );
        assert!(contains(block));
        // Against the guard page: the end rounded up to 16 is the slot's end.
        let i = slot_at(block).unwrap();
        assert_eq!(block % 16, 0);
        assert_eq!((block + 100).next_multiple_of(16), data_of(i).1);
        // SAFETY: the block's 100 bytes.
        assert!(
            unsafe { core::slice::from_raw_parts(block as *const u8, 100) }
                .iter()
                .all(|&b| b == 0)
        );
        assert_eq!(usable_size("test", block as *const c_void), 100);
        let aligned = allocate(3000, 4096) as usize;
        assert_eq!(aligned % 4096, 0);
        let large = allocate(256 << 10, 0) as usize;
        assert!(slot_at(large).unwrap() >= MAX_SMALL);
        for (b, n) in [(block, 100), (aligned, 3000), (large, 256 << 10)] {
            // SAFETY: every byte of the block is writable.
            unsafe { core::ptr::write_bytes(b as *mut u8, 0x5a, n) };
            free("test", b as *mut c_void, Some(n));
            assert!(contains(b));
            assert_eq!(
                SLOT[slot_at(b).unwrap()].state.load(Ordering::Relaxed),
                FREED
            );
        }
        // Larger than a large slot, or aligned to more than a page: not
        // sampled.
        assert!(allocate(LARGE_BYTES + 1, 0).is_null());
        assert!(allocate(64, 2 * page()).is_null());
        // SAFETY: the backend's block.
        unsafe { Selected::free(backend) };
    }

    #[test]
    fn pattern_bytes_are_never_common_fill_values() {
        for a in 0x7f00_0000_0000usize..0x7f00_0000_4000 {
            let b = pattern(a);
            assert!(b >= 0x80 && b != 0xff);
        }
    }
}
