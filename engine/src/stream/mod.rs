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

/// True when a TCP segment's payload is Ethernet padding the sender's headers counted
/// as data: a bare ACK (no SYN, FIN, RST, PSH or URG) carrying 2 to 7 bytes, all zero.
/// Some stacks and middleboxes send 54-byte ACKs whose IP length covers the frame's
/// padding to 60 bytes; taken as data, those zeros would overlap the real segment that
/// follows at the same sequence number and hide it from inspection (nDPI's
/// `tcp_ack_payload_heuristic`). Such payload is not handed to reassembly; the packet
/// and its bytes still count in the flow. A keep-alive probe (one byte) is not
/// concerned.
#[inline]
pub fn is_ack_padding(flags: u8, payload: &[u8]) -> bool {
    use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN, URG};
    flags & (ACK | SYN | FIN | RST | PSH | URG) == ACK
        && (2..=7).contains(&payload.len())
        && payload.iter().all(|&b| b == 0)
}

/// Per-flow stream state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// TCP session (inactive for other protocols).
    pub tcp: TcpSession,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::{ACK, PSH};

    #[test]
    fn only_short_zero_payloads_of_bare_acks_are_padding() {
        assert!(is_ack_padding(ACK, &[0, 0]));
        assert!(is_ack_padding(ACK, &[0; 6]));
        assert!(is_ack_padding(ACK, &[0; 7]));
        assert!(!is_ack_padding(ACK, &[0]), "a keep-alive probe");
        assert!(!is_ack_padding(ACK, &[0; 8]));
        assert!(!is_ack_padding(ACK, &[0, 0, 1]));
        assert!(!is_ack_padding(ACK | PSH, &[0; 6]), "pushed data is data");
        assert!(!is_ack_padding(0, &[0; 6]));
    }
}
