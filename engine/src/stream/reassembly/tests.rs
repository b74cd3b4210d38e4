//! Tests of one direction's reassembly: hand-made cases on an HTTP exchange, and
//! properties over random streams cut, reordered and duplicated at random.

use super::*;
use proptest::prelude::*;

/// A chunk as the tests keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    D(Vec<u8>),
    G(u32),
}

fn d(b: &[u8]) -> Got {
    Got::D(b.to_vec())
}

/// A client's HTTP request, as curl sends it (88 bytes).
const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

/// A server's HTTP response with a `len`-byte HTML body.
fn response(len: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(len);
    let mut n = 0;
    while body.len() < len {
        body.extend_from_slice(format!("<p>line {n} of the page</p>\n").as_bytes());
        n += 1;
    }
    body.truncate(len);
    let mut r =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len}\r\n\r\n")
            .into_bytes();
    r.extend_from_slice(&body);
    r
}

/// A reassembler under test, with what it handed out.
struct T {
    r: Reassembler,
    cfg: ReassemblyConfig,
    isn1: u32,
    got: Vec<Got>,
}

impl T {
    fn new(isn1: u32, cfg: ReassemblyConfig) -> Self {
        let mut r = Reassembler::default();
        r.start(isn1);
        T {
            r,
            cfg,
            isn1,
            got: Vec::new(),
        }
    }

    /// Unlimited except for the given limits, no depth.
    fn with_limits(max_segments: u32, max_bytes: u32) -> Self {
        T::new(
            1000,
            ReassemblyConfig {
                max_segments,
                max_bytes,
                depth: 0,
            },
        )
    }

    /// Offers `data` at stream offset `off`.
    fn seg(&mut self, off: u32, data: &[u8]) -> Offer {
        let got = &mut self.got;
        self.r
            .segment(self.isn1.wrapping_add(off), data, &self.cfg, &mut |c| {
                got.push(own(c))
            })
    }

    /// The peer acknowledges up to stream offset `off`.
    fn ack(&mut self, off: u32) {
        let got = &mut self.got;
        self.r
            .ack(self.isn1.wrapping_add(off), &self.cfg, &mut |c| {
                got.push(own(c))
            });
    }

    fn flush(&mut self) {
        let got = &mut self.got;
        self.r.flush(&self.cfg, &mut |c| got.push(own(c)));
    }

    /// What was handed out since the last call, adjacent `Data` joined.
    fn take(&mut self) -> Vec<Got> {
        let mut v: Vec<Got> = Vec::new();
        for g in self.got.drain(..) {
            match (v.last_mut(), g) {
                (Some(Got::D(a)), Got::D(b)) => a.extend_from_slice(&b),
                (_, g) => v.push(g),
            }
        }
        v
    }

    /// The bytes handed out since the last call; there must be no gap.
    fn bytes(&mut self) -> Vec<u8> {
        match self.take().as_slice() {
            [] => Vec::new(),
            [Got::D(b)] => b.clone(),
            other => panic!("expected only data, got {other:?}"),
        }
    }
}

fn own(c: Chunk<'_>) -> Got {
    match c {
        Chunk::Data(b) => {
            assert!(!b.is_empty(), "empty Data chunk");
            Got::D(b.to_vec())
        }
        Chunk::Gap(n) => {
            assert!(n > 0, "Gap(0)");
            Got::G(n)
        }
    }
}

/// `stream` cut into segments of `size` bytes: (offset, bytes).
fn cut(stream: &[u8], size: usize) -> Vec<(u32, &[u8])> {
    stream
        .chunks(size)
        .enumerate()
        .map(|(i, c)| ((i * size) as u32, c))
        .collect()
}

/// A small deterministic PRNG (splitmix64) for shuffles.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    fn shuffle<X>(&mut self, v: &mut [X]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Each non-empty segment is counted in exactly one outcome.
fn assert_counters_partition(s: &ReassemblyStats) {
    assert_eq!(
        s.segments,
        s.in_order + s.out_of_order + s.duplicates + s.out_of_window + s.after_depth,
        "{s:?}"
    );
}

