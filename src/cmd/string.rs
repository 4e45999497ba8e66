//! String commands: GET, SET and friends.

use super::error::{CmdError, CmdResult};
use super::table::{flag::*, CommandSpec, Exec, Split};
use super::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::Args;
use crate::shard::value::Value;

const fn cmd(
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
        acl,
        group: "string",
        summary,
        since,
        exec,
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, READONLY | FAST, (1, 1, 1), &["read", "string", "fast"], "Returns the string value of a key.", "1.0.0", Exec::Shard(get)),
    cmd("set", -3, WRITE | DENYOOM, (1, 1, 1), &["write", "string", "slow"], "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", Exec::Shard(set)),
    cmd("mget", -2, READONLY | FAST, (1, -1, 1), &["read", "string", "fast"], "Atomically returns the string values of one or more keys.", "1.0.0", Exec::MultiKey(mget, Split::MGet)),
    cmd("mset", -3, WRITE | DENYOOM, (1, -1, 2), &["write", "string", "slow"], "Atomically creates or modifies the string values of one or more keys.", "1.0.1", Exec::MultiKey(mset, Split::MSet)),
];

/// Writes a string value as a bulk reply.
pub fn reply_value(ctx: &mut ExecCtx, value: &Value) {
    match value {
        Value::Bytes(b) => ctx.reply.bulk(b),
        Value::Int(n) => ctx.reply.bulk_int(*n),
    }
}

fn get(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    match ctx.shard.get_counted(ctx.db, args.get(1), ctx.now_ms) {
        None => ctx.reply.null(),
        Some(e) if !e.value.is_string() => return Err(CmdError::WrongType),
        Some(e) => {
            let v = &e.value;
            match v {
                Value::Bytes(b) => ctx.reply.bulk(b),
                Value::Int(n) => ctx.reply.bulk_int(*n),
            }
        }
    }
    Ok(())
}

/// Parsed SET options.
#[derive(Default)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Absolute expiry in ms, if any.
    expire_at: Option<u64>,
}

fn parse_set_options(args: &Args, now_ms: u64) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions::default();
    let mut seen_expire = false;
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        let has_next = i + 1 < args.len();
        if eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if eq_ic(a, "get") {
            o.get = true;
        } else if eq_ic(a, "keepttl") && !seen_expire {
            o.keepttl = true;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && !o.keepttl
            && !seen_expire
            && has_next
        {
            seen_expire = true;
            i += 1;
            let n = arg_i64(args.get(i))?;
            o.expire_at = Some(absolute_expiry(a, n, now_ms, "set")?);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// Converts an EX/PX/EXAT/PXAT argument to absolute ms, with Redis's checks.
pub fn absolute_expiry(unit: &[u8], n: i64, now_ms: u64, cmd: &'static str) -> Result<u64, CmdError> {
    if n <= 0 {
        return Err(CmdError::InvalidExpire(cmd));
    }
    let seconds = eq_ic(unit, "ex") || eq_ic(unit, "exat");
    let relative = eq_ic(unit, "ex") || eq_ic(unit, "px");
    let ms = if seconds {
        n.checked_mul(1000).ok_or(CmdError::InvalidExpire(cmd))?
    } else {
        n
    };
    let at = if relative {
        ms.checked_add(now_ms as i64).ok_or(CmdError::InvalidExpire(cmd))?
    } else {
        ms
    };
    Ok(at.max(1) as u64)
}

fn set(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let opts = parse_set_options(args, ctx.now_ms)?;
    let key = args.get(1);
    let (db, now) = (ctx.db, ctx.now_ms);
    let existing = ctx.shard.get(db, key, now);
    if opts.get {
        match existing {
            Some(e) if !e.value.is_string() => return Err(CmdError::WrongType),
            Some(e) => {
                let old = e.value.clone();
                reply_value(ctx, &old);
            }
            None => ctx.reply.null(),
        }
    }
    let existing = ctx.shard.get(db, key, now);
    let exists = existing.is_some();
    if (opts.nx && exists) || (opts.xx && !exists) {
        if !opts.get {
            ctx.reply.null();
        }
        return Ok(());
    }
    let expire_at = match (opts.expire_at, opts.keepttl) {
        (Some(at), _) => at,
        (None, true) => existing.map_or(0, |e| e.expire_at()),
        (None, false) => 0,
    };
    ctx.shard.set(db, key, Value::string(args.get(2)), expire_at);
    if expire_at != 0 && expire_at <= now {
        // Redis deletes a key set with an expiry in the past at once.
        ctx.shard.remove(db, key, now);
    }
    if !opts.get {
        ctx.reply.ok();
    }
    Ok(())
}

fn mget(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    ctx.reply.array(args.len() - 1);
    for i in 1..args.len() {
        match ctx.shard.get_counted(ctx.db, args.get(i), ctx.now_ms) {
            Some(e) if e.value.is_string() => {
                let v = e.value.clone();
                reply_value(ctx, &v);
            }
            _ => ctx.reply.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    if args.len() % 2 == 0 {
        return Err(CmdError::WrongArity("mset".into()));
    }
    for i in (1..args.len()).step_by(2) {
        ctx.shard.set(ctx.db, args.get(i), Value::string(args.get(i + 1)), 0);
    }
    ctx.reply.ok();
    Ok(())
}
