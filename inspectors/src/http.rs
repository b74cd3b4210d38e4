//! HTTP/1 service inspector (`"http"`): one EVE `http` event per transaction.
//!
//! Contract:
//! - Input: each direction's payload from its start, as in-order TCP chunks of any
//!   split. Header blocks are parsed with `httparse`, in place when a block arrives
//!   whole in one chunk; a block split across chunks is copied into a per-direction
//!   buffer of at most [`HEADER_CAP`] bytes (64 KiB). A longer block ends the
//!   inspection of that direction.
//! - Many transactions per flow: keep-alive and pipelining. Bodies are skipped by
//!   `Content-Length`, chunked transfer coding (decoded as a stream, nothing buffered),
//!   or until the connection closes; `HEAD` and 1xx/204/304 responses have none.
//!   Requests wait for their response in a queue of at most [`MAX_PENDING`]; past it
//!   the oldest is emitted alone.
//! - Events: a request paired with its response when the response (and its body) is
//!   complete; a response without a request (mid-stream start, or its request lost)
//!   alone; requests still waiting at flow end alone. Field names are Suricata's
//!   (`output-json-http.c`, basic and extended: `hostname`, `http_port`, `url`,
//!   `http_user_agent`, `xff`, `http_content_type`, `http_refer`, `http_method`,
//!   `protocol`, `status`, `redirect`, `length`).
//! - `Upgrade: websocket` answered by `101` upgrades the flow to `"websocket"`,
//!   `Upgrade: h2c` + `101` to `"http2"`; a `2xx` answer to `CONNECT` starts a tunnel.
//!   In all three cases the inspector is done with the flow; after a `101`, the rest
//!   of the chunk that carried it goes to the new service's inspector.
//! - Bad input never panics. A message that does not parse, or a gap, makes that
//!   direction resynchronise at the next request line (a known method) or status line
//!   (`HTTP/`) found at a line start or at the start of a chunk; after [`RESYNC_CAP`] bytes
//!   without one, the direction is given up, and with both given up the inspector is
//!   done.

use crate::text::{find_byte, push_eve_bytes};
use flowengine::flow::Direction;
use flowengine::inspect::{AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind};
use flowengine::record::json;
use serde_json::Value;
use std::any::Any;
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::mem::MaybeUninit;

/// Largest header block (request or response line and headers) kept across chunks.
pub const HEADER_CAP: usize = 64 * 1024;
/// Most requests waiting for their responses (pipelining).
pub const MAX_PENDING: usize = 64;
/// Bytes scanned for a message start after a parse error or a gap before giving up.
pub const RESYNC_CAP: u64 = 256 * 1024;
/// Most headers in one message.
const MAX_HEADERS: usize = 128;
/// Longest chunk-size line or trailer line.
const CHUNK_LINE_CAP: usize = 8 * 1024;

/// Request methods that mark a request line when resynchronising.
const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
    b"PATCH ",
];

/// The HTTP/1 service inspector.
#[derive(Debug, Default)]
pub struct HttpInspector;

impl HttpInspector {
    /// A new inspector.
    pub fn new() -> Self {
        HttpInspector
    }
}

impl Inspector for HttpInspector {
    fn name(&self) -> &str {
        "http"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        &["http"]
    }

    fn start(&self, _flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(HttpFlow::default()))
    }
}

/// One HTTP transaction, as Suricata's EVE `http` object names its fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpEvent {
    /// Host of the request (absolute URI, else `Host` header), lowercased, no port.
    pub hostname: Option<String>,
    /// Port given in the host, when one is.
    pub http_port: Option<u16>,
    /// The request target as sent.
    pub url: Option<String>,
    /// `User-Agent`.
    pub http_user_agent: Option<String>,
    /// `X-Forwarded-For`.
    pub xff: Option<String>,
    /// Response `Content-Type`, without parameters.
    pub http_content_type: Option<String>,
    /// `Referer`.
    pub http_refer: Option<String>,
    /// Request method.
    pub http_method: Option<String>,
    /// Request protocol (`HTTP/1.1`).
    pub protocol: Option<String>,
    /// Response status code.
    pub status: Option<u16>,
    /// Response `Location`.
    pub redirect: Option<String>,
    /// Response body length seen, as Suricata logs it (libhtp's message length: the
    /// body as sent, chunk framing included up to the last chunk, trailer excluded).
    pub length: u64,
}

/// Suricata's EVE `http` object, its fields in Suricata's order; absent fields are left
/// out.
impl serde::Serialize for HttpEvent {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = ser.serialize_map(None)?;
        let text = |m: &mut S::SerializeMap, k: &str, v: &Option<String>| match v {
            Some(v) => m.serialize_entry(k, v),
            None => Ok(()),
        };
        text(&mut m, "hostname", &self.hostname)?;
        if let Some(p) = self.http_port {
            m.serialize_entry("http_port", &p)?;
        }
        text(&mut m, "url", &self.url)?;
        text(&mut m, "http_user_agent", &self.http_user_agent)?;
        text(&mut m, "xff", &self.xff)?;
        text(&mut m, "http_content_type", &self.http_content_type)?;
        text(&mut m, "http_refer", &self.http_refer)?;
        text(&mut m, "http_method", &self.http_method)?;
        text(&mut m, "protocol", &self.protocol)?;
        if let Some(st) = self.status {
            m.serialize_entry("status", &st)?;
        }
        text(&mut m, "redirect", &self.redirect)?;
        m.serialize_entry("length", &self.length)?;
        m.end()
    }
}

