//! mimalloc, statically linked. Its functions keep their `mi_` names and never
//! replace the host's `malloc`; on ELF platforms it is built with the
//! local-dynamic TLS model so that the shared library can be `dlopen`-ed.
//! mimalloc does not set `errno`: the C API layer does.

use core::ffi::{c_void, CStr};
use std::sync::OnceLock;

use libmimalloc_sys as mi;

/// The backend's name as `gb_allocator_name` reports it.
pub(crate) const NAME: &CStr = c"mimalloc";

/// Rust's global allocator for this backend.
#[cfg_attr(feature = "no-global-allocator", allow(dead_code))]
pub(crate) type RustAllocator = mimalloc::MiMalloc;
/// The value installed as `#[global_allocator]`.
#[cfg_attr(feature = "no-global-allocator", allow(dead_code))]
pub(crate) const RUST_ALLOCATOR: RustAllocator = mimalloc::MiMalloc;

/// mimalloc's version as "major.minor.patch" (from `mi_version()`).
pub fn version() -> &'static CStr {
    static VERSION: OnceLock<std::ffi::CString> = OnceLock::new();
    VERSION.get_or_init(|| {
        // SAFETY: no preconditions.
        let v = unsafe { mi::mi_version() };
        let text = format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
        std::ffi::CString::new(text).unwrap_or_default()
    })
}

#[inline]
pub unsafe fn alloc(size: usize) -> *mut c_void {
    // SAFETY: mi_malloc accepts any size, 0 included.
    unsafe { mi::mi_malloc(size) }
}

#[inline]
pub unsafe fn alloc_zeroed(count: usize, size: usize) -> *mut c_void {
    // SAFETY: mi_calloc checks the product itself as well.
    unsafe { mi::mi_calloc(count, size) }
}

#[inline]
pub unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: a live block of this backend.
    unsafe { mi::mi_realloc(ptr, size) }
}

#[inline]
pub unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: alignment is a power of two.
    unsafe { mi::mi_malloc_aligned(size, alignment) }
}

#[inline]
pub unsafe fn free(ptr: *mut c_void) {
    // SAFETY: NULL or a live block of this backend.
    unsafe { mi::mi_free(ptr) }
}

/// mimalloc's sized free only checks the size in debug builds, so it is
/// correct for blocks from `aligned_alloc` as well.
#[inline]
pub unsafe fn free_sized(ptr: *mut c_void, size: usize) {
    // SAFETY: a live block of this backend.
    unsafe { mi::mi_free_size(ptr, size) }
}

#[inline]
pub unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
    // SAFETY: a live block from `aligned_alloc(alignment, size)`.
    unsafe { mi::mi_free_size_aligned(ptr, size, alignment) }
}

#[inline]
pub unsafe fn usable_size(ptr: *const c_void) -> usize {
    // SAFETY: a live block of this backend.
    unsafe { mi::mi_usable_size(ptr) }
}

/// This backend can tell its own blocks from foreign pointers.
pub(crate) const CAN_TELL_OWNERSHIP: bool = true;

/// True if `ptr` lies in memory that mimalloc manages. Safe for any pointer
/// value: mimalloc consults its own page map.
pub fn owns(ptr: *const c_void) -> bool {
    // SAFETY: mi_is_in_heap_region accepts any pointer.
    !ptr.is_null() && unsafe { mi::mi_is_in_heap_region(ptr) }
}

/// mimalloc keeps no byte counter in release builds; ownership is the evidence.
pub fn allocation_counter() -> Option<u64> {
    None
}

/// What mimalloc's release build counts: memory it has committed
/// (`mi_process_info`). It keeps no count of live bytes, so `allocated` and
/// `active` report committed memory, an upper bound of both (mimalloc 3.3
/// does not lower the counter when it purges freed pages).
pub fn stats() -> super::Stats {
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
    super::Stats {
        allocated: Some(commit as u64),
        active: Some(commit as u64),
        resident: None,
        mapped: None,
        retained: None,
    }
}

/// Frees what mimalloc holds for later reuse, now (`mi_collect(true)`).
pub fn trim() -> libc::c_int {
    // SAFETY: no preconditions.
    unsafe { mi::mi_collect(true) };
    0
}

/// mimalloc's release build keeps only its essential counters.
pub fn stats_enabled() -> bool {
    false
}

/// How the backend's thread-local state is reached.
pub(crate) const TLS_MODEL: &str = if cfg!(any(target_os = "macos", windows)) {
    "platform default (mimalloc)"
} else {
    "local-dynamic (mimalloc built with -ftls-model=local-dynamic, so the library can be dlopen-ed)"
};

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

/// mimalloc's options as in effect (its defaults, overridden by the
/// `MIMALLOC_<NAME>` environment variables).
pub fn settings() -> String {
    let values: Vec<String> = OPTIONS
        .iter()
        // SAFETY: mi_option_get accepts any option number below _mi_option_last.
        .map(|(name, option)| format!("{name}:{}", unsafe { mi::mi_option_get(*option) }))
        .collect();
    format!(
        "in effect: {}; built in: {}; run-time override: MIMALLOC_<OPTION> variables",
        values.join(","),
        if cfg!(any(target_os = "linux", target_os = "android")) {
            "no_thp (mimalloc never madvises its memory for transparent huge pages, whatever allow_thp says)"
        } else {
            "mimalloc's defaults"
        }
    )
}

/// mimalloc's own statistics report (`mi_stats_print_out`).
pub fn detailed_stats() -> String {
    extern "C" fn append(text: *const core::ffi::c_char, out: *mut c_void) {
        // SAFETY: `out` is the String passed below; mimalloc passes a C string.
        let (out, text) = unsafe { (&mut *(out as *mut String), CStr::from_ptr(text)) };
        out.push_str(&text.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call.
    unsafe { mi::mi_stats_print_out(Some(append), (&mut out as *mut String).cast()) };
    out
}
