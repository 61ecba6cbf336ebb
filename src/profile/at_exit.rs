//! Profiles without code: `GB_PROFILE=PATH` starts sampling when the
//! library is loaded (an ELF constructor, before the program's own) and
//! writes the live heap to PATH and the peak heap to PATH.peak when
//! the process exits (an ELF destructor: after `main` returns or `exit`, not
//! after `_exit` or a fatal signal). `GB_PROFILE_SAMPLE=BYTES` sets the
//! interval (default 512 KiB). Both are read with `secure_getenv`: a
//! set-user-ID program ignores them. A forked child that exits writes
//! PATH.PID and PATH.PID.peak instead, so it does not overwrite its parent's,
//! and only if it took a sample of its own after the fork (the subshells of
//! a shell script, which allocate little, write none).
//! In the override this profiles every allocation of the process; in the
//! prefixed profiling library, those made through `gb_*`.

use core::ffi::CStr;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::sys::getenv_unless_setuid;

const PATH_MAX: usize = 4096;

/// PATH, NUL-terminated, copied at start-up (the environment may change).
struct PathBuffer(core::cell::UnsafeCell<[u8; PATH_MAX]>);
// SAFETY: written once by the constructor before ENABLED is set, read-only
// afterwards.
unsafe impl Sync for PathBuffer {}

static PATH: PathBuffer = PathBuffer(core::cell::UnsafeCell::new([0; PATH_MAX]));
static ENABLED: AtomicBool = AtomicBool::new(false);
static STARTING_PID: AtomicI32 = AtomicI32::new(0);

#[used]
#[link_section = ".init_array"]
static AT_START: extern "C" fn() = at_start;

#[used]
#[link_section = ".fini_array"]
static AT_EXIT: extern "C" fn() = at_exit;

extern "C" fn at_start() {
    // SAFETY: NUL-terminated names; the results are NULL or C strings.
    let path = unsafe { getenv_unless_setuid(c"GB_PROFILE".as_ptr()) };
    if path.is_null() {
        return;
    }
    // SAFETY: a C string from the environment.
    let path = unsafe { CStr::from_ptr(path) }.to_bytes();
    if path.is_empty() || path.len() + 1 > PATH_MAX - 32 {
        warn(b"graphbit-alloc: GB_PROFILE is empty or too long; not profiling\n");
        return;
    }
    // SAFETY: as above.
    let sample = unsafe { getenv_unless_setuid(c"GB_PROFILE_SAMPLE".as_ptr()) };
    let mut interval = 0u64;
    if !sample.is_null() {
        // SAFETY: a C string from the environment.
        let text = unsafe { CStr::from_ptr(sample) }.to_bytes();
        match core::str::from_utf8(text)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            Some(value) => interval = value,
            None => {
                warn(b"graphbit-alloc: GB_PROFILE_SAMPLE is not a number of bytes; using 524288\n")
            }
        }
    }
    // SAFETY: nobody reads PATH before ENABLED is set.
    unsafe { (&mut *PATH.0.get())[..path.len()].copy_from_slice(path) };
    // SAFETY: no preconditions.
    STARTING_PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    if super::start(interval) != 0 {
        warn(b"graphbit-alloc: GB_PROFILE: profiling could not start\n");
        return;
    }
    ENABLED.store(true, Ordering::Release);
}

extern "C" fn at_exit() {
    if !ENABLED.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: written before ENABLED, read-only since.
    let base = unsafe { &*PATH.0.get() };
    let length = base.iter().position(|&b| b == 0).unwrap_or(0);
    let mut name = [0u8; PATH_MAX];
    let mut end = length;
    name[..length].copy_from_slice(&base[..length]);
    // SAFETY: no preconditions.
    let pid = unsafe { libc::getpid() };
    if pid != STARTING_PID.load(Ordering::Relaxed) {
        // A forked child that took no sample of its own (a shell's
        // subshell) would write a copy of what it inherited: nothing.
        if super::record::recorded_here() == 0 {
            return;
        }
        end += append(&mut name[end..], b".");
        end += append_number(&mut name[end..], pid as u64);
    }
    let live_end = end;
    end += append(&mut name[end..], b".peak");
    for (finish, which) in [(live_end, super::Which::Live), (end, super::Which::Peak)] {
        let mut path = name;
        path[finish] = 0;
        let path = CStr::from_bytes_until_nul(&path).unwrap_or(c"");
        if super::dump(path, which) != 0 {
            warn(b"graphbit-alloc: GB_PROFILE: could not write the profile\n");
        }
    }
}

fn append(to: &mut [u8], text: &[u8]) -> usize {
    to[..text.len()].copy_from_slice(text);
    text.len()
}

fn append_number(to: &mut [u8], mut value: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut count = 0;
    loop {
        digits[count] = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for index in 0..count {
        to[index] = digits[count - 1 - index];
    }
    count
}

fn warn(message: &[u8]) {
    // SAFETY: a valid buffer; a failed write is ignored.
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
}
