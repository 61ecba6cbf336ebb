//! gb-info: shows which allocator graphbit-alloc uses, the evidence that it
//! really serves the library's allocations, and the memory statistics.
//!
//! Usage: gb-info [--json] [--backend-stats]
//!   --json           print the verification report (JSON) and nothing else
//!   --backend-stats  also print the backend's own detailed statistics
//! Exits 0 when every verification check passes, 1 otherwise.

use std::ffi::{c_char, CStr};
use std::process::ExitCode;

use graphbit_alloc as gb;

/// Reads an snprintf-style text function into a String.
fn read_text(f: unsafe extern "C" fn(*mut c_char, usize) -> usize) -> String {
    // SAFETY: NULL with length 0 only asks for the size.
    let mut room = unsafe { f(std::ptr::null_mut(), 0) } + 1;
    loop {
        let mut buf = vec![0u8; room];
        // SAFETY: buf holds `room` bytes.
        let needed = unsafe { f(buf.as_mut_ptr().cast(), room) };
        if needed < room {
            buf.truncate(needed);
            return String::from_utf8_lossy(&buf).into_owned();
        }
        room = needed + 1; // it grew between the two calls
    }
}

fn c_str(p: *const c_char) -> String {
    // SAFETY: the library returns static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let backend_stats = args.iter().any(|a| a == "--backend-stats");
    if let Some(unknown) = args
        .iter()
        .find(|a| *a != "--json" && *a != "--backend-stats")
    {
        eprintln!("gb-info: unknown argument {unknown}\nusage: gb-info [--json] [--backend-stats]");
        return ExitCode::from(2);
    }

    let report = read_text(gb::gb_verify_report);
    let passed = report.contains("\"passed\":true,\"checks\"");
    if json {
        println!("{report}");
    } else {
        print_summary(&report);
    }
    if backend_stats {
        println!("\n{}", read_text(gb::gb_backend_stats_text));
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_summary(report: &str) {
    println!(
        "graphbit-alloc {}  backend: {} {}",
        c_str(gb::gb_version()),
        c_str(gb::gb_allocator_name()),
        c_str(gb::gb_allocator_version())
    );
    println!("gb_verify: {}", gb::gb_verify());
    if let Some(settings) = json_field(report, "settings") {
        println!("settings: {settings}");
    }
    println!("\nchecks:");
    for (name, passed, evidence) in checks(report) {
        println!(
            "  [{}] {name}\n         {evidence}",
            if passed { "pass" } else { "FAIL" }
        );
    }
    let mut stats = gb::gb_stats_t {
        size: std::mem::size_of::<gb::gb_stats_t>(),
        allocated: 0,
        active: 0,
        resident: 0,
        mapped: 0,
        retained: 0,
        peak_resident: 0,
    };
    // SAFETY: a valid gb_stats_t with its size set.
    if unsafe { gb::gb_stats(&mut stats) } == 0 {
        println!("\nstats (bytes):");
        for (name, value) in [
            ("allocated", stats.allocated),
            ("active", stats.active),
            ("resident", stats.resident),
            ("mapped", stats.mapped),
            ("retained", stats.retained),
            ("peak_resident", stats.peak_resident),
        ] {
            if value == gb::GB_STAT_UNAVAILABLE {
                println!("  {name:<14} n/a on this backend");
            } else {
                println!("  {name:<14} {value}");
            }
        }
    }
    if let Some(build) = report.split("\"build\":").nth(1) {
        println!("\nbuild: {}", build.trim_end_matches('}'));
    }
}

/// (name, passed, evidence) for each check in the report. The report's
/// strings are produced by the library; this reads back its own format.
fn checks(report: &str) -> Vec<(String, bool, String)> {
    let Some(list) = report.split("\"checks\":[").nth(1) else {
        return Vec::new();
    };
    list.split("{\"name\":")
        .skip(1)
        .map(|item| {
            let name = item.split('"').nth(1).unwrap_or("").to_string();
            let passed = item.contains("\"passed\":true");
            let evidence = json_field(item, "evidence").unwrap_or_default();
            (name, passed, evidence)
        })
        .collect()
}

/// The value of the first string field `name` in (a part of) the JSON report.
fn json_field(report: &str, name: &str) -> Option<String> {
    let start = report.find(&format!("\"{name}\":\""))? + name.len() + 4;
    let mut out = String::new();
    let mut chars = report[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other), // \" \\ \/ (the report writes no \u here)
            },
            c => out.push(c),
        }
    }
    None
}
