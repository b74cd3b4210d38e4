//! Inspectors: the framework that turns a flow meter into an inspection engine.
//!
//! Contract:
//! - An [`Inspector`] is a shared object (`Arc<dyn Inspector>`) of one of three kinds
//!   ([`InspectorKind`]): the wizard, which names each flow's service; service
//!   inspectors, one per flow, chosen by the service name through the binder; passive
//!   inspectors, which see every flow that carries payload.
//! - Per-flow state is a [`FlowData`] that the inspector creates when a flow starts
//!   (or when its service is named) and that the flow owns; it is dropped when the
//!   flow ends, after its [`FlowData::end`]. The flow also holds an `Arc` of each
//!   inspector that has a FlowData on it, so an inspector replaced by a reload lives
//!   until the last flow that uses it ends.
//! - Inspectors see payload, never packets: per direction, in order, as [`Chunk`]s
//!   (TCP after reassembly, with gaps reported; UDP one datagram per chunk).
//! - Inspectors act on their flow only through a [`Cx`]: name the service, report that
//!   detection failed, swap client and server, upgrade the protocol (STARTTLS), set a
//!   verdict, emit events, announce an expected flow (FTP data connections, see
//!   [`expect`]), and say it wants no more data on the flow ([`Cx::done`]) or in one
//!   direction of it ([`Cx::done_with`]: that direction's chunks no longer reach it;
//!   the flow's end still does). Nothing here reads a clock: `Cx::now` is packet time.
//! - Inspector code runs on the packet path: it must not block, and should not
//!   allocate per packet.

pub mod app;
pub mod data_map;
pub mod event;
pub mod expect;
pub mod set;

pub use crate::stream::Chunk;
pub use app::{AppFlow, AppProto, Effects, InspectStats};
pub use event::{AppEvent, EventRecord};
pub use expect::{ExpectConfig, ExpectStats, ExpectTable, Expectation};
pub use set::{InspectorSet, PortBinding, Registered, SetError};

use crate::flow::{Direction, Verdict};
use crate::stream::TcpSession;
use crate::time::Timestamp;
use std::net::IpAddr;

/// What an inspector does for its flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InspectorKind {
    /// Names the service of each flow from its first bytes (one per engine).
    Wizard,
    /// Inspects the flows of the services it is bound to (one per flow).
    Service,
    /// Sees every flow that carries payload, whatever its service.
    Passive,
}

/// What each flow slot of an engine carries beyond the flow itself: the stream's TCP
/// session, and the inspection state once the flow has carried payload (boxed: a flow
/// without payload, or an engine without inspectors, pays one word).
#[derive(Debug, Default)]
pub struct FlowExt {
    /// TCP session (inactive for other protocols).
    pub tcp: TcpSession,
    /// Inspection state.
    pub app: Option<Box<app::AppFlow>>,
}

/// The transport of a flow, as inspectors need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// TCP: chunks are reassembled stream bytes.
    Tcp,
    /// UDP: one chunk per datagram.
    Udp,
    /// Anything else (one chunk per packet's IP payload).
    Other(u8),
}

/// Read-only facts about a flow, given to an inspector when it starts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowInfo {
    /// The flow's id (as in its EVE records).
    pub flow_id: u64,
    /// The transport.
    pub transport: Transport,
    /// Client address and port (port 0 without ports), as known when the inspector
    /// starts.
    pub client: (IpAddr, u16),
    /// Server address and port.
    pub server: (IpAddr, u16),
}

impl FlowInfo {
    /// The server's port (the usual port hint).
    pub fn server_port(&self) -> u16 {
        self.server.1
    }
}

