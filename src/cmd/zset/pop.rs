//! ZPOPMIN, ZPOPMAX, ZMPOP and the blocking BZPOPMIN, BZPOPMAX, BZMPOP
//! (declared as [`BlockSpec`]s for the shared blocking mechanism,
//! cmd/blocking.rs). Every pop is journaled as `ZPOPMIN|ZPOPMAX key
//! [count]` with the count it took (as Redis propagates ZMPOP and the
//! blocking forms), which replays to the same members.
//!
//! Reply shapes, as Redis 7.0's `genericZpopCommand`: ZPOPMIN a flat
//! member/score array (nested pairs in RESP3 when COUNT is given),
//! BZPOPMIN `[key, member, score]`, ZMPOP/BZMPOP `[key, [[member,
//! score]…]]`, and the null array when ZMPOP finds nothing.

use super::is_zset;
use crate::cmd::blocking::{parse_timeout, BlockReq, BlockSpec};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::mpop::{parse_mpop, MpopArgs};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::reply::format_double;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::blocking::{ServeCtx, ServeMode, Served, Taken};
use crate::shard::value::zset::ZSet;
use crate::shard::value::{EncodingLimits, Value};
use crate::shard::Shard;
use bytes::Bytes;

/// Which end of a sorted set a pop takes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Min,
    Max,
}

impl Where {
    fn parse(w: &[u8]) -> Result<Where, CmdError> {
        match () {
            _ if eq_ic(w, "min") => Ok(Where::Min),
            _ if eq_ic(w, "max") => Ok(Where::Max),
            _ => Err(CmdError::Syntax),
        }
    }

    fn word(self) -> &'static [u8] {
        match self {
            Where::Min => b"MIN",
            Where::Max => b"MAX",
        }
    }

    fn pop_name(self) -> &'static [u8] {
        match self {
            Where::Min => b"ZPOPMIN",
            Where::Max => b"ZPOPMAX",
        }
    }
}

/// Pops up to `n` entries from the sorted set at `key` (a type the caller
/// checked), deleting it when emptied, journaled as `ZPOPMIN|ZPOPMAX key
/// count` (or without a count when `with_count` is false).
fn pop(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    w: Where,
    n: usize,
    with_count: bool,
    now: u64,
) -> Vec<(Vec<u8>, f64)> {
    shard.journaled(now, |s| {
        let (popped, empty) = {
            let Some(mut e) = s.get_mut(db, key, now) else {
                return Vec::new();
            };
            let Some(z) = e.value.as_zset_mut() else {
                return Vec::new();
            };
            let popped = z.pop(n, w == Where::Max);
            (popped, z.is_empty())
        };
        if empty {
            s.remove(db, key, now);
        }
        if !popped.is_empty() {
            let count = popped.len().to_string();
            if with_count {
                s.propagate(db, &[w.pop_name(), key, count.as_bytes()]);
            } else {
                s.propagate(db, &[w.pop_name(), key]);
            }
        }
        popped
    })
}

fn pair(reply: &mut ReplyWriter, m: &[u8], score: f64) {
    reply.bulk(m);
    reply.double(score);
}

fn zpop(ctx: &mut ExecCtx, args: &Args, w: Where) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.len() {
        3 => match arg_i64(args.get(2))? {
            n if n < 0 => return Err(CmdError::MustBePositive),
            n => Some(n as usize),
        },
        _ => None,
    };
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_zset(ctx.shard, db, key, now)? || count == Some(0) {
        ctx.reply.array(0);
        return Ok(());
    }
    let popped = pop(
        ctx.shard,
        db,
        key,
        w,
        count.unwrap_or(1),
        count.is_some(),
        now,
    );
    let nested = ctx.reply.resp3 && count.is_some();
    if nested {
        ctx.reply.array(popped.len());
    } else {
        ctx.reply.array(popped.len() * 2);
    }
    for (m, s) in &popped {
        if nested {
            ctx.reply.array(2);
        }
        pair(&mut ctx.reply, m, *s);
    }
    Ok(())
}

pub fn zpopmin(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    zpop(ctx, args, Where::Min)
}

pub fn zpopmax(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    zpop(ctx, args, Where::Max)
}

/// `[key, [[member, score]…]]`, ZMPOP's and BZMPOP's reply.
fn reply_key_pairs(reply: &mut ReplyWriter, key: &[u8], popped: &[(Vec<u8>, f64)]) {
    reply.array(2);
    reply.bulk(key);
    reply.array(popped.len());
    for (m, s) in popped {
        reply.array(2);
        pair(reply, m, *s);
    }
}

