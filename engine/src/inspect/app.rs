//! One flow's inspection: its wizard, service and passive FlowData, and its service
//! names, as the engine drives them chunk by chunk.
//!
//! Contract:
//! - An [`AppFlow`] is created (boxed, in the flow's slot) when the flow first carries
//!   payload and the engine has inspectors; a flow without payload never gets one, and
//!   its record has no `app_proto` (Suricata's rule).
//! - An expected flow (one an inspector announced, see [`super::expect`]) gets its
//!   `AppFlow` from [`AppFlow::expected`] when it is created, holding the service it
//!   will have; nothing starts until its first chunk, which names that service (no
//!   wizard, no port binding) and starts the bound service inspector, if any, and the
//!   passive inspectors. Without payload it still has no `app_proto`.
//! - Each chunk goes, in this order, to the wizard while it has not decided, then to
//!   the service inspector, then to each passive inspector (in id order).
//! - When the wizard names a service, the bound service inspector starts and first
//!   gets, in arrival order, every chunk the wizard saw before deciding (kept up to
//!   [`REPLAY_CAP`] bytes; beyond that the service inspector gets a `Gap` for the rest),
//!   then the chunk that decided. A wizard that decides on its first chunk (the common
//!   case) costs no copy.
//! - A direction swap asked by an inspector takes effect at once: the chunk being
//!   handled, and the ones kept for replay, are handed on in the new direction.
//! - An upgrade (STARTTLS, HTTP `Upgrade`) ends the current service inspector (its
//!   `end` runs) and starts the new service's from the next chunk, or from the rest
//!   of the current one when the upgrade said how much of it the old protocol used
//!   (`Cx::upgrade_at`); the record keeps the first service as `app_proto_orig`, and
//!   a one-direction upgrade sets `app_proto_ts`/`app_proto_tc`. An upgrade to a
//!   service bound to the same inspector (HTTP/2 to DoH2) only renames the flow: the
//!   FlowData stays.
//! - Expectations an inspector announces ([`super::Cx::expect`]) are kept, unless
//!   their service is turned off, until the engine takes them
//!   ([`AppFlow::take_expectations`]) after the call; those announced from `end`
//!   are dropped.
//! - At the end ([`AppFlow::finish`]) a wizard still undecided makes the service
//!   `failed`, then every FlowData's `end` runs; dropping the `AppFlow` drops them and
//!   the `Arc`s of their inspectors.

use super::data_map::FlowDataMap;
use super::set::InspectorSet;
use super::{
    Actions, AppEvent, Chunk, Cx, Detection, EventRecord, Expectation, FlowData, FlowInfo,
};
use crate::flow::{Direction, Verdict};
use crate::stream::{Reassembler, ReassemblyConfig};
use crate::time::Timestamp;
use std::cell::RefCell;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Bytes of payload kept while the wizard has not decided, for the service inspector.
pub const REPLAY_CAP: usize = 16 * 1024;

/// The name EVE gives a flow whose detection gave up.
pub const FAILED: &str = "failed";

/// The service names of a flow, as its record reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppProto {
    /// The flow's service (`app_proto`), `failed`, or none while undecided.
    pub app_proto: Option<&'static str>,
    /// The client's direction, when it differs from `app_proto`.
    pub ts: Option<&'static str>,
    /// The server's direction, when it differs from `app_proto`.
    pub tc: Option<&'static str>,
    /// The service before an upgrade changed it.
    pub orig: Option<&'static str>,
}

/// A flow's service names as kept: the service inline; the rarer names of one
/// direction and before an upgrade boxed once one is set (one word, not six, per flow).
#[derive(Debug, Default)]
struct Names {
    app_proto: Option<&'static str>,
    /// `ts`, `tc` and `orig`; its `app_proto` is the service of an expected flow not
    /// started yet (named at its first chunk).
    more: Option<Box<AppProto>>,
}

impl Names {
    fn get(&self) -> AppProto {
        AppProto {
            app_proto: self.app_proto,
            ..self.more.as_deref().copied().unwrap_or_default()
        }
    }

    fn more(&mut self) -> &mut AppProto {
        self.more.get_or_insert_with(Default::default)
    }

    /// An expected flow not started yet: its service.
    fn pending(&self) -> Option<&'static str> {
        self.more.as_ref().and_then(|m| m.app_proto)
    }

    fn take_pending(&mut self) -> Option<&'static str> {
        self.more.as_mut().and_then(|m| m.app_proto.take())
    }
}

/// What the engine must apply to the flow after a chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Client and server swapped (the engine swaps the flow's counters and roles).
    pub swap: bool,
    /// A verdict for the flow.
    pub verdict: Option<Verdict>,
}

struct Slot {
    inspector: Arc<dyn super::Inspector>,
    data: Box<dyn FlowData>,
    done: bool,
    /// Per direction: the inspector wants no more of its data ([`Cx::done_with`]).
    done_with: [bool; 2],
}

