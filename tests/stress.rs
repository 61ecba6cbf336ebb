//! Multi-threaded stress through the rlib's C API, the Rust twin of
//! `c_tests/stress.c`: threads run a seeded random mix of every allocation and
//! free function over sizes 0..4 MiB and hand blocks to each other, so that
//! many are freed or resized by another thread. Each block's pattern (from its
//! address and size) is checked before every free, after every realloc and on
//! arrival from another thread; every result is checked for alignment,
//! `gb_usable_size >= size` and calloc's zero fill; at each round all threads
//! stop and one checks that no two live blocks overlap.
//!
//! Short profile in `cargo test`. Long profile (docs/reliability.md):
//! `GB_STRESS_OPS=100000000 cargo test --release --test stress -- --nocapture`
//! with `GB_STRESS_THREADS` and `GB_STRESS_SEED` to vary it.

use std::sync::{Barrier, Mutex};
use std::time::Instant;

mod common;
mod model;
use model::api::api;

const SLOTS: usize = 512;
const QUEUE: usize = 1024;
const ROUND_OPS: u64 = 200_000;

#[derive(Clone, Copy)]
struct Block {
    ptr: *mut u8,
    size: usize,
    /// 0: not from gb_aligned_alloc.
    alignment: usize,
}

// SAFETY: a block is owned by exactly one thread (or queue) at a time.
unsafe impl Send for Block {}

const EMPTY: Block = Block {
    ptr: std::ptr::null_mut(),
    size: 0,
    alignment: 0,
};

