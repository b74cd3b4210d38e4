//! Reading captures: both ways of reading (`next_packet`, `read_batch`) and both read
//! modes (mapped, buffered) see the same packets and report the same errors, at the
//! byte where the bad record starts, in classic pcap and in pcapng.

use flowengine::feed::ReadMode;
use flowengine::{FeedError, PcapFile};
use flowengine_tests::bench::{generate, Params};
use flowengine_tests::pcap::{self, PcapWriter};
use flowengine_tests::pcapng::{self as ng, PcapngWriter};
use std::path::{Path, PathBuf};

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowengine-feed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

const MODES: [ReadMode; 2] = [ReadMode::Auto, ReadMode::Buffered];

/// Reads a file one way or the other, in every read mode (which must agree): (packet
/// lengths, the error text if any).
fn read(path: &Path, batched: bool) -> (Vec<usize>, Option<String>) {
    let mapped = read_with(path, batched, ReadMode::Auto);
    let buffered = read_with(path, batched, ReadMode::Buffered);
    assert_eq!(mapped, buffered, "read modes disagree, batched={batched}");
    mapped
}

fn read_with(path: &Path, batched: bool, mode: ReadMode) -> (Vec<usize>, Option<String>) {
    let mut f = PcapFile::open_with(path, mode).unwrap();
    let mut lens = Vec::new();
    loop {
        let step = if batched {
            f.read_batch(&mut |pkts| lens.extend(pkts.iter().map(|p| p.data.len())))
        } else {
            f.next_packet().map(|p| match p {
                Some(p) => {
                    lens.push(p.data.len());
                    1
                }
                None => 0,
            })
        };
        match step {
            Ok(0) => return (lens, None),
            Ok(_) => {}
            Err(e) => return (lens, Some(e.to_string())),
        }
    }
}

#[test]
fn a_corrupt_record_inside_a_batch_is_reported_where_it_starts() {
    // Found by the fuzzer: the batched reader used to name the batch's first record.
    let mut w = PcapWriter::new(Vec::new(), pcap::DLT_EN10MB, 65535, false).unwrap();
    w.write(1_000, &[]).unwrap();
    w.write(2_000, &[0xab; 60]).unwrap();
    w.write_record(3_000, &[], 1 << 20, 1 << 20).unwrap();
    let p = tmp("corrupt-in-batch.pcap", &w.finish().unwrap());
    for batched in [false, true] {
        let (lens, err) = read(&p, batched);
        assert_eq!(lens, vec![0, 60], "batched={batched}");
        let err = err.expect("an error");
        assert!(
            err.contains("corrupt at byte 116 (after 2 packets)"),
            "batched={batched}: {err}"
        );
    }
}

