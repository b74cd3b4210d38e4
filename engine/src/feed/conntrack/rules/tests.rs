//! Each rule, on events built from the recorded kernel messages (`../fixtures`).

use super::*;
use crate::feed::conntrack::parse::{parse_message, Message, Messages};

use crate::feed::conntrack::fixture;

fn entry(bytes: &[u8]) -> (EventKind, Entry) {
    let m = Messages::new(bytes).next().unwrap().unwrap();
    match parse_message(&m).unwrap() {
        Message::Conntrack(k, e) => (k, e),
        other => panic!("{other:?}"),
    }
}

/// The recorded TCP connection: NEW, five UPDATEs, a dump answer, the DESTROY.
fn tcp() -> Vec<(EventKind, Entry)> {
    [
        &fixture!("new-tcp-v4-0.bin")[..],
        fixture!("update-tcp-v4-0.bin"),
        fixture!("update-tcp-v4-1.bin"),
        fixture!("update-tcp-v4-2.bin"),
        fixture!("update-tcp-v4-3.bin"),
        fixture!("update-tcp-v4-4.bin"),
        fixture!("dump-tcp-v4-0.bin"),
        fixture!("destroy-tcp-v4-0.bin"),
    ]
    .iter()
    .map(|b| entry(b))
    .collect()
}

const NOW: Timestamp = Timestamp::from_secs_micros(1_800_000_000, 0);

fn run(rules: &mut Rules, evs: &[(EventKind, Entry)]) -> Vec<Finished> {
    let mut out = Vec::new();
    for (k, e) in evs {
        rules.event(*k, e, NOW, &mut |f| out.push(f));
    }
    out
}

fn ns(t: Timestamp) -> u64 {
    t.as_nanos()
}

#[test]
fn in_order_tcp_lifecycle_ends_with_the_destroys_counters_and_times() {
    let evs = tcp();
    let mut r = Rules::new();
    let out = run(&mut r, &evs);
    assert_eq!(out.len(), 1);
    let f = &out[0];
    assert_eq!(f.reason, FinishReason::Destroyed);
    assert_eq!(
        ns(f.flow.start),
        evs[0].1.event_ns.unwrap(),
        "start = the NEW's time"
    );
    assert_eq!(
        ns(f.end),
        evs[7].1.stop_ns.unwrap(),
        "end = the kernel's stop time"
    );
    assert_eq!(f.flow.counters_orig(), evs[7].1.counters_orig.unwrap());
    assert_eq!(f.flow.counters_reply(), evs[7].1.counters_reply.unwrap());
    assert_eq!(f.flow.tcp_state, Some(tcp_state::TIME_WAIT));
    assert!(f.flow.status & status::SEEN_REPLY != 0);
    assert!(f.flow.seen_new);
    assert!(r.is_empty());
    let s = r.stats();
    assert_eq!((s.new, s.update, s.destroy, s.dump_entries), (1, 5, 1, 1));
}

#[test]
fn out_of_order_events_give_the_same_flow() {
    let evs = tcp();
    let mut want = Rules::new();
    let want = run(&mut want, &evs).remove(0);
    // UPDATEs before the NEW, in reverse: the NEW still sets the start, the state is
    // the furthest one, and nothing moves back.
    let mut shuffled: Vec<_> = evs[1..6].iter().rev().cloned().collect();
    shuffled.push(evs[0]);
    shuffled.push(evs[7]);
    let mut r = Rules::new();
    let got = run(&mut r, &shuffled);
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(g.flow.start, want.flow.start);
    assert_eq!(g.flow.tcp_state, Some(tcp_state::TIME_WAIT));
    assert_eq!(g.flow.counters_orig(), want.flow.counters_orig());
    assert_eq!(g.end, want.end);
    let s = r.stats();
    assert_eq!((s.created_by_update, s.late_new_start), (1, 1));
    // The DESTROY first: the flow ends from it alone; the NEW and UPDATEs that come
    // after it happened before it, so they are dropped (no ghost flow).
    let mut late = vec![evs[7]];
    late.extend_from_slice(&evs[..6]);
    let mut r = Rules::new();
    let got = run(&mut r, &late);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].flow.counters_reply(), want.flow.counters_reply());
    assert_eq!(ns(got[0].flow.start), evs[7].1.start_ns.unwrap());
    assert!(r.is_empty(), "late NEW/UPDATEs must not revive the flow");
    assert_eq!((r.stats().destroy_unseen, r.stats().late_dropped), (1, 6));
    // The same DESTROY twice ends one flow.
    let mut r = Rules::new();
    assert_eq!(run(&mut r, &[evs[0], evs[7], evs[7]]).len(), 1);
}

