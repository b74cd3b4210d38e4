//! Workers: the engine on several threads, each owning its own flow cache, stream
//! state and inspector data; packets sharded to them by a symmetric hash.
//!
//! Contract:
//! - [`Workers`] takes frames in capture order, as [`Engine`] does, and gives every
//!   frame to the worker [`shard::Sharder`] picks by its outermost IP address pair
//!   (both directions and every fragment of a datagram meet on one worker): it counts
//!   the frame and tracks its outer flow. Each packet a tunnel carries is tracked by the
//!   worker of its own address pair, so a frame whose inner packets hash elsewhere also
//!   goes, as a copy for those layers, to their workers: one inner flow meets on one
//!   worker whichever tunnels carry it. (What a fragmented outer datagram carries is
//!   tracked where it is reassembled.) With one thread there is no worker thread and no
//!   copy: the engine runs in the caller's thread.
//! - Frames travel in batches over bounded queues: a worker that falls behind makes
//!   the caller wait; nothing is dropped. No lock is taken per packet. A frame is
//!   copied into the batch's buffer (buffers are recycled, so the steady state
//!   allocates nothing), unless the caller says which [`SharedBytes`] it lies in
//!   ([`Workers::push_batch_shared`], a mapped capture): the batch then carries its
//!   place there, and a clone of the `SharedBytes` keeps them alive until the worker
//!   is done with it.
//! - [`Placement::Caller`] runs worker 0 in the caller's thread: each call shares the
//!   frames out, then worker 0 processes its share in place (not copied), catching
//!   up with the other workers' frames as often as a worker thread does. Worker 0 then gets a
//!   smaller share of the hash space ([`CALLER_SHARE`]); records and events are the
//!   same as with [`Placement::Threads`].
//! - Each frame keeps its number in the whole capture, and flow ids come from it. One
//!   engine sweeps for timed-out flows at every frame's own time; a worker does the
//!   same for the frames it did not see: before a frame of its own, when the other
//!   workers' frames since its previous one include a later time than its own (a
//!   capture not in time order), and after each batch (or once a second of packet
//!   time when idle), it sweeps at the latest of their times, with their frames'
//!   sweep budget. A flow that times out ends at the moment it expired. So the
//!   records and events of a capture are the same whatever the number of workers,
//!   in time order or not; only the order in which the sinks receive them differs,
//!   and what depends on the cache being full (pruning,
//!   emergency; `max_flows` and `memcap` are split between the workers as the hash
//!   space is, so each has room for its share of the flows), on which expired
//!   flows a sweep gets to when more are due than its budget or, in a capture not in
//!   time order, behind a flow that is not due yet (a sweep takes each list's flows
//!   in the order they were last touched, and stops at the first one not due), or on
//!   checksum `auto` sampling (each worker samples its own packets).
//! - On the 81 suricata-verify and 337 nDPI captures, the records at 2, 3 and 4
//!   workers are those of 1.
//! - With `decoder.recursion-level.use-for-tracking = false` the tunnel depth is not
//!   part of the flow key, so a flow may be seen both inside a tunnel and outside it;
//!   sharding by the outer address pair would split it, so the engine then runs one
//!   worker ([`Workers::threads`] says so).
//! - Each worker gets the inspectors as [`InspectorSet::for_worker`] gives them (a
//!   [fork](crate::inspect::Inspector::fork) of each, or a handle of its own), at
//!   start and at each reload: flows on different workers share no reference count.
//! - A reload is checked once, then applied by every worker between two of its
//!   batches: frames pushed before the call are processed with the old configuration.
//! - [`Workers::finish`] ends every flow and returns the merged counters and each
//!   worker's sink, in worker order. A worker that panics makes `finish` panic.

pub mod shard;

use crate::config::Config;
use crate::decode::LinkType;
use crate::engine::{Engine, EngineError, ReloadPlan, Reloaded, Stats};
use crate::feed::{Packet, SharedBytes};
use crate::inspect::InspectorSet;
use crate::record::Sink;
use crate::time::Timestamp;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Frames per batch handed to a worker.
const BATCH_FRAMES: usize = 512;
/// Bytes of frame data after which a batch is sent even if it holds fewer frames.
const BATCH_BYTES: usize = 192 << 10;
/// Batches queued to one worker before the caller waits.
const QUEUE_DEPTH: usize = 4;
/// A worker that was sent nothing for this long (packet time) is sent the clock.
const TICK_NANOS: u64 = 1_000_000_000;

/// One frame of a batch: where its bytes are, in the batch's buffer or (`shared`) in
/// the batch's [`SharedBytes`].
#[derive(Clone, Copy)]
struct Meta {
    ts: Timestamp,
    link: LinkType,
    shared: bool,
    len: u32,
    start: usize,
    ordinal: u64,
    /// The latest time of the other workers' frames since this worker's previous one
    /// ([`Timestamp::ZERO`] when none).
    before: Timestamp,
    /// A copy for the inner layers (carried by tunnels) this worker tracks: another
    /// worker has the frame itself.
    inner: bool,
}

