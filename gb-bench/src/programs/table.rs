//! The "Real programs" table of the report.

use super::{ProgramRun, Results};
use crate::stats::median;

/// The "Real programs" table: per program and contender the medians of the
/// runs that passed, and their ratios to glibc's.
pub fn table(results: &Results) -> String {
    let mut text = format!(
        "\nReal programs ({} repetition{}, interleaved; medians; x: relative to glibc, below 1 \
         is faster or smaller, above 1 for req/s):\n",
        results.repetitions,
        if results.repetitions == 1 { "" } else { "s" }
    );
    for p in &results.programs {
        match &p.unavailable {
            Some(reason) => text += &format!("  {:<13} unavailable: {reason}\n", p.id),
            None => {
                text += &format!(
                    "  {:<13} {} {}: {}\n  {:<13} command: {}\n",
                    p.id, p.size, p.unit, p.description, "", p.command
                );
                if let Some(note) = &p.note {
                    text += &format!("  {:<13} note: {note}\n", "");
                }
            }
        }
    }
    text += &format!(
        "  {:<13} {:<12} {:>8} {:>8} {:>9} {:>9} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7}  {}\n",
        "program",
        "contender",
        "wall s",
        "cpu s",
        "peak MiB",
        "end MiB",
        "req/s",
        "wall x",
        "cpu x",
        "peak x",
        "end x",
        "req/s x",
        "result"
    );
    type Field = fn(&ProgramRun) -> Option<f64>;
    let fields: [Field; 5] = [
        |r| Some(r.wall_seconds),
        |r| Some(r.cpu_seconds),
        |r| Some(r.peak_rss_kib),
        |r| r.end_rss_kib,
        |r| r.requests_per_second,
    ];
    for p in results.programs.iter().filter(|p| p.unavailable.is_none()) {
        let mut ids: Vec<&str> = Vec::new();
        for r in results.runs.iter().filter(|r| r.program == p.id) {
            if !ids.contains(&r.contender.as_str()) {
                ids.push(&r.contender);
            }
        }
        let medians = |id: &str| -> Vec<Option<f64>> {
            let ok: Vec<&ProgramRun> = results
                .runs
                .iter()
                .filter(|r| r.program == p.id && r.contender == id && r.error.is_none())
                .collect();
            fields
                .iter()
                .map(|f| median(ok.iter().filter_map(|r| f(r)).collect()))
                .collect()
        };
        let base = medians("glibc");
        for (row, id) in ids.iter().enumerate() {
            let m = medians(id);
            let runs: Vec<&ProgramRun> = results
                .runs
                .iter()
                .filter(|r| r.program == p.id && r.contender == *id)
                .collect();
            let failed: Vec<&&ProgramRun> = runs.iter().filter(|r| r.error.is_some()).collect();
            let result = match failed.first() {
                None => "ok".to_string(),
                Some(r) => format!(
                    "FAILED {}/{}: {}",
                    failed.len(),
                    runs.len(),
                    r.error.as_deref().unwrap_or("")
                ),
            };
            let show = |v: Option<f64>, scale: f64, precision: usize| match v {
                Some(v) => format!("{:.*}", precision, v / scale),
                None => "-".into(),
            };
            let ratio = |i: usize| match (m[i], base[i]) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => "-".into(),
            };
            text += &format!(
                "  {:<13} {:<12} {:>8} {:>8} {:>9} {:>9} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7}  {}\n",
                if row == 0 { p.id.as_str() } else { "" },
                id,
                show(m[0], 1.0, 3),
                show(m[1], 1.0, 3),
                show(m[2], 1024.0, 1),
                show(m[3], 1024.0, 1),
                show(m[4], 1.0, 0),
                ratio(0),
                ratio(1),
                ratio(2),
                ratio(3),
                ratio(4),
                result
            );
        }
    }
    text += "  (wall and cpu: the whole process; for redis wall is the load's, cpu the server's \
             whole life, peak and end its VmHWM and VmRSS after the load)\n";
    text
}
