//! Flow: one tracked conversation, living in a preallocated cache slot.
//!
//! Contract: a [`Flow`] holds its key, its direction (which endpoint is the client),
//! its lifecycle state, per-direction packet and byte counters, first/last packet
//! times, its verdict and a protocol extension `X` owned by later stages (the stream's
//! TCP session). Fields are private; the cache links flows into its lists through the
//! crate-private `Links`. Nothing here allocates: `X` must be plain data.

use crate::decode::Vlans;
use crate::key::{proto, FlowKey};
use crate::time::Timestamp;

/// Direction of a packet relative to its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    #[inline]
    pub fn opposite(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// Counter index: 0 to server, 1 to client.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Lifecycle state of a flow, as EVE's `flow.state` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FlowState {
    /// Only one direction seen (or, for TCP, the handshake not completed).
    #[default]
    New,
    /// Both directions seen (TCP: handshake completed or picked up mid-stream).
    Established,
    /// TCP torn down (FIN exchange or RST); the flow lingers for the closed timeout.
    Closed,
}

impl FlowState {
    /// EVE name.
    pub const fn name(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
        }
    }
}

/// Protocol class of a flow: each has its own LRU list, idle timeout and counters
/// (Snort's `PktType` lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtoClass {
    /// IP protocols other than TCP, UDP and ICMP.
    Ip = 0,
    /// TCP.
    Tcp = 1,
    /// UDP.
    Udp = 2,
    /// ICMP and ICMPv6.
    Icmp = 3,
    /// User-defined sessions (created by inspectors).
    User = 4,
    /// File sessions.
    File = 5,
}

impl ProtoClass {
    /// Every class, in list order.
    pub const ALL: [ProtoClass; 6] = [
        ProtoClass::Ip,
        ProtoClass::Tcp,
        ProtoClass::Udp,
        ProtoClass::Icmp,
        ProtoClass::User,
        ProtoClass::File,
    ];

    /// The class of a flow key.
    #[inline]
    pub fn of_key(key: &FlowKey) -> ProtoClass {
        match key.proto() {
            proto::TCP => ProtoClass::Tcp,
            proto::UDP => ProtoClass::Udp,
            _ if key.is_icmp() => ProtoClass::Icmp,
            _ => ProtoClass::Ip,
        }
    }

    /// Name used in counters (`ip`, `tcp`, `udp`, `icmp`, `user`, `file`).
    pub const fn name(self) -> &'static str {
        match self {
            ProtoClass::Ip => "ip",
            ProtoClass::Tcp => "tcp",
            ProtoClass::Udp => "udp",
            ProtoClass::Icmp => "icmp",
            ProtoClass::User => "user",
            ProtoClass::File => "file",
        }
    }
}

/// A verdict an inspector or the embedding program gives a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// No verdict: inspect as usual.
    #[default]
    None,
    /// Trusted: with the allowlist cache enabled the flow moves to the allowlist LRU,
    /// out of the timeout sweep.
    Allow,
    /// Blocked: never pruned to make room, kept until it times out.
    Block,
}

/// Why a flow was pruned before its natural end (Snort's `PruneReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PruneReason {
    /// The cache was full and the flow had been idle longer than `pruning_timeout`.
    IdleMaxFlows,
    /// The cache was full and the flow was the oldest (excess pruning).
    Excess,
    /// The cache was full and the flow had seen only one direction.
    Uni,
    /// The memory cap was reached.
    Memcap,
}

/// Why a flow ended: EVE's `flow.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Idle for its protocol/state timeout, on packet time.
    Timeout,
    /// Still open when the input ended (or the engine was flushed).
    Shutdown,
    /// A new TCP session started on the same tuple after this one closed.
    TcpReuse,
    /// Pruned to make room; EVE reports `forced`.
    Pruned(PruneReason),
}

impl EndReason {
    /// EVE `flow.reason`.
    pub const fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Shutdown => "shutdown",
            EndReason::TcpReuse => "tcp_reuse",
            EndReason::Pruned(_) => "forced",
        }
    }
}

/// Intrusive list links of a cache slot (indices into the slab).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Links {
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) uni_prev: u32,
    pub(crate) uni_next: u32,
    /// The LRU list this flow is on ([`crate::cache`] list ids), or `FREE`.
    pub(crate) list: u8,
    /// Which uni list it is on, or `NO_UNI`.
    pub(crate) uni: u8,
    /// Packet second (low 32 bits) of the last move to the most recently used end.
    pub(crate) touched: u32,
}

/// A tracked flow. Slots are cache-line aligned, so a flow spans as few lines as its
/// size allows: with the engine's [`crate::inspect::FlowExt`] a slot is 192 bytes,
/// three lines.
///
/// The fields are laid out in this order (`repr(C)`) so that what every packet reads
/// or writes shares lines: the list links, flags and key in the first line, the rest
/// of the key, the last-packet time and the counters in the second, the extension
/// (TCP session) in the third, with the fields read only at the start and the end of
/// a flow after it. The slot keeps no hash of its key: the cache recomputes it when
/// the flow leaves the index, once per flow rather than eight bytes per slot.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Flow<X> {
    pub(crate) links: Links,
    client_is_lo: bool,
    state: FlowState,
    verdict: Verdict,
    class: ProtoClass,
    /// ICMP type/code of the first packet and of the first answer.
    icmp: [u8; 4],
    key: FlowKey,
    last: Timestamp,
    pkts: [u64; 2],
    bytes: [u64; 2],
    /// Protocol state owned by later stages.
    pub ext: X,
    flow_id: u64,
    start: Timestamp,
    /// VLAN tags of the first packet (kept even when VLANs are not part of the key).
    vlans: Vlans,
}

