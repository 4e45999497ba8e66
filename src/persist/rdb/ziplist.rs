//! The ziplist (RDB type 13 hashes, written by Redis 3.2 to 6.2): read-only,
//! converted to a listpack on load as Redis 7.0 does.
//!
//! ```text
//! <u32 LE total bytes> <u32 LE offset of the last entry> <u16 LE count, 65535 = unknown>
//! { <prevlen: 1 byte < 254, or 0xFE + u32 LE> <encoding> <data> } 0xFF
//! ```
//!
//! Encodings: `00xxxxxx` string up to 63 bytes, `01xxxxxx yyyyyyyy` up to
//! 16383 (big-endian), `0x80` + u32 BE length; integers `0xC0` i16, `0xD0`
//! i32, `0xE0` i64, `0xF0` i24, `0xFE` i8 (little-endian), `0xF1..=0xFD` the
//! immediate 0..=12. Every check Redis's deep `ziplistValidateIntegrity`
//! makes is made here (sizes, prevlens, tail offset, count, terminator).

use super::listpack::Entry;

const HEADER: usize = 10;
const END: u8 = 0xFF;

/// Decodes and validates a whole ziplist: its elements in order.
pub fn elements(zl: &[u8]) -> Result<Vec<Entry<'_>>, &'static str> {
    if zl.len() < HEADER + 1 {
        return Err("ziplist too short");
    }
    let u32_at = |i: usize| u32::from_le_bytes([zl[i], zl[i + 1], zl[i + 2], zl[i + 3]]) as usize;
    if u32_at(0) != zl.len() {
        return Err("ziplist size mismatch");
    }
    let tail = u32_at(4);
    let count = u16::from_le_bytes([zl[8], zl[9]]);
    let mut out = Vec::new();
    let (mut pos, mut prev_len, mut last) = (HEADER, 0usize, HEADER);
    while zl.get(pos) != Some(&END) {
        let start = pos;
        let b = *zl.get(pos).ok_or("ziplist truncated")?;
        let prevlen = if b < 254 {
            pos += 1;
            b as usize
        } else {
            let p = zl.get(pos + 1..pos + 5).ok_or("ziplist truncated")?;
            pos += 5;
            u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize
        };
        if prevlen != prev_len {
            return Err("ziplist prevlen mismatch");
        }
        let e = *zl.get(pos).ok_or("ziplist truncated")?;
        let byte = |i: usize| zl.get(pos + i).copied().ok_or("ziplist truncated");
        let take = |from: usize, n: usize| {
            let end = (pos + from).checked_add(n).ok_or("ziplist bad length")?;
            zl.get(pos + from..end).ok_or("ziplist truncated")
        };
        let (elem, size) = match e >> 6 {
            0 => {
                let n = (e & 0x3F) as usize;
                (Entry::Str(take(1, n)?), 1 + n)
            }
            1 => {
                let n = (((e & 0x3F) as usize) << 8) | byte(1)? as usize;
                (Entry::Str(take(2, n)?), 2 + n)
            }
            2 if e == 0x80 => {
                let l = take(1, 4)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                (Entry::Str(take(5, n)?), 5 + n)
            }
            2 => return Err("ziplist bad string encoding"),
            _ => match e {
                0xC0 => (
                    Entry::Int(i16::from_le_bytes([byte(1)?, byte(2)?]) as i64),
                    3,
                ),
                0xD0 => {
                    let d = take(1, 4)?;
                    (
                        Entry::Int(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64),
                        5,
                    )
                }
                0xE0 => {
                    let d = take(1, 8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(d);
                    (Entry::Int(i64::from_le_bytes(a)), 9)
                }
                0xF0 => {
                    let d = take(1, 3)?;
                    (
                        Entry::Int((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64),
                        4,
                    )
                }
                0xFE => (Entry::Int(byte(1)? as i8 as i64), 2),
                0xF1..=0xFD => (Entry::Int(((e & 0x0F) as i64) - 1), 1),
                _ => return Err("ziplist bad encoding"),
            },
        };
        pos += size;
        prev_len = pos - start;
        last = start;
        out.push(elem);
    }
    if pos + 1 != zl.len() {
        return Err("ziplist terminator misplaced");
    }
    let expected_tail = if out.is_empty() { HEADER } else { last };
    if tail != expected_tail {
        return Err("ziplist tail offset mismatch");
    }
    if count != u16::MAX && count as usize != out.len() {
        return Err("ziplist count mismatch");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist as Redis 6.2 writes one for HSET h f v n 5 big 100000.
    fn sample() -> Vec<u8> {
        let entries: Vec<Vec<u8>> = vec![
            vec![0x01, b'f'],
            vec![0x01, b'v'],
            vec![0x01, b'n'],
            vec![0xF6],
            vec![0x03, b'b', b'i', b'g'],
            vec![0xF0, 0xA0, 0x86, 0x01],
        ];
        let mut body = Vec::new();
        let (mut prev, mut tail) = (0usize, HEADER);
        for e in &entries {
            tail = HEADER + body.len();
            body.push(prev as u8);
            body.extend_from_slice(e);
            prev = e.len() + 1;
        }
        let total = HEADER + body.len() + 1;
        let mut zl = Vec::new();
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(END);
        zl
    }

    #[test]
    fn decodes_strings_and_integers() {
        let zl = sample();
        assert_eq!(
            elements(&zl).unwrap(),
            [
                Entry::Str(b"f"),
                Entry::Str(b"v"),
                Entry::Str(b"n"),
                Entry::Int(5),
                Entry::Str(b"big"),
                Entry::Int(100000)
            ]
        );
    }

    #[test]
    fn malformed_ziplists_are_refused() {
        let zl = sample();
        for cut in 0..zl.len() {
            let mut bad = zl[..cut].to_vec();
            if bad.len() >= 4 {
                let n = (bad.len() as u32).to_le_bytes();
                bad[..4].copy_from_slice(&n);
            }
            assert!(elements(&bad).is_err(), "cut {cut}");
        }
        let mut bad = zl.clone();
        bad[8] = 5; // count
        assert!(elements(&bad).is_err());
        let mut bad = zl.clone();
        bad[HEADER + 3] = 9; // prevlen of the second entry
        assert!(elements(&bad).is_err());
        let mut bad = zl.clone();
        bad[4] = 0; // tail
        assert!(elements(&bad).is_err());
        for i in HEADER..zl.len() {
            for v in [0u8, 0x3F, 0x40, 0x80, 0xC0, 0xE0, 0xFE, 0xFF] {
                let mut bad = zl.clone();
                bad[i] = v;
                let _ = elements(&bad);
            }
        }
    }
}
