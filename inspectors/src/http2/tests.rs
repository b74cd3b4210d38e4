use super::frame::{FLAG_END_HEADERS as EH, FLAG_END_STREAM as ES, FLAG_PADDED};
use super::*;
use crate::text::harness::{bytewise, cs, info, sc, split, Piece};
use flowengine::inspect::{Actions, Transport};
use flowengine::Timestamp;
use loona_hpack::Encoder;
use proptest::prelude::*;
use serde_json::json;

/// What the inspector did over a whole exchange, with typed events.
#[derive(Debug, Default)]
struct Run {
    events: Vec<Http2Event>,
    upgrades: Vec<(&'static str, Option<Direction>)>,
    done: bool,
}

fn go_with(insp: &Http2Inspector, pieces: &[Piece]) -> Run {
    let flow = info(Transport::Tcp, 80);
    let mut fd = insp.start(&flow).unwrap();
    let mut out = Run::default();
    let take = |actions: Actions, out: &mut Run| {
        for e in &actions.events {
            // Every event renders, and renders what its typed value says.
            let typed = e.as_any().downcast_ref::<Http2Event>().unwrap();
            assert_eq!(e.to_json(), typed.to_json());
            out.events.push(typed.clone());
        }
        if let Some(u) = actions.upgrade {
            out.upgrades.push(u);
        }
        out.done |= actions.done;
    };
    for p in pieces {
        let mut actions = Actions::default();
        {
            let mut cx = Cx::new(Timestamp::ZERO, &flow, &mut actions);
            match p {
                Piece::Data(d, b) => fd.data(&mut cx, *d, Chunk::Data(b)),
                Piece::Gap(d, n) => fd.data(&mut cx, *d, Chunk::Gap(*n)),
            }
        }
        take(actions, &mut out);
        if out.done {
            return out;
        }
    }
    let mut actions = Actions::default();
    {
        let mut cx = Cx::new(Timestamp::ZERO, &flow, &mut actions);
        fd.end(&mut cx);
    }
    take(actions, &mut out);
    out
}

fn go(pieces: &[Piece]) -> Run {
    go_with(&Http2Inspector::new(), pieces)
}

impl Run {
    /// The stream events (not the connection's, on stream 0).
    fn streams(&self) -> Vec<&Http2Event> {
        self.events.iter().filter(|e| e.stream_id != 0).collect()
    }
}

/// A frame: header for `kind`, `flags`, `stream` and `payload`.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len() as u32;
    let mut f = n.to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn headers(enc: &mut Encoder<'_>, stream: u32, flags: u8, fields: &[(&str, &str)]) -> Vec<u8> {
    let block = enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    frame(1, flags | EH, stream, &block)
}

fn settings(entries: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in entries {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(4, 0, 0, &p)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn field(name: &str, value: &str) -> HeaderField {
    HeaderField::Field {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

const GET: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":authority", "www.example.com"),
    (":path", "/index.html"),
    ("user-agent", "curl/8.5.0"),
    ("accept", "*/*"),
];

/// A client opening with the preface and SETTINGS, one GET; the server's SETTINGS,
/// a 200 and a body in two DATA frames.
fn one_get() -> Vec<Piece> {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    vec![
        cs(&cat(&[
            PREFACE.to_vec(),
            settings(&[(3, 100), (4, 65535)]),
            headers(&mut ce, 1, ES, GET),
        ])),
        sc(&cat(&[
            settings(&[(3, 128)]),
            frame(4, 1, 0, b""),
            headers(
                &mut se,
                1,
                0,
                &[
                    (":status", "200"),
                    ("content-type", "text/html; charset=utf-8"),
                    ("content-length", "11"),
                ],
            ),
            frame(0, 0, 1, b"hello "),
            frame(0, ES, 1, b"world"),
        ])),
    ]
}

#[test]
fn one_stream_gives_one_http_event_with_suricatas_fields() {
    let r = go(&one_get());
    // The two SETTINGS frames are connection events of their own, then the stream.
    assert_eq!(r.events.len(), 3);
    assert_eq!(r.streams().len(), 1);
    let e = r.streams()[0];
    assert_eq!(e.event_type(), "http");
    assert!(e.siblings().is_empty());
    assert_eq!(
        e.to_json(),
        json!({
            "version": "2",
            "request_headers": [
                {"name": ":method", "value": "GET"},
                {"name": ":scheme", "value": "http"},
                {"name": ":authority", "value": "www.example.com"},
                {"name": ":path", "value": "/index.html"},
                {"name": "user-agent", "value": "curl/8.5.0"},
                {"name": "accept", "value": "*/*"}
            ],
            "response_headers": [
                {"name": ":status", "value": "200"},
                {"name": "content-type", "value": "text/html; charset=utf-8"},
                {"name": "content-length", "value": "11"}
            ],
            "http_method": "GET",
            "url": "/index.html",
            "hostname": "www.example.com",
            "http_user_agent": "curl/8.5.0",
            "http_content_type": "text/html",
            "status": 200,
            "length": 11,
            "http2": {"stream_id": 1}
        })
    );
    assert!(r.upgrades.is_empty());
    assert!(!r.done);
}

#[test]
fn the_event_comes_when_the_stream_completes_not_at_flow_end() {
    let pieces = one_get();
    let flow = info(Transport::Tcp, 80);
    let mut fd = Http2Inspector::new().start(&flow).unwrap();
    let mut counts = Vec::new();
    for p in &pieces {
        let mut a = Actions::default();
        if let Piece::Data(d, b) = p {
            fd.data(
                &mut Cx::new(Timestamp::ZERO, &flow, &mut a),
                *d,
                Chunk::Data(b),
            );
        }
        counts.push(a.events.len());
    }
    // The client's SETTINGS is an event at once; the stream's comes with its end.
    assert_eq!(counts, vec![1, 2]);
    let mut a = Actions::default();
    fd.end(&mut Cx::new(Timestamp::ZERO, &flow, &mut a));
    assert!(a.events.is_empty());
}

#[test]
fn a_host_header_wins_over_authority_and_the_last_value_counts() {
    let mut e = Encoder::new();
    let r = go(&[cs(&cat(&[
        PREFACE.to_vec(),
        headers(
            &mut e,
            1,
            ES,
            &[
                (":method", "GET"),
                (":authority", "a.example"),
                ("host", "b.example"),
            ],
        ),
    ]))]);
    assert_eq!(r.events[0].http_json()["hostname"], "b.example");
    assert!(r.events[0].http_json().get("status").is_none());
}

#[test]
fn headers_and_continuations_make_one_block() {
    let mut enc = Encoder::new();
    let block = enc.encode(GET.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    let (a, rest) = block.split_at(5);
    let (b, c) = rest.split_at(7);
    let client = cat(&[
        PREFACE.to_vec(),
        frame(1, ES, 1, a),
        frame(9, 0, 1, b),
        frame(9, EH, 1, c),
    ]);
    let mut se = Encoder::new();
    let server = headers(&mut se, 1, ES, &[(":status", "204")]);
    let r = go(&[cs(&client), sc(&server)]);
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.request_headers.len(), GET.len());
    assert_eq!(e.request_headers[3], field(":path", "/index.html"));
    assert_eq!(e.http_json()["status"], 204);
    // A CONTINUATION on another stream breaks the block: nothing decodes after it.
    let bad = cat(&[PREFACE.to_vec(), frame(1, ES, 1, a), frame(9, EH, 3, b)]);
    let r = go(&[cs(&bad)]);
    assert!(r.events.iter().all(|e| e.request_headers.is_empty()));
}

#[test]
fn the_hpack_dynamic_table_carries_across_requests() {
    let mut enc = Encoder::new();
    let req = |enc: &mut Encoder<'_>, stream, path: &str| {
        headers(
            enc,
            stream,
            ES,
            &[
                (":method", "GET"),
                (":path", path),
                (":authority", "cdn.example.net"),
                (
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                ),
                ("x-trace", "abc123"),
            ],
        )
    };
    let first = req(&mut enc, 1, "/a.js");
    let second = req(&mut enc, 3, "/b.js");
    // The second block refers to the table the first filled (`x-trace`, whose name
    // the static table lacks, is one index byte the second time).
    assert!(second.len() + 12 < first.len());
    let mut se = Encoder::new();
    let r = go(&[
        cs(&cat(&[PREFACE.to_vec(), first, second])),
        sc(&cat(&[
            headers(&mut se, 1, ES, &[(":status", "200")]),
            headers(&mut se, 3, ES, &[(":status", "404")]),
        ])),
    ]);
    assert_eq!(r.events.len(), 2);
    let b = &r.events[1];
    assert_eq!(b.stream_id, 3);
    assert_eq!(b.last(b"x-trace"), Some(&b"abc123"[..]));
    assert_eq!(b.http_json()["url"], "/b.js");
    assert_eq!(b.http_json()["hostname"], "cdn.example.net");
    assert_eq!(
        b.http_json()["http_user_agent"],
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
    );
    assert_eq!(b.http_json()["status"], 404);
}

#[test]
fn table_size_updates_are_logged_and_bounded_by_settings() {
    // 0x3f 0xe1 0x1f: a size update to 4096; then an indexed :method GET.
    let client = cat(&[
        PREFACE.to_vec(),
        frame(1, ES | EH, 1, &[0x3f, 0xe1, 0x1f, 0x82]),
    ]);
    let r = go(&[cs(&client)]);
    assert_eq!(
        r.events[0].request_headers,
        vec![HeaderField::TableSizeUpdate(4096), field(":method", "GET")]
    );
    assert_eq!(
        r.events[0].http_json()["request_headers"][0],
        json!({"table_size_update": 4096})
    );
    // The server allows 256 bytes: an update to 4096 breaks the client's HPACK state.
    let r = go(&[
        sc(&settings(&[(1, 256)])),
        cs(&cat(&[
            PREFACE.to_vec(),
            frame(1, ES | EH, 1, &[0x3f, 0xe1, 0x1f, 0x82]),
            frame(1, ES | EH, 3, &[0x82]),
        ])),
    ]);
    assert_eq!(r.streams().len(), 2);
    assert!(r.streams()[1].request_headers.is_empty());
}

#[test]
fn rst_stream_completes_the_stream_with_its_error_code() {
    let mut e = Encoder::new();
    let r = go(&[
        cs(&cat(&[PREFACE.to_vec(), headers(&mut e, 1, 0, GET)])),
        sc(&frame(3, 0, 1, &[0, 0, 0, 7])),
        cs(&frame(2, 0, 1, &[0, 0, 0, 0, 41])),
    ]);
    assert_eq!(r.events.len(), 1);
    // Suricata 8 names a RST_STREAM's code by its variant, and leaves an empty side
    // out.
    assert_eq!(
        r.events[0].http_json()["http2"],
        json!({"stream_id": 1, "response": {"error_code": "RefusedStream"}})
    );
}

#[test]
fn connection_frames_are_events_of_their_own_as_suricata_8_writes_them() {
    let goaway = |code: u32| {
        let mut p = 0u32.to_be_bytes().to_vec();
        p.extend(code.to_be_bytes());
        frame(7, 0, 0, &p)
    };
    let r = go(&[
        cs(&cat(&[
            PREFACE.to_vec(),
            settings(&[(1, 4096), (2, 0), (3, 100)]),
            frame(4, 1, 0, b""),           // SETTINGS ACK: nothing
            frame(6, 0, 0, &[0; 8]),       // PING: nothing
            frame(8, 0, 0, &[0, 0, 1, 0]), // WINDOW_UPDATE: nothing
            goaway(0),
        ])),
        sc(&cat(&[
            settings(&[(3, 128), (0x0a, 5), (4, 65535)]),
            goaway(0xb),
            goaway(0x99),
            frame(3, 0, 0, &1u32.to_be_bytes()), // RST_STREAM on stream 0
            frame(2, 0, 0, &[0, 0, 0, 0, 200]),  // PRIORITY on stream 0
        ])),
        cs(&settings(&[(0x20, 1), (3, 50)])),
    ]);
    let s = |id: &str, v: u32| json!({"settings_id": id, "settings_value": v});
    let got: Vec<Value> = r.events.iter().map(Http2Event::http_json).collect();
    let want: Vec<Value> = [
        json!({"request": {"settings": [
            s("SETTINGSHEADERTABLESIZE", 4096),
            s("SETTINGSENABLEPUSH", 0),
            s("SETTINGSMAXCONCURRENTSTREAMS", 100)]}}),
        json!({"request": {"error_code": "NOERROR"}}),
        // An identifier Suricata does not know ends the list.
        json!({"response": {"settings": [s("SETTINGSMAXCONCURRENTSTREAMS", 128)]}}),
        json!({"response": {"error_code": "ENHANCEYOURCALM"}}),
        json!({"response": {"error_code": "153"}}),
        json!({"response": {"error_code": "ProtocolError"}}),
        json!({"response": {"priority": 200}}),
        json!({"request": {"settings": []}}),
    ]
    .into_iter()
    .map(|mut side| {
        side["stream_id"] = json!(0);
        json!({"version": "2", "http2": side})
    })
    .collect();
    assert_eq!(got, want);
    assert!(r.events.iter().all(|e| e.event_type() == "http"));
}

#[test]
fn split_and_bytewise_delivery_give_the_same_events() {
    let whole = go(&one_get()).events;
    assert_eq!(go(&bytewise(&one_get())).events, whole);
    let doh = doh_get_exchange();
    assert_eq!(go(&bytewise(&doh)).events, go(&doh).events);
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        let whole = go(&one_get()).events;
        prop_assert_eq!(go(&split(&one_get(), &cuts)).events, whole);
        let doh = doh_post_exchange();
        let whole = go(&doh);
        let parts = go(&split(&doh, &cuts));
        prop_assert_eq!(parts.events, whole.events);
        prop_assert_eq!(parts.upgrades, whole.upgrades);
    }

    #[test]
    fn random_bytes_after_the_preface_never_panic(
        a in proptest::collection::vec(any::<u8>(), 0..600),
        b in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut c = PREFACE.to_vec();
        c.extend_from_slice(&a);
        let _ = go(&[cs(&c), sc(&b), Piece::Gap(Direction::ToClient, 3), sc(&a)]);
    }
}

/// A DNS query for `example.com` A, id 0x1234.
fn dns_query() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    m
}

