//! The report of a run: one data model of everything measured (machine,
//! library, contenders, workloads, every run, medians, ratios, verdicts),
//! written as `--json` with serde. The text table (`table`) and the chart
//! (`chart`) are rendered from the model alone, so `gb-bench report
//! FILE.json` prints what the run printed.
//!
//! A new family of workloads needs nothing here: its `Workload`s and `Run`s
//! go into `Report::new` with the others, and the medians, ratios, verdicts,
//! table and chart cover them.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::contenders::{Contender, Kind, Library, Setup};
use crate::machine::Machine;
use crate::run::{Run, Workload};
use crate::stats::Stat;
use crate::svg::{Chart, Panel};
use crate::Options;

/// The report's `schema` ("gb-bench/1" was the hand-written JSON before
/// this model; "gb-bench/2" had no live bytes, timelines or memory
/// verdicts, and still reads, with those empty).
pub const SCHEMA: &str = "gb-bench/3";
/// The older schema `gb-bench report` still reads.
pub const SCHEMA_2: &str = "gb-bench/2";

/// A (contender, workload) over its successful repetitions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub contender: String,
    pub workload: String,
    pub ops_per_second: Option<Stat>,
    pub peak_rss_kib: Option<Stat>,
    pub rss_end_kib: Option<Stat>,
    pub rss_trim_kib: Option<Stat>,
    /// The most bytes the workload held at once, where the driver counts
    /// them.
    #[serde(default)]
    pub peak_live_bytes: Option<Stat>,
    /// Memory overhead: median peak RSS / median peak live bytes.
    #[serde(default)]
    pub overhead: Option<f64>,
    /// Repetitions that failed (not in the statistics).
    pub failed: usize,
}

/// `contender`'s medians over `baseline`'s on one workload: speed above 1
/// is faster, the RSS ratios below 1 are smaller. None where either has no
/// result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratio {
    pub workload: String,
    pub contender: String,
    pub baseline: String,
    pub speed: Option<f64>,
    pub peak_rss: Option<f64>,
    pub rss_end: Option<f64>,
    pub rss_trimmed: Option<f64>,
}

/// A workload and a ratio on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadRatio {
    pub workload: String,
    pub ratio: f64,
}

/// What a user can act on: one graphbit-alloc contender against an
/// allocator they could use instead (the system allocator, a raw backend),
/// over the workloads both ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub contender: String,
    pub baseline: String,
    /// K: the workloads with a speed ratio.
    pub workloads: usize,
    /// M: those where the contender is faster (speed ratio above 1).
    pub faster_on: usize,
    /// Geometric mean of the speed ratios.
    pub speed_geomean: f64,
    /// Geometric mean of the peak-RSS ratios.
    pub peak_rss_geomean: Option<f64>,
    /// The other K - M workloads, with their speed ratios.
    pub not_faster_on: Vec<WorkloadRatio>,
}

/// A workload that could not run here, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnavailableWorkload {
    pub id: String,
    pub reason: String,
}

/// The whole run, as `--json` writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `SCHEMA`.
    pub schema: String,
    /// gb-bench's arguments.
    pub command: Vec<String>,
    /// "default", "quick" or "smoke".
    pub mode: String,
    pub repetitions: usize,
    pub scale: f64,
    /// The scale of the timed workloads.
    pub time_scale: f64,
    pub seed: u64,
    pub started_utc: String,
    pub load_average_at_start: String,
    pub load_average_at_end: String,
    pub duration_seconds: f64,
    pub machine: Machine,
    pub library: Library,
    /// The allocator settings in gb-bench's environment, which every
    /// driver inherits.
    pub environment: BTreeMap<String, String>,
    /// Every contender, measured or not (`unavailable` says why not).
    pub contenders: Vec<Contender>,
    /// The graphbit-alloc contender of the ratio table (gb-shared, where
    /// measured).
    pub headline_contender: Option<String>,
    /// The raw backend contender that graphbit-alloc's backend is.
    pub raw_backend_contender: Option<String>,
    pub unavailable_workloads: Vec<UnavailableWorkload>,
    pub workloads: Vec<Workload>,
    pub runs: Vec<Run>,
    /// One per (measured contender, workload).
    pub summary: Vec<Summary>,
    /// Every measured contender against each baseline (the system
    /// allocator, each raw backend), per workload.
    pub ratios: Vec<Ratio>,
    pub verdicts: Vec<Verdict>,
    /// The memory targets, met or not (memory.rs).
    #[serde(default)]
    pub memory_verdicts: Vec<crate::memory::MemoryVerdict>,
    /// The real programs (programs/), when any were selected.
    #[serde(default)]
    pub programs: Option<crate::programs::Results>,
}

