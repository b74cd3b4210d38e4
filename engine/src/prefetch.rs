//! Cache prefetch hints for the packet path.
//!
//! Contract: [`prefetch`] asks the CPU to start loading the cache line holding `p`; it
//! has no effect on program semantics, never faults (whatever the address) and is a
//! no-op on architectures without a prefetch instruction.

/// Hints that the cache line holding `p` will be read soon.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has. A prefetch is only a
    // hint: it never dereferences `p` architecturally and never faults, even for
    // addresses that are invalid or unmapped, so any pointer value is sound. Exercised
    // by `prefetch::tests` and by every packet the feed and the cache handle.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::prefetch;

    #[test]
    fn prefetch_is_harmless_for_any_address() {
        let v = vec![7u8; 4096];
        prefetch(v.as_ptr());
        prefetch(v.as_ptr().wrapping_add(1 << 20)); // past the end
        prefetch(std::ptr::null::<u8>());
        prefetch(usize::MAX as *const u64);
        assert_eq!(v[4095], 7);
    }
}
