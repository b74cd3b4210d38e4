//! The conntrack feed's attribute parser and rules on arbitrary bytes.
//!
//! Input: byte 0 = options (bit 0: dump answers go through `dump_entry` in
//! get-and-zero mode instead of plain; bit 1: a `dump_begin`/`dump_end` pair around
//! every 4 messages), then a datagram of netlink messages. Time: each message's
//! receive time is 1 s after the previous one (events with kernel timestamps use
//! theirs).
//!
//! Checks: parsing never panics; each message lies inside the input and messages come
//! in order; a parsed tuple written back with `put_tuple` parses to the same tuple
//! (when it is one `put_tuple` can express); every conntrack entry goes through
//! `ConntrackTracker` (the rules) and after `finish` nothing is live, every flow ended
//! exactly once (records = distinct flow ids), and each record renders as an EVE
//! `flow` JSON object with a `conntrack` object.
#![no_main]

use flowengine::feed::conntrack::parse::{
    cta, has_ports, parse_message, parse_tuple, put_tuple, Attrs, EventKind, Message,
    Messages, Tuple,
};
use flowengine::feed::conntrack::CounterMode;
use flowengine::record::Collect;
use flowengine::{ConntrackTracker, EveOptions, EveWriter, Sink, Timestamp};
use libfuzzer_sys::fuzz_target;

fn expressible(t: &Tuple) -> bool {
    let no_ports = (t.src_port, t.dst_port) == (0, 0);
    match t.icmp {
        Some(_) => no_ports,
        None => has_ports(t.proto) || no_ports,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&opts, datagram)) = data.split_first() else {
        return;
    };
    let mode = if opts & 1 != 0 {
        CounterMode::Delta
    } else {
        CounterMode::Absolute
    };
    let mut tracker = ConntrackTracker::new(Collect::default());
    let mut now = Timestamp::from_secs_micros(1_700_000_000, 0);
    let base = datagram.as_ptr() as usize;
    let mut last_end = 0usize;
    let mut in_dump = false;
    for (i, m) in Messages::new(datagram).enumerate() {
        let Ok(m) = m else { break };
        let at = m.payload.as_ptr() as usize - base;
        assert!(at >= last_end && at + m.payload.len() <= datagram.len());
        last_end = at + m.payload.len();
        now = now.add_secs(1);
        if opts & 2 != 0 && i % 4 == 0 {
            if in_dump {
                tracker.dump_end(now);
            }
            tracker.dump_begin(now);
            in_dump = true;
        }
        let Ok(Message::Conntrack(kind, e)) = parse_message(&m) else {
            continue;
        };
        for t in [e.orig, e.reply].into_iter().flatten() {
            if expressible(&t) {
                let mut b = Vec::new();
                put_tuple(&mut b, cta::TUPLE_ORIG, &t);
                let a = Attrs::new(&b).next().unwrap().unwrap();
                assert_eq!(parse_tuple(a.value), Ok(t));
            }
        }
        match kind {
            EventKind::Dump => tracker.dump_entry(&e, now, mode),
            k => tracker.event(k, &e, now),
        }
    }
    if in_dump {
        tracker.dump_end(now);
    }
    let (stats, Collect(records)) = tracker.finish(now.add_secs(1));
    assert_eq!(stats.live, 0);
    assert_eq!(stats.records, records.len() as u64);
    let mut ids: Vec<u64> = records.iter().map(|r| r.flow_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), records.len(), "a flow ended twice");
    let mut w = EveWriter::new(Vec::new(), EveOptions::default());
    for r in &records {
        assert!(r.start <= r.end);
        w.flow(r);
    }
    let out = w.finish().unwrap();
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v["event_type"], "flow");
        assert!(v["conntrack"].is_object());
    }
});
