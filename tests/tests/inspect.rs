//! The inspector framework through the engine's public face: the wizard names a
//! service, the bound service inspector gets the flow's payload (with what the wizard
//! saw first), passive inspectors see every flow, events reach the sink before their
//! flow's record, a swap turns the flow around, a reload keeps old inspectors alive
//! exactly as long as their flows.

use flowengine::decode::LinkType;
use flowengine::flow::Direction;
use flowengine::inspect::{
    AppEvent, Chunk, Cx, Detection, EventRecord, FlowData, FlowInfo, Inspector, InspectorKind,
    InspectorSet,
};
use flowengine::{Config, Engine, FlowRecord, Packet, Sink, Timestamp};
use flowengine_tests::frame::{self, flags, v4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Everything the engine handed out, in order.
#[derive(Default)]
struct Out {
    /// ("event", flow_id, json) or ("flow", flow_id, json-ish summary).
    log: Vec<(&'static str, u64, serde_json::Value)>,
    records: Vec<FlowRecord>,
}

impl Sink for Out {
    fn flow(&mut self, r: &FlowRecord) {
        self.log.push(("flow", r.flow_id, serde_json::Value::Null));
        self.records.push(*r);
    }
    fn event(&mut self, e: &EventRecord<'_>) {
        let mut v = e.event.to_json();
        v["src_port"] = e.src.1.into();
        v["type"] = e.event.event_type().into();
        self.log.push(("event", e.flow_id, v));
    }
}

#[derive(Debug)]
struct Seen {
    what: &'static str,
    dir: &'static str,
    text: String,
}

impl AppEvent for Seen {
    fn event_type(&self) -> &'static str {
        "toy"
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "what": self.what, "dir": self.dir, "text": self.text })
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn dir_name(d: Direction) -> &'static str {
    match d {
        Direction::ToServer => "ts",
        Direction::ToClient => "tc",
    }
}

/// Counts live instances of what holds it (inspectors and FlowData).
#[derive(Clone, Default)]
struct Live(Arc<AtomicUsize>);

impl Live {
    fn hold(&self) -> Holder {
        self.0.fetch_add(1, Ordering::SeqCst);
        Holder(self.0.clone())
    }
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

struct Holder(Arc<AtomicUsize>);

impl Drop for Holder {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A wizard: "HELLO" from the client names `toy`; "WORLD" from the side taken for the
/// client is the server speaking first (swap, then `toy`); "?" alone says nothing yet;
/// "??" says nothing yet but fails the flow at its end; "!" rules its direction out
/// (reported failed if the other direction names the flow); "SWAP" from either side
/// swaps and names `toy`; anything else fails.
struct ToyWizard;

#[derive(Default)]
struct ToyWizardData {
    fail_at_end: bool,
    ruled_out: Option<Direction>,
}

impl Inspector for ToyWizard {
    fn name(&self) -> &str {
        "toy-wizard"
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Wizard
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(ToyWizardData::default()))
    }
}

/// The toy wizard with a second look of its own: the silent direction's first chunk
/// `JUNK...` fits nothing (failed), `SAME...` is the flow's service, `OTHER...` is
/// `other`; anything else says nothing.
struct JudgingWizard;

impl Inspector for JudgingWizard {
    fn name(&self) -> &str {
        "judging-wizard"
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Wizard
    }
    fn start(&self, flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        ToyWizard.start(flow)
    }
    fn second_look(
        &self,
        _: &FlowInfo,
        service: &'static str,
        _: Direction,
        data: &[u8],
        _: Timestamp,
    ) -> Detection {
        if data.starts_with(b"JUNK") {
            Detection::Failed
        } else if data.starts_with(b"SAME") {
            Detection::Service(service)
        } else if data.starts_with(b"OTHER") {
            Detection::Service("other")
        } else {
            Detection::Pending
        }
    }
}

impl FlowData for ToyWizardData {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        let Chunk::Data(d) = chunk else {
            cx.detection_failed();
            return;
        };
        if d == b"?" {
            return;
        }
        if d == b"??" {
            self.fail_at_end = true;
            return;
        }
        if d == b"!" {
            self.ruled_out = Some(dir);
            return;
        }
        if let Some(out) = self.ruled_out.filter(|&o| o != dir) {
            cx.direction_failed(out);
        }
        if d.starts_with(b"SWAP") {
            cx.swap_direction();
            cx.set_service("toy");
        } else if d.starts_with(b"OTHER") {
            cx.set_service("other");
        } else if d.starts_with(b"HELLO") && dir == Direction::ToServer {
            cx.set_service("toy");
        } else if d.starts_with(b"WORLD") && dir == Direction::ToServer {
            cx.swap_direction();
            cx.set_service("toy");
        } else {
            cx.detection_failed();
        }
        cx.done();
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if self.fail_at_end {
            cx.detection_failed();
        }
    }
}

