//! The engine as an embedding program uses it: frames in, records out. Timeouts and
//! TCP session reuse on packet time, direction, pruning at `max_flows` with Snort's
//! counters, the allowlist through verdicts, VLANs, tunnels.

use flowengine::flow::PruneReason;
use flowengine::record::Collect;
use flowengine::{
    ConfigBuilder, EndReason, Engine, FlowRecord, FlowState, LinkType, Packet, Stats, Timestamp,
    Verdict,
};
use flowengine_tests::frame::{self, flags::*, v4, v6};
use std::net::IpAddr;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

fn engine(sets: &[&str]) -> Engine<Collect> {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=11").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    Engine::new(&b.build().unwrap(), Collect::default()).unwrap()
}

fn push(e: &mut Engine<Collect>, t_nanos: u64, frame: &[u8]) {
    e.push(&Packet {
        ts: Timestamp::from_nanos(T0 + t_nanos),
        link: LinkType::Ethernet,
        data: frame,
    });
}

fn run(sets: &[&str], frames: &[(u64, Vec<u8>)]) -> (Stats, Vec<FlowRecord>) {
    let mut e = engine(sets);
    for (t, f) in frames {
        push(&mut e, *t, f);
    }
    let (stats, Collect(records)) = e.finish();
    (stats, records)
}

fn at(secs: f64) -> u64 {
    (secs * 1e9) as u64
}

const C: (IpAddr, u16) = (IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)), 40000);
const SRV: (IpAddr, u16) = (IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)), 80);

#[test]
fn udp_timeout_boundary_counts_as_expired() {
    let a = (v4(10, 0, 0, 1), 5000);
    let b = (v4(10, 0, 0, 2), 53);
    // New UDP flows time out after 30 s: a packet at exactly +30 s starts a new flow,
    // one at +29.999999 s does not.
    let frames = vec![
        (at(0.0), frame::udp(a, b, b"1")),
        (at(29.999_999), frame::udp(a, b, b"2")),
        (at(29.999_999) + at(30.0), frame::udp(a, b, b"3")),
    ];
    let (stats, mut r) = run(&[], &frames);
    r.sort_by_key(|x| x.start);
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].pkts_toserver, r[0].reason), (2, EndReason::Timeout));
    assert_eq!((r[1].pkts_toserver, r[1].reason), (1, EndReason::Shutdown));
    assert_eq!(stats.cache.idle_prunes_proto_timeout, 1);
    assert_eq!(stats.cache.timeout_prunes[2], 1, "udp_timeout_prunes");
}

#[test]
fn established_flows_live_longer() {
    let a = (v4(10, 0, 0, 1), 5000);
    let b = (v4(10, 0, 0, 2), 53);
    let frames = vec![
        (at(0.0), frame::udp(a, b, b"q")),
        (at(0.1), frame::udp(b, a, b"r")),
        (at(200.0), frame::udp(a, b, b"q2")),
        (at(499.0), frame::udp(a, b, b"q3")),
        (at(800.0), frame::udp(a, b, b"q4")),
    ];
    let (_, mut r) = run(&[], &frames);
    r.sort_by_key(|x| x.start);
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(r[0].packets(), 4);
    assert_eq!(r[0].state, FlowState::Established);
    assert_eq!(r[0].reason, EndReason::Timeout);
}

#[test]
fn the_sweep_ends_idle_flows_while_traffic_goes_on() {
    let mut e = engine(&[]);
    push(
        &mut e,
        at(0.0),
        &frame::udp((v4(10, 0, 0, 1), 1), (v4(10, 0, 0, 2), 2), b"x"),
    );
    // Unrelated traffic 100 s later: the idle flow is ended then, not at shutdown, and
    // its record carries the moment it expired (its packet + the 30 s UDP timeout),
    // not the time of the packet that happened to trigger the sweep.
    push(
        &mut e,
        at(100.0),
        &frame::udp((v4(10, 0, 0, 3), 3), (v4(10, 0, 0, 4), 4), b"y"),
    );
    assert_eq!(e.sink().0.len(), 1);
    assert_eq!(e.sink().0[0].reason, EndReason::Timeout);
    assert_eq!(
        e.sink().0[0].timestamp,
        Timestamp::from_nanos(T0 + at(30.0))
    );
    // With no traffic at all, idle() does the same (live capture).
    push(
        &mut e,
        at(101.0),
        &frame::udp((v4(10, 0, 0, 5), 5), (v4(10, 0, 0, 6), 6), b"z"),
    );
    e.idle(Timestamp::from_nanos(T0 + at(200.0)));
    assert_eq!(e.sink().0.len(), 3);
}

fn tcp_session(isn: u32, t: f64) -> Vec<(u64, Vec<u8>)> {
    vec![
        (at(t), frame::tcp(C, SRV, SYN, isn, 0, b"")),
        (
            at(t + 0.01),
            frame::tcp(SRV, C, SYN | ACK, 7000, isn + 1, b""),
        ),
        (at(t + 0.02), frame::tcp(C, SRV, ACK, isn + 1, 7001, b"")),
        (
            at(t + 0.03),
            frame::tcp(C, SRV, FIN | ACK, isn + 1, 7001, b""),
        ),
        (
            at(t + 0.04),
            frame::tcp(SRV, C, FIN | ACK, 7001, isn + 2, b""),
        ),
        (at(t + 0.05), frame::tcp(C, SRV, ACK, isn + 2, 7002, b"")),
    ]
}

