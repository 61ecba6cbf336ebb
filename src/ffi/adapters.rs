//! Allocator adapters: the `gb_*` functions in the shapes other libraries'
//! allocator hooks take, for hosts that need a function pointer and may have
//! no C compiler (FFI languages). Each is the prefixed function it names,
//! with the extra argument the hook passes; checked mode checks them as it
//! checks those.

use core::ffi::c_void;

use super::alloc::{gb_alloc, gb_calloc, gb_free_sized, gb_realloc};
use super::heap::gb_heap_realloc;

/// Lua's allocator function (`lua_Alloc`, for `lua_newstate(gb_lua_alloc,
/// ud)` or `lua_setallocf`), with its contract: `nsize` 0 frees `ptr`
/// (NULL is a no-op) and returns NULL; otherwise resizes `ptr` (NULL:
/// allocates) to `nsize` bytes and returns the block, or NULL when the memory
/// cannot be had, leaving `ptr` as it was. A shrink (`nsize <= osize`) never
/// fails: if the backend cannot move the block, `ptr` is returned as it is,
/// as Lua requires. Blocks are freed unsized, so `osize` is never trusted as
/// a block's size: after a shrink that kept the old block, Lua's idea of its
/// size is smaller than the block. `ud` NULL: blocks come from `gb_alloc`'s
/// allocator; otherwise `ud` is a heap (`gb_heap_new`) and every new block
/// comes from it, so its limit caps the Lua state's memory (an allocation
/// past it fails, which Lua reports as a memory error) and `gb_heap_destroy`
/// after `lua_close` frees it all at once (or instead of `lua_close`, when
/// the state is abandoned). Every block must come from this function,
/// `gb_alloc` or `gb_realloc`.
#[no_mangle]
pub unsafe extern "C" fn gb_lua_alloc(
    ud: *mut c_void,
    ptr: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void {
    if nsize == 0 {
        // SAFETY: NULL or a live block (Lua's contract).
        unsafe { super::free_block(ptr) };
        return core::ptr::null_mut();
    }
    let block = if ud.is_null() {
        // SAFETY: NULL or a live block (Lua's contract).
        unsafe { gb_realloc(ptr, nsize) }
    } else {
        // SAFETY: a live heap (caller's contract); NULL or a live block of
        // it (Lua's contract).
        unsafe { gb_heap_realloc(ud.cast(), ptr, nsize) }
    };
    if block.is_null() && !ptr.is_null() && nsize <= osize {
        return ptr;
    }
    block
}

/// `gb_alloc` with a leading context argument, which is not used: the
/// `malloc` of CPython's `PyMemAllocatorEx` and NumPy's `PyDataMem_Handler`
/// (both call `malloc(ctx, size)`).
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_SIZE(2)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_ctx_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    let _ = ctx;
    // SAFETY: any size.
    unsafe { gb_alloc(size) }
}

/// `gb_calloc` with a leading context argument, which is not used
/// (`PyMemAllocatorEx.calloc`, `PyDataMem_Handler.calloc`).
///
/// cbindgen:postfix=GB_MALLOC GB_ALLOC_SIZE2(2, 3)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_ctx_calloc(
    ctx: *mut c_void,
    nelem: usize,
    elsize: usize,
) -> *mut c_void {
    let _ = ctx;
    // SAFETY: any arguments.
    unsafe { gb_calloc(nelem, elsize) }
}

/// `gb_realloc` with a leading context argument, which is not used
/// (`PyMemAllocatorEx.realloc`, `PyDataMem_Handler.realloc`). As
/// `gb_realloc`, `size` 0 returns a unique minimal block, never NULL on
/// success, which is what CPython's `PyMem_Realloc(p, 0)` expects.
///
/// cbindgen:postfix=GB_ALLOC_SIZE(3)
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn gb_ctx_realloc(
    ctx: *mut c_void,
    ptr: *mut c_void,
    size: usize,
) -> *mut c_void {
    let _ = ctx;
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { gb_realloc(ptr, size) }
}

