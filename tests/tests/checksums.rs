//! Checksum validation (`checksum = auto | all | none`): bad packets are counted in
//! their flow but do not move TCP state; `auto` stops validating a capture whose
//! checksums look offloaded; the counters say what was checked.

use flowengine::decode::checksum::ChecksumMode;
use flowengine::record::Collect;
use flowengine::{ConfigBuilder, Engine, FlowRecord, LinkType, Packet, Stats, Timestamp};
use flowengine_tests::frame::{self, flags::*, v4};
use std::net::IpAddr;

const S: u64 = 1_000_000_000;

fn run(sets: &[&str], frames: &[Vec<u8>]) -> (Stats, Vec<FlowRecord>) {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=2").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    let mut e = Engine::new(&b.build().unwrap(), Collect::default()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        e.push(&Packet {
            ts: Timestamp::from_nanos(1_700_000_000 * S + i as u64 * 1000),
            link: LinkType::Ethernet,
            data: f,
        });
    }
    let (stats, Collect(r)) = e.finish();
    (stats, r)
}

const C: (IpAddr, u16) = (IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)), 40000);
const SRV: (IpAddr, u16) = (IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)), 80);

/// The frame with its TCP checksum broken (last two bytes of the TCP header's
/// checksum field flipped).
fn bad_tcp(mut f: Vec<u8>) -> Vec<u8> {
    let at = 14 + 20 + 16;
    f[at] ^= 0xff;
    f
}

fn handshake(bad_synack: bool) -> Vec<Vec<u8>> {
    let synack = frame::tcp(SRV, C, SYN | ACK, 500, 101, b"");
    vec![
        frame::tcp(C, SRV, SYN, 100, 0, b""),
        if bad_synack { bad_tcp(synack) } else { synack },
        frame::tcp(C, SRV, ACK, 101, 501, b""),
    ]
}

#[test]
fn a_bad_checksum_is_counted_but_does_not_move_tcp_state() {
    let (stats, r) = run(&["checksum=all"], &handshake(true));
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].packets(),
        3,
        "the bad SYN/ACK still counts in the flow"
    );
    assert_eq!(stats.checksum.stats.tcp_checked, 3);
    assert_eq!(stats.checksum.stats.tcp_bad, 1);
    assert_eq!(stats.checksum.stats.ipv4_checked, 3);
    assert_eq!(stats.checksum.stats.ipv4_bad, 0);
    // The handshake never completed for the TCP state machine.
    let bad_state = r[0].tcp.unwrap().state;
    let (_, good) = run(&["checksum=all"], &handshake(false));
    assert_ne!(bad_state, good[0].tcp.unwrap().state);
    // With validation off the same packets make the good session.
    let (stats, off) = run(&["checksum=none"], &handshake(true));
    assert_eq!(off[0].tcp.unwrap().state, good[0].tcp.unwrap().state);
    assert_eq!(stats.checksum.stats.tcp_checked, 0);
    assert_eq!(stats.checksum.mode, ChecksumMode::None);
}

#[test]
fn bad_udp_icmp_and_ipv4_header_checksums_are_found() {
    let mut udp = frame::udp(C, SRV, b"payload");
    let n = udp.len();
    udp[n - 1] ^= 0x55;
    let mut hdr = frame::udp(C, SRV, b"x");
    hdr[14 + 10] ^= 0x01;
    let mut icmp = frame::echo(v4(10, 0, 0, 1), v4(10, 0, 0, 2), true, 1, 1);
    let n = icmp.len();
    icmp[n - 1] ^= 0x01;
    let (stats, _) = run(&["checksum=yes"], &[udp, hdr, icmp]);
    let c = stats.checksum.stats;
    assert_eq!((c.udp_checked, c.udp_bad), (2, 1));
    assert_eq!((c.ipv4_checked, c.ipv4_bad), (3, 1));
    assert_eq!((c.icmp_checked, c.icmp_bad), (1, 1));
}

#[test]
fn auto_stops_validating_an_offloaded_capture_after_1000_packets() {
    // Every other packet bad: far more than one in ten.
    let frames: Vec<Vec<u8>> = (0..1500u32)
        .map(|i| {
            let f = frame::tcp(C, SRV, ACK, 1000 + i, 1, b"data");
            if i % 2 == 0 {
                bad_tcp(f)
            } else {
                f
            }
        })
        .collect();
    let (stats, _) = run(&["checksum=auto"], &frames);
    assert_eq!(stats.checksum.mode, ChecksumMode::Auto);
    assert!(stats.checksum.offload_detected);
    assert_eq!(stats.checksum.stats.tcp_checked, 1000);
    assert_eq!(stats.checksum.stats.tcp_bad, 500);
    // One bad packet in a thousand is not offload: validation goes on.
    let frames: Vec<Vec<u8>> = (0..1500u32)
        .map(|i| {
            let f = frame::tcp(C, SRV, ACK, 1000 + i, 1, b"data");
            if i == 7 {
                bad_tcp(f)
            } else {
                f
            }
        })
        .collect();
    let (stats, _) = run(&["checksum=auto"], &frames);
    assert!(!stats.checksum.offload_detected);
    assert_eq!(stats.checksum.stats.tcp_checked, 1500);
    assert_eq!(stats.checksum.stats.tcp_bad, 1);
}

#[test]
fn validation_is_off_by_default() {
    let frames = vec![bad_tcp(frame::tcp(C, SRV, ACK, 1000, 1, b"data"))];
    let (stats, _) = run(&[], &frames);
    assert_eq!(stats.checksum.mode, ChecksumMode::None);
    assert_eq!(stats.checksum.stats.tcp_checked, 0);
}

#[test]
fn a_bad_mode_is_a_config_error() {
    let mut b = ConfigBuilder::new();
    b.set("checksum=sometimes").unwrap();
    let e = b.build().unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
}
