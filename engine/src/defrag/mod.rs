//! IP fragment reassembly: a bounded, sans-I/O defragmenter for IPv4 and IPv6.
//!
//! The decoder hands each fragment over as a borrowed [`Fragment`]; the
//! [`Defragmenter`] copies what it keeps and answers with an [`Insert`]: held, the
//! datagram just completed ([`Reassembled`], a whole IP packet to decode), or refused
//! ([`Reject`]). Datagrams that will never complete leave through the caller's
//! `evicted` callback as an [`Incomplete`], so the engine can still count their packets.
//!
//! Contract:
//! - **Key.** A datagram is keyed by (IP version, source, destination, fragment id,
//!   protocol, `context`). The protocol is in the key for IPv6 too (RFC 8200 leaves it
//!   out; Suricata keys by it, and so do we: fragments that disagree on it never join).
//! - **Bounds.** Memory is bounded whatever the input: at most `max_datagrams`
//!   datagrams, `max_frags` fragments and `memcap` bytes of fragment data and headers
//!   (counted in whole 128-byte chunks, see [`CHUNK`]) are held at once. Before a
//!   fragment is stored, room for its full size is made by ending the datagrams with the
//!   oldest first fragment (reason [`IncompleteReason::OverCap`]), the fragment's own
//!   datagram last; a fragment bigger than the whole memcap is rejected.
//! - **Time** is the packet time passed in, never the wall clock. A datagram expires
//!   when `now >= first_seen + timeout` (the boundary counts as expired). Datagrams are
//!   kept in first-seen order, so [`Defragmenter::expire`] looks at the oldest only
//!   when nothing is due; `insert` expires what is due before it looks anything up, so a
//!   fragment never joins a datagram past its timeout.
//! - **Overlaps** follow Suricata 7's policies ([`OverlapPolicy`], default BSD),
//!   reassembling to the same bytes. Independently of the policy, a fragment whose
//!   every byte is already held with the same value counts as a duplicate; one that
//!   overlaps held data otherwise counts as an overlap, and as an anomaly when the
//!   overlapping bytes differ.
//! - **Completion.** A datagram completes when its last fragment (MF=0) is stored and
//!   the bytes from 0 to that fragment's end are all covered; bytes held past that end
//!   are dropped (an anomaly). Later fragments reaching past the known end, and a
//!   second last fragment with a different end, are rejected as anomalies. A last
//!   fragment that the policy drops (held data already covers it) does not mark the
//!   end, as in Suricata (a teardrop's short last fragment inside the first one
//!   never completes the datagram).
//! - **Output.** [`Reassembled::packet`] is the whole IP datagram: for IPv4 the first
//!   fragment's header with total length set, MF and offset cleared (DF and the
//!   reserved bit kept) and the checksum recomputed; for IPv6 the first fragment's
//!   header chain without the Fragment header, with the payload length set and the
//!   next-header field that pointed at the Fragment header patched to the fragment's
//!   protocol. A reassembled size over 65535 (IPv4 total length, IPv6 payload length)
//!   abandons the datagram: it goes to `evicted` with [`IncompleteReason::Anomaly`] and
//!   `insert` returns [`Insert::Abandoned`].
//! - **Accounting.** Every fragment offered is in exactly one of: a
//!   [`Reassembled::fragments`], an [`Incomplete::fragments`], or an
//!   [`Insert::Rejected`]. Fragments the policy drops (duplicates, covered data) still
//!   count with their datagram.
//! - **Allocation.** [`Defragmenter::new`] reserves everything: the key index (twice
//!   `max_datagrams` entries, so deletions rehash in place and it never grows), the
//!   datagram and fragment slabs, the data arena (`memcap` bytes, written on first use)
//!   and the output buffer (64 KiB). After that the fragment path does not allocate,
//!   except the output buffer growing once if an IPv6 first fragment carries an
//!   unusually long header chain.
//! - Work per fragment is linear in the fragments held for its datagram (the policy walk
//!   over an offset-ordered list, as Snort's and Suricata's lists), plus a sort of them
//!   when a datagram with its last fragment is checked for completion.
//! - Nothing here panics on any input.

mod policy;
mod stats;
mod store;
#[cfg(test)]
mod tests;

pub use crate::decode::IpVersion;
pub use policy::OverlapPolicy;
pub use stats::DefragStats;
pub use store::CHUNK;

use std::collections::HashMap;

use crate::decode::checksum;
use crate::time::Timestamp;
use store::{Arena, Frag, FragSlab, NIL};

