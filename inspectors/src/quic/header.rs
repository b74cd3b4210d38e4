//! QUIC long headers (RFC 9000 section 17.2, RFC 9369 for version 2, and the IETF
//! drafts): enough to find each packet of a datagram, its version, connection ids,
//! type, where its protected packet number starts and where it ends.
//!
//! Contract: [`LongHeader::parse`] reads one packet at the start of `b` and never reads
//! past it; lengths that overrun the datagram are errors ([`HeaderError`]). Packet
//! types are decoded per version (v2 renumbered them). Versions whose layout is not
//! known (Google QUIC, unknown numbers) yield the version and connection ids with
//! [`PacketType::Unknown`], and the caller stops at them.

/// Version numbers.
pub mod version {
    /// QUIC version 1 (RFC 9000).
    pub const V1: u32 = 0x0000_0001;
    /// QUIC version 2 (RFC 9369).
    pub const V2: u32 = 0x6b33_43cf;
}

/// A long-header packet's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// Initial.
    Initial,
    /// 0-RTT.
    ZeroRtt,
    /// Handshake.
    Handshake,
    /// Retry.
    Retry,
    /// Version negotiation (version 0).
    VersionNegotiation,
    /// A version whose packet layout is not known here.
    Unknown,
}

/// Why a packet header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Not a long header (short header or empty).
    #[error("not a long-header packet")]
    NotLong,
    /// The header or its Length runs past the datagram.
    #[error("truncated QUIC packet")]
    Truncated,
}

/// A parsed long header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// The first byte, still header-protected.
    pub first: u8,
    /// The version.
    pub version: u32,
    /// Destination connection id.
    pub dcid: &'a [u8],
    /// Source connection id.
    pub scid: &'a [u8],
    /// The packet type.
    pub ty: PacketType,
    /// Offset of the (protected) packet number (Initial, 0-RTT, Handshake).
    pub pn_offset: usize,
    /// Bytes of this packet in the datagram (the rest may hold more packets).
    pub len: usize,
}

/// True for the versions whose long header layout is RFC 9000's: v1, v2, the drafts
/// 0xff0000xx, Facebook's mvfst versions (`faceb001`, `faceb002`, `faceb00e`) and
/// Google's Q050, T050 and T051.
pub fn is_ietf(v: u32) -> bool {
    v == version::V1
        || v == version::V2
        || (v >> 8) == 0x00ff_0000
        || matches!(v, 0xface_b001 | 0xface_b002 | 0xface_b00e)
        || is_google_ietf(v)
}

/// Google QUIC versions with RFC 9000's long header and Initial protection (each with
/// its own salt): Q050 (a CHLO in its CRYPTO frames), T050 and T051 (a TLS
/// ClientHello).
pub fn is_google_ietf(v: u32) -> bool {
    matches!(v, 0x5130_3530 | 0x5430_3530 | 0x5430_3531)
}

