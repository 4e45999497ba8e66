//! ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES), its older forms
//! (ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX,
//! ZREVRANGE), ZRANGESTORE and ZREMRANGEBYRANK/SCORE/LEX.
//!
//! Every range becomes half-open ascending ranks (`score::*::ranks`), so a
//! range costs O(log n) to find plus its length to walk. Options are read
//! as Redis 7.0's `zrangeGenericCommand` reads them (one loop, LIMIT's
//! numbers checked where they stand, conflicts after), all before the key
//! is looked up.

use super::score::{rank_range, LexRange, ScoreRange};
use super::{entries_header, entry, is_zset, read_zset};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::Args;
use crate::shard::value::zset::ZSet;
use crate::shard::value::EncodingLimits;
use crate::shard::Shard;
use bytes::Bytes;

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range request over `words`: `[min, max, options…]`.
struct RangeReq {
    reverse: bool,
    withscores: bool,
    /// LIMIT's offset and count (count < 0: no limit).
    offset: i64,
    limit: i64,
    range: Bounds,
}

enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Parses `min max [options]` from `words` (as bytes) the way Redis 7.0
/// does for a command that presets `by`/`reverse` (None: chosen by the
/// options); `store` refuses WITHSCORES.
fn parse(
    words: &[&[u8]],
    by: Option<By>,
    reverse: Option<bool>,
    store: bool,
) -> Result<RangeReq, CmdError> {
    let (mut by_opt, mut rev_opt) = (by, reverse);
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = 2;
    while j < words.len() {
        let w = words[j];
        let left = words.len() - j - 1;
        if !store && eq_ic(w, "withscores") {
            withscores = true;
        } else if eq_ic(w, "limit") && left >= 2 {
            offset = arg_i64(words[j + 1])?;
            limit = arg_i64(words[j + 2])?;
            j += 2;
        } else if rev_opt.is_none() && eq_ic(w, "rev") {
            rev_opt = Some(true);
        } else if by_opt.is_none() && eq_ic(w, "bylex") {
            by_opt = Some(By::Lex);
        } else if by_opt.is_none() && eq_ic(w, "byscore") {
            by_opt = Some(By::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let by = by_opt.unwrap_or(By::Rank);
    let reverse = rev_opt.unwrap_or(false);
    // As Redis: only a count other than -1 counts as a LIMIT here.
    if limit != -1 && by == By::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (lo, hi) = if reverse && by != By::Rank {
        (words[1], words[0])
    } else {
        (words[0], words[1])
    };
    let range = match by {
        By::Rank => Bounds::Rank(arg_i64(lo)?, arg_i64(hi)?),
        By::Score => Bounds::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Bounds::Lex(LexRange::parse(lo, hi)?),
    };
    Ok(RangeReq {
        reverse,
        withscores,
        offset,
        limit,
        range,
    })
}

impl RangeReq {
    /// The ascending ranks `start..end` selected from `z`, after LIMIT, and
    /// whether to walk them from the end.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let len = z.len();
        let (s, e) = match &self.range {
            Bounds::Rank(a, b) => {
                let (s, e) = rank_range(*a, *b, len);
                return if self.reverse {
                    (len - e, len - s)
                } else {
                    (s, e)
                };
            }
            Bounds::Score(r) => r.ranks(z),
            Bounds::Lex(r) => r.ranks(z),
        };
        // Redis skips `offset` entries first (a negative offset skips them
        // all), then takes up to `limit` (negative: no limit).
        if self.offset < 0 {
            return (s, s);
        }
        let n = e - s;
        let skip = (self.offset as u64).min(n as u64) as usize;
        let take = if self.limit < 0 {
            n - skip
        } else {
            (self.limit as u64).min((n - skip) as u64) as usize
        };
        if self.reverse {
            (e - skip - take, e - skip)
        } else {
            (s + skip, s + skip + take)
        }
    }
}

fn words_of<'a>(args: &'a Args, from: usize) -> Vec<&'a [u8]> {
    args.iter_from(from).collect()
}

fn range_generic(
    ctx: &mut ExecCtx,
    args: &Args,
    by: Option<By>,
    reverse: Option<bool>,
) -> CmdResult {
    let req = parse(&words_of(args, 2), by, reverse, false)?;
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
    let (s, e) = req.ranks(z);
    entries_header(reply, e - s, req.withscores);
    for (m, score) in z.range(s, e, req.reverse) {
        entry(reply, m, score, req.withscores);
    }
    Ok(())
}

