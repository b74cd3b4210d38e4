//! Text helpers shared by the line-oriented service inspectors (SMTP, IMAP, POP3, FTP,
//! SSH banners) and by every inspector that writes bytes into EVE strings.
//!
//! Contract:
//! - [`eve_string`] renders untrusted bytes the way Suricata's JSON builder does: valid
//!   UTF-8 as is, otherwise ASCII bytes as is and every other byte as `\xNN`.
//! - [`LineBuf`] frames a byte stream into lines (LF or CRLF ended) across chunks of any
//!   split. A line that arrives whole in one chunk is handed out in place (no copy);
//!   only a line split across chunks is copied, into a buffer bounded by the cap given
//!   at construction. A longer line is handed out truncated, flagged, and the rest of
//!   it is skipped: no input can make it grow past its cap.
//!   After lost bytes ([`LineBuf::gap`]) framing resumes after the next line end.
//! - [`ReplyOrder`] pairs the n-th command of a client with the n-th reply of its server
//!   (after the greeting), whichever side arrives first, without allocating: this is
//!   how the STARTTLS-style upgrades (SMTP, POP3, FTP) are recognised.

use std::fmt::Write as _;

/// Renders untrusted bytes as an EVE string, as Suricata's `set_string_from_bytes`
/// does: valid UTF-8 unchanged; otherwise each non-ASCII byte becomes `\xNN`.
pub(crate) fn eve_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for &b in bytes {
                if b.is_ascii() {
                    out.push(b as char);
                } else {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            out
        }
    }
}

/// Appends `bytes` to `out` rendered as [`eve_string`] renders them, as UTF-8 text
/// held in bytes (no `String` of its own): ASCII, the common case, is copied without
/// a UTF-8 validation.
pub(crate) fn push_eve_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
        out.extend_from_slice(bytes);
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        if b.is_ascii() {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        }
    }
}

/// Trims ASCII spaces and tabs at both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// True when `s` starts with `prefix`, ASCII case-insensitively.
pub(crate) fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Index of the first `needle` byte in `hay`.
#[inline]
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// What a line handler wants next from a [`LineBuf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineAction {
    /// Go on with the next line.
    Continue,
    /// The next this many bytes are raw (not lines): skip them (SMTP `BDAT`).
    Skip(u64),
    /// Stop: the rest of the input is not wanted.
    Stop,
}

/// Frames a byte stream into lines, bounded (see the module contract).
#[derive(Debug)]
pub(crate) struct LineBuf {
    pending: Vec<u8>,
    cap: usize,
    discarding: bool,
    skip: u64,
}

impl LineBuf {
    /// A framer whose lines are at most `cap` bytes (longer ones are truncated).
    pub(crate) fn new(cap: usize) -> Self {
        LineBuf {
            pending: Vec::new(),
            cap,
            discarding: false,
            skip: 0,
        }
    }

    /// Bytes were lost: the partial line is dropped, and so is the rest of the line the
    /// next bytes continue (framing resumes after the next line end).
    pub(crate) fn gap(&mut self) {
        self.pending.clear();
        self.skip = 0;
        self.discarding = true;
    }

    /// Feeds `data`, calling `f(line, truncated)` for each complete line (without its
    /// LF or CRLF). Returns `Some(rest)` with the bytes after the line where `f`
    /// stopped ([`LineAction::Stop`]), `None` when all of `data` was taken.
    pub(crate) fn feed<'d>(
        &mut self,
        mut data: &'d [u8],
        f: &mut impl FnMut(&[u8], bool) -> LineAction,
    ) -> Option<&'d [u8]> {
        loop {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.skip -= n as u64;
                data = &data[n..];
            }
            if data.is_empty() {
                return None;
            }
            let action = match find_byte(data, b'\n') {
                Some(i) => {
                    let part = &data[..i];
                    data = &data[i + 1..];
                    if self.discarding {
                        self.discarding = false;
                        continue;
                    }
                    if self.pending.is_empty() {
                        if part.len() > self.cap {
                            f(&part[..self.cap], true)
                        } else {
                            f(strip_cr(part), false)
                        }
                    } else {
                        let room = self.cap.saturating_sub(self.pending.len());
                        let truncated = part.len() > room;
                        self.pending
                            .extend_from_slice(&part[..part.len().min(room)]);
                        let line = std::mem::take(&mut self.pending);
                        let action = if truncated {
                            f(&line, true)
                        } else {
                            f(strip_cr(&line), false)
                        };
                        self.pending = line;
                        self.pending.clear();
                        action
                    }
                }
                None => {
                    if self.discarding {
                        return None;
                    }
                    let room = self.cap.saturating_sub(self.pending.len());
                    if data.len() <= room {
                        self.pending.extend_from_slice(data);
                        return None;
                    }
                    self.pending.extend_from_slice(&data[..room]);
                    data = &[];
                    let line = std::mem::take(&mut self.pending);
                    let action = f(&line, true);
                    self.pending = line;
                    self.pending.clear();
                    self.discarding = true;
                    action
                }
            };
            match action {
                LineAction::Continue => {}
                LineAction::Skip(n) => self.skip = n,
                LineAction::Stop => return Some(data),
            }
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line {
        [rest @ .., b'\r'] => rest,
        _ => line,
    }
}

