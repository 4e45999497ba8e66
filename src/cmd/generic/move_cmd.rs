//! MOVE: moves a key to another database of this same shard (every database
//! of a shard holds the same slots, so the key never changes shard).
//!
//! As Redis 7.0: the db index is parsed as an `int` (its two range errors),
//! then checked against `databases`, then against the client's own db; a
//! missing key, or one that already exists in the target, replies 0 and
//! changes nothing. The value keeps its expiry, and both databases' WATCHes
//! of the key are touched. Journaled as received: the command touches one
//! key, and replays to the same data.

use super::super::error::{CmdError, CmdResult};
use super::super::{arg_i64, ExecCtx};
use crate::protocol::Args;

pub fn move_key(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let n = arg_i64(args.get(2))?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(CmdError::NotInt32);
    }
    if n < 0 || n as usize >= ctx.shard.databases() {
        return Err(CmdError::DbOutOfRange);
    }
    let (src, dst, now, key) = (ctx.db, n as usize, ctx.now_ms, args.get(1));
    if src == dst {
        return Err(CmdError::SameObject);
    }
    if ctx.shard.get(src, key, now).is_none() || ctx.shard.exists(dst, key, now) {
        ctx.reply.int(0);
        return Ok(());
    }
    let Some(entry) = ctx.shard.remove(src, key, now) else {
        ctx.reply.int(0);
        return Ok(());
    };
    let expire_at = entry.expire_at();
    ctx.shard.set(dst, key, entry.value, expire_at);
    ctx.reply.int(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::harness::Harness;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn move_keeps_value_and_ttl_and_answers_as_redis() {
        let mut h = Harness::new(NOW);
        let same = "-ERR source and destination objects are the same\r\n";
        let range = "-ERR DB index is out of range\r\n";
        let int_range =
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n";
        h.script(&[
            ("set k v px 5000", "+OK\r\n"),
            ("move k 0", same),
            ("move nokey 0", same),
            ("move k 16", range),
            ("move k -1", range),
            (
                "move k abc",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "move k 1.5",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("move k 2147483648", int_range),
            ("move nokey 1", ":0\r\n"),
            ("move k 3", ":1\r\n"),
            ("exists k", ":0\r\n"),
            ("set k other", "+OK\r\n"),
            ("move k 3", ":0\r\n"),
            ("get k", "$5\r\nother\r\n"),
            (
                "move",
                "-ERR wrong number of arguments for 'move' command\r\n",
            ),
        ]);
        h.db = 3;
        h.script(&[("get k", "$1\r\nv\r\n"), ("pttl k", ":5000\r\n")]);
        h.now_ms += 5000;
        assert_eq!(h.cmd("move k 0"), ":0\r\n", "expired in db 3");
    }
}
