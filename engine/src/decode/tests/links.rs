//! Hand-built frames for 802.11 (bare and radiotap), NFLOG and Juniper Ethernet: what
//! is followed, what is reported as not IP, and cut frames never panic.

use super::*;

const SNAP: [u8; 6] = [0xaa, 0xaa, 0x03, 0, 0, 0];

/// An 802.11 frame: frame control, duration, addresses, sequence control, then `rest`
/// (QoS/HT control and body as the caller lays them out).
fn wlan(fc0: u8, fc1: u8, four_addr: bool, seq: u16, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![fc0, fc1, 0x2c, 0x00];
    for a in 1..=3u8 {
        v.extend_from_slice(&[2, 0, 0, 0, 0, a]);
    }
    v.extend_from_slice(&seq.to_le_bytes());
    if four_addr {
        v.extend_from_slice(&[2, 0, 0, 0, 0, 4]);
    }
    v.extend_from_slice(rest);
    v
}

fn snap(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = SNAP.to_vec();
    v.extend_from_slice(&ether_type.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A plain data frame (type 2, subtype 0) to the AP carrying `payload` as IPv4.
fn data_frame(payload: &[u8]) -> Vec<u8> {
    wlan(0x08, 0x01, false, 0x0010, &snap(0x0800, payload))
}

fn radiotap(present: &[u32], fields: &[u8], frame: &[u8]) -> Vec<u8> {
    let len = 4 + 4 * present.len() + fields.len();
    let mut v = vec![0, 0];
    v.extend_from_slice(&(len as u16).to_le_bytes());
    for p in present {
        v.extend_from_slice(&p.to_le_bytes());
    }
    v.extend_from_slice(fields);
    v.extend_from_slice(frame);
    v
}

/// Every prefix of `frame` decodes to something, never a panic.
fn prefixes_never_panic(link: LinkType, frame: &[u8]) {
    for n in 0..=frame.len() {
        let _ = decode(link, &frame[..n]);
    }
}

#[test]
fn wifi_data_frames_reach_ip() {
    let ip4 = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 5, 6, b"hi");
    // Plain data, to the DS.
    let f = data_frame(&ip4);
    let p = ip(decode(LinkType::Ieee80211, &f));
    assert_eq!((p.version, p.link), (IpVersion::V4, LinkType::Ieee80211));
    assert_eq!(p.payload, b"hi");
    prefixes_never_panic(LinkType::Ieee80211, &f);

    // QoS data: 2 bytes of QoS control.
    let mut body = vec![0x05, 0x00];
    body.extend_from_slice(&snap(0x86dd, &ipv6_udp()));
    let f = wlan(0x88, 0x02, false, 0, &body);
    assert_eq!(ip(decode(LinkType::Ieee80211, &f)).version, IpVersion::V6);
    prefixes_never_panic(LinkType::Ieee80211, &f);

    // QoS data with the order bit: QoS control and 4 bytes of HT control.
    let mut body = vec![0x00, 0x00, 0xde, 0xad, 0xbe, 0xef];
    body.extend_from_slice(&snap(0x0800, &ip4));
    let f = wlan(0x88, 0x81, false, 0, &body);
    assert_eq!(ip(decode(LinkType::Ieee80211, &f)).payload, b"hi");
    prefixes_never_panic(LinkType::Ieee80211, &f);

    // Four addresses (to and from the DS, a mesh or WDS link), QoS.
    let mut body = vec![0x00, 0x00];
    body.extend_from_slice(&snap(0x0800, &ip4));
    let f = wlan(0x88, 0x03, true, 0, &body);
    assert_eq!(
        &ip(decode(LinkType::Ieee80211, &f)).dst[..4],
        &[10, 0, 0, 2]
    );
    prefixes_never_panic(LinkType::Ieee80211, &f);

    // A VLAN tag behind the SNAP header, and the 802.1H bridge-tunnel OUI.
    let mut tagged = 42u16.to_be_bytes().to_vec();
    tagged.extend_from_slice(&0x0800u16.to_be_bytes());
    tagged.extend_from_slice(&ip4);
    let mut body = vec![0xaa, 0xaa, 0x03, 0x00, 0x00, 0xf8, 0x81, 0x00];
    body.extend_from_slice(&tagged);
    let f = wlan(0x08, 0x02, false, 0, &body);
    assert_eq!(ip(decode(LinkType::Ieee80211, &f)).vlans.as_slice(), &[42]);

    // An A-MSDU: the first subframe is decoded.
    let inner = snap(0x0800, &ip4);
    let mut body = vec![0x80, 0x00];
    body.extend_from_slice(&[2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 8]);
    body.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    body.extend_from_slice(&inner);
    body.extend_from_slice(&[0, 0]); // padding before the next subframe
    let f = wlan(0x88, 0x01, false, 0, &body);
    assert_eq!(ip(decode(LinkType::Ieee80211, &f)).payload, b"hi");
    prefixes_never_panic(LinkType::Ieee80211, &f);
}

#[test]
fn wifi_frames_without_ip_are_reported() {
    let ip4 = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 5, 6, b"hi");
    let link_control = Ok(Decoded::NotIp(NonIp::LinkControl));
    // Protected (WEP/WPA) data frame.
    let f = wlan(0x08, 0x41, false, 0, &snap(0x0800, &ip4));
    assert_eq!(decode(LinkType::Ieee80211, &f), link_control);
    // Beacon (management), ACK (control, 10 bytes), null data, QoS null.
    let beacon = wlan(0x80, 0x00, false, 0, &[0; 12]);
    assert_eq!(decode(LinkType::Ieee80211, &beacon), link_control);
    let ack = [0xd4, 0x00, 0x00, 0x00, 2, 0, 0, 0, 0, 1];
    assert_eq!(decode(LinkType::Ieee80211, &ack), link_control);
    assert_eq!(
        decode(LinkType::Ieee80211, &wlan(0x48, 0x01, false, 0, &[])),
        link_control
    );
    assert_eq!(
        decode(LinkType::Ieee80211, &wlan(0xc8, 0x01, false, 0, &[0, 0])),
        link_control
    );
    // A later fragment of an MSDU (fragment number 1): no LLC header to read.
    let f = wlan(0x08, 0x01, false, 0x0011, &snap(0x0800, &ip4));
    assert_eq!(decode(LinkType::Ieee80211, &f), link_control);
    // LLC without SNAP (spanning tree), SNAP with a vendor OUI.
    let f = wlan(0x08, 0x01, false, 0, &[0x42, 0x42, 0x03, 0, 0]);
    assert_eq!(
        decode(LinkType::Ieee80211, &f),
        Ok(Decoded::NotIp(NonIp::Llc))
    );
    let f = wlan(
        0x08,
        0x01,
        false,
        0,
        &[0xaa, 0xaa, 0x03, 0x00, 0x40, 0x96, 0x00, 0x00],
    );
    assert_eq!(
        decode(LinkType::Ieee80211, &f),
        Ok(Decoded::NotIp(NonIp::Llc))
    );
    // ARP over SNAP.
    let f = wlan(0x08, 0x01, false, 0, &snap(0x0806, &[0; 28]));
    assert_eq!(
        decode(LinkType::Ieee80211, &f),
        Ok(Decoded::NotIp(NonIp::Arp))
    );
    // Cut inside the MAC header or the SNAP header.
    assert_eq!(
        decode(LinkType::Ieee80211, &data_frame(&ip4)[..20]),
        Err(DecodeError::LinkTruncated)
    );
    assert_eq!(
        decode(LinkType::Ieee80211, &data_frame(&ip4)[..28]),
        Err(DecodeError::LinkTruncated)
    );
    assert_eq!(
        decode(LinkType::Ieee80211, &[0x08]),
        Err(DecodeError::LinkTruncated)
    );
}

