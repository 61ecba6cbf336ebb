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

use std::collections::HashMap;

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

/// An object file's loadable segments: (file offset, size in the file,
/// virtual address).
type Segments = Vec<(u64, u64, u64)>;

/// A file's functions: (address, size, name), sorted by address.
type Symbols = Vec<(u64, u64, String)>;

/// One loaded file.
struct Object {
    loader: addr2line::Loader,
    segments: Segments,
    symbols: Symbols,
}

/// Loaded files, each once (`None`: not readable or not ELF).
#[derive(Default)]
pub struct Symbolizer {
    objects: HashMap<String, Option<Object>>,
}

/// A file mapped read-only while it lives: the parser reads the pages it
/// touches from the page cache (reading the whole file instead put all of
/// it, 2 MiB for libc, on the heap of the process being profiled, for the
/// length of a dump). As `addr2line::Loader` maps its files.
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

/// A file's loadable segments and its functions (the symbol table's and the
/// dynamic one's, with their sizes), from one parse of the mapped file;
/// `None` when it is not an object file.
fn tables(path: &str) -> Option<(Segments, Symbols)> {
    use object::{Object as _, ObjectSegment as _, ObjectSymbol as _};
    let mapped = Mapped::open(path)?;
    let file = object::File::parse(mapped.bytes()).ok()?;
    let segments = file
        .segments()
        .map(|s| {
            let (offset, size) = s.file_range();
            (offset, size, s.address())
        })
        .collect();
    let mut symbols: Symbols = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 0)
        .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
        .collect();
    symbols.sort();
    symbols.dedup_by_key(|s| s.0);
    Some((segments, symbols))
}

/// The function whose code holds `probe`, if the tables say.
fn function_at(symbols: &Symbols, probe: u64) -> Option<&str> {
    let index = symbols.partition_point(|s| s.0 <= probe).checked_sub(1)?;
    let (address, size, name) = &symbols[index];
    (probe < address + size).then_some(name.as_str())
}

impl Symbolizer {
    /// The frames (innermost first: inlined functions, then the one they
    /// were inlined into) at `offset` bytes into the file `path`; `None`
    /// when the file has nothing for that address.
    pub fn frames(&mut self, path: &str, offset: u64) -> Option<Vec<Frame>> {
        if !path.starts_with('/') {
            return None; // [vdso], anonymous memory
        }
        let object = self
            .objects
            .entry(path.to_string())
            .or_insert_with(|| {
                let (segments, symbols) = tables(path)?;
                Some(Object {
                    loader: addr2line::Loader::new(path).ok()?,
                    segments,
                    symbols,
                })
            })
            .as_ref()?;
        let &(file_offset, _, vaddr) = object
            .segments
            .iter()
            .find(|&&(start, size, _)| start <= offset && offset < start + size)?;
        let probe = offset - file_offset + vaddr;
        let symbol = function_at(&object.symbols, probe)
            .map(|s| addr2line::demangle_auto(std::borrow::Cow::Borrowed(s), None).into_owned());
        let mut out = Vec::new();
        if let Ok(mut frames) = object.loader.find_frames(probe) {
            while let Ok(Some(frame)) = frames.next() {
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
    }
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
        let address = marker_function_for_symbolize as fn() -> usize as usize as u64;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let (path, offset) = maps
            .lines()
            .find_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (start, end) = f[0].split_once('-')?;
                let start = u64::from_str_radix(start, 16).ok()?;
                let end = u64::from_str_radix(end, 16).ok()?;
                let offset = u64::from_str_radix(f[2], 16).ok()?;
                (start <= address && address < end && f.len() > 5)
                    .then(|| (f[5].to_string(), address - start + offset))
            })
            .expect("the function's mapping");
        let frames = Symbolizer::default().frames(&path, offset).expect("frames");
        // Its first instruction may be inlined code (black_box), then it.
        assert!(
            frames
                .iter()
                .any(|f| f.function.contains("marker_function_for_symbolize")
                    && f.place().is_some_and(|p| p.starts_with("symbolize.rs:"))),
            "{frames:?}"
        );
        assert_eq!(Symbolizer::default().frames("[vdso]", 0), None);
        let table = vec![
            (0x100, 0x10, "f".to_string()),
            (0x200, 0x10, "g".to_string()),
        ];
        assert_eq!(function_at(&table, 0x105), Some("f"));
        assert_eq!(function_at(&table, 0x150), None, "a gap between functions");
        assert_eq!(function_at(&table, 0x50), None);
        assert_eq!(Symbolizer::default().frames("/nonexistent", 0), None);
    }
}
