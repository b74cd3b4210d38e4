//! Tunnels as an embedding program sees them: for each tunnel type the engine opens,
//! a request and a reply inside the tunnel make one inner flow, tracked beside the
//! outer flow(s); the depth in or out of the key; the recursion limit; tunnels turned
//! off; packets on tunnel ports that are not tunnels.

use flowengine::decode::TunnelKind;
use flowengine::record::Collect;
use flowengine::{ConfigBuilder, Engine, FlowRecord, LinkType, Packet, Stats, Timestamp};
use flowengine_tests::frame::{self, v4, v6};
use flowengine_tests::tunnel::{self, GreOptions, Outer};
use std::net::IpAddr;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

fn run(sets: &[&str], frames: &[Vec<u8>]) -> (Stats, Vec<FlowRecord>) {
    let mut b = ConfigBuilder::new();
    b.set("flow.hash_seed=5").unwrap();
    for s in sets {
        b.set(s).unwrap();
    }
    let mut e = Engine::new(&b.build().unwrap(), Collect::default()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        e.push(&Packet {
            ts: Timestamp::from_nanos(T0 + i as u64 * S / 10),
            link: LinkType::Ethernet,
            data: f,
        });
    }
    let (stats, Collect(records)) = e.finish();
    assert_eq!(stats.records, records.len() as u64);
    (stats, records)
}

const OUT4: Outer = Outer {
    src: IpAddr::V4(std::net::Ipv4Addr::new(172, 16, 0, 1)),
    dst: IpAddr::V4(std::net::Ipv4Addr::new(172, 16, 0, 2)),
};

fn out6() -> Outer {
    Outer {
        src: v6(0xa1),
        dst: v6(0xa2),
    }
}

/// The inner conversation: a UDP query and its answer between two hosts.
fn query(v6_inner: bool) -> ((IpAddr, u16), (IpAddr, u16)) {
    if v6_inner {
        ((v6(1), 5353), (v6(2), 53))
    } else {
        ((v4(192, 168, 7, 1), 5353), (v4(192, 168, 7, 2), 53))
    }
}

fn inner_eth(v6_inner: bool, reply: bool) -> Vec<u8> {
    let (c, s) = query(v6_inner);
    if reply {
        frame::udp(s, c, b"answer")
    } else {
        frame::udp(c, s, b"question")
    }
}

fn inner_ip(v6_inner: bool, reply: bool) -> Vec<u8> {
    frame::ip_of(&inner_eth(v6_inner, reply))
}

/// The inner flow's record: one packet each way, client and server as sent.
fn assert_inner_flow(name: &str, records: &[FlowRecord], v6_inner: bool) {
    let (c, s) = query(v6_inner);
    let inner: Vec<_> = records
        .iter()
        .filter(|r| r.ports == Some((c.1, s.1)) && (r.src_ip == c.0 || r.dest_ip == c.0))
        .collect();
    assert_eq!(inner.len(), 1, "{name}: one inner flow in {records:#?}");
    let r = inner[0];
    assert_eq!((r.src_ip, r.dest_ip), (c.0, s.0), "{name}");
    assert_eq!((r.pkts_toserver, r.pkts_toclient), (1, 1), "{name}");
    assert_eq!(r.proto, 17, "{name}");
}

struct Case {
    name: &'static str,
    kind: TunnelKind,
    v6_inner: bool,
    request: Vec<u8>,
    reply: Vec<u8>,
    /// Outer flows the two frames make.
    outer_flows: usize,
    sets: &'static [&'static str],
    /// Bytes of the request's and the reply's tunnelled unit before the inner IP
    /// packet (Suricata counts the unit: an inner Ethernet header, an ERSPAN or PPP
    /// header, ...).
    prefix: [usize; 2],
}

