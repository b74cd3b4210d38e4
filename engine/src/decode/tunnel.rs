//! Tunnels: the packet a tunnel packet carries, decoded one level deeper.
//!
//! Contract: [`decode_tunnel`] looks at an already decoded IP packet and, when it is a
//! tunnel the [`TunnelConfig`] enables, decodes what it carries with the tunnel depth
//! one higher, the outer VLAN tags kept (inner Ethernet tags are appended) and the same
//! link type. It borrows the frame, allocates nothing and never panics. A packet that
//! looks like a tunnel but does not parse as one (a UDP packet on port 4789 that is not
//! VXLAN, say) is reported as an error of its kind; its outer flow is tracked all the
//! same, as Suricata does.
//!
//! Tunnels, as Suricata (and, for GTP-U, nDPI) decapsulates them:
//! - IP-in-IP (protocol 4 and 41: 4in4, 6in4, 4in6, 6in6);
//! - GRE version 0 (checksum, key, sequence and source-route fields) carrying IPv4,
//!   IPv6, Ethernet (0x6558), MPLS, NSH, ERSPAN type I (0x88be without a sequence
//!   number; off by default as in Suricata), type II (0x88be) and type III (0x22eb);
//!   GRE version 1 (PPTP) carrying PPP;
//! - VXLAN (UDP, destination port 4789 by default) carrying Ethernet;
//! - Geneve (UDP, destination port 6081) carrying Ethernet, IPv4 or IPv6;
//! - Teredo (UDP, either port 3544) carrying IPv6, after its optional authentication
//!   and origin-indication headers;
//! - GTP-U version 1 G-PDUs (UDP, either port 2152) carrying IPv4 or IPv6.
//!
//! NSH (EtherType 0x894f) and PPPoE sessions are link layers, not tunnels: they do not
//! change the depth (as in Suricata).

use super::link::{ethernet, mpls, ppp};
use super::{ip, DecodeError, Decoded, DecodedPacket, Layers, NonIp, Transport};
use std::fmt;

/// IP protocol number of IPv4-in-IP.
pub const PROTO_IPIP: u8 = 4;
/// IP protocol number of IPv6-in-IP.
pub const PROTO_IPV6: u8 = 41;
/// IP protocol number of GRE.
pub const PROTO_GRE: u8 = 47;

/// Most ports one tunnel type listens on.
pub const MAX_TUNNEL_PORTS: usize = 8;

/// A small set of UDP ports (at most [`MAX_TUNNEL_PORTS`]); empty means disabled.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct PortSet {
    ports: [u16; MAX_TUNNEL_PORTS],
    len: u8,
}

impl fmt::Debug for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Why a port list does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortListError {
    /// An entry is not a port number from 1 to 65535.
    #[error("'{0}' is not a port number (1-65535)")]
    BadPort(String),
    /// More ports than a tunnel type keeps.
    #[error("more than {MAX_TUNNEL_PORTS} ports")]
    TooMany,
}

impl PortSet {
    /// The empty set (the tunnel type is off).
    pub const EMPTY: PortSet = PortSet {
        ports: [0; MAX_TUNNEL_PORTS],
        len: 0,
    };

    /// One port.
    pub const fn one(port: u16) -> PortSet {
        let mut ports = [0; MAX_TUNNEL_PORTS];
        ports[0] = port;
        PortSet { ports, len: 1 }
    }

    /// Parses a list as Suricata writes it: `4789`, `4789,8472` or `[4789, 8472]`.
    pub fn parse(s: &str) -> Result<PortSet, PortListError> {
        let mut set = PortSet::EMPTY;
        let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
        for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let port: u16 = part
                .parse()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| PortListError::BadPort(part.to_string()))?;
            if set.contains(port) {
                continue;
            }
            if set.len as usize == MAX_TUNNEL_PORTS {
                return Err(PortListError::TooMany);
            }
            set.ports[set.len as usize] = port;
            set.len += 1;
        }
        Ok(set)
    }

    /// The ports.
    pub fn as_slice(&self) -> &[u16] {
        &self.ports[..self.len as usize]
    }

    /// True when no port is set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when `port` is in the set.
    #[inline]
    pub fn contains(&self, port: u16) -> bool {
        self.as_slice().contains(&port)
    }
}

