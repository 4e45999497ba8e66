//! String commands: the table entries of the string group and the GET/SET
//! family (GET, SET, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MGET, MSET,
//! MSETNX). Ranges (APPEND, STRLEN, GETRANGE, SETRANGE, SUBSTR) live in
//! `range`, counters (INCR…, INCRBYFLOAT) in `incr`, INCRBYFLOAT's x87
//! arithmetic in [`long_double`] (over the small big integers of `bigint`).
//!
//! Semantics, replies and error texts are Redis 7.0's byte for byte. Replies are
//! written straight from the stored value (`shard` and `reply` are borrowed as
//! disjoint fields of [`ExecCtx`]), so reads allocate nothing. Reads that Redis
//! does with `lookupKeyRead` count keyspace hits/misses; write lookups do not.
//! MGET, MSET and MSETNX live in `mset`, with how they split across shards.
//!
//! Journaling (shard/journal.rs): a write is journaled as received unless
//! that would not replay to the same data: relative expiry times become
//! `SET … PXAT` / `PEXPIREAT`, a time already past becomes `DEL`, GETDEL
//! becomes `DEL`, INCRBYFLOAT `SET … KEEPTTL`, and an MSET whose keys span
//! slots one MSET per slot.

mod bigint;
mod incr;
pub mod long_double;
mod mset;
mod range;
#[cfg(test)]
mod tests;

use super::error::{CmdError, CmdResult};
use super::table::{flag::*, spec, CommandSpec, Exec};
use super::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::entry::EntryRef;
use crate::shard::value::Value;
use crate::shard::Shard;