#[test]
fn a_new_syn_on_a_closed_session_starts_a_second_flow() {
    let mut frames = tcp_session(100, 0.0);
    frames.extend(tcp_session(5000, 5.0));
    let (stats, mut r) = run(&[], &frames);
    r.sort_by_key(|x| x.start);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].reason, EndReason::TcpReuse);
    assert_eq!(r[0].state, FlowState::Closed);
    assert_eq!((r[0].pkts_toserver, r[0].pkts_toclient), (4, 2));
    assert_eq!(r[1].state, FlowState::Closed);
    assert_eq!(stats.cache.tcp_reuse, 1);
    assert_eq!(stats.cache.flows_closed, 2);
    let tcp = r[0].tcp.unwrap();
    assert_eq!(tcp.flags, SYN | ACK | FIN);
    assert_eq!(tcp.state.unwrap().name(), "closed");
}

#[test]
fn closed_tcp_flows_time_out_after_60_seconds_of_packet_time() {
    let mut frames = tcp_session(100, 0.0);
    frames.push((at(61.0), frame::tcp(C, SRV, ACK, 102, 7002, b"")));
    let (_, mut r) = run(&[], &frames);
    r.sort_by_key(|x| x.start);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].reason, EndReason::Timeout);
    assert_eq!(r[0].state, FlowState::Closed);
    assert!(
        r[1].tcp.unwrap().state.is_none(),
        "a lone ACK sets up no session"
    );
}

#[test]
fn a_syn_ack_seen_first_makes_its_receiver_the_client_with_midstream() {
    let frames = vec![
        (at(0.0), frame::tcp(SRV, C, SYN | ACK, 7000, 101, b"")),
        (at(0.01), frame::tcp(C, SRV, ACK, 101, 7001, b"")),
    ];
    let (_, r) = run(&["stream.midstream=true"], &frames);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].src_ip, r[0].ports), (C.0, Some((C.1, SRV.1))));
    assert_eq!((r[0].pkts_toserver, r[0].pkts_toclient), (1, 1));
    assert_eq!(r[0].state, FlowState::Established);
    // Without midstream the sender of the first packet stays the client, and the flow
    // has no session: state new.
    let (_, r) = run(&[], &frames);
    assert_eq!(r[0].src_ip, SRV.0);
    assert_eq!(r[0].state, FlowState::New);
}

#[test]
fn midstream_policy_bypass_allows_midstream_flows() {
    let frames = vec![(at(0.0), frame::tcp(C, SRV, ACK | PSH, 1, 1, b"data"))];
    let (_, r) = run(&["stream.midstream-policy=bypass"], &frames);
    assert!(r[0].allowed);
}

#[test]
fn icmp_echo_request_and_reply_share_a_flow() {
    let frames = vec![
        (
            at(0.0),
            frame::echo(v4(10, 0, 0, 1), v4(10, 0, 0, 2), true, 1, 1),
        ),
        (
            at(0.1),
            frame::echo(v4(10, 0, 0, 2), v4(10, 0, 0, 1), false, 1, 1),
        ),
        (at(1.0), frame::echo(v6(1), v6(2), true, 1, 1)),
        (at(1.1), frame::echo(v6(2), v6(1), false, 1, 1)),
    ];
    let (_, r) = run(&[], &frames);
    assert_eq!(r.len(), 2);
    for rec in &r {
        assert_eq!((rec.pkts_toserver, rec.pkts_toclient), (1, 1));
        assert!(rec.ports.is_none());
        let icmp = rec.icmp.unwrap();
        assert!(icmp.response.is_some());
    }
}

#[test]
fn vlan_tags_separate_flows_unless_told_otherwise() {
    let f = frame::udp((v4(10, 0, 0, 1), 1000), (v4(10, 0, 0, 2), 2000), b"x");
    let frames = vec![
        (at(0.0), frame::with_vlans(&f, &[10])),
        (at(0.1), frame::with_vlans(&f, &[20, 30])),
    ];
    let (_, r) = run(&[], &frames);
    assert_eq!(r.len(), 2);
    let mut tags: Vec<Vec<u16>> = r.iter().map(|x| x.vlans.as_slice().to_vec()).collect();
    tags.sort();
    assert_eq!(tags, vec![vec![10], vec![20, 30]]);
    let (_, r) = run(&["vlan.use-for-tracking=false"], &frames);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].packets(), 2);
}