impl<'a> LongHeader<'a> {
    /// Parses the packet at the start of `b`.
    pub fn parse(b: &'a [u8]) -> Result<Self, HeaderError> {
        let first = *b.first().ok_or(HeaderError::NotLong)?;
        if first & 0x80 == 0 {
            return Err(HeaderError::NotLong);
        }
        let version = u32::from_be_bytes(
            *b.get(1..5)
                .and_then(|s| s.first_chunk::<4>())
                .ok_or(HeaderError::Truncated)?,
        );
        if version != 0 && !is_ietf(version) {
            return Ok(LongHeader {
                first,
                version,
                dcid: &[],
                scid: &[],
                ty: PacketType::Unknown,
                pn_offset: 5,
                len: b.len(),
            });
        }
        let mut at = 5;
        let dcid = take_cid(b, &mut at)?;
        let scid = take_cid(b, &mut at)?;
        let ty = if version == 0 {
            PacketType::VersionNegotiation
        } else {
            let bits = (first >> 4) & 0x03;
            match (version == version::V2, bits) {
                (false, 0) | (true, 1) => PacketType::Initial,
                (false, 1) | (true, 2) => PacketType::ZeroRtt,
                (false, 2) | (true, 3) => PacketType::Handshake,
                _ => PacketType::Retry,
            }
        };
        match ty {
            PacketType::Initial | PacketType::ZeroRtt | PacketType::Handshake => {
                if ty == PacketType::Initial {
                    let (tlen, n) =
                        varint(b.get(at..).unwrap_or_default()).ok_or(HeaderError::Truncated)?;
                    at += n;
                    at = usize::try_from(tlen)
                        .ok()
                        .and_then(|t| at.checked_add(t))
                        .filter(|e| *e <= b.len())
                        .ok_or(HeaderError::Truncated)?;
                }
                let (plen, n) =
                    varint(b.get(at..).unwrap_or_default()).ok_or(HeaderError::Truncated)?;
                at += n;
                let end = usize::try_from(plen)
                    .ok()
                    .and_then(|p| at.checked_add(p))
                    .filter(|e| *e <= b.len())
                    .ok_or(HeaderError::Truncated)?;
                Ok(LongHeader {
                    first,
                    version,
                    dcid,
                    scid,
                    ty,
                    pn_offset: at,
                    len: end,
                })
            }
            _ => Ok(LongHeader {
                first,
                version,
                dcid,
                scid,
                ty,
                pn_offset: at,
                len: b.len(),
            }),
        }
    }
}

fn take_cid<'a>(b: &'a [u8], at: &mut usize) -> Result<&'a [u8], HeaderError> {
    let len = usize::from(*b.get(*at).ok_or(HeaderError::Truncated)?);
    let cid = b
        .get(*at + 1..*at + 1 + len)
        .ok_or(HeaderError::Truncated)?;
    *at += 1 + len;
    Ok(cid)
}

/// A variable-length integer (RFC 9000 section 16): value and bytes used.
pub fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let n = 1usize << (first >> 6);
    let bytes = b.get(..n)?;
    let v = bytes
        .iter()
        .skip(1)
        .fold(u64::from(first & 0x3f), |acc, x| acc << 8 | u64::from(*x));
    Some((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_rfc9000_appendix_a1() {
        assert_eq!(
            varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            Some((151_288_809_941_952_652, 8))
        );
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e, 0x7d]), Some((494_878_333, 4)));
        assert_eq!(varint(&[0x7b, 0xbd]), Some((15_293, 2)));
        assert_eq!(varint(&[0x25]), Some((37, 1)));
        assert_eq!(varint(&[0x40, 0x25]), Some((37, 2)));
        assert_eq!(varint(&[0x7b]), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn initial_header_fields_and_bounds() {
        // v1 Initial: dcid 8394c8f03e515708, no scid, no token, Length 0x449e.
        let mut p = vec![
            0xc0, 0, 0, 0, 1, 8, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08,
        ];
        p.extend([0, 0, 0x44, 0x9e]);
        p.resize(18 + 0x49e, 0);
        let h = LongHeader::parse(&p).expect("parses");
        assert_eq!(h.ty, PacketType::Initial);
        assert_eq!(h.version, version::V1);
        assert_eq!(h.dcid, &p[6..14]);
        assert_eq!(h.pn_offset, 18);
        assert_eq!(h.len, 1200);
        // One byte short: the Length overruns.
        assert_eq!(LongHeader::parse(&p[..1199]), Err(HeaderError::Truncated));
        // v2 numbers Initial as 0b01.
        p[0] = 0xd0;
        p[1..5].copy_from_slice(&version::V2.to_be_bytes());
        assert_eq!(LongHeader::parse(&p).map(|h| h.ty), Ok(PacketType::Initial));
        // Short header.
        assert_eq!(LongHeader::parse(&[0x40, 1, 2]), Err(HeaderError::NotLong));
        // Google QUIC: known as unknown.
        let g = [0xc3, b'Q', b'0', b'4', b'6', 0x50, 1, 2, 3, 4, 5, 6, 7, 8];
        let h = LongHeader::parse(&g).expect("parses");
        assert_eq!(h.ty, PacketType::Unknown);
    }
}
