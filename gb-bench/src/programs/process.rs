//! The process runner: one run of a hooks or tool program, a process whose
//! stdout is the result, measured by `wait4` (redis.rs runs the server).

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::catalogue::{command_line, How};
use super::expected::expected;
use super::redis::run_redis;
use super::setup::hooks_mode;
use super::{Program, ProgramRun};
use crate::command::{self, Allocator};

/// The figures of one run.
pub(super) struct Measured {
    pub(super) wall: f64,
    pub(super) cpu: f64,
    pub(super) peak_rss_kib: f64,
    pub(super) end_rss_kib: Option<f64>,
    pub(super) requests_per_second: Option<f64>,
    pub(super) result: String,
}

/// One run of `p` under `c`, its result checked where it is known
/// beforehand.
pub(super) fn run_one(p: &Program, c: &Allocator, repetition: usize, dir: &Path) -> ProgramRun {
    let measured = match p.how {
        How::Redis => run_redis(p, c, dir),
        _ => run_process(p, c, dir),
    };
    let mut run = ProgramRun {
        program: p.info.id.clone(),
        contender: c.id.clone(),
        repetition,
        wall_seconds: 0.0,
        cpu_seconds: 0.0,
        peak_rss_kib: 0.0,
        end_rss_kib: None,
        requests_per_second: None,
        result: String::new(),
        error: None,
    };
    match measured {
        Ok(m) => {
            if let Some(want) = expected(p).filter(|want| *want != m.result) {
                run.error = Some(format!("computed {:?}, not {want:?}", m.result));
            }
            run.wall_seconds = m.wall;
            run.cpu_seconds = m.cpu;
            run.peak_rss_kib = m.peak_rss_kib;
            run.end_rss_kib = m.end_rss_kib;
            run.requests_per_second = m.requests_per_second;
            run.result = m.result;
        }
        Err(e) => run.error = Some(e),
    }
    run
}

/// The last lines of a log file, for an error message.
pub(super) fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" / ")
}

/// A hooks or tool program: one process, its stdout the result.
fn run_process(p: &Program, c: &Allocator, dir: &Path) -> Result<Measured, String> {
    let argv = command_line(p, hooks_mode(&c.id), dir);
    let log = dir.join(format!("{}-{}.stderr", p.info.id, c.id));
    let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    if let Some(lib) = &c.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let sample = command::wait_measured(child, start)?;
    if !sample.status.success() {
        return Err(format!("{}: {}", sample.status, tail(&log)));
    }
    let result = match p.how {
        How::Tool(_, "churn.sql", _) => stdout.trim().to_string(),
        _ => stdout
            .split_whitespace()
            .skip_while(|w| *w != "checksum")
            .nth(1)
            .ok_or_else(|| format!("no checksum in the output: {:?}", stdout.trim()))?
            .to_string(),
    };
    Ok(Measured {
        wall: sample.wall,
        cpu: sample.cpu,
        peak_rss_kib: sample.peak_rss_kib,
        end_rss_kib: None,
        requests_per_second: None,
        result,
    })
}
