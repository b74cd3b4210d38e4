//! Example plugin: a service inspector for memcached's text protocol (`"memcached"`),
//! a protocol the built-in inspectors do not cover.
//!
//! Contract:
//! - Names: the wizard learns lowercase command hexes (`get `, `gets `, `set `, `add `,
//!   `replace `, `append `, `prepend `, `cas `, `delete `, `incr `, `decr `, `touch `,
//!   `gat `, `gats `, `stats`, `version`, `flush_all`, `verbosity `), case-sensitive so
//!   that HTTP's `GET ` is never taken for memcached, preferring port 11211.
//! - Input: both directions from their start, in-order TCP chunks of any split,
//!   framed into lines of at most [`LINE_CAP`] bytes; the data blocks of storage
//!   commands and of `VALUE` replies are skipped by their announced length, never
//!   buffered.
//! - Output: one `memcached` event per request, when its reply completes (a `get`'s
//!   at `END`): `command`, `keys` (array), `status` (the reply's first word: `STORED`,
//!   `END`, `NOT_FOUND`, `DELETED`, `ERROR`, `CLIENT_ERROR`, `VALUE` counts, a number
//!   for incr/decr...) and, for retrievals, `hits` (values returned) and `bytes`.
//!   Requests still unanswered at flow end are emitted without `status`.
//! - At most [`MAX_PENDING`] requests wait for replies (later ones are counted in
//!   `dropped`); a gap, a line over the cap, or a block length that does not parse
//!   ends inspection of the flow (`done`). No input panics.

use flowengine_plugin_api::prelude::*;
use std::collections::VecDeque;

/// Longest line kept (longer lines end inspection).
pub const LINE_CAP: usize = 2048;
/// Requests waiting for their reply.
pub const MAX_PENDING: usize = 64;
/// Keys kept per request.
pub const MAX_KEYS: usize = 16;

/// The memcached service inspector.
#[derive(Debug, Default)]
pub struct Memcached;

const COMMANDS: &[&str] = &[
    "get ",
    "gets ",
    "set ",
    "add ",
    "replace ",
    "append ",
    "prepend ",
    "cas ",
    "delete ",
    "incr ",
    "decr ",
    "touch ",
    "gat ",
    "gats ",
    "stats",
    "version",
    "flush_all",
    "verbosity ",
];

impl ServiceInspector for Memcached {
    type Flow = McFlow;

    fn name(&self) -> &str {
        "memcached"
    }

    fn patterns(&self) -> Vec<Pattern> {
        COMMANDS
            .iter()
            .map(|c| Pattern::hex("memcached", c))
            .collect()
    }

    fn ports(&self) -> Vec<u16> {
        vec![11211]
    }

    fn start(&self, _flow: &FlowStart) -> Option<McFlow> {
        Some(McFlow::default())
    }
}

/// One request waiting for its reply.
#[derive(Debug, Default)]
struct Request {
    command: String,
    keys: Vec<String>,
    hits: u64,
    bytes: u64,
}

/// One direction's framing state.
#[derive(Debug, Default)]
struct Framer {
    line: Vec<u8>,
    /// Data-block bytes (with their CRLF) still to skip.
    skip: u64,
}

impl Framer {
    /// Feeds `data`, calling `on_line` for each complete line (without CRLF); stops
    /// early when `on_line` returns false. False when the direction must stop.
    fn feed(&mut self, mut data: &[u8], on_line: &mut dyn FnMut(&[u8], &mut u64) -> bool) -> bool {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = data
                    .len()
                    .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
                self.skip -= n as u64;
                data = data.get(n..).unwrap_or_default();
                continue;
            }
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (head, rest) = data.split_at(i);
                    data = rest.get(1..).unwrap_or_default();
                    if self.line.len() + head.len() > LINE_CAP {
                        return false;
                    }
                    self.line.extend_from_slice(head);
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    let go = on_line(&line, &mut self.skip);
                    line.clear();
                    self.line = line;
                    if !go {
                        return false;
                    }
                }
                None => {
                    if self.line.len() + data.len() > LINE_CAP {
                        return false;
                    }
                    self.line.extend_from_slice(data);
                    data = &[];
                }
            }
        }
        true
    }
}

/// The inspector's state on one flow.
#[derive(Debug, Default)]
pub struct McFlow {
    client: Framer,
    server: Framer,
    pending: VecDeque<Request>,
    /// The retrieval reply being read (`VALUE` lines until `END`).
    in_values: bool,
    dropped: u64,
    stopped: bool,
}

fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|w| !w.is_empty())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn number(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl McFlow {
    fn emit(cx: &mut Cx<'_>, r: &Request, status: Option<&str>) {
        let mut e = Event::new("memcached")
            .str("command", &r.command)
            .strs("keys", r.keys.iter().map(String::as_str));
        if let Some(s) = status {
            e = e.str("status", s);
        }
        if matches!(r.command.as_str(), "get" | "gets" | "gat" | "gats") {
            e = e.uint("hits", r.hits).uint("bytes", r.bytes);
        }
        cx.emit(e);
    }

    /// A client line: a command. Storage commands announce a data block.
    fn client_line(&mut self, line: &[u8], skip: &mut u64) -> bool {
        let mut w = words(line);
        let Some(cmd) = w.next() else {
            return true;
        };
        let command = text(cmd);
        let rest: Vec<&[u8]> = w.collect();
        let (keys, block): (&[&[u8]], Option<&[u8]>) = match command.as_str() {
            "set" | "add" | "replace" | "append" | "prepend" => {
                // <key> <flags> <exptime> <bytes> [noreply]
                (rest.get(..1).unwrap_or_default(), rest.get(3).copied())
            }
            "cas" => (rest.get(..1).unwrap_or_default(), rest.get(3).copied()),
            "get" | "gets" => (&rest[..], None),
            "gat" | "gats" => (rest.get(1..).unwrap_or_default(), None),
            "delete" | "incr" | "decr" | "touch" => (rest.get(..1).unwrap_or_default(), None),
            _ => (&[][..], None),
        };
        if let Some(b) = block {
            match number(b) {
                Some(n) => *skip = n.saturating_add(2),
                None => return false,
            }
        }
        let noreply = rest.last() == Some(&&b"noreply"[..]);
        if noreply {
            return true;
        }
        if self.pending.len() >= MAX_PENDING {
            self.dropped += 1;
            return true;
        }
        self.pending.push_back(Request {
            command,
            keys: keys.iter().take(MAX_KEYS).map(|k| text(k)).collect(),
            hits: 0,
            bytes: 0,
        });
        true
    }

    /// A server line: a reply, or a part of a multi-line one.
    fn server_line(&mut self, cx: &mut Cx<'_>, line: &[u8], skip: &mut u64) -> bool {
        let mut w = words(line);
        let first = w.next().unwrap_or_default();
        match first {
            b"VALUE" => {
                // VALUE <key> <flags> <bytes> [<cas>]
                let Some(n) = w.nth(2).and_then(number) else {
                    return false;
                };
                *skip = n.saturating_add(2);
                self.in_values = true;
                if let Some(r) = self.pending.front_mut() {
                    r.hits += 1;
                    r.bytes = r.bytes.saturating_add(n);
                }
                true
            }
            b"STAT" => true,
            _ => {
                self.in_values = false;
                let status = text(first);
                match self.pending.pop_front() {
                    Some(r) => Self::emit(cx, &r, Some(&status)),
                    None => cx.emit(Event::new("memcached").str("status", &status)),
                }
                true
            }
        }
    }
}

impl PluginFlow for McFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, data: Data<'_>) {
        if self.stopped {
            return;
        }
        let bytes = match data {
            Data::Bytes(b) => b,
            Data::Gap(_) => {
                self.stopped = true;
                cx.done();
                return;
            }
        };
        let ok = match dir {
            Direction::ToServer => {
                let mut client = std::mem::take(&mut self.client);
                let ok = client.feed(bytes, &mut |l, skip| self.client_line(l, skip));
                self.client = client;
                ok
            }
            Direction::ToClient => {
                let mut server = std::mem::take(&mut self.server);
                let ok = server.feed(bytes, &mut |l, skip| self.server_line(cx, l, skip));
                self.server = server;
                ok
            }
        };
        if !ok {
            self.stopped = true;
            cx.done();
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        while let Some(r) = self.pending.pop_front() {
            Self::emit(cx, &r, None);
        }
        if self.dropped > 0 {
            cx.emit(Event::new("memcached").uint("dropped", self.dropped));
        }
    }
}

fn inspectors(_config: &PluginConfig) -> Result<Vec<InspectorBox>, PluginError> {
    Ok(vec![InspectorBox::service(Memcached)])
}