/// The allocator settings a report records from the environment.
const ENVIRONMENT: &[&str] = &[
    "_RJEM_MALLOC_CONF",
    "MALLOC_CONF",
    "MIMALLOC_PURGE_DELAY",
    "GLIBC_TUNABLES",
];

impl Report {
    /// The report of a finished run: `runs` of the measured contenders of
    /// `setup` on `workloads`. (Eight inputs, each a part of the report: a
    /// struct of them would only be this argument list again.)
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        args: &[String],
        opts: &Options,
        started_utc: String,
        duration_seconds: f64,
        setup: Setup,
        workloads: Vec<Workload>,
        runs: Vec<Run>,
        programs: Option<crate::programs::Results>,
    ) -> Report {
        let measured: Vec<&Contender> = setup.contenders.iter().filter(|c| c.available()).collect();
        let summary = summarize(&measured, &workloads, &runs);
        let ratios = ratios(&measured, &workloads, &summary);
        let verdicts = verdicts(&measured, &workloads, &ratios);
        let rss_geomeans: Vec<(String, Option<f64>)> = verdicts
            .iter()
            .filter(|v| v.baseline == "system")
            .map(|v| (v.contender.clone(), v.peak_rss_geomean))
            .collect();
        let memory_verdicts = crate::memory::verdicts(&measured, &runs, &rss_geomeans);
        let headline_contender = headline(&measured);
        let raw_backend_contender = raw_backend(&setup.lib, &measured);
        Report {
            schema: SCHEMA.to_string(),
            command: args.to_vec(),
            mode: opts.mode.to_string(),
            repetitions: opts.reps,
            scale: opts.scale,
            time_scale: opts.time_scale,
            seed: opts.seed,
            started_utc,
            load_average_at_start: setup.load_at_start,
            load_average_at_end: crate::machine::load_average(),
            duration_seconds,
            machine: Machine::describe(&setup.compiler),
            library: setup.lib,
            environment: ENVIRONMENT
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                .collect(),
            headline_contender,
            raw_backend_contender,
            unavailable_workloads: match setup.jansson {
                Ok(()) => vec![],
                Err(reason) => vec![UnavailableWorkload {
                    id: "jansson".into(),
                    reason,
                }],
            },
            contenders: setup.contenders,
            workloads,
            runs,
            programs,
            summary,
            ratios,
            verdicts,
            memory_verdicts,
        }
    }

    /// The contenders that were measured.
    pub fn measured(&self) -> impl Iterator<Item = &Contender> {
        self.contenders.iter().filter(|c| c.available())
    }

    /// `contender`'s medians over `baseline`'s on `workload`.
    pub fn ratio(&self, contender: &str, baseline: &str, workload: &str) -> Option<&Ratio> {
        find_ratio(&self.ratios, contender, baseline, workload)
    }

    fn summary_of(&self, contender: &str, workload: &str) -> Option<&Summary> {
        find(&self.summary, contender, workload)
    }
}

/// The medians of every (contender, workload).
pub fn summarize(contenders: &[&Contender], workloads: &[Workload], runs: &[Run]) -> Vec<Summary> {
    let mut out = Vec::new();
    for w in workloads {
        for c in contenders {
            let ok: Vec<&Run> = runs
                .iter()
                .filter(|r| r.contender == c.id && r.workload == w.id && r.error.is_none())
                .collect();
            let failed = runs
                .iter()
                .filter(|r| r.contender == c.id && r.workload == w.id && r.error.is_some())
                .count();
            out.push(Summary {
                contender: c.id.clone(),
                workload: w.id.clone(),
                ops_per_second: Stat::of(ok.iter().map(|r| r.ops_per_second()).collect()),
                peak_rss_kib: Stat::of(ok.iter().map(|r| r.peak_rss_kib).collect()),
                rss_end_kib: Stat::of(ok.iter().filter_map(|r| r.rss_end_kib).collect()),
                rss_trim_kib: Stat::of(ok.iter().filter_map(|r| r.rss_trim_kib).collect()),
                peak_live_bytes: Stat::of(ok.iter().filter_map(|r| r.peak_live_bytes).collect()),
                overhead: None,
                failed,
            });
        }
    }
    for sum in &mut out {
        if let (Some(rss), Some(live)) = (sum.peak_rss_kib, sum.peak_live_bytes) {
            sum.overhead = (live.median > 0.0).then(|| rss.median * 1024.0 / live.median);
        }
    }
    out
}