impl AppEvent for HttpEvent {
    fn event_type(&self) -> &'static str {
        "http"
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        // Straight to text (the hot path); the same fields, in the same order, as the
        // `Serialize` impl above.
        let mut m = json::Object::open(out);
        m.opt_str("hostname", self.hostname.as_deref());
        if let Some(p) = self.http_port {
            m.u64("http_port", u64::from(p));
        }
        m.opt_str("url", self.url.as_deref());
        m.opt_str("http_user_agent", self.http_user_agent.as_deref());
        m.opt_str("xff", self.xff.as_deref());
        m.opt_str("http_content_type", self.http_content_type.as_deref());
        m.opt_str("http_refer", self.http_refer.as_deref());
        m.opt_str("http_method", self.http_method.as_deref());
        m.opt_str("protocol", self.protocol.as_deref());
        if let Some(st) = self.status {
            m.u64("status", u64::from(st));
        }
        m.opt_str("redirect", self.redirect.as_deref());
        m.u64("length", self.length);
        m.close();
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A transaction as emitted: its packed text is written to EVE as it is (no
/// [`HttpEvent`], no string per field); the [`HttpEvent`] is made only when asked
/// for, by [`AppEvent::as_any`] (which gives it: downcasts find an `HttpEvent`, as
/// before), [`AppEvent::to_json`] or `Debug`.
struct TxEvent {
    tx: Tx,
    event: OnceCell<Box<HttpEvent>>,
}

impl TxEvent {
    fn boxed(tx: Tx) -> Box<dyn AppEvent> {
        Box::new(TxEvent {
            tx,
            event: OnceCell::new(),
        })
    }

    fn event(&self) -> &HttpEvent {
        self.event.get_or_init(|| Box::new(self.tx.to_event()))
    }
}

impl std::fmt::Debug for TxEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.event().fmt(f)
    }
}

impl AppEvent for TxEvent {
    fn event_type(&self) -> &'static str {
        "http"
    }

    fn to_json(&self) -> Value {
        self.event().to_json()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        // The fields of `HttpEvent::write_json`, in the same order, from the packed
        // text: checked for escapes once as a whole (the usual case: nothing to
        // escape), else field by field.
        let t = &self.tx;
        let clean = json::clean(&t.text);
        let mut m = json::Object::open(out);
        // A macro, not a closure: the keys stay literals (copied as constants).
        macro_rules! text {
            ($k:literal, $f:expr) => {
                if clean {
                    m.opt_clean_utf8($k, t.get($f));
                } else {
                    m.opt_utf8($k, t.get($f));
                }
            };
        }
        text!("hostname", Field::Hostname);
        if let Some(p) = t.http_port {
            m.u64("http_port", u64::from(p));
        }
        text!("url", Field::Url);
        text!("http_user_agent", Field::UserAgent);
        text!("xff", Field::Xff);
        text!("http_content_type", Field::ContentType);
        text!("http_refer", Field::Refer);
        text!("http_method", Field::Method);
        text!("protocol", Field::Protocol);
        if let Some(st) = t.status {
            m.u64("status", u64::from(st));
        }
        text!("redirect", Field::Redirect);
        m.u64("length", t.length);
        m.close();
    }

    fn as_any(&self) -> &dyn Any {
        self.event()
    }
}

/// The text fields of a transaction, in the order a [`Tx`] lays them out (the
/// request's, then the response's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Url,
    Method,
    Protocol,
    UserAgent,
    Xff,
    Refer,
    Hostname,
    ContentType,
    Redirect,
}

/// Text fields of a transaction.
const FIELDS: usize = 9;

impl Field {
    /// Every field, in layout order.
    #[cfg(test)]
    const ALL: [Field; FIELDS] = [
        Field::Url,
        Field::Method,
        Field::Protocol,
        Field::UserAgent,
        Field::Xff,
        Field::Refer,
        Field::Hostname,
        Field::ContentType,
        Field::Redirect,
    ];
}

/// A transaction in flight, with what its response parsing needs to know. Its text
/// fields share one buffer (one allocation, not one per field: about 170 bytes less
/// per transaction in flight than an [`HttpEvent`]); emitted, it is the event
/// ([`TxEvent`]) as it is.
#[derive(Debug, Default)]
struct Tx {
    /// The text fields present, one after another, in [`Field`] order: UTF-8 text
    /// (each field is a `&str` or [`push_eve_bytes`]'s rendering), held as bytes so
    /// that no step validates it again.
    text: Vec<u8>,
    /// Where field `i` ends in `text` (for `i < laid`); it starts where field `i - 1`
    /// ends (or at 0). An absent field below `laid` is empty there.
    ends: [u32; FIELDS],
    /// Bit `i`: field `i` is present.
    present: u16,
    /// Fields laid out so far: the next one set must come at or after it.
    laid: u8,
    head: bool,
    connect: bool,
    http_port: Option<u16>,
    status: Option<u16>,
    /// Response body length seen (libhtp's `response_message_len`).
    length: u64,
    /// The response declares a Content-Encoding libhtp decompresses (gzip, deflate,
    /// lzma): a gap in its body is not counted in `length`.
    compressed: bool,
    upgrade: Option<Upgrade>,
}

