//! Helpers shared by the fuzz targets: configurations chosen by input bytes, and the
//! checks of what the engine promises (see the contract at the top of
//! `engine/src/engine.rs` and `engine/src/decode/stats.rs`).

use flowengine::record::eve::EveFlow;
use flowengine::record::{Collect, FlowRecord};
use flowengine::{
    Config, ConfigBuilder, Engine, EveOptions, EveWriter, LinkType, SetOutcome, Stats,
};
use std::cell::RefCell;
use std::collections::HashMap;

/// The pcap link types the decoder knows (`LinkType::from_dlt`, aliases 12 and 14
/// included) plus one it does not know (147, a user DLT).
pub const DLTS: [u32; 16] = [
    0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 192, 204, 228, 229, 276, 147,
];

/// The link type chosen by the low nibble of a selector byte.
pub fn link_of(selector: u8) -> LinkType {
    LinkType::from_dlt(DLTS[usize::from(selector & 0x0f)])
}

/// Applies one override; a key the schema does not know would silently make the
/// fuzzer test less than it says, so it is a bug in this harness.
fn set(b: &mut ConfigBuilder, assignment: &str) {
    match b.set(assignment) {
        Ok(SetOutcome::Applied) => {}
        other => panic!("fuzz harness: --set {assignment} gave {other:?}"),
    }
}

/// Builds the configuration selected by 10 bits:
///
/// - bits 0-7 (`flags`): 0 `stream.midstream`, 1 `stream.async-oneside`,
///   2 `allowlist_cache.enable`, 3 `allowlist_cache.move_on_excess`,
///   4 `stream.midstream-policy=bypass`, 5 `stream.memcap=8192`, 6 VLAN and tunnel
///   depth left out of the key, 7 `decoder.max-layers=2`;
/// - bits 8-9: `stream.max_flows` of 64, 8, 1 or 64;
/// - bits 10-11: timeouts: defaults; short (seconds) with `pruning_timeout=1`; no
///   sweep per packet and `prune_flows=1`; short with a 2-slot allowlist.
///
/// Always `flow.hash_seed=1`, so a crash reproduces.
fn build(sel: u16) -> Config {
    let mut b = ConfigBuilder::new();
    set(&mut b, "flow.hash_seed=1");
    let max_flows = [64, 8, 1, 64][usize::from((sel >> 8) & 3)];
    set(&mut b, &format!("stream.max_flows={max_flows}"));
    let flag = |bit: u16| sel & (1 << bit) != 0;
    if flag(0) {
        set(&mut b, "stream.midstream=true");
    }
    if flag(1) {
        set(&mut b, "stream.async-oneside=true");
    }
    if flag(2) {
        set(&mut b, "allowlist_cache.enable=true");
    }
    if flag(3) {
        set(&mut b, "allowlist_cache.move_on_excess=true");
    }
    if flag(4) {
        set(&mut b, "stream.midstream-policy=bypass");
    }
    if flag(5) {
        set(&mut b, "stream.memcap=8192");
    }
    if flag(6) {
        set(&mut b, "vlan.use-for-tracking=false");
        set(&mut b, "decoder.recursion-level.use-for-tracking=false");
    }
    if flag(7) {
        set(&mut b, "decoder.max-layers=2");
    }
    let short = |b: &mut ConfigBuilder| {
        for p in ["default", "tcp", "udp", "icmp"] {
            set(b, &format!("flow-timeouts.{p}.new=2"));
            set(b, &format!("flow-timeouts.{p}.established=5"));
        }
        set(b, "flow-timeouts.tcp.closed=1");
        set(b, "stream.pruning_timeout=1");
    };
    match (sel >> 10) & 3 {
        0 => {}
        1 => short(&mut b),
        2 => {
            set(&mut b, "stream.timeout_flows_per_packet=0");
            set(&mut b, "stream.prune_flows=1");
        }
        _ => {
            short(&mut b);
            set(&mut b, "allowlist_cache.max_flows=2");
        }
    }
    b.build().expect("fuzz harness: configuration must build")
}

thread_local! {
    static CONFIGS: RefCell<HashMap<u16, Config>> = RefCell::new(HashMap::new());
}

