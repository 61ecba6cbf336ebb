//! Heaps, profiles and the idle hint as safe Rust: [`Heap`] over
//! `gb_heap_*`, [`profile_start`] and friends over `gb_profile_*`,
//! [`thread_idle`] over `gb_thread_idle`. Failures are `io::Error`s carrying
//! the C function's errno (`ENOMEM` for a heap's limit, `ENOTSUP` for
//! profiling in a library built without it).

use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::NonNull;
use std::ffi::CString;
use std::io;
use std::path::Path;

use crate::ffi;

/// The errno of a C function's return value: 0 is success.
fn errno_result(code: core::ffi::c_int) -> io::Result<()> {
    match code {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// A heap (`gb_heap_new`): blocks a program allocates from any thread, under
/// an exact byte limit, and frees one by one or all at once when the heap is
/// dropped (`gb_heap_destroy`).
///
/// Blocks are raw memory ([`NonNull<u8>`]); reading or writing them is the
/// caller's `unsafe`, and every block is invalid once the heap is dropped.
///
/// ```
/// use std::alloc::Layout;
///
/// let heap = graphbit_alloc::Heap::new(1 << 20).unwrap();
/// let block = heap.alloc(Layout::from_size_align(4096, 64).unwrap()).unwrap();
/// assert_eq!(block.as_ptr() as usize % 64, 0);
/// assert!(heap.alloc(Layout::from_size_align(2 << 20, 8).unwrap()).is_err()); // the limit
/// assert_eq!(heap.stats().blocks, 1);
/// drop(heap); // frees the block too
/// ```
#[derive(Debug)]
pub struct Heap {
    raw: NonNull<ffi::gb_heap_t>,
}

// SAFETY: the C API lets any thread allocate in a heap and free its blocks
// (gb_heap_new's contract); destruction takes the heap by value, so no other
// thread can be using it then.
unsafe impl Send for Heap {}
// SAFETY: as above: every method but drop may run on many threads at once.
unsafe impl Sync for Heap {}

/// A heap's counters (`gb_heap_stats_t`), in usable bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapStats {
    /// The limit; 0 for none.
    pub limit_bytes: u64,
    /// Usable bytes of the live blocks: what the limit caps.
    pub allocated_bytes: u64,
    /// The highest `allocated_bytes` has been.
    pub peak_allocated_bytes: u64,
    /// Live blocks.
    pub blocks: u64,
    /// Requests refused because they would have passed the limit.
    pub refused: u64,
}

impl Heap {
    /// Makes a heap whose live blocks may take at most `limit_bytes` usable
    /// bytes (0: no limit). Fails with the errno of `gb_heap_new` (`ENOMEM`,
    /// or `EAGAIN` when jemalloc has no arena index left).
    pub fn new(limit_bytes: usize) -> io::Result<Heap> {
        match NonNull::new(ffi::gb_heap_new(limit_bytes)) {
            Some(raw) => Ok(Heap { raw }),
            None => Err(io::Error::last_os_error()),
        }
    }

    /// Allocates a block of `layout` in the heap (`gb_heap_aligned_alloc`).
    /// A block that would pass the limit, or that cannot be had, is
    /// `ENOMEM`; the heap stays usable.
    pub fn alloc(&self, layout: Layout) -> io::Result<NonNull<u8>> {
        // SAFETY: raw is a live heap; the alignment is a power of two.
        let block =
            unsafe { ffi::gb_heap_aligned_alloc(self.raw.as_ptr(), layout.align(), layout.size()) };
        NonNull::new(block.cast()).ok_or_else(io::Error::last_os_error)
    }

    /// As [`alloc`](Self::alloc), with the block's bytes zero.
    pub fn alloc_zeroed(&self, layout: Layout) -> io::Result<NonNull<u8>> {
        let block = self.alloc(layout)?;
        // SAFETY: the block was just allocated with layout.size() bytes.
        unsafe { block.as_ptr().write_bytes(0, layout.size()) };
        Ok(block)
    }

    /// Frees one block before the heap goes (`gb_free`).
    ///
    /// # Safety
    /// `block` came from this heap's [`alloc`](Self::alloc) or
    /// [`alloc_zeroed`](Self::alloc_zeroed) and was not freed yet.
    pub unsafe fn dealloc(&self, block: NonNull<u8>) {
        // SAFETY: a live block of this library (the caller's contract).
        unsafe { ffi::free_block(block.as_ptr().cast::<c_void>()) }
    }

    /// The heap's counters (`gb_heap_stats`): a snapshot that other threads
    /// may change at once.
    pub fn stats(&self) -> HeapStats {
        let mut out = ffi::gb_heap_stats_t {
            size: core::mem::size_of::<ffi::gb_heap_stats_t>(),
            limit_bytes: 0,
            allocated_bytes: 0,
            peak_allocated_bytes: 0,
            blocks: 0,
            refused: 0,
        };
        // SAFETY: raw is a live heap and out a whole gb_heap_stats_t; with
        // both valid it cannot fail.
        let code = unsafe { ffi::gb_heap_stats(self.raw.as_ptr(), &mut out) };
        debug_assert_eq!(code, 0);
        HeapStats {
            limit_bytes: out.limit_bytes,
            allocated_bytes: out.allocated_bytes,
            peak_allocated_bytes: out.peak_allocated_bytes,
            blocks: out.blocks,
            refused: out.refused,
        }
    }
}

impl Drop for Heap {
    /// Frees every block of the heap and the heap (`gb_heap_destroy`).
    fn drop(&mut self) {
        // SAFETY: raw is a live heap, destroyed once, with no other user
        // (drop has it by value).
        unsafe { ffi::gb_heap_destroy(self.raw.as_ptr()) }
    }
}

/// Starts sampling allocations, one sample every `sample_bytes` bytes on
/// average (0: 512 KiB), as `gb_profile_start`: `EBUSY` when already
/// sampling, `ENOTSUP` in a library built without the `profiling` feature.
pub fn profile_start(sample_bytes: usize) -> io::Result<()> {
    errno_result(ffi::gb_profile_start(sample_bytes))
}

/// Stops sampling (`gb_profile_stop`); the samples stay for a later dump.
/// `EINVAL` when not sampling, `ENOTSUP` without profiling.
pub fn profile_stop() -> io::Result<()> {
    errno_result(ffi::gb_profile_stop())
}

/// The path as the C functions take it; a NUL byte in it (or, off Unix, a
/// path that is not UTF-8) is `InvalidInput`.
fn c_path(path: &Path) -> io::Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a path that is not UTF-8"))?
        .as_bytes()
        .to_vec();
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))
}

