//! Decode counters: what the decoder saw, by link, network and transport, and why it
//! refused what it refused.
//!
//! Contract: [`DecodeStats::count`] is called once per frame with the decode outcome,
//! [`DecodeStats::count_inner`] once per tunnel inner packet,
//! [`DecodeStats::count_reassembled`] once per reassembled datagram; the network,
//! transport and error counters count every layer, so `packets + tunneled +
//! reassembled = ip + fragments + not_ip + errors`.

use super::{
    anomaly, DecodeError, Decoded, DecodedPacket, IpVersion, LinkType, NonIp, Transport, TunnelKind,
};

/// Counters kept by the decode stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames given to the decoder.
    pub packets: u64,
    /// Inner packets of tunnels decoded (each also counted by network and transport).
    pub tunneled: u64,
    /// Tunnel packets opened, by kind, indexed like [`TunnelKind::ALL`].
    pub tunnels: [u64; TunnelKind::ALL.len()],
    /// Frames by link type, indexed by [`LinkType::index`].
    pub by_link: [u64; LinkType::COUNT],
    /// IPv4 packets decoded for tracking.
    pub ipv4: u64,
    /// IPv6 packets decoded for tracking.
    pub ipv6: u64,
    /// TCP packets.
    pub tcp: u64,
    /// UDP packets.
    pub udp: u64,
    /// ICMP packets.
    pub icmp: u64,
    /// ICMPv6 packets.
    pub icmpv6: u64,
    /// SCTP packets.
    pub sctp: u64,
    /// Packets of other IP protocols (tracked without ports).
    pub other_ip: u64,
    /// Packets that carried at least one VLAN tag.
    pub vlan_tagged: u64,
    /// Packets that crossed an MPLS label stack.
    pub mpls: u64,
    /// Fragments at offset 0 (also counted by version below).
    pub first_fragments: u64,
    /// IPv4 fragments, each handed to the defragmenter.
    pub ipv4_fragments: u64,
    /// IPv6 fragments, each handed to the defragmenter.
    pub ipv6_fragments: u64,
    /// Datagrams reassembled from fragments, decoded as one packet each (counted by
    /// network and transport too).
    pub reassembled: u64,
    /// ARP and RARP frames.
    pub arp: u64,
    /// 802.3/LLC frames (STP, CDP, ...).
    pub llc: u64,
    /// Frames with another non-IP EtherType.
    pub other_ethertype: u64,
    /// Link control frames (PPP LCP, Cisco SLARP, loopback of other families, ...).
    pub link_control: u64,
    /// Tunnel signalling carrying no user packet (GTP-U echo, ...).
    pub tunnel_control: u64,
    /// IPv4 packets with total length 0 read to the end of the capture (offload).
    pub ipv4_zero_length: u64,
    /// UDP packets whose length field disagrees with the IP payload.
    pub udp_length_mismatch: u64,
    /// TCP packets with a data offset below 5 words or beyond the segment.
    pub tcp_bad_offset: u64,
    /// Decode errors, indexed like [`DecodeError::ALL`].
    pub errors: [u64; DecodeError::COUNT],
}

impl Default for DecodeStats {
    fn default() -> Self {
        DecodeStats {
            packets: 0,
            tunneled: 0,
            tunnels: [0; TunnelKind::ALL.len()],
            by_link: [0; LinkType::COUNT],
            ipv4: 0,
            ipv6: 0,
            tcp: 0,
            udp: 0,
            icmp: 0,
            icmpv6: 0,
            sctp: 0,
            other_ip: 0,
            vlan_tagged: 0,
            mpls: 0,
            first_fragments: 0,
            reassembled: 0,
            ipv4_fragments: 0,
            ipv6_fragments: 0,
            arp: 0,
            llc: 0,
            other_ethertype: 0,
            link_control: 0,
            tunnel_control: 0,
            ipv4_zero_length: 0,
            udp_length_mismatch: 0,
            tcp_bad_offset: 0,
            errors: [0; DecodeError::COUNT],
        }
    }
}

impl DecodeStats {
    /// Counts one frame's outcome.
    #[inline]
    pub fn count(&mut self, link: LinkType, outcome: &Result<Decoded<'_>, DecodeError>) {
        self.packets += 1;
        self.by_link[link.index()] += 1;
        self.count_layer(outcome);
    }

    /// Counts the outcome of decoding a tunnel's inner packet.
    #[inline]
    pub fn count_inner(&mut self, kind: TunnelKind, outcome: &Result<Decoded<'_>, DecodeError>) {
        self.tunneled += 1;
        self.tunnels[kind as usize] += 1;
        self.count_layer(outcome);
    }

    /// Counts the outcome of decoding a reassembled datagram.
    pub fn count_reassembled(&mut self, outcome: &Result<Decoded<'_>, DecodeError>) {
        self.reassembled += 1;
        self.count_layer(outcome);
    }

