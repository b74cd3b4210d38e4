//! Plugin inspectors as engine inspectors.
//!
//! Contract: a [`HostInspector`] is an `Inspector` whose `start` calls the plugin's;
//! the flow state it returns ([`HostFlow`]) owns the plugin's flow object and one
//! reusable [`FfiCx`]. Each chunk: the cx is cleared, the plugin is called, then what
//! it asked is applied to the engine's `Cx` (events, verdict, done). A call that
//! returns an error (a panic the SDK caught, or a poisoned state) is counted in the
//! plugin's [`PluginStats`], its half-done effects are dropped, the plugin's flow
//! object is dropped, and the inspector is done with that flow; the flow goes on with
//! the other inspectors and gets its record as usual. A panic in `start` is counted
//! and leaves the flow alone. The per-chunk path allocates nothing of its own (events
//! the plugin emits are converted to JSON).

use flowengine::flow::{Direction, Verdict};
use flowengine::inspect::{AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind};
use flowengine_plugin_api::{
    Direction as PDirection, Endpoint, Event, FfiChunk, FfiCx, FfiFlowBox, FfiInspectorBox,
    FlowStart, PluginError, Transport as PTransport, Value, Verdict as PVerdict,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Distinct event type names interned for the whole process; events of further
/// types are reported under `plugin` (a plugin inventing names per event cannot grow
/// memory without bound).
pub const MAX_EVENT_TYPES: usize = 256;

/// Deepest nesting of an event's fields rendered; deeper fields are dropped.
pub const MAX_DEPTH: usize = 16;

/// Counters of one plugin, shared by all its inspectors and flows.
#[derive(Debug, Default)]
pub struct PluginStats {
    panics: AtomicU64,
    errors: AtomicU64,
    last: Mutex<Option<String>>,
}

impl PluginStats {
    /// Panics caught (a flow's inspector disabled for each, or a constructor failed).
    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Other errors (a poisoned flow state used).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The last panic's message.
    pub fn last_panic(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn count(&self, e: &PluginError) {
        if e.is_panic() {
            self.panics.fetch_add(1, Ordering::Relaxed);
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.message.to_string());
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Interns a string (service names, event types) once per distinct value.
pub(crate) fn intern_str(s: &str) -> &'static str {
    intern_capped(s, usize::MAX).unwrap_or("plugin")
}

fn intern_capped(s: &str, cap: usize) -> Option<&'static str> {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == s) {
        return Some(n);
    }
    if names.len() >= cap {
        return None;
    }
    let n: &'static str = Box::leak(s.to_string().into_boxed_str());
    names.push(n);
    Some(n)
}

/// Interns a port list once per distinct list.
pub(crate) fn intern_ports(ports: &[u16]) -> &'static [u16] {
    if ports.is_empty() {
        return &[];
    }
    static LISTS: Mutex<Vec<&'static [u16]>> = Mutex::new(Vec::new());
    let mut lists = LISTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = lists.iter().find(|l| **l == ports) {
        return l;
    }
    let l: &'static [u16] = Box::leak(ports.to_vec().into_boxed_slice());
    lists.push(l);
    l
}

/// A plugin inspector as the engine sees it.
pub struct HostInspector {
    name: String,
    kind: InspectorKind,
    services: &'static [&'static str],
    ffi: FfiInspectorBox,
    stats: Arc<PluginStats>,
}

impl HostInspector {
    pub(crate) fn new(
        name: String,
        kind: InspectorKind,
        services: &'static [&'static str],
        ffi: FfiInspectorBox,
        stats: Arc<PluginStats>,
    ) -> Self {
        HostInspector {
            name,
            kind,
            services,
            ffi,
            stats,
        }
    }
}

fn flow_start(f: &FlowInfo) -> FlowStart {
    use flowengine::inspect::Transport;
    let (transport, ip_proto) = match f.transport {
        Transport::Tcp => (PTransport::Tcp, 6),
        Transport::Udp => (PTransport::Udp, 17),
        Transport::Other(p) => (PTransport::Other, p),
        #[allow(unreachable_patterns)]
        _ => (PTransport::Other, 0),
    };
    FlowStart {
        flow_id: f.flow_id,
        transport,
        ip_proto,
        client: Endpoint::new(f.client.0, f.client.1),
        server: Endpoint::new(f.server.0, f.server.1),
    }
}