#[test]
fn in_order_data_is_handed_through_without_a_copy() {
    let mut r = Reassembler::default();
    let cfg = ReassemblyConfig::default();
    r.start(7);
    for (off, part) in cut(REQUEST, 30) {
        let mut seen: Vec<(*const u8, usize)> = Vec::new();
        let offer = r.segment(7 + off, part, &cfg, &mut |c| match c {
            Chunk::Data(b) => seen.push((b.as_ptr(), b.len())),
            Chunk::Gap(n) => panic!("gap {n}"),
        });
        assert_eq!(offer, Offer::Delivered);
        // The very bytes of the segment: no copy.
        assert_eq!(seen, vec![(part.as_ptr(), part.len())]);
    }
    assert_eq!(r.delivered(), REQUEST.len() as u64);
    assert_eq!(r.offset(), REQUEST.len() as u64);
    assert_eq!(r.next_seq(), 7 + REQUEST.len() as u32);
    assert_eq!(r.stats().in_order, 3);
    assert_eq!(r.held_bytes(), 0);
    assert_eq!(r.held().capacity(), 0, "no heap for in-order data");
    assert!(r.rare.is_none(), "no heap for in-order data");
    assert!(
        std::mem::size_of::<Reassembler>() <= 48,
        "two per TCP flow: {} bytes each",
        std::mem::size_of::<Reassembler>()
    );
}

#[test]
fn two_segments_swapped() {
    let mut t = T::with_limits(16, 4096);
    let s = cut(REQUEST, 50);
    assert_eq!(t.seg(s[1].0, s[1].1), Offer::Held);
    assert!(t.take().is_empty());
    assert_eq!(t.r.held_bytes(), 38);
    assert_eq!(t.r.held_segments(), 1);
    assert_eq!(t.seg(s[0].0, s[0].1), Offer::Delivered);
    assert_eq!(t.bytes(), REQUEST);
    assert_eq!(t.r.held_bytes(), 0);
    assert!(
        t.r.held().capacity() <= KEEP_SLOTS,
        "only a small queue is kept"
    );
    let st = t.r.stats();
    assert_eq!((st.in_order, st.out_of_order), (1, 1));
}

#[test]
fn three_segments_in_every_order() {
    let s = cut(REQUEST, 30);
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let mut t = T::with_limits(16, 4096);
        for i in order {
            t.seg(s[i].0, s[i].1);
        }
        assert_eq!(t.bytes(), REQUEST, "order {order:?}");
        assert_eq!(t.r.held_bytes(), 0);
        let st = t.r.stats();
        assert_eq!(st.in_order + st.out_of_order, 3);
        assert_eq!(st.gaps, 0);
    }
}

#[test]
fn many_segments_reversed_and_shuffled() {
    let resp = response(6000);
    let s = cut(&resp, 100);
    // Reversed: everything but the first is held, then all of it arrives at once.
    let mut t = T::with_limits(256, 64 * 1024);
    for &(off, part) in s.iter().rev() {
        t.seg(off, part);
    }
    assert_eq!(t.bytes(), resp);
    assert_eq!(t.r.stats().out_of_order, s.len() as u64 - 1);
    assert_eq!(t.r.stats().in_order, 1);
    // Shuffled.
    let mut order: Vec<usize> = (0..s.len()).collect();
    SplitMix(42).shuffle(&mut order);
    let mut t = T::with_limits(256, 64 * 1024);
    let mut out = Vec::new();
    for i in order {
        t.seg(s[i].0, s[i].1);
        out.extend(t.bytes());
    }
    assert_eq!(out, resp);
    assert_eq!(t.r.held_bytes(), 0);
}

#[test]
fn retransmission_is_never_delivered_again() {
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..40]);
    t.seg(40, &REQUEST[40..]);
    assert_eq!(t.bytes(), REQUEST);
    assert_eq!(t.seg(0, &REQUEST[..40]), Offer::Duplicate);
    // Different bytes for data already delivered: the first data won.
    assert_eq!(t.seg(10, b"GET /evil"), Offer::Duplicate);
    assert!(t.take().is_empty());
    let st = t.r.stats();
    assert_eq!(st.duplicates, 2);
    assert_eq!(st.retransmitted_bytes, 40 + 9);
    assert_eq!(t.r.delivered(), REQUEST.len() as u64);
}

