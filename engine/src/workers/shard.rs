//! Which worker a frame goes to: symmetric hashes of the IP address pairs of its
//! layers.
//!
//! Contract: [`Sharder::hash`] (and [`shard_hash`]) gives the same value for both
//! directions of a conversation between two addresses and for every fragment of a
//! datagram (fragments carry no ports, but always their addresses): the hash of the
//! frame's outermost IP pair. The worker of that hash tracks the frame's outer flow,
//! counts the frame, and reassembles it when it is a fragment (with everything the
//! datagram carries). A frame that carries other IP packets through tunnels the
//! configuration opens has, from [`Sharder::route`], one more hash per inner layer
//! (down to `decoder.max-layers`, stopping at an inner fragment): each inner layer is
//! tracked by the worker of its own pair, so one inner conversation meets on one
//! worker whichever tunnels carry it, and the frame also goes to those workers. Related
//! flows that inspectors link, such as an FTP control connection and the data
//! connections it announces, share their address pair and so meet too. The cost: all
//! the traffic between one pair of hosts goes to one worker. Frames that are not IP
//! (ARP, undecodable frames) hash to 0. Never panics, whatever the bytes.
//!
//! The common link layers (Ethernet with up to two VLAN tags, raw IP) are read in
//! place, and so are the common tunnels (VXLAN, IP in IP, GRE without source routes
//! carrying IP or Ethernet) when the packet they carry carries no other; the rest goes
//! through the decoder, which reads the same address bytes. Reading in place never
//! finds fewer inner layers than the decoder: a layer it missed would be tracked by no
//! worker.

use crate::decode::{
    decode, decode_tunnel, Decoded, DecodedPacket, Fragment, LinkType, TunnelConfig,
};

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const GRE: u8 = 47;
const ETH_BRIDGING: u16 = 0x6558;

/// Hashes frames for sharding; see the module contract.
#[derive(Clone, Copy, Debug)]
pub struct Sharder {
    /// The tunnels the decoder opens.
    tunnels: TunnelConfig,
    /// `decoder.max-layers`.
    max_layers: u8,
    /// Some tunnel is open.
    opens_any: bool,
}

impl Sharder {
    /// A sharder for the decoder's `tunnels` and `max_layers` (`decoder.max-layers`).
    pub fn new(tunnels: TunnelConfig, max_layers: u8) -> Sharder {
        Sharder {
            tunnels,
            max_layers,
            opens_any: tunnels.ipip
                || tunnels.gre
                || !tunnels.vxlan.is_empty()
                || !tunnels.geneve.is_empty()
                || !tunnels.teredo.is_empty()
                || !tunnels.gtp.is_empty(),
        }
    }

    /// The symmetric hash of the frame's outermost IP source and destination.
    #[inline]
    pub fn hash(&self, link: LinkType, data: &[u8]) -> u64 {
        match self.fast(link, data) {
            Some(h) => h,
            None => self.slow(link, data, None),
        }
    }

    /// As [`hash`](Self::hash), and `inner` gets the hashes of the IP packets the
    /// frame's tunnels carry, from the outside in (left as it is when the frame
    /// carries none: the caller empties it after use).
    #[inline]
    pub fn route(&self, link: LinkType, data: &[u8], inner: &mut Vec<u64>) -> u64 {
        match self.fast(link, data) {
            Some(h) => h,
            None => self.slow(link, data, Some(inner)),
        }
    }

    /// The hash of a frame [`fast`](Self::fast) does not take (and with `inner`, its
    /// inner layers' hashes): a tunnel read in place, or the decoder.
    #[cold]
    fn slow(&self, link: LinkType, data: &[u8], inner: Option<&mut Vec<u64>>) -> u64 {
        match (self.in_place(link, data), inner) {
            (InPlace::Plain(h), _) => h,
            (InPlace::Carrier { outer, .. }, None) => outer,
            (
                InPlace::Carrier {
                    outer,
                    proto,
                    payload,
                },
                Some(inner),
            ) => {
                if self.follow(proto, payload, inner) {
                    outer
                } else {
                    inner.clear();
                    self.decoded(link, data, Some(inner))
                }
            }
            (InPlace::Decoder, inner) => self.decoded(link, data, inner),
        }
    }

