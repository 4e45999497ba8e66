//! ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, ZRANDMEMBER
//! and ZSCAN. Ranges are parsed before the key is looked up, as Redis does.

use super::score::{LexRange, ScoreRange};
use super::{bulk_member, entries_header, entry, read_zset};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::generic::scan::{parse_cursor, parse_scan_options, scan_reply_head, ScanArgs};
use crate::cmd::glob::glob_match;
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::reply::format_double;
use crate::protocol::Args;
use crate::shard::value::zset::ZSet;
use rand::seq::index::sample;

pub fn zcard(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let n = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?.map_or(0, ZSet::len);
    ctx.reply.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let z = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    match z.and_then(|z| z.score(args.get(2))) {
        Some(s) => ctx.reply.double(s),
        None => ctx.reply.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let z = read_zset(shard, *db, args.get(1), *now_ms)?;
    reply.array(args.len() - 2);
    for m in args.iter_from(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => reply.double(s),
            None => reply.null(),
        }
    }
    Ok(())
}

fn rank(ctx: &mut ExecCtx, args: &Args, reverse: bool) -> CmdResult {
    let z = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    match z.and_then(|z| z.rank(args.get(2), reverse)) {
        Some((r, _)) => ctx.reply.int(r as i64),
        None => ctx.reply.null(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    rank(ctx, args, false)
}

pub fn zrevrank(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    rank(ctx, args, true)
}

pub fn zcount(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let range = ScoreRange::parse(args.get(2), args.get(3))?;
    let z = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    let (start, end) = z.map_or((0, 0), |z| range.ranks(z));
    ctx.reply.int((end - start) as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let range = LexRange::parse(args.get(2), args.get(3))?;
    let z = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    let (start, end) = z.map_or((0, 0), |z| range.ranks(z));
    ctx.reply.int((end - start) as i64);
    Ok(())
}

/// ZRANDMEMBER key [count [WITHSCORES]], as Redis 7.0's
/// `zrandmemberWithCountCommand`: a negative count samples with
/// repetition; a count at least the size answers the whole set in order;
/// otherwise distinct members in random order.
pub fn zrandmember(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    if args.len() < 3 {
        let z = read_zset(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
        match z.and_then(|z| z.random(&mut rand::thread_rng())) {
            Some((m, _)) => bulk_member(&mut ctx.reply, m),
            None => ctx.reply.null(),
        }
        return Ok(());
    }
    let l = match arg_i64(args.get(2))? {
        i64::MIN => return Err(CmdError::CountOutOfRange),
        n => n,
    };
    let withscores = match args.len() {
        3 => false,
        4 if eq_ic(args.get(3), "withscores") => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return Err(CmdError::Static("ERR value is out of range"));
            }
            true
        }
        _ => return Err(CmdError::Syntax),
    };
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let Some(z) = read_zset(shard, *db, args.get(1), *now_ms)? else {
        reply.array(0);
        return Ok(());
    };
    let count = l.unsigned_abs();
    if count == 0 {
        reply.array(0);
        return Ok(());
    }
    let mut rng = rand::thread_rng();
    if l < 0 || count == 1 {
        entries_header(reply, count as usize, withscores);
        for _ in 0..count {
            if let Some((m, s)) = z.random(&mut rng) {
                entry(reply, m, s, withscores);
            }
        }
    } else if count >= z.len() as u64 {
        entries_header(reply, z.len(), withscores);
        for (m, s) in z.iter() {
            entry(reply, m, s, withscores);
        }
    } else {
        let picked = sample(&mut rng, z.len(), count as usize);
        entries_header(reply, picked.len(), withscores);
        for r in picked.iter() {
            if let Some((m, s)) = z.at_rank(r) {
                entry(reply, m, s, withscores);
            }
        }
    }
    Ok(())
}

/// ZSCAN: a packed set answers whole with cursor 0 (as Redis); a big one
/// walks its member table's reverse-binary cursor. Scores are bulk
/// strings in both protocols, as Redis's SCAN family sends them.
pub fn zscan(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let cursor = parse_cursor(args.get(2)).ok_or(CmdError::InvalidCursor)?;
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let Some(z) = read_zset(shard, *db, args.get(1), *now_ms)? else {
        scan_reply_head(reply, 0, 0);
        return Ok(());
    };
    let ScanArgs { count, pattern, .. } = parse_scan_options(args, 3, false)?;
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        m.with(|b| {
            if pattern.is_none_or(|p| glob_match(p, b, false)) {
                found.push((b.to_vec(), s));
            }
        })
    });
    scan_reply_head(reply, next, found.len() * 2);
    for (m, s) in &found {
        reply.bulk(m);
        reply.bulk(format_double(*s).as_bytes());
    }
    Ok(())
}
