//! IP defragmentation and tunnel decoding, through the engine and through the
//! `Defragmenter` directly. Byte 0, bit 0 chooses the part.
//!
//! Engine part (bit 0 clear): a small configuration, then frames built from the input
//! (an outer IPv4/IPv6 packet, maybe a fragment, carrying a tunnel that wraps an inner
//! packet, maybe a fragment itself) or raw bytes, pushed into two engines (`push`, and
//! `push_batch` in input-chosen batch sizes) that must agree and keep their promises.
//!
//! ```text
//! byte 0   bits 1-3 overlap policy (first, last, bsd, bsd-right, linux, windows,
//!          solaris; 7: defrag off), bits 4-7 batch size 1 + 3n
//! byte 1   defrag.max_frags 4 + n % 61          byte 2  defrag.max_datagrams 1 + n % 16
//! byte 3   defrag.memcap 128 (n + 1)            byte 4  defrag.timeout 1 + n % 120 s
//! byte 5   bit 0 every tunnel off, 1 erspan typeI on, 2 recursion-level
//!          use-for-tracking off, 3 vlan use-for-tracking off, bits 4-7 max-layers 1 + n
//! byte 6   bits 0-1 stream.max_flows 64/8/2/1, bit 2 short flow timeouts, bit 3 no
//!          sweep per packet (prune_flows=1), bit 4 midstream
//! then records:
//!   F T     F bits 0-1 time: +T ms, +T s, -T s, +T s then idle (T = 0: flush);
//!           bit 2 raw frame: link DLTS[(F >> 3) % 20], length byte, bytes
//!           else structured: bit 3 outer IPv6, 4 inner IPv6, 5 outer fragmented,
//!           6 inner fragmented, 7 raw IP link (else Ethernet)
//!   E S I G X [R if E low nibble is 14] [FO FL if outer fragmented] [IO IL if inner]
//!     E bits 0-3 tunnel: 0 none, 1 GRE/IP, 2 VXLAN, 3 Geneve/IP, 4 Teredo, 5 GTP-U,
//!       6 IP-in-IP, 7 ERSPAN II, 8 ERSPAN I, 9 ERSPAN III, 10 GRE/Ethernet, 11 PPTP,
//!       12 NSH in GRE, 13 MPLS in GRE, 14 GRE with raw flags and protocol R,
//!       15 Geneve/Ethernet; bits 4-5 inner transport UDP, TCP (flags G), ICMP,
//!       IPv4-in-IP; bit 6 outer VLAN tag, bit 7 inner VLAN tag (tunnels of Ethernet)
//!     S bits 0-1 inner source host, 2-3 source port, 4-7 payload 97 n bytes
//!     I low nibble outer fragment id, high nibble inner fragment id
//!     G GRE flags (high nibble), tunnel options (low bits), TCP flags
//!     X xor applied to the inner payload (overlaps that disagree)
//!     FO/IO offset in 8-byte units; FL/IL bits 0-6 length in units (0: to the end),
//!     bit 7 flips MF
//! ```
//!
//! Direct part (bit 0 set): limits and policy, then fragments offered to a
//! `Defragmenter`, `expire` and `flush` calls (format at `direct`). After every call the
//! bounds hold and a model of the datagrams agrees with what came out; at the end every
//! fragment is accounted once, reassembled packets are valid IP with the right bytes.
#![no_main]

use flowengine::decode::{decode_ip, Decoded, IpVersion, Layers};
use flowengine::defrag::{
    DefragConfig, Defragmenter, Fragment, Incomplete, IncompleteReason, Insert, OverlapPolicy,
    Reject, CHUNK,
};
use flowengine::record::{Collect, FlowRecord};
use flowengine::{Config, ConfigBuilder, Engine, LinkType, Packet, Stats, Timestamp};
use flowengine_fuzz::build::{self as b, GRE_S};
use flowengine_fuzz::{check_defrag, check_eve, check_finished, link_of, set};
use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const START_NANOS: u64 = 1_700_000_000 * 1_000_000_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

/// Counts allocations while armed: the defragmenter's fragment path must not allocate
/// (its contract, "Allocation").
struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The input, read byte by byte; zeros once it runs out.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn left(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }
}

// ---------------------------------------------------------------------------------
// Engine part

const POLICIES: [&str; 7] = [
    "first",
    "last",
    "bsd",
    "bsd-right",
    "linux",
    "windows",
    "solaris",
];