fn parse_zmpop(args: &Args, numkeys_at: usize) -> Result<MpopArgs<Where>, CmdError> {
    parse_mpop(args, numkeys_at, Where::parse)
}

pub fn zmpop(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let m = parse_zmpop(args, 1)?;
    let (db, now) = (ctx.db, ctx.now_ms);
    for k in m.keys {
        let key = args.get(k);
        if !is_zset(ctx.shard, db, key, now)? {
            continue;
        }
        let popped = pop(ctx.shard, db, key, m.end, m.count, true, now);
        reply_key_pairs(&mut ctx.reply, key, &popped);
        return Ok(());
    }
    ctx.reply.null_array();
    Ok(())
}

/// A peeked key that holds another type.
const NOT_ZSET: &[u8] = b"!";

/// ZMPOP numkeys key… MIN|MAX [COUNT n] across shards: peek every key
/// (what a pop would take), pop from the first sorted set.
pub const ZMPOP_SPLIT: Split = Split::Gather(&Gather {
    sources: |args| parse_zmpop(args, 1).map(|m| m.keys.collect()),
    extra: |args| match parse_zmpop(args, 1) {
        Ok(m) => vec![m.end_at, m.count_at.unwrap_or(m.end_at)],
        Err(_) => Vec::new(),
    },
    read: peek,
    combine: combine_zmpop,
    key_flags: &["RW", "access", "delete"],
});

/// Each key (a write lookup: no hit/miss count): None, [`NOT_ZSET`], or
/// the member/score pairs a pop of the last two words (end, count; the
/// end again for one) would take.
fn peek(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [keys @ .., end, count] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    let Ok(w) = Where::parse(end) else {
        return OpResult::Err(CmdError::Internal);
    };
    let count = arg_i64(count).map_or(1, |n| n.max(1) as usize);
    let lists = keys
        .iter()
        .map(|key| {
            let e = shard.get(p.db, key, p.now_ms)?;
            let Some(z) = e.value.as_zset() else {
                return Some(vec![NOT_ZSET.to_vec()]);
            };
            let n = count.min(z.len());
            let taken = match w {
                Where::Min => z.range(0, n, false),
                Where::Max => z.range(z.len() - n, z.len(), true),
            };
            Some(super::algebra::encode_pairs(taken))
        })
        .collect();
    OpResult::Lists(lists)
}

fn combine_zmpop(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let m = parse_zmpop(args, 1)?;
    for (k, r) in m.keys.zip(read) {
        let Some(l) = r else { continue };
        if l.first().is_some_and(|t| t == NOT_ZSET) {
            return Err(CmdError::WrongType);
        }
        let popped: Vec<(Vec<u8>, f64)> = super::algebra::decode_pairs(l)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        reply_key_pairs(reply, args.get(k), &popped);
        let word = |a: &[u8]| Bytes::copy_from_slice(a);
        return Ok(vec![GatherWrite {
            key: k,
            apply: pop_part,
            args: vec![
                word(args.get(k)),
                word(m.end.word()),
                word(popped.len().to_string().as_bytes()),
            ],
        }]);
    }
    reply.null_array();
    Ok(Vec::new())
}

/// `[key, MIN|MAX, count]`: pops that many on this shard.
fn pop_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [key, end, count] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    let (Ok(w), Ok(n)) = (Where::parse(end), arg_i64(count)) else {
        return OpResult::Err(CmdError::Internal);
    };
    let popped = pop(shard, p.db, key, w, n.max(0) as usize, true, p.now_ms);
    OpResult::Int(popped.len() as i64)
}

pub static BZPOPMIN: BlockSpec = BlockSpec {
    parse: |args| bzpop_req(args, Where::Min),
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null_array(),
    across: None,
};

pub static BZPOPMAX: BlockSpec = BlockSpec {
    parse: |args| bzpop_req(args, Where::Max),
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null_array(),
    across: None,
};

pub static BZMPOP: BlockSpec = BlockSpec {
    parse: bzmpop_req,
    timed_out: |w| w.null_array(),
    not_blocking: |w| w.null_array(),
    across: None,
};

/// BZPOPMIN/BZPOPMAX key… timeout.
fn bzpop_req(args: &Args, w: Where) -> Result<BlockReq, CmdError> {
    let timeout_ms = parse_timeout(args.get(args.len() - 1))?;
    Ok(BlockReq {
        timeout_ms,
        keys: (1..args.len() - 1).collect(),
        writes: Vec::new(),
        serve: serve_pop,
        words: vec![w.word().to_vec()],
    })
}

