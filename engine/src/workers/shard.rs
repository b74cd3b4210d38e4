//! Which worker a frame goes to: a symmetric hash of its outermost IP address pair.
//!
//! Contract: [`shard_hash`] gives the same value for both directions of a conversation
//! between two addresses, for every fragment of a datagram (fragments carry no ports,
//! but always their addresses), and for every packet a tunnel between two endpoints
//! carries (the outer addresses decide, so the tunnel's own flow and the flows inside
//! it meet on one worker). Related flows that inspectors link, such as an FTP control
//! connection and the data connections it announces, also meet. The cost: all the
//! traffic between one pair of hosts goes to one worker. Frames that are not IP (ARP,
//! undecodable frames) hash to 0. Never panics, whatever the bytes.
//!
//! One exception: Teredo. One inner IPv6 conversation reaches its client through
//! several outer address pairs (the same link-local and Teredo addresses behind one
//! Teredo server), so an unfragmented UDP datagram to or from a Teredo port hashes by
//! the address on the Teredo-port side alone (the server or relay): everything it
//! relays meets on one worker. (A Teredo datagram fragmented in IPv4 hashes by its
//! pair like any fragment; such a flow may then be split.)
//!
//! The common link layers (Ethernet with up to two VLAN tags, raw IP) are read in
//! place; others go through the decoder, which reads the same address bytes.

use crate::decode::{decode, Decoded, LinkType, PortSet, Transport};

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const UDP: u8 = 17;

/// Hashes frames for sharding; see the module contract.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sharder {
    /// Teredo ports (empty when the Teredo decoder is off).
    teredo: PortSet,
}

impl Sharder {
    /// A sharder for the Teredo ports `teredo` (empty: Teredo off).
    pub fn new(teredo: PortSet) -> Sharder {
        Sharder { teredo }
    }

    /// The symmetric hash of the frame's outermost IP source and destination.
    #[inline]
    pub fn hash(&self, link: LinkType, data: &[u8]) -> u64 {
        match self.fast(link, data) {
            Some(h) => h,
            None => self.decoded(link, data),
        }
    }

    /// The hash through the decoder, for the frames [`fast`](Self::fast) does not read.
    #[cold]
    fn decoded(&self, link: LinkType, data: &[u8]) -> u64 {
        let addr = |a: &[u8; 16]| fold(u128::from_be_bytes(*a));
        match decode(link, data) {
            Ok(Decoded::Ip(p)) => match p.transport {
                Transport::Udp { src_port, dst_port } => {
                    self.udp_hash(addr(&p.src), addr(&p.dst), src_port, dst_port)
                }
                _ => pair_hash(addr(&p.src), addr(&p.dst)),
            },
            Ok(Decoded::Fragment(f)) => pair_hash(addr(&f.src), addr(&f.dst)),
            _ => 0,
        }
    }

    /// The hash of a UDP datagram between the folded addresses `src` and `dst`.
    #[inline]
    fn udp_hash(&self, src: u64, dst: u64, sp: u16, dp: u16) -> u64 {
        match (self.teredo.contains(sp), self.teredo.contains(dp)) {
            (true, false) => pair_hash(src, src),
            (false, true) => pair_hash(dst, dst),
            _ => pair_hash(src, dst),
        }
    }

    /// Reads the addresses in place for Ethernet (0-2 VLAN tags) and raw IP; `None`
    /// sends the frame through the decoder.
    #[inline]
    fn fast(&self, link: LinkType, data: &[u8]) -> Option<u64> {
        // The IP header, and the version the link layer announces (0: any).
        let (ip, version) = match link {
            LinkType::Ethernet => {
                let mut at = 12;
                let mut et = be16(data, at)?;
                if et == ETH_VLAN || et == ETH_QINQ {
                    at += 4;
                    et = be16(data, at)?;
                    if et == ETH_VLAN || et == ETH_QINQ {
                        at += 4;
                        et = be16(data, at)?;
                    }
                }
                let version = match et {
                    ETH_IPV4 => 4,
                    ETH_IPV6 => 6,
                    _ => return None,
                };
                (data.get(at + 2..)?, version)
            }
            LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => (data, 0),
            _ => return None,
        };
        let v = ip.first()? >> 4;
        if version != 0 && v != version {
            return None;
        }
        // Addresses folded as the decoder's 16-byte form read big-endian would be
        // (IPv4 in the top 32 bits), so both paths hash alike.
        let (src, dst, proto, l4) = match v {
            4 => {
                let h: &[u8; 20] = ip.get(..20)?.try_into().ok()?;
                let v4 = |at: usize| {
                    fold_v4(u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]))
                };
                let (src, dst, proto) = (v4(12), v4(16), h[9]);
                if proto != UDP || self.teredo.is_empty() {
                    return Some(pair_hash(src, dst));
                }
                let fragment = u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0;
                let l4 = if fragment {
                    None
                } else {
                    ip.get(usize::from(h[0] & 0x0f) * 4..)
                };
                (src, dst, proto, l4)
            }
            6 => {
                let h: &[u8; 40] = ip.get(..40)?.try_into().ok()?;
                let v6 = |at: usize| {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&h[at..at + 16]);
                    fold(u128::from_be_bytes(a))
                };
                (v6(8), v6(24), h[6], ip.get(40..))
            }
            _ => return None,
        };
        if proto == UDP && !self.teredo.is_empty() {
            if let Some(u) = l4.and_then(|l| l.get(..4)) {
                let (sp, dp) = (
                    u16::from_be_bytes([u[0], u[1]]),
                    u16::from_be_bytes([u[2], u[3]]),
                );
                return Some(self.udp_hash(src, dst, sp, dp));
            }
        }
        Some(pair_hash(src, dst))
    }
}

