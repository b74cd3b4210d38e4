//! The driver the service inspectors' fuzz targets share: a script of chunks run
//! through the real `Inspector`/`FlowData`/`Cx` API.

use flowengine::flow::Direction;
use flowengine::inspect::{Actions, AppEvent, Chunk, Cx, FlowInfo, Inspector, Transport};
use flowengine::Timestamp;
use std::net::{IpAddr, Ipv4Addr};

/// Runs `insp` on one flow of `transport` to server `port`, from the script `data`:
/// chunks `[op, len, bytes...]`, op bit 0 picks the direction, ops with bits 1-4 all
/// set are a gap of `len * 7 + 1` bytes, the others carry the next `len` bytes as
/// data. Every event is rendered to JSON; the flow ends with `end`.
pub fn drive(insp: &dyn Inspector, transport: Transport, port: u16, mut data: &[u8]) {
    let flow = FlowInfo {
        flow_id: 1,
        transport,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), port),
    };
    let Some(mut fd) = insp.start(&flow) else {
        return;
    };
    while let [op, len, rest @ ..] = data {
        let dir = if op & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut actions = Actions::default();
        {
            let mut cx = Cx::new(Timestamp::ZERO, &flow, &mut actions);
            if op & 0x1e == 0x1e {
                fd.data(&mut cx, dir, Chunk::Gap(u32::from(*len) * 7 + 1));
                data = rest;
            } else {
                let n = usize::from(*len).min(rest.len());
                fd.data(&mut cx, dir, Chunk::Data(&rest[..n]));
                data = &rest[n..];
            }
        }
        for e in &actions.events {
            check_event(e.as_ref());
        }
        if actions.done {
            return;
        }
    }
    let mut actions = Actions::default();
    let mut cx = Cx::new(Timestamp::ZERO, &flow, &mut actions);
    fd.end(&mut cx);
    for e in &actions.events {
        check_event(e.as_ref());
    }
}

/// Every event renders: its text (`write_json`) is one JSON object, the same object
/// `to_json` gives.
fn check_event(e: &dyn AppEvent) {
    let mut text = Vec::new();
    e.write_json(&mut text);
    let parsed: serde_json::Value =
        serde_json::from_slice(&text).expect("write_json writes valid JSON");
    assert!(parsed.is_object(), "write_json writes an object");
    assert_eq!(parsed, e.to_json(), "write_json and to_json agree");
}
