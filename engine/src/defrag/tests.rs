//! Defragmenter tests: orders of arrival, Suricata's overlap tests under every policy
//! (the Sturges/Novak pattern and the 2024 BSD cases, same expected bytes), duplicates,
//! expiry, the bounds and eviction order, header fix-ups, teardrop and size anomalies,
//! and, under random streams, the bounds and the accounting of every fragment.

use super::*;
use proptest::prelude::*;

const SRC: [u8; 4] = [1, 1, 1, 1];
const DST: [u8; 4] = [2, 2, 2, 2];
const ICMP: u8 = 1;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;

fn t(s: u64) -> Timestamp {
    Timestamp::from_secs_micros(1_700_000_000 + s, 0)
}

fn addr4(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0; 16];
    x[..4].copy_from_slice(&a);
    x
}

fn addr6(b: u8) -> [u8; 16] {
    [b; 16]
}

/// An owned fragment, as a decoder would have sliced it out of a frame.
#[derive(Clone, Debug)]
struct F {
    version: IpVersion,
    id: u32,
    proto: u8,
    offset: u32,
    more: bool,
    header: Vec<u8>,
    data: Vec<u8>,
    context: u64,
}

impl F {
    fn frag(&self) -> Fragment<'_> {
        let (src, dst) = match self.version {
            IpVersion::V4 => (addr4(SRC), addr4(DST)),
            IpVersion::V6 => (addr6(1), addr6(2)),
        };
        Fragment {
            version: self.version,
            src,
            dst,
            id: self.id,
            proto: self.proto,
            offset: self.offset,
            more: self.more,
            header: &self.header,
            data: &self.data,
            context: self.context,
            frame_len: (14 + self.header.len() + self.data.len()) as u32,
            frame: 0,
            ttl: 64,
        }
    }

    fn frame_len(&self) -> u64 {
        u64::from(self.frag().frame_len)
    }
}

/// An IPv4 header for a fragment (`options` bytes of NOPs).
fn v4_header(
    id: u32,
    offset: u32,
    more: bool,
    proto: u8,
    data_len: usize,
    options: usize,
) -> Vec<u8> {
    let hlen = 20 + options;
    let mut h = vec![0u8; hlen];
    h[0] = 0x40 | (hlen / 4) as u8;
    h[2..4].copy_from_slice(&((hlen + data_len) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&(id as u16).to_be_bytes());
    let off = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    h[6..8].copy_from_slice(&off.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&SRC);
    h[16..20].copy_from_slice(&DST);
    for b in &mut h[20..] {
        *b = 1;
    }
    let sum = checksum::compute(&h);
    h[10..12].copy_from_slice(&sum);
    h
}

fn v4_with(id: u32, offset: u32, more: bool, data: &[u8]) -> F {
    F {
        version: IpVersion::V4,
        id,
        proto: ICMP,
        offset,
        more,
        header: v4_header(id, offset, more, ICMP, data.len(), 0),
        data: data.to_vec(),
        context: 0,
    }
}

fn v4(id: u32, offset: u32, more: bool, fill: u8, len: usize) -> F {
    v4_with(id, offset, more, &vec![fill; len])
}

/// An IPv6 header chain for a fragment: the fixed header, then `hbh` Hop-by-Hop
/// headers of 8 bytes; the last next-header field says 44.
fn v6_header(data_len: usize, hbh: usize) -> Vec<u8> {
    let mut h = vec![0u8; 40 + 8 * hbh];
    h[0] = 0x60;
    let plen = 8 * hbh + 8 + data_len;
    h[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
    h[6] = if hbh == 0 { 44 } else { 0 };
    h[7] = 64;
    h[8..24].copy_from_slice(&addr6(1));
    h[24..40].copy_from_slice(&addr6(2));
    for i in 0..hbh {
        let at = 40 + 8 * i;
        h[at] = if i + 1 == hbh { 44 } else { 0 };
        h[at + 1] = 0;
        h[at + 2] = 1; // PadN, 4 bytes
        h[at + 3] = 4;
    }
    h
}

fn v6_with(id: u32, offset: u32, more: bool, data: &[u8], hbh: usize) -> F {
    F {
        version: IpVersion::V6,
        id,
        proto: ICMPV6,
        offset,
        more,
        header: v6_header(data.len(), hbh),
        data: data.to_vec(),
        context: 0,
    }
}

fn v6(id: u32, offset: u32, more: bool, fill: u8, len: usize) -> F {
    v6_with(id, offset, more, &vec![fill; len], 0)
}

/// An `Incomplete`, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ended {
    reason: IncompleteReason,
    id: u32,
    fragments: u32,
    frame_bytes: u64,
    first_seen: Timestamp,
    last_seen: Timestamp,
    first: Option<Vec<u8>>,
}

/// What `insert` said, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Held,
    Complete {
        packet: Vec<u8>,
        fragments: u32,
        frame_bytes: u64,
    },
    Abandoned,
    Rejected(Reject),
}

struct Run {
    d: Defragmenter,
    ended: Vec<Ended>,
}