fn find<'a>(summary: &'a [Summary], contender: &str, workload: &str) -> Option<&'a Summary> {
    summary
        .iter()
        .find(|s| s.contender == contender && s.workload == workload)
}

fn find_ratio<'a>(
    ratios: &'a [Ratio],
    contender: &str,
    baseline: &str,
    workload: &str,
) -> Option<&'a Ratio> {
    ratios
        .iter()
        .find(|r| r.contender == contender && r.baseline == baseline && r.workload == workload)
}

/// The allocators a user could use instead of graphbit-alloc, measured:
/// the system allocator, then the raw backends.
fn baselines<'a>(contenders: &[&'a Contender]) -> Vec<&'a Contender> {
    let mut out: Vec<&Contender> = contenders
        .iter()
        .copied()
        .filter(|c| matches!(c.kind, Kind::System | Kind::Jemalloc | Kind::Mimalloc))
        .collect();
    out.sort_by_key(|c| c.kind != Kind::System);
    out
}

/// Every contender against every baseline (but itself), per workload.
pub fn ratios(
    contenders: &[&Contender],
    workloads: &[Workload],
    summary: &[Summary],
) -> Vec<Ratio> {
    let median = |c: &str, w: &str, pick: fn(&Summary) -> Option<Stat>| {
        find(summary, c, w).and_then(pick).map(|s| s.median)
    };
    let mut out = Vec::new();
    for w in workloads {
        for c in contenders {
            for b in baselines(contenders).into_iter().filter(|b| b.id != c.id) {
                let ratio = |pick: fn(&Summary) -> Option<Stat>| {
                    Some(median(&c.id, &w.id, pick)? / median(&b.id, &w.id, pick)?)
                };
                out.push(Ratio {
                    workload: w.id.clone(),
                    contender: c.id.clone(),
                    baseline: b.id.clone(),
                    speed: ratio(|s| s.ops_per_second),
                    peak_rss: ratio(|s| s.peak_rss_kib),
                    rss_end: ratio(|s| s.rss_end_kib),
                    rss_trimmed: ratio(|s| s.rss_trim_kib),
                });
            }
        }
    }
    out
}

/// The geometric mean; None for no values.
fn geomean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

/// One verdict per graphbit-alloc contender and baseline that have a speed
/// ratio on at least one workload.
pub fn verdicts(
    contenders: &[&Contender],
    workloads: &[Workload],
    ratios: &[Ratio],
) -> Vec<Verdict> {
    let mut out = Vec::new();
    for b in baselines(contenders) {
        for c in contenders.iter().filter(|c| c.kind == Kind::Graphbit) {
            let measured: Vec<&Ratio> = workloads
                .iter()
                .filter_map(|w| find_ratio(ratios, &c.id, &b.id, &w.id))
                .filter(|r| r.speed.is_some())
                .collect();
            let speeds = || measured.iter().filter_map(|r| r.speed);
            let Some(speed_geomean) = geomean(speeds()) else {
                continue;
            };
            let not_faster_on: Vec<WorkloadRatio> = measured
                .iter()
                .filter_map(|r| {
                    let ratio = r.speed.filter(|s| *s <= 1.0)?;
                    Some(WorkloadRatio {
                        workload: r.workload.clone(),
                        ratio,
                    })
                })
                .collect();
            out.push(Verdict {
                contender: c.id.clone(),
                baseline: b.id.clone(),
                workloads: measured.len(),
                faster_on: measured.len() - not_faster_on.len(),
                speed_geomean,
                peak_rss_geomean: geomean(measured.iter().filter_map(|r| r.peak_rss)),
                not_faster_on,
            });
        }
    }
    out
}

