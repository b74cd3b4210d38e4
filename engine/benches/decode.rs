//! Decoder throughput: `flowengine::decode::decode` on representative Ethernet frames.
//!
//! Contract: every frame benchmarked is first checked to decode to the IP packet and
//! transport it was built as (so the numbers measure the full path, not an early
//! error); each benchmark reports packets per second (`Throughput::Elements`).
//! Frames are built with etherparse's `PacketBuilder`, so every checksum is right.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::{PacketBuilder, VlanId};
use flowengine::decode::{decode, Decoded, Transport};
use flowengine::LinkType;
use std::hint::black_box;
use std::time::Duration;

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
const V6_A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
const V6_B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// IPv4 TCP (PSH/ACK) carrying `len` bytes of HTTP-ish payload.
fn ipv4_tcp(len: usize) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 1, 2], [172, 16, 0, 80], 64)
        .tcp(40_000, 80, 1_000_000, 64240)
        .psh()
        .ack(2_000_000);
    let payload = vec![b'x'; len];
    let mut out = Vec::with_capacity(b.size(len));
    b.write(&mut out, &payload).expect("vec");
    out
}

/// IPv6 UDP, a DNS-sized datagram.
fn ipv6_udp() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(V6_A, V6_B, 64)
        .udp(20_000, 53);
    let payload = [0u8; 40];
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, &payload).expect("vec");
    out
}

/// 802.1Q-tagged (VLAN 100) IPv4 TCP ACK without payload.
fn vlan_tcp() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(VlanId::try_new(100).expect("vlan id"))
        .ipv4([10, 0, 1, 2], [172, 16, 0, 80], 64)
        .tcp(40_000, 443, 1_000_000, 64240)
        .ack(2_000_000);
    let mut out = Vec::with_capacity(b.size(0));
    b.write(&mut out, &[]).expect("vec");
    out
}

/// QinQ (outer 200, inner 100) IPv4 UDP.
fn qinq_udp() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .double_vlan(
            VlanId::try_new(200).expect("vlan id"),
            VlanId::try_new(100).expect("vlan id"),
        )
        .ipv4([10, 0, 1, 2], [8, 8, 8, 8], 64)
        .udp(20_000, 53);
    let payload = [0u8; 40];
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, &payload).expect("vec");
    out
}

/// IPv4 ICMP echo request.
fn icmp_echo() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 1, 2], [10, 0, 0, 1], 64)
        .icmpv4_echo_request(0x1234, 1);
    let payload = [0x55u8; 56];
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, &payload).expect("vec");
    out
}

/// A frame to decode: its name, its bytes, and what its transport must decode to.
type Case = (&'static str, Vec<u8>, fn(&Transport) -> bool);

/// The frames benchmarked.
fn frames() -> Vec<Case> {
    vec![
        (
            "eth_ipv4_tcp_512b",
            ipv4_tcp(512),
            |t| matches!(t, Transport::Tcp(h) if h.src_port == 40_000 && h.dst_port == 80),
        ),
        (
            "eth_ipv4_tcp_1400b",
            ipv4_tcp(1400),
            |t| matches!(t, Transport::Tcp(h) if h.dst_port == 80),
        ),
        ("eth_ipv6_udp", ipv6_udp(), |t| {
            matches!(t, Transport::Udp { dst_port: 53, .. })
        }),
        (
            "eth_vlan_ipv4_tcp",
            vlan_tcp(),
            |t| matches!(t, Transport::Tcp(h) if h.dst_port == 443),
        ),
        ("eth_qinq_ipv4_udp", qinq_udp(), |t| {
            matches!(t, Transport::Udp { dst_port: 53, .. })
        }),
        ("eth_ipv4_icmp_echo", icmp_echo(), |t| {
            matches!(t, Transport::Icmp { icmp_type: 8, .. })
        }),
    ]
}

/// Decodes `frame`, panicking unless it is the expected IP packet.
fn check(name: &str, frame: &[u8], ok: fn(&Transport) -> bool) {
    match decode(LinkType::Ethernet, frame) {
        Ok(Decoded::Ip(p)) => assert!(ok(&p.transport), "{name}: {:?}", p.transport),
        other => panic!("{name}: decoded as {other:?}"),
    }
}

fn bench_decode(c: &mut Criterion) {
    let frames = frames();
    for (name, frame, ok) in &frames {
        check(name, frame, *ok);
    }
    let vlans = match decode(LinkType::Ethernet, &frames[4].1) {
        Ok(Decoded::Ip(p)) => p.vlans,
        other => panic!("qinq: {other:?}"),
    };
    assert_eq!(vlans.as_slice(), &[200, 100]);

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, frame, _) in &frames {
        g.bench_function(*name, |b| {
            b.iter(|| decode(LinkType::Ethernet, black_box(frame.as_slice())).is_ok())
        });
    }
    // All of them in turn: branch prediction cannot learn one shape.
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("mix", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for (_, frame, _) in &frames {
                n += u32::from(matches!(
                    decode(LinkType::Ethernet, black_box(frame.as_slice())),
                    Ok(Decoded::Ip(_))
                ));
            }
            n
        })
    });
    g.finish();
}

/// Checksum validation of a full-size IPv4 TCP segment (header and transport, with
/// the pseudo header), in bytes per second.
fn bench_checksum(c: &mut Criterion) {
    use flowengine::decode::checksum::{ipv4_header_ok, transport_ok};
    use flowengine::decode::IpVersion;
    let mut g = c.benchmark_group("checksum");
    // 160 bytes of payload is the benchmark capture's typical packet; 1460 a full one.
    for payload in [160usize, 1460] {
        let frame = ipv4_tcp(payload);
        let ip = frame[14..].to_vec();
        let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
        src[..4].copy_from_slice(&ip[12..16]);
        dst[..4].copy_from_slice(&ip[16..20]);
        let segment = ip[20..].to_vec();
        assert!(ipv4_header_ok(&ip));
        assert_eq!(
            transport_ok(IpVersion::V4, &src, &dst, 6, &segment),
            Some(true)
        );
        g.throughput(Throughput::Bytes(ip.len() as u64));
        g.bench_function(format!("ipv4_tcp_{payload}"), |b| {
            b.iter(|| {
                ipv4_header_ok(black_box(&ip))
                    && transport_ok(IpVersion::V4, &src, &dst, 6, black_box(&segment)) == Some(true)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench_decode, bench_checksum
}
criterion_main!(benches);
