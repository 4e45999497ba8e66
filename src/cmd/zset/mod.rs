//! Sorted-set commands: the group's table entries and the lookups and
//! reply shapes its handlers share. Scores and ranges are read in `score`;
//! ZADD, ZINCRBY and ZREM live in `add`; single-key reads (ZCARD, ZSCORE,
//! ZMSCORE, ZRANK, ZCOUNT, ZLEXCOUNT, ZRANDMEMBER, ZSCAN) in `read`; the
//! ZRANGE family, ZRANGESTORE and ZREMRANGEBY* in `range`; pops (ZPOPMIN,
//! ZPOPMAX, ZMPOP and the blocking forms) in `pop`; ZUNION, ZINTER, ZDIFF,
//! ZINTERCARD and their STORE forms in `algebra`.
//!
//! Replies and error texts are Redis 7.0's byte for byte in RESP2 and
//! RESP3: scores are bulk strings (`%.17g`) in RESP2 and doubles in RESP3,
//! where member/score pairs come as two-element arrays. A sorted set
//! emptied by a write is deleted. Multi-key commands are
//! [`crate::cmd::split::Gather`]s, as the set algebra's.

mod add;
mod algebra;
pub mod pop;
mod range;
mod read;
pub mod score;

/// What the GEO commands (a geo set is a sorted set) reuse: GEOADD runs
/// ZADD; the geo STORE forms store like the other STORE forms.
pub(crate) use add::zadd;
pub(crate) use algebra::{encode_pairs, store_part};

use super::table::{flag::*, spec, CommandSpec, Exec, NO_KEYS};
use crate::cmd::error::CmdError;
use crate::protocol::ReplyWriter;
use crate::shard::entry::EntryRef;
use crate::shard::value::zset::{ZMember, ZSet};
use crate::shard::Shard;

