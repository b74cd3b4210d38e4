//! Packet decoding: link layer, VLAN/MPLS, IPv4/IPv6, transport header.
//!
//! Contract: [`decode`] takes the captured bytes of one frame and its [`LinkType`] and
//! returns a [`Decoded`] that borrows from those bytes (nothing is copied, nothing is
//! allocated), or a [`DecodeError`] naming why the frame cannot be tracked. It never
//! panics, whatever the bytes. Every outcome is counted by the caller in
//! [`DecodeStats`], so nothing is dropped silently.
//!
//! What becomes a flow: an IP packet whose transport header (when the protocol has one
//! that carries ports or types: TCP, UDP, SCTP, ICMP, ICMPv6) is present in full. The
//! first fragment of a fragmented datagram is tracked with its ports when its transport
//! header is present; later fragments are reported as [`Decoded::Fragment`] (IP
//! reassembly comes with the defragmenter). Non-IP frames (ARP, STP, LLC, PPP control,
//! ...) are reported as [`Decoded::NotIp`].

pub mod checksum;
mod ip;
mod juniper;
mod link;
mod nflog;
mod stats;
mod wifi;

pub use link::LinkType;
pub use stats::DecodeStats;

/// Most VLAN tags kept per packet (outer first); more is a decode error, as in Suricata.
pub const MAX_VLANS: usize = 3;

/// Most MPLS labels walked before the packet is refused.
pub const MAX_MPLS_LABELS: usize = 16;

/// IP version of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4
    V4,
    /// IPv6
    V6,
}

/// TCP header flag bits, as in the header's flags byte.
pub mod tcp_flags {
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
    /// URG
    pub const URG: u8 = 0x20;
    /// ECE
    pub const ECE: u8 = 0x40;
    /// CWR
    pub const CWR: u8 = 0x80;
}

/// Header oddities the decoder tolerates: the packet is still tracked (nDPI and
/// Wireshark read such packets; Suricata refuses some of them), and each is counted.
pub mod anomaly {
    /// IPv4 total length 0 (segmentation offload on the capturing host): the captured
    /// length is used instead.
    pub const IPV4_ZERO_LENGTH: u8 = 0x01;
    /// UDP length field disagrees with the IP payload: the IP length is trusted.
    pub const UDP_LENGTH: u8 = 0x02;
    /// TCP data offset below 5 words or beyond the segment: ports, flags and sequence
    /// numbers are read, the payload is taken as empty.
    pub const TCP_OFFSET: u8 = 0x04;
}

/// The fields of a TCP header that flow tracking uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits (see [`tcp_flags`]).
    pub flags: u8,
    /// Receive window (unscaled).
    pub window: u16,
}

/// The transport layer of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP, header present in full.
    Tcp(TcpInfo),
    /// UDP.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// SCTP (common header).
    Sctp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP (v4) or ICMPv6, by the packet's IP protocol.
    Icmp {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        icmp_code: u8,
    },
    /// Any other IP protocol: tracked without ports.
    Other,
}

/// VLAN ids of a packet, outer first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vlans {
    ids: [u16; MAX_VLANS],
    len: u8,
}

impl Vlans {
    /// The tags, outer first.
    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }

    /// The ids padded with zeros to [`MAX_VLANS`], as they enter the flow key.
    pub fn padded(&self) -> [u16; MAX_VLANS] {
        self.ids
    }

    /// Number of tags.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when the packet had no tag.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Builds from a list (at most [`MAX_VLANS`] tags are kept).
    pub fn from_slice(ids: &[u16]) -> Self {
        let mut v = Vlans::default();
        for &id in ids.iter().take(MAX_VLANS) {
            v.ids[v.len as usize] = id & 0x0fff;
            v.len += 1;
        }
        v
    }

    fn push(&mut self, id: u16) -> Result<(), DecodeError> {
        if self.len as usize >= MAX_VLANS {
            return Err(DecodeError::VlanTooManyLayers);
        }
        self.ids[self.len as usize] = id & 0x0fff;
        self.len += 1;
        Ok(())
    }
}

/// An IP packet ready for flow tracking; borrows the frame's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodedPacket<'a> {
    /// Link type the frame was decoded as.
    pub link: LinkType,
    /// VLAN tags, outer first.
    pub vlans: Vlans,
    /// Number of MPLS labels crossed.
    pub mpls_labels: u8,
    /// Tunnel depth: 0 for the outermost IP header, 1 inside one tunnel, ...
    pub depth: u8,
    /// IP version.
    pub version: IpVersion,
    /// Source address (IPv4 in the first four bytes, the rest zero).
    pub src: [u8; 16],
    /// Destination address (IPv4 in the first four bytes, the rest zero).
    pub dst: [u8; 16],
    /// IP protocol of the transport (after IPv6 extension headers and IPv4 AH).
    pub proto: u8,
    /// True for the first fragment of a fragmented datagram.
    pub first_fragment: bool,
    /// Header oddities tolerated while decoding (see [`anomaly`]).
    pub anomalies: u8,
    /// The transport header.
    pub transport: Transport,
    /// Transport payload (what follows the transport header), as far as captured.
    pub payload: &'a [u8],
}

