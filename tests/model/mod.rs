//! A decoder from bytes to sequences of C API calls, and a shadow model that
//! every result is compared with. Shared by the stable tests
//! (`tests/fuzz_model.rs`: checked-in corpus plus seeded random sequences)
//! and the libFuzzer target (`fuzz/fuzz_targets/api_sequence.rs`).
//!
//! The model knows each live block (address, size, alignment, the key of its
//! byte pattern), what every call must return, and `errno` after it: failures
//! must set the documented code, the free functions must leave it alone.
//! Hostile arguments (sizes above `PTRDIFF_MAX`, `SIZE_MAX`, overflowing
//! calloc products, zero and non-power-of-two alignments, NULL, realloc to 0,
//! out-of-range sizes and alignments given to the sized frees) are part of the
//! vocabulary. Any disagreement panics with the call that caused it.
#![allow(dead_code)]

use core::ffi::c_void;

pub mod api;
use api::api;

/// `PTRDIFF_MAX`: the largest size the library accepts.
pub const MAX_SIZE: usize = isize::MAX as usize;
/// Requests up to this size must succeed; larger legal ones may fail.
const SURE_SIZE: usize = 64 << 20;
/// Blocks the model keeps at once, and their total size.
const SLOTS: usize = 32;
const LIVE_LIMIT: usize = 256 << 20;

/// Sizes the decoder picks from: class boundaries, page sizes and the
/// hostile ones.
const SIZES: [usize; 40] = [
    0,
    1,
    7,
    8,
    9,
    15,
    16,
    17,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    255,
    256,
    511,
    1023,
    1024,
    4095,
    4096,
    4097,
    8192,
    16385,
    65536,
    (1 << 20) + 1,
    3 << 20,
    4 << 20,
    1 << 40,
    1 << 47,
    MAX_SIZE - 4095,
    MAX_SIZE,
    MAX_SIZE + 1,
    usize::MAX - 15,
    usize::MAX - 1,
    usize::MAX,
    1 << 62,
    1 << 63,
];

/// Sizes given to gb_free_sized that cannot be right: above PTRDIFF_MAX.
const HOSTILE_FREE_SIZES: [usize; 5] = [
    MAX_SIZE + 1,
    usize::MAX - 15,
    usize::MAX - 1,
    usize::MAX,
    1 << 63,
];

const ALIGNMENTS: [usize; 20] = [
    0,
    1,
    2,
    3,
    4,
    6,
    8,
    16,
    24,
    32,
    64,
    100,
    4096,
    1 << 16,
    1 << 21,
    1 << 30,
    1 << 62,
    1 << 63,
    usize::MAX,
    MAX_SIZE,
];

/// One call, as decoded.
#[derive(Debug, Clone, Copy)]
pub enum Call {
    Alloc(usize),
    Calloc(usize, usize),
    AlignedAlloc(usize, usize),
    /// Realloc of the block in a slot (an empty slot passes NULL).
    Realloc(usize, usize),
    Free(usize),
    /// Sized free; `Some` replaces the true size with a hostile one.
    FreeSized(usize, Option<usize>),
    /// Aligned sized free; `Some` replaces the alignment with a hostile one.
    FreeAlignedSized(usize, Option<usize>),
    UsableSize(usize),
    /// Rewrites the block's pattern with a new key.
    Write(usize),
}

/// Reads bytes off the front of the input; zeros when it runs out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn size(&mut self) -> usize {
        let b = self.byte();
        match b {
            0..=127 => SIZES[b as usize % SIZES.len()],
            128..=191 => (b as usize - 128) * 256 + self.byte() as usize,
            _ => (self.byte() as usize) << (b - 192).min(60),
        }
    }
    fn slot(&mut self) -> usize {
        self.byte() as usize % SLOTS
    }
}