/// The configuration of the engine part (see the layout above), built once per key.
fn engine_config(c: &[u8; 7]) -> Config {
    thread_local! {
        static CACHE: RefCell<HashMap<[u8; 7], Config>> = RefCell::new(HashMap::new());
    }
    // Only the bits that matter make the key.
    let mut key = *c;
    key[0] &= 0x0e;
    key[6] &= 0x1f;
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > 4096 {
            cache.clear();
        }
        cache
            .entry(key)
            .or_insert_with(|| build_engine_config(&key))
            .clone()
    })
}

fn build_engine_config(c: &[u8; 7]) -> Config {
    let mut bld = ConfigBuilder::new();
    let s = |bld: &mut ConfigBuilder, a: String| set(bld, &a);
    s(&mut bld, "flow.hash_seed=1".into());
    let policy = usize::from((c[0] >> 1) & 7);
    if policy == 7 {
        s(&mut bld, "defrag.enabled=false".into());
    } else {
        s(&mut bld, "defrag.enabled=true".into());
        s(&mut bld, format!("defrag.policy={}", POLICIES[policy]));
    }
    s(
        &mut bld,
        format!("defrag.max_frags={}", 4 + u32::from(c[1]) % 61),
    );
    s(
        &mut bld,
        format!("defrag.max_datagrams={}", 1 + u32::from(c[2]) % 16),
    );
    s(
        &mut bld,
        format!("defrag.memcap={}", CHUNK * (usize::from(c[3]) + 1)),
    );
    s(
        &mut bld,
        format!("defrag.timeout={}", 1 + u32::from(c[4]) % 120),
    );
    if c[5] & 1 != 0 {
        for t in ["ipip", "gre", "vxlan", "geneve", "teredo", "gtp"] {
            s(&mut bld, format!("decoder.{t}.enabled=false"));
        }
    }
    if c[5] & 2 != 0 {
        s(&mut bld, "decoder.erspan.typeI.enabled=true".into());
    }
    if c[5] & 4 != 0 {
        s(
            &mut bld,
            "decoder.recursion-level.use-for-tracking=false".into(),
        );
    }
    if c[5] & 8 != 0 {
        s(&mut bld, "vlan.use-for-tracking=false".into());
    }
    s(&mut bld, format!("decoder.max-layers={}", 1 + (c[5] >> 4)));
    let max_flows = [64, 8, 2, 1][usize::from(c[6] & 3)];
    s(&mut bld, format!("stream.max_flows={max_flows}"));
    if c[6] & 4 != 0 {
        for p in ["default", "tcp", "udp", "icmp"] {
            s(&mut bld, format!("flow-timeouts.{p}.new=2"));
            s(&mut bld, format!("flow-timeouts.{p}.established=5"));
        }
        s(&mut bld, "stream.pruning_timeout=1".into());
    }
    if c[6] & 8 != 0 {
        s(&mut bld, "stream.timeout_flows_per_packet=0".into());
        s(&mut bld, "stream.prune_flows=1".into());
    }
    if c[6] & 16 != 0 {
        s(&mut bld, "stream.midstream=true".into());
    }
    bld.build().expect("fuzz harness: configuration must build")
}

enum Step {
    Frame(Timestamp, LinkType, Vec<u8>),
    Idle(Timestamp),
    Flush,
}

/// The inner packet of a structured record: an IP packet (maybe a fragment).
fn inner_packet(f: u8, e: u8, s: u8, ids: u8, g: u8, x: u8, frag: (u8, u8)) -> Vec<u8> {
    let v6 = f & 0x10 != 0;
    let len = usize::from(s >> 4) * 97;
    let payload: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(s) ^ x)
        .collect();
    let host = 1 + (s & 3);
    let sport = 1000 + u16::from((s >> 2) & 3);
    let (proto, t) = match (e >> 4) & 3 {
        0 => (b::UDP, b::udp(sport, 53, &payload)),
        1 => (b::TCP, b::tcp(sport, 80, u32::from(g) * 1000, g, &payload)),
        2 => (
            if v6 { b::ICMPV6 } else { b::ICMP },
            b::echo(v6, sport, &payload),
        ),
        _ => (
            b::IPIP,
            b::ipv4(
                b::v4(9, host),
                b::v4(9, 2),
                b::UDP,
                0,
                &b::udp(sport, 53, &payload),
            ),
        ),
    };
    let id = ids >> 4;
    let p = if v6 {
        b::ipv6(b::v6(1, host), b::v6(1, 100), proto, &t)
    } else {
        b::ipv4(b::v4(1, host), b::v4(1, 100), proto, u16::from(id), &t)
    };
    if f & 0x40 != 0 {
        b::fragment(
            &p,
            u16::from(frag.0),
            u16::from(frag.1 & 0x7f),
            frag.1 & 0x80 != 0,
            u32::from(id),
        )
    } else {
        p
    }
}

