//! Storage for held fragments: a chunked byte arena and a slab of fragment records.
//!
//! Contract:
//! - [`Arena`] keeps fragment bytes in fixed chunks of [`CHUNK`] bytes threaded into
//!   chains by `u32` index. Its memory (`total` chunks plus one link each) is reserved
//!   once when it is built and written on first use, so memory no fragment has needed
//!   yet is never touched; storing and releasing chains never allocates. A chain ends
//!   with [`NIL`]; a zero-byte chain is [`NIL`] itself. Callers check
//!   [`Arena::free_chunks`] before storing.
//! - [`FragSlab`] holds fragment records in preallocated slots with a free list; the
//!   records of one datagram form a doubly linked list in ascending offset order (ties
//!   in arrival order), threaded through `prev`/`next`.
//! - Nothing here panics on any index it produced itself; reads past the end of a chain
//!   stop early.

/// The null index.
pub(super) const NIL: u32 = u32::MAX;

/// Bytes per arena chunk. The memory cap is counted in whole chunks: a 1480-byte
/// fragment takes 12 chunks (1536 bytes), an 8-byte fragment one.
pub const CHUNK: usize = 128;

/// Chunked byte storage.
pub(super) struct Arena {
    bytes: Vec<u8>,
    links: Vec<u32>,
    free: u32,
    total: u32,
    used: u32,
}

impl Arena {
    /// An arena of `total` chunks; `None` when the memory cannot be reserved.
    pub(super) fn with_chunks(total: u32) -> Option<Self> {
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact((total as usize).checked_mul(CHUNK)?)
            .ok()?;
        let mut links = Vec::new();
        links.try_reserve_exact(total as usize).ok()?;
        Some(Arena {
            bytes,
            links,
            free: NIL,
            total,
            used: 0,
        })
    }

    /// Chunks needed for `bytes` bytes.
    pub(super) fn chunks_for(bytes: usize) -> u64 {
        bytes.div_ceil(CHUNK) as u64
    }

    pub(super) fn total(&self) -> u32 {
        self.total
    }

    pub(super) fn used(&self) -> u32 {
        self.used
    }

    pub(super) fn free_chunks(&self) -> u32 {
        self.total - self.used
    }

    /// Reserved bytes (for the no-allocation checks in tests).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> (usize, usize) {
        (self.bytes.capacity(), self.links.capacity())
    }

    fn alloc_one(&mut self) -> u32 {
        self.used += 1;
        if self.free != NIL {
            let c = self.free;
            self.free = self.links[c as usize];
            c
        } else {
            // Within the reserved capacity: no reallocation.
            let c = self.links.len() as u32;
            self.links.push(NIL);
            self.bytes.resize(self.bytes.len() + CHUNK, 0);
            c
        }
    }

    /// Stores the concatenation of `parts`; returns its first chunk. The caller has
    /// checked that enough chunks are free.
    pub(super) fn store(&mut self, parts: &[&[u8]]) -> u32 {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let n = Self::chunks_for(len);
        if n == 0 || n > u64::from(self.free_chunks()) {
            return NIL;
        }
        let first = self.alloc_one();
        let mut last = first;
        for _ in 1..n {
            let c = self.alloc_one();
            self.links[last as usize] = c;
            last = c;
        }
        self.links[last as usize] = NIL;
        let mut c = first;
        let mut pos = 0;
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                if pos == CHUNK {
                    c = self.links[c as usize];
                    pos = 0;
                }
                let take = (CHUNK - pos).min(rest.len());
                let at = c as usize * CHUNK + pos;
                self.bytes[at..at + take].copy_from_slice(&rest[..take]);
                pos += take;
                rest = &rest[take..];
            }
        }
        first
    }

    /// Returns a chain's chunks to the free list.
    pub(super) fn release(&mut self, first: u32) {
        let mut c = first;
        while c != NIL {
            let next = self.links[c as usize];
            self.links[c as usize] = self.free;
            self.free = c;
            self.used -= 1;
            c = next;
        }
    }

    /// Calls `f` with the consecutive pieces of the `len` bytes that start `skip` bytes
    /// into a chain, until `f` returns false. Returns false when `f` stopped the walk.
    pub(super) fn read(
        &self,
        first: u32,
        skip: usize,
        len: usize,
        mut f: impl FnMut(&[u8]) -> bool,
    ) -> bool {
        let mut c = first;
        for _ in 0..skip / CHUNK {
            if c == NIL {
                return true;
            }
            c = self.links[c as usize];
        }
        let mut pos = skip % CHUNK;
        let mut left = len;
        while left > 0 && c != NIL {
            let take = (CHUNK - pos).min(left);
            let at = c as usize * CHUNK + pos;
            if !f(&self.bytes[at..at + take]) {
                return false;
            }
            left -= take;
            pos = 0;
            c = self.links[c as usize];
        }
        true
    }

    /// Appends `len` bytes starting `skip` bytes into a chain to `out`.
    pub(super) fn append_to(&self, first: u32, skip: usize, len: usize, out: &mut Vec<u8>) {
        self.read(first, skip, len, |piece| {
            out.extend_from_slice(piece);
            true
        });
    }

    /// Copies `dst.len()` bytes starting `skip` bytes into a chain over `dst`.
    pub(super) fn copy_to(&self, first: u32, skip: usize, dst: &mut [u8]) {
        let mut at = 0;
        let len = dst.len();
        self.read(first, skip, len, |piece| {
            dst[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
            true
        });
    }

    /// True when the `other.len()` bytes starting `skip` bytes into a chain equal
    /// `other`.
    pub(super) fn eq_at(&self, first: u32, skip: usize, other: &[u8]) -> bool {
        let mut at = 0;
        let done = self.read(first, skip, other.len(), |piece| {
            let same = other[at..at + piece.len()] == *piece;
            at += piece.len();
            same
        });
        done && at == other.len()
    }
}

