//! Generic keyspace commands, declared here once each: DEL, UNLINK, REMOVE,
//! EXISTS, TOUCH, TYPE ([this file]), the expiry family ([`expire`]), RENAME,
//! RENAMENX and COPY ([`rename`]), MOVE ([`move_cmd`]), OBJECT ([`object`]), and the per-shard halves of KEYS, SCAN and
//! RANDOMKEY ([`scan`]), with how those three fan out and merge
//! ([`keyspace`]). DEL, EXISTS and their kin declare here how they split
//! across shards (`DEL_SPLIT`, `EXISTS_SPLIT`, cmd/split.rs).
//!
//! Handlers run on the shard owning their keys and follow Redis 7.0 to the
//! byte. Multi-key handlers here are the single-shard case of their command:
//! the router calls them when every key lives on one shard and splits the
//! command otherwise. Time comes from `ExecCtx::now_ms` only, never the wall
//! clock, so the TTL logic is tested with a manual clock (the `harness` test module).
//!
//! Keyspace statistics follow Redis's lookup flavours: reads (EXISTS, TOUCH,
//! TYPE, TTL family, COPY's source) count hits and misses, writes do not.

pub mod dump;
pub mod expire;
#[cfg(test)]
mod journal_tests;
pub mod keyspace;
pub mod move_cmd;
pub mod object;
pub mod rename;
pub mod scan;

use super::error::CmdResult;
use super::split::{self, Parts, Split, SplitParts};
use super::table::{flag::*, spec, CommandSpec, Exec, NO_KEYS};
use super::ExecCtx;
use crate::protocol::Args;
use crate::slot::SlotTable;

pub use rename::{parse_copy_args, CopyArgs};
pub use scan::{keys_in_shard, parse_scan_args, random_key, scan_shard, ScanArgs, SCAN_HASH_BITS};

const KEYSPACE_WRITE_SLOW: &[&str] = &["keyspace", "write", "slow"];
const KEYSPACE_WRITE_FAST: &[&str] = &["keyspace", "write", "fast"];
const KEYSPACE_READ_FAST: &[&str] = &["keyspace", "read", "fast"];
const DEL_SUMMARY: &str = "Delete a key";

