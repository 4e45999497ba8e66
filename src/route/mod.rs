//! Routing: which shard owns a key ([`crate::slot`]), how a connection's pipeline is cut
//! into per-shard segments that keep Redis's ordering ([`pipeline`]) and how a
//! segment runs, coordinated when it writes on several shards ([`segment`]), how
//! multi-key commands are split across shards and their replies merged, as
//! their specs declare ([`multikey`]), SORT with patterns that reach any shard
//! ([`sort`]), scripts that reach any shard ([`script`]), keyspace-wide fan-out commands, as
//! their specs declare, and server-wide ones ([`global`]), CONFIG across
//! cores ([`config`]), the transaction coordinator: the one lock-ordering
//! rule ([`coordinator`]), MULTI/EXEC/WATCH ([`txn`]), and snapshots / AOF
//! rewrites across shards ([`persist`]).
//! Tests: an in-process harness with three shards and a manual clock
//! (`harness`).

pub mod blocking;
pub mod config;
pub mod coordinator;
#[cfg(test)]
mod coordinator_tests;
pub mod global;
#[cfg(test)]
pub mod harness;
pub mod memory;
pub mod monitor;
pub mod multikey;
pub mod observe;
pub mod persist;
pub mod pipeline;
pub mod script;
pub mod segment;
pub mod sort;
pub mod txn;
