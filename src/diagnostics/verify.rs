//! Evidence that the backend really serves the library's allocations.
//!
//! Each check allocates for real and asks the backend about the result: does
//! it own the block, and did its byte counter move. A check that finds no
//! evidence fails; nothing here is assumed from the build configuration.
//! The evidence is kept as typed values (addresses, counters, object paths);
//! nothing here formats or allocates: `Display` and
//! `diagnostics::write_json` do that where the report leaves the library.

use core::ffi::{c_void, CStr};
use core::fmt;

use crate::backend::{Backend, Counter};
use crate::diagnostics::{backend_name, Address, Lossy};
use crate::sys;
use crate::Allocator as Selected;

/// Size of each probe allocation: large enough that every backend's counter
/// (glibc's included, which counts blocks above its mmap threshold at once)
/// moves by at least this much.
pub(crate) const PROBE_BYTES: usize = 1 << 20;

/// Whether Rust's global allocator inside the library must be the backend:
/// only when the library installs it (feature `global-allocator`, which the C
/// library builds turn on). Otherwise the program chose its own allocator.
const RUST_ALLOCATOR_REQUIRED: bool = cfg!(feature = "global-allocator");

/// One named check and what it found.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// Stable identifier, e.g. "gb_alloc_served_by_backend".
    pub name: &'static str,
    /// Whether the check passed.
    pub passed: bool,
    /// What was measured.
    pub evidence: Evidence,
}

/// What a check measured. `Display` puts it in words.
#[derive(Clone, Copy, Debug)]
pub enum Evidence {
    /// A block allocated, touched and asked about.
    Probe(Probe),
    /// Where the process's `malloc` resolves.
    HostMalloc(HostMalloc),
}

/// What a probe allocation found.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    /// The probe's size in bytes.
    pub bytes: usize,
    /// The block's address; `None` when the allocation failed.
    pub block: Option<Address>,
    /// Whether the backend says the block is its own; `None` where the
    /// backend cannot tell (system) or there was no block.
    pub owned: Option<bool>,
    /// How far the backend's byte counter moved while the block was live;
    /// `None` where the backend keeps no counter (mimalloc) or there was no
    /// block.
    pub counter_delta: Option<u64>,
    /// Whether the check needs the backend to serve the block. False only
    /// for Rust's global allocator in a build without the `global-allocator`
    /// feature: the library installs no allocator, so Rust's allocator is the
    /// program's choice (`GraphbitAlloc`, `System`, another), and the check
    /// records which served the block without failing on it.
    pub required: bool,
}

/// Where the host's `malloc` comes from.
#[derive(Clone, Copy, Debug)]
pub struct HostMalloc {
    /// The loaded object that the process's symbol lookup finds for `malloc`.
    pub malloc_object: Option<&'static CStr>,
    /// The loaded object that holds this library's code.
    pub library_object: Option<&'static CStr>,
    /// Whether the backend says a block from the host's `malloc` is its own;
    /// `None` where it cannot tell or `malloc` failed.
    pub host_block_owned: Option<bool>,
}

/// The result of every check.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// The checks, in the order they ran.
    pub checks: [Check; 3],
}

impl Report {
    /// True only if every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }
}

/// Runs every check. Each allocates and frees about 1 MiB; nothing is cached,
/// so a later call sees the library as it is then. Formats nothing and
/// allocates nothing but the probes.
pub fn run() -> Report {
    Report {
        checks: [
            probe(
                "gb_alloc_served_by_backend",
                true,
                |size| {
                    // SAFETY: plain allocation through the C API.
                    unsafe { crate::ffi::gb_alloc(size) }.cast()
                },
                |block| {
                    // SAFETY: the block just allocated by gb_alloc.
                    unsafe { crate::ffi::free_block(block.cast()) }
                },
            ),
            probe(
                "rust_global_allocator_served_by_backend",
                RUST_ALLOCATOR_REQUIRED,
                |size| match std::alloc::Layout::from_size_align(size, 16) {
                    // SAFETY: non-zero size; a failure returns NULL.
                    Ok(layout) => unsafe { std::alloc::alloc(layout) },
                    Err(_) => core::ptr::null_mut(),
                },
                |block| {
                    if let Ok(layout) = std::alloc::Layout::from_size_align(PROBE_BYTES, 16) {
                        // SAFETY: the block just allocated with this layout.
                        unsafe { std::alloc::dealloc(block, layout) }
                    }
                },
            ),
            #[cfg(not(feature = "override"))]
            host_malloc_not_captured(),
            #[cfg(feature = "override")]
            host_malloc_captured(),
        ],
    }
}