/// Its answer: 93.184.215.14.
fn dns_answer() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[
        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 93, 184, 215, 14,
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

/// DoH as a GET (RFC 8484 §4.1): the query in `dns=`, the answer as the body.
fn doh_get_exchange() -> Vec<Piece> {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let path = format!("/dns-query?dns={}", b64url(&dns_query()));
    let answer = dns_answer();
    vec![
        cs(&cat(&[
            PREFACE.to_vec(),
            settings(&[]),
            headers(
                &mut ce,
                1,
                ES,
                &[
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":authority", "dns.example"),
                    (":path", &path),
                    ("accept", "application/dns-message"),
                ],
            ),
        ])),
        sc(&cat(&[
            settings(&[]),
            headers(
                &mut se,
                1,
                0,
                &[
                    (":status", "200"),
                    ("content-type", "application/dns-message"),
                    ("content-length", &answer.len().to_string()),
                ],
            ),
            // Padded, as DoH servers do.
            frame(0, ES | FLAG_PADDED, 1, &cat(&[vec![3], answer, vec![0; 3]])),
        ])),
    ]
}

/// DoH as a POST: the query as the request body.
fn doh_post_exchange() -> Vec<Piece> {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let q = dns_query();
    vec![
        cs(&cat(&[
            PREFACE.to_vec(),
            headers(
                &mut ce,
                1,
                0,
                &[
                    (":method", "POST"),
                    (":path", "/dns-query"),
                    (":authority", "dns.example"),
                    ("content-type", "application/dns-message"),
                ],
            ),
            frame(0, 0, 1, &q[..10]),
            frame(0, ES, 1, &q[10..]),
        ])),
        sc(&headers(&mut se, 1, ES, &[(":status", "415")])),
    ]
}

