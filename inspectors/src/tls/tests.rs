//! End-to-end tests of the TLS inspector: real-shaped TLS 1.2 and 1.3 exchanges fed
//! through [`FlowData`] in every kind of split, and what it makes of bad input.

use super::testdata::*;
use super::*;
use flowengine::inspect::{Actions, Transport};
use flowengine::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};

fn flow_info() -> FlowInfo {
    FlowInfo {
        flow_id: 7,
        transport: Transport::Tcp,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 50000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443),
    }
}

/// What the inspector did with a flow.
#[derive(Debug, Default, PartialEq)]
struct Run {
    events: Vec<Value>,
    /// Index of the chunk after which it asked for no more data.
    done_at: Option<usize>,
}

/// Feeds `chunks` as the engine would (stopping at `done`), then ends the flow.
fn run(chunks: &[(Direction, Chunk<'_>)]) -> Run {
    let info = flow_info();
    let fd = TlsInspector::new().start(&info);
    let mut fd = fd.expect("TCP flows are inspected");
    let mut out = Run::default();
    for (i, (dir, chunk)) in chunks.iter().enumerate() {
        let mut actions = Actions::default();
        let mut cx = Cx::new(Timestamp::from_nanos(i as u64), &info, &mut actions);
        fd.data(&mut cx, *dir, *chunk);
        let done = actions.done;
        collect(&mut out, actions);
        if done {
            out.done_at = Some(i);
            break;
        }
    }
    let mut actions = Actions::default();
    let mut cx = Cx::new(Timestamp::from_nanos(99), &info, &mut actions);
    fd.end(&mut cx);
    collect(&mut out, actions);
    out
}

fn collect(out: &mut Run, actions: Actions) {
    for e in &actions.events {
        assert_eq!(e.event_type(), "tls");
        let typed = e.as_any().downcast_ref::<TlsEvent>().expect("a TlsEvent");
        assert_eq!(typed.to_json(), e.to_json());
        out.events.push(e.to_json());
    }
}

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

fn tls12_client() -> Vec<u8> {
    let exts = vec![
        ext_sni("www.example.com"),
        ext(0x000a, &u16_list(&[0x001d, 0x0017])),
        ext(0x000b, &[1, 0]),
        ext_alpn(&[b"h2", b"http/1.1"]),
        ext(0x000d, &u16_list(&[0x0403, 0x0804])),
    ];
    let ch = client_hello(0x0303, &[], &[0xc02b, 0xc02f, 0x009c], &exts);
    record(22, &handshake(1, &ch))
}

fn tls12_server() -> Vec<u8> {
    let sh = server_hello(
        &[0x33; 32],
        0xc02f,
        &[ext(0xff01, &[0]), ext_alpn(&[b"h2"]), ext(0x000b, &[1, 0])],
    );
    let mut msgs = handshake(2, &sh);
    msgs.extend(handshake(11, &certificate_msg(&[certificate_der()])));
    msgs.extend(handshake(12, &[3, 0, 0x1d, 65, 4, 1, 2]));
    msgs.extend(handshake(14, &[]));
    record(22, &msgs)
}

fn tls12_expected() -> Value {
    json!({
        "subject": "C=US, O=Example Org, CN=www.example.com",
        "issuerdn": "C=US, O=Example CA, CN=Example Issuing CA",
        "serial": "1F:2E:3D:4C:5B",
        "fingerprint": CERT_SHA1,
        "sni": "www.example.com",
        "version": "TLS 1.2",
        "notbefore": "2024-01-01T00:00:00",
        "notafter": "2034-12-31T23:59:59",
        "ja3": {
            "string": "771,49195-49199-156,0-10-11-16-13,29-23,0",
            "hash": md5_hex("771,49195-49199-156,0-10-11-16-13,29-23,0"),
        },
        "ja3s": {
            "string": "771,49199,65281-16-11",
            "hash": md5_hex("771,49199,65281-16-11"),
        },
        "ja4": JA4_TLS12,
        "client_alpns": ["h2", "http/1.1"],
        "server_alpns": ["h2"],
    })
}

/// SHA-1 of [`certificate_der`], computed once with `sha1sum` on the DER it builds
/// (and `openssl x509 -inform der` reads that DER as the same subject, issuer,
/// serial and dates).
const CERT_SHA1: &str = "0f:a6:f0:bf:e1:ef:c8:a1:d0:47:f6:12:9f:1f:cf:07:05:d0:b4:3e";
/// JA4 of [`tls12_client`], computed by hand from the FoxIO rules and checked with
/// Python's hashlib: `t12d0305h2` + sha256("009c,c02b,c02f")[:12] +
/// sha256("000a,000b,000d_0403,0804")[:12].
const JA4_TLS12: &str = "t12d0305h2_b80a1783d7a2_876bcc86782c";

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    ja3::hex(&Md5::digest(s.as_bytes()))
}

#[test]
fn tls12_exchange_gives_every_field_and_stops_after_the_certificate() {
    let (c, s) = (tls12_client(), tls12_server());
    let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
    assert_eq!(r.events, vec![tls12_expected()]);
    assert_eq!(r.done_at, Some(1));
}

fn tls13_client() -> Vec<u8> {
    record(22, &handshake(1, &foxio_client_hello("example.net")))
}

fn tls13_server() -> Vec<u8> {
    let mut ks = be16(0x001d).to_vec();
    ks.extend(with_len(2, &[0x24; 32]));
    let sh = server_hello(&[0x55; 32], 0x1301, &[ext(43, &[3, 4]), ext(51, &ks)]);
    let mut v = record(22, &handshake(2, &sh));
    v.extend(record(20, &[1]));
    v.extend(record(23, &[0x17; 60]));
    v
}

fn tls13_expected() -> Value {
    let ja3 = "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
               27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0";
    json!({
        "sni": "example.net",
        "version": "TLS 1.3",
        "ja3": { "string": ja3, "hash": md5_hex(ja3) },
        "ja3s": { "string": "771,4865,43-51", "hash": md5_hex("771,4865,43-51") },
        "ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1",
        "client_alpns": ["h2", "http/1.1"],
    })
}

#[test]
fn tls13_exchange_uses_supported_versions_and_ends_at_the_encrypted_part() {
    let (c, s) = (tls13_client(), tls13_server());
    let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
    assert_eq!(r.events, vec![tls13_expected()]);
    assert_eq!(r.done_at, Some(1));
}

#[test]
fn ja4_matches_the_foxio_published_example_with_grease_ignored() {
    let ch = ClientHello::parse(&foxio_client_hello("example.net")).expect("parses");
    // GREASE is in the lists as sent...
    assert!(ch.ciphers.contains(&0x0a0a) && ch.extensions.contains(&0x1a1a));
    // ...and out of the fingerprints: FoxIO's JA4.md gives this value for this hello.
    assert_eq!(
        ja4(&ch, Ja4Transport::Tcp),
        "t13d1516h2_8daaf6152771_e5627efa2ab1"
    );
    assert_eq!(
        ja4(&ch, Ja4Transport::Quic),
        "q13d1516h2_8daaf6152771_e5627efa2ab1"
    );
    assert!(
        !Ja3::client(&ch).string.contains("2570"),
        "no GREASE in JA3"
    );
}

#[test]
fn ja3_matches_the_salesforce_published_example() {
    // The example of salesforce/ja3's README: a TLS 1.0 ClientHello with 12 ciphers,
    // SNI, supported_groups 23-24-25 and point format 0.
    let ch = client_hello(
        0x0301,
        &[],
        &[47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
        &[
            ext_sni("example.org"),
            ext(10, &u16_list(&[23, 24, 25])),
            ext(11, &[1, 0]),
        ],
    );
    let ja3 = Ja3::client(&ClientHello::parse(&ch).expect("parses"));
    assert_eq!(
        ja3.string,
        "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
    );
    assert_eq!(ja3.hash, "ada70206e40642a3e4461f35503241d5");
}

#[test]
fn ja4_edge_rules() {
    let mk = |alpn: Option<&[u8]>, exts: Vec<(u16, Vec<u8>)>| {
        let mut e = exts;
        if let Some(a) = alpn {
            e.push(ext_alpn(&[a]));
        }
        let ch = ClientHello::parse(&client_hello(0x0303, &[], &[], &e)).expect("parses");
        ja4(&ch, Ja4Transport::Tcp)
    };
    // No ciphers, no extensions besides ALPN: zero hashes, "i" for no SNI.
    assert_eq!(
        mk(Some(b"h2"), vec![]),
        "t12i0001h2_000000000000_000000000000"
    );
    // Single-character ALPN: that character twice.
    assert!(mk(Some(b"x"), vec![]).starts_with("t12i0001xx_"));
    // Non-alphanumeric ALPN bytes: first and last hex digits of the value.
    assert!(mk(Some(&[0x30, 0xab]), vec![]).starts_with("t12i00013b_"));
    assert!(mk(Some(&[0x30, 0xab, 0xcd, 0x31]), vec![]).starts_with("t12i000101_"));
    assert!(mk(None, vec![]).starts_with("t12i000000_"));
    // Extensions without signature algorithms: no trailing underscore in the hash
    // input (FoxIO's example: 6d807ffa2a79).
    let exts: Vec<(u16, Vec<u8>)> = [
        0x0005u16, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d,
        0x0033, 0x4469, 0xff01,
    ]
    .iter()
    .map(|t| ext(*t, &[]))
    .collect();
    assert_eq!(mk(None, exts), "t12i001400_000000000000_6d807ffa2a79");
}

/// The four streams of a flow cut at arbitrary points, interleaved the way packets
/// arrive (client first, then alternating).
fn split_run(c: &[u8], s: &[u8], cuts_c: &[usize], cuts_s: &[usize]) -> Run {
    let pieces = |b: &[u8], cuts: &[usize]| -> Vec<(usize, usize)> {
        let mut pts: Vec<usize> = cuts.iter().map(|x| x % (b.len() + 1)).collect();
        pts.push(0);
        pts.push(b.len());
        pts.sort_unstable();
        pts.dedup();
        pts.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let pc = pieces(c, cuts_c);
    let ps = pieces(s, cuts_s);
    let mut chunks = Vec::new();
    for (a, b) in &pc {
        chunks.push((C, Chunk::Data(&c[*a..*b])));
    }
    for (a, b) in &ps {
        chunks.push((S, Chunk::Data(&s[*a..*b])));
    }
    run(&chunks)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_split_gives_the_same_event(
        cuts_c in prop::collection::vec(0usize..4000, 0..12),
        cuts_s in prop::collection::vec(0usize..4000, 0..12),
        rec in 1usize..600,
    ) {
        // TLS 1.2 with every handshake message also fragmented over records of `rec`
        // bytes (so messages span records and records hold several messages).
        let c = handshake_records(&handshake(1, &client_hello_for_split()), rec);
        let s = tls12_server_fragmented(rec);
        let r = split_run(&c, &s, &cuts_c, &cuts_s);
        prop_assert_eq!(r.events, vec![tls12_expected()]);

        let (c, s) = (tls13_client(), tls13_server());
        let r = split_run(&c, &s, &cuts_c, &cuts_s);
        prop_assert_eq!(r.events, vec![tls13_expected()]);
    }

    #[test]
    fn garbage_never_panics_and_gives_at_most_one_event(
        a in prop::collection::vec(any::<u8>(), 0..300),
        b in prop::collection::vec(any::<u8>(), 0..300),
        gap in any::<bool>(),
    ) {
        let mut chunks = vec![(C, Chunk::Data(&a[..]))];
        if gap {
            chunks.push((S, Chunk::Gap(10)));
        }
        chunks.push((S, Chunk::Data(&b[..])));
        let r = run(&chunks);
        prop_assert!(r.events.len() <= 1);
    }

    #[test]
    fn mutated_hellos_never_panic(
        pos in 0usize..400,
        val in any::<u8>(),
        cut in 0usize..600,
    ) {
        let mut c = tls13_client();
        let mut s = tls12_server();
        let n = c.len();
        c[pos % n] = val;
        let m = s.len();
        s[(pos * 7) % m] ^= val;
        s.truncate(cut.min(m));
        let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
        prop_assert!(r.events.len() <= 1);
    }
}

fn client_hello_for_split() -> Vec<u8> {
    // The body inside tls12_client's record.
    let rec = tls12_client();
    rec[9..].to_vec()
}

fn tls12_server_fragmented(rec: usize) -> Vec<u8> {
    let whole = tls12_server();
    handshake_records(&whole[5..], rec)
}

#[test]
fn fragmented_handshake_one_byte_records_and_one_byte_chunks() {
    let c = handshake_records(&handshake(1, &client_hello_for_split()), 1);
    let s = tls12_server_fragmented(7);
    let mut chunks: Vec<(Direction, Chunk<'_>)> = Vec::new();
    chunks.extend(c.chunks(1).map(|b| (C, Chunk::Data(b))));
    chunks.extend(s.chunks(1).map(|b| (S, Chunk::Data(b))));
    let r = run(&chunks);
    assert_eq!(r.events, vec![tls12_expected()]);
}

#[test]
fn gap_ends_inspection_with_what_was_seen() {
    let c = tls13_client();
    let r = run(&[
        (C, Chunk::Data(&c)),
        (S, Chunk::Gap(1460)),
        (S, Chunk::Data(&tls13_server())),
    ]);
    assert_eq!(r.done_at, Some(1));
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0]["sni"], "example.net");
    // No ServerHello: the client's first offered version (Suricata 8.0.3 and later).
    assert_eq!(r.events[0]["version"], "TLS 1.3");
    assert!(r.events[0].get("ja3s").is_none());
}

#[test]
fn client_hello_only_is_reported_at_flow_end_when_it_offers_a_ticket() {
    // Without a session_ticket extension Suricata writes no tls event for it.
    let c = tls12_client();
    let r = run(&[(C, Chunk::Data(&c))]);
    assert_eq!(r.done_at, None);
    assert!(r.events.is_empty());
    // With one (a resumption in sight), at flow end, with the client's version.
    let exts = [
        ext_sni("www.example.com"),
        ext_alpn(&[b"h2", b"http/1.1"]),
        ext(35, &[]),
    ];
    let c = record(
        22,
        &handshake(1, &client_hello(0x0303, &[], &[0xc02f], &exts)),
    );
    let r = run(&[(C, Chunk::Data(&c))]);
    assert_eq!(r.done_at, None);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0]["sni"], "www.example.com");
    assert_eq!(r.events[0]["client_alpns"], json!(["h2", "http/1.1"]));
    assert_eq!(r.events[0]["version"], "TLS 1.2");
    assert!(
        r.events[0].get("session_resumed").is_none(),
        "no ServerHello"
    );
}

