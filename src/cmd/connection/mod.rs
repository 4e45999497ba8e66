//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET, CLIENT,
//! and ringkv's key generators TXKEY and RTKEY.
//!
//! Everything here touches only the calling connection's [`ClientState`] and
//! the read-only [`CoreInfo`](super::CoreInfo), except `CLIENT LIST`, which
//! needs every core's clients: the router gathers them and calls
//! [`client_list`]. No password is configured yet, so authentication behaves
//! as Redis with no `requirepass`: the `default` user accepts any password.

use super::client::{valid_client_attr, ClientState, ClientType};
use super::command_docs::{dispatch, reply_help};
use super::error::{CmdError, CmdResult};
use super::keygen;
use super::table::{flag::*, spec, CommandSpec, Exec, Global, NO_KEYS};
use super::{arg_i64, eq_ic, ConnCtx};
use crate::protocol::Args;

/// What HELLO and INFO call the server. Clients read `server`/`version` to
/// pick features, so ringkv presents itself as the Redis release whose
/// semantics it implements (the reference redis-server the tests compare
/// with); `VERSION` and `INFO`'s `ringkv_version` give ringkv's own version.
pub const REDIS_SERVER_NAME: &str = "redis";
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

const CONN_ACL: &[&str] = &["fast", "connection"];
const SLOW_CONN: &[&str] = &["slow", "connection"];
const ADMIN_CONN: &[&str] = &["admin", "slow", "dangerous", "connection"];
const ALWAYS: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("connection", "ping", -1, FAST, NO_KEYS, CONN_ACL, "Ping the server", "1.0.0", Exec::Conn(ping)),
    spec("connection", "echo", 2, LOADING | STALE | FAST, NO_KEYS, CONN_ACL, "Echo the given string", "1.0.0", Exec::Conn(echo)),
    spec("connection", "select", 2, LOADING | STALE | FAST, NO_KEYS, CONN_ACL, "Change the selected database for the current connection", "1.0.0", Exec::Conn(select)),
    spec("connection", "quit", -1, ALWAYS, NO_KEYS, CONN_ACL, "Close the connection", "1.0.0", Exec::Conn(quit)),
    spec("connection", "auth", -2, ALWAYS, NO_KEYS, CONN_ACL, "Authenticate to the server", "1.0.0", Exec::Conn(auth)),
    spec("connection", "hello", -1, ALWAYS, NO_KEYS, CONN_ACL, "Handshake with Redis", "6.0.0", Exec::Conn(hello)),
    spec("connection", "reset", 1, ALWAYS, NO_KEYS, CONN_ACL, "Reset the connection", "6.2.0", Exec::Conn(reset)),
    spec("connection", "client", -2, 0, NO_KEYS, &["slow"], "A container for client connection commands", "2.4.0", Exec::Global(Global::Client)).with_subcommands(CLIENT_SUBCOMMANDS),
    spec("connection", "txkey", 1, FAST, NO_KEYS, CONN_ACL, "Returns a new 12-character key that sorts by creation time and never repeats (ringkv)", "0.1.0", Exec::Conn(txkey)),
    spec("connection", "rtkey", 1, FAST, NO_KEYS, CONN_ACL, "Returns a new 16-character key of time and randomness, spread over all shards (ringkv)", "0.1.0", Exec::Conn(rtkey)),
];

const CLIENT_FLAGS: u32 = NOSCRIPT | LOADING | STALE;

