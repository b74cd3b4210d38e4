//! Fuzzes the http2 service inspector through the real API: the input is a script of
//! chunks, each `[op, len, bytes...]`: op bit 0 picks the direction, ops with bits
//! 1-4 all set are a gap of `len * 7 + 1` bytes, the others carry the next `len`
//! bytes as data. The client side starts with the connection preface when op bit 5
//! of the first byte is set (so both the preface and its absence are reached). Every
//! event is rendered to JSON; the flow ends with `end`.
#![no_main]

use flowengine::inspect::Transport;
use flowengine_inspectors::http2::{frame::PREFACE, Http2Inspector};
use flowengine_inspectors_fuzz::drive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let insp = Http2Inspector::new();
    match data.first() {
        Some(op) if op & 0x20 != 0 => {
            let mut script = vec![0u8, PREFACE.len() as u8];
            script.extend_from_slice(PREFACE);
            script.extend_from_slice(data);
            drive(&insp, Transport::Tcp, 80, &script);
        }
        _ => drive(&insp, Transport::Tcp, 80, data),
    }
});
