//! The workloads, and running one (contender, workload, repetition) in its
//! own process.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::contenders::Contender;

/// One workload as gb-bench runs it (a driver workload plus a thread count).
/// Part of the report (`workloads`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workload {
    pub id: String,
    /// The driver's name for it.
    pub driver: String,
    pub threads: usize,
    /// What one "op" is.
    pub unit: String,
    pub description: String,
    /// Footprint workloads: memory is the point, speed is secondary.
    #[serde(rename = "footprint")]
    pub memory: bool,
    /// Timed workloads: their length is a time (x scale), not an amount of
    /// work; they run at `Options::time_scale`.
    pub timed: bool,
}

impl Workload {
    /// The size factor this workload runs at.
    pub fn scale(&self, opts: &crate::Options) -> f64 {
        if self.timed {
            opts.time_scale
        } else {
            opts.scale
        }
    }
}

/// The workloads, with thread counts for a machine of `cpus` CPUs.
pub fn workloads(cpus: usize) -> Vec<Workload> {
    let w = |id: &str, driver: &str, threads, unit: &str, description: &str, memory| Workload {
        id: id.to_string(),
        driver: driver.to_string(),
        threads,
        unit: unit.to_string(),
        description: description.to_string(),
        memory,
        timed: matches!(driver, "server" | "burst-idle"),
    };
    let mut list = vec![w(
        "pair",
        "pair",
        1,
        "malloc+free",
        "malloc then free of one 16-128 B block, back to back (per-call cost)",
        false,
    )];
    // 1, 2, 4, ... up to twice the CPUs.
    let mut threads = 1;
    while threads <= 2 * cpus {
        list.push(w(
            &format!("churn-{threads}t"),
            "churn",
            threads,
            "allocs",
            &format!(
                "small-object churn, 8-512 B, random free order, {threads} thread{}",
                if threads == 1 { "" } else { "s" }
            ),
            false,
        ));
        threads *= 2;
    }
    let pairs = (cpus / 2).max(1);
    list.extend([
        w(
            "producer-consumer",
            "producer-consumer",
            pairs,
            "blocks",
            &format!(
                "{pairs} producer thread(s) allocate 16-1024 B, {pairs} consumer(s) free them (cross-thread free)"
            ),
            false,
        ),
        w(
            "realloc",
            "realloc",
            1,
            "reallocs",
            "buffers growing by +1..64 B or doubling up to 256 KiB, then shrinking",
            false,
        ),
        w(
            "large",
            "large",
            1,
            "blocks",
            "64 KiB - 16 MiB blocks: allocate, write every page, check, free",
            false,
        ),
        w(
            "aligned",
            "aligned",
            1,
            "allocs",
            "aligned churn: 64 B - 4 KiB alignments, sizes 8 B - 2 KiB rounded up to the alignment",
            false,
        ),
        w(
            "fragmentation",
            "fragmentation",
            1,
            "allocs+frees",
            "6 phases: fill 128 MiB (x scale) with one phase's size classes, free 90% at random",
            true,
        ),
        w(
            "leak",
            "leak",
            1,
            "allocs",
            "small-object churn where 1 allocation in 64 is never freed (slow leak)",
            true,
        ),
        w(
            "burst-idle",
            "burst-idle",
            1,
            "allocs",
            "256 MiB (x time scale) spike of 16 B - 4 MiB blocks, all freed, then 12 s of light work (time scale x 24 s below 0.5); end RSS = what was given back",
            true,
        ),
        w(
            "server",
            "server",
            64,
            "requests",
            "64 threads (any number of cores): bursts of 8-64 blocks of 16 B - 64 KiB per request, and a ~40 MiB cache shared by all whose entries other threads replace; 60 s x time scale",
            true,
        ),
        w(
            "request",
            "request",
            1,
            "requests",
            "per-request memory: 200 blocks of 16 B - 2 KiB (3 in 4 up to 256 B) allocated, \
             tagged and checked, then each block freed",
            false,
        ),
        w(
            "request-heap",
            "request-heap",
            1,
            "requests",
            "the same requests, all freed at once: graphbit-alloc in a heap per request \
             (gb_heap_new, gb_heap_alloc, gb_heap_destroy), the others in a glibc obstack \
             per request (4 KiB chunks from their malloc, obstack_free)",
            false,
        ),
        w(
            "jansson",
            "jansson",
            1,
            "documents",
            "jansson: build, dump, parse and compare 20000-record JSON documents",
            false,
        ),
    ]);
    list
}

