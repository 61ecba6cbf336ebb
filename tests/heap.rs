//! Heaps (`gb_heap_*`) through the rlib's C API, on whichever backend and
//! variant this build is (run it with `--no-default-features --features
//! backend-mimalloc` / `backend-system`, and with `--features checked`):
//! the limit is exact under 4 threads, destroy gives the memory back to the
//! OS, blocks cross threads, thousands of heaps come and go, and checked
//! mode names the heap of a block freed after its heap was destroyed.
//!
//! The tests take one lock, so that no other test's memory moves the
//! resident-set figures.

use core::ffi::c_void;
use std::sync::{Barrier, Mutex, MutexGuard};

use graphbit_alloc::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(value: i32) {
    // SAFETY: the calling thread's errno.
    unsafe { *libc::__errno_location() = value };
}

fn stats(heap: *const gb_heap_t) -> gb_heap_stats_t {
    let mut out = gb_heap_stats_t {
        size: core::mem::size_of::<gb_heap_stats_t>(),
        limit_bytes: 0,
        allocated_bytes: 0,
        peak_allocated_bytes: 0,
        blocks: 0,
        refused: 0,
    };
    // SAFETY: a live heap, a full-size struct.
    assert_eq!(unsafe { gb_heap_stats(heap, &mut out) }, 0);
    assert_eq!(out.size, core::mem::size_of::<gb_heap_stats_t>());
    out
}

/// Resident set of the process (/proc/self/statm), in bytes.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
}

#[test]
fn every_function_and_its_counters() {
    let _serial = serial();
    let heap = gb_heap_new(0);
    assert!(!heap.is_null());
    // SAFETY: blocks of this heap, used within their sizes.
    unsafe {
        let a = gb_heap_alloc(heap, 100).cast::<u8>();
        assert!(!a.is_null() && a as usize % 16 == 0);
        a.write_bytes(0xA5, 100);
        assert!(gb_usable_size(a.cast()) >= 100);
        assert!(gb_owns(a.cast()), "gb_owns is false for a heap block");
        let z = gb_heap_calloc(heap, 10, 30).cast::<u8>();
        assert!((0..300).all(|i| *z.add(i) == 0));
        let big = gb_heap_aligned_alloc(heap, 4096, 5000).cast::<u8>();
        assert!(!big.is_null() && big as usize % 4096 == 0);
        let zero = gb_heap_alloc(heap, 0);
        assert!(!zero.is_null());

        let s = stats(heap);
        assert_eq!(s.blocks, 4);
        let usable: usize = [a, z, big, zero.cast()]
            .iter()
            .map(|&p| gb_usable_size(p.cast()))
            .sum();
        assert_eq!(s.allocated_bytes, usable as u64);
        assert_eq!(s.limit_bytes, 0);

        // Grows in the heap, keeps the contents; gb_realloc does the same.
        let a2 = gb_heap_realloc(heap, a.cast(), 10_000).cast::<u8>();
        assert!(!a2.is_null());
        assert!((0..100).all(|i| *a2.add(i) == 0xA5));
        let a3 = gb_realloc(a2.cast(), 20_000).cast::<u8>();
        assert!((0..100).all(|i| *a3.add(i) == 0xA5));
        assert_eq!(stats(heap).blocks, 4);

        // Every free function takes heap blocks.
        gb_free(a3.cast());
        gb_free_sized(z.cast(), 300);
        gb_free_aligned_sized(big.cast(), 4096, 5000);
        set_errno(1234);
        gb_free(zero);
        assert_eq!(errno(), 1234, "gb_free of a heap block changed errno");
        let s = stats(heap);
        assert_eq!((s.blocks, s.allocated_bytes), (0, 0));
        assert!(s.peak_allocated_bytes >= 20_000);
        gb_heap_destroy(heap);
    }
}

