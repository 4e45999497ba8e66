//! SMOVE, a [`Gather`]: read whether the source holds the member (and both
//! keys' types), then remove it from the source and add it to the
//! destination, each write journaled as its own SREM / SADD.

use super::members::{add_members, remove_members};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::ExecCtx;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::EncodingLimits;
use crate::shard::Shard;

pub const SMOVE_SPLIT: Split = Split::Gather(&Gather {
    sources: |_| Ok(vec![1, 2]),
    extra: |_| vec![3],
    read: probe,
    combine,
    key_flags: &["RW", "access", "delete"],
});

/// What [`probe`] reads per key: `[SET]` plus the member when the set holds
/// it, `[NOT_SET]` for another type, None when the key is missing.
const SET: &[u8] = b"set";
const NOT_SET: &[u8] = b"wrongtype";

pub fn smove(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    gather_split_here(ctx, args, SMOVE_SPLIT)
}

/// SMOVE's read: each key's type and whether it holds the member (the
/// last argument), as Redis's write lookups (no hit/miss count).
fn probe(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((member, keys)) = p.args.split_last() else {
        return OpResult::Err(CmdError::Internal);
    };
    let lists = keys
        .iter()
        .map(|key| {
            let e = shard.get(p.db, key, p.now_ms)?;
            Some(match e.value.as_set() {
                Some(s) if s.contains(member) => vec![SET.to_vec(), member.to_vec()],
                Some(_) => vec![SET.to_vec()],
                None => vec![NOT_SET.to_vec()],
            })
        })
        .collect();
    OpResult::Lists(lists)
}

/// Redis 7.0's order: a missing source answers 0 (whatever the
/// destination), then either key's wrong type, then the same key (1 when
/// it holds the member), then the move.
fn combine(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let (Some(src), Some(dst)) = (read.first(), read.get(1)) else {
        return Err(CmdError::Internal);
    };
    let Some(src) = src else {
        reply.int(0);
        return Ok(Vec::new());
    };
    let wrong = |l: &Vec<Vec<u8>>| l.first().is_some_and(|t| t == NOT_SET);
    if wrong(src) || dst.as_ref().is_some_and(wrong) {
        return Err(CmdError::WrongType);
    }
    let holds = src.len() == 2;
    if args.get(1) == args.get(2) || !holds {
        reply.int(holds as i64);
        return Ok(Vec::new());
    }
    reply.int(1);
    let words = |k: usize| vec![args.get(k).to_vec().into(), args.get(3).to_vec().into()];
    Ok(vec![
        GatherWrite {
            key: 1,
            apply: srem_part,
            args: words(1),
        },
        GatherWrite {
            key: 2,
            apply: sadd_part,
            args: words(2),
        },
    ])
}

/// `SREM key member` on this shard (deleting an emptied set), journaled as such.
fn srem_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [key, m] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |s| {
        let n = remove_members(s, p.db, key, p.now_ms, std::iter::once(&m[..]));
        s.propagate(p.db, &[b"SREM", key, m]);
        OpResult::Int(n as i64)
    })
}

/// `SADD key member` on this shard, journaled as such.
fn sadd_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [key, m] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |s| {
        let n = add_members(s, p.db, key, p.now_ms, std::iter::once(&m[..]));
        s.propagate(p.db, &[b"SADD", key, m]);
        OpResult::Int(n as i64)
    })
}
