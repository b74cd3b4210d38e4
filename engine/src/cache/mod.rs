//! The flow cache: one per worker, owned, no locks.
//!
//! Contract:
//! - All memory is reserved in [`FlowCache::new`]: a slab of flow slots (u32 indices,
//!   free list) and a hash index sized so it never grows. Creating, touching, pruning
//!   and reusing flows never allocates.
//! - One hash index over all flows; intrusive LRU lists threaded through the slab. Each
//!   protocol class (IP, TCP, UDP, ICMP, user, file) has one LRU, kept as three
//!   segments by flow state (new, established, closed) so that every segment has a
//!   single idle timeout and is ordered by expiry as well as by last use; the class's
//!   least recently used flow is the oldest of its segment heads. The allowlist has its
//!   own LRU. Two uni lists hold flows that have seen one direction only. Moving a flow
//!   between lists never rehashes.
//! - Time is packet time. A flow is expired when `now >= last_seen + timeout(class,
//!   state)`, to the nanosecond (Suricata 8). [`FlowCache::sweep`] ends expired flows a
//!   bounded number at a time, resuming round-robin where it stopped; it touches no
//!   memory while nothing is due.
//! - When the cache is full a new flow first prunes idle flows (older than
//!   `pruning_timeout`, at most two, round-robin over the classes), else the oldest
//!   one-directional flow when there are too many, else the oldest flows round-robin
//!   (excess), as Snort 3's `FlowCache::allocate` does. Blocked flows are never pruned
//!   to make room. The memory cap prunes round-robin too, allowlist first.
//! - Every flow that leaves the cache is handed once to the caller's `on_end` with its
//!   [`EndReason`] before its slot is reused.

mod index;
mod lru;
mod slab;
mod stats;

pub use stats::CacheStats;

use crate::decode::Vlans;
use crate::flow::{EndReason, Flow, FlowState, ProtoClass, PruneReason, Verdict};
use crate::key::{FlowKey, KeyHasher};
use crate::time::Timestamp;
use index::FlowIndex;
use lru::{List, Main, Uni, NIL};
use slab::{Slab, FREE};

/// Number of protocol classes.
const CLASSES: usize = 6;
/// Segments (flow states) per class.
const STATES: usize = 3;
/// Lists swept for timeouts: one per (class, state).
const SWEPT: usize = CLASSES * STATES;
/// Index of the allowlist LRU.
const ALLOW: usize = SWEPT;
/// All LRU lists.
const LISTS: usize = SWEPT + 1;
/// Uni list for IP-class flows and for all others.
const UNI_IP: u8 = 0;
const UNI_OTHER: u8 = 1;
const NO_UNI: u8 = u8::MAX;
/// Idle pruning removes at most this many flows per allocation (Snort: `pruned <=
/// cleanup_flows` with `cleanup_flows = 1`).
const IDLE_PRUNE_MAX: u32 = 2;

/// Identifies a live flow in its cache (valid until the flow ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId(u32);

impl FlowId {
    /// The slot index.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Idle timeouts in seconds, by protocol class and flow state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    secs: [[u32; STATES]; CLASSES],
}

impl Timeouts {
    /// Timeout for a class in a state.
    #[inline]
    pub fn get(&self, class: ProtoClass, state: FlowState) -> u32 {
        self.secs[class as usize][state as usize]
    }

    /// Sets the timeout for a class in a state.
    pub fn set(&mut self, class: ProtoClass, state: FlowState, secs: u32) {
        self.secs[class as usize][state as usize] = secs;
    }
}

impl Default for Timeouts {
    /// Suricata's shipped `flow-timeouts`: TCP 60/600/60, UDP and ICMP 30/300, other IP
    /// (and user/file sessions) 30/300/0.
    fn default() -> Self {
        let mut t = Timeouts {
            secs: [[30, 300, 0]; CLASSES],
        };
        t.secs[ProtoClass::Tcp as usize] = [60, 600, 60];
        t
    }
}

