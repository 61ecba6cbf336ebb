//! Smoke test of the benchmark (issue 5): `gb-bench --smoke` runs every
//! workload for every contender it can run and writes a JSON report and an
//! SVG chart with the expected structure, then the real programs (issue 16)
//! into a table of their own, each checking its result; `gb-bench report`
//! renders the same table and chart from that JSON alone. It checks that the
//! benchmark works, never how fast anything is (speed is measured by
//! gb-bench, not asserted here).
//!
//! graphbit-alloc (static, shared, dlopen) and the system allocator need only
//! a C compiler, which the product needs too: when one of them is
//! unavailable the test fails. Debian's jemalloc and mimalloc (libjemalloc2,
//! libmimalloc2.0) and the jansson workload (libjansson-dev) are optional
//! contenders: the test prints which are not installed, checks that the
//! report says so with the package to install, and checks the runs of those
//! that are (`bash tests/cmake/install-deps.sh` installs them). The real
//! programs but redis need what the project's tests need anyway (Lua and
//! SQLite with their -dev packages, python3, perl): they must run; redis
//! (redis-server, redis-tools) is optional like the contenders.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn gb_bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gb-bench"))
}

/// The backend of the library gb-bench is built with.
fn backend() -> &'static str {
    graphbit_alloc::diagnostics::build().backend
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench_smoke");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Contenders that must run: they need only a C compiler.
const REQUIRED: &[&str] = &[
    "gb-static",
    "gb-shared",
    "gb-dlopen",
    "gb-override",
    "system",
];

/// A required contender that the backend cannot have: whole-process mode
/// replaces the C library's malloc, which the system backend is.
fn impossible(id: &str) -> bool {
    id == "gb-override" && backend() == "system"
}

/// Contenders that run when their Debian package is installed.
const OPTIONAL: &[(&str, &str)] = &[("jemalloc", "libjemalloc2"), ("mimalloc", "libmimalloc2.0")];

/// Workloads that must run.
const WORKLOADS: &[&str] = &[
    "pair",
    "churn-1t",
    "churn-2t",
    "producer-consumer",
    "realloc",
    "large",
    "aligned",
    "fragmentation",
    "leak",
    "server",
    "burst-idle",
];

/// The workload that runs when its package is installed (a real program).
const OPTIONAL_WORKLOAD: (&str, &str) = ("jansson", "libjansson-dev");

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("JSON lacks {key:?} in {v}"))
}

fn string<'a>(v: &'a Value, key: &str) -> &'a str {
    field(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("{key:?} is not a string in {v}"))
}

fn number(v: &Value, key: &str) -> f64 {
    field(v, key)
        .as_f64()
        .unwrap_or_else(|| panic!("{key:?} is not a number in {v}"))
}

/// Real programs (issue 16) that must run: the project's tests need their
/// tools (Lua and SQLite with their -dev packages, python3, perl).
const PROGRAMS: &[&str] = &[
    "lua-hooks",
    "lua-states",
    "sqlite-hooks",
    "lua",
    "sqlite3",
    "python3",
    "perl",
];

/// The real program that runs when its packages are installed.
const OPTIONAL_PROGRAM: (&str, &str) = ("redis", "redis-server redis-tools");

