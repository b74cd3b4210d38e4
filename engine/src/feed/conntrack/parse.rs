//! The ctnetlink wire format: netlink messages carrying conntrack entries, parsed from
//! byte slices without copying, allocating or panicking.
//!
//! Contract: [`Messages`] walks a datagram (one `recv` from a netlink socket) message by
//! message; [`parse_message`] turns one message into a [`Message`]: a conntrack
//! [`Entry`] with its [`EventKind`], the end of a dump, an acknowledgement or error, or
//! something this feed does not use. Every length is checked against the bytes that
//! are there (smoltcp-style checked views): truncated or malformed input gives a
//! [`ParseError`] naming what was wrong, never a panic or an out-of-bounds read.
//! Attributes the feed does not know are skipped; known attributes with the wrong size
//! are errors. Multi-byte values are big-endian (network order) as ctnetlink sends
//! them; the netlink and attribute headers are in host order.
//!
//! Why our own parser: `netlink-packet-netfilter` leaves conntrack ids, counters and
//! timestamps unparsed, and the attributes the feed needs are a few hundred lines.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Netlink message types and flags used by the feed (`linux/netlink.h`).
pub mod nl {
    /// `NLMSG_ERROR`: an error or acknowledgement.
    pub const ERROR: u16 = 2;
    /// `NLMSG_DONE`: the end of a dump.
    pub const DONE: u16 = 3;
    /// `NLMSG_OVERRUN`.
    pub const OVERRUN: u16 = 4;
    /// `NLM_F_REQUEST`.
    pub const F_REQUEST: u16 = 0x1;
    /// `NLM_F_MULTI`: part of a multi-part answer (a dump).
    pub const F_MULTI: u16 = 0x2;
    /// `NLM_F_ACK`.
    pub const F_ACK: u16 = 0x4;
    /// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
    pub const F_DUMP: u16 = 0x300;
    /// `NLM_F_EXCL`.
    pub const F_EXCL: u16 = 0x200;
    /// `NLM_F_CREATE`: on a conntrack NEW message, marks the entry's creation.
    pub const F_CREATE: u16 = 0x400;
    /// Size of `struct nlmsghdr`.
    pub const HDR_LEN: usize = 16;
}

/// ctnetlink message types and attribute numbers (`linux/netfilter/nfnetlink_conntrack.h`).
pub mod cta {
    /// `NFNL_SUBSYS_CTNETLINK`: the high byte of a conntrack message type.
    pub const SUBSYS: u16 = 1;
    /// `IPCTNL_MSG_CT_NEW`: created or updated entry (events, dump answers).
    pub const MSG_NEW: u16 = 0;
    /// `IPCTNL_MSG_CT_GET`: get one entry, or dump the table.
    pub const MSG_GET: u16 = 1;
    /// `IPCTNL_MSG_CT_DELETE`: destroyed entry (events), or delete request.
    pub const MSG_DELETE: u16 = 2;
    /// `IPCTNL_MSG_CT_GET_CTRZERO`: get (or dump) and zero the counters.
    pub const MSG_GET_CTRZERO: u16 = 3;

    /// `CTA_TUPLE_ORIG`.
    pub const TUPLE_ORIG: u16 = 1;
    /// `CTA_TUPLE_REPLY`.
    pub const TUPLE_REPLY: u16 = 2;
    /// `CTA_STATUS`.
    pub const STATUS: u16 = 3;
    /// `CTA_PROTOINFO`.
    pub const PROTOINFO: u16 = 4;
    /// `CTA_TIMEOUT`.
    pub const TIMEOUT: u16 = 7;
    /// `CTA_MARK`.
    pub const MARK: u16 = 8;
    /// `CTA_COUNTERS_ORIG`.
    pub const COUNTERS_ORIG: u16 = 9;
    /// `CTA_COUNTERS_REPLY`.
    pub const COUNTERS_REPLY: u16 = 10;
    /// `CTA_USE`.
    pub const USE: u16 = 11;
    /// `CTA_ID`.
    pub const ID: u16 = 12;
    /// `CTA_ZONE`.
    pub const ZONE: u16 = 18;
    /// `CTA_TIMESTAMP`.
    pub const TIMESTAMP: u16 = 20;
    /// `CTA_TIMESTAMP_EVENT`: when the event happened (kernels from 6.x).
    pub const TIMESTAMP_EVENT: u16 = 27;

