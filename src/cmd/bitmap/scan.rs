//! Bit ranges over a string, without the commands: how BITCOUNT and BITPOS
//! read their `start end [BYTE|BIT]` arguments ([`resolve`]), counting the
//! set bits of a range ([`count_ones`]) and finding its first 0 or 1
//! ([`first_bit`]). Bit positions are absolute (bit 0 is the top bit of
//! byte 0); a range is inclusive at both ends and lies inside the string.
//!
//! Both scans work on 64-bit words: popcount with `count_ones`, the search
//! by skipping words that are all zeros (or all ones) first.

/// The unit a range's indexes count in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Byte,
    Bit,
}

/// The bits `[first, last]` a `start end` range names in a string of
/// `len` bytes, as Redis resolves it: negative indexes count from the end,
/// both are clamped to the string; None when the range is empty.
pub fn resolve(len: usize, start: i64, end: i64, unit: Unit) -> Option<(u64, u64)> {
    let total = match unit {
        Unit::Byte => len as i64,
        Unit::Bit => len as i64 * 8,
    };
    let from_end = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(total - 1));
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(match unit {
        Unit::Byte => (start * 8, end * 8 + 7),
        Unit::Bit => (start, end),
    })
}

/// The set bits of `p` (a fast popcount: eight bytes at a time).
pub fn popcount(p: &[u8]) -> u64 {
    let mut words = p.chunks_exact(32);
    let mut n = 0u64;
    for w in &mut words {
        for q in w.chunks_exact(8) {
            n += u64::from_ne_bytes(q.try_into().unwrap_or([0; 8])).count_ones() as u64;
        }
    }
    let rest = words.remainder();
    let mut tail = rest.chunks_exact(8);
    for q in &mut tail {
        n += u64::from_ne_bytes(q.try_into().unwrap_or([0; 8])).count_ones() as u64;
    }
    n + tail
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>()
}

/// The mask of byte `i`'s bits that lie in `[first, last]` (bits of the
/// bytes strictly between first's and last's are all in).
fn edge_mask(i: u64, first: u64, last: u64) -> u8 {
    let mut m = 0xffu8;
    if i == first / 8 {
        m &= 0xff >> (first & 7);
    }
    if i == last / 8 {
        m &= 0xff << (7 - (last & 7));
    }
    m
}

/// The set bits among bits `[first, last]` of `p` (inside it).
pub fn count_ones(p: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = (first / 8, last / 8);
    let Some(bytes) = p.get(fb as usize..=lb as usize) else {
        return 0;
    };
    let mut n = popcount(bytes);
    // Take back the bits of the edge bytes outside the range.
    for i in [fb, lb] {
        let outside = bytes[(i - fb) as usize] & !edge_mask(i, first, last);
        n -= outside.count_ones() as u64;
        if fb == lb {
            break;
        }
    }
    n
}

/// The first bit equal to `bit` among bits `[first, last]` of `p` (inside
/// it), if any.
pub fn first_bit(p: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    let (fb, lb) = (first / 8, last / 8);
    let bytes = p.get(fb as usize..=lb as usize)?;
    // Search for a 1 in the bytes as they are (bit) or inverted (!bit).
    let flip = if bit { 0 } else { 0xff };
    let hit = |i: u64, b: u8| {
        let v = (b ^ flip) & edge_mask(i, first, last);
        (v != 0).then(|| i * 8 + v.leading_zeros() as u64)
    };
    if let Some(pos) = hit(fb, bytes[0]) {
        return Some(pos);
    }
    if fb == lb {
        return None;
    }
    // The bytes between the edges, skipping whole words with no match.
    let middle = &bytes[1..bytes.len() - 1];
    let skip = if bit { 0u64 } else { u64::MAX };
    let mut at = 0usize;
    for w in middle.chunks_exact(8) {
        if u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])) != skip {
            break;
        }
        at += 8;
    }
    for (k, &b) in middle.iter().enumerate().skip(at) {
        if let Some(pos) = hit(fb + 1 + k as u64, b) {
            return Some(pos);
        }
    }
    hit(lb, bytes[bytes.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn bit_of(p: &[u8], i: u64) -> bool {
        p[(i / 8) as usize] & (0x80 >> (i & 7)) != 0
    }

    #[test]
    fn ranges_as_redis_resolves_them() {
        assert_eq!(resolve(3, 0, -1, Unit::Byte), Some((0, 23)));
        assert_eq!(resolve(3, 1, 1, Unit::Byte), Some((8, 15)));
        assert_eq!(resolve(3, -2, 100, Unit::Byte), Some((8, 23)));
        assert_eq!(resolve(3, 2, 1, Unit::Byte), None);
        assert_eq!(resolve(3, 5, 10, Unit::Byte), None);
        assert_eq!(resolve(3, -100, -50, Unit::Byte), Some((0, 7)));
        assert_eq!(resolve(0, 0, -1, Unit::Byte), None);
        assert_eq!(resolve(0, 0, 0, Unit::Bit), None);
        assert_eq!(resolve(2, 3, -2, Unit::Bit), Some((3, 14)));
        assert_eq!(resolve(2, i64::MIN, i64::MAX, Unit::Bit), Some((0, 15)));
    }

    #[test]
    fn scans_agree_with_bit_by_bit() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..3000 {
            let len = rng.gen_range(1..80);
            let fill: u8 = [0x00, 0xff, 0x0f][rng.gen_range(0..3)];
            let p: Vec<u8> = (0..len)
                .map(|_| if rng.gen_bool(0.9) { fill } else { rng.gen() })
                .collect();
            let bits = len as u64 * 8;
            let first = rng.gen_range(0..bits);
            let last = rng.gen_range(first..bits);
            let ones = (first..=last).filter(|&i| bit_of(&p, i)).count() as u64;
            assert_eq!(count_ones(&p, first, last), ones);
            for bit in [false, true] {
                let want = (first..=last).find(|&i| bit_of(&p, i) == bit);
                assert_eq!(
                    first_bit(&p, first, last, bit),
                    want,
                    "{p:?} {first} {last}"
                );
            }
        }
        let big: Vec<u8> = (0..1000u32).map(|i| (i * 37) as u8).collect();
        let slow: u64 = big.iter().map(|b| b.count_ones() as u64).sum();
        assert_eq!(popcount(&big), slow);
    }
}
