//! Redis's intset: the sorted integer array behind a small set of integers,
//! byte for byte as redis-server keeps it in memory and writes it to RDB
//! (type 11, one string) and DUMP, so a payload is a copy either way.
//!
//! Layout (little-endian): `encoding: u32` (2, 4 or 8: bytes per element),
//! `length: u32`, then `length` elements of `encoding` bytes, strictly
//! ascending. An element that does not fit the encoding upgrades the whole
//! array to the narrowest one that holds it; nothing ever downgrades.
//!
//! These functions work on the raw bytes (`&[u8]`/`Vec<u8>`) and keep the
//! header consistent with the body. The mutating ones expect bytes that
//! [`validate`] accepts (the set type only builds such); [`validate`] is the
//! gate for bytes from a file or the network and never panics.

/// Header bytes: encoding and length.
pub const HEADER: usize = 8;

/// Bytes per element of the narrowest encoding that holds `v`.
pub fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// An empty intset (encoding int16).
pub fn new() -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER);
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// Bytes per element (2, 4 or 8).
pub fn width(b: &[u8]) -> usize {
    u32_at(b, 0) as usize
}

/// Number of elements.
pub fn len(b: &[u8]) -> usize {
    u32_at(b, 4) as usize
}

fn read(b: &[u8], w: usize, i: usize) -> i64 {
    let at = HEADER + i * w;
    match (w, b.get(at..at + w)) {
        (2, Some(s)) => i16::from_le_bytes([s[0], s[1]]) as i64,
        (4, Some(s)) => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64,
        (8, Some(s)) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            i64::from_le_bytes(a)
        }
        _ => 0,
    }
}

fn write(b: &mut [u8], w: usize, i: usize, v: i64) {
    let at = HEADER + i * w;
    match w {
        2 => b[at..at + 2].copy_from_slice(&(v as i16).to_le_bytes()),
        4 => b[at..at + 4].copy_from_slice(&(v as i32).to_le_bytes()),
        _ => b[at..at + 8].copy_from_slice(&v.to_le_bytes()),
    }
}

/// The element at position `i` (ascending order).
pub fn get(b: &[u8], i: usize) -> i64 {
    read(b, width(b), i)
}

/// The elements in ascending order.
pub fn iter(b: &[u8]) -> impl Iterator<Item = i64> + '_ {
    let w = width(b);
    (0..len(b)).map(move |i| read(b, w, i))
}

/// Binary search: `Ok(position)` when `v` is present, else `Err(insertion point)`.
pub fn find(b: &[u8], v: i64) -> Result<usize, usize> {
    let w = width(b);
    if width_for(v) > w {
        return Err(if v < 0 { 0 } else { len(b) });
    }
    let (mut lo, mut hi) = (0, len(b));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match read(b, w, mid).cmp(&v) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

fn set_header(b: &mut [u8], w: usize, n: usize) {
    b[0..4].copy_from_slice(&(w as u32).to_le_bytes());
    b[4..8].copy_from_slice(&(n as u32).to_le_bytes());
}

/// Adds `v`; false when it was already present. Upgrades the encoding when
/// `v` needs a wider one (then `v` is below or above every element). The
/// buffer is kept at its exact size.
pub fn insert(b: &mut Vec<u8>, v: i64) -> bool {
    let (w, n) = (width(b), len(b));
    let need = width_for(v);
    if need > w {
        let mut up = vec![0u8; HEADER + (n + 1) * need];
        set_header(&mut up, need, n + 1);
        let shift = usize::from(v < 0);
        for i in 0..n {
            write(&mut up, need, i + shift, read(b, w, i));
        }
        write(&mut up, need, if v < 0 { 0 } else { n }, v);
        *b = up;
        return true;
    }
    let Err(at) = find(b, v) else {
        return false;
    };
    b.reserve_exact(w);
    b.resize(HEADER + (n + 1) * w, 0);
    let from = HEADER + at * w;
    b.copy_within(from..HEADER + n * w, from + w);
    write(b, w, at, v);
    set_header(b, w, n + 1);
    true
}

/// Removes `v`; false when it was absent. The encoding stays; the buffer
/// shrinks to its exact size.
pub fn remove(b: &mut Vec<u8>, v: i64) -> bool {
    let Ok(at) = find(b, v) else {
        return false;
    };
    let (w, n) = (width(b), len(b));
    let from = HEADER + (at + 1) * w;
    b.copy_within(from..HEADER + n * w, from - w);
    b.truncate(HEADER + (n - 1) * w);
    b.shrink_to_fit();
    set_header(b, w, n - 1);
    true
}

/// Why intset bytes were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntsetError {
    /// Shorter than the header.
    Truncated,
    /// An encoding other than 2, 4 or 8.
    BadEncoding(u32),
    /// The length does not match the bytes (or is zero).
    BadLength,
    /// Elements not strictly ascending (unsorted or duplicated).
    NotSorted,
}