/// Pairs the n-th client command with the n-th server reply (the greeting excluded),
/// to learn whether the server accepted one watched command (STARTTLS, STLS, AUTH
/// TLS), whichever side's bytes arrive first.
#[derive(Debug, Default)]
pub(crate) struct ReplyOrder {
    greeted: bool,
    commands: u64,
    replies: u64,
    watched: Option<u64>,
    /// Recent replies seen before their command: (index, accepting), a small ring.
    early: [(u64, bool); 8],
    early_len: usize,
}

impl ReplyOrder {
    /// The client sent a command; `watched` marks the one whose acceptance matters.
    /// Returns true when that watched command's reply was already seen, accepting.
    pub(crate) fn command(&mut self, watched: bool) -> bool {
        let index = self.commands;
        self.commands += 1;
        if !watched {
            return false;
        }
        self.watched = Some(index);
        let n = self.early_len.min(self.early.len());
        self.early[..n]
            .iter()
            .any(|&(i, accepting)| i == index && accepting)
    }

    /// The server sent a final reply; `accepting` tells whether it accepts the watched
    /// kind of command. Returns true when it answers the watched command and accepts.
    /// The first reply is the greeting and answers nothing.
    pub(crate) fn reply(&mut self, accepting: bool) -> bool {
        if !self.greeted {
            self.greeted = true;
            return false;
        }
        let index = self.replies;
        self.replies += 1;
        if index >= self.commands {
            let slot = self.early_len % self.early.len();
            self.early[slot] = (index, accepting);
            self.early_len += 1;
            return false;
        }
        self.watched == Some(index) && accepting
    }
}

#[cfg(test)]
pub(crate) mod harness {
    //! Drives a service inspector's FlowData through the real API, as the engine does.

    use flowengine::flow::Direction;
    use flowengine::inspect::{Actions, Chunk, Cx, Expectation, FlowInfo, Inspector, Transport};
    use flowengine::Timestamp;
    use std::net::{IpAddr, Ipv4Addr};

    /// One piece of a test exchange.
    #[derive(Clone, Debug)]
    pub(crate) enum Piece {
        Data(Direction, Vec<u8>),
        Gap(Direction, u32),
    }

    /// What the inspector did over a whole exchange.
    #[derive(Debug, Default, PartialEq)]
    pub(crate) struct Outcome {
        /// (event_type, to_json) of every event, in order.
        pub events: Vec<(&'static str, serde_json::Value)>,
        /// The last upgrade asked for.
        pub upgrade: Option<(&'static str, Option<Direction>)>,
        /// With it, the bytes of its chunk the old protocol used (`Cx::upgrade_at`).
        pub handover: Option<usize>,
        /// Whether the inspector said it was done.
        pub done: bool,
        /// Expected flows announced, in order.
        pub expectations: Vec<Expectation>,
    }

    /// The objects of `o`'s events, each checked to be of type `ty`.
    pub(crate) fn events_of(o: &Outcome, ty: &str) -> Vec<serde_json::Value> {
        o.events
            .iter()
            .map(|(t, v)| {
                assert_eq!(*t, ty);
                v.clone()
            })
            .collect()
    }

    pub(crate) fn info(transport: Transport, server_port: u16) -> FlowInfo {
        FlowInfo {
            flow_id: 1,
            transport,
            client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
            server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), server_port),
        }
    }

    /// Feeds `pieces` in order (stopping when the inspector is done), then ends it.
    pub(crate) fn run(insp: &dyn Inspector, flow: &FlowInfo, pieces: &[Piece]) -> Outcome {
        let mut out = Outcome::default();
        let Some(mut fd) = insp.start(flow) else {
            return out;
        };
        for piece in pieces {
            let mut actions = Actions::default();
            {
                let mut cx = Cx::new(Timestamp::ZERO, flow, &mut actions);
                match piece {
                    Piece::Data(dir, bytes) => fd.data(&mut cx, *dir, Chunk::Data(bytes)),
                    Piece::Gap(dir, n) => fd.data(&mut cx, *dir, Chunk::Gap(*n)),
                }
            }
            collect(&mut out, actions);
            if out.done {
                return out;
            }
        }
        let mut actions = Actions::default();
        {
            let mut cx = Cx::new(Timestamp::ZERO, flow, &mut actions);
            fd.end(&mut cx);
        }
        collect(&mut out, actions);
        out
    }

    fn collect(out: &mut Outcome, actions: Actions) {
        for e in &actions.events {
            // The EVE writer's direct path writes the object `to_json` gives.
            let mut text = Vec::new();
            e.write_json(&mut text);
            let written: serde_json::Value =
                serde_json::from_slice(&text).expect("write_json writes JSON");
            assert_eq!(written, e.to_json(), "{}", String::from_utf8_lossy(&text));
            out.events.push((e.event_type(), e.to_json()));
        }
        if actions.upgrade.is_some() {
            out.upgrade = actions.upgrade;
            out.handover = actions.handover;
        }
        out.done |= actions.done;
        out.expectations.extend_from_slice(&actions.expectations);
    }

