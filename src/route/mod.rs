//! Routing: which shard owns a key ([`slot`]), how a connection's pipeline is cut
//! into per-shard segments that keep Redis's ordering ([`pipeline`]), how
//! multi-key commands are split across shards and their replies merged
//! ([`multikey`]), keyspace-wide fan-out commands ([`global`]), CONFIG across
//! cores ([`config`]), and the transaction coordinator with MULTI/EXEC/WATCH
//! ([`txn`]).

pub mod config;
pub mod global;
pub mod multikey;
pub mod pipeline;
pub mod slot;
pub mod txn;
