//! The conntrack feed's rules: parsed events and dump answers in, flow lifecycles out.
//! Sans-I/O and deterministic: time comes only from the events (their kernel
//! timestamps) or from the `now` the caller passes with them, never from a clock.
//!
//! Contract. A flow is keyed by [`CtKey`]: the kernel id **and** the original tuple
//! **and** the zone, because the kernel reuses ids. [`Rules`] applies:
//!
//! - **NEW** creates the flow; its time is the flow's start. A NEW for a flow that an
//!   UPDATE or a dump created first (events out of order, or a flow older than the
//!   listener) only sets the start from the NEW's timestamp.
//! - **UPDATE** advances the flow (creating it if its NEW has not come).
//! - **DESTROY** ends it with the kernel's final counters and stop time
//!   ([`Finished`], [`FinishReason::Destroyed`]); a DESTROY of a flow never seen ends
//!   a flow made from the DESTROY alone.
//! - **Out of order**: a destroyed key leaves a tombstone holding its stop time; a NEW
//!   or UPDATE for it that happened at or before that time (its event timestamp says
//!   so) arrived late and is dropped. Kernels that send no event timestamps leave only
//!   the receive time, which is never before the stop: such a late event starts a new
//!   flow that ends at the next dump (see below) or at shutdown.
//! - **Roll forward only**: status bits only accumulate, the TCP state never moves to
//!   a lower [`rank`](super::parse::tcp_state::rank), counters never decrease, times
//!   never move back; an older event changes nothing it would undo.
//! - **ID reuse / counters reset**: a dump answer whose counters are lower than the
//!   flow's (or whose kernel start time differs), or a second NEW for a live key, means
//!   the entry was destroyed and made again with the same id: the old flow is
//!   **archived** with its counters and start time, a fresh flow takes its place
//!   (marked so that the late DESTROY, which belongs to the archived flow, does not end
//!   it), and the fresh flow **expects a NEW** whose timestamp becomes its start. The
//!   late DESTROY ends the archived flow with its final counters. With kernel start
//!   times, DESTROYs are matched to flows by them exactly.
//! - **Dumps** ([`Rules::dump_begin`] .. [`Rules::dump_end`]): a complete dump lists
//!   every live entry, so a flow that two complete dumps in a row did not list, with no
//!   event since before the first of them, was destroyed while its DESTROY was lost
//!   (ENOBUFS): it ends ([`FinishReason::Vanished`]). (One dump is not enough: an entry
//!   destroyed while it was being dumped has its DESTROY still queued.) Counters from
//!   get-and-zero dumps are deltas and add up ([`CounterMode::Delta`]).
//! - [`Rules::flush`] ends every flow (shutdown), in creation order.
//!
//! State lives in a hash map (allocation as flows come and go): conntrack events are
//! per connection state change, not per packet.

use super::parse::{status, tcp_state, Counters, Entry, EventKind, Tuple};
use crate::time::Timestamp;
use std::collections::{HashMap, VecDeque};

/// The rules' maps: foldhash, randomly seeded per map (tuples come from the network, so
/// the seed keeps hash flooding out); iteration order is never relied on.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What identifies a conntrack entry: its id, its original tuple and its zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CtKey {
    /// Kernel id (`CTA_ID`).
    pub id: u32,
    /// Original-direction tuple.
    pub orig: Tuple,
    /// Zone (0 when the entry has none).
    pub zone: u16,
}

impl CtKey {
    /// The key of an entry, or `None` when it lacks an id or an original tuple.
    pub fn of(e: &Entry) -> Option<CtKey> {
        Some(CtKey {
            id: e.id?,
            orig: e.orig?,
            zone: e.zone.unwrap_or(0),
        })
    }
}

/// Why a flow left the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// The kernel destroyed the entry (a DESTROY event).
    Destroyed,
    /// A complete dump no longer listed it: its DESTROY was lost.
    Vanished,
    /// An archived flow whose DESTROY never came, replaced by a later reuse of its key.
    Superseded,
    /// [`Rules::flush`].
    Shutdown,
}

