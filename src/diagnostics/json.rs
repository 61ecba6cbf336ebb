//! The verification report as JSON, formatted only where it leaves the
//! library (`gb_verify_report`, `gb-info --json`).

use core::ffi::CStr;
use core::fmt::{self, Display, Write};

use super::{Build, BuiltIn, Evidence, Lossy, Report, SettingValue};

/// Writes the verification report as the JSON document of
/// `gb_verify_report`: `library`, `version`, `backend`, `backend_version`,
/// `passed`, `checks` (each with `name`, `passed`, `evidence` as text and
/// `measured`, the same evidence as typed values) and `build` (`features`,
/// `global_allocator`, `tls_model`, `settings` as one line of text,
/// `settings_in_effect` as an object of name: value, `settings_built_in`,
/// `settings_override`, `stats_enabled`, `debug_assertions`, `profiling`:
/// `available` and `why`).
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
        ",\"stats_enabled\":{},\"debug_assertions\":{}",
        build.stats_enabled, build.debug_assertions
    )?;
    let profiling = super::verify::profiling();
    write!(
        out,
        ",\"profiling\":{{\"available\":{},\"why\":",
        profiling.available
    )?;
    json_str(out, profiling.why)?;
    out.write_str("}}}")
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
            write!(out, ",\"required\":{}}}", p.required)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_what_needs_escaping() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
