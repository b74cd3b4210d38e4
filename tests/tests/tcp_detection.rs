//! Service detection on TCP, through the engine with the built-in inspectors and the
//! EVE writer, as Suricata detects each direction: a server banner no protocol fits,
//! followed by a client request that names the flow, is recorded as
//! `app_proto_tc: "failed"`, and so is an answer nothing fits; a banner or answer too
//! short for detection to be done with it leaves the server's direction unrecorded;
//! the flow's own protocol's answer fits on any port.

use flowengine_tests::frame::v4;
use serde_json::Value;

mod common;
use common::Conn;

/// The flow record of one connection, 10.0.0.1:40000 to 10.0.0.2:4222, after `talk`
/// ran on it.
fn record(talk: impl Fn(&mut common::Eng, &mut Conn)) -> Value {
    let mut e = common::engine(&[], "");
    let mut c = Conn::open(&mut e, 1, (v4(10, 0, 0, 1), 40000), (v4(10, 0, 0, 2), 4222));
    talk(&mut e, &mut c);
    c.close(&mut e, 2);
    let (lines, _) = common::finish(e);
    lines
        .into_iter()
        .find(|l| l["event_type"] == "flow")
        .expect("a flow record")
}

#[test]
fn a_banner_nothing_fits_is_failed_when_the_request_names_the_flow() {
    // NATS: the server's INFO, then the client's CONNECT (an HTTP method to Suricata).
    let flow = record(|e, c| {
        c.b(
            e,
            1,
            b"INFO {\"server_id\":\"NCX\",\"version\":\"2.1.0\",\"max_payload\":1048576}\r\n",
        );
        c.a(
            e,
            1,
            b"CONNECT {\"verbose\":false,\"pedantic\":false} HTTP/1.1\r\n\r\n",
        );
    });
    assert_eq!(flow["app_proto"], "http", "{flow}");
    assert_eq!(flow["app_proto_tc"], "failed", "{flow}");
    assert!(flow.get("app_proto_ts").is_none(), "{flow}");
    assert_eq!(flow["src_port"], 40000, "the client stays the client");
}

#[test]
fn a_recognised_banner_or_a_short_one_records_no_failed_direction() {
    // An SMTP greeting names the flow itself; the client's commands agree.
    let smtp = record(|e, c| {
        c.b(e, 1, b"220 mail.example.org ESMTP Postfix\r\n");
        c.a(e, 1, b"EHLO client.example.org\r\n");
    });
    assert_eq!(smtp["app_proto"], "smtp", "{smtp}");
    assert!(smtp.get("app_proto_tc").is_none(), "{smtp}");
    // Three bytes no protocol fits: too few for detection to be done with them.
    let short = record(|e, c| {
        c.b(e, 1, b"\x00\x01\x02");
        c.a(e, 1, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    });
    assert_eq!(short["app_proto"], "http", "{short}");
    assert!(short.get("app_proto_tc").is_none(), "{short}");
}

#[test]
fn an_answer_nothing_fits_is_failed_and_the_flows_own_protocol_fits_on_any_port() {
    // An HTTP request answered by bytes no protocol fits, enough of them for
    // Suricata's detection to be done with them.
    let junk = record(|e, c| {
        c.a(e, 1, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
        c.b(e, 1, &[0xee; 64]);
    });
    assert_eq!(junk["app_proto"], "http", "{junk}");
    assert_eq!(junk["app_proto_tc"], "failed", "{junk}");
    // HTTP/2 with prior knowledge on a port no rule knows: the server's SETTINGS frame
    // is HTTP/2's answer.
    let h2 = record(|e, c| {
        let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        preface.extend_from_slice(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        c.a(e, 1, &preface);
        c.b(
            e,
            1,
            b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64",
        );
    });
    assert_eq!(h2["app_proto"], "http2", "{h2}");
    assert!(h2.get("app_proto_tc").is_none(), "{h2}");
}
