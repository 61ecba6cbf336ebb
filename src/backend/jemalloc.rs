//! jemalloc, statically linked with the `_rjem_` symbol prefix, so it never
//! replaces the host's `malloc`. Initial-exec TLS by default (the fastest for
//! a program that links the library at start-up); with the `dlopen` feature
//! built with `--disable-initial-exec-tls`, so that the library can be
//! `dlopen`-ed into a running process.
//!
//! The C API's functions are jemalloc's own entry points, called directly
//! (tail calls): jemalloc keeps every row of the contract by itself.
//! - Sizes above its largest size class (2^62 + ..., below `PTRDIFF_MAX`)
//!   fail with `ENOMEM`, as do overflowing `calloc` products.
//! - `free` keeps `errno`: with the built-in options (src/backend/
//!   jemalloc_conf.c) the background thread does the purging, and jemalloc on
//!   Linux retains its address space (no `munmap`), so the freeing thread
//!   makes no system call that could fail; a purge it does make (with the
//!   background thread turned off at run time) is an `madvise` of memory
//!   jemalloc mapped, which succeeds. `c_tests/api_contract.c` checks errno
//!   after frees of every size class, with purging on the freeing thread too.

use core::ffi::{c_char, c_void, CStr};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use super::{Backend, Counter, Stats};

#[cfg(gb_backend_auto_dep)]
use graphbit_alloc_auto::{tikv_jemalloc_sys as je, tikv_jemallocator as jemallocator};
#[cfg(not(gb_backend_auto_dep))]
use {tikv_jemalloc_sys as je, tikv_jemallocator as jemallocator};

/// The allocation functions, as jemalloc's entry points.
pub(crate) struct Jemalloc;

impl Backend for Jemalloc {
    #[inline(always)]
    unsafe fn alloc(size: usize) -> *mut c_void {
        // SAFETY: jemalloc's malloc accepts any size and sets ENOMEM.
        unsafe { front::malloc(size) }
    }

    #[inline(always)]
    unsafe fn calloc(count: usize, size: usize) -> *mut c_void {
        // A small block: `malloc`'s fast path, then zeros over the bytes
        // asked for. jemalloc's `calloc` takes its generic path and zeroes
        // the whole size class in the same way (a small block is never
        // known to be zero); only a large one can come zeroed from the
        // system, which is why larger requests still go to it
        // (gb-bench/scripts/instructions.sh's calloc rows,
        // docs/performance.md).
        if let Some(total) = count.checked_mul(size).filter(|&t| t <= SMALL_MAX) {
            // SAFETY: any size; jemalloc sets ENOMEM.
            let block = unsafe { front::malloc(total) };
            if !block.is_null() {
                // SAFETY: `total` bytes of a block just allocated.
                unsafe { core::ptr::write_bytes(block.cast::<u8>(), 0, total) };
            }
            return block;
        }
        // SAFETY: jemalloc's calloc checks the product and sets ENOMEM.
        let block = unsafe { je::calloc(count, size) };
        front::note(block, count.wrapping_mul(size));
        block
    }