/// Which tunnels are opened, and on which ports.
///
/// Build it with a struct literal and call [`TunnelConfig::prepared`] (or use
/// [`Default`]): the UDP port filter that keeps [`TunnelConfig::may_carry`] to a few
/// instructions per packet is derived from the port sets there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    /// IP-in-IP (protocols 4 and 41).
    pub ipip: bool,
    /// GRE (protocol 47).
    pub gre: bool,
    /// ERSPAN type I inside GRE (no ERSPAN header; Suricata: off by default).
    pub erspan_type1: bool,
    /// VXLAN destination ports.
    pub vxlan: PortSet,
    /// Geneve destination ports.
    pub geneve: PortSet,
    /// Teredo ports (source or destination).
    pub teredo: PortSet,
    /// GTP-U ports (source or destination).
    pub gtp: PortSet,
    /// Bit `port % 1024` is set for every tunnel port: a UDP packet whose ports both
    /// miss it is not a tunnel (derived by [`TunnelConfig::prepared`]).
    pub udp_filter: [u64; 16],
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            ipip: true,
            gre: true,
            erspan_type1: false,
            vxlan: PortSet::one(4789),
            geneve: PortSet::one(6081),
            teredo: PortSet::one(3544),
            gtp: PortSet::one(2152),
            udp_filter: [0; 16],
        }
        .prepared()
    }
}

impl TunnelConfig {
    /// No tunnel is opened.
    pub const NONE: TunnelConfig = TunnelConfig {
        ipip: false,
        gre: false,
        erspan_type1: false,
        vxlan: PortSet::EMPTY,
        geneve: PortSet::EMPTY,
        teredo: PortSet::EMPTY,
        gtp: PortSet::EMPTY,
        udp_filter: [0; 16],
    };

    /// The configuration with its UDP port filter derived from the port sets.
    pub fn prepared(mut self) -> TunnelConfig {
        self.udp_filter = [0; 16];
        for set in [self.vxlan, self.geneve, self.teredo, self.gtp] {
            for &p in set.as_slice() {
                let b = usize::from(p % 1024);
                self.udp_filter[b / 64] |= 1 << (b % 64);
            }
        }
        self
    }

    #[inline(always)]
    fn udp_filter_hit(&self, port: u16) -> bool {
        let b = usize::from(port % 1024);
        self.udp_filter[b / 64] & (1 << (b % 64)) != 0
    }

    /// Cheap test: may a UDP datagram between ports `sp` and `dp` carry a tunnel the
    /// configuration opens? False means it does not; true, that it may.
    #[inline(always)]
    pub fn udp_ports_may_carry(&self, sp: u16, dp: u16) -> bool {
        (self.udp_filter_hit(sp) || self.udp_filter_hit(dp))
            && (self.vxlan.contains(dp)
                || self.geneve.contains(dp)
                || self.gtp.contains(dp)
                || self.gtp.contains(sp)
                || self.teredo.contains(dp)
                || self.teredo.contains(sp))
    }

    /// Cheap test: may this packet carry a tunnel the configuration opens? False
    /// means [`decode_tunnel`] would return `None`.
    #[inline(always)]
    pub fn may_carry(&self, p: &DecodedPacket<'_>) -> bool {
        match p.transport {
            Transport::Other => match p.proto {
                PROTO_IPIP | PROTO_IPV6 => self.ipip,
                PROTO_GRE => self.gre,
                _ => false,
            },
            Transport::Udp { src_port, dst_port } => {
                (self.udp_filter_hit(src_port) || self.udp_filter_hit(dst_port))
                    && self.udp_kind(src_port, dst_port, p.payload).is_some()
            }
            _ => false,
        }
    }

    #[inline]
    fn udp_kind(&self, sp: u16, dp: u16, payload: &[u8]) -> Option<TunnelKind> {
        if self.vxlan.contains(dp) {
            return Some(TunnelKind::Vxlan);
        }
        if self.geneve.contains(dp) {
            return Some(TunnelKind::Geneve);
        }
        if self.gtp.contains(dp) || self.gtp.contains(sp) {
            return Some(TunnelKind::Gtp);
        }
        if (self.teredo.contains(dp) || self.teredo.contains(sp)) && !payload.is_empty() {
            return Some(TunnelKind::Teredo);
        }
        None
    }
}

/// The kinds of tunnel the decoder opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TunnelKind {
    /// IPv4 or IPv6 directly in IP.
    IpInIp,
    /// GRE (any payload, ERSPAN and PPTP included).
    Gre,
    /// VXLAN.
    Vxlan,
    /// Geneve.
    Geneve,
    /// Teredo.
    Teredo,
    /// GTP-U.
    Gtp,
}

impl TunnelKind {
    /// Every kind, in counter order.
    pub const ALL: [TunnelKind; 6] = [
        TunnelKind::IpInIp,
        TunnelKind::Gre,
        TunnelKind::Vxlan,
        TunnelKind::Geneve,
        TunnelKind::Teredo,
        TunnelKind::Gtp,
    ];

