//! The machine's description: CPU, cores, memory, kernel, OS, libc.

use std::ffi::CStr;

use serde::{Deserialize, Serialize};

/// The machine a report was measured on. Part of both reports (`machine`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub logical_cpus: usize,
    /// CPUs this process could use.
    pub available_parallelism: usize,
    pub memory_total_kib: Option<f64>,
    pub kernel: String,
    pub os: String,
    pub libc: String,
    /// The first line of `cc --version` (empty where no driver is compiled).
    pub c_compiler: String,
    pub arch: String,
}

/// CPUs this process may use.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The value of the first `key : value` line in a /proc file.
fn proc_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn cpu_model() -> String {
    proc_field(&read("/proc/cpuinfo"), "model name").unwrap_or_else(|| "unknown".into())
}

fn kernel() -> String {
    read("/proc/sys/kernel/osrelease").trim().to_string()
}

fn os() -> String {
    read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn memory_kib() -> Option<f64> {
    proc_field(&read("/proc/meminfo"), "MemTotal")
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn libc_version() -> String {
    // SAFETY: glibc returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(libc::gnu_get_libc_version()) };
    format!("glibc {}", v.to_string_lossy())
}

impl Machine {
    /// This machine; `compiler` is the C compiler's version line.
    pub fn describe(compiler: &str) -> Machine {
        let logical = read("/proc/cpuinfo")
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        Machine {
            cpu_model: cpu_model(),
            logical_cpus: logical,
            available_parallelism: cpus(),
            memory_total_kib: memory_kib(),
            kernel: kernel(),
            os: os(),
            libc: libc_version(),
            c_compiler: compiler.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }

    /// One line for a table's header or a chart's subtitle.
    pub fn one_line(&self) -> String {
        format!(
            "{} · {} CPUs · {:.0} GiB · Linux {} · {} · {}",
            self.cpu_model,
            self.available_parallelism,
            self.memory_total_kib.unwrap_or(0.0) / 1048576.0,
            self.kernel,
            self.os,
            self.libc
        )
    }
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
