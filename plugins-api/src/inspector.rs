//! What a plugin author implements: [`ServiceInspector`] or [`PassiveInspector`],
//! each with a [`PluginFlow`], wrapped into an [`InspectorBox`] for the host.
//!
//! Contract: the SDK's adapters (private types behind [`InspectorBox::service`] and
//! [`InspectorBox::passive`]) are the only implementations of the FFI traits. Each of
//! their methods runs the author's code inside `catch_unwind` and returns a panic as
//! a [`PluginError`] of kind `Panic`; after a panic on a flow the adapter drops the
//! author's flow state (guarded too) and answers every later call with a `Poisoned`
//! error, so a half-updated state is never used again. Dropping the adapter drops the
//! author's state inside `catch_unwind` as well.

use crate::abi::{
    Direction, FfiChunk, FfiCx, FfiFlow, FfiFlowBox, FfiFlow_TO, FfiInspector, FfiInspectorBox,
    FfiInspector_TO, FlowStart, InspectorDecl, Kind, Pattern, PluginError, PluginErrorKind,
    Verdict,
};
use crate::event::Event;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RNone, ROption, RResult, RSome, RString, RVec};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A chunk of payload, in order, for one direction of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data<'a> {
    /// The next bytes (TCP: reassembled stream bytes; UDP: one datagram).
    Bytes(&'a [u8]),
    /// This many bytes are missing before the next bytes (a TCP hole).
    Gap(u32),
}

/// What a plugin may do to its flow during a call.
pub struct Cx<'a> {
    inner: &'a mut FfiCx,
}

impl<'a> Cx<'a> {
    /// A context collecting into `inner`. Plugins receive theirs from the SDK; this is
    /// for running a plugin's inspector in-process (tests, benchmarks against the
    /// same logic built in).
    pub fn new(inner: &'a mut FfiCx) -> Self {
        Cx { inner }
    }

    /// Packet time of the data, in nanoseconds since the Unix epoch (never read a
    /// clock: replayed captures run on their own time).
    pub fn now_ns(&self) -> u64 {
        self.inner.now_ns
    }

    /// Emits an event tied to this flow.
    pub fn emit(&mut self, event: Event) {
        self.inner.events.push(event);
    }

    /// Gives the flow a verdict ([`Verdict::Ignore`] also means done).
    pub fn set_verdict(&mut self, verdict: Verdict) {
        self.inner.verdict = verdict;
    }

    /// This inspector wants no more data on this flow (its `end` is still called).
    pub fn done(&mut self) {
        self.inner.done = true;
    }
}

/// A plugin inspector's state on one flow: owned by the engine's flow, dropped with
/// it (after [`PluginFlow::end`]).
pub trait PluginFlow: Send + 'static {
    /// The next chunk of direction `dir`.
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, data: Data<'_>);

    /// The flow ends (timeout, close, shutdown): last chance to emit events.
    fn end(&mut self, _cx: &mut Cx<'_>) {}
}

/// A service inspector: the wizard names a flow's service from the patterns it
/// declares, and the engine gives each such flow one [`ServiceInspector::Flow`].
pub trait ServiceInspector: Send + Sync + 'static {
    /// Its per-flow state.
    type Flow: PluginFlow;

    /// The inspector's name (unique in an engine).
    fn name(&self) -> &str;

    /// The services (EVE `app_proto` names) it handles; by default its name.
    fn services(&self) -> Vec<String> {
        vec![self.name().to_string()]
    }

    /// Wizard patterns (hexes and spells in Snort syntax) that name its services.
    fn patterns(&self) -> Vec<Pattern> {
        Vec::new()
    }

    /// Ports on which its patterns outrank rules without a port hint.
    fn ports(&self) -> Vec<u16> {
        Vec::new()
    }

    /// Starts inspecting a flow named one of its services; `None` leaves it alone.
    fn start(&self, flow: &FlowStart) -> Option<Self::Flow>;
}

/// A passive inspector: sees every flow that carries payload, whatever its service.
pub trait PassiveInspector: Send + Sync + 'static {
    /// Its per-flow state.
    type Flow: PluginFlow;

    /// The inspector's name (unique in an engine).
    fn name(&self) -> &str;

    /// Starts inspecting a flow; `None` leaves it alone.
    fn start(&self, flow: &FlowStart) -> Option<Self::Flow>;
}

/// A plugin's `[plugins.NAME]` table of the engine's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginConfig {
    value: serde_json::Value,
}

impl PluginConfig {
    /// The table from its JSON text (an empty table when `json` is empty).
    pub fn from_json(json: &str) -> Result<Self, PluginError> {
        if json.trim().is_empty() {
            return Ok(PluginConfig {
                value: serde_json::Value::Object(Default::default()),
            });
        }
        serde_json::from_str(json)
            .map(|value| PluginConfig { value })
            .map_err(|e| PluginError::msg(format!("plugin settings are not JSON: {e}")))
    }

