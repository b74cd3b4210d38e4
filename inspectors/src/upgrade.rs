//! The shared machinery of the STARTTLS-only inspectors (IMAP, POP3, FTP): frame both
//! directions into lines, hand each line to the protocol's dialect, and turn its verdict
//! into an upgrade to TLS or the end of the inspection.
//!
//! Contract: a [`Dialect`] sees every line of the client ([`Dialect::client_line`]) and
//! of the server ([`Dialect::server_line`]) in order, with `truncated` set when a line
//! was longer than the line cap (its first bytes only), and the call's [`Cx`] (FTP
//! announces its data connections through it). [`Step::Upgrade`] calls
//! `cx.upgrade("tls", None)` and `cx.done()`; [`Step::Stop`] calls `cx.done()`; after
//! either nothing more is looked at. After a gap nothing more is looked at either,
//! unless [`Dialect::gap`] says to go on: then that direction resumes at its next
//! complete line (the partial line is dropped).

use crate::text::{LineAction, LineBuf};
use flowengine::flow::Direction;
use flowengine::inspect::{Chunk, Cx, FlowData};

/// What a line decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep reading.
    Going,
    /// The server accepted the client's STARTTLS: TLS from the next chunk.
    Upgrade,
    /// Nothing more to learn.
    Stop,
}

/// A protocol's reading of its lines.
pub(crate) trait Dialect: Send + 'static {
    /// A client line.
    fn client_line(&mut self, cx: &mut Cx<'_>, line: &[u8], truncated: bool) -> Step;
    /// A server line.
    fn server_line(&mut self, cx: &mut Cx<'_>, line: &[u8], truncated: bool) -> Step;
    /// Bytes of direction `dir` were lost: true to go on reading at the next line
    /// (default: stop).
    fn gap(&mut self, _dir: Direction) -> bool {
        false
    }
}

/// A flow watched for an upgrade to TLS, line by line.
#[derive(Debug)]
pub(crate) struct UpgradeWatch<D> {
    lines: [LineBuf; 2],
    dialect: D,
    finished: bool,
}

impl<D: Dialect> UpgradeWatch<D> {
    /// Lines of at most `line_cap` bytes are framed for `dialect`.
    pub(crate) fn new(dialect: D, line_cap: usize) -> Self {
        UpgradeWatch {
            lines: [LineBuf::new(line_cap), LineBuf::new(line_cap)],
            dialect,
            finished: false,
        }
    }
}

impl<D: Dialect> FlowData for UpgradeWatch<D> {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            return;
        }
        let Chunk::Data(d) = chunk else {
            if self.dialect.gap(dir) {
                self.lines[dir.index()].gap();
            } else {
                self.finished = true;
                cx.done();
            }
            return;
        };
        let mut step = Step::Going;
        let dialect = &mut self.dialect;
        self.lines[dir.index()].feed(d, &mut |line: &[u8], truncated| {
            step = match dir {
                Direction::ToServer => dialect.client_line(cx, line, truncated),
                Direction::ToClient => dialect.server_line(cx, line, truncated),
            };
            if step == Step::Going {
                LineAction::Continue
            } else {
                LineAction::Stop
            }
        });
        match step {
            Step::Going => {}
            Step::Upgrade => {
                cx.upgrade("tls", None);
                self.finished = true;
                cx.done();
            }
            Step::Stop => {
                self.finished = true;
                cx.done();
            }
        }
    }
}
