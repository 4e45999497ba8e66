//! Persistence: on-disk formats for snapshots and the append-only file, their
//! replay, and start-up loading.
//!
//! The format modules only turn values into bytes and bytes back into values;
//! they know nothing of executors or the network, and never panic on input
//! read from disk. [`load`] runs once on the main thread before the executors
//! start (plain blocking I/O is fine there). Writing at runtime lives with the
//! executors (runtime/aof.rs, runtime/snapshot.rs) and the coordinator
//! (route/persist.rs).
//!
//! - [`rdb`]: the Redis RDB format, version 10 (Redis 7.0), for strings with expiry.
//! - [`aof`]: the append-only file format (Redis AOF plus `#TX`/`#COMMIT` tags).
//! - [`manifest`]: manifests naming the per-shard files of a snapshot or AOF.
//! - [`replay`]: applying a parsed append-only file to a shard.
//! - [`load`]: start-up loading (AOF, snapshot manifest, or a Redis dump.rdb).
//! - [`status`]: process-wide save/rewrite status (LASTSAVE, INFO persistence).

pub mod aof;
pub mod load;
pub mod manifest;
pub mod rdb;
pub mod replay;
pub mod status;
