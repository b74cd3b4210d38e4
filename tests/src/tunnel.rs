//! Tunnel frame builders: each wraps an inner packet (an IP packet, or an Ethernet frame
//! for the tunnels that carry Ethernet) in its tunnel headers and an outer Ethernet +
//! IP (+ UDP) frame, the way the tunnel's RFC lays them out.
//!
//! Contract: every function returns one complete Ethernet frame whose outer IP and UDP
//! lengths and checksums are right (outer UDP is built with etherparse).

use crate::frame;
use std::net::IpAddr;

/// Outer endpoints of the tunnel (both IPv4 or both IPv6).
#[derive(Clone, Copy, Debug)]
pub struct Outer {
    /// Tunnel source address.
    pub src: IpAddr,
    /// Tunnel destination address.
    pub dst: IpAddr,
}

impl Outer {
    /// The tunnel seen in the other direction.
    pub fn reversed(self) -> Outer {
        Outer {
            src: self.dst,
            dst: self.src,
        }
    }
}

/// An IP packet of protocol `proto` carrying `payload`, in an Ethernet frame, for IPv4
/// or IPv6 outer addresses.
pub fn ip_frame(outer: Outer, proto: u8, payload: &[u8]) -> Vec<u8> {
    match (outer.src, outer.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => frame::ipv4_proto(s.octets(), d.octets(), proto, payload),
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut out = frame::ethernet(0x86dd);
            out.extend_from_slice(&[0x60, 0, 0, 0]);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            out.extend_from_slice(&[proto, 64]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            out.extend_from_slice(payload);
            out
        }
        _ => panic!("mixed address families"),
    }
}

/// IP-in-IP: `inner_ip` (an IPv4 or IPv6 packet) as protocol 4 or 41.
pub fn ipip(outer: Outer, inner_ip: &[u8]) -> Vec<u8> {
    let proto = if inner_ip.first().map(|b| b >> 4) == Some(6) {
        41
    } else {
        4
    };
    ip_frame(outer, proto, inner_ip)
}

/// GRE version 0 options.
#[derive(Clone, Copy, Debug, Default)]
pub struct GreOptions {
    /// Checksum field present (C bit).
    pub checksum: bool,
    /// Key field (K bit).
    pub key: Option<u32>,
    /// Sequence number (S bit).
    pub seq: Option<u32>,
    /// Source route entries present (R bit): one entry of 4 bytes, then the end entry.
    pub routing: bool,
}

/// The GRE header and payload (no outer IP).
pub fn gre_payload(opts: GreOptions, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u16;
    if opts.checksum {
        flags |= 0x8000;
    }
    if opts.routing {
        flags |= 0x4000;
    }
    if opts.key.is_some() {
        flags |= 0x2000;
    }
    if opts.seq.is_some() {
        flags |= 0x1000;
    }
    let mut g = flags.to_be_bytes().to_vec();
    g.extend_from_slice(&proto.to_be_bytes());
    if opts.checksum || opts.routing {
        g.extend_from_slice(&[0, 0, 0, 0]);
    }
    if let Some(k) = opts.key {
        g.extend_from_slice(&k.to_be_bytes());
    }
    if let Some(s) = opts.seq {
        g.extend_from_slice(&s.to_be_bytes());
    }
    if opts.routing {
        // One IPv4 source route entry of 4 bytes, then the null entry.
        g.extend_from_slice(&[0x08, 0x00, 0, 4, 10, 9, 9, 9]);
        g.extend_from_slice(&[0, 0, 0, 0]);
    }
    g.extend_from_slice(payload);
    g
}

/// GRE version 0 in IP.
pub fn gre(outer: Outer, opts: GreOptions, proto: u16, payload: &[u8]) -> Vec<u8> {
    ip_frame(outer, 47, &gre_payload(opts, proto, payload))
}

/// ERSPAN type I: GRE 0x88be without a sequence number, the mirrored Ethernet frame
/// directly after it.
pub fn erspan1(outer: Outer, inner_eth: &[u8]) -> Vec<u8> {
    gre(outer, GreOptions::default(), 0x88be, inner_eth)
}

/// ERSPAN type II (GRE 0x88be with a sequence number) with the ERSPAN VLAN field.
pub fn erspan2(outer: Outer, vlan: u16, inner_eth: &[u8]) -> Vec<u8> {
    let mut h = (0x1000 | (vlan & 0x0fff)).to_be_bytes().to_vec();
    h.extend_from_slice(&[0x00, 0x64, 0, 0, 0, 0]); // session 100, index 0
    h.extend_from_slice(inner_eth);
    let opts = GreOptions {
        seq: Some(1),
        ..Default::default()
    };
    gre(outer, opts, 0x88be, &h)
}

/// ERSPAN type III (GRE 0x22eb), with the 8-byte platform subheader when `platform`.
pub fn erspan3(outer: Outer, platform: bool, inner_eth: &[u8]) -> Vec<u8> {
    let mut h = vec![0x20, 0x00, 0x00, 0x64, 0, 0, 0, 1, 0, 0, 0];
    h.push(u8::from(platform));
    if platform {
        h.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 0, 0]);
    }
    h.extend_from_slice(inner_eth);
    let opts = GreOptions {
        seq: Some(7),
        ..Default::default()
    };
    gre(outer, opts, 0x22eb, &h)
}

