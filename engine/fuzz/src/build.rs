//! Packet builders for the structured fuzz inputs of `defrag_tunnel`: IPv4/IPv6
//! packets, their fragments, the tunnel headers the decoder opens, and the link layer.
//! Lengths and the IPv4 header checksum are right unless the input asks otherwise, so
//! the decoder goes past its length checks and the defragmenter gets datagrams that can
//! complete.

/// IP protocol numbers used here.
pub const UDP: u8 = 17;
/// TCP.
pub const TCP: u8 = 6;
/// ICMP.
pub const ICMP: u8 = 1;
/// ICMPv6.
pub const ICMPV6: u8 = 58;
/// IPv4 in IP.
pub const IPIP: u8 = 4;
/// IPv6 in IP.
pub const IPV6IP: u8 = 41;
/// GRE.
pub const GRE: u8 = 47;

/// The internet checksum of `b`.
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// IPv4 address `10.0.<net>.<host>`.
pub fn v4(net: u8, host: u8) -> [u8; 4] {
    [10, 0, net, host]
}

/// IPv6 address `2001:db8::<net>:<host>`.
pub fn v6(net: u8, host: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[13] = net;
    a[15] = host;
    a
}

/// An IPv4 header (20 bytes, no options) for a payload of `len` bytes, with
/// identification `id`, `frag` (flags and offset in 8-byte units) and a correct
/// checksum.
pub fn ipv4_header(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    len: usize,
    id: u16,
    frag: u16,
) -> Vec<u8> {
    let total = (20 + len).min(0xffff) as u16;
    let mut h = Vec::with_capacity(20);
    h.extend_from_slice(&[0x45, 0]);
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let sum = checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h
}

/// A whole IPv4 packet.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = ipv4_header(src, dst, proto, payload.len(), id, 0);
    p.extend_from_slice(payload);
    p
}

/// A whole IPv6 packet (no extension header).
pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len().min(0xffff) as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// UDP header and payload (checksum 0).
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()).min(0xffff) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// TCP header (20 bytes) with `flags`, and payload.
pub fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// ICMP/ICMPv6 echo request and payload.
pub fn echo(v6: bool, ident: u16, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    e.extend_from_slice(&ident.to_be_bytes());
    e.extend_from_slice(&[0, 1]);
    e.extend_from_slice(payload);
    e
}

/// Length of the IP header of a packet built here (IPv4 with options, IPv6 fixed).
fn header_len(p: &[u8]) -> usize {
    match p.first().map(|b| b >> 4) {
        Some(4) => usize::from(p[0] & 0x0f) * 4,
        _ => 40,
    }
}

/// One fragment of the whole IP packet `p` (IPv4 or IPv6 without extension headers,
/// as built here): `units` 8-byte units of its payload from `offset_units` (0 units:
/// to the end). MF is set when data follows, flipped when `flip_mf`. IPv6 fragments
/// get a Fragment header with identification `id`; IPv4 keeps its own id unless `id`
/// is given.
pub fn fragment(p: &[u8], offset_units: u16, units: u16, flip_mf: bool, id: u32) -> Vec<u8> {
    let hlen = header_len(p).min(p.len());
    let payload = &p[hlen..];
    let start = (usize::from(offset_units) * 8).min(payload.len());
    let end = if units == 0 {
        payload.len()
    } else {
        (start + usize::from(units) * 8).min(payload.len())
    };
    let more = (end < payload.len()) ^ flip_mf;
    let data = &payload[start..end];
    let off_field = offset_units & 0x1fff;
    if p.first().map(|b| b >> 4) == Some(4) {
        let mut h = p[..hlen].to_vec();
        let total = (hlen + data.len()).min(0xffff) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&(id as u16).to_be_bytes());
        let flags = u16::from(more) << 13 | off_field;
        h[6..8].copy_from_slice(&flags.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let sum = checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(data);
        h
    } else {
        let mut h = p[..hlen].to_vec();
        if h.len() < 40 {
            return h;
        }
        let next = h[6];
        h[6] = 44;
        let plen = (8 + data.len()).min(0xffff) as u16;
        h[4..6].copy_from_slice(&plen.to_be_bytes());
        h.extend_from_slice(&[next, 0]);
        h.extend_from_slice(&(off_field << 3 | u16::from(more)).to_be_bytes());
        h.extend_from_slice(&id.to_be_bytes());
        h.extend_from_slice(data);
        h
    }
}

/// Ethernet header with an optional 802.1Q tag, then `payload` of `ethertype`.
pub fn ethernet(ethertype: u16, vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    ];
    if let Some(v) = vlan {
        e.extend_from_slice(&[0x81, 0x00]);
        e.extend_from_slice(&(v & 0x0fff).to_be_bytes());
    }
    e.extend_from_slice(&ethertype.to_be_bytes());
    e.extend_from_slice(payload);
    e
}