impl Inspector for HostInspector {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> InspectorKind {
        self.kind
    }

    fn services(&self) -> &[&'static str] {
        self.services
    }

    fn start(&self, flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        match self.ffi.start(&flow_start(flow)).into_result() {
            Ok(f) => f.into_option().map(|f| {
                Box::new(HostFlow {
                    ffi: Some(f),
                    cx: FfiCx::default(),
                    stats: Arc::clone(&self.stats),
                }) as Box<dyn FlowData>
            }),
            Err(e) => {
                self.stats.count(&e);
                None
            }
        }
    }
}

/// A plugin inspector's state on one flow.
pub struct HostFlow {
    /// `None` once a call failed: the inspector is off on this flow.
    ffi: Option<FfiFlowBox>,
    cx: FfiCx,
    stats: Arc<PluginStats>,
}

impl HostFlow {
    /// Applies what the plugin asked, or disables it on this flow after an error.
    fn settle(&mut self, cx: &mut Cx<'_>, outcome: Result<(), PluginError>) {
        if let Err(e) = outcome {
            self.stats.count(&e);
            self.cx.events.clear();
            self.ffi = None;
            cx.done();
            return;
        }
        for e in self.cx.events.drain(..) {
            cx.emit(Box::new(PluginEvent::from_event(&e)));
        }
        match self.cx.verdict {
            PVerdict::None => {}
            PVerdict::Allow => cx.set_verdict(Verdict::Allow),
            PVerdict::Block => cx.set_verdict(Verdict::Block),
            PVerdict::Ignore => cx.done(),
        }
        if self.cx.done {
            cx.done();
        }
    }
}

impl FlowData for HostFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        let Some(f) = self.ffi.as_mut() else {
            cx.done();
            return;
        };
        self.cx.reset(cx.now().as_nanos());
        let dir = match dir {
            Direction::ToServer => PDirection::ToServer,
            Direction::ToClient => PDirection::ToClient,
        };
        let chunk = match chunk {
            Chunk::Data(d) => FfiChunk::Data(d.into()),
            Chunk::Gap(n) => FfiChunk::Gap(n),
        };
        let out = f.data(&mut self.cx, dir, chunk).into_result();
        self.settle(cx, out);
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        let Some(f) = self.ffi.as_mut() else {
            return;
        };
        self.cx.reset(cx.now().as_nanos());
        let out = f.end(&mut self.cx).into_result();
        self.settle(cx, out);
    }
}

/// An event a plugin emitted, rendered as EVE JSON under its type.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginEvent {
    event_type: &'static str,
    value: serde_json::Value,
}

impl PluginEvent {
    /// Converts a plugin's event (see the SDK's `event` module for the token list).
    pub fn from_event(e: &Event) -> Self {
        let event_type = intern_capped(e.event_type.as_str(), MAX_EVENT_TYPES).unwrap_or("plugin");
        PluginEvent {
            event_type,
            value: render(e),
        }
    }

    /// The fields, as written under the event type.
    pub fn value(&self) -> &serde_json::Value {
        &self.value
    }
}

