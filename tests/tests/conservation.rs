//! Every flow that was seen produces exactly one record, and the records' packets add
//! up to the IP packets tracked: on the bundled fixture and on every capture of both
//! verify suites, with the default cache and with one so small it prunes constantly.

use flowengine::record::Collect;
use flowengine::{ConfigBuilder, Engine, FeedError, FlowRecord, PcapFile, Stats};
use flowengine_tests::{fixtures, pcap, shared};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn replay(path: &Path, sets: &[&str], batched: bool) -> (Stats, Vec<FlowRecord>) {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=7").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    let cfg = b.build().unwrap();
    let mut engine = Engine::new(&cfg, Collect::default()).unwrap();
    let mut file = PcapFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    loop {
        let step = if batched {
            file.read_batch(&mut |pkts| engine.push_batch(pkts))
        } else {
            file.next_packet().map(|p| match p {
                Some(p) => {
                    engine.push(&p);
                    1
                }
                None => 0,
            })
        };
        match step {
            Ok(0) => break,
            Ok(_) => {}
            // Cut-short captures are read up to the cut, as every libpcap tool does.
            Err(FeedError::Truncated { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let (stats, Collect(records)) = engine.finish();
    (stats, records)
}

fn check(path: &Path, stats: &Stats, records: &[FlowRecord]) {
    let name = path.display();
    assert_eq!(
        records.len() as u64,
        stats.cache.flows,
        "{name}: one record per flow"
    );
    assert_eq!(stats.records, stats.cache.flows, "{name}");
    let ids: HashSet<u64> = records.iter().map(|r| r.flow_id).collect();
    assert_eq!(ids.len(), records.len(), "{name}: flow ids are unique");
    let pkts: u64 = records.iter().map(|r| r.packets()).sum();
    assert_eq!(pkts, stats.packets_tracked, "{name}: packets conserved");
    // Every decoded IP packet and every fragment is tracked, counted as refused,
    // counted as orphaned (a datagram given up without its first fragment) or is a
    // GRE packet that was a tunnel only; a reassembled datagram stands for its
    // fragments.
    let d = &stats.decode;
    assert_eq!(
        stats.packets_tracked
            + stats.packets_no_flow
            + stats.fragments_orphaned
            + stats.packets_tunnel_only,
        d.ip_packets() - d.reassembled + d.ipv4_fragments + d.ipv6_fragments,
        "{name}: every decoded IP packet is tracked or counted as refused"
    );
    assert_eq!(stats.cache.current_flows, 0, "{name}: all flushed");
    let d = &stats.decode;
    let layers =
        d.ip_packets() + d.ipv4_fragments + d.ipv6_fragments + d.not_ip() + d.error_total();
    assert_eq!(
        layers,
        d.packets + d.tunneled + d.reassembled,
        "{name}: decode counters add up"
    );
    for r in records {
        assert!(r.start <= r.end, "{name}: start after end");
        assert!(r.packets() > 0, "{name}: empty record");
    }
}

fn captures() -> Vec<PathBuf> {
    let list = shared::verify_captures();
    assert!(
        list.len() > 300,
        "the verify captures were not found under {} (set FLOWENGINE_SHARED)",
        shared::shared_dir().display()
    );
    list
}

#[test]
fn fixture_sample_is_generated_and_conserved() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let committed = std::fs::read(root.join("fixtures/sample.pcap")).unwrap();
    let generated = pcap::to_bytes(pcap::DLT_EN10MB, &fixtures::sample());
    assert_eq!(
        committed, generated,
        "fixtures/sample.pcap is stale: run gen-fixtures"
    );
    let (stats, records) = replay(&root.join("fixtures/sample.pcap"), &[], false);
    check(Path::new("sample.pcap"), &stats, &records);
    assert_eq!(records.len(), 11);
    assert_eq!(stats.decode.arp, 1);
}

#[test]
fn every_verify_capture_conserves_packets_and_flows() {
    for path in captures() {
        let (stats, records) = replay(&path, &[], true);
        check(&path, &stats, &records);
    }
}

#[test]
fn conservation_holds_while_pruning_constantly() {
    for path in captures() {
        let (stats, records) = replay(&path, &["stream.max_flows=4"], false);
        check(&path, &stats, &records);
        assert!(stats.cache.peak_flows <= 4);
    }
}

#[test]
fn batched_and_single_reads_give_the_same_records() {
    for path in captures() {
        let (a, ra) = replay(&path, &[], false);
        let (b, rb) = replay(&path, &[], true);
        assert_eq!(a, b, "{}", path.display());
        assert_eq!(ra, rb, "{}", path.display());
    }
}

#[test]
fn output_is_deterministic_under_a_fixed_seed() {
    for path in captures().into_iter().step_by(7) {
        let (_, a) = replay(&path, &[], false);
        let (_, b) = replay(&path, &[], false);
        assert_eq!(a, b, "{}", path.display());
    }
}
