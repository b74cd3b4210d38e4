//! Bounded TCP reassembly of one direction: segments in, in-order [`Chunk`]s out.
//!
//! Contract: the engine keeps two [`Reassembler`]s per TCP flow (one per direction) and
//! drives each sans-I/O: [`Reassembler::start`] once with the first expected sequence
//! number (the SYN's ISN + 1, or the first sequence number seen when picked up
//! mid-stream), then [`Reassembler::segment`] for every payload-carrying segment of
//! that direction, [`Reassembler::ack`] with every ACK number the *other* direction
//! sends, and [`Reassembler::flush`] when the flow ends (FIN, RST, timeout, shutdown).
//! Every call hands what became contiguous to `out`, in stream order: bytes as
//! [`Chunk::Data`], never empty, and bytes that will never be seen as
//! [`Chunk::Gap`]`(len)`, never 0. The sum of the `Data` and `Gap` lengths handed out
//! is [`Reassembler::offset`], the stream position reached.
//!
//! Rules:
//! - **In order, no copy.** A segment that starts at or before the next expected byte
//!   has its new bytes handed straight through (`Data(&data[new_part..])`), followed
//!   by any held data it made contiguous. Nothing is copied on this path.
//! - **Out of order, held and bounded.** A segment that starts after the next expected
//!   byte is copied and held until the hole before it fills. At most
//!   [`ReassemblyConfig::max_segments`] pieces and [`ReassemblyConfig::max_bytes`]
//!   payload bytes are held per direction. When holding a segment would exceed either,
//!   the oldest hole is declared lost (`Gap`), the held data after it delivered, and the
//!   segment considered again, until it fits or has become in order (so a segment larger
//!   than `max_bytes` is never held: the hole before it is given up and it passes
//!   through). Memory is bounded by the limits: payload held <= `max_bytes`, plus
//!   24 bytes of bookkeeping per held piece (<= `max_segments`). A stream that
//!   only ever goes in order has nothing on the heap (a [`Reassembler`] is 48 bytes);
//!   the first held piece, retransmission, gap or other rare event boxes the held
//!   queue with the rarer counters (about 140 bytes), and at most 96 bytes (4 empty
//!   slots) of queue stay once everything held was delivered; held data is freed
//!   when the depth is reached.
//! - **First data wins.** Bytes already delivered or held are never replaced (Suricata's
//!   default BSD-like policy keeps the original data). A segment that overlaps held data
//!   only adds its new pieces (so one segment may be held as several pieces, each
//!   counting towards `max_segments`). Overlaps with held data are counted
//!   ([`ReassemblyStats::overlap_bytes`]) and compared: overlaps whose bytes differ are
//!   counted in [`ReassemblyStats::overlap_diff`] (Suricata's `overlap_diff_data`, an
//!   evasion signal). Bytes already delivered are not kept, so retransmissions of them
//!   are counted ([`ReassemblyStats::retransmitted_bytes`]) but not compared.
//! - **Sequence numbers wrap.** A sequence number is placed relative to the next
//!   expected one modulo 2^32; inside, positions are 64-bit stream offsets, so nothing
//!   wraps.
//! - **Window.** A segment starting more than `max_bytes` + 1 MiB ahead of the next
//!   expected byte (at most 2^30, TCP's largest window), or more than 2^30 behind it, is
//!   junk: never held nor delivered, counted in [`ReassemblyStats::out_of_window`]. One
//!   entirely before the next expected byte, within that distance, is a retransmission.
//! - **ACKs.** When the peer acknowledges past the next expected byte (by at most
//!   2^30), the bytes up to the acknowledgement were received by the peer and missed
//!   here: each hole before it is reported as a `Gap` and the held data after it
//!   delivered. ACKs at or behind the next expected byte change nothing.
//! - **Depth.** Reassembly stops once the stream position reaches
//!   [`ReassemblyConfig::depth`] (0 = unlimited). As in Suricata's
//!   `stream.reassembly.depth`, the position counts sequence space from the start, gap
//!   bytes included, so at most `depth` bytes of `Data` and `Gap` are ever handed out;
//!   the chunk that crosses it is cut. Held data is dropped then, nothing is held
//!   beyond the depth, and every later segment gets [`Offer::Depth`].
//! - **Flush** reports every remaining hole as a `Gap`, in order, and delivers all held
//!   data (up to the depth). Nothing is reported after the last held byte: the end of
//!   the stream is not known here.
//!
//! Counting: every non-empty segment offered after `start` counts once in
//! [`ReassemblyStats::segments`] and once in exactly one of `in_order`, `out_of_order`,
//! `duplicates`, `out_of_window` and `after_depth`.

