//! Server settings: one table ([`params::PARAMS`]) drives the defaults, the
//! TOML file, the command line, the environment, `CONFIG GET/SET/REWRITE` and
//! SIGHUP reload.
//!
//! Precedence, lowest first: built-in defaults < the TOML file (`--config
//! PATH`, or a first argument naming it, as redis-server) < `--key value` flags
//! (as redis-server accepts them) < `RINGKV_KEY` environment variables
//! (`RINGKV_PORT`, `RINGKV_SLOWLOG_MAX_LEN`). Anything unknown or malformed is
//! a [`ConfigError`] naming the key and where it came from (file and line);
//! the binary prints it and exits with status 1.
//!
//! At run time each executor owns its own copy of the live [`Config`] (in
//! `CoreInfo::settings`); `CONFIG SET` and SIGHUP reach every core as a mesh
//! message, so no setting is ever read through a lock.
//!
//! Layout: [`params`] (the table), [`cli`] (argument parsing), [`mod@file`]
//! (TOML with line numbers), [`rewrite`] (CONFIG REWRITE), [`logging`]
//! (env_logger set-up and the rotating log file).

pub mod cli;
pub mod file;
pub mod logging;
pub mod params;
pub mod rewrite;
pub mod values;

use std::fmt;
use std::path::PathBuf;

pub use params::{Param, PARAMS};

/// Every setting, typed. Field docs live in [`PARAMS`].
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub bind: String,
    pub port: u16,
    pub unixsocket: String,
    pub unixsocketperm: u32,
    pub tcp_backlog: u32,
    pub tcp_keepalive: u32,
    pub timeout: u32,
    pub maxclients: usize,
    pub metrics_addr: String,
    /// 0 = one per CPU (main.rs replaces it with the count it starts).
    pub threads: usize,
    /// Parsed `cpus` (empty = the process's affinity mask).
    pub cpus: Vec<usize>,
    pub cpus_text: String,
    pub io_threads: u32,
    pub databases: usize,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: usize,
    pub maxmemory: u64,
    pub maxmemory_policy: &'static str,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: i64,
    pub hll_sparse_max_bytes: usize,
    pub disable_thp: bool,
    pub requirepass: String,
    pub loglevel: String,
    pub logfile: String,
    pub logfile_max_size: u64,
    pub logfile_keep: usize,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    /// Milliseconds before a running script makes others get -BUSY (0: never).
    pub busy_reply_threshold: u64,
    pub dir: String,
    pub save: String,
    pub stop_writes_on_bgsave_error: bool,
    pub appendonly: bool,
    pub appendfsync: &'static str,
    pub dbfilename: String,
    pub appenddirname: String,
    pub appendfilename: String,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    /// Where the settings came from, so SIGHUP can load them the same way.
    pub origin: Origin,
}

/// The sources a [`Config`] was built from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// Flags then environment variables, applied in this order over the file.
    pub overrides: Vec<Override>,
}

/// One setting given on the command line or in the environment.
#[derive(Debug, Clone)]
pub struct Override {
    pub param: &'static Param,
    pub value: String,
    /// `--port` or `RINGKV_PORT`, for error messages.
    pub source: String,
}

/// A setting that could not be accepted; the text names the key and where it
/// was given (`ringkv.toml:3: ...`, `--port`, `RINGKV_PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// What the command line asks for.
pub enum Start {
    Run(Box<Config>),
    Help,
    Version,
}

impl Config {
    /// Every setting at its documented default.
    pub fn defaults() -> Config {
        let mut c = Config::default();
        for p in PARAMS {
            if let Err(e) = (p.set)(&mut c, p.default) {
                unreachable!("default of {} does not parse: {e}", p.name);
            }
        }
        c
    }

    /// Builds the settings from the process's arguments (without `argv[0]`) and
    /// environment. Unknown `RINGKV_*` variables are returned as warnings (the
    /// test harness and the runtime use a few of their own).
    pub fn from_args_and_env(
        args: Vec<String>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Start, Vec<String>), ConfigError> {
        let parsed = cli::parse(args)?;
        if parsed.help {
            return Ok((Start::Help, Vec::new()));
        }
        if parsed.version {
            return Ok((Start::Version, Vec::new()));
        }
        let mut origin = Origin {
            file: parsed.file,
            overrides: parsed.flags,
        };
        let mut warnings = Vec::new();
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        env.sort();
        for (key, value) in env {
            let name = key[ENV_PREFIX.len()..]
                .to_ascii_lowercase()
                .replace('_', "-");
            match params::find(&name) {
                Some(param) => origin.overrides.push(Override {
                    param,
                    value,
                    source: key,
                }),
                None if INTERNAL_ENV.contains(&key.as_str()) => {}
                None => warnings.push(format!("ignoring {key}: no setting named '{name}'")),
            }
        }
        Ok((Start::Run(Box::new(load(&origin)?)), warnings))
    }

