//! FTP service inspector (`"ftp"`): announces the data connections the control
//! connection sets up, so the engine names them `ftp-data` (expected flows), and
//! recognises `AUTH TLS` (or `AUTH SSL`) accepted by `234`, handing the control
//! connection to TLS; no other metadata.
//!
//! Contract:
//! - Input: both directions from their start, in-order TCP chunks of any split, framed
//!   into lines of at most [`LINE_CAP`] bytes (longer ones truncated, never parsed for
//!   ports).
//! - Every client line is a command. Server replies are `DDD text` lines, or multi-line
//!   replies from `DDD-text` to the line starting `DDD ` with the same code; the first
//!   reply is the greeting. The n-th command pairs with the n-th reply, whichever
//!   arrives first (`text::ReplyOrder`).
//! - Data connections: a client `PORT h1,h2,h3,h4,p1,p2` ([`parse_port`]) or
//!   `EPRT |1|ip|port|` / `|2|ip6|port|` ([`parse_eprt`]) command, and a server
//!   `227 ... (h1,h2,h3,h4,p1,p2)` ([`parse_227`]) or `229 ... (|||port|)`
//!   ([`parse_229`]) reply, each call `cx.expect` for a TCP connection to the announced
//!   port of the side that announced it (the client for `PORT`/`EPRT`, the server for
//!   `227`/`229`), from the other side, with service `"ftp-data"`. The addresses are
//!   the control connection's, not the announced ones (NAT rewrites those), as in
//!   Suricata: a data connection between the same two hosts to the announced port
//!   matches. The announcement is made when the command or reply is seen, not at the
//!   `RETR`/`STOR` that follows (Suricata's moment), because clients often connect
//!   before they send it and the engine looks expected flows up when they start; so
//!   directory listings' connections are `ftp-data` too, as in Snort. Malformed
//!   announcements (bad numbers, port 0, wrong address family) are ignored.
//! - `AUTH TLS`/`AUTH SSL` answered `234`: `cx.upgrade("tls", None)` and `cx.done()`.
//! - Reads the whole session: done only at an upgrade or on a server line that is not a
//!   reply (not FTP). A gap drops the partial line and reading resumes at the next
//!   one; the command/reply pairing is lost, so no upgrade is recognised after it.

use crate::smtp::reply_code;
use crate::text::{find_byte, starts_with_ci, trim, ReplyOrder};
use crate::upgrade::{Dialect, Step, UpgradeWatch};
use flowengine::flow::Direction;
use flowengine::inspect::{
    Cx, Expectation, FlowData, FlowInfo, Inspector, InspectorKind, Transport,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest line kept.
pub const LINE_CAP: usize = 1024;

/// The service data connections get (Suricata's EVE name).
pub const FTP_DATA: &str = "ftp-data";

/// The FTP service inspector.
#[derive(Debug, Default)]
pub struct FtpInspector;

impl FtpInspector {
    /// A new inspector.
    pub fn new() -> Self {
        FtpInspector
    }
}

impl Inspector for FtpInspector {
    fn name(&self) -> &str {
        "ftp"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["ftp"]
    }

    fn start(&self, _flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(UpgradeWatch::new(Ftp::default(), LINE_CAP)))
    }
}

/// FTP's lines: data connection announcements, `AUTH TLS`/`AUTH SSL` and its reply.
#[derive(Debug, Default)]
struct Ftp {
    order: ReplyOrder,
    /// Inside a multi-line reply with this code.
    multiline: Option<u16>,
    /// A gap broke the command/reply pairing: no upgrade is recognised.
    unpaired: bool,
}

fn is_auth_tls(line: &[u8]) -> bool {
    let Some(arg) = command_arg(line, b"AUTH") else {
        return false;
    };
    starts_with_ci(arg, b"TLS") || starts_with_ci(arg, b"SSL")
}

/// The argument of command `verb` (case-insensitive), trimmed: `None` for another
/// command, or for `verb` without a space after it.
fn command_arg<'a>(line: &'a [u8], verb: &[u8]) -> Option<&'a [u8]> {
    if !starts_with_ci(line, verb) {
        return None;
    }
    match line.get(verb.len()..)? {
        [b' ' | b'\t', rest @ ..] => Some(trim(rest)),
        _ => None,
    }
}

/// A decimal number of at most `max_digits` digits at the start of `s`: its value
/// and the digits' length.
fn number(s: &[u8], max_digits: usize) -> Option<(u32, usize)> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > max_digits {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Some((v, n))
}