/// What the cache needs from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Flows tracked before pruning (Snort `stream.max_flows`).
    pub max_flows: u32,
    /// Idle time after which a flow may be pruned when the cache is full (seconds).
    pub pruning_timeout: u32,
    /// Most flows pruned at once for the memory cap (Snort `stream.prune_flows`).
    pub prune_flows: u32,
    /// Memory cap in bytes for flow slots and the data flows own; 0 disables it.
    pub memcap: u64,
    /// Keep allowed flows in their own LRU, out of the timeout sweep.
    pub allowlist: bool,
    /// When the cache is full, move the oldest flows to the allowlist instead of
    /// pruning them (they stop counting against `max_flows`; up to `allowlist_max_flows`
    /// more slots are reserved for them).
    pub move_to_allowlist_on_excess: bool,
    /// Slots reserved for flows moved to the allowlist on excess; 0 means `max_flows`.
    pub allowlist_max_flows: u32,
    /// Idle timeouts.
    pub timeouts: Timeouts,
    /// Fixed hash seed; `None` draws a random one.
    pub hash_seed: Option<u64>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_flows: 476_288,
            pruning_timeout: 30,
            prune_flows: 10,
            memcap: 0,
            allowlist: false,
            move_to_allowlist_on_excess: false,
            allowlist_max_flows: 0,
            timeouts: Timeouts::default(),
            hash_seed: None,
        }
    }
}

/// Why a cache could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheError {
    /// `max_flows` is zero or too large to index with `u32`.
    #[error("max_flows must be between 1 and {max}, not {got}")]
    BadMaxFlows {
        /// The configured value.
        got: u64,
        /// The largest allowed.
        max: u64,
    },
    /// The memory for the slots or the index could not be reserved.
    #[error("cannot reserve memory for {flows} flow slots ({bytes} bytes)")]
    OutOfMemory {
        /// Slots asked for.
        flows: u64,
        /// Bytes asked for.
        bytes: u64,
    },
}

/// The flow cache. `X` is the per-flow state later stages keep in each slot.
pub struct FlowCache<X> {
    cfg: CacheConfig,
    slab: Slab<X>,
    index: FlowIndex,
    hasher: KeyHasher,
    lists: [List; LISTS],
    unis: [List; 2],
    /// Earliest time anything on a swept list can expire (a lower bound).
    due: [Timestamp; SWEPT],
    /// Earliest of `due`.
    sweep_due: Timestamp,
    sweep_rr: usize,
    prune_rr: usize,
    /// Bytes accounted against the memory cap.
    memory: u64,
    /// Key of the flow id bijection (from the hash seed).
    id_seed: u64,
    stats: CacheStats,
}

const NEVER: Timestamp = Timestamp::from_nanos(u64::MAX);

#[inline]
fn list_of(class: ProtoClass, state: FlowState) -> usize {
    class as usize * STATES + state as usize
}

#[inline]
fn class_of_list(list: usize) -> usize {
    list / STATES
}

/// True when a flow last seen at `last` with `timeout` seconds is expired at `now`.
#[inline]
pub fn is_expired_at(last: Timestamp, timeout: u32, now: Timestamp) -> bool {
    now >= last.add_secs(timeout)
}

impl<X: Default> FlowCache<X> {
    /// Builds a cache, reserving all its memory.
    pub fn new(cfg: CacheConfig) -> Result<Self, CacheError> {
        let max = u64::from(u32::MAX / 4);
        if cfg.max_flows == 0 || u64::from(cfg.max_flows) > max {
            return Err(CacheError::BadMaxFlows {
                got: u64::from(cfg.max_flows),
                max,
            });
        }
        let extra = if cfg.allowlist && cfg.move_to_allowlist_on_excess {
            if cfg.allowlist_max_flows == 0 {
                cfg.max_flows
            } else {
                cfg.allowlist_max_flows.min(u32::MAX / 4)
            }
        } else {
            0
        };
        let capacity = cfg.max_flows + extra;
        let oom = CacheError::OutOfMemory {
            flows: u64::from(capacity),
            bytes: u64::from(capacity) * Self::slot_bytes() as u64,
        };
        let slab = Slab::with_capacity(capacity).ok_or(oom)?;
        let index = FlowIndex::with_slots(capacity).ok_or(CacheError::OutOfMemory {
            flows: u64::from(capacity),
            bytes: u64::from(capacity) * 16,
        })?;
        let hasher = match cfg.hash_seed {
            Some(seed) => KeyHasher::with_seed(seed),
            None => KeyHasher::random(),
        };
        let id_seed = hasher.id_seed();
        Ok(FlowCache {
            cfg,
            slab,
            index,
            hasher,
            lists: [List::default(); LISTS],
            unis: [List::default(); 2],
            due: [NEVER; SWEPT],
            sweep_due: NEVER,
            sweep_rr: 0,
            prune_rr: 0,
            memory: 0,
            id_seed,
            stats: CacheStats::default(),
        })
    }
}

