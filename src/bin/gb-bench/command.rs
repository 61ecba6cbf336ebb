//! `gb-bench run [--reps N] [--json FILE] -- CMD [ARGS...]`: the user's own
//! command under every allocator that can replace the process's `malloc`:
//! glibc (no preload), graphbit-alloc's override for the backend gb-bench
//! was built with, and each of Debian's preloadable allocators that is
//! installed. Runs are interleaved (A B C A B C ...); each reports wall time,
//! user+system CPU and peak RSS (`wait4`). A contender whose run ends
//! differently from glibc's (another exit status, a signal) is reported as
//! failed, never as fast.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use crate::json::Value;

/// One allocator: a label and the library to preload (None: glibc).
pub(crate) struct Allocator {
    pub(crate) id: String,
    pub(crate) preload: Option<PathBuf>,
}

/// One run of the command.
pub(crate) struct Sample {
    pub(crate) wall: f64,
    pub(crate) cpu: f64,
    pub(crate) peak_rss_kib: f64,
    pub(crate) status: ExitStatus,
}

/// The options of `gb-bench run`.
pub struct RunOptions {
    reps: usize,
    json: Option<PathBuf>,
    command: Vec<String>,
}

/// Parses what follows `run`: `[--reps N] [--json FILE] -- CMD [ARGS...]`.
pub fn parse(args: &[String]) -> Result<RunOptions, String> {
    let mut opts = RunOptions {
        reps: 5,
        json: None,
        command: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--" => {
                opts.command = args[i + 1..].to_vec();
                break;
            }
            "--reps" => {
                i += 1;
                opts.reps = args
                    .get(i)
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--reps needs a whole number of at least 1")?;
            }
            "--json" => {
                i += 1;
                opts.json = Some(args.get(i).ok_or("--json needs a file")?.into());
            }
            other => return Err(format!("run: unknown option {other:?}; usage: gb-bench run [--reps N] [--json FILE] -- CMD [ARGS...]")),
        }
        i += 1;
    }
    if opts.command.is_empty() {
        return Err("usage: gb-bench run [--reps N] [--json FILE] -- CMD [ARGS...]".into());
    }
    Ok(opts)
}

/// Debian's preloadable allocators, where installed (`ldconfig -p`).
fn debian_preloads() -> Vec<Allocator> {
    let listing = Command::new("ldconfig")
        .arg("-p")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    [
        ("jemalloc", "libjemalloc.so.2"),
        ("mimalloc", "libmimalloc.so.2"),
        ("tcmalloc", "libtcmalloc_minimal.so.4"),
    ]
    .into_iter()
    .filter_map(|(id, so)| {
        let path = listing
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{so} ")))?
            .rsplit(" => ")
            .next()?
            .trim()
            .to_string();
        Some(Allocator {
            id: id.into(),
            preload: Some(path.into()),
        })
    })
    .collect()
}

/// Runs the command once with `allocator`, its output discarded.
fn run_once(command: &[String], allocator: &Allocator) -> Result<Sample, String> {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(lib) = &allocator.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
    wait_measured(child, start)
}

