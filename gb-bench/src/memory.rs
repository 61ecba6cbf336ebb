//! Memory against the live bytes: the overhead (peak RSS / peak live bytes)
//! of each (contender, workload) where the driver counts what it holds, the
//! RSS-over-time charts of the timed workloads, and the memory targets as
//! verdicts a user can act on:
//! - server: peak RSS at most 1.5x the peak live bytes;
//! - every built-in workload: geometric mean of peak RSS at most the system
//!   allocator's;
//! - burst-idle: RSS back within 10% of (RSS before the spike + live bytes)
//!   within 2 s of the spike's end, with no call from the host.

use serde::{Deserialize, Serialize};

use crate::contenders::{Contender, Kind};
use crate::run::Run;
use crate::stats::median;
use crate::svg::{LineChart, LinePanel, Series};

/// Server: peak RSS / peak live bytes at most this.
pub const SERVER_OVERHEAD_TARGET: f64 = 1.5;
/// Geometric mean of peak RSS vs the system allocator at most this.
pub const GEOMEAN_RSS_TARGET: f64 = 1.0;
/// Burst-idle: RSS within this factor of the live bytes (over the RSS
/// before the spike) ...
pub const RETURN_SLACK: f64 = 1.10;
/// ... within this many seconds of the spike's end.
pub const RETURN_SECONDS: f64 = 2.0;

/// One memory target, for one contender.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryVerdict {
    /// "server-overhead", "geomean-peak-rss" or "burst-idle-return".
    pub target: String,
    pub contender: String,
    /// The measured value (a ratio, or seconds); None: not reached or not
    /// measured (`sentence` says which).
    pub value: Option<f64>,
    /// The target's limit (the value must be at most this).
    pub limit: f64,
    pub met: bool,
    /// The verdict in words.
    pub sentence: String,
}

/// The overhead of one run: peak RSS / peak live bytes.
pub fn overhead(run: &Run) -> Option<f64> {
    let live = run.peak_live_bytes?;
    (live > 0.0).then(|| run.peak_rss_kib * 1024.0 / live)
}

/// Burst-idle: seconds from the spike's end (the first sample after the
/// peak with nothing live) to the first sample whose RSS is within
/// `RETURN_SLACK` of the RSS before the spike plus the live bytes; None
/// when the timeline ends first.
pub fn return_seconds(timeline: &[[f64; 3]]) -> Option<f64> {
    let base_kib = timeline.first()?[1];
    let peak = timeline
        .iter()
        .enumerate()
        .max_by(|a, b| a.1[2].total_cmp(&b.1[2]))?
        .0;
    let end = peak + timeline[peak..].iter().position(|s| s[2] == 0.0)?;
    let t0 = timeline[end][0];
    timeline[end..]
        .iter()
        .find(|s| s[1] <= RETURN_SLACK * (base_kib + s[2] / 1024.0))
        .map(|s| s[0] - t0)
}