/// Frames for one worker, and what came after them for the other workers.
struct Batch {
    /// Copied frames.
    data: Vec<u8>,
    /// The bytes the `shared` frames lie in.
    shared: Option<SharedBytes>,
    meta: Vec<Meta>,
    /// Bytes of all its frames, copied or not (so that a batch of shared frames stays
    /// as close behind the reader as a copied one).
    bytes: usize,
    /// The latest time of the other workers' frames after this batch's last frame
    /// ([`Timestamp::ZERO`] when none)...
    after: Timestamp,
    /// ... up to this frame number (the last the caller had given out).
    upto: u64,
    /// Some frame has to catch up first (its `before` is set).
    late: bool,
    /// Some frame is a copy for inner layers (its `inner` is set).
    inner: bool,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES + (16 << 10)),
            shared: None,
            meta: Vec::with_capacity(BATCH_FRAMES),
            bytes: 0,
            after: Timestamp::ZERO,
            upto: 0,
            late: false,
            inner: false,
        }
    }

    fn is_full(&self) -> bool {
        self.meta.len() >= BATCH_FRAMES || self.bytes >= BATCH_BYTES
    }

    /// True when its shared frames (if any) lie in `bytes`.
    #[inline]
    fn shares(&self, bytes: &SharedBytes) -> bool {
        self.shared.as_ref().is_some_and(|s| s.same(bytes))
    }

    /// Empties it for reuse (letting go of the shared bytes).
    fn clear(&mut self) {
        self.data.clear();
        self.meta.clear();
        self.shared = None;
        self.bytes = 0;
        self.late = false;
        self.inner = false;
    }
}

enum Msg {
    Batch(Batch),
    /// Advance the clock, sweep, flush the sink (the caller is idle).
    Idle(Timestamp),
    Reload(Box<Config>, InspectorSet),
    /// Flush the sink.
    Flush,
    /// End every flow at this clock and return.
    Finish(Timestamp),
}

/// The caller's end of one worker.
struct Shard<S> {
    tx: SyncSender<Msg>,
    free: Receiver<Batch>,
    pending: Batch,
    /// The clock last sent to the worker.
    sent_at: Timestamp,
    /// Frames given to this worker.
    frames: u64,
    handle: Option<JoinHandle<(Stats, S)>>,
}

/// The engine on `n` threads (or in the caller's thread when `n` is 1).
pub struct Workers<S: Sink> {
    mode: Mode<S>,
}

enum Mode<S: Sink> {
    Inline(Box<Engine<S>>),
    Threads(Box<Pool<S>>),
}

struct Pool<S: Sink> {
    /// Worker 0, when it runs in the caller's thread ([`Placement::Caller`]).
    local: Option<Local<S>>,
    /// The workers on threads of their own, in worker order (after the local one).
    shards: Vec<Shard<S>>,
    /// Where the hash space is cut between workers: worker `i` takes the hashes from
    /// `cuts[i - 1]` (0 for the first) up to but not including `cuts[i]`.
    cuts: Vec<u64>,
    sharder: shard::Sharder,
    /// The hashes of the inner layers of the frame being shared out.
    inner: Vec<u64>,
    clock: Timestamp,
    ordinal: u64,
    /// What each worker has to catch up with; see [`Since`].
    since: Since,
    /// The configuration in force, as the caller gave it (not split).
    config: Config,
}

/// Worker 0 in the caller's thread.
struct Local<S: Sink> {
    engine: Engine<S>,
    /// Frames given to it.
    frames: u64,
    /// Frames given since it last caught up with the other workers' frames.
    since: usize,
    /// The caller's clock when it last caught up.
    sent_at: Timestamp,
    /// The number of the last frame whose time it knows.
    seen: u64,
}

impl<S: Sink> Local<S> {
    /// Catches up with the other workers' frames up to frame `upto`, the latest at
    /// `after`, as a worker thread does after each batch.
    fn follow(&mut self, after: Timestamp, upto: u64, clock: Timestamp) {
        self.engine.catch_up(after, upto.saturating_sub(self.seen));
        self.seen = self.seen.max(upto);
        self.since = 0;
        self.sent_at = clock;
    }
}

/// For each worker (the local one first), the latest time of the frames given to the
/// others since its own last frame or batch: what it must catch up with, as one engine
/// sweeps at every frame's time. Kept in constant time per frame while frames come in
/// time order: the latest of them is then the clock, set at frame `top`; only a frame
/// older than the clock (`late`) touches every worker's entry.
struct Since {
    /// Per worker: the number of its last frame, or of the last frame it caught up
    /// to (its mark), and the latest time of the late frames since
    /// ([`Timestamp::ZERO`]: none).
    marks: Vec<(u64, Timestamp)>,
    /// The number of the last frame that was at or past the clock.
    top: u64,
}

