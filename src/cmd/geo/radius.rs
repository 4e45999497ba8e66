//! Running a GEORADIUS / GEORADIUSBYMEMBER / GEOSEARCH / GEOSEARCHSTORE
//! request read by [`super::query`]: scan the shape's score ranges, keep
//! what is inside, sort as Redis sorts, then answer or store.
//!
//! What is found comes in Redis's scan order (ranges in
//! [`search::score_ranges`] order, each in sorted-set order; ANY stops at
//! COUNT). A sort over everything found is glibc's stable merge sort
//! ([`search::sort_by_distance`]); COUNT without ANY keeping fewer than
//! were found is Redis's partial quicksort ([`partial_sort`]), so equal
//! distances come out as Redis has them.
//!
//! The STORE forms (GEORADIUS… STORE/STOREDIST, GEOSEARCHSTORE) are one
//! [`Gather`]: the source's shard reads the request and computes the
//! member/score pairs to store (its errors are the reply), the combine
//! answers their count, and the destination's shard stores them with
//! [`crate::cmd::zset::store_part`] (none: the destination is deleted).
//! Commands whose keys share a shard run the same steps in place.

use super::partial_sort::partial_sort;
use super::query::{parse, store_key, Query, Sort, Variant};
use super::search::{self, Hit, Shape};
use super::{read_zset, reply_position, text};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::zset::{encode_pairs, store_part};
use crate::cmd::ExecCtx;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::zset::{ZMember, ZSet};
use crate::shard::value::EncodingLimits;
use crate::shard::Shard;
use bytes::Bytes;
use std::cmp::Ordering;

/// A member inside the shape.
struct Found {
    member: Vec<u8>,
    score: f64,
    hit: Hit,
}

/// Redis `membersOfAllNeighbors`: every member inside `shape`, in scan
/// order, stopping once `limit` are found (0: no limit).
fn scan(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    for r in search::score_ranges(shape) {
        if limit != 0 && found.len() >= limit {
            break;
        }
        let (min, max) = (r.min as f64, r.max as f64);
        if min >= max {
            continue;
        }
        let (start, end) = (z.score_rank(min, false), z.score_rank(max, false));
        for (m, score) in z.range(start, end, false) {
            if let Some(hit) = shape.hit(score) {
                found.push(Found {
                    member: m.to_vec(),
                    score,
                    hit,
                });
                if limit != 0 && found.len() >= limit {
                    break;
                }
            }
        }
    }
    found
}

/// Redis's comparison for ASC (`sort_gp_asc`) or DESC (its negation).
fn compare(a: f64, b: f64, desc: bool) -> Ordering {
    let asc = if a > b {
        Ordering::Greater
    } else if a == b {
        Ordering::Equal
    } else {
        Ordering::Less
    };
    if desc {
        asc.reverse()
    } else {
        asc
    }
}

/// Searches `z` for `q` (its shape is set: the source exists) and orders
/// the result as Redis does; the first `q.returned(len)` are the answer.
fn run(z: &ZSet, q: &Query) -> Vec<Found> {
    let Some(shape) = q.shape else {
        return Vec::new();
    };
    let limit = if q.any { q.count as usize } else { 0 };
    let mut found = scan(z, &shape, limit);
    let returned = q.returned(found.len());
    if q.sort != Sort::None && !found.is_empty() {
        let desc = q.sort == Sort::Desc;
        if returned == found.len() {
            search::sort_by_distance(&mut found, |f| f.hit.dist_m, desc);
        } else {
            let cmp = |a: &Found, b: &Found| compare(a.hit.dist_m, b.hit.dist_m, desc);
            partial_sort(&mut found, &cmp, returned - 1);
        }
    }
    found.truncate(returned);
    found
}

/// The reply of a search that stores nothing.
fn reply_found(reply: &mut ReplyWriter, q: &Query, found: &[Found]) {
    let to_meters = q.shape.map_or(1.0, |s| s.to_meters);
    let options = usize::from(q.withdist) + usize::from(q.withhash) + usize::from(q.withcoord);
    reply.array(found.len());
    for f in found {
        if options > 0 {
            reply.array(options + 1);
        }
        reply.bulk(&f.member);
        if q.withdist {
            reply.bulk(text::distance(f.hit.dist_m / to_meters).as_bytes());
        }
        if q.withhash {
            reply.int(text::hash_integer(f.score));
        }
        if q.withcoord {
            reply_position(reply, f.hit.lon, f.hit.lat);
        }
    }
}

