//! Applying a parsed append-only file ([`AofFile`]) to a shard.
//!
//! Replay starts in db 0 and runs the records in file order. The commands
//! understood are exactly those the [`aof`](crate::persist::aof) encoders write (names
//! ASCII case-insensitive):
//!
//! ```text
//! SELECT db                 FLUSHDB [ASYNC|SYNC]
//! SET key value [PXAT ms]   FLUSHALL [ASYNC|SYNC]
//! DEL key [key ...]         SWAPDB a b
//! PEXPIREAT key ms          PERSIST key
//! ```
//!
//! Invariants: values are built with [`Value::string`], so integers get the
//! integer encoding exactly as `SET` gives them; an expiry time `<= now_ms`
//! removes the key instead of storing it; a transaction runs only when it has
//! no tag or `committed(tag)` says yes. A skipped transaction changes no data,
//! but its `SELECT`s still move the current db, because the writer's idea of
//! the selected db moved when it wrote them. An unknown command, a wrong
//! argument count, a bad number, a db index out of range or a key this shard
//! does not own is an [`AofError`] at the command's offset; nothing panics.

use crate::persist::aof::{AofError, AofFile, Command, Record};
use crate::protocol::parser::parse_i64;
use crate::shard::value::Value;
use crate::shard::Shard;

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Commands run (`SELECT` included; a transaction's commands one by one).
    pub applied: usize,
    /// Transactions skipped because their tag was not committed.
    pub skipped_tx: usize,
}

/// Applies `file`'s records to `shard` in order, starting in db 0. Tagged
/// transactions run only when `committed(tag)`; `now_ms` decides which expiry
/// times already passed.
pub fn apply(
    shard: &mut Shard,
    file: &AofFile,
    committed: &impl Fn(&str) -> bool,
    now_ms: u64,
) -> Result<ReplayStats, AofError> {
    let mut replay = Replayer {
        shard,
        db: 0,
        now_ms,
        stats: ReplayStats::default(),
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
    Ok(replay.stats)
}

/// The commands replay knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Select,
    Set,
    Del,
    PexpireAt,
    Persist,
    FlushDb,
    FlushAll,
    SwapDb,
}

const OPS: &[(&str, Op)] = &[
    ("SELECT", Op::Select),
    ("SET", Op::Set),
    ("DEL", Op::Del),
    ("PEXPIREAT", Op::PexpireAt),
    ("PERSIST", Op::Persist),
    ("FLUSHDB", Op::FlushDb),
    ("FLUSHALL", Op::FlushAll),
    ("SWAPDB", Op::SwapDb),
];

fn lookup(cmd: &Command) -> Result<(Op, &[Vec<u8>]), AofError> {
    let Some((name, args)) = cmd.args.split_first() else {
        return Err(AofError::new(cmd.offset, "empty command"));
    };
    OPS.iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n.as_bytes()))
        .map(|&(_, op)| (op, args))
        .ok_or_else(|| {
            let shown = name.escape_ascii();
            AofError::new(cmd.offset, format!("unknown command '{shown}'"))
        })
}

/// Replay state: the shard, the selected db and the counts so far.
struct Replayer<'a> {
    shard: &'a mut Shard,
    db: usize,
    now_ms: u64,
    stats: ReplayStats,
}

impl Replayer<'_> {
    /// Runs one command.
    fn run(&mut self, cmd: &Command) -> Result<(), AofError> {
        let (op, args) = lookup(cmd)?;
        let err = |msg: &str| AofError::new(cmd.offset, format!("{op:?}: {msg}"));
        match (op, args) {
            (Op::Select, [db]) => self.db = self.db_index(db).ok_or_else(|| err("bad db"))?,
            (Op::Set, [key, value]) => self.set(key, value, 0).map_err(err)?,
            (Op::Set, [key, value, px, at]) if px.eq_ignore_ascii_case(b"PXAT") => {
                let at = parse_i64(at)
                    .and_then(|t| u64::try_from(t).ok())
                    .filter(|&t| t > 0)
                    .ok_or_else(|| err("bad PXAT"))?;
                self.set(key, value, at).map_err(err)?;
            }
            (Op::Del, keys) if !keys.is_empty() => {
                keys.iter()
                    .try_for_each(|k| self.check_key(k))
                    .map_err(err)?;
                for key in keys {
                    self.shard.remove(self.db, key, self.now_ms);
                }
            }
            (Op::PexpireAt, [key, at]) => {
                let at = parse_i64(at).ok_or_else(|| err("bad expire time"))?;
                self.expire(key, at).map_err(err)?;
            }
            (Op::Persist, [key]) => {
                self.check_key(key).map_err(err)?;
                self.shard.set_expire(self.db, key, 0);
            }
            (Op::FlushDb, opt) if flush_option_ok(opt) => self.shard.flush_db(self.db),
            (Op::FlushAll, opt) if flush_option_ok(opt) => self.shard.flush_all(),
            (Op::SwapDb, [a, b]) => {
                let a = self.db_index(a).ok_or_else(|| err("bad db"))?;
                let b = self.db_index(b).ok_or_else(|| err("bad db"))?;
                self.shard.swap_db(a, b);
            }
            _ => return Err(err("wrong number of arguments or bad option")),
        }
        self.stats.applied += 1;
        Ok(())
    }

    /// Skips an uncommitted transaction, following only its `SELECT`s.
    fn skip(&mut self, cmds: &[Command]) -> Result<(), AofError> {
        for cmd in cmds {
            if let (Op::Select, [db]) = lookup(cmd)? {
                self.db = self
                    .db_index(db)
                    .ok_or_else(|| AofError::new(cmd.offset, "Select: bad db"))?;
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

    /// Fails unless this shard owns `key`.
    fn check_key(&self, key: &[u8]) -> Result<(), &'static str> {
        if self.shard.slots.shard_of(key) == self.shard.id {
            Ok(())
        } else {
            Err("key belongs to another shard")
        }
    }

    /// Stores `key` (removes it when `expire_at` already passed; 0 = no expiry).
    fn set(&mut self, key: &[u8], value: &[u8], expire_at: u64) -> Result<(), &'static str> {
        self.check_key(key)?;
        if expire_at != 0 && expire_at <= self.now_ms {
            self.shard.remove(self.db, key, self.now_ms);
        } else {
            self.shard
                .set(self.db, key, Value::string(value), expire_at);
        }
        Ok(())
    }

    /// Sets `key`'s expiry time (removes it when the time already passed).
    fn expire(&mut self, key: &[u8], at: i64) -> Result<(), &'static str> {
        self.check_key(key)?;
        match u64::try_from(at) {
            Ok(at) if at > self.now_ms => {
                self.shard.set_expire(self.db, key, at);
            }
            _ => {
                self.shard.remove(self.db, key, self.now_ms);
            }
        }
        Ok(())
    }
}

