//! The parser on messages recorded from the kernel (see `../fixtures/README.md`), and
//! on broken input.

use super::*;

use crate::feed::conntrack::fixture;

/// The one message of a fixture file, parsed.
fn one(bytes: &[u8]) -> (EventKind, Entry) {
    let mut msgs = Messages::new(bytes);
    let m = msgs.next().expect("a message").expect("a valid header");
    assert!(msgs.next().is_none(), "one message per fixture");
    match parse_message(&m).expect("parses") {
        Message::Conntrack(k, e) => (k, e),
        other => panic!("not a conntrack message: {other:?}"),
    }
}

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const A: &str = "10.78.0.1";
const B: &str = "10.78.0.2";

#[test]
fn tcp_new_event_has_tuples_status_timeout_protoinfo_id_and_event_time() {
    let (kind, e) = one(fixture!("new-tcp-v4-0.bin"));
    assert_eq!(kind, EventKind::New);
    assert_eq!(e.family, 2);
    let o = e.orig.unwrap();
    assert_eq!((o.src, o.dst, o.proto), (v4(A), v4(B), 6));
    assert_eq!((o.src_port, o.dst_port), (0xeb5c, 7001));
    assert_eq!((o.icmp, o.zone), (None, None));
    let r = e.reply.unwrap();
    assert_eq!(
        (r.src, r.dst, r.src_port, r.dst_port),
        (v4(B), v4(A), 7001, 0xeb5c)
    );
    assert_eq!(e.status, Some(status::CONFIRMED));
    assert_eq!(e.timeout, Some(120));
    assert_eq!(e.id, Some(0x11e4_80db));
    let tcp = e.tcp.unwrap();
    assert_eq!(tcp.state, Some(tcp_state::SYN_SENT));
    assert_eq!((tcp.wscale_orig, tcp.wscale_reply), (Some(10), Some(0)));
    assert_eq!(
        (tcp.flags_orig, tcp.flags_reply),
        (Some((3, 0)), Some((0, 0)))
    );
    assert_eq!(e.event_ns, Some(0x18ee_8ba5_3f42_0bc4));
    // NEW events carry no counters, no start time and (mark 0) no mark.
    assert_eq!((e.counters_orig, e.counters_reply), (None, None));
    assert_eq!(
        (e.start_ns, e.stop_ns, e.mark, e.zone),
        (None, None, None, None)
    );
}

#[test]
fn tcp_updates_walk_the_states_forward() {
    let states: Vec<u8> = [
        &fixture!("update-tcp-v4-0.bin")[..],
        fixture!("update-tcp-v4-1.bin"),
        fixture!("update-tcp-v4-2.bin"),
        fixture!("update-tcp-v4-3.bin"),
        fixture!("update-tcp-v4-4.bin"),
    ]
    .iter()
    .map(|b| {
        let (kind, e) = one(b);
        assert_eq!(kind, EventKind::Update);
        assert_eq!(e.id, Some(0x11e4_80db));
        e.tcp.unwrap().state.unwrap()
    })
    .collect();
    use tcp_state::*;
    assert_eq!(
        states,
        [SYN_RECV, ESTABLISHED, FIN_WAIT, LAST_ACK, TIME_WAIT]
    );
    let ranks: Vec<u8> = states.iter().map(|&s| rank(s)).collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    assert_eq!(name(TIME_WAIT), "time_wait");
}

#[test]
fn tcp_destroy_carries_final_counters_and_start_stop_times() {
    let (kind, e) = one(fixture!("destroy-tcp-v4-0.bin"));
    assert_eq!(kind, EventKind::Destroy);
    assert_eq!(e.id, Some(0x11e4_80db));
    assert_eq!(
        e.counters_orig,
        Some(Counters {
            packets: 6,
            bytes: 329
        })
    );
    assert_eq!(
        e.counters_reply,
        Some(Counters {
            packets: 4,
            bytes: 225
        })
    );
    assert_eq!(e.start_ns, Some(0x18ee_8ba5_3f42_195c));
    assert_eq!(e.stop_ns, Some(0x18ee_8ba5_9475_375e));
    assert!(e.stop_ns > e.start_ns);
    assert_eq!(e.status.map(|s| s & status::DYING != 0), Some(true));
    assert_eq!(e.tcp.unwrap().state, Some(tcp_state::TIME_WAIT));
}

