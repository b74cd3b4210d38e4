//! The QUIC service inspector (`app_proto` `"quic"`, UDP): decrypts the client's
//! Initial packets and reports its ClientHello as Suricata's EVE `quic` record does.
//!
//! Contract:
//! - Data: one datagram per [`Chunk::Data`]; datagrams may hold several coalesced
//!   packets. Only the client's datagrams are read (the server's Initials carry no
//!   ClientHello).
//! - Versions: v1 (RFC 9000/9001), v2 (RFC 9369), the IETF drafts 22 to 34 and
//!   Facebook's mvfst versions based on them (`faceb001`, `faceb002`, `faceb00e`) are
//!   decrypted (Suricata 8 leaves out draft 22, `faceb001` and `faceb00e`; their
//!   Initial keys are as public as the others'): Initial keys from the DCID of the client's first Initial (again from
//!   a later Initial's DCID if the first keys fail, as after a Retry), header
//!   protection removed, AES-128-GCM opened, CRYPTO frames reassembled in any order
//!   across packets (bounded: [`frames::MAX_CRYPTO`]). Google QUIC below Q050 sends
//!   its CHLO in the clear: its server name and user agent are read
//!   ([`gquic`]); Q050 (a CHLO), T050 and T051 (TLS) protect their Initials as
//!   RFC 9001 does with salts of their own, and are decrypted like the IETF versions.
//!   Unknown versions are reported by version only.
//! - Emits one [`QuicEvent`] per flow: when the ClientHello is complete (SNI, JA3,
//!   JA4 with `q`, extensions with SNI and ALPN values), then asks for no more data;
//!   otherwise at flow end, or after 16 client datagrams without progress, with the
//!   version alone if a long-header packet was seen.
//! - Per flow: one copy buffer for the packet being decrypted (at most one datagram)
//!   and the CRYPTO buffer. Bad input never panics: undecryptable packets are
//!   skipped, a malformed ClientHello ends the inspection.

pub mod frames;
pub mod gquic;
pub mod header;
pub mod initial;

#[cfg(test)]
mod tests;

use crate::tls::hello::{extension_name, ClientHello};
use crate::tls::ja3::Ja3;
use crate::tls::ja4::{ja4, Ja4Transport};
use flowengine::flow::Direction;
use flowengine::inspect::{
    AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind, Transport,
};
use frames::{for_each_crypto_typed, CryptoStream};
use header::{LongHeader, PacketType};
use initial::{InitialKeys, Side};
use std::any::Any;

/// The service name and EVE event type.
pub const SERVICE: &str = "quic";

/// Google's Q050: RFC 9000 packets whose CRYPTO stream carries a CHLO.
const GOOGLE_Q050: u32 = 0x5130_3530;

/// Client datagrams read without progress before giving up.
const MAX_IDLE_DATAGRAMS: u8 = 16;

/// The QUIC service inspector (shared; one [`FlowData`] per UDP flow).
#[derive(Debug, Default, Clone, Copy)]
pub struct QuicInspector;

impl QuicInspector {
    /// A QUIC inspector.
    pub fn new() -> Self {
        QuicInspector
    }
}

impl Inspector for QuicInspector {
    fn name(&self) -> &str {
        SERVICE
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &[SERVICE]
    }

    fn start(&self, flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        (flow.transport == Transport::Udp).then(|| Box::new(QuicFlow::new()) as Box<dyn FlowData>)
    }
}

/// The QUIC inspector's state on one flow.
#[derive(Debug, Default)]
pub struct QuicFlow {
    version: Option<u32>,
    /// Keys and the DCID they came from.
    keys: Option<(Vec<u8>, InitialKeys)>,
    largest_pn: Option<u64>,
    crypto: CryptoStream,
    /// A Google QUIC CHLO read in the clear.
    google: Option<gquic::GoogleHello>,
    scratch: Vec<u8>,
    idle: u8,
    finished: bool,
}

/// What one datagram brought.
enum Progress {
    /// Nothing new.
    None,
    /// New CRYPTO data, or a first version.
    Some,
    /// The ClientHello is complete, or cannot be: report and stop.
    Finish,
}

