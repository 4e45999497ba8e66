//! Stored values: the [`Value`] enum and the only `match`es on it.
//!
//! Each data type lives in its own module (`string.rs` now) and implements
//! [`ValueType`]: its `TYPE` name, `OBJECT ENCODING`, memory use, RDB payload
//! and AOF-rewrite form. Every method here dispatches through
//! [`Value::typed`], so a new variant that lacks an implementation is a
//! compile error, not a silent omission.
//!
//! Strings keep Redis's integer encoding: a value that is the canonical decimal
//! form of an i64 is stored as the integer itself (no allocation, fast INCR).
//! A big string that arrived as a big bulk keeps the buffer it was read into
//! ([`Value::Shared`]): storing it copies nothing; a write to it copies it out.

pub mod string;

use crate::persist::rdb::read::{RdbDecode, RdbReader};
use crate::persist::rdb::write::RdbPayload;
use crate::persist::rdb::RdbError;
use crate::protocol::parser::parse_i64;
use bytes::Bytes;
use string::Str;

/// What every data type declares, in its own module.
pub trait ValueType {
    /// The name `TYPE` reports.
    const NAME: &'static str;
    /// The name `OBJECT ENCODING` reports.
    fn encoding(&self) -> &'static str;
    /// Heap bytes the value holds beyond its entry.
    fn mem_usage(&self) -> usize;
    /// The RDB type byte written before the key.
    fn rdb_type(&self) -> u8;
    /// Appends the RDB payload that follows the type byte and the key.
    fn write_rdb(&self, out: &mut Vec<u8>);
    /// Reads a payload of `rdb_type`; `None` when the type is not this one.
    fn read_rdb(rdb_type: u8, r: &mut RdbReader<'_>) -> Option<Result<Value, RdbError>>;
    /// Emits the commands that rebuild the value under `key` with absolute
    /// expiry `expire_at_ms` (0 = none), for the AOF. Several commands are
    /// grouped by the journal so replay applies all or none.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]]));
}

/// A value seen as its type: one variant per [`ValueType`].
pub enum Typed<'a> {
    Str(Str<'a>),
}

/// A stored value. Other Redis types join this enum as they are implemented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string holding the canonical decimal form of this integer.
    Int(i64),
    /// Any other string (binary safe).
    Bytes(Vec<u8>),
    /// A string stored in the buffer its big bulk argument was read into.
    Shared(Bytes),
}

impl Value {
    /// Builds a string value, choosing the integer encoding when it round-trips.
    pub fn string(data: &[u8]) -> Value {
        if data.len() <= 20 {
            if let Some(n) = parse_i64(data) {
                return Value::Int(n);
            }
        }
        Value::Bytes(data.to_vec())
    }

    /// Builds a string value from an argument: its own buffer when it came
    /// as a big bulk (`shared`, no copy), else as [`Value::string`].
    pub fn from_arg(data: &[u8], shared: Option<&Bytes>) -> Value {
        match shared {
            Some(b) if b.len() > 20 => Value::Shared(b.clone()),
            _ => Value::string(data),
        }
    }

    /// The value as its type's view. The one place new variants are mapped.
    pub fn typed(&self) -> Typed<'_> {
        match self {
            Value::Int(n) => Typed::Str(Str::Int(*n)),
            Value::Bytes(b) => Typed::Str(Str::Owned(b)),
            Value::Shared(b) => Typed::Str(Str::Shared(b)),
        }
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self.typed() {
            Typed::Str(_) => Str::NAME,
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self.typed() {
            Typed::Str(s) => s.encoding(),
        }
    }

    /// The RDB type byte.
    pub fn rdb_type(&self) -> u8 {
        match self.typed() {
            Typed::Str(s) => s.rdb_type(),
        }
    }

    /// Appends the RDB payload (after the type byte and key).
    pub fn write_rdb(&self, out: &mut Vec<u8>) {
        match self.typed() {
            Typed::Str(s) => s.write_rdb(out),
        }
    }