fn cases() -> Vec<Case> {
    let gre_opts = GreOptions {
        checksum: true,
        key: Some(0xdead_beef),
        seq: Some(9),
        routing: false,
    };
    let routed = GreOptions {
        routing: true,
        ..Default::default()
    };
    let mut v = vec![
        Case {
            name: "4in4",
            kind: TunnelKind::IpInIp,
            v6_inner: false,
            request: tunnel::ipip(OUT4, &inner_ip(false, false)),
            reply: tunnel::ipip(OUT4.reversed(), &inner_ip(false, true)),
            outer_flows: 1,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "6in4",
            kind: TunnelKind::IpInIp,
            v6_inner: true,
            request: tunnel::ipip(OUT4, &inner_ip(true, false)),
            reply: tunnel::ipip(OUT4.reversed(), &inner_ip(true, true)),
            outer_flows: 1,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "4in6",
            kind: TunnelKind::IpInIp,
            v6_inner: false,
            request: tunnel::ipip(out6(), &inner_ip(false, false)),
            reply: tunnel::ipip(out6().reversed(), &inner_ip(false, true)),
            outer_flows: 1,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "6in6",
            kind: TunnelKind::IpInIp,
            v6_inner: true,
            request: tunnel::ipip(out6(), &inner_ip(true, false)),
            reply: tunnel::ipip(out6().reversed(), &inner_ip(true, true)),
            outer_flows: 1,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "gre-ipv4-keyed",
            kind: TunnelKind::Gre,
            v6_inner: false,
            request: tunnel::gre(OUT4, gre_opts, 0x0800, &inner_ip(false, false)),
            reply: tunnel::gre(OUT4.reversed(), gre_opts, 0x0800, &inner_ip(false, true)),
            outer_flows: 0,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "gre-ipv6-source-routed",
            kind: TunnelKind::Gre,
            v6_inner: true,
            request: tunnel::gre(OUT4, routed, 0x86dd, &inner_ip(true, false)),
            reply: tunnel::gre(OUT4.reversed(), routed, 0x86dd, &inner_ip(true, true)),
            outer_flows: 0,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "gre-ethernet",
            kind: TunnelKind::Gre,
            v6_inner: false,
            request: tunnel::gre(
                OUT4,
                GreOptions::default(),
                0x6558,
                &inner_eth(false, false),
            ),
            reply: tunnel::gre(
                OUT4.reversed(),
                GreOptions::default(),
                0x6558,
                &inner_eth(false, true),
            ),
            outer_flows: 0,
            sets: &[],
            prefix: [14, 14],
        },
        Case {
            name: "erspan-type1",
            kind: TunnelKind::Gre,
            v6_inner: false,
            request: tunnel::erspan1(OUT4, &inner_eth(false, false)),
            reply: tunnel::erspan1(OUT4, &inner_eth(false, true)),
            outer_flows: 0,
            sets: &["decoder.erspan.typeI.enabled=true"],
            prefix: [14, 14],
        },
        Case {
            name: "erspan-type2",
            kind: TunnelKind::Gre,
            v6_inner: false,
            request: tunnel::erspan2(OUT4, 0, &inner_eth(false, false)),
            reply: tunnel::erspan2(OUT4, 0, &inner_eth(false, true)),
            outer_flows: 0,
            sets: &[],
            prefix: [8 + 14, 8 + 14],
        },
        Case {
            name: "erspan-type3-platform",
            kind: TunnelKind::Gre,
            v6_inner: true,
            request: tunnel::erspan3(OUT4, true, &inner_eth(true, false)),
            reply: tunnel::erspan3(OUT4, false, &inner_eth(true, true)),
            outer_flows: 0,
            sets: &[],
            prefix: [12 + 8 + 14, 12 + 14],
        },
        Case {
            name: "pptp",
            kind: TunnelKind::Gre,
            v6_inner: false,
            request: tunnel::pptp(OUT4, 7, &inner_ip(false, false)),
            reply: tunnel::pptp(OUT4.reversed(), 8, &inner_ip(false, true)),
            outer_flows: 0,
            sets: &[],
            prefix: [4, 4],
        },
        Case {
            // Each direction picks its own outer source port: two outer flows, one
            // inner flow (as in suricata-verify's vxlan-decoder-04).
            name: "vxlan",
            kind: TunnelKind::Vxlan,
            v6_inner: false,
            request: tunnel::vxlan(OUT4, 40001, 4789, 100, &inner_eth(false, false)),
            reply: tunnel::vxlan(OUT4.reversed(), 40002, 4789, 100, &inner_eth(false, true)),
            outer_flows: 2,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "vxlan-custom-port",
            kind: TunnelKind::Vxlan,
            v6_inner: true,
            request: tunnel::vxlan(OUT4, 40001, 8472, 1, &inner_eth(true, false)),
            reply: tunnel::vxlan(OUT4.reversed(), 40001, 8472, 1, &inner_eth(true, true)),
            outer_flows: 2,
            sets: &["decoder.vxlan.ports=[4789, 8472]"],
            prefix: [0, 0],
        },
        Case {
            name: "geneve-ethernet-with-options",
            kind: TunnelKind::Geneve,
            v6_inner: false,
            request: tunnel::geneve(OUT4, 50000, 0x6558, &[1; 8], &inner_eth(false, false)),
            reply: tunnel::geneve(OUT4.reversed(), 50001, 0x6558, &[], &inner_eth(false, true)),
            outer_flows: 2,
            sets: &[],
            prefix: [14, 14],
        },
        Case {
            name: "geneve-ipv6",
            kind: TunnelKind::Geneve,
            v6_inner: true,
            request: tunnel::geneve(OUT4, 50000, 0x86dd, &[], &inner_ip(true, false)),
            reply: tunnel::geneve(OUT4.reversed(), 50000, 0x86dd, &[], &inner_ip(true, true)),
            outer_flows: 2,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "teredo",
            kind: TunnelKind::Teredo,
            v6_inner: true,
            request: tunnel::teredo(OUT4, 51000, 3544, false, &inner_ip(true, false)),
            reply: tunnel::teredo(OUT4.reversed(), 3544, 51000, true, &inner_ip(true, true)),
            outer_flows: 1,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "gtp-u",
            kind: TunnelKind::Gtp,
            v6_inner: false,
            request: tunnel::gtp(OUT4, 0x1111, false, &inner_ip(false, false)),
            reply: tunnel::gtp(OUT4.reversed(), 0x2222, true, &inner_ip(false, true)),
            outer_flows: 1,
            sets: &[],
            prefix: [0, 0],
        },
        Case {
            name: "gtp-u-ipv6-over-ipv6",
            kind: TunnelKind::Gtp,
            v6_inner: true,
            request: tunnel::gtp(out6(), 1, true, &inner_ip(true, false)),
            reply: tunnel::gtp(out6().reversed(), 2, false, &inner_ip(true, true)),
            outer_flows: 1,
            sets: &[],
            prefix: [0, 0],
        },
    ];
    // Tunnels inside a VLAN keep the tag on the inner flow too.
    v.push(Case {
        name: "vxlan-in-vlan",
        kind: TunnelKind::Vxlan,
        v6_inner: false,
        request: frame::with_vlans(
            &tunnel::vxlan(OUT4, 40001, 4789, 5, &inner_eth(false, false)),
            &[42],
        ),
        reply: frame::with_vlans(
            &tunnel::vxlan(OUT4.reversed(), 40001, 4789, 5, &inner_eth(false, true)),
            &[42],
        ),
        outer_flows: 2,
        sets: &[],
        prefix: [0, 0],
    });
    v
}

