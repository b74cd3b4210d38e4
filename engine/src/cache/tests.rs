//! Flow cache tests: lookups, the LRU lists, pruning order and counters, the allowlist,
//! the timeout sweep, and the invariants under random operations.

use super::*;
use crate::decode::IpVersion;
use crate::key::proto;
use proptest::prelude::*;

fn key(proto: u8, i: u32) -> (FlowKey, bool) {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[10, 0, (i >> 8) as u8, i as u8]);
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&[10, 1, (i >> 8) as u8, i as u8]);
    let (sp, dp) = if matches!(proto, proto::TCP | proto::UDP) {
        (1024 + (i % 60000) as u16, 80)
    } else {
        (0, 0)
    };
    FlowKey::new(IpVersion::V4, proto, a, sp, b, dp, [0; 3], 0, 0)
}

fn secs(s: u64) -> Timestamp {
    Timestamp::from_secs_micros(s, 0)
}

type Ended = Vec<(FlowKey, EndReason)>;

fn cache(max_flows: u32) -> FlowCache<()> {
    FlowCache::new(CacheConfig {
        max_flows,
        hash_seed: Some(1),
        ..CacheConfig::default()
    })
    .unwrap()
}

fn create(
    c: &mut FlowCache<()>,
    proto: u8,
    i: u32,
    now: Timestamp,
    ended: &mut Ended,
) -> Option<FlowId> {
    let (k, rev) = key(proto, i);
    let h = c.hash_key(&k);
    let mut on_end = |f: &mut Flow<()>, r| ended.push((*f.key(), r));
    let id = c.create(
        k,
        h,
        rev,
        Vlans::default(),
        now,
        u64::from(i) << 8 | u64::from(proto),
        &mut on_end,
    )?;
    c.flow_mut(id)
        .count(crate::flow::Direction::ToServer, 60, now);
    c.touch(id, now);
    Some(id)
}

/// A flow that has seen both directions (so it is not a uni-pruning candidate).
fn create_bidir(
    c: &mut FlowCache<()>,
    proto: u8,
    i: u32,
    now: Timestamp,
    ended: &mut Ended,
) -> Option<FlowId> {
    let id = create(c, proto, i, now, ended)?;
    c.flow_mut(id)
        .count(crate::flow::Direction::ToClient, 60, now);
    c.touch(id, now);
    Some(id)
}

#[test]
fn create_find_end() {
    let mut c = cache(8);
    let mut ended = Ended::new();
    let id = create(&mut c, proto::TCP, 1, secs(1), &mut ended).unwrap();
    let (k, _) = key(proto::TCP, 1);
    assert_eq!(c.find(&k, c.hash_key(&k)), Some(id));
    assert_eq!(c.len(), 1);
    c.end(id, EndReason::Shutdown, &mut |f: &mut Flow<()>, r| {
        ended.push((*f.key(), r))
    });
    assert_eq!(ended, vec![(k, EndReason::Shutdown)]);
    assert_eq!(c.find(&k, c.hash_key(&k)), None);
    assert!(c.is_empty());
    c.check_invariants().unwrap();
    let s = c.stats();
    assert_eq!((s.flows, s.shutdown_flows, s.current_flows), (1, 1, 0));
}

#[test]
fn bad_sizes_are_refused() {
    let err = FlowCache::<()>::new(CacheConfig {
        max_flows: 0,
        ..CacheConfig::default()
    });
    assert!(matches!(err, Err(CacheError::BadMaxFlows { got: 0, .. })));
}

#[test]
fn excess_pruning_at_max_flows_removes_the_oldest() {
    let mut c = cache(4);
    let mut ended = Ended::new();
    for i in 0..4 {
        create_bidir(&mut c, proto::UDP, i, secs(100 + u64::from(i)), &mut ended).unwrap();
    }
    // Nothing idle for 30 s and no uni excess: the oldest goes (excess).
    create(&mut c, proto::UDP, 10, secs(105), &mut ended).unwrap();
    assert_eq!(
        ended,
        vec![(key(proto::UDP, 0).0, EndReason::Pruned(PruneReason::Excess))]
    );
    let s = c.stats();
    assert_eq!(
        (
            s.excess_prunes,
            s.total_prunes(),
            s.current_flows,
            s.peak_flows
        ),
        (1, 1, 4, 4)
    );
    c.check_invariants().unwrap();
}

