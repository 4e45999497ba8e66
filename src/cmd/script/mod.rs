//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD,
//! EXISTS, FLUSH, KILL, HELP), with Redis 7.0's environment (host.rs, the
//! `bit` library in bit.rs, Redis's own `math.random` sequence), its
//! conversions (convert.rs) and its error texts.
//!
//! Where a script runs:
//! - declared keys (KEYS) all on one shard: on that shard, like any keyed
//!   command, with no hop and no lock. `redis.call` runs the command's
//!   handler right there, nested in the script's command: its writes are
//!   journaled as the commands they are (shard/durability.rs
//!   `nested_command`), several of them wrapped as one MULTI/EXEC, so a
//!   replay never applies half a script. The script never yields, so no
//!   other command sees part of it. A call on a key of another shard is
//!   refused, and the script is marked (cache.rs) to run as below from then on;
//! - declared keys on several shards, no declared keys, or a marked script
//!   (with more than one shard): on the connection's core with every shard
//!   locked (route/script.rs); a call on another shard's key runs there at
//!   once (remote.rs). Atomic and isolated, but every shard waits for it.
//!
//!
//! A script that runs past `busy-reply-threshold` makes every other client
//! get `-BUSY` until it ends or SCRIPT KILL stops it (busy.rs, with what
//! differs from Redis).
//!
//! Redis's other libraries: `cjson` (cjson.rs), `cmsgpack` (cmsgpack.rs) and
//! `struct` (structlib.rs), C closures over Rust (libcall.rs). Functions
//! (FUNCTION, FCALL) share this way of running (cmd/function).
//!
//! Not yet (issue 17): a command whose own keys span shards inside a script.

mod bit;
pub mod busy;
pub mod cache;
mod cjson;
mod cmsgpack;
pub mod convert;
pub mod host;
mod libcall;
pub mod remote;
mod structlib;

use super::command_docs::{reply_help, unknown_subcommand};
use super::error::{CmdError, CmdResult};
use super::split::Split;
use super::table::{self, flag::*, spec, CommandSpec, Exec, NO_KEYS};
use super::{eq_ic, ConnCtx, ExecCtx};
use crate::protocol::args::OwnedArgs;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::Shard;
use host::{CallOutcome, Host, Outcome};
use mlua::{Lua, MultiValue, Value};

const ACL: &[&str] = &["slow", "scripting"];
const EVAL_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR;

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("scripting", "eval", -3, EVAL_FLAGS, NO_KEYS, ACL, "Execute a Lua script server side", "2.6.0", Exec::MultiKey(eval, Split::Script)).with_numkeys(2),
    spec("scripting", "evalsha", -3, EVAL_FLAGS, NO_KEYS, ACL, "Execute a Lua script server side", "2.6.0", Exec::MultiKey(evalsha, Split::Script)).with_numkeys(2),
    spec("scripting", "eval_ro", -3, READONLY | EVAL_FLAGS, NO_KEYS, ACL, "Execute a read-only Lua script server side", "7.0.0", Exec::MultiKey(eval_ro, Split::Script)).with_numkeys(2),
    spec("scripting", "evalsha_ro", -3, READONLY | EVAL_FLAGS, NO_KEYS, ACL, "Execute a read-only Lua script server side", "7.0.0", Exec::MultiKey(evalsha_ro, Split::Script)).with_numkeys(2),
    spec("scripting", "script", -2, 0, NO_KEYS, &["slow"], "A container for Lua scripts management commands", "2.6.0", Exec::Conn(script)).with_subcommands(SCRIPT_SUBCOMMANDS),
];

