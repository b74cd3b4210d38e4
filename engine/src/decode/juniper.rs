//! Juniper Ethernet captures (`LINKTYPE_JUNIPER_ETHER`, 178), as JUNOS writes them.
//!
//! Layout: magic "MGC" (3), flags (1); when the extensions flag (0x80) is set, a 2-byte
//! big-endian length of the extension TLVs that follow it; then the Ethernet frame. When
//! the "no layer 2" flag (0x02) is set there is no Ethernet header but a 4-byte
//! host-order (little-endian) protocol code, then the packet.
//!
//! Contract: frames without the magic (older JUNOS releases) are read as plain
//! Ethernet, as Wireshark does; every read is checked.

use super::link::{cisco_hdlc, ethernet, mpls, ppp};
use super::Layers;
use super::{ip, DecodeError, Decoded, NonIp};

const MAGIC: &[u8; 3] = b"MGC";
const FLAG_NO_L2: u8 = 0x02;
const FLAG_EXT: u8 = 0x80;

pub(super) fn juniper_ether<'a>(
    data: &'a [u8],
    l: &mut Layers,
) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..4).ok_or(DecodeError::LinkTruncated)?;
    if h[..3] != MAGIC[..] {
        return ethernet(data, l);
    }
    let flags = h[3];
    let mut hlen = 4;
    if flags & FLAG_EXT != 0 {
        let ext = data.get(4..6).ok_or(DecodeError::LinkTruncated)?;
        hlen = 6 + usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let rest = data.get(hlen..).ok_or(DecodeError::LinkTruncated)?;
    if flags & FLAG_NO_L2 == 0 {
        return ethernet(rest, l);
    }
    let p = rest.get(..4).ok_or(DecodeError::LinkTruncated)?;
    let packet = &rest[4..];
    match u32::from_le_bytes([p[0], p[1], p[2], p[3]]) {
        // IPv4; MPLS popped to IPv4.
        2 | 3 => ip::ipv4(packet, l),
        // IPv6; MPLS popped to IPv6.
        6 | 7 => ip::ipv6(packet, l),
        // MPLS; IPv4 or IPv6 pushed into MPLS.
        4 | 5 | 8 => mpls(packet, l),
        // An IPv4 packet behind 4 unknown bytes (Wireshark's reading).
        0xa248 => ip::ipv4(packet.get(4..).ok_or(DecodeError::LinkTruncated)?, l),
        200 => ppp(packet, l),
        204 => ethernet(packet, l),
        208 => cisco_hdlc(packet, l),
        _ => Ok(Decoded::NotIp(NonIp::LinkControl)),
    }
}
