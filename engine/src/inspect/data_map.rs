//! The per-flow map from inspector id to that inspector's FlowData.
//!
//! Contract: a flow keeps one entry per inspector that has state on it; entries are
//! found by inspector id and visited in id order (the order inspectors were added to
//! the engine, so passive inspectors run in a fixed order). Two layouts exist, with the
//! same interface and tests, because the issue asks for both to be measured:
//!
//! - [`SortedMap`]: a vector kept sorted by id, searched by binary search (what Snort 3
//!   moved to). One heap block for the whole map; empty costs no heap at all.
//! - [`BucketMap`]: Snort's original design, a hash of 7 buckets keyed by id, never
//!   rehashed (the load factor grows past 5.0 rather than resize).
//!
//! `engine/benches/flowdata.rs` measures both on 0-3 entries (the common flow: wizard,
//! one service, maybe a passive) and on 12. The engine uses [`FlowDataMap`], an alias
//! for the faster one; see the alias for the figures.

/// The layout the engine uses: [`SortedMap`]. On the benchmark (see
/// `engine/benches/flowdata.rs`) it is faster at every size measured: with 1-3 entries a
/// lookup is a couple of compares in one cache line, insertion into a short vector is
/// cheaper than reaching one of 7 bucket vectors, and an empty map is one pointer-sized
/// word with no heap, where the bucket table costs 7 vector headers per flow.
pub type FlowDataMap<V> = SortedMap<V>;

/// A map from `u32` ids to values, as a boxed slice sorted by id: exactly its entries
/// on the heap, and two words in the flow (a `Vec`'s capacity word would be a third:
/// entries are added and removed a few times per flow, so growing by reallocation is
/// cheaper than carrying it).
#[derive(Debug)]
pub struct SortedMap<V> {
    entries: Box<[(u32, V)]>,
}

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap {
            entries: Box::default(),
        }
    }
}

impl<V> SortedMap<V> {
    /// An empty map (no heap).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn find(&self, id: u32) -> Result<usize, usize> {
        // Short maps are the rule: a linear scan beats binary search below 8.
        if self.entries.len() <= 8 {
            for (i, (k, _)) in self.entries.iter().enumerate() {
                if *k >= id {
                    return if *k == id { Ok(i) } else { Err(i) };
                }
            }
            return Err(self.entries.len());
        }
        self.entries.binary_search_by_key(&id, |(k, _)| *k)
    }

    /// The value for `id`.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&V> {
        self.find(id).ok().map(|i| &self.entries[i].1)
    }

    /// The value for `id`, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: u32) -> Option<&mut V> {
        match self.find(id) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// Sets the value for `id`; returns the value it replaces.
    pub fn insert(&mut self, id: u32, v: V) -> Option<V> {
        match self.find(id) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, v)),
            Err(i) => {
                // Room for exactly the entries (most flows hold one or two, and they
                // are added once per flow): not Vec's first four, nor doubling.
                let mut entries = std::mem::take(&mut self.entries).into_vec();
                entries.reserve_exact(1);
                entries.insert(i, (id, v));
                self.entries = entries.into_boxed_slice();
                None
            }
        }
    }

    /// Removes and returns the value for `id`; the heap goes with the last entry.
    pub fn remove(&mut self, id: u32) -> Option<V> {
        let i = self.find(id).ok()?;
        let mut entries = std::mem::take(&mut self.entries).into_vec();
        let v = entries.remove(i).1;
        // Shrinks to the entries left (none: no heap).
        self.entries = entries.into_boxed_slice();
        Some(v)
    }

    /// Removes `old` and sets `new` to `v`; returns `old`'s value. When `old` is there
    /// and `new` is not (the wizard's entry becoming the service's), the entry is
    /// replaced in place: no heap block freed and another allocated.
    pub fn replace(&mut self, old: u32, new: u32, v: V) -> Option<V> {
        let (Ok(i), Err(_)) = (self.find(old), self.find(new)) else {
            let prev = self.remove(old);
            self.insert(new, v);
            return prev;
        };
        let prev = std::mem::replace(&mut self.entries[i], (new, v)).1;
        // Back in id order.
        let e = &mut self.entries;
        let mut j = i;
        while j > 0 && e[j - 1].0 > new {
            e.swap(j - 1, j);
            j -= 1;
        }
        while j + 1 < e.len() && e[j + 1].0 < new {
            e.swap(j, j + 1);
            j += 1;
        }
        Some(prev)
    }

    /// Entries the heap block has room for (tests of the memory it holds).
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &V)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Entries in id order, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (*k, v))
    }

    /// Removes every entry, in id order, handing each to `f`.
    pub fn drain(&mut self) -> impl Iterator<Item = (u32, V)> + '_ {
        std::mem::take(&mut self.entries).into_vec().into_iter()
    }
}

/// Buckets of [`BucketMap`] (Snort's original FlowData hash).
const BUCKETS: usize = 7;

/// A map from `u32` ids to values: 7 buckets by `id % 7`, each a vector kept sorted by
/// id; never rehashed.
#[derive(Debug)]
pub struct BucketMap<V> {
    buckets: [Vec<(u32, V)>; BUCKETS],
    len: usize,
}

impl<V> Default for BucketMap<V> {
    fn default() -> Self {
        BucketMap {
            buckets: Default::default(),
            len: 0,
        }
    }
}