    #[inline(always)]
    unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
        // realloc(p, 0) frees p and returns NULL under jemalloc's default
        // zero_realloc:free; a one-byte block is the contract's answer.
        // SAFETY: NULL or a live block of this backend; jemalloc sets ENOMEM.
        let block = unsafe { je::realloc(ptr, size.max(1)) };
        front::note(block, size);
        block
    }

    #[inline(always)]
    unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
        if let Some(class) = small_aligned(alignment, size) {
            // SAFETY: no preconditions; jemalloc sets ENOMEM.
            return unsafe { front::malloc(class) };
        }
        // aligned_alloc accepts any power-of-two alignment (from 1), treats
        // size 0 as 1, sets ENOMEM, and sizes the block as
        // sdallocx(.., MALLOCX_ALIGN(alignment)) expects it.
        // SAFETY: alignment is a power of two (checked by the caller).
        unsafe { front::aligned_alloc(alignment, size) }
    }

    #[inline(always)]
    unsafe fn free(ptr: *mut c_void) {
        // SAFETY: NULL or a live block of this backend.
        unsafe { front::free(ptr) }
    }

    // jemalloc's `free` keeps `errno` and takes NULL: itself.
    const C_FREE: unsafe extern "C" fn(*mut c_void) = front::free;

    #[inline(always)]
    unsafe fn free_sized(ptr: *mut c_void, size: usize) {
        // `size` is the size asked for (0 was served as 1), so its size
        // class is the block's. jemalloc 5.3.1's sdallocx crashes on NULL;
        // the caller never passes it.
        // SAFETY: a live block of this backend of that size.
        unsafe { front::sdallocx(ptr, size.max(1), 0) }
    }

    #[inline(always)]
    unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
        if let Some(class) = small_aligned(alignment, size) {
            // SAFETY: a live block of that size class (either way it was
            // allocated: see `small_aligned`).
            return unsafe { front::sdallocx(ptr, class, 0) };
        }
        // SAFETY: the block came from `aligned_alloc(alignment, size)`, whose
        // size class these flags name.
        unsafe { je::sdallocx(ptr, size.max(1), je::MALLOCX_ALIGN(alignment)) }
    }

    #[inline(always)]
    unsafe fn usable_size(ptr: *const c_void) -> usize {
        // SAFETY: a live block of this backend.
        unsafe { je::malloc_usable_size(ptr) }
    }

    /// The override library starts jemalloc without its background thread
    /// (src/backend/jemalloc_conf.c) and starts it at the first large request.
    const WATCHES_LARGE_REQUESTS: bool = true;

    #[inline(always)]
    fn before_large_request() {
        extern "C" {
            fn graphbit_alloc_start_background_thread();
        }
        // SAFETY: no preconditions; it allocates nothing itself.
        unsafe { graphbit_alloc_start_background_thread() }
    }

    const COUNTER: Counter = Counter::PerThread;

    /// The backend's name as `gb_allocator_name` reports it.
    const NAME: &'static CStr = c"jemalloc";

    /// Rust's global allocator for this backend.
    type RustAllocator = jemallocator::Jemalloc;

    /// The value installed as `#[global_allocator]`.
    const RUST_ALLOCATOR: Self::RustAllocator = jemallocator::Jemalloc;

    /// jemalloc's version string, e.g. "5.3.1-0-g81034ce1f13...".
    fn version() -> &'static CStr {
        read_c_str(c"version").unwrap_or(c"unknown")
    }

    /// The run-time options that decide jemalloc's speed/footprint trade-off, as
    /// in effect: the built-in defaults (src/backend/jemalloc_conf.c) overridden
    /// by `_RJEM_MALLOC_CONF`. Reads jemalloc's `opt.*` values; allocates nothing.
    fn settings() -> crate::diagnostics::Settings {
        use crate::diagnostics::{BuiltIn, SettingValue, Settings};
        let built_in = BuiltIn::Options(builtin_options().to_str().unwrap_or("?"));
        let mut settings = Settings::new(built_in, "_RJEM_MALLOC_CONF");
        let flag = |v: Option<bool>| v.map_or(SettingValue::Unknown, SettingValue::Bool);
        let uint = |v: Option<u64>| v.map_or(SettingValue::Unknown, SettingValue::UInt);
        let int =
            |v: Option<isize>| v.map_or(SettingValue::Unknown, |v| SettingValue::Int(v as i64));
        // SAFETY: each name is read with its mallctl type (jemalloc's ctl.c).
        unsafe {
            let bg = read(c"opt.background_thread", false);
            settings.push("background_thread", flag(bg));
            let bg_max = read(c"opt.max_background_threads", 0usize).map(|v| v as u64);
            settings.push("max_background_threads", uint(bg_max));
            settings.push("dirty_decay_ms", int(read(c"opt.dirty_decay_ms", 0isize)));
            settings.push("muzzy_decay_ms", int(read(c"opt.muzzy_decay_ms", 0isize)));
            let oversize = read(c"opt.oversize_threshold", 0usize).map(|v| v as u64);
            settings.push("oversize_threshold", uint(oversize));
            let dlsc = read(c"opt.disable_large_size_classes", false);
            settings.push("disable_large_size_classes", flag(dlsc));
            let narenas = read(c"opt.narenas", 0u32).map(u64::from);
            settings.push("narenas", uint(narenas));
            let tcache_max = read(c"opt.tcache_max", 0usize).map(|v| v as u64);
            settings.push("tcache_max", uint(tcache_max));
            let nslots = read(c"opt.tcache_nslots_small_max", 0u32).map(u64::from);
            settings.push("tcache_nslots_small_max", uint(nslots));
            // A pointer to one of jemalloc's static mode names ("disabled",
            // "percpu", "phycpu"), valid for the life of the process.
            let percpu = read(c"opt.percpu_arena", ptr::null::<c_char>())
                .filter(|p| !p.is_null())
                .and_then(|p| CStr::from_ptr(p).to_str().ok());
            settings.push(
                "percpu_arena",
                percpu.map_or(SettingValue::Unknown, SettingValue::Text),
            );
            // Built in or not (JEMALLOC_OPT_SAFETY_CHECKS through CPPFLAGS,
            // .cargo/config.toml); no run-time option changes it.
            let safety = read(c"config.opt_safety_checks", false);
            settings.push("opt_safety_checks", flag(safety));
        }
        settings
    }

    /// This backend can tell its own blocks from foreign pointers.
    const CAN_TELL_OWNERSHIP: bool = true;

    /// True if `ptr` lies in a live extent managed by jemalloc. Safe for any
    /// pointer value: `arenas.lookup` only consults jemalloc's own page map.
    fn owns(ptr: *const c_void) -> bool {
        // jemalloc's page map keys on an address's low bits (48 on 64-bit
        // targets): a pointer with a higher bit set (non-canonical, or in the
        // kernel's half) would be looked up as its low bits. None of ours is one.
        if ptr.is_null() || (cfg!(target_pointer_width = "64") && (ptr as u64) >> 48 != 0) {
            return false;
        }
        let mut arena: libc::c_uint = 0;
        let mut arena_len = core::mem::size_of::<libc::c_uint>();
        let mut query = ptr;
        // SAFETY: "arenas.lookup" reads a `void *` and writes an `unsigned`.
        let rc = unsafe {
            je::mallctl(
                c"arenas.lookup".as_ptr(),
                (&mut arena as *mut libc::c_uint).cast(),
                &mut arena_len,
                (&mut query as *mut *const c_void).cast(),
                core::mem::size_of::<*const c_void>(),
            )
        };
        rc == 0
    }

    /// Bytes allocated so far by the calling thread, as jemalloc counts them
    /// (`thread.allocated`), or `None` if jemalloc was built without stats.
    fn allocation_counter() -> Option<u64> {
        // SAFETY: "thread.allocated" is a read-only uint64_t.
        unsafe { read(c"thread.allocated", 0u64) }
    }

    /// jemalloc's global statistics, refreshed first (they are cached until the
    /// `epoch` is advanced).
    fn stats() -> Stats {
        let mut epoch: u64 = 1;
        let mut len = core::mem::size_of::<u64>();
        // SAFETY: "epoch" reads and writes a uint64_t.
        unsafe {
            je::mallctl(
                c"epoch".as_ptr(),
                (&mut epoch as *mut u64).cast(),
                &mut len,
                (&mut epoch as *mut u64).cast(),
                core::mem::size_of::<u64>(),
            )
        };
        Stats {
            allocated: read_size(c"stats.allocated"),
            active: read_size(c"stats.active"),
            resident: read_size(c"stats.resident"),
            mapped: read_size(c"stats.mapped"),
            retained: read_size(c"stats.retained"),
            // All arenas (MALLCTL_ARENAS_ALL, 4096): small and large requests.
            // SAFETY: both are read-only uint64_t statistics.
            allocations: unsafe {
                read(c"stats.arenas.4096.small.nmalloc", 0u64)
                    .zip(read(c"stats.arenas.4096.large.nmalloc", 0u64))
                    .map(|(small, large)| small + large)
            },
        }
    }

    /// Returns the calling thread's cached blocks to their arenas, then purges
    /// every arena's unused dirty pages to the OS (`arena.<all>.purge`). A purge
    /// skips an arena that jemalloc's background thread is purging at that
    /// moment (`decay->purging`), so the thread is stopped, and joined, for the
    /// purge and started again after it.
    ///
    /// One trim at a time (`TRIM_TURN`): otherwise a second caller could see the
    /// thread stopped by the first, purge while the first restarts it, and leave
    /// it as it found it. If the thread cannot be started again (jemalloc
    /// creates it with `pthread_create`, which can fail), trim tries three times,
    /// returns the error, and remembers (`RESTART_OWED`) that the thread is off
    /// only because of it: the next trim starts it again.
    /// jemalloc's `thread.idle`, which flushes the calling thread's cache
    /// back to the arenas (it would also purge the thread's arena with more
    /// than two arenas per CPU; the built-in percpu_arena runs one).
    fn thread_idle() -> libc::c_int {
        front::flush_cpu();
        // SAFETY: a write-only mallctl that takes no value.
        unsafe {
            je::mallctl(
                c"thread.idle".as_ptr(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                0,
            )
        }
    }

    fn trim() -> libc::c_int {
        front::flush_cpu();
        let _turn = TrimTurn::take();
        // SAFETY: "background_thread" is a read-write bool.
        let running = unsafe { read(c"background_thread", false) }.unwrap_or(false);
        let owed = RESTART_OWED.load(Ordering::Relaxed);
        if running {
            let rc = set_background_thread(false);
            if rc != 0 {
                return rc;
            }
        }
        // SAFETY: both are write-only mallctls that take no value.
        let rc = unsafe {
            je::mallctl(
                c"thread.tcache.flush".as_ptr(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                0,
            );
            // 4096 is MALLCTL_ARENAS_ALL: every arena.
            je::mallctl(
                c"arena.4096.purge".as_ptr(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                0,
            )
        };
        let restarted = if running || owed {
            start_background_thread()
        } else {
            0
        };
        RESTART_OWED.store(restarted != 0, Ordering::Relaxed);
        if rc != 0 {
            rc
        } else {
            restarted
        }
    }

    // jemalloc's `malloc` takes any size and sets ENOMEM: itself.
    #[cfg(feature = "profiling")]
    const C_ALLOC: unsafe extern "C" fn(usize) -> *mut c_void = front::malloc;
    #[cfg(feature = "profiling")]
    const OWN_SAMPLER: bool = true;
    #[cfg(feature = "profiling")]
    fn sampler_start(lg_interval: u32) -> core::ffi::c_int {
        super::jemalloc_sampler::start(lg_interval)
    }
    #[cfg(feature = "profiling")]
    fn sampler_available() -> bool {
        // SAFETY: "opt.prof" is a read-only bool.
        unsafe { read(c"opt.prof", false) }.unwrap_or(false)
    }
    #[cfg(feature = "profiling")]
    fn sampler_stop() {
        super::jemalloc_sampler::stop()
    }
    #[cfg(feature = "profiling")]
    fn usable_size_of(size: usize) -> usize {
        super::jemalloc_sampler::usable_size_of(size)
    }

    /// Whether this jemalloc keeps statistics (`config.stats`).
    fn stats_enabled() -> bool {
        // SAFETY: "config.stats" is a read-only bool.
        unsafe { read(c"config.stats", false) }.unwrap_or(false)
    }

    /// How the backend's thread-local state is reached.
    const TLS_MODEL: &'static str = if cfg!(feature = "dlopen") {
        "global-dynamic (jemalloc built with --disable-initial-exec-tls, so the library can be dlopen-ed)"
    } else {
        "initial-exec (for programs that link the library at start-up; dlopen needs libgraphbit_alloc_dlopen)"
    };

    /// jemalloc's own statistics report (`malloc_stats_print`), written into
    /// `out` as jemalloc produces it.
    fn detailed_stats(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        use crate::diagnostics::CallbackSink;
        extern "C" fn write(sink: *mut c_void, text: *const c_char) {
            // SAFETY: `sink` is the CallbackSink passed below, alive for the
            // call; jemalloc passes a NUL-terminated string.
            unsafe { CallbackSink::accept(sink, text) }
        }
        let mut sink = CallbackSink::new(out);
        // SAFETY: the callback only writes into `sink`, which outlives the call.
        unsafe {
            je::malloc_stats_print(
                Some(write),
                (&mut sink as *mut CallbackSink<'_>).cast(),
                ptr::null(),
            )
        };
        sink.result
    }
}

/// The largest small size class of jemalloc with 4 KiB pages (larger pages
/// only add small classes).
const SMALL_MAX: usize = 14 << 10;

/// For an aligned request that jemalloc serves from a small size class, the
/// plain size that names the same class: `size` (0 as 1) rounded up to
/// `alignment`. jemalloc gives such a request (alignment at most a page,
/// rounded size at most `SMALL_MAX`) the class of the rounded size, a multiple
/// of the alignment, whose blocks lie at multiples of the class in
/// page-aligned slabs: its `arena_palloc` calls `arena_malloc` with that
/// class, after a generic entry path that `malloc` and `sdallocx` without
/// flags skip (gb-bench's aligned workload: 27% fewer instructions an
/// operation, docs/performance.md). A block of a small class that jemalloc
/// samples (profiling builds) gets a page of its own instead, at its start
/// (`prof_sample_align`): aligned all the more. `alignment` is a power of
/// two.
#[inline(always)]
fn small_aligned(alignment: usize, size: usize) -> Option<usize> {
    let class = size.max(1).checked_next_multiple_of(alignment)?;
    (alignment <= 4096 && class <= SMALL_MAX).then_some(class)
}

extern "C" {
    /// The built-in options string (src/backend/jemalloc_conf.c).
    fn graphbit_alloc_jemalloc_builtin_conf() -> *const c_char;
}

/// What gb_alloc, gb_free and gb_free_sized call: jemalloc's entry points,
/// or, in a build with GB_PERCPU=1, the per-CPU cache experiment
/// (src/percpu/percpu.c, docs/memory.md), which takes the same arguments.
///
/// cbindgen:ignore
#[cfg(not(gb_percpu))]
mod front {
    pub(super) use super::je::{aligned_alloc, free, malloc, sdallocx};
    /// Only the experiment keeps a page map.
    #[inline(always)]
    pub(super) fn note(_block: *mut core::ffi::c_void, _size: usize) {}
    /// Only the experiment has CPU caches.
    #[inline(always)]
    pub(super) fn flush_cpu() {}
}
/// The experiment's entry points.
///
/// cbindgen:ignore
#[cfg(gb_percpu)]
mod front {
    use core::ffi::c_void;
    extern "C" {
        #[link_name = "graphbit_percpu_alloc"]
        pub(super) fn malloc(size: usize) -> *mut c_void;
        #[link_name = "graphbit_percpu_free"]
        pub(super) fn free(ptr: *mut c_void);
        #[link_name = "graphbit_percpu_free_sized"]
        fn free_sized(ptr: *mut c_void, size: usize);
        #[link_name = "graphbit_percpu_note"]
        fn note_block(block: *mut c_void, size: usize);
        #[link_name = "graphbit_percpu_alloc_aligned"]
        pub(super) fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void;
        #[link_name = "graphbit_percpu_flush"]
        fn flush();
    }
    /// gb_thread_idle and gb_trim: this CPU's cached blocks back to jemalloc.
    #[inline(always)]
    pub(super) fn flush_cpu() {
        // SAFETY: no preconditions.
        unsafe { flush() }
    }
    /// A block that jemalloc handed out past the cache (calloc, realloc):
    /// its page's class in the cache's page map (`usize::MAX`: unknown, so
    /// `gb_free` asks jemalloc).
    #[inline(always)]
    pub(super) fn note(block: *mut c_void, size: usize) {
        // SAFETY: takes any pointer (NULL included) and any size.
        unsafe { note_block(block, size) }
    }
    /// sdallocx without flags (the only form the backend calls).
    #[inline(always)]
    pub(super) unsafe fn sdallocx(ptr: *mut c_void, size: usize, _flags: i32) {
        // SAFETY: a live block of this backend of that size.
        unsafe { free_sized(ptr, size) }
    }
}

/// jemalloc's built-in run-time options of this library, as compiled in
/// (src/backend/jemalloc_conf.c); `_RJEM_MALLOC_CONF` overrides them.
pub fn builtin_options() -> &'static CStr {
    // SAFETY: returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(graphbit_alloc_jemalloc_builtin_conf()) }
}

/// Reads a read-only mallctl whose value is a `T`.
///
/// # Safety
/// `name` must be a mallctl whose value has type `T`.
unsafe fn read<T: Copy>(name: &CStr, mut value: T) -> Option<T> {
    let mut len = core::mem::size_of::<T>();
    // SAFETY: the caller vouches for the type; jemalloc checks `len`.
    let rc = unsafe {
        je::mallctl(
            name.as_ptr(),
            (&mut value as *mut T).cast(),
            &mut len,
            ptr::null_mut(),
            0,
        )
    };
    (rc == 0).then_some(value)
}

/// Reads a `const char *` mallctl: jemalloc returns static strings.
fn read_c_str(name: &CStr) -> Option<&'static CStr> {
    // SAFETY: only called with `const char *` mallctls.
    let value = unsafe { read::<*const c_char>(name, ptr::null()) }?;
    // SAFETY: a static, NUL-terminated string owned by jemalloc.
    (!value.is_null()).then(|| unsafe { CStr::from_ptr(value) })
}