/// The symmetric hash of the frame's outermost IP source and destination, with the
/// default Teredo port (3544).
#[inline]
pub fn shard_hash(link: LinkType, data: &[u8]) -> u64 {
    Sharder::new(PortSet::one(3544)).hash(link, data)
}

/// The worker of a hash among `n`.
#[inline]
pub fn worker_of(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

#[inline]
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// An address, in the 16-byte form read big-endian (IPv4 in the top 32 bits), folded
/// to 64 bits.
#[inline]
fn fold(x: u128) -> u64 {
    (x as u64) ^ ((x >> 64) as u64).rotate_left(29)
}

/// [`fold`] of an IPv4 address's 16-byte form.
#[inline]
fn fold_v4(a: u32) -> u64 {
    (u64::from(a) << 32).rotate_left(29)
}

/// Order-independent mix of two folded addresses.
#[inline]
fn pair_hash(a: u64, b: u64) -> u64 {
    let (lo, hi) = (a.min(b), a.max(b));
    let mut h = lo.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ hi.wrapping_mul(0xc2b2_ae3d_27d4_eb4f).rotate_left(31);
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_v4(src: [u8; 4], dst: [u8; 4], vlans: &[u16], frag: bool) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for v in vlans {
            f.extend_from_slice(&ETH_VLAN.to_be_bytes());
            f.extend_from_slice(&v.to_be_bytes());
        }
        f.extend_from_slice(&ETH_IPV4.to_be_bytes());
        let mut ip = [0u8; 28];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&28u16.to_be_bytes());
        if frag {
            ip[6] = 0x20; // MF, offset 0
        }
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        f.extend_from_slice(&ip);
        f
    }

    #[test]
    fn both_directions_and_fragments_hash_alike() {
        let (a, b) = ([10, 0, 0, 1], [192, 168, 7, 9]);
        let h = shard_hash(LinkType::Ethernet, &eth_v4(a, b, &[], false));
        assert_eq!(h, shard_hash(LinkType::Ethernet, &eth_v4(b, a, &[], false)));
        assert_eq!(h, shard_hash(LinkType::Ethernet, &eth_v4(b, a, &[], true)));
        assert_eq!(
            h,
            shard_hash(LinkType::Ethernet, &eth_v4(a, b, &[7, 8], false))
        );
        // Raw IP of the same addresses: the same worker.
        let raw = &eth_v4(a, b, &[], false)[14..];
        assert_eq!(h, shard_hash(LinkType::Raw, raw));
        assert_ne!(
            h,
            shard_hash(
                LinkType::Ethernet,
                &eth_v4(a, [192, 168, 7, 10], &[], false)
            )
        );
    }

    #[test]
    fn the_decoder_path_reads_the_same_addresses_as_the_fast_path() {
        // Linux cooked capture (SLL) goes through the decoder.
        let eth = eth_v4([1, 2, 3, 4], [5, 6, 7, 8], &[], false);
        let mut sll = vec![0u8; 16];
        sll[2..4].copy_from_slice(&1u16.to_be_bytes());
        sll[14..16].copy_from_slice(&ETH_IPV4.to_be_bytes());
        sll.extend_from_slice(&eth[14..]);
        assert!(Sharder::default().fast(LinkType::LinuxSll, &sll).is_none());
        assert_eq!(
            shard_hash(LinkType::LinuxSll, &sll),
            shard_hash(LinkType::Ethernet, &eth)
        );
    }

    proptest::proptest! {
        /// The in-place reading and the decoder agree on every frame the in-place
        /// reading takes (IPv4 with options or fragmented, IPv6, VLAN tags, UDP to
        /// and from the Teredo port or not).
        #[test]
        fn the_fast_path_hashes_as_the_decoder_does(
            v6 in proptest::bool::ANY,
            src in proptest::array::uniform16(proptest::num::u8::ANY),
            dst in proptest::array::uniform16(proptest::num::u8::ANY),
            vlans in proptest::collection::vec(1u16..4095, 0..=2),
            udp in proptest::bool::ANY,
            sp in proptest::sample::select(vec![53u16, 3544, 40000]),
            dp in proptest::sample::select(vec![80u16, 3544, 50000]),
            options in 0usize..=2,
            frag in proptest::bool::ANY,
        ) {
            let mut f = vec![0u8; 12];
            for v in &vlans {
                f.extend_from_slice(&ETH_VLAN.to_be_bytes());
                f.extend_from_slice(&v.to_be_bytes());
            }
            let proto = if udp { 17 } else { 6 };
            let mut l4 = vec![0u8; if udp { 8 } else { 20 }];
            l4[0..2].copy_from_slice(&sp.to_be_bytes());
            l4[2..4].copy_from_slice(&dp.to_be_bytes());
            if udp {
                l4[4..6].copy_from_slice(&8u16.to_be_bytes());
            } else {
                l4[12] = 0x50;
            }
            if v6 {
                f.extend_from_slice(&ETH_IPV6.to_be_bytes());
                let mut ip = vec![0u8; 40];
                ip[0] = 0x60;
                ip[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
                ip[6] = proto;
                ip[7] = 64;
                ip[8..24].copy_from_slice(&src);
                ip[24..40].copy_from_slice(&dst);
                f.extend_from_slice(&ip);
            } else {
                f.extend_from_slice(&ETH_IPV4.to_be_bytes());
                let hl = 20 + 4 * options;
                let mut ip = vec![0u8; hl];
                ip[0] = 0x40 | (hl / 4) as u8;
                ip[2..4].copy_from_slice(&((hl + l4.len()) as u16).to_be_bytes());
                if frag {
                    ip[6] = 0x20; // more fragments, offset 0
                }
                ip[8] = 64;
                ip[9] = proto;
                ip[12..16].copy_from_slice(&src[..4]);
                ip[16..20].copy_from_slice(&dst[..4]);
                for o in ip[20..].iter_mut() {
                    *o = 1; // no-operation options
                }
                f.extend_from_slice(&ip);
            }
            f.extend_from_slice(&l4);
            for s in [Sharder::new(PortSet::one(3544)), Sharder::default()] {
                let fast = s.fast(LinkType::Ethernet, &f);
                proptest::prop_assert!(fast.is_some());
                proptest::prop_assert_eq!(fast.unwrap(), s.decoded(LinkType::Ethernet, &f));
            }
        }
    }

    #[test]
    fn garbage_hashes_to_zero_or_anything_but_never_panics() {
        assert_eq!(shard_hash(LinkType::Ethernet, &[]), 0);
        assert_eq!(shard_hash(LinkType::Ethernet, &[0xff; 13]), 0);
        for n in 0..80 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            for link in [LinkType::Ethernet, LinkType::Raw, LinkType::LinuxSll2] {
                let _ = shard_hash(link, &junk);
            }
        }
    }

    #[test]
    fn teredo_hashes_by_the_server_address_alone() {
        let server = [194, 136, 28, 76];
        let udp = |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16| {
            let mut f = eth_v4(src, dst, &[], false);
            f[14 + 20..14 + 22].copy_from_slice(&sp.to_be_bytes());
            f[14 + 22..14 + 24].copy_from_slice(&dp.to_be_bytes());
            f
        };
        let s = Sharder::new(PortSet::one(3544));
        let h = s.hash(LinkType::Ethernet, &udp([10, 0, 0, 1], server, 5000, 3544));
        assert_eq!(
            h,
            s.hash(LinkType::Ethernet, &udp(server, [10, 0, 0, 2], 3544, 6000))
        );
        assert_eq!(
            h,
            s.hash(LinkType::Ethernet, &udp([10, 0, 0, 3], server, 7000, 3544))
        );
        // Teredo off, or another port: the pair decides.
        let off = Sharder::default();
        assert_ne!(
            off.hash(LinkType::Ethernet, &udp([10, 0, 0, 1], server, 5000, 3544)),
            off.hash(LinkType::Ethernet, &udp([10, 0, 0, 3], server, 7000, 3544))
        );
        // The decoder path applies the same rule (Linux cooked capture).
        let eth = udp([10, 0, 0, 1], server, 5000, 3544);
        let mut sll = vec![0u8; 16];
        sll[2..4].copy_from_slice(&1u16.to_be_bytes());
        sll[14..16].copy_from_slice(&ETH_IPV4.to_be_bytes());
        sll.extend_from_slice(&eth[14..]);
        assert_eq!(s.hash(LinkType::LinuxSll, &sll), h);
    }

    #[test]
    fn workers_share_the_hash_space_evenly() {
        let mut counts = [0u32; 3];
        for i in 0..30_000u32 {
            let a = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
            let h = shard_hash(LinkType::Ethernet, &eth_v4(a, [172, 16, 0, 1], &[], false));
            counts[worker_of(h, 3)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "uneven: {counts:?}");
        }
        assert_eq!(worker_of(u64::MAX, 2), 1);
        assert_eq!(worker_of(0, 2), 0);
    }
}