/// xorshift64*, as in c_tests/gb_test.h.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Word `j` of a block's pattern, from the block's address and size (as in
/// c_tests/stress.c).
fn block_seed(key: usize, size: usize) -> u64 {
    let x = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (size as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^ (x >> 31)
}

fn word_at(seed: u64, j: usize) -> [u8; 8] {
    let x = seed.wrapping_add((j as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    (x ^ (x >> 29)).to_ne_bytes()
}

/// Blocks above 64 KiB carry the pattern on their first and last 4 KiB and
/// the first 64 bytes of every 64 KiB; smaller ones everywhere.
fn patterned(offset: usize, size: usize) -> bool {
    size <= 65536 || offset < 4096 || offset + 4096 >= size || (offset & 65535) < 64
}

fn fill(b: &Block) {
    // SAFETY: b.ptr is a live block of at least b.size bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(b.ptr, b.size) };
    let seed = block_seed(b.ptr as usize, b.size);
    for (j, chunk) in bytes.chunks_mut(8).enumerate() {
        if patterned(j * 8, b.size) {
            chunk.copy_from_slice(&word_at(seed, j)[..chunk.len()]);
        }
    }
}

/// True if the first `prefix` bytes carry the pattern of (key, size).
fn intact(ptr: *const u8, prefix: usize, key: usize, size: usize) -> bool {
    // SAFETY: ptr is a live block of at least `prefix` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, prefix) };
    let seed = block_seed(key, size);
    bytes
        .chunks(8)
        .enumerate()
        .all(|(j, chunk)| !patterned(j * 8, size) || chunk == &word_at(seed, j)[..chunk.len()])
}

fn fail(what: &str, b: &Block) -> ! {
    panic!(
        "stress: {what}: block {:p} size {} alignment {}",
        b.ptr, b.size, b.alignment
    );
}

fn pick_size(rng: &mut Rng) -> usize {
    let r = rng.next();
    (match r % 100 {
        0 if rng.below(5) == 0 => rng.below(4 << 20),
        0 => rng.below(256 << 10),
        1 => rng.below(65536),
        2 => 0,
        _ if r % 7 < 5 => rng.below(256),
        _ => rng.below(8192),
    }) as usize
}

fn check_new(b: &Block) {
    if b.ptr.is_null() {
        fail("NULL", b);
    }
    let want = match (b.alignment, b.size) {
        (0, 16..) => 16,
        (0, 8..) => 8,
        (0, _) => 1,
        (a, _) => a,
    };
    if b.ptr as usize % want != 0 {
        fail("misaligned", b);
    }
    // SAFETY: a live block.
    let usable = unsafe { (api().usable_size)(b.ptr.cast()) };
    if usable < b.size {
        fail("usable size below size", b);
    }
    if usable > b.size {
        // SAFETY: all of the usable size may be written.
        unsafe { *b.ptr.add(usable - 1) = 0x5A };
    }
}

struct Worker<'a> {
    id: usize,
    threads: usize,
    rng: Rng,
    ops: u64,
    received: u64,
    slots: Vec<Block>,
    queues: &'a [Mutex<Vec<Block>>],
}

impl Worker<'_> {
    fn release(&mut self, b: &mut Block) {
        if !intact(b.ptr, b.size, b.ptr as usize, b.size) {
            fail("pattern damaged before free", b);
        }
        // SAFETY: a live block with its true size and alignment.
        unsafe {
            match self.rng.below(3) {
                0 => (api().free)(b.ptr.cast()),
                // C23: an aligned block is not gb_free_sized's.
                1 if b.alignment != 0 => (api().free)(b.ptr.cast()),
                1 => (api().free_sized)(b.ptr.cast(), b.size),
                _ if b.alignment != 0 => {
                    (api().free_aligned_sized)(b.ptr.cast(), b.alignment, b.size)
                }
                _ => (api().free_sized)(b.ptr.cast(), b.size),
            }
        }
        self.ops += 1;
        *b = EMPTY;
    }

    fn make(&mut self) -> Block {
        let r = self.rng.below(10);
        let mut b = Block {
            size: pick_size(&mut self.rng),
            ..EMPTY
        };
        // SAFETY: plain allocation calls.
        unsafe {
            if r < 5 {
                b.ptr = (api().alloc)(b.size).cast();
            } else if r < 7 {
                let count = 1 + self.rng.below(8) as usize;
                let each = b.size / count;
                b.size = count * each;
                b.ptr = (api().calloc)(count, each).cast();
                check_new(&b);
                let bytes = std::slice::from_raw_parts(b.ptr, b.size);
                if bytes
                    .iter()
                    .enumerate()
                    .any(|(i, &x)| patterned(i & !7, b.size) && x != 0)
                {
                    fail("calloc block not zero", &b);
                }
            } else if r < 9 {
                b.alignment = 1 << self.rng.below(if r == 7 { 7 } else { 17 });
                b.ptr = (api().aligned_alloc)(b.alignment, b.size).cast();
            } else {
                b.ptr = (api().realloc)(std::ptr::null_mut(), b.size).cast();
            }
        }
        check_new(&b);
        self.ops += 1;
        fill(&b);
        b
    }

    fn resize(&mut self, b: &mut Block) {
        let old = *b;
        let size = if self.rng.below(4) == 0 {
            pick_size(&mut self.rng)
        } else {
            old.size + self.rng.below(64) as usize - old.size.min(32)
        };
        // SAFETY: a live block.
        b.ptr = unsafe { (api().realloc)(b.ptr.cast(), size) }.cast();
        b.size = size;
        b.alignment = 0;
        check_new(b);
        if !intact(b.ptr, old.size.min(size), old.ptr as usize, old.size) {
            fail("contents not kept by realloc", b);
        }
        self.ops += 1;
        fill(b);
    }

    /// Hands the block to another thread; false if its queue is full.
    fn send(&mut self, b: Block) -> bool {
        let other = 1 + self.rng.below(self.threads as u64 - 1) as usize;
        let mut queue = self.queues[(self.id + other) % self.threads]
            .lock()
            .unwrap();
        if queue.len() >= QUEUE {
            return false;
        }
        queue.push(b);
        true
    }

    fn receive(&mut self) {
        let arrived: Vec<Block> = {
            let mut queue = self.queues[self.id].lock().unwrap();
            let n = queue.len().min(8);
            queue.drain(..n).collect()
        };
        for mut b in arrived {
            if !intact(b.ptr, b.size, b.ptr as usize, b.size) {
                fail("pattern damaged in transit", &b);
            }
            self.received += 1;
            if self.rng.below(2) == 0 {
                self.resize(&mut b);
            }
            let slot = self.rng.below(SLOTS as u64) as usize;
            let mut old = std::mem::replace(&mut self.slots[slot], b);
            if !old.ptr.is_null() {
                self.release(&mut old);
            }
        }
    }

    fn step(&mut self) {
        let slot = self.rng.below(SLOTS as u64) as usize;
        let mut b = self.slots[slot];
        let r = self.rng.below(16);
        if b.ptr.is_null() {
            b = self.make();
        } else if r < 5 {
            self.release(&mut b);
        } else if r < 8 {
            self.resize(&mut b);
        } else if r < 10 && self.threads > 1 {
            if self.send(b) {
                b = EMPTY;
            } else {
                self.release(&mut b);
            }
        } else if r == 10 && !intact(b.ptr, b.size, b.ptr as usize, b.size) {
            fail("pattern damaged", &b);
        }
        self.slots[slot] = b;
        if self.ops % 16 == 0 {
            self.receive();
        }
    }
}

/// No two live blocks (their usable sizes) overlap.
fn check_no_overlap(mut all: Vec<Block>) {
    all.sort_by_key(|b| b.ptr as usize);
    for pair in all.windows(2) {
        // SAFETY: live blocks.
        let end = pair[0].ptr as usize + unsafe { (api().usable_size)(pair[0].ptr.cast()) };
        if end > pair[1].ptr as usize {
            fail("live blocks overlap", &pair[1]);
        }
    }
}

fn env_or(name: &str, fallback: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(fallback)
}

/// Runs the stress and returns the number of operations.
fn stress(threads: usize, ops: u64, seed: u64) -> u64 {
    model::api::install_shared_library(&common::variant_lib("dlopen"));
    assert!(threads >= 1);
    let round_ops = ops.min(ROUND_OPS) / threads as u64;
    assert!(round_ops > 0);
    let ops_per_thread = ops / threads as u64 / round_ops * round_ops;
    let queues: Vec<Mutex<Vec<Block>>> = (0..threads).map(|_| Mutex::new(Vec::new())).collect();
    // Each thread's slots, published at every round for the overlap check.
    let published: Vec<Mutex<Vec<Block>>> = (0..threads).map(|_| Mutex::new(Vec::new())).collect();
    let barrier = Barrier::new(threads);
    let start = Instant::now();
    let (total, received) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|id| {
                let (queues, published, barrier) = (&queues, &published, &barrier);
                scope.spawn(move || {
                    let mut w = Worker {
                        id,
                        threads,
                        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) + id as u64 + 1),
                        ops: 0,
                        received: 0,
                        slots: vec![EMPTY; SLOTS],
                        queues,
                    };
                    let mut next_round = round_ops;
                    while w.ops < ops_per_thread {
                        w.step();
                        if w.ops >= next_round {
                            next_round += round_ops;
                            *published[id].lock().unwrap() = w.slots.clone();
                            if barrier.wait().is_leader() {
                                let mut all: Vec<Block> = Vec::new();
                                for t in 0..threads {
                                    all.extend(published[t].lock().unwrap().iter().copied());
                                    all.extend(queues[t].lock().unwrap().iter().copied());
                                }
                                all.retain(|b| !b.ptr.is_null());
                                check_no_overlap(all);
                            }
                            barrier.wait();
                        }
                    }
                    for mut b in std::mem::take(&mut w.slots) {
                        if !b.ptr.is_null() {
                            w.release(&mut b);
                        }
                    }
                    (w.ops, w.received)
                })
            })
            .collect();
        let results: Vec<(u64, u64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        results.iter().fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    });
    // What is left in the queues.
    let mut rest = 0;
    for queue in &queues {
        for b in queue.lock().unwrap().drain(..) {
            assert!(intact(b.ptr, b.size, b.ptr as usize, b.size));
            // SAFETY: a live block.
            unsafe { (api().free)(b.ptr.cast()) };
            rest += 1;
        }
    }
    let total = total + rest;
    // SAFETY: a static string.
    let backend = unsafe { std::ffi::CStr::from_ptr((api().allocator_name)()) };
    println!(
        "stress (Rust): backend={} threads={threads} seed={seed} operations={total} \
         freed_or_resized_by_other_thread={received} seconds={:.1} ok",
        backend.to_string_lossy(),
        start.elapsed().as_secs_f64()
    );
    total
}

#[test]
fn stress_threads_cross_thread_free() {
    let threads = env_or("GB_STRESS_THREADS", 4) as usize;
    let ops = env_or("GB_STRESS_OPS", 200_000);
    let seed = env_or("GB_STRESS_SEED", 1);
    let done = stress(threads, ops, seed);
    assert!(done >= ops / threads as u64 * threads as u64 / 2);
}

#[test]
fn stress_single_thread() {
    stress(1, 50_000, 2);
}