use super::Chunk;
use std::cmp::min;
use std::collections::VecDeque;

/// How much further ahead than `max_bytes` a segment may start and still be held.
const AHEAD_SLACK: u64 = 1 << 20;

/// Empty held-queue slots kept (24 bytes each) after a reordering is resolved: a
/// queue's first allocation, so that flows that reorder now and then do not allocate
/// the queue again each time.
const KEEP_SLOTS: usize = 4;

/// The farthest a sequence or acknowledgement number may be from the next expected
/// byte and still count: TCP's largest window (RFC 7323, 2^30).
const MAX_JUMP: u64 = 1 << 30;

/// Limits of one direction's reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Out-of-order pieces held per direction (default 256). Bounds the bookkeeping
    /// and the allocations a stream of tiny segments can cause; with full-size
    /// (1460-byte) segments `max_bytes` binds first, so only streams of segments
    /// averaging under 1 KiB hit it.
    pub max_segments: u32,
    /// Out-of-order payload bytes held per direction (default 256 KiB): a whole
    /// 100 Mbit/s x 20 ms flight of data can wait for a retransmission; a hole the
    /// capture lost is given up once this much data waits behind it.
    pub max_bytes: u32,
    /// Stream bytes (sequence space from the start, gaps included) after which
    /// reassembly stops; 0 = unlimited (default 1 MiB, Suricata's
    /// `stream.reassembly.depth`).
    pub depth: u64,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_segments: 256,
            max_bytes: 256 * 1024,
            depth: 1 << 20,
        }
    }
}

impl ReassemblyConfig {
    /// How far ahead of the next expected byte a segment may start and be held.
    fn ahead_window(&self) -> u64 {
        min(u64::from(self.max_bytes) + AHEAD_SLACK, MAX_JUMP)
    }

    /// The stream offset where reassembly stops (`u64::MAX` when unlimited).
    fn depth_end(&self) -> u64 {
        if self.depth == 0 {
            u64::MAX
        } else {
            self.depth
        }
    }
}

/// What became of one offered segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Offer {
    /// New bytes of it were delivered (in order, or made in order by giving up holes
    /// over the limits), with any held data they made contiguous.
    Delivered,
    /// Held until the bytes before it arrive or are given up.
    Held,
    /// Nothing new: all its bytes were already delivered (a retransmission) or held.
    Duplicate,
    /// Too far from the next expected byte to be real: ignored.
    OutOfWindow,
    /// The depth is reached (or the segment lies beyond it): nothing more will be
    /// delivered in this direction.
    Depth,
    /// No payload: nothing to do.
    Empty,
    /// [`Reassembler::start`] was never called: ignored.
    NotStarted,
}

/// Counters of one direction's reassembly (reset by [`Reassembler::start`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Non-empty segments offered after `start`.
    pub segments: u64,
    /// Segments that started at or before the next expected byte and brought new bytes.
    pub in_order: u64,
    /// Segments that started after the next expected byte and brought new bytes.
    pub out_of_order: u64,
    /// Segments with nothing new (retransmitted, or all already held).
    pub duplicates: u64,
    /// Segments ignored as too far ahead or behind.
    pub out_of_window: u64,
    /// Segments offered after the depth was reached, or lying beyond it.
    pub after_depth: u64,
    /// Bytes of segments that were already delivered (retransmissions).
    pub retransmitted_bytes: u64,
    /// Bytes of segments that overlapped held data (the held bytes were kept).
    pub overlap_bytes: u64,
    /// Segments whose overlap with held data had different bytes (Suricata's
    /// `overlap_diff_data`).
    pub overlap_diff: u64,
    /// `Gap` chunks handed out.
    pub gaps: u64,
    /// Bytes reported lost in gaps.
    pub gap_bytes: u64,
    /// Holes given up because holding a segment would have exceeded a limit.
    pub over_limit: u64,
    /// Whether the depth was reached.
    pub depth_reached: bool,
}

