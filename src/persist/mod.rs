//! Persistence: on-disk formats for snapshots (and, later, the append-only file).
//!
//! This layer only turns values into bytes and bytes back into values; it does
//! no file I/O scheduling of its own, knows nothing of shards, executors or the
//! network, and never panics on input it reads from disk. Callers (the SAVE /
//! BGSAVE machinery, start-up loading) own the files, the temporary names and the
//! atomic renames.
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