/// Chunks the wizard saw before deciding.
#[derive(Default)]
struct Replay {
    bytes: Vec<u8>,
    /// (direction, length; a `Gap` when `gap`) in arrival order.
    pieces: Vec<(Direction, u32, bool)>,
}

impl Replay {
    fn push(&mut self, dir: Direction, chunk: Chunk<'_>) {
        match chunk {
            Chunk::Data(d) => {
                let room = REPLAY_CAP.saturating_sub(self.bytes.len());
                let kept = d.len().min(room);
                if kept > 0 {
                    self.bytes.extend_from_slice(&d[..kept]);
                    self.pieces.push((dir, kept as u32, false));
                }
                if kept < d.len() {
                    self.gap(dir, u32::try_from(d.len() - kept).unwrap_or(u32::MAX));
                }
            }
            Chunk::Gap(n) => self.gap(dir, n),
        }
    }

    /// Adds a gap of `n` bytes, joined to the last piece when that is a gap in the same
    /// direction: once the bytes are full, a flow the wizard never decides (one-way
    /// UDP, which waits for the other side) keeps a few pieces, not one per datagram.
    fn gap(&mut self, dir: Direction, n: u32) {
        if let Some(last) = self.pieces.last_mut() {
            if last.0 == dir && last.2 {
                if let Some(sum) = last.1.checked_add(n) {
                    last.1 = sum;
                    return;
                }
            }
        }
        self.pieces.push((dir, n, true));
    }

    fn swap(&mut self) {
        for p in &mut self.pieces {
            p.0 = p.0.opposite();
        }
    }
}

/// Statistics of inspection, summed over flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InspectStats {
    /// Flows that got inspection state (carried payload).
    pub flows: u64,
    /// Flows the wizard (or a port binding, or an expectation) named.
    pub detected: u64,
    /// Flows whose detection gave up (`failed`).
    pub failed: u64,
    /// Flows named a service that no inspector is bound to.
    pub unbound: u64,
    /// Upgrades (STARTTLS, HTTP `Upgrade`).
    pub upgrades: u64,
    /// Events emitted.
    pub events: u64,
    /// Chunks handed to inspectors (each chunk counted once).
    pub chunks: u64,
}

impl InspectStats {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &InspectStats) {
        self.flows += o.flows;
        self.detected += o.detected;
        self.failed += o.failed;
        self.unbound += o.unbound;
        self.upgrades += o.upgrades;
        self.events += o.events;
        self.chunks += o.chunks;
    }

    /// Every counter as (name, value), for a summary.
    pub fn counters(&self) -> [(&'static str, u64); 7] {
        [
            ("flows", self.flows),
            ("detected", self.detected),
            ("failed", self.failed),
            ("unbound", self.unbound),
            ("upgrades", self.upgrades),
            ("events", self.events),
            ("chunks", self.chunks),
        ]
    }
}

/// Where events go: the engine's sink, with the flow's tuple filled in.
pub type Emit<'a> = dyn FnMut(&EventRecord<'_>) + 'a;

thread_local! {
    /// What an inspector asks in one call, reused from call to call on this thread:
    /// no allocation per chunk once grown, and none of it kept in each flow.
    static ACTIONS: RefCell<Actions> = RefCell::new(Actions::default());
}

/// Runs `f` with this thread's [`Actions`] (empty; `f` leaves them empty), borrowed
/// in place (not moved in and out). A call nested in another (an upgrade ending a
/// FlowData, or a sink that drives inspection again) gets fresh ones.
fn with_actions<R>(f: impl FnOnce(&mut Actions) -> R) -> R {
    ACTIONS.with(|c| match c.try_borrow_mut() {
        Ok(mut actions) => f(&mut actions),
        Err(_) => f(&mut Actions::default()),
    })
}

/// The inspectors' side of a flow (everything but the reassemblers). Memory: 152
/// bytes, with heap only for its FlowData (the map holds exactly its entries, none
/// once they are gone) and while it replays or announces expectations.
struct Inspection {
    set: Arc<InspectorSet>,
    info: PackedInfo,
    proto: Names,
    data: FlowDataMap<Slot>,
    /// The wizard's and the service inspector's ids (ids are never 0).
    wizard: Option<NonZeroU32>,
    service: Option<NonZeroU32>,
    /// Bytes of the chunk being handled that the service before an upgrade used, plus
    /// one (so it fits in four bytes); the new service gets the rest.
    handover: Option<NonZeroU32>,
    /// Directions that carried data so far.
    spoke: [bool; 2],
    /// The direction that had not spoken when the wizard decided: its first chunk is
    /// shown to the wizard's second look, which may name it differently or find that
    /// nothing fits it (`app_proto_ts`/`_tc`, as Suricata detects each direction).
    second: Option<Direction>,
    /// What few flows need (the wizard's replay, expectations announced): one word
    /// per flow, boxed when used.
    rare: Option<Box<Rare>>,
}