impl<V> BucketMap<V> {
    /// An empty map (no heap).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn bucket(id: u32) -> usize {
        (id % BUCKETS as u32) as usize
    }

    /// The value for `id`.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&V> {
        self.buckets[Self::bucket(id)]
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, v)| v)
    }

    /// The value for `id`, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: u32) -> Option<&mut V> {
        self.buckets[Self::bucket(id)]
            .iter_mut()
            .find(|(k, _)| *k == id)
            .map(|(_, v)| v)
    }

    /// Sets the value for `id`; returns the value it replaces.
    pub fn insert(&mut self, id: u32, v: V) -> Option<V> {
        let b = &mut self.buckets[Self::bucket(id)];
        match b.binary_search_by_key(&id, |(k, _)| *k) {
            Ok(i) => Some(std::mem::replace(&mut b[i].1, v)),
            Err(i) => {
                b.insert(i, (id, v));
                self.len += 1;
                None
            }
        }
    }

    /// Removes and returns the value for `id`.
    pub fn remove(&mut self, id: u32) -> Option<V> {
        let b = &mut self.buckets[Self::bucket(id)];
        let i = b.iter().position(|(k, _)| *k == id)?;
        self.len -= 1;
        Some(b.remove(i).1)
    }

    /// Removes `old` and sets `new` to `v`; returns `old`'s value.
    pub fn replace(&mut self, old: u32, new: u32, v: V) -> Option<V> {
        let prev = self.remove(old);
        self.insert(new, v);
        prev
    }

    /// Entries in id order (merged across buckets).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &V)> {
        let mut all: Vec<(u32, &V)> = self
            .buckets
            .iter()
            .flat_map(|b| b.iter().map(|(k, v)| (*k, v)))
            .collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all.into_iter()
    }

    /// Calls `f` on every entry, values mutable, in bucket order (the hash's natural
    /// order; Snort's did not promise one either).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(u32, &mut V)) {
        for b in &mut self.buckets {
            for (k, v) in b.iter_mut() {
                f(*k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Both layouts behave as a BTreeMap under any sequence of inserts and removes.
        #[test]
        fn both_layouts_match_a_btreemap(ops in prop::collection::vec((0u8..3, 0u32..40, any::<u16>()), 0..200)) {
            let mut model = std::collections::BTreeMap::new();
            let mut sorted = SortedMap::new();
            let mut buckets = BucketMap::new();
            for (op, id, v) in ops {
                if op == 2 {
                    // replace: `id` by `v % 40`
                    let new = u32::from(v) % 40;
                    let m = model.remove(&id);
                    model.insert(new, v);
                    let capacity = sorted.capacity();
                    prop_assert_eq!(sorted.replace(id, new, v), m);
                    prop_assert_eq!(buckets.replace(id, new, v), m);
                    prop_assert_eq!(sorted.capacity(), model.len());
                    if m.is_some() && capacity == model.len() {
                        // in place: the map still holds exactly its entries
                        prop_assert_eq!(sorted.capacity(), capacity);
                    }
                } else if op == 1 {
                    let m = model.insert(id, v);
                    prop_assert_eq!(sorted.insert(id, v), m);
                    prop_assert_eq!(buckets.insert(id, v), m);
                } else {
                    let m = model.remove(&id);
                    prop_assert_eq!(sorted.remove(id), m);
                    prop_assert_eq!(buckets.remove(id), m);
                }
                prop_assert_eq!(sorted.len(), model.len());
                prop_assert_eq!(buckets.len(), model.len());
                for id in 0..40 {
                    prop_assert_eq!(sorted.get(id), model.get(&id));
                    prop_assert_eq!(buckets.get(id), model.get(&id));
                }
                let want: Vec<(u32, u16)> = model.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(sorted.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(), want.clone());
                prop_assert_eq!(buckets.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(), want);
            }
        }
    }

    #[test]
    fn values_are_mutable_in_place_and_drained_in_order() {
        let mut m = SortedMap::new();
        for id in [9, 2, 5] {
            m.insert(id, id * 10);
        }
        *m.get_mut(5).unwrap() += 1;
        for (_, v) in m.iter_mut() {
            *v += 1;
        }
        assert_eq!(m.drain().collect::<Vec<_>>(), [(2, 21), (5, 52), (9, 91)]);
        assert!(m.is_empty());
        let mut b = BucketMap::new();
        b.insert(14, 1);
        b.insert(7, 2); // same bucket as 14
        *b.get_mut(7).unwrap() = 3;
        let mut seen = Vec::new();
        b.for_each_mut(|k, v| seen.push((k, *v)));
        assert_eq!(seen, [(7, 3), (14, 1)]);
    }

    /// Memory: the map holds room for exactly its entries, and no heap once the last
    /// one is gone (a flow whose wizard gave up holds nothing here).
    #[test]
    fn sorted_map_holds_exactly_its_entries() {
        let mut m = SortedMap::new();
        assert_eq!(m.capacity(), 0);
        for (n, id) in [4, 1, 7].into_iter().enumerate() {
            m.insert(id, ());
            assert_eq!(m.capacity(), n + 1);
        }
        m.remove(4);
        m.remove(1);
        assert_eq!(m.len(), 1);
        m.remove(7);
        assert_eq!(m.capacity(), 0);
        m.insert(3, ());
        assert_eq!(m.capacity(), 1);
    }
}
