//! Hash commands: the table entries of the hash group, the lookups they
//! share, and the reads (HGET, HMGET, HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS,
//! HGETALL). Writes (HSET, HMSET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT) live
//! in `write`, HRANDFIELD in `random`, HSCAN in `scan`.
//!
//! Replies and errors are Redis 7.0's byte for byte, RESP2 and RESP3
//! (HGETALL is a map in RESP3). Reads look keys up as `lookupKeyRead` does
//! (counting hits and misses) and answer `WRONGTYPE` for a non-hash. The
//! value's encoding (listpack or hashtable) is the type's business
//! (`shard::value::hash`); handlers only pass it the live limits.
//!
//! Journaling: every write is journaled as received, except HINCRBYFLOAT,
//! journaled as `HSET key field <result>` (as Redis propagates it).

mod random;
mod scan;
mod write;

use super::error::{CmdError, CmdResult};
use super::table::{flag::*, spec, CommandSpec, Exec};
use super::ExecCtx;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::entry::EntryRef;
use crate::shard::value::hash::{Entry, Hash};
use crate::shard::Shard;

const ONE: (i32, i32, i32) = (1, 1, 1);
const R_FAST: &[&str] = &["read", "hash", "fast"];
const R_SLOW: &[&str] = &["read", "hash", "slow"];
const W_FAST: &[&str] = &["write", "hash", "fast"];

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("hash", "hset", -4, WRITE | DENYOOM | FAST, ONE, W_FAST, "Set the string value of a hash field", "2.0.0", Exec::Shard(write::hset)),
    spec("hash", "hsetnx", 4, WRITE | DENYOOM | FAST, ONE, W_FAST, "Set the value of a hash field, only if the field does not exist", "2.0.0", Exec::Shard(write::hsetnx)),
    spec("hash", "hget", 3, READONLY | FAST, ONE, R_FAST, "Get the value of a hash field", "2.0.0", Exec::Shard(hget)),
    spec("hash", "hmget", -3, READONLY | FAST, ONE, R_FAST, "Get the values of all the given hash fields", "2.0.0", Exec::Shard(hmget)),
    spec("hash", "hmset", -4, WRITE | DENYOOM | FAST, ONE, W_FAST, "Set multiple hash fields to multiple values", "2.0.0", Exec::Shard(write::hmset)),
    spec("hash", "hdel", -3, WRITE | FAST, ONE, W_FAST, "Delete one or more hash fields", "2.0.0", Exec::Shard(write::hdel)),
    spec("hash", "hlen", 2, READONLY | FAST, ONE, R_FAST, "Get the number of fields in a hash", "2.0.0", Exec::Shard(hlen)),
    spec("hash", "hstrlen", 3, READONLY | FAST, ONE, R_FAST, "Get the length of the value of a hash field", "3.2.0", Exec::Shard(hstrlen)),
    spec("hash", "hexists", 3, READONLY | FAST, ONE, R_FAST, "Determine if a hash field exists", "2.0.0", Exec::Shard(hexists)),
    spec("hash", "hkeys", 2, READONLY, ONE, R_SLOW, "Get all the fields in a hash", "2.0.0", Exec::Shard(hkeys)),
    spec("hash", "hvals", 2, READONLY, ONE, R_SLOW, "Get all the values in a hash", "2.0.0", Exec::Shard(hvals)),
    spec("hash", "hgetall", 2, READONLY, ONE, R_SLOW, "Get all the fields and values in a hash", "2.0.0", Exec::Shard(hgetall)),
    spec("hash", "hincrby", 4, WRITE | DENYOOM | FAST, ONE, W_FAST, "Increment the integer value of a hash field by the given number", "2.0.0", Exec::Shard(write::hincrby)),
    spec("hash", "hincrbyfloat", 4, WRITE | DENYOOM | FAST, ONE, W_FAST, "Increment the float value of a hash field by the given amount", "2.6.0", Exec::Shard(write::hincrbyfloat)),
    spec("hash", "hrandfield", -2, READONLY, ONE, R_SLOW, "Get one or multiple random fields from a hash", "6.2.0", Exec::Shard(random::hrandfield)),
    spec("hash", "hscan", -3, READONLY, ONE, R_SLOW, "Incrementally iterate hash fields and associated values", "2.8.0", Exec::Shard(scan::hscan)),
];

/// Looks `key` up as `lookupKeyRead` (counting a hit or miss) and requires
/// a hash: `WRONGTYPE` otherwise.
fn read_hash<'s>(
    shard: &'s mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s Hash>, CmdError> {
    let found: Option<EntryRef<'s>> = shard.get_counted(db, key, now);
    match found {
        None => Ok(None),
        Some(e) => e.value_ref().as_hash().map(Some).ok_or(CmdError::WrongType),
    }
}

/// A stored element as a bulk reply (integers as their decimal form).
fn bulk_entry(reply: &mut ReplyWriter, e: Entry<'_>) {
    e.with_bytes(|b| reply.bulk(b));
}

fn hget(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    match read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?.and_then(|h| h.get(args.get(2))) {
        Some(v) => bulk_entry(&mut ctx.reply, v),
        None => ctx.reply.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let h = read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    ctx.reply.array(args.len() - 2);
    for f in args.iter_from(2) {
        match h.and_then(|h| h.get(f)) {
            Some(v) => bulk_entry(&mut ctx.reply, v),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

fn hlen(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let h = read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    ctx.reply.int(h.map_or(0, Hash::len) as i64);
    Ok(())
}

fn hstrlen(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let h = read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    let len = h.and_then(|h| h.get(args.get(2))).map_or(0, |v| v.len());
    ctx.reply.int(len as i64);
    Ok(())
}

fn hexists(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let h = read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    ctx.reply
        .int(h.is_some_and(|h| h.contains(args.get(2))) as i64);
    Ok(())
}

/// What HKEYS, HVALS and HGETALL reply with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Fields,
    Values,
    Both,
}

fn get_all(ctx: &mut ExecCtx, args: &Args, part: Part) -> CmdResult {
    let h = read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    let len = h.map_or(0, Hash::len);
    match part {
        Part::Both => ctx.reply.map(len),
        _ => ctx.reply.array(len),
    }
    if let Some(h) = h {
        let reply = &mut ctx.reply;
        h.for_each(|f, v| {
            if part != Part::Values {
                bulk_entry(reply, f);
            }
            if part != Part::Fields {
                bulk_entry(reply, v);
            }
        });
    }
    Ok(())
}

fn hkeys(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    get_all(ctx, args, Part::Fields)
}

fn hvals(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    get_all(ctx, args, Part::Values)
}

fn hgetall(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    get_all(ctx, args, Part::Both)
}