/// Six comma-separated numbers of 0..=255 at the start of `s` (spaces allowed around
/// the commas): the address and the port (`p1 * 256 + p2`), and the bytes used.
fn six_numbers(s: &[u8]) -> Option<(Ipv4Addr, u16, usize)> {
    let mut v = [0u8; 6];
    let mut at = 0usize;
    for (i, slot) in v.iter_mut().enumerate() {
        if i > 0 {
            at += s.get(at..)?.iter().take_while(|&&b| b == b' ').count();
            if s.get(at) != Some(&b',') {
                return None;
            }
            at += 1;
            at += s.get(at..)?.iter().take_while(|&&b| b == b' ').count();
        }
        let (n, len) = number(s.get(at..)?, 3)?;
        *slot = u8::try_from(n).ok()?;
        at += len;
    }
    let port = u16::from(v[4]) << 8 | u16::from(v[5]);
    (port != 0).then_some((Ipv4Addr::new(v[0], v[1], v[2], v[3]), port, at))
}

/// A port of 1..=65535 written in decimal, all of `s`.
fn port_str(s: &[u8]) -> Option<u16> {
    let (n, len) = number(s, 5)?;
    if len != s.len() {
        return None;
    }
    u16::try_from(n).ok().filter(|&p| p != 0)
}

/// The address and port of a client `PORT h1,h2,h3,h4,p1,p2` command (RFC 959).
pub fn parse_port(line: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let arg = command_arg(line, b"PORT")?;
    let (addr, port, used) = six_numbers(arg)?;
    (used == arg.len()).then_some((addr, port))
}

/// The address and port of a client `EPRT <d>1<d>ip4<d>port<d>` or
/// `EPRT <d>2<d>ip6<d>port<d>` command (RFC 2428; `<d>` is any printable character,
/// usually `|`).
pub fn parse_eprt(line: &[u8]) -> Option<(IpAddr, u16)> {
    let arg = command_arg(line, b"EPRT")?;
    let (&d, rest) = arg.split_first()?;
    if !d.is_ascii_graphic() || d.is_ascii_digit() {
        return None;
    }
    let rest = rest.strip_suffix(&[d])?;
    let mut fields = rest.split(|&b| b == d);
    let (af, addr, port) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    let addr = std::str::from_utf8(addr).ok()?;
    let addr = match af {
        b"1" => IpAddr::V4(addr.parse::<Ipv4Addr>().ok()?),
        b"2" => IpAddr::V6(addr.parse::<Ipv6Addr>().ok()?),
        _ => return None,
    };
    Some((addr, port_str(port)?))
}

/// The address and port of a server `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`
/// reply: the six numbers start at the first digit of the text (RFC 1123 4.1.2.6; the
/// parentheses are optional).
pub fn parse_227(line: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let text = reply_text(line, b"227")?;
    let first = text.iter().position(u8::is_ascii_digit)?;
    let rest = text.get(first..)?;
    let (addr, port, used) = six_numbers(rest)?;
    // Not the start of a longer list of numbers.
    match rest.get(used) {
        Some(b) if b.is_ascii_digit() || *b == b',' => None,
        _ => Some((addr, port)),
    }
}

/// The port of a server `229 Entering Extended Passive Mode (|||port|)` reply
/// (RFC 2428: the delimiter is the character after `(`; the address is the server's).
pub fn parse_229(line: &[u8]) -> Option<u16> {
    let text = reply_text(line, b"229")?;
    let open = find_byte(text, b'(')?;
    let inner = text.get(open + 1..)?;
    let (&d, _) = inner.split_first()?;
    if !d.is_ascii_graphic() || d.is_ascii_digit() || d == b')' {
        return None;
    }
    if inner.get(..3)? != [d, d, d] {
        return None;
    }
    let after = inner.get(3..)?;
    let end = find_byte(after, d)?;
    if after.get(end + 1) != Some(&b')') {
        return None;
    }
    port_str(after.get(..end)?)
}

/// The text of a final reply line with `code` (`DDD text` or `DDD-text`).
fn reply_text<'a>(line: &'a [u8], code: &[u8]) -> Option<&'a [u8]> {
    if line.get(..3)? != code {
        return None;
    }
    match line.get(3) {
        None => Some(&[]),
        Some(b' ' | b'-') => line.get(4..),
        _ => None,
    }
}

