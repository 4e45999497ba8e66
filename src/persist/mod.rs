//! Persistence: on-disk formats for snapshots (and, later, the append-only file).
//!
//! This layer only turns values into bytes and bytes back into values; it does
//! no file I/O scheduling of its own, knows nothing of shards, executors or the
//! network, and never panics on input it reads from disk. Callers (the SAVE /
//! BGSAVE machinery, start-up loading) own the files, the temporary names and the
//! atomic renames.
//!
//! - [`rdb`]: the Redis RDB format, version 10 (Redis 7.0), for strings with expiry.

pub mod rdb;
