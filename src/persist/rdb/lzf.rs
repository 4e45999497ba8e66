//! LZF, as used by RDB compressed strings (`RDB_ENC_LZF`: compressed
//! length, original length, data) and by compressed quicklist nodes: the
//! expander (liblzf's `lzf_decompress`) and a compressor whose output any
//! LZF expander (ours, Redis's) reads.
//!
//! Format: a sequence of chunks, each starting with a control byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes that follow;
//! - otherwise a back reference of length `(c >> 5) + 2` (when `c >> 5 == 7`, one
//!   more byte is added to the length) at distance `((c & 0x1f) << 8) + next + 1`
//!   behind the output cursor; it may overlap the bytes it produces.
//!
//! Invariants: [`decompress`] yields exactly `out_len` bytes or an error;
//! [`compress`] yields at most its `limit` bytes or nothing. Neither panics
//! on any input, nor allocates more than those lengths (the compressor also
//! holds a hash table of at most 64 KiB while it runs).

use std::fmt;

/// Why a compressed string could not be expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LzfError {
    /// The input ended inside a chunk.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The data expands to more or fewer bytes than announced.
    LengthMismatch { expected: usize, actual: usize },
}

impl fmt::Display for LzfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LzfError::Truncated => write!(f, "truncated LZF data"),
            LzfError::BadReference => write!(f, "LZF back reference out of range"),
            LzfError::LengthMismatch { expected, actual } => {
                write!(f, "LZF data expands to {actual} bytes, expected {expected}")
            }
        }
    }
}

/// The longest literal run one control byte announces.
const MAX_LITERAL: usize = 32;
/// The farthest a back reference reaches (13 bits of distance).
const MAX_DISTANCE: usize = 1 << 13;
/// The longest back reference: 7 + 255 in its length field, plus 2.
const MAX_MATCH: usize = 7 + 255 + 2;
/// The shortest back reference worth writing (it costs 2 bytes).
const MIN_MATCH: usize = 3;

