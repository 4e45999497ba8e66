//! DUMP and RESTORE: a value moved as Redis 7.0's payload (the value's RDB
//! encoding, the RDB version and a CRC64), so a payload DUMPed from
//! redis-server restores here and the other way round.
//!
//! RESTORE follows Redis's order of checks: options (REPLACE, ABSTTL,
//! IDLETIME or FREQ, not both), then BUSYKEY, then the TTL, then the footer,
//! then the value. A relative TTL is journaled as the absolute time with
//! ABSTTL (so replay stores the same expiry); a TTL already past stores
//! nothing and, if REPLACE removed a key, journals that `DEL`.

use super::super::error::{CmdError, CmdResult};
use super::super::{arg_i64, eq_ic, ExecCtx};
use crate::persist::rdb::{encode_dump, read_dump, DumpError};
use crate::protocol::Args;
use crate::shard::value::Value;

/// DUMP key: the payload, or nil for a missing key (a counted read).
pub fn dump(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    match ctx.shard.get_counted(db, args.get(1), now) {
        Some(entry) => {
            let mut payload = Vec::new();
            encode_dump(&mut payload, &entry.value);
            ctx.reply.bulk(&payload);
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

/// RESTORE's options after the payload.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    pub replace: bool,
    pub absttl: bool,
    /// IDLETIME seconds (at least 0).
    pub idle_secs: Option<u64>,
    /// FREQ counter (0..=255).
    pub freq: Option<u8>,
}

/// Parses the options from argument 4 on, with Redis's errors.
pub fn parse_restore_options(args: &Args) -> Result<RestoreOptions, CmdError> {
    let mut o = RestoreOptions::default();
    let mut i = 4;
    while i < args.len() {
        let (a, more) = (args.get(i), i + 1 < args.len());
        if eq_ic(a, "replace") {
            o.replace = true;
        } else if eq_ic(a, "absttl") {
            o.absttl = true;
        } else if eq_ic(a, "idletime") && more && o.freq.is_none() {
            let n = arg_i64(args.get(i + 1))?;
            if n < 0 {
                return Err(CmdError::Static("ERR Invalid IDLETIME value, must be >= 0"));
            }
            o.idle_secs = Some(n as u64);
            i += 1;
        } else if eq_ic(a, "freq") && more && o.idle_secs.is_none() {
            let n = arg_i64(args.get(i + 1))?;
            if !(0..=255).contains(&n) {
                return Err(CmdError::Static(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            o.freq = Some(n as u8);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`.
pub fn restore(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    let opts = parse_restore_options(args)?;
    if !opts.replace && ctx.shard.exists(db, key, now) {
        return Err(CmdError::Static("BUSYKEY Target key name already exists."));
    }
    let ttl = arg_i64(args.get(2))?;
    if ttl < 0 {
        return Err(CmdError::Static("ERR Invalid TTL value, must be >= 0"));
    }
    let value: Value =
        read_dump(args.get(3), ctx.shard.encoding_limits()).map_err(|e| match e {
            DumpError::VersionOrChecksum => {
                CmdError::Static("ERR DUMP payload version or checksum are wrong")
            }
            DumpError::BadFormat => CmdError::Static("ERR Bad data format"),
        })?;
    let deleted = opts.replace && ctx.shard.remove(db, key, now).is_some();
    let expire_at = match (ttl as u64, opts.absttl) {
        (0, _) => 0,
        (t, true) => t,
        (t, false) => t.saturating_add(now),
    };
    if expire_at != 0 && expire_at <= now {
        if deleted {
            ctx.propagate(&[b"DEL", key]);
        }
        ctx.reply.ok();
        return Ok(());
    }
    ctx.shard.set(db, key, value, expire_at);
    ctx.shard
        .restore_clock(db, key, now, opts.idle_secs, opts.freq);
    if expire_at != 0 && !opts.absttl {
        let mut at = itoa::Buffer::new();
        let mut argv: Vec<&[u8]> = args.iter_from(0).collect();
        argv[2] = at.format(expire_at).as_bytes();
        argv.push(b"ABSTTL");
        ctx.propagate(&argv);
    }
    ctx.reply.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::harness::Harness;
    use crate::persist::rdb::crc64::crc64;

    const NOW: u64 = 1_700_000_000_000;

    /// A payload as Redis builds it: `body`, version 10, CRC64 of both.
    fn payload(body: &[u8]) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&[10, 0]);
        let crc = crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    fn bulk(b: &[u8]) -> Vec<u8> {
        let mut out = format!("${}\r\n", b.len()).into_bytes();
        out.extend_from_slice(b);
        out.extend_from_slice(b"\r\n");
        out
    }

    #[test]
    fn dump_writes_redis_payloads() {
        let mut h = Harness::new(NOW);
        h.script(&[("set n 123", "+OK\r\n"), ("set s hello", "+OK\r\n")]);
        assert_eq!(h.run_bytes(&["dump", "n"]), bulk(&payload(b"\x00\xc0\x7b")));
        assert_eq!(
            h.run_bytes(&["dump", "s"]),
            bulk(&payload(b"\x00\x05hello"))
        );
        h.script(&[("dump nokey", "$-1\r\n")]);
    }

    #[test]
    fn restore_checks_in_redis_order_and_keeps_ttl() {
        let mut h = Harness::new(NOW);
        let p = payload(b"\x00\x05hello");
        let restore = |h: &mut Harness, rest: &[&[u8]]| {
            let mut argv: Vec<&[u8]> = vec![b"restore"];
            argv.extend_from_slice(rest);
            h.run(&argv)
        };
        assert_eq!(restore(&mut h, &[b"k", b"0", &p]), "+OK\r\n");
        assert_eq!(h.cmd("get k"), "$5\r\nhello\r\n");
        let busy = "-BUSYKEY Target key name already exists.\r\n";
        assert_eq!(restore(&mut h, &[b"k", b"0", &p]), busy);
        // Options are parsed before BUSYKEY, BUSYKEY before the TTL.
        assert_eq!(
            restore(&mut h, &[b"k", b"0", &p, b"nope"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(restore(&mut h, &[b"k", b"-1", &p]), busy);
        assert_eq!(
            restore(&mut h, &[b"x", b"-1", &p]),
            "-ERR Invalid TTL value, must be >= 0\r\n"
        );
        assert_eq!(
            restore(&mut h, &[b"x", b"0", &p, b"idletime", b"-1"]),
            "-ERR Invalid IDLETIME value, must be >= 0\r\n"
        );
        assert_eq!(
            restore(&mut h, &[b"x", b"0", &p, b"freq", b"256"]),
            "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"
        );
        assert_eq!(
            restore(&mut h, &[b"x", b"0", &p, b"idletime", b"1", b"freq", b"1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            restore(&mut h, &[b"x", b"0", &p, b"freq"]),
            "-ERR syntax error\r\n"
        );
        let wrong = "-ERR DUMP payload version or checksum are wrong\r\n";
        assert_eq!(restore(&mut h, &[b"x", b"0", b"short"]), wrong);
        let mut corrupt = p.clone();
        corrupt[3] ^= 1;
        assert_eq!(restore(&mut h, &[b"x", b"0", &corrupt]), wrong);
        let mut newer = payload(b"\x00\x01a");
        newer[3] = 11;
        assert_eq!(restore(&mut h, &[b"x", b"0", &newer]), wrong);
        let bad = "-ERR Bad data format\r\n";
        assert_eq!(
            restore(&mut h, &[b"x", b"0", &payload(b"\x00\x05hel")]),
            bad
        );
        assert_eq!(restore(&mut h, &[b"x", b"0", &payload(b"\x63\x00")]), bad);
        assert_eq!(restore(&mut h, &[b"x", b"0", &payload(b"")]), bad);
        // A relative TTL, an absolute one, REPLACE.
        assert_eq!(restore(&mut h, &[b"t", b"5000", &p]), "+OK\r\n");
        assert_eq!(h.cmd("pttl t"), ":5000\r\n");
        let at = (NOW + 9000).to_string();
        let args: [&[u8]; 6] = [b"k", at.as_bytes(), &p, b"REPLACE", b"ABSTTL", b"IDLETIME"];
        assert_eq!(restore(&mut h, &args[..5]), "+OK\r\n");
        assert_eq!(h.cmd("pttl k"), ":9000\r\n");
        // Already expired: nothing stored, and REPLACE still removes the old key.
        let past = (NOW - 1).to_string();
        assert_eq!(
            restore(&mut h, &[b"k", past.as_bytes(), &p, b"replace", b"absttl"]),
            "+OK\r\n"
        );
        assert_eq!(h.cmd("exists k"), ":0\r\n");
        assert_eq!(
            restore(&mut h, &[b"new", past.as_bytes(), &p, b"absttl"]),
            "+OK\r\n"
        );
        assert_eq!(h.cmd("exists new"), ":0\r\n");
        // IDLETIME sets the access clock as if the key was last read then.
        assert_eq!(
            restore(&mut h, &[b"idle", b"0", &p, b"IDLETIME", b"50"]),
            "+OK\r\n"
        );
        assert_eq!(h.cmd("object idletime idle"), ":50\r\n");
    }
}
