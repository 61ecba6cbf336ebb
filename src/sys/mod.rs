//! The operating system, as the rest of the library needs it: `errno`,
//! memory mapped for checked mode's tables, `secure_getenv`, the resident
//! set, the page size, the dynamic loader's view of symbols, and writing to
//! standard error. Platform `cfg`s live here (and in the backends), nowhere
//! else; nothing here allocates.

use core::ffi::{c_void, CStr};

pub mod errno;

/// Writes `bytes` to standard error with one `write(2)`; a failed or short
/// write is ignored. Allocates nothing.
pub(crate) fn write_stderr(bytes: &[u8]) {
    #[cfg(unix)]
    // SAFETY: a buffer of bytes.len() bytes.
    unsafe {
        libc::write(2, bytes.as_ptr().cast(), bytes.len());
    }
    #[cfg(not(unix))]
    let _ = bytes;
}

/// The system's page size (4096 where it cannot be read).
#[allow(dead_code)] // used by the whole-process mode only
pub(crate) fn page_size() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: no preconditions; sysconf allocates nothing.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 {
            return page as usize;
        }
    }
    4096
}

/// The operating system's memory, zeroed, for a table; NULL when it cannot
/// be had. Keeps `errno`.
pub(crate) fn map(bytes: usize) -> *mut u8 {
    #[cfg(unix)]
    {
        errno::preserve(|| {
            // SAFETY: a fresh anonymous private mapping, no address given.
            let p = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANON,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                core::ptr::null_mut()
            } else {
                p.cast()
            }
        })
    }
    #[cfg(windows)]
    {
        // SAFETY: a fresh committed region, no address given (zeroed).
        unsafe { windows::VirtualAlloc(core::ptr::null_mut(), bytes, 0x3000, 0x04) }.cast()
    }
    #[cfg(not(any(unix, windows)))]
    {
        match std::alloc::Layout::from_size_align(bytes, 4096) {
            // SAFETY: a non-zero size (a table is never empty).
            Ok(layout) => unsafe { std::alloc::alloc_zeroed(layout) },
            Err(_) => core::ptr::null_mut(),
        }
    }
}

/// Gives back a region from `map(bytes)`. Keeps `errno`.
pub(crate) fn unmap(region: *mut u8, bytes: usize) {
    #[cfg(unix)]
    {
        // SAFETY: a mapping of `bytes` from `map`, no longer used.
        errno::preserve(|| unsafe { libc::munmap(region.cast(), bytes) });
    }
    #[cfg(windows)]
    {
        let _ = bytes;
        // SAFETY: a region from VirtualAlloc, no longer used (MEM_RELEASE).
        unsafe { windows::VirtualFree(region.cast(), 0, 0x8000) };
    }
    #[cfg(not(any(unix, windows)))]
    {
        if let Ok(layout) = std::alloc::Layout::from_size_align(bytes, 4096) {
            // SAFETY: allocated by `map` with this layout.
            unsafe { std::alloc::dealloc(region, layout) }
        }
    }
}

#[cfg(windows)]
mod windows {
    use core::ffi::c_void;
    #[link(name = "kernel32")]
    extern "system" {
        pub fn VirtualAlloc(
            address: *mut c_void,
            size: usize,
            kind: u32,
            protect: u32,
        ) -> *mut c_void;
        pub fn VirtualFree(address: *mut c_void, size: usize, kind: u32) -> i32;
    }
}

/// `secure_getenv` where the C library has it (glibc): NULL in a set-user-ID
/// or otherwise privileged process, whose environment is not trusted.
#[cfg(target_env = "gnu")]
pub(crate) unsafe fn getenv_unless_setuid(name: *const libc::c_char) -> *mut libc::c_char {
    extern "C" {
        fn secure_getenv(name: *const libc::c_char) -> *mut libc::c_char;
    }
    // SAFETY: the caller's NUL-terminated name.
    unsafe { secure_getenv(name) }
}

#[cfg(not(target_env = "gnu"))]
pub(crate) unsafe fn getenv_unless_setuid(name: *const libc::c_char) -> *mut libc::c_char {
    // SAFETY: the caller's NUL-terminated name.
    unsafe { libc::getenv(name) }
}

