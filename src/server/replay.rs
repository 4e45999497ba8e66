//! Applying a parsed append-only file ([`AofFile`]) to a shard, through the
//! command table: every command runs the same handler a client's would
//! ([`crate::cmd::run_on_shard`]), so a new command or value type needs nothing here.
//!
//! Replay starts in db 0 and runs the records in file order. Besides the
//! shard commands of the table it runs `SELECT`, and the keyspace-wide
//! `FLUSHDB`, `FLUSHALL` and `SWAPDB` on this shard alone (each shard's file
//! holds its own). The shard replayed into has no journal, so replay never
//! journals again (start-up writes a fresh base, or appends to the same
//! files, see load.rs).
//!
//! Invariants: commands run with the clock at 0, so nothing expires while a
//! file replays: the journal holds only absolute times and records every
//! removal by expiry as a `DEL` (shard/journal.rs), so a command sees exactly
//! the keys it saw when it first ran. The caller then removes what expired
//! before start-up ([`Shard::remove_expired`]). A transaction runs only
//! when it has no tag or `committed(tag)` says yes. A skipped transaction
//! changes no data, but its `SELECT`s still move the current db, because the
//! writer's idea of the selected db moved when it wrote them. An unknown
//! command, one that is not a write, a wrong argument count, a db index out of
//! range, a key this shard does not own, or a command that answers an error is
//! an [`AofError`] at the command's offset; nothing panics.

use crate::cmd::fanout::{FanEnv, FanOut, FanPart};
use crate::cmd::ops::OpResult;
use crate::cmd::table::{self, CommandSpec, Exec};
use crate::cmd::{run_on_shard, CommandClock};
use crate::persist::aof::{AofError, AofFile, Command, Record};
use crate::protocol::args::OwnedArgs;
use crate::protocol::parser::parse_i64;
use crate::shard::Shard;

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Commands run (`SELECT` included; a transaction's commands one by one).
    pub applied: usize,
    /// Transactions skipped because their tag was not committed.
    pub skipped_tx: usize,
}

/// The clock commands replay by: before every expiry time (see the header).
const REPLAY_CLOCK_MS: u64 = 0;

/// Applies `file`'s records to `shard` in order, starting in db 0. Tagged
/// transactions run only when `committed(tag)`. Keys expire only once the
/// caller calls [`Shard::remove_expired`] after the shard's last file.
pub fn apply(
    shard: &mut Shard,
    file: &AofFile,
    committed: &impl Fn(&str) -> bool,
) -> Result<ReplayStats, AofError> {
    let mut replay = Replayer {
        shard,
        db: 0,
        stats: ReplayStats::default(),
        out: Vec::new(),
    };
    for record in &file.records {
        match record {
            Record::Cmd(cmd) => replay.run(cmd)?,
            Record::Tx { tag, cmds, .. } => {
                if tag.as_deref().is_none_or(committed) {
                    cmds.iter().try_for_each(|cmd| replay.run(cmd))?;
                } else {
                    replay.skip(cmds)?;
                }
            }
        }
    }
    // Replay reads are not client reads.
    replay.shard.reset_stats();
    Ok(replay.stats)
}

/// The table entry of `cmd`, checked for arity.
fn lookup(cmd: &Command) -> Result<&'static CommandSpec, AofError> {
    let Some(name) = cmd.args.first() else {
        return Err(AofError::new(cmd.offset, "empty command"));
    };
    let shown = name.escape_ascii();
    let spec = table::lookup(name)
        .ok_or_else(|| AofError::new(cmd.offset, format!("unknown command '{shown}'")))?;
    if !spec.arity_ok(cmd.args.len()) {
        let msg = format!("wrong number of arguments for '{}' command", spec.name);
        return Err(AofError::new(cmd.offset, msg));
    }
    Ok(spec)
}

/// Replay state: the shard, the selected db, the counts so far and a reply
/// buffer (replies are dropped, errors reported).
struct Replayer<'a> {
    shard: &'a mut Shard,
    db: usize,
    stats: ReplayStats,
    out: Vec<u8>,
}

