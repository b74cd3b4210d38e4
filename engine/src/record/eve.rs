//! EVE JSON output: one Suricata-style `flow` event per line, and the inspectors'
//! events (`http`, `tls`, `dns`, ...) tied to their flow by `flow_id`.
//!
//! Contract: [`EveWriter`] is a [`Sink`] that writes each record as one JSON object on
//! one line, with Suricata's field names, order and formats (see the repository's
//! notes on EVE): timestamps as `2016-01-01T00:00:00.000000+0000`, IPv6 addresses in
//! full (uncompressed) form unless `ipv6_compress` is set, ports only for TCP, UDP and
//! SCTP, `proto` as the IANA keyword (or the number as a string), TCP flags as
//! two-digit lowercase hex with one boolean per flag seen. Write errors never stop the
//! engine: the first one is kept and returned by [`EveWriter::finish`], and later
//! records are dropped and counted.

use super::line::{Line, Padded, HEX_BYTE};
use super::{proto_name, ConntrackRecord, EndedFlow, FlowRecord, IcmpRecord, Sink, TcpRecord};
use crate::decode::tcp_flags as tf;
use crate::decode::{IpVersion, Vlans};
use crate::flow::{Direction, EndReason, FlowState};
use crate::inspect::{AppProto, EventRecord};
use crate::stream::TcpState;
use crate::time::{EveClock, Timestamp};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::io::{self, Write};
use std::net::IpAddr;

/// EVE rendering options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EveOptions {
    /// Write IPv6 addresses in compressed form (`fe80::1`) instead of Suricata 9's
    /// default full form.
    pub ipv6_compress: bool,
}

/// Short ASCII text built on the stack: what the record's fields are formatted into
/// before serde_json writes them (no `core::fmt` on the common paths).
struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    fn new() -> Self {
        Text {
            buf: [0; N],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        if self.len < N {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    fn push_dec(&mut self, v: u8) {
        if v >= 100 {
            self.push(b'0' + v / 100);
        }
        if v >= 10 {
            self.push(b'0' + (v / 10) % 10);
        }
        self.push(b'0' + v % 10);
    }

    fn push_hex(&mut self, v: u64, digits: u32) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for i in (0..digits).rev() {
            self.push(HEX[((v >> (4 * i)) & 0xf) as usize]);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The text as bytes (ASCII), for the writer: no UTF-8 check.
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Serialize for Text<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An address as EVE writes it: IPv6 in full unless `compress`.
fn ip_text(a: IpAddr, compress: bool) -> Text<48> {
    let mut t = Text::new();
    match a {
        IpAddr::V4(a) => {
            // Table lookups instead of divisions: at most 4 * 3 + 3 = 15 bytes.
            let mut n = 0;
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    t.buf[n] = b'.';
                    n += 1;
                }
                let (digits, len) = DEC_OCTET[usize::from(o)];
                t.buf[n..n + 3].copy_from_slice(&digits);
                n += usize::from(len);
            }
            t.len = n;
        }
        IpAddr::V6(a) if compress => push_ipv6_compressed(&mut t, a.segments()),
        IpAddr::V6(a) => {
            // Eight groups of four hex digits: 39 bytes.
            let mut n = 0;
            for (i, pair) in a.octets().chunks_exact(2).enumerate() {
                if i > 0 {
                    t.buf[n] = b':';
                    n += 1;
                }
                t.buf[n..n + 2].copy_from_slice(&HEX_BYTE[usize::from(pair[0])]);
                t.buf[n + 2..n + 4].copy_from_slice(&HEX_BYTE[usize::from(pair[1])]);
                n += 4;
            }
            t.len = n;
        }
    }
    t
}

/// Each byte value's decimal digits (left-aligned) and their count.
const DEC_OCTET: [([u8; 3], u8); 256] = {
    let mut t = [([0u8; 3], 0u8); 256];
    let mut v = 0;
    while v < 256 {
        let b = v as u8;
        t[v] = if b >= 100 {
            ([b'0' + b / 100, b'0' + (b / 10) % 10, b'0' + b % 10], 3)
        } else if b >= 10 {
            ([b'0' + b / 10, b'0' + b % 10, 0], 2)
        } else {
            ([b'0' + b, 0, 0], 1)
        };
        v += 1;
    }
    t
};

/// IPv6 as glibc's `inet_ntop` writes it, which is what Suricata prints with
/// `ipv6-compress`: the first longest run of two or more zero groups becomes `::`, other
/// groups are lowercase hex without leading zeros, and an IPv4-mapped (`::ffff:a.b.c.d`)
/// or IPv4-compatible (`::a.b.c.d`, not `::` or `::N` for one group) address ends in
/// dotted IPv4. Rust's `Ipv6Addr` display differs on the IPv4-compatible form.
fn push_ipv6_compressed<const N: usize>(t: &mut Text<N>, w: [u16; 8]) {
    // The first longest run of zero groups, if it is at least two long.
    let (mut best, mut best_len, mut cur, mut cur_len) = (0usize, 0usize, 0usize, 0usize);
    for (i, &g) in w.iter().enumerate() {
        if g == 0 {
            if cur_len == 0 {
                cur = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                best = cur;
                best_len = cur_len;
            }
        } else {
            cur_len = 0;
        }
    }
    if best_len < 2 {
        best_len = 0;
    }
    let embedded_v4 = best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff));
    let mut i = 0;
    while i < 8 {
        if best_len > 0 && i == best {
            t.push(b':');
            i += best_len;
            if i == 8 {
                t.push(b':');
            }
            continue;
        }
        if i > 0 {
            t.push(b':');
        }
        if i == 6 && embedded_v4 {
            for (k, g) in [w[6], w[7]].into_iter().enumerate() {
                if k > 0 {
                    t.push(b'.');
                }
                t.push_dec((g >> 8) as u8);
                t.push(b'.');
                t.push_dec((g & 0xff) as u8);
            }
            return;
        }
        let g = u64::from(w[i]);
        let digits = match g {
            0..=0xf => 1,
            0x10..=0xff => 2,
            0x100..=0xfff => 3,
            _ => 4,
        };
        t.push_hex(g, digits);
        i += 1;
    }
}

fn time_text(ts: crate::time::Timestamp) -> Text<{ crate::time::Timestamp::EVE_LEN }> {
    Text {
        buf: ts.to_eve_bytes(),
        len: crate::time::Timestamp::EVE_LEN,
    }
}

fn hex_text(v: u8) -> Text<2> {
    let mut t = Text::new();
    t.push_hex(u64::from(v), 2);
    t
}

/// EVE's boolean per TCP flag, in Suricata's order.
const TCP_FLAG_NAMES: [(u8, &str); 8] = [
    (tf::SYN, "syn"),
    (tf::FIN, "fin"),
    (tf::RST, "rst"),
    (tf::PSH, "psh"),
    (tf::ACK, "ack"),
    (tf::URG, "urg"),
    (tf::ECE, "ecn"),
    (tf::CWR, "cwr"),
];

/// EVE `flow.state`: an allowed (trusted) flow is what Suricata calls bypassed.
fn state_name(r: &FlowRecord) -> &'static str {
    if r.allowed {
        "bypassed"
    } else {
        r.state.name()
    }
}

