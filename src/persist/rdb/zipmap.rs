//! The zipmap (RDB type 9 hashes, written by Redis before 2.6): read-only,
//! converted to a listpack on load as Redis 7.0 does.
//!
//! ```text
//! <u8 count, 254+ = unknown> { <len> field <len> <u8 free> value <free bytes> } 0xFF
//! len = one byte < 254, or 0xFE + u32 LE
//! ```
//!
//! Checked as Redis's deep `zipmapValidateIntegrity`: every length inside
//! the input, the count when stored, the terminator last.

const END: u8 = 0xFF;

/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes and validates a whole zipmap: its (field, value) pairs in order.
pub fn pairs(zm: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    let count = *zm.first().ok_or("zipmap too short")?;
    let mut pos = 1;
    let len_at = |pos: &mut usize| -> Result<usize, &'static str> {
        let b = *zm.get(*pos).ok_or("zipmap truncated")?;
        match b {
            0..=253 => {
                *pos += 1;
                Ok(b as usize)
            }
            254 => {
                let p = zm.get(*pos + 1..*pos + 5).ok_or("zipmap truncated")?;
                *pos += 5;
                Ok(u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize)
            }
            _ => Err("zipmap bad length"),
        }
    };
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], &'static str> {
        let s = zm
            .get(*pos..pos.checked_add(n).ok_or("zipmap bad length")?)
            .ok_or("zipmap truncated")?;
        *pos += n;
        Ok(s)
    };
    let mut out = Vec::new();
    while zm.get(pos) != Some(&END) {
        let flen = len_at(&mut pos)?;
        let field = take(&mut pos, flen)?;
        let vlen = len_at(&mut pos)?;
        let free = *zm.get(pos).ok_or("zipmap truncated")? as usize;
        pos += 1;
        let value = take(&mut pos, vlen)?;
        take(&mut pos, free)?;
        out.push((field, value));
    }
    if pos + 1 != zm.len() {
        return Err("zipmap terminator misplaced");
    }
    if count < 254 && count as usize != out.len() {
        return Err("zipmap count mismatch");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        // {"foo": "bar", "hello": "world"} with 2 free bytes after "bar".
        let mut zm = vec![2, 3, b'f', b'o', b'o', 3, 2, b'b', b'a', b'r', 0, 0];
        zm.extend_from_slice(&[5, b'h', b'e', b'l', b'l', b'o', 5, 0]);
        zm.extend_from_slice(b"world");
        zm.push(END);
        zm
    }

    #[test]
    fn decodes_pairs() {
        let zm = sample();
        assert_eq!(
            pairs(&zm).unwrap(),
            [(&b"foo"[..], &b"bar"[..]), (&b"hello"[..], &b"world"[..])]
        );
        let mut long = vec![1, 254];
        long.extend_from_slice(&300u32.to_le_bytes());
        long.extend_from_slice(&[b'k'; 300]);
        long.extend_from_slice(&[0, 0, END]);
        assert_eq!(pairs(&long).unwrap()[0].0.len(), 300);
    }

    #[test]
    fn malformed_zipmaps_are_refused() {
        let zm = sample();
        for cut in 0..zm.len() {
            assert!(pairs(&zm[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = zm.clone();
        bad[0] = 3;
        assert!(pairs(&bad).is_err());
        let mut bad = zm.clone();
        bad[1] = 200;
        assert!(pairs(&bad).is_err());
        let mut bad = zm.clone();
        bad.push(0);
        assert!(pairs(&bad).is_err());
        for i in 0..zm.len() {
            for v in [0u8, 253, 254, 255] {
                let mut bad = zm.clone();
                bad[i] = v;
                let _ = pairs(&bad);
            }
        }
    }
}