    /// `CTA_TUPLE_IP`.
    pub const TUPLE_IP: u16 = 1;
    /// `CTA_TUPLE_PROTO`.
    pub const TUPLE_PROTO: u16 = 2;
    /// `CTA_TUPLE_ZONE`.
    pub const TUPLE_ZONE: u16 = 3;

    /// `CTA_IP_V4_SRC`.
    pub const IP_V4_SRC: u16 = 1;
    /// `CTA_IP_V4_DST`.
    pub const IP_V4_DST: u16 = 2;
    /// `CTA_IP_V6_SRC`.
    pub const IP_V6_SRC: u16 = 3;
    /// `CTA_IP_V6_DST`.
    pub const IP_V6_DST: u16 = 4;

    /// `CTA_PROTO_NUM`.
    pub const PROTO_NUM: u16 = 1;
    /// `CTA_PROTO_SRC_PORT`.
    pub const PROTO_SRC_PORT: u16 = 2;
    /// `CTA_PROTO_DST_PORT`.
    pub const PROTO_DST_PORT: u16 = 3;
    /// `CTA_PROTO_ICMP_ID`.
    pub const PROTO_ICMP_ID: u16 = 4;
    /// `CTA_PROTO_ICMP_TYPE`.
    pub const PROTO_ICMP_TYPE: u16 = 5;
    /// `CTA_PROTO_ICMP_CODE`.
    pub const PROTO_ICMP_CODE: u16 = 6;
    /// `CTA_PROTO_ICMPV6_ID`.
    pub const PROTO_ICMPV6_ID: u16 = 7;
    /// `CTA_PROTO_ICMPV6_TYPE`.
    pub const PROTO_ICMPV6_TYPE: u16 = 8;
    /// `CTA_PROTO_ICMPV6_CODE`.
    pub const PROTO_ICMPV6_CODE: u16 = 9;

    /// `CTA_PROTOINFO_TCP`.
    pub const PROTOINFO_TCP: u16 = 1;
    /// `CTA_PROTOINFO_TCP_STATE`.
    pub const TCP_STATE: u16 = 1;
    /// `CTA_PROTOINFO_TCP_WSCALE_ORIGINAL`.
    pub const TCP_WSCALE_ORIGINAL: u16 = 2;
    /// `CTA_PROTOINFO_TCP_WSCALE_REPLY`.
    pub const TCP_WSCALE_REPLY: u16 = 3;
    /// `CTA_PROTOINFO_TCP_FLAGS_ORIGINAL`.
    pub const TCP_FLAGS_ORIGINAL: u16 = 4;
    /// `CTA_PROTOINFO_TCP_FLAGS_REPLY`.
    pub const TCP_FLAGS_REPLY: u16 = 5;

    /// `CTA_COUNTERS_PACKETS` (64 bits).
    pub const COUNTERS_PACKETS: u16 = 1;
    /// `CTA_COUNTERS_BYTES` (64 bits).
    pub const COUNTERS_BYTES: u16 = 2;
    /// `CTA_COUNTERS32_PACKETS` (old kernels).
    pub const COUNTERS32_PACKETS: u16 = 3;
    /// `CTA_COUNTERS32_BYTES` (old kernels).
    pub const COUNTERS32_BYTES: u16 = 4;

    /// `CTA_TIMESTAMP_START`.
    pub const TIMESTAMP_START: u16 = 1;
    /// `CTA_TIMESTAMP_STOP`.
    pub const TIMESTAMP_STOP: u16 = 2;
}

