//! The list commands, with Redis 7.0's replies and errors: pushes and pops
//! at either end, LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM and LPOS
//! (one key: `read`, `write`), LMOVE, RPOPLPUSH and LMPOP (`moves`: across
//! shards through the coordinator), and the blocking forms BLPOP, BRPOP,
//! BLMPOP, BLMOVE and BRPOPLPUSH (`blocking`: how a ready key serves a
//! waiter). The value is `shard::value::list`; every command here is
//! deterministic, so the journal records it as received, except where a
//! move spans slots or a blocked command was served (journaled as the pops
//! and pushes it made).

pub mod blocking;
mod moves;
mod read;
mod write;

use super::error::CmdError;
use super::table::{flag::*, spec, CommandSpec, Exec, NO_KEYS};
use crate::cmd::eq_ic;
use crate::shard::value::list::List;
use crate::shard::value::Value;
use crate::shard::Shard;

const ONE: (i32, i32, i32) = (1, 1, 1);
const TWO: (i32, i32, i32) = (1, 2, 1);
const R_FAST: &[&str] = &["read", "list", "fast"];
const R_SLOW: &[&str] = &["read", "list", "slow"];
const W_FAST: &[&str] = &["write", "list", "fast"];
const W_SLOW: &[&str] = &["write", "list", "slow"];
const W_BLOCK: &[&str] = &["write", "list", "slow", "blocking"];

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
    spec("list", "lmove", 5, WRITE | DENYOOM, TWO, W_SLOW, "Pop an element from a list, push it to another list and return it", "6.2.0", Exec::MultiKey(moves::lmove, moves::LMOVE_SPLIT)),
    spec("list", "rpoplpush", 3, WRITE | DENYOOM, TWO, W_SLOW, "Remove the last element in a list, prepend it to another list and return it", "1.2.0", Exec::MultiKey(moves::rpoplpush, moves::RPOPLPUSH_SPLIT)),
    spec("list", "lmpop", -4, WRITE, NO_KEYS, W_SLOW, "Pop elements from a list", "7.0.0", Exec::MultiKey(moves::lmpop, moves::LMPOP_SPLIT)).with_numkeys(1),
    spec("list", "blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), W_BLOCK, "Remove and get the first element in a list, or block until one is available", "2.0.0", Exec::Blocking(&blocking::BLPOP)),
    spec("list", "brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), W_BLOCK, "Remove and get the last element in a list, or block until one is available", "2.0.0", Exec::Blocking(&blocking::BRPOP)),
    spec("list", "blmpop", -5, WRITE | BLOCKING, NO_KEYS, W_BLOCK, "Pop elements from a list, or block until one is available", "7.0.0", Exec::Blocking(&blocking::BLMPOP)).with_numkeys(2),
    spec("list", "blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, TWO, W_BLOCK, "Pop an element from a list, push it to another list and return it; or block until one is available", "6.2.0", Exec::Blocking(&blocking::BLMOVE)),
    spec("list", "brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, TWO, W_BLOCK, "Pop an element from a list, push it to another list and return it; or block until one is available", "2.2.0", Exec::Blocking(&blocking::BRPOPLPUSH)),
];

/// An end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

impl End {
    /// `LEFT` or `RIGHT` (any case), else Redis's syntax error.
    pub fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if eq_ic(arg, "left") {
            Ok(End::Head)
        } else if eq_ic(arg, "right") {
            Ok(End::Tail)
        } else {
            Err(CmdError::Syntax)
        }
    }

    pub fn word(self) -> &'static [u8] {
        match self {
            End::Head => b"LEFT",
            End::Tail => b"RIGHT",
        }
    }

    /// The pop that takes from this end.
    pub fn pop_name(self) -> &'static [u8] {
        match self {
            End::Head => b"LPOP",
            End::Tail => b"RPOP",
        }
    }

    /// The push that adds at this end.
    pub fn push_name(self) -> &'static [u8] {
        match self {
            End::Head => b"LPUSH",
            End::Tail => b"RPUSH",
        }
    }
}

/// Pops up to `n` elements from `end` of the list at `key` (deleting it
/// when emptied); None when the key holds no list.
pub fn pop_elements(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    end: End,
    n: usize,
    now: u64,
) -> Option<Vec<Vec<u8>>> {
    let (popped, empty) = {
        let mut e = shard.get_mut(db, key, now)?;
        let l = e.value.as_list_mut()?;
        let n = n.min(l.len());
        let popped: Vec<Vec<u8>> = (0..n)
            .filter_map(|_| match end {
                End::Head => l.pop_front(),
                End::Tail => l.pop_back(),
            })
            .collect();
        (popped, l.is_empty())
    };
    if empty {
        shard.remove(db, key, now);
    }
    Some(popped)
}

/// Pushes `elements` one by one at `end` of the list at `key`, creating it
/// when absent; the caller has checked that the key holds no other type.
pub fn push_elements<'e>(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    end: End,
    elements: impl IntoIterator<Item = &'e [u8]>,
    now: u64,
) {
    let limits = shard.encoding_limits();
    let push = |l: &mut List, e: &[u8]| match end {
        End::Head => l.push_front(e, &limits),
        End::Tail => l.push_back(e, &limits),
    };
    if let Some(mut e) = shard.get_mut(db, key, now) {
        if let Some(l) = e.value.as_list_mut() {
            elements.into_iter().for_each(|x| push(l, x));
        }
        return;
    }
    let mut l = List::new(&limits);
    elements.into_iter().for_each(|x| push(&mut l, x));
    if !l.is_empty() {
        shard.set(db, key, Value::List(Box::new(l)), 0);
    }
}

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
