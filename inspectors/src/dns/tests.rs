use super::*;
use crate::text::harness::{bytewise, cs, info, run, sc, split, Outcome, Piece};
use flowengine::inspect::Transport;
use proptest::prelude::*;
use serde_json::json;

fn name(n: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in n.split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend(l.as_bytes());
    }
    out.push(0);
    out
}

/// A message as a resolver or server writes it: header, then sections.
fn msg(
    id: u16,
    flags: u16,
    qs: &[(&str, u16)],
    an: &[Vec<u8>],
    ns: &[Vec<u8>],
    ar: &[Vec<u8>],
) -> Vec<u8> {
    let mut m = Vec::new();
    for v in [
        id,
        flags,
        qs.len() as u16,
        an.len() as u16,
        ns.len() as u16,
        ar.len() as u16,
    ] {
        m.extend(v.to_be_bytes());
    }
    for (n, t) in qs {
        m.extend(name(n));
        m.extend(t.to_be_bytes());
        m.extend(1u16.to_be_bytes());
    }
    for rr in an.iter().chain(ns).chain(ar) {
        m.extend(rr);
    }
    m
}

fn rr(owner: &[u8], t: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend(t.to_be_bytes());
    r.extend(1u16.to_be_bytes());
    r.extend(ttl.to_be_bytes());
    r.extend((rdata.len() as u16).to_be_bytes());
    r.extend(rdata);
    r
}

/// The exchange of Suricata's "DNS Logging Changes for 8.0" document.
fn suricata_doc_exchange() -> (Vec<u8>, Vec<u8>) {
    let q = msg(0, 0x0100, &[("www.suricata.io", 1)], &[], &[], &[]);
    // Answer names compressed the way servers write them: www.suricata.io at 12,
    // suricata.io at 16.
    let an1 = rr(&[0xc0, 12], 5, 3597, &[0xc0, 16]);
    let an2 = rr(&[0xc0, 16], 1, 597, &[35, 212, 0, 44]);
    let r = msg(0, 0x8180, &[("www.suricata.io", 1)], &[an1, an2], &[], &[]);
    (q, r)
}

fn go_udp(pieces: &[Piece]) -> Outcome {
    run(&DnsInspector::new(), &info(Transport::Udp, 53), pieces)
}

fn go_tcp(pieces: &[Piece]) -> Outcome {
    run(&DnsInspector::new(), &info(Transport::Tcp, 53), pieces)
}

fn jsons(o: &Outcome) -> Vec<Value> {
    o.events
        .iter()
        .map(|(t, v)| {
            assert_eq!(*t, "dns");
            v.clone()
        })
        .collect()
}

#[test]
fn request_and_response_match_suricata_8_documentation() {
    let (q, r) = suricata_doc_exchange();
    let o = go_udp(&[cs(&q), sc(&r)]);
    assert_eq!(
        jsons(&o),
        vec![
            json!({"version": 3, "type": "request", "tx_id": 0, "id": 0, "flags": "100",
                   "rd": true, "opcode": 0, "rcode": "NOERROR",
                   "queries": [{"rrname": "www.suricata.io", "rrtype": "A"}]}),
            json!({"version": 3, "type": "response", "tx_id": 1, "id": 0, "flags": "8180",
                   "qr": true, "rd": true, "ra": true, "opcode": 0, "rcode": "NOERROR",
                   "queries": [{"rrname": "www.suricata.io", "rrtype": "A"}],
                   "answers": [
                       {"rrname": "www.suricata.io", "rrtype": "CNAME", "ttl": 3597, "rdata": "suricata.io"},
                       {"rrname": "suricata.io", "rrtype": "A", "ttl": 597, "rdata": "35.212.0.44"}]}),
        ]
    );
    assert!(!o.done);
}