/// Conntrack status bits (`enum ip_conntrack_status`).
pub mod status {
    /// `IPS_EXPECTED`: the entry was expected by a helper.
    pub const EXPECTED: u32 = 1 << 0;
    /// `IPS_SEEN_REPLY`: packets went both ways.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// `IPS_ASSURED`: the entry will not be early-dropped.
    pub const ASSURED: u32 = 1 << 2;
    /// `IPS_CONFIRMED`: the entry is in the table.
    pub const CONFIRMED: u32 = 1 << 3;
    /// `IPS_DYING`: the entry is being destroyed.
    pub const DYING: u32 = 1 << 9;
}

/// TCP states of conntrack (`enum tcp_conntrack`).
pub mod tcp_state {
    /// `TCP_CONNTRACK_NONE`.
    pub const NONE: u8 = 0;
    /// `TCP_CONNTRACK_SYN_SENT`.
    pub const SYN_SENT: u8 = 1;
    /// `TCP_CONNTRACK_SYN_RECV`.
    pub const SYN_RECV: u8 = 2;
    /// `TCP_CONNTRACK_ESTABLISHED`.
    pub const ESTABLISHED: u8 = 3;
    /// `TCP_CONNTRACK_FIN_WAIT`.
    pub const FIN_WAIT: u8 = 4;
    /// `TCP_CONNTRACK_CLOSE_WAIT`.
    pub const CLOSE_WAIT: u8 = 5;
    /// `TCP_CONNTRACK_LAST_ACK`.
    pub const LAST_ACK: u8 = 6;
    /// `TCP_CONNTRACK_TIME_WAIT`.
    pub const TIME_WAIT: u8 = 7;
    /// `TCP_CONNTRACK_CLOSE`.
    pub const CLOSE: u8 = 8;
    /// `TCP_CONNTRACK_SYN_SENT2` (simultaneous open).
    pub const SYN_SENT2: u8 = 9;

    /// The state's name as `conntrack -L` prints it, lower case.
    pub fn name(state: u8) -> &'static str {
        match state {
            NONE => "none",
            SYN_SENT => "syn_sent",
            SYN_RECV => "syn_recv",
            ESTABLISHED => "established",
            FIN_WAIT => "fin_wait",
            CLOSE_WAIT => "close_wait",
            LAST_ACK => "last_ack",
            TIME_WAIT => "time_wait",
            CLOSE => "close",
            SYN_SENT2 => "syn_sent2",
            _ => "unknown",
        }
    }

    /// Position of the state in a connection's life, for the roll-forward rule: a later
    /// event never moves a flow to a lower rank. `SYN_SENT2` (simultaneous open) ranks
    /// with `SYN_SENT`; `CLOSE_WAIT` with `FIN_WAIT` (either side may close first).
    pub fn rank(state: u8) -> u8 {
        match state {
            NONE => 0,
            SYN_SENT | SYN_SENT2 => 1,
            SYN_RECV => 2,
            ESTABLISHED => 3,
            FIN_WAIT | CLOSE_WAIT => 4,
            LAST_ACK => 5,
            TIME_WAIT => 6,
            CLOSE => 7,
            _ => 0,
        }
    }
}

/// Why bytes are not a valid ctnetlink message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than a header needs.
    #[error("truncated {what}: {have} bytes, need {need}")]
    Truncated {
        /// The header or value.
        what: &'static str,
        /// Bytes present.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A length field that points outside the bytes or below its header's size.
    #[error("bad length {len} in {what} ({have} bytes present)")]
    BadLength {
        /// The header.
        what: &'static str,
        /// The length field.
        len: usize,
        /// Bytes present.
        have: usize,
    },
    /// A known attribute with a value of the wrong size.
    #[error("attribute {what} has {len} bytes, expected {expected}")]
    BadAttribute {
        /// The attribute.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The size it must have.
        expected: usize,
    },
    /// An address family other than IPv4 and IPv6, or addresses of mixed families.
    #[error("bad address family in a tuple")]
    BadFamily,
    /// A tuple without addresses or without a protocol number.
    #[error("incomplete tuple: {0}")]
    IncompleteTuple(&'static str),
}

/// One netlink message header and its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// The bytes after the header.
    pub payload: &'a [u8],
}

