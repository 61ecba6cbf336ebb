//! The hardened override's pool of guarded slots (GWP-ASan's design): one
//! reservation of [`POOL_BYTES`], `PROT_NONE` except where a sampled block
//! lives, laid out as a guard page, then for each slot [`SLOT_PAGES`] data
//! pages and a guard page:
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
//! block covers are readable and writable. A freed slot's data is mapped
//! anew `PROT_NONE` (its contents dropped, so it is zero when reused) and the
//! slot goes to the back of the free queue: it is reused as late as
//! possible, and until then any access to it faults (use after free).
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
pub(super) const SHIFT: u32 = 25;
/// The pool's address space, reserved at the first sample (`PROT_NONE`,
/// `MAP_NORESERVE`: costs no memory until a slot is used).
pub(super) const POOL_BYTES: usize = 1 << SHIFT;
/// Data pages per slot: blocks up to this many pages are sampled (16 KiB
/// with 4 KiB pages); larger ones always go to the backend.
const SLOT_PAGES: usize = 4;
/// At most this many slots (with 4 KiB pages the reservation holds 1638).
const MAX_SLOTS: usize = 1024;

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
    ".globl gb_hardened_pool_high",
    ".hidden gb_hardened_pool_high",
    ".type gb_hardened_pool_high,@object",
    ".size gb_hardened_pool_high,8",
    "gb_hardened_pool_high:",
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
            "mov qword ptr [rip + gb_hardened_pool_high], {high}",
            high = in(reg) base >> SHIFT,
            options(nostack, preserves_flags),
        );
    }
}

/// Whether `address` lies in the pool.
#[inline(always)]
pub(super) fn contains(address: usize) -> bool {
    address.wrapping_sub(BASE.load(Ordering::Relaxed)) < POOL_BYTES
}

const UNINIT: u8 = 0;
const STARTING: u8 = 1;
const ON: u8 = 2;
const OFF: u8 = 3;
static STATE: AtomicU8 = AtomicU8::new(UNINIT);
static RATE: AtomicU64 = AtomicU64::new(super::DEFAULT_RATE);
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static SLOTS: AtomicUsize = AtomicUsize::new(0);
static RANDOM: AtomicU64 = AtomicU64::new(0);

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