impl Run {
    fn new(cfg: DefragConfig) -> Self {
        Run {
            d: Defragmenter::new(cfg).unwrap(),
            ended: Vec::new(),
        }
    }

    fn policy(policy: OverlapPolicy) -> Self {
        Self::new(DefragConfig {
            policy,
            ..DefragConfig::default()
        })
    }

    fn offer(&mut self, f: &F, now: Timestamp) -> Out {
        let ended = &mut self.ended;
        let mut on = |i: Incomplete<'_>| ended.push(own(&i));
        match self.d.insert(&f.frag(), now, &mut on) {
            Insert::Held => Out::Held,
            Insert::Complete(r) => Out::Complete {
                packet: r.packet.to_vec(),
                fragments: r.fragments,
                frame_bytes: r.frame_bytes,
            },
            Insert::Abandoned => Out::Abandoned,
            Insert::Rejected(r) => Out::Rejected(r),
        }
    }

    /// Offers all but the last fragment (each must be held), then the last, and
    /// returns the reassembled packet.
    fn complete(&mut self, frags: &[F]) -> Vec<u8> {
        let (last, rest) = frags.split_last().unwrap();
        for f in rest {
            assert_eq!(self.offer(f, t(0)), Out::Held, "{f:?}");
        }
        match self.offer(last, t(0)) {
            Out::Complete { packet, .. } => packet,
            other => panic!("not complete: {other:?}"),
        }
    }