/// Whether this library can take heap profiles, and why (not a check: a
/// library without profiling is working as built). `gb_verify_report`
/// writes it as `build.profiling`.
#[derive(Clone, Copy, Debug)]
pub struct Profiling {
    /// Whether `gb_profile_start` can succeed here (else it returns
    /// `ENOTSUP`).
    pub available: bool,
    /// Why, in words, and which library profiles where this one cannot.
    pub why: &'static str,
}

/// What `gb_profile_start` will answer in this build, and why.
pub fn profiling() -> Profiling {
    #[cfg(feature = "profiling")]
    if !crate::profile::startable() {
        return Profiling {
            available: false,
            why: concat!(
                "lib",
                env!("GB_LIBRARY_NAME"),
                " samples with jemalloc's profiler, which is turned off here \
                 (_RJEM_MALLOC_CONF=prof:false): gb_profile_start answers ENOTSUP (this shared \
                 library's gb_alloc is jemalloc's malloc itself, so no other sampler can see \
                 it); drop prof:false, or link libgraphbit_alloc_profiling.a"
            ),
        };
    }
    if cfg!(feature = "profiling") {
        Profiling {
            available: true,
            why: if cfg!(feature = "override") {
                concat!(
                    "lib",
                    env!("GB_LIBRARY_NAME"),
                    " is built with the Cargo feature `profiling`: gb_profile_* sample \
                     every allocation of the process; GB_PROFILE=PATH writes its live and \
                     peak heap at exit"
                )
            } else {
                concat!(
                    "lib",
                    env!("GB_LIBRARY_NAME"),
                    " is built with the Cargo feature `profiling`: gb_profile_* sample \
                     the allocations made through gb_*"
                )
            },
        }
    } else {
        Profiling {
            available: false,
            why: if cfg!(feature = "override") {
                concat!(
                    "lib",
                    env!("GB_LIBRARY_NAME"),
                    " is built without the Cargo feature `profiling` (it would cost every \
                     malloc and free a few instructions): gb_profile_* answer ENOTSUP; \
                     preload libgraphbit_alloc_override_profiling.so instead (docs/profiling.md)"
                )
            } else {
                concat!(
                    "lib",
                    env!("GB_LIBRARY_NAME"),
                    " is built without the Cargo feature `profiling` (it would cost every \
                     allocation and free a few instructions): gb_profile_* answer ENOTSUP; \
                     link libgraphbit_alloc_profiling, or preload \
                     libgraphbit_alloc_override_profiling.so for a whole process \
                     (docs/profiling.md)"
                )
            },
        }
    }
}

/// Allocates `PROBE_BYTES` with `allocate`, touches them, and checks that the
/// backend owns the block and that its byte counter moved by at least that.
/// A process-wide counter (glibc's) also moves with the host's other
/// threads, whose frees can hide the probe (a JVM's, while its collector
/// runs): there a failed probe is tried twice more, and any attempt that
/// sees the counter move is the evidence. Where the backend is not
/// `required` to serve the block, the check passes once a block was had, and
/// the evidence still says whose it is.
fn probe(
    name: &'static str,
    required: bool,
    allocate: impl Fn(usize) -> *mut u8,
    release: impl Fn(*mut u8),
) -> Check {
    let attempts = if Selected::COUNTER == Counter::ProcessWide {
        3
    } else {
        1
    };
    let mut check = probe_once(name, required, &allocate, &release);
    for _ in 1..attempts {
        if check.passed {
            break;
        }
        check = probe_once(name, required, &allocate, &release);
    }
    check
}

