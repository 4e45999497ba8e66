//! CRC-64 as Redis computes it for RDB files (`crc64.c`, Jones polynomial
//! `0xad93d23594c935a9`, reflected, init 0, no final xor).
//!
//! Invariant: the checksum of an RDB file covers every byte from the magic up to
//! and including the EOF opcode, and is stored after it as 8 little-endian bytes.
//! The `crc` crate's `CRC_64_REDIS` is exactly this variant; this module only
//! gives it a streaming wrapper with a `'static` table.

use crc::{Crc, Digest, Table, CRC_64_REDIS};

/// Slice-by-16 tables: snapshots are checksummed at disk speed.
static CRC64_REDIS: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// The checksum of `data` in one call.
pub fn crc64(data: &[u8]) -> u64 {
    CRC64_REDIS.checksum(data)
}

/// A running checksum, fed chunk by chunk as a file is produced or read.
#[derive(Clone)]
pub struct Crc64 {
    digest: Digest<'static, u64, Table<16>>,
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc64 {
    pub fn new() -> Self {
        Crc64 {
            digest: CRC64_REDIS.digest(),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
    }

    /// The checksum of everything fed so far (the digest stays usable).
    pub fn value(&self) -> u64 {
        self.digest.clone().finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_test_vector() {
        // From Redis's crc64.c self test.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut c = Crc64::new();
        c.update(b"1234");
        assert_eq!(c.value(), crc64(b"1234"));
        c.update(b"56789");
        assert_eq!(c.value(), 0xe9c6d914c4b8d9ca);
        assert_eq!(Crc64::default().value(), 0);
    }
}
