//! Creating, pruning, timing out and reusing flows allocates nothing: a counting global
//! allocator watches the engine replay traffic after warm-up.

use flowengine::{ConfigBuilder, Engine, FlowRecord, LinkType, Packet, Timestamp};
use flowengine_tests::frame::{self, flags::*, v4, v6};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts allocations made by the current thread while `COUNTING` is set.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the thread-locals may already be gone while a thread shuts down.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to the system allocator unchanged; the counting only
// touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's pointer and layouts.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(|n| n.get())
}

/// Traffic of every kind: TCP sessions that close (and are reused), UDP queries, pings
/// over IPv4 and IPv6, on more tuples than the cache holds.
fn traffic() -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let ms = 1_000_000u64;
    for i in 0..3000u32 {
        let t = u64::from(i) * 5 * ms;
        let c = (v4(10, 0, (i >> 8) as u8, i as u8), 20000 + (i % 50) as u16);
        let s = (v4(172, 16, 0, (i % 7) as u8), 80);
        match i % 4 {
            0 => {
                out.push((t, frame::tcp(c, s, SYN, i, 0, b"")));
                out.push((t + ms, frame::tcp(s, c, SYN | ACK, 9, i + 1, b"")));
                out.push((t + 2 * ms, frame::tcp(c, s, ACK | PSH, i + 1, 10, b"GET /")));
                out.push((t + 3 * ms, frame::tcp(c, s, FIN | ACK, i + 6, 10, b"")));
                out.push((t + 4 * ms, frame::tcp(s, c, FIN | ACK, 10, i + 7, b"")));
            }
            1 => {
                let d = (v4(8, 8, 8, (i % 3) as u8), 53);
                out.push((t, frame::udp(c, d, b"query")));
                out.push((t + ms, frame::udp(d, c, b"answer")));
            }
            2 => {
                out.push((t, frame::echo(c.0, s.0, true, i as u16, 1)));
                out.push((t + ms, frame::echo(s.0, c.0, false, i as u16, 1)));
            }
            _ => {
                out.push((t, frame::echo(v6(i as u16), v6(1), true, 1, 1)));
                out.push((t, frame::with_vlans(&frame::udp(c, s, b"v"), &[7])));
            }
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

#[test]
fn the_packet_path_allocates_nothing_after_warm_up() {
    let mut b = ConfigBuilder::new();
    b.set("stream.max_flows=500").unwrap();
    b.set("flow.hash_seed=5").unwrap();
    let cfg = b.build().unwrap();
    let mut records = 0u64;
    let mut engine = Engine::new(&cfg, |_: &FlowRecord| records += 1).unwrap();
    let frames = traffic();
    let base = 1_700_000_000_000_000_000u64;
    let packets = |shift: u64| -> Vec<Packet<'_>> {
        frames
            .iter()
            .map(|(t, f)| Packet {
                ts: Timestamp::from_nanos(base + shift + t),
                link: LinkType::Ethernet,
                data: f,
            })
            .collect()
    };
    // Warm-up: every slot used once.
    for p in &packets(0) {
        engine.push(p);
    }
    // Round two, hours later: old flows time out, new ones are created in reused slots,
    // the full cache prunes, TCP tuples are reused. One packet at a time, then batches.
    let round2 = packets(3600 * 1_000_000_000);
    let n = allocations_during(|| {
        for p in &round2 {
            engine.push(p);
        }
    });
    assert_eq!(n, 0, "allocations while pushing single packets");
    let round3 = packets(7200 * 1_000_000_000);
    let n = allocations_during(|| engine.push_batch(&round3));
    assert_eq!(n, 0, "allocations while pushing batches");
    let n = allocations_during(|| engine.idle(Timestamp::from_nanos(base + 9000 * 1_000_000_000)));
    assert_eq!(n, 0, "allocations in the idle sweep");
    let s = engine.stats();
    assert!(
        s.cache.total_prunes() > 1000,
        "the cache pruned: {:?}",
        s.cache
    );
    assert!(s.cache.tcp_reuse > 0 || s.cache.flows_closed > 0);
    assert!(s.cache.peak_flows <= 500);
    drop(engine);
    assert!(records > 0);
}

/// Fragments: datagrams completed in and out of order, and many more never completed
/// than the defragmenter holds (its key index churns: inserts, removals, tombstones,
/// in-place rehashes), on IPv4 and IPv6. After warm-up, none of it allocates.
#[test]
fn the_fragment_path_allocates_nothing_after_warm_up() {
    use flowengine_tests::fragment::split;
    let mut b = ConfigBuilder::new();
    b.set("stream.max_flows=2000").unwrap();
    b.set("defrag.max_datagrams=16").unwrap();
    b.set("defrag.max_frags=64").unwrap();
    b.set("flow.hash_seed=9").unwrap();
    let cfg = b.build().unwrap();
    let mut records = 0u64;
    let mut engine = Engine::new(&cfg, |_: &FlowRecord| records += 1).unwrap();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for i in 0..600u32 {
        let c = (v4(10, 1, (i >> 8) as u8, i as u8), 30000 + (i % 40) as u16);
        let s = (v4(172, 16, 1, (i % 5) as u8), 53);
        let dgram = if i % 3 == 0 {
            frame::udp((v6(i as u16), c.1), (v6(1), s.1), &[i as u8; 100])
        } else {
            frame::udp(c, s, &[i as u8; 100])
        };
        let mut parts = split(&dgram, i, 32);
        match i % 4 {
            0 => {}
            1 => parts.reverse(),
            // Never completed: the first piece is missing.
            _ => {
                parts.remove(0);
            }
        }
        frames.extend(parts);
    }
    let base = 1_700_000_000_000_000_000u64;
    let run = |engine: &mut Engine<_>, shift: u64| {
        for (i, f) in frames.iter().enumerate() {
            engine.push(&Packet {
                ts: Timestamp::from_nanos(base + shift + i as u64 * 1_000_000),
                link: LinkType::Ethernet,
                data: f,
            });
        }
    };
    run(&mut engine, 0);
    let n = allocations_during(|| run(&mut engine, 3600 * 1_000_000_000));
    assert_eq!(n, 0, "allocations on the fragment path");
    let s = engine.stats();
    assert!(s.defrag.reassembled > 0, "{:?}", s.defrag);
    assert!(s.defrag.over_cap > 0, "the index churned: {:?}", s.defrag);
    drop(engine);
    assert!(records > 0);
}
