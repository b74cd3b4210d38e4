//! TCP session tracking: Suricata's state machine, enough of it to give each flow the
//! state, flags, direction and session-reuse decisions Suricata's EVE records show.
//!
//! Contract: [`TcpSession::track`] is called once per TCP packet of a flow, after the
//! packet was counted, and may swap the flow's direction (a SYN/ACK picked up first)
//! and move its [`FlowState`]. [`TcpSession::is_reuse`] says, before a packet is
//! counted, whether it starts a new session on the tuple of a finished one (the caller
//! then ends the old flow with reason `tcp_reuse`). Sequence numbers are compared
//! modulo 2^32. States keep Suricata's numbering, because reuse compares them.
//!
//! Rules, from Suricata's `stream-tcp.c`:
//! - no session yet: a SYN opens one (`syn_sent`); with `midstream` an ACK opens an
//!   established one and a FIN carrying data a `fin_wait1` one; with `midstream` or
//!   `async_oneside` a SYN/ACK opens `syn_recv` and makes its receiver the client;
//!   anything else leaves the flow without a session (state `new` for life);
//! - handshake `syn_sent -> syn_recv -> established`; a SYN/ACK with another
//!   sequence number while `syn_recv` waits for the client's ACK is held (the first
//!   such one; Suricata queues up to `stream.max-synack-queued`, 5 by default), and
//!   the client's ACK of it makes it the server's ISN; the client's FIN leads through
//!   `close_wait -> last_ack -> closed`, the server's through `fin_wait1 -> fin_wait2
//!   (or closing) -> time_wait -> closed`;
//! - an RST closes the session when its sequence number is exactly the one expected
//!   from its sender (Suricata's default Windows/BSD policy);
//! - a SYN reuses the tuple when there is no session, or the session is `none`,
//!   `last_ack`, `close_wait`, `closing` or `closed` (not `time_wait`), unless it
//!   retransmits the session's own SYN; a client SYN also reuses it when the server
//!   ignored the data of a TCP Fast Open SYN.

use crate::decode::{tcp_flags as tf, TcpInfo};
use crate::flow::{Direction, Flow, FlowState};

/// Stream options that change TCP tracking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Track sessions picked up mid-stream (Suricata `stream.midstream`).
    pub midstream: bool,
    /// Accept sessions seen in one direction only (Suricata `stream.async-oneside`).
    pub async_oneside: bool,
}

/// What tracking a packet means for its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpUpdate {
    /// Swap the flow's client and server (a SYN/ACK seen first).
    pub swap: bool,
    /// The flow state the session's state implies, if it implies one.
    pub flow_state: Option<FlowState>,
    /// The packet would have started a session mid-stream, which `midstream` forbids.
    pub midstream_refused: bool,
}

impl TcpUpdate {
    /// Applies the swap and the state to `flow`.
    #[inline]
    pub fn apply<X>(&self, flow: &mut Flow<X>) {
        if self.swap {
            flow.swap_direction();
        }
        if let Some(fs) = self.flow_state {
            flow.set_state(fs);
        }
    }
}

/// TCP session state, numbered as Suricata's `TcpState`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TcpState {
    /// No state yet.
    #[default]
    None = 0,
    /// SYN seen.
    SynSent = 2,
    /// SYN/ACK seen.
    SynRecv = 3,
    /// Handshake complete (or picked up mid-stream).
    Established = 4,
    /// The server sent a FIN.
    FinWait1 = 5,
    /// The client acknowledged the server's FIN.
    FinWait2 = 6,
    /// Both FINs sent, the client's not yet acknowledged.
    TimeWait = 7,
    /// Both FINs sent after the client's; waiting for the client's last ACK.
    LastAck = 8,
    /// The client sent a FIN.
    CloseWait = 9,
    /// Both sides sent FINs at once.
    Closing = 10,
    /// Closed by the FIN exchange or an RST.
    Closed = 11,
}