/// Largest IPv4 total length and IPv6 payload length.
pub const MAX_IP_LEN: u32 = 65_535;
/// Minimum IPv4 header, used to bound a fragment's end as Suricata does.
const IPV4_MIN_HEADER: u32 = 20;
/// The IPv6 fixed header.
const IPV6_HEADER: usize = 40;
/// IPv6 extension header: Authentication Header (length in 4-byte units).
const IPV6_AH: u8 = 51;
/// Largest count accepted for `max_frags` and `max_datagrams` (indices stay below NIL).
const MAX_COUNT: u32 = u32::MAX / 2;
/// Longest timeout accepted (Suricata's maximum: 24 hours).
const MAX_TIMEOUT: u32 = 24 * 60 * 60;
/// Output buffer reserved up front: the largest datagram with the largest IPv4 header.
const OUT_RESERVE: usize = 65_535 + 1024;

/// One fragment as the decoder sees it. Borrowed; the defragmenter copies what it keeps.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    /// IP version.
    pub version: IpVersion,
    /// Source address; IPv4 in the first 4 bytes, the rest zero.
    pub src: [u8; 16],
    /// Destination address; IPv4 in the first 4 bytes, the rest zero.
    pub dst: [u8; 16],
    /// IPv4 identification (16 bits) or IPv6 fragment identification.
    pub id: u32,
    /// IPv4 protocol, or the IPv6 next header after the Fragment header.
    pub proto: u8,
    /// Fragment offset in bytes (already multiplied by 8).
    pub offset: u32,
    /// The MF (more fragments) flag.
    pub more: bool,
    /// The IP header to put in front of the reassembled datagram. IPv4: the IPv4
    /// header with options. IPv6: the fixed header plus the unfragmentable extension
    /// headers before the Fragment header (the Fragment header itself excluded; the
    /// next-header field that pointed at it still says 44). Only read from the offset-0
    /// fragment.
    pub header: &'a [u8],
    /// The fragment's payload (after the Fragment header for IPv6).
    pub data: &'a [u8],
    /// Opaque engine tag (VLANs, tunnel depth, ...): part of the datagram key.
    pub context: u64,
    /// Bytes of the captured frame this fragment came in.
    pub frame_len: u32,
    /// The caller's number for the frame this fragment came in: kept from a
    /// datagram's first fragment and handed back as [`Incomplete::frame`].
    pub frame: u64,
    /// Time to live / hop limit. Not used (Suricata can ignore low-TTL fragments; this
    /// defragmenter does not).
    pub ttl: u8,
}

/// Limits and policy of a [`Defragmenter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    /// Fragments held at once (Snort `stream_ip.max_frags`).
    pub max_frags: u32,
    /// Seconds after its first fragment that an incomplete datagram is ended.
    pub timeout_secs: u32,
    /// Bytes of fragment data and headers held at once, counted in whole [`CHUNK`]s.
    pub memcap: usize,
    /// Datagrams tracked at once.
    pub max_datagrams: u32,
    /// How overlapping fragments are resolved.
    pub policy: OverlapPolicy,
}

impl Default for DefragConfig {
    /// 8192 fragments, 60 s, 16 MiB, 4096 datagrams, BSD.
    fn default() -> Self {
        DefragConfig {
            max_frags: 8192,
            timeout_secs: 60,
            memcap: 16 << 20,
            max_datagrams: 4096,
            policy: OverlapPolicy::Bsd,
        }
    }
}

/// Why a defragmenter could not be built, or a policy name not parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefragError {
    /// A limit is out of its range.
    #[error("defrag {name} must be between {min} and {max}, not {got}")]
    BadLimit {
        /// The setting.
        name: &'static str,
        /// The configured value.
        got: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// The memory could not be reserved.
    #[error("cannot reserve memory for the defragmenter ({bytes} bytes)")]
    OutOfMemory {
        /// Bytes asked for.
        bytes: u64,
    },
    /// Not a policy name.
    #[error(
        "unknown overlap policy {got:?} (expected first, last, bsd, bsd-right, linux, windows or solaris)"
    )]
    UnknownPolicy {
        /// The text given.
        got: String,
    },
}

/// What happened to an offered fragment.
#[derive(Debug)]
#[must_use]
pub enum Insert<'s> {
    /// The fragment joined a datagram that is not complete yet. Its bytes may have been
    /// dropped by the overlap policy; it still counts with the datagram.
    Held,
    /// This fragment completed its datagram.
    Complete(Reassembled<'s>),
    /// The fragment completed its datagram, but the datagram was abandoned as an
    /// anomaly (too large); it was handed to `evicted` with this fragment counted.
    Abandoned,
    /// The fragment was not kept and counts with no datagram.
    Rejected(Reject),
}

