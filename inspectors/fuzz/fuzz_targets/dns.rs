//! Fuzzes the dns and mdns service inspectors through the real API: the input is a script of
//! chunks, each `[op, len, bytes...]`: op bit 0 picks the direction, ops with bits
//! 1-4 all set are a gap of `len * 7 + 1` bytes, the others carry the next `len`
//! bytes as data. Every event is rendered to JSON; the flow ends with `end`. The same
//! bytes as one message must be accepted by `dns::probe` exactly when
//! `dns::parse_message` parses them.
#![no_main]

use flowengine::inspect::Transport;
use flowengine_inspectors_fuzz::drive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the transport: UDP (one datagram per chunk) or TCP.
    let Some((&t, rest)) = data.split_first() else {
        return;
    };
    let transport = if t & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    drive(
        &flowengine_inspectors::dns::DnsInspector::new(),
        transport,
        53,
        rest,
    );
    // mDNS reads the same messages (UDP only: it starts nothing on TCP).
    drive(
        &flowengine_inspectors::mdns::MdnsInspector::new(),
        transport,
        5353,
        rest,
    );
    // Whole messages straight into the wire parser too; the wizard's probe (the
    // same reader keeping nothing) must accept exactly what it parses.
    let parsed = flowengine_inspectors::dns::parse_message(rest, 0);
    let probed = flowengine_inspectors::dns::probe(rest, rest.len());
    assert_eq!(probed, parsed.ok().map(|e| e.is_response()));
    // A message announced longer than what is here is judged by its header.
    let _ = flowengine_inspectors::dns::probe(rest, rest.len() + usize::from(t));
});
