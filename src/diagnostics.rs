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

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::fmt::{self, Display, Write};
use std::sync::Once;

use crate::backend;

pub use crate::verify::{run as run_checks, Check, Evidence, HostMalloc, Probe, Report};

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
    #[cfg_attr(gb_backend = "system", allow(dead_code))] // it has none
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
        backend_version: backend::version().to_str().unwrap_or("unknown"),
        global_allocator: cfg!(feature = "global-allocator"),
        tls_model: backend::TLS_MODEL,
        settings: backend::settings(),
        stats_enabled: backend::stats_enabled(),
        debug_assertions: cfg!(debug_assertions),
    }
}

/// The backend's name as a `str`.
pub(crate) fn backend_name() -> &'static str {
    backend::NAME.to_str().unwrap_or("backend")
}

/// Writes the verification report as the JSON document of
/// `gb_verify_report`: `library`, `version`, `backend`, `backend_version`,
/// `passed`, `checks` (each with `name`, `passed`, `evidence` as text and
/// `measured`, the same evidence as typed values) and `build` (`features`,
/// `global_allocator`, `tls_model`, `settings` as one line of text,
/// `settings_in_effect` as an object of name: value, `settings_built_in`,
/// `settings_override`, `stats_enabled`, `debug_assertions`).
pub fn write_json(report: &Report, build: &Build, out: &mut dyn Write) -> fmt::Result {
    write!(out, "{{\"library\":\"graphbit-alloc\",\"version\":")?;
    json_str(out, build.version)?;
    out.write_str(",\"backend\":")?;
    json_str(out, build.backend)?;
    out.write_str(",\"backend_version\":")?;
    json_str(out, build.backend_version)?;
    write!(out, ",\"passed\":{},\"checks\":[", report.passed())?;
    for (i, check) in report.checks.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        write!(out, "{comma}{{\"name\":")?;
        json_str(out, check.name)?;
        write!(out, ",\"passed\":{},\"evidence\":", check.passed)?;
        json_display(out, &check.evidence)?;
        out.write_str(",\"measured\":")?;
        write_measured_json(out, &check.evidence)?;
        out.write_str("}")?;
    }
    out.write_str("],\"build\":{\"features\":[")?;
    for (i, feature) in build.features().enumerate() {
        if i > 0 {
            out.write_str(",")?;
        }
        json_str(out, feature)?;
    }
    write!(
        out,
        "],\"global_allocator\":{},\"tls_model\":",
        build.global_allocator
    )?;
    json_str(out, build.tls_model)?;
    out.write_str(",\"settings\":")?;
    json_display(out, &build.settings)?;
    out.write_str(",\"settings_in_effect\":{")?;
    for (i, setting) in build.settings.in_effect().iter().enumerate() {
        if i > 0 {
            out.write_str(",")?;
        }
        json_str(out, setting.name)?;
        out.write_str(":")?;
        match setting.value {
            SettingValue::Unknown => out.write_str("null")?,
            SettingValue::Text(text) => json_str(out, text)?,
            value => write!(out, "{value}")?,
        }
    }
    out.write_str("},\"settings_built_in\":")?;
    match build.settings.built_in {
        BuiltIn::Options(text) | BuiltIn::Description(text) => json_str(out, text)?,
    }
    out.write_str(",\"settings_override\":")?;
    json_str(out, build.settings.run_time_override)?;
    write!(
        out,
        ",\"stats_enabled\":{},\"debug_assertions\":{}}}}}",
        build.stats_enabled, build.debug_assertions
    )
}

fn write_measured_json(out: &mut dyn Write, evidence: &Evidence) -> fmt::Result {
    fn opt<T: Display>(out: &mut dyn Write, value: Option<T>) -> fmt::Result {
        match value {
            Some(v) => write!(out, "{v}"),
            None => out.write_str("null"),
        }
    }
    match evidence {
        Evidence::Probe(p) => {
            write!(out, "{{\"bytes\":{},\"block\":", p.bytes)?;
            match p.block {
                Some(block) => write!(out, "\"{block}\"")?,
                None => out.write_str("null")?,
            }
            out.write_str(",\"owned\":")?;
            opt(out, p.owned)?;
            out.write_str(",\"counter_delta\":")?;
            opt(out, p.counter_delta)?;
            out.write_str("}")
        }
        Evidence::HostMalloc(h) => {
            out.write_str("{\"malloc_object\":")?;
            json_c_str_or_null(out, h.malloc_object)?;
            out.write_str(",\"library_object\":")?;
            json_c_str_or_null(out, h.library_object)?;
            out.write_str(",\"host_block_owned\":")?;
            opt(out, h.host_block_owned)?;
            out.write_str("}")
        }
    }
}

