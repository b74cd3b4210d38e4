//! POP3 service inspector (`"pop3"`): recognises `STLS` accepted by `+OK` and hands
//! the flow to TLS; no other metadata.
//!
//! Contract:
//! - Input: both directions from their start, in-order TCP chunks of any split, framed
//!   into lines of at most [`LINE_CAP`] bytes (longer ones truncated, never buffered
//!   past the cap).
//! - Every client line is a command; every server line starting `+OK`, `-ERR` or `+ `
//!   (a SASL challenge) is a reply, the first one being the greeting; other server
//!   lines (multi-line bodies) are skipped. The n-th command pairs with the n-th reply,
//!   whichever arrives first (`text::ReplyOrder`).
//! - `STLS` answered `+OK`: `cx.upgrade("tls", None)` and `cx.done()`.
//! - Done without an upgrade after [`MAX_COMMANDS`] commands (STLS comes first in a
//!   session), at a gap, or on a truncated command line: nothing else is looked at.

use crate::text::{starts_with_ci, ReplyOrder};
use crate::upgrade::{Dialect, Step, UpgradeWatch};
use flowengine::inspect::{Cx, FlowData, FlowInfo, Inspector, InspectorKind};

/// Longest line kept.
pub const LINE_CAP: usize = 1024;
/// Commands looked at before giving up on an upgrade.
pub const MAX_COMMANDS: u32 = 32;

/// The POP3 service inspector.
#[derive(Debug, Default)]
pub struct Pop3Inspector;

impl Pop3Inspector {
    /// A new inspector.
    pub fn new() -> Self {
        Pop3Inspector
    }
}

impl Inspector for Pop3Inspector {
    fn name(&self) -> &str {
        "pop3"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["pop3"]
    }

    fn start(&self, _flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(UpgradeWatch::new(Pop3::default(), LINE_CAP)))
    }
}

/// POP3's lines: `STLS` and its reply.
#[derive(Debug, Default)]
struct Pop3 {
    order: ReplyOrder,
    commands: u32,
}

impl Dialect for Pop3 {
    fn client_line(&mut self, _cx: &mut Cx<'_>, line: &[u8], truncated: bool) -> Step {
        self.commands += 1;
        if truncated || self.commands > MAX_COMMANDS {
            Step::Stop
        } else if self.order.command(line.eq_ignore_ascii_case(b"STLS")) {
            Step::Upgrade
        } else {
            Step::Going
        }
    }

    fn server_line(&mut self, _cx: &mut Cx<'_>, line: &[u8], _truncated: bool) -> Step {
        let ok = starts_with_ci(line, b"+OK");
        if (ok || starts_with_ci(line, b"-ERR") || line.starts_with(b"+ ")) && self.order.reply(ok)
        {
            Step::Upgrade
        } else {
            Step::Going
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
        run(&Pop3Inspector::new(), &info(Transport::Tcp, 110), p)
    }

    fn session() -> Vec<Piece> {
        vec![
            sc(b"+OK Dovecot ready.\r\n"),
            cs(b"CAPA\r\n"),
            sc(b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
            cs(b"STLS\r\n"),
            sc(b"+OK Begin TLS negotiation now.\r\n"),
            cs(b"\x16\x03\x01\x00\xf4\x01\x00\x00\xf0\x03\x03"),
        ]
    }

    #[test]
    fn stls_accepted_upgrades_to_tls() {
        let o = go(&session());
        assert_eq!(o.upgrade, Some(("tls", None)));
        assert!(o.done);
        assert!(o.events.is_empty());
        assert_eq!(go(&bytewise(&session())), o);
    }

    #[test]
    fn stls_refused_or_absent_does_not_upgrade() {
        let o = go(&[
            sc(b"+OK hi\r\n"),
            cs(b"STLS\r\n"),
            sc(b"-ERR not now\r\n"),
            cs(b"USER bob\r\n"),
            sc(b"+OK\r\n"),
        ]);
        assert_eq!(o.upgrade, None);
        assert!(!o.done);
    }

    #[test]
    fn gives_up_after_many_commands_or_garbage() {
        let many: Vec<u8> = b"NOOP\r\n".repeat(40);
        assert!(go(&[sc(b"+OK\r\n"), cs(&many)]).done);
        assert!(go(&[cs(&[b'x'; 5000])]).done);
        assert!(go(&[Piece::Gap(Direction::ToServer, 3)]).done);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_outcome(cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
            prop_assert_eq!(go(&split(&session(), &cuts)), go(&session()));
        }
    }
}
