//! The command table: every command declared once (name, arity, flags, key
//! positions, ACL categories, how it executes). Dispatch, arity checks, routing,
//! `COMMAND` and statistics all read this table.
//!
//! Arity follows Redis: `n > 0` means exactly n arguments (name included),
//! `n < 0` means at least -n. Key positions are (first, last, step) as in
//! `COMMAND INFO`; last = -1 means "up to the last argument".

use super::error::CmdResult;
use super::{ConnCtx, ExecCtx};
use crate::protocol::Args;
use hashbrown::HashMap;
use std::sync::OnceLock;

/// Command flags (a bit set), named as Redis's `COMMAND` reports them.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const ASKING: u32 = 1 << 11;
    pub const FAST: u32 = 1 << 12;
    pub const NO_AUTH: u32 = 1 << 13;
    pub const MAY_REPLICATE: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;
    pub const NO_ASYNC_LOADING: u32 = 1 << 17;
    /// Keys found by parsing arguments (a key count), not by position alone.
    pub const MOVABLEKEYS: u32 = 1 << 18;

    /// (bit, name) in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MULTI, "no_multi"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// A handler that runs on the shard owning the command's keys.
pub type ShardHandler = fn(&mut ExecCtx, &Args) -> CmdResult;
/// A handler that runs on the connection's own core and touches no keys.
pub type ConnHandler = fn(&mut ConnCtx, &Args) -> CmdResult;

pub use super::fanout::FanOut;
pub use super::split::Split;

/// Server-wide commands the router runs itself (every core's state,
/// transactions, persistence, shutdown). Keyspace-wide commands are not
/// here: they declare their fan-out ([`Exec::FanOut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    Info,
    Shutdown,
    /// CLIENT (LIST gathers every core's clients; the rest is connection-local).
    Client,
    /// STATUS (needs the client count of every core).
    Status,
    /// CONFIG (SET and RESETSTAT reach every core; route::config).
    Config,
    /// MULTI / EXEC / DISCARD / WATCH / UNWATCH (route::txn).
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    /// SLOWLOG / LATENCY / MONITOR (every core's logs; metrics::commands).
    Slowlog,
    Latency,
    Monitor,
    /// MEMORY (USAGE on the key's shard, STATS/DOCTOR from every shard;
    /// route::memory).
    Memory,
    /// SAVE / BGSAVE / LASTSAVE / BGREWRITEAOF (route::persist).
    Save,
    BgSave,
    LastSave,
    BgRewriteAof,
}

/// Where and how a command executes.
#[derive(Clone, Copy)]
pub enum Exec {
    /// Keyed command: runs on the one shard owning its keys.
    Shard(ShardHandler),
    /// Multi-key command: on one shard when its keys share one, else split
    /// as its [`Split`] declares (cmd/split.rs).
    MultiKey(ShardHandler, Split),
    /// Connection-level command (no keys).
    Conn(ConnHandler),
    /// Keyspace-wide command: per-shard parts and their merge (cmd/fanout.rs).
    FanOut(&'static FanOut),
    /// Server-wide command run by the router.
    Global(Global),
    /// A command that may wait for its keys (cmd/blocking.rs, route/blocking.rs).
    Blocking(&'static super::blocking::BlockSpec),
}

/// One command's declaration.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// Where a key count stands (Redis's `keynum` key spec: the count, then
    /// that many keys, as SINTERCARD's `numkeys key…`); 0 when none.
    pub numkeys_at: usize,
    /// ACL categories without the `@`.
    pub acl: &'static [&'static str],
    /// Command group for `COMMAND DOCS` (string, generic, connection, server).
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub exec: Exec,
    /// A container's subcommands (`client|list`, ...), declared with it
    /// ([`CommandSpec::with_subcommands`]); empty for plain commands.
    pub subcommands: &'static [CommandSpec],
    /// A key named by a keyword (GEORADIUS's `STORE key`), declared with
    /// [`CommandSpec::with_keyword_key`]; None for most commands.
    pub keyword_key: Option<&'static KeywordKey>,
}