/// The `toy` service: one event per chunk, one at the end; counts its instances.
struct ToyService {
    name: &'static str,
    live: Live,
    _me: Holder,
}

struct ToyFlow {
    _h: Holder,
}

impl Inspector for ToyService {
    fn name(&self) -> &str {
        self.name
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }
    fn services(&self) -> &[&'static str] {
        &["toy"]
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(ToyFlow {
            _h: self.live.hold(),
        }))
    }
}

impl FlowData for ToyFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        let text = match chunk {
            Chunk::Data(d) => String::from_utf8_lossy(d).into_owned(),
            Chunk::Gap(n) => format!("<gap {n}>"),
        };
        cx.emit(Box::new(Seen {
            what: "data",
            dir: dir_name(dir),
            text,
        }));
    }
    fn end(&mut self, cx: &mut Cx<'_>) {
        cx.emit(Box::new(Seen {
            what: "end",
            dir: "",
            text: String::new(),
        }));
    }
}

/// A passive inspector: the size of each direction's first chunk, emitted at the end.
struct Sizes;

#[derive(Default)]
struct SizesFlow([Option<usize>; 2]);

impl Inspector for Sizes {
    fn name(&self) -> &str {
        "sizes"
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Passive
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::<SizesFlow>::default())
    }
}

impl FlowData for SizesFlow {
    fn data(&mut self, _: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if let Chunk::Data(d) = chunk {
            let i = match dir {
                Direction::ToServer => 0,
                Direction::ToClient => 1,
            };
            self.0[i].get_or_insert(d.len());
        }
    }
    fn end(&mut self, cx: &mut Cx<'_>) {
        cx.emit(Box::new(Seen {
            what: "sizes",
            dir: "",
            text: format!("{:?}/{:?}", self.0[0], self.0[1]),
        }));
    }
}

fn set(service_name: &'static str, live: &Live) -> InspectorSet {
    let mut s = InspectorSet::new();
    s.add(Arc::new(ToyWizard)).unwrap();
    s.add(Arc::new(ToyService {
        name: service_name,
        live: live.clone(),
        _me: live.hold(),
    }))
    .unwrap();
    s.add(Arc::new(Sizes)).unwrap();
    s
}

fn engine(set: InspectorSet) -> Engine<Out> {
    let mut b = flowengine::ConfigBuilder::new();
    b.set("flow.hash_seed=1").unwrap();
    let config: Config = b.build().unwrap();
    Engine::with_inspectors(&config, Out::default(), set).unwrap()
}

fn push(e: &mut Engine<Out>, secs: u64, data: &[u8]) {
    e.push(&Packet {
        ts: Timestamp::from_secs_micros(1_700_000_000 + secs, 0),
        link: LinkType::Ethernet,
        data,
    });
}

const C: u16 = 40000;
const S: u16 = 7000;

fn client() -> (std::net::IpAddr, u16) {
    (v4(10, 0, 0, 1), C)
}
fn server() -> (std::net::IpAddr, u16) {
    (v4(10, 0, 0, 2), S)
}

/// A TCP handshake, then `exchange` (true = client to server), each one segment.
fn tcp_session(e: &mut Engine<Out>, exchange: &[(bool, &[u8])]) {
    let (mut cs, mut ss) = (1000u32, 5000u32);
    push(
        e,
        0,
        &frame::tcp(client(), server(), flags::SYN, cs, 0, b""),
    );
    push(
        e,
        0,
        &frame::tcp(server(), client(), flags::SYN | flags::ACK, ss, cs + 1, b""),
    );
    cs += 1;
    ss += 1;
    push(
        e,
        0,
        &frame::tcp(client(), server(), flags::ACK, cs, ss, b""),
    );
    for (to_server, data) in exchange {
        if *to_server {
            push(
                e,
                1,
                &frame::tcp(client(), server(), flags::ACK | flags::PSH, cs, ss, data),
            );
            cs += data.len() as u32;
        } else {
            push(
                e,
                1,
                &frame::tcp(server(), client(), flags::ACK | flags::PSH, ss, cs, data),
            );
            ss += data.len() as u32;
        }
    }
}