#[test]
fn partial_overlap_with_delivered_data_delivers_only_the_new_bytes() {
    let mut r = Reassembler::default();
    let cfg = ReassemblyConfig::default();
    r.start(0);
    r.segment(0, &REQUEST[..10], &cfg, &mut |_| {});
    let seg = &REQUEST[5..20];
    let mut seen = Vec::new();
    assert_eq!(
        r.segment(5, seg, &cfg, &mut |c| {
            if let Chunk::Data(b) = c {
                seen.push((b.as_ptr(), b.len()));
            }
        }),
        Offer::Delivered
    );
    // Only its last 10 bytes are new, handed through in place.
    assert_eq!(seen, vec![(seg[5..].as_ptr(), 10)]);
    assert_eq!(r.stats().retransmitted_bytes, 5);
    assert_eq!(r.delivered(), 20);
}

#[test]
fn segment_overlapping_both_ends_of_held_data_adds_only_its_new_pieces() {
    let mut t = T::with_limits(16, 4096);
    assert_eq!(t.seg(10, &REQUEST[10..20]), Offer::Held);
    // Ahead too, covering the held piece and 5 bytes on each side.
    assert_eq!(t.seg(5, &REQUEST[5..25]), Offer::Held);
    assert_eq!(t.r.held_segments(), 3);
    assert_eq!(t.r.held_bytes(), 20);
    assert_eq!(t.r.stats().overlap_bytes, 10);
    assert_eq!(t.r.stats().overlap_diff, 0);
    assert_eq!(t.seg(0, &REQUEST[..5]), Offer::Delivered);
    assert_eq!(t.bytes(), &REQUEST[..25]);
    // In order, over held data at both ends.
    let mut t = T::with_limits(16, 4096);
    t.seg(10, &REQUEST[10..20]);
    assert_eq!(t.seg(0, &REQUEST[..30]), Offer::Delivered);
    assert_eq!(t.bytes(), &REQUEST[..30]);
    assert_eq!(t.r.stats().overlap_bytes, 10);
    assert_eq!(t.r.stats().overlap_diff, 0);
    assert_eq!(t.r.stats().out_of_order + t.r.stats().in_order, 2);
}

#[test]
fn overlap_with_different_bytes_keeps_the_first_and_is_counted() {
    // In order over held data.
    let mut t = T::with_limits(16, 4096);
    t.seg(10, &REQUEST[10..20]);
    let mut evil = REQUEST[..30].to_vec();
    evil[12..18].copy_from_slice(b"XXXXXX");
    assert_eq!(t.seg(0, &evil), Offer::Delivered);
    assert_eq!(t.bytes(), &REQUEST[..30]);
    assert_eq!(t.r.stats().overlap_bytes, 10);
    assert_eq!(t.r.stats().overlap_diff, 1);

    // Out of order over held data: the held bytes stay, the new pieces are the
    // attacker's (nothing had them yet).
    let mut t = T::with_limits(16, 4096);
    t.seg(10, &REQUEST[10..20]);
    let evil = [b'X'; 14];
    assert_eq!(t.seg(8, &evil), Offer::Held);
    assert_eq!(t.r.stats().overlap_diff, 1);
    t.seg(0, &REQUEST[..8]);
    let mut want = REQUEST[..8].to_vec();
    want.extend_from_slice(b"XX");
    want.extend_from_slice(&REQUEST[10..20]);
    want.extend_from_slice(b"XX");
    assert_eq!(t.bytes(), want);

    // Entirely inside held data, different bytes: a duplicate, counted.
    let mut t = T::with_limits(16, 4096);
    t.seg(10, &REQUEST[10..20]);
    assert_eq!(t.seg(12, b"zzz"), Offer::Duplicate);
    assert_eq!(t.r.stats().overlap_diff, 1);
    assert_eq!(t.r.stats().duplicates, 1);
    t.seg(0, &REQUEST[..10]);
    assert_eq!(t.bytes(), &REQUEST[..20]);
}

#[test]
fn gap_filled_later_is_seamless() {
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..10]);
    assert_eq!(t.bytes(), &REQUEST[..10]);
    t.seg(20, &REQUEST[20..30]);
    t.seg(40, &REQUEST[40..]);
    assert!(t.take().is_empty());
    t.seg(10, &REQUEST[10..20]);
    assert_eq!(t.bytes(), &REQUEST[10..30]);
    t.seg(30, &REQUEST[30..40]);
    assert_eq!(t.bytes(), &REQUEST[30..]);
    assert_eq!(t.r.stats().gaps, 0);
}

