/// Requests of this many bytes or more are "large": the override calls
/// `Backend::before_large_request` before them. Included by build.rs too,
/// which passes it to src/override/new.cpp as `GB_LARGE_BLOCK`.
#[cfg_attr(not(feature = "override"), allow(dead_code))]
pub(crate) const LARGE_BLOCK: usize = 1 << 20;
