//! `gb-bench profile [--sample BYTES] [--svg FILE] [--pprof FILE] -- CMD`:
//! runs CMD under the profiling override (`libgraphbit_alloc_override_profiling.so`
//! as LD_PRELOAD, `GB_PROFILE` set), then reads the two pprof files the
//! override writes at exit (the live heap, PATH, and the peak, PATH.peak),
//! prints their top call stacks by bytes and draws a flame graph of each
//! with inferno.
//!
//! The pprof files are gzip'd `profile.proto` (google/pprof), read here with
//! a small protobuf decoder: only the fields a heap profile uses. Frames the
//! profiler could not name (functions not in a dynamic symbol table) are
//! shown as `object+0xOFFSET`, the file offset `addr2line -e object` takes.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;

use crate::symbolize::{self, Frame};

/// The options of `gb-bench profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Mean bytes between samples [default: the library's, 524288].
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
    /// Write flame graphs: FILE of the live heap at exit, FILE with
    /// `.peak` before its extension of the heap at its peak.
    #[arg(long, value_name = "FILE.svg")]
    pub svg: Option<PathBuf>,
    /// Keep the profiles: FILE (live heap at exit) and FILE.peak, gzip'd
    /// pprof for `go tool pprof` [default: a temporary file, removed].
    #[arg(long, value_name = "FILE")]
    pub pprof: Option<PathBuf>,
    /// How many call stacks to print per profile.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub top: u32,
    /// Take libgraphbit_alloc_override_profiling.so from DIR (an install's
    /// lib/ or a CMake build directory) instead of finding or building it.
    #[arg(long, value_name = "DIR")]
    pub lib_dir: Option<PathBuf>,
    /// The command to profile, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The library `gb-bench profile` preloads.
pub const LIBRARY: &str = "libgraphbit_alloc_override_profiling.so";