/// The process's resident set size now (`/proc/self/statm`), read into a
/// stack buffer.
pub(crate) fn current_resident() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a NUL-terminated path; the descriptor is closed below.
        let fd = unsafe {
            libc::open(
                c"/proc/self/statm".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        let mut text = [0u8; 128];
        // SAFETY: text has room for text.len() bytes.
        let n = unsafe { libc::read(fd, text.as_mut_ptr().cast(), text.len()) };
        // SAFETY: fd is open.
        unsafe { libc::close(fd) };
        let text = text.get(..usize::try_from(n).ok()?)?;
        // "size resident shared ...", in pages.
        let resident = text.split(|&b| b == b' ').nth(1)?;
        let pages = core::str::from_utf8(resident).ok()?.parse::<u64>().ok()?;
        // SAFETY: no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages * u64::try_from(page).ok()?)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Path of the loaded object that the process's symbol lookup finds for
/// `symbol` (what an unqualified call from the host would reach).
#[cfg(unix)]
pub(crate) fn object_defining(symbol: &CStr) -> Option<&'static CStr> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
    let address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, symbol.as_ptr()) };
    object_of(address as *const c_void)
}

/// Path of the loaded object that contains `address`, as the dynamic loader
/// records it.
///
/// The string belongs to the loader's entry for the object and lives as long
/// as the object stays loaded. It is taken as `'static` because both objects
/// asked about are never unloaded: this library (linked `-z nodelete`, or
/// part of the executable), and the object that defines the process's
/// `malloc`, which the global lookup finds among the objects loaded at
/// start-up (the executable, its preloads and dependencies: the C library)
/// before any that `dlopen` added, and those are never unloaded.
#[cfg(unix)]
pub(crate) fn object_of(address: *const c_void) -> Option<&'static CStr> {
    if address.is_null() {
        return None;
    }
    // SAFETY: Dl_info is plain data; dladdr fills it for any address.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::dladdr(address, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr returns a NUL-terminated path owned by the loader, alive
    // as long as the object (see above).
    Some(unsafe { CStr::from_ptr(info.dli_fname) })
}

// Without a dynamic loader interface there is no symbol evidence; the check
// then fails unless the backend's ownership test can speak for it.
#[cfg(not(unix))]
pub(crate) fn object_defining(_symbol: &CStr) -> Option<&'static CStr> {
    None
}

#[cfg(not(unix))]
pub(crate) fn object_of(_address: *const c_void) -> Option<&'static CStr> {
    None
}

/// Peak resident set size of the process (`getrusage`).
pub(crate) fn peak_resident_bytes() -> Option<u64> {
    // SAFETY: rusage is plain data.
    let mut usage: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: usage is a valid out-parameter.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    // Linux reports KiB, macOS bytes.
    let scale = if cfg!(target_os = "macos") { 1 } else { 1024 };
    Some(usage.ru_maxrss as u64 * scale)
}

/// [`at_fork`] once for the caller's `state` (0: not registered, 1: being
/// registered, 2: registered): when the C library cannot register them, the
/// state goes back to 0 and a later call tries again.
pub(crate) fn at_fork_once(
    state: &core::sync::atomic::AtomicU8,
    before: extern "C" fn(),
    after: extern "C" fn(),
) {
    use core::sync::atomic::Ordering;
    if state.load(Ordering::Acquire) == 2 {
        return;
    }
    if state
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        let rc = at_fork(before, after);
        state.store(if rc == 0 { 2 } else { 0 }, Ordering::Release);
    }
}

/// Registers functions to run around `fork`: `before` in the parent before
/// it, `after` in both processes after it (`pthread_atfork`). Returns 0, or
/// the error when the C library cannot register them (out of memory), so
/// that the caller can try again later. Keeps `errno`. Where there is no
/// `fork`, nothing to do: 0.
pub(crate) fn at_fork(before: extern "C" fn(), after: extern "C" fn()) -> libc::c_int {
    #[cfg(unix)]
    {
        // SAFETY: plain function pointers with no preconditions.
        errno::preserve(|| unsafe { libc::pthread_atfork(Some(before), Some(after), Some(after)) })
    }
    #[cfg(not(unix))]
    {
        let _ = (before, after);
        0
    }
}