impl Tx {
    /// Sets field `f` (after every field set so far, in [`Field`] order) to what
    /// `write` appends to the text.
    fn set(&mut self, f: Field, write: impl FnOnce(&mut Vec<u8>)) {
        let i = f as usize;
        let laid = usize::from(self.laid);
        debug_assert!(i >= laid, "{f:?} set out of order");
        if i < laid {
            return;
        }
        // Header blocks are at most a chunk long (far below 4 GiB), so are the
        // texts made of them.
        let here = self.text.len() as u32;
        self.ends[laid..i].fill(here);
        write(&mut self.text);
        self.ends[i] = self.text.len() as u32;
        self.present |= 1 << i;
        self.laid = i as u8 + 1;
    }

    /// Field `f`, when present (UTF-8 text).
    fn get(&self, f: Field) -> Option<&[u8]> {
        let i = f as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize)
    }

    /// The transaction as an [`HttpEvent`].
    fn to_event(&self) -> HttpEvent {
        // The text is UTF-8 by construction: the lossy conversion never replaces.
        let text = |f| self.get(f).map(|t| String::from_utf8_lossy(t).into_owned());
        HttpEvent {
            hostname: text(Field::Hostname),
            http_port: self.http_port,
            url: text(Field::Url),
            http_user_agent: text(Field::UserAgent),
            xff: text(Field::Xff),
            http_content_type: text(Field::ContentType),
            http_refer: text(Field::Refer),
            http_method: text(Field::Method),
            protocol: text(Field::Protocol),
            status: self.status,
            redirect: text(Field::Redirect),
            length: self.length,
        }
    }
}

/// Chunked transfer coding, decoded as a stream.
#[derive(Clone, Copy, Debug)]
enum Chunked {
    Size {
        value: u64,
        digits: u8,
        ext: bool,
        len: usize,
    },
    Data(u64),
    DataEnd,
    Trailer {
        len: usize,
    },
}

#[derive(Clone, Copy, Debug)]
enum Body {
    Length(u64),
    Chunked(Chunked),
    UntilClose,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Headers,
    Body(Body),
    Resync { scanned: u64 },
    Dead,
}

/// A header block split across chunks: boxed, one word per direction while (as
/// between transactions) there is none.
#[derive(Debug, Default)]
#[allow(clippy::box_collection)]
struct Split(Option<Box<Vec<u8>>>);

impl Split {
    fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|b| b.is_empty())
    }

    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |b| b.len())
    }

    fn as_slice(&self) -> &[u8] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0
            .get_or_insert_with(Default::default)
            .extend_from_slice(bytes);
    }

    /// Takes the bytes out, leaving none.
    fn take(&mut self) -> Vec<u8> {
        self.0.take().map(|b| *b).unwrap_or_default()
    }

    /// Heap bytes held (tests).
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |b| std::mem::size_of::<Vec<u8>>() + b.capacity())
    }
}

#[derive(Debug)]
struct Side {
    state: State,
    /// A header block split across chunks.
    buf: Split,
}

impl Default for Side {
    fn default() -> Self {
        Side {
            state: State::Headers,
            buf: Split::default(),
        }
    }
}

impl Side {
    fn resync(&mut self) {
        self.buf = Split::default();
        self.state = State::Resync { scanned: 0 };
    }
}

/// The per-flow state of the HTTP inspector.
///
/// Memory: the transactions in flight share one queue, whose heap is freed whenever it
/// empties (after each call), and a header block's buffer is freed once parsed, so a
/// connection idle between transactions holds no heap here.
#[derive(Debug, Default)]
struct HttpFlow {
    req: Side,
    resp: Side,
    /// Transactions in flight, oldest first. While `reading`, the first is the
    /// response being read (headers done, body in progress); the others are requests
    /// waiting for their responses.
    txs: VecDeque<Tx>,
    /// The first of `txs` is the response being read.
    reading: bool,
    /// The service a `101` switched to, announced once the chunk's offset is known.
    upgraded: Option<Upgrade>,
    finished: bool,
}

/// What a parsed header block tells the stream.
enum Parsed {
    /// A complete block of this many bytes.
    Complete(usize),
    /// More bytes needed.
    Partial,
    /// Not HTTP.
    Invalid,
}

impl FlowData for HttpFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            return;
        }
        match chunk {
            Chunk::Data(d) => self.feed(cx, dir, d),
            Chunk::Gap(n) => self.gap(cx, dir, n),
        }
        if !self.finished
            && matches!(self.req.state, State::Dead)
            && matches!(self.resp.state, State::Dead)
        {
            self.finish(cx);
        }
        self.trim();
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.flush(cx);
        }
        self.trim();
    }
}

impl HttpFlow {
    /// Frees the transaction queue's heap when nothing is in flight.
    #[inline]
    fn trim(&mut self) {
        if self.txs.is_empty() && self.txs.capacity() != 0 {
            self.txs = VecDeque::new();
        }
    }