/// `path`'s directory exists (so a file can be written there later).
fn check_output(option: &str, path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Err(format!("{option} {}: needs a file name", path.display()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{option} {}: no directory {}",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// The peak flame graph's file: `heap.svg` -> `heap.peak.svg`.
pub fn peak_svg_path(svg: &Path) -> PathBuf {
    match (svg.file_stem(), svg.extension()) {
        (Some(stem), Some(ext)) => svg.with_file_name(format!(
            "{}.peak.{}",
            stem.to_string_lossy(),
            ext.to_string_lossy()
        )),
        _ => PathBuf::from(format!("{}.peak", svg.display())),
    }
}

/// Checks everything given before anything is built or run.
fn validate(args: &ProfileArgs) -> Result<(), String> {
    crate::cli::find_program(&args.command[0])?;
    if let Some(svg) = &args.svg {
        check_output("--svg", svg)?;
    }
    if let Some(pprof) = &args.pprof {
        check_output("--pprof", pprof)?;
    }
    if let Some(dir) = &args.lib_dir {
        let lib = dir.join(LIBRARY);
        if !lib.is_file() {
            return Err(format!(
                "--lib-dir: {} not found (built by CMake with the profiling variant, \
                 or `cargo build --release --features override,profiling`)",
                lib.display()
            ));
        }
    }
    Ok(())
}

/// `gb-bench profile`: Ok(true) when CMD exited with status 0 and its
/// profiles were read.
pub fn profile(args: &ProfileArgs) -> Result<bool, String> {
    validate(args)?;
    let library = match &args.lib_dir {
        Some(dir) => dir.join(LIBRARY),
        None => crate::contenders::profiling_override_library()?,
    };
    let library = library
        .canonicalize()
        .map_err(|e| format!("{}: {e}", library.display()))?;

    // The profile's path must be absolute: CMD may change directory.
    let temp = std::env::temp_dir().join(format!("gb-bench-profile.{}", std::process::id()));
    let path = match &args.pprof {
        Some(p) => std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => {
            std::fs::create_dir_all(&temp).map_err(|e| format!("{}: {e}", temp.display()))?;
            temp.join("heap.pb.gz")
        }
    };
    let peak_path = PathBuf::from(format!("{}.peak", path.display()));
    // A stale file from an earlier run must not pass for this run's.
    for p in [&path, &peak_path] {
        let _ = std::fs::remove_file(p);
    }
    // Removed on every way out (an error included).
    let _temp = RemoveOnDrop(args.pprof.is_none().then_some(temp));
    run_and_report(args, &library, &path, &peak_path)
}

/// Writes to stdout; a closed pipe (`gb-bench profile ... | head`) is not an
/// error here (print! would panic, and gb-bench aborts on panics, leaving
/// the temporary directory behind).
fn out(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Removes a temporary directory when dropped.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn run_and_report(
    args: &ProfileArgs,
    library: &Path,
    path: &Path,
    peak_path: &Path,
) -> Result<bool, String> {
    let mut preload = library.as_os_str().to_owned();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(":");
        preload.push(old);
    }
    let mut command = Command::new(&args.command[0]);
    command
        .args(&args.command[1..])
        .env("LD_PRELOAD", &preload)
        .env("GB_PROFILE", path);
    match args.sample {
        Some(n) => command.env("GB_PROFILE_SAMPLE", n.to_string()),
        None => command.env_remove("GB_PROFILE_SAMPLE"),
    };
    eprintln!(
        "gb-bench: profiling {} (preloading {})",
        args.command.join(" "),
        library.display()
    );
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", args.command[0]))?;
    if !status.success() {
        eprintln!("gb-bench: {} exited with {status}", args.command[0]);
    }

    let mut read_any = false;
    for (label, file, svg) in [
        ("live heap at exit", path, args.svg.clone()),
        (
            "peak heap",
            peak_path,
            args.svg.as_deref().map(peak_svg_path),
        ),
    ] {
        if !file.is_file() {
            eprintln!(
                "gb-bench: {} was not written ({label}; the process must exit normally, \
                 not by a signal or _exit)",
                file.display()
            );
            continue;
        }
        let mut profile = read_profile(file)?;
        profile.symbolize();
        read_any = true;
        let stacks = profile.stacks("inuse_space")?;
        out(&top_table(label, &stacks, args.top as usize));
        if args.pprof.is_some() {
            out(&format!("  pprof: {}\n", file.display()));
        }
        if let Some(svg) = svg {
            if stacks.iter().all(|s| s.value <= 0) {
                out(&format!(
                    "  (empty: no flame graph written to {})\n",
                    svg.display()
                ));
            } else {
                let title = format!("{label}: {}", args.command.join(" "));
                crate::write_file(&svg, &flame_graph(&title, &stacks)?)?;
            }
        }
    }
    if !read_any {
        return Err("no profile was written".into());
    }
    Ok(status.success())
}

/// One sample, its frames leaf first, named, with their source places
/// where known ("file.c:42", one per frame).
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub frames: Vec<String>,
    pub places: Vec<Option<String>>,
    pub value: i64,
}

/// The parts of a decoded profile this command uses.
#[derive(Debug, Default)]
pub struct Profile {
    strings: Vec<String>,
    /// (type, unit) string indexes per value column.
    sample_types: Vec<(u64, u64)>,
    /// (location ids leaf first, values).
    samples: Vec<(Vec<u64>, Vec<i64>)>,
    /// Location id -> frames (inlined callee first): named, or the address.
    locations: HashMap<u64, Vec<Frame>>,
    /// Location id -> the file of its mapping and the offset in that file.
    objects: HashMap<u64, (String, u64)>,
}

/// Reads a gzip'd (or plain) pprof file.
pub fn read_profile(path: &Path) -> Result<Profile, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: not gzip: {e}", path.display()))?;
        out
    } else {
        raw
    };
    decode(&bytes).map_err(|e| format!("{}: not a pprof profile: {e}", path.display()))
}

/// A protobuf field's value.
enum Value<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

/// The fields of one protobuf message, in order.
struct Fields<'a> {
    data: &'a [u8],
}