/// A structured record as a frame.
fn structured(f: u8, inp: &mut Input<'_>) -> (LinkType, Vec<u8>) {
    let (e, s, ids, g, x) = (inp.u8(), inp.u8(), inp.u8(), inp.u8(), inp.u8());
    let kind = e & 0x0f;
    let raw_proto = if kind == 14 { inp.u8() } else { 0 };
    let outer_frag = if f & 0x20 != 0 {
        (inp.u8(), inp.u8())
    } else {
        (0, 0)
    };
    let inner_frag = if f & 0x40 != 0 {
        (inp.u8(), inp.u8())
    } else {
        (0, 0)
    };
    let inner = inner_packet(f, e, s, ids, g, x, inner_frag);
    let inner_vlan = (e & 0x80 != 0).then_some(300);
    let eth = |ip: &[u8]| b::ethernet(b::ethertype_of(ip), inner_vlan, ip);
    let gre_flags = u16::from(g & 0xf0) << 8;
    let udp_sport = 40000 + u16::from(s & 3);
    // (outer protocol, outer payload); `None`: the inner packet is the outer one.
    let wrapped: Option<(u8, Vec<u8>)> = match kind {
        0 => None,
        1 => Some((b::GRE, b::gre(gre_flags, b::ethertype_of(&inner), &inner))),
        2 => Some((
            b::UDP,
            b::udp(udp_sport, 4789, &b::vxlan(u32::from(g), &eth(&inner))),
        )),
        3 => Some((
            b::UDP,
            b::udp(
                udp_sport,
                6081,
                &b::geneve(g & 3, b::ethertype_of(&inner), &inner),
            ),
        )),
        4 => Some((
            b::UDP,
            b::udp(3544, udp_sport, &b::teredo(g & 1 != 0, &inner)),
        )),
        5 => Some((b::UDP, b::udp(2152, 2152, &b::gtp(g & 1 != 0, &inner)))),
        6 => Some((
            if b::ethertype_of(&inner) == 0x86dd {
                b::IPV6IP
            } else {
                b::IPIP
            },
            inner.clone(),
        )),
        7 => {
            let mut h = vec![0x10 | (g & 0x0f), 0x20, 0, 0x64, 0, 0, 0, 0];
            h.extend_from_slice(&eth(&inner));
            Some((b::GRE, b::gre(GRE_S, 0x88be, &h)))
        }
        8 => Some((b::GRE, b::gre(0, 0x88be, &eth(&inner)))),
        9 => {
            let mut h = vec![
                0x20 | (g & 0x0f),
                0x20,
                0x00,
                0x64,
                0,
                0,
                0,
                1,
                0,
                0,
                0,
                g & 1,
            ];
            if g & 1 != 0 {
                h.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 0, 0]);
            }
            h.extend_from_slice(&eth(&inner));
            Some((b::GRE, b::gre(GRE_S, 0x22eb, &h)))
        }
        10 => Some((b::GRE, b::gre(gre_flags, 0x6558, &eth(&inner)))),
        11 => Some((b::GRE, b::pptp(&inner, g & 1 != 0))),
        12 => Some((
            b::GRE,
            b::gre(gre_flags, 0x894f, &b::nsh(g & 1 != 0, &inner)),
        )),
        13 => Some((b::GRE, b::gre(gre_flags, 0x8847, &b::mpls(&inner)))),
        14 => {
            // Raw flags (version and reserved bits included) and a protocol among
            // those GRE carries, or any.
            const PROTOS: [u16; 8] = [
                0x0800, 0x86dd, 0x6558, 0x88be, 0x22eb, 0x880b, 0x8847, 0x894f,
            ];
            let flags = u16::from_be_bytes([g, raw_proto & 0x87]);
            let proto = if raw_proto & 0x08 != 0 {
                u16::from_be_bytes([raw_proto, x])
            } else {
                PROTOS[usize::from(raw_proto >> 4) & 7]
            };
            let body = match proto {
                0x6558 | 0x88be | 0x22eb => eth(&inner),
                _ => inner.clone(),
            };
            Some((b::GRE, b::gre(flags, proto, &body)))
        }
        _ => Some((
            b::UDP,
            b::udp(udp_sport, 6081, &b::geneve(g & 3, 0x6558, &eth(&inner))),
        )),
    };
    let outer_id = ids & 0x0f;
    let mut outer = match wrapped {
        None => inner,
        Some((proto, payload)) => {
            if f & 0x08 != 0 {
                b::ipv6(b::v6(0, 1), b::v6(0, 2), proto, &payload)
            } else {
                b::ipv4(
                    b::v4(0, 1),
                    b::v4(0, 2),
                    proto,
                    u16::from(outer_id),
                    &payload,
                )
            }
        }
    };
    if f & 0x20 != 0 {
        outer = b::fragment(
            &outer,
            u16::from(outer_frag.0),
            u16::from(outer_frag.1 & 0x7f),
            outer_frag.1 & 0x80 != 0,
            u32::from(outer_id),
        );
    }
    if f & 0x80 != 0 {
        (LinkType::from_dlt(101), outer)
    } else {
        let vlan = (e & 0x40 != 0).then_some(100);
        (
            LinkType::from_dlt(1),
            b::ethernet(b::ethertype_of(&outer), vlan, &outer),
        )
    }
}

