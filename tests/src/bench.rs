//! The deterministic benchmark capture: a port of `gen_bench_pcap.py`.
//!
//! Contract: [`generate`] writes a classic little-endian microsecond pcap (DLT 1,
//! Ethernet; snaplen 65535) of `19 * tcp_flows + 2 * udp_flows` packets, in
//! non-decreasing timestamp order, and returns a [`Summary`] of what it wrote. The same
//! [`Params`] always give the same bytes (the generator draws from its own seeded
//! xoshiro256** PRNG, never from the operating system); the bytes are not those of the
//! Python script, but the shapes, sizes, addressing, ports and timing are:
//!
//! - a TCP flow is an HTTP/1.1 keep-alive conversation of 19 packets: SYN, SYN-ACK,
//!   ACK; three rounds of \[client GET request, server response header and first half
//!   of the body, second half, client ACK\]; then client FIN/ACK, server ACK, server
//!   FIN/ACK, client ACK; with correct sequence and acknowledgement numbers;
//! - a UDP flow is a DNS A query and its answer (2 packets);
//! - about `v6_frac` of the flows are IPv6; flows start evenly spread over `span`
//!   seconds from `base_ts`, in a shuffled order of kinds;
//! - every IPv4 header checksum and every TCP/UDP checksum (IPv4 or IPv6 pseudo-header)
//!   is correct, so checksum-validating tools keep every packet.
//!
//! Packets wait in a binary heap until no later flow can precede them, so memory is
//! bounded by the packets of the flows alive at once, not by the capture's size.

use crate::pcap::{PcapWriter, DLT_EN10MB};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::{self, BufWriter, Write};

const ETH_SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const ETH_DST: [u8; 6] = [2, 0, 0, 0, 0, 2];

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// TCP options of the SYN and SYN-ACK: MSS 1460, NOP, window scale 7, SACK permitted,
/// padding.
const SYN_OPTS: [u8; 12] = [2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0];

/// Microseconds in one second.
const MICROS: f64 = 1e6;

/// Flow ids beyond which a client port would not fit in 16 bits.
const MAX_TCP_FLOWS: u32 = ((65535 - 10000 - 12) / 13 + 1) * 40_000;
/// Same for UDP (client ports from 20000).
const MAX_UDP_FLOWS: u32 = ((65535 - 20000 - 12) / 13 + 1) * 40_000;

/// What to generate. [`Params::default`] is the script's default: 100,000 TCP flows
/// and 50,000 DNS flows (2,000,000 packets), 10% IPv6, over 600 s.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// TCP (HTTP) flows, 19 packets each.
    pub tcp_flows: u32,
    /// UDP (DNS) flows, 2 packets each.
    pub udp_flows: u32,
    /// Fraction of flows that are IPv6, in `[0, 1]`.
    pub v6_frac: f64,
    /// Seconds over which flows start.
    pub span: f64,
    /// Most think time between HTTP rounds, in seconds (a TCP flow lives up to about
    /// 2.25 times this).
    pub think_max: f64,
    /// PRNG seed.
    pub seed: u64,
    /// Time of the first flow's start, in seconds since the epoch.
    pub base_ts: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            tcp_flows: 100_000,
            udp_flows: 50_000,
            v6_frac: 0.10,
            span: 600.0,
            think_max: 8.0,
            seed: 20_240_601,
            base_ts: 1_700_000_000.0,
        }
    }
}

impl Params {
    /// Packets the capture will hold: `19 * tcp_flows + 2 * udp_flows`.
    pub fn packets(&self) -> u64 {
        19 * u64::from(self.tcp_flows) + 2 * u64::from(self.udp_flows)
    }

