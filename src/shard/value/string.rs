//! The string type: its `TYPE`/`OBJECT ENCODING` names, memory use, RDB
//! payload and AOF-rewrite form.
//!
//! A string has three in-memory encodings, all variants of
//! [`Value`]: `Int` (canonical decimal form of an i64, reported
//! as `int`), `Bytes` (owned) and `Shared` (the buffer a big bulk was read
//! into). `OBJECT ENCODING` reports `embstr` for non-integer strings of at
//! most [`EMBSTR_MAX`] bytes and `raw` above, as Redis 7.0 does for values set
//! by SET.

use super::{Value, ValueType};
use crate::persist::aof::encode_set_argv;
use crate::persist::rdb::read::{RawString, RdbReader};
use crate::persist::rdb::write::{encode_int, encode_string};
use crate::persist::rdb::{op, RdbError};
use bytes::Bytes;

/// The longest string Redis 7.0 stores as `embstr`.
pub const EMBSTR_MAX: usize = 44;

/// A borrowed view of a string value in one of its encodings.
pub enum Str<'a> {
    Int(i64),
    Owned(&'a Vec<u8>),
    Shared(&'a Bytes),
}

impl Str<'_> {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            Str::Owned(b) => f(b),
            Str::Shared(b) => f(b),
        }
    }
}

impl ValueType for Str<'_> {
    const NAME: &'static str = "string";

    fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Owned(b) if b.len() <= EMBSTR_MAX => "embstr",
            Str::Shared(b) if b.len() <= EMBSTR_MAX => "embstr",
            Str::Owned(_) | Str::Shared(_) => "raw",
        }
    }

    /// Heap bytes held beyond the entry itself (an integer holds none).
    fn mem_usage(&self) -> usize {
        match self {
            Str::Int(_) => 0,
            Str::Owned(b) => b.capacity(),
            Str::Shared(b) => b.len(),
        }
    }

    fn rdb_type(&self) -> u8 {
        op::TYPE_STRING
    }

    /// A string record's payload: integers in the INT8/16/32 encodings when
    /// they fit, else their decimal form (so bytes round-trip exactly).
    fn write_rdb(&self, out: &mut Vec<u8>) {
        match self {
            Str::Int(n) => {
                if !encode_int(out, *n) {
                    encode_string(out, itoa::Buffer::new().format(*n).as_bytes());
                }
            }
            Str::Owned(b) => encode_string(out, b),
            Str::Shared(b) => encode_string(out, b),
        }
    }

    fn read_rdb(rdb_type: u8, r: &mut RdbReader<'_>) -> Option<Result<Value, RdbError>> {
        if rdb_type != op::TYPE_STRING {
            return None;
        }
        Some(r.read_string().map(|s| match s {
            RawString::Int(n) => Value::Int(n),
            RawString::Slice(b) => Value::string(b),
            // Only short outputs can be integers; avoid copying big ones.
            RawString::Owned(b) if b.len() <= 20 => Value::string(&b),
            RawString::Owned(b) => Value::Bytes(b),
        }))
    }

    /// One `SET key value [PXAT ms]`.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        self.with_bytes(|v| encode_set_argv(key, v, expire_at_ms, emit));
    }
}