#[test]
fn a_doh_get_renames_the_flow_doh2_and_logs_the_answer() {
    let r = go(&doh_get_exchange());
    assert_eq!(r.upgrades, vec![("doh2", None)]);
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.event_type(), "dns");
    let dns = e.to_json();
    assert_eq!(dns["type"], "response");
    assert_eq!(dns["id"], 0x1234);
    assert_eq!(dns["queries"][0]["rrname"], "example.com");
    assert_eq!(dns["answers"][0]["rdata"], "93.184.215.14");
    let sib = e.siblings();
    assert_eq!(sib.len(), 1);
    assert_eq!(sib[0].0, "http");
    assert_eq!(sib[0].1["http_content_type"], "application/dns-message");
    assert_eq!(sib[0].1["status"], 200);
    assert_eq!(sib[0].1["version"], "2");
}

#[test]
fn a_doh_post_is_parsed_from_its_body_at_end_of_stream() {
    let r = go(&doh_post_exchange());
    assert_eq!(r.upgrades, vec![("doh2", None)]);
    let e = &r.events[0];
    assert_eq!(e.event_type(), "dns");
    assert_eq!(e.to_json()["type"], "request");
    assert_eq!(e.to_json()["queries"][0]["rrname"], "example.com");
}

#[test]
fn only_a_dns_message_that_parses_makes_doh() {
    let mut ce = Encoder::new();
    // Accepts DNS, but `dns=` is not a DNS message; and a plain GET.
    let r = go(&[cs(&cat(&[
        PREFACE.to_vec(),
        headers(
            &mut ce,
            1,
            ES,
            &[
                (":method", "GET"),
                (":path", "/dns-query?dns=AAAA"),
                ("accept", "application/dns-message"),
            ],
        ),
        headers(&mut ce, 3, ES, &[(":method", "GET"), (":path", "/?dns=x")]),
    ]))]);
    assert!(r.upgrades.is_empty());
    assert!(r.events.iter().all(|e| e.event_type() == "http"));
    // Turned off, a real DoH exchange stays http2.
    let r = go_with(&Http2Inspector::new().with_doh2(false), &doh_get_exchange());
    assert!(r.upgrades.is_empty());
    assert_eq!(r.events[0].event_type(), "http");
}