impl Since {
    fn new(workers: usize) -> Since {
        Since {
            marks: vec![(0, Timestamp::ZERO); workers],
            top: 0,
        }
    }

    /// Frame `ordinal`, for worker `w`, is at or past the clock.
    #[inline(always)]
    fn in_order(&mut self, w: usize, ordinal: u64) {
        self.top = ordinal;
        self.marks[w] = (ordinal, Timestamp::ZERO);
    }

    /// Frame `ordinal`, for worker `w`, is at `ts`, before the clock `clock`: returns
    /// what `w` must catch up with first (when later than `ts`).
    #[cold]
    fn late(&mut self, w: usize, ordinal: u64, ts: Timestamp, clock: Timestamp) -> Timestamp {
        let before = self.take(w, ordinal, clock);
        for (_, low) in &mut self.marks {
            if ts > *low {
                *low = ts;
            }
        }
        self.marks[w].1 = Timestamp::ZERO;
        before
    }

    /// The latest time of the other workers' frames since `w`'s mark, with the clock
    /// at `clock`; `w` is then caught up to frame `upto`.
    fn take(&mut self, w: usize, upto: u64, clock: Timestamp) -> Timestamp {
        let (mark, low) = self.marks[w];
        self.marks[w] = (upto, Timestamp::ZERO);
        if self.top > mark {
            clock
        } else {
            low
        }
    }
}

/// Where the workers run (with more than one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Every worker on a thread of its own; the caller only reads and shares out
    /// frames (it may then do other work, such as capturing, without delaying them).
    #[default]
    Threads,
    /// Worker 0 runs in the caller's thread: [`Workers::push_batch`] hands the other
    /// workers their frames, then processes worker 0's share itself, in place (no
    /// copy). `n` workers then use `n` threads, not `n + 1`: for as many workers as
    /// cores, so that the reading thread and the workers do not take turns on them.
    /// Worker 0 gets a little less of the hash space than the others
    /// ([`CALLER_SHARE`]), as the caller also reads the input.
    Caller,
}

/// With [`Placement::Caller`], worker 0's share of the hash space relative to another
/// worker's, in 1/256ths: the caller also reads the input, hashes every frame and
/// hands the other workers theirs. On the benchmark capture (full pipeline, two
/// workers, frames handed over as places in the mapped file) that is about 7% of the
/// engine's instructions, but more of its time (every record header comes from memory
/// into the caller's cache first): with 192 (43% of the frames for worker 0) the
/// reading thread runs about 5% fewer instructions than the other. Which thread waits
/// for the other then depends on the machine's moment (on a shared 2-core VM either
/// does, by up to a quarter of the run); 176 and 208 were no better.
pub const CALLER_SHARE: u64 = 192;

/// Frames each worker was given, in worker order (one entry per worker; see
/// [`Workers::frames_per_worker`]).
pub type WorkerFrames = Vec<u64>;

/// The configuration of worker `i` of `n`: `max_flows` and `memcap` split as the hash
/// space is (evenly, or with `caller` worker 0's smaller share, [`CALLER_SHARE`]), so
/// each worker has room for the flows it is given.
fn split(config: &Config, n: usize, i: usize, caller: bool) -> Config {
    let weight = |w: usize| -> u128 {
        if caller && w == 0 {
            u128::from(CALLER_SHARE)
        } else {
            256
        }
    };
    let total: u128 = (0..n).map(weight).sum::<u128>().max(1);
    // Each worker's share rounded down, the last taking what rounding left: the
    // shares add up to the whole.
    let share = |whole: u128| {
        let floor = |w: usize| whole * weight(w) / total;
        if i + 1 == n {
            whole - (0..i).map(floor).sum::<u128>()
        } else {
            floor(i)
        }
    };
    let mut c = config.clone();
    c.stream.max_flows = u32::try_from(share(u128::from(config.stream.max_flows)))
        .unwrap_or(u32::MAX)
        .max(1);
    if config.stream.memcap > 0 {
        c.stream.memcap = u64::try_from(share(u128::from(config.stream.memcap)))
            .unwrap_or(u64::MAX)
            .max(1);
    }
    c
}

/// The cuts of the hash space between `n` workers (see `Pool::cuts`): even ones, or
/// with `caller` worker 0's share weighted by [`CALLER_SHARE`].
fn cuts(n: usize, caller: bool) -> Vec<u64> {
    let w0 = if caller { CALLER_SHARE } else { 256 };
    let total = u128::from(w0) + 256 * (n as u128 - 1);
    (1..n as u128)
        .map(|i| {
            let below = u128::from(w0) + 256 * (i - 1);
            // Rounded up: with even shares, hash `h` goes to `worker_of(h, n)`.
            ((below << 64).div_ceil(total)).min(u128::from(u64::MAX)) as u64
        })
        .collect()
}