/// One attempt of `probe`.
fn probe_once(
    name: &'static str,
    required: bool,
    allocate: &dyn Fn(usize) -> *mut u8,
    release: &dyn Fn(*mut u8),
) -> Check {
    let before = Selected::allocation_counter();
    let block = allocate(PROBE_BYTES);
    if block.is_null() {
        let evidence = Evidence::Probe(Probe {
            bytes: PROBE_BYTES,
            block: None,
            owned: None,
            counter_delta: None,
            required,
        });
        return Check {
            name,
            passed: false,
            evidence,
        };
    }
    // SAFETY: the block is PROBE_BYTES long; touching it makes it resident.
    unsafe { core::ptr::write_bytes(block, 0xA5, PROBE_BYTES) };
    // The block escapes here: otherwise the optimiser may remove an
    // allocation that is freed unread (it does, for Rust's allocator in
    // release builds), and the counters would not move.
    let block = core::hint::black_box(block);
    let after = Selected::allocation_counter();
    let owned = Selected::CAN_TELL_OWNERSHIP.then(|| Selected::owns(block as *const c_void));
    release(block);

    let counter_delta = match (before, after) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    // glibc's counter is process-wide: other threads' frees move it too
    // (seen: 1,046,400 for a 1,048,576-byte probe). Three quarters of the
    // probe tells "served" from "not served" (~0).
    let counter_ok = counter_delta.map(|moved| moved >= (PROBE_BYTES as u64) * 3 / 4);
    let served = match (owned, counter_ok) {
        (None, None) => false, // no evidence at all
        (owned, counter_ok) => owned.unwrap_or(true) && counter_ok.unwrap_or(true),
    };
    // Not required: the block was had, whoever served it.
    let passed = served || !required;
    Check {
        name,
        passed,
        evidence: Evidence::Probe(Probe {
            bytes: PROBE_BYTES,
            block: Some(Address(block as usize)),
            owned,
            counter_delta,
            required,
        }),
    }
}

/// The host's `malloc` must still be the C library's: the symbol the process
/// resolves for `malloc` must not live in this library, and (where the
/// backend can tell) a block from it must not be the backend's.
#[cfg_attr(feature = "override", allow(dead_code))]
fn host_malloc_not_captured() -> Check {
    let malloc_object = sys::object_defining(c"malloc");
    let library_object = sys::object_of(crate::ffi::gb_alloc as *const c_void);
    let mut passed = match (malloc_object, library_object) {
        (Some(malloc_object), Some(library_object)) => malloc_object != library_object,
        _ => false,
    };
    let mut host_block_owned = None;
    if Selected::CAN_TELL_OWNERSHIP {
        // SAFETY: plain malloc/free of the host's allocator.
        let block = unsafe { libc::malloc(64) };
        if !block.is_null() {
            let owned = Selected::owns(block);
            // SAFETY: the block just allocated by malloc.
            unsafe { libc::free(block) };
            host_block_owned = Some(owned);
            passed &= !owned;
        }
    }
    Check {
        name: "host_malloc_not_captured",
        passed,
        evidence: Evidence::HostMalloc(HostMalloc {
            malloc_object,
            library_object,
            host_block_owned,
        }),
    }
}

/// Whole-process mode (feature `override`): the host's `malloc` and C++
/// `operator new` must be this library's: the symbols the process resolves
/// for `malloc` and `_Znwm` must live in this library, and the backend must
/// own a block from each of `malloc`, `strdup`, `getline` and `operator new`
/// (`host_block_owned` is true only if it owns all four). The prefixed
/// library's check (`host_malloc_not_captured`) fails here, and this one
/// fails there.
#[cfg(feature = "override")]
fn host_malloc_captured() -> Check {
    let malloc_object = sys::object_defining(c"malloc");
    let library_object = sys::object_of(crate::ffi::gb_alloc as *const c_void);
    let mut passed =
        resolves_here(c"malloc", library_object) && resolves_here(c"_Znwm", library_object);
    let all_owned = process_blocks_owned(true);
    passed &= Selected::CAN_TELL_OWNERSHIP && all_owned;
    Check {
        name: "host_malloc_captured",
        passed,
        evidence: Evidence::HostMalloc(HostMalloc {
            malloc_object,
            library_object,
            host_block_owned: Selected::CAN_TELL_OWNERSHIP.then_some(all_owned),
        }),
    }
}

/// The process's own allocation functions, as every other object in it
/// calls them (looked up in the global scope, not this library's calls,
/// which bind to its own definitions): `malloc`/`free` and the nothrow
/// `operator new` with `operator delete`.
#[cfg(feature = "override")]
struct ProcessAllocator {
    malloc: unsafe extern "C" fn(usize) -> *mut c_void,
    free: unsafe extern "C" fn(*mut c_void),
    new_nothrow: Option<unsafe extern "C" fn(usize, *const u8) -> *mut c_void>,
    delete: Option<unsafe extern "C" fn(*mut c_void)>,
}