fn events(out: &Out) -> Vec<serde_json::Value> {
    out.log
        .iter()
        .filter(|(k, _, _)| *k == "event")
        .map(|(_, _, v)| v.clone())
        .collect()
}

#[test]
fn the_wizard_names_the_service_and_events_come_before_the_record() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    tcp_session(&mut e, &[(true, b"HELLO there"), (false, b"hi back")]);
    let (stats, out) = e.finish();
    assert_eq!(out.records.len(), 1);
    let r = out.records[0];
    assert_eq!(r.app.app_proto, Some("toy"));
    assert_eq!(r.app.orig, None);
    let ev = events(&out);
    let what: Vec<_> = ev
        .iter()
        .map(|v| (v["what"].as_str().unwrap(), v["dir"].as_str().unwrap()))
        .collect();
    assert_eq!(
        what,
        [("data", "ts"), ("data", "tc"), ("end", ""), ("sizes", "")]
    );
    assert_eq!(ev[0]["text"], "HELLO there");
    assert_eq!(ev[3]["text"], "Some(11)/Some(7)");
    // Every event carries the flow's id and comes before the record.
    assert!(out.log.iter().all(|(_, id, _)| *id == r.flow_id));
    assert_eq!(out.log.last().unwrap().0, "flow");
    assert_eq!(stats.inspect.flows, 1);
    assert_eq!(stats.inspect.detected, 1);
    assert_eq!(stats.inspect.events, 4);
    // The flow's FlowData died with it, and the inspector with the engine.
    assert_eq!(live.count(), 0);
}

#[test]
fn a_flow_without_payload_has_no_app_proto_and_unknown_payload_fails() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    tcp_session(&mut e, &[]);
    push(
        &mut e,
        2,
        &frame::udp((v4(10, 0, 0, 9), 5555), (v4(10, 0, 0, 2), 53), b"junk"),
    );
    let (stats, out) = e.finish();
    let by_proto = |p: u8| out.records.iter().find(|r| r.proto == p).unwrap();
    assert_eq!(by_proto(6).app.app_proto, None);
    assert_eq!(by_proto(17).app.app_proto, Some("failed"));
    assert_eq!(stats.inspect.failed, 1);
    // The failed flow's passive inspector still saw it.
    assert!(events(&out)
        .iter()
        .any(|v| v["what"] == "sizes" && v["text"] == "Some(4)/None"));
}

#[test]
fn an_undecided_wizard_has_the_last_word_at_the_flows_end() {
    // Undecided to the end, and saying nothing then: no service (Suricata's TCP flow
    // whose detection never concluded), not `failed`.
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    tcp_session(&mut e, &[(true, b"?"), (false, b"?")]);
    let (stats, out) = e.finish();
    assert_eq!(out.records[0].app.app_proto, None);
    assert_eq!(stats.inspect.failed, 0);
    assert_eq!(stats.inspect.detected, 0);
    // Undecided, and failing the flow in its `end`: `failed`.
    let mut e = engine(set("toy", &live));
    tcp_session(&mut e, &[(true, b"??")]);
    let (stats, out) = e.finish();
    assert_eq!(out.records[0].app.app_proto, Some("failed"));
    assert_eq!(stats.inspect.failed, 1);
    // The passive inspector saw both flows through to their end.
    assert!(events(&out).iter().any(|v| v["what"] == "sizes"));
    assert_eq!(live.count(), 0, "every FlowData and inspector gone");
}

