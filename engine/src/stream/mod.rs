//! Stream: per-flow transport state after the cache has found the flow.
//!
//! Contract: [`Session`] is the plain-data state each flow slot carries for this stage
//! (today the TCP session; bounded reassembly for inspectors comes with them). It is
//! `Copy`-free of heap memory, so slots stay preallocated and allocation-free.

pub mod tcp;

pub use tcp::{TcpOptions, TcpSession, TcpState, TcpUpdate};

/// Per-flow stream state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// TCP session (inactive for other protocols).
    pub tcp: TcpSession,
}
