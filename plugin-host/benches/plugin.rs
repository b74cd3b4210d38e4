//! The cost of a plugin inspector against the same inspector built in.
//!
//! The memcached example plugin is built as a shared library and loaded through the
//! host; the "built-in" variant compiles the very same inspector code
//! (`memcached_plugin::McFlow`, an rlib dependency) into the benchmark and drives it
//! through an engine `Inspector` directly: no library boundary, no vtable of the
//! SDK, no panic guard. Both turn the plugin's events into the same EVE events, so
//! the difference is the boundary.
//!
//! - `memcached/{plugin,builtin}/session`: one flow (40 payload chunks, 20 requests
//!   and their replies) through the `FlowData` API, as the engine drives it.
//! - `engine/{plugin,builtin}`: a capture of 500 memcached flows (36 packets each:
//!   handshake, 10 requests, their replies and ACKs, close) replayed through an engine
//!   with every built-in inspector plus the memcached inspector; per packet.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowengine::decode::LinkType;
use flowengine::flow::Direction;
use flowengine::inspect::{
    Actions, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind, Transport,
};
use flowengine::{Config, Engine, FlowRecord, Packet, Timestamp};
use flowengine_plugin_host::api::{Cx as PCx, Data, Direction as PDirection, FfiCx, PluginFlow};
use flowengine_plugin_host::{PluginEvent, Plugins};
use flowengine_tests::frame::{self, flags, v4};
use memcached_plugin::McFlow;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The memcached inspector built in.
struct Native;

struct NativeFlow {
    flow: McFlow,
    cx: FfiCx,
}

impl Inspector for Native {
    fn name(&self) -> &str {
        "memcached"
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }
    fn services(&self) -> &[&'static str] {
        &["memcached"]
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(NativeFlow {
            flow: McFlow::default(),
            cx: FfiCx::default(),
        }))
    }
}

impl NativeFlow {
    fn settle(&mut self, cx: &mut Cx<'_>) {
        for e in self.cx.events.drain(..) {
            cx.emit(Box::new(PluginEvent::from_event(&e)));
        }
        if self.cx.done {
            cx.done();
        }
    }
}

impl FlowData for NativeFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        self.cx.reset(cx.now().as_nanos());
        let dir = match dir {
            Direction::ToServer => PDirection::ToServer,
            Direction::ToClient => PDirection::ToClient,
        };
        let data = match chunk {
            Chunk::Data(d) => Data::Bytes(d),
            Chunk::Gap(n) => Data::Gap(n),
        };
        self.flow.data(&mut PCx::new(&mut self.cx), dir, data);
        self.settle(cx);
    }
    fn end(&mut self, cx: &mut Cx<'_>) {
        self.cx.reset(cx.now().as_nanos());
        self.flow.end(&mut PCx::new(&mut self.cx));
        self.settle(cx);
    }
}

fn turns(pairs: usize) -> Vec<(bool, Vec<u8>)> {
    let mut v = Vec::new();
    for i in 0..pairs {
        if i % 2 == 0 {
            v.push((
                true,
                format!("set key:{i} 0 0 10\r\n0123456789\r\n").into_bytes(),
            ));
            v.push((false, b"STORED\r\n".to_vec()));
        } else {
            v.push((true, format!("get key:{} key:{i}\r\n", i - 1).into_bytes()));
            v.push((
                false,
                format!("VALUE key:{} 0 10\r\n0123456789\r\nEND\r\n", i - 1).into_bytes(),
            ));
        }
    }
    v
}

fn session(c: &mut Criterion, plugin: &Arc<dyn Inspector>) {
    let info = FlowInfo {
        flow_id: 7,
        transport: Transport::Tcp,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 11211),
    };
    let script = turns(20);
    let mut g = c.benchmark_group("memcached");
    g.throughput(Throughput::Elements(script.len() as u64));
    let native: Arc<dyn Inspector> = Arc::new(Native);
    for (name, insp) in [("plugin", plugin), ("builtin", &native)] {
        g.bench_function(format!("{name}/session"), |b| {
            b.iter(|| {
                let mut fd = insp.start(&info).expect("starts");
                let mut actions = Actions::default();
                for (ts, bytes) in &script {
                    let dir = if *ts {
                        Direction::ToServer
                    } else {
                        Direction::ToClient
                    };
                    let mut cx = Cx::new(Timestamp::ZERO, &info, &mut actions);
                    fd.data(&mut cx, dir, Chunk::Data(bytes));
                    actions.events.clear();
                }
                let mut cx = Cx::new(Timestamp::ZERO, &info, &mut actions);
                fd.end(&mut cx);
                black_box(actions.events.len())
            })
        });
    }
    g.finish();
}

/// 500 memcached flows, one after another.
fn capture() -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut t = 1_700_000_000_000_000_000u64;
    let mut push = |f: Vec<u8>| {
        t += 10_000;
        out.push((t, f));
    };
    let script = turns(10);
    for i in 0..500u16 {
        let c = (v4(10, 0, (i >> 8) as u8, i as u8), 40000 + i);
        let s = (v4(10, 1, 0, 1), 11211);
        let (mut cs, mut ss) = (1000u32, 9000u32);
        push(frame::tcp(c, s, flags::SYN, cs, 0, b""));
        cs += 1;
        push(frame::tcp(s, c, flags::SYN | flags::ACK, ss, cs, b""));
        ss += 1;
        push(frame::tcp(c, s, flags::ACK, cs, ss, b""));
        for (to_server, d) in &script {
            let f = flags::ACK | flags::PSH;
            if *to_server {
                push(frame::tcp(c, s, f, cs, ss, d));
                cs += d.len() as u32;
            } else {
                push(frame::tcp(s, c, f, ss, cs, d));
                ss += d.len() as u32;
                push(frame::tcp(c, s, flags::ACK, cs, ss, b""));
            }
        }
        push(frame::tcp(c, s, flags::FIN | flags::ACK, cs, ss, b""));
        push(frame::tcp(s, c, flags::FIN | flags::ACK, ss, cs + 1, b""));
        push(frame::tcp(c, s, flags::ACK, cs + 1, ss + 1, b""));
    }
    out
}

fn engine(c: &mut Criterion, plugins: &Plugins) {
    let config = Config::default();
    let plugin_ext = plugins.extension(&config).expect("plugin inspectors");
    let mut native_ext = plugin_ext.clone();
    native_ext.inspectors = vec![Arc::new(Native)];
    let packets = capture();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(packets.len() as u64));
    g.sample_size(20);
    for (name, ext) in [("plugin", &plugin_ext), ("builtin", &native_ext)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let set = flowengine_inspectors::builtin_with(&config, ext).expect("set");
                let mut records = 0u64;
                let mut e = Engine::with_inspectors(&config, |_: &FlowRecord| records += 1, set)
                    .expect("engine");
                for (ts, data) in &packets {
                    e.push(&Packet {
                        ts: Timestamp::from_nanos(*ts),
                        link: LinkType::Ethernet,
                        data,
                    });
                }
                let (stats, _) = e.finish();
                assert_eq!(stats.inspect.events, 500 * 10);
                black_box(stats.records)
            })
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let lib = flowengine_tests::plugins::library("memcached_plugin");
    let report = Plugins::load(&[lib]);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let plugins = report.plugins;
    let ext = plugins
        .extension(&Config::default())
        .expect("plugin inspectors");
    let plugin = ext.inspectors[0].clone();
    session(c, &plugin);
    engine(c, &plugins);
}

criterion_group!(plugin, benches);
criterion_main!(plugin);
