//! The string type: its in-memory encodings, `TYPE`/`OBJECT ENCODING`
//! names, memory use, RDB payload and AOF-rewrite form.
//!
//! A [`Str`] is 16 bytes (so an entry is 40) and has these representations:
//!
//! - `Int`: the canonical decimal form of an i64, held as the integer
//!   (no allocation, fast INCR); reported as `int`.
//! - `Inline`: up to [`INLINE_MAX`] (14) bytes inside the value itself.
//! - `Fixed16`/`Fixed24`/`Fixed32`: a string of 15 to 32 bytes built whole,
//!   in a heap array of the smallest of those sizes (no header: its length
//!   is kept in the value), so a 16-byte value costs 16 heap bytes.
//! - `Heap`: a longer string built whole (SET, GETSET, INCRBYFLOAT, RDB):
//!   one allocation (`ThinVec`: a 16-byte header and the bytes).
//! - `Raw`: a string changed in place by APPEND or SETRANGE (or SETRANGE on a
//!   new key), kept growable; reported as `raw` at any length, as Redis does
//!   after `dbUnshareStringValue`.
//! - `Shared`: the buffer a big bulk argument was read into (no copy); a
//!   write copies it out into `Raw`.
//!
//! `OBJECT ENCODING` follows Redis 7.0: `int`; `embstr` for other strings of
//! at most [`EMBSTR_MAX`] bytes built whole; `raw` for longer ones and for
//! every string modified in place. The name is a function of the
//! representation (and length), so the encoding flag costs no extra byte.
//!
//! Invariant: the unused bytes of an `Inline` or `Fixed*` buffer are zero
//! (derived equality compares the whole buffer), and a `Fixed*` string's
//! length is above what the next smaller form holds.

use super::{EncodingLimits, Value, ValueType};
use crate::persist::aof::encode_set_argv;
use crate::persist::rdb::read::{RawString, RdbReader};
use crate::persist::rdb::write::{encode_int, encode_string};
use crate::persist::rdb::{op, RdbError};
use crate::protocol::parser::parse_i64;
use bytes::Bytes;
use thin_vec::ThinVec;

/// The longest string Redis 7.0 stores as `embstr`.
pub const EMBSTR_MAX: usize = 44;

/// The longest string held inside the value (no allocation).
pub const INLINE_MAX: usize = 14;

/// The longest string that may be an integer (`-9223372036854775808`).
const MAX_INT_LEN: usize = 20;

/// Bytes of a `ThinVec`'s heap header (length and capacity).
const THIN_HEADER: usize = 2 * std::mem::size_of::<usize>();

/// A string value (see the module comment for its representations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str(Repr);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Int(i64),
    Inline { len: u8, buf: [u8; INLINE_MAX] },
    // Length and box as variant fields (not a struct) so they share the
    // 16 bytes with the tag.
    Fixed16 { len: u8, buf: Box<[u8; 16]> },
    Fixed24 { len: u8, buf: Box<[u8; 24]> },
    Fixed32 { len: u8, buf: Box<[u8; 32]> },
    Heap(ThinVec<u8>),
    Raw(ThinVec<u8>),
    Shared(Box<Bytes>),
}

/// `data` (at most `N` bytes; callers pick `N` by length) in a heap array
/// of exactly `N`, and its length.
fn fixed<const N: usize>(data: &[u8]) -> (u8, Box<[u8; N]>) {
    let mut buf = Box::new([0u8; N]);
    let len = data.len().min(N);
    buf[..len].copy_from_slice(&data[..len]);
    (len as u8, buf)
}

const _: () = assert!(std::mem::size_of::<Str>() == 16);

/// Heap bytes a `ThinVec` holds (none while it has never allocated).
fn thin_bytes(v: &ThinVec<u8>) -> usize {
    match v.capacity() {
        0 => 0,
        cap => THIN_HEADER + cap,
    }
}

fn thin_from(data: &[u8]) -> ThinVec<u8> {
    let mut v = ThinVec::with_capacity(data.len());
    v.extend_from_slice(data);
    v
}

