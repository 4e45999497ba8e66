//! The shard's append-only journal: every change to the data, as Redis
//! commands that reproduce it, appended to an in-memory buffer that the
//! core's AOF writer drains to disk (runtime/aof.rs).
//!
//! A command run by a client is journaled as the command itself
//! ([`Journal::command`]): by default the arguments received, rewritten by its
//! handler only where replaying them would not give the same data (relative
//! or past expiry times become `PEXPIREAT`/`SET … PXAT`/`DEL`, INCRBYFLOAT
//! becomes `SET … KEEPTTL`, a multi-key command whose keys span slots is split
//! per slot). A command that changed nothing journals nothing. Writes made
//! outside a command handler (the parts of a cross-shard command, the
//! keyspace-wide commands) and removals by expiry are journaled as *effects*:
//! a key's new state (`SET key value [PXAT ms]`), `DEL`, `PEXPIREAT`,
//! `PERSIST`, `FLUSHDB`, `FLUSHALL`, `SWAPDB`. Either way `SELECT` precedes a
//! record whose database differs from the last one.
//!
//! Invariants replay relies on (persist/replay.rs): every record touches keys
//! of a single slot, so replay can route it to any shard layout; no record
//! depends on the clock, and every key removed because it expired is
//! journaled as a `DEL`, because replay never expires keys itself.
//!
//! The part of a multi-shard transaction that ran here is wrapped as
//! `#TX <tag>` MULTI … EXEC. Once every part has answered, every shard of the
//! transaction appends `#COMMIT <tag>/<n>` (n = its number of shards) after
//! its parts, and replay applies the groups only when all n records are
//! found — each file is replayed as a prefix, so all n records imply every
//! part is there, whatever the crash (process or power). After every group the next record
//! selects its database again, because replay may skip the group (and any
//! SELECT inside it).
//!
//! Invariant: `appended` counts every byte ever put in `buf`; the writer's
//! durable position is compared with it to know what a reply must wait for.

use super::value::Value;
use crate::persist::aof;
use std::sync::OnceLock;

/// The tag of one of a transaction's `parts` commit records: `<tag>/<parts>`
/// (replay applies the transaction only with all `parts` of them).
pub fn commit_tag(txid: u64, parts: usize) -> String {
    format!("{}/{parts}", tx_tag(txid))
}

/// Splits a commit record's tag into the transaction tag and the number of
/// records the transaction wrote (None: a single, authoritative record).
pub fn parse_commit_tag(tag: &str) -> (&str, Option<usize>) {
    match tag.rsplit_once('/') {
        Some((t, n)) => match n.parse() {
            Ok(n) => (t, Some(n)),
            Err(_) => (tag, None),
        },
        None => (tag, None),
    }
}

/// The journal tag of transaction `txid`: the process's run id and the txid,
/// so tags never repeat across restarts that append to the same files.
pub fn tx_tag(txid: u64) -> String {
    static RUN_ID: OnceLock<u64> = OnceLock::new();
    let run = RUN_ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ ((std::process::id() as u64) << 40)
    });
    format!("{run:x}-{txid:x}")
}

pub struct Journal {
    /// Effects not yet taken by the writer.
    buf: Vec<u8>,
    /// Total bytes ever appended (the position after the last effect).
    appended: u64,
    /// Database the stream last selected (`usize::MAX`: none yet).
    selected: usize,
    /// Tag of the transaction part running now, if any.
    tx: Option<String>,
    /// True once the running part has written its `MULTI`.
    group_open: bool,
    /// The command running now: where its effects start and how many.
    command: Option<(usize, u32)>,
}

impl Default for Journal {
    fn default() -> Self {
        Journal {
            buf: Vec::new(),
            appended: 0,
            selected: usize::MAX,
            tx: None,
            group_open: false,
            command: None,
        }
    }
}

impl Journal {
    /// The position after the last appended effect.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// True when effects wait for the writer.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Bytes the buffer of records not yet taken holds (its capacity).
    pub fn pending_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Takes the waiting effects and the position they end at.
    pub fn take(&mut self) -> (Vec<u8>, u64) {
        (std::mem::take(&mut self.buf), self.appended)
    }

    /// Effects from now until [`Journal::end_part`] belong to transaction `tag`.
    pub fn begin_part(&mut self, tag: String) {
        self.tx = Some(tag);
        self.group_open = false;
    }

    /// Closes the running transaction part (writes `EXEC` if it changed anything).
    pub fn end_part(&mut self) {
        if self.group_open {
            self.append(aof::encode_tx_end);
            self.selected = usize::MAX;
        }
        self.tx = None;
        self.group_open = false;
    }

    /// A command starts: if it ends up with several records (an expired key's
    /// `DEL` and the command, an MSET split per slot), [`Journal::end_command`] wraps them in MULTI/EXEC, so
    /// a write torn by a crash never replays half of it.
    pub fn begin_command(&mut self) {
        if self.tx.is_none() {
            self.command = Some((self.buf.len(), 0));
        }
    }

