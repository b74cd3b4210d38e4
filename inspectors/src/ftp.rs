//! FTP service inspector (`"ftp"`): recognises `AUTH TLS` (or `AUTH SSL`) accepted by
//! `234` and hands the control connection to TLS; no other metadata.
//!
//! Contract:
//! - Input: both directions from their start, in-order TCP chunks of any split, framed
//!   into lines of at most [`LINE_CAP`] bytes (longer ones truncated).
//! - Every client line is a command. Server replies are `DDD text` lines, or multi-line
//!   replies from `DDD-text` to the line starting `DDD ` with the same code; the first
//!   reply is the greeting. The n-th command pairs with the n-th reply, whichever
//!   arrives first (`text::ReplyOrder`).
//! - `AUTH TLS`/`AUTH SSL` answered `234`: `cx.upgrade("tls", None)` and `cx.done()`.
//! - Done without an upgrade after [`MAX_COMMANDS`] commands (AUTH comes first in a
//!   session), at a gap, on a truncated command line, or on a server line that is not
//!   a reply.

use crate::smtp::reply_code;
use crate::text::{starts_with_ci, trim, ReplyOrder};
use crate::upgrade::{Dialect, Step, UpgradeWatch};
use flowengine::inspect::{FlowData, FlowInfo, Inspector, InspectorKind};

/// Longest line kept.
pub const LINE_CAP: usize = 1024;
/// Commands looked at before giving up on an upgrade.
pub const MAX_COMMANDS: u32 = 32;

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

/// FTP's lines: `AUTH TLS`/`AUTH SSL` and its reply (multi-line replies skipped).
#[derive(Debug, Default)]
struct Ftp {
    order: ReplyOrder,
    commands: u32,
    /// Inside a multi-line reply with this code.
    multiline: Option<u16>,
}

fn is_auth_tls(line: &[u8]) -> bool {
    if !starts_with_ci(line, b"AUTH ") {
        return false;
    }
    let arg = trim(&line[5..]);
    starts_with_ci(arg, b"TLS") || starts_with_ci(arg, b"SSL")
}

impl Ftp {
    fn reply(&mut self, code: u16) -> Step {
        if self.order.reply(code == 234) {
            Step::Upgrade
        } else {
            Step::Going
        }
    }
}

impl Dialect for Ftp {
    fn client_line(&mut self, line: &[u8], truncated: bool) -> Step {
        self.commands += 1;
        if truncated || self.commands > MAX_COMMANDS {
            Step::Stop
        } else if self.order.command(is_auth_tls(line)) {
            Step::Upgrade
        } else {
            Step::Going
        }
    }

    fn server_line(&mut self, line: &[u8], _truncated: bool) -> Step {
        match (self.multiline, reply_code(line)) {
            (Some(code), Some((c, true))) if c == code => {
                self.multiline = None;
                self.reply(c)
            }
            (Some(_), _) => Step::Going,
            (None, Some((c, false))) => {
                self.multiline = Some(c);
                Step::Going
            }
            (None, Some((c, true))) => self.reply(c),
            (None, None) => Step::Stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::harness::{bytewise, cs, info, run, sc, split, Piece};
    use flowengine::flow::Direction;
    use flowengine::inspect::Transport;
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
    fn garbage_gap_and_long_sessions_stop() {
        assert!(go(&[sc(b"\x00binary\r\n")]).done);
        assert!(go(&[cs(&b"NOOP\r\n".repeat(40))]).done);
        assert!(go(&[cs(b"US"), Piece::Gap(Direction::ToServer, 5)]).done);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_outcome(cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
            prop_assert_eq!(go(&split(&session(), &cuts)), go(&session()));
        }
    }
}
