//! The hash type's [`ValueType`] face: names, memory, RDB payloads and the
//! AOF-rewrite form.
//!
//! Written: a listpack as RDB type 16 (its bytes as one string, a copy);
//! a table as type 4 (count, then field and value strings).
//! Read: 4, 16 and the older 13 (ziplist) and 9 (zipmap), choosing the
//! encoding as Redis 7.0's loader does (`rdbLoadObject`): type 4 builds a
//! listpack while the count is at most `hash-max-listpack-entries` and no
//! string is longer than `hash-max-listpack-value`; 16 and 13 stay listpacks
//! unless the count is over the entries limit; 9 also converts on a long
//! string. The limits are the loading server's settings, passed in. Every payload is validated fully
//! (structure, even element count, no duplicate field, not empty): a bad
//! one is an [`RdbError`], never a panic.

use super::listpack::Listpack;
use super::{Entry, Hash, LISTPACK_MAX_SAFE};
use crate::persist::rdb::listpack as lp;
use crate::persist::rdb::read::{RawString, RdbReader};
use crate::persist::rdb::write::{encode_len, encode_string};
use crate::persist::rdb::{op, ziplist, zipmap, RdbError};
use crate::shard::value::rewrite_in_chunks;
use crate::shard::value::{EncodingLimits, Value, ValueType};
use std::borrow::Cow;
use std::collections::HashSet;

/// Pairs per HSET in an AOF rewrite (Redis's `AOF_REWRITE_ITEMS_PER_CMD`).
const REWRITE_PAIRS: usize = 64;

fn raw_bytes(s: RawString<'_>) -> Cow<'_, [u8]> {
    match s {
        RawString::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
        RawString::Slice(b) => Cow::Borrowed(b),
        RawString::Owned(b) => Cow::Owned(b),
    }
}

/// Type 4: a count, then field/value strings.
fn read_pairs(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<Hash, RdbError> {
    let len = r.read_len()?;
    if len == 0 {
        return Err(r.empty_key());
    }
    let mut h = Hash::new();
    if len > limits.hash_max_listpack_entries as u64 {
        h.convert_to_table();
    }
    for _ in 0..len {
        let field = raw_bytes(r.read_string()?);
        let value = raw_bytes(r.read_string()?);
        if let Hash::Listpack(l) = &h {
            let max = limits.hash_max_listpack_value;
            if field.len() > max
                || value.len() > max
                || l.bytes().len() + field.len() + value.len() > LISTPACK_MAX_SAFE
            {
                h.convert_to_table();
            }
        }
        let new = match &mut h {
            Hash::Listpack(l) => l.set(&field, &value),
            Hash::Table(t) => t.insert(&field, &value),
        };
        if !new {
            return Err(r.corrupt("duplicate hash field"));
        }
    }
    Ok(h)
}

/// A listpack built from decoded elements (pairs), refusing duplicates.
fn listpack_of<'a>(
    r: &RdbReader<'_>,
    pairs: impl Iterator<Item = (Entry<'a>, Entry<'a>)>,
) -> Result<Listpack, RdbError> {
    let mut l = Listpack::default();
    for (f, v) in pairs {
        let new = f.with_bytes(|f| v.with_bytes(|v| l.set(f, v)));
        if !new {
            return Err(r.corrupt("duplicate hash field"));
        }
    }
    if l.is_empty() {
        return Err(r.empty_key());
    }
    Ok(l)
}

fn read_blob<'a>(r: &mut RdbReader<'a>) -> Result<Cow<'a, [u8]>, RdbError> {
    Ok(raw_bytes(r.read_string()?))
}

