//! `GB_STATS_AT_EXIT=1`: a short summary on stderr when the process exits
//! (or when a `dlopen`-ed copy of the library is unloaded), so that a user
//! can see the allocator at work in their own program without writing code:
//!
//! ```text
//! graphbit-alloc 0.1.0 (pid 4242): jemalloc 5.3.0-..., whole-process override: active
//!   process resident: now 12.3 MiB, peak 45.6 MiB
//!   backend: allocated 1.2 MiB, active 1.5 MiB, resident 3.0 MiB, mapped 10.0 MiB, retained 2.0 MiB
//!   allocations: 123456
//! ```
//!
//! The function is an ELF destructor (`.fini_array`), so it runs after
//! `main` returns or `exit` is called, not after `_exit` or a fatal signal.
//! It reads the variable then, not at start-up, so a host's `setenv` before
//! exit counts; with `secure_getenv`, so a set-user-ID program ignores it. It writes with `write(2)` from a stack buffer: nothing is
//! allocated, and a failed write is ignored. A forked child that calls
//! `exit` prints its own summary (the pid tells them apart).

use core::ffi::CStr;
use core::fmt::{self, Display, Write};

use crate::backend;
use crate::diagnostics::{self, CountingWriter};

#[used]
#[link_section = ".fini_array"]
static AT_EXIT: extern "C" fn() = at_exit;

extern "C" fn at_exit() {
    // SAFETY: a NUL-terminated name; neither function allocates.
    let value = unsafe { getenv_unless_setuid(c"GB_STATS_AT_EXIT".as_ptr()) };
    // SAFETY: getenv returns NULL or a NUL-terminated string.
    if value.is_null() || unsafe { CStr::from_ptr(value) }.to_bytes() != b"1" {
        return;
    }
    let mut buf = [0u8; 1024];
    // SAFETY: buf is 1024 bytes, alive for the writer's use.
    let mut out = unsafe { CountingWriter::new(buf.as_mut_ptr(), buf.len()) };
    let _ = summary(&mut out);
    let len = out.finish();
    if len < buf.len() {
        // SAFETY: the first `len` bytes of buf are the text.
        unsafe { libc::write(2, buf.as_ptr().cast(), len) };
    }
}

/// `secure_getenv` where the C library has it (glibc): NULL in a set-user-ID
/// or otherwise privileged process, whose environment is not trusted.
#[cfg(target_env = "gnu")]
pub(crate) unsafe fn getenv_unless_setuid(name: *const libc::c_char) -> *mut libc::c_char {
    extern "C" {
        fn secure_getenv(name: *const libc::c_char) -> *mut libc::c_char;
    }
    // SAFETY: the caller's NUL-terminated name.
    unsafe { secure_getenv(name) }
}

#[cfg(not(target_env = "gnu"))]
pub(crate) unsafe fn getenv_unless_setuid(name: *const libc::c_char) -> *mut libc::c_char {
    // SAFETY: the caller's NUL-terminated name.
    unsafe { libc::getenv(name) }
}

/// The summary's text (see the module comment).
fn summary(out: &mut dyn Write) -> fmt::Result {
    let version = backend::version();
    write!(
        out,
        "graphbit-alloc {} (pid {}): {} {}, whole-process override: {}\n",
        env!("CARGO_PKG_VERSION"),
        // SAFETY: no preconditions.
        unsafe { libc::getpid() },
        diagnostics::backend_name(),
        diagnostics::Lossy(version),
        override_state(),
    )?;
    let now = current_resident();
    // The kernel updates the peak from its counters lazily: it can read a
    // little below the current figure, which is then the peak.
    let peak = crate::ffi::peak_resident_bytes().map(|peak| peak.max(now.unwrap_or(0)));
    write!(
        out,
        "  process resident: now {}, peak {}\n",
        Bytes(now),
        Bytes(peak)
    )?;
    let stats = backend::stats();
    write!(
        out,
        "  backend: allocated {}, active {}, resident {}, mapped {}, retained {}\n",
        Bytes(stats.allocated),
        Bytes(stats.active),
        Bytes(stats.resident),
        Bytes(stats.mapped),
        Bytes(stats.retained),
    )?;
    match stats.allocations {
        Some(count) => write!(out, "  allocations: {count}\n"),
        None => write!(
            out,
            "  allocations: not counted by {}\n",
            diagnostics::backend_name()
        ),
    }
}

/// "active" when the process's `malloc` is this library's (the same check
/// as `gb_verify`'s `host_malloc_captured`), "NOT active (...)" when this
/// override build does not serve it, "no" for the prefixed library.
fn override_state() -> &'static str {
    #[cfg(feature = "override")]
    {
        if crate::verify::host_malloc_is_ours() {
            "active"
        } else {
            "NOT active (loaded after start-up? preload it or link it first)"
        }
    }
    #[cfg(not(feature = "override"))]
    "no (prefixed gb_* library)"
}

/// The process's resident set size now (`/proc/self/statm`), read into a
/// stack buffer.
fn current_resident() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a NUL-terminated path; the descriptor is closed below.
        let fd = unsafe {
            libc::open(
                c"/proc/self/statm".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        let mut text = [0u8; 128];
        // SAFETY: text has room for text.len() bytes.
        let n = unsafe { libc::read(fd, text.as_mut_ptr().cast(), text.len()) };
        // SAFETY: fd is open.
        unsafe { libc::close(fd) };
        let text = text.get(..usize::try_from(n).ok()?)?;
        // "size resident shared ...", in pages.
        let resident = text.split(|&b| b == b' ').nth(1)?;
        let pages = core::str::from_utf8(resident).ok()?.parse::<u64>().ok()?;
        // SAFETY: no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages * u64::try_from(page).ok()?)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// A byte count as "12.3 MiB" ("n/a" where the figure is not kept).
struct Bytes(Option<u64>);

impl Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("n/a"),
            Some(b) if b < 1 << 20 => write!(f, "{:.1} KiB", b as f64 / 1024.0),
            Some(b) => write!(f, "{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_the_backend_and_has_every_line() {
        let mut text = String::new();
        summary(&mut text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("graphbit-alloc "), "{text}");
        assert!(lines[0].contains(diagnostics::backend_name()), "{text}");
        assert!(
            lines[1].starts_with("  process resident: now ") && !lines[1].contains("n/a"),
            "{text}"
        );
        assert!(lines[3].starts_with("  allocations: "), "{text}");
    }

    #[test]
    fn bytes_are_readable() {
        assert_eq!(Bytes(Some(1536)).to_string(), "1.5 KiB");
        assert_eq!(Bytes(Some(3 << 20)).to_string(), "3.0 MiB");
        assert_eq!(Bytes(None).to_string(), "n/a");
    }
}