/// The netlink messages of one datagram, in order. Stops after the first error.
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Messages<'a> {
    /// The messages in `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Messages {
            rest: datagram,
            failed: false,
        }
    }
}

fn u16_ne(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_ne(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        let fail = |s: &mut Self, e| {
            s.failed = true;
            Some(Err(e))
        };
        let (Some(len), Some(kind), Some(flags), Some(seq), Some(pid)) = (
            u32_ne(b, 0),
            u16_ne(b, 4),
            u16_ne(b, 6),
            u32_ne(b, 8),
            u32_ne(b, 12),
        ) else {
            return fail(
                self,
                ParseError::Truncated {
                    what: "netlink header",
                    have: b.len(),
                    need: nl::HDR_LEN,
                },
            );
        };
        let len = len as usize;
        if len < nl::HDR_LEN || len > b.len() {
            return fail(
                self,
                ParseError::BadLength {
                    what: "netlink header",
                    len,
                    have: b.len(),
                },
            );
        }
        let payload = &b[nl::HDR_LEN..len];
        self.rest = b.get(align4(len)..).unwrap_or(&[]);
        Some(Ok(NlMsg {
            kind,
            flags,
            seq,
            pid,
            payload,
        }))
    }
}

/// One netlink attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The attribute type, without the nested and byte-order flags.
    pub kind: u16,
    /// The value.
    pub value: &'a [u8],
}

/// The attributes in a byte slice, in order. Stops after the first error.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Attrs<'a> {
    /// The attributes in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Attrs {
            rest: bytes,
            failed: false,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        let (Some(len), Some(kind)) = (u16_ne(b, 0), u16_ne(b, 2)) else {
            self.failed = true;
            return Some(Err(ParseError::Truncated {
                what: "attribute header",
                have: b.len(),
                need: 4,
            }));
        };
        let len = usize::from(len);
        if len < 4 || len > b.len() {
            self.failed = true;
            return Some(Err(ParseError::BadLength {
                what: "attribute header",
                len,
                have: b.len(),
            }));
        }
        self.rest = b.get(align4(len)..).unwrap_or(&[]);
        Some(Ok(Attr {
            // NLA_F_NESTED and NLA_F_NET_BYTEORDER are flags, not part of the type.
            kind: kind & 0x3fff,
            value: &b[4..len],
        }))
    }
}

fn fixed<const N: usize>(a: &Attr<'_>, what: &'static str) -> Result<[u8; N], ParseError> {
    a.value.try_into().map_err(|_| ParseError::BadAttribute {
        what,
        len: a.value.len(),
        expected: N,
    })
}

fn be_u8(a: &Attr<'_>, what: &'static str) -> Result<u8, ParseError> {
    Ok(fixed::<1>(a, what)?[0])
}

fn be_u16(a: &Attr<'_>, what: &'static str) -> Result<u16, ParseError> {
    Ok(u16::from_be_bytes(fixed(a, what)?))
}

fn be_u32(a: &Attr<'_>, what: &'static str) -> Result<u32, ParseError> {
    Ok(u32::from_be_bytes(fixed(a, what)?))
}

fn be_u64(a: &Attr<'_>, what: &'static str) -> Result<u64, ParseError> {
    Ok(u64::from_be_bytes(fixed(a, what)?))
}

/// ICMP or ICMPv6 fields of a tuple.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IcmpTuple {
    /// Echo identifier.
    pub id: u16,
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
}

