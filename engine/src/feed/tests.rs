//! Feed tests: a capture of a link type the decoder does not read is one error naming
//! the type, in classic pcap at open and in pcapng at the first packet of such an
//! interface, after the packets read before it; files are mapped unless they cannot
//! be, and both read modes give the same packets and errors.

use super::*;
use std::path::Path;

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowengine-feed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn classic(dlt: u32, packets: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, dlt] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    for i in 0..packets as u32 {
        for w in [1_700_000_000 + i, 0, 40, 40] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v.extend_from_slice(&[0; 40]);
    }
    v
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()) as u32;
    let mut v = kind.to_le_bytes().to_vec();
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(&len.to_le_bytes());
    v
}

fn pcapng(interfaces: &[u16], packets_on: &[u32]) -> Vec<u8> {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut v = block(0x0a0d_0d0a, &shb);
    for &link in interfaces {
        let mut idb = link.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&block(1, &idb));
    }
    // An Ethernet frame carrying ARP: read by the feed, whatever the decoder says.
    let mut frame = vec![0xff; 12];
    frame.extend_from_slice(&[0x08, 0x06]);
    frame.extend_from_slice(&[0; 28]);
    for &iface in packets_on {
        let mut epb = Vec::new();
        for w in [iface, 0, 1, frame.len() as u32, frame.len() as u32] {
            epb.extend_from_slice(&w.to_le_bytes());
        }
        epb.extend_from_slice(&frame);
        while epb.len() % 4 != 0 {
            epb.push(0);
        }
        v.extend_from_slice(&block(6, &epb));
    }
    v
}

fn read_all(path: &Path) -> (u64, Option<FeedError>) {
    let mapped = read_all_with(path, ReadMode::Auto);
    let buffered = read_all_with(path, ReadMode::Buffered);
    assert_eq!(
        format!("{mapped:?}"),
        format!("{buffered:?}"),
        "read modes disagree on {}",
        path.display()
    );
    mapped
}

fn read_all_with(path: &Path, mode: ReadMode) -> (u64, Option<FeedError>) {
    let mut f = match PcapFile::open_with(path, mode) {
        Ok(f) => f,
        Err(e) => return (0, Some(e)),
    };
    let mut n = 0;
    loop {
        match f.next_packet() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return (n, None),
            Err(e) => return (n, Some(e)),
        }
    }
}

#[test]
fn classic_pcap_of_an_unknown_link_type_is_refused_at_open() {
    let p = tmp("user0.pcap", &classic(147, 3));
    let (n, e) = read_all(&p);
    assert_eq!(n, 0);
    let e = e.expect("an error");
    assert!(
        matches!(
            e,
            FeedError::UnsupportedLinkType {
                dlt: 147,
                packets: 0,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}: unsupported link type 147 (LINKTYPE_USER0)",
            p.display()
        )
    );
    // A type without a known name, and a known type read as before.
    let p = tmp("odd.pcap", &classic(4000, 1));
    let e = read_all(&p).1.expect("an error");
    assert!(e.to_string().ends_with("unsupported link type 4000"), "{e}");
    let (n, e) = read_all(&tmp("eth.pcap", &classic(1, 2)));
    assert!(n == 2 && e.is_none(), "{n} {e:?}");
}

