//! Text curses: request lines (http, rtsp, sip), the `220` greeting (ftp, smtp), the
//! `USER` command (ftp, pop3), IMAP tagged commands, and telnet option negotiation.
//!
//! Contract: each reads at most one line (capped: [`REQUEST_LINE_MAX`],
//! [`BANNER_LINE_MAX`], [`USER_LINE_MAX`]) or a bounded run of telnet commands, and
//! answers as every curse does ([`super`]).

use super::{ensure, hit, lit, lit_ci, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// The longest request line looked at (method, URI and version).
pub(crate) const REQUEST_LINE_MAX: usize = 4096;

/// The longest greeting line looked at.
pub(crate) const BANNER_LINE_MAX: usize = 512;

/// Versions that end a request line, and the service each names.
const VERSIONS: [(&[u8], &str); 5] = [
    (b"HTTP/1.1", "http"),
    (b"HTTP/1.0", "http"),
    (b"RTSP/1.0", "rtsp"),
    (b"RTSP/2.0", "rtsp"),
    (b"SIP/2.0", "sip"),
];

/// A request line `METHOD SP target SP VERSION CRLF`: the version names the service
/// (`HTTP/1.x` http, `RTSP/x.0` rtsp, `SIP/2.0` sip). Over UDP only SIP counts (HTTP
/// over UDP is SSDP, which Suricata does not name http).
pub(crate) fn request_line(d: &[u8], ctx: &Ctx) -> Cast {
    let mut i = 0;
    loop {
        let b = u8_at(d, i)?;
        if b == b' ' {
            ensure(i > 0)?;
            break;
        }
        ensure(i < 24 && (b.is_ascii_uppercase() || b == b'-' || b == b'_'))?;
        i += 1;
    }
    i += 1;
    let target = i;
    loop {
        let b = u8_at(d, i)?;
        if b == b' ' {
            ensure(i > target)?;
            break;
        }
        ensure(b > 0x20 && b != 0x7f && i < REQUEST_LINE_MAX)?;
        i += 1;
    }
    i += 1;
    let mut more = false;
    for (version, service) in VERSIONS {
        if ctx.udp && service != "sip" {
            continue;
        }
        match lit(d, i, version) {
            Ok(()) => {
                let end = u8_at(d, i + version.len())?;
                ensure(end == b'\r' || end == b'\n')?;
                return hit(service, Side::Client);
            }
            Err(Miss::More) => more = true,
            Err(Miss::No) => {}
        }
    }
    Err(if more { Miss::More } else { Miss::No })
}

/// First bytes of a request line.
pub(crate) fn request_line_first(b: u8) -> bool {
    b.is_ascii_uppercase()
}

/// The `220` greeting of FTP and SMTP servers: an `SMTP`/`ESMTP` word names smtp at
/// once; a word containing `FTP` (`FTP`, `ProFTPD`, `vsFTPd`) names ftp once the line
/// is whole (an SMTP word may still follow). A whole line with neither falls back on
/// the standard port (21 ftp; 25, 587, 2525 smtp), else the client's first command
/// decides.
pub(crate) fn banner_220(d: &[u8], ctx: &Ctx) -> Cast {
    lit(d, 0, b"220")?;
    let sep = u8_at(d, 3)?;
    ensure(sep == b' ' || sep == b'-')?;
    let window = d.get(..BANNER_LINE_MAX.min(d.len())).unwrap_or_default();
    let (line, whole) = match window.iter().position(|&b| b == b'\n') {
        Some(end) => (window.get(..end).unwrap_or_default(), true),
        None => (window, window.len() >= BANNER_LINE_MAX),
    };
    let mut ftp = false;
    for word in line.split(|b| !b.is_ascii_alphanumeric()) {
        if word.eq_ignore_ascii_case(b"smtp") || word.eq_ignore_ascii_case(b"esmtp") {
            return hit("smtp", Side::Server);
        }
        ftp |= word.windows(3).any(|w| w.eq_ignore_ascii_case(b"ftp"));
    }
    if !whole {
        return Err(Miss::More);
    }
    if ftp || ctx.port_in(&[21]) {
        hit("ftp", Side::Server)
    } else if ctx.port_in(&[25, 587, 2525]) {
        hit("smtp", Side::Server)
    } else {
        Err(Miss::No)
    }
}

/// The longest `USER` command line looked at.
pub(crate) const USER_LINE_MAX: usize = 256;

/// A client's `USER name` (FTP; POP3 on its port 110): one argument, then the line's
/// end. IRC's `USER user mode unused :realname` (RFC 2812) has four and is neither:
/// suricata-verify's `irc` case holds Suricata to "IRC is not FTP".
pub(crate) fn user_command(d: &[u8], ctx: &Ctx) -> Cast {
    lit_ci(d, 0, b"user ")?;
    let rest = d.get(5..).unwrap_or_default();
    let window = rest
        .get(..USER_LINE_MAX.min(rest.len()))
        .unwrap_or_default();
    let Some(end) = window.iter().position(|&b| b == b'\n') else {
        // a space inside the argument already makes a second one
        ensure(!window.trim_ascii().contains(&b' '))?;
        return Err(if window.len() >= USER_LINE_MAX {
            Miss::No
        } else {
            Miss::More
        });
    };
    let arg = window.get(..end).unwrap_or_default().trim_ascii();
    ensure(!arg.is_empty() && !arg.contains(&b' '))?;
    if ctx.port_in(&[110]) {
        hit("pop3", Side::Client)
    } else {
        hit("ftp", Side::Client)
    }
}

/// Commands an IMAP client sends first (after its tag), lowercase.
const IMAP_FIRST: [&[u8]; 7] = [
    b"capability",
    b"login",
    b"starttls",
    b"authenticate",
    b"id",
    b"noop",
    b"logout",
];

/// An IMAP client's first tagged command: `a001 CAPABILITY`, `1 LOGIN ...`.
pub(crate) fn imap_command(d: &[u8], _ctx: &Ctx) -> Cast {
    let mut i = 0;
    loop {
        let b = u8_at(d, i)?;
        if b == b' ' {
            ensure(i > 0)?;
            break;
        }
        ensure(i < 32 && (b.is_ascii_alphanumeric() || b == b'.'))?;
        i += 1;
    }
    i += 1;
    let mut more = false;
    for cmd in IMAP_FIRST {
        match lit_ci(d, i, cmd) {
            Ok(()) => {
                let end = u8_at(d, i + cmd.len())?;
                if matches!(end, b' ' | b'\r' | b'\n') {
                    return hit("imap", Side::Client);
                }
            }
            Err(Miss::More) => more = true,
            Err(Miss::No) => {}
        }
    }
    Err(if more { Miss::More } else { Miss::No })
}

/// First bytes of an IMAP tag.
pub(crate) fn imap_first(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Telnet option negotiation: a run of `IAC WILL|WONT|DO|DONT opt`, `IAC SB .. IAC SE`
/// or other `IAC` commands. Two commands name telnet; one is enough on port 23.
pub(crate) fn telnet(d: &[u8], ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? == 0xff)?;
    let on_port = ctx.port_in(&[23]);
    let mut i = 0usize;
    let mut count = 0u32;
    while count < 8 {
        match d.get(i) {
            None if count >= 2 || (count >= 1 && on_port) => break,
            None => return Err(Miss::More),
            Some(0xff) => {}
            Some(_) => break,
        }
        match u8_at(d, i + 1)? {
            0xfb..=0xfe => {
                u8_at(d, i + 2)?;
                i += 3;
            }
            0xfa => {
                // subnegotiation: IAC SB opt ... IAC SE, within 64 bytes
                let body = d.get(i + 2..).unwrap_or_default();
                match body.windows(2).take(64).position(|w| w == [0xff, 0xf0]) {
                    Some(end) => i += 2 + end + 2,
                    None => {
                        ensure(body.len() < 65)?;
                        return Err(Miss::More);
                    }
                }
            }
            0xf1..=0xf9 => i += 2,
            _ => return Err(Miss::No),
        }
        count += 1;
    }
    ensure(count >= 2 || on_port)?;
    hit("telnet", Side::Either)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Ctx = crate::wizard::curses::TCP_CTX;

    #[test]
    fn request_line_names_by_version() {
        let r = |d: &[u8]| request_line(d, &CTX).map(|h| h.service);
        assert_eq!(r(b"OPTIONS * HTTP/1.1\r\n"), Ok("http"));
        assert_eq!(r(b"OPTIONS rtsp://cam/ RTSP/1.0\r\n"), Ok("rtsp"));
        assert_eq!(r(b"OPTIONS sip:bob@x SIP/2.0\r\n"), Ok("sip"));
        assert_eq!(r(b"OPTIONS * HTT"), Err(Miss::More));
        assert_eq!(r(b"OPTIONS * HTTP/1.1x"), Err(Miss::No));
        assert_eq!(r(b"PRI * HTTP/2.0\r\n"), Err(Miss::No));
        assert_eq!(r(b"lower / HTTP/1.1\r\n"), Err(Miss::No));
        let udp = Ctx { udp: true, ..CTX };
        assert_eq!(
            request_line(b"M-SEARCH * HTTP/1.1\r\n", &udp),
            Err(Miss::No)
        );
        let long = [b'A'; 30];
        assert_eq!(r(&long), Err(Miss::No));
    }

    #[test]
    fn a_user_command_has_one_argument() {
        let at = |d: &[u8], port: u16| {
            let ctx = Ctx {
                server_port: port,
                ..CTX
            };
            user_command(d, &ctx).map(|h| h.service)
        };
        assert_eq!(at(b"USER anonymous\r\n", 2121), Ok("ftp"));
        assert_eq!(at(b"user anonymous\n", 21), Ok("ftp"));
        assert_eq!(
            at(b"USER anonymous \r\n", 21),
            Ok("ftp"),
            "a trailing space"
        );
        assert_eq!(at(b"USER alice\r\n", 110), Ok("pop3"));
        // IRC's registration: four arguments, known as soon as the second starts
        assert_eq!(at(b"USER guest 0 * :Ronnie Reagan\r\n", 21), Err(Miss::No));
        assert_eq!(at(b"USER guest 0", 8000), Err(Miss::No));
        assert_eq!(at(b"USER \r\n", 21), Err(Miss::No), "no argument");
        assert_eq!(at(b"USER anon", 21), Err(Miss::More));
        assert_eq!(at(b"USE", 21), Err(Miss::More));
        assert_eq!(at(b"PASS x\r\n", 21), Err(Miss::No));
        let mut long = b"USER ".to_vec();
        long.extend([b'a'; USER_LINE_MAX]);
        assert_eq!(at(&long, 21), Err(Miss::No), "no line end within the cap");
    }

    #[test]
    fn banner_words_decide_between_ftp_and_smtp() {
        let b = |d: &[u8], port: u16| {
            banner_220(
                d,
                &Ctx {
                    server_port: port,
                    ..CTX
                },
            )
            .map(|h| h.service)
        };
        assert_eq!(b(b"220 smtp.ftp.example ESMTP Postfix\r\n", 1), Ok("smtp"));
        assert_eq!(b(b"220 (vsFTPd 3.0.3)\r\n", 1), Ok("ftp"));
        assert_eq!(b(b"220 (vsFTPd 3.0.3)", 1), Err(Miss::More));
        assert_eq!(b(b"220 Welcome\r\n", 1), Err(Miss::No));
        assert_eq!(b(b"220 Welcome\r\n", 21), Ok("ftp"));
        assert_eq!(b(b"220 Welcome\r\n", 587), Ok("smtp"));
        assert_eq!(b(b"230 ok\r\n", 21), Err(Miss::No));
    }

    #[test]
    fn telnet_needs_two_commands_off_port() {
        let one = [0xff, 0xfd, 0x18];
        assert_eq!(telnet(&one, &CTX), Err(Miss::More));
        let on23 = Ctx {
            server_port: 23,
            ..CTX
        };
        assert!(telnet(&one, &on23).is_ok());
        let two = [0xff, 0xfd, 0x18, 0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0];
        assert!(telnet(&two, &CTX).is_ok());
        assert_eq!(telnet(&[0xff, 0x00], &CTX), Err(Miss::No));
    }
}