/// Every required program ran, and checked its result, for glibc and
/// graphbit-alloc (the override; for the hooks programs the adapters too);
/// the optional one ran so too, or says which packages it needs. Read from
/// the report's `programs` (the JSON the table is rendered from).
fn check_programs(doc: &Value) {
    let programs = &doc["programs"];
    let list = programs["programs"].as_array().expect("programs.programs");
    let runs = programs["runs"].as_array().expect("programs.runs");
    let (optional, packages) = OPTIONAL_PROGRAM;
    let mut required: Vec<&str> = PROGRAMS.to_vec();
    for p in list {
        let id = p["id"].as_str().unwrap();
        if let Some(reason) = p["unavailable"].as_str() {
            assert_eq!(id, optional, "a required program is unavailable: {reason}");
            assert!(reason.contains(packages), "{reason}");
            println!("optional program not run: {id}: {reason}");
        } else if id == optional {
            required.push(optional);
        }
    }
    for program in required {
        assert!(
            list.iter().any(|p| p["id"] == program),
            "{program} is not in the report"
        );
        let mut contenders = vec!["glibc"];
        if !impossible("gb-override") {
            contenders.push("gb-override");
        }
        if program.ends_with("-hooks") || program == "lua-states" {
            contenders.push("gb-hooks");
        }
        if program == "lua-states" {
            contenders.extend(["gb-heap", "gb-heap-drop"]);
        }
        for contender in contenders {
            let of: Vec<&Value> = runs
                .iter()
                .filter(|r| r["program"] == program && r["contender"] == contender)
                .collect();
            assert!(!of.is_empty(), "no run of {program} / {contender}");
            for r in of {
                assert!(
                    r["error"].is_null(),
                    "{program} / {contender}: {}",
                    r["error"]
                );
                assert!(r["wall_seconds"].as_f64().unwrap() > 0.0, "{r}");
                assert!(r["peak_rss_kib"].as_f64().unwrap() > 0.0, "{r}");
            }
        }
        let ran: Vec<String> = runs
            .iter()
            .filter(|r| r["program"] == program)
            .map(|r| format!("{}: {}", r["contender"], r["result"]))
            .collect();
        println!("real program {program}: {}", ran.join(", "));
    }
}

