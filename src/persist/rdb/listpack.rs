//! Redis 7.0's listpack: the byte format of small hashes (and, later, sets,
//! zsets and list nodes), kept as real listpack bytes so that RDB and DUMP
//! write them as one copy.
//!
//! ```text
//! <u32 LE total bytes> <u16 LE element count, 65535 = unknown> { entry } 0xFF
//! entry = <encoding + data> <backlen: length of encoding + data, 1..5 bytes>
//! ```
//!
//! Encodings: `0xxxxxxx` 7-bit unsigned int; `10xxxxxx` string of up to 63
//! bytes; `110xxxxx yyyyyyyy` 13-bit signed int; `1110xxxx yyyyyyyy` string
//! of up to 4095 bytes; `0xF0` + u32 LE length string; `0xF1`/`0xF2`/`0xF3`/
//! `0xF4` + 2/3/4/8-byte LE signed ints. The backlen is written big-endian
//! in 7-bit groups, every byte but the first with its high bit set, so it
//! can be read from the right.
//!
//! Invariant kept by [`encode_entry`] (as Redis's `lpAppend`): a string that is
//! the canonical decimal form of an i64 is stored as the smallest integer
//! encoding, so the bytes equal Redis's for the same operations.
//! [`validate`] checks a listpack from a file or the network completely;
//! [`iter`] and friends then never read out of bounds (and return `None`
//! rather than panic on bytes that were not validated).

use crate::protocol::parser::parse_i64;

/// Header bytes (total length, element count).
pub const HEADER: usize = 6;
/// The terminator byte.
pub const EOF: u8 = 0xFF;
/// The element count stored when the real one does not fit 16 bits.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// One element as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Entry<'_> {
    /// Runs `f` over the element's bytes (integers formatted on the stack).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Entry::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            Entry::Str(s) => f(s),
        }
    }

    /// The element's length as a string.
    pub fn len(&self) -> usize {
        match self {
            Entry::Int(n) => itoa::Buffer::new().format(*n).len(),
            Entry::Str(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element as an owned byte string.
    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }
}

/// What a search compares elements with: the bytes and, when they are the
/// canonical form of an integer, that integer (so one parse per search).
#[derive(Clone, Copy)]
pub struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Needle {
            bytes,
            int: int_form(bytes),
        }
    }

    pub fn matches(&self, e: &Entry<'_>) -> bool {
        match e {
            Entry::Int(n) => self.int == Some(*n),
            Entry::Str(s) => *s == self.bytes,
        }
    }
}

/// The integer `s` is stored as, as Redis's `lpStringToInt64`.
pub fn int_form(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    parse_i64(s)
}

/// An empty listpack.
pub fn empty() -> Vec<u8> {
    let mut lp = Vec::with_capacity(HEADER + 1);
    lp.extend_from_slice(&((HEADER + 1) as u32).to_le_bytes());
    lp.extend_from_slice(&0u16.to_le_bytes());
    lp.push(EOF);
    lp
}

/// The element count the header stores (`None` when unknown or short).
pub fn header_count(lp: &[u8]) -> Option<usize> {
    let c = u16::from_le_bytes([*lp.get(4)?, *lp.get(5)?]);
    (c != COUNT_UNKNOWN).then_some(c as usize)
}

/// Rewrites the header for `count` elements and the buffer's length.
pub fn set_header(lp: &mut [u8], count: usize) {
    let total = (lp.len() as u32).to_le_bytes();
    let c = u16::try_from(count)
        .ok()
        .filter(|&c| c != COUNT_UNKNOWN)
        .unwrap_or(COUNT_UNKNOWN);
    if lp.len() >= HEADER {
        lp[..4].copy_from_slice(&total);
        lp[4..6].copy_from_slice(&c.to_le_bytes());
    }
}