/// Held out-of-order payload at stream offset `off`.
#[derive(Clone, Debug)]
struct Held {
    off: u64,
    data: Box<[u8]>,
}

impl Held {
    fn end(&self) -> u64 {
        self.off + self.data.len() as u64
    }
}

/// What a direction needs only once it strays from plain in-order delivery: held
/// pieces and the counters other than `segments`, `in_order` and `depth_reached`.
#[derive(Clone, Debug, Default)]
struct Rare {
    /// Held pieces: sorted by offset, non-overlapping, non-empty, all after `next_off`
    /// and before the depth.
    held: VecDeque<Held>,
    /// The counters (`segments`, `in_order` and `depth_reached` live in the
    /// reassembler).
    stats: ReassemblyStats,
}

/// No held pieces.
static NOTHING_HELD: VecDeque<Held> = VecDeque::new();

/// One direction's reassembly state. See the module documentation for the rules.
///
/// Memory: 48 bytes on 64-bit targets, and no heap while the stream goes in order;
/// held data and the counters of retransmissions, reordering, gaps and the like are
/// boxed on first use.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0.
    base_seq: u32,
    /// Payload bytes held.
    held_bytes: u32,
    /// Stream offset of the next expected byte: everything before it was handed out.
    next_off: u64,
    /// Non-empty segments offered after `start`.
    segments: u64,
    /// Of them, those in order that brought new bytes.
    in_order: u64,
    /// Whether `start` was called.
    started: bool,
    /// Whether the depth was reached.
    depth_reached: bool,
    rare: Option<Box<Rare>>,
}

impl Reassembler {
    /// Starts (or restarts) the stream at sequence number `next_seq`: the SYN's ISN + 1,
    /// or the first sequence number seen mid-stream. Anything held is dropped without
    /// being delivered (call [`flush`](Self::flush) first to keep it) and the offsets
    /// and counters start from zero.
    pub fn start(&mut self, next_seq: u32) {
        *self = Reassembler {
            base_seq: next_seq,
            started: true,
            ..Reassembler::default()
        };
    }

    /// Whether [`start`](Self::start) was called.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The sequence number of the next expected byte.
    pub fn next_seq(&self) -> u32 {
        // Truncation is the point: sequence numbers are the offset modulo 2^32.
        self.base_seq.wrapping_add(self.next_off as u32)
    }

    /// The stream position reached: bytes delivered plus bytes reported in gaps.
    pub fn offset(&self) -> u64 {
        self.next_off
    }

    /// Bytes delivered as `Data`.
    pub fn delivered(&self) -> u64 {
        self.next_off - self.rare.as_ref().map_or(0, |r| r.stats.gap_bytes)
    }

    /// Out-of-order payload bytes held (<= `max_bytes`).
    pub fn held_bytes(&self) -> u32 {
        self.held_bytes
    }

    /// Out-of-order pieces held (<= `max_segments`).
    pub fn held_segments(&self) -> u32 {
        // At most max_segments (a u32) pieces are ever held.
        self.held().len() as u32
    }

    /// Whether the depth was reached: nothing more will be delivered.
    pub fn depth_reached(&self) -> bool {
        self.depth_reached
    }

    /// The counters.
    pub fn stats(&self) -> ReassemblyStats {
        let mut s = self
            .rare
            .as_ref()
            .map_or_else(Default::default, |r| r.stats);
        s.segments = self.segments;
        s.in_order = self.in_order;
        s.depth_reached = self.depth_reached;
        s
    }

    /// The held pieces.
    #[inline]
    fn held(&self) -> &VecDeque<Held> {
        self.rare.as_ref().map_or(&NOTHING_HELD, |r| &r.held)
    }

