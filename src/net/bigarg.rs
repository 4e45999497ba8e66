//! A big bulk argument read straight into its own allocation.
//!
//! As Redis does for arguments of `PROTO_MBULK_BIG_ARG` (32 KiB) or more, the
//! connection allocates exactly the announced length (plus the CRLF) once the
//! `$` line is read, and reads the payload into it: no doubling of the query
//! buffer, no copy when the request completes; the buffer becomes the
//! argument's `Bytes`. Memory is touched only as bytes arrive: the part past
//! what was received is zeroed at most [`WINDOW`] ahead of it.

use bytes::Bytes;

/// How far ahead of the received bytes the buffer is zeroed for reads.
const WINDOW: usize = 1024 * 1024;

/// One big argument being received.
pub struct BigArg {
    buf: Vec<u8>,
    filled: usize,
    want: usize,
}

impl BigArg {
    /// A buffer for a payload of `len` bytes plus its CRLF, starting with the
    /// bytes of it already received (`already`, at most `len + 2` are used).
    pub fn new(len: usize, already: &[u8]) -> BigArg {
        let want = len + 2;
        let mut buf = Vec::with_capacity(want);
        buf.extend_from_slice(&already[..already.len().min(want)]);
        BigArg {
            filled: buf.len(),
            buf,
            want,
        }
    }

    /// Bytes received so far (Redis's query buffer length meanwhile).
    pub fn filled(&self) -> usize {
        self.filled
    }

    pub fn is_full(&self) -> bool {
        self.filled >= self.want
    }

    /// Where the next read goes: never past the announced end, so the bytes
    /// after this argument stay in the socket for the normal read path.
    pub fn window(&mut self) -> &mut [u8] {
        let end = (self.filled + WINDOW).min(self.want);
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        &mut self.buf[self.filled..end]
    }

    /// `n` bytes were read into [`Self::window`].
    pub fn advance(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.want);
    }

    /// The payload (without its CRLF) as `Bytes`, sharing this allocation.
    pub fn into_bytes(mut self) -> Bytes {
        self.buf.truncate(self.want - 2);
        Bytes::from(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_to_the_announced_length_without_copying() {
        let mut a = BigArg::new(5, b"ab");
        assert_eq!(a.filled(), 2);
        let w = a.window();
        assert_eq!(w.len(), 5);
        w[..5].copy_from_slice(b"cde\r\n");
        a.advance(5);
        assert!(a.is_full());
        let ptr = a.buf.as_ptr();
        let b = a.into_bytes();
        assert_eq!(&b[..], b"abcde");
        assert_eq!(b.as_ptr(), ptr);
    }

    #[test]
    fn extra_received_bytes_are_not_taken() {
        let a = BigArg::new(1, b"x\r\nPING\r\n");
        assert!(a.is_full());
        assert_eq!(&a.into_bytes()[..], b"x");
    }
}