export_plugin! {
    name: "memcached",
    version: env!("CARGO_PKG_VERSION"),
    inspectors: inspectors,
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowengine_plugin_api::{FfiChunk, FfiCx, Value};

    /// Runs `pieces` through a flow state via its FFI face; the events' JSON-ish
    /// (command, keys, status, hits) tuples.
    fn run(pieces: &[(Direction, &[u8])]) -> (Vec<Vec<(String, String)>>, bool) {
        let b = InspectorBox::service(Memcached).into_ffi();
        let ip = "10.0.0.1".parse().unwrap();
        let fs = FlowStart {
            flow_id: 1,
            transport: Transport::Tcp,
            ip_proto: 6,
            client: flowengine_plugin_api::Endpoint::new(ip, 40000),
            server: flowengine_plugin_api::Endpoint::new(ip, 11211),
        };
        let mut f = b.start(&fs).unwrap().unwrap();
        let mut cx = FfiCx::default();
        let mut out = Vec::new();
        let mut done = false;
        for (dir, p) in pieces {
            f.data(&mut cx, *dir, FfiChunk::Data((*p).into())).unwrap();
            done |= cx.done;
            out.extend(cx.events.drain(..));
        }
        f.end(&mut cx).unwrap();
        out.extend(cx.events.drain(..));
        let flat = out
            .iter()
            .map(|e| {
                e.fields
                    .iter()
                    .filter_map(|f| match &f.value {
                        Value::Str(s) if !f.key.is_empty() => {
                            Some((f.key.to_string(), s.to_string()))
                        }
                        Value::Str(s) => Some(("key".into(), s.to_string())),
                        Value::UInt(n) => Some((f.key.to_string(), n.to_string())),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        (flat, done)
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const TS: Direction = Direction::ToServer;
    const TC: Direction = Direction::ToClient;

    #[test]
    fn requests_pair_with_replies_and_blocks_are_skipped() {
        let (ev, done) = run(&[
            (TS, b"set k1 0 0 5\r\nab\r\nc\r\n"),
            (TC, b"STORED\r\n"),
            (TS, b"get k1 k2\r\n"),
            (TC, b"VALUE k1 0 5\r\nab\r\nc\r\nEND\r\n"),
            (TS, b"delete k2\r\nincr n 1\r\n"),
            (TC, b"NOT_FOUND\r\n7\r\n"),
        ]);
        assert!(!done);
        assert_eq!(
            ev,
            vec![
                kv(&[("command", "set"), ("key", "k1"), ("status", "STORED")]),
                kv(&[
                    ("command", "get"),
                    ("key", "k1"),
                    ("key", "k2"),
                    ("status", "END"),
                    ("hits", "1"),
                    ("bytes", "5")
                ]),
                kv(&[
                    ("command", "delete"),
                    ("key", "k2"),
                    ("status", "NOT_FOUND")
                ]),
                kv(&[("command", "incr"), ("key", "n"), ("status", "7")]),
            ]
        );
    }

    #[test]
    fn any_split_gives_the_same_events() {
        let whole: &[(Direction, &[u8])] = &[
            (TS, b"set k1 0 0 3 \r\nxyz\r\nget k1\r\n"),
            (TC, b"STORED\r\nVALUE k1 0 3\r\nxyz\r\nEND\r\n"),
        ];
        let want = run(whole);
        let mut bytewise = Vec::new();
        for (d, p) in whole {
            for i in 0..p.len() {
                bytewise.push((*d, &p[i..i + 1]));
            }
        }
        assert_eq!(run(&bytewise), want);
    }

    #[test]
    fn unanswered_requests_are_emitted_at_end_and_garbage_stops() {
        let (ev, _) = run(&[(TS, b"get a\r\n")]);
        assert_eq!(
            ev,
            vec![kv(&[
                ("command", "get"),
                ("key", "a"),
                ("hits", "0"),
                ("bytes", "0")
            ])]
        );
        let (_, done) = run(&[(TS, &[b'x'; 5000])]);
        assert!(done);
        let (_, done) = run(&[(TS, b"set k 0 0 lots\r\n")]);
        assert!(done);
        let (_, done) = run(&[(TC, b"VALUE k 0\r\n")]);
        assert!(done);
    }

    #[test]
    fn patterns_are_lowercase_hexes_preferring_11211() {
        let p = Memcached.patterns();
        assert!(p
            .iter()
            .all(|p| p.syntax == flowengine_plugin_api::PatternSyntax::Hex));
        assert!(p.iter().any(|p| p.pattern.as_str() == "get "));
        assert_eq!(Memcached.ports(), [11211]);
    }
}
