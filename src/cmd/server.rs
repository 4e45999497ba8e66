//! Server commands. DBSIZE, FLUSHDB, FLUSHALL and SWAPDB declare how they
//! fan out to every shard and merge (cmd/fanout.rs, below); INFO and
//! SHUTDOWN are run by `route::global`; the rest run on the connection's
//! core: TIME, COMMAND
//! ([`command_docs`](super::command_docs)), CONFIG ([`config_cmd`](super::config_cmd)),
//! and ringkv's own VERSION, STATUS and HELP.
//!
//! Arity, flags and ACL categories are Redis 7.0's as `COMMAND INFO` shows them.

use super::client::CoreInfo;
use super::command_docs as docs;
use super::config_cmd as config;
use super::error::CmdError;
use super::error::CmdResult;
use super::fanout::{in_selected_db, ok_merge, sum_merge, Fan, FanEnv, FanOut, FanPart, FanPlan};
use super::ops::OpResult;
use super::table::{self, flag::*, spec, CommandSpec, Exec, Global, NO_KEYS};
use super::{eq_ic, ConnCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::Shard;

pub use super::info::InfoFacts;

const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];
const SLOW_CONN: &[&str] = &["slow", "connection"];
const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("server", "dbsize", 1, READONLY | FAST, NO_KEYS, &["keyspace", "read", "fast"], "Return the number of keys in the selected database", "1.0.0", Exec::FanOut(&DBSIZE)),
    spec("server", "flushdb", -1, WRITE, NO_KEYS, &["keyspace", "write", "slow", "dangerous"], "Remove all keys from the current database", "1.0.0", Exec::FanOut(&FLUSHDB)),
    spec("server", "swapdb", 3, WRITE | FAST, NO_KEYS, &["keyspace", "write", "fast", "dangerous"], "Swaps two Redis databases", "4.0.0", Exec::FanOut(&SWAPDB)),
    spec("server", "flushall", -1, WRITE, NO_KEYS, &["keyspace", "write", "slow", "dangerous"], "Remove all keys from all databases", "1.0.0", Exec::FanOut(&FLUSHALL)),
    spec("server", "info", -1, LOADING | STALE, NO_KEYS, &["slow", "dangerous"], "Get information and statistics about the server", "1.0.0", Exec::Global(Global::Info)),
    spec("server", "shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, NO_KEYS, ADMIN_ACL, "Synchronously save the dataset to disk and then shut down the server", "1.0.0", Exec::Global(Global::Shutdown)),
    spec("server", "save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, NO_KEYS, ADMIN_ACL, "Synchronously save the dataset to disk", "1.0.0", Exec::Global(Global::Save)),
    spec("server", "bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NO_KEYS, ADMIN_ACL, "Asynchronously save the dataset to disk", "1.0.0", Exec::Global(Global::BgSave)),
    spec("server", "lastsave", 1, LOADING | STALE | FAST, NO_KEYS, &["admin", "fast", "dangerous"], "Get the UNIX time stamp of the last successful save to disk", "1.0.0", Exec::Global(Global::LastSave)),
    spec("server", "bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NO_KEYS, ADMIN_ACL, "Asynchronously rewrite the append-only file", "1.0.0", Exec::Global(Global::BgRewriteAof)),
    spec("server", "time", 1, LOADING | STALE | FAST, NO_KEYS, &["fast"], "Return the current server time", "2.6.0", Exec::Conn(time)),
    spec("server", "command", -1, LOADING | STALE, NO_KEYS, SLOW_CONN, "Get array of Redis command details", "2.8.13", Exec::Conn(docs::command)).with_subcommands(COMMAND_SUBCOMMANDS),
    spec("server", "config", -2, 0, NO_KEYS, &["slow"], "A container for server configuration commands", "2.0.0", Exec::Global(Global::Config)).with_subcommands(CONFIG_SUBCOMMANDS),
    spec("server", "version", 1, LOADING | STALE | FAST, NO_KEYS, &["fast"], "Return ringkv's version (ringkv)", "0.1.0", Exec::Conn(version)),
    spec("server", "status", 1, LOADING | STALE, NO_KEYS, &["slow"], "Return a short status map: version, cores, uptime, clients (ringkv)", "0.1.0", Exec::Global(Global::Status)),
    spec("server", "help", 1, LOADING | STALE, NO_KEYS, &["slow"], "List every command with its arity and summary (ringkv)", "0.1.0", Exec::Conn(help)),
];

#[rustfmt::skip]
pub static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    spec("server", "command|count", 2, LOADING | STALE, NO_KEYS, SLOW_CONN, "Get total number of Redis commands", "2.8.13", Exec::Conn(docs::command_count)),
    spec("server", "command|docs", -2, LOADING | STALE, NO_KEYS, SLOW_CONN, "Get array of specific Redis command documentation", "7.0.0", Exec::Conn(docs::command_docs)),
    spec("server", "command|getkeys", -4, LOADING | STALE, NO_KEYS, SLOW_CONN, "Extract keys given a full Redis command", "2.8.13", Exec::Conn(docs::command_getkeys)),
    spec("server", "command|getkeysandflags", -4, LOADING | STALE, NO_KEYS, SLOW_CONN, "Extract keys and access flags given a full Redis command", "7.0.0", Exec::Conn(docs::command_getkeysandflags)),
    spec("server", "command|help", 2, LOADING | STALE, NO_KEYS, SLOW_CONN, "Show helpful text about the different subcommands", "5.0.0", Exec::Conn(docs::command_help)),
    spec("server", "command|info", -2, LOADING | STALE, NO_KEYS, SLOW_CONN, "Get array of specific Redis command details, or all when no argument is given.", "2.8.13", Exec::Conn(docs::command_info)),
    spec("server", "command|list", -2, LOADING | STALE, NO_KEYS, SLOW_CONN, "Get an array of Redis command names", "7.0.0", Exec::Conn(docs::command_list)),
];

#[rustfmt::skip]
pub static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    spec("server", "config|get", -3, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Get the values of configuration parameters", "2.0.0", Exec::Conn(config::config_get)),
    spec("server", "config|set", -4, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Set configuration parameters to the given values", "2.0.0", Exec::Conn(config::config_set)),
    spec("server", "config|resetstat", 2, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Reset the stats returned by INFO", "2.0.0", Exec::Conn(config::config_resetstat)),
    spec("server", "config|rewrite", 2, ADMIN_FLAGS, NO_KEYS, ADMIN_ACL, "Rewrite the configuration file with the in memory configuration", "2.8.0", Exec::Conn(config::config_rewrite)),
    spec("server", "config|help", 2, LOADING | STALE, NO_KEYS, &["slow"], "Show helpful text about the different subcommands", "5.0.0", Exec::Conn(config::config_help)),
];

/// DBSIZE: every shard's size of the db, added up.
pub static DBSIZE: FanOut = FanOut {
    fan: Fan::Every,
    plan: in_selected_db,
    part: dbsize_part,
    merge: sum_merge,
};

/// FLUSHDB: every shard empties the db, as one transaction.
pub static FLUSHDB: FanOut = FanOut {
    fan: Fan::EveryAtomic,
    plan: flush_plan,
    part: flushdb_part,
    merge: ok_merge,
};

/// FLUSHALL: every shard empties every db, as one transaction.
pub static FLUSHALL: FanOut = FanOut {
    fan: Fan::EveryAtomic,
    plan: flushall_plan,
    part: flushall_part,
    merge: ok_merge,
};

/// SWAPDB a b: every shard swaps the two dbs, as one transaction.
pub static SWAPDB: FanOut = FanOut {
    fan: Fan::EveryAtomic,
    plan: swapdb_plan,
    part: swapdb_part,
    merge: ok_merge,
};

fn dbsize_part(shard: &mut Shard, p: &FanPart) -> OpResult {
    OpResult::Int(shard.db(p.db).len() as i64)
}

/// FLUSHDB / FLUSHALL take one optional `SYNC` or `ASYNC`.
fn flush_plan(args: &Args, env: &FanEnv) -> Result<FanPlan, CmdError> {
    if args.len() > 2
        || (args.len() == 2 && !eq_ic(args.get(1), "sync") && !eq_ic(args.get(1), "async"))
    {
        return Err(CmdError::Syntax);
    }
    in_selected_db(args, env)
}

fn flushall_plan(args: &Args, env: &FanEnv) -> Result<FanPlan, CmdError> {
    flush_plan(args, env)?;
    Ok(FanPlan::default())
}

fn flushdb_part(shard: &mut Shard, p: &FanPart) -> OpResult {
    shard.flush_db(p.db);
    OpResult::Ok
}

fn flushall_part(shard: &mut Shard, _: &FanPart) -> OpResult {
    shard.flush_all();
    OpResult::Ok
}

/// SWAPDB's two db indexes, Redis's errors in Redis's order.
fn swapdb_dbs(args: &Args, databases: usize) -> Result<(usize, usize), CmdError> {
    let parse = |i: usize| super::arg_i64(args.get(i));
    let (a, b) = match (parse(1), parse(2)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(_), _) => return Err(CmdError::InvalidFirstDb),
        (_, Err(_)) => return Err(CmdError::InvalidSecondDb),
    };
    let dbs = databases as i64;
    if a < 0 || a >= dbs || b < 0 || b >= dbs {
        return Err(CmdError::DbOutOfRange);
    }
    Ok((a as usize, b as usize))
}

fn swapdb_plan(args: &Args, env: &FanEnv) -> Result<FanPlan, CmdError> {
    let (a, _) = swapdb_dbs(args, env.databases)?;
    Ok(FanPlan {
        db: a,
        ..FanPlan::default()
    })
}

fn swapdb_part(shard: &mut Shard, p: &FanPart) -> OpResult {
    let b = p
        .args
        .get(2)
        .and_then(|b| crate::protocol::parser::parse_i64(b))
        .and_then(|b| usize::try_from(b).ok());
    match b {
        Some(b) if b < shard.databases() => {
            shard.swap_db(p.db, b);
            OpResult::Ok
        }
        _ => OpResult::Err(CmdError::DbOutOfRange),
    }
}

/// `TIME`: [seconds, microseconds] as bulk strings, from the wall clock.
fn time(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.reply.array(2);
    ctx.reply.bulk_int(now.as_secs() as i64);
    ctx.reply.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

/// `VERSION`: ringkv's own version (HELLO and INFO report the Redis version
/// ringkv is compatible with).
fn version(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    ctx.reply.bulk(env!("CARGO_PKG_VERSION").as_bytes());
    Ok(())
}

/// The `STATUS` map: ringkv's version, the Redis version it presents, the
/// number of cores, the answering core, uptime in seconds and `clients`.
pub fn write_status(reply: &mut ReplyWriter, core: &CoreInfo, clients: u64) {
    reply.map(6);
    reply.bulk(b"version");
    reply.bulk(env!("CARGO_PKG_VERSION").as_bytes());
    reply.bulk(b"redis_version");
    reply.bulk(super::connection::REDIS_COMPAT_VERSION.as_bytes());
    reply.bulk(b"cores");
    reply.int(core.cores as i64);
    reply.bulk(b"core");
    reply.int(core.core as i64);
    reply.bulk(b"uptime_in_seconds");
    reply.int(core.started.elapsed().as_secs() as i64);
    reply.bulk(b"clients");
    reply.int(clients as i64);
}

/// `HELP`: one simple string per command of the table, `NAME arity summary`.
fn help(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    let lines: Vec<String> = table::all()
        .map(|c| format!("{} {} {}", c.name.to_ascii_uppercase(), c.arity, c.summary))
        .collect();
    ctx.reply.array(lines.len());
    for l in &lines {
        ctx.reply.simple(l);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cmd::client::{ClientState, CoreInfo};
    use crate::cmd::keygen::TxKeyGen;
    use crate::protocol::args::OwnedArgs;
    use crate::protocol::ReplyWriter;
    use crate::shard::Shard;
    use crate::slot::SlotTable;

    /// Runs a connection-level server command and returns the reply text.
    pub(crate) fn run_with(core: &CoreInfo, resp3: bool, parts: &[&str]) -> String {
        let args = OwnedArgs::from_parts(parts);
        let args = args.args();
        let spec = table::lookup(args.get(0)).expect("command");
        let mut client = ClientState::new(1, "a:1".into(), "l:1".into(), 5);
        client.resp3 = resp3;
        let mut shard = Shard::new(0, SlotTable::contiguous(1), 16);
        let txkeys = TxKeyGen::default();
        let mut out = Vec::new();
        let mut ctx = ConnCtx {
            client: &mut client,
            core,
            shard: &mut shard,
            txkeys: &txkeys,
            now_ms: 0,
            reply: ReplyWriter::new(&mut out, resp3),
        };
        let res = if !spec.arity_ok(args.len()) {
            Err(crate::cmd::CmdError::WrongArity(spec.name.into()))
        } else if let Exec::Conn(h) = spec.exec {
            h(&mut ctx, &args)
        } else {
            panic!("{} is not a connection command", spec.name)
        };
        if let Err(e) = res {
            ctx.reply.error(&e.to_string());
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn run(parts: &[&str]) -> String {
        run_with(&CoreInfo::for_tests(), false, parts)
    }

    #[test]
    fn redis_declarations() {
        // (name, arity, flags, acl) exactly as Redis 7.0.15's COMMAND INFO.
        let expect: &[(&str, i32, u32, &[&str])] = &[
            ("dbsize", 1, READONLY | FAST, &["keyspace", "read", "fast"]),
            (
                "keys",
                2,
                READONLY,
                &["keyspace", "read", "slow", "dangerous"],
            ),
            (
                "flushdb",
                -1,
                WRITE,
                &["keyspace", "write", "slow", "dangerous"],
            ),
            (
                "flushall",
                -1,
                WRITE,
                &["keyspace", "write", "slow", "dangerous"],
            ),
            ("info", -1, LOADING | STALE, &["slow", "dangerous"]),
            (
                "shutdown",
                -1,
                ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
                &["admin", "slow", "dangerous"],
            ),
            ("time", 1, LOADING | STALE | FAST, &["fast"]),
            ("command", -1, LOADING | STALE, &["slow", "connection"]),
            ("config", -2, 0, &["slow"]),
        ];
        for (name, arity, flags, acl) in expect {
            let c = table::lookup(name.as_bytes()).unwrap();
            assert_eq!((c.arity, c.flags, c.acl), (*arity, *flags, *acl), "{name}");
        }
    }

    #[test]
    fn time_version_help_status() {
        let t = run(&["time"]);
        assert!(t.starts_with("*2\r\n$10\r\n"), "{t}");
        assert_eq!(
            run(&["version"]),
            format!(
                "${}\r\n{}\r\n",
                env!("CARGO_PKG_VERSION").len(),
                env!("CARGO_PKG_VERSION")
            )
        );
        let h = run(&["help"]);
        assert!(h.starts_with(&format!("*{}\r\n", table::count())));
        assert!(h.contains("+GET 2 "), "{h}");
        let mut out = Vec::new();
        write_status(
            &mut ReplyWriter::new(&mut out, true),
            &CoreInfo::for_tests(),
            3,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("%6\r\n$7\r\nversion\r\n"), "{s}");
        assert!(s.contains("$5\r\ncores\r\n:1\r\n"));
        assert!(s.contains("$7\r\nclients\r\n:3\r\n"), "{s}");
    }

    #[test]
    fn command_subcommands() {
        assert_eq!(
            run(&["command", "count"]),
            format!(":{}\r\n", table::count())
        );
        assert_eq!(
            run(&["command", "count", "x"]),
            "-ERR wrong number of arguments for 'command|count' command\r\n"
        );
        assert_eq!(
            run(&["command", "foo"]),
            "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n"
        );
        assert!(run(&["command"]).starts_with(&format!("*{}\r\n*10\r\n", table::count())));
        assert_eq!(run(&["command", "info", "nope"]), "*1\r\n$-1\r\n");
        assert_eq!(
            run_with(&CoreInfo::for_tests(), true, &["command", "info", "nope"]),
            "*1\r\n_\r\n"
        );
        assert_eq!(run(&["command", "docs", "nope"]), "*0\r\n");
        assert_eq!(
            run(&["command", "docs", "config|get"]),
            "*2\r\n$10\r\nconfig|get\r\n*6\r\n$7\r\nsummary\r\n$42\r\nGet the values of configuration parameters\r\n$5\r\nsince\r\n$5\r\n2.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n"
        );
        assert_eq!(
            run(&["command", "getkeys", "mset", "a", "b", "c", "d"]),
            "*2\r\n$1\r\na\r\n$1\r\nc\r\n"
        );
        assert_eq!(
            run(&["command", "getkeys", "get"]),
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
        );
        assert_eq!(
            run(&["command", "getkeys", "nope", "a"]),
            "-ERR Invalid command specified\r\n"
        );
        assert_eq!(
            run(&["command", "getkeys", "mset", "a"]),
            "-ERR Invalid number of arguments specified for command\r\n"
        );
        assert_eq!(
            run(&["command", "getkeys", "client", "id"]),
            "-ERR The command has no key arguments\r\n"
        );
        assert_eq!(
            run(&["command", "getkeysandflags", "get", "a"]),
            "*1\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n"
        );
        assert_eq!(run(&["command", "list", "x"]), "-ERR syntax error\r\n");
        assert_eq!(
            run(&["command", "list", "filterby", "foo", "x"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&["command", "list", "filterby", "module", "x"]),
            "*0\r\n"
        );
        assert_eq!(
            run(&["command", "list", "filterby", "aclcat", "nope"]),
            "*0\r\n"
        );
        let l = run(&["command", "list", "filterby", "pattern", "CONFIG|*"]);
        assert!(l.starts_with("*5\r\n$10\r\nconfig|get\r\n"), "{l}");
        let l = run(&["command", "list", "filterby", "aclcat", "connection"]);
        assert!(
            l.contains("$7\r\ncommand\r\n")
                && l.contains("$9\r\nclient|id\r\n")
                && !l.contains("$6\r\nclient\r\n")
        );
        let help = run(&["command", "help"]);
        assert!(help.starts_with("*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+(no subcommand)\r\n"));
    }
}
