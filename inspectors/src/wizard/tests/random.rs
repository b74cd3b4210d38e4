//! Random input: nothing panics, buffers stay within the depth, and long random data
//! is rarely named.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestRng};

fn transport(udp: bool) -> Transport {
    if udp {
        UDP
    } else {
        TCP
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_chunks_never_panic_and_stay_bounded(
        chunks in proptest::collection::vec(
            (any::<bool>(), proptest::option::weighted(0.95, proptest::collection::vec(any::<u8>(), 0..700)), any::<u16>()),
            1..24,
        ),
        udp in any::<bool>(),
        client in any::<u16>(),
        server in prop_oneof![Just(80u16), Just(53), Just(502), Just(123), Just(4500), Just(3478), any::<u16>()],
        depth in prop_oneof![Just(DEFAULT_MAX_SEARCH_DEPTH), 1u32..300],
    ) {
        let w = Wizard::new(WizardConfig::default().with_max_search_depth(depth)).unwrap();
        let mut st = WizardState::default();
        let ports = Ports { client, server };
        let mut decided = None;
        for (to_server, data, gap) in &chunks {
            let dir = if *to_server { ToServer } else { ToClient };
            let chunk = match data {
                Some(d) => Chunk::Data(d),
                None => Chunk::Gap(u32::from(*gap)),
            };
            let got = w.scan(&mut st, transport(udp), ports, dir, chunk);
            prop_assert!(st.buffered(ToServer) <= depth as usize);
            prop_assert!(st.buffered(ToClient) <= depth as usize);
            if let Some(d) = decided {
                prop_assert_eq!(got, d, "a decision never changes");
            } else if got != Outcome::Pending {
                decided = Some(got);
                if let Outcome::Service { name, .. } = got {
                    prop_assert!(SERVICES.contains(&name));
                }
            }
        }
        let end = w.finish(&mut st, transport(udp));
        if let Some(d) = decided {
            prop_assert_eq!(end, d);
        }
    }
}

/// Deterministic random payloads: `count` of 512 to 1500 bytes from `seed`.
fn payloads(seed: u8, count: usize) -> Vec<Vec<u8>> {
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
    (0..count)
        .map(|_| {
            let len = 512 + (rng.next_u32() % 989) as usize;
            let mut p = vec![0u8; len];
            rng.fill_bytes(&mut p);
            p
        })
        .collect()
}

#[test]
fn long_random_data_is_rarely_named() {
    let w = wizard();
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut tried = 0usize;
    let mut named = Vec::new();
    for seed in 0..8u8 {
        for p in payloads(seed, 500) {
            let udp = rng.next_u32() % 2 == 0;
            let ports = Ports {
                client: 1024 + (rng.next_u32() % 60000) as u16,
                server: 1024 + (rng.next_u32() % 60000) as u16,
            };
            let dir = if rng.next_u32() % 2 == 0 {
                ToServer
            } else {
                ToClient
            };
            let mut st = WizardState::default();
            let got = w.scan(&mut st, transport(udp), ports, dir, Chunk::Data(&p));
            tried += 1;
            if let Outcome::Service { name, .. } = got {
                named.push(name);
            }
        }
    }
    assert_eq!(tried, 4000);
    assert!(
        named.len() * 100 < tried,
        "{} of {tried} random payloads named: {named:?}",
        named.len()
    );
}

#[test]
fn random_text_lines_are_rarely_named() {
    // printable noise looks more like the text protocols than binary noise does
    let w = wizard();
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]);
    let mut named = 0usize;
    for _ in 0..4000 {
        let len = 16 + (rng.next_u32() % 200) as usize;
        let mut line: Vec<u8> = (0..len)
            .map(|_| 0x20 + (rng.next_u32() % 95) as u8)
            .collect();
        line.extend_from_slice(b"\r\n");
        let mut st = WizardState::default();
        let ports = Ports {
            client: 40000,
            server: 1024 + (rng.next_u32() % 60000) as u16,
        };
        if let Outcome::Service { .. } = w.scan(&mut st, TCP, ports, ToServer, Chunk::Data(&line)) {
            named += 1;
        }
    }
    assert!(named * 100 < 4000, "{named} random lines named");
}

/// Message starts the book knows (and some it nearly knows), to give the differential
/// test below inputs that hit, wait and miss.
fn known_starts() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\n",
        b"POST ",
        b"SSH-2.0-x\r\n",
        b"220 ready\r\n",
        b"USER x\r\n",
        b"QUIT\r\n",
        b"PING\r\n",
        b"* OK\r\n",
        b"+OK\r\n",
        b"RTSP/1.0 200 OK\r\n",
        b"OPTIONS sip:x SIP/2.0\r\n",
    ]
    .iter()
    .map(|m| m.to_vec())
    .collect();
    v.extend([
        dns_query("a.example"),
        dns_response("a.example"),
        tcp_framed(&dns_query("b.example")),
        tls_client_hello("x.example"),
        tls_server_hello(),
        quic_initial(1),
        dhcp_discover(),
        ntp_request(),
        snmp_get(),
        mqtt_connect(4),
        rdp_request(),
        smb2_negotiate(),
        dcerpc_bind(),
        krb5_as_req(),
        ldap_bind(),
        pgsql_startup(),
        nfs_call(3, 0),
        ikev2_sa_init(),
        stun_binding_request(),
        stun_classic_request(),
        stun_classic_response(),
        quic_short_header(),
        quic_version_negotiation(),
        llmnr_query(),
        kafka_metadata_v2(),
        tls_encrypted_alert(80),
    ]);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The book's shortcuts (no port look-up off the hinted ports, stopping once no
    /// later rule can win) choose exactly what ranking every candidate chooses.
    #[test]
    fn evaluation_shortcuts_choose_what_full_ranking_chooses(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flip in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
        random in proptest::option::weighted(0.2, proptest::collection::vec(any::<u8>(), 1..64)),
        udp in any::<bool>(),
        last in any::<bool>(),
        client in prop_oneof![Just(40000u16), Just(53), Just(21), Just(6379), any::<u16>()],
        server in prop_oneof![Just(80u16), Just(53), Just(502), Just(123), Just(4500), Just(3478), Just(1883), Just(443), Just(25), any::<u16>()],
    ) {
        let starts = known_starts();
        let mut d = random.unwrap_or_else(|| {
            let m = &starts[which.index(starts.len())];
            m[..1 + cut.index(m.len())].to_vec()
        });
        if let Some((at, b)) = flip {
            let i = at.index(d.len());
            d[i] = b;
        }
        let w = wizard();
        let ctx = curses::Ctx { udp, client_port: client, server_port: server };
        prop_assert_eq!(w.book.evaluate(&d, &ctx, last), w.book.evaluate_reference(&d, &ctx, last));
    }
}
