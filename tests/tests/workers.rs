//! The engine on several workers: the same records and events as on one, whatever
//! the number of workers, for plain traffic, fragments, tunnels and the verify
//! captures; every frame goes to exactly one worker.

use flowengine::inspect::InspectorSet;
use flowengine::workers::Placement;
use flowengine::{
    Config, ConfigBuilder, EveOptions, EveWriter, LinkType, Packet, PcapFile, Stats, Timestamp,
    Workers,
};
use flowengine_tests::bench::{self, Params};
use flowengine_tests::frame::{self, flags::*, v4, v6};
use flowengine_tests::tunnel::{self, Outer};
use flowengine_tests::{fragment, shared};
use std::path::Path;

fn config(sets: &[&str]) -> Config {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=7").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    b.build().unwrap()
}

type Sink = EveWriter<Vec<u8>>;

fn placed(config: &Config, threads: usize, placement: Placement, inspect: bool) -> Workers<Sink> {
    let set = if inspect {
        flowengine_inspectors::builtin(config).unwrap()
    } else {
        InspectorSet::new()
    };
    Workers::with_placement(config, set, threads, placement, |_| {
        EveWriter::new(Vec::new(), EveOptions::default())
    })
    .unwrap()
}

/// Every EVE line the workers wrote, sorted, and the merged counters.
fn finish(w: Workers<Sink>) -> (Stats, Vec<String>) {
    let (stats, sinks) = w.finish();
    let mut lines = Vec::new();
    for s in sinks {
        let bytes = s.finish().unwrap();
        lines.extend(String::from_utf8(bytes).unwrap().lines().map(str::to_owned));
    }
    lines.sort();
    (stats, lines)
}

fn run_frames(
    config: &Config,
    threads: usize,
    frames: &[(u64, Vec<u8>)],
) -> (Stats, Vec<String>, Vec<u64>) {
    run_placed(config, threads, Placement::Threads, frames)
}

fn run_placed(
    config: &Config,
    threads: usize,
    placement: Placement,
    frames: &[(u64, Vec<u8>)],
) -> (Stats, Vec<String>, Vec<u64>) {
    let mut w = placed(config, threads, placement, true);
    // In batches of 32, as pcap-replay hands them over.
    for chunk in frames.chunks(32) {
        let pkts: Vec<Packet<'_>> = chunk
            .iter()
            .map(|(t, f)| Packet {
                ts: Timestamp::from_nanos(*t),
                link: LinkType::Ethernet,
                data: f,
            })
            .collect();
        w.push_batch(&pkts);
    }
    let per_worker = w.frames_per_worker();
    let (stats, lines) = finish(w);
    (stats, lines, per_worker)
}

fn run_file(
    config: &Config,
    threads: usize,
    placement: Placement,
    path: &Path,
) -> Option<(Stats, Vec<String>)> {
    let mut file = PcapFile::open(path).ok()?;
    let mut w = placed(config, threads, placement, true);
    while let Ok(n) = file.read_batch(&mut |pkts| w.push_batch(pkts)) {
        if n == 0 {
            break;
        }
    }
    Some(finish(w))
}

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

/// Generated HTTP and DNS traffic, plus fragmented UDP datagrams, flows inside VXLAN
/// and GRE tunnels, and flows left to time out, in time order.
fn mixed_traffic() -> Vec<(u64, Vec<u8>)> {
    let params = Params {
        tcp_flows: 600,
        udp_flows: 300,
        span: 90.0,
        think_max: 4.0,
        ..Params::default()
    };
    // Tests run in parallel: each call its own file.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "flowengine-workers-{}-{n}.pcap",
        std::process::id()
    ));
    bench::generate(std::fs::File::create(&path).unwrap(), &params).unwrap();
    let mut frames = Vec::new();
    let mut file = PcapFile::open(&path).unwrap();
    while file
        .read_batch(&mut |pkts| {
            frames.extend(pkts.iter().map(|p| (p.ts.as_nanos(), p.data.to_vec())))
        })
        .unwrap()
        > 0
    {}
    let _ = std::fs::remove_file(&path);
    let t0 = frames.first().map(|f| f.0).unwrap_or(T0);
    for i in 0..40u32 {
        let t = t0 + u64::from(i) * 2 * S;
        let a = (
            v4(10, 9, (i / 200) as u8, (i % 200) as u8 + 1),
            5000 + i as u16,
        );
        let b = (v4(10, 9, 255, 1), 7000);
        // A datagram of 3000 bytes in fragments, then an unfragmented one of the same
        // flow, and a reply.
        let big = frame::udp(a, b, &vec![i as u8; 3000]);
        for (k, f) in fragment::split(&big, 100 + i, 1480).into_iter().enumerate() {
            frames.push((t + k as u64 * 1000, f));
        }
        frames.push((t + S / 2, frame::udp(a, b, b"small")));
        frames.push((t + S / 2 + 1000, frame::udp(b, a, b"reply")));
        // A TCP flow inside VXLAN and one inside GRE, both directions.
        let outer = Outer {
            src: v4(172, 20, 0, 1),
            dst: v4(172, 20, 0, (i % 7) as u8 + 2),
        };
        let c = (v6(0x100 + i as u16), 40000);
        let s = (v6(0x9999), 443);
        for (dt, syn) in [(0, true), (1000, false)] {
            let (src, dst, flags) = if syn { (c, s, SYN) } else { (s, c, SYN | ACK) };
            let inner = frame::tcp(src, dst, flags, 1, 0, b"");
            let o = if syn { outer } else { outer.reversed() };
            frames.push((t + S + dt, tunnel::vxlan(o, 40000, 4789, 7, &inner)));
            frames.push((
                t + S + dt + 10,
                tunnel::gre(o, Default::default(), 0x86dd, &frame::ip_of(&inner)),
            ));
        }
    }
    frames.sort_by_key(|f| f.0);
    frames
}