    pub fn end_command(&mut self) {
        let Some((start, effects)) = self.command.take() else {
            return;
        };
        if effects < 2 || start > self.buf.len() {
            return;
        }
        let mut multi = Vec::with_capacity(16);
        aof::encode_command(&mut multi, &[b"MULTI"]);
        self.appended += multi.len() as u64;
        self.buf.splice(start..start, multi);
        self.append(aof::encode_tx_end);
        self.selected = usize::MAX;
    }

    /// Records that transaction `tag` is complete on every shard.
    pub fn commit(&mut self, tag: &str) {
        self.append(|out| aof::encode_commit(out, tag));
    }

    /// Starts the next file: forgets the selected database (a new file starts
    /// in db 0 for the replayer, so the next effect must select again).
    pub fn reset_stream(&mut self) {
        self.selected = usize::MAX;
    }

    /// Journals one command (name first) run in database `db`.
    pub fn command(&mut self, db: usize, args: &[&[u8]]) {
        self.effect(db, |out| aof::encode_command(out, args));
    }

    /// Journals `key` holding `value` with that expiry, as the commands its
    /// type rewrites it to (each one effect, so several form one group).
    pub fn set(&mut self, db: usize, key: &[u8], value: &Value, expire_at: u64) {
        // A collection is rebuilt by adding to the key: clear it first.
        if !value.is_string() {
            self.del(db, key);
        }
        value.rewrite(key, expire_at, &mut |argv| {
            self.effect(db, |out| aof::encode_command(out, argv))
        });
    }

    pub fn del(&mut self, db: usize, key: &[u8]) {
        self.effect(db, |out| aof::encode_del(out, key));
    }

    pub fn expire(&mut self, db: usize, key: &[u8], expire_at: u64) {
        if expire_at == 0 {
            self.effect(db, |out| aof::encode_persist(out, key));
        } else {
            self.effect(db, |out| aof::encode_pexpireat(out, key, expire_at));
        }
    }

    pub fn flush_db(&mut self, db: usize) {
        self.effect(db, aof::encode_flushdb);
    }

    pub fn flush_all(&mut self) {
        self.effect(0, aof::encode_flushall);
    }

    pub fn swap_db(&mut self, a: usize, b: usize) {
        self.effect(0, |out| aof::encode_swapdb(out, a, b));
    }

    fn effect(&mut self, db: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        if let Some((_, effects)) = self.command.as_mut() {
            *effects += 1;
        }
        if let (Some(tag), false) = (&self.tx, self.group_open) {
            let tag = tag.clone();
            self.append(|out| aof::encode_tx_begin(out, &tag));
            self.group_open = true;
        }
        if self.selected != db {
            self.append(|out| aof::encode_select(out, db));
            self.selected = db;
        }
        self.append(encode);
    }

    fn append(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        let before = self.buf.len();
        encode(&mut self.buf);
        self.appended += (self.buf.len() - before) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::{parse, Record};

    fn commands(journal: &mut Journal) -> Vec<Record> {
        let (bytes, end) = journal.take();
        assert_eq!(end, journal.appended());
        parse(&bytes).expect("valid AOF").records
    }

    fn names(record: &Record) -> Vec<String> {
        let cmds = match record {
            Record::Cmd(c) => vec![c],
            Record::Tx { cmds, .. } => cmds.iter().collect(),
        };
        cmds.iter()
            .map(|c| String::from_utf8_lossy(&c.args[0]).to_string())
            .collect()
    }

    #[test]
    fn one_effect_commands_stay_plain_and_select_once() {
        let mut j = Journal::default();
        for key in [&b"a"[..], b"b"] {
            j.begin_command();
            j.set(3, key, &Value::int(1), 0);
            j.end_command();
        }
        let recs = commands(&mut j);
        let all: Vec<_> = recs.iter().flat_map(names).collect();
        assert_eq!(all, ["SELECT", "SET", "SET"]);
    }

    #[test]
    fn a_command_with_several_effects_is_one_group() {
        let mut j = Journal::default();
        j.begin_command();
        j.del(0, b"old");
        j.set(0, b"new", &Value::int(7), 0);
        j.end_command();
        j.begin_command();
        j.del(0, b"x");
        j.end_command();
        let recs = commands(&mut j);
        assert_eq!(recs.len(), 3, "{recs:?}");
        assert!(matches!(&recs[0], Record::Tx { tag: None, cmds, .. } if cmds.len() == 3));
        // After a group the stream selects its database again.
        assert_eq!(names(&recs[1]), ["SELECT"]);
        assert_eq!(names(&recs[2]), ["DEL"]);
    }

    #[test]
    fn transaction_parts_are_tagged_and_committed() {
        let mut j = Journal::default();
        j.begin_part(tx_tag(9));
        j.set(1, b"k", &Value::int(1), 0);
        j.end_part();
        j.commit(&commit_tag(9, 2));
        let (bytes, _) = j.take();
        let file = parse(&bytes).expect("valid AOF");
        assert!(matches!(&file.records[0], Record::Tx { tag: Some(t), .. } if *t == tx_tag(9)));
        let commit = file.commits.iter().next().expect("a commit record");
        assert_eq!(parse_commit_tag(commit), (tx_tag(9).as_str(), Some(2)));
        // A part that changed nothing writes nothing.
        j.begin_part(tx_tag(10));
        j.end_part();
        assert!(!j.has_pending());
    }
}
