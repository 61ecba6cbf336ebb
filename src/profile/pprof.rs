//! A snapshot as a gzip-compressed pprof `profile.proto` (google/pprof
//! `proto/profile.proto`), laid out as Go's heap profiles are, so
//! `go tool pprof`, Parca and speedscope read it as they read those: sample
//! types `alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space`
//! (default `inuse_space`), period type `space`/`bytes` with the sample
//! interval. Values are the estimates (each sample weighed by the inverse of
//! its probability). Every location carries its address and the mapping
//! (from `/proc/self/maps`, with the object's GNU build ID, see
//! [`super::build_id`]) it falls in, so `pprof` can symbolize later; the
//! function, file and line (inlined calls too) come from the binaries on
//! disk where they say ([`super::symbolize`]: DWARF, then the symbol
//! tables), else from `dladdr`, and each mapping says which it got
//! (`has_functions`, `has_filenames`, `has_line_numbers`,
//! `has_inline_frames`).
//!
//! The file is built after the record's lock is released; Rust's own
//! allocations here go straight to the backend, not through the hooked
//! entry points, and the thread is marked busy anyway.

use std::collections::HashMap;
use std::ffi::CStr;

use super::symbolize::Frame;

use super::record::Snapshot;

/// Protocol buffer wire format, the few pieces a profile needs.
#[derive(Default)]
struct Message {
    bytes: Vec<u8>,
}

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(((field as u64) << 3) | wire_type as u64);
    }

    /// An integer field (omitted when 0, as proto3 does).
    fn uint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, 0);
            self.varint(value);
        }
    }

    fn int(&mut self, field: u32, value: i64) {
        self.uint(field, value as u64);
    }

    fn boolean(&mut self, field: u32, value: bool) {
        self.uint(field, value as u64);
    }

    fn bytes(&mut self, field: u32, value: &[u8]) {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
    }

    fn message(&mut self, field: u32, value: Message) {
        self.bytes(field, &value.bytes);
    }

    fn packed(&mut self, field: u32, values: impl Iterator<Item = u64>) {
        let mut inner = Message::default();
        for value in values {
            inner.varint(value);
        }
        if !inner.bytes.is_empty() {
            self.bytes(field, &inner.bytes);
        }
    }
}

/// The string table: index 0 is "".
struct Strings {
    index: HashMap<String, u64>,
    list: Vec<String>,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            index: HashMap::from([(String::new(), 0)]),
            list: vec![String::new()],
        }
    }

    fn id(&mut self, text: &str) -> u64 {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.list.len() as u64;
        self.list.push(text.to_owned());
        self.index.insert(text.to_owned(), id);
        id
    }
}

struct Mapping {
    start: u64,
    limit: u64,
    offset: u64,
    path: String,
    /// The GNU build ID of the object mapped here, hex ("" if none).
    build_id: String,
    /// Every location in it got a function name here.
    all_named: bool,
    /// ... and a file, and a line (so DWARF also gave its inlined calls).
    all_filed: bool,
    all_lined: bool,
    used: bool,
}

/// Executable mappings of the process, from `/proc/self/maps`.
fn mappings() -> Vec<Mapping> {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut list = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(permissions), Some(offset)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !permissions.contains('x') {
            continue;
        }
        let path = fields.nth(2).unwrap_or("").to_owned();
        let Some((start, limit)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(limit), Ok(offset)) = (
            u64::from_str_radix(start, 16),
            u64::from_str_radix(limit, 16),
            u64::from_str_radix(offset, 16),
        ) else {
            continue;
        };
        list.push(Mapping {
            start,
            limit,
            offset,
            path,
            build_id: String::new(),
            all_named: true,
            all_filed: true,
            all_lined: true,
            used: false,
        });
    }
    list
}

