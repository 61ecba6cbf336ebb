//! The hardened override (Cargo feature `override-hardened`, library
//! `libgraphbit_alloc_override_hardened.so`): whole-process mode for
//! production, with GWP-ASan's sampled guard pages on top (docs/security.md,
//! "The hardened override").
//!
//! One allocation in `GB_HARDENED_SAMPLE` (default 5000, read
//! once with `secure_getenv`; 0 turns sampling off) is served from a pool of
//! guarded slots (`src/guarded/pool.rs`) instead of the backend: the block ends where a
//! `PROT_NONE` page begins, so the first byte written or read past its end
//! faults; when it is freed its pages become `PROT_NONE` and stay so until
//! the slot is reused (the least recently freed slot first), so a read or
//! write after free faults as well. The fault handler (`src/guarded/fault.rs`) names the
//! block in one line and aborts; any other fault goes to the handler that
//! was there before.
//!
//! [`Hardened`] is a [`Backend`] over the selected one that `src/override/`
//! and `src/ffi/alloc.rs` call instead of the backend itself (one `use` line
//! each, as the checked override does), and C++ `new`/`delete` reach through
//! two hidden entry points (`entry_points.h`). Its fast paths add, to each
//! allocation, a thread-local countdown (x86-64: the variable's offset from
//! the GOT, `sub` and a branch: an initial-exec TLS symbol defined below)
//! and, to `realloc`, `malloc_usable_size` and `delete`, one comparison
//! against the pool. `free` adds nothing on jemalloc and x86-64: the pool is
//! placed away from jemalloc's mappings and kept out of the range that the
//! default override's guard lets through (`src/override/guard.rs`), so a
//! sampled block takes the guard's cold path, which tells it by its address.

use crate::guarded::pool;

use core::ffi::c_void;

use crate::backend::{Backend, Selected, LARGE_BLOCK, MAX_SIZE};

// The countdown: allocations left before the next sample (0 in a new thread,
// which sends its first allocation to the slow path, where it is drawn). An
// initial-exec TLS variable of the library (hidden: not exported), so that
// the fast path reaches it with `%fs` and one load of its offset instead of
// a call of `__tls_get_addr`, which is what Rust's own thread-locals cost in
// a shared object.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .tbss,\"awT\",@nobits",
    ".p2align 3",
    ".globl gb_hardened_countdown",
    ".hidden gb_hardened_countdown",
    ".type gb_hardened_countdown,@object",
    ".size gb_hardened_countdown,8",
    "gb_hardened_countdown:",
    ".zero 8",
    ".popsection",
);

/// Runs `$sampled` (which returns) when this allocation is the one to
/// sample, or the thread's countdown has not been drawn yet: on x86-64 three
/// instructions (the variable's offset from the GOT, a decrement through
/// `%fs`, a branch taken when it was 1 or 0).
#[cfg(target_arch = "x86_64")]
macro_rules! when_sampled {
    ($sampled:block) => {{
        let offset: usize;
        // SAFETY: reads the GOT entry the linker fills with the variable's
        // offset from the thread pointer (constant once the library is
        // loaded).
        unsafe {
            core::arch::asm!(
                "mov {offset}, qword ptr [rip + gb_hardened_countdown@GOTTPOFF]",
                offset = out(reg) offset,
                options(pure, readonly, nostack, preserves_flags),
            )
        };
        // SAFETY: decrements this thread's copy of the variable.
        unsafe {
            core::arch::asm!(
                "sub qword ptr fs:[{offset}], 1",
                "jbe {sampled}",
                offset = in(reg) offset,
                sampled = label $sampled,
                options(nostack),
            )
        };
    }};
}

#[cfg(not(target_arch = "x86_64"))]
macro_rules! when_sampled {
    ($sampled:block) => {{
        if countdown_expired() $sampled
    }};
}

/// Runs `$pool` (which returns) when `$ptr` lies in the pool: on x86-64 a
/// load of the pool's number (its address [`pool::SHIFT`] bits down, from a
/// hidden variable: no GOT), a copy, a shift, a comparison and a branch.
/// NULL and every block of the backend fall through. (An `asm goto` would
/// save the load's register but keeps the compiler from moving the entry
/// point's stack adjustment off the fast path.)
#[cfg(target_arch = "x86_64")]
macro_rules! when_in_pool {
    ($ptr:expr, $pool:block) => {{
        let high: usize;
        // SAFETY: a load of the library's own variable.
        unsafe {
            core::arch::asm!(
                "mov {high}, qword ptr [rip + gb_guarded_pool_high]",
                high = out(reg) high,
                options(pure, readonly, nostack, preserves_flags),
            )
        };
        if ($ptr as usize) >> pool::SHIFT == high $pool
    }};
}

#[cfg(not(target_arch = "x86_64"))]
macro_rules! when_in_pool {
    ($ptr:expr, $pool:block) => {{
        if pool::contains($ptr as usize) $pool
    }};
}

