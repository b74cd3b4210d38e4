//! Decoder tests: every link type, tags and labels, and malformed input counted by
//! reason, never a panic.

use super::*;
use proptest::prelude::*;

mod fast;
mod links;

fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut v = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn ipv4_tcp(flags: u8) -> Vec<u8> {
    let mut v = vec![
        0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    v.extend_from_slice(&1234u16.to_be_bytes());
    v.extend_from_slice(&80u16.to_be_bytes());
    v.extend_from_slice(&7u32.to_be_bytes());
    v.extend_from_slice(&9u32.to_be_bytes());
    v.extend_from_slice(&[0x50, flags, 0x10, 0, 0, 0, 0, 0]);
    v.extend_from_slice(b"DATA");
    v
}

fn ipv6_udp() -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4]);
    v
}

fn eth(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    v.extend_from_slice(&ether_type.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn ip(d: Result<Decoded<'_>, DecodeError>) -> DecodedPacket<'_> {
    match d {
        Ok(Decoded::Ip(p)) => p,
        other => panic!("expected an IP packet, got {other:?}"),
    }
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = eth(0x0800, &ipv4_tcp(0x18));
    let p = ip(decode(LinkType::Ethernet, &f));
    assert_eq!(p.version, IpVersion::V4);
    assert_eq!(&p.src[..4], &[10, 0, 0, 1]);
    assert_eq!(p.proto, 6);
    match p.transport {
        Transport::Tcp(t) => {
            assert_eq!(
                (t.src_port, t.dst_port, t.seq, t.ack, t.flags),
                (1234, 80, 7, 9, 0x18)
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.payload, b"DATA");
}

#[test]
fn ethernet_padding_is_cut_by_the_ip_length() {
    let mut f = eth(0x0800, &ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x"));
    f.extend_from_slice(&[0; 20]);
    let p = ip(decode(LinkType::Ethernet, &f));
    assert_eq!(p.payload, b"x");
}

#[test]
fn vlan_stacks_are_kept_outer_first() {
    let inner = ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"");
    let mut tagged = Vec::new();
    for (tpid, vid) in [(0x88a8u16, 100u16), (0x8100, 200)] {
        tagged.extend_from_slice(&vid.to_be_bytes());
        let next: u16 = if tpid == 0x88a8 { 0x8100 } else { 0x0800 };
        tagged.extend_from_slice(&next.to_be_bytes());
    }
    tagged.extend_from_slice(&inner);
    let f = eth(0x88a8, &tagged);
    let p = ip(decode(LinkType::Ethernet, &f));
    assert_eq!(p.vlans.as_slice(), &[100, 200]);

    // Four tags is more than Suricata keeps: an error, counted.
    let mut four = Vec::new();
    for i in 0..4u16 {
        four.extend_from_slice(&(10 + i).to_be_bytes());
        four.extend_from_slice(&(if i < 3 { 0x8100u16 } else { 0x0800 }).to_be_bytes());
    }
    four.extend_from_slice(&inner);
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x8100, &four)),
        Err(DecodeError::VlanTooManyLayers)
    );
}

#[test]
fn mpls_stacks_lead_to_ip_and_pseudowire_ethernet() {
    let inner = ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"");
    // Two labels, the second at the bottom of the stack.
    let mut m = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
    m.extend_from_slice(&inner);
    let f = eth(0x8847, &m);
    let p = ip(decode(LinkType::Ethernet, &f));
    assert_eq!(p.mpls_labels, 2);
    // A pseudowire: control word, then a whole Ethernet frame.
    let mut pw = vec![0x00, 0x01, 0x01, 0x40, 0, 0, 0, 0];
    pw.extend_from_slice(&eth(0x0800, &inner));
    let f = eth(0x8847, &pw);
    let p = ip(decode(LinkType::Ethernet, &f));
    assert_eq!(p.mpls_labels, 1);
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x8847, &[0, 1, 0])),
        Err(DecodeError::MplsTruncated)
    );
}

