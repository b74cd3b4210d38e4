//! What the integration tests that run the built-in inspectors share: an engine with
//! them writing EVE to memory, a frame pushed at a second of packet time, and the EVE
//! lines read back. Each test file that needs it says `mod common;` (Cargo builds
//! `tests/common/` into no test of its own).

#![allow(dead_code)] // each test file uses part of it

use flowengine::decode::LinkType;
use flowengine::{ConfigBuilder, Engine, EveOptions, EveWriter, Packet, Stats, Timestamp};
use serde_json::Value;

/// An engine with the built-in inspectors, writing EVE to memory.
pub type Eng = Engine<EveWriter<Vec<u8>>>;

/// An engine with the built-in inspectors, `flow.hash_seed=1`, the `--set`
/// assignments `sets` and then the TOML `toml` (for what `--set` cannot say, such as
/// lists).
pub fn engine(sets: &[&str], toml: &str) -> Eng {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=1").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    b.merge_toml(toml, None).unwrap();
    let config = b.build().unwrap();
    let set = flowengine_inspectors::builtin(&config).unwrap();
    Engine::with_inspectors(
        &config,
        EveWriter::new(Vec::new(), EveOptions::default()),
        set,
    )
    .unwrap()
}

/// Pushes one Ethernet frame at `secs` seconds of packet time (from a fixed start).
pub fn push(e: &mut Eng, secs: u64, data: &[u8]) {
    e.push(&Packet {
        ts: Timestamp::from_secs_micros(1_700_000_000 + secs, 0),
        link: LinkType::Ethernet,
        data,
    });
}

/// Ends the run: every EVE line written, parsed, in order, and the statistics.
pub fn finish(e: Eng) -> (Vec<Value>, Stats) {
    let (stats, sink) = e.finish();
    let lines = String::from_utf8(sink.finish().unwrap())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    (lines, stats)
}
