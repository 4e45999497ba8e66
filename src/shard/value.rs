//! Stored values as pure data structures.
//!
//! Strings keep Redis's integer encoding: a value that is the canonical decimal
//! form of an i64 is stored as the integer itself (no allocation, fast INCR).
//! A big string that arrived as a big bulk keeps the buffer it was read into
//! ([`Value::Shared`]): storing it copies nothing; a write to it copies it out.

use crate::protocol::parser::parse_i64;
use bytes::Bytes;

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

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Bytes(_) | Value::Shared(_) => "string",
        }
    }

    /// True for every string encoding.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Bytes(_) | Value::Shared(_))
    }

    /// Approximate heap + inline bytes used, for memory accounting.
    pub fn mem_usage(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Bytes(b) => b.capacity(),
            Value::Shared(b) => b.len(),
        }
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
}