#[test]
fn base64url_and_the_dns_parameter() {
    assert_eq!(base64url(b"AAAA"), Some(vec![0, 0, 0]));
    assert_eq!(base64url(b"_-8"), Some(vec![0xff, 0xef]));
    assert_eq!(base64url(b"QQ=="), Some(b"A".to_vec()));
    assert_eq!(base64url(b"Q"), None);
    assert_eq!(base64url(b"Q=Q"), None);
    assert_eq!(base64url(b"a*b"), None);
    assert_eq!(doh_query(b"/q?ct&dns=AAAA&x=1"), Some(vec![0, 0, 0]));
    assert_eq!(doh_query(b"/q?xdns=AAAA"), None);
    assert_eq!(doh_query(b"/dns-query"), None);
}

#[test]
fn a_gap_in_headers_stops_that_side_and_its_hpack_state() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let r = go(&[
        cs(&cat(&[PREFACE.to_vec(), headers(&mut ce, 1, ES, GET)])),
        Piece::Gap(Direction::ToServer, 20),
        cs(&headers(&mut ce, 3, ES, GET)),
        sc(&cat(&[
            headers(&mut se, 1, ES, &[(":status", "200")]),
            headers(&mut se, 3, ES, &[(":status", "200")]),
        ])),
    ]);
    // Stream 1 completes; stream 3 is known only from the server, and ends at flow end.
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.events[0].http_json()["url"], "/index.html");
    assert!(r.events[1].request_headers.is_empty());
    assert_eq!(r.events[1].http_json()["status"], 200);
    // Both sides stopped: the inspector says it is done, and emits what it holds.
    let r = go(&[
        cs(&cat(&[
            PREFACE.to_vec(),
            headers(&mut Encoder::new(), 1, 0, GET),
        ])),
        Piece::Gap(Direction::ToServer, 5),
        Piece::Gap(Direction::ToClient, 5),
        cs(b"never read"),
    ]);
    assert!(r.done);
    assert_eq!(r.events.len(), 1);
}