fn run_engine(cfg: &Config, steps: &[Step], batch: Option<usize>) -> (Stats, Vec<FlowRecord>) {
    let mut e = Engine::new(cfg, Collect::default()).expect("fuzz harness: engine must build");
    let mut pending: Vec<Packet<'_>> = Vec::new();
    for step in steps {
        match step {
            Step::Frame(ts, link, data) => {
                let pkt = Packet {
                    ts: *ts,
                    link: *link,
                    data,
                };
                match batch {
                    None => e.push(&pkt),
                    Some(n) => {
                        pending.push(pkt);
                        if pending.len() >= n {
                            e.push_batch(&pending);
                            pending.clear();
                        }
                    }
                }
            }
            Step::Idle(ts) => {
                e.push_batch(&pending);
                pending.clear();
                e.idle(*ts);
            }
            Step::Flush => {
                e.push_batch(&pending);
                pending.clear();
                e.flush();
            }
        }
    }
    e.push_batch(&pending);
    let (stats, Collect(records)) = e.finish();
    (stats, records)
}

fn engine_part(inp: &mut Input<'_>) {
    let mut c = [0u8; 7];
    for b in c.iter_mut() {
        *b = inp.u8();
    }
    let enabled = (c[0] >> 1) & 7 != 7;
    let batch = 1 + usize::from(c[0] >> 4) * 3;
    let cfg = engine_config(&c);

    let mut steps = Vec::new();
    let mut now = START_NANOS;
    let mut frames = 0u64;
    while inp.left() >= 2 && steps.len() < 512 {
        let (f, t) = (inp.u8(), u64::from(inp.u8()));
        match f & 3 {
            0 => now += t * MS,
            1 => now += t * SEC,
            2 => now = now.saturating_sub(t * SEC),
            _ => {
                now += t * SEC;
                steps.push(if t == 0 {
                    Step::Flush
                } else {
                    Step::Idle(Timestamp::from_nanos(now))
                });
            }
        }
        let (link, data) = if f & 4 != 0 {
            let len = usize::from(inp.u8());
            (link_of(f >> 3), inp.take(len).to_vec())
        } else {
            structured(f, inp)
        };
        steps.push(Step::Frame(Timestamp::from_nanos(now), link, data));
        frames += 1;
    }

    let (stats, records) = run_engine(&cfg, &steps, None);
    let (stats_b, records_b) = run_engine(&cfg, &steps, Some(batch));
    check_finished(&stats, &records, frames);
    check_defrag(&stats, enabled);
    assert_eq!(stats, stats_b, "stats differ between push_batch and push");
    assert_eq!(
        records, records_b,
        "records differ between push_batch and push"
    );
    check_eve(&records);
}

// ---------------------------------------------------------------------------------
// Direct part
//
// byte 0   bit 0 set
// byte 1   max_frags 1 + n % 64         byte 2  max_datagrams 1 + n % 16
// byte 3   memcap 128 (n + 1), 255: 1 MiB
// byte 4   timeout 1 + n % 120 s        byte 5  policy n % 7
// then ops, O being the first byte:
//   O & 3 = 0 or 1: insert; K T OFF(u16 LE) LEN(u16 LE)
//       O bit 2 MF, bit 3 corrupt the data, bit 4 raw offset and length (else 8-byte
//       units: offset & 0x1fff, length & 0x3ff), bit 5 bad IP header, bit 6 length
//       units & 0x1fff, bit 7 T in milliseconds
//       K bits 0-1 id, bit 2 IPv6, bit 3 TCP (else UDP), bits 4-5 context (and header
//       options: IPv4 0/4/12/40 bytes, IPv6 none/hop-by-hop/destination/AH), bits 6-7
//       source host
//       T: time step, signed (i8)
//   O & 3 = 2: T, then expire at the new time
//   O & 3 = 3: flush

/// A datagram key as the defragmenter keys it.
type MKey = (bool, [u8; 16], [u8; 16], u32, u8, u64);

