//! What the library is and whether it works, as data: the verification
//! checks with their typed evidence, how the library was built, and the
//! backend's settings as (name, value) pairs.
//!
//! Nothing here allocates. The values are formatted only where they leave the
//! library: as JSON by [`write_json`] (the document `gb_verify_report` writes
//! into the caller's buffer, and `gb-info --json` prints), or as text by the
//! `Display` impls (what `gb-info` prints).
//!
//! ```
//! use graphbit_alloc::diagnostics;
//!
//! let report = diagnostics::run_checks();
//! for check in &report.checks {
//!     println!("{} {}: {}", check.passed, check.name, check.evidence);
//! }
//! let build = diagnostics::build();
//! for setting in build.settings.in_effect() {
//!     println!("{} = {}", setting.name, setting.value);
//! }
//! let mut json = String::new();
//! diagnostics::write_json(&report, &build, &mut json).unwrap();
//! assert!(json.starts_with("{\"library\":\"graphbit-alloc\""));
//! ```

use core::fmt::{self, Display, Write};

use crate::backend::{Backend, Selected};

/// `GB_STATS_AT_EXIT=1`: a summary on stderr at exit (ELF platforms).
#[cfg(target_os = "linux")]
mod exit_stats;
mod json;
pub(crate) mod text;
pub(crate) mod verify;

pub use json::write_json;
pub(crate) use text::{Lossy, Text};
// For the backends: report callbacks (jemalloc, mimalloc), formatted version
// strings (mimalloc, system).
#[allow(unused_imports)]
pub(crate) use text::{write_c_str, CallbackSink, StaticText};
pub use verify::{
    profiling, run as run_checks, Check, Evidence, HostMalloc, Probe, Profiling, Report,
};

/// An address found by a check. Shown as `0x` and a fixed number of hex
/// digits (16 on 64-bit targets), so that the report's length does not
/// depend on where a block happened to land.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address(pub usize);

impl Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const WIDTH: usize = 2 + 2 * core::mem::size_of::<usize>();
        write!(f, "{:#0width$x}", self.0, width = WIDTH)
    }
}

/// The value of one backend setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingValue {
    /// A flag.
    Bool(bool),
    /// A signed number (jemalloc's decay times, mimalloc's options).
    Int(i64),
    /// An unsigned number (counts, thresholds in bytes).
    UInt(u64),
    /// A word (jemalloc's `percpu_arena` mode).
    Text(&'static str),
    /// The backend did not answer.
    Unknown,
}

impl Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Bool(v) => write!(f, "{v}"),
            SettingValue::Int(v) => write!(f, "{v}"),
            SettingValue::UInt(v) => write!(f, "{v}"),
            SettingValue::Text(v) => f.write_str(v),
            SettingValue::Unknown => f.write_str("?"),
        }
    }
}

/// One backend setting as in effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The backend's own name for it (jemalloc's `opt.<name>` without `opt.`,
    /// mimalloc's option name without `mi_option_`).
    pub name: &'static str,
    /// Its value now.
    pub value: SettingValue,
}

/// What the build fixed about the backend's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltIn {
    /// An options string compiled into the library (jemalloc's
    /// `malloc_conf`).
    Options(&'static str),
    /// A description of what the build chose.
    Description(&'static str),
}

/// The backend's settings that decide its speed/footprint trade-off.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    entries: [Setting; SETTINGS_CAPACITY],
    len: usize,
    /// What the build chose.
    pub built_in: BuiltIn,
    /// How a user overrides them at run time (an environment variable).
    pub run_time_override: &'static str,
}

/// The most settings a backend reports (not `pub`, so that cbindgen leaves
/// it out of the C header).
const SETTINGS_CAPACITY: usize = 12;

impl Settings {
    pub(crate) const fn new(built_in: BuiltIn, run_time_override: &'static str) -> Self {
        Settings {
            entries: [Setting {
                name: "",
                value: SettingValue::Unknown,
            }; SETTINGS_CAPACITY],
            len: 0,
            built_in,
            run_time_override,
        }
    }