#[test]
fn without_a_server_hello_the_version_is_the_clients_first_valid_offer() {
    let ticket = ext(35, &[]);
    let version = |legacy: u16, offered: &[u16], server: &[u8]| {
        let mut exts = vec![ext_sni("v.example"), ticket.clone()];
        if !offered.is_empty() {
            exts.push(ext_versions(offered));
        }
        let c = record(
            22,
            &handshake(1, &client_hello(legacy, &[], &[0x1301], &exts)),
        );
        let mut chunks = vec![(C, Chunk::Data(&c))];
        if !server.is_empty() {
            chunks.push((S, Chunk::Data(server)));
        }
        let r = run(&chunks);
        r.events[0]["version"].as_str().unwrap().to_owned()
    };
    assert_eq!(version(0x0301, &[], b""), "TLSv1");
    assert_eq!(version(0x0303, &[], b""), "TLS 1.2");
    assert_eq!(version(0x0303, &[0x0a0a, 0x0304, 0x0303], b""), "TLS 1.3");
    // The first valid entry, not the highest.
    assert_eq!(version(0x0303, &[0x0303, 0x0304], b""), "TLS 1.2");
    assert_eq!(version(0x0303, &[0x7f05, 0x0302], b""), "TLS 1.1");
    // A server record without a ServerHello (an alert): its record version wins.
    let alert = [21, 3, 3, 0, 2, 2, 40];
    assert_eq!(version(0x0303, &[0x0304], &alert), "TLS 1.2");
    // A server that is not speaking TLS (an SMTP banner on port 465): Suricata reads
    // its first five bytes as a record header, keeps the version field ("20", 0x3230)
    // before it refuses the record type, and logs that number.
    assert_eq!(version(0x0303, &[], b"220 mx.example ESMTP\r\n"), "12848");
}

