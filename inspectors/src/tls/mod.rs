//! The TLS service inspector (`app_proto` `"tls"`): one `tls` event per flow with the
//! handshake's metadata, as Suricata's EVE `tls` record writes it.
//!
//! Contract:
//! - Data: the flow's payload per direction, from its first byte (or from a STARTTLS
//!   upgrade point), so each direction starts with a TLS record; TCP chunks of any
//!   size. A [`Chunk::Gap`], a record header no TLS peer sends, a handshake message
//!   over 64 KiB ([`record::MAX_HANDSHAKE`], the only per-flow buffer, one per
//!   direction) or a malformed ClientHello/ServerHello ends the inspection
//!   (`cx.done()`), after emitting what was seen. Nothing panics on any input.
//! - Reads: the ClientHello (SNI, ALPNs, JA3, JA4), the ServerHello (negotiated
//!   version, TLS 1.3 through supported_versions; JA3S; ALPN) and, for TLS ≤ 1.2, the
//!   server's first certificate (subject, issuer, serial, SHA-1 fingerprint,
//!   validity).
//! - Emits at most one [`TlsEvent`] per flow, when the handshake information is
//!   complete: after the server's Certificate (TLS ≤ 1.2), or when the server's side
//!   turns to ChangeCipherSpec or application data (TLS 1.3, resumption), or when the
//!   client sends application data after a ServerHello; otherwise at flow end (or on
//!   an error) with whatever was seen. Then it asks for no more data. As Suricata's
//!   `JsonTlsLogger`, it writes one only with a server certificate, a resumption in
//!   sight (a session_ticket extension offered, or the client's session id echoed) or
//!   a TLS 1.3 ServerHello: a lone ClientHello without a ticket extension writes
//!   nothing. `version` is the server's, else the client's (Suricata 8.0.3 and
//!   later).
//! - Client application data before any ServerHello (TLS 1.3 early data) only stops
//!   the client side from being read.

pub mod cert;
pub mod hello;
pub mod ja3;
pub mod ja4;
pub mod record;

#[cfg(test)]
pub(crate) mod testdata;
#[cfg(test)]
mod tests;

use cert::CertInfo;
use flowengine::flow::Direction;
use flowengine::inspect::{
    AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind, Transport,
};
use hello::{ClientHello, ServerHello};
use ja3::Ja3;
use ja4::{ja4, Ja4Transport};
use record::{Framer, Next, RecordEvent};
use std::any::Any;
use std::ops::ControlFlow;
use tls_parser::{parse_tls_handshake_msg_certificate, TlsMessageHandshake};

/// The service name and EVE event type.
pub const SERVICE: &str = "tls";

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
/// The session_ticket extension.
const EXT_SESSION_TICKET: u16 = 35;
/// The supported_versions extension.
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// The TLS service inspector (shared; one [`FlowData`] per TCP flow).
#[derive(Debug, Default, Clone, Copy)]
pub struct TlsInspector;

impl TlsInspector {
    /// A TLS inspector.
    pub fn new() -> Self {
        TlsInspector
    }
}

impl Inspector for TlsInspector {
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
        (flow.transport == Transport::Tcp).then(|| Box::new(TlsFlow::new()) as Box<dyn FlowData>)
    }
}

/// The handshake facts gathered so far on one flow.
#[derive(Debug, Default)]
struct Seen {
    client: Option<ClientHello>,
    server: Option<ServerHello>,
    cert: Option<CertInfo>,
}

/// What the callback decided beyond the framer: finish the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Going,
    Finish,
}

