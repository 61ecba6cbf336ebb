//! Checked mode's view of heaps: which heaps are live, which live block
//! belongs to which heap, and which addresses were blocks of a heap that
//! `gb_heap_destroy` freed, so that a later free of one is reported naming
//! the heap. Only the checked library calls these (each takes a lock).

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
struct State {
    /// Live heap address -> heap number.
    heaps: HashMap<usize, u64>,
    /// Destroyed heap address -> heap number (until the address is reused).
    destroyed_heaps: HashMap<usize, u64>,
    /// Live heap block -> heap number.
    blocks: HashMap<usize, u64>,
    /// Block of a destroyed heap -> heap number (until the address is reused).
    destroyed_blocks: HashMap<usize, u64>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(State::default))
}

pub fn heap_created(heap: usize, id: u64) {
    with(|s| {
        s.destroyed_heaps.remove(&heap);
        s.heaps.insert(heap, id);
    });
}

/// `Ok` for a live heap; `Err(Some(id))` for a destroyed one, `Err(None)`
/// for an address that was never a heap.
pub fn check_heap(heap: usize) -> Result<(), Option<u64>> {
    with(|s| {
        if s.heaps.contains_key(&heap) {
            Ok(())
        } else {
            Err(s.destroyed_heaps.get(&heap).copied())
        }
    })
}

pub fn block_allocated(block: usize, id: u64) {
    if block != 0 {
        with(|s| {
            s.destroyed_blocks.remove(&block);
            s.blocks.insert(block, id);
        });
    }
}

/// Forgets a heap block freed by `gb_free` (no-op for other blocks).
pub fn block_freed(block: usize) {
    with(|s| {
        s.blocks.remove(&block);
    });
}

/// Marks the heap and its live blocks destroyed; returns the blocks, for
/// the caller to take out of the record of live blocks.
pub fn heap_destroyed(heap: usize, id: u64) -> Vec<usize> {
    with(|s| {
        s.heaps.remove(&heap);
        s.destroyed_heaps.insert(heap, id);
        let blocks: Vec<usize> = s
            .blocks
            .iter()
            .filter(|&(_, &owner)| owner == id)
            .map(|(&b, _)| b)
            .collect();
        for b in &blocks {
            s.blocks.remove(b);
            s.destroyed_blocks.insert(*b, id);
        }
        blocks
    })
}

/// The number of the destroyed heap `block` belonged to, if it was one's.
pub fn destroyed_heap_of(block: usize) -> Option<u64> {
    with(|s| s.destroyed_blocks.get(&block).copied())
}
