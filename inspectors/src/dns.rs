//! DNS service inspector (`"dns"`): one EVE `dns` event (Suricata 8, version 3) per
//! message, over UDP and TCP.
//!
//! Contract:
//! - UDP: each chunk is one datagram, one message. TCP: messages carry a 2-byte length
//!   prefix and may be split across chunks (or several may share one); a message
//!   split across chunks is copied into a per-direction buffer of at most 65,537
//!   bytes (the prefix's own limit), a whole one is parsed in place.
//! - Every message that parses is its own transaction, as in Suricata 8: one from the
//!   client gives a `"type": "request"` event, one from the server a
//!   `"type": "response"` event, with `tx_id` counting these on the flow from 0. Field
//!   names and renderings follow Suricata's `rust/src/dns/log.rs` (v3 `log_json`,
//!   detailed answers): `version`, `type`, `tx_id`, `id`, `flags` (hex),
//!   `qr`/`aa`/`tc`/`rd`/`ra`/`z` when set, `opcode`, `rcode`, `queries`, `answers`,
//!   `authorities`, `additionals` (OPT records without options left out). Like
//!   Suricata, a message without a question is not logged.
//! - Which messages parse is Suricata's `dns_parse_request`/`dns_parse_response`
//!   (see [`parse_message`]): header counts that fit the length, questions and
//!   answers that parse, authority and additional sections left out when they do
//!   not; and a client message with QR set is not a request.
//! - The wire parser is hand-written, as Suricata's acceptance and renderings are
//!   the contract: names read at most [`MAX_NAME_STEPS`] labels and pointers, names
//!   longer than 1,025 bytes are truncated and flagged (`rrname_truncated`), and at
//!   most [`MAX_RECORDS`] records per section are kept. So no input loops or grows
//!   without bound.
//! - A message that does not parse is skipped over UDP (the next datagram is parsed,
//!   as Suricata does); over TCP it ends the inspection of the flow (`cx.done()`), as
//!   does a gap. A zero length prefix over TCP is skipped. Events already emitted
//!   stay.

use crate::text::eve_string;
use flowengine::flow::Direction;
use flowengine::inspect::{
    AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind, Transport,
};
use flowengine::record::json;
use serde_json::Value;
use std::any::Any;

/// Most labels and compression pointers read for one name, as Suricata counts them.
pub const MAX_NAME_STEPS: usize = 255;
/// Most records kept per section (the rest of the section is still validated).
pub const MAX_RECORDS: usize = 256;
/// Names longer than this (in presentation bytes) are truncated, as Suricata does.
const NAME_CAP: usize = 1025;
/// Most character strings kept from one TXT record (Suricata's bound).
const MAX_TXT_STRINGS: usize = 32767;
/// A DNS header's length.
const HEADER_LEN: usize = 12;

/// Why a DNS message could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The header's record counts cannot describe a message of this length, or a
    /// query has no question.
    #[error("DNS header counts do not fit the message")]
    BadHeader,
    /// The message ends inside a field.
    #[error("DNS message truncated")]
    Truncated,
    /// A name uses a reserved label type (0x40 or 0x80).
    #[error("DNS name has a reserved label type")]
    BadLabel,
    /// A name follows too many compression pointers or has too many labels.
    #[error("DNS name too long or looping")]
    NameLoop,
    /// A pointer points past the message.
    #[error("DNS compression pointer out of bounds")]
    BadPointer,
    /// A record's data does not fit its type.
    #[error("DNS record data malformed")]
    BadRdata,
}

/// The DNS service inspector.
#[derive(Debug, Default)]
pub struct DnsInspector;

impl DnsInspector {
    /// A new inspector.
    pub fn new() -> Self {
        DnsInspector
    }
}

impl Inspector for DnsInspector {
    fn name(&self) -> &str {
        "dns"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["dns"]
    }

    fn start(&self, flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        let tcp = match flow.transport {
            Transport::Tcp => true,
            Transport::Udp => false,
            _ => return None,
        };
        Some(Box::new(DnsFlow {
            tcp,
            framers: [TcpFramer::default(), TcpFramer::default()],
            next_tx: 0,
            finished: false,
        }))
    }
}

/// A name as logged: its text and whether it was truncated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsName {
    /// Labels joined with dots (empty for the root), as Suricata renders them.
    pub value: String,
    /// Longer than Suricata's limit and cut.
    pub truncated: bool,
}

