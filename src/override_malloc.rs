//! Whole-process mode (Cargo feature `override`, library
//! `libgraphbit_alloc_override.so`): the process's `malloc` family and every
//! C++ `operator new`/`delete`, served by the backend, for
//! `LD_PRELOAD=libgraphbit_alloc_override.so program` or for linking the
//! library before the C library. The prefixed `gb_*` API is exported as well,
//! on the same backend instance.
//!
//! Each function calls the backend's entry point directly (`Backend`, the
//! [`Heap`] implementation the `gb_*` functions use): `malloc`, `free`,
//! `calloc` are tail calls into jemalloc or mimalloc. What the C standard and
//! glibc leave open is done as glibc 2.36 does it (the library is a drop-in
//! replacement for it), each row checked side by side against glibc by
//! `c_tests/override/override_semantics.c` (`tests/override.sh`):
//!
//! | call | result |
//! |---|---|
//! | `malloc(0)` | a unique, freeable block |
//! | any size above `PTRDIFF_MAX` | NULL, `ENOMEM` |
//! | `calloc` whose product overflows | NULL, `ENOMEM` |
//! | `realloc(NULL, n)` | `malloc(n)` (so `realloc(NULL, 0)` is a block) |
//! | `realloc(p, 0)`, `p` not NULL | frees `p`, returns NULL, `errno` kept (glibc's `REALLOC_ZERO_BYTES_FREES`) |
//! | `realloc` failure | NULL, `ENOMEM`, `p` kept |
//! | `reallocarray(p, n, m)` | `ENOMEM` when `n * m` overflows, else `realloc(p, n * m)` |
//! | `memalign(a, n)`, `aligned_alloc(a, n)` | glibc 2.36's `_mid_memalign`: `a` above `SIZE_MAX / 2 + 1`: `EINVAL`; any other `a` is rounded up to a power of two (0 and 1 mean `malloc`'s alignment); `aligned_alloc` is `memalign` (glibc 2.38 rejects non-powers of two, 2.36 does not) |
//! | `posix_memalign(&p, a, n)` | returns `EINVAL` (errno untouched) unless `a` is a power of two multiple of `sizeof(void *)`; returns `ENOMEM` when out of memory, with `errno` also `ENOMEM` as glibc 2.36 leaves it; `p` untouched on failure |
//! | `valloc(n)` | `memalign(page, n)` |
//! | `pvalloc(n)` | `memalign(page, n rounded up to pages)`; `ENOMEM` on overflow |
//! | `malloc_usable_size(NULL)` | 0 |
//! | `free`, `cfree`, `free_sized`, `free_aligned_sized` | never change `errno`; NULL is a no-op |
//!
//! glibc's own extensions answer from the backend's statistics (see each
//! function). The backend's thread-local state uses initial-exec TLS: the
//! library is loaded at start-up (preload or link), never with `dlopen`.
//! Nothing on the allocation paths needs a constructor: the backend
//! initialises itself on its first call, which may come from the dynamic
//! loader before any constructor has run, and no allocation path calls
//! `dlsym`. One constructor (`at_load`, at the end) only checks that the
//! library was not loaded with `dlopen` after start-up, and says so if it
//! was.

use core::ffi::{c_int, c_void, CStr};
use core::fmt::Write as _;

use crate::backend::{self, Backend, Heap};
use crate::errno;

#[cfg(gb_backend = "system")]
compile_error!(
    "feature `override` needs a backend of its own (jemalloc or mimalloc): the system backend \
     is the C library's malloc, which the override replaces"
);
#[cfg(feature = "checked")]
compile_error!("features `override` and `checked` cannot be combined");
#[cfg(feature = "dlopen")]
compile_error!(
    "features `override` and `dlopen` cannot be combined: the override is loaded at start-up \
     (LD_PRELOAD or linked first), where initial-exec TLS is right"
);
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!("feature `override` is implemented for Linux on x86-64 and AArch64 only");

/// Largest size any function accepts: `PTRDIFF_MAX`.
const MAX_SIZE: usize = isize::MAX as usize;

/// Largest alignment glibc's `memalign` accepts (`SIZE_MAX / 2 + 1`); above
/// it, `EINVAL`.
const MAX_ALIGNMENT: usize = usize::MAX / 2 + 1;

#[cold]
#[inline(never)]
fn fail(code: c_int) -> *mut c_void {
    errno::set(code);
    core::ptr::null_mut()
}

