//! jemalloc, statically linked with the `_rjem_` symbol prefix, so it never
//! replaces the host's `malloc`. Built with `--disable-initial-exec-tls` so
//! that the shared library can be `dlopen`-ed into a running process.

use core::ffi::{c_char, c_void, CStr};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use tikv_jemalloc_sys as je;

/// The backend's name as `gb_allocator_name` reports it.
pub(crate) const NAME: &CStr = c"jemalloc";

/// Rust's global allocator for this backend.
#[cfg_attr(feature = "no-global-allocator", allow(dead_code))]
pub(crate) type RustAllocator = tikv_jemallocator::Jemalloc;
/// The value installed as `#[global_allocator]`.
#[cfg_attr(feature = "no-global-allocator", allow(dead_code))]
pub(crate) const RUST_ALLOCATOR: RustAllocator = tikv_jemallocator::Jemalloc;

/// Set once a block has been handed out by `aligned_alloc` whose size class
/// differs from the class of its requested size. jemalloc's sized free trusts
/// the size it is given to find the size class, so from then on `free_sized`
/// lets jemalloc look the size up instead. Programs that never request such a
/// block keep the fast sized path. Set with a plain store and read with a
/// plain load: the pointer's hand-over between threads orders them.
static SIZED_FREE_NEEDS_LOOKUP: AtomicBool = AtomicBool::new(false);

/// jemalloc's version string, e.g. "5.3.1-0-g81034ce1f13...".
pub fn version() -> &'static CStr {
    read_c_str(c"version").unwrap_or(c"unknown")
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

/// The run-time options that decide jemalloc's speed/footprint trade-off, as
/// in effect: the built-in defaults (`.cargo/config.toml`,
/// `JEMALLOC_SYS_WITH_MALLOC_CONF`) overridden by `_RJEM_MALLOC_CONF`.
pub fn settings() -> String {
    // SAFETY: each name is read with its mallctl type (jemalloc's ctl.c).
    let (bg, bg_max, dirty, muzzy, oversize, dlsc, narenas) = unsafe {
        (
            read(c"opt.background_thread", false),
            read(c"opt.max_background_threads", 0usize),
            read(c"opt.dirty_decay_ms", 0isize),
            read(c"opt.muzzy_decay_ms", 0isize),
            read(c"opt.oversize_threshold", 0usize),
            read(c"opt.disable_large_size_classes", false),
            read(c"opt.narenas", 0u32),
        )
    };
    fn show<T: core::fmt::Display>(v: Option<T>) -> String {
        v.map_or("?".into(), |v| v.to_string())
    }
    format!(
        "in effect: background_thread:{},max_background_threads:{},dirty_decay_ms:{},\
         muzzy_decay_ms:{},oversize_threshold:{},disable_large_size_classes:{},narenas:{}; \
         built in: \"{}\"; run-time override: _RJEM_MALLOC_CONF",
        show(bg),
        show(bg_max),
        show(dirty),
        show(muzzy),
        show(oversize),
        show(dlsc),
        show(narenas),
        read_c_str(c"config.malloc_conf").map_or("".into(), |c| c.to_string_lossy()),
    )
}

#[inline]
pub unsafe fn alloc(size: usize) -> *mut c_void {
    // SAFETY: jemalloc's malloc accepts any size.
    unsafe { je::malloc(size) }
}

#[inline]
pub unsafe fn alloc_zeroed(count: usize, size: usize) -> *mut c_void {
    // SAFETY: jemalloc's calloc checks the product itself as well.
    unsafe { je::calloc(count, size) }
}

#[inline]
pub unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: the caller passes a live block and a size of at least 1.
    unsafe { je::realloc(ptr, size) }
}

pub unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    // mallocx and nallocx leave size 0 undefined.
    let size = size.max(1);
    let flags = je::MALLOCX_ALIGN(alignment);
    // SAFETY: size is non-zero and alignment a power of two.
    let block = unsafe { je::mallocx(size, flags) };
    if !block.is_null()
        && !SIZED_FREE_NEEDS_LOOKUP.load(Ordering::Relaxed)
        // SAFETY: as above.
        && unsafe { je::nallocx(size, flags) != je::nallocx(size, 0) }
    {
        SIZED_FREE_NEEDS_LOOKUP.store(true, Ordering::Relaxed);
    }
    block
}

#[inline]
pub unsafe fn free(ptr: *mut c_void) {
    // SAFETY: NULL or a live block of this backend.
    unsafe { je::free(ptr) }
}

