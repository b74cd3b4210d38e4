//! Live capture (`--interface`) through libpcap.
//!
//! Contract: [`Live::open`] activates the interface (immediate mode, a short read
//! timeout, the snapshot length and promiscuous mode asked for) and installs the
//! `--bpf` filter in the kernel; when it returns, packets are being captured.
//! [`Live::run`] hands each packet to the engine with its libpcap timestamp and the
//! capture's link type, and lets the engine use idle time when none arrive: the engine
//! never reads the clock, so the time it is given is the last packet's time advanced
//! by the wall time elapsed since. It returns when a stop is requested (SIGINT,
//! SIGTERM) or reading fails, after taking in the packets the kernel had already
//! captured; the caller then finishes the engine, so every flow seen gets its record.
//! A SIGHUP reload ([`crate::reload`]) is applied between packets.

use crate::filter::{pcap_message, BpfError};
use crate::reload::Reload;
use crate::stop::Stop;
use crate::summary::CaptureStats;
use flowengine::feed::FeedStats;
use flowengine::{LinkType, Packet, Sink, Timestamp, Workers};
use pcap::{Active, Capture};
use std::time::{Duration, Instant};

/// How long one read waits for a packet before the loop looks at the stop flag and
/// gives the engine idle time.
const READ_TIMEOUT_MS: i32 = 100;
/// How often the workers flush their EVE output.
const TICK: Duration = Duration::from_secs(1);
/// Most packets taken in after a stop (those the kernel had already captured).
const DRAIN_MAX: usize = 1 << 16;

/// What to capture.
#[derive(Clone, Copy, Debug)]
pub struct LiveOptions<'a> {
    /// The interface.
    pub interface: &'a str,
    /// A BPF expression (tcpdump syntax) for the kernel filter.
    pub bpf: Option<&'a str>,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Promiscuous mode.
    pub promisc: bool,
}

/// Why a capture could not start.
#[derive(Debug)]
pub enum OpenError {
    /// The `--bpf` expression does not compile (a usage error).
    Filter(BpfError),
    /// The interface cannot be opened (missing, down, no permission).
    Device(String),
}

/// An open live capture.
pub struct Live {
    cap: Capture<Active>,
    link: LinkType,
    interface: String,
    snaplen: u32,
    promisc: bool,
}

/// What a live run read.
#[derive(Debug, Default)]
pub struct LiveOutcome {
    /// Packets and bytes handed to the engine.
    pub feed: FeedStats,
    /// Time spent inside the engine.
    pub engine_time: Duration,
    /// libpcap's counters at the end, when the platform has them.
    pub capture: Option<CaptureStats>,
    /// Why reading stopped, when it was not a stop request.
    pub error: Option<String>,
}

impl Live {
    /// Opens and activates the interface and installs the filter.
    pub fn open(opts: &LiveOptions<'_>) -> Result<Live, OpenError> {
        let device =
            |e: pcap::Error| OpenError::Device(format!("{}: {}", opts.interface, pcap_message(&e)));
        let mut cap = Capture::from_device(opts.interface)
            .map_err(device)?
            .snaplen(opts.snaplen.min(i32::MAX as u32) as i32)
            .promisc(opts.promisc)
            .immediate_mode(true)
            .timeout(READ_TIMEOUT_MS)
            .open()
            .map_err(device)?;
        let link = LinkType::from_dlt(cap.get_datalink().0 as u32);
        if let Some(expr) = opts.bpf {
            cap.filter(expr, true).map_err(|e| {
                OpenError::Filter(BpfError {
                    expr: expr.to_string(),
                    link,
                    message: pcap_message(&e),
                })
            })?;
        }
        Ok(Live {
            cap,
            link,
            interface: opts.interface.to_string(),
            snaplen: opts.snaplen,
            promisc: opts.promisc,
        })
    }

    /// One line saying what is being captured (the readiness line).
    pub fn describe(&self) -> String {
        format!(
            "capturing on {} ({}, snaplen {}{})",
            self.interface,
            self.link,
            self.snaplen,
            if self.promisc { ", promiscuous" } else { "" }
        )
    }