    /// Adds a setting; one beyond the capacity (8) is dropped (a debug build
    /// panics, so a backend that lists too many is caught by its tests).
    #[allow(dead_code)] // the system backend has no settings of its own
    pub(crate) fn push(&mut self, name: &'static str, value: SettingValue) {
        debug_assert!(self.len < SETTINGS_CAPACITY, "raise SETTINGS_CAPACITY");
        if let Some(slot) = self.entries.get_mut(self.len) {
            *slot = Setting { name, value };
            self.len += 1;
        }
    }

    /// The settings in effect, in the backend's order.
    pub fn in_effect(&self) -> &[Setting] {
        &self.entries[..self.len]
    }

    /// The value of the setting `name`, if the backend reports it.
    pub fn get(&self, name: &str) -> Option<SettingValue> {
        self.in_effect()
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
    }
}

/// One line, as the report's `"settings"` string has always read: `in
/// effect: name:value,...; built in: ...; run-time override: ...`.
impl Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.in_effect().is_empty() {
            f.write_str("in effect: ")?;
            for (i, s) in self.in_effect().iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                write!(f, "{comma}{}:{}", s.name, s.value)?;
            }
            f.write_str("; ")?;
        }
        match self.built_in {
            BuiltIn::Options(options) => write!(f, "built in: \"{options}\"")?,
            BuiltIn::Description(text) => write!(f, "built in: {text}")?,
        }
        write!(f, "; run-time override: {}", self.run_time_override)
    }
}

/// How the library was built and what its backend runs with.
#[derive(Clone, Copy, Debug)]
pub struct Build {
    /// This library's version, "MAJOR.MINOR.PATCH".
    pub version: &'static str,
    /// The backend's name: "jemalloc", "mimalloc" or "system".
    pub backend: &'static str,
    /// The backend's own version string.
    pub backend_version: &'static str,
    /// Whether the backend is Rust's `#[global_allocator]` inside the library.
    pub global_allocator: bool,
    /// How the backend's thread-local state is reached.
    pub tls_model: &'static str,
    /// The backend's settings in effect.
    pub settings: Settings,
    /// Whether the backend keeps statistics.
    pub stats_enabled: bool,
    /// Whether the library was built with debug assertions.
    pub debug_assertions: bool,
}

impl Build {
    /// The Cargo features this library was built with.
    pub fn features(&self) -> impl Iterator<Item = &'static str> {
        [
            ("backend-auto", cfg!(feature = "backend-auto")),
            ("backend-jemalloc", cfg!(feature = "backend-jemalloc")),
            ("backend-mimalloc", cfg!(feature = "backend-mimalloc")),
            ("backend-system", cfg!(feature = "backend-system")),
            ("dlopen", cfg!(feature = "dlopen")),
            ("checked", cfg!(feature = "checked")),
            ("override", cfg!(feature = "override")),
            ("profiling", cfg!(feature = "profiling")),
            ("global-allocator", cfg!(feature = "global-allocator")),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
    }
}

/// How the library was built, with the backend's settings as they are now.
pub fn build() -> Build {
    Build {
        version: env!("CARGO_PKG_VERSION"),
        backend: backend_name(),
        backend_version: Selected::version().to_str().unwrap_or("unknown"),
        global_allocator: cfg!(feature = "global-allocator"),
        tls_model: Selected::TLS_MODEL,
        settings: Selected::settings(),
        stats_enabled: Selected::stats_enabled(),
        debug_assertions: cfg!(debug_assertions),
    }
}

/// The backend's name as a `str`.
pub(crate) fn backend_name() -> &'static str {
    Selected::NAME.to_str().unwrap_or("backend")
}

/// Writes the backend's own detailed statistics report (jemalloc:
/// `malloc_stats_print`; mimalloc: `mi_stats_print_out`; glibc:
/// `malloc_info`) into `out`. Returns `Err` if the backend could not produce
/// it or `out` refused the text.
pub fn write_backend_stats(out: &mut dyn Write) -> fmt::Result {
    Selected::detailed_stats(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_have_a_fixed_width() {
        assert_eq!(
            Address(0x10).to_string().len(),
            Address(usize::MAX).to_string().len()
        );
        assert_eq!(
            Address(0xab).to_string(),
            format!("0x{:0w$x}", 0xab, w = 2 * core::mem::size_of::<usize>())
        );
    }
}