#[test]
fn every_link_type_reaches_ip() {
    let ip4 = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 5, 6, b"hi");
    let ip6 = ipv6_udp();
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip4);
    let mut sll2 = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(&ip6);
    let mut null_le = 2u32.to_le_bytes().to_vec();
    null_le.extend_from_slice(&ip4);
    let mut null_be6 = 30u32.to_be_bytes().to_vec();
    null_be6.extend_from_slice(&ip6);
    let mut lo = 24u32.to_be_bytes().to_vec();
    lo.extend_from_slice(&ip6);
    let mut hdlc = vec![0x0f, 0x00, 0x08, 0x00];
    hdlc.extend_from_slice(&ip4);
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&ip4);
    let mut ppp_short = vec![0x57];
    ppp_short.extend_from_slice(&ip6);
    let mut ppp_dir = vec![1, 0x00, 0x21];
    ppp_dir.extend_from_slice(&ip4);
    let mut ppi = vec![0, 0, 8, 0, 1, 0, 0, 0];
    ppi.extend_from_slice(&eth(0x0800, &ip4));
    let cases: Vec<(LinkType, Vec<u8>, IpVersion)> = vec![
        (LinkType::Raw, ip4.clone(), IpVersion::V4),
        (LinkType::Raw, ip6.clone(), IpVersion::V6),
        (LinkType::Ipv4, ip4.clone(), IpVersion::V4),
        (LinkType::Ipv6, ip6.clone(), IpVersion::V6),
        (LinkType::LinuxSll, sll, IpVersion::V4),
        (LinkType::LinuxSll2, sll2, IpVersion::V6),
        (LinkType::Null, null_le, IpVersion::V4),
        (LinkType::Null, null_be6, IpVersion::V6),
        (LinkType::Loop, lo, IpVersion::V6),
        (LinkType::CiscoHdlc, hdlc.clone(), IpVersion::V4),
        (LinkType::Ppp, ppp, IpVersion::V4),
        (LinkType::Ppp, ppp_short, IpVersion::V6),
        // Cisco HDLC frames on a PPP link, as libpcap's readers accept.
        (LinkType::Ppp, hdlc, IpVersion::V4),
        (LinkType::PppWithDir, ppp_dir, IpVersion::V4),
        (LinkType::Ppi, ppi, IpVersion::V4),
    ];
    for (link, bytes, version) in cases {
        let p = ip(decode(link, &bytes));
        assert_eq!(p.version, version, "{link}");
        assert_eq!(p.link, link, "{link}");
    }
    assert_eq!(
        decode(LinkType::Other(147), &[0; 40]),
        Err(DecodeError::UnsupportedLinkType)
    );
    for dlt in [
        0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 192, 204, 228, 229, 276,
    ] {
        let t = LinkType::from_dlt(dlt);
        assert!(t.is_supported());
        if dlt != 12 && dlt != 14 {
            assert_eq!(t.dlt(), dlt);
        }
    }
}

#[test]
fn pppoe_sessions_carry_ip() {
    let mut s = vec![0x11, 0x00, 0x12, 0x34, 0x00, 0x20, 0x00, 0x21];
    s.extend_from_slice(&ipv4_udp([1, 2, 3, 4], [5, 6, 7, 8], 9, 10, b""));
    let f = eth(0x8864, &s);
    let p = ip(decode(LinkType::Ethernet, &f));
    assert_eq!(&p.dst[..4], &[5, 6, 7, 8]);
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x8863, &[0x11, 0x09, 0, 0, 0, 0])),
        Ok(Decoded::NotIp(NonIp::OtherEtherType(0x8863)))
    );
}

#[test]
fn non_ip_is_reported_not_refused() {
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x0806, &[0; 28])),
        Ok(Decoded::NotIp(NonIp::Arp))
    );
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x0026, &[0x42, 0x42, 0x03])),
        Ok(Decoded::NotIp(NonIp::Llc))
    );
    assert_eq!(
        decode(LinkType::Ethernet, &eth(0x88cc, &[0; 10])),
        Ok(Decoded::NotIp(NonIp::OtherEtherType(0x88cc)))
    );
}