    /// Heap bytes the flow's state holds (the queue and the header buffers), for
    /// tests.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.txs.capacity() * std::mem::size_of::<Tx>()
            + self.req.buf.heap_bytes()
            + self.resp.buf.heap_bytes()
    }

    /// Takes the response being read, if any.
    fn take_current(&mut self) -> Option<Tx> {
        if std::mem::take(&mut self.reading) {
            self.txs.pop_front()
        } else {
            None
        }
    }

    /// Emits the response being read, if any.
    fn emit_current(&mut self, cx: &mut Cx<'_>) {
        if let Some(tx) = self.take_current() {
            cx.emit(TxEvent::boxed(tx));
        }
    }

    /// The response being read, if any.
    fn current_mut(&mut self) -> Option<&mut Tx> {
        if self.reading {
            self.txs.front_mut()
        } else {
            None
        }
    }

    /// Requests waiting for their responses.
    fn waiting(&self) -> usize {
        self.txs.len() - usize::from(self.reading)
    }

    /// Takes the oldest request waiting for its response.
    fn pop_waiting(&mut self) -> Option<Tx> {
        if self.reading {
            self.txs.remove(1)
        } else {
            self.txs.pop_front()
        }
    }

    /// Queues a transaction: room for one at first, not VecDeque's first four (most
    /// connections never pipeline).
    fn reserve_one(&mut self) {
        if self.txs.capacity() == 0 {
            self.txs.reserve_exact(1);
        }
    }

    /// Makes `tx` the response being read (replacing one being read, if any).
    fn set_current(&mut self, tx: Tx) {
        if self.reading {
            self.txs[0] = tx;
        } else {
            self.reserve_one();
            self.txs.push_front(tx);
            self.reading = true;
        }
    }

    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        }
    }

    /// Emits everything still held, then stops.
    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.flush(cx);
        self.finished = true;
        cx.done();
    }

    fn flush(&mut self, cx: &mut Cx<'_>) {
        self.reading = false;
        while let Some(tx) = self.txs.pop_front() {
            cx.emit(TxEvent::boxed(tx));
        }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, dir: Direction, n: u32) {
        if let (Direction::ToClient, State::Body(Body::Length(left))) = (dir, self.resp.state) {
            // libhtp counts a hole in a body of known length in the message's length
            // (unless it decompresses the body).
            if let Some(tx) = self.current_mut().filter(|t| !t.compressed) {
                tx.length = tx.length.saturating_add(u64::from(n).min(left));
            }
        }
        let side = self.side(dir);
        match side.state {
            State::Body(Body::Length(left)) if u64::from(n) < left => {
                side.state = State::Body(Body::Length(left - u64::from(n)));
            }
            State::Body(Body::UntilClose) | State::Dead | State::Resync { .. } => {}
            _ => {
                side.resync();
                if dir == Direction::ToClient {
                    self.emit_current(cx);
                }
            }
        }
    }

    fn feed(&mut self, cx: &mut Cx<'_>, dir: Direction, mut input: &[u8]) {
        let total = input.len();
        while !input.is_empty() && !self.finished {
            let state = self.side(dir).state;
            input = match state {
                State::Dead => return,
                State::Headers => self.headers(cx, dir, input),
                State::Body(body) => self.body(cx, dir, body, input),
                State::Resync { scanned } => self.resync(dir, scanned, input),
            };
            if let Some(service) = self.upgraded.take() {
                // What follows the `101` in this chunk is the new protocol's.
                cx.upgrade_at(service.service(), None, total - input.len());
            }
        }
    }

    /// Looks for the next message start; returns the input from there (or nothing).
    fn resync<'a>(&mut self, dir: Direction, scanned: u64, input: &'a [u8]) -> &'a [u8] {
        let side = self.side(dir);
        let starts = |s: &[u8]| match dir {
            Direction::ToServer => METHODS.iter().any(|m| s.starts_with(m)),
            Direction::ToClient => s.starts_with(b"HTTP/"),
        };
        // Message starts sit at line starts; after a loss they also tend to sit at the
        // start of a segment, so the start of every chunk is a candidate too.
        let mut pos = Some(0);
        let mut from = 0;
        loop {
            if let Some(p) = pos {
                if starts(&input[p..]) {
                    side.state = State::Headers;
                    return &input[p..];
                }
            }
            match find_byte(&input[from..], b'\n') {
                Some(i) => {
                    let p = from + i + 1;
                    from = p;
                    pos = Some(p);
                }
                None => break,
            }
        }
        let scanned = scanned.saturating_add(input.len() as u64);
        side.state = if scanned > RESYNC_CAP {
            State::Dead
        } else {
            State::Resync { scanned }
        };
        &[]
    }

    /// Header state: returns the input left after the block (or nothing).
    fn headers<'a>(&mut self, cx: &mut Cx<'_>, dir: Direction, input: &'a [u8]) -> &'a [u8] {
        let side = self.side(dir);
        if side.buf.is_empty() {
            // Empty lines between messages.
            let skip = input
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(input.len());
            let input = &input[skip..];
            if input.is_empty() {
                return input;
            }
            match self.parse(cx, dir, input) {
                Parsed::Complete(n) => &input[n..],
                Parsed::Partial => {
                    let side = self.side(dir);
                    if input.len() > HEADER_CAP {
                        side.state = State::Dead;
                    } else {
                        side.buf.extend_from_slice(input);
                    }
                    &[]
                }
                Parsed::Invalid => {
                    // Skip a byte so this start is not taken again.
                    self.side(dir).resync();
                    &input[1..]
                }
            }
        } else {
            // Where in `input` does the block end? Look across the buffer's tail.
            let old = side.buf.len();
            let Some(end) = block_end(side.buf.as_slice(), input) else {
                if old + input.len() > HEADER_CAP {
                    side.state = State::Dead;
                    side.buf = Split::default();
                } else {
                    side.buf.extend_from_slice(input);
                }
                return &[];
            };
            if old + end > HEADER_CAP {
                side.state = State::Dead;
                side.buf = Split::default();
                return &[];
            }
            side.buf.extend_from_slice(&input[..end]);
            let buf = side.buf.take();
            let parsed = self.parse(cx, dir, &buf);
            let side = self.side(dir);
            // Once the block is parsed its buffer goes: an idle connection holds none.
            match parsed {
                Parsed::Complete(n) => {
                    // Bytes past the block (if the parser stopped earlier) go on.
                    let used_from_input = n.saturating_sub(old);
                    &input[used_from_input.min(input.len())..]
                }
                Parsed::Partial => {
                    // An empty line that did not end a block: go on.
                    side.buf = Split(Some(Box::new(buf)));
                    &input[end..]
                }
                Parsed::Invalid => {
                    side.resync();
                    &input[end..]
                }
            }
        }
    }

    /// Parses one header block at the start of `buf` and acts on it.
    fn parse(&mut self, cx: &mut Cx<'_>, dir: Direction, buf: &[u8]) -> Parsed {
        // Uninitialised header slots: httparse writes only those it fills (no 4 KiB
        // of zeroes per message).
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        match dir {
            Direction::ToServer => {
                let mut req = httparse::Request::new(&mut []);
                let res = httparse::ParserConfig::default()
                    .allow_multiple_spaces_in_request_line_delimiters(true)
                    .ignore_invalid_headers_in_requests(true)
                    .parse_request_with_uninit_headers(&mut req, buf, &mut headers);
                match res {
                    Ok(httparse::Status::Complete(n)) => {
                        self.on_request(cx, &req);
                        Parsed::Complete(n)
                    }
                    Ok(httparse::Status::Partial) => Parsed::Partial,
                    Err(_) => self.spaced_request(cx, buf),
                }
            }
            Direction::ToClient => {
                let mut resp = httparse::Response::new(&mut []);
                let res = httparse::ParserConfig::default()
                    .allow_spaces_after_header_name_in_responses(true)
                    .allow_obsolete_multiline_headers_in_responses(true)
                    .allow_multiple_spaces_in_response_status_delimiters(true)
                    .ignore_invalid_headers_in_responses(true)
                    .parse_response_with_uninit_headers(&mut resp, buf, &mut headers);
                match res {
                    Ok(httparse::Status::Complete(n)) => {
                        self.on_response(cx, &resp);
                        Parsed::Complete(n)
                    }
                    Ok(httparse::Status::Partial) => Parsed::Partial,
                    Err(_) => Parsed::Invalid,
                }
            }
        }
    }

    /// A request line httparse refuses because its target holds spaces (exploit
    /// traffic does: `GET /shell?cd+/tmp;wget+ http://... HTTP/1.1`), taken as libhtp
    /// takes it: the method up to the first space, the protocol after the last, the
    /// target all between. Its headers are read as usual. Anything else is invalid.
    #[cold]
    #[inline(never)]
    fn spaced_request(&mut self, cx: &mut Cx<'_>, buf: &[u8]) -> Parsed {
        let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
        let nl = find_byte(buf, b'\n');
        let line = &buf[..nl.unwrap_or(buf.len())];
        let Some(sp) = find_byte(line, b' ') else {
            return Parsed::Invalid;
        };
        let method = &line[..sp];
        if method.is_empty() || !method.iter().all(token) {
            return Parsed::Invalid;
        }
        let Some(nl) = nl else {
            // A known method and a space: the rest of the line may yet come (anything
            // else goes back to the resync, as before).
            let known = METHODS.iter().any(|m| m.strip_suffix(b" ") == Some(method));
            return if known {
                Parsed::Partial
            } else {
                Parsed::Invalid
            };
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(last) = line.iter().rposition(|&b| b == b' ') else {
            return Parsed::Invalid;
        };
        let version = match &line[last + 1..] {
            b"HTTP/1.1" => 1,
            b"HTTP/1.0" => 0,
            _ => return Parsed::Invalid,
        };
        let target = crate::text::trim(line.get(sp..last).unwrap_or_default());
        if target.is_empty() {
            return Parsed::Invalid;
        }
        // Both are ASCII or checked UTF-8 below; a target that is not UTF-8 is left
        // to the resync, as httparse's own would be.
        let (Ok(method), Ok(target)) = (std::str::from_utf8(method), std::str::from_utf8(target))
        else {
            return Parsed::Invalid;
        };
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::parse_headers(&buf[nl + 1..], &mut headers) {
            Ok(httparse::Status::Complete((n, parsed))) => {
                let count = parsed.len();
                let req = httparse::Request {
                    method: Some(method),
                    path: Some(target),
                    version: Some(version),
                    headers: &mut headers[..count],
                };
                self.on_request(cx, &req);
                Parsed::Complete(nl + 1 + n)
            }
            Ok(httparse::Status::Partial) => Parsed::Partial,
            Err(_) => Parsed::Invalid,
        }
    }

    #[inline(always)]
    fn on_request(&mut self, cx: &mut Cx<'_>, req: &httparse::Request<'_, '_>) {
        let known = Known::scan(req.headers);
        let method = req.method.unwrap_or("");
        let path = req.path.unwrap_or("");
        let protocol = match req.version.unwrap_or(1) {
            0 => "HTTP/1.0",
            _ => "HTTP/1.1",
        };
        let authority = absolute_authority(path.as_bytes()).or(known.host);
        let (host, port) = match authority {
            Some(a) => {
                let (host, port) = split_host_port(a);
                (Some(host), port)
            }
            None => (None, None),
        };
        let mut tx = Tx {
            head: method.eq_ignore_ascii_case("HEAD"),
            connect: method.eq_ignore_ascii_case("CONNECT"),
            upgrade: known.upgrade.and_then(upgrade_service),
            http_port: port,
            ..Tx::default()
        };
        let opt = |v: Option<&[u8]>| v.map_or(0, <[u8]>::len);
        // Room for it all (valid UTF-8 keeps its length): one allocation. (Room for
        // the response's fields too would save a reallocation per transaction, but
        // cost 32 bytes per transaction in flight: 4.7 MiB at 150k flows.)
        tx.text.reserve_exact(
            path.len()
                + method.len()
                + protocol.len()
                + opt(known.user_agent)
                + opt(known.xff)
                + opt(known.referer)
                + opt(host),
        );
        // The parser gives the target and the method as `&str`: valid UTF-8, which
        // the EVE rendering keeps as it is.
        tx.set(Field::Url, |t| t.extend_from_slice(path.as_bytes()));
        tx.set(Field::Method, |t| t.extend_from_slice(method.as_bytes()));
        tx.set(Field::Protocol, |t| {
            t.extend_from_slice(protocol.as_bytes())
        });
        for (f, v) in [
            (Field::UserAgent, known.user_agent),
            (Field::Xff, known.xff),
            (Field::Refer, known.referer),
            (Field::Hostname, host),
        ] {
            if let Some(v) = v {
                if f == Field::Hostname {
                    tx.set(f, |t| push_host(t, v));
                } else {
                    tx.set(f, |t| push_eve_bytes(t, v));
                }
            }
        }
        if self.waiting() >= MAX_PENDING {
            if let Some(old) = self.pop_waiting() {
                cx.emit(TxEvent::boxed(old));
            }
        }
        self.reserve_one();
        self.txs.push_back(tx);
        self.req.state = match message_body(&known) {
            Some(Body::Length(0)) | None => State::Headers,
            Some(body) => State::Body(body),
        };
    }

    fn on_response(&mut self, cx: &mut Cx<'_>, resp: &httparse::Response<'_, '_>) {
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) && code != 101 {
            // Interim (100 Continue, 103 Early Hints): the final response follows.
            self.resp.state = State::Headers;
            return;
        }
        let known = Known::scan(resp.headers);
        let mut tx = self.pop_waiting().unwrap_or_default();
        tx.status = Some(code);
        tx.compressed = known.content_encoding.is_some_and(|v| {
            [&b"gzip"[..], b"deflate", b"lzma"]
                .iter()
                .any(|c| contains_ci(v, c))
        });
        let content_type = known.content_type.map(|v| match find_byte(v, b';') {
            Some(i) => &v[..i],
            None => v,
        });
        let more = content_type.map_or(0, <[u8]>::len) + known.location.map_or(0, <[u8]>::len);
        if more > 0 {
            tx.text.reserve_exact(more);
        }
        if let Some(v) = content_type {
            tx.set(Field::ContentType, |t| push_eve_bytes(t, v));
        }
        if let Some(v) = known.location {
            tx.set(Field::Redirect, |t| push_eve_bytes(t, v));
        }
        if code == 101 {
            let to = tx
                .upgrade
                .or_else(|| known.upgrade.and_then(upgrade_service));
            cx.emit(TxEvent::boxed(tx));
            self.upgraded = to;
            self.finish(cx);
            return;
        }
        if tx.connect && (200..300).contains(&code) {
            cx.emit(TxEvent::boxed(tx));
            self.finish(cx);
            return;
        }
        let body = if tx.head || code == 204 || code == 304 {
            None
        } else {
            // Without framing the body runs to the connection's close; an announced
            // length of 0 is no body.
            match message_body(&known).unwrap_or(Body::UntilClose) {
                Body::Length(0) => None,
                b => Some(b),
            }
        };
        match body {
            None => {
                cx.emit(TxEvent::boxed(tx));
                self.resp.state = State::Headers;
            }
            Some(body) => {
                self.set_current(tx);
                self.resp.state = State::Body(body);
            }
        }
    }

    /// Body state: returns the input left after the body (or nothing).
    fn body<'a>(
        &mut self,
        cx: &mut Cx<'_>,
        dir: Direction,
        body: Body,
        input: &'a [u8],
    ) -> &'a [u8] {
        let (next, used, seen) = match body {
            Body::Length(left) => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                let left = left - n as u64;
                let next = if left == 0 {
                    None
                } else {
                    Some(Body::Length(left))
                };
                (Ok(next), n, n as u64)
            }
            Body::UntilClose => (Ok(Some(Body::UntilClose)), input.len(), input.len() as u64),
            Body::Chunked(c) => {
                let (r, used, seen) = dechunk(c, input);
                (r.map(|c| c.map(Body::Chunked)), used, seen)
            }
        };
        if dir == Direction::ToClient {
            if let Some(tx) = self.current_mut() {
                tx.length = tx.length.saturating_add(seen);
            }
        }
        let side = self.side(dir);
        match next {
            Ok(Some(body)) => side.state = State::Body(body),
            Ok(None) => {
                side.state = State::Headers;
                if dir == Direction::ToClient {
                    self.emit_current(cx);
                }
            }
            Err(()) => {
                side.resync();
                if dir == Direction::ToClient {
                    self.emit_current(cx);
                }
            }
        }
        &input[used..]
    }
}