/// One direction's tuple of a conntrack entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol number.
    pub proto: u8,
    /// Source port (0 when the protocol has none).
    pub src_port: u16,
    /// Destination port (0 when the protocol has none).
    pub dst_port: u16,
    /// ICMP id, type and code, for ICMP and ICMPv6.
    pub icmp: Option<IcmpTuple>,
    /// Directional zone (`CTA_TUPLE_ZONE`), when the entry has one.
    pub zone: Option<u16>,
}

/// Packets and bytes one direction of an entry counted (`nf_conntrack_acct=1`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes (IP header and payload, as the kernel counts).
    pub bytes: u64,
}

/// TCP details of an entry (`CTA_PROTOINFO_TCP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpInfo {
    /// Conntrack's TCP state ([`tcp_state`]).
    pub state: Option<u8>,
    /// Window scale of the original direction.
    pub wscale_orig: Option<u8>,
    /// Window scale of the reply direction.
    pub wscale_reply: Option<u8>,
    /// Conntrack's TCP flags of the original direction (flags, mask).
    pub flags_orig: Option<(u8, u8)>,
    /// Conntrack's TCP flags of the reply direction (flags, mask).
    pub flags_reply: Option<(u8, u8)>,
}

/// What a conntrack message says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A new entry (an event with `NLM_F_CREATE`).
    New,
    /// A changed entry (an event without `NLM_F_CREATE`).
    Update,
    /// A destroyed entry.
    Destroy,
    /// An entry in the answer to a dump or get request.
    Dump,
}

impl EventKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Update => "update",
            EventKind::Destroy => "destroy",
            EventKind::Dump => "dump",
        }
    }
}

/// A conntrack entry as one message carries it: every field the feed parses, `None`
/// when the message did not carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Address family of the message (`AF_INET` 2, `AF_INET6` 10).
    pub family: u8,
    /// The original direction's tuple (the side that opened the connection).
    pub orig: Option<Tuple>,
    /// The reply direction's tuple.
    pub reply: Option<Tuple>,
    /// Status bits ([`status`]).
    pub status: Option<u32>,
    /// TCP details.
    pub tcp: Option<TcpInfo>,
    /// Seconds until the entry expires.
    pub timeout: Option<u32>,
    /// Connection mark.
    pub mark: Option<u32>,
    /// Zone.
    pub zone: Option<u16>,
    /// Kernel id (`CTA_ID`); reused across entries, so never a key on its own.
    pub id: Option<u32>,
    /// Reference count.
    pub use_count: Option<u32>,
    /// Counters of the original direction.
    pub counters_orig: Option<Counters>,
    /// Counters of the reply direction.
    pub counters_reply: Option<Counters>,
    /// Start time, nanoseconds since the Unix epoch (`nf_conntrack_timestamp=1`).
    pub start_ns: Option<u64>,
    /// Stop time, nanoseconds since the Unix epoch (destroyed entries).
    pub stop_ns: Option<u64>,
    /// Time of the event, nanoseconds since the Unix epoch (recent kernels).
    pub event_ns: Option<u64>,
}

impl Entry {
    fn empty(family: u8) -> Entry {
        Entry {
            family,
            orig: None,
            reply: None,
            status: None,
            tcp: None,
            timeout: None,
            mark: None,
            zone: None,
            id: None,
            use_count: None,
            counters_orig: None,
            counters_reply: None,
            start_ns: None,
            stop_ns: None,
            event_ns: None,
        }
    }
}

/// One parsed netlink message.
// Entries are most messages, and are parsed onto the stack: boxing the big variant
// would allocate per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A conntrack entry: an event or a dump answer.
    Conntrack(EventKind, Entry),
    /// The end of a dump.
    Done,
    /// An error (negative errno) or, with 0, an acknowledgement.
    Error(i32),
    /// The kernel dropped messages (`NLMSG_OVERRUN`).
    Overrun,
    /// Any other message type.
    Other(u16),
}