/// PPTP's enhanced GRE (version 1) carrying `inner_ip` in PPP (with the HDLC address
/// and control bytes), sequence and acknowledgement numbers present.
pub fn pptp(outer: Outer, call_id: u16, inner_ip: &[u8]) -> Vec<u8> {
    let mut ppp = vec![0xff, 0x03];
    let proto: u16 = if inner_ip.first().map(|b| b >> 4) == Some(6) {
        0x0057
    } else {
        0x0021
    };
    ppp.extend_from_slice(&proto.to_be_bytes());
    ppp.extend_from_slice(inner_ip);
    let mut g = vec![0x30, 0x81, 0x88, 0x0b];
    g.extend_from_slice(&(ppp.len() as u16).to_be_bytes());
    g.extend_from_slice(&call_id.to_be_bytes());
    g.extend_from_slice(&5u32.to_be_bytes());
    g.extend_from_slice(&4u32.to_be_bytes());
    g.extend_from_slice(&ppp);
    ip_frame(outer, 47, &g)
}

fn udp_frame(outer: Outer, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    frame::udp((outer.src, sport), (outer.dst, dport), payload)
}

/// VXLAN on UDP `dport` (4789 by default) from `sport`, VNI `vni`, carrying an
/// Ethernet frame.
pub fn vxlan(outer: Outer, sport: u16, dport: u16, vni: u32, inner_eth: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(inner_eth);
    udp_frame(outer, sport, dport, &v)
}

/// Geneve on UDP 6081 with `options` (a multiple of 4 bytes) and protocol type
/// `proto` (0x6558 Ethernet, 0x0800 IPv4, 0x86dd IPv6).
pub fn geneve(outer: Outer, sport: u16, proto: u16, options: &[u8], inner: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut g = vec![(options.len() / 4) as u8, 0];
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(&[0, 0, 42, 0]);
    g.extend_from_slice(options);
    g.extend_from_slice(inner);
    udp_frame(outer, sport, 6081, &g)
}

/// Teredo: `inner_ipv6` on UDP to or from port 3544, with an origin indication header
/// when `origin`.
pub fn teredo(outer: Outer, sport: u16, dport: u16, origin: bool, inner_ipv6: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    if origin {
        t.extend_from_slice(&[0, 0, 0xcf, 0xc7, 0x3f, 0xf5, 0xff, 0xfe]);
    }
    t.extend_from_slice(inner_ipv6);
    udp_frame(outer, sport, dport, &t)
}

/// GTP-U version 1 G-PDU on UDP 2152 with tunnel id `teid`, carrying `inner_ip`; with
/// the optional fields and one PDU-session extension header when `extension`.
pub fn gtp(outer: Outer, teid: u32, extension: bool, inner_ip: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if extension {
        // sequence (2), N-PDU (1), next extension type 0x85 (PDU session container),
        // then that extension: length 1 word, 2 bytes of content, next type 0.
        body.extend_from_slice(&[0, 0, 0, 0x85, 1, 0x10, 0x05, 0]);
    }
    body.extend_from_slice(inner_ip);
    let flags = if extension { 0x34 } else { 0x30 };
    let mut g = vec![flags, 0xff];
    g.extend_from_slice(&(body.len() as u16).to_be_bytes());
    g.extend_from_slice(&teid.to_be_bytes());
    g.extend_from_slice(&body);
    udp_frame(outer, 2152, 2152, &g)
}

/// A GTP-U echo request (signalling, no user packet).
pub fn gtp_echo(outer: Outer) -> Vec<u8> {
    let g = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
    udp_frame(outer, 2152, 2152, &g)
}

/// NSH (EtherType 0x894f) in Ethernet: MD type 1 (24-byte header) or 2 (8 bytes plus
/// one 4-byte context TLV), next protocol 1 (IPv4), 2 (IPv6) or 3 (Ethernet).
pub fn nsh(md_type: u8, next: u8, inner: &[u8]) -> Vec<u8> {
    let words: u8 = if md_type == 1 { 6 } else { 3 };
    let mut out = frame::ethernet(0x894f);
    out.extend_from_slice(&[0x0f, 0xc0 | words, md_type, next]);
    out.extend_from_slice(&[0, 0, 1, 255]);
    out.resize(out.len() + (usize::from(words) - 2) * 4, 0);
    out.extend_from_slice(inner);
    out
}

/// A PPPoE session frame (EtherType 0x8864) carrying `inner_ip` in PPP.
pub fn pppoe(session: u16, inner_ip: &[u8]) -> Vec<u8> {
    let proto: u16 = if inner_ip.first().map(|b| b >> 4) == Some(6) {
        0x0057
    } else {
        0x0021
    };
    let mut out = frame::ethernet(0x8864);
    out.extend_from_slice(&[0x11, 0]);
    out.extend_from_slice(&session.to_be_bytes());
    out.extend_from_slice(&((inner_ip.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&proto.to_be_bytes());
    out.extend_from_slice(inner_ip);
    out
}
