//! What the library is and whether it works: names, versions, verification.

use core::ffi::c_char;

use crate::{backend, verify};

/// Name of the backend this library was built with: "jemalloc", "mimalloc"
/// or "system". A static string; never NULL.
#[no_mangle]
pub extern "C" fn gb_allocator_name() -> *const c_char {
    backend::NAME.as_ptr()
}

/// The backend's own version string (for example "5.3.1-0-g81034ce1..." for
/// jemalloc, "3.3.2" for mimalloc, "glibc 2.36" for system). A static string;
/// never NULL.
#[no_mangle]
pub extern "C" fn gb_allocator_version() -> *const c_char {
    backend::version().as_ptr()
}

/// This library's version, "MAJOR.MINOR.PATCH". A static string; never NULL.
/// Compare with the header's `GB_VERSION_STRING` to catch a mismatch.
#[no_mangle]
pub extern "C" fn gb_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// This library's version as one number, `MAJOR * 10000 + MINOR * 100 +
/// PATCH`: the header's `GB_VERSION_NUMBER` for the library actually loaded.
#[no_mangle]
pub extern "C" fn gb_version_number() -> u32 {
    VERSION_NUMBER
}

/// `MAJOR * 10000 + MINOR * 100 + PATCH`, from Cargo.toml.
const VERSION_NUMBER: u32 = parse_u32(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
    + parse_u32(env!("CARGO_PKG_VERSION_MINOR")) * 100
    + parse_u32(env!("CARGO_PKG_VERSION_PATCH"));

const fn parse_u32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// Checks, with real allocations, that the backend serves `gb_alloc` and
/// Rust's global allocator inside the library, and that the host's `malloc`
/// was not replaced. Returns true only if every check passes.
#[no_mangle]
pub extern "C" fn gb_verify() -> bool {
    verify::run().passed()
}
