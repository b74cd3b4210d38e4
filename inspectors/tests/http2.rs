//! HTTP/2 through the whole engine: packets in, EVE lines out, with the built-in
//! inspector set. A cleartext DoH exchange makes a `doh2` flow (as Suricata names the
//! app-layer-protocol cases' flows), and an HTTP/1 `Upgrade: h2c` hands the bytes
//! after the `101` in the same segment to the HTTP/2 inspector.

use flowengine::decode::LinkType;
use flowengine::{Config, Engine, EveOptions, EveWriter, Packet, Timestamp};
use flowengine_tests::frame::{self, flags, v4};
use loona_hpack::Encoder;
use serde_json::Value;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn h2frame(kind: u8, fl: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(fl);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn headers(
    enc: &mut Encoder<'_>,
    stream: u32,
    end_stream: bool,
    fields: &[(&str, &str)],
) -> Vec<u8> {
    let block = enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    h2frame(1, 0x4 | u8::from(end_stream), stream, &block)
}

/// Runs one TCP session to port 80 (true = client to server, one segment each) and
/// returns the EVE lines.
fn session(exchange: &[(bool, Vec<u8>)]) -> Vec<Value> {
    let config = Config::default();
    let set = flowengine_inspectors::builtin(&config).unwrap();
    let mut e = Engine::with_inspectors(
        &config,
        EveWriter::new(Vec::new(), EveOptions::default()),
        set,
    )
    .unwrap();
    let client = (v4(10, 200, 30, 140), 49792);
    let server = (v4(8, 8, 4, 4), 80);
    let mut t = 0;
    let mut push = |e: &mut Engine<EveWriter<Vec<u8>>>, data: Vec<u8>| {
        t += 1;
        e.push(&Packet {
            ts: Timestamp::from_secs_micros(1_672_176_378, t),
            link: LinkType::Ethernet,
            data: &data,
        });
    };
    let (mut cs, mut ss) = (1000u32, 5000u32);
    push(&mut e, frame::tcp(client, server, flags::SYN, cs, 0, b""));
    push(
        &mut e,
        frame::tcp(server, client, flags::SYN | flags::ACK, ss, cs + 1, b""),
    );
    cs += 1;
    ss += 1;
    push(&mut e, frame::tcp(client, server, flags::ACK, cs, ss, b""));
    for (to_server, data) in exchange {
        let f = flags::ACK | flags::PSH;
        if *to_server {
            push(&mut e, frame::tcp(client, server, f, cs, ss, data));
            cs += data.len() as u32;
        } else {
            push(&mut e, frame::tcp(server, client, f, ss, cs, data));
            ss += data.len() as u32;
        }
    }
    let (_, w) = e.finish();
    let out = w.finish().unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn dns_query() -> Vec<u8> {
    let mut m = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(b"\x03www\x07gstatic\x03com\x00\x00\x01\x00\x01");
    m
}

fn dns_answer() -> Vec<u8> {
    let mut m = vec![0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(b"\x03www\x07gstatic\x03com\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[
        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 142, 250, 185, 227,
    ]);
    m
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, &b)| a | u32::from(b) << (16 - 8 * i));
        for i in 0..=c.len() {
            s.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    s
}

#[test]
fn cleartext_doh_over_http2_makes_a_doh2_flow_with_a_dns_event() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let path = format!("/dns-query?dns={}", b64url(&dns_query()));
    let answer = dns_answer();
    let lines = session(&[
        (
            true,
            [
                PREFACE.to_vec(),
                h2frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]),
                headers(
                    &mut ce,
                    1,
                    true,
                    &[
                        (":method", "GET"),
                        (":scheme", "http"),
                        (":authority", "8.8.4.4"),
                        (":path", &path),
                        ("accept", "application/dns-message"),
                        ("user-agent", "Go-http-client/2.0"),
                    ],
                ),
            ]
            .concat(),
        ),
        (
            false,
            [
                h2frame(4, 0, 0, &[]),
                headers(
                    &mut se,
                    1,
                    false,
                    &[
                        (":status", "200"),
                        ("content-type", "application/dns-message"),
                    ],
                ),
                h2frame(0, 1, 1, &answer),
            ]
            .concat(),
        ),
    ]);
    // The client's SETTINGS is a connection event of its own (as `http`, on a doh2
    // flow too); the server's is empty, so nothing.
    assert_eq!(lines.len(), 3, "{lines:?}");
    let (settings, ev, flow) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(settings["event_type"], "http");
    assert_eq!(
        settings["http"]["http2"],
        serde_json::json!({"stream_id": 0, "request": {"settings": [
            {"settings_id": "SETTINGSMAXCONCURRENTSTREAMS", "settings_value": 100}]}})
    );
    assert_eq!(ev["event_type"], "dns");
    assert_eq!(ev["dns"]["type"], "response");
    assert_eq!(ev["dns"]["queries"][0]["rrname"], "www.gstatic.com");
    assert_eq!(ev["dns"]["answers"][0]["rdata"], "142.250.185.227");
    assert_eq!(ev["http"]["version"], "2");
    assert_eq!(ev["http"]["hostname"], "8.8.4.4");
    assert_eq!(ev["http"]["http_user_agent"], "Go-http-client/2.0");
    assert_eq!(ev["http"]["http2"]["stream_id"], 1);
    assert_eq!(ev["flow_id"], flow["flow_id"]);
    assert_eq!(flow["event_type"], "flow");
    assert_eq!(flow["app_proto"], "doh2");
    assert_eq!(flow["app_proto_orig"], "http2");
}

#[test]
fn an_h2c_upgrade_hands_the_rest_of_the_101_segment_to_http2() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let switching = [
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec(),
        h2frame(4, 0, 0, &[]),
        headers(
            &mut se,
            1,
            false,
            &[(":status", "200"), ("content-type", "text/plain")],
        ),
        h2frame(0, 1, 1, b"upgraded"),
    ]
    .concat();
    let lines = session(&[
        (
            true,
            b"GET /up HTTP/1.1\r\nHost: h2c.example\r\nConnection: Upgrade, HTTP2-Settings\r\n\
Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
                .to_vec(),
        ),
        (false, switching),
        (
            true,
            [
                PREFACE.to_vec(),
                h2frame(4, 0, 0, &[]),
                headers(
                    &mut ce,
                    3,
                    true,
                    &[
                        (":method", "GET"),
                        (":path", "/next"),
                        (":authority", "h2c.example"),
                    ],
                ),
            ]
            .concat(),
        ),
        (false, headers(&mut se, 3, true, &[(":status", "204")])),
    ]);
    let types: Vec<_> = lines
        .iter()
        .map(|l| l["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["http", "http", "http", "flow"], "{lines:?}");
    // The HTTP/1 request and its 101.
    assert_eq!(lines[0]["http"]["status"], 101);
    assert_eq!(lines[0]["http"]["protocol"], "HTTP/1.1");
    // Stream 3 completes first; stream 1 (the upgraded request, whose client half
    // HTTP/1 closed) at flow end, with the response that shared the 101's segment.
    assert_eq!(lines[1]["http"]["url"], "/next");
    assert_eq!(lines[1]["http"]["status"], 204);
    assert_eq!(lines[2]["http"]["http2"]["stream_id"], 1);
    assert_eq!(lines[2]["http"]["status"], 200);
    assert_eq!(lines[2]["http"]["http_content_type"], "text/plain");
    assert_eq!(lines[3]["app_proto"], "http2");
    assert_eq!(lines[3]["app_proto_orig"], "http");
}
