use super::*;
use crate::record::Collect;
use std::sync::Arc;

#[test]
fn each_worker_gets_its_share_of_the_flow_limits() {
    let mut c = Config::default();
    c.stream.max_flows = 1001;
    c.stream.memcap = 0;
    let part = split(&c, 2, 1, false);
    assert_eq!(part.stream.max_flows, 501);
    assert_eq!(part.stream.memcap, 0, "no memory cap stays none");
    c.stream.memcap = 10;
    assert_eq!(split(&c, 3, 2, false).stream.memcap, 4);
    // With the reading thread running worker 0, the limits follow the hash space:
    // worker 0 has room for its smaller share, the others for their larger ones.
    c.stream.max_flows = 1_100_000;
    let w0 = split(&c, 2, 0, true).stream.max_flows;
    let w1 = split(&c, 2, 1, true).stream.max_flows;
    let total = CALLER_SHARE + 256;
    assert_eq!(u64::from(w0), 1_100_000 * CALLER_SHARE / total);
    assert_eq!(w0 + w1, 1_100_000, "the shares add up to the whole");
    assert!(u64::from(w1) > 1_100_000 * 256 / total);
}

#[test]
fn one_thread_runs_in_the_callers_thread_and_counts_every_frame() {
    let w = Workers::new(&Config::default(), InspectorSet::new(), 1, |_| {
        Collect::default()
    })
    .unwrap();
    assert_eq!(w.threads(), 1);
    assert!(w.stats().is_some());
    let w = Workers::new(&Config::default(), InspectorSet::new(), 2, |_| {
        Collect::default()
    })
    .unwrap();
    assert_eq!(w.threads(), 2);
    assert_eq!(w.frames_per_worker(), vec![0, 0]);
    let (stats, sinks) = w.finish();
    assert_eq!(sinks.len(), 2);
    assert_eq!(stats.records, 0);
    assert_eq!(
        stats.max_flows,
        u64::from(Config::default().stream.max_flows.div_ceil(2)) * 2
    );
}

/// An inspector that counts the copies made of it for workers, and their drops.
struct Forks {
    forks: Arc<std::sync::atomic::AtomicUsize>,
    drops: Arc<std::sync::atomic::AtomicUsize>,
}

impl crate::inspect::Inspector for Forks {
    fn name(&self) -> &str {
        "forks"
    }
    fn kind(&self) -> crate::inspect::InspectorKind {
        crate::inspect::InspectorKind::Passive
    }
    fn start(&self, _: &crate::inspect::FlowInfo) -> Option<Box<dyn crate::inspect::FlowData>> {
        None
    }
    fn fork(&self) -> Option<Arc<dyn crate::inspect::Inspector>> {
        self.forks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(Arc::new(Forks {
            forks: Arc::clone(&self.forks),
            drops: Arc::clone(&self.drops),
        }))
    }
}

