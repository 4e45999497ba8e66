//! The sorted-set type: members ordered by (score, member bytes), each
//! member once, with its `TYPE`/`OBJECT ENCODING` names, memory use, RDB
//! payloads and AOF-rewrite form.
//!
//! Encodings as Redis 7.0 names them: `listpack` while the set has at most
//! `zset-max-listpack-entries` members of at most `zset-max-listpack-value`
//! bytes, `skiplist` past either (one way, as in Redis).
//!
//! Order: scores compare as doubles (`-0.0 == 0.0`), ties by member bytes
//! (memcmp, shorter first), as Redis's `zslValueGteMin`/`sdscmp`. Scores
//! are never NaN: commands refuse a NaN before it reaches here.
//!
//! Ranks are 0-based positions in ascending order. The range methods take
//! half-open rank ranges `start..end` that the caller has clamped to
//! `0..=len`.
//!
//! Invariant: a stored sorted set is never empty (commands delete an
//! emptied key).

use super::{EncodingLimits, Value, ValueType};
use crate::persist::rdb::read::{RawString, RdbReader};
use crate::persist::rdb::write::{encode_len, encode_string};
use crate::persist::rdb::{op, RdbError};
use crate::protocol::reply::format_double;
use rand::Rng;
use std::cmp::Ordering;

/// AOF rewrite: members per `ZADD` (Redis's AOF_REWRITE_ITEMS_PER_CMD).
pub const REWRITE_CHUNK: usize = 64;

/// Redis's score order: by score (`-0.0 == 0.0`), then member bytes.
pub fn cmp_entry(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    match a.0.partial_cmp(&b.0) {
        Some(Ordering::Equal) | None => a.1.cmp(b.1),
        Some(o) => o,
    }
}

/// A member as stored: a packed integer or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZMember<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl ZMember<'_> {
    /// Runs `f` over the member's bytes (integers formatted on the stack).
    pub fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            ZMember::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            ZMember::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with(<[u8]>::to_vec)
    }
}

/// A sorted-set value (see the module comment).
#[derive(Clone, PartialEq)]
pub struct ZSet {
    /// Ascending (score, member).
    entries: Vec<(f64, Vec<u8>)>,
    packed: bool,
}

impl ZSet {
    /// An empty set for ZADD's first member of `first_len` bytes (Redis
    /// 7.0's `zaddGenericCommand`): a skiplist when the entry limit is 0 or
    /// the member is longer than the value limit, else a listpack.
    pub fn new_for(first_len: usize, limits: &EncodingLimits) -> ZSet {
        let packed =
            limits.zset_max_listpack_entries > 0 && first_len <= limits.zset_max_listpack_value;
        ZSet {
            entries: Vec::new(),
            packed,
        }
    }

    /// A set of `entries` (distinct members) as a STORE command leaves its
    /// destination: packed when it fits the limits (Redis's
    /// `zsetConvertToListpackIfNeeded`), else a skiplist.
    pub fn build(entries: Vec<(Vec<u8>, f64)>, limits: &EncodingLimits) -> ZSet {
        let maxlen = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let packed = entries.len() <= limits.zset_max_listpack_entries
            && maxlen <= limits.zset_max_listpack_value;
        let mut e: Vec<(f64, Vec<u8>)> = entries
            .into_iter()
            .map(|(m, s)| (if packed && s == 0.0 { 0.0 } else { s }, m))
            .collect();
        e.sort_by(|a, b| cmp_entry((a.0, &a.1), (b.0, &b.1)));
        ZSet { entries: e, packed }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True in the `listpack` encoding.
    pub fn is_packed(&self) -> bool {
        self.packed
    }

    fn find(&self, m: &[u8]) -> Option<usize> {
        self.entries.iter().position(|(_, x)| x == m)
    }

    /// The member's score.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.find(m).map(|i| self.entries[i].0)
    }

    /// Sets `m`'s score (adding it when absent); returns the old score.
    /// Converts to the skiplist when the set passes the limits.
    pub fn insert(&mut self, m: &[u8], score: f64, limits: &EncodingLimits) -> Option<f64> {
        let old = self.remove(m);
        if self.packed
            && (self.entries.len() + 1 > limits.zset_max_listpack_entries
                || m.len() > limits.zset_max_listpack_value)
        {
            self.packed = false;
        }
        // A listpack keeps an integral score as an integer (Redis 7.0's
        // `double2ll`), so -0 is stored, and read back, as 0.
        let score = if self.packed && score == 0.0 {
            0.0
        } else {
            score
        };
        let at = self
            .entries
            .partition_point(|(s, x)| cmp_entry((*s, x), (score, m)) == Ordering::Less);
        self.entries.insert(at, (score, m.to_vec()));
        old
    }