/// A question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsQuery {
    /// The name asked about.
    pub rrname: DnsName,
    /// Its type.
    pub rrtype: u16,
}

/// The data of a record, for the types Suricata renders.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RData {
    /// A or AAAA: the address bytes (4 or 16).
    Addr(Vec<u8>),
    /// CNAME, NS, PTR, MX (the exchange): a name.
    Name(DnsName),
    /// TXT: its character strings, each logged as its own entry.
    Txt(Vec<Vec<u8>>),
    /// NULL: raw bytes.
    Null(Vec<u8>),
    /// SOA.
    Soa {
        /// Primary server.
        mname: DnsName,
        /// Responsible mailbox.
        rname: DnsName,
        /// Serial, refresh, retry, expire, minimum.
        values: [u32; 5],
    },
    /// SRV.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target.
        target: DnsName,
    },
    /// SSHFP.
    Sshfp {
        /// Algorithm.
        algo: u8,
        /// Fingerprint type.
        fp_type: u8,
        /// Fingerprint.
        fingerprint: Vec<u8>,
    },
    /// OPT (EDNS): its options as (code, data).
    Opt(Vec<(u16, Vec<u8>)>),
    /// Any other type: its raw data (the `dns` event does not render it; the `mdns`
    /// event does, as Suricata's).
    Unknown(Vec<u8>),
}

/// A resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRecord {
    /// Owner name.
    pub rrname: DnsName,
    /// Type.
    pub rrtype: u16,
    /// Time to live.
    pub ttl: u32,
    /// Data.
    pub data: RData,
}

/// One DNS message, as an EVE `dns` v3 event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsEvent {
    /// The message's transaction number on its flow (from 0).
    pub tx_id: u64,
    /// The wire transaction id.
    pub id: u16,
    /// The header flags word.
    pub flags: u16,
    /// Logged as a response: sent by the server (or, without a direction, QR set).
    pub response: bool,
    /// Questions.
    pub queries: Vec<DnsQuery>,
    /// Answer section.
    pub answers: Vec<DnsRecord>,
    /// Authority section.
    pub authorities: Vec<DnsRecord>,
    /// Additional section.
    pub additionals: Vec<DnsRecord>,
}

impl DnsEvent {
    /// True when logged as a response (`"type": "response"`).
    pub fn is_response(&self) -> bool {
        self.response
    }
}

