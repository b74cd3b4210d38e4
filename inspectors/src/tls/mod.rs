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
//! - Emits one [`TlsEvent`] per flow, when the handshake information is complete:
//!   after the server's Certificate (TLS ≤ 1.2), or when the server's side turns to
//!   ChangeCipherSpec or application data (TLS 1.3, resumption), or when the client
//!   sends application data after a ServerHello; otherwise at flow end (or on an
//!   error) with whatever was seen, if a hello was. Then it asks for no more data.
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

    fn event(&self) -> Option<TlsEvent> {
        if self.client.is_none() && self.server.is_none() {
            return None;
        }
        let ch = self.client.as_ref();
        let sh = self.server.as_ref();
        let resumed = match (ch, sh) {
            (Some(c), Some(s)) => {
                self.cert.is_none()
                    && !s.is_tls13()
                    && !s.session_id.is_empty()
                    && s.session_id == c.session_id
            }
            _ => false,
        };
        let lossy = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        Some(TlsEvent {
            cert: self.cert.clone(),
            sni: ch.and_then(ClientHello::sni_str),
            version: hello::version_string(sh.map_or(0, |s| s.version)),
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

    fn finish(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.finished = true;
            if let Some(ev) = self.seen.event() {
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
            if let Some(ev) = self.seen.event() {
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
    /// `"TLSv1"`, ...; `"UNDETERMINED"` without a ServerHello).
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
    /// The server resumed the client's session (same session id, no certificate).
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
