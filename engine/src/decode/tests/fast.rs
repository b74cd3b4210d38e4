//! The Ethernet fast path against the general path: on frames of the common shape,
//! on every variation of it the generator can make (VLAN tags, IP options, fragments,
//! extension headers, other protocols, wrong lengths) and on those frames mutated
//! byte by byte, cut short or padded, the outcome, every field and the decode
//! counters are the same whichever path runs, and whichever entry
//! ([`decode`], [`DecodeStats::decode`], [`DecodeStats::decode_common`]) is used.

use super::*;
use crate::decode::{fast, link};

/// Describes one generated frame before mutation.
#[derive(Clone, Debug)]
struct Shape {
    /// VLAN tags: (TPID, TCI), outer first.
    tags: Vec<(u16, u16)>,
    v6: bool,
    /// IPv4 header words (5 is no option).
    ihl: u8,
    /// IPv4 flags and fragment offset field.
    frag: u16,
    /// IPv6 next header: `None` for the transport itself, else an extension header
    /// (0 hop-by-hop, 60 destination options, 44 fragment) in front of it.
    ext: Option<u8>,
    /// Transport protocol.
    proto: u8,
    /// TCP data offset in words.
    tcp_off: u8,
    payload: Vec<u8>,
    /// Added to the IP length field (wrapping), 0 for the true length.
    ip_len_delta: i16,
    /// Added to the UDP length field, 0 for the true length.
    udp_len_delta: i16,
    /// Bytes of link padding after the IP packet.
    padding: usize,
}

fn shape() -> impl Strategy<Value = Shape> {
    let tpid = prop::sample::select(vec![0x8100u16, 0x88a8, 0x9100, 0x9200, 0x9300, 0x8847]);
    (
        prop::collection::vec((tpid, any::<u16>()), 0..4),
        any::<bool>(),
        prop_oneof![8 => Just(5u8), 1 => 0u8..16],
        prop_oneof![
            6 => Just(0u16),
            2 => Just(0x4000u16),
            1 => prop::sample::select(vec![0x2000u16, 0x6000, 0x8000, 0x0001, 0x1fff, 0x2001]),
            1 => any::<u16>()
        ],
        prop_oneof![6 => Just(None), 1 => prop::sample::select(vec![0u8, 60, 44, 43, 51]).prop_map(Some)],
        prop_oneof![4 => Just(6u8), 3 => Just(17u8), 1 => prop::sample::select(vec![1u8, 58, 132, 47, 4, 51, 0])],
        prop_oneof![6 => Just(5u8), 1 => 0u8..16],
        prop::collection::vec(any::<u8>(), 0..64),
        prop_oneof![6 => Just(0i16), 1 => -30i16..30, 1 => Just(i16::MIN)],
        prop_oneof![6 => Just(0i16), 1 => -12i16..12],
        prop_oneof![3 => Just(0usize), 1 => 0usize..24],
    )
        .prop_map(
            |(tags, v6, ihl, frag, ext, proto, tcp_off, payload, ip_len_delta, udp_len_delta, padding)| Shape {
                tags,
                v6,
                ihl,
                frag,
                ext,
                proto,
                tcp_off,
                payload,
                ip_len_delta,
                udp_len_delta,
                padding,
            },
        )
}

fn build(s: &Shape) -> Vec<u8> {
    // Transport.
    let mut l4 = Vec::new();
    match s.proto {
        6 => {
            let opts = usize::from(s.tcp_off.max(5) - 5) * 4;
            l4.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 7, 0, 0, 0, 9]);
            l4.extend_from_slice(&[s.tcp_off << 4, 0x18, 0x10, 0, 0, 0, 0, 0]);
            l4.extend(std::iter::repeat_n(1u8, opts));
        }
        17 => {
            let len = (8 + s.payload.len()) as i32 + i32::from(s.udp_len_delta);
            l4.extend_from_slice(&[0x13, 0x88, 0, 53]);
            l4.extend_from_slice(&(len as u16).to_be_bytes());
            l4.extend_from_slice(&[0, 0]);
        }
        _ => l4.extend_from_slice(&[8, 0, 0, 0]),
    }
    l4.extend_from_slice(&s.payload);
    // IP.
    let mut ip = if s.v6 {
        let mut body = Vec::new();
        let first = match s.ext {
            None => s.proto,
            Some(44) => {
                body.extend_from_slice(&[s.proto, 0]);
                body.extend_from_slice(&s.frag.to_be_bytes());
                body.extend_from_slice(&[0, 0, 0, 1]);
                44
            }
            Some(51) => {
                body.extend_from_slice(&[s.proto, 1, 0, 0, 0, 0, 0, 1]);
                51
            }
            Some(e) => {
                body.extend_from_slice(&[s.proto, 0, 1, 4, 0, 0, 0, 0]);
                e
            }
        };
        body.extend_from_slice(&l4);
        let plen = (body.len() as i32 + i32::from(s.ip_len_delta)) as u16;
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&plen.to_be_bytes());
        h.extend_from_slice(&[first, 64]);
        h.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h.extend_from_slice(&body);
        h
    } else {
        let hlen = usize::from(s.ihl.max(5)) * 4;
        let total = ((hlen + l4.len()) as i32 + i32::from(s.ip_len_delta)) as u16;
        let mut h = vec![0x40 | s.ihl, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0x12, 0x34]);
        h.extend_from_slice(&s.frag.to_be_bytes());
        h.extend_from_slice(&[64, s.proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        h.extend(std::iter::repeat_n(1u8, hlen - 20));
        h.extend_from_slice(&l4);
        h
    };
    ip.extend(std::iter::repeat_n(0u8, s.padding));
    // Ethernet and tags.
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    let ip_type: u16 = if s.v6 { 0x86dd } else { 0x0800 };
    let mut types: Vec<u16> = s.tags.iter().map(|t| t.0).collect();
    types.push(ip_type);
    f.extend_from_slice(&types[0].to_be_bytes());
    for (i, (_, tci)) in s.tags.iter().enumerate() {
        f.extend_from_slice(&tci.to_be_bytes());
        f.extend_from_slice(&types[i + 1].to_be_bytes());
    }
    f.extend_from_slice(&ip);
    f
}