impl Drop for Forks {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn each_worker_gets_a_fork_of_an_inspector_that_makes_them_at_start_and_reload() {
    use std::sync::atomic::Ordering::SeqCst;
    let (forks, drops) = (Arc::default(), Arc::default());
    let set = || {
        let mut s = InspectorSet::new();
        s.add(Arc::new(Forks {
            forks: Arc::clone(&forks),
            drops: Arc::clone(&drops),
        }))
        .unwrap();
        s
    };
    for placement in [Placement::Threads, Placement::Caller] {
        forks.store(0, SeqCst);
        drops.store(0, SeqCst);
        let mut w = Workers::with_placement(&Config::default(), set(), 3, placement, |_| {
            Collect::default()
        })
        .unwrap();
        assert_eq!(forks.load(SeqCst), 3, "{placement:?}: one fork per worker");
        // The caller's set is dropped once the workers are built; their forks live.
        assert_eq!(drops.load(SeqCst), 1, "{placement:?}");
        w.reload(&Config::default(), set()).unwrap();
        assert_eq!(
            forks.load(SeqCst),
            6,
            "{placement:?}: and again at a reload"
        );
        let _ = w.finish();
        assert_eq!(
            drops.load(SeqCst),
            8,
            "{placement:?}: every fork is dropped"
        );
    }
}

#[test]
fn without_the_tunnel_depth_in_the_key_the_engine_runs_one_worker() {
    let mut c = Config::default();
    c.decoder.recursion_level.use_for_tracking = false;
    let w = Workers::new(&c, InspectorSet::new(), 4, |_| Collect::default()).unwrap();
    assert_eq!(w.threads(), 1);
}

#[test]
fn even_cuts_give_each_hash_the_worker_worker_of_gives() {
    for n in 2..6usize {
        let c = cuts(n, false);
        assert_eq!(c.len(), n - 1);
        let pick = |h: u64| c.iter().filter(|&&x| h >= x).count();
        for i in 0..10_000u64 {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(pick(h), shard::worker_of(h, n), "{n} workers, hash {h:#x}");
        }
        for &x in &c {
            assert_eq!(pick(x - 1) + 1, pick(x), "{n} workers: cut {x:#x}");
            assert_eq!(shard::worker_of(x - 1, n) + 1, shard::worker_of(x, n));
        }
        assert_eq!(pick(u64::MAX), n - 1);
        assert_eq!(pick(0), 0);
    }
}

#[test]
fn the_callers_worker_gets_a_little_less_of_the_hash_space() {
    let c = cuts(2, true);
    let share = c[0] as f64 / u64::MAX as f64;
    let want = CALLER_SHARE as f64 / (CALLER_SHARE + 256) as f64;
    assert!((share - want).abs() < 1e-9, "{share} {want}");
    // The others share the rest evenly.
    let c = cuts(3, true);
    assert!(c[0] < c[1]);
    let rest = (u64::MAX - c[0]) as f64;
    assert!(((c[1] - c[0]) as f64 / rest - 0.5).abs() < 1e-9);
}

/// One UDP frame between 10.0.x.y and 10.1.0.1, from the test frame builder of the
/// shard tests (Ethernet, IPv4, UDP, 4 bytes of payload).
fn udp(i: u32) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 32];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&32u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, (i >> 8) as u8, i as u8]);
    ip[16..20].copy_from_slice(&[10, 1, 0, 1]);
    ip[20..22].copy_from_slice(&4000u16.to_be_bytes());
    ip[22..24].copy_from_slice(&53u16.to_be_bytes());
    ip[24..26].copy_from_slice(&12u16.to_be_bytes());
    f.extend_from_slice(&ip);
    f
}

/// Ethernet frames a millisecond apart, from a fixed time.
fn a_millisecond_apart(frames: &[Vec<u8>]) -> Vec<Packet<'_>> {
    let t0 = 1_700_000_000_000_000_000u64;
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| Packet {
            ts: Timestamp::from_nanos(t0 + i as u64 * 1_000_000),
            link: LinkType::Ethernet,
            data: f,
        })
        .collect()
}

#[test]
fn the_callers_worker_processes_its_share_in_place_and_every_frame_counts() {
    let frames: Vec<Vec<u8>> = (0..3_000).map(udp).collect();
    let pkts = a_millisecond_apart(&frames);
    let mut c = Config::default();
    c.flow.hash_seed = crate::key::KeyHasher::DETERMINISTIC_SEED;
    let mut w = Workers::with_placement(&c, InspectorSet::new(), 2, Placement::Caller, |_| {
        Collect::default()
    })
    .unwrap();
    assert_eq!(w.threads(), 2);
    // Odd-sized groups, one frame alone, idle time, a flush and a reload between.
    w.push_batch(&pkts[..1000]);
    w.push(&pkts[1000]);
    w.idle(pkts[1000].ts);
    w.flush_sinks();
    w.reload(&c, InspectorSet::new()).unwrap();
    w.push_batch(&pkts[1001..]);
    let per_worker = w.frames_per_worker();
    assert_eq!(per_worker.iter().sum::<u64>(), 3_000);
    assert!(per_worker.iter().all(|&n| n > 1_000), "{per_worker:?}");
    let (stats, sinks) = w.finish();
    assert_eq!(stats.decode.packets, 3_000);
    assert_eq!(stats.records, 3_000, "one flow per frame");
    assert_eq!(stats.reloads, 1);
    assert_eq!(sinks[0].0.len() as u64, per_worker[0]);
    let ids = |sinks: &[Collect]| {
        let mut ids: Vec<u64> = sinks
            .iter()
            .flat_map(|s| s.0.iter().map(|r| r.flow_id))
            .collect();
        ids.sort_unstable();
        ids
    };
    // Flow ids come from the frames' numbers: the same as on one thread.
    let mut one = Workers::new(&c, InspectorSet::new(), 1, |_| Collect::default()).unwrap();
    one.push_batch(&pkts);
    let (_, one_sinks) = one.finish();
    assert!(ids(&sinks) == ids(&one_sinks), "flow ids differ");
}

