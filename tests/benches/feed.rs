//! Reading speed of capture files: libpcap's offline reader (`pcap::Capture::from_file`),
//! flowengine's reader through a buffer (`ReadMode::Buffered`), and flowengine's reader
//! over the file mapped into memory (`ReadMode::Auto`, the default), each for the
//! benchmark capture (2,000,000 packets, see `flowengine_tests::bench`) as classic pcap
//! and as pcapng (microsecond Enhanced Packet Blocks, converted from the pcap).
//!
//! Contract: every reader yields every packet and reads one byte of each (so the pages
//! of a mapped file are really touched), and is checked to count the same packets and
//! bytes before anything is timed; criterion reports packets per second
//! (`Throughput::Elements`). Two other modes, for numbers that do not need criterion:
//!
//! - `--medians N`: N timed passes of each reader and format, printing the median
//!   nanoseconds per packet and packets per second of each;
//! - `--once READER FORMAT` (READER: libpcap, buffered, mmap; FORMAT: pcap, pcapng):
//!   one pass, printing the packets read: run it under
//!   `valgrind --tool=callgrind` for instruction counts, which a loaded machine does
//!   not disturb.
//!
//! The capture is `$BENCH_PCAP` (default `$TMPDIR/flowengine-bench/bench-2m.pcap`, as
//! `scripts/bench.sh` uses), generated when missing; its pcapng copy is written beside
//! it (same name, `.pcapng`).
//!
//! `cargo bench -p flowengine-tests --bench feed [-- --medians 5]`

use criterion::{Criterion, Throughput};
use flowengine::feed::{PcapFile, ReadMode};
use flowengine_tests::bench::{generate, Params};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const READERS: [&str; 3] = ["libpcap", "buffered", "mmap"];
const FORMATS: [&str; 2] = ["pcap", "pcapng"];

/// The benchmark capture and its pcapng copy, made when missing.
fn captures() -> (PathBuf, PathBuf) {
    let pcap = std::env::var_os("BENCH_PCAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir()
                .join("flowengine-bench")
                .join("bench-2m.pcap")
        });
    if !pcap.exists() {
        if let Some(dir) = pcap.parent() {
            std::fs::create_dir_all(dir).expect("capture directory");
        }
        let tmp = pcap.with_extension("pcap.tmp");
        let file = std::fs::File::create(&tmp).expect("create capture");
        generate(file, &Params::default()).expect("generate capture");
        std::fs::rename(&tmp, &pcap).expect("rename capture");
    }
    let ng = pcap.with_extension("pcapng");
    let stale = |p: &Path| {
        let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        m(p).is_none() || m(p) < m(&pcap)
    };
    if stale(&ng) {
        let tmp = pcap.with_extension("pcapng.tmp");
        flowengine_tests::pcapng::convert(&pcap, &tmp, false).expect("convert to pcapng");
        std::fs::rename(&tmp, &ng).expect("rename pcapng");
    }
    (pcap, ng)
}

/// (packets, captured bytes, a sum of one byte of each packet).
type Tally = (u64, u64, u64);

fn read_libpcap(path: &Path) -> Tally {
    let mut cap = pcap::Capture::from_file(path).expect("libpcap opens the capture");
    let (mut n, mut bytes, mut sum) = (0, 0, 0);
    loop {
        match cap.next_packet() {
            Ok(p) => {
                n += 1;
                bytes += p.data.len() as u64;
                sum += u64::from(p.data.first().copied().unwrap_or(0));
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => panic!("libpcap: {e}"),
        }
    }
    (n, bytes, sum)
}

fn read_ours(path: &Path, mode: ReadMode) -> Tally {
    let mut f = PcapFile::open_with(path, mode).expect("open the capture");
    assert_eq!(f.is_mapped(), mode == ReadMode::Auto, "read mode");
    let (mut n, mut bytes, mut sum) = (0, 0, 0);
    loop {
        let got = f
            .read_batch(&mut |pkts| {
                for p in pkts {
                    bytes += p.data.len() as u64;
                    sum += u64::from(p.data.first().copied().unwrap_or(0));
                }
            })
            .expect("read the capture");
        if got == 0 {
            break;
        }
        n += got as u64;
    }
    (n, bytes, sum)
}

fn read(reader: &str, path: &Path) -> Tally {
    match reader {
        "libpcap" => read_libpcap(path),
        "buffered" => read_ours(path, ReadMode::Buffered),
        "mmap" => read_ours(path, ReadMode::Auto),
        other => panic!("unknown reader {other}"),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pcap, ng) = captures();
    let path_of = |format: &str| if format == "pcap" { &pcap } else { &ng };
    if let Some(i) = args.iter().position(|a| a == "--once") {
        let (Some(reader), Some(format)) = (args.get(i + 1), args.get(i + 2)) else {
            eprintln!("usage: feed --once libpcap|buffered|mmap pcap|pcapng");
            std::process::exit(2);
        };
        let t = read(reader, path_of(format));
        println!("{reader} {format}: {} packets, {} bytes", t.0, t.1);
        return;
    }
    // Every reader agrees before anything is timed.
    let mut expect = None;
    for format in FORMATS {
        for reader in READERS {
            let t = read(reader, path_of(format));
            assert_eq!(*expect.get_or_insert(t), t, "{reader} {format}");
        }
    }
    let (packets, _, _) = expect.expect("a tally");
    if let Some(i) = args.iter().position(|a| a == "--medians") {
        let runs: usize = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(5);
        println!("{packets} packets, median of {runs} passes (page cache warm):");
        for format in FORMATS {
            for reader in READERS {
                let times: Vec<Duration> = (0..runs.max(1))
                    .map(|_| {
                        let t = Instant::now();
                        black_box(read(reader, path_of(format)));
                        t.elapsed()
                    })
                    .collect();
                let m = median(times).as_secs_f64();
                println!(
                    "{format:>7} {reader:>9}: {:6.1} ns/packet {:7.2} M packets/s",
                    m * 1e9 / packets as f64,
                    packets as f64 / m / 1e6
                );
            }
        }
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    for format in FORMATS {
        let mut g = c.benchmark_group(format!("feed_{format}"));
        g.throughput(Throughput::Elements(packets));
        for reader in READERS {
            g.bench_function(reader, |b| {
                b.iter(|| black_box(read(reader, path_of(format))))
            });
        }
        g.finish();
    }
    c.final_summary();
}