/// Parses one netlink message.
pub fn parse_message(m: &NlMsg<'_>) -> Result<Message, ParseError> {
    match m.kind {
        nl::DONE => return Ok(Message::Done),
        nl::OVERRUN => return Ok(Message::Overrun),
        nl::ERROR => {
            let errno = m
                .payload
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_ne_bytes)
                .ok_or(ParseError::Truncated {
                    what: "netlink error",
                    have: m.payload.len(),
                    need: 4,
                })?;
            return Ok(Message::Error(errno));
        }
        _ => {}
    }
    if m.kind >> 8 != cta::SUBSYS {
        return Ok(Message::Other(m.kind));
    }
    let kind = match m.kind & 0xff {
        cta::MSG_DELETE => EventKind::Destroy,
        cta::MSG_NEW if m.flags & nl::F_MULTI != 0 => EventKind::Dump,
        cta::MSG_NEW if m.flags & nl::F_CREATE != 0 => EventKind::New,
        cta::MSG_NEW => EventKind::Update,
        _ => return Ok(Message::Other(m.kind)),
    };
    Ok(Message::Conntrack(kind, parse_entry(m.payload)?))
}

/// Parses the payload of a conntrack message: the `nfgenmsg` header and the entry's
/// attributes.
pub fn parse_entry(payload: &[u8]) -> Result<Entry, ParseError> {
    let Some(&family) = payload.first().filter(|_| payload.len() >= 4) else {
        return Err(ParseError::Truncated {
            what: "nfgenmsg",
            have: payload.len(),
            need: 4,
        });
    };
    let mut e = Entry::empty(family);
    for a in Attrs::new(&payload[4..]) {
        let a = a?;
        match a.kind {
            cta::TUPLE_ORIG => e.orig = Some(parse_tuple(a.value)?),
            cta::TUPLE_REPLY => e.reply = Some(parse_tuple(a.value)?),
            cta::STATUS => e.status = Some(be_u32(&a, "CTA_STATUS")?),
            cta::PROTOINFO => e.tcp = parse_protoinfo(a.value)?,
            cta::TIMEOUT => e.timeout = Some(be_u32(&a, "CTA_TIMEOUT")?),
            cta::MARK => e.mark = Some(be_u32(&a, "CTA_MARK")?),
            cta::COUNTERS_ORIG => e.counters_orig = Some(parse_counters(a.value)?),
            cta::COUNTERS_REPLY => e.counters_reply = Some(parse_counters(a.value)?),
            cta::USE => e.use_count = Some(be_u32(&a, "CTA_USE")?),
            cta::ID => e.id = Some(be_u32(&a, "CTA_ID")?),
            cta::ZONE => e.zone = Some(be_u16(&a, "CTA_ZONE")?),
            cta::TIMESTAMP => {
                for t in Attrs::new(a.value) {
                    let t = t?;
                    match t.kind {
                        cta::TIMESTAMP_START => {
                            e.start_ns = Some(be_u64(&t, "CTA_TIMESTAMP_START")?)
                        }
                        cta::TIMESTAMP_STOP => e.stop_ns = Some(be_u64(&t, "CTA_TIMESTAMP_STOP")?),
                        _ => {}
                    }
                }
            }
            cta::TIMESTAMP_EVENT => e.event_ns = Some(be_u64(&a, "CTA_TIMESTAMP_EVENT")?),
            _ => {}
        }
    }
    Ok(e)
}

fn parse_counters(b: &[u8]) -> Result<Counters, ParseError> {
    let mut c = Counters::default();
    for a in Attrs::new(b) {
        let a = a?;
        match a.kind {
            cta::COUNTERS_PACKETS => c.packets = be_u64(&a, "CTA_COUNTERS_PACKETS")?,
            cta::COUNTERS_BYTES => c.bytes = be_u64(&a, "CTA_COUNTERS_BYTES")?,
            cta::COUNTERS32_PACKETS => c.packets = u64::from(be_u32(&a, "CTA_COUNTERS32_PACKETS")?),
            cta::COUNTERS32_BYTES => c.bytes = u64::from(be_u32(&a, "CTA_COUNTERS32_BYTES")?),
            _ => {}
        }
    }
    Ok(c)
}