    /// Counter name.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::IpInIp => "ipip",
            TunnelKind::Gre => "gre",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Teredo => "teredo",
            TunnelKind::Gtp => "gtp",
        }
    }
}

#[inline]
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Decodes the packet a tunnel packet carries, one level deeper. `None` when `outer`
/// is not a tunnel the configuration opens; otherwise the kind and the outcome.
pub fn decode_tunnel<'a>(
    outer: &DecodedPacket<'a>,
    cfg: &TunnelConfig,
) -> Option<(TunnelKind, Result<Decoded<'a>, DecodeError>)> {
    decode_tunnel_unit(outer, cfg).map(|t| (t.kind, t.inner))
}

/// One level of a tunnel opened: what [`decode_tunnel_unit`] returns.
#[derive(Debug)]
#[non_exhaustive]
pub struct Tunnelled<'a> {
    /// The tunnel's kind.
    pub kind: TunnelKind,
    /// The carried packet, decoded.
    pub inner: Result<Decoded<'a>, DecodeError>,
    /// Bytes of the unit the tunnel carries, as Suricata sizes its tunnel packet
    /// (`PacketTunnelPktSetup`): what follows the tunnel's own headers, up to the
    /// end of the outer packet. That is the inner IP packet for IP-in-IP, GRE with
    /// IP, Teredo and GTP-U; the inner Ethernet frame for GRE bridging, Geneve with
    /// Ethernet and ERSPAN type I (type II and III: with the ERSPAN header; PPTP: with
    /// the PPP header); for VXLAN what follows the inner Ethernet header (VLAN tags
    /// and the IP packet). An inner flow counts these bytes per packet.
    pub unit_len: usize,
}

/// [`decode_tunnel`], with the size of the unit the tunnel carries.
pub fn decode_tunnel_unit<'a>(
    outer: &DecodedPacket<'a>,
    cfg: &TunnelConfig,
) -> Option<Tunnelled<'a>> {
    let mut unit = 0usize;
    let (kind, inner) = open(outer, cfg, &mut unit)?;
    Some(Tunnelled {
        kind,
        inner,
        unit_len: unit,
    })
}

fn open<'a>(
    outer: &DecodedPacket<'a>,
    cfg: &TunnelConfig,
    unit: &mut usize,
) -> Option<(TunnelKind, Result<Decoded<'a>, DecodeError>)> {
    let mut l = Layers {
        link: outer.link,
        vlans: outer.vlans,
        mpls_labels: outer.mpls_labels,
        depth: outer.depth.saturating_add(1),
    };
    let data = outer.payload;
    *unit = data.len();
    match outer.transport {
        Transport::Other => match outer.proto {
            PROTO_IPIP if cfg.ipip => Some((TunnelKind::IpInIp, ip::ipv4(data, &mut l))),
            PROTO_IPV6 if cfg.ipip => Some((TunnelKind::IpInIp, ip::ipv6(data, &mut l))),
            PROTO_GRE if cfg.gre => Some((TunnelKind::Gre, gre(data, &mut l, cfg, unit))),
            _ => None,
        },
        Transport::Udp { src_port, dst_port } => {
            let kind = cfg.udp_kind(src_port, dst_port, data)?;
            let outcome = match kind {
                TunnelKind::Vxlan => vxlan(data, &mut l, unit),
                TunnelKind::Geneve => geneve(data, &mut l, unit),
                TunnelKind::Gtp => gtp(data, &mut l, unit),
                _ => teredo(data, &mut l, unit),
            };
            Some((kind, outcome))
        }
        _ => None,
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_BRIDGING: u16 = 0x6558;
const ETH_ERSPAN_2: u16 = 0x88be;
const ETH_ERSPAN_3: u16 = 0x22eb;
const ETH_PPP: u16 = 0x880b;
const ETH_MPLS_UC: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
/// EtherType of NSH.
pub(super) const ETH_NSH: u16 = 0x894f;

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;
const GRE_ACK: u16 = 0x0080;

/// GRE (RFC 2784/2890, RFC 1701 source routes) and enhanced GRE (PPTP, RFC 2637).
fn gre<'a>(
    data: &'a [u8],
    l: &mut Layers,
    cfg: &TunnelConfig,
    unit: &mut usize,
) -> Result<Decoded<'a>, DecodeError> {
    let flags = be16(data, 0).ok_or(DecodeError::GreTruncated)?;
    let proto = be16(data, 2).ok_or(DecodeError::GreTruncated)?;
    let mut off = 4usize;
    match flags & 0x0007 {
        0 => {
            if flags & (GRE_CHECKSUM | GRE_ROUTING) != 0 {
                off += 4;
            }
            if flags & GRE_KEY != 0 {
                off += 4;
            }
            if flags & GRE_SEQ != 0 {
                off += 4;
            }
            if flags & GRE_ROUTING != 0 {
                // Source route entries: family (2), offset (1), length (1), data;
                // the list ends with an entry of family 0 and length 0.
                loop {
                    let sre = data.get(off..off + 4).ok_or(DecodeError::GreTruncated)?;
                    let (family, len) = (u16::from_be_bytes([sre[0], sre[1]]), sre[3]);
                    off += 4 + usize::from(len);
                    if family == 0 && len == 0 {
                        break;
                    }
                }
            }
        }
        1 => {
            // PPTP: key present (payload length + call id), no checksum or routing,
            // PPP inside; optional sequence and acknowledgement numbers.
            if proto != ETH_PPP || flags & GRE_KEY == 0 || flags & (GRE_CHECKSUM | GRE_ROUTING) != 0
            {
                return Err(DecodeError::GreInvalid);
            }
            off += 4;
            if flags & GRE_SEQ != 0 {
                off += 4;
            }
            if flags & GRE_ACK != 0 {
                off += 4;
            }
        }
        _ => return Err(DecodeError::GreInvalid),
    }
    let rest = data.get(off..).ok_or(DecodeError::GreTruncated)?;
    *unit = rest.len();
    match proto {
        ETH_IPV4 => ip::ipv4(rest, l),
        ETH_IPV6 => ip::ipv6(rest, l),
        ETH_BRIDGING => ethernet(rest, l),
        ETH_PPP => ppp(rest, l),
        ETH_MPLS_UC | ETH_MPLS_MC => mpls(rest, l),
        ETH_NSH => nsh(rest, l),
        ETH_ERSPAN_2 if flags & GRE_SEQ == 0 => {
            if cfg.erspan_type1 {
                ethernet(rest, l)
            } else {
                Err(DecodeError::ErspanTypeOneDisabled)
            }
        }
        ETH_ERSPAN_2 => erspan2(rest, l),
        ETH_ERSPAN_3 => erspan3(rest, l),
        _ => Err(DecodeError::GreUnknownPayload),
    }
}