/// BZMPOP timeout numkeys key… MIN|MAX [COUNT n]: the options are checked
/// before the timeout, as Redis does.
fn bzmpop_req(args: &Args) -> Result<BlockReq, CmdError> {
    let m = parse_zmpop(args, 2)?;
    let timeout_ms = parse_timeout(args.get(1))?;
    Ok(BlockReq {
        timeout_ms,
        keys: m.keys.collect(),
        writes: Vec::new(),
        serve: serve_pop,
        words: vec![m.end.word().to_vec(), m.count.to_string().into_bytes()],
    })
}

/// Words: the end, then (BZMPOP) the count. Replies `[key, member,
/// score]` or BZMPOP's `[key, [[member, score]…]]`.
fn serve_pop(shard: &mut Shard, c: &ServeCtx) -> Served {
    let (w, count) = match c.words {
        [end, rest @ ..] => (
            Where::parse(end).unwrap_or(Where::Min),
            rest.first()
                .and_then(|n| arg_i64(n).ok())
                .map(|n| n.max(1) as usize),
        ),
        [] => (Where::Min, None),
    };
    match shard.get(c.db, c.key, c.now_ms) {
        None => return Served::NotReady,
        Some(e) if e.value.as_zset().is_some() => {}
        Some(_) if c.mode == ServeMode::Ready => return Served::NotReady,
        Some(_) => {
            let mut reply = Vec::new();
            ReplyWriter::new(&mut reply, c.resp3).error(&CmdError::WrongType.to_string());
            return Served::Reply { reply, taken: None };
        }
    }
    let popped = pop(
        shard,
        c.db,
        c.key,
        w,
        count.unwrap_or(1),
        count.is_some(),
        c.now_ms,
    );
    if popped.is_empty() {
        return Served::NotReady;
    }
    let mut reply = Vec::new();
    let mut r = ReplyWriter::new(&mut reply, c.resp3);
    match count {
        Some(_) => reply_key_pairs(&mut r, c.key, &popped),
        None => {
            r.array(3);
            r.bulk(c.key);
            pair(&mut r, &popped[0].0, popped[0].1);
        }
    }
    let mut elements = Vec::with_capacity(popped.len() * 2);
    for (m, s) in popped {
        elements.push(m);
        elements.push(s.to_le_bytes().to_vec());
    }
    Served::Reply {
        reply,
        taken: Some(Taken {
            db: c.db,
            key: Bytes::copy_from_slice(c.key),
            head: w == Where::Min,
            elements,
            restore: put_back,
        }),
    }
}

/// Puts back what a pop took for a waiter that left before its reply
/// reached it: each member with its score, unless the key now holds it
/// (a newer score wins), journaled as `ZADD`. False when the key now
/// holds another type.
pub fn put_back(shard: &mut Shard, t: &Taken, now_ms: u64) -> bool {
    if shard
        .get(t.db, &t.key, now_ms)
        .is_some_and(|e| e.value.as_zset().is_none())
    {
        return false;
    }
    let limits = shard.encoding_limits();
    let pairs: Vec<(&[u8], f64)> = super::algebra::decode_pairs(&t.elements).collect();
    shard.journaled(now_ms, |s| {
        let mut back: Vec<(&[u8], f64)> = Vec::new();
        let exists = s.get(t.db, &t.key, now_ms).is_some();
        if exists {
            if let Some(z) = s
                .get_mut(t.db, &t.key, now_ms)
                .as_mut()
                .and_then(|e| e.value.as_zset_mut())
            {
                for &(m, score) in &pairs {
                    if z.score(m).is_none() {
                        z.insert(m, score, &limits);
                        back.push((m, score));
                    }
                }
            }
        } else if let Some(&(first, _)) = pairs.first() {
            let mut z = ZSet::new_for(first.len(), &limits);
            for &(m, score) in &pairs {
                z.insert(m, score, &limits);
                back.push((m, score));
            }
            s.set(t.db, &t.key, Value::ZSet(Box::new(z)), 0);
        }
        if !back.is_empty() {
            let scores: Vec<String> = back.iter().map(|(_, sc)| format_double(*sc)).collect();
            let mut argv: Vec<&[u8]> = vec![b"ZADD", &t.key];
            for ((m, _), sc) in back.iter().zip(&scores) {
                argv.push(sc.as_bytes());
                argv.push(m);
            }
            s.propagate(t.db, &argv);
        }
    });
    true
}
