//! IP fragments as an embedding program sees them: reassembled before flow lookup, in
//! order or not, overlapping, duplicated; datagrams that never complete, and floods
//! over the limits, are still counted: every fragment is one packet of some flow.

use flowengine::record::Collect;
use flowengine::{ConfigBuilder, Engine, FlowRecord, LinkType, Packet, Stats, Timestamp};
use flowengine_tests::fragment::{ipv4_fragment, ipv6_fragment, split};
use flowengine_tests::frame::{self, v4, v6};
use flowengine_tests::tunnel::{self, GreOptions, Outer};
use std::net::IpAddr;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

fn run_at(sets: &[&str], frames: &[(u64, Vec<u8>)]) -> (Stats, Vec<FlowRecord>) {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=3").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    let mut e = Engine::new(&b.build().unwrap(), Collect::default()).unwrap();
    for (t, f) in frames {
        e.push(&Packet {
            ts: Timestamp::from_nanos(T0 + t),
            link: LinkType::Ethernet,
            data: f,
        });
    }
    let (stats, Collect(records)) = e.finish();
    // Conservation: every frame that reached tracking is one packet of one record.
    let pkts: u64 = records.iter().map(|r| r.packets()).sum();
    assert_eq!(pkts, stats.packets_tracked);
    assert_eq!(stats.records, records.len() as u64);
    (stats, records)
}

fn run(sets: &[&str], frames: &[Vec<u8>]) -> (Stats, Vec<FlowRecord>) {
    let timed: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (i as u64 * S / 100, f.clone()))
        .collect();
    run_at(sets, &timed)
}

const C: (IpAddr, u16) = (IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, 1)), 5000);
const D: (IpAddr, u16) = (IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, 2)), 53);

fn big_udp(src: (IpAddr, u16), dst: (IpAddr, u16), fill: u8) -> Vec<u8> {
    frame::udp(src, dst, &[fill; 1000])
}

fn bytes(frames: &[Vec<u8>]) -> u64 {
    frames.iter().map(|f| f.len() as u64).sum()
}

/// The one flow with ports `(sp, dp)`.
fn flow(records: &[FlowRecord], sp: u16, dp: u16) -> &FlowRecord {
    let v: Vec<_> = records
        .iter()
        .filter(|r| r.ports == Some((sp, dp)))
        .collect();
    assert_eq!(v.len(), 1, "one flow {sp}->{dp} in {records:#?}");
    v[0]
}

#[test]
fn fragments_in_order_make_one_packet_each_of_the_reassembled_flow() {
    for (name, src, dst) in [("ipv4", C, D), ("ipv6", (v6(1), 5000), (v6(2), 53))] {
        let frags = split(&big_udp(src, dst, 0x41), 0x1234, 256);
        assert_eq!(frags.len(), 4, "{name}");
        let (stats, records) = run(&[], &frags);
        assert_eq!(records.len(), 1, "{name}: {records:#?}");
        let r = flow(&records, 5000, 53);
        assert_eq!(r.pkts_toserver, 4, "{name}");
        assert_eq!(r.bytes_toserver, bytes(&frags), "{name}");
        assert_eq!((r.src_ip, r.dest_ip), (src.0, dst.0), "{name}");
        assert_eq!(stats.defrag.fragments, 4, "{name}");
        assert_eq!(stats.defrag.reassembled, 1, "{name}");
        assert_eq!(stats.decode.reassembled, 1, "{name}");
        assert_eq!(stats.decode.udp, 1, "{name}: the datagram decoded once");
    }
}

#[test]
fn fragments_out_of_order_and_interleaved_with_other_traffic() {
    let a = split(&big_udp(C, D, 1), 1, 256);
    let reply = split(&big_udp(D, C, 2), 2, 512);
    // Last first, then the middle ones reversed, the first last; the reply's
    // fragments interleaved. The request completes first, so its sender is the client.
    let frames = vec![
        a[3].clone(),
        reply[1].clone(),
        a[2].clone(),
        a[1].clone(),
        a[0].clone(),
        reply[0].clone(),
    ];
    let (stats, records) = run(&[], &frames);
    let r = flow(&records, 5000, 53);
    assert_eq!((r.pkts_toserver, r.pkts_toclient), (4, 2));
    assert_eq!(r.bytes_toserver, bytes(&a));
    assert_eq!(r.bytes_toclient, bytes(&reply));
    assert_eq!(records.len(), 1);
    assert_eq!(stats.defrag.reassembled, 2);
}

