//! The exported C API, one module per concern. Every function's contract is
//! its doc comment, which cbindgen copies into `include/graphbit_alloc.h`.

mod adapters;
mod alloc;
mod heap;
mod info;

pub use adapters::*;
pub use alloc::*;
pub use heap::*;
pub use info::*;