/// Decodes a whole input into calls.
pub fn decode(data: &[u8]) -> Vec<Call> {
    let mut r = Reader(data);
    let mut calls = Vec::new();
    while !r.0.is_empty() {
        let call = match r.byte() % 12 {
            0 | 1 => Call::Alloc(r.size()),
            2 => Call::Calloc(r.size(), r.size()),
            3 => Call::AlignedAlloc(ALIGNMENTS[r.byte() as usize % ALIGNMENTS.len()], r.size()),
            4 | 5 => Call::Realloc(r.slot(), r.size()),
            6 => Call::Free(r.slot()),
            7 => {
                let slot = r.slot();
                let hostile = r.byte();
                // Hostile sizes are those the contract ignores (above
                // PTRDIFF_MAX); any other wrong size is the caller's bug, which
                // only checked mode reports.
                Call::FreeSized(
                    slot,
                    (hostile >= 200).then(|| HOSTILE_FREE_SIZES[hostile as usize % 5]),
                )
            }
            8 => {
                let slot = r.slot();
                let hostile = r.byte();
                Call::FreeAlignedSized(
                    slot,
                    (hostile >= 128)
                        .then(|| [0, 3, 24, 100, 1 << 63, usize::MAX][hostile as usize % 6]),
                )
            }
            9 => Call::UsableSize(r.slot()),
            _ => Call::Write(r.slot()),
        };
        calls.push(call);
    }
    calls
}

#[derive(Clone, Copy, Debug)]
struct Live {
    ptr: *mut u8,
    size: usize,
    /// 0 unless from gb_aligned_alloc.
    alignment: usize,
    key: u64,
}

/// What a run did.
#[derive(Default, Debug, Clone, Copy)]
pub struct Counts {
    pub calls: u64,
    /// Calls with an argument the contract refuses or ignores.
    pub hostile: u64,
}

pub struct Model {
    slots: [Option<Live>; SLOTS],
    live_bytes: usize,
    next_key: u64,
    pub counts: Counts,
}

fn errno() -> i32 {
    // SAFETY: this thread's errno.
    unsafe { *libc::__errno_location() }
}
fn set_errno(v: i32) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = v }
}
const SENTINEL: i32 = 4242;

/// Word `j` (bytes 8j..8j+8) of the pattern with this key.
fn pattern_word(key: u64, j: usize) -> [u8; 8] {
    let x =
        key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (j as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    (x ^ (x >> 29) ^ (x >> 43) | 0x0101_0101_0101_0101).to_ne_bytes()
}

/// The byte ranges of a block of `size` that carry its pattern: all of a
/// block up to 64 KiB; of a bigger one its first and last 4 KiB and the first
/// 64 bytes of every 64 KiB (so that big blocks stay cheap).
fn patterned(size: usize) -> impl Iterator<Item = core::ops::Range<usize>> {
    let small = (size <= 65536).then_some(0..size);
    let big = (size > 65536).then(|| {
        let tail = (size - 4096) & !7;
        let middle = (65536..tail)
            .step_by(65536)
            .map(move |start| start..(start + 64).min(tail));
        core::iter::once(0..4096)
            .chain(middle)
            .chain(core::iter::once(tail..size))
    });
    small.into_iter().chain(big.into_iter().flatten())
}

/// The block's bytes in `range`, as a slice.
// The block is reached through the raw pointer `Live` holds, not through the
// reference, which only names which block.
#[allow(clippy::mut_from_ref)]
fn bytes(b: &Live, range: core::ops::Range<usize>) -> &mut [u8] {
    // SAFETY: range lies within a live block of b.size bytes.
    unsafe { core::slice::from_raw_parts_mut(b.ptr.add(range.start), range.len()) }
}

fn fill(b: &Live) {
    for range in patterned(b.size) {
        let first = range.start / 8;
        for (j, chunk) in bytes(b, range).chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&pattern_word(b.key, first + j)[..chunk.len()]);
        }
    }
}

/// Checks the pattern of `b` (as filled for its size) on its first `upto` bytes.
fn check_pattern(b: &Live, upto: usize, what: &str) {
    for range in patterned(b.size) {
        let range = range.start.min(upto)..range.end.min(upto);
        let first = range.start / 8;
        for (j, chunk) in bytes(b, range.clone()).chunks(8).enumerate() {
            if chunk != &pattern_word(b.key, first + j)[..chunk.len()] {
                panic!(
                    "{what}: block {:p} (size {}) bytes {}.. differ",
                    b.ptr,
                    b.size,
                    range.start + 8 * j
                );
            }
        }
    }
}