#[cfg(feature = "override")]
impl ProcessAllocator {
    fn find() -> Option<Self> {
        // SAFETY: dlsym with RTLD_DEFAULT and NUL-terminated names; each
        // symbol is the C or C++ function whose type it is given.
        unsafe {
            let find = |name: &CStr| libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr());
            let (malloc, free) = (find(c"malloc"), find(c"free"));
            if malloc.is_null() || free.is_null() {
                return None;
            }
            let (new_nothrow, delete) = (find(c"_ZnwmRKSt9nothrow_t"), find(c"_ZdlPv"));
            Some(ProcessAllocator {
                malloc: core::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(usize) -> *mut c_void,
                >(malloc),
                free: core::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(free),
                new_nothrow: (!new_nothrow.is_null() && !delete.is_null())
                    .then(|| core::mem::transmute::<*mut c_void, _>(new_nothrow)),
                delete: (!new_nothrow.is_null() && !delete.is_null())
                    .then(|| core::mem::transmute::<*mut c_void, _>(delete)),
            })
        }
    }
}

/// Whether the backend owns a block from the process's `malloc` and, with
/// `all`, from `strdup`, `getline` and `operator new` too (C++ only where the
/// process has it). Each block is released by the process's matching
/// function, so the probe is safe whoever serves the process.
#[cfg(feature = "override")]
fn process_blocks_owned(all: bool) -> bool {
    let Some(process) = ProcessAllocator::find() else {
        return false;
    };
    let owned = |block: *mut c_void| !block.is_null() && Selected::owns(block);
    // SAFETY: each block comes from the process's allocation function named
    // and is released by its matching one; getline reads a fixed buffer.
    unsafe {
        let block = (process.malloc)(64);
        let from_malloc = owned(block);
        (process.free)(block);
        if !all || !from_malloc {
            return from_malloc;
        }
        // strdup and getline allocate inside the C library, through the
        // process's malloc.
        let block = libc::strdup(c"graphbit-alloc".as_ptr());
        let from_strdup = owned(block.cast());
        (process.free)(block.cast());
        let mut text = *b"a line\n";
        let mut line: *mut libc::c_char = core::ptr::null_mut();
        let mut capacity = 0usize;
        let stream = libc::fmemopen(text.as_mut_ptr().cast(), text.len(), c"r".as_ptr());
        let mut from_getline = false;
        if !stream.is_null() {
            if libc::getline(&mut line, &mut capacity, stream) > 0 {
                from_getline = owned(line.cast());
            }
            (process.free)(line.cast());
            libc::fclose(stream);
        }
        let from_new = match (process.new_nothrow, process.delete) {
            (Some(new_nothrow), Some(delete)) => {
                let tag = 0u8; // std::nothrow_t is empty: any address will do.
                let block = new_nothrow(64, &tag);
                let from_new = owned(block);
                delete(block);
                from_new
            }
            _ => true, // a process without libstdc++ has no operator new to capture
        };
        from_strdup && from_getline && from_new
    }
}

/// Whether the whole-process override is in effect: the full
/// `host_malloc_captured` check (the process's `malloc`, `strdup`, `getline`
/// and `operator new` blocks are the backend's, and `malloc` resolves here),
/// for the exit summary.
#[cfg(feature = "override")]
pub(crate) fn override_in_effect() -> bool {
    host_malloc_captured().passed
}

/// Whether one block from the process's `malloc` is the backend's (the
/// cheap test, for the load-time constructor): false once the library was
/// loaded with `dlopen` after start-up, when `malloc` stays the C library's.
#[cfg(feature = "override")]
pub(crate) fn process_malloc_block_is_backends() -> bool {
    process_blocks_owned(false)
}

/// Whether the process's lookup of `symbol` finds this library's definition.
/// A program that takes the function's address (python3 does, for
/// `malloc`) has a PLT entry of its own as the function's canonical address:
/// the lookup then finds that entry in the executable, not a definition
/// (`dladdr` names no symbol `symbol` there), and the entry jumps to the
/// definition the loader bound, which the ownership probes then show.
#[cfg(feature = "override")]
fn resolves_here(symbol: &CStr, library_object: Option<&'static CStr>) -> bool {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
    let address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, symbol.as_ptr()) };
    if address.is_null() || library_object.is_none() {
        return false;
    }
    if sys::object_of(address) == library_object {
        return true;
    }
    // The symbol table entry dladdr matched: an undefined one (section index
    // SHN_UNDEF) with a value is a canonical PLT entry, not a definition.
    #[repr(C)]
    struct ElfSym {
        name: u32,
        info: u8,
        other: u8,
        section: u16,
        value: u64,
        size: u64,
    }
    extern "C" {
        fn dladdr1(
            address: *const c_void,
            info: *mut libc::Dl_info,
            extra: *mut *const ElfSym,
            flags: core::ffi::c_int,
        ) -> core::ffi::c_int;
    }
    const RTLD_DL_SYMENT: core::ffi::c_int = 1;
    // SAFETY: Dl_info is plain data; dladdr1 fills it and the entry pointer.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    let mut entry: *const ElfSym = core::ptr::null();
    // SAFETY: as above.
    let found = unsafe { dladdr1(address, &mut info, &mut entry, RTLD_DL_SYMENT) } != 0;
    // SAFETY: a symbol table entry of a loaded object, when not NULL.
    let plt_entry = found && !entry.is_null() && unsafe { (*entry).section } == 0;
    // SAFETY: no preconditions: where the main program's headers are mapped.
    let main_headers = unsafe { libc::getauxval(libc::AT_PHDR) } as usize;
    let in_main_program = main_headers != 0
        && sys::object_of(main_headers as *const c_void) == sys::object_of(address);
    in_main_program && plt_entry
}