#[test]
fn what_the_wizard_saw_first_is_replayed_to_the_service_in_order() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    tcp_session(&mut e, &[(true, b"?"), (false, b"?"), (true, b"HELLO")]);
    let (_, out) = e.finish();
    let data: Vec<_> = events(&out)
        .into_iter()
        .filter(|v| v["what"] == "data")
        .map(|v| {
            format!(
                "{}:{}",
                v["dir"].as_str().unwrap(),
                v["text"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(data, ["ts:?", "tc:?", "ts:HELLO"]);
    assert_eq!(out.records[0].app.app_proto, Some("toy"));
}

#[test]
fn a_server_speaking_first_swaps_the_flow() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    // UDP: the first packet comes from the server's side.
    push(&mut e, 0, &frame::udp(server(), client(), b"WORLD"));
    push(&mut e, 0, &frame::udp(client(), server(), b"ok"));
    push(&mut e, 0, &frame::udp(client(), server(), b"ok again"));
    let (_, out) = e.finish();
    let r = out.records[0];
    assert_eq!(r.app.app_proto, Some("toy"));
    assert_eq!(r.src_ip, client().0);
    assert_eq!(r.ports, Some((C, S)));
    assert_eq!((r.pkts_toserver, r.pkts_toclient), (2, 1));
    let data: Vec<_> = events(&out)
        .into_iter()
        .filter(|v| v["what"] == "data")
        .map(|v| {
            (
                v["dir"].as_str().unwrap().to_string(),
                v["src_port"].as_u64().unwrap(),
            )
        })
        .collect();
    // The swapping chunk is handed on in the new direction; events name the client.
    assert_eq!(
        data,
        [
            ("tc".into(), u64::from(C)),
            ("ts".into(), u64::from(C)),
            ("ts".into(), u64::from(C))
        ]
    );
}

#[test]
fn reload_keeps_the_old_inspector_until_its_last_flow_ends() {
    let old = Live::default();
    let new = Live::default();
    let mut e = engine(set("toy", &old));
    // Flow A starts under the old set.
    push(&mut e, 0, &frame::udp(client(), server(), b"HELLO old"));
    assert_eq!(old.count(), 2, "the inspector and flow A's FlowData");
    e.reload_inspectors(set("toy", &new));
    // The engine no longer holds the old inspector, but flow A does.
    assert_eq!(old.count(), 2);
    // Flow B starts under the new set, later but before A times out.
    let b_client = (v4(10, 0, 0, 3), 41000);
    push(&mut e, 10, &frame::udp(b_client, server(), b"HELLO new"));
    push(
        &mut e,
        11,
        &frame::udp(client(), server(), b"HELLO still A"),
    );
    assert_eq!(old.count(), 2);
    assert_eq!(new.count(), 2);
    // Much later, B speaks again: A has timed out and ends, dropping the old
    // inspector with its last FlowData. B and the new inspector live on.
    push(
        &mut e,
        100,
        &frame::udp(b_client, server(), b"HELLO new again"),
    );
    push(
        &mut e,
        125,
        &frame::udp(b_client, server(), b"HELLO new again"),
    );
    assert_eq!(old.count(), 0, "old inspector dropped when flow A ended");
    assert_eq!(new.count(), 2);
    e.flush();
    assert_eq!(new.count(), 1, "flow B's FlowData dropped at its end");
    let (_, out) = e.finish();
    assert_eq!(new.count(), 0);
    let a = out
        .records
        .iter()
        .find(|r| r.ports == Some((C, S)))
        .unwrap();
    assert_eq!(a.app.app_proto, Some("toy"));
}

#[test]
fn an_engine_without_inspectors_records_no_app_proto() {
    let config = Config::default();
    let mut e = Engine::new(&config, Out::default()).unwrap();
    e.push(&Packet {
        ts: Timestamp::from_secs_micros(1, 0),
        link: LinkType::Ethernet,
        data: &frame::udp(client(), server(), b"HELLO"),
    });
    let (stats, out) = e.finish();
    assert_eq!(out.records[0].app.app_proto, None);
    assert_eq!(stats.inspect.flows, 0);
    assert!(events(&out).is_empty());
}

/// The service's chunks as "dir:text" (gaps as `<gap N>`).
fn data_chunks(out: &Out) -> Vec<String> {
    events(out)
        .into_iter()
        .filter(|v| v["what"] == "data")
        .map(|v| {
            format!(
                "{}:{}",
                v["dir"].as_str().unwrap(),
                v["text"].as_str().unwrap()
            )
        })
        .collect()
}

/// A handshake (client ISN 1000, server ISN 5000), then `segments` as (to_server,
/// offset in that direction's stream, bytes), each acknowledging nothing new.
fn tcp_segments(e: &mut Engine<Out>, segments: &[(bool, u32, &[u8])]) {
    push(
        e,
        0,
        &frame::tcp(client(), server(), flags::SYN, 1000, 0, b""),
    );
    push(
        e,
        0,
        &frame::tcp(server(), client(), flags::SYN | flags::ACK, 5000, 1001, b""),
    );
    push(
        e,
        0,
        &frame::tcp(client(), server(), flags::ACK, 1001, 5001, b""),
    );
    for &(to_server, off, data) in segments {
        let f = if to_server {
            frame::tcp(
                client(),
                server(),
                flags::ACK | flags::PSH,
                1001 + off,
                5001,
                data,
            )
        } else {
            frame::tcp(
                server(),
                client(),
                flags::ACK | flags::PSH,
                5001 + off,
                1001,
                data,
            )
        };
        push(e, 1, &f);
    }
}

#[test]
fn tcp_payload_reaches_inspectors_in_order_after_reassembly() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    // The second segment first, a retransmission, then the first.
    tcp_segments(
        &mut e,
        &[
            (true, 5, b" world"),
            (true, 5, b" world"),
            (true, 0, b"HELLO"),
            (false, 0, b"ok"),
        ],
    );
    let (_, out) = e.finish();
    assert_eq!(data_chunks(&out), ["ts:HELLO", "ts: world", "tc:ok"]);
    assert_eq!(out.records[0].app.app_proto, Some("toy"));
}

#[test]
fn data_on_a_fast_open_syn_reaches_inspectors_from_its_first_byte() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    // The SYN (ISN 1000) carries the first 5 bytes, at 1001..1006; the server takes them.
    let syn = frame::tcp(client(), server(), flags::SYN, 1000, 0, b"HELLO");
    push(&mut e, 0, &syn);
    let synack = frame::tcp(server(), client(), flags::SYN | flags::ACK, 5000, 1006, b"");
    push(&mut e, 0, &synack);
    let rest = frame::tcp(
        client(),
        server(),
        flags::ACK | flags::PSH,
        1006,
        5001,
        b" world",
    );
    push(&mut e, 1, &rest);
    let answer = frame::tcp(
        server(),
        client(),
        flags::ACK | flags::PSH,
        5001,
        1012,
        b"ok",
    );
    push(&mut e, 1, &answer);
    let (_, out) = e.finish();
    assert_eq!(data_chunks(&out), ["ts:HELLO", "ts: world", "tc:ok"]);
}

