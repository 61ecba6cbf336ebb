//! Medians, ratios, verdicts on the claims, the text table and the JSON.

use std::fmt::Write;

use crate::contenders::{Contender, Kind, Setup};
use crate::json::Value;
use crate::run::{Run, Workload};
use crate::Options;

/// Median and range over repetitions.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stat {
    fn of(mut values: Vec<f64>) -> Option<Stat> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(|a, b| a.total_cmp(b));
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: values[0],
            max: values[n - 1],
            n,
        })
    }

    fn json(s: Option<Stat>) -> Value {
        match s {
            None => Value::Null,
            Some(s) => Value::obj(vec![
                ("median", Value::num(s.median)),
                ("min", Value::num(s.min)),
                ("max", Value::num(s.max)),
                ("n", Value::Int(s.n as i64)),
            ]),
        }
    }
}

/// A (contender, workload) over its successful repetitions.
#[derive(Debug, Clone)]
pub struct Summary {
    pub contender: String,
    pub workload: String,
    pub ops_per_second: Option<Stat>,
    pub peak_rss_kib: Option<Stat>,
    pub rss_end_kib: Option<Stat>,
    pub rss_trim_kib: Option<Stat>,
    pub failed: usize,
}

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
                failed,
            });
        }
    }
    out
}

fn find<'a>(summary: &'a [Summary], contender: &str, workload: &str) -> Option<&'a Summary> {
    summary
        .iter()
        .find(|s| s.contender == contender && s.workload == workload)
}

/// Median throughput of `a` over `b` (above 1: `a` is faster).
pub fn speed_ratio(summary: &[Summary], a: &str, b: &str, workload: &str) -> Option<f64> {
    let x = find(summary, a, workload)?.ops_per_second?.median;
    let y = find(summary, b, workload)?.ops_per_second?.median;
    Some(x / y)
}

/// Median peak RSS of `a` over `b` (below 1: `a` uses less).
pub fn memory_ratio(summary: &[Summary], a: &str, b: &str, workload: &str) -> Option<f64> {
    let x = find(summary, a, workload)?.peak_rss_kib?.median;
    let y = find(summary, b, workload)?.peak_rss_kib?.median;
    Some(x / y)
}

fn end_ratio(summary: &[Summary], a: &str, b: &str, workload: &str, trimmed: bool) -> Option<f64> {
    let pick = |s: &Summary| {
        if trimmed {
            s.rss_trim_kib
        } else {
            s.rss_end_kib
        }
    };
    let x = pick(find(summary, a, workload)?)?.median;
    let y = pick(find(summary, b, workload)?)?.median;
    Some(x / y)
}

/// The contender a claim about graphbit-alloc is judged on: the shared
/// library linked at start-up, the way most C hosts use it.
pub fn headline(contenders: &[&Contender]) -> Option<String> {
    ["gb-shared", "gb-static", "gb-dlopen"]
        .iter()
        .find(|id| contenders.iter().any(|c| c.id == **id))
        .map(|s| s.to_string())
}

/// The raw backend contender that graphbit-alloc's backend corresponds to.
pub fn raw_backend(setup: &Setup, contenders: &[&Contender]) -> Option<String> {
    let kind = match setup.lib.backend.as_str() {
        "jemalloc" => Kind::Jemalloc,
        "mimalloc" => Kind::Mimalloc,
        _ => Kind::System,
    };
    contenders
        .iter()
        .find(|c| c.kind == kind)
        .map(|c| c.id.clone())
}

/// A statement about the data: a claim or a target, whether it holds.
pub struct Verdict {
    pub claim: String,
    /// None: the contenders needed were not measured.
    pub holds: Option<bool>,
    pub detail: String,
}

/// Memory claims are judged only where the heap, not the program's fixed
/// start-up cost, dominates: the system allocator's peak RSS at least this.
const MEMORY_CLAIM_MIN_KIB: f64 = 16.0 * 1024.0;

fn fmt_ratio(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}x"))
}