    /// Reads a value of `rdb_type`, or `None` for a type ringkv lacks.
    pub fn read_rdb(rdb_type: u8, r: &mut RdbReader<'_>) -> Option<Result<Value, RdbError>> {
        Str::read_rdb(rdb_type, r)
    }

    /// Emits the commands that rebuild this value under `key` with that expiry.
    pub fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        match self.typed() {
            Typed::Str(s) => s.rewrite(key, expire_at_ms, emit),
        }
    }

    /// True for every string encoding.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Bytes(_) | Value::Shared(_))
    }

    /// Heap bytes held beyond the entry, for memory accounting.
    pub fn mem_usage(&self) -> usize {
        match self.typed() {
            Typed::Str(s) => s.mem_usage(),
        }
    }
}

/// How `persist::rdb` writes a value without knowing its types.
impl RdbPayload for Value {
    fn rdb_type(&self) -> u8 {
        Value::rdb_type(self)
    }

    fn write_rdb(&self, out: &mut Vec<u8>) {
        Value::write_rdb(self, out)
    }
}

/// How `persist::rdb` reads a value without knowing its types.
impl RdbDecode for Value {
    fn read_rdb(rdb_type: u8, r: &mut RdbReader<'_>) -> Option<Result<Value, RdbError>> {
        Value::read_rdb(rdb_type, r)
    }
}

/// A string value's bytes, borrowed or formatted from the integer encoding.
pub enum StrRef<'a> {
    Slice(&'a [u8]),
    Int(itoa::Buffer, i64),
}

impl StrRef<'_> {
    pub fn with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StrRef::Slice(s) => f(s),
            StrRef::Int(buf, n) => f(buf.format(*n).as_bytes()),
        }
    }
}

impl Value {
    /// Borrow the string's bytes (`None` for non-string types).
    pub fn as_str(&self) -> Option<StrRef<'_>> {
        match self {
            Value::Int(n) => Some(StrRef::Int(itoa::Buffer::new(), *n)),
            Value::Bytes(b) => Some(StrRef::Slice(b)),
            Value::Shared(b) => Some(StrRef::Slice(b)),
        }
    }

    /// The string's length in bytes.
    pub fn str_len(&self) -> Option<usize> {
        match self {
            Value::Int(n) => Some(itoa::Buffer::new().format(*n).len()),
            Value::Bytes(b) => Some(b.len()),
            Value::Shared(b) => Some(b.len()),
        }
    }

    /// Converts a string value to the raw encoding and returns its buffer.
    pub fn make_bytes(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            Value::Int(n) => {
                *self = Value::Bytes(itoa::Buffer::new().format(*n).as_bytes().to_vec());
            }
            Value::Shared(b) => {
                // Takes the allocation over when nothing else holds it.
                *self = Value::Bytes(Vec::from(std::mem::take(b)));
            }
            Value::Bytes(_) => {}
        }
        match self {
            Value::Bytes(b) => Some(b),
            Value::Int(_) | Value::Shared(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_encoding_only_for_canonical_forms() {
        assert_eq!(Value::string(b"123"), Value::Int(123));
        assert_eq!(Value::string(b"0123"), Value::Bytes(b"0123".to_vec()));
        assert_eq!(Value::string(b"+1"), Value::Bytes(b"+1".to_vec()));
        assert_eq!(Value::string(b"-0"), Value::Bytes(b"-0".to_vec()));
    }

    #[test]
    fn make_bytes_formats_integers() {
        let mut v = Value::Int(-42);
        v.make_bytes().unwrap().push(b'x');
        assert_eq!(v, Value::Bytes(b"-42x".to_vec()));
        assert_eq!(Value::Int(-42).str_len(), Some(3));
    }

    #[test]
    fn string_encodings_and_rewrite() {
        assert_eq!(Value::Int(5).encoding(), "int");
        assert_eq!(Value::string(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Value::Int(5).type_name(), "string");
        let mut got = Vec::new();
        Value::Int(-7).rewrite(b"k", 0, &mut |argv| {
            got = argv.iter().map(|a| a.to_vec()).collect::<Vec<_>>()
        });
        assert_eq!(got, [b"SET".to_vec(), b"k".to_vec(), b"-7".to_vec()]);
    }
}
