use super::*;
use crate::dns::tests::{self as dns_tests, name};
use crate::text::harness::{cs, events_of, info, run, sc, Outcome, Piece};
use serde_json::json;

/// A message without an authority section (the DNS tests' builder; class is not
/// judged, so IN stands for mDNS's class with its top bit too).
fn msg(id: u16, flags: u16, qs: &[(&str, u16)], an: &[Vec<u8>], ar: &[Vec<u8>]) -> Vec<u8> {
    dns_tests::msg(id, flags, qs, an, &[], ar)
}

/// A record with a 120-second TTL (not logged by mDNS).
fn rr(owner: &str, t: u16, rdata: &[u8]) -> Vec<u8> {
    dns_tests::rr(&name(owner), t, 120, rdata)
}

fn go(pieces: &[Piece]) -> Outcome {
    run(&MdnsInspector::new(), &info(Transport::Udp, 5353), pieces)
}

fn jsons(o: &Outcome) -> Vec<Value> {
    events_of(o, "mdns")
}

#[test]
fn a_query_is_a_request_with_lowercase_types_and_numeric_codes() {
    let q = msg(
        0,
        0,
        &[("_services._dns-sd._udp.local", 12), ("printer.local", 28)],
        &[],
        &[],
    );
    assert_eq!(
        jsons(&go(&[cs(&q)])),
        vec![json!({"type": "request", "id": 0, "opcode": 0, "rcode": 0,
                    "queries": [
                        {"rrname": "_services._dns-sd._udp.local", "rrtype": "ptr"},
                        {"rrname": "printer.local", "rrtype": "aaaa"}]})]
    );
}

#[test]
fn an_announcement_logs_each_record_under_its_type() {
    let mut srv = vec![0, 0, 0, 0, 0x1f, 0x90];
    srv.extend(name("printer.local"));
    let txt = b"\x09txtvers=1\x04ty=x";
    let a = rr("printer.local", 1, &[192, 168, 1, 20]);
    let aaaa = rr(
        "printer.local",
        28,
        &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    let nsec = rr("printer.local", 47, b"\xc0\x0c\x00\x04\x40\x00\x00\x08");
    let r = msg(
        0,
        0x8400,
        &[],
        &[
            rr("_ipp._tcp.local", 12, &name("office._ipp._tcp.local")),
            rr("office._ipp._tcp.local", 16, txt),
            rr("office._ipp._tcp.local", 33, &srv),
        ],
        &[a, aaaa, nsec],
    );
    assert_eq!(
        jsons(&go(&[cs(&r)])),
        vec![
            json!({"type": "response", "id": 0, "flags": ["aa"], "opcode": 0, "rcode": 0,
                    "answers": [
                        {"rrname": "_ipp._tcp.local", "ptr": "office._ipp._tcp.local"},
                        {"rrname": "office._ipp._tcp.local", "txt": ["txtvers=1", "ty=x"]},
                        {"rrname": "office._ipp._tcp.local",
                         "srv": {"priority": 0, "weight": 0, "port": 8080,
                                 "name": "printer.local"}}],
                    "additionals": [
                        {"rrname": "printer.local", "a": "192.168.1.20"},
                        {"rrname": "printer.local",
                         "aaaa": "fe80:0000:0000:0000:0000:0000:0000:0001"},
                        {"rrname": "printer.local", "nsec": "\\xc0\u{c}\u{0}\u{4}@\u{0}\u{0}\u{8}"}]})
        ]
    );
}

#[test]
fn the_qr_bit_not_the_direction_makes_a_response() {
    let q = msg(7, 0x0100, &[("host.local", 1)], &[], &[]);
    let mut r = msg(7, 0x8000 | 0x0020 | 0x0003, &[("host.local", 1)], &[], &[]);
    // A response from the side that opened the flow, a query from the other.
    let o = go(&[cs(&r), sc(&q)]);
    let got = jsons(&o);
    assert_eq!(got[0]["type"], "response");
    assert_eq!(got[0]["flags"], json!(["ad"]));
    assert_eq!(got[0]["rcode"], 3);
    assert_eq!(got[1]["type"], "request");
    assert_eq!(got[1]["flags"], json!(["rd"]));
    assert_eq!(got[1]["id"], 7);
    // Opcode is the four bits after QR.
    r[2] = 0x80 | (5 << 3);
    assert_eq!(jsons(&go(&[cs(&r)]))[0]["opcode"], 5);
}

#[test]
fn a_datagram_that_does_not_parse_is_skipped_and_the_next_is_logged() {
    let q = msg(1, 0, &[("a.local", 1)], &[], &[]);
    let o = go(&[cs(b"not dns at all"), cs(&q[..q.len() - 2]), cs(&q)]);
    assert_eq!(jsons(&o).len(), 1);
    assert!(!o.done);
}

#[test]
fn an_empty_opt_record_is_left_out_and_only_udp_is_inspected() {
    let opt = {
        let mut r = vec![0];
        r.extend(41u16.to_be_bytes());
        r.extend(1440u16.to_be_bytes());
        r.extend([0, 0, 0, 0, 0, 0]);
        r
    };
    let q = msg(0, 0, &[("a.local", 255)], &[], &[opt]);
    let got = jsons(&go(&[cs(&q)]));
    assert_eq!(got[0]["queries"][0]["rrtype"], "any");
    assert!(got[0].get("additionals").is_none());
    // An unnamed type is keyed by its number.
    let r = msg(0, 0x8000, &[], &[rr("a.local", 300, b"z")], &[]);
    assert_eq!(
        jsons(&go(&[cs(&r)]))[0]["answers"],
        json!([{"rrname": "a.local", "300": "z"}])
    );
    let tcp = info(Transport::Tcp, 5353);
    assert!(MdnsInspector::new().start(&tcp).is_none());
}
