//! The runtime: the core state each executor owns ([`core`]; the executors
//! themselves are started by [`crate::server`]), the message types and batching of the
//! cross-core mesh ([`mesh`]) and the tasks on its channels ([`peers`]), two-shard steps forwarded from shard to
//! shard ([`forward`]), graceful shutdown ([`shutdown`]),
//! SIGHUP reload ([`reload`]), and big values' buffers and their lazy
//! freeing ([`bigbuf`]).

pub mod aof;
pub mod bigbuf;
pub mod blocked;
pub mod core;
pub mod files;
pub mod forward;
pub mod gather;
pub mod grants;
pub mod locks;
pub mod mesh;
pub mod notify;
pub mod peers;
pub mod reload;
pub mod shutdown;
pub mod snapshot;
pub mod systemd;