#[test]
fn roll_forward_only() {
    let evs = tcp();
    let mut r = Rules::new();
    run(&mut r, &evs[..6]);
    let key = CtKey::of(&evs[0].1).unwrap();
    let before = r.get(&key).unwrap().clone();
    // An old UPDATE (SYN_RECV, no SEEN_REPLY... ) replayed: state and time stay.
    run(&mut r, &[evs[1], evs[0]]);
    let after = r.get(&key).unwrap();
    assert_eq!(after.tcp_state, Some(tcp_state::TIME_WAIT));
    assert_eq!(after.last, before.last);
    assert_eq!(after.start, before.start);
    assert_eq!(after.status, before.status);
    assert!(r.stats().stale >= 2);
}

#[test]
fn the_key_is_more_than_the_id() {
    // Two entries with the same kernel id but other tuples or zones are two flows.
    let (_, a) = entry(fixture!("new-udp-v4-0.bin"));
    let mut b = a;
    b.orig.as_mut().unwrap().src_port ^= 1;
    let mut c = a;
    c.zone = Some(9);
    let mut r = Rules::new();
    run(
        &mut r,
        &[
            (EventKind::New, a),
            (EventKind::New, b),
            (EventKind::New, c),
        ],
    );
    assert_eq!(r.len(), 3);
    assert_eq!(a.id, b.id);
}

#[test]
fn id_reuse_by_a_second_new_archives_the_old_flow_until_its_late_destroy() {
    let (_, new) = entry(fixture!("new-udp-v4-0.bin"));
    let (_, destroy) = entry(fixture!("destroy-udp-v4-0.bin"));
    // The kernel destroyed the entry and made it again with the same id and tuple;
    // the second NEW arrives before the first DESTROY.
    let mut new2 = new;
    new2.event_ns = Some(destroy.stop_ns.unwrap() + 1_000);
    let mut destroy2 = destroy;
    destroy2.start_ns = Some(destroy.stop_ns.unwrap() + 2_000);
    destroy2.stop_ns = Some(destroy.stop_ns.unwrap() + 9_000);
    destroy2.counters_orig = Some(Counters {
        packets: 5,
        bytes: 500,
    });
    let mut r = Rules::new();
    let mut out = run(&mut r, &[(EventKind::New, new), (EventKind::New, new2)]);
    assert_eq!((out.len(), r.len(), r.stats().reused), (0, 1, 1));
    let key = CtKey::of(&new).unwrap();
    assert!(r.get(&key).unwrap().has_archived());
    // The late DESTROY (start time = the old entry's) ends the archived flow only.
    out.extend(run(&mut r, &[(EventKind::Destroy, destroy)]));
    assert_eq!(out.len(), 1);
    assert_eq!(ns(out[0].flow.start), new.event_ns.unwrap());
    assert_eq!(out[0].flow.counters_orig(), destroy.counters_orig.unwrap());
    assert_eq!(r.len(), 1, "the fresh flow is not evicted");
    assert_eq!(ns(r.get(&key).unwrap().start), new2.event_ns.unwrap());
    // Its own DESTROY ends it.
    out.extend(run(&mut r, &[(EventKind::Destroy, destroy2)]));
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].flow.counters_orig().packets, 5);
    assert_ne!(out[0].flow.ordinal, out[1].flow.ordinal);
    assert!(r.is_empty());
    assert_eq!(r.stats().archived_destroyed, 1);
}