impl TcpState {
    /// EVE `tcp.state` name.
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established => "established",
            TcpState::FinWait1 => "fin_wait1",
            TcpState::FinWait2 => "fin_wait2",
            TcpState::TimeWait => "time_wait",
            TcpState::LastAck => "last_ack",
            TcpState::CloseWait => "close_wait",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
        }
    }

    /// The flow state this session state implies, if it implies one.
    fn flow_state(self) -> Option<FlowState> {
        match self {
            TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::CloseWait => Some(FlowState::Established),
            TcpState::LastAck | TcpState::TimeWait | TcpState::Closed => Some(FlowState::Closed),
            _ => None,
        }
    }
}

#[inline]
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

#[inline]
fn seq_geq(a: u32, b: u32) -> bool {
    !seq_lt(a, b)
}

/// One side of a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Peer {
    /// Initial sequence number (valid once `seen`).
    isn: u32,
    /// Next sequence number expected from this side.
    next_seq: u32,
    /// Sequence number of this side's FIN once `fin`. Before that, on the server's
    /// side during the handshake, the ISN of a held second SYN/ACK when `alt` (the
    /// slot is shared so a flow stays within its three cache lines).
    fin_seq: u32,
    seen: bool,
    fin: bool,
    /// The first segment seen from this side was a SYN.
    syn: bool,
    /// `fin_seq` holds a second SYN/ACK's ISN.
    alt: bool,
}

impl Peer {
    /// Notes a segment sent by this side.
    #[inline]
    fn sent(&mut self, t: &TcpInfo, payload_len: u32) {
        let syn = u32::from(t.flags & tf::SYN != 0);
        let fin = u32::from(t.flags & tf::FIN != 0);
        let end = t
            .seq
            .wrapping_add(payload_len)
            .wrapping_add(syn)
            .wrapping_add(fin);
        if !self.seen || seq_lt(self.next_seq, end) {
            self.next_seq = end;
        }
        if !self.seen {
            self.isn = t.seq;
            self.seen = true;
            self.syn = syn == 1;
        }
        if fin == 1 && !self.fin {
            self.fin = true;
            self.fin_seq = t.seq.wrapping_add(payload_len);
        }
    }

    /// The ISN of the held second SYN/ACK, if any.
    #[inline]
    fn alt_isn(&self) -> Option<u32> {
        (self.alt && !self.fin).then_some(self.fin_seq)
    }

    /// True when `ack` (from the other side) acknowledges this side's FIN.
    #[inline]
    fn fin_acked_by(&self, t: &TcpInfo) -> bool {
        self.fin && t.flags & tf::ACK != 0 && seq_geq(t.ack, self.fin_seq.wrapping_add(1))
    }
}

/// The TCP session of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpSession {
    active: bool,
    state: TcpState,
    flags: u8,
    flags_ts: u8,
    flags_tc: u8,
    midstream: bool,
    /// `async_oneside` was on when the session began.
    async_oneside: bool,
    /// The SYN carried data (TCP Fast Open) that the SYN/ACK did not acknowledge.
    tfo_data_ignored: bool,
    client: Peer,
    server: Peer,
}

impl TcpSession {
    /// True once a session exists (Suricata's `ssn != NULL`).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The session state (`None` without a session).
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Union of the flags of every packet since the session began.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Union of the client's flags.
    pub fn flags_ts(&self) -> u8 {
        self.flags_ts
    }

    /// Union of the server's flags.
    pub fn flags_tc(&self) -> u8 {
        self.flags_tc
    }

    /// True when the session was picked up mid-stream.
    pub fn is_midstream(&self) -> bool {
        self.midstream
    }

