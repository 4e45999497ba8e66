//! Shard operations used when one command spans several shards or the whole
//! keyspace. The router sends an op to each owning shard and merges the results;
//! this is also the seam the transaction coordinator schedules through.
//!
//! A command's own per-shard steps travel as [`ShardOp::Part`] and
//! [`ShardOp::Fan`]: functions declared in its group file, so a new
//! multi-key or fan-out command adds no variant here.
//!
//! Ops carry keys as `Bytes` slices of the original read buffer (no copies) and
//! return plain data (`OpResult`) so the connection's core can merge.

use super::fanout::{FanPart, FanPartFn};
use super::split::{PartCtx, PartFn};
use super::CmdError;
use crate::shard::value::Value;
use crate::shard::Shard;
use bytes::Bytes;

/// A value with its absolute expiry (0 = none), moved between shards.
pub type MovedValue = (Value, u64);

#[derive(Debug)]
pub enum ShardOp {
    /// A step of a split multi-key command, declared in its group file
    /// (cmd/split.rs), over this shard's arguments.
    Part { f: PartFn, args: Vec<Bytes> },
    /// A keyspace-wide command's part, declared in its spec (cmd/fanout.rs).
    Fan {
        f: FanPartFn,
        args: Vec<Bytes>,
        cursor: u64,
        count: usize,
    },
    /// How many of `keys` exist (duplicates counted), as a write-path lookup
    /// (no keyspace hit/miss accounting: MSETNX, RENAME checks).
    CountExisting { keys: Vec<Bytes> },
    /// Remove a key and return its value and expiry.
    Take { key: Bytes },
    /// Read a key's value and expiry without removing it.
    Peek { key: Bytes },
    /// Store a moved value; when `replace` is false an existing key wins.
    /// Returns Int(1) if stored, Int(0) if not.
    Put {
        key: Bytes,
        value: MovedValue,
        replace: bool,
    },
    /// Per-db (keys, expires) for INFO keyspace, plus shard stats.
    Keyspace,
    /// The shard's memory figures (MEMORY STATS/DOCTOR, INFO memory).
    Memory,
    /// MEMORY PURGE: return this executor's free allocator pages.
    Purge,
    /// MEMORY USAGE: the bytes `key` costs, or nil.
    MemoryUsage { key: Bytes },
    /// WATCH: register watchers; returns (version, exists) per key.
    Watch { keys: Vec<Bytes> },
    /// Drop watchers registered by `Watch`.
    Unwatch { keys: Vec<Bytes> },
    /// EXEC's check: Int(number of keys changed since `Watch`), counting a
    /// key that existed then and has expired since.
    CheckWatch { keys: Vec<(Bytes, u64, bool)> },
    /// A blocking command's attempt over `waiter.keys` (this shard's, in
    /// order); queues the waiter when nothing serves it and `register`.
    TryServe {
        waiter: crate::shard::blocking::Waiter,
        register: bool,
    },
}

#[derive(Debug)]
pub enum OpResult {
    Ok,
    Int(i64),
    Moved(Option<MovedValue>),
    /// Per key, its elements (None: no such key) — a gather's read
    /// (cmd/split.rs [`super::split::Gather`]).
    Lists(Vec<Option<Vec<Vec<u8>>>>),
    Keys(Vec<Vec<u8>>),
    Scan {
        next: u64,
        keys: Vec<Vec<u8>>,
    },
    /// The db's size and a random key of it (RANDOMKEY's part).
    Sampled {
        len: u64,
        key: Option<Vec<u8>>,
    },
    Watched(Vec<(u64, bool)>),
    Keyspace {
        dbs: Vec<(usize, usize)>,
        expired: u64,
        hits: u64,
        misses: u64,
    },
    Memory(super::memory::ShardMemory),
    /// MEMORY USAGE's answer (None: no such key).
    Usage(Option<usize>),
    /// What a blocking command's attempt produced.
    Served(crate::shard::blocking::Served),
    /// A FUNCTION subcommand's answer (cmd/function).
    Function(Box<super::function::Answer>),
    /// SORT's source, read (cmd/sort/engine.rs).
    SortSource(crate::cmd::sort::engine::Loaded),
    Err(CmdError),
}

/// Applies `op` to `shard` in database `db`.
pub fn apply(shard: &mut Shard, db: usize, now_ms: u64, op: ShardOp) -> OpResult {
    match op {
        ShardOp::Part { f, args } => f(
            shard,
            &PartCtx {
                db,
                now_ms,
                args: &args,
            },
        ),
        ShardOp::Fan {
            f,
            args,
            cursor,
            count,
        } => f(
            shard,
            &FanPart {
                db,
                now_ms,
                args: &args,
                cursor,
                count,
            },
        ),
        ShardOp::CountExisting { keys } => {
            OpResult::Int(keys.iter().filter(|k| shard.exists(db, k, now_ms)).count() as i64)
        }
        ShardOp::Take { key } => OpResult::Moved(shard.remove(db, &key, now_ms).map(|e| {
            let at = e.expire_at();
            (e.value, at)
        })),
        ShardOp::Peek { key } => OpResult::Moved(
            shard
                .get_counted(db, &key, now_ms)
                .map(|e| (e.value.clone(), e.expire_at())),
        ),
        ShardOp::Put {
            key,
            value,
            replace,
        } => {
            if !replace && shard.exists(db, &key, now_ms) {
                return OpResult::Int(0);
            }
            shard.set(db, &key, value.0, value.1);
            OpResult::Int(1)
        }
        ShardOp::Watch { keys } => OpResult::Watched(
            keys.iter()
                .map(|k| {
                    let exists = shard.exists(db, k, now_ms);
                    (shard.watched_mut().watch(db, k), exists)
                })
                .collect(),
        ),
        ShardOp::Unwatch { keys } => {
            for k in &keys {
                shard.watched_mut().unwatch(db, k);
            }
            OpResult::Ok
        }
        ShardOp::CheckWatch { keys } => OpResult::Int(
            keys.iter()
                .filter(|(k, version, existed)| {
                    shard.watched_mut().version(db, k) != Some(*version)
                        || (*existed && !shard.exists(db, k, now_ms))
                })
                .count() as i64,
        ),
        ShardOp::TryServe { waiter, register } => {
            OpResult::Served(shard.try_serve(waiter, now_ms, register))
        }
        ShardOp::Memory => OpResult::Memory(super::memory::shard_memory(shard)),
        ShardOp::Purge => {
            super::memory::allocator::purge();
            OpResult::Ok
        }
        ShardOp::MemoryUsage { key } => OpResult::Usage(shard.key_memory(db, &key, now_ms)),
        ShardOp::Keyspace => OpResult::Keyspace {
            dbs: (0..shard.databases())
                .map(|d| (shard.db(d).len(), shard.db(d).volatile()))
                .collect(),
            expired: shard.stats().expired_keys,
            hits: shard.stats().keyspace_hits,
            misses: shard.stats().keyspace_misses,
        },
    }
}
