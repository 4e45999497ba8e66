//! Reply encoding for RESP2 and RESP3 into one contiguous buffer.
//!
//! Every reply of a batch is appended to the same `Vec<u8>`, so a pipeline's
//! replies leave in one write. Types that differ between protocol versions (null,
//! map, set, double, boolean, verbatim) are encoded according to `resp3`.

/// Appends RESP replies to a buffer.
pub struct ReplyWriter<'a> {
    pub out: &'a mut Vec<u8>,
    pub resp3: bool,
}

impl<'a> ReplyWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>, resp3: bool) -> Self {
        ReplyWriter { out, resp3 }
    }

    #[inline]
    fn line(&mut self, prefix: u8, n: i64) {
        self.out.push(prefix);
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// `msg` is the full error text including its code, e.g. `ERR syntax error`.
    pub fn error(&mut self, msg: &str) {
        self.out.push(b'-');
        // Newlines would break framing; Redis replaces them with spaces.
        self.out.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.line(b'$', data.len() as i64);
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// Null bulk string (`$-1` in RESP2, `_` in RESP3).
    pub fn null(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, len: usize) {
        self.line(b'*', len as i64);
    }

    /// A map of `pairs` entries (a flat array of 2×pairs in RESP2).
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            self.line(b'%', pairs as i64);
        } else {
            self.line(b'*', 2 * pairs as i64);
        }
    }

    pub fn set(&mut self, len: usize) {
        if self.resp3 {
            self.line(b'~', len as i64);
        } else {
            self.line(b'*', len as i64);
        }
    }

    /// A push frame header (RESP3 `>`; an array in RESP2).
    pub fn push(&mut self, len: usize) {
        if self.resp3 {
            self.line(b'>', len as i64);
        } else {
            self.line(b'*', len as i64);
        }
    }

    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.out
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A double: RESP3 `,` type, RESP2 bulk string, formatted like Redis (`%.17g`).
    pub fn double(&mut self, v: f64) {
        let mut buf = DoubleText::new();
        let text = buf.format(v);
        if self.resp3 {
            self.out.push(b',');
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Verbatim text (RESP3 `=` with format `txt`; RESP2 bulk string).
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.line(b'=', text.len() as i64 + 4);
            self.out.extend_from_slice(b"txt:");
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
}

/// Formats a double as Redis's `%.17g` does for RESP3 doubles and scores.
pub fn format_double(v: f64) -> String {
    let mut buf = DoubleText::new();
    String::from_utf8_lossy(buf.format(v)).into_owned()
}

/// A stack buffer holding one double as C's `%.17g` prints it (`inf`,
/// `-inf`, `nan` for the specials), without allocating: integral values
/// below 2^53 print as integers (what `%.17g` prints for them); others
/// from one exact 17-digit formatting of the value.
pub struct DoubleText {
    buf: [u8; 32],
}

impl Default for DoubleText {
    fn default() -> Self {
        Self::new()
    }
}

impl DoubleText {
    pub fn new() -> Self {
        DoubleText { buf: [0; 32] }
    }

    /// The text of `v`.
    pub fn format(&mut self, v: f64) -> &[u8] {
        let special: &[u8] = match v {
            _ if v.is_nan() => b"nan",
            f64::INFINITY => b"inf",
            f64::NEG_INFINITY => b"-inf",
            _ if v == 0.0 && v.is_sign_negative() => b"-0",
            _ => b"",
        };
        if !special.is_empty() {
            self.buf[..special.len()].copy_from_slice(special);
            return &self.buf[..special.len()];
        }
        if v.fract() == 0.0 && v.abs() < 9007199254740992.0 {
            let mut b = itoa::Buffer::new();
            let t = b.format(v as i64).as_bytes();
            self.buf[..t.len()].copy_from_slice(t);
            return &self.buf[..t.len()];
        }
        // 17 significant digits: d.ddddddddddddddddde[-]x.
        let mut sci = Cursor {
            buf: [0; 40],
            len: 0,
        };
        use std::fmt::Write;
        let _ = write!(sci, "{:.16e}", v);
        let sci = &sci.buf[..sci.len];
        let (neg, sci) = match sci.first() {
            Some(b'-') => (true, &sci[1..]),
            _ => (false, sci),
        };
        let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
        let exp: i32 = std::str::from_utf8(&sci[e_at + 1..])
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        let mut digits = [0u8; 17];
        let mut n = 0;
        for &b in &sci[..e_at] {
            if b.is_ascii_digit() && n < 17 {
                digits[n] = b;
                n += 1;
            }
        }
        // Significant digits without trailing zeros.
        while n > 1 && digits[n - 1] == b'0' {
            n -= 1;
        }
        let mut out = Cursor {
            buf: [0; 40],
            len: 0,
        };
        if neg {
            out.push(b'-');
        }
        if (-4..17).contains(&exp) {
            if exp >= 0 {
                let int = exp as usize + 1;
                digits[..int.min(n)].iter().for_each(|&d| out.push(d));
                (n..int).for_each(|_| out.push(b'0'));
                if n > int {
                    out.push(b'.');
                    digits[int..n].iter().for_each(|&d| out.push(d));
                }
            } else {
                out.push(b'0');
                out.push(b'.');
                (0..(-exp - 1)).for_each(|_| out.push(b'0'));
                digits[..n].iter().for_each(|&d| out.push(d));
            }
        } else {
            out.push(digits[0]);
            if n > 1 {
                out.push(b'.');
                digits[1..n].iter().for_each(|&d| out.push(d));
            }
            out.push(b'e');
            out.push(if exp < 0 { b'-' } else { b'+' });
            let a = exp.unsigned_abs();
            if a < 10 {
                out.push(b'0');
            }
            let mut b = itoa::Buffer::new();
            b.format(a).bytes().for_each(|d| out.push(d));
        }
        let len = out.len.min(self.buf.len());
        self.buf[..len].copy_from_slice(&out.buf[..len]);
        &self.buf[..len]
    }
}

/// A fixed stack buffer that `write!` appends to (overflow is dropped;
/// nothing written here needs more than 40 bytes).
struct Cursor {
    buf: [u8; 40],
    len: usize,
}

impl Cursor {
    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }
}

