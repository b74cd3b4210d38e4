//! mDNS service inspector (`"mdns"`): one EVE `mdns` event per message, as Suricata 8
//! writes them.
//!
//! Contract:
//! - UDP only (Suricata registers mDNS on UDP, port 5353): each chunk is one datagram,
//!   one message, parsed by the DNS inspector's parser ([`crate::dns::parse_message`]),
//!   so mDNS accepts exactly the messages DNS does. A datagram that does not parse is
//!   skipped and the next one is parsed.
//! - Unlike DNS, direction says nothing: every message is its own transaction, a
//!   `"type": "response"` when its QR bit is set and a `"type": "request"` otherwise,
//!   from whichever side (multicast announcements have no reply). Every message that
//!   parses is logged, one with answers and no question too.
//! - Field names and renderings follow Suricata's `rust/src/mdns/log.rs`: `type`, `id`
//!   (the wire id), `flags` (an array of `aa`, `tc`, `rd`, `ra`, `z`, `ad`, `cd`, only
//!   when one is set), `opcode` and `rcode` as numbers, `queries` (`rrname`, lowercase
//!   `rrtype`), then `answers`, `authorities` and `additionals` (an empty EDNS OPT
//!   record left out), each record as `rrname` and its data under its type's
//!   lowercase name (`"a": "10.0.0.1"`, `"ptr": ...`, `"txt": [...]`, `"srv": {...}`,
//!   the raw data of other types as a string), without a TTL.
//! - Nothing is kept between datagrams, so no input grows state.

use crate::dns::{
    addr_text, parse_message, rrtype_name, write_structured, DnsEvent, DnsRecord, RData,
};
use crate::text::eve_string;
use flowengine::flow::Direction;
use flowengine::inspect::{
    AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind, Transport,
};
use flowengine::record::json;
use serde_json::Value;
use std::any::Any;

/// The mDNS service inspector.
#[derive(Debug, Default)]
pub struct MdnsInspector;

impl MdnsInspector {
    /// A new inspector.
    pub fn new() -> Self {
        MdnsInspector
    }
}

impl Inspector for MdnsInspector {
    fn name(&self) -> &str {
        "mdns"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["mdns"]
    }

    fn start(&self, flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        match flow.transport {
            Transport::Udp => Some(Box::new(MdnsFlow)),
            _ => None,
        }
    }
}

/// A flow's mDNS state: none (each datagram stands alone).
#[derive(Debug)]
struct MdnsFlow;

impl FlowData for MdnsFlow {
    fn data(&mut self, cx: &mut Cx<'_>, _dir: Direction, chunk: Chunk<'_>) {
        if let Chunk::Data(d) = chunk {
            if let Ok(message) = parse_message(d, 0) {
                cx.emit(Box::new(MdnsEvent { message }));
            }
        }
    }
}

/// One mDNS message, as an EVE `mdns` event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MdnsEvent {
    /// The message (`response` is its QR bit; `tx_id` is not logged).
    pub message: DnsEvent,
}

impl AppEvent for MdnsEvent {
    fn event_type(&self) -> &'static str {
        "mdns"
    }

    fn to_json(&self) -> Value {
        let mut out = Vec::new();
        self.write_json(&mut out);
        serde_json::from_slice(&out).unwrap_or_default()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        write_event(&self.message, out);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The header flags Suricata's mDNS log names, in its order.
const FLAGS: [(u16, &str); 7] = [
    (0x0400, "aa"),
    (0x0200, "tc"),
    (0x0100, "rd"),
    (0x0080, "ra"),
    (0x0040, "z"),
    (0x0020, "ad"),
    (0x0010, "cd"),
];

fn write_event(e: &DnsEvent, out: &mut Vec<u8>) {
    let f = e.flags;
    let mut m = json::Object::open(out);
    m.clean(
        "type",
        if e.is_response() {
            b"response"
        } else {
            b"request"
        },
    );
    m.u64("id", u64::from(e.id));
    if FLAGS.iter().any(|(bit, _)| f & bit != 0) {
        let mut a = m.array("flags");
        for (bit, name) in FLAGS {
            if f & bit != 0 {
                a.str(name);
            }
        }
        a.close();
    }
    m.u64("opcode", u64::from((f >> 11) & 0xf));
    m.u64("rcode", u64::from(f & 0xf));
    if !e.queries.is_empty() {
        let mut a = m.array("queries");
        for q in &e.queries {
            let mut o = a.object();
            o.str("rrname", &q.rrname.value);
            let mut key = TypeKey::default();
            o.clean("rrtype", key.of(q.rrtype).as_bytes());
            if q.rrname.truncated {
                o.bool("rrname_truncated", true);
            }
            o.close();
        }
        a.close();
    }
    for (key, records) in [("answers", &e.answers), ("authorities", &e.authorities)] {
        if !records.is_empty() {
            write_records(&mut m, key, records.iter());
        }
    }
    let mut additionals = e
        .additionals
        .iter()
        .filter(|r| !matches!(&r.data, RData::Opt(o) if o.is_empty()))
        .peekable();
    if additionals.peek().is_some() {
        write_records(&mut m, "additionals", additionals);
    }
    m.close();
}

fn write_records<'r>(
    m: &mut json::Object<'_>,
    key: &str,
    records: impl Iterator<Item = &'r DnsRecord>,
) {
    let mut a = m.array(key);
    for r in records {
        let mut o = a.object();
        o.str("rrname", &r.rrname.value);
        if r.rrname.truncated {
            o.bool("rrname_truncated", true);
        }
        let mut ty = TypeKey::default();
        let ty = ty.of(r.rrtype);
        match &r.data {
            RData::Addr(addr) => {
                let mut buf = [0u8; 39];
                o.clean(ty, addr_text(addr, &mut buf));
            }
            RData::Name(n) => {
                o.str(ty, &n.value);
                if n.truncated {
                    o.bool("rdata_truncated", true);
                }
            }
            RData::Txt(strings) => {
                let mut t = o.array(ty);
                for s in strings {
                    t.str(&eve_string(s));
                }
                t.close();
            }
            RData::Null(b) | RData::Unknown(b) => o.str(ty, &eve_string(b)),
            other => write_structured(&mut o, other),
        }
        o.close();
    }
    a.close();
}

/// A record type's key as Suricata's mDNS log writes it: its name in lowercase, or
/// its number. Held on the stack.
#[derive(Default)]
struct TypeKey {
    buf: [u8; 16],
}

impl TypeKey {
    fn of(&mut self, rrtype: u16) -> &str {
        let n = match rrtype_name(rrtype) {
            Some(name) => {
                let n = name.len().min(self.buf.len());
                for (d, s) in self.buf.iter_mut().zip(name.bytes()) {
                    *d = s.to_ascii_lowercase();
                }
                n
            }
            None => {
                let mut num = itoa::Buffer::new();
                let s = num.format(rrtype);
                self.buf[..s.len()].copy_from_slice(s.as_bytes());
                s.len()
            }
        };
        // ASCII letters and digits only.
        std::str::from_utf8(&self.buf[..n]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