#[test]
fn hole_acked_past_is_reported_as_a_gap() {
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..10]);
    t.seg(20, &REQUEST[20..30]);
    t.seg(40, &REQUEST[40..50]);
    t.take();
    t.ack(25);
    assert_eq!(t.take(), vec![Got::G(10), d(&REQUEST[20..30])]);
    assert_eq!(t.r.held_segments(), 1);
    t.ack(45);
    assert_eq!(t.take(), vec![Got::G(10), d(&REQUEST[40..50])]);
    // A late retransmission of a lost hole is not delivered.
    assert_eq!(t.seg(10, &REQUEST[10..20]), Offer::Duplicate);
    let st = t.r.stats();
    assert_eq!((st.gaps, st.gap_bytes), (2, 20));
    assert_eq!(t.r.delivered(), 30);
    assert_eq!(t.r.offset(), 50);
}

#[test]
fn ack_inside_a_hole_gives_up_only_the_acknowledged_part() {
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..10]);
    t.seg(20, &REQUEST[20..30]);
    t.take();
    t.ack(15);
    assert_eq!(t.take(), vec![Got::G(5)]);
    t.seg(15, &REQUEST[15..20]);
    assert_eq!(t.bytes(), &REQUEST[15..30]);
}

#[test]
fn ack_past_missing_tail_data_is_a_gap() {
    // The capture lost the segment at 10..40: the peer's ACK tells.
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..10]);
    t.take();
    t.ack(40);
    assert_eq!(t.take(), vec![Got::G(30)]);
    assert_eq!(t.seg(40, &REQUEST[40..]), Offer::Delivered);
    assert_eq!(t.bytes(), &REQUEST[40..]);
}

#[test]
fn acks_behind_or_absurdly_far_change_nothing() {
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..10]);
    t.seg(20, &REQUEST[20..30]);
    t.take();
    t.ack(10);
    t.ack(3);
    t.ack(0u32.wrapping_sub(5));
    t.ack(10 + (1 << 30) + 1);
    assert!(t.take().is_empty());
    assert_eq!(t.r.offset(), 10);
    assert_eq!(t.r.held_segments(), 1);
}

#[test]
fn flush_reports_every_hole_in_order() {
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..10]);
    t.seg(35, &REQUEST[35..40]);
    t.seg(20, &REQUEST[20..30]);
    t.take();
    t.flush();
    assert_eq!(
        t.take(),
        vec![
            Got::G(10),
            d(&REQUEST[20..30]),
            Got::G(5),
            d(&REQUEST[35..40])
        ]
    );
    assert_eq!(t.r.held_bytes(), 0);
    assert_eq!(t.r.held_segments(), 0);
    t.flush();
    assert!(t.take().is_empty());
    assert_eq!(t.r.stats().gaps, 2);
}

#[test]
fn segment_limit_gives_up_the_oldest_hole() {
    let mut t = T::with_limits(2, 4096);
    t.seg(0, &REQUEST[..10]);
    t.take();
    assert_eq!(t.seg(20, &REQUEST[20..30]), Offer::Held);
    assert_eq!(t.seg(40, &REQUEST[40..50]), Offer::Held);
    assert_eq!(t.seg(60, &REQUEST[60..70]), Offer::Held);
    assert_eq!(t.take(), vec![Got::G(10), d(&REQUEST[20..30])]);
    assert_eq!(t.r.held_segments(), 2);
    let st = t.r.stats();
    assert_eq!((st.over_limit, st.gaps, st.gap_bytes), (1, 1, 10));
    // The rest arrives: all of it flows.
    t.seg(30, &REQUEST[30..40]);
    t.seg(50, &REQUEST[50..60]);
    assert_eq!(t.bytes(), &REQUEST[30..70]);
}

#[test]
fn byte_limit_gives_up_the_oldest_holes() {
    let resp = response(200);
    let mut t = T::with_limits(16, 25);
    t.seg(0, &resp[..10]);
    t.take();
    t.seg(20, &resp[20..30]);
    t.seg(40, &resp[40..50]);
    assert_eq!(t.r.held_bytes(), 20);
    // 30 bytes would be held: the hole 10..20 goes.
    assert_eq!(t.seg(60, &resp[60..70]), Offer::Held);
    assert_eq!(t.take(), vec![Got::G(10), d(&resp[20..30])]);
    assert_eq!(t.r.held_bytes(), 20);
    // 20 + 20 > 25, then 10 + 20 > 25: both holes before it go (30..40, 50..60).
    assert_eq!(t.seg(75, &resp[75..95]), Offer::Held);
    assert_eq!(
        t.take(),
        vec![Got::G(10), d(&resp[40..50]), Got::G(10), d(&resp[60..70])]
    );
    assert_eq!(t.r.held_bytes(), 20);
    assert_eq!(t.r.held_segments(), 1);
    let st = t.r.stats();
    assert_eq!((st.over_limit, st.gaps, st.gap_bytes), (3, 3, 30));
    t.seg(70, &resp[70..75]);
    assert_eq!(t.bytes(), &resp[70..95]);
}