#[test]
fn the_server_stream_starts_at_the_synack_the_client_acknowledged() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    // Two SYN/ACKs with different ISNs; the client acknowledges the second.
    push(
        &mut e,
        0,
        &frame::tcp(client(), server(), flags::SYN, 1000, 0, b""),
    );
    for isn in [5000, 9000, 5000] {
        let synack = frame::tcp(server(), client(), flags::SYN | flags::ACK, isn, 1001, b"");
        push(&mut e, 0, &synack);
    }
    let hello = frame::tcp(
        client(),
        server(),
        flags::ACK | flags::PSH,
        1001,
        9001,
        b"HELLO",
    );
    push(&mut e, 1, &hello);
    let answer = frame::tcp(
        server(),
        client(),
        flags::ACK | flags::PSH,
        9001,
        1006,
        b"ok",
    );
    push(&mut e, 1, &answer);
    let (_, out) = e.finish();
    assert_eq!(data_chunks(&out), ["ts:HELLO", "tc:ok"]);
}

#[test]
fn a_hole_the_capture_lost_is_reported_as_a_gap() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    // Bytes 5..10 of the client's stream were never captured; the server acknowledges
    // past them, so the hole is given up.
    tcp_segments(&mut e, &[(true, 0, b"HELLO"), (true, 10, b"later")]);
    push(
        &mut e,
        2,
        &frame::tcp(server(), client(), flags::ACK, 5001, 1001 + 15, b""),
    );
    // And a hole nobody acknowledges is reported when the flow ends.
    push(
        &mut e,
        2,
        &frame::tcp(client(), server(), flags::ACK, 1001 + 20, 5001, b"tail"),
    );
    let (_, out) = e.finish();
    assert_eq!(
        data_chunks(&out),
        [
            "ts:HELLO",
            "ts:<gap 5>",
            "ts:later",
            "ts:<gap 5>",
            "ts:tail"
        ]
    );
}

