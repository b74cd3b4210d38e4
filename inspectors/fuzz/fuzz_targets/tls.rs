//! Drives the TLS inspector through the real API with arbitrary chunks in both
//! directions, gaps included, until it says done; then ends the flow.
//!
//! Input: a sequence of operations. Each starts with a byte `op`: bit 0 is the
//! direction; bit 1 set makes a `Gap` of the next byte's size; otherwise the next
//! byte is a length and that many bytes (or what is left) form a `Data` chunk.
#![no_main]

use flowengine::flow::Direction;
use flowengine::inspect::{Actions, Chunk, Cx, FlowInfo, Inspector, Transport};
use flowengine::Timestamp;
use flowengine_inspectors::tls::TlsInspector;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let info = FlowInfo {
        flow_id: 1,
        transport: Transport::Tcp,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443),
    };
    let Some(mut fd) = TlsInspector::new().start(&info) else {
        return;
    };
    let mut events = 0usize;
    let mut rest = data;
    let mut t = 0u64;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let dir = if op & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let Some((&n, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        let chunk = if op & 2 != 0 {
            Chunk::Gap(u32::from(n))
        } else {
            let (d, tail) = rest.split_at(usize::from(n).min(rest.len()));
            rest = tail;
            Chunk::Data(d)
        };
        let mut actions = Actions::default();
        t += 1;
        let mut cx = Cx::new(Timestamp::from_nanos(t), &info, &mut actions);
        fd.data(&mut cx, dir, chunk);
        events += actions.events.len();
        for e in &actions.events {
            let _ = e.to_json();
        }
        if actions.done {
            break;
        }
    }
    let mut actions = Actions::default();
    let mut cx = Cx::new(Timestamp::from_nanos(t + 1), &info, &mut actions);
    fd.end(&mut cx);
    events += actions.events.len();
    assert!(events <= 1, "one tls event per flow at most");
});