    /// Checks the parameters; the error says which one is out of range.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.v6_frac) {
            return Err(format!("v6-frac must be in [0, 1], not {}", self.v6_frac));
        }
        if !self.span.is_finite() || self.span < 0.0 {
            return Err(format!("span must be >= 0 seconds, not {}", self.span));
        }
        if !self.think_max.is_finite() || self.think_max < 0.0 {
            return Err(format!(
                "think-max must be >= 0 seconds, not {}",
                self.think_max
            ));
        }
        if self.tcp_flows > MAX_TCP_FLOWS {
            return Err(format!(
                "at most {MAX_TCP_FLOWS} tcp flows (client ports run out), not {}",
                self.tcp_flows
            ));
        }
        if self.udp_flows > MAX_UDP_FLOWS {
            return Err(format!(
                "at most {MAX_UDP_FLOWS} udp flows (client ports run out), not {}",
                self.udp_flows
            ));
        }
        // The last packet: the last start plus a TCP flow's longest life (with margin).
        let last = self.base_ts + self.span + 2.5 * self.think_max + 10.0;
        if !self.base_ts.is_finite() || self.base_ts < 0.0 || last >= f64::from(u32::MAX) {
            return Err(format!(
                "base-ts must be >= 0 and leave the capture within 32-bit pcap seconds, not {}",
                self.base_ts
            ));
        }
        Ok(())
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Packets written.
    pub packets: u64,
    /// TCP flows.
    pub tcp_flows: u32,
    /// UDP flows.
    pub udp_flows: u32,
    /// Frame bytes written (the packets' lengths, without pcap headers).
    pub frame_bytes: u64,
    /// Bytes of the whole file (header and record headers included).
    pub file_bytes: u64,
    /// First packet time, microseconds since the epoch.
    pub first_us: u64,
    /// Last packet time, microseconds since the epoch.
    pub last_us: u64,
    /// Most packets waiting in the reorder heap at once.
    pub max_pending: usize,
}

/// A small, fast, seeded PRNG: xoshiro256** seeded through splitmix64.
#[derive(Clone, Debug)]
pub struct Rng([u64; 4]);