/// A reassembled datagram, borrowed from the defragmenter until its next call.
#[derive(Debug)]
pub struct Reassembled<'s> {
    /// The whole IP datagram, header fixed up (see the module contract).
    pub packet: &'s [u8],
    /// Original fragments that made it, duplicates and dropped overlaps included (each
    /// captured frame counts once).
    pub fragments: u32,
    /// Sum of their `frame_len`.
    pub frame_bytes: u64,
    /// Time of the datagram's first fragment.
    pub first_seen: Timestamp,
    /// The datagram's `context`.
    pub context: u64,
    /// IP version.
    pub version: IpVersion,
}

/// Why a datagram was handed out incomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncompleteReason {
    /// Its first fragment was older than the timeout.
    Timeout,
    /// Evicted to stay under a bound.
    OverCap,
    /// Ended by [`Defragmenter::flush`].
    Flush,
    /// Abandoned as an anomaly (reassembled size too large).
    Anomaly,
}

impl IncompleteReason {
    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            IncompleteReason::Timeout => "timeout",
            IncompleteReason::OverCap => "over_cap",
            IncompleteReason::Flush => "flush",
            IncompleteReason::Anomaly => "anomaly",
        }
    }
}

/// A datagram that will never complete, handed out so its packets can be counted.
#[derive(Clone, Copy, Debug)]
pub struct Incomplete<'s> {
    /// IP version.
    pub version: IpVersion,
    /// Source address (IPv4 in the first 4 bytes).
    pub src: [u8; 16],
    /// Destination address (IPv4 in the first 4 bytes).
    pub dst: [u8; 16],
    /// Protocol (IPv6: the next header after the Fragment header).
    pub proto: u8,
    /// Fragment identification.
    pub id: u32,
    /// The datagram's `context`.
    pub context: u64,
    /// Fragments that joined it.
    pub fragments: u32,
    /// Sum of their `frame_len`.
    pub frame_bytes: u64,
    /// Time of its first fragment.
    pub first_seen: Timestamp,
    /// Time of its latest fragment.
    pub last_seen: Timestamp,
    /// The [`frame`](Fragment::frame) of the fragment that opened it.
    pub frame: u64,
    /// When the offset-0 fragment is held: that fragment as an IP packet, a header
    /// followed by its data. IPv4: the header as captured (MF still set). IPv6: the
    /// header chain as captured followed by the Fragment header rebuilt (next header
    /// `proto`, offset 0, M set, the id) and the data. `None` otherwise.
    pub first: Option<&'s [u8]>,
    /// Why it ended.
    pub reason: IncompleteReason,
}

/// Why a fragment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reject {
    /// Offset 0 and MF clear: not a fragment.
    NotFragment,
    /// No data.
    Empty,
    /// Offset not a multiple of 8, or a non-last fragment whose length is not.
    Misaligned,
    /// Offset + length past 65535 (IPv4: counting a 20-byte header). An anomaly.
    TooLarge,
    /// The offset-0 fragment's header is not a usable IPv4/IPv6 header.
    BadHeader,
    /// Reaches past the end given by the datagram's last fragment. An anomaly.
    PastEnd,
    /// A second last fragment with a different end. An anomaly.
    InconsistentLast,
    /// Larger than the whole memory cap.
    OverCap,
}

impl Reject {
    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Reject::NotFragment => "not_fragment",
            Reject::Empty => "empty",
            Reject::Misaligned => "misaligned",
            Reject::TooLarge => "too_large",
            Reject::BadHeader => "bad_header",
            Reject::PastEnd => "past_end",
            Reject::InconsistentLast => "inconsistent_last",
            Reject::OverCap => "over_cap",
        }
    }

    /// True for the refusals counted as anomalies.
    pub fn is_anomaly(self) -> bool {
        matches!(
            self,
            Reject::TooLarge | Reject::PastEnd | Reject::InconsistentLast
        )
    }
}

/// The datagram key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: [u8; 16],
    dst: [u8; 16],
    context: u64,
    id: u32,
    proto: u8,
    v6: bool,
}

impl Key {
    fn of(f: &Fragment<'_>) -> Key {
        Key {
            src: f.src,
            dst: f.dst,
            context: f.context,
            id: f.id,
            proto: f.proto,
            v6: f.version == IpVersion::V6,
        }
    }