impl Seen {
    fn on_record(&mut self, dir: Direction, ev: RecordEvent<'_>) -> ControlFlow<Outcome, Next> {
        match (dir, ev) {
            (Direction::ToServer, RecordEvent::Handshake { msg_type, body }) => {
                if msg_type == HS_CLIENT_HELLO && self.client.is_none() {
                    match ClientHello::parse(body) {
                        Ok(ch) => self.client = Some(ch),
                        Err(_) => return ControlFlow::Break(Outcome::Finish),
                    }
                    // Nothing after the ClientHello is of interest on this side.
                    return ControlFlow::Continue(Next::Skip);
                }
                ControlFlow::Continue(Next::Continue)
            }
            (Direction::ToClient, RecordEvent::Handshake { msg_type, body }) => {
                match msg_type {
                    HS_SERVER_HELLO if self.server.is_none() => match ServerHello::parse(body) {
                        Ok(sh) => {
                            let tls13 = sh.is_tls13();
                            self.server = Some(sh);
                            if tls13 {
                                // The rest of the server's handshake is encrypted.
                                return ControlFlow::Continue(Next::Skip);
                            }
                        }
                        Err(_) => return ControlFlow::Break(Outcome::Finish),
                    },
                    HS_CERTIFICATE if self.server.is_some() => {
                        if let Ok((_, TlsMessageHandshake::Certificate(c))) =
                            parse_tls_handshake_msg_certificate(body)
                        {
                            self.cert = c
                                .cert_chain
                                .first()
                                .and_then(|c| CertInfo::from_der(c.data).ok());
                        }
                        return ControlFlow::Break(Outcome::Finish);
                    }
                    _ => {}
                }
                ControlFlow::Continue(Next::Continue)
            }
            (Direction::ToClient, RecordEvent::ChangeCipherSpec | RecordEvent::ApplicationData) => {
                ControlFlow::Break(Outcome::Finish)
            }
            (Direction::ToServer, RecordEvent::ApplicationData) if self.server.is_some() => {
                ControlFlow::Break(Outcome::Finish)
            }
            (Direction::ToServer, RecordEvent::ChangeCipherSpec | RecordEvent::ApplicationData) => {
                ControlFlow::Continue(Next::Skip)
            }
        }
    }

    /// The flow's `tls` event, if Suricata would write one (`JsonTlsLogger`): with
    /// the server's certificate, or a session resumption in sight (a session_ticket
    /// extension in the ClientHello, or the ServerHello echoing the client's session
    /// id), or a TLS 1.3 ServerHello (its certificate is encrypted). A ClientHello
    /// alone without a ticket extension writes nothing. `record_versions` are the
    /// first record header versions of the client's and the server's sides.
    fn event(&self, record_versions: [u16; 2]) -> Option<TlsEvent> {
        if self.client.is_none() && self.server.is_none() {
            return None;
        }
        let ch = self.client.as_ref();
        let sh = self.server.as_ref();
        let ticket = ch.is_some_and(|c| c.extensions.contains(&EXT_SESSION_TICKET));
        let same_session = match (ch, sh) {
            (Some(c), Some(s)) => !s.session_id.is_empty() && s.session_id == c.session_id,
            _ => false,
        };
        let resumption = ticket || same_session;
        let client_offered_versions = ch.is_some_and(|c| !c.supported_versions.is_empty());
        let without_cert = sh.is_some_and(|s| {
            s.legacy_version == 0x0304
                || s.legacy_version >> 8 == 0x7f
                || (client_offered_versions
                    && s.extensions.contains(&EXT_SUPPORTED_VERSIONS)
                    && s.version > 0x0303)
        });
        if self.cert.is_none() && !resumption && !without_cert {
            return None;
        }
        let resumed = resumption && self.cert.is_none() && sh.is_some() && !without_cert;
        let lossy = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        Some(TlsEvent {
            cert: self.cert.clone(),
            sni: ch.and_then(ClientHello::sni_str),
            version: hello::version_string(version(ch, sh, record_versions)),
            ja3: ch.map(Ja3::client),
            ja3s: sh.map(Ja3::server),
            ja4: ch.map(|c| ja4(c, Ja4Transport::Tcp)),
            client_alpns: ch
                .map(|c| c.alpns.iter().map(|a| lossy(a)).collect())
                .unwrap_or_default(),
            server_alpns: sh
                .and_then(|s| s.alpn.as_deref())
                .map(|a| vec![lossy(a)])
                .unwrap_or_default(),
            session_resumed: resumed,
        })
    }
}

/// `tls.version` as Suricata 8.0.3 and later write it: the server's version (the
/// ServerHello's, else its first record header's), else the client's (the first valid
/// version its supported_versions offers, else its ClientHello's legacy version, else
/// its first record header's), else 0 (`"UNDETERMINED"`).
fn version(ch: Option<&ClientHello>, sh: Option<&ServerHello>, records: [u16; 2]) -> u16 {
    let [client_record, server_record] = records;
    if let Some(s) = sh {
        return s.version;
    }
    if server_record != 0 {
        return server_record;
    }
    match ch {
        Some(c) => c
            .supported_versions
            .iter()
            .copied()
            .find(|&v| hello::version_valid(v))
            .unwrap_or(c.version),
        None => client_record,
    }
}