/// The rarely used parts of a flow's inspection.
#[derive(Default)]
struct Rare {
    /// Chunks the wizard saw while it had not decided.
    replay: Option<Replay>,
    /// Expectations announced, waiting for the engine.
    expects: Vec<Expectation>,
}

/// [`FlowInfo`] in 48 bytes instead of 56 (addresses as bytes with a family bit): what
/// a flow's inspection keeps, unpacked for each inspector call.
#[derive(Clone, Copy)]
struct PackedInfo {
    flow_id: u64,
    client: [u8; 16],
    server: [u8; 16],
    ports: [u16; 2],
    /// Whether the client's and the server's addresses are IPv6.
    v6: [bool; 2],
    transport: super::Transport,
}

impl PackedInfo {
    fn pack(i: &FlowInfo) -> Self {
        let bytes = |a: IpAddr| match a {
            IpAddr::V4(a) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&a.octets());
                b
            }
            IpAddr::V6(a) => a.octets(),
        };
        PackedInfo {
            flow_id: i.flow_id,
            client: bytes(i.client.0),
            server: bytes(i.server.0),
            ports: [i.client.1, i.server.1],
            v6: [i.client.0.is_ipv6(), i.server.0.is_ipv6()],
            transport: i.transport,
        }
    }

    #[inline]
    fn unpack(&self) -> FlowInfo {
        let addr = |b: &[u8; 16], v6: bool| {
            if v6 {
                IpAddr::V6(std::net::Ipv6Addr::from(*b))
            } else {
                IpAddr::V4(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
        };
        FlowInfo {
            flow_id: self.flow_id,
            transport: self.transport,
            client: (addr(&self.client, self.v6[0]), self.ports[0]),
            server: (addr(&self.server, self.v6[1]), self.ports[1]),
        }
    }

    fn swap(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.ports.swap(0, 1);
        self.v6.swap(0, 1);
    }
}

impl Inspection {
    /// Starts inspection of a flow under `set`: a port binding names the service at
    /// once, else the wizard starts; passive inspectors start too.
    pub fn new(set: &Arc<InspectorSet>, info: FlowInfo, stats: &mut InspectStats) -> Self {
        let mut app = Self::idle(set, info);
        app.begin(None, stats);
        app
    }

    /// An expected flow: nothing starts before its first chunk, which names `service`.
    fn expected(set: &Arc<InspectorSet>, info: FlowInfo, service: &'static str) -> Self {
        let mut app = Self::idle(set, info);
        app.proto.more().app_proto = Some(service);
        app
    }

    fn idle(set: &Arc<InspectorSet>, info: FlowInfo) -> Self {
        Inspection {
            set: Arc::clone(set),
            info: PackedInfo::pack(&info),
            proto: Names::default(),
            data: FlowDataMap::new(),
            wizard: None,
            service: None,
            handover: None,
            spoke: [false; 2],
            second: None,
            rare: None,
        }
    }

    /// Starts inspection: `preset` (an expected flow's service) or a port binding names
    /// the service at once, else the wizard starts; passive inspectors start too.
    fn begin(&mut self, preset: Option<&'static str>, stats: &mut InspectStats) {
        stats.flows += 1;
        let info = self.info.unpack();
        if let Some(service) =
            preset.or_else(|| self.set.service_by_port(info.transport, info.server.1))
        {
            self.name_service(service, stats);
        } else if let Some(w) = self.set.wizard() {
            if let Some(data) = w.inspector.start(&info) {
                self.wizard = NonZeroU32::new(w.id);
                self.data.insert(
                    w.id,
                    Slot {
                        inspector: Arc::clone(&w.inspector),
                        data,
                        done: false,
                        done_with: [false; 2],
                    },
                );
            }
        }
        for p in self.set.passives() {
            if let Some(data) = p.inspector.start(&info) {
                self.data.insert(
                    p.id,
                    Slot {
                        inspector: Arc::clone(&p.inspector),
                        data,
                        done: false,
                        done_with: [false; 2],
                    },
                );
            }
        }
    }

    /// True while some inspector still wants data (the engine may stop reassembling
    /// a flow nobody listens to); an expected flow not started yet wants it.
    pub fn wants_data(&self) -> bool {
        self.proto.pending().is_some() || self.data.iter().any(|(_, s)| !s.done)
    }

    fn name_service(&mut self, service: &'static str, stats: &mut InspectStats) {
        self.proto.app_proto = Some(service);
        stats.detected += 1;
        self.start_service(service, stats);
    }

    fn start_service(&mut self, service: &'static str, stats: &mut InspectStats) {
        self.start_service_in(service, None, stats);
    }

    /// Starts the inspector bound to `service`; its FlowData replaces that of inspector
    /// `replacing` (the wizard that named it), which goes in any case.
    fn start_service_in(
        &mut self,
        service: &'static str,
        replacing: Option<u32>,
        stats: &mut InspectStats,
    ) {
        let Some(reg) = self.set.service(service).cloned() else {
            if let Some(old) = replacing {
                self.data.remove(old);
            }
            stats.unbound += 1;
            return;
        };
        let Some(data) = reg.inspector.start(&self.info.unpack()) else {
            if let Some(old) = replacing {
                self.data.remove(old);
            }
            return;
        };
        self.service = NonZeroU32::new(reg.id);
        let slot = Slot {
            inspector: reg.inspector,
            data,
            done: false,
            done_with: [false; 2],
        };
        match replacing {
            Some(old) => {
                self.data.replace(old, reg.id, slot);
            }
            None => {
                self.data.insert(reg.id, slot);
            }
        }
    }

    /// Hands one chunk of direction `dir` (as the flow's direction is now) to the
    /// inspectors, at packet time `now`.
    pub fn chunk(
        &mut self,
        mut dir: Direction,
        chunk: Chunk<'_>,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) -> Effects {
        stats.chunks += 1;
        if let Some(service) = self.proto.take_pending() {
            self.begin(Some(service), stats);
        }
        let mut fx = Effects::default();
        if self.second == Some(dir) {
            self.second = None;
            if let Chunk::Data(d) = chunk {
                self.second_opinion(dir, d, now);
            }
        }
        let was_pending = self.wizard.is_some();
        self.spoke[dir.index()] = true;
        if let Some(wid) = self.wizard.map(NonZeroU32::get) {
            let (detection, swap) = self.call(wid, dir, chunk, now, stats, &mut fx, emit);
            if swap {
                dir = dir.opposite();
                if let Some(r) = self.rare.as_deref_mut().and_then(|r| r.replay.as_mut()) {
                    r.swap();
                }
            }
            match detection {
                None | Some(Detection::Pending) => {
                    if self.data.get(wid).is_some_and(|s| !s.done) {
                        self.rare
                            .get_or_insert_with(Default::default)
                            .replay
                            .get_or_insert_with(Default::default)
                            .push(dir, chunk);
                        return self.passives(dir, chunk, now, stats, &mut fx, emit);
                    }
                    // The wizard stopped without a word: detection failed.
                    self.fail_detection(stats);
                }
                Some(Detection::Failed) => self.fail_detection(stats),
                Some(Detection::Service(name)) if self.set.is_disabled(name) => {
                    self.fail_detection(stats)
                }
                Some(Detection::Service(name)) => {
                    // The service's FlowData takes the wizard's place in the map.
                    let wid = self.wizard.take().map(NonZeroU32::get);
                    self.proto.app_proto = Some(name);
                    stats.detected += 1;
                    self.start_service_in(name, wid, stats);
                    let other = dir.opposite();
                    if was_pending && !self.spoke[other.index()] {
                        self.second = Some(other);
                    }
                    if let (Some(sid), Some(replay)) =
                        (self.service.map(NonZeroU32::get), self.take_replay())
                    {
                        let mut at = 0usize;
                        for &(d, len, gap) in &replay.pieces {
                            let c = if gap {
                                Chunk::Gap(len)
                            } else {
                                let c = Chunk::Data(&replay.bytes[at..at + len as usize]);
                                at += len as usize;
                                c
                            };
                            if self.data.get(sid).is_some_and(|s| !s.done) {
                                self.call_service(sid, d, c, now, stats, &mut fx, emit);
                            }
                        }
                    }
                }
            }
        }
        if let Some(sid) = self.service.map(NonZeroU32::get) {
            if self.data.get(sid).is_some_and(|s| !s.done)
                && self.call_service(sid, dir, chunk, now, stats, &mut fx, emit)
            {
                dir = dir.opposite();
            }
        }
        self.passives(dir, chunk, now, stats, &mut fx, emit)
    }

    /// Calls the service inspector `sid` with one chunk; when it upgraded the flow in
    /// the middle of the chunk, the new service's inspector gets the rest. Returns
    /// whether the direction swapped.
    #[allow(clippy::too_many_arguments)]
    fn call_service(
        &mut self,
        sid: u32,
        dir: Direction,
        chunk: Chunk<'_>,
        now: Timestamp,
        stats: &mut InspectStats,
        fx: &mut Effects,
        emit: &mut Emit<'_>,
    ) -> bool {
        let (_, swap) = self.call(sid, dir, chunk, now, stats, fx, emit);
        let dir = if swap { dir.opposite() } else { dir };
        if let Some(used) = self.handover.take().map(|h| h.get() - 1) {
            if let (Chunk::Data(d), Some(new)) = (chunk, self.service.map(NonZeroU32::get)) {
                let rest = d.get(used as usize..).unwrap_or_default();
                if new != sid && !rest.is_empty() && self.data.get(new).is_some_and(|s| !s.done) {
                    self.call(new, dir, Chunk::Data(rest), now, stats, fx, emit);
                }
            }
        }
        swap
    }

    /// Shows the first chunk of the direction that was silent at detection to the
    /// wizard ([`Inspector::second_look`](super::Inspector::second_look)): a different
    /// service there, or `failed` when no protocol fits it, is recorded for that
    /// direction.
    fn second_opinion(&mut self, dir: Direction, data: &[u8], now: Timestamp) {
        // The service as detected: an upgrade already made (HTTP/2 found to carry DNS
        // in the first chunk) keeps it as `orig`.
        let named = self.proto.get();
        let (Some(w), Some(service)) = (self.set.wizard(), named.orig.or(named.app_proto)) else {
            return;
        };
        let info = self.info.unpack();
        let name = match w.inspector.second_look(&info, service, dir, data, now) {
            Detection::Service(name) if name != service && !self.set.is_disabled(name) => name,
            Detection::Failed if service != FAILED => FAILED,
            _ => return,
        };
        match dir {
            Direction::ToServer => self.proto.more().ts = Some(name),
            Direction::ToClient => self.proto.more().tc = Some(name),
        }
    }

    fn passives(
        &mut self,
        dir: Direction,
        chunk: Chunk<'_>,
        now: Timestamp,
        stats: &mut InspectStats,
        fx: &mut Effects,
        emit: &mut Emit<'_>,
    ) -> Effects {
        for i in 0..self.set.passives().len() {
            let id = self.set.passives()[i].id;
            if self.data.get(id).is_some_and(|s| !s.done) {
                self.call(id, dir, chunk, now, stats, fx, emit);
            }
        }
        *fx
    }

    fn fail_detection(&mut self, stats: &mut InspectStats) {
        self.drop_wizard();
        self.take_replay();
        if self.proto.app_proto.is_none() {
            self.proto.app_proto = Some(FAILED);
            stats.failed += 1;
        }
    }

    fn drop_wizard(&mut self) {
        if let Some(wid) = self.wizard.take().map(NonZeroU32::get) {
            self.data.remove(wid);
        }
    }

    /// Calls inspector `id` with one chunk and applies what it asked. Returns the
    /// wizard's detection (if it gave one) and whether it swapped the direction.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        id: u32,
        dir: Direction,
        chunk: Chunk<'_>,
        now: Timestamp,
        stats: &mut InspectStats,
        fx: &mut Effects,
        emit: &mut Emit<'_>,
    ) -> (Option<Detection>, bool) {
        let info = self.info.unpack();
        with_actions(|actions| {
            let Some(slot) = self.data.get_mut(id) else {
                return (None, false);
            };
            if slot.done_with[dir.index()] {
                return (None, false);
            }
            {
                let mut cx = Cx::new(now, &info, actions);
                slot.data.data(&mut cx, dir, chunk);
            }
            if actions.done {
                slot.done = true;
            }
            if let Some(d) = actions.done_with.take() {
                slot.done_with[d.index()] = true;
            }
            self.apply(id, &info, actions, now, stats, fx, emit)
        })
    }

    /// Applies (and clears) what an inspector asked; `info` is the flow as the call
    /// saw it.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        id: u32,
        info: &FlowInfo,
        actions: &mut Actions,
        now: Timestamp,
        stats: &mut InspectStats,
        fx: &mut Effects,
        emit: &mut Emit<'_>,
    ) -> (Option<Detection>, bool) {
        let swap = std::mem::take(&mut actions.swap);
        if swap {
            self.info.swap();
            fx.swap = !fx.swap;
        }
        if let Some(v) = actions.verdict.take() {
            fx.verdict = Some(v);
        }
        if !actions.events.is_empty() {
            // Events carry the flow as it is now (swapped, if the call asked).
            let info = if swap { self.info.unpack() } else { *info };
            self.emit_events(&info, actions, now, stats, emit);
        }
        if !actions.expectations.is_empty() {
            self.keep_expectations(actions);
        }
        let detection = actions.detection.take();
        if let Some(Detection::Service(name)) = detection {
            if let Some(d) = actions.failed_dir {
                self.direction_failed(name, d, swap);
            }
        }
        // Counts only with the service it came with.
        actions.failed_dir = None;
        let handover = actions.handover.take();
        if let Some((service, dir)) = actions.upgrade.take() {
            if Some(id) == self.service.map(NonZeroU32::get)
                && self.upgrade(service, dir, now, stats, emit)
            {
                // A chunk is shorter than 4 GiB: past its end means none of it.
                self.handover = handover.and_then(|h| {
                    NonZeroU32::new(u32::try_from(h).unwrap_or(u32::MAX - 1).saturating_add(1))
                });
            }
        }
        actions.done = false;
        (detection, swap)
    }

    /// The wizard named `name` and ruled direction `d` out on its own (as its call
    /// saw the flow: before its `swap`).
    #[cold]
    fn direction_failed(&mut self, name: &'static str, d: Direction, swap: bool) {
        if self.set.is_disabled(name) {
            return;
        }
        match if swap { d.opposite() } else { d } {
            Direction::ToServer => self.proto.more().ts = Some(FAILED),
            Direction::ToClient => self.proto.more().tc = Some(FAILED),
        }
    }

    fn keep_expectations(&mut self, actions: &mut Actions) {
        let set = &self.set;
        let mut kept = actions
            .expectations
            .drain(..)
            .filter(|e| !set.is_disabled(e.service))
            .peekable();
        if kept.peek().is_some() {
            self.rare
                .get_or_insert_with(Default::default)
                .expects
                .extend(kept);
        }
    }

    /// Takes the wizard's replay, freeing the rare parts when nothing else is there.
    fn take_replay(&mut self) -> Option<Replay> {
        let rare = self.rare.as_deref_mut()?;
        let replay = rare.replay.take();
        if rare.expects.is_empty() {
            self.rare = None;
        }
        replay
    }

    /// Takes the expectations announced, freeing the rare parts when nothing else is
    /// there.
    fn take_expects(&mut self) -> Vec<Expectation> {
        let Some(rare) = self.rare.as_deref_mut() else {
            return Vec::new();
        };
        let expects = std::mem::take(&mut rare.expects);
        if rare.replay.is_none() {
            self.rare = None;
        }
        expects
    }

    /// Emits the events asked for on the flow `info` (the flow as it is now).
    fn emit_events(
        &mut self,
        info: &FlowInfo,
        actions: &mut Actions,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) {
        for ev in actions.events.drain(..) {
            stats.events += 1;
            emit(&self.event_record(info, now, ev.as_ref()));
        }
    }

    fn event_record<'e>(
        &self,
        info: &FlowInfo,
        now: Timestamp,
        event: &'e dyn AppEvent,
    ) -> EventRecord<'e> {
        EventRecord {
            timestamp: now,
            flow_id: info.flow_id,
            src: info.client,
            dest: info.server,
            proto: match info.transport {
                super::Transport::Tcp => 6,
                super::Transport::Udp => 17,
                super::Transport::Other(p) => p,
            },
            app_proto: self.proto.app_proto,
            event,
        }
    }

    /// Applies an upgrade; true when the service inspector changed (the old one
    /// ended), false when the same inspector goes on under the new name.
    fn upgrade(
        &mut self,
        service: &'static str,
        dir: Option<Direction>,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) -> bool {
        stats.upgrades += 1;
        let before = self.proto.app_proto;
        match dir {
            None => {
                if before.is_some() && self.proto.get().orig.is_none() {
                    self.proto.more().orig = before;
                }
                self.proto.app_proto = Some(service);
            }
            Some(Direction::ToServer) => self.proto.more().ts = Some(service),
            Some(Direction::ToClient) => self.proto.more().tc = Some(service),
        }
        // The same inspector handles the new service: it goes on with its state.
        if self.service.is_some()
            && self.set.service(service).map(|r| r.id) == self.service.map(NonZeroU32::get)
        {
            return false;
        }
        // The old service inspector ends here; the new one takes the next chunk.
        if let Some(old) = self.service.take().map(NonZeroU32::get) {
            if let Some(mut slot) = self.data.remove(old) {
                self.end_slot(&mut slot, now, stats, emit);
            }
        }
        self.start_service(service, stats);
        true
    }

    /// Runs `slot`'s `end`, emits its last events and returns the detection it
    /// reported there (a wizard's last word), if any.
    fn end_slot(
        &mut self,
        slot: &mut Slot,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) -> Option<Detection> {
        let info = self.info.unpack();
        with_actions(|actions| {
            {
                let mut cx = Cx::new(now, &info, actions);
                slot.data.end(&mut cx);
            }
            self.emit_events(&info, actions, now, stats, emit);
            let detection = actions.detection.take();
            actions.upgrade = None;
            actions.handover = None;
            actions.verdict = None;
            actions.swap = false;
            actions.done = false;
            actions.done_with = None;
            actions.expectations.clear();
            detection
        })
    }

    /// The flow ends at `now`: an undecided wizard's `end` has the last word (it may
    /// name the service or fail detection; if it does neither the flow keeps no
    /// service, as a Suricata TCP flow whose detection never concluded), then every
    /// other FlowData's `end` runs (in id order) and may emit its last events.
    pub fn finish(&mut self, now: Timestamp, stats: &mut InspectStats, emit: &mut Emit<'_>) {
        if let Some(wid) = self.wizard.take().map(NonZeroU32::get) {
            self.take_replay();
            let last = self
                .data
                .remove(wid)
                .and_then(|mut slot| self.end_slot(&mut slot, now, stats, emit));
            match last {
                Some(Detection::Service(name)) if !self.set.is_disabled(name) => {
                    self.proto.app_proto = Some(name);
                    stats.detected += 1;
                }
                Some(Detection::Service(_) | Detection::Failed) => self.fail_detection(stats),
                Some(Detection::Pending) | None => {}
            }
        }
        // Taken out whole (one heap block freed, no id list): `end_slot` does not
        // look at the map.
        let mut data = std::mem::take(&mut self.data);
        for (_, mut slot) in data.drain() {
            self.end_slot(&mut slot, now, stats, emit);
        }
    }

    /// The name of the inspector with FlowData `id` (for diagnostics and tests).
    pub fn inspector_name(&self, id: u32) -> Option<&str> {
        self.data.get(id).map(|s| s.inspector.name())
    }
}

