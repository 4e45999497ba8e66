//! The one table of settings: name, default, one-line doc, whether `CONFIG SET`
//! may change it at run time, and how a value is parsed, validated and shown.
//!
//! Everything that reads or writes a setting goes through [`PARAMS`]: the
//! defaults ([`Config::defaults`]), the TOML file, `--key value` flags,
//! `RINGKV_*` variables, `CONFIG GET/SET/REWRITE`, SIGHUP reload and the
//! documented `configs/ringkv.toml` (a unit test checks that file against this
//! table). Adding a setting = one field in [`Config`] + one entry here.
//!
//! Parse errors use Redis's texts (`argument couldn't be parsed into an
//! integer`, `argument must be between 0 and 2147483647 inclusive`, ...) so
//! `CONFIG SET` answers exactly as redis-server does.

use super::values::*;
use super::Config;

/// How a value is written in TOML (CONFIG REWRITE) and documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Bool,
    Str,
}

/// One setting.
pub struct Param {
    /// Redis's name (lower case, dashes); also the TOML key and `--flag`.
    pub name: &'static str,
    /// The default, in the same text form `set` accepts and `get` returns.
    pub default: &'static str,
    /// One line for `configs/ringkv.toml` and `--help`.
    pub doc: &'static str,
    /// `CONFIG SET` may change it while running (every core applies it).
    pub mutable: bool,
    pub kind: Kind,
    /// The current value as `CONFIG GET` shows it.
    pub get: fn(&Config) -> String,
    /// Parses and validates `value`, storing it; the error is Redis's text.
    pub set: fn(&mut Config, &str) -> Result<(), String>,
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({})", self.name)
    }
}

/// Looks a setting up by name or by one of its [`ALIASES`], case-insensitively.
pub fn find(name: &str) -> Option<&'static Param> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |&(_, canonical)| canonical);
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Old names Redis 7.0 still accepts, as (alias, setting): `CONFIG GET`
/// shows both, and the TOML file, flags and `CONFIG SET` take either.
pub static ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
];