/// The name of the function holding `address`, from the dynamic symbol
/// tables (`dladdr`).
fn symbol(address: u64) -> Option<String> {
    let mut info = libc::Dl_info {
        dli_fname: core::ptr::null(),
        dli_fbase: core::ptr::null_mut(),
        dli_sname: core::ptr::null(),
        dli_saddr: core::ptr::null_mut(),
    };
    // SAFETY: any address may be asked about; info is written on success.
    let found = unsafe { libc::dladdr(address as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_sname.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated name owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_sname) };
    Some(name.to_string_lossy().into_owned())
}

/// Encodes `snapshot` as an uncompressed `profile.proto`.
fn encode(snapshot: &Snapshot, interval: u64) -> Vec<u8> {
    let mut strings = Strings::new();
    let mut profile = Message::default();
    let value_type = |strings: &mut Strings, kind: &str, unit: &str| {
        let mut m = Message::default();
        m.int(1, strings.id(kind) as i64);
        m.int(2, strings.id(unit) as i64);
        m
    };
    for (kind, unit) in [
        ("alloc_objects", "count"),
        ("alloc_space", "bytes"),
        ("inuse_objects", "count"),
        ("inuse_space", "bytes"),
    ] {
        let m = value_type(&mut strings, kind, unit);
        profile.message(1, m);
    }

    let mut maps = mappings();
    // The stacks written, each frame as an address: every frame is a
    // return address (the entry point's frame is not recorded), so the call
    // is the instruction before it.
    let stacks = || {
        snapshot
            .stacks()
            .iter()
            .zip(snapshot.totals())
            .filter(|(_, totals)| totals.inuse_objects != 0.0 || totals.alloc_objects != 0.0)
            .map(|(stack, totals)| {
                let addresses = stack.frames().iter().map(|&f| (f as u64).saturating_sub(1));
                (addresses, totals)
            })
    };
    // Location ids (1-based) in order of first appearance, each with its
    // mapping, and each mapping's locations; then each mapping's file
    // symbolized once for all of its addresses.
    let mut locations: HashMap<u64, u64> = HashMap::new();
    let mut location_list: Vec<(u64, Option<usize>, Vec<Frame>)> = Vec::new();
    let mut by_mapping: Vec<Vec<usize>> = vec![Vec::new(); maps.len()];
    for address in stacks().flat_map(|(addresses, _)| addresses) {
        locations.entry(address).or_insert_with(|| {
            let mapping = maps
                .iter()
                .position(|m| m.start <= address && address < m.limit);
            if let Some(index) = mapping {
                by_mapping[index].push(location_list.len());
            }
            location_list.push((address, mapping, Vec::new()));
            location_list.len() as u64
        });
    }
    for (m, mine) in maps.iter_mut().zip(&by_mapping) {
        if mine.is_empty() {
            continue;
        }
        let offsets: Vec<u64> = mine
            .iter()
            .map(|&l| location_list[l].0 - m.start + m.offset)
            .collect();
        m.used = true;
        for (&l, found) in mine.iter().zip(super::symbolize::frames(&m.path, &offsets)) {
            location_list[l].2 = found.unwrap_or_default();
        }
    }
    for (address, mapping, frames) in &mut location_list {
        if frames.is_empty() {
            if let Some(function) = symbol(*address) {
                frames.push(Frame {
                    function,
                    file: None,
                    line: None,
                });
            }
        }
        if let Some(index) = *mapping {
            let m = &mut maps[index];
            m.all_named &= !frames.is_empty();
            m.all_filed &= !frames.is_empty() && frames.iter().all(|f| f.file.is_some());
            m.all_lined &= !frames.is_empty() && frames.iter().all(|f| f.line.is_some());
        }
    }
    for (addresses, totals) in stacks() {
        let mut sample = Message::default();
        sample.packed(1, addresses.map(|address| locations[&address]));
        let values = [
            totals.alloc_objects,
            totals.alloc_space,
            totals.inuse_objects,
            totals.inuse_space,
        ];
        sample.packed(2, values.iter().map(|&v| v.round() as i64 as u64));
        profile.message(2, sample);
    }

    // Build IDs of the objects behind the used mappings: the object whose
    // loaded segments overlap the mapping (matched by address, not by
    // name: the program's own object has no name in `dl_iterate_phdr`).
    let objects = super::build_id::objects();
    for mapping in maps.iter_mut().filter(|m| m.used) {
        if let Some(object) = objects
            .iter()
            .find(|o| o.overlaps(mapping.start, mapping.limit))
        {
            mapping.build_id.clone_from(&object.build_id);
        }
    }

    // Mappings (ids are 1-based positions among the used ones).
    let mut mapping_ids = vec![0u64; maps.len()];
    let mut next = 1;
    for (index, mapping) in maps.iter().enumerate() {
        if !mapping.used {
            continue;
        }
        mapping_ids[index] = next;
        let mut m = Message::default();
        m.uint(1, next);
        m.uint(2, mapping.start);
        m.uint(3, mapping.limit);
        m.uint(4, mapping.offset);
        m.int(5, strings.id(&mapping.path) as i64);
        m.int(6, strings.id(&mapping.build_id) as i64);
        // has_functions, has_filenames, has_line_numbers and (DWARF gave
        // every location's inlined calls with its lines) has_inline_frames.
        m.boolean(7, mapping.all_named);
        m.boolean(8, mapping.all_filed);
        m.boolean(9, mapping.all_lined);
        m.boolean(10, mapping.all_lined);
        profile.message(3, m);
        next += 1;
    }

    // Locations and functions (one function per distinct name and file).
    let mut functions: HashMap<(String, Option<String>), u64> = HashMap::new();
    let mut function_list: Vec<(String, Option<String>)> = Vec::new();
    for (index, (address, mapping, frames)) in location_list.iter().enumerate() {
        let mut m = Message::default();
        m.uint(1, index as u64 + 1);
        if let Some(mapping) = mapping {
            m.uint(2, mapping_ids[*mapping]);
        }
        m.uint(3, *address);
        for frame in frames {
            let key = (frame.function.clone(), frame.file.clone());
            let function = *functions.entry(key.clone()).or_insert_with(|| {
                function_list.push(key);
                function_list.len() as u64
            });
            let mut line = Message::default();
            line.uint(1, function);
            if let Some(number) = frame.line {
                line.int(2, number as i64);
            }
            m.message(4, line);
        }
        profile.message(4, m);
    }
    for (index, (name, file)) in function_list.iter().enumerate() {
        let mut m = Message::default();
        m.uint(1, index as u64 + 1);
        let id = strings.id(name) as i64;
        m.int(2, id);
        m.int(3, id);
        if let Some(file) = file {
            m.int(4, strings.id(file) as i64);
        }
        profile.message(5, m);
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let period_type = value_type(&mut strings, "space", "bytes");
    let default_type = strings.id("inuse_space") as i64;
    let comment = strings.id(&format!(
        "graphbit-alloc: stacks by {}",
        super::stack::unwinder()
    )) as i64;
    let sampler = strings.id(&format!("graphbit-alloc: samples by {}", super::sampler())) as i64;
    // String table (field 6) after every id was handed out.
    for text in &strings.list {
        profile.bytes(6, text.as_bytes());
    }
    profile.int(9, now);
    profile.message(11, period_type);
    profile.int(12, interval as i64);
    profile.int(13, comment);
    profile.int(13, sampler);
    profile.int(14, default_type);
    profile.bytes
}

/// Writes `snapshot` to `path`, gzip-compressed: 0 or an errno value.
pub(crate) fn write(path: &CStr, snapshot: &Snapshot, interval: u64) -> i32 {
    use std::os::unix::ffi::OsStrExt as _;
    let raw = encode(snapshot, interval);
    let compressed = super::gzip::gzip(&raw);
    drop(raw);
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
    match std::fs::write(path, compressed) {
        Ok(()) => 0,
        Err(error) => error.raw_os_error().unwrap_or(libc::EIO),
    }
}
