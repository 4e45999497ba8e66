//! Persistence: on-disk formats for snapshots and the append-only file, and
//! the process-wide persistence status. (Start-up loading and AOF replay sit
//! above the shard, in [`crate::server`].)
//!
//! The format modules keep only framing and primitives (lengths, strings,
//! LZF, the RESP command encoding); a value's own payload is written and read
//! by its type's module in `shard::value`, through [`rdb::RdbPayload`] and
//! [`rdb::RdbDecode`], so nothing here names a value type. They know nothing
//! of executors or the network, and never panic on input
//! read from disk. Loading (`server::load`) runs once on the main thread before the executors
//! start (plain blocking I/O is fine there). Writing at runtime lives with the
//! executors (runtime/aof.rs, runtime/snapshot.rs) and the coordinator
//! (route/persist.rs).
//!
//! - [`rdb`]: the Redis RDB format, version 10 (Redis 7.0), for strings with expiry.
//! - [`aof`]: the append-only file format: the commands that changed data (Redis
//!   AOF) plus `#TX`/`#COMMIT` tags.
//! - [`manifest`]: manifests naming the per-shard files of a snapshot or AOF.
//! - [`status`]: process-wide save/rewrite status (LASTSAVE, INFO persistence).

pub mod aof;
pub mod manifest;
pub mod rdb;
pub mod status;