#[test]
fn dump_answer_has_use_count_mark_and_mid_flow_counters() {
    let (kind, e) = one(fixture!("dump-tcp-v4-0.bin"));
    assert_eq!(kind, EventKind::Dump);
    assert_eq!(
        (e.mark, e.use_count, e.timeout),
        (Some(0), Some(1), Some(118))
    );
    assert_eq!(e.counters_orig.unwrap().packets, 6);
    assert_eq!(e.counters_reply.unwrap().bytes, 225);
    assert_eq!(e.start_ns, Some(0x18ee_8ba5_3f42_195c));
    assert_eq!(e.stop_ns, None);
    // The end of the dump.
    let m = Messages::new(fixture!("done-0.bin"))
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(parse_message(&m), Ok(Message::Done));
}

#[test]
fn udp_with_mark_and_zone() {
    let (kind, e) = one(fixture!("new-udp-v4-1.bin"));
    assert_eq!(kind, EventKind::New);
    assert_eq!((e.mark, e.zone), (Some(42), Some(7)));
    assert_eq!(e.orig.unwrap().dst_port, 7100);
    let (_, d) = one(fixture!("destroy-udp-v4-1.bin"));
    assert_eq!(
        (d.mark, d.zone, d.id),
        (Some(42), Some(7), Some(0xd1d9_4a0c))
    );
    assert_eq!(
        (d.counters_orig.unwrap(), d.counters_reply.unwrap()),
        (
            Counters {
                packets: 1,
                bytes: 37
            },
            Counters {
                packets: 1,
                bytes: 37
            }
        )
    );
    let (kind, z) = one(fixture!("dump-udp-v4-0.bin"));
    assert_eq!((kind, z.zone), (EventKind::Dump, Some(7)));
    assert_eq!(z.status.map(|s| s & status::SEEN_REPLY != 0), Some(true));
}

#[test]
fn ipv6_udp_tuples() {
    let (_, e) = one(fixture!("destroy-udp-v6-0.bin"));
    assert_eq!(e.family, 10);
    let o = e.orig.unwrap();
    assert_eq!(o.src, "fd78::1".parse::<IpAddr>().unwrap());
    assert_eq!(o.dst, "fd78::2".parse::<IpAddr>().unwrap());
    assert_eq!((o.proto, o.src_port, o.dst_port), (17, 0xa03a, 7000));
    assert_eq!(e.counters_orig.unwrap().bytes, 57);
}

#[test]
fn icmp_and_icmpv6_ids_types_and_codes() {
    let (kind, e) = one(fixture!("destroy-icmp-v4-0.bin"));
    assert_eq!(kind, EventKind::Destroy);
    let o = e.orig.unwrap();
    assert_eq!(o.proto, 1);
    assert_eq!((o.src_port, o.dst_port), (0, 0));
    assert_eq!(
        o.icmp,
        Some(IcmpTuple {
            id: 0x4242,
            icmp_type: 8,
            code: 0
        })
    );
    assert_eq!(e.reply.unwrap().icmp.unwrap().icmp_type, 0);
    assert_eq!(e.counters_orig.unwrap().bytes, 44);
    let (_, e) = one(fixture!("destroy-icmpv6-v6-0.bin"));
    let o = e.orig.unwrap();
    assert_eq!(o.proto, 58);
    assert_eq!(
        o.icmp,
        Some(IcmpTuple {
            id: 0x4343,
            icmp_type: 128,
            code: 0
        })
    );
    assert_eq!(e.reply.unwrap().icmp.unwrap().icmp_type, 129);
    for f in [
        &fixture!("new-icmp-v4-0.bin")[..],
        fixture!("update-icmp-v4-0.bin"),
        fixture!("new-icmpv6-v6-0.bin"),
        fixture!("update-icmpv6-v6-0.bin"),
        fixture!("dump-icmp-v4-0.bin"),
        fixture!("dump-icmpv6-v6-0.bin"),
    ] {
        assert!(one(f).1.orig.unwrap().icmp.is_some());
    }
}