/// Why a frame is not an IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonIp {
    /// ARP or RARP.
    Arp,
    /// IEEE 802.3 frames with an LLC header (STP, CDP, NetBIOS, ...).
    Llc,
    /// An EtherType the decoder does not carry further (LLDP, PPPoE until the tunnel
    /// decoders land, MACsec, ...).
    OtherEtherType(u16),
    /// PPP control protocols (LCP, IPCP, ...), Cisco SLARP/CDP and the like.
    LinkControl,
}

/// Outcome of a successful decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// An IP packet to track.
    Ip(DecodedPacket<'a>),
    /// A non-first IP fragment: counted, not tracked until IP reassembly exists.
    Fragment {
        /// IP version of the fragment.
        version: IpVersion,
    },
    /// Not IP.
    NotIp(NonIp),
}

macro_rules! decode_errors {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Why a frame could not be decoded. Each is counted under its [`name`](Self::name).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DecodeError {
            $(#[doc = $doc] $variant,)*
        }

        impl DecodeError {
            /// Every reason, in counter order (the order of the discriminants).
            pub const ALL: &'static [DecodeError] = &[$(DecodeError::$variant,)*];

            /// Number of reasons.
            pub const COUNT: usize = Self::ALL.len();

            /// The counter name of this reason (snake case, stable).
            pub fn name(self) -> &'static str {
                match self {
                    $(DecodeError::$variant => $name,)*
                }
            }
        }
    };
}

decode_errors! {
    UnsupportedLinkType => "unsupported_link_type", "The capture's link type is not one the decoder knows.";
    LinkTruncated => "link_truncated", "The frame is shorter than its link-layer header.";
    VlanTruncated => "vlan_truncated", "A VLAN tag is cut short.";
    VlanTooManyLayers => "vlan_too_many_layers", "More VLAN tags than the decoder keeps.";
    MplsTruncated => "mpls_truncated", "An MPLS label stack is cut short.";
    MplsTooManyLabels => "mpls_too_many_labels", "An MPLS label stack deeper than the decoder walks.";
    MplsUnknownPayload => "mpls_unknown_payload", "What follows the MPLS stack is neither IP nor Ethernet.";
    PppoeTruncated => "pppoe_truncated", "A PPPoE session header is cut short.";
    IpVersionMismatch => "ip_version_mismatch", "The IP version nibble disagrees with the link layer.";
    Ipv4Truncated => "ipv4_header_truncated", "Fewer bytes than an IPv4 header.";
    Ipv4BadHeader => "ipv4_header_invalid", "IPv4 header length field below 20 bytes.";
    Ipv4BadTotalLength => "ipv4_total_length_invalid", "IPv4 total length smaller than its header.";
    Ipv4CaptureShort => "ipv4_capture_short", "Captured fewer bytes than the IPv4 total length (snaplen or truncated capture).";
    Ipv4AuthInvalid => "ipv4_auth_header_invalid", "An IPv4 authentication header that cannot be parsed.";
    Ipv6Truncated => "ipv6_header_truncated", "Fewer bytes than an IPv6 header.";
    Ipv6CaptureShort => "ipv6_capture_short", "Captured fewer bytes than the IPv6 payload length.";
    Ipv6ExtInvalid => "ipv6_ext_header_invalid", "IPv6 extension headers that cannot be walked.";
    TcpTruncated => "tcp_header_truncated", "TCP header cut short or its data offset beyond the segment.";
    UdpTruncated => "udp_header_truncated", "Fewer than 8 bytes of UDP header.";
    IcmpTruncated => "icmp_header_truncated", "Fewer than 4 bytes of ICMP header.";
    Icmpv6Truncated => "icmpv6_header_truncated", "Fewer than 4 bytes of ICMPv6 header.";
    SctpTruncated => "sctp_header_truncated", "Fewer than 12 bytes of SCTP common header.";
    FragmentHeaderTruncated => "fragment_header_truncated", "A first fragment too short to hold its transport header.";
}

/// Decodes one frame. Never panics; borrows `data`.
pub fn decode(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    link::decode_link(link, data)
}

/// IP protocol numbers of IP-in-IP encapsulation.
pub const PROTO_IPIP: u8 = 4;
/// IPv6 encapsulated in IP.
pub const PROTO_IPV6: u8 = 41;

/// Decodes the packet a tunnel packet carries (IPv4 or IPv6 in IPv4 or IPv6), one level
/// deeper, with the outer packet's link type and VLAN tags. `None` when `outer` is not
/// a tunnel.
pub fn decode_tunnel<'a>(outer: &DecodedPacket<'a>) -> Option<Result<Decoded<'a>, DecodeError>> {
    let mut l = link::Layers {
        link: outer.link,
        vlans: outer.vlans,
        mpls_labels: outer.mpls_labels,
        depth: outer.depth.saturating_add(1),
    };
    match (outer.proto, outer.transport) {
        (PROTO_IPIP, Transport::Other) => Some(ip::ipv4(outer.payload, &mut l)),
        (PROTO_IPV6, Transport::Other) => Some(ip::ipv6(outer.payload, &mut l)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
