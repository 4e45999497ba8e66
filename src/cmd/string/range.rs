//! Byte-range string commands: APPEND, STRLEN, GETRANGE (and its old name
//! SUBSTR), SETRANGE.
//!
//! Strings may grow to Redis's `proto-max-bulk-len` (512 MB) and no further;
//! APPEND and SETRANGE keep the key's TTL. Index arithmetic reproduces Redis's
//! C code, including its wrap-around for extreme negative indexes.

use super::{read_string, MAX_STRING_LEN};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{arg_i64, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::Value;

/// Redis's `checkStringLength`.
fn check_length(size: u64, append: u64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= MAX_STRING_LEN => Ok(()),
        _ => Err(CmdError::StringTooLong),
    }
}

pub(super) fn append(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (key, tail) = (args.get(1), args.get(2));
    let (db, now) = (ctx.db, ctx.now_ms);
    // The guard accounts memory when dropped: end its borrow before `set`.
    let appended = match ctx.shard.get_mut(db, key, now) {
        None => None,
        Some(mut e) => {
            let old = e.value.str_len().ok_or(CmdError::WrongType)?;
            check_length(old as u64, tail.len() as u64)?;
            let buf = e.value.make_raw().ok_or(CmdError::WrongType)?;
            buf.extend_from_slice(tail);
            Some(buf.len())
        }
    };
    let len = match appended {
        Some(len) => len,
        None => {
            // A new key is built whole (int or embstr), as Redis does.
            ctx.shard.set(db, key, Value::string(tail), 0);
            tail.len()
        }
    };
    ctx.reply.int(len as i64);
    Ok(())
}

pub(super) fn strlen(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let len = match read_string(shard, *db, args.get(1), *now_ms)? {
        Some(e) => e.value.str_len().unwrap_or(0),
        None => 0,
    };
    reply.int(len as i64);
    Ok(())
}

/// GETRANGE and SUBSTR.
pub(super) fn getrange(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let start = arg_i64(args.get(2))?;
    let end = arg_i64(args.get(3))?;
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    match read_string(shard, *db, args.get(1), *now_ms)? {
        None => reply.bulk(b""),
        Some(e) => match e.value.as_str() {
            Some(mut s) => s.with(|bytes| reply_range(reply, bytes, start, end)),
            None => reply.bulk(b""),
        },
    }
    Ok(())
}

/// Replies `bytes[start..=end]` with Redis's index rules.
fn reply_range(reply: &mut ReplyWriter, bytes: &[u8], mut start: i64, mut end: i64) {
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        reply.bulk(b"");
        return;
    }
    if start < 0 {
        start = start.wrapping_add(len);
    }
    if end < 0 {
        end = end.wrapping_add(len);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        reply.bulk(b"");
    } else {
        reply.bulk(&bytes[start as usize..=end as usize]);
    }
}

pub(super) fn setrange(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (key, patch) = (args.get(1), args.get(3));
    let offset = arg_i64(args.get(2))?;
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let (db, now) = (ctx.db, ctx.now_ms);
    let offset_u = offset as u64;
    // The guard accounts memory when dropped: end its borrow before `set`.
    let patched = match ctx.shard.get_mut(db, key, now) {
        None => None,
        Some(mut e) => Some({
            let old = e.value.str_len().ok_or(CmdError::WrongType)?;
            if patch.is_empty() {
                old
            } else {
                check_length(offset_u, patch.len() as u64)?;
                let buf = e.value.make_raw().ok_or(CmdError::WrongType)?;
                let end = offset as usize + patch.len();
                if buf.len() < end {
                    buf.resize(end, 0);
                }
                buf[offset as usize..end].copy_from_slice(patch);
                buf.len()
            }
        }),
    };
    let len = match patched {
        Some(len) => len,
        None if patch.is_empty() => 0,
        None => {
            check_length(offset_u, patch.len() as u64)?;
            let mut buf = vec![0u8; offset as usize + patch.len()];
            buf[offset as usize..].copy_from_slice(patch);
            let len = buf.len();
            // Built in place, as Redis's SETRANGE on a new key: raw.
            ctx.shard.set(db, key, Value::raw(&buf), 0);
            len
        }
    };
    ctx.reply.int(len as i64);
    Ok(())
}
