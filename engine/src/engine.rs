//! Engine: wires the stages for one worker: decode -> key -> cache -> stream -> record.
//!
//! Contract: [`Engine::push`] takes one captured frame with its packet time and link
//! type; it never panics and never fails: what cannot be decoded is counted by reason,
//! what cannot get a flow slot is counted as `no_flow`. Every flow that was created
//! ends exactly once, in the sink: by timeout (on packet time), TCP reuse, pruning, or
//! at [`Engine::finish`]/[`Engine::flush`] (reason `shutdown`, or `timeout` when it had
//! already expired by the last packet's time). The packets in the records add up to
//! the packets tracked: `Stats::packets_tracked`. Each frame, tracked or not, sweeps
//! up to `stream.timeout_flows_per_packet` timed-out flows at its own time (not the
//! latest time seen: in a merged capture an older-stamped frame does not expire the
//! flows of its own part).
//!
//! Expected flows (FTP data connections an inspector announced with `Cx::expect`) are
//! looked up only when a flow is created, with one branch while none waits; a match
//! gets its service at once (see [`crate::inspect::expect`]).

use crate::cache::{CacheError, CacheStats, FlowCache, FlowId, Timeouts};
use crate::config::{Config, ConfigError};
use crate::decode::checksum::{self, ChecksumMode, ChecksumStats};
use crate::decode::{
    decode, decode_ip, decode_tunnel_unit, DecodeStats, Decoded, DecodedPacket, Fragment,
    IpVersion, Layers, Transport, TunnelConfig, Vlans,
};
use crate::defrag::{self, DefragStats, Defragmenter, Incomplete, Insert};
use crate::feed::Packet;
use crate::flow::{EndReason, Flow, FlowState, Verdict};
use crate::inspect::{
    AppFlow, AppProto, Chunk, ExpectStats, ExpectTable, FlowExt, FlowInfo, InspectStats,
    InspectorSet, Transport as AppTransport,
};
use crate::key::{FlowKey, KeyOptions};
use crate::record::{EndedFlow, Sink};
use crate::stream::{ReassemblyConfig, TcpOptions};
use crate::time::Timestamp;
use crate::workers::shard::Owner;
use std::sync::Arc;

/// Counters of an engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Decoder counters.
    pub decode: DecodeStats,
    /// Defragmenter counters.
    pub defrag: DefragStats,
    /// Checksum validation: the configured mode, whether `auto` found the capture
    /// checksum-offloaded and stopped, and what was checked.
    pub checksum: ChecksumReport,
    /// Flow cache counters (Snort's `stream` pegs).
    pub cache: CacheStats,
    /// IP packets counted in a flow.
    pub packets_tracked: u64,
    /// IP packets for which no flow could be made (cache full of blocked flows, or the
    /// memory cap).
    pub packets_no_flow: u64,
    /// GRE packets that are tunnels only: their payload decoded, and they make no flow
    /// of their own (as in Suricata); the packets they carry are tracked.
    pub packets_tunnel_only: u64,
    /// Later fragments (offset not 0) that never joined a datagram with its first
    /// fragment, so never saw the transport header that names their flow: of datagrams
    /// given up incomplete, refused by the defragmenter, or with reassembly off. Counted
    /// here and in no flow, as Suricata and nDPI leave them out of every flow.
    pub fragments_orphaned: u64,
    /// Their captured bytes (whole frames, as flows count them).
    pub fragment_bytes_orphaned: u64,
    /// Flow records handed to the sink.
    pub records: u64,
    /// Bytes of one flow slot.
    pub slot_bytes: u64,
    /// Bytes reserved per flow (slot plus its share of the hash index).
    pub bytes_per_flow: u64,
    /// Configured `max_flows`.
    pub max_flows: u64,
    /// Slots that ever held a flow (resident memory is about this times the slot).
    pub slots_touched: u64,
    /// Inspection counters.
    pub inspect: InspectStats,
    /// Configuration reloads applied ([`Engine::reload`]).
    pub reloads: u64,
    /// Expected flows (FTP data connections): added, matched, expired, evicted,
    /// replaced.
    pub expectations: ExpectStats,
}

impl Stats {
    /// Adds another engine's counters.
    pub fn merge(&mut self, o: &Stats) {
        self.decode.merge(&o.decode);
        self.defrag.merge(&o.defrag);
        self.checksum.merge(&o.checksum);
        self.inspect.merge(&o.inspect);
        self.expectations.merge(&o.expectations);
        self.cache.merge(&o.cache);
        self.packets_tracked += o.packets_tracked;
        self.packets_no_flow += o.packets_no_flow;
        self.packets_tunnel_only += o.packets_tunnel_only;
        self.fragments_orphaned += o.fragments_orphaned;
        self.fragment_bytes_orphaned += o.fragment_bytes_orphaned;
        self.records += o.records;
        self.slot_bytes = self.slot_bytes.max(o.slot_bytes);
        self.bytes_per_flow = self.bytes_per_flow.max(o.bytes_per_flow);
        self.max_flows += o.max_flows;
        self.slots_touched += o.slots_touched;
        self.reloads = self.reloads.max(o.reloads);
    }
}

/// What checksum validation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChecksumReport {
    /// The configured mode.
    pub mode: ChecksumMode,
    /// `auto` judged the capture checksum-offloaded and stopped validating.
    pub offload_detected: bool,
    /// Checks and failures by layer.
    pub stats: ChecksumStats,
}

impl ChecksumReport {
    /// Adds another worker's report.
    pub fn merge(&mut self, o: &ChecksumReport) {
        self.offload_detected |= o.offload_detected;
        self.stats.merge(&o.stats);
    }
}

/// Packets `auto` checksum validation samples before deciding (Suricata's
/// `CHECKSUM_SAMPLE_COUNT`).
const CHECKSUM_SAMPLE: u64 = 1000;
/// More than one bad packet in this many means offload (Suricata's
/// `CHECKSUM_INVALID_RATIO`).
const CHECKSUM_INVALID_RATIO: u64 = 10;

/// Checksum validation state of an engine.
#[derive(Clone, Debug)]
struct Checksums {
    report: ChecksumReport,
    validating: bool,
    sampled: u64,
    sampled_bad: u64,
}

impl Checksums {
    /// Changes the validation mode; the counters go on.
    fn set_mode(&mut self, mode: ChecksumMode) {
        self.report.mode = mode;
        self.validating = mode != ChecksumMode::None;
        self.sampled = 0;
        self.sampled_bad = 0;
    }

    fn new(mode: ChecksumMode) -> Self {
        Checksums {
            report: ChecksumReport {
                mode,
                ..Default::default()
            },
            validating: mode != ChecksumMode::None,
            sampled: 0,
            sampled_bad: 0,
        }
    }

    /// Validates the packet's IPv4 header and transport checksum; true when none is
    /// known bad.
    #[inline(always)]
    fn check(&mut self, p: &DecodedPacket<'_>) -> bool {
        !self.validating || self.validate(p)
    }

