//! A big bulk argument read straight into its own allocation.
//!
//! As Redis does for arguments of `PROTO_MBULK_BIG_ARG` (32 KiB) or more, the
//! connection allocates exactly the announced length (plus the CRLF) once the
//! `$` line is read, and reads the payload into it: no doubling of the query
//! buffer, no copy when the request completes; the buffer becomes the
//! argument's `Bytes` (and a stored value keeps it). From [`MAP_MIN`] on the
//! buffer is a memory map ([`MapBuf`]: zero pages until written, unmapped off
//! the request path); smaller ones are plain zeroed vectors (maps are a
//! limited resource: `vm.max_map_count`).

use crate::runtime::bigbuf::MapBuf;
use bytes::Bytes;

/// Arguments at least this long get a memory map of their own.
pub const MAP_MIN: usize = 1024 * 1024;

enum Buf {
    Vec(Vec<u8>),
    Map(MapBuf),
}

impl Buf {
    fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Buf::Vec(v) => v,
            Buf::Map(m) => m.as_mut_slice(),
        }
    }

    #[cfg(test)]
    fn as_ptr(&self) -> *const u8 {
        match self {
            Buf::Vec(v) => v.as_ptr(),
            Buf::Map(m) => m.as_ref().as_ptr(),
        }
    }
}

/// One big argument being received.
pub struct BigArg {
    buf: Buf,
    filled: usize,
    want: usize,
}

impl BigArg {
    /// A buffer for a payload of `len` bytes plus its CRLF, starting with the
    /// bytes of it already received (`already`, at most `len + 2` are used).
    /// `None` when the memory cannot be mapped.
    pub fn new(len: usize, already: &[u8]) -> Option<BigArg> {
        let want = len + 2;
        let mut buf = if want >= MAP_MIN {
            Buf::Map(MapBuf::new(want)?)
        } else {
            Buf::Vec(vec![0; want])
        };
        let take = already.len().min(want);
        buf.as_mut_slice()[..take].copy_from_slice(&already[..take]);
        Some(BigArg {
            buf,
            filled: take,
            want,
        })
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
        let (from, to) = (self.filled, self.want);
        &mut self.buf.as_mut_slice()[from..to]
    }

    /// `n` bytes were read into [`Self::window`].
    pub fn advance(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.want);
    }

    /// The payload (without its CRLF) as `Bytes` owning this buffer.
    pub fn into_bytes(self) -> Bytes {
        let len = self.want - 2;
        match self.buf {
            Buf::Vec(mut v) => {
                v.truncate(len);
                Bytes::from(v)
            }
            Buf::Map(m) => Bytes::from_owner(m).slice(..len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_to_the_announced_length_without_copying() {
        let mut a = BigArg::new(5, b"ab").unwrap();
        assert_eq!(a.filled(), 2);
        let w = a.window();
        assert_eq!(w.len(), 5);
        w.copy_from_slice(b"cde\r\n");
        a.advance(5);
        assert!(a.is_full());
        let ptr = a.buf.as_ptr();
        let b = a.into_bytes();
        assert_eq!(&b[..], b"abcde");
        assert_eq!(b.as_ptr(), ptr);
    }

    #[test]
    fn big_ones_are_maps() {
        let mut a = BigArg::new(MAP_MIN, b"").unwrap();
        assert!(matches!(a.buf, Buf::Map(_)));
        let n = a.window().len();
        a.window().fill(b'z');
        a.advance(n);
        assert_eq!(a.into_bytes().len(), MAP_MIN);
    }

    #[test]
    fn extra_received_bytes_are_not_taken() {
        let a = BigArg::new(1, b"x\r\nPING\r\n").unwrap();
        assert!(a.is_full());
        assert_eq!(&a.into_bytes()[..], b"x");
    }
}
