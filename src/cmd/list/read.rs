//! LLEN, LRANGE, LINDEX and LPOS.

use super::{clamp_range, read_list};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::persist::rdb::listpack::{Entry, Needle};
use crate::protocol::{Args, ReplyWriter};
use std::ops::ControlFlow;

/// Writes an element as a bulk string.
pub(super) fn bulk_entry(reply: &mut ReplyWriter, e: Entry<'_>) {
    match e {
        Entry::Int(n) => reply.bulk_int(n),
        Entry::Str(s) => reply.bulk(s),
    }
}

pub fn llen(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let n = read_list(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?.map_or(0, |l| l.len());
    ctx.reply.int(n as i64);
    Ok(())
}

pub fn lrange(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (start, stop) = (arg_i64(args.get(2))?, arg_i64(args.get(3))?);
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let Some(list) = read_list(shard, *db, args.get(1), *now_ms)? else {
        reply.array(0);
        return Ok(());
    };
    match clamp_range(start, stop, list.len()) {
        Some((from, to)) => {
            reply.array(to - from + 1);
            list.range(from, to, |e| bulk_entry(reply, e));
        }
        None => reply.array(0),
    }
    Ok(())
}

/// LINDEX key index: the key is read (and its type checked) before the index.
pub fn lindex(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let Some(list) = read_list(shard, *db, args.get(1), *now_ms)? else {
        reply.null();
        return Ok(());
    };
    let index = arg_i64(args.get(2))?;
    let found = list
        .resolve(index)
        .and_then(|i| list.with_element(i, |e| bulk_entry(reply, e)));
    if found.is_none() {
        reply.null();
    }
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]: options
/// are checked before the key is read, as Redis does.
pub fn lpos(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let (opt, v) = (args.get(i), args.get(i + 1));
        if eq_ic(opt, "rank") {
            rank = arg_i64(v)?;
            if rank == 0 {
                return Err(CmdError::Static(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if eq_ic(opt, "count") {
            // Not a number or negative: one message, as Redis's range check.
            match arg_i64(v) {
                Ok(n) if n >= 0 => count = Some(n as usize),
                _ => return Err(CmdError::Static("ERR COUNT can't be negative")),
            }
        } else if eq_ic(opt, "maxlen") {
            match arg_i64(v) {
                Ok(n) if n >= 0 => maxlen = n,
                _ => return Err(CmdError::Static("ERR MAXLEN can't be negative")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let list = read_list(shard, *db, args.get(1), *now_ms)?;
    let needle = Needle::new(args.get(2));
    // Matches to pass over first (Redis's `matches >= rank`; a RANK of
    // i64::MIN stays negative there, so every match counts).
    let skip = match rank {
        i64::MIN => 0,
        r => r.unsigned_abs() as usize - 1,
    };
    let wanted = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let mut found = Vec::new();
    if let Some(l) = list {
        let len = l.len();
        // The k-th element looked at (from the end RANK names), the
        // matches passed so far.
        let (mut k, mut matched) = (0, 0);
        let mut visit = |e: Entry<'_>| {
            if k == limit {
                return ControlFlow::Break(());
            }
            if needle.matches(&e) {
                matched += 1;
                if matched > skip {
                    found.push(if rank < 0 { len - 1 - k } else { k });
                    if found.len() == wanted {
                        return ControlFlow::Break(());
                    }
                }
            }
            k += 1;
            ControlFlow::Continue(())
        };
        if rank < 0 {
            l.walk_rev(&mut visit);
        } else {
            l.walk(0, &mut visit);
        }
    }
    match count {
        Some(_) => {
            reply.array(found.len());
            found.iter().for_each(|&k| reply.int(k as i64));
        }
        None => match found.first() {
            Some(&k) => reply.int(k as i64),
            None => reply.null(),
        },
    }
    Ok(())
}
