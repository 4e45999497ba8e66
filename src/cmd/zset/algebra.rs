//! ZUNION, ZINTER, ZDIFF, ZINTERCARD and ZUNIONSTORE, ZINTERSTORE,
//! ZDIFFSTORE: each a [`Gather`] (read the sources, combine here, store),
//! whether the keys share a shard or not. Sources may be sets (every
//! member scores 1). Checked in Redis 7.0's order: the key count, then
//! each source's type, then WEIGHTS/AGGREGATE/WITHSCORES/LIMIT.
//!
//! Scores combine as Redis's do: inputs are taken smallest first (a
//! stable sort by size, as glibc's qsort behaves here), a weighted score
//! that is NaN counts as 0, and a SUM that comes out NaN (`inf + -inf`)
//! is 0.
//!
//! Reads travel as member/score pairs: the member, then the score's 8
//! little-endian bytes ([`encode_pairs`]).

use super::reply_entries;
use super::score::parse_score;
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::reply::format_double;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::zset::{cmp_entry, ZMember, ZSet, REWRITE_CHUNK};
use crate::shard::value::{EncodingLimits, Value};
use crate::shard::Shard;
use bytes::Bytes;
use std::collections::{HashMap, HashSet};

const READ: &[&str] = &["RO", "access"];
const STORE: &[&str] = &["OW", "update"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
    /// ZINTERCARD.
    Card,
}

/// Where the key count stands: after the destination for STORE forms.
fn numkeys_at(args: &Args) -> usize {
    let name = args.get(0);
    if name.len() > 5 && name[name.len() - 5..].eq_ignore_ascii_case(b"store") {
        2
    } else {
        1
    }
}

/// The key count and the source keys' argument indexes.
fn sources(args: &Args) -> Result<Vec<usize>, CmdError> {
    let at = numkeys_at(args);
    let n = arg_i64(args.get(at))?;
    if n < 1 {
        let name = String::from_utf8_lossy(args.get(0)).to_ascii_lowercase();
        return Err(CmdError::Msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    Ok((at + 1..at + 1 + n as usize).collect())
}

macro_rules! gather {
    ($name:ident, $op:expr, $store:expr, $flags:expr, $handler:ident) => {
        pub const $name: Split = Split::Gather(&Gather {
            sources,
            extra: |_| Vec::new(),
            read: read_sources,
            combine: |args, limits, read, reply| combine(args, limits, read, reply, $op, $store),
            key_flags: $flags,
        });

        pub fn $handler(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
            gather_split_here(ctx, args, $name)
        }
    };
}

gather!(ZUNION_SPLIT, Op::Union, false, READ, zunion);
gather!(ZINTER_SPLIT, Op::Inter, false, READ, zinter);
gather!(ZDIFF_SPLIT, Op::Diff, false, READ, zdiff);
gather!(ZINTERCARD_SPLIT, Op::Card, false, READ, zintercard);
gather!(ZUNIONSTORE_SPLIT, Op::Union, true, STORE, zunionstore);
gather!(ZINTERSTORE_SPLIT, Op::Inter, true, STORE, zinterstore);
gather!(ZDIFFSTORE_SPLIT, Op::Diff, true, STORE, zdiffstore);

/// Entries as they travel between shards: member, then 8 score bytes.
pub fn encode_pairs<'a>(entries: impl Iterator<Item = (ZMember<'a>, f64)>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (m, s) in entries {
        out.push(m.to_vec());
        out.push(s.to_le_bytes().to_vec());
    }
    out
}

/// The pairs of [`encode_pairs`] back as (member, score).
pub fn decode_pairs<T: AsRef<[u8]>>(words: &[T]) -> impl Iterator<Item = (&[u8], f64)> {
    words.chunks_exact(2).map(|p| {
        let s: [u8; 8] = p[1].as_ref().try_into().unwrap_or([0; 8]);
        (p[0].as_ref(), f64::from_le_bytes(s))
    })
}

/// Each source's entries (a lookup counted as Redis's `lookupKeyRead`): a
/// sorted set's pairs, a set's members scored 1; `WRONGTYPE` otherwise.
fn read_sources(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let mut lists = Vec::with_capacity(p.args.len());
    for key in p.args {
        match shard.get_counted(p.db, key, p.now_ms) {
            None => lists.push(None),
            Some(e) => {
                if let Some(z) = e.value.as_zset() {
                    lists.push(Some(encode_pairs(z.iter())));
                } else if let Some(s) = e.value.as_set() {
                    let mut out = Vec::with_capacity(s.len() * 2);
                    for m in s.iter() {
                        out.push(m.to_vec());
                        out.push(1f64.to_le_bytes().to_vec());
                    }
                    lists.push(Some(out));
                } else {
                    return OpResult::Err(CmdError::WrongType);
                }
            }
        }
    }
    OpResult::Lists(lists)
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, target: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *target += v;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if v < *target {
                    *target = v
                }
            }
            Aggregate::Max => {
                if v > *target {
                    *target = v
                }
            }
        }
    }
}

struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: u64,
}