    fn expire(&mut self, now: Timestamp) {
        let ended = &mut self.ended;
        self.d
            .expire(now, &mut |i: Incomplete<'_>| ended.push(own(&i)));
    }

    fn flush(&mut self) {
        let ended = &mut self.ended;
        self.d.flush(&mut |i: Incomplete<'_>| ended.push(own(&i)));
    }
}

fn own(i: &Incomplete<'_>) -> Ended {
    Ended {
        reason: i.reason,
        id: i.id,
        fragments: i.fragments,
        frame_bytes: i.frame_bytes,
        first_seen: i.first_seen,
        last_seen: i.last_seen,
        first: i.first.map(<[u8]>::to_vec),
    }
}

fn blocks(s: &str) -> Vec<u8> {
    s.bytes().flat_map(|b| [b; 8]).collect()
}

fn checksum_ok(h: &[u8]) -> bool {
    let mut sum: u32 = h
        .chunks(2)
        .map(|w| u32::from(w[0]) << 8 | u32::from(w[1]))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

// ---- orders of arrival ----

fn abc(make: fn(u32, u32, bool, u8, usize) -> F) -> [F; 3] {
    [
        make(12, 0, true, b'A', 8),
        make(12, 8, true, b'B', 8),
        make(12, 16, false, b'C', 3),
    ]
}

#[test]
fn in_order_ipv4() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let [a, b, c] = abc(v4);
    assert_eq!(r.offer(&a, t(0)), Out::Held);
    assert_eq!(r.offer(&b, t(1)), Out::Held);
    assert_eq!(r.d.held_fragments(), 2);
    let Out::Complete {
        packet,
        fragments,
        frame_bytes,
    } = r.offer(&c, t(2))
    else {
        panic!("not complete")
    };
    assert_eq!(packet.len(), 39);
    assert_eq!(&packet[20..], b"AAAAAAAABBBBBBBBCCC");
    assert_eq!(u16::from_be_bytes([packet[2], packet[3]]), 39);
    assert_eq!(fragments, 3);
    assert_eq!(frame_bytes, a.frame_len() + b.frame_len() + c.frame_len());
    assert_eq!(
        (r.d.held_fragments(), r.d.held_bytes(), r.d.held_datagrams()),
        (0, 0, 0)
    );
    let s = r.d.stats();
    assert_eq!(
        (s.fragments, s.reassembled, s.overlaps, s.anomalies),
        (3, 1, 0, 0)
    );
}

#[test]
fn reverse_and_out_of_order_ipv4_and_ipv6() {
    for make in [v4 as fn(u32, u32, bool, u8, usize) -> F, v6] {
        let [a, b, c] = abc(make);
        let hlen = a.header.len();
        for order in [[2, 1, 0], [1, 2, 0], [1, 0, 2], [2, 0, 1], [0, 2, 1]] {
            let mut r = Run::policy(OverlapPolicy::Bsd);
            let frags = [&a, &b, &c];
            let list: Vec<F> = order.iter().map(|&i| frags[i].clone()).collect();
            let p = r.complete(&list);
            assert_eq!(&p[hlen..], b"AAAAAAAABBBBBBBBCCC", "{order:?}");
        }
    }
}

// ---- Suricata's overlap tests ----

/// The Sturges/Novak pattern: 9 originals, then 8 overlapping, the last (Q) with MF=0.
const STURGES_NOVAK: [(u8, u32, usize); 17] = [
    (b'A', 0, 24),
    (b'B', 32, 16),
    (b'C', 48, 24),
    (b'D', 80, 8),
    (b'E', 104, 16),
    (b'F', 120, 24),
    (b'G', 144, 16),
    (b'H', 160, 16),
    (b'I', 176, 8),
    (b'J', 8, 32),
    (b'K', 48, 24),
    (b'L', 72, 24),
    (b'M', 96, 24),
    (b'N', 128, 8),
    (b'O', 152, 8),
    (b'P', 160, 8),
    (b'Q', 176, 16),
];

/// Suricata's expected bytes (`DefragSturgesNovak*Test`), 8 bytes per letter.
fn sturges_novak_expected(p: OverlapPolicy) -> Vec<u8> {
    match p {
        OverlapPolicy::Bsd => blocks("AAAJJBCCCLLLMMMFFFGGHHIQ"),
        OverlapPolicy::Linux => blocks("AAAJJBKKKLLLMMMFFFGGPHQQ"),
        OverlapPolicy::Windows => blocks("AAAJBBCCCLLLMEEFFFGGHHIQ"),
        OverlapPolicy::Solaris => blocks("AAAJBBCCCLLLMMMFFFGGHHIQ"),
        OverlapPolicy::First => blocks("AAAJBBCCCLDLMEEFFFGGHHIQ"),
        OverlapPolicy::Last => blocks("AJJJJBKKKLLLMMMFNFGOPHQQ"),
        // No case in Suricata: every fragment copied in offset order, ties by arrival.
        OverlapPolicy::BsdRight => {
            let mut order: Vec<_> = STURGES_NOVAK.iter().collect();
            order.sort_by_key(|f| f.1);
            let mut out = vec![0u8; 192];
            for &(c, off, len) in order {
                out[off as usize..off as usize + len].fill(c);
            }
            out
        }
    }
}

#[test]
fn sturges_novak_under_every_policy() {
    for policy in OverlapPolicy::ALL {
        for v6 in [false, true] {
            let frags: Vec<F> = STURGES_NOVAK
                .iter()
                .enumerate()
                .map(|(i, &(c, off, len))| {
                    let more = i != 16;
                    if v6 {
                        self::v6(1, off, more, c, len)
                    } else {
                        v4(1, off, more, c, len)
                    }
                })
                .collect();
            let mut r = Run::policy(policy);
            for f in &frags[..9] {
                assert_eq!(r.offer(f, t(0)), Out::Held);
            }
            assert_eq!(r.d.stats().overlaps + r.d.stats().duplicates, 0);
            let p = r.complete(&frags[9..]);
            let hlen = if v6 { 40 } else { 20 };
            assert_eq!(
                String::from_utf8_lossy(&p[hlen..]),
                String::from_utf8_lossy(&sturges_novak_expected(policy)),
                "{policy} v6={v6}"
            );
            if v6 {
                assert_eq!(u16::from_be_bytes([p[4], p[5]]), 192);
                assert_eq!(p[6], ICMPV6);
            } else {
                assert_eq!(u16::from_be_bytes([p[2], p[3]]), 20 + 192);
                assert!(checksum_ok(&p[..20]));
            }
            let s = r.d.stats();
            assert!(s.overlaps > 0, "{policy}");
            assert_eq!(s.reassembled, 1);
            assert_eq!(r.d.held_fragments(), 0, "{policy}");
            assert_eq!(r.d.held_bytes(), 0, "{policy}");
        }
    }
}

#[test]
fn bsd_fragment_after_the_last_one() {
    // DefragBsdFragmentAfterNoMf: the last fragment arrives first.
    for v6 in [false, true] {
        let mk = if v6 { self::v6 } else { v4 };
        let mut r = Run::policy(OverlapPolicy::Bsd);
        let p = r.complete(&[
            mk(0x96, 24, false, b'A', 16),
            mk(0x96, 8, true, b'B', 16),
            mk(0x96, 16, true, b'C', 16),
            mk(0x96, 0, true, b'D', 8),
        ]);
        let hlen = if v6 { 40 } else { 20 };
        assert_eq!(&p[hlen..], &blocks("DBBCA")[..], "v6={v6}");
    }
}

#[test]
fn bsd_subsequent_overlaps_start_of_original() {
    for v6 in [false, true] {
        let mk = |off, more, data: &[u8]| {
            if v6 {
                v6_with(6, off, more, data, 0)
            } else {
                v4_with(6, off, more, data)
            }
        };
        let hlen = if v6 { 40 } else { 20 };
        let mut r = Run::policy(OverlapPolicy::Bsd);
        let p = r.complete(&[mk(8, false, &[b'E'; 24]), mk(0, true, &[b'M'; 24])]);
        assert_eq!(&p[hlen..], &blocks("MMME")[..]);

        let mut r = Run::policy(OverlapPolicy::Bsd);
        let p = r.complete(&[
            mk(16, true, b"AABBCCDDAABBDDCC"),
            mk(8, true, b"AACCBBDDAACCDDBB"),
            mk(0, true, b"ZZZZZZZZ"),
            mk(32, false, b"DDCCBBAA"),
        ]);
        assert_eq!(&p[hlen + 8..], b"AACCBBDDAACCDDBBAABBDDCCDDCCBBAA");
    }
}

#[test]
fn bsd_missing_fragment_never_completes() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    for f in [
        v4_with(189, 16, true, b"AABBCCDDAABBDDCC"),
        v4_with(189, 40, true, b"AACCBBDD"),
        v4_with(189, 8, true, b"AACCDDBBAADDBBCC"),
        v4_with(189, 0, true, b"ZZZZZZZZ"),
        v4_with(189, 48, false, b"DDCCBBAA"),
    ] {
        assert_eq!(r.offer(&f, t(0)), Out::Held);
    }
    assert_eq!(r.d.held_datagrams(), 1);
}

#[test]
fn linux_jeremy() {
    let mut r = Run::policy(OverlapPolicy::Linux);
    let p = r.complete(&[
        v4(1, 0, true, b'A', 24),
        v4(1, 40, true, b'B', 48),
        v4(1, 24, true, b'C', 48),
        v4(1, 88, false, b'D', 14),
    ]);
    let mut want = blocks("AAACCCCCCBB");
    want.extend_from_slice(&[b'D'; 14]);
    assert_eq!(&p[20..], &want[..]);
}

#[test]
fn data_past_the_last_fragment_is_left_out() {
    // DefragMf{Ipv4,Ipv6}Test: offset 16 (MF), offset 0, then offset 8 without MF.
    for v6 in [false, true] {
        let mk = if v6 { self::v6 } else { v4 };
        let mut r = Run::policy(OverlapPolicy::Bsd);
        let p = r.complete(&[
            mk(9, 16, true, b'C', 8),
            mk(9, 0, true, b'A', 8),
            mk(9, 8, false, b'B', 8),
        ]);
        let hlen = if v6 { 40 } else { 20 };
        assert_eq!(&p[hlen..], &blocks("AB")[..]);
        if v6 {
            assert_eq!(u16::from_be_bytes([p[4], p[5]]), 16);
        } else {
            assert_eq!(u16::from_be_bytes([p[2], p[3]]), 36);
        }
        assert_eq!(r.d.stats().anomalies, 1);
    }
}

// ---- duplicates and overlaps ----

#[test]
fn duplicates_are_counted_with_their_datagram() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let [a, b, c] = abc(v4);
    assert_eq!(r.offer(&a, t(0)), Out::Held);
    assert_eq!(r.offer(&a, t(0)), Out::Held);
    assert_eq!(r.offer(&b, t(0)), Out::Held);
    assert_eq!(r.d.held_fragments(), 2);
    let Out::Complete {
        packet,
        fragments,
        frame_bytes,
    } = r.offer(&c, t(0))
    else {
        panic!()
    };
    assert_eq!(&packet[20..], b"AAAAAAAABBBBBBBBCCC");
    assert_eq!(fragments, 4);
    assert_eq!(
        frame_bytes,
        2 * a.frame_len() + b.frame_len() + c.frame_len()
    );
    let s = r.d.stats();
    assert_eq!((s.duplicates, s.overlaps, s.anomalies), (1, 0, 0));
    // A duplicate of the last fragment after completion starts a new datagram.
    assert_eq!(r.offer(&c, t(1)), Out::Held);
    r.flush();
    assert_eq!(r.ended.len(), 1);
    assert_eq!(r.ended[0].fragments, 1);
}