/// Name, arity, flags, key positions, ACL categories, summary and since are
/// those of Redis 7.0's `COMMAND INFO` / `COMMAND DOCS`. REMOVE is ringkv's
/// alias of DEL (same spec, another name).
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("generic", "del", -2, WRITE, (1, -1, 1), KEYSPACE_WRITE_SLOW, DEL_SUMMARY, "1.0.0", Exec::MultiKey(del, DEL_SPLIT)),
    spec("generic", "unlink", -2, WRITE | FAST, (1, -1, 1), KEYSPACE_WRITE_FAST, "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "4.0.0", Exec::MultiKey(del, DEL_SPLIT)),
    spec("generic", "remove", -2, WRITE, (1, -1, 1), KEYSPACE_WRITE_SLOW, DEL_SUMMARY, "1.0.0", Exec::MultiKey(del, DEL_SPLIT)),
    spec("generic", "exists", -2, READONLY | FAST, (1, -1, 1), KEYSPACE_READ_FAST, "Determine if a key exists", "1.0.0", Exec::MultiKey(exists, EXISTS_SPLIT)),
    spec("generic", "touch", -2, READONLY | FAST, (1, -1, 1), KEYSPACE_READ_FAST, "Alters the last access time of a key(s). Returns the number of existing keys specified.", "3.2.1", Exec::MultiKey(touch, EXISTS_SPLIT)),
    object::OBJECT,
    spec("generic", "type", 2, READONLY | FAST, (1, 1, 1), KEYSPACE_READ_FAST, "Determine the type stored at key", "1.0.0", Exec::Shard(type_)),
    spec("generic", "rename", 3, WRITE, (1, 2, 1), KEYSPACE_WRITE_SLOW, "Rename a key", "1.0.0", Exec::MultiKey(rename::rename, Split::Rename { nx: false })),
    spec("generic", "renamenx", 3, WRITE | FAST, (1, 2, 1), KEYSPACE_WRITE_FAST, "Rename a key, only if the new key does not exist", "1.0.0", Exec::MultiKey(rename::renamenx, Split::Rename { nx: true })),
    spec("generic", "move", 3, WRITE | FAST, (1, 1, 1), KEYSPACE_WRITE_FAST, "Move a key to another database", "1.0.0", Exec::Shard(move_cmd::move_key)),
    spec("generic", "dump", 2, READONLY, (1, 1, 1), &["keyspace", "read", "slow"], "Return a serialized version of the value stored at the specified key.", "2.6.0", Exec::Shard(dump::dump)),
    spec("generic", "restore", -4, WRITE | DENYOOM, (1, 1, 1), &["keyspace", "write", "slow", "dangerous"], "Create a key using the provided serialized value, previously obtained using DUMP.", "2.6.0", Exec::Shard(dump::restore)),
    spec("generic", "copy", -3, WRITE | DENYOOM, (1, 2, 1), KEYSPACE_WRITE_SLOW, "Copy a key", "6.2.0", Exec::MultiKey(rename::copy, Split::Copy)),
    spec("generic", "expire", -3, WRITE | FAST, (1, 1, 1), KEYSPACE_WRITE_FAST, "Set a key's time to live in seconds", "1.0.0", Exec::Shard(expire::expire)),
    spec("generic", "pexpire", -3, WRITE | FAST, (1, 1, 1), KEYSPACE_WRITE_FAST, "Set a key's time to live in milliseconds", "2.6.0", Exec::Shard(expire::pexpire)),
    spec("generic", "expireat", -3, WRITE | FAST, (1, 1, 1), KEYSPACE_WRITE_FAST, "Set the expiration for a key as a UNIX timestamp", "1.2.0", Exec::Shard(expire::expireat)),
    spec("generic", "pexpireat", -3, WRITE | FAST, (1, 1, 1), KEYSPACE_WRITE_FAST, "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0", Exec::Shard(expire::pexpireat)),
    spec("generic", "ttl", 2, READONLY | FAST, (1, 1, 1), KEYSPACE_READ_FAST, "Get the time to live for a key in seconds", "1.0.0", Exec::Shard(expire::ttl)),
    spec("generic", "pttl", 2, READONLY | FAST, (1, 1, 1), KEYSPACE_READ_FAST, "Get the time to live for a key in milliseconds", "2.6.0", Exec::Shard(expire::pttl)),
    spec("generic", "expiretime", 2, READONLY | FAST, (1, 1, 1), KEYSPACE_READ_FAST, "Get the expiration Unix timestamp for a key", "7.0.0", Exec::Shard(expire::expiretime)),
    spec("generic", "pexpiretime", 2, READONLY | FAST, (1, 1, 1), KEYSPACE_READ_FAST, "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", Exec::Shard(expire::pexpiretime)),
    spec("generic", "keys", 2, READONLY, NO_KEYS, &["keyspace", "read", "slow", "dangerous"], "Find all keys matching the given pattern", "1.0.0", Exec::FanOut(&keyspace::KEYS)),
    spec("generic", "scan", -2, READONLY, NO_KEYS, &["keyspace", "read", "slow"], "Incrementally iterate the keys space", "2.8.0", Exec::FanOut(&keyspace::SCAN)),
    spec("generic", "randomkey", 1, READONLY, NO_KEYS, &["keyspace", "read", "slow"], "Return a random key from the keyspace", "1.0.0", Exec::FanOut(&keyspace::RANDOMKEY)),
    spec("generic", "persist", 2, WRITE | FAST, (1, 1, 1), KEYSPACE_WRITE_FAST, "Remove the expiration from a key", "2.2.0", Exec::Shard(expire::persist)),
];