impl Str {
    /// The integer encoding.
    pub fn int(n: i64) -> Str {
        Str(Repr::Int(n))
    }

    /// A string built whole: the integer encoding when `data` is the
    /// canonical form of an i64, else inline or on the heap (`embstr`/`raw`
    /// by length).
    pub fn new(data: &[u8]) -> Str {
        if data.len() <= MAX_INT_LEN {
            if let Some(n) = parse_i64(data) {
                return Str(Repr::Int(n));
            }
        }
        Str::bytes(data)
    }

    /// A string built whole that never takes the integer encoding (INCRBYFLOAT).
    pub fn bytes(data: &[u8]) -> Str {
        if data.len() <= INLINE_MAX {
            let mut buf = [0u8; INLINE_MAX];
            buf[..data.len()].copy_from_slice(data);
            return Str(Repr::Inline {
                len: data.len() as u8,
                buf,
            });
        }
        Str(match data.len() {
            15..=16 => {
                let (len, buf) = fixed(data);
                Repr::Fixed16 { len, buf }
            }
            17..=24 => {
                let (len, buf) = fixed(data);
                Repr::Fixed24 { len, buf }
            }
            25..=32 => {
                let (len, buf) = fixed(data);
                Repr::Fixed32 { len, buf }
            }
            _ => Repr::Heap(thin_from(data)),
        })
    }

    /// A string built in place (SETRANGE on a new key): reported `raw`.
    pub fn raw(data: &[u8]) -> Str {
        Str(Repr::Raw(thin_from(data)))
    }

    /// A big bulk's own buffer, kept without copying.
    pub fn shared(b: Bytes) -> Str {
        Str(Repr::Shared(Box::new(b)))
    }

    /// The integer, when the string is in the integer encoding.
    pub fn as_int(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(n) => Some(n),
            _ => None,
        }
    }

    /// Runs `f` over the string's bytes (integers are formatted on the stack).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match &self.0 {
            Repr::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            other => f(Str::slice_of(other).unwrap_or_default()),
        }
    }

    fn slice_of(repr: &Repr) -> Option<&[u8]> {
        match repr {
            Repr::Int(_) => None,
            Repr::Inline { len, buf } => Some(&buf[..*len as usize]),
            Repr::Fixed16 { len, buf } => buf.get(..*len as usize),
            Repr::Fixed24 { len, buf } => buf.get(..*len as usize),
            Repr::Fixed32 { len, buf } => buf.get(..*len as usize),
            Repr::Heap(b) | Repr::Raw(b) => Some(b),
            Repr::Shared(b) => Some(b),
        }
    }

    /// The string's bytes when stored as bytes (`None` for an integer).
    pub fn as_slice(&self) -> Option<&[u8]> {
        Str::slice_of(&self.0)
    }

    /// The string's length in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Int(n) => itoa::Buffer::new().format(*n).len(),
            other => Str::slice_of(other).map_or(0, <[u8]>::len),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts the string to the in-place (`raw`) form and returns its
    /// buffer, as Redis's `dbUnshareStringValue`.
    pub fn make_raw(&mut self) -> &mut ThinVec<u8> {
        let raw = match std::mem::replace(&mut self.0, Repr::Int(0)) {
            Repr::Raw(b) | Repr::Heap(b) => b,
            other => Str(other).with_bytes(thin_from),
        };
        self.0 = Repr::Raw(raw);
        let Repr::Raw(b) = &mut self.0 else {
            unreachable!("set to Raw just above")
        };
        b
    }

    /// Heap bytes the string holds beyond its 24 bytes (0 when inline).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Int(_) | Repr::Inline { .. } => 0,
            Repr::Fixed16 { .. } => 16,
            Repr::Fixed24 { .. } => 24,
            Repr::Fixed32 { .. } => 32,
            Repr::Heap(b) | Repr::Raw(b) => thin_bytes(b),
            Repr::Shared(b) => std::mem::size_of::<Bytes>() + b.len(),
        }
    }

    /// Bytes of data proper: the inline bytes used (8 for an integer) or the
    /// heap bytes; what is left of the 24 is overhead.
    pub fn payload_bytes(&self) -> usize {
        match &self.0 {
            Repr::Int(_) => std::mem::size_of::<i64>(),
            Repr::Inline { len, .. } => *len as usize,
            _ => self.heap_bytes(),
        }
    }
}

