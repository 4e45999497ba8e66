//! Server settings with their documented defaults.
//!
//! Until the configuration issue lands (TOML file, environment, CONFIG SET),
//! settings come from the command line only; every default lives here.

use clap::Parser;

/// Default TCP port (Redis's).
pub const DEFAULT_PORT: u16 = 6379;
/// Default bind address.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Logical databases per server (Redis's `databases`).
pub const DEFAULT_DATABASES: usize = 16;
/// Largest bulk string accepted (Redis's `proto-max-bulk-len`, 512 MB).
pub const DEFAULT_PROTO_MAX_BULK_LEN: i64 = 512 * 1024 * 1024;
/// Largest query buffer of one client before it is closed (1 GB, as Redis).
pub const DEFAULT_CLIENT_QUERY_BUFFER_LIMIT: usize = 1024 * 1024 * 1024;
/// Largest number of connected clients.
pub const DEFAULT_MAXCLIENTS: usize = 10000;

/// ringkv's settings.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "ringkv",
    version,
    about = "A Redis-compatible, thread-per-core in-memory data store"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_BIND)]
    pub bind: String,
    /// TCP port to listen on.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Executors (one per CPU of the affinity mask by default). May exceed the
    /// CPU count; executors then share CPUs round-robin.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Number of logical databases.
    #[arg(long, default_value_t = DEFAULT_DATABASES)]
    pub databases: usize,
    /// Largest bulk string accepted, in bytes.
    #[arg(long = "proto-max-bulk-len", default_value_t = DEFAULT_PROTO_MAX_BULK_LEN)]
    pub proto_max_bulk_len: i64,
    /// Largest per-client query buffer, in bytes.
    #[arg(long = "client-query-buffer-limit", default_value_t = DEFAULT_CLIENT_QUERY_BUFFER_LIMIT)]
    pub client_query_buffer_limit: usize,
    /// Maximum connected clients.
    #[arg(long, default_value_t = DEFAULT_MAXCLIENTS)]
    pub maxclients: usize,
    /// Log level (error, warn, info, debug, trace); RUST_LOG overrides.
    #[arg(long, default_value = "info")]
    pub loglevel: String,
}

impl Config {
    /// The `CONFIG GET` view: every setting that exists, with Redis's names,
    /// plus the ones clients ask for at connect time (`save`, `appendonly`).
    pub fn as_pairs(&self, threads: usize) -> Vec<(&'static str, String)> {
        vec![
            ("bind", self.bind.clone()),
            ("port", self.port.to_string()),
            ("databases", self.databases.to_string()),
            ("proto-max-bulk-len", self.proto_max_bulk_len.to_string()),
            (
                "client-query-buffer-limit",
                self.client_query_buffer_limit.to_string(),
            ),
            ("maxclients", self.maxclients.to_string()),
            ("loglevel", self.loglevel.clone()),
            ("threads", threads.to_string()),
            ("io-threads", "1".to_string()),
            ("save", String::new()),
            ("appendonly", "no".to_string()),
            ("maxmemory", "0".to_string()),
            ("maxmemory-policy", "noeviction".to_string()),
            ("timeout", "0".to_string()),
            ("tcp-keepalive", "300".to_string()),
        ]
    }
}
