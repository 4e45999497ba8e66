//! The expiry family: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT),
//! TTL, PTTL, EXPIRETIME, PEXPIRETIME and PERSIST, as Redis 7.0's `expire.c`.
//!
//! Expiry times are absolute Unix milliseconds (0 = none) and "now" is always
//! `ExecCtx::now_ms`, never the wall clock. Order of checks matters for the
//! error a client sees and follows Redis: options first, then the number, then
//! overflow, then the key. A time at or before now deletes the key and still
//! replies 1, as Redis 7 does.

use super::super::error::{CmdError, CmdResult};
use super::super::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::Args;

/// NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireCond {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

impl ExpireCond {
    /// Parses the options after the time (argument 3 on), with Redis's texts.
    pub fn parse(args: &Args) -> Result<ExpireCond, CmdError> {
        let mut c = ExpireCond::default();
        for opt in args.iter_from(3) {
            if eq_ic(opt, "nx") {
                c.nx = true;
            } else if eq_ic(opt, "xx") {
                c.xx = true;
            } else if eq_ic(opt, "gt") {
                c.gt = true;
            } else if eq_ic(opt, "lt") {
                c.lt = true;
            } else {
                // Redis formats the option with `%s`: it stops at a NUL byte.
                let shown = opt.split(|&b| b == 0).next().unwrap_or_default();
                return Err(CmdError::UnsupportedOption(
                    String::from_utf8_lossy(shown).into_owned(),
                ));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::NxWithXxGtLt);
        }
        if c.gt && c.lt {
            return Err(CmdError::GtWithLt);
        }
        Ok(c)
    }

    /// Whether a new expiry `when` may replace `current` (0 = none, which GT
    /// and LT treat as an infinite TTL).
    pub fn allows(&self, current: u64, when: i64) -> bool {
        let has = current != 0;
        let current = current.min(i64::MAX as u64) as i64;
        !((self.nx && has)
            || (self.xx && !has)
            || (self.gt && (!has || when <= current))
            || (self.lt && has && when >= current))
    }
}

/// `n` in `seconds` or ms, plus `base` ms, as absolute ms; None on overflow
/// (Redis: "invalid expire time"). Negative results are allowed: they expire.
pub fn expire_when(n: i64, seconds: bool, base: i64) -> Option<i64> {
    let ms = if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&n) {
            return None;
        }
        n * 1000
    } else {
        n
    };
    if ms > i64::MAX - base {
        return None;
    }
    Some(ms + base)
}

fn expire_generic(
    ctx: &mut ExecCtx,
    args: &Args,
    name: &'static str,
    seconds: bool,
    relative: bool,
) -> CmdResult {
    let cond = ExpireCond::parse(args)?;
    let n = arg_i64(args.get(2))?;
    let base = if relative { ctx.now_ms as i64 } else { 0 };
    let when = expire_when(n, seconds, base).ok_or(CmdError::InvalidExpire(name))?;
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    let Some(entry) = ctx.shard.get(db, key, now) else {
        ctx.reply.int(0);
        return Ok(());
    };
    if !cond.allows(entry.expire_at(), when) {
        ctx.reply.int(0);
        return Ok(());
    }
    // Journaled as an absolute time (or the DEL it amounts to), whatever
    // the variant and its options: the condition held, so replay needs none.
    if when <= now as i64 {
        ctx.shard.remove(db, key, now);
        ctx.propagate(&[b"DEL", key]);
    } else {
        ctx.shard.set_expire(db, key, when as u64);
        let mut ms = itoa::Buffer::new();
        ctx.propagate(&[b"PEXPIREAT", key, ms.format(when).as_bytes()]);
    }
    ctx.reply.int(1);
    Ok(())
}

pub fn expire(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, "expire", true, true)
}

pub fn pexpire(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, "pexpire", false, true)
}

pub fn expireat(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, "expireat", true, false)
}

pub fn pexpireat(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, "pexpireat", false, false)
}

/// -2 for a missing key, -1 for no expiry, else the remaining (or absolute)
/// time, floored at 0; seconds are rounded as Redis: `(ms + 500) / 1000`.
fn ttl_generic(ctx: &mut ExecCtx, args: &Args, millis: bool, absolute: bool) -> CmdResult {
    let now = ctx.now_ms;
    // Redis's TTL family looks keys up with LOOKUP_NOTOUCH.
    let reply = match ctx.shard.peek_counted(ctx.db, args.get(1), now) {
        None => -2,
        Some(e) if e.expire_at() == 0 => -1,
        Some(e) => {
            let at = e.expire_at().min(i64::MAX as u64);
            let ms = if absolute { at } else { at.saturating_sub(now) };
            // Unsigned like Redis's arithmetic in practice: no overflow near i64::MAX.
            (if millis { ms } else { (ms + 500) / 1000 }) as i64
        }
    };
    ctx.reply.int(reply);
    Ok(())
}

