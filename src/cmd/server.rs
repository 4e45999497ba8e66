//! Server commands: DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL, INFO,
//! SHUTDOWN (fan-out, executed by `route::global`), and TIME, COMMAND, CONFIG.

use super::table::{flag::*, CommandSpec, Exec, Global};

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    acl: &'static [&'static str],
    group: &'static str,
    summary: &'static str,
    since: &'static str,
    exec: Exec,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        step: 0,
        acl,
        group,
        summary,
        since,
        exec,
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd("dbsize", 1, READONLY | FAST, &["keyspace", "read", "fast"], "server", "Returns the number of keys in the database.", "1.0.0", Exec::Global(Global::DbSize)),
    cmd("keys", 2, READONLY, &["keyspace", "read", "slow", "dangerous"], "generic", "Returns all key names that match a pattern.", "1.0.0", Exec::Global(Global::Keys)),
    cmd("scan", -2, READONLY, &["keyspace", "read", "slow"], "generic", "Iterates over the key names in the database.", "2.8.0", Exec::Global(Global::Scan)),
    cmd("randomkey", 1, READONLY, &["keyspace", "read", "slow"], "generic", "Returns a random key name from the database.", "1.0.0", Exec::Global(Global::RandomKey)),
    cmd("flushdb", -1, WRITE, &["keyspace", "write", "slow", "dangerous"], "server", "Removes all keys from the current database.", "1.0.0", Exec::Global(Global::FlushDb)),
    cmd("flushall", -1, WRITE, &["keyspace", "write", "slow", "dangerous"], "server", "Removes all keys from all databases.", "1.0.0", Exec::Global(Global::FlushAll)),
    cmd("info", -1, LOADING | STALE, &["slow", "dangerous"], "server", "Returns information and statistics about the server.", "1.0.0", Exec::Global(Global::Info)),
    cmd("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, &["admin", "slow", "dangerous"], "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0", Exec::Global(Global::Shutdown)),
];

/// Server-wide facts gathered from every core for `INFO` (summed by the router).
#[derive(Debug, Default, Clone)]
pub struct InfoFacts {
    pub connected_clients: u64,
    pub total_connections_received: u64,
    pub rejected_connections: u64,
    pub total_commands_processed: u64,
    pub total_error_replies: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Per database: (keys, keys with an expiry).
    pub keyspace: Vec<(usize, usize)>,
    /// Bytes of memory in use (RSS is fine until per-shard accounting lands).
    pub used_memory: u64,
}
