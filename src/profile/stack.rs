//! Call stacks of sampled allocations. Two unwinders, both reading the DWARF
//! call frame information (so they work in code built without frame
//! pointers), neither allocating from the allocator being profiled (should
//! one ever allocate, the allocation is not sampled: the thread is marked
//! busy while it captures, `super::Busy`):
//!
//! - **libunwind's `unw_backtrace`** (x86-64 Linux), when the process can
//!   load `libunwind.so.8` (Debian's libunwind8; found with `dlopen` when
//!   profiling starts, never in the hot path): it caches each return
//!   address's frame rule per thread, so a stack it has seen costs about
//!   100 instructions a frame (libgcc's: about 1,400). Its caches are made
//!   per-thread (`unw_set_caching_policy`), so no lock of libunwind's is
//!   ever held across a `fork`; and since each costs up to 256 KiB, only
//!   as many threads at a time as there are CPUs use it (`CACHE_SLOTS`;
//!   an exiting thread gives its slot back), the others libgcc's.
//! - **libgcc_s's `_Unwind_Backtrace`** otherwise (every Rust program on
//!   Linux links it already; unlike glibc's `backtrace` it needs no
//!   `dlopen`), or when `GB_PROFILE_UNWINDER=libgcc` (read with
//!   `secure_getenv`) asks for it.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::sys::getenv_unless_setuid;

/// Deepest stack recorded; deeper ones are cut (the outermost frames go).
pub(crate) const MAX_DEPTH: usize = 60;

/// Frames of the profiler itself on top of every captured stack: `capture`
/// and `super::sample`, neither ever inlined.
const PROFILER_FRAMES: usize = 2;

/// The executable segment of this library when it is a shared object (not
/// linked into the program): every frame in it on top of a stack (the
/// entry point, `operator new`'s body, ...) is the library's and is
/// dropped. Found once, by `locate_self` at the start.
static OWN_START: AtomicUsize = AtomicUsize::new(0);
static OWN_END: AtomicUsize = AtomicUsize::new(0);

struct Search {
    target: usize,
    objects: usize,
    found: Option<(usize, usize, bool)>,
}

extern "C" fn visit(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> c_int {
    // SAFETY: `data` is the Search that `locate_self` passed; `info` is the
    // loader's, valid during the callback.
    let (search, info) = unsafe { (&mut *(data as *mut Search), &*info) };
    let first = search.objects == 0;
    search.objects += 1;
    for index in 0..info.dlpi_phnum as usize {
        // SAFETY: dlpi_phnum headers at dlpi_phdr.
        let header = unsafe { &*info.dlpi_phdr.add(index) };
        if header.p_type != libc::PT_LOAD || header.p_flags & libc::PF_X == 0 {
            continue;
        }
        let start = info.dlpi_addr as usize + header.p_vaddr as usize;
        let end = start + header.p_memsz as usize;
        if (start..end).contains(&search.target) {
            search.found = Some((start, end, first));
            return 1;
        }
    }
    0
}

/// Finds this library's executable segment (see `OWN_START`). Called when
/// profiling starts, outside the hot path.
pub(crate) fn locate_self() {
    let mut search = Search {
        target: capture as *const () as usize,
        objects: 0,
        found: None,
    };
    // SAFETY: `visit` only touches the Search it is given.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut search as *mut Search as *mut c_void) };
    // In the main program (a static link) the segment is the program's own:
    // only the entry point's one frame is dropped then.
    if let Some((start, end, false)) = search.found {
        OWN_START.store(start, Ordering::Relaxed);
        OWN_END.store(end, Ordering::Relaxed);
    }
}

#[allow(non_camel_case_types)]
type _Unwind_Reason_Code = c_int;
const URC_NO_REASON: _Unwind_Reason_Code = 0;
const URC_END_OF_STACK: _Unwind_Reason_Code = 5;

extern "C" {
    fn _Unwind_Backtrace(
        trace: extern "C" fn(*mut c_void, *mut c_void) -> _Unwind_Reason_Code,
        argument: *mut c_void,
    ) -> _Unwind_Reason_Code;
    fn _Unwind_GetIP(context: *mut c_void) -> usize;
}

struct Walk<'a> {
    frames: &'a mut [usize],
    depth: usize,
    /// Frames still to drop unseen.
    skip: usize,
    /// Frames in [own_start, own_end) are dropped until the first outside.
    own_start: usize,
    own_end: usize,
}

