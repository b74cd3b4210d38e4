//! Link layers: Ethernet (with 802.1Q/QinQ VLAN tags and MPLS label stacks), Linux
//! cooked captures (SLL, SLL2), raw IP, BSD loopback, Cisco HDLC and PPP; 802.11
//! (`wifi`), NFLOG (`nflog`) and Juniper Ethernet (`juniper`) in their own files.
//!
//! Contract: each function consumes its own header, checks lengths before every read
//! and hands the rest to the next layer; it never indexes past the slice and never
//! panics. VLAN tags are collected outer first.

use super::{
    ip, juniper, nflog, tunnel, wifi, DecodeError, Decoded, Layers, NonIp, MAX_MPLS_LABELS,
};
use std::fmt;

/// The link-layer header type of a capture (pcap's `LINKTYPE_*` / `DLT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkType {
    /// Ethernet II / 802.3 (1).
    Ethernet,
    /// BSD loopback, address family in host byte order (0).
    Null,
    /// OpenBSD loopback, address family in network byte order (108).
    Loop,
    /// Raw IPv4 or IPv6, version from the first nibble (101; DLT_RAW 12 and 14).
    Raw,
    /// Raw IPv4 only (228).
    Ipv4,
    /// Raw IPv6 only (229).
    Ipv6,
    /// Linux cooked capture v1 (113).
    LinuxSll,
    /// Linux cooked capture v2 (276).
    LinuxSll2,
    /// Cisco HDLC (104).
    CiscoHdlc,
    /// PPP, with or without the HDLC address/control bytes (9).
    Ppp,
    /// PPP in HDLC-like framing (50).
    PppHdlc,
    /// PPP with a leading direction byte (204).
    PppWithDir,
    /// Per-Packet Information header, then another link type (192).
    Ppi,
    /// IEEE 802.11 without a radio header (105).
    Ieee80211,
    /// IEEE 802.11 behind a radiotap header (127).
    Ieee80211Radiotap,
    /// Linux netfilter NFLOG (239).
    Nflog,
    /// Juniper Ethernet, "MGC" header then Ethernet (178).
    JuniperEther,
    /// A link type the decoder does not know (its pcap number).
    Other(u32),
}