#[test]
fn duplicated_and_overlapping_fragments_still_count_once_each() {
    let whole = big_udp(C, D, 7);
    let ip = &whole[14..];
    let (hdr, payload) = ip.split_at(20);
    let frames = vec![
        ipv4_fragment(hdr, 9, 0, true, &payload[..512]),
        // An exact duplicate of the first.
        ipv4_fragment(hdr, 9, 0, true, &payload[..512]),
        // Overlaps the first's tail with different bytes.
        ipv4_fragment(hdr, 9, 256, true, &[0xee; 512]),
        ipv4_fragment(hdr, 9, 768, false, &payload[768..]),
    ];
    let (stats, records) = run(&[], &frames);
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = flow(&records, 5000, 53);
    assert_eq!(r.pkts_toserver, 4, "each captured fragment is a packet");
    assert_eq!(r.bytes_toserver, bytes(&frames));
    assert_eq!(stats.defrag.reassembled, 1);
    assert!(stats.defrag.duplicates >= 1, "{:?}", stats.defrag);
    assert!(stats.defrag.overlaps >= 1, "{:?}", stats.defrag);
}

#[test]
fn datagrams_that_never_complete_are_counted_at_the_end() {
    let a = split(&big_udp(C, D, 1), 1, 256);
    let b = split(&big_udp((v4(10, 1, 0, 3), 6000), D, 2), 2, 256);
    // a: the last fragment never comes; b: the first never comes.
    let frames = vec![
        a[0].clone(),
        a[1].clone(),
        b[1].clone(),
        b[2].clone(),
        b[3].clone(),
    ];
    let (stats, records) = run(&[], &frames);
    assert_eq!(records.len(), 1, "{records:#?}");
    // With its first fragment the datagram keeps its ports.
    let ra = flow(&records, 5000, 53);
    assert_eq!(ra.pkts_toserver, 2);
    assert_eq!(ra.bytes_toserver, bytes(&a[..2]));
    // Without it nothing names its flow: its fragments are counted as orphaned, in no
    // flow (as Suricata and nDPI leave them out), packets and bytes.
    assert_eq!(stats.fragments_orphaned, 3);
    assert_eq!(stats.fragment_bytes_orphaned, bytes(&b[1..]));
    assert_eq!(stats.packets_tracked, 2);
    assert_eq!(stats.defrag.flushed, 2);
    assert_eq!(stats.defrag.reassembled, 0);
}

#[test]
fn incomplete_datagrams_time_out_on_packet_time() {
    let a = split(&big_udp(C, D, 1), 1, 256);
    let later = frame::udp((v4(10, 9, 9, 9), 1), (v4(10, 9, 9, 8), 2), b"tick");
    let frames = vec![(0, a[0].clone()), (61 * S, later)];
    let (stats, records) = run_at(&[], &frames);
    assert_eq!(stats.defrag.timeouts, 1);
    assert_eq!(flow(&records, 5000, 53).pkts_toserver, 1);
    // A shorter timeout, set like any other key.
    let frames = vec![(0, a[0].clone()), (11 * S, a[1].clone())];
    let (stats, records) = run_at(&["defrag.timeout=10"], &frames);
    assert_eq!(stats.defrag.timeouts, 1);
    // The first fragment's datagram timed out into its flow; the later fragment opened
    // a datagram of its own, given up at the end without a first fragment: orphaned.
    let total: u64 = records.iter().map(|r| r.packets()).sum();
    assert_eq!(total, 1);
    assert_eq!(flow(&records, 5000, 53).pkts_toserver, 1);
    assert_eq!(stats.fragments_orphaned, 1);
}