impl Ftp {
    fn reply(&mut self, cx: &mut Cx<'_>, code: u16, line: &[u8]) -> Step {
        match code {
            227 => {
                if let Some((_, port)) = parse_227(line) {
                    announce(cx, Direction::ToClient, port);
                }
            }
            229 => {
                if let Some(port) = parse_229(line) {
                    announce(cx, Direction::ToClient, port);
                }
            }
            _ => {}
        }
        if self.order.reply(code == 234) && !self.unpaired {
            Step::Upgrade
        } else {
            Step::Going
        }
    }
}

/// A data connection to `port` of the side that sent in direction `from` (the server
/// for `ToClient`), from the other side.
fn announce(cx: &mut Cx<'_>, from: Direction, port: u16) {
    let f = cx.flow();
    let (listener, opener) = match from {
        Direction::ToServer => (f.client.0, f.server.0),
        Direction::ToClient => (f.server.0, f.client.0),
    };
    cx.expect(Expectation::new(Transport::Tcp, listener, port, FTP_DATA).from_client(opener));
}

impl Dialect for Ftp {
    fn client_line(&mut self, cx: &mut Cx<'_>, line: &[u8], truncated: bool) -> Step {
        if !truncated {
            let port = parse_port(line)
                .map(|(_, p)| p)
                .or_else(|| parse_eprt(line).map(|(_, p)| p));
            if let Some(port) = port {
                announce(cx, Direction::ToServer, port);
            }
        }
        let auth = !truncated && is_auth_tls(line);
        if self.order.command(auth) && !self.unpaired {
            Step::Upgrade
        } else {
            Step::Going
        }
    }

    fn server_line(&mut self, cx: &mut Cx<'_>, line: &[u8], _truncated: bool) -> Step {
        match (self.multiline, reply_code(line)) {
            (Some(code), Some((c, true))) if c == code => {
                self.multiline = None;
                self.reply(cx, c, line)
            }
            (Some(_), _) => Step::Going,
            (None, Some((c, false))) => {
                self.multiline = Some(c);
                Step::Going
            }
            (None, Some((c, true))) => self.reply(cx, c, line),
            // Not FTP, unless a gap left us inside a multi-line reply.
            (None, None) if self.unpaired => Step::Going,
            (None, None) => Step::Stop,
        }
    }

