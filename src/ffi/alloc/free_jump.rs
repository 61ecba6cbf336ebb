//! `gb_free` on x86-64 Linux outside checked mode (cfg `gb_free_jumps`,
//! set by build.rs for Rust 1.88 or newer: naked functions), and in the
//! profiling builds `gb_alloc`. Their contracts are the doc comments of the
//! other definitions, in `src/ffi/alloc.rs`, which the header carries.

use core::ffi::c_void;

/// `gb_free` as one indirect jump through `heap::FREE` (a memory operand:
/// Rust would load the pointer first, then jump): to the backend's free
/// while no heap and no profile sample is live, else to the function that
/// knows heap blocks and drops samples. (cbindgen takes the declaration
/// from the other definition.)
///
/// cbindgen:ignore
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn gb_free(ptr: *mut c_void) {
    core::arch::naked_asm!("jmp qword ptr [rip + {free}]", free = sym crate::heap::FREE)
}

/// `gb_alloc` of a profiling build as one indirect jump through
/// `alloc::ALLOC`: to the backend's allocation function while the entry
/// points' sampler is off (jemalloc's own sampler, in a shared library,
/// needs nothing here), else to the function that counts down first.
/// (cbindgen takes the declaration from the other definition.)
///
/// cbindgen:ignore
#[cfg(feature = "profiling")]
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn gb_alloc(size: usize) -> *mut c_void {
    core::arch::naked_asm!("jmp qword ptr [rip + {alloc}]", alloc = sym super::ALLOC)
}
