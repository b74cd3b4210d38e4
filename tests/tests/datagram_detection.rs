//! Service detection on UDP, through the engine with the built-in inspectors and the
//! EVE writer, as Suricata's `AppLayerHandleUdp` does it: each direction gets its
//! first datagram (an empty one included); a direction ruled out before the other
//! named the flow shows as `app_proto_ts`/`app_proto_tc: "failed"`; a flow nothing
//! named fails.

use flowengine_tests::frame::{self, v4};
use serde_json::Value;
use std::net::IpAddr;

mod common;
use common::{push, Eng};

fn engine() -> Eng {
    common::engine(&[], "[app-layer]\npassive = [\"payload-sizes\"]\n")
}

/// The EVE lines written, parsed.
fn eve(e: Eng) -> Vec<Value> {
    common::finish(e).0
}

/// A DNS message for `example.com` A: the query, or its answer.
fn dns(answer: bool) -> Vec<u8> {
    let mut m = vec![0x12, 0x34];
    m.extend_from_slice(if answer { &[0x81, 0x80] } else { &[0x01, 0x00] });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    if answer {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
    }
    m
}

const CLIENT: u16 = 40000;

fn client(last: u8) -> (IpAddr, u16) {
    (v4(10, 0, 0, last), CLIENT)
}

fn resolver() -> (IpAddr, u16) {
    (v4(10, 0, 0, 53), 53)
}

/// The flow record of the flow `host` took part in, and the events tied to it.
fn flow_of(lines: &[Value], host: (IpAddr, u16)) -> (Value, Vec<Value>) {
    let ip = host.0.to_string();
    let flow = lines
        .iter()
        .find(|l| {
            l["event_type"] == "flow" && (l["src_ip"] == ip.as_str() || l["dest_ip"] == ip.as_str())
        })
        .unwrap_or_else(|| panic!("no flow record for {ip}"))
        .clone();
    let events = lines
        .iter()
        .filter(|l| l["event_type"] != "flow" && l["flow_id"] == flow["flow_id"])
        .cloned()
        .collect();
    (flow, events)
}

#[test]
fn a_junk_request_answered_by_dns_is_dns_with_the_request_side_failed() {
    let mut e = engine();
    push(&mut e, 1, &frame::udp(client(1), resolver(), b"\x00junk"));
    push(&mut e, 1, &frame::udp(resolver(), client(1), &dns(true)));
    let lines = eve(e);
    let (flow, events) = flow_of(&lines, client(1));
    assert_eq!(flow["app_proto"], "dns");
    assert_eq!(flow["app_proto_ts"], "failed");
    assert!(flow.get("app_proto_tc").is_none(), "{flow}");
    assert_eq!(flow["src_port"], CLIENT, "the asker stays the client");
    assert!(
        events.iter().any(|ev| ev["event_type"] == "dns"),
        "the answer is parsed: {events:?}"
    );
}

#[test]
fn an_empty_first_datagram_ends_its_directions_detection() {
    let mut e = engine();
    // Alone: the flow fails, as one whose first datagram was junk.
    push(&mut e, 1, &frame::udp(client(1), resolver(), b""));
    // Followed by a query from the same side: that side had its one try.
    push(&mut e, 2, &frame::udp(client(2), resolver(), b""));
    push(&mut e, 2, &frame::udp(client(2), resolver(), &dns(false)));
    // Followed by the answer: the answer names the flow.
    push(&mut e, 3, &frame::udp(client(3), resolver(), b""));
    push(&mut e, 3, &frame::udp(resolver(), client(3), &dns(true)));
    let lines = eve(e);
    let (alone, _) = flow_of(&lines, client(1));
    assert_eq!(alone["app_proto"], "failed");
    let (late_query, _) = flow_of(&lines, client(2));
    assert_eq!(late_query["app_proto"], "failed");
    let (answered, _) = flow_of(&lines, client(3));
    assert_eq!(answered["app_proto"], "dns");
    assert_eq!(answered["app_proto_ts"], "failed");
}

#[test]
fn an_empty_datagram_after_detection_reaches_no_inspector() {
    let mut e = engine();
    push(&mut e, 1, &frame::udp(client(1), resolver(), &dns(false)));
    push(&mut e, 1, &frame::udp(client(1), resolver(), b""));
    push(&mut e, 1, &frame::udp(resolver(), client(1), &dns(true)));
    push(&mut e, 1, &frame::udp(resolver(), client(1), b""));
    let lines = eve(e);
    let (flow, events) = flow_of(&lines, client(1));
    assert_eq!(flow["app_proto"], "dns");
    assert!(flow.get("app_proto_ts").is_none() && flow.get("app_proto_tc").is_none());
    assert_eq!(flow["flow"]["pkts_toserver"], 2);
    assert_eq!(flow["flow"]["pkts_toclient"], 2);
    let dns_events: Vec<_> = events
        .iter()
        .filter(|ev| ev["event_type"] == "dns")
        .collect();
    assert_eq!(
        dns_events.len(),
        2,
        "the query and the answer, no parse error from an empty datagram: {events:?}"
    );
    // The payload-sizes recorder saw the two messages only.
    let sizes = events
        .iter()
        .find(|ev| ev["event_type"] == "payload_sizes")
        .expect("a payload_sizes event");
    let sent = |side: &str| sizes["payload_sizes"][side]["sizes"].clone();
    assert_eq!(sent("toserver"), serde_json::json!([dns(false).len()]));
    assert_eq!(sent("toclient"), serde_json::json!([dns(true).len()]));
}

#[test]
fn mdns_on_port_5353_is_its_own_protocol_and_a_response_opening_the_flow_keeps_it() {
    let group = (v4(224, 0, 0, 251), 5353);
    let host = (v4(10, 0, 0, 7), 5353);
    // An announcement (QR set) opens a one-way multicast flow; a DNS flow would be
    // turned around by it, an mDNS one is not.
    let mut e = engine();
    push(&mut e, 1, &frame::udp(host, group, &dns(true)));
    // The same bytes between the same hosts on port 53 are DNS (a different flow).
    push(&mut e, 1, &frame::udp(client(9), resolver(), &dns(false)));
    let lines = eve(e);
    let (flow, events) = flow_of(&lines, group);
    assert_eq!(flow["app_proto"], "mdns");
    assert_eq!(
        flow["src_ip"], "10.0.0.7",
        "the sender stays the client: {flow}"
    );
    let mdns: Vec<_> = events
        .iter()
        .filter(|ev| ev["event_type"] == "mdns")
        .collect();
    assert_eq!(mdns.len(), 1, "{events:?}");
    assert_eq!(mdns[0]["mdns"]["type"], "response");
    assert_eq!(
        mdns[0]["mdns"]["answers"],
        serde_json::json!([{"rrname": "example.com", "a": "93.184.216.34"}])
    );
    let (dns_flow, _) = flow_of(&lines, client(9));
    assert_eq!(dns_flow["app_proto"], "dns");

    // Turned off, the wizard does not name it.
    let mut e = common::engine(&["app-layer.protocols.mdns.enabled=no"], "");
    push(&mut e, 1, &frame::udp(host, group, &dns(true)));
    let lines = eve(e);
    let (flow, events) = flow_of(&lines, group);
    assert_eq!(flow["app_proto"], "failed");
    assert!(events.is_empty(), "{events:?}");
}
