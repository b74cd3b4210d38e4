//! Fragment builders: split an IPv4 or IPv6 packet into fragments the way a sender
//! does, or build single fragments with chosen offsets and bytes (for overlaps,
//! duplicates and gaps).
//!
//! Contract: every function returns complete Ethernet frames; IPv4 header checksums
//! are right.

use crate::frame;

/// One IPv4 fragment of the datagram whose header is `header` (20 bytes, from the
/// unfragmented packet): `data` at byte `offset` (a multiple of 8), MF as `more`.
pub fn ipv4_fragment(header: &[u8], id: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    assert_eq!(offset % 8, 0, "fragment offsets are multiples of 8");
    let mut ip = header[..20].to_vec();
    let total = 20 + data.len();
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    let flags = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    ip[6..8].copy_from_slice(&flags.to_be_bytes());
    ip[10..12].copy_from_slice(&[0, 0]);
    let sum = frame::checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut out = frame::ethernet(0x0800);
    out.extend_from_slice(&ip);
    out.extend_from_slice(data);
    out
}

/// One IPv6 fragment of the datagram whose fixed header is `header` (40 bytes, from
/// the unfragmented packet; its next header is the fragmented protocol).
pub fn ipv6_fragment(header: &[u8], id: u32, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    assert_eq!(offset % 8, 0, "fragment offsets are multiples of 8");
    let mut ip = header[..40].to_vec();
    let proto = ip[6];
    ip[4..6].copy_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    ip[6] = 44;
    let off = (offset as u16) | u16::from(more);
    ip.extend_from_slice(&[proto, 0]);
    ip.extend_from_slice(&off.to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    let mut out = frame::ethernet(0x86dd);
    out.extend_from_slice(&ip);
    out.extend_from_slice(data);
    out
}

/// Splits the IP packet of Ethernet frame `eth` (IPv4 without options, or IPv6 without
/// extension headers) into fragments of at most `size` payload bytes (a multiple of
/// 8), in order.
pub fn split(eth: &[u8], id: u32, size: usize) -> Vec<Vec<u8>> {
    assert_eq!(size % 8, 0);
    let ip = &eth[14..];
    let v6 = ip[0] >> 4 == 6;
    let (header, payload) = if v6 { ip.split_at(40) } else { ip.split_at(20) };
    let mut out = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let end = (at + size).min(payload.len());
        let more = end < payload.len();
        out.push(if v6 {
            ipv6_fragment(header, id, at, more, &payload[at..end])
        } else {
            ipv4_fragment(header, id as u16, at, more, &payload[at..end])
        });
        at = end;
    }
    out
}