    /// Removes `m`; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let i = self.find(m)?;
        Some(self.entries.remove(i).0)
    }

    /// The member's 0-based rank (from the highest score when `reverse`)
    /// and score.
    pub fn rank(&self, m: &[u8], reverse: bool) -> Option<(usize, f64)> {
        let i = self.find(m)?;
        let r = if reverse { self.len() - 1 - i } else { i };
        Some((r, self.entries[i].0))
    }

    /// How many members order before score `s`: those with a lower score,
    /// and also those equal to it when `after_equal`.
    pub fn score_rank(&self, s: f64, after_equal: bool) -> usize {
        self.entries
            .partition_point(|(x, _)| if after_equal { *x <= s } else { *x < s })
    }

    /// How many members order before member bytes `m` when every score is
    /// equal (the lex commands' precondition): those less than `m`, and
    /// also one equal to it when `after_equal`.
    pub fn lex_rank(&self, m: &[u8], after_equal: bool) -> usize {
        self.entries.partition_point(|(_, x)| {
            if after_equal {
                x.as_slice() <= m
            } else {
                x.as_slice() < m
            }
        })
    }

    /// The entry at rank `r` (ascending).
    pub fn at_rank(&self, r: usize) -> Option<(ZMember<'_>, f64)> {
        self.entries.get(r).map(|(s, m)| (ZMember::Bytes(m), *s))
    }

    /// Entries of ranks `start..end` (ascending ranks), from `end - 1`
    /// down to `start` when `reverse`.
    pub fn range(
        &self,
        start: usize,
        end: usize,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = (ZMember<'_>, f64)> + '_> {
        let it = self.entries[start..end]
            .iter()
            .map(|(s, m)| (ZMember::Bytes(m.as_slice()), *s));
        if reverse {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// Every entry, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (ZMember<'_>, f64)> + '_ {
        self.range(0, self.len(), false)
    }

    /// Removes the entries of ranks `start..end`.
    pub fn remove_range(&mut self, start: usize, end: usize) {
        self.entries.drain(start..end);
    }

    /// Removes and returns up to `count` entries from the lowest scores
    /// (from the highest when `max`), in that order.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
        let n = count.min(self.len());
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (s, m) = if max {
                self.entries.pop().unwrap_or_default()
            } else {
                self.entries.remove(0)
            };
            out.push((m, s));
        }
        out
    }

    /// A uniformly random entry.
    pub fn random(&self, rng: &mut impl Rng) -> Option<(ZMember<'_>, f64)> {
        if self.is_empty() {
            return None;
        }
        self.at_rank(rng.gen_range(0..self.len()))
    }

    /// ZSCAN: visits about `count` entries from `cursor`, returns the next
    /// cursor (0 when done). A packed set is visited whole (cursor 0), as
    /// Redis does; a big one guarantees every member present for the whole
    /// scan is visited at least once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(ZMember<'_>, f64)) -> u64 {
        let start = if self.packed { 0 } else { cursor as usize };
        let end = if self.packed {
            self.len()
        } else {
            start.saturating_add(count.max(1)).min(self.len())
        };
        for (m, s) in self.range(start.min(end), end, false) {
            f(m, s);
        }
        if end >= self.len() {
            0
        } else {
            end as u64
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(f64, Vec<u8>)>()
            + self
                .entries
                .iter()
                .map(|(_, m)| m.capacity())
                .sum::<usize>()
    }

    fn read_zset2(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<ZSet, RdbError> {
        let n = r.read_len()?;
        if n == 0 {
            return Err(r.empty_key());
        }
        let mut entries = Vec::new();
        for _ in 0..n {
            let m = match r.read_string()? {
                RawString::Int(v) => itoa::Buffer::new().format(v).as_bytes().to_vec(),
                RawString::Slice(b) => b.to_vec(),
                RawString::Owned(b) => b,
            };
            let s = r.read_binary_double()?;
            if s.is_nan() {
                return Err(r.corrupt("NaN score"));
            }
            entries.push((m, s));
        }
        let z = ZSet::build(entries, limits);
        Ok(z)
    }
}

impl ValueType for ZSet {
    const NAME: &'static str = "zset";

    fn encoding(&self) -> &'static str {
        if self.packed {
            "listpack"
        } else {
            "skiplist"
        }
    }

    fn mem_usage(&self) -> usize {
        std::mem::size_of::<ZSet>() + self.heap_bytes()
    }

    fn rdb_type(&self) -> u8 {
        op::TYPE_ZSET_2
    }

    /// Type 5: count, then member and binary score from the highest score
    /// down, as Redis writes a skiplist.
    fn write_rdb(&self, out: &mut Vec<u8>) {
        encode_len(out, self.len() as u64);
        for (s, m) in self.entries.iter().rev() {
            encode_string(out, m);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }

    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        limits: &EncodingLimits,
    ) -> Option<Result<Value, RdbError>> {
        let z = match rdb_type {
            op::TYPE_ZSET_2 => ZSet::read_zset2(r, limits),
            _ => return None,
        };
        Some(z.map(|z| Value::ZSet(Box::new(z))))
    }

    /// `DEL key`, `ZADD key score member…` in chunks of [`REWRITE_CHUNK`]
    /// members, then `PEXPIREAT`.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        emit(&[b"DEL", key]);
        let all: Vec<(f64, Vec<u8>)> = self.iter().map(|(m, s)| (s, m.to_vec())).collect();
        for chunk in all.chunks(REWRITE_CHUNK) {
            let scores: Vec<String> = chunk.iter().map(|(s, _)| format_double(*s)).collect();
            let mut argv: Vec<&[u8]> = vec![b"ZADD", key];
            for ((_, m), s) in chunk.iter().zip(&scores) {
                argv.push(s.as_bytes());
                argv.push(m);
            }
            emit(&argv);
        }
        if expire_at_ms != 0 {
            let mut ms = itoa::Buffer::new();
            emit(&[b"PEXPIREAT", key, ms.format(expire_at_ms).as_bytes()]);
        }
    }
}

impl Eq for ZSet {}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple(self.encoding())
            .field(
                &self
                    .iter()
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