/// A shared inspector: its name, kind and services, and a constructor for its
/// per-flow state.
pub trait Inspector: Send + Sync + 'static {
    /// The inspector's name (unique within an engine; `[binder]` and statistics use
    /// it).
    fn name(&self) -> &str;

    /// Its kind.
    fn kind(&self) -> InspectorKind;

    /// The services (Suricata's EVE `app_proto` names) a service inspector handles.
    fn services(&self) -> &[&'static str] {
        &[]
    }

    /// Starts inspecting a flow; `None` leaves this flow alone.
    fn start(&self, flow: &FlowInfo) -> Option<Box<dyn FlowData>>;

    /// A copy of this inspector for one worker thread of several
    /// ([`Workers`](crate::Workers)), sharing no reference count with the others that
    /// [`start`](Self::start) or its flow data touch: a flow starting or ending on
    /// one core then does not take a cache line from another. Worth it for an
    /// inspector whose flow data holds an `Arc` of it (or of its tables). `None`
    /// (the default): the workers share this one, each through a handle of its own.
    fn fork(&self) -> Option<std::sync::Arc<dyn Inspector>> {
        None
    }

    /// (Wizard) Direction `dir` of a flow the other direction named `service` starts
    /// with `data` (its first chunk, at packet time `now`): what this direction says on
    /// its own, as Suricata detects each direction of a flow.
    /// [`Detection::Service`] names what it speaks (the same service, or another one,
    /// which the record shows as `app_proto_ts`/`app_proto_tc`);
    /// [`Detection::Failed`] says no protocol fits it (recorded as `failed` for that
    /// direction); [`Detection::Pending`] says nothing. The default shows `data` to a
    /// fresh [`FlowData`] of this inspector and reports the service it names, if any.
    fn second_look(
        &self,
        flow: &FlowInfo,
        service: &'static str,
        dir: Direction,
        data: &[u8],
        now: Timestamp,
    ) -> Detection {
        let _ = service;
        let Some(mut fd) = self.start(flow) else {
            return Detection::Pending;
        };
        let mut actions = Actions::default();
        fd.data(
            &mut Cx::new(now, flow, &mut actions),
            dir,
            Chunk::Data(data),
        );
        match actions.detection {
            Some(Detection::Service(name)) => Detection::Service(name),
            _ => Detection::Pending,
        }
    }
}

/// An inspector's state on one flow (Snort's FlowData), owned by the flow.
pub trait FlowData: Send + 'static {
    /// The next chunk of payload in direction `dir`.
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>);

    /// The flow ends (timeout, close, shutdown, ...): last chance to emit events.
    fn end(&mut self, _cx: &mut Cx<'_>) {}
}

/// What detection concluded, as a wizard reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detection {
    /// Still looking.
    Pending,
    /// The service, by its EVE name (`"http"`, `"tls"`, ...).
    Service(&'static str),
    /// Gave up: EVE `app_proto: "failed"`.
    Failed,
}

/// What inspectors asked for during one call, applied by the engine afterwards.
#[derive(Debug, Default)]
pub struct Actions {
    /// The wizard's conclusion, if it reached one in this call.
    pub detection: Option<Detection>,
    /// Client and server must swap (a server's answer was recognised first).
    pub swap: bool,
    /// The protocol changes from here on, in `Option<Direction>` (both when `None`):
    /// STARTTLS, HTTP `Upgrade`, `CONNECT`.
    pub upgrade: Option<(&'static str, Option<Direction>)>,
    /// With an upgrade: the bytes of the current chunk the old protocol used; the new
    /// service's inspector gets the rest of the chunk (an HTTP `101` answer and the
    /// first HTTP/2 frames in one segment).
    pub handover: Option<usize>,
    /// A verdict for the flow.
    pub verdict: Option<Verdict>,
    /// Events, in the order emitted.
    pub events: Vec<Box<dyn AppEvent>>,
    /// Stop giving this inspector data on this flow (it has all it wants).
    pub done: bool,
    /// Stop giving this inspector data in this direction (a wizard that ruled out a
    /// UDP flow's first datagram in one direction waits for the other's).
    pub done_with: Option<Direction>,
    /// Flows announced for later, in the order announced.
    pub expectations: Vec<Expectation>,
    /// (Wizard, with a service) this direction's own first data fit no service: the
    /// record shows it as `app_proto_ts`/`app_proto_tc: "failed"`.
    pub failed_dir: Option<Direction>,
}

impl Actions {
    /// True when nothing was asked.
    pub fn is_empty(&self) -> bool {
        self.detection.is_none()
            && !self.swap
            && self.upgrade.is_none()
            && self.verdict.is_none()
            && self.events.is_empty()
            && !self.done
            && self.done_with.is_none()
            && self.expectations.is_empty()
            && self.failed_dir.is_none()
    }
}

/// What an inspector may do to its flow during a call.
pub struct Cx<'a> {
    now: Timestamp,
    flow: &'a FlowInfo,
    actions: &'a mut Actions,
}

