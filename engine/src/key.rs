//! FlowKey: the canonical identity of a flow, the same for both directions.
//!
//! Contract: [`FlowKey::from_packet`] gives one key for a packet and its reply, plus a
//! `reversed` flag that is true when the packet travels from the key's high endpoint
//! to its low one. The key orders endpoints by (address, port), lower first, as Snort's
//! `FlowKey::init` does, and holds the VLAN ids, the address space, the IP version and
//! protocol and the tunnel depth. Protocols without ports are keyed with port 0; ICMP
//! and ICMPv6 are keyed by type and the type of the expected answer (Suricata's
//! `icmp_s`/`icmp_d`), so an echo request and its reply share a flow while unrelated
//! ICMP messages between the same hosts do not; ESP is keyed by its SPI as well
//! (Suricata's `FlowCompareESP`: one flow per security association). The key is 48 bytes, `Copy`, and hashed
//! with a seeded foldhash (random per cache, fixed for reproducible runs).

use crate::decode::{DecodedPacket, IpVersion, Transport, MAX_VLANS};
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IANA protocol numbers the engine treats specially.
pub mod proto {
    /// ICMP
    pub const ICMP: u8 = 1;
    /// TCP
    pub const TCP: u8 = 6;
    /// UDP
    pub const UDP: u8 = 17;
    /// ICMPv6
    pub const ICMPV6: u8 = 58;
    /// SCTP
    pub const SCTP: u8 = 132;
    /// ESP (IPsec)
    pub const ESP: u8 = 50;
}

/// The canonical key of a flow.
#[derive(Clone, Copy, Debug, Eq)]
#[repr(C, align(8))]
pub struct FlowKey {
    addrs: [[u8; 16]; 2],
    ports: [u16; 2],
    vlans: [u16; MAX_VLANS],
    addr_space: u16,
    proto: u8,
    version: u8,
    depth: u8,
    _pad: u8,
}

/// Keys compare as six 64-bit words: every byte, padding included (always zero).
impl PartialEq for FlowKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.words(), other.words());
        (a[0] ^ b[0])
            | (a[1] ^ b[1])
            | (a[2] ^ b[2])
            | (a[3] ^ b[3])
            | (a[4] ^ b[4])
            | (a[5] ^ b[5])
            == 0
    }
}

/// Which parts of a packet enter its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyOptions {
    /// Key by VLAN ids (Suricata's `vlan.use-for-tracking`, default true).
    pub vlan: bool,
    /// Key by tunnel depth (Suricata's `decoder.recursion-level.use-for-tracking`,
    /// default true): the same inner 5-tuple at two depths is two flows.
    pub depth: bool,
}

impl Default for KeyOptions {
    fn default() -> Self {
        KeyOptions {
            vlan: true,
            depth: true,
        }
    }
}

/// The ICMP type that answers `icmp_type`, when there is one (Suricata's
/// `ICMPv4GetCounterpart` / `ICMPv6GetCounterpart`).
pub fn icmp_counterpart(v6: bool, icmp_type: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if v6 {
        // echo, MLD query/report, router sol/adv, neighbour sol/adv, node information,
        // home agent discovery, mobile prefix, certificate path, multicast router
        // adv/sol, duplicate address
        &[
            (128, 129),
            (130, 131),
            (133, 134),
            (135, 136),
            (139, 140),
            (144, 145),
            (146, 147),
            (148, 149),
            (151, 152),
            (157, 158),
        ]
    } else {
        // echo, timestamp, information, router solicitation, address mask
        &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if icmp_type == a {
            Some(b)
        } else if icmp_type == b {
            Some(a)
        } else {
            None
        }
    })
}

impl FlowKey {
    /// Size of a key in bytes.
    pub const SIZE: usize = std::mem::size_of::<FlowKey>();

