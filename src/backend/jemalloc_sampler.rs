//! jemalloc's own sampler, for the profiler (Cargo feature `profiling`,
//! which builds jemalloc with `--enable-prof` and starts it with
//! `prof:true,prof_active:false`, src/backend/jemalloc_conf.c).
//!
//! jemalloc decides which allocations to sample on paths it takes anyway
//! (its thread-event counter; a sampled block gets an extent of its own, so
//! its free leaves the fast path by itself), so neither the allocation nor
//! the free fast path pays anything for it: what profiling costs while on
//! is the samples (docs/profiling.md, Cost). Its 5.3.1 hooks hand the
//! samples to the profiler's record, with stacks from the profiler's
//! unwinder:
//! - `experimental.hooks.prof_backtrace`: the stack of a sampled
//!   allocation, the library's own frames dropped;
//! - `experimental.hooks.prof_sample`: a sampled block, its size, usable
//!   size and stack;
//! - `experimental.hooks.prof_sample_free`: a sampled block freed.
//!
//! jemalloc calls them with its reentrancy guard up, so an allocation in
//! them is served but never sampled; they take the record's lock and
//! allocate nothing.

use core::ffi::{c_int, c_uint, c_void};

use super::jemalloc::write;

#[cfg(gb_backend_auto_dep)]
use graphbit_alloc_auto::tikv_jemalloc_sys as je;
#[cfg(not(gb_backend_auto_dep))]
use tikv_jemalloc_sys as je;

unsafe extern "C" fn backtrace(vec: *mut *mut c_void, len: *mut c_uint, max: c_uint) {
    let max = (max as usize).min(crate::profile::stack::MAX_DEPTH);
    // SAFETY: jemalloc passes room for `max` addresses and a length to set.
    unsafe {
        let frames = core::slice::from_raw_parts_mut(vec.cast::<usize>(), max);
        *len = crate::profile::stack::capture_in_library(frames) as c_uint;
    }
}

unsafe extern "C" fn sampled(
    block: *const c_void,
    size: usize,
    vec: *mut *mut c_void,
    len: c_uint,
    usable: usize,
) {
    // SAFETY: jemalloc passes the stack `backtrace` filled, of `len` frames.
    let frames =
        unsafe { core::slice::from_raw_parts(vec.cast::<usize>().cast_const(), len as usize) };
    crate::profile::backend_sampled(block as usize, size, usable, frames);
}

unsafe extern "C" fn freed(block: *const c_void, usable: usize) {
    crate::profile::backend_freed(block as usize, usable);
}

type Backtrace = unsafe extern "C" fn(*mut *mut c_void, *mut c_uint, c_uint);
type Sampled = unsafe extern "C" fn(*const c_void, usize, *mut *mut c_void, c_uint, usize);
type Freed = unsafe extern "C" fn(*const c_void, usize);

/// `Backend::sampler_start`: the hooks, `prof.reset` to the interval (which
/// forgets jemalloc's own counts), `prof.active`. Fails (jemalloc's errno
/// value) where jemalloc's profiler is off (`_RJEM_MALLOC_CONF=prof:false`).
pub(super) fn start(lg_interval: u32) -> c_int {
    // SAFETY: each name with its value's type (jemalloc 5.3.1's ctl.c).
    unsafe {
        let hooks = [
            write::<Backtrace>(c"experimental.hooks.prof_backtrace", backtrace),
            write::<Sampled>(c"experimental.hooks.prof_sample", sampled),
            write::<Freed>(c"experimental.hooks.prof_sample_free", freed),
        ];
        if let Some(&failed) = hooks.iter().find(|&&rc| rc != 0) {
            return failed;
        }
        let reset = write::<usize>(c"prof.reset", lg_interval as usize);
        if reset != 0 {
            return reset;
        }
        write::<bool>(c"prof.active", true)
    }
}

/// `Backend::sampler_stop`.
pub(super) fn stop() {
    // SAFETY: "prof.active" is a bool.
    unsafe { write::<bool>(c"prof.active", false) };
}

/// `Backend::usable_size_of`: jemalloc's `nallocx`.
pub(super) fn usable_size_of(size: usize) -> usize {
    // SAFETY: any size; 0 when it has no size class.
    unsafe { je::nallocx(size, 0) }
}
