//! Capture files: the input is written to a file and read two ways (`next_packet`
//! feeding `Engine::push`, `read_batch` feeding `Engine::push_batch`). Errors are fine,
//! panics are not; both ways must yield the same packets and the same error, and
//! engines that keep their promises and agree.
#![no_main]

use flowengine::record::{Collect, FlowRecord};
use flowengine::{Config, FeedError, LinkType, Packet, PcapFile, Stats, Timestamp};
use flowengine_fuzz::{check_eve, check_finished, config, engine};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One file per fuzzing process, rewritten for each input.
fn path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("flowengine-fuzz-pcap-{}.pcap", std::process::id()))
    })
}

/// An owned copy of a packet.
#[derive(Debug, PartialEq, Eq)]
struct Owned {
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
}

impl Owned {
    fn of(p: &Packet<'_>) -> Owned {
        Owned {
            ts: p.ts,
            link: p.link,
            data: p.data.to_vec(),
        }
    }
}

/// What reading the file one way gave.
#[derive(Debug)]
struct Read {
    open_error: Option<String>,
    packets: Vec<Owned>,
    error: Option<String>,
    stats: Option<(Stats, Vec<FlowRecord>)>,
}

/// An error as compared across the two ways of reading: the whole message, offset and
/// packet count included (this target once found the batched reader naming the wrong
/// offset; `tests/tests/feed.rs` keeps that case).
fn describe(e: &FeedError) -> String {
    e.to_string()
}

/// Reads the whole file, `batch` choosing `read_batch` over `next_packet`.
fn read(cfg: &Config, batch: bool) -> Read {
    let mut file = match PcapFile::open(path()) {
        Ok(f) => f,
        Err(e) => {
            return Read {
                open_error: Some(describe(&e)),
                packets: Vec::new(),
                error: None,
                stats: None,
            }
        }
    };
    assert!(
        file.position() <= file.size(),
        "position past the end after open"
    );
    let mut eng = engine(cfg);
    let mut packets = Vec::new();
    let mut error = None;
    loop {
        let before = file.position();
        if batch {
            let mut got = 0usize;
            let r = file.read_batch(&mut |pkts: &[Packet<'_>]| {
                got += pkts.len();
                packets.extend(pkts.iter().map(Owned::of));
                eng.push_batch(pkts);
            });
            match r {
                Ok(0) => break,
                Ok(n) => assert_eq!(n, got, "read_batch count != packets handed over"),
                Err(e) => {
                    error = Some(describe(&e));
                    break;
                }
            }
        } else {
            match file.next_packet() {
                Ok(Some(p)) => {
                    packets.push(Owned::of(&p));
                    eng.push(&p);
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(describe(&e));
                    break;
                }
            }
        }
        assert!(file.position() >= before, "position went backwards");
        assert!(
            file.position() <= file.size(),
            "position past the end of the file"
        );
    }
    let fstats = file.stats();
    assert_eq!(
        fstats.packets,
        packets.len() as u64,
        "feed stats.packets != packets read"
    );
    assert_eq!(
        fstats.bytes,
        packets.iter().map(|p| p.data.len() as u64).sum::<u64>(),
        "feed stats.bytes != bytes read"
    );
    let (stats, Collect(records)) = eng.finish();
    check_finished(&stats, &records, packets.len() as u64);
    Read {
        open_error: None,
        packets,
        error,
        stats: Some((stats, records)),
    }
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(path(), data).expect("cannot write the fuzz capture");
    // The config: a small cache, deterministic hash; the last two bytes of the input
    // choose the variant (flowengine_fuzz::config), so the capture header stays as
    // the seeds have it.
    let sel = match data {
        [.., a, b] => u16::from_le_bytes([*b, *a]),
        _ => 0,
    };
    let cfg = config(sel);

    let (one, batch) = (read(&cfg, false), read(&cfg, true));
    assert_eq!(
        one.open_error, batch.open_error,
        "open differs: next_packet vs read_batch"
    );
    assert_eq!(
        one.packets, batch.packets,
        "packets differ: next_packet vs read_batch"
    );
    assert_eq!(
        one.error, batch.error,
        "error differs: next_packet vs read_batch"
    );
    match (&one.stats, &batch.stats) {
        (Some((s1, r1)), Some((s2, r2))) => {
            assert_eq!(s1, s2, "engine stats differ: push vs push_batch");
            assert_eq!(r1, r2, "records differ: push vs push_batch");
        }
        (None, None) => {}
        _ => panic!("one read opened the file, the other did not"),
    }
    if let Some((_, records)) = &one.stats {
        check_eve(records);
    }
});
