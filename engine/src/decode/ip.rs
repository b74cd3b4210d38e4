//! IPv4 (with options and AH) and IPv6 (with extension headers) through etherparse's
//! checked slices, then the transport header.
//!
//! Contract: a packet is accepted only when the captured bytes hold the whole IP packet
//! as its length field states (shorter captures are counted as `*_capture_short`, as
//! Suricata and nDPI refuse them); trailing link padding is cut off by the IP length.

use super::{
    anomaly, DecodeError, Decoded, DecodedPacket, Fragment, IpVersion, Layers, TcpInfo, Transport,
};
use etherparse::err::{ipv4, ipv6, ipv6_exts, Layer, LenError};
use etherparse::LenSource;
use etherparse::{Ipv4Slice, Ipv6Slice, LaxIpv4Slice};

pub(super) const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
pub(super) const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;
const PROTO_FRAGMENT: u8 = 44;

fn v4_len_error(e: &LenError) -> DecodeError {
    match (e.layer, e.len_source) {
        (Layer::Ipv4Header, _) => DecodeError::Ipv4Truncated,
        (Layer::Ipv4Packet, LenSource::Slice) => DecodeError::Ipv4CaptureShort,
        (Layer::Ipv4Packet, _) => DecodeError::Ipv4BadTotalLength,
        (Layer::IpAuthHeader, _) => DecodeError::Ipv4AuthInvalid,
        _ => DecodeError::Ipv4CaptureShort,
    }
}

pub(super) fn ipv4<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let mut anomalies = 0;
    let strict = Ipv4Slice::from_slice(data);
    // Total length 0 comes from segmentation offload on the capturing host (Wireshark
    // reads the packet to the end of the capture then).
    let s = match strict {
        Err(ipv4::SliceError::Len(e))
            if e.layer == Layer::Ipv4Packet
                && e.len_source == LenSource::Ipv4HeaderTotalLen
                && data.get(2..4) == Some(&[0, 0]) =>
        {
            anomalies |= anomaly::IPV4_ZERO_LENGTH;
            let lax = LaxIpv4Slice::from_slice(data)
                .map_err(|_| DecodeError::Ipv4BadTotalLength)?
                .0;
            let h = lax.header();
            let payload = lax.payload();
            let hlen = h.slice().len();
            if h.more_fragments() || h.fragments_offset().value() != 0 {
                return Ok(v4_fragment(l, &h, &data[..hlen], payload.payload));
            }
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src[..4].copy_from_slice(&h.source());
            dst[..4].copy_from_slice(&h.destination());
            return transport(
                l,
                IpVersion::V4,
                src,
                dst,
                payload.ip_number.0,
                payload.payload,
                false,
                PROTO_ICMP,
                anomalies,
                &data[..hlen],
            );
        }
        other => other,
    };
    let s = s.map_err(|e| match e {
        ipv4::SliceError::Len(e) => v4_len_error(&e),
        ipv4::SliceError::Header(ipv4::HeaderError::UnexpectedVersion { .. }) => {
            DecodeError::IpVersionMismatch
        }
        ipv4::SliceError::Header(_) => DecodeError::Ipv4BadHeader,
        ipv4::SliceError::Exts(_) => DecodeError::Ipv4AuthInvalid,
    })?;
    let h = s.header();
    if h.more_fragments() || h.fragments_offset().value() != 0 {
        let hlen = h.slice().len();
        let total = usize::from(h.total_len());
        return Ok(v4_fragment(l, &h, &data[..hlen], &data[hlen..total]));
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src[..4].copy_from_slice(&h.source());
    dst[..4].copy_from_slice(&h.destination());
    let payload = s.payload();
    let header = &data[..h.slice().len()];
    transport(
        l,
        IpVersion::V4,
        src,
        dst,
        payload.ip_number.0,
        payload.payload,
        false,
        PROTO_ICMP,
        anomalies,
        header,
    )
}

/// An IPv4 fragment: the header as captured and the fragment's data.
fn v4_fragment<'a>(
    l: &Layers,
    h: &etherparse::Ipv4HeaderSlice<'_>,
    header: &'a [u8],
    data: &'a [u8],
) -> Decoded<'a> {
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src[..4].copy_from_slice(&h.source());
    dst[..4].copy_from_slice(&h.destination());
    Decoded::Fragment(Fragment {
        layers: *l,
        version: IpVersion::V4,
        src,
        dst,
        proto: h.protocol().0,
        id: u32::from(h.identification()),
        offset: u32::from(h.fragments_offset().value()) * 8,
        more: h.more_fragments(),
        ttl: h.ttl(),
        header,
        data,
    })
}

pub(super) fn ipv6<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let s = Ipv6Slice::from_slice(data).map_err(|e| match e {
        ipv6::SliceError::Len(e) => match (e.layer, e.len_source) {
            (Layer::Ipv6Header, _) => DecodeError::Ipv6Truncated,
            (Layer::Ipv6Packet, LenSource::Slice) => DecodeError::Ipv6CaptureShort,
            _ => DecodeError::Ipv6ExtInvalid,
        },
        ipv6::SliceError::Header(_) => DecodeError::IpVersionMismatch,
        ipv6::SliceError::Exts(ipv6_exts::HeaderError::HopByHopNotAtStart)
        | ipv6::SliceError::Exts(_) => DecodeError::Ipv6ExtInvalid,
    })?;
    let h = s.header();
    if s.is_payload_fragmented() {
        let end = 40 + usize::from(h.payload_length());
        return v6_fragment(l, &data[..end]).ok_or(DecodeError::Ipv6ExtInvalid);
    }
    let payload = s.payload();
    transport(
        l,
        IpVersion::V6,
        h.source(),
        h.destination(),
        payload.ip_number.0,
        payload.payload,
        false,
        PROTO_ICMPV6,
        0,
        &[],
    )
}