impl<'a> Cx<'a> {
    /// A context for one call on `flow` at packet time `now`, collecting into
    /// `actions`.
    pub fn new(now: Timestamp, flow: &'a FlowInfo, actions: &'a mut Actions) -> Self {
        Cx { now, flow, actions }
    }

    /// Packet time of the data being inspected.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The flow.
    pub fn flow(&self) -> &FlowInfo {
        self.flow
    }

    /// (Wizard) the flow's service is `name`.
    pub fn set_service(&mut self, name: &'static str) {
        self.actions.detection = Some(Detection::Service(name));
    }

    /// (Wizard) detection gave up: the flow's service is `"failed"`.
    pub fn detection_failed(&mut self) {
        self.actions.detection = Some(Detection::Failed);
    }

    /// (Wizard, with [`Cx::set_service`]) direction `dir` (as this call sees the flow)
    /// was ruled out on its own data: the service came from the other direction.
    /// Suricata records such a direction as `app_proto_ts`/`app_proto_tc: "failed"`
    /// (a UDP flow whose first datagram was junk and whose answer was recognised; a
    /// TCP server banner no protocol fits, then a client request that names one).
    pub fn direction_failed(&mut self, dir: Direction) {
        self.actions.failed_dir = Some(dir);
    }

    /// The side taken for the client is the server: swap them, with their counters.
    pub fn swap_direction(&mut self) {
        self.actions.swap = true;
    }

    /// From here on the flow (or one direction of it) speaks `service` (STARTTLS,
    /// HTTP `Upgrade`, HTTP/2 found to carry DNS): the record keeps the first service
    /// as `app_proto_orig`. When `service` is bound to the inspector asking, its
    /// FlowData stays; otherwise it ends and the new service's inspector starts with
    /// the next chunk.
    pub fn upgrade(&mut self, service: &'static str, dir: Option<Direction>) {
        self.actions.upgrade = Some((service, dir));
    }

    /// Like [`Cx::upgrade`], for a protocol switch in the middle of the current chunk:
    /// its first `consumed` bytes were the old protocol's, and the new service's
    /// inspector gets the rest of this chunk at once.
    pub fn upgrade_at(&mut self, service: &'static str, dir: Option<Direction>, consumed: usize) {
        self.actions.upgrade = Some((service, dir));
        self.actions.handover = Some(consumed);
    }

    /// Gives the flow a verdict.
    pub fn set_verdict(&mut self, v: Verdict) {
        self.actions.verdict = Some(v);
    }

    /// Emits an event tied to this flow.
    pub fn emit(&mut self, event: Box<dyn AppEvent>) {
        self.actions.events.push(event);
    }

    /// A connection is expected (an FTP data connection announced by `PORT` or a
    /// `227` reply): the flow that opens it, if it starts before the expectation
    /// times out, gets `e.service` without payload detection (see [`expect`]).
    pub fn expect(&mut self, e: Expectation) {
        self.actions.expectations.push(e);
    }

    /// This inspector wants no more data on this flow.
    pub fn done(&mut self) {
        self.actions.done = true;
    }

    /// This inspector wants no more data in direction `dir` of this flow (the other
    /// direction's chunks, and the flow's end, still reach it).
    pub fn done_with(&mut self, dir: Direction) {
        self.actions.done_with = Some(dir);
    }
}
