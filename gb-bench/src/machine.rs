//! The machine's description: CPU, cores, memory, kernel, OS, libc.

use std::ffi::CStr;

use crate::json::Value;

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

pub fn cpu_model() -> String {
    proc_field(&read("/proc/cpuinfo"), "model name").unwrap_or_else(|| "unknown".into())
}

pub fn kernel() -> String {
    read("/proc/sys/kernel/osrelease").trim().to_string()
}

pub fn os() -> String {
    read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn memory_kib() -> Option<f64> {
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

pub fn libc_version() -> String {
    // SAFETY: glibc returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(libc::gnu_get_libc_version()) };
    format!("glibc {}", v.to_string_lossy())
}

/// One line for the table's header.
pub fn one_line() -> String {
    format!(
        "{} · {} CPUs · {:.0} GiB · Linux {} · {} · {}",
        cpu_model(),
        cpus(),
        memory_kib().unwrap_or(0.0) / 1048576.0,
        kernel(),
        os(),
        libc_version()
    )
}

pub fn describe(compiler: &str) -> Value {
    let logical = read("/proc/cpuinfo")
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    Value::obj(vec![
        ("cpu_model", Value::str(cpu_model())),
        ("logical_cpus", Value::Int(logical as i64)),
        ("available_parallelism", Value::Int(cpus() as i64)),
        ("memory_total_kib", Value::opt_num(memory_kib())),
        ("kernel", Value::str(kernel())),
        ("os", Value::str(os())),
        ("libc", Value::str(libc_version())),
        ("c_compiler", Value::str(compiler)),
        ("arch", Value::str(std::env::consts::ARCH)),
    ])
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
