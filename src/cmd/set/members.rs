//! SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS, and the write
//! helpers the other set commands share (add to / remove from one key).

use super::{is_set, read_set};
use crate::cmd::error::CmdResult;
use crate::cmd::ExecCtx;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::set::{MemberRef, Set};
use crate::shard::value::Value;
use crate::shard::Shard;

/// Writes a member as a bulk string.
pub fn bulk_member(reply: &mut ReplyWriter, m: MemberRef<'_>) {
    match m {
        MemberRef::Int(n) => reply.bulk_int(n),
        MemberRef::Bytes(b) => reply.bulk(b),
    }
}

/// Adds `members` to the set at `key` (created when absent); the count
/// added. The key's type was checked by the caller. Writes nothing (and
/// marks nothing modified) when every member is present.
pub fn add_members<'m>(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
    members: impl Iterator<Item = &'m [u8]> + Clone,
) -> usize {
    let limits = shard.encoding_limits();
    if let Some(mut e) = shard.get_mut(db, key, now) {
        let Some(set) = e.value.as_set() else {
            return 0;
        };
        if members.clone().all(|m| set.contains(m)) {
            return 0;
        }
        let Some(set) = e.value.as_set_mut() else {
            return 0;
        };
        return members.filter(|m| set.add(m, &limits)).count();
    }
    let mut all = members.peekable();
    let Some(first) = all.peek() else {
        return 0;
    };
    let mut set = Set::for_member(first);
    let added = all.filter(|m| set.add(m, &limits)).count();
    shard.set(db, key, Value::Set(Box::new(set)), 0);
    added
}

/// Removes `members` from the set at `key`, deleting it when emptied;
/// the count removed.
pub fn remove_members<'m>(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
    members: impl Iterator<Item = &'m [u8]> + Clone,
) -> usize {
    let (removed, empty) = {
        let Some(mut e) = shard.get_mut(db, key, now) else {
            return 0;
        };
        let Some(set) = e.value.as_set() else {
            return 0;
        };
        if !members.clone().any(|m| set.contains(m)) {
            return 0;
        }
        let Some(set) = e.value.as_set_mut() else {
            return 0;
        };
        let removed = members.filter(|m| set.remove(m)).count();
        (removed, set.is_empty())
    };
    if empty {
        shard.remove(db, key, now);
    }
    removed
}

pub fn sadd(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    is_set(ctx.shard, db, key, now)?;
    let n = add_members(
        ctx.shard,
        db,
        key,
        now,
        (2..args.len()).map(|i| args.get(i)),
    );
    ctx.reply.int(n as i64);
    Ok(())
}

pub fn srem(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    is_set(ctx.shard, db, key, now)?;
    let n = remove_members(
        ctx.shard,
        db,
        key,
        now,
        (2..args.len()).map(|i| args.get(i)),
    );
    ctx.reply.int(n as i64);
    Ok(())
}

pub fn scard(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let n = read_set(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?.map_or(0, Set::len);
    ctx.reply.int(n as i64);
    Ok(())
}

pub fn sismember(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let set = read_set(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    let found = set.is_some_and(|s| s.contains(args.get(2)));
    ctx.reply.int(found as i64);
    Ok(())
}

pub fn smismember(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let set = read_set(shard, *db, args.get(1), *now_ms)?;
    reply.array(args.len() - 2);
    for m in args.iter_from(2) {
        reply.int(set.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

pub fn smembers(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    match read_set(shard, *db, args.get(1), *now_ms)? {
        Some(s) => {
            reply.set(s.len());
            s.iter().for_each(|m| bulk_member(reply, m));
        }
        None => reply.set(0),
    }
    Ok(())
}