    #[inline(never)]
    fn validate(&mut self, p: &DecodedPacket<'_>) -> bool {
        let st = &mut self.report.stats;
        let mut ok = true;
        if !p.ip_header.is_empty() {
            let h = checksum::ipv4_header_ok(p.ip_header);
            st.count_ipv4(h);
            ok &= h;
        }
        // A first fragment alone cannot be checked: the sum covers the datagram.
        if !p.first_fragment {
            let t = checksum::transport_ok(p.version, &p.src, &p.dst, p.proto, p.segment);
            st.count_transport(p.proto, t);
            ok &= t != Some(false);
        }
        if self.report.mode == ChecksumMode::Auto && self.sampled < CHECKSUM_SAMPLE {
            // While `auto` samples, packets are checked and counted but not judged: a
            // capture taken on a host with checksum offload (every locally sent
            // packet "bad") must not lose its TCP state before offload is detected.
            self.sampled += 1;
            self.sampled_bad += u64::from(!ok);
            if self.sampled == CHECKSUM_SAMPLE
                && self.sampled_bad * CHECKSUM_INVALID_RATIO > self.sampled
            {
                self.validating = false;
                self.report.offload_detected = true;
            }
            return true;
        }
        ok
    }
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The flow cache could not be built.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The defragmenter could not be built.
    #[error(transparent)]
    Defrag(#[from] defrag::DefragError),
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// What [`Engine::reload`] applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Sections that changed but take effect only at a restart (their running values
    /// stay in force).
    pub needs_restart: Vec<&'static str>,
}

/// A flow-tracking engine feeding a [`Sink`].
pub struct Engine<S: Sink> {
    cache: FlowCache<FlowExt>,
    key_opts: KeyOptions,
    tcp_opts: TcpOptions,
    bypass_midstream: bool,
    max_layers: u8,
    tunnels: TunnelConfig,
    checksums: Checksums,
    /// The defragmenter; `None` when reassembly is off, and while it is lent out
    /// during one of its own calls (see [`Engine::fragment`]).
    defrag: Option<Box<Defragmenter>>,
    /// The defragmenter holds datagrams (the timeout check has work to do).
    fragments_held: bool,
    sweep_per_packet: u32,
    sweep_when_idle: u32,
    /// `flow.tracking`: false only decodes and counts.
    tracking: bool,
    /// The inspectors new flows get; `None` for a pure flow meter.
    inspectors: Option<Arc<InspectorSet>>,
    /// The configuration in force (the last one [`Engine::reload`] applied).
    config: Box<Config>,
    /// Reloads applied.
    reloads: u64,
    inspect: InspectStats,
    /// Flows announced by inspectors, looked up when a flow is created.
    expect: ExpectTable,
    reasm: ReassemblyConfig,
    /// The flow timeouts (the cache's, copied: records of timed-out flows read them
    /// while the cache is borrowed).
    timeouts: Timeouts,
    sink: S,
    decode: DecodeStats,
    clock: Timestamp,
    tracked: u64,
    no_flow: u64,
    /// GRE packets that were tunnels only (`Stats::packets_tunnel_only`).
    tunnel_only: u64,
    /// Later fragments that never joined their first fragment, and their bytes.
    orphaned_pkts: u64,
    orphaned_bytes: u64,
    records: u64,
    /// As one worker of several, which inner layers (carried by tunnels) this engine
    /// tracks; `None`: all of them.
    owner: Option<Box<Owner>>,
}

/// Which of the layers a frame's tunnels carry [`Engine::open_tunnels`] tracks, and
/// whether it counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inner {
    /// Every layer, counted: those of a datagram this engine reassembled (no other
    /// worker saw inside it).
    All,
    /// The layers this engine owns, every layer counted: the frame is this worker's.
    Owned,
    /// The layers this engine owns, none counted: a copy of another worker's frame.
    OwnedUncounted,
}

/// Most frames processed as one prefetching group by [`Engine::push_batch`].
pub const BATCH: usize = 32;

/// The bit that sets the ordinals of flows created by given-up datagrams and loose
/// fragments apart (`LOOSE_ORDINALS | frame << 7 | depth`; frame ordinals are
/// `frame << 7 | depth`, far below for any capture).
const LOOSE_ORDINALS: u64 = 1 << 50;

/// Packets and bytes one tracking call accounts to a flow.
#[derive(Clone, Copy, Debug)]
struct Count {
    pkts: u32,
    bytes: u64,
}

/// Bytes of `outer` after the end of `part`, a slice within it (0 when it is not).
fn captured_after(outer: &[u8], part: &[u8]) -> usize {
    let (o, p) = (outer.as_ptr_range(), part.as_ptr_range());
    if p.start < o.start || p.end > o.end {
        return 0;
    }
    o.end as usize - p.end as usize
}

impl Count {
    fn frame(len: usize) -> Count {
        Count {
            pkts: 1,
            bytes: len as u64,
        }
    }
}

/// What flow tracking needs of a decoded IP packet: its key and hash, and the few
/// header fields the flow and the stream read (small, so a batch of them is cheap).
#[derive(Clone, Copy, Debug)]
struct Keyed {
    key: FlowKey,
    hash: u64,
    reversed: bool,
    /// The packet may carry another packet (a tunnel the configuration opens).
    tunnel: bool,
    /// No checksum was found bad (or none was checked): the packet may change TCP
    /// state.
    valid: bool,
    transport: Transport,
    /// Where the payload starts in the captured frame (outer packets only).
    payload_off: u32,
    payload_len: u32,
    vlans: Vlans,
}

/// The record writer of an engine (`$e`) at its clock, borrowing only the fields it
/// needs, so the flow cache can be borrowed beside it.
macro_rules! on_end {
    ($e:ident) => {
        ender(
            &mut $e.sink,
            &mut $e.records,
            &mut $e.inspect,
            &$e.reasm,
            &$e.timeouts,
            $e.clock,
        )
    };
}

/// The closure that turns ending flows into records: the flow's inspectors finish
/// first (their last events reach the sink before the record), then the record is
/// written and the inspection state dropped with the inspectors it kept alive.
///
/// A flow that ends by its timeout ends at the moment it expired (its last packet time
/// plus its timeout), not when a sweep happened to find it: the record, and the events
/// its inspectors write at the end, are then the same whichever packets triggered the
/// sweep, so a capture gives the same records on one worker or several.
fn ender<'a, S: Sink>(
    sink: &'a mut S,
    records: &'a mut u64,
    inspect: &'a mut InspectStats,
    reasm: &'a ReassemblyConfig,
    timeouts: &'a Timeouts,
    now: Timestamp,
) -> impl FnMut(&mut Flow<FlowExt>, EndReason) + 'a {
    move |f, reason| {
        let end = match reason {
            EndReason::Timeout => {
                let expired = f.last_seen().add_secs(timeouts.get(f.class(), f.state()));
                expired.min(now).max(f.last_seen())
            }
            _ => now,
        };
        let mut services = AppProto::default();
        if let Some(mut app) = f.ext.app.take() {
            app.finish(reasm, end, inspect, &mut |ev| sink.event(ev));
            services = app.app_proto();
        }
        sink.flow_ended(&EndedFlow::new(f, reason, end, services));
        *records += 1;
    }
}

