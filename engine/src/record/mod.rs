//! Records: what a flow leaves behind when it ends, and where records go.
//!
//! Contract: every flow produces exactly one [`FlowRecord`] when it ends (timeout,
//! TCP reuse, pruning, or shutdown at the end of input), built from the flow by
//! [`FlowRecord::from_flow`] and handed to a [`Sink`]. A record is plain owned data, so
//! an embedding program can keep it without JSON; [`eve::EveWriter`] renders it as a
//! Suricata EVE `flow` event.

pub mod eve;
pub mod json;
mod line;
mod proto_names;

pub use proto_names::proto_name;

use crate::decode::{IpVersion, Vlans};
use crate::flow::{Direction, EndReason, Flow, FlowState};
use crate::inspect::{AppProto, EventRecord, FlowExt};
use crate::key::{icmp_counterpart, proto};
use crate::stream::TcpState;
use crate::time::Timestamp;
use std::net::IpAddr;

/// ICMP details of an ICMP or ICMPv6 flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpRecord {
    /// Type of the client's first packet.
    pub icmp_type: u8,
    /// Code of the client's first packet.
    pub icmp_code: u8,
    /// The answer's type and code (Suricata: the counterpart of `icmp_type`, code 0),
    /// present when the server sent something.
    pub response: Option<(u8, u8)>,
}

/// TCP details of a TCP flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRecord {
    /// Union of all flags seen since the session began.
    pub flags: u8,
    /// Union of the client's flags.
    pub flags_ts: u8,
    /// Union of the server's flags.
    pub flags_tc: u8,
    /// Session state; `None` when no session was ever set up (mid-stream traffic with
    /// `stream.midstream` off).
    pub state: Option<TcpState>,
}

/// What the Linux conntrack table said about a flow (flows from the conntrack feed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConntrackRecord {
    /// Conntrack's state: the TCP state for TCP (`established`, `time_wait`, ...),
    /// otherwise `assured`, `replied` or `unreplied`.
    pub state: &'static str,
    /// Connection mark.
    pub mark: u32,
    /// Zone.
    pub zone: u16,
    /// Kernel id (`CTA_ID`; the kernel reuses ids).
    pub id: u32,
    /// Status bits (`IPS_*`) accumulated over the flow's events.
    pub status: u32,
}

/// One finished flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// Packet time at which the record was made.
    pub timestamp: Timestamp,
    /// The flow's id.
    pub flow_id: u64,
    /// VLAN ids, outer first.
    pub vlans: Vlans,
    /// Client address.
    pub src_ip: IpAddr,
    /// Server address.
    pub dest_ip: IpAddr,
    /// Client and server ports, for TCP, UDP and SCTP.
    pub ports: Option<(u16, u16)>,
    /// IP version.
    pub ip_version: IpVersion,
    /// IP protocol number.
    pub proto: u8,
    /// ICMP details (ICMP and ICMPv6 flows).
    pub icmp: Option<IcmpRecord>,
    /// Packets client to server.
    pub pkts_toserver: u64,
    /// Packets server to client.
    pub pkts_toclient: u64,
    /// Bytes (whole captured frames) client to server.
    pub bytes_toserver: u64,
    /// Bytes server to client.
    pub bytes_toclient: u64,
    /// First packet time.
    pub start: Timestamp,
    /// Last packet time.
    pub end: Timestamp,
    /// Flow state when it ended.
    pub state: FlowState,
    /// Why it ended.
    pub reason: EndReason,
    /// Verdict-derived: true when the flow was on the allowlist.
    pub allowed: bool,
    /// TCP details (TCP flows).
    pub tcp: Option<TcpRecord>,
    /// Service names (`app_proto` and friends); all `None` when detection never ran.
    pub app: AppProto,
    /// Conntrack details, for flows from the conntrack feed (EVE: a `conntrack`
    /// object); `None` for flows from packets.
    pub conntrack: Option<ConntrackRecord>,
}

impl FlowRecord {
    /// The record of `flow`, ending for `reason` at packet time `now`.
    pub fn from_flow(flow: &Flow<FlowExt>, reason: EndReason, now: Timestamp) -> FlowRecord {
        let key = flow.key();
        let (client, server) = if flow.client_is_lo() { (0, 1) } else { (1, 0) };
        let (src_ip, sp) = if client == 0 { key.lo() } else { key.hi() };
        let (dest_ip, dp) = if server == 0 { key.lo() } else { key.hi() };
        let ports = key.has_ports().then_some((sp, dp));
        let icmp = key.is_icmp().then(|| {
            let (t, c) = flow.icmp_request();
            let v6 = key.version() == IpVersion::V6;
            IcmpRecord {
                icmp_type: t,
                icmp_code: c,
                response: flow
                    .icmp_response()
                    .map(|_| (icmp_counterpart(v6, t).unwrap_or(0), 0)),
            }
        });
        let tcp = (key.proto() == proto::TCP).then(|| {
            let s = &flow.ext.tcp;
            if s.is_active() {
                TcpRecord {
                    flags: s.flags(),
                    flags_ts: s.flags_ts(),
                    flags_tc: s.flags_tc(),
                    state: Some(s.state()),
                }
            } else {
                TcpRecord {
                    flags: 0,
                    flags_ts: 0,
                    flags_tc: 0,
                    state: None,
                }
            }
        });
        FlowRecord {
            timestamp: now.max(flow.last_seen()),
            flow_id: flow.flow_id(),
            vlans: flow.vlans(),
            src_ip,
            dest_ip,
            ports,
            ip_version: key.version(),
            proto: key.proto(),
            icmp,
            pkts_toserver: flow.packets(Direction::ToServer),
            pkts_toclient: flow.packets(Direction::ToClient),
            bytes_toserver: flow.bytes(Direction::ToServer),
            bytes_toclient: flow.bytes(Direction::ToClient),
            start: flow.start(),
            end: flow.last_seen(),
            state: flow.state(),
            reason,
            allowed: flow.verdict() == crate::flow::Verdict::Allow,
            tcp,
            app: flow
                .ext
                .app
                .as_ref()
                .map(|a| a.app_proto())
                .unwrap_or_default(),
            conntrack: None,
        }
    }

    /// Whole seconds between start and end, each truncated (EVE `flow.age`).
    pub fn age(&self) -> u64 {
        self.end.secs().saturating_sub(self.start.secs())
    }

    /// Total packets both ways.
    pub fn packets(&self) -> u64 {
        self.pkts_toserver + self.pkts_toclient
    }
}

/// Where finished flows go, and the events inspectors emit on them.
pub trait Sink {
    /// Takes one record.
    fn flow(&mut self, record: &FlowRecord);

    /// Takes one inspector event (ignored unless the sink wants events). A flow's
    /// events all come before its record.
    fn event(&mut self, _event: &EventRecord<'_>) {}

    /// Pushes out what the sink holds back (called when the engine is idle and at the
    /// end of a worker's run; records must not wait for it to be complete: it is a
    /// chance to write, not a promise). Does nothing by default.
    fn flush(&mut self) {}
}

impl<F: FnMut(&FlowRecord)> Sink for F {
    fn flow(&mut self, record: &FlowRecord) {
        self(record)
    }
}

/// A sink that keeps every record (handy in tests and small programs).
#[derive(Clone, Debug, Default)]
pub struct Collect(pub Vec<FlowRecord>);

impl Sink for Collect {
    fn flow(&mut self, record: &FlowRecord) {
        self.0.push(*record);
    }
}

/// A sink that drops records (for measuring the engine without output).
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Sink for Discard {
    fn flow(&mut self, _: &FlowRecord) {}
}
