//! FlowData map layouts: Snort's 7-bucket hash against a sorted vector, on the common
//! 0-3 entries and on 12. Each iteration is one flow's life as the engine lives it:
//! entries added as inspectors start, then per packet one lookup (the service) and a
//! visit of every entry (passives), 16 packets, then the map dropped.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use flowengine::inspect::data_map::{BucketMap, SortedMap};
use std::hint::black_box;
use std::time::Duration;

const PACKETS: u32 = 16;

fn ids(n: u32) -> Vec<u32> {
    // Inspector ids as an engine hands them out (in start order, with gaps after
    // reloads); added in a scrambled order.
    let mut v: Vec<u32> = (0..n).map(|i| 3 + i * 5).collect();
    v.reverse();
    v.rotate_left((n / 2) as usize);
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("flowdata");
    for n in [0u32, 1, 3, 12] {
        let ids = ids(n);
        let probe = ids.first().copied().unwrap_or(3);
        g.bench_with_input(BenchmarkId::new("sorted_vec", n), &ids, |b, ids| {
            b.iter(|| {
                let mut m = SortedMap::new();
                for &id in ids {
                    m.insert(id, Box::new(u64::from(id)));
                }
                let mut sum = 0u64;
                for _ in 0..PACKETS {
                    if let Some(v) = m.get_mut(black_box(probe)) {
                        **v += 1;
                    }
                    for (_, v) in m.iter_mut() {
                        sum += **v;
                    }
                }
                black_box((sum, m))
            })
        });
        g.bench_with_input(BenchmarkId::new("bucket_hash", n), &ids, |b, ids| {
            b.iter(|| {
                let mut m = BucketMap::new();
                for &id in ids {
                    m.insert(id, Box::new(u64::from(id)));
                }
                let mut sum = 0u64;
                for _ in 0..PACKETS {
                    if let Some(v) = m.get_mut(black_box(probe)) {
                        **v += 1;
                    }
                    m.for_each_mut(|_, v| sum += **v);
                }
                black_box((sum, m))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