fn parse_protoinfo(b: &[u8]) -> Result<Option<TcpInfo>, ParseError> {
    let mut out = None;
    for a in Attrs::new(b) {
        let a = a?;
        if a.kind != cta::PROTOINFO_TCP {
            continue;
        }
        let mut t = TcpInfo::default();
        for f in Attrs::new(a.value) {
            let f = f?;
            match f.kind {
                cta::TCP_STATE => t.state = Some(be_u8(&f, "CTA_PROTOINFO_TCP_STATE")?),
                cta::TCP_WSCALE_ORIGINAL => {
                    t.wscale_orig = Some(be_u8(&f, "CTA_PROTOINFO_TCP_WSCALE_ORIGINAL")?)
                }
                cta::TCP_WSCALE_REPLY => {
                    t.wscale_reply = Some(be_u8(&f, "CTA_PROTOINFO_TCP_WSCALE_REPLY")?)
                }
                cta::TCP_FLAGS_ORIGINAL => {
                    let [flags, mask] = fixed::<2>(&f, "CTA_PROTOINFO_TCP_FLAGS_ORIGINAL")?;
                    t.flags_orig = Some((flags, mask));
                }
                cta::TCP_FLAGS_REPLY => {
                    let [flags, mask] = fixed::<2>(&f, "CTA_PROTOINFO_TCP_FLAGS_REPLY")?;
                    t.flags_reply = Some((flags, mask));
                }
                _ => {}
            }
        }
        out = Some(t);
    }
    Ok(out)
}

/// Parses a `CTA_TUPLE_*` nest.
pub fn parse_tuple(b: &[u8]) -> Result<Tuple, ParseError> {
    let (mut src, mut dst) = (None, None);
    let mut proto = None;
    let (mut sp, mut dp) = (0, 0);
    let mut icmp: Option<IcmpTuple> = None;
    let mut zone = None;
    for a in Attrs::new(b) {
        let a = a?;
        match a.kind {
            cta::TUPLE_IP => {
                for ip in Attrs::new(a.value) {
                    let ip = ip?;
                    match ip.kind {
                        cta::IP_V4_SRC => {
                            src = Some(IpAddr::V4(Ipv4Addr::from(fixed::<4>(
                                &ip,
                                "CTA_IP_V4_SRC",
                            )?)))
                        }
                        cta::IP_V4_DST => {
                            dst = Some(IpAddr::V4(Ipv4Addr::from(fixed::<4>(
                                &ip,
                                "CTA_IP_V4_DST",
                            )?)))
                        }
                        cta::IP_V6_SRC => {
                            src = Some(IpAddr::V6(Ipv6Addr::from(fixed::<16>(
                                &ip,
                                "CTA_IP_V6_SRC",
                            )?)))
                        }
                        cta::IP_V6_DST => {
                            dst = Some(IpAddr::V6(Ipv6Addr::from(fixed::<16>(
                                &ip,
                                "CTA_IP_V6_DST",
                            )?)))
                        }
                        _ => {}
                    }
                }
            }
            cta::TUPLE_PROTO => {
                for p in Attrs::new(a.value) {
                    let p = p?;
                    match p.kind {
                        cta::PROTO_NUM => proto = Some(be_u8(&p, "CTA_PROTO_NUM")?),
                        cta::PROTO_SRC_PORT => sp = be_u16(&p, "CTA_PROTO_SRC_PORT")?,
                        cta::PROTO_DST_PORT => dp = be_u16(&p, "CTA_PROTO_DST_PORT")?,
                        cta::PROTO_ICMP_ID | cta::PROTO_ICMPV6_ID => {
                            icmp.get_or_insert_with(Default::default).id =
                                be_u16(&p, "CTA_PROTO_ICMP_ID")?
                        }
                        cta::PROTO_ICMP_TYPE | cta::PROTO_ICMPV6_TYPE => {
                            icmp.get_or_insert_with(Default::default).icmp_type =
                                be_u8(&p, "CTA_PROTO_ICMP_TYPE")?
                        }
                        cta::PROTO_ICMP_CODE | cta::PROTO_ICMPV6_CODE => {
                            icmp.get_or_insert_with(Default::default).code =
                                be_u8(&p, "CTA_PROTO_ICMP_CODE")?
                        }
                        _ => {}
                    }
                }
            }
            cta::TUPLE_ZONE => zone = Some(be_u16(&a, "CTA_TUPLE_ZONE")?),
            _ => {}
        }
    }
    let (Some(src), Some(dst)) = (src, dst) else {
        return Err(ParseError::IncompleteTuple("no addresses"));
    };
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(ParseError::BadFamily);
    }
    let proto = proto.ok_or(ParseError::IncompleteTuple("no protocol number"))?;
    Ok(Tuple {
        src,
        dst,
        proto,
        src_port: sp,
        dst_port: dp,
        icmp,
        zone,
    })
}