/// Bytes of the backlen for an entry of `l` bytes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn push_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Appends the encoding and data of an integer element (no backlen).
fn push_int(out: &mut Vec<u8>, v: i64) {
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u16) & 0x1FFF;
        out.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
    } else if let Ok(x) = i16::try_from(v) {
        out.push(0xF1);
        out.extend_from_slice(&x.to_le_bytes());
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if let Ok(x) = i32::try_from(v) {
        out.push(0xF3);
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn push_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.extend_from_slice(&[0xE0 | (n >> 8) as u8, n as u8]);
    } else {
        out.push(0xF0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// One whole entry (encoding, data, backlen) for `s`, as `lpAppend` encodes it.
pub fn encode_entry(out: &mut Vec<u8>, s: &[u8]) {
    let start = out.len();
    match int_form(s) {
        Some(v) => push_int(out, v),
        None => push_str(out, s),
    }
    let l = out.len() - start;
    push_backlen(out, l);
}

/// Bytes [`encode_entry`] would write for `s`.
pub fn entry_size(s: &[u8]) -> usize {
    let l = match int_form(s) {
        Some(v) => match v {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32768..=32767 => 3,
            -8388608..=8388607 => 4,
            -2147483648..=2147483647 => 5,
            _ => 9,
        },
        None => {
            s.len()
                + match s.len() {
                    0..=63 => 1,
                    64..=4095 => 2,
                    _ => 5,
                }
        }
    };
    l + backlen_size(l)
}

/// Decodes the entry at `pos`: the element and where the next entry starts.
/// `None` when the bytes there are not a complete entry (or are EOF).
pub fn entry_at(lp: &[u8], pos: usize) -> Option<(Entry<'_>, usize)> {
    let (e, l) = decode(lp, pos)?;
    let next = pos + l + backlen_size(l);
    (next <= lp.len()).then_some((e, next))
}

/// The element at `pos` and the size of its encoding and data (no backlen).
fn decode(lp: &[u8], pos: usize) -> Option<(Entry<'_>, usize)> {
    let b = *lp.get(pos)?;
    let at = |off: usize, n: usize| lp.get(pos + off..pos.checked_add(off + n)?);
    let (e, l) = if b & 0x80 == 0 {
        (Entry::Int((b & 0x7F) as i64), 1)
    } else if b & 0xC0 == 0x80 {
        let n = (b & 0x3F) as usize;
        (Entry::Str(at(1, n)?), 1 + n)
    } else if b & 0xE0 == 0xC0 {
        let u = (((b & 0x1F) as u16) << 8) | *lp.get(pos + 1)? as u16;
        // Sign-extend 13 bits.
        (Entry::Int(((u << 3) as i16 >> 3) as i64), 2)
    } else if b & 0xF0 == 0xE0 {
        let n = (((b & 0x0F) as usize) << 8) | *lp.get(pos + 1)? as usize;
        (Entry::Str(at(2, n)?), 2 + n)
    } else {
        match b {
            0xF0 => {
                let n = u32::from_le_bytes(at(1, 4)?.try_into().ok()?) as usize;
                (Entry::Str(at(5, n)?), 5 + n)
            }
            0xF1 => {
                let v = i16::from_le_bytes(at(1, 2)?.try_into().ok()?);
                (Entry::Int(v as i64), 3)
            }
            0xF2 => {
                let d = at(1, 3)?;
                let v = i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8;
                (Entry::Int(v as i64), 4)
            }
            0xF3 => {
                let v = i32::from_le_bytes(at(1, 4)?.try_into().ok()?);
                (Entry::Int(v as i64), 5)
            }
            0xF4 => {
                let v = i64::from_le_bytes(at(1, 8)?.try_into().ok()?);
                (Entry::Int(v), 9)
            }
            _ => return None,
        }
    };
    Some((e, l))
}

/// The elements in order, from the first entry.
pub fn iter(lp: &[u8]) -> Iter<'_> {
    Iter { lp, pos: HEADER }
}

/// Elements of a listpack with their positions.
pub struct Iter<'a> {
    lp: &'a [u8],
    pos: usize,
}

impl<'a> Iter<'a> {
    /// Where the next element starts.
    pub fn pos(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;
    fn next(&mut self) -> Option<Entry<'a>> {
        let (e, next) = entry_at(self.lp, self.pos)?;
        self.pos = next;
        Some(e)
    }
}

/// Why a listpack was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LpError {
    /// Shorter than a header and terminator, or its stored total differs.
    BadHeader,
    /// An entry that runs past the end or has an unknown encoding.
    BadEntry(usize),
    /// An entry whose backlen does not match its size.
    BadBacklen(usize),
    /// Bytes after the terminator, or no terminator.
    BadEnd,
    /// The stored element count differs from the entries.
    BadCount,
}

impl std::fmt::Display for LpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LpError::BadHeader => f.write_str("listpack header does not match its size"),
            LpError::BadEntry(at) => write!(f, "listpack entry at {at} is malformed"),
            LpError::BadBacklen(at) => write!(f, "listpack entry at {at} has a wrong backlen"),
            LpError::BadEnd => f.write_str("listpack terminator missing or misplaced"),
            LpError::BadCount => f.write_str("listpack element count is wrong"),
        }
    }
}

/// Checks a listpack completely (header, every entry and its backlen, the
/// terminator, the count) and returns its element count.
pub fn validate(lp: &[u8]) -> Result<usize, LpError> {
    if lp.len() < HEADER + 1 {
        return Err(LpError::BadHeader);
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(LpError::BadHeader);
    }
    let mut pos = HEADER;
    let mut count = 0usize;
    while lp.get(pos) != Some(&EOF) {
        if pos >= lp.len() {
            return Err(LpError::BadEnd);
        }
        let (_, l) = decode(lp, pos).ok_or(LpError::BadEntry(pos))?;
        let next = pos + l + backlen_size(l);
        let mut expect = Vec::with_capacity(5);
        push_backlen(&mut expect, l);
        if lp.get(pos + l..next) != Some(&expect[..]) {
            return Err(LpError::BadBacklen(pos));
        }
        pos = next;
        count += 1;
    }
    if pos + 1 != lp.len() {
        return Err(LpError::BadEnd);
    }
    match header_count(lp) {
        Some(c) if c != count => Err(LpError::BadCount),
        _ => Ok(count),
    }
}

