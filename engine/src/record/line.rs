//! A bounded line buffer, for the fixed-schema parts of EVE records.
//!
//! Contract: [`Line`] appends bytes, decimal numbers, EVE times, addresses and clean
//! JSON strings to a borrowed `N`-byte array (the writer keeps one and reuses it, so
//! starting a line neither allocates nor clears anything) without ever panicking: a
//! write that does not fit (or a string that would need escaping) is not made and
//! marks the line [`overflowed`](Line::overflowed), and the caller then writes the
//! whole record the general way instead. Every write is one bounds check and a copy:
//! literals of known length become a few moves, and numbers, times and addresses are
//! written in place with fixed-size stores (the bytes past the line's end that such a
//! store leaves are never part of the line).
//!
//! Numbers are converted eight digits at a time with SIMD-within-a-register
//! arithmetic (the digits of `x < 10^8` split into halves, quarters and single digits
//! with multiplications by reciprocals, each lane of a `u64` holding one part), the
//! same digits `itoa` writes (the tests compare the two on any value).

use crate::time::{digits8, EveClock, Timestamp};

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

/// `'0'` in every byte.
const ASCII_ZEROS: u64 = crate::time::ASCII_ZEROS;

/// The decimal text of `v` (`0 < v < 10^8`) left-aligned in the little-endian
/// bytes of a `u64`, and its length.
#[inline(always)]
pub(crate) fn short_text(v: u32) -> (u64, usize) {
    let d = digits8(v);
    // Leading zero digits are zero bytes at the low end (v > 0: some byte is not).
    let lz = (d.trailing_zeros() / 8) as usize;
    ((d | ASCII_ZEROS) >> (lz * 8), 8 - lz)
}

/// The decimal text of `v >= 10^8` (left-aligned, 9 to 20 bytes) and its length: the
/// digits above the last eight (above the last sixteen too for values of 10^16 and
/// more), then the rest in conversions of eight. Out of line, and not a method of
/// [`Line`], so the line's length can stay in a register where numbers are written.
#[inline(never)]
fn long_text(v: u64) -> ([u8; 24], usize) {
    const E8: u64 = 100_000_000;
    let (hi, lo) = (v / E8, v % E8);
    let lo = digits8(lo as u32) | ASCII_ZEROS;
    let mut out = [0u8; 24];
    if hi < E8 {
        let (h, n) = short_text(hi as u32);
        let text = u128::from(h) | u128::from(lo) << (n * 8);
        out[..16].copy_from_slice(&text.to_le_bytes());
        return (out, n + 8);
    }
    // Up to 1844 above the last sixteen digits.
    let (top, n) = short_text((hi / E8) as u32);
    let mid = digits8((hi % E8) as u32) | ASCII_ZEROS;
    out[..8].copy_from_slice(&top.to_le_bytes());
    out[n..n + 8].copy_from_slice(&mid.to_le_bytes());
    out[n + 8..n + 16].copy_from_slice(&lo.to_le_bytes());
    (out, n + 16)
}

/// A line being written into a borrowed buffer.
pub(crate) struct Line<'a, const N: usize> {
    buf: &'a mut [u8; N],
    len: usize,
    overflow: bool,
}