#[test]
fn pcapng_fails_at_the_first_packet_of_an_unknown_interface() {
    // Two interfaces, Ethernet and USB (189): two packets on the first, then one on
    // the second.
    let p = tmp("mixed.pcapng", &pcapng(&[1, 189], &[0, 0, 1, 0]));
    let (n, e) = read_all(&p);
    assert_eq!(n, 2, "{e:?}");
    let e = e.expect("an error");
    assert!(
        matches!(
            e,
            FeedError::UnsupportedLinkType {
                dlt: 189,
                packets: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .ends_with("unsupported link type 189 (LINKTYPE_USB_LINUX)"),
        "{e}"
    );
    // An interface of an unknown type that carries no packet is no error.
    let (n, e) = read_all(&tmp("unused.pcapng", &pcapng(&[1, 189], &[0, 0])));
    assert!(n == 2 && e.is_none(), "{n} {e:?}");
}

#[test]
fn regular_files_are_mapped_and_others_are_read() {
    let p = tmp("mapped.pcap", &classic(1, 3));
    let f = PcapFile::open(&p).unwrap();
    assert_eq!(f.is_mapped(), cfg!(feature = "mmap"));
    assert!(!PcapFile::open_with(&p, ReadMode::Buffered)
        .unwrap()
        .is_mapped());
    let ng = tmp("mapped.pcapng", &pcapng(&[1], &[0, 0]));
    assert_eq!(
        PcapFile::open(&ng).unwrap().is_mapped(),
        cfg!(feature = "mmap")
    );
    // Not a regular file: read through the buffer (here it is empty, so refused).
    let buf = buffer::ReadBuf::open(std::fs::File::open("/dev/null").unwrap(), ReadMode::Auto);
    assert!(!buf.is_mapped());
}

#[test]
fn cut_and_corrupt_pcapng_read_alike_in_both_modes() {
    let whole = pcapng(&[1], &[0, 0, 0, 0]);
    // Cut inside the last packet block, inside its header, and between blocks.
    for cut in [whole.len() - 5, whole.len() - 76 + 4, whole.len() - 76] {
        let p = tmp(&format!("cut{cut}.pcapng"), &whole[..cut]);
        let (n, e) = read_all(&p);
        if cut == whole.len() - 76 {
            assert!(n == 3 && e.is_none(), "{n} {e:?}");
        } else {
            assert_eq!(n, 3);
            assert!(
                matches!(e, Some(FeedError::Truncated { packets: 3, .. })),
                "{e:?}"
            );
        }
    }
    // A block claiming a megabyte, and one claiming less than a block header.
    let mut big = whole.clone();
    let at = whole.len() - 76; // the last packet block (76 bytes)
    big[at + 4..at + 8].copy_from_slice(&(1u32 << 20).to_le_bytes());
    let (n, e) = read_all(&tmp("big.pcapng", &big));
    assert_eq!(n, 3);
    assert!(
        matches!(
            e,
            Some(FeedError::Corrupt {
                detail: "a block is larger than 1 MiB",
                ..
            })
        ),
        "{e:?}"
    );
    let mut small = whole;
    small[at + 4..at + 8].copy_from_slice(&8u32.to_le_bytes());
    let (n, e) = read_all(&tmp("small.pcapng", &small));
    assert_eq!(n, 3);
    assert!(matches!(e, Some(FeedError::Corrupt { .. })), "{e:?}");
}

#[test]
fn a_mapped_file_shares_bytes_that_hold_every_packet_and_outlive_it() {
    for (name, bytes) in [
        ("shared.pcap", classic(1, 40)),
        ("shared.pcapng", pcapng(&[1], &[0; 40])),
    ] {
        let p = tmp(name, &bytes);
        let mut f = PcapFile::open(&p).unwrap();
        assert_eq!(f.shared_bytes().is_some(), f.is_mapped(), "{name}");
        let Some(shared) = f.shared_bytes() else {
            continue;
        };
        assert_eq!(shared.bytes(), &bytes[..], "{name}: the whole file");
        let mut seen = 0;
        while f
            .read_batch(&mut |pkts| {
                for pkt in pkts {
                    let at = shared
                        .place(pkt.data)
                        .expect("every packet lies in the map");
                    assert_eq!(shared.get(at, pkt.data.len()), Some(pkt.data));
                    seen += 1;
                }
            })
            .unwrap()
            > 0
        {}
        assert_eq!(seen, 40, "{name}");
        drop(f);
        // The map stays for as long as the shared bytes do.
        assert_eq!(
            shared.bytes(),
            &bytes[..],
            "{name}: after the file is dropped"
        );
        assert!(PcapFile::open_with(&p, ReadMode::Buffered)
            .unwrap()
            .shared_bytes()
            .is_none());
    }
}