extern "C" fn step(context: *mut c_void, argument: *mut c_void) -> _Unwind_Reason_Code {
    // SAFETY: `argument` is the `Walk` that `capture` passed, alive for the
    // whole walk and not touched elsewhere meanwhile.
    let walk = unsafe { &mut *(argument as *mut Walk) };
    // SAFETY: a context the unwinder handed to this callback.
    let ip = unsafe { _Unwind_GetIP(context) };
    if ip == 0 || !walk.keep(ip) {
        return URC_END_OF_STACK;
    }
    URC_NO_REASON
}

impl Walk<'_> {
    /// Takes the next frame outwards: skipped, dropped as the library's
    /// own, or recorded. False when the stack is full.
    fn keep(&mut self, ip: usize) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return true;
        }
        if self.depth == 0 && self.own_start <= ip && ip < self.own_end {
            return true;
        }
        if self.depth == self.frames.len() {
            return false;
        }
        self.frames[self.depth] = ip;
        self.depth += 1;
        true
    }
}

/// Whether this library is a shared object whose frames `locate_self`
/// found (so that every frame of its own on top of a stack is dropped,
/// however deep in the backend the capture runs).
pub(crate) fn own_frames_known() -> bool {
    OWN_START.load(Ordering::Relaxed) != OWN_END.load(Ordering::Relaxed)
}

/// Fills `frames` with the return addresses of the caller of the entry
/// point and its callers, innermost first; returns how many. Never inlined:
/// its frame is one of `PROFILER_FRAMES`.
#[inline(never)]
pub(crate) fn capture(frames: &mut [usize]) -> usize {
    let linked_in = !own_frames_known();
    // Linked into the program: the entry point's frame too.
    walk(frames, PROFILER_FRAMES + usize::from(linked_in))
}

/// As `capture`, for a caller deep inside this shared library (jemalloc's
/// backtrace hook): every frame on top that is the library's is dropped, so
/// nothing is skipped unseen. Only where `own_frames_known`.
#[inline(never)]
#[allow(dead_code)] // called by a backend with a sampler of its own (jemalloc)
pub(crate) fn capture_in_library(frames: &mut [usize]) -> usize {
    walk(frames, 0)
}

/// The walk of `capture` and `capture_in_library`: always inlined into
/// them, so the frames above the stack are theirs alone.
#[inline(always)]
fn walk(frames: &mut [usize], skip: usize) -> usize {
    let own_start = OWN_START.load(Ordering::Relaxed);
    let own_end = OWN_END.load(Ordering::Relaxed);
    let mut walk = Walk {
        frames,
        depth: 0,
        skip,
        own_start,
        own_end,
    };
    let fast = FAST_BACKTRACE.load(Ordering::Relaxed);
    if fast != 0 && thread_may_cache() {
        // SAFETY: FAST_BACKTRACE holds 0 or libunwind's `unw_backtrace`
        // (set by `choose_unwinder`; the library is never unloaded).
        let backtrace: UnwBacktrace = unsafe { core::mem::transmute(fast) };
        let mut raw = [0usize; MAX_DEPTH + 8];
        // SAFETY: room for `raw.len()` addresses.
        let found = unsafe { backtrace(raw.as_mut_ptr() as *mut *mut c_void, raw.len() as c_int) };
        // Its first address is the return into this function, as
        // `_Unwind_Backtrace`'s first frame is: the same skipping applies.
        for &ip in &raw[..found.clamp(0, raw.len() as c_int) as usize] {
            if ip == 0 || !walk.keep(ip) {
                break;
            }
        }
    } else {
        // SAFETY: `step` only touches the `Walk` it is given, which
        // outlives the call.
        unsafe { _Unwind_Backtrace(step, &mut walk as *mut Walk as *mut c_void) };
    }
    let depth = walk.depth;
    core::hint::black_box(depth)
}

