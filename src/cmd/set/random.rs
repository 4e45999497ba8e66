//! SRANDMEMBER and SPOP. Their picks are random; SPOP journals what it
//! removed (`SREM key m…`, or `DEL key` when it emptied the set), so a
//! replay removes the same members.

use super::members::bulk_member;
use super::read_set;
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{arg_i64, ExecCtx};
use crate::protocol::Args;
use crate::shard::value::set::Set;
use rand::seq::SliceRandom;
use std::collections::HashSet;

/// Members per journaled `SREM` of a counted SPOP.
const SREM_BATCH: usize = 1024;

/// `count` distinct random members of `set` (count < its size).
fn distinct(set: &Set, count: usize) -> Vec<Vec<u8>> {
    let mut rng = rand::thread_rng();
    if count * 3 > set.len() {
        let mut all: Vec<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
        let (picked, _) = all.partial_shuffle(&mut rng, count);
        return picked.to_vec();
    }
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        if let Some(m) = set.random(&mut rng) {
            let m = m.to_vec();
            if seen.insert(m.clone()) {
                out.push(m);
            }
        }
    }
    out
}

pub fn srandmember(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.len() {
        3 => match arg_i64(args.get(2))? {
            i64::MIN => return Err(CmdError::CountOutOfRange),
            n => Some(n),
        },
        _ => None,
    };
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let set = read_set(shard, *db, args.get(1), *now_ms)?;
    let Some(count) = count else {
        match set.and_then(|s| s.random(&mut rand::thread_rng())) {
            Some(m) => bulk_member(reply, m),
            None => reply.null(),
        }
        return Ok(());
    };
    let Some(set) = set else {
        reply.array(0);
        return Ok(());
    };
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        reply.array(n);
        let mut rng = rand::thread_rng();
        for _ in 0..n {
            if let Some(m) = set.random(&mut rng) {
                bulk_member(reply, m);
            }
        }
    } else if count as u64 >= set.len() as u64 {
        reply.array(set.len());
        set.iter().for_each(|m| bulk_member(reply, m));
    } else {
        let picked = distinct(set, count as usize);
        reply.array(picked.len());
        picked.iter().for_each(|m| reply.bulk(m));
    }
    Ok(())
}

pub fn spop(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.len() {
        3 => match arg_i64(args.get(2)) {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => return Err(CmdError::MustBePositive),
        },
        _ => None,
    };
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    // One lookup (expiring the key if due) for the type and the size.
    let len = match ctx.shard.get(db, key, now) {
        Some(e) => e.value.as_set().ok_or(CmdError::WrongType)?.len() as u64,
        None => {
            match count {
                Some(_) => ctx.reply.set(0),
                None => ctx.reply.null(),
            }
            return Ok(());
        }
    };
    let Some(count) = count else {
        let popped = {
            let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
                return Ok(());
            };
            let Some(set) = e.value.as_set_mut() else {
                return Ok(());
            };
            set.pop_random(&mut rand::thread_rng())
        };
        let Some(m) = popped else {
            ctx.reply.null();
            return Ok(());
        };
        if len == 1 {
            ctx.shard.remove(db, key, now);
            ctx.propagate(&[b"DEL", key]);
        } else {
            ctx.propagate(&[b"SREM", key, &m]);
        }
        ctx.reply.bulk(&m);
        return Ok(());
    };
    if count == 0 {
        ctx.reply.set(0);
        return Ok(());
    }
    if count >= len {
        let Some(e) = ctx.shard.remove(db, key, now) else {
            ctx.reply.set(0);
            return Ok(());
        };
        if let Some(set) = e.value.as_set() {
            ctx.reply.set(set.len());
            set.iter().for_each(|m| bulk_member(&mut ctx.reply, m));
        }
        ctx.propagate(&[b"DEL", key]);
        return Ok(());
    }
    let picked = {
        let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
            return Ok(());
        };
        let Some(set) = e.value.as_set_mut() else {
            return Ok(());
        };
        let picked = distinct(set, count as usize);
        for m in &picked {
            set.remove(m);
        }
        picked
    };
    ctx.reply.set(picked.len());
    for m in &picked {
        ctx.reply.bulk(m);
    }
    for chunk in picked.chunks(SREM_BATCH) {
        let mut argv: Vec<&[u8]> = Vec::with_capacity(2 + chunk.len());
        argv.push(b"SREM");
        argv.push(key);
        argv.extend(chunk.iter().map(Vec::as_slice));
        ctx.propagate(&argv);
    }
    Ok(())
}