impl LinkType {
    /// The link type of a pcap `LINKTYPE_*` number (DLT aliases included).
    pub fn from_dlt(dlt: u32) -> LinkType {
        match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            9 => LinkType::Ppp,
            12 | 14 | 101 => LinkType::Raw,
            50 => LinkType::PppHdlc,
            104 => LinkType::CiscoHdlc,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            192 => LinkType::Ppi,
            204 => LinkType::PppWithDir,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            105 => LinkType::Ieee80211,
            127 => LinkType::Ieee80211Radiotap,
            239 => LinkType::Nflog,
            178 => LinkType::JuniperEther,
            other => LinkType::Other(other),
        }
    }

    /// The pcap `LINKTYPE_*` number.
    pub fn dlt(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Ppp => 9,
            LinkType::Raw => 101,
            LinkType::PppHdlc => 50,
            LinkType::CiscoHdlc => 104,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::PppWithDir => 204,
            LinkType::Ppi => 192,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll2 => 276,
            LinkType::Ieee80211 => 105,
            LinkType::Ieee80211Radiotap => 127,
            LinkType::Nflog => 239,
            LinkType::JuniperEther => 178,
            LinkType::Other(n) => n,
        }
    }

    /// Every known link type, in [`index`](Self::index) order; `Other` is last.
    pub const NAMED: [LinkType; 18] = [
        LinkType::Ethernet,
        LinkType::Null,
        LinkType::Loop,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::CiscoHdlc,
        LinkType::Ppp,
        LinkType::PppHdlc,
        LinkType::PppWithDir,
        LinkType::Ppi,
        LinkType::Ieee80211,
        LinkType::Ieee80211Radiotap,
        LinkType::Nflog,
        LinkType::JuniperEther,
        LinkType::Other(u32::MAX),
    ];

    /// Number of counter slots (one per known type plus one for all others).
    pub const COUNT: usize = Self::NAMED.len();

    /// Counter slot of this link type.
    pub fn index(self) -> usize {
        match self {
            LinkType::Ethernet => 0,
            LinkType::Null => 1,
            LinkType::Loop => 2,
            LinkType::Raw => 3,
            LinkType::Ipv4 => 4,
            LinkType::Ipv6 => 5,
            LinkType::LinuxSll => 6,
            LinkType::LinuxSll2 => 7,
            LinkType::CiscoHdlc => 8,
            LinkType::Ppp => 9,
            LinkType::PppHdlc => 10,
            LinkType::PppWithDir => 11,
            LinkType::Ppi => 12,
            LinkType::Ieee80211 => 13,
            LinkType::Ieee80211Radiotap => 14,
            LinkType::Nflog => 15,
            LinkType::JuniperEther => 16,
            LinkType::Other(_) => 17,
        }
    }

    /// True when the decoder can read frames of this type.
    pub fn is_supported(self) -> bool {
        !matches!(self, LinkType::Other(_))
    }

    /// Short name used in the summary.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
            LinkType::Raw => "raw",
            LinkType::Ipv4 => "ipv4",
            LinkType::Ipv6 => "ipv6",
            LinkType::LinuxSll => "linux_sll",
            LinkType::LinuxSll2 => "linux_sll2",
            LinkType::CiscoHdlc => "cisco_hdlc",
            LinkType::Ppp => "ppp",
            LinkType::PppHdlc => "ppp_hdlc",
            LinkType::PppWithDir => "ppp_with_dir",
            LinkType::Ppi => "ppi",
            LinkType::Ieee80211 => "ieee802_11",
            LinkType::Ieee80211Radiotap => "ieee802_11_radiotap",
            LinkType::Nflog => "nflog",
            LinkType::JuniperEther => "juniper_ether",
            LinkType::Other(_) => "other",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkType::Other(n) => write!(f, "link type {n}"),
            t => write!(f, "{} ({})", t.name(), t.dlt()),
        }
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_RARP: u16 = 0x8035;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD1: u16 = 0x9100;
const ETH_QINQ_OLD2: u16 = 0x9200;
const ETH_QINQ_OLD3: u16 = 0x9300;
const ETH_IPV6: u16 = 0x86dd;
const ETH_MPLS_UC: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;

#[inline]
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

pub(super) fn decode_link(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let mut l = Layers::outer(link);
    match link {
        LinkType::Ethernet => ethernet(data, &mut l),
        LinkType::Raw => raw_ip(data, &mut l),
        LinkType::Ipv4 => ip::ipv4(data, &mut l),
        LinkType::Ipv6 => ip::ipv6(data, &mut l),
        LinkType::Null => null_loopback(data, &mut l, false),
        LinkType::Loop => null_loopback(data, &mut l, true),
        LinkType::LinuxSll => {
            // packet type (2), ARPHRD (2), address length (2), address (8), protocol (2)
            let proto = be16(data, 14).ok_or(DecodeError::LinkTruncated)?;
            let arphrd = be16(data, 2).ok_or(DecodeError::LinkTruncated)?;
            sll_payload(arphrd, proto, &data[16..], &mut l)
        }
        LinkType::LinuxSll2 => {
            // protocol (2), reserved (2), ifindex (4), ARPHRD (2), packet type (1),
            // address length (1), address (8)
            if data.len() < 20 {
                return Err(DecodeError::LinkTruncated);
            }
            let proto = be16(data, 0).ok_or(DecodeError::LinkTruncated)?;
            let arphrd = be16(data, 8).ok_or(DecodeError::LinkTruncated)?;
            sll_payload(arphrd, proto, &data[20..], &mut l)
        }
        LinkType::CiscoHdlc => cisco_hdlc(data, &mut l),
        LinkType::Ppp | LinkType::PppHdlc => ppp(data, &mut l),
        LinkType::PppWithDir => {
            if data.is_empty() {
                return Err(DecodeError::LinkTruncated);
            }
            ppp(&data[1..], &mut l)
        }
        LinkType::Ppi => {
            // version (1), flags (1), header length (2, LE), inner link type (4, LE)
            let h = data.get(..8).ok_or(DecodeError::LinkTruncated)?;
            let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
            let inner = LinkType::from_dlt(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
            let rest = data.get(len..).ok_or(DecodeError::LinkTruncated)?;
            if len < 8 || inner == LinkType::Ppi {
                return Err(DecodeError::LinkTruncated);
            }
            let d = decode_link(inner, rest)?;
            Ok(relink(d, LinkType::Ppi))
        }
        LinkType::Ieee80211 => wifi::ieee80211(data, false, &mut l),
        LinkType::Ieee80211Radiotap => wifi::radiotap(data, &mut l),
        LinkType::Nflog => nflog::nflog(data, &mut l),
        LinkType::JuniperEther => juniper::juniper_ether(data, &mut l),
        LinkType::Other(_) => Err(DecodeError::UnsupportedLinkType),
    }
}

pub(super) fn ethernet<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let ether_type = be16(data, 12).ok_or(DecodeError::LinkTruncated)?;
    ether_payload(ether_type, &data[14..], l)
}

