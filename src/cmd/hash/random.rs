//! HRANDFIELD, with Redis 7.0's cases (`hrandfieldWithCountCommand`):
//!
//! - no count: one random field (null for a missing key);
//! - count 0: an empty array;
//! - negative count (or 1): that many random picks, repeats allowed;
//! - count ≥ size: the whole hash in iteration order;
//! - otherwise `count` distinct fields: sampled by index and replied in
//!   iteration order (Redis's listpack sampling order; for a table Redis's
//!   order is arbitrary) when count is over a third of the size, else by
//!   repeated random picks until enough distinct ones are found.
//!
//! WITHVALUES replies a flat array in RESP2 and an array of [field, value]
//! pairs in RESP3.

use super::super::error::{CmdError, CmdResult};
use super::super::{arg_i64, eq_ic, ExecCtx};
use super::{bulk_entry, read_hash};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::hash::{Entry, Hash};
use std::collections::HashSet;

/// Redis's `HRANDFIELD_SUB_STRATEGY_MUL`.
const SUB_STRATEGY_MUL: u64 = 3;

pub(super) fn hrandfield(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    if args.len() >= 3 {
        let l = arg_i64(args.get(2))?;
        if l == i64::MIN {
            return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        let withvalues = match args.len() {
            3 => false,
            4 if eq_ic(args.get(3), "withvalues") => true,
            _ => return Err(CmdError::Syntax),
        };
        if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(CmdError::Static("ERR value is out of range"));
        }
        return with_count(ctx, args.get(1), l, withvalues);
    }
    let h = read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)?;
    match h.and_then(|h| h.random(&mut rand::thread_rng())) {
        Some((f, _)) => bulk_entry(&mut ctx.reply, f),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// One reply element: the field, or field and value.
fn pair(reply: &mut ReplyWriter, f: Entry<'_>, v: Entry<'_>, withvalues: bool) {
    if withvalues && reply.resp3 {
        reply.array(2);
    }
    bulk_entry(reply, f);
    if withvalues {
        bulk_entry(reply, v);
    }
}

fn header(reply: &mut ReplyWriter, n: usize, withvalues: bool) {
    if withvalues && !reply.resp3 {
        reply.array(n * 2);
    } else {
        reply.array(n);
    }
}

fn with_count(ctx: &mut ExecCtx, key: &[u8], l: i64, withvalues: bool) -> CmdResult {
    let Some(h) = read_hash(ctx.shard, ctx.db, key, ctx.now_ms)? else {
        ctx.reply.array(0);
        return Ok(());
    };
    let reply = &mut ctx.reply;
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    if count == 0 {
        reply.array(0);
        return Ok(());
    }
    let size = h.len() as u64;
    let mut rng = rand::thread_rng();
    if !uniq || count == 1 {
        header(reply, count as usize, withvalues);
        for _ in 0..count {
            if let Some((f, v)) = h.random(&mut rng) {
                pair(reply, f, v, withvalues);
            }
        }
        return Ok(());
    }
    header(reply, count.min(size) as usize, withvalues);
    if count >= size {
        h.for_each(|f, v| pair(reply, f, v, withvalues));
    } else if count * SUB_STRATEGY_MUL > size || h.is_listpack() {
        let mut picked =
            rand::seq::index::sample(&mut rng, size as usize, count as usize).into_vec();
        picked.sort_unstable();
        let mut next = picked.into_iter().peekable();
        for (i, (f, v)) in h.pairs().enumerate() {
            if next.peek() == Some(&i) {
                next.next();
                pair(reply, f, v, withvalues);
            }
        }
    } else {
        distinct_picks(reply, h, count, withvalues, &mut rng);
    }
    Ok(())
}

/// Random picks until `count` distinct fields were replied (count is at
/// most a third of the size, so this ends quickly).
fn distinct_picks(
    reply: &mut ReplyWriter,
    h: &Hash,
    count: u64,
    withvalues: bool,
    rng: &mut impl rand::Rng,
) {
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(count as usize);
    while (seen.len() as u64) < count {
        let Some((f, v)) = h.random(rng) else {
            return;
        };
        if seen.insert(f.to_vec()) {
            pair(reply, f, v, withvalues);
        }
    }
}