/// Reads a `size_t` statistic by mallctl name.
fn read_size(name: &CStr) -> Option<u64> {
    // SAFETY: every name passed here is a read-only size_t mallctl.
    unsafe { read(name, 0usize) }.map(|v| v as u64)
}

/// Writes a mallctl whose value is a `T`: 0 or jemalloc's errno value.
///
/// # Safety
/// `name` must be a writable mallctl whose value has type `T`.
pub(super) unsafe fn write<T>(name: &CStr, mut value: T) -> libc::c_int {
    // SAFETY: the caller vouches for the type; jemalloc checks the length.
    unsafe {
        je::mallctl(
            name.as_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            (&mut value as *mut T).cast(),
            core::mem::size_of::<T>(),
        )
    }
}

/// Sets the `bool` mallctl `background_thread` (stopping the thread joins it).
fn set_background_thread(on: bool) -> libc::c_int {
    // SAFETY: "background_thread" reads and writes a bool.
    unsafe { write(c"background_thread", on) }
}

/// Set while a `trim` runs; the next one waits for it to finish.
static TRIM_BUSY: AtomicBool = AtomicBool::new(false);

/// Set when `trim` stopped jemalloc's background thread and could not start
/// it again. Read and written only by the trim holding its turn.
static RESTART_OWED: AtomicBool = AtomicBool::new(false);

