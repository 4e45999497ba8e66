//! LMOVE, RPOPLPUSH and LMPOP: commands over several list keys. On one
//! shard they run as their handlers; across shards as [`Gather`]s through
//! the coordinator (every key locked from the read to the last write): the
//! read peeks what would be popped, the combine decides as Redis does, and
//! the writes pop on the source's shard and push on the destination's.
//!
//! Journaling: a move within one slot is journaled as received; otherwise
//! as the pop and the push it made (one record per slot). LMPOP is
//! journaled as the LPOP/RPOP with a count it did, as Redis propagates it.

use super::{is_list, pop_elements, push_elements, End};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::EncodingLimits;
use crate::shard::Shard;
use bytes::Bytes;

/// What [`peek`] reads per key: `[LIST, elements…]`, `[NOT_LIST]`, or None.
const LIST: &[u8] = b"list";
const NOT_LIST: &[u8] = b"wrongtype";

/// A move's ends: (source end, destination end).
fn move_ends(args: &Args) -> Result<(End, End), CmdError> {
    if eq_ic(args.get(0), "rpoplpush") || eq_ic(args.get(0), "brpoplpush") {
        return Ok((End::Tail, End::Head));
    }
    Ok((End::parse(args.get(3))?, End::parse(args.get(4))?))
}

pub const LMOVE_SPLIT: Split = Split::Gather(&Gather {
    sources: |args| move_ends(args).map(|_| vec![1, 2]),
    // The source end twice: a count of one (see `peek`).
    extra: |_| vec![3, 3],
    read: peek,
    combine: combine_move,
    key_flags: &["RW", "access", "delete"],
});

pub const RPOPLPUSH_SPLIT: Split = Split::Gather(&Gather {
    sources: |_| Ok(vec![1, 2]),
    extra: |_| Vec::new(),
    read: |shard, p| peek_keys(shard, p, p.args, End::Tail, 1),
    combine: combine_move,
    key_flags: &["RW", "access", "delete"],
});

pub fn lmove(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    move_here(ctx, args, LMOVE_SPLIT)
}

pub fn rpoplpush(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    move_here(ctx, args, RPOPLPUSH_SPLIT)
}

/// LMOVE or RPOPLPUSH with both keys on this shard.
fn move_here(ctx: &mut ExecCtx, args: &Args, split: Split) -> CmdResult {
    let (from, to) = move_ends(args)?;
    let (src, dst) = (args.get(1), args.get(2));
    if crate::slot::key_slot(src) != crate::slot::key_slot(dst) {
        // Journaled as the pop and the push, one slot each.
        return gather_split_here(ctx, args, split);
    }
    let (db, now) = (ctx.db, ctx.now_ms);
    if !is_list(ctx.shard, db, src, now)? {
        ctx.reply.null();
        return Ok(());
    }
    is_list(ctx.shard, db, dst, now)?;
    let Some(e) = pop_elements(ctx.shard, db, src, from, 1, now).and_then(|mut v| v.pop()) else {
        ctx.reply.null();
        return Ok(());
    };
    push_elements(ctx.shard, db, dst, to, [&e[..]], now);
    ctx.reply.bulk(&e);
    Ok(())
}

/// Reads each key (Redis's write lookups: no hit/miss count): its type and
/// the elements a pop from the end in the last two words would take: the
/// direction, then the count (the direction again for a count of one).
fn peek(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [keys @ .., end, count] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    let Ok(end) = End::parse(end) else {
        return OpResult::Err(CmdError::Internal);
    };
    let count = arg_i64(count).map_or(1, |n| n.max(1) as usize);
    peek_keys(shard, p, keys, end, count)
}

/// [`peek`] of `keys`, `count` elements from `end`.
fn peek_keys(shard: &mut Shard, p: &PartCtx, keys: &[Bytes], end: End, count: usize) -> OpResult {
    let lists = keys
        .iter()
        .map(|key| {
            let e = shard.get(p.db, key, p.now_ms)?;
            let Some(l) = e.value.as_list() else {
                return Some(vec![NOT_LIST.to_vec()]);
            };
            let n = count.min(l.len());
            let mut out = Vec::with_capacity(n + 1);
            out.push(LIST.to_vec());
            let at = |i| l.with_element(i, |e| e.to_vec()).unwrap_or_default();
            match end {
                End::Head => out.extend((0..n).map(at)),
                End::Tail => out.extend((0..n).map(|i| at(l.len() - 1 - i))),
            }
            Some(out)
        })
        .collect();
    OpResult::Lists(lists)
}

fn is_wrong(read: &Option<Vec<Vec<u8>>>) -> bool {
    read.as_ref()
        .is_some_and(|l| l.first().is_some_and(|t| t == NOT_LIST))
}

