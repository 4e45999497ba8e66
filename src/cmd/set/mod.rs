//! Set commands: the set group's table entries and the lookups its
//! handlers share. Membership (SADD, SREM, SCARD, SISMEMBER, SMISMEMBER,
//! SMEMBERS) lives in `members`, randomness (SRANDMEMBER, SPOP) in
//! `random`, the algebra (SINTER, SINTERCARD, SUNION, SDIFF and their STORE
//! forms) in `algebra`, SMOVE in `smove`, SSCAN in `sscan`.
//!
//! Replies and error texts are Redis 7.0's byte for byte, RESP2 and RESP3
//! (SMEMBERS, SINTER, SUNION, SDIFF and SPOP with a count answer RESP3
//! sets). Reads that Redis does with `lookupKeyRead` count keyspace hits
//! and misses; write lookups do not. A set emptied by a write is deleted.
//!
//! The multi-key commands are declared as a [`crate::cmd::split::Gather`]:
//! a read of the source keys, a pure combine here, and the writes. The same
//! three steps run inside the handler when every key is on one shard, and
//! through the coordinator when the keys span shards, so both paths answer
//! alike. Writes journal themselves as single-key commands (SREM, SADD,
//! DEL), so every journal record touches one slot.

mod algebra;
mod members;
mod random;
mod smove;
mod sscan;

use super::error::CmdError;
use super::table::{flag::*, spec, CommandSpec, Exec, NO_KEYS};
use crate::shard::entry::EntryRef;
use crate::shard::value::set::Set;
use crate::shard::Shard;

const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const R_FAST: &[&str] = &["read", "set", "fast"];
const R_SLOW: &[&str] = &["read", "set", "slow"];
const W_FAST: &[&str] = &["write", "set", "fast"];
const W_SLOW: &[&str] = &["write", "set", "slow"];

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("set", "sadd", -3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Add one or more members to a set", "1.0.0", Exec::Shard(members::sadd)),
    spec("set", "srem", -3, WRITE | FAST, ONE, W_FAST, "Remove one or more members from a set", "1.0.0", Exec::Shard(members::srem)),
    spec("set", "scard", 2, READONLY | FAST, ONE, R_FAST, "Get the number of members in a set", "1.0.0", Exec::Shard(members::scard)),
    spec("set", "sismember", 3, READONLY | FAST, ONE, R_FAST, "Determine if a given value is a member of a set", "1.0.0", Exec::Shard(members::sismember)),
    spec("set", "smismember", -3, READONLY | FAST, ONE, R_FAST, "Returns the membership associated with the given elements for a set", "6.2.0", Exec::Shard(members::smismember)),
    spec("set", "smembers", 2, READONLY, ONE, R_SLOW, "Get all the members in a set", "1.0.0", Exec::Shard(members::smembers)),
    spec("set", "srandmember", -2, READONLY, ONE, R_SLOW, "Get one or multiple random members from a set", "1.0.0", Exec::Shard(random::srandmember)),
    spec("set", "spop", -2, WRITE | FAST, ONE, W_FAST, "Remove and return one or multiple random members from a set", "1.0.0", Exec::Shard(random::spop)),
    spec("set", "smove", 4, WRITE | FAST, (1, 2, 1), W_FAST, "Move a member from one set to another", "1.0.0", Exec::MultiKey(smove::smove, smove::SMOVE_SPLIT)),
    spec("set", "sinter", -2, READONLY, ALL, R_SLOW, "Intersect multiple sets", "1.0.0", Exec::MultiKey(algebra::sinter, algebra::SINTER_SPLIT)),
    spec("set", "sintercard", -3, READONLY, NO_KEYS, R_SLOW, "Intersect multiple sets and return the cardinality of the result", "7.0.0", Exec::MultiKey(algebra::sintercard, algebra::SINTERCARD_SPLIT)).with_numkeys(1),
    spec("set", "sinterstore", -3, WRITE | DENYOOM, ALL, W_SLOW, "Intersect multiple sets and store the resulting set in a key", "1.0.0", Exec::MultiKey(algebra::sinterstore, algebra::SINTERSTORE_SPLIT)),
    spec("set", "sunion", -2, READONLY, ALL, R_SLOW, "Add multiple sets", "1.0.0", Exec::MultiKey(algebra::sunion, algebra::SUNION_SPLIT)),
    spec("set", "sunionstore", -3, WRITE | DENYOOM, ALL, W_SLOW, "Add multiple sets and store the resulting set in a key", "1.0.0", Exec::MultiKey(algebra::sunionstore, algebra::SUNIONSTORE_SPLIT)),
    spec("set", "sdiff", -2, READONLY, ALL, R_SLOW, "Subtract multiple sets", "1.0.0", Exec::MultiKey(algebra::sdiff, algebra::SDIFF_SPLIT)),
    spec("set", "sdiffstore", -3, WRITE | DENYOOM, ALL, W_SLOW, "Subtract multiple sets and store the resulting set in a key", "1.0.0", Exec::MultiKey(algebra::sdiffstore, algebra::SDIFFSTORE_SPLIT)),
    spec("set", "sscan", -3, READONLY, ONE, R_SLOW, "Incrementally iterate Set elements", "2.8.0", Exec::Shard(sscan::sscan)),
];

/// A read lookup (Redis's `lookupKeyRead`, counting a hit or miss) that
/// requires a set: `WRONGTYPE` otherwise.
fn read_set<'s>(
    shard: &'s mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s Set>, CmdError> {
    match shard.get_counted(db, key, now) {
        Some(e) => set_of(e).map(Some),
        None => Ok(None),
    }
}

fn set_of(e: EntryRef<'_>) -> Result<&Set, CmdError> {
    e.entry().value.as_set().ok_or(CmdError::WrongType)
}

/// A write lookup's type check: Ok(true) for a set, Ok(false) when absent.
fn is_set(shard: &mut Shard, db: usize, key: &[u8], now: u64) -> Result<bool, CmdError> {
    match shard.get(db, key, now) {
        Some(e) if e.value.as_set().is_none() => Err(CmdError::WrongType),
        found => Ok(found.is_some()),
    }
}