/// Judges `who` against the system allocator on every workload: speed at
/// least `speedup`, peak RSS at most `memory` of the system's.
fn judge_claim(
    out: &mut Vec<Verdict>,
    summary: &[Summary],
    workloads: &[Workload],
    who: &str,
    name: &str,
    speedup: f64,
    memory: f64,
) {
    let speed_workloads: Vec<&Workload> = workloads.iter().filter(|w| !w.memory).collect();
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    for w in &speed_workloads {
        if let Some(r) = speed_ratio(summary, who, "system", &w.id) {
            let item = format!("{} {r:.2}x", w.id);
            if r >= speedup {
                hits.push(item)
            } else {
                misses.push(item)
            }
        }
    }
    let measured = hits.len() + misses.len();
    out.push(Verdict {
        claim: format!("{name} at least {speedup}x faster than the system allocator"),
        holds: (measured > 0).then_some(misses.is_empty()),
        detail: format!(
            "holds on {} of {measured} speed workloads{}",
            hits.len(),
            listed(&hits, &misses)
        ),
    });
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    for w in workloads {
        let big = find(summary, "system", &w.id)
            .and_then(|s| s.peak_rss_kib)
            .is_some_and(|s| s.median >= MEMORY_CLAIM_MIN_KIB);
        if !big {
            continue;
        }
        if let Some(r) = memory_ratio(summary, who, "system", &w.id) {
            let item = format!("{} {r:.2}x", w.id);
            if r <= memory {
                hits.push(item)
            } else {
                misses.push(item)
            }
        }
    }
    let measured = hits.len() + misses.len();
    out.push(Verdict {
        claim: format!(
            "{name} uses at least {:.0}% less peak memory than the system allocator",
            (1.0 - memory) * 100.0
        ),
        holds: (measured > 0).then_some(misses.is_empty()),
        detail: format!(
            "holds on {} of {measured} workloads whose system peak RSS is 16 MiB or more{}",
            hits.len(),
            listed(&hits, &misses)
        ),
    });
}

pub fn verdicts(
    contenders: &[&Contender],
    workloads: &[Workload],
    summary: &[Summary],
) -> Vec<Verdict> {
    let mut out = system_verdicts(contenders, workloads, summary);
    out.extend(override_verdicts(contenders, workloads, summary));
    out
}

/// The claims and targets judged against the system allocator, on the
/// headline contender and the raw backends.
fn system_verdicts(
    contenders: &[&Contender],
    workloads: &[Workload],
    summary: &[Summary],
) -> Vec<Verdict> {
    let mut out = Vec::new();
    let has = |id: &str| contenders.iter().any(|c| c.id == id);
    let gb = headline(contenders);
    if !has("system") {
        return out;
    }
    // The origin report's claims.
    if has("jemalloc") {
        judge_claim(
            &mut out,
            summary,
            workloads,
            "jemalloc",
            "Origin claim: raw jemalloc",
            3.0,
            0.6,
        );
    }
    if has("mimalloc") {
        judge_claim(
            &mut out,
            summary,
            workloads,
            "mimalloc",
            "Origin claim: raw mimalloc",
            6.0,
            0.5,
        );
    }
    if let Some(gb) = &gb {
        judge_claim(
            &mut out,
            summary,
            workloads,
            gb,
            &format!("Origin claim: {gb}"),
            3.0,
            0.6,
        );
        // Issue 5's targets against the system allocator.
        for w in workloads
            .iter()
            .filter(|w| (w.driver == "churn" && w.threads > 1) || w.driver == "producer-consumer")
        {
            let r = speed_ratio(summary, gb, "system", &w.id);
            out.push(Verdict {
                claim: format!(
                    "Target: {gb} at least 3x the system allocator's speed on {}",
                    w.id
                ),
                holds: r.map(|r| r >= 3.0),
                detail: format!("{gb}/system speed {}", fmt_ratio(r)),
            });
        }
        if workloads.iter().any(|w| w.id == "fragmentation") {
            let peak = memory_ratio(summary, gb, "system", "fragmentation");
            let end = end_ratio(summary, gb, "system", "fragmentation", false);
            let trimmed = end_ratio(summary, gb, "system", "fragmentation", true);
            out.push(Verdict {
                claim: format!("Target: {gb} peak RSS at least 40% below the system allocator's on fragmentation"),
                holds: peak.map(|r| r <= 0.6),
                detail: format!(
                    "{gb}/system: peak RSS {}, RSS at the end {}, after trim {}",
                    fmt_ratio(peak),
                    fmt_ratio(end),
                    fmt_ratio(trimmed)
                ),
            });
        }
        // Issue 7's targets for the backend's built-in configuration.
        let (holds, detail) = speed_floor(summary, workloads, gb, "system", 1.0);
        out.push(Verdict {
            claim: format!("Target: {gb} no slower than the system allocator on any workload"),
            holds,
            detail,
        });
        for id in ["large", "fragmentation"] {
            if workloads.iter().any(|w| w.id == id) {
                let peak = memory_ratio(summary, gb, "system", id);
                out.push(Verdict {
                    claim: format!(
                        "Target: {gb} peak RSS no worse than the system allocator's on {id}"
                    ),
                    holds: peak.map(|r| r <= 1.0),
                    detail: format!("{gb}/system peak RSS {}", fmt_ratio(peak)),
                });
            }
        }
        if workloads.iter().any(|w| w.id == "burst-idle") {
            let end = end_ratio(summary, gb, "system", "burst-idle", false);
            let mib_of = |c: &str| {
                find(summary, c, "burst-idle")
                    .and_then(|s| s.rss_end_kib)
                    .map_or("-".to_string(), |s| mib(s.median))
            };
            out.push(Verdict {
                claim: format!(
                    "Target: {gb} gives a freed burst back at least as well as the system allocator (RSS after 12 s quiet)"
                ),
                holds: end.map(|r| r <= 1.0),
                detail: format!(
                    "{gb} {} MiB, system {} MiB: {}",
                    mib_of(gb),
                    mib_of("system"),
                    fmt_ratio(end)
                ),
            });
        }
    }
    out
}