/// ERSPAN type II: version (4 bits, 1) and VLAN (12), COS/En/T/session id, reserved
/// and index (8 bytes), then the mirrored Ethernet frame. A non-zero ERSPAN VLAN is
/// added to the packet's tags, as Suricata does.
fn erspan2<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..8).ok_or(DecodeError::ErspanTruncated)?;
    if h[0] >> 4 != 1 {
        return Err(DecodeError::ErspanInvalid);
    }
    let vlan = u16::from_be_bytes([h[0], h[1]]) & 0x0fff;
    if vlan != 0 {
        l.vlans.push_lenient(vlan);
    }
    ethernet(&data[8..], l)
}

/// ERSPAN type III: 12-byte header (version 2), then an 8-byte platform-specific
/// subheader when the O bit is set, then Ethernet.
fn erspan3<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..12).ok_or(DecodeError::ErspanTruncated)?;
    if h[0] >> 4 != 2 {
        return Err(DecodeError::ErspanInvalid);
    }
    let vlan = u16::from_be_bytes([h[0], h[1]]) & 0x0fff;
    if vlan != 0 {
        l.vlans.push_lenient(vlan);
    }
    let optional = h[11] & 0x01 != 0;
    let at = if optional { 20 } else { 12 };
    ethernet(data.get(at..).ok_or(DecodeError::ErspanTruncated)?, l)
}

/// VXLAN (RFC 7348): flags (the I bit must be set), reserved, VNI, reserved; then
/// Ethernet.
fn vxlan<'a>(data: &'a [u8], l: &mut Layers, unit: &mut usize) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..8).ok_or(DecodeError::VxlanTruncated)?;
    // Suricata accepts the I flag with any reserved bits except the GPE ones.
    if h[0] & 0x08 == 0 || h[7] != 0 {
        return Err(DecodeError::VxlanInvalid);
    }
    let rest = &data[8..];
    if rest.len() < 14 {
        return Err(DecodeError::VxlanTruncated);
    }
    // Suricata's unit starts after the inner Ethernet header.
    *unit = rest.len() - 14;
    ethernet(rest, l)
}