/// One fragment the model saw join a datagram.
struct MFrag {
    end: u32,
    last: bool,
    frame_len: u32,
}

/// The model of one datagram being reassembled.
struct MDatagram {
    frags: Vec<MFrag>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    clean: bool,
}

struct Sel {
    v6: bool,
    id: u32,
    proto: u8,
    ctx: u64,
    host: u8,
}

impl Sel {
    fn of(k: u8) -> Sel {
        let v6 = k & 4 != 0;
        let ids: [u32; 4] = if v6 {
            [0, 1, 0xffff_ffff, 0x1234_5678]
        } else {
            [0, 1, 0xffff, 0x1234]
        };
        Sel {
            v6,
            id: ids[usize::from(k & 3)],
            proto: if k & 8 != 0 { b::TCP } else { b::UDP },
            ctx: u64::from((k >> 4) & 3),
            host: 1 + (k >> 6),
        }
    }

    fn src(&self) -> [u8; 16] {
        if self.v6 {
            b::v6(0, self.host)
        } else {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&b::v4(0, self.host));
            a
        }
    }

    fn dst(&self) -> [u8; 16] {
        if self.v6 {
            b::v6(0, 200)
        } else {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&b::v4(0, 200));
            a
        }
    }

    fn key(&self) -> MKey {
        (
            self.v6,
            self.src(),
            self.dst(),
            self.id,
            self.proto,
            self.ctx,
        )
    }

    /// The datagram's byte at offset `x`.
    fn byte(&self, x: u32) -> u8 {
        (x.wrapping_mul(131) ^ (x >> 8) ^ self.id ^ u32::from(self.proto) ^ self.ctx as u32) as u8
    }

    /// The header of the offset-0 fragment carrying `len` bytes (MF set, offset 0).
    fn header(&self, len: usize) -> Vec<u8> {
        if self.v6 {
            let (first, ext): (u8, Vec<u8>) = match self.ctx {
                0 => (44, Vec::new()),
                1 => (0, vec![44, 0, 1, 4, 0, 0, 0, 0]),
                2 => (60, {
                    let mut e = vec![44, 1, 1, 12];
                    e.resize(16, 0);
                    e
                }),
                _ => (51, {
                    let mut e = vec![44, 1, 0, 0];
                    e.resize(12, 0);
                    e
                }),
            };
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&((ext.len() + 8 + len).min(0xffff) as u16).to_be_bytes());
            h.extend_from_slice(&[first, 64]);
            h.extend_from_slice(&self.src());
            h.extend_from_slice(&self.dst());
            h.extend_from_slice(&ext);
            h
        } else {
            let opts = [0usize, 4, 12, 40][self.ctx as usize];
            let hlen = 20 + opts;
            let mut h = vec![0x40 | (hlen / 4) as u8, 0];
            h.extend_from_slice(&((hlen + len).min(0xffff) as u16).to_be_bytes());
            h.extend_from_slice(&(self.id as u16).to_be_bytes());
            h.extend_from_slice(&[0x20, 0, 64, self.proto, 0, 0]);
            h.extend_from_slice(&self.src()[..4]);
            h.extend_from_slice(&self.dst()[..4]);
            h.resize(hlen, 1);
            let sum = b::checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h
        }
    }
}

/// What the model of the direct part tracks.
struct Model {
    dgrams: HashMap<MKey, MDatagram>,
    offered: u64,
    rejected: u64,
    in_complete: u64,
    in_incomplete: u64,
    completes: u64,
    by_reason: HashMap<IncompleteReason, u64>,
    timeout: u32,
}