impl std::fmt::Display for IntsetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntsetError::Truncated => write!(f, "intset shorter than its header"),
            IntsetError::BadEncoding(e) => write!(f, "intset encoding {e}"),
            IntsetError::BadLength => write!(f, "intset length does not match its size"),
            IntsetError::NotSorted => write!(f, "intset not sorted or with duplicates"),
        }
    }
}

/// Checks bytes read from a file or a DUMP payload, as Redis's
/// `intsetValidateIntegrity` with deep checking: a known encoding, a
/// non-zero length matching the size exactly, strictly ascending elements.
pub fn validate(b: &[u8]) -> Result<(), IntsetError> {
    if b.len() < HEADER {
        return Err(IntsetError::Truncated);
    }
    let w = u32_at(b, 0);
    if !matches!(w, 2 | 4 | 8) {
        return Err(IntsetError::BadEncoding(w));
    }
    let n = len(b) as u64;
    if n == 0 || (HEADER as u64).checked_add(n * w as u64) != Some(b.len() as u64) {
        return Err(IntsetError::BadLength);
    }
    let w = w as usize;
    let mut prev = None;
    for i in 0..n as usize {
        let v = read(b, w, i);
        if prev.is_some_and(|p| p >= v) {
            return Err(IntsetError::NotSorted);
        }
        prev = Some(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(vals: &[i64]) -> Vec<u8> {
        let mut b = new();
        for &v in vals {
            insert(&mut b, v);
        }
        b
    }

    #[test]
    fn layout_matches_redis() {
        // SADD s 3 1 2 on redis-server 7.0: DUMP holds this intset.
        assert_eq!(
            build(&[3, 1, 2]),
            b"\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00"
        );
        let b = build(&[1, 70000]);
        assert_eq!(width(&b), 4);
        assert_eq!(iter(&b).collect::<Vec<_>>(), [1, 70000]);
        let b = build(&[5, -3, i64::MIN, i64::MAX, 0]);
        assert_eq!(width(&b), 8);
        assert_eq!(iter(&b).collect::<Vec<_>>(), [i64::MIN, -3, 0, 5, i64::MAX]);
        assert_eq!(b.len(), HEADER + 5 * 8);
        assert!(validate(&b).is_ok());
    }

    #[test]
    fn upgrade_places_the_new_element_at_an_end() {
        let b = build(&[1, 2, -40000]);
        assert_eq!(iter(&b).collect::<Vec<_>>(), [-40000, 1, 2]);
        let b = build(&[1, 2, 40000]);
        assert_eq!(iter(&b).collect::<Vec<_>>(), [1, 2, 40000]);
    }

    #[test]
    fn insert_and_remove_keep_exact_size() {
        let mut b = build(&[10, 20, 30]);
        assert!(!insert(&mut b, 20));
        assert!(remove(&mut b, 20));
        assert!(!remove(&mut b, 20));
        assert!(!remove(&mut b, 1 << 40));
        assert_eq!(iter(&b).collect::<Vec<_>>(), [10, 30]);
        assert_eq!(b.len(), HEADER + 4);
        assert_eq!(b.capacity(), b.len());
        assert_eq!(find(&b, 30), Ok(1));
        assert_eq!(find(&b, 15), Err(1));
        assert_eq!(get(&b, 0), 10);
    }

    #[test]
    fn malformed_inputs_are_refused() {
        assert_eq!(validate(b"\x02\x00\x00"), Err(IntsetError::Truncated));
        assert_eq!(
            validate(b"\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00"),
            Err(IntsetError::BadEncoding(3))
        );
        assert_eq!(
            validate(b"\x02\x00\x00\x00\x00\x00\x00\x00"),
            Err(IntsetError::BadLength)
        );
        assert_eq!(
            validate(b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00"),
            Err(IntsetError::BadLength)
        );
        assert_eq!(
            validate(b"\x02\x00\x00\x00\xff\xff\xff\xff\x01\x00"),
            Err(IntsetError::BadLength)
        );
        assert_eq!(
            validate(b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00"),
            Err(IntsetError::NotSorted)
        );
        assert_eq!(
            validate(b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00"),
            Err(IntsetError::NotSorted)
        );
        assert!(validate(b"\x02\x00\x00\x00\x01\x00\x00\x00\x07\x00").is_ok());
    }
}
