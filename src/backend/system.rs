//! The C library's own allocator (`malloc`, `posix_memalign`, `free`). Useful
//! as a baseline and for tools that only understand the system allocator
//! (AddressSanitizer, valgrind).

use core::ffi::{c_void, CStr};

#[cfg(windows)]
compile_error!(
    "backend-system is not supported on Windows (its aligned blocks need _aligned_free); use the default mimalloc backend"
);

/// The backend's name as `gb_allocator_name` reports it.
pub(crate) const NAME: &CStr = c"system";

/// Rust's global allocator for this backend.
#[cfg_attr(feature = "no-global-allocator", allow(dead_code))]
pub(crate) type RustAllocator = std::alloc::System;
/// The value installed as `#[global_allocator]`.
#[cfg_attr(feature = "no-global-allocator", allow(dead_code))]
pub(crate) const RUST_ALLOCATOR: RustAllocator = std::alloc::System;

/// The C library's version, e.g. "glibc 2.36".
pub fn version() -> &'static CStr {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::OnceLock;
        static VERSION: OnceLock<std::ffi::CString> = OnceLock::new();
        VERSION.get_or_init(|| {
            // SAFETY: returns a static NUL-terminated string.
            let v = unsafe { CStr::from_ptr(libc::gnu_get_libc_version()) };
            std::ffi::CString::new(format!("glibc {}", v.to_string_lossy())).unwrap_or_default()
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        c"libc"
    }
}

// C allows malloc(0) to return NULL; asking for one byte keeps the
// "unique, non-NULL" promise on every C library.
#[inline]
pub unsafe fn alloc(size: usize) -> *mut c_void {
    // SAFETY: any size.
    unsafe { libc::malloc(size.max(1)) }
}

#[inline]
pub unsafe fn alloc_zeroed(count: usize, size: usize) -> *mut c_void {
    if count == 0 || size == 0 {
        // SAFETY: any size.
        return unsafe { libc::calloc(1, 1) };
    }
    // SAFETY: the caller has checked that count * size does not overflow.
    unsafe { libc::calloc(count, size) }
}

#[inline]
pub unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: a live block of this backend, size at least 1.
    unsafe { libc::realloc(ptr, size) }
}

pub unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    // posix_memalign wants a multiple of sizeof(void *).
    let alignment = alignment.max(core::mem::size_of::<*mut c_void>());
    let mut block: *mut c_void = core::ptr::null_mut();
    // SAFETY: alignment is a power of two and a multiple of sizeof(void *).
    let rc = unsafe { libc::posix_memalign(&mut block, alignment, size.max(1)) };
    if rc != 0 {
        return core::ptr::null_mut();
    }
    block
}

#[inline]
pub unsafe fn free(ptr: *mut c_void) {
    // SAFETY: NULL or a live block of this backend.
    unsafe { libc::free(ptr) }
}

/// The C library has no sized free here; `free` finds the size itself.
#[inline]
pub unsafe fn free_sized(ptr: *mut c_void, _size: usize) {
    // SAFETY: a live block of this backend.
    unsafe { libc::free(ptr) }
}

#[inline]
pub unsafe fn free_aligned_sized(ptr: *mut c_void, _alignment: usize, _size: usize) {
    // SAFETY: a live block of this backend.
    unsafe { libc::free(ptr) }
}

#[inline]
pub unsafe fn usable_size(ptr: *const c_void) -> usize {
    #[cfg(target_os = "linux")]
    // SAFETY: a live block of this backend.
    unsafe {
        libc::malloc_usable_size(ptr.cast_mut())
    }
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    // SAFETY: a live block of this backend.
    unsafe {
        libc::malloc_size(ptr)
    }
    #[cfg(target_os = "freebsd")]
    // SAFETY: a live block of this backend.
    unsafe {
        libc::malloc_usable_size(ptr)
    }
}

/// See `owns`.
pub(crate) const CAN_TELL_OWNERSHIP: bool = false;

/// The system allocator keeps no map of its own pages that could be asked
/// safely about a foreign pointer, and every `malloc` block of the process is
/// its block anyway: ownership cannot be told apart here.
pub fn owns(_ptr: *const c_void) -> bool {
    false
}

/// Bytes the C library currently has handed out (`mallinfo2`: `uordblks +
/// hblkhd`), process-wide; `None` where the C library does not say.
pub fn allocation_counter() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: no preconditions (glibc >= 2.33).
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// glibc's `mallinfo2`: bytes in use (`uordblks + hblkhd`), bytes obtained
/// from the OS (`arena + hblkhd`) and free bytes kept (`fordblks`).
pub fn stats() -> super::Stats {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: no preconditions (glibc >= 2.33).
        let info = unsafe { libc::mallinfo2() };
        let in_use = (info.uordblks + info.hblkhd) as u64;
        super::Stats {
            allocated: Some(in_use),
            active: Some(in_use),
            resident: None,
            mapped: Some((info.arena + info.hblkhd) as u64),
            retained: Some(info.fordblks as u64),
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        super::Stats::default()
    }
}

/// Returns free memory at the top of the heap and in free pages to the OS
/// (`malloc_trim(0)`, where the C library has it).
pub fn trim() -> libc::c_int {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
    0
}

/// glibc's counters (`mallinfo2`) are always kept.
pub fn stats_enabled() -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

/// How the backend's thread-local state is reached.
pub(crate) const TLS_MODEL: &str = "C library (not part of this library)";

/// The C library's malloc is used as it is configured (glibc:
/// `GLIBC_TUNABLES=glibc.malloc.*`, `mallopt`).
pub fn settings() -> String {
    "the C library's own (glibc: GLIBC_TUNABLES=glibc.malloc.*)".into()
}

/// The C library's own statistics report (glibc: `malloc_info`, XML).
pub fn detailed_stats() -> String {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut buf: *mut core::ffi::c_char = core::ptr::null_mut();
        let mut len: usize = 0;
        // SAFETY: open_memstream allocates the buffer with malloc; we free it.
        unsafe {
            let stream = libc::open_memstream(&mut buf, &mut len);
            if stream.is_null() {
                return String::new();
            }
            libc::malloc_info(0, stream);
            libc::fclose(stream);
            let text = CStr::from_ptr(buf).to_string_lossy().into_owned();
            libc::free(buf.cast());
            text
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        String::new()
    }
}