const ONE: (i32, i32, i32) = (1, 1, 1);
const R_FAST: &[&str] = &["read", "string", "fast"];
const R_SLOW: &[&str] = &["read", "string", "slow"];
const W_FAST: &[&str] = &["write", "string", "fast"];
const W_SLOW: &[&str] = &["write", "string", "slow"];

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("string", "get", 2, READONLY | FAST, ONE, R_FAST, "Get the value of a key", "1.0.0", Exec::Shard(get)),
    spec("string", "set", -3, WRITE | DENYOOM, ONE, W_SLOW, "Set the string value of a key", "1.0.0", Exec::Shard(set)),
    spec("string", "setnx", 3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Set the value of a key, only if the key does not exist", "1.0.0", Exec::Shard(setnx)),
    spec("string", "setex", 4, WRITE | DENYOOM, ONE, W_SLOW, "Set the value and expiration of a key", "2.0.0", Exec::Shard(setex)),
    spec("string", "psetex", 4, WRITE | DENYOOM, ONE, W_SLOW, "Set the value and expiration in milliseconds of a key", "2.6.0", Exec::Shard(psetex)),
    spec("string", "getset", 3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Set the string value of a key and return its old value", "1.0.0", Exec::Shard(getset)),
    spec("string", "getdel", 2, WRITE | FAST, ONE, W_FAST, "Get the value of a key and delete the key", "6.2.0", Exec::Shard(getdel)),
    spec("string", "getex", -2, WRITE | FAST, ONE, W_FAST, "Get the value of a key and optionally set its expiration", "6.2.0", Exec::Shard(getex)),
    spec("string", "append", 3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Append a value to a key", "2.0.0", Exec::Shard(range::append)),
    spec("string", "strlen", 2, READONLY | FAST, ONE, R_FAST, "Get the length of the value stored in a key", "2.2.0", Exec::Shard(range::strlen)),
    spec("string", "getrange", 4, READONLY, ONE, R_SLOW, "Get a substring of the string stored at a key", "2.4.0", Exec::Shard(range::getrange)),
    spec("string", "setrange", 4, WRITE | DENYOOM, ONE, W_SLOW, "Overwrite part of a string at key starting at the specified offset", "2.2.0", Exec::Shard(range::setrange)),
    spec("string", "substr", 4, READONLY, ONE, R_SLOW, "Get a substring of the string stored at a key", "1.0.0", Exec::Shard(range::getrange)),
    spec("string", "incr", 2, WRITE | DENYOOM | FAST, ONE, W_FAST, "Increment the integer value of a key by one", "1.0.0", Exec::Shard(incr::incr)),
    spec("string", "decr", 2, WRITE | DENYOOM | FAST, ONE, W_FAST, "Decrement the integer value of a key by one", "1.0.0", Exec::Shard(incr::decr)),
    spec("string", "incrby", 3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Increment the integer value of a key by the given amount", "1.0.0", Exec::Shard(incr::incrby)),
    spec("string", "decrby", 3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Decrement the integer value of a key by the given number", "1.0.0", Exec::Shard(incr::decrby)),
    spec("string", "incrbyfloat", 3, WRITE | DENYOOM | FAST, ONE, W_FAST, "Increment the float value of a key by the given amount", "2.6.0", Exec::Shard(incr::incrbyfloat)),
    spec("string", "mget", -2, READONLY | FAST, (1, -1, 1), R_FAST, "Get the values of all the given keys", "1.0.0", Exec::MultiKey(mset::mget, mset::MGET_SPLIT)),
    spec("string", "mset", -3, WRITE | DENYOOM, (1, -1, 2), W_SLOW, "Set multiple keys to multiple values", "1.0.1", Exec::MultiKey(mset::mset, mset::MSET_SPLIT)),
    spec("string", "msetnx", -3, WRITE | DENYOOM, (1, -1, 2), W_SLOW, "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1", Exec::MultiKey(mset::msetnx, mset::MSETNX_SPLIT)),
];

/// Redis's default `proto-max-bulk-len`: the largest string APPEND/SETRANGE build.
pub const MAX_STRING_LEN: u64 = 512 * 1024 * 1024;

/// Writes a string value as a bulk reply, straight from where it is stored.
pub fn bulk_value(reply: &mut ReplyWriter, v: &Value) {
    match v.as_str() {
        Some(mut s) => s.with(|b| reply.bulk(b)),
        None => reply.null(),
    }
}

/// Looks a key up as Redis's `lookupKeyRead` (counting a hit or miss) and
/// requires a string: `WRONGTYPE` otherwise.
fn read_string<'s>(
    shard: &'s mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<EntryRef<'s>>, CmdError> {
    match shard.get_counted(db, key, now) {
        Some(e) if !e.value.is_string() => Err(CmdError::WrongType),
        found => Ok(found),
    }
}

/// Redis's `getGenericCommand`: replies the string at `key` (or null).
fn reply_get(ctx: &mut ExecCtx, key: &[u8]) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    match read_string(shard, *db, key, *now_ms)? {
        Some(e) => bulk_value(reply, &e.value),
        None => reply.null(),
    }
    Ok(())
}

fn get(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    reply_get(ctx, args.get(1))
}

/// The unit of an expiry option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Options shared by SET and GETEX (Redis's `parseExtendedStringArgumentsOrReply`).
#[derive(Default)]
struct ExtOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The last expiry option and its (still unparsed) argument.
    expire: Option<(Unit, &'a [u8])>,
}

/// Parses options from `args[from..]`: SET's (`set`) or GETEX's. Only the
/// syntax is checked here; expiry values are parsed later, as in Redis, so
/// `SET k v EX abc NX XX` is a syntax error. Repeating an option is allowed
/// (`EX 1 EX 2`: the last wins); conflicting ones are a syntax error.
fn parse_ext_options<'a>(
    args: &Args<'a>,
    from: usize,
    set: bool,
) -> Result<ExtOptions<'a>, CmdError> {
    let mut o = ExtOptions::default();
    let mut i = from;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let unit = if eq_ic(a, "ex") {
            Some(Unit::Ex)
        } else if eq_ic(a, "px") {
            Some(Unit::Px)
        } else if eq_ic(a, "exat") {
            Some(Unit::ExAt)
        } else if eq_ic(a, "pxat") {
            Some(Unit::PxAt)
        } else {
            None
        };
        let other_unit = |u: Unit| o.expire.is_some_and(|(have, _)| have != u);
        if set && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if set && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if set && eq_ic(a, "get") {
            o.get = true;
        } else if set && eq_ic(a, "keepttl") && !o.persist && o.expire.is_none() {
            o.keepttl = true;
        } else if !set && eq_ic(a, "persist") && !o.keepttl && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(u), Some(arg)) = (unit, next) {
            if o.keepttl || o.persist || other_unit(u) {
                return Err(CmdError::Syntax);
            }
            o.expire = Some((u, arg));
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// Converts an expiry option to absolute Unix ms, with Redis's checks and its
/// error `ERR invalid expire time in '<cmd>' command`.
fn expire_at_ms(unit: Unit, arg: &[u8], now_ms: u64, cmd: &'static str) -> Result<u64, CmdError> {
    let n = arg_i64(arg)?;
    let name = match unit {
        Unit::Ex => "ex",
        Unit::Px => "px",
        Unit::ExAt => "exat",
        Unit::PxAt => "pxat",
    };
    absolute_expiry(name.as_bytes(), n, now_ms, cmd)
}

/// Converts an EX/PX/EXAT/PXAT value to absolute ms, with Redis's checks:
/// non-positive values and overflow are `ERR invalid expire time in '<cmd>' command`.
pub fn absolute_expiry(
    unit: &[u8],
    n: i64,
    now_ms: u64,
    cmd: &'static str,
) -> Result<u64, CmdError> {
    let seconds = eq_ic(unit, "ex") || eq_ic(unit, "exat");
    let relative = eq_ic(unit, "ex") || eq_ic(unit, "px");
    let invalid = CmdError::InvalidExpire(cmd);
    if n <= 0 {
        return Err(invalid);
    }
    let ms = if seconds {
        n.checked_mul(1000).ok_or(invalid.clone())?
    } else {
        n
    };
    let at = if relative {
        ms.checked_add(now_ms as i64).ok_or(invalid)?
    } else {
        ms
    };
    Ok(at as u64)
}

/// What `set_generic` should do.
struct SetSpec<'a> {
    key: &'a [u8],
    value: &'a [u8],
    /// The value's own buffer when it arrived as a big bulk.
    shared: Option<&'a bytes::Bytes>,
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Absolute expiry in ms, already validated.
    expire_at: Option<u64>,
    /// The expiry was given relative to now (EX, PX, EXAT, SETEX, PSETEX):
    /// journaled as `SET key value PXAT <ms>`.
    rewrite: bool,
}

/// Redis's `setGenericCommand`. With `get` the old value (or null) is replied
/// first and a wrong type aborts; otherwise the caller replies from the result:
/// true when the value was stored, false when NX/XX prevented it.
fn set_generic(ctx: &mut ExecCtx, s: SetSpec) -> Result<bool, CmdError> {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let (db, now) = (*db, *now_ms);
    let (found, old_expire) = if s.get {
        let old = read_string(shard, db, s.key, now)?;
        match old {
            Some(e) => bulk_value(reply, &e.value),
            None => reply.null(),
        }
        old.map_or((false, 0), |e| (true, e.expire_at()))
    } else if s.nx || s.xx || s.keepttl {
        shard
            .get(db, s.key, now)
            .map_or((false, 0), |e| (true, e.expire_at()))
    } else {
        (false, 0)
    };
    if (s.nx && found) || (s.xx && !found) {
        return Ok(false);
    }
    let expire_at = match s.expire_at {
        Some(at) => at,
        None if s.keepttl => old_expire,
        None => 0,
    };
    if expire_at != 0 && expire_at <= now {
        // Already in the past (PXAT/EXAT): the key is gone at once.
        if shard.remove(db, s.key, now).is_some() {
            shard.propagate(db, &[b"DEL", s.key]);
        }
    } else {
        shard.set(db, s.key, Value::from_arg(s.value, s.shared), expire_at);
        if s.rewrite {
            let mut ms = itoa::Buffer::new();
            let ms = ms.format(expire_at).as_bytes();
            shard.propagate(db, &[b"SET", s.key, s.value, b"PXAT", ms]);
        }
    }
    Ok(true)
}

fn set(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let o = parse_ext_options(args, 3, true)?;
    let expire_at = match o.expire {
        Some((unit, arg)) => Some(expire_at_ms(unit, arg, ctx.now_ms, "set")?),
        None => None,
    };
    let spec = SetSpec {
        key: args.get(1),
        value: args.get(2),
        shared: args.shared(2),
        nx: o.nx,
        xx: o.xx,
        get: o.get,
        keepttl: o.keepttl,
        expire_at,
        rewrite: o.expire.is_some_and(|(unit, _)| unit != Unit::PxAt),
    };
    let stored = set_generic(ctx, spec)?;
    if !o.get {
        if stored {
            ctx.reply.ok();
        } else {
            ctx.reply.null();
        }
    }
    Ok(())
}

fn setnx(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let spec = SetSpec {
        key: args.get(1),
        value: args.get(2),
        shared: args.shared(2),
        nx: true,
        xx: false,
        get: false,
        keepttl: false,
        expire_at: None,
        rewrite: false,
    };
    let stored = set_generic(ctx, spec)?;
    ctx.reply.int(stored as i64);
    Ok(())
}

/// SETEX / PSETEX: `<key> <ttl> <value>`.
fn set_with_ttl(ctx: &mut ExecCtx, args: &Args, unit: Unit, cmd: &'static str) -> CmdResult {
    let expire_at = expire_at_ms(unit, args.get(2), ctx.now_ms, cmd)?;
    let spec = SetSpec {
        key: args.get(1),
        value: args.get(3),
        shared: args.shared(3),
        nx: false,
        xx: false,
        get: false,
        keepttl: false,
        expire_at: Some(expire_at),
        rewrite: true,
    };
    set_generic(ctx, spec)?;
    ctx.reply.ok();
    Ok(())
}

fn setex(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    set_with_ttl(ctx, args, Unit::Ex, "setex")
}

fn psetex(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    set_with_ttl(ctx, args, Unit::Px, "psetex")
}

fn getset(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let key = args.get(1);
    reply_get(ctx, key)?;
    ctx.shard
        .set(ctx.db, key, Value::from_arg(args.get(2), args.shared(2)), 0);
    Ok(())
}

fn getdel(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let key = args.get(1);
    reply_get(ctx, key)?;
    if ctx.shard.remove(ctx.db, key, ctx.now_ms).is_some() {
        ctx.propagate(&[b"DEL", key]);
    }
    Ok(())
}

fn getex(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let o = parse_ext_options(args, 2, false)?;
    let key = args.get(1);
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let (db, now) = (*db, *now_ms);
    let Some(e) = read_string(shard, db, key, now)? else {
        reply.null();
        return Ok(());
    };
    // As Redis: the expiry is validated only once the key is known to exist.
    let expire_at = match o.expire {
        Some((unit, arg)) => Some(expire_at_ms(unit, arg, now, "getex")?),
        None => None,
    };
    bulk_value(reply, &e.value);
    let had_ttl = e.expire_at() != 0;
    match expire_at {
        Some(at) if at <= now => {
            shard.remove(db, key, now);
            shard.propagate(db, &[b"DEL", key]);
        }
        Some(at) => {
            shard.set_expire(db, key, at);
            let mut ms = itoa::Buffer::new();
            shard.propagate(db, &[b"PEXPIREAT", key, ms.format(at).as_bytes()]);
        }
        None if o.persist && had_ttl => {
            shard.set_expire(db, key, 0);
            shard.propagate(db, &[b"PERSIST", key]);
        }
        None => {}
    }
    Ok(())
}
