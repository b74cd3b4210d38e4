//! SMTP service inspector (`"smtp"`): one EVE `smtp` event per mail transaction, and
//! the STARTTLS hand-over to TLS.
//!
//! Contract:
//! - Input: both directions from their start, in-order TCP chunks of any split,
//!   framed into lines by a line framer (lines over [`LINE_CAP`] bytes are truncated;
//!   nothing grows past that).
//! - Client commands: `HELO`/`EHLO` give `helo`, `MAIL FROM:` gives `mail_from`,
//!   `RCPT TO:` adds to `rcpt_to` (at most [`MAX_RCPT`]), each value read as Suricata's
//!   `app-layer-smtp.c` reads it (after the colon, spaces skipped, up to the next
//!   space: `<user@host>` with its brackets). `DATA` switches to the message: its
//!   `From`, `To`, `Cc` and `Subject` headers (unfolded, each at most [`LINE_CAP`]
//!   bytes) give the `email` object, and the line `.` ends it. `BDAT` chunks are
//!   skipped by their size.
//! - Events: one [`SmtpEvent`] per transaction, emitted when its message ends, on
//!   `RSET`, on STARTTLS, at a gap, or at flow end (a session that only said `HELO`
//!   gives one event with its `helo`; one whose commands filled nothing, such as a
//!   lone `QUIT`, an empty one, as Suricata logs its first transaction). Its JSON is
//!   Suricata's `smtp` object (`helo`, `mail_from`, `rcpt_to`); Suricata writes the
//!   `email` object beside it in the same record, so it comes from
//!   [`SmtpEvent::email_json`] for the EVE writer to place.
//! - STARTTLS: when the client's `STARTTLS` is answered `220` (the n-th command paired
//!   with the n-th reply after the greeting, see `text::ReplyOrder`), the inspector calls
//!   `cx.upgrade("tls", None)` and `cx.done()`.
//! - Errors end the inspection (`cx.done()`, after emitting the open transaction): a
//!   server line that is not a reply, a truncated command line, a gap, or
//!   [`MAX_UNKNOWN`] unknown commands in a row.

use crate::text::{eve_string, starts_with_ci, trim, LineAction, LineBuf, ReplyOrder};
use flowengine::flow::Direction;
use flowengine::inspect::{AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind};
use serde_json::{Map, Value};
use std::any::Any;

/// Longest line kept (command, reply or message line); longer ones are truncated.
pub const LINE_CAP: usize = 4096;
/// Most recipients kept per transaction.
pub const MAX_RCPT: usize = 100;
/// Unknown commands in a row that end the inspection.
pub const MAX_UNKNOWN: u32 = 10;

/// The SMTP service inspector.
#[derive(Debug, Default)]
pub struct SmtpInspector;

impl SmtpInspector {
    /// A new inspector.
    pub fn new() -> Self {
        SmtpInspector
    }
}

impl Inspector for SmtpInspector {
    fn name(&self) -> &str {
        "smtp"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["smtp"]
    }

    fn start(&self, _flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(SmtpFlow::default()))
    }
}

/// The `email` object: headers of the message sent with `DATA`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Email {
    /// `From`.
    pub from: Option<String>,
    /// `To`, split on commas.
    pub to: Vec<String>,
    /// `Cc`, split on commas.
    pub cc: Vec<String>,
    /// `Subject`.
    pub subject: Option<String>,
    /// The message ended with its `.` line.
    pub complete: bool,
}

/// One SMTP transaction, as Suricata's EVE `smtp` (and `email`) objects name it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmtpEvent {
    /// The `HELO`/`EHLO` argument.
    pub helo: Option<String>,
    /// The `MAIL FROM` argument.
    pub mail_from: Option<String>,
    /// The `RCPT TO` arguments.
    pub rcpt_to: Vec<String>,
    /// The message's headers, when a message was sent.
    pub email: Option<Email>,
}

impl SmtpEvent {
    /// Suricata's `email` object for this transaction (written beside `smtp` in the
    /// same EVE record), when a message was sent.
    pub fn email_json(&self) -> Option<Value> {
        let e = self.email.as_ref()?;
        let mut m = Map::new();
        if e.complete {
            m.insert("status".into(), "PARSED_COMPLETE".into());
        }
        if let Some(f) = &e.from {
            m.insert("from".into(), f.clone().into());
        }
        if !e.to.is_empty() {
            m.insert("to".into(), e.to.clone().into());
        }
        if !e.cc.is_empty() {
            m.insert("cc".into(), e.cc.clone().into());
        }
        if let Some(s) = &e.subject {
            m.insert("subject".into(), s.clone().into());
        }
        Some(Value::Object(m))
    }

    fn is_empty(&self) -> bool {
        self.mail_from.is_none() && self.rcpt_to.is_empty() && self.email.is_none()
    }
}