impl AppEvent for DnsEvent {
    fn event_type(&self) -> &'static str {
        "dns"
    }

    fn to_json(&self) -> Value {
        // The text rendering is the one rendering; read it back.
        let mut out = Vec::new();
        write_event(self, &mut out);
        serde_json::from_slice(&out).unwrap_or_default()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        write_event(self, out);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Suricata's EVE `dns` v3 object: header fields, then the sections; absent fields
/// and empty sections are left out (an empty EDNS OPT record among the additionals
/// too). Written straight to text: the one rendering, which `to_json` reads back.
fn write_event(e: &DnsEvent, out: &mut Vec<u8>) {
    let f = e.flags;
    let mut m = json::Object::open(out);
    // Names, digits and hex need no escape (`clean`); literal keys and texts are
    // copied as constants.
    m.u64("version", 3);
    if e.is_response() {
        m.clean("type", b"response");
    } else {
        m.clean("type", b"request");
    }
    m.u64("tx_id", e.tx_id);
    m.u64("id", u64::from(e.id));
    let mut flags = [0u8; 4];
    m.clean("flags", hex_u16(f, &mut flags));
    macro_rules! flag {
        ($bit:literal, $key:literal) => {
            if f & $bit != 0 {
                m.bool($key, true);
            }
        };
    }
    flag!(0x8000, "qr");
    flag!(0x0400, "aa");
    flag!(0x0200, "tc");
    flag!(0x0100, "rd");
    flag!(0x0080, "ra");
    flag!(0x0040, "z");
    m.u64("opcode", u64::from((f >> 11) & 0xf));
    let mut num = itoa::Buffer::new();
    m.clean(
        "rcode",
        rcode_name(f)
            .unwrap_or_else(|| num.format(f & 0xf))
            .as_bytes(),
    );
    if !e.queries.is_empty() {
        let mut a = m.array("queries");
        for q in &e.queries {
            let mut o = a.object();
            o.str("rrname", &q.rrname.value);
            let mut num = itoa::Buffer::new();
            o.clean(
                "rrtype",
                rrtype_name(q.rrtype)
                    .unwrap_or_else(|| num.format(q.rrtype))
                    .as_bytes(),
            );
            if q.rrname.truncated {
                o.bool("rrname_truncated", true);
            }
            o.close();
        }
        a.close();
    }
    if !e.answers.is_empty() {
        write_records(&mut m, "answers", &e.answers, false);
    }
    if !e.authorities.is_empty() {
        write_records(&mut m, "authorities", &e.authorities, false);
    }
    if e.additionals.iter().any(rendered_additional) {
        write_records(&mut m, "additionals", &e.additionals, true);
    }
    m.close();
}

/// An additional record that is written (an empty EDNS OPT record is not).
fn rendered_additional(r: &DnsRecord) -> bool {
    !matches!(&r.data, RData::Opt(o) if o.is_empty())
}

/// A section's records as Suricata's detailed format renders them: a TXT record
/// gives one entry per character string; in the additional section (`additional`)
/// an empty OPT record gives none.
fn write_records(m: &mut json::Object<'_>, key: &str, records: &[DnsRecord], additional: bool) {
    let mut a = m.array(key);
    for r in records
        .iter()
        .filter(|r| !additional || rendered_additional(r))
    {
        match &r.data {
            RData::Txt(strings) => {
                for t in strings {
                    write_record(&mut a, r, Some(t));
                }
            }
            _ => write_record(&mut a, r, None),
        }
    }
    a.close();
}

/// One rendered record; `txt` is the character string of a TXT record's entry.
fn write_record(a: &mut json::Array<'_>, r: &DnsRecord, txt: Option<&[u8]>) {
    let mut m = a.object();
    m.str("rrname", &r.rrname.value);
    if r.rrname.truncated {
        m.bool("rrname_truncated", true);
    }
    let mut num = itoa::Buffer::new();
    m.clean(
        "rrtype",
        rrtype_name(r.rrtype)
            .unwrap_or_else(|| num.format(r.rrtype))
            .as_bytes(),
    );
    m.u64("ttl", u64::from(r.ttl));
    match &r.data {
        RData::Addr(a) => {
            let mut buf = [0u8; 39];
            m.clean("rdata", addr_text(a, &mut buf));
        }
        RData::Name(n) => {
            m.str("rdata", &n.value);
            if n.truncated {
                m.bool("rdata_truncated", true);
            }
        }
        RData::Txt(_) => {
            if let Some(t) = txt {
                m.str("rdata", &eve_string(t));
            }
        }
        RData::Null(b) => m.str("rdata", &eve_string(b)),
        RData::Soa { .. } | RData::Srv { .. } | RData::Sshfp { .. } | RData::Opt(_) => {
            write_structured(&mut m, &r.data);
        }
        RData::Unknown(_) => {}
    }
    m.close();
}

/// The record data Suricata renders as an object or array of its own (SOA, SRV, SSHFP,
/// OPT), under the type's lowercase name (`soa`, `srv`, `sshfp`, `opt`), as the `dns`
/// and `mdns` events both write it. Other data writes nothing.
pub(crate) fn write_structured(m: &mut json::Object<'_>, data: &RData) {
    match data {
        RData::Soa {
            mname,
            rname,
            values,
        } => {
            let mut o = m.object("soa");
            o.str("mname", &mname.value);
            if mname.truncated {
                o.bool("mname_truncated", true);
            }
            o.str("rname", &rname.value);
            if rname.truncated {
                o.bool("rname_truncated", true);
            }
            for (k, v) in ["serial", "refresh", "retry", "expire", "minimum"]
                .iter()
                .zip(values)
            {
                o.u64(k, u64::from(*v));
            }
            o.close();
        }
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            let mut o = m.object("srv");
            o.u64("priority", u64::from(*priority));
            o.u64("weight", u64::from(*weight));
            o.u64("port", u64::from(*port));
            o.str("name", &target.value);
            o.close();
        }
        RData::Sshfp {
            algo,
            fp_type,
            fingerprint,
        } => {
            let mut fp = String::with_capacity(fingerprint.len() * 3);
            for (i, b) in fingerprint.iter().enumerate() {
                if i > 0 {
                    fp.push(':');
                }
                push_hex_byte(&mut fp, *b);
            }
            let mut o = m.object("sshfp");
            o.str("fingerprint", &fp);
            o.u64("algo", u64::from(*algo));
            o.u64("type", u64::from(*fp_type));
            o.close();
        }
        RData::Opt(opts) => {
            let mut a = m.array("opt");
            for (code, data) in opts {
                let mut o = a.object();
                o.u64("code", u64::from(*code));
                o.str("data", &hex(data));
                o.close();
            }
            a.close();
        }
        _ => {}
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex_byte(s: &mut String, b: u8) {
    s.push(char::from(HEX[usize::from(b >> 4)]));
    s.push(char::from(HEX[usize::from(b & 0xf)]));
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        push_hex_byte(&mut s, *x);
    }
    s
}

/// `v` in lowercase hex without leading zeros (`{:x}`), in `buf` (ASCII text).
fn hex_u16(v: u16, buf: &mut [u8; 4]) -> &[u8] {
    let digits = (4 - v.leading_zeros() as usize / 4).max(1);
    for (i, b) in buf[..digits].iter_mut().enumerate() {
        *b = HEX[usize::from((v >> (4 * (digits - 1 - i))) & 0xf)];
    }
    &buf[..digits]
}

/// An address as Suricata renders it (dotted quad, or eight fully written hex
/// groups), in `buf` (no allocation; ASCII text).
pub(crate) fn addr_text<'b>(a: &[u8], buf: &'b mut [u8; 39]) -> &'b [u8] {
    let mut n = 0;
    let mut push = |b: u8| {
        buf[n] = b;
        n += 1;
    };
    match a {
        [_, _, _, _] => {
            for (i, o) in a.iter().enumerate() {
                if i > 0 {
                    push(b'.');
                }
                if *o >= 100 {
                    push(b'0' + o / 100);
                }
                if *o >= 10 {
                    push(b'0' + (o / 10) % 10);
                }
                push(b'0' + o % 10);
            }
        }
        _ if a.len() == 16 => {
            for (i, pair) in a.chunks(2).enumerate() {
                if i > 0 {
                    push(b':');
                }
                for b in pair {
                    push(HEX[usize::from(b >> 4)]);
                    push(HEX[usize::from(b & 0xf)]);
                }
            }
        }
        _ => {}
    }
    &buf[..n]
}

