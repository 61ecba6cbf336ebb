//! The C API as a table of function pointers, so the same Rust code can call
//! the shared library loaded with `dlopen` (the tests: the crate's rlib cannot
//! be linked into a test built with unwinding, and a C host sees the `.so`
//! anyway) or the functions linked in from the rlib (the fuzz target).

use core::ffi::{c_char, c_void};

#[derive(Clone, Copy)]
pub struct Api {
    pub alloc: unsafe extern "C" fn(usize) -> *mut c_void,
    pub calloc: unsafe extern "C" fn(usize, usize) -> *mut c_void,
    pub realloc: unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void,
    pub aligned_alloc: unsafe extern "C" fn(usize, usize) -> *mut c_void,
    pub free: unsafe extern "C" fn(*mut c_void),
    pub free_sized: unsafe extern "C" fn(*mut c_void, usize),
    pub free_aligned_sized: unsafe extern "C" fn(*mut c_void, usize, usize),
    pub usable_size: unsafe extern "C" fn(*const c_void) -> usize,
    pub allocator_name: unsafe extern "C" fn() -> *const c_char,
}

static API: std::sync::OnceLock<Api> = std::sync::OnceLock::new();

/// Sets the table the model and the stress call (first caller wins).
pub fn install(api: Api) {
    let _ = API.set(api);
}

/// The installed table.
pub fn api() -> &'static Api {
    API.get().expect("model::api::install was not called")
}

/// Loads the shared library at `path` and installs its functions.
pub fn install_shared_library(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path; the handle is never closed.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!handle.is_null(), "dlopen {} failed", path.display());
    let symbol = |name: &str| {
        let c = std::ffi::CString::new(name).unwrap();
        // SAFETY: a live handle and a NUL-terminated name.
        let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
        assert!(!p.is_null(), "{name} missing from {}", path.display());
        p
    };
    // SAFETY: each symbol has the signature the header declares.
    unsafe {
        install(Api {
            alloc: core::mem::transmute::<*mut c_void, unsafe extern "C" fn(usize) -> *mut c_void>(
                symbol("gb_alloc"),
            ),
            calloc: core::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(usize, usize) -> *mut c_void,
            >(symbol("gb_calloc")),
            realloc: core::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void,
            >(symbol("gb_realloc")),
            aligned_alloc: core::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(usize, usize) -> *mut c_void,
            >(symbol("gb_aligned_alloc")),
            free: core::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(symbol(
                "gb_free",
            )),
            free_sized: core::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void, usize)>(
                symbol("gb_free_sized"),
            ),
            free_aligned_sized: core::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(*mut c_void, usize, usize),
            >(symbol("gb_free_aligned_sized")),
            usable_size: core::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(*const c_void) -> usize,
            >(symbol("gb_usable_size")),
            allocator_name: core::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn() -> *const c_char,
            >(symbol("gb_allocator_name")),
        });
    }
}
