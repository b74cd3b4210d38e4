//! Internet checksum validation (RFC 1071): the IPv4 header, and TCP, UDP, ICMP and
//! ICMPv6 with their pseudo headers; the engine calls them per packet as the
//! `checksum` setting asks.
//!
//! Contract: the functions read only the slices they are given, never panic, and
//! allocate nothing. A checksum is verified by summing the covered bytes *including*
//! the checksum field: the one's-complement sum of a correct packet is `0xffff`. The
//! sum is taken 8 bytes at a time in native byte order (the one's-complement sum does
//! not depend on byte order, RFC 1071 section 2(B)) into a 128-bit accumulator whose
//! high half collects the carries, and folded to 16 bits at the end. Short packets
//! dominate traffic, so the code avoids per-call set-up: no vector prologue, no loop
//! for the tail, a loop-free path for the 20-byte IPv4 header.

use super::IpVersion;
use std::fmt;
use std::str::FromStr;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

/// Adds with the end-around carry.
#[inline(always)]
fn add(acc: u64, word: u64) -> u64 {
    let (sum, carry) = acc.overflowing_add(word);
    sum + u64::from(carry)
}

/// Reads 8 bytes at `at` in native order (the caller checked the bounds).
#[inline(always)]
fn ne64(data: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&data[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Reads 4 bytes at `at` in native order, widened (the caller checked the bounds).
#[inline(always)]
fn ne32(data: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&data[at..at + 4]);
    u64::from(u32::from_ne_bytes(w))
}

/// One's-complement sum of `data` added to `acc`. `data` starts on a 16-bit word
/// boundary of the checksummed stream; an odd last byte is padded with zero.
///
/// 64-bit words (native order) are added into a 128-bit accumulator, 32 bytes a round
/// (an add and an add-with-carry per word, no vector set-up, so the short packets that
/// dominate traffic pay little); the high half then holds the carries, which the
/// one's-complement sum adds back in. A word placed `16 * k` bits up is the same
/// modulo `0xffff` (as `2^16` is 1), so the tail's 4-, 2- and 1-byte pieces are added
/// unshifted, the odd last byte zero-padded in its 16-bit word. The native sum is the
/// network-order one byte-swapped, which the comparison with `0xffff` does not see
/// (RFC 1071, section 2(B)).
#[inline(always)]
fn sum(acc: u64, data: &[u8]) -> u64 {
    let w = |r: &[u8], at: usize| u128::from(ne64(r, at));
    let mut wide = u128::from(acc);
    let mut rounds = data.chunks_exact(32);
    for r in &mut rounds {
        wide += w(r, 0) + w(r, 8) + w(r, 16) + w(r, 24);
    }
    // Fewer than 32 bytes are left: at most one 16-byte and one 8-byte piece.
    let mut rest = rounds.remainder();
    if rest.len() >= 16 {
        wide += w(rest, 0) + w(rest, 8);
        rest = &rest[16..];
    }
    if rest.len() >= 8 {
        wide += w(rest, 0);
        rest = &rest[8..];
    }
    let mut tail = 0u64;
    if rest.len() >= 4 {
        tail += ne32(rest, 0);
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        tail += u64::from(u16::from_ne_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let [b] = rest {
        tail += u64::from(u16::from_ne_bytes([*b, 0]));
    }
    wide += u128::from(tail);
    add(wide as u64, (wide >> 64) as u64)
}

/// Folds a 64-bit accumulator to the 16-bit one's-complement sum. Adding a value to
/// itself rotated by half its width leaves, in the upper half, the sum of both halves
/// with the end-around carry (the carry out of the lower half lands in it): once for
/// 64 to 32 bits, once for 32 to 16.
#[inline(always)]
fn fold(acc: u64) -> u16 {
    let s = (acc.wrapping_add(acc.rotate_right(32)) >> 32) as u32;
    (s.wrapping_add(s.rotate_right(16)) >> 16) as u16
}

/// The Internet checksum of `data` (whose checksum field is zero), in network byte
/// order, to store in that field.
pub fn compute(data: &[u8]) -> [u8; 2] {
    (!fold(sum(0, data))).to_ne_bytes()
}

/// True when the IPv4 header at the start of `header` has a correct checksum. The
/// header length is read from its IHL field; a slice shorter than that, or an IHL
/// below 5 words, is not a valid header (false). Bytes past the header are ignored, so
/// the whole packet may be passed.
pub fn ipv4_header_ok(header: &[u8]) -> bool {
    let ihl = match header.first() {
        Some(b) => usize::from(b & 0x0f) * 4,
        None => return false,
    };
    match header.get(..ihl) {
        // The usual header without options: a fixed length, summed without loops.
        Some(h) if ihl == 20 => {
            let h: &[u8; 20] = h.try_into().unwrap_or(&[0; 20]);
            fold(sum(0, h)) == 0xffff
        }
        Some(h) if ihl > 20 => fold(sum(0, h)) == 0xffff,
        _ => false,
    }
}

/// The pseudo-header sum: addresses, protocol and upper-layer length.
#[inline(always)]
fn pseudo(
    version: IpVersion,
    src: &[u8; 16],
    dst: &[u8; 16],
    proto: u8,
    len: usize,
) -> Option<u64> {
    let ne32 = |b: &[u8]| ne32(b, 0);
    Some(match version {
        IpVersion::V4 => {
            let len = u16::try_from(len).ok()?.to_be_bytes();
            // Three 32-bit pieces: no carry out of 64 bits is possible.
            ne32(&src[..4]) + ne32(&dst[..4]) + ne32(&[0, proto, len[0], len[1]])
        }
        IpVersion::V6 => {
            let len = u32::try_from(len).ok()?.to_be_bytes();
            let acc = add(ne64(src, 0), ne64(src, 8));
            let acc = add(acc, ne64(dst, 0));
            let acc = add(acc, ne64(dst, 8));
            add(
                acc,
                ne64(&[len[0], len[1], len[2], len[3], 0, 0, 0, proto], 0),
            )
        }
    })
}

/// Verifies the checksum of a transport segment (its header and payload: the IP
/// payload). `src` and `dst` are laid out as in
/// [`DecodedPacket`](super::DecodedPacket) (IPv4 in the first four bytes).
///
/// - TCP and UDP (either version) and ICMPv6 (IPv6) are summed with the pseudo header;
///   ICMP (IPv4) without one.
/// - UDP over IPv4 with checksum 0 was sent without one: `Some(true)`. Over IPv6 a
///   zero UDP checksum is not allowed (RFC 8200 section 8.1): `Some(false)`.
/// - UDP covers the length its header states (trailing bytes are not summed).
///
/// `None` when the protocol carries no checksum known here, or the segment is
/// incomplete: shorter than its fixed header (TCP 20, UDP 8, ICMP 4 bytes), a TCP data
/// offset or a UDP length beyond it, or longer than the pseudo header can state.
pub fn transport_ok(
    version: IpVersion,
    src: &[u8; 16],
    dst: &[u8; 16],
    proto: u8,
    segment: &[u8],
) -> Option<bool> {
    let covered = match (version, proto) {
        (_, PROTO_TCP) => {
            let offset = usize::from(segment.get(12)? >> 4) * 4;
            if segment.len() < 20 || offset > segment.len() {
                return None;
            }
            segment
        }
        (_, PROTO_UDP) => {
            let h = segment.get(..8)?;
            let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            if len < 8 {
                return None;
            }
            if h[6] == 0 && h[7] == 0 {
                return Some(version == IpVersion::V4);
            }
            segment.get(..len)?
        }
        (IpVersion::V4, PROTO_ICMP) => {
            segment.get(..4)?;
            return Some(fold(sum(0, segment)) == 0xffff);
        }
        (IpVersion::V6, PROTO_ICMPV6) => {
            segment.get(..4)?;
            segment
        }
        _ => return None,
    };
    let acc = pseudo(version, src, dst, proto, covered.len())?;
    Some(fold(sum(acc, covered)) == 0xffff)
}

/// Checksums verified and found bad, by layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumStats {
    /// IPv4 headers checked.
    pub ipv4_checked: u64,
    /// IPv4 headers with a bad checksum.
    pub ipv4_bad: u64,
    /// TCP segments checked.
    pub tcp_checked: u64,
    /// TCP segments with a bad checksum.
    pub tcp_bad: u64,
    /// UDP datagrams checked (IPv4 ones without a checksum included, as good).
    pub udp_checked: u64,
    /// UDP datagrams with a bad checksum.
    pub udp_bad: u64,
    /// ICMP messages checked.
    pub icmp_checked: u64,
    /// ICMP messages with a bad checksum.
    pub icmp_bad: u64,
    /// ICMPv6 messages checked.
    pub icmpv6_checked: u64,
    /// ICMPv6 messages with a bad checksum.
    pub icmpv6_bad: u64,
}

impl ChecksumStats {
    /// Counts one IPv4 header check.
    #[inline]
    pub fn count_ipv4(&mut self, ok: bool) {
        self.ipv4_checked += 1;
        self.ipv4_bad += u64::from(!ok);
    }

    /// Counts the outcome of [`transport_ok`] for `proto` (`None` counts nothing).
    #[inline]
    pub fn count_transport(&mut self, proto: u8, outcome: Option<bool>) {
        let Some(ok) = outcome else { return };
        let (checked, bad) = match proto {
            PROTO_TCP => (&mut self.tcp_checked, &mut self.tcp_bad),
            PROTO_UDP => (&mut self.udp_checked, &mut self.udp_bad),
            PROTO_ICMP => (&mut self.icmp_checked, &mut self.icmp_bad),
            PROTO_ICMPV6 => (&mut self.icmpv6_checked, &mut self.icmpv6_bad),
            _ => return,
        };
        *checked += 1;
        *bad += u64::from(!ok);
    }

    /// Adds another worker's counters into these.
    pub fn merge(&mut self, o: &ChecksumStats) {
        self.ipv4_checked += o.ipv4_checked;
        self.ipv4_bad += o.ipv4_bad;
        self.tcp_checked += o.tcp_checked;
        self.tcp_bad += o.tcp_bad;
        self.udp_checked += o.udp_checked;
        self.udp_bad += o.udp_bad;
        self.icmp_checked += o.icmp_checked;
        self.icmp_bad += o.icmp_bad;
        self.icmpv6_checked += o.icmpv6_checked;
        self.icmpv6_bad += o.icmpv6_bad;
    }

    /// Every counter as (stable snake-case name, value), for a summary.
    pub fn counters(&self) -> [(&'static str, u64); 10] {
        [
            ("ipv4_checked", self.ipv4_checked),
            ("ipv4_bad", self.ipv4_bad),
            ("tcp_checked", self.tcp_checked),
            ("tcp_bad", self.tcp_bad),
            ("udp_checked", self.udp_checked),
            ("udp_bad", self.udp_bad),
            ("icmp_checked", self.icmp_checked),
            ("icmp_bad", self.icmp_bad),
            ("icmpv6_checked", self.icmpv6_checked),
            ("icmpv6_bad", self.icmpv6_bad),
        ]
    }
}

/// Which checksums to validate, as Suricata's `checksum-validation`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChecksumMode {
    /// Validate unless the capture looks checksum-offloaded (most checksums bad, as on
    /// the capturing host's own outgoing packets); the rule that decides belongs to
    /// the caller.
    #[default]
    Auto,
    /// Validate every checksum (`"all"`, or `"yes"`).
    All,
    /// Validate none (`"none"`, or `"no"`).
    None,
}

impl ChecksumMode {
    /// The canonical name: `auto`, `all` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumMode::Auto => "auto",
            ChecksumMode::All => "all",
            ChecksumMode::None => "none",
        }
    }
}

impl fmt::Display for ChecksumMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checksum mode that is none of `auto`, `all`, `none`, `yes`, `no`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid checksum mode {0:?}: expected auto, all, none, yes or no")]
pub struct ParseChecksumModeError(pub String);

impl FromStr for ChecksumMode {
    type Err = ParseChecksumModeError;

    /// Case-insensitive, surrounding blanks ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let is = |name: &str| t.eq_ignore_ascii_case(name);
        if is("auto") {
            Ok(ChecksumMode::Auto)
        } else if is("all") || is("yes") {
            Ok(ChecksumMode::All)
        } else if is("none") || is("no") {
            Ok(ChecksumMode::None)
        } else {
            Err(ParseChecksumModeError(s.to_string()))
        }
    }
}

#[cfg(test)]
mod tests;