/// The override contender's id.
const OVERRIDE: &str = "gb-override";

/// The whole-process mode's targets, on `gb-override` (the override library
/// as LD_PRELOAD): at least as fast as the system allocator on every
/// workload; on the malloc-heavy loops (pair, churn-*), within 5% of the
/// fastest of Debian's allocators, or faster, with every contender's peak
/// RSS beside.
fn override_verdicts(
    contenders: &[&Contender],
    workloads: &[Workload],
    summary: &[Summary],
) -> Vec<Verdict> {
    let mut out = Vec::new();
    if !contenders.iter().any(|c| c.id == OVERRIDE) {
        return out;
    }
    if contenders.iter().any(|c| c.id == "system") {
        let (holds, detail) = speed_floor(summary, workloads, OVERRIDE, "system", 1.0);
        out.push(Verdict {
            claim: format!(
                "Target: {OVERRIDE} at least as fast as the system allocator on every workload"
            ),
            holds,
            detail,
        });
    }
    // Debian's allocators as gb-bench has them (tcmalloc is not one).
    let debian: Vec<&Contender> = contenders
        .iter()
        .copied()
        .filter(|c| matches!(c.kind, Kind::Jemalloc | Kind::Mimalloc))
        .collect();
    let ops = |c: &str, w: &str| {
        find(summary, c, w)
            .and_then(|s| s.ops_per_second)
            .map(|s| s.median)
    };
    let peak = |c: &str, w: &str| {
        find(summary, c, w)
            .and_then(|s| s.peak_rss_kib)
            .map_or("-".to_string(), |s| format!("{} MiB", mib(s.median)))
    };
    for w in workloads
        .iter()
        .filter(|w| w.driver == "pair" || w.driver == "churn")
    {
        let fastest = debian
            .iter()
            .filter_map(|c| ops(&c.id, &w.id).map(|o| (c.id.as_str(), o)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let ratio = fastest.and_then(|(id, _)| speed_ratio(summary, OVERRIDE, id, &w.id));
        let speeds: Vec<String> = std::iter::once(OVERRIDE)
            .chain(debian.iter().map(|c| c.id.as_str()))
            .map(|c| format!("{c} {} ops/s", ops(c, &w.id).map_or("-".to_string(), si)))
            .collect();
        let peaks: Vec<String> = std::iter::once(OVERRIDE)
            .chain(debian.iter().map(|c| c.id.as_str()))
            .map(|c| format!("{c} {}", peak(c, &w.id)))
            .collect();
        let versus = match fastest {
            Some((id, _)) => format!("{OVERRIDE}/{id} (the fastest) {}", fmt_ratio(ratio)),
            None => "no Debian allocator measured".to_string(),
        };
        out.push(Verdict {
            claim: format!(
                "Target: {OVERRIDE} within 5% of the fastest of Debian's jemalloc, mimalloc \
                 and tcmalloc, or faster, on {}",
                w.id
            ),
            holds: ratio.map(|r| r >= 0.95),
            detail: format!(
                "{versus}: {}; peak RSS {}; tcmalloc not measured (no gb-bench contender)",
                speeds.join(", "),
                peaks.join(", ")
            ),
        });
    }
    out
}

/// Whether `a` reaches at least `floor` times `b`'s speed on every workload
/// both ran, and the workloads where it does not.
fn speed_floor(
    summary: &[Summary],
    workloads: &[Workload],
    a: &str,
    b: &str,
    floor: f64,
) -> (Option<bool>, String) {
    let mut misses = Vec::new();
    let mut measured = 0;
    for w in workloads {
        if let Some(r) = speed_ratio(summary, a, b, &w.id) {
            measured += 1;
            if r < floor {
                misses.push(format!("{} {r:.2}x", w.id));
            }
        }
    }
    let detail = if misses.is_empty() {
        format!("met on all {measured} workloads")
    } else {
        format!(
            "met on {} of {measured}; slower on {}",
            measured - misses.len(),
            misses.join(", ")
        )
    };
    ((measured > 0).then_some(misses.is_empty()), detail)
}

/// The wrapper-overhead targets: each graphbit-alloc contender linked at
/// start-up (static, shared) within 5% of the raw backend's speed on every
/// workload, and at least as fast as it on the per-call loops (pair, churn-*);
/// the dlopen-ed one, whose thread-local data cannot be initial-exec, within
/// 20%.
fn wrapper_verdicts(
    contenders: &[&Contender],
    workloads: &[Workload],
    summary: &[Summary],
    raw: &str,
) -> Vec<Verdict> {
    let per_call: Vec<Workload> = workloads
        .iter()
        .filter(|w| w.driver == "pair" || w.driver == "churn")
        .cloned()
        .collect();
    let mut out = Vec::new();
    // gb-override (link "preload") has targets of its own (override_verdicts).
    for c in contenders
        .iter()
        .filter(|c| c.kind == Kind::Graphbit && c.link != "preload")
    {
        let (floor, within) = if c.link == "dlopen" {
            (0.80, "20%")
        } else {
            (0.95, "5%")
        };
        let (holds, detail) = speed_floor(summary, workloads, &c.id, raw, floor);
        out.push(Verdict {
            claim: format!(
                "Target: {} within {within} of raw {raw}'s speed on every workload",
                c.id
            ),
            holds,
            detail,
        });
        if c.link != "dlopen" {
            let (holds, detail) = speed_floor(summary, &per_call, &c.id, raw, 1.0);
            out.push(Verdict {
                claim: format!(
                    "Target: {} at least as fast as raw {raw} on the per-call loops (pair, churn)",
                    c.id
                ),
                holds,
                detail,
            });
        }
    }
    out
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

/// The whole text report for stdout.
pub fn table(
    setup: &Setup,
    contenders: &[&Contender],
    workloads: &[Workload],
    summary: &[Summary],
    verdicts: &[Verdict],
    opts: &Options,
) -> String {
    let mut t = String::new();
    let raw = raw_backend(setup, contenders);
    let gb = headline(contenders);
    let _ = writeln!(
        t,
        "gb-bench ({} run: {} repetitions, scale {}) on {}",
        opts.mode,
        opts.reps,
        opts.scale,
        crate::machine::one_line()
    );
    let _ = writeln!(
        t,
        "Load average (1/5/15 min) at start: {}, at end: {} (other work on the machine adds noise)",
        setup.load_at_start,
        crate::machine::load_average()
    );
    let _ = writeln!(
        t,
        "graphbit-alloc {} with {} {} ({}), gb_verify: {}",
        graphbit_alloc::diagnostics::build().version,
        setup.lib.backend,
        setup.lib.backend_version,
        setup.lib.shared.display(),
        setup.lib.verified
    );
    let _ = writeln!(t, "Contenders:");
    for c in &setup.contenders {
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
    if let Err(why) = &setup.jansson {
        let _ = writeln!(t, "  (workload jansson UNAVAILABLE: {why})");
    }
    let _ = writeln!(
        t,
        "\nThroughput: median ops/s over repetitions [min - max]; RSS in MiB (peak from wait4; \
         end/trimmed: RSS with the survivors still live, before/after the allocator's trim)."
    );
    for w in workloads {
        let _ = writeln!(t, "\n{} — {} (ops = {})", w.id, w.description, w.unit);
        let footprint = summary
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
        let _ = writeln!(
            t,
            " {:>9} {:>9}",
            "vs system",
            raw.as_deref().map_or("".into(), |r| format!("vs {r}"))
        );
        for c in contenders {
            let Some(s) = find(summary, &c.id, &w.id) else {
                continue;
            };
            let speed = s.ops_per_second.map_or("FAILED".into(), |o| {
                format!("{} [{} - {}]", si(o.median), si(o.min), si(o.max))
            });
            let _ = write!(
                t,
                "  {:<22} {:>28} {:>9}",
                c.id,
                speed,
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
            let vs = |other: Option<&str>| match other {
                Some(o) if o != c.id => fmt_ratio(speed_ratio(summary, &c.id, o, &w.id)),
                _ => "".into(),
            };
            let _ = write!(t, " {:>9} {:>9}", vs(Some("system")), vs(raw.as_deref()));
            if s.failed > 0 {
                let _ = write!(t, "  ({} run(s) FAILED)", s.failed);
            }
            let _ = writeln!(t);
        }
    }

    // Ratio summary: speed (above 1 is faster) and peak RSS (below 1 is
    // smaller) against the system allocator and the raw backend.
    if let Some(gb) = &gb {
        let _ = writeln!(
            t,
            "\nRatios (speed: ops/s ratio, above 1 = faster; memory: peak RSS ratio, below 1 = smaller)"
        );
        let mut columns: Vec<(String, String, String)> =
            vec![(gb.clone(), "system".into(), format!("{gb}/system"))];
        if let Some(raw) = &raw {
            if raw != "system" {
                columns.push((gb.clone(), raw.clone(), format!("{gb}/{raw}")));
            }
        }
        for other in ["jemalloc", "mimalloc", OVERRIDE] {
            if contenders.iter().any(|c| c.id == other) {
                columns.push((other.into(), "system".into(), format!("{other}/system")));
            }
        }
        let _ = write!(t, "  {:<18}", "workload");
        for (_, _, name) in &columns {
            let _ = write!(t, " {:>25}", format!("{name} speed|mem"));
        }
        let _ = writeln!(t);
        for w in workloads {
            let _ = write!(t, "  {:<18}", w.id);
            for (a, b, _) in &columns {
                let cell = format!(
                    "{} | {}",
                    fmt_ratio(speed_ratio(summary, a, b, &w.id)),
                    fmt_ratio(memory_ratio(summary, a, b, &w.id))
                );
                let _ = write!(t, " {cell:>25}");
            }
            let _ = writeln!(t);
        }
    }

    let _ = writeln!(
        t,
        "\nVerdicts (from the medians above; measured, never asserted):"
    );
    let mut all: Vec<&Verdict> = verdicts.iter().collect();
    let wrapper = raw
        .as_deref()
        .map(|raw| wrapper_verdicts(contenders, workloads, summary, raw))
        .unwrap_or_default();
    all.extend(wrapper.iter());
    for v in all {
        let mark = match v.holds {
            Some(true) => "HOLDS",
            Some(false) => "DOES NOT HOLD",
            None => "NOT MEASURED",
        };
        let _ = writeln!(t, "  [{mark}] {}: {}", v.claim, v.detail);
    }
    if setup.lib.backend == "jemalloc" && raw.as_deref() == Some("jemalloc") {
        let _ = writeln!(
            t,
            "  Note: raw jemalloc is Debian's build (initial-exec TLS, unprefixed, replaces malloc); \
             graphbit-alloc's static and shared libraries are jemalloc {} with initial-exec TLS too \
             (_rjem_ prefix, stats on); gb-dlopen loads libgraphbit_alloc_dlopen, built without \
             initial-exec TLS so that it can be dlopen-ed.",
            setup.lib.backend_version
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
    t
}

/// Everything, for --json.
#[allow(clippy::too_many_arguments)]
pub fn json_document(
    args: &[String],
    opts: &Options,
    started_utc: &str,
    elapsed: f64,
    setup: &Setup,
    workloads: &[Workload],
    runs: &[Run],
    summary: &[Summary],
    verdicts: &[Verdict],
) -> String {
    let contenders: Vec<&Contender> = setup.contenders.iter().filter(|c| c.available()).collect();
    let raw = raw_backend(setup, &contenders);
    let gb = headline(&contenders);
    let mut ratios = Vec::new();
    for w in workloads {
        for c in &contenders {
            for base in ["system".to_string()].iter().chain(raw.iter()) {
                if *base == c.id || !contenders.iter().any(|x| x.id == *base) {
                    continue;
                }
                ratios.push(Value::obj(vec![
                    ("workload", Value::str(&w.id)),
                    ("contender", Value::str(&c.id)),
                    ("baseline", Value::str(base)),
                    (
                        "speed",
                        Value::opt_num(speed_ratio(summary, &c.id, base, &w.id)),
                    ),
                    (
                        "peak_rss",
                        Value::opt_num(memory_ratio(summary, &c.id, base, &w.id)),
                    ),
                    (
                        "rss_end",
                        Value::opt_num(end_ratio(summary, &c.id, base, &w.id, false)),
                    ),
                    (
                        "rss_trimmed",
                        Value::opt_num(end_ratio(summary, &c.id, base, &w.id, true)),
                    ),
                ]));
            }
        }
    }
    let wrapper = raw
        .as_deref()
        .map(|raw| wrapper_verdicts(&contenders, workloads, summary, raw))
        .unwrap_or_default();
    let verdict_json = |v: &Verdict| {
        Value::obj(vec![
            ("claim", Value::str(&v.claim)),
            ("holds", v.holds.map_or(Value::Null, Value::Bool)),
            ("detail", Value::str(&v.detail)),
        ])
    };
    let doc = Value::obj(vec![
        ("schema", Value::str("gb-bench/1")),
        ("command", Value::Arr(args.iter().map(Value::str).collect())),
        ("mode", Value::str(opts.mode)),
        ("repetitions", Value::Int(opts.reps as i64)),
        ("scale", Value::num(opts.scale)),
        ("seed", Value::Int(opts.seed as i64)),
        ("started_utc", Value::str(started_utc)),
        ("load_average_at_start", Value::str(&setup.load_at_start)),
        (
            "load_average_at_end",
            Value::str(crate::machine::load_average()),
        ),
        ("duration_seconds", Value::num(elapsed)),
        ("machine", crate::machine::describe(&setup.compiler)),
        (
            "library",
            Value::obj(vec![
                ("version", Value::str(graphbit_alloc::diagnostics::build().version)),
                ("backend", Value::str(&setup.lib.backend)),
                ("backend_version", Value::str(&setup.lib.backend_version)),
                ("gb_verify", Value::Bool(setup.lib.verified)),
                ("shared", Value::str(setup.lib.shared.display().to_string())),
                (
                    "static",
                    Value::str(setup.lib.static_lib.display().to_string()),
                ),
                (
                    "driver_dir",
                    Value::str(setup.work_dir.display().to_string()),
                ),
                ("headline_contender", Value::opt_str(gb.as_deref())),
                ("raw_backend_contender", Value::opt_str(raw.as_deref())),
            ]),
        ),
        (
            "environment",
            Value::Obj(
                [
                    "_RJEM_MALLOC_CONF",
                    "MALLOC_CONF",
                    "MIMALLOC_PURGE_DELAY",
                    "GLIBC_TUNABLES",
                ]
                .iter()
                .filter_map(|k| {
                    std::env::var(k)
                        .ok()
                        .map(|v| (k.to_string(), Value::str(v)))
                })
                .collect(),
            ),
        ),
        (
            "contenders",
            Value::Arr(
                setup
                    .contenders
                    .iter()
                    .map(|c| {
                        Value::obj(vec![
                            ("id", Value::str(&c.id)),
                            ("label", Value::str(&c.label)),
                            ("kind", Value::str(format!("{:?}", c.kind).to_lowercase())),
                            ("link", Value::str(c.link)),
                            (
                                "preload",
                                Value::opt_str(
                                    c.preload
                                        .as_ref()
                                        .map(|p| p.display().to_string())
                                        .as_deref(),
                                ),
                            ),
                            ("available", Value::Bool(c.available())),
                            (
                                "unavailable_reason",
                                Value::opt_str(c.unavailable.as_deref()),
                            ),
                            ("version", Value::str(&c.version)),
                            ("malloc_object", Value::str(&c.malloc_object)),
                            ("trim", Value::Bool(c.trim)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "unavailable_workloads",
            Value::Arr(match &setup.jansson {
                Ok(()) => vec![],
                Err(why) => vec![Value::obj(vec![
                    ("id", Value::str("jansson")),
                    ("reason", Value::str(why)),
                ])],
            }),
        ),
        (
            "workloads",
            Value::Arr(
                workloads
                    .iter()
                    .map(|w| {
                        Value::obj(vec![
                            ("id", Value::str(&w.id)),
                            ("driver_workload", Value::str(w.driver)),
                            ("threads", Value::Int(w.threads as i64)),
                            ("unit", Value::str(w.unit)),
                            ("description", Value::str(&w.description)),
                            ("footprint", Value::Bool(w.memory)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "runs",
            Value::Arr(
                runs.iter()
                    .map(|r| {
                        Value::obj(vec![
                            ("contender", Value::str(&r.contender)),
                            ("workload", Value::str(&r.workload)),
                            ("repetition", Value::Int(r.repetition as i64)),
                            ("seed", Value::Int(r.seed as i64)),
                            ("ok", Value::Bool(r.error.is_none())),
                            ("error", Value::opt_str(r.error.as_deref())),
                            ("ops", Value::num(r.ops)),
                            ("seconds", Value::num(r.seconds)),
                            (
                                "ops_per_second",
                                Value::opt_num((r.error.is_none()).then(|| r.ops_per_second())),
                            ),
                            ("peak_rss_kib", Value::num(r.peak_rss_kib)),
                            ("cpu_seconds", Value::num(r.cpu_seconds)),
                            ("rss_end_kib", Value::opt_num(r.rss_end_kib)),
                            ("rss_trim_kib", Value::opt_num(r.rss_trim_kib)),
                            ("live_bytes", Value::opt_num(r.live_bytes)),
                            ("checksum", Value::str(&r.checksum)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "summary",
            Value::Arr(
                summary
                    .iter()
                    .map(|s| {
                        Value::obj(vec![
                            ("contender", Value::str(&s.contender)),
                            ("workload", Value::str(&s.workload)),
                            ("ops_per_second", Stat::json(s.ops_per_second)),
                            ("peak_rss_kib", Stat::json(s.peak_rss_kib)),
                            ("rss_end_kib", Stat::json(s.rss_end_kib)),
                            ("rss_trim_kib", Stat::json(s.rss_trim_kib)),
                            ("failed_runs", Value::Int(s.failed as i64)),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("ratios", Value::Arr(ratios)),
        (
            "verdicts",
            Value::Arr(
                verdicts
                    .iter()
                    .chain(wrapper.iter())
                    .map(verdict_json)
                    .collect(),
            ),
        ),
    ]);
    let mut out = String::new();
    doc.write(&mut out, 0);
    out.push('\n');
    out
}

/// " (hit, hit); not on miss, miss": the workloads behind a verdict.
fn listed(hits: &[String], misses: &[String]) -> String {
    let mut text = String::new();
    if !hits.is_empty() {
        text.push_str(&format!(" ({})", hits.join(", ")));
    }
    if !misses.is_empty() {
        text.push_str(&format!("; not on {}", misses.join(", ")));
    }
    text
}