    /// The hash through the decoder, for the frames [`fast`](Self::fast) does not read;
    /// with `inner`, the inner layers' hashes too.
    #[cold]
    fn decoded(&self, link: LinkType, data: &[u8], inner: Option<&mut Vec<u64>>) -> u64 {
        match decode(link, data) {
            Ok(Decoded::Ip(p)) => {
                if let Some(inner) = inner {
                    if self.tunnels.may_carry(&p) {
                        self.inner_layers(p, inner);
                    }
                }
                packet_hash(&p)
            }
            Ok(Decoded::Fragment(f)) => fragment_hash(&f),
            _ => 0,
        }
    }

    /// Pushes the hashes of the layers `p`'s tunnels carry onto `inner`, as the
    /// engine opens them (down to `decoder.max-layers`, up to an inner fragment).
    fn inner_layers(&self, mut p: DecodedPacket<'_>, inner: &mut Vec<u64>) {
        while p.depth + 1 < self.max_layers {
            match decode_tunnel(&p, &self.tunnels) {
                Some((_, Ok(Decoded::Ip(i)))) => {
                    inner.push(packet_hash(&i));
                    if !self.tunnels.may_carry(&i) {
                        break;
                    }
                    p = i;
                }
                Some((_, Ok(Decoded::Fragment(f)))) => {
                    inner.push(fragment_hash(&f));
                    break;
                }
                _ => break,
            }
        }
    }

    /// The common tunnels read in place (VXLAN; IP in IP; GRE without source routes
    /// carrying IP or Ethernet), when the packet they carry cannot carry another:
    /// pushes its hash onto `inner` and returns true. False (nothing pushed) sends the
    /// frame through the decoder. `proto` and `payload` are the outer packet's
    /// protocol and what follows its IP header.
    ///
    /// Never gives fewer layers than the decoder: whatever it is unsure of goes to the
    /// decoder, and an inner packet read in place is one [`fast`](Self::fast) takes,
    /// which carries nothing for the decoder either. It may give one the decoder does
    /// not (an inner packet the decoder finds malformed): that worker then gets a copy
    /// it finds nothing in.
    #[inline(never)]
    fn follow(&self, proto: u8, payload: &[u8], inner: &mut Vec<u64>) -> bool {
        if self.max_layers < 2 {
            // The decoder opens no tunnel: no inner layer.
            return true;
        }
        let (link, carried) = match proto {
            4 | 41 if self.tunnels.ipip => (LinkType::Raw, payload),
            GRE if self.tunnels.gre => {
                let Some(flags) = be16(payload, 0) else {
                    return false;
                };
                if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
                    // PPTP, or source routes.
                    return false;
                }
                let mut off = 4;
                for bit in [0x8000, 0x2000, 0x1000] {
                    off += if flags & bit != 0 { 4 } else { 0 };
                }
                let link = match be16(payload, 2) {
                    Some(ETH_IPV4) | Some(ETH_IPV6) => LinkType::Raw,
                    Some(ETH_BRIDGING) => LinkType::Ethernet,
                    _ => return false,
                };
                let Some(rest) = payload.get(off..) else {
                    return false;
                };
                (link, rest)
            }
            UDP => {
                let Some(dp) = be16(payload, 2) else {
                    return false;
                };
                if !self.tunnels.vxlan.contains(dp) {
                    return false;
                }
                // The decoder's VXLAN check: the I flag, the last byte zero, and at
                // least an Ethernet header after the 8-byte header.
                let Some(h) = payload.get(8..16) else {
                    return false;
                };
                if h[0] & 0x08 == 0 || h[7] != 0 || payload.len() < 16 + 14 {
                    return false;
                }
                (LinkType::Ethernet, &payload[16..])
            }
            _ => return false,
        };
        match self.in_place(link, carried) {
            InPlace::Plain(h) => {
                inner.push(h);
                true
            }
            _ => false,
        }
    }

    /// The hash of a packet [`in_place`](Self::in_place) reads and finds carries no
    /// tunnel (the common frame); `None` for the others.
    #[inline(never)]
    fn fast(&self, link: LinkType, data: &[u8]) -> Option<u64> {
        match self.read(link, data) {
            Some(InPlace::Plain(h)) => Some(h),
            _ => None,
        }
    }

    /// Reads the addresses in place for Ethernet (0-2 VLAN tags) and raw IP. A packet
    /// that may carry a tunnel (or whose headers the decoder walks further, such as
    /// IPv6 extension headers) is read only when no tunnel is open.
    fn in_place<'a>(&self, link: LinkType, data: &'a [u8]) -> InPlace<'a> {
        self.read(link, data).unwrap_or(InPlace::Decoder)
    }

    #[inline(always)]
    fn read<'a>(&self, link: LinkType, data: &'a [u8]) -> Option<InPlace<'a>> {
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
                if proto == TCP || proto == ICMP || u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
                    // TCP, ICMP, or a fragment (its pair, whatever it carries).
                    return Some(InPlace::Plain(pair_hash(src, dst)));
                }
                (src, dst, proto, ip.get(usize::from(h[0] & 0x0f) * 4..))
            }
            6 => {
                let h: &[u8; 40] = ip.get(..40)?.try_into().ok()?;
                let v6 = |at: usize| {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&h[at..at + 16]);
                    fold(u128::from_be_bytes(a))
                };
                let (src, dst, proto) = (v6(8), v6(24), h[6]);
                if proto == TCP || proto == ICMPV6 {
                    return Some(InPlace::Plain(pair_hash(src, dst)));
                }
                (src, dst, proto, ip.get(40..))
            }
            _ => return None,
        };
        let outer = pair_hash(src, dst);
        if !self.opens_any {
            return Some(InPlace::Plain(outer));
        }
        let payload = l4?;
        if proto == UDP {
            let u = payload.get(..4)?;
            let (sp, dp) = (
                u16::from_be_bytes([u[0], u[1]]),
                u16::from_be_bytes([u[2], u[3]]),
            );
            if !self.tunnels.udp_ports_may_carry(sp, dp) {
                return Some(InPlace::Plain(outer));
            }
        } else if !matches!(proto, 4 | 41 | GRE) {
            // Any other protocol, IPv6 extension headers and IPv4 AH included: the
            // decoder may find a tunnel behind it.
            return None;
        }
        Some(InPlace::Carrier {
            outer,
            proto,
            payload,
        })
    }
}

