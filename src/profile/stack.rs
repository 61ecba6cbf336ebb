//! Call stacks of sampled allocations, from the unwinder of libgcc_s
//! (`_Unwind_Backtrace`, which every Rust program on Linux links already):
//! it reads the DWARF call frame information, so it works in code built
//! without frame pointers, and it does not allocate (unlike glibc's
//! `backtrace`, which loads libgcc_s with `dlopen` on its first call). Should
//! it ever allocate, the allocation is not sampled: the thread is marked
//! busy while it captures (`super::Busy`).

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};

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
    if ip == 0 {
        return URC_END_OF_STACK;
    }
    if walk.skip > 0 {
        walk.skip -= 1;
        return URC_NO_REASON;
    }
    if walk.depth == 0 && walk.own_start <= ip && ip < walk.own_end {
        return URC_NO_REASON;
    }
    if walk.depth == walk.frames.len() {
        return URC_END_OF_STACK;
    }
    walk.frames[walk.depth] = ip;
    walk.depth += 1;
    URC_NO_REASON
}

/// Fills `frames` with the return addresses of the caller of the entry
/// point and its callers, innermost first; returns how many. Never inlined:
/// its frame is one of `PROFILER_FRAMES`.
#[inline(never)]
pub(crate) fn capture(frames: &mut [usize]) -> usize {
    let own_start = OWN_START.load(Ordering::Relaxed);
    let own_end = OWN_END.load(Ordering::Relaxed);
    let mut walk = Walk {
        frames,
        depth: 0,
        // Linked into the program: the entry point's frame too.
        skip: PROFILER_FRAMES + usize::from(own_start == own_end),
        own_start,
        own_end,
    };
    // SAFETY: `step` only touches the `Walk` it is given, which outlives
    // the call.
    unsafe { _Unwind_Backtrace(step, &mut walk as *mut Walk as *mut c_void) };
    let depth = walk.depth;
    core::hint::black_box(depth)
}
