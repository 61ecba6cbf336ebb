//! What a correct run computes: each program's result is a function of its
//! size alone, computed here too (the churn checksum, the SQL results, the
//! redis check keys read back); for hooks_bench's SQLite, which draws its
//! rows from its own generator, glibc's run of the same repetition is the
//! reference.

use super::catalogue::{How, REDIS_CHECK_KEYS};
use super::{Program, ProgramRun};

/// What a correct run of `p` computes, when it is known beforehand.
pub(super) fn expected(p: &Program) -> Option<String> {
    match p.how {
        How::Hooks("lua") | How::Tool(_, "churn.lua" | "churn.py" | "churn.pl", _) => {
            Some(churn_checksum(p.info.size).to_string())
        }
        How::Tool(_, "churn.sql", _) => Some(sqlite3_expected(p.info.size)),
        How::Redis => Some(format!("{REDIS_CHECK_KEYS} check keys intact")),
        _ => None,
    }
}

/// Runs where no result is known beforehand must compute glibc's.
pub(super) fn check_against_glibc(programs: &[Program], runs: &mut [ProgramRun]) {
    for p in programs.iter().filter(|p| expected(p).is_none()) {
        let reference: Vec<(usize, Option<String>)> = runs
            .iter()
            .filter(|r| r.program == p.info.id && r.contender == "glibc")
            .map(|r| (r.repetition, r.error.is_none().then(|| r.result.clone())))
            .collect();
        for r in runs
            .iter_mut()
            .filter(|r| r.program == p.info.id && r.contender != "glibc" && r.error.is_none())
        {
            match reference.iter().find(|(rep, _)| *rep == r.repetition) {
                Some((_, Some(want))) if *want == r.result => {}
                Some((_, Some(want))) => {
                    r.error = Some(format!("computed {:?}, glibc {want:?}", r.result))
                }
                _ => r.error = Some("no glibc result to compare with".into()),
            }
        }
    }
}

/// churn.lua's checksum for `rounds` (churn.py and churn.pl compute the
/// same): per round, the text's length and the sum of the indices left in
/// the table (every index but those from 1 in steps of 3).
pub fn churn_checksum(rounds: u64) -> u64 {
    let kept: u64 = (1..=400u64).filter(|i| i % 3 != 1).sum();
    let digits = |v: u64| v.to_string().len() as u64;
    (1..=rounds).fold(0, |sum, r| {
        let text: u64 = (1..=400u64)
            .map(|i| digits(i * r) + 1 + (i * 7 + r) % 48)
            .sum::<u64>()
            + 399;
        (sum + kept + text) % 1_000_000_007
    })
}

/// What the sqlite3 shell prints for churn.sql with @n = `rows`.
pub fn sqlite3_expected(rows: u64) -> String {
    let name = |i: u64| {
        format!(
            "k{}-{}-{}",
            (i * 7919) % 1_000_003,
            i,
            "0".repeat((i % 64) as usize)
        )
    };
    let digits = |v: u64| v.to_string().len() as u64;
    let (mut names, mut payload, mut with_7) = (0, 0, 0);
    let (mut kept, mut kept_names, mut kept_payload) = (0, 0, 0);
    for i in 1..=rows {
        let len = name(i).len() as u64;
        names += len;
        payload += i % 200;
        if name(i).contains('7') {
            with_7 += 2 * len;
        }
        if i % 2 == 1 {
            kept += 1;
            kept_names += len + if i % 3 == 0 { 1 + digits(i % 100) } else { 0 };
            kept_payload += i % 200;
        }
    }
    let groups = rows.min(100);
    format!(
        "{rows}|{names}|{payload}\n{rows}\n{rows}\n{rows}|{}\n{with_7}\n{kept}|{kept_names}|{kept_payload}",
        names + rows - groups
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::select;

    /// The figures lua5.4 churn.lua printed (python3 and perl the same).
    #[test]
    fn churn_checksum_is_the_scripts() {
        assert_eq!(churn_checksum(10), 648660);
        assert_eq!(churn_checksum(200), 13070153);
        assert_eq!(churn_checksum(1000), 65641135);
    }

    /// sqlite-hooks has no result known beforehand: glibc's is the
    /// reference of its repetition, and without one nothing passes.
    #[test]
    fn hooks_sqlite_is_checked_against_glibc() {
        let mut opts = crate::default_options();
        opts.only_workloads = Some(vec!["sqlite-hooks".into()]);
        let programs = select(&opts);
        assert_eq!(programs.len(), 1);
        assert_eq!(expected(&programs[0]), None);
        let run = |contender: &str, repetition, result: &str, error: Option<&str>| ProgramRun {
            program: "sqlite-hooks".into(),
            contender: contender.into(),
            repetition,
            wall_seconds: 1.0,
            cpu_seconds: 1.0,
            peak_rss_kib: 1.0,
            end_rss_kib: None,
            requests_per_second: None,
            result: result.into(),
            error: error.map(String::from),
        };
        let mut runs = vec![
            run("glibc", 0, "42", None),
            run("gb-hooks", 0, "42", None),
            run("jemalloc", 0, "41", None),
            run("glibc", 1, "", Some("exit status: 1")),
            run("gb-hooks", 1, "42", None),
        ];
        check_against_glibc(&programs, &mut runs);
        let errors: Vec<Option<&str>> = runs.iter().map(|r| r.error.as_deref()).collect();
        assert_eq!(
            errors,
            [
                None,
                None,
                Some("computed \"41\", glibc \"42\""),
                Some("exit status: 1"),
                Some("no glibc result to compare with"),
            ]
        );
    }

    /// What sqlite3 3.40 printed for churn.sql.
    #[test]
    fn sqlite3_expected_is_the_shells() {
        assert_eq!(
            sqlite3_expected(100),
            "100|3761|5050\n100\n100\n100|3761\n4558\n50|1935|2500"
        );
        assert_eq!(
            sqlite3_expected(200_000),
            "200000|9166680|19900000\n200000\n200000\n200000|9366580\n12583704\n\
             100000|4730007|10000000"
        );
    }
}