/// How a dump's counters are to be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CounterMode {
    /// Totals since the entry began (a plain dump).
    #[default]
    Absolute,
    /// Totals since the last get-and-zero (`IPCTNL_MSG_CT_GET_CTRZERO`): they add up.
    Delta,
}

/// One flow as the rules track it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtFlow {
    /// The key.
    pub key: CtKey,
    /// Reply-direction tuple, once seen.
    pub reply: Option<Tuple>,
    /// Creation number within this [`Rules`] (0, 1, 2, ...): unique, for flow ids.
    pub ordinal: u64,
    /// Status bits seen so far (accumulated).
    pub status: u32,
    /// Furthest TCP state seen.
    pub tcp_state: Option<u8>,
    /// Latest connection mark.
    pub mark: u32,
    /// Start: the NEW's time, else the kernel start time, else the first sighting.
    pub start: Timestamp,
    /// The last event's time (the stop time once destroyed).
    pub last: Timestamp,
    /// Kernel start time (`CTA_TIMESTAMP_START`), when known.
    pub kernel_start: Option<u64>,
    /// True once the start came from a NEW event.
    pub seen_new: bool,
    /// Counters gathered from get-and-zero dumps, original then reply direction.
    base: [Counters; 2],
    /// Counters since the last zeroing, original then reply direction.
    cur: [Counters; 2],
    /// The flow this one replaced, waiting for its late DESTROY.
    archived: Option<Box<CtFlow>>,
    /// Dump generation that last listed the flow.
    seen_gen: u64,
    /// Complete dumps in a row that did not list it.
    missed: u8,
}

impl CtFlow {
    fn new(key: CtKey, ordinal: u64, t: Timestamp) -> CtFlow {
        CtFlow {
            key,
            reply: None,
            ordinal,
            status: 0,
            tcp_state: None,
            mark: 0,
            start: t,
            last: t,
            kernel_start: None,
            seen_new: false,
            base: [Counters::default(); 2],
            cur: [Counters::default(); 2],
            archived: None,
            seen_gen: 0,
            missed: 0,
        }
    }

    /// Packets and bytes of the original direction (client to server).
    pub fn counters_orig(&self) -> Counters {
        add(self.base[0], self.cur[0])
    }

    /// Packets and bytes of the reply direction (server to client).
    pub fn counters_reply(&self) -> Counters {
        add(self.base[1], self.cur[1])
    }

    /// True when a flow this one replaced still waits for its DESTROY.
    pub fn has_archived(&self) -> bool {
        self.archived.is_some()
    }

    /// Folds an event's or answer's fields in, never moving anything backwards.
    fn roll_forward(&mut self, e: &Entry, t: Timestamp) {
        if let Some(r) = e.reply {
            self.reply = Some(r);
        }
        if let Some(s) = e.status {
            self.status |= s & !status::DYING;
        }
        if let Some(s) = e.tcp.and_then(|t| t.state) {
            let now = self.tcp_state.map_or(0, tcp_state::rank);
            if self.tcp_state.is_none() || tcp_state::rank(s) >= now {
                self.tcp_state = Some(s);
            }
        }
        if t >= self.last {
            if let Some(m) = e.mark {
                self.mark = m;
            }
        }
        if self.kernel_start.is_none() {
            if let Some(s) = e.start_ns {
                self.kernel_start = Some(s);
                if !self.seen_new {
                    self.start = Timestamp::from_nanos(s);
                }
            }
        }
        self.last = self.last.max(t);
        self.missed = 0;
    }

    /// Takes counters since the last zeroing, keeping each the larger.
    fn counters_at_least(&mut self, e: &Entry) {
        if let Some(c) = e.counters_orig {
            self.cur[0] = max(self.cur[0], c);
        }
        if let Some(c) = e.counters_reply {
            self.cur[1] = max(self.cur[1], c);
        }
    }
}

fn add(a: Counters, b: Counters) -> Counters {
    Counters {
        packets: a.packets.saturating_add(b.packets),
        bytes: a.bytes.saturating_add(b.bytes),
    }
}

fn max(a: Counters, b: Counters) -> Counters {
    Counters {
        packets: a.packets.max(b.packets),
        bytes: a.bytes.max(b.bytes),
    }
}