/// This thread's countdown.
#[cfg(target_arch = "x86_64")]
fn countdown() -> u64 {
    let value: u64;
    // SAFETY: as in when_sampled!; a load of this thread's copy.
    unsafe {
        core::arch::asm!(
            "mov {value}, qword ptr [rip + gb_hardened_countdown@GOTTPOFF]",
            "mov {value}, qword ptr fs:[{value}]",
            value = out(reg) value,
            options(nostack, readonly),
        );
    }
    value
}

/// Sets this thread's countdown.
#[cfg(target_arch = "x86_64")]
fn set_countdown(value: u64) {
    // SAFETY: as in when_sampled!; a store to this thread's copy.
    unsafe {
        core::arch::asm!(
            "mov {offset}, qword ptr [rip + gb_hardened_countdown@GOTTPOFF]",
            "mov qword ptr fs:[{offset}], {value}",
            offset = out(reg) _,
            value = in(reg) value,
            options(nostack),
        );
    }
}

#[cfg(not(target_arch = "x86_64"))]
thread_local! {
    static COUNTDOWN: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// Counts one allocation down (Rust's thread-local: a call of the TLS
/// resolver on this target).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn countdown_expired() -> bool {
    COUNTDOWN.with(|c| {
        let left = c.get();
        c.set(left.wrapping_sub(1));
        left <= 1
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn countdown() -> u64 {
    COUNTDOWN.with(|c| c.get())
}

#[cfg(not(target_arch = "x86_64"))]
fn set_countdown(value: u64) {
    COUNTDOWN.with(|c| c.set(value));
}

/// No sampled blocks on this thread any more (tests).
#[cfg(all(test, gb_backend = "jemalloc"))]
pub(crate) fn unguarded_thread() {
    set_countdown(u64::MAX);
}

/// The allocation that `when_sampled!` picked ([`crate::guarded::sample`]).
#[cold]
#[inline(never)]
fn sampled(size: usize, alignment: usize) -> *mut c_void {
    // A thread's countdown starts at 0, and the decrement wrapped it.
    crate::guarded::sample(countdown() == u64::MAX, size, alignment, set_countdown)
}

/// `free` of a pool block (out of line: `free`'s fast path stays a branch
/// and a tail call).
#[cold]
#[inline(never)]
fn free_from_pool(ptr: *mut c_void) {
    pool::free("free", ptr, None)
}

/// `malloc`'s sampled path: a pool block, or the backend's.
#[cold]
#[inline(never)]
fn sampled_alloc(size: usize) -> *mut c_void {
    let block = sampled(size, 0);
    if !block.is_null() {
        return block;
    }
    // SAFETY: any size.
    unsafe { Selected::alloc(size) }
}

/// `calloc`'s sampled path (pool blocks are zero).
#[cold]
#[inline(never)]
fn sampled_calloc(count: usize, size: usize) -> *mut c_void {
    if let Some(n) = count.checked_mul(size) {
        let block = sampled(n, 0);
        if !block.is_null() {
            return block;
        }
    }
    // SAFETY: any arguments.
    unsafe { Selected::calloc(count, size) }
}

/// Aligned allocation's sampled path (alignments up to a page).
#[cold]
#[inline(never)]
fn sampled_aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    let block = sampled(size, alignment);
    if !block.is_null() {
        return block;
    }
    // SAFETY: the caller's power of two and padded size.
    unsafe { Selected::aligned_alloc(alignment, size) }
}

/// `realloc`'s sampled path: the new block from the pool, the old one (of
/// the backend) copied and freed.
///
/// # Safety
/// `ptr` is NULL or a live block of the backend.
#[cold]
#[inline(never)]
unsafe fn sampled_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    let block = if size <= MAX_SIZE {
        sampled(size, 0)
    } else {
        core::ptr::null_mut()
    };
    if block.is_null() {
        // SAFETY: the caller's contract.
        return unsafe { Selected::realloc(ptr, size) };
    }
    if !ptr.is_null() {
        // SAFETY: a live block of the backend (caller's contract); both
        // hold min(old, size) bytes.
        unsafe {
            let old = Selected::usable_size(ptr);
            core::ptr::copy_nonoverlapping(ptr.cast::<u8>(), block.cast::<u8>(), old.min(size));
            Selected::free(ptr);
        }
    }
    block
}

/// The backend with sampled guarded allocations around it.
pub(crate) struct Hardened;

impl Backend for Hardened {
    #[inline(always)]
    unsafe fn alloc(size: usize) -> *mut c_void {
        when_sampled!({
            return sampled_alloc(size);
        });
        // SAFETY: any size.
        unsafe { Selected::alloc(size) }
    }

    #[inline(always)]
    unsafe fn calloc(count: usize, size: usize) -> *mut c_void {
        when_sampled!({
            return sampled_calloc(count, size);
        });
        // SAFETY: any arguments.
        unsafe { Selected::calloc(count, size) }
    }

    #[inline(always)]
    unsafe fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
        when_in_pool!(ptr, {
            // SAFETY: a pointer into the pool, checked there.
            return unsafe { realloc_from_pool(ptr, size) };
        });
        when_sampled!({
            // SAFETY: NULL or a live block of the backend.
            return unsafe { sampled_realloc(ptr, size) };
        });
        // SAFETY: NULL or a live block of the backend; any size.
        unsafe { Selected::realloc(ptr, size) }
    }

    #[inline(always)]
    unsafe fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
        when_sampled!({
            return sampled_aligned_alloc(alignment, size);
        });
        // SAFETY: the caller's power of two and padded size.
        unsafe { Selected::aligned_alloc(alignment, size) }
    }

    #[inline(always)]
    unsafe fn free(ptr: *mut c_void) {
        when_in_pool!(ptr, {
            return free_from_pool(ptr);
        });
        // SAFETY: NULL or a live block of the backend.
        unsafe { Selected::free(ptr) }
    }

    const C_FREE: unsafe extern "C" fn(*mut c_void) = crate::backend::free_of::<Self>;

    #[inline(always)]
    unsafe fn free_sized(ptr: *mut c_void, size: usize) {
        when_in_pool!(ptr, {
            return pool::free("free_sized", ptr, Some(size));
        });
        // SAFETY: as the caller promises.
        unsafe { Selected::free_sized(ptr, size) }
    }

    #[inline(always)]
    unsafe fn free_aligned_sized(ptr: *mut c_void, alignment: usize, size: usize) {
        when_in_pool!(ptr, {
            return pool::free("free_aligned_sized", ptr, Some(size));
        });
        // SAFETY: as the caller promises.
        unsafe { Selected::free_aligned_sized(ptr, alignment, size) }
    }

    #[inline(always)]
    unsafe fn usable_size(ptr: *const c_void) -> usize {
        when_in_pool!(ptr, {
            return pool::usable_size("malloc_usable_size", ptr);
        });
        // SAFETY: a live block of the backend.
        unsafe { Selected::usable_size(ptr) }
    }

    // Everything else is the backend's, with the pool's blocks counted.
    crate::guarded::the_rest_from_the_backend!();
}

