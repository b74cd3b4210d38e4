//! Decoder + flow cache: the input is a sequence of frames pushed into two engines
//! (one mixing `push` and `push_batch`, one pushing frame by frame), which must agree
//! and keep the engine's promises.
//!
//! Input layout:
//!
//! ```text
//! byte 0   link type: flowengine_fuzz::DLTS[byte % 20]
//! byte 1   config bits 0-7 (see flowengine_fuzz::config)
//! byte 2   low nibble: config bits 8-11
//! then, repeated until the input ends:
//!   u16 LE  bits 0-11 frame length (cut to what is left), bit 12 flush() after it,
//!           bits 13-14 op after it (0 none, 1 set_verdict Allow, 2 set_verdict Block,
//!           3 idle(now)), bit 15 push it alone (else it joins the pending batch)
//!   u32 LE  time delta in microseconds; bit 31 set: go back in time by bits 0-30
//!   bytes   the frame
//! ```
#![no_main]

use flowengine::decode::{decode, decode_tunnel, Decoded, TunnelConfig};
use flowengine::flow::Verdict;
use flowengine::key::FlowKey;
use flowengine::record::Collect;
use flowengine::{Config, Engine, LinkType, Packet, Timestamp};
use flowengine_fuzz::{check_eve, check_finished, config, engine, link_of, DLTS};
use libfuzzer_sys::fuzz_target;

const START_NANOS: u64 = 1_700_000_000 * 1_000_000_000;

/// Decodes `data` as every link type, following tunnels, to exercise `decode` directly.
fn decode_raw(data: &[u8]) {
    for dlt in DLTS {
        let mut outcome = decode(LinkType::from_dlt(dlt), data);
        for _ in 0..32 {
            let Ok(Decoded::Ip(p)) = outcome else { break };
            assert!(
                p.payload.len() <= data.len(),
                "payload longer than the frame"
            );
            match decode_tunnel(&p, &TunnelConfig::default()) {
                Some((_, inner)) => outcome = inner,
                None => break,
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    None,
    Verdict(Verdict),
    Idle,
}

/// Applies a frame's op to one engine; returns what `set_verdict` said.
fn apply(
    e: &mut Engine<Collect>,
    cfg: &Config,
    pkt: &Packet<'_>,
    op: Op,
    flush: bool,
) -> Option<bool> {
    let mut said = None;
    match op {
        Op::None => {}
        Op::Idle => e.idle(pkt.ts),
        Op::Verdict(v) => {
            if let Ok(Decoded::Ip(p)) = decode(pkt.link, pkt.data) {
                let (key, _) = FlowKey::from_packet(&p, cfg.key_options(), 0);
                said = Some(e.set_verdict(&key, v));
            }
        }
    }
    if flush {
        e.flush();
    }
    said
}

fuzz_target!(|data: &[u8]| {
    decode_raw(data);
    if data.len() < 3 {
        return;
    }
    let link = link_of(data[0]);
    let sel = u16::from(data[1]) | (u16::from(data[2] & 0x0f) << 8);
    let cfg = config(sel);
    let mut mixed = engine(&cfg);
    let mut single = engine(&cfg);

    let mut rest = &data[3..];
    let mut now = START_NANOS;
    let mut frames = 0u64;
    let mut pending: Vec<Packet<'_>> = Vec::new();
    while rest.len() >= 6 {
        let len_field = u16::from_le_bytes([rest[0], rest[1]]);
        let delta = u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]);
        rest = &rest[6..];
        let len = usize::from(len_field & 0x0fff).min(rest.len());
        let (frame, tail) = rest.split_at(len);
        rest = tail;
        let micros = u64::from(delta & 0x7fff_ffff);
        now = if delta & 0x8000_0000 != 0 {
            now.saturating_sub(micros * 1000)
        } else {
            now + micros * 1000
        };
        let pkt = Packet {
            ts: Timestamp::from_nanos(now),
            link,
            data: frame,
        };
        let flush = len_field & 0x1000 != 0;
        let op = match (len_field >> 13) & 3 {
            0 => Op::None,
            1 => Op::Verdict(Verdict::Allow),
            2 => Op::Verdict(Verdict::Block),
            _ => Op::Idle,
        };
        let alone = len_field & 0x8000 != 0;
        frames += 1;

        single.push(&pkt);
        if alone {
            mixed.push_batch(&pending);
            pending.clear();
            mixed.push(&pkt);
        } else {
            pending.push(pkt);
        }
        if flush || !matches!(op, Op::None) {
            mixed.push_batch(&pending);
            pending.clear();
        }
        let a = apply(&mut mixed, &cfg, &pkt, op, flush);
        let b = apply(&mut single, &cfg, &pkt, op, flush);
        assert_eq!(a, b, "set_verdict differs between push_batch and push");
    }
    mixed.push_batch(&pending);

    let (stats, Collect(records)) = mixed.finish();
    let (stats_single, Collect(records_single)) = single.finish();
    check_finished(&stats, &records, frames);
    // push_batch must process frames exactly as pushing them one by one.
    assert_eq!(
        stats, stats_single,
        "stats differ between push_batch and push"
    );
    assert_eq!(
        records, records_single,
        "records differ between push_batch and push"
    );
    check_eve(&records);
});
