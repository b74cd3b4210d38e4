//! The DNS curse: a DNS message over UDP, or over TCP behind its 2-byte length.
//!
//! Contract: checks the header (opcode, Z bit, response code, a query's TC/RA bits,
//! at most 8 questions, and counts that fit the message length: each question takes at
//! least 5 bytes and each record 11) and parses the first question (labels of at most
//! 63 bytes, a name of at most 255, at most 128 labels, a compression pointer only
//! backwards, a non-zero type and a known class). A message without a question (an
//! inverse query, a bare error response) is judged by its header alone, as Suricata's
//! DNS probe does: the rules that use this curse hold only on port 53. A query is the
//! client's, a response the server's.

use super::{be16, ensure, hit, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// A DNS message as one UDP datagram.
pub(crate) fn dns_udp(d: &[u8], _ctx: &Ctx) -> Cast {
    message(d, d.len(), true)
}

/// A DNS message over TCP: 2-byte length, then the message.
pub(crate) fn dns_tcp(d: &[u8], _ctx: &Ctx) -> Cast {
    let len = usize::from(be16(d, 0)?);
    ensure(len >= 17)?;
    let body = d.get(2..).unwrap_or_default();
    let whole = body.len() >= len;
    message(body.get(..len).unwrap_or(body), len, whole)
}

/// `m` is the start of a message of `total` bytes (all of it when `whole`).
fn message(m: &[u8], total: usize, whole: bool) -> Cast {
    let r = header_and_question(m, total);
    match r {
        // a whole message that ends too early can never fit
        Err(Miss::More) if whole => Err(Miss::No),
        r => r,
    }
}

fn header_and_question(m: &[u8], total: usize) -> Cast {
    let flags = be16(m, 2)?;
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    ensure(matches!(opcode, 0 | 1 | 2 | 4 | 5))?;
    ensure(flags & 0x0040 == 0)?; // Z
    let rcode = flags & 0xf;
    if response {
        ensure(rcode <= 10)?;
    } else {
        ensure(rcode == 0 && flags & 0x0280 == 0)?; // a query is not truncated, has no RA
    }
    let qd = usize::from(be16(m, 4)?);
    ensure(qd <= 8)?;
    let records = usize::from(be16(m, 6)?) + usize::from(be16(m, 8)?) + usize::from(be16(m, 10)?);
    ensure(12 + 5 * qd + 11 * records <= total)?;
    let side = if response { Side::Server } else { Side::Client };
    if qd == 0 {
        return hit("dns", side);
    }
    let mut i = 12usize;
    let mut name_len = 0usize;
    let mut labels = 0u32;
    loop {
        let l = usize::from(u8_at(m, i)?);
        if l == 0 {
            i += 1;
            break;
        }
        if l & 0xc0 == 0xc0 {
            let ptr = (l & 0x3f) << 8 | usize::from(u8_at(m, i + 1)?);
            ensure((12..i).contains(&ptr))?;
            i += 2;
            break;
        }
        ensure(l <= 63)?;
        name_len += l + 1;
        labels += 1;
        ensure(name_len <= 255 && labels <= 128)?;
        u8_at(m, i + l)?; // the label is all there
        i += l + 1;
    }
    let qtype = be16(m, i)?;
    let qclass = be16(m, i + 2)? & 0x7fff; // mDNS unicast-response bit
    ensure(qtype != 0 && matches!(qclass, 1 | 3 | 4 | 254 | 255))?;
    ensure(i + 4 <= total)?;
    hit("dns", side)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Ctx = Ctx {
        udp: true,
        client_port: 5000,
        server_port: 53,
    };

    #[test]
    fn a_query_that_ends_inside_its_name_is_refused_over_udp() {
        let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        assert_eq!(dns_udp(q, &CTX).map(|h| h.side), Ok(Side::Client));
        assert_eq!(dns_udp(&q[..20], &CTX), Err(Miss::No));
        let mut tcp = vec![0, q.len() as u8];
        tcp.extend_from_slice(&q[..20]);
        assert_eq!(dns_tcp(&tcp, &CTX), Err(Miss::More));
    }

    #[test]
    fn a_message_without_a_question_is_judged_by_its_header() {
        // An error response with no question and trailing bytes (Suricata names it).
        let r = b"\x30\x40\x80\x81\x00\x00\x00\x00\x00\x00\x00\x00 send_";
        assert_eq!(dns_udp(r, &CTX).map(|h| h.side), Ok(Side::Server));
        // An inverse query: no question, one answer record.
        let mut iq = b"\x00\x07\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00".to_vec();
        iq.extend_from_slice(b"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\x0a\x00\x00\x01");
        assert_eq!(dns_udp(&iq, &CTX).map(|h| h.side), Ok(Side::Client));
        // Records that cannot fit, a truncated query, a bad opcode: still refused.
        assert_eq!(dns_udp(&iq[..20], &CTX), Err(Miss::No));
        let tc = b"\x30\x40\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        assert_eq!(dns_udp(tc, &CTX), Err(Miss::No));
        let op = b"\x30\x40\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        assert_eq!(dns_udp(op, &CTX), Err(Miss::No));
        // The header itself must be whole.
        assert!(dns_udp(&r[..10], &CTX).is_err());
    }

    #[test]
    fn a_forward_compression_pointer_is_refused() {
        let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x20\x00\x01\x00\x01";
        assert_eq!(dns_udp(q, &CTX), Err(Miss::No));
    }
}
