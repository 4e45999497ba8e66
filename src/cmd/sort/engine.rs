//! SORT's steps, each a pure function or a step on one shard, so the
//! handler (every key on its shard) and the coordinator (patterns reaching
//! any shard, route/sort.rs) run the same ones in the same order:
//!
//! 1. [`read_source`] on the source's shard: the elements to sort, or the
//!    window already cut when nothing is sorted ([`Loaded`]);
//! 2. the `BY` lookups ([`SortPlan::weight_lookups`], [`lookup_part`] on
//!    each key's shard);
//! 3. [`SortPlan::order`]: scores, the sort, the `LIMIT` window;
//! 4. the `GET` lookups for the window ([`SortPlan::get_lookups`]);
//! 5. [`SortPlan::output`], then the reply or [`store_part`].
//!
//! Order as Redis's `sortCompare`: numbers ascending with ties broken by
//! the elements' bytes; `ALPHA` by bytes (Redis's `strcoll` in the C
//! locale), elements whose `BY` value is missing first; `DESC` reverses the
//! comparison. The sort is stable, as glibc's merge sort is.

use super::plan::{By, Get, Lookup, SortPlan};
use crate::cmd::error::CmdError;
use crate::cmd::ops::OpResult;
use crate::cmd::split::PartCtx;
use crate::protocol::ReplyWriter;
use crate::shard::value::list::List;
use crate::shard::value::{Typed, Value};
use crate::shard::Shard;
use bytes::Bytes;
use std::cmp::Ordering;

/// `ERR One or more scores can't be converted into double`
pub const BAD_WEIGHT: CmdError =
    CmdError::Static("ERR One or more scores can't be converted into double");

/// Journal records of a stored result: RPUSHes of at most this many.
const STORE_CHUNK: usize = 64;

/// What the source held, ready for the rest of the steps.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Loaded {
    pub elements: Vec<Vec<u8>>,
    /// Sort them (false: they are in output order, the window applied).
    pub sort: bool,
    /// Sort as strings (ALPHA, or a set stored without sorting).
    pub alpha: bool,
    /// Sort by the `BY` pattern's values (false: by the elements).
    pub by_pattern: bool,
    /// Not sorted, and the `LIMIT` window already cut (a list or sorted set).
    pub cut: bool,
}

/// Step 1, on the source's shard: `args` are the key, then the options.
/// A list or sorted set that is not sorted gives its window only, in the
/// requested direction; a set that is not sorted gives every member (its
/// order is its own), unless it is stored: then it is sorted as strings, so
/// the stored list is the same on every replica.
pub fn read_source(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((key, words)) = p.args.split_first() else {
        return OpResult::Err(CmdError::Internal);
    };
    let plan = match SortPlan::parse(words, false) {
        Ok(plan) => plan,
        Err(e) => return OpResult::Err(e),
    };
    let mut loaded = Loaded {
        sort: plan.by != By::Constant,
        alpha: plan.alpha,
        by_pattern: matches!(plan.by, By::Pattern(_)),
        ..Loaded::default()
    };
    let Some(entry) = shard.get_counted(p.db, key, p.now_ms) else {
        return OpResult::SortSource(loaded);
    };
    loaded.elements = match entry.entry().value.typed() {
        Typed::List(l) if !loaded.sort => {
            loaded.cut = true;
            list_window(l, &plan)
        }
        Typed::List(l) => l.to_vecs().collect(),
        Typed::ZSet(z) if !loaded.sort => {
            loaded.cut = true;
            let w = plan.window(z.len());
            let (from, to) = if plan.desc {
                (z.len() - w.end, z.len() - w.start)
            } else {
                (w.start, w.end)
            };
            z.range(from, to, plan.desc)
                .map(|(m, _)| m.to_vec())
                .collect()
        }
        Typed::ZSet(z) => z.iter().map(|(m, _)| m.to_vec()).collect(),
        Typed::Set(s) => {
            if !loaded.sort && plan.store.is_some() {
                (loaded.sort, loaded.alpha, loaded.by_pattern) = (true, true, false);
            }
            s.iter().map(|m| m.to_vec()).collect()
        }
        Typed::Str(_) | Typed::Hash(_) => return OpResult::Err(CmdError::WrongType),
    };
    OpResult::SortSource(loaded)
}