#[test]
fn frames_handed_over_as_places_in_shared_bytes_give_the_records_of_copies() {
    use std::sync::Arc;
    // Two "files" of frames laid end to end (lengths vary, so places do), and frames
    // of neither, which are copied even when pushed with shared bytes.
    let file = |from: u32, n: u32| -> Arc<Vec<u8>> {
        let mut v = Vec::new();
        for i in from..from + n {
            v.extend_from_slice(&udp(i));
            v.extend(std::iter::repeat_n(0xee, (i % 7) as usize));
        }
        Arc::new(v)
    };
    let frames_of = |bytes: &[u8], from: u32, n: u32| -> Vec<std::ops::Range<usize>> {
        let mut at = 0;
        (from..from + n)
            .map(|i| {
                let len = udp(i).len() + (i % 7) as usize;
                at += len;
                at - len..at
            })
            .inspect(|r| assert!(r.end <= bytes.len()))
            .collect()
    };
    let (a, b) = (file(0, 1500), file(1500, 1000));
    let loose: Vec<Vec<u8>> = (2500..3000).map(udp).collect();
    let (sa, sb) = (SharedBytes::new(a.clone()), SharedBytes::new(b.clone()));
    let t0 = 1_700_000_000_000_000_000u64;
    let mut order: Vec<(&[u8], u8)> = Vec::new();
    for r in frames_of(sa.bytes(), 0, 1500) {
        order.push((&sa.bytes()[r], 0));
    }
    for r in frames_of(sb.bytes(), 1500, 1000) {
        order.push((&sb.bytes()[r], 1));
    }
    for f in &loose {
        order.push((f, 2));
    }
    let pkts: Vec<Packet<'_>> = order
        .iter()
        .enumerate()
        .map(|(i, &(data, _))| Packet {
            ts: Timestamp::from_nanos(t0 + i as u64 * 1_000_000),
            link: LinkType::Ethernet,
            data,
        })
        .collect();
    let mut c = Config::default();
    c.flow.hash_seed = crate::key::KeyHasher::DETERMINISTIC_SEED;
    let sorted = |sinks: Vec<Collect>| {
        let mut all: Vec<_> = sinks.into_iter().flat_map(|s| s.0).collect();
        all.sort_by_key(|r| r.flow_id);
        all
    };
    let mut one = Workers::new(&c, InspectorSet::new(), 1, |_| Collect::default()).unwrap();
    one.push_batch(&pkts);
    let (_, one_sinks) = one.finish();
    let want = sorted(one_sinks);
    assert_eq!(want.len(), 3_000);
    for placement in [Placement::Caller, Placement::Threads] {
        let mut w = Workers::with_placement(&c, InspectorSet::new(), 2, placement, |_| {
            Collect::default()
        })
        .unwrap();
        // A's frames, then B's in groups that also carry loose frames (copied), then
        // the rest of the loose frames with A's bytes named (none lies in them).
        w.push_batch_shared(&pkts[..700], &sa);
        w.push_batch_shared(&pkts[700..1500], &sa);
        w.push_batch_shared(&pkts[1500..2500], &sb);
        w.push_batch_shared(&pkts[2500..2600], &sb);
        w.push_batch(&pkts[2600..2800]);
        w.push_batch_shared(&pkts[2800..], &sa);
        let (stats, sinks) = w.finish();
        assert_eq!(stats.decode.packets, 3_000);
        assert!(
            sorted(sinks) == want,
            "{placement:?}: records differ from one thread's"
        );
    }
    // The workers let go of the shared bytes once done with them.
    drop((sa, sb));
    assert_eq!(Arc::strong_count(&a), 1);
    assert_eq!(Arc::strong_count(&b), 1);
}