    /// The table as JSON.
    pub fn json(&self) -> &serde_json::Value {
        &self.value
    }

    /// The table read into the plugin's own settings type (`#[derive(Deserialize)]`,
    /// with `#[serde(default)]` for optional keys and `deny_unknown_fields` to refuse
    /// misspelt ones).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, PluginError> {
        T::deserialize(&self.value).map_err(PluginError::msg)
    }
}

/// An inspector ready to hand to the host (see [`crate::export_plugin!`]).
pub struct InspectorBox(pub(crate) FfiInspectorBox);

impl std::fmt::Debug for InspectorBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InspectorBox")
    }
}

impl InspectorBox {
    /// Wraps a service inspector.
    pub fn service<T: ServiceInspector>(inspector: T) -> Self {
        InspectorBox(FfiInspector_TO::from_value(
            ServiceAdapter(ManuallyDrop::new(inspector)),
            TD_Opaque,
        ))
    }

    /// Wraps a passive inspector.
    pub fn passive<T: PassiveInspector>(inspector: T) -> Self {
        InspectorBox(FfiInspector_TO::from_value(
            PassiveAdapter(ManuallyDrop::new(inspector)),
            TD_Opaque,
        ))
    }

    /// The FFI object (for the generated export code and tests).
    pub fn into_ffi(self) -> FfiInspectorBox {
        self.0
    }
}

/// Runs `f`, turning a panic into a `Panic` error.
pub(crate) fn guard<R>(f: impl FnOnce() -> R) -> RResult<R, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => RResult::ROk(v),
        Err(payload) => {
            let message = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "(no message)".to_string()
            };
            // The payload is the author's: drop it inside a guard too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            RResult::RErr(PluginError {
                kind: PluginErrorKind::Panic,
                message: message.into(),
            })
        }
    }
}

fn start_flow<F: PluginFlow>(
    f: impl FnOnce() -> Option<F>,
) -> RResult<ROption<FfiFlowBox>, PluginError> {
    guard(f).map(|flow| match flow {
        Some(flow) => RSome(FfiFlow_TO::from_value(
            FlowAdapter { inner: Some(flow) },
            TD_Opaque,
        )),
        None => RNone,
    })
}

struct ServiceAdapter<T>(ManuallyDrop<T>);

impl<T: ServiceInspector> FfiInspector for ServiceAdapter<T> {
    fn decl(&self) -> RResult<InspectorDecl, PluginError> {
        guard(|| InspectorDecl {
            name: self.0.name().into(),
            kind: Kind::Service,
            services: self.0.services().into_iter().map(RString::from).collect(),
            patterns: RVec::from(self.0.patterns()),
            ports: RVec::from(self.0.ports()),
        })
    }

    fn start(&self, flow: &FlowStart) -> RResult<ROption<FfiFlowBox>, PluginError> {
        start_flow(|| self.0.start(flow))
    }
}

struct PassiveAdapter<T>(ManuallyDrop<T>);

impl<T: PassiveInspector> FfiInspector for PassiveAdapter<T> {
    fn decl(&self) -> RResult<InspectorDecl, PluginError> {
        guard(|| InspectorDecl {
            name: self.0.name().into(),
            kind: Kind::Passive,
            services: RVec::new(),
            patterns: RVec::new(),
            ports: RVec::new(),
        })
    }

    fn start(&self, flow: &FlowStart) -> RResult<ROption<FfiFlowBox>, PluginError> {
        start_flow(|| self.0.start(flow))
    }
}

/// Drops an inspector inside a guard (an adapter's only field).
fn drop_guarded<T>(slot: &mut ManuallyDrop<T>) {
    // SAFETY: called once, from the adapter's Drop; the slot is never used after.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(slot) }));
}

impl<T> Drop for ServiceAdapter<T> {
    fn drop(&mut self) {
        drop_guarded(&mut self.0);
    }
}

impl<T> Drop for PassiveAdapter<T> {
    fn drop(&mut self) {
        drop_guarded(&mut self.0);
    }
}

struct FlowAdapter<F: PluginFlow> {
    /// `None` after a panic: the state is dropped and never used again.
    inner: Option<F>,
}

impl<F: PluginFlow> FlowAdapter<F> {
    fn call(
        &mut self,
        cx: &mut FfiCx,
        f: impl FnOnce(&mut F, &mut Cx<'_>),
    ) -> RResult<(), PluginError> {
        let Some(flow) = self.inner.as_mut() else {
            return RResult::RErr(PluginError {
                kind: PluginErrorKind::Poisoned,
                message: "this flow's state was dropped after a panic".into(),
            });
        };
        let out = guard(|| f(flow, &mut Cx { inner: cx }));
        if out.is_err() {
            let state = self.inner.take();
            let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
        }
        out
    }
}

impl<F: PluginFlow> FfiFlow for FlowAdapter<F> {
    fn data(
        &mut self,
        cx: &mut FfiCx,
        dir: Direction,
        chunk: FfiChunk<'_>,
    ) -> RResult<(), PluginError> {
        let data = match chunk {
            FfiChunk::Data(d) => Data::Bytes(d.as_slice()),
            FfiChunk::Gap(n) => Data::Gap(n),
        };
        self.call(cx, |f, cx| f.data(cx, dir, data))
    }

