//! Network side: the per-executor listener ([`listener`]), the connection loop
//! that reads, parses, executes and writes ([`connection`]), and the shard's
//! background active-expiry task ([`expiry`]).

pub mod connection;
pub mod expiry;
pub mod listener;