impl AppEvent for PluginEvent {
    fn event_type(&self) -> &'static str {
        self.event_type
    }

    fn to_json(&self) -> serde_json::Value {
        self.value.clone()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An open object or array while rendering.
enum Open {
    Obj(String, serde_json::Map<String, serde_json::Value>),
    Arr(String, Vec<serde_json::Value>),
}

impl Open {
    fn put(&mut self, key: &str, v: serde_json::Value) {
        match self {
            Open::Obj(_, m) => {
                m.insert(key.to_string(), v);
            }
            Open::Arr(_, a) => a.push(v),
        }
    }

    fn close(self) -> (String, serde_json::Value) {
        match self {
            Open::Obj(k, m) => (k, serde_json::Value::Object(m)),
            Open::Arr(k, a) => (k, serde_json::Value::Array(a)),
        }
    }
}

/// Renders the token list as a JSON object (see the SDK's contract for malformed
/// lists: unclosed nesting is closed, a stray `End` ignored, depth capped).
fn render(e: &Event) -> serde_json::Value {
    use serde_json::Value as J;
    let mut stack = vec![Open::Obj(String::new(), serde_json::Map::new())];
    // Tokens inside nesting dropped for depth, still counted to stay balanced.
    let mut skipped = 0usize;
    for f in e.fields.iter() {
        let key = f.key.as_str();
        if skipped > 0 {
            match f.value {
                Value::Object | Value::Array => skipped += 1,
                Value::End => skipped -= 1,
                _ => {}
            }
            continue;
        }
        let v = match &f.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.to_string()),
            Value::Object | Value::Array => {
                if stack.len() > MAX_DEPTH {
                    skipped = 1;
                } else if matches!(f.value, Value::Object) {
                    stack.push(Open::Obj(key.to_string(), serde_json::Map::new()));
                } else {
                    stack.push(Open::Arr(key.to_string(), Vec::new()));
                }
                continue;
            }
            Value::End => {
                if stack.len() > 1 {
                    if let Some(done) = stack.pop() {
                        let (k, v) = done.close();
                        if let Some(top) = stack.last_mut() {
                            top.put(&k, v);
                        }
                    }
                }
                continue;
            }
        };
        if let Some(top) = stack.last_mut() {
            top.put(key, v);
        }
    }
    while stack.len() > 1 {
        if let Some(done) = stack.pop() {
            let (k, v) = done.close();
            if let Some(top) = stack.last_mut() {
                top.put(&k, v);
            }
        }
    }
    stack.pop().map_or(J::Null, |o| o.close().1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowengine_plugin_api::Field;
    use serde_json::json;

    #[test]
    fn events_render_nested_fields() {
        let e = Event::new("memcached")
            .str("command", "get")
            .strs("keys", ["a", "b"])
            .object("reply", |o| o.uint("hits", 1).bool("ok", true).int("n", -2))
            .float("ratio", 0.5)
            .float("bad", f64::NAN);
        let p = PluginEvent::from_event(&e);
        assert_eq!(p.event_type(), "memcached");
        assert_eq!(
            p.to_json(),
            json!({"command": "get", "keys": ["a", "b"],
                   "reply": {"hits": 1, "ok": true, "n": -2}, "ratio": 0.5, "bad": null})
        );
    }

    #[test]
    fn malformed_token_lists_still_render() {
        let tok = |key: &str, value: Value| Field {
            key: key.into(),
            value,
        };
        let mut e = Event::new("x");
        e.fields.push(tok("", Value::End));
        e.fields.push(tok("o", Value::Object));
        e.fields.push(tok("a", Value::Array));
        e.fields.push(tok("", Value::UInt(1)));
        assert_eq!(
            PluginEvent::from_event(&e).to_json(),
            json!({"o": {"a": [1]}})
        );
        let mut deep = Event::new("x");
        for _ in 0..40 {
            deep.fields.push(tok("d", Value::Object));
        }
        deep.fields.push(tok("leaf", Value::Bool(true)));
        for _ in 0..40 {
            deep.fields.push(tok("", Value::End));
        }
        deep.fields.push(tok("after", Value::UInt(2)));
        let v = PluginEvent::from_event(&deep).to_json();
        assert_eq!(v["after"], 2, "{v}");
    }

    #[test]
    fn event_types_are_interned_and_capped() {
        let a = PluginEvent::from_event(&Event::new("same-type"));
        let b = PluginEvent::from_event(&Event::new("same-type"));
        assert!(std::ptr::eq(a.event_type(), b.event_type()));
        assert_eq!(intern_ports(&[11211]), intern_ports(&[11211]));
        assert!(std::ptr::eq(intern_ports(&[11211]), intern_ports(&[11211])));
    }
}