impl Rng {
    /// A generator whose whole sequence follows from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut split = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([split(), split(), split(), split()])
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[lo, hi]`.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// 32 random bits.
    pub fn bits32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// 16 random bits.
    pub fn bits16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }
}

/// Seconds (as the script draws them) to whole microseconds.
fn us(secs: f64) -> u64 {
    (secs * MICROS).round() as u64
}

/// The ones' complement sum of `data` (big-endian 16-bit words, an odd last byte padded
/// with zero), not yet folded. Summing 32-bit words is the same sum modulo 0xffff.
fn sum(data: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        s += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    s + u64::from(u32::from_be_bytes(tail))
}

/// The Internet checksum of a sum from [`sum`].
fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An endpoint address: IPv4 `net.i` (24 bits of `i`) or IPv6 `2001:db8:net::i`.
#[derive(Clone, Copy)]
struct Addr {
    bytes: [u8; 16],
    v6: bool,
}

impl Addr {
    fn new(v6: bool, i: u32, net: u16) -> Self {
        let mut bytes = [0u8; 16];
        if v6 {
            bytes[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            bytes[4..6].copy_from_slice(&net.to_be_bytes());
            bytes[12..].copy_from_slice(&i.to_be_bytes());
        } else {
            bytes[0] = net as u8;
            bytes[1..4].copy_from_slice(&i.to_be_bytes()[1..]);
        }
        Addr { bytes, v6 }
    }

    fn octets(&self) -> &[u8] {
        if self.v6 {
            &self.bytes
        } else {
            &self.bytes[..4]
        }
    }
}

/// Writes into `buf` the Ethernet frame of an IP packet from `src` to `dst` of
/// protocol `proto` (6 or 17) whose transport header and payload `l4` appends (with a
/// zero checksum field); fills in lengths and checksums.
fn ip_frame(
    buf: &mut Vec<u8>,
    src: &Addr,
    dst: &Addr,
    proto: u8,
    ipid: u16,
    l4: impl FnOnce(&mut Vec<u8>),
) {
    let v6 = src.v6;
    buf.clear();
    buf.extend_from_slice(&ETH_DST);
    buf.extend_from_slice(&ETH_SRC);
    buf.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    let ip_at = buf.len();
    let l4_at = ip_at + if v6 { 40 } else { 20 };
    buf.resize(l4_at, 0);
    l4(buf);
    let l4_len = buf.len() - l4_at;

    // Pseudo-header (IPv4: addresses, zero, protocol, length; IPv6: addresses, 32-bit
    // length, zeros, next header): the same sum either way.
    let s = sum(src.octets())
        + sum(dst.octets())
        + u64::from(proto)
        + l4_len as u64
        + sum(&buf[l4_at..]);
    let mut c = fold(s);
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    let off = l4_at + if proto == 6 { 16 } else { 6 };
    buf[off..off + 2].copy_from_slice(&c.to_be_bytes());

    let ip = &mut buf[ip_at..l4_at];
    if v6 {
        ip[..4].copy_from_slice(&0x6000_0000u32.to_be_bytes());
        ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        ip[6] = proto;
        ip[7] = 64;
        ip[8..24].copy_from_slice(&src.bytes);
        ip[24..40].copy_from_slice(&dst.bytes);
    } else {
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&ipid.to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&src.bytes[..4]);
        ip[16..20].copy_from_slice(&dst.bytes[..4]);
        let c = fold(sum(ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
    }
}

/// Appends a TCP segment (zero checksum) to `buf`.
#[allow(clippy::too_many_arguments)]
fn tcp_seg(
    buf: &mut Vec<u8>,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    syn_opts: bool,
    payload: &[&[u8]],
) {
    let opts: &[u8] = if syn_opts { &SYN_OPTS } else { &[] };
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&ack.to_be_bytes());
    buf.push((((20 + opts.len()) / 4) as u8) << 4);
    buf.push(flags);
    buf.extend_from_slice(&64240u16.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    buf.extend_from_slice(opts);
    for p in payload {
        buf.extend_from_slice(p);
    }
}

/// Appends a UDP datagram (zero checksum) to `buf`.
fn udp_dgram(buf: &mut Vec<u8>, sport: u16, dport: u16, payload: &[u8]) {
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    buf.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
}

/// A packet waiting for its turn; ordered so the heap pops the earliest first (ties in
/// creation order).
struct Pending {
    ts: u64,
    seq: u64,
    frame: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Pending {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.ts, o.seq).cmp(&(self.ts, self.seq))
    }
}

/// The reorder heap, with a pool of frame buffers so steady state allocates nothing.
struct Queue {
    heap: BinaryHeap<Pending>,
    pool: Vec<Vec<u8>>,
    seq: u64,
    max_pending: usize,
}

impl Queue {
    /// Queues the frame `build` writes, stamped `ts` (microseconds).
    fn push(&mut self, ts: u64, build: impl FnOnce(&mut Vec<u8>)) {
        let mut frame = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(1600));
        build(&mut frame);
        self.heap.push(Pending {
            ts,
            seq: self.seq,
            frame,
        });
        self.seq += 1;
        self.max_pending = self.max_pending.max(self.heap.len());
    }
}

/// Queues the 19 packets of TCP flow `fid` starting at `t0` (microseconds).
fn tcp_flow(q: &mut Queue, fid: u32, t0: u64, rng: &mut Rng, v6: bool, think_max: f64) {
    let cli_i = fid % 40_000 + 1;
    let srv_i = fid % 997 + 1;
    let sport = (10_000 + (fid / 40_000) * 13 + fid % 13) as u16;
    let dport = 80u16;
    let (c, s) = if v6 {
        (Addr::new(true, cli_i, 1), Addr::new(true, srv_i, 2))
    } else {
        (Addr::new(false, cli_i, 10), Addr::new(false, srv_i, 172))
    };
    let rtt = us(rng.uniform(0.001, 0.060));
    let half_rtt = rtt / 2;
    let mut cseq = rng.bits32();
    let mut sseq = rng.bits32();
    let mut ipid_c = rng.bits16();
    let mut ipid_s = rng.bits16();
    let mut t = t0;

    // One packet each way; `$seg` appends the segment to the frame buffer.
    macro_rules! c2s {
        ($($seg:tt)*) => {{
            ipid_c = ipid_c.wrapping_add(1);
            let id = ipid_c;
            q.push(t, |b| ip_frame(b, &c, &s, 6, id, |b| tcp_seg(b, sport, dport, $($seg)*)));
        }};
    }
    macro_rules! s2c {
        ($($seg:tt)*) => {{
            ipid_s = ipid_s.wrapping_add(1);
            let id = ipid_s;
            q.push(t, |b| ip_frame(b, &s, &c, 6, id, |b| tcp_seg(b, dport, sport, $($seg)*)));
        }};
    }

    c2s!(cseq, 0, SYN, true, &[]);
    cseq = cseq.wrapping_add(1);
    t += half_rtt;
    s2c!(sseq, cseq, SYN | ACK, true, &[]);
    sseq = sseq.wrapping_add(1);
    t += half_rtt;
    c2s!(cseq, sseq, ACK, false, &[]);
    let host = fid % 5000;
    for r in 0..3 {
        t += if r > 0 {
            us(rng.uniform(0.0, think_max))
        } else {
            100
        };
        let req = format!(
            "GET /obj/{fid}/{r} HTTP/1.1\r\nHost: host{host}.example.com\r\n\
             User-Agent: bench/1.0\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
        );
        c2s!(cseq, sseq, PSH | ACK, false, &[req.as_bytes()]);
        cseq = cseq.wrapping_add(req.len() as u32);

        let blen = rng.range_inclusive(200, 1200) as usize;
        let mut body = Vec::with_capacity(blen + 32);
        body.extend_from_slice(b"<html><body>");
        body.resize(body.len() + blen, b'x');
        body.extend_from_slice(b"</body></html>\n");
        let mut full = format!(
            "HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/html\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        full.extend_from_slice(&body);
        let (first, second) = full.split_at(full.len() / 2);

        t += half_rtt + us(rng.uniform(0.0, 0.005));
        s2c!(sseq, cseq, ACK, false, &[first]);
        sseq = sseq.wrapping_add(first.len() as u32);
        t += 200;
        s2c!(sseq, cseq, PSH | ACK, false, &[second]);
        sseq = sseq.wrapping_add(second.len() as u32);
        t += half_rtt;
        c2s!(cseq, sseq, ACK, false, &[]);
    }
    t += us(rng.uniform(0.0, think_max / 4.0));
    c2s!(cseq, sseq, FIN | ACK, false, &[]);
    cseq = cseq.wrapping_add(1);
    t += half_rtt;
    s2c!(sseq, cseq, ACK, false, &[]);
    t += 100;
    s2c!(sseq, cseq, FIN | ACK, false, &[]);
    sseq = sseq.wrapping_add(1);
    t += half_rtt;
    c2s!(cseq, sseq, ACK, false, &[]);
}

/// A DNS name in wire format.
fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// Queues the query and answer of DNS flow `fid` starting at `t0` (microseconds).
fn udp_flow(q: &mut Queue, fid: u32, t0: u64, rng: &mut Rng, v6: bool) {
    let cli_i = fid % 40_000 + 1;
    let srv_i = fid % 7 + 1;
    let sport = (20_000 + (fid / 40_000) * 13 + fid % 13) as u16;
    let (c, s) = if v6 {
        (Addr::new(true, cli_i, 3), Addr::new(true, srv_i, 4))
    } else {
        (Addr::new(false, cli_i, 10), Addr::new(false, srv_i, 8))
    };
    let qid = rng.bits16();
    let mut question = Vec::with_capacity(48);
    dns_name(&mut question, &format!("svc{fid}.example.net"));
    question.extend_from_slice(&[0, 1, 0, 1]); // type A, class IN

    let mut query = Vec::with_capacity(64);
    query.extend_from_slice(&qid.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    query.extend_from_slice(&question);

    let mut answer = Vec::with_capacity(96);
    answer.extend_from_slice(&qid.to_be_bytes());
    answer.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    answer.extend_from_slice(&question);
    answer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]); // name pointer, A, IN
    answer.extend_from_slice(&300u32.to_be_bytes()); // TTL
    answer.extend_from_slice(&[0, 4, 93]);
    answer.extend_from_slice(&(fid & 0xff_ffff).to_be_bytes()[1..]);

    let rtt = us(rng.uniform(0.001, 0.080));
    let id = rng.bits16();
    q.push(t0, |b| {
        ip_frame(b, &c, &s, 17, id, |b| udp_dgram(b, sport, 53, &query))
    });
    let id = rng.bits16();
    q.push(t0 + rtt, |b| {
        ip_frame(b, &s, &c, 17, id, |b| udp_dgram(b, 53, sport, &answer))
    });
}

/// Writes the capture `params` describe to `out` (buffered here: pass the file itself)
/// and returns what was written. Fails with `InvalidInput` when the parameters are out
/// of range, and with the writer's error when writing fails.
pub fn generate(out: impl Write, params: &Params) -> io::Result<Summary> {
    params
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut rng = Rng::new(params.seed);
    let nflows = u64::from(params.tcp_flows) + u64::from(params.udp_flows);

    // The order of flow kinds: shuffled so UDP flows spread evenly among TCP ones.
    let mut kinds: Vec<bool> = (0..nflows)
        .map(|i| i >= u64::from(params.tcp_flows))
        .collect();
    for i in (1..kinds.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        kinds.swap(i, j);
    }

    let base = us(params.base_ts);
    let step = params.span * MICROS / nflows.max(1) as f64;
    let mut w = PcapWriter::new(
        BufWriter::with_capacity(1 << 22, out),
        DLT_EN10MB,
        65535,
        false,
    )?;
    let mut q = Queue {
        heap: BinaryHeap::new(),
        pool: Vec::new(),
        seq: 0,
        max_pending: 0,
    };
    let mut sum = Summary {
        file_bytes: 24,
        ..Summary::default()
    };
    let mut emit = |p: Pending, sum: &mut Summary, pool: &mut Vec<Vec<u8>>| -> io::Result<()> {
        debug_assert!(p.ts >= sum.last_us);
        w.write(p.ts * 1_000, &p.frame)?;
        if sum.packets == 0 {
            sum.first_us = p.ts;
        }
        sum.packets += 1;
        sum.last_us = p.ts;
        sum.frame_bytes += p.frame.len() as u64;
        sum.file_bytes += 16 + p.frame.len() as u64;
        pool.push(p.frame);
        Ok(())
    };

    for (i, &udp) in kinds.iter().enumerate() {
        let t0 = base + ((i as f64 + rng.unit()) * step) as u64;
        // Everything earlier than this flow's start can no longer be preceded.
        while q.heap.peek().is_some_and(|p| p.ts < t0) {
            let p = q.heap.pop().expect("peeked");
            emit(p, &mut sum, &mut q.pool)?;
        }
        let v6 = rng.unit() < params.v6_frac;
        if udp {
            udp_flow(&mut q, sum.udp_flows, t0, &mut rng, v6);
            sum.udp_flows += 1;
        } else {
            tcp_flow(&mut q, sum.tcp_flows, t0, &mut rng, v6, params.think_max);
            sum.tcp_flows += 1;
        }
    }
    while let Some(p) = q.heap.pop() {
        emit(p, &mut sum, &mut q.pool)?;
    }
    w.finish()?.flush()?;
    sum.max_pending = q.max_pending;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::checksum;
    use flowengine::decode::{decode, Decoded, Transport};
    use flowengine::record::Collect;
    use flowengine::{ConfigBuilder, Engine, LinkType, PcapFile};

    fn small() -> Params {
        Params {
            tcp_flows: 50,
            udp_flows: 20,
            span: 10.0,
            v6_frac: 0.3,
            ..Params::default()
        }
    }

    fn bytes_of(p: &Params) -> (Vec<u8>, Summary) {
        let mut out = Vec::new();
        let s = generate(&mut out, p).expect("generate");
        (out, s)
    }

    /// The records (microsecond time, frame) of a capture written by `generate`,
    /// checking the file header on the way.
    fn records(pcap: &[u8]) -> Vec<(u64, &[u8])> {
        assert_eq!(&pcap[..4], &0xa1b2_c3d4u32.to_le_bytes(), "magic");
        assert_eq!(&pcap[4..8], &[2, 0, 4, 0], "version 2.4");
        assert_eq!(&pcap[16..20], &65535u32.to_le_bytes(), "snaplen");
        assert_eq!(&pcap[20..24], &1u32.to_le_bytes(), "link type");
        let mut out = Vec::new();
        let mut at = 24;
        let u32_at = |i: usize| u32::from_le_bytes(pcap[i..i + 4].try_into().unwrap());
        while at < pcap.len() {
            let (secs, usecs, caplen, len) =
                (u32_at(at), u32_at(at + 4), u32_at(at + 8), u32_at(at + 12));
            assert!(usecs < 1_000_000);
            assert_eq!(caplen, len);
            let data = &pcap[at + 16..at + 16 + caplen as usize];
            out.push((u64::from(secs) * 1_000_000 + u64::from(usecs), data));
            at += 16 + caplen as usize;
        }
        assert_eq!(at, pcap.len(), "no trailing bytes");
        out
    }

    #[test]
    fn counts_and_order() {
        let p = small();
        let (pcap, s) = bytes_of(&p);
        let recs = records(&pcap);
        assert_eq!(recs.len() as u64, 19 * 50 + 2 * 20);
        assert_eq!(p.packets(), 19 * 50 + 2 * 20);
        assert_eq!(s.packets, recs.len() as u64);
        assert_eq!((s.tcp_flows, s.udp_flows), (50, 20));
        assert_eq!(s.file_bytes, pcap.len() as u64);
        assert_eq!(
            s.frame_bytes,
            recs.iter().map(|(_, d)| d.len() as u64).sum::<u64>()
        );
        assert!(recs.windows(2).all(|w| w[0].0 <= w[1].0), "time order");
        assert_eq!(recs[0].0, s.first_us);
        assert_eq!(recs.last().unwrap().0, s.last_us);
        assert!(s.first_us >= 1_700_000_000_000_000);
        assert!(s.first_us < 1_700_000_000_000_000 + 10_000_000 / 70 + 1);
        assert!(s.max_pending > 0 && s.max_pending < recs.len());
    }

    #[test]
    fn deterministic() {
        let (a, sa) = bytes_of(&small());
        let (b, sb) = bytes_of(&small());
        assert_eq!(sa, sb);
        assert!(a == b, "same parameters, same bytes");
        let (c, _) = bytes_of(&Params { seed: 7, ..small() });
        assert_eq!(c.len() > 24, a.len() > 24);
        assert!(a != c, "another seed, other bytes");
    }

    #[test]
    fn checksums_and_decoding() {
        let (pcap, _) = bytes_of(&small());
        let (mut v4, mut v6, mut tcp, mut udp) = (0, 0, 0, 0);
        for (_, f) in records(&pcap) {
            assert_eq!(&f[..12], &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
            let (ip, pseudo_src_dst, l4) = match (f[12], f[13]) {
                (0x08, 0x00) => {
                    v4 += 1;
                    let ip = &f[14..34];
                    assert_eq!(checksum(ip), 0, "IPv4 header checksum");
                    assert_eq!(u16::from_be_bytes([ip[2], ip[3]]) as usize, f.len() - 14);
                    (ip, &ip[12..20], &f[34..])
                }
                (0x86, 0xdd) => {
                    v6 += 1;
                    let ip = &f[14..54];
                    assert_eq!(u16::from_be_bytes([ip[4], ip[5]]) as usize, f.len() - 54);
                    assert_eq!(&ip[8..12], &[0x20, 0x01, 0x0d, 0xb8]);
                    (ip, &ip[8..40], &f[54..])
                }
                other => panic!("ethertype {other:?}"),
            };
            let proto = if ip[0] >> 4 == 4 { ip[9] } else { ip[6] };
            let mut pseudo = pseudo_src_dst.to_vec();
            pseudo.extend_from_slice(&[0, proto]);
            pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            pseudo.extend_from_slice(l4);
            assert_eq!(checksum(&pseudo), 0, "transport checksum");
            match decode(LinkType::Ethernet, f) {
                Ok(Decoded::Ip(p)) => match p.transport {
                    Transport::Tcp(t) => {
                        tcp += 1;
                        assert!(t.src_port == 80 || t.dst_port == 80);
                    }
                    Transport::Udp { src_port, dst_port } => {
                        udp += 1;
                        assert!(src_port == 53 || dst_port == 53);
                        assert_ne!(l4[6..8], [0, 0], "UDP checksum present");
                    }
                    other => panic!("transport {other:?}"),
                },
                other => panic!("decode: {other:?}"),
            }
        }
        assert_eq!((tcp, udp), (19 * 50, 2 * 20));
        assert!(v4 > 0 && v6 > 0, "both families ({v4} v4, {v6} v6)");
    }

    #[test]
    fn v6_fraction_extremes() {
        for (frac, want_v6) in [(0.0, false), (1.0, true)] {
            let (pcap, _) = bytes_of(&Params {
                v6_frac: frac,
                ..small()
            });
            assert!(records(&pcap)
                .iter()
                .all(|(_, f)| (f[12..14] == [0x86, 0xdd]) == want_v6));
        }
        assert!(generate(
            Vec::new(),
            &Params {
                v6_frac: 1.5,
                ..small()
            }
        )
        .is_err());
    }

    #[test]
    fn tcp_conversation_shape() {
        // One TCP flow only: 19 packets, the handshake, three exchanges, the close.
        let (pcap, _) = bytes_of(&Params {
            tcp_flows: 1,
            udp_flows: 0,
            v6_frac: 0.0,
            ..Params::default()
        });
        let recs = records(&pcap);
        assert_eq!(recs.len(), 19);
        let flags: Vec<u8> = recs.iter().map(|(_, f)| f[34 + 13]).collect();
        let pa = PSH | ACK;
        assert_eq!(
            flags,
            [
                SYN,
                SYN | ACK,
                ACK,
                pa,
                ACK,
                pa,
                ACK,
                pa,
                ACK,
                pa,
                ACK,
                pa,
                ACK,
                pa,
                ACK,
                FIN | ACK,
                ACK,
                FIN | ACK,
                ACK
            ]
        );
        let payload = |i: usize| {
            let f = recs[i].1;
            &f[34 + usize::from(f[34 + 12] >> 4) * 4..]
        };
        assert!(payload(3).starts_with(b"GET /obj/0/0 HTTP/1.1\r\nHost: host0.example.com"));
        assert!(payload(4).starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(payload(5).ends_with(b"</body></html>\n"));
        // Sequence numbers: the client's ACK after the first response acknowledges it.
        let seq = |i: usize| u32::from_be_bytes(recs[i].1[38..42].try_into().unwrap());
        let ack = |i: usize| u32::from_be_bytes(recs[i].1[42..46].try_into().unwrap());
        assert_eq!(ack(1), seq(0).wrapping_add(1));
        assert_eq!(ack(6), seq(5).wrapping_add(payload(5).len() as u32));
        assert_eq!(ack(18), seq(17).wrapping_add(1));
    }

    #[test]
    fn replays_to_one_record_per_flow() {
        let p = small();
        let path = std::env::temp_dir().join(format!(
            "flowengine-bench-gen-{}-replay.pcap",
            std::process::id()
        ));
        let s = generate(std::fs::File::create(&path).expect("create"), &p).expect("generate");
        let config = ConfigBuilder::new().build().expect("config");
        let mut engine = Engine::new(&config, Collect::default()).expect("engine");
        let mut file = PcapFile::open(&path).expect("open");
        while file
            .read_batch(&mut |pkts| engine.push_batch(pkts))
            .expect("read")
            > 0
        {}
        let (stats, Collect(records)) = engine.finish();
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(records.len(), 70);
        assert_eq!(stats.records, 70);
        assert_eq!(records.iter().map(|r| r.packets()).sum::<u64>(), s.packets);
        assert_eq!(stats.packets_tracked, s.packets);
        let tcp: Vec<_> = records.iter().filter(|r| r.proto == 6).collect();
        assert_eq!(tcp.len(), 50);
        assert!(tcp
            .iter()
            .all(|r| r.pkts_toserver == 10 && r.pkts_toclient == 9));
        let udp: Vec<_> = records.iter().filter(|r| r.proto == 17).collect();
        assert_eq!(udp.len(), 20);
        assert!(udp
            .iter()
            .all(|r| r.pkts_toserver == 1 && r.pkts_toclient == 1 && r.ports.unwrap().1 == 53));
    }
}