#[test]
fn idle_pruning_comes_first_and_takes_at_most_two() {
    let mut c = cache(4);
    let mut ended = Ended::new();
    for i in 0..4 {
        create(&mut c, proto::UDP, i, secs(100), &mut ended).unwrap();
    }
    // 31 s later every flow is idle past pruning_timeout (but not past UDP's 30 s new
    // timeout's sweep, which is not run here).
    create(&mut c, proto::UDP, 10, secs(131), &mut ended).unwrap();
    assert_eq!(ended.len(), 2);
    assert!(ended
        .iter()
        .all(|(_, r)| *r == EndReason::Pruned(PruneReason::IdleMaxFlows)));
    assert_eq!(c.stats().idle_prunes_max_flows, 2);
    assert_eq!(c.len(), 3);
}

#[test]
fn pruning_is_round_robin_across_protocols() {
    let mut c = cache(60);
    let mut ended = Ended::new();
    let protos = [proto::TCP, proto::UDP, proto::ICMP, 47];
    for i in 0..60u32 {
        create(&mut c, protos[(i % 4) as usize], i, secs(100), &mut ended).unwrap();
    }
    // Each new flow prunes: idle pruning takes the oldest of one class, then the next.
    for i in 0..40u32 {
        create(
            &mut c,
            proto::UDP,
            1000 + i,
            secs(200 + u64::from(i)),
            &mut ended,
        )
        .unwrap();
    }
    let mut by_proto = std::collections::HashMap::new();
    for (k, r) in &ended {
        assert_eq!(*r, EndReason::Pruned(PruneReason::IdleMaxFlows));
        *by_proto.entry(k.proto()).or_insert(0) += 1;
    }
    let counts: Vec<i32> = protos.iter().map(|p| by_proto[p]).collect();
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(max - min <= 1, "unfair pruning: {counts:?}");
    c.check_invariants().unwrap();
}

#[test]
fn uni_pruning_takes_one_directional_flows() {
    let mut c = cache(8); // max_uni = 3
    let mut ended = Ended::new();
    for i in 0..8 {
        let id = create(&mut c, proto::UDP, i, secs(100), &mut ended).unwrap();
        if i < 4 {
            // Answered: leaves the uni list.
            c.flow_mut(id)
                .count(crate::flow::Direction::ToClient, 60, secs(100));
            c.touch(id, secs(100));
        }
    }
    assert_eq!(c.stats().uni_flows, 4);
    create(&mut c, proto::UDP, 100, secs(101), &mut ended).unwrap();
    assert_eq!(
        ended,
        vec![(key(proto::UDP, 4).0, EndReason::Pruned(PruneReason::Uni))]
    );
    assert_eq!(c.stats().uni_prunes, 1);
}

#[test]
fn blocked_flows_are_never_pruned_to_make_room() {
    let mut c = cache(2);
    let mut ended = Ended::new();
    for i in 0..2 {
        let id = create(&mut c, proto::TCP, i, secs(100), &mut ended).unwrap();
        c.set_verdict(id, Verdict::Block);
    }
    assert!(create(&mut c, proto::TCP, 9, secs(500), &mut ended).is_none());
    assert!(ended.is_empty());
    assert_eq!(c.stats().no_flow_max_flows, 1);
    c.check_invariants().unwrap();
}

