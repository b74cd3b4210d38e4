//! `pcap-replay`: replays capture files through flowengine, writes one EVE `flow` event
//! per finished flow and prints a summary in the spirit of `snort -r`.
//!
//! Exit status:
//! - 0: every input was read (a capture cut short inside its last record, as when the
//!   capturing program was killed, is read up to the cut with a warning line);
//! - 1: an input could not be read (missing, empty, not a capture, corrupt, of a link
//!   type the decoder does not read) or the EVE output failed; one error line says
//!   which file, where and why, the other inputs are still read and the records of
//!   everything read are still written;
//! - 2: a usage or configuration error (nothing is read).

mod summary;

use anyhow::Context;
use clap::Parser;
use flowengine::config::SetOutcome;
use flowengine::{
    ConfigBuilder, Engine, EveOptions, EveWriter, FeedError, FlowRecord, PcapFile, Sink,
};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Replay pcap/pcapng files through the flow engine.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Capture files (pcap or pcapng), read in order as one timeline.
    #[arg(required = true, value_name = "PCAP")]
    pcaps: Vec<PathBuf>,
    /// Write EVE JSON lines (one "flow" event per finished flow) to FILE; '-' = stdout.
    #[arg(long, value_name = "FILE")]
    eve: Option<String>,
    /// TOML configuration (see engine/config/flowengine.toml for every key).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one configuration key (repeatable), e.g. --set stream.midstream=true.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Fixed hash seed, for reproducible output.
    #[arg(long)]
    deterministic: bool,
    /// No summary.
    #[arg(short, long)]
    quiet: bool,
}

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_BYTES: u64 = 64 << 20;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pcap-replay: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Where records go: an EVE file (or stdout), or nowhere (no `--eve`).
enum Output {
    Eve(EveWriter<Box<dyn Write>>),
    Count(u64),
}

impl Sink for Output {
    fn flow(&mut self, record: &FlowRecord) {
        match self {
            Output::Eve(w) => w.flow(record),
            Output::Count(n) => *n += 1,
        }
    }
}

fn open_eve(path: Option<&str>, opts: EveOptions) -> anyhow::Result<Output> {
    let out: Box<dyn Write> = match path {
        None => return Ok(Output::Count(0)),
        Some("-") => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(p).with_context(|| format!("cannot create EVE file {p}"))?,
        )),
    };
    Ok(Output::Eve(EveWriter::new(out, opts)))
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut builder = ConfigBuilder::new();
    if let Some(path) = &args.config {
        builder.merge_file(path)?;
    }
    let mut ignored = Vec::new();
    for s in &args.set {
        if builder.set(s)? == SetOutcome::Ignored {
            ignored.push(s.split('=').next().unwrap_or(s).trim().to_string());
        }
    }
    let mut config = builder.build()?;
    if args.deterministic {
        config.flow.hash_seed = flowengine::key::KeyHasher::DETERMINISTIC_SEED;
    }
    if !ignored.is_empty() && !args.quiet {
        eprintln!(
            "pcap-replay: note: ignoring unknown configuration keys: {}",
            ignored.join(", ")
        );
    }
    let opts = EveOptions {
        ipv6_compress: config.eve.ipv6_compress,
    };
    let out = open_eve(args.eve.as_deref(), opts)?;
    let mut engine = Engine::new(&config, out)?;

    let started = Instant::now();
    let total: u64 = args
        .pcaps
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = (io::stderr().is_terminal() && total >= PROGRESS_BYTES && !args.quiet).then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });

    let mut failed = false;
    let mut engine_time = std::time::Duration::ZERO;
    let mut feed = flowengine::feed::FeedStats::default();
    let mut done_bytes = 0u64;
    for path in &args.pcaps {
        let mut file = match PcapFile::open(path) {
            Ok(f) => f,
            Err(e @ FeedError::Truncated { .. }) => {
                eprintln!("pcap-replay: warning: {e}");
                continue;
            }
            Err(e) => {
                eprintln!("pcap-replay: error: {e}");
                failed = true;
                continue;
            }
        };
        let mut batches = 0u64;
        loop {
            // Time spent in the engine, apart from reading the file: one clock read per
            // batch of up to 32 packets.
            let step = file.read_batch(&mut |pkts| {
                let t = Instant::now();
                engine.push_batch(pkts);
                engine_time += t.elapsed();
            });
            match step {
                Ok(0) => break,
                Ok(_) => {}
                Err(e @ FeedError::Truncated { .. }) => {
                    // A capture cut short (the capturing program was killed): what was
                    // read counts, as libpcap-based tools do.
                    eprintln!("pcap-replay: warning: {e}");
                    break;
                }
                Err(e) => {
                    eprintln!("pcap-replay: error: {e}");
                    failed = true;
                    break;
                }
            }
            batches += 1;
            if batches % 1024 == 0 {
                if let Some(bar) = &bar {
                    bar.set_position(done_bytes + file.position());
                }
            }
        }
        done_bytes += file.size();
        let s = file.stats();
        feed.packets += s.packets;
        feed.bytes += s.bytes;
        feed.caplen_over_snaplen += s.caplen_over_snaplen;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let t = Instant::now();
    let (stats, out) = engine.finish();
    engine_time += t.elapsed();
    let written = match out {
        Output::Eve(eve) => {
            let written = eve.written();
            if let Err(e) = eve.finish() {
                eprintln!("pcap-replay: error: writing EVE output: {e}");
                failed = true;
            }
            written
        }
        Output::Count(_) => 0,
    };
    let elapsed = started.elapsed();
    if !args.quiet {
        let text = summary::render(&summary::Summary {
            files: args.pcaps.len(),
            feed,
            stats: &stats,
            records_written: written,
            elapsed,
            engine_time,
            ignored: &ignored,
        });
        if args.eve.as_deref() == Some("-") {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