#[test]
fn limits_are_exact() {
    // Exactly max_bytes held fits; one byte more gives up a hole.
    let mut t = T::with_limits(16, 20);
    assert_eq!(t.seg(20, &REQUEST[20..30]), Offer::Held);
    assert_eq!(t.seg(40, &REQUEST[40..50]), Offer::Held);
    assert_eq!(t.r.held_bytes(), 20);
    assert!(t.take().is_empty());
    assert_eq!(t.seg(60, &REQUEST[60..61]), Offer::Held);
    assert_eq!(t.take(), vec![Got::G(20), d(&REQUEST[20..30])]);
    // Exactly max_segments held fits; one more gives up a hole.
    let mut t = T::with_limits(2, 4096);
    assert_eq!(t.seg(20, &REQUEST[20..21]), Offer::Held);
    assert_eq!(t.seg(40, &REQUEST[40..41]), Offer::Held);
    assert!(t.take().is_empty());
    assert_eq!(t.seg(60, &REQUEST[60..61]), Offer::Held);
    assert_eq!(t.take(), vec![Got::G(20), d(&REQUEST[20..21])]);
    assert_eq!(t.r.held_segments(), 2);
}

#[test]
fn over_a_limit_only_the_hole_before_the_new_segment_goes() {
    // The new segment lies in the first hole: only the part of the hole before it is
    // given up, it passes through, and the held data after it stays held.
    let mut t = T::with_limits(1, 4096);
    t.seg(0, &REQUEST[..10]);
    t.take();
    assert_eq!(t.seg(40, &REQUEST[40..50]), Offer::Held);
    assert_eq!(t.seg(20, &REQUEST[20..30]), Offer::Delivered);
    assert_eq!(t.take(), vec![Got::G(10), d(&REQUEST[20..30])]);
    assert_eq!(t.r.held_segments(), 1);
    t.seg(30, &REQUEST[30..40]);
    assert_eq!(t.bytes(), &REQUEST[30..50]);
}

#[test]
fn segment_larger_than_the_byte_limit_passes_through_after_a_gap() {
    let mut r = Reassembler::default();
    let cfg = ReassemblyConfig {
        max_segments: 16,
        max_bytes: 8,
        depth: 0,
    };
    r.start(0);
    r.segment(0, &REQUEST[..10], &cfg, &mut |_| {});
    let seg = &REQUEST[20..40];
    let mut got = Vec::new();
    assert_eq!(
        r.segment(20, seg, &cfg, &mut |c| got.push(match c {
            Chunk::Data(b) => Err((b.as_ptr(), b.len())),
            Chunk::Gap(n) => Ok(n),
        })),
        Offer::Delivered
    );
    assert_eq!(got, vec![Ok(10), Err((seg.as_ptr(), 20))]);
    assert_eq!(r.held_bytes(), 0);
    assert_eq!(r.stats().over_limit, 1);
    assert_eq!(r.stats().out_of_order, 1);
}

#[test]
fn zero_limits_never_hold() {
    let mut t = T::with_limits(0, 0);
    t.seg(0, &REQUEST[..10]);
    assert_eq!(t.seg(30, &REQUEST[30..40]), Offer::Delivered);
    assert_eq!(t.seg(20, &REQUEST[20..30]), Offer::Duplicate);
    assert_eq!(
        t.take(),
        vec![d(&REQUEST[..10]), Got::G(20), d(&REQUEST[30..40])]
    );
    assert_eq!(t.r.held().capacity(), 0);
}

