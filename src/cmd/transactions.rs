//! Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Declared here;
//! executed by the router's transaction coordinator (`route::txn`), since they
//! span shards and wait on locks.

use super::table::{flag::*, spec, CommandSpec, Exec, Global};

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    summary: &'static str,
    g: Global,
) -> CommandSpec {
    let since = if matches!(g, Global::Watch | Global::Unwatch) {
        "2.2.0"
    } else {
        "1.2.0"
    };
    let exec = Exec::Global(g);
    spec(
        "transactions",
        name,
        arity,
        flags,
        keys,
        acl,
        summary,
        since,
        exec,
    )
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        &["fast", "transaction"],
        "Start a transaction block",
        Global::Multi,
    ),
    cmd(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        (0, 0, 0),
        &["slow", "transaction"],
        "Execute all commands issued after MULTI",
        Global::Exec,
    ),
    cmd(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        &["fast", "transaction"],
        "Discard all commands issued after MULTI",
        Global::Discard,
    ),
    cmd(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (1, -1, 1),
        &["fast", "transaction"],
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        Global::Watch,
    ),
    cmd(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        &["fast", "transaction"],
        "Forget about all watched keys",
        Global::Unwatch,
    ),
];