/// The size of a block that must succeed is at most SURE_SIZE; a legal
/// bigger one may fail with ENOMEM.
enum Expect {
    Ok,
    Maybe,
    Fail(i32),
}

impl Default for Model {
    fn default() -> Self {
        Model {
            slots: [None; SLOTS],
            live_bytes: 0,
            next_key: 1,
            counts: Counts::default(),
        }
    }
}

impl Model {
    /// Runs every call of `data` against the library and the model.
    pub fn run(data: &[u8]) -> Counts {
        let mut model = Model::default();
        for (n, call) in decode(data).into_iter().enumerate() {
            model.step(call);
            if n % 32 == 31 {
                model.check_all();
            }
        }
        model.finish();
        model.counts
    }

    fn fits(&self, size: usize) -> bool {
        size <= SURE_SIZE && self.live_bytes + size <= LIVE_LIMIT
    }

    fn expect_size(&mut self, size: usize) -> Option<Expect> {
        if size > MAX_SIZE {
            self.counts.hostile += 1;
            Some(Expect::Fail(libc::ENOMEM))
        } else if size <= SURE_SIZE {
            self.fits(size).then_some(Expect::Ok)
        } else {
            self.counts.hostile += 1;
            Some(Expect::Maybe)
        }
    }

    /// Checks a fresh result against the expectation; returns the block if
    /// the model should keep it.
    fn accept(
        &mut self,
        what: &str,
        ptr: *mut c_void,
        expect: Expect,
        size: usize,
        alignment: usize,
    ) -> Option<Live> {
        match (ptr.is_null(), expect) {
            (true, Expect::Fail(code)) => {
                assert_eq!(errno(), code, "{what}: errno after failure");
                None
            }
            (false, Expect::Fail(_)) => panic!("{what}: succeeded, the contract says it fails"),
            (true, Expect::Ok) => panic!("{what}: failed (errno {})", errno()),
            (true, Expect::Maybe) => {
                assert_eq!(errno(), libc::ENOMEM, "{what}: errno after failure");
                None
            }
            (false, expect) => {
                let min_align = match (alignment, size) {
                    (0, 16..) => 16,
                    (0, 8..) => 8,
                    (0, _) => 1,
                    (a, _) => a,
                };
                assert_eq!(ptr as usize % min_align, 0, "{what}: misaligned {ptr:p}");
                // SAFETY: a live block.
                let usable = unsafe { (api().usable_size)(ptr) };
                assert!(usable >= size, "{what}: usable size {usable} < {size}");
                let block = Live {
                    ptr: ptr.cast(),
                    size,
                    alignment,
                    key: self.next_key,
                };
                self.next_key += 1;
                if matches!(expect, Expect::Maybe) {
                    // A huge block that happened to work: give it back untouched.
                    // SAFETY: a live block.
                    unsafe { (api().free)(ptr) };
                    return None;
                }
                Some(block)
            }
        }
    }

    fn keep(&mut self, block: Option<Live>, zeroed: bool) {
        let Some(block) = block else { return };
        if zeroed {
            for range in patterned(block.size) {
                if bytes(&block, range).iter().any(|&x| x != 0) {
                    panic!("calloc block {:p} not zero", block.ptr);
                }
            }
        }
        fill(&block);
        // The slot to use: the first empty one (the caller made room).
        let slot = self
            .slots
            .iter()
            .position(Option::is_none)
            .expect("a free slot");
        self.live_bytes += block.size;
        self.slots[slot] = Some(block);
    }

