//! OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP, as Redis 7.0's
//! `objectCommand`.
//!
//! The lookups never touch the key's access clock (Redis's
//! `LOOKUP_NOTOUCH`) but count keyspace hits and misses; a missing key is a
//! null reply before any policy error. REFCOUNT reports Redis's shared
//! integers: 2147483647 (`OBJ_SHARED_REFCOUNT`) for an integer-encoded value
//! in 0..10000 while shared integers are in use (see
//! `Shard::shares_integers`), else 1.
//!
//! The container is declared with its key at position 2 so the router sends
//! it to the key's shard (Redis's `COMMAND INFO object` says 0 0 0; the
//! subcommands say 2 2 1, as here). `OBJECT HELP` has no key and runs on
//! the connection's own shard.

use super::super::command_docs::{find_subcommand, reply_help, unknown_subcommand};
use super::super::error::{CmdError, CmdResult};
use super::super::table::{flag::*, spec, CommandSpec, Exec};
use super::super::ExecCtx;
use crate::protocol::Args;
use crate::shard::entry::EntryRef;
use crate::shard::lru::{self, ClockPolicy};

const READ_SLOW: &[&str] = &["keyspace", "read", "slow"];

#[rustfmt::skip]
pub static SUBCOMMANDS: &[CommandSpec] = &[
    spec("generic", "object|encoding", 3, READONLY, (2, 2, 1), READ_SLOW, "Inspect the internal encoding of a Redis object", "2.2.3", Exec::Shard(encoding)),
    spec("generic", "object|freq", 3, READONLY, (2, 2, 1), READ_SLOW, "Get the logarithmic access frequency counter of a Redis object", "4.0.0", Exec::Shard(freq)),
    spec("generic", "object|idletime", 3, READONLY, (2, 2, 1), READ_SLOW, "Get the time since a Redis object was last accessed", "2.2.3", Exec::Shard(idletime)),
    spec("generic", "object|refcount", 3, READONLY, (2, 2, 1), READ_SLOW, "Get the number of references to the value of the key", "2.2.3", Exec::Shard(refcount)),
    spec("generic", "object|help", 2, LOADING | STALE, (0, 0, 0), &["keyspace", "slow"], "Show helpful text about the different subcommands", "6.2.0", Exec::Shard(help)),
];

/// The container's entry (declared in generic/mod.rs's table).
pub const OBJECT: CommandSpec = spec(
    "generic",
    "object",
    -2,
    0,
    (2, 2, 1),
    &["slow"],
    "A container for object introspection commands",
    "2.2.3",
    Exec::Shard(object),
)
.with_subcommands(SUBCOMMANDS);

/// `OBJECT <subcommand>`: Redis's arity and unknown-subcommand errors.
fn object(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let Some(sub) = find_subcommand(SUBCOMMANDS, args.get(1)) else {
        return Err(unknown_subcommand(args));
    };
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::WrongArity(sub.name.into()));
    }
    match sub.exec {
        Exec::Shard(handler) => handler(ctx, args),
        _ => Err(CmdError::Internal),
    }
}

/// Replies null when the key is absent; else runs `f` on it.
fn with_key(
    ctx: &mut ExecCtx,
    args: &Args,
    f: impl FnOnce(EntryRef<'_>, ClockPolicy, bool, u64) -> Result<Answer, CmdError>,
) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    let shard = &mut *ctx.shard;
    let (policy, shared) = (shard.clock_policy(), shard.shares_integers());
    let answer = match shard.peek_counted(db, args.get(2), now) {
        None => None,
        Some(e) => Some(f(e, policy, shared, now)?),
    };
    match answer {
        None => ctx.reply.null(),
        Some(Answer::Int(n)) => ctx.reply.int(n),
        Some(Answer::Text(s)) => ctx.reply.bulk(s.as_bytes()),
    }
    Ok(())
}

/// What a subcommand answers about an existing key.
enum Answer {
    Int(i64),
    Text(&'static str),
}

fn encoding(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    with_key(ctx, args, |e, _, _, _| Ok(Answer::Text(e.value.encoding())))
}

/// Redis's `OBJ_SHARED_REFCOUNT` (INT_MAX).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's `OBJ_SHARED_INTEGERS`.
const SHARED_INTEGERS: i64 = 10_000;

fn refcount(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    with_key(ctx, args, |e, _, shared, _| {
        let is_shared = shared
            && e.value
                .as_int()
                .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
        Ok(Answer::Int(if is_shared { SHARED_REFCOUNT } else { 1 }))
    })
}

fn idletime(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    with_key(ctx, args, |e, policy, _, now| {
        match policy {
        ClockPolicy::Lfu => Err(CmdError::Static(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )),
        ClockPolicy::Lru => Ok(Answer::Int(lru::idle_seconds(e.clock(), now) as i64)),
    }
    })
}

fn freq(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    with_key(ctx, args, |e, policy, _, now| {
        match policy {
        ClockPolicy::Lru => Err(CmdError::Static(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )),
        ClockPolicy::Lfu => Ok(Answer::Int(i64::from(lru::lfu_decayed(e.clock(), now)))),
    }
    })
}

fn help(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    reply_help(
        &mut ctx.reply,
        args,
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
