//! SSH service inspector (`"ssh"`): one EVE `ssh` event per flow, from the two
//! identification banners and the two `SSH_MSG_KEXINIT` packets (with HASSH).
//!
//! Contract:
//! - Input: both directions from their start, in-order TCP chunks of any split.
//!   Per direction: lines until the banner (`SSH-protoversion-softwareversion
//!   comments`, at most [`BANNER_CAP`] bytes; a server may send up to [`MAX_PRE_LINES`]
//!   other lines before it), then the binary packets of RFC 4253 until the `KEXINIT`
//!   (at most [`MAX_PACKETS`] packets, each at most [`PACKET_CAP`] bytes; a packet is
//!   parsed in place when whole in a chunk, copied when split).
//! - Fields as Suricata's `rust/src/ssh` writes them: `proto_version` is the text up to
//!   the next `-`, `software_version` up to the first space; HASSH is the MD5 of
//!   `kex;encryption;mac;compression` (client-to-server lists for the client,
//!   server-to-client lists for the server, as Salesforce's HASSH and HASSHServer),
//!   given as `hassh: {hash, string}`.
//! - The event is emitted, and the inspector done, once both directions are complete
//!   (KEXINIT read, SSH-1 banner, gap or given up); at flow end it is emitted with
//!   what was seen if anything was.
//! - Bad input never panics: a direction whose bytes are not SSH stops (its side is
//!   left out of the event); a gap ends that direction's work.

use crate::text::{eve_string, starts_with_ci, LineAction, LineBuf};
use flowengine::flow::Direction;
use flowengine::inspect::{AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind};
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use std::any::Any;
use std::fmt::Write as _;

/// Longest banner line (RFC 4253: 255 bytes with its CRLF).
pub const BANNER_CAP: usize = 255;
/// Lines a server may send before its banner.
pub const MAX_PRE_LINES: u32 = 16;
/// Largest binary packet read (RFC 4253's minimum every implementation must take).
pub const PACKET_CAP: usize = 35_000;
/// Packets read per direction while looking for the KEXINIT.
pub const MAX_PACKETS: u32 = 4;

const MSG_KEXINIT: u8 = 20;

/// The SSH service inspector.
#[derive(Debug, Default)]
pub struct SshInspector;

impl SshInspector {
    /// A new inspector.
    pub fn new() -> Self {
        SshInspector
    }
}

impl Inspector for SshInspector {
    fn name(&self) -> &str {
        "ssh"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["ssh"]
    }

    fn start(&self, _flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(SshFlow::default()))
    }
}

/// HASSH of one side: the MD5 (lowercase hex) and the string it is taken over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hassh {
    /// MD5 of `string`, lowercase hex.
    pub hash: String,
    /// `kex;encryption;mac;compression`.
    pub string: String,
}

/// What one side said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SshSide {
    /// The protocol version of the banner (`2.0`).
    pub proto_version: String,
    /// The software version of the banner (`OpenSSH_9.6p1`).
    pub software_version: String,
    /// From the side's KEXINIT.
    pub hassh: Option<Hassh>,
}

impl SshSide {
    fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("proto_version".into(), self.proto_version.clone().into());
        if !self.software_version.is_empty() {
            m.insert(
                "software_version".into(),
                self.software_version.clone().into(),
            );
        }
        if let Some(h) = &self.hassh {
            let mut o = Map::new();
            o.insert("hash".into(), h.hash.clone().into());
            o.insert("string".into(), h.string.clone().into());
            m.insert("hassh".into(), Value::Object(o));
        }
        Value::Object(m)
    }
}

/// The SSH handshake of a flow, as Suricata's EVE `ssh` object names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SshEvent {
    /// The client's side, when its banner was seen.
    pub client: Option<SshSide>,
    /// The server's side, when its banner was seen.
    pub server: Option<SshSide>,
}

impl AppEvent for SshEvent {
    fn event_type(&self) -> &'static str {
        "ssh"
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(c) = &self.client {
            m.insert("client".into(), c.json());
        }
        if let Some(s) = &self.server {
            m.insert("server".into(), s.json());
        }
        Value::Object(m)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Banner { lines: u32 },
    Packets { seen: u32 },
    Done,
}

#[derive(Debug)]
struct Side {
    phase: Phase,
    lines: LineBuf,
    /// A packet split across chunks.
    buf: Vec<u8>,
    info: Option<SshSide>,
}

impl Default for Side {
    fn default() -> Self {
        Side {
            phase: Phase::Banner { lines: 0 },
            lines: LineBuf::new(BANNER_CAP),
            buf: Vec::new(),
            info: None,
        }
    }
}

/// The per-flow state of the SSH inspector.
#[derive(Debug, Default)]
struct SshFlow {
    sides: [Side; 2],
    finished: bool,
}

impl FlowData for SshFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            return;
        }
        let side = &mut self.sides[dir.index()];
        match chunk {
            Chunk::Gap(_) => side.stop(),
            Chunk::Data(d) => side.feed(dir, d),
        }
        if self.sides.iter().all(|s| s.phase == Phase::Done) {
            self.emit(cx);
            self.finished = true;
            cx.done();
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.emit(cx);
            self.finished = true;
        }
    }
}

impl SshFlow {
    fn emit(&mut self, cx: &mut Cx<'_>) {
        let [client, server] = &mut self.sides;
        let ev = SshEvent {
            client: client.info.take(),
            server: server.info.take(),
        };
        if ev.client.is_some() || ev.server.is_some() {
            cx.emit(Box::new(ev));
        }
    }
}

impl Side {
    fn stop(&mut self) {
        self.phase = Phase::Done;
        self.buf = Vec::new();
    }

