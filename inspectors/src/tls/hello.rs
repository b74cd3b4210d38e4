//! ClientHello and ServerHello: the fields the `tls` and `quic` events report and the
//! fingerprints need, read from one complete handshake message body.
//!
//! Contract: [`ClientHello::parse`] and [`ServerHello::parse`] take the body of one
//! handshake message (after its 4-byte header), as TLS over TCP and QUIC CRYPTO frames
//! carry it alike, and parse it with `tls-parser`. The extension list is walked one
//! TLV at a time, so an extension whose content is malformed still counts in the
//! fingerprints (by type) and only loses its content. Everything is bounded by the
//! message: a ClientHello holds at most 32,767 ciphers and 16,383 extensions, so
//! nothing here allocates more than a small multiple of the input. Errors are
//! [`HelloError`]; nothing panics on any input.

use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_handshake_client_hello,
    parse_tls_handshake_msg_server_hello, parse_tls_server_hello_extension, SNIType, TlsExtension,
    TlsMessageHandshake,
};

/// Extension type numbers used here.
pub(crate) mod ext {
    /// server_name (SNI).
    pub const SERVER_NAME: u16 = 0x0000;
    /// application_layer_protocol_negotiation.
    pub const ALPN: u16 = 0x0010;
}

/// True for the 16 GREASE values (RFC 8701): `0x?a?a` with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Why a hello could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HelloError {
    /// The ClientHello body is malformed or truncated.
    #[error("malformed ClientHello")]
    ClientHello,
    /// The ServerHello body is malformed, truncated or of an unknown version.
    #[error("malformed ServerHello")]
    ServerHello,
}

/// What a ClientHello offers, as the events and fingerprints need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The legacy `client_version` field (`0x0303` for TLS 1.2 and 1.3).
    pub version: u16,
    /// The session id (empty when none).
    pub session_id: Vec<u8>,
    /// Cipher suites, in order, GREASE included.
    pub ciphers: Vec<u16>,
    /// Extension types, in order, GREASE included.
    pub extensions: Vec<u16>,
    /// The first host_name of the server_name extension.
    pub sni: Option<Vec<u8>>,
    /// ALPN protocol names, in order.
    pub alpns: Vec<Vec<u8>>,
    /// supported_versions values, in order, GREASE included.
    pub supported_versions: Vec<u16>,
    /// supported_groups values, in order, GREASE included.
    pub groups: Vec<u16>,
    /// ec_point_formats values, in order.
    pub point_formats: Vec<u8>,
    /// signature_algorithms values, in order, GREASE included.
    pub signature_algorithms: Vec<u16>,
}