/// A flow that ended, handed to the caller's callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// The flow, with its final counters.
    pub flow: CtFlow,
    /// When it ended (the kernel's stop time when known).
    pub end: Timestamp,
    /// Why.
    pub reason: FinishReason,
}

/// What the rules did, by rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleStats {
    /// NEW events.
    pub new: u64,
    /// UPDATE events.
    pub update: u64,
    /// DESTROY events.
    pub destroy: u64,
    /// Dump answers.
    pub dump_entries: u64,
    /// Complete dumps.
    pub dumps: u64,
    /// Messages without an id or an original tuple (ignored).
    pub incomplete: u64,
    /// Flows created by an UPDATE (their NEW not seen yet).
    pub created_by_update: u64,
    /// Flows created by a dump answer.
    pub created_by_dump: u64,
    /// NEWs that came after an UPDATE or dump of their flow (start taken from them).
    pub late_new_start: u64,
    /// DESTROYs of flows never seen (ended from the DESTROY alone).
    pub destroy_unseen: u64,
    /// NEW or UPDATE events older than their key's DESTROY (dropped).
    pub late_dropped: u64,
    /// Events older than their flow's state (nothing rolled back).
    pub stale: u64,
    /// Keys reused while the old flow was live (counters reset, start changed, or a
    /// second NEW): old flow archived.
    pub reused: u64,
    /// Late DESTROYs that ended an archived flow.
    pub archived_destroyed: u64,
    /// Flows a complete dump no longer listed (their DESTROY lost).
    pub vanished: u64,
    /// Archived flows replaced by a further reuse before their DESTROY came.
    pub superseded: u64,
}

/// How many destroyed keys are remembered for late events.
pub const TOMBSTONES: usize = 65_536;

/// The rules' state: live flows and recent tombstones.
#[derive(Debug, Default)]
pub struct Rules {
    flows: Map<CtKey, CtFlow>,
    /// Stop time (ns) of recently destroyed keys.
    tombs: Map<CtKey, u64>,
    tomb_order: VecDeque<CtKey>,
    next_ordinal: u64,
    gen: u64,
    dump_start: Option<Timestamp>,
    stats: RuleStats,
}

impl Rules {
    /// Empty rules.
    pub fn new() -> Rules {
        Rules::default()
    }

    /// What the rules did so far.
    pub fn stats(&self) -> RuleStats {
        self.stats
    }

    /// Live flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow is live.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The live flow of `key`.
    pub fn get(&self, key: &CtKey) -> Option<&CtFlow> {
        self.flows.get(key)
    }

    fn create(&mut self, key: CtKey, t: Timestamp) -> CtFlow {
        let f = CtFlow::new(key, self.next_ordinal, t);
        self.next_ordinal += 1;
        f
    }

    fn bury(&mut self, key: CtKey, stop: Timestamp) {
        if self.tombs.insert(key, stop.as_nanos()).is_none() {
            self.tomb_order.push_back(key);
        }
        while self.tomb_order.len() > TOMBSTONES {
            if let Some(old) = self.tomb_order.pop_front() {
                self.tombs.remove(&old);
            }
        }
    }

    /// True when an event at `t` for `key` happened before the key's DESTROY.
    fn is_late(&self, key: &CtKey, t: Timestamp) -> bool {
        self.tombs
            .get(key)
            .is_some_and(|&stop| t.as_nanos() <= stop)
    }

    /// Archives `old` inside `fresh`: the late DESTROY of `old` ends it, not `fresh`.
    fn archive(&mut self, mut old: CtFlow, fresh: &mut CtFlow, out: &mut impl FnMut(Finished)) {
        self.stats.reused += 1;
        if let Some(older) = old.archived.take() {
            self.stats.superseded += 1;
            let end = older.last;
            out(Finished {
                flow: *older,
                end,
                reason: FinishReason::Superseded,
            });
        }
        fresh.archived = Some(Box::new(old));
    }

