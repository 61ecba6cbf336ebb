//! The heap profiler (Cargo feature `profiling`): runs tests/profile.sh,
//! which builds the profiling variants with this build's backend and reads
//! their profiles with `go tool pprof` (it says SKIP and passes when `go` is
//! not installed: `apt-get install golang-go`, or tests/cmake/install-deps.sh).

mod common;

use common::*;
use std::process::Command;

#[test]
fn profiles_attribute_live_and_peak_bytes() {
    let mut command = Command::new("bash");
    command
        .arg(crate_dir().join("tests/profile.sh"))
        .args(["--no-default-features", "--features"])
        .arg(format!("backend-{BACKEND}"));
    let out = run_ok(&mut command);
    let log = String::from_utf8_lossy(&out.stdout);
    eprint!("{log}");
    assert!(
        log.contains("profile.sh: all passed") || log.starts_with("SKIP: go not found"),
        "tests/profile.sh did not finish"
    );
}
