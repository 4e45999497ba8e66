//! Network side: the per-executor listeners ([`listener`]: TCP with
//! SO_REUSEPORT, and the Unix socket executor 0 accepts for all in [`unix`]),
//! the start-up check that the addresses are free ([`probe`]),
//! the connection loop that reads, parses, executes and writes, generic over
//! the stream type ([`connection`]), client limits (`maxclients`, `timeout`,
//! TCP keepalive: [`limits`]), and the shard's background active-expiry task
//! ([`expiry`]). A connection reads big arguments into their own buffers
//! ([`bigarg`]) and sizes its reads as Redis would ([`readsize`]).

pub mod bigarg;
pub mod connection;
pub mod expiry;
pub mod http;
pub mod limits;
pub mod listener;
pub mod probe;
pub mod prom;
pub mod readsize;
pub mod unix;
