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

pub mod build;

/// The pcap link types the decoder knows (`LinkType::from_dlt`, aliases 12 and 14
/// included; 802.11 105, radiotap 127, Juniper 178 and NFLOG 239 too) plus one it does
/// not know (147, a user DLT), last.
pub const DLTS: [u32; 20] = [
    0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 178, 192, 204, 228, 229, 239, 276, 147,
];

/// The link type chosen by a selector byte (`DLTS[selector % 20]`).
pub fn link_of(selector: u8) -> LinkType {
    LinkType::from_dlt(DLTS[usize::from(selector) % DLTS.len()])
}

/// Applies one override; a key the schema does not know would silently make the
/// fuzzer test less than it says, so it is a bug in this harness.
pub fn set(b: &mut ConfigBuilder, assignment: &str) {
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
    let frags = d.ipv4_fragments + d.ipv6_fragments;
    // decode/stats.rs: every layer decoded (frame, tunnel inner packet, reassembled
    // datagram) is counted once by its outcome.
    assert_eq!(
        d.packets + d.tunneled + d.reassembled,
        d.ip_packets() + frags + d.not_ip() + d.error_total(),
        "decode counters do not add up: {d:?}"
    );
    // Every IP packet decoded and every fragment is tracked in a flow, refused one or
    // counted as orphaned (its datagram given up without its first fragment);
    // a reassembled datagram stands for its fragments:
    //   tracked + no_flow = ipv4 + ipv6 - reassembled + ipv4_fragments + ipv6_fragments
    // exactly when no datagram was reassembled. A reassembled datagram adds to the
    // left side what the right side cannot see (what `Engine::fragment` does on
    // purpose, see tests/tests/fragments.rs):
    // - when it does not decode (a TCP datagram shorter than its header, say) its
    //   n fragments are still tracked, on a flow without ports, while the datagram is
    //   counted as a decode error, not as an IP packet: +1;
    // - each tunnel layer opened inside it counts its n fragments, as every layer of
    //   a frame counts the frame, while the decoder counts the layer once: +(n - 1).
    // So the excess is 0 without reassembly, at most min(reassembled, errors) without
    // tunnel layers, and otherwise also at most tunneled * (fragments offered - 1).
    let base = d.ip_packets() + frags - d.reassembled;
    let seen = stats.packets_tracked
        + stats.packets_no_flow
        + stats.fragments_orphaned
        + stats.packets_tunnel_only;
    assert!(
        seen >= base,
        "tracked + no_flow < ip packets - reassembled + fragments: {stats:?}"
    );
    let excess = seen - base;
    let undecoded = d.reassembled.min(d.error_total());
    let layers = d.tunneled * stats.defrag.fragments.saturating_sub(1);
    if d.reassembled == 0 {
        assert_eq!(
            excess, 0,
            "tracked + no_flow != ip packets + fragments (nothing reassembled): {stats:?}"
        );
    } else if d.tunneled == 0 {
        assert!(
            excess <= undecoded,
            "tracked + no_flow exceeds ip - reassembled + fragments by more than the \
             reassembled datagrams that did not decode: {stats:?}"
        );
    } else {
        assert!(
            excess <= undecoded + layers,
            "tracked + no_flow too far above ip - reassembled + fragments: {stats:?}"
        );
    }
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

/// Checks the defragmenter's counters of a finished engine against the decoder's
/// (`engine/src/defrag/stats.rs`, `Engine::fragment`): `enabled` is `defrag.enabled`.
pub fn check_defrag(stats: &Stats, enabled: bool) {
    let f = &stats.defrag;
    let d = &stats.decode;
    let frags = d.ipv4_fragments + d.ipv6_fragments;
    if !enabled {
        assert_eq!(
            *f,
            flowengine::defrag::DefragStats::default(),
            "defrag counters moved with defrag off"
        );
        assert_eq!(d.reassembled, 0, "a datagram reassembled with defrag off");
        return;
    }
    // Each datagram completed is decoded once.
    assert_eq!(
        f.reassembled, d.reassembled,
        "defrag.reassembled != decode.reassembled"
    );
    // Every fragment offered ends in one datagram (reassembled or handed out
    // incomplete) or is rejected; every such datagram holds at least one.
    let ended = f.reassembled + f.timeouts + f.over_cap + f.flushed + f.abandoned;
    assert!(
        ended + f.rejected <= f.fragments,
        "more datagrams ended and fragments rejected than fragments offered: {f:?}"
    );
    // Each fragment joining a datagram is at most one overlap or one duplicate.
    assert!(
        f.overlaps + f.duplicates <= f.fragments - f.rejected,
        "more overlaps and duplicates than fragments held: {f:?}"
    );
    // Every fragment decoded is offered, except those found inside a reassembled
    // datagram (tracked on their own).
    assert!(
        f.fragments <= frags,
        "defrag.fragments > fragments decoded: {f:?} {d:?}"
    );
    if d.reassembled == 0 {
        assert_eq!(f.fragments, frags, "a decoded fragment was not offered");
    }
}
