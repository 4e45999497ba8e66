//! RENAME, RENAMENX and COPY when both keys live on this shard (the router
//! splits them otherwise, reusing [`parse_copy_args`] for COPY's options).
//!
//! As Redis 7.0: the value moves with its expiry; RENAME of a key onto itself
//! succeeds when the key exists; COPY with `DB n` writes into DB n of this
//! same shard (`ctx.db` is the source DB), and `COPY k k` without another DB
//! is an error.
//!
//! Journaled as received when both keys share a slot; otherwise as effects
//! (`DEL src`, `SET dst value [PXAT ms]`), since no single-slot command
//! reproduces a move between slots.

use super::super::error::{CmdError, CmdResult};
use super::super::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::Args;

fn rename_generic(ctx: &mut ExecCtx, args: &Args, nx: bool) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    let (src, dst) = (args.get(1), args.get(2));
    if ctx.shard.get(db, src, now).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    let done = |ctx: &mut ExecCtx, moved: bool| match nx {
        true => ctx.reply.int(moved as i64),
        false => ctx.reply.ok(),
    };
    if src == dst {
        done(ctx, false);
        return Ok(());
    }
    if nx && ctx.shard.exists(db, dst, now) {
        ctx.reply.int(0);
        return Ok(());
    }
    if !super::one_slot([src, dst].into_iter()) {
        ctx.shard.journal_effects();
    }
    let entry = ctx.shard.remove(db, src, now).ok_or(CmdError::NoSuchKey)?;
    let expire_at = entry.expire_at();
    ctx.shard.set(db, dst, entry.value, expire_at);
    done(ctx, true);
    Ok(())
}

pub fn rename(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// COPY's options, validated as Redis does while parsing them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyArgs {
    /// The destination DB (the client's DB unless `DB n` was given).
    pub dst_db: usize,
    pub replace: bool,
}

/// Parses `COPY src dst [DB n] [REPLACE]` for a client in `db` on a server
/// with `databases` DBs. Errors come in argument order, as in Redis: a bad DB
/// is reported even when a later argument is a syntax error. Also rejects
/// copying a key onto itself in the same DB.
pub fn parse_copy_args(args: &Args, db: usize, databases: usize) -> Result<CopyArgs, CmdError> {
    let mut out = CopyArgs {
        dst_db: db,
        replace: false,
    };
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "replace") {
            out.replace = true;
        } else if eq_ic(a, "db") && i + 1 < args.len() {
            i += 1;
            let n = arg_i64(args.get(i))?;
            if n < i32::MIN as i64 || n > i32::MAX as i64 {
                return Err(CmdError::NotInt32);
            }
            if n < 0 || n as usize >= databases {
                return Err(CmdError::DbOutOfRange);
            }
            out.dst_db = n as usize;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if out.dst_db == db && args.get(1) == args.get(2) {
        return Err(CmdError::SameObject);
    }
    Ok(out)
}

