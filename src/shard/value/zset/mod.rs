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
//! Layout: this file holds the type and dispatches to the encodings:
//! listpack.rs (Redis's listpack bytes), skiplist.rs (member table plus
//! tree.rs, an order-statistic B+tree); rdb.rs is the [`ValueType`](super::ValueType) face
//! (RDB types 17/5 written, 17/12/5/3 read, AOF rewrite); tests.rs checks
//! both against a model.
//!
//! Invariant: a stored sorted set is never empty (commands delete an
//! emptied key).

mod listpack;
mod rdb;
mod skiplist;
mod tree;

#[cfg(test)]
mod tests;

use super::EncodingLimits;
use listpack::Listpack;
use rand::Rng;
use skiplist::Skiplist;
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
#[derive(Clone)]
pub struct ZSet(Repr);

#[derive(Clone)]
enum Repr {
    Packed(Listpack),
    Big(Skiplist),
}

/// Redis's `LISTPACK_MAX_SAFETY_SIZE`: a listpack never grows past 1 GiB.
const LISTPACK_MAX_SAFE: usize = 1 << 30;

/// Whether `n` members of at most `maxlen` bytes stay a listpack.
fn fits(n: usize, maxlen: usize, limits: &EncodingLimits) -> bool {
    n <= limits.zset_max_listpack_entries && maxlen <= limits.zset_max_listpack_value
}

impl ZSet {
    /// An empty set for ZADD's first member of `first_len` bytes (Redis
    /// 7.0's `zaddGenericCommand`): a skiplist when the entry limit is 0 or
    /// the member is longer than the value limit, else a listpack.
    pub fn new_for(first_len: usize, limits: &EncodingLimits) -> ZSet {
        if limits.zset_max_listpack_entries > 0 && first_len <= limits.zset_max_listpack_value {
            ZSet(Repr::Packed(Listpack::default()))
        } else {
            ZSet(Repr::Big(
                Skiplist::from_pairs(std::iter::empty::<(&[u8], f64)>(), 0, false)
                    .unwrap_or_else(|| unreachable!("no pairs, no duplicate")),
            ))
        }
    }

    /// A set of `entries` (distinct members) as a STORE command leaves its
    /// destination: packed when it fits the limits (Redis's
    /// `zsetConvertToListpackIfNeeded`), else a skiplist.
    pub fn build(entries: Vec<(Vec<u8>, f64)>, limits: &EncodingLimits) -> ZSet {
        let maxlen = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let total: usize = entries.iter().map(|(m, _)| m.len()).sum();
        if fits(entries.len(), maxlen, limits) && total < LISTPACK_MAX_SAFE {
            let mut e = entries;
            e.sort_by(|a, b| cmp_entry((a.1, &a.0), (b.1, &b.0)));
            e.dedup_by(|a, b| a.0 == b.0);
            ZSet(Repr::Packed(Listpack::from_sorted(
                e.iter().map(|(m, s)| (ZMember::Bytes(m), *s)),
            )))
        } else {
            let n = entries.len();
            ZSet::big(Skiplist::from_pairs(entries.into_iter(), n, false))
        }
    }

    fn big(s: Option<Skiplist>) -> ZSet {
        ZSet(Repr::Big(s.unwrap_or_else(|| {
            unreachable!("a lenient build never refuses")
        })))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed(l) => l.len(),
            Repr::Big(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True in the `listpack` encoding.
    pub fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Packed(_))
    }