impl<X: Default> Flow<X> {
    /// A fresh flow for `key`, started by a packet at `now` sent by the key's low
    /// (`reversed == false`) or high endpoint, which becomes the client.
    pub(crate) fn new(
        key: FlowKey,
        flow_id: u64,
        reversed: bool,
        now: Timestamp,
        vlans: Vlans,
    ) -> Self {
        Flow {
            links: Links {
                prev: u32::MAX,
                next: u32::MAX,
                uni_prev: u32::MAX,
                uni_next: u32::MAX,
                list: u8::MAX,
                uni: u8::MAX,
                touched: now.secs() as u32,
            },
            key,
            flow_id,
            start: now,
            last: now,
            pkts: [0; 2],
            bytes: [0; 2],
            client_is_lo: !reversed,
            state: FlowState::New,
            verdict: Verdict::None,
            class: ProtoClass::of_key(&key),
            icmp: [0; 4],
            vlans,
            ext: X::default(),
        }
    }
}

impl<X> Flow<X> {
    /// The flow's key.
    pub fn key(&self) -> &FlowKey {
        &self.key
    }

    /// The flow's id (stable for its life, unique in practice; fits in 53 bits so JSON
    /// readers keep it exact).
    pub fn flow_id(&self) -> u64 {
        self.flow_id
    }

    /// Time of the first packet.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// Time of the last packet.
    pub fn last_seen(&self) -> Timestamp {
        self.last
    }

    /// Packets in a direction.
    pub fn packets(&self, dir: Direction) -> u64 {
        self.pkts[dir.index()]
    }

    /// Bytes (whole captured frames) in a direction.
    pub fn bytes(&self, dir: Direction) -> u64 {
        self.bytes[dir.index()]
    }

    /// Lifecycle state.
    pub fn state(&self) -> FlowState {
        self.state
    }

    /// Sets the lifecycle state (the stream stage drives TCP's).
    pub fn set_state(&mut self, s: FlowState) {
        self.state = s;
    }

    /// VLAN tags of the flow's first packet, outer first.
    pub fn vlans(&self) -> Vlans {
        self.vlans
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    pub(crate) fn set_verdict_raw(&mut self, v: Verdict) {
        self.verdict = v;
    }

    /// The protocol class (LRU list) of the flow.
    pub fn class(&self) -> ProtoClass {
        self.class
    }

    /// True when the client is the key's low endpoint.
    pub fn client_is_lo(&self) -> bool {
        self.client_is_lo
    }

    /// Direction of a packet whose key came with `reversed`.
    #[inline]
    pub fn direction(&self, reversed: bool) -> Direction {
        if reversed != self.client_is_lo {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    /// Swaps client and server, with their counters (a SYN/ACK seen first, or a
    /// protocol answer recognised first).
    pub fn swap_direction(&mut self) {
        self.client_is_lo = !self.client_is_lo;
        self.pkts.swap(0, 1);
        self.bytes.swap(0, 1);
        self.icmp = [self.icmp[2], self.icmp[3], self.icmp[0], self.icmp[1]];
    }

    /// Counts a packet of `len` bytes in direction `dir` at `now`.
    #[inline]
    pub fn count(&mut self, dir: Direction, len: u32, now: Timestamp) {
        self.count_n(dir, 1, u64::from(len), now);
    }

    /// Counts `pkts` packets of `bytes` bytes in all (the fragments of a datagram) in
    /// direction `dir` at `now`.
    #[inline]
    pub fn count_n(&mut self, dir: Direction, pkts: u32, bytes: u64, now: Timestamp) {
        let i = dir.index();
        self.pkts[i] += u64::from(pkts);
        self.bytes[i] += bytes;
        self.last = self.last.max(now);
    }

    /// True once packets went both ways.
    pub fn is_bidirectional(&self) -> bool {
        self.pkts[0] > 0 && self.pkts[1] > 0
    }

    /// Records the ICMP type and code of a packet (first of each direction kept).
    pub fn note_icmp(&mut self, dir: Direction, icmp_type: u8, icmp_code: u8) {
        let i = dir.index() * 2;
        if self.pkts[dir.index()] <= 1 {
            self.icmp[i] = icmp_type;
            self.icmp[i + 1] = icmp_code;
        }
    }

    /// ICMP type and code of the client's first packet.
    pub fn icmp_request(&self) -> (u8, u8) {
        (self.icmp[0], self.icmp[1])
    }

    /// ICMP type and code of the server's first packet, if it sent one.
    pub fn icmp_response(&self) -> Option<(u8, u8)> {
        (self.pkts[1] > 0).then_some((self.icmp[2], self.icmp[3]))
    }
}
