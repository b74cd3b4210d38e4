//! Shared capture bytes: the bytes packets were read from, held by a reference count,
//! so that other threads can read those packets later without a copy.
//!
//! Contract: a [`SharedBytes`] gives the same bytes for as long as any clone of it
//! lives (a mapped capture stays mapped until the last clone is dropped).
//! [`SharedBytes::place`] says where a slice lies in them, or `None` when it does not
//! lie wholly inside; it compares addresses only, and a place is read back through
//! bounds-checked indexing ([`SharedBytes::get`]), so no place can reach outside the
//! bytes. [`PcapFile::shared_bytes`](super::PcapFile::shared_bytes) gives those of a
//! mapped capture, whose packets all lie in them.

use std::sync::Arc;

/// Bytes shared between threads by a reference count; see the module contract.
#[derive(Clone)]
pub struct SharedBytes {
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    /// Address of the first byte (places are found without calling `as_ref`).
    base: usize,
    len: usize,
}

impl SharedBytes {
    /// Shares `bytes`. Its `as_ref` must give the same bytes at every call (as a
    /// vector, a boxed slice or a memory map does); otherwise places found in one
    /// call's bytes are read in another's (still bounds-checked).
    pub fn new(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> SharedBytes {
        let all = (*bytes).as_ref();
        let (base, len) = (all.as_ptr() as usize, all.len());
        SharedBytes { bytes, base, len }
    }

    /// The bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// Where `data` starts in [`bytes`](Self::bytes), when it lies wholly inside them.
    #[inline]
    pub fn place(&self, data: &[u8]) -> Option<usize> {
        // Below the start, the difference wraps to more than `len`.
        let at = (data.as_ptr() as usize).wrapping_sub(self.base);
        (at <= self.len && data.len() <= self.len - at).then_some(at)
    }

    /// The `len` bytes at `at`, or `None` past the end.
    #[inline]
    pub fn get(&self, at: usize, len: usize) -> Option<&[u8]> {
        self.bytes().get(at..at.checked_add(len)?)
    }

    /// True when both are the same bytes, at the same address (clones of one
    /// `SharedBytes`, for instance): a place found in one is the same bytes in the
    /// other.
    #[inline]
    pub fn same(&self, other: &SharedBytes) -> bool {
        self.base == other.base && self.len == other.len
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> SharedBytes {
        SharedBytes::new(Arc::new(bytes))
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::SharedBytes;

    #[test]
    fn places_are_found_only_for_slices_wholly_inside() {
        let s = SharedBytes::from((0u8..100).collect::<Vec<u8>>());
        let all = s.bytes();
        assert_eq!(s.place(&all[10..20]), Some(10));
        assert_eq!(s.get(10, 10), Some(&all[10..20]));
        assert_eq!(s.place(all), Some(0));
        assert_eq!(s.place(&all[100..]), Some(100));
        // Another buffer with the same contents is not inside.
        let other: Vec<u8> = (0u8..100).collect();
        assert_eq!(s.place(&other[10..20]), None);
        assert_eq!(s.get(95, 10), None);
        assert_eq!(s.get(usize::MAX, 2), None);
    }

    #[test]
    fn clones_are_the_same_and_others_are_not() {
        let s = SharedBytes::from(vec![1, 2, 3]);
        let c = s.clone();
        assert!(s.same(&c));
        assert!(!s.same(&SharedBytes::from(vec![1, 2, 3])));
        drop(s);
        // The clone keeps the bytes alive.
        assert_eq!(c.bytes(), &[1, 2, 3]);
    }
}
