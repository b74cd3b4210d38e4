//! Conntrack events into flow records: the wiring between the conntrack feed's rules
//! ([`crate::feed::conntrack::rules`]) and the record stage.
//!
//! Contract: a [`ConntrackTracker`] takes parsed ctnetlink events and dump answers with
//! the time they were received (used only when the kernel sent no timestamp), applies
//! the feed's rules, and hands every flow that ends to its [`Sink`] as an ordinary
//! [`FlowRecord`], with a [`ConntrackRecord`] (state, mark, zone, id, status) added:
//!
//! - the client is the original direction's source (`src_ip`/`src_port`), so
//!   `pkts_toserver`/`bytes_toserver` are the kernel's original-direction counters and
//!   the `toclient` ones its reply-direction counters (bytes as the kernel counts them:
//!   IP header and payload);
//! - `start` is the NEW's time (else the kernel's start time), `end` the kernel's stop
//!   time for destroyed entries, else the last event's time;
//! - `flow.state` is `closed` for TCP from FIN_WAIT on, `established` once the kernel
//!   saw a reply, else `new`; `flow.reason` is `timeout` for a DESTROY (the kernel
//!   expired or deleted the entry) or a flow a dump no longer lists, `forced` for an
//!   archived flow replaced before its DESTROY came, `shutdown` at [`finish`];
//! - flow ids are unique within the tracker (a bijection of the creation number, fits in
//!   53 bits).
//!
//! The packet path (the flow cache) is not involved: the kernel's table is the flow
//! table, so the tracker keeps only the rules' mirror of it.
//!
//! [`finish`]: ConntrackTracker::finish

use crate::decode::{IpVersion, Vlans};
use crate::feed::conntrack::parse::{has_ports, status, tcp_state, Entry, EventKind};
use crate::feed::conntrack::rules::{CounterMode, FinishReason, Finished, RuleStats, Rules};
use crate::flow::{EndReason, FlowState, PruneReason};
use crate::record::{ConntrackRecord, FlowRecord, IcmpRecord, Sink};
use crate::time::Timestamp;

/// What a tracker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConntrackStats {
    /// The rules' counters (events by type, out-of-order cases).
    pub rules: RuleStats,
    /// Records handed to the sink.
    pub records: u64,
    /// Flows live now.
    pub live: u64,
}

/// Turns conntrack events into flow records for a [`Sink`].
pub struct ConntrackTracker<S: Sink> {
    rules: Rules,
    sink: S,
    records: u64,
    id_seed: u64,
}

const ID_MASK: u64 = (1 << 53) - 1;

/// Flow id of the `ordinal`-th flow: a bijection on 53 bits (xor, odd multiplications,
/// xor-shifts), so ids never repeat within a tracker.
fn flow_id(ordinal: u64, seed: u64) -> u64 {
    let mut x = (ordinal ^ seed) & ID_MASK;
    x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15 | 1) & ID_MASK;
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb | 1) & ID_MASK;
    x ^ (x >> 31)
}

