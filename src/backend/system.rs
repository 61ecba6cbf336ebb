//! The C library's own allocator (`malloc`, `posix_memalign`, `free`). Useful
//! as a baseline and for tools that only understand the system allocator
//! (AddressSanitizer, valgrind).

use core::ffi::{c_void, CStr};

use super::{Backend, Counter, Stats, MAX_SIZE};

#[cfg(feature = "override")]
compile_error!(
    "feature `override` needs a backend of its own (jemalloc or mimalloc): the system backend \
     is the C library's malloc, which the override replaces"
);
#[cfg(windows)]
compile_error!(
    "backend-system is not supported on Windows (its aligned blocks need _aligned_free); use the default mimalloc backend"
);

/// The allocation functions, as the C library's, with the contract's rows
/// checked here: the `malloc` this backend calls is often not glibc's but a
/// tool's (AddressSanitizer's, valgrind's), which is what this backend is
/// for, and those do not keep them (valgrind's `calloc` returns NULL without
/// `ENOMEM` on an overflowing product and reports sizes above `PTRDIFF_MAX`
/// as errors). C also lets `malloc(0)` return NULL, so a zero size asks for
/// one byte, and `free` may change `errno` (glibc's keeps it only since
/// 2.33), so it is kept here.
pub(crate) struct System;

impl Backend for System {
    #[inline(always)]
    unsafe fn alloc(size: usize) -> *mut c_void {
        if size > MAX_SIZE {
            return enomem();
        }
        // SAFETY: any size.
        null_is_enomem(unsafe { libc::malloc(size.max(1)) })
    }

    #[inline(always)]
    unsafe fn calloc(count: usize, size: usize) -> *mut c_void {
        match count.checked_mul(size) {
            // SAFETY: any size; zero sizes ask for one byte.
            Some(0) => null_is_enomem(unsafe { libc::calloc(1, 1) }),
            // SAFETY: the product does not overflow.
            Some(total) if total <= MAX_SIZE => {
                null_is_enomem(unsafe { libc::calloc(count, size) })
            }
            _ => enomem(),
        }
    }