/// COPY: 1 when copied, 0 when the source is missing or the destination
/// exists without REPLACE. The copy keeps the source's expiry.
pub fn copy(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let opts = parse_copy_args(args, ctx.db, ctx.shard.databases())?;
    let (db, now) = (ctx.db, ctx.now_ms);
    let (src, dst) = (args.get(1), args.get(2));
    let Some(entry) = ctx.shard.get_counted(db, src, now) else {
        ctx.reply.int(0);
        return Ok(());
    };
    let (value, expire_at) = (entry.value.clone(), entry.expire_at());
    if !opts.replace && ctx.shard.exists(opts.dst_db, dst, now) {
        ctx.reply.int(0);
        return Ok(());
    }
    if !super::one_slot([src, dst].into_iter()) {
        ctx.shard.journal_effects();
    }
    ctx.shard.set(opts.dst_db, dst, value, expire_at);
    ctx.reply.int(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::harness::Harness;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn rename_moves_value_and_ttl() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("rename a b", "-ERR no such key\r\n"),
            ("rename a a", "-ERR no such key\r\n"),
            ("set a 1 px 5000", "+OK\r\n"),
            ("set b old", "+OK\r\n"),
            ("rename a a", "+OK\r\n"),
            ("rename a b", "+OK\r\n"),
            ("exists a", ":0\r\n"),
            ("get b", "$1\r\n1\r\n"),
            ("pttl b", ":5000\r\n"),
            ("set c x", "+OK\r\n"),
            ("rename c b", "+OK\r\n"),
            ("pttl b", ":-1\r\n"),
            (
                "rename b",
                "-ERR wrong number of arguments for 'rename' command\r\n",
            ),
        ]);
    }

    #[test]
    fn renamenx_only_when_destination_missing() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("renamenx a b", "-ERR no such key\r\n"),
            ("set a 1", "+OK\r\n"),
            ("renamenx a a", ":0\r\n"),
            ("set b 2", "+OK\r\n"),
            ("renamenx a b", ":0\r\n"),
            ("get b", "$1\r\n2\r\n"),
            ("renamenx a c", ":1\r\n"),
            ("get c", "$1\r\n1\r\n"),
            ("exists a", ":0\r\n"),
        ]);
    }

    #[test]
    fn rename_sees_expired_keys_as_missing() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("set a 1 px 10", "+OK\r\n"),
            ("set b 2 px 10", "+OK\r\n"),
            ("set c 3", "+OK\r\n"),
        ]);
        h.now_ms += 10;
        h.script(&[
            ("rename a x", "-ERR no such key\r\n"),
            ("renamenx c b", ":1\r\n"),
            ("get b", "$1\r\n3\r\n"),
        ]);
    }

    #[test]
    fn copy_within_and_across_dbs() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("copy a b", ":0\r\n"),
            ("set a 1 px 7000", "+OK\r\n"),
            ("copy a b", ":1\r\n"),
            ("pttl b", ":7000\r\n"),
            ("copy a b", ":0\r\n"),
            ("set a 2", "+OK\r\n"),
            ("copy a b REPLACE", ":1\r\n"),
            ("get b", "$1\r\n2\r\n"),
            ("pttl b", ":-1\r\n"),
            ("copy a a db 3", ":1\r\n"),
            ("copy a a db 3", ":0\r\n"),
            ("copy a a db 3 replace replace", ":1\r\n"),
            ("copy a z DB 15", ":1\r\n"),
            ("exists z", ":0\r\n"),
        ]);
        assert_eq!(h.shard.db(3).len(), 1);
        assert_eq!(h.shard.db(15).len(), 1);
        h.db = 15;
        assert_eq!(h.cmd("get z"), "$1\r\n2\r\n");
        assert_eq!(
            h.cmd("copy z z db 15"),
            "-ERR source and destination objects are the same\r\n"
        );
        assert_eq!(h.cmd("copy z z db 0"), ":1\r\n");
    }

    #[test]
    fn copy_errors_in_redis_order() {
        let mut h = Harness::new(NOW);
        let same = "-ERR source and destination objects are the same\r\n";
        let range = "-ERR DB index is out of range\r\n";
        h.script(&[
            ("copy a a", same),
            ("copy a a db 0", same),
            ("copy a a replace", same),
            ("set a 1", "+OK\r\n"),
            ("copy a a", same),
            ("copy a b db 16", range),
            ("copy a b db -1", range),
            ("copy a b db 99 foo", range),
            ("copy a b foo db 99", "-ERR syntax error\r\n"),
            ("copy a b db", "-ERR syntax error\r\n"),
            (
                "copy a b db x",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "copy a b db 2147483648",
                "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
            ),
            (
                "copy a b db -2147483649",
                "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
            ),
            ("copy a b db 0 replace x", "-ERR syntax error\r\n"),
            (
                "copy a",
                "-ERR wrong number of arguments for 'copy' command\r\n",
            ),
            ("exists b", ":0\r\n"),
        ]);
    }
}