fn record_of(f: &Finished, stamp: Timestamp, seed: u64) -> FlowRecord {
    let flow = &f.flow;
    let o = flow.key.orig;
    let v6 = o.src.is_ipv6();
    let replied = flow.status & status::SEEN_REPLY != 0;
    let icmp = o
        .icmp
        .filter(|_| matches!(o.proto, 1 | 58))
        .map(|i| IcmpRecord {
            icmp_type: i.icmp_type,
            icmp_code: i.code,
            response: replied.then(|| {
                let t = flow.reply.and_then(|r| r.icmp).map_or(0, |r| r.icmp_type);
                (t, 0)
            }),
        });
    let state = match flow.tcp_state {
        Some(s) if o.proto == 6 && tcp_state::rank(s) >= tcp_state::rank(tcp_state::FIN_WAIT) => {
            FlowState::Closed
        }
        _ if replied => FlowState::Established,
        Some(s)
            if o.proto == 6 && tcp_state::rank(s) >= tcp_state::rank(tcp_state::ESTABLISHED) =>
        {
            FlowState::Established
        }
        _ => FlowState::New,
    };
    let ct_state = match flow.tcp_state {
        Some(s) if o.proto == 6 => tcp_state::name(s),
        _ if flow.status & status::ASSURED != 0 => "assured",
        _ if replied => "replied",
        _ => "unreplied",
    };
    let (c, r) = (flow.counters_orig(), flow.counters_reply());
    FlowRecord {
        timestamp: stamp.max(f.end),
        flow_id: flow_id(flow.ordinal, seed),
        vlans: Vlans::default(),
        src_ip: o.src,
        dest_ip: o.dst,
        ports: has_ports(o.proto).then_some((o.src_port, o.dst_port)),
        ip_version: if v6 { IpVersion::V6 } else { IpVersion::V4 },
        proto: o.proto,
        icmp,
        pkts_toserver: c.packets,
        pkts_toclient: r.packets,
        bytes_toserver: c.bytes,
        bytes_toclient: r.bytes,
        start: flow.start.min(f.end),
        end: f.end,
        state,
        reason: match f.reason {
            FinishReason::Destroyed | FinishReason::Vanished => EndReason::Timeout,
            FinishReason::Superseded => EndReason::Pruned(PruneReason::Excess),
            FinishReason::Shutdown => EndReason::Shutdown,
        },
        allowed: false,
        tcp: None,
        app: Default::default(),
        conntrack: Some(ConntrackRecord {
            state: ct_state,
            mark: flow.mark,
            zone: flow.key.zone,
            id: flow.key.id,
            status: flow.status,
        }),
    }
}

impl<S: Sink> ConntrackTracker<S> {
    /// A tracker writing to `sink`, with flow ids from seed 0.
    pub fn new(sink: S) -> Self {
        ConntrackTracker::with_id_seed(sink, 0)
    }

    /// A tracker whose flow ids are drawn from `seed` (several trackers feeding one
    /// output should each have their own).
    pub fn with_id_seed(sink: S, seed: u64) -> Self {
        ConntrackTracker {
            rules: Rules::new(),
            sink,
            records: 0,
            id_seed: seed,
        }
    }

    /// Applies one event received at `now`.
    pub fn event(&mut self, kind: EventKind, entry: &Entry, now: Timestamp) {
        let stamp = entry.event_ns.map_or(now, Timestamp::from_nanos);
        let (sink, records, seed) = (&mut self.sink, &mut self.records, self.id_seed);
        self.rules.event(kind, entry, now, &mut |f| {
            *records += 1;
            sink.flow(&record_of(&f, stamp, seed));
        });
    }

    /// Starts a dump read at `now` (see [`Rules::dump_begin`]).
    pub fn dump_begin(&mut self, now: Timestamp) {
        self.rules.dump_begin(now);
    }

    /// Applies one dump answer read at `now`.
    pub fn dump_entry(&mut self, entry: &Entry, now: Timestamp, mode: CounterMode) {
        let (sink, records, seed) = (&mut self.sink, &mut self.records, self.id_seed);
        self.rules.dump_entry(entry, now, mode, &mut |f| {
            *records += 1;
            sink.flow(&record_of(&f, now, seed));
        });
    }

    /// Ends a complete dump at `now`: flows it no longer listed end.
    pub fn dump_end(&mut self, now: Timestamp) {
        let (sink, records, seed) = (&mut self.sink, &mut self.records, self.id_seed);
        self.rules.dump_end(now, &mut |f| {
            *records += 1;
            sink.flow(&record_of(&f, now, seed));
        });
    }

    /// What the tracker did so far.
    pub fn stats(&self) -> ConntrackStats {
        ConntrackStats {
            rules: self.rules.stats(),
            records: self.records,
            live: self.rules.len() as u64,
        }
    }

