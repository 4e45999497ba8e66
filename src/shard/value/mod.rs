//! Stored values: the [`Value`] enum and the only `match`es on it.
//!
//! Each data type lives in its own module (`string.rs` now) and implements
//! [`ValueType`]: its `TYPE` name, `OBJECT ENCODING`, memory use, RDB payload
//! and AOF-rewrite form. Every method here dispatches through
//! [`Value::typed`], so a new variant that lacks an implementation is a
//! compile error, not a silent omission.
//!
//! Strings are one variant, [`Value::Str`], whose encodings (integer,
//! inline, heap, in-place, shared big bulk) are the string module's own
//! business; callers use the helpers below, never the representation.

pub mod hash;
pub mod list;
pub mod set;
pub mod string;
pub mod zset;

use crate::persist::rdb::read::{RdbDecode, RdbReader};
use crate::persist::rdb::write::RdbPayload;
use crate::persist::rdb::RdbError;
use bytes::Bytes;
use hash::Hash;
use list::List;
use set::Set;
use string::Str;
use zset::ZSet;

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
    /// How many parts [`write_rdb_part`](Self::write_rdb_part) writes the
    /// payload in (a collection's buckets, say; 1 for a value written whole).
    fn rdb_parts(&self) -> usize {
        1
    }
    /// Appends the payload's parts `from..from + max` (part 0 brings the
    /// length prefix); returns the next part, or None once the payload is
    /// complete. A snapshot writes a big collection this way, a slice per
    /// step; by default the payload is one part.
    fn write_rdb_part(&self, out: &mut Vec<u8>, from: usize, max: usize) -> Option<usize> {
        let _ = (from, max);
        self.write_rdb(out);
        None
    }
    /// Reads a payload of `rdb_type`; `None` when the type is not this one.
    /// `limits` choose between the compact and the big layout, as the
    /// loading server's settings have them.
    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        limits: &EncodingLimits,
    ) -> Option<Result<Value, RdbError>>;
    /// Emits the commands that rebuild the value under `key` with absolute
    /// expiry `expire_at_ms` (0 = none), for the AOF, replacing whatever
    /// the key holds (a collection starts with `DEL`). Several commands are
    /// grouped by the journal so replay applies all or none.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]]));
}

/// The sizes at which a collection leaves its compact encoding for its
/// big one (Redis's `hash-max-listpack-entries`, `hash-max-listpack-value`,
/// `set-max-intset-entries`), and the shape of list nodes, as the shard's
/// settings have them. Conversion is one way, as in Redis: a value never
/// goes back to its compact form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    /// `zset-max-listpack-entries` and `zset-max-listpack-value`.
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `list-max-listpack-size`: a list node's cap, negative for its bytes
    /// (-1..-5: 4..64 KiB), positive for its element count.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: nodes kept raw at each end of a list, every
    /// node between LZF-compressed; 0 compresses none. A list takes it when
    /// it is made (clamped to 65535, as Redis's quicklist) and keeps it.
    pub list_compress_depth: u16,
    /// `hll-sparse-max-bytes`: a sparse HyperLogLog (header included) that
    /// would grow past this many bytes turns dense.
    pub hll_sparse_max_bytes: usize,
}

impl Default for EncodingLimits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hll_sparse_max_bytes: 3000,
        }
    }
}

impl EncodingLimits {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        EncodingLimits {
            hash_max_listpack_entries: cfg.hash_max_listpack_entries,
            hash_max_listpack_value: cfg.hash_max_listpack_value,
            set_max_intset_entries: cfg.set_max_intset_entries,
            zset_max_listpack_entries: cfg.zset_max_listpack_entries,
            zset_max_listpack_value: cfg.zset_max_listpack_value,
            list_max_listpack_size: cfg.list_max_listpack_size,
            list_compress_depth: cfg.list_compress_depth.clamp(0, u16::MAX as i64) as u16,
            hll_sparse_max_bytes: cfg.hll_sparse_max_bytes,
        }
    }
}

/// The AOF-rewrite form the collections share: `DEL key`, then `cmd key
/// arg…` with at most `per_command` arguments each (copied one command at a
/// time), then `PEXPIREAT key ms` when the key has an expiry.
fn rewrite_in_chunks(
    cmd: &[u8],
    key: &[u8],
    args: impl Iterator<Item = Vec<u8>>,
    per_command: usize,
    expire_at_ms: u64,
    emit: &mut dyn FnMut(&[&[u8]]),
) {
    emit(&[b"DEL", key]);
    let mut args = args.peekable();
    while args.peek().is_some() {
        let chunk: Vec<Vec<u8>> = args.by_ref().take(per_command).collect();
        let mut argv: Vec<&[u8]> = Vec::with_capacity(2 + chunk.len());
        argv.extend_from_slice(&[cmd, key]);
        argv.extend(chunk.iter().map(Vec::as_slice));
        emit(&argv);
    }
    if expire_at_ms != 0 {
        let mut ms = itoa::Buffer::new();
        emit(&[b"PEXPIREAT", key, ms.format(expire_at_ms).as_bytes()]);
    }
}

