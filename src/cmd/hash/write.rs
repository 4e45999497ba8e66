//! HSET, HMSET, HSETNX, HDEL, HINCRBY and HINCRBYFLOAT.
//!
//! Each runs Redis 7.0's steps in its order: argument checks, the write
//! lookup (`WRONGTYPE` for a non-hash), `hashTypeTryConversion` over the
//! strings about to be stored, then one `hashTypeSet` per pair (which may
//! convert the encoding). A missing key is created only when something is
//! stored; a hash left empty by HDEL is deleted.

use super::super::error::{CmdError, CmdResult};
use super::super::string::long_double::{self, Ext};
use super::super::{arg_i64, ExecCtx};
use crate::protocol::parser::parse_i64;
use crate::protocol::Args;
use crate::shard::value::hash::{Entry, Hash};
use crate::shard::value::Value;

/// Runs `f` on the hash at `key`, creating an empty one when the key is
/// missing (kept only if `f` leaves it non-empty). `WRONGTYPE` for other
/// types; `f`'s error leaves the data untouched.
fn with_hash<R>(
    ctx: &mut ExecCtx,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    let (db, now) = (ctx.db, ctx.now_ms);
    if let Some(mut e) = ctx.shard.get_mut(db, key, now) {
        if !e.value.is_hash() {
            return Err(CmdError::WrongType);
        }
        let h = e.value.as_hash_mut().ok_or(CmdError::WrongType)?;
        return f(h);
    }
    let mut h = Hash::new();
    let r = f(&mut h)?;
    if !h.is_empty() {
        ctx.shard.set(db, key, Value::Hash(Box::new(h)), 0);
    }
    Ok(r)
}

/// HSET/HMSET: the number of new fields.
fn set_pairs(ctx: &mut ExecCtx, args: &Args, name: &str) -> Result<i64, CmdError> {
    if args.len() % 2 == 1 {
        return Err(CmdError::WrongArity(name.to_string()));
    }
    let limits = ctx.shard.encoding_limits();
    with_hash(ctx, args.get(1), |h| {
        h.prepare_for(args.iter_from(2).map(<[u8]>::len), &limits);
        let mut created = 0;
        for i in (2..args.len()).step_by(2) {
            created += h.set(args.get(i), args.get(i + 1), &limits) as i64;
        }
        Ok(created)
    })
}

pub(super) fn hset(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let n = set_pairs(ctx, args, "hset")?;
    ctx.reply.int(n);
    Ok(())
}

pub(super) fn hmset(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    set_pairs(ctx, args, "hmset")?;
    ctx.reply.ok();
    Ok(())
}

pub(super) fn hsetnx(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (key, field, value) = (args.get(1), args.get(2), args.get(3));
    let limits = ctx.shard.encoding_limits();
    let (db, now) = (ctx.db, ctx.now_ms);
    // Read first: an existing field changes nothing (no WATCH touch).
    match ctx.shard.get_mut(db, key, now) {
        Some(e) if !e.value.is_hash() => return Err(CmdError::WrongType),
        Some(e) if e.value.as_hash().is_some_and(|h| h.contains(field)) => {
            ctx.reply.int(0);
            return Ok(());
        }
        _ => {}
    }
    with_hash(ctx, key, |h| {
        h.prepare_for([field.len(), value.len()], &limits);
        h.set(field, value, &limits);
        Ok(())
    })?;
    ctx.reply.int(1);
    Ok(())
}

pub(super) fn hdel(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (key, db, now) = (args.get(1), ctx.db, ctx.now_ms);
    let (deleted, empty) = match ctx.shard.get_mut(db, key, now) {
        None => (0, false),
        Some(e) if !e.value.is_hash() => return Err(CmdError::WrongType),
        Some(mut e) => {
            let present = e
                .value
                .as_hash()
                .map_or(0, |h| args.iter_from(2).filter(|f| h.contains(f)).count());
            if present == 0 {
                (0, false)
            } else {
                let h = e.value.as_hash_mut().ok_or(CmdError::WrongType)?;
                let n = args.iter_from(2).filter(|f| h.remove(f)).count();
                (n, h.is_empty())
            }
        }
    };
    if empty {
        ctx.shard.remove(db, key, now);
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

/// The value of `field` before an increment: `None` when absent.
fn current<'h>(h: &'h Hash, field: &[u8]) -> Option<Entry<'h>> {
    h.get(field)
}

pub(super) fn hincrby(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let incr = arg_i64(args.get(3))?;
    let (key, field) = (args.get(1), args.get(2));
    let limits = ctx.shard.encoding_limits();
    check_hash(ctx, key)?;
    let old = match peek_field(ctx, key, field) {
        None => 0,
        Some(OwnedEntry::Int(n)) => n,
        Some(OwnedEntry::Str(s)) => {
            parse_i64(&s).ok_or(CmdError::Static("ERR hash value is not an integer"))?
        }
    };
    let new = old.checked_add(incr).ok_or(CmdError::Overflow)?;
    let mut buf = itoa::Buffer::new();
    let text = buf.format(new).as_bytes();
    with_hash(ctx, key, |h| {
        h.set(field, text, &limits);
        Ok(())
    })?;
    ctx.reply.int(new);
    Ok(())
}

pub(super) fn hincrbyfloat(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let incr = long_double::parse(args.get(3)).ok_or(CmdError::NotFloat)?;
    if matches!(incr, Ext::Inf { .. }) {
        return Err(CmdError::Static("ERR value is NaN or Infinity"));
    }
    let (key, field) = (args.get(1), args.get(2));
    let limits = ctx.shard.encoding_limits();
    check_hash(ctx, key)?;
    let old = match peek_field(ctx, key, field) {
        None => Ext::from_i64(0),
        Some(OwnedEntry::Int(n)) => Ext::from_i64(n),
        Some(OwnedEntry::Str(s)) => {
            long_double::parse(&s).ok_or(CmdError::Static("ERR hash value is not a float"))?
        }
    };
    let text = long_double::add(old, incr)
        .and_then(long_double::format_human)
        .ok_or(CmdError::NanOrInfinity)?;
    with_hash(ctx, key, |h| {
        h.set(field, text.as_bytes(), &limits);
        Ok(())
    })?;
    // Replayed as the result, never as float arithmetic (as Redis).
    ctx.propagate(&[b"HSET", key, field, text.as_bytes()]);
    ctx.reply.bulk(text.as_bytes());
    Ok(())
}

/// `WRONGTYPE` when `key` holds something other than a hash.
fn check_hash(ctx: &mut ExecCtx, key: &[u8]) -> CmdResult {
    match ctx.shard.peek(ctx.db, key, ctx.now_ms) {
        Some(e) if !e.value.is_hash() => Err(CmdError::WrongType),
        _ => Ok(()),
    }
}

/// The current value of `field` (owned, so the shard can be written next).
fn peek_field(ctx: &mut ExecCtx, key: &[u8], field: &[u8]) -> Option<OwnedEntry> {
    let e = ctx.shard.peek(ctx.db, key, ctx.now_ms)?;
    let h = e.value_ref().as_hash()?;
    current(h, field).map(|v| match v {
        Entry::Int(n) => OwnedEntry::Int(n),
        Entry::Str(s) => OwnedEntry::Str(s.to_vec()),
    })
}

/// An element copied out of the hash.
enum OwnedEntry {
    Int(i64),
    Str(Vec<u8>),
}
