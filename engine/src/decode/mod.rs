//! Packet decoding: link layer, VLAN/MPLS/NSH/PPPoE, IPv4/IPv6, transport header, and
//! the tunnels inside ([`decode_tunnel`]: IP-in-IP, GRE/ERSPAN/PPTP, VXLAN, Geneve,
//! Teredo, GTP-U).
//!
//! Contract: [`decode`] takes the captured bytes of one frame and its [`LinkType`] and
//! returns a [`Decoded`] that borrows from those bytes (nothing is copied, nothing is
//! allocated), or a [`DecodeError`] naming why the frame cannot be tracked. It never
//! panics, whatever the bytes. Every outcome is counted by the caller in
//! [`DecodeStats`], so nothing is dropped silently.
//!
//! What becomes a flow: an IP packet whose transport header (when the protocol has one
//! that carries ports or types: TCP, UDP, SCTP, ICMP, ICMPv6) is present in full.
//! Every fragment of a fragmented datagram is reported as [`Decoded::Fragment`], for the
//! defragmenter; [`decode_ip`] decodes the reassembled datagram, and
//! [`Fragment::head`] the transport header of a first fragment whose datagram never
//! completes. Non-IP frames (ARP, STP, LLC, PPP control,
//! ...) are reported as [`Decoded::NotIp`]. A tracked packet that carries another one
//! is opened by [`decode_tunnel`], one depth deeper, by the caller.
//!
//! Speed: the common frame (Ethernet, at most one VLAN tag, IPv4 without options and
//! not a fragment or IPv6 without extension header, TCP or UDP whose lengths agree)
//! takes a fast path (`fast`) that gives exactly what the general path gives, and
//! [`DecodeStats::decode`] / [`DecodeStats::decode_common`] count it without matching
//! the outcome again; every other frame takes the general path.

pub mod checksum;
mod fast;
mod ip;
mod juniper;
mod link;
mod nflog;
mod stats;
mod tunnel;
mod wifi;

pub use link::LinkType;
pub use stats::DecodeStats;
pub use tunnel::{
    decode_tunnel, decode_tunnel_unit, PortListError, PortSet, TunnelConfig, TunnelKind, Tunnelled,
    MAX_TUNNEL_PORTS, PROTO_GRE, PROTO_IPIP, PROTO_IPV6,
};

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

    /// Adds a tag found inside a tunnel (ERSPAN): dropped when all slots are used, as
    /// Suricata keeps only its first three.
    fn push_lenient(&mut self, id: u16) {
        let _ = self.push(id);
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
    /// The IPv4 header with options (empty for IPv6), for checksum validation.
    pub ip_header: &'a [u8],
    /// The IP payload: transport header and payload (after IPv6 extension headers).
    pub segment: &'a [u8],
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
    /// Tunnel signalling that carries no user packet (GTP-U echo, end marker, ...).
    TunnelControl,
}

/// The layers a packet was found under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layers {
    /// Link type of the frame.
    pub link: LinkType,
    /// VLAN tags, outer first.
    pub vlans: Vlans,
    /// MPLS labels crossed.
    pub mpls_labels: u8,
    /// Tunnel depth.
    pub depth: u8,
}

impl Layers {
    /// The outermost layer of a frame of link type `link`.
    pub fn outer(link: LinkType) -> Layers {
        Layers {
            link,
            vlans: Vlans::default(),
            mpls_labels: 0,
            depth: 0,
        }
    }

    /// Packs into one word (for keys that must stay small, such as the
    /// defragmenter's): 3 x 12 bits of VLAN, 2 bits of tag count, 6 of MPLS labels, 8
    /// of depth, 8 of link type index. [`unpack`](Self::unpack) inverts it for every
    /// supported link type.
    pub fn pack(&self) -> u64 {
        let mut w = 0u64;
        for (i, id) in self.vlans.ids.iter().enumerate() {
            w |= u64::from(id & 0x0fff) << (12 * i);
        }
        w |= u64::from(self.vlans.len & 0x3) << 36;
        w |= u64::from(self.mpls_labels & 0x3f) << 38;
        w |= u64::from(self.depth) << 44;
        w |= (self.link.index() as u64 & 0xff) << 52;
        w
    }

    /// The layers [`pack`](Self::pack) packed.
    pub fn unpack(w: u64) -> Layers {
        let mut vlans = Vlans::default();
        for i in 0..MAX_VLANS {
            vlans.ids[i] = ((w >> (12 * i)) & 0x0fff) as u16;
        }
        vlans.len = ((w >> 36) & 0x3) as u8;
        let link = LinkType::NAMED
            .get(((w >> 52) & 0xff) as usize)
            .copied()
            .unwrap_or(LinkType::Other(u32::MAX));
        Layers {
            link,
            vlans,
            mpls_labels: ((w >> 38) & 0x3f) as u8,
            depth: ((w >> 44) & 0xff) as u8,
        }
    }
}