/// A list's window in output order (Redis walks it from the window's
/// first element, backwards for DESC).
fn list_window(l: &List, plan: &SortPlan) -> Vec<Vec<u8>> {
    let w = plan.window(l.len());
    if w.is_empty() {
        return Vec::new();
    }
    let (from, to) = if plan.desc {
        (l.len() - w.end, l.len() - 1 - w.start)
    } else {
        (w.start, w.end - 1)
    };
    let mut out = Vec::with_capacity(w.len());
    l.range(from, to, |e| out.push(e.to_vec()));
    if plan.desc {
        out.reverse();
    }
    out
}

/// A lookup's value on its shard: a string's bytes, or a hash field's;
/// nothing for a missing key or field, or a key of another type.
fn lookup_one(shard: &mut Shard, db: usize, now_ms: u64, (key, field): &Lookup) -> Option<Vec<u8>> {
    let entry = shard.get_counted(db, key, now_ms)?;
    let value = &entry.entry().value;
    match field {
        None => value.as_str().map(|mut s| s.with(<[u8]>::to_vec)),
        Some(f) => value.as_hash()?.get(f).map(|v| v.to_vec()),
    }
}

/// Looks `lookups` up on this shard (every one of them must be its own).
pub fn lookup_here(
    shard: &mut Shard,
    db: usize,
    now_ms: u64,
    lookups: &[Lookup],
) -> Vec<Option<Vec<u8>>> {
    lookups
        .iter()
        .map(|l| lookup_one(shard, db, now_ms, l))
        .collect()
}

/// Lookups as a part's words: the key, then the field or an empty word
/// (Redis never takes an empty field from a pattern).
pub fn lookup_words(lookups: &[Lookup]) -> Vec<Bytes> {
    let mut words = Vec::with_capacity(lookups.len() * 2);
    for (key, field) in lookups {
        words.push(Bytes::copy_from_slice(key));
        words.push(
            field
                .as_deref()
                .map_or_else(Bytes::new, Bytes::copy_from_slice),
        );
    }
    words
}

/// Steps 2 and 4 on one shard: `args` are [`lookup_words`]; the values,
/// one list of one value per lookup (None: nothing there).
pub fn lookup_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let lookups: Vec<Lookup> = p
        .args
        .chunks_exact(2)
        .map(|kf| (kf[0].to_vec(), (!kf[1].is_empty()).then(|| kf[1].to_vec())))
        .collect();
    let values = lookup_here(shard, p.db, p.now_ms, &lookups);
    OpResult::Lists(values.into_iter().map(|v| v.map(|v| vec![v])).collect())
}

/// What `strtod(s, &end)` takes with `*end == '\0'` (the text up to a NUL
/// byte; an empty one reads as 0), neither out of range nor NaN.
fn weight_of(s: &[u8]) -> Option<f64> {
    let c_str = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    if c_str.is_empty() {
        return Some(0.0);
    }
    crate::cmd::zset::score::c_strtod(c_str).filter(|v| !v.is_nan())
}

