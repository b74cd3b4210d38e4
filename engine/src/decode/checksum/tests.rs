//! Checksum tests: packets written by etherparse (which computes every checksum) pass,
//! any flipped bit fails, odd lengths and the UDP zero checksum, and the 8-byte sum
//! agrees with a plain 16-bit reference on random data.

use super::*;
use etherparse::PacketBuilder;
use proptest::prelude::*;

const SRC4: [u8; 4] = [192, 168, 1, 10];
const DST4: [u8; 4] = [10, 20, 30, 40];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0xab, 0xcd,
];

fn addr16(a: &[u8]) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..a.len()].copy_from_slice(a);
    v
}

/// A packet built by etherparse: (version, src, dst, proto, IP header, segment).
struct Built {
    version: IpVersion,
    src: [u8; 16],
    dst: [u8; 16],
    proto: u8,
    ip_header: Vec<u8>,
    segment: Vec<u8>,
}

impl Built {
    fn ok(&self) -> Option<bool> {
        transport_ok(
            self.version,
            &self.src,
            &self.dst,
            self.proto,
            &self.segment,
        )
    }
}

fn build(v6: bool, proto: u8, payload: &[u8]) -> Built {
    let base = if v6 {
        PacketBuilder::ipv6(SRC6, DST6, 64)
    } else {
        PacketBuilder::ipv4(SRC4, DST4, 64)
    };
    let mut out = Vec::new();
    match proto {
        PROTO_TCP => base
            .tcp(40000, 443, 0x0102_0304, 512)
            .ack(77)
            .write(&mut out, payload),
        PROTO_UDP => base.udp(5353, 53).write(&mut out, payload),
        PROTO_ICMP => base.icmpv4_echo_request(7, 9).write(&mut out, payload),
        PROTO_ICMPV6 => base.icmpv6_echo_request(7, 9).write(&mut out, payload),
        _ => unreachable!(),
    }
    .expect("etherparse writes the packet");
    let hl = if v6 { 40 } else { 20 };
    Built {
        version: if v6 { IpVersion::V6 } else { IpVersion::V4 },
        src: if v6 { SRC6 } else { addr16(&SRC4) },
        dst: if v6 { DST6 } else { addr16(&DST4) },
        proto,
        ip_header: out[..hl].to_vec(),
        segment: out[hl..].to_vec(),
    }
}

const CASES: [(bool, u8); 6] = [
    (false, PROTO_TCP),
    (false, PROTO_UDP),
    (false, PROTO_ICMP),
    (true, PROTO_TCP),
    (true, PROTO_UDP),
    (true, PROTO_ICMPV6),
];

