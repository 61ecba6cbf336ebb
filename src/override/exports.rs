//! The names the override answers to, one line each (as mimalloc's
//! `alloc-override.c` lists them): the C library's name, its signature, and
//! the function of `glibc.rs` that serves it, whose doc comment is the
//! contract. C++'s `operator new`/`delete` are in `cxx.rs`, glibc's
//! statistics and tunables in `extensions.rs`.

use core::ffi::{c_int, c_void};

use super::glibc;

/// Defines `#[no_mangle] extern "C" fn $name` as a call of `$body` (inlined:
/// the export is the body).
macro_rules! export {
    ($($name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $body:path;)*) => {
        $(
            #[doc = concat!("`", stringify!($name), "`: [`", stringify!($body), "`].")]
            #[no_mangle]
            pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: the C library's contract of this name, which is
                // the body's.
                unsafe { $body($($arg),*) }
            }
        )*
    };
}

export! {
    malloc(size: usize) -> *mut c_void = glibc::malloc;
    calloc(count: usize, size: usize) -> *mut c_void = glibc::calloc;
    realloc(ptr: *mut c_void, size: usize) -> *mut c_void = glibc::realloc;
    reallocarray(ptr: *mut c_void, count: usize, size: usize) -> *mut c_void = glibc::reallocarray;
    free(ptr: *mut c_void) = glibc::free;
    // The old SunOS name of `free` (glibc dropped it in 2.26; kept for old binaries).
    cfree(ptr: *mut c_void) = glibc::free;
    memalign(alignment: usize, size: usize) -> *mut c_void = glibc::memalign;
    // In glibc 2.36 the same function as `memalign` (a non-power-of-two
    // alignment is rounded up, not refused).
    aligned_alloc(alignment: usize, size: usize) -> *mut c_void = glibc::memalign;
    posix_memalign(out: *mut *mut c_void, alignment: usize, size: usize) -> c_int = glibc::posix_memalign;
    valloc(size: usize) -> *mut c_void = glibc::valloc;
    pvalloc(size: usize) -> *mut c_void = glibc::pvalloc;
    malloc_usable_size(ptr: *mut c_void) -> usize = glibc::malloc_usable_size;
    free_sized(ptr: *mut c_void, size: usize) = glibc::free_sized;
    free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) = glibc::free_aligned_sized;

    // The names glibc's own malloc also answers to, for programs (and static
    // links) that call them; jemalloc and mimalloc define them too.
    __libc_malloc(size: usize) -> *mut c_void = glibc::malloc;
    __libc_free(ptr: *mut c_void) = glibc::free;
    __libc_calloc(count: usize, size: usize) -> *mut c_void = glibc::calloc;
    __libc_realloc(ptr: *mut c_void, size: usize) -> *mut c_void = glibc::realloc;
    __libc_memalign(alignment: usize, size: usize) -> *mut c_void = glibc::memalign;
    __libc_valloc(size: usize) -> *mut c_void = glibc::valloc;
    __libc_pvalloc(size: usize) -> *mut c_void = glibc::pvalloc;
}
