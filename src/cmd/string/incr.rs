//! Counters: INCR, DECR, INCRBY, DECRBY (64-bit signed, overflow is an error)
//! and INCRBYFLOAT (x87 long double, see [`super::long_double`]).
//!
//! Counters keep the key's TTL and store integers in the integer encoding. A
//! missing key counts as 0. Arguments are parsed before the key is looked at,
//! as in Redis, so their errors win over WRONGTYPE.

use super::long_double::{self, Ext};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{arg_i64, ExecCtx};
use crate::protocol::parser::parse_i64;
use crate::protocol::Args;
use crate::shard::value::Value;

/// The integer a string value holds, as Redis's `getLongLongFromObject`.
fn value_i64(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_int() {
        return Some(n);
    }
    v.as_str()?.with(parse_i64)
}

/// Redis's `incrDecrCommand`.
fn incr_by(ctx: &mut ExecCtx, key: &[u8], delta: i64) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    // The guard accounts memory when dropped: end its borrow before `set`.
    let updated = match ctx.shard.get_mut(db, key, now) {
        None => None,
        Some(mut e) => {
            if !e.value.is_string() {
                return Err(CmdError::WrongType);
            }
            let old = value_i64(&e.value).ok_or(CmdError::NotInteger)?;
            let new = old.checked_add(delta).ok_or(CmdError::Overflow)?;
            e.value = Value::int(new);
            Some(new)
        }
    };
    let new = match updated {
        Some(new) => new,
        None => {
            ctx.shard.set(db, key, Value::int(delta), 0);
            delta
        }
    };
    ctx.reply.int(new);
    Ok(())
}

pub(super) fn incr(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1), 1)
}

pub(super) fn decr(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1), -1)
}

pub(super) fn incrby(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let delta = arg_i64(args.get(2))?;
    incr_by(ctx, args.get(1), delta)
}

pub(super) fn decrby(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let delta = arg_i64(args.get(2))?;
    if delta == i64::MIN {
        return Err(CmdError::DecrementOverflow);
    }
    incr_by(ctx, args.get(1), -delta)
}

/// The long double a string value holds, as Redis's `getLongDoubleFromObject`.
fn value_ext(v: &Value) -> Option<Ext> {
    if let Some(n) = v.as_int() {
        return Some(Ext::from_i64(n));
    }
    v.as_str()?.with(long_double::parse)
}

pub(super) fn incrbyfloat(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let (db, now) = (ctx.db, ctx.now_ms);
    let (text, stored) = {
        let entry = ctx.shard.get_mut(db, key, now);
        let current = match &entry {
            None => Ext::from_i64(0),
            Some(e) if !e.value.is_string() => return Err(CmdError::WrongType),
            Some(e) => value_ext(&e.value).ok_or(CmdError::NotFloat)?,
        };
        let text = long_double::incr_text(current, args.get(2)).map_err(|bad_float| {
            if bad_float {
                CmdError::NotFloat
            } else {
                CmdError::NanOrInfinity
            }
        })?;
        // Redis stores the result as a new embstr, even when it reads as an
        // integer (INCRBYFLOAT k 1 -> "1", embstr).
        let stored = entry.map(|mut e| e.value = Value::embstr(text.as_bytes()));
        (text, stored.is_some())
    };
    if !stored {
        ctx.shard.set(db, key, Value::embstr(text.as_bytes()), 0);
    }
    // The float arithmetic is not replayed: the result is (as Redis does).
    ctx.propagate(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.reply.bulk(text.as_bytes());
    Ok(())
}
