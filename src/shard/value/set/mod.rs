//! The set type: its two encodings, `TYPE`/`OBJECT ENCODING` names, memory
//! use, RDB payloads and AOF-rewrite form.
//!
//! - `intset`: a set whose members are all integers (in canonical decimal
//!   form) and at most `set-max-intset-entries` of them, kept as Redis's
//!   intset bytes (persist/rdb/intset.rs), so RDB type 11 and DUMP are a
//!   copy and SMEMBERS is in ascending order, as Redis answers.
//! - `hashtable`: everything else, in a [`MemberTable`] (table.rs).
//!
//! Conversion follows Redis 7.0 and is one way: an intset becomes a table
//! when a non-integer member is added or its count would pass the limit;
//! a table never goes back. Results built from scratch (the STORE forms,
//! RDB load) start as an intset and convert as members are added, which
//! ends in the same encoding as Redis's `setTypeAdd` loops.
//!
//! Invariant: a stored set is never empty (commands delete an emptied key).

pub mod table;

use super::{rewrite_in_chunks, EncodingLimits, Value, ValueType};
use crate::persist::rdb::intset;
use crate::persist::rdb::read::{RawString, RdbReader};
use crate::persist::rdb::write::{encode_len, encode_string};
use crate::persist::rdb::{op, RdbError};
use crate::protocol::parser::parse_i64;
use rand::Rng;
pub use table::MemberTable;

/// Redis caps `set-max-intset-entries` at 2^30 (intset internals).
const INTSET_CAP: usize = 1 << 30;

/// AOF rewrite: members per `SADD`.
pub const REWRITE_CHUNK: usize = 64;

/// A member as an intset holds it: the canonical decimal form of an i64
/// (Redis's `string2ll`: no sign on zero, no leading zeros, no `+`).
pub fn as_int(m: &[u8]) -> Option<i64> {
    if m.len() > 20 {
        return None;
    }
    parse_i64(m)
}

/// A set value (see the module comment).
#[derive(Clone)]
pub struct Set(Repr);

#[derive(Clone)]
enum Repr {
    Ints(Vec<u8>),
    Table(MemberTable),
}

/// A member as stored: an intset integer or a table member's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRef<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl MemberRef<'_> {
    /// Runs `f` over the member's bytes (integers formatted on the stack).
    pub fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            MemberRef::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            MemberRef::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with(<[u8]>::to_vec)
    }
}

/// The members of a set, in its order (ascending for an intset).
pub enum Iter<'a> {
    Ints(&'a [u8], usize),
    Table(table::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = MemberRef<'a>;

    fn next(&mut self) -> Option<MemberRef<'a>> {
        match self {
            Iter::Ints(b, i) => {
                if *i >= intset::len(b) {
                    return None;
                }
                *i += 1;
                Some(MemberRef::Int(intset::get(b, *i - 1)))
            }
            Iter::Table(t) => t.next().map(MemberRef::Bytes),
        }
    }
}

impl Set {
    /// An empty set for a first member `m` (Redis's `setTypeCreate`):
    /// an intset when `m` is an integer.
    pub fn for_member(m: &[u8]) -> Set {
        if as_int(m).is_some() {
            Set(Repr::Ints(intset::new()))
        } else {
            Set(Repr::Table(MemberTable::new()))
        }
    }

    /// An empty set that starts as an intset (the STORE forms' result).
    pub fn empty_intset() -> Set {
        Set(Repr::Ints(intset::new()))
    }

