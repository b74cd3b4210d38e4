//! Frame builders: Ethernet frames carrying IPv4 or IPv6 TCP, UDP, ICMP or any other
//! protocol, with optional VLAN tags, built with etherparse's `PacketBuilder` (so
//! checksums are right) or by hand for protocols it does not build.
//!
//! Contract: every function returns the bytes of one complete Ethernet frame.

use etherparse::{IpNumber, PacketBuilder};
use std::net::IpAddr;

/// TCP flag bits.
pub mod flags {
    /// FIN
    pub const FIN: u8 = 0x01;
    /// SYN
    pub const SYN: u8 = 0x02;
    /// RST
    pub const RST: u8 = 0x04;
    /// PSH
    pub const PSH: u8 = 0x08;
    /// ACK
    pub const ACK: u8 = 0x10;
}

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn ip_step(src: IpAddr, dst: IpAddr) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    let eth = PacketBuilder::ethernet2(MAC_A, MAC_B);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed address families"),
    }
}

/// A TCP segment from `src` to `dst` with `flags` (see [`flags`]).
pub fn tcp(
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = ip_step(src.0, dst.0).tcp(src.1, dst.1, seq, 64240);
    if flags & flags::SYN != 0 {
        b = b.syn();
    }
    if flags & flags::FIN != 0 {
        b = b.fin();
    }
    if flags & flags::RST != 0 {
        b = b.rst();
    }
    if flags & flags::PSH != 0 {
        b = b.psh();
    }
    if flags & flags::ACK != 0 {
        b = b.ack(ack);
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).expect("vec");
    out
}

/// A UDP datagram.
pub fn udp(src: (IpAddr, u16), dst: (IpAddr, u16), payload: &[u8]) -> Vec<u8> {
    let b = ip_step(src.0, dst.0).udp(src.1, dst.1);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).expect("vec");
    out
}

/// An ICMP (IPv4) or ICMPv6 echo request or reply.
pub fn echo(src: IpAddr, dst: IpAddr, request: bool, id: u16, seq: u16) -> Vec<u8> {
    let step = ip_step(src, dst);
    let payload = b"flowengine-echo";
    let mut out = Vec::new();
    match (src, request) {
        (IpAddr::V4(_), true) => step.icmpv4_echo_request(id, seq).write(&mut out, payload),
        (IpAddr::V4(_), false) => step.icmpv4_echo_reply(id, seq).write(&mut out, payload),
        (IpAddr::V6(_), true) => step.icmpv6_echo_request(id, seq).write(&mut out, payload),
        (IpAddr::V6(_), false) => step.icmpv6_echo_reply(id, seq).write(&mut out, payload),
    }
    .expect("vec");
    out
}

/// An IPv4 packet of protocol `proto` (no transport header is built), by hand.
pub fn ipv4_proto(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        proto,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut out = ethernet(0x0800);
    out.extend_from_slice(&ip);
    out.extend_from_slice(payload);
    out
}

/// An Ethernet header (fixed MACs) with `ether_type`.
pub fn ethernet(ether_type: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAC_B);
    out.extend_from_slice(&MAC_A);
    out.extend_from_slice(&ether_type.to_be_bytes());
    out
}

/// The same frame with 802.1Q tags inserted after the MAC addresses, outer first.
pub fn with_vlans(frame: &[u8], vlans: &[u16]) -> Vec<u8> {
    let mut out = frame[..12].to_vec();
    for v in vlans {
        out.extend_from_slice(&0x8100u16.to_be_bytes());
        out.extend_from_slice(&(v & 0x0fff).to_be_bytes());
    }
    out.extend_from_slice(&frame[12..]);
    out
}

/// The IP packet of an Ethernet frame (for raw-IP captures).
pub fn ip_of(frame: &[u8]) -> Vec<u8> {
    frame[14..].to_vec()
}

/// An ARP request frame.
pub fn arp() -> Vec<u8> {
    let mut out = ethernet(0x0806);
    out.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    out.extend_from_slice(&MAC_A);
    out.extend_from_slice(&[10, 0, 0, 1]);
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&[10, 0, 0, 2]);
    out
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Shorthand for an IPv4 address.
pub fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::from([a, b, c, d])
}

/// Shorthand for an IPv6 address in 2001:db8::/32 ending in `last`.
pub fn v6(last: u16) -> IpAddr {
    IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, last])
}

/// IP protocol number of GRE, for tests that need "another protocol".
pub const PROTO_GRE: u8 = IpNumber::GRE.0;
