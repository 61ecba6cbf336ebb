//! mimalloc, statically linked. Its functions keep their `mi_` names and never
//! replace the host's `malloc`; on ELF platforms it is built with the
//! local-dynamic TLS model with the `dlopen` feature, initial-exec without.

use core::ffi::{c_void, CStr};

use super::{Backend, Counter, Stats};

#[cfg(gb_backend_auto_dep)]
use graphbit_alloc_auto::{libmimalloc_sys as mi, mimalloc as mimalloc_crate};
#[cfg(not(gb_backend_auto_dep))]
use {libmimalloc_sys as mi, mimalloc as mimalloc_crate};

/// The allocation functions, as mimalloc's entry points. mimalloc does not
/// set `errno` when it runs out of memory, and its free path can (its retry
/// loops around `madvise` and `mmap` reset it), so these set and keep it.
pub(crate) struct Mimalloc;

/// Sets `ENOMEM` when mimalloc returned NULL.
#[inline(always)]
fn enomem_if_null(block: *mut c_void) -> *mut c_void {
    if block.is_null() {
        crate::sys::errno::set(libc::ENOMEM);
    }
    block
}

impl Backend for Mimalloc {
    #[inline(always)]
    unsafe fn alloc(size: usize) -> *mut c_void {
        // SAFETY: mi_malloc accepts any size (NULL above PTRDIFF_MAX).
        enomem_if_null(unsafe { mi::mi_malloc(size) })
    }

    #[inline(always)]
    unsafe fn calloc(count: usize, size: usize) -> *mut c_void {
        // SAFETY: mi_calloc checks the product itself.
        enomem_if_null(unsafe { mi::mi_calloc(count, size) })
    }