#[test]
fn records_and_events_are_the_same_on_one_two_and_three_workers() {
    let frames = mixed_traffic();
    let c = config(&[]);
    let (one_stats, one, per_one) = run_frames(&c, 1, &frames);
    assert_eq!(per_one, vec![frames.len() as u64]);
    assert!(one.iter().any(|l| l.contains("\"event_type\":\"http\"")));
    assert!(one.iter().any(|l| l.contains("\"event_type\":\"dns\"")));
    assert!(one_stats.defrag.reassembled >= 40, "{:?}", one_stats.defrag);
    for (threads, placement) in [
        (2, Placement::Threads),
        (3, Placement::Threads),
        (2, Placement::Caller),
        (3, Placement::Caller),
    ] {
        let (stats, lines, per_worker) = run_placed(&c, threads, placement, &frames);
        assert_eq!(per_worker.len(), threads);
        assert_eq!(per_worker.iter().sum::<u64>(), frames.len() as u64);
        assert!(
            per_worker.iter().all(|&n| n > frames.len() as u64 / 10),
            "uneven shares: {per_worker:?}"
        );
        assert_eq!(stats.records, one_stats.records, "{threads} workers");
        assert_eq!(stats.packets_tracked, one_stats.packets_tracked);
        assert_eq!(stats.cache.flows, one_stats.cache.flows);
        assert_eq!(stats.defrag.reassembled, one_stats.defrag.reassembled);
        assert_eq!(lines.len(), one.len(), "{threads} workers");
        for (a, b) in lines.iter().zip(&one) {
            assert_eq!(a, b, "{threads} workers");
        }
    }
}

#[test]
fn flows_that_time_out_end_alike_whichever_worker_sweeps_them() {
    // A flow on one host pair goes quiet; traffic on other pairs moves time on. One
    // worker sweeps the quiet flow on another pair's packet; with two workers its own
    // worker learns the time from the caller. Same record either way.
    let a = (v4(10, 0, 0, 1), 1111);
    let b = (v4(10, 0, 0, 2), 53);
    let mut frames = vec![
        (T0, frame::udp(a, b, b"q")),
        (T0 + 1000, frame::udp(b, a, b"r")),
    ];
    for i in 0..700u64 {
        let x = (v4(10, 1, (i / 250) as u8, (i % 250) as u8 + 1), 2000);
        let y = (v4(10, 2, 0, 1), 80);
        frames.push((T0 + (i + 1) * S, frame::udp(x, y, b"tick")));
    }
    let c = config(&[]);
    let (_, one, _) = run_frames(&c, 1, &frames);
    let (_, two, _) = run_frames(&c, 2, &frames);
    assert_eq!(one, two);
    let (_, caller, _) = run_placed(&c, 2, Placement::Caller, &frames);
    assert_eq!(one, caller);
    let quiet = one
        .iter()
        .find(|l| l.contains("\"src_port\":1111") && l.contains("\"event_type\":\"flow\""))
        .expect("the quiet flow's record");
    assert!(quiet.contains("\"reason\":\"timeout\""), "{quiet}");
}

#[test]
fn a_reload_reaches_every_worker_and_a_bad_one_changes_nothing() {
    let c = config(&[]);
    let frames = mixed_traffic();
    for placement in [Placement::Threads, Placement::Caller] {
        reload_on(&c, placement, &frames);
    }
}

fn reload_on(c: &Config, placement: Placement, frames: &[(u64, Vec<u8>)]) {
    let mut w = placed(c, 2, placement, false);
    let pkts: Vec<Packet<'_>> = frames
        .iter()
        .take(500)
        .map(|(t, f)| Packet {
            ts: Timestamp::from_nanos(*t),
            link: LinkType::Ethernet,
            data: f,
        })
        .collect();
    w.push_batch(&pkts);
    let mut bad = config(&[]);
    bad.checksum.0 = "sometimes".into();
    assert!(w.reload(&bad, InspectorSet::new()).is_err());
    let newer = config(&["flow-timeouts.udp.new=5", "stream.max_flows=1000"]);
    let done = w.reload(&newer, InspectorSet::new()).unwrap();
    assert_eq!(done.needs_restart, vec!["stream"]);
    assert_eq!(w.config().flow_timeouts.udp.new, 5);
    assert_eq!(
        w.config().stream.max_flows,
        c.stream.max_flows,
        "kept until a restart"
    );
    let (stats, _) = w.finish();
    assert_eq!(stats.reloads, 1, "one reload applied (by each worker)");
}

#[test]
fn the_verify_captures_give_the_same_output_on_two_workers_as_on_one_either_placement() {
    let captures = shared::verify_captures();
    if captures.is_empty() {
        eprintln!("skipped: no verify captures beside the repository (../shared)");
        return;
    }
    let c = config(&["stream.midstream=true"]);
    let mut compared = 0;
    for path in &captures {
        let Some((one_stats, one)) = run_file(&c, 1, Placement::Threads, path) else {
            continue;
        };
        for placement in [Placement::Threads, Placement::Caller] {
            let (stats, two) = run_file(&c, 2, placement, path).unwrap();
            assert_eq!(stats.records, one_stats.records, "{}", path.display());
            assert_eq!(two, one, "{} {placement:?}", path.display());
        }
        compared += 1;
    }
    assert!(compared > 100, "only {compared} captures compared");
}