#[test]
fn every_tunnel_type_tracks_the_inner_flow_beside_the_outer_one() {
    for c in cases() {
        let (stats, records) = run(c.sets, &[c.request.clone(), c.reply.clone()]);
        assert_inner_flow(c.name, &records, c.v6_inner);
        assert_eq!(
            records.len(),
            1 + c.outer_flows,
            "{}: inner + outer flows in {records:#?}",
            c.name
        );
        assert_eq!(stats.decode.tunnels[c.kind as usize], 2, "{}", c.name);
        assert_eq!(stats.decode.tunneled, 2, "{}", c.name);
        assert_eq!(stats.decode.error_total(), 0, "{}", c.name);
        // The inner flow counts the unit the tunnel carries, as Suricata does: the
        // inner IP packet and what the tunnel puts before it (here the frames end
        // with the IP packet); the outer flows count whole frames.
        let unit_bytes = (inner_ip(c.v6_inner, false).len()
            + inner_ip(c.v6_inner, true).len()
            + c.prefix[0]
            + c.prefix[1]) as u64;
        let (cl, sv) = query(c.v6_inner);
        let inner = records
            .iter()
            .find(|r| r.ports == Some((cl.1, sv.1)))
            .unwrap();
        assert_eq!(
            inner.bytes_toserver + inner.bytes_toclient,
            unit_bytes,
            "{}",
            c.name
        );
        let outer_bytes: u64 = records
            .iter()
            .filter(|r| !std::ptr::eq(*r, inner))
            .map(|r| r.bytes_toserver + r.bytes_toclient)
            .sum();
        if c.kind == TunnelKind::Gre {
            // GRE is a tunnel only, as in Suricata: no flow of its own.
            assert_eq!(outer_bytes, 0, "{}", c.name);
            assert_eq!(stats.packets_tunnel_only, 2, "{}", c.name);
        } else {
            assert_eq!(
                outer_bytes,
                (c.request.len() + c.reply.len()) as u64,
                "{}",
                c.name
            );
            assert_eq!(stats.packets_tunnel_only, 0, "{}", c.name);
        }
        // VLAN tags outside the tunnel stay on the inner flow.
        if c.name == "vxlan-in-vlan" {
            assert!(records.iter().all(|r| r.vlans.as_slice() == [42]));
        }
    }
}