/// What reading a frame in place found.
#[derive(Clone, Copy, Debug)]
enum InPlace<'a> {
    /// The hash of a packet that carries no tunnel.
    Plain(u64),
    /// The hash of a packet that may carry one: its protocol and what follows its IP
    /// header.
    Carrier {
        outer: u64,
        proto: u8,
        payload: &'a [u8],
    },
    /// Not read: through the decoder.
    Decoder,
}

/// The hash of a decoded IP packet's address pair.
#[inline]
pub(crate) fn packet_hash(p: &DecodedPacket<'_>) -> u64 {
    pair_hash(
        fold(u128::from_be_bytes(p.src)),
        fold(u128::from_be_bytes(p.dst)),
    )
}

/// The hash of a fragment's address pair (that of its datagram).
#[inline]
pub(crate) fn fragment_hash(f: &Fragment<'_>) -> u64 {
    pair_hash(
        fold(u128::from_be_bytes(f.src)),
        fold(u128::from_be_bytes(f.dst)),
    )
}

/// The worker of `hash` when the hash space is cut at `cuts` (worker `i` takes the
/// hashes from `cuts[i - 1]`, 0 for the first, up to but not including `cuts[i]`).
#[inline]
pub(crate) fn worker_at(cuts: &[u64], hash: u64) -> usize {
    let mut w = 0;
    for &c in cuts {
        w += usize::from(hash >= c);
    }
    w
}

/// Which layers of a frame one worker of several tracks: those whose address pair
/// hashes to it (see the module contract).
#[derive(Clone, Debug)]
pub(crate) struct Owner {
    /// The cuts of the hash space between the workers.
    pub cuts: Vec<u64>,
    /// This worker.
    pub me: usize,
}