    /// Decodes and counts one frame of the common shape (see the `fast` module);
    /// `None`, with nothing counted, for any other frame, which the caller then gives
    /// to [`decode`](Self::decode). The packet comes back by value, so a caller that
    /// reads a few fields need not have the whole outcome written out.
    #[inline(always)]
    pub fn decode_common<'a>(
        &mut self,
        link: LinkType,
        data: &'a [u8],
    ) -> Option<DecodedPacket<'a>> {
        if let LinkType::Ethernet = link {
            if let Some(p) = super::fast::ethernet(data) {
                self.packets += 1;
                self.by_link[LinkType::Ethernet.index()] += 1;
                self.count_ip(&p);
                return Some(p);
            }
        }
        None
    }

    /// Decodes one frame and counts its outcome: the same as [`decode`](super::decode)
    /// then [`count`](Self::count), but a frame of the common shape (see the `fast`
    /// module) is counted from what the fast path knows, without matching the
    /// outcome again.
    #[inline(always)]
    pub fn decode<'a>(
        &mut self,
        link: LinkType,
        data: &'a [u8],
    ) -> Result<Decoded<'a>, DecodeError> {
        if let LinkType::Ethernet = link {
            if let Some(p) = super::fast::ethernet(data) {
                self.packets += 1;
                self.by_link[LinkType::Ethernet.index()] += 1;
                self.count_ip(&p);
                return Ok(Decoded::Ip(p));
            }
        }
        let outcome = super::link::decode_link(link, data);
        self.count(link, &outcome);
        outcome
    }

    /// Counts an IP packet decoded for tracking.
    #[inline(always)]
    fn count_ip(&mut self, p: &DecodedPacket<'_>) {
        match p.version {
            IpVersion::V4 => self.ipv4 += 1,
            IpVersion::V6 => self.ipv6 += 1,
        }
        match p.transport {
            Transport::Tcp(_) => self.tcp += 1,
            Transport::Udp { .. } => self.udp += 1,
            Transport::Sctp { .. } => self.sctp += 1,
            Transport::Icmp { .. } if p.version == IpVersion::V4 => self.icmp += 1,
            Transport::Icmp { .. } => self.icmpv6 += 1,
            Transport::Other => self.other_ip += 1,
        }
        if !p.vlans.is_empty() {
            self.vlan_tagged += 1;
        }
        if p.mpls_labels > 0 {
            self.mpls += 1;
        }
        if p.anomalies != 0 {
            self.ipv4_zero_length += u64::from(p.anomalies & anomaly::IPV4_ZERO_LENGTH != 0);
            self.udp_length_mismatch += u64::from(p.anomalies & anomaly::UDP_LENGTH != 0);
            self.tcp_bad_offset += u64::from(p.anomalies & anomaly::TCP_OFFSET != 0);
        }
    }

    #[inline]
    fn count_layer(&mut self, outcome: &Result<Decoded<'_>, DecodeError>) {
        match outcome {
            Ok(Decoded::Ip(p)) => self.count_ip(p),
            Ok(Decoded::Fragment(f)) => {
                match f.version {
                    IpVersion::V4 => self.ipv4_fragments += 1,
                    IpVersion::V6 => self.ipv6_fragments += 1,
                }
                if f.is_first() {
                    self.first_fragments += 1;
                }
            }
            Ok(Decoded::NotIp(kind)) => match kind {
                NonIp::Arp => self.arp += 1,
                NonIp::Llc => self.llc += 1,
                NonIp::OtherEtherType(_) => self.other_ethertype += 1,
                NonIp::LinkControl => self.link_control += 1,
                NonIp::TunnelControl => self.tunnel_control += 1,
            },
            Err(e) => self.errors[*e as usize] += 1,
        }
    }

    /// Frames by link type name, for link types seen at least once.
    pub fn links_seen(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        LinkType::NAMED
            .iter()
            .zip(self.by_link.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| (t.name(), *n))
    }

    /// Tunnel packets opened, by kind name, for kinds seen at least once.
    pub fn tunnels_seen(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        TunnelKind::ALL
            .iter()
            .zip(self.tunnels.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| (t.name(), *n))
    }

    /// IP packets decoded for tracking (IPv4 + IPv6).
    pub fn ip_packets(&self) -> u64 {
        self.ipv4 + self.ipv6
    }

    /// Non-IP frames of every kind.
    pub fn not_ip(&self) -> u64 {
        self.arp + self.llc + self.other_ethertype + self.link_control + self.tunnel_control
    }

    /// Total decode errors.
    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Decode errors with a non-zero count, as (reason name, count).
    pub fn errors_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DecodeError::ALL
            .iter()
            .zip(self.errors.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(e, n)| (e.name(), *n))
    }

    /// Adds another worker's counters into these.
    pub fn merge(&mut self, o: &DecodeStats) {
        self.packets += o.packets;
        self.tunneled += o.tunneled;
        for (a, b) in self.tunnels.iter_mut().zip(o.tunnels.iter()) {
            *a += b;
        }
        for (a, b) in self.by_link.iter_mut().zip(o.by_link.iter()) {
            *a += b;
        }
        self.ipv4 += o.ipv4;
        self.ipv6 += o.ipv6;
        self.tcp += o.tcp;
        self.udp += o.udp;
        self.icmp += o.icmp;
        self.icmpv6 += o.icmpv6;
        self.sctp += o.sctp;
        self.other_ip += o.other_ip;
        self.vlan_tagged += o.vlan_tagged;
        self.mpls += o.mpls;
        self.first_fragments += o.first_fragments;
        self.reassembled += o.reassembled;
        self.ipv4_fragments += o.ipv4_fragments;
        self.ipv6_fragments += o.ipv6_fragments;
        self.arp += o.arp;
        self.llc += o.llc;
        self.other_ethertype += o.other_ethertype;
        self.link_control += o.link_control;
        self.tunnel_control += o.tunnel_control;
        self.ipv4_zero_length += o.ipv4_zero_length;
        self.udp_length_mismatch += o.udp_length_mismatch;
        self.tcp_bad_offset += o.tcp_bad_offset;
        for (a, b) in self.errors.iter_mut().zip(o.errors.iter()) {
            *a += b;
        }
    }
}