#[test]
fn tunnels_turned_off_leave_only_the_outer_flows() {
    for c in cases() {
        let set = match c.kind {
            TunnelKind::IpInIp => "decoder.ipip.enabled=false",
            TunnelKind::Gre => "decoder.gre.enabled=false",
            TunnelKind::Vxlan => "decoder.vxlan.enabled=false",
            TunnelKind::Geneve => "decoder.geneve.enabled=false",
            TunnelKind::Teredo => "decoder.teredo.enabled=false",
            TunnelKind::Gtp => "decoder.gtp.enabled=false",
            _ => unreachable!(),
        };
        let mut sets = c.sets.to_vec();
        sets.push(set);
        let (stats, records) = run(&sets, &[c.request, c.reply]);
        assert_eq!(stats.decode.tunneled, 0, "{}", c.name);
        // A GRE packet not opened is a flow of its own again.
        let outer = c.outer_flows.max(usize::from(c.kind == TunnelKind::Gre));
        assert_eq!(records.len(), outer, "{}", c.name);
        assert_eq!(stats.packets_tunnel_only, 0, "{}", c.name);
    }
}

#[test]
fn erspan_type_one_is_off_by_default_as_in_suricata() {
    let f = tunnel::erspan1(OUT4, &inner_eth(false, false));
    let (stats, records) = run(&[], &[f]);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].proto, 47);
    let errors: Vec<_> = stats.decode.errors_by_reason().collect();
    assert_eq!(errors, vec![("erspan_type1_disabled", 1)]);
}

#[test]
fn the_erspan_vlan_joins_the_inner_flows_tags() {
    let f = frame::with_vlans(&tunnel::erspan2(OUT4, 300, &inner_eth(false, false)), &[7]);
    let (_, records) = run(&[], &[f]);
    let inner = records.iter().find(|r| r.proto == 17).unwrap();
    assert_eq!(inner.vlans.as_slice(), &[7, 300]);
}

#[test]
fn nsh_and_pppoe_are_link_layers_not_tunnels() {
    let frames = vec![
        tunnel::nsh(1, 1, &inner_ip(false, false)),
        tunnel::nsh(2, 1, &inner_ip(false, true)),
        tunnel::nsh(2, 3, &inner_eth(true, false)),
        tunnel::pppoe(0x1234, &inner_ip(true, true)),
    ];
    let (stats, records) = run(&[], &frames);
    assert_eq!(stats.decode.tunneled, 0);
    assert_eq!(stats.decode.error_total(), 0);
    // One v4 flow (NSH both ways), one v6 flow (NSH then PPPoE), both at depth 0.
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_inner_flow("nsh", &records, false);
    assert_inner_flow("nsh+pppoe", &records, true);
}

#[test]
fn recursion_level_in_and_out_of_the_key() {
    // The same inner conversation once inside GRE (depth 1) and once plain (depth 0).
    let frames = vec![
        tunnel::gre(OUT4, GreOptions::default(), 0x0800, &inner_ip(false, false)),
        inner_eth(false, true),
    ];
    let (_, records) = run(&[], &frames);
    let (c, s) = query(false);
    let inner: Vec<_> = records
        .iter()
        .filter(|r| r.proto == 17 && (r.ports == Some((c.1, s.1)) || r.ports == Some((s.1, c.1))))
        .collect();
    assert_eq!(inner.len(), 2, "depth in the key: two flows");
    let (_, records) = run(&["decoder.recursion-level.use-for-tracking=false"], &frames);
    assert_inner_flow("depth out of the key", &records, false);
    assert_eq!(records.len(), 1, "one flow; the GRE packet makes none");
}