/// The configuration selected by `sel` (see [`build`]), built once per selector.
pub fn config(sel: u16) -> Config {
    let sel = sel & 0x0fff;
    CONFIGS.with(|c| {
        c.borrow_mut()
            .entry(sel)
            .or_insert_with(|| build(sel))
            .clone()
    })
}

/// A fresh engine with a collecting sink.
pub fn engine(config: &Config) -> Engine<Collect> {
    Engine::new(config, Collect::default()).expect("fuzz harness: engine must build")
}

/// Checks what an engine promises once finished: `frames` frames were pushed, and it
/// returned `stats` and `records`.
pub fn check_finished(stats: &Stats, records: &[FlowRecord], frames: u64) {
    let d = &stats.decode;
    // Every frame given to push/push_batch is counted once by the decoder.
    assert_eq!(d.packets, frames, "decode.packets != frames pushed");
    assert_eq!(
        d.by_link.iter().sum::<u64>(),
        frames,
        "sum(decode.by_link) != frames pushed"
    );
    // decode/stats.rs: packets + tunneled = ip + fragments + not_ip + errors.
    assert_eq!(
        d.packets + d.tunneled,
        d.ip_packets() + d.ipv4_fragments + d.ipv6_fragments + d.not_ip() + d.error_total(),
        "decode counters do not add up: {d:?}"
    );
    // Every IP layer decoded is either tracked in a flow or refused one.
    assert_eq!(
        d.ip_packets(),
        stats.packets_tracked + stats.packets_no_flow,
        "ip packets != tracked + no_flow"
    );
    assert_eq!(
        stats.packets_no_flow,
        stats.cache.no_flow_max_flows + stats.cache.no_flow_memcap,
        "packets_no_flow != cache no_flow_max_flows + no_flow_memcap"
    );
    // Every created flow ends exactly once, in the sink.
    assert_eq!(
        stats.records,
        records.len() as u64,
        "stats.records != records in the sink"
    );
    assert_eq!(stats.cache.flows, stats.records, "flows created != records");
    assert_eq!(
        stats.cache.current_flows, 0,
        "flows left in the cache after finish"
    );
    // Flow ids never repeat within a run.
    let mut ids: Vec<u64> = records.iter().map(|r| r.flow_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), records.len(), "two records share a flow id");
    // The packets in the records add up to the packets tracked.
    let pkts: u64 = records.iter().map(FlowRecord::packets).sum();
    assert_eq!(
        pkts, stats.packets_tracked,
        "sum of record packets != packets_tracked"
    );
    for r in records {
        assert!(r.packets() >= 1, "a record without packets: {r:?}");
    }
}

/// Renders the records as EVE JSON lines with [`EveWriter`] (its own JSON builder)
/// and checks each line: it is what serializing [`EveFlow`] with serde_json gives
/// (what `record/eve.rs`'s tests hold the writer to), and a JSON `flow` object.
pub fn check_eve(records: &[FlowRecord]) {
    for ipv6_compress in [false, true] {
        let opts = EveOptions { ipv6_compress };
        let mut w = EveWriter::new(Vec::new(), opts);
        for r in records {
            flowengine::Sink::flow(&mut w, r);
        }
        assert_eq!(
            w.written(),
            records.len() as u64,
            "EveWriter did not write every record"
        );
        let out = w.finish().expect("writing EVE into a Vec cannot fail");
        let mut lines = out.split_inclusive(|&b| b == b'\n');
        for r in records {
            let line = lines.next().expect("one EVE line per record");
            let slow =
                serde_json::to_string(&EveFlow::new(r, opts)).expect("EveFlow serializes") + "\n";
            assert_eq!(
                String::from_utf8_lossy(line),
                slow,
                "EveWriter and serde_json(EveFlow) differ (ipv6_compress={ipv6_compress}) for {r:?}"
            );
            let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!(
                    "EVE line is not JSON ({e}): {}",
                    String::from_utf8_lossy(line)
                )
            });
            assert_eq!(v["event_type"], "flow", "EVE line without event_type flow");
            assert!(v["flow"].is_object(), "EVE line without a flow object");
        }
        assert!(lines.next().is_none(), "more EVE lines than records");
    }
}