/// DEL, UNLINK, REMOVE: deletes the keys, replies how many existed. A key
/// named twice counts once (the second delete finds nothing). Journaled as
/// received when the keys share a slot, else as one `DEL` per removed key.
fn del(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    let one_slot = one_slot(args.iter_from(1));
    let mut n = 0;
    for k in args.iter_from(1) {
        if ctx.shard.remove(db, k, now).is_some() {
            n += 1;
            if !one_slot {
                ctx.propagate(&[b"DEL", k]);
            }
        }
    }
    ctx.reply.int(n as i64);
    Ok(())
}

/// True when every key hashes to the same slot (a command over them can be
/// journaled as one record; see shard/journal.rs).
pub fn one_slot<'a>(mut keys: impl Iterator<Item = &'a [u8]>) -> bool {
    use crate::slot::key_slot;
    let Some(first) = keys.next().map(key_slot) else {
        return true;
    };
    keys.all(|k| key_slot(k) == first)
}

/// DEL, UNLINK, REMOVE over several shards: each shard deletes its keys,
/// the counts add up.
pub const DEL_SPLIT: Split = Split::Parts(&SplitParts {
    split: split_keys,
    merge: merge_sum,
    key_flags: &["RM", "delete"],
});

/// EXISTS and TOUCH over several shards: each shard counts its keys, the
/// counts add up.
pub const EXISTS_SPLIT: Split = Split::Parts(&SplitParts {
    split: split_keys,
    merge: merge_sum,
    key_flags: &["RO", "access"],
});

/// One part per shard over that shard's keys.
fn split_keys(slots: SlotTable, args: &Args) -> Result<Parts, super::CmdError> {
    Ok(split::by_shard(slots, args, 1))
}

/// The sum of the parts' integer replies (or the first part's error).
fn merge_sum(_: SlotTable, _: &Args, replies: &[&[u8]], out: &mut Vec<u8>) -> Option<bool> {
    if split::first_error(replies, out) {
        return Some(false);
    }
    crate::protocol::ReplyWriter::new(out, false).int(split::sum_ints(replies)?);
    Some(true)
}

/// EXISTS and TOUCH: how many of the keys exist, a key named twice counting
/// twice. (TOUCH would also refresh the LRU clock once eviction tracks it.)
/// EXISTS: counts present keys without touching their access clocks
/// (Redis's `LOOKUP_NOTOUCH`).
fn exists(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    let n = args
        .iter_from(1)
        .filter(|k| ctx.shard.peek_counted(db, k, now).is_some())
        .count();
    ctx.reply.int(n as i64);
    Ok(())
}

/// TOUCH: as EXISTS, and updates each present key's access clock.
fn touch(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    let n = args
        .iter_from(1)
        .filter(|k| ctx.shard.get_counted(db, k, now).is_some())
        .count();
    ctx.reply.int(n as i64);
    Ok(())
}

/// TYPE: the value's type name as a status reply, `none` when missing.
fn type_(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let name = match ctx.shard.peek_counted(ctx.db, args.get(1), ctx.now_ms) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    ctx.reply.simple(name);
    Ok(())
}

/// The manual-clock harness: one shard, a selected DB, a clock the test moves,
/// and commands run through the table exactly as the router would (arity
/// check, then the handler), returning the reply bytes.
#[cfg(test)]
pub(crate) mod harness {
    use crate::cmd::{run_on_shard, table};
    use crate::protocol::args::OwnedArgs;
    use crate::shard::Shard;
    use crate::slot::SlotTable;

    pub struct Harness {
        pub shard: Shard,
        pub db: usize,
        pub now_ms: u64,
        pub resp3: bool,
    }

    impl Harness {
        /// A single shard owning every slot, 16 DBs, clock at `now_ms`.
        pub fn new(now_ms: u64) -> Self {
            Harness {
                shard: Shard::new(0, SlotTable::contiguous(1), 16),
                db: 0,
                now_ms,
                resp3: false,
            }
        }

