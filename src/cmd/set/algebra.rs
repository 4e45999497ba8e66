//! SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE:
//! each a [`Gather`] (read the source sets, combine here, store the
//! result), whether its keys share a shard (the handler runs the three
//! steps, `split::gather_here`) or not (the coordinator runs them).
//!
//! Order: SINTER answers in the order of its smallest set (ascending when
//! that is an intset); SUNION and SDIFF answer in the order of their result
//! set, which is an intset (ascending) when Redis's would be one. STORE
//! results are encoded as Redis builds them (see shard/value/set).

use super::members::bulk_member;
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::{eq_ic, ExecCtx};
use crate::protocol::parser::parse_i64;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::set::{Set, REWRITE_CHUNK};
use crate::shard::value::{EncodingLimits, Value};
use crate::shard::Shard;
use bytes::Bytes;
use std::collections::HashSet;

const READ: &[&str] = &["RO", "access"];
const STORE: &[&str] = &["OW", "update"];

macro_rules! gather {
    ($name:ident, $sources:expr, $combine:expr, $flags:expr) => {
        pub const $name: Split = Split::Gather(&Gather {
            sources: $sources,
            extra: no_extra,
            read: read_sets,
            combine: $combine,
            key_flags: $flags,
        });
    };
}

gather!(SINTER_SPLIT, from_first, combine_sinter, READ);
gather!(SINTERCARD_SPLIT, sintercard_keys, combine_sintercard, READ);
gather!(SINTERSTORE_SPLIT, from_second, combine_sinterstore, STORE);
gather!(SUNION_SPLIT, from_first, combine_sunion, READ);
gather!(SUNIONSTORE_SPLIT, from_second, combine_sunionstore, STORE);
gather!(SDIFF_SPLIT, from_first, combine_sdiff, READ);
gather!(SDIFFSTORE_SPLIT, from_second, combine_sdiffstore, STORE);

macro_rules! handler {
    ($fn:ident, $split:ident) => {
        pub fn $fn(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
            gather_split_here(ctx, args, $split)
        }
    };
}

handler!(sinter, SINTER_SPLIT);
handler!(sintercard, SINTERCARD_SPLIT);
handler!(sinterstore, SINTERSTORE_SPLIT);
handler!(sunion, SUNION_SPLIT);
handler!(sunionstore, SUNIONSTORE_SPLIT);
handler!(sdiff, SDIFF_SPLIT);
handler!(sdiffstore, SDIFFSTORE_SPLIT);

fn no_extra(_: &Args) -> Vec<usize> {
    Vec::new()
}

fn from_first(args: &Args) -> Result<Vec<usize>, CmdError> {
    Ok((1..args.len()).collect())
}

fn from_second(args: &Args) -> Result<Vec<usize>, CmdError> {
    Ok((2..args.len()).collect())
}

/// SINTERCARD's `numkeys key… [LIMIT n]`, checked as Redis 7.0 does:
/// (number of keys, limit; 0 = none).
fn parse_sintercard(args: &Args) -> Result<(usize, u64), CmdError> {
    let n = match parse_i64(args.get(1)) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(CmdError::NumkeysNotPositive),
    };
    if n > (args.len() - 2) as u64 {
        return Err(CmdError::NumkeysTooMany);
    }
    let n = n as usize;
    let mut limit = 0;
    let mut i = 2 + n;
    while i < args.len() {
        if eq_ic(args.get(i), "limit") && i + 1 < args.len() {
            limit = match parse_i64(args.get(i + 1)) {
                Some(l) if l >= 0 => l as u64,
                _ => return Err(CmdError::LimitNegative),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((n, limit))
}

fn sintercard_keys(args: &Args) -> Result<Vec<usize>, CmdError> {
    let (n, _) = parse_sintercard(args)?;
    Ok((2..2 + n).collect())
}

/// The read of every set command: each key's members (a lookup counted as
/// Redis's `lookupKeyRead`), `WRONGTYPE` for a key that is not a set.
pub fn read_sets(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let mut lists = Vec::with_capacity(p.args.len());
    for key in p.args {
        match shard.get_counted(p.db, key, p.now_ms) {
            None => lists.push(None),
            Some(e) => match e.value.as_set() {
                Some(s) => lists.push(Some(s.iter().map(|m| m.to_vec()).collect())),
                None => return OpResult::Err(CmdError::WrongType),
            },
        }
    }
    OpResult::Lists(lists)
}

/// The intersection, in the order of the smallest set (empty when a key
/// is missing); stops after `limit` members when not 0.
fn intersect(sets: &Gathered, limit: u64) -> Vec<&[u8]> {
    let Some(lists) = sets.iter().map(Option::as_ref).collect::<Option<Vec<_>>>() else {
        return Vec::new();
    };
    let mut order: Vec<usize> = (0..lists.len()).collect();
    order.sort_by_key(|&i| lists[i].len());
    let Some((&first, rest)) = order.split_first() else {
        return Vec::new();
    };
    let others: Vec<HashSet<&[u8]>> = rest
        .iter()
        .map(|&i| lists[i].iter().map(Vec::as_slice).collect())
        .collect();
    let mut out = Vec::new();
    for m in lists[first] {
        if others.iter().all(|o| o.contains(m.as_slice())) {
            out.push(m.as_slice());
            if limit != 0 && out.len() as u64 >= limit {
                break;
            }
        }
    }
    out
}

/// The union as the set Redis would build.
fn union(sets: &Gathered, limits: &EncodingLimits) -> Set {
    let all = sets.iter().flatten().flatten().map(Vec::as_slice);
    Set::build(all, limits)
}

/// The first set less the others, as the set Redis would build.
fn difference(sets: &Gathered, limits: &EncodingLimits) -> Set {
    let Some(Some(first)) = sets.first() else {
        return Set::empty_intset();
    };
    let others: HashSet<&[u8]> = sets[1..]
        .iter()
        .flatten()
        .flatten()
        .map(Vec::as_slice)
        .collect();
    Set::build(
        first
            .iter()
            .map(Vec::as_slice)
            .filter(|m| !others.contains(m)),
        limits,
    )
}

fn reply_members(reply: &mut ReplyWriter, members: &[&[u8]]) {
    reply.set(members.len());
    members.iter().for_each(|m| reply.bulk(m));
}

fn reply_set(reply: &mut ReplyWriter, set: &Set) {
    reply.set(set.len());
    set.iter().for_each(|m| bulk_member(reply, m));
}

/// The write that stores `members` at argument 1 (deleting it when none).
fn store(args: &Args, members: impl Iterator<Item = Vec<u8>>) -> Vec<GatherWrite> {
    let mut words = vec![Bytes::copy_from_slice(args.get(1))];
    words.extend(members.map(Bytes::from));
    vec![GatherWrite {
        key: 1,
        apply: store_part,
        args: words,
    }]
}

/// A STORE form's write on the destination's shard: the key becomes a set
/// of `args[1..]` (built with this shard's limits), or is deleted when
/// there are none. Journaled as `DEL` then `SADD`s of at most
/// [`REWRITE_CHUNK`] members.
pub fn store_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((key, members)) = p.args.split_first() else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |shard| {
        let removed = shard.remove(p.db, key, p.now_ms).is_some();
        if members.is_empty() {
            if removed {
                shard.propagate(p.db, &[b"DEL", key]);
            }
            return;
        }
        let limits = shard.encoding_limits();
        let set = Set::build(members.iter().map(|m| &m[..]), &limits);
        shard.set(p.db, key, Value::Set(Box::new(set)), 0);
        if removed {
            shard.propagate(p.db, &[b"DEL", key]);
        }
        for chunk in members.chunks(REWRITE_CHUNK) {
            let mut argv: Vec<&[u8]> = Vec::with_capacity(2 + chunk.len());
            argv.push(b"SADD");
            argv.push(key);
            argv.extend(chunk.iter().map(|m| &m[..]));
            shard.propagate(p.db, &argv);
        }
    });
    OpResult::Ok
}