fn json_c_str_or_null(out: &mut dyn Write, text: Option<&CStr>) -> fmt::Result {
    match text {
        Some(text) => json_display(out, &Lossy(text)),
        None => out.write_str("null"),
    }
}

/// Writes the backend's own detailed statistics report (jemalloc:
/// `malloc_stats_print`; mimalloc: `mi_stats_print_out`; glibc:
/// `malloc_info`) into `out`. Returns `Err` if the backend could not produce
/// it or `out` refused the text.
pub fn write_backend_stats(out: &mut dyn Write) -> fmt::Result {
    backend::detailed_stats(out)
}

/// `text` as a JSON string literal.
fn json_str(out: &mut dyn Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    JsonEscape(out).write_str(text)?;
    out.write_char('"')
}

/// `value`'s `Display` text as a JSON string literal, escaped on the way.
fn json_display(out: &mut dyn Write, value: &dyn Display) -> fmt::Result {
    out.write_char('"')?;
    write!(JsonEscape(out), "{value}")?;
    out.write_char('"')
}

/// Escapes what it is given for a JSON string and passes it on.
struct JsonEscape<'a>(&'a mut dyn Write);

impl Write for JsonEscape<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || (c as u32) < 0x20) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or(' ');
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{:04x}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// A C string shown as text, invalid UTF-8 replaced by U+FFFD.
pub(crate) struct Lossy<'a>(pub &'a CStr);

impl Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_c_str(f, self.0)
    }
}

/// Writes a C string's text, invalid UTF-8 replaced by U+FFFD.
pub(crate) fn write_c_str(out: &mut dyn Write, text: &CStr) -> fmt::Result {
    for chunk in text.to_bytes().utf8_chunks() {
        out.write_str(chunk.valid())?;
        if !chunk.invalid().is_empty() {
            out.write_char(char::REPLACEMENT_CHARACTER)?;
        }
    }
    Ok(())
}

/// Where a backend's report callback (jemalloc's `malloc_stats_print`,
/// mimalloc's `mi_stats_print_out`) writes: text goes to `out` until a write
/// fails, and the first failure is kept for the caller.
#[cfg_attr(gb_backend = "system", allow(dead_code))]
pub(crate) struct CallbackSink<'a> {
    out: &'a mut dyn Write,
    /// Ok, or the first write that failed.
    pub(crate) result: fmt::Result,
}

#[cfg_attr(gb_backend = "system", allow(dead_code))]
impl<'a> CallbackSink<'a> {
    pub(crate) fn new(out: &'a mut dyn Write) -> Self {
        CallbackSink {
            out,
            result: Ok(()),
        }
    }

    /// The body of the C callback: `sink` is the opaque pointer the
    /// backend passes back, `text` the piece of report it passes.
    ///
    /// # Safety
    /// `sink` points to a live `CallbackSink`; `text` is NUL-terminated.
    pub(crate) unsafe fn accept(sink: *mut core::ffi::c_void, text: *const core::ffi::c_char) {
        // SAFETY: the caller's contract.
        let (sink, text) = unsafe { (&mut *sink.cast::<CallbackSink<'_>>(), CStr::from_ptr(text)) };
        if sink.result.is_ok() {
            sink.result = write_c_str(sink.out, text);
        }
    }
}

/// A `fmt::Write` over a caller's byte buffer, for output with `snprintf`'s
/// rules: it copies what fits (keeping a byte for the NUL) and counts
/// everything, so one pass both fills the buffer and learns the length
/// needed. It never fails and never allocates.
pub(crate) struct CountingWriter {
    buf: *mut u8,
    buf_len: usize,
    len: usize,
}

impl CountingWriter {
    /// # Safety
    /// `buf` is NULL or valid for writes of `buf_len` bytes for the writer's
    /// lifetime.
    pub(crate) unsafe fn new(buf: *mut u8, buf_len: usize) -> Self {
        let buf_len = if buf.is_null() { 0 } else { buf_len };
        CountingWriter {
            buf,
            buf_len,
            len: 0,
        }
    }

    /// Ends the output as `snprintf` would not quite: the text and a NUL when
    /// all of it fitted (`len < buf_len`), otherwise an empty string, so that
    /// no truncated text is ever read. Returns the full length, without the
    /// NUL.
    pub(crate) fn finish(self) -> usize {
        if self.buf_len > 0 {
            let at = if self.len < self.buf_len { self.len } else { 0 };
            // SAFETY: at < buf_len, the buffer's size.
            unsafe { *self.buf.add(at) = 0 };
        }
        self.len
    }

    /// Ends the output keeping what fitted: the text, cut at `buf_len - 1`
    /// bytes if it was longer (at a byte, not a character, boundary), then a
    /// NUL. For the library's own static strings.
    #[cfg_attr(gb_backend = "jemalloc", allow(dead_code))]
    fn finish_truncated(self) {
        if self.buf_len > 0 {
            let at = self.len.min(self.buf_len - 1);
            // SAFETY: at < buf_len.
            unsafe { *self.buf.add(at) = 0 };
        }
    }
}

impl Write for CountingWriter {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.buf_len.saturating_sub(1).saturating_sub(self.len);
        let copy = room.min(text.len());
        if copy > 0 {
            // SAFETY: len + copy <= buf_len - 1, inside the caller's buffer.
            unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), self.buf.add(self.len), copy) };
        }
        self.len = self.len.saturating_add(text.len());
        Ok(())
    }
}

