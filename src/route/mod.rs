//! Routing: which shard owns a key ([`slot`]), how a connection's pipeline is cut
//! into per-shard segments that keep Redis's ordering ([`pipeline`]), and how
//! multi-key commands are split across shards and their replies merged
//! ([`multikey`]).

pub mod slot;