    /// The key of a decoded packet and whether the packet goes from the key's high
    /// endpoint to its low one (`reversed`).
    #[inline]
    pub fn from_packet(
        p: &DecodedPacket<'_>,
        opts: KeyOptions,
        addr_space: u16,
    ) -> (FlowKey, bool) {
        let (sp, dp) = match p.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port),
            Transport::Udp { src_port, dst_port } | Transport::Sctp { src_port, dst_port } => {
                (src_port, dst_port)
            }
            Transport::Icmp {
                icmp_type,
                icmp_code,
            } => {
                // Suricata compares ICMPv4 flows by type only, ICMPv6 by type and code.
                let v6 = p.version == IpVersion::V6;
                let answer = icmp_counterpart(v6, icmp_type).unwrap_or(0);
                let code = if v6 { u16::from(icmp_code) << 8 } else { 0 };
                (u16::from(icmp_type) | code, u16::from(answer))
            }
            // Suricata keys ESP by its security parameter index too (one flow per
            // security association, so per direction); the key keeps it in its port
            // fields, which a portless protocol does not print.
            Transport::Other if p.proto == proto::ESP => match p.payload.get(..4) {
                Some(spi) => (
                    u16::from_be_bytes([spi[0], spi[1]]),
                    u16::from_be_bytes([spi[2], spi[3]]),
                ),
                None => (0, 0),
            },
            Transport::Other => (0, 0),
        };
        let vlans = if opts.vlan {
            p.vlans.padded()
        } else {
            [0; MAX_VLANS]
        };
        let depth = if opts.depth { p.depth } else { 0 };
        FlowKey::new(
            p.version, p.proto, p.src, sp, p.dst, dp, vlans, addr_space, depth,
        )
    }

    /// Builds a key from a 5-tuple and its context; see [`FlowKey::from_packet`].
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn new(
        version: IpVersion,
        proto: u8,
        src: [u8; 16],
        src_port: u16,
        dst: [u8; 16],
        dst_port: u16,
        vlans: [u16; MAX_VLANS],
        addr_space: u16,
        depth: u8,
    ) -> (FlowKey, bool) {
        // Endpoint order: address (as a big-endian number, i.e. byte-wise), then port.
        let (a, b) = (u128::from_be_bytes(src), u128::from_be_bytes(dst));
        let reversed = b < a || (b == a && dst_port < src_port);
        let (lo, hi) = if reversed {
            ((dst, dst_port), (src, src_port))
        } else {
            ((src, src_port), (dst, dst_port))
        };
        (
            FlowKey {
                addrs: [lo.0, hi.0],
                ports: [lo.1, hi.1],
                vlans,
                addr_space,
                proto,
                version: match version {
                    IpVersion::V4 => 4,
                    IpVersion::V6 => 6,
                },
                depth,
                _pad: 0,
            },
            reversed,
        )
    }

    /// The address of the low (0) or high (1) endpoint.
    #[inline]
    pub(crate) fn addr(&self, i: usize) -> IpAddr {
        let a = self.addrs[i & 1];
        if self.version == 4 {
            IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(a))
        }
    }

    /// The low endpoint (address, port).
    pub fn lo(&self) -> (IpAddr, u16) {
        (self.addr(0), self.ports[0])
    }

    /// The high endpoint (address, port).
    pub fn hi(&self) -> (IpAddr, u16) {
        (self.addr(1), self.ports[1])
    }

    /// Raw address bytes of the low (0) or high (1) endpoint.
    pub fn addr_bytes(&self, i: usize) -> &[u8; 16] {
        &self.addrs[i & 1]
    }

    /// Port (or ICMP type) of the low (0) or high (1) endpoint.
    pub fn port(&self, i: usize) -> u16 {
        self.ports[i & 1]
    }

    /// IP protocol number.
    pub fn proto(&self) -> u8 {
        self.proto
    }

    /// IP version.
    pub fn version(&self) -> IpVersion {
        if self.version == 4 {
            IpVersion::V4
        } else {
            IpVersion::V6
        }
    }

    /// VLAN ids padded with zeros (outer first); empty tags are zero.
    pub fn vlans(&self) -> [u16; MAX_VLANS] {
        self.vlans
    }

    /// Address space id.
    pub fn addr_space(&self) -> u16 {
        self.addr_space
    }

    /// Tunnel depth.
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// True when the protocol carries ports (TCP, UDP, SCTP).
    pub fn has_ports(&self) -> bool {
        matches!(self.proto, proto::TCP | proto::UDP | proto::SCTP)
    }

    /// True for ICMP and ICMPv6.
    pub fn is_icmp(&self) -> bool {
        (self.proto == proto::ICMP && self.version == 4)
            || (self.proto == proto::ICMPV6 && self.version == 6)
    }

    /// The key as six 64-bit words (every byte of the key, padding included, which is
    /// always zero).
    #[inline]
    fn words(&self) -> [u64; 6] {
        let w = |a: &[u8; 16], h: usize| {
            u64::from_ne_bytes([
                a[h],
                a[h + 1],
                a[h + 2],
                a[h + 3],
                a[h + 4],
                a[h + 5],
                a[h + 6],
                a[h + 7],
            ])
        };
        let tail = u64::from(self.ports[0])
            | u64::from(self.ports[1]) << 16
            | u64::from(self.vlans[0]) << 32
            | u64::from(self.vlans[1]) << 48;
        let tail2 = u64::from(self.vlans[2])
            | u64::from(self.addr_space) << 16
            | u64::from(self.proto) << 32
            | u64::from(self.version) << 40
            | u64::from(self.depth) << 48
            | u64::from(self._pad) << 56;
        [
            w(&self.addrs[0], 0),
            w(&self.addrs[0], 8),
            w(&self.addrs[1], 0),
            w(&self.addrs[1], 8),
            tail,
            tail2,
        ]
    }

    /// The key's hash under `seed`.
    #[inline]
    pub fn hash_with(&self, seed: &KeyHasher) -> u64 {
        let mut h = seed.0.build_hasher();
        for w in self.words() {
            h.write_u64(w);
        }
        h.finish()
    }
}

