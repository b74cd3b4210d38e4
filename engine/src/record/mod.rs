//! Records: what a flow leaves behind when it ends, and where records go.
//!
//! Contract: every flow produces exactly one [`FlowRecord`] when it ends (timeout,
//! TCP reuse, pruning, or shutdown at the end of input). The engine hands the ended
//! flow to its [`Sink`] as an [`EndedFlow`] ([`Sink::flow_ended`]), whose record
//! ([`EndedFlow::record`], the same as [`FlowRecord::from_flow`] with the services
//! named) goes to [`Sink::flow`] unless the sink reads the flow itself. A record is
//! plain owned data, so an embedding program can keep it without JSON;
//! [`eve::EveWriter`] renders it as a Suricata EVE `flow` event, and writes an ended
//! flow straight from the flow with the same bytes (no record is built).

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
        let app = flow
            .ext
            .app
            .as_ref()
            .map(|a| a.app_proto())
            .unwrap_or_default();
        EndedFlow::new(flow, reason, now, app).record()
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

/// A flow that just ended, as the engine hands it to a [`Sink`]: the flow, why and
/// when it ended, and the services its inspection named. Nothing is copied until it
/// is asked for: [`EndedFlow::record`] builds the owned [`FlowRecord`], and the EVE
/// writer reads the flow directly.
#[derive(Clone, Copy)]
pub struct EndedFlow<'a> {
    flow: &'a Flow<FlowExt>,
    reason: EndReason,
    end: Timestamp,
    app: AppProto,
}

impl<'a> EndedFlow<'a> {
    /// `flow`, ending for `reason` at packet time `end`, its inspection having named
    /// `app` (all `None` when detection never ran).
    pub fn new(flow: &'a Flow<FlowExt>, reason: EndReason, end: Timestamp, app: AppProto) -> Self {
        EndedFlow {
            flow,
            reason,
            end,
            app,
        }
    }

    /// The record of the flow (with the services named).
    pub fn record(&self) -> FlowRecord {
        let f = self.flow;
        let key = f.key();
        FlowRecord {
            timestamp: self.timestamp(),
            flow_id: f.flow_id(),
            vlans: f.vlans(),
            src_ip: self.src_ip(),
            dest_ip: self.dest_ip(),
            ports: self.ports(),
            ip_version: key.version(),
            proto: key.proto(),
            icmp: self.icmp(),
            pkts_toserver: f.packets(Direction::ToServer),
            pkts_toclient: f.packets(Direction::ToClient),
            bytes_toserver: f.bytes(Direction::ToServer),
            bytes_toclient: f.bytes(Direction::ToClient),
            start: f.start(),
            end: f.last_seen(),
            state: f.state(),
            reason: self.reason,
            allowed: self.allowed(),
            tcp: self.tcp(),
            app: self.app,
            conntrack: None,
        }
    }

    /// The record's `timestamp`: the end, or the last packet's time if later.
    #[inline]
    pub(crate) fn timestamp(&self) -> Timestamp {
        self.end.max(self.flow.last_seen())
    }

    /// The client's endpoint.
    #[inline]
    fn client(&self) -> usize {
        usize::from(!self.flow.client_is_lo())
    }

    /// The client's address.
    #[inline]
    pub(crate) fn src_ip(&self) -> IpAddr {
        self.flow.key().addr(self.client())
    }

    /// The server's address.
    #[inline]
    pub(crate) fn dest_ip(&self) -> IpAddr {
        self.flow.key().addr(self.client() ^ 1)
    }

    /// Client and server ports, for protocols with ports.
    #[inline]
    pub(crate) fn ports(&self) -> Option<(u16, u16)> {
        let key = self.flow.key();
        let c = self.client();
        key.has_ports().then(|| (key.port(c), key.port(c ^ 1)))
    }

    /// ICMP details, for ICMP and ICMPv6 flows.
    #[inline]
    pub(crate) fn icmp(&self) -> Option<IcmpRecord> {
        let (flow, key) = (self.flow, self.flow.key());
        key.is_icmp().then(|| {
            let (t, c) = flow.icmp_request();
            let v6 = key.version() == IpVersion::V6;
            IcmpRecord {
                icmp_type: t,
                icmp_code: c,
                response: flow
                    .icmp_response()
                    .map(|_| (icmp_counterpart(v6, t).unwrap_or(0), 0)),
            }
        })
    }

    /// TCP details, for TCP flows.
    #[inline]
    pub(crate) fn tcp(&self) -> Option<TcpRecord> {
        (self.flow.key().proto() == proto::TCP).then(|| {
            let s = &self.flow.ext.tcp;
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
        })
    }

    /// True when the flow was on the allowlist (its verdict is allow).
    #[inline]
    pub(crate) fn allowed(&self) -> bool {
        self.flow.verdict() == crate::flow::Verdict::Allow
    }

    /// The flow.
    pub fn flow(&self) -> &'a Flow<FlowExt> {
        self.flow
    }

    /// Why it ended.
    pub fn reason(&self) -> EndReason {
        self.reason
    }

    /// The packet time at which it ended.
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The services its inspection named.
    pub fn app(&self) -> AppProto {
        self.app
    }
}

impl std::fmt::Debug for EndedFlow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndedFlow")
            .field("flow_id", &self.flow.flow_id())
            .field("reason", &self.reason)
            .field("end", &self.end)
            .field("app", &self.app)
            .finish()
    }
}

/// Where finished flows go, and the events inspectors emit on them.
pub trait Sink {
    /// Takes one record.
    fn flow(&mut self, record: &FlowRecord);

    /// Takes a flow that ended (the engine calls this, once per flow). By default its
    /// record goes to [`Sink::flow`]; a sink that can do without the record (one that
    /// only counts, or writes straight from the flow) overrides it, and must then treat
    /// the flow exactly as [`Sink::flow`] would treat [`EndedFlow::record`].
    fn flow_ended(&mut self, ended: &EndedFlow<'_>) {
        self.flow(&ended.record());
    }

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

    fn flow_ended(&mut self, _: &EndedFlow<'_>) {}
}
