//! One direction's TCP reassembly benchmarks.
//!
//! Contract: one group, `reassembly`, reporting segments per second
//! (`Throughput::Elements`; time per iteration / 1024 = ns per segment) for 1024
//! segments of 1460 bytes (a 1.4 MiB HTTP response body) offered to a fresh
//! reassembler, each case checking outside the timed loop that the whole stream comes
//! out:
//! - `in_order_1460`: in order (the no-copy path);
//! - `swapped_pairs_1460`: every pair swapped (half the segments held and copied);
//! - `reversed_runs_1460`: runs of 8 reversed (7 of 8 held, then each run drained).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowengine::stream::{Chunk, Reassembler, ReassemblyConfig};
use std::hint::black_box;

const SEGMENTS: usize = 1024;
const MSS: usize = 1460;
const ISN1: u32 = 0xfff0_0000;

/// A response body: HTML lines (the sequence numbers wrap in the middle).
fn body() -> Vec<u8> {
    let mut b = Vec::with_capacity(SEGMENTS * MSS);
    let mut n = 0;
    while b.len() < SEGMENTS * MSS {
        b.extend_from_slice(
            format!("<tr><td>{n}</td><td>row {n} of the table</td></tr>\n").as_bytes(),
        );
        n += 1;
    }
    b.truncate(SEGMENTS * MSS);
    b
}

/// Offers the segments in `order`; returns the bytes delivered and a checksum.
fn run(body: &[u8], order: &[usize], cfg: &ReassemblyConfig) -> (u64, u64) {
    let mut r = Reassembler::default();
    r.start(ISN1);
    let (mut len, mut sum) = (0u64, 0u64);
    let mut out = |c: Chunk<'_>| {
        if let Chunk::Data(d) = c {
            len += d.len() as u64;
            sum = sum.wrapping_add(u64::from(d[0]));
        }
    };
    for &i in order {
        let off = i * MSS;
        r.segment(
            ISN1.wrapping_add(off as u32),
            &body[off..off + MSS],
            cfg,
            &mut out,
        );
    }
    (len, sum)
}

fn bench(c: &mut Criterion) {
    let body = body();
    let cfg = ReassemblyConfig {
        depth: 0,
        ..ReassemblyConfig::default()
    };
    let in_order: Vec<usize> = (0..SEGMENTS).collect();
    let swapped: Vec<usize> = (0..SEGMENTS).map(|i| i ^ 1).collect();
    let reversed: Vec<usize> = (0..SEGMENTS).map(|i| (i & !7) + 7 - (i & 7)).collect();
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Elements(SEGMENTS as u64));
    for (name, order) in [
        ("in_order_1460", &in_order),
        ("swapped_pairs_1460", &swapped),
        ("reversed_runs_1460", &reversed),
    ] {
        assert_eq!(run(&body, order, &cfg).0, body.len() as u64, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| run(black_box(&body), black_box(order), &cfg))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
