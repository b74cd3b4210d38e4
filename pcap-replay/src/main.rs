//! `pcap-replay`: replays capture files through flowengine, or captures live on an
//! interface (libpcap), writes one EVE `flow` event per finished flow and prints a
//! summary in the spirit of `snort -r`.
//!
//! Exit status:
//! - 0: every input was read (a capture cut short inside its last record, as when the
//!   capturing program was killed, is read up to the cut with a warning line), or the
//!   run was stopped by SIGINT/SIGTERM (every open flow still gets its record);
//! - 1: an input could not be read (missing, empty, not a capture, corrupt, of a link
//!   type the decoder does not read; an interface that cannot be opened or read) or the
//!   EVE output failed; one error line says which input, where and why, the other
//!   inputs are still read and the records of everything read are still written;
//! - 2: a usage or configuration error, a bad `--bpf` expression included, or a plugin
//!   refused under `--strict-plugins` (nothing is read).
//!
//! Plugins (`--plugin-path`, `[plugins] path`): each library refused (missing, not a
//! plugin, built against another SDK ABI) gets one error line and the run goes on
//! with the others, unless `--strict-plugins`. The summary lists the plugins loaded
//! and their `plugin_panics`.

mod alloc;
mod filter;
mod live;
mod output;
mod reload;
mod stop;
mod summary;

use anyhow::Context;

/// mimalloc: inspector events allocate their text fields per transaction, and
/// glibc's malloc/free were a tenth of the full pipeline's instructions. Built without
/// transparent huge pages (feature `no_thp`): with them, 2 MiB pages made 25 MiB
/// resident at start-up and more per flow. Called through [`alloc::Alloc`], which skips
/// the aligned entry points when the alignment asked for is one every block has.
#[global_allocator]
static ALLOC: alloc::Alloc = alloc::Alloc;
use clap::{ArgGroup, Parser};
use filter::FileFilter;
use flowengine::config::SetOutcome;
use flowengine::feed::{FeedStats, BATCH};
use flowengine::workers::Placement;
use flowengine::{ConfigBuilder, EveOptions, FeedError, PcapFile, Sink, Workers};
use flowengine_plugin_host::Plugins;
use live::{Live, LiveOptions, OpenError};
use output::{Eve, Output};
use reload::Reload;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use stop::Stop;

/// Replay pcap/pcapng files, or capture live on an interface, through the flow engine.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
#[command(group(ArgGroup::new("input").required(true).args(["pcaps", "interface"])))]
struct Args {
    /// Capture files (pcap or pcapng), read in order as one timeline.
    #[arg(value_name = "PCAP")]
    pcaps: Vec<PathBuf>,
    /// Capture live on interface IF (libpcap) until SIGINT or SIGTERM.
    #[arg(short = 'i', long, value_name = "IF")]
    interface: Option<String>,
    /// Only packets matching this BPF expression (tcpdump syntax) reach the engine.
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Live capture: bytes kept of each packet.
    #[arg(long, value_name = "N", default_value_t = 262_144, conflicts_with = "pcaps",
          value_parser = clap::value_parser!(u32).range(1..=262_144))]
    snaplen: u32,
    /// Live capture: leave the interface out of promiscuous mode.
    #[arg(long, conflicts_with = "pcaps")]
    no_promisc: bool,
    /// Write EVE JSON lines (one "flow" event per finished flow) to FILE; '-' = stdout.
    #[arg(long, value_name = "FILE")]
    eve: Option<String>,
    /// Suricata YAML configuration (suricata.yaml): the keys with an equivalent here
    /// are read, the others are listed once on stderr. An empty FILE means none.
    /// Applied first, then --config, then each --set, then --deterministic.
    #[arg(long, value_name = "FILE")]
    suricata_config: Option<std::ffi::OsString>,
    /// TOML configuration (see engine/config/flowengine.toml for every key).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one configuration key (repeatable), e.g. --set stream.midstream=true.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Fixed hash seed and sorted EVE output (by timestamp, then flow_id), for
    /// output that is the same on every run and with any number of --threads.
    #[arg(long)]
    deterministic: bool,
    /// Worker threads, each with its own flow cache; packets are shared out by their
    /// IP address pair. 0 = one per core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// No summary (and no capture line).
    #[arg(short, long)]
    quiet: bool,
    /// Load plugin inspectors: shared libraries, or directories whose *.so files are
    /// loaded in name order; ':'-separated, repeatable, after `[plugins] path`.
    #[arg(
        long = "plugin-path",
        value_name = "DIR_OR_FILE[:...]",
        value_delimiter = ':'
    )]
    plugin_path: Vec<PathBuf>,
    /// Any plugin refused is fatal (exit 2), instead of an error line.
    #[arg(long)]
    strict_plugins: bool,
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

