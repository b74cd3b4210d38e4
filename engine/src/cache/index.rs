//! The flow index: key hash -> slot, open addressing with linear probing.
//!
//! Contract: a fixed table of `u64` entries (32 bits of hash, 32 bits of slot index
//! plus one), allocated once at twice the slot count rounded up to a power of two, so
//! the load stays at most one half. An all-zero entry is empty, so the table is
//! allocated zeroed and not touched: a page becomes resident only when an entry on it
//! is first written, and an engine sized for many flows costs memory only for the
//! flows it has seen. A small map (a byte a block) says which blocks of [`BLOCK`]
//! entries (a 4 KiB page) were ever written; a probe reads an entry of any other block
//! as empty without touching the page (it checks where it starts and where it crosses
//! into the next block). Reading an untouched page would map the shared zero page, and
//! the first write would then fault again to replace it, which in a process with
//! several worker threads also interrupts every other core to flush its TLB.
//! [`FlowIndex::find`] touches the one cache line where the
//! probe starts (plus the next when a run crosses it) and the slots whose stored hash
//! bits match; [`FlowIndex::remove`] uses backward-shift deletion, so there are no
//! tombstones and the table never needs rehashing or growing: after construction it
//! never allocates. [`FlowIndex::prefetch`] starts loading a probe's line ahead of the
//! lookup, which batched packet processing uses to hide memory latency.
//!
//! Why not `hashbrown` (the design's first pick): its lookups read two lines (control
//! bytes, then buckets) whose addresses the API does not expose for prefetching, and
//! deletions leave tombstones that eventually force a rehash. The benchmark in
//! `benches/cache.rs` and the replay figures in the changelog measure the difference.

/// An empty entry: all bits zero (a stored entry's low half is `slot + 1`, never zero).
const EMPTY: u64 = 0;

/// Entries per block of the written-blocks map: one 4 KiB page.
const BLOCK: usize = 4096 / std::mem::size_of::<u64>();

/// The index. Entries pack the hash's upper 32 bits (which also choose the home
/// position, so it can be recomputed from the entry) over the slot index plus one.
pub(crate) struct FlowIndex {
    table: Box<[u64]>,
    /// `written[b]` is set once an entry of block `b` (entries `b * BLOCK ..`) has
    /// been written; the entries of a block for which it is not are all empty. (A
    /// byte a block: one load to test, and 4 KiB for a 16 MiB table.)
    written: Box<[bool]>,
    mask: usize,
    len: usize,
}

#[inline]
fn pack(hash: u64, slot: u32) -> u64 {
    debug_assert!(slot < u32::MAX, "slot {slot} cannot be indexed");
    (hash & 0xffff_ffff_0000_0000) | u64::from(slot.wrapping_add(1))
}

/// The slot index an entry holds.
#[inline]
fn slot_of(entry: u64) -> u32 {
    (entry as u32).wrapping_sub(1)
}

/// `len` zeroed entries, or `None` when the memory cannot be had. Zeroed memory from
/// the allocator is not written (fresh pages from the kernel already are zero), so it
/// stays out of the resident set until used.
fn zeroed_table(len: usize) -> Option<Box<[u64]>> {
    let layout = std::alloc::Layout::array::<u64>(len).ok()?;
    if layout.size() == 0 {
        return Some(Box::new([]));
    }
    // SAFETY: the layout has a non-zero size (checked above).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<u64>();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `[u64; len]`
    // (size and alignment), it is initialised (all-zero bytes are a valid `u64`) and
    // nothing else owns it; the box frees it with that same layout.
    Some(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) })
}

impl FlowIndex {
    /// An index for up to `slots` entries; `None` when the memory cannot be reserved.
    pub(crate) fn with_slots(slots: u32) -> Option<Self> {
        let size = (slots as usize)
            .max(1)
            .checked_mul(2)?
            .checked_next_power_of_two()?;
        let blocks = size.div_ceil(BLOCK);
        Some(FlowIndex {
            table: zeroed_table(size)?,
            written: vec![false; blocks].into_boxed_slice(),
            mask: size - 1,
            len: 0,
        })
    }

    /// Entry `i`: [`EMPTY`] without reading the table when `check` is set and its
    /// block was never written. A probe checks where it starts and each time it
    /// crosses into the next block; within a block it has checked, it reads.
    #[inline(always)]
    fn at(&self, i: usize, check: bool) -> u64 {
        if check && !self.written[i / BLOCK] {
            return EMPTY;
        }
        self.table[i]
    }

    /// The entry after `i` (cyclically), and whether a probe reaching it must check
    /// its block: it starts a block.
    #[inline(always)]
    fn next(&self, i: usize) -> (usize, bool) {
        let j = (i + 1) & self.mask;
        (j, j % BLOCK == 0)
    }

    /// Writes entry `i`, marking its block written first.
    #[inline(always)]
    fn set(&mut self, i: usize, e: u64) {
        self.written[i / BLOCK] = true;
        self.table[i] = e;
    }