#[test]
fn the_silent_direction_gets_its_own_look_and_its_own_name() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    // The client speaks toy, the server answers in another protocol (Suricata's
    // HTTP request answered by an SSH banner): app_proto_tc names it.
    tcp_session(
        &mut e,
        &[
            (true, b"HELLO"),
            (false, b"OTHER stuff"),
            (false, b"OTHER again"),
        ],
    );
    // Both directions the same: nothing extra.
    push(
        &mut e,
        5,
        &frame::udp((v4(10, 0, 0, 7), 1111), server(), b"HELLO"),
    );
    push(
        &mut e,
        5,
        &frame::udp(server(), (v4(10, 0, 0, 7), 1111), b"HELLO back"),
    );
    let (_, out) = e.finish();
    let tcp = out.records.iter().find(|r| r.proto == 6).unwrap();
    assert_eq!(tcp.app.app_proto, Some("toy"));
    assert_eq!(tcp.app.tc, Some("other"));
    assert_eq!(tcp.app.ts, None);
    let udp = out.records.iter().find(|r| r.proto == 17).unwrap();
    assert_eq!(
        (udp.app.app_proto, udp.app.ts, udp.app.tc),
        (Some("toy"), None, None)
    );
}

#[test]
fn a_wizards_second_look_names_or_fails_the_silent_direction() {
    // Each answer is the server's first chunk after the client's HELLO named `toy`.
    for (answer, tc) in [
        (&b"JUNK reply"[..], Some("failed")),
        (b"SAME reply", None),
        (b"OTHER reply", Some("other")),
        (b"hmm", None),
    ] {
        let live = Live::default();
        let mut s = InspectorSet::new();
        s.add(Arc::new(JudgingWizard)).unwrap();
        s.add(Arc::new(ToyService {
            name: "toy",
            live: live.clone(),
            _me: live.hold(),
        }))
        .unwrap();
        let mut e = engine(s);
        tcp_session(&mut e, &[(true, b"HELLO"), (false, answer)]);
        let (_, out) = e.finish();
        let r = &out.records[0];
        assert_eq!(
            (r.app.app_proto, r.app.ts, r.app.tc),
            (Some("toy"), None, tc),
            "{}",
            String::from_utf8_lossy(answer)
        );
    }
}

#[test]
fn a_direction_ruled_out_before_the_other_named_the_flow_is_recorded_failed() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    let (a, b) = ((v4(10, 0, 0, 5), 5000), (v4(10, 0, 0, 6), 6000));
    // A's first datagram rules its direction out; B's answer names the flow.
    push(&mut e, 1, &frame::udp(a, b, b"!"));
    push(&mut e, 1, &frame::udp(b, a, b"OTHER answer"));
    // The same, but the answer turns the flow around: the failed direction is now
    // the server's.
    let (c, d) = ((v4(10, 0, 0, 7), 5000), (v4(10, 0, 0, 8), 6000));
    push(&mut e, 2, &frame::udp(c, d, b"!"));
    push(&mut e, 2, &frame::udp(d, c, b"SWAP"));
    // The named direction spoke first: nothing failed.
    let (f, g) = ((v4(10, 0, 0, 9), 5000), (v4(10, 0, 0, 10), 6000));
    push(&mut e, 3, &frame::udp(f, g, b"HELLO"));
    push(&mut e, 3, &frame::udp(g, f, b"!"));
    let (_, out) = e.finish();
    let by_src = |ip| out.records.iter().find(|r| r.src_ip == ip).unwrap();
    let r = by_src(a.0);
    assert_eq!(
        (r.app.app_proto, r.app.ts, r.app.tc),
        (Some("other"), Some("failed"), None)
    );
    // The answer's sender is the client now.
    let r = by_src(d.0);
    assert_eq!(
        (r.app.app_proto, r.app.ts, r.app.tc),
        (Some("toy"), None, Some("failed"))
    );
    let r = by_src(f.0);
    assert_eq!(
        (r.app.app_proto, r.app.ts, r.app.tc),
        (Some("toy"), None, None)
    );
}