/// The record type's name, as Suricata writes it (unknown types as their number).
pub fn rrtype_string(t: u16) -> String {
    rrtype_name(t).map_or_else(|| t.to_string(), str::to_owned)
}

/// The record type's name, when Suricata has one.
pub(crate) fn rrtype_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAPPTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        _ => return None,
    })
}

/// The response code's name, as Suricata writes it.
pub fn rcode_string(flags: u16) -> String {
    rcode_name(flags).map_or_else(|| (flags & 0xf).to_string(), str::to_owned)
}

/// The response code's name (of the low four bits of `flags`), when it has one.
fn rcode_name(flags: u16) -> Option<&'static str> {
    Some(match flags & 0xf {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return None,
    })
}

/// A cursor over a whole message (names point back into it). Fixed-size fields and
/// the labels of a name before its first compression pointer are read up to `end`:
/// the message's end, or a record's data's. Without `KEEP` it only checks: it
/// accepts and refuses exactly what it would with `KEEP`, but keeps no text, record
/// or byte, so it allocates nothing (a constant, so each reader is compiled for its
/// use).
struct Reader<'a, const KEEP: bool> {
    msg: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a, const KEEP: bool> Reader<'a, KEEP> {
    fn new(msg: &'a [u8]) -> Self {
        Reader {
            msg,
            pos: 0,
            end: msg.len(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let end = self.pos.checked_add(n).ok_or(DnsError::Truncated)?;
        if end > self.end {
            return Err(DnsError::Truncated);
        }
        let s = &self.msg[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DnsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a (possibly compressed) name at the cursor, as Suricata's
    /// `dns_parse_name` does: a name that runs into the end of its bytes ends there;
    /// a pointer may point anywhere up to the message's end; a pointer to itself ends
    /// the name, and more than [`MAX_NAME_STEPS`] labels and pointers end it cut and
    /// flagged, once a pointer was followed (both are errors before); a name longer than
    /// 1,025 bytes is cut and flagged, and read on to its end if no pointer was
    /// followed yet.
    fn name(&mut self) -> Result<DnsName, DnsError> {
        let mut out: Vec<u8> = if KEEP {
            Vec::with_capacity(32)
        } else {
            Vec::new()
        };
        // The name's length in presentation bytes (what `out` holds when kept).
        let mut shown = 0usize;
        let mut truncated = false;
        let mut pos = self.pos;
        // What may be read: up to `end` before the first pointer, the whole message
        // after it.
        let mut view = &self.msg[..self.end];
        let mut resume: Option<usize> = None;
        let mut steps = 0;
        while let Some(&len) = view.get(pos) {
            match len & 0xc0 {
                0x00 if len == 0 => {
                    pos += 1;
                    break;
                }
                0x00 => {
                    let start = pos + 1;
                    let stop = start + usize::from(len);
                    let label = view.get(start..stop).ok_or(DnsError::Truncated)?;
                    if !truncated {
                        let dot = usize::from(shown != 0);
                        if KEEP {
                            if dot == 1 {
                                out.push(b'.');
                            }
                            out.extend_from_slice(label);
                        }
                        shown += dot + label.len();
                        if shown > NAME_CAP {
                            out.truncate(NAME_CAP);
                            truncated = true;
                            if resume.is_some() {
                                break;
                            }
                        }
                    }
                    pos = stop;
                }
                0xc0 => {
                    let lo = *view.get(pos + 1).ok_or(DnsError::Truncated)?;
                    let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                    if target > self.msg.len() {
                        return Err(DnsError::BadPointer);
                    }
                    if target == pos && view.len() == self.msg.len() {
                        // A pointer to itself: the name ends (unflagged) if it is
                        // not the first pointer.
                        if resume.is_some() {
                            break;
                        }
                        return Err(DnsError::NameLoop);
                    }
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    pos = target;
                    view = self.msg;
                }
                _ => return Err(DnsError::BadLabel),
            }
            steps += 1;
            if steps > MAX_NAME_STEPS {
                if resume.is_some() {
                    truncated = true;
                    break;
                }
                return Err(DnsError::NameLoop);
            }
        }
        self.pos = resume.unwrap_or(pos);
        // Valid UTF-8 (the common case) becomes the text as it is, without a copy.
        let value = String::from_utf8(out).unwrap_or_else(|e| eve_string(e.as_bytes()));
        Ok(DnsName { value, truncated })
    }

    fn record(&mut self) -> Result<DnsRecord, DnsError> {
        let rrname = self.name()?;
        let rrtype = self.u16()?;
        let _class = self.u16()?;
        let ttl = self.u32()?;
        let rdlen = usize::from(self.u16()?);
        let start = self.pos;
        let rdata = self.take(rdlen)?;
        let data = if rdata.is_empty() {
            // Only an OPT record may be empty (Suricata's parsers for every other
            // type must consume a byte).
            if rrtype != 41 {
                return Err(DnsError::BadRdata);
            }
            RData::Opt(Vec::new())
        } else {
            let mut sub = Reader::<KEEP> {
                msg: self.msg,
                pos: start,
                end: self.pos,
            };
            record_data(rrtype, rdata, &mut sub)?
        };
        Ok(DnsRecord {
            rrname,
            rrtype,
            ttl,
            data,
        })
    }

    fn section(&mut self, count: u16) -> Result<Vec<DnsRecord>, DnsError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut out = if KEEP {
            Vec::with_capacity(usize::from(count).min(16))
        } else {
            Vec::new()
        };
        for _ in 0..count {
            let r = self.record()?;
            if KEEP && out.len() < MAX_RECORDS {
                out.push(r);
            }
        }
        Ok(out)
    }
}

/// A record's (non-empty) data `rdata` of type `rrtype`, read with `sub` (a reader
/// over the data within the message). Bytes after what the type needs are ignored,
/// as in Suricata.
fn record_data<const KEEP: bool>(
    rrtype: u16,
    rdata: &[u8],
    sub: &mut Reader<'_, KEEP>,
) -> Result<RData, DnsError> {
    let bytes = |b: &[u8]| if KEEP { b.to_vec() } else { Vec::new() };
    Ok(match rrtype {
        // Suricata takes an address of any length (and logs one that is neither 4
        // nor 16 bytes as "").
        1 | 28 => RData::Addr(bytes(rdata)),
        2 | 5 | 12 => RData::Name(sub.name()?),
        15 => {
            sub.u16()?;
            RData::Name(sub.name()?)
        }
        16 => {
            // Character strings up to the first that overruns the data; the first
            // must fit.
            let mut strings = Vec::new();
            let mut read = 0;
            let mut i = 0;
            while i < rdata.len() && read < MAX_TXT_STRINGS {
                let stop = i + 1 + usize::from(rdata[i]);
                let Some(s) = rdata.get(i + 1..stop) else {
                    if read == 0 {
                        return Err(DnsError::BadRdata);
                    }
                    break;
                };
                if KEEP {
                    strings.push(s.to_vec());
                }
                read += 1;
                i = stop;
            }
            RData::Txt(strings)
        }
        10 => RData::Null(bytes(rdata)),
        6 => {
            let mname = sub.name()?;
            let rname = sub.name()?;
            let mut values = [0u32; 5];
            for v in &mut values {
                *v = sub.u32()?;
            }
            RData::Soa {
                mname,
                rname,
                values,
            }
        }
        33 => RData::Srv {
            priority: sub.u16()?,
            weight: sub.u16()?,
            port: sub.u16()?,
            target: sub.name()?,
        },
        44 if rdata.len() >= 2 => RData::Sshfp {
            algo: rdata[0],
            fp_type: rdata[1],
            fingerprint: bytes(&rdata[2..]),
        },
        44 => return Err(DnsError::BadRdata),
        41 => {
            let mut opts = Vec::new();
            let mut r = Reader::<KEEP>::new(rdata);
            while r.pos < rdata.len() {
                let code = r.u16()?;
                let n = usize::from(r.u16()?);
                let data = r.take(n)?;
                if KEEP {
                    opts.push((code, data.to_vec()));
                }
            }
            RData::Opt(opts)
        }
        _ => RData::Unknown(bytes(rdata)),
    })
}

/// Whether a header's counts can describe a message of `len` bytes, as Suricata's
/// `probe_header_validity` judges: every record takes at least 2 bytes, a message
/// without records is the header alone, and a query asks a question.
fn header_fits(flags: u16, counts: [u16; 4], len: usize) -> bool {
    let records: usize = counts.iter().map(|&c| usize::from(c)).sum();
    if 2 * records > len || (records == 0 && len > HEADER_LEN) {
        return false;
    }
    flags & 0x8000 != 0 || counts[0] != 0
}

/// Parses one DNS message (without a TCP length prefix) into its event, numbered
/// `tx_id`, with Suricata 8's rules (`dns_parse_request`/`dns_parse_response`):
/// the header's counts must fit ([`DnsError::BadHeader`] otherwise), the questions
/// and answers must parse; an authority section that does not parse is left out
/// with the additional section, an additional section that does not parse is left
/// out; bytes after the last section are ignored. The event's `type` follows the QR
/// bit; an inspector that knows the direction sets it from that.
pub fn parse_message(msg: &[u8], tx_id: u64) -> Result<DnsEvent, DnsError> {
    parse(Reader::<true>::new(msg), tx_id)
}

/// Whether `msg` is the start of a DNS message of `len` bytes, as Suricata's DNS
/// probe judges (`probe` in `rust/src/dns/dns.rs`): with the whole message, it must
/// parse as [`parse_message`] parses; with less, the header's counts must fit `len`.
/// `Some(true)` for a response (QR set), `Some(false)` for a query, `None` when it is
/// not DNS. Opcode, flags and classes are not looked at. Allocates nothing.
pub fn probe(msg: &[u8], len: usize) -> Option<bool> {
    let whole = msg.get(..len);
    if let Some(m) = whole {
        return parse(Reader::<false>::new(m), 0).ok().map(|e| e.response);
    }
    let mut r = Reader::<false>::new(msg);
    r.u16().ok()?;
    let flags = r.u16().ok()?;
    let mut counts = [0u16; 4];
    for c in &mut counts {
        *c = r.u16().ok()?;
    }
    header_fits(flags, counts, len).then_some(flags & 0x8000 != 0)
}

/// [`parse_message`], keeping what a `KEEP` reader keeps.
fn parse<const KEEP: bool>(mut r: Reader<'_, KEEP>, tx_id: u64) -> Result<DnsEvent, DnsError> {
    let msg = r.msg;
    let id = r.u16()?;
    let flags = r.u16()?;
    let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    if !header_fits(flags, counts, msg.len()) {
        return Err(DnsError::BadHeader);
    }
    let [qd, an, ns, ar] = counts;
    let mut queries = if KEEP {
        Vec::with_capacity(usize::from(qd).min(4))
    } else {
        Vec::new()
    };
    for _ in 0..qd {
        let rrname = r.name()?;
        let rrtype = r.u16()?;
        let _class = r.u16()?;
        if KEEP && queries.len() < MAX_RECORDS {
            queries.push(DnsQuery { rrname, rrtype });
        }
    }
    // Empty sections (every count of a plain query) skip the call.
    let answers = if an == 0 { Vec::new() } else { r.section(an)? };
    let (authorities, additionals) = match (ns, ar) {
        (0, 0) => (Vec::new(), Vec::new()),
        _ => match r.section(ns) {
            Ok(authorities) => (authorities, r.section(ar).unwrap_or_default()),
            Err(_) => (Vec::new(), Vec::new()),
        },
    };
    Ok(DnsEvent {
        tx_id,
        id,
        flags,
        response: flags & 0x8000 != 0,
        queries,
        answers,
        authorities,
        additionals,
    })
}

/// Reassembles length-prefixed messages of one TCP direction.
#[derive(Debug, Default)]
struct TcpFramer {
    buf: Vec<u8>,
}

/// The per-flow state of the DNS inspector.
#[derive(Debug)]
struct DnsFlow {
    tcp: bool,
    framers: [TcpFramer; 2],
    next_tx: u64,
    finished: bool,
}

impl FlowData for DnsFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            return;
        }
        match chunk {
            Chunk::Gap(_) => self.stop(cx),
            Chunk::Data(d) if !self.tcp => self.message(cx, dir, d),
            Chunk::Data(d) => self.tcp_data(cx, dir, d),
        }
    }
}