#[test]
fn a_gap_inside_a_data_payload_is_skipped() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let body = frame(0, ES, 1, &[b'x'; 100]);
    let r = go(&[
        cs(&cat(&[
            PREFACE.to_vec(),
            headers(&mut ce, 1, ES, GET),
            headers(&mut ce, 3, ES, GET),
        ])),
        sc(&cat(&[
            headers(&mut se, 1, 0, &[(":status", "200")]),
            body[..30].to_vec(),
        ])),
        Piece::Gap(Direction::ToClient, 50),
        sc(&cat(&[
            body[80..].to_vec(),
            headers(&mut se, 3, ES, &[(":status", "302")]),
        ])),
    ]);
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.events[0].stream_id, 1);
    assert_eq!(r.events[1].http_json()["status"], 302);
    assert!(!r.done);
}

#[test]
fn without_a_preface_frames_are_read_from_the_first_byte() {
    // After `Upgrade: h2c`, a client that skips the preface; and one that sends it.
    let mut e = Encoder::new();
    let r = go(&[cs(&cat(&[settings(&[]), headers(&mut e, 3, ES, GET)]))]);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].stream_id, 3);
    // A client side that starts like the preface but is not one stops.
    let r = go(&[cs(b"PRI * HTTP/1.1\r\n\r\n"), sc(&settings(&[]))]);
    assert!(r.events.is_empty());
}