#[test]
fn reload_applies_new_timeouts_at_once_and_names_what_waits_for_a_restart() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    push(&mut e, 0, &frame::udp(client(), server(), b"HELLO a"));
    // Under the shipped UDP timeout (30 s for a new flow) A is still open at 10 s.
    let other = (v4(10, 0, 0, 9), 42000);
    push(&mut e, 10, &frame::udp(other, server(), b"x"));
    assert!(e.sink().records.is_empty());

    let build = |sets: &[&str]| {
        let mut b = flowengine::ConfigBuilder::new();
        b.set("flow.hash_seed=1").unwrap();
        for s in sets {
            b.set(s).unwrap();
        }
        b.build().unwrap()
    };
    // An invalid configuration changes nothing.
    let mut bad = build(&["flow-timeouts.udp.new=5"]);
    bad.stream.max_flows = 0;
    assert!(e.reload(&bad, set("toy", &live)).is_err());
    assert_eq!(e.config().flow_timeouts.udp.new, 30);
    assert_eq!(e.stats().reloads, 0);

    let new = build(&["flow-timeouts.udp.new=5", "stream.max_flows=1000"]);
    let done = e.reload(&new, set("toy", &live)).unwrap();
    assert_eq!(done.needs_restart, vec!["stream"]);
    assert_eq!(e.config().flow_timeouts.udp.new, 5, "applied");
    assert_ne!(e.config().stream.max_flows, 1000, "kept until a restart");
    assert_eq!(e.stats().reloads, 1);

    // The next packet sweeps with the new timeout: A (idle 11 s) ends now.
    push(&mut e, 11, &frame::udp(other, server(), b"y"));
    let ended: Vec<_> = e.sink().records.iter().map(|r| r.ports).collect();
    assert_eq!(ended, vec![Some((C, S))]);
    assert_eq!(e.sink().records[0].reason, flowengine::EndReason::Timeout);
}

#[test]
fn zero_padding_counted_as_payload_on_a_bare_ack_does_not_hide_the_data() {
    let live = Live::default();
    let mut e = engine(set("toy", &live));
    tcp_segments(&mut e, &[]);
    // A 54-byte ACK whose IP length covers 6 bytes of Ethernet padding, at the very
    // sequence number the real data then takes.
    let pad = frame::tcp(client(), server(), flags::ACK, 1001, 5001, &[0; 6]);
    push(&mut e, 1, &pad);
    push(
        &mut e,
        1,
        &frame::tcp(
            client(),
            server(),
            flags::ACK | flags::PSH,
            1001,
            5001,
            b"HELLO",
        ),
    );
    let (_, out) = e.finish();
    assert_eq!(data_chunks(&out), ["ts:HELLO"]);
    let r = &out.records[0];
    assert_eq!(r.app.app_proto, Some("toy"));
    // The padded ACK still counts: 3 handshake packets + 2.
    assert_eq!(r.pkts_toserver + r.pkts_toclient, 5);
}

/// A `toy` service that switches protocols: `UP` + rest upgrades to `next` after its
/// first two bytes (the rest is `next`'s), `RENAME` upgrades to `toy2`, a service of
/// its own; every chunk and the end are events, tagged with `who`.
struct Switcher;

struct SwitcherFlow;

impl Inspector for Switcher {
    fn name(&self) -> &str {
        "switcher"
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }
    fn services(&self) -> &[&'static str] {
        &["toy", "toy2"]
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(SwitcherFlow))
    }
}

impl FlowData for SwitcherFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        let Chunk::Data(d) = chunk else { return };
        cx.emit(Box::new(Seen {
            what: "switcher",
            dir: dir_name(dir),
            text: String::from_utf8_lossy(d).into_owned(),
        }));
        if d.starts_with(b"UP") {
            cx.upgrade_at("next", None, 2);
        } else if d == b"RENAME" {
            cx.upgrade("toy2", None);
        }
    }
    fn end(&mut self, cx: &mut Cx<'_>) {
        cx.emit(Box::new(Seen {
            what: "switcher-end",
            dir: "",
            text: String::new(),
        }));
    }
}

/// The `next` service: one event per chunk.
struct Next;

impl Inspector for Next {
    fn name(&self) -> &str {
        "next"
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }
    fn services(&self) -> &[&'static str] {
        &["next"]
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(NextFlow))
    }
}

struct NextFlow;

