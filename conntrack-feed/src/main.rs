//! `flowengine-conntrack`: the Linux conntrack table's events as flow records.
//!
//! Subscribes to ctnetlink's NEW, UPDATE and DESTROY events (in the network namespace it
//! runs in), turns them into flows with flowengine's conntrack rules, and writes one EVE
//! `flow` record per connection when the kernel destroys it, with a `conntrack` object
//! (state, mark, zone, id, status). With `--poll-interval`, a second socket dumps the
//! table that often, on a thread of its own (events keep being read meanwhile):
//! mid-flow counters, counter resets (id reuse) and entries whose DESTROY was lost. On SIGINT or SIGTERM (or after `--duration`), every open flow gets
//! its record (reason `shutdown`) and a summary goes to stderr, in pcap-replay's style;
//! events the kernel could not queue (`ENOBUFS`) are counted and reported there, never
//! hidden. A second signal ends the process at once.
//!
//! Linux only; needs CAP_NET_ADMIN to subscribe (root). The kernel must have
//! `net.netfilter.nf_conntrack_events=1`, and `nf_conntrack_acct=1` /
//! `nf_conntrack_timestamp=1` for counters and times.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(version, about = "Conntrack events -> EVE flow records")]
struct Args {
    /// EVE JSON output file (`-` for stdout).
    #[arg(long)]
    eve: PathBuf,
    /// Dump the table every this many seconds (0: never). Decimals allowed.
    #[arg(long, default_value_t = 0.0)]
    poll_interval: f64,
    /// Zero the counters as they are dumped (get-and-zero); counts add up.
    #[arg(long)]
    poll_zero: bool,
    /// Receive buffer of the event socket, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    rcvbuf: usize,
    /// Stop after this many seconds (decimals allowed); default: until SIGINT/SIGTERM.
    #[arg(long)]
    duration: Option<f64>,
    /// Write IPv6 addresses in compressed form.
    #[arg(long)]
    ipv6_compress: bool,
    /// No summary.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowengine-conntrack: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn run(_: &Args) -> Result<()> {
    anyhow::bail!("the conntrack feed needs Linux")
}

