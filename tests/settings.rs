//! The backend's built-in tuning (issue 7) is what the library runs with, and
//! the backend's run-time variable still overrides it. Read back through
//! `gb_verify_report` ("build" -> "settings"), as `gb-info --json` prints it.

use std::process::Command;

/// The settings line of the library's report, in a process whose
/// environment has the backend's variables removed and `vars` added.
fn settings(vars: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gb-info"));
    cmd.arg("--json");
    for (name, _) in std::env::vars() {
        if name == "_RJEM_MALLOC_CONF" || name.starts_with("MIMALLOC_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(vars.iter().copied());
    let out = cmd.output().expect("run gb-info");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("gb-info --json printed no JSON ({e}):\n{stdout}"));
    report["build"]["settings"]
        .as_str()
        .unwrap_or_else(|| panic!("no build.settings in {report}"))
        .to_string()
}

/// Asserts that every `key:value` pair is in the "in effect: ..." part.
fn assert_in_effect<'a>(settings: &str, pairs: impl IntoIterator<Item = &'a str>) {
    let list = settings
        .strip_prefix("in effect: ")
        .and_then(|s| s.split(';').next())
        .unwrap_or_else(|| panic!("unexpected settings format: {settings}"));
    for pair in pairs {
        assert!(
            list.split(',').any(|e| e == pair),
            "{pair} is not in effect: {settings}"
        );
    }
}

/// The value of `JEMALLOC_SYS_WITH_MALLOC_CONF` in .cargo/config.toml.
fn configured_malloc_conf() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.cargo/config.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("JEMALLOC_SYS_WITH_MALLOC_CONF"))
        .expect("JEMALLOC_SYS_WITH_MALLOC_CONF in .cargo/config.toml");
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn jemalloc_runs_with_the_configured_defaults() {
    if env!("GB_BACKEND") != "jemalloc" {
        return;
    }
    let conf = configured_malloc_conf();
    let s = settings(&[]);
    assert!(
        s.contains(&format!("built in: \"{conf}\"")),
        "jemalloc was not built with .cargo/config.toml's malloc_conf {conf:?}: {s}"
    );
    assert_in_effect(&s, conf.split(','));
}

#[test]
fn jemalloc_run_time_variable_overrides_the_defaults() {
    if env!("GB_BACKEND") != "jemalloc" {
        return;
    }
    let s = settings(&[(
        "_RJEM_MALLOC_CONF",
        "background_thread:false,oversize_threshold:8388608,dirty_decay_ms:5000",
    )]);
    assert_in_effect(
        &s,
        [
            "background_thread:false",
            "oversize_threshold:8388608",
            "dirty_decay_ms:5000",
        ],
    );
}

#[test]
fn mimalloc_options_come_from_its_variables() {
    if env!("GB_BACKEND") != "mimalloc" {
        return;
    }
    // mimalloc 3's default purge delay, then the variable's value: also
    // checks that the option numbers in src/backend/mimalloc.rs are right.
    let s = settings(&[]);
    assert_in_effect(&s, ["purge_delay:1000"]);
    let s = settings(&[("MIMALLOC_PURGE_DELAY", "250"), ("MIMALLOC_ALLOW_THP", "0")]);
    assert_in_effect(&s, ["purge_delay:250", "allow_thp:0"]);
}