impl<X> FlowCache<X> {
    /// Bytes of one flow slot.
    pub const fn slot_bytes() -> usize {
        std::mem::size_of::<Flow<X>>()
    }

    /// Bytes reserved per slot including the hash index's share.
    pub fn bytes_per_flow(&self) -> usize {
        let index = self.index.allocation_size();
        Self::slot_bytes() + index / self.slab.capacity().max(1) as usize
    }

    /// The configuration the cache was built with.
    pub fn config(&self) -> &CacheConfig {
        &self.cfg
    }

    /// The key hasher (seeded).
    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// Hash of a key under this cache's seed.
    #[inline]
    pub fn hash_key(&self, key: &FlowKey) -> u64 {
        key.hash_with(&self.hasher)
    }

    /// Live flows.
    pub fn len(&self) -> usize {
        self.slab.live() as usize
    }

    /// True when no flow is live.
    pub fn is_empty(&self) -> bool {
        self.slab.live() == 0
    }

    /// Slots that have ever held a flow (their memory has been touched).
    pub fn slots_touched(&self) -> usize {
        self.slab.touched() as usize
    }

    /// Replaces the idle timeouts (a configuration reload). Every flow is judged by the
    /// new ones from the next sweep on.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.cfg.timeouts = timeouts;
        // The cached due times came from the old timeouts: have the next sweep look at
        // every list again.
        self.due = [Timestamp::ZERO; SWEPT];
        self.sweep_due = Timestamp::ZERO;
    }

    /// Counters, with the gauges filled in.
    pub fn stats(&self) -> CacheStats {
        let mut s = self.stats.clone();
        s.current_flows = u64::from(self.slab.live());
        s.allowlist_flows = u64::from(self.lists[ALLOW].len);
        s.uni_ip_flows = u64::from(self.unis[UNI_IP as usize].len);
        s.uni_flows = u64::from(self.unis[UNI_OTHER as usize].len);
        s
    }

    /// Bytes accounted against the memory cap.
    pub fn memory_used(&self) -> u64 {
        self.memory
    }

    /// Finds the live flow with `key` (`hash` from [`hash_key`](Self::hash_key)).
    #[inline]
    pub fn find(&self, key: &FlowKey, hash: u64) -> Option<FlowId> {
        let slots = self.slab.slots();
        self.index
            .find(hash, |id| slots[id as usize].key() == key)
            .map(FlowId)
    }

    /// Starts loading the index line a lookup of `hash` reads (batched lookups call
    /// this for a batch before looking any of it up).
    #[inline]
    pub fn prefetch_index(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    /// Starts loading the flow a lookup of `hash` will most likely find (call after
    /// [`prefetch_index`](Self::prefetch_index) had time to complete).
    #[inline]
    pub fn prefetch_flow(&self, hash: u64) {
        if let Some(id) = self.index.peek(hash) {
            let p = self.slab.slots().as_ptr().wrapping_add(id as usize) as *const u8;
            crate::prefetch::prefetch(p);
            crate::prefetch::prefetch(p.wrapping_add(64));
            crate::prefetch::prefetch(p.wrapping_add(128));
        }
    }

    /// Starts loading the lines of slot `id` that ending it reads (the next flow of a
    /// list being emptied, while the current one's record is written); `NIL` is
    /// ignored.
    #[inline]
    fn prefetch_slot(&self, id: u32) {
        if id != NIL {
            let p = self.slab.slots().as_ptr().wrapping_add(id as usize) as *const u8;
            crate::prefetch::prefetch(p);
            crate::prefetch::prefetch(p.wrapping_add(64));
            crate::prefetch::prefetch(p.wrapping_add(128));
        }
    }

    /// The flow `id`.
    #[inline]
    pub fn flow(&self, id: FlowId) -> &Flow<X> {
        &self.slab.slots()[id.0 as usize]
    }

    /// The flow `id`, mutably.
    #[inline]
    pub fn flow_mut(&mut self, id: FlowId) -> &mut Flow<X> {
        &mut self.slab.slots_mut()[id.0 as usize]
    }

    /// True when `id` still names a live flow.
    pub fn is_live(&self, id: FlowId) -> bool {
        self.slab.is_live(id.0)
    }

    /// The idle timeout that applies to a flow now.
    #[inline]
    pub fn timeout_of(&self, f: &Flow<X>) -> u32 {
        self.cfg.timeouts.get(f.class(), f.state())
    }

    /// True when flow `id` is expired at `now`. Allowlisted flows never expire.
    #[inline]
    pub fn is_expired(&self, id: FlowId, now: Timestamp) -> bool {
        let f = self.flow(id);
        f.links.list as usize != ALLOW && is_expired_at(f.last_seen(), self.timeout_of(f), now)
    }

    /// Marks `id` as just used: moves it to the most recently used end of its LRU
    /// (changing segment if its state changed) and leaves the uni list once it has seen
    /// both directions. A flow already moved during the same packet-second stays where
    /// it is: LRU order is kept to the second, which is all timeouts and pruning read,
    /// and a burst of packets costs one relink instead of one per packet.
    #[inline]
    pub fn touch(&mut self, id: FlowId, now: Timestamp) {
        let sec = now.secs() as u32;
        let slots = self.slab.slots_mut();
        let f = &mut slots[id.0 as usize];
        let cur = f.links.list as usize;
        let bidir = f.links.uni != NO_UNI && f.is_bidirectional();
        let want = if cur == ALLOW {
            ALLOW
        } else {
            list_of(f.class(), f.state())
        };
        if want == cur {
            if f.links.touched != sec {
                f.links.touched = sec;
                self.lists[cur].touch::<Main, X>(id.0, slots);
            }
        } else {
            f.links.touched = sec;
            self.lists[cur].unlink::<Main, X>(id.0, slots);
            self.link_swept(id.0, want, now);
        }
        if bidir {
            self.unlink_uni(id.0);
        }
    }

    fn link_swept(&mut self, id: u32, list: usize, now: Timestamp) {
        let slots = self.slab.slots_mut();
        self.lists[list].push_mru::<Main, X>(id, slots);
        slots[id as usize].links.list = list as u8;
        let due = now.add_secs(self.cfg.timeouts.secs[class_of_list(list)][list % STATES]);
        if due < self.due[list] {
            self.due[list] = due;
        }
        if due < self.sweep_due {
            self.sweep_due = due;
        }
    }

    fn unlink_uni(&mut self, id: u32) {
        let slots = self.slab.slots_mut();
        let u = slots[id as usize].links.uni;
        if u != NO_UNI {
            self.unis[u as usize].unlink::<Uni, X>(id, slots);
            slots[id as usize].links.uni = NO_UNI;
        }
    }

    /// Sets a flow's verdict. `Allow` moves it to the allowlist LRU when the allowlist
    /// cache is enabled.
    pub fn set_verdict(&mut self, id: FlowId, v: Verdict) {
        self.flow_mut(id).set_verdict_raw(v);
        if v == Verdict::Allow && self.cfg.allowlist {
            let slots = self.slab.slots_mut();
            if slots[id.0 as usize].links.list as usize != ALLOW {
                self.stats.moved_to_allowlist += 1;
            }
            self.move_to_allowlist(id.0);
        }
    }

    fn move_to_allowlist(&mut self, id: u32) {
        let slots = self.slab.slots_mut();
        let cur = slots[id as usize].links.list as usize;
        if cur == ALLOW {
            return;
        }
        self.lists[cur].unlink::<Main, X>(id, slots);
        self.lists[ALLOW].push_mru::<Main, X>(id, slots);
        slots[id as usize].links.list = ALLOW as u8;
        // Trusted flows are not uni-pruned either.
        self.unlink_uni(id);
    }

    /// Ends flow `id` with `reason`: hands it to `on_end`, counts it, unlinks it and
    /// frees its slot.
    pub fn end<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        id: FlowId,
        reason: EndReason,
        on_end: &mut F,
    ) {
        self.release(id.0, reason, on_end);
    }

    fn release<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        id: u32,
        reason: EndReason,
        on_end: &mut F,
    ) {
        let slots = self.slab.slots_mut();
        let f = &mut slots[id as usize];
        debug_assert_ne!(f.links.list, FREE);
        // The index entry the flow leaves is far from its slot: start loading it before
        // the caller writes the record, so it is there when the entry is removed.
        let hash = f.key().hash_with(&self.hasher);
        self.index.prefetch(hash);
        on_end(f, reason);
        let class = f.class() as usize;
        let allowlisted = f.links.list as usize == ALLOW;
        if f.state() == FlowState::Closed {
            self.stats.flows_closed += 1;
        }
        let list = f.links.list as usize;
        match reason {
            EndReason::Timeout => {
                self.stats.idle_prunes_proto_timeout += 1;
                self.stats.timeout_prunes[class] += 1;
            }
            EndReason::Shutdown => self.stats.shutdown_flows += 1,
            EndReason::TcpReuse => self.stats.tcp_reuse += 1,
            EndReason::Pruned(PruneReason::IdleMaxFlows) => self.stats.idle_prunes_max_flows += 1,
            EndReason::Pruned(PruneReason::Excess) => {
                self.stats.excess_prunes += 1;
                if allowlisted {
                    self.stats.allowlist_excess_prunes += 1;
                }
            }
            EndReason::Pruned(PruneReason::Uni) => self.stats.uni_prunes += 1,
            EndReason::Pruned(PruneReason::Memcap) => {
                self.stats.memcap_prunes += 1;
                if allowlisted {
                    self.stats.allowlist_memcap_prunes += 1;
                } else {
                    self.stats.memcap_prunes_by_class[class] += 1;
                }
            }
        }
        self.lists[list].unlink::<Main, X>(id, slots);
        self.unlink_uni(id);
        self.index.remove(hash, id);
        self.memory = self.memory.saturating_sub(Self::slot_bytes() as u64);
        self.slab.remove(id);
    }

    /// Non-allowlisted flows counted against `max_flows` (allowlisted ones count too
    /// unless they were moved there on excess).
    #[inline]
    fn counted(&self) -> u32 {
        let live = self.slab.live();
        if self.on_excess() {
            live - self.lists[ALLOW].len
        } else {
            live
        }
    }

    #[inline]
    fn on_excess(&self) -> bool {
        self.cfg.allowlist && self.cfg.move_to_allowlist_on_excess
    }

    /// The least recently used flow of a class (oldest of its segment heads).
    fn class_lru(&self, class: usize) -> u32 {
        let slots = self.slab.slots();
        let mut best = NIL;
        for s in 0..STATES {
            let h = self.lists[class * STATES + s].head;
            if h != NIL
                && (best == NIL || slots[h as usize].last_seen() < slots[best as usize].last_seen())
            {
                best = h;
            }
        }
        best
    }

    /// Snort's `prune_idle`: up to two flows idle longer than `pruning_timeout`, taking
    /// the oldest of each class in turn.
    fn prune_idle<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        now: Timestamp,
        on_end: &mut F,
    ) -> u32 {
        let mut pruned = 0;
        let mut done = 0u8;
        let mut c = self.prune_rr;
        while pruned < IDLE_PRUNE_MAX && done != (1 << CLASSES) - 1 {
            if done & (1 << c) == 0 {
                let h = self.class_lru(c);
                let idle = h != NIL && {
                    let f = &self.slab.slots()[h as usize];
                    f.verdict() != Verdict::Block
                        && now > f.last_seen().add_secs(self.cfg.pruning_timeout)
                };
                if idle {
                    self.release(h, EndReason::Pruned(PruneReason::IdleMaxFlows), on_end);
                    pruned += 1;
                    self.prune_rr = (c + 1) % CLASSES;
                } else {
                    done |= 1 << c;
                }
            }
            c = (c + 1) % CLASSES;
        }
        pruned
    }

    /// Snort's `prune_unis`: when one-directional flows of the new flow's kind exceed a
    /// quarter of `max_flows`, prune the oldest of them that is not blocked.
    fn prune_uni<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        class: ProtoClass,
        on_end: &mut F,
    ) -> u32 {
        let u = if class == ProtoClass::Ip {
            UNI_IP
        } else {
            UNI_OTHER
        } as usize;
        let max_uni = (self.cfg.max_flows >> 2) + 1;
        if self.unis[u].len <= max_uni {
            return 0;
        }
        let slots = self.slab.slots();
        let mut cur = self.unis[u].head;
        while cur != NIL {
            if slots[cur as usize].verdict() != Verdict::Block {
                self.release(cur, EndReason::Pruned(PruneReason::Uni), on_end);
                return 1;
            }
            cur = slots[cur as usize].links.uni_next;
        }
        0
    }

    /// Snort's `prune_excess`: prune (or, with `move_on_excess`, allowlist) the oldest
    /// flows round-robin over the classes until one slot is free. Allowlisted flows are
    /// pruned first when they count against `max_flows`. Blocked flows are rotated.
    fn prune_excess<F: FnMut(&mut Flow<X>, EndReason)>(&mut self, on_end: &mut F) -> u32 {
        let mut pruned = 0;
        if self.cfg.allowlist && !self.on_excess() {
            while self.counted() >= self.cfg.max_flows && self.lists[ALLOW].head != NIL {
                let h = self.lists[ALLOW].head;
                self.release(h, EndReason::Pruned(PruneReason::Excess), on_end);
                pruned += 1;
            }
        }
        let mut budget = self.slab.live() + CLASSES as u32;
        let mut empty = 0;
        while self.counted() >= self.cfg.max_flows && budget > 0 && empty < CLASSES {
            budget -= 1;
            let c = self.prune_rr;
            self.prune_rr = (c + 1) % CLASSES;
            let h = self.class_lru(c);
            if h == NIL {
                empty += 1;
                continue;
            }
            empty = 0;
            if self.slab.slots()[h as usize].verdict() == Verdict::Block {
                let l = self.slab.slots()[h as usize].links.list as usize;
                self.lists[l].touch::<Main, X>(h, self.slab.slots_mut());
                continue;
            }
            if self.on_excess() && !self.slab.is_full() {
                self.slab.slots_mut()[h as usize].set_verdict_raw(Verdict::Allow);
                self.move_to_allowlist(h);
                self.stats.excess_to_allowlist += 1;
            } else {
                self.release(h, EndReason::Pruned(PruneReason::Excess), on_end);
            }
            pruned += 1;
        }
        // With move-on-excess, the allowlist's own share of the slots can fill up: then
        // its oldest flow goes.
        if self.slab.is_full() && self.lists[ALLOW].head != NIL {
            let h = self.lists[ALLOW].head;
            self.release(h, EndReason::Pruned(PruneReason::Excess), on_end);
            pruned += 1;
        }
        pruned
    }

    /// Snort's `prune_multiple(MEMCAP)`: up to `prune_flows` flows, allowlist first,
    /// then the oldest of each class in turn, while over the memory cap.
    fn prune_memcap<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        need: u64,
        on_end: &mut F,
    ) -> u32 {
        let mut pruned = 0;
        let over = |s: &Self| s.memory + need > s.cfg.memcap;
        while over(self) && pruned < self.cfg.prune_flows && self.lists[ALLOW].head != NIL {
            let h = self.lists[ALLOW].head;
            self.release(h, EndReason::Pruned(PruneReason::Memcap), on_end);
            pruned += 1;
        }
        let mut empty = 0;
        while over(self) && pruned < self.cfg.prune_flows && empty < CLASSES {
            let c = self.prune_rr;
            self.prune_rr = (c + 1) % CLASSES;
            let h = self.class_lru(c);
            if h == NIL {
                empty += 1;
                continue;
            }
            empty = 0;
            self.release(h, EndReason::Pruned(PruneReason::Memcap), on_end);
            pruned += 1;
        }
        pruned
    }

    /// Creates a flow for `key` (which must not be live), first making room as Snort's
    /// `allocate` does. The packet that starts it was sent by the key's high endpoint
    /// when `reversed`; `ordinal` numbers that packet uniquely within the run (it
    /// becomes the flow id, through a bijection, so ids never repeat). Returns `None`
    /// (and counts a `no_flow_*`) when no room can be made.
    #[allow(clippy::too_many_arguments)]
    pub fn create<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        key: FlowKey,
        hash: u64,
        reversed: bool,
        vlans: Vlans,
        now: Timestamp,
        ordinal: u64,
        on_end: &mut F,
    ) -> Option<FlowId>
    where
        X: Default,
    {
        debug_assert!(self.find(&key, hash).is_none());
        let class = ProtoClass::of_key(&key);
        if self.counted() >= self.cfg.max_flows || self.slab.is_full() {
            if self.prune_idle(now, on_end) == 0 && self.prune_uni(class, on_end) == 0 {
                self.prune_excess(on_end);
            }
            if self.counted() >= self.cfg.max_flows || self.slab.is_full() {
                self.stats.no_flow_max_flows += 1;
                return None;
            }
        }
        let need = Self::slot_bytes() as u64;
        if self.cfg.memcap > 0 && self.memory + need > self.cfg.memcap {
            self.prune_memcap(need, on_end);
            if self.memory + need > self.cfg.memcap {
                self.stats.no_flow_memcap += 1;
                return None;
            }
        }
        let flow_id = flow_id(ordinal, self.id_seed);
        let id = self
            .slab
            .insert(Flow::new(key, flow_id, reversed, now, vlans))?;
        self.index.insert(hash, id);
        self.link_swept(id, list_of(class, FlowState::New), now);
        let u = if class == ProtoClass::Ip {
            UNI_IP
        } else {
            UNI_OTHER
        };
        let slots = self.slab.slots_mut();
        self.unis[u as usize].push_mru::<Uni, X>(id, slots);
        slots[id as usize].links.uni = u;
        self.memory += need;
        self.stats.flows += 1;
        self.stats.flows_by_class[class as usize] += 1;
        let live = u64::from(self.slab.live());
        if live > self.stats.peak_flows {
            self.stats.peak_flows = live;
        }
        Some(FlowId(id))
    }

    /// True when [`sweep`](Self::sweep) at `now` with `budget` would look at any list
    /// (a cheap check, so callers build `on_end` only when it is needed).
    #[inline(always)]
    pub fn sweep_is_due(&self, now: Timestamp, budget: u32) -> bool {
        now >= self.sweep_due && budget != 0
    }

    /// Ends up to `budget` flows that are expired at `now`, resuming round-robin over the
    /// (class, state) lists where the last call stopped. Returns how many ended. Costs a
    /// comparison when nothing is due.
    #[inline]
    pub fn sweep<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        now: Timestamp,
        budget: u32,
        on_end: &mut F,
    ) -> u32 {
        if now < self.sweep_due || budget == 0 {
            return 0;
        }
        self.sweep_slow(now, budget, on_end)
    }

    #[cold]
    fn sweep_slow<F: FnMut(&mut Flow<X>, EndReason)>(
        &mut self,
        now: Timestamp,
        budget: u32,
        on_end: &mut F,
    ) -> u32 {
        let mut ended = 0;
        let mut next_due = NEVER;
        for step in 0..SWEPT {
            // Round-robin from where the last call stopped (no division on this path).
            let l = match self.sweep_rr + step {
                x if x >= SWEPT => x - SWEPT,
                x => x,
            };
            if now < self.due[l] {
                next_due = next_due.min(self.due[l]);
                continue;
            }
            let timeout = self.cfg.timeouts.secs[class_of_list(l)][l % STATES];
            loop {
                let h = self.lists[l].head;
                if h == NIL {
                    self.due[l] = NEVER;
                    break;
                }
                let t = self.slab.slots()[h as usize].last_seen().add_secs(timeout);
                if now < t {
                    self.due[l] = t;
                    next_due = next_due.min(t);
                    break;
                }
                if ended >= budget {
                    // Out of budget with work left: resume here next time.
                    self.sweep_rr = l;
                    self.sweep_due = now;
                    return ended;
                }
                self.prefetch_slot(self.slab.slots()[h as usize].links.next);
                self.release(h, EndReason::Timeout, on_end);
                ended += 1;
            }
        }
        self.sweep_due = next_due;
        ended
    }

    /// Ends every flow: those expired at `now` with reason `timeout`, the others with
    /// `shutdown`. Lists are emptied oldest first, class by class.
    pub fn flush<F: FnMut(&mut Flow<X>, EndReason)>(&mut self, now: Timestamp, on_end: &mut F) {
        for l in 0..LISTS {
            while self.lists[l].head != NIL {
                let h = self.lists[l].head;
                let reason = if self.is_expired(FlowId(h), now) {
                    EndReason::Timeout
                } else {
                    EndReason::Shutdown
                };
                self.prefetch_slot(self.slab.slots()[h as usize].links.next);
                self.release(h, reason, on_end);
            }
            if l < SWEPT {
                self.due[l] = NEVER;
            }
        }
        self.sweep_due = NEVER;
    }

    /// Checks the cache's internal invariants (for tests): list lengths, links, index.
    pub fn check_invariants(&self) -> Result<(), String> {
        let slots = self.slab.slots();
        let mut seen = 0u32;
        for (l, list) in self.lists.iter().enumerate() {
            let mut n = 0;
            let mut prev = NIL;
            let mut cur = list.head;
            while cur != NIL {
                let f = &slots[cur as usize];
                if f.links.list as usize != l {
                    return Err(format!("slot {cur} on list {l} says {}", f.links.list));
                }
                if f.links.prev != prev {
                    return Err(format!("slot {cur}: bad prev link"));
                }
                if self.find(f.key(), self.hash_key(f.key())) != Some(FlowId(cur)) {
                    return Err(format!("slot {cur} not found through the index"));
                }
                n += 1;
                prev = cur;
                cur = f.links.next;
            }
            if n != list.len || prev != list.tail {
                return Err(format!("list {l}: len {} counted {n}", list.len));
            }
            seen += n;
        }
        if seen != self.slab.live() || self.index.len() as u32 != seen {
            return Err(format!(
                "live {} listed {seen} indexed {}",
                self.slab.live(),
                self.index.len()
            ));
        }
        let uni_total: u32 = self.unis.iter().map(|u| u.len).sum();
        if uni_total > seen {
            return Err("more uni flows than flows".into());
        }
        Ok(())
    }
}