/// A reload checked against the running configuration, before anything changes.
pub(crate) struct ReloadPlan {
    /// What the caller is told.
    pub(crate) done: Reloaded,
    /// The configuration in force afterwards: the new one, with the running values
    /// of what needs a restart.
    pub(crate) kept: Config,
    pub(crate) tunnels: TunnelConfig,
    checksum: ChecksumMode,
}

impl ReloadPlan {
    /// Checks `config` as a reload of `old`: refuses an invalid one as a whole.
    pub(crate) fn new(old: &Config, config: &Config) -> Result<ReloadPlan, EngineError> {
        config.validate()?;
        let tunnels = config.decoder.tunnels()?;
        let checksum = config.checksum.mode()?;
        let mut needs_restart = Vec::new();
        let s = (&config.stream, &old.stream);
        if (
            s.0.max_flows,
            s.0.memcap,
            s.0.prune_flows,
            s.0.pruning_timeout,
        ) != (
            s.1.max_flows,
            s.1.memcap,
            s.1.prune_flows,
            s.1.pruning_timeout,
        ) {
            needs_restart.push("stream");
        }
        if config.allowlist_cache != old.allowlist_cache {
            needs_restart.push("allowlist_cache");
        }
        if config.flow != old.flow {
            needs_restart.push("flow");
        }
        if config.vlan.use_for_tracking != old.vlan.use_for_tracking {
            needs_restart.push("vlan");
        }
        if config.decoder.recursion_level.use_for_tracking
            != old.decoder.recursion_level.use_for_tracking
        {
            needs_restart.push("decoder.recursion-level");
        }
        if config.defrag != old.defrag {
            needs_restart.push("defrag");
        }
        if config.eve != old.eve {
            needs_restart.push("eve");
        }
        if (&config.plugins.path, config.plugins.strict) != (&old.plugins.path, old.plugins.strict)
        {
            // Libraries are loaded once, at start-up (their [plugins.NAME] tables are
            // read again by the program that rebuilds the inspectors).
            needs_restart.push("plugins.path");
        }
        // What a restart would change stays as it runs.
        let mut kept = config.clone();
        kept.stream.max_flows = old.stream.max_flows;
        kept.stream.memcap = old.stream.memcap;
        kept.stream.prune_flows = old.stream.prune_flows;
        kept.stream.pruning_timeout = old.stream.pruning_timeout;
        kept.allowlist_cache = old.allowlist_cache.clone();
        kept.flow = old.flow;
        kept.vlan.use_for_tracking = old.vlan.use_for_tracking;
        kept.decoder.recursion_level.use_for_tracking =
            old.decoder.recursion_level.use_for_tracking;
        kept.defrag = old.defrag.clone();
        kept.eve = old.eve;
        Ok(ReloadPlan {
            done: Reloaded { needs_restart },
            kept,
            tunnels,
            checksum,
        })
    }
}

impl<S: Sink> Engine<S> {
    /// Builds an engine: validates the configuration and reserves the flow cache.
    pub fn new(config: &Config, sink: S) -> Result<Self, EngineError> {
        config.validate()?;
        let cache_config = config.cache_config(false);
        let timeouts = cache_config.timeouts;
        let cache = FlowCache::new(cache_config)?;
        Ok(Engine {
            cache,
            timeouts,
            key_opts: config.key_options(),
            tcp_opts: config.tcp_options(),
            bypass_midstream: config.stream.midstream_policy == "bypass",
            max_layers: config.decoder.max_layers,
            tunnels: config.decoder.tunnels()?,
            checksums: Checksums::new(config.checksum.mode()?),
            defrag: if config.defrag.enabled {
                Some(Box::new(Defragmenter::new(config.defrag.defrag_config()?)?))
            } else {
                None
            },
            fragments_held: false,
            sweep_per_packet: config.stream.timeout_flows_per_packet,
            sweep_when_idle: config.stream.timeout_flows_when_idle,
            tracking: config.flow.tracking,
            inspectors: None,
            config: Box::new(config.clone()),
            reloads: 0,
            inspect: InspectStats::default(),
            expect: ExpectTable::new(config.app_layer.expectations.expect_config()),
            reasm: config.reassembly_config(),
            sink,
            decode: DecodeStats::default(),
            clock: Timestamp::ZERO,
            tracked: 0,
            no_flow: 0,
            tunnel_only: 0,
            orphaned_pkts: 0,
            orphaned_bytes: 0,
            records: 0,
            owner: None,
        })
    }

    /// Makes this engine one worker of several: of the layers tunnels carry, it tracks
    /// those `owner` says (see [`crate::workers::shard`]).
    pub(crate) fn set_owner(&mut self, owner: Owner) {
        self.owner = Some(Box::new(owner));
    }

    /// True when this engine tracks the tunnelled packet `p`.
    #[inline]
    fn owns(&self, p: &DecodedPacket<'_>) -> bool {
        self.owner.as_ref().is_none_or(|o| o.owns(p))
    }

    /// A copy of frame number `frame`, another worker's, for the layers its tunnels
    /// carry that this engine tracks: neither its outer packet nor its decoder counters
    /// are this engine's. As [`push`](Self::push) otherwise.
    #[cold]
    pub(crate) fn push_inner(&mut self, pkt: &Packet<'_>, frame: u64) {
        if pkt.ts > self.clock {
            self.clock = pkt.ts;
        }
        self.expire_fragments(pkt.ts);
        if !self.tracking {
            return;
        }
        if let Ok(Decoded::Ip(p)) = decode(pkt.link, pkt.data) {
            if self.tunnels.may_carry(&p) {
                let count = Count::frame(pkt.data.len());
                let tail = captured_after(pkt.data, p.payload);
                self.open_tunnels(p, count, tail, pkt.ts, frame, Inner::OwnedUncounted);
            }
        }
    }

    /// Builds an engine whose flows are inspected by `inspectors` (the wizard, service
    /// and passive inspectors; see [`crate::inspect`]).
    pub fn with_inspectors(
        config: &Config,
        sink: S,
        inspectors: InspectorSet,
    ) -> Result<Self, EngineError> {
        let mut e = Self::new(config, sink)?;
        e.reload_inspectors(inspectors);
        Ok(e)
    }