/// One flow's inspection state: the reassemblers of its two directions (TCP) and its
/// inspectors.
pub struct AppFlow {
    /// TCP only, made on the first segment: datagram flows do without its 96 bytes.
    reasm: Option<Box<[Reassembler; 2]>>,
    insp: Inspection,
}

impl std::fmt::Debug for AppFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppFlow")
            .field("info", &self.insp.info.unpack())
            .field("proto", &self.insp.proto.get())
            .field("inspectors", &self.insp.data.len())
            .finish()
    }
}

impl AppFlow {
    /// Starts inspection of a flow under `set`: a port binding names the service at
    /// once, else the wizard starts; passive inspectors start too.
    pub fn new(set: &Arc<InspectorSet>, info: FlowInfo, stats: &mut InspectStats) -> Self {
        AppFlow {
            reasm: None,
            insp: Inspection::new(set, info, stats),
        }
    }

    /// An expected flow (see [`super::expect`]), created with the flow: its first
    /// chunk names `service` and starts the inspectors, as [`AppFlow::new`] would
    /// with a port binding for it; before that nothing runs and nothing is counted.
    pub fn expected(set: &Arc<InspectorSet>, info: FlowInfo, service: &'static str) -> Self {
        AppFlow {
            reasm: None,
            insp: Inspection::expected(set, info, service),
        }
    }

