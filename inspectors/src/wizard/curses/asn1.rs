//! ASN.1 (BER) curses: Kerberos 5 (over UDP, and over TCP behind its 4-byte record
//! length), LDAP and CLDAP, SNMP.
//!
//! Contract: BER lengths are definite, at most 4 length bytes; every inner length must
//! fit inside the outer one, and over UDP the outer element must fill the datagram
//! exactly. Nothing is decoded past the few fields that identify the message.

use super::{be32, ensure, hit, lit, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// A definite BER length at `at`: (length, bytes the length took); at most 16 MiB.
pub(crate) fn ber_len(d: &[u8], at: usize) -> Result<(usize, usize), Miss> {
    let b = u8_at(d, at)?;
    if b < 0x80 {
        return Ok((usize::from(b), 1));
    }
    let n = usize::from(b & 0x7f);
    ensure((1..=4).contains(&n))?;
    let mut v = 0usize;
    for k in 0..n {
        v = v << 8 | usize::from(u8_at(d, at + 1 + k)?);
    }
    // no message the wizard names is anywhere near 16 MiB; this also keeps sums small
    ensure(v <= 1 << 24)?;
    Ok((v, 1 + n))
}

/// The element with `tag` at `at`: (where its content starts, its length).
pub(crate) fn tlv(d: &[u8], at: usize, tag: u8) -> Result<(usize, usize), Miss> {
    ensure(u8_at(d, at)? == tag)?;
    let (len, n) = ber_len(d, at + 1)?;
    Ok((at + 1 + n, len))
}

/// A Kerberos message as one UDP datagram.
pub(crate) fn krb5_udp(d: &[u8], _ctx: &Ctx) -> Cast {
    krb5_message(d, d.len())
}

/// A Kerberos message over TCP: 4-byte record length (top bit reserved, 0), then it.
pub(crate) fn krb5_tcp(d: &[u8], _ctx: &Ctx) -> Cast {
    let len = be32(d, 0)?;
    ensure(len & 0x8000_0000 == 0 && (16..=1 << 20).contains(&len))?;
    krb5_message(d.get(4..).unwrap_or_default(), len as usize)
}

/// First bytes of a Kerberos message: its application tag.
pub(crate) fn krb5_first(b: u8) -> bool {
    matches!(b, 0x6a..=0x6f | 0x7e)
}

/// `[APPLICATION n] SEQUENCE { pvno 5, msg-type n, ... }` filling `total` bytes.
fn krb5_message(m: &[u8], total: usize) -> Cast {
    // (message type, the sender, request layout: pvno is [1] in KDC-REQ, [0] elsewhere)
    let (kind, side, request) = match u8_at(m, 0)? {
        0x6a => (10, Side::Client, true),  // AS-REQ
        0x6b => (11, Side::Server, false), // AS-REP
        0x6c => (12, Side::Client, true),  // TGS-REQ
        0x6d => (13, Side::Server, false), // TGS-REP
        0x6e => (14, Side::Client, false), // AP-REQ
        0x6f => (15, Side::Server, false), // AP-REP
        0x7e => (30, Side::Server, false), // KRB-ERROR
        _ => return Err(Miss::No),
    };
    let (c, len) = ber_len(m, 1).map(|(len, n)| (1 + n, len))?;
    ensure(c + len == total)?;
    let (s, slen) = tlv(m, c, 0x30)?;
    ensure(s + slen <= total)?;
    let (pvno, mtype) = if request { (0xa1, 0xa2) } else { (0xa0, 0xa1) };
    lit(m, s, &[pvno, 0x03, 0x02, 0x01, 0x05])?;
    lit(m, s + 5, &[mtype, 0x03, 0x02, 0x01, kind])?;
    hit("krb5", side)
}

/// An LDAP message (TCP), or a CLDAP one filling its datagram (UDP):
/// `SEQUENCE { messageID INTEGER, protocolOp [APPLICATION n] ... }`, with the first
/// field of the operation checked (a bind's version, a result's resultCode, a DN).
pub(crate) fn ldap(d: &[u8], ctx: &Ctx) -> Cast {
    let (c, len) = tlv(d, 0, 0x30)?;
    let end = c + len;
    ensure(len >= 5)?;
    if ctx.udp {
        ensure(end == d.len())?;
    }
    let (id, id_len) = tlv(d, c, 0x02)?;
    ensure((1..=4).contains(&id_len))?;
    let at = id + id_len;
    let op = u8_at(d, at)?;
    // (sender, what the operation's content starts with)
    let (side, starts): (Side, &[u8]) = match op {
        0x60 => (Side::Client, &[0x02, 0x01]), // bindRequest: version
        0x63 | 0x66 | 0x68 | 0x6c | 0x6e => (Side::Client, &[0x04]), // search/modify/add/modDN/compare: a DN
        0x42 | 0x4a | 0x50 => (Side::Client, &[]),                   // unbind, del, abandon
        0x77 => (Side::Client, &[0x80]),                             // extendedReq: requestName
        0x61 | 0x65 | 0x67 | 0x69 | 0x6b | 0x6d | 0x6f | 0x78 => (Side::Server, &[0x0a, 0x01]), // resultCode
        0x64 | 0x73 => (Side::Server, &[0x04]), // searchResEntry, searchResRef
        0x79 => (Side::Server, &[]),            // intermediateResponse
        _ => return Err(Miss::No),
    };
    let (oc, olen) = ber_len(d, at + 1).map(|(l, n)| (at + 1 + n, l))?;
    ensure(oc + olen <= end)?;
    if op == 0x42 {
        ensure(olen == 0)?;
    }
    lit(d, oc, starts)?;
    if op == 0x60 {
        ensure(matches!(u8_at(d, oc + 2)?, 2 | 3))?;
    }
    hit("ldap", side)
}

/// An SNMP message filling its datagram: `SEQUENCE { version 0|1|3, ... }`; v1/v2c
/// with an OCTET STRING community and a PDU (requests and notifications are the
/// client's, responses and reports the server's); v3 with its header sequence.
pub(crate) fn snmp(d: &[u8], ctx: &Ctx) -> Cast {
    let (c, len) = tlv(d, 0, 0x30)?;
    let end = c + len;
    if ctx.udp {
        ensure(end == d.len())?;
    }
    lit(d, c, &[0x02, 0x01])?;
    match u8_at(d, c + 2)? {
        0 | 1 => {
            let (cc, clen) = tlv(d, c + 3, 0x04)?;
            ensure(clen <= 255)?;
            let pdu = cc + clen;
            let side = match u8_at(d, pdu)? {
                0xa0 | 0xa1 | 0xa3 | 0xa4 | 0xa5 | 0xa6 | 0xa7 => Side::Client,
                0xa2 | 0xa8 => Side::Server,
                _ => return Err(Miss::No),
            };
            let (pc, plen) = ber_len(d, pdu + 1).map(|(l, n)| (pdu + 1 + n, l))?;
            ensure(pc + plen <= end)?;
            hit("snmp", side)
        }
        3 => {
            let (g, glen) = tlv(d, c + 3, 0x30)?;
            ensure(g + glen <= end)?;
            lit(d, g, &[0x02])?;
            hit("snmp", Side::Either)
        }
        _ => Err(Miss::No),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_lengths_short_long_and_refused() {
        assert_eq!(ber_len(&[0x05], 0), Ok((5, 1)));
        assert_eq!(ber_len(&[0x82, 0x01, 0x00], 0), Ok((256, 3)));
        assert_eq!(ber_len(&[0x82, 0x01], 0), Err(Miss::More));
        assert_eq!(ber_len(&[0x80], 0), Err(Miss::No)); // indefinite
        assert_eq!(ber_len(&[0x85, 0, 0, 0, 0, 0], 0), Err(Miss::No));
    }
}
