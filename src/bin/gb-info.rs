//! gb-info: shows which allocator graphbit-alloc uses, the evidence that it
//! really serves the library's allocations, and the memory statistics.
//!
//! Usage: gb-info [--json] [--backend-stats] (`gb-info --help`: `HELP`).
//! Exits 0 when every verification check passes, 1 when one fails, 2 on a
//! usage error.
//!
//! It reads the library's diagnostics as data (`graphbit_alloc::diagnostics`)
//! and formats them only here, on their way to stdout.

use std::ffi::{c_char, CStr};
use std::fmt;
use std::io::Write as _;
use std::process::ExitCode;

use graphbit_alloc as gb;
use graphbit_alloc::diagnostics;

fn c_str(p: *const c_char) -> String {
    // SAFETY: the library returns static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A `fmt::Write` onto stdout, so the library's writers print directly.
struct Stdout<'a>(std::io::StdoutLock<'a>);

impl fmt::Write for Stdout<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

const HELP: &str = "\
gb-info: which allocator graphbit-alloc uses, the evidence that it really
serves the library's allocations, and the memory statistics.

Usage: gb-info [OPTIONS]

Options:
      --json           print the verification report (JSON) and nothing else
      --backend-stats  also print the backend's own detailed statistics
  -h, --help           print this help
  -V, --version        print gb-info's version

Exit status: 0 when every verification check passes, 1 when one fails,
2 on a usage error or when stdout cannot be written.
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Asked {
    Report { json: bool, backend_stats: bool },
    Help,
    Version,
}

/// Parses the arguments (a handful of flags: no parser crate, so that the
/// library's own dependencies stay what a user of the library links).
fn parse(args: &[String]) -> Result<Asked, String> {
    let (mut json, mut backend_stats) = (false, false);
    for arg in args {
        match arg.as_str() {
            "--json" => json = true,
            "--backend-stats" => backend_stats = true,
            "-h" | "--help" => return Ok(Asked::Help),
            "-V" | "--version" => return Ok(Asked::Version),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(Asked::Report {
        json,
        backend_stats,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (json, backend_stats) = match parse(&args) {
        Ok(Asked::Report {
            json,
            backend_stats,
        }) => (json, backend_stats),
        Ok(Asked::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Asked::Version) => {
            println!("gb-info {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!(
                "gb-info: {e}\nUsage: gb-info [--json] [--backend-stats]; gb-info --help for more"
            );
            return ExitCode::from(2);
        }
    };

    let report = diagnostics::run_checks();
    let build = diagnostics::build();
    let mut out = Stdout(std::io::stdout().lock());
    let printed = if json {
        diagnostics::write_json(&report, &build, &mut out).and_then(|()| writeln_fmt(&mut out))
    } else {
        print_summary(&mut out, &report, &build)
    };
    let printed = printed.and_then(|()| {
        if backend_stats {
            fmt::Write::write_str(&mut out, "\n")?;
            diagnostics::write_backend_stats(&mut out)?;
            writeln_fmt(&mut out)
        } else {
            Ok(())
        }
    });
    if printed.is_err() || out.0.flush().is_err() {
        eprintln!("gb-info: cannot write to stdout");
        return ExitCode::from(2);
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn writeln_fmt(out: &mut dyn fmt::Write) -> fmt::Result {
    out.write_str("\n")
}

fn print_summary(
    out: &mut dyn fmt::Write,
    report: &diagnostics::Report,
    build: &diagnostics::Build,
) -> fmt::Result {
    writeln!(
        out,
        "graphbit-alloc {}  backend: {} {}",
        c_str(gb::gb_version()),
        c_str(gb::gb_allocator_name()),
        c_str(gb::gb_allocator_version())
    )?;
    writeln!(out, "gb_verify: {}", report.passed())?;
    writeln!(out, "settings: {}", build.settings)?;
    writeln!(out, "\nchecks:")?;
    for check in &report.checks {
        writeln!(
            out,
            "  [{}] {}\n         {}",
            if check.passed { "pass" } else { "FAIL" },
            check.name,
            check.evidence
        )?;
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
        writeln!(out, "\nstats (bytes):")?;
        for (name, value) in [
            ("allocated", stats.allocated),
            ("active", stats.active),
            ("resident", stats.resident),
            ("mapped", stats.mapped),
            ("retained", stats.retained),
            ("peak_resident", stats.peak_resident),
        ] {
            if value == gb::GB_STAT_UNAVAILABLE {
                writeln!(out, "  {name:<14} n/a on this backend")?;
            } else {
                writeln!(out, "  {name:<14} {value}")?;
            }
        }
    }
    let features: Vec<&str> = build.features().collect();
    writeln!(
        out,
        "\nbuild: features [{}], global allocator: {}, stats: {}, debug assertions: {}\n\
         tls model: {}",
        features.join(", "),
        build.global_allocator,
        build.stats_enabled,
        build.debug_assertions,
        build.tls_model
    )?;
    let profiling = diagnostics::profiling();
    writeln!(
        out,
        "heap profiles: {}: {}",
        if profiling.available {
            "available"
        } else {
            "not in this library"
        },
        profiling.why
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_command_line() {
        assert_eq!(
            parse(&args(&[])),
            Ok(Asked::Report {
                json: false,
                backend_stats: false
            })
        );
        assert_eq!(
            parse(&args(&["--backend-stats", "--json"])),
            Ok(Asked::Report {
                json: true,
                backend_stats: true
            })
        );
        assert_eq!(parse(&args(&["--json", "--help"])), Ok(Asked::Help));
        assert_eq!(parse(&args(&["-h"])), Ok(Asked::Help));
        assert_eq!(parse(&args(&["-V"])), Ok(Asked::Version));
        assert_eq!(parse(&args(&["--version"])), Ok(Asked::Version));
        assert!(parse(&args(&["--jsn"])).unwrap_err().contains("--jsn"));
        assert!(parse(&args(&["report.json"])).is_err());
    }
}