#[test]
fn sweep_expires_on_packet_time_boundary_included() {
    let mut c = cache(16);
    let mut ended = Ended::new();
    let t0 = Timestamp::from_secs_micros(1000, 500_000);
    create(&mut c, proto::UDP, 1, t0, &mut ended).unwrap();
    let mut on_end = |f: &mut Flow<()>, r| ended.push((*f.key(), r));
    // UDP new timeout 30 s: not yet at 29.999999 s, expired at exactly 30 s.
    let just_before = Timestamp::from_nanos(t0.as_nanos() + 30_000_000_000 - 1_000);
    assert_eq!(c.sweep(just_before, 10, &mut on_end), 0);
    assert_eq!(c.sweep(t0.add_secs(30), 10, &mut on_end), 1);
    assert_eq!(ended, vec![(key(proto::UDP, 1).0, EndReason::Timeout)]);
    let s = c.stats();
    assert_eq!(
        (
            s.idle_prunes_proto_timeout,
            s.timeout_prunes[ProtoClass::Udp as usize]
        ),
        (1, 1)
    );
}

#[test]
fn sweep_is_bounded_and_resumes() {
    let mut c = cache(64);
    let mut ended = Ended::new();
    for i in 0..10 {
        create(&mut c, proto::UDP, i, secs(100), &mut ended).unwrap();
    }
    let mut n = 0;
    let mut on_end = |_: &mut Flow<()>, _| n += 1;
    assert_eq!(c.sweep(secs(200), 3, &mut on_end), 3);
    assert_eq!(c.sweep(secs(200), 3, &mut on_end), 3);
    assert_eq!(c.sweep(secs(200), 100, &mut on_end), 4);
    assert_eq!(c.sweep(secs(200), 100, &mut on_end), 0);
    assert_eq!(n, 10);
    assert!(c.is_empty());
}

#[test]
fn established_flows_use_their_own_timeout() {
    let mut c = cache(16);
    let mut ended = Ended::new();
    let new = create(&mut c, proto::UDP, 1, secs(100), &mut ended).unwrap();
    let est = create(&mut c, proto::UDP, 2, secs(100), &mut ended).unwrap();
    c.flow_mut(est).set_state(FlowState::Established);
    c.touch(est, secs(100));
    let _ = new;
    let sweep = |c: &mut FlowCache<()>, t| {
        let mut out = Ended::new();
        c.sweep(t, 10, &mut |f: &mut Flow<()>, r| out.push((*f.key(), r)));
        out
    };
    assert_eq!(
        sweep(&mut c, secs(200)),
        vec![(key(proto::UDP, 1).0, EndReason::Timeout)]
    );
    assert!(sweep(&mut c, secs(399)).is_empty());
    assert_eq!(
        sweep(&mut c, secs(400)),
        vec![(key(proto::UDP, 2).0, EndReason::Timeout)]
    );
}

#[test]
fn flush_reports_timeout_for_flows_already_expired() {
    let mut c = cache(16);
    let mut ended = Ended::new();
    create(&mut c, proto::UDP, 1, secs(100), &mut ended).unwrap();
    create(&mut c, proto::UDP, 2, secs(125), &mut ended).unwrap();
    c.flush(secs(140), &mut |f: &mut Flow<()>, r| {
        ended.push((*f.key(), r))
    });
    ended.sort_by_key(|(k, _)| k.lo().0);
    assert_eq!(
        ended,
        vec![
            (key(proto::UDP, 1).0, EndReason::Timeout),
            (key(proto::UDP, 2).0, EndReason::Shutdown)
        ]
    );
}

fn allow_cache(max_flows: u32, move_on_excess: bool) -> FlowCache<()> {
    FlowCache::new(CacheConfig {
        max_flows,
        allowlist: true,
        move_to_allowlist_on_excess: move_on_excess,
        hash_seed: Some(1),
        ..CacheConfig::default()
    })
    .unwrap()
}

#[test]
fn allowlisted_flows_leave_the_timeout_sweep() {
    let mut c = allow_cache(16, false);
    let mut ended = Ended::new();
    let a = create(&mut c, proto::UDP, 1, secs(100), &mut ended).unwrap();
    create(&mut c, proto::UDP, 2, secs(100), &mut ended).unwrap();
    c.set_verdict(a, Verdict::Allow);
    assert_eq!(c.stats().allowlist_flows, 1);
    c.set_verdict(a, Verdict::Allow);
    assert_eq!(c.stats().moved_to_allowlist, 1, "a flow moves once");
    let mut on_end = |f: &mut Flow<()>, r| ended.push((*f.key(), r));
    c.sweep(secs(10_000), 100, &mut on_end);
    assert_eq!(ended, vec![(key(proto::UDP, 2).0, EndReason::Timeout)]);
    assert!(!c.is_expired(a, secs(10_000)));
    c.check_invariants().unwrap();
}

