//! Intrusive doubly linked lists threaded through the slab by `u32` index.
//!
//! Contract: a [`List`] owns no memory; its links live in each flow's [`Links`]. Every
//! operation is O(1) and allocation-free. A list runs from its least recently used end
//! (`head`) to its most recently used end (`tail`). Each list carries a resumable
//! `cursor` for walkers (the timeout sweep): unlinking the flow under the cursor moves
//! the cursor to the next newer flow, so a walk survives removals. Two link sets exist
//! per flow: [`Main`] (protocol and allowlist LRUs) and [`Uni`] (the uni lists).

use crate::flow::{Flow, Links};

/// The null index.
pub(crate) const NIL: u32 = u32::MAX;

/// Selects one of a flow's two link pairs.
pub(crate) trait LinkSet {
    fn prev(l: &Links) -> u32;
    fn next(l: &Links) -> u32;
    fn set_prev(l: &mut Links, v: u32);
    fn set_next(l: &mut Links, v: u32);
}

/// The protocol/allowlist LRU links.
pub(crate) struct Main;
/// The uni-list links.
pub(crate) struct Uni;

impl LinkSet for Main {
    #[inline]
    fn prev(l: &Links) -> u32 {
        l.prev
    }
    #[inline]
    fn next(l: &Links) -> u32 {
        l.next
    }
    #[inline]
    fn set_prev(l: &mut Links, v: u32) {
        l.prev = v;
    }
    #[inline]
    fn set_next(l: &mut Links, v: u32) {
        l.next = v;
    }
}

impl LinkSet for Uni {
    #[inline]
    fn prev(l: &Links) -> u32 {
        l.uni_prev
    }
    #[inline]
    fn next(l: &Links) -> u32 {
        l.uni_next
    }
    #[inline]
    fn set_prev(l: &mut Links, v: u32) {
        l.uni_prev = v;
    }
    #[inline]
    fn set_next(l: &mut Links, v: u32) {
        l.uni_next = v;
    }
}

/// One intrusive list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct List {
    /// Least recently used end.
    pub(crate) head: u32,
    /// Most recently used end.
    pub(crate) tail: u32,
    pub(crate) len: u32,
    /// Resumable walk position (NIL: start from `head`).
    pub(crate) cursor: u32,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
            len: 0,
            cursor: NIL,
        }
    }
}

impl List {
    /// Appends `id` at the most recently used end.
    #[inline]
    pub(crate) fn push_mru<S: LinkSet, X>(&mut self, id: u32, slots: &mut [Flow<X>]) {
        let old_tail = self.tail;
        {
            let l = &mut slots[id as usize].links;
            S::set_prev(l, old_tail);
            S::set_next(l, NIL);
        }
        if old_tail == NIL {
            self.head = id;
        } else {
            S::set_next(&mut slots[old_tail as usize].links, id);
        }
        self.tail = id;
        self.len += 1;
    }

    /// Removes `id` (which must be on this list).
    #[inline]
    pub(crate) fn unlink<S: LinkSet, X>(&mut self, id: u32, slots: &mut [Flow<X>]) {
        let (prev, next) = {
            let l = &slots[id as usize].links;
            (S::prev(l), S::next(l))
        };
        if self.cursor == id {
            self.cursor = next;
        }
        if prev == NIL {
            self.head = next;
        } else {
            S::set_next(&mut slots[prev as usize].links, next);
        }
        if next == NIL {
            self.tail = prev;
        } else {
            S::set_prev(&mut slots[next as usize].links, prev);
        }
        let l = &mut slots[id as usize].links;
        S::set_prev(l, NIL);
        S::set_next(l, NIL);
        self.len -= 1;
    }

    /// Moves `id` (on this list) to the most recently used end.
    #[inline]
    pub(crate) fn touch<S: LinkSet, X>(&mut self, id: u32, slots: &mut [Flow<X>]) {
        if self.tail == id {
            return;
        }
        self.unlink::<S, X>(id, slots);
        self.push_mru::<S, X>(id, slots);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::IpVersion;
    use crate::key::FlowKey;
    use crate::time::Timestamp;

    fn slots(n: usize) -> Vec<Flow<()>> {
        let (k, _) = FlowKey::new(IpVersion::V4, 6, [0; 16], 1, [0; 16], 2, [0; 3], 0, 0);
        (0..n)
            .map(|_| Flow::new(k, 0, false, Timestamp::ZERO, Default::default()))
            .collect()
    }

    fn walk(list: &List, s: &[Flow<()>]) -> Vec<u32> {
        let mut out = vec![];
        let mut cur = list.head;
        while cur != NIL {
            out.push(cur);
            cur = s[cur as usize].links.next;
        }
        out
    }

    #[test]
    fn push_touch_unlink_keep_order_and_cursor() {
        let mut s = slots(4);
        let mut l = List::default();
        for i in 0..4 {
            l.push_mru::<Main, ()>(i, &mut s);
        }
        assert_eq!(walk(&l, &s), vec![0, 1, 2, 3]);
        l.touch::<Main, ()>(1, &mut s);
        assert_eq!(walk(&l, &s), vec![0, 2, 3, 1]);
        l.cursor = 2;
        l.unlink::<Main, ()>(2, &mut s);
        assert_eq!(l.cursor, 3, "cursor moves to the next newer flow");
        assert_eq!(walk(&l, &s), vec![0, 3, 1]);
        l.unlink::<Main, ()>(0, &mut s);
        l.unlink::<Main, ()>(1, &mut s);
        assert_eq!((l.head, l.tail, l.len), (3, 3, 1));
        l.unlink::<Main, ()>(3, &mut s);
        assert_eq!((l.head, l.tail, l.len), (NIL, NIL, 0));
    }

    #[test]
    fn the_two_link_sets_are_independent() {
        let mut s = slots(3);
        let mut a = List::default();
        let mut b = List::default();
        for i in 0..3 {
            a.push_mru::<Main, ()>(i, &mut s);
            b.push_mru::<Uni, ()>(2 - i, &mut s);
        }
        a.unlink::<Main, ()>(1, &mut s);
        assert_eq!(walk(&a, &s), vec![0, 2]);
        assert_eq!((b.head, b.tail, b.len), (2, 0, 3));
        assert_eq!(s[2].links.uni_next, 1);
    }
}
