//! LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LSET, LTRIM, LREM, LINSERT:
//! arguments checked in Redis 7.0's order (some before the key is read,
//! some after), the key deleted when a command empties it, and nothing
//! marked modified when nothing changes.

use super::{clamp_range, is_list, pop_elements, End};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::Args;
use crate::shard::value::list::List;
use crate::shard::value::Value;

/// Pushes `args[2..]` at `end`; creates the list unless `only_existing`.
/// Replies with the new length (0 when the key is absent and must exist).
fn push(ctx: &mut ExecCtx, args: &Args, end: End, only_existing: bool) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    let exists = is_list(ctx.shard, db, key, now)?;
    if !exists && only_existing {
        ctx.reply.int(0);
        return Ok(());
    }
    let limits = ctx.shard.encoding_limits();
    let push_all = |l: &mut List| {
        for i in 2..args.len() {
            match end {
                End::Head => l.push_front(args.get(i), &limits),
                End::Tail => l.push_back(args.get(i), &limits),
            }
        }
        l.len()
    };
    let len = if exists {
        let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
            return Ok(());
        };
        let Some(l) = e.value.as_list_mut() else {
            return Err(CmdError::WrongType);
        };
        push_all(l)
    } else {
        let mut l = List::new(&limits);
        let len = push_all(&mut l);
        ctx.shard.set(db, key, Value::List(Box::new(l)), 0);
        len
    };
    ctx.reply.int(len as i64);
    Ok(())
}

pub fn lpush(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    push(ctx, args, End::Head, false)
}

pub fn rpush(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    push(ctx, args, End::Tail, false)
}

pub fn lpushx(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    push(ctx, args, End::Head, true)
}

pub fn rpushx(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    push(ctx, args, End::Tail, true)
}

/// LPOP/RPOP key [count]: one element (bulk, or null), or with a count an
/// array of up to that many (null array when the key is absent).
fn pop(ctx: &mut ExecCtx, args: &Args, end: End) -> CmdResult {
    if args.len() > 3 {
        let name = String::from_utf8_lossy(args.get(0)).to_lowercase();
        return Err(CmdError::WrongArity(name));
    }
    let count = match args.len() {
        3 => match arg_i64(args.get(2)) {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::MustBePositive),
        },
        _ => None,
    };
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_list(ctx.shard, db, key, now)? {
        match count {
            Some(_) => ctx.reply.null_array(),
            None => ctx.reply.null(),
        }
        return Ok(());
    }
    if count == Some(0) {
        ctx.reply.array(0);
        return Ok(());
    }
    let popped = pop_elements(ctx.shard, db, key, end, count.unwrap_or(1), now).unwrap_or_default();
    match count {
        Some(_) => {
            ctx.reply.array(popped.len());
            popped.iter().for_each(|v| ctx.reply.bulk(v));
        }
        None => match popped.first() {
            Some(v) => ctx.reply.bulk(v),
            None => ctx.reply.null(),
        },
    }
    Ok(())
}

pub fn lpop(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    pop(ctx, args, End::Head)
}

pub fn rpop(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    pop(ctx, args, End::Tail)
}

/// LSET key index element: `ERR no such key` before the index is read.
pub fn lset(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_list(ctx.shard, db, key, now)? {
        return Err(CmdError::NoSuchKey);
    }
    let index = arg_i64(args.get(2))?;
    let limits = ctx.shard.encoding_limits();
    let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
        return Err(CmdError::NoSuchKey);
    };
    let Some(i) = e.value.as_list().and_then(|l| l.resolve(index)) else {
        return Err(CmdError::Static("ERR index out of range"));
    };
    if let Some(l) = e.value.as_list_mut() {
        l.set(i, args.get(3), &limits);
    }
    drop(e);
    ctx.reply.ok();
    Ok(())
}

/// LTRIM key start stop: the indexes are read before the key.
pub fn ltrim(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (start, stop) = (arg_i64(args.get(2))?, arg_i64(args.get(3))?);
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_list(ctx.shard, db, key, now)? {
        ctx.reply.ok();
        return Ok(());
    }
    let limits = ctx.shard.encoding_limits();
    let empty = {
        let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
            return Ok(());
        };
        let len = e.value.as_list().map_or(0, List::len);
        match clamp_range(start, stop, len) {
            Some((0, to)) if to + 1 == len => false,
            Some((from, to)) => {
                if let Some(l) = e.value.as_list_mut() {
                    l.keep_range(from, to, &limits);
                }
                false
            }
            None => true,
        }
    };
    if empty {
        ctx.shard.remove(db, key, now);
    }
    ctx.reply.ok();
    Ok(())
}

/// LREM key count element: the count is read before the key.
pub fn lrem(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let count = arg_i64(args.get(2))?;
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_list(ctx.shard, db, key, now)? {
        ctx.reply.int(0);
        return Ok(());
    }
    let limits = ctx.shard.encoding_limits();
    let element = args.get(3);
    let (removed, empty) = {
        let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
            return Ok(());
        };
        let present = e.value.as_list().is_some_and(|l| l.contains(element));
        match e.value.as_list_mut() {
            Some(l) if present => {
                let n = l.remove_matching(element, count, &limits);
                (n, l.is_empty())
            }
            _ => (0, false),
        }
    };
    if empty {
        ctx.shard.remove(db, key, now);
    }
    ctx.reply.int(removed as i64);
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without
/// the pivot, 0 without the key.
pub fn linsert(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let after = match args.get(2) {
        w if eq_ic(w, "after") => true,
        w if eq_ic(w, "before") => false,
        _ => return Err(CmdError::Syntax),
    };
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_list(ctx.shard, db, key, now)? {
        ctx.reply.int(0);
        return Ok(());
    }
    let limits = ctx.shard.encoding_limits();
    let (pivot, element) = (args.get(3), args.get(4));
    let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
        return Ok(());
    };
    let present = e.value.as_list().is_some_and(|l| l.contains(pivot));
    let len = match e.value.as_list_mut() {
        Some(l) if present => {
            l.insert_at_pivot(pivot, element, after, &limits);
            l.len() as i64
        }
        _ => -1,
    };
    drop(e);
    ctx.reply.int(len);
    Ok(())
}
