//! The exported C API, one module per concern. Every function's contract is
//! its doc comment, which cbindgen copies into `include/graphbit_alloc.h`.

mod adapters;
mod alloc;
mod info;
mod profile;

pub use adapters::*;
pub use alloc::*;
pub use info::*;
pub use profile::*;
