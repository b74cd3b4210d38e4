//! JA3 and JA3S: the Salesforce TLS fingerprints, as Suricata writes them
//! (`{"hash": md5 hex, "string": ...}`).
//!
//! Contract: the JA3 string is `version,ciphers,extensions,groups,point_formats` from a
//! ClientHello, each list decimal and `-`-joined, GREASE values (RFC 8701) left out of
//! ciphers, extensions and groups; the JA3S string is `version,cipher,extensions` from
//! a ServerHello. The hash is the lowercase hex MD5 of the string. Pure functions; they
//! allocate the returned strings only.

use super::hello::{is_grease, ClientHello, ServerHello};
use md5::{Digest, Md5};
use std::fmt::Write;

/// A JA3 or JA3S fingerprint: the string and its MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    /// Lowercase hex MD5 of `string`.
    pub hash: String,
    /// The fingerprint string.
    pub string: String,
}

impl Ja3 {
    fn from_string(string: String) -> Self {
        let digest = Md5::digest(string.as_bytes());
        Ja3 {
            hash: hex(&digest),
            string,
        }
    }

    /// The JA3 of a ClientHello.
    pub fn client(ch: &ClientHello) -> Self {
        let mut s = String::with_capacity(256);
        let _ = write!(s, "{},", ch.version);
        join_dec(
            &mut s,
            ch.ciphers.iter().copied().filter(|c| !is_grease(*c)),
        );
        s.push(',');
        join_dec(
            &mut s,
            ch.extensions.iter().copied().filter(|e| !is_grease(*e)),
        );
        s.push(',');
        join_dec(&mut s, ch.groups.iter().copied().filter(|g| !is_grease(*g)));
        s.push(',');
        join_dec(&mut s, ch.point_formats.iter().map(|p| u16::from(*p)));
        Ja3::from_string(s)
    }

    /// The JA3S of a ServerHello.
    pub fn server(sh: &ServerHello) -> Self {
        let mut s = String::with_capacity(64);
        let _ = write!(s, "{},{},", sh.legacy_version, sh.cipher);
        join_dec(
            &mut s,
            sh.extensions.iter().copied().filter(|e| !is_grease(*e)),
        );
        Ja3::from_string(s)
    }

    /// `{"hash": ..., "string": ...}` as Suricata's EVE writes it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "hash": self.hash, "string": self.string })
    }
}

fn join_dec(s: &mut String, values: impl Iterator<Item = u16>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{v}");
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