/// Decodes chunked coding over `input`: the next state (`None` when the body ended,
/// `Err` on a framing error), the bytes used, and the body bytes as libhtp counts a
/// message's length: chunk-size lines, chunk data and the line ends after it, up to
/// and including the last chunk's line, not the trailer.
fn dechunk(mut c: Chunked, input: &[u8]) -> (Result<Option<Chunked>, ()>, usize, u64) {
    let mut i = 0;
    // Bytes used before the trailer (`i` then counts on without it).
    let mut trailer = 0usize;
    while i < input.len() {
        match c {
            Chunked::Data(left) => {
                let n = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                i += n;
                let left = left - n as u64;
                c = if left == 0 {
                    Chunked::DataEnd
                } else {
                    Chunked::Data(left)
                };
            }
            Chunked::DataEnd => match input[i] {
                b'\r' => i += 1,
                b'\n' => {
                    i += 1;
                    c = Chunked::Size {
                        value: 0,
                        digits: 0,
                        ext: false,
                        len: 0,
                    };
                }
                // Lenient: a missing CRLF after the data.
                _ => {
                    c = Chunked::Size {
                        value: 0,
                        digits: 0,
                        ext: false,
                        len: 0,
                    }
                }
            },
            Chunked::Size {
                value,
                digits,
                ext,
                len,
            } => {
                let b = input[i];
                i += 1;
                if len >= CHUNK_LINE_CAP {
                    return (Err(()), i, (i - trailer) as u64);
                }
                c = match b {
                    // Tolerate empty lines (LF or CRLF) before a size.
                    b'\n' if digits == 0 && len <= 1 => Chunked::Size {
                        value,
                        digits,
                        ext,
                        len: 0,
                    },
                    b'\n' if digits == 0 => return (Err(()), i, (i - trailer) as u64),
                    b'\n' if value == 0 => Chunked::Trailer { len: 0 },
                    b'\n' => Chunked::Data(value),
                    _ if ext => Chunked::Size {
                        value,
                        digits,
                        ext,
                        len: len + 1,
                    },
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= 15 {
                            return (Err(()), i, (i - trailer) as u64);
                        }
                        let d = match b {
                            b'0'..=b'9' => b - b'0',
                            b'a'..=b'f' => b - b'a' + 10,
                            _ => b - b'A' + 10,
                        };
                        Chunked::Size {
                            value: value * 16 + u64::from(d),
                            digits: digits + 1,
                            ext,
                            len: len + 1,
                        }
                    }
                    b'\r' | b' ' | b'\t' => Chunked::Size {
                        value,
                        digits,
                        ext,
                        len: len + 1,
                    },
                    b';' if digits > 0 => Chunked::Size {
                        value,
                        digits,
                        ext: true,
                        len: len + 1,
                    },
                    _ => return (Err(()), i, (i - trailer) as u64),
                };
            }
            Chunked::Trailer { len } => {
                let b = input[i];
                i += 1;
                trailer += 1;
                let counted = (i - trailer) as u64;
                c = match b {
                    b'\n' if len == 0 => return (Ok(None), i, counted),
                    b'\n' => Chunked::Trailer { len: 0 },
                    b'\r' if len == 0 => Chunked::Trailer { len: 0 },
                    _ if len >= CHUNK_LINE_CAP => return (Err(()), i, counted),
                    _ => Chunked::Trailer { len: len + 1 },
                };
            }
        }
    }
    (Ok(Some(c)), i, (i - trailer) as u64)
}

