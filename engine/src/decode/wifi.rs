//! IEEE 802.11 data frames, bare (`LINKTYPE_IEEE802_11`, 105) or behind a radiotap
//! header (`LINKTYPE_IEEE802_11_RADIOTAP`, 127).
//!
//! Contract: only unprotected data frames that carry data are followed: the MAC header
//! length comes from the frame control field (4-address frames, QoS control, HT
//! control), then an LLC/SNAP header gives the EtherType and the rest goes to the
//! Ethernet payload decoder (VLAN, MPLS, IP). Management, control and extension
//! frames, null-data frames, later fragments of an MSDU and protected (encrypted)
//! frames are not IP to the decoder: they are reported as
//! [`NonIp::LinkControl`]. Of an A-MSDU, the first subframe is decoded. Every read is
//! checked; nothing panics.

use super::link::ether_payload;
use super::Layers;
use super::{DecodeError, Decoded, NonIp};

/// Radiotap "flags" field bit: the frame ends with its 4-byte FCS.
const RADIOTAP_F_FCS: u8 = 0x10;
/// Radiotap "flags" field bit: padding between the 802.11 header and the payload, to a
/// 32-bit boundary.
const RADIOTAP_F_DATAPAD: u8 = 0x20;

/// Frame control, byte 1.
const FC_TO_DS: u8 = 0x01;
const FC_FROM_DS: u8 = 0x02;
const FC_PROTECTED: u8 = 0x40;
const FC_ORDER: u8 = 0x80;

const TYPE_DATA: u8 = 2;
/// Data subtype bit: QoS data (a 2-byte QoS control field follows the addresses).
const SUBTYPE_QOS: u8 = 0x08;
/// Data subtype bit: the frame carries no data (null function, CF-Ack/Poll only).
const SUBTYPE_NO_DATA: u8 = 0x04;
/// QoS control, byte 0: the payload is an A-MSDU.
const QOS_AMSDU: u8 = 0x80;

/// A radiotap header (version, pad, length LE, present words), then an 802.11 frame.
pub(super) fn radiotap<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..8).ok_or(DecodeError::LinkTruncated)?;
    let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    if len < 8 {
        return Err(DecodeError::LinkTruncated);
    }
    let header = data.get(..len).ok_or(DecodeError::LinkTruncated)?;
    let flags = radiotap_flags(header).unwrap_or(0);
    let mut frame = &data[len..];
    if flags & RADIOTAP_F_FCS != 0 {
        frame = frame
            .get(..frame.len().wrapping_sub(4))
            .ok_or(DecodeError::LinkTruncated)?;
    }
    ieee80211(frame, flags & RADIOTAP_F_DATAPAD != 0, l)
}

/// The radiotap "flags" field (present bit 1) when the header holds one.
fn radiotap_flags(header: &[u8]) -> Option<u8> {
    let word = |at: usize| {
        header
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let present = word(4)?;
    if present & 0x02 == 0 {
        return None;
    }
    // Fields start after the last present word (bit 31 chains another).
    let mut at = 4;
    while word(at)? & 0x8000_0000 != 0 {
        at += 4;
    }
    at += 4;
    if present & 0x01 != 0 {
        // TSFT: 8 bytes, aligned to 8 from the start of the header.
        at = at.next_multiple_of(8) + 8;
    }
    header.get(at).copied()
}

/// An 802.11 MAC frame (no FCS). `data_pad`: the payload starts at a 4-byte boundary.
pub(super) fn ieee80211<'a>(
    data: &'a [u8],
    data_pad: bool,
    l: &mut Layers,
) -> Result<Decoded<'a>, DecodeError> {
    let fc = data.get(..2).ok_or(DecodeError::LinkTruncated)?;
    let (version, ftype, subtype) = (fc[0] & 0x03, (fc[0] >> 2) & 0x03, fc[0] >> 4);
    let flags = fc[1];
    if version != 0 || ftype != TYPE_DATA || subtype & SUBTYPE_NO_DATA != 0 {
        return Ok(Decoded::NotIp(NonIp::LinkControl));
    }
    if flags & FC_PROTECTED != 0 {
        return Ok(Decoded::NotIp(NonIp::LinkControl));
    }
    // Frame control, duration, three addresses, sequence control.
    let mut hlen = 24;
    if flags & (FC_TO_DS | FC_FROM_DS) == FC_TO_DS | FC_FROM_DS {
        hlen += 6;
    }
    let qos = subtype & SUBTYPE_QOS != 0;
    let mut amsdu = false;
    if qos {
        amsdu = data.get(hlen).ok_or(DecodeError::LinkTruncated)? & QOS_AMSDU != 0;
        hlen += 2;
        if flags & FC_ORDER != 0 {
            hlen += 4;
        }
    }
    let seq = data.get(22..24).ok_or(DecodeError::LinkTruncated)?;
    if seq[0] & 0x0f != 0 {
        // A later fragment of an MSDU: no LLC header of its own.
        return Ok(Decoded::NotIp(NonIp::LinkControl));
    }
    if data_pad {
        hlen = hlen.next_multiple_of(4);
    }
    let mut body = data.get(hlen..).ok_or(DecodeError::LinkTruncated)?;
    if amsdu {
        // First subframe: destination, source, length (BE), then its LLC header.
        let sub = body.get(..14).ok_or(DecodeError::LinkTruncated)?;
        let n = usize::from(u16::from_be_bytes([sub[12], sub[13]]));
        body = &body[14..];
        body = body.get(..n).unwrap_or(body);
    }
    llc_snap(body, l)
}

/// An LLC header: SNAP (AA AA 03, OUI, EtherType) goes on as Ethernet payload.
fn llc_snap<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..3).ok_or(DecodeError::LinkTruncated)?;
    if h != [0xaa, 0xaa, 0x03] {
        return Ok(Decoded::NotIp(NonIp::Llc));
    }
    let snap = data.get(3..8).ok_or(DecodeError::LinkTruncated)?;
    // RFC 1042 (OUI 0) and 802.1H bridge tunnel (00-00-F8) carry an EtherType.
    if snap[..3] != [0, 0, 0] && snap[..3] != [0, 0, 0xf8] {
        return Ok(Decoded::NotIp(NonIp::Llc));
    }
    ether_payload(u16::from_be_bytes([snap[3], snap[4]]), &data[8..], l)
}