/// A key that follows a keyword among the options (GEORADIUS's `STORE
/// key` and `STOREDIST key`): the `keyword` key specs `COMMAND INFO`
/// reports, and how an invocation's key is found.
pub struct KeywordKey {
    /// The keywords, as `COMMAND INFO` spells them.
    pub keywords: &'static [&'static str],
    /// Where the search for them starts (`startfrom`).
    pub startfrom: i32,
    /// The key argument this invocation names, read as the command reads
    /// its options (the last such keyword wins), if any.
    pub find: fn(&Args) -> Option<usize>,
    /// When not empty, `COMMAND INFO` reports these key specs, of Redis's
    /// `unknown` kind, instead of one per keyword: (notes, flags). SORT's
    /// keys can be anywhere among its options or come from its data.
    pub unknown_specs: &'static [(&'static str, &'static [&'static str])],
}

/// No key arguments.
pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);

/// Builds one table entry: the one constructor every group file uses.
/// `keys` is (first, last, step) as in `COMMAND INFO`.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    group: &'static str,
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
    exec: Exec,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        numkeys_at: 0,
        acl,
        group,
        summary,
        since,
        exec,
        subcommands: &[],
        keyword_key: None,
    }
}

impl CommandSpec {
    /// This entry as a container of `subs` (COMMAND INFO/DOCS list them and
    /// dispatch resolves `container|sub` through them).
    pub const fn with_subcommands(self, subs: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec {
            subcommands: subs,
            ..self
        }
    }

    /// This entry with a key named by a keyword among its options
    /// (`movablekeys`).
    pub const fn with_keyword_key(self, k: &'static KeywordKey) -> CommandSpec {
        CommandSpec {
            keyword_key: Some(k),
            flags: self.flags | flag::MOVABLEKEYS,
            ..self
        }
    }

    /// This entry with a key count at argument `at`, followed by that many
    /// keys (besides any keys its positions name): `movablekeys`.
    pub const fn with_numkeys(self, at: usize) -> CommandSpec {
        CommandSpec {
            numkeys_at: at,
            flags: self.flags | flag::MOVABLEKEYS,
            ..self
        }
    }
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommandSpec({})", self.name)
    }
}

impl CommandSpec {
    /// How this command splits across shards, if it is a multi-key command.
    pub fn split(&self) -> Option<Split> {
        match self.exec {
            Exec::MultiKey(_, split) => Some(split),
            _ => None,
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags & flag::WRITE != 0
    }

    /// True when the command only reads (may be reordered with other reads).
    pub fn is_readonly(&self) -> bool {
        self.flags & flag::WRITE == 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// Indexes of the key arguments of this invocation: the positional
    /// ones, then those its key count names, then its keyword's key. A
    /// count that is not a number from 0 to the arguments left names none
    /// (the handler refuses it).
    pub fn key_indexes(&self, args: &Args) -> impl Iterator<Item = usize> {
        let counted = match self.numkeys_at {
            0 => 0..0,
            at => {
                let first = at + 1;
                match args.len().checked_sub(first).zip(
                    (at < args.len())
                        .then(|| crate::protocol::parser::parse_i64(args.get(at)))
                        .flatten(),
                ) {
                    Some((left, n)) if n >= 0 && n as u64 <= left as u64 => {
                        first..first + n as usize
                    }
                    _ => 0..0,
                }
            }
        };
        let keyword = self.keyword_key.and_then(|k| (k.find)(args));
        self.positional_keys(args.len())
            .chain(counted)
            .chain(keyword)
    }

    /// Whether this invocation reads keys that none of its arguments names
    /// (SORT's `BY`/`GET` patterns, a script's undeclared keys): they may
    /// be on any shard, so it never
    /// runs on one shard alone when there are several.
    pub fn reads_unnamed_keys(&self, args: &Args) -> bool {
        match self.exec {
            Exec::MultiKey(_, Split::Sort) => super::sort::reaches_keys(args),
            Exec::MultiKey(_, Split::Script) => super::script::reaches_keys(args),
            _ => false,
        }
    }

    /// Indexes of the keys (first, last, step) name in `argc` arguments.
    fn positional_keys(&self, argc: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        let argc = argc as i32;
        let (first, step) = (self.first_key, self.step.max(1));
        let last = if self.last_key < 0 {
            argc + self.last_key
        } else {
            self.last_key.min(argc - 1)
        };
        // No keys: an empty range (first > 0 guarantees a non-negative start).
        let (start, end) = if first > 0 && first <= last {
            (first, last + 1)
        } else {
            (1, 1)
        };
        (start as usize..end as usize).step_by(step as usize)
    }
}

fn all_groups() -> impl Iterator<Item = &'static CommandSpec> {
    super::string::COMMANDS
        .iter()
        .chain(super::hash::COMMANDS)
        .chain(super::set::COMMANDS)
        .chain(super::list::COMMANDS)
        .chain(super::zset::COMMANDS)
        .chain(super::generic::COMMANDS)
        .chain(super::connection::COMMANDS)
        .chain(super::server::COMMANDS)
        .chain(super::transactions::COMMANDS)
        .chain(super::observability::COMMANDS)
        .chain(super::memory::COMMANDS)
        .chain(super::geo::COMMANDS)
        .chain(super::sort::COMMANDS)
        .chain(super::script::COMMANDS)
        .chain(super::function::COMMANDS)
        .chain(super::bitmap::COMMANDS)
        .chain(super::hll::COMMANDS)
}

fn index() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    INDEX.get_or_init(|| all_groups().map(|c| (c.name, c)).collect())
}