fn read_listpack(r: &mut RdbReader<'_>) -> Result<Hash, RdbError> {
    let blob = read_blob(r)?.into_owned();
    let count = lp::validate(&blob).map_err(|_| r.corrupt("hash listpack integrity"))?;
    if count == 0 {
        return Err(r.empty_key());
    }
    if count % 2 != 0 {
        return Err(r.corrupt("hash listpack must hold pairs"));
    }
    let mut seen = HashSet::with_capacity(count / 2);
    for (i, e) in lp::iter(&blob).enumerate() {
        if i % 2 == 0 && !seen.insert(e.to_vec()) {
            return Err(r.corrupt("duplicate hash field"));
        }
    }
    Ok(Hash::Listpack(Listpack::from_validated(blob, count)))
}

fn read_ziplist(r: &mut RdbReader<'_>) -> Result<Hash, RdbError> {
    let blob = read_blob(r)?;
    let elems = ziplist::elements(&blob).map_err(|why| r.corrupt(why))?;
    if elems.len() % 2 != 0 {
        return Err(r.corrupt("hash ziplist must hold pairs"));
    }
    let pairs = elems.chunks_exact(2).map(|p| (p[0], p[1]));
    Ok(Hash::Listpack(listpack_of(r, pairs)?))
}

fn read_zipmap(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<Hash, RdbError> {
    let blob = read_blob(r)?;
    let pairs = zipmap::pairs(&blob).map_err(|why| r.corrupt(why))?;
    let maxlen = pairs
        .iter()
        .map(|(f, v)| f.len().max(v.len()))
        .max()
        .unwrap_or(0);
    let l = listpack_of(
        r,
        pairs.iter().map(|&(f, v)| (Entry::Str(f), Entry::Str(v))),
    )?;
    let mut h = Hash::Listpack(l);
    if maxlen > limits.hash_max_listpack_value {
        h.convert_to_table();
    }
    Ok(h)
}

impl ValueType for Hash {
    const NAME: &'static str = "hash";

    fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    fn mem_usage(&self) -> usize {
        self.heap_bytes()
    }

    fn rdb_type(&self) -> u8 {
        match self {
            Hash::Listpack(_) => op::TYPE_HASH_LISTPACK,
            Hash::Table(_) => op::TYPE_HASH,
        }
    }

    fn write_rdb(&self, out: &mut Vec<u8>) {
        let _ = self.write_rdb_part(out, 0, usize::MAX);
    }

    /// A table's parts are its buckets (about one field each); a listpack
    /// is one part.
    fn rdb_parts(&self) -> usize {
        match self {
            Hash::Listpack(_) => 1,
            Hash::Table(t) => t.bucket_count().max(1),
        }
    }

    /// Type 16: the listpack as one string; type 4: count, then pairs.
    fn write_rdb_part(&self, out: &mut Vec<u8>, from: usize, max: usize) -> Option<usize> {
        match self {
            Hash::Listpack(l) => encode_string(out, l.bytes()),
            Hash::Table(t) => {
                if from == 0 {
                    encode_len(out, t.len() as u64);
                }
                for (f, v) in t.iter_buckets(from, max) {
                    encode_string(out, f);
                    encode_string(out, v);
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
        let h = match rdb_type {
            op::TYPE_HASH => read_pairs(r, limits),
            op::TYPE_HASH_LISTPACK => read_listpack(r),
            op::TYPE_HASH_ZIPLIST => read_ziplist(r),
            op::TYPE_HASH_ZIPMAP => read_zipmap(r, limits),
            _ => return None,
        };
        Some(h.map(|mut h| {
            if h.len() > limits.hash_max_listpack_entries {
                h.convert_to_table();
            }
            Value::Hash(Box::new(h))
        }))
    }

    /// `DEL key` (so the commands rebuild the hash whatever the key held
    /// before: they also journal effects, e.g. RENAME across slots), then
    /// `HSET key f v …` with at most 64 pairs each, then `PEXPIREAT`.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        let args = self.pairs().flat_map(|(f, v)| [f.to_vec(), v.to_vec()]);
        rewrite_in_chunks(b"HSET", key, args, 2 * REWRITE_PAIRS, expire_at_ms, emit);
    }
}