impl<S: Sink + Send + 'static> Workers<S> {
    /// Builds `threads` engines (at least one; one when the tunnel depth is not part
    /// of the flow key, see the module contract) with `inspectors`, worker `i` writing
    /// to `make_sink(i)`, and starts their threads ([`Placement::Threads`]).
    /// `max_flows` and `memcap` are for the whole: each worker gets its share.
    pub fn new(
        config: &Config,
        inspectors: InspectorSet,
        threads: usize,
        make_sink: impl FnMut(usize) -> S,
    ) -> Result<Self, EngineError> {
        Self::with_placement(config, inspectors, threads, Placement::Threads, make_sink)
    }

    /// As [`new`](Self::new), the workers placed as `placement` says.
    pub fn with_placement(
        config: &Config,
        inspectors: InspectorSet,
        threads: usize,
        placement: Placement,
        mut make_sink: impl FnMut(usize) -> S,
    ) -> Result<Self, EngineError> {
        let threads = if config.decoder.recursion_level.use_for_tracking {
            threads.max(1)
        } else {
            // Tunnelled and plain packets of the same addresses share a flow then, at
            // different depths of different frames: no pair brings them together.
            1
        };
        if threads == 1 {
            let engine = Engine::with_inspectors(config, make_sink(0), inspectors)?;
            return Ok(Workers {
                mode: Mode::Inline(Box::new(engine)),
            });
        }
        let caller = placement == Placement::Caller;
        // Build every engine first: a bad configuration starts no thread.
        let mut engines = Vec::with_capacity(threads);
        let cuts = cuts(threads, caller);
        for i in 0..threads {
            let mut engine = Engine::with_inspectors(
                &split(config, threads, i, caller),
                make_sink(i),
                inspectors.for_worker(),
            )?;
            engine.set_owner(shard::Owner {
                cuts: cuts.clone(),
                me: i,
            });
            engines.push(engine);
        }
        let mut engines = engines.into_iter();
        let local = if caller {
            engines.next().map(|engine| Local {
                engine,
                frames: 0,
                since: 0,
                sent_at: Timestamp::ZERO,
                seen: 0,
            })
        } else {
            None
        };
        let first = usize::from(caller);
        let mut shards = Vec::with_capacity(threads);
        for (i, engine) in engines.enumerate() {
            let (tx, rx) = sync_channel::<Msg>(QUEUE_DEPTH);
            let (free_tx, free) = sync_channel::<Batch>(QUEUE_DEPTH + 2);
            for _ in 0..QUEUE_DEPTH + 1 {
                let _ = free_tx.try_send(Batch::new());
            }
            let handle = std::thread::Builder::new()
                .name(format!("flowengine-worker-{}", first + i))
                .spawn(move || work(engine, rx, free_tx))
                .map_err(EngineError::Thread)?;
            shards.push(Shard {
                tx,
                free,
                pending: Batch::new(),
                sent_at: Timestamp::ZERO,
                frames: 0,
                handle: Some(handle),
            });
        }
        Ok(Workers {
            mode: Mode::Threads(Box::new(Pool {
                local,
                shards,
                cuts,
                sharder: shard::Sharder::new(config.decoder.tunnels()?, config.decoder.max_layers),
                inner: Vec::new(),
                clock: Timestamp::ZERO,
                ordinal: 0,
                since: Since::new(threads),
                config: config.clone(),
            })),
        })
    }
}

impl<S: Sink> Workers<S> {
    /// One engine running in the caller's thread (the sink need not be `Send`).
    pub fn from_engine(engine: Engine<S>) -> Self {
        Workers {
            mode: Mode::Inline(Box::new(engine)),
        }
    }

    /// Workers (1 when the engine runs in the caller's thread).
    pub fn threads(&self) -> usize {
        match &self.mode {
            Mode::Inline(_) => 1,
            Mode::Threads(p) => p.shards.len() + usize::from(p.local.is_some()),
        }
    }

    /// Processes one frame.
    pub fn push(&mut self, pkt: &Packet<'_>) {
        match &mut self.mode {
            Mode::Inline(e) => e.push(pkt),
            Mode::Threads(p) => p.push_batch(std::slice::from_ref(pkt), None),
        }
    }

