//! The wizard's cost per first chunk: the common flow decides on its first chunk, so
//! this is what detection costs most flows. A fresh `WizardState` each time (it does
//! not allocate); an unknown payload tries every rule its first byte allows.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowengine::flow::Direction;
use flowengine::inspect::{Chunk, Transport};
use flowengine_inspectors::wizard::{Outcome, Ports, Wizard, WizardConfig, WizardState};
use std::hint::black_box;

fn client_hello() -> Vec<u8> {
    let host = b"www.example.com";
    let mut sni = vec![
        0x00,
        0x00,
        0x00,
        (host.len() + 5) as u8,
        0x00,
        (host.len() + 3) as u8,
        0x00,
        0x00,
        host.len() as u8,
    ];
    sni.extend_from_slice(host);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x5a; 32]);
    body.push(32);
    body.extend_from_slice(&[0xa5; 32]);
    body.extend_from_slice(&[0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f, 0x01, 0x00]);
    body.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    body.extend_from_slice(&sni);
    let mut hs = vec![0x01, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn dns_query() -> Vec<u8> {
    let mut q = vec![0xbe, 0xef, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in ["www", "example", "com"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    q
}

fn bench_first_chunk(c: &mut Criterion) {
    let wizard = Wizard::new(WizardConfig::default()).expect("default config");
    let http = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n".to_vec();
    // bytes no rule fits: an encrypted-looking blob
    let unknown: Vec<u8> = (0..1400u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x01)
        .collect();
    let cases: [(&str, Transport, u16, Vec<u8>); 5] = [
        ("http", Transport::Tcp, 80, http),
        ("tls", Transport::Tcp, 443, client_hello()),
        ("dns", Transport::Udp, 53, dns_query()),
        ("unknown_tcp", Transport::Tcp, 9000, unknown.clone()),
        ("unknown_udp", Transport::Udp, 9000, unknown),
    ];
    let mut group = c.benchmark_group("wizard_first_chunk");
    for (name, transport, server, bytes) in &cases {
        let ports = Ports {
            client: 50000,
            server: *server,
        };
        // what each case decides, so the bench measures the path it claims to
        let mut st = WizardState::default();
        let outcome = wizard.scan(
            &mut st,
            *transport,
            ports,
            Direction::ToServer,
            Chunk::Data(bytes),
        );
        assert!(
            matches!(outcome, Outcome::Service { .. }) != name.starts_with("unknown"),
            "{name}: {outcome:?}"
        );
        group.throughput(Throughput::Elements(1));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut st = WizardState::default();
                black_box(wizard.scan(
                    &mut st,
                    *transport,
                    ports,
                    Direction::ToServer,
                    Chunk::Data(black_box(bytes)),
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_first_chunk);
criterion_main!(benches);
