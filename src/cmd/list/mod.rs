//! The list commands that touch one key: pushes and pops at either end,
//! LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM and LPOS, with Redis
//! 7.0's replies and errors. The value is `shard::value::list`; every
//! command here is deterministic, so the journal records it as received.
//! (LMOVE, RPOPLPUSH, LMPOP and the blocking forms are issue 15's next part.)

mod read;
mod write;

use super::error::CmdError;
use super::table::{flag::*, spec, CommandSpec, Exec};
use crate::shard::value::list::List;
use crate::shard::Shard;

const ONE: (i32, i32, i32) = (1, 1, 1);
const R_FAST: &[&str] = &["read", "list", "fast"];
const R_SLOW: &[&str] = &["read", "list", "slow"];
const W_FAST: &[&str] = &["write", "list", "fast"];
const W_SLOW: &[&str] = &["write", "list", "slow"];

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("list", "lpush", -3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Prepend one or multiple elements to a list", "1.0.0", Exec::Shard(write::lpush)),
    spec("list", "rpush", -3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Append one or multiple elements to a list", "1.0.0", Exec::Shard(write::rpush)),
    spec("list", "lpushx", -3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Prepend an element to a list, only if the list exists", "2.2.0", Exec::Shard(write::lpushx)),
    spec("list", "rpushx", -3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Append an element to a list, only if the list exists", "2.2.0", Exec::Shard(write::rpushx)),
    spec("list", "lpop", -2, WRITE | FAST, ONE, W_FAST, "Remove and get the first elements in a list", "1.0.0", Exec::Shard(write::lpop)),
    spec("list", "rpop", -2, WRITE | FAST, ONE, W_FAST, "Remove and get the last elements in a list", "1.0.0", Exec::Shard(write::rpop)),
    spec("list", "llen", 2, READONLY | FAST, ONE, R_FAST, "Get the length of a list", "1.0.0", Exec::Shard(read::llen)),
    spec("list", "lrange", 4, READONLY, ONE, R_SLOW, "Get a range of elements from a list", "1.0.0", Exec::Shard(read::lrange)),
    spec("list", "lindex", 3, READONLY, ONE, R_SLOW, "Get an element from a list by its index", "1.0.0", Exec::Shard(read::lindex)),
    spec("list", "lset", 4, WRITE | DENYOOM, ONE, W_SLOW, "Set the value of an element in a list by its index", "1.0.0", Exec::Shard(write::lset)),
    spec("list", "ltrim", 4, WRITE, ONE, W_SLOW, "Trim a list to the specified range", "1.0.0", Exec::Shard(write::ltrim)),
    spec("list", "lrem", 4, WRITE, ONE, W_SLOW, "Remove elements from a list", "1.0.0", Exec::Shard(write::lrem)),
    spec("list", "linsert", 5, WRITE | DENYOOM, ONE, W_SLOW, "Insert an element before or after another element in a list", "2.2.0", Exec::Shard(write::linsert)),
    spec("list", "lpos", -3, READONLY, ONE, R_SLOW, "Return the index of matching elements on a list", "6.0.6", Exec::Shard(read::lpos)),
];

/// A read lookup (Redis's `lookupKeyRead`, counting a hit or miss) that
/// requires a list: `WRONGTYPE` otherwise.
fn read_list<'s>(
    shard: &'s mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s List>, CmdError> {
    match shard.get_counted(db, key, now) {
        Some(e) => e
            .entry()
            .value
            .as_list()
            .ok_or(CmdError::WrongType)
            .map(Some),
        None => Ok(None),
    }
}

/// A write lookup's type check: Ok(true) for a list, Ok(false) when absent.
fn is_list(shard: &mut Shard, db: usize, key: &[u8], now: u64) -> Result<bool, CmdError> {
    match shard.get(db, key, now) {
        Some(e) if e.value.as_list().is_none() => Err(CmdError::WrongType),
        found => Ok(found.is_some()),
    }
}

/// Redis's LRANGE/LTRIM index pair resolved against `len`: the inclusive
/// range it names, None when empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}