/// The records of `pkts` on `n` workers placed so, pushed in one batch or one by
/// one, sorted by flow id.
fn records(
    c: &Config,
    pkts: &[Packet<'_>],
    n: usize,
    placement: Placement,
    one_by_one: bool,
) -> Vec<crate::record::FlowRecord> {
    let mut w =
        Workers::with_placement(c, InspectorSet::new(), n, placement, |_| Collect::default())
            .unwrap();
    if one_by_one {
        pkts.iter().for_each(|p| w.push(p));
    } else {
        w.push_batch(pkts);
    }
    let (_, sinks) = w.finish();
    let mut all: Vec<_> = sinks.into_iter().flat_map(|s| s.0).collect();
    all.sort_by_key(|r| r.flow_id);
    all
}

/// Asserts that 2, 3 and 4 workers, in both placements, pushed in one batch or one by
/// one, give the records `want`.
fn same_records_at_2_to_4_threads(
    c: &Config,
    pkts: &[Packet<'_>],
    want: &[crate::record::FlowRecord],
) {
    for n in 2..=4 {
        for placement in [Placement::Caller, Placement::Threads] {
            for one_by_one in [false, true] {
                let got = records(c, pkts, n, placement, one_by_one);
                assert!(
                    got == want,
                    "{n} workers, {placement:?}, one by one {one_by_one}: {} records, not {}",
                    got.len(),
                    want.len()
                );
            }
        }
    }
}

#[test]
fn a_merged_capture_that_goes_back_in_time_gives_one_engines_records_at_any_thread_count() {
    // Two captures read one after the other: one frame an hour later first, then a
    // steady exchange of eight UDP flows (1,200 frames, a millisecond apart). One
    // engine sweeps at each frame's own time, so the eight flows never time out; a
    // worker must not time them out at the later capture's time either.
    let later: Vec<u8> = udp(9_999);
    let flows: Vec<Vec<u8>> = (0..8).map(udp).collect();
    let t0 = 1_700_000_000_000_000_000u64;
    let mut pkts = vec![Packet {
        ts: Timestamp::from_nanos(t0 + 3_600_000_000_000),
        link: LinkType::Ethernet,
        data: &later,
    }];
    for i in 0..1_200u64 {
        pkts.push(Packet {
            ts: Timestamp::from_nanos(t0 + i * 1_000_000),
            link: LinkType::Ethernet,
            data: &flows[(i % 8) as usize],
        });
    }
    let mut c = Config::default();
    c.flow.hash_seed = crate::key::KeyHasher::DETERMINISTIC_SEED;
    let want = records(&c, &pkts, 1, Placement::Threads, false);
    assert_eq!(want.len(), 9, "eight flows and the later one");
    same_records_at_2_to_4_threads(&c, &pkts, &want);
}

#[test]
fn a_worker_sweeps_at_the_later_time_of_another_workers_frame_between_two_of_its_own() {
    // Eight UDP flows, then a frame an hour later, then the eight flows again at
    // their old times. One engine sweeps at the later frame's time and ends the
    // eight flows (their second frames open eight new ones); every worker must do
    // the same between its flows' two frames, though they reach it in one batch.
    let later: Vec<u8> = udp(9_999);
    let flows: Vec<Vec<u8>> = (0..8).map(udp).collect();
    let t0 = 1_700_000_000_000_000_000u64;
    let at = |ms: u64, data| Packet {
        ts: Timestamp::from_nanos(t0 + ms * 1_000_000),
        link: LinkType::Ethernet,
        data,
    };
    let mut pkts: Vec<Packet<'_>> = flows
        .iter()
        .enumerate()
        .map(|(i, f)| at(i as u64, f))
        .collect();
    pkts.push(at(3_600_000, &later));
    pkts.extend(flows.iter().enumerate().map(|(i, f)| at(100 + i as u64, f)));
    let mut c = Config::default();
    c.flow.hash_seed = crate::key::KeyHasher::DETERMINISTIC_SEED;
    // Room to end them all in one sweep, as one engine does.
    c.stream.timeout_flows_per_packet = 64;
    let want = records(&c, &pkts, 1, Placement::Threads, false);
    assert_eq!(
        want.len(),
        17,
        "eight flows ended by the later frame, eight new, it"
    );
    same_records_at_2_to_4_threads(&c, &pkts, &want);
}

/// One IPv4-in-IPv4 frame: the tunnel between 192.168.`k`.1 and 172.16.0.1 carries
/// [`udp`]`(i)`'s IP packet.
fn ipip(k: u8, i: u32) -> Vec<u8> {
    let inner = udp(i);
    let inner = &inner[14..];
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20 + inner.len() as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 4;
    ip[12..16].copy_from_slice(&[192, 168, k, 1]);
    ip[16..20].copy_from_slice(&[172, 16, 0, 1]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(inner);
    f
}

#[test]
fn one_inner_flow_carried_by_tunnels_between_many_pairs_meets_on_one_worker() {
    // Three inner UDP flows, each carried in turn by sixteen IP-in-IP tunnels
    // (different outer pairs), and plain frames between. One engine has sixteen
    // tunnel flows and three inner flows of sixteen packets each; the outer pair picks
    // the worker of a frame, so the inner flows are tracked where their own pair
    // hashes, whichever worker has the frame.
    let frames: Vec<Vec<u8>> = (0..48u32)
        .map(|n| ipip((n % 16) as u8, n % 3))
        .chain((0..8).map(|i| udp(100 + i)))
        .collect();
    let pkts = a_millisecond_apart(&frames);
    let mut c = Config::default();
    c.flow.hash_seed = crate::key::KeyHasher::DETERMINISTIC_SEED;
    let want = records(&c, &pkts, 1, Placement::Threads, false);
    assert_eq!(want.len(), 16 + 3 + 8, "tunnels, inner flows, plain flows");
    let inner: Vec<u64> = want
        .iter()
        .filter(|r| ["10.0.0.0", "10.0.0.1", "10.0.0.2"].contains(&r.src_ip.to_string().as_str()))
        .map(|r| r.packets())
        .collect();
    assert_eq!(inner, vec![16, 16, 16]);
    same_records_at_2_to_4_threads(&c, &pkts, &want);
    // The decoder counts each frame once, on the worker of its outer pair.
    for n in 2..=4 {
        let mut w = Workers::new(&c, InspectorSet::new(), n, |_| Collect::default()).unwrap();
        w.push_batch(&pkts);
        assert_eq!(w.frames_per_worker().iter().sum::<u64>(), 56);
        let (stats, _) = w.finish();
        assert_eq!(stats.decode.packets, 56, "{n} workers");
    }
}

/// `inner` (a frame of [`udp`] or [`ipip`], Ethernet header and all) carried once more,
/// in IP-in-IP between 198.51.100.`k` and 203.0.113.1.
fn wrap(k: u8, inner: &[u8]) -> Vec<u8> {
    let mut f = ipip(k, 0);
    f.truncate(14 + 20);
    f[14 + 12..14 + 16].copy_from_slice(&[198, 51, 100, k]);
    f[14 + 16..14 + 20].copy_from_slice(&[203, 0, 113, 1]);
    f[14 + 2..14 + 4].copy_from_slice(&(20 + inner.len() as u16 - 14).to_be_bytes());
    f.extend_from_slice(&inner[14..]);
    f
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Any mix of plain frames and frames one or two tunnels deep, the same inner
    /// flows through many outer pairs: the records at 2, 3 and 4 workers are one
    /// engine's.
    #[test]
    fn tunnelled_flows_give_one_engines_records_at_any_thread_count(
        frames in proptest::collection::vec((0u8..3, 0u8..6, 0u8..6, 0u32..5), 1..60),
    ) {
        let frames: Vec<Vec<u8>> = frames
            .iter()
            .map(|&(kind, k, k2, i)| match kind {
                0 => udp(i),
                1 => ipip(k, i),
                _ => wrap(k2, &ipip(k, i)),
            })
            .collect();
        let pkts = a_millisecond_apart(&frames);
        let mut c = Config::default();
        c.flow.hash_seed = crate::key::KeyHasher::DETERMINISTIC_SEED;
        let want = records(&c, &pkts, 1, Placement::Threads, false);
        for n in 2..=4 {
            for placement in [Placement::Caller, Placement::Threads] {
                let got = records(&c, &pkts, n, placement, false);
                proptest::prop_assert!(got == want, "{} workers, {:?}", n, placement);
            }
        }
    }
}
