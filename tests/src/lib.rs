//! Test support for flowengine: a pcap writer, frame and tunnel builders, the deterministic
//! benchmark capture generator, and access to the shared verification captures.
//!
//! Everything here produces bytes the tests then read back through the engine's own
//! reader, so the captures the tests use are generated, never committed.

pub mod bench;
pub mod concurrent;
pub mod fixtures;
pub mod fragment;
pub mod frame;
pub mod netns;
pub mod pcap;
pub mod pcapng;
pub mod plugins;
pub mod shared;
pub mod tunnel;