#[test]
fn depth_stops_delivery() {
    let mut t = T::new(
        5,
        ReassemblyConfig {
            depth: 25,
            ..ReassemblyConfig::default()
        },
    );
    let s = cut(REQUEST, 10);
    assert_eq!(t.seg(s[0].0, s[0].1), Offer::Delivered);
    assert_eq!(t.seg(s[1].0, s[1].1), Offer::Delivered);
    assert!(!t.r.depth_reached());
    // Cut at the depth.
    assert_eq!(t.seg(s[2].0, s[2].1), Offer::Delivered);
    assert!(t.r.depth_reached());
    assert_eq!(t.bytes(), &REQUEST[..25]);
    assert_eq!(t.seg(s[3].0, s[3].1), Offer::Depth);
    assert_eq!(t.seg(s[2].0, s[2].1), Offer::Depth);
    t.ack(80);
    t.flush();
    assert!(t.take().is_empty());
    let st = t.r.stats();
    assert!(st.depth_reached);
    assert_eq!(st.after_depth, 2);
    assert_eq!(t.r.delivered(), 25);
    assert_counters_partition(&st);
}

#[test]
fn depth_counts_gap_bytes_and_drops_held_data() {
    let cfg = ReassemblyConfig {
        depth: 30,
        ..ReassemblyConfig::default()
    };
    let mut t = T::new(0, cfg);
    t.seg(0, &REQUEST[..10]);
    t.ack(20);
    assert_eq!(t.seg(20, &REQUEST[20..40]), Offer::Delivered);
    assert_eq!(
        t.take(),
        vec![d(&REQUEST[..10]), Got::G(10), d(&REQUEST[20..30])]
    );
    assert!(t.r.depth_reached());

    // Nothing is held beyond the depth; what straddles it is cut.
    let mut t = T::new(0, cfg);
    assert_eq!(t.seg(30, &REQUEST[30..40]), Offer::Depth);
    assert_eq!(t.seg(25, &REQUEST[25..40]), Offer::Held);
    assert_eq!(t.r.held_bytes(), 5);
    assert_eq!(t.seg(12, &REQUEST[12..18]), Offer::Held);
    // In order up to past the depth: held data in it wins, the rest is cut.
    assert_eq!(t.seg(0, &REQUEST[..40]), Offer::Delivered);
    assert_eq!(t.bytes(), &REQUEST[..30]);
    assert_eq!(t.r.held_bytes(), 0);
    assert_eq!(t.r.held().capacity(), 0);
    assert_eq!(t.r.stats().after_depth, 1);
}

#[test]
fn sequence_numbers_wrap() {
    let resp = response(300);
    // 100 bytes before the wrap.
    let isn1 = u32::MAX - 99;
    let mut t = T::new(isn1, ReassemblyConfig::default());
    let s = cut(&resp, 40);
    let mut order: Vec<usize> = (0..s.len()).collect();
    SplitMix(7).shuffle(&mut order);
    for i in order {
        t.seg(s[i].0, s[i].1);
    }
    assert_eq!(t.bytes(), resp);
    assert_eq!(t.r.next_seq(), isn1.wrapping_add(resp.len() as u32));
    // A retransmission from before the wrap is still old.
    assert_eq!(t.seg(s[1].0, s[1].1), Offer::Duplicate);
    // A hole across the wrap, acknowledged past it.
    let mut t = T::new(u32::MAX - 9, ReassemblyConfig::default());
    t.seg(0, &resp[..5]);
    t.seg(20, &resp[20..30]);
    t.ack(25);
    assert_eq!(t.take(), vec![d(&resp[..5]), Got::G(15), d(&resp[20..30])]);
    assert_eq!(t.r.next_seq(), 20);
}

#[test]
fn zero_length_segments_do_nothing() {
    let mut t = T::with_limits(16, 4096);
    assert_eq!(t.seg(0, b""), Offer::Empty);
    assert_eq!(t.seg(50, b""), Offer::Empty);
    t.seg(20, &REQUEST[20..30]);
    assert_eq!(t.seg(0, b""), Offer::Empty);
    assert!(t.take().is_empty());
    assert_eq!(t.r.stats().segments, 1);
    assert_eq!(t.r.offset(), 0);
}

#[test]
fn nothing_happens_before_start() {
    let mut r = Reassembler::default();
    let cfg = ReassemblyConfig::default();
    assert!(!r.is_started());
    let mut n = 0;
    assert_eq!(
        r.segment(1, REQUEST, &cfg, &mut |_| n += 1),
        Offer::NotStarted
    );
    r.ack(100, &cfg, &mut |_| n += 1);
    r.flush(&cfg, &mut |_| n += 1);
    assert_eq!(n, 0);
    assert_eq!(r.stats(), ReassemblyStats::default());
}