pub fn zrange(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    range_generic(ctx, args, None, None)
}

pub fn zrangebyscore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    range_generic(ctx, args, Some(By::Score), Some(false))
}

pub fn zrevrangebyscore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    range_generic(ctx, args, Some(By::Score), Some(true))
}

pub fn zrangebylex(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    range_generic(ctx, args, Some(By::Lex), Some(false))
}

pub fn zrevrangebylex(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    range_generic(ctx, args, Some(By::Lex), Some(true))
}

pub fn zrevrange(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    range_generic(ctx, args, Some(By::Rank), Some(true))
}

/// ZREMRANGEBYRANK/SCORE/LEX: the range is parsed before the lookup.
fn remrange(ctx: &mut ExecCtx, args: &Args, by: By) -> CmdResult {
    let words = [args.get(2), args.get(3)];
    let range = match by {
        By::Rank => Bounds::Rank(arg_i64(words[0])?, arg_i64(words[1])?),
        By::Score => Bounds::Score(ScoreRange::parse(words[0], words[1])?),
        By::Lex => Bounds::Lex(LexRange::parse(words[0], words[1])?),
    };
    let req = RangeReq {
        reverse: false,
        withscores: false,
        offset: 0,
        limit: -1,
        range,
    };
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_zset(ctx.shard, db, key, now)? {
        ctx.reply.int(0);
        return Ok(());
    }
    let (s, e) = match ctx.shard.get(db, key, now) {
        Some(entry) => entry.value.as_zset().map_or((0, 0), |z| req.ranks(z)),
        None => (0, 0),
    };
    if s == e {
        ctx.reply.int(0);
        return Ok(());
    }
    let empty = {
        let Some(mut entry) = ctx.shard.get_mut(db, key, now) else {
            return Err(CmdError::Internal);
        };
        let z = entry.value.as_zset_mut().ok_or(CmdError::WrongType)?;
        z.remove_range(s, e);
        z.is_empty()
    };
    if empty {
        ctx.shard.remove(db, key, now);
    }
    ctx.reply.int((e - s) as i64);
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    remrange(ctx, args, By::Rank)
}

pub fn zremrangebyscore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    remrange(ctx, args, By::Score)
}

pub fn zremrangebylex(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    remrange(ctx, args, By::Lex)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]:
/// the source's shard selects the range (its read gets `min max
/// options…` after the key), the destination's stores it.
pub const ZRANGESTORE_SPLIT: Split = Split::Gather(&Gather {
    sources: |args| {
        parse(&words_of(args, 3), None, None, true)?;
        Ok(vec![2])
    },
    extra: |args| (3..args.len()).collect(),
    read: read_range,
    combine: combine_rangestore,
    key_flags: &["OW", "update"],
});

pub fn zrangestore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    gather_split_here(ctx, args, ZRANGESTORE_SPLIT)
}

/// The source's entries in the range, as member/score pairs.
fn read_range(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((key, words)) = p.args.split_first() else {
        return OpResult::Err(CmdError::Internal);
    };
    let words: Vec<&[u8]> = words.iter().map(|w| &w[..]).collect();
    let req = match parse(&words, None, None, true) {
        Ok(r) => r,
        Err(e) => return OpResult::Err(e),
    };
    match read_zset(shard, p.db, key, p.now_ms) {
        Err(e) => OpResult::Err(e),
        Ok(None) => OpResult::Lists(vec![None]),
        Ok(Some(z)) => {
            let (s, e) = req.ranks(z);
            let pairs = super::algebra::encode_pairs(z.range(s, e, req.reverse));
            OpResult::Lists(vec![Some(pairs)])
        }
    }
}

fn combine_rangestore(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut crate::protocol::ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let pairs = read.first().and_then(Option::as_ref);
    let n = pairs.map_or(0, |p| p.len() / 2);
    reply.int(n as i64);
    let mut words = vec![Bytes::copy_from_slice(args.get(1))];
    words.extend(
        pairs
            .into_iter()
            .flatten()
            .map(|w| Bytes::copy_from_slice(w)),
    );
    Ok(vec![GatherWrite {
        key: 1,
        apply: super::algebra::store_part,
        args: words,
    }])
}