/// A NUL-terminated string in a static buffer, formatted once on first use:
/// for version strings that must be `&'static CStr` without allocating.
#[cfg_attr(gb_backend = "jemalloc", allow(dead_code))] // jemalloc's is static
pub(crate) struct StaticText<const N: usize> {
    once: Once,
    bytes: UnsafeCell<[u8; N]>,
}

// SAFETY: `bytes` is written only inside `once.call_once`, before any reader
// (every reader goes through `call_once` first, which orders the write
// before the read); afterwards it is only read.
unsafe impl<const N: usize> Sync for StaticText<N> {}

#[cfg_attr(gb_backend = "jemalloc", allow(dead_code))]
impl<const N: usize> StaticText<N> {
    pub(crate) const fn new() -> Self {
        StaticText {
            once: Once::new(),
            bytes: UnsafeCell::new([0; N]),
        }
    }

    /// The text `fill` writes (cut to `N - 1` bytes), formatted on the first
    /// call.
    pub(crate) fn get(&'static self, fill: impl FnOnce(&mut dyn Write)) -> &'static CStr {
        self.once.call_once(|| {
            // SAFETY: the buffer is N bytes and nobody reads it yet.
            let mut out = unsafe { CountingWriter::new(self.bytes.get().cast(), N) };
            fill(&mut out);
            out.finish_truncated();
        });
        // SAFETY: written once above, read-only from now on.
        let bytes: &'static [u8; N] = unsafe { &*self.bytes.get() };
        CStr::from_bytes_until_nul(bytes).unwrap_or(c"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(text: &str, buf_len: usize) -> (usize, Vec<u8>) {
        let mut buf = vec![b'x'; buf_len + 4];
        // SAFETY: buf holds buf_len (+4) bytes.
        let mut out = unsafe { CountingWriter::new(buf.as_mut_ptr(), buf_len) };
        out.write_str(text).unwrap();
        (out.finish(), buf)
    }

    #[test]
    fn counting_writer_keeps_snprintf_rules() {
        let (len, buf) = counted("hello", 6);
        assert_eq!((len, &buf[..7]), (5, &b"hello\0x"[..]));
        let (len, buf) = counted("hello", 5);
        assert_eq!((len, buf[0]), (5, 0));
        assert_eq!(&buf[5..], b"xxxx", "nothing written past buf_len");
        let (len, buf) = counted("hello", 0);
        assert_eq!((len, buf[0]), (5, b'x'));
        // SAFETY: a NULL buffer is never written.
        let mut out = unsafe { CountingWriter::new(core::ptr::null_mut(), 100) };
        out.write_str("abc").unwrap();
        assert_eq!(out.finish(), 3);
    }

    #[test]
    fn json_escapes_what_needs_escaping() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

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

    #[test]
    fn static_text_is_formatted_once_and_cut_to_fit() {
        static TEXT: StaticText<8> = StaticText::new();
        let first = TEXT.get(|out| {
            let _ = write!(out, "{}-{}", 1234, 56789);
        });
        assert_eq!(first, c"1234-56");
        assert_eq!(TEXT.get(|_| unreachable!()), c"1234-56");
    }
}