#[test]
fn overlaps_with_same_and_different_data() {
    let data: Vec<u8> = (0..32).collect();
    // Same bytes, different boundaries: an overlap, not an anomaly.
    let mut r = Run::policy(OverlapPolicy::Bsd);
    r.offer(&v4_with(1, 0, true, &data[..16]), t(0));
    r.offer(&v4_with(1, 8, true, &data[8..24]), t(0));
    let s = r.d.stats();
    assert_eq!((s.overlaps, s.duplicates, s.anomalies), (1, 0, 0));
    // A sub-range with the same bytes: a duplicate.
    r.offer(&v4_with(1, 8, true, &data[8..16]), t(0));
    assert_eq!(r.d.stats().duplicates, 1);
    // Different bytes: an overlap and an anomaly.
    r.offer(&v4_with(1, 16, true, &[0xee; 16]), t(0));
    let s = r.d.stats();
    assert_eq!((s.overlaps, s.duplicates, s.anomalies), (2, 1, 1));
    let p = match r.offer(&v4_with(1, 32, false, &data[..4]), t(0)) {
        Out::Complete { packet, .. } => packet,
        o => panic!("{o:?}"),
    };
    // BSD keeps what was held first.
    assert_eq!(&p[20..44], &data[..24]);
    assert_eq!(&p[44..52], &[0xee; 8]);
}

// ---- datagrams that never complete ----