    /// Applies one event. `now` is the receive time, used only when the event carries
    /// no timestamp of its own; ended flows go to `out`.
    pub fn event(
        &mut self,
        kind: EventKind,
        e: &Entry,
        now: Timestamp,
        out: &mut impl FnMut(Finished),
    ) {
        let t = e.event_ns.map_or(now, Timestamp::from_nanos);
        match kind {
            EventKind::New => self.stats.new += 1,
            EventKind::Update => self.stats.update += 1,
            EventKind::Destroy => self.stats.destroy += 1,
            EventKind::Dump => return self.dump_entry(e, now, CounterMode::Absolute, out),
        }
        let Some(key) = CtKey::of(e) else {
            self.stats.incomplete += 1;
            return;
        };
        match kind {
            EventKind::New | EventKind::Update => {
                if self.is_late(&key, t) {
                    self.stats.late_dropped += 1;
                    return;
                }
                let new = kind == EventKind::New;
                match self.flows.remove(&key) {
                    Some(mut f) => {
                        if new && f.seen_new {
                            if t <= f.start {
                                // A NEW no later than the one we have: nothing to do.
                                self.stats.stale += 1;
                            } else {
                                // The entry was made again: the old one's DESTROY is late.
                                let mut fresh = self.create(key, t);
                                fresh.seen_new = true;
                                fresh.roll_forward(e, t);
                                self.archive(f, &mut fresh, out);
                                self.flows.insert(key, fresh);
                                return;
                            }
                        } else if new {
                            self.stats.late_new_start += 1;
                            f.start = t;
                            f.seen_new = true;
                        } else if t < f.last {
                            self.stats.stale += 1;
                        }
                        f.roll_forward(e, t);
                        self.flows.insert(key, f);
                    }
                    None => {
                        let mut f = self.create(key, t);
                        if new {
                            f.seen_new = true;
                        } else {
                            self.stats.created_by_update += 1;
                        }
                        f.roll_forward(e, t);
                        f.seen_gen = self.gen;
                        self.flows.insert(key, f);
                    }
                }
            }
            EventKind::Destroy | EventKind::Dump => {
                // (Dump answers returned above.)
                let stop = e.stop_ns.map_or(t, Timestamp::from_nanos);
                match self.flows.remove(&key) {
                    Some(mut f) => {
                        let for_archived = f.archived.as_ref().is_some_and(|a| {
                            match (e.start_ns, a.kernel_start, f.kernel_start) {
                                (Some(s), Some(old), _) => s == old,
                                (Some(s), None, Some(fresh)) => s != fresh,
                                // No start times: the first DESTROY is the archived one's.
                                _ => true,
                            }
                        });
                        if for_archived {
                            if let Some(mut a) = f.archived.take() {
                                self.stats.archived_destroyed += 1;
                                a.roll_forward(e, stop);
                                a.counters_at_least(e);
                                out(Finished {
                                    flow: *a,
                                    end: stop,
                                    reason: FinishReason::Destroyed,
                                });
                            }
                            self.flows.insert(key, f);
                            return;
                        }
                        f.roll_forward(e, stop);
                        f.counters_at_least(e);
                        let archived = f.archived.take();
                        self.bury(key, stop);
                        out(Finished {
                            flow: f,
                            end: stop,
                            reason: FinishReason::Destroyed,
                        });
                        if let Some(a) = archived {
                            self.stats.superseded += 1;
                            let end = a.last;
                            out(Finished {
                                flow: *a,
                                end,
                                reason: FinishReason::Superseded,
                            });
                        }
                    }
                    None => {
                        if self.is_late(&key, stop) {
                            // The same DESTROY twice (or an older one): nothing new.
                            self.stats.late_dropped += 1;
                            return;
                        }
                        self.stats.destroy_unseen += 1;
                        let start = e.start_ns.map_or(stop, Timestamp::from_nanos);
                        let mut f = self.create(key, start);
                        f.roll_forward(e, stop);
                        f.counters_at_least(e);
                        self.bury(key, stop);
                        out(Finished {
                            flow: f,
                            end: stop,
                            reason: FinishReason::Destroyed,
                        });
                    }
                }
            }
        }
    }

    /// Starts a dump at `now`: flows created or changed from here on count as listed.
    pub fn dump_begin(&mut self, now: Timestamp) {
        self.gen += 1;
        self.dump_start = Some(now);
    }

