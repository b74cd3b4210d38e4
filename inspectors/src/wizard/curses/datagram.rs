//! Datagram curses (UDP): DHCP, NTP, QUIC (long headers, and short headers as a last
//! resort on its port), STUN (RFC 5389 with its magic cookie, and classic RFC 3489),
//! IKE (and NAT-T's non-ESP marker), TFTP.
//!
//! Contract: the bytes are one whole datagram, so lengths must add up exactly; reads
//! fixed headers and bounded strings only; answers as every curse. (STUN with the
//! magic cookie is also used over TCP, where the length only has to be sane.)

use super::{arr, be16, be32, ensure, hit, lit, lit_ci, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// DHCP/BOOTP: op 1 (request, client) or 2 (reply, server), a sane hardware type,
/// address length and hop count, and the magic cookie 0x63825363 at offset 236.
pub(crate) fn dhcp(d: &[u8], _ctx: &Ctx) -> Cast {
    let side = match u8_at(d, 0)? {
        1 => Side::Client,
        2 => Side::Server,
        _ => return Err(Miss::No),
    };
    ensure((1..=32).contains(&u8_at(d, 1)?))?;
    ensure(u8_at(d, 2)? <= 16 && u8_at(d, 3)? <= 16)?;
    ensure(be32(d, 236)? == 0x6382_5363)?;
    hit("dhcp", side)
}

/// First bytes of DHCP.
pub(crate) fn dhcp_first(b: u8) -> bool {
    b == 1 || b == 2
}

/// NTP: version 1 to 4; modes 1-5 with a 48-byte header (plus 4-byte multiples of
/// extensions and MAC) and a stratum up to 16; mode 6 (control) and 7 (private) with
/// their own headers. A client request (mode 3) is the client's, a server reply
/// (mode 4) the server's; the response bit tells for modes 6 and 7.
pub(crate) fn ntp(d: &[u8], _ctx: &Ctx) -> Cast {
    let b0 = u8_at(d, 0)?;
    let version = (b0 >> 3) & 7;
    ensure((1..=4).contains(&version))?;
    let side = match b0 & 7 {
        mode @ 1..=5 => {
            ensure(d.len() >= 48 && (d.len() - 48) % 4 == 0)?;
            ensure(u8_at(d, 1)? <= 16)?;
            match mode {
                3 => Side::Client,
                4 => Side::Server,
                _ => Side::Either,
            }
        }
        6 => {
            ensure(d.len() >= 12)?;
            ensure(12 + usize::from(be16(d, 10)?) <= d.len())?;
            if u8_at(d, 1)? & 0x80 != 0 {
                Side::Server
            } else {
                Side::Client
            }
        }
        7 => {
            ensure(d.len() >= 8)?;
            if b0 & 0x80 != 0 {
                Side::Server
            } else {
                Side::Client
            }
        }
        _ => return Err(Miss::No),
    };
    hit("ntp", side)
}

/// A QUIC variable-length integer at `at`: (value, bytes it took).
fn varint(d: &[u8], at: usize) -> Result<(u64, usize), Miss> {
    let first = u8_at(d, at)?;
    let n = 1usize << (first >> 6);
    let mut v = u64::from(first & 0x3f);
    for k in 1..n {
        v = v << 8 | u64::from(u8_at(d, at + k)?);
    }
    Ok((v, n))
}

/// Google QUIC versions `Q0dd` and `T0dd`.
fn google_version(v: u32) -> bool {
    let [a, b, c, d] = v.to_be_bytes();
    (a == b'Q' || a == b'T') && b == b'0' && c.is_ascii_digit() && d.is_ascii_digit()
}

/// A version of the form `0x?a?a?a?a`, which RFC 9000 (15) reserves for forcing
/// version negotiation.
fn reserved_version(v: u32) -> bool {
    v & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// QUIC v1, v2, IETF drafts (0xff0000xx), Facebook's mvfst (0xfaceb001, 0xfaceb002,
/// 0xfaceb00e) and Google `Q0xx`/`T0xx`.
fn known_version(v: u32) -> bool {
    v == 0x0000_0001
        || v == 0x6b33_43cf
        || matches!(v, 0xface_b001 | 0xface_b002 | 0xface_b00e)
        || (v & 0xffff_ff00 == 0xff00_0000 && v != 0xff00_0000)
        || google_version(v)
}

/// QUIC: a long header with a known version (or a version negotiation listing
/// non-zero versions, one of them known or reserved), connection
/// ids of at most 20 bytes and, for IETF Initial/0-RTT/Handshake packets, a token and
/// payload length that fit the datagram; or a Google QUIC (up to Q043) public header
/// carrying its version (only clients send it); or a client's first datagram (at
/// least 1200 bytes) with a version of the form `0x?a?a?a?a`, which RFC 9000 (15)
/// reserves for forcing version negotiation: only the invariant header is checked.
/// Both sides send long headers, so only version negotiation (the server's), a
/// reserved version and gQUIC tell the side.
pub(crate) fn quic(d: &[u8], _ctx: &Ctx) -> Cast {
    let b0 = u8_at(d, 0)?;
    if b0 & 0x80 == 0 {
        // Google QUIC public header: no reserved bits, version flag and 8-byte CID
        ensure(b0 & 0xc0 == 0 && b0 & 0x09 == 0x09)?;
        let v = be32(d, 9)?;
        ensure(google_version(v) && v >> 24 == u32::from(b'Q'))?;
        return hit("quic", Side::Client);
    }
    let v = be32(d, 1)?;
    if v == 0 {
        let dcid = usize::from(u8_at(d, 5)?);
        ensure(dcid <= 20)?;
        let scid = usize::from(u8_at(d, 6 + dcid)?);
        ensure(scid <= 20)?;
        let list = d.get(7 + dcid + scid..).ok_or(Miss::No)?;
        ensure(!list.is_empty() && list.len() % 4 == 0)?;
        // the versions the server supports: none zero, one at least known or reserved
        let mut known = false;
        for v in list.chunks_exact(4) {
            let v = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            ensure(v != 0)?;
            known |= known_version(v) || reserved_version(v);
        }
        ensure(known)?;
        return hit("quic", Side::Server);
    }
    if reserved_version(v) {
        let dcid = usize::from(u8_at(d, 5)?);
        ensure(dcid <= 20)?;
        let scid = usize::from(u8_at(d, 6 + dcid)?);
        ensure(scid <= 20 && d.len() >= 1200)?;
        return hit("quic", Side::Client);
    }
    ensure(known_version(v))?;
    if google_version(v) && v < u32::from_be_bytes(*b"Q050") && v >> 24 == u32::from(b'Q') {
        // Q046: one byte of 4-bit connection id lengths (0, or 3 more than the nibble)
        let cil = u8_at(d, 5)?;
        let nib = |n: u8| if n == 0 { 0 } else { usize::from(n) + 3 };
        ensure(6 + nib(cil >> 4) + nib(cil & 0xf) <= d.len())?;
        return hit("quic", Side::Either);
    }
    ensure(b0 & 0x40 != 0)?; // fixed bit
    let dcid = usize::from(u8_at(d, 5)?);
    ensure(dcid <= 20)?;
    let scid_at = 6 + dcid;
    let scid = usize::from(u8_at(d, scid_at)?);
    ensure(scid <= 20)?;
    let mut at = scid_at + 1 + scid;
    let kind = (b0 >> 4) & 3;
    // v2 rotates the long packet types: Initial 1, 0-RTT 2, Handshake 3, Retry 0
    let (initial, retry) = if v == 0x6b33_43cf { (1, 0) } else { (0, 3) };
    if kind == retry {
        ensure(d.len() >= at + 16)?; // the integrity tag
        return hit("quic", Side::Either);
    }
    if kind == initial {
        let (token, n) = varint(d, at)?;
        at = at
            .checked_add(n)
            .and_then(|a| a.checked_add(usize::try_from(token).ok()?))
            .ok_or(Miss::No)?;
        ensure(at <= d.len())?;
    }
    let (len, n) = varint(d, at)?;
    ensure(len >= 20 && len <= d.len().saturating_sub(at + n) as u64)?;
    hit("quic", Side::Either)
}

/// First bytes of QUIC: a long header, or a gQUIC public header with a version.
pub(crate) fn quic_first(b: u8) -> bool {
    b & 0x80 != 0 || (b & 0xc0 == 0 && b & 0x09 == 0x09)
}

/// A QUIC short-header packet (RFC 9000, 17.3): header form 0 and the fixed bit set,
/// long enough for the header protection sample (a packet number of at least one byte
/// then 4 bytes of offset and a 16-byte sample, RFC 9001 5.4.2) even with an empty
/// connection id. Everything after the first byte is a connection id and ciphertext,
/// so this is what a flow picked up after its handshake looks like: the book tries it
/// only on port 443 and below every other rule, as Suricata's QUIC probe (which takes
/// any short header on its port) would name it. A DNS message there (resolvers such
/// as Avast's answer plain DNS on 443) is not taken: ciphertext does not parse as one.
pub(crate) fn quic_short(d: &[u8], ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? & 0xc0 == 0x40)?;
    ensure(d.len() >= 1 + 4 + 16)?;
    ensure(super::dns::dns_udp(d, ctx).is_err())?;
    hit("quic", Side::Either)
}

/// First bytes of a QUIC short header.
pub(crate) fn quic_short_first(b: u8) -> bool {
    b & 0xc0 == 0x40
}

/// The ports STUN and TURN servers listen on.
pub(crate) const STUN_PORTS: &[u16] = &[3478, 3479, 5349, 19302];

/// STUN's magic cookie.
const STUN_COOKIE: u32 = 0x2112_a442;

/// STUN (RFC 5389/8489): message type with the top two bits clear and a known method
/// (Binding to TURN's ConnectionAttempt), length a multiple of 4 (filling the datagram
/// over UDP; on the STUN ports any length, as MS-TURN sends), the magic cookie. Requests are the client's, responses the server's.
pub(crate) fn stun(d: &[u8], ctx: &Ctx) -> Cast {
    let t = be16(d, 0)?;
    ensure(t & 0xc000 == 0)?;
    let len = usize::from(be16(d, 2)?);
    // Microsoft's TURN (MS-TURN, Teams and Skype) leaves its messages unpadded: an
    // unaligned length is taken on the STUN/TURN ports only.
    ensure(len % 4 == 0 || ctx.port_in(STUN_PORTS))?;
    ensure(be32(d, 4)? == STUN_COOKIE)?;
    if ctx.udp {
        ensure(20 + len == d.len())?;
    }
    let method = (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2);
    ensure((1..=0x00c).contains(&method))?;
    let class = ((t >> 4) & 1) | ((t >> 7) & 2);
    let side = match class {
        0 => Side::Client,
        1 => Side::Either,
        _ => Side::Server,
    };
    hit("stun", side)
}

/// First bytes of STUN.
pub(crate) fn stun_first(b: u8) -> bool {
    b <= 1
}

/// Classic STUN (RFC 3489, no cookie): a Binding or Shared Secret request, response
/// or error, with a length filling the datagram. Weak: the book binds it to 3478/3479.
pub(crate) fn stun_classic(d: &[u8], _ctx: &Ctx) -> Cast {
    let side = match be16(d, 0)? {
        0x0001 | 0x0002 => Side::Client,
        0x0101 | 0x0111 | 0x0102 | 0x0112 => Side::Server,
        _ => return Err(Miss::No),
    };
    let len = usize::from(be16(d, 2)?);
    ensure(len % 4 == 0 && 20 + len == d.len())?;
    hit("stun", side)
}

/// Classic STUN (RFC 3489) anywhere: what [`stun_classic`] checks, plus at least one
/// attribute and attributes that fill the message exactly, each of a type RFC 3489 or
/// RFC 5389 defines, with the length its type requires (an address: family 1 with 4
/// bytes or 2 with 16; CHANGE-REQUEST: 4 bytes with only its two flags).
pub(crate) fn stun_classic_attributes(d: &[u8], ctx: &Ctx) -> Cast {
    let cast = stun_classic(d, ctx)?;
    ensure(d.len() > 20)?;
    let mut at = 20;
    while at < d.len() {
        let kind = be16(d, at)?;
        let len = usize::from(be16(d, at + 2)?);
        let value = d.get(at + 4..at + 4 + len).ok_or(Miss::No)?;
        match kind {
            // MAPPED, RESPONSE, SOURCE and CHANGED-ADDRESS, REFLECTED-FROM,
            // XOR-MAPPED-ADDRESS (and its pre-RFC 5389 number)
            0x0001 | 0x0002 | 0x0004 | 0x0005 | 0x000b | 0x0020 | 0x8020 => {
                ensure(value.first() == Some(&0))?;
                match value.get(1) {
                    Some(1) => ensure(len == 8)?,
                    Some(2) => ensure(len == 20)?,
                    _ => return Err(Miss::No),
                }
            }
            // CHANGE-REQUEST: the change-IP and change-port flags only
            0x0003 => ensure(len == 4 && be32(value, 0)? & !0x6 == 0)?,
            // USERNAME, PASSWORD, UNKNOWN-ATTRIBUTES, SOFTWARE: any bytes
            0x0006 | 0x0007 | 0x000a | 0x8022 => {}
            // MESSAGE-INTEGRITY (HMAC-SHA1)
            0x0008 => ensure(len == 20)?,
            // ERROR-CODE: class 3 to 6
            0x0009 => ensure(len >= 4 && (3..=6).contains(&(u8_at(value, 2)? & 7)))?,
            // FINGERPRINT
            0x8028 => ensure(len == 4)?,
            _ => return Err(Miss::No),
        }
        at += 4 + len.next_multiple_of(4);
    }
    ensure(at == d.len())?;
    Ok(cast)
}

/// An IKE header filling `total` bytes: non-zero initiator SPI, version 1.0 or 2.0, a
/// known exchange type and first payload, valid flags. IKEv2's response flag, or
/// IKEv1's zero responder SPI (the initiator's first message), tells the side.
fn ike_header(m: &[u8], total: usize) -> Cast {
    ensure(arr::<8>(m, 0)? != [0; 8])?;
    let responder_spi = arr::<8>(m, 8)?;
    let next = u8_at(m, 16)?;
    let version = u8_at(m, 17)?;
    let exchange = u8_at(m, 18)?;
    let flags = u8_at(m, 19)?;
    ensure(be32(m, 24)? as usize == total && total >= 28)?;
    let side = match version {
        0x10 => {
            ensure(next <= 13)?;
            ensure(matches!(exchange, 1..=6 | 32 | 33))?;
            ensure(flags & 0xf8 == 0)?;
            if responder_spi == [0; 8] {
                Side::Client
            } else {
                Side::Either
            }
        }
        0x20 => {
            ensure(next == 0 || (33..=54).contains(&next))?;
            ensure(matches!(exchange, 34..=38 | 43 | 44))?;
            ensure(flags & 0xc7 == 0)?;
            if flags & 0x20 != 0 {
                Side::Server
            } else {
                Side::Client
            }
        }
        _ => return Err(Miss::No),
    };
    hit("ike", side)
}

/// An IKE message as the whole datagram (port 500, or 4500 without the marker).
pub(crate) fn ike(d: &[u8], _ctx: &Ctx) -> Cast {
    ike_header(d, d.len())
}

/// IKE over NAT-T (port 4500): the 4 zero bytes of the non-ESP marker, then IKE.
pub(crate) fn ike_natt(d: &[u8], _ctx: &Ctx) -> Cast {
    lit(d, 0, &[0, 0, 0, 0])?;
    ike_header(d.get(4..).unwrap_or_default(), d.len().saturating_sub(4))
}

/// Transfer modes TFTP accepts (lowercase).
const TFTP_MODES: [&[u8]; 3] = [b"netascii", b"octet", b"mail"];

/// A TFTP read or write request: opcode 1 or 2, a printable file name of 1 to 512
/// bytes and a NUL, then a known mode and a NUL.
pub(crate) fn tftp(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(matches!(be16(d, 0)?, 1 | 2))?;
    let mut i = 2;
    loop {
        let b = u8_at(d, i)?;
        if b == 0 {
            ensure(i > 2)?;
            break;
        }
        ensure(i < 2 + 512 && (0x20..0x7f).contains(&b))?;
        i += 1;
    }
    i += 1;
    for mode in TFTP_MODES {
        if lit_ci(d, i, mode).is_ok() && u8_at(d, i + mode.len())? == 0 {
            return hit("tftp", Side::Client);
        }
    }
    Err(Miss::No)
}
