//! One direction's TCP reassembly: arbitrary segments, ACKs and flushes, with small
//! limits, checked against the promises of `engine/src/stream/reassembly.rs`.
//!
//! Input layout:
//!
//! ```text
//! byte  0     max_segments = byte % 9
//! bytes 1-2   max_bytes = u16 LE % 4096
//! bytes 3-4   depth = u16 LE (0 = unlimited)
//! bytes 5-8   first sequence number (u32 LE)
//! then, repeated until the input ends:
//!   byte op:  bits 0-1 kind: 0, 1 segment of the stream; 2 junk segment (bytes from
//!             the input); 3 ACK, or flush when bit 2 is set
//!             bit 3: sequence/ack number is an arbitrary u32 (4 bytes) instead of an
//!             i16 offset (2 bytes) from the first sequence number
//!   number    as bit 3 says
//!   (segments) byte length (0-255); junk segments then take that many input bytes
//! ```
//!
//! The stream's byte at sequence number `s` is `stream_byte(s)`, so every segment of
//! kind 0/1 carries the true bytes, wherever it lies (before the start, across the
//! wrap). Checks after every call: held data within the limits; chunks never empty;
//! the Data and Gap lengths handed out add up to `offset()` (Data to `delivered()`,
//! gaps to the counters); never past the depth; the counters partition the segments;
//! while no junk was offered, every byte handed out is the stream's byte at its place.
//! After a flush, nothing is held.
#![no_main]

use flowengine::stream::{Chunk, Offer, Reassembler, ReassemblyConfig};
use libfuzzer_sys::fuzz_target;

fn stream_byte(seq: u32) -> u8 {
    let x = seq.wrapping_mul(0x9e37_79b1);
    (x >> 24) as u8 ^ (seq as u8)
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn number(&mut self, far: bool, isn1: u32) -> Option<u32> {
        if far {
            self.u32()
        } else {
            self.u16()
                .map(|v| isn1.wrapping_add(i32::from(v as i16) as u32))
        }
    }
}

/// What the checks know of the output so far.
struct Seen {
    isn1: u32,
    offset: u64,
    data: u64,
    gaps: u64,
    gap_bytes: u64,
    junk: bool,
}

impl Seen {
    fn chunk(&mut self, c: Chunk<'_>) {
        match c {
            Chunk::Data(d) => {
                assert!(!d.is_empty(), "empty Data");
                if !self.junk {
                    for (i, &b) in d.iter().enumerate() {
                        let seq = self.isn1.wrapping_add((self.offset + i as u64) as u32);
                        assert_eq!(b, stream_byte(seq), "wrong byte at offset {}", self.offset);
                    }
                }
                self.offset += d.len() as u64;
                self.data += d.len() as u64;
            }
            Chunk::Gap(n) => {
                assert!(n > 0, "Gap(0)");
                self.offset += u64::from(n);
                self.gaps += 1;
                self.gap_bytes += u64::from(n);
            }
        }
    }

    fn check(&self, r: &Reassembler, cfg: &ReassemblyConfig) {
        assert!(r.held_bytes() <= cfg.max_bytes);
        assert!(r.held_segments() <= cfg.max_segments);
        assert_eq!(self.offset, r.offset());
        assert_eq!(self.data, r.delivered());
        let st = r.stats();
        assert_eq!(self.gaps, st.gaps);
        assert_eq!(self.gap_bytes, st.gap_bytes);
        assert!(cfg.depth == 0 || r.offset() <= cfg.depth);
        assert_eq!(st.depth_reached, cfg.depth != 0 && r.offset() >= cfg.depth);
        assert_eq!(
            st.segments,
            st.in_order + st.out_of_order + st.duplicates + st.out_of_window + st.after_depth
        );
        if st.depth_reached {
            assert_eq!(r.held_segments(), 0);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let (Some(ms), Some(mb), Some(depth), Some(isn1)) = (inp.u8(), inp.u16(), inp.u16(), inp.u32())
    else {
        return;
    };
    let cfg = ReassemblyConfig {
        max_segments: u32::from(ms % 9),
        max_bytes: u32::from(mb % 4096),
        depth: u64::from(depth),
    };
    let mut r = Reassembler::default();
    r.start(isn1);
    let mut seen = Seen {
        isn1,
        offset: 0,
        data: 0,
        gaps: 0,
        gap_bytes: 0,
        junk: false,
    };
    let mut buf = [0u8; 255];
    while let Some(op) = inp.u8() {
        let far = op & 8 != 0;
        let Some(num) = inp.number(far, isn1) else {
            break;
        };
        match op & 3 {
            3 if op & 4 != 0 => {
                r.flush(&cfg, &mut |c| seen.chunk(c));
                assert_eq!(r.held_segments(), 0, "held data after flush");
                assert_eq!(r.held_bytes(), 0);
            }
            3 => r.ack(num, &cfg, &mut |c| seen.chunk(c)),
            kind => {
                let Some(len) = inp.u8() else { break };
                let len = usize::from(len);
                let payload: &[u8] = if kind == 2 {
                    let Some(bytes) = inp.take(len) else { break };
                    // Junk equal to the stream is not junk.
                    if bytes
                        .iter()
                        .enumerate()
                        .any(|(i, &b)| b != stream_byte(num.wrapping_add(i as u32)))
                    {
                        seen.junk = true;
                    }
                    bytes
                } else {
                    for (i, b) in buf[..len].iter_mut().enumerate() {
                        *b = stream_byte(num.wrapping_add(i as u32));
                    }
                    &buf[..len]
                };
                let before = r.offset();
                let offer = r.segment(num, payload, &cfg, &mut |c| seen.chunk(c));
                match offer {
                    Offer::Empty => assert!(payload.is_empty()),
                    Offer::Held | Offer::Duplicate | Offer::OutOfWindow => {}
                    Offer::Delivered => assert!(r.offset() > before),
                    Offer::Depth => assert!(cfg.depth != 0),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        seen.check(&r, &cfg);
    }
    r.flush(&cfg, &mut |c| seen.chunk(c));
    seen.check(&r, &cfg);
    assert_eq!(r.held_segments(), 0);
});