/// Waits for `child`, started at `start`, and measures it (wait4).
pub(crate) fn wait_measured(child: Child, start: Instant) -> Result<Sample, String> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: our own child, not yet reaped; valid pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Ok(Sample {
        wall: start.elapsed().as_secs_f64(),
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_rss_kib: usage.ru_maxrss as f64,
        status: ExitStatus::from_raw(status),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// glibc (no preload), graphbit-alloc's override (when there is one) and
/// Debian's preloads, in that order.
pub(crate) fn allocators(override_library: Result<PathBuf, String>) -> Vec<Allocator> {
    let mut allocators = vec![Allocator {
        id: "glibc".into(),
        preload: None,
    }];
    if let Ok(lib) = override_library {
        allocators.push(Allocator {
            id: "gb-override".into(),
            preload: Some(lib),
        });
    }
    allocators.extend(debian_preloads());
    allocators
}

/// `gb-bench run`: Ok(true) when every contender's runs ended as glibc's.
pub fn run(opts: &RunOptions, override_library: Result<PathBuf, String>) -> Result<bool, String> {
    if let Err(e) = &override_library {
        eprintln!("gb-bench: gb-override unavailable: {e}");
    }
    let allocators = allocators(override_library);
    let mut samples: Vec<Vec<Sample>> = allocators.iter().map(|_| Vec::new()).collect();
    for rep in 0..opts.reps {
        for (i, a) in allocators.iter().enumerate() {
            eprint!(
                "\rgb-bench: repetition {}/{} · {:<12}",
                rep + 1,
                opts.reps,
                a.id
            );
            samples[i].push(run_once(&opts.command, a)?);
        }
    }
    eprintln!();
    let reference = samples[0][0].status;
    let mut text = format!(
        "gb-bench run: {} ({} repetitions, interleaved; medians)\n",
        opts.command.join(" "),
        opts.reps
    );
    text += &format!(
        "  {:<12} {:>10} {:>10} {:>13} {:>9} {:>9} {:>9}  {}\n",
        "allocator",
        "wall s",
        "cpu s",
        "peak RSS MiB",
        "wall/glibc",
        "cpu/glibc",
        "RSS/glibc",
        "exit"
    );
    let med = |s: &[Sample], f: fn(&Sample) -> f64| median(s.iter().map(f).collect());
    let base = (
        med(&samples[0], |s| s.wall),
        med(&samples[0], |s| s.cpu),
        med(&samples[0], |s| s.peak_rss_kib),
    );
    let mut all_same = true;
    let mut json_rows = Vec::new();
    for (a, s) in allocators.iter().zip(&samples) {
        let same = s.iter().all(|x| x.status == reference);
        all_same &= same;
        let (wall, cpu, rss) = (
            med(s, |x| x.wall),
            med(s, |x| x.cpu),
            med(s, |x| x.peak_rss_kib),
        );
        let status = if same {
            format!("{}", s[0].status)
        } else {
            format!(
                "FAILED: {} (glibc: {reference})",
                s.iter()
                    .find(|x| x.status != reference)
                    .map_or(String::new(), |x| x.status.to_string())
            )
        };
        text += &format!(
            "  {:<12} {:>10.3} {:>10.3} {:>13.1} {:>9.2}x {:>8.2}x {:>8.2}x  {}\n",
            a.id,
            wall,
            cpu,
            rss / 1024.0,
            wall / base.0,
            cpu / base.1,
            rss / base.2,
            status
        );
        json_rows.push(json_row(a, s, same));
    }
    text += "  (x: time or memory relative to glibc; below 1 is faster or smaller)\n";
    print!("{text}");
    if let Some(path) = &opts.json {
        let mut doc = String::new();
        Value::obj(vec![
            (
                "command",
                Value::Arr(opts.command.iter().map(|a| Value::str(a.clone())).collect()),
            ),
            ("repetitions", Value::Int(opts.reps as i64)),
            ("allocators", Value::Arr(json_rows)),
        ])
        .write(&mut doc, 0);
        doc.push('\n');
        std::fs::write(path, doc).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("gb-bench: wrote {}", path.display());
    }
    Ok(all_same)
}

/// One allocator's raw samples, as data for the JSON report.
fn json_row(a: &Allocator, samples: &[Sample], same: bool) -> Value {
    let list =
        |f: fn(&Sample) -> f64| Value::Arr(samples.iter().map(|s| Value::num(f(s))).collect());
    Value::obj(vec![
        ("id", Value::str(a.id.clone())),
        (
            "preload",
            Value::opt_str(a.preload.as_ref().map(|p| p.to_str().unwrap_or("?"))),
        ),
        ("exited_as_glibc", Value::Bool(same)),
        ("wall_seconds", list(|s| s.wall)),
        ("cpu_seconds", list(|s| s.cpu)),
        ("peak_rss_kib", list(|s| s.peak_rss_kib)),
    ])
}