    #[inline(always)]
    unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
        if size > MAX_SIZE {
            return enomem();
        }
        // SAFETY: NULL or a live block of this backend, size at least 1.
        null_is_enomem(unsafe { libc::realloc(ptr, size.max(1)) })
    }

    unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
        // posix_memalign wants a multiple of sizeof(void *).
        let alignment = alignment.max(core::mem::size_of::<*mut c_void>());
        let mut block: *mut c_void = core::ptr::null_mut();
        // SAFETY: alignment is a power of two and a multiple of sizeof(void *).
        let rc = unsafe { libc::posix_memalign(&mut block, alignment, size.max(1)) };
        if rc != 0 {
            return enomem();
        }
        block
    }

    #[inline(always)]
    unsafe fn free(ptr: *mut c_void) {
        // SAFETY: NULL or a live block of this backend.
        crate::sys::errno::preserve(|| unsafe { libc::free(ptr) })
    }

    // Its `free` with `errno` kept, as a C function.
    const C_FREE: unsafe extern "C" fn(*mut c_void) = super::free_of::<Self>;

    #[inline(always)]
    unsafe fn free_sized(ptr: *mut c_void, _size: usize) {
        // SAFETY: a live block of this backend; there is no sized free here.
        unsafe { Self::free(ptr) }
    }

    #[inline(always)]
    unsafe fn free_aligned_sized(ptr: *mut c_void, _alignment: usize, _size: usize) {
        // SAFETY: a live block of this backend.
        unsafe { Self::free(ptr) }
    }

    #[inline(always)]
    unsafe fn usable_size(ptr: *const c_void) -> usize {
        // SAFETY: a live block of this backend.
        unsafe { c_usable_size(ptr) }
    }

    const COUNTER: Counter = Counter::ProcessWide;
    const IS_C_LIBRARY_MALLOC: bool = true;

    /// The backend's name as `gb_allocator_name` reports it.
    const NAME: &'static CStr = c"system";

    /// Rust's global allocator for this backend.
    type RustAllocator = std::alloc::System;

    /// The value installed as `#[global_allocator]`.
    const RUST_ALLOCATOR: Self::RustAllocator = std::alloc::System;

    /// The C library's version, e.g. "glibc 2.36", formatted once into a static
    /// buffer (nothing allocated).
    fn version() -> &'static CStr {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            static VERSION: crate::diagnostics::StaticText<64> =
                crate::diagnostics::StaticText::new();
            VERSION.get(|out| {
                // SAFETY: returns a static NUL-terminated string.
                let v = unsafe { CStr::from_ptr(libc::gnu_get_libc_version()) };
                let _ = out.write_str("glibc ");
                let _ = crate::diagnostics::write_c_str(out, v);
            })
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            c"libc"
        }
    }

    /// See `owns`.
    const CAN_TELL_OWNERSHIP: bool = false;

    /// The system allocator keeps no map of its own pages that could be asked
    /// safely about a foreign pointer, and every `malloc` block of the process is
    /// its block anyway: ownership cannot be told apart here.
    fn owns(_ptr: *const c_void) -> bool {
        false
    }

    /// Bytes the C library currently has handed out (`mallinfo2`: `uordblks +
    /// hblkhd`), process-wide; `None` where the C library does not say.
    fn allocation_counter() -> Option<u64> {
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
    fn stats() -> Stats {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            // SAFETY: no preconditions (glibc >= 2.33).
            let info = unsafe { libc::mallinfo2() };
            let in_use = (info.uordblks + info.hblkhd) as u64;
            Stats {
                allocated: Some(in_use),
                active: Some(in_use),
                resident: None,
                mapped: Some((info.arena + info.hblkhd) as u64),
                retained: Some(info.fordblks as u64),
                allocations: None,
            }
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            Stats::default()
        }
    }

    /// Nothing. glibc offers no call that returns one thread's cached blocks
    /// (its tcache is flushed only at thread exit), and `malloc_trim(0)`
    /// walks every arena: `gb_trim`'s cost, not an idle hint's.
    fn thread_idle() -> libc::c_int {
        0
    }

    /// Returns free memory at the top of the heap and in free pages to the OS
    /// (`malloc_trim(0)`, where the C library has it).
    fn trim() -> libc::c_int {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: no preconditions.
        unsafe {
            libc::malloc_trim(0);
        }
        0
    }

    /// glibc's counters (`mallinfo2`) are always kept.
    fn stats_enabled() -> bool {
        cfg!(all(target_os = "linux", target_env = "gnu"))
    }

    /// How the backend's thread-local state is reached.
    const TLS_MODEL: &'static str = "C library (not part of this library)";

    /// The C library's malloc is used as it is configured (glibc:
    /// `GLIBC_TUNABLES=glibc.malloc.*`, `mallopt`): no settings of its own.
    fn settings() -> crate::diagnostics::Settings {
        use crate::diagnostics::{BuiltIn, Settings};
        Settings::new(
            BuiltIn::Description("the C library's own"),
            "glibc: GLIBC_TUNABLES=glibc.malloc.*",
        )
    }

    /// The C library's own statistics report (glibc: `malloc_info`, XML),
    /// written into `out` as glibc produces it.
    ///
    /// `malloc_info` writes to a `FILE`. The stream is a `fopencookie` stream
    /// whose write function passes each piece on to `out`: one pass both copies
    /// what fits and counts the rest, with no buffer of our own. (`fmemopen` over
    /// the caller's buffer cannot tell the length needed once it is full; a pipe
    /// needs a second thread to drain it past 64 KiB.) The stream is unbuffered,
    /// so glibc allocates only the `FILE` itself, with its own `malloc`, which
    /// returns NULL rather than abort when memory is short: then this returns
    /// `Err`.
    fn detailed_stats(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            use core::ffi::c_char;

            struct Sink<'a> {
                out: &'a mut dyn core::fmt::Write,
                result: core::fmt::Result,
            }
            /// glibc's `cookie_io_functions_t` (the libc crate does not have it).
            #[repr(C)]
            struct CookieIoFunctions {
                read: Option<unsafe extern "C" fn(*mut c_void, *mut c_char, usize) -> isize>,
                write: Option<unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> isize>,
                seek:
                    Option<unsafe extern "C" fn(*mut c_void, *mut i64, libc::c_int) -> libc::c_int>,
                close: Option<unsafe extern "C" fn(*mut c_void) -> libc::c_int>,
            }
            extern "C" {
                fn fopencookie(
                    cookie: *mut c_void,
                    mode: *const c_char,
                    functions: CookieIoFunctions,
                ) -> *mut libc::FILE;
            }
            unsafe extern "C" fn write(
                cookie: *mut c_void,
                text: *const c_char,
                len: usize,
            ) -> isize {
                // SAFETY: `cookie` is the Sink below, alive while the stream is
                // open; glibc passes `len` readable bytes.
                let (sink, bytes) = unsafe {
                    (
                        &mut *cookie.cast::<Sink<'_>>(),
                        core::slice::from_raw_parts(text.cast::<u8>(), len),
                    )
                };
                for chunk in bytes.utf8_chunks() {
                    if sink.result.is_ok() {
                        sink.result = sink.out.write_str(chunk.valid());
                    }
                    if sink.result.is_ok() && !chunk.invalid().is_empty() {
                        sink.result = sink.out.write_char(char::REPLACEMENT_CHARACTER);
                    }
                }
                len as isize // never a short write: a failure is kept in the sink
            }
            let mut sink = Sink {
                out,
                result: Ok(()),
            };
            let functions = CookieIoFunctions {
                read: None,
                write: Some(write),
                seek: None,
                close: None,
            };
            // SAFETY: the cookie outlives the stream, closed below; the write
            // function matches glibc's cookie_write_function_t.
            unsafe {
                let stream = fopencookie(
                    (&mut sink as *mut Sink<'_>).cast(),
                    c"w".as_ptr(),
                    functions,
                );
                if stream.is_null() {
                    return Err(core::fmt::Error);
                }
                libc::setvbuf(stream, core::ptr::null_mut(), libc::_IONBF, 0);
                let rc = libc::malloc_info(0, stream);
                libc::fclose(stream);
                if rc != 0 {
                    return Err(core::fmt::Error);
                }
            }
            sink.result
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            let _ = out;
            Ok(())
        }
    }
}

/// Sets `ENOMEM` when the C library (or the tool in its place) returned NULL.
#[inline(always)]
fn null_is_enomem(block: *mut c_void) -> *mut c_void {
    if block.is_null() {
        return enomem();
    }
    block
}

#[cold]
fn enomem() -> *mut c_void {
    crate::sys::errno::set(libc::ENOMEM);
    core::ptr::null_mut()
}

/// # Safety
/// `ptr` is a live block of this backend.
#[inline(always)]
unsafe fn c_usable_size(ptr: *const c_void) -> usize {
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