/// The contender a summary about graphbit-alloc is about: the shared
/// library linked at start-up, the way most C hosts use it.
fn headline(contenders: &[&Contender]) -> Option<String> {
    ["gb-shared", "gb-static", "gb-dlopen"]
        .iter()
        .find(|id| contenders.iter().any(|c| c.id == **id))
        .map(|s| s.to_string())
}

/// The raw backend contender that graphbit-alloc's backend corresponds to.
fn raw_backend(lib: &Library, contenders: &[&Contender]) -> Option<String> {
    let kind = match lib.backend.as_str() {
        "jemalloc" => Kind::Jemalloc,
        "mimalloc" => Kind::Mimalloc,
        _ => Kind::System,
    };
    contenders
        .iter()
        .find(|c| c.kind == kind)
        .map(|c| c.id.clone())
}

/// The override contender's id.
const OVERRIDE: &str = "gb-override";

fn fmt_ratio(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}x"))
}

fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.2}k", x / 1e3)
    } else {
        format!("{x:.2}")
    }
}

fn mib(kib: f64) -> String {
    format!("{:.1}", kib / 1024.0)
}

impl Verdict {
    /// The verdict as a sentence.
    pub fn sentence(&self) -> String {
        let mut text = format!(
            "{} is faster than {} on {} of {} workloads: {:.2}x its speed and {} its peak memory \
             overall (geometric means)",
            self.contender,
            self.baseline,
            self.faster_on,
            self.workloads,
            self.speed_geomean,
            fmt_ratio(self.peak_rss_geomean)
        );
        if !self.not_faster_on.is_empty() {
            let list: Vec<String> = self
                .not_faster_on
                .iter()
                .map(|w| format!("{} {:.2}x", w.workload, w.ratio))
                .collect();
            let _ = write!(text, "; not faster on {}", list.join(", "));
        }
        text
    }
}

/// The whole text report for stdout, from the report alone.
/// Below this, burst-idle's burst (all that its speed counts) is a few
/// dozen blocks and page faults: its ratios move severalfold between runs.
const SHORT_BURST_SECONDS: f64 = 0.1;