/// Runs an allocation and, on the mimalloc backend, puts `errno` back when it
/// succeeds: mimalloc can leave the `errno` of a failed system call behind in
/// a successful allocation (seen: `EINVAL` after `malloc(0)` and
/// `memalign(1 MiB, 10)`), and glibc never does. jemalloc leaves `errno`
/// alone on success, so there this is the allocation itself.
#[inline(always)]
fn keep_errno(allocate: impl FnOnce() -> *mut c_void) -> *mut c_void {
    #[cfg(gb_backend = "mimalloc")]
    {
        // SAFETY: the calling thread's errno, valid for the thread's life.
        let location = unsafe { libc::__errno_location() };
        // SAFETY: as above.
        let saved = unsafe { *location };
        let block = allocate();
        if !block.is_null() {
            // SAFETY: as above.
            unsafe { *location = saved };
        }
        block
    }
    #[cfg(not(gb_backend = "mimalloc"))]
    allocate()
}

/// Requests of this many bytes or more start jemalloc's background thread
/// the first time (src/backend/jemalloc_conf.c, `graphbit_alloc_large_block`).
#[cfg(gb_backend = "jemalloc")]
const LARGE_BLOCK: usize = 1 << 20;

/// Before a request of `size` bytes: on jemalloc, a large one starts the
/// background thread, once per process. One comparison on the fast path.
#[inline(always)]
fn before_request(size: usize) {
    #[cfg(gb_backend = "jemalloc")]
    if size >= LARGE_BLOCK {
        extern "C" {
            fn graphbit_alloc_large_block();
        }
        // SAFETY: no preconditions; it allocates nothing itself.
        unsafe { graphbit_alloc_large_block() }
    }
    #[cfg(not(gb_backend = "jemalloc"))]
    let _ = size;
}

/// The system's page size, as `valloc` and `pvalloc` align to it.
fn page_size() -> usize {
    // SAFETY: no preconditions; sysconf allocates nothing.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        page as usize
    } else {
        4096
    }
}

/// glibc 2.36's `_mid_memalign`: the alignment is rounded up to a power of
/// two; the block comes from the backend's aligned allocation, so that it is
/// aligned as asked even where the backend's `malloc` gives small blocks
/// less than glibc's 16 bytes.
#[inline]
unsafe fn memalign_like_glibc(alignment: usize, size: usize) -> *mut c_void {
    before_request(size);
    if alignment <= 1 {
        // SAFETY: any size.
        return keep_errno(|| unsafe { Backend::alloc(size) });
    }
    if alignment > MAX_ALIGNMENT {
        return fail(libc::EINVAL);
    }
    let alignment = alignment.next_power_of_two();
    match size.checked_next_multiple_of(alignment) {
        Some(padded) if padded <= MAX_SIZE && alignment <= MAX_SIZE => {
            // SAFETY: a power of two, and the padded size fits.
            keep_errno(|| unsafe { Backend::aligned_alloc(alignment, size) })
        }
        _ => fail(libc::ENOMEM),
    }
}

/// `malloc(3)`: the backend's allocation. `malloc(0)` is a unique block;
/// above `PTRDIFF_MAX` or out of memory, NULL and `ENOMEM`.
#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    #[cfg(feature = "profiling")] // gb-profile hook: a check, then the tail call below
    if crate::profile::sampling() {
        // SAFETY: any size.
        return crate::profile::profiled_alloc(size, move || unsafe { malloc_unprofiled(size) });
    }
    // SAFETY: any size.
    unsafe { malloc_unprofiled(size) }
}

/// `malloc` itself.
#[inline(always)]
unsafe fn malloc_unprofiled(size: usize) -> *mut c_void {
    if cfg!(gb_backend = "jemalloc") && size >= 1 << 20 {
        // SAFETY: any size.
        return unsafe { malloc_large(size) };
    }
    // SAFETY: any size (the backend keeps the contract).
    keep_errno(|| unsafe { Backend::alloc(size) })
}

/// `malloc` of a large block, out of line so that the fast path stays a
/// comparison and a tail call.
#[cold]
#[inline(never)]
unsafe fn malloc_large(size: usize) -> *mut c_void {
    before_request(size);
    // SAFETY: any size.
    keep_errno(|| unsafe { Backend::alloc(size) })
}

/// `free(3)`: NULL or a block of this library; keeps `errno`.
#[no_mangle]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    #[cfg(feature = "profiling")] // gb-profile hook: a check, then the tail call below
    if crate::profile::tracking() {
        // SAFETY: as below.
        return crate::profile::profiled_free(ptr, move || unsafe { Backend::free(ptr) });
    }
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { Backend::free(ptr) }
}