#[test]
fn every_fixture_parses_and_a_datagram_of_several_messages_splits() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/feed/conntrack/fixtures");
    let mut all = Vec::new();
    let mut n = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "bin") {
            let b = std::fs::read(&p).unwrap();
            assert_eq!(b.len() % 4, 0);
            for m in Messages::new(&b) {
                parse_message(&m.unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
            all.extend_from_slice(&b);
            n += 1;
        }
    }
    assert!(n >= 29, "{n} fixtures");
    assert_eq!(Messages::new(&all).filter(|m| m.is_ok()).count(), n);
}

#[test]
fn truncated_and_malformed_input_are_errors_not_panics() {
    let good = fixture!("destroy-tcp-v4-0.bin");
    // Every prefix: a header error, or an attribute error, never a panic.
    for cut in 0..good.len() {
        let b = &good[..cut];
        for m in Messages::new(b).flatten() {
            let _ = parse_message(&m);
        }
    }
    assert!(matches!(
        Messages::new(&good[..10]).next(),
        Some(Err(ParseError::Truncated { .. }))
    ));
    assert!(matches!(
        Messages::new(&good[..100]).next(),
        Some(Err(ParseError::BadLength { len: 260, .. }))
    ));
    // An attribute length of 2 (below its own header).
    let mut bad = good.to_vec();
    bad[20] = 2;
    bad[21] = 0;
    let m = Messages::new(&bad).next().unwrap().unwrap();
    assert!(matches!(
        parse_message(&m),
        Err(ParseError::BadLength { .. })
    ));
    // CTA_ID of 3 bytes.
    let mut e = vec![2, 0, 0, 0];
    put_attr(&mut e, cta::ID, &[1, 2, 3]);
    assert_eq!(
        parse_entry(&e),
        Err(ParseError::BadAttribute {
            what: "CTA_ID",
            len: 3,
            expected: 4
        })
    );
    // A tuple without a protocol, and one with mixed families.
    let mut t = Vec::new();
    put_nested(&mut t, cta::TUPLE_IP, |o| {
        put_attr(o, cta::IP_V4_SRC, &[1, 2, 3, 4]);
        put_attr(o, cta::IP_V4_DST, &[1, 2, 3, 5]);
    });
    assert_eq!(
        parse_tuple(&t),
        Err(ParseError::IncompleteTuple("no protocol number"))
    );
    let mut t = Vec::new();
    put_nested(&mut t, cta::TUPLE_IP, |o| {
        put_attr(o, cta::IP_V4_SRC, &[1, 2, 3, 4]);
        put_attr(o, cta::IP_V6_DST, &[0; 16]);
    });
    put_nested(&mut t, cta::TUPLE_PROTO, |o| {
        put_attr(o, cta::PROTO_NUM, &[17])
    });
    assert_eq!(parse_tuple(&t), Err(ParseError::BadFamily));
    // Errors and other subsystems.
    let mut msg = vec![0u8; 20];
    msg[..4].copy_from_slice(&20u32.to_ne_bytes());
    msg[4..6].copy_from_slice(&nl::ERROR.to_ne_bytes());
    msg[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
    let m = Messages::new(&msg).next().unwrap().unwrap();
    assert_eq!(parse_message(&m), Ok(Message::Error(-2)));
    msg[4..6].copy_from_slice(&0x0200u16.to_ne_bytes());
    let m = Messages::new(&msg).next().unwrap().unwrap();
    assert_eq!(parse_message(&m), Ok(Message::Other(0x0200)));
}

#[test]
fn tuples_written_by_put_tuple_parse_back() {
    for bytes in [
        &fixture!("destroy-tcp-v4-0.bin")[..],
        fixture!("destroy-icmp-v4-0.bin"),
        fixture!("destroy-icmpv6-v6-0.bin"),
        fixture!("destroy-udp-v6-0.bin"),
    ] {
        let (_, e) = one(bytes);
        let orig = e.orig.unwrap();
        let mut out = Vec::new();
        put_tuple(&mut out, cta::TUPLE_ORIG, &orig);
        let a = Attrs::new(&out).next().unwrap().unwrap();
        assert_eq!(a.kind, cta::TUPLE_ORIG);
        assert_eq!(parse_tuple(a.value), Ok(orig));
    }
}
