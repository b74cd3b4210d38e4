//! Throughput of the TLS and QUIC service inspectors on whole handshakes: a TLS 1.3
//! ClientHello + ServerHello flow (in one chunk and in 64-byte chunks), and the RFC
//! 9001 client Initial (key derivation, header protection, AES-GCM, ClientHello).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowengine::flow::Direction;
use flowengine::inspect::{Actions, Chunk, Cx, FlowInfo, Inspector, Transport};
use flowengine::Timestamp;
use flowengine_inspectors::quic::QuicInspector;
use flowengine_inspectors::tls::TlsInspector;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

fn with_len(n: usize, body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_be_bytes()[4 - n..].to_vec();
    v.extend_from_slice(body);
    v
}

fn record(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 3, 3];
    v.extend(with_len(2, payload));
    v
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty];
    v.extend(with_len(3, body));
    v
}

fn exts(list: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let e: Vec<u8> = list
        .iter()
        .flat_map(|(t, d)| {
            let mut v = t.to_be_bytes().to_vec();
            v.extend(with_len(2, d));
            v
        })
        .collect();
    with_len(2, &e)
}

/// A Chrome-like TLS 1.3 client and server flight.
fn tls13_flow() -> (Vec<u8>, Vec<u8>) {
    let sni = with_len(2, &[vec![0], with_len(2, b"www.example.com")].concat());
    let alpn = with_len(2, &[with_len(1, b"h2"), with_len(1, b"http/1.1")].concat());
    let u16s = |v: &[u16]| {
        with_len(
            2,
            &v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<_>>(),
        )
    };
    let mut ch = vec![3, 3];
    ch.extend([0x5a; 32]);
    ch.extend(with_len(1, &[0x11; 32]));
    ch.extend(u16s(&[
        0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030,
    ]));
    ch.extend([1, 0]);
    ch.extend(exts(&[
        (0x0a0a, vec![]),
        (0, sni),
        (0x0017, vec![]),
        (0xff01, vec![0]),
        (0x000a, u16s(&[0x1a1a, 0x001d, 0x0017, 0x0018])),
        (0x000b, vec![1, 0]),
        (0x0023, vec![]),
        (0x0010, alpn),
        (0x0005, vec![1, 0, 0, 0, 0]),
        (0x000d, u16s(&[0x0403, 0x0804, 0x0401, 0x0503])),
        (
            0x0033,
            with_len(2, &[vec![0, 0x1d], with_len(2, &[7; 32])].concat()),
        ),
        (0x002d, vec![1, 1]),
        (0x002b, with_len(1, &[0x2a, 0x2a, 3, 4, 3, 3])),
        (0x0015, vec![0; 200]),
    ]));
    let client = record(22, &handshake(1, &ch));
    let mut sh = vec![3, 3];
    sh.extend([0x77; 32]);
    sh.extend(with_len(1, &[0x11; 32]));
    sh.extend([0x13, 0x01, 0]);
    sh.extend(exts(&[
        (0x002b, vec![3, 4]),
        (0x0033, [vec![0, 0x1d], with_len(2, &[9; 32])].concat()),
    ]));
    let mut server = record(22, &handshake(2, &sh));
    server.extend(record(20, &[1]));
    server.extend(record(23, &[0x17; 1000]));
    (client, server)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect()
}

/// RFC 9001 appendix A.2: the protected client Initial.
const RFC9001_PROTECTED: &str = "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f3991c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df621230c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c2084dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663ac69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009ddc324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450efc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03adea2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e72404790a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd46840647e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934";

fn info(transport: Transport) -> FlowInfo {
    FlowInfo {
        flow_id: 1,
        transport,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443),
    }
}

fn feed(ins: &dyn Inspector, fi: &FlowInfo, chunks: &[(Direction, &[u8])]) -> usize {
    let mut fd = match ins.start(fi) {
        Some(fd) => fd,
        None => return 0,
    };
    let mut events = 0;
    for (dir, c) in chunks {
        let mut actions = Actions::default();
        let mut cx = Cx::new(Timestamp::ZERO, fi, &mut actions);
        fd.data(&mut cx, *dir, Chunk::Data(c));
        events += actions.events.len();
        if actions.done {
            break;
        }
    }
    events
}

fn bench(c: &mut Criterion) {
    let (client, server) = tls13_flow();
    let tls = TlsInspector::new();
    let tcp = info(Transport::Tcp);
    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Bytes((client.len() + server.len()) as u64));
    g.bench_function("tls13_handshake_one_chunk", |b| {
        b.iter(|| {
            feed(
                &tls,
                &tcp,
                &[
                    (Direction::ToServer, black_box(&client)),
                    (Direction::ToClient, black_box(&server)),
                ],
            )
        })
    });
    let mut small: Vec<(Direction, &[u8])> = client
        .chunks(64)
        .map(|c| (Direction::ToServer, c))
        .collect();
    small.extend(server.chunks(64).map(|c| (Direction::ToClient, c)));
    g.bench_function("tls13_handshake_64_byte_chunks", |b| {
        b.iter(|| feed(&tls, &tcp, black_box(&small)))
    });
    g.finish();

    let initial = unhex(RFC9001_PROTECTED);
    let quic = QuicInspector::new();
    let udp = info(Transport::Udp);
    let mut g = c.benchmark_group("quic");
    g.throughput(Throughput::Bytes(initial.len() as u64));
    g.bench_function("rfc9001_client_initial", |b| {
        b.iter(|| feed(&quic, &udp, &[(Direction::ToServer, black_box(&initial))]))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