#[test]
fn radiotap_header_is_skipped_and_fcs_cut() {
    let ip4 = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 5, 6, b"hi");
    // No fields at all.
    let f = radiotap(&[0], &[], &data_frame(&ip4));
    let p = ip(decode(LinkType::Ieee80211Radiotap, &f));
    assert_eq!(p.link, LinkType::Ieee80211Radiotap);
    assert_eq!(p.payload, b"hi");
    prefixes_never_panic(LinkType::Ieee80211Radiotap, &f);

    // TSFT (8 bytes at offset 8) then flags with "FCS at end": the last 4 bytes are
    // not packet data. An IPv4 total length of 0 reads to the end of the frame, so a
    // kept FCS would show in the payload.
    let mut tso = ipv4_tcp(0x10);
    tso[2] = 0;
    tso[3] = 0;
    let mut frame = data_frame(&tso);
    frame.extend_from_slice(&[0xf1, 0xf2, 0xf3, 0xf4]);
    let mut fields = vec![0; 8];
    fields.extend_from_slice(&[0x10, 0x00, 0x02]); // flags (FCS), rate, one pad byte
    let f = radiotap(&[0x0000_0007], &fields, &frame);
    let p = ip(decode(LinkType::Ieee80211Radiotap, &f));
    assert_eq!(p.payload, b"DATA");
    prefixes_never_panic(LinkType::Ieee80211Radiotap, &f);
    // Without the flag the FCS is read as payload.
    let mut fields = vec![0; 8];
    fields.extend_from_slice(&[0x00, 0x00, 0x02]);
    let f = radiotap(&[0x0000_0007], &fields, &frame);
    assert_eq!(
        ip(decode(LinkType::Ieee80211Radiotap, &f)).payload,
        b"DATA\xf1\xf2\xf3\xf4"
    );

    // Extended present bitmaps (bit 31): the flags field follows the last word.
    let mut frame = data_frame(&tso);
    frame.extend_from_slice(&[0; 4]);
    let f = radiotap(&[0x8000_0002, 0x0000_0000], &[0x10, 0x00], &frame);
    assert_eq!(ip(decode(LinkType::Ieee80211Radiotap, &f)).payload, b"DATA");

    // "Data pad": the body starts at a 4-byte boundary (a QoS header is 26 bytes).
    let mut body = vec![0x00, 0x00, 0xee, 0xee];
    body.extend_from_slice(&snap(0x0800, &ip4));
    let f = radiotap(
        &[0x0000_0002],
        &[0x20, 0x00],
        &wlan(0x88, 0x01, false, 0, &body),
    );
    assert_eq!(ip(decode(LinkType::Ieee80211Radiotap, &f)).payload, b"hi");

    // Header length beyond the frame, or below the fixed header.
    let mut bad = radiotap(&[0], &[], &data_frame(&ip4));
    bad[2] = 0xff;
    assert_eq!(
        decode(LinkType::Ieee80211Radiotap, &bad),
        Err(DecodeError::LinkTruncated)
    );
    bad[2] = 4;
    bad[3] = 0;
    assert_eq!(
        decode(LinkType::Ieee80211Radiotap, &bad),
        Err(DecodeError::LinkTruncated)
    );
    // A management frame behind radiotap.
    let f = radiotap(&[0], &[], &wlan(0x80, 0x00, false, 0, &[0; 12]));
    assert_eq!(
        decode(LinkType::Ieee80211Radiotap, &f),
        Ok(Decoded::NotIp(NonIp::LinkControl))
    );
    // PPI around a bare 802.11 frame.
    let mut ppi = vec![0, 0, 8, 0, 105, 0, 0, 0];
    ppi.extend_from_slice(&data_frame(&ip4));
    assert_eq!(ip(decode(LinkType::Ppi, &ppi)).link, LinkType::Ppi);
}