fn frag(d: Result<Decoded<'_>, DecodeError>) -> Fragment<'_> {
    match d {
        Ok(Decoded::Fragment(f)) => f,
        other => panic!("expected a fragment, got {other:?}"),
    }
}

#[test]
fn every_fragment_is_reported_for_the_defragmenter() {
    // First fragment: MF set, offset 0; its transport header is read by head().
    let mut first = ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 7, 8, &[0; 16]);
    first[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    first[6] = 0x20;
    let f = frag(decode(LinkType::Raw, &first));
    assert!(f.is_first() && f.more);
    assert_eq!(
        (f.id, f.proto, f.offset, f.version),
        (0x1234, 17, 0, IpVersion::V4)
    );
    assert_eq!(f.header, &first[..20]);
    assert_eq!(f.data, &first[20..]);
    let p = ip(f.head().unwrap());
    assert!(p.first_fragment);
    assert!(matches!(
        p.transport,
        Transport::Udp {
            src_port: 7,
            dst_port: 8
        }
    ));
    // Later fragment: offset 3 * 8 bytes, last.
    let mut later = ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 7, 8, &[0; 16]);
    later[6] = 0x00;
    later[7] = 0x03;
    let f = frag(decode(LinkType::Raw, &later));
    assert_eq!((f.offset, f.more), (24, false));
    assert!(f.head().is_none());
    // The layers travel with the fragment and survive packing.
    let mut tagged = vec![0u8; 12];
    tagged.extend_from_slice(&[0x81, 0, 0, 42, 0x08, 0]);
    tagged.extend_from_slice(&later);
    let f = frag(decode(LinkType::Ethernet, &tagged));
    assert_eq!(f.layers.vlans.as_slice(), &[42]);
    assert_eq!(Layers::unpack(f.layers.pack()), f.layers);
}

#[test]
fn ipv6_fragments_split_at_the_fragment_header() {
    // Fixed header, hop-by-hop options (8 bytes), fragment header, 16 bytes of data.
    let mut pkt = vec![0x60, 0, 0, 0, 0, 32, 0, 64];
    pkt.extend_from_slice(&[0x20; 16]);
    pkt.extend_from_slice(&[0x30; 16]);
    pkt.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
    pkt.extend_from_slice(&[17, 0, 0x00, 0x11, 0xde, 0xad, 0xbe, 0xef]);
    pkt.extend_from_slice(&[0x55; 16]);
    let f = frag(decode(LinkType::Raw, &pkt));
    assert_eq!(f.version, IpVersion::V6);
    assert_eq!(
        (f.id, f.proto, f.offset, f.more),
        (0xdead_beef, 17, 16, true)
    );
    assert_eq!(f.header.len(), 48);
    assert_eq!(f.header[40], 44);
    assert_eq!(f.data, &[0x55; 16]);
}

#[test]
fn tolerated_oddities_are_flagged() {
    // IPv4 total length 0 (segmentation offload): read to the end of the capture.
    let mut tso = ipv4_tcp(0x10);
    tso[2] = 0;
    tso[3] = 0;
    let p = ip(decode(LinkType::Raw, &tso));
    assert_eq!(
        p.anomalies & anomaly::IPV4_ZERO_LENGTH,
        anomaly::IPV4_ZERO_LENGTH
    );
    assert_eq!(p.payload, b"DATA");
    // UDP length shorter than the IP payload.
    let mut u = ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"abcd");
    u[25] = 10; // UDP length 10: 2 payload bytes
    let p = ip(decode(LinkType::Raw, &u));
    assert_eq!(p.anomalies, anomaly::UDP_LENGTH);
    assert_eq!(p.payload, b"ab");
    // TCP data offset below 5.
    let mut t = ipv4_tcp(0x10);
    t[32] = 0x30;
    let p = ip(decode(LinkType::Raw, &t));
    assert_eq!(p.anomalies, anomaly::TCP_OFFSET);
    assert!(p.payload.is_empty());
}

