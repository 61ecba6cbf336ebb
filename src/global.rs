//! [`GraphbitAlloc`]: the backend as a Rust global allocator.

use core::alloc::{GlobalAlloc, Layout};

use crate::backend::{Backend, Selected};

/// The library's backend (jemalloc, mimalloc or the C library's `malloc`, as
/// built) as a Rust [`GlobalAlloc`], for a program to install itself, as it
/// would `tikv_jemallocator::Jemalloc` or `mimalloc::MiMalloc`:
///
// The example is a program of its own: a doctest where the library installs
// no allocator itself (built without `global-allocator`), shown otherwise.
#[cfg_attr(not(feature = "global-allocator"), doc = "```")]
#[cfg_attr(feature = "global-allocator", doc = "```ignore")]
/// use graphbit_alloc::GraphbitAlloc;
///
/// #[global_allocator]
/// static GLOBAL: GraphbitAlloc = GraphbitAlloc;
///
/// fn main() {
///     let v = vec![1u8; 1 << 20];
///     assert!(graphbit_alloc::owns(v.as_ptr()) || graphbit_alloc::allocator_name() == "system");
/// }
/// ```
///
/// (The crate's optional `global-allocator` feature installs this same
/// allocator from inside the library instead, for the C library builds; a
/// program that declares its own leaves it off, as the default features do.)
/// Every method goes straight to the backend's own Rust
/// allocator: `alloc_zeroed` to its zeroing allocation, `realloc` to its
/// `realloc` (in place where the backend can), and `dealloc` passes the
/// layout's size and alignment on (jemalloc's `sdallocx`), so blocks are the
/// same ones `gb_alloc` hands out and [`owns`](crate::owns) knows them.
#[derive(Clone, Copy, Debug, Default)]
pub struct GraphbitAlloc;

// SAFETY: every method forwards its arguments, under the same contract, to
// the backend's own `GlobalAlloc` implementation.
unsafe impl GlobalAlloc for GraphbitAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is GlobalAlloc::alloc's.
        unsafe { <Selected as Backend>::RUST_ALLOCATOR.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        unsafe { <Selected as Backend>::RUST_ALLOCATOR.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from this allocator (the same backend) with layout.
        unsafe { <Selected as Backend>::RUST_ALLOCATOR.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above, and new_size is the caller's valid size.
        unsafe { <Selected as Backend>::RUST_ALLOCATOR.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_the_backends_and_keep_their_bytes() {
        let a = GraphbitAlloc;
        for (size, align) in [(1, 1), (24, 8), (4096, 64), (1 << 20, 16), (100, 4096)] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero sizes; each block is freed with its layout.
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0);
                assert!(core::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                if Selected::CAN_TELL_OWNERSHIP {
                    assert!(crate::owns(p), "{size}/{align}");
                }
                p.write_bytes(0x5A, size);
                let q = a.realloc(p, layout, size * 3);
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0);
                assert!(core::slice::from_raw_parts(q, size)
                    .iter()
                    .all(|&b| b == 0x5A));
                a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
            }
        }
    }
}