pub fn ttl(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

pub fn pttl(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

pub fn expiretime(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

pub fn pexpiretime(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

/// PERSIST: 1 when an expiry was removed, 0 for a missing or persistent key.
pub fn persist(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    let had = ctx
        .shard
        .get(db, key, now)
        .is_some_and(|e| e.expire_at() != 0);
    if had {
        ctx.shard.set_expire(db, key, 0);
    }
    ctx.reply.int(had as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::harness::Harness;
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn ttl_of_missing_persistent_and_volatile_keys() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("ttl k", ":-2\r\n"),
            ("pttl k", ":-2\r\n"),
            ("expiretime k", ":-2\r\n"),
            ("pexpiretime k", ":-2\r\n"),
            ("set k v", "+OK\r\n"),
            ("ttl k", ":-1\r\n"),
            ("pttl k", ":-1\r\n"),
            ("expiretime k", ":-1\r\n"),
            ("pexpiretime k", ":-1\r\n"),
            ("pexpire k 1500", ":1\r\n"),
            ("pttl k", ":1500\r\n"),
            ("ttl k", ":2\r\n"),
            ("pexpiretime k", &format!(":{}\r\n", NOW + 1500)),
            (
                "expiretime k",
                &format!(":{}\r\n", (NOW + 1500 + 500) / 1000),
            ),
        ]);
        // Redis rounds: 1499 ms → 1 s, 500 → 1, 499 → 0.
        for (left, want) in [(1499, 1), (500, 1), (499, 0), (1, 0)] {
            h.now_ms = NOW + 1500 - left;
            assert_eq!(h.cmd("ttl k"), format!(":{want}\r\n"), "{left} ms left");
            assert_eq!(h.cmd("pttl k"), format!(":{left}\r\n"));
        }
        h.now_ms = NOW + 1500;
        h.script(&[("ttl k", ":-2\r\n"), ("pttl k", ":-2\r\n")]);
        assert_eq!(h.shard.db(0).len(), 0);
    }

    #[test]
    fn expire_variants_set_absolute_times() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("set k v", "+OK\r\n"),
            ("expire k 100", ":1\r\n"),
            ("pexpiretime k", &format!(":{}\r\n", NOW + 100_000)),
            ("pexpire k 100", ":1\r\n"),
            ("pexpiretime k", &format!(":{}\r\n", NOW + 100)),
            ("expireat k 1800000000", ":1\r\n"),
            ("pexpiretime k", ":1800000000000\r\n"),
            ("expiretime k", ":1800000000\r\n"),
            ("pexpireat k 1800000000123", ":1\r\n"),
            ("pexpiretime k", ":1800000000123\r\n"),
            ("expire nokey 100", ":0\r\n"),
            ("pexpireat nokey 1800000000123", ":0\r\n"),
        ]);
    }

    #[test]
    fn past_or_present_times_delete_the_key_and_reply_1() {
        let mut h = Harness::new(NOW);
        for line in [
            "expire k 0",
            "expire k -1",
            "pexpire k 0",
            "expireat k 1",
            "pexpireat k 0",
            "pexpireat k -5",
        ] {
            h.script(&[
                ("set k v", "+OK\r\n"),
                (line, ":1\r\n"),
                ("exists k", ":0\r\n"),
            ]);
        }
        let at_now = format!("pexpireat k {NOW}");
        h.script(&[
            ("set k v", "+OK\r\n"),
            (&at_now, ":1\r\n"),
            ("exists k", ":0\r\n"),
        ]);
        let after = format!("pexpireat k {}", NOW + 1);
        h.script(&[
            ("set k v", "+OK\r\n"),
            (&after, ":1\r\n"),
            ("pttl k", ":1\r\n"),
        ]);
        h.now_ms += 1;
        assert_eq!(h.cmd("exists k"), ":0\r\n");
    }

    #[test]
    fn option_errors_and_their_precedence() {
        let mut h = Harness::new(NOW);
        let nx_err = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
        let gtlt_err = "-ERR GT and LT options at the same time are not compatible\r\n";
        h.script(&[
            ("set k v", "+OK\r\n"),
            ("expire k 10 nx xx", nx_err),
            ("expire k 10 NX gt", nx_err),
            ("expire k 10 lt nx", nx_err),
            ("expire k 10 gt lt", gtlt_err),
            ("expire k 10 gt xx lt", gtlt_err),
            ("expire k 10 foo", "-ERR Unsupported option foo\r\n"),
            // Options are checked before the number, the number before the key.
            ("expire k x foo", "-ERR Unsupported option foo\r\n"),
            ("expire k x nx xx", nx_err),
            (
                "expire k x",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "expire nokey x",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("expire k 10 nx nx", ":1\r\n"),
            (
                "expire",
                "-ERR wrong number of arguments for 'expire' command\r\n",
            ),
            (
                "pexpireat k",
                "-ERR wrong number of arguments for 'pexpireat' command\r\n",
            ),
        ]);
        assert_eq!(h.shard.db(0).volatile(), 1);
    }

    #[test]
    fn overflow_is_an_invalid_expire_time() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("set k v", "+OK\r\n"),
            (
                "expire k 9223372036854775807",
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                "expire k 9223372036854774",
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                "expire k -9223372036854776",
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                "pexpire k 9223372036854775807",
                "-ERR invalid expire time in 'pexpire' command\r\n",
            ),
            (
                "expireat k 9223372036854776",
                "-ERR invalid expire time in 'expireat' command\r\n",
            ),
            (
                "expireat k 9223372036854775807",
                "-ERR invalid expire time in 'expireat' command\r\n",
            ),
            (
                "expire nokey 9223372036854775807",
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            ("ttl k", ":-1\r\n"),
            // The extremes that fit are accepted.
            ("expireat k 9223372036854775", ":1\r\n"),
            ("expiretime k", ":9223372036854775\r\n"),
            ("pexpireat k 9223372036854775807", ":1\r\n"),
            ("pexpiretime k", ":9223372036854775807\r\n"),
            ("expiretime k", ":9223372036854776\r\n"),
            ("expire k -9223372036854775", ":1\r\n"),
            ("exists k", ":0\r\n"),
        ]);
    }

    #[test]
    fn nx_xx_gt_lt_conditions() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("set k v", "+OK\r\n"),
            ("expire k 10 xx", ":0\r\n"),
            ("expire k 10 gt", ":0\r\n"),
            ("expire k 10 xx gt", ":0\r\n"),
            ("expire k 10 xx lt", ":0\r\n"),
            ("expire k 10 lt", ":1\r\n"),
            ("expire k 20 nx", ":0\r\n"),
            ("expire k 20 lt", ":0\r\n"),
            ("expire k 10 lt", ":0\r\n"),
            ("expire k 10 gt", ":0\r\n"),
            ("expire k 11 gt", ":1\r\n"),
            ("ttl k", ":11\r\n"),
            ("expire k 5 xx gt", ":0\r\n"),
            ("pexpire k 10999 xx lt", ":1\r\n"),
            ("pttl k", ":10999\r\n"),
            ("persist k", ":1\r\n"),
            ("expire k 5 nx", ":1\r\n"),
            ("persist k", ":1\r\n"),
            // LT on a persistent key sets (infinite TTL is greater), even in the past.
            ("expire k -5 lt", ":1\r\n"),
            ("exists k", ":0\r\n"),
        ]);
        let c = ExpireCond::default();
        assert!(c.allows(0, 5) && c.allows(5, 1));
    }

    #[test]
    fn persist_removes_only_existing_expiries() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("persist k", ":0\r\n"),
            ("set k v", "+OK\r\n"),
            ("persist k", ":0\r\n"),
            ("pexpire k 100", ":1\r\n"),
            ("persist k", ":1\r\n"),
            ("persist k", ":0\r\n"),
            ("ttl k", ":-1\r\n"),
            ("pexpire k 100", ":1\r\n"),
        ]);
        assert_eq!(h.shard.db(0).volatile(), 1);
        h.now_ms += 100;
        assert_eq!(h.cmd("persist k"), ":0\r\n");
        assert_eq!(h.shard.db(0).volatile(), 0);
    }

    #[test]
    fn set_keeps_or_clears_ttl_as_redis() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("set k v ex 100", "+OK\r\n"),
            ("ttl k", ":100\r\n"),
            ("set k w", "+OK\r\n"),
            ("ttl k", ":-1\r\n"),
        ]);
        h.resp3 = true;
        h.script(&[("ttl nokey", ":-2\r\n"), ("pttl k", ":-1\r\n")]);
    }

    #[test]
    fn ttl_reads_count_keyspace_stats_but_expire_does_not() {
        let mut h = Harness::new(NOW);
        h.script(&[
            ("set k v", "+OK\r\n"),
            ("expire k 10", ":1\r\n"),
            ("expire x 10", ":0\r\n"),
        ]);
        assert_eq!(
            (
                h.shard.stats().keyspace_hits,
                h.shard.stats().keyspace_misses
            ),
            (0, 0)
        );
        h.script(&[("ttl k", ":10\r\n"), ("pttl x", ":-2\r\n")]);
        assert_eq!(
            (
                h.shard.stats().keyspace_hits,
                h.shard.stats().keyspace_misses
            ),
            (1, 1)
        );
    }
}
