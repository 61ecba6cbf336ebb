//! glibc's own extensions (`malloc_trim`, `mallinfo`, `mallopt`,
//! `malloc_stats`, `malloc_info`), answered from the backend's statistics.

use core::ffi::c_int;
use core::fmt::Write as _;

use crate::backend::Backend;
use crate::diagnostics::Text;
use crate::sys;
// The checked and hardened overrides' statistics count their guarded blocks
// too.
use crate::Allocator as Selected;

/// The backend's figures in bytes, 0 where it keeps none: (in use, held
/// from the system).
fn usage() -> (u64, u64) {
    let stats = Selected::stats();
    let in_use = stats.allocated.or(stats.active).unwrap_or(0);
    let system = stats
        .mapped
        .or(stats.resident)
        .unwrap_or(0)
        .max(stats.active.unwrap_or(0))
        .max(in_use);
    (in_use, system)
}

/// `malloc_trim(3)`: gives the backend's unused memory back to the system
/// (`gb_trim`: jemalloc purges every arena, mimalloc collects). Returns 1 if
/// the backend's resident memory (mimalloc: committed memory) went down, 0
/// if it did not. `pad` is ignored: the backend keeps no top-of-heap slack to
/// pad.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: usize) -> c_int {
    // mimalloc reports no resident figure: its committed memory instead.
    let held = || {
        let stats = Selected::stats();
        stats.resident.or(stats.active)
    };
    let before = held();
    let rc = Selected::trim();
    let after = held();
    match (before, after) {
        (Some(before), Some(after)) if rc == 0 => c_int::from(after < before),
        _ => 0,
    }
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
#[derive(Default)]
pub struct Mallinfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

/// glibc's `struct mallinfo` (the `int` fields of old).
#[repr(C)]
#[derive(Default)]
pub struct Mallinfo {
    arena: c_int,
    ordblks: c_int,
    smblks: c_int,
    hblks: c_int,
    hblkhd: c_int,
    usmblks: c_int,
    fsmblks: c_int,
    uordblks: c_int,
    fordblks: c_int,
    keepcost: c_int,
}

/// `mallinfo2(3)`, from the backend's statistics: `arena` is every byte the
/// backend holds from the system (its mapped memory), `uordblks` the bytes
/// in live blocks (jemalloc's `stats.allocated`; mimalloc's committed
/// memory), `fordblks` the difference; the fields that count glibc's own
/// structures (free chunks, fastbins, mmapped regions, top-of-heap) are 0.
/// So `uordblks + hblkhd` (in use) and `arena + hblkhd` (held), the sums
/// programs compute, are the backend's.
#[no_mangle]
pub extern "C" fn mallinfo2() -> Mallinfo2 {
    let (in_use, system) = usage();
    Mallinfo2 {
        arena: system as usize,
        uordblks: in_use as usize,
        fordblks: system.saturating_sub(in_use) as usize,
        ..Mallinfo2::default()
    }
}

/// `mallinfo(3)`: `mallinfo2` with each field saturated at `INT_MAX`
/// (glibc truncates them).
#[no_mangle]
pub extern "C" fn mallinfo() -> Mallinfo {
    let info = mallinfo2();
    let int = |v: usize| c_int::try_from(v).unwrap_or(c_int::MAX);
    Mallinfo {
        arena: int(info.arena),
        uordblks: int(info.uordblks),
        fordblks: int(info.fordblks),
        ..Mallinfo::default()
    }
}

/// `mallopt(3)`: glibc's tunables (arenas, mmap threshold, trim threshold,
/// ...) name glibc's own structures, which the backend does not have, so no
/// parameter is applied and each call returns 0, which glibc documents as
/// the error answer. The backend's settings are its own (`_RJEM_MALLOC_CONF`,
/// `MIMALLOC_*`).
#[no_mangle]
pub extern "C" fn mallopt(_param: c_int, _value: c_int) -> c_int {
    0
}

/// `malloc_stats(3)`: writes glibc's summary block to standard error, with
/// the backend's figures (as `mallinfo2`), after a line naming the backend.
#[no_mangle]
pub extern "C" fn malloc_stats() {
    let (in_use, system) = usage();
    let mut text = Text::<[u8; 512]>::new();
    let backend_version = Selected::version().to_str().unwrap_or("?");
    let _ = write!(
        text,
        concat!(
            "graphbit-alloc {} ({} {backend_version}):\n",
            "Total (incl. mmap):\n",
            "system bytes     = {system:10}\n",
            "in use bytes     = {in_use:10}\n",
            "max mmap regions = {:10}\n",
            "max mmap bytes   = {:10}\n",
        ),
        env!("CARGO_PKG_VERSION"),
        crate::diagnostics::backend_name(),
        0,
        0,
        backend_version = backend_version,
        system = system,
        in_use = in_use,
    );
    sys::write_stderr(text.as_bytes());
}

/// `malloc_info(3)`: `options` must be 0 (else it returns `EINVAL`, with
/// `errno` untouched, as glibc 2.36 does);
/// writes an XML document shaped as glibc's (`<malloc version="1">` with
/// `total`, `system` and `aspace` elements) from the backend's figures, plus
/// one `<backend>` element with the backend's own statistics.
#[no_mangle]
pub unsafe extern "C" fn malloc_info(options: c_int, stream: *mut libc::FILE) -> c_int {
    if options != 0 {
        return libc::EINVAL;
    }
    let (in_use, system) = usage();
    let stats = Selected::stats();
    let figure = |v: Option<u64>| v.map_or(-1i128, i128::from);
    let mut text = Text::<[u8; 1024]>::new();
    let _ = write!(
        text,
        concat!(
            "<malloc version=\"1\">\n",
            "<total type=\"fast\" count=\"0\" size=\"0\"/>\n",
            "<total type=\"rest\" count=\"0\" size=\"{free}\"/>\n",
            "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n",
            "<system type=\"current\" size=\"{system}\"/>\n",
            "<system type=\"max\" size=\"{system}\"/>\n",
            "<aspace type=\"total\" size=\"{system}\"/>\n",
            "<aspace type=\"mprotect\" size=\"{system}\"/>\n",
            "<backend name=\"{}\" version=\"{}\" in_use=\"{in_use}\" allocated=\"{}\" ",
            "active=\"{}\" resident=\"{}\" mapped=\"{}\" retained=\"{}\"/>\n",
            "</malloc>\n",
        ),
        crate::diagnostics::backend_name(),
        Selected::version().to_str().unwrap_or("?"),
        figure(stats.allocated),
        figure(stats.active),
        figure(stats.resident),
        figure(stats.mapped),
        figure(stats.retained),
        free = system.saturating_sub(in_use),
        system = system,
        in_use = in_use,
    );
    // SAFETY: a NUL-terminated string and the caller's stream.
    let rc = unsafe { libc::fputs(text.as_c_str().as_ptr(), stream) };
    if rc < 0 {
        -1
    } else {
        0
    }
}