/// Walks VLAN tags and MPLS labels, then hands IP to the IP decoder.
pub(super) fn ether_payload<'a>(
    mut ether_type: u16,
    mut data: &'a [u8],
    l: &mut Layers,
) -> Result<Decoded<'a>, DecodeError> {
    loop {
        match ether_type {
            ETH_IPV4 => return ip::ipv4(data, l),
            ETH_IPV6 => return ip::ipv6(data, l),
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD1 | ETH_QINQ_OLD2 | ETH_QINQ_OLD3 => {
                let tci = be16(data, 0).ok_or(DecodeError::VlanTruncated)?;
                ether_type = be16(data, 2).ok_or(DecodeError::VlanTruncated)?;
                l.vlans.push(tci)?;
                data = &data[4..];
            }
            ETH_MPLS_UC | ETH_MPLS_MC => return mpls(data, l),
            tunnel::ETH_NSH => return tunnel::nsh(data, l),
            ETH_PPPOE_SESSION => {
                // version/type (1), code (1), session id (2), length (2), then PPP.
                let h = data.get(..6).ok_or(DecodeError::PppoeTruncated)?;
                if h[0] != 0x11 || h[1] != 0 {
                    return Ok(Decoded::NotIp(NonIp::LinkControl));
                }
                return ppp(&data[6..], l);
            }
            ETH_ARP | ETH_RARP => return Ok(Decoded::NotIp(NonIp::Arp)),
            t if t < 0x0600 => return Ok(Decoded::NotIp(NonIp::Llc)),
            t => return Ok(Decoded::NotIp(NonIp::OtherEtherType(t))),
        }
    }
}

/// Cisco HDLC: address (1), control (1), protocol (2, an EtherType).
pub(super) fn cisco_hdlc<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    let proto = be16(data, 2).ok_or(DecodeError::LinkTruncated)?;
    match proto {
        ETH_IPV4 | ETH_IPV6 | ETH_MPLS_UC | ETH_MPLS_MC => ether_payload(proto, &data[4..], l),
        _ => Ok(Decoded::NotIp(NonIp::LinkControl)),
    }
}

/// Reports a packet found inside a wrapper link type as seen on the wrapper.
fn relink(d: Decoded<'_>, link: LinkType) -> Decoded<'_> {
    match d {
        Decoded::Ip(mut p) => {
            p.link = link;
            Decoded::Ip(p)
        }
        other => other,
    }
}

/// An MPLS label stack, then IPv4, IPv6 or (pseudowire) Ethernet.
pub(super) fn mpls<'a>(mut data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    loop {
        let entry = data.get(..4).ok_or(DecodeError::MplsTruncated)?;
        if l.mpls_labels as usize >= MAX_MPLS_LABELS {
            return Err(DecodeError::MplsTooManyLabels);
        }
        l.mpls_labels += 1;
        let bottom = entry[2] & 0x01 != 0;
        let label =
            (u32::from(entry[0]) << 12) | (u32::from(entry[1]) << 4) | (u32::from(entry[2]) >> 4);
        data = &data[4..];
        if bottom {
            // Explicit-null labels say what follows; otherwise look at the first nibble.
            return match label {
                0 => ip::ipv4(data, l),
                2 => ip::ipv6(data, l),
                _ => match data.first().map(|b| b >> 4) {
                    Some(4) => ip::ipv4(data, l),
                    Some(6) => ip::ipv6(data, l),
                    // Pseudowire control word (first nibble 0), then an Ethernet frame.
                    Some(0) if data.len() >= 4 + 14 => ethernet(&data[4..], l),
                    Some(_) => Err(DecodeError::MplsUnknownPayload),
                    None => Err(DecodeError::MplsTruncated),
                },
            };
        }
    }
}