/// One measured run: one process, one (contender, workload, repetition).
/// Part of the report (`runs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub contender: String,
    pub workload: String,
    pub repetition: usize,
    pub seed: u64,
    pub ops: f64,
    pub seconds: f64,
    pub peak_rss_kib: f64,
    /// User + system CPU time of the whole child process (from wait4).
    pub cpu_seconds: f64,
    /// RSS at the end of the footprint workloads, before and after trim.
    pub rss_end_kib: Option<f64>,
    pub rss_trim_kib: Option<f64>,
    pub live_bytes: Option<f64>,
    /// The most bytes the workload held at once, where the driver counts
    /// them (server, burst-idle).
    #[serde(default)]
    pub peak_live_bytes: Option<f64>,
    /// RSS over time, where the driver samples it (server, burst-idle):
    /// [seconds since the workload began, RSS KiB, live bytes], about every
    /// 50 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<[f64; 3]>>,
    pub checksum: String,
    /// Why the run does not count, if it does not.
    pub error: Option<String>,
}

impl Run {
    pub fn ops_per_second(&self) -> f64 {
        self.ops / self.seconds
    }
}

/// What the driver prints after a workload (one line of JSON); -1 for a
/// figure the workload does not measure.
#[derive(Deserialize)]
struct DriverResult {
    ops: f64,
    seconds: f64,
    checksum: String,
    rss_end_kib: f64,
    rss_trim_kib: f64,
    live_bytes: f64,
    #[serde(default = "minus_one")]
    peak_live_bytes: f64,
    #[serde(default)]
    timeline: Vec<[f64; 3]>,
}

fn minus_one() -> f64 {
    -1.0
}

/// Runs the driver once; failures come back as a Run with `error` set.
pub fn run_one(c: &Contender, w: &Workload, repetition: usize, seed: u64, scale: f64) -> Run {
    let mut run = Run {
        contender: c.id.clone(),
        workload: w.id.clone(),
        repetition,
        seed,
        ops: 0.0,
        seconds: 0.0,
        peak_rss_kib: 0.0,
        cpu_seconds: 0.0,
        rss_end_kib: None,
        rss_trim_kib: None,
        live_bytes: None,
        peak_live_bytes: None,
        timeline: None,
        checksum: String::new(),
        error: None,
    };
    if let Err(e) = spawn_and_measure(c, w, seed, scale, &mut run) {
        run.error = Some(e);
    }
    run
}

fn spawn_and_measure(
    c: &Contender,
    w: &Workload,
    seed: u64,
    scale: f64,
    run: &mut Run,
) -> Result<(), String> {
    let mut cmd = Command::new(&c.driver);
    cmd.arg(&w.driver)
        .arg(format!("{scale}"))
        .arg(w.threads.to_string())
        .arg(seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(lib) = &c.dlopen_lib {
        cmd.env("GB_BENCH_LIB", lib);
    }
    if let Some(lib) = &c.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", c.driver.display()))?;
    let mut stdout = String::new();
    let mut stderr = String::new();
    // The driver writes one line to stdout and a short one at most to
    // stderr (less than a pipe holds), so reading stdout to its end and
    // then stderr cannot deadlock.
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    // wait4 rather than Child::wait: it also gives the child's peak RSS.
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet reaped; pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let exit = std::process::ExitStatus::from_raw(status);
    if !exit.success() {
        return Err(format!("driver {exit}: {}", stderr.trim()));
    }
    run.peak_rss_kib = usage.ru_maxrss as f64;
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    run.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    let result: DriverResult = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("driver output {stdout:?}: {e}"))?;
    let measured = |v: f64| Some(v).filter(|v| *v >= 0.0);
    run.ops = result.ops;
    run.seconds = result.seconds;
    if run.seconds.is_nan() || run.seconds <= 0.0 {
        return Err("driver reported no time".into());
    }
    run.rss_end_kib = measured(result.rss_end_kib);
    run.rss_trim_kib = measured(result.rss_trim_kib);
    run.live_bytes = measured(result.live_bytes).filter(|v| *v > 0.0);
    run.peak_live_bytes = measured(result.peak_live_bytes).filter(|v| *v > 0.0);
    run.timeline = (!result.timeline.is_empty()).then_some(result.timeline);
    run.checksum = result.checksum;
    Ok(())
}

/// Every contender computes the same checksum for the same workload and
/// seed; a run that disagrees with the majority is marked failed.
pub fn check_checksums(runs: &mut [Run]) {
    let mut keys: Vec<(String, usize)> = runs
        .iter()
        .map(|r| (r.workload.clone(), r.repetition))
        .collect();
    keys.sort();
    keys.dedup();
    for (workload, rep) in keys {
        let group: Vec<usize> = (0..runs.len())
            .filter(|&i| {
                runs[i].workload == workload && runs[i].repetition == rep && runs[i].error.is_none()
            })
            .collect();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for &i in &group {
            match counts.iter_mut().find(|(c, _)| *c == runs[i].checksum) {
                Some((_, n)) => *n += 1,
                None => counts.push((runs[i].checksum.clone(), 1)),
            }
        }
        let Some((majority, _)) = counts.iter().max_by_key(|(_, n)| *n).cloned() else {
            continue;
        };
        for &i in &group {
            if runs[i].checksum != majority {
                runs[i].error = Some(format!(
                    "checksum {} differs from the other contenders' {majority}",
                    runs[i].checksum
                ));
            }
        }
    }
}
