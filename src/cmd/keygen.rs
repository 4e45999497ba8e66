//! Key generators: `TXKEY` (time-ordered, never repeats within the process) and
//! `RTKEY` (time plus randomness, spread uniformly over shards).

use std::cell::Cell;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn encode_base62(mut n: u128, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
}

/// Per-core state for `TXKEY`: the last millisecond used and a counter within it.
#[derive(Default)]
pub struct TxKeyGen {
    last_ms: Cell<u64>,
    counter: Cell<u64>,
}

/// Counter bits per millisecond per core; cores are folded into the low bits.
const COUNTER_SPACE: u64 = 62 * 62 * 62; // 238,328 keys per ms across cores

impl TxKeyGen {
    /// A 12-character base62 key: 8 characters of milliseconds (good until the
    /// year 8900) then 4 characters of (counter × cores + core). Keys sort by
    /// creation time and never repeat within the process: if a core exhausts its
    /// counter space within one millisecond it borrows the next millisecond.
    pub fn next(&self, now_ms: u64, core: usize, cores: usize) -> [u8; 12] {
        let per_core = (COUNTER_SPACE * 62) / cores.max(1) as u64;
        let (mut ms, mut c) = (now_ms.max(self.last_ms.get()), 0);
        if ms == self.last_ms.get() {
            c = self.counter.get() + 1;
            if c >= per_core {
                ms += 1;
                c = 0;
            }
        }
        self.last_ms.set(ms);
        self.counter.set(c);
        let mut key = [0u8; 12];
        encode_base62(ms as u128, &mut key[..8]);
        encode_base62(
            (c * cores.max(1) as u64 + core as u64) as u128,
            &mut key[8..],
        );
        key
    }
}

/// A 16-character base62 key: 2 random leading characters (so keys spread
/// uniformly over slots and shards), 8 characters of microseconds, 6 random.
pub fn rtkey(now_us: u64, rng: &mut impl rand::Rng) -> [u8; 16] {
    let mut key = [0u8; 16];
    for b in key[..2].iter_mut() {
        *b = BASE62[rng.gen_range(0..62)];
    }
    encode_base62(now_us as u128, &mut key[2..10]);
    for b in key[10..].iter_mut() {
        *b = BASE62[rng.gen_range(0..62)];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txkeys_sort_and_never_repeat() {
        let gen = TxKeyGen::default();
        let mut prev = gen.next(1_700_000_000_000, 1, 4);
        for _ in 0..200_000 {
            let k = gen.next(1_700_000_000_000, 1, 4);
            assert!(k > prev, "{:?} <= {:?}", k, prev);
            prev = k;
        }
        let later = gen.next(1_700_000_000_001, 1, 4);
        assert!(later > prev);
        // A clock going backwards must not produce a smaller key.
        assert!(gen.next(1_600_000_000_000, 1, 4) > later);
    }

    #[test]
    fn rtkey_shape() {
        let mut rng = rand::thread_rng();
        let k = rtkey(1_700_000_000_000_000, &mut rng);
        assert!(k.iter().all(|b| b.is_ascii_alphanumeric()));
    }
}
