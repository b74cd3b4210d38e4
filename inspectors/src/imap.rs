//! IMAP service inspector (`"imap"`): recognises `STARTTLS` accepted by a tagged `OK`
//! and hands the flow to TLS; no other metadata.
//!
//! Contract:
//! - Input: both directions from their start, in-order TCP chunks of any split, framed
//!   into lines of at most [`LINE_CAP`] bytes (longer ones truncated).
//! - The client's `<tag> STARTTLS` is answered by the server's `<tag> OK ...`: tags
//!   pair them, whichever side arrives first (the last few tagged `OK` tags the server
//!   sent before the command are remembered, in a fixed array; tags over
//!   [`TAG_CAP`] bytes are not matched).
//! - Accepted: `cx.upgrade("tls", None)` and `cx.done()`. Done without an upgrade after
//!   [`MAX_COMMANDS`] client lines (STARTTLS comes first in a session), after
//!   [`MAX_SERVER_LINES`] server lines, at a gap, or on a truncated client line.

use crate::text::find_byte;
use crate::upgrade::{Dialect, Step, UpgradeWatch};
use flowengine::inspect::{Cx, FlowData, FlowInfo, Inspector, InspectorKind};

/// Longest line kept.
pub const LINE_CAP: usize = 1024;
/// Longest tag matched.
pub const TAG_CAP: usize = 32;
/// Client lines looked at before giving up on an upgrade.
pub const MAX_COMMANDS: u32 = 32;
/// Server lines looked at before giving up on an upgrade.
pub const MAX_SERVER_LINES: u32 = 512;

/// The IMAP service inspector.
#[derive(Debug, Default)]
pub struct ImapInspector;

impl ImapInspector {
    /// A new inspector.
    pub fn new() -> Self {
        ImapInspector
    }
}

impl Inspector for ImapInspector {
    fn name(&self) -> &str {
        "imap"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["imap"]
    }

    fn start(&self, _flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(UpgradeWatch::new(Imap::default(), LINE_CAP)))
    }
}

/// A tag kept inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tag {
    bytes: [u8; TAG_CAP],
    len: u8,
}

impl Tag {
    fn new(t: &[u8]) -> Option<Tag> {
        if t.is_empty() || t.len() > TAG_CAP {
            return None;
        }
        let mut bytes = [0; TAG_CAP];
        bytes[..t.len()].copy_from_slice(t);
        Some(Tag {
            bytes,
            len: t.len() as u8,
        })
    }
}

/// IMAP's lines: a tagged `STARTTLS` and the server's tagged `OK` for it.
#[derive(Debug, Default)]
struct Imap {
    starttls: Option<Tag>,
    /// Tags the server answered `OK` (a small ring).
    ok_tags: [Tag; 4],
    ok_next: usize,
    client_lines: u32,
    server_lines: u32,
}

/// `tag rest` split at the first space.
fn split_tag(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = find_byte(line, b' ')?;
    Some((&line[..sp], &line[sp + 1..]))
}

impl Dialect for Imap {
    fn client_line(&mut self, _cx: &mut Cx<'_>, line: &[u8], truncated: bool) -> Step {
        self.client_lines += 1;
        if truncated || self.client_lines > MAX_COMMANDS {
            return Step::Stop;
        }
        if let Some((tag, cmd)) = split_tag(line) {
            if cmd.eq_ignore_ascii_case(b"STARTTLS") {
                let Some(tag) = Tag::new(tag) else {
                    return Step::Going;
                };
                self.starttls = Some(tag);
                if self.ok_tags.contains(&tag) {
                    return Step::Upgrade;
                }
            }
        }
        Step::Going
    }

    fn server_line(&mut self, _cx: &mut Cx<'_>, line: &[u8], _truncated: bool) -> Step {
        self.server_lines += 1;
        if self.server_lines > MAX_SERVER_LINES {
            return Step::Stop;
        }
        let Some((tag, rest)) = split_tag(line) else {
            return Step::Going;
        };
        if tag == b"*" || tag == b"+" || !crate::text::starts_with_ci(rest, b"OK") {
            return Step::Going;
        }
        let Some(tag) = Tag::new(tag) else {
            return Step::Going;
        };
        if self.starttls == Some(tag) {
            return Step::Upgrade;
        }
        self.ok_tags[self.ok_next % self.ok_tags.len()] = tag;
        self.ok_next += 1;
        Step::Going
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
        run(&ImapInspector::new(), &info(Transport::Tcp, 143), p)
    }

    fn session() -> Vec<Piece> {
        vec![
            sc(b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot ready.\r\n"),
            cs(b"a001 CAPABILITY\r\n"),
            sc(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n"),
            cs(b"a002 STARTTLS\r\n"),
            sc(b"a002 OK Begin TLS negotiation now.\r\n"),
            cs(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        ]
    }

    #[test]
    fn starttls_accepted_upgrades_to_tls() {
        let o = go(&session());
        assert_eq!(o.upgrade, Some(("tls", None)));
        assert!(o.done);
        assert_eq!(go(&bytewise(&session())), o);
    }

    #[test]
    fn server_answer_seen_before_the_command_still_upgrades() {
        let s = session();
        let o = go(&[
            s[0].clone(),
            s[2].clone(),
            s[4].clone(),
            s[1].clone(),
            s[3].clone(),
        ]);
        assert_eq!(o.upgrade, Some(("tls", None)));
    }

    #[test]
    fn refused_or_other_tags_do_not_upgrade() {
        let o = go(&[
            sc(b"* OK ready\r\n"),
            cs(b"a1 STARTTLS\r\n"),
            sc(b"a1 BAD TLS support isn't enabled.\r\n"),
            cs(b"a2 LOGIN bob secret\r\n"),
            sc(b"a2 OK Logged in\r\n"),
        ]);
        assert_eq!(o.upgrade, None);
        assert!(!o.done);
    }

    #[test]
    fn garbage_gap_and_long_sessions_stop() {
        assert!(go(&[cs(&[b'x'; 3000])]).done);
        assert!(go(&[cs(&b"a NOOP\r\n".repeat(40))]).done);
        assert!(go(&[Piece::Gap(Direction::ToClient, 1)]).done);
        assert!(go(&[sc(&b"* 1 FETCH x\r\n".repeat(600))]).done);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_outcome(cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
            prop_assert_eq!(go(&split(&session(), &cuts)), go(&session()));
        }
    }
}