#[test]
fn a_ticket_offered_and_no_certificate_is_a_resumed_session() {
    // TLS 1.2 abbreviated handshake on a ticket: a new session id, no Certificate.
    let ch = client_hello(
        0x0303,
        &[],
        &[0xc02f],
        &[ext_sni("t.example"), ext(35, &[])],
    );
    let c = record(22, &handshake(1, &ch));
    let mut s = record(22, &handshake(2, &server_hello(&[0x42; 32], 0xc02f, &[])));
    s.extend(record(20, &[1]));
    let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0]["session_resumed"], json!(true));
    // The same without the ticket: no certificate, no resumption, TLS 1.2: no event.
    let ch = client_hello(0x0303, &[], &[0xc02f], &[ext_sni("t.example")]);
    let c = record(22, &handshake(1, &ch));
    let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
    assert!(r.events.is_empty());
}

#[test]
fn not_tls_stops_without_an_event() {
    let r = run(&[(C, Chunk::Data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))]);
    assert_eq!(r.done_at, Some(0));
    assert!(r.events.is_empty());
}

#[test]
fn truncated_or_malformed_client_hello_stops_without_an_event() {
    let mut c = tls12_client();
    // Claim 10 more ciphers than the body holds: the ClientHello does not parse.
    c[9 + 2 + 32 + 1 + 1] = 0x40;
    let r = run(&[(C, Chunk::Data(&c))]);
    assert_eq!(r.done_at, Some(0));
    assert!(r.events.is_empty());

    // A ClientHello cut short by the end of the flow: nothing complete was seen.
    let c = tls12_client();
    let r = run(&[(C, Chunk::Data(&c[..c.len() - 10]))]);
    assert_eq!(r.done_at, None);
    assert!(r.events.is_empty());
}

