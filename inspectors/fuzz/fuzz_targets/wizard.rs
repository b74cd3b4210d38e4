//! Fuzzes the wizard through the engine's inspector API: a TCP or UDP flow on fuzzed
//! ports, fed fuzzed chunks in both directions (gaps included) through a `Cx`, then
//! ended. Checks that nothing panics, that a decision is reported once (with `done`)
//! and never changes, that the only thing asked without one is `done_with` for a UDP
//! direction (and a direction reported failed on its own comes only with a service
//! named by the other one, after the core ruled it out: a UDP direction's first
//! datagram, or a TCP direction done with), that named services are Suricata names,
//! that the per-flow buffer never outgrows the search depth, and that the second look
//! at the input (a silent direction's first chunk) never swaps, fails only on TCP and
//! is reported as the core says.

#![no_main]

use flowengine::flow::Direction;
use flowengine::inspect::{Actions, Chunk, Cx, Detection, FlowInfo, Inspector, Transport};
use flowengine::Timestamp;
use flowengine_inspectors::wizard::{Outcome, Ports, Wizard, WizardConfig, WizardState, SERVICES};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

/// Wizards built once: the default depth and a small one (so depth limits are hit).
fn wizards() -> &'static [Wizard; 2] {
    static W: OnceLock<[Wizard; 2]> = OnceLock::new();
    W.get_or_init(|| {
        [
            Wizard::new(WizardConfig::default()).expect("default config"),
            Wizard::new(WizardConfig::default().with_max_search_depth(48)).expect("depth 48"),
        ]
    })
}

/// A report in `actions` matches the core's `outcome` (an empty report: already
/// reported, or still pending).
fn agree(outcome: Outcome, actions: &Actions) {
    match actions.detection {
        Some(Detection::Service(name)) => {
            assert_eq!(
                outcome,
                Outcome::Service {
                    name,
                    swap: actions.swap
                }
            );
        }
        Some(Detection::Failed) => assert_eq!(outcome, Outcome::Failed),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (flags, rest) = (data[0], &data[5..]);
    let wizard = &wizards()[usize::from(flags & 1)];
    let transport = if flags & 2 == 0 {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    // a few well-known ports now and then, so port-bound rules are reached
    const PORTS: [u16; 16] = [
        80, 53, 502, 123, 4500, 3478, 69, 44818, 443, 5432, 1883, 21, 25, 3389, 161, 6379,
    ];
    let mut server = u16::from_be_bytes([data[1], data[2]]);
    if flags & 4 != 0 {
        server = PORTS[usize::from(data[1] & 15)];
    }
    let client = u16::from_be_bytes([data[3], data[4]]);
    let info = FlowInfo {
        flow_id: 1,
        transport,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), client),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), server),
    };
    let Some(mut flow) = wizard.start(&info) else {
        panic!("the wizard inspects every TCP and UDP flow");
    };
    // the pure core, fed the same chunks, must agree with what the adapter reports
    let mut core = WizardState::default();
    let ports = Ports { client, server };
    let depth = wizard.max_search_depth();
    let mut decided: Option<Detection> = None;
    // the directions the wizard was done with: no decision may come from one of them
    let mut done_with = [false; 2];
    // `other_out`: the core had ruled out the direction opposite `dir` before this call
    let mut check = |actions: &mut Actions, dir: Option<Direction>, other_out: bool| {
        // the one thing asked without a decision: no more of a UDP direction ruled out
        if let Some(d) = actions.done_with.take() {
            assert_eq!(transport, Transport::Udp, "done_with on TCP");
            assert_eq!(Some(d), dir, "done_with for the other direction");
            assert!(decided.is_none(), "done_with after a decision");
            // asked again if called again (the engine would not call again)
            done_with[usize::from(d == Direction::ToClient)] = true;
        }
        if let Some(d) = actions.detection {
            assert!(decided.is_none(), "reported twice: {decided:?} then {d:?}");
            assert!(actions.done, "a decision comes with done");
            if let Some(f) = actions.failed_dir {
                // a direction ruled out before the other one named the flow
                assert!(matches!(d, Detection::Service(_)), "failed_dir with {d:?}");
                assert_eq!(Some(f.opposite()), dir, "failed_dir is the other direction");
                assert!(other_out, "failed_dir for a direction not ruled out");
                if transport == Transport::Udp {
                    assert!(done_with[usize::from(f == Direction::ToClient)]);
                }
            }
            if let Detection::Service(name) = d {
                assert!(SERVICES.contains(&name), "{name}");
                if let Some(dir) = dir {
                    let i = usize::from(dir == Direction::ToClient);
                    assert!(
                        !done_with[i],
                        "{name} named from a direction it was done with"
                    );
                }
            } else {
                assert!(!actions.swap, "a failure asks for no swap");
            }
            decided = Some(d);
        } else {
            assert!(actions.is_empty(), "no decision, no action: {actions:?}");
        }
    };
    // ops: [op][len][bytes...]; op bit 0 direction, op bit 1..=2 == 3 a gap of `len`
    let mut at = 0usize;
    while let (Some(&op), Some(&len)) = (rest.get(at), rest.get(at + 1)) {
        at += 2;
        let dir = if op & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let len = usize::from(len) * (1 + usize::from(op >> 6)); // up to 1020 bytes
        let chunk = if (op >> 1) & 3 == 3 {
            Chunk::Gap(len as u32)
        } else {
            let end = (at + len).min(rest.len());
            let c = Chunk::Data(&rest[at..end]);
            at = end;
            c
        };
        let other_out = core.ruled_out(dir.opposite(), transport);
        let mut actions = Actions::default();
        flow.data(
            &mut Cx::new(Timestamp::ZERO, &info, &mut actions),
            dir,
            chunk,
        );
        check(&mut actions, Some(dir), other_out);
        let outcome = wizard.scan(&mut core, transport, ports, dir, chunk);
        agree(outcome, &actions);
        assert!(core.buffered(Direction::ToServer) <= depth);
        assert!(core.buffered(Direction::ToClient) <= depth);
    }
    let mut actions = Actions::default();
    flow.end(&mut Cx::new(Timestamp::ZERO, &info, &mut actions));
    check(&mut actions, None, false);
    agree(wizard.finish(&mut core, transport), &actions);
    // The second look at the whole input as a silent direction's first chunk, on a flow
    // named one of the services: never a swap, `failed` only on TCP, and the adapter
    // reports what the core says.
    let service = SERVICES[usize::from(data[2]) % SERVICES.len()];
    for dir in [Direction::ToServer, Direction::ToClient] {
        let core = wizard.second_look(transport, ports, dir, rest, service);
        assert!(
            !matches!(core, Outcome::Service { swap: true, .. }),
            "{core:?}"
        );
        if core == Outcome::Failed {
            assert_eq!(transport, Transport::Tcp, "a failed second look on UDP");
        }
        let said =
            <Wizard as Inspector>::second_look(wizard, &info, service, dir, rest, Timestamp::ZERO);
        match core {
            Outcome::Service { name, .. } => assert_eq!(said, Detection::Service(name)),
            Outcome::Failed => assert_eq!(said, Detection::Failed),
            Outcome::Pending => assert_eq!(said, Detection::Pending),
        }
    }
});