/// Plain RFC 1071 reference: 16-bit big-endian words into a u32.
fn reference(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut acc: u32 = 0;
    for pair in bytes.chunks(2) {
        let w = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        acc += u32::from(w);
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[test]
fn known_ipv4_header() {
    // The classic example header, checksum 0xb861.
    let h = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert!(ipv4_header_ok(&h));
    let mut bad = h;
    bad[11] ^= 0x01;
    assert!(!ipv4_header_ok(&bad));
    // Short, empty, IHL below 5, IHL beyond the slice.
    assert!(!ipv4_header_ok(&h[..19]));
    assert!(!ipv4_header_ok(&[]));
    let mut ihl4 = h;
    ihl4[0] = 0x44;
    assert!(!ipv4_header_ok(&ihl4));
    let mut ihl6 = h;
    ihl6[0] = 0x46;
    assert!(!ipv4_header_ok(&ihl6));
}

#[test]
fn packets_written_by_etherparse_pass() {
    // Every payload length up to 40 covers every remainder of the 8-byte loop, odd
    // lengths included.
    for (v6, proto) in CASES {
        for n in 0..40usize {
            let payload: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            let b = build(v6, proto, &payload);
            assert_eq!(b.ok(), Some(true), "v6={v6} proto={proto} len={n}");
            if !v6 {
                assert!(ipv4_header_ok(&b.ip_header), "len={n}");
            }
        }
    }
}

#[test]
fn any_flipped_bit_is_detected() {
    for (v6, proto) in CASES {
        let b = build(v6, proto, b"odd-length payload!");
        for i in 0..b.segment.len() {
            // The UDP length field changes what is covered: left to the next test.
            if proto == PROTO_UDP && (i == 4 || i == 5) {
                continue;
            }
            for bit in 0..8 {
                let mut s = b.segment.clone();
                s[i] ^= 1 << bit;
                let got = transport_ok(b.version, &b.src, &b.dst, proto, &s);
                // A TCP data offset pushed past the segment makes it incomplete.
                let incomplete = proto == PROTO_TCP && i == 12;
                // An IPv4 UDP checksum flipped to zero reads as "not computed".
                let zeroed = proto == PROTO_UDP && !v6 && s[6] == 0 && s[7] == 0;
                if !incomplete && !zeroed {
                    assert_eq!(got, Some(false), "v6={v6} proto={proto} byte {i} bit {bit}");
                }
            }
        }
        // The pseudo header: a different address or protocol fails (ICMP has none).
        if proto != PROTO_ICMP {
            let mut src = b.src;
            src[3] ^= 0x10;
            assert_eq!(
                transport_ok(b.version, &src, &b.dst, proto, &b.segment),
                Some(false)
            );
        }
        if !v6 {
            for i in 0..20 {
                let mut h = b.ip_header.clone();
                h[i] ^= 0x04;
                assert!(!ipv4_header_ok(&h), "IPv4 header byte {i}");
            }
        }
    }
}

#[test]
fn udp_zero_checksum_and_length() {
    let mut b4 = build(false, PROTO_UDP, b"abc");
    let mut b6 = build(true, PROTO_UDP, b"abc");
    for b in [&mut b4, &mut b6] {
        b.segment[6] = 0;
        b.segment[7] = 0;
    }
    assert_eq!(b4.ok(), Some(true), "IPv4: checksum not computed");
    assert_eq!(b6.ok(), Some(false), "IPv6: a zero UDP checksum is invalid");

    // Trailing bytes past the UDP length are not covered.
    let mut b = build(false, PROTO_UDP, b"abcde");
    b.segment.extend_from_slice(&[0xde, 0xad]);
    assert_eq!(b.ok(), Some(true));
    // A UDP length beyond the segment, or below the header: incomplete.
    let b = build(true, PROTO_UDP, b"abcde");
    assert_eq!(
        transport_ok(b.version, &b.src, &b.dst, PROTO_UDP, &b.segment[..12]),
        None
    );
    let mut s = b.segment.clone();
    s[4] = 0;
    s[5] = 7;
    assert_eq!(transport_ok(b.version, &b.src, &b.dst, PROTO_UDP, &s), None);
}

#[test]
fn incomplete_or_unknown_is_none() {
    let z = [0u8; 16];
    assert_eq!(
        transport_ok(IpVersion::V4, &z, &z, PROTO_TCP, &[0; 19]),
        None
    );
    assert_eq!(
        transport_ok(IpVersion::V4, &z, &z, PROTO_UDP, &[0; 7]),
        None
    );
    assert_eq!(
        transport_ok(IpVersion::V4, &z, &z, PROTO_ICMP, &[0; 3]),
        None
    );
    assert_eq!(
        transport_ok(IpVersion::V6, &z, &z, PROTO_ICMPV6, &[0; 3]),
        None
    );
    // Data offset 15 words: beyond a 40-byte segment.
    let mut tcp = [0u8; 40];
    tcp[12] = 0xf0;
    assert_eq!(transport_ok(IpVersion::V4, &z, &z, PROTO_TCP, &tcp), None);
    // SCTP (CRC-32c), GRE, ICMP in IPv6 and ICMPv6 in IPv4: not handled here.
    for (v, p) in [
        (IpVersion::V4, 132),
        (IpVersion::V4, 47),
        (IpVersion::V6, PROTO_ICMP),
        (IpVersion::V4, PROTO_ICMPV6),
    ] {
        assert_eq!(transport_ok(v, &z, &z, p, &[0; 64]), None);
    }
}

#[test]
fn stats_count_merge_and_list() {
    let mut a = ChecksumStats::default();
    a.count_ipv4(true);
    a.count_ipv4(false);
    a.count_transport(PROTO_TCP, Some(false));
    a.count_transport(PROTO_UDP, Some(true));
    a.count_transport(PROTO_ICMP, Some(true));
    a.count_transport(PROTO_ICMPV6, Some(false));
    a.count_transport(PROTO_TCP, None);
    a.count_transport(132, Some(true));
    let mut b = a;
    b.merge(&a);
    assert_eq!((b.ipv4_checked, b.ipv4_bad), (4, 2));
    assert_eq!((b.tcp_checked, b.tcp_bad), (2, 2));
    assert_eq!((b.udp_checked, b.udp_bad), (2, 0));
    assert_eq!((b.icmp_checked, b.icmpv6_bad), (2, 2));
    let listed: Vec<_> = b.counters().to_vec();
    assert_eq!(listed.len(), 10);
    assert_eq!(listed[0], ("ipv4_checked", 4));
    assert!(listed.contains(&("icmpv6_bad", 2)));
}

#[test]
fn modes_parse_like_suricata() {
    for (s, m) in [
        ("auto", ChecksumMode::Auto),
        ("all", ChecksumMode::All),
        ("none", ChecksumMode::None),
        ("yes", ChecksumMode::All),
        ("no", ChecksumMode::None),
        (" ALL ", ChecksumMode::All),
    ] {
        assert_eq!(s.parse::<ChecksumMode>(), Ok(m), "{s}");
    }
    let e = "sometimes".parse::<ChecksumMode>().unwrap_err();
    assert_eq!(e, ParseChecksumModeError("sometimes".into()));
    assert!(e.to_string().contains("expected auto, all, none"));
    assert_eq!(ChecksumMode::default(), ChecksumMode::Auto);
    for m in [ChecksumMode::Auto, ChecksumMode::All, ChecksumMode::None] {
        assert_eq!(m.to_string().parse::<ChecksumMode>(), Ok(m));
    }
}

/// The end-around-carry fold by repeated halving, as RFC 1071 describes it.
fn reference_fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

#[test]
fn fold_keeps_every_carry_at_the_edges() {
    for acc in [
        0,
        1,
        0xffff,
        0x1_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0xffff_0000_0000_0001,
        0x8000_0000_8000_0000,
        u64::MAX,
        u64::MAX - 1,
    ] {
        assert_eq!(fold(acc), reference_fold(acc), "{acc:#x}");
    }
    // Data whose words sum to one's-complement "minus zero" and past it.
    assert_eq!(fold(sum(0, &[0xff; 64])), 0xffff);
    assert_eq!(
        fold(sum(u64::MAX, &[0xff; 33])),
        reference_fold_of(u64::MAX, &[0xff; 33])
    );
}

/// The reference sum of `data` (native words, zero-padded) started at `acc`, folded.
fn reference_fold_of(acc: u64, data: &[u8]) -> u16 {
    let mut s = u128::from(acc);
    for w in data.chunks(2) {
        s += u128::from(u16::from_ne_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

proptest! {
    /// The 8-byte native-order sum folds to the RFC 1071 reference, at any length and
    /// starting value.
    #[test]
    fn fast_sum_matches_reference(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let fast = fold(sum(0, &data));
        prop_assert_eq!(u16::from_be_bytes(fast.to_ne_bytes()) , reference(&[&data]));
    }

    /// Folding any 64-bit accumulator agrees with folding by repeated halving.
    #[test]
    fn fold_matches_reference(acc in any::<u64>()) {
        prop_assert_eq!(fold(acc), reference_fold(acc));
    }

    /// Any data summed from any starting value agrees with the word-by-word reference
    /// (covers every tail length after the 32-byte rounds).
    #[test]
    fn sum_from_any_start_matches_reference(acc in any::<u64>(),
                                            data in prop::collection::vec(any::<u8>(), 0..100)) {
        prop_assert_eq!(fold(sum(acc, &data)), reference_fold_of(acc, &data));
    }

    /// A random segment with its checksum set by the reference verifies; with a
    /// changed byte it does not.
    #[test]
    fn random_segments_verify(v6 in any::<bool>(), proto in prop::sample::select(vec![PROTO_TCP, PROTO_UDP, PROTO_ICMP]),
                              mut seg in prop::collection::vec(any::<u8>(), 20..200),
                              flip in any::<prop::sample::Index>()) {
        let version = if v6 { IpVersion::V6 } else { IpVersion::V4 };
        let proto = if v6 && proto == PROTO_ICMP { PROTO_ICMPV6 } else { proto };
        let (src, dst) = if v6 { (SRC6, DST6) } else { (addr16(&SRC4), addr16(&DST4)) };
        let at = match proto { PROTO_TCP => { seg[12] = 0x50; 16 }, PROTO_UDP => 6, _ => 2 };
        if proto == PROTO_UDP {
            let len = (seg.len() as u16).to_be_bytes();
            seg[4] = len[0];
            seg[5] = len[1];
        }
        seg[at] = 0;
        seg[at + 1] = 0;
        let len = seg.len() as u32;
        let pseudo_bytes: Vec<u8> = match (v6, proto) {
            (_, PROTO_ICMP) => vec![],
            (false, p) => [&SRC4[..], &DST4[..], &[0, p], &(len as u16).to_be_bytes()].concat(),
            (true, p) => [&SRC6[..], &DST6[..], &len.to_be_bytes()[..], &[0, 0, 0, p]].concat(),
        };
        let mut c = !reference(&[&pseudo_bytes, &seg]);
        if c == 0 && proto == PROTO_UDP {
            c = 0xffff;
        }
        seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
        prop_assert_eq!(transport_ok(version, &src, &dst, proto, &seg), Some(true));
        let i = flip.index(seg.len());
        if !(proto == PROTO_UDP && (i == 4 || i == 5)) && !(proto == PROTO_TCP && i == 12) {
            seg[i] ^= 0x01;
            let got = transport_ok(version, &src, &dst, proto, &seg);
            let zeroed = proto == PROTO_UDP && !v6 && seg[6] == 0 && seg[7] == 0;
            prop_assert!(zeroed || got == Some(false));
        }
    }
}