/// True for no argument or one `ASYNC` / `SYNC`.
fn flush_option_ok(opt: &[Vec<u8>]) -> bool {
    match opt {
        [] => true,
        [o] => o.eq_ignore_ascii_case(b"ASYNC") || o.eq_ignore_ascii_case(b"SYNC"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::{self, parse};
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
        apply(shard, &file, &|tag| file.commits.contains(tag), NOW)
    }

    fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    #[test]
    fn applies_every_command() {
        let data = enc(|o| {
            aof::encode_set(o, b"n", &Value::Int(5), 0);
            aof::encode_set(o, b"s", &Value::Bytes(b"x y".to_vec()), NOW + 10);
            aof::encode_set(o, b"gone", &Value::Int(1), NOW);
            aof::encode_select(o, 3);
            aof::encode_set(o, b"a", &Value::Int(1), 0);
            aof::encode_set(o, b"b", &Value::Int(2), 0);
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
        assert_eq!(value(&mut s, 3, b"n"), Some((Value::Int(5), 0)));
        assert_eq!(
            value(&mut s, 3, b"s"),
            Some((Value::Bytes(b"x y".to_vec()), 0))
        );
        assert_eq!(value(&mut s, 3, b"gone"), None);
        assert_eq!(value(&mut s, 0, b"a"), Some((Value::Int(1), NOW + 5)));
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
        assert_eq!(value(&mut s, 0, b"c"), Some((Value::Int(3), 0)));
    }

    #[test]
    fn flushes() {
        let data = enc(|o| {
            aof::encode_set(o, b"a", &Value::Int(1), 0);
            aof::encode_select(o, 1);
            aof::encode_set(o, b"b", &Value::Int(1), 0);
            aof::encode_set(o, b"c", &Value::Int(1), 0);
            aof::encode_flushdb(o);
            aof::encode_set(o, b"c", &Value::Int(2), 0);
        });
        let mut s = shard();
        replay(&mut s, &data).unwrap();
        assert_eq!(value(&mut s, 0, b"a"), Some((Value::Int(1), 0)));
        assert_eq!(value(&mut s, 1, b"b"), None);
        assert_eq!(value(&mut s, 1, b"c"), Some((Value::Int(2), 0)));
        replay(&mut s, &enc(aof::encode_flushall)).unwrap();
        assert_eq!(value(&mut s, 0, b"a"), None);
        assert_eq!(value(&mut s, 1, b"c"), None);
    }

    #[test]
    fn transactions_run_only_when_committed() {
        let data = enc(|o| {
            aof::encode_tx_begin(o, "t1");
            aof::encode_set(o, b"a", &Value::Int(1), 0);
            aof::encode_tx_end(o);
            aof::encode_commit(o, "t1");
            aof::encode_tx_begin(o, "t2");
            aof::encode_select(o, 2);
            aof::encode_set(o, b"b", &Value::Int(1), 0);
            aof::encode_tx_end(o);
            aof::encode_command(o, &[b"MULTI"]);
            aof::encode_set(o, b"c", &Value::Int(1), 0);
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
        assert_eq!(value(&mut s, 0, b"a"), Some((Value::Int(1), 0)));
        assert_eq!(value(&mut s, 2, b"b"), None);
        // The skipped transaction's SELECT still moved the current db.
        assert_eq!(value(&mut s, 2, b"c"), Some((Value::Int(1), 0)));
    }

    #[test]
    fn bad_commands_are_errors_at_their_offset() {
        let cases: &[&[&[u8]]] = &[
            &[b"GET", b"a"],
            &[b"SELECT", b"16"],
            &[b"SELECT", b"-1"],
            &[b"SELECT"],
            &[b"SET", b"a"],
            &[b"SET", b"a", b"1", b"PX", b"5"],
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
            aof::encode_set(o, b"k", &Value::Int(1), NOW + 1);
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
                let _ = apply(&mut s, &file, &|_| true, NOW);
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
        let data = enc(|o| aof::encode_set(o, key.as_bytes(), &Value::Int(1), 0));
        let err = replay(&mut s, &data).unwrap_err();
        assert!(err.message.contains("another shard"), "{err}");
    }
}