    fn feed(&mut self, dir: Direction, mut d: &[u8]) {
        while !d.is_empty() {
            match self.phase {
                Phase::Done => return,
                Phase::Banner { lines } => {
                    let mut lb = std::mem::replace(&mut self.lines, LineBuf::new(0));
                    let mut count = lines;
                    let mut banner = None;
                    let mut bad = false;
                    let rest = lb.feed(d, &mut |line: &[u8], truncated| {
                        if starts_with_ci(line, b"SSH-") {
                            banner = Some(parse_banner(line));
                            return LineAction::Stop;
                        }
                        count += 1;
                        // Only a server may greet first; a truncated non-banner line
                        // is not SSH.
                        if truncated || dir == Direction::ToServer || count > MAX_PRE_LINES {
                            bad = true;
                            return LineAction::Stop;
                        }
                        LineAction::Continue
                    });
                    self.lines = lb;
                    if bad {
                        self.stop();
                        return;
                    }
                    match banner {
                        Some(info) => {
                            let ssh1 = info.proto_version.starts_with("1.")
                                && info.proto_version != "1.99";
                            self.info = Some(info);
                            self.lines = LineBuf::new(0);
                            if ssh1 {
                                self.stop();
                                return;
                            }
                            self.phase = Phase::Packets { seen: 0 };
                            d = rest.unwrap_or(&[]);
                        }
                        None => {
                            self.phase = Phase::Banner { lines: count };
                            return;
                        }
                    }
                }
                Phase::Packets { .. } => d = self.packets(dir, d),
            }
        }
    }

    /// Reads binary packets; returns the input left (empty unless the side is done).
    fn packets<'a>(&mut self, dir: Direction, d: &'a [u8]) -> &'a [u8] {
        if self.buf.is_empty() {
            if let Some(total) = packet_len(d) {
                if total > PACKET_CAP {
                    self.stop();
                    return &[];
                }
                if d.len() >= total {
                    let (pkt, rest) = d.split_at(total);
                    self.packet(dir, pkt);
                    return rest;
                }
            }
            self.buf.extend_from_slice(d);
            return &[];
        }
        // Complete the length first, then the packet.
        if self.buf.len() < 4 {
            let k = (4 - self.buf.len()).min(d.len());
            self.buf.extend_from_slice(&d[..k]);
            return &d[k..];
        }
        let Some(total) = packet_len(&self.buf) else {
            self.stop();
            return &[];
        };
        if total > PACKET_CAP {
            self.stop();
            return &[];
        }
        let k = (total - self.buf.len()).min(d.len());
        self.buf.extend_from_slice(&d[..k]);
        if self.buf.len() == total {
            let pkt = std::mem::take(&mut self.buf);
            self.packet(dir, &pkt);
        }
        &d[k..]
    }

    /// One whole packet (length field included).
    fn packet(&mut self, dir: Direction, pkt: &[u8]) {
        let Phase::Packets { seen } = self.phase else {
            return;
        };
        let pad = usize::from(pkt.get(4).copied().unwrap_or(0));
        let body = pkt.get(5..pkt.len().saturating_sub(pad)).unwrap_or(&[]);
        if body.first() == Some(&MSG_KEXINIT) {
            if let (Some(info), Some(h)) = (self.info.as_mut(), hassh(&body[1..], dir)) {
                info.hassh = Some(h);
            }
            self.stop();
        } else if seen + 1 >= MAX_PACKETS {
            self.stop();
        } else {
            self.phase = Phase::Packets { seen: seen + 1 };
        }
    }
}

/// The whole length of the packet that starts `d` (length field included), when its
/// length field is there.
fn packet_len(d: &[u8]) -> Option<usize> {
    let b = d.get(..4)?;
    let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    usize::try_from(n).ok()?.checked_add(4)
}

/// `SSH-protover-swver comments`: Suricata's split.
fn parse_banner(line: &[u8]) -> SshSide {
    let rest = &line[4..];
    let dash = rest.iter().position(|&b| b == b'-').unwrap_or(rest.len());
    let proto = &rest[..dash];
    let sw = rest.get(dash + 1..).unwrap_or(&[]);
    let end = sw.iter().position(|&b| b == b' ').unwrap_or(sw.len());
    SshSide {
        proto_version: eve_string(proto),
        software_version: eve_string(&sw[..end]),
        hassh: None,
    }
}

/// HASSH (client) or HASSHServer over a KEXINIT payload (after the message byte).
fn hassh(payload: &[u8], dir: Direction) -> Option<Hassh> {
    let mut p = payload.get(16..)?; // the cookie
    let mut lists: [&[u8]; 10] = [&[]; 10];
    for l in &mut lists {
        let n = usize::try_from(u32::from_be_bytes(p.get(..4)?.try_into().ok()?)).ok()?;
        *l = p.get(4..4usize.checked_add(n)?)?;
        p = &p[4 + n..];
    }
    // kex, host key, enc c2s, enc s2c, mac c2s, mac s2c, comp c2s, comp s2c, ...
    let (enc, mac, comp) = match dir {
        Direction::ToServer => (lists[2], lists[4], lists[6]),
        Direction::ToClient => (lists[3], lists[5], lists[7]),
    };
    let mut raw = Vec::with_capacity(lists[0].len() + enc.len() + mac.len() + comp.len() + 3);
    for (i, part) in [lists[0], enc, mac, comp].iter().enumerate() {
        if i > 0 {
            raw.push(b';');
        }
        raw.extend_from_slice(part);
    }
    let digest = Md5::digest(&raw);
    let mut hash = String::with_capacity(32);
    for b in digest.iter() {
        let _ = write!(hash, "{b:02x}");
    }
    Some(Hassh {
        hash,
        string: eve_string(&raw),
    })
}

#[cfg(test)]
mod tests;
