//! Stream: per-flow transport state after the cache has found the flow.
//!
//! Contract: [`Session`] is the plain-data state each flow slot carries for this stage
//! (today the TCP session; bounded reassembly for inspectors comes with them). It is
//! `Copy`-free of heap memory, so slots stay preallocated and allocation-free.

pub mod reassembly;
pub mod tcp;

pub use reassembly::{Offer, Reassembler, ReassemblyConfig, ReassemblyStats};
pub use tcp::{TcpOptions, TcpSession, TcpState, TcpUpdate};

/// A piece of one direction's payload, in order, as the stream hands it to
/// inspectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// The next bytes (a TCP segment's new bytes after reassembly, or one datagram).
    Data(&'a [u8]),
    /// This many bytes are missing before the next `Data` (a TCP hole that was never
    /// filled: a lost segment, or one given up over the reassembly limits).
    Gap(u32),
}

/// Per-flow stream state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// TCP session (inactive for other protocols).
    pub tcp: TcpSession,
}