/// Every command, in table order.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    all_groups()
}

/// Number of commands.
pub fn count() -> usize {
    index().len()
}

/// Case-insensitive lookup.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
    index().get(lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_invariants() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert!(seen.insert(c.name), "duplicate command {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.arity != 0, "{}", c.name);
            assert!(
                (c.flags & flag::WRITE == 0) || (c.flags & flag::READONLY == 0),
                "{} is both write and readonly",
                c.name
            );
            if let Exec::Shard(_) | Exec::MultiKey(..) = c.exec {
                assert!(
                    c.first_key > 0 || c.numkeys_at > 0,
                    "{} runs on a shard but has no key",
                    c.name
                );
            }
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nope").is_none());
    }

    /// Containers declare their subcommands in the table: each named
    /// `container|sub`, none of them a container itself.
    #[test]
    fn subcommands_are_declared_with_their_container() {
        let containers: Vec<&str> = all()
            .filter(|c| !c.subcommands.is_empty())
            .map(|c| c.name)
            .collect();
        for name in ["client", "command", "config", "slowlog", "latency"] {
            assert!(containers.contains(&name), "{name}: {containers:?}");
        }
        for c in all() {
            for sub in c.subcommands {
                let prefix = format!("{}|", c.name);
                assert!(sub.name.starts_with(&prefix), "{} in {}", sub.name, c.name);
                assert!(sub.subcommands.is_empty(), "{}", sub.name);
            }
        }
    }

    fn keys_of(cmd: &str) -> Vec<usize> {
        let owned = crate::protocol::args::OwnedArgs::from_parts(cmd.split(' '));
        let args = owned.args();
        let spec = lookup(args.get(0)).unwrap();
        spec.key_indexes(&args).collect()
    }

    #[test]
    fn key_positions() {
        assert_eq!(keys_of("mset a 1 b 2"), vec![1, 3]);
        assert_eq!(keys_of("del a b c"), vec![1, 2, 3]);
        assert_eq!(keys_of("get a"), vec![1]);
    }

    #[test]
    fn key_counts() {
        assert_eq!(keys_of("sintercard 2 a b"), vec![2, 3]);
        assert_eq!(keys_of("sintercard 1 a LIMIT 5"), vec![2]);
        // A count that is no count, negative or past the end names no key.
        for bad in ["sintercard x a", "sintercard -1 a", "sintercard 3 a b"] {
            assert_eq!(keys_of(bad), Vec::<usize>::new(), "{bad}");
        }
        assert_eq!(keys_of("sintercard 0 a"), Vec::<usize>::new());
        assert!(lookup(b"sintercard").unwrap().flags & flag::MOVABLEKEYS != 0);
    }
}
