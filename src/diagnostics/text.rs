//! Text without allocating: one fixed-buffer writer ([`Text`]) for every
//! message and report the library formats (into the caller's buffer, onto
//! the stack, into a static), and the helpers for C strings.

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::fmt::{self, Write};
use std::sync::Once;

/// A `fmt::Write` into a fixed byte buffer `B` (an array it owns, or a
/// caller's slice), with `snprintf`'s rules: it copies what fits, keeping a
/// byte for the NUL, and counts everything, so one pass both fills the
/// buffer and learns the length needed. It never fails and never allocates.
pub(crate) struct Text<B> {
    buf: B,
    len: usize,
}

impl<const N: usize> Text<[u8; N]> {
    /// An empty text in a buffer of its own (on the stack, or in a static).
    pub(crate) const fn new() -> Self {
        Text {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<'a> Text<&'a mut [u8]> {
    /// An empty text over a caller's buffer of `buf_len` bytes.
    ///
    /// # Safety
    /// `buf` is NULL (nothing is written then) or valid for writes of
    /// `buf_len` bytes for `'a`.
    pub(crate) unsafe fn over_raw(buf: *mut u8, buf_len: usize) -> Self {
        let buf: &'a mut [u8] = if buf.is_null() {
            &mut []
        } else {
            // SAFETY: the caller's contract.
            unsafe { core::slice::from_raw_parts_mut(buf, buf_len) }
        };
        Text { buf, len: 0 }
    }
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> Text<B> {
    /// The full length of what was written, whether it fitted or not.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes that fitted (at most the buffer's size less one).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        let kept = self.len.min(self.buf.as_ref().len().saturating_sub(1));
        &self.buf.as_ref()[..kept]
    }

    /// Ends the text as `snprintf` would not quite: the text and a NUL when
    /// all of it fitted, otherwise an empty string, so that no truncated text
    /// is ever read. Returns the full length, without the NUL.
    pub(crate) fn finish(mut self) -> usize {
        let (len, buf) = (self.len, self.buf.as_mut());
        if !buf.is_empty() {
            let at = if len < buf.len() { len } else { 0 };
            buf[at] = 0;
        }
        len
    }

    /// The text that fitted followed by a newline (in the byte kept for the
    /// NUL), for one `write(2)` of a whole line.
    #[allow(dead_code)] // checked mode's messages
    pub(crate) fn as_line(&mut self) -> &[u8] {
        let end = self.as_bytes().len();
        let buf = self.buf.as_mut();
        if buf.is_empty() {
            return b"";
        }
        buf[end] = b'\n';
        &buf[..=end]
    }

    /// The text that fitted, NUL-terminated (cut at a byte, not a character,
    /// boundary).
    pub(crate) fn as_c_str(&mut self) -> &CStr {
        let end = self.as_bytes().len();
        let buf = self.buf.as_mut();
        if buf.is_empty() {
            return c"";
        }
        buf[end] = 0;
        CStr::from_bytes_until_nul(&buf[..=end]).unwrap_or(c"")
    }
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> Write for Text<B> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let buf = self.buf.as_mut();
        let room = buf
            .len()
            .saturating_sub(1)
            .saturating_sub(self.len.min(buf.len()));
        let copy = room.min(text.len());
        if copy > 0 {
            buf[self.len..self.len + copy].copy_from_slice(&text.as_bytes()[..copy]);
        }
        self.len = self.len.saturating_add(text.len());
        Ok(())
    }
}

/// A NUL-terminated string in a static buffer, formatted once on first use:
/// for version strings that must be `&'static CStr` without allocating.
#[allow(dead_code)] // the backends whose version string is not static use it
pub(crate) struct StaticText<const N: usize> {
    once: Once,
    text: UnsafeCell<Text<[u8; N]>>,
}

// SAFETY: `text` is written only inside `once.call_once`, before any reader
// (every reader goes through `call_once` first, which orders the write
// before the read); afterwards it is only read.
unsafe impl<const N: usize> Sync for StaticText<N> {}

#[allow(dead_code)] // as above
impl<const N: usize> StaticText<N> {
    pub(crate) const fn new() -> Self {
        StaticText {
            once: Once::new(),
            text: UnsafeCell::new(Text::new()),
        }
    }

