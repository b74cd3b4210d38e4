//! What the integration tests that run the built-in inspectors share: an engine with
//! them writing EVE to memory, a frame pushed at a second of packet time, a TCP
//! connection written segment by segment ([`Conn`]), and the EVE lines read back. Each test file that needs it says `mod common;` (Cargo builds
//! `tests/common/` into no test of its own).

#![allow(dead_code)] // each test file uses part of it

use flowengine::decode::LinkType;
use flowengine::{ConfigBuilder, Engine, EveOptions, EveWriter, Packet, Stats, Timestamp};
use flowengine_tests::frame::{self, flags};
use serde_json::Value;
use std::net::IpAddr;

/// An engine with the built-in inspectors, writing EVE to memory.
pub type Eng = Engine<EveWriter<Vec<u8>>>;

/// An engine with the built-in inspectors, `flow.hash_seed=1`, the `--set`
/// assignments `sets` and then the TOML `toml` (for what `--set` cannot say, such as
/// lists).
pub fn engine(sets: &[&str], toml: &str) -> Eng {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=1").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    b.merge_toml(toml, None).unwrap();
    let config = b.build().unwrap();
    let set = flowengine_inspectors::builtin(&config).unwrap();
    Engine::with_inspectors(
        &config,
        EveWriter::new(Vec::new(), EveOptions::default()),
        set,
    )
    .unwrap()
}

/// Pushes one Ethernet frame at `secs` seconds of packet time (from a fixed start).
pub fn push(e: &mut Eng, secs: u64, data: &[u8]) {
    e.push(&Packet {
        ts: Timestamp::from_secs_micros(1_700_000_000 + secs, 0),
        link: LinkType::Ethernet,
        data,
    });
}

/// Ends the run: every EVE line written, parsed, in order, and the statistics.
pub fn finish(e: Eng) -> (Vec<Value>, Stats) {
    let (stats, sink) = e.finish();
    let lines = String::from_utf8(sink.finish().unwrap())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    (lines, stats)
}

/// One TCP connection, written segment by segment at the given second.
pub struct Conn {
    a: (IpAddr, u16),
    b: (IpAddr, u16),
    a_seq: u32,
    b_seq: u32,
}

impl Conn {
    /// `a` opens a connection to `b` at `secs` (three-way handshake).
    pub fn open(e: &mut Eng, secs: u64, a: (IpAddr, u16), b: (IpAddr, u16)) -> Conn {
        let mut c = Conn {
            a,
            b,
            a_seq: 1000,
            b_seq: 9000,
        };
        push(e, secs, &frame::tcp(a, b, flags::SYN, c.a_seq, 0, b""));
        c.a_seq += 1;
        push(
            e,
            secs,
            &frame::tcp(b, a, flags::SYN | flags::ACK, c.b_seq, c.a_seq, b""),
        );
        c.b_seq += 1;
        push(
            e,
            secs,
            &frame::tcp(a, b, flags::ACK, c.a_seq, c.b_seq, b""),
        );
        c
    }

    /// The opener sends `data`.
    pub fn a(&mut self, e: &mut Eng, secs: u64, data: &[u8]) {
        let f = flags::ACK | flags::PSH;
        push(
            e,
            secs,
            &frame::tcp(self.a, self.b, f, self.a_seq, self.b_seq, data),
        );
        self.a_seq += data.len() as u32;
    }

    /// The acceptor sends `data`.
    pub fn b(&mut self, e: &mut Eng, secs: u64, data: &[u8]) {
        let f = flags::ACK | flags::PSH;
        push(
            e,
            secs,
            &frame::tcp(self.b, self.a, f, self.b_seq, self.a_seq, data),
        );
        self.b_seq += data.len() as u32;
    }

    /// Both sides close.
    pub fn close(&mut self, e: &mut Eng, secs: u64) {
        let f = flags::ACK | flags::FIN;
        push(
            e,
            secs,
            &frame::tcp(self.a, self.b, f, self.a_seq, self.b_seq, b""),
        );
        self.a_seq += 1;
        push(
            e,
            secs,
            &frame::tcp(self.b, self.a, f, self.b_seq, self.a_seq, b""),
        );
        self.b_seq += 1;
        push(
            e,
            secs,
            &frame::tcp(self.a, self.b, flags::ACK, self.a_seq, self.b_seq, b""),
        );
    }
}
