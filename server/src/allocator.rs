//! The process's memory allocator: mimalloc for small blocks, the C library's for large ones.
//!
//! An authz request makes dozens of small, short-lived allocations in hyper, axum and Gatehouse.
//! Callgrind put glibc's malloc and free at about a sixth of the instructions of the cookie
//! path, and mimalloc serves the same allocations in fewer. Two of mimalloc's habits cost memory, measured as idle
//! VmRSS after start (with the dummy Argon2 hash of start-up done):
//! - it keeps freed blocks for reuse, so the Argon2 work area (64 MiB per hash by default) stays
//!   resident after every password check (89 MB idle). Blocks of [`LARGE`] bytes or more
//!   therefore go to the C library, which returns them to the system when they are freed;
//! - it requests transparent huge pages, which took idle memory to 26 MB with the split alone.
//!   The `no_thp` feature of the mimalloc crate builds it without that (17 MB idle).

use std::alloc::{GlobalAlloc, Layout, System};

use mimalloc::MiMalloc;

/// Blocks of this many bytes or more are served by the C library.
pub const LARGE: usize = 1 << 20;

/// Sends each block to one of the two allocators by its size. A block's layout is the same on
/// allocation and release, so both pick the same allocator.
pub struct SplitAllocator;

fn is_large(size: usize) -> bool {
    size >= LARGE
}

// SAFETY: every method forwards to an allocator that upholds the `GlobalAlloc` contract, and a
// block is always released or resized by the allocator that made it, chosen by its size.
unsafe impl GlobalAlloc for SplitAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size()) {
            System.alloc(layout)
        } else {
            MiMalloc.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size()) {
            System.alloc_zeroed(layout)
        } else {
            MiMalloc.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(layout.size()) {
            System.dealloc(ptr, layout)
        } else {
            MiMalloc.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (is_large(layout.size()), is_large(new_size)) {
            (false, false) => MiMalloc.realloc(ptr, layout, new_size),
            (true, true) => System.realloc(ptr, layout, new_size),
            _ => {
                // The block changes allocator: copy it into a new block and free the old one.
                let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
                    return std::ptr::null_mut();
                };
                let new_ptr = self.alloc(new_layout);
                if !new_ptr.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new_ptr
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_contents_across_the_threshold() {
        let allocator = SplitAllocator;
        let small = Layout::from_size_align(LARGE - 8, 16).unwrap();
        unsafe {
            let ptr = allocator.alloc(small);
            assert!(!ptr.is_null());
            for offset in [0, 1, LARGE / 2, LARGE - 9] {
                ptr.add(offset).write((offset % 251) as u8);
            }
            // Grows into the C library's range, then shrinks back into mimalloc's.
            let grown = allocator.realloc(ptr, small, LARGE + 4096);
            assert!(!grown.is_null());
            for offset in [LARGE / 2, LARGE - 9] {
                assert_eq!(grown.add(offset).read(), (offset % 251) as u8);
            }
            let large = Layout::from_size_align(LARGE + 4096, 16).unwrap();
            let shrunk = allocator.realloc(grown, large, 64);
            assert!(!shrunk.is_null());
            assert_eq!(shrunk.read(), 0);
            assert_eq!(shrunk.add(1).read(), 1);
            allocator.dealloc(shrunk, Layout::from_size_align(64, 16).unwrap());

            let zeroed = allocator.alloc_zeroed(large);
            assert!(!zeroed.is_null());
            assert!((0..large.size())
                .step_by(4099)
                .all(|i| zeroed.add(i).read() == 0));
            allocator.dealloc(zeroed, large);
        }
    }
}