    /// Splits every data piece at the given cut points (taken modulo its length), in
    /// order, keeping the bytes and their order per direction.
    pub(crate) fn split(pieces: &[Piece], cuts: &[usize]) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut cuts = cuts.iter().copied();
        for p in pieces {
            match p {
                Piece::Data(dir, bytes) if bytes.len() > 1 => {
                    let mut points: Vec<usize> = (0..3)
                        .filter_map(|_| cuts.next())
                        .map(|c| c % bytes.len())
                        .filter(|&c| c > 0)
                        .collect();
                    points.sort_unstable();
                    points.dedup();
                    let mut start = 0;
                    for c in points {
                        out.push(Piece::Data(*dir, bytes[start..c].to_vec()));
                        start = c;
                    }
                    out.push(Piece::Data(*dir, bytes[start..].to_vec()));
                }
                other => out.push(other.clone()),
            }
        }
        out
    }

    /// Every data piece fed one byte at a time.
    pub(crate) fn bytewise(pieces: &[Piece]) -> Vec<Piece> {
        let mut out = Vec::new();
        for p in pieces {
            match p {
                Piece::Data(dir, bytes) => {
                    out.extend(bytes.iter().map(|&b| Piece::Data(*dir, vec![b])));
                }
                other => out.push(other.clone()),
            }
        }
        out
    }

    /// Shorthands.
    pub(crate) fn cs(bytes: &[u8]) -> Piece {
        Piece::Data(Direction::ToServer, bytes.to_vec())
    }

    pub(crate) fn sc(bytes: &[u8]) -> Piece {
        Piece::Data(Direction::ToClient, bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(lb: &mut LineBuf, data: &[u8]) -> Vec<(Vec<u8>, bool)> {
        let mut got = Vec::new();
        lb.feed(data, &mut |l: &[u8], t| {
            got.push((l.to_vec(), t));
            LineAction::Continue
        });
        got
    }

    #[test]
    fn eve_string_escapes_invalid_utf8_like_suricata() {
        assert_eq!(eve_string(b"caf\xc3\xa9"), "café");
        assert_eq!(eve_string(b"a\xffb"), "a\\xffb");
        for bytes in [&b"caf\xc3\xa9"[..], b"a\xffb", b"", b"plain ascii", b"\x80"] {
            let mut out = b"x".to_vec();
            push_eve_bytes(&mut out, bytes);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("x{}", eve_string(bytes))
            );
        }
    }

    #[test]
    fn lines_split_anywhere_come_out_whole() {
        let mut lb = LineBuf::new(64);
        let mut all = Vec::new();
        for b in b"HELO a\r\nMAIL FROM:<x>\nlast" {
            all.extend(lines(&mut lb, &[*b]));
        }
        assert_eq!(
            all,
            vec![
                (b"HELO a".to_vec(), false),
                (b"MAIL FROM:<x>".to_vec(), false)
            ]
        );
        assert_eq!(lines(&mut lb, b"\r\n"), vec![(b"last".to_vec(), false)]);
    }

    #[test]
    fn overlong_line_is_truncated_and_the_rest_skipped() {
        let mut lb = LineBuf::new(4);
        let got = lines(&mut lb, b"abcdefgh\r\nok\r\n");
        assert_eq!(got, vec![(b"abcd".to_vec(), true), (b"ok".to_vec(), false)]);
        let mut lb = LineBuf::new(4);
        let mut got = lines(&mut lb, b"ab");
        got.extend(lines(&mut lb, b"cdefgh"));
        got.extend(lines(&mut lb, b"ij\nok\n"));
        assert_eq!(got, vec![(b"abcd".to_vec(), true), (b"ok".to_vec(), false)]);
    }

    #[test]
    fn skip_passes_raw_bytes_over() {
        let mut lb = LineBuf::new(64);
        let mut got = Vec::new();
        lb.feed(b"BDAT 5\r\nab\r\ncDONE\r\n", &mut |l: &[u8], _| {
            got.push(l.to_vec());
            if l.starts_with(b"BDAT") {
                LineAction::Skip(5)
            } else {
                LineAction::Continue
            }
        });
        assert_eq!(got, vec![b"BDAT 5".to_vec(), b"DONE".to_vec()]);
    }

    #[test]
    fn reply_order_pairs_commands_and_replies_either_way() {
        // In order: greeting, EHLO->250, STARTTLS->220.
        let mut r = ReplyOrder::default();
        assert!(!r.reply(true)); // greeting 220
        assert!(!r.command(false));
        assert!(!r.reply(false));
        assert!(!r.command(true));
        assert!(r.reply(true));
        // Server side seen first.
        let mut r = ReplyOrder::default();
        assert!(!r.reply(true));
        assert!(!r.reply(false));
        assert!(!r.reply(true));
        assert!(!r.command(false));
        assert!(r.command(true));
        // Refused.
        let mut r = ReplyOrder::default();
        r.reply(true);
        r.command(true);
        assert!(!r.reply(false));
    }
}