#[test]
fn allow_without_the_allowlist_cache_only_sets_the_verdict() {
    let mut c = cache(16);
    let mut ended = Ended::new();
    let a = create(&mut c, proto::UDP, 1, secs(100), &mut ended).unwrap();
    c.set_verdict(a, Verdict::Allow);
    assert_eq!(c.stats().allowlist_flows, 0);
    assert_eq!(c.stats().moved_to_allowlist, 0);
    assert_eq!(c.flow(a).verdict(), Verdict::Allow);
    let mut on_end = |f: &mut Flow<()>, r| ended.push((*f.key(), r));
    assert_eq!(c.sweep(secs(10_000), 100, &mut on_end), 1);
}

#[test]
fn excess_prunes_the_allowlist_first_unless_moving_on_excess() {
    let mut c = allow_cache(4, false);
    let mut ended = Ended::new();
    for i in 0..4 {
        let id = create_bidir(&mut c, proto::TCP, i, secs(100 + u64::from(i)), &mut ended).unwrap();
        if i == 3 {
            c.set_verdict(id, Verdict::Allow);
        }
    }
    create(&mut c, proto::TCP, 9, secs(104), &mut ended).unwrap();
    assert_eq!(
        ended,
        vec![(key(proto::TCP, 3).0, EndReason::Pruned(PruneReason::Excess))]
    );
    let s = c.stats();
    assert_eq!((s.excess_prunes, s.allowlist_excess_prunes), (1, 1));
}

#[test]
fn move_on_excess_allowlists_instead_of_pruning() {
    let mut c = allow_cache(4, true);
    let mut ended = Ended::new();
    for i in 0..4 {
        create_bidir(&mut c, proto::TCP, i, secs(100 + u64::from(i)), &mut ended).unwrap();
    }
    for i in 0..3 {
        create_bidir(&mut c, proto::TCP, 10 + i, secs(104), &mut ended).unwrap();
    }
    assert!(ended.is_empty(), "nothing pruned: {ended:?}");
    let s = c.stats();
    assert_eq!(
        (s.excess_to_allowlist, s.allowlist_flows, s.current_flows),
        (3, 3, 7)
    );
    // The oldest flow was moved: it now carries the allow verdict.
    let (k0, _) = key(proto::TCP, 0);
    let id0 = c.find(&k0, c.hash_key(&k0)).unwrap();
    assert_eq!(c.flow(id0).verdict(), Verdict::Allow);
    c.check_invariants().unwrap();
}

#[test]
fn memcap_prunes_allowlist_first_then_round_robin() {
    let slot = FlowCache::<()>::slot_bytes() as u64;
    let mut c = FlowCache::<()>::new(CacheConfig {
        max_flows: 100,
        memcap: slot * 3,
        allowlist: true,
        hash_seed: Some(1),
        ..CacheConfig::default()
    })
    .unwrap();
    let mut ended = Ended::new();
    let a = create(&mut c, proto::UDP, 1, secs(100), &mut ended).unwrap();
    c.set_verdict(a, Verdict::Allow);
    create(&mut c, proto::TCP, 2, secs(101), &mut ended).unwrap();
    create(&mut c, proto::UDP, 3, secs(102), &mut ended).unwrap();
    create(&mut c, proto::UDP, 4, secs(103), &mut ended).unwrap();
    assert_eq!(
        ended,
        vec![(key(proto::UDP, 1).0, EndReason::Pruned(PruneReason::Memcap))]
    );
    let s = c.stats();
    assert_eq!((s.memcap_prunes, s.allowlist_memcap_prunes), (1, 1));
    assert!(c.memory_used() <= slot * 3);
}