#[test]
fn truncation_inside_a_batch_is_reported_after_the_good_packets() {
    let mut w = PcapWriter::new(Vec::new(), pcap::DLT_EN10MB, 65535, false).unwrap();
    for i in 0..5u64 {
        w.write(i * 1_000, &[i as u8; 100]).unwrap();
    }
    let mut bytes = w.finish().unwrap();
    bytes.truncate(bytes.len() - 30);
    let p = tmp("cut.pcap", &bytes);
    for batched in [false, true] {
        let (lens, err) = read(&p, batched);
        assert_eq!(lens.len(), 4, "batched={batched}");
        let err = err.unwrap();
        assert!(err.contains("truncated"), "{err}");
        assert!(
            err.contains("byte 488 (after 4 packets)"),
            "batched={batched}: {err}"
        );
    }
    // The error is a typed FeedError an embedding program can match on.
    for mode in MODES {
        let mut f = PcapFile::open_with(&p, mode).unwrap();
        let e = loop {
            match f.next_packet() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(matches!(
            e,
            FeedError::Truncated {
                offset: 488,
                packets: 4,
                ..
            }
        ));
    }
}

#[test]
fn truncated_pcapng_is_reported_after_the_good_packets() {
    let mut w = PcapngWriter::new(Vec::new(), 1, 65535, false).unwrap();
    for i in 0..100u64 {
        w.write(1_700_000_000_000_000_000 + i * 1_000, &[i as u8; 99])
            .unwrap();
    }
    let mut bytes = w.finish().unwrap();
    // Blocks: section header 28 bytes, interface 20, packets 32 + 100 each.
    assert_eq!(bytes.len(), 28 + 20 + 100 * 132);
    bytes.truncate(bytes.len() - 30);
    let p = tmp("cut.pcapng", &bytes);
    for batched in [false, true] {
        let (lens, err) = read(&p, batched);
        assert_eq!(lens, vec![99; 99], "batched={batched}");
        let err = err.unwrap();
        let at = 28 + 20 + 99 * 132;
        assert!(
            err.contains(&format!(
                "truncated: the file ends inside a record at byte {at} (after 99 packets)"
            )),
            "batched={batched}: {err}"
        );
    }
}

/// A packet read: (time, link type, bytes).
type Read = (u64, u32, Vec<u8>);

/// Every packet of a file, read one mode, and the error if any.
fn packets(path: &Path, mode: ReadMode) -> (Vec<Read>, Option<String>) {
    let mut f = PcapFile::open_with(path, mode).unwrap();
    assert_eq!(f.is_mapped(), mode == ReadMode::Auto);
    let mut out = Vec::new();
    loop {
        match f.read_batch(&mut |pkts| {
            out.extend(
                pkts.iter()
                    .map(|p| (p.ts.as_nanos(), p.link.dlt(), p.data.to_vec())),
            )
        }) {
            Ok(0) => return (out, None),
            Ok(_) => {}
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

#[test]
fn mapped_and_buffered_reading_agree_on_a_generated_capture() {
    // Large enough for many buffer refills (about 3 MiB), in both formats.
    let params = Params {
        tcp_flows: 600,
        udp_flows: 300,
        span: 10.0,
        ..Params::default()
    };
    let dir = std::env::temp_dir().join(format!("flowengine-feed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let classic = dir.join("gen.pcap");
    generate(std::fs::File::create(&classic).unwrap(), &params).unwrap();
    let pcapng = dir.join("gen.pcapng");
    for nanos in [false, true] {
        assert_eq!(
            ng::convert(&classic, &pcapng, nanos).unwrap(),
            params.packets()
        );
        let (mapped, e1) = packets(&pcapng, ReadMode::Auto);
        let (buffered, e2) = packets(&pcapng, ReadMode::Buffered);
        let (orig, e3) = packets(&classic, ReadMode::Buffered);
        assert_eq!((e1, e2, e3), (None, None, None));
        assert_eq!(mapped.len() as u64, params.packets());
        assert!(mapped == buffered, "pcapng: read modes disagree");
        assert!(mapped == orig, "pcapng copy differs from the pcap");
    }
    let (mapped, _) = packets(&classic, ReadMode::Auto);
    let (buffered, _) = packets(&classic, ReadMode::Buffered);
    assert!(mapped == buffered, "pcap: read modes disagree");
}

#[test]
fn old_captures_with_swapped_lengths_read_like_libpcap() {
    // Version 2.2 files store the original length where 2.4 stores the captured one.
    let mut bytes = pcap::to_bytes(pcap::DLT_EN10MB, &[(1_000, vec![7u8; 50])]);
    bytes[6] = 2; // minor version 2
    let (caplen, len) = (50u32.to_le_bytes(), 1500u32.to_le_bytes());
    bytes[32..36].copy_from_slice(&len);
    bytes[36..40].copy_from_slice(&caplen);
    let p = tmp("v22.pcap", &bytes);
    let (lens, err) = read(&p, true);
    assert_eq!((lens, err), (vec![50], None));
}

#[test]
fn a_mapped_file_is_read_as_long_as_it_was_when_opened() {
    // Documented: bytes appended after opening are not seen by the mapped reader (the
    // buffered one reads to the end of the file as it finds it).
    let mut w = PcapWriter::new(Vec::new(), pcap::DLT_EN10MB, 65535, false).unwrap();
    for i in 0..3u64 {
        w.write(i * 1_000, &[1; 60]).unwrap();
    }
    let three = w.finish().unwrap();
    let mut more = PcapWriter::new(Vec::new(), pcap::DLT_EN10MB, 65535, false).unwrap();
    more.write(9_000, &[2; 60]).unwrap();
    let record = more.finish().unwrap()[24..].to_vec();
    for mode in MODES {
        let p = tmp(&format!("growing-{mode:?}.pcap"), &three);
        let mut f = PcapFile::open_with(&p, mode).unwrap();
        assert!(f.next_packet().unwrap().is_some());
        let mut file = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut file, &record).unwrap();
        let mut n = 1;
        while f.next_packet().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, if f.is_mapped() { 3 } else { 4 }, "{mode:?}");
    }
}

/// A classic pcap file written by hand: `be` big-endian, `magic` (as read in the
/// file's own byte order), version `minor`, `modified` 24-byte record headers; each
/// record (seconds, fraction, stored caplen, stored len, bytes).
fn classic(be: bool, magic: u32, minor: u16, records: &[(u32, u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut b = Vec::new();
    b.extend_from_slice(&w32(magic));
    b.extend_from_slice(&w16(2));
    b.extend_from_slice(&w16(minor));
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&w32(65535));
    b.extend_from_slice(&w32(1));
    let modified = magic == 0xa1b2_cd34;
    for (secs, frac, caplen, len, data) in records {
        for v in [*secs, *frac, *caplen, *len] {
            b.extend_from_slice(&w32(v));
        }
        if modified {
            b.extend_from_slice(&[0; 8]); // ifindex, protocol, pkt_type, padding
        }
        b.extend_from_slice(data);
    }
    b
}

/// Every packet of a file, one at a time (`next_packet`), with the error if any.
fn packets_one_by_one(path: &Path, mode: ReadMode) -> (Vec<Read>, Option<String>) {
    let mut f = PcapFile::open_with(path, mode).unwrap();
    let mut out = Vec::new();
    loop {
        match f.next_packet() {
            Ok(Some(p)) => out.push((p.ts.as_nanos(), p.link.dlt(), p.data.to_vec())),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

#[test]
fn batches_read_every_classic_variant_as_single_records_do() {
    // Byte order, micro/nanoseconds, Kuznetzov's modified headers and swapped
    // lengths (versions before 2.3, and 2.3 when the captured length is the larger):
    // many records per batch, and a record over the 256 KiB limit after them.
    for be in [false, true] {
        for (magic, minor) in [
            (0xa1b2_c3d4, 4),
            (0xa1b2_3c4d, 4),
            (0xa1b2_cd34, 4),
            (0xa1b2_c3d4, 2),
            (0xa1b2_c3d4, 3),
        ] {
            let mut records = Vec::new();
            for i in 0..70u32 {
                let data = vec![i as u8; (i as usize * 7) % 90];
                let n = data.len() as u32;
                // Stored (captured, original): before 2.3 the two are swapped; in
                // 2.3 the larger is taken as the original, whichever field holds it.
                let (caplen, len) = match minor {
                    2 => (n + 1000, n),
                    3 if i % 2 == 0 => (n + 1000, n),
                    _ => (n, n + 1000),
                };
                records.push((1_000 + i, i * 1000 + 7, caplen, len, data));
            }
            let last = (5_000, 0, 300_000, 300_000, vec![0u8; 10]);
            records.push(last);
            let name = format!("variant-{be}-{magic:x}-{minor}.pcap");
            let p = tmp(&name, &classic(be, magic, minor, &records));
            for mode in MODES {
                let (batched, err) = packets(&p, mode);
                let (single, single_err) = packets_one_by_one(&p, mode);
                assert_eq!(batched.len(), 70, "{name} {mode:?}");
                assert_eq!(batched, single, "{name} {mode:?}");
                assert_eq!(err, single_err, "{name} {mode:?}");
                assert!(err.is_some_and(|e| e.contains("corrupt")), "{name}");
                let nanos = magic == 0xa1b2_3c4d;
                for (i, (ts, _, data)) in batched.iter().enumerate() {
                    let frac = u64::from(i as u32 * 1000 + 7);
                    let want =
                        (1_000 + i as u64) * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
                    assert_eq!(*ts, want, "{name} record {i}");
                    assert_eq!(data.len(), (i * 7) % 90, "{name} record {i}");
                }
            }
        }
    }
}