impl Model {
    /// An incomplete datagram came out at `now`; `current` is the key of the fragment
    /// being inserted (counted with its datagram when that one is abandoned).
    fn incomplete(&mut self, inc: &Incomplete<'_>, now: Timestamp, current: Option<MKey>) {
        let key: MKey = (
            inc.version == IpVersion::V6,
            inc.src,
            inc.dst,
            inc.id,
            inc.proto,
            inc.context,
        );
        let d = self
            .dgrams
            .remove(&key)
            .unwrap_or_else(|| panic!("an incomplete datagram the model does not hold: {inc:?}"));
        let mut expected = d.frags.len() as u64;
        let mut frame_bytes: u64 = d.frags.iter().map(|f| u64::from(f.frame_len)).sum();
        if inc.reason == IncompleteReason::Anomaly {
            assert_eq!(
                current,
                Some(key),
                "a datagram abandoned by another fragment"
            );
            expected += 1;
            frame_bytes += u64::from(CURRENT_FRAME_LEN.with(|c| *c.borrow()));
        }
        assert_eq!(
            u64::from(inc.fragments),
            expected,
            "incomplete fragment count: {inc:?}"
        );
        assert_eq!(
            inc.frame_bytes, frame_bytes,
            "incomplete frame bytes: {inc:?}"
        );
        assert_eq!(inc.first_seen, d.first_seen, "incomplete first_seen");
        assert!(
            inc.last_seen >= d.last_seen,
            "incomplete last_seen older than a fragment"
        );
        if inc.reason == IncompleteReason::Timeout {
            assert!(
                now >= inc.first_seen.add_secs(self.timeout),
                "timed out before its timeout: {inc:?} at {now:?}"
            );
        }
        if let Some(first) = inc.first {
            let layers = Layers::outer(LinkType::from_dlt(101));
            match decode_ip(inc.version, first, layers) {
                Ok(Decoded::Fragment(f)) => {
                    assert!(
                        f.offset == 0 && f.more,
                        "first is not a first fragment: {f:?}"
                    );
                    assert_eq!(
                        (f.src, f.dst, f.id, f.proto),
                        (inc.src, inc.dst, inc.id, inc.proto)
                    );
                }
                other => panic!("Incomplete::first does not decode as a fragment: {other:?}"),
            }
        }
        self.in_incomplete += u64::from(inc.fragments);
        *self.by_reason.entry(inc.reason).or_default() += 1;
    }
}

thread_local! {
    static CURRENT_FRAME_LEN: RefCell<u32> = const { RefCell::new(0) };
}

/// The rejection `check` must give, from the fragment alone.
fn static_reject(f: &Fragment<'_>, bad_header: bool) -> Option<Reject> {
    if f.offset == 0 && !f.more {
        return Some(Reject::NotFragment);
    }
    if f.data.is_empty() {
        return Some(Reject::Empty);
    }
    if !f.offset.is_multiple_of(8) || (f.more && !f.data.len().is_multiple_of(8)) {
        return Some(Reject::Misaligned);
    }
    let limit = if f.version == IpVersion::V4 {
        65515
    } else {
        65535
    };
    if u64::from(f.offset) + f.data.len() as u64 > limit {
        return Some(Reject::TooLarge);
    }
    if f.offset == 0 && bad_header {
        return Some(Reject::BadHeader);
    }
    None
}

/// Checks a reassembled datagram against its key and, when every fragment carried the
/// datagram's true bytes, against them.
fn check_complete(sel: &Sel, packet: &[u8], d: &MDatagram) {
    let hdr = sel.header(0);
    let hlen = hdr.len();
    assert!(
        packet.len() >= hlen,
        "reassembled packet shorter than its header"
    );
    if sel.v6 {
        assert!(
            packet.len() <= 65535 + 40,
            "IPv6 datagram too long: {}",
            packet.len()
        );
        assert_eq!(packet[0] >> 4, 6);
        let plen = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
        assert_eq!(
            plen,
            packet.len() - 40,
            "IPv6 payload length != packet length - 40"
        );
        // The next-header field that named the Fragment header now names the protocol.
        let at = if hlen == 40 { 6 } else { 40 };
        assert_eq!(packet[at], sel.proto, "IPv6 next header not patched");
        for (i, (&got, &want)) in packet[..hlen].iter().zip(&hdr).enumerate() {
            if !(4..6).contains(&i) && i != at {
                assert_eq!(got, want, "IPv6 header byte {i} changed");
            }
        }
    } else {
        assert!(
            packet.len() <= 65535,
            "IPv4 datagram too long: {}",
            packet.len()
        );
        assert_eq!(
            usize::from(packet[0] & 0x0f) * 4,
            hlen,
            "IPv4 header length"
        );
        let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        assert_eq!(total, packet.len(), "IPv4 total length != packet length");
        assert_eq!(packet[6] & 0x3f, 0, "MF or offset left set");
        assert_eq!(packet[7], 0, "offset left set");
        assert_eq!(
            b::checksum(&packet[..hlen]),
            0,
            "IPv4 header checksum wrong"
        );
        for (i, (&got, &want)) in packet[..hlen].iter().zip(&hdr).enumerate() {
            if !matches!(i, 2 | 3 | 6 | 7 | 10 | 11) {
                assert_eq!(got, want, "IPv4 header byte {i} changed");
            }
        }
    }
    let end = (packet.len() - hlen) as u32;
    assert!(
        d.frags.iter().any(|f| f.last && f.end == end),
        "reassembled length {end} is not the end of any last fragment"
    );
    if d.clean {
        for (x, &got) in packet[hlen..].iter().enumerate() {
            assert_eq!(got, sel.byte(x as u32), "reassembled byte {x} wrong");
        }
    }
}