/// CLIENT's subcommands (Redis 7.0's flags and ACL categories; SETINFO and
/// NO-TOUCH as Redis 7.2 declares them).
#[rustfmt::skip]
pub static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    spec("connection", "client|id", 2, CLIENT_FLAGS, NO_KEYS, SLOW_CONN, "Returns the client ID for the current connection", "5.0.0", Exec::Conn(client_id)),
    spec("connection", "client|info", 2, CLIENT_FLAGS, NO_KEYS, SLOW_CONN, "Returns information about the current client connection.", "6.2.0", Exec::Conn(client_info)),
    spec("connection", "client|list", -2, ADMIN | CLIENT_FLAGS, NO_KEYS, ADMIN_CONN, "Get the list of client connections", "2.4.0", Exec::Conn(client_list_local)),
    spec("connection", "client|setname", 3, CLIENT_FLAGS, NO_KEYS, SLOW_CONN, "Set the current connection name", "2.6.9", Exec::Conn(client_setname)),
    spec("connection", "client|getname", 2, CLIENT_FLAGS, NO_KEYS, SLOW_CONN, "Get the current connection name", "2.6.9", Exec::Conn(client_getname)),
    spec("connection", "client|setinfo", 4, CLIENT_FLAGS, NO_KEYS, SLOW_CONN, "Set client or connection specific info", "7.2.0", Exec::Conn(client_setinfo)),
    spec("connection", "client|no-evict", 3, ADMIN | CLIENT_FLAGS, NO_KEYS, ADMIN_CONN, "Set client eviction mode for the current connection", "7.0.0", Exec::Conn(client_no_evict)),
    spec("connection", "client|no-touch", 3, CLIENT_FLAGS, NO_KEYS, SLOW_CONN, "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.", "7.2.0", Exec::Conn(client_no_touch)),
    spec("connection", "client|unblock", -3, ADMIN | NOSCRIPT | LOADING | STALE, NO_KEYS, &["admin", "slow", "dangerous", "connection"], "Unblock a client blocked in a blocking command from a different connection", "5.0.0", Exec::Conn(client_unblock)),
    spec("connection", "client|help", 2, LOADING | STALE, NO_KEYS, SLOW_CONN, "Show helpful text about the different subcommands", "5.0.0", Exec::Conn(client_help)),
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
    // Redis reads the index with getIntFromObjectOrReply: an integer outside
    // i32 is its own error, distinct from "not an integer".
    let db = arg_i64(args.get(1))?;
    if db < i32::MIN as i64 || db > i32::MAX as i64 {
        return Err(CmdError::NotInt32);
    }
    if db < 0 || db as usize >= ctx.core.databases {
        return Err(CmdError::DbOutOfRange);
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

/// Checks a username/password pair against the users that exist: only
/// `default`, with no password (so any password is accepted).
fn authenticate(user: &[u8], _pass: &[u8]) -> CmdResult {
    if user == b"default" {
        Ok(())
    } else {
        Err(CmdError::WrongPass)
    }
}

/// `AUTH [username] password`, as Redis with no `requirepass`.
fn auth(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    match args.len() {
        2 => Err(CmdError::AuthWithoutPassword),
        3 => {
            authenticate(args.get(1), args.get(2))?;
            ctx.reply.ok();
            Ok(())
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
fn hello(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let mut ver = None;
    if args.len() >= 2 {
        let v = arg_i64(args.get(1)).map_err(|_| CmdError::ProtocolVersion)?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::NoProto);
        }
        ver = Some(v);
    }
    let mut auth = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if eq_ic(opt, "auth") && more >= 2 {
            auth = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if eq_ic(opt, "setname") && more >= 1 {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            return Err(CmdError::HelloOption(
                String::from_utf8_lossy(opt).into_owned(),
            ));
        }
    }
    if let Some((user, pass)) = auth {
        authenticate(user, pass)?;
    }
    if let Some(name) = name {
        set_name(ctx.client, name)?;
    }
    if let Some(v) = ver {
        ctx.client.resp3 = v == 3;
        ctx.reply.resp3 = ctx.client.resp3;
    }
    ctx.reply.map(7);
    ctx.reply.bulk(b"server");
    ctx.reply.bulk(REDIS_SERVER_NAME.as_bytes());
    ctx.reply.bulk(b"version");
    ctx.reply.bulk(REDIS_COMPAT_VERSION.as_bytes());
    ctx.reply.bulk(b"proto");
    ctx.reply.int(if ctx.client.resp3 { 3 } else { 2 });
    ctx.reply.bulk(b"id");
    ctx.reply.int(ctx.client.id as i64);
    ctx.reply.bulk(b"mode");
    ctx.reply.bulk(b"standalone");
    ctx.reply.bulk(b"role");
    ctx.reply.bulk(b"master");
    ctx.reply.bulk(b"modules");
    ctx.reply.array(0);
    Ok(())
}

/// `RESET`: DB 0, RESP2, no name (see [`ClientState::reset`]); the connection layer sees
/// `reset_requested` and drops MULTI state, WATCHes and subscriptions.
fn reset(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    ctx.client.reset();
    ctx.reply.resp3 = false;
    ctx.reply.simple("RESET");
    Ok(())
}

fn txkey(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    let key = ctx.txkeys.next(ctx.now_ms, ctx.core.core, ctx.core.cores);
    ctx.reply.bulk(&key);
    Ok(())
}

fn rtkey(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(ctx.now_ms * 1000);
    let key = keygen::rtkey(now_us, &mut rand::thread_rng());
    ctx.reply.bulk(&key);
    Ok(())
}

// ---- CLIENT ----------------------------------------------------------------

/// `CLIENT <subcommand>` for every subcommand. The router calls it for all
/// but `CLIENT LIST`, which it answers with [`client_list`] over every core's
/// clients; called for LIST anyway, this lists the calling client only.
pub fn client(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    dispatch(ctx, args, CLIENT_SUBCOMMANDS)
}

/// `CLIENT LIST [TYPE type | ID id...]` over `clients` (every core's, in
/// connection order): the text the router sends as a verbatim string.
/// Errors are Redis's: `ERR Unknown client type 'x'`, `ERR Invalid client
/// ID`, `ERR syntax error`. IDs are listed in the order asked, repeats kept.
pub fn client_list(clients: &[ClientState], args: &Args) -> Result<String, CmdError> {
    let mut out = String::new();
    let mut push = |c: &ClientState| {
        out.push_str(&c.info_line());
        out.push('\n');
    };
    if args.len() == 4 && eq_ic(args.get(2), "type") {
        let ty = ClientType::parse(args.get(3)).ok_or_else(|| {
            CmdError::UnknownClientType(String::from_utf8_lossy(args.get(3)).into_owned())
        })?;
        clients
            .iter()
            .filter(|c| c.client_type() == ty)
            .for_each(&mut push);
    } else if args.len() > 3 && eq_ic(args.get(2), "id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in args.iter_from(3) {
            ids.push(arg_i64(a).map_err(|_| CmdError::InvalidClientId)?);
        }
        for id in ids {
            if let Some(c) = clients.iter().find(|c| c.id as i64 == id) {
                push(c);
            }
        }
    } else if args.len() != 2 {
        return Err(CmdError::Syntax);
    } else {
        clients.iter().for_each(&mut push);
    }
    Ok(out)
}

fn client_list_local(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let text = client_list(std::slice::from_ref(&*ctx.client), args)?;
    ctx.reply.verbatim(text.as_bytes());
    Ok(())
}

fn client_id(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    ctx.reply.int(ctx.client.id as i64);
    Ok(())
}

fn client_info(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    let mut line = ctx.client.info_line();
    line.push('\n');
    ctx.reply.verbatim(line.as_bytes());
    Ok(())
}

/// Redis's `clientSetName`: empty clears the name; otherwise printable ASCII
/// without spaces.
fn set_name(client: &mut ClientState, name: &[u8]) -> CmdResult {
    if !valid_client_attr(name) {
        return Err(CmdError::BadClientName);
    }
    client.name = name.to_vec();
    Ok(())
}

fn client_setname(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    set_name(ctx.client, args.get(2))?;
    ctx.reply.ok();
    Ok(())
}

fn client_getname(ctx: &mut ConnCtx, _args: &Args) -> CmdResult {
    if ctx.client.name.is_empty() {
        ctx.reply.null();
    } else {
        ctx.reply.bulk(&ctx.client.name);
    }
    Ok(())
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value` (Redis 7.2).
fn client_setinfo(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    let (attr, value) = (args.get(2), args.get(3));
    let attr_text = String::from_utf8_lossy(attr);
    let slot = if eq_ic(attr, "lib-name") {
        &mut ctx.client.lib_name
    } else if eq_ic(attr, "lib-ver") {
        &mut ctx.client.lib_ver
    } else {
        return Err(CmdError::UnrecognizedOption(attr_text.to_string()));
    };
    if !valid_client_attr(value) {
        return Err(CmdError::BadClientAttr(attr_text.to_string()));
    }
    *slot = value.to_vec();
    ctx.reply.ok();
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if eq_ic(arg, "on") {
        Ok(true)
    } else if eq_ic(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn client_no_evict(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    ctx.client.no_evict = on_off(args.get(2))?;
    ctx.reply.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    ctx.client.no_touch = on_off(args.get(2))?;
    ctx.reply.ok();
    Ok(())
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: the client id and whether it gets
/// an error, checked as Redis 7.0 does.
pub fn parse_unblock(args: &Args) -> Result<(u64, bool), CmdError> {
    if args.len() > 4 {
        return Err(CmdError::SubcommandSyntax {
            sub: "unblock".into(),
            container: "CLIENT".into(),
        });
    }
    let id = arg_i64(args.get(2))?;
    let error = match args.len() {
        4 if eq_ic(args.get(3), "error") => true,
        4 if eq_ic(args.get(3), "timeout") => false,
        4 => {
            return Err(CmdError::Static(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
        _ => false,
    };
    Ok((id as u64, error))
}

/// The router answers CLIENT UNBLOCK (the client may be on any core,
/// route/global.rs); here only its arguments are checked.
fn client_unblock(_ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    parse_unblock(args)?;
    Err(CmdError::SubcommandElsewhere)
}

fn client_help(ctx: &mut ConnCtx, args: &Args) -> CmdResult {
    reply_help(
        &mut ctx.reply,
        args,
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests;