#[test]
fn handshake_message_over_the_cap_ends_inspection() {
    let c = record(22, &handshake(1, &client_hello_for_split()));
    // The server announces a 70 KiB certificate.
    let mut s = record(22, &[11, 0x01, 0x18, 0x00]);
    s.extend(record(22, &[0u8; 100]));
    let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
    assert_eq!(r.done_at, Some(1));
    // No certificate, no ServerHello, no ticket offered: Suricata writes nothing.
    assert!(r.events.is_empty());
}

#[test]
fn resumed_tls12_session_is_flagged() {
    let sid = [0x77u8; 32];
    let ch = client_hello(0x0303, &sid, &[0xc02f], &[ext_sni("resume.example")]);
    let c = record(22, &handshake(1, &ch));
    let mut s = record(22, &handshake(2, &server_hello(&sid, 0xc02f, &[])));
    s.extend(record(20, &[1]));
    s.extend(record(22, &[0x99; 40]));
    let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
    assert_eq!(r.done_at, Some(1));
    assert_eq!(r.events[0]["session_resumed"], true);
    assert_eq!(r.events[0]["version"], "TLS 1.2");
}

#[test]
fn early_data_before_the_server_hello_does_not_end_inspection() {
    let mut c = tls13_client();
    c.extend(record(20, &[1]));
    c.extend(record(23, &[0x44; 100]));
    let s = tls13_server();
    let r = run(&[(C, Chunk::Data(&c)), (S, Chunk::Data(&s))]);
    assert_eq!(r.done_at, Some(1));
    assert_eq!(r.events, vec![tls13_expected()]);
}

#[test]
fn only_tcp_flows_are_inspected() {
    let mut info = flow_info();
    info.transport = Transport::Udp;
    assert!(TlsInspector::new().start(&info).is_none());
    let i = TlsInspector::new();
    assert_eq!(i.services(), &["tls"]);
    assert_eq!(i.kind(), InspectorKind::Service);
}

#[test]
fn version_strings_are_suricatas() {
    assert_eq!(hello::version_string(0x0301), "TLSv1");
    assert_eq!(hello::version_string(0x0302), "TLS 1.1");
    assert_eq!(hello::version_string(0x0303), "TLS 1.2");
    assert_eq!(hello::version_string(0x0304), "TLS 1.3");
    assert_eq!(hello::version_string(0x0300), "SSLv3");
    assert_eq!(hello::version_string(0x7f17), "TLS 1.3 draft-23");
    // Versions Suricata does not name are written as their number.
    assert_eq!(hello::version_string(0x1234), "4660");
    assert_eq!(hello::version_string(0x7f05), "32517");
    assert_eq!(hello::version_string(0x7f01), "TLS 1.3 draft-<16");
}
