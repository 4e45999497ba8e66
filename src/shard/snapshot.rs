//! A forkless, point-in-time snapshot of one shard, taken while writes go on.
//!
//! At the cut (every shard locked whole by the coordinator, so all shards cut
//! at the same position of the transaction order) a [`SnapshotCut`] is
//! installed. From then on the shard's data is serialized one *unit* — one
//! slot table of one database — at a time, into RDB bytes:
//!
//! - the background writer asks for the next units ([`SnapshotCut::step`]) and
//!   hands the bytes to the disk;
//! - before any write touches a unit not yet serialized, the shard serializes
//!   that unit first ([`SnapshotCut::before_write`]), so the file holds every
//!   unit exactly as it was at the cut. This is copy-on-write at slot
//!   granularity without copying: the extra memory is the encoded bytes
//!   waiting for the disk, never a second copy of the dataset.
//!
//! Units are therefore written out of order; each switch of database writes a
//! SELECTDB opcode again (the RDB loader of Redis accepts repeats), and the
//! first SELECTDB of a database carries its RESIZEDB counts as of the cut.
//! Keys that had expired at the cut are left out.

use super::db::Db;
use crate::persist::rdb::crc64::Crc64;
use crate::persist::rdb::write::{encode_entry, encode_eof, encode_header, AuxInfo};
use crate::persist::rdb::{op, write::encode_len};

/// One shard's snapshot in progress.
pub struct SnapshotCut {
    /// Unix ms of the cut: entries expiring at or before it are skipped.
    cut_ms: u64,
    tables: usize,
    /// Serialized flag per unit (`db * tables + table`).
    done: Vec<bool>,
    /// Next unit the background step looks at.
    cursor: usize,
    /// (keys, volatile keys) per database at the cut, for RESIZEDB.
    counts: Vec<(usize, usize)>,
    /// Databases whose first SELECTDB (with RESIZEDB) has been written.
    announced: Vec<bool>,
    /// Database of the last SELECTDB written.
    selected: Option<usize>,
    /// Encoded bytes not yet taken by the writer.
    out: Vec<u8>,
    crc: Crc64,
    finished: bool,
    /// Entries written so far.
    pub keys_written: u64,
}

impl SnapshotCut {
    /// Starts a snapshot of `dbs` as they are now; writes the RDB header.
    pub fn new(dbs: &[Db], cut_ms: u64, aux: AuxInfo) -> Self {
        let tables = dbs.first().map_or(0, |d| d.table_count());
        let mut out = Vec::with_capacity(64 * 1024);
        encode_header(&mut out, aux);
        let done = dbs
            .iter()
            .flat_map(|d| (0..tables).map(move |t| d.table_len(t) == 0))
            .collect();
        SnapshotCut {
            cut_ms,
            tables,
            done,
            cursor: 0,
            counts: dbs.iter().map(|d| (d.len(), d.volatile())).collect(),
            announced: vec![false; dbs.len()],
            selected: None,
            out,
            crc: Crc64::new(),
            finished: false,
            keys_written: 0,
        }
    }

    /// Serializes table `table` of database `db` if it is not yet written.
    /// Called before anything in that table changes.
    #[inline]
    pub fn before_write(&mut self, dbs: &[Db], db: usize, table: usize) {
        let unit = db * self.tables + table;
        if !self.done.get(unit).copied().unwrap_or(true) {
            self.dump(dbs, unit);
        }
    }

    /// Serializes every unit of database `db` not yet written (before a
    /// FLUSHDB or SWAPDB changes all of it).
    pub fn before_db_write(&mut self, dbs: &[Db], db: usize) {
        for t in 0..self.tables {
            self.before_write(dbs, db, t);
        }
    }

