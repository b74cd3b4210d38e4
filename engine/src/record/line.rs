//! A bounded line buffer on the stack, for the fixed-schema parts of EVE records.
//!
//! Contract: [`Line`] appends bytes, decimal numbers and clean JSON strings to an
//! `N`-byte array without allocating and without ever panicking: a write that does not
//! fit (or a string that would need escaping) is not made and marks the line
//! [`overflowed`](Line::overflowed), and the caller then writes the whole record the
//! general way instead. Every write is a bounds check and a copy: literals of known
//! length become a few moves, with no capacity check per field as a `Vec` has, and
//! numbers are written in place.

/// Two decimal digits of each value below 100.
const DIGITS2: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut v = 0;
    while v < 100 {
        t[v] = [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        v += 1;
    }
    t
};

/// Up to `N` bytes of a line being written.
pub(crate) struct Line<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Line<N> {
    /// An empty line.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Line {
            buf: [0; N],
            len: 0,
            overflow: false,
        }
    }

    /// Appends `b` (a literal's length is known where this inlines: the copy is a few
    /// moves).
    #[inline(always)]
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len += b.len();
            }
            None => self.overflow = true,
        }
    }

    /// Appends the first `len` bytes of `b`, copying all `M` of them (a fixed-size copy,
    /// no call for a variable length) when there is room for that.
    #[inline(always)]
    pub(crate) fn prefix<const M: usize>(&mut self, b: &[u8; M], len: usize) {
        let len = len.min(M);
        match self.buf.get_mut(self.len..self.len + M) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len += len;
            }
            None => self.bytes(&b[..len]),
        }
    }

    /// Appends one byte.
    #[inline(always)]
    pub(crate) fn byte(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(dst) => {
                *dst = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Appends `v` in decimal, written in place: small values (ports, counts) take a
    /// table lookup, larger ones four digits per division.
    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        if v < 100 {
            match v {
                0..=9 => self.byte(b'0' + v as u8),
                _ => self.bytes(&DIGITS2[v as usize]),
            }
            return;
        }
        self.u64_long(v);
    }

    #[inline(never)]
    fn u64_long(&mut self, mut v: u64) {
        let n = v.checked_ilog10().map_or(1, |d| d as usize + 1);
        let Some(dst) = self.buf.get_mut(self.len..self.len + n) else {
            self.overflow = true;
            return;
        };
        let mut i = n;
        while v >= 10_000 && i >= 4 {
            let rem = (v % 10_000) as usize;
            v /= 10_000;
            i -= 4;
            let (hi, lo) = (DIGITS2[rem / 100], DIGITS2[rem % 100]);
            dst[i..i + 4].copy_from_slice(&[hi[0], hi[1], lo[0], lo[1]]);
        }
        while v >= 100 && i >= 2 {
            i -= 2;
            dst[i..i + 2].copy_from_slice(&DIGITS2[(v % 100) as usize]);
            v /= 100;
        }
        if v >= 10 && i >= 2 {
            dst[i - 2..i].copy_from_slice(&DIGITS2[v as usize]);
        } else if i >= 1 {
            dst[i - 1] = b'0' + v as u8;
        }
        self.len += n;
    }

    /// Appends `s` as a JSON string (quotes included) when it needs no escaping (what
    /// `serde_json` would write too); marks the line overflowed otherwise.
    #[inline]
    pub(crate) fn clean_str(&mut self, s: &str) {
        if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            self.overflow = true;
            return;
        }
        self.byte(b'"');
        self.bytes(s.as_bytes());
        self.byte(b'"');
    }

    /// True when some write did not fit or could not be made: the line is incomplete.
    #[inline(always)]
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The bytes written.
    #[inline(always)]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_what_fits_and_marks_what_does_not() {
        let mut l = Line::<8>::new();
        l.bytes(b"{\"a\":");
        l.u64(7);
        l.byte(b'}');
        assert_eq!(l.as_bytes(), b"{\"a\":7}");
        assert!(!l.overflowed());
        l.bytes(b"xy");
        assert!(l.overflowed());
        assert_eq!(
            l.as_bytes(),
            b"{\"a\":7}",
            "a write that does not fit is not made"
        );
        let mut l = Line::<4>::new();
        l.u64(12_345);
        assert!(l.overflowed());
        let mut l = Line::<4>::new();
        l.byte(1);
        l.byte(2);
        l.byte(3);
        l.byte(4);
        assert!(!l.overflowed());
        l.byte(5);
        assert!(l.overflowed());
    }

    #[test]
    fn a_prefix_copies_a_whole_array_when_it_fits_and_only_the_prefix_otherwise() {
        let mut l = Line::<6>::new();
        l.prefix(b"abcd", 2);
        assert_eq!(l.as_bytes(), b"ab");
        // Four more bytes fit (2 + 4 = 6): the whole array is copied, two are kept.
        l.prefix(b"cdef", 2);
        assert_eq!(l.as_bytes(), b"abcd");
        // Only two bytes are left: the prefix alone is copied.
        l.prefix(b"efgh", 2);
        assert_eq!(l.as_bytes(), b"abcdef");
        assert!(!l.overflowed());
        l.prefix(b"gh", 1);
        assert!(l.overflowed());
    }

    #[test]
    fn strings_that_need_escaping_are_refused() {
        let mut l = Line::<64>::new();
        l.clean_str("http");
        assert_eq!(l.as_bytes(), b"\"http\"");
        for bad in ["a\"b", "a\\b", "a\nb", "\u{1}"] {
            let mut l = Line::<64>::new();
            l.clean_str(bad);
            assert!(l.overflowed(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn numbers_are_written_as_itoa_writes_them(v in any::<u64>(), small in 0u64..1000) {
            for v in [v, small, 0, 9, 10, 99, 100, u64::MAX] {
                let mut l = Line::<32>::new();
                l.u64(v);
                let mut want = itoa::Buffer::new();
                prop_assert_eq!(l.as_bytes(), want.format(v).as_bytes());
            }
        }
    }
}
