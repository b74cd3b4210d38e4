//! A capture the test writes, holding one conversation inside every tunnel type the
//! decoder opens, replayed by `pcap-replay`: each inner flow is an EVE record of its
//! own beside its outer flow, and the summary counts the tunnels by type.

use flowengine_tests::frame::{self, v4, v6};
use flowengine_tests::pcap;
use flowengine_tests::tunnel::{self, GreOptions, Outer};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::Command;

const S: u64 = 1_000_000_000;

#[test]
fn every_tunnel_type_in_one_capture() {
    let outer = Outer {
        src: v4(172, 16, 0, 1),
        dst: v4(172, 16, 0, 2),
    };
    let outer6 = Outer {
        src: v6(0xa1),
        dst: v6(0xa2),
    };
    // Inner conversation n: UDP 10.50.0.1:(1000+n) -> 10.50.0.2:53 and back, or over
    // IPv6 for the tunnels that carry IPv6.
    let conv = |n: u16, v6_inner: bool, reply: bool| -> Vec<u8> {
        let (c, s): (IpAddr, IpAddr) = if v6_inner {
            (v6(0x100), v6(0x200))
        } else {
            (v4(10, 50, 0, 1), v4(10, 50, 0, 2))
        };
        if reply {
            frame::udp((s, 53), (c, 1000 + n), b"a")
        } else {
            frame::udp((c, 1000 + n), (s, 53), b"q")
        }
    };
    let ip = |n, v6_inner, reply| frame::ip_of(&conv(n, v6_inner, reply));
    let keyed = GreOptions {
        key: Some(77),
        ..Default::default()
    };
    let mut frames: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        (
            "4in4",
            tunnel::ipip(outer, &ip(1, false, false)),
            tunnel::ipip(outer.reversed(), &ip(1, false, true)),
        ),
        (
            "6in4",
            tunnel::ipip(outer, &ip(2, true, false)),
            tunnel::ipip(outer.reversed(), &ip(2, true, true)),
        ),
        (
            "4in6",
            tunnel::ipip(outer6, &ip(3, false, false)),
            tunnel::ipip(outer6.reversed(), &ip(3, false, true)),
        ),
        (
            "6in6",
            tunnel::ipip(outer6, &ip(4, true, false)),
            tunnel::ipip(outer6.reversed(), &ip(4, true, true)),
        ),
        (
            "gre",
            tunnel::gre(outer, keyed, 0x0800, &ip(5, false, false)),
            tunnel::gre(outer.reversed(), keyed, 0x0800, &ip(5, false, true)),
        ),
        (
            "erspan2",
            tunnel::erspan2(outer, 0, &conv(6, false, false)),
            tunnel::erspan2(outer, 0, &conv(6, false, true)),
        ),
        (
            "erspan3",
            tunnel::erspan3(outer, true, &conv(7, false, false)),
            tunnel::erspan3(outer, false, &conv(7, false, true)),
        ),
        (
            "pptp",
            tunnel::pptp(outer, 1, &ip(8, false, false)),
            tunnel::pptp(outer.reversed(), 2, &ip(8, false, true)),
        ),
        (
            "vxlan",
            tunnel::vxlan(outer, 30000, 4789, 9, &conv(9, false, false)),
            tunnel::vxlan(outer.reversed(), 30001, 4789, 9, &conv(9, false, true)),
        ),
        (
            "geneve",
            tunnel::geneve(outer, 30002, 0x6558, &[0; 4], &conv(10, false, false)),
            tunnel::geneve(outer.reversed(), 30002, 0x6558, &[], &conv(10, false, true)),
        ),
        (
            "teredo",
            tunnel::teredo(outer, 30003, 3544, false, &ip(11, true, false)),
            tunnel::teredo(outer.reversed(), 3544, 30003, true, &ip(11, true, true)),
        ),
        (
            "gtp",
            tunnel::gtp(outer, 5, true, &ip(12, false, false)),
            tunnel::gtp(outer.reversed(), 6, false, &ip(12, false, true)),
        ),
        (
            "nsh",
            tunnel::nsh(1, 1, &ip(13, false, false)),
            tunnel::nsh(2, 1, &ip(13, false, true)),
        ),
        (
            "pppoe",
            tunnel::pppoe(3, &ip(14, false, false)),
            tunnel::pppoe(3, &ip(14, false, true)),
        ),
    ];
    let mut packets = Vec::new();
    for (i, (_, req, rep)) in frames.iter_mut().enumerate() {
        packets.push((i as u64 * S, std::mem::take(req)));
        packets.push((i as u64 * S + S / 2, std::mem::take(rep)));
    }
    let dir = std::env::temp_dir().join(format!("pcap-replay-tunnels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("tunnels.pcap");
    let eve = dir.join("eve.json");
    pcap::write_file(&cap, pcap::DLT_EN10MB, &packets).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pcap-replay"))
        .args(["--deterministic", "--eve"])
        .arg(&eve)
        .arg(&cap)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every inner conversation is exactly one flow with one packet each way.
    let mut seen = BTreeSet::new();
    for e in &events {
        if e["dest_port"] == 53 {
            let n = e["src_port"].as_u64().unwrap() - 1000;
            assert!(seen.insert(n), "conversation {n} recorded twice");
            assert_eq!(e["flow"]["pkts_toserver"], 1, "{e}");
            assert_eq!(e["flow"]["pkts_toclient"], 1, "{e}");
        }
    }
    assert_eq!(seen, (1..=14).collect(), "inner flows of {events:#?}");
    // Outer flows: 4 IP-in-IP (two protocols, two address families), 2 VXLAN and 2
    // Geneve (each direction from its own source port), 1 Teredo, 1 GTP; GRE (with
    // ERSPAN and PPTP) is a tunnel only, as in Suricata; NSH and PPPoE are link layers.
    assert_eq!(events.len(), 14 + 10, "{events:#?}");
    assert!(events.iter().all(|e| e["proto"] != "GRE"));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.lines().any(|l| l.trim() == "tunnel_only: 8"),
        "the 8 GRE packets in\n{summary}"
    );
    for (kind, n) in [
        ("ipip", 8),
        ("gre", 8),
        ("vxlan", 2),
        ("geneve", 2),
        ("teredo", 2),
        ("gtp", 2),
    ] {
        assert!(
            summary.lines().any(|l| l.trim() == format!("{kind}: {n}")),
            "{kind}: {n} in\n{summary}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
