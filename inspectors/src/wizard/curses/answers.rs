//! Answers: the first message of the side the other rules of a protocol do not
//! recognise, checked only on a flow that other side already named that protocol.
//!
//! Contract: these curses stand for the probe Suricata runs, on any port, for the
//! direction that was silent when the flow was named (its `pe0`: the probing parser of
//! the flow's protocol). They are never tried for a flow's first detection: alone
//! they are too weak (a length and a byte or two). Each says which side sends what it
//! matches; fewer bytes than it needs ask for more.

use super::{arr, be32, ensure, hit, u8_at, Cast, Ctx};
use crate::wizard::Side;

/// The largest HTTP/2 frame before SETTINGS raise it (RFC 9113's initial
/// SETTINGS_MAX_FRAME_SIZE), Suricata's `HTTP2_DEFAULT_MAX_FRAME_SIZE`.
const HTTP2_DEFAULT_MAX_FRAME: u32 = 16_384;

/// An HTTP/2 server's first frame, as Suricata's `http2_probing_parser_tc` takes it: a
/// 9-byte frame header of type SETTINGS (4), flags 0 or ACK, the reserved bit clear, a
/// length at most [`HTTP2_DEFAULT_MAX_FRAME`]. The stream id is not judged.
pub(crate) fn http2_settings(d: &[u8], _ctx: &Ctx) -> Cast {
    let [l0, l1, l2, kind, flags, stream] = arr::<6>(d, 0)?;
    arr::<3>(d, 6)?;
    let len = u32::from_be_bytes([0, l0, l1, l2]);
    ensure(len <= HTTP2_DEFAULT_MAX_FRAME && kind == 4 && flags & 0xfe == 0)?;
    ensure(stream & 0x80 == 0)?;
    hit("http2", Side::Server)
}

/// A PostgreSQL server's first message, as Suricata's `probing_parser_tc` takes it:
/// the one-byte answer to an SSL or GSSAPI request (`N` or `S`), or a backend message
/// (a type letter, then a 4-byte length of at least 4 that the data holds).
pub(crate) fn pgsql_server(d: &[u8], _ctx: &Ctx) -> Cast {
    let kind = u8_at(d, 0)?;
    if kind == b'N' || kind == b'S' {
        return hit("pgsql", Side::Server);
    }
    ensure(kind.is_ascii_alphabetic())?;
    let len = be32(d, 1)?;
    ensure(len >= 4)?;
    // The message's last byte: the type letter, then `len` bytes.
    u8_at(d, usize::try_from(len).map_err(|_| super::Miss::No)?)?;
    hit("pgsql", Side::Server)
}

/// A MySQL client's first packet, its handshake response (or an SSL request, its first
/// 32 bytes): a 3-byte length of at least 32, sequence 1, capability flags with
/// CLIENT_PROTOCOL_41, a maximum packet size, a character set, then a 23-byte filler
/// whose first 19 bytes are zero (MariaDB clients put their extended capabilities in
/// the last 4).
pub(crate) fn mysql_client(d: &[u8], _ctx: &Ctx) -> Cast {
    let [a, b, c, seq] = arr::<4>(d, 0)?;
    let len = u32::from_le_bytes([a, b, c, 0]);
    ensure(len >= 32 && seq == 1)?;
    // CLIENT_PROTOCOL_41 is 0x200: bit 1 of the second little-endian byte.
    let [_, caps_hi, _, _] = arr::<4>(d, 4)?;
    ensure(caps_hi & 0x02 != 0)?;
    for at in 13..32 {
        ensure(u8_at(d, at)? == 0)?;
    }
    hit("mysql", Side::Client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::curses::Miss;

    const CTX: Ctx = crate::wizard::curses::TCP_CTX;

    #[test]
    fn an_http2_server_opens_with_a_settings_frame() {
        // SETTINGS, 6 bytes (MAX_CONCURRENT_STREAMS = 100), stream 0.
        let settings = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64";
        assert_eq!(
            http2_settings(settings, &CTX).map(|h| (h.service, h.side)),
            Ok(("http2", Side::Server))
        );
        // An empty SETTINGS ACK is one too; a header cut short waits.
        assert!(http2_settings(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00", &CTX).is_ok());
        assert_eq!(http2_settings(&settings[..8], &CTX), Err(Miss::More));
        // Another type, flags beyond ACK, the reserved bit, or a frame over 16 KiB.
        for (at, v) in [(3, 1u8), (4, 0x04), (5, 0x80), (0, 1)] {
            let mut f = settings.to_vec();
            f[at] = v;
            assert_eq!(http2_settings(&f, &CTX), Err(Miss::No), "byte {at} = {v}");
        }
        // An HTTP/1 answer is not.
        assert_eq!(http2_settings(b"HTTP/1.1 200 OK\r\n", &CTX), Err(Miss::No));
    }

    #[test]
    fn a_pgsql_server_answers_ssl_requests_and_sends_backend_messages() {
        assert!(pgsql_server(b"N", &CTX).is_ok());
        assert!(pgsql_server(b"S", &CTX).is_ok());
        // AuthenticationMD5Password: R, length 12, type 5, salt.
        let md5 = b"R\x00\x00\x00\x0c\x00\x00\x00\x05\x01\x02\x03\x04";
        assert_eq!(
            pgsql_server(md5, &CTX).map(|h| (h.service, h.side)),
            Ok(("pgsql", Side::Server))
        );
        assert_eq!(pgsql_server(&md5[..10], &CTX), Err(Miss::More));
        // A length under 4, or no type letter: not PostgreSQL.
        assert_eq!(pgsql_server(b"R\x00\x00\x00\x03", &CTX), Err(Miss::No));
        assert_eq!(
            pgsql_server(b"\x16\x03\x01\x00\x05hello", &CTX),
            Err(Miss::No)
        );
    }

    #[test]
    fn a_mysql_client_answers_the_greeting_with_its_login() {
        let mut login = vec![0x3e, 0, 0, 1];
        login.extend_from_slice(&[0x85, 0xa6, 0xff, 0x01]); // capabilities, PROTOCOL_41
        login.extend_from_slice(&[0, 0, 0, 0x40, 0x21]); // max packet, charset
        login.extend_from_slice(&[0; 23]);
        login.extend_from_slice(b"root\0");
        // A MariaDB client's extended capabilities end the filler.
        let mut mariadb = login.clone();
        mariadb[32] = 0x1d;
        assert!(mysql_client(&mariadb, &CTX).is_ok());
        assert_eq!(
            mysql_client(&login, &CTX).map(|h| (h.service, h.side)),
            Ok(("mysql", Side::Client))
        );
        assert_eq!(mysql_client(&login[..20], &CTX), Err(Miss::More));
        // Sequence 0 (a greeting), no PROTOCOL_41, or a filler that is not zero.
        for (at, v) in [(3, 0u8), (5, 0x04), (20, 7)] {
            let mut l = login.clone();
            l[at] = v;
            assert_eq!(mysql_client(&l, &CTX), Err(Miss::No), "byte {at} = {v}");
        }
    }
}