    /// The flow's service names.
    pub fn app_proto(&self) -> AppProto {
        self.insp.proto.get()
    }

    /// True when inspectors announced expected flows not taken yet.
    #[inline]
    pub fn has_expectations(&self) -> bool {
        self.insp
            .rare
            .as_ref()
            .is_some_and(|r| !r.expects.is_empty())
    }

    /// Hands the expectations announced so far to `f`, in order, and forgets them.
    pub fn take_expectations(&mut self, mut f: impl FnMut(Expectation)) {
        for e in self.insp.take_expects() {
            f(e);
        }
    }

    /// The flow as inspectors see it.
    pub fn info(&self) -> FlowInfo {
        self.insp.info.unpack()
    }

    /// Number of FlowData on the flow.
    pub fn inspectors(&self) -> usize {
        self.insp.data.len()
    }

    /// True while the wizard still looks for the flow's service.
    pub fn detecting(&self) -> bool {
        self.insp.wizard.is_some()
    }

    /// True while some inspector still wants data.
    pub fn wants_data(&self) -> bool {
        self.insp.wants_data()
    }

    /// The reassembler of direction `dir` (as the flow's direction is now); `None`
    /// before the flow's first TCP segment.
    pub fn reassembler(&self, dir: Direction) -> Option<&Reassembler> {
        self.reasm.as_ref().map(|r| &r[dir.index()])
    }

