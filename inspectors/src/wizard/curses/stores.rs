//! Database and broker curses: PostgreSQL (startup, SSL/GSS-encryption and cancel
//! requests), MySQL (the server's greeting), Redis (a RESP command array), MQTT
//! (CONNECT anywhere; any control packet on the MQTT port).
//!
//! Contract: reads at most the first message's header and a bounded name or version
//! string; answers as every curse.

use super::{arr, be16, be32, ensure, hit, lit, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// PostgreSQL's special request codes.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// A PostgreSQL client's first message: a startup message for protocol 3.0 to 3.2
/// (length, version, then parameters that fill it exactly), or an SSL, GSS-encryption
/// or cancel request.
pub(crate) fn pgsql(d: &[u8], _ctx: &Ctx) -> Cast {
    let len = be32(d, 0)?;
    match be32(d, 4)? {
        SSL_REQUEST | GSSENC_REQUEST => ensure(len == 8)?,
        CANCEL_REQUEST => ensure(len == 16)?,
        0x0003_0000..=0x0003_0002 => {
            ensure(len > 8 && len <= 10_000)?;
            startup_parameters(d, len as usize)?;
        }
        _ => return Err(Miss::No),
    }
    hit("pgsql", Side::Client)
}

/// The parameters of a startup message of `len` bytes: pairs of NUL-ended strings,
/// each name lowercase letters, digits, `_` and `.` (`user`, `database`,
/// `_pq_.name`, ...), then one more NUL as its last byte. A Kafka request whose API
/// key and version read as protocol 3.x fails here.
fn startup_parameters(d: &[u8], len: usize) -> Result<(), Miss> {
    let mut i = 8;
    loop {
        ensure(i < len)?;
        if u8_at(d, i)? == 0 {
            return ensure(i + 1 == len);
        }
        // the name
        loop {
            let b = u8_at(d, i)?;
            if b == 0 {
                break;
            }
            ensure(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')?;
            i += 1;
            ensure(i < len)?;
        }
        i += 1;
        // the value
        ensure(i < len)?;
        while u8_at(d, i)? != 0 {
            i += 1;
            ensure(i < len)?;
        }
        i += 1;
    }
}

/// First byte of a PostgreSQL length (messages are far below 16 MiB).
pub(crate) fn pgsql_first(b: u8) -> bool {
    b == 0
}

/// A MySQL server greeting: 3-byte length, sequence 0, protocol 10, a printable
/// version string that starts with a digit (at most 64 bytes, NUL-ended), a thread id,
/// 8 bytes of scramble and a zero filler, all inside the packet.
pub(crate) fn mysql(d: &[u8], _ctx: &Ctx) -> Cast {
    let [a, b, c] = arr::<3>(d, 0)?;
    let len = usize::from(a) | usize::from(b) << 8 | usize::from(c) << 16;
    ensure((30..=1024).contains(&len))?;
    ensure(u8_at(d, 3)? == 0)?;
    ensure(u8_at(d, 4)? == 10)?;
    ensure(u8_at(d, 5)?.is_ascii_digit())?;
    let mut i = 6;
    loop {
        let b = u8_at(d, i)?;
        if b == 0 {
            break;
        }
        ensure(i < 5 + 64 && (0x20..0x7f).contains(&b))?;
        i += 1;
    }
    // NUL, thread id (4), scramble (8), then the filler
    let filler = i + 13;
    ensure(filler < 4 + len)?;
    ensure(u8_at(d, filler)? == 0)?;
    hit("mysql", Side::Server)
}

/// Reads `digits\r\n` at `at` (1 to `max` digits): (value, offset after the CRLF).
fn decimal(d: &[u8], at: usize, max: usize) -> Result<(u64, usize), Miss> {
    let mut v = 0u64;
    let mut i = at;
    loop {
        let b = u8_at(d, i)?;
        if b == b'\r' {
            ensure(i > at)?;
            lit(d, i + 1, b"\n")?;
            return Ok((v, i + 2));
        }
        ensure(b.is_ascii_digit() && i - at < max)?;
        v = v * 10 + u64::from(b - b'0');
        i += 1;
    }
}

/// A Redis client's RESP command: `*N\r\n$M\r\n` and a command name.
pub(crate) fn redis(d: &[u8], _ctx: &Ctx) -> Cast {
    lit(d, 0, b"*")?;
    let (n, i) = decimal(d, 1, 7)?;
    ensure((1..=1 << 20).contains(&n))?;
    lit(d, i, b"$")?;
    let (len, j) = decimal(d, i + 1, 3)?;
    ensure((1..=64).contains(&len))?;
    ensure(u8_at(d, j)?.is_ascii_alphabetic())?;
    hit("redis", Side::Client)
}

/// Any MQTT control packet, judged by its fixed header: a known type with the flags
/// the specification fixes (PUBREL, SUBSCRIBE and UNSUBSCRIBE 0b0010, PUBLISH any QoS
/// but 3, the others 0), a remaining length of 1 to 4 bytes, and the sizes fixed
/// packets must have (acknowledgements at least 2 bytes, pings none); a CONNECT must
/// pass [`mqtt`]. The rule holds only on port 1883, as Suricata's MQTT probe (both
/// directions, so mid-stream flows are named). CONNECT, SUBSCRIBE, UNSUBSCRIBE and
/// PINGREQ are the client's; CONNACK, SUBACK, UNSUBACK and PINGRESP the server's;
/// the others either's.
pub(crate) fn mqtt_packet(d: &[u8], ctx: &Ctx) -> Cast {
    let b0 = u8_at(d, 0)?;
    let (kind, flags) = (b0 >> 4, b0 & 0xf);
    if kind == 1 {
        return mqtt(d, ctx);
    }
    match kind {
        0 => return Err(Miss::No),
        3 => ensure(flags & 0x6 != 0x6)?,
        6 | 8 | 10 => ensure(flags == 2)?,
        _ => ensure(flags == 0)?,
    }
    let mut remaining = 0u32;
    for k in 0..4 {
        let b = u8_at(d, 1 + k)?;
        remaining |= u32::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            break;
        }
        ensure(k < 3)?;
    }
    match kind {
        2 | 4..=7 | 9 | 11 => ensure(remaining >= 2)?,
        8 | 10 => ensure(remaining >= 3)?,
        12 | 13 => ensure(remaining == 0)?,
        _ => {}
    }
    let side = match kind {
        8 | 10 | 12 => Side::Client,
        2 | 9 | 11 | 13 => Side::Server,
        _ => Side::Either,
    };
    hit("mqtt", side)
}

/// An MQTT CONNECT: fixed header 0x10, remaining length (1 to 4 bytes), protocol name
/// `MQTT` with level 4 or 5, or `MQIsdp` with level 3, and a reserved flag of 0.
pub(crate) fn mqtt(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? == 0x10)?;
    let mut remaining = 0u32;
    let mut at = 0;
    for k in 0..4 {
        let b = u8_at(d, 1 + k)?;
        remaining |= u32::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            at = 2 + k;
            break;
        }
        ensure(k < 3)?;
    }
    ensure(remaining >= 10)?;
    let flags_at = match be16(d, at)? {
        4 => {
            lit(d, at + 2, b"MQTT")?;
            ensure(matches!(u8_at(d, at + 6)?, 4 | 5))?;
            at + 7
        }
        6 => {
            lit(d, at + 2, b"MQIsdp")?;
            ensure(u8_at(d, at + 8)? == 3)?;
            at + 9
        }
        _ => return Err(Miss::No),
    };
    ensure(u8_at(d, flags_at)? & 1 == 0)?;
    hit("mqtt", Side::Client)
}
