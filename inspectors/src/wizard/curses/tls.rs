//! The TLS curse: a TLS record holding the start of a ClientHello or ServerHello
//! (record type, record version, record length, handshake type and length, hello
//! version), an SSLv2-compatible ClientHello, or, for flows picked up midstream, a
//! ChangeCipherSpec, alert or application-data record with a sane header.
//!
//! Contract: reads at most the first 11 bytes (SSLv2: 11); answers as every curse.

use super::{arr, be16, ensure, hit, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// The largest TLS record (2^14 plus the most expansion TLS 1.2 allows).
const MAX_RECORD: u16 = 16384 + 2048;

/// Names TLS.
pub(crate) fn tls(d: &[u8], _ctx: &Ctx) -> Cast {
    match u8_at(d, 0)? {
        0x16 => handshake(d),
        0x14 | 0x15 | 0x17 => other_record(d),
        0x80..=0xff => sslv2_client_hello(d),
        _ => Err(Miss::No),
    }
}

/// First bytes of a TLS record or SSLv2 hello.
pub(crate) fn tls_first(b: u8) -> bool {
    matches!(b, 0x14..=0x17) || b >= 0x80
}

/// A record version or hello version: SSL 3.0 to TLS 1.3's 3.4.
fn version_ok(major: u8, minor: u8) -> bool {
    major == 3 && minor <= 4
}

fn handshake(d: &[u8]) -> Cast {
    ensure(version_ok(u8_at(d, 1)?, u8_at(d, 2)?))?;
    let len = be16(d, 3)?;
    ensure((4..=MAX_RECORD).contains(&len))?;
    let side = match u8_at(d, 5)? {
        1 => Side::Client,
        2 => Side::Server,
        _ => return Err(Miss::No),
    };
    let [a, b, c] = arr::<3>(d, 6)?;
    let hs_len = u32::from_be_bytes([0, a, b, c]);
    // the shortest ServerHello body is 38 bytes; a hello may span records
    ensure((38..=1 << 18).contains(&hs_len))?;
    ensure(version_ok(u8_at(d, 9)?, u8_at(d, 10)?))?;
    hit("tls", side)
}

fn other_record(d: &[u8]) -> Cast {
    let kind = u8_at(d, 0)?;
    ensure(u8_at(d, 1)? == 3)?;
    ensure(u8_at(d, 2)? <= 3)?;
    let len = be16(d, 3)?;
    match kind {
        // ChangeCipherSpec: one byte, 1
        0x14 => {
            ensure(len == 1)?;
            ensure(u8_at(d, 5)? == 1)?;
        }
        // alert: level and description in clear, or encrypted: from 18 bytes (an
        // AEAD tag and the two bytes) to 80 (a CBC cipher's 16-byte IV, a SHA-384
        // MAC and one block of padding)
        0x15 => {
            if len == 2 {
                ensure(matches!(u8_at(d, 5)?, 1 | 2))?;
            } else {
                ensure((18..=80).contains(&len))?;
            }
        }
        _ => ensure((1..=MAX_RECORD).contains(&len))?,
    }
    hit("tls", Side::Either)
}

fn sslv2_client_hello(d: &[u8]) -> Cast {
    let len = u32::from(u8_at(d, 0)? & 0x7f) << 8 | u32::from(u8_at(d, 1)?);
    ensure(u8_at(d, 2)? == 1)?;
    let version = be16(d, 3)?;
    ensure(version == 0x0002 || (0x0300..=0x0303).contains(&version))?;
    let ciphers = u32::from(be16(d, 5)?);
    let session = u32::from(be16(d, 7)?);
    let challenge = u32::from(be16(d, 9)?);
    ensure(ciphers > 0 && ciphers % 3 == 0)?;
    ensure(session == 0 || session == 16)?;
    ensure((16..=32).contains(&challenge))?;
    ensure(9 + ciphers + session + challenge == len)?;
    hit("tls", Side::Client)
}