    /// Replaces the inspectors (a configuration reload): flows that start from now on
    /// get the new ones; flows already inspected keep the instances they started with
    /// until they end, and an old inspector is dropped when the last flow holding it
    /// ends. An empty set turns inspection off for new flows.
    pub fn reload_inspectors(&mut self, inspectors: InspectorSet) {
        self.inspectors = (!inspectors.is_empty()).then(|| Arc::new(inspectors));
    }

    /// Applies a new configuration and inspector set (a reload, as Snort's `reload` or
    /// SIGHUP in `pcap-replay --interface`), between packets.
    ///
    /// Applied at once: the inspectors (new flows get `inspectors`; flows already
    /// inspected keep theirs until they end, see [`Engine::reload_inspectors`]), flow
    /// timeouts (`[flow-timeouts]`, for every flow from the next sweep on), checksum
    /// validation, the decoder's tunnels and layer limit, `[stream]` TCP options,
    /// mid-stream policy, sweep budgets, reassembly limits and the expected-flow
    /// table's size and timeout (a smaller table drops its oldest entries).
    ///
    /// Kept until a restart, because they size memory reserved at start-up or change
    /// what a flow's key is: `stream.max-flows`, `memcap`, pruning, `[allowlist_cache]`,
    /// `[flow]` (the hash seed), `[vlan] use-for-tracking`,
    /// `decoder.recursion-level.use-for-tracking`, `[defrag]` and `[eve]` (the output is
    /// not the engine's). Their section names come back in
    /// [`Reloaded::needs_restart`]; the running values stay in force for them.
    ///
    /// An invalid configuration is refused as a whole and nothing changes.
    pub fn reload(
        &mut self,
        config: &Config,
        inspectors: InspectorSet,
    ) -> Result<Reloaded, EngineError> {
        let plan = ReloadPlan::new(&self.config, config)?;
        self.timeouts = config.cache_config(false).timeouts;
        self.cache.set_timeouts(self.timeouts);
        self.tcp_opts = config.tcp_options();
        self.bypass_midstream = config.stream.midstream_policy == "bypass";
        self.max_layers = config.decoder.max_layers;
        self.tunnels = plan.tunnels;
        self.checksums.set_mode(plan.checksum);
        self.sweep_per_packet = config.stream.timeout_flows_per_packet;
        self.sweep_when_idle = config.stream.timeout_flows_when_idle;
        self.reasm = config.reassembly_config();
        self.expect
            .set_config(config.app_layer.expectations.expect_config());
        self.reload_inspectors(inspectors);
        *self.config = plan.kept;
        self.reloads += 1;
        Ok(plan.done)
    }

    /// The configuration in force: the one the engine was built with, as changed by
    /// the reloads applied since.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Processes one frame.
    #[inline]
    pub fn push(&mut self, pkt: &Packet<'_>) {
        if pkt.ts > self.clock {
            self.clock = pkt.ts;
        }
        self.expire_fragments(pkt.ts);
        let outcome = self.decode.decode(pkt.link, pkt.data);
        if !self.tracking {
            return;
        }
        let frame = self.decode.packets;
        match outcome {
            Ok(Decoded::Ip(p)) => {
                let k = self.keyed(&p, pkt.data);
                self.track_layers(pkt, frame, &k, Some(p));
            }
            Ok(Decoded::Fragment(f)) => {
                self.sweep_at(pkt.ts, self.sweep_per_packet);
                self.fragment(&f, Count::frame(pkt.data.len()), pkt.ts, frame)
            }
            _ => self.sweep_at(pkt.ts, self.sweep_per_packet),
        }
    }

