//! Functions: FUNCTION (LOAD DELETE FLUSH LIST DUMP RESTORE STATS KILL
//! HELP), FCALL and FCALL_RO, as Redis 7.0 has them.
//!
//! The libraries are server-wide (registry.rs), the same on every core.
//! FUNCTION's writes run on shard 0's core (`Fan::Server`, route/global.rs):
//! one core changes the registry, so changes never race, and shard 0's
//! journal records them as the commands received, so the AOF replays them
//! once; shard 0's snapshots hold the libraries (the `FUNCTION2` opcode
//! Redis 7.0 writes), and start-up loads them from any RDB file, a Redis
//! `dump.rdb` included. FUNCTION's reads run on the connection's core.
//!
//! FCALL and FCALL_RO run like EVAL (cmd/script/mod.rs): on the shard of
//! their declared keys, or with every shard locked; a function that
//! reaches beyond its declared keys is marked as a script is.

pub mod host;
pub mod library;
pub mod registry;

use super::command_docs::{reply_help, unknown_subcommand};
use super::error::{CmdError, CmdResult};
use super::fanout::{Fan, FanEnv, FanOut, FanPart, FanPlan};
use super::ops::OpResult;
use super::script::{self, busy, cache, Remote, Target};
use super::split::Split;
use super::table::{flag::*, spec, CommandSpec, Exec, NO_KEYS};
use super::{eq_ic, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::Shard;
use host::FunctionHost;
use registry::{Join, Library, FLAG_NAMES, NO_WRITES};
use std::sync::Arc;

const ACL: &[&str] = &["slow", "scripting"];
const WRITE_ACL: &[&str] = &["write", "slow", "scripting"];
const FCALL_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR;

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("scripting", "fcall", -3, FCALL_FLAGS, NO_KEYS, ACL, "Invoke a function", "7.0.0", Exec::MultiKey(fcall, Split::Script)).with_numkeys(2),
    spec("scripting", "fcall_ro", -3, READONLY | FCALL_FLAGS, NO_KEYS, ACL, "Invoke a read-only function", "7.0.0", Exec::MultiKey(fcall, Split::Script)).with_numkeys(2),
    spec("scripting", "function", -2, 0, NO_KEYS, &["slow"], "A container for function commands", "7.0.0", Exec::FanOut(&FUNCTION)).with_subcommands(FUNCTION_SUBCOMMANDS),
];

const FN: Exec = Exec::FanOut(&FUNCTION);

#[rustfmt::skip]
pub static FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    spec("scripting", "function|load", -3, WRITE | DENYOOM | NOSCRIPT, NO_KEYS, WRITE_ACL, "Create a function with the given arguments (name, code, description)", "7.0.0", FN),
    spec("scripting", "function|delete", 3, WRITE | NOSCRIPT, NO_KEYS, WRITE_ACL, "Delete a function by name", "7.0.0", FN),
    spec("scripting", "function|flush", -2, WRITE | NOSCRIPT, NO_KEYS, WRITE_ACL, "Deleting all functions", "7.0.0", FN),
    spec("scripting", "function|list", -2, NOSCRIPT, NO_KEYS, ACL, "List information about all the functions", "7.0.0", FN),
    spec("scripting", "function|dump", 2, NOSCRIPT, NO_KEYS, ACL, "Dump all functions into a serialized binary payload", "7.0.0", FN),
    spec("scripting", "function|restore", -3, WRITE | DENYOOM | NOSCRIPT, NO_KEYS, WRITE_ACL, "Restore all the functions on the given payload", "7.0.0", FN),
    spec("scripting", "function|stats", 2, NOSCRIPT | ALLOW_BUSY, NO_KEYS, ACL, "Return information about the function currently running (name, description, duration)", "7.0.0", FN),
    spec("scripting", "function|kill", 2, NOSCRIPT | ALLOW_BUSY, NO_KEYS, ACL, "Kill the function currently in execution.", "7.0.0", FN),
    spec("scripting", "function|help", 2, LOADING | STALE, NO_KEYS, ACL, "Show helpful text about the different subcommands", "7.0.0", FN),
];

/// FUNCTION: its writes on shard 0, its reads here (see the module doc).
pub static FUNCTION: FanOut = FanOut {
    fan: Fan::Server,
    plan: function_plan,
    part: function_part,
    merge: function_merge,
};

/// FUNCTION HELP's lines (Redis 7.0's).
const FUNCTION_HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

/// What a FUNCTION part answers (its merge writes it).
#[derive(Debug)]
pub enum Answer {
    Ok,
    /// FUNCTION LOAD: the library's name.
    Loaded(String),
    List {
        libraries: Vec<Arc<Library>>,
        with_code: bool,
    },
    Dump(Vec<u8>),
    Stats {
        libraries: usize,
        functions: usize,
    },
    Help(Vec<Vec<u8>>),
}