impl Replayer<'_> {
    /// Runs one command.
    fn run(&mut self, cmd: &Command) -> Result<(), AofError> {
        let spec = lookup(cmd)?;
        let err = |msg: &str| AofError::new(cmd.offset, format!("{}: {msg}", spec.name));
        let args = &cmd.args[1..];
        match spec.exec {
            Exec::Conn(_) if spec.name == "select" => {
                self.db = self.db_index(&args[0]).ok_or_else(|| err("bad db"))?;
            }
            Exec::FanOut(f) => self.run_fan_out(cmd, spec, f)?,
            Exec::Shard(_) | Exec::MultiKey(..) if spec.is_write() => self.run_shard(cmd, spec)?,
            _ => return Err(err("not a command that changes data")),
        }
        self.stats.applied += 1;
        Ok(())
    }

    /// Runs a shard command through its handler, as a client's would run.
    fn run_shard(&mut self, cmd: &Command, spec: &'static CommandSpec) -> Result<(), AofError> {
        let err = |msg: &str| AofError::new(cmd.offset, format!("{}: {msg}", spec.name));
        let owned = OwnedArgs::from_parts(&cmd.args);
        let args = owned.args();
        if spec
            .key_indexes(&args)
            .any(|k| self.shard.slots().shard_of(args.get(k)) != self.shard.id())
        {
            return Err(err("key belongs to another shard"));
        }
        self.out.clear();
        let mut clock = CommandClock::start(REPLAY_CLOCK_MS);
        let ok = run_on_shard(
            self.shard,
            spec,
            &args,
            self.db,
            false,
            &mut clock,
            true,
            &mut self.out,
        );
        if !ok {
            let reply = String::from_utf8_lossy(&self.out);
            return Err(err(reply.trim_start_matches('-').trim_end()));
        }
        Ok(())
    }

    /// Runs a keyspace-wide write (FLUSHDB, FLUSHALL, SWAPDB) as its spec
    /// declares it, on this shard only: its `plan`, then its `part`.
    fn run_fan_out(
        &mut self,
        cmd: &Command,
        spec: &'static CommandSpec,
        f: &'static FanOut,
    ) -> Result<(), AofError> {
        let err = |msg: &str| AofError::new(cmd.offset, format!("{}: {msg}", spec.name));
        let owned = OwnedArgs::from_parts(&cmd.args);
        let env = FanEnv {
            db: self.db,
            databases: self.shard.databases(),
            shards: 1,
        };
        let plan = (f.plan)(&owned.args(), &env).map_err(|e| err(&e.to_string()))?;
        if !spec.is_write() && !plan.server_write {
            return Err(err("not a command that changes data"));
        }
        let words: Vec<bytes::Bytes> = cmd
            .args
            .iter()
            .map(|a| bytes::Bytes::copy_from_slice(a))
            .collect();
        let part = FanPart {
            db: plan.db,
            now_ms: REPLAY_CLOCK_MS,
            args: &words,
            cursor: 0,
            count: 0,
        };
        match (f.part)(self.shard, &part) {
            OpResult::Err(e) => Err(err(&e.to_string())),
            _ => Ok(()),
        }
    }

    /// Skips an uncommitted transaction, following only its `SELECT`s.
    fn skip(&mut self, cmds: &[Command]) -> Result<(), AofError> {
        for cmd in cmds {
            if lookup(cmd)?.name == "select" {
                self.db = self
                    .db_index(&cmd.args[1])
                    .ok_or_else(|| AofError::new(cmd.offset, "select: bad db"))?;
            }
        }
        self.stats.skipped_tx += 1;
        Ok(())
    }

    /// Parses a db index below the shard's db count.
    fn db_index(&self, text: &[u8]) -> Option<usize> {
        let db = usize::try_from(parse_i64(text)?).ok()?;
        (db < self.shard.databases()).then_some(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::{self, parse};
    use crate::shard::value::Value;
    use crate::slot::SlotTable;

    const NOW: u64 = 1_000_000;

    fn shard() -> Shard {
        Shard::new(0, SlotTable::contiguous(1), 16)
    }

    fn value(shard: &mut Shard, db: usize, key: &[u8]) -> Option<(Value, u64)> {
        shard
            .get(db, key, NOW)
            .map(|e| (e.value.clone(), e.expire_at()))
    }

    fn replay(shard: &mut Shard, data: &[u8]) -> Result<ReplayStats, AofError> {
        let file = parse(data).unwrap();
        let stats = apply(shard, &file, &|tag| file.commits.contains(tag))?;
        shard.remove_expired(NOW);
        Ok(stats)
    }

    fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    #[test]
    fn applies_every_command() {
        let data = enc(|o| {
            aof::encode_set(o, b"n", b"5", 0);
            aof::encode_set(o, b"s", b"x y", NOW + 10);
            aof::encode_set(o, b"gone", b"1", NOW);
            aof::encode_select(o, 3);
            aof::encode_set(o, b"a", b"1", 0);
            aof::encode_set(o, b"b", b"2", 0);
            aof::encode_pexpireat(o, b"a", NOW + 5);
            aof::encode_pexpireat(o, b"b", NOW);
            aof::encode_select(o, 0);
            aof::encode_persist(o, b"s");
            aof::encode_swapdb(o, 0, 3);
        });
        let mut s = shard();
        let stats = replay(&mut s, &data).unwrap();
        assert_eq!(
            stats,
            ReplayStats {
                applied: 11,
                skipped_tx: 0
            }
        );
        assert_eq!(value(&mut s, 3, b"n"), Some((Value::int(5), 0)));
        assert_eq!(value(&mut s, 3, b"s"), Some((Value::string(b"x y"), 0)));
        assert_eq!(value(&mut s, 3, b"gone"), None);
        assert_eq!(value(&mut s, 0, b"a"), Some((Value::int(1), NOW + 5)));
        assert_eq!(value(&mut s, 0, b"b"), None);
    }

    #[test]
    fn names_are_case_insensitive_and_del_takes_many_keys() {
        let data = enc(|o| {
            aof::encode_command(o, &[b"set", b"a", b"1", b"pxat", b"2000000"]);
            aof::encode_command(o, &[b"Set", b"b", b"2"]);
            aof::encode_command(o, &[b"Set", b"c", b"3"]);
            aof::encode_command(o, &[b"del", b"a", b"b", b"nope"]);
        });
        let mut s = shard();
        replay(&mut s, &data).unwrap();
        assert_eq!(value(&mut s, 0, b"a"), None);
        assert_eq!(value(&mut s, 0, b"b"), None);
        assert_eq!(value(&mut s, 0, b"c"), Some((Value::int(3), 0)));
    }

    #[test]
    fn flushes() {
        let data = enc(|o| {
            aof::encode_set(o, b"a", b"1", 0);
            aof::encode_select(o, 1);
            aof::encode_set(o, b"b", b"1", 0);
            aof::encode_set(o, b"c", b"1", 0);
            aof::encode_flushdb(o);
            aof::encode_set(o, b"c", b"2", 0);
        });
        let mut s = shard();
        replay(&mut s, &data).unwrap();
        assert_eq!(value(&mut s, 0, b"a"), Some((Value::int(1), 0)));
        assert_eq!(value(&mut s, 1, b"b"), None);
        assert_eq!(value(&mut s, 1, b"c"), Some((Value::int(2), 0)));
        replay(&mut s, &enc(aof::encode_flushall)).unwrap();
        assert_eq!(value(&mut s, 0, b"a"), None);
        assert_eq!(value(&mut s, 1, b"c"), None);
    }

    #[test]
    fn transactions_run_only_when_committed() {
        let data = enc(|o| {
            aof::encode_tx_begin(o, "t1");
            aof::encode_set(o, b"a", b"1", 0);
            aof::encode_tx_end(o);
            aof::encode_commit(o, "t1");
            aof::encode_tx_begin(o, "t2");
            aof::encode_select(o, 2);
            aof::encode_set(o, b"b", b"1", 0);
            aof::encode_tx_end(o);
            aof::encode_command(o, &[b"MULTI"]);
            aof::encode_set(o, b"c", b"1", 0);
            aof::encode_tx_end(o);
        });
        let mut s = shard();
        let stats = replay(&mut s, &data).unwrap();
        assert_eq!(
            stats,
            ReplayStats {
                applied: 2,
                skipped_tx: 1
            }
        );
        assert_eq!(value(&mut s, 0, b"a"), Some((Value::int(1), 0)));
        assert_eq!(value(&mut s, 2, b"b"), None);
        // The skipped transaction's SELECT still moved the current db.
        assert_eq!(value(&mut s, 2, b"c"), Some((Value::int(1), 0)));
    }

    #[test]
    fn bad_commands_are_errors_at_their_offset() {
        let cases: &[&[&[u8]]] = &[
            &[b"GET", b"a"],
            &[b"SELECT", b"16"],
            &[b"SELECT", b"-1"],
            &[b"SELECT"],
            &[b"SET", b"a"],
            &[b"SET", b"a", b"1", b"PX", b"x"],
            &[b"SET", b"a", b"1", b"BOGUS"],
            &[b"INCR"],
            &[b"TTL", b"a"],
            &[b"PING"],
            &[b"SET", b"a", b"1", b"PXAT", b"x"],
            &[b"SET", b"a", b"1", b"PXAT", b"0"],
            &[b"DEL"],
            &[b"PEXPIREAT", b"a", b"1.5"],
            &[b"PERSIST"],
            &[b"FLUSHDB", b"NOW"],
            &[b"FLUSHALL", b"ASYNC", b"SYNC"],
            &[b"SWAPDB", b"0", b"99"],
        ];
        for args in cases {
            let mut data = enc(|o| aof::encode_select(o, 1));
            let at = data.len();
            aof::encode_command(&mut data, args);
            let err = replay(&mut shard(), &data).unwrap_err();
            assert_eq!(err.offset, at, "{err}");
        }
    }

    #[test]
    fn error_inside_a_transaction_names_the_command() {
        let data = enc(|o| {
            aof::encode_command(o, &[b"MULTI"]);
            aof::encode_command(o, &[b"BOGUS"]);
            aof::encode_tx_end(o);
        });
        let err = replay(&mut shard(), &data).unwrap_err();
        assert_eq!(err.offset, 15);
        assert!(err.message.contains("unknown command 'BOGUS'"), "{err}");
    }

    #[test]
    fn corrupt_files_never_panic() {
        use rand::{Rng, SeedableRng};
        let data = enc(|o| {
            aof::encode_select(o, 15);
            aof::encode_set(o, b"k", b"1", NOW + 1);
            aof::encode_tx_begin(o, "t");
            aof::encode_pexpireat(o, b"k", NOW + 9);
            aof::encode_swapdb(o, 15, 1);
            aof::encode_tx_end(o);
            aof::encode_commit(o, "t");
            aof::encode_del(o, b"k");
        });
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut s = shard();
        for _ in 0..3000 {
            let mut bad = data.clone();
            let i = rng.gen_range(0..bad.len());
            bad[i] = rng.gen();
            if let Ok(file) = parse(&bad) {
                let _ = apply(&mut s, &file, &|_| true);
            }
        }
    }

    #[test]
    fn keys_of_other_shards_are_rejected() {
        let table = SlotTable::contiguous(2);
        let key = (0..)
            .map(|i| format!("k{i}"))
            .find(|k| table.shard_of(k.as_bytes()) == 1)
            .unwrap();
        let mut s = Shard::new(0, table, 16);
        let data = enc(|o| aof::encode_set(o, key.as_bytes(), b"1", 0));
        let err = replay(&mut s, &data).unwrap_err();
        assert!(err.message.contains("another shard"), "{err}");
    }
}
