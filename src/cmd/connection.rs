//! Connection commands: PING, ECHO, SELECT, QUIT, HELLO, RESET, TXKEY, RTKEY.

use super::error::{CmdError, CmdResult};
use super::table::{flag::*, CommandSpec, Exec};
use super::{arg_i64, ConnCtx};
use crate::protocol::Args;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    acl: &'static [&'static str],
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
        group: "connection",
        summary,
        since,
        exec,
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd("ping", -1, FAST, &["fast", "connection"], "Returns the server's liveliness response.", "1.0.0", Exec::Conn(ping)),
    cmd("echo", 2, FAST, &["fast", "connection"], "Returns the given string.", "1.0.0", Exec::Conn(echo)),
    cmd("select", 2, LOADING | STALE | FAST, &["fast", "connection"], "Changes the selected database.", "1.0.0", Exec::Conn(select)),
    cmd("quit", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, &["fast", "connection"], "Closes the connection.", "1.0.0", Exec::Conn(quit)),
];

fn ping(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    match args.len() {
        1 => ctx.reply.simple("PONG"),
        2 => ctx.reply.bulk(args.get(1)),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    ctx.reply.bulk(args.get(1));
    Ok(())
}

fn select(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let db = arg_i64(args.get(1))?;
    if db < 0 || db as usize >= ctx.core.databases {
        return Err(CmdError::Static("ERR DB index is out of range"));
    }
    ctx.client.db = db as usize;
    ctx.reply.ok();
    Ok(())
}

fn quit(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.reply.ok();
    Ok(())
}