/// The turn of one `trim`: a spin lock that yields while it waits (a trim
/// takes milliseconds). Not a `std::sync::Mutex`, which allocates on some
/// platforms, and allocation failure here would abort the host.
struct TrimTurn;

impl TrimTurn {
    fn take() -> TrimTurn {
        while TRIM_BUSY
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        TrimTurn
    }
}

impl Drop for TrimTurn {
    fn drop(&mut self) {
        TRIM_BUSY.store(false, Ordering::Release);
    }
}

/// Starts jemalloc's background thread; three tries, a millisecond apart, as
/// thread creation fails transiently when the system is short of threads.
fn start_background_thread() -> libc::c_int {
    let mut rc = 0;
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        rc = set_background_thread(true);
        if rc == 0 {
            break;
        }
    }
    rc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::verify::tests::serial;
    use crate::diagnostics::verify::PROBE_BYTES;

    /// jemalloc's resident bytes (`stats.resident`: its metadata, live
    /// blocks and dirty pages), not the process's: the other tests of this
    /// binary run at the same time, and their own mappings moved the
    /// process's RSS by more than this test's 128 MiB margin (1 run in ~20
    /// of the hardened override's tests on a loaded machine).
    fn resident_bytes() -> usize {
        Jemalloc::stats()
            .resident
            .expect("jemalloc's stats.resident") as usize
    }

    fn background_thread() -> Option<bool> {
        // SAFETY: "background_thread" is a read-write bool.
        unsafe { read(c"background_thread", false) }
    }

    /// Two threads trimming at once, many times: every call succeeds, the
    /// background thread is as it was before (on, with the built-in
    /// options), and the freed working set left RAM.
    #[test]
    fn concurrent_trims_leave_the_background_thread_running() {
        const BLOCK: usize = 64 << 10;
        const BLOCKS: usize = 4096; // 256 MiB
        let before = background_thread();
        let blocks: Vec<usize> = (0..BLOCKS)
            .map(|_| {
                // SAFETY: plain allocation; touched so it is resident.
                let p = unsafe { je::malloc(BLOCK) };
                assert!(!p.is_null());
                unsafe { ptr::write_bytes(p.cast::<u8>(), 0x3C, BLOCK) };
                p as usize
            })
            .collect();
        let loaded = resident_bytes();
        for p in blocks {
            // SAFETY: the blocks allocated above.
            unsafe { je::free(p as *mut c_void) };
        }
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            let trims: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        (0..20)
                            .map(|_| Jemalloc::trim())
                            .find(|&rc| rc != 0)
                            .unwrap_or(0)
                    })
                })
                .collect();
            for t in trims {
                assert_eq!(t.join().unwrap(), 0, "gb_trim failed");
            }
        });
        let trimmed = resident_bytes();
        assert_eq!(
            background_thread(),
            before,
            "background thread state changed"
        );
        assert!(!RESTART_OWED.load(Ordering::Relaxed));
        assert!(
            trimmed + (128 << 20) <= loaded,
            "resident {} MiB loaded, {} MiB after trimming",
            loaded >> 20,
            trimmed >> 20
        );
    }

    /// The C boundary allocates nothing but the verification's two probes:
    /// jemalloc's per-thread counter (which only this backend has) moves by exactly their size while the report is
    /// formatted into a buffer on the stack.
    #[test]
    fn the_report_allocates_nothing_but_the_probes() {
        let _turn = serial();
        // The overrides' guarded blocks come from their pool, which this
        // counter does not see: none on this thread.
        #[cfg(any(feature = "override-checked", feature = "override-hardened"))]
        crate::guarded::unguarded_thread();
        let mut buf = [0u8; 16384];
        let before = Jemalloc::allocation_counter().unwrap_or(0);
        // SAFETY: buf holds buf.len() bytes.
        let len = unsafe { crate::ffi::gb_verify_report(buf.as_mut_ptr().cast(), buf.len()) };
        let middle = Jemalloc::allocation_counter().unwrap_or(0);
        let passed = crate::ffi::gb_verify();
        let after = Jemalloc::allocation_counter().unwrap_or(0);
        assert!(len < buf.len() && buf[len] == 0);
        assert!(passed);
        // Without the global allocator, Rust's probe goes to the C library's
        // malloc: the backend's only in the override.
        let probes = if cfg!(any(feature = "global-allocator", feature = "override")) {
            2
        } else {
            1
        };
        if cfg!(feature = "override") {
            // The override's host check allocates through the process's
            // malloc, strdup, getline and operator new (process_blocks_owned),
            // which are jemalloc's too: the same bytes on every run, freed.
            assert!(
                middle - before > probes * PROBE_BYTES as u64,
                "gb_verify_report"
            );
            assert_eq!(after - middle, middle - before, "gb_verify");
        } else {
            assert_eq!(
                middle - before,
                probes * PROBE_BYTES as u64,
                "gb_verify_report"
            );
            assert_eq!(after - middle, probes * PROBE_BYTES as u64, "gb_verify");
        }
    }
}