    #[inline(always)]
    unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
        // SAFETY: NULL or a live block of this backend.
        enomem_if_null(unsafe { mi::mi_realloc(ptr, size.max(1)) })
    }

    #[inline(always)]
    unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
        // SAFETY: alignment is a power of two.
        enomem_if_null(unsafe { mi::mi_malloc_aligned(size, alignment) })
    }

    #[inline(always)]
    unsafe fn free(ptr: *mut c_void) {
        // SAFETY: NULL or a live block of this backend.
        crate::sys::errno::preserve(|| unsafe { mi::mi_free(ptr) })
    }

    // Its `free` with `errno` kept, as a C function.
    const C_FREE: unsafe extern "C" fn(*mut c_void) = super::free_of::<Self>;

    #[inline(always)]
    unsafe fn free_sized(ptr: *mut c_void, size: usize) {
        // SAFETY: a live block of this backend.
        crate::sys::errno::preserve(|| unsafe { mi::mi_free_size(ptr, size) })
    }

    #[inline(always)]
    unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
        // SAFETY: a live block from `aligned_alloc(alignment, size)`.
        crate::sys::errno::preserve(|| unsafe { mi::mi_free_size_aligned(ptr, size, alignment) })
    }

    #[inline(always)]
    unsafe fn usable_size(ptr: *const c_void) -> usize {
        // SAFETY: a live block of this backend.
        unsafe { mi::mi_usable_size(ptr) }
    }

    /// mimalloc can leave the `errno` of a failed system call behind in a
    /// successful allocation (seen: `EINVAL` after `malloc(0)` and
    /// `memalign(1 MiB, 10)`), and glibc never does: put it back then.
    #[inline(always)]
    fn keeping_errno_on_success(allocate: impl FnOnce() -> *mut c_void) -> *mut c_void {
        crate::sys::errno::keep_on_success(allocate)
    }

    const COUNTER: Counter = Counter::None;

    /// The backend's name as `gb_allocator_name` reports it.
    const NAME: &'static CStr = c"mimalloc";

    /// Rust's global allocator for this backend.
    type RustAllocator = mimalloc_crate::MiMalloc;

    /// The value installed as `#[global_allocator]`.
    const RUST_ALLOCATOR: Self::RustAllocator = mimalloc_crate::MiMalloc;

    /// mimalloc's version as "major.minor.patch" (from `mi_version()`),
    /// formatted once into a static buffer (nothing allocated).
    fn version() -> &'static CStr {
        static VERSION: crate::diagnostics::StaticText<24> = crate::diagnostics::StaticText::new();
        VERSION.get(|out| {
            // SAFETY: no preconditions.
            let v = unsafe { mi::mi_version() };
            let _ = write!(out, "{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
        })
    }

    /// This backend can tell its own blocks from foreign pointers.
    const CAN_TELL_OWNERSHIP: bool = true;

    /// True if `ptr` lies in memory that mimalloc manages. Safe for any pointer
    /// value: mimalloc consults its own page map.
    fn owns(ptr: *const c_void) -> bool {
        // SAFETY: mi_is_in_heap_region accepts any pointer.
        !ptr.is_null() && unsafe { mi::mi_is_in_heap_region(ptr) }
    }

    /// mimalloc keeps no byte counter in release builds; ownership is the evidence.
    fn allocation_counter() -> Option<u64> {
        None
    }

    /// What mimalloc's release build counts: memory it has committed
    /// (`mi_process_info`). It keeps no count of live bytes, so `allocated` and
    /// `active` report committed memory, an upper bound of both (mimalloc 3.3
    /// does not lower the counter when it purges freed pages).
    fn stats() -> Stats {
        let (mut elapsed, mut user, mut system, mut rss, mut peak_rss) = (0, 0, 0, 0, 0);
        let (mut commit, mut peak_commit, mut faults) = (0, 0, 0);
        // SAFETY: every out-parameter is a valid usize.
        unsafe {
            mi::mi_process_info(
                &mut elapsed,
                &mut user,
                &mut system,
                &mut rss,
                &mut peak_rss,
                &mut commit,
                &mut peak_commit,
                &mut faults,
            )
        };
        Stats {
            allocated: Some(commit as u64),
            active: Some(commit as u64),
            resident: None,
            mapped: None,
            retained: None,
            allocations: None,
        }
    }

    /// `mi_collect(false)`, which frees what the calling thread's heap can
    /// give back without forcing (its delayed frees, empty pages); the rest
    /// follows mimalloc's own purge delay.
    fn thread_idle() -> libc::c_int {
        // SAFETY: no preconditions.
        unsafe { mi::mi_collect(false) };
        0
    }

    /// Frees what mimalloc holds for later reuse, now (`mi_collect(true)`).
    fn trim() -> libc::c_int {
        // SAFETY: no preconditions.
        unsafe { mi::mi_collect(true) };
        0
    }

    /// mimalloc's release build keeps only its essential counters.
    fn stats_enabled() -> bool {
        false
    }

    /// How the backend's thread-local state is reached.
    const TLS_MODEL: &'static str = if cfg!(any(target_os = "macos", windows)) {
        "platform default (mimalloc)"
    } else if cfg!(feature = "dlopen") {
        "local-dynamic (mimalloc built with -ftls-model=local-dynamic, so the library can be dlopen-ed)"
    } else {
        "initial-exec (mimalloc's default)"
    };

    /// mimalloc's options as in effect (its defaults, overridden by the
    /// `MIMALLOC_<NAME>` environment variables). Allocates nothing.
    fn settings() -> crate::diagnostics::Settings {
        use crate::diagnostics::{BuiltIn, SettingValue, Settings};
        let built_in = BuiltIn::Description(
            if cfg!(any(target_os = "linux", target_os = "android")) {
                "no_thp (mimalloc never madvises its memory for transparent huge pages, whatever allow_thp says)"
            } else {
                "mimalloc's defaults"
            },
        );
        let mut settings = Settings::new(built_in, "MIMALLOC_<OPTION> variables");
        for (name, option) in OPTIONS {
            // SAFETY: mi_option_get accepts any option number below _mi_option_last.
            let value = unsafe { mi::mi_option_get(option) };
            settings.push(name, SettingValue::Int(value as i64));
        }
        settings
    }

    /// mimalloc's own statistics report (`mi_stats_print_out`), written into
    /// `out` as mimalloc produces it.
    fn detailed_stats(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        use crate::diagnostics::CallbackSink;
        extern "C" fn write(text: *const core::ffi::c_char, sink: *mut c_void) {
            // SAFETY: `sink` is the CallbackSink passed below, alive for the
            // call; mimalloc passes a NUL-terminated string.
            unsafe { CallbackSink::accept(sink, text) }
        }
        let mut sink = CallbackSink::new(out);
        // SAFETY: the callback only writes into `sink`, which outlives the call.
        unsafe { mi::mi_stats_print_out(Some(write), (&mut sink as *mut CallbackSink<'_>).cast()) };
        sink.result
    }
}

/// The mimalloc options that decide its speed/footprint trade-off, by their
/// numbers in mimalloc 3's `mi_option_t` (libmimalloc-sys still lists v2's).
const OPTIONS: [(&str, mi::mi_option_t); 6] = [
    ("purge_delay", 15),
    ("arena_purge_mult", 24),
    ("purge_decommits", 5),
    ("arena_eager_commit", 4),
    ("allow_thp", 43),
    ("page_full_retain", 36),
];