impl ClientHello {
    /// Parses a ClientHello handshake body.
    pub fn parse(body: &[u8]) -> Result<Self, HelloError> {
        let (_, ch) =
            parse_tls_handshake_client_hello(body).map_err(|_| HelloError::ClientHello)?;
        let mut out = ClientHello {
            version: ch.version.0,
            session_id: ch.session_id.map(<[u8]>::to_vec).unwrap_or_default(),
            ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
            ..ClientHello::default()
        };
        for (ty, tlv) in Tlvs(ch.ext.unwrap_or_default()) {
            out.extensions.push(ty);
            let Ok((_, e)) = parse_tls_client_hello_extension(tlv) else {
                continue;
            };
            match e {
                TlsExtension::SNI(names) if out.sni.is_none() => {
                    out.sni = names
                        .iter()
                        .find(|(t, _)| *t == SNIType::HostName)
                        .map(|(_, n)| n.to_vec());
                }
                TlsExtension::ALPN(list) if out.alpns.is_empty() => {
                    out.alpns = list.iter().map(|p| p.to_vec()).collect();
                }
                TlsExtension::SupportedVersions(v) if out.supported_versions.is_empty() => {
                    out.supported_versions = v.iter().map(|v| v.0).collect();
                }
                TlsExtension::EllipticCurves(g) if out.groups.is_empty() => {
                    out.groups = g.iter().map(|g| g.0).collect();
                }
                TlsExtension::EcPointFormats(p) if out.point_formats.is_empty() => {
                    out.point_formats = p.to_vec();
                }
                TlsExtension::SignatureAlgorithms(s) if out.signature_algorithms.is_empty() => {
                    out.signature_algorithms = s;
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The SNI as text (invalid UTF-8 replaced), as EVE writes it.
    pub fn sni_str(&self) -> Option<String> {
        self.sni
            .as_deref()
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }
}

/// What a ServerHello chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// The legacy `server_version` field.
    pub legacy_version: u16,
    /// The negotiated version: supported_versions when present (TLS 1.3), else the
    /// legacy field.
    pub version: u16,
    /// The session id echoed (empty when none).
    pub session_id: Vec<u8>,
    /// The chosen cipher suite.
    pub cipher: u16,
    /// Extension types, in order, GREASE included.
    pub extensions: Vec<u16>,
    /// The ALPN protocol the server chose (TLS ≤ 1.2: in clear in the ServerHello).
    pub alpn: Option<Vec<u8>>,
}

impl ServerHello {
    /// Parses a ServerHello handshake body (TLS 1.0 to 1.3, and 1.3 draft 18).
    pub fn parse(body: &[u8]) -> Result<Self, HelloError> {
        let (_, msg) =
            parse_tls_handshake_msg_server_hello(body).map_err(|_| HelloError::ServerHello)?;
        let (version, session_id, cipher, exts) = match msg {
            TlsMessageHandshake::ServerHello(sh) => (
                sh.version.0,
                sh.session_id.map(<[u8]>::to_vec).unwrap_or_default(),
                sh.cipher.0,
                sh.ext,
            ),
            TlsMessageHandshake::ServerHelloV13Draft18(sh) => {
                (sh.version.0, Vec::new(), sh.cipher.0, sh.ext)
            }
            _ => return Err(HelloError::ServerHello),
        };
        let mut out = ServerHello {
            legacy_version: version,
            version,
            session_id,
            cipher,
            ..ServerHello::default()
        };
        for (ty, tlv) in Tlvs(exts.unwrap_or_default()) {
            out.extensions.push(ty);
            let Ok((_, e)) = parse_tls_server_hello_extension(tlv) else {
                continue;
            };
            match e {
                TlsExtension::SupportedVersions(v) => {
                    if let Some(v) = v.first() {
                        out.version = v.0;
                    }
                }
                TlsExtension::ALPN(list) => {
                    out.alpn = list.first().map(|p| p.to_vec());
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// True when the negotiated version is TLS 1.3 (or one of its drafts), whose
    /// later handshake messages are encrypted.
    pub fn is_tls13(&self) -> bool {
        self.version == 0x0304 || matches!(self.version >> 8, 0x7f | 0xfb)
    }
}

/// Walks an extension block: yields `(type, whole TLV)` until the block ends or a
/// length overruns it (the rest is ignored).
struct Tlvs<'a>(&'a [u8]);

impl<'a> Iterator for Tlvs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.0;
        let (&[t0, t1, l0, l1], _) = b.split_first_chunk::<4>()?;
        let len = 4 + usize::from(u16::from_be_bytes([l0, l1]));
        let tlv = b.get(..len)?;
        self.0 = b.get(len..).unwrap_or_default();
        Some((u16::from_be_bytes([t0, t1]), tlv))
    }
}

/// The name Suricata's QUIC logger gives an extension type.
pub fn extension_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0 => "server_name",
        1 => "max_fragment_length",
        2 => "client_certificate_url",
        3 => "trusted_ca_keys",
        4 => "truncated_hmac",
        5 => "status_request",
        6 => "user_mapping",
        7 => "client_authz",
        8 => "server_authz",
        9 => "cert_type",
        10 => "supported_groups",
        11 => "ec_point_formats",
        12 => "srp",
        13 => "signature_algorithms",
        14 => "use_srtp",
        15 => "heartbeat",
        16 => "alpn",
        17 => "status_request_v2",
        18 => "signed_certificate_timestamp",
        19 => "client_certificate_type",
        20 => "server_certificate_type",
        21 => "padding",
        22 => "encrypt_then_mac",
        23 => "extended_master_secret",
        24 => "token_binding",
        25 => "cached_info",
        26 => "tls_lts",
        27 => "compress_certificate",
        28 => "record_size_limit",
        29 => "pwd_protect",
        30 => "pwd_clear",
        31 => "password_salt",
        32 => "ticket_pinning",
        33 => "tls_cert_with_extern_psk",
        34 => "delegated_credentials",
        35 => "session_ticket",
        36 => "tlmsp",
        37 => "tlmsp_proxying",
        38 => "tlmsp_delegate",
        39 => "supported_ekt_ciphers",
        41 => "pre_shared_key",
        42 => "early_data",
        43 => "supported_versions",
        44 => "cookie",
        45 => "psk_key_exchange_modes",
        47 => "certificate_authorities",
        48 => "oid_filters",
        49 => "post_handshake_auth",
        50 => "signature_algorithms_cert",
        51 => "key_share",
        52 => "transparency_info",
        53 => "connection_id_deprecated",
        54 => "connection_id",
        55 => "external_id_hash",
        56 => "external_session_id",
        57 => "quic_transport_parameters",
        58 => "ticket_request",
        59 => "dnssec_chain",
        13172 => "next_protocol_negotiation",
        65281 => "renegotiation_info",
        _ => return None,
    })
}

/// Version text as Suricata's `SSLVersionToString` writes it for `tls.version` (a
/// version it does not know as its decimal number).
pub fn version_string(v: u16) -> String {
    version_name(v).map_or_else(|| v.to_string(), str::to_owned)
}

/// Whether `v` is a version Suricata's `TLSVersionValid` knows (SSLv3 and later, the
/// TLS 1.3 drafts it names; not SSLv2, not 0).
pub fn version_valid(v: u16) -> bool {
    v != 0 && v != 0x0200 && version_name(v).is_some()
}

/// The name of a version Suricata knows (its `SCTlsVersion` table).
fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0 => "UNDETERMINED",
        0x0200 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0x7f1c => "TLS 1.3 draft-28",
        0x7f1b => "TLS 1.3 draft-27",
        0x7f1a => "TLS 1.3 draft-26",
        0x7f19 => "TLS 1.3 draft-25",
        0x7f18 => "TLS 1.3 draft-24",
        0x7f17 => "TLS 1.3 draft-23",
        0x7f16 => "TLS 1.3 draft-22",
        0x7f15 => "TLS 1.3 draft-21",
        0x7f14 => "TLS 1.3 draft-20",
        0x7f13 => "TLS 1.3 draft-19",
        0x7f12 => "TLS 1.3 draft-18",
        0x7f11 => "TLS 1.3 draft-17",
        0x7f10 => "TLS 1.3 draft-16",
        0x7f01 => "TLS 1.3 draft-<16",
        0xfb14 => "TLS 1.3 draft-20-fb",
        0xfb15 => "TLS 1.3 draft-21-fb",
        0xfb16 => "TLS 1.3 draft-22-fb",
        0xfb17 => "TLS 1.3 draft-23-fb",
        0xfb1a => "TLS 1.3 draft-26-fb",
        _ => return None,
    })
}