fn varint(data: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = data.split_first().ok_or("truncated varint")?;
        *data = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let mut field = || -> Result<(u64, Value<'a>), String> {
            let key = varint(&mut self.data)?;
            let mut fixed = |n: usize| -> Result<Value<'a>, String> {
                if self.data.len() < n {
                    return Err("truncated field".into());
                }
                let (value, rest) = self.data.split_at(n);
                self.data = rest;
                let mut le = [0u8; 8];
                le[..n].copy_from_slice(value);
                Ok(Value::Int(u64::from_le_bytes(le)))
            };
            let value = match key & 7 {
                0 => Value::Int(varint(&mut self.data)?),
                1 => fixed(8)?,
                5 => fixed(4)?,
                2 => {
                    let len = varint(&mut self.data)?;
                    let len = usize::try_from(len)
                        .ok()
                        .filter(|&l| l <= self.data.len())
                        .ok_or("length beyond the message")?;
                    let (value, rest) = self.data.split_at(len);
                    self.data = rest;
                    Value::Bytes(value)
                }
                other => return Err(format!("wire type {other} (groups are not used)")),
            };
            Ok((key >> 3, value))
        };
        let result = field();
        if result.is_err() {
            self.data = &[];
        }
        Some(result)
    }
}

fn fields(data: &[u8]) -> Fields<'_> {
    Fields { data }
}

/// A repeated integer field: packed (bytes) or one value.
fn push_ints(value: Value<'_>, out: &mut Vec<u64>) -> Result<(), String> {
    match value {
        Value::Int(v) => out.push(v),
        Value::Bytes(mut packed) => {
            while !packed.is_empty() {
                out.push(varint(&mut packed)?);
            }
        }
    }
    Ok(())
}

fn int(value: Value<'_>) -> Result<u64, String> {
    match value {
        Value::Int(v) => Ok(v),
        Value::Bytes(_) => Err("bytes where an integer was expected".into()),
    }
}

fn message(value: Value<'_>) -> Result<&[u8], String> {
    match value {
        Value::Bytes(b) => Ok(b),
        Value::Int(_) => Err("an integer where a message was expected".into()),
    }
}

