//! MGET, MSET and MSETNX: their handlers (the case where every key lives on
//! one shard) and, next to them, how each runs when its keys span shards
//! (cmd/split.rs): MGET and MSET become one part per shard, the same command
//! over that shard's keys, merged here; MSETNX checks every shard, then
//! writes every shard, in one transaction.

use super::bulk_value;
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{self, Guarded, PartCtx, Parts, Split, SplitParts};
use crate::cmd::{eq_ic, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::Value;
use crate::shard::Shard;
use crate::slot::{key_slot, SlotTable};

const OVERWRITE: &[&str] = &["OW", "update"];

/// MGET over several shards: each shard reads its keys, the values come
/// back in key order.
pub const MGET_SPLIT: Split = Split::Parts(&SplitParts {
    split: split_keys,
    merge: merge_mget,
    key_flags: &["RO", "access"],
});

/// MSET over several shards: each shard writes its pairs; `+OK`.
pub const MSET_SPLIT: Split = Split::Parts(&SplitParts {
    split: split_pairs,
    merge: merge_ok,
    key_flags: OVERWRITE,
});

/// MSETNX over several shards: no key may exist on any shard, then every
/// shard writes its pairs.
pub const MSETNX_SPLIT: Split = Split::Guarded(&Guarded {
    per_key: 2,
    check_args: check_msetnx,
    check: count_existing,
    proceed: none_exists,
    apply: store_pairs,
    reply: reply_msetnx,
    key_flags: OVERWRITE,
});

pub fn mget(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    reply.array(args.len() - 1);
    for key in args.iter_from(1) {
        match shard.get_counted(*db, key, *now_ms) {
            Some(e) if e.value.is_string() => bulk_value(reply, &e.value),
            _ => reply.null(),
        }
    }
    Ok(())
}

/// MSET and MSETNX need key/value pairs; Redis checks this in the handler.
fn check_pairs(args: &Args, cmd: &str) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(cmd.into()));
    }
    Ok(())
}

fn set_pairs(ctx: &mut ExecCtx, args: &Args) {
    for i in (1..args.len()).step_by(2) {
        ctx.shard.set(
            ctx.db,
            args.get(i),
            Value::from_arg(args.get(i + 1), args.shared(i + 1)),
            0,
        );
    }
    propagate_mset(ctx, args);
}

/// Journals MSET/MSETNX's pairs as one `MSET` per slot (each record must
/// touch a single slot, so replay can route it to any layout); pairs keep
/// their order within a slot, so a repeated key's last value still wins.
fn propagate_mset(ctx: &mut ExecCtx, args: &Args) {
    let mut pairs: Vec<(u16, usize)> = (1..args.len())
        .step_by(2)
        .map(|i| (key_slot(args.get(i)), i))
        .collect();
    if pairs.iter().all(|p| p.0 == pairs[0].0) && eq_ic(args.get(0), "mset") {
        return; // one slot: journaled as received
    }
    pairs.sort_by_key(|p| p.0); // stable
    for group in pairs.chunk_by(|a, b| a.0 == b.0) {
        let mut argv: Vec<&[u8]> = Vec::with_capacity(1 + 2 * group.len());
        argv.push(b"MSET");
        for &(_, i) in group {
            argv.push(args.get(i));
            argv.push(args.get(i + 1));
        }
        ctx.propagate(&argv);
    }
}

pub fn mset(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    check_pairs(args, "mset")?;
    set_pairs(ctx, args);
    ctx.reply.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    check_pairs(args, "msetnx")?;
    let (db, now) = (ctx.db, ctx.now_ms);
    if (1..args.len())
        .step_by(2)
        .any(|i| ctx.shard.exists(db, args.get(i), now))
    {
        ctx.reply.int(0);
        return Ok(());
    }
    set_pairs(ctx, args);
    ctx.reply.int(1);
    Ok(())
}

fn check_msetnx(args: &Args) -> CmdResult {
    check_pairs(args, "msetnx")
}