    fn gap(&mut self, _dir: Direction) -> bool {
        self.unpaired = true;
        self.multiline = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::harness::{bytewise, cs, info, run, sc, split, Piece};
    use proptest::prelude::*;

    fn go(p: &[Piece]) -> crate::text::harness::Outcome {
        run(&FtpInspector::new(), &info(Transport::Tcp, 21), p)
    }

    fn session() -> Vec<Piece> {
        vec![
            sc(b"220-FileZilla Server 1.7.0\r\n220-Please visit https://filezilla-project.org/\r\n220 Welcome\r\n"),
            cs(b"AUTH TLS\r\n"),
            sc(b"234 Using authentication type TLS.\r\n"),
            cs(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        ]
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The harness's control connection: client 10.0.0.1, server 10.0.0.2.
    fn data(listener: &str, port: u16, opener: &str) -> Expectation {
        Expectation::new(Transport::Tcp, ip(listener), port, FTP_DATA).from_client(ip(opener))
    }

    fn transfers() -> Vec<Piece> {
        vec![
            sc(b"220 ProFTPD Server\r\n"),
            cs(b"USER anonymous\r\n"),
            sc(b"331 Anonymous login ok\r\n"),
            cs(b"PASS x\r\n"),
            sc(b"230 ok\r\n"),
            cs(b"PASV\r\n"),
            sc(b"227 Entering Passive Mode (192,168,150,90,195,149).\r\n"),
            cs(b"LIST\r\n"),
            sc(b"150 Here comes the listing\r\n226 Done\r\n"),
            cs(b"EPSV\r\n"),
            sc(b"229 Entering Extended Passive Mode (|||6446|)\r\n"),
            cs(b"RETR a.txt\r\n"),
            sc(b"150 Opening\r\n226 Done\r\n"),
            cs(b"PORT 10,0,0,1,7,138\r\n"),
            sc(b"200 PORT ok\r\n"),
            cs(b"STOR b.txt\r\n"),
            sc(b"150 Opening\r\n226 Done\r\n"),
            cs(b"EPRT |2|fe80::1|5282|\r\n"),
            sc(b"200 EPRT ok\r\n"),
            cs(b"QUIT\r\n"),
            sc(b"221 Bye\r\n"),
        ]
    }

    #[test]
    fn port_commands_parse() {
        assert_eq!(
            parse_port(b"PORT 192,168,1,2,7,138"),
            Some((Ipv4Addr::new(192, 168, 1, 2), 1930))
        );
        assert_eq!(
            parse_port(b"port 10, 0, 0, 1, 0, 21 "),
            Some((Ipv4Addr::new(10, 0, 0, 1), 21))
        );
        for bad in [
            &b"PORT 192,168,1,2,7"[..],
            b"PORT 192,168,1,2,7,138,1",
            b"PORT 256,1,1,1,1,1",
            b"PORT 1,2,3,4,0,0",
            b"PORT 1,2,3,4,5,6abc",
            b"PORT 1,2,3,4,5,0006",
            b"PORT 1,2,3,4,,6",
            b"PORT -1,2,3,4,5,6",
            b"PORT",
            b"PORT ",
            b"PORTS 1,2,3,4,5,6",
            b"PASV",
            b"",
        ] {
            assert_eq!(parse_port(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn eprt_commands_parse() {
        assert_eq!(
            parse_eprt(b"EPRT |1|132.235.1.2|6275|"),
            Some((ip("132.235.1.2"), 6275))
        );
        assert_eq!(
            parse_eprt(b"eprt |2|1080::8:800:200C:417A|5282|"),
            Some((ip("1080::8:800:200c:417a"), 5282))
        );
        assert_eq!(
            parse_eprt(b"EPRT !1!10.0.0.1!65535!"),
            Some((ip("10.0.0.1"), 65535))
        );
        for bad in [
            &b"EPRT |1|::1|5282|"[..],
            b"EPRT |2|10.0.0.1|5282|",
            b"EPRT |3|10.0.0.1|5282|",
            b"EPRT |1|10.0.0.1|0|",
            b"EPRT |1|10.0.0.1|65536|",
            b"EPRT |1|10.0.0.1|+80|",
            b"EPRT |1|10.0.0.1|5282",
            b"EPRT |1|10.0.0.1|5282|7|",
            b"EPRT 1|10.0.0.1|5282|",
            b"EPRT |1|10.0.0.\xff|5282|",
            b"EPRT ||",
            b"EPRT |",
            b"EPRT",
        ] {
            assert_eq!(parse_eprt(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn passive_replies_parse() {
        assert_eq!(
            parse_227(b"227 Entering Passive Mode (192,168,150,90,195,149)."),
            Some((Ipv4Addr::new(192, 168, 150, 90), 50069))
        );
        assert_eq!(
            parse_227(b"227 Entering Passive Mode 10,0,0,1,4,1"),
            Some((Ipv4Addr::new(10, 0, 0, 1), 1025))
        );
        for bad in [
            &b"227 Entering Passive Mode (1,2,3)"[..],
            b"227 Entering Passive Mode (1,2,3,4,5,6,7)",
            b"227 Entering Passive Mode (1,2,3,4,300,1)",
            b"227 Entering Passive Mode (1,2,3,4,0,0)",
            b"228 Entering Long Passive Mode (1,2,3,4,5,6)",
            b"2270 (1,2,3,4,5,6)",
            b"227 Entering Passive Mode",
            b"227",
            b"22",
        ] {
            assert_eq!(parse_227(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            parse_229(b"229 Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(parse_229(b"229 EPSV ok (!!!1!)."), Some(1));
        for bad in [
            &b"229 Entering Extended Passive Mode (|||0|)"[..],
            b"229 Entering Extended Passive Mode (|||65536|)",
            b"229 Entering Extended Passive Mode (||6446|)",
            b"229 Entering Extended Passive Mode (|||6446)",
            b"229 Entering Extended Passive Mode (|||6446|",
            b"229 Entering Extended Passive Mode (|||abc|)",
            b"229 Entering Extended Passive Mode (1116446|)",
            b"229 Entering Extended Passive Mode (",
            b"229 Entering Extended Passive Mode",
            b"227 Entering Extended Passive Mode (|||6446|)",
        ] {
            assert_eq!(parse_229(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn data_connections_are_announced_from_the_side_that_listens() {
        let o = go(&transfers());
        assert_eq!(
            o.expectations,
            vec![
                // 227 and 229: the server listens, the client connects. The announced
                // address (192.168.150.90, behind NAT) is not used.
                data("10.0.0.2", 50069, "10.0.0.1"),
                data("10.0.0.2", 6446, "10.0.0.1"),
                // PORT and EPRT: the client listens, the server connects.
                data("10.0.0.1", 1930, "10.0.0.2"),
                data("10.0.0.1", 5282, "10.0.0.2"),
            ]
        );
        assert_eq!(o.upgrade, None);
        assert!(!o.done);
        assert_eq!(go(&bytewise(&transfers())), o);
    }

    #[test]
    fn malformed_and_overlong_announcements_are_ignored() {
        let long = [
            b"PORT 10,0,0,1,7,138".as_slice(),
            &[b' '; LINE_CAP],
            b"\r\n",
        ]
        .concat();
        let o = go(&[
            sc(b"220 hi\r\n"),
            cs(&long),
            cs(b"PORT 10,0,0,1,0,0\r\nEPRT |1|10.0.0.1|99999|\r\n"),
            sc(b"500 no\r\n500 no\r\n500 no\r\n"),
            cs(b"PASV\r\n"),
            sc(b"227 Entering Passive Mode (1,2,3)\r\n"),
            cs(b"EPSV\r\n"),
            sc(b"229 Entering Extended Passive Mode (|||0|)\r\n"),
        ]);
        assert!(o.expectations.is_empty());
        assert!(!o.done);
    }

    #[test]
    fn auth_tls_accepted_upgrades_to_tls() {
        let o = go(&session());
        assert_eq!(o.upgrade, Some(("tls", None)));
        assert!(o.done);
        assert_eq!(go(&bytewise(&session())), o);
    }

    #[test]
    fn plain_session_does_not_upgrade() {
        let o = go(&[
            sc(b"220 ProFTPD Server\r\n"),
            cs(b"USER anonymous\r\n"),
            sc(b"331 Anonymous login ok\r\n"),
            cs(b"AUTH SSL\r\n"),
            sc(b"500 AUTH not understood\r\n"),
            cs(b"PASS x\r\n"),
            sc(b"230 ok\r\n"),
        ]);
        assert_eq!(o.upgrade, None);
        assert!(!o.done);
    }

    #[test]
    fn garbage_stops_but_long_sessions_and_gaps_go_on() {
        assert!(go(&[sc(b"\x00binary\r\n")]).done);
        // Long sessions are read to the end: data connections come at any time.
        let mut long = vec![sc(b"220 hi\r\n"), cs(&b"NOOP\r\n".repeat(40))];
        long.push(cs(b"PORT 10,0,0,1,7,138\r\n"));
        let o = go(&long);
        assert!(!o.done);
        assert_eq!(o.expectations, vec![data("10.0.0.1", 1930, "10.0.0.2")]);
        // After a gap the next whole line is read; the pairing is lost, so AUTH TLS
        // is no longer trusted.
        let o = go(&[
            sc(b"220 hi\r\n"),
            cs(b"US"),
            Piece::Gap(Direction::ToServer, 5),
            cs(b"ER x\r\nPORT 10,0,0,1,7,139\r\nAUTH TLS\r\n"),
            Piece::Gap(Direction::ToClient, 5),
            sc(b"lost tail of a multi-line reply\r\n234 ok\r\n"),
        ]);
        assert!(!o.done);
        assert_eq!(o.upgrade, None);
        assert_eq!(o.expectations, vec![data("10.0.0.1", 1931, "10.0.0.2")]);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_outcome(cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
            prop_assert_eq!(go(&split(&session(), &cuts)), go(&session()));
            prop_assert_eq!(go(&split(&transfers(), &cuts)), go(&transfers()));
        }

        #[test]
        fn parsers_never_panic(
            verb in prop::sample::select(vec!["PORT ", "EPRT ", "227 ", "229 ", ""]),
            tail in proptest::collection::vec(
                prop::sample::select(b"0123456789,|()!. :aF\xff".to_vec()), 0..40),
        ) {
            let line = [verb.as_bytes(), &tail].concat();
            let _ = (parse_port(&line), parse_eprt(&line), parse_227(&line), parse_229(&line));
            let _ = go(&[sc(b"220 hi\r\n"), cs(&[line.as_slice(), b"\r\n"].concat()),
                         sc(&[line.as_slice(), b"\r\n"].concat())]);
        }
    }
}
