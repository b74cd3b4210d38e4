//! # flowengine
//!
//! Flow tracking the way Snort 3 does it: a preallocated flow cache keyed by a
//! canonical [`FlowKey`](key::FlowKey), LRU lists per protocol plus an allowlist LRU,
//! pruning round-robin across them, timeouts on packet time; and, when a flow ends, one
//! record in Suricata's EVE `flow` schema.
//!
//! The way a packet goes: [`feed`] (pcap/pcapng files) -> [`decode`] (link layer,
//! VLAN/MPLS, IP, transport) -> [`key`] -> [`cache`] and [`flow`] -> [`stream`] (TCP
//! state) -> [`record`] (EVE JSON or your own [`Sink`]). [`Engine`] wires them.
//!
//! ## Embedding
//!
//! ```
//! use flowengine::{Config, Engine, FlowRecord, LinkType, Packet, Timestamp};
//!
//! // A configuration: defaults, a TOML file, or overrides.
//! let mut builder = flowengine::ConfigBuilder::new();
//! builder.set("stream.max_flows=10000").unwrap();
//! let config: Config = builder.build().unwrap();
//!
//! // Records arrive as structs: no JSON needed.
//! let mut flows = Vec::new();
//! let mut engine = Engine::new(&config, |r: &FlowRecord| flows.push(*r)).unwrap();
//!
//! // Push frames: bytes, packet time, link type. Here one UDP packet in raw IPv4.
//! let frame = [
//!     0x45, 0, 0, 29, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
//!     0x30, 0x39, 0, 53, 0, 9, 0, 0, 0x61, // UDP 12345 -> 53, one byte
//! ];
//! engine.push(&Packet { ts: Timestamp::from_secs_micros(1_700_000_000, 0), link: LinkType::Raw, data: &frame });
//!
//! // At the end, every open flow is flushed (reason "shutdown").
//! let (stats, _sink) = engine.finish();
//! assert_eq!(stats.records, 1);
//! assert_eq!(flows[0].dest_ip.to_string(), "10.0.0.2");
//! assert_eq!(flows[0].ports, Some((12345, 53)));
//! assert_eq!(flows[0].reason.name(), "shutdown");
//! ```
//!
//! For EVE JSON, pass an [`EveWriter`] as the sink.
//!
//! On Linux (feature `conntrack`, on by default), `feed::conntrack` and
//! `ConntrackTracker` turn the kernel's conntrack events into the same records,
//! without packets.

pub mod cache;
pub mod config;
#[cfg(all(feature = "conntrack", target_os = "linux"))]
mod conntrack;
pub mod decode;
pub mod defrag;
mod engine;
pub mod feed;
pub mod flow;
pub mod inspect;
pub mod key;
mod prefetch;
pub mod record;
pub mod stream;
pub mod time;
pub mod workers;

pub use config::{Config, ConfigBuilder, ConfigError, SetOutcome};
#[cfg(all(feature = "conntrack", target_os = "linux"))]
pub use conntrack::{ConntrackStats, ConntrackTracker};
pub use decode::LinkType;
pub use engine::{Engine, EngineError, Reloaded, Stats};
pub use feed::{FeedError, Packet, PcapFile, SharedBytes};
pub use flow::{EndReason, FlowState, Verdict};
pub use record::eve::{EveOptions, EveWriter};
pub use record::{ConntrackRecord, EndedFlow, FlowRecord, Sink};
pub use time::Timestamp;
pub use workers::Workers;
