//! EVE JSON output: one Suricata-style `flow` event per line.
//!
//! Contract: [`EveWriter`] is a [`Sink`] that writes each record as one JSON object on
//! one line, with Suricata's field names, order and formats (see the repository's
//! notes on EVE): timestamps as `2016-01-01T00:00:00.000000+0000`, IPv6 addresses in
//! full (uncompressed) form unless `ipv6_compress` is set, ports only for TCP, UDP and
//! SCTP, `proto` as the IANA keyword (or the number as a string), TCP flags as
//! two-digit lowercase hex with one boolean per flag seen. Write errors never stop the
//! engine: the first one is kept and returned by [`EveWriter::finish`], and later
//! records are dropped and counted.

use super::{proto_name, FlowRecord, Sink};
use crate::decode::tcp_flags as tf;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;

/// EVE rendering options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EveOptions {
    /// Write IPv6 addresses in compressed form (`fe80::1`) instead of Suricata 9's
    /// default full form.
    pub ipv6_compress: bool,
}

/// An address formatted as EVE writes it.
struct Ip(IpAddr, bool);

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => a.fmt(f),
            IpAddr::V6(a) if self.1 => a.fmt(f),
            IpAddr::V6(a) => {
                let s = a.segments();
                write!(
                    f,
                    "{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}",
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
                )
            }
        }
    }
}

struct Hex(u8);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.0)
    }
}

/// Serializes a value through its `Display` without allocating.
struct Disp<T>(T);

impl<T: fmt::Display> Serialize for Disp<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

struct FlowPart<'a>(&'a FlowRecord);

impl Serialize for FlowPart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("pkts_toserver", &r.pkts_toserver)?;
        m.serialize_entry("pkts_toclient", &r.pkts_toclient)?;
        m.serialize_entry("bytes_toserver", &r.bytes_toserver)?;
        m.serialize_entry("bytes_toclient", &r.bytes_toclient)?;
        m.serialize_entry("start", &Disp(r.start))?;
        m.serialize_entry("end", &Disp(r.end))?;
        m.serialize_entry("age", &r.age())?;
        // An allowed (trusted) flow is what Suricata calls bypassed.
        let state = if r.allowed {
            "bypassed"
        } else {
            r.state.name()
        };
        m.serialize_entry("state", state)?;
        m.serialize_entry("reason", r.reason.name())?;
        m.serialize_entry("alerted", &false)?;
        m.end()
    }
}

struct TcpPart<'a>(&'a super::TcpRecord);

impl Serialize for TcpPart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("tcp_flags", &Disp(Hex(t.flags)))?;
        m.serialize_entry("tcp_flags_ts", &Disp(Hex(t.flags_ts)))?;
        m.serialize_entry("tcp_flags_tc", &Disp(Hex(t.flags_tc)))?;
        for (bit, name) in [
            (tf::SYN, "syn"),
            (tf::FIN, "fin"),
            (tf::RST, "rst"),
            (tf::PSH, "psh"),
            (tf::ACK, "ack"),
            (tf::URG, "urg"),
            (tf::ECE, "ecn"),
            (tf::CWR, "cwr"),
        ] {
            if t.flags & bit != 0 {
                m.serialize_entry(name, &true)?;
            }
        }
        if let Some(state) = t.state {
            m.serialize_entry("state", state.name())?;
        }
        m.end()
    }
}

/// A record as an EVE `flow` event.
pub struct EveFlow<'a> {
    record: &'a FlowRecord,
    opts: EveOptions,
}

impl<'a> EveFlow<'a> {
    /// Wraps a record for serialization.
    pub fn new(record: &'a FlowRecord, opts: EveOptions) -> Self {
        EveFlow { record, opts }
    }
}

impl Serialize for EveFlow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let compress = self.opts.ipv6_compress;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &Disp(r.timestamp))?;
        m.serialize_entry("flow_id", &r.flow_id)?;
        m.serialize_entry("event_type", "flow")?;
        if !r.vlans.is_empty() {
            m.serialize_entry("vlan", r.vlans.as_slice())?;
        }
        m.serialize_entry("src_ip", &Disp(Ip(r.src_ip, compress)))?;
        if let Some((sp, _)) = r.ports {
            m.serialize_entry("src_port", &sp)?;
        }
        m.serialize_entry("dest_ip", &Disp(Ip(r.dest_ip, compress)))?;
        if let Some((_, dp)) = r.ports {
            m.serialize_entry("dest_port", &dp)?;
        }
        m.serialize_entry(
            "ip_v",
            &match r.ip_version {
                crate::decode::IpVersion::V4 => 4u8,
                crate::decode::IpVersion::V6 => 6u8,
            },
        )?;
        match proto_name(r.proto) {
            Some(name) => m.serialize_entry("proto", name)?,
            None => m.serialize_entry("proto", &Disp(r.proto))?,
        }
        if let Some(icmp) = r.icmp {
            m.serialize_entry("icmp_type", &icmp.icmp_type)?;
            m.serialize_entry("icmp_code", &icmp.icmp_code)?;
            if let Some((t, c)) = icmp.response {
                m.serialize_entry("response_icmp_type", &t)?;
                m.serialize_entry("response_icmp_code", &c)?;
            }
        }
        m.serialize_entry("flow", &FlowPart(r))?;
        if let Some(tcp) = &r.tcp {
            m.serialize_entry("tcp", &TcpPart(tcp))?;
        }
        m.end()
    }
}

/// Writes EVE `flow` events, one per line.
pub struct EveWriter<W: Write> {
    out: W,
    opts: EveOptions,
    error: Option<io::Error>,
    written: u64,
    dropped: u64,
}

impl<W: Write> EveWriter<W> {
    /// A writer over `out` (wrap files in a `BufWriter`).
    pub fn new(out: W, opts: EveOptions) -> Self {
        EveWriter {
            out,
            opts,
            error: None,
            written: 0,
            dropped: 0,
        }
    }

    /// Records written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Records dropped after a write error.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Flushes and returns the inner writer, or the first write error.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_one(&mut self, record: &FlowRecord) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &EveFlow::new(record, self.opts))?;
        self.out.write_all(b"\n")
    }
}

impl<W: Write> Sink for EveWriter<W> {
    fn flow(&mut self, record: &FlowRecord) {
        if self.error.is_some() {
            self.dropped += 1;
            return;
        }
        match self.write_one(record) {
            Ok(()) => self.written += 1,
            Err(e) => {
                self.dropped += 1;
                self.error = Some(e);
            }
        }
    }
}