/// `cfree`: the old SunOS name of `free` (glibc dropped it in 2.26; kept for
/// old binaries).
#[no_mangle]
pub unsafe extern "C" fn cfree(ptr: *mut c_void) {
    profile_hook!(before_free(ptr));
    // SAFETY: as free.
    unsafe { Backend::free(ptr) }
}

/// `calloc(3)`: zeroed; an overflowing product or one above `PTRDIFF_MAX`:
/// NULL and `ENOMEM`.
#[no_mangle]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    before_request(count.saturating_mul(size));
    // SAFETY: any arguments (the backend checks the product).
    let block = keep_errno(|| unsafe { Backend::calloc(count, size) });
    profile_hook!(after_alloc(block, count.wrapping_mul(size)));
    block
}

/// `realloc(3)` as glibc: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)`
/// frees `p` and returns NULL (errno untouched); on failure NULL, `ENOMEM`,
/// `p` kept.
#[no_mangle]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // The sample of `ptr` goes first (after, another thread could get the
    // address); the result is a new allocation.
    profile_hook!(before_free(ptr));
    if size == 0 && !ptr.is_null() {
        // SAFETY: a live block (caller's contract).
        unsafe { Backend::free(ptr) };
        return core::ptr::null_mut();
    }
    before_request(size);
    // SAFETY: NULL or a live block; any size.
    let block = keep_errno(|| unsafe { Backend::realloc(ptr, size) });
    profile_hook!(after_alloc(block, size));
    block
}

/// `reallocarray(3)`: `realloc(p, count * size)`, or NULL and `ENOMEM` (with
/// `p` kept) when the product overflows.
#[no_mangle]
pub unsafe extern "C" fn reallocarray(ptr: *mut c_void, count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        // SAFETY: as realloc.
        Some(bytes) => unsafe { realloc(ptr, bytes) },
        None => fail(libc::ENOMEM),
    }
}

/// `memalign(3)` as glibc 2.36: an alignment above `SIZE_MAX / 2 + 1` is
/// `EINVAL`; any other is rounded up to a power of two.
#[no_mangle]
pub unsafe extern "C" fn memalign(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: any arguments.
    let block = unsafe { memalign_like_glibc(alignment, size) };
    profile_hook!(after_alloc(block, size));
    block
}

/// `aligned_alloc(3)`: in glibc 2.36 the same function as `memalign` (a
/// non-power-of-two alignment is rounded up, not refused).
#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: any arguments.
    let block = unsafe { memalign_like_glibc(alignment, size) };
    profile_hook!(after_alloc(block, size));
    block
}

/// `posix_memalign(3)`: returns `EINVAL` when `alignment` is not a power of
/// two multiple of `sizeof(void *)`, `ENOMEM` when the block cannot be had
/// (then `errno` is `ENOMEM` too, as glibc 2.36 leaves it: its
/// `posix_memalign` fails through the allocation that sets it); `*out` is
/// written only on success.
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(
    out: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    let word = core::mem::size_of::<*mut c_void>();
    if !alignment.is_power_of_two() || alignment < word {
        return libc::EINVAL;
    }
    // SAFETY: any arguments.
    let block = unsafe { memalign_like_glibc(alignment, size) };
    if block.is_null() {
        return libc::ENOMEM;
    }
    profile_hook!(after_alloc(block, size));
    // SAFETY: the caller passes a writable pointer.
    unsafe { *out = block };
    0
}

/// `valloc(3)`: `memalign(page size, size)`.
#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: any arguments.
    let block = unsafe { memalign_like_glibc(page_size(), size) };
    profile_hook!(after_alloc(block, size));
    block
}

/// `pvalloc(3)`: `size` rounded up to whole pages, page-aligned; `ENOMEM`
/// when the rounding overflows.
#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let page = page_size();
    match size.checked_next_multiple_of(page) {
        // SAFETY: any arguments.
        Some(rounded) => {
            // SAFETY: any arguments.
            let block = unsafe { memalign_like_glibc(page, rounded) };
            profile_hook!(after_alloc(block, rounded));
            block
        }
        None => fail(libc::ENOMEM),
    }
}

/// `malloc_usable_size(3)`: bytes usable in the block; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(ptr: *mut c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: a live block (caller's contract).
    unsafe { Backend::usable_size(ptr) }
}