#[test]
fn segments_far_from_the_window_are_ignored() {
    let cfg = ReassemblyConfig {
        max_segments: 16,
        max_bytes: 4096,
        depth: 0,
    };
    let window = 4096 + (1 << 20);
    let mut t = T::new(1000, cfg);
    t.seg(0, &REQUEST[..10]);
    t.take();
    assert_eq!(t.seg(10 + window + 1, b"junk"), Offer::OutOfWindow);
    assert_eq!(
        t.seg(10u32.wrapping_sub((1 << 30) + 1), b"junk"),
        Offer::OutOfWindow
    );
    // At the edge of the window: held; far behind but within 2^30: a retransmission.
    assert_eq!(t.seg(10 + window, b"edge"), Offer::Held);
    assert_eq!(t.seg(10u32.wrapping_sub(1 << 29), b"old"), Offer::Duplicate);
    let st = t.r.stats();
    assert_eq!(st.out_of_window, 2);
    assert_eq!(st.retransmitted_bytes, 3);
    assert_eq!(t.r.held_bytes(), 4);
    assert_counters_partition(&st);
}

#[test]
fn start_restarts_the_stream() {
    let mut t = T::with_limits(16, 4096);
    t.seg(0, &REQUEST[..10]);
    t.seg(20, &REQUEST[20..30]);
    t.r.start(5000);
    assert!(t.r.is_started());
    assert_eq!(t.r.held_bytes(), 0);
    assert_eq!(t.r.offset(), 0);
    assert_eq!(t.r.stats(), ReassemblyStats::default());
    t.take();
    let mut got = Vec::new();
    t.r.segment(5000, REQUEST, &t.cfg, &mut |c| got.push(own(c)));
    assert_eq!(got, vec![d(REQUEST)]);
}

#[test]
fn small_and_no_heap_until_data_is_held() {
    // Two per TCP flow live in the flow's inspection state.
    assert!(std::mem::size_of::<Reassembler>() <= 160);
    let r = Reassembler::default();
    assert_eq!(r.held().capacity(), 0);
    let mut t = T::with_limits(64, 4096);
    for (off, part) in cut(REQUEST, 10) {
        t.seg(off, part);
    }
    assert_eq!(t.r.held().capacity(), 0);
    assert_eq!(t.seg(100, b"GET /next"), Offer::Held);
    assert!(t.r.held().capacity() > 0);
    // A large queue is freed once empty, a small one kept.
    for i in 0..40 {
        t.seg(200 + 10 * i, b"GET /more");
    }
    assert!(t.r.held().capacity() >= 40);
    t.flush();
    assert_eq!(t.r.held().capacity(), 0);
    t.seg(1000, b"GET /again");
    t.ack(1010);
    assert_eq!(t.r.held_segments(), 0);
    assert!(t.r.held().capacity() > 0 && t.r.held().capacity() <= KEEP_SLOTS);
}

/// A random stream, the sizes of the segments that cover it, extra segments (start,
/// length), a shuffle seed and the first sequence number.
type Case = (Vec<u8>, Vec<usize>, Vec<(usize, usize)>, u64, u32);

/// A random [`Case`].
fn stream_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(any::<u8>(), 1..2500),
        prop::collection::vec(1usize..300, 1..40),
        prop::collection::vec((any::<usize>(), 1usize..400), 0..16),
        any::<u64>(),
        any::<u32>(),
    )
}

/// Segments covering `stream` (sizes cycled), plus `extra` segments anywhere in it,
/// each possibly duplicated (by `seed`), shuffled.
fn messed_up(
    stream: &[u8],
    sizes: &[usize],
    extra: &[(usize, usize)],
    seed: u64,
) -> Vec<(usize, usize)> {
    let mut segs = Vec::new();
    let mut off = 0;
    for &size in sizes.iter().cycle() {
        if off >= stream.len() {
            break;
        }
        let end = min(off + size, stream.len());
        segs.push((off, end));
        off = end;
    }
    for &(at, len) in extra {
        let a = at % stream.len();
        segs.push((a, min(a + len, stream.len())));
    }
    let mut rng = SplitMix(seed);
    let n = segs.len();
    for i in 0..n {
        if rng.below(4) == 0 {
            segs.push(segs[i]);
        }
    }
    rng.shuffle(&mut segs);
    segs
}