#[test]
fn malformed_packets_are_counted_by_reason() {
    let ip4 = ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"abcd");
    let cases: Vec<(LinkType, Vec<u8>, DecodeError)> = vec![
        (
            LinkType::Ethernet,
            vec![1, 2, 3],
            DecodeError::LinkTruncated,
        ),
        (
            LinkType::Ethernet,
            eth(0x8100, &[0, 1]),
            DecodeError::VlanTruncated,
        ),
        (
            LinkType::Raw,
            ip4[..10].to_vec(),
            DecodeError::Ipv4Truncated,
        ),
        (
            LinkType::Raw,
            ip4[..30].to_vec(),
            DecodeError::Ipv4CaptureShort,
        ),
        (
            LinkType::Raw,
            vec![
                0x45, 0, 0, 10, 0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
            ],
            DecodeError::Ipv4BadTotalLength,
        ),
        (LinkType::Raw, vec![0x43; 24], DecodeError::Ipv4BadHeader),
        (
            LinkType::Raw,
            vec![0x75; 24],
            DecodeError::IpVersionMismatch,
        ),
        (
            LinkType::Ethernet,
            eth(
                0x86dd,
                &ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, &[0; 20]),
            ),
            DecodeError::IpVersionMismatch,
        ),
        (
            LinkType::Raw,
            ipv6_udp()[..39].to_vec(),
            DecodeError::Ipv6Truncated,
        ),
        (
            LinkType::Raw,
            ipv6_udp()[..45].to_vec(),
            DecodeError::Ipv6CaptureShort,
        ),
        (
            LinkType::Raw,
            vec![
                0x45, 0, 0, 30, 0, 0, 0, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 1, 0, 2, 0, 0,
                0, 0, 0, 0,
            ],
            DecodeError::TcpTruncated,
        ),
        (
            LinkType::Raw,
            vec![
                0x45, 0, 0, 24, 0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 1, 0, 2,
            ],
            DecodeError::UdpTruncated,
        ),
        (
            LinkType::Raw,
            vec![
                0x45, 0, 0, 22, 0, 0, 0, 0, 64, 1, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 8, 0,
            ],
            DecodeError::IcmpTruncated,
        ),
        (
            LinkType::Ethernet,
            eth(0x8864, &[0x11]),
            DecodeError::PppoeTruncated,
        ),
    ];
    let mut stats = DecodeStats::default();
    for (link, bytes, want) in &cases {
        let got = decode(*link, bytes);
        assert_eq!(got, Err(*want), "{link} {bytes:02x?}");
        stats.count(*link, &got);
    }
    assert_eq!(stats.error_total(), cases.len() as u64);
    assert_eq!(stats.packets, cases.len() as u64);
    assert!(stats
        .errors_by_reason()
        .any(|(n, c)| n == "ipv4_capture_short" && c == 1));
}

#[test]
fn stats_add_up() {
    let mut s = DecodeStats::default();
    let frames = [
        eth(0x0800, &ipv4_tcp(0x02)),
        eth(0x86dd, &ipv6_udp()),
        eth(0x0806, &[0; 28]),
        vec![1, 2],
    ];
    for f in &frames {
        s.count(LinkType::Ethernet, &decode(LinkType::Ethernet, f));
    }
    assert_eq!(s.packets, 4);
    assert_eq!((s.ipv4, s.ipv6, s.tcp, s.udp, s.arp), (1, 1, 1, 1, 1));
    assert_eq!(s.ip_packets() + s.not_ip() + s.error_total(), s.packets);
    assert_eq!(s.links_seen().collect::<Vec<_>>(), vec![("ethernet", 4)]);
}

