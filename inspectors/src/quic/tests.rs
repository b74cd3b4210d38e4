//! QUIC inspector tests: the RFC 9001 and RFC 9369 test vectors (keys, header
//! protection, the whole protected client Initial), Initials built and protected by
//! the tests (a ClientHello split over two packets and out-of-order CRYPTO frames,
//! a Retry), and bad input.

use super::initial::{initial_secret, key_iv_hp, InitialKeys, Side};
use super::*;
use crate::tls::testdata::{foxio_client_hello, handshake};
use flowengine::inspect::Actions;
use flowengine::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

const DCID: &str = "8394c8f03e515708";

/// RFC 9001 appendix A.2: the client Initial, protected (1200 bytes).
const RFC9001_PROTECTED: &str = "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f3991c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df621230c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c2084dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663ac69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009ddc324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450efc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03adea2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e72404790a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd46840647e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934";
/// RFC 9369 appendix A.2: the same Initial under QUIC version 2.
const RFC9369_PROTECTED: &str = "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad049f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd6818f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff3312ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1fac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c1216ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e54df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de714d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff99c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e7071010d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d134b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e38d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b536f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb199a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96ba18b2faa745b6fe189cf772a9f84cbfc";
/// RFC 9001 A.2 (and RFC 9369 A.2): the CRYPTO frame carrying the ClientHello,
/// before PADDING to 1162 bytes.
const RFC_CRYPTO_FRAME: &str = "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868\
    04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578\
    616d706c652e636f6dff01000100000a00080006001d00170018001000070005\
    04616c706e000500050100000000003300260024001d00209370b2c9caa47fba\
    baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400\
    0d0010000e0403050306030203080408050806002d00020101001c0002400100\
    3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000\
    75300901100f088394c8f03e51570806048000ffff";

fn rfc_payload() -> Vec<u8> {
    let mut p = unhex(RFC_CRYPTO_FRAME);
    p.resize(1162, 0);
    p
}