impl ValueType for Str {
    const NAME: &'static str = "string";

    fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Int(_) => "int",
            Repr::Inline { .. }
            | Repr::Fixed16 { .. }
            | Repr::Fixed24 { .. }
            | Repr::Fixed32 { .. } => "embstr",
            Repr::Raw(_) => "raw",
            Repr::Heap(b) if b.len() <= EMBSTR_MAX => "embstr",
            Repr::Shared(b) if b.len() <= EMBSTR_MAX => "embstr",
            Repr::Heap(_) | Repr::Shared(_) => "raw",
        }
    }

    fn mem_usage(&self) -> usize {
        self.heap_bytes()
    }

    fn rdb_type(&self) -> u8 {
        op::TYPE_STRING
    }

    /// A string record's payload: integers in the INT8/16/32 encodings when
    /// they fit, else their decimal form (so bytes round-trip exactly).
    fn write_rdb(&self, out: &mut Vec<u8>) {
        if let Repr::Int(n) = self.0 {
            if encode_int(out, n) {
                return;
            }
        }
        self.with_bytes(|b| encode_string(out, b));
    }

    /// Strings loaded from RDB: `int` when they parse, else built whole.
    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        _limits: &EncodingLimits,
    ) -> Option<Result<Value, RdbError>> {
        if rdb_type != op::TYPE_STRING {
            return None;
        }
        Some(r.read_string().map(|s| {
            Value::Str(match s {
                RawString::Int(n) => Str::int(n),
                RawString::Slice(b) => Str::new(b),
                RawString::Owned(b) => Str::new(&b),
            })
        }))
    }

    /// One `SET key value [PXAT ms]`.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        self.with_bytes(|v| encode_set_argv(key, v, expire_at_ms, emit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn representations_and_encodings() {
        assert_eq!(Str::new(b"123"), Str::int(123));
        assert_eq!(Str::new(b"0123").encoding(), "embstr");
        assert_eq!(Str::new(b"-0").as_int(), None);
        assert_eq!(Str::new(&[b'a'; 14]).heap_bytes(), 0);
        assert_eq!(Str::new(&[b'a'; 15]).heap_bytes(), 16);
        assert_eq!(Str::new(&[b'a'; 16]).heap_bytes(), 16);
        assert_eq!(Str::new(&[b'a'; 17]).heap_bytes(), 24);
        assert_eq!(Str::new(&[b'a'; 32]).heap_bytes(), 32);
        assert_eq!(Str::new(&[b'a'; 33]).heap_bytes(), THIN_HEADER + 33);
        for n in 0..60 {
            let data: Vec<u8> = (0..n as u8).collect();
            let s = Str::bytes(&data);
            assert_eq!(s.as_slice(), Some(&data[..]));
            assert_eq!(s.len(), n);
        }
        assert_eq!(Str::new(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::new(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Str::bytes(b"1").encoding(), "embstr");
        assert_eq!(Str::raw(b"ab").encoding(), "raw");
        assert_eq!(Str::shared(Bytes::from(vec![1; 30])).encoding(), "embstr");
        assert_eq!(Str::shared(Bytes::from(vec![1; 50])).encoding(), "raw");
    }

    #[test]
    fn make_raw_keeps_the_bytes() {
        for mut s in [
            Str::int(-42),
            Str::new(b"abc"),
            Str::new(&[b'x'; 30]),
            Str::shared(Bytes::from(vec![b'y'; 40])),
        ] {
            let before = s.with_bytes(|b| b.to_vec());
            s.make_raw().push(b'!');
            assert_eq!(s.encoding(), "raw");
            assert_eq!(s.as_slice().map(|b| b.len()), Some(before.len() + 1));
            assert_eq!(s.len(), before.len() + 1);
        }
    }
}