    /// Processes frames in capture order.
    pub fn push_batch(&mut self, pkts: &[Packet<'_>]) {
        match &mut self.mode {
            Mode::Inline(e) => e.push_batch(pkts),
            Mode::Threads(p) => p.push_batch(pkts, None),
        }
    }

    /// Processes frames in capture order, as [`push_batch`](Self::push_batch), when
    /// they lie in `bytes` (those of a mapped capture,
    /// [`PcapFile::shared_bytes`](crate::PcapFile::shared_bytes)): the frames for
    /// worker threads are handed over as their places there instead of copies. A
    /// frame that does not lie in `bytes` is copied. Records and events are the same
    /// as with `push_batch`.
    pub fn push_batch_shared(&mut self, pkts: &[Packet<'_>], bytes: &SharedBytes) {
        match &mut self.mode {
            Mode::Inline(e) => e.push_batch(pkts),
            Mode::Threads(p) => p.push_batch(pkts, Some(bytes)),
        }
    }

    /// The caller is idle at packet time `now` (live capture with no traffic): every
    /// worker gets what was pushed so far, advances its clock, sweeps timed-out flows
    /// (`stream.timeout_flows_when_idle`) and flushes its sink.
    pub fn idle(&mut self, now: Timestamp) {
        match &mut self.mode {
            Mode::Inline(e) => {
                e.idle(now);
                e.sink_mut().flush();
            }
            Mode::Threads(p) => {
                if now > p.clock {
                    p.clock = now;
                }
                for i in 0..p.shards.len() {
                    p.send_pending(i);
                    let s = &mut p.shards[i];
                    let _ = s.tx.send(Msg::Idle(p.clock));
                    s.sent_at = p.clock;
                }
                if let Some(l) = &mut p.local {
                    let after = p.since.take(0, p.ordinal, p.clock);
                    l.follow(after, p.ordinal, p.clock);
                    l.engine.idle(p.clock);
                    l.engine.sink_mut().flush();
                }
            }
        }
    }

    /// Applies a new configuration and inspector set, as [`Engine::reload`]: checked
    /// once (an invalid one changes nothing), then applied by every worker after the
    /// frames already pushed.
    pub fn reload(
        &mut self,
        config: &Config,
        inspectors: InspectorSet,
    ) -> Result<Reloaded, EngineError> {
        match &mut self.mode {
            Mode::Inline(e) => e.reload(config, inspectors),
            Mode::Threads(p) => {
                let plan = ReloadPlan::new(&p.config, config)?;
                let (n, caller) = (p.threads(), p.local.is_some());
                let first = usize::from(caller);
                for i in 0..p.shards.len() {
                    p.send_pending(i);
                    let part = split(config, n, first + i, caller);
                    let msg = Msg::Reload(Box::new(part), inspectors.for_worker());
                    let _ = p.shards[i].tx.send(msg);
                }
                if let Some(l) = &mut p.local {
                    // Checked above against the same rules: cannot fail here.
                    let _ = l
                        .engine
                        .reload(&split(config, n, 0, true), inspectors.for_worker());
                }
                p.sharder = shard::Sharder::new(plan.tunnels, config.decoder.max_layers);
                p.config = plan.kept;
                Ok(plan.done)
            }
        }
    }

    /// The configuration in force (the last one a reload applied; `max_flows` and
    /// `memcap` for the whole).
    pub fn config(&self) -> &Config {
        match &self.mode {
            Mode::Inline(e) => e.config(),
            Mode::Threads(p) => &p.config,
        }
    }

    /// Has every worker flush its sink (after the frames already pushed), so that
    /// records show up while a live capture goes on.
    pub fn flush_sinks(&mut self) {
        match &mut self.mode {
            Mode::Inline(e) => e.sink_mut().flush(),
            Mode::Threads(p) => {
                for i in 0..p.shards.len() {
                    p.send_pending(i);
                    let _ = p.shards[i].tx.send(Msg::Flush);
                }
                if let Some(l) = &mut p.local {
                    l.engine.sink_mut().flush();
                }
            }
        }
    }

    /// Counters so far: exact with one thread; with several, only the caller's view
    /// (frames per worker) is current, so this gives `None`.
    pub fn stats(&self) -> Option<Stats> {
        match &self.mode {
            Mode::Inline(e) => Some(e.stats()),
            Mode::Threads(_) => None,
        }
    }

    /// Frames given to each worker so far (each frame once, to the worker of its outer
    /// address pair; copies for the layers a tunnel carries are not counted).
    pub fn frames_per_worker(&self) -> WorkerFrames {
        match &self.mode {
            Mode::Inline(e) => vec![e.stats().decode.packets],
            Mode::Threads(p) => p
                .local
                .iter()
                .map(|l| l.frames)
                .chain(p.shards.iter().map(|s| s.frames))
                .collect(),
        }
    }

    /// Ends every open flow, stops the threads, and returns the merged counters and
    /// each worker's sink (in worker order).
    pub fn finish(self) -> (Stats, Vec<S>) {
        match self.mode {
            Mode::Inline(e) => {
                let (stats, mut sink) = e.finish();
                sink.flush();
                (stats, vec![sink])
            }
            Mode::Threads(p) => {
                let Pool {
                    local,
                    mut shards,
                    clock,
                    ordinal,
                    mut since,
                    ..
                } = *p;
                let first = usize::from(local.is_some());
                for (i, s) in shards.iter_mut().enumerate() {
                    s.send_pending_at(since.take(first + i, ordinal, clock), ordinal, clock);
                    let _ = s.tx.send(Msg::Finish(clock));
                }
                let mut ended = Vec::with_capacity(shards.len() + 1);
                // The local worker ends its flows while the others end theirs.
                if let Some(mut l) = local {
                    l.follow(since.take(0, ordinal, clock), ordinal, clock);
                    l.engine.advance(clock);
                    let (stats, mut sink) = l.engine.finish();
                    sink.flush();
                    ended.push((stats, sink));
                }
                for s in &mut shards {
                    let Some(handle) = s.handle.take() else {
                        continue;
                    };
                    match handle.join() {
                        Ok(done) => ended.push(done),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                let mut total = Stats::default();
                let mut sinks = Vec::with_capacity(ended.len());
                for (i, (stats, sink)) in ended.into_iter().enumerate() {
                    if i == 0 {
                        total = stats;
                    } else {
                        total.merge(&stats);
                    }
                    sinks.push(sink);
                }
                (total, sinks)
            }
        }
    }
}

impl<S> Shard<S> {
    /// Sends the pending batch (even an empty one: it carries the time of the other
    /// workers' frames after it, the latest at `after`, up to frame `upto`) at the
    /// caller's clock `clock`, and takes a free buffer for the next one.
    fn send_pending_at(&mut self, after: Timestamp, upto: u64, clock: Timestamp) {
        let next = self.free.recv().unwrap_or_else(|_| Batch::new());
        let mut batch = std::mem::replace(&mut self.pending, next);
        batch.after = after;
        batch.upto = upto;
        self.sent_at = clock;
        let _ = self.tx.send(Msg::Batch(batch));
    }
}

impl<S: Sink> Pool<S> {
    fn threads(&self) -> usize {
        self.shards.len() + usize::from(self.local.is_some())
    }

    /// The worker of a frame's shard hash.
    #[inline]
    fn worker(&self, hash: u64) -> usize {
        shard::worker_at(&self.cuts, hash)
    }

    /// The workers other than `w` that track inner layers of the frame being shared
    /// out (`self.inner`), each once: calls `each` for each, then empties the list.
    #[cold]
    fn inner_workers(&mut self, w: usize, mut each: impl FnMut(&mut Self, usize)) {
        let inner = std::mem::take(&mut self.inner);
        for (i, &h) in inner.iter().enumerate() {
            let x = self.worker(h);
            if x != w && !inner[..i].iter().any(|&e| self.worker(e) == x) {
                each(self, x);
            }
        }
        self.inner = inner;
        self.inner.clear();
    }

    /// Shares frames out; with a local worker, then processes its share in place.
    #[inline]
    fn push_batch(&mut self, pkts: &[Packet<'_>], shared: Option<&SharedBytes>) {
        const CHUNK: usize = crate::engine::BATCH;
        if self.local.is_none() {
            for pkt in pkts {
                self.dispatch(pkt, shared);
            }
            self.tick();
            return;
        }
        for chunk in pkts.chunks(CHUNK) {
            let mut mine = [Packet {
                ts: Timestamp::ZERO,
                link: LinkType::Ethernet,
                data: &[],
            }; CHUNK];
            let mut ordinals = [0u64; CHUNK];
            let mut before = [Timestamp::ZERO; CHUNK];
            // Worker 0's copies for inner layers: at most one per frame.
            let mut inner = [false; CHUNK];
            let mut late = false;
            let mut copies = false;
            let mut n = 0;
            let mut primaries = 0;
            for pkt in chunk {
                self.ordinal += 1;
                let h = self.sharder.route(pkt.link, pkt.data, &mut self.inner);
                let w = self.worker(h);
                let b = self.note(w, pkt.ts);
                if w == 0 {
                    mine[n] = *pkt;
                    ordinals[n] = self.ordinal;
                    before[n] = b;
                    late |= b != Timestamp::ZERO;
                    n += 1;
                    primaries += 1;
                } else {
                    self.hand(w - 1, pkt, shared, b, false);
                }
                if !self.inner.is_empty() {
                    self.inner_workers(w, |pool, x| {
                        let b = pool.note(x, pkt.ts);
                        if x == 0 {
                            mine[n] = *pkt;
                            ordinals[n] = pool.ordinal;
                            before[n] = b;
                            inner[n] = true;
                            late |= b != Timestamp::ZERO;
                            copies = true;
                            n += 1;
                        } else {
                            pool.hand(x - 1, pkt, shared, b, true);
                        }
                    });
                }
            }
            self.tick();
            if let Some(l) = &mut self.local {
                l.frames += primaries;
                l.since += n;
                run(
                    &mut l.engine,
                    &mine[..n],
                    &ordinals[..n],
                    late.then_some(&before[..n]),
                    copies.then_some(&inner[..n]),
                    &mut l.seen,
                );
                // After its frames, as often as a worker thread catches up: once per
                // batch's worth of frames, or a second of packet time.
                if l.since >= BATCH_FRAMES
                    || self.clock.as_nanos() >= l.sent_at.as_nanos() + TICK_NANOS
                {
                    let after = self.since.take(0, self.ordinal, self.clock);
                    l.follow(after, self.ordinal, self.clock);
                }
            }
        }
    }

    /// Hands one frame to its worker's pending batch (no local worker).
    #[inline]
    fn dispatch(&mut self, pkt: &Packet<'_>, shared: Option<&SharedBytes>) {
        self.ordinal += 1;
        let h = self.sharder.route(pkt.link, pkt.data, &mut self.inner);
        let w = self.worker(h);
        let before = self.note(w, pkt.ts);
        self.hand(w, pkt, shared, before, false);
        if !self.inner.is_empty() {
            self.inner_workers(w, |pool, x| {
                let before = pool.note(x, pkt.ts);
                pool.hand(x, pkt, shared, before, true);
            });
        }
    }

    /// Notes frame `self.ordinal`, at `ts`, for worker `w` (the local one is 0), and
    /// moves the clock: returns what `w` must catch up with first, the latest time of
    /// the other workers' frames since its previous one when later than `ts`
    /// ([`Timestamp::ZERO`] otherwise).
    #[inline(always)]
    fn note(&mut self, w: usize, ts: Timestamp) -> Timestamp {
        if ts >= self.clock {
            // In time order: no frame before it is later.
            self.clock = ts;
            self.since.in_order(w, self.ordinal);
            return Timestamp::ZERO;
        }
        self.since.late(w, self.ordinal, ts, self.clock)
    }

    /// Adds frame number `self.ordinal` to shard `s`'s pending batch: as its place in
    /// `shared` when it lies there, else copied, with the latest time `before` of the
    /// other workers' frames since the shard's previous one, and whether it is a copy
    /// for `inner` layers only; sends the batch when full.
    #[inline(always)]
    fn hand(
        &mut self,
        s: usize,
        pkt: &Packet<'_>,
        shared: Option<&SharedBytes>,
        before: Timestamp,
        inner: bool,
    ) {
        let place = match shared {
            Some(bytes) => {
                if !self.shards[s].pending.shares(bytes) {
                    self.share(s, bytes);
                }
                bytes.place(pkt.data)
            }
            None => None,
        };
        let shard = &mut self.shards[s];
        let b = &mut shard.pending;
        let start = match place {
            Some(at) => at,
            None => {
                let at = b.data.len();
                b.data.extend_from_slice(pkt.data);
                at
            }
        };
        b.meta.push(Meta {
            ts: pkt.ts,
            link: pkt.link,
            shared: place.is_some(),
            len: pkt.data.len() as u32,
            start,
            ordinal: self.ordinal,
            before,
            inner,
        });
        b.late |= before != Timestamp::ZERO;
        b.inner |= inner;
        b.bytes += pkt.data.len();
        shard.frames += u64::from(!inner);
        if b.is_full() {
            self.send_pending(s);
        }
    }

    /// Makes shard `s`'s pending batch carry `bytes`, first sending it if it holds
    /// frames of other shared bytes (a batch carries one set).
    #[cold]
    fn share(&mut self, s: usize, bytes: &SharedBytes) {
        if self.shards[s].pending.shared.is_some() {
            self.send_pending(s);
        }
        self.shards[s].pending.shared = Some(bytes.clone());
    }

    /// Sends shard `s` its pending batch (even an empty one: it carries the time of
    /// the other workers' frames since).
    fn send_pending(&mut self, s: usize) {
        let w = s + usize::from(self.local.is_some());
        let (upto, clock) = (self.ordinal, self.clock);
        let after = self.since.take(w, upto, clock);
        self.shards[s].send_pending_at(after, upto, clock);
    }

    /// Sends the clock to workers that were sent nothing for a second of packet time.
    #[inline]
    fn tick(&mut self) {
        for s in 0..self.shards.len() {
            if self.clock.as_nanos() >= self.shards[s].sent_at.as_nanos() + TICK_NANOS {
                self.send_pending(s);
            }
        }
    }
}

/// Runs one worker's frames (numbers `ordinals`) in capture order. Before a frame
/// whose `before` (the latest time of the other workers' frames since this worker's
/// previous one, `seen`) is later than its own time, the worker first catches up with
/// those frames, as one engine sweeps at each frame's own time. In a capture in time
/// order no frame needs it (`before` is `None`): its own sweep runs at least as late.
/// A frame whose `inner` is set is a copy for the inner layers this worker tracks
/// (`inner` is `None` when there is none).
fn run<S: Sink>(
    engine: &mut Engine<S>,
    pkts: &[Packet<'_>],
    ordinals: &[u64],
    before: Option<&[Timestamp]>,
    inner: Option<&[bool]>,
    seen: &mut u64,
) {
    if before.is_none() && inner.is_none() {
        engine.push_batch_numbered(pkts, ordinals);
        if let Some(&last) = ordinals.last() {
            *seen = last;
        }
        return;
    }
    let mut from = 0;
    for (i, (pkt, &ordinal)) in pkts.iter().zip(ordinals).enumerate() {
        let late = before.and_then(|b| b.get(i)).filter(|&&b| b > pkt.ts);
        let copy = inner.and_then(|c| c.get(i)).copied().unwrap_or(false);
        if late.is_some() || copy {
            if from < i {
                engine.push_batch_numbered(&pkts[from..i], &ordinals[from..i]);
            }
            from = i;
        }
        if let Some(&before) = late {
            engine.catch_up(before, ordinal.saturating_sub(*seen + 1));
        }
        if copy {
            engine.push_inner(pkt, ordinal);
            from = i + 1;
        }
        *seen = ordinal;
    }
    if from < pkts.len() {
        engine.push_batch_numbered(&pkts[from..], &ordinals[from..]);
    }
}

/// A worker thread: processes batches until told to finish.
fn work<S: Sink>(mut engine: Engine<S>, rx: Receiver<Msg>, free: SyncSender<Batch>) -> (Stats, S) {
    const CHUNK: usize = crate::engine::BATCH;
    // The number of the last frame whose time this worker knows.
    let mut seen = 0u64;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Batch(mut b) => {
                let shared = b.shared.as_ref().map_or(&[][..], SharedBytes::bytes);
                // Asks for the cache lines of a chunk's frames (up to 512 bytes of
                // each) before they are read: the reading thread brought them into its
                // own cache, and a worker reads too sparsely for the CPU to guess what
                // comes next.
                let ask = |metas: &[Meta]| {
                    for m in metas {
                        let from = if m.shared { shared } else { &b.data[..] };
                        let p = from.as_ptr().wrapping_add(m.start);
                        let end = (p as usize & 63) + (m.len as usize).min(512);
                        for line in (0..end).step_by(64) {
                            crate::prefetch::prefetch(p.wrapping_add(line));
                        }
                    }
                };
                ask(b.meta.get(..CHUNK).unwrap_or(&b.meta));
                for (k, metas) in b.meta.chunks(CHUNK).enumerate() {
                    let next = b.meta.get((k + 1) * CHUNK..).unwrap_or(&[]);
                    ask(&next[..next.len().min(CHUNK)]);
                    let mut pkts = [Packet {
                        ts: Timestamp::ZERO,
                        link: LinkType::Ethernet,
                        data: &[],
                    }; CHUNK];
                    let mut ordinals = [0u64; CHUNK];
                    let mut before = [Timestamp::ZERO; CHUNK];
                    let mut inner = [false; CHUNK];
                    for (i, m) in metas.iter().enumerate() {
                        let (start, len) = (m.start, m.len as usize);
                        let from = if m.shared { shared } else { &b.data[..] };
                        let data = from.get(start..start.saturating_add(len));
                        pkts[i] = Packet {
                            ts: m.ts,
                            link: m.link,
                            data: data.unwrap_or(&[]),
                        };
                        ordinals[i] = m.ordinal;
                        before[i] = m.before;
                        inner[i] = m.inner;
                    }
                    let n = metas.len();
                    run(
                        &mut engine,
                        &pkts[..n],
                        &ordinals[..n],
                        b.late.then_some(&before[..n]),
                        b.inner.then_some(&inner[..n]),
                        &mut seen,
                    );
                }
                engine.catch_up(b.after, b.upto.saturating_sub(seen));
                seen = seen.max(b.upto);
                b.clear();
                // The caller may be gone (it panicked): the buffer is simply dropped.
                let _ = free.try_send(b);
            }
            Msg::Idle(now) => {
                engine.idle(now);
                engine.sink_mut().flush();
            }
            Msg::Flush => engine.sink_mut().flush(),
            Msg::Reload(config, inspectors) => {
                // Checked by the caller against the same rules: cannot fail here.
                let _ = engine.reload(&config, inspectors);
            }
            Msg::Finish(now) => {
                engine.advance(now);
                let (stats, mut sink) = engine.finish();
                sink.flush();
                return (stats, sink);
            }
        }
    }
    // The caller went away without finishing: end the flows anyway.
    let (stats, mut sink) = engine.finish();
    sink.flush();
    (stats, sink)
}

#[cfg(test)]
mod tests;