    /// The member's score.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.0 {
            Repr::Packed(l) => l.score(m),
            Repr::Big(s) => s.score(m),
        }
    }

    /// Sets `m`'s score (adding it when absent); returns the old score.
    /// An equal score (`-0 == 0` included) changes nothing, as in Redis.
    /// Converts to the skiplist, before adding a new member, when the set
    /// would pass the entry limit or `m` is longer than the value limit.
    pub fn insert(&mut self, m: &[u8], score: f64, limits: &EncodingLimits) -> Option<f64> {
        match &mut self.0 {
            Repr::Packed(l) => {
                if let Some(old) = l.score(m) {
                    if old != score {
                        l.remove(m);
                        l.insert_new(m, score);
                    }
                    return Some(old);
                }
                if l.len() < limits.zset_max_listpack_entries
                    && m.len() <= limits.zset_max_listpack_value
                    && l.bytes().len() + m.len() < LISTPACK_MAX_SAFE
                {
                    l.insert_new(m, score);
                    return None;
                }
                self.convert();
                self.insert(m, score, limits)
            }
            Repr::Big(s) => s.insert(m, score),
        }
    }

    /// Listpack to skiplist (one way).
    fn convert(&mut self) {
        if let Repr::Packed(l) = &self.0 {
            let n = l.len();
            let entries = l.iter().map(|(m, s)| (m.to_vec(), s));
            *self = ZSet::big(Skiplist::from_pairs(entries, n + 1, false));
        }
    }

    /// Removes `m`; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match &mut self.0 {
            Repr::Packed(l) => l.remove(m),
            Repr::Big(s) => s.remove(m),
        }
    }

    /// The member's 0-based rank (from the highest score when `reverse`)
    /// and score.
    pub fn rank(&self, m: &[u8], reverse: bool) -> Option<(usize, f64)> {
        let (i, s) = match &self.0 {
            Repr::Packed(l) => l.rank(m)?,
            Repr::Big(b) => b.rank(m)?,
        };
        let r = if reverse { self.len() - 1 - i } else { i };
        Some((r, s))
    }

    /// How many members order before score `s`: those with a lower score,
    /// and also those equal to it when `after_equal`.
    pub fn score_rank(&self, s: f64, after_equal: bool) -> usize {
        match &self.0 {
            Repr::Packed(l) => l.count(|x, _| if after_equal { x <= s } else { x < s }),
            Repr::Big(b) => b.score_rank(s, after_equal),
        }
    }

    /// How many members order before member bytes `m` when every score is
    /// equal (the lex commands' precondition): those less than `m`, and
    /// also one equal to it when `after_equal`.
    pub fn lex_rank(&self, m: &[u8], after_equal: bool) -> usize {
        match &self.0 {
            Repr::Packed(l) => l.count(|_, x| if after_equal { x <= m } else { x < m }),
            Repr::Big(b) => b.lex_rank(m, after_equal),
        }
    }

    /// The entry at rank `r` (ascending).
    pub fn at_rank(&self, r: usize) -> Option<(ZMember<'_>, f64)> {
        match &self.0 {
            Repr::Packed(l) => l.at_rank(r),
            Repr::Big(b) => b.at_rank(r),
        }
    }

    /// Entries of ranks `start..end` (ascending ranks), from `end - 1`
    /// down to `start` when `reverse`.
    pub fn range(
        &self,
        start: usize,
        end: usize,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = (ZMember<'_>, f64)> + '_> {
        match &self.0 {
            Repr::Packed(l) => l.range(start, end, reverse),
            Repr::Big(b) => Box::new(b.range(start, end, reverse)),
        }
    }

    /// Every entry, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (ZMember<'_>, f64)> + '_ {
        self.range(0, self.len(), false)
    }

    /// Removes the entries of ranks `start..end`.
    pub fn remove_range(&mut self, start: usize, end: usize) {
        match &mut self.0 {
            Repr::Packed(l) => l.remove_range(start, end),
            Repr::Big(b) => b.remove_range(start, end),
        }
    }

    /// Removes and returns up to `count` entries from the lowest scores
    /// (from the highest when `max`), in that order.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
        let n = count.min(self.len());
        match &mut self.0 {
            Repr::Packed(l) => {
                let len = l.len();
                let (start, end) = if max { (len - n, len) } else { (0, n) };
                let out: Vec<(Vec<u8>, f64)> = l
                    .range(start, end, max)
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                l.remove_range(start, end);
                out
            }
            Repr::Big(b) => (0..n).filter_map(|_| b.pop(max)).collect(),
        }
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
    /// scan is visited at least once (a reverse-binary cursor over the
    /// member table's buckets, valid across resizes).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(ZMember<'_>, f64)) -> u64 {
        match &self.0 {
            Repr::Packed(l) => {
                l.iter().for_each(|(m, s)| f(m, s));
                0
            }
            Repr::Big(b) => b.scan(cursor, count, f),
        }
    }

    /// Heap bytes held: the listpack's buffer, or the member table's
    /// buckets and nodes plus the tree's nodes (sizes as requested).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Packed(l) => l.heap_bytes(),
            Repr::Big(b) => b.heap_bytes(),
        }
    }

    /// The listpack bytes, when packed (DUMP, tests).
    pub fn listpack_bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Packed(l) => Some(l.bytes()),
            Repr::Big(_) => None,
        }
    }
}

impl PartialEq for ZSet {
    /// Same encoding and the same entries in order.
    fn eq(&self, other: &ZSet) -> bool {
        self.is_packed() == other.is_packed()
            && self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((m, s), (n, t))| s == t && m.with(|a| n.with(|b| a == b)))
    }
}

impl Eq for ZSet {}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use super::ValueType;
        f.debug_tuple(self.encoding())
            .field(
                &self
                    .iter()
                    .map(|(m, s)| (m.to_vec().escape_ascii().to_string(), s))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