/// The options after the keys, as Redis 7.0 reads them.
fn parse_options(args: &Args, n: usize, op: Op, store: bool) -> Result<Options, CmdError> {
    let mut o = Options {
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = numkeys_at(args) + 1 + n;
    let weighted = op == Op::Union || op == Op::Inter;
    while j < args.len() {
        let left = args.len() - j;
        let w = args.get(j);
        if weighted && left > n && eq_ic(w, "weights") {
            for i in 0..n {
                o.weights[i] = parse_score(args.get(j + 1 + i))
                    .ok_or(CmdError::Static("ERR weight value is not a float"))?;
            }
            j += 1 + n;
        } else if weighted && left >= 2 && eq_ic(w, "aggregate") {
            let a = args.get(j + 1);
            o.aggregate = match () {
                _ if eq_ic(a, "sum") => Aggregate::Sum,
                _ if eq_ic(a, "min") => Aggregate::Min,
                _ if eq_ic(a, "max") => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            j += 2;
        } else if !store && op != Op::Card && eq_ic(w, "withscores") {
            o.withscores = true;
            j += 1;
        } else if op == Op::Card && left >= 2 && eq_ic(w, "limit") {
            o.limit = match arg_i64(args.get(j + 1)) {
                Ok(l) if l >= 0 => l as u64,
                _ => return Err(CmdError::LimitNegative),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// One source as read: its pairs (empty when missing) and its weight.
struct Source<'a> {
    pairs: Vec<(&'a [u8], f64)>,
    weight: f64,
}

fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// The result entries (member, score), unordered; for ZINTERCARD only its
/// count matters.
fn compute(read: &Gathered, o: &Options, op: Op) -> Vec<(Vec<u8>, f64)> {
    let mut srcs: Vec<Source> = read
        .iter()
        .zip(&o.weights)
        .map(|(l, &weight)| Source {
            pairs: l.as_ref().map_or(Vec::new(), |l| decode_pairs(l).collect()),
            weight,
        })
        .collect();
    if op != Op::Diff {
        srcs.sort_by_key(|s| s.pairs.len());
    }
    match op {
        Op::Union => {
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            let mut order: Vec<&[u8]> = Vec::new();
            for s in &srcs {
                for &(m, score) in &s.pairs {
                    let v = weighted(s.weight, score);
                    match acc.get_mut(m) {
                        Some(t) => o.aggregate.apply(t, v),
                        None => {
                            acc.insert(m, v);
                            order.push(m);
                        }
                    }
                }
            }
            order.into_iter().map(|m| (m.to_vec(), acc[m])).collect()
        }
        Op::Inter | Op::Card => {
            let Some((first, rest)) = srcs.split_first() else {
                return Vec::new();
            };
            let maps: Vec<HashMap<&[u8], f64>> = rest
                .iter()
                .map(|s| s.pairs.iter().copied().collect())
                .collect();
            let mut out = Vec::new();
            for &(m, score) in &first.pairs {
                let mut total = weighted(first.weight, score);
                let mut everywhere = true;
                for (s, map) in rest.iter().zip(&maps) {
                    match map.get(m) {
                        Some(&v) => o.aggregate.apply(&mut total, v * s.weight),
                        None => {
                            everywhere = false;
                            break;
                        }
                    }
                }
                if everywhere {
                    out.push((m.to_vec(), total));
                    if op == Op::Card && o.limit != 0 && out.len() as u64 >= o.limit {
                        break;
                    }
                }
            }
            out
        }
        Op::Diff => {
            let Some((first, rest)) = srcs.split_first() else {
                return Vec::new();
            };
            let others: HashSet<&[u8]> = rest
                .iter()
                .flat_map(|s| s.pairs.iter().map(|p| p.0))
                .collect();
            first
                .pairs
                .iter()
                .filter(|(m, _)| !others.contains(m))
                .map(|&(m, s)| (m.to_vec(), s))
                .collect()
        }
    }
}

fn combine(
    args: &Args,
    limits: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
    op: Op,
    store: bool,
) -> Result<Vec<GatherWrite>, CmdError> {
    let o = parse_options(args, read.len(), op, store)?;
    let entries = compute(read, &o, op);
    if op == Op::Card {
        reply.int(entries.len() as i64);
        return Ok(Vec::new());
    }
    if !store {
        // Answered from the result as computed (Redis replies from its
        // skiplist: a -0 stays -0).
        let mut sorted = entries;
        sorted.sort_by(|a, b| cmp_entry((a.1, &a.0), (b.1, &b.0)));
        reply_entries(reply, &sorted, o.withscores);
        return Ok(Vec::new());
    }
    let z = ZSet::build(entries, limits);
    reply.int(z.len() as i64);
    let mut words = vec![Bytes::copy_from_slice(args.get(1))];
    words.extend(encode_pairs(z.iter()).into_iter().map(Bytes::from));
    Ok(vec![GatherWrite {
        key: 1,
        apply: store_part,
        args: words,
    }])
}

/// A STORE form's write on the destination's shard: the key becomes a
/// sorted set of the pairs after it (built with this shard's limits), or
/// is deleted when there are none. Journaled as `DEL` then `ZADD`s of at
/// most [`REWRITE_CHUNK`] members.
pub fn store_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((key, pairs)) = p.args.split_first() else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |shard| {
        let removed = shard.remove(p.db, key, p.now_ms).is_some();
        if removed {
            shard.propagate(p.db, &[b"DEL", key]);
        }
        if pairs.is_empty() {
            return;
        }
        let entries: Vec<(Vec<u8>, f64)> =
            decode_pairs(pairs).map(|(m, s)| (m.to_vec(), s)).collect();
        let limits = shard.encoding_limits();
        for chunk in entries.chunks(REWRITE_CHUNK) {
            let scores: Vec<String> = chunk.iter().map(|(_, s)| format_double(*s)).collect();
            let mut argv: Vec<&[u8]> = Vec::with_capacity(2 + chunk.len() * 2);
            argv.push(b"ZADD");
            argv.push(key);
            for ((m, _), s) in chunk.iter().zip(&scores) {
                argv.push(s.as_bytes());
                argv.push(m);
            }
            shard.propagate(p.db, &argv);
        }
        let z = ZSet::build(entries, &limits);
        shard.set(p.db, key, Value::ZSet(Box::new(z)), 0);
    });
    OpResult::Ok
}
