//! The process's allocator: mimalloc, called the cheap way when it can be.
//!
//! Contract: [`Alloc`] hands every request to mimalloc. The `mimalloc` crate's own
//! `GlobalAlloc` asks `mi_malloc_aligned` for everything, whose checks cost about 40
//! instructions more than `mi_malloc` per call (a tenth of a million calls per 100k
//! packets on the full pipeline); mimalloc's plain calls already return blocks aligned
//! to 16 bytes, or to the largest power of two that divides the size when it is
//! smaller, so a layout within that (the rule std's own `System` allocator uses with
//! `malloc`) goes to `mi_malloc`/`mi_zalloc`/`mi_realloc`, and only larger
//! alignments to the aligned calls.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every plain mimalloc block has when its size is at least that.
const MIN_ALIGN: usize = 16;

/// mimalloc as the global allocator.
pub struct Alloc;

#[inline(always)]
fn plain(layout: &Layout) -> bool {
    layout.align() <= MIN_ALIGN && layout.align() <= layout.size()
}

// SAFETY: every block comes from mimalloc and goes back to it: `alloc`, `alloc_zeroed`
// and `realloc` return mimalloc blocks of at least `layout.size()` bytes aligned to
// `layout.align()` (plain calls only for layouts `plain` admits, whose alignment a
// plain block of that size always has; aligned calls otherwise), or null on failure;
// `dealloc` frees with `mi_free`, which takes blocks from either kind of call.
unsafe impl GlobalAlloc for Alloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls with a size and a power-of-two alignment (Layout's
        // invariant).
        unsafe {
            if plain(&layout) {
                libmimalloc_sys::mi_malloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(&layout) {
                libmimalloc_sys::mi_zalloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` was returned by this allocator (GlobalAlloc's contract), so it
        // is a mimalloc block.
        unsafe { libmimalloc_sys::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` is a mimalloc block of `layout` (GlobalAlloc's contract); the
        // new block keeps `layout.align()`: plainly when the new layout is plain, else
        // through the aligned call.
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            if plain(&new) {
                libmimalloc_sys::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align())
                    as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_their_alignment_and_keep_their_bytes() {
        let a = Alloc;
        for size in [1usize, 2, 3, 7, 8, 15, 16, 24, 33, 100, 4096, 100_000] {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero-size layout; the block is written within its
                // size, reallocated and freed once with its layouts.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    for i in 0..size {
                        p.add(i).write(i as u8);
                    }
                    let bigger = size * 3 + 1;
                    let q = a.realloc(p, layout, bigger);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "realloc size {bigger} align {align}");
                    for i in 0..size {
                        assert_eq!(q.add(i).read(), i as u8);
                    }
                    a.dealloc(q, Layout::from_size_align(bigger, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null());
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| z.add(i).read() == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