fn combine_sinter(
    _: &Args,
    _: &EncodingLimits,
    sets: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    reply_members(reply, &intersect(sets, 0));
    Ok(Vec::new())
}

fn combine_sintercard(
    args: &Args,
    _: &EncodingLimits,
    sets: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let (_, limit) = parse_sintercard(args)?;
    reply.int(intersect(sets, limit).len() as i64);
    Ok(Vec::new())
}

fn combine_sinterstore(
    args: &Args,
    _: &EncodingLimits,
    sets: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let members = intersect(sets, 0);
    reply.int(members.len() as i64);
    Ok(store(args, members.into_iter().map(<[u8]>::to_vec)))
}

fn combine_sunion(
    _: &Args,
    limits: &EncodingLimits,
    sets: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    reply_set(reply, &union(sets, limits));
    Ok(Vec::new())
}

fn combine_sunionstore(
    args: &Args,
    limits: &EncodingLimits,
    sets: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let set = union(sets, limits);
    reply.int(set.len() as i64);
    Ok(store(args, set.iter().map(|m| m.to_vec())))
}

fn combine_sdiff(
    _: &Args,
    limits: &EncodingLimits,
    sets: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    reply_set(reply, &difference(sets, limits));
    Ok(Vec::new())
}

fn combine_sdiffstore(
    args: &Args,
    limits: &EncodingLimits,
    sets: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let set = difference(sets, limits);
    reply.int(set.len() as i64);
    Ok(store(args, set.iter().map(|m| m.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(v: &[Option<&[&str]>]) -> Vec<Option<Vec<Vec<u8>>>> {
        v.iter()
            .map(|l| l.map(|l| l.iter().map(|m| m.as_bytes().to_vec()).collect()))
            .collect()
    }

    #[test]
    fn algebra_is_pure_and_ordered() {
        let l = lists(&[Some(&["3", "1", "2", "9"]), Some(&["2", "3"])]);
        assert_eq!(intersect(&l, 0), [b"2".as_slice(), b"3"]);
        assert_eq!(intersect(&l, 1).len(), 1);
        assert!(intersect(&lists(&[Some(&["1"]), None]), 0).is_empty());
        let limits = EncodingLimits::default();
        let u = union(&l, &limits);
        let order: Vec<Vec<u8>> = u.iter().map(|m| m.to_vec()).collect();
        assert_eq!(
            order,
            [b"1".to_vec(), b"2".to_vec(), b"3".to_vec(), b"9".to_vec()]
        );
        let d = difference(
            &lists(&[Some(&["a", "b", "1"]), None, Some(&["b"])]),
            &limits,
        );
        assert_eq!(d.len(), 2);
        assert_eq!(crate::shard::value::ValueType::encoding(&d), "hashtable");
        assert_eq!(difference(&lists(&[None, Some(&["b"])]), &limits).len(), 0);
    }
}
