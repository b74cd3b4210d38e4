//! A small JSON text writer for events on the hot path.
//!
//! Contract: [`write_str`] appends a JSON string literal exactly as `serde_json` writes
//! it (the same escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control bytes
//! as `\u00XX`; everything else, non-ASCII included, as is), but scans eight bytes at
//! a time and copies clean runs whole (a string with nothing to escape, the common
//! case, in one copy); [`write_utf8`] does the same for text held as bytes. [`Object`] writes one JSON object field by
//! field (nested objects and arrays of objects included); its keys are the caller's literals and are not escaped (they must not need
//! it). Nothing here allocates beyond growing the output vector.

/// Appends `s` as a JSON string literal (quotes included) to `out`.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_utf8(out, s.as_bytes());
}

/// Appends `b`, UTF-8 text the caller vouches for (not checked: the escapes look at
/// ASCII bytes only, so other bytes go out as they are), as a JSON string literal,
/// exactly as [`write_str`] writes the same text. For text kept as bytes (built from
/// `&str` pieces and ASCII) that would cost a UTF-8 validation to see as `&str`.
pub fn write_utf8(out: &mut Vec<u8>, b: &[u8]) {
    if clean(b) {
        // The common case: nothing to escape, one copy.
        out.reserve(b.len() + 2);
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
    } else {
        write_escaped(out, b);
    }
}

/// True when no byte of `b` needs an escape in a JSON string: words of eight bytes,
/// the last one overlapping the others; shorter strings as two overlapping halves, or
/// (below four bytes) their first, middle and last byte, which are all of them. Text
/// checked whole once can then be written in pieces with [`Object::clean`].
#[inline(always)]
pub fn clean(b: &[u8]) -> bool {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let n = b.len();
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if needs_escape(word(b, i)) {
                return false;
            }
            i += 8;
        }
        !needs_escape(word(b, n - 8))
    } else if n >= 4 {
        let half = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&b[at..at + 4]);
            u64::from(u32::from_le_bytes(w))
        };
        !needs_escape(half(0) | half(n - 4) << 32)
    } else if n > 0 {
        let w = u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16;
        !needs_escape(w | SPACES << 24)
    } else {
        true
    }
}

/// The eight bytes of `b` from `at` (which must be in range) as one word.
#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The general case of [`write_utf8`]: clean runs copied whole, escapes between them.
#[cold]
fn write_escaped(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        // Fast path: skip eight clean bytes at once.
        if i + 8 <= b.len() && !needs_escape(word(b, i)) {
            i += 8;
            continue;
        }
        let c = b[i];
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&b[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xf)]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// True when some byte of `w` is a control byte, `"` or `\`.
#[inline(always)]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below 0x20 (the high bit of the byte itself excluded: non-ASCII is clean).
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    below | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) != 0
}

/// One JSON object being written to a byte vector.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    /// Opens an object (`{`) at the end of `out`.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes `"k":` (after a comma when a field came before). `k` is not escaped.
    /// Always inlined: keys are literals, so the copy becomes a few moves instead of a
    /// call.
    #[inline(always)]
    pub fn key(&mut self, k: &str) -> &mut Vec<u8> {
        self.out.reserve(k.len() + 4);
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string field.
    #[inline(always)]
    pub fn str(&mut self, k: &str, v: &str) {
        let out = self.key(k);
        write_str(out, v);
    }

    /// A string field, left out when `v` is `None`.
    #[inline(always)]
    pub fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    /// A string field of UTF-8 text with nothing to escape (as [`clean`] found it, the
    /// caller vouches for it; not checked again), left out when `v` is `None`.
    #[inline(always)]
    pub fn opt_clean_utf8(&mut self, k: &str, v: Option<&[u8]>) {
        if let Some(v) = v {
            self.clean(k, v);
        }
    }

    /// A string field of text with nothing to escape (the caller vouches for it:
    /// ASCII names, digits, hex; checked in debug builds only), copied as it is.
    #[inline(always)]
    pub fn clean(&mut self, k: &str, v: &[u8]) {
        debug_assert!(clean(v), "{v:?} needs escapes");
        let out = self.key(k);
        out.reserve(v.len() + 2);
        out.push(b'"');
        out.extend_from_slice(v);
        out.push(b'"');
    }

    /// A string field of UTF-8 text held as bytes (see [`write_utf8`]).
    #[inline(always)]
    pub fn utf8(&mut self, k: &str, v: &[u8]) {
        let out = self.key(k);
        write_utf8(out, v);
    }

    /// A string field of UTF-8 text held as bytes (see [`write_utf8`]), left out when
    /// `v` is `None`.
    #[inline(always)]
    pub fn opt_utf8(&mut self, k: &str, v: Option<&[u8]>) {
        if let Some(v) = v {
            let out = self.key(k);
            write_utf8(out, v);
        }
    }

    /// An unsigned number field.
    #[inline(always)]
    pub fn u64(&mut self, k: &str, v: u64) {
        let out = self.key(k);
        if v < 10 {
            out.push(b'0' + v as u8);
        } else if v < 100_000_000 {
            // Eight bytes at once (a fixed-size copy), the digits' count kept.
            let (text, n) = super::line::short_text(v as u32);
            let len = out.len();
            out.extend_from_slice(&text.to_le_bytes());
            out.truncate(len + n);
        } else {
            out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        }
    }

    /// A boolean field.
    #[inline(always)]
    pub fn bool(&mut self, k: &str, v: bool) {
        let out = self.key(k);
        out.extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// Opens an object under `k`; close it before writing to this one again.
    pub fn object(&mut self, k: &str) -> Object<'_> {
        Object::open(self.key(k))
    }

    /// Opens an array under `k`; close it before writing to this object again.
    pub fn array(&mut self, k: &str) -> Array<'_> {
        Array::open(self.key(k))
    }

    /// Closes the object (`}`).
    pub fn close(self) {
        self.out.push(b'}');
    }
}