    /// Processes frames in capture order, exactly as pushing them one by one would,
    /// but faster: each group of up to 32 frames is decoded and hashed first, and
    /// the memory its lookups will touch is prefetched before any is processed.
    pub fn push_batch(&mut self, pkts: &[Packet<'_>]) {
        for chunk in pkts.chunks(BATCH) {
            self.push_chunk(chunk, None);
        }
    }

    /// As [`push_batch`](Self::push_batch), for frames taken out of a longer capture:
    /// `ordinals[i]` is frame `i`'s number in the whole capture (from 1, increasing).
    /// Flow ids come from these numbers, so an engine that sees only some of a
    /// capture's frames (one worker of several) gives its flows the ids one engine
    /// seeing every frame would. Extra ordinals are ignored; missing ones count on
    /// from the last.
    pub fn push_batch_numbered(&mut self, pkts: &[Packet<'_>], ordinals: &[u64]) {
        for (i, chunk) in pkts.chunks(BATCH).enumerate() {
            let o = ordinals.get(i * BATCH..).unwrap_or(&[]);
            self.push_chunk(chunk, Some(&o[..o.len().min(chunk.len())]));
        }
    }

    #[inline(always)]
    fn keyed(&mut self, p: &DecodedPacket<'_>, frame: &[u8]) -> Keyed {
        let (key, reversed) = FlowKey::from_packet(p, self.key_opts, 0);
        Keyed {
            hash: self.cache.hash_key(&key),
            key,
            reversed,
            valid: self.checksums.check(p),
            tunnel: self.tunnels.may_carry(p),
            transport: p.transport,
            payload_off: (p.payload.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize) as u32,
            payload_len: p.payload.len() as u32,
            vlans: p.vlans,
        }
    }

    fn push_chunk(&mut self, pkts: &[Packet<'_>], ordinals: Option<&[u64]>) {
        if !self.tracking {
            for pkt in pkts {
                if pkt.ts > self.clock {
                    self.clock = pkt.ts;
                }
                let _ = self.decode.decode(pkt.link, pkt.data);
            }
            return;
        }
        // Stage 1: decode, key, hash; prefetch the index lines.
        let mut ready: [Option<Keyed>; BATCH] = [None; BATCH];
        let mut fragments = 0u32;
        let first_frame = self.decode.packets + 1;
        for (i, (slot, pkt)) in ready.iter_mut().zip(pkts).enumerate() {
            // The common frame is keyed straight from the decoder's registers.
            if let Some(p) = self.decode.decode_common(pkt.link, pkt.data) {
                let k = self.keyed(&p, pkt.data);
                self.cache.prefetch_index(k.hash);
                *slot = Some(k);
                continue;
            }
            let outcome = self.decode.decode(pkt.link, pkt.data);
            // Matched in place: moving the decoded packet out would copy it.
            match &outcome {
                Ok(Decoded::Ip(p)) => {
                    let k = self.keyed(p, pkt.data);
                    self.cache.prefetch_index(k.hash);
                    *slot = Some(k);
                }
                Ok(Decoded::Fragment(_)) => fragments |= 1 << i,
                _ => {}
            }
        }
        // Stage 2: prefetch the flows the lookups will land on.
        for k in ready.iter().flatten() {
            self.cache.prefetch_flow(k.hash);
        }
        // Stage 3: track, in order.
        let mut last = first_frame - 1;
        for (i, (k, pkt)) in ready.iter().zip(pkts).enumerate() {
            let frame = match ordinals.and_then(|o| o.get(i)) {
                Some(&o) => o,
                None if ordinals.is_some() => last + 1,
                None => first_frame + i as u64,
            };
            last = frame;
            if pkt.ts > self.clock {
                self.clock = pkt.ts;
            }
            self.expire_fragments(pkt.ts);
            if let Some(k) = k {
                self.track_layers(pkt, frame, k, None);
                continue;
            }
            // A frame with no flow of its own still moves time on (as every frame
            // does: the sweep then does not depend on which frames are tracked).
            self.sweep_at(pkt.ts, self.sweep_per_packet);
            if fragments & (1 << i) != 0 {
                // Fragments are rare: decode again rather than keep them in the batch.
                if let Ok(Decoded::Fragment(f)) = decode(pkt.link, pkt.data) {
                    self.fragment(&f, Count::frame(pkt.data.len()), pkt.ts, frame);
                }
            }
        }
    }

    /// Ends up to `budget` flows expired at `now`, when a sweep is due.
    #[inline]
    fn sweep_at(&mut self, now: Timestamp, budget: u32) {
        if self.cache.sweep_is_due(now, budget) {
            self.cache.sweep(now, budget, &mut on_end!(self));
        }
    }

    /// Does what one engine does at `frames` frames this engine did not see (another
    /// worker's, in capture order since this engine's last frame), the latest of them
    /// at packet time `latest`: the clock moves on, fragments waiting too long are
    /// given up, and a sweep at `latest` ends up to `frames` times
    /// `stream.timeout_flows_per_packet` expired flows. Expiry only grows with time,
    /// so one sweep at the latest of their times stands for one at each.
    pub(crate) fn catch_up(&mut self, latest: Timestamp, frames: u64) {
        if frames == 0 || latest == Timestamp::ZERO {
            return;
        }
        if latest > self.clock {
            self.clock = latest;
        }
        self.expire_fragments(latest);
        if self.tracking {
            let frames = u32::try_from(frames).unwrap_or(u32::MAX);
            self.sweep_at(latest, frames.saturating_mul(self.sweep_per_packet));
        }
    }

    /// Gives up the datagrams whose fragments waited longer than the timeout (one
    /// branch while none is held).
    #[inline(always)]
    fn expire_fragments(&mut self, now: Timestamp) {
        if self.fragments_held {
            self.expire_fragments_slow(now);
        }
    }

    #[inline(never)]
    fn expire_fragments_slow(&mut self, now: Timestamp) {
        if let Some(mut d) = self.defrag.take() {
            d.expire(now, &mut |inc| self.track_incomplete(&inc));
            self.fragments_held = d.held_datagrams() > 0;
            self.defrag = Some(d);
        }
    }

    /// Hands a fragment to the defragmenter and tracks what comes out: the datagram it
    /// completes (one packet per original fragment, their frames' bytes), datagrams
    /// given up on the way, or the fragment on its own when it cannot be held.
    fn fragment(&mut self, f: &Fragment<'_>, count: Count, now: Timestamp, frame: u64) {
        let Some(mut d) = self.defrag.take() else {
            // Reassembly off, or a fragment inside a reassembled datagram.
            self.track_loose(f, count, now, frame);
            return;
        };
        let offered = defrag::Fragment {
            version: f.version,
            src: f.src,
            dst: f.dst,
            id: f.id,
            proto: f.proto,
            offset: f.offset,
            more: f.more,
            header: f.header,
            data: f.data,
            context: f.layers.pack(),
            frame_len: count.bytes as u32,
            frame: frame << 7 | u64::from(f.layers.depth.min(127)),
            ttl: f.ttl,
        };
        match d.insert(&offered, now, &mut |inc| self.track_incomplete(&inc)) {
            Insert::Complete(r) => {
                let layers = Layers::unpack(r.context);
                let outcome = decode_ip(r.version, r.packet, layers);
                self.decode.count_reassembled(&outcome);
                let count = Count {
                    pkts: r.fragments,
                    bytes: r.frame_bytes,
                };
                let ordinal = frame << 7 | u64::from(f.layers.depth.min(127));
                match outcome {
                    Ok(Decoded::Ip(p)) => self.track_datagram(&p, count, now, ordinal, true),
                    // A datagram whose reassembled headers do not decode: its fragments
                    // still count, on a flow without ports.
                    _ => {
                        let p = portless(layers, f.version, f.src, f.dst, f.proto);
                        self.track_datagram(&p, count, now, ordinal, false);
                    }
                }
            }
            Insert::Rejected(_) => self.track_loose(f, count, now, frame),
            Insert::Held | Insert::Abandoned => {}
        }
        self.fragments_held = d.held_datagrams() > 0;
        self.defrag = Some(d);
    }

    /// Tracks a datagram the defragmenter gave up. With its first fragment it goes to
    /// its flow (with ports when its transport header decodes, else on a flow without
    /// ports). Without it, nothing names its flow: its fragments are counted as
    /// orphaned and go to no flow, as in Suricata (whose defragmenter drops them on
    /// timeout) and nDPI (whose reader skips non-first fragments). A flow of its own
    /// would be a flow no other tool reports, keyed by addresses alone; in damaged
    /// captures those addresses are often damaged too.
    fn track_incomplete(&mut self, inc: &Incomplete<'_>) {
        let layers = Layers::unpack(inc.context);
        let count = Count {
            pkts: inc.fragments,
            bytes: inc.frame_bytes,
        };
        let Some(first) = inc.first else {
            self.orphaned_pkts += u64::from(inc.fragments);
            self.orphaned_bytes += inc.frame_bytes;
            return;
        };
        let head = match decode_ip(inc.version, first, layers) {
            Ok(Decoded::Fragment(f)) => match f.head() {
                Some(Ok(Decoded::Ip(p))) => Some(p),
                _ => None,
            },
            _ => None,
        };
        let p = head.unwrap_or_else(|| portless(layers, inc.version, inc.src, inc.dst, inc.proto));
        // Above every frame's ordinal, from the frame that opened the datagram: the
        // same id whichever worker and whenever it is given up.
        let ordinal = LOOSE_ORDINALS | inc.frame;
        self.track_datagram(&p, count, inc.last_seen, ordinal, false);
    }

    /// Tracks one fragment on its own (reassembly off, or refused by the defragmenter).
    fn track_loose(&mut self, f: &Fragment<'_>, count: Count, now: Timestamp, frame: u64) {
        let p = match f.head() {
            Some(Ok(Decoded::Ip(p))) => p,
            Some(_) => portless(f.layers, f.version, f.src, f.dst, f.proto),
            // A later fragment on its own: nothing names its flow.
            None => {
                self.orphaned_pkts += u64::from(count.pkts);
                self.orphaned_bytes += count.bytes;
                return;
            }
        };
        let ordinal = LOOSE_ORDINALS | frame << 7 | u64::from(f.layers.depth.min(127));
        self.track_datagram(&p, count, now, ordinal, false);
    }

    /// Tracks a packet that is not a captured frame of its own (a reassembled datagram,
    /// or fragments counted together), and the tunnels it carries when `tunnels`.
    fn track_datagram(
        &mut self,
        p: &DecodedPacket<'_>,
        count: Count,
        now: Timestamp,
        ordinal: u64,
        tunnels: bool,
    ) {
        let k = self.keyed(p, &[]);
        if tunnels && k.tunnel && self.opens_gre(p) {
            self.tunnel_only += u64::from(count.pkts);
        } else {
            self.track_keyed(&k, p.payload, count, now, ordinal);
        }
        if tunnels && k.tunnel {
            self.open_tunnels(*p, count, 0, now, ordinal >> 7, Inner::All);
        }
    }

    /// True when `p` is a GRE packet the engine opens (within `decoder.max-layers`)
    /// and whose payload decodes (an IP packet, a fragment or a non-IP frame such as
    /// ERSPAN's mirrored ARP): such a packet is a tunnel
    /// and nothing more, and makes no flow of its own, as in Suricata (whose GRE
    /// decoder sets up no flow; suricata-verify's ERSPAN cases count only the inner
    /// flows, and nDPI reports none). A GRE packet that does not decode is still
    /// tracked as a `GRE` flow, so that no packet is lost.
    #[inline(always)]
    fn opens_gre(&self, p: &DecodedPacket<'_>) -> bool {
        p.transport == crate::decode::Transport::Other
            && p.proto == crate::decode::PROTO_GRE
            && p.depth + 1 < self.max_layers
            && self.opens_gre_slow(p)
    }

    /// [`opens_gre`](Self::opens_gre)'s decoding, out of the common path.
    #[cold]
    fn opens_gre_slow(&self, p: &DecodedPacket<'_>) -> bool {
        decode_tunnel_unit(p, &self.tunnels).is_some_and(|t| t.inner.is_ok())
    }

    /// Tracks a frame's outer IP packet and, through tunnels, the packets it carries. `frame` is the frame's ordinal in the run (from 1); `decoded` is the
    /// outer packet when the caller still has it.
    #[inline]
    fn track_layers(
        &mut self,
        pkt: &Packet<'_>,
        frame: u64,
        k: &Keyed,
        decoded: Option<DecodedPacket<'_>>,
    ) {
        // The outermost flow counts the whole captured frame (EVE's and nDPI's unit);
        // a tunnel's inner flows count the unit the tunnel carries, as Suricata does
        // (see `open_tunnels`). Each layer gets its own ordinal (flow ids).
        let count = Count::frame(pkt.data.len());
        let payload = pkt
            .data
            .get(k.payload_off as usize..)
            .and_then(|d| d.get(..k.payload_len as usize))
            .unwrap_or(&[]);
        if !k.tunnel {
            self.track_keyed(k, payload, count, pkt.ts, frame << 7);
            return;
        }
        let p = match decoded {
            Some(p) => p,
            None => match decode(pkt.link, pkt.data) {
                Ok(Decoded::Ip(p)) => p,
                _ => {
                    self.track_keyed(k, payload, count, pkt.ts, frame << 7);
                    return;
                }
            },
        };
        if self.opens_gre(&p) {
            self.tunnel_only += u64::from(count.pkts);
        } else {
            self.track_keyed(k, payload, count, pkt.ts, frame << 7);
        }
        let tail = captured_after(pkt.data, p.payload);
        self.open_tunnels(p, count, tail, pkt.ts, frame, Inner::Owned);
    }

    /// Opens the tunnels `p` carries, down to `decoder.max-layers`: each inner packet
    /// is a flow of its own (or a fragment for the defragmenter), counted as
    /// `count.pkts` packets of the bytes its tunnel carries ([`Tunnelled::unit_len`]:
    /// Suricata's length of a tunnel packet), plus the `tail` bytes captured after
    /// `p`'s IP packet (nDPI counts a tunnelled unit to the end of the captured
    /// frame; only frames with bytes after their IP packet differ). `p` itself was
    /// counted `count`. `layers` says which of them this engine tracks, and whether
    /// it counts them.
    ///
    /// [`Tunnelled::unit_len`]: crate::decode::Tunnelled::unit_len
    #[allow(clippy::too_many_arguments)]
    fn open_tunnels(
        &mut self,
        mut p: DecodedPacket<'_>,
        count: Count,
        mut tail: usize,
        now: Timestamp,
        frame: u64,
        layers: Inner,
    ) {
        while p.depth + 1 < self.max_layers {
            let Some(t) = decode_tunnel_unit(&p, &self.tunnels) else {
                break;
            };
            let (kind, inner) = (t.kind, t.inner);
            let count = Count {
                pkts: count.pkts,
                bytes: (t.unit_len + tail) as u64,
            };
            if layers != Inner::OwnedUncounted {
                self.decode.count_inner(kind, &inner);
            }
            match inner {
                Ok(Decoded::Ip(i)) => {
                    tail += captured_after(p.payload, i.payload);
                    p = i;
                    let mine = layers == Inner::All || self.owns(&p);
                    if mine && self.opens_gre(&p) {
                        self.tunnel_only += u64::from(count.pkts);
                    } else if mine {
                        let k = self.keyed(&p, &[]);
                        let ordinal = frame << 7 | u64::from(p.depth.min(127));
                        self.track_keyed(&k, p.payload, count, now, ordinal);
                    }
                    if !self.tunnels.may_carry(&p) {
                        break;
                    }
                }
                Ok(Decoded::Fragment(f)) => {
                    let mine = layers == Inner::All
                        || self.owner.as_ref().is_none_or(|o| o.owns_fragment(&f));
                    if mine {
                        self.fragment(&f, count, now, frame);
                    }
                    break;
                }
                _ => break,
            }
        }
    }

    /// Creates the flow of a packet whose key has none (making room as the cache does),
    /// and gives it its expected service when one waits for it. Kept out of
    /// [`track_keyed`](Self::track_keyed): most packets find their flow, and the
    /// creation's stack frame (a whole slot is built there) would cost them all.
    #[inline(never)]
    fn new_flow(&mut self, k: &Keyed, now: Timestamp, ordinal: u64) -> Option<FlowId> {
        let mut on_end = on_end!(self);
        let id = self.cache.create(
            k.key,
            k.hash,
            k.reversed,
            k.vlans,
            now,
            ordinal,
            &mut on_end,
        )?;
        // One branch while no flow is expected.
        if !self.expect.is_empty() {
            expected_flow(&mut self.cache, &self.inspectors, &mut self.expect, id, now);
        }
        Some(id)
    }

    /// Finds or creates the flow of one decoded IP packet (with its key and hash) and
    /// accounts `count` to it.
    #[inline]
    fn track_keyed(
        &mut self,
        k: &Keyed,
        payload: &[u8],
        count: Count,
        now: Timestamp,
        ordinal: u64,
    ) {
        let (hash, reversed) = (k.hash, k.reversed);
        // The record writer is only built where a flow may end: building it costs
        // stores on every packet.
        // The sweep runs on this packet's time: a packet older than the newest one seen
        // (merged or unordered captures) does not expire the flows it belongs to.
        if self.cache.sweep_is_due(now, self.sweep_per_packet) {
            self.cache
                .sweep(now, self.sweep_per_packet, &mut on_end!(self));
        }

        let found = match self.cache.find(&k.key, hash) {
            Some(id) if self.cache.is_expired(id, now) => {
                self.cache.end(id, EndReason::Timeout, &mut on_end!(self));
                None
            }
            Some(id) => match k.transport {
                Transport::Tcp(t) => {
                    let f = self.cache.flow(id);
                    if f.ext
                        .tcp
                        .is_reuse(f.direction(reversed), &t, &self.tcp_opts)
                    {
                        self.cache.end(id, EndReason::TcpReuse, &mut on_end!(self));
                        None
                    } else {
                        Some(id)
                    }
                }
                _ => Some(id),
            },
            None => None,
        };
        let id = match found {
            Some(id) => id,
            None => match self.new_flow(k, now, ordinal) {
                Some(id) => id,
                None => {
                    self.no_flow += u64::from(count.pkts);
                    return;
                }
            },
        };
        let flow = self.cache.flow_mut(id);
        // Suricata's `FlowGetPacketDirection`: a protocol other than TCP, UDP, SCTP
        // and ICMP has no notion of a reply, and every packet counts to the server
        // (so does a TCP or UDP packet too short for its header, tracked without
        // ports, which Suricata does not track at all).
        let dir = if matches!(k.transport, Transport::Other) {
            crate::flow::Direction::ToServer
        } else {
            flow.direction(reversed)
        };
        flow.count_n(dir, count.pkts, count.bytes, now);
        let mut tcp_active = false;
        match k.transport {
            // A segment with a bad checksum is counted but does not move TCP state
            // (as Suricata's stream engine ignores it).
            Transport::Tcp(_) if !k.valid => {}
            Transport::Tcp(t) => {
                let up = flow.ext.tcp.track(dir, &t, k.payload_len, &self.tcp_opts);
                up.apply(flow);
                tcp_active = flow.ext.tcp.is_active();
                if up.midstream_refused && self.bypass_midstream {
                    self.cache.set_verdict(id, Verdict::Allow);
                }
            }
            Transport::Icmp {
                icmp_type,
                icmp_code,
            } => {
                flow.note_icmp(dir, icmp_type, icmp_code);
                establish_if_bidirectional(flow);
            }
            _ => establish_if_bidirectional(flow),
        }
        if let Some(set) = &self.inspectors {
            if k.valid {
                match k.transport {
                    // Only a tracked session's payload is inspected (Suricata: no
                    // stream, no app layer). Acknowledgements matter too: they give
                    // up holes the capture lost.
                    Transport::Tcp(t)
                        if tcp_active
                            && (!payload.is_empty() || self.cache.flow(id).ext.app.is_some()) =>
                    {
                        let mut i = Inspect {
                            cache: &mut self.cache,
                            set,
                            stats: &mut self.inspect,
                            expect: &mut self.expect,
                            reasm: &self.reasm,
                        };
                        i.tcp(&mut self.sink, id, reversed, &t, payload, now);
                    }
                    // An empty datagram matters only to detection (Suricata: it ends
                    // its direction's), so only while the wizard may still look.
                    Transport::Udp { .. }
                        if !payload.is_empty()
                            || self
                                .cache
                                .flow(id)
                                .ext
                                .app
                                .as_ref()
                                .is_none_or(|a| a.detecting()) =>
                    {
                        let mut i = Inspect {
                            cache: &mut self.cache,
                            set,
                            stats: &mut self.inspect,
                            expect: &mut self.expect,
                            reasm: &self.reasm,
                        };
                        i.datagram(&mut self.sink, id, reversed, payload, now);
                    }
                    _ => {}
                }
            }
        }
        self.cache.touch(id, now);
        self.tracked += u64::from(count.pkts);
    }

    /// Lets the engine use idle time at packet time `now` (live capture with no
    /// traffic): the timeout sweep ends up to `stream.timeout_flows_when_idle` flows.
    pub fn idle(&mut self, now: Timestamp) {
        if now > self.clock {
            self.clock = now;
        }
        self.expire_fragments(self.clock);
        let mut on_end = on_end!(self);
        self.cache
            .sweep(self.clock, self.sweep_when_idle, &mut on_end);
    }

    /// Moves the clock to packet time `now` when it is later (the time of frames this
    /// engine did not see: another worker's), giving up fragments and sweeping timed-out
    /// flows as a packet at `now` would.
    pub fn advance(&mut self, now: Timestamp) {
        if now > self.clock {
            self.clock = now;
        }
        self.expire_fragments(self.clock);
        if self.cache.sweep_is_due(self.clock, self.sweep_per_packet) {
            let mut on_end = on_end!(self);
            self.cache
                .sweep(self.clock, self.sweep_per_packet, &mut on_end);
        }
    }

    /// Ends every open flow now (reason `shutdown`, or `timeout` for flows already
    /// expired at the last packet time), after counting the datagrams still waiting
    /// for fragments. The engine stays usable.
    pub fn flush(&mut self) {
        if let Some(mut d) = self.defrag.take() {
            d.flush(&mut |inc| self.track_incomplete(&inc));
            self.fragments_held = false;
            self.defrag = Some(d);
        }
        let mut on_end = on_end!(self);
        self.cache.flush(self.clock, &mut on_end);
    }

    /// Flushes every open flow and returns the counters and the sink.
    pub fn finish(mut self) -> (Stats, S) {
        self.flush();
        let stats = self.stats();
        (stats, self.sink)
    }

    /// Sets the verdict of the live flow with `key`; returns false when there is none.
    /// An allow verdict moves the flow to the allowlist LRU when it is enabled.
    pub fn set_verdict(&mut self, key: &FlowKey, verdict: Verdict) -> bool {
        let hash = self.cache.hash_key(key);
        match self.cache.find(key, hash) {
            Some(id) => {
                self.cache.set_verdict(id, verdict);
                true
            }
            None => false,
        }
    }

    /// The live flow with `key`, if any.
    pub fn flow(&self, key: &FlowKey) -> Option<&Flow<FlowExt>> {
        let hash = self.cache.hash_key(key);
        self.cache
            .find(key, hash)
            .map(|id: FlowId| self.cache.flow(id))
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        Stats {
            decode: self.decode.clone(),
            defrag: self
                .defrag
                .as_deref()
                .map(|d| d.stats())
                .unwrap_or_default(),
            checksum: self.checksums.report.clone(),
            cache: self.cache.stats(),
            packets_tracked: self.tracked,
            packets_no_flow: self.no_flow,
            packets_tunnel_only: self.tunnel_only,
            fragments_orphaned: self.orphaned_pkts,
            fragment_bytes_orphaned: self.orphaned_bytes,
            records: self.records,
            slot_bytes: FlowCache::<FlowExt>::slot_bytes() as u64,
            bytes_per_flow: self.cache.bytes_per_flow() as u64,
            max_flows: u64::from(self.cache.config().max_flows),
            slots_touched: self.cache.slots_touched() as u64,
            inspect: self.inspect,
            reloads: self.reloads,
            expectations: self.expect.stats(),
        }
    }

    /// Latest packet time seen.
    pub fn now(&self) -> Timestamp {
        self.clock
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink, mutably.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }
}

/// The engine's parts inspection needs, borrowed for one packet.
struct Inspect<'a> {
    cache: &'a mut FlowCache<FlowExt>,
    set: &'a Arc<InspectorSet>,
    stats: &'a mut InspectStats,
    expect: &'a mut ExpectTable,
    reasm: &'a ReassemblyConfig,
}

impl Inspect<'_> {
    /// The flow's inspection state, started on its first payload.
    fn app(&mut self, id: FlowId, transport: AppTransport) -> Box<AppFlow> {
        let flow = self.cache.flow_mut(id);
        match flow.ext.app.take() {
            Some(app) => app,
            None => Box::new(AppFlow::new(
                self.set,
                flow_info(flow, transport),
                self.stats,
            )),
        }
    }

    /// Puts the state back and applies what the inspectors asked of the flow and of
    /// the engine (expected flows, announced at `now`).
    fn done(
        &mut self,
        id: FlowId,
        mut app: Box<AppFlow>,
        fx: crate::inspect::Effects,
        now: Timestamp,
    ) {
        if app.has_expectations() {
            let expect = &mut *self.expect;
            app.take_expectations(|e| expect.add(e, now));
        }
        let flow = self.cache.flow_mut(id);
        if fx.swap {
            flow.swap_direction();
            flow.ext.tcp.swap_roles();
        }
        flow.ext.app = Some(app);
        if let Some(v) = fx.verdict {
            self.cache.set_verdict(id, v);
        }
    }

    /// A datagram's payload: one chunk.
    #[inline(never)]
    fn datagram<S: Sink>(
        &mut self,
        sink: &mut S,
        id: FlowId,
        reversed: bool,
        payload: &[u8],
        now: Timestamp,
    ) {
        let mut app = self.app(id, AppTransport::Udp);
        let dir = self.cache.flow(id).direction(reversed);
        let mut emit = |ev: &crate::inspect::EventRecord<'_>| sink.event(ev);
        let fx = if !payload.is_empty() {
            app.chunk(dir, Chunk::Data(payload), now, self.stats, &mut emit)
        } else {
            // Only the wizard sees it (when a port binding named the service, nothing).
            app.empty_datagram(dir, now, self.stats, &mut emit)
        };
        self.done(id, app, fx, now);
    }

    /// A TCP segment: its acknowledgement (for the other direction's holes), then its
    /// payload through reassembly.
    #[inline(never)]
    fn tcp<S: Sink>(
        &mut self,
        sink: &mut S,
        id: FlowId,
        reversed: bool,
        t: &crate::decode::TcpInfo,
        payload: &[u8],
        now: Timestamp,
    ) {
        let mut app = self.app(id, AppTransport::Tcp);
        let flow = self.cache.flow(id);
        let dir = flow.direction(reversed);
        let start = flow.ext.tcp.data_start(dir).unwrap_or(t.seq);
        let mut emit = |ev: &crate::inspect::EventRecord<'_>| sink.event(ev);
        let mut fx = crate::inspect::Effects::default();
        if t.flags & crate::decode::tcp_flags::ACK != 0 {
            fx = app.tcp_ack(dir, t.ack, self.reasm, now, self.stats, &mut emit);
        }
        if !payload.is_empty() && !crate::stream::is_ack_padding(t.flags, payload) {
            // A swap by the acknowledgement's data turns this segment around too.
            let dir = if fx.swap { dir.opposite() } else { dir };
            // A SYN's own sequence number is the SYN's: data on it (TCP Fast Open)
            // begins at the next one.
            let seq = t
                .seq
                .wrapping_add(u32::from(t.flags & crate::decode::tcp_flags::SYN != 0));
            let more = app.tcp_segment(
                dir,
                seq,
                payload,
                || start,
                self.reasm,
                now,
                self.stats,
                &mut emit,
            );
            fx.swap ^= more.swap;
            fx.verdict = more.verdict.or(fx.verdict);
        }
        self.done(id, app, fx, now);
    }
}

/// A flow was just created while expectations wait: when it is one, it gets its
/// inspection state now, with the expected service (named at its first payload).
#[inline(never)]
fn expected_flow(
    cache: &mut FlowCache<FlowExt>,
    inspectors: &Option<Arc<InspectorSet>>,
    expect: &mut ExpectTable,
    id: FlowId,
    now: Timestamp,
) {
    let Some(set) = inspectors else {
        return;
    };
    let key = cache.flow(id).key();
    let transport = match key.proto() {
        crate::key::proto::TCP => AppTransport::Tcp,
        crate::key::proto::UDP => AppTransport::Udp,
        _ => return,
    };
    if let Some(service) = expect.take(key.proto(), key.lo(), key.hi(), now) {
        let flow = cache.flow_mut(id);
        let info = flow_info(flow, transport);
        flow.ext.app = Some(Box::new(AppFlow::expected(set, info, service)));
    }
}

/// What inspectors are told about a flow when they start on it.
fn flow_info(flow: &Flow<FlowExt>, transport: AppTransport) -> FlowInfo {
    let key = flow.key();
    let (client, server) = if flow.client_is_lo() {
        (key.lo(), key.hi())
    } else {
        (key.hi(), key.lo())
    };
    FlowInfo {
        flow_id: flow.flow_id(),
        transport,
        client,
        server,
    }
}

#[inline]
fn establish_if_bidirectional<X>(flow: &mut Flow<X>) {
    if flow.state() == FlowState::New && flow.is_bidirectional() {
        flow.set_state(FlowState::Established);
    }
}

/// A packet of `proto` between `src` and `dst` whose transport header was never seen
/// (fragments without their first): tracked without ports.
fn portless<'a>(
    layers: Layers,
    version: IpVersion,
    src: [u8; 16],
    dst: [u8; 16],
    proto: u8,
) -> DecodedPacket<'a> {
    DecodedPacket {
        link: layers.link,
        vlans: layers.vlans,
        mpls_labels: layers.mpls_labels,
        depth: layers.depth,
        version,
        src,
        dst,
        proto,
        first_fragment: false,
        anomalies: 0,
        transport: Transport::Other,
        ip_header: &[],
        segment: &[],
        payload: &[],
    }
}
