//! The redis program: redis-server under the contender's preload, driven
//! by redis-benchmark, spoken to through the RESP client (resp.rs).

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::catalogue::{REDIS_CHECK_KEYS, REDIS_TESTS};
use super::process::{tail, Measured};
use super::Program;
use crate::command::{self, Allocator};
use crate::resp::{args, Redis, Reply};

/// The value of check key `i`: sizes from 12 B to over 500 B.
fn check_value(i: usize) -> Vec<u8> {
    let mut v = format!("gb-check-{i}-").into_bytes();
    v.resize(v.len() + i * 37 % 500, b'a' + (i % 26) as u8);
    v
}

/// Whether process `pid`, our child, has exited (without reaping it).
fn exited(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: our own child; WNOWAIT leaves it to be reaped by wait4.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: waitid filled in info (si_pid 0 when the child still runs).
    rc != 0 || unsafe { info.si_pid() } != 0
}

/// The server, killed when dropped before it was stopped.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A "VmXXX:  N kB" line of /proc/PID/status.
fn proc_status_kib(pid: u32, key: &str) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// redis-server under the contender's preload: started on a free loopback
/// port, check keys written, redis-benchmark's load, the check keys read
/// back, its RSS read, then stopped (SHUTDOWN NOSAVE).
pub(super) fn run_redis(p: &Program, c: &Allocator, dir: &Path) -> Result<Measured, String> {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    let log = dir.join(format!("redis-{}.log", c.id));
    let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&p.exe);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--logfile", "", "--dir"])
        .arg(dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(lib) = &c.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", p.exe.display()))?;
    let pid = child.id();
    let mut server = Server(Some(child));
    let failed = |what: String| format!("{what} (server log: {})", tail(&log));

    // Ready when it answers PING.
    let mut conn = loop {
        if exited(pid) {
            return Err(failed("redis-server exited at start-up".into()));
        }
        match Redis::connect(port).and_then(|mut r| {
            r.send(&[args(&[b"PING"])]).map_err(std::io::Error::other)?;
            r.reply()
                .map(|reply| (r, reply))
                .map_err(std::io::Error::other)
        }) {
            Ok((r, Reply::Status(s))) if s == "PONG" => break r,
            Ok((_, reply)) if start.elapsed() > Duration::from_secs(20) => {
                return Err(failed(format!("redis-server answers PING with {reply:?}")))
            }
            Err(e) if start.elapsed() > Duration::from_secs(20) => {
                return Err(failed(format!("redis-server not ready after 20 s: {e}")))
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let keys: Vec<Vec<u8>> = (0..REDIS_CHECK_KEYS)
        .map(|i| format!("gb-check:{i}").into_bytes())
        .collect();
    let sets: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| args(&[b"SET", k, &check_value(i)]))
        .collect();
    for reply in conn.call(&sets).map_err(&failed)? {
        if reply != Reply::Status("OK".into()) {
            return Err(failed(format!("SET answered {reply:?}")));
        }
    }

    // The load, with a deadline.
    let n = p.info.size.to_string();
    let port_arg = port.to_string();
    let load_start = Instant::now();
    let mut generator = Command::new(&p.load_generator)
        .args(["-h", "127.0.0.1", "-p", &port_arg, "-n", &n, "-r", "100000"])
        .args([
            "-c",
            "16",
            "-P",
            "16",
            "-d",
            "100",
            "-t",
            REDIS_TESTS,
            "--csv",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", p.load_generator.display()))?;
    let deadline = Duration::from_secs(120) + Duration::from_secs_f64(p.info.size as f64 / 1000.0);
    loop {
        match generator.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if load_start.elapsed() > deadline => {
                let _ = generator.kill();
                let _ = generator.wait();
                return Err(failed(format!(
                    "redis-benchmark still running after {} s",
                    deadline.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("redis-benchmark: {e}")),
        }
    }
    let wall = load_start.elapsed().as_secs_f64();
    let output = generator
        .wait_with_output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let csv = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(failed(format!(
            "redis-benchmark {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    // "test","rps",...: every test ran n requests.
    let rates: Vec<f64> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .filter_map(|v| v.trim_matches('"').parse::<f64>().ok())
        .filter(|r| *r > 0.0)
        .collect();
    let tests = REDIS_TESTS.split(',').count();
    if rates.len() != tests {
        return Err(failed(format!(
            "redis-benchmark reported {} of {tests} tests: {csv:?}",
            rates.len()
        )));
    }
    let requests_per_second = (tests as f64 * p.info.size as f64)
        / rates.iter().map(|r| p.info.size as f64 / r).sum::<f64>();

    // The check keys, read back.
    let gets: Vec<Vec<Vec<u8>>> = keys.iter().map(|k| args(&[b"GET", k])).collect();
    let replies = conn.call(&gets).map_err(&failed)?;
    let intact = replies
        .iter()
        .enumerate()
        .filter(|(i, r)| **r == Reply::Bulk(Some(check_value(*i))))
        .count();
    let peak_rss_kib = proc_status_kib(pid, "VmHWM").unwrap_or(f64::NAN);
    let end_rss_kib = proc_status_kib(pid, "VmRSS");

    // Stopped: SHUTDOWN closes the connection without a reply.
    conn.send(&[args(&[b"SHUTDOWN", b"NOSAVE"])])?;
    match conn.reply() {
        Err(_) => {}
        Ok(reply) => return Err(failed(format!("SHUTDOWN answered {reply:?}"))),
    }
    let stopping = Instant::now();
    while !exited(pid) {
        if stopping.elapsed() > Duration::from_secs(20) {
            return Err(failed(
                "redis-server still running 20 s after SHUTDOWN".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let child = server.0.take().expect("the server is running");
    let sample = command::wait_measured(child, start)?;
    if !sample.status.success() {
        return Err(failed(format!("redis-server {}", sample.status)));
    }
    Ok(Measured {
        wall,
        cpu: sample.cpu,
        peak_rss_kib,
        end_rss_kib,
        requests_per_second: Some(requests_per_second),
        result: format!("{intact} check keys intact"),
    })
}