    /// Bytes of table memory.
    pub(crate) fn allocation_size(&self) -> usize {
        self.table.len() * std::mem::size_of::<u64>()
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        ((hash >> 32) as usize) & self.mask
    }

    /// Starts loading the line where a lookup of `hash` begins.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        crate::prefetch::prefetch(self.table.as_ptr().wrapping_add(self.home(hash)));
    }

    /// The first slot whose stored hash bits match `hash`, without checking its key
    /// (for prefetching the flow a lookup will most likely land on).
    #[inline]
    pub(crate) fn peek(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true)
    }

    /// The first slot whose stored hash bits match `hash` and for which `eq` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = hash & 0xffff_ffff_0000_0000;
        let (mut i, mut check) = (self.home(hash), true);
        loop {
            let e = self.at(i, check);
            if e == EMPTY {
                return None;
            }
            if e & 0xffff_ffff_0000_0000 == tag && eq(slot_of(e)) {
                return Some(slot_of(e));
            }
            (i, check) = self.next(i);
        }
    }

    /// Adds `slot` under `hash`. The caller keeps at most half the table full (it is
    /// sized for the slab), so a free entry always exists.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64, slot: u32) {
        debug_assert!(self.len < self.table.len() / 2 + 1);
        let (mut i, mut check) = (self.home(hash), true);
        while self.at(i, check) != EMPTY {
            (i, check) = self.next(i);
        }
        self.set(i, pack(hash, slot));
        self.len += 1;
    }

    /// Removes the entry of `slot` stored under `hash`; false when absent.
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let want = pack(hash, slot);
        let (mut i, mut check) = (self.home(hash), true);
        loop {
            let e = self.at(i, check);
            if e == EMPTY {
                return false;
            }
            if e == want {
                break;
            }
            (i, check) = self.next(i);
        }
        // Backward-shift deletion: pull later entries of the run into the hole when
        // their home lies at or before it (cyclically), so every probe still finds them.
        let mut hole = i;
        let (mut j, mut check) = self.next(i);
        loop {
            let e = self.at(j, check);
            if e == EMPTY {
                break;
            }
            let h = self.home(e);
            let dist_hole = hole.wrapping_sub(h) & self.mask;
            let dist_j = j.wrapping_sub(h) & self.mask;
            if dist_hole < dist_j {
                // The hole's block holds (or held) the removed entry: written.
                self.table[hole] = e;
                hole = j;
            }
            (j, check) = self.next(j);
        }
        self.table[hole] = EMPTY;
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::FlowIndex;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn insert_find_remove() {
        let mut ix = FlowIndex::with_slots(8).unwrap();
        assert_eq!(ix.allocation_size(), 16 * 8);
        // Three entries with the same home, one elsewhere.
        let h = |home: u64, low: u64| (home << 32) | low;
        ix.insert(h(3, 1), 10);
        ix.insert(h(3, 2), 11);
        ix.insert(h(3, 3), 12);
        ix.insert(h(4, 4), 13);
        assert_eq!(ix.len(), 4);
        assert_eq!(ix.find(h(3, 9), |s| s == 12), Some(12));
        assert!(ix.remove(h(3, 1), 10));
        assert!(!ix.remove(h(3, 1), 10));
        // Entries after the hole are still found.
        assert_eq!(ix.find(h(3, 0), |s| s == 11), Some(11));
        assert_eq!(ix.find(h(3, 0), |s| s == 12), Some(12));
        assert_eq!(ix.find(h(4, 0), |s| s == 13), Some(13));
        assert_eq!(ix.find(h(5, 0), |_| true), None);
        assert_eq!(ix.len(), 3);
    }

    #[test]
    fn slot_zero_and_the_largest_slot_are_stored() {
        // Slot 0 with hash bits 0 must not read as an empty entry.
        let mut ix = FlowIndex::with_slots(4).unwrap();
        assert!(ix.table.iter().all(|&e| e == super::EMPTY));
        ix.insert(0, 0);
        assert_eq!(ix.find(0, |s| s == 0), Some(0));
        ix.insert(0, u32::MAX - 1);
        assert_eq!(ix.find(0, |s| s == u32::MAX - 1), Some(u32::MAX - 1));
        assert_eq!(ix.len(), 2);
        assert!(ix.remove(0, 0));
        assert_eq!(ix.find(0, |s| s == 0), None);
        assert_eq!(ix.find(0, |_| true), Some(u32::MAX - 1));
    }

    #[test]
    fn runs_wrap_around_the_end() {
        let mut ix = FlowIndex::with_slots(4).unwrap(); // 8 entries
        let h = |home: u64| home << 32;
        for s in 0..4 {
            ix.insert(h(7), s); // homes at 7, wrapping to 0, 1, 2
        }
        ix.insert(h(0), 9);
        assert!(ix.remove(h(7), 0));
        for s in 1..4 {
            assert_eq!(ix.find(h(7), |x| x == s), Some(s));
        }
        assert_eq!(ix.find(h(0), |x| x == 9), Some(9));
    }

    #[test]
    fn runs_cross_into_blocks_never_written() {
        use super::BLOCK;
        let mut ix = FlowIndex::with_slots(BLOCK as u32 * 2).unwrap(); // 4 blocks
        let written = |ix: &FlowIndex| ix.written.iter().filter(|&&w| w).count();
        // A lookup in a block nothing was written to finds nothing and marks nothing.
        assert_eq!(ix.find(5 << 32, |_| true), None);
        assert!(!ix.remove(5 << 32, 0));
        assert_eq!(written(&ix), 0);
        // A run that starts at the last entry of block 0 goes on into block 1.
        let h = |home: usize, low: u64| ((home as u64) << 32) | low;
        let last = BLOCK - 1;
        for s in 0..3 {
            ix.insert(h(last, u64::from(s)), s);
        }
        assert_eq!(written(&ix), 2);
        for s in 0..3 {
            assert_eq!(ix.find(h(last, 0), |x| x == s), Some(s));
        }
        // Removing the first pulls the others back across the boundary.
        assert!(ix.remove(h(last, 0), 0));
        assert_eq!(ix.find(h(last, 0), |x| x == 0), None);
        for s in 1..3 {
            assert_eq!(ix.find(h(last, 0), |x| x == s), Some(s));
        }
        // A run at the very end wraps into block 0.
        let end = ix.table.len() - 1;
        ix.insert(h(end, 7), 7);
        ix.insert(h(end, 8), 8);
        assert_eq!(ix.find(h(end, 0), |x| x == 8), Some(8));
        assert!(ix.remove(h(end, 7), 7));
        assert_eq!(ix.find(h(end, 0), |x| x == 8), Some(8));
        assert_eq!(ix.len(), 3);
    }

    /// Page faults this thread has taken (Linux: `minflt` of `/proc/thread-self/stat`).
    #[cfg(target_os = "linux")]
    fn minor_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // Fields after the command name (which may hold spaces), from `state` on:
        // minflt is the 10th field of the line, the 8th after the name.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(7).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn lookups_in_blocks_never_written_touch_no_page() {
        // 2^21 entries: 16 MiB, 4,096 pages.
        let mut ix = FlowIndex::with_slots(1 << 20).unwrap();
        let size = ix.table.len() as u64;
        let spread = |k: u64| (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) % size) << 32;
        ix.insert(spread(1), 1);
        let before = minor_faults();
        for k in 2..50_000u64 {
            assert_eq!(ix.find(spread(k), |_| true), None);
            assert!(!ix.remove(spread(k), 0));
        }
        // Reading every page would take about 4,096 faults; none is read.
        let taken = minor_faults() - before;
        assert!(taken < 64, "{taken} page faults");
        assert_eq!(ix.find(spread(1), |s| s == 1), Some(1));
    }

    /// Applies `(insert, slot, hash)` operations to `ix` and to a map (an insert of a
    /// slot the map holds, or a remove of one it does not, is skipped), checking after
    /// each that the index holds as many entries and finds every one.
    fn agrees_with_a_map(
        ix: &mut FlowIndex,
        ops: impl IntoIterator<Item = (bool, u32, u64)>,
    ) -> Result<(), TestCaseError> {
        let mut model: HashMap<u32, u64> = HashMap::new();
        for (insert, slot, hash) in ops {
            if insert {
                if let std::collections::hash_map::Entry::Vacant(e) = model.entry(slot) {
                    e.insert(hash);
                    ix.insert(hash, slot);
                }
            } else if let Some(h) = model.remove(&slot) {
                prop_assert!(ix.remove(h, slot));
            }
            prop_assert_eq!(ix.len(), model.len());
            for (&s, &h) in &model {
                prop_assert_eq!(ix.find(h, |x| x == s), Some(s));
            }
        }
        Ok(())
    }

    proptest! {
        /// The index agrees with a map over a table of four blocks, the homes around
        /// the blocks' edges (and the table's end), so runs cross into blocks written
        /// and not.
        #[test]
        fn behaves_like_a_map_across_blocks(ops in proptest::collection::vec((any::<bool>(), 0u32..64, 0usize..12), 1..400)) {
            use super::BLOCK;
            let mut ix = FlowIndex::with_slots(BLOCK as u32 * 2).unwrap();
            let size = ix.table.len();
            let homes = [BLOCK - 2, BLOCK - 1, BLOCK, 2 * BLOCK - 1, 2 * BLOCK, 3 * BLOCK - 1,
                3 * BLOCK, size - 3, size - 2, size - 1, 0, 1];
            let ops = ops.into_iter().map(|(insert, slot, home)| {
                (insert, slot, ((homes[home] as u64) << 32) | u64::from(slot))
            });
            agrees_with_a_map(&mut ix, ops)?;
        }

        /// The index agrees with a map under any mix of inserts and removes, with
        /// hashes squeezed into few homes so runs collide and wrap.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((any::<bool>(), 0u32..40, 0u64..16), 1..400)) {
            let mut ix = FlowIndex::with_slots(40).unwrap();
            let ops = ops.into_iter().map(|(insert, slot, home)| (insert, slot, (home << 32) | u64::from(slot)));
            agrees_with_a_map(&mut ix, ops)?;
        }
    }
}