/// The TLS inspector's state on one flow.
#[derive(Debug, Default)]
pub struct TlsFlow {
    framers: [Framer; 2],
    seen: Seen,
    finished: bool,
}

impl TlsFlow {
    /// State for a new flow.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first record header versions of the client's and the server's sides.
    fn record_versions(&self) -> [u16; 2] {
        [
            self.framers[Direction::ToServer.index()].first_version(),
            self.framers[Direction::ToClient.index()].first_version(),
        ]
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.finished = true;
            if let Some(ev) = self.seen.event(self.record_versions()) {
                cx.emit(Box::new(ev));
            }
        }
        cx.done();
    }
}

impl FlowData for TlsFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            cx.done();
            return;
        }
        let bytes = match chunk {
            Chunk::Data(b) => b,
            Chunk::Gap(_) => return self.finish(cx),
        };
        let seen = &mut self.seen;
        let mut outcome = Outcome::Going;
        let framer = &mut self.framers[dir.index()];
        let r = framer.feed(bytes, &mut |ev| match seen.on_record(dir, ev) {
            ControlFlow::Continue(n) => ControlFlow::Continue(n),
            ControlFlow::Break(o) => {
                outcome = o;
                ControlFlow::Break(())
            }
        });
        if r.is_err() || outcome == Outcome::Finish {
            self.finish(cx);
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.finished = true;
            if let Some(ev) = self.seen.event(self.record_versions()) {
                cx.emit(Box::new(ev));
            }
        }
    }
}

/// The `tls` event: Suricata's EVE `tls` object (extended fields).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsEvent {
    /// The server's first certificate (TLS ≤ 1.2 only: encrypted in TLS 1.3).
    pub cert: Option<CertInfo>,
    /// The ClientHello's server name.
    pub sni: Option<String>,
    /// The negotiated version as Suricata writes it (`"TLS 1.2"`, `"TLS 1.3"`,
    /// `"TLSv1"`, ...): the server's, else (no ServerHello) the client's.
    pub version: String,
    /// The client's JA3.
    pub ja3: Option<Ja3>,
    /// The server's JA3S.
    pub ja3s: Option<Ja3>,
    /// The client's JA4.
    pub ja4: Option<String>,
    /// ALPN protocols the client offered.
    pub client_alpns: Vec<String>,
    /// ALPN protocol the server chose (in clear only up to TLS 1.2).
    pub server_alpns: Vec<String>,
    /// A resumption (a ticket offered, or the session id echoed) with a ServerHello
    /// and no certificate, before TLS 1.3.
    pub session_resumed: bool,
}

impl AppEvent for TlsEvent {
    fn event_type(&self) -> &'static str {
        SERVICE
    }

    fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(c) = &self.cert {
            m.insert("subject".into(), c.subject.clone().into());
            m.insert("issuerdn".into(), c.issuerdn.clone().into());
        }
        if self.session_resumed {
            m.insert("session_resumed".into(), true.into());
        }
        if let Some(c) = &self.cert {
            m.insert("serial".into(), c.serial.clone().into());
            m.insert("fingerprint".into(), c.fingerprint.clone().into());
        }
        if let Some(s) = &self.sni {
            m.insert("sni".into(), s.clone().into());
        }
        m.insert("version".into(), self.version.clone().into());
        if let Some(c) = &self.cert {
            m.insert("notbefore".into(), c.notbefore.clone().into());
            m.insert("notafter".into(), c.notafter.clone().into());
        }
        if let Some(j) = &self.ja3 {
            m.insert("ja3".into(), j.to_json());
        }
        if let Some(j) = &self.ja3s {
            m.insert("ja3s".into(), j.to_json());
        }
        if let Some(j) = &self.ja4 {
            m.insert("ja4".into(), j.clone().into());
        }
        if !self.client_alpns.is_empty() {
            m.insert("client_alpns".into(), self.client_alpns.clone().into());
        }
        if !self.server_alpns.is_empty() {
            m.insert("server_alpns".into(), self.server_alpns.clone().into());
        }
        serde_json::Value::Object(m)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