    /// The text `fill` writes (cut to `N - 1` bytes), formatted on the first
    /// call.
    pub(crate) fn get(&'static self, fill: impl FnOnce(&mut dyn Write)) -> &'static CStr {
        self.once.call_once(|| {
            // SAFETY: nobody reads the text yet.
            let text = unsafe { &mut *self.text.get() };
            fill(text);
            let _ = text.as_c_str();
        });
        // SAFETY: written once above, read-only from now on.
        let text: &'static Text<[u8; N]> = unsafe { &*self.text.get() };
        CStr::from_bytes_until_nul(&text.buf).unwrap_or(c"")
    }
}

/// A C string shown as text, invalid UTF-8 replaced by U+FFFD.
pub(crate) struct Lossy<'a>(pub &'a CStr);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_c_str(f, self.0)
    }
}

/// Writes a C string's text, invalid UTF-8 replaced by U+FFFD.
pub(crate) fn write_c_str(out: &mut dyn Write, text: &CStr) -> fmt::Result {
    for chunk in text.to_bytes().utf8_chunks() {
        out.write_str(chunk.valid())?;
        if !chunk.invalid().is_empty() {
            out.write_char(char::REPLACEMENT_CHARACTER)?;
        }
    }
    Ok(())
}

/// Where a backend's report callback (jemalloc's `malloc_stats_print`,
/// mimalloc's `mi_stats_print_out`) writes: text goes to `out` until a write
/// fails, and the first failure is kept for the caller.
#[allow(dead_code)] // the backends with a report callback use it
pub(crate) struct CallbackSink<'a> {
    out: &'a mut dyn Write,
    /// Ok, or the first write that failed.
    pub(crate) result: fmt::Result,
}

#[allow(dead_code)] // as above
impl<'a> CallbackSink<'a> {
    pub(crate) fn new(out: &'a mut dyn Write) -> Self {
        CallbackSink {
            out,
            result: Ok(()),
        }
    }

    /// The body of the C callback: `sink` is the opaque pointer the
    /// backend passes back, `text` the piece of report it passes.
    ///
    /// # Safety
    /// `sink` points to a live `CallbackSink`; `text` is NUL-terminated.
    pub(crate) unsafe fn accept(sink: *mut core::ffi::c_void, text: *const core::ffi::c_char) {
        // SAFETY: the caller's contract.
        let (sink, text) = unsafe { (&mut *sink.cast::<CallbackSink<'_>>(), CStr::from_ptr(text)) };
        if sink.result.is_ok() {
            sink.result = write_c_str(sink.out, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(text: &str, buf_len: usize) -> (usize, Vec<u8>) {
        let mut buf = vec![b'x'; buf_len + 4];
        // SAFETY: buf holds buf_len (+4) bytes.
        let mut out = unsafe { Text::over_raw(buf.as_mut_ptr(), buf_len) };
        out.write_str(text).unwrap();
        (out.finish(), buf)
    }

    #[test]
    fn text_keeps_snprintf_rules() {
        let (len, buf) = counted("hello", 6);
        assert_eq!((len, &buf[..7]), (5, &b"hello\0x"[..]));
        let (len, buf) = counted("hello", 5);
        assert_eq!((len, buf[0]), (5, 0));
        assert_eq!(&buf[5..], b"xxxx", "nothing written past buf_len");
        let (len, buf) = counted("hello", 0);
        assert_eq!((len, buf[0]), (5, b'x'));
        // SAFETY: a NULL buffer is never written.
        let mut out = unsafe { Text::over_raw(core::ptr::null_mut(), 100) };
        out.write_str("abc").unwrap();
        assert_eq!(out.finish(), 3);
    }

    #[test]
    fn text_on_the_stack_is_cut_to_fit() {
        let mut text = Text::<[u8; 8]>::new();
        let _ = write!(text, "{}-{}", 1234, 56789);
        assert_eq!(text.len(), 10);
        assert_eq!(text.as_bytes(), b"1234-56");
        assert_eq!(text.as_c_str(), c"1234-56");
    }

    #[test]
    fn static_text_is_formatted_once_and_cut_to_fit() {
        static TEXT: StaticText<8> = StaticText::new();
        let first = TEXT.get(|out| {
            let _ = write!(out, "{}-{}", 1234, 56789);
        });
        assert_eq!(first, c"1234-56");
        assert_eq!(TEXT.get(|_| unreachable!()), c"1234-56");
    }
}