/// Appends one attribute (header, value, padding) to `out`.
pub fn put_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = (4 + value.len()) as u16;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align4(out.len()), 0);
}

/// Appends a nested attribute whose content `fill` writes.
pub fn put_nested(out: &mut Vec<u8>, kind: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(kind | 0x8000).to_ne_bytes());
    fill(out);
    let len = (out.len() - at) as u16;
    out[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    out.resize(align4(out.len()), 0);
}

/// Appends a `CTA_TUPLE_*` nest for `t` (the inverse of [`parse_tuple`]).
pub fn put_tuple(out: &mut Vec<u8>, kind: u16, t: &Tuple) {
    put_nested(out, kind, |o| {
        put_nested(o, cta::TUPLE_IP, |o| match (t.src, t.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                put_attr(o, cta::IP_V4_SRC, &s.octets());
                put_attr(o, cta::IP_V4_DST, &d.octets());
            }
            (s, d) => {
                let v6 = |a: IpAddr| match a {
                    IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                    IpAddr::V6(a) => a.octets(),
                };
                put_attr(o, cta::IP_V6_SRC, &v6(s));
                put_attr(o, cta::IP_V6_DST, &v6(d));
            }
        });
        put_nested(o, cta::TUPLE_PROTO, |o| {
            put_attr(o, cta::PROTO_NUM, &[t.proto]);
            if let Some(i) = t.icmp {
                let v6 = t.src.is_ipv6();
                let (id, ty, code) = if v6 {
                    (
                        cta::PROTO_ICMPV6_ID,
                        cta::PROTO_ICMPV6_TYPE,
                        cta::PROTO_ICMPV6_CODE,
                    )
                } else {
                    (
                        cta::PROTO_ICMP_ID,
                        cta::PROTO_ICMP_TYPE,
                        cta::PROTO_ICMP_CODE,
                    )
                };
                put_attr(o, id, &i.id.to_be_bytes());
                put_attr(o, ty, &[i.icmp_type]);
                put_attr(o, code, &[i.code]);
            } else if has_ports(t.proto) {
                put_attr(o, cta::PROTO_SRC_PORT, &t.src_port.to_be_bytes());
                put_attr(o, cta::PROTO_DST_PORT, &t.dst_port.to_be_bytes());
            }
        });
        if let Some(z) = t.zone {
            put_attr(o, cta::TUPLE_ZONE, &z.to_be_bytes());
        }
    });
}

/// True for the protocols whose conntrack tuples carry ports (TCP, UDP, DCCP, SCTP,
/// UDP-Lite).
pub fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 33 | 132 | 136)
}

#[cfg(test)]
mod tests;