#[test]
fn a_flood_over_the_limits_stays_bounded_and_loses_nothing() {
    // 200 datagrams whose last fragment never comes, with room for 16 fragments.
    let mut frames = Vec::new();
    for i in 0..200u16 {
        let src = (v4(10, 2, (i >> 8) as u8, i as u8), 1000 + i);
        let f = split(&big_udp(src, D, 3), u32::from(i), 256);
        frames.extend_from_slice(&f[..3]);
    }
    let (stats, records) = run(&["defrag.max_frags=16"], &frames);
    assert_eq!(stats.defrag.fragments, 600);
    assert!(stats.defrag.over_cap >= 200 - 16 / 3, "{:?}", stats.defrag);
    assert_eq!(stats.defrag.over_cap + stats.defrag.flushed, 200);
    // Every datagram is one flow with its 3 fragments.
    assert_eq!(records.len(), 200);
    assert!(records.iter().all(|r| r.pkts_toserver == 3));
    assert_eq!(stats.packets_tracked, 600);
}

#[test]
fn reassembly_off_counts_each_fragment_on_its_own() {
    let a = split(&big_udp(C, D, 1), 1, 256);
    let (stats, records) = run(&["defrag.enabled=false"], &a);
    assert_eq!(stats.defrag.fragments, 0);
    // The first fragment in its flow with its ports; the three others have nothing
    // to name their flow: orphaned, counted with their bytes.
    assert_eq!(flow(&records, 5000, 53).pkts_toserver, 1);
    assert_eq!(stats.packets_tracked, 1);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(stats.fragments_orphaned, 3);
    assert_eq!(stats.fragment_bytes_orphaned, bytes(&a[1..]));
}

#[test]
fn a_fragmented_tunnel_packet_opens_after_reassembly() {
    let outer = Outer {
        src: v4(172, 16, 0, 1),
        dst: v4(172, 16, 0, 2),
    };
    let inner = frame::ip_of(&big_udp(C, D, 5));
    let gre = tunnel::gre(outer, GreOptions::default(), 0x0800, &inner);
    let frags = split(&gre, 77, 400);
    assert_eq!(frags.len(), 3);
    let (stats, records) = run(&[], &frags);
    // The GRE packet is a tunnel only (no flow of its own, as in Suricata): its
    // fragments count there, and on the inner flow.
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(flow(&records, 5000, 53).pkts_toserver, 3);
    assert_eq!(stats.packets_tunnel_only, 3);
    assert_eq!(stats.decode.tunneled, 1);
    // And a fragmented packet inside an unfragmented tunnel.
    let inner_frags = split(&big_udp(C, D, 6), 78, 512);
    let frames: Vec<_> = inner_frags
        .iter()
        .map(|f| tunnel::gre(outer, GreOptions::default(), 0x0800, &f[14..]))
        .collect();
    let (stats, records) = run(&[], &frames);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(flow(&records, 5000, 53).pkts_toserver, 2);
    assert_eq!(stats.packets_tunnel_only, 2);
    assert_eq!(stats.defrag.reassembled, 1);
}

#[test]
fn malformed_fragments_are_refused_and_still_counted() {
    let whole = big_udp(C, D, 1);
    let (hdr, payload) = whole[14..].split_at(20);
    let v6w = big_udp((v6(1), 5000), (v6(2), 53), 1);
    let (h6, p6) = v6w[14..].split_at(40);
    let frames = vec![
        // Runs past 65535 bytes.
        ipv4_fragment(hdr, 5, 65_528, false, &payload[..16]),
        // A middle fragment whose length is not a multiple of 8.
        ipv6_fragment(h6, 5, 8, true, &p6[8..13]),
    ];
    let (stats, records) = run(&[], &frames);
    // Neither is a first fragment: both are counted as orphaned, in no flow.
    assert_eq!(stats.packets_tracked, 0);
    assert_eq!(records.len(), 0);
    assert_eq!(stats.fragments_orphaned, 2);
    assert_eq!(stats.fragment_bytes_orphaned, bytes(&frames));
    assert!(stats.defrag.rejected >= 1, "{:?}", stats.defrag);
    // A refused first fragment still goes to its flow, with its ports.
    let first = ipv4_fragment(hdr, 6, 0, true, &payload[..13]);
    let (stats, records) = run(&[], &[first]);
    assert!(stats.defrag.rejected >= 1, "{:?}", stats.defrag);
    assert_eq!(flow(&records, 5000, 53).pkts_toserver, 1);
}