/// A line under burst-idle's table when its burst was too short to compare
/// speeds (as `--quick` runs it): the median burst time, and what to run.
fn short_burst_note(r: &Report, workload: &str) -> Option<String> {
    if workload != "burst-idle" {
        return None;
    }
    let mut seconds: Vec<f64> = r
        .runs
        .iter()
        .filter(|run| run.workload == workload && run.error.is_none())
        .map(|run| run.seconds)
        .collect();
    if seconds.is_empty() {
        return None;
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    (median < SHORT_BURST_SECONDS).then(|| {
        format!(
            "  (the burst took {:.0} ms at this time scale: its speed is mostly page faults and noise; \
             compare it at --time-scale 0.5 or more)",
            median * 1000.0
        )
    })
}

pub fn table(r: &Report) -> String {
    let mut t = String::new();
    let contenders: Vec<&Contender> = r.measured().collect();
    let raw = r.raw_backend_contender.as_deref();
    let _ = writeln!(
        t,
        "gb-bench ({} run: {} repetitions, scale {}, timed workloads {}) on {}",
        r.mode,
        r.repetitions,
        r.scale,
        r.time_scale,
        r.machine.one_line()
    );
    let _ = writeln!(
        t,
        "Load average (1/5/15 min) at start: {}, at end: {} (other work on the machine adds noise)",
        r.load_average_at_start, r.load_average_at_end
    );
    let _ = writeln!(
        t,
        "graphbit-alloc {} with {} {} ({}), gb_verify: {}",
        r.library.version,
        r.library.backend,
        r.library.backend_version,
        r.library.shared.display(),
        r.library.verified
    );
    let _ = writeln!(t, "Contenders:");
    for c in &r.contenders {
        match &c.unavailable {
            None => {
                let _ = writeln!(
                    t,
                    "  {:<22} {:<40} malloc from {}",
                    c.id, c.version, c.malloc_object
                );
            }
            Some(why) => {
                let _ = writeln!(t, "  {:<22} UNAVAILABLE: {why}", c.id);
            }
        }
    }
    for u in &r.unavailable_workloads {
        let _ = writeln!(t, "  (workload {} UNAVAILABLE: {})", u.id, u.reason);
    }
    let _ = writeln!(
        t,
        "\nThroughput: median ops/s over repetitions [min - max]; RSS in MiB (peak from wait4; \
         end/trimmed: RSS with the survivors still live, before/after the allocator's trim; \
         peak live: the most bytes the workload held at once, where the driver counts them; \
         for churn and aligned the sum of each thread's peak; not for pair and jansson)."
    );
    let speed = |c: &str, b: Option<&str>, w: &str| match b {
        Some(b) if b != c => fmt_ratio(r.ratio(c, b, w).and_then(|x| x.speed)),
        _ => "".into(),
    };
    for w in &r.workloads {
        let _ = writeln!(t, "\n{} — {} (ops = {})", w.id, w.description, w.unit);
        let footprint = r
            .summary
            .iter()
            .any(|s| s.workload == w.id && s.rss_end_kib.is_some());
        let _ = write!(
            t,
            "  {:<22} {:>28} {:>9}",
            "contender", "ops/s [min - max]", "peak RSS"
        );
        if footprint {
            let _ = write!(t, " {:>8} {:>8}", "end RSS", "trimmed");
        }
        let counted = r
            .summary
            .iter()
            .any(|s| s.workload == w.id && s.peak_live_bytes.is_some());
        if counted {
            let _ = write!(t, " {:>9} {:>8}", "peak live", "RSS/live");
        }
        let _ = writeln!(
            t,
            " {:>9} {:>9}",
            "vs system",
            raw.map_or("".into(), |r| format!("vs {r}"))
        );
        for c in &contenders {
            let Some(s) = r.summary_of(&c.id, &w.id) else {
                continue;
            };
            let ops = s.ops_per_second.map_or("FAILED".into(), |o| {
                format!("{} [{} - {}]", si(o.median), si(o.min), si(o.max))
            });
            let _ = write!(
                t,
                "  {:<22} {:>28} {:>9}",
                c.id,
                ops,
                s.peak_rss_kib.map_or("-".into(), |p| mib(p.median))
            );
            if footprint {
                let _ = write!(
                    t,
                    " {:>8} {:>8}",
                    s.rss_end_kib.map_or("-".into(), |p| mib(p.median)),
                    s.rss_trim_kib.map_or("-".into(), |p| mib(p.median))
                );
            }
            if counted {
                let _ = write!(
                    t,
                    " {:>9} {:>8}",
                    s.peak_live_bytes
                        .map_or("-".into(), |p| mib(p.median / 1024.0)),
                    s.overhead.map_or("-".into(), |o| format!("{o:.2}x"))
                );
            }
            let _ = write!(
                t,
                " {:>9} {:>9}",
                speed(&c.id, Some("system"), &w.id),
                speed(&c.id, raw, &w.id)
            );
            if s.failed > 0 {
                let _ = write!(t, "  ({} run(s) FAILED)", s.failed);
            }
            let _ = writeln!(t);
        }
        if let Some(note) = short_burst_note(r, &w.id) {
            let _ = writeln!(t, "{note}");
        }
    }

    // Ratio summary: speed (above 1 is faster) and peak RSS (below 1 is
    // smaller) against the system allocator and the raw backend.
    if let Some(gb) = &r.headline_contender {
        let _ = writeln!(
            t,
            "\nRatios (speed: ops/s ratio, above 1 = faster; memory: peak RSS ratio, below 1 = smaller)"
        );
        let mut columns: Vec<(&str, &str)> = vec![(gb, "system")];
        if let Some(raw) = raw.filter(|raw| *raw != "system") {
            columns.push((gb, raw));
        }
        for other in ["jemalloc", "mimalloc", OVERRIDE] {
            if contenders.iter().any(|c| c.id == other) {
                columns.push((other, "system"));
            }
        }
        let _ = write!(t, "  {:<18}", "workload");
        for (a, b) in &columns {
            let _ = write!(t, " {:>25}", format!("{a}/{b} speed|mem"));
        }
        let _ = writeln!(t);
        for w in &r.workloads {
            let _ = write!(t, "  {:<18}", w.id);
            for (a, b) in &columns {
                let ratio = r.ratio(a, b, &w.id);
                let cell = format!(
                    "{} | {}",
                    fmt_ratio(ratio.and_then(|x| x.speed)),
                    fmt_ratio(ratio.and_then(|x| x.peak_rss))
                );
                let _ = write!(t, " {cell:>25}");
            }
            let _ = writeln!(t);
        }
    }

    let _ = writeln!(
        t,
        "\nVerdicts (on this machine, from the medians above; speed: ops/s ratio, memory: peak RSS ratio):"
    );
    for v in &r.verdicts {
        let _ = writeln!(t, "  {}", v.sentence());
    }
    let requests = crate::requests::verdict(r);
    if !requests.is_empty() {
        let _ = writeln!(t, "\nPer-request memory (request, request-heap; medians):");
        for line in requests {
            let _ = writeln!(t, "  {line}");
        }
    }
    if !r.memory_verdicts.is_empty() {
        let _ = writeln!(
            t,
            "\nMemory targets (RSS/live: peak RSS over the most bytes the workload held at once):"
        );
        for v in &r.memory_verdicts {
            let _ = writeln!(t, "  {}", v.sentence);
        }
    }
    if r.library.backend == "jemalloc" && raw == Some("jemalloc") {
        let _ = writeln!(
            t,
            "  Note: raw jemalloc is Debian's build (initial-exec TLS, unprefixed, replaces malloc); \
             graphbit-alloc's static and shared libraries are jemalloc {} with initial-exec TLS too \
             (_rjem_ prefix, stats on); gb-dlopen loads libgraphbit_alloc_dlopen, built without \
             initial-exec TLS so that it can be dlopen-ed.",
            r.library.backend_version
        );
    }
    if let Some(c) = contenders.iter().find(|c| c.id == OVERRIDE) {
        let _ = writeln!(
            t,
            "  Note: {OVERRIDE} is graphbit-alloc's whole-process library ({}) as LD_PRELOAD, \
             under a driver that calls the plain malloc family, so every malloc in the process \
             is the backend's (initial-exec TLS, like the static and shared libraries); \
             Debian's jemalloc and mimalloc are linked into their drivers ahead of the C \
             library, which replaces malloc the same way. tcmalloc is not a gb-bench contender.",
            c.preload
                .as_deref()
                .map_or("-".to_string(), |p| p.display().to_string())
        );
    }
    if let Some(programs) = &r.programs {
        t += &crate::programs::table(programs);
    }
    t
}

/// `--plot`: each measured contender's speed and peak RSS relative to the
/// system allocator, per workload.
pub fn chart(r: &Report) -> Chart {
    let series: Vec<String> = r
        .measured()
        .filter(|c| c.id != "system")
        .map(|c| c.id.clone())
        .collect();
    let panel = |title: &str, pick: fn(&Ratio) -> Option<f64>| Panel {
        title: title.to_string(),
        values: r
            .workloads
            .iter()
            .map(|w| {
                series
                    .iter()
                    .map(|c| r.ratio(c, "system", &w.id).and_then(pick))
                    .collect()
            })
            .collect(),
    };
    Chart {
        title: format!(
            "graphbit-alloc {} ({} {}) vs the system allocator: median of repetitions, log scale",
            r.library.version,
            r.library.backend,
            r.library.backend_version.split('-').next().unwrap_or("")
        ),
        subtitle: r.machine.one_line(),
        panels: vec![
            panel("speed vs system (right of 1x = faster)", |x| x.speed),
            panel("peak RSS vs system (left of 1x = smaller)", |x| x.peak_rss),
        ],
        rows: r.workloads.iter().map(|w| w.id.clone()).collect(),
        series,
    }
}

/// `--plot-rss`: RSS over time of the timed workloads (memory.rs).
pub fn rss_chart(r: &Report) -> crate::svg::LineChart {
    let contenders: Vec<String> = r.measured().map(|c| c.id.clone()).collect();
    crate::memory::chart(
        &format!(
            "graphbit-alloc {} ({}): RSS over time, first repetition; dashed: live bytes",
            r.library.version, r.library.backend
        ),
        &r.machine.one_line(),
        &contenders,
        &r.runs,
    )
}