fn raw_ip<'a>(data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    match data.first().map(|b| b >> 4) {
        Some(4) => ip::ipv4(data, l),
        Some(6) => ip::ipv6(data, l),
        Some(_) => Err(DecodeError::IpVersionMismatch),
        None => Err(DecodeError::LinkTruncated),
    }
}

/// BSD loopback: a 4-byte address family. `AF_INET` is 2 everywhere; `AF_INET6` is 10
/// (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS).
fn null_loopback<'a>(
    data: &'a [u8],
    l: &mut Layers,
    network_order: bool,
) -> Result<Decoded<'a>, DecodeError> {
    let h = data.get(..4).ok_or(DecodeError::LinkTruncated)?;
    let raw = [h[0], h[1], h[2], h[3]];
    let family = if network_order {
        u32::from_be_bytes(raw)
    } else {
        // Host order of the capturing machine: the family is small, so the order whose
        // value fits in 16 bits is the right one.
        let le = u32::from_le_bytes(raw);
        if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes(raw)
        }
    };
    let rest = &data[4..];
    match family {
        2 => ip::ipv4(rest, l),
        10 | 24 | 28 | 30 => ip::ipv6(rest, l),
        _ => Ok(Decoded::NotIp(NonIp::LinkControl)),
    }
}

/// Linux cooked capture payload: `proto` is an EtherType for the usual hardware types.
fn sll_payload<'a>(
    arphrd: u16,
    proto: u16,
    data: &'a [u8],
    l: &mut Layers,
) -> Result<Decoded<'a>, DecodeError> {
    const ARPHRD_IPGRE: u16 = 778;
    const ARPHRD_NETLINK: u16 = 824;
    match arphrd {
        ARPHRD_NETLINK => Ok(Decoded::NotIp(NonIp::LinkControl)),
        ARPHRD_IPGRE => Ok(Decoded::NotIp(NonIp::OtherEtherType(proto))),
        _ => match proto {
            // Linux's non-EtherType protocol values (ETH_P_802_2, ETH_P_802_3, ...).
            0x0001..=0x05ff => Ok(Decoded::NotIp(NonIp::Llc)),
            _ => ether_payload(proto, data, l),
        },
    }
}

/// PPP: optional address/control bytes (0xff 0x03), then a 1- or 2-byte protocol.
/// Frames starting with a Cisco HDLC address byte (0x0f, 0x8f) are Cisco HDLC, as
/// libpcap's readers accept on PPP links.
pub(super) fn ppp<'a>(mut data: &'a [u8], l: &mut Layers) -> Result<Decoded<'a>, DecodeError> {
    if matches!(data.first(), Some(0x0f | 0x8f)) && data.get(1) == Some(&0) {
        return cisco_hdlc(data, l);
    }
    if data.len() >= 2 && data[0] == 0xff && data[1] == 0x03 {
        data = &data[2..];
    }
    let first = *data.first().ok_or(DecodeError::LinkTruncated)?;
    let (proto, rest) = if first & 0x01 != 0 {
        // Protocol field compression: a single odd byte.
        (u16::from(first), &data[1..])
    } else {
        (be16(data, 0).ok_or(DecodeError::LinkTruncated)?, &data[2..])
    };
    match proto {
        0x0021 => ip::ipv4(rest, l),
        0x0057 => ip::ipv6(rest, l),
        0x0281 | 0x0283 => mpls(rest, l),
        _ => Ok(Decoded::NotIp(NonIp::LinkControl)),
    }
}