/// Compresses `input` into `out` (cleared first) when that takes at most
/// `limit` bytes; false, with `out` holding a partial result, otherwise
/// (the caller keeps `input` as it is, as Redis does when `lzf_compress`
/// returns 0). Greedy matching over a hash of 3-byte prefixes, as liblzf;
/// the bytes may differ from liblzf's, the format is the same.
pub fn compress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> bool {
    out.clear();
    let n = input.len();
    // A table about the input's size: 2^8..2^14 positions (u32 each).
    let bits = (usize::BITS - n.max(1).leading_zeros()).clamp(8, 14);
    let mut table = vec![0u32; 1 << bits];
    let hash = |at: usize| {
        let v = u32::from_le_bytes([input[at], input[at + 1], input[at + 2], 0]);
        (v.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
    };
    // Literals not yet written start at `anchor`.
    let (mut ip, mut anchor) = (0, 0);
    while ip + MIN_MATCH <= n {
        let h = hash(ip);
        let r = table[h] as usize;
        table[h] = ip as u32;
        // An empty slot reads as position 0: harmless, the bytes are checked.
        if r < ip && ip - r <= MAX_DISTANCE && input[r..r + MIN_MATCH] == input[ip..ip + MIN_MATCH]
        {
            let max = (n - ip).min(MAX_MATCH);
            let mut len = MIN_MATCH;
            while len < max && input[r + len] == input[ip + len] {
                len += 1;
            }
            if !literals(&input[anchor..ip], limit, out) || out.len() + 3 > limit {
                return false;
            }
            let (field, dist) = (len - 2, ip - r - 1);
            if field < 7 {
                out.push(((field << 5) | (dist >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (dist >> 8)) as u8);
                out.push((field - 7) as u8);
            }
            out.push(dist as u8);
            // Later matches may start inside this one.
            for at in ip + 1..(ip + len).min(n.saturating_sub(MIN_MATCH - 1)) {
                table[hash(at)] = at as u32;
            }
            ip += len;
            anchor = ip;
        } else {
            ip += 1;
        }
    }
    literals(&input[anchor..], limit, out)
}

/// Appends `lit` as literal runs of at most [`MAX_LITERAL`] bytes; false
/// when that passes `limit`.
fn literals(lit: &[u8], limit: usize, out: &mut Vec<u8>) -> bool {
    for run in lit.chunks(MAX_LITERAL) {
        if out.len() + 1 + run.len() > limit {
            return false;
        }
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
    true
}

/// The most bytes one input byte can expand to (a 3-byte back reference
/// produces at most 264 bytes), used to reject absurd announced lengths before
/// allocating.
pub const MAX_RATIO: usize = 88;

/// Expands `input` into exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    if out_len > input.len().saturating_mul(MAX_RATIO) {
        return Err(LzfError::LengthMismatch {
            expected: out_len,
            actual: input.len().saturating_mul(MAX_RATIO),
        });
    }
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0;
    let too_long = |actual| LzfError::LengthMismatch {
        expected: out_len,
        actual,
    };
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > out_len {
                return Err(too_long(out.len() + run));
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or(LzfError::Truncated)? as usize;
                ip += 1;
            }
            len += 2;
            let low = *input.get(ip).ok_or(LzfError::Truncated)? as usize;
            ip += 1;
            let dist = ((ctrl & 0x1f) << 8) + low + 1;
            if dist > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > out_len {
                return Err(too_long(out.len() + len));
            }
            let start = out.len() - dist;
            // Byte by byte: the reference may overlap what it produces.
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError::LengthMismatch {
            expected: out_len,
            actual: out.len(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_run() {
        assert_eq!(decompress(&[2, b'a', b'b', b'c'], 3).unwrap(), b"abc");
        assert_eq!(decompress(&[], 0).unwrap(), b"");
    }

    #[test]
    fn overlapping_short_reference() {
        // "a" then copy 8 bytes from distance 1: "aaaaaaaaa".
        let data = [0, b'a', (6 << 5), 0];
        assert_eq!(decompress(&data, 9).unwrap(), b"aaaaaaaaa");
    }

    #[test]
    fn long_reference() {
        // "ab", then a long reference: len 7 + 10 + 2 = 19 at distance 2.
        let data = [1, b'a', b'b', 7 << 5, 10, 1];
        let out = decompress(&data, 21).unwrap();
        assert_eq!(out, b"ababababababababababa".to_vec());
    }

    #[test]
    fn redis_compressed_value() {
        // Bytes written by redis-server 7.0 for `SET k <"abcdefghij" x 5>`.
        let data = [
            10, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', b'i', b'j', b'a', 0xe0, 0x1c, 9, 1,
            b'i', b'j',
        ];
        let out = decompress(&data, 50).unwrap();
        assert_eq!(out, b"abcdefghij".repeat(5));
    }

    /// Compresses and expands back, returning the compressed length.
    fn round_trip(data: &[u8]) -> usize {
        let mut out = Vec::new();
        assert!(compress(data, usize::MAX, &mut out));
        assert_eq!(decompress(&out, data.len()).unwrap(), data);
        out.len()
    }

    #[test]
    fn compress_round_trips() {
        assert_eq!(round_trip(b""), 0);
        assert_eq!(round_trip(b"ab"), 3);
        // Runs reference themselves; long ones take the extra length byte.
        assert!(round_trip(&[b'a'; 10_000]) < 130);
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("element-{i:04}").into_bytes())
            .collect();
        assert!(round_trip(&text) < text.len() / 2);
        // Bytes without repeats cost about one control byte per 32.
        let mut x = 0x2545_f491u32;
        let noise: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let n = round_trip(&noise[..5000]);
        assert!(n > 5000 && n <= 5000 + 5000usize.div_ceil(32), "{n}");
        // References reach MAX_DISTANCE back, and no farther (each round
        // trip checks the bytes).
        for gap in [
            MAX_DISTANCE - 100,
            MAX_DISTANCE - 1,
            MAX_DISTANCE,
            MAX_DISTANCE + 1,
        ] {
            let mut far = noise[..gap].to_vec();
            far.extend_from_slice(&noise[..200]);
            // The copy is one reference of 3 bytes when in reach.
            let literal = |len: usize| len + len.div_ceil(32);
            let n = round_trip(&far);
            if gap <= MAX_DISTANCE {
                assert_eq!(n, literal(gap) + 3, "gap {gap}");
            } else {
                assert!(n > literal(gap) + 3, "gap {gap}");
            }
        }
        round_trip(&noise);
    }

    #[test]
    fn compress_respects_its_limit() {
        let data = b"abcdefghij".repeat(5);
        let mut out = Vec::new();
        assert!(compress(&data, 64, &mut out));
        let need = out.len();
        assert!(compress(&data, need, &mut out));
        assert!(!compress(&data, need - 1, &mut out));
        assert!(!compress(b"abc", 3, &mut out));
    }

    #[test]
    fn errors() {
        assert_eq!(decompress(&[2, b'a'], 3), Err(LzfError::Truncated));
        assert_eq!(decompress(&[0xe0], 3), Err(LzfError::Truncated));
        assert_eq!(
            decompress(&[0, b'a', 0x20, 5], 4),
            Err(LzfError::BadReference)
        );
        assert!(matches!(
            decompress(&[0, b'a'], 2),
            Err(LzfError::LengthMismatch { .. })
        ));
        assert!(matches!(
            decompress(&[0, b'a', 0xe0, 0xff, 0], 4),
            Err(LzfError::LengthMismatch { .. })
        ));
        assert!(matches!(
            decompress(&[0, b'a'], 1 << 40),
            Err(LzfError::LengthMismatch { .. })
        ));
    }
}