/// C23 `free_sized`: `size` is the size the block from `malloc`, `calloc`
/// or `realloc` was asked with; NULL is a no-op; a size above `PTRDIFF_MAX`
/// cannot be right and the block is freed as by `free`. Keeps `errno`.
#[no_mangle]
pub unsafe extern "C" fn free_sized(ptr: *mut c_void, size: usize) {
    // SAFETY: as gb_free_sized (the same contract).
    unsafe { crate::ffi::gb_free_sized(ptr, size) }
}

/// C23 `free_aligned_sized` for a block from `aligned_alloc(alignment,
/// size)`; NULL is a no-op; an alignment that is not a power of two (which
/// glibc's rounding served as the next one) or a size above `PTRDIFF_MAX`:
/// the block is freed as by `free`. Keeps `errno`.
#[no_mangle]
pub unsafe extern "C" fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    if alignment <= 1 {
        // aligned_alloc(0 or 1, n) was served by malloc(n).
        // SAFETY: as free_sized.
        return unsafe { crate::ffi::gb_free_sized(ptr, size) };
    }
    // SAFETY: as gb_free_aligned_sized (the same contract).
    unsafe { crate::ffi::gb_free_aligned_sized(ptr, alignment, size) }
}

// The names glibc's own malloc also answers to, for programs (and static
// links) that call them; jemalloc and mimalloc define them too.

/// `__libc_malloc`: `malloc`.
#[no_mangle]
pub unsafe extern "C" fn __libc_malloc(size: usize) -> *mut c_void {
    // SAFETY: as malloc.
    unsafe { malloc(size) }
}

/// `__libc_free`: `free`.
#[no_mangle]
pub unsafe extern "C" fn __libc_free(ptr: *mut c_void) {
    profile_hook!(before_free(ptr));
    // SAFETY: as free.
    unsafe { Backend::free(ptr) }
}

/// `__libc_calloc`: `calloc`.
#[no_mangle]
pub unsafe extern "C" fn __libc_calloc(count: usize, size: usize) -> *mut c_void {
    // SAFETY: as calloc.
    unsafe { calloc(count, size) }
}

/// `__libc_realloc`: `realloc`.
#[no_mangle]
pub unsafe extern "C" fn __libc_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: as realloc.
    unsafe { realloc(ptr, size) }
}

/// `__libc_memalign`: `memalign`.
#[no_mangle]
pub unsafe extern "C" fn __libc_memalign(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: as memalign.
    unsafe { memalign(alignment, size) }
}

/// `__libc_valloc`: `valloc`.
#[no_mangle]
pub unsafe extern "C" fn __libc_valloc(size: usize) -> *mut c_void {
    // SAFETY: as valloc.
    unsafe { valloc(size) }
}

/// `__libc_pvalloc`: `pvalloc`.
#[no_mangle]
pub unsafe extern "C" fn __libc_pvalloc(size: usize) -> *mut c_void {
    // SAFETY: as pvalloc.
    unsafe { pvalloc(size) }
}

// glibc's extensions.

/// The backend's figures in bytes, 0 where it keeps none: (in use, held
/// from the system).
fn usage() -> (u64, u64) {
    let stats = backend::stats();
    let in_use = stats.allocated.or(stats.active).unwrap_or(0);
    let system = stats
        .mapped
        .or(stats.resident)
        .unwrap_or(0)
        .max(stats.active.unwrap_or(0))
        .max(in_use);
    (in_use, system)
}

/// `malloc_trim(3)`: gives the backend's unused memory back to the system
/// (`gb_trim`: jemalloc purges every arena, mimalloc collects). Returns 1 if
/// the backend's resident memory (mimalloc: committed memory) went down, 0
/// if it did not. `pad` is ignored: the backend keeps no top-of-heap slack to
/// pad.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: usize) -> c_int {
    // mimalloc reports no resident figure: its committed memory instead.
    let held = || {
        let stats = backend::stats();
        stats.resident.or(stats.active)
    };
    let before = held();
    let rc = backend::trim();
    let after = held();
    match (before, after) {
        (Some(before), Some(after)) if rc == 0 => c_int::from(after < before),
        _ => 0,
    }
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
#[derive(Default)]
pub struct Mallinfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

/// glibc's `struct mallinfo` (the `int` fields of old).
#[repr(C)]
#[derive(Default)]
pub struct Mallinfo {
    arena: c_int,
    ordblks: c_int,
    smblks: c_int,
    hblks: c_int,
    hblkhd: c_int,
    usmblks: c_int,
    fsmblks: c_int,
    uordblks: c_int,
    fordblks: c_int,
    keepcost: c_int,
}

