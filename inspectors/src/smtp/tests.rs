use super::*;
use crate::text::harness::{bytewise, cs, info, run, sc, split, Outcome, Piece};
use flowengine::inspect::Transport;
use proptest::prelude::*;
use serde_json::json;

fn go(pieces: &[Piece]) -> Outcome {
    run(&SmtpInspector::new(), &info(Transport::Tcp, 25), pieces)
}

/// A session as a mail client and a server write it, one message.
fn session() -> Vec<Piece> {
    vec![
        sc(b"220 mx.example.com ESMTP Postfix\r\n"),
        cs(b"EHLO client.example.org\r\n"),
        sc(b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"),
        cs(b"MAIL FROM:<alice@example.org> SIZE=321\r\n"),
        sc(b"250 2.1.0 Ok\r\n"),
        cs(b"RCPT TO:<bob@example.com>\r\n"),
        sc(b"250 2.1.5 Ok\r\n"),
        cs(b"RCPT TO: <carol@example.com>\r\n"),
        sc(b"250 2.1.5 Ok\r\n"),
        cs(b"DATA\r\n"),
        sc(b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        cs(b"From: \"Alice\" <alice@example.org>\r\nTo: Bob <bob@example.com>,\r\n carol@example.com\r\nSubject: Quarterly\r\n report\r\nMIME-Version: 1.0\r\n\r\nHello Bob,\r\nFrom: not a header\r\n..leading dot\r\n.\r\n"),
        sc(b"250 2.0.0 Ok: queued as 4F2A1\r\n"),
        cs(b"QUIT\r\n"),
        sc(b"221 2.0.0 Bye\r\n"),
    ]
}

fn expected() -> Vec<(&'static str, Value)> {
    // As Suricata's app-layer-smtp.c reads the parameters (brackets kept, SIZE option
    // dropped) and output-json-smtp.c names them.
    vec![(
        "smtp",
        json!({"helo": "client.example.org", "mail_from": "<alice@example.org>",
               "rcpt_to": ["<bob@example.com>", "<carol@example.com>"]}),
    )]
}

#[test]
fn one_message_gives_suricatas_smtp_object() {
    let o = go(&session());
    assert_eq!(o.events, expected());
    assert!(!o.done);
}

#[test]
fn email_headers_are_read_from_data() {
    let mut events = Vec::new();
    let flow = info(Transport::Tcp, 25);
    let mut fd = SmtpInspector::new().start(&flow).unwrap();
    for p in session() {
        let mut actions = flowengine::inspect::Actions::default();
        let mut cx = Cx::new(flowengine::Timestamp::ZERO, &flow, &mut actions);
        if let Piece::Data(dir, bytes) = &p {
            fd.data(&mut cx, *dir, Chunk::Data(bytes));
        }
        events.extend(actions.events);
    }
    let ev = events[0].as_any().downcast_ref::<SmtpEvent>().unwrap();
    assert_eq!(
        ev.email_json(),
        Some(
            json!({"status": "PARSED_COMPLETE", "from": "\"Alice\" <alice@example.org>",
                    "to": ["Bob <bob@example.com>", "carol@example.com"],
                    "subject": "Quarterly report"})
        )
    );
}

#[test]
fn byte_by_byte_gives_the_same_events() {
    assert_eq!(go(&bytewise(&session())).events, expected());
}

#[test]
fn several_transactions_and_rset() {
    let o = go(&[
        sc(b"220 hi\r\n"),
        cs(b"HELO a\r\nMAIL FROM:<x@a>\r\nRCPT TO:<y@b>\r\nRSET\r\nMAIL FROM:<z@a>\r\nRCPT TO:<w@b>\r\nDATA\r\n"),
        sc(b"250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        cs(b"Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<q@a>\r\nRCPT TO:<r@b>\r\nQUIT\r\n"),
    ]);
    let ev: Vec<Value> = o.events.iter().map(|(_, v)| v.clone()).collect();
    assert_eq!(
        ev,
        vec![
            json!({"helo": "a", "mail_from": "<x@a>", "rcpt_to": ["<y@b>"]}),
            json!({"helo": "a", "mail_from": "<z@a>", "rcpt_to": ["<w@b>"]}),
            json!({"helo": "a", "mail_from": "<q@a>", "rcpt_to": ["<r@b>"]}),
        ]
    );
}

fn starttls_session() -> Vec<Piece> {
    vec![
        sc(b"220 mx.example.com ESMTP\r\n"),
        cs(b"EHLO laptop\r\n"),
        sc(b"250-mx.example.com\r\n250-STARTTLS\r\n250 SIZE 1000\r\n"),
        cs(b"STARTTLS\r\n"),
        sc(b"220 2.0.0 Ready to start TLS\r\n"),
        cs(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    ]
}

#[test]
fn starttls_accepted_upgrades_to_tls() {
    let o = go(&starttls_session());
    assert_eq!(o.upgrade, Some(("tls", None)));
    assert!(o.done);
    assert_eq!(o.events, vec![("smtp", json!({"helo": "laptop"}))]);
}

#[test]
fn starttls_with_server_bytes_seen_first_still_upgrades() {
    // The engine may replay one direction's bytes before the other's.
    let s = starttls_session();
    let mut reordered: Vec<Piece> = s
        .iter()
        .filter(|p| matches!(p, Piece::Data(Direction::ToClient, _)))
        .cloned()
        .collect();
    reordered.extend(
        s.iter()
            .filter(|p| matches!(p, Piece::Data(Direction::ToServer, _)))
            .cloned(),
    );
    let o = go(&reordered);
    assert_eq!(o.upgrade, Some(("tls", None)));
}

#[test]
fn starttls_refused_does_not_upgrade() {
    let o = go(&[
        sc(b"220 hi\r\n"),
        cs(b"EHLO a\r\n"),
        sc(b"250 hi\r\n"),
        cs(b"STARTTLS\r\n"),
        sc(b"454 4.7.0 TLS not available\r\n"),
        cs(b"MAIL FROM:<a@b>\r\n"),
    ]);
    assert_eq!(o.upgrade, None);
    assert!(!o.done);
    assert_eq!(o.events.len(), 1);
}

#[test]
fn bdat_chunks_are_skipped() {
    let o = go(&[
        sc(b"220 hi\r\n"),
        cs(b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 12 LAST\r\nRCPT TO:<x>\r\nQUIT\r\n"),
    ]);
    assert_eq!(
        o.events,
        vec![(
            "smtp",
            json!({"helo": "a", "mail_from": "<a@b>", "rcpt_to": ["<c@d>"]})
        )]
    );
}

#[test]
fn gap_emits_the_open_transaction_and_stops() {
    let o = go(&[
        sc(b"220 hi\r\n"),
        cs(b"HELO a\r\nMAIL FROM:<a@b>\r\n"),
        Piece::Gap(Direction::ToServer, 100),
        cs(b"RCPT TO:<c@d>\r\n"),
    ]);
    assert!(o.done);
    assert_eq!(
        o.events,
        vec![("smtp", json!({"helo": "a", "mail_from": "<a@b>"}))]
    );
}

#[test]
fn a_session_whose_commands_fill_nothing_still_logs_its_transaction() {
    // suricata-verify's smtp-quit: the server closes, the client says QUIT.
    let o = go(&[sc(b""), cs(b"QUIT\r\n")]);
    assert_eq!(o.events, vec![("smtp", json!({}))]);
    // A banner alone, no command: no transaction, no event.
    let o = go(&[sc(b"220 mx.example.com ESMTP\r\n")]);
    assert!(o.events.is_empty());
    // After a logged transaction, a QUIT opens none.
    assert_eq!(go(&session()).events, expected());
}

#[test]
fn garbage_stops_the_inspector() {
    let o = go(&[sc(b"\x00\x01binary junk\r\n")]);
    assert!(o.done);
    let long = vec![b'A'; 10_000];
    let o = go(&[cs(&long)]);
    assert!(o.done);
    let o = go(&[cs(
        b"a\r\nb\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\ni\r\nj\r\nk\r\n",
    )]);
    assert!(o.done);
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in proptest::collection::vec(any::<usize>(), 0..60)) {
        prop_assert_eq!(go(&split(&session(), &cuts)).events, expected());
        prop_assert_eq!(go(&split(&starttls_session(), &cuts)), go(&starttls_session()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..120)), 0..20)
    ) {
        let pieces: Vec<Piece> = chunks
            .into_iter()
            .map(|(to_server, mut bytes)| {
                bytes.extend(b"\r\n");
                if to_server { cs(&bytes) } else { sc(&bytes) }
            })
            .collect();
        let _ = go(&pieces);
    }
}
