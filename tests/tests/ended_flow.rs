//! The EVE writer writes a flow that ends straight from the flow (`Sink::flow_ended`)
//! exactly as it writes the flow's record (`Sink::flow`), on the bundled fixture and on
//! every capture of both verify suites, with full and compressed IPv6 and with flows
//! moved to the allowlist (written as bypassed).

use flowengine::record::Collect;
use flowengine::{
    ConfigBuilder, EndedFlow, Engine, EveOptions, EveWriter, FeedError, FlowRecord, PcapFile, Sink,
};
use flowengine_tests::shared;
use std::path::Path;

/// Writes every flow both ways, and keeps the records.
struct Both {
    direct: EveWriter<Vec<u8>>,
    via_record: EveWriter<Vec<u8>>,
    records: Collect,
}

impl Both {
    fn new(opts: EveOptions) -> Self {
        Both {
            direct: EveWriter::new(Vec::new(), opts),
            via_record: EveWriter::new(Vec::new(), opts),
            records: Collect::default(),
        }
    }
}

impl Sink for Both {
    fn flow(&mut self, r: &FlowRecord) {
        self.direct.flow(r);
        self.via_record.flow(r);
        self.records.flow(r);
    }

    fn flow_ended(&mut self, e: &EndedFlow<'_>) {
        self.direct.flow_ended(e);
        let r = e.record();
        self.via_record.flow(&r);
        // The default forwards the same record.
        self.records.flow_ended(e);
        assert_eq!(self.records.0.last(), Some(&r));
        assert_eq!(r.flow_id, e.flow().flow_id());
    }
}

/// Replays `path`; returns how many flows were written as bypassed.
fn replay(path: &Path, opts: EveOptions, sets: &[&str]) -> usize {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=3").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    let cfg = b.build().unwrap();
    let mut engine = Engine::new(&cfg, Both::new(opts)).unwrap();
    let mut file = PcapFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    loop {
        match file.read_batch(&mut |pkts| engine.push_batch(pkts)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(FeedError::Truncated { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let (stats, both) = engine.finish();
    let name = path.display();
    assert_eq!(both.records.0.len() as u64, stats.records, "{name}");
    assert_eq!(both.direct.written(), stats.records, "{name}");
    let direct = both.direct.finish().unwrap();
    let via_record = both.via_record.finish().unwrap();
    assert!(
        direct == via_record,
        "{name}: the lines written from the flow differ from the records' lines"
    );
    let bypassed: &[u8] = br#""state":"bypassed""#;
    direct
        .windows(bypassed.len())
        .filter(|w| *w == bypassed)
        .count()
}

#[test]
fn flows_are_written_from_the_flow_as_from_their_record() {
    let mut captures = shared::verify_captures();
    captures.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sample.pcap"));
    for path in &captures {
        replay(path, EveOptions::default(), &[]);
    }
    let mut bypassed = 0;
    // Compressed IPv6, mid-stream pickup, and pass verdicts for mid-stream sessions
    // refused (flows on the allowlist: `bypassed`).
    let compress = EveOptions {
        ipv6_compress: true,
    };
    for path in captures.iter().step_by(3) {
        replay(path, compress, &["stream.midstream=true"]);
        bypassed += replay(
            path,
            EveOptions::default(),
            &[
                "stream.midstream-policy=bypass",
                "allowlist_cache.enable=true",
            ],
        );
    }
    assert!(bypassed > 0, "some flows are written as bypassed");
}