    /// Swaps the directions' reassemblers (the flow's client and server swapped).
    fn swap_reassemblers(&mut self) {
        if let Some(r) = self.reasm.as_mut() {
            r.swap(0, 1);
        }
    }

    /// Hands one chunk of direction `dir` (as the flow's direction is now) to the
    /// inspectors, at packet time `now` (datagrams; TCP goes through
    /// [`AppFlow::tcp_segment`]).
    pub fn chunk(
        &mut self,
        dir: Direction,
        chunk: Chunk<'_>,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) -> Effects {
        let fx = self.insp.chunk(dir, chunk, now, stats, emit);
        if fx.swap {
            self.swap_reassemblers();
        }
        fx
    }

    /// An empty datagram of direction `dir`: it reaches the wizard only (Suricata
    /// gives a UDP direction one datagram to detect on, an empty one included, and
    /// it ends that direction's detection); no service or passive inspector sees it.
    #[cold]
    pub fn empty_datagram(
        &mut self,
        dir: Direction,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) -> Effects {
        let insp = &mut self.insp;
        let mut fx = Effects::default();
        stats.chunks += 1;
        insp.spoke[dir.index()] = true;
        if let Some(wid) = insp.wizard.map(NonZeroU32::get) {
            let chunk = Chunk::Data(&[]);
            let (detection, _) = insp.call(wid, dir, chunk, now, stats, &mut fx, emit);
            if detection == Some(Detection::Failed) || insp.data.get(wid).is_none_or(|s| s.done) {
                insp.fail_detection(stats);
            }
        }
        fx
    }