    /// A set of `members` (duplicates ignored), encoded as adding them one
    /// by one to an empty intset would leave it.
    pub fn build<'m>(members: impl IntoIterator<Item = &'m [u8]>, limits: &EncodingLimits) -> Set {
        let mut s = Set::empty_intset();
        for m in members {
            s.add(m, limits);
        }
        s
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Ints(b) => intset::len(b),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_intset(&self) -> bool {
        matches!(self.0, Repr::Ints(_))
    }

    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Ints(b) => Iter::Ints(b, 0),
            Repr::Table(t) => Iter::Table(t.iter()),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.0 {
            Repr::Ints(b) => as_int(m).is_some_and(|v| intset::find(b, v).is_ok()),
            Repr::Table(t) => t.contains(m),
        }
    }

    /// Adds `m`; false when it was a member. Converts an intset to a table
    /// for a non-integer, or when the count passes the limit.
    pub fn add(&mut self, m: &[u8], limits: &EncodingLimits) -> bool {
        match &mut self.0 {
            Repr::Ints(b) => match as_int(m) {
                Some(v) => {
                    if !intset::insert(b, v) {
                        return false;
                    }
                    if intset::len(b) > limits.set_max_intset_entries.min(INTSET_CAP) {
                        self.convert(0);
                    }
                    true
                }
                None => {
                    self.convert(1);
                    self.add(m, limits)
                }
            },
            Repr::Table(t) => t.insert(m),
        }
    }

    /// Turns an intset into a table with room for `extra` more members.
    fn convert(&mut self, extra: usize) {
        let Repr::Ints(b) = &self.0 else {
            return;
        };
        let mut t = MemberTable::with_capacity(intset::len(b) + extra);
        for v in intset::iter(b) {
            t.insert_new(itoa::Buffer::new().format(v).as_bytes());
        }
        self.0 = Repr::Table(t);
    }

    /// Removes `m`; false when it was not a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Ints(b) => as_int(m).is_some_and(|v| intset::remove(b, v)),
            Repr::Table(t) => t.remove(m),
        }
    }

    /// A random member (None when empty).
    pub fn random(&self, rng: &mut impl Rng) -> Option<MemberRef<'_>> {
        match &self.0 {
            Repr::Ints(b) => {
                let n = intset::len(b);
                (n > 0).then(|| MemberRef::Int(intset::get(b, rng.gen_range(0..n))))
            }
            Repr::Table(t) => t.random(rng).map(MemberRef::Bytes),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        let m = self.random(rng)?.to_vec();
        self.remove(&m);
        Some(m)
    }

    /// SSCAN's step from `cursor`: visits members until at least `count`
    /// were seen (an intset is visited whole, as Redis does), returns the
    /// next cursor (0: done).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(MemberRef<'_>)) -> u64 {
        match &self.0 {
            Repr::Ints(b) => {
                intset::iter(b).for_each(|v| f(MemberRef::Int(v)));
                0
            }
            Repr::Table(t) => {
                let (mut cursor, mut seen) = (cursor, 0usize);
                // Redis bounds the buckets visited to count * 10.
                let mut budget = count.saturating_mul(10).max(1);
                loop {
                    cursor = t.scan(cursor, |m| {
                        seen += 1;
                        f(MemberRef::Bytes(m));
                    });
                    budget -= 1;
                    if cursor == 0 || seen >= count || budget == 0 {
                        return cursor;
                    }
                }
            }
        }
    }

    /// Heap bytes held: the intset's buffer, or the table's buckets and nodes.
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Ints(b) => b.capacity(),
            Repr::Table(t) => t.heap_bytes(),
        }
    }

    /// The intset bytes, when this is one (DUMP, tests).
    pub fn intset_bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Ints(b) => Some(b),
            Repr::Table(_) => None,
        }
    }

    /// Loads RDB type 2 (count, members) as Redis's loader: an intset while
    /// the members are integers and the count fits the limit, else a table;
    /// a duplicate member or an empty set is malformed.
    fn read_members(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<Set, RdbError> {
        let n = r.read_len()?;
        if n == 0 {
            return Err(r.empty_key());
        }
        let mut s = if n as usize <= limits.set_max_intset_entries.min(INTSET_CAP) {
            Set::empty_intset()
        } else {
            // Capacity hint only: never more than the input could hold.
            Set(Repr::Table(MemberTable::with_capacity(
                (n as usize).min(1 << 20),
            )))
        };
        for _ in 0..n {
            let added = match r.read_string()? {
                RawString::Int(v) => s.add(itoa::Buffer::new().format(v).as_bytes(), limits),
                RawString::Slice(b) => s.add(b, limits),
                RawString::Owned(b) => s.add(&b, limits),
            };
            if !added {
                return Err(r.corrupt("duplicate set member"));
            }
        }
        Ok(s)
    }

    /// Loads RDB type 11 (intset bytes), converting past the limit.
    fn read_intset(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<Set, RdbError> {
        let bytes = match r.read_string()? {
            RawString::Slice(b) => b.to_vec(),
            RawString::Owned(b) => b,
            RawString::Int(_) => return Err(r.corrupt("intset stored as an integer")),
        };
        if intset::validate(&bytes).is_err() {
            return Err(r.corrupt("bad intset"));
        }
        let mut b = bytes;
        b.shrink_to_fit();
        let mut s = Set(Repr::Ints(b));
        if s.len() > limits.set_max_intset_entries.min(INTSET_CAP) {
            s.convert(0);
        }
        Ok(s)
    }
}

impl ValueType for Set {
    const NAME: &'static str = "set";

    fn encoding(&self) -> &'static str {
        match self.0 {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    fn mem_usage(&self) -> usize {
        std::mem::size_of::<Set>() + self.heap_bytes()
    }

    fn rdb_type(&self) -> u8 {
        match self.0 {
            Repr::Ints(_) => op::TYPE_SET_INTSET,
            Repr::Table(_) => op::TYPE_SET,
        }
    }

    fn write_rdb(&self, out: &mut Vec<u8>) {
        let _ = self.write_rdb_part(out, 0, usize::MAX);
    }

    /// A table's parts are its buckets (about one member each); an intset
    /// is one part.
    fn rdb_parts(&self) -> usize {
        match &self.0 {
            Repr::Ints(_) => 1,
            Repr::Table(t) => t.bucket_count().max(1),
        }
    }

    /// Type 11: the intset bytes as one string; type 2: count, members.
    fn write_rdb_part(&self, out: &mut Vec<u8>, from: usize, max: usize) -> Option<usize> {
        match &self.0 {
            Repr::Ints(b) => {
                encode_len(out, b.len() as u64);
                out.extend_from_slice(b);
            }
            Repr::Table(t) => {
                if from == 0 {
                    encode_len(out, t.len() as u64);
                }
                for m in t.iter_buckets(from, max) {
                    encode_string(out, m);
                }
                let next = from.saturating_add(max);
                return (next < t.bucket_count()).then_some(next);
            }
        }
        None
    }

    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        limits: &EncodingLimits,
    ) -> Option<Result<Value, RdbError>> {
        let set = match rdb_type {
            op::TYPE_SET => Set::read_members(r, limits),
            op::TYPE_SET_INTSET => Set::read_intset(r, limits),
            _ => return None,
        };
        Some(set.map(|s| Value::Set(Box::new(s))))
    }

    /// `DEL key`, `SADD key m…` in chunks of [`REWRITE_CHUNK`], then
    /// `PEXPIREAT`.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        let members = self.iter().map(|m| m.to_vec());
        rewrite_in_chunks(b"SADD", key, members, REWRITE_CHUNK, expire_at_ms, emit);
    }
}

impl PartialEq for Set {
    /// Same encoding and the same members.
    fn eq(&self, other: &Set) -> bool {
        self.is_intset() == other.is_intset()
            && self.len() == other.len()
            && self.iter().all(|m| m.with(|b| other.contains(b)))
    }
}

impl Eq for Set {}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Ints(b) => f
                .debug_tuple("Intset")
                .field(&intset::iter(b).collect::<Vec<_>>())
                .finish(),
            Repr::Table(t) => f.debug_tuple("Hashtable").field(t).finish(),
        }
    }
}

#[cfg(test)]
mod tests;
