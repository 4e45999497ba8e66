//! Buffers for big values: anonymous memory maps, freed off the request path.
//!
//! A big bulk argument (net::bigarg) is read into a [`MapBuf`] of exactly its
//! announced size; the buffer becomes the stored value (`Value::Shared`), so
//! the value costs one copy of its bytes and nothing else. Freshly mapped
//! pages read as zeros, so the buffer is initialized without a memset, and
//! pages are touched only as bytes arrive.
//!
//! Freeing: the allocator would keep a freed huge block for reuse (RSS not
//! returned), and one munmap of hundreds of MB stalls the shard for tens of ms.
//! So a dropped map goes to this thread's queue, which [`lazy_free_loop`]
//! unmaps in [`FREE_STEP`] pieces between other tasks. Threads without that
//! loop (tests, the main thread) unmap at once. The queue holds only maps
//! already dropped, so it is bounded by the memory they held.

use std::cell::RefCell;
use std::rc::Rc;

/// Bytes unmapped per step of the lazy freer (a multiple of the page size).
pub const FREE_STEP: usize = 8 * 1024 * 1024;

/// An anonymous private mapping of `len` bytes.
pub struct MapBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned exclusively by this value (no aliasing pointer
// escapes except through &self/&mut self borrows), so moving it to another
// thread is sound.
unsafe impl Send for MapBuf {}
// SAFETY: shared access only hands out `&[u8]`.
unsafe impl Sync for MapBuf {}

impl MapBuf {
    /// Maps `len` bytes (zeroed); `None` when the kernel refuses.
    pub fn new(len: usize) -> Option<MapBuf> {
        let len = len.max(1);
        // SAFETY: a fresh anonymous mapping touches no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        Some(MapBuf {
            ptr: ptr as *mut u8,
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` readable/writable bytes (zero pages
        // until written), owned by self, borrowed mutably once.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl AsRef<[u8]> for MapBuf {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: as in as_mut_slice, borrowed shared.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for MapBuf {
    fn drop(&mut self) {
        // The whole mapping, in pages, so that every step unmaps whole pages.
        let region = (self.ptr as usize, self.len.next_multiple_of(page_size()));
        let queued = QUEUE.with(|q| match q.borrow_mut().as_mut() {
            Some(queue) => {
                queue.regions.push(region);
                queue.wake.notify();
                true
            }
            None => false,
        });
        if !queued {
            unmap(region.0, region.1);
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

fn unmap(addr: usize, len: usize) {
    // SAFETY: [addr, addr+len) is (a tail of) a mapping this module created
    // and nothing refers to any more.
    unsafe {
        libc::munmap(addr as *mut libc::c_void, len);
    }
}

struct Queue {
    regions: Vec<(usize, usize)>,
    wake: Rc<crate::runtime::notify::Notify>,
}

thread_local! {
    static QUEUE: RefCell<Option<Queue>> = const { RefCell::new(None) };
}

/// Maps waiting to be unmapped on this thread (for tests and INFO).
pub fn pending_bytes() -> usize {
    QUEUE.with(|q| {
        q.borrow()
            .as_ref()
            .map_or(0, |q| q.regions.iter().map(|r| r.1).sum())
    })
}

/// Unmaps this executor's dropped big buffers, one [`FREE_STEP`] at a time,
/// yielding between steps. Runs until `stop` resolves.
pub async fn lazy_free_loop(stop: impl std::future::Future<Output = ()>) {
    let wake = Rc::new(crate::runtime::notify::Notify::default());
    QUEUE.with(|q| {
        *q.borrow_mut() = Some(Queue {
            regions: Vec::new(),
            wake: wake.clone(),
        })
    });
    let work = async {
        loop {
            let step = QUEUE.with(|q| {
                let mut q = q.borrow_mut();
                let regions = &mut q.as_mut()?.regions;
                let (addr, len) = regions.last_mut()?;
                let cut = (*len).min(FREE_STEP);
                *len -= cut;
                let piece = (*addr + *len, cut);
                if *len == 0 {
                    regions.pop();
                }
                Some(piece)
            });
            match step {
                Some((addr, len)) => {
                    unmap(addr, len);
                    futures_lite::future::yield_now().await;
                }
                None => wake.wait().await,
            }
        }
    };
    futures_lite::future::or(work, stop).await;
    // Shutting down: free the rest at once and unmap directly from now on.
    if let Some(q) = QUEUE.with(|q| q.borrow_mut().take()) {
        for (addr, len) in q.regions {
            if len > 0 {
                unmap(addr, len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_zeroed_writable_and_unmapped_on_drop() {
        let mut m = MapBuf::new(1 << 20).unwrap();
        assert!(m.as_ref().iter().all(|&b| b == 0));
        m.as_mut_slice()[5] = 7;
        assert_eq!(m.as_ref()[5], 7);
        drop(m); // no lazy freer on this thread: unmapped at once
        assert_eq!(pending_bytes(), 0);
    }
}