/// Every setting ringkv knows, in the order `configs/ringkv.toml` lists them.
pub static PARAMS: &[Param] = &[
    // --- network ---
    Param {
        name: "bind",
        default: "127.0.0.1",
        doc: "Address to listen on for TCP clients.",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.bind.clone(),
        set: |c, v| {
            if v.split_whitespace().count() != 1 {
                return Err("ringkv binds exactly one address".into());
            }
            c.bind = v.trim().to_string();
            Ok(())
        },
    },
    Param {
        name: "port",
        default: "6379",
        doc: "TCP port to listen on.",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.port.to_string(),
        set: |c, v| {
            c.port = int(v, 0, 65535)? as u16;
            Ok(())
        },
    },
    Param {
        name: "unixsocket",
        default: "",
        doc: "Path of a Unix-domain socket to listen on too (empty: none).",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.unixsocket.clone(),
        set: |c, v| {
            c.unixsocket = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "unixsocketperm",
        default: "0",
        doc: "Permissions of the Unix socket, in octal (0: leave the umask's).",
        mutable: false,
        kind: Kind::Str,
        get: |c| format!("{:o}", c.unixsocketperm),
        set: |c, v| {
            let perm = u32::from_str_radix(v.trim(), 8)
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if perm > 0o777 {
                return Err("argument must be between 0 and 777 inclusive".into());
            }
            c.unixsocketperm = perm;
            Ok(())
        },
    },
    Param {
        name: "tcp-backlog",
        default: "511",
        doc: "Listen backlog of the TCP and Unix listeners (capped by net.core.somaxconn).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.tcp_backlog.to_string(),
        set: |c, v| {
            c.tcp_backlog = int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
    },
    Param {
        name: "tcp-keepalive",
        default: "300",
        doc: "Seconds between TCP keepalive probes on client sockets (0: off).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.tcp_keepalive.to_string(),
        set: |c, v| {
            c.tcp_keepalive = int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
    },
    Param {
        name: "timeout",
        default: "0",
        doc: "Close a client after this many idle seconds (0: never).",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.timeout.to_string(),
        set: |c, v| {
            c.timeout = int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
    },
    Param {
        name: "maxclients",
        default: "10000",
        doc: "Most clients connected at once; the next one gets an error.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.maxclients.to_string(),
        set: |c, v| {
            c.maxclients = int(v, 1, u32::MAX as i64)? as usize;
            Ok(())
        },
    },
    Param {
        name: "metrics-addr",
        default: "auto",
        doc: "Address of the Prometheus /metrics endpoint (auto: 127.0.0.1, port + 2742; empty: off).",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.metrics_addr.clone(),
        set: |c, v| {
            if !v.is_empty() && v != "auto" && v.parse::<std::net::SocketAddr>().is_err() {
                return Err("argument must be auto or an address like 127.0.0.1:9121".into());
            }
            c.metrics_addr = v.to_string();
            Ok(())
        },
    },
    // --- cores ---
    Param {
        name: "threads",
        default: "0",
        doc: "Executors, one shard each (0: one per CPU of `cpus`).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.threads.to_string(),
        set: |c, v| {
            c.threads = int(v, 0, 1024)? as usize;
            Ok(())
        },
    },
    Param {
        name: "cpus",
        default: "",
        doc: "CPUs to pin executors to, e.g. \"0-3,8\" (empty: the affinity mask).",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.cpus_text.clone(),
        set: |c, v| {
            c.cpus = parse_cpu_list(v)?;
            c.cpus_text = v.trim().to_string();
            Ok(())
        },
    },
    Param {
        name: "io-threads",
        default: "1",
        doc: "Accepted for redis.conf compatibility; ringkv uses `threads`.",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.io_threads.to_string(),
        set: |c, v| {
            c.io_threads = int(v, 1, 128)? as u32;
            Ok(())
        },
    },
    // --- keyspace and protocol ---
    Param {
        name: "databases",
        default: "16",
        doc: "Number of logical databases (SELECT 0..n-1).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.databases.to_string(),
        set: |c, v| {
            c.databases = int(v, 1, 65536)? as usize;
            Ok(())
        },
    },
    Param {
        name: "proto-max-bulk-len",
        default: "536870912",
        doc: "Largest bulk string a client may send, in bytes (512mb).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| {
            c.proto_max_bulk_len = memory(v, 1024 * 1024, i64::MAX)?;
            Ok(())
        },
    },
    Param {
        name: "client-query-buffer-limit",
        default: "1073741824",
        doc: "Largest unparsed input of one client before it is closed (1gb).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| {
            c.client_query_buffer_limit = memory(v, 1024 * 1024, i64::MAX)? as usize;
            Ok(())
        },
    },
    Param {
        name: "maxmemory",
        default: "0",
        doc: "Memory limit in bytes (0: none). Placeholder: not enforced yet.",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.maxmemory.to_string(),
        set: |c, v| {
            c.maxmemory = memory(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Param {
        name: "disable-thp",
        default: "yes",
        doc: "Turn transparent huge pages off for this process, as Redis does (faster first touch of new memory, smaller RSS).",
        mutable: false,
        kind: Kind::Bool,
        get: |c| yes_no(c.disable_thp),
        set: |c, v| {
            c.disable_thp = boolean(v)?;
            Ok(())
        },
    },
    Param {
        name: "maxmemory-policy",
        default: "noeviction",
        doc: "Eviction policy at maxmemory. Placeholder: not enforced yet.",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.maxmemory_policy.to_string(),
        set: |c, v| {
            c.maxmemory_policy = one_of(
                v,
                &[
                    "volatile-lru",
                    "volatile-lfu",
                    "volatile-random",
                    "volatile-ttl",
                    "allkeys-lru",
                    "allkeys-lfu",
                    "allkeys-random",
                    "noeviction",
                ],
            )?;
            Ok(())
        },
    },
    // --- encodings ---
    Param {
        name: "hash-max-listpack-entries",
        default: "512",
        doc: "Hashes with at most this many fields keep the compact (listpack) encoding.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.hash_max_listpack_entries.to_string(),
        set: |c, v| {
            c.hash_max_listpack_entries = int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Param {
        name: "hash-max-listpack-value",
        default: "64",
        doc: "Hashes whose fields and values are all at most this many bytes keep the compact (listpack) encoding.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.hash_max_listpack_value.to_string(),
        set: |c, v| {
            c.hash_max_listpack_value = int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Param {
        name: "zset-max-listpack-entries",
        default: "128",
        doc: "Sorted sets with at most this many members keep the compact (listpack) encoding.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.zset_max_listpack_entries.to_string(),
        set: |c, v| {
            c.zset_max_listpack_entries = int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Param {
        name: "zset-max-listpack-value",
        default: "64",
        doc: "Sorted sets whose members are all at most this many bytes keep the compact (listpack) encoding.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.zset_max_listpack_value.to_string(),
        set: |c, v| {
            c.zset_max_listpack_value = int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Param {
        name: "set-max-intset-entries",
        default: "512",
        doc: "Sets of at most this many integers keep the compact (intset) encoding.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.set_max_intset_entries.to_string(),
        set: |c, v| {
            c.set_max_intset_entries = int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Param {
        name: "list-max-listpack-size",
        default: "-2",
        doc: "A list node's cap: -1..-5 for 4, 8, 16, 32 or 64 KiB, a positive number for elements per node.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.list_max_listpack_size.to_string(),
        set: |c, v| {
            c.list_max_listpack_size = int(v, i32::MIN as i64, i32::MAX as i64)?;
            Ok(())
        },
    },
    Param {
        name: "list-compress-depth",
        default: "0",
        doc: "Nodes kept raw at each end of a list; every node between is LZF-compressed when that saves bytes (0: none). A list keeps the depth it was created with.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.list_compress_depth.to_string(),
        set: |c, v| {
            c.list_compress_depth = int(v, 0, i32::MAX as i64)?;
            Ok(())
        },
    },
    Param {
        name: "hll-sparse-max-bytes",
        default: "3000",
        doc: "A sparse HyperLogLog (header included) that would grow past this many bytes turns dense.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.hll_sparse_max_bytes.to_string(),
        set: |c, v| {
            c.hll_sparse_max_bytes = memory(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    // --- security ---
    Param {
        name: "requirepass",
        default: "",
        doc: "Password clients must AUTH with. Placeholder: not enforced yet.",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.requirepass.clone(),
        set: |c, v| {
            c.requirepass = v.to_string();
            Ok(())
        },
    },
    // --- logging and diagnostics ---
    Param {
        name: "loglevel",
        default: "notice",
        doc: "debug, verbose, notice or warning (Redis's names; also trace, info, warn, error).",
        mutable: true,
        kind: Kind::Str,
        get: |c| c.loglevel.to_string(),
        set: |c, v| {
            let v = v.to_ascii_lowercase();
            if super::logging::level_filter(&v).is_none() {
                return Err(
                    "argument(s) must be one of the following: debug, verbose, notice, warning"
                        .into(),
                );
            }
            c.loglevel = v;
            Ok(())
        },
    },
    Param {
        name: "logfile",
        default: "",
        doc: "File to log to (empty: standard error).",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.logfile.clone(),
        set: |c, v| {
            c.logfile = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "logfile-max-size",
        default: "0",
        doc: "Rotate the log file when it would grow past this many bytes (0: never).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.logfile_max_size.to_string(),
        set: |c, v| {
            c.logfile_max_size = memory(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Param {
        name: "logfile-keep",
        default: "5",
        doc: "Rotated log files to keep (logfile.1 is the newest).",
        mutable: false,
        kind: Kind::Int,
        get: |c| c.logfile_keep.to_string(),
        set: |c, v| {
            c.logfile_keep = int(v, 1, 1000)? as usize;
            Ok(())
        },
    },
    Param {
        name: "slowlog-log-slower-than",
        default: "10000",
        doc: "Log commands slower than this many microseconds in SLOWLOG (-1: off).",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.slowlog_log_slower_than.to_string(),
        set: |c, v| {
            c.slowlog_log_slower_than = int(v, -1, i64::MAX)?;
            Ok(())
        },
    },
    Param {
        name: "slowlog-max-len",
        default: "128",
        doc: "Entries SLOWLOG keeps.",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.slowlog_max_len.to_string(),
        set: |c, v| {
            c.slowlog_max_len = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Param {
        name: "busy-reply-threshold",
        default: "5000",
        doc: "Milliseconds a script may run before other clients get -BUSY and SCRIPT KILL may stop it (0: never).",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.busy_reply_threshold.to_string(),
        set: |c, v| {
            c.busy_reply_threshold = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    // --- persistence ---
    Param {
        name: "dir",
        default: ".",
        doc: "Directory for snapshot and append-only files.",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.dir.clone(),
        set: |c, v| {
            if v.is_empty() {
                return Err("directory must not be empty".into());
            }
            c.dir = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "save",
        default: "3600 1 300 100 60 10000",
        doc: "Snapshot rules \"<seconds> <changes> ...\": save when at least <changes> writes happened in the last <seconds> (empty: never).",
        mutable: true,
        kind: Kind::Str,
        get: |c| c.save.clone(),
        set: |c, v| {
            let parts: Vec<&str> = v.split_whitespace().collect();
            let numbers_ok = parts.iter().all(|p| p.parse::<u64>().is_ok());
            if parts.len() % 2 == 1 || !numbers_ok {
                return Err("Invalid save parameters".into());
            }
            c.save = parts.join(" ");
            Ok(())
        },
    },
    Param {
        name: "stop-writes-on-bgsave-error",
        default: "yes",
        doc: "Refuse writes (MISCONF) after a failed snapshot while save rules are set, until one succeeds.",
        mutable: true,
        kind: Kind::Bool,
        get: |c| yes_no(c.stop_writes_on_bgsave_error),
        set: |c, v| {
            c.stop_writes_on_bgsave_error = boolean(v)?;
            Ok(())
        },
    },
    Param {
        name: "appendonly",
        default: "no",
        doc: "Log every write to an append-only file (one per shard) and replay it at start.",
        mutable: false,
        kind: Kind::Bool,
        get: |c| yes_no(c.appendonly),
        set: |c, v| {
            c.appendonly = boolean(v)?;
            Ok(())
        },
    },
    Param {
        name: "appendfsync",
        default: "everysec",
        doc: "When the append-only file is fsynced: always (before each reply, group commit), everysec or no.",
        mutable: true,
        kind: Kind::Str,
        get: |c| c.appendfsync.to_string(),
        set: |c, v| {
            c.appendfsync = one_of(v, &["everysec", "always", "no"])?;
            Ok(())
        },
    },
    Param {
        name: "dbfilename",
        default: "dump.rdb",
        doc: "Snapshot file name: shard files are <dbfilename>.<gen>.s<shard>.rdb, named by <dbfilename>.manifest.",
        mutable: true,
        kind: Kind::Str,
        get: |c| c.dbfilename.clone(),
        set: |c, v| {
            crate::config::check_file_name(v)?;
            c.dbfilename = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "appenddirname",
        default: "appendonlydir",
        doc: "Directory (inside dir) of the append-only files.",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.appenddirname.clone(),
        set: |c, v| {
            crate::config::check_file_name(v)?;
            c.appenddirname = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "appendfilename",
        default: "appendonly.aof",
        doc: "Base name of the append-only files and their manifest.",
        mutable: false,
        kind: Kind::Str,
        get: |c| c.appendfilename.clone(),
        set: |c, v| {
            crate::config::check_file_name(v)?;
            c.appendfilename = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "auto-aof-rewrite-percentage",
        default: "100",
        doc: "Rewrite the AOF when it grew by this percentage over its size after the last rewrite (0: never).",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.auto_aof_rewrite_percentage.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_percentage = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Param {
        name: "auto-aof-rewrite-min-size",
        default: "67108864",
        doc: "No automatic AOF rewrite below this size (bytes; units like 64mb work).",
        mutable: true,
        kind: Kind::Int,
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_min_size = memory(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_round_trips() {
        let c = Config::defaults();
        for p in PARAMS {
            assert_eq!((p.get)(&c), p.default, "{}", p.name);
            let mut d = c.clone();
            (p.set)(&mut d, &(p.get)(&c)).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
        let mut names: Vec<_> = PARAMS.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PARAMS.len(), "duplicate setting");
    }

    #[test]
    fn redis_error_texts() {
        let mut c = Config::defaults();
        let set = |c: &mut Config, n: &str, v: &str| (find(n).unwrap().set)(c, v);
        assert_eq!(
            set(&mut c, "maxclients", "abc").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            set(&mut c, "maxclients", "-5").unwrap_err(),
            "argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            set(&mut c, "timeout", "-1").unwrap_err(),
            "argument must be between 0 and 2147483647 inclusive"
        );
        assert_eq!(
            set(&mut c, "save", "1").unwrap_err(),
            "Invalid save parameters"
        );
        assert_eq!(
            set(&mut c, "appendfsync", "x").unwrap_err(),
            "argument(s) must be one of the following: everysec, always, no"
        );
        assert_eq!(
            set(&mut c, "appendonly", "maybe").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(
            set(&mut c, "loglevel", "loud").unwrap_err(),
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert_eq!(
            set(&mut c, "slowlog-max-len", "-1").unwrap_err(),
            "argument must be between 0 and 9223372036854775807 inclusive"
        );
        set(&mut c, "save", " 3600 1  300 100 ").unwrap();
        assert_eq!(c.save, "3600 1 300 100");
        set(&mut c, "APPENDFSYNC", "ALWAYS").unwrap();
        assert_eq!(c.appendfsync, "always");
    }

    #[test]
    fn memory_units_and_cpu_lists() {
        assert_eq!(memory("512mb", 0, i64::MAX), Ok(512 << 20));
        assert_eq!(memory("1k", 0, i64::MAX), Ok(1000));
        assert_eq!(memory("1GB", 0, i64::MAX), Ok(1 << 30));
        assert_eq!(memory("77", 0, i64::MAX), Ok(77));
        assert!(memory("lots", 0, i64::MAX).is_err());
        assert_eq!(parse_cpu_list("0-2, 5,1"), Ok(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpu_list(""), Ok(vec![]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        let mut c = Config::defaults();
        (find("unixsocketperm").unwrap().set)(&mut c, "770").unwrap();
        assert_eq!(c.unixsocketperm, 0o770);
        assert!((find("unixsocketperm").unwrap().set)(&mut c, "999").is_err());
    }
}