/// MSETNX writes only when no shard found one of its keys.
fn none_exists(found: &[OpResult]) -> bool {
    found.iter().all(|r| matches!(r, OpResult::Int(0)))
}

/// MSETNX's reply: 1 when it wrote, else 0.
fn reply_msetnx(applied: bool, reply: &mut ReplyWriter) {
    reply.int(applied as i64);
}

/// MGET's parts: each shard's keys.
fn split_keys(slots: SlotTable, args: &Args) -> Result<Parts, CmdError> {
    Ok(split::by_shard(slots, args, 1))
}

/// MSET's parts: each shard's pairs (a key without its value is MSET's
/// arity error, answered before anything runs).
fn split_pairs(slots: SlotTable, args: &Args) -> Result<Parts, CmdError> {
    check_pairs(args, "mset")?;
    Ok(split::by_shard(slots, args, 2))
}

/// MSET's merge: `+OK` (or the first part's error).
fn merge_ok(_: SlotTable, _: &Args, replies: &[&[u8]], out: &mut Vec<u8>) -> Option<bool> {
    if split::first_error(replies, out) {
        return Some(false);
    }
    out.extend_from_slice(replies.first().copied().unwrap_or(b"+OK\r\n"));
    Some(true)
}

/// MSETNX's check on one shard: how many of its keys exist, as a
/// write-path lookup (no keyspace hit/miss accounting).
fn count_existing(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let found = p
        .args
        .iter()
        .step_by(2)
        .filter(|k| shard.exists(p.db, k, p.now_ms))
        .count();
    OpResult::Int(found as i64)
}

/// MSETNX's write on one shard: its pairs, clearing any TTL.
fn store_pairs(shard: &mut Shard, p: &PartCtx) -> OpResult {
    for pair in p.args.chunks_exact(2) {
        shard.set(p.db, &pair[0], Value::string(&pair[1]), 0);
    }
    OpResult::Ok
}

/// MGET's merge: each part answers an array of its keys' values (bulk
/// strings or nulls); the elements are copied back in key order, each key
/// taking the next element of its shard's part. Never half an array: None
/// (nothing written) when the parts do not fit the keys.
fn merge_mget(slots: SlotTable, args: &Args, replies: &[&[u8]], out: &mut Vec<u8>) -> Option<bool> {
    if split::first_error(replies, out) {
        return Some(false);
    }
    let start = out.len();
    let merged = copy_mget_elements(slots, args, replies, out);
    if merged.is_none() {
        out.truncate(start);
    }
    merged.map(|()| true)
}

fn copy_mget_elements(
    slots: SlotTable,
    args: &Args,
    replies: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<()> {
    let mut shards: Vec<usize> = Vec::with_capacity(replies.len());
    let mut cursors: Vec<usize> = replies
        .iter()
        .map(|r| Some(r.iter().position(|&b| b == b'\n')? + 1))
        .collect::<Option<_>>()?;
    ReplyWriter::new(out, false).array(args.len() - 1);
    for key in args.iter_from(1) {
        let shard = slots.shard_of(key);
        let part = match shards.iter().position(|&s| s == shard) {
            Some(p) => p,
            None => {
                shards.push(shard);
                shards.len() - 1
            }
        };
        let reply = replies.get(part)?;
        let at = *cursors.get(part)?;
        let end = element_end(reply, at)?;
        out.extend_from_slice(reply.get(at..end)?);
        cursors[part] = end;
    }
    cursors
        .iter()
        .zip(replies)
        .all(|(&c, r)| c == r.len())
        .then_some(())
}

/// Where the bulk string or null that starts at `at` ends.
fn element_end(reply: &[u8], at: usize) -> Option<usize> {
    let end = match reply.get(at)? {
        b'_' => at + 3,
        b'$' => {
            let line = at + reply.get(at..)?.iter().position(|&b| b == b'\r')?;
            match crate::protocol::parser::parse_i64(reply.get(at + 1..line)?)? {
                n if n < 0 => line + 2,
                n => line + 2 + usize::try_from(n).ok()? + 2,
            }
        }
        _ => return None,
    };
    (end <= reply.len()).then_some(end)
}