    /// The sink.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Ends every live flow at `now` (reason shutdown), flushes the sink and returns
    /// the counters and the sink.
    pub fn finish(mut self, now: Timestamp) -> (ConntrackStats, S) {
        let (sink, records, seed) = (&mut self.sink, &mut self.records, self.id_seed);
        self.rules.flush(&mut |f| {
            *records += 1;
            sink.flow(&record_of(&f, now, seed));
        });
        self.sink.flush();
        let stats = self.stats();
        (stats, self.sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::conntrack::parse::{parse_message, Message, Messages};
    use crate::record::Collect;

    use crate::feed::conntrack::fixture;

    fn feed<S: Sink>(t: &mut ConntrackTracker<S>, bytes: &[u8]) {
        for m in Messages::new(bytes) {
            if let Message::Conntrack(k, e) = parse_message(&m.unwrap()).unwrap() {
                t.event(k, &e, Timestamp::from_secs_micros(1_900_000_000, 0));
            }
        }
    }

    #[test]
    fn recorded_events_become_eve_flow_records() {
        let mut t = ConntrackTracker::new(Collect::default());
        for b in [
            &fixture!("new-tcp-v4-0.bin")[..],
            fixture!("update-tcp-v4-1.bin"),
            fixture!("new-udp-v4-1.bin"),
            fixture!("new-icmpv6-v6-0.bin"),
            fixture!("destroy-tcp-v4-0.bin"),
            fixture!("destroy-udp-v4-1.bin"),
        ] {
            feed(&mut t, b);
        }
        assert_eq!(t.stats().live, 1);
        let now = Timestamp::from_secs_micros(1_900_000_001, 0);
        let (stats, Collect(recs)) = t.finish(now);
        assert_eq!((stats.records, stats.live, recs.len()), (3, 0, 3));
        let tcp = &recs[0];
        assert_eq!(tcp.src_ip.to_string(), "10.78.0.1");
        assert_eq!(tcp.ports, Some((0xeb5c, 7001)));
        assert_eq!((tcp.pkts_toserver, tcp.bytes_toserver), (6, 329));
        assert_eq!((tcp.pkts_toclient, tcp.bytes_toclient), (4, 225));
        assert_eq!(tcp.state, FlowState::Closed);
        assert_eq!(tcp.reason.name(), "timeout");
        assert_eq!(tcp.end.as_nanos(), 0x18ee_8ba5_9475_375e);
        assert!(tcp.start < tcp.end && tcp.timestamp >= tcp.end);
        let ct = tcp.conntrack.unwrap();
        assert_eq!(
            (ct.state, ct.id, ct.zone, ct.mark),
            ("time_wait", 0x11e4_80db, 0, 0)
        );
        let udp = &recs[1];
        assert_eq!(udp.conntrack.unwrap().zone, 7);
        assert_eq!(udp.conntrack.unwrap().mark, 42);
        assert_eq!(udp.state, FlowState::Established);
        assert_eq!(udp.conntrack.unwrap().state, "replied");
        let icmp = &recs[2];
        assert_eq!(icmp.reason.name(), "shutdown");
        assert_eq!(icmp.timestamp, now);
        assert_eq!(icmp.ports, None);
        assert_eq!(icmp.icmp.unwrap().icmp_type, 128);
        assert_ne!(recs[0].flow_id, recs[1].flow_id);
        // As EVE: the flow record with the conntrack object.
        let mut w = crate::EveWriter::new(Vec::new(), Default::default());
        w.flow(tcp);
        let line = String::from_utf8(w.finish().unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event_type"], "flow");
        assert_eq!(v["flow"]["pkts_toserver"], 6);
        assert_eq!(v["conntrack"]["state"], "time_wait");
        assert_eq!(v["conntrack"]["id"], 0x11e4_80db_u32);
    }

    #[test]
    fn flow_ids_do_not_repeat_and_fit_in_53_bits() {
        let mut seen = std::collections::HashSet::new();
        for seed in [0, 12345] {
            seen.clear();
            for o in 0..10_000 {
                let id = flow_id(o, seed);
                assert!(id <= ID_MASK);
                assert!(seen.insert(id));
            }
        }
    }
}
