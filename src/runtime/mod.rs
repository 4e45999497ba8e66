//! The runtime: one pinned glommio executor per shard ([`executor`]), the core
//! state each executor owns ([`core`]), the message types and batching of the
//! cross-core mesh ([`mesh`]), and graceful shutdown ([`shutdown`]).

pub mod core;
pub mod executor;
pub mod mesh;
pub mod shutdown;