/// A seeded hasher for flow keys.
#[derive(Clone, Debug)]
pub struct KeyHasher(foldhash::fast::FixedState);

impl KeyHasher {
    /// The seed used by `--deterministic` runs.
    pub const DETERMINISTIC_SEED: u64 = 0x5eed_f10e_0000_0001;

    /// A hasher with the given seed.
    pub fn with_seed(seed: u64) -> Self {
        KeyHasher(foldhash::fast::FixedState::with_seed(seed))
    }

    /// A value derived from the seed, to key other per-run permutations (flow ids).
    pub fn id_seed(&self) -> u64 {
        self.0.hash_one(0x1d_u64)
    }

    /// A hasher with a random seed (from the operating system's randomness, through
    /// the standard library's `RandomState`).
    pub fn random() -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x9e37_79b9_u64);
        Self::with_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Decoded, LinkType};

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    #[test]
    fn both_directions_share_a_key() {
        let a = v4([10, 0, 0, 1]);
        let b = v4([10, 0, 0, 2]);
        let (k1, r1) = FlowKey::new(IpVersion::V4, 6, a, 1234, b, 80, [0; 3], 0, 0);
        let (k2, r2) = FlowKey::new(IpVersion::V4, 6, b, 80, a, 1234, [0; 3], 0, 0);
        assert_eq!(k1, k2);
        assert_ne!(r1, r2);
        assert!(!r1);
        let h = KeyHasher::with_seed(7);
        assert_eq!(k1.hash_with(&h), k2.hash_with(&h));
        assert_eq!(k1.lo().1, 1234);
    }

    #[test]
    fn same_address_orders_by_port() {
        let a = v4([127, 0, 0, 1]);
        let (k1, r1) = FlowKey::new(IpVersion::V4, 17, a, 5000, a, 53, [0; 3], 0, 0);
        let (k2, r2) = FlowKey::new(IpVersion::V4, 17, a, 53, a, 5000, [0; 3], 0, 0);
        assert_eq!(k1, k2);
        assert!(r1 && !r2);
    }

    #[test]
    fn context_separates_keys() {
        let a = v4([10, 0, 0, 1]);
        let b = v4([10, 0, 0, 2]);
        let base = FlowKey::new(IpVersion::V4, 17, a, 1, b, 2, [0; 3], 0, 0).0;
        assert_ne!(
            base,
            FlowKey::new(IpVersion::V4, 17, a, 1, b, 2, [5, 0, 0], 0, 0).0
        );
        assert_ne!(
            base,
            FlowKey::new(IpVersion::V4, 17, a, 1, b, 2, [0; 3], 1, 0).0
        );
        assert_ne!(
            base,
            FlowKey::new(IpVersion::V4, 17, a, 1, b, 2, [0; 3], 0, 1).0
        );
        assert_ne!(
            base,
            FlowKey::new(IpVersion::V4, 6, a, 1, b, 2, [0; 3], 0, 0).0
        );
    }

    #[test]
    fn key_is_small() {
        assert_eq!(FlowKey::SIZE, 48);
    }

    #[test]
    fn seeds_change_hashes() {
        let (k, _) = FlowKey::new(
            IpVersion::V4,
            6,
            v4([1, 2, 3, 4]),
            1,
            v4([5, 6, 7, 8]),
            2,
            [0; 3],
            0,
            0,
        );
        assert_ne!(
            k.hash_with(&KeyHasher::with_seed(1)),
            k.hash_with(&KeyHasher::with_seed(2))
        );
        assert_eq!(
            k.hash_with(&KeyHasher::with_seed(1)),
            k.hash_with(&KeyHasher::with_seed(1))
        );
    }

    fn icmp_packet(src: [u8; 4], dst: [u8; 4], icmp_type: u8) -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, src[0], src[1], src[2], src[3], dst[0],
            dst[1], dst[2], dst[3],
        ];
        ip.extend_from_slice(&[icmp_type, 0, 0, 0, 0, 1, 0, 1]);
        ip
    }

    #[test]
    fn icmp_echo_and_reply_share_a_flow_other_types_do_not() {
        let key = |bytes: &[u8]| match decode(LinkType::Raw, bytes).unwrap() {
            Decoded::Ip(p) => FlowKey::from_packet(&p, KeyOptions::default(), 0),
            other => panic!("{other:?}"),
        };
        let req = icmp_packet([10, 0, 0, 1], [10, 0, 0, 2], 8);
        let rep = icmp_packet([10, 0, 0, 2], [10, 0, 0, 1], 0);
        let ts = icmp_packet([10, 0, 0, 1], [10, 0, 0, 2], 13);
        let (kq, rq) = key(&req);
        let (kr, rr) = key(&rep);
        assert_eq!(kq, kr);
        assert_ne!(rq, rr);
        assert_ne!(kq, key(&ts).0);
        assert!(kq.is_icmp() && !kq.has_ports());
    }

    #[test]
    fn esp_is_keyed_by_its_spi() {
        let esp = |src: [u8; 4], dst: [u8; 4], spi: u32| {
            let mut ip = vec![
                0x45, 0, 0, 36, 0, 1, 0, 0, 64, 50, 0, 0, src[0], src[1], src[2], src[3], dst[0],
                dst[1], dst[2], dst[3],
            ];
            ip.extend_from_slice(&spi.to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22]);
            match decode(LinkType::Raw, &ip).unwrap() {
                Decoded::Ip(p) => FlowKey::from_packet(&p, KeyOptions::default(), 0).0,
                other => panic!("{other:?}"),
            }
        };
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        // the same security association: one flow
        assert_eq!(esp(a, b, 0x1234_5678), esp(a, b, 0x1234_5678));
        // each direction's association (its own SPI) is a flow of its own
        assert_ne!(esp(a, b, 0x1234_5678), esp(b, a, 0x9abc_def0));
        assert_ne!(esp(a, b, 0x1234_5678), esp(a, b, 0x1234_5679));
        assert!(!esp(a, b, 1).has_ports());
    }
}
