//! Linux netfilter NFLOG captures (`LINKTYPE_NFLOG`, 239).
//!
//! Layout: address family (1), version (1), resource id (2, big-endian), then TLVs of
//! length (2) and type (2) in the capturing host's byte order, the length counting the
//! 4-byte TLV header, each TLV padded to 4 bytes. The payload TLV (`NFULA_PAYLOAD`, 9)
//! holds the IP packet; the family says IPv4 (2) or IPv6 (10).
//!
//! Contract: the byte order is taken as little-endian unless the first TLV only makes
//! sense big-endian (as Wireshark guesses). TLVs are walked with checked reads; a TLV
//! shorter than its header or reaching past the capture before the payload is found is
//! [`DecodeError::LinkTruncated`]. The payload TLV may be cut by the snapshot length:
//! the IP decoder then counts the short capture. A record without a payload, or of
//! another family, is not IP ([`NonIp::LinkControl`]).

use super::Layers;
use super::{ip, DecodeError, Decoded, NonIp};

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const NFULA_PAYLOAD: u16 = 9;
/// Type bits of a netlink attribute (the top two are the nested / byte-order flags).
const NLA_TYPE_MASK: u16 = 0x3fff;

pub(super) fn nflog<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let family = *data.first().ok_or(DecodeError::LinkTruncated)?;
    let mut tlvs = data.get(4..).ok_or(DecodeError::LinkTruncated)?;
    let little = match tlvs.get(..2) {
        Some(b) => {
            let le = usize::from(u16::from_le_bytes([b[0], b[1]]));
            let be = usize::from(u16::from_be_bytes([b[0], b[1]]));
            let fits = |n: usize| n >= 4 && n <= tlvs.len();
            fits(le) || !fits(be)
        }
        None => true,
    };
    let u16_at = |b: &[u8], at: usize| {
        b.get(at..at + 2).map(|x| {
            if little {
                u16::from_le_bytes([x[0], x[1]])
            } else {
                u16::from_be_bytes([x[0], x[1]])
            }
        })
    };
    while !tlvs.is_empty() {
        let len = usize::from(u16_at(tlvs, 0).ok_or(DecodeError::LinkTruncated)?);
        let kind = u16_at(tlvs, 2).ok_or(DecodeError::LinkTruncated)? & NLA_TYPE_MASK;
        if len < 4 {
            return Err(DecodeError::LinkTruncated);
        }
        if kind == NFULA_PAYLOAD {
            let packet = tlvs.get(4..len).unwrap_or(&tlvs[4..]);
            return match family {
                AF_INET => ip::ipv4(packet, l),
                AF_INET6 => ip::ipv6(packet, l),
                _ => Ok(Decoded::NotIp(NonIp::LinkControl)),
            };
        }
        // The last TLV may go without its padding.
        tlvs = tlvs
            .get(len.next_multiple_of(4)..)
            .or_else(|| (len <= tlvs.len()).then_some(&[][..]))
            .ok_or(DecodeError::LinkTruncated)?;
    }
    Ok(Decoded::NotIp(NonIp::LinkControl))
}