#[test]
fn expiry_hands_out_counts_and_the_first_fragment() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let a = v4(7, 0, true, b'A', 16);
    let b = v4(7, 32, false, b'B', 8);
    let other = v4(8, 8, true, b'X', 8);
    r.offer(&a, t(0));
    r.offer(&other, t(5));
    r.offer(&b, t(30));
    r.expire(t(59));
    assert!(r.ended.is_empty());
    // The boundary counts as expired: first_seen + 60 s.
    r.expire(t(60));
    assert_eq!(r.ended.len(), 1);
    let e = &r.ended[0];
    assert_eq!(e.reason, IncompleteReason::Timeout);
    assert_eq!((e.id, e.fragments), (7, 2));
    assert_eq!(e.frame_bytes, a.frame_len() + b.frame_len());
    assert_eq!((e.first_seen, e.last_seen), (t(0), t(30)));
    let first = e.first.as_ref().unwrap();
    assert_eq!(
        &first[..20],
        &a.header[..],
        "header untouched, MF still set"
    );
    assert_eq!(&first[20..], &a.data[..]);
    // The other datagram has no offset-0 fragment.
    r.expire(t(1000));
    assert_eq!(r.ended.len(), 2);
    assert_eq!(r.ended[1].first, None);
    assert_eq!(r.ended[1].fragments, 1);
    let s = r.d.stats();
    assert_eq!(
        (s.timeouts, r.d.held_fragments(), r.d.held_bytes()),
        (2, 0, 0)
    );
}

#[test]
fn ipv6_first_fragment_keeps_a_rebuilt_fragment_header() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let a = v6_with(0x01020304, 0, true, &[b'A'; 16], 1);
    r.offer(&a, t(0));
    r.flush();
    let first = r.ended[0].first.clone().unwrap();
    assert_eq!(&first[..48], &a.header[..]);
    assert_eq!(&first[48..56], &[ICMPV6, 0, 0, 1, 1, 2, 3, 4]);
    assert_eq!(&first[56..], &a.data[..]);
    assert_eq!(r.ended[0].reason, IncompleteReason::Flush);
    assert_eq!(r.d.stats().flushed, 1);
}

#[test]
fn insert_expires_due_datagrams_first() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    r.offer(&v4(1, 0, true, b'A', 8), t(0));
    // Same key, 60 s later: the old datagram has timed out; this one starts afresh.
    assert_eq!(r.offer(&v4(1, 8, false, b'B', 8), t(60)), Out::Held);
    assert_eq!(r.ended.len(), 1);
    assert_eq!(r.ended[0].reason, IncompleteReason::Timeout);
    assert_eq!(r.d.held_datagrams(), 1);
}

#[test]
fn expiry_follows_first_seen_even_when_time_steps_back() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    r.offer(&v4(1, 8, true, b'A', 8), t(10));
    r.offer(&v4(2, 8, true, b'A', 8), t(5));
    r.offer(&v4(3, 8, true, b'A', 8), t(20));
    r.expire(t(65));
    assert_eq!(r.ended.len(), 1);
    r.expire(t(70));
    let ids: Vec<u32> = r.ended.iter().map(|e| e.id).collect();
    assert_eq!(ids, [2, 1]);
    assert_eq!(r.d.held_datagrams(), 1);
}

// ---- bounds ----

#[test]
fn max_datagrams_evicts_the_oldest() {
    let mut r = Run::new(DefragConfig {
        max_datagrams: 2,
        ..DefragConfig::default()
    });
    r.offer(&v4(1, 0, true, b'A', 8), t(0));
    r.offer(&v4(2, 0, true, b'A', 8), t(1));
    r.offer(&v4(1, 8, true, b'A', 8), t(2));
    assert!(r.ended.is_empty());
    r.offer(&v4(3, 0, true, b'A', 8), t(3));
    assert_eq!(r.ended.len(), 1);
    let e = &r.ended[0];
    // Oldest by first fragment, not by last activity.
    assert_eq!(
        (e.id, e.reason, e.fragments),
        (1, IncompleteReason::OverCap, 2)
    );
    assert!(e.first.is_some());
    assert_eq!(r.d.held_datagrams(), 2);
    assert_eq!(r.d.stats().over_cap, 1);
}

#[test]
fn max_frags_evicts_the_oldest_then_the_own_datagram() {
    let mut r = Run::new(DefragConfig {
        max_frags: 3,
        ..DefragConfig::default()
    });
    r.offer(&v4(1, 0, true, b'A', 8), t(0));
    r.offer(&v4(2, 0, true, b'A', 8), t(1));
    r.offer(&v4(2, 8, true, b'A', 8), t(1));
    r.offer(&v4(2, 16, true, b'A', 8), t(2));
    assert_eq!(r.ended.len(), 1);
    assert_eq!(r.ended[0].id, 1);
    assert_eq!(r.d.held_fragments(), 3);
    // Only its own datagram is left: it goes, and the fragment starts a new one.
    assert_eq!(r.offer(&v4(2, 24, true, b'A', 8), t(3)), Out::Held);
    assert_eq!(r.ended.len(), 2);
    assert_eq!((r.ended[1].id, r.ended[1].fragments), (2, 3));
    assert_eq!((r.d.held_fragments(), r.d.held_datagrams()), (1, 1));
    assert_eq!(r.d.stats().over_cap, 2);
}