/// Starts the EVE writer thread for `--eve FILE` (`-`: stdout); `None` without `--eve`.
fn open_eve(path: Option<&str>, opts: EveOptions, sorted: bool) -> anyhow::Result<Option<Eve>> {
    let out: Box<dyn Write + Send> = match path {
        None => return Ok(None),
        Some("-") => Box::new(io::stdout()),
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot create EVE file {p}"))?)
        }
    };
    Ok(Some(
        Eve::start(out, opts, sorted).context("cannot start the EVE writer thread")?,
    ))
}

/// The input, opened before any output is created so that a usage error writes nothing.
enum Input {
    Files(Option<FileFilter>),
    Live(Live),
}

/// What reading the input came to.
struct Read {
    feed: FeedStats,
    engine_time: Duration,
    filtered_out: Option<u64>,
    capture: Option<summary::CaptureStats>,
    failed: bool,
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let stop = Stop::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    let (config, ignored, suricata_ignored) = load_config(args)?;
    let plugins = load_plugins(args, &config)?;
    let mut reload = Reload::install(Box::new(|| Ok(load_config(args)?.0)), plugins.clone())
        .context("cannot install the SIGHUP handler")?;
    let input = match &args.interface {
        Some(interface) => {
            let opts = LiveOptions {
                interface,
                bpf: args.bpf.as_deref(),
                snaplen: args.snaplen,
                promisc: !args.no_promisc,
            };
            match Live::open(&opts) {
                Ok(live) => Input::Live(live),
                Err(OpenError::Filter(e)) => return Err(e.into()),
                Err(OpenError::Device(msg)) => {
                    eprintln!("pcap-replay: error: {msg}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        None => Input::Files(args.bpf.as_deref().map(FileFilter::new).transpose()?),
    };
    if !suricata_ignored.is_empty() && !args.quiet {
        eprintln!(
            "pcap-replay: note: {}: ignoring Suricata keys with no equivalent: {}",
            args.suricata_config
                .as_deref()
                .map(|p| Path::new(p).display().to_string())
                .unwrap_or_default(),
            suricata_ignored.join(", ")
        );
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
    let eve = open_eve(args.eve.as_deref(), opts, args.deterministic)?;
    let inspectors = plugins.inspector_set(&config)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match args.threads {
        0 => cores,
        n => n,
    };
    let inspecting = config.flow.tracking && config.app_layer.enabled;
    let placement = placement(matches!(input, Input::Files(_)), inspecting, threads, cores);
    let mut engine = Workers::with_placement(&config, inspectors, threads, placement, |_| {
        eve.as_ref().map_or(Output::Count(0), Eve::sink)
    })?;
    if engine.threads() < threads && args.threads > 1 && !args.quiet {
        eprintln!(
            "pcap-replay: note: one worker thread: with \
             decoder.recursion-level.use-for-tracking=false a flow can be both inside and \
             outside a tunnel"
        );
    }

    let started = Instant::now();
    let mut read = match input {
        Input::Files(filter) => replay_files(args, &mut engine, filter, &stop, &mut reload),
        Input::Live(live) => {
            if !args.quiet {
                eprintln!("pcap-replay: {}", live.describe());
            }
            let outcome = live.run(&mut engine, &stop, &mut reload);
            if let Some(e) = &outcome.error {
                eprintln!("pcap-replay: error: {e}");
            }
            Read {
                feed: outcome.feed,
                engine_time: outcome.engine_time,
                filtered_out: None,
                capture: outcome.capture,
                failed: outcome.error.is_some(),
            }
        }
    };
    let per_worker = engine.frames_per_worker();
    let t = Instant::now();
    let (stats, outs) = engine.finish();
    read.engine_time += t.elapsed();
    let (mut written, mut events_written) = (0, 0);
    for out in outs {
        if let Output::Eve(w) = out {
            written += w.written();
            events_written += w.events_written();
            if let Err(e) = w.finish() {
                eprintln!("pcap-replay: error: writing EVE output: {e}");
                read.failed = true;
            }
        }
    }
    if let Some(eve) = eve {
        if let Err(e) = eve.finish() {
            eprintln!("pcap-replay: error: writing EVE output: {e}");
            read.failed = true;
        }
    }
    let elapsed = started.elapsed();
    if !args.quiet {
        let source = match &args.interface {
            Some(name) => summary::Source::Interface(name),
            None => summary::Source::Files(args.pcaps.len()),
        };
        let text = summary::render(&summary::Summary {
            source,
            feed: read.feed,
            filtered_out: read.filtered_out,
            stopped_by: stop.signal_name(),
            capture: read.capture,
            stats: &stats,
            records_written: written,
            events_written,
            elapsed,
            engine_time: read.engine_time,
            per_worker: &per_worker,
            ignored: &ignored,
            reloads: (reload.applied, reload.failed),
            plugins: &plugins,
            peak_rss: summary::peak_rss_bytes(),
        });
        if args.eve.as_deref() == Some("-") {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    Ok(if read.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where the workers run: replaying files with inspection on and a worker per core
/// (or more), the reading thread runs worker 0 itself, so that `threads` workers use
/// `threads` threads and the reader does not take turns with them on the cores.
/// Without inspection a packet costs the engine about three times less, reading it
/// weighs as much as a worker's share, and the threads pack better on their own. A
/// live capture keeps its reading thread free to take packets from the interface.
fn placement(files: bool, inspecting: bool, threads: usize, cores: usize) -> Placement {
    if files && inspecting && threads >= cores {
        Placement::Caller
    } else {
        Placement::Threads
    }
}

/// The configuration as the command line gives it: `--config`, then each `--set` in
/// order, then `--deterministic`; also the `--set` keys the engine does not know.
/// The configuration, from (in this order) `--suricata-config`, `--config`, each
/// `--set` and `--deterministic`; with the `--set` keys that were ignored and the
/// Suricata keys that have no equivalent.
fn load_config(args: &Args) -> anyhow::Result<(flowengine::Config, Vec<String>, Vec<String>)> {
    let mut builder = ConfigBuilder::new();
    let mut suricata_ignored = Vec::new();
    if let Some(path) = args.suricata_config.as_ref().filter(|p| !p.is_empty()) {
        suricata_ignored = builder.merge_suricata_file(Path::new(path))?.ignored;
    }
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
    Ok((config, ignored, suricata_ignored))
}

/// Loads the plugins of `[plugins] path` and `--plugin-path`: one line per refusal
/// and per warning; under `--strict-plugins` (or `[plugins] strict`) a refusal is an
/// error (exit 2).
fn load_plugins(args: &Args, config: &flowengine::Config) -> anyhow::Result<Plugins> {
    let paths: Vec<PathBuf> = config
        .plugins
        .path
        .iter()
        .map(PathBuf::from)
        .chain(
            args.plugin_path
                .iter()
                .filter(|p| !p.as_os_str().is_empty())
                .cloned(),
        )
        .collect();
    if paths.is_empty() {
        return Ok(Plugins::new());
    }
    let report = Plugins::load(&paths);
    for w in &report.warnings {
        eprintln!("pcap-replay: warning: {w}");
    }
    let strict = args.strict_plugins || config.plugins.strict;
    for e in &report.errors {
        eprintln!("pcap-replay: error: {e}");
    }
    if strict && !report.errors.is_empty() {
        anyhow::bail!(
            "--strict-plugins: {} plugin librar{} refused",
            report.errors.len(),
            if report.errors.len() == 1 { "y" } else { "ies" }
        );
    }
    Ok(report.plugins)
}

/// Reads the capture files in order into the engine, through the `--bpf` filter when
/// there is one, until they end or a stop is requested (checked between batches).
fn replay_files<S: Sink>(
    args: &Args,
    engine: &mut Workers<S>,
    mut filter: Option<FileFilter>,
    stop: &Stop,
    reload: &mut Reload<'_>,
) -> Read {
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
    let mut engine_time = Duration::ZERO;
    let mut feed = FeedStats::default();
    let mut done_bytes = 0u64;
    for path in &args.pcaps {
        if stop.requested() {
            break;
        }
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
        // A mapped file's packets go to worker threads as places in the map.
        let shared = file.shared_bytes();
        let mut batches = 0u64;
        loop {
            let mut bpf_error = None;
            // Time spent in the engine, apart from reading the file (and filtering):
            // one clock read per batch of up to 32 packets.
            let step = file.read_batch(&mut |pkts| {
                let mut keep;
                let pkts = match (&mut filter, pkts.first()) {
                    (Some(f), Some(&first)) => {
                        keep = [first; BATCH];
                        match f.select(pkts, &mut keep) {
                            Ok(n) => &keep[..n],
                            Err(e) => {
                                bpf_error = Some(e);
                                return;
                            }
                        }
                    }
                    _ => pkts,
                };
                let t = Instant::now();
                match &shared {
                    Some(bytes) => engine.push_batch_shared(pkts, bytes),
                    None => engine.push_batch(pkts),
                }
                engine_time += t.elapsed();
            });
            if let Some(e) = bpf_error {
                eprintln!("pcap-replay: error: {}: {e}", path.display());
                failed = true;
                break;
            }
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
            if stop.requested() {
                break;
            }
            reload.poll(engine);
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
    Read {
        feed,
        engine_time,
        filtered_out: filter.map(|f| f.filtered_out),
        capture: None,
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowengine::{Engine, FlowRecord};
    use flowengine_tests::{frame, pcap};
    use signal_hook::consts::signal::SIGTERM;

    /// 4 000 one-packet UDP flows, one millisecond apart: 125 batches.
    fn many_flows(path: &std::path::Path) {
        let packets: Vec<(u64, Vec<u8>)> = (0..4_000u64)
            .map(|i| {
                let src = (frame::v4(10, 0, (i >> 8) as u8, i as u8), 40_000);
                let dst = (frame::v4(10, 1, 0, 1), 53);
                (
                    1_700_000_000_000_000_000 + i * 1_000_000,
                    frame::udp(src, dst, b"q"),
                )
            })
            .collect();
        pcap::write_file(path, pcap::DLT_EN10MB, &packets).unwrap();
    }

    #[test]
    fn the_reading_thread_runs_a_worker_when_files_have_a_worker_per_core() {
        assert_eq!(placement(true, true, 2, 2), Placement::Caller);
        assert_eq!(placement(true, true, 3, 2), Placement::Caller);
        assert_eq!(placement(true, true, 2, 4), Placement::Threads);
        assert_eq!(
            placement(true, false, 2, 2),
            Placement::Threads,
            "no inspection"
        );
        assert_eq!(
            placement(false, true, 2, 2),
            Placement::Threads,
            "live capture"
        );
    }

    #[test]
    fn a_stop_request_ends_file_replay_between_batches_and_every_flow_gets_a_record() {
        let path =
            std::env::temp_dir().join(format!("pcap-replay-stop-{}.pcap", std::process::id()));
        many_flows(&path);
        let args = Args::parse_from(["pcap-replay", path.to_str().unwrap()]);
        let stop = Stop::default();
        let mut builder = ConfigBuilder::new();
        builder.set("stream.max_flows=100").unwrap();
        let config = builder.build().unwrap();
        // The first record (a flow pruned when the cache fills up) requests a stop, as
        // a signal arriving in the middle of the file would.
        let requester = stop.clone();
        let mut reasons = Vec::new();
        let mut engine = Workers::from_engine(
            Engine::new(&config, |r: &FlowRecord| {
                requester.request(SIGTERM);
                reasons.push(r.reason.name());
            })
            .unwrap(),
        );
        let mut reload = Reload::new(
            Box::new(|| unreachable!("no reload requested")),
            Plugins::new(),
        );
        let read = replay_files(&args, &mut engine, None, &stop, &mut reload);
        let _ = std::fs::remove_file(&path);
        assert!(!read.failed);
        assert_eq!(stop.signal_name(), Some("SIGTERM"));
        // Reading ended with the batch that filled the cache (batches of 32).
        assert!(
            read.feed.packets > 100 && read.feed.packets <= 128,
            "{}",
            read.feed.packets
        );
        let (stats, _) = engine.finish();
        // Every flow of every packet read has exactly one record.
        assert_eq!(stats.decode.packets, read.feed.packets);
        assert_eq!(stats.records, stats.cache.flows);
        assert_eq!(reasons.len() as u64, read.feed.packets);
        let shutdown = reasons.iter().filter(|r| **r == "shutdown").count();
        assert_eq!(shutdown, 100);
    }

    #[test]
    fn a_reload_rebuilds_plugin_inspectors_from_their_new_tables() {
        use flowengine_tests::plugins;
        let path = std::env::temp_dir().join(format!(
            "pcap-replay-reload-plugins-{}.pcap",
            std::process::id()
        ));
        plugins::capture(&path).unwrap();
        let args = Args::parse_from(["pcap-replay", path.to_str().unwrap()]);
        let report = Plugins::load(&[plugins::library("allow_cidr_plugin")]);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let base = "[allowlist_cache]\nenable = true\n";
        let replay = |reload_to: Option<String>| {
            let config = flowengine::Config::from_toml(base).unwrap();
            let set = report.plugins.inspector_set(&config).unwrap();
            let mut engine = Workers::from_engine(
                Engine::with_inspectors(&config, |_: &FlowRecord| {}, set).unwrap(),
            );
            let text = reload_to.clone().unwrap_or_default();
            let mut reload = Reload::new(
                Box::new(move || Ok(flowengine::Config::from_toml(&text)?)),
                report.plugins.clone(),
            );
            if reload_to.is_some() {
                reload.request();
                reload.poll(&mut engine);
                assert_eq!((reload.applied, reload.failed), (1, 0));
            }
            let read = replay_files(&args, &mut engine, None, &Stop::default(), &mut reload);
            assert!(!read.failed);
            engine.finish().0.cache.moved_to_allowlist
        };
        // Without its table the plugin allowlists nothing; a reload that gives it one
        // rebuilds its inspector, and new flows from the network are allowlisted.
        assert_eq!(replay(None), 0);
        let table = format!(
            "{base}[plugins.allow-cidr]\ncidrs = [\"{}\"]\n",
            plugins::ALLOWED_CIDR
        );
        assert_eq!(replay(Some(table)), 2);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_reload_request_is_applied_once_between_batches_and_a_failed_one_changes_nothing() {
        let path =
            std::env::temp_dir().join(format!("pcap-replay-reload-{}.pcap", std::process::id()));
        many_flows(&path);
        let args = Args::parse_from(["pcap-replay", path.to_str().unwrap()]);
        let calls = std::cell::Cell::new(0);
        let mut reload = Reload::new(
            Box::new(|| {
                calls.set(calls.get() + 1);
                let mut b = ConfigBuilder::new();
                b.set("flow-timeouts.udp.new=5")?;
                Ok(b.build()?)
            }),
            Plugins::new(),
        );
        // Two requests before the loop looks are one reload.
        reload.request();
        reload.request();
        let config = ConfigBuilder::new().build().unwrap();
        let mut engine = Workers::from_engine(Engine::new(&config, |_: &FlowRecord| {}).unwrap());
        let read = replay_files(&args, &mut engine, None, &Stop::default(), &mut reload);
        assert!(!read.failed);
        assert_eq!((calls.get(), reload.applied, reload.failed), (1, 1, 0));
        assert_eq!(engine.config().flow_timeouts.udp.new, 5);
        assert_eq!(engine.stats().unwrap().reloads, 1);

        let mut broken = Reload::new(Box::new(|| anyhow::bail!("no such file")), Plugins::new());
        broken.request();
        let read = replay_files(&args, &mut engine, None, &Stop::default(), &mut broken);
        let _ = std::fs::remove_file(&path);
        assert!(!read.failed);
        assert_eq!((broken.applied, broken.failed), (0, 1));
        assert_eq!(engine.config().flow_timeouts.udp.new, 5, "unchanged");
        assert_eq!(engine.stats().unwrap().reloads, 1);
    }
}
