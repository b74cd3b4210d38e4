//! JA4: the FoxIO TLS client fingerprint (`t13d1516h2_8daaf6152771_e5627efa2ab1`).
//!
//! Contract: [`ja4`] follows the FoxIO specification (technical_details/JA4.md of the
//! FoxIO-LLC/ja4 repository): GREASE values are ignored everywhere; the version is the
//! highest supported_versions value, else the ClientHello's legacy version; `d`/`i` for
//! SNI present or not; cipher and extension counts capped at 99; the first and last
//! characters of the first ALPN value (hex digits instead when either byte is not
//! alphanumeric, `00` without ALPN); then the first 12 hex digits of the SHA-256 of the
//! sorted cipher list, and of the sorted extension list (SNI and ALPN left out)
//! followed by `_` and the signature algorithms in their order (no `_` without
//! them); an empty list gives `000000000000`. Pure; allocates the result only.

use super::hello::{ext, is_grease, ClientHello};
use super::ja3::hex;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Where the ClientHello travelled: the first character of JA4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ja4Transport {
    /// TLS over TCP: `t`.
    Tcp,
    /// QUIC: `q`.
    Quic,
}

/// The JA4 fingerprint of a ClientHello.
pub fn ja4(ch: &ClientHello, transport: Ja4Transport) -> String {
    let mut out = String::with_capacity(36);
    out.push(match transport {
        Ja4Transport::Tcp => 't',
        Ja4Transport::Quic => 'q',
    });
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(ch.version);
    out.push_str(match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    });
    out.push(if ch.extensions.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    });
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let _ = write!(out, "{:02}{:02}", ciphers.len().min(99), exts.len().min(99));
    alpn_chars(&mut out, ch.alpns.first().map(Vec::as_slice));

    out.push('_');
    ciphers.sort_unstable();
    let mut list = String::with_capacity(ciphers.len() * 5);
    join_hex(&mut list, &ciphers);
    push_hash12(&mut out, &list);

    out.push('_');
    let mut sorted: Vec<u16> = exts
        .into_iter()
        .filter(|e| *e != ext::SERVER_NAME && *e != ext::ALPN)
        .collect();
    sorted.sort_unstable();
    if sorted.is_empty() {
        out.push_str("000000000000");
        return out;
    }
    list.clear();
    join_hex(&mut list, &sorted);
    let sigs: Vec<u16> = ch
        .signature_algorithms
        .iter()
        .copied()
        .filter(|s| !is_grease(*s))
        .collect();
    if !sigs.is_empty() {
        list.push('_');
        join_hex(&mut list, &sigs);
    }
    push_hash12(&mut out, &list);
    out
}

/// The two ALPN characters of JA4_a.
fn alpn_chars(out: &mut String, first: Option<&[u8]>) {
    let Some((&a, rest)) = first.and_then(<[u8]>::split_first) else {
        out.push_str("00");
        return;
    };
    let z = rest.last().copied().unwrap_or(a);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        out.push(char::from(a));
        out.push(char::from(z));
    } else {
        // First and last characters of the hex form of the whole value.
        let hex_digit = |n: u8| char::from(b"0123456789abcdef"[usize::from(n & 0x0f)]);
        out.push(hex_digit(a >> 4));
        out.push(hex_digit(z));
    }
}

fn join_hex(s: &mut String, values: &[u16]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
}

fn push_hash12(out: &mut String, list: &str) {
    if list.is_empty() {
        out.push_str("000000000000");
        return;
    }
    let digest = Sha256::digest(list.as_bytes());
    out.push_str(&hex(&digest[..6]));
}