#[test]
fn nested_tunnels_stop_at_max_layers() {
    // UDP in IP-in-IP in GRE in VXLAN: four IP layers.
    let ipip = frame::ip_of(&tunnel::ipip(OUT4, &inner_ip(false, false)));
    let gre = tunnel::gre(OUT4, GreOptions::default(), 0x0800, &ipip);
    let vx = tunnel::vxlan(OUT4, 40000, 4789, 1, &gre);
    let (stats, records) = run(&[], std::slice::from_ref(&vx));
    // outer UDP, IP-in-IP and inner UDP: the opened GRE makes no flow
    assert_eq!(records.len(), 3, "{records:#?}");
    assert_eq!(stats.decode.tunneled, 3);
    assert_eq!(stats.packets_tunnel_only, 1);
    let (stats, records) = run(&["decoder.max-layers=2"], &[vx]);
    // The outer UDP flow and the GRE flow inside the VXLAN: the GRE is not opened.
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(stats.decode.tunneled, 1);
    assert!(records.iter().any(|r| r.proto == 47));
}

#[test]
fn packets_on_tunnel_ports_that_are_not_tunnels_are_plain_udp() {
    let frames = vec![
        frame::udp(
            (v4(10, 0, 0, 1), 999),
            (v4(10, 0, 0, 2), 4789),
            b"not vxlan",
        ),
        frame::udp(
            (v4(10, 0, 0, 1), 3544),
            (v4(10, 0, 0, 2), 999),
            b"not teredo",
        ),
        tunnel::gtp_echo(OUT4),
    ];
    let (stats, records) = run(&[], &frames);
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.proto == 17));
    let errors: Vec<_> = stats.decode.errors_by_reason().collect();
    assert_eq!(errors, vec![("vxlan_invalid", 1), ("teredo_invalid", 1)]);
    assert_eq!(stats.decode.tunnel_control, 1);
    assert_eq!(stats.packets_tracked, 3);
}

#[test]
fn bytes_captured_after_the_outer_packet_count_on_the_inner_flow_too() {
    // nDPI's 4in6tunnel capture: frames that carry 48 bytes after their IPv6 packet.
    // The inner flow counts its unit to the end of the captured frame (nDPI's
    // "tunnelled unit"); Suricata stops at the outer packet's length, which only
    // such frames tell apart.
    let junk = [0u8; 48];
    let request = [tunnel::ipip(out6(), &inner_ip(false, false)), junk.to_vec()].concat();
    let reply = [
        tunnel::ipip(out6().reversed(), &inner_ip(false, true)),
        junk.to_vec(),
    ]
    .concat();
    let (_, records) = run(&[], &[request.clone(), reply.clone()]);
    assert_inner_flow("4in6 with trailing bytes", &records, false);
    let (cl, sv) = query(false);
    let inner = records
        .iter()
        .find(|r| r.ports == Some((cl.1, sv.1)))
        .unwrap();
    let unit = inner_ip(false, false).len() + inner_ip(false, true).len() + 2 * junk.len();
    assert_eq!(inner.bytes_toserver + inner.bytes_toclient, unit as u64);
    let outer = records.iter().find(|r| r.ports.is_none()).unwrap();
    assert_eq!(
        outer.bytes_toserver + outer.bytes_toclient,
        (request.len() + reply.len()) as u64
    );
}

#[test]
fn packets_of_a_protocol_without_replies_all_count_to_the_server() {
    // Suricata's `FlowGetPacketDirection`: outside TCP, UDP, SCTP and ICMP every
    // packet counts to the server, so an IP-in-IP flow with traffic both ways stays
    // `new`, its first packet's sender the client.
    let request = tunnel::ipip(OUT4, &inner_ip(false, false));
    let reply = tunnel::ipip(OUT4.reversed(), &inner_ip(false, true));
    let (_, records) = run(&[], &[request.clone(), reply.clone()]);
    let outer = records.iter().find(|r| r.proto == 4).unwrap();
    assert_eq!((outer.pkts_toserver, outer.pkts_toclient), (2, 0));
    assert_eq!(outer.bytes_toserver, (request.len() + reply.len()) as u64);
    assert_eq!(outer.src_ip, OUT4.src);
    assert_eq!(outer.state, flowengine::flow::FlowState::New);
    // the inner UDP flow has its reply
    assert_inner_flow("4in4", &records, false);
}