impl DnsFlow {
    fn stop(&mut self, cx: &mut Cx<'_>) {
        self.finished = true;
        self.framers = Default::default();
        cx.done();
    }

    /// One message from `dir`. One that does not parse, or a client's with QR set
    /// (not a request), is skipped over UDP and ends inspection over TCP; an empty
    /// one (a zero length prefix) is skipped.
    fn message(&mut self, cx: &mut Cx<'_>, dir: Direction, msg: &[u8]) {
        if msg.is_empty() {
            return;
        }
        match parse_message(msg, self.next_tx) {
            Ok(ev) if dir == Direction::ToServer && ev.response => self.refuse(cx),
            Ok(mut ev) => {
                ev.response = dir == Direction::ToClient;
                self.next_tx += 1;
                if !ev.queries.is_empty() {
                    cx.emit(Box::new(ev));
                }
            }
            Err(_) => self.refuse(cx),
        }
    }

    /// A message that is not a transaction: the flow's inspection ends over TCP,
    /// where the framing can no longer be trusted; a datagram is only skipped.
    fn refuse(&mut self, cx: &mut Cx<'_>) {
        if self.tcp {
            self.stop(cx);
        }
    }

    fn tcp_data(&mut self, cx: &mut Cx<'_>, dir: Direction, mut d: &[u8]) {
        let i = dir.index();
        while !d.is_empty() && !self.finished {
            let buf = &mut self.framers[i].buf;
            if buf.is_empty() {
                // In place when a whole message is here.
                if d.len() >= 2 {
                    let n = usize::from(u16::from_be_bytes([d[0], d[1]]));
                    if d.len() >= 2 + n {
                        let (msg, rest) = d[2..].split_at(n);
                        d = rest;
                        self.message(cx, dir, msg);
                        continue;
                    }
                }
                buf.extend_from_slice(d);
                return;
            }
            // Complete the prefix, then the message.
            if buf.len() < 2 {
                let k = (2 - buf.len()).min(d.len());
                buf.extend_from_slice(&d[..k]);
                d = &d[k..];
                if buf.len() < 2 {
                    return;
                }
            }
            let n = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
            let want = 2 + n - buf.len();
            let k = want.min(d.len());
            buf.extend_from_slice(&d[..k]);
            d = &d[k..];
            if buf.len() == 2 + n {
                let whole = std::mem::take(buf);
                self.message(cx, dir, &whole[2..]);
                if !self.finished {
                    let mut whole = whole;
                    whole.clear();
                    self.framers[i].buf = whole;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