/// Writes the live heap's samples to `path` as gzipped pprof
/// (`gb_profile_dump`).
pub fn profile_dump(path: impl AsRef<Path>) -> io::Result<()> {
    let path = c_path(path.as_ref())?;
    // SAFETY: a NUL-terminated path that outlives the call.
    errno_result(unsafe { ffi::gb_profile_dump(path.as_ptr()) })
}

/// Writes the heap as it was at its peak since [`profile_start`]
/// (`gb_profile_dump_peak`), in the format of [`profile_dump`].
pub fn profile_dump_peak(path: impl AsRef<Path>) -> io::Result<()> {
    let path = c_path(path.as_ref())?;
    // SAFETY: as above.
    errno_result(unsafe { ffi::gb_profile_dump_peak(path.as_ptr()) })
}

/// Tells the backend that this thread is going quiet (`gb_thread_idle`), so
/// that its cache can go back to the shared heap. Only a hint.
pub fn thread_idle() -> io::Result<()> {
    errno_result(ffi::gb_thread_idle())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heap_keeps_its_limit_and_counts() {
        let heap = Heap::new(64 << 10).unwrap();
        let layout = Layout::from_size_align(16 << 10, 4096).unwrap();
        let a = heap.alloc_zeroed(layout).unwrap();
        assert_eq!(a.as_ptr() as usize % 4096, 0);
        // SAFETY: a holds layout.size() bytes.
        assert!(
            unsafe { core::slice::from_raw_parts(a.as_ptr(), layout.size()) }
                .iter()
                .all(|&b| b == 0)
        );
        let too_big = heap.alloc(Layout::from_size_align(128 << 10, 8).unwrap());
        assert_eq!(too_big.unwrap_err().raw_os_error(), Some(libc::ENOMEM));
        let s = heap.stats();
        assert_eq!((s.limit_bytes, s.blocks, s.refused), (64 << 10, 1, 1));
        assert!(s.allocated_bytes >= 16 << 10 && s.peak_allocated_bytes >= s.allocated_bytes);
        // SAFETY: a is a live block of this heap.
        unsafe { heap.dealloc(a) };
        assert_eq!(heap.stats().blocks, 0);
        // Dropped with a live block: the heap frees it.
        heap.alloc(Layout::new::<u64>()).unwrap();
    }

    #[test]
    fn heaps_are_shared_across_threads() {
        let heap = Heap::new(0).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        heap.alloc(Layout::new::<[u8; 48]>()).unwrap();
                    }
                });
            }
        });
        assert_eq!(heap.stats().blocks, 400);
    }

    #[test]
    fn a_path_with_nul_is_refused_before_c() {
        for result in [profile_dump("bad\0path"), profile_dump_peak("bad\0path")] {
            assert_eq!(result.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
    }

    /// The profiling build's answers are tests/profile.sh's and src/profile/'s.
    #[cfg(not(feature = "profiling"))]
    #[test]
    fn without_profiling_every_profile_call_is_enotsup() {
        let dir = std::env::temp_dir().join(format!("gb-api-heap-{}", std::process::id()));
        for result in [
            profile_start(0),
            profile_stop(),
            profile_dump(dir.join("live.pb.gz")),
            profile_dump_peak(dir.join("peak.pb.gz")),
        ] {
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ENOTSUP));
        }
        assert!(!dir.exists());
    }

    #[test]
    fn thread_idle_is_a_hint_that_succeeds() {
        let heap = Heap::new(0).unwrap();
        heap.alloc(Layout::new::<[u8; 64]>()).unwrap();
        thread_idle().unwrap();
        assert_eq!(heap.stats().blocks, 1);
    }
}