#[test]
fn counters_reset_on_a_poll_archive_the_old_flow_and_expect_a_new() {
    let (_, new) = entry(fixture!("new-udp-v4-0.bin"));
    let (_, dump) = entry(fixture!("dump-udp-v4-1.bin"));
    let (_, destroy) = entry(fixture!("destroy-udp-v4-0.bin"));
    assert_eq!(CtKey::of(&new), CtKey::of(&dump));
    let mut r = Rules::new();
    let mut out = Vec::new();
    let mut push = |f: Finished| out.push(f);
    r.event(EventKind::New, &new, NOW, &mut push);
    // A poll with counters 10/1000.
    let mut big = dump;
    big.counters_orig = Some(Counters {
        packets: 10,
        bytes: 1000,
    });
    big.start_ns = None;
    r.dump_begin(NOW);
    r.dump_entry(&big, NOW, CounterMode::Absolute, &mut push);
    r.dump_end(NOW, &mut push);
    // The next poll: counters lower, the entry was made again with the same id. The
    // DESTROY of the old one is on its way.
    let t2 = Timestamp::from_nanos(destroy.stop_ns.unwrap() + 5_000_000);
    let mut small = dump;
    small.start_ns = None;
    small.counters_orig = Some(Counters {
        packets: 1,
        bytes: 37,
    });
    r.dump_begin(t2);
    r.dump_entry(&small, t2, CounterMode::Absolute, &mut push);
    r.dump_end(t2, &mut push);
    assert!(out.is_empty());
    let key = CtKey::of(&new).unwrap();
    let fresh = r.get(&key).unwrap();
    assert!(fresh.has_archived() && !fresh.seen_new);
    assert_eq!(fresh.counters_orig().packets, 1);
    assert_eq!(r.stats().reused, 1);
    // The late DESTROY (no start times to match: the mark decides) ends the archived
    // flow with its counters and start; the fresh one stays.
    let mut late = destroy;
    late.start_ns = None;
    late.counters_orig = Some(Counters {
        packets: 11,
        bytes: 1100,
    });
    let got = run(&mut r, &[(EventKind::Destroy, late)]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].flow.counters_orig().packets, 11);
    assert_eq!(ns(got[0].flow.start), new.event_ns.unwrap());
    assert!(r.get(&key).is_some());
    // Then the fresh flow's NEW: its timestamp becomes the start.
    let mut new2 = new;
    new2.event_ns = Some(ns(t2) - 1_000);
    run(&mut r, &[(EventKind::New, new2)]);
    let fresh = r.get(&key).unwrap();
    assert!(fresh.seen_new && !fresh.has_archived());
    assert_eq!(ns(fresh.start), new2.event_ns.unwrap());
}

#[test]
fn get_and_zero_counters_add_up_and_a_complete_dump_ends_vanished_flows() {
    let (_, new) = entry(fixture!("new-udp-v4-0.bin"));
    let (_, other) = entry(fixture!("new-udp-v6-0.bin"));
    let (_, dump) = entry(fixture!("dump-udp-v4-1.bin"));
    let (_, destroy) = entry(fixture!("destroy-udp-v4-0.bin"));
    let mut r = Rules::new();
    let mut out = Vec::new();
    run(&mut r, &[(EventKind::New, new), (EventKind::New, other)]);
    let later = Timestamp::from_nanos(new.event_ns.unwrap() + 1_000_000_000);
    for _ in 0..3 {
        r.dump_begin(later);
        r.dump_entry(&dump, later, CounterMode::Delta, &mut |f| out.push(f));
        r.dump_end(later, &mut |f| out.push(f));
    }
    // The IPv6 flow was in no dump: its DESTROY was lost.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].reason, FinishReason::Vanished);
    assert_eq!(
        out[0].flow.key.orig.src,
        "fd78::1".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(r.stats().vanished, 1);
    let key = CtKey::of(&new).unwrap();
    assert_eq!(r.get(&key).unwrap().counters_orig().packets, 3);
    // The DESTROY after zeroing carries what came since the last zeroing (here 1).
    out.extend(run(&mut r, &[(EventKind::Destroy, destroy)]));
    assert_eq!(out[1].flow.counters_orig().packets, 4);
    assert_eq!(out[1].flow.counters_orig().bytes, 4 * 37);
}

#[test]
fn flush_ends_everything_in_creation_order() {
    let evs = tcp();
    let (_, udp) = entry(fixture!("new-udp-v4-1.bin"));
    let (_, icmp) = entry(fixture!("new-icmp-v4-0.bin"));
    let mut r = Rules::new();
    run(
        &mut r,
        &[evs[0], (EventKind::New, udp), (EventKind::New, icmp)],
    );
    let mut out = Vec::new();
    r.flush(&mut |f| out.push(f));
    assert!(r.is_empty());
    let ords: Vec<u64> = out.iter().map(|f| f.flow.ordinal).collect();
    assert_eq!(ords, [0, 1, 2]);
    assert!(out.iter().all(|f| f.reason == FinishReason::Shutdown));
    assert_eq!(out[1].flow.mark, 42);
    assert_eq!(out[1].flow.key.zone, 7);
    // Incomplete messages are counted, not tracked.
    let mut bad = udp;
    bad.id = None;
    run(&mut r, &[(EventKind::New, bad)]);
    assert_eq!((r.len(), r.stats().incomplete), (0, 1));
}