/// Flow ids have 51 bits, as Suricata's (JSON readers keep them exact).
const ID_MASK: u64 = (1 << 51) - 1;

/// A flow id from the creating packet's ordinal: a keyed bijection of the 51-bit space
/// (multiplications by odd constants and xor-shifts are invertible modulo 2^51), so
/// distinct ordinals never share an id, and the ids look random.
#[inline]
fn flow_id(ordinal: u64, seed: u64) -> u64 {
    let mut z = (ordinal ^ seed) & ID_MASK;
    z = z.wrapping_mul(0x9e37_79b9_7f4a_7c15) & ID_MASK;
    z ^= z >> 25;
    z = z.wrapping_mul(0xbf58_476d_1ce4_e5b9) & ID_MASK;
    z ^= z >> 23;
    z = z.wrapping_mul(0x94d0_49bb_1331_11eb) & ID_MASK;
    z ^ (z >> 27)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod id_tests {
    use super::flow_id;
    use std::collections::HashSet;

    #[test]
    fn flow_ids_are_distinct_and_fit_51_bits() {
        let mut seen = HashSet::new();
        for ordinal in 0..200_000u64 {
            let id = flow_id(ordinal, 0x1234);
            assert!(id < 1 << 51);
            assert!(seen.insert(id), "duplicate id for {ordinal}");
        }
        assert_ne!(flow_id(5, 1), flow_id(5, 2));
    }
}
