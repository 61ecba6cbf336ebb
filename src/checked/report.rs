//! The abort message: one line, built on the stack (no allocation while the
//! heap may be corrupt), written to stderr with one `write(2)` before
//! aborting: `graphbit-alloc: gb_free_sized(0x..., 10): wrong size: ...`.

use core::ffi::c_void;
use core::fmt::Write;

use super::{Block, Claim};
use crate::backend::{Backend, Selected};
use crate::diagnostics::Text;
use crate::sys;

/// The message's buffer: a line of at most 255 bytes and its newline.
type Line = Text<[u8; 256]>;

/// The line so far: `graphbit-alloc: function(ptr[, claim]): `.
fn start(function: &str, ptr: *mut c_void, claim: &Claim) -> Line {
    let mut line = Line::new();
    let _ = write!(line, "graphbit-alloc: {function}({ptr:p}");
    let _ = match claim {
        Claim::Live => Ok(()),
        Claim::Size(size) => write!(line, ", {size}"),
        Claim::Aligned(alignment, size) => write!(line, ", {alignment}, {size}"),
    };
    let _ = line.write_str("): ");
    line
}

#[cold]
fn abort_with(mut line: Line) -> ! {
    sys::write_stderr(line.as_line());
    // SAFETY: no preconditions.
    unsafe { libc::abort() }
}

/// A block that is live, but not as the caller claims it.
#[cold]
pub(super) fn mismatch(function: &str, ptr: *mut c_void, claim: &Claim, block: Block) -> ! {
    let mut line = start(function, ptr, claim);
    let _ = match *claim {
        Claim::Aligned(alignment, _) if alignment != block.alignment => {
            let _ = line.write_str("wrong alignment: the block was allocated with ");
            if block.alignment == 0 {
                line.write_str("no alignment (not by gb_aligned_alloc)")
            } else {
                write!(line, "alignment {}", block.alignment)
            }
        }
        Claim::Size(_) if block.alignment != 0 => write!(
            line,
            "block from gb_aligned_alloc({}, {}): free it with gb_free_aligned_sized or gb_free",
            block.alignment, block.size
        ),
        _ => write!(
            line,
            "wrong size: the block was allocated with size {}",
            block.size
        ),
    };
    abort_with(line)
}

/// An address freed recently.
#[cold]
pub(super) fn double_free(function: &str, ptr: *mut c_void, claim: &Claim) -> ! {
    let mut line = start(function, ptr, claim);
    let _ = line.write_str("double free");
    abort_with(line)
}

/// A pointer `offset` bytes inside a live block.
#[cold]
pub(super) fn interior(
    function: &str,
    ptr: *mut c_void,
    claim: &Claim,
    offset: usize,
    block: Block,
) -> ! {
    let mut line = start(function, ptr, claim);
    let _ = write!(
        line,
        "interior pointer: {offset} bytes into a live block of size {}",
        block.size
    );
    abort_with(line)
}

/// A block of a heap that `gb_heap_destroy` freed already.
#[cold]
pub(super) fn destroyed_heap_block(
    function: &str,
    ptr: *mut c_void,
    claim: &Claim,
    heap: u64,
) -> ! {
    let mut line = start(function, ptr, claim);
    let _ = write!(
        line,
        "block of heap #{heap}, freed already by gb_heap_destroy"
    );
    abort_with(line)
}

/// A heap handle that is not a live heap (`id`: the destroyed heap it was).
#[cold]
pub(super) fn heap_misuse(function: &str, heap: *mut c_void, id: Option<u64>) -> ! {
    let mut line = start(function, heap, &Claim::Live);
    let _ = match id {
        Some(id) => write!(line, "heap #{id} was destroyed already"),
        None => write!(line, "not a heap from gb_heap_new"),
    };
    abort_with(line)
}

/// A pointer that is neither a live block nor inside one.
#[cold]
pub(super) fn missing(function: &str, ptr: *mut c_void, claim: &Claim) -> ! {
    let mut line = start(function, ptr, claim);
    let _ = if Selected::CAN_TELL_OWNERSHIP && !Selected::owns(ptr) {
        line.write_str("pointer not allocated by graphbit-alloc")
    } else {
        line.write_str("not a live block (freed already, or not allocated by graphbit-alloc)")
    };
    abort_with(line)
}

/// A thread re-entered checked mode (from a signal handler).
#[cold]
pub(super) fn reentered() -> ! {
    let mut line = Line::new();
    let _ = line.write_str(
        "graphbit-alloc: checked mode was re-entered on one thread (an allocation function \
         called from a signal handler that interrupted one, which is undefined); aborting",
    );
    abort_with(line)
}