impl AppEvent for SmtpEvent {
    fn event_type(&self) -> &'static str {
        "smtp"
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(h) = &self.helo {
            m.insert("helo".into(), h.clone().into());
        }
        if let Some(f) = &self.mail_from {
            m.insert("mail_from".into(), f.clone().into());
        }
        if !self.rcpt_to.is_empty() {
            m.insert("rcpt_to".into(), self.rcpt_to.clone().into());
        }
        Value::Object(m)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Which header of the message is being read (for folded continuation lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    From,
    To,
    Cc,
    Subject,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Command,
    /// In the message: in its headers (with the header being read) or its body.
    Data {
        headers: bool,
        field: Field,
    },
}

/// The per-flow state of the SMTP inspector.
#[derive(Debug)]
struct SmtpFlow {
    client: LineBuf,
    server: LineBuf,
    mode: Mode,
    order: ReplyOrder,
    helo: Option<String>,
    tx: SmtpEvent,
    /// Raw header values being unfolded: From, To, Cc, Subject.
    raw: [Vec<u8>; 4],
    emitted: bool,
    /// The client sent a command line: Suricata has a transaction open.
    commanded: bool,
    unknown: u32,
    finished: bool,
}

impl Default for SmtpFlow {
    fn default() -> Self {
        SmtpFlow {
            client: LineBuf::new(LINE_CAP),
            server: LineBuf::new(LINE_CAP),
            mode: Mode::Command,
            order: ReplyOrder::default(),
            helo: None,
            tx: SmtpEvent::default(),
            raw: Default::default(),
            emitted: false,
            commanded: false,
            unknown: 0,
            finished: false,
        }
    }
}

/// What a line asked of the flow after the line buffer let go of it.
enum After {
    Nothing,
    Upgrade,
    Fail,
}

impl FlowData for SmtpFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            return;
        }
        let d = match chunk {
            Chunk::Data(d) => d,
            Chunk::Gap(_) => {
                self.finish(cx);
                return;
            }
        };
        let mut after = After::Nothing;
        match dir {
            Direction::ToServer => {
                let mut lb = std::mem::replace(&mut self.client, LineBuf::new(0));
                lb.feed(d, &mut |line: &[u8], truncated| {
                    let (action, a) = self.client_line(cx, line, truncated);
                    after = a;
                    action
                });
                self.client = lb;
            }
            Direction::ToClient => {
                let mut lb = std::mem::replace(&mut self.server, LineBuf::new(0));
                lb.feed(d, &mut |line: &[u8], _| {
                    let (action, a) = self.server_line(line);
                    after = a;
                    action
                });
                self.server = lb;
            }
        }
        match after {
            After::Nothing => {}
            After::Upgrade => {
                self.emit(cx, true);
                cx.upgrade("tls", None);
                self.finished = true;
                cx.done();
            }
            After::Fail => self.finish(cx),
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.emit(cx, true);
        }
    }
}

/// The value of a command parameter as Suricata reads it: after `skip` bytes, spaces
/// skipped, up to the next space.
fn param(line: &[u8], skip: usize) -> String {
    let rest = line.get(skip..).unwrap_or(&[]);
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let rest = &rest[start..];
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    eve_string(&rest[..end])
}

/// A reply line's code and whether it is the reply's last line.
pub(crate) fn reply_code(line: &[u8]) -> Option<(u16, bool)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') => Some((code, true)),
        Some(b'-') => Some((code, false)),
        _ => None,
    }
}

