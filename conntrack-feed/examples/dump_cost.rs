//! What a poll of the conntrack table costs: fills the table of the current network
//! namespace with N UDP entries (netlink create requests, no traffic), times full dumps
//! and get-and-zero dumps of it through flowengine's request socket and rules, then
//! flushes the table. Run it as root inside a namespace made for it (see
//! docs/conntrack.md), in release mode:
//!
//! ```text
//! ip netns exec ctbench cargo run --release -p flowengine-conntrack --example dump_cost -- 100000
//! ```
//!
//! The kernel's limit is the init namespace's `net.netfilter.nf_conntrack_max`: raise it
//! above N first.

use flowengine::feed::conntrack::parse::Tuple;
use flowengine::feed::conntrack::{CounterMode, QuerySocket, Rules};
use flowengine::Timestamp;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

fn cpu() -> f64 {
    // SAFETY: getrusage writes one rusage into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is a valid `who`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn main() -> anyhow::Result<()> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let runs: u32 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let mut q = QuerySocket::open()?;
    q.flush()?;
    let tuple = |i: u32| {
        // 10.(i/65536+1).x.y:1024+.. -> 10.255.0.1:53, distinct per i.
        let src = Ipv4Addr::from(0x0a00_0000 | ((i >> 16) + 1) << 16 | (i & 0xffff));
        Tuple {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)),
            proto: 17,
            src_port: 1024 + (i % 50_000) as u16,
            dst_port: 53,
            icmp: None,
            zone: None,
        }
    };
    let t0 = Instant::now();
    for i in 0..n {
        let t = tuple(i);
        q.create(&t, 3600)?;
    }
    let fill = t0.elapsed().as_secs_f64();
    println!(
        "filled {n} entries in {fill:.2} s ({:.0}/s)",
        n as f64 / fill
    );
    // The kernel and the parser alone: a dump whose entries are only counted.
    let mut best = (f64::MAX, f64::MAX);
    let mut seen = 0;
    for _ in 0..runs {
        let (c0, w0) = (cpu(), Instant::now());
        let s = q.dump(0, false, &mut |_| {})?;
        best.0 = best.0.min(w0.elapsed().as_secs_f64());
        best.1 = best.1.min(cpu() - c0);
        seen = s.entries;
    }
    println!(
        "dump, parse only: {seen} entries, best of {runs}: {:.1} ms wall, {:.1} ms CPU ({:.0} ns CPU per entry)",
        best.0 * 1e3,
        best.1 * 1e3,
        best.1 * 1e9 / seen.max(1) as f64
    );
    for (zero, name) in [(false, "dump into rules"), (true, "dump+zero into rules")] {
        let mut best = f64::MAX;
        let mut cpu_best = f64::MAX;
        let mut seen = 0;
        for _ in 0..runs {
            let mut rules = Rules::new();
            let now = Timestamp::from_secs_micros(1_800_000_000, 0);
            let mode = if zero {
                CounterMode::Delta
            } else {
                CounterMode::Absolute
            };
            let (c0, w0) = (cpu(), Instant::now());
            rules.dump_begin(now);
            let s = q.dump(0, zero, &mut |e| {
                rules.dump_entry(e, now, mode, &mut |_| {})
            })?;
            rules.dump_end(now, &mut |_| {});
            best = best.min(w0.elapsed().as_secs_f64());
            cpu_best = cpu_best.min(cpu() - c0);
            seen = s.entries;
        }
        println!(
            "{name}: {seen} entries, best of {runs}: {:.1} ms wall, {:.1} ms CPU ({:.0} ns CPU per entry, kernel and parse and rules)",
            best * 1e3,
            cpu_best * 1e3,
            cpu_best * 1e9 / seen.max(1) as f64
        );
    }
    // The per-flow alternative: one get request per entry (up to 100 000 of them).
    let gets = n.min(100_000);
    let (c0, w0) = (cpu(), Instant::now());
    let mut found = 0;
    for i in 0..gets {
        found += u32::from(q.get(&tuple(i), None, false)?.is_some());
    }
    let (wall, cpu_s) = (w0.elapsed().as_secs_f64(), cpu() - c0);
    println!(
        "get per flow: {found}/{gets} found, {:.1} ms wall, {:.1} ms CPU ({:.0} ns wall, {:.0} ns CPU per entry)",
        wall * 1e3,
        cpu_s * 1e3,
        wall * 1e9 / gets.max(1) as f64,
        cpu_s * 1e9 / gets.max(1) as f64
    );
    q.flush()?;
    Ok(())
}
