//! Defragmentation counters.
//!
//! Contract: every counter only grows. Every fragment offered is counted in
//! `fragments`; each ends up in exactly one of a reassembled datagram, an incomplete
//! datagram handed out (`timeouts + over_cap + flushed + abandoned` count those
//! datagrams) or `rejected`. `overlaps`, `duplicates` and `anomalies` count fragments
//! (or, for `anomalies`, events), not datagrams.

/// Counters of one [`Defragmenter`](super::Defragmenter).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments offered to `insert`.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Datagrams ended because their first fragment was older than the timeout.
    pub timeouts: u64,
    /// Datagrams evicted (oldest first) to stay under `max_frags`, `memcap` or
    /// `max_datagrams`.
    pub over_cap: u64,
    /// Datagrams ended by `flush`.
    pub flushed: u64,
    /// Datagrams abandoned as an anomaly (reassembled size too large).
    pub abandoned: u64,
    /// Fragments that overlapped held data without being a duplicate of it.
    pub overlaps: u64,
    /// Fragments whose every byte was already held with the same value.
    pub duplicates: u64,
    /// Anomalies: overlaps with different data, fragments too large or past the end,
    /// last fragments inconsistent with the rest, datagrams too large.
    pub anomalies: u64,
    /// Fragments refused (not kept, not counted with any datagram).
    pub rejected: u64,
}

impl DefragStats {
    /// Number of counters [`DefragStats::pairs`] lists.
    pub const COUNT: usize = 10;

    /// Adds another defragmenter's counters.
    pub fn merge(&mut self, o: &DefragStats) {
        self.fragments += o.fragments;
        self.reassembled += o.reassembled;
        self.timeouts += o.timeouts;
        self.over_cap += o.over_cap;
        self.flushed += o.flushed;
        self.abandoned += o.abandoned;
        self.overlaps += o.overlaps;
        self.duplicates += o.duplicates;
        self.anomalies += o.anomalies;
        self.rejected += o.rejected;
    }

    /// Every counter with its name, in a fixed order, for summaries.
    pub fn pairs(&self) -> [(&'static str, u64); Self::COUNT] {
        [
            ("fragments", self.fragments),
            ("reassembled", self.reassembled),
            ("timeouts", self.timeouts),
            ("over_cap", self.over_cap),
            ("flushed", self.flushed),
            ("abandoned", self.abandoned),
            ("overlaps", self.overlaps),
            ("duplicates", self.duplicates),
            ("anomalies", self.anomalies),
            ("rejected", self.rejected),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_every_counter() {
        let a = DefragStats {
            fragments: 1,
            reassembled: 2,
            timeouts: 3,
            over_cap: 4,
            flushed: 5,
            abandoned: 6,
            overlaps: 7,
            duplicates: 8,
            anomalies: 9,
            rejected: 10,
        };
        let mut b = a.clone();
        b.merge(&a);
        for ((n1, v1), (n2, v2)) in a.pairs().into_iter().zip(b.pairs()) {
            assert_eq!(n1, n2);
            assert_eq!(v2, 2 * v1);
        }
    }
}