/// `gb_free` with a leading context argument, which is not used
/// (`PyMemAllocatorEx.free`).
#[no_mangle]
pub unsafe extern "C" fn gb_ctx_free(ctx: *mut c_void, ptr: *mut c_void) {
    let _ = ctx;
    // SAFETY: NULL or a live block (caller's contract).
    unsafe { super::free_block(ptr) }
}

/// `gb_free_sized` with a leading context argument, which is not used: for a
/// hook whose free passes the size (`PyDataMem_Handler.free(ctx, ptr,
/// size)`). `size` must be what `gb_free_sized` requires (the size asked for
/// at allocation or the last resize); a hook that cannot promise that must
/// use `gb_ctx_free`. NULL is a no-op; never changes `errno`.
#[no_mangle]
pub unsafe extern "C" fn gb_ctx_free_sized(ctx: *mut c_void, ptr: *mut c_void, size: usize) {
    let _ = ctx;
    // SAFETY: NULL or a live block of `size` bytes (caller's contract).
    unsafe { gb_free_sized(ptr, size) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_alloc_keeps_luas_contract() {
        let null = core::ptr::null_mut();
        // SAFETY: blocks from gb_lua_alloc, with the sizes it was asked for.
        unsafe {
            assert!(gb_lua_alloc(null, null, 5, 0).is_null(), "free of NULL");
            let p = gb_lua_alloc(null, null, 5, 100).cast::<u8>();
            assert!(!p.is_null());
            p.write_bytes(7, 100);
            let q = gb_lua_alloc(null, p.cast(), 100, 5000).cast::<u8>();
            assert!(!q.is_null() && *q.add(99) == 7);
            // A request that cannot be had fails and keeps the block.
            assert!(gb_lua_alloc(null, q.cast(), 5000, usize::MAX / 2).is_null());
            assert_eq!(*q, 7);
            let r = gb_lua_alloc(null, q.cast(), 5000, 10).cast::<u8>();
            assert!(!r.is_null() && *r.add(9) == 7);
            assert!(gb_lua_alloc(null, r.cast(), 10, 0).is_null());
        }
    }

    /// With a heap as `ud`, a Lua state's blocks are capped by the heap's
    /// limit (a shrink still succeeds) and go with the heap.
    #[test]
    fn lua_alloc_with_a_heap_keeps_the_cap() {
        let heap = crate::gb_heap_new(64 << 10);
        let ud = heap.cast::<c_void>();
        let null = core::ptr::null_mut();
        // SAFETY: blocks from gb_lua_alloc in a live heap.
        unsafe {
            let p = gb_lua_alloc(ud, null, 0, 40_000).cast::<u8>();
            assert!(!p.is_null());
            p.write_bytes(9, 40_000);
            assert!(gb_lua_alloc(ud, null, 0, 40_000).is_null(), "past the cap");
            assert!(
                gb_lua_alloc(ud, p.cast(), 40_000, 70_000).is_null(),
                "growth past the cap"
            );
            let q = gb_lua_alloc(ud, p.cast(), 40_000, 100).cast::<u8>();
            assert!(!q.is_null() && *q.add(99) == 9);
            let r = gb_lua_alloc(ud, null, 0, 30_000);
            assert!(!r.is_null(), "room again after the shrink");
            crate::gb_heap_destroy(heap);
        }
    }

    #[test]
    fn ctx_family_is_the_prefixed_api() {
        let ctx = 0x1234 as *mut c_void;
        // SAFETY: blocks from the family, freed once each.
        unsafe {
            let p = gb_ctx_malloc(ctx, 0);
            assert!(!p.is_null());
            let p = gb_ctx_realloc(ctx, p, 0);
            assert!(!p.is_null(), "realloc to 0 returns a block");
            gb_ctx_free(ctx, p);
            let z = gb_ctx_calloc(ctx, 10, 10).cast::<u8>();
            assert!((0..100).all(|i| *z.add(i) == 0));
            gb_ctx_free_sized(ctx, z.cast(), 100);
            assert!(gb_ctx_calloc(ctx, usize::MAX, 2).is_null());
            gb_ctx_free_sized(ctx, core::ptr::null_mut(), 0);
        }
    }
}
