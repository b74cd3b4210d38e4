//! Service inspector throughput: whole flows (start, every payload chunk, end) through
//! the real `FlowData` API, as the engine drives them.
//!
//! - `http/keepalive_flow`: the benchmark's keep-alive HTTP flow (19 packets: the
//!   handshake, four request/response pairs with their ACKs, the close), of which the
//!   8 payload segments reach the inspector, each header block whole in its segment.
//! - `http/split_headers`: the same flow with every header block split in two, the
//!   path that copies.
//! - `dns/udp_exchange`, `smtp/session`, `ssh/handshake`: one flow each.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use flowengine::flow::Direction;
use flowengine::inspect::{Actions, Chunk, Cx, FlowInfo, Inspector, Transport};
use flowengine::Timestamp;
use flowengine_inspectors::{dns, http, smtp, ssh};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

type Script = Vec<(Direction, Vec<u8>)>;

fn flow(transport: Transport, port: u16) -> FlowInfo {
    FlowInfo {
        flow_id: 7,
        transport,
        client: (IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)), 51000),
        server: (IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)), port),
    }
}

/// Runs one flow; returns the number of events.
fn run(insp: &dyn Inspector, info: &FlowInfo, script: &Script) -> usize {
    let Some(mut fd) = insp.start(info) else {
        return 0;
    };
    let mut actions = Actions::default();
    for (dir, bytes) in script {
        let mut cx = Cx::new(Timestamp::ZERO, info, &mut actions);
        fd.data(&mut cx, *dir, Chunk::Data(bytes));
    }
    let mut cx = Cx::new(Timestamp::ZERO, info, &mut actions);
    fd.end(&mut cx);
    actions.events.len()
}

fn http_script() -> Script {
    let mut s = Script::new();
    for i in 0..4 {
        s.push((
            Direction::ToServer,
            format!(
                "GET /static/app-{i}.js HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nReferer: http://www.example.com/\r\nConnection: keep-alive\r\n\r\n"
            )
            .into_bytes(),
        ));
        let body = vec![b'x'; 600];
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: nginx/1.24.0\r\nContent-Type: application/javascript; charset=utf-8\r\nContent-Length: {}\r\nConnection: keep-alive\r\nCache-Control: max-age=3600\r\n\r\n",
            body.len()
        )
        .into_bytes();
        resp.extend(body);
        s.push((Direction::ToClient, resp));
    }
    s
}

fn split_headers(script: &Script) -> Script {
    script
        .iter()
        .flat_map(|(d, b)| {
            let mid = b.len() / 3;
            [(*d, b[..mid].to_vec()), (*d, b[mid..].to_vec())]
        })
        .collect()
}

fn dns_script() -> Script {
    let q: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
    let mut r = b"\x12\x34\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01".to_vec();
    r.extend(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x0e\x10\x00\x02\xc0\x10");
    r.extend(b"\xc0\x10\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22");
    vec![(Direction::ToServer, q.to_vec()), (Direction::ToClient, r)]
}

fn smtp_script() -> Script {
    let c = |b: &[u8]| (Direction::ToServer, b.to_vec());
    let s = |b: &[u8]| (Direction::ToClient, b.to_vec());
    vec![
        s(b"220 mx.example.com ESMTP\r\n"),
        c(b"EHLO client.example.org\r\n"),
        s(b"250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
        c(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"),
        s(b"250 Ok\r\n250 Ok\r\n354 Go ahead\r\n"),
        c(b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>\r\nSubject: hi\r\n\r\nHello Bob.\r\n.\r\nQUIT\r\n"),
        s(b"250 Ok: queued\r\n221 Bye\r\n"),
    ]
}

fn ssh_script() -> Script {
    fn kexinit() -> Vec<u8> {
        let mut payload = vec![20u8];
        payload.extend([7; 16]);
        for l in [
            "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256",
            "ssh-ed25519,rsa-sha2-512",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
            "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
            "none,zlib@openssh.com",
            "none,zlib@openssh.com",
            "",
            "",
        ] {
            payload.extend((l.len() as u32).to_be_bytes());
            payload.extend(l.as_bytes());
        }
        payload.extend([0, 0, 0, 0, 0]);
        let pad = 8 - (payload.len() + 5) % 8 + 8;
        let mut p = ((payload.len() + pad + 1) as u32).to_be_bytes().to_vec();
        p.push(pad as u8);
        p.extend(payload);
        p.extend(vec![0; pad]);
        p
    }
    let mut c = b"SSH-2.0-OpenSSH_9.6\r\n".to_vec();
    c.extend(kexinit());
    let mut s = b"SSH-2.0-OpenSSH_9.7\r\n".to_vec();
    s.extend(kexinit());
    vec![(Direction::ToClient, s), (Direction::ToServer, c)]
}

fn bench(c: &mut Criterion, name: &str, insp: &dyn Inspector, info: FlowInfo, script: Script) {
    let bytes: usize = script.iter().map(|(_, b)| b.len()).sum();
    let mut g = c.benchmark_group(name.split('/').next().unwrap_or(name));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(name.split('/').nth(1).unwrap_or(name), |b| {
        b.iter_batched(
            || (),
            |()| black_box(run(insp, &info, black_box(&script))),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn parsers(c: &mut Criterion) {
    let h = http::HttpInspector::new();
    let tcp80 = flow(Transport::Tcp, 80);
    assert_eq!(run(&h, &tcp80, &http_script()), 4);
    bench(c, "http/keepalive_flow", &h, tcp80, http_script());
    bench(
        c,
        "http/split_headers",
        &h,
        tcp80,
        split_headers(&http_script()),
    );
    let d = dns::DnsInspector::new();
    bench(
        c,
        "dns/udp_exchange",
        &d,
        flow(Transport::Udp, 53),
        dns_script(),
    );
    let s = smtp::SmtpInspector::new();
    bench(
        c,
        "smtp/session",
        &s,
        flow(Transport::Tcp, 25),
        smtp_script(),
    );
    let x = ssh::SshInspector::new();
    bench(
        c,
        "ssh/handshake",
        &x,
        flow(Transport::Tcp, 22),
        ssh_script(),
    );
}

criterion_group!(benches, parsers);
criterion_main!(benches);