/// `mallinfo2(3)`, from the backend's statistics: `arena` is every byte the
/// backend holds from the system (its mapped memory), `uordblks` the bytes
/// in live blocks (jemalloc's `stats.allocated`; mimalloc's committed
/// memory), `fordblks` the difference; the fields that count glibc's own
/// structures (free chunks, fastbins, mmapped regions, top-of-heap) are 0.
/// So `uordblks + hblkhd` (in use) and `arena + hblkhd` (held), the sums
/// programs compute, are the backend's.
#[no_mangle]
pub extern "C" fn mallinfo2() -> Mallinfo2 {
    let (in_use, system) = usage();
    Mallinfo2 {
        arena: system as usize,
        uordblks: in_use as usize,
        fordblks: system.saturating_sub(in_use) as usize,
        ..Mallinfo2::default()
    }
}

/// `mallinfo(3)`: `mallinfo2` with each field saturated at `INT_MAX`
/// (glibc truncates them).
#[no_mangle]
pub extern "C" fn mallinfo() -> Mallinfo {
    let info = mallinfo2();
    let int = |v: usize| c_int::try_from(v).unwrap_or(c_int::MAX);
    Mallinfo {
        arena: int(info.arena),
        uordblks: int(info.uordblks),
        fordblks: int(info.fordblks),
        ..Mallinfo::default()
    }
}

/// `mallopt(3)`: glibc's tunables (arenas, mmap threshold, trim threshold,
/// ...) name glibc's own structures, which the backend does not have, so no
/// parameter is applied and each call returns 0, which glibc documents as
/// the error answer. The backend's settings are its own (`_RJEM_MALLOC_CONF`,
/// `MIMALLOC_*`).
#[no_mangle]
pub extern "C" fn mallopt(_param: c_int, _value: c_int) -> c_int {
    0
}

/// A formatter into a fixed buffer on the stack (text that does not fit is
/// cut off), so the reports below allocate nothing.
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn new() -> Self {
        StackText {
            buf: [0; N],
            len: 0,
        }
    }

    /// The text written, NUL-terminated.
    fn as_c_str(&mut self) -> &CStr {
        let end = self.len.min(N - 1);
        self.buf[end] = 0;
        CStr::from_bytes_until_nul(&self.buf[..=end]).unwrap_or(c"")
    }
}

impl<const N: usize> core::fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = (N - 1).saturating_sub(self.len);
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// `malloc_stats(3)`: writes glibc's summary block to standard error, with
/// the backend's figures (as `mallinfo2`), after a line naming the backend.
#[no_mangle]
pub extern "C" fn malloc_stats() {
    let (in_use, system) = usage();
    let mut text = StackText::<512>::new();
    let backend_version = backend::version().to_str().unwrap_or("?");
    let _ = write!(
        text,
        "graphbit-alloc {} ({} {backend_version}):\nTotal (incl. mmap):\nsystem bytes     = {system:10}\nin use bytes     = {in_use:10}\nmax mmap regions = {:10}\nmax mmap bytes   = {:10}\n",
        env!("CARGO_PKG_VERSION"),
        crate::diagnostics::backend_name(),
        0,
        0
    );
    let text = text.as_c_str().to_bytes();
    // SAFETY: writes the bytes of a live buffer to fd 2.
    let _ = unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
}

/// `malloc_info(3)`: `options` must be 0 (else it returns `EINVAL`, with
/// `errno` untouched, as glibc 2.36 does);
/// writes an XML document shaped as glibc's (`<malloc version="1">` with
/// `total`, `system` and `aspace` elements) from the backend's figures, plus
/// one `<backend>` element with the backend's own statistics.
#[no_mangle]
pub unsafe extern "C" fn malloc_info(options: c_int, stream: *mut libc::FILE) -> c_int {
    if options != 0 {
        return libc::EINVAL;
    }
    let (in_use, system) = usage();
    let stats = backend::stats();
    let figure = |v: Option<u64>| v.map_or(-1i128, i128::from);
    let mut text = StackText::<1024>::new();
    let _ = write!(
        text,
        "<malloc version=\"1\">\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n<total type=\"rest\" count=\"0\" size=\"{free}\"/>\n<total type=\"mmap\" count=\"0\" size=\"0\"/>\n<system type=\"current\" size=\"{system}\"/>\n<system type=\"max\" size=\"{system}\"/>\n<aspace type=\"total\" size=\"{system}\"/>\n<aspace type=\"mprotect\" size=\"{system}\"/>\n<backend name=\"{}\" version=\"{}\" in_use=\"{in_use}\" allocated=\"{}\" active=\"{}\" resident=\"{}\" mapped=\"{}\" retained=\"{}\"/>\n</malloc>\n",
        crate::diagnostics::backend_name(),
        backend::version().to_str().unwrap_or("?"),
        figure(stats.allocated),
        figure(stats.active),
        figure(stats.resident),
        figure(stats.mapped),
        figure(stats.retained),
        free = system.saturating_sub(in_use),
    );
    // SAFETY: a NUL-terminated string and the caller's stream.
    let rc = unsafe { libc::fputs(text.as_c_str().as_ptr(), stream) };
    if rc < 0 {
        -1
    } else {
        0
    }
}