/// Both paths on one frame: same outcome, same counters, and the fast path answers
/// only where the general path gives an IP packet.
fn same(f: &[u8]) -> Result<(), TestCaseError> {
    let general = link::decode_link(LinkType::Ethernet, f);
    if let Some(p) = fast::ethernet(f) {
        prop_assert_eq!(&general, &Ok(Decoded::Ip(p)));
    }
    prop_assert_eq!(&decode(LinkType::Ethernet, f), &general);
    let mut counted = DecodeStats::default();
    let mut expected = DecodeStats::default();
    prop_assert_eq!(&counted.decode(LinkType::Ethernet, f), &general);
    expected.count(LinkType::Ethernet, &general);
    prop_assert_eq!(&counted, &expected);
    // The by-value entry: the packet and its counts when common, nothing otherwise.
    let mut common = DecodeStats::default();
    match common.decode_common(LinkType::Ethernet, f) {
        Some(p) => {
            prop_assert_eq!(&Ok(Decoded::Ip(p)), &general);
            prop_assert_eq!(&common, &expected);
        }
        None => {
            prop_assert_eq!(&common, &DecodeStats::default());
            prop_assert!(fast::ethernet(f).is_none());
        }
    }
    Ok(())
}

#[test]
fn the_common_shapes_take_the_fast_path() {
    for v6 in [false, true] {
        for proto in [6u8, 17] {
            for tags in [vec![], vec![(0x8100, 0x2064)], vec![(0x88a8, 7)]] {
                let s = Shape {
                    tags,
                    v6,
                    ihl: 5,
                    frag: 0x4000,
                    ext: None,
                    proto,
                    tcp_off: 8,
                    payload: b"hello".to_vec(),
                    ip_len_delta: 0,
                    udp_len_delta: 0,
                    padding: 6,
                };
                let f = build(&s);
                let p = fast::ethernet(&f).unwrap_or_else(|| panic!("{s:?}"));
                assert_eq!(p.payload, b"hello");
                assert_eq!(
                    p.vlans.as_slice(),
                    &s.tags.iter().map(|t| t.1 & 0xfff).collect::<Vec<_>>()[..]
                );
                same(&f).unwrap();
            }
        }
    }
    // Not taken: two tags, IPv4 options, a fragment, an extension header, ICMP.
    let base = Shape {
        tags: vec![],
        v6: false,
        ihl: 5,
        frag: 0,
        ext: None,
        proto: 6,
        tcp_off: 5,
        payload: vec![],
        ip_len_delta: 0,
        udp_len_delta: 0,
        padding: 0,
    };
    let cases = [
        Shape {
            tags: vec![(0x8100, 1), (0x8100, 2)],
            ..base.clone()
        },
        Shape {
            ihl: 6,
            ..base.clone()
        },
        Shape {
            frag: 0x2000,
            ..base.clone()
        },
        Shape {
            v6: true,
            ext: Some(60),
            ..base.clone()
        },
        Shape {
            proto: 1,
            ..base.clone()
        },
    ];
    for s in cases {
        let f = build(&s);
        assert!(fast::ethernet(&f).is_none(), "{s:?}");
        assert!(
            matches!(
                decode(LinkType::Ethernet, &f),
                Ok(Decoded::Ip(_)) | Ok(Decoded::Fragment(_))
            ),
            "{s:?}"
        );
        same(&f).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Generated frames as built, cut short at every length and mutated.
    #[test]
    fn fast_path_equals_general_path(
        s in shape(),
        cut in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let f = build(&s);
        same(&f)?;
        same(&f[..cut.index(f.len() + 1)])?;
        let mut m = f.clone();
        for (at, b) in &edits {
            // Mostly in the headers, where the checks are.
            let end = m.len().min(80);
            if end > 0 {
                m[at.index(end)] = *b;
            }
        }
        same(&m)?;
    }

    /// Random bytes behind an Ethernet header announcing IPv4 or IPv6.
    #[test]
    fn fast_path_equals_general_path_on_random_ip(v6 in any::<bool>(), tagged in any::<bool>(),
                                                   first in prop::sample::select(vec![0x45u8, 0x46, 0x60, 0x61, 0x4f, 0x00]),
                                                   tail in prop::collection::vec(any::<u8>(), 0..120)) {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        let ip_type: u16 = if v6 { 0x86dd } else { 0x0800 };
        if tagged {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        }
        f.extend_from_slice(&ip_type.to_be_bytes());
        f.push(first);
        f.extend_from_slice(&tail);
        same(&f)?;
    }
}