/// Checks the subcommand's argument count (the router checked only the
/// container's).
fn function_plan(args: &Args, env: &FanEnv) -> Result<FanPlan, CmdError> {
    let sub = args.get(1);
    let found = FUNCTION_SUBCOMMANDS
        .iter()
        .find(|s| eq_ic(sub, &s.name["function|".len()..]));
    match found {
        Some(s) if s.arity_ok(args.len()) => Ok(FanPlan {
            db: env.db,
            server_write: s.is_write(),
            ..FanPlan::default()
        }),
        Some(s) => Err(CmdError::WrongArity(s.name.to_string())),
        None => Err(unknown_subcommand(args)),
    }
}

fn function_part(shard: &mut Shard, p: &FanPart) -> OpResult {
    let args: Vec<&[u8]> = p.args.iter().map(|a| &a[..]).collect();
    match subcommand(&args) {
        Ok(answer) => {
            if matches!(answer, Answer::Ok | Answer::Loaded(_)) && is_write(&args) {
                // The change is journaled as the command received (on shard
                // 0, which alone runs FUNCTION's writes).
                shard.journaled(p.now_ms, |s| s.propagate(p.db, &args));
            }
            OpResult::Function(Box::new(answer))
        }
        Err(e) => OpResult::Err(e),
    }
}

/// Whether `args` is one of FUNCTION's writes.
fn is_write(args: &[&[u8]]) -> bool {
    ["load", "delete", "flush", "restore"]
        .iter()
        .any(|w| eq_ic(args[1], w))
}

fn err(text: String) -> CmdError {
    CmdError::Msg(format!("ERR {text}"))
}

