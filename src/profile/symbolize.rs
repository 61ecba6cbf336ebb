//! Function, file and line of a profile's frames, from the binaries on disk
//! (the `addr2line` crate: DWARF, then the symbol table). Used twice: by the
//! profiler when it writes a profile (feature `profiling`, `pprof.rs`), and
//! by `gb-bench profile` when it reads one (gb-bench includes this file with
//! `#[path]`; it depends on nothing else of the library). A frame is given
//! as the file it lies in and its offset in that file (what a profile's
//! mapping says); the file offset becomes the ELF virtual address the
//! file's own tables use, through its `PT_LOAD` program headers, and DWARF
//! gives the inlined chain with lines; the symbol tables (`.symtab` and
//! `.dynsym`, static functions included) name what DWARF does not.
//!
//! What it cannot do: read separate debug files (`.gnu_debuglink`, build
//! IDs under /usr/lib/debug), so a distribution's stripped libraries give
//! their symbol tables' names only; and it trusts that the files on disk
//! are the ones the process ran.

/// One frame: a function, and where in the source when DWARF says.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub function: String,
    /// The source file as DWARF names it (with its directories).
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl Frame {
    /// "file.c:42" (the file name without its directories), "file.c"
    /// without a line, None without a file.
    #[allow(dead_code)] // gb-bench's
    pub fn place(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        let base = file.rsplit('/').next().unwrap_or(file);
        Some(match self.line {
            Some(line) => format!("{base}:{line}"),
            None => base.to_string(),
        })
    }
}