#[rustfmt::skip]
pub static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    spec("scripting", "script|kill", 2, NOSCRIPT | ALLOW_BUSY, NO_KEYS, ACL, "Kill the script currently in execution.", "2.6.0", Exec::Conn(script)),
    spec("scripting", "script|exists", -3, NOSCRIPT, NO_KEYS, ACL, "Check existence of scripts in the script cache.", "2.6.0", Exec::Conn(script)),
    spec("scripting", "script|load", 3, NOSCRIPT | STALE, NO_KEYS, ACL, "Load the specified Lua script into the script cache.", "2.6.0", Exec::Conn(script)),
    spec("scripting", "script|help", 2, LOADING | STALE, NO_KEYS, ACL, "Show helpful text about the different subcommands", "5.0.0", Exec::Conn(script)),
    spec("scripting", "script|flush", -2, NOSCRIPT, NO_KEYS, ACL, "Remove all the scripts from the script cache.", "2.6.0", Exec::Conn(script)),
];

/// SCRIPT HELP's lines (Redis 7.0's, less DEBUG, which ringkv lacks).
const SCRIPT_HELP: &[&str] = &[
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

const NOSCRIPT_ERR: CmdError = CmdError::Static("NOSCRIPT No matching script. Please use EVAL.");

fn eval(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    eval_in(ctx, args, None)
}

fn evalsha(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    eval_in(ctx, args, None)
}

fn eval_ro(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    eval_in(ctx, args, None)
}

fn evalsha_ro(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    eval_in(ctx, args, None)
}

/// Runs a command on another shard for a script and returns its reply
/// (given by the router for a script that runs with every shard locked).
pub type Remote<'r> = &'r dyn Fn(usize, OwnedArgs, bool) -> Vec<u8>;

/// Whether a script invocation must run with every shard locked (with more
/// than one shard): it declares no keys, so it may touch any, or it is a
/// script seen touching a key of another shard than its declared ones.
pub fn reaches_keys(args: &Args) -> bool {
    if args.len() < 3 {
        return false;
    }
    if args.get(2) == b"0" {
        return true;
    }
    if !cache::any_cross() {
        return false;
    }
    if is_fcall(args) {
        return cache::is_cross(&super::function::cross_key(args.get(1)));
    }
    let (by_sha, _) = kind_of(args);
    let sha = if by_sha {
        cache::sha_arg(args.get(1))
    } else {
        Some(cache::sha_of(args.get(1)))
    };
    sha.is_some_and(|s| cache::is_cross(&s))
}

/// FCALL or FCALL_RO (which share the scripts' way of running).
fn is_fcall(args: &Args) -> bool {
    let name = args.get(0);
    name.len() >= 5 && eq_ic(&name[..5], "fcall")
}

/// (by SHA, read-only) for EVAL, EVALSHA, EVAL_RO and EVALSHA_RO.
fn kind_of(args: &Args) -> (bool, bool) {
    let name = args.get(0);
    let by_sha = name.len() >= 7 && eq_ic(&name[..7], "evalsha");
    let ro = name.len() > 3 && eq_ic(&name[name.len() - 3..], "_ro");
    (by_sha, ro)
}

/// EVAL, EVALSHA, EVAL_RO or EVALSHA_RO (by `args[0]`) on `ctx`'s shard;
/// with `remote`, keys of other shards are reached through it.
pub fn eval_in(ctx: &mut ExecCtx, args: &Args, remote: Option<Remote>) -> CmdResult {
    if is_fcall(args) {
        return super::function::fcall_in(ctx, args, remote);
    }
    let (by_sha, ro_command) = kind_of(args);
    eval_generic(ctx, args, by_sha, ro_command, remote)
}

/// The number of keys, checked as Redis checks it.
pub(crate) fn numkeys(args: &Args) -> Result<usize, CmdError> {
    let n = super::arg_i64(args.get(2))?;
    if n < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    if n as u64 > (args.len() - 3) as u64 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

fn eval_generic(
    ctx: &mut ExecCtx,
    args: &Args,
    by_sha: bool,
    ro_command: bool,
    remote: Option<Remote>,
) -> CmdResult {
    let n = numkeys(args)?;
    let keys: Vec<&[u8]> = (3..3 + n).map(|i| args.get(i)).collect();
    let argv: Vec<&[u8]> = (3 + n..args.len()).map(|i| args.get(i)).collect();
    let (db, now_ms) = (ctx.db, ctx.now_ms);
    let outcome = Host::with(|h| {
        let sha = if by_sha {
            let sha = cache::sha_arg(args.get(1)).ok_or(NOSCRIPT_ERR)?;
            if !h.knows(&sha)? {
                return Err(NOSCRIPT_ERR);
            }
            sha
        } else {
            let body = args.get(1);
            let sha = cache::sha_of(body);
            h.compile(sha, body)?;
            cache::insert(sha, body);
            sha
        };
        let flags = h.flags(&sha);
        if flags.shebang && !flags.no_writes && ro_command {
            return Err(CmdError::Static(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let read_only = ro_command || flags.no_writes;
        let shard = &mut *ctx.shard;
        let _running = busy::start(busy::Kind::Eval, shard.id());
        let target = Target {
            db,
            now_ms,
            read_only,
            remote,
            cross_key: sha,
        };
        h.run(&sha, &keys, &argv, |lua, call_args, resp3| {
            call_command(shard, &target, lua, call_args, resp3)
        })
    })?;
    write_outcome(ctx, outcome)
}

/// Writes how a script or function run ended as its reply.
pub(crate) fn write_outcome(ctx: &mut ExecCtx, outcome: Outcome) -> CmdResult {
    match outcome {
        Outcome::Value(v, script_resp3) => {
            convert::lua_to_reply(&v, script_resp3, &mut ctx.reply);
            Ok(())
        }
        Outcome::Error(msg) => Err(CmdError::Msg(msg)),
    }
}

/// A `redis.call`'s error outcome: `{err="ERR <msg>"}`, raised by
/// `redis.call`, returned by `redis.pcall`.
fn call_error(lua: &Lua, msg: &str) -> mlua::Result<CallOutcome> {
    let t = lua.create_table()?;
    t.raw_set("err", format!("ERR {msg}"))?;
    Ok((Value::Table(t), true))
}

/// Where a script's commands run and what they may do.
pub(crate) struct Target<'r> {
    pub db: usize,
    pub now_ms: u64,
    pub read_only: bool,
    pub remote: Option<Remote<'r>>,
    /// What marks the script (or function) as reaching beyond its declared
    /// keys (cache.rs `mark_cross`).
    pub cross_key: cache::Sha,
}

/// Runs one `redis.call` on `shard` as Redis's `scriptCall` does: the
/// arguments (strings, or numbers as Lua prints them), the command's
/// checks, then its handler, nested in the script's command; the reply
/// converted for Lua (RESP3 after `redis.setresp(3)`).
pub(crate) fn call_command(
    shard: &mut Shard,
    target: &Target,
    lua: &Lua,
    call_args: MultiValue,
    resp3: bool,
) -> mlua::Result<CallOutcome> {
    let (db, now_ms, read_only) = (target.db, target.now_ms, target.read_only);
    if call_args.is_empty() {
        return call_error(
            lua,
            "Please specify at least one argument for this redis lib call",
        );
    }
    let mut owned = OwnedArgs::new();
    for v in call_args.iter() {
        match v {
            Value::String(s) => owned.push(&s.as_bytes()),
            Value::Number(_) | Value::Integer(_) => match lua.coerce_string(v.clone())? {
                Some(s) => owned.push(&s.as_bytes()),
                None => {
                    return call_error(
                        lua,
                        "Lua redis lib command arguments must be strings or integers",
                    )
                }
            },
            _ => {
                return call_error(
                    lua,
                    "Lua redis lib command arguments must be strings or integers",
                )
            }
        }
    }
    let args = owned.args();
    let Some(spec) = table::lookup(args.get(0)) else {
        return call_error(lua, "Unknown Redis command called from script");
    };
    if !spec.arity_ok(args.len()) {
        return call_error(
            lua,
            "Wrong number of args calling Redis command from script",
        );
    }
    if spec.flags & NOSCRIPT != 0 {
        return call_error(lua, "This Redis command is not allowed from script");
    }
    if spec.is_write() && read_only {
        return call_error(
            lua,
            "Write commands are not allowed from read-only scripts.",
        );
    }
    let handler = match spec.exec {
        Exec::Shard(h) | Exec::MultiKey(h, _) => h,
        Exec::Blocking(_) => {
            return call_error(lua, "This Redis command is not allowed from script")
        }
        _ => {
            return call_error(
                lua,
                "This command is not supported inside scripts by ringkv yet",
            )
        }
    };
    if spec.is_write() && !busy::note_write() {
        // SCRIPT KILL came first: the script stops before it writes.
        let t = lua.create_table()?;
        t.raw_set("err", busy::KILLED)?;
        return Ok((Value::Table(t), true));
    }
    let me = shard.id();
    let slots = shard.slots();
    let mut owners = spec.key_indexes(&args).map(|k| slots.shard_of(args.get(k)));
    let owner = owners.next().unwrap_or(me);
    if owners.any(|s| s != owner) {
        return call_error(
            lua,
            "A command in a script whose keys live on several shards is not supported by ringkv yet",
        );
    }
    if owner != me {
        let Some(remote) = target.remote else {
            // From now on this script runs with every shard locked.
            cache::mark_cross(target.cross_key);
            return call_error(
                lua,
                "Script attempted to access a key of another shard than its declared keys; run it again (it will lock every shard)",
            );
        };
        let reply = remote(owner, owned, resp3);
        let (v, _) = convert::reply_to_lua(lua, &reply)?;
        return Ok((v, reply.first() == Some(&b'-')));
    }
    let script_itself = matches!(spec.exec, Exec::MultiKey(_, Split::Script));
    if slots.shards() > 1 && spec.reads_unnamed_keys(&args) && !script_itself {
        return call_error(
            lua,
            "This command's patterns may reach other shards; not supported inside scripts yet",
        );
    }
    if spec.is_write() {
        for k in spec.key_indexes(&args) {
            shard.snapshot_make_writable(db, args.get(k));
        }
    }
    let mut out = Vec::new();
    let argv: Vec<&[u8]> = args.iter_from(0).collect();
    shard.nested_command(db, &argv, |shard| {
        let mut inner = ExecCtx {
            shard,
            db,
            now_ms,
            reply: ReplyWriter::new(&mut out, resp3),
        };
        if let Err(e) = handler(&mut inner, &args) {
            inner.reply.error(&e.to_string());
        }
    });
    let (v, _) = convert::reply_to_lua(lua, &out)?;
    Ok((v, out.first() == Some(&b'-')))
}

fn script(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let sub = args.get(1);
    let arity_error = || {
        CmdError::WrongArity(format!(
            "script|{}",
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ))
    };
    if eq_ic(sub, "load") {
        if args.len() != 3 {
            return Err(arity_error());
        }
        let body = args.get(2);
        let sha = cache::sha_of(body);
        Host::with(|h| h.compile(sha, body))?;
        cache::insert(sha, body);
        ctx.reply.bulk(&sha);
    } else if eq_ic(sub, "exists") {
        if args.len() < 3 {
            return Err(arity_error());
        }
        ctx.reply.array(args.len() - 2);
        for i in 2..args.len() {
            let found = cache::sha_arg(args.get(i)).is_some_and(|s| cache::contains(&s));
            ctx.reply.int(i64::from(found));
        }
    } else if eq_ic(sub, "flush") {
        match args.len() {
            2 => {}
            3 if eq_ic(args.get(2), "sync") || eq_ic(args.get(2), "async") => {}
            _ => {
                return Err(CmdError::Static(
                    "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                ))
            }
        }
        cache::flush();
        ctx.reply.ok();
    } else if eq_ic(sub, "kill") {
        if args.len() != 2 {
            return Err(arity_error());
        }
        busy::kill(busy::Kind::Eval)?;
        ctx.reply.ok();
    } else if eq_ic(sub, "help") && args.len() == 2 {
        reply_help(&mut ctx.reply, args, SCRIPT_HELP);
    } else {
        return Err(unknown_subcommand(args));
    }
    Ok(())
}
