//! Slab: the preallocated flow slots, addressed by `u32` index, with a free list.
//!
//! Contract: all memory is reserved when the slab is built (`capacity` slots, one
//! allocation); slots are written on first use, so memory that no flow has used yet is
//! never touched (the operating system backs it lazily). Allocating and freeing a slot
//! is O(1) and never allocates. A freed slot is threaded on the free list through its
//! `links.next` and marked with `links.list == FREE`.

use super::lru::NIL;
use crate::flow::Flow;

/// `links.list` of a slot on the free list.
pub(crate) const FREE: u8 = u8::MAX;

pub(crate) struct Slab<X> {
    slots: Vec<Flow<X>>,
    free: u32,
    capacity: u32,
    live: u32,
}

impl<X> Slab<X> {
    /// Reserves `capacity` slots; `None` when the memory cannot be reserved.
    pub(crate) fn with_capacity(capacity: u32) -> Option<Self> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity as usize).ok()?;
        Some(Slab {
            slots,
            free: NIL,
            capacity,
            live: 0,
        })
    }

    /// Stores `flow` in a free slot and returns its index, or `None` when full.
    #[inline]
    pub(crate) fn insert(&mut self, flow: Flow<X>) -> Option<u32> {
        if self.free != NIL {
            let id = self.free;
            self.free = self.slots[id as usize].links.next;
            self.slots[id as usize] = flow;
            self.live += 1;
            Some(id)
        } else if (self.slots.len() as u32) < self.capacity {
            // Within the reserved capacity: no allocation.
            let id = self.slots.len() as u32;
            self.slots.push(flow);
            self.live += 1;
            Some(id)
        } else {
            None
        }
    }

    /// Returns slot `id` to the free list.
    #[inline]
    pub(crate) fn remove(&mut self, id: u32) {
        let l = &mut self.slots[id as usize].links;
        debug_assert_ne!(l.list, FREE, "double free of slot {id}");
        l.list = FREE;
        l.next = self.free;
        self.free = id;
        self.live -= 1;
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.live >= self.capacity
    }

    #[inline]
    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    /// True when `id` holds a live flow.
    #[inline]
    pub(crate) fn is_live(&self, id: u32) -> bool {
        self.slots
            .get(id as usize)
            .is_some_and(|f| f.links.list != FREE)
    }

    #[inline]
    pub(crate) fn slots(&self) -> &[Flow<X>] {
        &self.slots
    }

    #[inline]
    pub(crate) fn slots_mut(&mut self) -> &mut [Flow<X>] {
        &mut self.slots
    }

    /// Slots ever written (high-water mark).
    pub(crate) fn touched(&self) -> u32 {
        self.slots.len() as u32
    }
}