/// A value seen as its type: one variant per [`ValueType`].
pub enum Typed<'a> {
    Str(&'a Str),
    Hash(&'a Hash),
    Set(&'a Set),
    List(&'a List),
    ZSet(&'a ZSet),
}

/// A stored value. Other Redis types join this enum as they are
/// implemented, each next to `Str`; its size stays 16 bytes (an entry
/// holds it inline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string (see string.rs for its encodings).
    Str(Str),
    /// A hash (see hash/ for its encodings).
    Hash(Box<Hash>),
    /// A set (see set/mod.rs for its encodings).
    Set(Box<Set>),
    /// A list (see list/mod.rs: a quicklist of listpacks).
    List(Box<List>),
    /// A sorted set (see zset/).
    ZSet(Box<ZSet>),
}

const _: () = assert!(std::mem::size_of::<Value>() == 16);

impl Value {
    /// Builds a string value, choosing the integer encoding when it round-trips.
    pub fn string(data: &[u8]) -> Value {
        Value::Str(Str::new(data))
    }

    /// A string in the integer encoding.
    pub fn int(n: i64) -> Value {
        Value::Str(Str::int(n))
    }

    /// A string that never takes the integer encoding (INCRBYFLOAT's result).
    pub fn embstr(data: &[u8]) -> Value {
        Value::Str(Str::bytes(data))
    }

    /// A string built in place (SETRANGE on a missing key): `raw`.
    pub fn raw(data: &[u8]) -> Value {
        Value::Str(Str::raw(data))
    }

    /// Builds a string value from an argument: its own buffer when it came
    /// as a big bulk (`shared`, no copy), else as [`Value::string`].
    pub fn from_arg(data: &[u8], shared: Option<&Bytes>) -> Value {
        match shared {
            Some(b) if b.len() > 20 => Value::Str(Str::shared(b.clone())),
            _ => Value::string(data),
        }
    }

    /// The value as its type's view. The one place new variants are mapped.
    pub fn typed(&self) -> Typed<'_> {
        match self {
            Value::Str(s) => Typed::Str(s),
            Value::Hash(h) => Typed::Hash(h),
            Value::Set(s) => Typed::Set(s),
            Value::List(l) => Typed::List(l),
            Value::ZSet(z) => Typed::ZSet(z),
        }
    }

    /// The string, when this is one.
    pub fn as_string(&self) -> Option<&Str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The hash, when this is one.
    pub fn as_hash(&self) -> Option<&Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The hash, mutably, when this is one.
    pub fn as_hash_mut(&mut self) -> Option<&mut Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The string, mutably, when this is one.
    pub fn as_string_mut(&mut self) -> Option<&mut Str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The set, when this is one.
    pub fn as_set(&self) -> Option<&Set> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The set, mutably, when this is one.
    pub fn as_set_mut(&mut self) -> Option<&mut Set> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The list, when this is one.
    pub fn as_list(&self) -> Option<&List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The list, mutably, when this is one.
    pub fn as_list_mut(&mut self) -> Option<&mut List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The sorted set, when this is one.
    pub fn as_zset(&self) -> Option<&ZSet> {
        match self {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }

    /// The sorted set, mutably, when this is one.
    pub fn as_zset_mut(&mut self) -> Option<&mut ZSet> {
        match self {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self.typed() {
            Typed::Str(_) => Str::NAME,
            Typed::Hash(_) => Hash::NAME,
            Typed::Set(_) => Set::NAME,
            Typed::List(_) => List::NAME,
            Typed::ZSet(_) => ZSet::NAME,
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self.typed() {
            Typed::Str(s) => s.encoding(),
            Typed::Hash(h) => h.encoding(),
            Typed::Set(s) => s.encoding(),
            Typed::List(l) => l.encoding(),
            Typed::ZSet(z) => z.encoding(),
        }
    }

    /// The RDB type byte.
    pub fn rdb_type(&self) -> u8 {
        match self.typed() {
            Typed::Str(s) => s.rdb_type(),
            Typed::Hash(h) => h.rdb_type(),
            Typed::Set(s) => s.rdb_type(),
            Typed::List(l) => l.rdb_type(),
            Typed::ZSet(z) => z.rdb_type(),
        }
    }

    /// Appends the RDB payload (after the type byte and key).
    pub fn write_rdb(&self, out: &mut Vec<u8>) {
        match self.typed() {
            Typed::Str(s) => s.write_rdb(out),
            Typed::Hash(h) => h.write_rdb(out),
            Typed::Set(s) => s.write_rdb(out),
            Typed::List(l) => l.write_rdb(out),
            Typed::ZSet(z) => z.write_rdb(out),
        }
    }

    /// Parts the RDB payload is written in (see [`ValueType::rdb_parts`]).
    pub fn rdb_parts(&self) -> usize {
        match self.typed() {
            Typed::Str(s) => s.rdb_parts(),
            Typed::Hash(h) => h.rdb_parts(),
            Typed::Set(s) => s.rdb_parts(),
            Typed::List(l) => l.rdb_parts(),
            Typed::ZSet(z) => z.rdb_parts(),
        }
    }

    /// Appends parts of the RDB payload (see [`ValueType::write_rdb_part`]).
    pub fn write_rdb_part(&self, out: &mut Vec<u8>, from: usize, max: usize) -> Option<usize> {
        match self.typed() {
            Typed::Str(s) => s.write_rdb_part(out, from, max),
            Typed::Hash(h) => h.write_rdb_part(out, from, max),
            Typed::Set(s) => s.write_rdb_part(out, from, max),
            Typed::List(l) => l.write_rdb_part(out, from, max),
            Typed::ZSet(z) => z.write_rdb_part(out, from, max),
        }
    }

    /// Reads a value of `rdb_type`, or `None` for a type ringkv lacks.
    pub fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        limits: &EncodingLimits,
    ) -> Option<Result<Value, RdbError>> {
        Str::read_rdb(rdb_type, r, limits)
            .or_else(|| Hash::read_rdb(rdb_type, r, limits))
            .or_else(|| Set::read_rdb(rdb_type, r, limits))
            .or_else(|| List::read_rdb(rdb_type, r, limits))
            .or_else(|| ZSet::read_rdb(rdb_type, r, limits))
    }

    /// Emits the commands that rebuild this value under `key` with that expiry.
    pub fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        match self.typed() {
            Typed::Str(s) => s.rewrite(key, expire_at_ms, emit),
            Typed::Hash(h) => h.rewrite(key, expire_at_ms, emit),
            Typed::Set(s) => s.rewrite(key, expire_at_ms, emit),
            Typed::List(l) => l.rewrite(key, expire_at_ms, emit),
            Typed::ZSet(z) => z.rewrite(key, expire_at_ms, emit),
        }
    }

    /// True for every string encoding.
    pub fn is_string(&self) -> bool {
        matches!(self.typed(), Typed::Str(_))
    }

    /// True for a hash.
    pub fn is_hash(&self) -> bool {
        matches!(self.typed(), Typed::Hash(_))
    }

    /// Heap bytes held beyond the entry, for memory accounting.
    pub fn mem_usage(&self) -> usize {
        match self.typed() {
            Typed::Str(s) => s.mem_usage(),
            Typed::Hash(h) => h.mem_usage(),
            Typed::Set(s) => s.mem_usage(),
            Typed::List(l) => l.mem_usage(),
            Typed::ZSet(z) => z.mem_usage(),
        }
    }

    /// Bytes of data proper (inline bytes used, or heap bytes): the part of
    /// [`Value::mem_usage`] plus the value's 16 bytes that is not overhead.
    pub fn payload_bytes(&self) -> usize {
        match self.typed() {
            Typed::Str(s) => s.payload_bytes(),
            Typed::Hash(h) => h.payload_bytes(),
            Typed::Set(s) => s.mem_usage(),
            Typed::List(l) => l.payload_bytes(),
            Typed::ZSet(z) => z.mem_usage(),
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
    type Settings = EncodingLimits;

    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        limits: EncodingLimits,
    ) -> Option<Result<Value, RdbError>> {
        Value::read_rdb(rdb_type, r, &limits)
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
        let s = self.as_string()?;
        Some(match (s.as_slice(), s.as_int()) {
            (Some(b), _) => StrRef::Slice(b),
            (None, n) => StrRef::Int(itoa::Buffer::new(), n.unwrap_or(0)),
        })
    }

    /// The string's length in bytes.
    pub fn str_len(&self) -> Option<usize> {
        self.as_string().map(Str::len)
    }

    /// The integer of a string in the integer encoding.
    pub fn as_int(&self) -> Option<i64> {
        self.as_string()?.as_int()
    }

    /// Converts a string value to the in-place (`raw`) form and returns its
    /// buffer (`None` for non-string types).
    pub fn make_raw(&mut self) -> Option<&mut thin_vec::ThinVec<u8>> {
        self.as_string_mut().map(Str::make_raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_encoding_only_for_canonical_forms() {
        assert_eq!(Value::string(b"123"), Value::int(123));
        assert_eq!(Value::string(b"0123").as_int(), None);
        assert_eq!(Value::string(b"+1").as_int(), None);
        assert_eq!(Value::string(b"-0").as_int(), None);
        assert_eq!(Value::embstr(b"7").as_int(), None);
    }

    #[test]
    fn make_raw_formats_integers() {
        let mut v = Value::int(-42);
        v.make_raw().unwrap().push(b'x');
        assert_eq!(v.as_str().unwrap().with(|b| b.to_vec()), b"-42x");
        assert_eq!(v.encoding(), "raw");
        assert_eq!(Value::int(-42).str_len(), Some(3));
    }

    #[test]
    fn string_encodings_and_rewrite() {
        assert_eq!(Value::int(5).encoding(), "int");
        assert_eq!(Value::string(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Value::int(5).type_name(), "string");
        let mut got = Vec::new();
        Value::int(-7).rewrite(b"k", 0, &mut |argv| {
            got = argv.iter().map(|a| a.to_vec()).collect::<Vec<_>>()
        });
        assert_eq!(got, [b"SET".to_vec(), b"k".to_vec(), b"-7".to_vec()]);
    }
}