    /// The boxed part, made on first use.
    #[inline]
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }

    /// The rarer counters, boxed on first use.
    #[inline]
    fn counters(&mut self) -> &mut ReassemblyStats {
        &mut self.rare().stats
    }

    /// Offers the segment with sequence number `seq` and payload `data`; hands what
    /// became contiguous to `out` and says what became of the segment.
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        cfg: &ReassemblyConfig,
        out: &mut dyn FnMut(Chunk<'_>),
    ) -> Offer {
        if !self.started {
            return Offer::NotStarted;
        }
        if data.is_empty() {
            return Offer::Empty;
        }
        self.segments += 1;
        if self.depth_reached {
            self.counters().after_depth += 1;
            return Offer::Depth;
        }
        let len = data.len() as u64;
        // Where the segment starts relative to the next expected byte, modulo 2^32.
        let delta = i64::from(seq.wrapping_sub(self.next_seq()) as i32);
        if delta < -(MAX_JUMP as i64) || delta > cfg.ahead_window() as i64 {
            self.counters().out_of_window += 1;
            return Offer::OutOfWindow;
        }
        let offer = if delta <= 0 {
            let old = delta.unsigned_abs();
            if old >= len {
                let c = self.counters();
                c.duplicates += 1;
                c.retransmitted_bytes += len;
                return Offer::Duplicate;
            }
            self.in_order += 1;
            if old > 0 {
                self.counters().retransmitted_bytes += old;
            }
            // old < len = data.len(), so the index is in range.
            self.deliver(&data[old as usize..], true, cfg, out);
            Offer::Delivered
        } else {
            let start = self.next_off + delta.unsigned_abs();
            let depth_end = cfg.depth_end();
            if start >= depth_end {
                self.counters().after_depth += 1;
                return Offer::Depth;
            }
            // Nothing is held beyond the depth: it could never be delivered.
            let keep = min(len, depth_end - start) as usize;
            self.hold(start, &data[..keep], cfg, out)
        };
        self.debug_check();
        offer
    }

    /// The peer acknowledged up to sequence number `ack`: the holes before it will
    /// never be filled. Reports them as gaps and delivers the held data after them.
    pub fn ack(&mut self, ack: u32, cfg: &ReassemblyConfig, out: &mut dyn FnMut(Chunk<'_>)) {
        if !self.started || self.depth_reached {
            return;
        }
        let delta = ack.wrapping_sub(self.next_seq()) as i32;
        if delta <= 0 || delta.unsigned_abs() as u64 > MAX_JUMP {
            return;
        }
        let target = self.next_off + delta.unsigned_abs() as u64;
        while self.next_off < target {
            let hole_end = self.held().front().map_or(target, |h| min(h.off, target));
            if !self.gap(hole_end.saturating_sub(self.next_off), cfg, out) || !self.drain(cfg, out)
            {
                break;
            }
        }
        self.debug_check();
    }

    /// The flow ends: reports every remaining hole as a gap and delivers all held data,
    /// in order (up to the depth). Nothing is held afterwards.
    pub fn flush(&mut self, cfg: &ReassemblyConfig, out: &mut dyn FnMut(Chunk<'_>)) {
        if !self.started || self.depth_reached {
            return;
        }
        while let Some(off) = self.held().front().map(|h| h.off) {
            if !self.gap(off.saturating_sub(self.next_off), cfg, out) || !self.drain(cfg, out) {
                break;
            }
        }
        self.debug_check();
    }

    /// Holds the out-of-order segment `data` at stream offset `start` (after
    /// `next_off`, before the depth), giving up holes while it does not fit.
    fn hold(
        &mut self,
        start: u64,
        data: &[u8],
        cfg: &ReassemblyConfig,
        out: &mut dyn FnMut(Chunk<'_>),
    ) -> Offer {
        let (pieces, new_bytes) = self.survey(start, data);
        if new_bytes == 0 {
            self.counters().duplicates += 1;
            return Offer::Duplicate;
        }
        self.counters().out_of_order += 1;
        loop {
            if start <= self.next_off {
                // Giving up holes made it in order. Its overlaps were counted already.
                let skip = (self.next_off - start) as usize;
                self.deliver(data.get(skip..).unwrap_or_default(), false, cfg, out);
                return if self.depth_reached {
                    Offer::Depth
                } else {
                    Offer::Delivered
                };
            }
            // Held pieces inside the segment stay until it is in order, so `pieces`
            // and `new_bytes` do not change while holes before it are given up.
            let fits = self.held().len() as u64 + pieces <= u64::from(cfg.max_segments)
                && u64::from(self.held_bytes) + new_bytes <= u64::from(cfg.max_bytes);
            if fits {
                self.insert(start, data);
                return Offer::Held;
            }
            self.counters().over_limit += 1;
            let hole_end = self.held().front().map_or(start, |h| min(h.off, start));
            if !self.gap(hole_end.saturating_sub(self.next_off), cfg, out) || !self.drain(cfg, out)
            {
                return Offer::Depth;
            }
        }
    }

    /// Counts the new pieces and bytes the segment `data` at `start` would add to the
    /// held data, and counts (in the stats) its overlaps with the held data.
    fn survey(&mut self, start: u64, data: &[u8]) -> (u64, u64) {
        let end = start + data.len() as u64;
        let (mut pieces, mut new_bytes, mut overlap) = (0u64, 0u64, 0u64);
        let mut differ = false;
        let mut pos = start;
        let held = self.held();
        let mut i = held.partition_point(|h| h.end() <= start);
        while pos < end {
            match held.get(i) {
                Some(h) if h.off <= pos => {
                    let to = min(h.end(), end);
                    let mine = &data[(pos - start) as usize..(to - start) as usize];
                    let theirs = &h.data[(pos - h.off) as usize..(to - h.off) as usize];
                    differ |= mine != theirs;
                    overlap += to - pos;
                    pos = to;
                    i += 1;
                }
                next => {
                    let to = next.map_or(end, |h| min(h.off, end));
                    pieces += 1;
                    new_bytes += to - pos;
                    pos = to;
                }
            }
        }
        if overlap > 0 {
            let c = self.counters();
            c.overlap_bytes += overlap;
            c.overlap_diff += u64::from(differ);
        }
        (pieces, new_bytes)
    }

    /// Copies the new pieces of the segment `data` at `start` into the held data.
    fn insert(&mut self, start: u64, data: &[u8]) {
        let end = start + data.len() as u64;
        let mut pos = start;
        let rare = self.rare.get_or_insert_with(Default::default);
        let held = &mut rare.held;
        let mut i = held.partition_point(|h| h.end() <= start);
        while pos < end {
            match held.get(i) {
                Some(h) if h.off <= pos => {
                    pos = min(h.end(), end);
                    i += 1;
                }
                next => {
                    let to = next.map_or(end, |h| min(h.off, end));
                    let piece: Box<[u8]> =
                        data[(pos - start) as usize..(to - start) as usize].into();
                    // Fits: held_bytes + new bytes <= max_bytes, a u32.
                    self.held_bytes += piece.len() as u32;
                    held.insert(
                        i,
                        Held {
                            off: pos,
                            data: piece,
                        },
                    );
                    pos = to;
                    i += 1;
                }
            }
        }
    }

    /// Delivers `new`, which starts at `next_off`, taking held bytes over its own where
    /// they overlap (counting the overlaps when `count`), then the held data it made
    /// contiguous. Returns false once the depth is reached.
    fn deliver(
        &mut self,
        new: &[u8],
        count: bool,
        cfg: &ReassemblyConfig,
        out: &mut dyn FnMut(Chunk<'_>),
    ) -> bool {
        let start = self.next_off;
        let end = start + new.len() as u64;
        let (mut overlap, mut differ) = (0u64, false);
        let mut going = true;
        while going && self.next_off < end {
            let pos = self.next_off;
            match self.held().front() {
                Some(h) if h.off <= pos => {
                    let Some(h) = self.pop() else { break };
                    let theirs = h.data.get((pos - h.off) as usize..).unwrap_or_default();
                    let to = min(pos + theirs.len() as u64, end);
                    let n = (to - pos) as usize;
                    differ |= new[(pos - start) as usize..(to - start) as usize] != theirs[..n];
                    overlap += n as u64;
                    going = self.emit(theirs, cfg, out);
                }
                next => {
                    let to = next.map_or(end, |h| min(h.off, end));
                    going = self.emit(
                        &new[(pos - start) as usize..(to - start) as usize],
                        cfg,
                        out,
                    );
                }
            }
        }
        if count && overlap > 0 {
            let c = self.counters();
            c.overlap_bytes += overlap;
            c.overlap_diff += u64::from(differ);
        }
        going && self.drain(cfg, out)
    }

    /// Delivers the held data that is contiguous with `next_off`. Returns false once
    /// the depth is reached.
    fn drain(&mut self, cfg: &ReassemblyConfig, out: &mut dyn FnMut(Chunk<'_>)) -> bool {
        while self.held().front().is_some_and(|h| h.off <= self.next_off) {
            let Some(h) = self.pop() else { break };
            let skip = (self.next_off - h.off) as usize;
            if !self.emit(h.data.get(skip..).unwrap_or_default(), cfg, out) {
                return false;
            }
        }
        true
    }

    /// Takes the first held piece out; once the queue is empty, frees it unless it is
    /// small (at most [`KEEP_SLOTS`] slots, kept for the next reordering).
    fn pop(&mut self) -> Option<Held> {
        let held = &mut self.rare.as_mut()?.held;
        let h = held.pop_front()?;
        if held.is_empty() && held.capacity() > KEEP_SLOTS {
            *held = VecDeque::new();
        }
        self.held_bytes -= h.data.len() as u32;
        Some(h)
    }

    /// Hands out `bytes` (at `next_off`), cut at the depth. Returns false once the
    /// depth is reached.
    fn emit(
        &mut self,
        bytes: &[u8],
        cfg: &ReassemblyConfig,
        out: &mut dyn FnMut(Chunk<'_>),
    ) -> bool {
        let room = cfg.depth_end().saturating_sub(self.next_off);
        let n = min(bytes.len() as u64, room) as usize;
        if n > 0 {
            out(Chunk::Data(&bytes[..n]));
            self.next_off += n as u64;
        }
        self.check_depth(cfg)
    }

    /// Reports `len` lost bytes (at `next_off`), cut at the depth. Returns false once
    /// the depth is reached.
    fn gap(&mut self, len: u64, cfg: &ReassemblyConfig, out: &mut dyn FnMut(Chunk<'_>)) -> bool {
        let room = cfg.depth_end().saturating_sub(self.next_off);
        let mut left = min(len, room);
        while left > 0 {
            let n = min(left, u64::from(u32::MAX)) as u32;
            out(Chunk::Gap(n));
            let c = self.counters();
            c.gaps += 1;
            c.gap_bytes += u64::from(n);
            self.next_off += u64::from(n);
            left -= u64::from(n);
        }
        self.check_depth(cfg)
    }

    /// Stops reassembly once the depth is reached. Returns false then.
    fn check_depth(&mut self, cfg: &ReassemblyConfig) -> bool {
        if self.next_off < cfg.depth_end() {
            return true;
        }
        self.depth_reached = true;
        if let Some(r) = self.rare.as_mut() {
            r.held = VecDeque::new();
        }
        self.held_bytes = 0;
        false
    }

    /// (Debug builds) the held data keeps its invariants: sorted, non-overlapping,
    /// non-empty pieces after `next_off`, counted in `held_bytes`, none once the depth
    /// is reached. (Limits and depth are checked by the tests: a reload may lower
    /// them.)
    fn debug_check(&self) {
        if cfg!(debug_assertions) {
            let mut prev_end = self.next_off + 1;
            let mut bytes = 0u64;
            for h in self.held() {
                debug_assert!(!h.data.is_empty(), "empty held piece");
                debug_assert!(h.off >= prev_end, "held pieces out of order or overlapping");
                prev_end = h.end();
                bytes += h.data.len() as u64;
            }
            debug_assert_eq!(bytes, u64::from(self.held_bytes));
            debug_assert!(!self.depth_reached || self.held().is_empty());
        }
    }
}

#[cfg(test)]
mod tests;