#[test]
fn memcap_holds_and_evicts_the_oldest() {
    // Four chunks; every fragment (header + 200 bytes) takes two.
    let mut r = Run::new(DefragConfig {
        memcap: 4 * CHUNK,
        ..DefragConfig::default()
    });
    r.offer(&v4(1, 8, true, b'A', 200), t(0));
    r.offer(&v4(2, 8, true, b'A', 200), t(1));
    assert_eq!(r.d.held_bytes(), 4 * CHUNK);
    r.offer(&v4(3, 8, true, b'A', 200), t(2));
    assert_eq!(r.ended.len(), 1);
    assert_eq!(r.ended[0].id, 1);
    assert_eq!(r.d.held_bytes(), 4 * CHUNK);
    // Bigger than the whole cap: refused, nothing evicted.
    assert_eq!(
        r.offer(&v4(4, 8, true, b'A', 520), t(3)),
        Out::Rejected(Reject::OverCap)
    );
    assert_eq!(r.ended.len(), 1);
    let s = r.d.stats();
    assert_eq!((s.over_cap, s.rejected), (1, 1));
}

#[test]
fn a_flood_of_tiny_fragments_stays_bounded() {
    let cfg = DefragConfig {
        max_frags: 64,
        max_datagrams: 16,
        memcap: 32 * CHUNK,
        ..DefragConfig::default()
    };
    let mut r = Run::new(cfg.clone());
    let caps = r.d.capacities();
    for i in 0..10_000u32 {
        let f = v4(i % 97, (i % 50) * 8, true, i as u8, 8);
        r.offer(&f, t(u64::from(i / 100)));
        assert!(r.d.held_fragments() <= cfg.max_frags);
        assert!(r.d.held_bytes() <= cfg.memcap);
        assert!(r.d.held_datagrams() <= cfg.max_datagrams);
    }
    assert_eq!(r.d.capacities(), caps, "no allocation on the fragment path");
    r.flush();
    let counted: u64 = r.ended.iter().map(|e| u64::from(e.fragments)).sum();
    assert_eq!(counted, 10_000);
}

// ---- header fix-ups ----

#[test]
fn ipv4_header_fix_up() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let mut a = v4(0x4242, 0, true, b'A', 16);
    a.header = v4_header(0x4242, 0, true, ICMP, 16, 4);
    a.header[6] |= 0x40; // DF, kept
    let sum = {
        a.header[10] = 0;
        a.header[11] = 0;
        checksum::compute(&a.header)
    };
    a.header[10..12].copy_from_slice(&sum);
    let p = r.complete(&[v4(0x4242, 16, false, b'B', 5), a.clone()]);
    assert_eq!(p.len(), 24 + 21);
    assert_eq!(p[0], 0x46);
    assert_eq!(u16::from_be_bytes([p[2], p[3]]), 45);
    assert_eq!(&p[4..6], &[0x42, 0x42]);
    assert_eq!(&p[6..8], &[0x40, 0], "MF and offset cleared, DF kept");
    assert_eq!(&p[8..10], &a.header[8..10], "TTL and protocol kept");
    assert_eq!(&p[12..24], &a.header[12..24], "addresses and options kept");
    assert!(checksum_ok(&p[..24]));
    assert_eq!(&p[24..], b"AAAAAAAAAAAAAAAABBBBB");
}

#[test]
fn ipv6_header_patching() {
    // No extension headers: the fixed header's next header is patched.
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let p = r.complete(&[
        v6_with(5, 8, false, b"tail", 0),
        v6_with(5, 0, true, b"01234567", 0),
    ]);
    assert_eq!(p.len(), 40 + 12);
    assert_eq!(u16::from_be_bytes([p[4], p[5]]), 12);
    assert_eq!(p[6], ICMPV6);
    assert_eq!(&p[40..], b"01234567tail");

    // Two Hop-by-Hop headers: the last one's next header is patched, the fixed
    // header's is kept, and the payload length covers them.
    let mut a = v6_with(5, 0, true, b"01234567", 2);
    a.proto = UDP;
    let mut b = v6_with(5, 8, false, b"tail", 0);
    b.proto = UDP;
    let p = Run::policy(OverlapPolicy::Bsd).complete(&[a, b]);
    assert_eq!(p.len(), 40 + 16 + 12);
    assert_eq!(u16::from_be_bytes([p[4], p[5]]), 16 + 12);
    assert_eq!((p[6], p[40], p[48]), (0, 0, UDP));
    assert_eq!(&p[56..], b"01234567tail");
}

// ---- anomalies ----

#[test]
fn teardrop_is_an_anomaly_and_never_completes() {
    // The classic: a last fragment lying inside the first one (inconsistent lengths).
    let mut r = Run::policy(OverlapPolicy::Bsd);
    assert_eq!(r.offer(&v4(1, 0, true, b'A', 32), t(0)), Out::Held);
    assert_eq!(r.offer(&v4(1, 24, false, b'B', 4), t(0)), Out::Held);
    let s = r.d.stats();
    assert_eq!((s.overlaps, s.anomalies, s.reassembled), (1, 1, 0));
    r.expire(t(60));
    assert_eq!(r.ended[0].fragments, 2);

    // A consistent last fragment, then fragments past its end or a second last
    // fragment with another end: refused as anomalies.
    let mut r = Run::policy(OverlapPolicy::Bsd);
    r.offer(&v4(2, 16, false, b'B', 4), t(0));
    assert_eq!(
        r.offer(&v4(2, 16, true, b'X', 8), t(0)),
        Out::Rejected(Reject::PastEnd)
    );
    assert_eq!(
        r.offer(&v4(2, 8, false, b'X', 8), t(0)),
        Out::Rejected(Reject::InconsistentLast)
    );
    let s = r.d.stats();
    assert_eq!((s.anomalies, s.rejected), (2, 2));
    assert!(matches!(
        r.offer(&v4(2, 0, true, b'A', 16), t(0)),
        Out::Complete { fragments: 2, .. }
    ));
}