/// The headers the inspector reads, found in one pass over a message's headers (the
/// first of each name, compared ASCII case-insensitively).
#[derive(Default)]
struct Known<'b> {
    host: Option<&'b [u8]>,
    user_agent: Option<&'b [u8]>,
    xff: Option<&'b [u8]>,
    referer: Option<&'b [u8]>,
    upgrade: Option<&'b [u8]>,
    transfer_encoding: Option<&'b [u8]>,
    content_length: Option<&'b [u8]>,
    content_type: Option<&'b [u8]>,
    content_encoding: Option<&'b [u8]>,
    location: Option<&'b [u8]>,
}

impl<'b> Known<'b> {
    #[inline(always)]
    fn scan(headers: &[httparse::Header<'b>]) -> Self {
        let mut k = Known::default();
        for h in headers {
            let n = h.name.as_bytes();
            // The length picks the one candidate name to compare.
            let slot = match n.len() {
                4 if name_is(n, b"host") => &mut k.host,
                7 if name_is(n, b"upgrade") => &mut k.upgrade,
                7 if name_is(n, b"referer") => &mut k.referer,
                8 if name_is(n, b"location") => &mut k.location,
                10 if name_is(n, b"user-agent") => &mut k.user_agent,
                12 if name_is(n, b"content-type") => &mut k.content_type,
                14 if name_is(n, b"content-length") => &mut k.content_length,
                15 if name_is(n, b"x-forwarded-for") => &mut k.xff,
                16 if name_is(n, b"content-encoding") => &mut k.content_encoding,
                17 if name_is(n, b"transfer-encoding") => &mut k.transfer_encoding,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(h.value);
            }
        }
        k
    }
}

/// True when header name `n` is `name` (at least four bytes: lowercase letters, `-`
/// and digits) ASCII case-insensitively, as `eq_ignore_ascii_case` says, compared a
/// word at a time: each word of `n`, with the case bit set where `name` has a letter,
/// must equal `name`'s (words overlap to cover every length).
#[inline(always)]
fn name_is(n: &[u8], name: &[u8]) -> bool {
    let len = name.len();
    if n.len() != len || len < 4 {
        return n.eq_ignore_ascii_case(name);
    }
    // The case bit (0x20) where `name` has a letter (bit 0x40 set: letters, not `-`
    // or digits).
    fn eq(a: u64, name: u64) -> bool {
        a | ((name >> 1) & 0x2020_2020_2020_2020) == name
    }
    if len >= 8 {
        let word = |s: &[u8], at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&s[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let mut at = 0;
        while at + 8 < len {
            if !eq(word(n, at), word(name, at)) {
                return false;
            }
            at += 8;
        }
        eq(word(n, len - 8), word(name, len - 8))
    } else {
        let word = |s: &[u8], at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&s[at..at + 4]);
            u64::from(u32::from_le_bytes(w))
        };
        eq(word(n, 0), word(name, 0)) && eq(word(n, len - 4), word(name, len - 4))
    }
}

