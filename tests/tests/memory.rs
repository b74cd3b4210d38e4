//! Memory: an engine sized for many flows costs resident memory only for the flows it
//! has seen (the slab and the hash index are reserved untouched), and tracking 150,000
//! concurrent flows takes under 48 MiB.
//!
//! A test binary of its own, with one test, so nothing else running in the process
//! moves the resident-set readings (Linux: `VmRSS` in `/proc/self/status`).
#![cfg(target_os = "linux")]

use flowengine::record::Discard;
use flowengine::{ConfigBuilder, Engine, LinkType, Packet, Timestamp};
use flowengine_tests::concurrent::{self, Kind};

const MIB: u64 = 1 << 20;

/// The process's resident set, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

fn config(max_flows: u32) -> flowengine::Config {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=1").unwrap();
    b.set(&format!("stream.max_flows={max_flows}")).unwrap();
    b.build().unwrap()
}

#[test]
fn flow_memory_is_resident_only_when_used() {
    // 4M slots: 768 MiB of slab and 64 MiB of hash index reserved.
    let before = rss();
    let engine = Engine::new(&config(4_000_000), Discard).unwrap();
    let built = rss();
    let stats = engine.stats();
    assert!(
        stats.slot_bytes <= 256,
        "{} bytes per slot",
        stats.slot_bytes
    );
    assert!(stats.bytes_per_flow * stats.max_flows > 700 * MIB);
    assert!(
        built.saturating_sub(before) < 8 * MIB,
        "building an engine for 4M flows made {} MiB resident",
        (built - before) / MIB
    );
    drop(engine);

    // 150,000 open TCP connections, tracked (flow slots, TCP state, hash index).
    let config = config(200_000);
    let frames: Vec<_> = concurrent::packets(Kind::Tcp, 150_000, 1_700_000_000).collect();
    let start = rss();
    let mut engine = Engine::new(&config, Discard).unwrap();
    for (ts, data) in &frames {
        engine.push(&Packet {
            ts: Timestamp::from_nanos(*ts),
            link: LinkType::Ethernet,
            data,
        });
    }
    let grown = rss().saturating_sub(start);
    let stats = engine.stats();
    assert_eq!(stats.cache.current_flows, 150_000);
    assert!(
        grown < 48 * MIB,
        "150,000 concurrent flows made {} MiB resident",
        grown / MIB
    );
    // At least the touched slots are resident: the reading is real.
    assert!(grown >= 150_000 * stats.slot_bytes / 2, "{grown} bytes");
}