/// One fragment of a fragmented IPv4 or IPv6 datagram; borrows the frame's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Where the fragment was found.
    pub layers: Layers,
    /// IP version.
    pub version: IpVersion,
    /// Source address (IPv4 in the first four bytes).
    pub src: [u8; 16],
    /// Destination address (IPv4 in the first four bytes).
    pub dst: [u8; 16],
    /// Protocol of the datagram (IPv4 protocol; IPv6 next header after the Fragment
    /// header).
    pub proto: u8,
    /// Identification (16 bits in IPv4, 32 in IPv6).
    pub id: u32,
    /// Offset of `data` in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// TTL or hop limit.
    pub ttl: u8,
    /// The IP header: IPv4 with options; IPv6 fixed header and the extension headers
    /// before the Fragment header (whose next-header field still says 44).
    pub header: &'a [u8],
    /// The fragment's part of the datagram.
    pub data: &'a [u8],
}

impl<'a> Fragment<'a> {
    /// True for the fragment at offset 0.
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }

    /// Decodes the transport header at the start of a first fragment, as a packet to
    /// track on its own (when its datagram cannot be reassembled). `None` for later
    /// fragments.
    pub fn head(&self) -> Option<Result<Decoded<'a>, DecodeError>> {
        if !self.is_first() {
            return None;
        }
        let icmp = match self.version {
            IpVersion::V4 => ip::PROTO_ICMP,
            IpVersion::V6 => ip::PROTO_ICMPV6,
        };
        Some(ip::transport(
            &self.layers,
            self.version,
            self.src,
            self.dst,
            self.proto,
            self.data,
            true,
            icmp,
            0,
            match self.version {
                IpVersion::V4 => self.header,
                IpVersion::V6 => &[],
            },
        ))
    }
}

/// Outcome of a successful decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// An IP packet to track.
    Ip(DecodedPacket<'a>),
    /// A fragment of an IP datagram, for the defragmenter.
    Fragment(Fragment<'a>),
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
    GreTruncated => "gre_truncated", "A GRE header cut short.";
    GreInvalid => "gre_invalid", "A GRE header with an unknown version or flags its version forbids.";
    GreUnknownPayload => "gre_unknown_payload", "GRE carrying a protocol the decoder does not open.";
    ErspanTruncated => "erspan_truncated", "An ERSPAN header cut short.";
    ErspanInvalid => "erspan_invalid", "An ERSPAN header of the wrong version for its GRE type.";
    ErspanTypeOneDisabled => "erspan_type1_disabled", "ERSPAN type I while decoder.erspan.typeI.enabled is off.";
    VxlanTruncated => "vxlan_truncated", "A VXLAN header or its inner Ethernet header cut short.";
    VxlanInvalid => "vxlan_invalid", "A packet on a VXLAN port whose header is not VXLAN.";
    GeneveTruncated => "geneve_truncated", "A Geneve header or its options cut short.";
    GeneveInvalid => "geneve_invalid", "A Geneve header of an unknown version or payload type.";
    TeredoInvalid => "teredo_invalid", "A packet on a Teredo port that holds no well-formed IPv6 packet.";
    GtpTruncated => "gtp_truncated", "A GTP-U header or its extension headers cut short.";
    GtpInvalid => "gtp_invalid", "A packet on a GTP-U port that is not GTPv1-U carrying IP.";
    NshTruncated => "nsh_truncated", "An NSH header cut short.";
    NshInvalid => "nsh_invalid", "An NSH header of an unknown version, MD type or length.";
    NshUnknownPayload => "nsh_unknown_payload", "NSH carrying a protocol the decoder does not open.";
}

/// Decodes one frame. Never panics; borrows `data`.
#[inline]
pub fn decode(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if let LinkType::Ethernet = link {
        if let Some(p) = fast::ethernet(data) {
            return Ok(Decoded::Ip(p));
        }
    }
    link::decode_link(link, data)
}

/// Decodes an IP packet found under `layers` (a reassembled datagram, say). Never
/// panics; borrows `data`.
pub fn decode_ip(
    version: IpVersion,
    data: &[u8],
    layers: Layers,
) -> Result<Decoded<'_>, DecodeError> {
    let mut l = layers;
    match version {
        IpVersion::V4 => ip::ipv4(data, &mut l),
        IpVersion::V6 => ip::ipv6(data, &mut l),
    }
}

#[cfg(test)]
mod tests;