    fn version(&self) -> IpVersion {
        if self.v6 {
            IpVersion::V6
        } else {
            IpVersion::V4
        }
    }
}

/// One datagram being reassembled.
#[derive(Clone, Copy, Debug)]
struct Datagram {
    key: Key,
    /// The frame number of the fragment that opened it.
    frame: u64,
    first_seen: Timestamp,
    last_seen: Timestamp,
    fragments: u32,
    frame_bytes: u64,
    /// Held fragments, ascending offset.
    head: u32,
    tail: u32,
    /// End of the stored last fragment, when `seen_last`.
    end: u32,
    /// Highest end of any fragment that joined.
    max_end: u32,
    seen_last: bool,
    /// Age list (ascending first_seen); `newer` threads the free list.
    older: u32,
    newer: u32,
}

/// The defragmenter: one per worker, owned, no locks.
pub struct Defragmenter {
    cfg: DefragConfig,
    index: HashMap<Key, u32, foldhash::fast::RandomState>,
    dgrams: Vec<Datagram>,
    free_dgram: u32,
    live_dgrams: u32,
    /// Age list ends: oldest and newest first fragment.
    oldest: u32,
    newest: u32,
    frags: FragSlab,
    arena: Arena,
    /// Reassembled datagrams and `Incomplete::first` are built here.
    out: Vec<u8>,
    /// Scratch intervals for coverage checks.
    spans: Vec<(u32, u32)>,
    stats: DefragStats,
}

fn check_limit(name: &'static str, got: u64, min: u64, max: u64) -> Result<(), DefragError> {
    if got < min || got > max {
        Err(DefragError::BadLimit {
            name,
            got,
            min,
            max,
        })
    } else {
        Ok(())
    }
}