    fn end(&mut self, cx: &mut FfiCx) -> RResult<(), PluginError> {
        self.call(cx, |f, cx| f.end(cx))
    }
}

impl<F: PluginFlow> Drop for FlowAdapter<F> {
    fn drop(&mut self) {
        let state = self.inner.take();
        let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
    }
}

/// Runs the author's constructor for the generated export code: parses the settings,
/// calls `build`, and guards both.
#[doc(hidden)]
pub fn construct(
    config: &str,
    build: fn(&PluginConfig) -> Result<Vec<InspectorBox>, PluginError>,
) -> RResult<RVec<FfiInspectorBox>, PluginError> {
    match guard(|| PluginConfig::from_json(config).and_then(|c| build(&c))) {
        RResult::ROk(Ok(list)) => RResult::ROk(list.into_iter().map(|b| b.0).collect()),
        RResult::ROk(Err(e)) | RResult::RErr(e) => RResult::RErr(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{Endpoint, Transport};

    struct Toy;
    struct ToyFlow(u32);

    impl PluginFlow for ToyFlow {
        fn data(&mut self, cx: &mut Cx<'_>, _dir: Direction, data: Data<'_>) {
            if data == Data::Bytes(b"boom") {
                panic!("boom at {}", self.0);
            }
            self.0 += 1;
            cx.emit(Event::new("toy").uint("n", u64::from(self.0)));
            cx.set_verdict(Verdict::Allow);
        }
    }

    impl ServiceInspector for Toy {
        type Flow = ToyFlow;
        fn name(&self) -> &str {
            "toy"
        }
        fn start(&self, flow: &FlowStart) -> Option<ToyFlow> {
            if flow.server.port == 666 {
                panic!("not that port");
            }
            Some(ToyFlow(0))
        }
    }

    fn start(port: u16) -> FlowStart {
        let ip = "10.0.0.1".parse().unwrap();
        FlowStart {
            flow_id: 1,
            transport: Transport::Tcp,
            ip_proto: 6,
            client: Endpoint::new(ip, 1000),
            server: Endpoint::new(ip, port),
        }
    }

    #[test]
    fn panics_become_errors_and_poison_the_flow() {
        let b = InspectorBox::service(Toy).into_ffi();
        let d = b.decl().unwrap();
        assert_eq!(d.services.len(), 1);
        assert_eq!(d.kind, Kind::Service);
        let RResult::RErr(e) = b.start(&start(666)) else {
            panic!("a panic in start is an error")
        };
        assert!(e.is_panic() && e.message.contains("not that port"), "{e}");
        let mut f = b.start(&start(11211)).unwrap().unwrap();
        let mut cx = FfiCx::default();
        let ok = FfiChunk::Data(b"ok".as_slice().into());
        f.data(&mut cx, Direction::ToServer, ok).unwrap();
        assert_eq!((cx.events.len(), cx.verdict), (1, Verdict::Allow));
        let boom = FfiChunk::Data(b"boom".as_slice().into());
        let e = f.data(&mut cx, Direction::ToServer, boom).unwrap_err();
        assert_eq!(e.kind, PluginErrorKind::Panic);
        assert_eq!(e.message.as_str(), "boom at 1");
        let e = f.data(&mut cx, Direction::ToServer, ok).unwrap_err();
        assert_eq!(e.kind, PluginErrorKind::Poisoned);
        assert!(f.end(&mut cx).is_err());
    }

    #[test]
    fn settings_parse_into_the_plugins_type() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct S {
            cidrs: Vec<String>,
        }
        let c = PluginConfig::from_json(r#"{"cidrs": ["10.0.0.0/8"]}"#).unwrap();
        assert_eq!(c.parse::<S>().unwrap().cidrs, ["10.0.0.0/8"]);
        let c = PluginConfig::from_json(r#"{"cidr": 1}"#).unwrap();
        assert!(c.parse::<S>().unwrap_err().message.contains("cidr"));
        assert!(PluginConfig::from_json("").unwrap().json().is_object());
        assert!(PluginConfig::from_json("{").is_err());
        fn build(c: &PluginConfig) -> Result<Vec<InspectorBox>, PluginError> {
            if c.json().get("fail").is_some() {
                panic!("asked to");
            }
            Ok(vec![InspectorBox::service(Toy)])
        }
        assert_eq!(construct("{}", build).unwrap().len(), 1);
        let RResult::RErr(e) = construct(r#"{"fail": 1}"#, build) else {
            panic!("a panic in the constructor is an error")
        };
        assert!(e.is_panic());
    }
}