#[test]
fn smoke_run_writes_report_json_and_chart() {
    let dir = out_dir();
    let json_path = dir.join("smoke.json");
    let svg_path = dir.join("smoke.svg");
    let _ = std::fs::remove_file(&json_path);
    let _ = std::fs::remove_file(&svg_path);
    let out = gb_bench()
        .args(["--smoke", "--no-progress", "--json"])
        .arg(&json_path)
        .arg("--plot")
        .arg(&svg_path)
        .arg("--plot-rss")
        .arg(dir.join("smoke-rss.svg"))
        .output()
        .expect("run gb-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "gb-bench --smoke failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for heading in [
        "Contenders:",
        "Ratios",
        "Verdicts",
        "Memory targets",
        "RSS/live",
        "Per-request memory",
        // A smoke run's burst is a few ms: the table says its speed is noise.
        "compare it at --time-scale 0.5 or more",
    ] {
        assert!(
            stdout.contains(heading),
            "no {heading:?} in the table:\n{stdout}"
        );
    }

    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap())
        .expect("gb-bench --json writes valid JSON");
    assert_eq!(string(&doc, "schema"), "gb-bench/3");
    assert_eq!(string(&doc, "mode"), "smoke");
    // The timed workloads carry their RSS over time and their live bytes;
    // the memory targets are verdicts; the RSS chart has a line per
    // contender and the live bytes.
    for run in field(&doc, "runs").as_array().unwrap() {
        let timed = ["server", "burst-idle"].contains(&string(run, "workload"));
        if timed && run["error"].is_null() {
            let timeline = field(run, "timeline").as_array().unwrap();
            assert!(timeline.len() >= 2, "{run}");
            assert!(number(run, "peak_live_bytes") > 0.0, "{run}");
        }
        // The driver counts the live bytes of every workload that knows
        // what it holds (all but pair, which holds one block, and jansson).
        let counted = [
            "producer-consumer",
            "churn-1t",
            "churn-2t",
            "churn-4t",
            "realloc",
            "large",
            "aligned",
            "fragmentation",
            "leak",
        ];
        if counted.contains(&string(run, "workload")) && run["error"].is_null() {
            assert!(number(run, "peak_live_bytes") > 0.0, "{run}");
        }
    }
    let targets: Vec<&str> = field(&doc, "memory_verdicts")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| string(v, "target"))
        .collect();
    for t in ["server-overhead", "burst-idle-return", "geomean-peak-rss"] {
        assert!(targets.contains(&t), "no {t} verdict: {targets:?}");
    }
    let rss = std::fs::read_to_string(dir.join("smoke-rss.svg")).expect("--plot-rss writes");
    assert!(rss.contains("server: RSS over time") && rss.contains("live bytes"));
    assert!(rss.matches("<polyline").count() >= 4, "{rss}");
    assert!(
        stdout.contains("\nReal programs ("),
        "no real programs table:\n{stdout}"
    );
    check_programs(&doc);
    // request-heap: every graphbit-alloc contender found its heaps (the
    // others run it on a glibc obstack).
    for c in field(&doc, "contenders").as_array().unwrap() {
        if string(c, "id").starts_with("gb-") && c["unavailable"].is_null() {
            assert_eq!(c["heap"], true, "{c}");
        }
    }
    let machine = field(&doc, "machine");
    for key in ["cpu_model", "kernel", "os", "libc", "c_compiler"] {
        assert!(!string(machine, key).is_empty(), "machine.{key} is empty");
    }
    assert!(number(machine, "logical_cpus") >= 1.0);
    let library = field(&doc, "library");
    assert_eq!(string(library, "backend"), backend());
    assert!(!string(library, "backend_version").is_empty());
    assert_eq!(
        library["gb_verify"],
        serde_json::Value::Bool(true),
        "gb_verify in the bench's library"
    );

    // Every contender is in the report; the required ones were measured, an
    // optional one is measured or says which package it needs.
    let contenders = field(&doc, "contenders").as_array().unwrap();
    let listed: Vec<&str> = contenders.iter().map(|c| string(c, "id")).collect();
    let all: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .chain(OPTIONAL.iter().map(|(id, _)| *id))
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    let mut expected = all.clone();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "the report's contenders");
    let available = |id: &str| {
        let c = contenders.iter().find(|c| string(c, "id") == id).unwrap();
        field(c, "unavailable").is_null()
    };
    for c in contenders {
        let id = string(c, "id");
        let reason = field(c, "unavailable");
        if reason.is_null() {
            assert!(!string(c, "version").is_empty(), "{id} has no version");
            continue;
        }
        if impossible(id) {
            assert!(
                reason
                    .as_str()
                    .is_some_and(|r| r.contains("system backend")),
                "{id}: {reason}"
            );
            continue;
        }
        match OPTIONAL.iter().find(|(o, _)| *o == id) {
            None => panic!("contender {id} unavailable ({reason}): it needs only a C compiler"),
            Some((_, package)) => {
                assert!(
                    reason.as_str().is_some_and(|r| r.contains(package)),
                    "{id} unavailable without naming {package}: {reason}"
                );
                println!("optional contender {id} not measured: {reason}");
            }
        }
    }
    let measured: Vec<&str> = all.iter().copied().filter(|id| available(id)).collect();

    // The optional workload runs, or the report says which package it needs.
    let unavailable = field(&doc, "unavailable_workloads").as_array().unwrap();
    let workloads: Vec<&str> = field(&doc, "workloads")
        .as_array()
        .unwrap()
        .iter()
        .map(|w| string(w, "id"))
        .collect();
    for w in WORKLOADS {
        assert!(workloads.contains(w), "workload {w} missing: {workloads:?}");
    }
    let (optional, package) = OPTIONAL_WORKLOAD;
    for u in unavailable {
        assert_eq!(
            string(u, "id"),
            optional,
            "a required workload is unavailable: {u}"
        );
        assert!(string(u, "reason").contains(package), "{u}");
        println!(
            "optional workload {optional} not run: {}",
            string(u, "reason")
        );
    }
    assert_eq!(
        workloads.contains(&optional),
        unavailable.is_empty(),
        "{optional} is either run or reported unavailable: {workloads:?}, {unavailable:?}"
    );

    // One run per (contender, workload, repetition); graphbit-alloc's all
    // pass their checks; the same seed gives every contender the same
    // checksum.
    let runs = field(&doc, "runs").as_array().unwrap();
    let reps = number(&doc, "repetitions") as usize;
    assert_eq!(runs.len(), measured.len() * workloads.len() * reps);
    for r in runs {
        let contender = string(r, "contender");
        assert!(
            measured.contains(&contender),
            "a run of an unavailable contender: {r}"
        );
        assert!(workloads.contains(&string(r, "workload")), "{r}");
        let ok = field(r, "error").is_null();
        if contender.starts_with("gb-") {
            assert!(ok, "graphbit-alloc run failed: {r}");
        }
        if !ok {
            assert!(
                field(r, "error").is_string(),
                "failed run without a reason: {r}"
            );
            continue;
        }
        assert!(number(r, "ops") > 0.0 && number(r, "seconds") > 0.0, "{r}");
        assert!(number(r, "peak_rss_kib") > 0.0, "{r}");
        let footprint = ["fragmentation", "burst-idle"].contains(&string(r, "workload"));
        if footprint && contender.starts_with("gb-") {
            assert!(number(r, "rss_end_kib") > 0.0, "{r}");
            assert!(
                number(r, "rss_trim_kib") > 0.0,
                "gb_trim was not measured: {r}"
            );
        }
        let same = runs.iter().filter(|o| {
            field(o, "error").is_null()
                && string(o, "workload") == string(r, "workload")
                && field(o, "repetition") == field(r, "repetition")
        });
        for o in same {
            assert_eq!(string(o, "checksum"), string(r, "checksum"), "{r} vs {o}");
        }
    }

    // Medians, ratios and verdicts are there.
    let summary = field(&doc, "summary").as_array().unwrap();
    assert_eq!(summary.len(), measured.len() * workloads.len());
    let ratios = field(&doc, "ratios").as_array().unwrap();
    for w in &workloads {
        for baseline in ["system", backend()] {
            // A third-party allocator may fail a workload's checks (Debian's
            // mimalloc 2.0.9 returns under-aligned blocks); then there is no
            // ratio against it.
            let baseline_ran = runs.iter().any(|r| {
                string(r, "contender") == baseline
                    && string(r, "workload") == *w
                    && field(r, "error").is_null()
            });
            if !baseline_ran {
                continue;
            }
            let r = ratios
                .iter()
                .find(|r| {
                    string(r, "workload") == *w
                        && string(r, "contender") == "gb-shared"
                        && string(r, "baseline") == baseline
                })
                .unwrap_or_else(|| panic!("no gb-shared/{baseline} ratio for {w}"));
            assert!(
                number(r, "speed") > 0.0 && number(r, "peak_rss") > 0.0,
                "{r}"
            );
        }
    }
    // A verdict for every graphbit-alloc contender against the system
    // allocator, over every workload both ran; none names an internal target.
    let verdicts = field(&doc, "verdicts").as_array().unwrap();
    for gb in measured.iter().filter(|id| id.starts_with("gb-")) {
        let v = verdicts
            .iter()
            .find(|v| string(v, "contender") == *gb && string(v, "baseline") == "system")
            .unwrap_or_else(|| panic!("no verdict on {gb} against system"));
        let k = number(v, "workloads");
        assert!(k >= 1.0 && k <= workloads.len() as f64, "{v}");
        assert!(number(v, "faster_on") <= k, "{v}");
        assert!(number(v, "speed_geomean") > 0.0, "{v}");
        assert!(number(v, "peak_rss_geomean") > 0.0, "{v}");
        assert_eq!(
            field(v, "not_faster_on").as_array().unwrap().len() as f64,
            k - number(v, "faster_on"),
            "{v}"
        );
    }
    assert!(
        stdout.contains("gb-shared is faster than system on "),
        "no verdict sentence in the table:\n{stdout}"
    );
    for internal in ["Target", "claim", "HOLD"] {
        assert!(
            !stdout.contains(internal),
            "{internal:?} in the table:\n{stdout}"
        );
    }

    let svg = std::fs::read_to_string(&svg_path).expect("gb-bench --plot writes the chart");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("speed vs system") && svg.contains("peak RSS vs system"));
    assert!(svg.matches("<rect").count() > workloads.len());

    // The table and the chart come from the data: `gb-bench report` of the
    // JSON prints the same table and writes the same chart.
    let again = dir.join("again.svg");
    let report = gb_bench()
        .arg("report")
        .arg(&json_path)
        .arg("--plot")
        .arg(&again)
        .output()
        .expect("run gb-bench report");
    assert!(report.status.success(), "{report:?}");
    assert_eq!(String::from_utf8_lossy(&report.stdout), stdout);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), svg);
}