    /// Where the payload stream of direction `dir` begins: the byte after its SYN, or
    /// the first sequence number seen from that side (mid-stream); `None` before
    /// that side sent anything.
    pub fn data_start(&self, dir: Direction) -> Option<u32> {
        let p = match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        };
        p.seen.then(|| p.isn.wrapping_add(u32::from(p.syn)))
    }

    /// Swaps the client's and the server's sides (inspection recognised the side taken
    /// for the client as the server).
    pub fn swap_roles(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        std::mem::swap(&mut self.flags_ts, &mut self.flags_tc);
    }

    fn peers(&mut self, dir: Direction) -> (&mut Peer, &mut Peer) {
        match dir {
            Direction::ToServer => (&mut self.client, &mut self.server),
            Direction::ToClient => (&mut self.server, &mut self.client),
        }
    }

    fn set_state(s: &mut TcpSession, state: TcpState) {
        s.state = state;
    }

    fn add_flags(&mut self, dir: Direction, flags: u8) {
        self.flags |= flags;
        match dir {
            Direction::ToServer => self.flags_ts |= flags,
            Direction::ToClient => self.flags_tc |= flags,
        }
    }

    /// Would this packet, arriving in direction `dir` on the flow holding this session,
    /// start a new session on the same tuple (Suricata's `TcpSessionPacketSsnReuse`)?
    pub fn is_reuse(&self, dir: Direction, t: &TcpInfo, opts: &TcpOptions) -> bool {
        let f = t.flags;
        if f & (tf::RST | tf::FIN) != 0 {
            return false;
        }
        let reusable = |s: &TcpSession| s.state == TcpState::None || s.state >= TcpState::LastAck;
        match f & (tf::SYN | tf::ACK) {
            tf::SYN => {
                if !self.active || (dir == Direction::ToServer && self.tfo_data_ignored) {
                    return true;
                }
                if dir == Direction::ToServer && self.client.seen && t.seq == self.client.isn {
                    return false; // a retransmitted SYN
                }
                reusable(self)
            }
            x if x == tf::SYN | tf::ACK && (opts.midstream || opts.async_oneside) => match dir {
                Direction::ToClient => {
                    if !self.active || (self.server.seen && t.seq == self.server.isn) {
                        return false;
                    }
                    reusable(self)
                }
                Direction::ToServer => !self.active || reusable(self),
            },
            _ => false,
        }
    }

    /// Tracks one packet of the flow holding this session (already counted), sent in
    /// direction `dir`. The caller applies the returned [`TcpUpdate`] to the flow: a
    /// direction swap, the flow state the session state implies, and whether the
    /// packet would have picked up a session mid-stream that `midstream` forbids
    /// (Suricata then applies its `stream.midstream-policy`).
    #[inline]
    pub fn track(
        &mut self,
        dir: Direction,
        t: &TcpInfo,
        payload_len: u32,
        opts: &TcpOptions,
    ) -> TcpUpdate {
        let was_active = self.active;
        let mut swap = false;
        if was_active {
            Self::step(self, dir, t, payload_len);
        } else {
            swap = Self::start(self, dir, t, payload_len, opts);
        }
        let mut up = TcpUpdate {
            swap,
            flow_state: self.state.flow_state(),
            midstream_refused: false,
        };
        if !was_active && !self.active && !opts.midstream {
            let f = t.flags;
            up.midstream_refused = (f & tf::FIN != 0 && f & (tf::SYN | tf::RST) == 0)
                || (f & (tf::SYN | tf::ACK) == tf::SYN | tf::ACK && !opts.async_oneside)
                || (f & (tf::SYN | tf::FIN | tf::RST) == 0 && f & tf::ACK != 0);
        }
        up
    }

    fn step(s: &mut TcpSession, dir: Direction, t: &TcpInfo, payload_len: u32) {
        s.add_flags(dir, t.flags);
        let f = t.flags;
        if f & tf::RST != 0 {
            Self::rst(s, dir, t);
            return;
        }
        if s.state == TcpState::SynRecv
            && dir == Direction::ToClient
            && f & (tf::SYN | tf::ACK | tf::FIN) == tf::SYN | tf::ACK
            && s.server.seen
            && t.seq != s.server.isn
        {
            // A SYN/ACK with another ISN (Suricata's "SYN/ACK resend with different
            // seq"): held, not sent, until the client's ACK says which one it took.
            let acks_syn = t.ack == s.client.isn.wrapping_add(1) || t.ack == s.client.next_seq;
            if acks_syn && s.server.alt_isn().is_none() && !s.server.fin {
                s.server.fin_seq = t.seq;
                s.server.alt = true;
            }
            return;
        }
        let (snd, _) = s.peers(dir);
        let sender_was_seen = snd.seen;
        snd.sent(t, payload_len);
        let fin = f & tf::FIN != 0;
        let ack = f & tf::ACK != 0;
        match s.state {
            TcpState::None => {}
            TcpState::SynSent => match dir {
                Direction::ToClient if f & (tf::SYN | tf::ACK) == tf::SYN | tf::ACK => {
                    let syn_acked = t.ack == s.client.isn.wrapping_add(1);
                    if syn_acked || t.ack == s.client.next_seq {
                        // Data on the SYN (TCP Fast Open) that the server did not take:
                        // the client will send it again in a new session.
                        s.tfo_data_ignored =
                            syn_acked && s.client.next_seq != s.client.isn.wrapping_add(1);
                        Self::set_state(s, TcpState::SynRecv);
                    }
                }
                Direction::ToServer if f & tf::SYN != 0 && !ack => {
                    // A SYN with a new sequence number replaces the first.
                    s.client.isn = t.seq;
                    s.client.next_seq = t.seq.wrapping_add(1);
                }
                Direction::ToServer
                    if s.async_oneside && ack && f & tf::SYN == 0 && sender_was_seen =>
                {
                    Self::set_state(s, TcpState::Established);
                }
                _ => {}
            },
            TcpState::SynRecv => {
                if dir == Direction::ToServer && ack && f & tf::SYN == 0 {
                    if let Some(alt) = s.server.alt_isn() {
                        if t.ack == alt.wrapping_add(1) {
                            // The client took the held SYN/ACK: the server's side
                            // starts there.
                            s.server.isn = alt;
                            s.server.next_seq = alt.wrapping_add(1);
                            s.server.alt = false;
                        }
                    }
                    let server_ack_ok =
                        !s.server.seen || seq_geq(t.ack, s.server.isn.wrapping_add(1));
                    if server_ack_ok {
                        Self::set_state(s, TcpState::Established);
                        if fin {
                            Self::set_state(s, TcpState::CloseWait);
                        }
                    }
                }
            }
            TcpState::Established => {
                if fin {
                    let next = match dir {
                        Direction::ToServer => TcpState::CloseWait,
                        Direction::ToClient => TcpState::FinWait1,
                    };
                    Self::set_state(s, next);
                }
            }
            // The server closed first.
            TcpState::FinWait1 => {
                if dir == Direction::ToServer {
                    let acked = s.server.fin_acked_by(t);
                    let next = match (fin, acked) {
                        (true, true) => TcpState::TimeWait,
                        (true, false) => TcpState::Closing,
                        (false, true) => TcpState::FinWait2,
                        (false, false) => TcpState::FinWait1,
                    };
                    Self::set_state(s, next);
                }
            }
            TcpState::FinWait2 => {
                if dir == Direction::ToServer && fin {
                    Self::set_state(s, TcpState::TimeWait);
                }
            }
            TcpState::Closing => {
                if dir == Direction::ToClient && s.client.fin_acked_by(t) {
                    Self::set_state(s, TcpState::TimeWait);
                }
            }
            TcpState::TimeWait => {
                if dir == Direction::ToClient && s.client.fin_acked_by(t) {
                    Self::set_state(s, TcpState::Closed);
                }
            }
            // The client closed first.
            TcpState::CloseWait => {
                if dir == Direction::ToClient && fin {
                    Self::set_state(s, TcpState::LastAck);
                }
            }
            TcpState::LastAck => {
                if dir == Direction::ToServer && s.server.fin_acked_by(t) {
                    Self::set_state(s, TcpState::Closed);
                }
            }
            TcpState::Closed => {}
        }
    }

    /// The first packet of a session (Suricata's `StreamTcpPacketStateNone`). Returns
    /// true when the flow's direction must be swapped (a SYN/ACK seen first).
    fn start(
        s: &mut TcpSession,
        dir: Direction,
        t: &TcpInfo,
        payload_len: u32,
        opts: &TcpOptions,
    ) -> bool {
        let f = t.flags;
        let mut dir = dir;
        let mut swap = false;
        let state = if f & tf::RST != 0 {
            return false;
        } else if f & tf::FIN != 0 && f & tf::SYN == 0 {
            if !(opts.midstream && payload_len > 0) {
                return false;
            }
            s.midstream = true;
            TcpState::FinWait1
        } else if f & (tf::SYN | tf::ACK) == tf::SYN | tf::ACK {
            if !(opts.midstream || opts.async_oneside) {
                return false;
            }
            // A SYN/ACK seen first: its receiver is the client.
            if dir == Direction::ToServer {
                swap = true;
                dir = Direction::ToClient;
            }
            s.midstream = true;
            TcpState::SynRecv
        } else if f & tf::SYN != 0 {
            TcpState::SynSent
        } else if f & tf::ACK != 0 {
            if !opts.midstream {
                return false;
            }
            s.midstream = true;
            TcpState::Established
        } else {
            return false;
        };
        s.active = true;
        s.async_oneside = opts.async_oneside;
        s.add_flags(dir, f);
        let (snd, _) = s.peers(dir);
        snd.sent(t, payload_len);
        if state == TcpState::FinWait1 && dir == Direction::ToServer {
            // Picked up on the client's FIN: from the server's view, close_wait.
            Self::set_state(s, TcpState::CloseWait);
        } else {
            Self::set_state(s, state);
        }
        swap
    }

    fn rst(s: &mut TcpSession, dir: Direction, t: &TcpInfo) {
        let valid = match s.state {
            TcpState::None | TcpState::Closed => false,
            TcpState::SynSent => match dir {
                // The server refuses the connection.
                Direction::ToClient => {
                    t.flags & tf::ACK == 0 || t.ack == s.client.isn.wrapping_add(1)
                }
                Direction::ToServer => {
                    t.seq == s.client.isn && t.ack == s.client.isn.wrapping_add(1)
                }
            },
            _ => {
                let (snd, _) = s.peers(dir);
                !snd.seen || t.seq == snd.next_seq
            }
        };
        if valid {
            Self::set_state(s, TcpState::Closed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::IpVersion;
    use crate::key::FlowKey;
    use crate::time::Timestamp;

    const C: Direction = Direction::ToServer;
    const S: Direction = Direction::ToClient;

    fn flow() -> Flow<TcpSession> {
        let (k, _) = FlowKey::new(IpVersion::V4, 6, [1; 16], 1000, [2; 16], 80, [0; 3], 0, 0);
        Flow::new(k, 0, false, Timestamp::ZERO, Default::default())
    }

    fn seg(flags: u8, seq: u32, ack: u32) -> TcpInfo {
        TcpInfo {
            src_port: 0,
            dst_port: 0,
            seq,
            ack,
            flags,
            window: 1000,
        }
    }

    struct Run {
        f: Flow<TcpSession>,
        o: TcpOptions,
    }

    impl Run {
        fn new(o: TcpOptions) -> Self {
            Run { f: flow(), o }
        }
        fn pkt(&mut self, dir: Direction, flags: u8, seq: u32, ack: u32, len: u32) -> TcpState {
            let d = self.f.direction(dir != Direction::ToServer);
            self.f.count(d, 60, Timestamp::ZERO);
            let up = self.f.ext.track(d, &seg(flags, seq, ack), len, &self.o);
            up.apply(&mut self.f);
            self.f.ext.state()
        }
    }

    const SYN: u8 = tf::SYN;
    const SA: u8 = tf::SYN | tf::ACK;
    const A: u8 = tf::ACK;
    const FA: u8 = tf::FIN | tf::ACK;
    const R: u8 = tf::RST;
    const RA: u8 = tf::RST | tf::ACK;

    fn handshake(r: &mut Run) {
        assert_eq!(r.pkt(C, SYN, 100, 0, 0), TcpState::SynSent);
        assert_eq!(r.f.state(), FlowState::New);
        assert_eq!(r.pkt(S, SA, 500, 101, 0), TcpState::SynRecv);
        assert_eq!(r.pkt(C, A, 101, 501, 0), TcpState::Established);
        assert_eq!(r.f.state(), FlowState::Established);
    }

    #[test]
    fn client_closes_first() {
        let mut r = Run::new(TcpOptions::default());
        handshake(&mut r);
        r.pkt(C, A | tf::PSH, 101, 501, 10);
        assert_eq!(r.pkt(C, FA, 111, 501, 0), TcpState::CloseWait);
        assert_eq!(r.f.state(), FlowState::Established);
        assert_eq!(r.pkt(S, FA, 501, 112, 0), TcpState::LastAck);
        assert_eq!(r.f.state(), FlowState::Closed);
        assert_eq!(r.pkt(C, A, 112, 502, 0), TcpState::Closed);
        assert_eq!(r.f.ext.flags(), SYN | A | FA | tf::PSH);
        assert_eq!(r.f.ext.flags_tc(), SA | FA);
    }

    #[test]
    fn server_closes_first() {
        let mut r = Run::new(TcpOptions::default());
        handshake(&mut r);
        assert_eq!(r.pkt(S, FA, 501, 101, 0), TcpState::FinWait1);
        assert_eq!(r.pkt(C, A, 101, 502, 0), TcpState::FinWait2);
        assert_eq!(r.pkt(C, FA, 101, 502, 0), TcpState::TimeWait);
        assert_eq!(r.f.state(), FlowState::Closed);
        assert_eq!(r.pkt(S, A, 502, 102, 0), TcpState::Closed);
    }

    #[test]
    fn rst_needs_the_expected_sequence_number() {
        let mut r = Run::new(TcpOptions::default());
        handshake(&mut r);
        assert_eq!(
            r.pkt(S, R, 9999, 0, 0),
            TcpState::Established,
            "out of window"
        );
        assert_eq!(r.pkt(S, RA, 501, 101, 0), TcpState::Closed);
        assert_eq!(r.f.state(), FlowState::Closed);
    }

    #[test]
    fn refused_connection_closes() {
        let mut r = Run::new(TcpOptions::default());
        r.pkt(C, SYN, 100, 0, 0);
        assert_eq!(r.pkt(S, RA, 0, 101, 0), TcpState::Closed);
    }

    #[test]
    fn midstream_off_leaves_no_session() {
        let mut r = Run::new(TcpOptions::default());
        assert_eq!(r.pkt(C, A, 1, 1, 100), TcpState::None);
        assert_eq!(r.pkt(S, A, 1, 101, 100), TcpState::None);
        assert!(!r.f.ext.is_active());
        assert_eq!(r.f.ext.flags(), 0);
        assert_eq!(r.f.state(), FlowState::New);
        // A SYN on a session-less flow starts a new one, in either direction.
        assert!(r.f.ext.is_reuse(C, &seg(SYN, 5, 0), &r.o));
        assert!(r.f.ext.is_reuse(S, &seg(SYN, 5, 0), &r.o));
    }

    #[test]
    fn midstream_ack_is_established_and_keeps_direction() {
        let o = TcpOptions {
            midstream: true,
            async_oneside: false,
        };
        let mut r = Run::new(o);
        assert_eq!(r.pkt(C, A, 1, 1, 100), TcpState::Established);
        assert!(r.f.ext.is_midstream());
        assert_eq!(r.f.state(), FlowState::Established);
        assert_eq!(r.f.packets(Direction::ToServer), 1);
    }

    #[test]
    fn synack_first_swaps_only_with_midstream() {
        let mut r = Run::new(TcpOptions::default());
        r.pkt(C, SA, 500, 101, 0);
        assert_eq!(
            r.f.packets(Direction::ToServer),
            1,
            "no swap without midstream"
        );
        assert!(!r.f.ext.is_active());

        let o = TcpOptions {
            midstream: true,
            async_oneside: false,
        };
        let mut r = Run::new(o);
        r.pkt(C, SA, 500, 101, 0);
        assert_eq!(
            r.f.packets(Direction::ToClient),
            1,
            "the SYN/ACK went to the client"
        );
        assert!(!r.f.client_is_lo());
        assert_eq!(r.f.ext.state(), TcpState::SynRecv);
        assert_eq!(r.f.ext.flags_tc(), SA);
    }

    #[test]
    fn reuse_rules() {
        let o = TcpOptions::default();
        let mut r = Run::new(o);
        handshake(&mut r);
        assert!(
            !r.f.ext.is_reuse(C, &seg(SYN, 7, 0), &o),
            "established is not reused"
        );
        r.pkt(C, FA, 101, 501, 0);
        assert!(
            r.f.ext.is_reuse(C, &seg(SYN, 7, 0), &o),
            "close_wait is reused"
        );
        assert!(
            !r.f.ext.is_reuse(C, &seg(SYN, 100, 0), &o),
            "retransmitted SYN"
        );
        assert!(
            !r.f.ext.is_reuse(C, &seg(SA, 7, 0), &o),
            "SYN/ACK only with midstream"
        );
        assert!(!r.f.ext.is_reuse(C, &seg(SYN | tf::RST, 7, 0), &o));

        let mut r = Run::new(o);
        handshake(&mut r);
        r.pkt(S, FA, 501, 101, 0);
        r.pkt(C, FA, 101, 502, 0);
        assert_eq!(r.f.ext.state(), TcpState::TimeWait);
        assert!(
            !r.f.ext.is_reuse(C, &seg(SYN, 7, 0), &o),
            "time_wait is not reused"
        );
        r.pkt(S, A, 502, 102, 0);
        assert!(r.f.ext.is_reuse(C, &seg(SYN, 7, 0), &o), "closed is reused");
    }

    #[test]
    fn ignored_fast_open_data_makes_the_next_syn_a_new_session() {
        let o = TcpOptions::default();
        let mut r = Run::new(o);
        r.pkt(C, SYN, 100, 0, 50); // SYN with 50 bytes of data
        r.pkt(S, SA, 500, 101, 0); // acknowledges the SYN only
        assert_eq!(r.f.ext.state(), TcpState::SynRecv);
        assert!(r.f.ext.is_reuse(C, &seg(SYN, 100, 0), &o));

        let mut r = Run::new(o);
        r.pkt(C, SYN, 100, 0, 50);
        r.pkt(S, SA, 500, 151, 0); // data accepted
        assert_eq!(r.f.ext.state(), TcpState::SynRecv);
        assert!(!r.f.ext.is_reuse(C, &seg(SYN, 100, 0), &o));
    }

    #[test]
    fn a_second_synack_with_another_isn_counts_once_the_client_acks_it() {
        let o = TcpOptions::default();
        // The client acknowledges the second SYN/ACK: the server's data starts there.
        let mut r = Run::new(o);
        r.pkt(C, SYN, 100, 0, 0);
        r.pkt(S, SA, 500, 101, 0);
        assert_eq!(r.pkt(S, SA, 9000, 101, 0), TcpState::SynRecv);
        assert_eq!(r.f.ext.data_start(S), Some(501), "held, not taken yet");
        r.pkt(S, SA, 500, 101, 0); // the first one again
        assert_eq!(r.pkt(C, A, 101, 9001, 0), TcpState::Established);
        assert_eq!(r.f.ext.data_start(S), Some(9001));
        assert_eq!(r.f.ext.flags_tc(), SA);
        // It closes on the right sequence numbers.
        assert_eq!(r.pkt(S, FA, 9001, 101, 0), TcpState::FinWait1);
        assert_eq!(r.pkt(C, FA, 101, 9002, 0), TcpState::TimeWait);

        // The client acknowledges the first: the held one is dropped.
        let mut r = Run::new(o);
        r.pkt(C, SYN, 100, 0, 0);
        r.pkt(S, SA, 500, 101, 0);
        r.pkt(S, SA, 9000, 101, 0);
        assert_eq!(r.pkt(C, A, 101, 501, 0), TcpState::Established);
        assert_eq!(r.f.ext.data_start(S), Some(501));

        // A SYN/ACK that does not acknowledge the client's SYN is not held.
        let mut r = Run::new(o);
        r.pkt(C, SYN, 100, 0, 0);
        r.pkt(S, SA, 500, 101, 0);
        r.pkt(S, SA, 9000, 77, 0);
        r.pkt(C, A, 101, 9001, 0);
        assert_eq!(r.f.ext.data_start(S), Some(501));
    }

    #[test]
    fn sequence_comparison_wraps() {
        assert!(seq_lt(u32::MAX - 1, 3));
        assert!(seq_geq(3, u32::MAX - 1));
        assert!(seq_geq(5, 5));
    }
}