impl SortPlan {
    /// Step 2's lookups: one per element when sorting by a pattern.
    pub fn weight_lookups(&self, loaded: &Loaded) -> Vec<Lookup> {
        match &self.by {
            By::Pattern(p) if loaded.sort && loaded.by_pattern => {
                loaded.elements.iter().map(|e| p.lookup(e)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Step 3: the elements of the output window, in order. `weights` are
    /// step 2's values (empty when not sorting by a pattern). An element
    /// whose weight is not a number makes the error, as in Redis, wherever
    /// it falls.
    pub fn order(
        &self,
        loaded: Loaded,
        weights: Vec<Option<Vec<u8>>>,
    ) -> Result<Vec<Vec<u8>>, CmdError> {
        let Loaded {
            elements,
            sort,
            alpha,
            by_pattern,
            cut,
        } = loaded;
        if cut {
            return Ok(elements);
        }
        if !sort {
            let w = self.window(elements.len());
            return Ok(elements.into_iter().skip(w.start).take(w.len()).collect());
        }
        let mut weights = weights.into_iter();
        let mut keyed: Vec<(Key, Vec<u8>)> = Vec::with_capacity(elements.len());
        let mut bad = false;
        for e in elements {
            let by = if by_pattern {
                weights.next().flatten()
            } else {
                None
            };
            let key = match (alpha, by_pattern) {
                (true, true) => Key::Text(by),
                (true, false) => Key::Element,
                (false, true) => Key::Number(
                    by.as_deref()
                        .map_or(Some(0.0), weight_of)
                        .unwrap_or_else(|| {
                            bad = true;
                            0.0
                        }),
                ),
                (false, false) => Key::Number(weight_of(&e).unwrap_or_else(|| {
                    bad = true;
                    0.0
                })),
            };
            keyed.push((key, e));
        }
        if bad {
            return Err(BAD_WEIGHT);
        }
        let desc = self.desc;
        keyed.sort_by(|a, b| {
            let cmp = compare(a, b);
            if desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
        let w = self.window(keyed.len());
        Ok(keyed
            .into_iter()
            .skip(w.start)
            .take(w.len())
            .map(|(_, e)| e)
            .collect())
    }

    /// Step 4's lookups: each element's `GET` patterns, element by element.
    pub fn get_lookups(&self, selected: &[Vec<u8>]) -> Vec<Lookup> {
        let mut out = Vec::new();
        for e in selected {
            for g in &self.gets {
                if let Get::Pattern(p) = g {
                    out.push(p.lookup(e));
                }
            }
        }
        out
    }

    /// Step 5: the output values, the `GET`s of each element in turn (the
    /// element itself without any); `values` are step 4's.
    pub fn output(
        &self,
        selected: Vec<Vec<u8>>,
        values: Vec<Option<Vec<u8>>>,
    ) -> Vec<Option<Vec<u8>>> {
        if self.gets.is_empty() {
            return selected.into_iter().map(Some).collect();
        }
        let mut values = values.into_iter();
        let mut out = Vec::with_capacity(selected.len() * self.gets.len());
        for e in &selected {
            for g in &self.gets {
                out.push(match g {
                    Get::Element => Some(e.clone()),
                    Get::Nothing => None,
                    Get::Pattern(_) => values.next().flatten(),
                });
            }
        }
        out
    }

    /// The reply without STORE: the output values, nil for a missing one.
    pub fn reply(output: &[Option<Vec<u8>>], reply: &mut ReplyWriter) {
        reply.array(output.len());
        for v in output {
            match v {
                Some(v) => reply.bulk(v),
                None => reply.null(),
            }
        }
    }
}

/// The words of a STORE: the destination, then the values (a missing one
/// stored as an empty string, as Redis does).
pub fn store_words(dest: &[u8], output: Vec<Option<Vec<u8>>>) -> Vec<Bytes> {
    let mut words = Vec::with_capacity(output.len() + 1);
    words.push(Bytes::copy_from_slice(dest));
    words.extend(
        output
            .into_iter()
            .map(|v| v.map_or_else(Bytes::new, Bytes::from)),
    );
    words
}

/// Step 5 with STORE, on the destination's shard: the key becomes a list of
/// `args[1..]`, or is deleted when there are none. Journaled as `DEL` then
/// RPUSHes, so every record names one key. Answers the stored length.
pub fn store_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((key, values)) = p.args.split_first() else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |shard| {
        let removed = shard.remove(p.db, key, p.now_ms).is_some();
        if removed {
            shard.propagate(p.db, &[b"DEL", key]);
        }
        if values.is_empty() {
            return;
        }
        let limits = shard.encoding_limits();
        let mut list = List::new(&limits);
        for v in values {
            list.push_back(v, &limits);
        }
        shard.set(p.db, key, Value::List(Box::new(list)), 0);
        for chunk in values.chunks(STORE_CHUNK) {
            let mut argv: Vec<&[u8]> = Vec::with_capacity(2 + chunk.len());
            argv.push(b"RPUSH");
            argv.push(key);
            argv.extend(chunk.iter().map(|v| &v[..]));
            shard.propagate(p.db, &argv);
        }
    });
    OpResult::Int(values.len() as i64)
}

/// What an element is compared by.
enum Key {
    Number(f64),
    /// The `BY` value, as a string (None: missing, first).
    Text(Option<Vec<u8>>),
    /// The element's own bytes.
    Element,
}

fn compare(a: &(Key, Vec<u8>), b: &(Key, Vec<u8>)) -> Ordering {
    match (&a.0, &b.0) {
        (Key::Number(x), Key::Number(y)) => x
            .partial_cmp(y)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.1.cmp(&b.1)),
        (Key::Text(x), Key::Text(y)) => x.cmp(y),
        _ => a.1.cmp(&b.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(words: &[&str]) -> SortPlan {
        SortPlan::parse(words, false).unwrap()
    }

    fn loaded(elements: &[&str], sort: bool, alpha: bool, by_pattern: bool) -> Loaded {
        Loaded {
            elements: elements.iter().map(|e| e.as_bytes().to_vec()).collect(),
            sort,
            alpha,
            by_pattern,
            cut: false,
        }
    }

    fn strings(v: Vec<Vec<u8>>) -> Vec<String> {
        v.into_iter()
            .map(|e| String::from_utf8(e).unwrap())
            .collect()
    }

    #[test]
    fn numbers_sort_with_ties_by_bytes() {
        let p = plan(&[]);
        let out = p
            .order(
                loaded(&["10", "9", "1e1", " 2", "", "-inf"], true, false, false),
                vec![],
            )
            .unwrap();
        assert_eq!(strings(out), ["-inf", "", " 2", "9", "10", "1e1"]);
        let bad = p.order(loaded(&["1", "x"], true, false, false), vec![]);
        assert_eq!(bad, Err(BAD_WEIGHT));
        assert_eq!(
            p.order(loaded(&["nan"], true, false, false), vec![]),
            Err(BAD_WEIGHT)
        );
        assert_eq!(
            p.order(loaded(&["1e999"], true, false, false), vec![]),
            Err(BAD_WEIGHT)
        );
        // A NUL ends the number, as in C.
        assert!(p
            .order(loaded(&["1\0x"], true, false, false), vec![])
            .is_ok());
    }

    #[test]
    fn alpha_by_pattern_puts_missing_first_and_desc_reverses() {
        let p = plan(&["by", "w_*", "alpha", "desc"]);
        let l = loaded(&["a", "b", "c"], true, true, true);
        let weights = vec![Some(b"y".to_vec()), None, Some(b"z".to_vec())];
        assert_eq!(strings(p.order(l, weights).unwrap()), ["c", "a", "b"]);
    }

    #[test]
    fn gets_interleave_per_element() {
        let p = plan(&["get", "#", "get", "h_*->f", "get", "fixed"]);
        let sel = vec![b"1".to_vec(), b"2".to_vec()];
        assert_eq!(p.get_lookups(&sel).len(), 2);
        let out = p.output(sel, vec![Some(b"x".to_vec()), None]);
        assert_eq!(
            out,
            vec![
                Some(b"1".to_vec()),
                Some(b"x".to_vec()),
                None,
                Some(b"2".to_vec()),
                None,
                None
            ]
        );
    }

    #[test]
    fn unsorted_sources_keep_their_order_and_window() {
        let p = plan(&["by", "nosort", "limit", "1", "2"]);
        let out = p
            .order(loaded(&["c", "a", "b", "d"], false, false, false), vec![])
            .unwrap();
        assert_eq!(strings(out), ["a", "b"]);
    }
}