    /// Where the metrics endpoint listens: `metrics-addr`, or with `auto`
    /// (the default) 127.0.0.1 on the TCP port + [`METRICS_PORT_OFFSET`]
    /// (6379 -> 9121, the port redis_exporter uses), so several servers on
    /// one host each get their own; None when off (empty, or `auto` past
    /// port 65535).
    pub fn metrics_listen_addr(&self) -> Option<String> {
        match self.metrics_addr.trim() {
            "" => None,
            "auto" => {
                let port = u32::from(self.port) + METRICS_PORT_OFFSET;
                u16::try_from(port).ok().map(|p| format!("127.0.0.1:{p}"))
            }
            addr => Some(addr.to_string()),
        }
    }

    /// Whether `metrics-addr` names an address itself (not `auto` or off):
    /// then an address in use stops the server at start.
    pub fn metrics_addr_is_explicit(&self) -> bool {
        !matches!(self.metrics_addr.trim(), "" | "auto")
    }

    /// The value of a setting by name, as `CONFIG GET` shows it.
    pub fn get(&self, name: &str) -> Option<String> {
        params::find(name).map(|p| (p.get)(self))
    }
}

/// `metrics-addr auto` listens on the TCP port plus this (6379 -> 9121).
pub const METRICS_PORT_OFFSET: u32 = 2742;

/// Environment variables that override settings start with this.
pub const ENV_PREFIX: &str = "RINGKV_";
/// `RINGKV_*` variables that are not settings (runtime knobs, test harness).
const INTERNAL_ENV: &[&str] = &["RINGKV_PREEMPT_US", "RINGKV_BIN", "RINGKV_TEST_TARGET"];

/// Loads the settings from `origin`: defaults, then the file, then overrides.
/// SIGHUP calls this again to pick up an edited file.
pub fn load(origin: &Origin) -> Result<Config, ConfigError> {
    let mut cfg = Config::defaults();
    if let Some(path) = &origin.file {
        file::apply(&mut cfg, path)?;
    }
    for o in &origin.overrides {
        (o.param.set)(&mut cfg, &o.value).map_err(|why| {
            ConfigError(format!(
                "{}: bad value for '{}': {why}",
                o.source, o.param.name
            ))
        })?;
    }
    cfg.origin = origin.clone();
    Ok(cfg)
}

/// `--help` text, generated from the table.
pub fn help_text() -> String {
    let mut s = format!(
        "ringkv {} - a Redis-compatible, thread-per-core in-memory data store\n\n\
         Usage: ringkv [CONFIG.toml] [--config CONFIG.toml] [--<setting> <value>]...\n\n\
         Every setting may be given in the TOML file, as a flag, or as an environment\n\
         variable RINGKV_<SETTING> (dashes become underscores); later sources win:\n\
         file < flag < environment.\n\n\
         Options:\n  --config PATH   load settings from a TOML file\n  \
         -h, --help      print this help\n  -v, --version   print the version\n\n\
         Settings (default in brackets, * = CONFIG SET may change it):\n",
        env!("CARGO_PKG_VERSION")
    );
    for p in PARAMS {
        s.push_str(&format!(
            "  --{:<26}{} {} [{}]\n",
            p.name,
            if p.mutable { "*" } else { " " },
            p.doc,
            p.default
        ));
    }
    s
}

/// Checks that `name` is a plain file name a data file may have (manifests and `dbfilename`/`appendfilename` use it).
pub fn check_file_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && name.trim() == name
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if plain {
        Ok(())
    } else {
        Err(format!("invalid file name {name:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        match Config::from_args_and_env(args.iter().map(|s| s.to_string()).collect(), env)? {
            (Start::Run(c), _) => Ok(*c),
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn flags_then_env() {
        let c = run(
            &[
                "--port",
                "6380",
                "--appendonly",
                "yes",
                "--save",
                "900",
                "1",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            (c.port, c.appendonly, c.save.as_str()),
            (6380, true, "900 1")
        );
        let c = run(
            &["--port", "6380"],
            &[("RINGKV_PORT", "6390"), ("HOME", "/")],
        )
        .unwrap();
        assert_eq!(c.port, 6390);
        let c = run(&["--save", ""], &[("RINGKV_SLOWLOG_MAX_LEN", "7")]).unwrap();
        assert_eq!((c.save.as_str(), c.slowlog_max_len), ("", 7));
        assert_eq!(
            run(&[], &[("RINGKV_PORT", "x")]).unwrap_err().0,
            "RINGKV_PORT: bad value for 'port': argument couldn't be parsed into an integer"
        );
        assert_eq!(
            run(&["--port", "99999"], &[]).unwrap_err().0,
            "--port: bad value for 'port': argument must be between 0 and 65535 inclusive"
        );
    }

    #[test]
    fn unknown_env_is_a_warning() {
        let (_, warnings) = Config::from_args_and_env(
            vec![],
            [
                ("RINGKV_NOPE".to_string(), "1".to_string()),
                ("RINGKV_BIN".into(), "x".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            warnings,
            vec!["ignoring RINGKV_NOPE: no setting named 'nope'"]
        );
    }

    #[test]
    fn help_lists_every_setting() {
        let h = help_text();
        for p in PARAMS {
            assert!(h.contains(&format!("--{}", p.name)), "{}", p.name);
        }
    }
}
