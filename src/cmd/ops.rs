//! Shard operations used when one command spans several shards or the whole
//! keyspace. The router sends an op to each owning shard and merges the results;
//! this is also the seam the transaction coordinator schedules through.
//!
//! Ops carry keys as `Bytes` slices of the original read buffer (no copies) and
//! return plain data (`OpResult`) so the connection's core can merge.

use super::{generic, CmdError};
use crate::shard::value::Value;
use crate::shard::Shard;
use bytes::Bytes;

/// A value with its absolute expiry (0 = none), moved between shards.
pub type MovedValue = (Value, u64);

#[derive(Debug)]
pub enum ShardOp {
    /// Store each pair, clearing any TTL.
    MSet {
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// How many of `keys` exist (duplicates counted), as a write-path lookup
    /// (no keyspace hit/miss accounting: MSETNX, RENAME checks).
    CountExisting {
        keys: Vec<Bytes>,
    },
    /// Remove a key and return its value and expiry.
    Take {
        key: Bytes,
    },
    /// Read a key's value and expiry without removing it.
    Peek {
        key: Bytes,
    },
    /// Store a moved value; when `replace` is false an existing key wins.
    /// Returns Int(1) if stored, Int(0) if not.
    Put {
        key: Bytes,
        value: MovedValue,
        replace: bool,
    },
    DbSize,
    Keys {
        pattern: Bytes,
    },
    /// SCAN within this shard from a shard-local cursor.
    Scan {
        cursor: u64,
        count: usize,
        pattern: Option<Bytes>,
        type_name: Option<Bytes>,
    },
    RandomKey,
    FlushDb,
    FlushAll,
    SwapDb {
        other: usize,
    },
    /// Per-db (keys, expires) for INFO keyspace, plus shard stats.
    Keyspace,
    /// The shard's memory figures (MEMORY STATS/DOCTOR, INFO memory).
    Memory,
    /// MEMORY PURGE: return this executor's free allocator pages.
    Purge,
    /// MEMORY USAGE: the bytes `key` costs, or nil.
    MemoryUsage {
        key: Bytes,
    },
    /// WATCH: register watchers; returns (version, exists) per key.
    Watch {
        keys: Vec<Bytes>,
    },
    /// Drop watchers registered by `Watch`.
    Unwatch {
        keys: Vec<Bytes>,
    },
    /// EXEC's check: Int(number of keys changed since `Watch`), counting a
    /// key that existed then and has expired since.
    CheckWatch {
        keys: Vec<(Bytes, u64, bool)>,
    },
}

#[derive(Debug)]
pub enum OpResult {
    Ok,
    Int(i64),
    Moved(Option<MovedValue>),
    Keys(Vec<Vec<u8>>),
    Scan {
        next: u64,
        keys: Vec<Vec<u8>>,
    },
    Key(Option<Vec<u8>>),
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
    Err(CmdError),
}

/// Applies `op` to `shard` in database `db`.
pub fn apply(shard: &mut Shard, db: usize, now_ms: u64, op: ShardOp) -> OpResult {
    match op {
        ShardOp::MSet { pairs } => {
            for (k, v) in pairs {
                shard.set(db, &k, Value::string(&v), 0);
            }
            OpResult::Ok
        }
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
        ShardOp::DbSize => OpResult::Int(shard.db(db).len() as i64),
        ShardOp::Keys { pattern } => {
            OpResult::Keys(generic::keys_in_shard(shard, db, &pattern, now_ms))
        }
        ShardOp::Scan {
            cursor,
            count,
            pattern,
            type_name,
        } => {
            let (next, keys) = generic::scan_shard(
                shard,
                db,
                cursor,
                count,
                pattern.as_deref(),
                type_name.as_deref(),
                now_ms,
            );
            OpResult::Scan { next, keys }
        }
        ShardOp::RandomKey => OpResult::Key(generic::random_key(shard, db, now_ms)),
        ShardOp::FlushDb => {
            shard.flush_db(db);
            OpResult::Ok
        }
        ShardOp::FlushAll => {
            shard.flush_all();
            OpResult::Ok
        }
        ShardOp::SwapDb { other } => {
            shard.swap_db(db, other);
            OpResult::Ok
        }
        ShardOp::Watch { keys } => OpResult::Watched(
            keys.iter()
                .map(|k| {
                    let exists = shard.exists(db, k, now_ms);
                    (shard.watched.watch(db, k), exists)
                })
                .collect(),
        ),
        ShardOp::Unwatch { keys } => {
            for k in &keys {
                shard.watched.unwatch(db, k);
            }
            OpResult::Ok
        }
        ShardOp::CheckWatch { keys } => OpResult::Int(
            keys.iter()
                .filter(|(k, version, existed)| {
                    shard.watched.version(db, k) != Some(*version)
                        || (*existed && !shard.exists(db, k, now_ms))
                })
                .count() as i64,
        ),
        ShardOp::Memory => OpResult::Memory(super::memory::shard_memory(shard)),
        ShardOp::Purge => {
            super::memory::allocator::purge();
            OpResult::Ok
        }
        ShardOp::MemoryUsage { key } => OpResult::Usage(shard.key_memory(db, &key)),
        ShardOp::Keyspace => OpResult::Keyspace {
            dbs: (0..shard.databases())
                .map(|d| (shard.db(d).len(), shard.db(d).volatile()))
                .collect(),
            expired: shard.stats.expired_keys,
            hits: shard.stats.keyspace_hits,
            misses: shard.stats.keyspace_misses,
        },
    }
}