#[test]
fn nxdomain_with_soa_authority_and_edns() {
    let q = msg(
        0x1234,
        0x0120,
        &[("nope.example.com", 28)],
        &[],
        &[],
        &[rr(&[0], 41, 0, &[])],
    );
    let mut soa = name("ns1.example.com");
    soa.extend(name("hostmaster.example.com"));
    for v in [2024010101u32, 7200, 3600, 1209600, 300] {
        soa.extend(v.to_be_bytes());
    }
    let cookie = [0u8, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    let r = msg(
        0x1234,
        0x8583,
        &[("nope.example.com", 28)],
        &[],
        &[rr(&name("example.com"), 6, 300, &soa)],
        &[rr(&[0], 41, 0, &cookie)],
    );
    let ev = jsons(&go_udp(&[cs(&q), sc(&r)]));
    // An OPT record without options is not logged.
    assert!(ev[0].get("additionals").is_none());
    assert_eq!(ev[0]["flags"], json!("120"));
    assert_eq!(ev[0]["queries"][0]["rrtype"], json!("AAAA"));
    assert_eq!(ev[1]["rcode"], json!("NXDOMAIN"));
    assert_eq!(ev[1]["aa"], json!(true));
    assert_eq!(
        ev[1]["authorities"],
        json!([{"rrname": "example.com", "rrtype": "SOA", "ttl": 300,
                "soa": {"mname": "ns1.example.com", "rname": "hostmaster.example.com",
                        "serial": 2024010101u32, "refresh": 7200, "retry": 3600,
                        "expire": 1209600, "minimum": 300}}])
    );
    assert_eq!(
        ev[1]["additionals"],
        json!([{"rrname": "", "rrtype": "OPT", "ttl": 0,
                "opt": [{"code": 10, "data": "0102030405060708"}]}])
    );
}

#[test]
fn answer_types_render_like_suricata() {
    let owner = name("example.com");
    let mut mx = 10u16.to_be_bytes().to_vec();
    mx.extend(name("mail.example.com"));
    let mut srv = Vec::new();
    for v in [5u16, 20, 5060] {
        srv.extend(v.to_be_bytes());
    }
    srv.extend(name("sip.example.com"));
    let r = msg(
        7,
        0x8180,
        &[("example.com", 255)],
        &[
            rr(
                &owner,
                28,
                60,
                &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            rr(&owner, 15, 60, &mx),
            rr(&owner, 16, 60, b"\x05hello\x05world"),
            rr(&owner, 2, 60, &name("ns.example.net")),
            rr(&owner, 33, 60, &srv),
            rr(&owner, 44, 60, &[1, 2, 0xab, 0xcd]),
            rr(&owner, 99, 60, b"\x03v=1"),
        ],
        &[],
        &[],
    );
    let ev = jsons(&go_udp(&[sc(&r)]));
    // The EVE writer's direct text is the same object.
    let parsed = parse_message(&r, 0).unwrap();
    let mut text = Vec::new();
    parsed.write_json(&mut text);
    assert_eq!(
        serde_json::from_slice::<Value>(&text).unwrap(),
        parsed.to_json()
    );
    assert!(text.starts_with(br#"{"version":3,"type":"response","tx_id":0,"id":7,"flags":"8180","qr":true,"rd":true,"ra":true"#));
    let a = &ev[0]["answers"];
    assert_eq!(
        a[0]["rdata"],
        json!("2001:0db8:0000:0000:0000:0000:0000:0001")
    );
    assert_eq!(
        a[1],
        json!({"rrname": "example.com", "rrtype": "MX", "ttl": 60, "rdata": "mail.example.com"})
    );
    // One entry per TXT string.
    assert_eq!(a[2]["rdata"], json!("hello"));
    assert_eq!(a[3]["rdata"], json!("world"));
    assert_eq!(a[4]["rdata"], json!("ns.example.net"));
    assert_eq!(
        a[5]["srv"],
        json!({"priority": 5, "weight": 20, "port": 5060, "name": "sip.example.com"})
    );
    assert_eq!(
        a[6]["sshfp"],
        json!({"fingerprint": "ab:cd", "algo": 1, "type": 2})
    );
    assert_eq!(
        a[7],
        json!({"rrname": "example.com", "rrtype": "SPF", "ttl": 60})
    );
    assert_eq!(ev[0]["queries"][0]["rrtype"], json!("ANY"));
}

fn tcp_exchange() -> Vec<Piece> {
    let (q, r) = suricata_doc_exchange();
    let q2 = msg(1, 0x0100, &[("example.org", 16)], &[], &[], &[]);
    let framed = |m: &[u8]| {
        let mut f = (m.len() as u16).to_be_bytes().to_vec();
        f.extend(m);
        f
    };
    let mut both = framed(&q);
    both.extend(framed(&q2));
    vec![cs(&both), sc(&framed(&r))]
}

#[test]
fn tcp_messages_are_framed_whole_bytewise_and_any_split() {
    let whole = go_tcp(&tcp_exchange());
    let ev = jsons(&whole);
    assert_eq!(ev.len(), 3);
    assert_eq!(
        ev[1]["queries"][0],
        json!({"rrname": "example.org", "rrtype": "TXT"})
    );
    assert_eq!(ev[2]["type"], json!("response"));
    assert_eq!(go_tcp(&bytewise(&tcp_exchange())), whole);
}

#[test]
fn tcp_gap_ends_inspection() {
    let mut p = tcp_exchange();
    p.insert(1, Piece::Gap(Direction::ToClient, 10));
    let o = go_tcp(&p);
    assert!(o.done);
    assert_eq!(o.events.len(), 2);
}

#[test]
fn compression_loop_is_refused_without_hanging() {
    // The question's name is a pointer to itself.
    let mut m = msg(9, 0x0100, &[], &[], &[], &[]);
    m[5] = 1;
    m.extend([0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse_message(&m, 0), Err(DnsError::NameLoop));
    let o = go_udp(&[cs(&m), cs(&msg(1, 0x100, &[("a.b", 1)], &[], &[], &[]))]);
    assert!(o.done);
    assert!(o.events.is_empty());
}

#[test]
fn malformed_records_are_errors() {
    let bad_a = msg(
        1,
        0x8180,
        &[("a.b", 1)],
        &[rr(&name("a.b"), 1, 1, &[1, 2, 3])],
        &[],
        &[],
    );
    assert_eq!(parse_message(&bad_a, 0), Err(DnsError::BadRdata));
    let mut cut = msg(1, 0x100, &[("a.b", 1)], &[], &[], &[]);
    cut.truncate(cut.len() - 1);
    assert_eq!(parse_message(&cut, 0), Err(DnsError::Truncated));
    let mut reserved = msg(1, 0x100, &[], &[], &[], &[]);
    reserved[5] = 1;
    reserved.extend([0x41, 0, 0, 1, 0, 1]);
    assert_eq!(parse_message(&reserved, 0), Err(DnsError::BadLabel));
}

#[test]
fn long_names_are_truncated_and_flagged() {
    let mut m = msg(1, 0x100, &[], &[], &[], &[]);
    m[5] = 1;
    // 17 labels of 63 bytes: 1,088 bytes written out.
    for _ in 0..17 {
        m.push(63);
        m.extend([b'x'; 63]);
    }
    m.push(0);
    m.extend([0, 1, 0, 1]);
    let ev = parse_message(&m, 0).unwrap();
    assert!(ev.queries[0].rrname.truncated);
    assert_eq!(ev.queries[0].rrname.value.len(), 1025);
    assert_eq!(ev.to_json()["queries"][0]["rrname_truncated"], json!(true));
}

#[test]
fn message_without_question_is_not_logged() {
    let o = go_udp(&[sc(&msg(1, 0x8180, &[], &[], &[], &[]))]);
    assert!(o.events.is_empty());
    assert!(!o.done);
}

#[test]
fn garbage_ends_inspection() {
    let o = go_udp(&[cs(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not dns at all",
    )]);
    assert!(o.done);
    assert!(o.events.is_empty());
}

proptest! {
    #[test]
    fn any_tcp_split_gives_the_same_events(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        prop_assert_eq!(go_tcp(&split(&tcp_exchange(), &cuts)), go_tcp(&tcp_exchange()));
    }

    #[test]
    fn arbitrary_messages_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_message(&bytes, 0);
        let _ = go_udp(&[cs(&bytes)]);
        let _ = go_tcp(&[cs(&bytes), sc(&bytes)]);
    }

    #[test]
    fn mutated_real_messages_never_panic(pos in any::<usize>(), val in any::<u8>()) {
        let (_, mut r) = suricata_doc_exchange();
        let i = pos % r.len();
        r[i] = val;
        let _ = parse_message(&r, 0);
    }
}