#[cfg(target_os = "linux")]
fn run(args: &Args) -> Result<()> {
    linux::run(args)
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use flowengine::feed::conntrack::socket::{for_each_event, SocketStats};
    use flowengine::feed::conntrack::{CounterMode, Entry, EventSocket, QuerySocket, Recv};
    use flowengine::{ConntrackStats, ConntrackTracker, EveOptions, EveWriter, Timestamp};
    use std::fmt::Write as _;
    use std::io::{BufWriter, Write};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
    use std::sync::Arc;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// CPU seconds (user + system) this process used so far.
    fn cpu_secs() -> f64 {
        // SAFETY: getrusage fills the zeroed rusage we own; RUSAGE_SELF is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
            return 0.0;
        }
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
        t(ru.ru_utime) + t(ru.ru_stime)
    }

    /// Wall-clock time: the binary is where the clock is read (the engine never does).
    fn now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
    }

    fn secs(s: f64, what: &str) -> Result<Duration> {
        Duration::try_from_secs_f64(s).with_context(|| format!("bad {what}: {s}"))
    }

    pub fn run(args: &Args) -> Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))?;
            signal_hook::flag::register(sig, Arc::clone(&stop))?;
            signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
        }
        let out: Box<dyn Write> = if args.eve.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(
                std::fs::File::create(&args.eve)
                    .with_context(|| format!("{}: cannot create", args.eve.display()))?,
            )
        };
        let eve = EveWriter::new(
            BufWriter::new(out),
            EveOptions {
                ipv6_compress: args.ipv6_compress,
            },
        );
        let mut events = EventSocket::open(args.rcvbuf).context("conntrack event socket")?;
        let poll_every = secs(args.poll_interval, "--poll-interval")?;
        // Dumps run on a thread of their own, so that reading events goes on while the
        // kernel lists a large table; the answers come over a bounded channel and are
        // applied between events.
        let polls_rx = if poll_every.is_zero() {
            None
        } else {
            let q = QuerySocket::open().context("conntrack request socket")?;
            Some(spawn_poller(
                q,
                poll_every,
                args.poll_zero,
                Arc::clone(&stop),
            )?)
        };
        let deadline = args
            .duration
            .map(|d| secs(d, "--duration"))
            .transpose()?
            .map(|d| Instant::now() + d);
        if !args.quiet {
            eprintln!(
                "flowengine-conntrack: listening (receive buffer {} bytes{})",
                events.rcvbuf(),
                if poll_every.is_zero() {
                    String::new()
                } else {
                    format!(", dump every {poll_every:?}")
                }
            );
        }
        let mode = if args.poll_zero {
            CounterMode::Delta
        } else {
            CounterMode::Absolute
        };
        let started = Instant::now();
        let mut tracker = ConntrackTracker::new(eve);
        let mut bad = 0u64;
        let mut polls = 0u64;
        let mut interrupted = 0u64;
        let mut poll_time = Duration::ZERO;
        let mut dump_at: Option<Timestamp> = None;
        while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
            // Dump answers waiting: apply a batch of them, then read events without
            // waiting.
            let mut more = false;
            if let Some(rx) = &polls_rx {
                for _ in 0..4096 {
                    match rx.try_recv() {
                        Ok(Poll::Begin(t)) => {
                            tracker.dump_begin(t);
                            dump_at = Some(t);
                        }
                        Ok(Poll::Entry(e)) => {
                            let t = dump_at.unwrap_or_else(now);
                            tracker.dump_entry(&e, t, mode);
                        }
                        Ok(Poll::End {
                            interrupted: intr,
                            took,
                        }) => {
                            if intr {
                                interrupted += 1;
                            } else if dump_at.take().is_some() {
                                tracker.dump_end(now());
                            }
                            polls += 1;
                            poll_time += took;
                        }
                        Ok(Poll::Failed(e)) => anyhow::bail!("conntrack dump: {e}"),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            anyhow::bail!("the conntrack dump thread stopped")
                        }
                    }
                    more = true;
                }
            }
            let wait = if more {
                Duration::ZERO
            } else {
                Duration::from_millis(100)
            };
            match events.recv(Some(wait))? {
                Recv::Data(d) => {
                    let t = now();
                    bad += for_each_event(d, |k, e| tracker.event(k, e, t));
                }
                Recv::Overrun => {
                    eprintln!(
                        "flowengine-conntrack: warning: the kernel dropped events (ENOBUFS): \
                         raise --rcvbuf{}",
                        if polls_rx.is_some() {
                            "; the dumps end flows whose DESTROY was lost"
                        } else {
                            "; add --poll-interval to end flows whose DESTROY was lost"
                        }
                    );
                }
                Recv::Timeout => {}
            }
        }
        let sock = events.stats();
        let (stats, eve) = tracker.finish(now());
        let written = eve.written();
        eve.finish().context("writing EVE output")?;
        if !args.quiet {
            let stopped_by = match signal.load(Ordering::Relaxed) as i32 {
                signal_hook::consts::SIGINT => Some("SIGINT"),
                signal_hook::consts::SIGTERM => Some("SIGTERM"),
                _ => None,
            };
            eprint!(
                "{}",
                summary(
                    &stats,
                    &sock,
                    Extra {
                        bad,
                        polls,
                        interrupted,
                        poll_time,
                        written,
                        elapsed: started.elapsed(),
                        cpu: cpu_secs(),
                        stopped_by
                    }
                )
            );
        }
        Ok(())
    }

    /// What the dump thread sends. (Entries are most messages: boxing them would
    /// allocate per entry.)
    #[allow(clippy::large_enum_variant)]
    enum Poll {
        /// A dump starts, read at this time.
        Begin(Timestamp),
        /// One entry of it.
        Entry(Entry),
        /// It ended; `interrupted` when the kernel flagged it (it may miss entries).
        End { interrupted: bool, took: Duration },
        /// It failed.
        Failed(String),
    }

    /// Dumps the table every `every` on a thread of its own until `stop`.
    fn spawn_poller(
        mut q: QuerySocket,
        every: Duration,
        zero: bool,
        stop: Arc<AtomicBool>,
    ) -> Result<Receiver<Poll>> {
        let (tx, rx) = sync_channel::<Poll>(1 << 14);
        std::thread::Builder::new()
            .name("conntrack-dump".into())
            .spawn(move || {
                let mut next = Instant::now() + every;
                while !stop.load(Ordering::Relaxed) {
                    let left = next.saturating_duration_since(Instant::now());
                    if !left.is_zero() {
                        std::thread::sleep(left.min(Duration::from_millis(100)));
                        continue;
                    }
                    let took = Instant::now();
                    if tx.send(Poll::Begin(now())).is_err() {
                        return;
                    }
                    let mut gone = false;
                    let r = q.dump(0, zero, &mut |e| {
                        gone = gone || tx.send(Poll::Entry(*e)).is_err();
                    });
                    let msg = match r {
                        Ok(s) => Poll::End {
                            interrupted: s.interrupted,
                            took: took.elapsed(),
                        },
                        Err(e) => Poll::Failed(e.to_string()),
                    };
                    if gone || tx.send(msg).is_err() {
                        return;
                    }
                    next = Instant::now() + every;
                }
            })
            .context("starting the dump thread")?;
        Ok(rx)
    }

    struct Extra {
        bad: u64,
        polls: u64,
        interrupted: u64,
        poll_time: Duration,
        written: u64,
        elapsed: Duration,
        cpu: f64,
        stopped_by: Option<&'static str>,
    }

    const RULE: &str = "--------------------------------------------------\n";

    fn summary(s: &ConntrackStats, sock: &SocketStats, x: Extra) -> String {
        let mut out = String::new();
        let line = |out: &mut String, name: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(out, "{name:>26}: {v}");
        };
        out.push_str(RULE);
        out.push_str("Run time\n");
        line(
            &mut out,
            "seconds",
            &format!("{:.3}", x.elapsed.as_secs_f64()),
        );
        line(&mut out, "cpu seconds", &format!("{:.3}", x.cpu));
        let events = s.rules.new + s.rules.update + s.rules.destroy;
        if events > 0 {
            line(
                &mut out,
                "cpu ns per event",
                &format!("{:.0}", x.cpu * 1e9 / events as f64),
            );
        }
        if let Some(sig) = x.stopped_by {
            line(&mut out, "stopped by", &sig);
        }
        let r = &s.rules;
        out.push_str(RULE);
        out.push_str("Events\n");
        line(&mut out, "datagrams", &sock.datagrams);
        line(&mut out, "new", &r.new);
        line(&mut out, "update", &r.update);
        line(&mut out, "destroy", &r.destroy);
        // Loss is always shown, even when zero.
        line(&mut out, "overruns (ENOBUFS)", &sock.overruns);
        for (name, v) in [
            ("unparsable", x.bad),
            ("incomplete", r.incomplete),
            ("late dropped", r.late_dropped),
            ("stale", r.stale),
            ("created by update", r.created_by_update),
            ("new after update", r.late_new_start),
            ("destroy of unseen", r.destroy_unseen),
        ] {
            if v > 0 {
                line(&mut out, name, &v);
            }
        }
        if x.polls > 0 {
            out.push_str(RULE);
            out.push_str("Polls\n");
            line(&mut out, "dumps", &x.polls);
            line(&mut out, "entries", &r.dump_entries);
            line(
                &mut out,
                "ms per dump",
                &format!("{:.1}", x.poll_time.as_secs_f64() * 1e3 / x.polls as f64),
            );
            for (name, v) in [
                ("interrupted", x.interrupted),
                ("created by dump", r.created_by_dump),
                ("counters reset (reuse)", r.reused),
                ("archived destroyed", r.archived_destroyed),
                ("vanished (lost destroy)", r.vanished),
                ("superseded", r.superseded),
            ] {
                if v > 0 {
                    line(&mut out, name, &v);
                }
            }
        }
        out.push_str(RULE);
        out.push_str("Flows\n");
        line(&mut out, "records", &s.records);
        line(&mut out, "records written", &x.written);
        out.push_str(RULE);
        out
    }
}