        /// Runs one command given as separate arguments; returns the reply.
        pub fn run<A: AsRef<[u8]>>(&mut self, parts: &[A]) -> String {
            String::from_utf8_lossy(&self.run_bytes(parts)).into_owned()
        }

        /// Runs one command given as separate arguments; returns the reply's bytes.
        pub fn run_bytes<A: AsRef<[u8]>>(&mut self, parts: &[A]) -> Vec<u8> {
            let owned = OwnedArgs::from_parts(parts.iter().map(|p| p.as_ref()));
            let args = owned.args();
            let mut out = Vec::new();
            let name = String::from_utf8_lossy(args.get(0)).to_lowercase();
            let spec = table::lookup(args.get(0)).expect("unknown command");
            if !spec.arity_ok(args.len()) {
                return format!("-ERR wrong number of arguments for '{name}' command\r\n").into();
            }
            run_on_shard(
                &mut self.shard,
                spec,
                &args,
                self.db,
                self.resp3,
                &mut crate::cmd::CommandClock::start(self.now_ms),
                false,
                &mut out,
            );
            out
        }

        /// Runs a command written as whitespace-separated words.
        pub fn cmd(&mut self, line: &str) -> String {
            self.run(&line.split_whitespace().collect::<Vec<_>>())
        }

        /// Asserts the replies of a script of `(command, reply)` lines.
        pub fn script(&mut self, steps: &[(&str, &str)]) {
            for (line, want) in steps {
                assert_eq!(self.cmd(line), *want, "command {line:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::harness::Harness;
    use crate::cmd::table::{self, flag};

    #[test]
    fn del_unlink_remove_count_existing_keys() {
        let mut h = Harness::new(1_000);
        h.script(&[
            ("set a 1", "+OK\r\n"),
            ("set b 2", "+OK\r\n"),
            ("set c 3", "+OK\r\n"),
            ("del a a nokey", ":1\r\n"),
            ("unlink b c", ":2\r\n"),
            ("set d 1", "+OK\r\n"),
            ("REMOVE d d", ":1\r\n"),
            ("del d", ":0\r\n"),
            (
                "del",
                "-ERR wrong number of arguments for 'del' command\r\n",
            ),
            (
                "unlink",
                "-ERR wrong number of arguments for 'unlink' command\r\n",
            ),
        ]);
    }

    #[test]
    fn exists_and_touch_count_duplicates() {
        let mut h = Harness::new(1_000);
        h.script(&[
            ("set a 1", "+OK\r\n"),
            ("exists a a nokey", ":2\r\n"),
            ("touch a a b", ":2\r\n"),
            ("exists nokey", ":0\r\n"),
        ]);
        assert_eq!(h.shard.stats().keyspace_hits, 4);
        assert_eq!(h.shard.stats().keyspace_misses, 3);
    }

    #[test]
    fn type_reports_none_and_string() {
        let mut h = Harness::new(1_000);
        h.script(&[
            ("type a", "+none\r\n"),
            ("set a 12", "+OK\r\n"),
            ("type a", "+string\r\n"),
            ("set b xyz px 10", "+OK\r\n"),
            ("type b", "+string\r\n"),
        ]);
        h.now_ms += 10;
        assert_eq!(h.cmd("type b"), "+none\r\n");
        assert_eq!(h.cmd("exists b"), ":0\r\n");
        h.resp3 = true;
        assert_eq!(h.cmd("type a"), "+string\r\n");
    }

    #[test]
    fn expired_keys_are_invisible_to_del_and_exists() {
        let mut h = Harness::new(5_000);
        h.script(&[("set a 1 px 100", "+OK\r\n"), ("set b 1", "+OK\r\n")]);
        h.now_ms += 100;
        h.script(&[("exists a b", ":1\r\n"), ("del a b", ":1\r\n")]);
        assert_eq!(h.shard.db(0).len(), 0);
    }

    /// The table entries as Redis 7.0's `COMMAND INFO` reports them.
    #[test]
    fn specs_match_redis_command_info() {
        use flag::*;
        type Info = (
            &'static str,
            i32,
            u32,
            (i32, i32, i32),
            &'static [&'static str],
        );
        let expect: &[Info] = &[
            ("del", -2, WRITE, (1, -1, 1), &["keyspace", "write", "slow"]),
            (
                "unlink",
                -2,
                WRITE | FAST,
                (1, -1, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "remove",
                -2,
                WRITE,
                (1, -1, 1),
                &["keyspace", "write", "slow"],
            ),
            (
                "exists",
                -2,
                READONLY | FAST,
                (1, -1, 1),
                &["keyspace", "read", "fast"],
            ),
            (
                "touch",
                -2,
                READONLY | FAST,
                (1, -1, 1),
                &["keyspace", "read", "fast"],
            ),
            (
                "type",
                2,
                READONLY | FAST,
                (1, 1, 1),
                &["keyspace", "read", "fast"],
            ),
            (
                "rename",
                3,
                WRITE,
                (1, 2, 1),
                &["keyspace", "write", "slow"],
            ),
            (
                "renamenx",
                3,
                WRITE | FAST,
                (1, 2, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "move",
                3,
                WRITE | FAST,
                (1, 1, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "copy",
                -3,
                WRITE | DENYOOM,
                (1, 2, 1),
                &["keyspace", "write", "slow"],
            ),
            (
                "expire",
                -3,
                WRITE | FAST,
                (1, 1, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "pexpire",
                -3,
                WRITE | FAST,
                (1, 1, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "expireat",
                -3,
                WRITE | FAST,
                (1, 1, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "pexpireat",
                -3,
                WRITE | FAST,
                (1, 1, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "ttl",
                2,
                READONLY | FAST,
                (1, 1, 1),
                &["keyspace", "read", "fast"],
            ),
            (
                "pttl",
                2,
                READONLY | FAST,
                (1, 1, 1),
                &["keyspace", "read", "fast"],
            ),
            (
                "expiretime",
                2,
                READONLY | FAST,
                (1, 1, 1),
                &["keyspace", "read", "fast"],
            ),
            (
                "pexpiretime",
                2,
                READONLY | FAST,
                (1, 1, 1),
                &["keyspace", "read", "fast"],
            ),
            (
                "keys",
                2,
                READONLY,
                (0, 0, 0),
                &["keyspace", "read", "slow", "dangerous"],
            ),
            (
                "scan",
                -2,
                READONLY,
                (0, 0, 0),
                &["keyspace", "read", "slow"],
            ),
            (
                "randomkey",
                1,
                READONLY,
                (0, 0, 0),
                &["keyspace", "read", "slow"],
            ),
            (
                "persist",
                2,
                WRITE | FAST,
                (1, 1, 1),
                &["keyspace", "write", "fast"],
            ),
            (
                "dump",
                2,
                READONLY,
                (1, 1, 1),
                &["keyspace", "read", "slow"],
            ),
            (
                "restore",
                -4,
                WRITE | DENYOOM,
                (1, 1, 1),
                &["keyspace", "write", "slow", "dangerous"],
            ),
            // Redis declares the container keyless (0, 0, 0); ringkv routes
            // it by its subcommands' key (2, 2, 1): see object.rs.
            ("object", -2, 0, (2, 2, 1), &["slow"]),
        ];
        for (name, arity, flags, keys, acl) in expect {
            let c = table::lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(c.arity, *arity, "{name}");
            assert_eq!(c.flags, *flags, "{name}");
            assert_eq!((c.first_key, c.last_key, c.step), *keys, "{name}");
            assert_eq!(c.acl, *acl, "{name}");
            assert_eq!(c.group, "generic", "{name}");
        }
        assert_eq!(super::COMMANDS.len(), expect.len());
    }
}