fn its_own(owned: bool) -> &'static str {
    if owned {
        "its own"
    } else {
        "foreign"
    }
}

/// The evidence in words, as `gb-info` prints it and the report's
/// `"evidence"` string holds it.
impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = backend_name();
        match self {
            Evidence::Probe(p) => {
                let Some(block) = p.block else {
                    return write!(f, "allocating {} bytes failed", p.bytes);
                };
                let mut separator = "";
                if let Some(owned) = p.owned {
                    write!(
                        f,
                        "{backend} reports the block {block} as {}",
                        its_own(owned)
                    )?;
                    separator = "; ";
                }
                match p.counter_delta {
                    Some(moved) => write!(
                        f,
                        "{separator}{backend}'s byte counter moved by {moved} for a {}-byte block",
                        p.bytes
                    ),
                    None if p.owned.is_some() => Ok(()),
                    None => write!(
                        f,
                        "{backend} offers neither ownership nor a byte counter here"
                    ),
                }?;
                if !p.required {
                    f.write_str(
                        " (not required: built without the global-allocator feature, \
                         the program chooses Rust's allocator)",
                    )?;
                }
                Ok(())
            }
            Evidence::HostMalloc(h) => {
                let path = |p: Option<&'static CStr>| p.map(Lossy);
                match path(h.malloc_object) {
                    Some(p) => write!(f, "malloc resolves to {p}")?,
                    None => f.write_str("malloc resolves to <unknown>")?,
                }
                match path(h.library_object) {
                    Some(p) => write!(f, "; this library is {p}")?,
                    None => f.write_str("; this library is <unknown>")?,
                }
                if let Some(owned) = h.host_block_owned {
                    write!(
                        f,
                        "; {backend} reports a host malloc block as {}",
                        its_own(owned)
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::Counter;

    /// The system backend's evidence is glibc's process-wide counter: tests
    /// that allocate at the same time would move it for each other, so the
    /// tests here take turns.
    pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check<'a>(report: &'a Report, name: &str) -> &'a Check {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .expect("check exists")
    }

    /// The third check: whether the host's `malloc` must be this library's
    /// (the override) or must not be (every other build).
    const HOST_CHECK: &str = if cfg!(feature = "override") {
        "host_malloc_captured"
    } else {
        "host_malloc_not_captured"
    };

    #[test]
    fn gb_alloc_and_host_malloc_checks_pass() {
        let _turn = serial();
        let report = run();
        for name in ["gb_alloc_served_by_backend", HOST_CHECK] {
            let c = check(&report, name);
            assert!(c.passed, "{name}: {}", c.evidence);
        }
    }

    /// With the `global-allocator` feature the library installs
    /// `GraphbitAlloc`, so Rust's probe must be the backend's. Without it (and
    /// no `GraphbitAlloc` installed by this test program) Rust's allocations
    /// go to Rust's default, the C library's malloc: the check records that
    /// (on jemalloc and mimalloc the backend calls the block foreign) and
    /// passes, since the program chose. Every build's report passes.
    #[test]
    fn rust_allocator_check_follows_the_build() {
        let _turn = serial();
        let report = run();
        let c = check(&report, "rust_global_allocator_served_by_backend");
        let Evidence::Probe(p) = c.evidence else {
            panic!("a probe");
        };
        assert_eq!(p.required, cfg!(feature = "global-allocator"));
        assert!(p.block.is_some());
        if Selected::CAN_TELL_OWNERSHIP {
            let backend_serves_rust =
                cfg!(feature = "global-allocator") || Selected::IS_C_LIBRARY_MALLOC;
            assert_eq!(p.owned, Some(backend_serves_rust), "{}", c.evidence);
        }
        let words = c.evidence.to_string();
        assert_eq!(words.contains("not required"), !p.required, "{words}");
        assert!(c.passed, "evidence: {}", c.evidence);
        assert!(report.passed(), "report: {report:?}");
        assert!(crate::ffi::gb_verify());
    }

    /// The typed evidence says what each backend can tell.
    #[test]
    fn evidence_is_typed_per_backend() {
        let _turn = serial();
        let report = run();
        let Evidence::Probe(p) = check(&report, "gb_alloc_served_by_backend").evidence else {
            panic!("a probe");
        };
        assert_eq!(p.bytes, PROBE_BYTES);
        assert!(p.block.is_some());
        assert_eq!(p.owned.is_some(), Selected::CAN_TELL_OWNERSHIP);
        assert_eq!(
            p.counter_delta.is_some(),
            Selected::COUNTER != Counter::None
        );
        if Selected::COUNTER == Counter::PerThread && cfg!(feature = "override-checked") {
            // The checked override asks the backend for one byte more (the
            // canary, src/checked_override/): the next size class up.
            assert!(p.counter_delta > Some(PROBE_BYTES as u64));
        } else if Selected::COUNTER == Counter::PerThread {
            // thread.allocated is per thread: exactly the probe's size class.
            assert_eq!(p.counter_delta, Some(PROBE_BYTES as u64));
        }
        let Evidence::HostMalloc(h) = check(&report, HOST_CHECK).evidence else {
            panic!("host malloc evidence");
        };
        assert!(h.malloc_object.is_some() && h.library_object.is_some());
        // The override defines `malloc` itself (in this test executable);
        // the prefixed library leaves it to the C library.
        assert_eq!(
            h.malloc_object == h.library_object,
            cfg!(feature = "override")
        );
    }

    /// The JSON document at the C boundary: valid JSON, the fields consumers
    /// read, and the same length for two reports in a row (addresses have a
    /// fixed width; jemalloc's and mimalloc's other evidence does not vary).
    #[test]
    fn json_report_has_the_documented_fields() {
        let _turn = serial();
        let build = crate::diagnostics::build();
        let mut first = String::new();
        crate::diagnostics::write_json(&run(), &build, &mut first).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&first).expect(&first);
        assert_eq!(doc["library"], "graphbit-alloc");
        assert_eq!(doc["backend"], backend_name());
        assert_eq!(doc["passed"], true);
        let rust = &doc["checks"][1];
        assert_eq!(rust["name"], "rust_global_allocator_served_by_backend");
        assert_eq!(
            rust["measured"]["required"],
            cfg!(feature = "global-allocator")
        );
        assert_eq!(doc["checks"].as_array().unwrap().len(), 3);
        for check in doc["checks"].as_array().unwrap() {
            assert!(check["evidence"].is_string() && check["measured"].is_object());
        }
        assert!(doc["build"]["settings"].is_string());
        let in_effect = doc["build"]["settings_in_effect"].as_object().unwrap();
        let names: Vec<&str> = build.settings.in_effect().iter().map(|s| s.name).collect();
        assert_eq!(
            in_effect
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .len(),
            names.len()
        );
        for name in names {
            assert!(in_effect.contains_key(name), "{name} in {first}");
        }
        if !Selected::IS_C_LIBRARY_MALLOC {
            let mut second = String::new();
            crate::diagnostics::write_json(&run(), &build, &mut second).unwrap();
            assert_eq!(first.len(), second.len(), "{first}\n{second}");
        }
    }

    /// The report says whether gb_profile_start can work, and it agrees
    /// with what gb_profile_start answers.
    #[test]
    fn the_report_says_why_profiling_is_unavailable() {
        let _turn = serial();
        let p = profiling();
        assert_eq!(p.available, cfg!(feature = "profiling"));
        assert!(p.why.starts_with(concat!("lib", env!("GB_LIBRARY_NAME"))));
        if !p.available {
            assert_eq!(crate::ffi::gb_profile_start(0), libc::ENOTSUP);
            assert!(p.why.contains("ENOTSUP") && p.why.contains("_profiling"));
        }
        let mut json = String::new();
        crate::diagnostics::write_json(&run(), &crate::diagnostics::build(), &mut json).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&json).expect(&json);
        let reported = &doc["build"]["profiling"];
        assert_eq!(reported["available"], p.available, "{json}");
        assert_eq!(reported["why"], p.why, "{json}");
    }
}