/// Geneve (RFC 8926): version 0, options length in 4-byte words, protocol type (an
/// EtherType), VNI; then options, then the payload.
fn geneve<'a>(
    data: &'a [u8],
    l: &mut Layers,
    unit: &mut usize,
) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..8).ok_or(DecodeError::GeneveTruncated)?;
    if h[0] >> 6 != 0 {
        return Err(DecodeError::GeneveInvalid);
    }
    let opt_len = usize::from(h[0] & 0x3f) * 4;
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let rest = data
        .get(8 + opt_len..)
        .ok_or(DecodeError::GeneveTruncated)?;
    *unit = rest.len();
    match proto {
        ETH_BRIDGING => ethernet(rest, l),
        ETH_IPV4 => ip::ipv4(rest, l),
        ETH_IPV6 => ip::ipv6(rest, l),
        _ => Err(DecodeError::GeneveInvalid),
    }
}

/// Teredo (RFC 4380): optional authentication header (0x0001), optional origin
/// indication (0x0000), then an IPv6 packet whose length matches the datagram.
fn teredo<'a>(
    data: &'a [u8],
    l: &mut Layers,
    unit: &mut usize,
) -> Result<Decoded<'a>, DecodeError> {
    let mut rest = data;
    if rest.starts_with(&[0x00, 0x01]) {
        // id length (1), auth length (1), client id, auth value, nonce (8), confirm (1)
        let h = rest.get(..4).ok_or(DecodeError::TeredoInvalid)?;
        let skip = 4 + usize::from(h[2]) + usize::from(h[3]) + 9;
        rest = rest.get(skip..).ok_or(DecodeError::TeredoInvalid)?;
    }
    if rest.starts_with(&[0x00, 0x00]) {
        rest = rest.get(8..).ok_or(DecodeError::TeredoInvalid)?;
    }
    // What follows must be IPv6 with a hop limit and exactly the datagram's length.
    let h = rest.get(..40).ok_or(DecodeError::TeredoInvalid)?;
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if h[0] >> 4 != 6 || h[7] == 0 || rest.len() != 40 + plen {
        return Err(DecodeError::TeredoInvalid);
    }
    *unit = rest.len();
    ip::ipv6(rest, l)
}

/// GTP-U version 1 (3GPP TS 29.281): only G-PDUs (message type 255) carry user
/// packets; the optional sequence/N-PDU/next-extension fields and extension headers
/// are skipped.
fn gtp<'a>(data: &'a [u8], l: &mut Layers, unit: &mut usize) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..8).ok_or(DecodeError::GtpTruncated)?;
    // Version 1, protocol type GTP (not GTP').
    if h[0] >> 5 != 1 || h[0] & 0x10 == 0 {
        return Err(DecodeError::GtpInvalid);
    }
    if h[1] != 0xff {
        // Echo, error indication, end marker: signalling, no user packet.
        return Ok(Decoded::NotIp(NonIp::TunnelControl));
    }
    let mut off = 8usize;
    if h[0] & 0x07 != 0 {
        let opt = data.get(8..12).ok_or(DecodeError::GtpTruncated)?;
        off = 12;
        let mut next = opt[3];
        while next != 0 {
            let len = usize::from(*data.get(off).ok_or(DecodeError::GtpTruncated)?) * 4;
            if len == 0 {
                return Err(DecodeError::GtpInvalid);
            }
            next = *data.get(off + len - 1).ok_or(DecodeError::GtpTruncated)?;
            off += len;
        }
    }
    let rest = data.get(off..).ok_or(DecodeError::GtpTruncated)?;
    *unit = rest.len();
    match rest.first().map(|b| b >> 4) {
        Some(4) => ip::ipv4(rest, l),
        Some(6) => ip::ipv6(rest, l),
        Some(_) => Err(DecodeError::GtpInvalid),
        None => Err(DecodeError::GtpTruncated),
    }
}

/// NSH (RFC 8300): base header (version (2 bits, 0), O, U, TTL (6), length in 4-byte
/// words (6), MD type, next protocol) and service path header, then IPv4, IPv6, Ethernet or MPLS.
pub(super) fn nsh<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..8).ok_or(DecodeError::NshTruncated)?;
    if h[0] >> 6 != 0 {
        return Err(DecodeError::NshInvalid);
    }
    let words = usize::from(h[1] & 0x3f);
    let md_type = h[2] & 0x0f;
    // MD type 1 has a fixed 24-byte header; type 2 at least the 8 bytes.
    if words < 2 || (md_type == 1 && words != 6) || !(1..=2).contains(&md_type) {
        return Err(DecodeError::NshInvalid);
    }
    let rest = data.get(words * 4..).ok_or(DecodeError::NshTruncated)?;
    match h[3] {
        1 => ip::ipv4(rest, l),
        2 => ip::ipv6(rest, l),
        3 => ethernet(rest, l),
        5 => mpls(rest, l),
        _ => Err(DecodeError::NshUnknownPayload),
    }
}