#[test]
fn too_large_fragments_are_refused() {
    // DefragTooLargeIpv4Test: offset 8183 * 8 with 71 bytes.
    let mut r = Run::policy(OverlapPolicy::Bsd);
    assert_eq!(
        r.offer(&v4(1, 8183 * 8, false, b'A', 71), t(0)),
        Out::Rejected(Reject::TooLarge)
    );
    assert_eq!(
        r.offer(&v6(1, 65528, false, b'A', 8), t(0)),
        Out::Rejected(Reject::TooLarge)
    );
    assert_eq!(r.offer(&v6(1, 65528, false, b'A', 7), t(0)), Out::Held);
    let s = r.d.stats();
    assert_eq!((s.rejected, s.anomalies), (2, 2));
    assert_eq!(r.d.held_fragments(), 1);
}

#[test]
fn too_large_datagrams_are_abandoned() {
    // IPv4: each fragment fits with a 20-byte header; with the first one's 60 bytes the
    // datagram does not.
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let mut frags: Vec<F> = (0..7).map(|i| v4(3, i * 8192, true, b'A', 8192)).collect();
    frags[0].header = v4_header(3, 0, true, ICMP, 8192, 40);
    // The last one ends at 65512: 20 + 65512 fits, 60 + 65512 > 65535 does not.
    frags.push(v4(3, 7 * 8192, false, b'A', 65512 - 7 * 8192));
    for f in &frags[..7] {
        assert_eq!(r.offer(f, t(0)), Out::Held);
    }
    assert_eq!(r.offer(&frags[7], t(1)), Out::Abandoned);
    assert_eq!(r.ended.len(), 1);
    let e = &r.ended[0];
    assert_eq!((e.reason, e.fragments), (IncompleteReason::Anomaly, 8));
    assert_eq!(e.first.as_ref().unwrap().len(), 60 + 8192);
    let s = r.d.stats();
    assert_eq!((s.abandoned, s.anomalies, s.reassembled), (1, 1, 0));
    assert_eq!((r.d.held_fragments(), r.d.held_bytes()), (0, 0));

    // IPv6: 65535 bytes after the Fragment header, plus a Hop-by-Hop header.
    let mut r = Run::policy(OverlapPolicy::Bsd);
    r.offer(&v6_with(4, 0, true, &[1; 32768], 1), t(0));
    assert_eq!(
        r.offer(&v6(4, 32768, false, 1, 32767), t(0)),
        Out::Abandoned
    );
    assert_eq!(r.ended[0].reason, IncompleteReason::Anomaly);
    // Without it, the same fits exactly.
    let mut r = Run::policy(OverlapPolicy::Bsd);
    r.offer(&v6(4, 0, true, 1, 32768), t(0));
    match r.offer(&v6(4, 32768, false, 1, 32767), t(0)) {
        Out::Complete { packet, .. } => assert_eq!(packet.len(), 40 + 65535),
        o => panic!("{o:?}"),
    }
}

#[test]
fn invalid_fragments_are_refused() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let mut bad_v4 = v4(1, 0, true, b'A', 8);
    bad_v4.header.truncate(16);
    let mut bad_v6 = v6(1, 0, true, b'A', 8);
    bad_v6.header.push(0); // extension headers do not end with the header
    let mut wrong_version = v4(1, 0, true, b'A', 8);
    wrong_version.version = IpVersion::V6;
    for (f, why) in [
        (v4(1, 0, false, b'A', 8), Reject::NotFragment),
        (v4(1, 8, false, b'A', 0), Reject::Empty),
        (v4(1, 8, true, b'A', 0), Reject::Empty),
        (v4(1, 8, true, b'A', 12), Reject::Misaligned),
        (v4(1, 12, false, b'A', 8), Reject::Misaligned),
        (bad_v4, Reject::BadHeader),
        (bad_v6, Reject::BadHeader),
        (wrong_version, Reject::BadHeader),
    ] {
        assert_eq!(r.offer(&f, t(0)), Out::Rejected(why), "{why:?}");
    }
    let s = r.d.stats();
    assert_eq!((s.fragments, s.rejected, s.anomalies), (8, 8, 0));
    assert_eq!(r.d.held_datagrams(), 0);
}

#[test]
fn keys_separate_context_protocol_and_version() {
    let mut r = Run::policy(OverlapPolicy::Bsd);
    let a = v4(1, 0, true, b'A', 8);
    let mut b = v4(1, 8, false, b'B', 8);
    b.context = 7;
    assert_eq!(r.offer(&a, t(0)), Out::Held);
    assert_eq!(r.offer(&b, t(0)), Out::Held);
    let mut c = v4(1, 8, false, b'B', 8);
    c.proto = UDP;
    assert_eq!(r.offer(&c, t(0)), Out::Held);
    assert_eq!(r.offer(&v6(1, 8, false, b'B', 8), t(0)), Out::Held);
    assert_eq!(r.d.held_datagrams(), 4);
    assert!(matches!(
        r.offer(&v4(1, 8, false, b'B', 8), t(0)),
        Out::Complete { .. }
    ));
}