struct FlowPart<'a>(&'a FlowRecord);

impl Serialize for FlowPart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("pkts_toserver", &r.pkts_toserver)?;
        m.serialize_entry("pkts_toclient", &r.pkts_toclient)?;
        m.serialize_entry("bytes_toserver", &r.bytes_toserver)?;
        m.serialize_entry("bytes_toclient", &r.bytes_toclient)?;
        m.serialize_entry("start", &time_text(r.start))?;
        m.serialize_entry("end", &time_text(r.end))?;
        m.serialize_entry("age", &r.age())?;
        m.serialize_entry("state", state_name(r))?;
        m.serialize_entry("reason", r.reason.name())?;
        m.serialize_entry("alerted", &false)?;
        m.end()
    }
}

struct TcpPart<'a>(&'a super::TcpRecord);

impl Serialize for TcpPart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("tcp_flags", &hex_text(t.flags))?;
        m.serialize_entry("tcp_flags_ts", &hex_text(t.flags_ts))?;
        m.serialize_entry("tcp_flags_tc", &hex_text(t.flags_tc))?;
        for (bit, name) in TCP_FLAG_NAMES {
            if t.flags & bit != 0 {
                m.serialize_entry(name, &true)?;
            }
        }
        if let Some(state) = t.state {
            m.serialize_entry("state", state.name())?;
        }
        m.end()
    }
}

struct CtPart<'a>(&'a super::ConntrackRecord);

impl Serialize for CtPart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("state", c.state)?;
        m.serialize_entry("mark", &c.mark)?;
        m.serialize_entry("zone", &c.zone)?;
        m.serialize_entry("id", &c.id)?;
        m.serialize_entry("status", &c.status)?;
        m.end()
    }
}

/// A record as an EVE `flow` event.
pub struct EveFlow<'a> {
    record: &'a FlowRecord,
    opts: EveOptions,
}

impl<'a> EveFlow<'a> {
    /// Wraps a record for serialization.
    pub fn new(record: &'a FlowRecord, opts: EveOptions) -> Self {
        EveFlow { record, opts }
    }
}

impl Serialize for EveFlow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let compress = self.opts.ipv6_compress;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &time_text(r.timestamp))?;
        m.serialize_entry("flow_id", &r.flow_id)?;
        m.serialize_entry("event_type", "flow")?;
        if !r.vlans.is_empty() {
            m.serialize_entry("vlan", r.vlans.as_slice())?;
        }
        m.serialize_entry("src_ip", &ip_text(r.src_ip, compress))?;
        if let Some((sp, _)) = r.ports {
            m.serialize_entry("src_port", &sp)?;
        }
        m.serialize_entry("dest_ip", &ip_text(r.dest_ip, compress))?;
        if let Some((_, dp)) = r.ports {
            m.serialize_entry("dest_port", &dp)?;
        }
        m.serialize_entry(
            "ip_v",
            &match r.ip_version {
                crate::decode::IpVersion::V4 => 4u8,
                crate::decode::IpVersion::V6 => 6u8,
            },
        )?;
        match proto_name(r.proto) {
            Some(name) => m.serialize_entry("proto", name)?,
            None => {
                let mut t = Text::<3>::new();
                t.push_dec(r.proto);
                m.serialize_entry("proto", &t)?
            }
        }
        if let Some(icmp) = r.icmp {
            m.serialize_entry("icmp_type", &icmp.icmp_type)?;
            m.serialize_entry("icmp_code", &icmp.icmp_code)?;
            if let Some((t, c)) = icmp.response {
                m.serialize_entry("response_icmp_type", &t)?;
                m.serialize_entry("response_icmp_code", &c)?;
            }
        }
        for (k, v) in app_fields(r.app) {
            m.serialize_entry(k, v)?;
        }
        m.serialize_entry("flow", &FlowPart(r))?;
        if let Some(tcp) = &r.tcp {
            m.serialize_entry("tcp", &TcpPart(tcp))?;
        }
        if let Some(ct) = &r.conntrack {
            m.serialize_entry("conntrack", &CtPart(ct))?;
        }
        m.end()
    }
}