/// The `log` and `exp` that the profiling shared libraries give jemalloc's
/// profiler instead of libm's (src/backend/jemalloc_math.c), against Rust's
/// (libm's), over the whole double range and the special values.
#[cfg(all(test, feature = "profiling"))]
mod math_tests {
    extern "C" {
        fn graphbit_alloc_log(x: f64) -> f64;
        fn graphbit_alloc_exp(x: f64) -> f64;
    }

    /// Distance in units in the last place (same sign, both finite).
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64).abs_diff(b.to_bits() as i64)
    }

    /// Doubles spread over [low, high] by a fixed xorshift sequence, with
    /// the ends.
    fn samples(low: f64, high: f64) -> impl Iterator<Item = f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..200_000)
            .map(move |_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                low + (high - low) * ((state >> 11) as f64 / (1u64 << 53) as f64)
            })
            .chain([low, high])
    }

    #[test]
    fn log_is_libms_within_two_ulps() {
        // SAFETY (every call): a pure function of any double.
        let log = |x: f64| unsafe { graphbit_alloc_log(x) };
        // Every binade (exponents of subnormals to the largest), and the
        // fractions jemalloc passes (u in (0, 1], 1 - 2^-lg).
        let by_bits =
            samples(0.0, (0x7fefffffffffffff_u64) as f64).map(|b| f64::from_bits(b as u64));
        for x in by_bits.chain(samples(1e-300, 1.0)).chain(samples(0.5, 2.0)) {
            if x <= 0.0 {
                continue;
            }
            let (ours, theirs) = (log(x), x.ln());
            let tolerance = if theirs.abs() < 1e-3 { 4 } else { 2 };
            assert!(
                ulps(ours, theirs) <= tolerance || (ours - theirs).abs() < 1e-300,
                "log({x:e}) = {ours:e}, libm {theirs:e}"
            );
        }
        for lg in 0..63 {
            let x = 1.0 - 1.0 / (1u64 << lg) as f64;
            if x > 0.0 {
                assert!(ulps(log(x), x.ln()) <= 2, "log(1 - 2^-{lg})");
            }
        }
        assert_eq!(log(1.0), 0.0);
        assert_eq!(log(0.0), f64::NEG_INFINITY);
        assert_eq!(log(-0.0), f64::NEG_INFINITY);
        assert_eq!(log(f64::INFINITY), f64::INFINITY);
        assert!(log(-1.0).is_nan() && log(f64::NEG_INFINITY).is_nan() && log(f64::NAN).is_nan());
        assert_eq!(log(f64::MIN_POSITIVE / 4.0), (f64::MIN_POSITIVE / 4.0).ln());
    }

    #[test]
    fn exp_is_libms_within_two_ulps() {
        // SAFETY (every call): a pure function of any double.
        let exp = |x: f64| unsafe { graphbit_alloc_exp(x) };
        for x in samples(-708.0, 709.7)
            .chain(samples(-1.0, 1.0))
            .chain(samples(-1e-6, 1e-6))
        {
            let (ours, theirs) = (exp(x), x.exp());
            assert!(
                ulps(ours, theirs) <= 2,
                "exp({x:e}) = {ours:e}, libm {theirs:e}"
            );
        }
        // Subnormal results: within 2 of the smallest subnormal's units.
        for x in samples(-745.0, -708.5) {
            let (ours, theirs) = (exp(x), x.exp());
            assert!(
                ulps(ours, theirs) <= 2,
                "exp({x:e}) = {ours:e}, libm {theirs:e}"
            );
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(709.78), 709.78_f64.exp());
    }
}