/// An NFLOG TLV: length (header included) and type in `le` or big-endian order,
/// padded to 4 bytes.
fn tlv(le: bool, kind: u16, value: &[u8]) -> Vec<u8> {
    let len = (4 + value.len()) as u16;
    let mut v = if le {
        [len.to_le_bytes(), kind.to_le_bytes()].concat()
    } else {
        [len.to_be_bytes(), kind.to_be_bytes()].concat()
    };
    v.extend_from_slice(value);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn nflog(family: u8, tlvs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![family, 0, 0, 1];
    for t in tlvs {
        v.extend_from_slice(t);
    }
    v
}

#[test]
fn nflog_payload_tlv_holds_the_packet() {
    let ip4 = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 5, 6, b"hi");
    for le in [true, false] {
        // Packet header (hw protocol, hook), prefix of odd length (padded), mark, then
        // the payload and a timestamp after it.
        let extra = [
            tlv(le, 1, &[0x08, 0x00, 1, 0]),
            tlv(le, 10, b"drop-in\0\0"),
            tlv(le, 3, &7u32.to_be_bytes()),
        ];
        let mut tlvs = extra.to_vec();
        tlvs.push(tlv(le, 9, &ip4));
        tlvs.push(tlv(le, 4, &[0; 16]));
        let f = nflog(2, &tlvs);
        let p = ip(decode(LinkType::Nflog, &f));
        assert_eq!((p.version, p.link), (IpVersion::V4, LinkType::Nflog));
        assert_eq!(p.payload, b"hi", "little-endian TLVs: {le}");
        prefixes_never_panic(LinkType::Nflog, &f);

        let mut tlvs = extra.to_vec();
        tlvs.push(tlv(le, 9, &ipv6_udp()));
        let f = nflog(10, &tlvs);
        assert_eq!(ip(decode(LinkType::Nflog, &f)).version, IpVersion::V6);
        prefixes_never_panic(LinkType::Nflog, &f);
    }
    // The payload cut by the snapshot length: the IP decoder counts the short capture.
    let f = nflog(2, &[tlv(true, 9, &ip4)]);
    assert_eq!(
        decode(LinkType::Nflog, &f[..f.len() - 4]),
        Err(DecodeError::Ipv4CaptureShort)
    );
    // No payload, another family, a TLV shorter than its header, a cut TLV.
    assert_eq!(
        decode(LinkType::Nflog, &nflog(2, &[tlv(true, 1, &[8, 0, 1, 0])])),
        Ok(Decoded::NotIp(NonIp::LinkControl))
    );
    assert_eq!(
        decode(LinkType::Nflog, &nflog(7, &[tlv(true, 9, &ip4)])),
        Ok(Decoded::NotIp(NonIp::LinkControl))
    );
    assert_eq!(
        decode(LinkType::Nflog, &[2, 0, 0, 1, 2, 0, 9, 0]),
        Err(DecodeError::LinkTruncated)
    );
    assert_eq!(
        decode(LinkType::Nflog, &[2, 0, 0, 1, 40, 0, 1, 0, 0, 0]),
        Err(DecodeError::LinkTruncated)
    );
    assert_eq!(
        decode(LinkType::Nflog, &[2, 0]),
        Err(DecodeError::LinkTruncated)
    );
}