#[test]
fn ip_in_ip_inner_flows_are_tracked_beside_the_outer_one() {
    // IPv4 (UDP) inside IPv4: an outer flow of protocol 4 and an inner UDP flow.
    let inner = frame::ip_of(&frame::udp(
        (v4(192, 168, 0, 1), 1),
        (v4(192, 168, 0, 2), 2),
        b"x",
    ));
    let outer = frame::ipv4_proto([10, 0, 0, 1], [10, 0, 0, 2], 4, &inner);
    let plain = frame::udp((v4(192, 168, 0, 1), 1), (v4(192, 168, 0, 2), 2), b"y");
    let frames = vec![(at(0.0), outer), (at(0.1), plain)];
    let (stats, r) = run(&[], &frames);
    assert_eq!(stats.decode.tunneled, 1);
    // Depth is part of the key: the tunnelled and the plain UDP packets are two flows.
    assert_eq!(r.len(), 3);
    assert_eq!(r.iter().filter(|x| x.proto == 4).count(), 1);
    let (_, r) = run(&["decoder.recursion-level.use-for-tracking=false"], &frames);
    assert_eq!(r.len(), 2);
}

#[test]
fn excess_pruning_at_max_flows_with_snort_counters() {
    let mut frames = Vec::new();
    for i in 0..10u16 {
        let a = (v4(10, 0, 0, 1), 1000 + i);
        let b = (v4(10, 0, 0, 2), 53);
        frames.push((at(f64::from(i)), frame::udp(a, b, b"q")));
        frames.push((at(f64::from(i) + 0.001), frame::udp(b, a, b"r")));
    }
    let (stats, r) = run(&["stream.max_flows=4"], &frames);
    assert_eq!(r.len(), 10);
    let forced: Vec<_> = r
        .iter()
        .filter(|x| x.reason == EndReason::Pruned(PruneReason::Excess))
        .collect();
    assert_eq!(forced.len(), 6);
    assert!(forced.iter().all(|x| x.reason.name() == "forced"));
    assert_eq!(stats.cache.excess_prunes, 6);
    assert_eq!(stats.cache.total_prunes(), 6);
    assert_eq!(stats.cache.peak_flows, 4);
    assert_eq!(stats.packets_tracked, 20);
}

#[test]
fn allowlisted_flows_survive_their_timeout() {
    let mut e = engine(&["allowlist_cache.enable=true"]);
    let a = (v4(10, 0, 0, 1), 1000);
    let b = (v4(10, 0, 0, 2), 53);
    push(&mut e, at(0.0), &frame::udp(a, b, b"q"));
    push(&mut e, at(0.0), &frame::udp((v4(10, 0, 0, 9), 9), b, b"q"));
    let (key, _) = flowengine::key::FlowKey::new(
        flowengine::decode::IpVersion::V4,
        17,
        [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        1000,
        [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        53,
        [0; 3],
        0,
        0,
    );
    assert!(e.set_verdict(&key, Verdict::Allow));
    assert_eq!(e.stats().cache.allowlist_flows, 1);
    push(
        &mut e,
        at(1000.0),
        &frame::udp((v4(10, 0, 0, 7), 7), b, b"later"),
    );
    // The other flow timed out; the allowed one is still there and counts on.
    assert_eq!(e.sink().0.len(), 1);
    push(&mut e, at(1001.0), &frame::udp(a, b, b"q2"));
    let (_, Collect(r)) = e.finish();
    let allowed: Vec<_> = r.iter().filter(|x| x.allowed).collect();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0].packets(), 2);
}

#[test]
fn records_use_packet_time_only() {
    // The same frames pushed twice give identical records: nothing reads the clock.
    let frames = tcp_session(1, 0.0);
    let (_, a) = run(&[], &frames);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (_, b) = run(&[], &frames);
    assert_eq!(a, b);
    assert_eq!(a[0].start, Timestamp::from_nanos(T0));
}

#[test]
fn batches_and_single_pushes_agree() {
    let mut frames = tcp_session(100, 0.0);
    frames.extend(tcp_session(5000, 5.0));
    for i in 0..100u16 {
        frames.push((
            at(6.0 + f64::from(i)),
            frame::udp((v4(10, 0, 1, 1), 1000 + i % 7), (v4(10, 0, 1, 2), 53), b"q"),
        ));
    }
    let (s1, r1) = run(&["stream.max_flows=3"], &frames);
    let mut e = engine(&["stream.max_flows=3"]);
    let pkts: Vec<Packet<'_>> = frames
        .iter()
        .map(|(t, f)| Packet {
            ts: Timestamp::from_nanos(T0 + t),
            link: LinkType::Ethernet,
            data: f,
        })
        .collect();
    e.push_batch(&pkts);
    let (s2, Collect(r2)) = e.finish();
    assert_eq!(s1, s2);
    assert_eq!(r1, r2);
}

#[test]
fn decode_only_counts_every_packet_and_makes_no_flow() {
    let frames = tcp_session(100, 0.0);
    let (stats, records) = run(&["flow.tracking=false"], &frames);
    assert_eq!(stats.decode.packets, frames.len() as u64);
    assert_eq!(stats.cache.flows, 0);
    assert_eq!(stats.packets_tracked, 0);
    assert!(records.is_empty());
    let (stats, records) = run(&[], &frames);
    assert_eq!(stats.packets_tracked, frames.len() as u64);
    assert_eq!(records.len(), 1);
}