impl<'a, const N: usize> Line<'a, N> {
    /// An empty line over `buf` (whose old contents do not matter).
    #[inline(always)]
    pub(crate) fn new(buf: &'a mut [u8; N]) -> Self {
        Line {
            buf,
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

    /// Appends `v` in decimal, written in place: values below 100 (ports, counts) take
    /// a table lookup, values below 10^8 one conversion of eight digits.
    #[inline(always)]
    pub(crate) fn u64(&mut self, v: u64) {
        if v < 100 {
            match v {
                0..=9 => self.byte(b'0' + v as u8),
                _ => self.bytes(&DIGITS2[v as usize]),
            }
        } else if v < 100_000_000 {
            let (text, n) = short_text(v as u32);
            self.prefix(&text.to_le_bytes(), n);
        } else {
            let (text, n) = long_text(v);
            self.prefix(&text, n);
        }
    }

    /// As [`u64`](Self::u64), for values that almost always have nine to sixteen
    /// digits (flow ids): those are written in place, the digits above the last eight
    /// and then those eight, one store each.
    #[inline(always)]
    pub(crate) fn u64_wide(&mut self, v: u64) {
        const E8: u64 = 100_000_000;
        if !(E8..E8 * E8).contains(&v) {
            self.u64(v);
            return;
        }
        let (hi, n) = short_text((v / E8) as u32);
        let lo = digits8((v % E8) as u32) | ASCII_ZEROS;
        let at = self.len;
        match self.buf.get_mut(at..at + 16) {
            Some(dst) => {
                dst[..8].copy_from_slice(&hi.to_le_bytes());
                if let Some(d) = dst.get_mut(n..n + 8) {
                    d.copy_from_slice(&lo.to_le_bytes());
                }
                self.len += n + 8;
            }
            None => {
                let (text, n) = long_text(v);
                self.prefix(&text, n);
            }
        }
    }

    /// Appends `t` as EVE writes times (`2016-03-01T11:02:03.123456+0000`), the date
    /// and time of day taken from `clock` when it has the second; returns `t`'s whole
    /// seconds.
    #[inline(always)]
    pub(crate) fn time(&mut self, t: Timestamp, clock: &mut EveClock) -> u64 {
        let at = self.len;
        match self
            .buf
            .get_mut(at..at + Timestamp::EVE_LEN)
            .and_then(|d| <&mut [u8; Timestamp::EVE_LEN]>::try_from(d).ok())
        {
            Some(dst) => {
                self.len += Timestamp::EVE_LEN;
                clock.write(t, dst)
            }
            None => {
                self.overflow = true;
                t.secs()
            }
        }
    }

    /// Appends an IPv4 address in dotted decimal.
    #[inline(always)]
    pub(crate) fn ipv4(&mut self, octets: [u8; 4]) {
        // Each octet's digits and a dot, four bytes from a table; the last dot is not
        // counted. At most 16 bytes are stored.
        let at = self.len;
        match self
            .buf
            .get_mut(at..at + 16)
            .and_then(|d| <&mut [u8; 16]>::try_from(d).ok())
        {
            Some(dst) => {
                let mut n = 0;
                for o in octets {
                    let (digits, len) = DEC_DOT[usize::from(o)];
                    if let Some(d) = dst.get_mut(n..n + 4) {
                        d.copy_from_slice(&digits.to_le_bytes());
                    }
                    n += usize::from(len);
                }
                self.len += n - 1;
            }
            None => {
                for (i, o) in octets.into_iter().enumerate() {
                    if i > 0 {
                        self.byte(b'.');
                    }
                    self.u64(u64::from(o));
                }
            }
        }
    }

    /// Appends an IPv6 address in full: eight groups of four lowercase hex digits.
    #[inline(always)]
    pub(crate) fn ipv6_full(&mut self, octets: [u8; 16]) {
        const LEN: usize = 39;
        let at = self.len;
        match self
            .buf
            .get_mut(at..at + LEN)
            .and_then(|d| <&mut [u8; LEN]>::try_from(d).ok())
        {
            Some(dst) => {
                for (i, pair) in octets.chunks_exact(2).enumerate() {
                    let g = &mut dst[i * 5..i * 5 + 4];
                    g[..2].copy_from_slice(&HEX_BYTE[usize::from(pair[0])]);
                    g[2..].copy_from_slice(&HEX_BYTE[usize::from(pair[1])]);
                    if i < 7 {
                        dst[i * 5 + 4] = b':';
                    }
                }
                self.len += LEN;
            }
            None => self.overflow = true,
        }
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

    /// Appends a short text kept padded (see [`Padded`]).
    #[inline(always)]
    pub(crate) fn padded(&mut self, p: &Padded) {
        self.prefix(&p.0, usize::from(p.1));
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

/// A text of at most 16 bytes padded with zeros to 16, and its length: copied as one
/// fixed-size block (for names and other fixed pieces of records).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Padded(pub(crate) [u8; 16], pub(crate) u8);

impl Padded {
    /// `s` padded (at compile time; `s` must be at most 16 bytes).
    pub(crate) const fn new(s: &str) -> Padded {
        let b = s.as_bytes();
        assert!(b.len() <= 16);
        let mut out = [0u8; 16];
        let mut i = 0;
        while i < b.len() {
            out[i] = b[i];
            i += 1;
        }
        Padded(out, b.len() as u8)
    }

    /// `s` in quotes, padded (`s` must be at most 14 bytes and need no escaping).
    pub(crate) const fn quoted(s: &str) -> Padded {
        let b = s.as_bytes();
        assert!(b.len() <= 14);
        let mut out = [0u8; 16];
        out[0] = b'"';
        let mut i = 0;
        while i < b.len() {
            assert!(b[i] >= 0x20 && b[i] != b'"' && b[i] != b'\\');
            out[i + 1] = b[i];
            i += 1;
        }
        out[i + 1] = b'"';
        Padded(out, b.len() as u8 + 2)
    }

    /// The text.
    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0[..usize::from(self.1)]
    }
}

/// Each byte value's decimal digits followed by a dot (little-endian, the first digit
/// lowest), and their count with the dot.
const DEC_DOT: [(u32, u8); 256] = {
    let mut t = [(0u32, 0u8); 256];
    let mut v = 0;
    while v < 256 {
        let b = v as u32;
        let (h, d, u) = (b / 100, (b / 10) % 10, b % 10);
        let dot = b'.' as u32;
        let zero = b'0' as u32;
        t[v] = if b >= 100 {
            (
                (h + zero) | (d + zero) << 8 | (u + zero) << 16 | dot << 24,
                4,
            )
        } else if b >= 10 {
            ((d + zero) | (u + zero) << 8 | dot << 16, 3)
        } else {
            ((u + zero) | dot << 8, 2)
        };
        v += 1;
    }
    t
};

/// Each byte value as two lowercase hex digits.
pub(crate) const HEX_BYTE: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut v = 0;
    while v < 256 {
        t[v] = [HEX[v >> 4], HEX[v & 0xf]];
        v += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_what_fits_and_marks_what_does_not() {
        let mut b = [0u8; 8];
        let mut l = Line::new(&mut b);
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
        for v in [12_345, 123_456_789, u64::MAX] {
            let mut b = [0u8; 4];
            let mut l = Line::new(&mut b);
            l.u64(v);
            assert!(l.overflowed());
            assert_eq!(l.as_bytes(), b"");
        }
        let mut b = [0u8; 4];
        let mut l = Line::new(&mut b);
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
        let mut b = [0u8; 6];
        let mut l = Line::new(&mut b);
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
        let mut b = [0u8; 64];
        let mut l = Line::new(&mut b);
        l.clean_str("http");
        assert_eq!(l.as_bytes(), b"\"http\"");
        for bad in ["a\"b", "a\\b", "a\nb", "\u{1}"] {
            let mut b = [0u8; 64];
            let mut l = Line::new(&mut b);
            l.clean_str(bad);
            assert!(l.overflowed(), "{bad:?}");
        }
    }

    #[test]
    fn padded_texts() {
        let p = Padded::quoted("closed");
        assert_eq!(p.as_bytes(), b"\"closed\"");
        assert_eq!(Padded::new(",\"syn\":true").as_bytes(), b",\"syn\":true");
        let mut b = [0u8; 10];
        let mut l = Line::new(&mut b);
        l.padded(&p);
        assert_eq!(l.as_bytes(), b"\"closed\"");
        // No room for the padding: the text alone fits.
        l.padded(&Padded::new("xy"));
        assert_eq!(l.as_bytes(), b"\"closed\"xy");
        assert!(!l.overflowed());
    }

    #[test]
    fn eight_digits_at_once() {
        for x in [
            0, 1, 9, 10, 99, 100, 12_345_678, 99_999_999, 10_000_000, 43_699,
        ] {
            let want = format!("{x:08}");
            let got = (digits8(x) | ASCII_ZEROS).to_le_bytes();
            assert_eq!(&got[..], want.as_bytes(), "{x}");
        }
        // Every value of each four-digit half (the lanes the others reuse).
        for x in 0..10_000u32 {
            for y in [x, x * 10_000, x * 10_000 + 9_999 - x] {
                let want = format!("{y:08}");
                let got = (digits8(y) | ASCII_ZEROS).to_le_bytes();
                assert_eq!(&got[..], want.as_bytes(), "{y}");
            }
        }
    }

    #[test]
    fn addresses_are_written_as_std_writes_them() {
        for v in 0..=255u8 {
            for a in [
                [v, 0, 9, 255],
                [10, v, 100, 1],
                [255, 99, v, 7],
                [1, 2, 3, v],
            ] {
                let mut b = [0u8; 64];
                let mut l = Line::new(&mut b);
                l.ipv4(a);
                let want = std::net::Ipv4Addr::from(a).to_string();
                assert_eq!(l.as_bytes(), want.as_bytes());
                // Exactly enough room (no slack for the fixed-size store) still works.
                let mut b = [0u8; 15];
                let mut small = Line::new(&mut b);
                small.bytes(&[b'x'; 15][..15 - want.len()]);
                small.ipv4(a);
                assert!(!small.overflowed());
                assert!(small.as_bytes().ends_with(want.as_bytes()));
            }
        }
        let mut b = [0u8; 64];
        let mut l = Line::new(&mut b);
        l.ipv6_full([
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x0c, 0x29, 0xff, 0xfe, 0xf3, 0xcf, 0x38,
        ]);
        assert_eq!(l.as_bytes(), b"fe80:0000:0000:0000:020c:29ff:fef3:cf38");
        let mut b = [0u8; 38];
        let mut l = Line::new(&mut b);
        l.ipv6_full([0; 16]);
        assert!(l.overflowed());
    }

    #[test]
    fn times_are_written_as_timestamps_display() {
        let mut clock = EveClock::new();
        for t in [
            Timestamp::ZERO,
            Timestamp::from_secs_micros(1_456_790_399, 999_999),
            Timestamp::from_secs_micros(1_456_790_400, 1),
            Timestamp::from_secs_nanos(1_700_000_000, 123_456_789),
        ] {
            let mut b = [0u8; 40];
            let mut l = Line::new(&mut b);
            l.time(t, &mut clock);
            assert_eq!(l.as_bytes(), t.to_string().as_bytes());
        }
        let mut b = [0u8; 30];
        let mut l = Line::new(&mut b);
        l.time(Timestamp::ZERO, &mut clock);
        assert!(l.overflowed());
    }

    proptest! {
        #[test]
        fn numbers_are_written_as_itoa_writes_them(v in any::<u64>(), small in 0u64..1000, shift in 0u32..64) {
            for v in [
                v,
                v >> shift,
                small,
                0,
                9,
                10,
                99,
                100,
                99_999_999,
                100_000_000,
                9_999_999_999_999_999,
                10_000_000_000_000_000,
                99_999_999_999_999_999,
                100_000_000_000_000_000,
                u64::MAX,
            ] {
                let mut b = [0u8; 32];
                let mut l = Line::new(&mut b);
                l.u64(v);
                let mut want = itoa::Buffer::new();
                let want = want.format(v).as_bytes();
                prop_assert_eq!(l.as_bytes(), want);
                let mut b = [0u8; 32];
                let mut l = Line::new(&mut b);
                l.u64_wide(v);
                prop_assert_eq!(l.as_bytes(), want);
                // Without room for the wide store's slack.
                let mut b = [0u8; 20];
                let mut l = Line::<20>::new(&mut b);
                l.bytes(&[b' '; 20][..20 - want.len()]);
                l.u64_wide(v);
                prop_assert!(!l.overflowed());
                prop_assert_eq!(&l.as_bytes()[20 - want.len()..], want);
                // With exactly enough room too.
                let mut b = [0u8; 20];
                let mut l = Line::<20>::new(&mut b);
                l.bytes(&[b' '; 20][..20 - want.len()]);
                l.u64(v);
                prop_assert!(!l.overflowed());
                prop_assert_eq!(&l.as_bytes()[20 - want.len()..], want);
            }
        }
    }
}