impl Owner {
    /// True when this worker tracks the packet `p` carried by a tunnel.
    #[inline]
    pub fn owns(&self, p: &DecodedPacket<'_>) -> bool {
        worker_at(&self.cuts, packet_hash(p)) == self.me
    }

    /// True when this worker reassembles the fragment `f` carried by a tunnel.
    #[inline]
    pub fn owns_fragment(&self, f: &Fragment<'_>) -> bool {
        worker_at(&self.cuts, fragment_hash(f)) == self.me
    }
}

/// The symmetric hash of the frame's outermost IP source and destination (as
/// [`Sharder::hash`] with the default tunnels).
#[inline]
pub fn shard_hash(link: LinkType, data: &[u8]) -> u64 {
    Sharder::new(TunnelConfig::default(), 16).hash(link, data)
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

    /// The default tunnels, and none.
    fn on() -> Sharder {
        Sharder::new(TunnelConfig::default(), 16)
    }
    fn off() -> Sharder {
        Sharder::new(TunnelConfig::NONE, 16)
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
        assert!(matches!(
            on().in_place(LinkType::LinuxSll, &sll),
            InPlace::Decoder
        ));
        assert_eq!(
            shard_hash(LinkType::LinuxSll, &sll),
            shard_hash(LinkType::Ethernet, &eth)
        );
    }

    proptest::proptest! {
        /// The in-place reading and the decoder agree on every frame the in-place
        /// reading takes (IPv4 with options or fragmented, IPv6, VLAN tags, UDP to
        /// and from the Teredo port or not), and it takes every one that cannot carry
        /// a tunnel.
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
            for (s, teredo) in [(on(), true), (off(), false)] {
                let carrier = teredo && udp && (sp == 3544 || dp == 3544) && (v6 || !frag);
                let h = match s.in_place(LinkType::Ethernet, &f) {
                    InPlace::Plain(h) => {
                        proptest::prop_assert!(!carrier);
                        h
                    }
                    InPlace::Carrier { outer, .. } => {
                        proptest::prop_assert!(carrier);
                        outer
                    }
                    InPlace::Decoder => {
                        proptest::prop_assert!(false, "read in place");
                        0
                    }
                };
                proptest::prop_assert_eq!(h, s.decoded(LinkType::Ethernet, &f, None));
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

    /// `inner` (an IP packet) in IPv4 between `src` and `dst`, protocol `proto`, on
    /// Ethernet.
    fn in_v4(src: [u8; 4], dst: [u8; 4], proto: u8, inner: &[u8]) -> Vec<u8> {
        let mut f = eth_v4(src, dst, &[], false);
        f.truncate(14 + 20);
        f[14 + 2..14 + 4].copy_from_slice(&(20 + inner.len() as u16).to_be_bytes());
        f[14 + 9] = proto;
        f.extend_from_slice(inner);
        f
    }

    #[test]
    fn each_layer_a_tunnel_carries_hashes_by_its_own_pair() {
        let plain = eth_v4([10, 0, 0, 1], [10, 1, 0, 1], &[], false);
        let inner_ip = &plain[14..];
        let want = shard_hash(LinkType::Ethernet, &plain);
        // The same inner packet through IP-in-IP tunnels between two pairs.
        let t1 = in_v4([192, 168, 1, 1], [172, 16, 0, 1], 4, inner_ip);
        let t2 = in_v4([192, 168, 2, 1], [172, 16, 0, 1], 4, inner_ip);
        let mut inner = Vec::new();
        let h1 = on().route(LinkType::Ethernet, &t1, &mut inner);
        assert_eq!(inner, vec![want]);
        inner.clear();
        let h2 = on().route(LinkType::Ethernet, &t2, &mut inner);
        assert_eq!(inner, vec![want]);
        assert_ne!(h1, h2, "the outer pairs differ");
        // The outer hash is the outer pair's, as for any packet between them.
        let outer = eth_v4([172, 16, 0, 1], [192, 168, 1, 1], &[], false);
        assert_eq!(h1, shard_hash(LinkType::Ethernet, &outer));
        assert_eq!(h1, on().hash(LinkType::Ethernet, &t1));
        // Tunnels off, or no layer left under decoder.max-layers: no inner layer.
        inner.clear();
        assert_eq!(off().route(LinkType::Ethernet, &t1, &mut inner), h1);
        assert!(inner.is_empty());
        let one_layer = Sharder::new(TunnelConfig::default(), 1);
        assert_eq!(one_layer.route(LinkType::Ethernet, &t1, &mut inner), h1);
        assert!(inner.is_empty());
        // Two tunnels deep: both inner layers, from the outside in.
        let middle = &t1[14..];
        let t3 = in_v4([198, 51, 100, 7], [203, 0, 113, 9], 4, middle);
        on().route(LinkType::Ethernet, &t3, &mut inner);
        assert_eq!(inner, vec![h1, want]);
    }

    #[test]
    fn teredo_layers_hash_by_their_own_pairs() {
        // An IPv6 packet (no next header) through Teredo servers at two addresses.
        let mut v6 = vec![0u8; 40];
        v6[0] = 0x60;
        v6[6] = 59;
        v6[7] = 64;
        v6[8..24].copy_from_slice(&[0x20, 0x01, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6[24..40].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let plain = {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&ETH_IPV6.to_be_bytes());
            f.extend_from_slice(&v6);
            f
        };
        let teredo = |server: [u8; 4]| {
            let mut udp = vec![0u8; 8];
            udp[0..2].copy_from_slice(&5000u16.to_be_bytes());
            udp[2..4].copy_from_slice(&3544u16.to_be_bytes());
            udp[4..6].copy_from_slice(&(8 + v6.len() as u16).to_be_bytes());
            udp.extend_from_slice(&v6);
            in_v4([10, 0, 0, 1], server, 17, &udp)
        };
        let want = shard_hash(LinkType::Ethernet, &plain);
        for server in [[194, 136, 28, 76], [65, 55, 158, 118]] {
            let mut inner = Vec::new();
            let h = on().route(LinkType::Ethernet, &teredo(server), &mut inner);
            assert_eq!(inner, vec![want]);
            let pair = eth_v4([10, 0, 0, 1], server, &[], false);
            assert_eq!(h, shard_hash(LinkType::Ethernet, &pair));
        }
    }

    /// An IP packet (no link layer): IPv4 or IPv6 between addresses made from `a`,
    /// protocol `proto`, carrying `payload`.
    fn ip_packet(v6: bool, a: u8, proto: u8, payload: &[u8]) -> Vec<u8> {
        if v6 {
            let mut ip = vec![0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
            ip[6] = proto;
            ip[7] = 64;
            ip[8] = 0x20;
            ip[23] = a;
            ip[24] = 0x20;
            ip[39] = a.wrapping_add(1);
            ip.extend_from_slice(payload);
            ip
        } else {
            let mut ip = vec![0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&(20 + payload.len() as u16).to_be_bytes());
            ip[8] = 64;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&[10, 0, 0, a]);
            ip[16..20].copy_from_slice(&[10, 0, 1, a]);
            ip.extend_from_slice(payload);
            ip
        }
    }

    /// `ip` in an Ethernet frame.
    fn ethernet(ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        let et = if ip.first().is_some_and(|b| b >> 4 == 6) {
            ETH_IPV6
        } else {
            ETH_IPV4
        };
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(ip);
        f
    }

    /// A UDP datagram from `sp` to `dp` with `payload`.
    fn udp_datagram(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0u8; 8];
        u[0..2].copy_from_slice(&sp.to_be_bytes());
        u[2..4].copy_from_slice(&dp.to_be_bytes());
        u[4..6].copy_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        u.extend_from_slice(payload);
        u
    }

    proptest::proptest! {
        /// Tunnels read in place (VXLAN, IP in IP, GRE) give the decoder's layers:
        /// the same outer hash and the same inner hashes, also when the inner packet
        /// carries another tunnel, has extension headers, or the tunnel header is one
        /// the decoder refuses; with a byte of the frame damaged, never fewer.
        #[test]
        fn tunnels_read_in_place_give_the_decoders_layers(
            outer_v6 in proptest::bool::ANY,
            inner_v6 in proptest::bool::ANY,
            kind in 0u8..4,
            inner_kind in 0u8..4,
            gre_flags in proptest::sample::select(vec![0u16, 0x8000, 0x2000, 0x1000, 0xb000, 0x4000, 0x0001]),
            vxlan_flags in proptest::sample::select(vec![0x08u8, 0x0c, 0x00]),
            max_layers in 1u8..4,
            a in 1u8..200,
            flip in proptest::option::of((0usize..200, 1u8..=255)),
        ) {
            // The inner packet: TCP, UDP, UDP to VXLAN carrying TCP, or IPv6 with a
            // destination options header before TCP.
            let tcp = {
                let mut t = vec![0u8; 20];
                t[12] = 0x50;
                t
            };
            let inner = match inner_kind {
                0 => ip_packet(inner_v6, a, 6, &tcp),
                1 => ip_packet(inner_v6, a, 17, &udp_datagram(4000, 53, &[1, 2, 3, 4])),
                2 => {
                    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
                    vx.extend_from_slice(&ethernet(&ip_packet(false, a.wrapping_add(7), 6, &tcp)));
                    ip_packet(inner_v6, a, 17, &udp_datagram(5000, 4789, &vx))
                }
                _ => {
                    let mut opts = vec![6u8, 0, 1, 4, 0, 0, 0, 0];
                    opts.extend_from_slice(&tcp);
                    ip_packet(true, a, 60, &opts)
                }
            };
            let inner_is_v6 = inner[0] >> 4 == 6;
            let frame = match kind {
                0 => ethernet(&ip_packet(outer_v6, 250, if inner_is_v6 { 41 } else { 4 }, &inner)),
                1 => {
                    let mut g = vec![0u8; 4];
                    g[0..2].copy_from_slice(&gre_flags.to_be_bytes());
                    let et = if inner_is_v6 { ETH_IPV6 } else { ETH_IPV4 };
                    g[2..4].copy_from_slice(&et.to_be_bytes());
                    // Checksum (or routing) word, key, sequence number; with routing,
                    // an empty source route list (its terminating entry).
                    let words = usize::from(gre_flags & 0xc000 != 0)
                        + usize::from(gre_flags & 0x2000 != 0)
                        + usize::from(gre_flags & 0x1000 != 0)
                        + usize::from(gre_flags & 0x4000 != 0);
                    g.extend(std::iter::repeat_n(0u8, 4 * words));
                    g.extend_from_slice(&inner);
                    ethernet(&ip_packet(outer_v6, 250, 47, &g))
                }
                2 => {
                    let mut g = vec![0u8, 0, 0x65, 0x58];
                    g.extend_from_slice(&ethernet(&inner));
                    ethernet(&ip_packet(outer_v6, 250, 47, &g))
                }
                _ => {
                    let mut vx = vec![vxlan_flags, 0, 0, 0, 0, 0, 0x2a, 0];
                    vx.extend_from_slice(&ethernet(&inner));
                    ethernet(&ip_packet(outer_v6, 250, 17, &udp_datagram(40000, 4789, &vx)))
                }
            };
            let mut frame = frame;
            if let Some((at, x)) = flip {
                // A damaged frame: the in-place reading may find a layer the decoder
                // refuses (a copy that finds nothing), never miss one it finds.
                let at = at % frame.len();
                frame[at] ^= x;
            }
            let s = Sharder::new(TunnelConfig::default(), max_layers);
            let mut fast = Vec::new();
            let h = s.route(LinkType::Ethernet, &frame, &mut fast);
            let mut slow = Vec::new();
            let want = s.decoded(LinkType::Ethernet, &frame, Some(&mut slow));
            if flip.is_none() {
                proptest::prop_assert_eq!(h, want);
                proptest::prop_assert_eq!(fast, slow);
            } else {
                proptest::prop_assert!(slow.is_empty() || fast == slow, "{:?} {:?}", fast, slow);
            }
        }
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
