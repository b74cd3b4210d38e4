//! A flow whose service parser fails keeps its record: the built-in inspectors run in
//! the engine on flows the wizard names and whose later bytes are broken (a server that
//! answers HTTP with garbage, a TLS ClientHello that lies about its length, a DNS query
//! whose name runs off the packet); each flow still ends with exactly one record, with
//! every packet and byte counted and the service the wizard named.

use flowengine::decode::LinkType;
use flowengine::inspect::EventRecord;
use flowengine::{ConfigBuilder, Engine, FlowRecord, Packet, Sink, Timestamp};
use flowengine_tests::frame::{self, flags, v4};
use std::net::IpAddr;

#[derive(Default)]
struct Out {
    records: Vec<FlowRecord>,
    events: Vec<(u64, &'static str)>,
}

impl Sink for Out {
    fn flow(&mut self, r: &FlowRecord) {
        self.records.push(*r);
    }
    fn event(&mut self, e: &EventRecord<'_>) {
        self.events.push((e.flow_id, e.event.event_type()));
    }
}

type Ep = (IpAddr, u16);

struct Run {
    engine: Engine<Out>,
    secs: u64,
    frames: u64,
    bytes: u64,
}

impl Run {
    fn new() -> Run {
        let config = ConfigBuilder::new().build().unwrap();
        let set = flowengine_inspectors::builtin(&config).unwrap();
        Run {
            engine: Engine::with_inspectors(&config, Out::default(), set).unwrap(),
            secs: 0,
            frames: 0,
            bytes: 0,
        }
    }

    fn push(&mut self, data: &[u8]) {
        self.secs += 1;
        self.frames += 1;
        self.bytes += data.len() as u64;
        self.engine.push(&Packet {
            ts: Timestamp::from_secs_micros(1_700_000_000 + self.secs, 0),
            link: LinkType::Ethernet,
            data,
        });
    }

    /// A handshake, then each (to_server, bytes) as one segment, then FINs.
    fn tcp(&mut self, c: Ep, s: Ep, exchange: &[(bool, &[u8])]) {
        let (mut cs, mut ss) = (100u32, 9000u32);
        self.push(&frame::tcp(c, s, flags::SYN, cs, 0, b""));
        self.push(&frame::tcp(s, c, flags::SYN | flags::ACK, ss, cs + 1, b""));
        cs += 1;
        ss += 1;
        self.push(&frame::tcp(c, s, flags::ACK, cs, ss, b""));
        for (to_server, data) in exchange {
            if *to_server {
                self.push(&frame::tcp(c, s, flags::ACK | flags::PSH, cs, ss, data));
                cs += data.len() as u32;
            } else {
                self.push(&frame::tcp(s, c, flags::ACK | flags::PSH, ss, cs, data));
                ss += data.len() as u32;
            }
        }
        self.push(&frame::tcp(c, s, flags::FIN | flags::ACK, cs, ss, b""));
        self.push(&frame::tcp(s, c, flags::FIN | flags::ACK, ss, cs + 1, b""));
        self.push(&frame::tcp(c, s, flags::ACK, cs + 1, ss + 1, b""));
    }
}

fn client(n: u8) -> Ep {
    (v4(10, 1, 0, n), 40000 + u16::from(n))
}

#[test]
fn flows_whose_parsers_fail_keep_one_record_with_every_packet() {
    let mut run = Run::new();
    // HTTP: a good request, then a server that answers with binary garbage.
    let mut garbage = vec![0u8; 300];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i * 151 % 256) as u8;
    }
    run.tcp(
        client(1),
        (v4(10, 2, 0, 1), 80),
        &[
            (true, b"GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            (false, &garbage),
            (true, b"\x00\x01\x02 not http at all\r\n\r\n"),
        ],
    );
    // TLS: a handshake record whose ClientHello claims far more than it has.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0xff, 0xff, 0x03, 0x03,
    ];
    hello.extend_from_slice(&[0xab; 43]);
    run.tcp(
        client(2),
        (v4(10, 2, 0, 2), 443),
        &[(true, &hello), (false, &garbage)],
    );
    // DNS: a query whose name's label runs off the end of the datagram.
    let query = [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, b'a', b'b',
    ];
    let (dc, ds) = (client(3), (v4(10, 2, 0, 3), 53));
    run.push(&frame::udp(dc, ds, &query));
    run.push(&frame::udp(ds, dc, &garbage[..40]));

    let (frames, bytes) = (run.frames, run.bytes);
    let (stats, out) = run.engine.finish();
    assert_eq!(out.records.len(), 3, "{:?}", out.records);
    assert_eq!(stats.records, 3);
    let pkts: u64 = out
        .records
        .iter()
        .map(|r| r.pkts_toserver + r.pkts_toclient)
        .sum();
    let total: u64 = out
        .records
        .iter()
        .map(|r| r.bytes_toserver + r.bytes_toclient)
        .sum();
    assert_eq!(
        (pkts, total),
        (frames, bytes),
        "every packet and byte counted"
    );
    let by_port = |p: u16| {
        out.records
            .iter()
            .find(|r| r.ports.map(|(_, d)| d) == Some(p))
            .unwrap_or_else(|| panic!("no record for port {p}: {:?}", out.records))
    };
    assert_eq!(by_port(80).app.app_proto, Some("http"));
    assert_eq!(by_port(443).app.app_proto, Some("tls"));
    // The broken query is still a flow of its own with its one record; whatever the
    // wizard made of it, no event claims a DNS name for it.
    let dns = by_port(53);
    assert!(
        !out.events
            .iter()
            .any(|(id, t)| *id == dns.flow_id && *t == "dns"),
        "{:?}",
        out.events
    );
    // The HTTP request before the garbage was still reported.
    let http = by_port(80);
    assert!(out
        .events
        .iter()
        .any(|(id, t)| *id == http.flow_id && *t == "http"));
}