impl FlowData for NextFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if let Chunk::Data(d) = chunk {
            cx.emit(Box::new(Seen {
                what: "next",
                dir: dir_name(dir),
                text: String::from_utf8_lossy(d).into_owned(),
            }));
        }
    }
}

fn switching_engine() -> Engine<Out> {
    let mut s = InspectorSet::new();
    s.add(Arc::new(ToyWizard)).unwrap();
    s.add(Arc::new(Switcher)).unwrap();
    s.add(Arc::new(Next)).unwrap();
    engine(s)
}

fn seen(out: &Out) -> Vec<String> {
    events(out)
        .into_iter()
        .map(|v| {
            format!(
                "{}:{}:{}",
                v["what"].as_str().unwrap(),
                v["dir"].as_str().unwrap(),
                v["text"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn an_upgrade_mid_chunk_hands_the_rest_of_the_chunk_to_the_new_service() {
    let mut e = switching_engine();
    tcp_session(
        &mut e,
        &[(true, b"HELLO"), (false, b"UPrest"), (true, b"later")],
    );
    let (stats, out) = e.finish();
    assert_eq!(
        seen(&out),
        [
            "switcher:ts:HELLO",
            "switcher:tc:UPrest",
            "switcher-end::",
            "next:tc:rest",
            "next:ts:later"
        ]
    );
    let r = out.records[0];
    assert_eq!(r.app.app_proto, Some("next"));
    assert_eq!(r.app.orig, Some("toy"));
    assert_eq!(stats.inspect.upgrades, 1);
}

#[test]
fn an_upgrade_to_a_service_of_the_same_inspector_keeps_its_flow_data() {
    let mut e = switching_engine();
    tcp_session(
        &mut e,
        &[(true, b"HELLO"), (false, b"RENAME"), (true, b"more")],
    );
    let (stats, out) = e.finish();
    // One FlowData all along: it sees the chunk after the rename, and ends once.
    assert_eq!(
        seen(&out),
        [
            "switcher:ts:HELLO",
            "switcher:tc:RENAME",
            "switcher:ts:more",
            "switcher-end::"
        ]
    );
    let r = out.records[0];
    assert_eq!(r.app.app_proto, Some("toy2"));
    assert_eq!(r.app.orig, Some("toy"));
    assert_eq!(stats.inspect.upgrades, 1);
}

/// A passive inspector that wants nothing more of the client's side after its first
/// chunk, and records every chunk it is given (and its end) as events.
struct Half;

struct HalfFlow;

impl Inspector for Half {
    fn name(&self) -> &str {
        "half"
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Passive
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(HalfFlow))
    }
}

impl FlowData for HalfFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        let text = match chunk {
            Chunk::Data(d) => String::from_utf8_lossy(d).into_owned(),
            Chunk::Gap(n) => format!("gap {n}"),
        };
        cx.emit(Box::new(Seen {
            what: "data",
            dir: dir_name(dir),
            text,
        }));
        if dir == Direction::ToServer {
            cx.done_with(dir);
        }
    }
    fn end(&mut self, cx: &mut Cx<'_>) {
        cx.emit(Box::new(Seen {
            what: "end",
            dir: "",
            text: String::new(),
        }));
    }
}

#[test]
fn a_direction_an_inspector_is_done_with_no_longer_reaches_it() {
    let mut s = InspectorSet::new();
    s.add(Arc::new(Half)).unwrap();
    let mut e = engine(s);
    let (c, sv) = (client(), server());
    for (i, (to_server, text)) in [
        (true, "a"),
        (true, "b"),
        (false, "x"),
        (true, "c"),
        (false, "y"),
    ]
    .into_iter()
    .enumerate()
    {
        let f = if to_server {
            frame::udp(c, sv, text.as_bytes())
        } else {
            frame::udp(sv, c, text.as_bytes())
        };
        push(&mut e, i as u64, &f);
    }
    let (_, out) = e.finish();
    let seen: Vec<String> = events(&out)
        .iter()
        .map(|v| format!("{} {} {}", v["what"], v["dir"], v["text"]).replace('"', ""))
        .collect();
    assert_eq!(seen, ["data ts a", "data tc x", "data tc y", "end  "]);
    let r = &out.records[0];
    assert_eq!(
        (r.pkts_toserver, r.pkts_toclient),
        (3, 2),
        "every packet counted"
    );
}