    /// Applies one dump answer, read at `now`.
    pub fn dump_entry(
        &mut self,
        e: &Entry,
        now: Timestamp,
        mode: CounterMode,
        out: &mut impl FnMut(Finished),
    ) {
        self.stats.dump_entries += 1;
        let Some(key) = CtKey::of(e) else {
            self.stats.incomplete += 1;
            return;
        };
        let gen = self.gen;
        let fold = |f: &mut CtFlow| {
            f.roll_forward(e, now);
            match mode {
                CounterMode::Absolute => f.counters_at_least(e),
                CounterMode::Delta => {
                    // Zeroed by this read: what it returned moves to the base.
                    f.counters_at_least(e);
                    f.base = [add(f.base[0], f.cur[0]), add(f.base[1], f.cur[1])];
                    f.cur = [Counters::default(); 2];
                }
            }
            f.seen_gen = gen;
        };
        match self.flows.remove(&key) {
            Some(mut f) => {
                let lower = |have: Counters, got: Option<Counters>| {
                    got.is_some_and(|g| g.packets < have.packets || g.bytes < have.bytes)
                };
                let reset = (mode == CounterMode::Absolute
                    && (lower(f.cur[0], e.counters_orig) || lower(f.cur[1], e.counters_reply)))
                    || matches!((f.kernel_start, e.start_ns), (Some(a), Some(b)) if a != b);
                if reset {
                    let start = e.start_ns.map_or(now, Timestamp::from_nanos);
                    let mut fresh = self.create(key, start);
                    fold(&mut fresh);
                    self.archive(f, &mut fresh, out);
                    self.flows.insert(key, fresh);
                } else {
                    fold(&mut f);
                    self.flows.insert(key, f);
                }
            }
            None => {
                if self.is_late(&key, now) {
                    // Listed by a dump that began before the DESTROY we processed.
                    self.stats.late_dropped += 1;
                    return;
                }
                self.stats.created_by_dump += 1;
                let start = e.start_ns.map_or(now, Timestamp::from_nanos);
                let mut f = self.create(key, start);
                fold(&mut f);
                self.flows.insert(key, f);
            }
        }
    }

    /// Ends a complete dump at `now`: flows that this dump and the one before did not
    /// list, with no event since before the earlier one began, end as
    /// [`FinishReason::Vanished`] (in creation order).
    pub fn dump_end(&mut self, now: Timestamp, out: &mut impl FnMut(Finished)) {
        let Some(began) = self.dump_start.take() else {
            return;
        };
        self.stats.dumps += 1;
        let gen = self.gen;
        let mut gone: Vec<CtKey> = Vec::new();
        for (k, f) in self.flows.iter_mut() {
            if f.seen_gen != gen && f.last < began {
                f.missed = f.missed.saturating_add(1);
                if f.missed >= 2 {
                    gone.push(*k);
                }
            }
        }
        gone.sort_by_key(|k| self.flows.get(k).map_or(0, |f| f.ordinal));
        for key in gone {
            if let Some(mut f) = self.flows.remove(&key) {
                self.stats.vanished += 1;
                let archived = f.archived.take();
                let end = f.last;
                // Its DESTROY, if it ever comes, is older than this: dropped as late.
                self.bury(key, now.max(end));
                out(Finished {
                    flow: f,
                    end,
                    reason: FinishReason::Vanished,
                });
                if let Some(a) = archived {
                    let end = a.last;
                    out(Finished {
                        flow: *a,
                        end,
                        reason: FinishReason::Vanished,
                    });
                }
            }
        }
    }

    /// Ends every flow (reason shutdown, `end` its last event), archived ones too, in
    /// creation order.
    pub fn flush(&mut self, out: &mut impl FnMut(Finished)) {
        let mut all: Vec<CtFlow> = self.flows.drain().map(|(_, f)| f).collect();
        let mut archived: Vec<CtFlow> = all
            .iter_mut()
            .filter_map(|f| f.archived.take().map(|a| *a))
            .collect();
        all.append(&mut archived);
        all.sort_by_key(|f| f.ordinal);
        for f in all {
            let end = f.last;
            out(Finished {
                flow: f,
                end,
                reason: FinishReason::Shutdown,
            });
        }
    }
}

#[cfg(test)]
mod tests;
