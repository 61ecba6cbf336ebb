//! GNU build IDs of the loaded objects, for the profile's mappings: read at
//! dump time from each object's `PT_NOTE` segments (the `NT_GNU_BUILD_ID`
//! note, which the linker places in `.note.gnu.build-id`) as the loader
//! mapped them, found with `dl_iterate_phdr`. No file is opened.
//!
//! The callback runs under the loader's lock and only appends to a `Vec`:
//! the dump's own allocations go straight to the backend (the thread is
//! marked busy, see `super::Busy`), never back into the loader.

use core::ffi::{c_int, c_void};

/// One loaded object: the address ranges of its `PT_LOAD` segments and its
/// build ID, as lowercase hex (the form `readelf -n` and pprof print).
pub(crate) struct Object {
    segments: Vec<(u64, u64)>,
    pub(crate) build_id: String,
}

impl Object {
    /// Whether one of its segments overlaps `[start, limit)`.
    pub(crate) fn overlaps(&self, start: u64, limit: u64) -> bool {
        self.segments.iter().any(|&(s, e)| s < limit && start < e)
    }
}

const NT_GNU_BUILD_ID: u32 = 3;

/// The `NT_GNU_BUILD_ID` descriptor among the notes in `notes`, whose
/// entries are padded to `align` (4 or 8) bytes.
fn find_build_id(notes: &[u8], align: usize) -> Option<&[u8]> {
    let pad = |n: usize| n.checked_add(align - 1).map(|n| n & !(align - 1));
    let word = |at: usize| -> Option<u32> {
        let bytes = notes.get(at..at.checked_add(4)?)?;
        Some(u32::from_ne_bytes(bytes.try_into().ok()?))
    };
    let mut at = 0usize;
    while at.checked_add(12)? <= notes.len() {
        let name_size = word(at)? as usize;
        let desc_size = word(at + 4)? as usize;
        let kind = word(at + 8)?;
        let name_at = at + 12;
        // The descriptor and the next note start at multiples of `align`
        // (from the note's start, which is aligned).
        let desc_at = at.checked_add(pad(name_size.checked_add(12)?)?)?;
        let end = desc_at.checked_add(pad(desc_size)?)?;
        let name = notes.get(name_at..name_at.checked_add(name_size)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(desc_size)?)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" && !desc.is_empty() {
            return Some(desc);
        }
        at = end;
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 15)] as char);
    }
    text
}

extern "C" fn visit(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> c_int {
    // SAFETY: `data` is the Vec that `objects` passed; `info` is the
    // loader's, valid during the callback.
    let (list, info) = unsafe { (&mut *(data as *mut Vec<Object>), &*info) };
    let base = info.dlpi_addr as usize;
    let mut object = Object {
        segments: Vec::new(),
        build_id: String::new(),
    };
    for index in 0..info.dlpi_phnum as usize {
        // SAFETY: dlpi_phnum headers at dlpi_phdr.
        let header = unsafe { &*info.dlpi_phdr.add(index) };
        let start = base.wrapping_add(header.p_vaddr as usize);
        let end = start.wrapping_add(header.p_memsz as usize);
        match header.p_type {
            libc::PT_LOAD => object.segments.push((start as u64, end as u64)),
            libc::PT_NOTE if object.build_id.is_empty() && header.p_memsz > 0 => {
                // SAFETY: a PT_NOTE segment lies inside a PT_LOAD one of
                // the same object (the linker puts it there), so its bytes
                // are mapped and readable while the object is loaded, which
                // it is during the callback.
                let notes = unsafe { core::slice::from_raw_parts(start as *const u8, end - start) };
                let align = if header.p_align == 8 { 8 } else { 4 };
                if let Some(id) = find_build_id(notes, align) {
                    object.build_id = hex(id);
                }
            }
            _ => {}
        }
    }
    if !object.build_id.is_empty() {
        list.push(object);
    }
    0
}

/// The loaded objects that have a build ID.
pub(crate) fn objects() -> Vec<Object> {
    let mut list: Vec<Object> = Vec::new();
    // SAFETY: `visit` only touches the Vec it is given, which outlives the
    // call.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut list as *mut Vec<Object> as *mut c_void) };
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], kind: u32, desc: &[u8], align: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        bytes.extend_from_slice(&(desc.len() as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(name);
        bytes.resize(bytes.len().next_multiple_of(align), 0);
        bytes.extend_from_slice(desc);
        bytes.resize(bytes.len().next_multiple_of(align), 0);
        bytes
    }

    #[test]
    fn finds_the_gnu_build_id_after_other_notes() {
        for align in [4, 8] {
            let mut notes = note(b"GNU\0", 5, &[1, 2, 3, 4, 5, 6, 7, 8], align);
            notes.extend(note(b"Go\0", NT_GNU_BUILD_ID, b"not this", align));
            notes.extend(note(b"GNU\0", NT_GNU_BUILD_ID, &[0xde, 0xad, 0x0b], align));
            let id = find_build_id(&notes, align).map(hex);
            assert_eq!(id.as_deref(), Some("dead0b"), "align {align}");
        }
    }

    #[test]
    fn truncated_or_absent_notes_give_none() {
        let notes = note(b"GNU\0", NT_GNU_BUILD_ID, &[1; 20], 4);
        assert!(find_build_id(&notes[..notes.len() - 1], 4).is_none());
        assert!(find_build_id(&notes[..7], 4).is_none());
        assert!(find_build_id(&[], 4).is_none());
        let mut huge = notes.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(find_build_id(&huge, 4).is_none());
    }

    #[test]
    fn this_test_program_has_one() {
        let me = objects as *const () as usize as u64;
        let list = objects();
        // Linkers on Linux write a build ID by default (Debian's gcc and
        // rustc's link through it pass --build-id).
        let object = list.iter().find(|o| o.overlaps(me, me + 1));
        let object = object.expect("the test binary's build ID");
        assert!(object.build_id.len() >= 16, "{}", object.build_id);
    }
}
