//! The `listpack` encoding of a sorted set: member, score, member, score…
//! in one Redis 7.0 listpack (`persist::rdb::listpack`), ascending by
//! (score, member), edited as Redis's `zzlInsertAt`/`zzlDelete` edit theirs,
//! so the bytes (RDB type 17, DUMP) equal Redis's for the same commands.
//!
//! A score is stored as Redis 7.0 stores it ([`score_text`]): an integral
//! value within ±2^62 as an integer entry (so `-0` reads back as `0`, as in
//! Redis), else the `%.17g` text, `inf` or `-inf`.
//! Members that are canonical integers become integer entries too.
//! Everything is a linear scan, as in Redis (the set is small).
//!
//! Invariant: `bytes` is a valid listpack of `2 * len` entries, ordered
//! by [`cmp_entry`], no member twice, every score entry parses as a
//! non-NaN double; its allocation is exactly its length.

use super::{cmp_entry, ZMember};
use crate::persist::rdb::listpack::{self as lp, Entry, Needle};
use crate::protocol::reply::format_double;
use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq)]
pub struct Listpack {
    bytes: Vec<u8>,
    len: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack {
            bytes: lp::empty(),
            len: 0,
        }
    }
}

/// The text a listpack holds for a non-NaN score, as Redis 7.0's
/// `zzlInsertAt` chooses it: `double2ll` first (an integral value within
/// [-2^62, 2^62], so `-0` too, becomes an integer entry), else `d2string`.
pub fn score_text(s: f64) -> String {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if (-LIMIT..=LIMIT).contains(&s) && s.trunc() == s {
        return itoa::Buffer::new().format(s as i64).to_owned();
    }
    format_double(s)
}

/// The score an entry holds (None when it is not a number, or NaN).
pub fn parse_score(e: &Entry<'_>) -> Option<f64> {
    let v = match e {
        Entry::Int(n) => *n as f64,
        Entry::Str(s) => std::str::from_utf8(s).ok()?.parse::<f64>().ok()?,
    };
    (!v.is_nan()).then_some(v)
}

fn member_of<'a>(e: &Entry<'a>) -> ZMember<'a> {
    match *e {
        Entry::Int(n) => ZMember::Int(n),
        Entry::Str(s) => ZMember::Bytes(s),
    }
}

/// One pair as scanned: where it starts and ends, member and score.
struct Pair<'a> {
    start: usize,
    end: usize,
    member: Entry<'a>,
    score: f64,
}

impl Listpack {
    /// Wraps bytes already checked by `rdb.rs` (valid, sorted, pairs).
    pub fn from_validated(mut bytes: Vec<u8>, pairs: usize) -> Listpack {
        bytes.shrink_to_fit();
        Listpack { bytes, len: pairs }
    }

    /// A listpack of `entries` given in ascending order.
    pub fn from_sorted<'m>(entries: impl Iterator<Item = (ZMember<'m>, f64)>) -> Listpack {
        let mut bytes = lp::empty();
        bytes.pop();
        let mut len = 0;
        for (m, s) in entries {
            m.with(|m| lp::encode_entry(&mut bytes, m));
            lp::encode_entry(&mut bytes, score_text(s).as_bytes());
            len += 1;
        }
        bytes.push(lp::EOF);
        bytes.shrink_to_fit();
        lp::set_header(&mut bytes, 2 * len);
        Listpack { bytes, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    fn pairs(&self) -> impl Iterator<Item = Pair<'_>> + '_ {
        let mut it = lp::iter(&self.bytes);
        std::iter::from_fn(move || {
            let start = it.pos();
            let member = it.next()?;
            let score = it.next().as_ref().and_then(parse_score).unwrap_or(0.0);
            Some(Pair {
                start,
                end: it.pos(),
                member,
                score,
            })
        })
    }

    /// Every pair in order.
    pub fn iter(&self) -> impl Iterator<Item = (ZMember<'_>, f64)> + '_ {
        self.pairs().map(|p| (member_of(&p.member), p.score))
    }

    /// Rank and pair of `m`.
    fn find(&self, m: &[u8]) -> Option<(usize, Pair<'_>)> {
        let needle = Needle::new(m);
        self.pairs()
            .enumerate()
            .find(|(_, p)| needle.matches(&p.member))
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.find(m).map(|(_, p)| p.score)
    }

    pub fn rank(&self, m: &[u8]) -> Option<(usize, f64)> {
        self.find(m).map(|(r, p)| (r, p.score))
    }

    /// Removes `m`; its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let (_, p) = self.find(m)?;
        let (start, end, score) = (p.start, p.end, p.score);
        lp::splice(&mut self.bytes, start, end, &[]);
        self.len -= 1;
        lp::set_header(&mut self.bytes, 2 * self.len);
        Some(score)
    }

    /// Adds `m` (absent) with `score` at its place in the order.
    pub fn insert_new(&mut self, m: &[u8], score: f64) {
        let at = self
            .pairs()
            .find(|p| {
                p.member
                    .with_bytes(|x| cmp_entry((p.score, x), (score, m)) == Ordering::Greater)
            })
            .map_or(self.bytes.len() - 1, |p| p.start);
        let text = score_text(score);
        let mut enc = Vec::with_capacity(lp::entry_size(m) + lp::entry_size(text.as_bytes()));
        lp::encode_entry(&mut enc, m);
        lp::encode_entry(&mut enc, text.as_bytes());
        lp::splice(&mut self.bytes, at, at, &enc);
        self.len += 1;
        lp::set_header(&mut self.bytes, 2 * self.len);
    }

    /// How many pairs satisfy `before` (a prefix of the order).
    pub fn count(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.pairs()
            .take_while(|p| p.member.with_bytes(|m| before(p.score, m)))
            .count()
    }

    pub fn at_rank(&self, r: usize) -> Option<(ZMember<'_>, f64)> {
        self.iter().nth(r)
    }

    /// Pairs of ranks `start..end`, from `end - 1` down when `reverse`.
    pub fn range(
        &self,
        start: usize,
        end: usize,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = (ZMember<'_>, f64)> + '_> {
        let it = self.iter().skip(start).take(end.saturating_sub(start));
        if reverse {
            Box::new(it.collect::<Vec<_>>().into_iter().rev())
        } else {
            Box::new(it)
        }
    }

    /// Removes ranks `start..end` (one splice).
    pub fn remove_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        let mut at = (0, 0);
        for (r, p) in self.pairs().enumerate() {
            if r == start {
                at.0 = p.start;
            }
            if r + 1 == end {
                at.1 = p.end;
                break;
            }
        }
        lp::splice(&mut self.bytes, at.0, at.1, &[]);
        self.len -= end - start;
        lp::set_header(&mut self.bytes, 2 * self.len);
    }
}