/// `realloc` of a pool block: a new block (sampled or not), the bytes
/// copied, the slot freed. `size` 0 never reaches here from the override
/// (glibc's rule frees first); from `gb_realloc` it is a block of size 0.
///
/// # Safety
/// `ptr` is in the pool.
#[cold]
#[inline(never)]
unsafe fn realloc_from_pool(ptr: *mut c_void, size: usize) -> *mut c_void {
    let old = pool::usable_size("realloc", ptr);
    if size > MAX_SIZE {
        crate::sys::errno::set(libc::ENOMEM);
        return core::ptr::null_mut();
    }
    // SAFETY: any size.
    let block = unsafe { Hardened::alloc(size) };
    if block.is_null() {
        return block;
    }
    // SAFETY: both hold min(old, size) bytes; the old block is live.
    unsafe { core::ptr::copy_nonoverlapping(ptr.cast::<u8>(), block.cast::<u8>(), old.min(size)) };
    pool::free("realloc", ptr, None);
    block
}

/// C++ `operator new` (alignment 0) and aligned new (a power of two,
/// servable: src/override/new.cpp checks), for src/override/new.cpp.
extern "C" fn cxx_new(size: usize, alignment: usize) -> *mut c_void {
    if Selected::WATCHES_LARGE_REQUESTS && size >= LARGE_BLOCK {
        Selected::before_large_request();
    }
    // SAFETY: any size; a servable power-of-two alignment.
    unsafe {
        if alignment == 0 {
            Hardened::alloc(size)
        } else {
            Hardened::aligned_alloc(alignment, size)
        }
    }
}

/// C++ `operator delete` in all its forms, for src/override/new.cpp: `size`
/// is `usize::MAX` and `alignment` 0 when the form does not pass them.
extern "C" fn cxx_delete(ptr: *mut c_void, size: usize, alignment: usize) {
    when_in_pool!(ptr, {
        let size = (size != usize::MAX).then_some(size);
        return pool::free("operator delete", ptr, size);
    });
    // SAFETY: NULL or a live block of the backend (caller's contract); the
    // backend's own forms, as new.cpp calls them without this variant.
    unsafe {
        match (size, alignment) {
            (usize::MAX, 0) => Selected::free(ptr),
            (usize::MAX, _) => Selected::free(ptr),
            (n, 0) => Selected::free_sized(ptr, n),
            (n, a) => Selected::free_aligned_sized(ptr, a, n),
        }
    }
}

// Hidden entry points for src/override/new.cpp (crate::hidden_entry!).

hidden_entry!("gb_override_hardened_new", cxx_new);
hidden_entry!("gb_override_hardened_delete", cxx_delete);

#[cfg(feature = "override-checked")]
compile_error!("features `override-hardened` and `override-checked` cannot be combined");
