//! The backend's built-in tuning is what the library runs with, and
//! the backend's run-time variable still overrides it. Read back as
//! `gb-info --json` prints it (`build.settings_in_effect`, name: value), in a
//! process whose environment the test controls.
//!
//! The backend-specific cases are ignored, with the reason, on the other
//! backends: build.rs's `cfg(gb_backend = "...")` applies to this target too
//! (cargo passes a build script's `rustc-cfg` to every target of the
//! package).

use std::process::Command;

use graphbit_alloc::diagnostics;
use serde_json::{Map, Value};

/// `gb-info --json`'s report, in a process whose environment has the
/// backend's variables removed and `vars` added.
fn report(vars: &[(&str, &str)]) -> Value {
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
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("gb-info --json printed no JSON ({e}):\n{stdout}"))
}

/// The settings in effect, name -> value.
fn in_effect(report: &Value) -> &Map<String, Value> {
    report["build"]["settings_in_effect"]
        .as_object()
        .unwrap_or_else(|| panic!("no build.settings_in_effect in {report}"))
}

/// Asserts that every `name:value` pair (jemalloc's option syntax) is in
/// effect.
fn assert_in_effect<'a>(report: &Value, pairs: impl IntoIterator<Item = &'a str>) {
    let settings = in_effect(report);
    for pair in pairs {
        let (name, value) = pair.split_once(':').expect("name:value");
        let actual = settings
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not reported: {settings:?}"));
        // A word (percpu_arena's mode) is a JSON string; numbers and flags are not.
        let actual = actual
            .as_str()
            .map_or_else(|| actual.to_string(), str::to_string);
        assert_eq!(actual, value, "{name}: {settings:?}");
    }
}

/// The options string of `_rjem_malloc_conf` in src/backend/jemalloc_conf.c
/// (its C string literals, joined).
#[cfg(gb_backend = "jemalloc")]
fn configured_malloc_conf() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/backend/jemalloc_conf.c");
    let text = std::fs::read_to_string(path).unwrap();
    let definition = text
        .split("_rjem_malloc_conf =")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("_rjem_malloc_conf = \"...\"; in src/backend/jemalloc_conf.c");
    definition
        .split('"')
        .skip(1)
        .step_by(2) // the literals, not the whitespace between them
        .collect()
}

/// Every backend: the report lists the settings the library's own structs
/// list, under the same names, and the one-line text agrees with them.
#[test]
fn report_lists_the_backends_settings() {
    let build = diagnostics::build();
    let report = report(&[]);
    let settings = in_effect(&report);
    let mut names: Vec<&str> = build.settings.in_effect().iter().map(|s| s.name).collect();
    names.sort_unstable(); // serde_json's map is sorted by name
    assert_eq!(
        settings.keys().map(String::as_str).collect::<Vec<_>>(),
        names,
        "gb-info's settings are the library's"
    );
    assert_eq!(
        report["build"]["settings_override"],
        build.settings.run_time_override
    );
    assert!(report["build"]["settings"].is_string());
}

#[test]
#[cfg_attr(not(gb_backend = "jemalloc"), ignore = "jemalloc backend only")]
fn jemalloc_runs_with_the_configured_defaults() {
    #[cfg(gb_backend = "jemalloc")]
    {
        let conf = configured_malloc_conf();
        let report = report(&[]);
        assert_eq!(
            report["build"]["settings_built_in"], conf,
            "jemalloc was not built with src/backend/jemalloc_conf.c's options"
        );
        assert_in_effect(&report, conf.split(','));
        // The struct says the same in this process, unless the environment
        // that runs the tests overrides jemalloc's options.
        if std::env::var_os("_RJEM_MALLOC_CONF").is_none() {
            let build = diagnostics::build();
            for pair in conf.split(',') {
                let (name, value) = pair.split_once(':').unwrap();
                let actual = build.settings.get(name).map(|v| v.to_string());
                assert_eq!(actual.as_deref(), Some(value), "{name}");
            }
        }
    }
}

/// jemalloc's safety check is compiled in exactly when the build's `CPPFLAGS`
/// define it (tikv-jemalloc-sys passes them to jemalloc's configure, the
/// target's own variable first; `.cargo/config.toml` sets the plain one in
/// this repository), and the report says which.
#[test]
#[cfg_attr(not(gb_backend = "jemalloc"), ignore = "jemalloc backend only")]
fn jemalloc_safety_check_follows_cppflags() {
    let target = env!("GB_TARGET").to_uppercase().replace('-', "_");
    let cppflags = std::env::var(format!("{target}_CPPFLAGS"))
        .or_else(|_| std::env::var("CPPFLAGS"))
        .unwrap_or_default();
    let defined = cppflags
        .split_whitespace()
        .any(|flag| flag == "-DJEMALLOC_OPT_SAFETY_CHECKS");
    let expected = format!("opt_safety_checks:{defined}");
    assert_in_effect(&report(&[]), [expected.as_str()]);
}

#[test]
#[cfg_attr(not(gb_backend = "jemalloc"), ignore = "jemalloc backend only")]
fn jemalloc_run_time_variable_overrides_the_defaults() {
    let report = report(&[(
        "_RJEM_MALLOC_CONF",
        "background_thread:false,oversize_threshold:8388608,dirty_decay_ms:5000",
    )]);
    assert_in_effect(
        &report,
        [
            "background_thread:false",
            "oversize_threshold:8388608",
            "dirty_decay_ms:5000",
        ],
    );
}

#[test]
#[cfg_attr(not(gb_backend = "mimalloc"), ignore = "mimalloc backend only")]
fn mimalloc_options_come_from_its_variables() {
    // mimalloc 3's default purge delay, then the variable's value: also
    // checks that the option numbers in src/backend/mimalloc.rs are right.
    assert_in_effect(&report(&[]), ["purge_delay:1000"]);
    let report = report(&[("MIMALLOC_PURGE_DELAY", "250"), ("MIMALLOC_ALLOW_THP", "0")]);
    assert_in_effect(&report, ["purge_delay:250", "allow_thp:0"]);
}

#[test]
#[cfg_attr(not(gb_backend = "system"), ignore = "system backend only")]
fn system_backend_has_no_settings_of_its_own() {
    let report = report(&[]);
    assert!(in_effect(&report).is_empty(), "{report}");
    assert_eq!(report["build"]["settings_built_in"], "the C library's own");
}