    fn has_room(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    fn forget(&mut self, slot: usize) -> Live {
        let b = self.slots[slot].take().expect("live");
        self.live_bytes -= b.size;
        b
    }

    pub fn step(&mut self, call: Call) {
        self.counts.calls += 1;
        set_errno(SENTINEL);
        match call {
            Call::Alloc(size) => {
                let Some(expect) = self.expect_size(size) else {
                    return;
                };
                if !self.has_room() {
                    return;
                }
                // SAFETY: any size.
                let p = unsafe { (api().alloc)(size) };
                let b = self.accept(&format!("gb_alloc({size})"), p, expect, size, 0);
                self.keep(b, false);
            }
            Call::Calloc(count, size) => {
                let expect = match count.checked_mul(size) {
                    None => {
                        self.counts.hostile += 1;
                        Expect::Fail(libc::ENOMEM)
                    }
                    // A legal calloc above SURE_SIZE may have the backend
                    // zero all of it (mimalloc does): too slow to try.
                    Some(total) if total > SURE_SIZE && total <= MAX_SIZE => return,
                    Some(total) => match self.expect_size(total) {
                        Some(e) => e,
                        None => return,
                    },
                };
                if !self.has_room() {
                    return;
                }
                let total = count.wrapping_mul(size);
                // SAFETY: any arguments.
                let p = unsafe { (api().calloc)(count, size) };
                let b = self.accept(&format!("gb_calloc({count}, {size})"), p, expect, total, 0);
                self.keep(b, true);
            }
            Call::AlignedAlloc(alignment, size) => {
                let expect = if !alignment.is_power_of_two() {
                    self.counts.hostile += 1;
                    Expect::Fail(libc::EINVAL)
                } else {
                    match size.checked_next_multiple_of(alignment) {
                        Some(padded) if padded <= MAX_SIZE && alignment <= MAX_SIZE => {
                            if padded <= SURE_SIZE && alignment <= 1 << 21 {
                                if !self.fits(padded) {
                                    return;
                                }
                                Expect::Ok
                            } else {
                                self.counts.hostile += 1;
                                Expect::Maybe
                            }
                        }
                        _ => {
                            self.counts.hostile += 1;
                            Expect::Fail(libc::ENOMEM)
                        }
                    }
                };
                if !self.has_room() {
                    return;
                }
                // SAFETY: any arguments.
                let p = unsafe { (api().aligned_alloc)(alignment, size) };
                let what = format!("gb_aligned_alloc({alignment}, {size})");
                let b = self.accept(&what, p, expect, size, alignment);
                self.keep(b, false);
            }
            Call::Realloc(slot, size) => {
                let Some(old) = self.slots[slot] else {
                    let Some(expect) = self.expect_size(size) else {
                        return;
                    };
                    if !self.has_room() {
                        return;
                    }
                    // SAFETY: NULL is allowed.
                    let p = unsafe { (api().realloc)(core::ptr::null_mut(), size) };
                    let b = self.accept(&format!("gb_realloc(NULL, {size})"), p, expect, size, 0);
                    self.keep(b, false);
                    return;
                };
                let grow = size.saturating_sub(old.size);
                let Some(expect) = self.expect_size(size) else {
                    return;
                };
                if matches!(expect, Expect::Ok) && !self.fits(grow) {
                    return;
                }
                if size == 0 {
                    self.counts.hostile += 1;
                }
                check_pattern(&old, old.size, "before realloc");
                // SAFETY: a live block.
                let p = unsafe { (api().realloc)(old.ptr.cast(), size) };
                let what = format!("gb_realloc({:p} size {}, {size})", old.ptr, old.size);
                if p.is_null() {
                    self.accept(&what, p, expect, size, 0);
                    check_pattern(&old, old.size, "after a failed realloc");
                    return;
                }
                self.forget(slot);
                // Contents up to the smaller size are kept.
                let moved = Live {
                    ptr: p.cast(),
                    ..old
                };
                check_pattern(&moved, old.size.min(size), &what);
                let b = self
                    .accept(&what, p, expect, size, 0)
                    .map(|b| Live { key: old.key, ..b });
                if let Some(b) = b {
                    fill(&b);
                    self.live_bytes += b.size;
                    self.slots[slot] = Some(b);
                }
            }
            Call::Free(slot) => {
                let ptr = match self.slots[slot] {
                    Some(b) => {
                        check_pattern(&b, b.size, "before gb_free");
                        self.forget(slot).ptr
                    }
                    None => {
                        self.counts.hostile += 1;
                        core::ptr::null_mut()
                    }
                };
                // SAFETY: a live block or NULL.
                unsafe { (api().free)(ptr.cast()) };
                assert_eq!(errno(), SENTINEL, "gb_free changed errno");
            }
            Call::FreeSized(slot, hostile) => {
                let (ptr, size, aligned) = match self.slots[slot] {
                    Some(b) => {
                        check_pattern(&b, b.size, "before gb_free_sized");
                        self.forget(slot);
                        (b.ptr, hostile.unwrap_or(b.size), b.alignment)
                    }
                    None => (core::ptr::null_mut(), hostile.unwrap_or(1), 0),
                };
                if hostile.is_some() || ptr.is_null() {
                    self.counts.hostile += 1;
                }
                if aligned != 0 && hostile.is_none() {
                    // C23: a block from gb_aligned_alloc is not gb_free_sized's;
                    // its sized free is gb_free_aligned_sized.
                    // SAFETY: a live aligned block with its alignment and size.
                    unsafe { (api().free_aligned_sized)(ptr.cast(), aligned, size) };
                    assert_eq!(errno(), SENTINEL, "gb_free_aligned_sized changed errno");
                    return;
                }
                // SAFETY: a live block with its size (or a size the contract
                // ignores), or NULL.
                unsafe { (api().free_sized)(ptr.cast(), size) };
                assert_eq!(errno(), SENTINEL, "gb_free_sized changed errno");
            }
            Call::FreeAlignedSized(slot, hostile) => {
                let Some(b) = self.slots[slot] else {
                    self.counts.hostile += 1;
                    // SAFETY: NULL is a no-op whatever the other arguments.
                    unsafe {
                        (api().free_aligned_sized)(core::ptr::null_mut(), hostile.unwrap_or(3), 5)
                    };
                    assert_eq!(errno(), SENTINEL, "gb_free_aligned_sized changed errno");
                    return;
                };
                // Only aligned blocks may be given their true alignment; any
                // block may be given one the contract ignores.
                let alignment = match (b.alignment, hostile) {
                    (a, None) if a != 0 => a,
                    (_, Some(h)) => h,
                    _ => return,
                };
                check_pattern(&b, b.size, "before gb_free_aligned_sized");
                self.forget(slot);
                if hostile.is_some() {
                    self.counts.hostile += 1;
                }
                // SAFETY: an aligned block with its alignment and size, or an
                // alignment the contract ignores.
                unsafe { (api().free_aligned_sized)(b.ptr.cast(), alignment, b.size) };
                assert_eq!(errno(), SENTINEL, "gb_free_aligned_sized changed errno");
            }
            Call::UsableSize(slot) => match self.slots[slot] {
                // SAFETY: a live block.
                Some(b) => assert!(unsafe { (api().usable_size)(b.ptr.cast()) } >= b.size),
                None => {
                    self.counts.hostile += 1;
                    // SAFETY: NULL is allowed.
                    assert_eq!(unsafe { (api().usable_size)(core::ptr::null()) }, 0);
                }
            },
            Call::Write(slot) => {
                if let Some(b) = self.slots[slot] {
                    check_pattern(&b, b.size, "before rewrite");
                    let b = Live {
                        key: self.next_key,
                        ..b
                    };
                    self.next_key += 1;
                    fill(&b);
                    self.slots[slot] = Some(b);
                }
            }
        }
    }

    /// Every live block is intact and no two overlap.
    pub fn check_all(&self) {
        let mut live: Vec<Live> = self.slots.iter().flatten().copied().collect();
        live.sort_by_key(|b| b.ptr as usize);
        for b in &live {
            check_pattern(b, b.size, "live block");
        }
        for pair in live.windows(2) {
            // SAFETY: live blocks.
            let end = pair[0].ptr as usize + unsafe { (api().usable_size)(pair[0].ptr.cast()) };
            assert!(
                end <= pair[1].ptr as usize,
                "blocks {:p} and {:p} overlap",
                pair[0].ptr,
                pair[1].ptr
            );
        }
    }

    fn finish(&mut self) {
        self.check_all();
        for slot in 0..SLOTS {
            if self.slots[slot].is_some() {
                let b = self.forget(slot);
                // SAFETY: a live block.
                unsafe { (api().free)(b.ptr.cast()) };
            }
        }
    }
}