    /// A TCP segment of direction `dir` with payload at `seq`: reassembled, and what
    /// became contiguous handed to the inspectors. `start` is where the direction's
    /// stream begins (the byte after its SYN, or the first sequence number seen),
    /// asked once.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_segment(
        &mut self,
        dir: Direction,
        seq: u32,
        payload: &[u8],
        start: impl FnOnce() -> u32,
        cfg: &ReassemblyConfig,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) -> Effects {
        let r = &mut self.reasm.get_or_insert_with(Default::default)[dir.index()];
        if !r.is_started() {
            r.start(start());
        }
        let insp = &mut self.insp;
        let mut d = dir;
        let mut fx = Effects::default();
        r.segment(seq, payload, cfg, &mut |c| {
            Self::deliver(insp, &mut d, c, now, stats, emit, &mut fx)
        });
        if fx.swap {
            self.swap_reassemblers();
        }
        fx
    }

    /// The sender of a packet in direction `dir` acknowledged the other direction up
    /// to `ack`: a hole the capture lost before it is given up (a `Gap`), and what
    /// follows delivered. Cheap when nothing is held.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_ack(
        &mut self,
        dir: Direction,
        ack: u32,
        cfg: &ReassemblyConfig,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) -> Effects {
        let other = dir.opposite();
        let Some(reasm) = self.reasm.as_mut() else {
            return Effects::default();
        };
        let r = &mut reasm[other.index()];
        if r.held_bytes() == 0 {
            return Effects::default();
        }
        let insp = &mut self.insp;
        let mut d = other;
        let mut fx = Effects::default();
        r.ack(ack, cfg, &mut |c| {
            Self::deliver(insp, &mut d, c, now, stats, emit, &mut fx)
        });
        if fx.swap {
            self.swap_reassemblers();
        }
        fx
    }

    fn deliver(
        insp: &mut Inspection,
        d: &mut Direction,
        c: Chunk<'_>,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
        fx: &mut Effects,
    ) {
        let got = insp.chunk(*d, c, now, stats, emit);
        if got.swap {
            // The rest of this delivery belongs to the other side now.
            *d = d.opposite();
            fx.swap = !fx.swap;
        }
        if got.verdict.is_some() {
            fx.verdict = got.verdict;
        }
    }

    /// The flow ends at `now`: held TCP data is delivered (holes as gaps), an
    /// undecided wizard has its last word (it may name the service or fail detection;
    /// if it does neither the flow keeps no service), then every FlowData's `end`
    /// runs.
    pub fn finish(
        &mut self,
        cfg: &ReassemblyConfig,
        now: Timestamp,
        stats: &mut InspectStats,
        emit: &mut Emit<'_>,
    ) {
        if let Some(reasm) = self.reasm.as_mut() {
            for dir in [Direction::ToServer, Direction::ToClient] {
                let r = &mut reasm[dir.index()];
                if r.held_bytes() > 0 {
                    let insp = &mut self.insp;
                    let mut d = dir;
                    let mut fx = Effects::default();
                    r.flush(cfg, &mut |c| {
                        Self::deliver(insp, &mut d, c, now, stats, emit, &mut fx)
                    });
                }
            }
        }
        self.insp.finish(now, stats, emit);
    }

    /// The name of the inspector with FlowData `id` (for diagnostics and tests).
    pub fn inspector_name(&self, id: u32) -> Option<&str> {
        self.insp.inspector_name(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory: every flow that carried payload holds an `AppFlow` (boxed), so its
    /// size is per-flow cost; the actions of a call are the thread's, not the flow's.
    #[test]
    fn the_replay_of_a_flow_the_wizard_never_decides_stays_small() {
        // A one-way stream of datagrams the wizard waits on (it needs the other side):
        // past the cap, the rest is one gap per run of a direction, whatever the count.
        let mut r = Replay::default();
        let datagram = [0x5au8; 250];
        for _ in 0..100_000 {
            r.push(Direction::ToServer, Chunk::Data(&datagram));
        }
        assert_eq!(r.bytes.len(), REPLAY_CAP);
        let (kept, gaps): (Vec<&(Direction, u32, bool)>, Vec<_>) =
            r.pieces.iter().partition(|p| !p.2);
        assert_eq!(kept.len(), REPLAY_CAP.div_ceil(250));
        assert_eq!(gaps.len(), 1, "one gap for the rest");
        let total: u64 = r.pieces.iter().map(|p| u64::from(p.1)).sum();
        assert_eq!(total, 100_000 * 250, "every byte is accounted for");
        // Gaps of the other direction stay apart, in order; gaps too large to join
        // start a new piece.
        r.push(Direction::ToClient, Chunk::Gap(10));
        r.push(Direction::ToServer, Chunk::Gap(5));
        r.push(Direction::ToServer, Chunk::Gap(u32::MAX));
        let tail: Vec<_> = r.pieces.iter().rev().take(3).rev().copied().collect();
        assert_eq!(
            tail,
            vec![
                (Direction::ToClient, 10, true),
                (Direction::ToServer, 5, true),
                (Direction::ToServer, u32::MAX, true)
            ]
        );
    }

    #[test]
    fn app_flow_stays_small() {
        assert!(
            std::mem::size_of::<AppFlow>() <= 128,
            "{} bytes",
            std::mem::size_of::<AppFlow>()
        );
    }
}