// C++ `operator new` and `operator delete`: their bodies are C++
// (src/override_new.cpp: the new-handler loop, then `std::bad_alloc`), so
// that an exception crosses no Rust frame. Each exported name is a naked
// jump to its C++ body: a Rust cdylib exports only the symbols Rust
// defines, and the jump leaves no frame behind for the unwinder to cross.
macro_rules! cxx_exports {
    ($($export:literal => $body:ident),* $(,)?) => {
        $(
            const _: () = {
                extern "C" {
                    fn $body();
                }
                #[doc = concat!("C++ `", $export, "` (src/override_new.cpp).")]
                #[unsafe(naked)]
                #[export_name = $export]
                pub unsafe extern "C" fn export() {
                    #[cfg(target_arch = "x86_64")]
                    core::arch::naked_asm!("jmp {}", sym $body);
                    #[cfg(target_arch = "aarch64")]
                    core::arch::naked_asm!("b {}", sym $body);
                }
            };
        )*
    };
}

cxx_exports! {
    "_Znwm" => gb_override_cxx_new,
    "_Znam" => gb_override_cxx_new,
    "_ZnwmRKSt9nothrow_t" => gb_override_cxx_new_nothrow,
    "_ZnamRKSt9nothrow_t" => gb_override_cxx_new_nothrow,
    "_ZnwmSt11align_val_t" => gb_override_cxx_new_aligned,
    "_ZnamSt11align_val_t" => gb_override_cxx_new_aligned,
    "_ZnwmSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_new_aligned_nothrow,
    "_ZnamSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_new_aligned_nothrow,
    "_ZdlPv" => gb_override_cxx_delete,
    "_ZdaPv" => gb_override_cxx_delete,
    "_ZdlPvRKSt9nothrow_t" => gb_override_cxx_delete,
    "_ZdaPvRKSt9nothrow_t" => gb_override_cxx_delete,
    "_ZdlPvm" => gb_override_cxx_delete_sized,
    "_ZdaPvm" => gb_override_cxx_delete_sized,
    "_ZdlPvSt11align_val_t" => gb_override_cxx_delete_aligned,
    "_ZdaPvSt11align_val_t" => gb_override_cxx_delete_aligned,
    "_ZdlPvSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_delete_aligned,
    "_ZdaPvSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_delete_aligned,
    "_ZdlPvmSt11align_val_t" => gb_override_cxx_delete_sized_aligned,
    "_ZdaPvmSt11align_val_t" => gb_override_cxx_delete_sized_aligned,
}

/// At load time: if the process's `malloc` is not this library's, the library
/// was loaded with `dlopen` after start-up (possible only where glibc has
/// static TLS to spare, `GLIBC_TUNABLES=glibc.rtld.optional_static_tls`;
/// otherwise `dlopen` already failed with "cannot allocate memory in static
/// TLS block"). Every block the process already has, and every one it gets
/// from `malloc` later, is the C library's: say so in one line on stderr.
/// The `gb_*` functions still work. Preloaded or linked, the check finds
/// this library's `malloc` and prints nothing.
#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;

extern "C" fn at_load() {
    if crate::verify::process_malloc_is_ours() {
        return;
    }
    let line = b"graphbit-alloc: libgraphbit_alloc_override.so was loaded after start-up \
(dlopen), so the process's malloc is still the C library's; preload it \
(LD_PRELOAD=/path/to/libgraphbit_alloc_override.so) or link it before the C library\n";
    // SAFETY: a buffer of line.len() bytes; a failed write is ignored.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}
