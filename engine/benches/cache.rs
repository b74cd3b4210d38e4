//! Flow cache and whole-engine benchmarks.
//!
//! Contract: three groups, each reporting elements (lookups, flows created, packets)
//! per second (`Throughput::Elements`), each checking its work with assertions outside
//! the timed loop:
//! - `cache_lookup`: `FlowCache::hash_key` + `FlowCache::find` of keys that are live
//!   (hits, in shuffled order over 100,000 flows) and of keys that are not (misses);
//! - `cache_create_prune`: `FlowCache::create` into a cache kept full at 10,000 flows,
//!   so every create prunes one flow first: one-directional flows (pruned from the uni
//!   list) and two-directional flows (pruned as excess);
//! - `engine`: `Engine::push_batch` then `Engine::finish` of 65,536 in-memory frames
//!   over 4,096 flows (TCP handshakes and data, UDP exchanges, 1 in 8 flows IPv6),
//!   with the `Discard` sink (decode + tracking) and with EVE JSON serialised into
//!   `io::sink()` (decode + tracking + EVE).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use etherparse::PacketBuilder;
use flowengine::cache::{CacheConfig, FlowCache};
use flowengine::decode::{IpVersion, Vlans};
use flowengine::flow::Direction;
use flowengine::key::FlowKey;
use flowengine::record::Discard;
use flowengine::stream::Session;
use flowengine::{ConfigBuilder, Engine, EveOptions, EveWriter, LinkType, Packet, Timestamp};
use std::hint::black_box;
use std::time::Duration;

/// A small deterministic PRNG (splitmix64) for shuffles.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = ((u128::from(self.next()) * (i as u128 + 1)) >> 64) as usize;
            v.swap(i, j);
        }
    }
}

/// The `n`th distinct TCP key: client 10.x.y.z:port to server 172.16.(n % 997):80.
fn key(n: u64) -> FlowKey {
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    let mut dst = [0u8; 16];
    dst[..4].copy_from_slice(&[172, 16, ((n % 997) >> 8) as u8, (n % 997) as u8]);
    let sport = 1024 + (n >> 24) as u16;
    FlowKey::new(IpVersion::V4, 6, src, sport, dst, 80, [0; 3], 0, 0).0
}

const T0: Timestamp = Timestamp::from_secs_micros(1_700_000_000, 0);

fn cache_config(max_flows: u32) -> CacheConfig {
    CacheConfig {
        max_flows,
        hash_seed: Some(0x5eed),
        ..CacheConfig::default()
    }
}

fn bench_lookup(c: &mut Criterion) {
    const FLOWS: u64 = 100_000;
    let mut cache: FlowCache<Session> = FlowCache::new(cache_config(131_072)).expect("cache");
    for n in 0..FLOWS {
        let k = key(n);
        let h = cache.hash_key(&k);
        cache
            .create(k, h, false, Vlans::default(), T0, n, &mut |_, _| {})
            .expect("room");
    }
    assert_eq!(cache.len(), FLOWS as usize);
    let mut hits: Vec<FlowKey> = (0..FLOWS).map(key).collect();
    SplitMix(1).shuffle(&mut hits);
    let misses: Vec<FlowKey> = (FLOWS..2 * FLOWS).map(key).collect();
    assert!(hits
        .iter()
        .all(|k| cache.find(k, cache.hash_key(k)).is_some()));
    assert!(misses
        .iter()
        .all(|k| cache.find(k, cache.hash_key(k)).is_none()));

    let mut g = c.benchmark_group("cache_lookup");
    g.throughput(Throughput::Elements(FLOWS));
    g.bench_function("find_hit_100k", |b| {
        b.iter(|| {
            let mut found = 0u32;
            for k in &hits {
                let k = black_box(k);
                found += u32::from(cache.find(k, cache.hash_key(k)).is_some());
            }
            found
        })
    });
    g.bench_function("find_miss_100k", |b| {
        b.iter(|| {
            let mut found = 0u32;
            for k in &misses {
                let k = black_box(k);
                found += u32::from(cache.find(k, cache.hash_key(k)).is_some());
            }
            found
        })
    });
    g.finish();
}

