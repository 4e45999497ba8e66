//! ZADD (NX XX GT LT CH INCR), ZINCRBY and ZREM. Every option and score is
//! checked before anything changes, as Redis does; a command that would
//! change nothing touches nothing (no WATCH, no journal record). All three
//! are deterministic and journaled as received.

use super::is_zset;
use super::score::{score_arg, NAN_SCORE};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{eq_ic, ExecCtx};
use crate::protocol::Args;
use crate::shard::value::zset::ZSet;
use crate::shard::value::Value;

/// ZADD's options.
#[derive(Clone, Copy, Default)]
struct Flags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What one score/member pair does to a member whose score is `current`.
enum Outcome {
    /// Nothing (a condition failed): INCR answers null.
    Skip,
    /// The member's score is (or stays) this.
    Score(f64),
}

impl Flags {
    fn outcome(&self, current: Option<f64>, score: f64) -> Result<Outcome, CmdError> {
        let Some(cur) = current else {
            return Ok(if self.xx {
                Outcome::Skip
            } else {
                Outcome::Score(score)
            });
        };
        if self.nx {
            return Ok(Outcome::Skip);
        }
        let new = if self.incr { cur + score } else { score };
        if new.is_nan() {
            return Err(NAN_SCORE);
        }
        if (self.lt && new >= cur) || (self.gt && new <= cur) {
            return Ok(Outcome::Skip);
        }
        Ok(Outcome::Score(new))
    }
}

pub fn zadd(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    zadd_generic(ctx, args, false)
}

pub fn zincrby(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    zadd_generic(ctx, args, true)
}

/// Redis's `zaddGenericCommand`: options from argument 2, then pairs.
fn zadd_generic(ctx: &mut ExecCtx, args: &Args, incr: bool) -> CmdResult {
    let mut f = Flags {
        incr,
        ..Flags::default()
    };
    let mut at = 2;
    while at < args.len() {
        let opt = args.get(at);
        match () {
            _ if eq_ic(opt, "nx") => f.nx = true,
            _ if eq_ic(opt, "xx") => f.xx = true,
            _ if eq_ic(opt, "gt") => f.gt = true,
            _ if eq_ic(opt, "lt") => f.lt = true,
            _ if eq_ic(opt, "ch") => f.ch = true,
            _ if eq_ic(opt, "incr") => f.incr = true,
            _ => break,
        }
        at += 1;
    }
    let n = args.len() - at;
    if n == 0 || !n.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    // Redis's own test: GT or LT with NX, or GT with LT.
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && n > 2 {
        return Err(CmdError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(n / 2);
    for i in (at..args.len()).step_by(2) {
        pairs.push((score_arg(args.get(i))?, args.get(i + 1)));
    }
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    let exists = is_zset(ctx.shard, db, key, now)?;
    let limits = ctx.shard.encoding_limits();
    let (mut added, mut updated, mut last) = (0usize, 0usize, None);
    if exists {
        // A read-only pass first: a pair that changes nothing leaves the
        // state as it was, so the first changing pair (if any) is found
        // exactly, and a NaN increment fails before any change.
        let mut changes = false;
        {
            let Some(z) = ctx.shard.get(db, key, now) else {
                return Err(CmdError::Internal);
            };
            let z = z.value.as_zset().ok_or(CmdError::WrongType)?;
            for &(score, m) in &pairs {
                let cur = z.score(m);
                if let Outcome::Score(s) = f.outcome(cur, score)? {
                    if cur != Some(s) {
                        changes = true;
                        break;
                    }
                    last = Some(s);
                }
            }
        }
        if changes {
            let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
                return Err(CmdError::Internal);
            };
            let z = e.value.as_zset_mut().ok_or(CmdError::WrongType)?;
            for &(score, m) in &pairs {
                let cur = z.score(m);
                if let Outcome::Score(s) = f.outcome(cur, score)? {
                    match cur {
                        None => added += 1,
                        Some(c) if c != s => updated += 1,
                        Some(_) => {}
                    }
                    if cur != Some(s) {
                        z.insert(m, s, &limits);
                    }
                    last = Some(s);
                }
            }
        }
    } else if !f.xx {
        let mut z = ZSet::new_for(pairs[0].1.len(), &limits);
        for &(score, m) in &pairs {
            let cur = z.score(m);
            if let Outcome::Score(s) = f.outcome(cur, score)? {
                match cur {
                    None => added += 1,
                    Some(c) if c != s => updated += 1,
                    Some(_) => {}
                }
                z.insert(m, s, &limits);
                last = Some(s);
            }
        }
        ctx.shard.set(db, key, Value::ZSet(Box::new(z)), 0);
    }
    if f.incr {
        match last {
            Some(s) => ctx.reply.double(s),
            None => ctx.reply.null(),
        }
    } else {
        ctx.reply
            .int((if f.ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

pub fn zrem(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    if !is_zset(ctx.shard, db, key, now)? {
        ctx.reply.int(0);
        return Ok(());
    }
    let any = ctx.shard.get(db, key, now).is_some_and(|e| {
        e.value
            .as_zset()
            .is_some_and(|z| args.iter_from(2).any(|m| z.score(m).is_some()))
    });
    if !any {
        ctx.reply.int(0);
        return Ok(());
    }
    let (removed, empty) = {
        let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
            return Err(CmdError::Internal);
        };
        let z = e.value.as_zset_mut().ok_or(CmdError::WrongType)?;
        let removed = args.iter_from(2).filter(|m| z.remove(m).is_some()).count();
        (removed, z.is_empty())
    };
    if empty {
        ctx.shard.remove(db, key, now);
    }
    ctx.reply.int(removed as i64);
    Ok(())
}
