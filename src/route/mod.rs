//! Routing: which shard owns a key ([`crate::slot`]), how a connection's pipeline is cut
//! into per-shard segments that keep Redis's ordering ([`pipeline`]) and how a
//! segment runs, coordinated when it writes on several shards ([`segment`]), how
//! multi-key commands are split across shards and their replies merged
//! ([`multikey`]), keyspace-wide fan-out commands ([`global`]), CONFIG across
//! cores ([`config`]), the transaction coordinator with MULTI/EXEC/WATCH
//! ([`txn`]), and snapshots / AOF rewrites across shards ([`persist`]).
//! Tests: an in-process harness with three shards and a manual clock
//! (`harness`).

pub mod config;
pub mod global;
#[cfg(test)]
pub mod harness;
pub mod memory;
pub mod monitor;
pub mod multikey;
pub mod observe;
pub mod persist;
pub mod pipeline;
pub mod segment;
pub mod txn;