impl QuicFlow {
    /// State for a new flow.
    pub fn new() -> Self {
        Self::default()
    }

    fn datagram(&mut self, mut d: &[u8]) -> Progress {
        if let Some(v) = gquic::clear_version(d) {
            self.version.get_or_insert(v);
            return match gquic::client_hello(d) {
                Some(h) => {
                    self.google = Some(h);
                    Progress::Finish
                }
                None => Progress::Some,
            };
        }
        let mut progress = Progress::None;
        while !d.is_empty() {
            let Ok(h) = LongHeader::parse(d) else { break };
            if self.version.is_none() && h.ty != PacketType::VersionNegotiation {
                self.version = Some(h.version);
                progress = Progress::Some;
            }
            let (this, rest) = d.split_at(h.len.min(d.len()));
            d = rest;
            match h.ty {
                PacketType::Initial => {}
                PacketType::ZeroRtt | PacketType::Handshake => continue,
                _ => break,
            }
            match self.initial(this, &h) {
                Progress::None => {}
                Progress::Some => progress = Progress::Some,
                Progress::Finish => return Progress::Finish,
            }
        }
        progress
    }

    /// One client Initial packet.
    fn initial(&mut self, packet: &[u8], h: &LongHeader<'_>) -> Progress {
        if self.keys.is_none() {
            match InitialKeys::derive(h.version, h.dcid, Side::Client) {
                Some(k) => self.keys = Some((h.dcid.to_vec(), k)),
                None => return Progress::Finish,
            }
        }
        let Some(range) = self.open(packet, h) else {
            return Progress::None;
        };
        let plain = self.scratch.get(range).unwrap_or_default();
        let crypto = &mut self.crypto;
        let frame = if header::is_google_ietf(h.version) {
            frames::GOOGLE_CRYPTO
        } else {
            frames::CRYPTO
        };
        if for_each_crypto_typed(plain, frame, |off, data| crypto.insert(off, data)).is_err() {
            // A frame we cannot read: the CRYPTO data already taken stays.
            if crypto.first_message().is_none() {
                return Progress::None;
            }
        }
        if h.version == GOOGLE_Q050 {
            // Not TLS: a CHLO, complete when its table and values are all there.
            if let Some((sni, ua)) = gquic::chlo(self.crypto.contiguous()) {
                self.google = Some(gquic::GoogleHello {
                    version: h.version,
                    sni,
                    ua,
                });
                return Progress::Finish;
            }
            return Progress::Some;
        }
        if self.crypto.first_message().is_some() || self.crypto.first_message_too_large() {
            return Progress::Finish;
        }
        Progress::Some
    }

    /// Copies and decrypts a packet; the plaintext's range in `scratch`.
    fn open(&mut self, packet: &[u8], h: &LongHeader<'_>) -> Option<std::ops::Range<usize>> {
        let (dcid, keys) = self.keys.as_ref()?;
        self.scratch.clear();
        self.scratch.extend_from_slice(packet);
        match keys.unprotect(&mut self.scratch, h.pn_offset, self.largest_pn) {
            Ok((pn, range)) => {
                self.largest_pn = Some(self.largest_pn.map_or(pn, |l| l.max(pn)));
                return Some(range);
            }
            Err(_) if dcid.as_slice() != h.dcid => {}
            Err(_) => return None,
        }
        // After a Retry the client derives new keys from the new DCID.
        let keys = InitialKeys::derive(h.version, h.dcid, Side::Client)?;
        self.scratch.clear();
        self.scratch.extend_from_slice(packet);
        let (pn, range) = keys.unprotect(&mut self.scratch, h.pn_offset, None).ok()?;
        self.keys = Some((h.dcid.to_vec(), keys));
        self.crypto = CryptoStream::new();
        self.largest_pn = Some(pn);
        Some(range)
    }

