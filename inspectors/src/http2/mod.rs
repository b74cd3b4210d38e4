//! HTTP/2 service inspector (`"http2"`, and `"doh2"` for DNS over HTTP/2): one EVE
//! event per stream.
//!
//! Contract:
//! - Input: each direction's payload from its start, as in-order TCP chunks of any
//!   split. The client side may begin with the connection preface (a flow the wizard
//!   named from it, or an `Upgrade: h2c` whose client sends it after the `101`); a
//!   side that does not is read as frames from its first byte (the server side, and
//!   a client after an upgrade that skipped the preface).
//! - Frames are read with [`frame`]'s checked view: a frame that arrives whole in one
//!   chunk is read in place; a split one is copied into a per-direction buffer of at
//!   most [`BLOCK_CAP`] bytes. DATA payloads are streamed, never buffered (but for
//!   DoH bodies, at most [`DOH_BODY_CAP`] bytes). Larger non-DATA frames are skipped;
//!   a skipped HEADERS, PUSH_PROMISE or CONTINUATION loses that direction's HPACK
//!   state.
//! - Header blocks (HEADERS or PUSH_PROMISE and their CONTINUATIONs, at most
//!   [`BLOCK_CAP`] bytes together) are decoded with one HPACK decoder per direction
//!   (`loona-hpack`), its dynamic table bounded by [`HPACK_TABLE_CAP`] and by the
//!   peer's `SETTINGS_HEADER_TABLE_SIZE`. A block that does not decode loses that
//!   direction's HPACK state: its later blocks are no longer decoded (frames still
//!   are, so streams still end).
//! - Streams: at most [`MAX_STREAMS`] are tracked; opening one more emits the oldest
//!   as it stands. A stream is complete when both sides ended it (END_STREAM) or
//!   either reset it (RST_STREAM); its event is emitted then, and the rest at flow end.
//! - Events: EVE `http`, as Suricata's `rust/src/http2/logger.rs` writes HTTP/2:
//!   `version: "2"`, `request_headers`/`response_headers` (`{name, value}`, or
//!   `{table_size_update}`), `http_method` (`:method`), `url` (`:path`), `hostname`
//!   (`host`, else `:authority`), `http_user_agent`, `status` (`:status`), `length`
//!   (`content-length`), and `http2: {stream_id, request: {...}, response: {...}}`
//!   with `error_code` (RST_STREAM: `"RefusedStream"`, ...) and `priority` where
//!   seen, a side with neither left out (Suricata 8.0.1 and later). Also
//!   `http_content_type` (the last `content-type`, without parameters), as HTTP/1
//!   events name it.
//! - Connection frames (stream 0), as Suricata 8 writes each as a transaction of its
//!   own: a non-empty SETTINGS gives an `http` event with `http2: {stream_id: 0,
//!   request|response: {settings: [{settings_id, settings_value}]}}` (identifiers
//!   as Suricata names them, up to the first it does not know), a GOAWAY one with
//!   its `error_code` (`"NOERROR"`, ...), a RST_STREAM or PRIORITY on stream 0 one
//!   with its code or weight; an empty SETTINGS (every ACK), PING and WINDOW_UPDATE
//!   give none. They are emitted as they are read.
//! - DoH, as Suricata decides it: a request whose `accept` or `content-type` is
//!   `application/dns-message` and whose `:path` carries a base64url `dns=` query
//!   (GET), or a message body (either side) whose `content-type` is
//!   `application/dns-message`, parsed whole at its END_STREAM. When such a DNS
//!   message parses, the flow's service becomes `"doh2"` (`Cx::upgrade`; this
//!   inspector stays on the flow, the record keeps `app_proto_orig: "http2"`), and
//!   the stream's event is a `dns` event (the DNS answer, else the query, with the
//!   project's DNS parser) with the `http` object beside it, as Suricata's DoH2
//!   logger writes. [`Http2Inspector::with_doh2`] turns this off.
//! - Gaps: a gap inside a DATA payload is skipped (a DoH body it cuts is dropped); any
//!   other gap loses frame alignment and HPACK state, so that direction stops. With
//!   both stopped, the inspector emits what it holds and is done.
//! - Bad input never panics; nothing grows without the bounds above.

pub mod frame;

use crate::dns::{parse_message, DnsEvent};
use crate::text::{eve_string, find_byte};
use flowengine::flow::Direction;
use flowengine::inspect::{AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind};
use frame::{Frame, FrameHeader, FrameType, HEADER_LEN, PREFACE};
use loona_hpack::Decoder;
use serde_json::{Map, Value};
use std::any::Any;
use std::collections::VecDeque;