fn bench_create_prune(c: &mut Criterion) {
    const MAX: u32 = 10_000;
    let mut g = c.benchmark_group("cache_create_prune");
    g.throughput(Throughput::Elements(1));
    for bidirectional in [false, true] {
        let name = if bidirectional {
            "create_full_10k_bidir"
        } else {
            "create_full_10k_uni"
        };
        let mut cache: FlowCache<Session> = FlowCache::new(cache_config(MAX)).expect("cache");
        let mut ended = 0u64;
        let mut next = 0u64;
        // One create (plus, for two-way flows, a packet each way): the cache is full
        // from the first MAX creates on, so every later one prunes.
        let step = |cache: &mut FlowCache<Session>, ended: &mut u64, next: &mut u64| {
            let n = *next;
            *next += 1;
            let k = key(n);
            let h = cache.hash_key(&k);
            let id = cache.create(k, h, false, Vlans::default(), T0, n, &mut |_, _| {
                *ended += 1
            });
            if bidirectional {
                if let Some(id) = id {
                    let f = cache.flow_mut(id);
                    f.count(Direction::ToServer, 60, T0);
                    f.count(Direction::ToClient, 60, T0);
                    cache.touch(id, T0);
                }
            }
            id.is_some()
        };
        for _ in 0..MAX {
            assert!(step(&mut cache, &mut ended, &mut next));
        }
        assert_eq!((cache.len(), ended), (MAX as usize, 0));
        g.bench_function(name, |b| b.iter(|| step(&mut cache, &mut ended, &mut next)));
        // Every create beyond the first MAX pruned exactly one flow, by the expected
        // rule.
        let created = next;
        assert_eq!(cache.len(), MAX as usize);
        assert_eq!(ended, created - u64::from(MAX));
        let s = cache.stats();
        if bidirectional {
            assert_eq!((s.excess_prunes, s.uni_prunes), (ended, 0));
        } else {
            assert_eq!((s.uni_prunes, s.excess_prunes), (ended, 0));
        }
        cache.check_invariants().expect("invariants");
    }
    g.finish();
}

const ENGINE_FLOWS: u32 = 4096;
const PKTS_PER_FLOW: u32 = 16;

