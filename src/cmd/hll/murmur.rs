//! The hash every HyperLogLog element goes through: MurmurHash2's 64-bit
//! variant (MurmurHash64A) with Redis's seed, reading 8-byte words little
//! endian on every host (as Redis's endian-neutral build does), and the
//! split of a hash into a register index and a run length.
//!
//! Both must be bit-exact with Redis: the registers an element touches are
//! part of the bytes GET returns.

use super::repr::{P, REGISTERS};

/// The seed Redis hashes HyperLogLog elements with.
pub const SEED: u64 = 0xadc8_3b19;

const M: u64 = 0xc6a4_a793_5bd1_e995;
const R: u32 = 47;

/// MurmurHash64A of `data` with `seed`. The length enters the hash as
/// Redis's `int` does (elements are far below 2 GiB).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        // The tail's bytes are folded in little-endian order, then mixed once.
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it offers it: the low
/// [`P`] bits of its hash pick the register; the value is the position of
/// the first set bit among the remaining bits, counting from 1, capped at
/// `64 - P + 1` (a sentinel bit bounds the search).
#[inline]
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1u64 << (64 - P));
    (index, rest.trailing_zeros() as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from Redis 7.0.15's MurmurHash64A (compiled from its source).
    #[test]
    fn known_vectors() {
        for (input, seed, want) in VECTORS {
            assert_eq!(murmur64a(input, *seed), *want, "{:?}", input);
        }
    }

    #[test]
    fn pattern_bounds() {
        for i in 0..10_000u32 {
            let (index, count) = pattern(&i.to_le_bytes());
            assert!(index < REGISTERS);
            assert!((1..=(64 - P as u8 + 1)).contains(&count));
        }
    }

    const VECTORS: &[(&[u8], u64, u64)] = &[
        (b"", SEED, 0xd8dfea6585bc9732),
        (b"a", SEED, 0x53d2470a9b43b1a7),
        (b"abc", SEED, 0x77ec90aeb374e502),
        (b"hello", SEED, 0x0f656f01eecfe400),
        (b"1234567", SEED, 0x85563db163632857),
        (b"12345678", SEED, 0x95ebb86389132953),
        (b"123456789", SEED, 0x217532cb09f2a44d),
        (
            b"The quick brown fox jumps over the lazy dog",
            SEED,
            0x51606c5c5b561ace,
        ),
        (b"\xff\x00\x80", SEED, 0xfe93fc73c4134391),
        (b"", 0, 0x0000000000000000),
        (b"a", 0, 0x071717d2d36b6b11),
        (b"abc", 0, 0x9cc9c33498a95efb),
        (b"hello", 0, 0x1e68d17c457bf117),
        (b"1234567", 0, 0xae9ebd2095279402),
        (b"12345678", 0, 0x758f67d162b2d202),
        (b"123456789", 0, 0x4977490251674330),
        (
            b"The quick brown fox jumps over the lazy dog",
            0,
            0x5589ca33042a861b,
        ),
        (b"\xff\x00\x80", 0, 0xca9776a104267ec0),
    ];
}
