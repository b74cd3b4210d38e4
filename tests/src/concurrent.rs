//! Captures of many concurrent flows, for measuring memory per flow.
//!
//! Contract: [`packets`] yields, in non-decreasing time order (one microsecond apart,
//! from `base_ts`), the packets of `flows` distinct flows that all stay open to the end
//! of the capture: a [`Kind::Udp`] flow is one datagram each way (16 bytes of payload,
//! client port 40000 + flow % 20000 to server 192.0.2.1 port 9999); a [`Kind::Tcp`]
//! flow is a three-way handshake, an HTTP/1.1 GET and the first segment of its answer
//! (5 packets, to 192.0.2.2 port 80) and never closes. Clients are 10.0.0.1 upwards,
//! one address per flow (so up to 16,777,214 flows). Replay with `stream.max_flows`
//! at least `flows` and timeouts longer than the capture, and every flow is alive at
//! the end. [`write()`] writes such a capture as classic pcap (Ethernet, microseconds).

use crate::frame::{self, flags::*};
use crate::pcap::{PcapWriter, DLT_EN10MB};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};

/// The kind of every flow in the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One UDP datagram each way.
    Udp,
    /// An open TCP connection carrying one HTTP request and the start of its answer.
    Tcp,
}

impl Kind {
    /// Packets per flow.
    pub fn packets_per_flow(self) -> u64 {
        match self {
            Kind::Udp => 2,
            Kind::Tcp => 5,
        }
    }
}

/// Most flows a capture can hold (client addresses in 10.0.0.0/8).
pub const MAX_FLOWS: u32 = (1 << 24) - 2;

const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: gen\r\n\r\n";
const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html>";

/// The client of flow `i`.
fn client(i: u32) -> (IpAddr, u16) {
    let a = (i + 1).to_be_bytes();
    (
        IpAddr::V4(Ipv4Addr::new(10, a[1], a[2], a[3])),
        40_000 + (i % 20_000) as u16,
    )
}

/// The packets of flow `i` of `kind`, as frames.
fn flow(kind: Kind, i: u32) -> Vec<Vec<u8>> {
    let c = client(i);
    match kind {
        Kind::Udp => {
            let s = (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 9999);
            let payload = i.to_be_bytes().repeat(4);
            vec![frame::udp(c, s, &payload), frame::udp(s, c, &payload)]
        }
        Kind::Tcp => {
            let s = (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 80);
            let (cs, ss) = (1_000u32.wrapping_mul(i), 7_000u32.wrapping_mul(i));
            let (cs1, ss1) = (cs.wrapping_add(1), ss.wrapping_add(1));
            let creq = cs1.wrapping_add(REQUEST.len() as u32);
            vec![
                frame::tcp(c, s, SYN, cs, 0, &[]),
                frame::tcp(s, c, SYN | ACK, ss, cs1, &[]),
                frame::tcp(c, s, ACK, cs1, ss1, &[]),
                frame::tcp(c, s, PSH | ACK, cs1, ss1, REQUEST),
                frame::tcp(s, c, ACK, ss1, creq, ANSWER),
            ]
        }
    }
}

/// The capture's packets: (time in nanoseconds since the epoch, frame).
pub fn packets(kind: Kind, flows: u32, base_ts: u64) -> impl Iterator<Item = (u64, Vec<u8>)> {
    let base = base_ts * 1_000_000_000;
    (0..flows.min(MAX_FLOWS))
        .flat_map(move |i| flow(kind, i))
        .enumerate()
        .map(move |(n, f)| (base + n as u64 * 1_000, f))
}

/// Writes the capture to `out` (buffered here) and returns how many packets it holds.
pub fn write(out: impl Write, kind: Kind, flows: u32, base_ts: u64) -> io::Result<u64> {
    if flows > MAX_FLOWS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_FLOWS} flows, not {flows}"),
        ));
    }
    let mut w = PcapWriter::new(
        BufWriter::with_capacity(1 << 20, out),
        DLT_EN10MB,
        65535,
        false,
    )?;
    let mut n = 0;
    for (ts, f) in packets(kind, flows, base_ts) {
        w.write(ts, &f)?;
        n += 1;
    }
    w.finish()?.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_are_distinct_and_in_time_order() {
        for kind in [Kind::Udp, Kind::Tcp] {
            let p: Vec<_> = packets(kind, 3, 1_700_000_000).collect();
            assert_eq!(p.len() as u64, 3 * kind.packets_per_flow());
            assert!(p.windows(2).all(|w| w[0].0 < w[1].0));
        }
        assert_ne!(client(0), client(1));
        assert_eq!(client(MAX_FLOWS - 1).0.to_string(), "10.255.255.254");
        let mut out = Vec::new();
        assert!(write(&mut out, Kind::Udp, MAX_FLOWS + 1, 0).is_err());
        assert_eq!(write(&mut out, Kind::Udp, 2, 0).unwrap(), 4);
    }
}