#[test]
fn bad_arguments_have_defined_answers() {
    let _serial = serial();
    // SAFETY: NULL heaps and bad sizes are part of the contract.
    unsafe {
        set_errno(0);
        assert!(gb_heap_alloc(core::ptr::null_mut(), 8).is_null());
        assert_eq!(errno(), libc::EINVAL);
        assert!(gb_heap_calloc(core::ptr::null_mut(), 1, 8).is_null());
        assert!(gb_heap_realloc(core::ptr::null_mut(), core::ptr::null_mut(), 8).is_null());
        assert!(gb_heap_aligned_alloc(core::ptr::null_mut(), 8, 8).is_null());
        gb_heap_destroy(core::ptr::null_mut());
        let mut out = core::mem::zeroed::<gb_heap_stats_t>();
        out.size = core::mem::size_of::<gb_heap_stats_t>();
        assert_eq!(gb_heap_stats(core::ptr::null(), &mut out), libc::EINVAL);

        let heap = gb_heap_new(1 << 20);
        set_errno(0);
        assert!(gb_heap_alloc(heap, usize::MAX).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(gb_heap_calloc(heap, usize::MAX, 2).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        set_errno(0);
        assert!(gb_heap_aligned_alloc(heap, 24, 8).is_null());
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(gb_heap_stats(heap, core::ptr::null_mut()), libc::EINVAL);
        out.size = 8;
        assert_eq!(gb_heap_stats(heap, &mut out), libc::EINVAL);
        // A struct of an older, shorter version gets whole fields only.
        out.size = 20;
        assert_eq!(gb_heap_stats(heap, &mut out), 0);
        assert_eq!((out.size, out.limit_bytes), (16, 1 << 20));
        // Above the limit: NULL, ENOMEM, nothing changed; a block that fits
        // still comes.
        set_errno(0);
        assert!(gb_heap_alloc(heap, 2 << 20).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        let s = stats(heap);
        assert_eq!((s.blocks, s.allocated_bytes, s.refused), (0, 0, 1));
        let p = gb_heap_alloc(heap, 512 << 10);
        assert!(!p.is_null());
        // A realloc past the limit fails and keeps the block.
        (p as *mut u8).write_bytes(7, 512 << 10);
        assert!(gb_heap_realloc(heap, p, 1536 << 10).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert_eq!(*(p as *mut u8).add(1000), 7);
        assert_eq!(stats(heap).blocks, 1);
        gb_heap_destroy(heap);
    }
}

fn last_block(blocks: &[Vec<usize>]) -> usize {
    *blocks.iter().flatten().last().unwrap()
}

/// Four threads allocate in one capped heap until it refuses: the usable
/// bytes of the blocks they got add up to the heap's count, which is at
/// most the limit and less than one more block below it.
#[test]
fn the_limit_is_exact_under_four_threads() {
    let _serial = serial();
    const LIMIT: usize = 8 << 20;
    for size in [24usize, 200, 3000, 70_000] {
        let heap = gb_heap_new(LIMIT) as usize;
        let start = Barrier::new(4);
        let (usable, blocks): (Vec<usize>, Vec<Vec<usize>>) = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        let mut mine = Vec::new();
                        loop {
                            // SAFETY: a live heap.
                            let p = unsafe { gb_heap_alloc(heap as *mut gb_heap_t, size) };
                            if p.is_null() {
                                assert_eq!(errno(), libc::ENOMEM);
                                break;
                            }
                            mine.push(p as usize);
                        }
                        // SAFETY: live blocks.
                        let usable: usize = mine
                            .iter()
                            .map(|&p| unsafe { gb_usable_size(p as *const c_void) })
                            .sum();
                        (usable, mine)
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).unzip()
        });
        let total: usize = usable.iter().sum();
        let s = stats(heap as *const gb_heap_t);
        assert_eq!(s.allocated_bytes as usize, total, "size {size}");
        assert!(
            total <= LIMIT,
            "size {size}: {total} bytes above the limit {LIMIT}"
        );
        // SAFETY: a live block, to know one block's usable size.
        let one = unsafe { gb_usable_size(last_block(&blocks) as *const c_void) };
        assert!(
            LIMIT - total < one,
            "size {size}: {} bytes left unused",
            LIMIT - total
        );
        assert_eq!(s.peak_allocated_bytes as usize, total);
        // The heap stays usable: free one block (from another thread), one fits again.
        let last = *blocks.iter().flatten().last().unwrap();
        std::thread::spawn(move || unsafe { gb_free(last as *mut c_void) })
            .join()
            .unwrap();
        // SAFETY: a live heap.
        let again = unsafe { gb_heap_alloc(heap as *mut gb_heap_t, size) };
        assert!(!again.is_null());
        // SAFETY: a live heap, destroyed once.
        unsafe { gb_heap_destroy(heap as *mut gb_heap_t) };
    }
}

/// A heap of 200 MiB in blocks of many sizes, written to: destroying it
/// lowers the resident set by at least 90% of that.
#[test]
fn destroy_returns_the_memory_to_the_os() {
    let _serial = serial();
    const TOTAL: usize = 200 << 20;
    let heap = gb_heap_new(0);
    let sizes = [48usize, 700, 4096, 40_000, 300_000];
    let mut allocated = 0;
    let mut i = 0;
    while allocated < TOTAL {
        let size = sizes[i % sizes.len()];
        i += 1;
        // SAFETY: a live heap; the block is written within its size.
        unsafe {
            let p = gb_heap_alloc(heap, size).cast::<u8>();
            assert!(!p.is_null());
            p.write_bytes(0x5A, size);
        }
        allocated += size;
    }
    let loaded = resident_bytes();
    // SAFETY: a live heap, destroyed once.
    unsafe { gb_heap_destroy(heap) };
    let after = resident_bytes();
    let dropped = loaded.saturating_sub(after);
    assert!(
        dropped >= TOTAL / 10 * 9,
        "resident {} MiB with the heap, {} MiB after destroy: dropped {} MiB of {} MiB",
        loaded >> 20,
        after >> 20,
        dropped >> 20,
        TOTAL >> 20
    );
}

/// Small blocks (bump-allocated from the heap's chunks) of every size up to
/// past the small limit: 16-byte aligned, `gb_usable_size` at least the
/// size and counted exactly, `gb_owns` true, contents kept by `gb_realloc`
/// across the small and large paths; a freed small block is reused by the
/// next of its class, so a heap that allocates and frees in a loop does
/// not grow.
#[test]
fn small_blocks_are_counted_reused_and_resized() {
    let _serial = serial();
    let heap = gb_heap_new(0);
    assert!(!heap.is_null());
    // SAFETY: blocks of this heap, used within their sizes.
    unsafe {
        let mut blocks = Vec::new();
        let mut usable_sum = 0usize;
        for size in (1..9000usize).step_by(37) {
            let p = gb_heap_alloc(heap, size).cast::<u8>();
            assert!(!p.is_null() && p as usize % 16 == 0, "size {size}");
            let usable = gb_usable_size(p.cast());
            assert!(usable >= size, "size {size}: usable {usable}");
            p.write_bytes((size % 251) as u8, usable);
            assert!(gb_owns(p.cast()), "size {size}");
            usable_sum += usable;
            blocks.push((p, size));
        }
        assert_eq!(stats(heap).allocated_bytes, usable_sum as u64);
        for &(p, size) in &blocks {
            let usable = gb_usable_size(p.cast());
            assert!(
                (0..usable).all(|i| *p.add(i) == (size % 251) as u8),
                "size {size}: a block overlaps another"
            );
        }
        // Resized small -> large -> small, contents kept.
        let (p, size) = blocks.swap_remove(3);
        let q = gb_realloc(p.cast(), 50_000).cast::<u8>();
        assert!((0..size).all(|i| *q.add(i) == (size % 251) as u8));
        let r = gb_heap_realloc(heap, q.cast(), 40).cast::<u8>();
        assert!((0..size.min(40)).all(|i| *r.add(i) == (size % 251) as u8));
        gb_free(r.cast());
        for (p, _) in blocks.drain(..) {
            gb_free(p.cast());
        }
        let s = stats(heap);
        assert_eq!((s.blocks, s.allocated_bytes), (0, 0));

        // A freed block is the next of its class.
        let a = gb_heap_alloc(heap, 100);
        gb_free(a);
        assert_eq!(gb_heap_alloc(heap, 97), a);
        gb_free(a);

        // 100 MiB allocated and freed in turn in one heap: it reuses.
        let before = resident_bytes();
        for i in 0..200_000usize {
            let p = gb_heap_alloc(heap, 16 + i % 1000);
            assert!(!p.is_null());
            p.cast::<u8>().write(1);
            gb_free(p);
        }
        assert!(
            resident_bytes() < before + (8 << 20),
            "a heap that frees each block grew from {} to {} MiB",
            before >> 20,
            resident_bytes() >> 20
        );
        gb_heap_destroy(heap);
    }
}

/// Blocks allocated in one thread, freed in others, while both threads
/// also allocate.
#[test]
fn blocks_cross_threads() {
    let _serial = serial();
    let heap = gb_heap_new(0) as usize;
    let (send, receive) = std::sync::mpsc::channel::<usize>();
    let consumer = std::thread::spawn(move || {
        let mut n = 0;
        for p in receive {
            // SAFETY: a live block of the heap, handed over.
            unsafe {
                assert_eq!(*(p as *const u8), 0xC3);
                if n % 2 == 0 {
                    gb_free(p as *mut c_void);
                } else {
                    gb_free_sized(p as *mut c_void, 64);
                }
                // This thread allocates in the heap too.
                let q = gb_heap_alloc(heap as *mut gb_heap_t, 32);
                gb_free(q);
            }
            n += 1;
        }
        n
    });
    for _ in 0..20_000 {
        // SAFETY: a live heap.
        let p = unsafe { gb_heap_alloc(heap as *mut gb_heap_t, 64) }.cast::<u8>();
        // SAFETY: a 64-byte block.
        unsafe { p.write(0xC3) };
        send.send(p as usize).unwrap();
    }
    drop(send);
    assert_eq!(consumer.join().unwrap(), 20_000);
    let s = stats(heap as *const gb_heap_t);
    assert_eq!((s.blocks, s.allocated_bytes), (0, 0));
    // SAFETY: a live heap, destroyed once.
    unsafe { gb_heap_destroy(heap as *mut gb_heap_t) };
}

/// More heaps than jemalloc has arena indices (4095), one after another,
/// each with blocks left in it at destroy, one of them large (an arena on
/// jemalloc): destroyed arenas are reused.
#[test]
fn ten_thousand_heaps_come_and_go() {
    let _serial = serial();
    let before = resident_bytes();
    for i in 0..10_000usize {
        let heap = gb_heap_new(1 << 20);
        assert!(!heap.is_null(), "heap {i}: errno {}", errno());
        // SAFETY: a live heap, destroyed once.
        unsafe {
            for size in [16usize, 100, 5000, 20_000] {
                assert!(!gb_heap_alloc(heap, size).is_null());
            }
            gb_heap_destroy(heap);
        }
    }
    let after = resident_bytes();
    assert!(
        after < before + (64 << 20),
        "resident grew from {} MiB to {} MiB",
        before >> 20,
        after >> 20
    );
}

/// In the checked library, a block freed after its heap was destroyed is
/// reported naming the heap, and so is a second destroy (in a child
/// process: the report aborts it).
#[test]
#[cfg(feature = "checked")]
fn checked_mode_names_the_destroyed_heap() {
    let _serial = serial();
    if let Ok(what) = std::env::var("GB_HEAP_TEST_CHILD") {
        // SAFETY: the misuse under test; the library aborts on it.
        unsafe {
            let heap = gb_heap_new(0);
            let p = gb_heap_alloc(heap, 40);
            gb_heap_destroy(heap);
            if what == "free" {
                gb_free(p);
            } else {
                gb_heap_destroy(heap);
            }
        }
        std::process::exit(0);
    }
    for (what, expected) in [
        ("free", "block of heap #"),
        ("destroy", "was destroyed already"),
    ] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "checked_mode_names_the_destroyed_heap",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GB_HEAP_TEST_CHILD", what)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: the child was not stopped");
        assert!(stderr.contains(expected), "{what}: stderr was {stderr}");
    }
}