#[test]
fn juniper_ethernet_header_is_skipped() {
    let ip4 = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 5, 6, b"hi");
    let frame = eth(0x0800, &ip4);
    // Magic and flags (incoming), then Ethernet.
    let mut f = b"MGC\x01".to_vec();
    f.extend_from_slice(&frame);
    let p = ip(decode(LinkType::JuniperEther, &f));
    assert_eq!((p.link, p.payload), (LinkType::JuniperEther, &b"hi"[..]));
    prefixes_never_panic(LinkType::JuniperEther, &f);
    // With extensions: 2-byte length, then TLVs (interface index, unit).
    let mut f = b"MGC\x81\x00\x07".to_vec();
    f.extend_from_slice(&[1, 2, 0x34, 0x12, 5, 1, 0]);
    f.extend_from_slice(&frame);
    assert_eq!(ip(decode(LinkType::JuniperEther, &f)).payload, b"hi");
    prefixes_never_panic(LinkType::JuniperEther, &f);
    // No layer 2 header: a host-order protocol code, then the packet.
    let mut f = b"MGC\x03".to_vec();
    f.extend_from_slice(&6u32.to_le_bytes());
    f.extend_from_slice(&ipv6_udp());
    assert_eq!(
        ip(decode(LinkType::JuniperEther, &f)).version,
        IpVersion::V6
    );
    let mut f = b"MGC\x02".to_vec();
    f.extend_from_slice(&201u32.to_le_bytes());
    assert_eq!(
        decode(LinkType::JuniperEther, &f),
        Ok(Decoded::NotIp(NonIp::LinkControl))
    );
    // Older JUNOS: no magic, plain Ethernet.
    assert_eq!(ip(decode(LinkType::JuniperEther, &frame)).payload, b"hi");
    // Extension length beyond the frame.
    assert_eq!(
        decode(LinkType::JuniperEther, b"MGC\x80\x01\x00abc"),
        Err(DecodeError::LinkTruncated)
    );
}