/// The memory verdicts of a run: for each graphbit-alloc contender, and
/// for the system allocator as the yardstick where a target applies to it.
pub fn verdicts(
    contenders: &[&Contender],
    runs: &[Run],
    rss_geomeans: &[(String, Option<f64>)],
) -> Vec<MemoryVerdict> {
    let mut out = Vec::new();
    let ok = |c: &str, w: &str| -> Vec<&Run> {
        runs.iter()
            .filter(|r| r.contender == c && r.workload == w && r.error.is_none())
            .collect()
    };
    let shown = contenders
        .iter()
        .filter(|c| c.kind == Kind::Graphbit || c.id == "system");
    for c in shown {
        let server = ok(&c.id, "server");
        if !server.is_empty() {
            let value = median(server.iter().filter_map(|r| overhead(r)).collect());
            let met = value.is_some_and(|v| v <= SERVER_OVERHEAD_TARGET);
            let sentence = match value {
                Some(v) => format!(
                    "server: {}'s peak RSS is {v:.2}x the live bytes (target: at most \
                     {SERVER_OVERHEAD_TARGET}x): {}",
                    c.id,
                    if met {
                        "met".to_string()
                    } else {
                        format!(
                            "NOT met; {:.0}% of the peak RSS is the allocator's own",
                            100.0 * (1.0 - 1.0 / v)
                        )
                    }
                ),
                None => format!("server: {}: no live bytes counted", c.id),
            };
            out.push(MemoryVerdict {
                target: "server-overhead".into(),
                contender: c.id.clone(),
                value,
                limit: SERVER_OVERHEAD_TARGET,
                met,
                sentence,
            });
        }
        let burst = ok(&c.id, "burst-idle");
        if !burst.is_empty() {
            let times: Vec<Option<f64>> = burst
                .iter()
                .map(|r| r.timeline.as_deref().and_then(return_seconds))
                .collect();
            let quiet = burst
                .iter()
                .filter_map(|r| r.timeline.as_ref()?.last().map(|s| s[0]))
                .fold(0.0, f64::max);
            // A run that never returned counts as the slowest.
            let value = median(times.iter().map(|t| t.unwrap_or(f64::MAX)).collect())
                .filter(|t| *t < f64::MAX);
            let met = value.is_some_and(|t| t <= RETURN_SECONDS);
            let sentence = match value {
                Some(t) => format!(
                    "burst-idle: {}'s RSS came back within {:.0}% of the live bytes {t:.2} s \
                     after the spike (target: within {RETURN_SECONDS} s, with no call from \
                     the host): {}",
                    c.id,
                    (RETURN_SLACK - 1.0) * 100.0,
                    if met { "met" } else { "NOT met" }
                ),
                None => format!(
                    "burst-idle: {}'s RSS did not come back within {:.0}% of the live bytes \
                     in the {quiet:.1} s measured (target: within {RETURN_SECONDS} s): NOT met{}",
                    c.id,
                    (RETURN_SLACK - 1.0) * 100.0,
                    if quiet < RETURN_SECONDS {
                        " (this run's quiet phase is shorter than the target's 2 s: \
                         use --time-scale 0.1 or more to judge it)"
                    } else {
                        ""
                    }
                ),
            };
            out.push(MemoryVerdict {
                target: "burst-idle-return".into(),
                contender: c.id.clone(),
                value,
                limit: RETURN_SECONDS,
                met,
                sentence,
            });
        }
    }
    for (contender, geomean) in rss_geomeans {
        let Some(g) = geomean else { continue };
        let met = *g <= GEOMEAN_RSS_TARGET;
        out.push(MemoryVerdict {
            target: "geomean-peak-rss".into(),
            contender: contender.clone(),
            value: Some(*g),
            limit: GEOMEAN_RSS_TARGET,
            met,
            sentence: format!(
                "all workloads: {contender}'s peak RSS is {g:.2}x the system allocator's \
                 (geometric mean; target: at most {GEOMEAN_RSS_TARGET:.2}x): {}",
                if met { "met" } else { "NOT met" }
            ),
        });
    }
    out
}

/// `--plot-rss`: RSS over time (MiB) of the first repetition of each
/// contender, one panel per timed workload, with the live bytes of the
/// system allocator's run as a dashed line.
pub fn chart(title: &str, subtitle: &str, contenders: &[String], runs: &[Run]) -> LineChart {
    let mut panels = Vec::new();
    for workload in ["server", "burst-idle"] {
        let first = |c: &str| {
            runs.iter()
                .filter(|r| r.contender == c && r.workload == workload && r.error.is_none())
                .min_by_key(|r| r.repetition)
                .and_then(|r| r.timeline.clone())
        };
        let mut series: Vec<Series> = contenders
            .iter()
            .filter_map(|c| {
                Some(Series {
                    name: c.clone(),
                    points: first(c)?.iter().map(|s| (s[0], s[1] / 1024.0)).collect(),
                    dashed: false,
                })
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let live_of = contenders
            .iter()
            .find(|c| *c == "system")
            .or(contenders.first());
        if let Some(timeline) = live_of.and_then(|c| first(c)) {
            series.push(Series {
                name: "live bytes".into(),
                points: timeline
                    .iter()
                    .map(|s| (s[0], s[2] / (1024.0 * 1024.0)))
                    .collect(),
                dashed: true,
            });
        }
        panels.push(LinePanel {
            title: format!("{workload}: RSS over time (MiB)"),
            series,
        });
    }
    LineChart {
        title: title.to_string(),
        subtitle: subtitle.to_string(),
        panels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_is_timed_from_the_spike_end() {
        // Before: 2 MiB; spike to 100 MiB live; freed at t=1; RSS down to
        // 2.1 MiB at t=2.5 (within 10% of 2 MiB + 0 live).
        let t = [
            [0.0, 2048.0, 0.0],
            [0.5, 100.0 * 1024.0, 100.0 * 1024.0 * 1024.0],
            [1.0, 90.0 * 1024.0, 0.0],
            [2.0, 10.0 * 1024.0, 0.0],
            [2.5, 2150.0, 0.0],
        ];
        assert_eq!(return_seconds(&t), Some(1.5));
        // Never returned.
        assert_eq!(return_seconds(&t[..4]), None);
        assert_eq!(return_seconds(&[]), None);
    }
}
