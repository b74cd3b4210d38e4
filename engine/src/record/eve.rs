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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{IpVersion, Vlans};
    use crate::flow::{EndReason, FlowState};
    use crate::record::{IcmpRecord, TcpRecord};
    use crate::stream::TcpState;
    use crate::time::Timestamp;

    fn record() -> FlowRecord {
        FlowRecord {
            timestamp: Timestamp::from_secs_micros(1_456_786_925, 500_000),
            flow_id: 1_234_567,
            vlans: Vlans::default(),
            src_ip: "10.0.0.1".parse().unwrap(),
            dest_ip: "10.0.0.2".parse().unwrap(),
            ports: Some((40000, 80)),
            ip_version: IpVersion::V4,
            proto: 6,
            icmp: None,
            pkts_toserver: 5,
            pkts_toclient: 3,
            bytes_toserver: 400,
            bytes_toclient: 1200,
            start: Timestamp::from_secs_micros(1_456_786_920, 999_999),
            end: Timestamp::from_secs_micros(1_456_786_925, 1),
            state: FlowState::Closed,
            reason: EndReason::Timeout,
            allowed: false,
            tcp: Some(TcpRecord {
                flags: 0x1b,
                flags_ts: 0x1b,
                flags_tc: 0x13,
                state: Some(TcpState::Closed),
            }),
        }
    }

    fn render(r: &FlowRecord, opts: EveOptions) -> String {
        let mut w = EveWriter::new(Vec::new(), opts);
        w.flow(r);
        assert_eq!(w.written(), 1);
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn tcp_flow_renders_like_suricata() {
        assert_eq!(
            render(&record(), EveOptions::default()),
            concat!(
                r#"{"timestamp":"2016-02-29T23:02:05.500000+0000","flow_id":1234567,"event_type":"flow","#,
                r#""src_ip":"10.0.0.1","src_port":40000,"dest_ip":"10.0.0.2","dest_port":80,"ip_v":4,"#,
                r#""proto":"TCP","flow":{"pkts_toserver":5,"pkts_toclient":3,"bytes_toserver":400,"#,
                r#""bytes_toclient":1200,"start":"2016-02-29T23:02:00.999999+0000","#,
                r#""end":"2016-02-29T23:02:05.000001+0000","age":5,"state":"closed","reason":"timeout","#,
                r#""alerted":false},"tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"13","#,
                r#""syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}"#,
                "\n"
            )
        );
    }

    #[test]
    fn ipv6_icmp_vlans_and_unknown_protocols() {
        let mut r = record();
        r.src_ip = "fe80::20c:29ff:fef3:cf38".parse().unwrap();
        r.dest_ip = "ff02::1".parse().unwrap();
        r.ip_version = IpVersion::V6;
        r.proto = 58;
        r.ports = None;
        r.tcp = None;
        r.vlans = Vlans::from_slice(&[1, 10]);
        r.icmp = Some(IcmpRecord {
            icmp_type: 128,
            icmp_code: 0,
            response: Some((129, 0)),
        });
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, EveOptions::default())).unwrap();
        assert_eq!(v["src_ip"], "fe80:0000:0000:0000:020c:29ff:fef3:cf38");
        assert_eq!(v["dest_ip"], "ff02:0000:0000:0000:0000:0000:0000:0001");
        assert_eq!(v["proto"], "IPv6-ICMP");
        assert_eq!(v["vlan"], serde_json::json!([1, 10]));
        assert_eq!(
            (v["icmp_type"].as_u64(), v["response_icmp_type"].as_u64()),
            (Some(128), Some(129))
        );
        assert!(v.get("src_port").is_none() && v.get("tcp").is_none());
        let c: serde_json::Value = serde_json::from_str(&render(
            &r,
            EveOptions {
                ipv6_compress: true,
            },
        ))
        .unwrap();
        assert_eq!(c["src_ip"], "fe80::20c:29ff:fef3:cf38");
        r.proto = 253;
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, EveOptions::default())).unwrap();
        assert_eq!(v["proto"], "253");
    }

    #[test]
    fn tcp_without_a_session_and_bypassed_flows() {
        let mut r = record();
        r.tcp = Some(TcpRecord {
            flags: 0,
            flags_ts: 0,
            flags_tc: 0,
            state: None,
        });
        r.allowed = true;
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, EveOptions::default())).unwrap();
        assert_eq!(
            v["tcp"],
            serde_json::json!({"tcp_flags": "00", "tcp_flags_ts": "00", "tcp_flags_tc": "00"})
        );
        assert_eq!(v["flow"]["state"], "bypassed");
    }

    #[test]
    fn write_errors_are_kept_and_later_records_counted() {
        #[derive(Debug)]
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = EveWriter::new(Broken, EveOptions::default());
        w.flow(&record());
        w.flow(&record());
        assert_eq!((w.written(), w.dropped()), (0, 2));
        assert!(w.finish().unwrap_err().to_string().contains("disk full"));
    }
}
