//! LZF decompression (liblzf's `lzf_decompress`), as used by RDB compressed
//! strings (`RDB_ENC_LZF`: compressed length, original length, data).
//!
//! Format: a sequence of chunks, each starting with a control byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes that follow;
//! - otherwise a back reference of length `(c >> 5) + 2` (when `c >> 5 == 7`, one
//!   more byte is added to the length) at distance `((c & 0x1f) << 8) + next + 1`
//!   behind the output cursor; it may overlap the bytes it produces.
//!
//! Invariant: the output is exactly `out_len` bytes or an error is returned;
//! nothing here panics or allocates more than `out_len` on any input.

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
