//! User-space cost of one conntrack event, for `valgrind --tool=callgrind` instruction
//! counts (load-independent): replays the recorded TCP connection (NEW, five UPDATEs,
//! DESTROY) and a UDP one (NEW, UPDATE, DESTROY) from the parser's fixtures N times, each
//! time as another flow (another kernel id), through the parser, the rules, the tracker
//! and the EVE writer (into `io::sink`). No sockets: the `recv` system call is not in it.
//!
//! ```text
//! cargo build --release -p flowengine-conntrack --example event_cost
//! valgrind --tool=callgrind target/release/examples/event_cost 20000
//! ```

use flowengine::feed::conntrack::parse::{parse_message, Message, Messages};
use flowengine::{ConntrackTracker, EveOptions, EveWriter, Timestamp};

macro_rules! fixture {
    ($name:literal) => {
        &include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../engine/src/feed/conntrack/fixtures/",
            $name
        ))[..]
    };
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let events: [&[u8]; 10] = [
        fixture!("new-tcp-v4-0.bin"),
        fixture!("update-tcp-v4-0.bin"),
        fixture!("update-tcp-v4-1.bin"),
        fixture!("update-tcp-v4-2.bin"),
        fixture!("update-tcp-v4-3.bin"),
        fixture!("update-tcp-v4-4.bin"),
        fixture!("destroy-tcp-v4-0.bin"),
        fixture!("new-udp-v4-0.bin"),
        fixture!("update-udp-v4-0.bin"),
        fixture!("destroy-udp-v4-0.bin"),
    ];
    let eve = EveWriter::new(std::io::sink(), EveOptions::default());
    let mut tracker = ConntrackTracker::new(eve);
    let now = Timestamp::from_secs_micros(1_800_000_000, 0);
    let mut count = 0u64;
    for i in 0..n {
        for bytes in events {
            for m in Messages::new(bytes).flatten() {
                if let Ok(Message::Conntrack(kind, mut e)) = parse_message(&m) {
                    // Another flow each round (ids are part of the key).
                    e.id = Some(i);
                    tracker.event(kind, &e, now);
                    count += 1;
                }
            }
        }
    }
    let (stats, eve) = tracker.finish(now);
    println!(
        "{count} events, {} records written, {} live",
        eve.written(),
        stats.live
    );
}