/// `ptr` is never NULL here (jemalloc 5.3.1's sized free crashes on NULL).
#[inline]
pub unsafe fn free_sized(ptr: *mut c_void, size: usize) {
    if SIZED_FREE_NEEDS_LOOKUP.load(Ordering::Relaxed) {
        // SAFETY: a live block of this backend.
        unsafe { je::free(ptr) }
    } else {
        // SAFETY: no over-aligned block exists, so the size class of `size`
        // is the block's size class.
        unsafe { je::sdallocx(ptr, size.max(1), 0) }
    }
}

/// `ptr` is never NULL here.
#[inline]
pub unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    // SAFETY: the block came from `aligned_alloc(alignment, size)`, which
    // used exactly these flags.
    unsafe { je::sdallocx(ptr, size.max(1), je::MALLOCX_ALIGN(alignment)) }
}

/// `ptr` is never NULL here.
#[inline]
pub unsafe fn usable_size(ptr: *const c_void) -> usize {
    // SAFETY: a live block of this backend.
    unsafe { je::malloc_usable_size(ptr) }
}

/// This backend can tell its own blocks from foreign pointers.
pub(crate) const CAN_TELL_OWNERSHIP: bool = true;

/// True if `ptr` lies in a live extent managed by jemalloc. Safe for any
/// pointer value: `arenas.lookup` only consults jemalloc's own page map.
pub fn owns(ptr: *const c_void) -> bool {
    if ptr.is_null() {
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
pub fn allocation_counter() -> Option<u64> {
    // SAFETY: "thread.allocated" is a read-only uint64_t.
    unsafe { read(c"thread.allocated", 0u64) }
}

/// Reads a `size_t` statistic by mallctl name.
fn read_size(name: &CStr) -> Option<u64> {
    // SAFETY: every name passed here is a read-only size_t mallctl.
    unsafe { read(name, 0usize) }.map(|v| v as u64)
}

/// jemalloc's global statistics, refreshed first (they are cached until the
/// `epoch` is advanced).
pub fn stats() -> super::Stats {
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
    super::Stats {
        allocated: read_size(c"stats.allocated"),
        active: read_size(c"stats.active"),
        resident: read_size(c"stats.resident"),
        mapped: read_size(c"stats.mapped"),
        retained: read_size(c"stats.retained"),
    }
}

/// Sets the `bool` mallctl `background_thread` (stopping the thread joins it).
fn set_background_thread(mut on: bool) -> libc::c_int {
    // SAFETY: "background_thread" reads and writes a bool; nothing is read here.
    unsafe {
        je::mallctl(
            c"background_thread".as_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            (&mut on as *mut bool).cast(),
            core::mem::size_of::<bool>(),
        )
    }
}

/// Returns the calling thread's cached blocks to their arenas, then purges
/// every arena's unused dirty pages to the OS (`arena.<all>.purge`). A purge
/// skips an arena that jemalloc's background thread is purging at that
/// moment (`decay->purging`), so the thread is stopped, and joined, for the
/// purge and started again after it.
pub fn trim() -> libc::c_int {
    // SAFETY: "background_thread" is a read-write bool.
    let background = unsafe { read(c"background_thread", false) }.unwrap_or(false);
    if background {
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
    let restarted = if background {
        set_background_thread(true)
    } else {
        0
    };
    if rc != 0 {
        rc
    } else {
        restarted
    }
}

/// Whether this jemalloc keeps statistics (`config.stats`).
pub fn stats_enabled() -> bool {
    // SAFETY: "config.stats" is a read-only bool.
    unsafe { read(c"config.stats", false) }.unwrap_or(false)
}

/// How the backend's thread-local state is reached.
pub(crate) const TLS_MODEL: &str = "global-dynamic (jemalloc built with --disable-initial-exec-tls, so the library can be dlopen-ed)";

/// jemalloc's own statistics report (`malloc_stats_print`).
pub fn detailed_stats() -> String {
    extern "C" fn append(out: *mut c_void, text: *const c_char) {
        // SAFETY: `out` is the String passed below; jemalloc passes a C string.
        let (out, text) = unsafe { (&mut *(out as *mut String), CStr::from_ptr(text)) };
        out.push_str(&text.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call.
    unsafe { je::malloc_stats_print(Some(append), (&mut out as *mut String).cast(), ptr::null()) };
    out
}
