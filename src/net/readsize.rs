//! How much Redis 7.0 would read next, so that limits checked between reads
//! fire exactly where Redis's do.
//!
//! Redis checks the inline and count-line limits (64 KiB without a newline)
//! and `client-query-buffer-limit` after each read, so whether a 100 KiB inline
//! request sent in one write is refused depends on its read sizes: 16 KiB into
//! a fresh query buffer, then whatever room the greedily grown buffer has
//! (`readQueryFromClient`, sds growth rounded up to jemalloc's size classes).
//! This models that buffer's allocation; the connection never reads more than
//! the model allows per check (it may use several smaller reads for one).

/// Redis's `PROTO_IOBUF_LEN`.
const IOBUF_LEN: usize = 16 * 1024;
/// sds stops doubling past this (`SDS_MAX_PREALLOC`).
const MAX_PREALLOC: usize = 1024 * 1024;

/// The modelled allocation of a Redis client's query buffer.
#[derive(Default, Debug)]
pub struct ReadSize {
    alloc: usize,
}

impl ReadSize {
    /// The most Redis reads next with `len` bytes unconsumed in its buffer.
    pub fn next(&mut self, len: usize) -> usize {
        if self.alloc < IOBUF_LEN {
            // A small buffer grows just enough for one PROTO_IOBUF_LEN read.
            if self.alloc.saturating_sub(len) < IOBUF_LEN {
                self.alloc = usable(len + IOBUF_LEN);
            }
            IOBUF_LEN
        } else {
            if self.alloc.saturating_sub(len) < IOBUF_LEN {
                let need = len + IOBUF_LEN;
                let grown = if need < MAX_PREALLOC {
                    need * 2
                } else {
                    need + MAX_PREALLOC
                };
                self.alloc = usable(grown);
            }
            self.alloc - len
        }
    }

    /// A big argument of `len` bytes was read: Redis's next query buffer is
    /// allocated for one of the same size.
    pub fn after_big_arg(&mut self, len: usize) {
        self.alloc = usable(len + 2);
    }

    /// The buffer was released while idle.
    pub fn release(&mut self) {
        self.alloc = 0;
    }
}

/// The capacity sds reports for a string of `len` bytes: its jemalloc size
/// class minus the header and the terminating NUL.
fn usable(len: usize) -> usize {
    let header = match len {
        0..=255 => 3,
        256..=65535 => 5,
        _ => 9,
    };
    size_class(header + len + 1) - header - 1
}

/// jemalloc's size class for `n` bytes: four classes per power of two (16-byte
/// steps up to 128).
fn size_class(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let k = usize::BITS - 1 - (n - 1).leading_zeros();
    let step = 1usize << (k - 2);
    n.div_ceil(step) * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_buffer_reads_like_redis() {
        // Measured on redis-server 7.0: an inline line sent in one write is
        // refused from 81,911 bytes on: 16,384 + 65,526 are read before the check.
        let mut r = ReadSize::default();
        assert_eq!(r.next(0), 16384);
        assert_eq!(r.next(16384), 65526);
    }

    #[test]
    fn size_classes() {
        assert_eq!(size_class(16388), 20480);
        assert_eq!(size_class(65546), 81920);
        assert_eq!(size_class(100), 112);
        assert_eq!(size_class(4096), 4096);
    }
}