/// A protocol an `Upgrade` header asks for that has an inspector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upgrade {
    Websocket,
    Http2,
}

impl Upgrade {
    /// Its service name.
    fn service(self) -> &'static str {
        match self {
            Upgrade::Websocket => "websocket",
            Upgrade::Http2 => "http2",
        }
    }
}

/// The protocol an `Upgrade` header asks for, when one we inspect.
fn upgrade_service(u: &[u8]) -> Option<Upgrade> {
    if contains_ci(u, b"websocket") {
        Some(Upgrade::Websocket)
    } else if contains_ci(u, b"h2c") {
        Some(Upgrade::Http2)
    } else {
        None
    }
}

/// The body a message's headers frame (`None`: no Content-Length or chunked coding;
/// a `Content-Length: 0` is `Length(0)`).
fn message_body(known: &Known<'_>) -> Option<Body> {
    if let Some(te) = known.transfer_encoding {
        if contains_ci(te, b"chunked") {
            return Some(Body::Chunked(Chunked::Size {
                value: 0,
                digits: 0,
                ext: false,
                len: 0,
            }));
        }
    }
    let cl = known.content_length?;
    let digits = crate::text::trim(cl);
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    // Checked and summed in one pass (19 digits cannot overflow).
    let mut n = 0u64;
    for &d in digits {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        n = n * 10 + u64::from(v);
    }
    Some(Body::Length(n))
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The authority of an absolute-form request target (`http://host:port/path`).
fn absolute_authority(target: &[u8]) -> Option<&[u8]> {
    let rest = if crate::text::starts_with_ci(target, b"http://") {
        &target[7..]
    } else if crate::text::starts_with_ci(target, b"https://") {
        &target[8..]
    } else {
        return None;
    };
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?' || b == b'#')
        .unwrap_or(rest.len());
    let auth = &rest[..end];
    // Drop any userinfo.
    let auth = match auth.iter().rposition(|&b| b == b'@') {
        Some(i) => &auth[i + 1..],
        None => auth,
    };
    (!auth.is_empty()).then_some(auth)
}

/// Splits `host[:port]` (IPv6 literals in brackets).
fn split_host_port(a: &[u8]) -> (&[u8], Option<u16>) {
    let a = crate::text::trim(a);
    let colon = if a.first() == Some(&b'[') {
        match find_byte(a, b']') {
            Some(close) if a.get(close + 1) == Some(&b':') => Some(close + 1),
            _ => None,
        }
    } else {
        a.iter().rposition(|&b| b == b':')
    };
    match colon {
        Some(i) => {
            let port = &a[i + 1..];
            let p = if !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit) {
                port.iter()
                    .try_fold(0u32, |acc, d| Some(acc * 10 + u32::from(d - b'0')))
                    .and_then(|p| u16::try_from(p).ok())
            } else {
                None
            };
            (&a[..i], p)
        }
        None => (a, None),
    }
}

/// Appends a hostname to `out`, lowercased and without trailing dots, as libhtp
/// normalises it.
fn push_host(out: &mut Vec<u8>, host: &[u8]) {
    let mut h = host;
    while let [rest @ .., b'.'] = h {
        h = rest;
    }
    let start = out.len();
    push_eve_bytes(out, h);
    out[start..].make_ascii_lowercase();
}

/// Where the header block that began in `head` ends in `input`: the index just past
/// its empty line, looking across the boundary between the two.
fn block_end(head: &[u8], input: &[u8]) -> Option<usize> {
    // Keep the last three bytes of `head` as context.
    let ctx = &head[head.len().saturating_sub(3)..];
    let mut prev: [u8; 3] = [0; 3];
    let k = ctx.len();
    prev[3 - k..].copy_from_slice(ctx);
    for (i, &b) in input.iter().enumerate() {
        if b == b'\n' && (prev[2] == b'\n' || (prev[2] == b'\r' && prev[1] == b'\n')) {
            return Some(i + 1);
        }
        prev = [prev[1], prev[2], b];
    }
    None
}

#[cfg(test)]
mod tests;
