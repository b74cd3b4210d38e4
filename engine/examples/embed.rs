//! Embedding flowengine: replay a capture file and print one line per finished flow.
//!
//! `cargo run --release -p flowengine --example embed -- fixtures/sample.pcap`

use flowengine::{Config, Engine, FlowRecord, PcapFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: embed CAPTURE")?;
    let config = Config::from_toml("[stream]\nmax_flows = 100000\n")?;
    let sink = |r: &FlowRecord| {
        println!(
            "{} {} -> {} {:?} pkts {}/{} bytes {}/{} {} {}",
            r.start,
            r.src_ip,
            r.dest_ip,
            r.ports,
            r.pkts_toserver,
            r.pkts_toclient,
            r.bytes_toserver,
            r.bytes_toclient,
            r.state.name(),
            r.reason.name()
        )
    };
    let mut engine = Engine::new(&config, sink)?;
    let mut file = PcapFile::open(path.as_ref())?;
    while let Some(packet) = file.next_packet()? {
        engine.push(&packet);
    }
    let (stats, _) = engine.finish();
    eprintln!(
        "{} packets, {} flows",
        stats.decode.packets, stats.cache.flows
    );
    Ok(())
}
