//! ringkv: a Redis-compatible, thread-per-core, shared-nothing data store.
//!
//! ```text
//!            clients (TCP, SO_REUSEPORT: one listener per core)
//!               |                 |                 |
//!        +------v------+   +------v------+   +------v------+
//!        |  executor 0 |<->|  executor 1 |<->|  executor 2 |   full mesh of
//!        |  shard 0    |   |  shard 1    |   |  shard 2    |   SPSC queues
//!        +-------------+   +-------------+   +-------------+   (batched)
//! ```
//!
//! Each executor is pinned to a CPU and owns one shard of the keyspace
//! (`slot = CRC16(hashtag) mod 16384`, slot → shard by a table). A connection
//! lives on the core that accepted it; its commands run inline when the key is
//! local, or travel to the owning core in one batched message per tick.
//! Persistence follows the same split: each shard writes its own snapshot
//! file and its own append-only file through io_uring; a cut taken under the
//! transaction coordinator makes the files of one snapshot consistent.
//!
//! Module map, from the top layer down. A module names only modules below
//! it (`tests/layering.rs` checks it, with the few edges still to remove
//! listed there):
//! - [`server`]: the composition root: start-up loading (AOF replay, RDB),
//!   then the executors, their listeners and tasks;
//! - [`net`]: listeners and the connection loop;
//! - [`route`]: pipeline segmentation, multi-key splitting, fan-out, the
//!   transaction coordinator, snapshots and AOF rewrites across shards;
//! - [`runtime`]: pinned executors' state, the cross-core mesh, shutdown, and
//!   each core's file writers (AOF with group commit, snapshot files);
//! - [`cmd`]: the command table and the handlers run against a shard;
//! - [`metrics`]: per-core command statistics, SLOWLOG, LATENCY, MONITOR and
//!   the Prometheus `/metrics` endpoint (summed across cores at read time);
//! - [`shard`]: one core's keyspace and values (synchronous, no I/O), with
//!   its copy-on-write snapshot cut and its AOF journal buffer;
//! - [`persist`]: on-disk formats (RDB v10, AOF, manifests) and persistence
//!   status;
//! - leaves: [`slot`] (key → slot → shard), [`clock`], [`protocol`] (RESP
//!   parsing and reply encoding, no I/O), [`config`] (settings and defaults).

pub mod clock;
pub mod cmd;
pub mod config;
pub mod metrics;
pub mod net;
pub mod persist;
pub mod protocol;
pub mod route;
pub mod runtime;
pub mod server;
pub mod shard;
pub mod slot;
