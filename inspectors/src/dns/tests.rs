use super::*;
use crate::text::harness::{bytewise, cs, events_of, info, run, sc, split, Outcome, Piece};
use flowengine::inspect::Transport;
use proptest::prelude::*;
use serde_json::json;

/// `n` in DNS wire form (labels, then the root).
pub(crate) fn name(n: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in n.split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend(l.as_bytes());
    }
    out.push(0);
    out
}

/// A message as a resolver or server writes it: header, then sections.
pub(crate) fn msg(
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

pub(crate) fn rr(owner: &[u8], t: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
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
    events_of(o, "dns")
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

/// A query for `a.b` with wire id `id`.
fn query(id: u16) -> Vec<u8> {
    msg(id, 0x0100, &[("a.b", 1)], &[], &[], &[])
}

#[test]
fn a_bad_datagram_is_skipped_and_the_next_one_logged() {
    // The question's name is a pointer to itself.
    let mut m = msg(9, 0x0100, &[], &[], &[], &[]);
    m[5] = 1;
    m.extend([0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse_message(&m, 0), Err(DnsError::NameLoop));
    // Over UDP Suricata parses every datagram: the next query is the flow's first
    // transaction.
    let o = go_udp(&[cs(&m), cs(&query(1))]);
    assert!(!o.done);
    let ev = jsons(&o);
    assert_eq!(ev.len(), 1);
    assert_eq!((&ev[0]["id"], &ev[0]["tx_id"]), (&json!(1), &json!(0)));
    // Over TCP the stream ends there.
    let framed = |m: &[u8]| {
        let mut f = (m.len() as u16).to_be_bytes().to_vec();
        f.extend(m);
        f
    };
    let o = go_tcp(&[cs(&framed(&m)), cs(&framed(&query(1)))]);
    assert!(o.done);
    assert!(o.events.is_empty());
    // A zero length prefix is skipped, not a message.
    let mut z = vec![0, 0];
    z.extend(framed(&query(2)));
    let o = go_tcp(&[cs(&z)]);
    assert!(!o.done);
    assert_eq!(jsons(&o)[0]["id"], json!(2));
}

#[test]
fn a_pointer_loop_after_a_first_pointer_ends_the_name() {
    // The question points at 18, which points at itself: Suricata keeps what it read.
    let mut m = msg(9, 0x0100, &[], &[], &[], &[]);
    m[5] = 1;
    m.extend([0xc0, 18, 0, 1, 0, 1, 0xc0, 18]);
    let ev = parse_message(&m, 0).unwrap();
    assert_eq!(ev.queries[0].rrname, DnsName::default());
    assert_eq!(ev.queries[0].rrtype, 1);
    // Two pointers to each other: cut after 255 steps and flagged.
    let mut m = msg(9, 0x0100, &[], &[], &[], &[]);
    m[5] = 1;
    m.extend([0xc0, 18, 0, 1, 0, 1, 1, b'x', 0xc0, 18]);
    let ev = parse_message(&m, 0).unwrap();
    assert!(ev.queries[0].rrname.truncated);
    assert!(ev.queries[0].rrname.value.starts_with("x.x.x"));
}

#[test]
fn header_counts_must_fit_the_message() {
    // 2 bytes a record at least: 100 answers cannot fit in 23 bytes.
    let mut m = query(1);
    m[7] = 100;
    assert_eq!(parse_message(&m, 0), Err(DnsError::BadHeader));
    // A query without a question.
    let mut m = query(1);
    m[5] = 0;
    assert_eq!(parse_message(&m, 0), Err(DnsError::BadHeader));
    // No records but more than a header.
    let mut r = msg(1, 0x8183, &[], &[], &[], &[]);
    assert!(parse_message(&r, 0).is_ok());
    r.push(0);
    assert_eq!(parse_message(&r, 0), Err(DnsError::BadHeader));
    // Bytes after the last section are no error.
    let mut m = query(1);
    m.extend(b"trailing");
    assert_eq!(parse_message(&m, 0).unwrap().queries.len(), 1);
}

#[test]
fn a_question_cut_short_or_with_a_reserved_label_is_an_error() {
    let mut cut = query(1);
    cut.truncate(cut.len() - 1);
    assert_eq!(parse_message(&cut, 0), Err(DnsError::Truncated));
    let mut reserved = msg(1, 0x100, &[], &[], &[], &[]);
    reserved[5] = 1;
    reserved.extend([0x41, 0, 0, 1, 0, 1]);
    assert_eq!(parse_message(&reserved, 0), Err(DnsError::BadLabel));
    // A pointer past the message's end.
    let mut far = msg(1, 0x100, &[], &[], &[], &[]);
    far[5] = 1;
    far.extend([0xc0, 19, 0, 1, 0, 1]);
    assert_eq!(parse_message(&far, 0), Err(DnsError::BadPointer));
}

#[test]
fn record_data_is_taken_as_suricata_takes_it() {
    let q = [("a.b", 1)];
    let one = |t: u16, rdata: &[u8]| {
        parse_message(
            &msg(1, 0x8180, &q, &[rr(&name("a.b"), t, 1, rdata)], &[], &[]),
            0,
        )
    };
    // An address of the wrong length is kept, and written as "".
    let ev = one(1, &[1, 2, 3]).unwrap();
    assert_eq!(ev.to_json()["answers"][0]["rdata"], json!(""));
    // Empty data is an error for every type but OPT.
    for t in [1, 5, 10, 16, 99] {
        assert_eq!(one(t, &[]), Err(DnsError::BadRdata), "type {t}");
    }
    assert!(one(41, &[]).is_ok());
    // TXT: strings up to the first that overruns; the first must fit.
    let ev = one(16, b"\x02hi\x09cut").unwrap();
    assert_eq!(ev.answers[0].data, RData::Txt(vec![b"hi".to_vec()]));
    assert_eq!(one(16, b"\x09cut"), Err(DnsError::BadRdata));
    // Names only for the types Suricata reads as names; bytes after one are ignored.
    let ev = one(5, b"\x01c\x00junk").unwrap();
    assert_eq!(ev.to_json()["answers"][0]["rdata"], json!("c"));
    let ev = one(3, b"\x01c\x00").unwrap();
    assert_eq!(ev.answers[0].data, RData::Unknown(b"\x01c\x00".to_vec()));
    assert!(ev.to_json()["answers"][0].get("rdata").is_none());
    // A name must end inside its record's data, unless a pointer took it elsewhere.
    assert_eq!(one(5, b"\x05c"), Err(DnsError::Truncated));
    let ev = one(5, &[1, b'x', 0xc0, 12]).unwrap();
    assert_eq!(ev.to_json()["answers"][0]["rdata"], json!("x.a.b"));
    // SSHFP needs its two fixed bytes; SOA its five numbers inside the data.
    assert_eq!(one(44, &[1]), Err(DnsError::BadRdata));
    assert_eq!(
        one(6, b"\x00\x00\x00\x00\x00\x01"),
        Err(DnsError::Truncated)
    );
}

#[test]
fn a_bad_authority_or_additional_section_is_left_out() {
    let q = [("a.b", 1)];
    let answer = [rr(&name("a.b"), 1, 60, &[10, 0, 0, 1])];
    let soa = |rdata: &[u8]| rr(&name("b"), 6, 60, rdata);
    let mut good_soa = b"\x02ns\x00\x04mail\x00".to_vec();
    good_soa.extend([0u8; 20]);
    let bad_txt = [rr(&name("a.b"), 16, 60, b"\x09cut")];
    // A bad authority: neither it nor the additionals are logged, the rest is.
    let m = msg(
        1,
        0x8180,
        &q,
        &answer,
        &[soa(b"\x02ns\x00")],
        &[rr(&name("a.b"), 1, 60, &[10, 0, 0, 2])],
    );
    let ev = parse_message(&m, 0).unwrap();
    assert_eq!(ev.answers.len(), 1);
    assert!(ev.authorities.is_empty() && ev.additionals.is_empty());
    // A bad additional: only it is left out.
    let m = msg(1, 0x8180, &q, &answer, &[soa(&good_soa)], &bad_txt);
    let ev = parse_message(&m, 0).unwrap();
    assert_eq!((ev.answers.len(), ev.authorities.len()), (1, 1));
    assert!(ev.additionals.is_empty());
    // A bad answer is a bad message.
    let m = msg(1, 0x8180, &q, &bad_txt, &[], &[]);
    assert_eq!(parse_message(&m, 0), Err(DnsError::BadRdata));
}

#[test]
fn the_direction_not_the_qr_bit_makes_a_request_or_a_response() {
    let (q, r) = suricata_doc_exchange();
    // A client message with QR set is not a request: skipped over UDP (the query
    // after it is transaction 0), the end over TCP.
    let o = go_udp(&[cs(&r), cs(&q)]);
    let ev = jsons(&o);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (&ev[0]["type"], &ev[0]["tx_id"]),
        (&json!("request"), &json!(0))
    );
    let mut framed = (r.len() as u16).to_be_bytes().to_vec();
    framed.extend(&r);
    let o = go_tcp(&[cs(&framed)]);
    assert!(o.done && o.events.is_empty());
    // A server message is a response, even with QR clear (Suricata flags it, and
    // logs it).
    let o = go_udp(&[cs(&q), sc(&q)]);
    let ev = jsons(&o);
    assert_eq!(ev[1]["type"], json!("response"));
    assert_eq!(ev[1].get("qr"), None);
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
fn garbage_is_skipped_and_logged_nothing() {
    let garbage = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not dns at all";
    assert_eq!(parse_message(garbage, 0), Err(DnsError::BadHeader));
    let o = go_udp(&[cs(garbage), cs(b""), cs(&query(3))]);
    assert!(!o.done);
    assert_eq!(jsons(&o).len(), 1);
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
    fn the_probe_accepts_exactly_what_parses(
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in 0usize..6,
    ) {
        let (q, r) = suricata_doc_exchange();
        for mut m in [q, r] {
            for &(pos, val) in &muts {
                let i = pos % m.len();
                m[i] = val;
            }
            m.truncate(m.len() - cut);
            let parsed = parse_message(&m, 0).ok().map(|e| e.is_response());
            prop_assert_eq!(probe(&m, m.len()), parsed);
        }
    }

    #[test]
    fn mutated_real_messages_never_panic(pos in any::<usize>(), val in any::<u8>()) {
        let (_, mut r) = suricata_doc_exchange();
        let i = pos % r.len();
        r[i] = val;
        let _ = parse_message(&r, 0);
    }
}