fn subcommand(args: &[&[u8]]) -> Result<Answer, CmdError> {
    let sub = args[1];
    if eq_ic(sub, "load") {
        let mut replace = false;
        for opt in &args[2..args.len() - 1] {
            if !eq_ic(opt, "replace") {
                return Err(err(format!(
                    "Unknown option given: {}",
                    String::from_utf8_lossy(opt)
                )));
            }
            replace = true;
        }
        let lib = library::load(args[args.len() - 1], !replace).map_err(err)?;
        let name = lib.name.clone();
        let join = if replace { Join::Replace } else { Join::Append };
        registry::join(vec![lib], join, true).map_err(err)?;
        Ok(Answer::Loaded(name))
    } else if eq_ic(sub, "delete") {
        if !registry::delete(args[2]) {
            return Err(CmdError::Static("ERR Library not found"));
        }
        Ok(Answer::Ok)
    } else if eq_ic(sub, "flush") {
        match args.len() {
            2 => {}
            3 if eq_ic(args[2], "sync") || eq_ic(args[2], "async") => {}
            3 => {
                return Err(CmdError::Static(
                    "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                ))
            }
            _ => return Err(subcommand_syntax(args)),
        }
        registry::flush();
        Ok(Answer::Ok)
    } else if eq_ic(sub, "restore") {
        restore(args)
    } else if eq_ic(sub, "list") {
        list(args)
    } else if eq_ic(sub, "dump") {
        let codes = registry::codes();
        let codes: Vec<&[u8]> = codes.iter().map(|c| &c[..]).collect();
        let mut out = Vec::new();
        crate::persist::rdb::write::encode_functions_payload(&mut out, &codes);
        Ok(Answer::Dump(out))
    } else if eq_ic(sub, "stats") {
        // As Redis: not while a script (not a function) is timed out.
        if busy::busy_reply() == Some(busy::BUSY_EVAL) {
            return Err(CmdError::Static(busy::BUSY_EVAL));
        }
        let r = registry::current();
        Ok(Answer::Stats {
            libraries: r.libraries.len(),
            functions: r.function_count(),
        })
    } else if eq_ic(sub, "kill") {
        busy::kill(busy::Kind::Function).map(|()| Answer::Ok)
    } else {
        Ok(Answer::Help(args.iter().map(|a| a.to_vec()).collect()))
    }
}

/// Redis's `addReplySubcommandSyntaxError`.
fn subcommand_syntax(args: &[&[u8]]) -> CmdError {
    CmdError::SubcommandSyntax {
        sub: String::from_utf8_lossy(&args[1][..args[1].len().min(128)]).into_owned(),
        container: "FUNCTION".to_string(),
    }
}

fn restore(args: &[&[u8]]) -> Result<Answer, CmdError> {
    if args.len() > 4 {
        return Err(subcommand_syntax(args));
    }
    let join =
        match args.get(3) {
            None => Join::Append,
            Some(p) if eq_ic(p, "append") => Join::Append,
            Some(p) if eq_ic(p, "replace") => Join::Replace,
            Some(p) if eq_ic(p, "flush") => Join::Flush,
            Some(_) => return Err(CmdError::Static(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let codes = crate::persist::rdb::read::read_functions_payload(args[2])
        .map_err(|e| err(e.to_string()))?;
    let mut libraries: Vec<Library> = Vec::new();
    for code in codes {
        let lib = library::load(&code, false).map_err(err)?;
        if libraries.iter().any(|l| l.name == lib.name) {
            return Err(err(format!("Library '{}' already exists", lib.name)));
        }
        libraries.push(lib);
    }
    registry::join(libraries, join, false).map_err(err)?;
    Ok(Answer::Ok)
}

fn list(args: &[&[u8]]) -> Result<Answer, CmdError> {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if !with_code && eq_ic(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(a, "libraryname") {
            if i >= args.len() - 1 {
                return Err(CmdError::Static("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(args[i]);
        } else {
            return Err(err(format!(
                "Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let libraries = registry::current()
        .libraries
        .values()
        .filter(|l| pattern.is_none_or(|p| super::glob::glob_match(p, l.name.as_bytes(), true)))
        .cloned()
        .collect();
    Ok(Answer::List {
        libraries,
        with_code,
    })
}

fn function_merge(results: Vec<OpResult>, reply: &mut ReplyWriter) {
    let Some(OpResult::Function(answer)) = results.into_iter().next() else {
        reply.error(&CmdError::Internal.to_string());
        return;
    };
    match *answer {
        Answer::Ok => reply.ok(),
        Answer::Loaded(name) => reply.bulk(name.as_bytes()),
        Answer::Dump(payload) => reply.bulk(&payload),
        Answer::Stats {
            libraries,
            functions,
        } => {
            reply.map(2);
            reply.bulk(b"running_script");
            reply.null();
            reply.bulk(b"engines");
            reply.map(1);
            reply.bulk(b"LUA");
            reply.map(2);
            reply.bulk(b"libraries_count");
            reply.int(libraries as i64);
            reply.bulk(b"functions_count");
            reply.int(functions as i64);
        }
        Answer::List {
            libraries,
            with_code,
        } => {
            reply.array(libraries.len());
            for lib in libraries {
                reply.map(if with_code { 4 } else { 3 });
                reply.bulk(b"library_name");
                reply.bulk(lib.name.as_bytes());
                reply.bulk(b"engine");
                reply.bulk(b"LUA");
                reply.bulk(b"functions");
                reply.array(lib.functions.len());
                for f in &lib.functions {
                    reply.map(3);
                    reply.bulk(b"name");
                    reply.bulk(f.name.as_bytes());
                    reply.bulk(b"description");
                    match &f.description {
                        Some(d) => reply.bulk(d),
                        None => reply.null(),
                    }
                    reply.bulk(b"flags");
                    let names: Vec<&str> = FLAG_NAMES
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| f.flags & (1 << i) != 0)
                        .map(|(_, n)| *n)
                        .collect();
                    reply.set(names.len());
                    for n in names {
                        reply.simple(n);
                    }
                }
                if with_code {
                    reply.bulk(b"library_code");
                    reply.bulk(&lib.code);
                }
            }
        }
        Answer::Help(args) => {
            let owned = crate::protocol::args::OwnedArgs::from_parts(&args);
            reply_help(reply, &owned.args(), FUNCTION_HELP);
        }
    }
}

/// The key FCALL marks a function by when it reaches beyond its declared
/// keys (cmd/script/cache.rs, shared with scripts' SHAs).
pub fn cross_key(name: &[u8]) -> cache::Sha {
    let mut key = b"function\0".to_vec();
    key.extend_from_slice(name);
    cache::sha_of(&key)
}

fn fcall(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    fcall_in(ctx, args, None)
}

/// FCALL or FCALL_RO (by `args[0]`) on `ctx`'s shard; with `remote`, keys
/// of other shards are reached through it.
pub fn fcall_in(ctx: &mut ExecCtx, args: &Args, remote: Option<Remote>) -> CmdResult {
    let registry = registry::current();
    let name = args.get(1);
    let Some((lib, info)) = registry.function(name) else {
        return Err(CmdError::Static("ERR Function not found"));
    };
    if crate::protocol::parser::parse_i64(args.get(2)).is_none() {
        return Err(CmdError::Static("ERR Bad number of keys provided"));
    }
    let n = script::numkeys(args)?;
    let ro_command = args.get(0).len() > 5;
    if ro_command && info.flags & NO_WRITES == 0 {
        return Err(CmdError::Static(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let keys: Vec<&[u8]> = (3..3 + n).map(|i| args.get(i)).collect();
    let argv: Vec<&[u8]> = (3 + n..args.len()).map(|i| args.get(i)).collect();
    let target = Target {
        db: ctx.db,
        now_ms: ctx.now_ms,
        read_only: ro_command || info.flags & NO_WRITES != 0,
        remote,
        cross_key: cross_key(name),
    };
    let shard = &mut *ctx.shard;
    let _running = busy::start(busy::Kind::Function, shard.id());
    let outcome = FunctionHost::with(|h| {
        let f = h.function(lib, &info.name)?;
        h.host().run_function(
            f,
            info.name.as_bytes(),
            &keys,
            &argv,
            |lua, call_args, resp3| script::call_command(shard, &target, lua, call_args, resp3),
        )
    })?;
    script::write_outcome(ctx, outcome)
}