const ONE: (i32, i32, i32) = (1, 1, 1);
const R_FAST: &[&str] = &["read", "sortedset", "fast"];
const R_SLOW: &[&str] = &["read", "sortedset", "slow"];
const W_FAST: &[&str] = &["write", "sortedset", "fast"];
const W_SLOW: &[&str] = &["write", "sortedset", "slow"];
const W_FAST_BLOCK: &[&str] = &["write", "sortedset", "fast", "blocking"];
const W_SLOW_BLOCK: &[&str] = &["write", "sortedset", "slow", "blocking"];

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("sorted_set", "zadd", -4, WRITE | DENYOOM | FAST, ONE, W_FAST, "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", Exec::Shard(add::zadd)),
    spec("sorted_set", "zincrby", 4, WRITE | DENYOOM | FAST, ONE, W_FAST, "Increment the score of a member in a sorted set", "1.2.0", Exec::Shard(add::zincrby)),
    spec("sorted_set", "zrem", -3, WRITE | FAST, ONE, W_FAST, "Remove one or more members from a sorted set", "1.2.0", Exec::Shard(add::zrem)),
    spec("sorted_set", "zcard", 2, READONLY | FAST, ONE, R_FAST, "Get the number of members in a sorted set", "1.2.0", Exec::Shard(read::zcard)),
    spec("sorted_set", "zcount", 4, READONLY | FAST, ONE, R_FAST, "Count the members in a sorted set with scores within the given values", "2.0.0", Exec::Shard(read::zcount)),
    spec("sorted_set", "zlexcount", 4, READONLY | FAST, ONE, R_FAST, "Count the number of members in a sorted set between a given lexicographical range", "2.8.9", Exec::Shard(read::zlexcount)),
    spec("sorted_set", "zscore", 3, READONLY | FAST, ONE, R_FAST, "Get the score associated with the given member in a sorted set", "1.2.0", Exec::Shard(read::zscore)),
    spec("sorted_set", "zmscore", -3, READONLY | FAST, ONE, R_FAST, "Get the score associated with the given members in a sorted set", "6.2.0", Exec::Shard(read::zmscore)),
    spec("sorted_set", "zrank", 3, READONLY | FAST, ONE, R_FAST, "Determine the index of a member in a sorted set", "2.0.0", Exec::Shard(read::zrank)),
    spec("sorted_set", "zrevrank", 3, READONLY | FAST, ONE, R_FAST, "Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", Exec::Shard(read::zrevrank)),
    spec("sorted_set", "zrange", -4, READONLY, ONE, R_SLOW, "Return a range of members in a sorted set", "1.2.0", Exec::Shard(range::zrange)),
    spec("sorted_set", "zrangebyscore", -4, READONLY, ONE, R_SLOW, "Return a range of members in a sorted set, by score", "1.0.5", Exec::Shard(range::zrangebyscore)),
    spec("sorted_set", "zrevrangebyscore", -4, READONLY, ONE, R_SLOW, "Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0", Exec::Shard(range::zrevrangebyscore)),
    spec("sorted_set", "zrangebylex", -4, READONLY, ONE, R_SLOW, "Return a range of members in a sorted set, by lexicographical range", "2.8.9", Exec::Shard(range::zrangebylex)),
    spec("sorted_set", "zrevrangebylex", -4, READONLY, ONE, R_SLOW, "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9", Exec::Shard(range::zrevrangebylex)),
    spec("sorted_set", "zrevrange", -4, READONLY, ONE, R_SLOW, "Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0", Exec::Shard(range::zrevrange)),
    spec("sorted_set", "zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), W_SLOW, "Store a range of members from sorted set into another key", "6.2.0", Exec::MultiKey(range::zrangestore, range::ZRANGESTORE_SPLIT)),
    spec("sorted_set", "zremrangebyrank", 4, WRITE, ONE, W_SLOW, "Remove all members in a sorted set within the given indexes", "2.0.0", Exec::Shard(range::zremrangebyrank)),
    spec("sorted_set", "zremrangebyscore", 4, WRITE, ONE, W_SLOW, "Remove all members in a sorted set within the given scores", "1.2.0", Exec::Shard(range::zremrangebyscore)),
    spec("sorted_set", "zremrangebylex", 4, WRITE, ONE, W_SLOW, "Remove all members in a sorted set between the given lexicographical range", "2.8.9", Exec::Shard(range::zremrangebylex)),
    spec("sorted_set", "zpopmin", -2, WRITE | FAST, ONE, W_FAST, "Remove and return members with the lowest scores in a sorted set", "5.0.0", Exec::Shard(pop::zpopmin)),
    spec("sorted_set", "zpopmax", -2, WRITE | FAST, ONE, W_FAST, "Remove and return members with the highest scores in a sorted set", "5.0.0", Exec::Shard(pop::zpopmax)),
    spec("sorted_set", "zmpop", -4, WRITE, NO_KEYS, W_SLOW, "Remove and return members with scores in a sorted set", "7.0.0", Exec::MultiKey(pop::zmpop, pop::ZMPOP_SPLIT)).with_numkeys(1),
    spec("sorted_set", "bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, (1, -2, 1), W_FAST_BLOCK, "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", Exec::Blocking(&pop::BZPOPMIN)),
    spec("sorted_set", "bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, (1, -2, 1), W_FAST_BLOCK, "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", Exec::Blocking(&pop::BZPOPMAX)),
    spec("sorted_set", "bzmpop", -5, WRITE | BLOCKING, NO_KEYS, W_SLOW_BLOCK, "Remove and return members with scores in a sorted set or block until one is available", "7.0.0", Exec::Blocking(&pop::BZMPOP)).with_numkeys(2),
    spec("sorted_set", "zrandmember", -2, READONLY, ONE, R_SLOW, "Get one or multiple random elements from a sorted set", "6.2.0", Exec::Shard(read::zrandmember)),
    spec("sorted_set", "zunion", -3, READONLY, NO_KEYS, R_SLOW, "Add multiple sorted sets", "6.2.0", Exec::MultiKey(algebra::zunion, algebra::ZUNION_SPLIT)).with_numkeys(1),
    spec("sorted_set", "zinter", -3, READONLY, NO_KEYS, R_SLOW, "Intersect multiple sorted sets", "6.2.0", Exec::MultiKey(algebra::zinter, algebra::ZINTER_SPLIT)).with_numkeys(1),
    spec("sorted_set", "zdiff", -3, READONLY, NO_KEYS, R_SLOW, "Subtract multiple sorted sets", "6.2.0", Exec::MultiKey(algebra::zdiff, algebra::ZDIFF_SPLIT)).with_numkeys(1),
    spec("sorted_set", "zintercard", -3, READONLY, NO_KEYS, R_SLOW, "Intersect multiple sorted sets and return the cardinality of the result", "7.0.0", Exec::MultiKey(algebra::zintercard, algebra::ZINTERCARD_SPLIT)).with_numkeys(1),
    spec("sorted_set", "zunionstore", -4, WRITE | DENYOOM, ONE, W_SLOW, "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", Exec::MultiKey(algebra::zunionstore, algebra::ZUNIONSTORE_SPLIT)).with_numkeys(2),
    spec("sorted_set", "zinterstore", -4, WRITE | DENYOOM, ONE, W_SLOW, "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", Exec::MultiKey(algebra::zinterstore, algebra::ZINTERSTORE_SPLIT)).with_numkeys(2),
    spec("sorted_set", "zdiffstore", -4, WRITE | DENYOOM, ONE, W_SLOW, "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", Exec::MultiKey(algebra::zdiffstore, algebra::ZDIFFSTORE_SPLIT)).with_numkeys(2),
    spec("sorted_set", "zscan", -3, READONLY, ONE, R_SLOW, "Incrementally iterate sorted sets elements and associated scores", "2.8.0", Exec::Shard(read::zscan)),
];

/// A read lookup (Redis's `lookupKeyRead`, counting a hit or miss) that
/// requires a sorted set: `WRONGTYPE` otherwise.
fn read_zset<'s>(
    shard: &'s mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s ZSet>, CmdError> {
    match shard.get_counted(db, key, now) {
        Some(e) => zset_of(e).map(Some),
        None => Ok(None),
    }
}

fn zset_of(e: EntryRef<'_>) -> Result<&ZSet, CmdError> {
    e.entry().value.as_zset().ok_or(CmdError::WrongType)
}

/// A write lookup's type check: Ok(true) for a sorted set, Ok(false) when
/// absent.
fn is_zset(shard: &mut Shard, db: usize, key: &[u8], now: u64) -> Result<bool, CmdError> {
    match shard.get(db, key, now) {
        Some(e) if e.value.as_zset().is_none() => Err(CmdError::WrongType),
        found => Ok(found.is_some()),
    }
}

/// Writes a member as a bulk string.
fn bulk_member(reply: &mut ReplyWriter, m: ZMember<'_>) {
    match m {
        ZMember::Int(n) => reply.bulk_int(n),
        ZMember::Bytes(b) => reply.bulk(b),
    }
}

/// The array header for `n` entries: RESP2 flattens member/score pairs.
fn entries_header(reply: &mut ReplyWriter, n: usize, withscores: bool) {
    if withscores && !reply.resp3 {
        reply.array(n * 2);
    } else {
        reply.array(n);
    }
}

/// One entry of a range-like reply: the member, or with scores the
/// member and its score (a two-element array in RESP3).
fn entry(reply: &mut ReplyWriter, m: ZMember<'_>, score: f64, withscores: bool) {
    if withscores && reply.resp3 {
        reply.array(2);
    }
    bulk_member(reply, m);
    if withscores {
        reply.double(score);
    }
}

/// A whole reply of owned entries.
fn reply_entries(reply: &mut ReplyWriter, entries: &[(Vec<u8>, f64)], withscores: bool) {
    entries_header(reply, entries.len(), withscores);
    for (m, s) in entries {
        entry(reply, ZMember::Bytes(m), *s, withscores);
    }
}