    /// Serializes further units until at least `budget` bytes are waiting or
    /// every unit is written; then writes EOF and the checksum. Returns true
    /// once the snapshot is complete (all its bytes are then in the output).
    pub fn step(&mut self, dbs: &[Db], budget: usize) -> bool {
        while self.cursor < self.done.len() && self.out.len() < budget {
            if !self.done[self.cursor] {
                self.dump(dbs, self.cursor);
            }
            self.cursor += 1;
        }
        if self.cursor >= self.done.len() && !self.finished {
            self.crc.update(&self.out);
            let mut tail = Vec::with_capacity(9);
            encode_eof(&mut tail, &mut self.crc);
            self.out.extend_from_slice(&tail);
            self.finished = true;
        }
        self.finished
    }

    /// Takes the bytes encoded so far (in file order).
    pub fn take_output(&mut self) -> Vec<u8> {
        let out = std::mem::take(&mut self.out);
        if !self.finished {
            self.crc.update(&out);
        }
        out
    }

    /// Bytes encoded and not yet taken.
    pub fn pending_bytes(&self) -> usize {
        self.out.len()
    }

    fn dump(&mut self, dbs: &[Db], unit: usize) {
        self.done[unit] = true;
        let (db, table) = (unit / self.tables, unit % self.tables);
        let Some(d) = dbs.get(db) else { return };
        let cut = self.cut_ms;
        let mut live = d
            .table_iter(table)
            .filter(|e| !e.is_expired(cut))
            .peekable();
        if live.peek().is_none() {
            return;
        }
        if self.selected != Some(db) {
            self.out.push(op::SELECTDB);
            encode_len(&mut self.out, db as u64);
            if !self.announced[db] {
                self.announced[db] = true;
                let (keys, volatile) = self.counts[db];
                self.out.push(op::RESIZEDB);
                encode_len(&mut self.out, keys as u64);
                encode_len(&mut self.out, volatile as u64);
            }
            self.selected = Some(db);
        }
        for e in live {
            encode_entry(&mut self.out, e.key(), &e.value, e.expire_at());
            self.keys_written += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::persist::rdb;
    use crate::shard::value::Value;
    use crate::shard::Shard;
    use crate::slot::SlotTable;

    fn encoded(s: &mut Shard, mut between: impl FnMut(&mut Shard, usize)) -> Vec<u8> {
        s.begin_snapshot(1_000, rdb::AuxInfo::now(0));
        let mut file = Vec::new();
        let mut round = 0;
        loop {
            let done = s.snapshot_step(256);
            file.extend(s.snapshot_take());
            if done {
                break;
            }
            between(s, round);
            round += 1;
        }
        s.end_snapshot();
        file
    }

    fn load(file: &[u8]) -> Vec<(u32, Vec<u8>, Value, u64)> {
        let mut v = Vec::new();
        rdb::load(file, Default::default(), |e| {
            v.push((e.db, e.key, e.value, e.expire_at_ms))
        })
        .expect("valid rdb");
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        v
    }

    #[test]
    fn writes_during_the_snapshot_do_not_leak_into_it() {
        let mut s = Shard::new(0, SlotTable::contiguous(1), 4);
        for i in 0..2000 {
            s.set(i % 3, format!("k{i}").as_bytes(), Value::int(i as i64), 0);
        }
        s.set(1, b"old-expired", Value::int(1), 500);
        s.set(1, b"volatile", Value::int(1), 5_000);
        let file = encoded(&mut s, |s, round| {
            // Overwrite, delete and add keys while the snapshot runs.
            for i in 0..50 {
                let k = format!("k{}", (round * 37 + i) % 2000);
                s.set(
                    ((round * 37 + i) % 2000) % 3,
                    k.as_bytes(),
                    Value::int(-1),
                    0,
                );
                s.remove(0, format!("k{}", i * 3).as_bytes(), 0);
                s.set(2, format!("new{round}-{i}").as_bytes(), Value::int(7), 0);
            }
            if round == 3 {
                s.flush_db(2);
            }
        });
        let got = load(&file);
        assert_eq!(got.len(), 2001);
        for (db, key, value, expire) in got {
            if key == b"volatile" {
                assert_eq!((db, expire), (1, 5_000));
                continue;
            }
            let i: i64 = std::str::from_utf8(&key[1..]).unwrap().parse().unwrap();
            assert_eq!((db as i64, value), (i % 3, Value::int(i)));
        }
    }
}