proptest! {
    /// Without hitting a limit, any order and duplication of the segments of a stream
    /// delivers exactly the stream, with no gap.
    #[test]
    fn any_order_and_duplication_delivers_the_stream(
        (stream, sizes, extra, seed, isn1) in stream_case()
    ) {
        let cfg = ReassemblyConfig { max_segments: 100_000, max_bytes: 1 << 20, depth: 0 };
        let mut r = Reassembler::default();
        r.start(isn1);
        let mut got = Vec::new();
        for (a, b) in messed_up(&stream, &sizes, &extra, seed) {
            r.segment(isn1.wrapping_add(a as u32), &stream[a..b], &cfg, &mut |c| match c {
                Chunk::Data(d) => got.extend_from_slice(d),
                Chunk::Gap(n) => panic!("gap {n}"),
            });
        }
        prop_assert_eq!(&got, &stream);
        prop_assert_eq!(r.held_bytes(), 0);
        let st = r.stats();
        prop_assert_eq!(st.gaps, 0);
        prop_assert_eq!(st.overlap_diff, 0);
        prop_assert_eq!(st.over_limit, 0);
        assert_counters_partition(&st);
        r.flush(&cfg, &mut |c| panic!("flush after everything: {c:?}"));
    }

    /// With limits (and ACKs, and a depth), memory stays within the limits, every
    /// byte handed out is the stream's byte at its place, and after a flush the
    /// data and gaps handed out cover exactly what the segments and ACKs covered.
    #[test]
    fn limits_bound_memory_and_every_byte_is_accounted_for(
        (stream, sizes, extra, seed, isn1) in stream_case(),
        max_segments in 0u32..8,
        max_bytes in 0u32..1500,
        depth in prop_oneof![Just(0u64), 1u64..3000],
        acks in prop::collection::vec((any::<usize>(), any::<usize>()), 0..8),
    ) {
        let cfg = ReassemblyConfig { max_segments, max_bytes, depth };
        let mut r = Reassembler::default();
        r.start(isn1);
        let segs = messed_up(&stream, &sizes, &extra, seed);
        // Acks at random places in the sequence of segments, to random offsets.
        let mut ack_at: Vec<(usize, usize)> = acks
            .iter()
            .map(|&(when, to)| (when % (segs.len() + 1), to % (stream.len() + 1)))
            .collect();
        ack_at.sort_unstable();
        let (mut pos, mut gaps, mut gap_bytes, mut covered) = (0usize, 0u64, 0u64, 0usize);
        let mut check = |c: Chunk<'_>| match c {
            Chunk::Data(d) => {
                assert!(!d.is_empty());
                assert_eq!(d, &stream[pos..pos + d.len()], "wrong bytes at {pos}");
                pos += d.len();
            }
            Chunk::Gap(n) => {
                assert!(n > 0);
                gaps += 1;
                gap_bytes += u64::from(n);
                pos += n as usize;
            }
        };
        let mut acks = ack_at.iter().peekable();
        for (i, &(a, b)) in segs.iter().enumerate() {
            while let Some(&(_, to)) = acks.next_if(|&&(when, _)| when == i) {
                r.ack(isn1.wrapping_add(to as u32), &cfg, &mut check);
                covered = covered.max(to);
            }
            r.segment(isn1.wrapping_add(a as u32), &stream[a..b], &cfg, &mut check);
            covered = covered.max(b);
            prop_assert!(r.held_bytes() <= max_bytes);
            prop_assert!(r.held_segments() <= max_segments);
            prop_assert!(depth == 0 || r.offset() <= depth);
        }
        for &(_, to) in acks {
            r.ack(isn1.wrapping_add(to as u32), &cfg, &mut check);
            covered = covered.max(to);
        }
        r.flush(&cfg, &mut check);
        prop_assert_eq!(r.held_bytes(), 0);
        prop_assert_eq!(r.held_segments(), 0);
        let want = if depth == 0 { covered as u64 } else { (covered as u64).min(depth) };
        prop_assert_eq!(r.offset(), want);
        prop_assert_eq!(pos as u64, r.offset());
        let st = r.stats();
        prop_assert_eq!(st.gaps, gaps);
        prop_assert_eq!(st.gap_bytes, gap_bytes);
        prop_assert_eq!(r.delivered(), r.offset() - gap_bytes);
        prop_assert_eq!(st.depth_reached, depth != 0 && r.offset() == depth);
        assert_counters_partition(&st);
    }
}