/// One held fragment.
#[derive(Clone, Copy, Debug)]
pub(super) struct Frag {
    /// Previous fragment of the datagram (lower or equal offset), or NIL.
    pub(super) prev: u32,
    /// Next fragment of the datagram, or NIL; the next free slot on the free list.
    pub(super) next: u32,
    /// First chunk of the stored bytes: `hlen` header bytes, then `len` data bytes.
    pub(super) chunk: u32,
    /// Datagram offset of the first stored data byte (the arrival offset plus the
    /// leading bytes the policy trimmed off on arrival).
    pub(super) offset: u32,
    /// Stored data bytes.
    pub(super) len: u32,
    /// Leading stored bytes superseded later by other fragments (may reach `len`).
    pub(super) ltrim: u32,
    /// Header bytes stored before the data (offset-0 fragments only).
    pub(super) hlen: u32,
}

impl Frag {
    /// End offset of the stored data.
    #[inline]
    pub(super) fn end(&self) -> u32 {
        self.offset + self.len
    }

    /// Start offset of the bytes this fragment still contributes.
    #[inline]
    pub(super) fn painted_start(&self) -> u32 {
        self.offset.saturating_add(self.ltrim)
    }
}

/// Preallocated fragment records.
pub(super) struct FragSlab {
    slots: Vec<Frag>,
    free: u32,
    live: u32,
    capacity: u32,
}

impl FragSlab {
    /// Reserves `capacity` records; `None` when the memory cannot be reserved.
    pub(super) fn with_capacity(capacity: u32) -> Option<Self> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity as usize).ok()?;
        Some(FragSlab {
            slots,
            free: NIL,
            live: 0,
            capacity,
        })
    }

    /// Stores a record; `None` when all slots are taken.
    pub(super) fn alloc(&mut self, f: Frag) -> Option<u32> {
        if self.free != NIL {
            let id = self.free;
            self.free = self.slots[id as usize].next;
            self.slots[id as usize] = f;
            self.live += 1;
            Some(id)
        } else if (self.slots.len() as u32) < self.capacity {
            let id = self.slots.len() as u32;
            self.slots.push(f);
            self.live += 1;
            Some(id)
        } else {
            None
        }
    }

    /// Returns slot `id` to the free list.
    pub(super) fn free(&mut self, id: u32) {
        self.slots[id as usize].next = self.free;
        self.free = id;
        self.live -= 1;
    }

    pub(super) fn live(&self) -> u32 {
        self.live
    }

    #[cfg(test)]
    pub(super) fn reserved(&self) -> usize {
        self.slots.capacity()
    }

    #[inline]
    pub(super) fn get(&self, id: u32) -> &Frag {
        &self.slots[id as usize]
    }

    #[inline]
    pub(super) fn get_mut(&mut self, id: u32) -> &mut Frag {
        &mut self.slots[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_stores_reads_and_reuses_chunks() {
        let mut a = Arena::with_chunks(4).unwrap();
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let c = a.store(&[&data[..10], &data[10..]]);
        assert_eq!(a.used(), 3);
        let mut out = Vec::new();
        a.append_to(c, 0, 300, &mut out);
        assert_eq!(out, data);
        let mut mid = [0u8; 150];
        a.copy_to(c, 100, &mut mid);
        assert_eq!(&mid[..], &data[100..250]);
        assert!(a.eq_at(c, 120, &data[120..260]));
        assert!(!a.eq_at(c, 120, &data[121..261]));
        // Too much for what is left: refused without allocating.
        assert_eq!(a.store(&[&data[..200]]), NIL);
        a.release(c);
        assert_eq!(a.used(), 0);
        let c2 = a.store(&[&data[..256]]);
        assert_eq!(a.used(), 2);
        assert!(a.eq_at(c2, 0, &data[..256]));
        assert_eq!(a.capacity(), (4 * CHUNK, 4));
    }
}