/// `unw_backtrace(buffer, size)`: the return addresses of the calling
/// thread's stack, innermost first; returns how many.
type UnwBacktrace = unsafe extern "C" fn(*mut *mut c_void, c_int) -> c_int;
/// `unw_set_caching_policy(address_space, policy)`.
type UnwSetCachingPolicy = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
/// libunwind's `UNW_CACHE_PER_THREAD`.
const UNW_CACHE_PER_THREAD: c_int = 2;

/// libunwind's `unw_backtrace` once `choose_unwinder` found it, else 0
/// (libgcc's unwinder).
static FAST_BACKTRACE: AtomicUsize = AtomicUsize::new(0);

/// How many threads may unwind with libunwind at once: its cache of frame
/// rules is per thread (always, in `unw_backtrace`; 2^14 records, up to 256
/// KiB resident each), so a 64-thread server took 16.7 MiB more at its peak
/// with profiling on (docs/profiling.md, Cost). The first threads to take a
/// sample, as many as the CPUs online when profiling started, get a slot;
/// others unwind with libgcc (no cache, slower per sample) while the slots
/// are held. A thread that exits gives its slot back (libunwind frees its
/// cache then), so this memory grows with the CPUs, not with the threads,
/// and a process that replaces its threads keeps libunwind's speed.
static CACHE_SLOTS: AtomicUsize = AtomicUsize::new(0);

/// Slots held by live threads.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Whether a thread ever unwound with libgcc because every slot was held
/// (for the profile's comment).
static FELL_BACK: AtomicBool = AtomicBool::new(false);

/// The key whose destructor gives a thread's slot back when it exits
/// (`pthread_key_create` at the start, outside the hot path; its value is
/// set only in threads that hold a slot), or `usize::MAX` when none could
/// be made (slots are then kept until the process ends).
static SLOT_KEY: AtomicUsize = AtomicUsize::new(usize::MAX);

thread_local! {
    /// Whether this thread holds a slot (unwinds with libunwind).
    static HOLDS_SLOT: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Whether this thread unwinds with libunwind's cache: chosen at its first
/// sample, while slots last; a thread that found none tries again at each
/// sample (a slot may have been given back since).
fn thread_may_cache() -> bool {
    HOLDS_SLOT.with(|holds| {
        if !holds.get() {
            let took = HELD
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |held| {
                    (held < CACHE_SLOTS.load(Ordering::Relaxed)).then_some(held + 1)
                })
                .is_ok();
            if took {
                let key = SLOT_KEY.load(Ordering::Relaxed);
                if key != usize::MAX {
                    // A key below PTHREAD_KEY_2NDLEVEL_SIZE (checked when it
                    // was made): glibc keeps its value in the thread's own
                    // descriptor, allocating nothing.
                    // SAFETY: a key this library made; any non-NULL value.
                    unsafe {
                        libc::pthread_setspecific(key as libc::pthread_key_t, 1 as *const c_void)
                    };
                }
                holds.set(true);
            } else {
                FELL_BACK.store(true, Ordering::Relaxed);
            }
        }
        holds.get()
    })
}

/// The slot key's destructor: the exiting thread held a slot.
extern "C" fn give_slot_back(_value: *mut c_void) {
    HELD.fetch_sub(1, Ordering::AcqRel);
}

/// In a fork child only the forking thread lives: it keeps its slot, if it
/// held one, and the others' come back.
extern "C" fn slots_after_fork_in_child() {
    let mine = HOLDS_SLOT.with(|holds| usize::from(holds.get()));
    HELD.store(mine, Ordering::Relaxed);
}