impl Defragmenter {
    /// Builds a defragmenter, reserving all its memory.
    pub fn new(cfg: DefragConfig) -> Result<Self, DefragError> {
        let max = u64::from(MAX_COUNT);
        check_limit("max_frags", u64::from(cfg.max_frags), 1, max)?;
        check_limit("max_datagrams", u64::from(cfg.max_datagrams), 1, max)?;
        check_limit(
            "timeout_secs",
            u64::from(cfg.timeout_secs),
            1,
            u64::from(MAX_TIMEOUT),
        )?;
        check_limit(
            "memcap",
            cfg.memcap as u64,
            CHUNK as u64,
            max * CHUNK as u64,
        )?;
        let chunks = (cfg.memcap / CHUNK) as u32;
        let oom = |bytes: usize| DefragError::OutOfMemory {
            bytes: bytes as u64,
        };
        let arena = Arena::with_chunks(chunks).ok_or(oom(cfg.memcap))?;
        let frags = FragSlab::with_capacity(cfg.max_frags)
            .ok_or(oom(cfg.max_frags as usize * std::mem::size_of::<Frag>()))?;
        let n = cfg.max_datagrams as usize;
        let mut dgrams = Vec::new();
        dgrams
            .try_reserve_exact(n)
            .map_err(|_| oom(n * std::mem::size_of::<Datagram>()))?;
        let mut index = HashMap::with_hasher(foldhash::fast::RandomState::default());
        index
            .try_reserve(n.saturating_mul(2))
            .map_err(|_| oom(n * 2 * std::mem::size_of::<(Key, u32)>()))?;
        let mut out = Vec::new();
        out.try_reserve_exact(OUT_RESERVE)
            .map_err(|_| oom(OUT_RESERVE))?;
        let mut spans = Vec::new();
        spans
            .try_reserve_exact(cfg.max_frags as usize)
            .map_err(|_| oom(cfg.max_frags as usize * 8))?;
        Ok(Defragmenter {
            cfg,
            index,
            dgrams,
            free_dgram: NIL,
            live_dgrams: 0,
            oldest: NIL,
            newest: NIL,
            frags,
            arena,
            out,
            spans,
            stats: DefragStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DefragConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats.clone()
    }

    /// Bytes of the data arena in use (whole [`CHUNK`]s): what `memcap` bounds.
    pub fn held_bytes(&self) -> usize {
        self.arena.used() as usize * CHUNK
    }

    /// Fragments held.
    pub fn held_fragments(&self) -> u32 {
        self.frags.live()
    }

    /// Datagrams being reassembled.
    pub fn held_datagrams(&self) -> u32 {
        self.live_dgrams
    }

    /// Offers one fragment at packet time `now`. Datagrams that end meanwhile (timed
    /// out, evicted to make room, or this fragment's own datagram abandoned as an
    /// anomaly) go to `evicted` before this returns.
    pub fn insert<'s>(
        &'s mut self,
        frag: &Fragment<'_>,
        now: Timestamp,
        evicted: &mut impl FnMut(Incomplete<'_>),
    ) -> Insert<'s> {
        self.stats.fragments += 1;
        if let Err(r) = check(frag) {
            return self.reject(r);
        }
        // `check` bounds offset + len by 65535.
        let len = frag.data.len() as u32;
        let o = frag.offset;
        let e = o + len;

        self.expire(now, evicted);
        let key = Key::of(frag);
        let mut cur = self.index.get(&key).copied().unwrap_or(NIL);
        if cur != NIL {
            let d = &self.dgrams[cur as usize];
            if d.seen_last {
                if frag.more && e > d.end {
                    return self.reject(Reject::PastEnd);
                }
                if !frag.more && e != d.end {
                    return self.reject(Reject::InconsistentLast);
                }
            }
        }

        // Make room for the whole fragment, oldest datagrams first, its own last.
        let hlen = if o == 0 { frag.header.len() } else { 0 };
        let need = Arena::chunks_for(hlen + frag.data.len());
        if need > u64::from(self.arena.total()) {
            return self.reject(Reject::OverCap);
        }
        loop {
            let over = self.frags.live() >= self.cfg.max_frags
                || u64::from(self.arena.free_chunks()) < need
                || (cur == NIL && self.live_dgrams >= self.cfg.max_datagrams);
            if !over {
                break;
            }
            let victim = if cur == NIL || self.oldest != cur {
                self.oldest
            } else {
                self.dgrams[cur as usize].newer
            };
            if victim != NIL {
                self.end(victim, IncompleteReason::OverCap, evicted);
            } else if cur != NIL {
                self.end(cur, IncompleteReason::OverCap, evicted);
                cur = NIL;
            } else {
                // Nothing is held and it still does not fit: cannot happen with valid
                // limits, but never loop.
                return self.reject(Reject::OverCap);
            }
        }
        if cur == NIL {
            cur = self.create(key, now, frag.frame);
        }

        {
            let d = &mut self.dgrams[cur as usize];
            d.fragments = d.fragments.saturating_add(1);
            d.frame_bytes += u64::from(frag.frame_len);
            d.last_seen = d.last_seen.max(now);
        }
        self.classify(cur, frag);

        let head = self.dgrams[cur as usize].head;
        let w = policy::walk(self.cfg.policy, &mut self.frags, head, o, len);
        if w.remove != NIL {
            self.unlink_frag(cur, w.remove);
        }
        if !w.drop {
            let off = o + w.ltrim;
            let data = &frag.data[w.ltrim as usize..];
            let header: &[u8] = if off == 0 { frag.header } else { &[] };
            self.store(cur, off, data, header);
            let d = &mut self.dgrams[cur as usize];
            if !frag.more {
                d.seen_last = true;
                d.end = e;
                if d.max_end > e {
                    // Data held past the end the last fragment gives.
                    self.stats.anomalies += 1;
                }
            }
            d.max_end = d.max_end.max(e);
        }

        if self.dgrams[cur as usize].seen_last && self.is_complete(cur) {
            return self.reassemble(cur, evicted);
        }
        Insert::Held
    }

    /// Ends the datagrams whose first fragment is older than `now - timeout` (the
    /// boundary counts as expired), oldest first; each goes to `evicted`. Looks at the
    /// oldest datagram only when nothing is due.
    pub fn expire(&mut self, now: Timestamp, evicted: &mut impl FnMut(Incomplete<'_>)) {
        while self.oldest != NIL {
            let d = &self.dgrams[self.oldest as usize];
            if now < d.first_seen.add_secs(self.cfg.timeout_secs) {
                break;
            }
            self.end(self.oldest, IncompleteReason::Timeout, evicted);
        }
    }

    /// Ends every held datagram, oldest first (end of input).
    pub fn flush(&mut self, evicted: &mut impl FnMut(Incomplete<'_>)) {
        while self.oldest != NIL {
            self.end(self.oldest, IncompleteReason::Flush, evicted);
        }
    }

    fn reject(&mut self, r: Reject) -> Insert<'static> {
        self.stats.rejected += 1;
        if r.is_anomaly() {
            self.stats.anomalies += 1;
        }
        Insert::Rejected(r)
    }

    /// A new datagram, linked into the age list by first-seen time.
    fn create(&mut self, key: Key, now: Timestamp, frame: u64) -> u32 {
        let mut d = Datagram {
            key,
            frame,
            first_seen: now,
            last_seen: now,
            fragments: 0,
            frame_bytes: 0,
            head: NIL,
            tail: NIL,
            end: 0,
            max_end: 0,
            seen_last: false,
            older: NIL,
            newer: NIL,
        };
        // Packet time can step back: keep the list sorted (usually O(1)).
        let mut after = self.newest;
        while after != NIL && self.dgrams[after as usize].first_seen > now {
            after = self.dgrams[after as usize].older;
        }
        d.older = after;
        d.newer = if after == NIL {
            self.oldest
        } else {
            self.dgrams[after as usize].newer
        };
        let id = if self.free_dgram != NIL {
            let id = self.free_dgram;
            self.free_dgram = self.dgrams[id as usize].newer;
            self.dgrams[id as usize] = d;
            id
        } else {
            // The caller made sure `live_dgrams < max_datagrams`: within capacity.
            let id = self.dgrams.len() as u32;
            self.dgrams.push(d);
            id
        };
        match d.older {
            NIL => self.oldest = id,
            o => self.dgrams[o as usize].newer = id,
        }
        match d.newer {
            NIL => self.newest = id,
            n => self.dgrams[n as usize].older = id,
        }
        self.live_dgrams += 1;
        self.index.insert(key, id);
        id
    }

    /// Stores a fragment's kept bytes and links it after the held fragments whose offset
    /// is lower or equal.
    fn store(&mut self, dg: u32, offset: u32, data: &[u8], header: &[u8]) {
        let chunk = self.arena.store(&[header, data]);
        let d = self.dgrams[dg as usize];
        let mut after = d.tail;
        while after != NIL && self.frags.get(after).offset > offset {
            after = self.frags.get(after).prev;
        }
        let before = if after == NIL {
            d.head
        } else {
            self.frags.get(after).next
        };
        let f = Frag {
            prev: after,
            next: before,
            chunk,
            offset,
            len: data.len() as u32,
            ltrim: 0,
            hlen: header.len() as u32,
        };
        let Some(id) = self.frags.alloc(f) else {
            // The caller made room; never reached. Keep the arena consistent anyway.
            self.arena.release(chunk);
            return;
        };
        let d = &mut self.dgrams[dg as usize];
        match after {
            NIL => d.head = id,
            a => self.frags.get_mut(a).next = id,
        }
        let d = &mut self.dgrams[dg as usize];
        match before {
            NIL => d.tail = id,
            b => self.frags.get_mut(b).prev = id,
        }
    }

    /// Unlinks and frees one held fragment.
    fn unlink_frag(&mut self, dg: u32, id: u32) {
        let f = *self.frags.get(id);
        let d = &mut self.dgrams[dg as usize];
        match f.prev {
            NIL => d.head = f.next,
            p => self.frags.get_mut(p).next = f.next,
        }
        let d = &mut self.dgrams[dg as usize];
        match f.next {
            NIL => d.tail = f.prev,
            n => self.frags.get_mut(n).prev = f.prev,
        }
        self.arena.release(f.chunk);
        self.frags.free(id);
    }

    /// Counts the fragment as a duplicate, an overlap and/or an anomaly against the
    /// bytes its datagram holds.
    fn classify(&mut self, dg: u32, frag: &Fragment<'_>) {
        let o = frag.offset;
        let e = o + frag.data.len() as u32;
        self.spans.clear();
        let mut differ = false;
        let mut c = self.dgrams[dg as usize].head;
        while c != NIL {
            let f = *self.frags.get(c);
            if f.offset >= e {
                break;
            }
            c = f.next;
            let s = f.painted_start().max(o);
            let t = f.end().min(e);
            if s >= t {
                continue;
            }
            self.spans.push((s, t));
            if !differ {
                let skip = (f.hlen + (s - f.offset)) as usize;
                let mine = &frag.data[(s - o) as usize..(t - o) as usize];
                differ = !self.arena.eq_at(f.chunk, skip, mine);
            }
        }
        if self.spans.is_empty() {
            return;
        }
        if differ {
            self.stats.overlaps += 1;
            self.stats.anomalies += 1;
        } else if covers(&mut self.spans, o, e) {
            self.stats.duplicates += 1;
        } else {
            self.stats.overlaps += 1;
        }
    }

    /// The held offset-0 fragment whose header starts the datagram: the last one in
    /// order (reassembly copies it last), among those still contributing bytes when
    /// `painted`.
    fn header_source(&self, dg: u32, painted: bool) -> u32 {
        let mut found = NIL;
        let mut c = self.dgrams[dg as usize].head;
        while c != NIL {
            let f = self.frags.get(c);
            if f.offset != 0 {
                break;
            }
            if f.hlen > 0 && (!painted || f.ltrim < f.len) {
                found = c;
            }
            c = f.next;
        }
        found
    }

    /// True when bytes 0 to the end are all covered.
    fn is_complete(&mut self, dg: u32) -> bool {
        let d = self.dgrams[dg as usize];
        if d.head == NIL || self.frags.get(d.head).offset != 0 {
            return false;
        }
        if self.header_source(dg, true) == NIL {
            return false;
        }
        self.spans.clear();
        let mut c = d.head;
        while c != NIL {
            let f = self.frags.get(c);
            let s = f.painted_start();
            let t = f.end().min(d.end);
            if s < t {
                self.spans.push((s, t));
            }
            c = f.next;
        }
        covers(&mut self.spans, 0, d.end)
    }

    /// Builds the reassembled datagram in `out` and frees the datagram.
    fn reassemble<'s>(
        &'s mut self,
        dg: u32,
        evicted: &mut impl FnMut(Incomplete<'_>),
    ) -> Insert<'s> {
        let d = self.dgrams[dg as usize];
        let src = self.header_source(dg, true);
        let hf = *self.frags.get(src);
        let hlen = hf.hlen as usize;
        let end = d.end as usize;
        let fits = if d.key.v6 {
            hlen - IPV6_HEADER + end <= MAX_IP_LEN as usize
        } else {
            hlen + end <= MAX_IP_LEN as usize
        };
        if !fits {
            self.stats.anomalies += 1;
            self.end(dg, IncompleteReason::Anomaly, evicted);
            return Insert::Abandoned;
        }
        self.out.clear();
        self.arena.append_to(hf.chunk, 0, hlen, &mut self.out);
        self.out.resize(hlen + end, 0);
        let mut c = d.head;
        while c != NIL {
            let f = *self.frags.get(c);
            c = f.next;
            let s = f.painted_start() as usize;
            let t = (f.end() as usize).min(end);
            if s < t {
                let skip = f.hlen as usize + (s - f.offset as usize);
                self.arena
                    .copy_to(f.chunk, skip, &mut self.out[hlen + s..hlen + t]);
            }
        }
        if d.key.v6 {
            let plen = (hlen - IPV6_HEADER + end) as u16;
            self.out[4..6].copy_from_slice(&plen.to_be_bytes());
            // Validated when the header was stored.
            if let Some(at) = ipv6_next_header_field(&self.out[..hlen]) {
                self.out[at] = d.key.proto;
            }
        } else {
            let total = (hlen + end) as u16;
            self.out[2..4].copy_from_slice(&total.to_be_bytes());
            self.out[6] &= 0xc0;
            self.out[7] = 0;
            self.out[10] = 0;
            self.out[11] = 0;
            let sum = checksum::compute(&self.out[..hlen]);
            self.out[10..12].copy_from_slice(&sum);
        }
        self.remove(dg);
        self.stats.reassembled += 1;
        Insert::Complete(Reassembled {
            packet: &self.out,
            fragments: d.fragments,
            frame_bytes: d.frame_bytes,
            first_seen: d.first_seen,
            context: d.key.context,
            version: d.key.version(),
        })
    }

    /// Hands a datagram to `evicted` and frees it.
    fn end(&mut self, dg: u32, reason: IncompleteReason, evicted: &mut impl FnMut(Incomplete<'_>)) {
        match reason {
            IncompleteReason::Timeout => self.stats.timeouts += 1,
            IncompleteReason::OverCap => self.stats.over_cap += 1,
            IncompleteReason::Flush => self.stats.flushed += 1,
            IncompleteReason::Anomaly => self.stats.abandoned += 1,
        }
        let d = self.dgrams[dg as usize];
        let has_first = self.build_first(dg);
        evicted(Incomplete {
            version: d.key.version(),
            src: d.key.src,
            dst: d.key.dst,
            proto: d.key.proto,
            id: d.key.id,
            context: d.key.context,
            fragments: d.fragments,
            frame_bytes: d.frame_bytes,
            first_seen: d.first_seen,
            last_seen: d.last_seen,
            frame: d.frame,
            first: has_first.then_some(&self.out[..]),
            reason,
        });
        self.remove(dg);
    }

    /// Builds the offset-0 fragment as an IP packet in `out`; false when none is held.
    fn build_first(&mut self, dg: u32) -> bool {
        let src = self.header_source(dg, false);
        if src == NIL {
            return false;
        }
        let f = *self.frags.get(src);
        let key = self.dgrams[dg as usize].key;
        self.out.clear();
        self.arena
            .append_to(f.chunk, 0, f.hlen as usize, &mut self.out);
        if key.v6 {
            self.out.extend_from_slice(&[key.proto, 0, 0, 1]);
            self.out.extend_from_slice(&key.id.to_be_bytes());
        }
        self.arena
            .append_to(f.chunk, f.hlen as usize, f.len as usize, &mut self.out);
        true
    }

    /// Frees a datagram's fragments and its slot.
    fn remove(&mut self, dg: u32) {
        let d = self.dgrams[dg as usize];
        let mut c = d.head;
        while c != NIL {
            let f = *self.frags.get(c);
            self.arena.release(f.chunk);
            self.frags.free(c);
            c = f.next;
        }
        match d.older {
            NIL => self.oldest = d.newer,
            o => self.dgrams[o as usize].newer = d.newer,
        }
        match d.newer {
            NIL => self.newest = d.older,
            n => self.dgrams[n as usize].older = d.older,
        }
        self.index.remove(&d.key);
        let slot = &mut self.dgrams[dg as usize];
        slot.head = NIL;
        slot.tail = NIL;
        slot.newer = self.free_dgram;
        self.free_dgram = dg;
        self.live_dgrams -= 1;
    }

    /// Reserved capacities, to check that the fragment path does not allocate. The key
    /// index is left out: its `capacity()` is items plus room before the next rehash,
    /// which tombstones lower and an in-place rehash restores without allocating, so
    /// it moves with the (random) hash seed; the counting-allocator test
    /// (`tests/tests/zero_alloc.rs`) covers the index.
    #[cfg(test)]
    fn capacities(&self) -> [usize; 6] {
        let (a, b) = self.arena.capacity();
        [
            a,
            b,
            self.frags.reserved(),
            self.dgrams.capacity(),
            self.out.capacity(),
            self.spans.capacity(),
        ]
    }
}

/// Validates a fragment on its own.
fn check(f: &Fragment<'_>) -> Result<(), Reject> {
    if f.offset == 0 && !f.more {
        return Err(Reject::NotFragment);
    }
    if f.data.is_empty() {
        return Err(Reject::Empty);
    }
    if f.offset % 8 != 0 || (f.more && f.data.len() % 8 != 0) {
        return Err(Reject::Misaligned);
    }
    let limit = match f.version {
        IpVersion::V4 => MAX_IP_LEN - IPV4_MIN_HEADER,
        IpVersion::V6 => MAX_IP_LEN,
    };
    if u64::from(f.offset) + f.data.len() as u64 > u64::from(limit) {
        return Err(Reject::TooLarge);
    }
    if f.offset == 0 {
        let h = f.header;
        let ok = match f.version {
            IpVersion::V4 => {
                (20..=60).contains(&h.len())
                    && h.len() % 4 == 0
                    && h[0] >> 4 == 4
                    && usize::from(h[0] & 0x0f) * 4 == h.len()
            }
            IpVersion::V6 => {
                h.len() >= IPV6_HEADER && h[0] >> 4 == 6 && ipv6_next_header_field(h).is_some()
            }
        };
        if !ok {
            return Err(Reject::BadHeader);
        }
    }
    Ok(())
}

/// Index of the next-header field that names the header after `h` (the fixed
/// header's, or the last extension header's), walking the extension headers; `None`
/// when they do not end exactly at the end of `h`.
fn ipv6_next_header_field(h: &[u8]) -> Option<usize> {
    if h.len() < IPV6_HEADER {
        return None;
    }
    let mut field = 6;
    let mut pos = IPV6_HEADER;
    while pos < h.len() {
        let kind = h[field];
        let l = *h.get(pos + 1)? as usize;
        let ext = if kind == IPV6_AH {
            (l + 2) * 4
        } else {
            (l + 1) * 8
        };
        field = pos;
        pos += ext;
    }
    (pos == h.len()).then_some(field)
}

/// True when the intervals in `spans` (sorted here) cover `[from, to)`.
fn covers(spans: &mut [(u32, u32)], from: u32, to: u32) -> bool {
    spans.sort_unstable();
    let mut covered = from;
    for &(s, t) in spans.iter() {
        if s > covered {
            break;
        }
        covered = covered.max(t);
    }
    covered >= to
}
