//! The exported C API, one module per concern. Every function's contract is
//! its doc comment, which cbindgen copies into `include/graphbit_alloc.h` in
//! the order the modules are declared here (so not sorted by rustfmt: one
//! group each): the allocation functions first.

// The contract of each exported function, preconditions included, is its
// doc comment, written for the C header it reaches; a `# Safety` heading
// would only repeat it there.
#![allow(clippy::missing_safety_doc)]

mod alloc;

mod heap;

mod info;

mod profile;

mod adapters;

pub use adapters::*;
pub(crate) use alloc::free_block;
pub use alloc::*;
pub use heap::*;
pub use info::*;
pub use profile::*;