#[derive(Debug, Clone)]
enum Op {
    Create(u8, u32),
    Touch(u32, bool),
    End(u32),
    Sweep(u32),
    Allow(u32),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let proto = prop::sample::select(vec![proto::TCP, proto::UDP, proto::ICMP, 47u8]);
    prop_oneof![
        4 => (proto, 0u32..64).prop_map(|(p, i)| Op::Create(p, i)),
        3 => (0u32..64, any::<bool>()).prop_map(|(i, b)| Op::Touch(i, b)),
        1 => (0u32..64).prop_map(Op::End),
        1 => (0u32..8).prop_map(Op::Sweep),
        1 => (0u32..64).prop_map(Op::Allow),
        2 => (0u16..120).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Whatever the operations, the lists, the index and the counters agree, and every
    /// flow created is either live or ended exactly once.
    #[test]
    fn invariants_hold_under_random_operations(ops in prop::collection::vec(op(), 1..300), allow in any::<bool>(), on_excess in any::<bool>()) {
        let mut c = FlowCache::<()>::new(CacheConfig {
            max_flows: 16,
            allowlist: allow,
            move_to_allowlist_on_excess: on_excess,
            allowlist_max_flows: 8,
            hash_seed: Some(3),
            ..CacheConfig::default()
        }).unwrap();
        let mut now = secs(1000);
        let mut ended = 0u64;
        let mut live: Vec<FlowKey> = Vec::new();
        for op in ops {
            let mut gone: Vec<FlowKey> = Vec::new();
            let mut on_end = |f: &mut Flow<()>, _r: EndReason| gone.push(*f.key());
            match op {
                Op::Create(p, i) => {
                    let (k, rev) = key(p, i);
                    let h = c.hash_key(&k);
                    if c.find(&k, h).is_none() {
                        if let Some(id) = c.create(k, h, rev, Vlans::default(), now, u64::from(i) << 8 | u64::from(p), &mut on_end) {
                            c.touch(id, now);
                            live.push(k);
                        }
                    }
                }
                Op::Touch(i, reply) => {
                    if let Some(k) = live.get(i as usize % live.len().max(1)).copied() {
                        let id = c.find(&k, c.hash_key(&k)).unwrap();
                        let dir = if reply { crate::flow::Direction::ToClient } else { crate::flow::Direction::ToServer };
                        c.flow_mut(id).count(dir, 1, now);
                        if reply {
                            c.flow_mut(id).set_state(FlowState::Established);
                        }
                        c.touch(id, now);
                    }
                }
                Op::End(i) => {
                    if let Some(k) = live.get(i as usize % live.len().max(1)).copied() {
                        let id = c.find(&k, c.hash_key(&k)).unwrap();
                        c.end(id, EndReason::Shutdown, &mut on_end);
                    }
                }
                Op::Sweep(b) => {
                    c.sweep(now, b, &mut on_end);
                }
                Op::Allow(i) => {
                    if let Some(k) = live.get(i as usize % live.len().max(1)).copied() {
                        let id = c.find(&k, c.hash_key(&k)).unwrap();
                        c.set_verdict(id, Verdict::Allow);
                    }
                }
                Op::Advance(s) => now = now.add_secs(u32::from(s)),
            }
            ended += gone.len() as u64;
            for k in gone {
                prop_assert!(live.contains(&k), "a flow ended twice");
                live.retain(|x| *x != k);
            }
            prop_assert_eq!(c.check_invariants(), Ok(()));
            prop_assert_eq!(c.len(), live.len());
            for k in &live {
                prop_assert!(c.find(k, c.hash_key(k)).is_some());
            }
        }
        let s = c.stats();
        prop_assert_eq!(s.flows, ended + live.len() as u64);
    }
}

#[test]
fn an_engine_flow_slot_is_three_cache_lines() {
    // Memory per flow is what sizes the cache: the engine's slot (flow, TCP session and
    // the inspection pointer) must stay within three 64-byte lines.
    let slot = FlowCache::<crate::inspect::FlowExt>::slot_bytes();
    assert_eq!(slot % 64, 0, "slots are cache-line aligned");
    assert!(slot <= 192, "an engine flow slot grew to {slot} bytes");
}
