//! `gb_free` on x86-64 Linux outside checked mode (cfg `gb_free_jumps`,
//! set by build.rs for Rust 1.88 or newer: naked functions). Its contract
//! is the doc comment of the other definition, in `src/ffi/alloc.rs`, which
//! the header carries.

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