/// A JSON object built straight into a byte buffer. Only for the flow record's fixed
/// schema: keys are literals and every string value is ASCII text without quotes,
/// backslashes or control characters (addresses, times, hex, fixed names), so nothing
/// needs escaping; `serde_json` (which `EveFlow`'s `Serialize` uses, and the tests
/// check this writer against) spends most of its time looking for characters to
/// escape that cannot be there.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    #[inline(always)]
    fn key(&mut self, k: &str) {
        // One capacity check for the whole key (keys are literals: the copy inlines).
        self.out.reserve(k.len() + 4);
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline(always)]
    fn num(&mut self, k: &str, v: u64) {
        self.key(k);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    #[inline(always)]
    fn str(&mut self, k: &str, v: &str) {
        debug_assert!(!v.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
        self.key(k);
        self.out.push(b'"');
        self.out.extend_from_slice(v.as_bytes());
        self.out.push(b'"');
    }

    /// A string value from our own ASCII text (nothing to escape).
    #[inline(always)]
    fn text<const N: usize>(&mut self, k: &str, v: &Text<N>) {
        let v = v.as_bytes();
        debug_assert!(v
            .iter()
            .all(|&b| b.is_ascii() && b != b'"' && b != b'\\' && b >= 0x20));
        self.key(k);
        self.out.reserve(v.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(v);
        self.out.push(b'"');
    }

    #[inline(always)]
    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// Opens a nested object under `k`; close it with [`Obj::close`].
    fn child(&mut self, k: &str) -> Obj<'_> {
        self.key(k);
        Obj::open(self.out)
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// The record's service fields, in Suricata's order: `app_proto`, then
/// `app_proto_ts`/`app_proto_tc` where a direction differs, then `app_proto_orig`.
fn app_fields(a: crate::inspect::AppProto) -> impl Iterator<Item = (&'static str, &'static str)> {
    let main = a.app_proto;
    let differs = move |d: Option<&'static str>| d.filter(|d| Some(*d) != main);
    [
        ("app_proto", main),
        ("app_proto_ts", differs(a.ts)),
        ("app_proto_tc", differs(a.tc)),
        ("app_proto_orig", a.orig),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
}

/// Writes `key` (up to and including the value's opening quote), the address as EVE
/// writes it, and the closing quote.
#[inline(always)]
fn ip_field<const N: usize>(l: &mut Line<'_, N>, key: &[u8], a: IpAddr, opts: EveOptions) {
    l.bytes(key);
    ip_text_into(l, a, opts);
    l.byte(b'"');
}

/// Writes the address as EVE writes it (no quotes).
#[inline(always)]
fn ip_text_into<const N: usize>(l: &mut Line<'_, N>, a: IpAddr, opts: EveOptions) {
    match a {
        IpAddr::V4(a) => l.ipv4(a.octets()),
        IpAddr::V6(a) if !opts.ipv6_compress => l.ipv6_full(a.octets()),
        IpAddr::V6(_) => {
            let t = ip_text(a, true);
            l.prefix(&t.buf, t.len);
        }
    }
}

/// Appends an inspector event as one EVE JSON object (no newline) to `out`: the fixed
/// fields (time, flow id, event type, the flow's tuple: about 190 bytes at most with
/// IPv6 in full) through a line over `scratch`, the event's own through its writer.
fn write_event(
    out: &mut Vec<u8>,
    e: &EventRecord<'_>,
    opts: EveOptions,
    scratch: &mut [u8; FLOW_LINE],
    clock: &mut EveClock,
) {
    let ty = e.event.event_type();
    let mut l = Line::new(scratch);
    l.bytes(b"{\"timestamp\":\"");
    l.time(e.timestamp, clock);
    l.bytes(b"\",\"flow_id\":");
    l.u64_wide(e.flow_id);
    l.bytes(b",\"event_type\":");
    l.clean_str(ty);
    ip_field(&mut l, b",\"src_ip\":\"", e.src.0, opts);
    l.bytes(b",\"src_port\":");
    l.u64(u64::from(e.src.1));
    ip_field(&mut l, b",\"dest_ip\":\"", e.dest.0, opts);
    l.bytes(b",\"dest_port\":");
    l.u64(u64::from(e.dest.1));
    l.bytes(if e.src.0.is_ipv4() {
        b",\"ip_v\":4,\"proto\":"
    } else {
        b",\"ip_v\":6,\"proto\":"
    });
    l.padded(&PROTO_JSON[usize::from(e.proto)]);
    let siblings = e.event.siblings();
    if siblings.is_empty() {
        // The event's own key (the type, clean: checked above) goes with the line.
        l.bytes(b",\"");
        l.bytes(ty.as_bytes());
        l.bytes(b"\":");
    }
    if l.overflowed() {
        write_event_general(out, e, opts);
        return;
    }
    out.extend_from_slice(l.as_bytes());
    if !siblings.is_empty() {
        for (k, v) in siblings {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            serde_json::to_writer(&mut *out, &v).ok();
        }
        out.extend_from_slice(b",\"");
        out.extend_from_slice(ty.as_bytes());
        out.extend_from_slice(b"\":");
    }
    e.event.write_json(out);
    out.push(b'}');
}

/// [`write_event`] field by field into the vector: for an event type that needs
/// escaping.
fn write_event_general(out: &mut Vec<u8>, e: &EventRecord<'_>, opts: EveOptions) {
    let mut m = Obj::open(out);
    m.text("timestamp", &time_text(e.timestamp));
    m.num("flow_id", e.flow_id);
    m.key("event_type");
    serde_json::to_writer(&mut *m.out, e.event.event_type()).ok();
    m.text("src_ip", &ip_text(e.src.0, opts.ipv6_compress));
    m.num("src_port", u64::from(e.src.1));
    m.text("dest_ip", &ip_text(e.dest.0, opts.ipv6_compress));
    m.num("dest_port", u64::from(e.dest.1));
    m.num("ip_v", if e.src.0.is_ipv4() { 4 } else { 6 });
    match proto_name(e.proto) {
        Some(name) => m.str("proto", name),
        None => {
            let mut t = Text::<3>::new();
            t.push_dec(e.proto);
            m.text("proto", &t);
        }
    }
    for (k, v) in e.event.siblings() {
        m.key(k);
        serde_json::to_writer(&mut *m.out, &v).ok();
    }
    m.key(e.event.event_type());
    e.event.write_json(m.out);
    m.close();
}

/// Room for a flow record's line in [`write_flow_line`]: the longest record (VLANs,
/// IPv6 in full, ICMP with a response, TCP with every flag, conntrack) with the usual
/// short service names takes about 800 bytes; a longer one is written the general way.
const FLOW_LINE: usize = 1024;

/// Appends `r` as one EVE JSON object (no newline) to `out`.
#[cfg(test)]
fn write_flow(out: &mut Vec<u8>, r: &FlowRecord, opts: EveOptions) {
    let mut scratch = [0u8; FLOW_LINE];
    let mut l = Line::new(&mut scratch);
    write_flow_line(&mut l, r, opts, &mut FlowClocks::new());
    if l.overflowed() {
        write_flow_general(out, r, opts);
    } else {
        out.extend_from_slice(l.as_bytes());
    }
}

/// EVE `flow.state` (an allowed, trusted flow is what Suricata calls bypassed) and
/// `flow.reason`, quoted.
const STATE_JSON: [Padded; 4] = [
    Padded::quoted(FlowState::New.name()),
    Padded::quoted(FlowState::Established.name()),
    Padded::quoted(FlowState::Closed.name()),
    Padded::quoted("bypassed"),
];

/// `flow.reason`, quoted, by [`reason_index`].
const REASON_JSON: [Padded; 4] = [
    Padded::quoted(EndReason::Timeout.name()),
    Padded::quoted(EndReason::Shutdown.name()),
    Padded::quoted(EndReason::TcpReuse.name()),
    Padded::quoted("forced"),
];

fn reason_index(r: EndReason) -> usize {
    match r {
        EndReason::Timeout => 0,
        EndReason::Shutdown => 1,
        EndReason::TcpReuse => 2,
        EndReason::Pruned(_) => 3,
    }
}

/// `tcp.state`, quoted, by the state's number.
const TCP_STATE_JSON: [Padded; 12] = {
    let all = [
        TcpState::None,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::LastAck,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::Closed,
    ];
    let mut t = [Padded::quoted("none"); 12];
    let mut i = 0;
    while i < all.len() {
        t[all[i] as usize] = Padded::quoted(all[i].name());
        i += 1;
    }
    t
};

/// EVE `proto` by number, quoted: the keyword, or the number as a string.
const PROTO_JSON: [Padded; 256] = {
    let mut t = [Padded::quoted(""); 256];
    let mut p = 0;
    while p < 256 {
        t[p] = match super::proto_names::const_proto_name(p as u8) {
            Some(name) => Padded::quoted(name),
            None => {
                let mut b = [0u8; 16];
                let v = p as u8;
                b[0] = b'"';
                let mut n = 1;
                if v >= 100 {
                    b[n] = b'0' + v / 100;
                    n += 1;
                }
                if v >= 10 {
                    b[n] = b'0' + (v / 10) % 10;
                    n += 1;
                }
                b[n] = b'0' + v % 10;
                b[n + 1] = b'"';
                Padded(b, n as u8 + 2)
            }
        };
        p += 1;
    }
    t
};

/// EVE's `,"flag":true` per TCP flag, in Suricata's order.
const TCP_FLAG_JSON: [(u8, Padded); 8] = {
    let mut t = [(0u8, Padded::new("")); 8];
    let mut i = 0;
    while i < 8 {
        let (bit, name) = TCP_FLAG_NAMES[i];
        let mut b = [0u8; 16];
        let n = name.as_bytes();
        b[0] = b',';
        b[1] = b'"';
        let mut k = 0;
        while k < n.len() {
            b[2 + k] = n[k];
            k += 1;
        }
        let tail = b"\":true";
        let mut j = 0;
        while j < tail.len() {
            b[2 + n.len() + j] = tail[j];
            j += 1;
        }
        t[i] = (bit, Padded(b, (2 + n.len() + tail.len()) as u8));
        i += 1;
    }
    t
};

/// The clocks of a record's three times: each field keeps its own last second (the
/// records written one after another share it often; the three times of one record
/// rarely do).
#[derive(Clone, Copy, Debug)]
struct FlowClocks {
    timestamp: EveClock,
    start: EveClock,
    end: EveClock,
}

impl FlowClocks {
    const fn new() -> Self {
        FlowClocks {
            timestamp: EveClock::new(),
            start: EveClock::new(),
            end: EveClock::new(),
        }
    }
}

/// What a flow line reads: a [`FlowRecord`], or a flow that just ended, read in place
/// (the same values: [`EndedFlow::record`] is built from the same accessors).
trait LineFields {
    fn timestamp(&self) -> Timestamp;
    fn flow_id(&self) -> u64;
    fn vlans(&self) -> Vlans;
    fn src_ip(&self) -> IpAddr;
    fn dest_ip(&self) -> IpAddr;
    fn ports(&self) -> Option<(u16, u16)>;
    fn ip_version(&self) -> IpVersion;
    fn proto(&self) -> u8;
    fn icmp(&self) -> Option<IcmpRecord>;
    fn app(&self) -> AppProto;
    fn pkts_toserver(&self) -> u64;
    fn pkts_toclient(&self) -> u64;
    fn bytes_toserver(&self) -> u64;
    fn bytes_toclient(&self) -> u64;
    fn start(&self) -> Timestamp;
    fn end(&self) -> Timestamp;
    /// The index of EVE's `flow.state` in [`STATE_JSON`].
    fn state_index(&self) -> usize;
    fn reason(&self) -> EndReason;
    fn tcp(&self) -> Option<TcpRecord>;
    fn conntrack(&self) -> Option<ConntrackRecord>;
}

impl LineFields for FlowRecord {
    #[inline(always)]
    fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
    #[inline(always)]
    fn flow_id(&self) -> u64 {
        self.flow_id
    }
    #[inline(always)]
    fn vlans(&self) -> Vlans {
        self.vlans
    }
    #[inline(always)]
    fn src_ip(&self) -> IpAddr {
        self.src_ip
    }
    #[inline(always)]
    fn dest_ip(&self) -> IpAddr {
        self.dest_ip
    }
    #[inline(always)]
    fn ports(&self) -> Option<(u16, u16)> {
        self.ports
    }
    #[inline(always)]
    fn ip_version(&self) -> IpVersion {
        self.ip_version
    }
    #[inline(always)]
    fn proto(&self) -> u8 {
        self.proto
    }
    #[inline(always)]
    fn icmp(&self) -> Option<IcmpRecord> {
        self.icmp
    }
    #[inline(always)]
    fn app(&self) -> AppProto {
        self.app
    }
    #[inline(always)]
    fn pkts_toserver(&self) -> u64 {
        self.pkts_toserver
    }
    #[inline(always)]
    fn pkts_toclient(&self) -> u64 {
        self.pkts_toclient
    }
    #[inline(always)]
    fn bytes_toserver(&self) -> u64 {
        self.bytes_toserver
    }
    #[inline(always)]
    fn bytes_toclient(&self) -> u64 {
        self.bytes_toclient
    }
    #[inline(always)]
    fn start(&self) -> Timestamp {
        self.start
    }
    #[inline(always)]
    fn end(&self) -> Timestamp {
        self.end
    }
    #[inline(always)]
    fn state_index(&self) -> usize {
        if self.allowed {
            3
        } else {
            self.state as usize
        }
    }
    #[inline(always)]
    fn reason(&self) -> EndReason {
        self.reason
    }
    #[inline(always)]
    fn tcp(&self) -> Option<TcpRecord> {
        self.tcp
    }
    #[inline(always)]
    fn conntrack(&self) -> Option<ConntrackRecord> {
        self.conntrack
    }
}

impl LineFields for EndedFlow<'_> {
    #[inline(always)]
    fn timestamp(&self) -> Timestamp {
        EndedFlow::timestamp(self)
    }
    #[inline(always)]
    fn flow_id(&self) -> u64 {
        self.flow().flow_id()
    }
    #[inline(always)]
    fn vlans(&self) -> Vlans {
        self.flow().vlans()
    }
    #[inline(always)]
    fn src_ip(&self) -> IpAddr {
        EndedFlow::src_ip(self)
    }
    #[inline(always)]
    fn dest_ip(&self) -> IpAddr {
        EndedFlow::dest_ip(self)
    }
    #[inline(always)]
    fn ports(&self) -> Option<(u16, u16)> {
        EndedFlow::ports(self)
    }
    #[inline(always)]
    fn ip_version(&self) -> IpVersion {
        self.flow().key().version()
    }
    #[inline(always)]
    fn proto(&self) -> u8 {
        self.flow().key().proto()
    }
    #[inline(always)]
    fn icmp(&self) -> Option<IcmpRecord> {
        EndedFlow::icmp(self)
    }
    #[inline(always)]
    fn app(&self) -> AppProto {
        EndedFlow::app(self)
    }
    #[inline(always)]
    fn pkts_toserver(&self) -> u64 {
        self.flow().packets(Direction::ToServer)
    }
    #[inline(always)]
    fn pkts_toclient(&self) -> u64 {
        self.flow().packets(Direction::ToClient)
    }
    #[inline(always)]
    fn bytes_toserver(&self) -> u64 {
        self.flow().bytes(Direction::ToServer)
    }
    #[inline(always)]
    fn bytes_toclient(&self) -> u64 {
        self.flow().bytes(Direction::ToClient)
    }
    #[inline(always)]
    fn start(&self) -> Timestamp {
        self.flow().start()
    }
    #[inline(always)]
    fn end(&self) -> Timestamp {
        self.flow().last_seen()
    }
    #[inline(always)]
    fn state_index(&self) -> usize {
        if self.allowed() {
            3
        } else {
            self.flow().state() as usize
        }
    }
    #[inline(always)]
    fn reason(&self) -> EndReason {
        EndedFlow::reason(self)
    }
    #[inline(always)]
    fn tcp(&self) -> Option<TcpRecord> {
        EndedFlow::tcp(self)
    }
    #[inline(always)]
    fn conntrack(&self) -> Option<ConntrackRecord> {
        None
    }
}

/// [`write_flow_general`]'s text, written into a line with the keys between two values
/// as one literal each (the same bytes; the tests compare the two).
fn write_flow_line<const N: usize, R: LineFields>(
    l: &mut Line<'_, N>,
    r: &R,
    opts: EveOptions,
    clocks: &mut FlowClocks,
) {
    l.bytes(b"{\"timestamp\":\"");
    l.time(r.timestamp(), &mut clocks.timestamp);
    l.bytes(b"\",\"flow_id\":");
    l.u64_wide(r.flow_id());
    l.bytes(b",\"event_type\":\"flow\"");
    if !r.vlans().is_empty() {
        l.bytes(b",\"vlan\":[");
        for (i, v) in r.vlans().as_slice().iter().enumerate() {
            if i > 0 {
                l.byte(b',');
            }
            l.u64(u64::from(*v));
        }
        l.byte(b']');
    }
    // Each address's closing quote goes with the key after it.
    let ports = r.ports();
    l.bytes(b",\"src_ip\":\"");
    ip_text_into(l, r.src_ip(), opts);
    if let Some((sp, _)) = ports {
        l.bytes(b"\",\"src_port\":");
        l.u64(u64::from(sp));
        l.bytes(b",\"dest_ip\":\"");
    } else {
        l.bytes(b"\",\"dest_ip\":\"");
    }
    ip_text_into(l, r.dest_ip(), opts);
    let v6 = r.ip_version() == IpVersion::V6;
    if let Some((_, dp)) = ports {
        l.bytes(b"\",\"dest_port\":");
        l.u64(u64::from(dp));
        l.bytes(if v6 {
            b",\"ip_v\":6,\"proto\":"
        } else {
            b",\"ip_v\":4,\"proto\":"
        });
    } else {
        l.bytes(if v6 {
            b"\",\"ip_v\":6,\"proto\":"
        } else {
            b"\",\"ip_v\":4,\"proto\":"
        });
    }
    l.padded(&PROTO_JSON[usize::from(r.proto())]);
    if let Some(icmp) = r.icmp() {
        l.bytes(b",\"icmp_type\":");
        l.u64(u64::from(icmp.icmp_type));
        l.bytes(b",\"icmp_code\":");
        l.u64(u64::from(icmp.icmp_code));
        if let Some((t, c)) = icmp.response {
            l.bytes(b",\"response_icmp_type\":");
            l.u64(u64::from(t));
            l.bytes(b",\"response_icmp_code\":");
            l.u64(u64::from(c));
        }
    }
    let app = r.app();
    if app.app_proto.is_some() || app.ts.is_some() || app.tc.is_some() || app.orig.is_some() {
        for (k, v) in app_fields(app) {
            l.bytes(b",\"");
            l.bytes(k.as_bytes());
            l.bytes(b"\":");
            // Service names come from inspectors (plugins too): one that needs escaping
            // sends the record the general way.
            l.clean_str(v);
        }
    }
    l.bytes(b",\"flow\":{\"pkts_toserver\":");
    l.u64(r.pkts_toserver());
    l.bytes(b",\"pkts_toclient\":");
    l.u64(r.pkts_toclient());
    l.bytes(b",\"bytes_toserver\":");
    l.u64(r.bytes_toserver());
    l.bytes(b",\"bytes_toclient\":");
    l.u64(r.bytes_toclient());
    l.bytes(b",\"start\":\"");
    let start = l.time(r.start(), &mut clocks.start);
    l.bytes(b"\",\"end\":\"");
    let end = l.time(r.end(), &mut clocks.end);
    l.bytes(b"\",\"age\":");
    // EVE `flow.age`: whole seconds from start to end, each truncated.
    l.u64(end.saturating_sub(start));
    l.bytes(b",\"state\":");
    l.padded(&STATE_JSON[r.state_index()]);
    l.bytes(b",\"reason\":");
    l.padded(&REASON_JSON[reason_index(r.reason())]);
    l.bytes(b",\"alerted\":false}");
    if let Some(t) = &r.tcp() {
        l.bytes(b",\"tcp\":{\"tcp_flags\":\"");
        l.bytes(&HEX_BYTE[usize::from(t.flags)]);
        l.bytes(b"\",\"tcp_flags_ts\":\"");
        l.bytes(&HEX_BYTE[usize::from(t.flags_ts)]);
        l.bytes(b"\",\"tcp_flags_tc\":\"");
        l.bytes(&HEX_BYTE[usize::from(t.flags_tc)]);
        l.byte(b'"');
        for (bit, text) in &TCP_FLAG_JSON {
            if t.flags & bit != 0 {
                l.padded(text);
            }
        }
        if let Some(state) = t.state {
            l.bytes(b",\"state\":");
            l.padded(&TCP_STATE_JSON[state as usize]);
        }
        l.byte(b'}');
    }
    if let Some(ct) = &r.conntrack() {
        l.bytes(b",\"conntrack\":{\"state\":");
        l.clean_str(ct.state);
        l.bytes(b",\"mark\":");
        l.u64(u64::from(ct.mark));
        l.bytes(b",\"zone\":");
        l.u64(u64::from(ct.zone));
        l.bytes(b",\"id\":");
        l.u64(u64::from(ct.id));
        l.bytes(b",\"status\":");
        l.u64(u64::from(ct.status));
        l.byte(b'}');
    }
    l.byte(b'}');
}

/// Appends `r` as one EVE JSON object (no newline) to `out`, field by field into the
/// vector: for records [`write_flow_line`] has no room for.
fn write_flow_general(out: &mut Vec<u8>, r: &FlowRecord, opts: EveOptions) {
    let mut m = Obj::open(out);
    m.text("timestamp", &time_text(r.timestamp));
    m.num("flow_id", r.flow_id);
    m.str("event_type", "flow");
    if !r.vlans.is_empty() {
        m.key("vlan");
        m.out.push(b'[');
        for (i, v) in r.vlans.as_slice().iter().enumerate() {
            if i > 0 {
                m.out.push(b',');
            }
            m.out
                .extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
        }
        m.out.push(b']');
    }
    m.text("src_ip", &ip_text(r.src_ip, opts.ipv6_compress));
    if let Some((sp, _)) = r.ports {
        m.num("src_port", u64::from(sp));
    }
    m.text("dest_ip", &ip_text(r.dest_ip, opts.ipv6_compress));
    if let Some((_, dp)) = r.ports {
        m.num("dest_port", u64::from(dp));
    }
    m.num(
        "ip_v",
        match r.ip_version {
            crate::decode::IpVersion::V4 => 4,
            crate::decode::IpVersion::V6 => 6,
        },
    );
    match proto_name(r.proto) {
        Some(name) => m.str("proto", name),
        None => {
            let mut t = Text::<3>::new();
            t.push_dec(r.proto);
            m.text("proto", &t);
        }
    }
    if let Some(icmp) = r.icmp {
        m.num("icmp_type", u64::from(icmp.icmp_type));
        m.num("icmp_code", u64::from(icmp.icmp_code));
        if let Some((t, c)) = icmp.response {
            m.num("response_icmp_type", u64::from(t));
            m.num("response_icmp_code", u64::from(c));
        }
    }
    for (k, v) in app_fields(r.app) {
        m.key(k);
        // Service names come from inspectors (plugins too): escape them.
        serde_json::to_writer(&mut *m.out, v).ok();
    }
    let mut f = m.child("flow");
    f.num("pkts_toserver", r.pkts_toserver);
    f.num("pkts_toclient", r.pkts_toclient);
    f.num("bytes_toserver", r.bytes_toserver);
    f.num("bytes_toclient", r.bytes_toclient);
    f.text("start", &time_text(r.start));
    f.text("end", &time_text(r.end));
    f.num("age", r.age());
    f.str("state", state_name(r));
    f.str("reason", r.reason.name());
    f.bool("alerted", false);
    f.close();
    if let Some(t) = &r.tcp {
        let mut c = m.child("tcp");
        c.text("tcp_flags", &hex_text(t.flags));
        c.text("tcp_flags_ts", &hex_text(t.flags_ts));
        c.text("tcp_flags_tc", &hex_text(t.flags_tc));
        for (bit, name) in TCP_FLAG_NAMES {
            if t.flags & bit != 0 {
                c.bool(name, true);
            }
        }
        if let Some(state) = t.state {
            c.str("state", state.name());
        }
        c.close();
    }
    if let Some(ct) = &r.conntrack {
        let mut c = m.child("conntrack");
        c.str("state", ct.state);
        c.num("mark", u64::from(ct.mark));
        c.num("zone", u64::from(ct.zone));
        c.num("id", u64::from(ct.id));
        c.num("status", u64::from(ct.status));
        c.close();
    }
    m.close();
}

/// What an [`EveWriter`] writes lines with (one allocation, off the writer).
struct Work {
    /// Where records' lines and events' fixed fields are written (reused, never
    /// cleared).
    scratch: [u8; FLOW_LINE],
    /// Lines that do not fit `scratch`, and events (reused: no allocation once grown).
    line: Vec<u8>,
}

/// Writes EVE `flow` events, one per line.
pub struct EveWriter<W: Write> {
    out: W,
    work: Box<Work>,
    /// The last seconds written, by field.
    clocks: FlowClocks,
    opts: EveOptions,
    error: Option<io::Error>,
    written: u64,
    events: u64,
    dropped: u64,
}

impl<W: Write> EveWriter<W> {
    /// A writer over `out` (wrap files in a `BufWriter`).
    pub fn new(out: W, opts: EveOptions) -> Self {
        EveWriter {
            out,
            work: Box::new(Work {
                scratch: [0; FLOW_LINE],
                line: Vec::with_capacity(1024),
            }),
            clocks: FlowClocks::new(),
            opts,
            error: None,
            written: 0,
            events: 0,
            dropped: 0,
        }
    }

    /// Records written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Inspector events written.
    pub fn events_written(&self) -> u64 {
        self.events
    }

    /// Records and events dropped after a write error.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Flushes and returns the inner writer, or the first write error.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Writes one record's line: `r` through the line, or (when it does not fit)
    /// `record()` field by field.
    #[inline(always)]
    fn write_one<R: LineFields>(
        &mut self,
        r: &R,
        record: impl FnOnce() -> FlowRecord,
    ) -> io::Result<()> {
        let work = &mut *self.work;
        let mut l = Line::new(&mut work.scratch);
        write_flow_line(&mut l, r, self.opts, &mut self.clocks);
        l.byte(b'\n');
        if !l.overflowed() {
            return self.out.write_all(l.as_bytes());
        }
        let line = &mut work.line;
        line.clear();
        write_flow_general(line, &record(), self.opts);
        line.push(b'\n');
        self.out.write_all(line)
    }

    /// Counts the outcome of writing a record.
    fn written_one(&mut self, outcome: io::Result<()>) {
        match outcome {
            Ok(()) => self.written += 1,
            Err(e) => {
                self.dropped += 1;
                self.error = Some(e);
            }
        }
    }
}

impl<W: Write> Sink for EveWriter<W> {
    fn event(&mut self, event: &EventRecord<'_>) {
        if self.error.is_some() {
            self.dropped += 1;
            return;
        }
        let work = &mut *self.work;
        work.line.clear();
        write_event(
            &mut work.line,
            event,
            self.opts,
            &mut work.scratch,
            &mut self.clocks.timestamp,
        );
        work.line.push(b'\n');
        match self.out.write_all(&work.line) {
            Ok(()) => self.events += 1,
            Err(e) => {
                self.dropped += 1;
                self.error = Some(e);
            }
        }
    }

    fn flow(&mut self, record: &FlowRecord) {
        if self.error.is_some() {
            self.dropped += 1;
            return;
        }
        let outcome = self.write_one(record, || *record);
        self.written_one(outcome);
    }

    /// Writes the line straight from the flow (the same bytes as its record's).
    fn flow_ended(&mut self, ended: &EndedFlow<'_>) {
        if self.error.is_some() {
            self.dropped += 1;
            return;
        }
        let outcome = self.write_one(ended, || ended.record());
        self.written_one(outcome);
    }

    /// Flushes the inner writer; a failure is kept for [`EveWriter::finish`].
    fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{IpVersion, Vlans};
    use crate::flow::{EndReason, FlowState};
    use crate::record::{IcmpRecord, TcpRecord};
    use crate::stream::TcpState;
    use crate::time::Timestamp;

    fn record() -> FlowRecord {
        FlowRecord {
            timestamp: Timestamp::from_secs_micros(1_456_786_925, 500_000),
            flow_id: 1_234_567,
            vlans: Vlans::default(),
            src_ip: "10.0.0.1".parse().unwrap(),
            dest_ip: "10.0.0.2".parse().unwrap(),
            ports: Some((40000, 80)),
            ip_version: IpVersion::V4,
            proto: 6,
            icmp: None,
            pkts_toserver: 5,
            pkts_toclient: 3,
            bytes_toserver: 400,
            bytes_toclient: 1200,
            start: Timestamp::from_secs_micros(1_456_786_920, 999_999),
            end: Timestamp::from_secs_micros(1_456_786_925, 1),
            state: FlowState::Closed,
            reason: EndReason::Timeout,
            allowed: false,
            tcp: Some(TcpRecord {
                flags: 0x1b,
                flags_ts: 0x1b,
                flags_tc: 0x13,
                state: Some(TcpState::Closed),
            }),
            app: Default::default(),
            conntrack: None,
        }
    }

    fn render(r: &FlowRecord, opts: EveOptions) -> String {
        let mut w = EveWriter::new(Vec::new(), opts);
        w.flow(r);
        assert_eq!(w.written(), 1);
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn tcp_flow_renders_like_suricata() {
        assert_eq!(
            render(&record(), EveOptions::default()),
            concat!(
                r#"{"timestamp":"2016-02-29T23:02:05.500000+0000","flow_id":1234567,"event_type":"flow","#,
                r#""src_ip":"10.0.0.1","src_port":40000,"dest_ip":"10.0.0.2","dest_port":80,"ip_v":4,"#,
                r#""proto":"TCP","flow":{"pkts_toserver":5,"pkts_toclient":3,"bytes_toserver":400,"#,
                r#""bytes_toclient":1200,"start":"2016-02-29T23:02:00.999999+0000","#,
                r#""end":"2016-02-29T23:02:05.000001+0000","age":5,"state":"closed","reason":"timeout","#,
                r#""alerted":false},"tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"13","#,
                r#""syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}"#,
                "\n"
            )
        );
    }

    #[test]
    fn ipv6_icmp_vlans_and_unknown_protocols() {
        let mut r = record();
        r.src_ip = "fe80::20c:29ff:fef3:cf38".parse().unwrap();
        r.dest_ip = "ff02::1".parse().unwrap();
        r.ip_version = IpVersion::V6;
        r.proto = 58;
        r.ports = None;
        r.tcp = None;
        r.vlans = Vlans::from_slice(&[1, 10]);
        r.icmp = Some(IcmpRecord {
            icmp_type: 128,
            icmp_code: 0,
            response: Some((129, 0)),
        });
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, EveOptions::default())).unwrap();
        assert_eq!(v["src_ip"], "fe80:0000:0000:0000:020c:29ff:fef3:cf38");
        assert_eq!(v["dest_ip"], "ff02:0000:0000:0000:0000:0000:0000:0001");
        assert_eq!(v["proto"], "IPv6-ICMP");
        assert_eq!(v["vlan"], serde_json::json!([1, 10]));
        assert_eq!(
            (v["icmp_type"].as_u64(), v["response_icmp_type"].as_u64()),
            (Some(128), Some(129))
        );
        assert!(v.get("src_port").is_none() && v.get("tcp").is_none());
        let c: serde_json::Value = serde_json::from_str(&render(
            &r,
            EveOptions {
                ipv6_compress: true,
            },
        ))
        .unwrap();
        assert_eq!(c["src_ip"], "fe80::20c:29ff:fef3:cf38");
        r.proto = 253;
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, EveOptions::default())).unwrap();
        assert_eq!(v["proto"], "253");
    }

    #[test]
    fn compressed_ipv6_is_written_as_inet_ntop_writes_it() {
        // Expected strings are glibc inet_ntop's (what Suricata's ipv6-compress prints).
        for (addr, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("::2", "::2"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::ffff:0:0", "::ffff:0.0.0.0"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),
            ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),
            ("fe80::20c:29ff:faf2:ab42", "fe80::20c:29ff:faf2:ab42"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("1:0:0:1:0:0:1:1", "1::1:0:0:1:1"),
            ("2001:db8:0:1::", "2001:db8:0:1::"),
            ("0:0:0:0:0:1:0:0", "::1:0:0"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
        ] {
            let a: IpAddr = addr.parse().unwrap();
            assert_eq!(ip_text(a, true).as_str(), want, "{addr}");
        }
        // IPv4 as std writes it, for every octet value in every position.
        for v in 0..=255u8 {
            for a in [
                std::net::Ipv4Addr::new(v, 0, 9, 255),
                std::net::Ipv4Addr::new(10, v, 100, 1),
                std::net::Ipv4Addr::new(255, 99, v, 7),
                std::net::Ipv4Addr::new(1, 2, 3, v),
            ] {
                assert_eq!(ip_text(IpAddr::V4(a), false).as_str(), a.to_string());
            }
        }
        // Uncompressed: every group in full, IPv4-mapped ones too.
        let a: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
        assert_eq!(
            ip_text(a, false).as_str(),
            "0000:0000:0000:0000:0000:ffff:0102:0304"
        );
        // Both writers agree on the compressed forms.
        let mut r = record();
        r.ip_version = IpVersion::V6;
        for (s, d) in [("::1", "::ffff:1.2.3.4"), ("::1.2.3.4", "fe80::1")] {
            r.src_ip = s.parse().unwrap();
            r.dest_ip = d.parse().unwrap();
            let opts = EveOptions {
                ipv6_compress: true,
            };
            let fast = render(&r, opts);
            let v: serde_json::Value = serde_json::from_str(&fast).unwrap();
            assert_eq!(
                (v["src_ip"].as_str(), v["dest_ip"].as_str()),
                (Some(s), Some(d))
            );
            let slow = serde_json::to_string(&EveFlow::new(&r, opts)).unwrap() + "\n";
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn tcp_without_a_session_and_bypassed_flows() {
        let mut r = record();
        r.tcp = Some(TcpRecord {
            flags: 0,
            flags_ts: 0,
            flags_tc: 0,
            state: None,
        });
        r.allowed = true;
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, EveOptions::default())).unwrap();
        assert_eq!(
            v["tcp"],
            serde_json::json!({"tcp_flags": "00", "tcp_flags_ts": "00", "tcp_flags_tc": "00"})
        );
        assert_eq!(v["flow"]["state"], "bypassed");
    }

    #[test]
    fn the_fast_writer_matches_serde_json() {
        let mut records = vec![record()];
        let mut r = record();
        r.src_ip = "2001:db8::1".parse().unwrap();
        r.dest_ip = "2001:db8::2".parse().unwrap();
        r.ip_version = IpVersion::V6;
        r.vlans = Vlans::from_slice(&[4095, 0, 7]);
        r.tcp = None;
        r.ports = None;
        r.proto = 200;
        r.allowed = true;
        r.icmp = Some(IcmpRecord {
            icmp_type: 3,
            icmp_code: 1,
            response: None,
        });
        records.push(r);
        for r in &records {
            for opts in [
                EveOptions::default(),
                EveOptions {
                    ipv6_compress: true,
                },
            ] {
                let fast = render(r, opts);
                let slow = serde_json::to_string(&EveFlow::new(r, opts)).unwrap() + "\n";
                assert_eq!(fast, slow);
            }
        }
    }

    /// Service names a record may carry, inspectors' and plugins': short ones, one
    /// that needs escaping and one longer than the stack line.
    fn service_names() -> Vec<&'static str> {
        static LONG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let long = LONG.get_or_init(|| "x".repeat(FLOW_LINE + 1));
        vec!["http", "tls", "dns", "failed", "we\"ird\\", long.as_str()]
    }

    fn any_record() -> impl proptest::strategy::Strategy<Value = FlowRecord> {
        use proptest::prelude::*;
        let names = service_names();
        let name = proptest::option::of(proptest::sample::select(names));
        let ip = prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
            Just("::ffff:1.2.3.4".parse::<IpAddr>().unwrap()),
        ];
        (
            (
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
            ),
            (
                ip.clone(),
                ip,
                proptest::option::of(any::<(u16, u16)>()),
                any::<u8>(),
            ),
            proptest::collection::vec(0u16..4096, 0..=3),
            proptest::option::of((
                any::<u8>(),
                any::<u8>(),
                proptest::option::of(any::<(u8, u8)>()),
            )),
            proptest::option::of((any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>())),
            (name.clone(), name.clone(), name.clone(), name),
            (
                any::<bool>(),
                proptest::option::of((any::<u32>(), any::<u16>(), any::<u32>(), any::<u32>())),
            ),
        )
            .prop_map(
                |(n, (src, dst, ports, proto), vlans, icmp, tcp, app, (allowed, ct))| {
                    let mut r = record();
                    r.flow_id = n.0;
                    r.pkts_toserver = n.1;
                    r.pkts_toclient = n.2;
                    r.bytes_toserver = n.3;
                    r.bytes_toclient = n.4;
                    r.timestamp = Timestamp::from_nanos(n.0 >> 2);
                    r.start = Timestamp::from_nanos(n.1 >> 3);
                    r.end = Timestamp::from_nanos((n.1 >> 3).saturating_add(n.2 >> 20));
                    r.ip_version = if src.is_ipv4() {
                        IpVersion::V4
                    } else {
                        IpVersion::V6
                    };
                    r.src_ip = src;
                    r.dest_ip = dst;
                    r.ports = ports;
                    r.proto = proto;
                    r.vlans = Vlans::from_slice(&vlans);
                    r.icmp = icmp.map(|(t, c, response)| IcmpRecord {
                        icmp_type: t,
                        icmp_code: c,
                        response,
                    });
                    r.tcp = tcp.map(|(f, ts, tc, closed)| TcpRecord {
                        flags: f,
                        flags_ts: ts,
                        flags_tc: tc,
                        state: closed.then_some(TcpState::Closed),
                    });
                    r.app = crate::inspect::AppProto {
                        app_proto: app.0,
                        ts: app.1,
                        tc: app.2,
                        orig: app.3,
                    };
                    r.allowed = allowed;
                    r.conntrack =
                        ct.map(|(mark, zone, id, status)| crate::record::ConntrackRecord {
                            state: "established",
                            mark,
                            zone,
                            id,
                            status,
                        });
                    r
                },
            )
    }

    proptest::proptest! {
        /// The stack-line writer, the general writer and serde_json write every record
        /// alike, and a record the line has no room for (a long or odd service name)
        /// still comes out whole.
        #[test]
        fn the_line_writer_writes_what_the_general_writer_writes(r in any_record(), compress in proptest::prelude::any::<bool>()) {
            let opts = EveOptions { ipv6_compress: compress };
            let mut general = Vec::new();
            write_flow_general(&mut general, &r, opts);
            let mut scratch = [0u8; FLOW_LINE];
            let mut l = Line::new(&mut scratch);
            write_flow_line(&mut l, &r, opts, &mut FlowClocks::new());
            let fits = r.app.app_proto.into_iter().chain([r.app.ts, r.app.tc, r.app.orig].into_iter().flatten())
                .all(|n| n.len() < 100 && !n.contains('"'));
            proptest::prop_assert_eq!(!l.overflowed(), fits);
            if fits {
                proptest::prop_assert_eq!(l.as_bytes(), &general[..]);
            }
            let mut out = Vec::new();
            write_flow(&mut out, &r, opts);
            proptest::prop_assert_eq!(&out, &general);
            let reference = serde_json::to_string(&EveFlow::new(&r, opts)).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), reference);
        }
    }

    #[test]
    fn conntrack_flows_add_a_conntrack_object_and_both_writers_agree() {
        let mut r = record();
        r.tcp = None;
        r.conntrack = Some(crate::record::ConntrackRecord {
            state: "time_wait",
            mark: 42,
            zone: 7,
            id: 300_000_000,
            status: 14,
        });
        let line = render(&r, EveOptions::default());
        assert!(line.ends_with(concat!(
            r#""alerted":false},"conntrack":{"state":"time_wait","mark":42,"zone":7,"#,
            r#""id":300000000,"status":14}}"#,
            "\n"
        )));
        let slow = serde_json::to_string(&EveFlow::new(&r, EveOptions::default())).unwrap() + "\n";
        assert_eq!(line, slow);
    }

    #[test]
    fn write_errors_are_kept_and_later_records_counted() {
        #[derive(Debug)]
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = EveWriter::new(Broken, EveOptions::default());
        w.flow(&record());
        w.flow(&record());
        assert_eq!((w.written(), w.dropped()), (0, 2));
        assert!(w.finish().unwrap_err().to_string().contains("disk full"));
    }

    #[test]
    fn app_proto_fields_render_in_suricatas_order_and_both_writers_agree() {
        use crate::inspect::AppProto;
        let mut r = record();
        r.app = AppProto {
            app_proto: Some("tls"),
            ts: Some("tls"),
            tc: None,
            orig: Some("smtp"),
        };
        let line = render(&r, EveOptions::default());
        let at = |k: &str| {
            line.find(k)
                .unwrap_or_else(|| panic!("{k} missing in {line}"))
        };
        assert!(at(r#""proto":"TCP","app_proto":"tls","app_proto_orig":"smtp","flow":"#) > 0);
        assert!(!line.contains("app_proto_ts"), "same as app_proto: omitted");
        r.app.tc = Some("smtp");
        let line = render(&r, EveOptions::default());
        assert!(line.contains(r#""app_proto":"tls","app_proto_tc":"smtp","app_proto_orig":"smtp""#));
        let fast: serde_json::Value = serde_json::from_str(&line).unwrap();
        let slow = serde_json::to_value(EveFlow::new(&r, EveOptions::default())).unwrap();
        assert_eq!(fast, slow);
        // A flow without detection has no app_proto at all.
        let line = render(&record(), EveOptions::default());
        assert!(!line.contains("app_proto"));
    }

    #[test]
    fn events_are_written_alike_through_the_stack_line_and_field_by_field() {
        use crate::inspect::{AppEvent, EventRecord};
        #[derive(Debug)]
        struct Ev(&'static str, bool);
        impl AppEvent for Ev {
            fn event_type(&self) -> &'static str {
                self.0
            }
            fn to_json(&self) -> serde_json::Value {
                serde_json::json!({ "rrname": "a\"b", "n": 1 })
            }
            fn siblings(&self) -> Vec<(&'static str, serde_json::Value)> {
                if self.1 {
                    vec![("http", serde_json::json!({ "url": "/q" }))]
                } else {
                    Vec::new()
                }
            }
            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
        }
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        for (ty, siblings) in [("dns", false), ("dns", true), ("we\"ird", false)] {
            let ev = Ev(ty, siblings);
            for (src, dest, proto) in [(v4, v4, 17), (v6, v6, 6), (v4, v4, 253)] {
                for compress in [false, true] {
                    let e = EventRecord {
                        timestamp: Timestamp::from_secs_micros(1_456_786_925, 500_000),
                        flow_id: u64::MAX - 3,
                        src: (src, 65535),
                        dest: (dest, 0),
                        proto,
                        app_proto: Some("dns"),
                        event: &ev,
                    };
                    let opts = EveOptions {
                        ipv6_compress: compress,
                    };
                    let (mut fast, mut general) = (Vec::new(), Vec::new());
                    write_event(
                        &mut fast,
                        &e,
                        opts,
                        &mut [0; FLOW_LINE],
                        &mut EveClock::new(),
                    );
                    write_event_general(&mut general, &e, opts);
                    assert_eq!(
                        String::from_utf8(fast).unwrap(),
                        String::from_utf8(general).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn inspector_events_render_with_their_flow_tuple_and_escaped_fields() {
        use crate::inspect::{AppEvent, EventRecord};
        #[derive(Debug)]
        struct Http(&'static str);
        impl AppEvent for Http {
            fn event_type(&self) -> &'static str {
                "http"
            }
            fn to_json(&self) -> serde_json::Value {
                serde_json::json!({ "hostname": self.0, "status": 200 })
            }
            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
        }
        let ev = Http("a\"b.example");
        let mut w = EveWriter::new(Vec::new(), EveOptions::default());
        w.event(&EventRecord {
            timestamp: Timestamp::from_secs_micros(1_456_786_925, 500_000),
            flow_id: 77,
            src: ("10.0.0.1".parse().unwrap(), 40000),
            dest: ("10.0.0.2".parse().unwrap(), 80),
            proto: 6,
            app_proto: Some("http"),
            event: &ev,
        });
        assert_eq!(w.events_written(), 1);
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(text.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["event_type"], "http");
        assert_eq!(v["flow_id"], 77);
        assert_eq!(v["timestamp"], "2016-02-29T23:02:05.500000+0000");
        assert_eq!(v["src_port"], 40000);
        assert_eq!(v["dest_ip"], "10.0.0.2");
        assert_eq!(v["proto"], "TCP");
        assert_eq!(v["http"]["hostname"], "a\"b.example");
        assert_eq!(v["http"]["status"], 200);
    }
}
