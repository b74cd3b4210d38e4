//! The conntrack feed as a library: listen to this network namespace's conntrack
//! events for a few seconds and print each finished connection as an EVE `flow` line.
//!
//! ```text
//! sudo cargo run -p flowengine --example conntrack -- 10
//! ```
//!
//! (Needs root, and `net.netfilter.nf_conntrack_events=1`; counters and times need
//! `nf_conntrack_acct=1` and `nf_conntrack_timestamp=1`.)

#[cfg(all(feature = "conntrack", target_os = "linux"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use flowengine::feed::conntrack::socket::{for_each_event, DEFAULT_RCVBUF};
    use flowengine::feed::conntrack::{EventSocket, Recv};
    use flowengine::{ConntrackTracker, EveOptions, EveWriter, Timestamp};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    // The program reads the clock; the engine only gets the times it is given.
    let now = || {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
    };
    let mut socket = EventSocket::open(DEFAULT_RCVBUF)?;
    let eve = EveWriter::new(std::io::stdout().lock(), EveOptions::default());
    let mut tracker = ConntrackTracker::new(eve);
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        match socket.recv(Some(Duration::from_millis(100)))? {
            Recv::Data(datagram) => {
                let t = now();
                for_each_event(datagram, |kind, entry| tracker.event(kind, entry, t));
            }
            Recv::Overrun => eprintln!("events lost: the receive buffer overflowed"),
            Recv::Timeout => {}
        }
    }
    let (stats, eve) = tracker.finish(now());
    let _stdout = eve.finish()?;
    eprintln!(
        "{} NEW, {} UPDATE, {} DESTROY events; {} records; {} overruns",
        stats.rules.new,
        stats.rules.update,
        stats.rules.destroy,
        stats.records,
        socket.stats().overruns
    );
    Ok(())
}

#[cfg(not(all(feature = "conntrack", target_os = "linux")))]
fn main() {
    eprintln!("the conntrack feed needs Linux and the `conntrack` feature");
}
