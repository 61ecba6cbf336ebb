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
    for p in results.programs.iter().filter(|p| p.unavailable.is_none()) {
        let mut ids: Vec<&str> = Vec::new();
        for r in results.runs.iter().filter(|r| r.program == p.id) {
            if !ids.contains(&r.contender.as_str()) {
                ids.push(&r.contender);
            }
        }
        let medians = |id: &str| medians(results, &p.id, id);
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
    text += &override_target(results);
    text
}

/// The medians of one program's passed runs with one contender: wall,
/// CPU, peak RSS, end RSS, requests/s (the table's columns).
fn medians(results: &Results, program: &str, contender: &str) -> Vec<Option<f64>> {
    type Field = fn(&ProgramRun) -> Option<f64>;
    let fields: [Field; 5] = [
        |r| Some(r.wall_seconds),
        |r| Some(r.cpu_seconds),
        |r| Some(r.peak_rss_kib),
        |r| r.end_rss_kib,
        |r| r.requests_per_second,
    ];
    let ok: Vec<&ProgramRun> = results
        .runs
        .iter()
        .filter(|r| r.program == program && r.contender == contender && r.error.is_none())
        .collect();
    fields
        .iter()
        .map(|f| median(ok.iter().filter_map(|r| f(r)).collect()))
        .collect()
}

/// The whole-process override on the programs it is preloaded into (not
/// the adapters' `-hooks` programs).
const OVERRIDE: &str = "gb-override";
/// Its memory target there: peak RSS at most this times glibc's.
const PEAK_TARGET: f64 = 1.10;

/// The override's real-program targets as two verdict lines: peak RSS at
/// most 1.10x glibc's and CPU time at most glibc's, on every program that
/// ran under both; empty when none did.
fn override_target(results: &Results) -> String {
    let mut peak: Vec<(String, f64)> = Vec::new();
    let mut cpu: Vec<(String, f64)> = Vec::new();
    for p in results.programs.iter().filter(|p| p.unavailable.is_none()) {
        let hooks = results
            .runs
            .iter()
            .any(|r| r.program == p.id && r.contender == "gb-hooks");
        if hooks {
            continue;
        }
        let (ours, base) = (
            medians(results, &p.id, OVERRIDE),
            medians(results, &p.id, "glibc"),
        );
        if let (Some(a), Some(b)) = (ours[2], base[2]) {
            peak.push((p.id.clone(), a / b));
        }
        if let (Some(a), Some(b)) = (ours[1], base[1]) {
            cpu.push((p.id.clone(), a / b));
        }
    }
    if peak.is_empty() && cpu.is_empty() {
        return String::new();
    }
    let verdict = |what: &str, ratios: &[(String, f64)], limit: f64| {
        let list: Vec<String> = ratios
            .iter()
            .map(|(id, x)| format!("{id} {x:.2}x"))
            .collect();
        let over: Vec<&str> = ratios
            .iter()
            .filter(|(_, x)| *x > limit)
            .map(|(id, _)| id.as_str())
            .collect();
        let status = if over.is_empty() {
            "met".to_string()
        } else {
            format!("NOT met ({})", over.join(", "))
        };
        format!(
            "  real programs: {OVERRIDE}'s {what} against glibc's: {} (target: at most \
             {limit:.2}x on each): {status}\n",
            list.join(", ")
        )
    };
    let mut text = String::from("Real-program targets (medians above):\n");
    text += &verdict("peak RSS", &peak, PEAK_TARGET);
    text += &verdict("CPU time", &cpu, 1.0);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::ProgramInfo;

    fn info(id: &str) -> ProgramInfo {
        ProgramInfo {
            id: id.into(),
            description: String::new(),
            size: 1,
            unit: "rounds".into(),
            command: String::new(),
            unavailable: None,
            note: None,
        }
    }

    fn run(program: &str, contender: &str, cpu: f64, peak: f64) -> ProgramRun {
        ProgramRun {
            program: program.into(),
            contender: contender.into(),
            repetition: 0,
            wall_seconds: cpu,
            cpu_seconds: cpu,
            peak_rss_kib: peak,
            end_rss_kib: None,
            requests_per_second: None,
            result: String::new(),
            error: None,
        }
    }

    #[test]
    fn override_target_names_the_programs_over_the_limit() {
        let results = Results {
            programs: vec![info("lua"), info("sqlite3"), info("lua-hooks")],
            runs: vec![
                run("lua", "glibc", 1.0, 1000.0),
                run("lua", OVERRIDE, 0.9, 1050.0),
                run("sqlite3", "glibc", 1.0, 1000.0),
                run("sqlite3", OVERRIDE, 1.2, 1400.0),
                // An adapter program: not the override's target.
                run("lua-hooks", "glibc", 1.0, 1000.0),
                run("lua-hooks", "gb-hooks", 1.0, 3000.0),
                run("lua-hooks", OVERRIDE, 1.0, 3000.0),
            ],
            repetitions: 1,
        };
        let text = override_target(&results);
        assert!(
            text.contains("peak RSS against glibc's: lua 1.05x, sqlite3 1.40x (target: at most 1.10x on each): NOT met (sqlite3)"),
            "{text}"
        );
        assert!(
            text.contains("CPU time against glibc's: lua 0.90x, sqlite3 1.20x (target: at most 1.00x on each): NOT met (sqlite3)"),
            "{text}"
        );
        assert!(!text.contains("lua-hooks"), "{text}");

        let met = Results {
            runs: results.runs[..2].to_vec(),
            ..results
        };
        assert!(override_target(&met).contains("(target: at most 1.10x on each): met\n"));
        let none = Results {
            programs: Vec::new(),
            runs: Vec::new(),
            repetitions: 1,
        };
        assert_eq!(override_target(&none), "");
    }
}