/// Makes the slot key and the fork handler, once (at the first start).
fn make_slot_key() {
    static MADE: AtomicBool = AtomicBool::new(false);
    if MADE.swap(true, Ordering::AcqRel) {
        return;
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: an out-parameter and a destructor that only counts.
    let rc = unsafe { libc::pthread_key_create(&mut key, Some(give_slot_back)) };
    // glibc keeps the values of its first 32 keys in the thread descriptor;
    // a later key's first value allocates, which the sampling path avoids.
    if rc == 0 && key < 32 {
        SLOT_KEY.store(key as usize, Ordering::Relaxed);
    } else if rc == 0 {
        // SAFETY: the key just made, with no values set.
        unsafe { libc::pthread_key_delete(key) };
    }
    // SAFETY: a handler that only stores to atomics and a thread-local.
    unsafe { libc::pthread_atfork(None, None, Some(slots_after_fork_in_child)) };
}

/// Picks the unwinder (see the module's comment): libunwind when
/// `libunwind.so.8` loads and has what is needed, unless
/// `GB_PROFILE_UNWINDER=libgcc`. Called when profiling starts, outside
/// the hot path; once libunwind is chosen it stays (its handle is kept).
pub(crate) fn choose_unwinder() {
    // SAFETY: a NUL-terminated name; the result is NULL or a C string.
    let asked = unsafe { getenv_unless_setuid(c"GB_PROFILE_UNWINDER".as_ptr()) };
    // SAFETY: a C string from the environment when not NULL.
    let libgcc = !asked.is_null() && unsafe { core::ffi::CStr::from_ptr(asked) } == c"libgcc";
    if libgcc {
        FAST_BACKTRACE.store(0, Ordering::Relaxed);
        return;
    }
    if FAST_BACKTRACE.load(Ordering::Relaxed) != 0 {
        return;
    }
    if let Some(backtrace) = load_libunwind() {
        // SAFETY: no preconditions.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        CACHE_SLOTS.store(usize::try_from(cpus).unwrap_or(1).max(1), Ordering::Relaxed);
        make_slot_key();
        FAST_BACKTRACE.store(backtrace as usize, Ordering::Relaxed);
    }
}

/// Loads libunwind (x86-64 names), makes its caches per-thread, and
/// returns its `unw_backtrace`; None (and nothing kept loaded) when any
/// step fails.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn load_libunwind() -> Option<UnwBacktrace> {
    // SAFETY: dlopen/dlsym with NUL-terminated names; every result is
    // checked before use.
    unsafe {
        let handle = libc::dlopen(
            c"libunwind.so.8".as_ptr(),
            libc::RTLD_NOW | libc::RTLD_LOCAL,
        );
        if handle.is_null() {
            return None;
        }
        let backtrace = libc::dlsym(handle, c"unw_backtrace".as_ptr());
        let policy = libc::dlsym(handle, c"_ULx86_64_set_caching_policy".as_ptr());
        let space = libc::dlsym(handle, c"_ULx86_64_local_addr_space".as_ptr());
        if backtrace.is_null() || policy.is_null() || space.is_null() {
            libc::dlclose(handle);
            return None;
        }
        let policy: UnwSetCachingPolicy = core::mem::transmute(policy);
        // `unw_local_addr_space` is a variable holding the address space.
        if policy(*(space as *const *mut c_void), UNW_CACHE_PER_THREAD) != 0 {
            libc::dlclose(handle);
            return None;
        }
        Some(core::mem::transmute::<*mut c_void, UnwBacktrace>(backtrace))
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn load_libunwind() -> Option<UnwBacktrace> {
    None
}

/// The unwinders the profile's stacks came from: "libgcc", "libunwind", or
/// "libunwind (N threads at a time), libgcc (the others)" when a thread
/// took a sample while every slot was held.
pub(crate) fn unwinder() -> String {
    if FAST_BACKTRACE.load(Ordering::Relaxed) == 0 {
        return "libgcc".into();
    }
    let slots = CACHE_SLOTS.load(Ordering::Relaxed);
    if FELL_BACK.load(Ordering::Relaxed) {
        format!("libunwind ({slots} threads at a time), libgcc (the others)")
    } else {
        "libunwind".into()
    }
}