proptest! {
    /// Random bytes on every link type: a result, never a panic; and a decoded
    /// packet's payload always lies inside the input.
    #[test]
    fn random_bytes_never_panic(dlt in prop::sample::select(vec![0u32, 1, 9, 50, 101, 104, 105, 108, 113, 127, 178, 192, 204, 228, 229, 239, 276, 7]),
                                data in prop::collection::vec(any::<u8>(), 0..256)) {
        let link = LinkType::from_dlt(dlt);
        if let Ok(Decoded::Ip(p)) = decode(link, &data) {
            let start = data.as_ptr() as usize;
            let pay = p.payload.as_ptr() as usize;
            prop_assert!(pay >= start && pay + p.payload.len() <= start + data.len());
            let _ = decode_tunnel(&p, &TunnelConfig::default());
        }
    }

    /// Valid-looking headers with random contents behind them.
    #[test]
    fn random_ip_payloads_never_panic(proto in any::<u8>(), v6 in any::<bool>(), tail in prop::collection::vec(any::<u8>(), 0..96)) {
        let mut pkt = if v6 {
            let mut h = vec![0x60, 0, 0, 0, 0, tail.len() as u8, proto, 64];
            h.extend_from_slice(&[0xfe; 32]);
            h
        } else {
            let total = 20 + tail.len();
            vec![0x45, 0, 0, total as u8, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        };
        pkt.extend_from_slice(&tail);
        let _ = decode(LinkType::Raw, &pkt);
    }

    /// Random bytes behind a well-formed outer packet of every tunnel type (with a
    /// plausible tunnel header in front half of the time): decoding down through the
    /// tunnels never panics and every payload lies inside the frame.
    #[test]
    fn random_tunnel_payloads_never_panic(kind in 0usize..8, plausible in any::<bool>(),
                                          tail in prop::collection::vec(any::<u8>(), 0..160)) {
        // (IP protocol, UDP destination port, plausible header)
        let (proto, port, head): (u8, u16, &[u8]) = match kind {
            0 => (4, 0, &[0x45, 0, 0, 40]),
            1 => (41, 0, &[0x60, 0, 0, 0]),
            2 => (47, 0, &[0x30, 0x81, 0x88, 0x0b]),
            3 => (47, 0, &[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1, 0x20]),
            4 => (17, 4789, &[0x08, 0, 0, 0, 0, 0, 1, 0]),
            5 => (17, 6081, &[0x01, 0, 0x65, 0x58]),
            6 => (17, 3544, &[0, 0, 0, 0, 0, 0, 0, 0, 0x60]),
            _ => (17, 2152, &[0x34, 0xff, 0, 0]),
        };
        let mut body = if plausible { head.to_vec() } else { Vec::new() };
        body.extend_from_slice(&tail);
        if proto == 17 {
            let len = (8 + body.len()) as u16;
            let mut udp = vec![0x9c, 0x40];
            udp.extend_from_slice(&port.to_be_bytes());
            udp.extend_from_slice(&len.to_be_bytes());
            udp.extend_from_slice(&[0, 0]);
            udp.extend_from_slice(&body);
            body = udp;
        }
        let total = (20 + body.len()) as u16;
        let mut pkt = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, proto, 0, 0,
                           10, 0, 0, 1, 10, 0, 0, 2];
        pkt.extend_from_slice(&body);
        let cfg = TunnelConfig { erspan_type1: true, ..TunnelConfig::default() };
        let mut outcome = decode(LinkType::Raw, &pkt);
        let mut depth = 0;
        while let Ok(Decoded::Ip(p)) = outcome {
            let start = pkt.as_ptr() as usize;
            let pay = p.payload.as_ptr() as usize;
            prop_assert!(pay >= start && pay + p.payload.len() <= start + pkt.len());
            prop_assert_eq!(usize::from(p.depth), depth);
            match decode_tunnel(&p, &cfg) {
                Some((_, inner)) => outcome = inner,
                None => break,
            }
            depth += 1;
        }
    }
}