impl SmtpFlow {
    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.emit(cx, true);
        self.finished = true;
        cx.done();
    }

    /// Emits the open transaction if it has anything (or, with `helo_alone`, if it is
    /// the session's only one: Suricata's first command opens a transaction, which it
    /// logs even when the command filled nothing, as a session of only `QUIT` gives
    /// `"smtp": {}`).
    fn emit(&mut self, cx: &mut Cx<'_>, helo_alone: bool) {
        self.close_message();
        let tx = std::mem::take(&mut self.tx);
        if !tx.is_empty() || (helo_alone && !self.emitted && self.commanded) {
            cx.emit(Box::new(SmtpEvent {
                helo: self.helo.clone(),
                ..tx
            }));
            self.emitted = true;
        }
    }

    /// Turns the raw headers read so far into the transaction's `email`.
    fn close_message(&mut self) {
        if self.raw.iter().all(Vec::is_empty) {
            return;
        }
        let email = self.tx.email.get_or_insert_with(Email::default);
        let text = |v: &[u8]| eve_string(trim(v));
        let list = |v: &[u8]| {
            v.split(|&b| b == b',')
                .map(trim)
                .filter(|s| !s.is_empty())
                .map(eve_string)
                .collect::<Vec<_>>()
        };
        let [from, to, cc, subject] = &mut self.raw;
        if !from.is_empty() {
            email.from = Some(text(from));
        }
        if !to.is_empty() {
            email.to = list(to);
        }
        if !cc.is_empty() {
            email.cc = list(cc);
        }
        if !subject.is_empty() {
            email.subject = Some(text(subject));
        }
        for r in &mut self.raw {
            r.clear();
        }
    }

    fn client_line(
        &mut self,
        cx: &mut Cx<'_>,
        line: &[u8],
        truncated: bool,
    ) -> (LineAction, After) {
        match self.mode {
            Mode::Data { headers, field } => {
                if line == b"." {
                    self.mode = Mode::Command;
                    self.tx.email.get_or_insert_with(Email::default).complete = true;
                    // The server's reply to the message answers this "command".
                    let _ = self.order.command(false);
                    self.emit(cx, false);
                    return (LineAction::Continue, After::Nothing);
                }
                if headers {
                    self.header_line(line, field);
                }
                (LineAction::Continue, After::Nothing)
            }
            Mode::Command => self.command(cx, line, truncated),
        }
    }

    fn header_line(&mut self, line: &[u8], field: Field) {
        if line.is_empty() {
            self.mode = Mode::Data {
                headers: false,
                field: Field::Other,
            };
            return;
        }
        let (field, value) = if matches!(line.first(), Some(b' ' | b'\t')) {
            // A folded continuation of the previous header.
            (field, line)
        } else {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return;
            };
            let name = trim(&line[..colon]);
            let f = if name.eq_ignore_ascii_case(b"from") {
                Field::From
            } else if name.eq_ignore_ascii_case(b"to") {
                Field::To
            } else if name.eq_ignore_ascii_case(b"cc") {
                Field::Cc
            } else if name.eq_ignore_ascii_case(b"subject") {
                Field::Subject
            } else {
                Field::Other
            };
            (f, &line[colon + 1..])
        };
        self.mode = Mode::Data {
            headers: true,
            field,
        };
        let slot = match field {
            Field::From => 0,
            Field::To => 1,
            Field::Cc => 2,
            Field::Subject => 3,
            Field::Other => return,
        };
        let raw = &mut self.raw[slot];
        let room = LINE_CAP.saturating_sub(raw.len());
        raw.extend_from_slice(&value[..value.len().min(room)]);
    }

    fn command(&mut self, cx: &mut Cx<'_>, line: &[u8], truncated: bool) -> (LineAction, After) {
        if truncated {
            return (LineAction::Stop, After::Fail);
        }
        self.commanded = true;
        let mut known = true;
        let mut skip = None;
        let starttls = line.eq_ignore_ascii_case(b"STARTTLS");
        if starts_with_ci(line, b"HELO") || starts_with_ci(line, b"EHLO") {
            self.helo = Some(param(line, 5));
        } else if starts_with_ci(line, b"MAIL FROM") {
            if !self.tx.is_empty() {
                self.emit(cx, false);
            }
            self.tx.mail_from = Some(param(line, 10));
        } else if starts_with_ci(line, b"RCPT TO") {
            if self.tx.rcpt_to.len() < MAX_RCPT {
                self.tx.rcpt_to.push(param(line, 8));
            }
        } else if line.eq_ignore_ascii_case(b"DATA") {
            self.mode = Mode::Data {
                headers: true,
                field: Field::Other,
            };
        } else if starts_with_ci(line, b"BDAT ") {
            let size = trim(&line[5..])
                .split(|&b| b == b' ')
                .next()
                .filter(|s| !s.is_empty() && s.len() <= 19 && s.iter().all(u8::is_ascii_digit))
                .map(|s| s.iter().fold(0u64, |a, d| a * 10 + u64::from(d - b'0')));
            match size {
                Some(n) => skip = Some(n),
                None => return (LineAction::Stop, After::Fail),
            }
        } else if line.eq_ignore_ascii_case(b"RSET") {
            self.emit(cx, false);
        } else if !(starttls
            || [
                "QUIT", "NOOP", "VRFY", "EXPN", "HELP", "AUTH", "TURN", "ETRN", "ATRN", "XCLIENT",
                "XEXCH50",
            ]
            .iter()
            .any(|c| starts_with_ci(line, c.as_bytes())))
        {
            // Could be an AUTH continuation (base64): tolerated, a few in a row.
            known = false;
        }
        self.unknown = if known { 0 } else { self.unknown + 1 };
        if self.unknown >= MAX_UNKNOWN {
            return (LineAction::Stop, After::Fail);
        }
        if self.order.command(starttls) {
            return (LineAction::Stop, After::Upgrade);
        }
        match skip {
            Some(n) => (LineAction::Skip(n), After::Nothing),
            None => (LineAction::Continue, After::Nothing),
        }
    }

    fn server_line(&mut self, line: &[u8]) -> (LineAction, After) {
        match reply_code(line) {
            Some((_, false)) => (LineAction::Continue, After::Nothing),
            Some((code, true)) => {
                if self.order.reply(code == 220) {
                    (LineAction::Stop, After::Upgrade)
                } else {
                    (LineAction::Continue, After::Nothing)
                }
            }
            None => (LineAction::Stop, After::Fail),
        }
    }
}

#[cfg(test)]
mod tests;