    fn event(&self) -> Option<QuicEvent> {
        let version = self.version?;
        let mut ev = QuicEvent {
            version: version_string(version),
            sni: None,
            ua: None,
            ja3: None,
            ja4: None,
            extensions: Vec::new(),
        };
        if let Some(h) = &self.google {
            ev.sni = h.sni.clone();
            ev.ua = h.ua.clone();
            return Some(ev);
        }
        if let Some((1, body)) = self.crypto.first_message() {
            if let Ok(ch) = ClientHello::parse(body) {
                ev.sni = ch.sni_str();
                ev.ja3 = Some(Ja3::client(&ch));
                ev.ja4 = Some(ja4(&ch, Ja4Transport::Quic));
                ev.extensions = ch
                    .extensions
                    .iter()
                    .map(|&t| {
                        let values = match t {
                            0 => ch.sni_str().into_iter().collect(),
                            16 => ch
                                .alpns
                                .iter()
                                .map(|a| String::from_utf8_lossy(a).into_owned())
                                .collect(),
                            _ => Vec::new(),
                        };
                        QuicExtension { ty: t, values }
                    })
                    .collect();
            }
        }
        Some(ev)
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.finished = true;
            if let Some(ev) = self.event() {
                cx.emit(Box::new(ev));
            }
        }
        cx.done();
    }
}

impl FlowData for QuicFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            cx.done();
            return;
        }
        let (Direction::ToServer, Chunk::Data(d)) = (dir, chunk) else {
            return;
        };
        match self.datagram(d) {
            Progress::Finish => self.finish(cx),
            Progress::Some => self.idle = 0,
            Progress::None => {
                self.idle = self.idle.saturating_add(1);
                if self.idle >= MAX_IDLE_DATAGRAMS {
                    self.finish(cx);
                }
            }
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.finished = true;
            if let Some(ev) = self.event() {
                cx.emit(Box::new(ev));
            }
        }
    }
}

/// The version as Suricata's QUIC logger writes it: `Q0xx` names for Google QUIC,
/// else lowercase hex (`"1"`, `"6b3343cf"`, `"ff00001d"`).
pub fn version_string(v: u32) -> String {
    match v {
        0x5130_3339 => "Q039".into(),
        0x5130_3433 => "Q043".into(),
        0x5130_3434 => "Q044".into(),
        0x5130_3435 => "Q045".into(),
        0x5130_3436 => "Q046".into(),
        _ => format!("{v:x}"),
    }
}

/// One ClientHello extension as the `quic` event lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicExtension {
    /// The extension type.
    pub ty: u16,
    /// Its values: the server name (SNI), the protocols (ALPN); none for others.
    pub values: Vec<String>,
}

/// The `quic` event: Suricata's EVE `quic` object for the client's Initial.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuicEvent {
    /// The version (see [`version_string`]).
    pub version: String,
    /// The ClientHello's server name.
    pub sni: Option<String>,
    /// The user agent of a Google QUIC CHLO (`UAID`).
    pub ua: Option<String>,
    /// The client's JA3.
    pub ja3: Option<Ja3>,
    /// The client's JA4 (`q...`).
    pub ja4: Option<String>,
    /// The ClientHello's extensions, in order.
    pub extensions: Vec<QuicExtension>,
}

impl AppEvent for QuicEvent {
    fn event_type(&self) -> &'static str {
        SERVICE
    }

    fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("version".into(), self.version.clone().into());
        if let Some(s) = &self.sni {
            m.insert("sni".into(), s.clone().into());
        }
        if let Some(s) = &self.ua {
            m.insert("ua".into(), s.clone().into());
        }
        if let Some(j) = &self.ja3 {
            m.insert("ja3".into(), j.to_json());
        }
        if let Some(j) = &self.ja4 {
            m.insert("ja4".into(), j.clone().into());
        }
        if !self.extensions.is_empty() {
            let list = self
                .extensions
                .iter()
                .map(|e| {
                    let mut o = serde_json::Map::new();
                    if let Some(n) = extension_name(e.ty) {
                        o.insert("name".into(), n.into());
                    }
                    o.insert("type".into(), e.ty.into());
                    if !e.values.is_empty() {
                        o.insert("values".into(), e.values.clone().into());
                    }
                    serde_json::Value::Object(o)
                })
                .collect::<Vec<_>>();
            m.insert("extensions".into(), list.into());
        }
        serde_json::Value::Object(m)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