fn direct_part(inp: &mut Input<'_>) {
    let c: [u8; 5] = [inp.u8(), inp.u8(), inp.u8(), inp.u8(), inp.u8()];
    let cfg = DefragConfig {
        max_frags: 1 + u32::from(c[0]) % 64,
        max_datagrams: 1 + u32::from(c[1]) % 16,
        memcap: if c[2] == 255 {
            1 << 20
        } else {
            CHUNK * (usize::from(c[2]) + 1)
        },
        timeout_secs: 1 + u32::from(c[3]) % 120,
        policy: OverlapPolicy::ALL[usize::from(c[4]) % 7],
    };
    let mut d = Defragmenter::new(cfg.clone()).expect("valid limits build");
    let mut m = Model {
        dgrams: HashMap::new(),
        offered: 0,
        rejected: 0,
        in_complete: 0,
        in_incomplete: 0,
        completes: 0,
        by_reason: HashMap::new(),
        timeout: cfg.timeout_secs,
    };
    let mut now = Timestamp::from_nanos(START_NANOS);
    let step = |now: Timestamp, t: u8, ms: bool| {
        let unit = if ms { MS } else { SEC };
        let delta = i64::from(t as i8).unsigned_abs() * unit;
        if (t as i8) < 0 {
            Timestamp::from_nanos(now.as_nanos().saturating_sub(delta))
        } else {
            Timestamp::from_nanos(now.as_nanos() + delta)
        }
    };
    let mut data = Vec::new();
    let mut ops = 0;
    while inp.left() > 0 && ops < 1024 {
        ops += 1;
        let o = inp.u8();
        match o & 3 {
            0 | 1 => {
                let sel = Sel::of(inp.u8());
                now = step(now, inp.u8(), o & 0x80 != 0);
                let (off, len) = (inp.u16(), inp.u16());
                let (offset, len) = if o & 0x10 != 0 {
                    (u32::from(off), usize::from(len))
                } else {
                    let units = if o & 0x40 != 0 { 0x1fff } else { 0x3ff };
                    (u32::from(off & 0x1fff) * 8, usize::from(len & units) * 8)
                };
                let corrupt = o & 0x08 != 0;
                let bad_header = o & 0x20 != 0;
                data.clear();
                data.extend(
                    (0..len as u32)
                        .map(|i| sel.byte(offset.wrapping_add(i)) ^ if corrupt { 0xa5 } else { 0 }),
                );
                let mut header = sel.header(len);
                if bad_header {
                    if sel.v6 {
                        header.truncate(39);
                    } else {
                        header[0] = 0x40 | ((header[0] & 0x0f) + 1);
                    }
                }
                let frame_len = (header.len() + len + 14) as u32;
                let frag = Fragment {
                    version: if sel.v6 { IpVersion::V6 } else { IpVersion::V4 },
                    src: sel.src(),
                    dst: sel.dst(),
                    id: sel.id,
                    proto: sel.proto,
                    offset,
                    more: o & 0x04 != 0,
                    header: &header,
                    data: &data,
                    context: sel.ctx,
                    frame_len,
                    frame: 0,
                    ttl: 64,
                };
                let key = sel.key();
                let expected_reject = static_reject(&frag, bad_header);
                CURRENT_FRAME_LEN.with(|c| *c.borrow_mut() = frame_len);
                m.offered += 1;
                let before = ALLOCS.load(Ordering::Relaxed);
                ARMED.store(true, Ordering::Relaxed);
                let r = d.insert(&frag, now, &mut |inc| {
                    ARMED.store(false, Ordering::Relaxed);
                    m.incomplete(&inc, now, Some(key));
                    ARMED.store(true, Ordering::Relaxed);
                });
                ARMED.store(false, Ordering::Relaxed);
                assert_eq!(
                    ALLOCS.load(Ordering::Relaxed),
                    before,
                    "Defragmenter::insert allocated"
                );
                let joined = match &r {
                    Insert::Rejected(why) => {
                        m.rejected += 1;
                        match expected_reject {
                            Some(e) => assert_eq!(*why, e, "wrong rejection"),
                            None => assert!(
                                matches!(
                                    why,
                                    Reject::PastEnd | Reject::InconsistentLast | Reject::OverCap
                                ),
                                "rejected for {why:?}, which the fragment alone does not explain"
                            ),
                        }
                        false
                    }
                    _ => {
                        assert_eq!(
                            expected_reject, None,
                            "a bad fragment was not rejected: {r:?}"
                        );
                        true
                    }
                };
                let abandoned = matches!(r, Insert::Abandoned);
                let complete = match r {
                    Insert::Complete(re) => Some((
                        re.packet.to_vec(),
                        re.fragments,
                        re.frame_bytes,
                        re.first_seen,
                        re.context,
                        re.version,
                    )),
                    _ => None,
                };
                if joined && !abandoned {
                    let md = m.dgrams.entry(key).or_insert_with(|| MDatagram {
                        frags: Vec::new(),
                        first_seen: now,
                        last_seen: now,
                        clean: true,
                    });
                    md.frags.push(MFrag {
                        end: offset + len as u32,
                        last: !frag.more,
                        frame_len,
                    });
                    md.last_seen = md.last_seen.max(now);
                    md.clean &= !corrupt;
                }
                if let Some((packet, fragments, frame_bytes, first_seen, context, version)) =
                    complete
                {
                    let md = m
                        .dgrams
                        .remove(&key)
                        .expect("completed datagram in the model");
                    assert_eq!(fragments as usize, md.frags.len(), "Complete.fragments");
                    let fb: u64 = md.frags.iter().map(|f| u64::from(f.frame_len)).sum();
                    assert_eq!(frame_bytes, fb, "Complete.frame_bytes");
                    assert_eq!(first_seen, md.first_seen, "Complete.first_seen");
                    assert_eq!(context, sel.ctx, "Complete.context");
                    assert_eq!(version == IpVersion::V6, sel.v6, "Complete.version");
                    check_complete(&sel, &packet, &md);
                    m.in_complete += u64::from(fragments);
                    m.completes += 1;
                }
                if expected_reject.is_none() {
                    // `insert` expired what was due before anything else.
                    for (k, md) in &m.dgrams {
                        assert!(
                            now < md.first_seen.add_secs(cfg.timeout_secs) || *k == key,
                            "a datagram past its timeout is still held"
                        );
                    }
                }
            }
            2 => {
                now = step(now, inp.u8(), false);
                d.expire(now, &mut |inc| m.incomplete(&inc, now, None));
                for md in m.dgrams.values() {
                    assert!(
                        now < md.first_seen.add_secs(cfg.timeout_secs),
                        "expire left a datagram past its timeout"
                    );
                }
            }
            _ => {
                d.flush(&mut |inc| m.incomplete(&inc, now, None));
                assert!(m.dgrams.is_empty(), "flush left datagrams");
            }
        }
        check_bounds(&d, &cfg, &m);
    }
    d.flush(&mut |inc| m.incomplete(&inc, now, None));
    check_bounds(&d, &cfg, &m);
    assert_eq!(d.held_datagrams(), 0);
    assert_eq!(d.held_fragments(), 0);
    assert_eq!(d.held_bytes(), 0);
    // Every fragment offered is accounted exactly once.
    assert_eq!(
        m.offered,
        m.in_complete + m.in_incomplete + m.rejected,
        "fragments offered != in complete + in incomplete + rejected"
    );
}