/// Redis 7.0's order: a missing source answers null, then the source's
/// type, then the destination's, then the move.
fn combine_move(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let (from, to) = move_ends(args)?;
    let (Some(src), Some(dst)) = (read.first(), read.get(1)) else {
        return Err(CmdError::Internal);
    };
    let Some(element) = src.as_ref().and_then(|l| l.get(1)) else {
        if is_wrong(src) {
            return Err(CmdError::WrongType);
        }
        reply.null();
        return Ok(Vec::new());
    };
    if is_wrong(src) || is_wrong(dst) {
        return Err(CmdError::WrongType);
    }
    reply.bulk(element);
    let word = |a: &[u8]| Bytes::copy_from_slice(a);
    Ok(vec![
        GatherWrite {
            key: 1,
            apply: pop_part,
            args: vec![word(args.get(1)), word(from.word()), word(b"1")],
        },
        GatherWrite {
            key: 2,
            apply: push_part,
            args: vec![word(args.get(2)), word(to.word()), word(element)],
        },
    ])
}

/// `[key, LEFT|RIGHT, count]`: pops that many on this shard, journaled as
/// `LPOP|RPOP key count`.
fn pop_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [key, end, count] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    let (Ok(end), Ok(n)) = (End::parse(end), arg_i64(count)) else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |s| {
        let popped = pop_elements(s, p.db, key, end, n.max(0) as usize, p.now_ms);
        let n = popped.as_ref().map_or(0, |v| v.len());
        if n > 0 {
            let count = n.to_string();
            s.propagate(p.db, &[end.pop_name(), key, count.as_bytes()]);
        }
        OpResult::Int(n as i64)
    })
}

/// `[key, LEFT|RIGHT, elements…]`: pushes them on this shard, journaled as
/// `LPUSH|RPUSH key elements…`.
fn push_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [key, end, elements @ ..] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    let Ok(end) = End::parse(end) else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |s| {
        push_elements(s, p.db, key, end, elements.iter().map(|e| &e[..]), p.now_ms);
        let mut argv: Vec<&[u8]> = vec![end.push_name(), key];
        argv.extend(elements.iter().map(|e| &e[..]));
        s.propagate(p.db, &argv);
        OpResult::Int(elements.len() as i64)
    })
}

/// LMPOP's (and BLMPOP's) options after the key count at `numkeys_at`
/// (cmd/mpop.rs), with LEFT|RIGHT as the end.
pub type MpopArgs = crate::cmd::mpop::MpopArgs<End>;

pub fn parse_mpop(args: &Args, numkeys_at: usize) -> Result<MpopArgs, CmdError> {
    crate::cmd::mpop::parse_mpop(args, numkeys_at, End::parse)
}

/// LMPOP numkeys key… LEFT|RIGHT [COUNT n] across shards: peek every key,
/// pop from the first list.
pub const LMPOP_SPLIT: Split = Split::Gather(&Gather {
    sources: |args| parse_mpop(args, 1).map(|m| m.keys.collect()),
    extra: |args| match parse_mpop(args, 1) {
        Ok(m) => vec![m.end_at, m.count_at.unwrap_or(m.end_at)],
        Err(_) => Vec::new(),
    },
    read: peek,
    combine: combine_mpop,
    key_flags: &["RW", "access", "delete"],
});

pub fn lmpop(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 1)?;
    let (db, now) = (ctx.db, ctx.now_ms);
    for k in m.keys {
        let key = args.get(k);
        if !is_list(ctx.shard, db, key, now)? {
            continue;
        }
        let popped = pop_elements(ctx.shard, db, key, m.end, m.count, now).unwrap_or_default();
        let count = popped.len().to_string();
        ctx.propagate(&[m.end.pop_name(), key, count.as_bytes()]);
        reply_key_elements(&mut ctx.reply, key, &popped);
        return Ok(());
    }
    ctx.reply.null_array();
    Ok(())
}

/// `[key, [elements…]]`, LMPOP's and BLMPOP's reply.
pub fn reply_key_elements(reply: &mut ReplyWriter, key: &[u8], elements: &[Vec<u8>]) {
    reply.array(2);
    reply.bulk(key);
    reply.array(elements.len());
    elements.iter().for_each(|e| reply.bulk(e));
}

/// The first key that holds a list wins (a wrong type before it is the
/// error); nothing found is the null array.
fn combine_mpop(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let m = parse_mpop(args, 1)?;
    for (k, r) in m.keys.zip(read) {
        if is_wrong(r) {
            return Err(CmdError::WrongType);
        }
        let Some(l) = r else { continue };
        let elements = &l[1..];
        reply_key_elements(reply, args.get(k), elements);
        let word = |a: &[u8]| Bytes::copy_from_slice(a);
        return Ok(vec![GatherWrite {
            key: k,
            apply: pop_part,
            args: vec![
                word(args.get(k)),
                word(m.end.word()),
                word(elements.len().to_string().as_bytes()),
            ],
        }]);
    }
    reply.null_array();
    Ok(Vec::new())
}