/// The EtherType of an IP packet built here.
pub fn ethertype_of(ip: &[u8]) -> u16 {
    if ip.first().map(|b| b >> 4) == Some(6) {
        0x86dd
    } else {
        0x0800
    }
}

/// GRE header bits (RFC 2784/2890/1701).
pub const GRE_C: u16 = 0x8000;
/// Routing present.
pub const GRE_R: u16 = 0x4000;
/// Key present.
pub const GRE_K: u16 = 0x2000;
/// Sequence number present.
pub const GRE_S: u16 = 0x1000;

/// A GRE version-0 header with `flags` (C, R, K, S honoured with their fields; one
/// source route entry and the terminator when R) and `proto`, then `payload`.
pub fn gre(flags: u16, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut g = flags.to_be_bytes().to_vec();
    g.extend_from_slice(&proto.to_be_bytes());
    if flags & (GRE_C | GRE_R) != 0 {
        g.extend_from_slice(&[0, 0, 0, 0]);
    }
    if flags & GRE_K != 0 {
        g.extend_from_slice(&[0, 0, 0x30, 0x39]);
    }
    if flags & GRE_S != 0 {
        g.extend_from_slice(&[0, 0, 0, 7]);
    }
    if flags & GRE_R != 0 {
        g.extend_from_slice(&[0x08, 0x00, 0, 4, 10, 9, 9, 9, 0, 0, 0, 0]);
    }
    g.extend_from_slice(payload);
    g
}

/// PPTP's enhanced GRE (version 1, key, sequence number) carrying `ip` in PPP.
pub fn pptp(ip: &[u8], acf: bool) -> Vec<u8> {
    let mut ppp = if acf { vec![0xff, 0x03] } else { Vec::new() };
    let proto: u16 = if ethertype_of(ip) == 0x86dd {
        0x0057
    } else {
        0x0021
    };
    ppp.extend_from_slice(&proto.to_be_bytes());
    ppp.extend_from_slice(ip);
    let mut g = vec![0x30, 0x01, 0x88, 0x0b];
    g.extend_from_slice(&(ppp.len().min(0xffff) as u16).to_be_bytes());
    g.extend_from_slice(&[0, 9]);
    g.extend_from_slice(&1u32.to_be_bytes());
    g.extend_from_slice(&ppp);
    g
}

/// VXLAN header (I flag, VNI) and the Ethernet frame.
pub fn vxlan(vni: u32, eth: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(eth);
    v
}

/// Geneve header with `opt_words` 4-byte option words and protocol `proto`.
pub fn geneve(opt_words: u8, proto: u16, inner: &[u8]) -> Vec<u8> {
    let mut g = vec![opt_words & 0x3f, 0];
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(&[0, 0, 42, 0]);
    g.resize(g.len() + usize::from(opt_words & 0x3f) * 4, 0);
    g.extend_from_slice(inner);
    g
}

/// Teredo: an optional origin indication, then the IPv6 packet.
pub fn teredo(origin: bool, ip6: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    if origin {
        t.extend_from_slice(&[0, 0, 0xcf, 0xc7, 0x3f, 0xf5, 0xff, 0xfe]);
    }
    t.extend_from_slice(ip6);
    t
}

/// GTP-U v1 G-PDU (with the optional fields and one extension header when `ext`).
pub fn gtp(ext: bool, ip: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if ext {
        body.extend_from_slice(&[0, 0, 0, 0x85, 1, 0x10, 0x05, 0]);
    }
    body.extend_from_slice(ip);
    let mut g = vec![if ext { 0x34 } else { 0x30 }, 0xff];
    g.extend_from_slice(&(body.len().min(0xffff) as u16).to_be_bytes());
    g.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    g.extend_from_slice(&body);
    g
}

/// NSH, MD type 2 (8-byte header) or 1 (24 bytes), next protocol 1 (IPv4) or 2 (IPv6).
pub fn nsh(md1: bool, ip: &[u8]) -> Vec<u8> {
    let words: u8 = if md1 { 6 } else { 2 };
    let next = if ethertype_of(ip) == 0x86dd { 2 } else { 1 };
    let mut n = vec![0x0f, 0xc0 | words, if md1 { 1 } else { 2 }, next];
    n.extend_from_slice(&[0, 0, 1, 255]);
    n.resize(usize::from(words) * 4, 0);
    n.extend_from_slice(ip);
    n
}

/// One MPLS label (bottom of stack) then `ip`.
pub fn mpls(ip: &[u8]) -> Vec<u8> {
    let mut m = ((16u32 << 12) | 0x100 | 64).to_be_bytes().to_vec();
    m.extend_from_slice(ip);
    m
}
