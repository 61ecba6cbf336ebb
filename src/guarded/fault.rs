//! The pool's `SIGSEGV` handler, installed with the pool (at
//! the first sample): a fault inside the pool is a guard page or a freed
//! slot, named in one line before `abort`; any other fault goes to the
//! handler that was installed before (called as it asked to be, with
//! `SA_SIGINFO` or without), or, when that was the default action or
//! "ignore", the default action is restored and the faulting instruction
//! runs again, so the process dies of `SIGSEGV` as it would have.
//!
//! A program that installs its own `SIGSEGV` handler after the first sample
//! replaces this one: pool faults then reach that handler (docs/security.md).

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};

struct Previous(UnsafeCell<libc::sigaction>);

// SAFETY: written once by `install`, before the handler that reads it is
// installed, and never again.
unsafe impl Sync for Previous {}

// SAFETY: an all-zero sigaction is a valid value (SIG_DFL, no flags).
static PREVIOUS: Previous = Previous(UnsafeCell::new(unsafe { core::mem::zeroed() }));

/// Installs the handler (once, from the pool's start), keeping the previous
/// one to chain to.
pub(super) fn install() {
    // SAFETY: plain C structures; `PREVIOUS` is not read before the new
    // handler is in place.
    unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGSEGV, &action, PREVIOUS.0.get());
    }
}

/// Whether the faulting access was a write (x86-64: bit 1 of the page
/// fault's error code in the signal context).
#[cfg(target_arch = "x86_64")]
fn access(context: *mut c_void) -> &'static str {
    if context.is_null() {
        return "access";
    }
    // SAFETY: the kernel's ucontext_t for this signal.
    let error =
        unsafe { (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_ERR as usize] };
    if error & 2 != 0 {
        "write"
    } else {
        "read"
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn access(_context: *mut c_void) -> &'static str {
    "access"
}

extern "C" fn on_fault(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel's siginfo for SIGSEGV.
    let address = unsafe { (*info).si_addr() } as usize;
    if super::pool::contains(address) {
        super::pool::report_fault(address, access(context));
    }
    // SAFETY: PREVIOUS was written before this handler could run.
    unsafe {
        let previous = &*PREVIOUS.0.get();
        let handler = previous.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            libc::sigaction(signal, previous, core::ptr::null_mut());
            return;
        }
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                core::mem::transmute(handler);
            f(signal, info, context);
        } else {
            let f: extern "C" fn(c_int) = core::mem::transmute(handler);
            f(signal);
        }
    }
}
