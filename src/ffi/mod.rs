//! The exported C API, one module per concern. Every function's contract is
//! its doc comment, which cbindgen copies into `include/graphbit_alloc.h` in
//! the order the modules are declared here (so not sorted by rustfmt: one
//! group each): the allocation functions first.

mod alloc;

mod info;

mod adapters;

pub use adapters::*;
pub use alloc::*;
pub use info::*;