/// Decodes an uncompressed `profile.proto`.
pub fn decode(bytes: &[u8]) -> Result<Profile, String> {
    struct Mapping {
        start: u64,
        offset: u64,
        file: u64,
    }
    let mut profile = Profile::default();
    let mut mappings: HashMap<u64, Mapping> = HashMap::new();
    // Location id -> (mapping id, address, function ids inlined first).
    let mut raw_locations: Vec<(u64, u64, u64, Vec<u64>)> = Vec::new();
    // Function id -> name string index.
    let mut functions: HashMap<u64, u64> = HashMap::new();
    for field in fields(bytes) {
        let (number, value) = field?;
        match number {
            1 => {
                let (mut kind, mut unit) = (0, 0);
                for f in fields(message(value)?) {
                    match f? {
                        (1, v) => kind = int(v)?,
                        (2, v) => unit = int(v)?,
                        _ => {}
                    }
                }
                profile.sample_types.push((kind, unit));
            }
            2 => {
                let (mut ids, mut values) = (Vec::new(), Vec::new());
                for f in fields(message(value)?) {
                    match f? {
                        (1, v) => push_ints(v, &mut ids)?,
                        (2, v) => push_ints(v, &mut values)?,
                        _ => {}
                    }
                }
                profile
                    .samples
                    .push((ids, values.into_iter().map(|v| v as i64).collect()));
            }
            3 => {
                let (mut id, mut m) = (
                    0,
                    Mapping {
                        start: 0,
                        offset: 0,
                        file: 0,
                    },
                );
                for f in fields(message(value)?) {
                    match f? {
                        (1, v) => id = int(v)?,
                        (2, v) => m.start = int(v)?,
                        (4, v) => m.offset = int(v)?,
                        (5, v) => m.file = int(v)?,
                        _ => {}
                    }
                }
                mappings.insert(id, m);
            }
            4 => {
                let (mut id, mut mapping, mut address, mut lines) = (0, 0, 0, Vec::new());
                for f in fields(message(value)?) {
                    match f? {
                        (1, v) => id = int(v)?,
                        (2, v) => mapping = int(v)?,
                        (3, v) => address = int(v)?,
                        (4, v) => {
                            for g in fields(message(v)?) {
                                if let (1, v) = g? {
                                    lines.push(int(v)?);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                raw_locations.push((id, mapping, address, lines));
            }
            5 => {
                let (mut id, mut name) = (0, 0);
                for f in fields(message(value)?) {
                    match f? {
                        (1, v) => id = int(v)?,
                        (2, v) => name = int(v)?,
                        _ => {}
                    }
                }
                functions.insert(id, name);
            }
            6 => profile
                .strings
                .push(String::from_utf8_lossy(message(value)?).into_owned()),
            _ => {}
        }
    }
    let string = |strings: &[String], index: u64| -> Result<String, String> {
        strings
            .get(index as usize)
            .cloned()
            .ok_or_else(|| format!("string index {index} beyond the table"))
    };
    for (id, mapping, address, lines) in raw_locations {
        let mut names = Vec::new();
        for function in lines {
            if let Some(&name) = functions.get(&function) {
                let name = string(&profile.strings, name)?;
                if !name.is_empty() {
                    names.push(name);
                }
            }
        }
        let object = match mappings.get(&mapping) {
            Some(m) => {
                let file = string(&profile.strings, m.file)?;
                let offset = address.wrapping_sub(m.start).wrapping_add(m.offset);
                Some((file, offset))
            }
            None => None,
        };
        if names.is_empty() {
            names.push(match &object {
                Some((file, offset)) => {
                    let base = Path::new(file)
                        .file_name()
                        .map_or(file.clone(), |b| b.to_string_lossy().into_owned());
                    let base = if base.is_empty() { "?".into() } else { base };
                    format!("{base}+{offset:#x}")
                }
                None => format!("{address:#x}"),
            });
        }
        let frames = names
            .into_iter()
            .map(|function| Frame {
                function,
                file: None,
                line: None,
            })
            .collect();
        profile.locations.insert(id, frames);
        if let Some(object) = object {
            profile.objects.insert(id, object);
        }
    }
    for (kind, unit) in &profile.sample_types {
        string(&profile.strings, *kind)?;
        string(&profile.strings, *unit)?;
    }
    Ok(profile)
}

impl Profile {
    /// Names every frame from the binaries on disk where they can: the
    /// function (the static ones too, which `dladdr` cannot see), inlined
    /// calls, file and line. Frames they say nothing about keep their name.
    pub fn symbolize(&mut self) {
        let mut by_file: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
        for (id, (file, offset)) in &self.objects {
            by_file.entry(file).or_default().push((*id, *offset));
        }
        for (file, wanted) in by_file {
            let offsets: Vec<u64> = wanted.iter().map(|&(_, offset)| offset).collect();
            for (&(id, _), found) in wanted.iter().zip(symbolize::frames(file, &offsets)) {
                if let Some(frames) = found {
                    self.locations.insert(id, frames);
                }
            }
        }
    }

    /// The samples with their `sample_type` value, frames named, leaf first.
    pub fn stacks(&self, sample_type: &str) -> Result<Vec<Stack>, String> {
        let column = self
            .sample_types
            .iter()
            .position(|&(kind, _)| self.strings[kind as usize] == sample_type)
            .ok_or_else(|| format!("the profile has no {sample_type} values"))?;
        let mut out = Vec::with_capacity(self.samples.len());
        for (ids, values) in &self.samples {
            let (mut frames, mut places) = (Vec::new(), Vec::new());
            for id in ids {
                let location = self
                    .locations
                    .get(id)
                    .ok_or_else(|| format!("a sample names location {id}, which is missing"))?;
                for frame in location {
                    frames.push(frame.function.clone());
                    places.push(frame.place());
                }
            }
            let value = *values
                .get(column)
                .ok_or("a sample has fewer values than sample types")?;
            out.push(Stack {
                frames,
                places,
                value,
            });
        }
        Ok(out)
    }
}

/// Samples with the same named frames summed (different addresses in one
/// function are one stack here), largest first.
pub fn merge(stacks: &[Stack]) -> Vec<Stack> {
    // Per distinct names: the total, and the largest sample (whose source
    // places the merged stack shows).
    let mut sums: HashMap<&[String], (i64, &Stack)> = HashMap::new();
    for s in stacks {
        let entry = sums.entry(&s.frames).or_insert((0, s));
        entry.0 += s.value;
        if s.value > entry.1.value {
            entry.1 = s;
        }
    }
    let mut out: Vec<Stack> = sums
        .into_iter()
        .filter(|&(_, (v, _))| v > 0)
        .map(|(f, (value, largest))| Stack {
            frames: f.to_vec(),
            places: largest.places.clone(),
            value,
        })
        .collect();
    out.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.frames.cmp(&b.frames)));
    out
}

fn human(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// Frames shown per stack in the table; the rest are counted.
const SHOWN_FRAMES: usize = 8;

/// The table of the `top` largest stacks: share of the total, bytes, frames
/// leaf first (`a < b`: a called from b).
pub fn top_table(label: &str, stacks: &[Stack], top: usize) -> String {
    let merged = merge(stacks);
    let total: i64 = merged.iter().map(|s| s.value).sum();
    let mut out = format!(
        "{label}: {} in {} call stacks (estimated from samples)\n",
        human(total),
        merged.len()
    );
    if total == 0 {
        return out;
    }
    out.push_str(&format!(
        "  {:>6}  {:>10}  call stack, allocating function first\n",
        "share", "bytes"
    ));
    for s in merged.iter().take(top) {
        let shown: Vec<String> = s
            .frames
            .iter()
            .zip(s.places.iter().chain(std::iter::repeat(&None)))
            .take(SHOWN_FRAMES)
            .map(|(name, place)| match place {
                Some(place) => format!("{name} ({place})"),
                None => name.clone(),
            })
            .collect();
        let mut frames = shown.join(" < ");
        if s.frames.len() > SHOWN_FRAMES {
            frames.push_str(&format!(" < ({} more)", s.frames.len() - SHOWN_FRAMES));
        }
        if frames.is_empty() {
            frames = "(no frames)".into();
        }
        let share = 100.0 * s.value as f64 / total as f64;
        out.push_str(&format!(
            "  {share:>5.1}%  {:>10}  {frames}\n",
            human(s.value)
        ));
    }
    if merged.len() > top {
        let rest: i64 = merged[top..].iter().map(|s| s.value).sum();
        out.push_str(&format!(
            "  {:>5.1}%  {:>10}  ({} more stacks)\n",
            100.0 * rest as f64 / total as f64,
            human(rest),
            merged.len() - top
        ));
    }
    out
}

/// A flame graph (inferno) of `stacks`, widths in bytes.
pub fn flame_graph(title: &str, stacks: &[Stack]) -> Result<String, String> {
    // inferno reads "root;...;leaf COUNT" lines: ';' inside a name (a C++
    // signature may hold none, but a path might) would split it.
    let lines: Vec<String> = merge(stacks)
        .iter()
        .map(|s| {
            let names: Vec<String> = s.frames.iter().rev().map(|f| f.replace(';', ":")).collect();
            let names = if names.is_empty() {
                "(no frames)".into()
            } else {
                names.join(";")
            };
            format!("{names} {}", s.value)
        })
        .collect();
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    options.count_name = "bytes".into();
    options.colors =
        inferno::flamegraph::color::Palette::Basic(inferno::flamegraph::color::BasicPalette::Mem);
    options.deterministic = true;
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)
        .map_err(|e| format!("flame graph: {e}"))?;
    String::from_utf8(svg).map_err(|e| format!("flame graph: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile.proto built by hand with the encoder's layout.
    fn encoded() -> Vec<u8> {
        fn key(out: &mut Vec<u8>, field: u64, wire: u64) {
            put(out, (field << 3) | wire);
        }
        fn put(out: &mut Vec<u8>, mut v: u64) {
            while v >= 0x80 {
                out.push(v as u8 | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        fn bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
            key(out, field, 2);
            put(out, b.len() as u64);
            out.extend_from_slice(b);
        }
        fn ints(pairs: &[(u64, u64)]) -> Vec<u8> {
            let mut m = Vec::new();
            for &(f, v) in pairs {
                key(&mut m, f, 0);
                put(&mut m, v);
            }
            m
        }
        let mut p = Vec::new();
        // strings: 0 "", 1 inuse_space, 2 bytes, 3 main, 4 big, 5 /bin/app
        bytes(&mut p, 1, &ints(&[(1, 1), (2, 2)]));
        let packed = |vals: &[u64]| {
            let mut m = Vec::new();
            for &v in vals {
                put(&mut m, v);
            }
            m
        };
        for (locs, value) in [(&[2u64, 1][..], 900u64), (&[1], 100), (&[3, 1], 50)] {
            let mut s = Vec::new();
            bytes(&mut s, 1, &packed(locs));
            bytes(&mut s, 2, &packed(&[value]));
            bytes(&mut p, 2, &s);
        }
        bytes(
            &mut p,
            3,
            &ints(&[(1, 1), (2, 0x1000), (3, 0x2000), (4, 0x400), (5, 5)]),
        );
        for (id, function) in [(1u64, Some(1u64)), (2, Some(2)), (3, None)] {
            let mut l = ints(&[(1, id), (2, 1), (3, 0x1000 + id * 16)]);
            if let Some(f) = function {
                bytes(&mut l, 4, &ints(&[(1, f)]));
            }
            bytes(&mut p, 4, &l);
        }
        bytes(&mut p, 5, &ints(&[(1, 1), (2, 3)]));
        bytes(&mut p, 5, &ints(&[(1, 2), (2, 4)]));
        for s in ["", "inuse_space", "bytes", "main", "big", "/bin/app"] {
            bytes(&mut p, 6, s.as_bytes());
        }
        p
    }

    #[test]
    fn a_profile_is_decoded_and_ranked() {
        let profile = decode(&encoded()).unwrap();
        let stacks = profile.stacks("inuse_space").unwrap();
        assert_eq!(stacks[0].frames, ["big", "main"]);
        // An unnamed frame: its file offset in the mapping's object.
        assert_eq!(stacks[2].frames, ["app+0x430", "main"]);
        let table = top_table("live", &stacks, 2);
        let rows: Vec<&str> = table.lines().collect();
        assert!(
            rows[2].contains("85.7%") && rows[2].ends_with("big < main"),
            "{table}"
        );
        assert!(rows[4].contains("(1 more stacks)"), "{table}");
        assert!(profile.stacks("alloc_space").is_err());
        let svg = flame_graph("live", &stacks).unwrap();
        assert!(svg.contains("big") && svg.contains("<svg"), "{svg}");
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let good = encoded();
        for cut in 1..good.len() {
            // Any prefix either decodes or is refused; none panics.
            let _ = decode(&good[..cut]);
        }
        assert!(decode(&[0x0a, 0xff]).is_err());
        assert!(decode(&[0x0b]).is_err(), "wire type 3");
    }

    #[test]
    fn the_command_line_is_checked_before_anything_is_built() {
        use clap::Parser;
        let parse = |args: &[&str]| crate::cli::Cli::try_parse_from(args);
        for bad in [
            &["gb-bench", "profile"][..],
            &["gb-bench", "profile", "--sample", "0", "--", "true"],
            &["gb-bench", "profile", "--top", "0", "--", "true"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let args = |cli: crate::cli::Cli| match cli.command {
            Some(crate::cli::Sub::Profile(a)) => a,
            other => panic!("{other:?}"),
        };
        let ok = args(parse(&["gb-bench", "profile", "--sample", "4096", "--", "true"]).unwrap());
        assert_eq!((ok.sample, ok.top), (Some(4096), 10));
        validate(&ok).unwrap();
        for (argv, says) in [
            (
                &["gb-bench", "profile", "--", "no-such-program-here"][..],
                "not found",
            ),
            (
                &[
                    "gb-bench",
                    "profile",
                    "--svg",
                    "/nonexistent/x.svg",
                    "--",
                    "true",
                ],
                "no directory",
            ),
            (
                &["gb-bench", "profile", "--pprof", "/tmp", "--", "true"],
                "needs a file name",
            ),
            (
                &[
                    "gb-bench",
                    "profile",
                    "--lib-dir",
                    "/nonexistent",
                    "--",
                    "true",
                ],
                "not found",
            ),
        ] {
            let e = validate(&args(parse(argv).unwrap())).unwrap_err();
            assert!(e.contains(says), "{argv:?}: {e}");
        }
    }

    #[test]
    fn the_peak_svg_sits_beside_the_live_one() {
        assert_eq!(
            peak_svg_path(Path::new("out/heap.svg")),
            Path::new("out/heap.peak.svg")
        );
        assert_eq!(peak_svg_path(Path::new("heap")), Path::new("heap.peak"));
    }
}