#[test]
fn missing_library_is_a_clear_error() {
    let out = gb_bench()
        .args(["--smoke", "--lib-dir", "/nonexistent-gb-bench-dir"])
        .output()
        .expect("run gb-bench");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("libgraphbit_alloc.so") && stderr.contains("cargo build --release"),
        "{stderr}"
    );
}

#[test]
fn bad_option_is_refused() {
    let out = gb_bench().arg("--fastest").output().expect("run gb-bench");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--fastest'"));
    // --help on the command and on each subcommand, and --version.
    for (args, expect) in [
        (&["--help"][..], "--quick"),
        (&["run", "--help"], "--allocators"),
        (&["report", "--help"], "FILE.json"),
        (&["--version"], env!("CARGO_PKG_VERSION")),
    ] {
        let help = gb_bench().args(args).output().expect("run gb-bench");
        assert!(help.status.success(), "{args:?}: {help:?}");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains(expect),
            "{args:?}: {help:?}"
        );
    }
    // Bad input is refused at once, before any variant is built.
    for (args, expect) in [
        (&["--workloads", "nosuch"][..], "unknown id \"nosuch\""),
        (&["--contenders", "gb-shared,glibc"], "unknown id \"glibc\""),
        (&["run", "--", "/nonexistent"], "/nonexistent: no such file"),
        (&["run", "--", "no-such-program-here"], "not found on PATH"),
        (
            &["run", "--allocators", "nosuch", "--", "true"],
            "unknown allocator",
        ),
        (
            &["run", "--lib-dir", "/nonexistent", "--", "true"],
            "--lib-dir",
        ),
        (&["report", "--help-me"], "unexpected argument"),
    ] {
        let started = std::time::Instant::now();
        let out = gb_bench().args(args).output().expect("run gb-bench");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("building"), "{args:?}: {stderr}");
        assert!(started.elapsed().as_secs() < 10, "{args:?}");
    }
    // `report` reads only gb-bench's own schemas.
    let other = out_dir().join("other.json");
    std::fs::write(&other, r#"{"schema": "something/1"}"#).unwrap();
    let out = gb_bench().arg("report").arg(&other).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gb-bench/3"));
}