/// Replaces the bytes `lp[start..end]` (whole entries) by `with`, keeping
/// the allocation exactly as large as the listpack.
pub fn splice(lp: &mut Vec<u8>, start: usize, end: usize, with: &[u8]) {
    let grow = with.len().saturating_sub(end - start);
    if grow > 0 {
        lp.reserve_exact(grow);
    }
    lp.splice(start..end, with.iter().copied());
    if lp.capacity() > lp.len() {
        lp.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut lp = empty();
        let end = lp.len() - 1;
        let mut body = Vec::new();
        for s in items {
            encode_entry(&mut body, s);
        }
        splice(&mut lp, end, end, &body);
        set_header(&mut lp, items.len());
        lp
    }

    #[test]
    fn integers_take_the_smallest_encoding() {
        for (s, size) in [
            ("0", 2),
            ("127", 2),
            ("128", 3),
            ("-1", 3),
            ("-4096", 3),
            ("4095", 3),
            ("4096", 4),
            ("-32768", 4),
            ("32768", 5),
            ("-8388608", 5),
            ("8388608", 6),
            ("-2147483648", 6),
            ("2147483648", 10),
            ("-9223372036854775808", 10),
            ("9223372036854775807", 10),
        ] {
            let lp = build(&[s.as_bytes()]);
            assert_eq!(lp.len(), HEADER + size + 1, "{s}");
            assert_eq!(entry_size(s.as_bytes()), size, "{s}");
            assert_eq!(validate(&lp), Ok(1));
            assert_eq!(iter(&lp).next(), Some(Entry::Int(s.parse().unwrap())));
        }
        for s in ["01", "+1", "-0", "1 ", "", "99999999999999999999", "a"] {
            let lp = build(&[s.as_bytes()]);
            assert_eq!(iter(&lp).next(), Some(Entry::Str(s.as_bytes())), "{s}");
        }
    }

    #[test]
    fn strings_of_every_length_class_round_trip() {
        for n in [0, 1, 63, 64, 127, 128, 4095, 4096, 20000] {
            let s = vec![b'x'; n];
            let lp = build(&[&s, b"tail"]);
            assert_eq!(validate(&lp), Ok(2), "{n}");
            let got: Vec<_> = iter(&lp).collect();
            assert_eq!(got, [Entry::Str(&s), Entry::Str(b"tail")]);
            assert_eq!(lp.len(), HEADER + entry_size(&s) + entry_size(b"tail") + 1);
        }
    }

    #[test]
    fn bytes_equal_redis_listpack() {
        // HSET h f v n 5 in redis-server 7.0: the listpack it dumps.
        let lp = build(&[b"f", b"v", b"n", b"5"]);
        assert_eq!(
            lp,
            [18, 0, 0, 0, 4, 0, 0x81, b'f', 2, 0x81, b'v', 2, 0x81, b'n', 2, 5, 1, 0xFF]
        );
    }

    #[test]
    fn malformed_listpacks_are_refused() {
        let good = build(&[b"field", b"1234", b"v"]);
        assert_eq!(validate(&good), Ok(3));
        assert_eq!(validate(&[]), Err(LpError::BadHeader));
        assert_eq!(validate(&good[..good.len() - 1]), Err(LpError::BadHeader));
        for cut in 0..good.len() {
            let mut bad = good[..cut].to_vec();
            set_header(&mut bad, 3);
            assert!(validate(&bad).is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        bad[4] = 2; // count
        assert_eq!(validate(&bad), Err(LpError::BadCount));
        let mut bad = good.clone();
        bad[HEADER + 6] = 9; // backlen of "field"
        assert_eq!(validate(&bad), Err(LpError::BadBacklen(HEADER)));
        let mut bad = good.clone();
        bad[HEADER] = 0xF5; // unknown encoding
        assert_eq!(validate(&bad), Err(LpError::BadEntry(HEADER)));
        let mut bad = good.clone();
        bad[HEADER] = 0xBF; // a 63-byte string past the end
        assert!(validate(&bad).is_err());
        let mut bad = good.clone();
        bad.insert(bad.len() - 1, 0xFF);
        set_header(&mut bad, 3);
        assert_eq!(validate(&bad), Err(LpError::BadEnd));
        // Any byte flipped: an error or a listpack that reads back in bounds.
        for i in 0..good.len() {
            for v in [0u8, 0x7F, 0x80, 0xC0, 0xE0, 0xF0, 0xF4, 0xFF] {
                let mut bad = good.clone();
                bad[i] = v;
                if validate(&bad).is_ok() {
                    let _ = iter(&bad).count();
                }
            }
        }
    }

    #[test]
    fn needle_matches_int_and_string_entries() {
        let n = Needle::new(b"12");
        assert!(n.matches(&Entry::Int(12)));
        assert!(!n.matches(&Entry::Str(b"012")));
        assert!(Needle::new(b"012").matches(&Entry::Str(b"012")));
        assert!(Needle::new(b"12").matches(&Entry::Str(b"12")));
    }
}