/// A file mapped read-only while it lives: the parser reads the pages it
/// touches from the page cache (reading the whole file instead put all of
/// it, 2 MiB for libc, on the heap of the process being profiled, for the
/// length of a dump).
struct Mapped {
    data: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn open(path: &str) -> Option<Mapped> {
        use std::os::fd::AsRawFd as _;
        let file = std::fs::File::open(path).ok()?;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: a read-only private mapping of an open file (the mapping
        // outlives the descriptor); the result is checked.
        let data = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (data != libc::MAP_FAILED).then_some(Mapped { data, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes, mapped until drop.
        unsafe { core::slice::from_raw_parts(self.data as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, unmapped once.
        unsafe { libc::munmap(self.data, self.len) };
    }
}

/// What one parse of a file says about some of its file offsets: each
/// one's virtual address (None outside the loaded segments) and the
/// function of the symbol tables that holds it; and whether the file has
/// DWARF.
struct Tables {
    probes: Vec<Option<u64>>,
    functions: Vec<Option<String>>,
    dwarf: bool,
}

/// A symbol-table function (start, size, name) is a better name for an
/// address it holds than `other` when it starts later (the innermost of
/// nested ones), then when it is shorter, then by name.
fn better(this: (u64, u64, &str), other: Option<(u64, u64, &str)>) -> bool {
    use core::cmp::Reverse;
    other.map_or(true, |(address, size, name)| {
        (this.0, Reverse(this.1), Reverse(this.2)) > (address, Reverse(size), Reverse(name))
    })
}

/// [`Tables`] for `offsets` in the file `path`, from one parse of the
/// mapped file and one pass over its symbol tables (`.symtab` and
/// `.dynsym`) that keeps only the names asked for (a table of every
/// function of libc, names included, was most of a dump's memory). `None`
/// when it is not an object file.
fn tables(path: &str, offsets: &[u64]) -> Option<Tables> {
    use object::{Object as _, ObjectSegment as _, ObjectSymbol as _};
    let mapped = Mapped::open(path)?;
    let file = object::File::parse(mapped.bytes()).ok()?;
    let segments: Vec<(u64, u64, u64)> = file
        .segments()
        .map(|s| {
            let (offset, size) = s.file_range();
            (offset, size, s.address())
        })
        .collect();
    let probes: Vec<Option<u64>> = offsets
        .iter()
        .map(|&offset| {
            let &(start, _, address) = segments
                .iter()
                .find(|&&(start, size, _)| start <= offset && offset < start + size)?;
            Some(offset - start + address)
        })
        .collect();
    let mut sorted: Vec<u64> = probes.iter().flatten().copied().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut best: Vec<Option<(u64, u64, &str)>> = vec![None; sorted.len()];
    for symbol in file.symbols().chain(file.dynamic_symbols()) {
        if symbol.kind() != object::SymbolKind::Text || symbol.size() == 0 {
            continue;
        }
        let (address, size) = (symbol.address(), symbol.size());
        let first = sorted.partition_point(|&p| p < address);
        let held = sorted[first..].partition_point(|&p| p - address < size);
        if held == 0 {
            continue;
        }
        let Ok(name) = symbol.name() else { continue };
        for slot in &mut best[first..first + held] {
            if better((address, size, name), *slot) {
                *slot = Some((address, size, name));
            }
        }
    }
    let functions = probes
        .iter()
        .map(|probe| {
            let (_, _, name) = best[sorted.binary_search(probe.as_ref()?).ok()?]?;
            Some(addr2line::demangle_auto(std::borrow::Cow::Borrowed(name), None).into_owned())
        })
        .collect();
    let dwarf = file.section_by_name(".debug_info").is_some();
    Some(Tables {
        probes,
        functions,
        dwarf,
    })
}

/// The frames at each of `offsets`, byte offsets into the file `path`
/// (innermost first: inlined functions, then the one they were inlined
/// into): `None` for an offset the file says nothing about, and for all of
/// them when `path` is not an object file on disk ([vdso], anonymous
/// memory). The file is read once for all of them and nothing of it is
/// kept: callers ask once per file.
pub fn frames(path: &str, offsets: &[u64]) -> Vec<Option<Vec<Frame>>> {
    let Some(Tables {
        probes,
        functions,
        dwarf,
    }) = path
        .starts_with('/')
        .then(|| tables(path, offsets))
        .flatten()
    else {
        return vec![None; offsets.len()];
    };
    // DWARF's reader only where there is DWARF: it maps the file again and
    // builds a symbol map of its own, which a stripped library (libc) does
    // not need.
    let loader = dwarf.then(|| addr2line::Loader::new(path).ok()).flatten();
    probes
        .into_iter()
        .zip(functions)
        .map(|(probe, symbol)| {
            let probe = probe?;
            let mut out = Vec::new();
            if let Some(mut found) = loader.as_ref().and_then(|l| l.find_frames(probe).ok()) {
                while let Ok(Some(frame)) = found.next() {
                    let function = frame
                        .function
                        .as_ref()
                        .and_then(|f| f.demangle().ok().map(|n| n.into_owned()))
                        .or_else(|| symbol.clone());
                    let Some(function) = function else { continue };
                    let location = frame.location.as_ref();
                    out.push(Frame {
                        function,
                        file: location.and_then(|l| l.file).map(str::to_string),
                        line: location.and_then(|l| l.line),
                    });
                }
            }
            if out.is_empty() {
                out.push(Frame {
                    function: symbol?,
                    file: None,
                    line: None,
                });
            }
            Some(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test's own executable symbolizes its own code: the address of
    /// a function here, as a file offset, names that function.
    #[test]
    fn a_function_of_this_program_is_found_by_its_file_offset() {
        #[inline(never)]
        fn marker_function_for_symbolize() -> usize {
            std::hint::black_box(42)
        }
        // The file holding `address` and its offset in it, from the maps.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let locate = |address: u64| {
            maps.lines()
                .find_map(|line| {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let (start, end) = f[0].split_once('-')?;
                    let start = u64::from_str_radix(start, 16).ok()?;
                    let end = u64::from_str_radix(end, 16).ok()?;
                    let offset = u64::from_str_radix(f[2], 16).ok()?;
                    (start <= address && address < end && f.len() > 5)
                        .then(|| (f[5].to_string(), address - start + offset))
                })
                .expect("the address's mapping")
        };
        let (path, offset) = locate(marker_function_for_symbolize as fn() -> usize as usize as u64);
        // Asked with an offset outside the file's segments beside it.
        let found = frames(&path, &[offset, u64::MAX]);
        let frames_here = found[0].as_ref().expect("frames");
        // Its first instruction may be inlined code (black_box), then it.
        assert!(
            frames_here
                .iter()
                .any(|f| f.function.contains("marker_function_for_symbolize")
                    && f.place().is_some_and(|p| p.starts_with("symbolize.rs:"))),
            "{frames_here:?}"
        );
        assert_eq!(found[1], None, "an offset outside the file");
        // A library without DWARF (Debian's libc): its dynamic symbols.
        let getpid = libc::getpid as unsafe extern "C" fn() -> libc::pid_t as usize as u64;
        let (libc_path, libc_offset) = locate(getpid);
        let named = frames(&libc_path, &[libc_offset]);
        assert!(
            named[0]
                .as_ref()
                .is_some_and(|f| f[0].function.contains("getpid")),
            "{libc_path}: {named:?}"
        );
        assert_eq!(frames("[vdso]", &[0]), vec![None]);
        assert_eq!(frames("/nonexistent", &[0, 1]), vec![None, None]);
        let name = |offered: &[(u64, u64, &'static str)]| {
            offered.iter().fold(
                None,
                |best, &this| {
                    if better(this, best) {
                        Some(this)
                    } else {
                        best
                    }
                },
            )
        };
        // Nested functions: the innermost; equal starts: the shorter.
        assert_eq!(
            name(&[(0x100, 0x100, "outer"), (0x140, 0x10, "inner")])
                .unwrap()
                .2,
            "inner"
        );
        assert_eq!(
            name(&[(0x140, 0x10, "inner"), (0x100, 0x100, "outer")])
                .unwrap()
                .2,
            "inner"
        );
        assert_eq!(
            name(&[(0x100, 0x20, "long"), (0x100, 0x10, "short")])
                .unwrap()
                .2,
            "short"
        );
    }
}