/// `gb-bench run -- CMD`: every allocator runs the command; one that makes
/// it end differently from glibc is reported as failed and fails the run.
#[test]
fn run_measures_a_command_and_catches_a_different_exit() {
    let json = out_dir().join("run.json");
    let svg = out_dir().join("run.svg");
    let out = gb_bench()
        .args(["run", "--reps", "2", "--json"])
        .arg(&json)
        .arg("--plot")
        .arg(&svg)
        .args(["--", "/bin/sh", "-c", "exit 3"])
        .output()
        .expect("run gb-bench run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("glibc") && stdout.contains("exit status: 3"),
        "{stdout}"
    );
    if backend() != "system" {
        assert!(stdout.contains("gb-override"), "{stdout}");
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let allocators = doc["allocators"].as_array().unwrap();
    assert!(allocators
        .iter()
        .all(|a| a["exited_as_glibc"] == Value::Bool(true)));
    assert!(allocators
        .iter()
        .all(|a| a["wall_seconds"].as_array().unwrap().len() == 2));
    let chart = std::fs::read_to_string(&svg).expect("gb-bench run --plot writes the chart");
    assert!(chart.contains("wall time vs glibc") && chart.contains("peak RSS vs glibc"));
    // One bar per allocator but glibc, in each of the two panels.
    assert_eq!(
        chart.matches("<rect x=").count() - (allocators.len() - 1),
        2 * (allocators.len() - 1),
        "{chart}"
    );
    let report = gb_bench()
        .arg("report")
        .arg(&json)
        .output()
        .expect("run gb-bench report");
    assert!(report.status.success(), "{report:?}");
    assert_eq!(String::from_utf8_lossy(&report.stdout), stdout);

    // Exits 0 without a preload, 1 with one: every preload fails.
    let out = gb_bench()
        .args([
            "run",
            "--reps",
            "1",
            "--",
            "/bin/sh",
            "-c",
            "test -z \"$LD_PRELOAD\"",
        ])
        .output()
        .expect("run gb-bench run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
}