/// Largest header block (HEADERS or PUSH_PROMISE with its CONTINUATIONs), and largest
/// non-DATA frame, kept.
pub const BLOCK_CAP: usize = 64 * 1024;
/// Largest HPACK dynamic table a peer may ask for (Suricata's `HTTP2_MAX_TABLESIZE`).
pub const HPACK_TABLE_CAP: usize = 64 * 1024;
/// Most streams tracked at once.
pub const MAX_STREAMS: usize = 64;
/// Largest DoH message body kept (a DNS message's own limit).
pub const DOH_BODY_CAP: usize = 65_535;
/// Most header fields kept per stream side.
pub const MAX_FIELDS: usize = 256;

const DNS_MESSAGE: &[u8] = b"application/dns-message";

/// The HTTP/2 service inspector.
#[derive(Debug)]
pub struct Http2Inspector {
    doh2: bool,
}

impl Default for Http2Inspector {
    fn default() -> Self {
        Http2Inspector { doh2: true }
    }
}

impl Http2Inspector {
    /// A new inspector that names DoH flows `"doh2"`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether DoH streams make the flow `"doh2"` (and the inspector handle that
    /// service too).
    pub fn with_doh2(mut self, on: bool) -> Self {
        self.doh2 = on;
        self
    }
}

impl Inspector for Http2Inspector {
    fn name(&self) -> &str {
        "http2"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Service
    }

    fn services(&self) -> &[&'static str] {
        if self.doh2 {
            &["http2", "doh2"]
        } else {
            &["http2"]
        }
    }

    fn start(&self, _flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::new(Http2Flow::new(self.doh2)))
    }
}

/// One entry of a header list, as Suricata logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderField {
    /// A decoded field.
    Field {
        /// Name (lowercase on the wire in HTTP/2).
        name: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// A dynamic table size update at the start of the block.
    TableSizeUpdate(u64),
}

/// One HTTP/2 stream: EVE `http` (or, for DoH, `dns` with `http` beside it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Http2Event {
    /// Stream identifier.
    pub stream_id: u32,
    /// Client's header lists (HEADERS, trailers; PUSH_PROMISE for pushed streams).
    pub request_headers: Vec<HeaderField>,
    /// Server's header lists.
    pub response_headers: Vec<HeaderField>,
    /// RST_STREAM error code sent by the client.
    pub request_error: Option<u32>,
    /// RST_STREAM error code sent by the server.
    pub response_error: Option<u32>,
    /// Priority weight the client gave (HEADERS or PRIORITY).
    pub request_priority: Option<u8>,
    /// Priority weight the server gave.
    pub response_priority: Option<u8>,
    /// SETTINGS the client sent (a stream-0 event), as Suricata keeps them.
    pub request_settings: Option<Vec<(u16, u32)>>,
    /// SETTINGS the server sent (a stream-0 event).
    pub response_settings: Option<Vec<(u16, u32)>>,
    /// GOAWAY error code the client sent (a stream-0 event).
    pub request_goaway: Option<u32>,
    /// GOAWAY error code the server sent (a stream-0 event).
    pub response_goaway: Option<u32>,
    /// The DoH message: the answer, else the query.
    pub dns: Option<DnsEvent>,
}

impl Http2Event {
    /// The value of the last field named `name` over the request then the response
    /// lists (Suricata's rule for its summary fields).
    pub fn last(&self, name: &[u8]) -> Option<&[u8]> {
        self.request_headers
            .iter()
            .chain(&self.response_headers)
            .filter_map(|f| match f {
                HeaderField::Field { name: n, value } if n.eq_ignore_ascii_case(name) => {
                    Some(value.as_slice())
                }
                _ => None,
            })
            .next_back()
    }