/// The free slots, least recently freed first.
struct Queue {
    ring: [u16; MAX_SLOTS],
    head: usize,
    len: usize,
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
        ring: [0; MAX_SLOTS],
        head: 0,
        len: 0,
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
pub(super) fn rate() -> u64 {
    if STATE.load(Ordering::Acquire) != ON {
        start();
    }
    RATE.load(Ordering::Relaxed)
}

/// The countdown to the next sample: 1 at rate 1, otherwise uniform in
/// 1..2*rate (mean: the rate); `u64::MAX` when sampling is off.
pub(super) fn next_countdown() -> u64 {
    if STATE.load(Ordering::Acquire) != ON {
        return u64::MAX;
    }
    let rate = RATE.load(Ordering::Relaxed);
    if rate <= 1 {
        return 1;
    }
    // splitmix64 over a shared counter (the slow path only).
    let mut z = RANDOM.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    1 + z % (2 * rate - 1)
}

/// `GB_HARDENED_SAMPLE`: a decimal number (0: off); anything else, or
/// unset, or a set-user-ID process: the default.
fn rate_from_environment() -> u64 {
    // SAFETY: a NUL-terminated name.
    let value = unsafe { crate::sys::getenv_unless_setuid(c"GB_HARDENED_SAMPLE".as_ptr()) };
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

/// Reserves the pool and installs the fault handler, once; other threads
/// wait for the one that does it.
#[cold]
fn start() {
    if STATE
        .compare_exchange(UNINIT, STARTING, Ordering::Acquire, Ordering::Acquire)
        .is_err()
    {
        while STATE.load(Ordering::Acquire) == STARTING {
            core::hint::spin_loop();
        }
        return;
    }
    let rate = rate_from_environment();
    RATE.store(rate, Ordering::Relaxed);
    if rate == 0 {
        STATE.store(OFF, Ordering::Release);
        return;
    }
    let page = crate::sys::page_size();
    let Some(base) = reserve_aligned() else {
        STATE.store(OFF, Ordering::Release);
        return;
    };
    let stride = (SLOT_PAGES + 1) * page;
    let slots = ((POOL_BYTES - page) / stride).min(MAX_SLOTS);
    PAGE.store(page, Ordering::Relaxed);
    SLOTS.store(slots, Ordering::Relaxed);
    with_queue(|q| {
        for (i, entry) in q.ring.iter_mut().enumerate().take(slots) {
            *entry = i as u16;
        }
        q.head = 0;
        q.len = slots;
    });
    let mut seed = 0u64;
    // SAFETY: a plain out-parameter.
    unsafe {
        let mut now: libc::timespec = core::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
        seed ^= (now.tv_nsec as u64) << 20 ^ now.tv_sec as u64 ^ (libc::getpid() as u64) << 40;
    }
    RANDOM.store(seed ^ base as u64, Ordering::Relaxed);
    super::fault::install();
    // If this fails (out of memory), a fork while another thread holds the
    // lock could leave the child's pool locked: the child then never samples.
    let _ = crate::sys::at_fork(before_fork, after_fork);
    publish(base);
    STATE.store(ON, Ordering::Release);
}

/// [`POOL_BYTES`] of address space aligned to [`POOL_BYTES`]: twice that
/// reserved, the ends given back.
fn reserve_aligned() -> Option<usize> {
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

fn stride() -> usize {
    (SLOT_PAGES + 1) * page()
}

/// Where slot `i`'s data starts and ends.
fn data_of(i: usize) -> (usize, usize) {
    let start = BASE.load(Ordering::Relaxed) + page() + i * stride();
    (start, start + SLOT_PAGES * page())
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
pub(super) fn allocate(size: usize, alignment: usize) -> *mut c_void {
    if STATE.load(Ordering::Acquire) != ON {
        start();
        if STATE.load(Ordering::Acquire) != ON {
            return core::ptr::null_mut();
        }
    }
    let page = page();
    let alignment = alignment.max(16);
    if alignment > page || size > SLOT_PAGES * page {
        return core::ptr::null_mut();
    }
    let Some(i) = with_queue(|q| {
        if q.len == 0 {
            return None;
        }
        let i = q.ring[q.head] as usize;
        q.head = (q.head + 1) % MAX_SLOTS;
        q.len -= 1;
        Some(i)
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
    // SAFETY: the pages just opened; the block's own bytes are left zero.
    unsafe {
        for a in (first_page..block).chain(block + size..end) {
            (a as *mut u8).write(pattern(a));
        }
    }
    let slot = &SLOT[i];
    slot.block.store(block, Ordering::Relaxed);
    slot.size.store(size, Ordering::Relaxed);
    slot.allocated_by.store(thread_id(), Ordering::Relaxed);
    slot.freed_by.store(0, Ordering::Relaxed);
    slot.state.store(LIVE, Ordering::Release);
    block as *mut c_void
}

fn put_back(i: usize) {
    with_queue(|q| {
        let tail = (q.head + q.len) % MAX_SLOTS;
        q.ring[tail] = i as u16;
        q.len += 1;
    });
}

/// The slot whose data or following guard page holds `address` (in the
/// pool), or None for the pool's first guard page and unused space.
fn slot_at(address: usize) -> Option<usize> {
    let offset = address
        .checked_sub(BASE.load(Ordering::Relaxed))?
        .checked_sub(page())?;
    let i = offset / stride();
    (i < SLOTS.load(Ordering::Relaxed)).then_some(i)
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
        "{function}({ptr:p}): invalid pointer: no block starts there (inside the hardened \
         override's pool of sampled blocks)"
    ))
}

/// The requested size of the live pool block `ptr`.
pub(super) fn usable_size(function: &str, ptr: *const c_void) -> usize {
    SLOT[live_slot(function, ptr)].size.load(Ordering::Relaxed)
}

/// Frees the pool block `ptr` (checking `size` when given and meaningful):
/// checks its unused bytes, drops its pages and puts the slot at the back
/// of the queue. Keeps `errno`.
pub(super) fn free(function: &str, ptr: *mut c_void, size: Option<usize>) {
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
    let (start, end) = data_of(i);
    let first_page = block & !(page() - 1);
    for a in (first_page..block).chain(block + requested..end) {
        // SAFETY: the block's pages are open until remapped below.
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
    crate::sys::errno::preserve(|| {
        // SAFETY: the slot's data pages, ours; mapped anew, they read as
        // zero when the slot is next used.
        unsafe {
            let fresh = libc::mmap(
                start as *mut c_void,
                end - start,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            );
            if fresh == libc::MAP_FAILED {
                // Out of mappings: protect, and give the pages back.
                libc::mprotect(start as *mut c_void, end - start, libc::PROT_NONE);
                libc::madvise(start as *mut c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    });
    put_back(i);
}

/// Writes `graphbit-alloc: hardened: ...` and aborts.
#[cold]
fn die(args: core::fmt::Arguments<'_>) -> ! {
    let mut line = Text::<[u8; 320]>::new();
    let _ = line.write_str("graphbit-alloc: hardened: ");
    let _ = line.write_fmt(args);
    crate::sys::write_stderr(line.as_line());
    // SAFETY: no preconditions.
    unsafe { libc::abort() }
}

/// From the fault handler: a fault at `address`, inside the pool. Names
/// what it hit and aborts. Async-signal-safe: reads atomics, formats on the
/// stack, `write`, `abort`.
pub(super) fn report_fault(address: usize, access: &str) -> ! {
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
        // The guard page before slot 0: an underflow of its block.
        if SLOTS.load(Ordering::Relaxed) > 0 && address < data_of(0).0 {
            let (state, block, size, by, _) = describe(0);
            if state != NEVER {
                die(format_args!(
                    "heap underflow: {access} at {at:p} is {} bytes before the sampled block \
                     {:p} of size {size} (allocated by thread {by})",
                    block - address,
                    block as *const c_void
                ))
            }
        }
        die(format_args!(
            "{access} at {at:p}: inside the hardened override's pool, where no block was"
        ))
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
        if i + 1 < SLOTS.load(Ordering::Relaxed) {
            let (next, block, size, by, _) = describe(i + 1);
            if next != NEVER {
                die(format_args!(
                    "heap underflow: {access} at {at:p} is {} bytes before the sampled block \
                     {:p} of size {size} (allocated by thread {by})",
                    block - address,
                    block as *const c_void
                ))
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
        die(format_args!(
            "heap underflow: {access} at {at:p} is {} bytes before the sampled block {:p} of \
             size {size} (allocated by thread {by})",
            block - address,
            block as *const c_void
        ))
    }
    die(format_args!(
        "{access} at {at:p}: inside the hardened override's pool, where no block was"
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
    fn nothing_is_in_the_pool_before_it_exists() {
        if STATE.load(Ordering::Acquire) == UNINIT {
            assert!(!contains(0));
            assert!(!contains(usize::MAX / 2));
            assert!(!contains(0x7fff_ffff_f000));
        }
    }

    #[test]
    fn pattern_bytes_are_never_common_fill_values() {
        for a in 0x7f00_0000_0000usize..0x7f00_0000_4000 {
            let b = pattern(a);
            assert!(b >= 0x80 && b != 0xff);
        }
    }
}