#[test]
fn new_link_types_round_trip_and_are_counted() {
    for (dlt, name) in [
        (105, "ieee802_11"),
        (127, "ieee802_11_radiotap"),
        (239, "nflog"),
        (178, "juniper_ether"),
    ] {
        let t = LinkType::from_dlt(dlt);
        assert!(t.is_supported());
        assert_eq!((t.dlt(), t.name()), (dlt, name));
        assert_eq!(LinkType::NAMED[t.index()], t);
    }
    assert_eq!(
        LinkType::NAMED[LinkType::Other(147).index()],
        LinkType::Other(u32::MAX)
    );
    let mut s = DecodeStats::default();
    let f = nflog(
        2,
        &[tlv(
            true,
            9,
            &ipv4_udp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b""),
        )],
    );
    s.count(LinkType::Nflog, &decode(LinkType::Nflog, &f));
    assert_eq!(s.links_seen().collect::<Vec<_>>(), vec![("nflog", 1)]);
}

proptest! {
    /// Random 802.11 frame control and flags over random bodies, bare and behind a
    /// radiotap header with random present words: never a panic.
    #[test]
    fn random_wifi_frames_never_panic(fc0 in any::<u8>(), fc1 in any::<u8>(),
                                      present in any::<u32>(),
                                      fields in prop::collection::vec(any::<u8>(), 0..24),
                                      body in prop::collection::vec(any::<u8>(), 0..64)) {
        let f = wlan(fc0, fc1, fc1 & 3 == 3, 0, &body);
        let _ = decode(LinkType::Ieee80211, &f);
        let r = radiotap(&[present & 0x7fff_ffff], &fields, &f);
        let _ = decode(LinkType::Ieee80211Radiotap, &r);
    }

    /// Random TLVs (lengths and types) after an NFLOG header: never a panic.
    #[test]
    fn random_nflog_tlvs_never_panic(family in prop::sample::select(vec![2u8, 10, 0]),
                                     tlvs in prop::collection::vec((any::<u16>(), 0u16..12, prop::collection::vec(any::<u8>(), 0..24)), 0..4)) {
        let mut f = vec![family, 0, 0, 0];
        for (len, kind, value) in &tlvs {
            f.extend_from_slice(&len.to_le_bytes());
            f.extend_from_slice(&kind.to_le_bytes());
            f.extend_from_slice(value);
        }
        let _ = decode(LinkType::Nflog, &f);
    }
}