#[test]
fn rfc9001_initial_secrets_and_keys() {
    let dcid = unhex(DCID);
    let c = initial_secret(header::version::V1, &dcid, Side::Client).expect("v1");
    assert_eq!(
        c.to_vec(),
        unhex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
    );
    let (key, iv, hp) = key_iv_hp(header::version::V1, &c).expect("v1");
    assert_eq!(key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
    let s = initial_secret(header::version::V1, &dcid, Side::Server).expect("v1");
    assert_eq!(
        s.to_vec(),
        unhex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
    );
    let (key, iv, hp) = key_iv_hp(header::version::V1, &s).expect("v1");
    assert_eq!(key.to_vec(), unhex("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(iv.to_vec(), unhex("0ac1493ca1905853b0bba03e"));
    assert_eq!(hp.to_vec(), unhex("c206b8d9b9f0f37644430b490eeaa314"));
}

#[test]
fn rfc9369_initial_secrets_and_keys() {
    let dcid = unhex(DCID);
    let v2 = header::version::V2;
    let c = initial_secret(v2, &dcid, Side::Client).expect("v2");
    assert_eq!(
        c.to_vec(),
        unhex("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b")
    );
    let (key, iv, hp) = key_iv_hp(v2, &c).expect("v2");
    assert_eq!(key.to_vec(), unhex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(iv.to_vec(), unhex("91f73e2351d8fa91660e909f"));
    assert_eq!(hp.to_vec(), unhex("45b95e15235d6f45a6b19cbcb0294ba9"));
    let s = initial_secret(v2, &dcid, Side::Server).expect("v2");
    assert_eq!(
        s.to_vec(),
        unhex("0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1")
    );
    let (key, iv, hp) = key_iv_hp(v2, &s).expect("v2");
    assert_eq!(key.to_vec(), unhex("82db637861d55e1d011f19ea71d5d2a7"));
    assert_eq!(iv.to_vec(), unhex("dd13c276499c0249d3310652"));
    assert_eq!(hp.to_vec(), unhex("edf6d05c83121201b436e16877593c3a"));
}

fn check_rfc_packet(version: u32, protected_hex: &str, unprotected_header: &str) {
    let protected = unhex(protected_hex);
    assert_eq!(protected.len(), 1200);
    let h = LongHeader::parse(&protected).expect("parses");
    assert_eq!(h.ty, PacketType::Initial);
    assert_eq!(h.len, 1200);
    let keys = InitialKeys::derive(version, h.dcid, Side::Client).expect("keys");
    let mut p = protected.clone();
    let (pn, range) = keys.unprotect(&mut p, h.pn_offset, None).expect("opens");
    assert_eq!(pn, 2);
    // Header protection removed: the RFC's unprotected header.
    assert_eq!(p[..range.start].to_vec(), unhex(unprotected_header));
    assert_eq!(p[range].to_vec(), rfc_payload());
    // And the test builder protects exactly as the RFC does.
    assert_eq!(
        keys.seal(&unhex(unprotected_header), 2, &rfc_payload())
            .expect("seals"),
        protected
    );
    // One flipped bit anywhere in the payload: authentication fails.
    let mut bad = protected.clone();
    bad[600] ^= 1;
    assert!(keys.unprotect(&mut bad, h.pn_offset, None).is_err());
}

#[test]
fn rfc9001_client_initial_unprotects() {
    check_rfc_packet(
        header::version::V1,
        RFC9001_PROTECTED,
        "c300000001088394c8f03e5157080000449e00000002",
    );
}

#[test]
fn rfc9369_client_initial_unprotects() {
    check_rfc_packet(
        header::version::V2,
        RFC9369_PROTECTED,
        "d36b3343cf088394c8f03e5157080000449e00000002",
    );
}

fn flow_info(transport: Transport) -> FlowInfo {
    FlowInfo {
        flow_id: 9,
        transport,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 50000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443),
    }
}

/// Feeds datagrams like the engine (stops at done), then ends the flow. Returns the
/// events and the index of the datagram after which the inspector was done.
fn run(datagrams: &[(Direction, Vec<u8>)]) -> (Vec<Value>, Option<usize>) {
    let info = flow_info(Transport::Udp);
    let mut fd = QuicInspector::new()
        .start(&info)
        .expect("UDP flows are inspected");
    let mut events = Vec::new();
    let mut done_at = None;
    let take = |actions: &Actions, events: &mut Vec<Value>| {
        for e in &actions.events {
            assert_eq!(e.event_type(), "quic");
            let typed = e.as_any().downcast_ref::<QuicEvent>().expect("a QuicEvent");
            assert_eq!(typed.to_json(), e.to_json());
            events.push(e.to_json());
        }
    };
    for (i, (dir, d)) in datagrams.iter().enumerate() {
        let mut actions = Actions::default();
        let mut cx = Cx::new(Timestamp::from_nanos(i as u64), &info, &mut actions);
        fd.data(&mut cx, *dir, Chunk::Data(d));
        take(&actions, &mut events);
        if actions.done {
            done_at = Some(i);
            break;
        }
    }
    let mut actions = Actions::default();
    let mut cx = Cx::new(Timestamp::from_nanos(99), &info, &mut actions);
    fd.end(&mut cx);
    take(&actions, &mut events);
    (events, done_at)
}

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

fn rfc_event(version: &str) -> Value {
    let ja3 = "771,4865-4866,0-65281-10-16-5-51-43-13-45-28-57,29-23-24,";
    let names = [
        (0, Some("server_name")),
        (65281, Some("renegotiation_info")),
        (10, Some("supported_groups")),
        (16, Some("alpn")),
        (5, Some("status_request")),
        (51, Some("key_share")),
        (43, Some("supported_versions")),
        (13, Some("signature_algorithms")),
        (45, Some("psk_key_exchange_modes")),
        (28, Some("record_size_limit")),
        (57, Some("quic_transport_parameters")),
    ];
    let exts: Vec<Value> = names
        .iter()
        .map(|(t, n)| {
            let mut o = json!({ "name": n, "type": t });
            if *t == 0 {
                o["values"] = json!(["example.com"]);
            }
            if *t == 16 {
                o["values"] = json!(["alpn"]);
            }
            o
        })
        .collect();
    json!({
        "version": version,
        "sni": "example.com",
        "ja3": { "string": ja3, "hash": "41bc9ae914d6cb3bd0bd0a5453ab7d7f" },
        "ja4": "q13d0211an_62ed6f6ca7ad_4d634acda6c0",
        "extensions": exts,
    })
}

#[test]
fn rfc_client_initials_give_the_quic_event() {
    let (ev, done) = run(&[(C, unhex(RFC9001_PROTECTED))]);
    assert_eq!(ev, vec![rfc_event("1")]);
    assert_eq!(done, Some(0));
    let (ev, done) = run(&[(C, unhex(RFC9369_PROTECTED))]);
    assert_eq!(ev, vec![rfc_event("6b3343cf")]);
    assert_eq!(done, Some(0));
}

/// A protected v1 client Initial (2-byte packet number) holding `frames`, padded to
/// 1200 bytes, as a client builds it.
fn client_initial(version: u32, dcid: &[u8], pn: u16, frames: &[u8]) -> Vec<u8> {
    let first = if version == header::version::V2 {
        0xd1
    } else {
        0xc1
    };
    let mut hdr = vec![first];
    hdr.extend(version.to_be_bytes());
    hdr.push(dcid.len() as u8);
    hdr.extend(dcid);
    hdr.extend([4, 0xa1, 0xa2, 0xa3, 0xa4, 0]);
    let payload_len = 1200 - (hdr.len() + 2 + 2) - 16;
    let mut payload = frames.to_vec();
    payload.resize(payload_len, 0);
    let length = (2 + payload.len() + 16) as u16 | 0x4000;
    hdr.extend(length.to_be_bytes());
    hdr.extend(pn.to_be_bytes());
    let keys = InitialKeys::derive(version, dcid, Side::Client).expect("keys");
    keys.seal(&hdr, u64::from(pn), &payload).expect("seals")
}

fn crypto_frame(offset: usize, data: &[u8]) -> Vec<u8> {
    let mut f = vec![6];
    f.extend((offset as u32 | 0x8000_0000).to_be_bytes());
    f.extend((data.len() as u16 | 0x4000).to_be_bytes());
    f.extend_from_slice(data);
    f
}

fn foxio_event_ja4(ev: &Value) -> &str {
    ev["ja4"].as_str().unwrap_or_default()
}

#[test]
fn client_hello_split_over_two_initials_and_out_of_order_frames() {
    let ch = handshake(1, &foxio_client_hello("split.example"));
    let dcid = [0x11u8; 8];
    let third = ch.len() / 3;
    // Packet 0 carries the end; packet 1 the start and middle, in reverse order.
    let p0 = client_initial(1, &dcid, 0, &crypto_frame(2 * third, &ch[2 * third..]));
    let mut frames = crypto_frame(third, &ch[third..2 * third]);
    frames.push(1); // PING between the two
    frames.extend(crypto_frame(0, &ch[..third]));
    let p1 = client_initial(1, &dcid, 1, &frames);
    let (ev, done) = run(&[(C, p0.clone()), (S, vec![0xc0; 50]), (C, p1.clone())]);
    assert_eq!(done, Some(2), "done once the ClientHello is complete");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["sni"], "split.example");
    assert_eq!(ev[0]["version"], "1");
    assert_eq!(
        foxio_event_ja4(&ev[0]),
        "q13d1516h2_8daaf6152771_e5627efa2ab1"
    );
    let alpn = ev[0]["extensions"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["type"] == 16))
        .cloned();
    assert_eq!(
        alpn,
        Some(json!({"name": "alpn", "type": 16, "values": ["h2", "http/1.1"]}))
    );

    // The same two packets coalesced into one datagram, start first.
    let mut d = p1;
    d.extend(p0);
    let (ev, done) = run(&[(C, d)]);
    assert_eq!(done, Some(0));
    assert_eq!(ev[0]["sni"], "split.example");

    // Only the first packet: version alone at flow end.
    let p0 = client_initial(1, &dcid, 0, &crypto_frame(2 * third, &ch[2 * third..]));
    let (ev, done) = run(&[(C, p0)]);
    assert_eq!(done, None);
    assert_eq!(ev, vec![json!({"version": "1"})]);
}

#[test]
fn draft_and_v2_versions_decrypt() {
    let ch = handshake(1, &foxio_client_hello("draft.example"));
    for (v, name) in [
        (0xff00_001du32, "ff00001d"),
        (0xff00_0022, "ff000022"),
        (0xff00_0017, "ff000017"),
        (0xff00_0016, "ff000016"),
        (0xface_b002, "faceb002"),
        (0xface_b00e, "faceb00e"),
        (header::version::V2, "6b3343cf"),
    ] {
        let p = client_initial(v, &[7; 12], 0, &crypto_frame(0, &ch));
        let (ev, done) = run(&[(C, p)]);
        assert_eq!(done, Some(0), "{name}");
        assert_eq!(ev[0]["version"], name);
        assert_eq!(ev[0]["sni"], "draft.example", "{name}");
    }
}

/// The client's first datagram of nDPI's regression capture `quic-mvfst-22`: Facebook's
/// mvfst version `faceb001`, protected with draft 22's Initial salt.
const MVFST_DRAFT22_INITIAL: &[u8] = include_bytes!("testdata/mvfst-draft22-initial.bin");

#[test]
fn a_real_mvfst_draft22_initial_decrypts_with_draft_22s_salt() {
    let (ev, done) = run(&[(C, MVFST_DRAFT22_INITIAL.to_vec())]);
    assert_eq!(done, Some(0));
    assert_eq!(ev[0]["version"], "faceb001");
    assert_eq!(ev[0]["sni"], "graph.facebook.com");
}

#[test]
fn retry_rederives_keys_from_the_new_dcid() {
    let ch = handshake(1, &foxio_client_hello("retry.example"));
    let first = client_initial(1, &[1; 8], 0, &crypto_frame(0, &ch[..100]));
    // After a Retry the client uses the server's new connection id.
    let second = client_initial(1, &[2; 8], 1, &crypto_frame(0, &ch));
    let (ev, done) = run(&[(C, first), (C, second)]);
    assert_eq!(done, Some(1));
    assert_eq!(ev[0]["sni"], "retry.example");
}

#[test]
fn google_and_unknown_versions_are_reported_by_version() {
    let mut q046 = vec![0xc3];
    q046.extend(b"Q046");
    q046.extend([0x50, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1]);
    q046.resize(1350, 0);
    let (ev, done) = run(&[(C, q046)]);
    assert_eq!(done, None);
    assert_eq!(ev, vec![json!({"version": "Q046"})]);

    // An unknown IETF-style draft version: no salt, version only, at once.
    let mut p = client_initial(1, &[3; 8], 0, &[1]);
    p[1..5].copy_from_slice(&0xff00_0005u32.to_be_bytes());
    let (ev, done) = run(&[(C, p)]);
    assert_eq!(done, Some(0));
    assert_eq!(ev, vec![json!({"version": "ff000005"})]);
}

#[test]
fn undecryptable_initials_are_skipped_then_given_up() {
    let mut p = unhex(RFC9001_PROTECTED);
    p[700] ^= 0x80;
    let datagrams: Vec<(Direction, Vec<u8>)> = (0..40).map(|_| (C, p.clone())).collect();
    let (ev, done) = run(&datagrams);
    // The first datagram brings the version; 16 more without progress end it.
    assert_eq!(done, Some(16));
    assert_eq!(ev, vec![json!({"version": "1"})]);
}

#[test]
fn only_udp_flows_are_inspected() {
    assert!(QuicInspector::new()
        .start(&flow_info(Transport::Tcp))
        .is_none());
    assert_eq!(QuicInspector::new().services(), &["quic"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_datagrams_never_panic(
        ds in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1300), 0..6),
        first in any::<u8>(),
    ) {
        let datagrams: Vec<(Direction, Vec<u8>)> = ds
            .into_iter()
            .map(|mut d| {
                if let Some(b) = d.first_mut() {
                    *b |= first & 0x80;
                }
                (C, d)
            })
            .collect();
        let (ev, _) = run(&datagrams);
        prop_assert!(ev.len() <= 1);
    }

    #[test]
    fn mutated_rfc_packet_never_panics(pos in 0usize..1200, val in any::<u8>(), cut in 0usize..1300) {
        let mut p = unhex(RFC9001_PROTECTED);
        p[pos] = val;
        p.truncate(cut);
        let (ev, _) = run(&[(C, p)]);
        prop_assert!(ev.len() <= 1);
    }
}

#[test]
fn google_t050_t051_and_q050_decrypt_with_their_own_salts_and_crypto_frame() {
    let ch = handshake(1, &foxio_client_hello("google.example"));
    for (v, name) in [(0x5430_3530u32, "54303530"), (0x5430_3531, "54303531")] {
        // Google's CRYPTO frame is type 0x08 (RFC 9000's STREAM).
        let mut frame = crypto_frame(0, &ch);
        frame[0] = 0x08;
        let p = client_initial(v, &[9; 8], 0, &frame);
        let (ev, done) = run(&[(C, p)]);
        assert_eq!(done, Some(0), "{name}");
        assert_eq!(ev[0]["version"], name);
        assert_eq!(ev[0]["sni"], "google.example", "{name}");
        // An RFC 9000 CRYPTO frame is not what these versions send.
        let p = client_initial(v, &[9; 8], 0, &crypto_frame(0, &ch));
        let (ev, _) = run(&[(C, p)]);
        assert_eq!(ev[0].get("sni"), None, "{name}");
    }
    // Q050: the CRYPTO stream holds a CHLO, split over two packets.
    let mut chlo = b"CHLO\x02\x00\x00\x00SNI\0\x10\x00\x00\x00UAID\x19\x00\x00\x00".to_vec();
    chlo.extend_from_slice(b"q050.example.orgChrome/83");
    let split = 20;
    let mut f1 = crypto_frame(0, &chlo[..split]);
    f1[0] = 0x08;
    let mut f2 = crypto_frame(split, &chlo[split..]);
    f2[0] = 0x08;
    let p1 = client_initial(0x5130_3530, &[4; 8], 0, &f1);
    let p2 = client_initial(0x5130_3530, &[4; 8], 1, &f2);
    let (ev, done) = run(&[(C, p1), (C, p2)]);
    assert_eq!(done, Some(1));
    assert_eq!(ev[0]["version"], "51303530");
    assert_eq!(ev[0]["sni"], "q050.example.org");
    assert_eq!(ev[0]["ua"], "Chrome/83");
}