    /// Captures until a stop is requested or reading fails; a SIGHUP reload is applied
    /// between packets; about once a second the workers flush their output (records
    /// show up while capturing).
    pub fn run<S: Sink>(
        self,
        engine: &mut Workers<S>,
        stop: &Stop,
        reload: &mut Reload<'_>,
    ) -> LiveOutcome {
        let Live {
            mut cap,
            link,
            interface,
            ..
        } = self;
        let mut out = LiveOutcome::default();
        // The last packet's time and when it was read: the base of idle time.
        let mut last: Option<(Timestamp, Instant)> = None;
        let mut ticked = Instant::now();
        while !stop.requested() {
            match cap.next_packet() {
                Ok(p) => {
                    let ts = push(engine, link, p.header, p.data, &mut out);
                    last = Some((ts, Instant::now()));
                }
                Err(pcap::Error::TimeoutExpired) => {
                    if let Some((ts, at)) = last {
                        let t = Instant::now();
                        engine.idle(advance(ts, at.elapsed()));
                        out.engine_time += t.elapsed();
                    }
                }
                Err(e) => {
                    out.error = Some(format!("{interface}: read error: {}", pcap_message(&e)));
                    break;
                }
            }
            reload.poll(engine);
            if ticked.elapsed() >= TICK {
                engine.flush_sinks();
                ticked = Instant::now();
            }
        }
        // Take in what the kernel had captured before the stop: nothing seen is lost.
        if out.error.is_none() {
            if let Ok(mut nb) = cap.setnonblock() {
                for _ in 0..DRAIN_MAX {
                    match nb.next_packet() {
                        Ok(p) => {
                            push(engine, link, p.header, p.data, &mut out);
                        }
                        Err(_) => break,
                    }
                }
                out.capture = nb.stats().ok().map(capture_stats);
            }
        } else {
            out.capture = cap.stats().ok().map(capture_stats);
        }
        out
    }
}

/// Hands one captured packet to the engine; returns its time.
fn push<S: Sink>(
    engine: &mut Workers<S>,
    link: LinkType,
    header: &pcap::PacketHeader,
    data: &[u8],
    out: &mut LiveOutcome,
) -> Timestamp {
    let ts = Timestamp::from_secs_micros(
        u64::try_from(header.ts.tv_sec).unwrap_or(0),
        u32::try_from(header.ts.tv_usec).unwrap_or(0).min(999_999),
    );
    let t = Instant::now();
    engine.push(&Packet { ts, link, data });
    out.engine_time += t.elapsed();
    out.feed.packets += 1;
    out.feed.bytes += data.len() as u64;
    ts
}

fn advance(ts: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_nanos(
        ts.as_nanos()
            .saturating_add(u64::try_from(by.as_nanos()).unwrap_or(u64::MAX)),
    )
}

fn capture_stats(s: pcap::Stat) -> CaptureStats {
    CaptureStats {
        received: u64::from(s.received),
        dropped: u64::from(s.dropped),
        if_dropped: u64::from(s.if_dropped),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_is_the_last_packet_time_advanced_by_wall_time() {
        let ts = Timestamp::from_secs_micros(1_700_000_000, 5);
        assert_eq!(
            advance(ts, Duration::from_millis(1500)),
            Timestamp::from_nanos(ts.as_nanos() + 1_500_000_000)
        );
        assert_eq!(
            advance(Timestamp::from_nanos(u64::MAX - 1), Duration::from_secs(9)),
            Timestamp::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn a_missing_interface_is_a_device_error_naming_it() {
        let opts = LiveOptions {
            interface: "fe-no-such-if0",
            bpf: None,
            snaplen: 262_144,
            promisc: false,
        };
        match Live::open(&opts) {
            Err(OpenError::Device(msg)) => assert!(msg.starts_with("fe-no-such-if0: "), "{msg}"),
            Err(OpenError::Filter(e)) => panic!("not a filter problem: {e}"),
            Ok(_) => panic!("opened a missing interface"),
        }
    }
}