fn tcp_frame(
    v6: bool,
    n: u32,
    to_server: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    len: usize,
) -> Vec<u8> {
    let (cli, srv) = ((10_000 + n % 50_000) as u16, 80);
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let ip = match (v6, to_server) {
        (false, true) => eth.ipv4([10, 1, (n >> 8) as u8, n as u8], [172, 16, 0, 1], 64),
        (false, false) => eth.ipv4([172, 16, 0, 1], [10, 1, (n >> 8) as u8, n as u8], 64),
        (true, _) => {
            let mut c = [0u8; 16];
            c[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            c[12..].copy_from_slice(&n.to_be_bytes());
            let mut s = [0u8; 16];
            s[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            s[15] = 1;
            if to_server {
                eth.ipv6(c, s, 64)
            } else {
                eth.ipv6(s, c, 64)
            }
        }
    };
    let (sp, dp) = if to_server { (cli, srv) } else { (srv, cli) };
    let mut b = ip.tcp(sp, dp, seq, 64240);
    if flags & 0x02 != 0 {
        b = b.syn();
    }
    if flags & 0x08 != 0 {
        b = b.psh();
    }
    if flags & 0x10 != 0 {
        b = b.ack(ack);
    }
    let payload = vec![b'a'; len];
    let mut out = Vec::with_capacity(b.size(len));
    b.write(&mut out, &payload).expect("vec");
    out
}

fn udp_frame(n: u32, to_server: bool) -> Vec<u8> {
    let cli = [10, 2, (n >> 8) as u8, n as u8];
    let srv = [8, 8, 4, 4];
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let b = if to_server {
        eth.ipv4(cli, srv, 64).udp(30_000, 53)
    } else {
        eth.ipv4(srv, cli, 64).udp(53, 30_000)
    };
    let payload = [0u8; 60];
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, &payload).expect("vec");
    out
}

/// The 16 frames of flow `n`: a TCP handshake then 6 exchanges of data and a final
/// ACK (1 in 8 over IPv6), or, for every fourth flow, 8 UDP request/response pairs.
fn flow_frames(n: u32) -> Vec<Vec<u8>> {
    if n % 4 == 3 {
        return (0..PKTS_PER_FLOW)
            .map(|i| udp_frame(n, i % 2 == 0))
            .collect();
    }
    let v6 = n % 8 == 0;
    let (mut c, mut s) = (n.wrapping_mul(7919), n.wrapping_mul(104_729));
    let mut out = vec![tcp_frame(v6, n, true, 0x02, c, 0, 0)];
    c = c.wrapping_add(1);
    out.push(tcp_frame(v6, n, false, 0x12, s, c, 0));
    s = s.wrapping_add(1);
    out.push(tcp_frame(v6, n, true, 0x10, c, s, 0));
    for _ in 0..6 {
        out.push(tcp_frame(v6, n, true, 0x18, c, s, 120));
        c = c.wrapping_add(120);
        out.push(tcp_frame(v6, n, false, 0x18, s, c, 900));
        s = s.wrapping_add(900);
    }
    out.push(tcp_frame(v6, n, true, 0x10, c, s, 0));
    assert_eq!(out.len(), PKTS_PER_FLOW as usize);
    out
}

fn bench_engine(c: &mut Criterion) {
    // Packet j of every flow, then packet j + 1 of every flow: 4,096 flows live at once.
    let per_flow: Vec<Vec<Vec<u8>>> = (0..ENGINE_FLOWS).map(flow_frames).collect();
    let mut frames = Vec::with_capacity((ENGINE_FLOWS * PKTS_PER_FLOW) as usize);
    for j in 0..PKTS_PER_FLOW as usize {
        for f in &per_flow {
            frames.push(f[j].clone());
        }
    }
    let packets: Vec<Packet<'_>> = frames
        .iter()
        .enumerate()
        .map(|(i, data)| Packet {
            ts: Timestamp::from_nanos(T0.as_nanos() + i as u64 * 10_000),
            link: LinkType::Ethernet,
            data,
        })
        .collect();
    let mut builder = ConfigBuilder::new();
    builder.set("stream.max_flows=16384").expect("max_flows");
    let config = builder.build().expect("config");

    // What one run does: every packet tracked, one record per flow.
    let mut n = 0u64;
    let mut engine = Engine::new(&config, |_: &flowengine::FlowRecord| n += 1).expect("engine");
    engine.push_batch(&packets);
    let (stats, _) = engine.finish();
    assert_eq!(stats.packets_tracked, packets.len() as u64);
    assert_eq!(stats.records, u64::from(ENGINE_FLOWS));
    assert_eq!(n, u64::from(ENGINE_FLOWS));

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(packets.len() as u64));
    g.bench_function("push_batch_64k_pkts_4k_flows_discard", |b| {
        b.iter_batched(
            || Engine::new(&config, Discard).expect("engine"),
            |mut engine| {
                engine.push_batch(black_box(&packets));
                engine.finish().0
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("push_batch_64k_pkts_4k_flows_eve", |b| {
        b.iter_batched(
            || {
                let eve = EveWriter::new(std::io::sink(), EveOptions::default());
                Engine::new(&config, eve).expect("engine")
            },
            |mut engine| {
                engine.push_batch(black_box(&packets));
                engine.finish().0
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench_lookup, bench_create_prune, bench_engine
}
criterion_main!(benches);