/// An IPv6 fragment: walks the extension headers before the Fragment header (their
/// chain was already checked) to split the packet into the unfragmentable part and
/// the fragment's data.
fn v6_fragment<'a>(l: &Layers, pkt: &'a [u8]) -> Option<Decoded<'a>> {
    let mut next = *pkt.get(6)?;
    let mut at = 40usize;
    loop {
        let len = match next {
            PROTO_FRAGMENT => break,
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => (usize::from(*pkt.get(at + 1)?) + 1) * 8,
            // Authentication header: length in 4-byte words, minus 2.
            51 => (usize::from(*pkt.get(at + 1)?) + 2) * 4,
            _ => return None,
        };
        next = *pkt.get(at)?;
        at += len;
    }
    let f = pkt.get(at..at + 8)?;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&pkt[8..24]);
    dst.copy_from_slice(&pkt[24..40]);
    let off_flags = u16::from_be_bytes([f[2], f[3]]);
    Some(Decoded::Fragment(Fragment {
        layers: *l,
        version: IpVersion::V6,
        src,
        dst,
        proto: f[0],
        id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
        offset: u32::from(off_flags >> 3) * 8,
        more: off_flags & 1 != 0,
        ttl: pkt[7],
        header: &pkt[..at],
        data: &pkt[at + 8..],
    }))
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Decodes the transport header of `seg` (the IP payload, protocol `proto`).
/// `first_fragment`: `seg` is only the start of a fragmented datagram.
#[allow(clippy::too_many_arguments)]
pub(super) fn transport<'a>(
    l: &Layers,
    version: IpVersion,
    src: [u8; 16],
    dst: [u8; 16],
    proto: u8,
    seg: &'a [u8],
    first_fragment: bool,
    icmp_proto: u8,
    mut anomalies: u8,
    ip_header: &'a [u8],
) -> Result<Decoded<'a>, DecodeError> {
    // A first fragment holds only the start of the datagram: a transport header that
    // does not fit is a fragment problem, not a malformed transport.
    let short = |err| {
        if first_fragment {
            DecodeError::FragmentHeaderTruncated
        } else {
            err
        }
    };
    let (transport, payload) = match proto {
        PROTO_TCP => {
            let Some(h) = seg.first_chunk::<20>() else {
                return Err(short(DecodeError::TcpTruncated));
            };
            let mut data_offset = usize::from(h[12] >> 4) * 4;
            if data_offset < 20 || data_offset > seg.len() {
                if first_fragment && data_offset > seg.len() {
                    return Err(DecodeError::FragmentHeaderTruncated);
                }
                anomalies |= anomaly::TCP_OFFSET;
                data_offset = seg.len();
            }
            let info = TcpInfo {
                src_port: u16::from_be_bytes([h[0], h[1]]),
                dst_port: u16::from_be_bytes([h[2], h[3]]),
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                flags: h[13],
                window: u16::from_be_bytes([h[14], h[15]]),
            };
            (Transport::Tcp(info), &seg[data_offset..])
        }
        PROTO_UDP => {
            if seg.len() < 8 {
                return Err(short(DecodeError::UdpTruncated));
            }
            let udp_len = usize::from(be16(seg, 4));
            // Zero is allowed for IPv6 jumbograms. Otherwise a length that does not
            // match the IP payload is tolerated and counted: the IP length is trusted,
            // and the payload ends at the UDP length when that is shorter.
            let jumbo = udp_len == 0 && version == IpVersion::V6;
            let exact = udp_len == seg.len() || (first_fragment && udp_len > seg.len());
            let payload = if jumbo || exact {
                &seg[8..]
            } else {
                anomalies |= anomaly::UDP_LENGTH;
                &seg[8..udp_len.clamp(8, seg.len())]
            };
            (
                Transport::Udp {
                    src_port: be16(seg, 0),
                    dst_port: be16(seg, 2),
                },
                payload,
            )
        }
        PROTO_SCTP => {
            if seg.len() < 12 {
                return Err(short(DecodeError::SctpTruncated));
            }
            (
                Transport::Sctp {
                    src_port: be16(seg, 0),
                    dst_port: be16(seg, 2),
                },
                &seg[12..],
            )
        }
        p if p == icmp_proto => {
            if seg.len() < 4 {
                return Err(short(if version == IpVersion::V4 {
                    DecodeError::IcmpTruncated
                } else {
                    DecodeError::Icmpv6Truncated
                }));
            }
            (
                Transport::Icmp {
                    icmp_type: seg[0],
                    icmp_code: seg[1],
                },
                &seg[4..],
            )
        }
        _ => (Transport::Other, seg),
    };
    Ok(Decoded::Ip(DecodedPacket {
        link: l.link,
        vlans: l.vlans,
        mpls_labels: l.mpls_labels,
        depth: l.depth,
        version,
        src,
        dst,
        proto,
        first_fragment,
        anomalies,
        transport,
        ip_header,
        segment: seg,
        payload,
    }))
}
