//! # flowengine-inspectors
//!
//! The wizard, which names each flow's service from its first bytes, and the built-in
//! service and passive inspectors, all written against [`flowengine::inspect`].
//!
//! Each module holds one protocol (or the wizard) and states its contract: what it
//! reads, what it emits, and how it fails on bad input (never a panic: a parser error
//! ends that inspector's work on the flow, and the flow keeps its record).
pub mod builtin;
pub mod sizes;

mod upgrade;
pub mod wizard;

pub mod dns;
pub mod ftp;
pub mod http;
pub mod http2;
pub mod imap;
pub mod mdns;
pub mod pop3;
pub mod smtp;
pub mod ssh;
mod text;

pub mod quic;
pub mod tls;

pub use builtin::{builtin, builtin_with, BuiltinError, Extension};