/// One JSON array (of objects, or of strings) being written to a byte vector.
pub struct Array<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Array<'a> {
    /// Opens an array (`[`) at the end of `out`.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'[');
        Array { out, first: true }
    }

    /// Opens the next element, an object; close it before the next element.
    pub fn object(&mut self) -> Object<'_> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        Object::open(self.out)
    }

    /// Writes the next element, a string (escaped as [`write_str`] does).
    pub fn str(&mut self, v: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, v);
    }

    /// Closes the array (`]`).
    pub fn close(self) {
        self.out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_serde_json() {
        for s in [
            "",
            "plain",
            "exactly8",
            "a\"b\\c/d",
            "tab\there\nnew\rline\u{8}\u{c}",
            "\u{0}\u{1}\u{1f} \u{7f}",
            "héllo wörld ✓ with a long enough tail to use the fast path",
            "0123456789abcdef\"0123456789abcdef\\",
        ] {
            assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn object_fields_in_order() {
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        o.str("a", "x\"y");
        o.opt_str("skipped", None);
        o.opt_str("b", Some("z"));
        o.u64("n", 42);
        o.close();
        assert_eq!(out, br#"{"a":"x\"y","b":"z","n":42}"#);
    }

    #[test]
    fn nested_objects_and_arrays() {
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        o.bool("t", true);
        let mut a = o.array("list");
        for i in 0..2 {
            let mut e = a.object();
            e.u64("i", i);
            e.close();
        }
        a.close();
        let empty = o.array("none");
        empty.close();
        let mut s = o.array("strs");
        s.str("a");
        s.str("b\"c");
        s.close();
        let mut c = o.object("child");
        c.bool("f", false);
        c.close();
        o.u64("after", 1);
        o.close();
        assert_eq!(
            out,
            br#"{"t":true,"list":[{"i":0},{"i":1}],"none":[],"strs":["a","b\"c"],"child":{"f":false},"after":1}"#
        );
    }

    #[test]
    fn bytes_are_written_as_their_text() {
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        o.opt_utf8("a", Some("x\"y é".as_bytes()));
        o.opt_utf8("skipped", None);
        o.opt_utf8("b", Some(b""));
        o.utf8("c", b"z");
        assert!(clean(b"plain text, long enough") && !clean(b"a\"b"));
        o.opt_clean_utf8("d", Some(b"plain"));
        o.opt_clean_utf8("e", None);
        o.close();
        assert_eq!(
            out,
            r#"{"a":"x\"y é","b":"","c":"z","d":"plain"}"#.as_bytes()
        );
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in any::<String>()) {
            prop_assert_eq!(ours(&s), serde_json::to_string(&s).unwrap());
            let mut bytes = Vec::new();
            write_utf8(&mut bytes, s.as_bytes());
            prop_assert_eq!(String::from_utf8(bytes).unwrap(), ours(&s));
        }

        /// Every length around the word size, with one special byte anywhere (or none):
        /// the word-at-a-time check and its overlapping tail see it.
        #[test]
        fn one_special_byte_anywhere_is_escaped(
            len in 0usize..40,
            at in 0usize..40,
            special in prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, Just(b'a')],
        ) {
            let mut b = vec![b'x'; len];
            if len > 0 {
                b[at % len] = special;
            }
            let s = String::from_utf8(b).unwrap();
            prop_assert_eq!(ours(&s), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn ascii_with_specials_is_written_as_serde_json_writes_it(
            s in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..0x7f], 0..64)
        ) {
            let s = String::from_utf8(s).unwrap();
            prop_assert_eq!(ours(&s), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn numbers_are_written_as_serde_json_writes_them(v in any::<u64>(), shift in 0u32..64) {
            for v in [v, v >> shift, 0, 9, 10, 99_999_999, 100_000_000, u64::MAX] {
                let mut out = Vec::new();
                let mut o = Object::open(&mut out);
                o.u64("n", v);
                o.u64("m", v >> 1);
                o.close();
                let want = format!("{{\"n\":{},\"m\":{}}}", v, v >> 1);
                prop_assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
    }
}