#[test]
fn streams_are_bounded_and_the_oldest_goes_first() {
    let mut e = Encoder::new();
    let mut c = PREFACE.to_vec();
    for i in 0..(MAX_STREAMS as u32 + 3) {
        c.extend(headers(&mut e, 1 + 2 * i, 0, GET));
    }
    let flow = info(Transport::Tcp, 80);
    let mut fd = Http2Inspector::new().start(&flow).unwrap();
    let mut a = Actions::default();
    fd.data(
        &mut Cx::new(Timestamp::ZERO, &flow, &mut a),
        Direction::ToServer,
        Chunk::Data(&c),
    );
    let ids: Vec<u32> = a
        .events
        .iter()
        .map(|e| e.as_any().downcast_ref::<Http2Event>().unwrap().stream_id)
        .collect();
    assert_eq!(ids, vec![1, 3, 5]);
    let mut a = Actions::default();
    fd.end(&mut Cx::new(Timestamp::ZERO, &flow, &mut a));
    assert_eq!(a.events.len(), MAX_STREAMS);
}

#[test]
fn an_oversize_header_frame_is_skipped_and_its_side_loses_hpack() {
    let mut e = Encoder::new();
    let big = vec![0x82; BLOCK_CAP + 1];
    let mut se = Encoder::new();
    let r = go(&[
        cs(&cat(&[
            PREFACE.to_vec(),
            frame(1, ES | EH, 1, &big),
            headers(&mut e, 3, ES, GET),
        ])),
        sc(&headers(&mut se, 3, ES, &[(":status", "200")])),
    ]);
    // Stream 1 never shows (its frame was skipped); stream 3 completes undecoded on
    // the client side.
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].stream_id, 3);
    assert!(r.events[0].request_headers.is_empty());
    assert_eq!(r.events[0].http_json()["status"], 200);
}

#[test]
fn push_promise_headers_are_the_promised_streams_request() {
    let (mut ce, mut se) = (Encoder::new(), Encoder::new());
    let promise = se.encode([(&b":method"[..], &b"GET"[..]), (b":path", b"/style.css")]);
    let mut pp = vec![0, 0, 0, 2];
    pp.extend_from_slice(&promise);
    let r = go(&[
        cs(&cat(&[PREFACE.to_vec(), headers(&mut ce, 1, ES, GET)])),
        sc(&cat(&[
            frame(5, EH, 1, &pp),
            headers(&mut se, 1, ES, &[(":status", "200")]),
            headers(
                &mut se,
                2,
                ES,
                &[(":status", "200"), ("content-type", "text/css")],
            ),
        ])),
    ]);
    // Stream 2 waits for its client side, which never ends it: flow end emits it.
    assert_eq!(r.events.len(), 2);
    let pushed = &r.events[1];
    assert_eq!(pushed.stream_id, 2);
    assert_eq!(pushed.http_json()["url"], "/style.css");
    assert_eq!(pushed.http_json()["http_content_type"], "text/css");
}
