//! The DNS curse: a DNS message over UDP, or over TCP behind its 2-byte length.
//!
//! Contract: a message is DNS when Suricata's DNS probe would take it
//! ([`crate::dns::probe`]): a whole message must parse as the DNS inspector parses it
//! (header counts that fit its length, questions and answers that parse); of a TCP
//! message not yet whole, the header's counts must fit the length its prefix gives.
//! Opcode, flags, types and classes are not judged, as Suricata does not judge them:
//! the rules that use this curse hold only on port 53, where Suricata probes DNS. A
//! query (QR clear) is the client's, a response the server's. A datagram shorter than
//! a header is not DNS; over TCP, fewer than 14 bytes ask for more, as in Suricata.

use super::{be16, ensure, hit, Cast, Ctx, Miss};
use crate::dns;
use crate::wizard::Side;

/// A DNS header's length.
const HEADER_LEN: usize = 12;

/// A DNS message as one UDP datagram.
pub(crate) fn dns_udp(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(d.len() >= HEADER_LEN)?;
    side(dns::probe(d, d.len()))
}

/// An mDNS message: a datagram Suricata's DNS probe takes (the rule holds only on port
/// 5353, where Suricata probes mDNS). Whatever its QR bit, it is the client's: like
/// Suricata's mDNS probe, which always answers "to server", it never turns the flow
/// around when the flow's first datagram carries it.
pub(crate) fn mdns_udp(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(d.len() >= HEADER_LEN)?;
    match dns::probe(d, d.len()) {
        Some(_) => hit("mdns", Side::Client),
        None => Err(Miss::No),
    }
}

/// A DNS message over TCP: 2-byte length, then the message.
pub(crate) fn dns_tcp(d: &[u8], _ctx: &Ctx) -> Cast {
    let len = usize::from(be16(d, 0)?);
    if d.len() < 2 + HEADER_LEN {
        return Err(Miss::More);
    }
    side(dns::probe(&d[2..], len))
}

fn side(probe: Option<bool>) -> Cast {
    match probe {
        Some(true) => hit("dns", Side::Server),
        Some(false) => hit("dns", Side::Client),
        None => Err(Miss::No),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Ctx = Ctx {
        udp: true,
        client_port: 5000,
        server_port: 53,
    };

    const QUERY: &[u8] =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";

    fn tcp(prefix: usize, body: &[u8]) -> Vec<u8> {
        let mut v = (prefix as u16).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn a_whole_message_must_parse_and_a_partial_one_is_judged_by_its_header() {
        assert_eq!(dns_udp(QUERY, &CTX).map(|h| h.side), Ok(Side::Client));
        // A datagram is whole: one that ends inside its name is not DNS.
        assert_eq!(dns_udp(&QUERY[..20], &CTX), Err(Miss::No));
        // Over TCP the same bytes are the start of a longer message: the header's
        // counts fit the prefix's length, so Suricata names it at once.
        let partial = tcp(QUERY.len(), &QUERY[..20]);
        assert_eq!(dns_tcp(&partial, &CTX).map(|h| h.side), Ok(Side::Client));
        assert_eq!(
            dns_tcp(&tcp(QUERY.len(), QUERY), &CTX).map(|h| h.side),
            Ok(Side::Client)
        );
        // Counts that cannot fit the prefix's length, a whole message that does not
        // parse, a prefix of 0: not DNS. Fewer than 14 bytes: wait for more.
        let mut many = QUERY[..20].to_vec();
        many[7] = 40; // 40 answers cannot fit 29 bytes
        assert_eq!(dns_tcp(&tcp(QUERY.len(), &many), &CTX), Err(Miss::No));
        assert_eq!(dns_tcp(&tcp(20, &QUERY[..20]), &CTX), Err(Miss::No));
        assert_eq!(dns_tcp(&tcp(0, QUERY), &CTX), Err(Miss::No));
        assert_eq!(
            dns_tcp(&tcp(QUERY.len(), &QUERY[..11]), &CTX),
            Err(Miss::More)
        );
        assert!(dns_udp(&QUERY[..11], &CTX).is_err());
    }

    #[test]
    fn an_mdns_message_is_the_clients_whatever_its_qr_bit() {
        assert_eq!(mdns_udp(QUERY, &CTX).map(|h| h.service), Ok("mdns"));
        let mut r = QUERY.to_vec();
        r[2] |= 0x80;
        assert_eq!(mdns_udp(&r, &CTX).map(|h| h.side), Ok(Side::Client));
        assert_eq!(mdns_udp(&QUERY[..20], &CTX), Err(Miss::No));
        assert_eq!(mdns_udp(&QUERY[..11], &CTX), Err(Miss::No));
    }

    #[test]
    fn flags_opcodes_and_classes_are_not_judged() {
        // A query with RA and TC set, opcode 15, Z set, class 0, type 0: Suricata's
        // probe looks at none of them (a fuzzed capture's queries look like this).
        let mut q = QUERY.to_vec();
        q[2] = 0x7b;
        q[3] = 0xc0;
        let n = q.len();
        q[n - 4..].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(dns_udp(&q, &CTX).map(|h| h.side), Ok(Side::Client));
        // QR set: the server's, whoever sent it.
        q[2] |= 0x80;
        assert_eq!(dns_udp(&q, &CTX).map(|h| h.side), Ok(Side::Server));
        // Bytes after the last section are ignored.
        q.extend_from_slice(b"\x00junk");
        assert_eq!(dns_udp(&q, &CTX).map(|h| h.side), Ok(Side::Server));
    }

    #[test]
    fn header_counts_must_describe_the_message() {
        // A bare error response: the header alone, no records.
        let r = b"\x30\x40\x80\x81\x00\x00\x00\x00\x00\x00\x00\x00";
        assert_eq!(dns_udp(r, &CTX).map(|h| h.side), Ok(Side::Server));
        // No records but bytes after the header (Suricata 8 refuses it).
        let mut trailing = r.to_vec();
        trailing.extend_from_slice(b" send_");
        assert_eq!(dns_udp(&trailing, &CTX), Err(Miss::No));
        // A query without a question (an inverse query) is not a request.
        let mut iq = b"\x00\x07\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00".to_vec();
        iq.extend_from_slice(b"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\x0a\x00\x00\x01");
        assert_eq!(dns_udp(&iq, &CTX), Err(Miss::No));
        // The same records as a response parse.
        iq[2] |= 0x80;
        assert_eq!(dns_udp(&iq, &CTX).map(|h| h.side), Ok(Side::Server));
        // Counts the datagram cannot hold at 2 bytes a record (21 records, 29 bytes).
        let mut big = QUERY.to_vec();
        big[11] = 20;
        assert_eq!(dns_udp(&big, &CTX), Err(Miss::No));
        // 9 additionals fit that count: they do not parse and are left out, so the
        // query is still DNS, as Suricata's probe takes it.
        big[11] = 9;
        assert_eq!(dns_udp(&big, &CTX).map(|h| h.side), Ok(Side::Client));
    }

    #[test]
    fn a_pointer_may_point_anywhere_inside_the_message_but_not_past_it() {
        let past = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x20\x00\x01\x00\x01";
        assert_eq!(dns_udp(past, &CTX), Err(Miss::No));
        // Forward, to a name after the question's fixed fields.
        let fwd =
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x12\x00\x01\x00\x01\x01a\x00";
        assert_eq!(dns_udp(fwd, &CTX).map(|h| h.side), Ok(Side::Client));
    }
}