    /// The `http` object Suricata writes for this stream.
    pub fn http_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("version".into(), "2".into());
        for (key, list) in [
            ("request_headers", &self.request_headers),
            ("response_headers", &self.response_headers),
        ] {
            if !list.is_empty() {
                m.insert(
                    key.into(),
                    Value::Array(list.iter().map(field_json).collect()),
                );
            }
        }
        let mut s = |k: &str, v: Option<&[u8]>| {
            if let Some(v) = v {
                m.insert(k.into(), eve_string(v).into());
            }
        };
        s("http_method", self.last(b":method"));
        s("url", self.last(b":path"));
        s(
            "hostname",
            self.last(b"host").or_else(|| self.last(b":authority")),
        );
        s("http_user_agent", self.last(b"user-agent"));
        s(
            "http_content_type",
            self.last(b"content-type")
                .map(|v| match find_byte(v, b';') {
                    Some(i) => crate::text::trim(&v[..i]),
                    None => v,
                }),
        );
        if let Some(st) = self.last(b":status").and_then(decimal) {
            m.insert("status".into(), st.into());
        }
        if let Some(n) = self.last(b"content-length").and_then(decimal) {
            m.insert("length".into(), n.into());
        }
        // One side's frames as Suricata's `log_http2_frames` writes them; an empty
        // side is left out (Suricata 8.0.1 and later).
        let side = |settings: &Option<Vec<(u16, u32)>>,
                    goaway: Option<u32>,
                    rst: Option<u32>,
                    prio: Option<u8>| {
            let mut o = Map::new();
            if let Some(list) = settings {
                let list = list
                    .iter()
                    .map(|&(id, v)| {
                        let mut e = Map::new();
                        let name = frame::setting_name(id).unwrap_or_default();
                        e.insert("settings_id".into(), name.into());
                        e.insert("settings_value".into(), v.into());
                        Value::Object(e)
                    })
                    .collect();
                o.insert("settings".into(), Value::Array(list));
            }
            let named = |c: u32, name: fn(u32) -> Option<&'static str>| {
                name(c).map_or_else(|| c.to_string(), str::to_owned)
            };
            if let Some(c) = goaway {
                o.insert(
                    "error_code".into(),
                    named(c, frame::goaway_error_name).into(),
                );
            } else if let Some(c) = rst {
                o.insert("error_code".into(), named(c, frame::error_name).into());
            }
            if let Some(w) = prio {
                o.insert("priority".into(), w.into());
            }
            (!o.is_empty()).then_some(Value::Object(o))
        };
        let mut h2 = Map::new();
        h2.insert("stream_id".into(), self.stream_id.into());
        let request = side(
            &self.request_settings,
            self.request_goaway,
            self.request_error,
            self.request_priority,
        );
        if let Some(v) = request {
            h2.insert("request".into(), v);
        }
        let response = side(
            &self.response_settings,
            self.response_goaway,
            self.response_error,
            self.response_priority,
        );
        if let Some(v) = response {
            h2.insert("response".into(), v);
        }
        m.insert("http2".into(), Value::Object(h2));
        Value::Object(m)
    }
}

fn field_json(f: &HeaderField) -> Value {
    let mut o = Map::new();
    match f {
        HeaderField::Field { name, value } => {
            o.insert("name".into(), eve_string(name).into());
            o.insert("value".into(), eve_string(value).into());
        }
        HeaderField::TableSizeUpdate(n) => {
            o.insert("table_size_update".into(), (*n).into());
        }
    }
    Value::Object(o)
}

/// A short ASCII decimal (status, content-length).
fn decimal(v: &[u8]) -> Option<u64> {
    let v = crate::text::trim(v);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |a, d| a * 10 + u64::from(d - b'0')))
}

