//! Drives the QUIC inspector through the real API with arbitrary datagrams in both
//! directions, until it says done; then ends the flow.
//!
//! Input: a sequence of datagrams, each a byte `op` (bit 0: direction; bit 1: seal
//! the datagram as a valid client Initial of QUIC v1 whose frames are the fuzzer's
//! bytes, so the decrypted path, CRYPTO reassembly and ClientHello parsing are
//! reached; bits 2-3: packet number), a length byte (times 8) and the bytes.
#![no_main]

use flowengine::flow::Direction;
use flowengine::inspect::{Actions, Chunk, Cx, FlowInfo, Inspector, Transport};
use flowengine::Timestamp;
use flowengine_inspectors::quic::initial::{InitialKeys, Side};
use flowengine_inspectors::quic::QuicInspector;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

fn sealed(keys: &InitialKeys, pn: u8, frames: &[u8]) -> Option<Vec<u8>> {
    let mut hdr = vec![0xc1, 0, 0, 0, 1, DCID.len() as u8];
    hdr.extend(DCID);
    hdr.extend([0, 0]);
    let payload_len = frames.len().max(24);
    let length = (2 + payload_len + 16) as u16 | 0x4000;
    hdr.extend(length.to_be_bytes());
    hdr.extend(u16::from(pn).to_be_bytes());
    let mut payload = frames.to_vec();
    payload.resize(payload_len, 0);
    keys.seal(&hdr, u64::from(pn), &payload)
}

fuzz_target!(|data: &[u8]| {
    let info = FlowInfo {
        flow_id: 1,
        transport: Transport::Udp,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443),
    };
    let Some(mut fd) = QuicInspector::new().start(&info) else {
        return;
    };
    let Some(keys) = InitialKeys::derive(1, &DCID, Side::Client) else {
        return;
    };
    let mut events = 0usize;
    let mut rest = data;
    let mut t = 0u64;
    while let [op, n, tail @ ..] = rest {
        let (d, tail) = tail.split_at((usize::from(*n) * 8).min(tail.len()));
        rest = tail;
        let dir = if op & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let owned;
        let datagram = if op & 2 != 0 {
            match sealed(&keys, (op >> 2) & 3, d) {
                Some(p) => {
                    owned = p;
                    &owned[..]
                }
                None => d,
            }
        } else {
            d
        };
        let mut actions = Actions::default();
        t += 1;
        let mut cx = Cx::new(Timestamp::from_nanos(t), &info, &mut actions);
        fd.data(&mut cx, dir, Chunk::Data(datagram));
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
    assert!(events <= 1, "one quic event per flow at most");
});