impl std::fmt::Write for Cursor {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        s.bytes().for_each(|b| self.push(b));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_map_differ_by_protocol() {
        let mut out = Vec::new();
        ReplyWriter::new(&mut out, false).null();
        ReplyWriter::new(&mut out, true).null();
        ReplyWriter::new(&mut out, false).map(2);
        ReplyWriter::new(&mut out, true).map(2);
        assert_eq!(out, b"$-1\r\n_\r\n*4\r\n%2\r\n");
    }

    #[test]
    fn doubles_like_printf_g17() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }

    /// Random bit patterns and round numbers against glibc's `%.17g`.
    #[test]
    fn doubles_match_glibc_printf() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let mut values: Vec<f64> = (0..20_000)
            .map(|_| f64::from_bits(rng.gen::<u64>()))
            .collect();
        values.extend((0..2000).map(|_| rng.gen_range(-1e6..1e6)));
        values.extend((0..2000).map(|i| (i as f64) * 0.25 - 100.0));
        values.extend([
            1e16,
            1e17,
            9007199254740992.0,
            123456789012345678.0,
            1e-5,
            1e-4,
            0.0,
        ]);
        values.retain(|v| v.is_finite());
        for v in values {
            let mut buf = [0u8; 64];
            // SAFETY: a 64-byte buffer, a NUL-terminated format, one double.
            let n = unsafe {
                libc::snprintf(
                    buf.as_mut_ptr() as *mut libc::c_char,
                    64,
                    c"%.17g".as_ptr(),
                    v,
                )
            };
            let want = std::str::from_utf8(&buf[..n as usize]).unwrap();
            assert_eq!(format_double(v), want, "{v:e}");
        }
    }
}