impl AppEvent for Http2Event {
    fn event_type(&self) -> &'static str {
        if self.dns.is_some() {
            "dns"
        } else {
            "http"
        }
    }

    fn to_json(&self) -> Value {
        match &self.dns {
            Some(d) => d.to_json(),
            None => self.http_json(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn siblings(&self) -> Vec<(&'static str, Value)> {
        if self.dns.is_some() {
            vec![("http", self.http_json())]
        } else {
            Vec::new()
        }
    }
}

/// Where a direction's reader stands.
#[derive(Clone, Copy, Debug)]
enum Rx {
    /// Matching the client preface; bytes matched so far.
    Preface(usize),
    /// Reading a frame header (into `Side::head`).
    Head,
    /// Buffering a non-DATA frame (header and payload) into `Side::buf`.
    Frame { total: usize },
    /// Streaming a DATA payload: `left` payload bytes to go, of which the last `pad`
    /// are padding (known once the pad length byte is read).
    Data {
        stream: u32,
        end: bool,
        left: u32,
        pad: u32,
        need_pad: bool,
    },
    /// Skipping a frame's payload.
    Skip(u32),
    /// Stopped (gap, or a preface that is not one).
    Dead,
}

/// An open header block waiting for CONTINUATION frames.
#[derive(Clone, Copy, Debug)]
struct Open {
    /// The stream the CONTINUATIONs come on.
    on: u32,
    /// The stream the headers belong to (the promised one for PUSH_PROMISE).
    target: u32,
    /// Request headers (client HEADERS, PUSH_PROMISE) or response headers.
    request: bool,
    end_stream: bool,
}

struct Side {
    rx: Rx,
    head: [u8; HEADER_LEN],
    have: usize,
    buf: Vec<u8>,
    block: Vec<u8>,
    open: Option<Open>,
    /// `None` once the HPACK state is lost.
    hpack: Option<Decoder<'static>>,
}

impl Side {
    fn new(preface: bool) -> Self {
        let mut d = Decoder::new();
        d.set_max_allowed_table_size(HPACK_TABLE_CAP);
        Side {
            rx: if preface { Rx::Preface(0) } else { Rx::Head },
            head: [0; HEADER_LEN],
            have: 0,
            buf: Vec::new(),
            block: Vec::new(),
            open: None,
            hpack: Some(d),
        }
    }

    /// The HPACK state is gone: no more header blocks are decoded here.
    fn lose_hpack(&mut self) {
        self.hpack = None;
        self.open = None;
        self.block = Vec::new();
    }

    fn stop(&mut self) {
        self.rx = Rx::Dead;
        self.lose_hpack();
        self.buf = Vec::new();
    }
}

/// One stream in progress.
struct Stream {
    ev: Http2Event,
    ended: [bool; 2],
    /// DoH message bodies being collected, per direction.
    body: [Option<Vec<u8>>; 2],
    dns: [Option<DnsEvent>; 2],
}

/// The per-flow state of the HTTP/2 inspector.
struct Http2Flow {
    doh2_on: bool,
    /// The flow was renamed `doh2`.
    doh2: bool,
    sides: [Side; 2],
    streams: VecDeque<Stream>,
    finished: bool,
}

impl FlowData for Http2Flow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.finished {
            return;
        }
        match chunk {
            Chunk::Data(d) => self.feed(cx, dir, d),
            Chunk::Gap(n) => self.gap(cx, dir, n),
        }
        if self.sides.iter().all(|s| matches!(s.rx, Rx::Dead)) {
            self.flush(cx);
            self.finished = true;
            cx.done();
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if !self.finished {
            self.flush(cx);
            self.finished = true;
        }
    }
}

impl Http2Flow {
    fn new(doh2_on: bool) -> Self {
        Http2Flow {
            doh2_on,
            doh2: false,
            sides: [Side::new(true), Side::new(false)],
            streams: VecDeque::new(),
            finished: false,
        }
    }

    fn flush(&mut self, cx: &mut Cx<'_>) {
        while let Some(s) = self.streams.pop_front() {
            emit(cx, s);
        }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, dir: Direction, n: u32) {
        let side = &mut self.sides[dir.index()];
        match side.rx {
            Rx::Dead => {}
            Rx::Skip(left) if n <= left => {
                side.rx = if n == left {
                    Rx::Head
                } else {
                    Rx::Skip(left - n)
                };
            }
            Rx::Data {
                stream,
                end,
                left,
                pad,
                need_pad: false,
            } if n <= left => {
                // Frames stay aligned; only a DoH body the gap cuts is lost.
                if let Some(s) = self.streams.iter_mut().find(|s| s.ev.stream_id == stream) {
                    s.body[dir.index()] = None;
                }
                let left = left - n;
                let side = &mut self.sides[dir.index()];
                side.rx = Rx::Data {
                    stream,
                    end,
                    left,
                    pad: pad.min(left),
                    need_pad: false,
                };
                if left == 0 {
                    side.rx = Rx::Head;
                    if end {
                        self.end_stream(cx, dir, stream);
                    }
                }
            }
            _ => side.stop(),
        }
    }

    fn feed(&mut self, cx: &mut Cx<'_>, dir: Direction, mut input: &[u8]) {
        let d = dir.index();
        while !input.is_empty() {
            match self.sides[d].rx {
                Rx::Dead => return,
                Rx::Preface(matched) => {
                    let want = PREFACE.get(matched..).unwrap_or_default();
                    let n = want.len().min(input.len());
                    if input[..n] != want[..n] {
                        if matched == 0 {
                            // No preface (h2c upgrade without one): frames start here.
                            self.sides[d].rx = Rx::Head;
                            continue;
                        }
                        self.sides[d].stop();
                        return;
                    }
                    input = &input[n..];
                    self.sides[d].rx = if matched + n == PREFACE.len() {
                        Rx::Head
                    } else {
                        Rx::Preface(matched + n)
                    };
                }
                Rx::Head => {
                    let side = &mut self.sides[d];
                    if side.have == 0 {
                        if let Some(h) = FrameHeader::parse(input) {
                            let total = HEADER_LEN + h.length as usize;
                            let kept = h.kind == FrameType::Data || total <= HEADER_LEN + BLOCK_CAP;
                            if kept && input.len() >= total {
                                // A whole frame in this chunk: read it in place.
                                let (f, rest) = input.split_at(total);
                                self.frame(cx, dir, f);
                                input = rest;
                                continue;
                            }
                        }
                    }
                    let n = (HEADER_LEN - side.have).min(input.len());
                    side.head[side.have..side.have + n].copy_from_slice(&input[..n]);
                    side.have += n;
                    input = &input[n..];
                    if side.have == HEADER_LEN {
                        side.have = 0;
                        let head = side.head;
                        self.start(cx, dir, &head);
                    }
                }
                Rx::Frame { total } => {
                    let side = &mut self.sides[d];
                    let n = total.saturating_sub(side.buf.len()).min(input.len());
                    side.buf.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if side.buf.len() >= total {
                        side.rx = Rx::Head;
                        let buf = std::mem::take(&mut side.buf);
                        self.frame(cx, dir, &buf);
                        let side = &mut self.sides[d];
                        // Keep a small buffer for the next split frame.
                        if side.buf.is_empty() && buf.capacity() <= 16 * 1024 {
                            side.buf = buf;
                            side.buf.clear();
                        }
                    }
                }
                Rx::Skip(left) => {
                    let n = input.len().min(left as usize);
                    input = &input[n..];
                    let left = left - n as u32;
                    self.sides[d].rx = if left == 0 { Rx::Head } else { Rx::Skip(left) };
                }
                Rx::Data {
                    stream,
                    end,
                    mut left,
                    mut pad,
                    mut need_pad,
                } => {
                    if need_pad {
                        // The pad length byte; padding past the payload is all padding.
                        pad = u32::from(input[0]);
                        input = &input[1..];
                        left -= 1;
                        pad = pad.min(left);
                        need_pad = false;
                    }
                    let data = (left - pad) as usize;
                    let n = data.min(input.len());
                    if n > 0 {
                        self.on_data(dir, stream, &input[..n]);
                        input = &input[n..];
                        left -= n as u32;
                    }
                    if left <= pad {
                        let m = (left as usize).min(input.len());
                        input = &input[m..];
                        left -= m as u32;
                        pad = left;
                    }
                    if left == 0 {
                        self.sides[d].rx = Rx::Head;
                        if end {
                            self.end_stream(cx, dir, stream);
                        }
                    } else {
                        self.sides[d].rx = Rx::Data {
                            stream,
                            end,
                            left,
                            pad,
                            need_pad,
                        };
                    }
                }
            }
        }
    }

    /// A frame header read on its own: set up reading its payload.
    fn start(&mut self, cx: &mut Cx<'_>, dir: Direction, head: &[u8; HEADER_LEN]) {
        let Some(h) = FrameHeader::parse(head) else {
            return;
        };
        let side = &mut self.sides[dir.index()];
        if h.kind == FrameType::Data {
            let padded = h.has(frame::FLAG_PADDED);
            if h.length == 0 {
                if h.has(frame::FLAG_END_STREAM) {
                    self.end_stream(cx, dir, h.stream_id);
                }
                return;
            }
            side.rx = Rx::Data {
                stream: h.stream_id,
                end: h.has(frame::FLAG_END_STREAM),
                left: h.length,
                pad: 0,
                need_pad: padded,
            };
            return;
        }
        if h.length as usize > BLOCK_CAP {
            if matches!(
                h.kind,
                FrameType::Headers | FrameType::PushPromise | FrameType::Continuation
            ) {
                side.lose_hpack();
            }
            side.rx = Rx::Skip(h.length);
            return;
        }
        side.buf.clear();
        side.buf.extend_from_slice(head);
        let total = HEADER_LEN + h.length as usize;
        if h.length == 0 {
            let buf = std::mem::take(&mut side.buf);
            self.frame(cx, dir, &buf);
            self.sides[dir.index()].buf = buf;
        } else {
            side.rx = Rx::Frame { total };
        }
    }

    /// One whole non-DATA frame (or a DATA frame whose payload is all here).
    fn frame(&mut self, cx: &mut Cx<'_>, dir: Direction, bytes: &[u8]) {
        let Ok(f) = Frame::new_checked(bytes) else {
            return;
        };
        let h = f.header();
        let d = dir.index();
        if self.sides[d].open.is_some() && h.kind != FrameType::Continuation {
            // A block left open: its HPACK updates are lost with it.
            self.sides[d].lose_hpack();
        }
        match h.kind {
            FrameType::Headers => {
                let Ok(hp) = f.headers() else {
                    self.sides[d].lose_hpack();
                    return;
                };
                if h.stream_id == 0 {
                    self.sides[d].lose_hpack();
                    return;
                }
                let open = Open {
                    on: h.stream_id,
                    target: h.stream_id,
                    request: dir == Direction::ToServer,
                    end_stream: h.has(frame::FLAG_END_STREAM),
                };
                if let Some(w) = hp.weight {
                    let i = self.stream(cx, h.stream_id);
                    let ev = &mut self.streams[i].ev;
                    match dir {
                        Direction::ToServer => ev.request_priority = Some(w),
                        Direction::ToClient => ev.response_priority = Some(w),
                    }
                }
                self.begin_block(cx, dir, open, hp.fragment, h.has(frame::FLAG_END_HEADERS));
            }
            FrameType::PushPromise => {
                let Ok((promised, fragment)) = f.push_promise() else {
                    self.sides[d].lose_hpack();
                    return;
                };
                let open = Open {
                    on: h.stream_id,
                    target: promised,
                    request: true,
                    end_stream: false,
                };
                self.begin_block(cx, dir, open, fragment, h.has(frame::FLAG_END_HEADERS));
            }
            FrameType::Continuation => {
                let side = &mut self.sides[d];
                let Some(open) = side.open else {
                    return;
                };
                if open.on != h.stream_id {
                    side.lose_hpack();
                    return;
                }
                if side.hpack.is_some() {
                    if side.block.len() + f.payload().len() > BLOCK_CAP {
                        side.lose_hpack();
                        side.open = Some(open);
                    } else {
                        side.block.extend_from_slice(f.payload());
                    }
                }
                if h.has(frame::FLAG_END_HEADERS) {
                    side.open = None;
                    let block = std::mem::take(&mut side.block);
                    self.block(cx, dir, open, &block);
                    let side = &mut self.sides[d];
                    if side.hpack.is_some() && block.capacity() <= 16 * 1024 {
                        side.block = block;
                        side.block.clear();
                    }
                }
            }
            FrameType::Settings if h.stream_id == 0 => {
                if !h.has(frame::FLAG_ACK) {
                    for (id, value) in f.settings().into_iter().flatten() {
                        if id == frame::SETTINGS_HEADER_TABLE_SIZE {
                            // The sender's decoder, so the other side's encoder, is
                            // bound.
                            let other = &mut self.sides[dir.opposite().index()];
                            if let Some(dec) = other.hpack.as_mut() {
                                let v = usize::try_from(value).unwrap_or(usize::MAX);
                                dec.set_max_allowed_table_size(v.min(HPACK_TABLE_CAP));
                            }
                        }
                    }
                }
                // Suricata skips an empty SETTINGS (every ACK) and writes any other
                // as a connection event of its own.
                if !f.payload().is_empty() {
                    let list = Some(frame::known_settings(f.payload()));
                    connection_event(cx, |ev| match dir {
                        Direction::ToServer => ev.request_settings = list,
                        Direction::ToClient => ev.response_settings = list,
                    });
                }
            }
            FrameType::GoAway if h.stream_id == 0 => {
                if let Ok(code) = f.error_code() {
                    connection_event(cx, |ev| match dir {
                        Direction::ToServer => ev.request_goaway = Some(code),
                        Direction::ToClient => ev.response_goaway = Some(code),
                    });
                }
            }
            // Not allowed on stream 0, but Suricata writes them as connection events.
            FrameType::RstStream if h.stream_id == 0 => {
                if let Ok(code) = f.error_code() {
                    connection_event(cx, |ev| match dir {
                        Direction::ToServer => ev.request_error = Some(code),
                        Direction::ToClient => ev.response_error = Some(code),
                    });
                }
            }
            FrameType::Priority if h.stream_id == 0 => {
                if let Ok(w) = f.priority_weight() {
                    connection_event(cx, |ev| match dir {
                        Direction::ToServer => ev.request_priority = Some(w),
                        Direction::ToClient => ev.response_priority = Some(w),
                    });
                }
            }
            FrameType::RstStream => {
                let Ok(code) = f.error_code() else {
                    return;
                };
                let i = self.stream(cx, h.stream_id);
                let ev = &mut self.streams[i].ev;
                match dir {
                    Direction::ToServer => ev.request_error = Some(code),
                    Direction::ToClient => ev.response_error = Some(code),
                }
                self.complete(cx, h.stream_id);
            }
            FrameType::Priority => {
                let Ok(w) = f.priority_weight() else {
                    return;
                };
                if let Some(s) = self
                    .streams
                    .iter_mut()
                    .find(|s| s.ev.stream_id == h.stream_id)
                {
                    match dir {
                        Direction::ToServer => s.ev.request_priority = Some(w),
                        Direction::ToClient => s.ev.response_priority = Some(w),
                    }
                }
            }
            FrameType::Data => {
                if let Ok(data) = f.data() {
                    self.on_data(dir, h.stream_id, data);
                }
                if h.has(frame::FLAG_END_STREAM) {
                    self.end_stream(cx, dir, h.stream_id);
                }
            }
            _ => {}
        }
    }

    fn begin_block(&mut self, cx: &mut Cx<'_>, dir: Direction, open: Open, frag: &[u8], end: bool) {
        if end {
            self.block(cx, dir, open, frag);
            return;
        }
        let side = &mut self.sides[dir.index()];
        side.block.clear();
        if side.hpack.is_some() {
            side.block.extend_from_slice(frag);
        }
        // Without HPACK state nothing is decoded, but the stream still ends when the
        // block says so.
        side.open = Some(open);
    }

    /// A complete header block for `open.target`.
    fn block(&mut self, cx: &mut Cx<'_>, dir: Direction, open: Open, block: &[u8]) {
        let i = self.stream(cx, open.target);
        let side = &mut self.sides[dir.index()];
        let stream = &mut self.streams[i];
        if let Some(dec) = side.hpack.as_mut() {
            let list = if open.request {
                &mut stream.ev.request_headers
            } else {
                &mut stream.ev.response_headers
            };
            size_updates(block, list);
            let r = dec.decode_with_cb(block, |name, value| {
                if list.len() < MAX_FIELDS {
                    list.push(HeaderField::Field {
                        name: name.into_owned(),
                        value: value.into_owned(),
                    });
                }
            });
            if r.is_err() {
                side.lose_hpack();
            }
            if self.doh2_on {
                self.doh_headers(cx, i, open.request);
            }
        }
        if open.end_stream {
            self.end_stream(cx, dir, open.target);
        }
    }

    /// DoH as Suricata finds it in a header list just decoded.
    fn doh_headers(&mut self, cx: &mut Cx<'_>, i: usize, request: bool) {
        let Some(stream) = self.streams.get_mut(i) else {
            return;
        };
        let list = if request {
            &stream.ev.request_headers
        } else {
            &stream.ev.response_headers
        };
        let mut accept_dns = false;
        let mut body_dns = false;
        let mut path = None;
        for f in list {
            if let HeaderField::Field { name, value } = f {
                match name.as_slice() {
                    b"accept" if value.as_slice() == DNS_MESSAGE => accept_dns = true,
                    b"content-type" if value.as_slice() == DNS_MESSAGE => body_dns = true,
                    b":path" => path = Some(value.as_slice()),
                    _ => {}
                }
            }
        }
        let d = usize::from(!request);
        if body_dns && stream.body[d].is_none() {
            stream.body[d] = Some(Vec::new());
        }
        if request && (accept_dns || body_dns) && stream.dns[0].is_none() {
            if let Some(msg) = path.and_then(doh_query) {
                if let Ok(ev) = parse_message(&msg, 0) {
                    stream.dns[0] = Some(ev);
                    self.rename(cx);
                }
            }
        }
    }

    fn rename(&mut self, cx: &mut Cx<'_>) {
        if !self.doh2 {
            self.doh2 = true;
            cx.upgrade("doh2", None);
        }
    }

    fn on_data(&mut self, dir: Direction, stream: u32, data: &[u8]) {
        let Some(s) = self.streams.iter_mut().find(|s| s.ev.stream_id == stream) else {
            return;
        };
        let slot = &mut s.body[dir.index()];
        if let Some(b) = slot {
            if b.len() + data.len() > DOH_BODY_CAP {
                *slot = None;
            } else {
                b.extend_from_slice(data);
            }
        }
    }

    fn end_stream(&mut self, cx: &mut Cx<'_>, dir: Direction, stream: u32) {
        let d = dir.index();
        let Some(s) = self.streams.iter_mut().find(|s| s.ev.stream_id == stream) else {
            return;
        };
        s.ended[d] = true;
        let mut renamed = false;
        if let Some(body) = s.body[d].take() {
            if let Ok(ev) = parse_message(&body, 0) {
                s.dns[d] = Some(ev);
                renamed = true;
            }
        }
        let done = s.ended == [true, true];
        if renamed {
            self.rename(cx);
        }
        if done {
            self.complete(cx, stream);
        }
    }

    /// The index of stream `id`, opened if new (emitting the oldest past
    /// [`MAX_STREAMS`]).
    fn stream(&mut self, cx: &mut Cx<'_>, id: u32) -> usize {
        if let Some(i) = self.streams.iter().position(|s| s.ev.stream_id == id) {
            return i;
        }
        if self.streams.len() >= MAX_STREAMS {
            if let Some(old) = self.streams.pop_front() {
                emit(cx, old);
            }
        }
        self.streams.push_back(Stream {
            ev: Http2Event {
                stream_id: id,
                ..Http2Event::default()
            },
            ended: [false; 2],
            body: [None, None],
            dns: [None, None],
        });
        self.streams.len() - 1
    }

    fn complete(&mut self, cx: &mut Cx<'_>, id: u32) {
        if let Some(i) = self.streams.iter().position(|s| s.ev.stream_id == id) {
            if let Some(s) = self.streams.remove(i) {
                emit(cx, s);
            }
        }
    }
}

/// An event of its own for a frame on stream 0 (SETTINGS, GOAWAY), as Suricata
/// writes each such frame: `fill` sets its one field.
fn connection_event(cx: &mut Cx<'_>, fill: impl FnOnce(&mut Http2Event)) {
    let mut ev = Http2Event::default();
    fill(&mut ev);
    cx.emit(Box::new(ev));
}

fn emit(cx: &mut Cx<'_>, s: Stream) {
    let Stream { mut ev, dns, .. } = s;
    let [q, a] = dns;
    ev.dns = a.or(q);
    cx.emit(Box::new(ev));
}

/// Dynamic table size updates at the start of a header block (RFC 7541 §4.2), logged
/// as Suricata does.
fn size_updates(block: &[u8], out: &mut Vec<HeaderField>) {
    let mut b = block;
    while let Some(&first) = b.first() {
        if first & 0xe0 != 0x20 || out.len() >= MAX_FIELDS {
            return;
        }
        let Some((v, n)) = hpack_int(b, 5) else {
            return;
        };
        out.push(HeaderField::TableSizeUpdate(v));
        b = b.get(n..).unwrap_or_default();
    }
}

/// An HPACK integer with a `prefix`-bit prefix: (value, bytes used).
fn hpack_int(b: &[u8], prefix: u8) -> Option<(u64, usize)> {
    let mask = (1u8 << prefix) - 1;
    let first = b.first()? & mask;
    if first < mask {
        return Some((u64::from(first), 1));
    }
    let mut v = u64::from(mask);
    for (i, &x) in b.get(1..)?.iter().enumerate().take(5) {
        v += u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 2));
        }
    }
    None
}

/// The DNS message a DoH GET carries in its `dns=` query parameter (base64url,
/// padding optional).
fn doh_query(path: &[u8]) -> Option<Vec<u8>> {
    let q = find_byte(path, b'?')?;
    let query = path.get(q + 1..)?;
    let value = query
        .split(|&b| b == b'&')
        .find_map(|p| p.strip_prefix(b"dns="))?;
    base64url(value)
}

/// Decodes base64url (RFC 4648 §5; the standard alphabet's `+` and `/` accepted too,
/// trailing `=` ignored), at most [`DOH_BODY_CAP`] bytes out.
fn base64url(s: &[u8]) -> Option<Vec<u8>> {
    let s = match s.iter().position(|&b| b == b'=') {
        Some(i) if s[i..].iter().all(|&b| b == b'=') => &s[..i],
        Some(_) => return None,
        None => s,
    };
    if s.len() % 4 == 1 || s.len() / 4 * 3 > DOH_BODY_CAP {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