fn check_bounds(d: &Defragmenter, cfg: &DefragConfig, m: &Model) {
    assert!(
        d.held_fragments() <= cfg.max_frags,
        "held fragments over max_frags"
    );
    assert!(d.held_bytes() <= cfg.memcap, "held bytes over memcap");
    assert!(
        d.held_datagrams() <= cfg.max_datagrams,
        "held datagrams over max_datagrams"
    );
    assert_eq!(
        d.held_datagrams() as usize,
        m.dgrams.len(),
        "held datagrams != model"
    );
    let modelled: usize = m.dgrams.values().map(|d| d.frags.len()).sum();
    assert!(
        d.held_fragments() as usize <= modelled,
        "more fragments held than joined"
    );
    let s = d.stats();
    let reason = |r| m.by_reason.get(&r).copied().unwrap_or(0);
    assert_eq!(s.fragments, m.offered, "stats.fragments");
    assert_eq!(s.rejected, m.rejected, "stats.rejected");
    assert_eq!(s.reassembled, m.completes, "stats.reassembled");
    assert_eq!(
        s.timeouts,
        reason(IncompleteReason::Timeout),
        "stats.timeouts"
    );
    assert_eq!(
        s.over_cap,
        reason(IncompleteReason::OverCap),
        "stats.over_cap"
    );
    assert_eq!(s.flushed, reason(IncompleteReason::Flush), "stats.flushed");
    assert_eq!(
        s.abandoned,
        reason(IncompleteReason::Anomaly),
        "stats.abandoned"
    );
    assert!(s.overlaps + s.duplicates <= s.fragments - s.rejected);
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input { data, pos: 0 };
    if data.first().copied().unwrap_or(0) & 1 == 0 {
        // Byte 0 is also the first configuration byte.
        engine_part(&mut inp);
    } else {
        inp.pos = 1;
        direct_part(&mut inp);
    }
});
