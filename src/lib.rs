//! ringkv: a Redis-compatible, thread-per-core, shared-nothing data store.
//!
//! Module map (dependencies point downwards only):
//! - [`protocol`]: RESP parsing and reply encoding (no I/O);
//! - [`shard`]: one core's keyspace and values (synchronous, no I/O);
//! - [`cmd`]: the command table and the handlers run against a shard;
//! - [`route`]: slots, pipeline segmentation, multi-key splitting;
//! - [`runtime`]: pinned executors, the cross-core mesh, shutdown;
//! - [`net`]: listeners and the connection loop;
//! - [`config`]: settings and their defaults.

pub mod protocol;
pub mod route;
pub mod shard;
pub mod cmd;