#[test]
fn config_is_validated() {
    for cfg in [
        DefragConfig {
            max_frags: 0,
            ..DefragConfig::default()
        },
        DefragConfig {
            max_datagrams: 0,
            ..DefragConfig::default()
        },
        DefragConfig {
            timeout_secs: 0,
            ..DefragConfig::default()
        },
        DefragConfig {
            memcap: CHUNK - 1,
            ..DefragConfig::default()
        },
    ] {
        assert!(matches!(
            Defragmenter::new(cfg),
            Err(DefragError::BadLimit { .. })
        ));
    }
    assert!(Defragmenter::new(DefragConfig::default()).is_ok());
}

// ---- random streams ----

#[derive(Clone, Debug)]
enum Op {
    Frag {
        id: u32,
        v6: bool,
        off: u32,
        len: usize,
        more: bool,
        fill: u8,
    },
    Advance(u64),
    Back(u64),
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u32..4, any::<bool>(), 0u32..8, 1usize..6, 0u32..4, 0u8..3, 0usize..8, any::<bool>())
            .prop_map(|(id, v6, off, len, big, fill, odd, more)| Op::Frag {
                id,
                v6,
                off: off * 8,
                // Mostly small; one in four spans several chunks.
                len: len * 8 * if big == 3 { 16 } else { 1 } + if more { 0 } else { odd },
                more,
                fill,
            }),
        2 => (0u64..40).prop_map(Op::Advance),
        1 => (0u64..10).prop_map(Op::Back),
        1 => Just(Op::Expire),
    ]
}

proptest! {
    /// Whatever the stream: the bounds hold after every call, nothing allocates, every
    /// fragment is accounted for exactly once, and reassembled IPv4 headers are fixed.
    #[test]
    fn bounds_and_accounting_hold(
        ops in prop::collection::vec(op(), 1..300),
        max_frags in 1u32..10,
        max_datagrams in 1u32..4,
        chunks in 1usize..12,
        timeout in 1u32..60,
        policy in 0usize..7,
    ) {
        let cfg = DefragConfig {
            max_frags,
            max_datagrams,
            memcap: chunks * CHUNK,
            timeout_secs: timeout,
            policy: OverlapPolicy::ALL[policy],
        };
        let mut r = Run::new(cfg.clone());
        let caps = r.d.capacities();
        let mut now = 100u64;
        let (mut offered, mut rejected, mut in_complete, mut completes) = (0u64, 0u64, 0u64, 0u64);
        for op in ops {
            match op {
                Op::Frag { id, v6, off, len, more, fill } => {
                    let data: Vec<u8> = (0..len).map(|i| fill.wrapping_add((i / 8) as u8 % 2)).collect();
                    let f = if v6 { v6_with(id, off, more, &data, 0) } else { v4_with(id, off, more, &data) };
                    offered += 1;
                    match r.offer(&f, t(now)) {
                        Out::Rejected(_) => rejected += 1,
                        Out::Complete { packet, fragments, .. } => {
                            completes += 1;
                            in_complete += u64::from(fragments);
                            if !v6 {
                                prop_assert_eq!(usize::from(u16::from_be_bytes([packet[2], packet[3]])), packet.len());
                                prop_assert_eq!(&packet[6..8], &[0, 0]);
                                prop_assert!(checksum_ok(&packet[..20]));
                            } else {
                                prop_assert_eq!(usize::from(u16::from_be_bytes([packet[4], packet[5]])) + 40, packet.len());
                                prop_assert_eq!(packet[6], ICMPV6);
                            }
                        }
                        Out::Held | Out::Abandoned => {}
                    }
                }
                Op::Advance(s) => now += s,
                Op::Back(s) => now -= s.min(now),
                Op::Expire => r.expire(t(now)),
            }
            prop_assert!(r.d.held_fragments() <= cfg.max_frags);
            prop_assert!(r.d.held_bytes() <= cfg.memcap);
            prop_assert!(r.d.held_datagrams() <= cfg.max_datagrams);
            prop_assert_eq!(r.d.capacities(), caps);
        }
        r.flush();
        prop_assert_eq!((r.d.held_fragments(), r.d.held_bytes(), r.d.held_datagrams()), (0, 0, 0));
        let in_incomplete: u64 = r.ended.iter().map(|e| u64::from(e.fragments)).sum();
        prop_assert_eq!(in_complete + in_incomplete + rejected, offered);
        let s = r.d.stats();
        prop_assert_eq!(s.fragments, offered);
        prop_assert_eq!(s.rejected, rejected);
        prop_assert_eq!(s.reassembled, completes);
        prop_assert_eq!(s.timeouts + s.over_cap + s.flushed + s.abandoned, r.ended.len() as u64);
        prop_assert!(r.ended.iter().all(|e| e.fragments > 0));
    }
}