fn words<'a>(args: &Args<'a>) -> Vec<&'a [u8]> {
    args.iter_from(0).collect()
}

/// A request that answers its results (no STORE), on the source's shard.
fn search_here(ctx: &mut ExecCtx, args: &Args, v: Variant) -> CmdResult {
    let argv = words(args);
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let z = read_zset(shard, *db, args.get(v.source()), *now_ms)?;
    let q = parse(&argv, v, z)?;
    match z {
        Some(z) => reply_found(reply, &q, &run(z, &q)),
        None => reply.array(0),
    }
    Ok(())
}

/// A command that may store: with a destination, the [`STORE_SPLIT`]
/// steps in place; else a plain search.
fn maybe_store(ctx: &mut ExecCtx, args: &Args, v: Variant) -> CmdResult {
    if v == Variant::SearchStore || store_key(&words(args), v).is_some() {
        return gather_split_here(ctx, args, STORE_SPLIT);
    }
    search_here(ctx, args, v)
}

pub fn georadius(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    maybe_store(ctx, args, Variant::Radius { store: true })
}

pub fn georadius_ro(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    search_here(ctx, args, Variant::Radius { store: false })
}

pub fn georadiusbymember(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    maybe_store(ctx, args, Variant::ByMember { store: true })
}

pub fn georadiusbymember_ro(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    search_here(ctx, args, Variant::ByMember { store: false })
}

pub fn geosearch(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    search_here(ctx, args, Variant::Search)
}

pub fn geosearchstore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    maybe_store(ctx, args, Variant::SearchStore)
}

/// GEORADIUS's destination (the table's keyword key).
pub fn radius_store_key(args: &Args) -> Option<usize> {
    store_key(&words(args), Variant::Radius { store: true })
}

/// GEORADIUSBYMEMBER's destination.
pub fn bymember_store_key(args: &Args) -> Option<usize> {
    store_key(&words(args), Variant::ByMember { store: true })
}

/// The variant `args` run, for the split's steps.
fn variant(name: &[u8]) -> Result<Variant, CmdError> {
    Variant::of(name).ok_or(CmdError::Internal)
}

/// The STORE forms: the source's shard reads the request (it gets the
/// source key, then every argument, the command name first).
pub const STORE_SPLIT: Split = Split::Gather(&Gather {
    sources: |args| Ok(vec![variant(args.get(0))?.source()]),
    extra: |args| (0..args.len()).collect(),
    read: read_store,
    combine: combine_store,
    key_flags: &["OW", "update"],
});

/// The pairs to store: members with their geohash scores, or with STOREDIST
/// their distances in the request's unit.
fn read_store(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((src, rest)) = p.args.split_first() else {
        return OpResult::Err(CmdError::Internal);
    };
    let argv: Vec<&[u8]> = rest.iter().map(|w| &w[..]).collect();
    let stored = (|| {
        let v = variant(argv.first().copied().unwrap_or_default())?;
        let z = read_zset(shard, p.db, src, p.now_ms)?;
        let q = parse(&argv, v, z)?;
        let (Some(store), Some(z)) = (q.store, z) else {
            return Ok(None);
        };
        let to_meters = q.shape.map_or(1.0, |s| s.to_meters);
        let found = run(z, &q);
        let pairs = found.iter().map(|f| {
            let score = if store.dist {
                f.hit.dist_m / to_meters
            } else {
                f.score
            };
            (ZMember::Bytes(&f.member), score)
        });
        Ok(Some(encode_pairs(pairs)))
    })();
    match stored {
        Ok(pairs) => OpResult::Lists(vec![pairs]),
        Err(e) => OpResult::Err(e),
    }
}

/// Answers the count and stores the pairs at the destination.
fn combine_store(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let v = variant(args.get(0))?;
    let key = match v {
        Variant::SearchStore => 1,
        _ => store_key(&words(args), v).ok_or(CmdError::Internal)?,
    };
    let pairs = read.first().and_then(Option::as_ref);
    reply.int(pairs.map_or(0, |p| p.len() / 2) as i64);
    let mut words = vec![Bytes::copy_from_slice(args.get(key))];
    words.extend(
        pairs
            .into_iter()
            .flatten()
            .map(|w| Bytes::copy_from_slice(w)),
    );
    Ok(vec![GatherWrite {
        key,
        apply: store_part,
        args: words,
    }])
}
