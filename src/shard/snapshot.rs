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
//!   granularity without copying.
//!
//! A value of more than [`DEFER_PARTS`] parts (a big collection's buckets) is
//! not serialized with its unit: it is *deferred*, and the writer encodes it
//! [`SLICE_PARTS`] parts per step, so no step holds the shard for long. Until it is complete, the
//! value must not change: the batch runner asks [`SnapshotCut::admits`]
//! before a write command and parks the command (as on a locked key) while
//! its key is deferred; the shard is told through [`SnapshotCut::take_released`]
//! when to resume it. A write that comes another way (a transaction's part,
//! a flush, expiry) finishes the value's encoding first, at once. Extra
//! memory: the encoded bytes waiting for the disk plus, per deferred value,
//! its encoded payload until it completes (about the value's RDB size).
//!
//! Units are therefore written out of order; each switch of database writes a
//! SELECTDB opcode again (the RDB loader of Redis accepts repeats), and the
//! first SELECTDB of a database carries its RESIZEDB counts as of the cut.
//! Keys that had expired at the cut are left out.

use super::db::{Db, Loc};
use crate::persist::rdb::crc64::Crc64;
use crate::persist::rdb::write::{
    encode_entry, encode_entry_head, encode_eof, encode_function, encode_header, AuxInfo,
};
use crate::persist::rdb::{op, write::encode_len};
use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;

/// Values of more parts than this are deferred (serialized in slices).
pub const DEFER_PARTS: usize = 4096;
/// Parts of a deferred value one step encodes.
pub const SLICE_PARTS: usize = 16384;

/// A value serialized a slice at a time, after its unit.
struct Deferred {
    db: usize,
    loc: Loc,
    key: Box<[u8]>,
    /// The next part to encode.
    next: usize,
    /// Its record so far (head, then parts); appended to the output whole.
    record: Vec<u8>,
}

/// One shard's snapshot in progress.
pub struct SnapshotCut {
    /// Unix ms of the cut: entries expiring at or before it are skipped.
    cut_ms: u64,
    tables: usize,
    /// The shard's key hasher (to find a deferred value again).
    hasher: DefaultHashBuilder,
    /// Serialized flag per unit (`db * tables + table`).
    done: Vec<bool>,
    /// Next unit the background step looks at.
    cursor: usize,
    /// Values of serialized units still being encoded, oldest first.
    deferred: Vec<Deferred>,
    /// A deferred value completed since the last [`Self::take_released`].
    released: bool,
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
    pub fn new(
        dbs: &[Db],
        cut_ms: u64,
        aux: AuxInfo,
        functions: &[std::sync::Arc<[u8]>],
        hasher: DefaultHashBuilder,
    ) -> Self {
        let tables = dbs.first().map_or(0, |d| d.table_count());
        let mut out = Vec::with_capacity(64 * 1024);
        encode_header(&mut out, aux);
        for code in functions {
            encode_function(&mut out, code);
        }
        let done = dbs
            .iter()
            .flat_map(|d| (0..tables).map(move |t| d.table_len(t) == 0))
            .collect();
        SnapshotCut {
            cut_ms,
            tables,
            hasher,
            done,
            cursor: 0,
            deferred: Vec::new(),
            released: false,
            counts: dbs.iter().map(|d| (d.len(), d.volatile())).collect(),
            announced: vec![false; dbs.len()],
            selected: None,
            out,
            crc: Crc64::new(),
            finished: false,
            keys_written: 0,
        }
    }

    /// Serializes table `table` of database `db` if it is not yet written,
    /// and finishes its deferred values: `key`'s alone when given, else all.
    /// Called before anything in that table changes.
    #[inline]
    pub fn before_write(&mut self, dbs: &[Db], db: usize, table: usize, key: Option<&[u8]>) {
        self.serialize_unit(dbs, db, table);
        if !self.deferred.is_empty() {
            self.finish_deferred(dbs, |d| {
                d.db == db && d.loc.table == table && key.is_none_or(|k| *d.key == *k)
            });
        }
    }

    /// Serializes every unit of database `db` not yet written and finishes
    /// its deferred values (before a FLUSHDB or SWAPDB changes all of it).
    pub fn before_db_write(&mut self, dbs: &[Db], db: usize) {
        for t in 0..self.tables {
            self.serialize_unit(dbs, db, t);
        }
        self.finish_deferred(dbs, |d| d.db == db);
    }

    /// True when `key` (at `loc`) may change now; false while its value is
    /// still being encoded (the caller waits for [`Self::take_released`]).
    /// Serializes the key's unit first if needed.
    pub fn admits(&mut self, dbs: &[Db], db: usize, loc: Loc, key: &[u8]) -> bool {
        self.serialize_unit(dbs, db, loc.table);
        !self.deferred.iter().any(|d| d.db == db && *d.key == *key)
    }

    /// Finishes encoding `key`'s deferred value, if any (a write that
    /// cannot wait for it).
    pub fn finish_key(&mut self, dbs: &[Db], db: usize, key: &[u8]) {
        self.finish_deferred(dbs, |d| d.db == db && *d.key == *key);
    }

    /// True when table `table` of `db` holds a value still being encoded.
    pub fn defers_table(&self, db: usize, table: usize) -> bool {
        self.deferred
            .iter()
            .any(|d| d.db == db && d.loc.table == table)
    }

    /// True once after a deferred value completed (writes may resume).
    pub fn take_released(&mut self) -> bool {
        std::mem::take(&mut self.released)
    }

    /// Encodes one slice of the oldest deferred value, or else further
    /// units until at least `budget` bytes are waiting or every unit is
    /// written; then writes EOF and the checksum. Returns true once the
    /// snapshot is complete (all its bytes are then in the output).
    pub fn step(&mut self, dbs: &[Db], budget: usize) -> bool {
        if !self.deferred.is_empty() {
            self.encode_slice(dbs, 0, SLICE_PARTS);
            return false;
        }
        while self.cursor < self.done.len() && self.out.len() < budget && self.deferred.is_empty() {
            if !self.done[self.cursor] {
                self.dump(dbs, self.cursor);
            }
            self.cursor += 1;
        }
        if self.cursor >= self.done.len() && self.deferred.is_empty() && !self.finished {
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

    #[inline]
    fn serialize_unit(&mut self, dbs: &[Db], db: usize, table: usize) {
        let unit = db * self.tables + table;
        if !self.done.get(unit).copied().unwrap_or(true) {
            self.dump(dbs, unit);
        }
    }

    /// Encodes every deferred value `which` picks, whole, now.
    fn finish_deferred(&mut self, dbs: &[Db], which: impl Fn(&Deferred) -> bool) {
        let mut i = 0;
        while i < self.deferred.len() {
            if which(&self.deferred[i]) {
                self.encode_slice(dbs, i, usize::MAX);
            } else {
                i += 1;
            }
        }
    }

    /// Encodes up to `parts` more parts of deferred value `i`; once it is
    /// complete, appends its record to the output and drops it.
    fn encode_slice(&mut self, dbs: &[Db], i: usize, parts: usize) {
        let d = &mut self.deferred[i];
        let entry = dbs.get(d.db).and_then(|db| db.find(d.loc, &d.key));
        // Nothing changes a deferred value, so it is always found; were it
        // not, its record is dropped rather than written half.
        let Some(entry) = entry else {
            debug_assert!(false, "deferred value vanished");
            self.deferred.remove(i);
            self.released = true;
            return;
        };
        match entry
            .value_ref()
            .write_rdb_part(&mut d.record, d.next, parts)
        {
            Some(next) => d.next = next,
            None => {
                let d = self.deferred.remove(i);
                self.select(d.db);
                self.out.extend_from_slice(&d.record);
                self.keys_written += 1;
                self.released = true;
            }
        }
    }

    /// Writes SELECTDB (with RESIZEDB the first time) unless `db` is current.
    fn select(&mut self, db: usize) {
        if self.selected == Some(db) {
            return;
        }
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
        self.select(db);
        for e in live {
            let value = e.value_ref();
            if value.rdb_parts() > DEFER_PARTS {
                let mut record = Vec::new();
                let key: &[u8] = e.key();
                encode_entry_head(&mut record, key, value.rdb_type(), e.expire_at());
                let loc = Loc {
                    table,
                    hash: self.hasher.hash_one(key),
                };
                self.deferred.push(Deferred {
                    db,
                    loc,
                    key: key.into(),
                    next: 0,
                    record,
                });
                continue;
            }
            encode_entry(&mut self.out, e.key(), value, e.expire_at());
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
        s.begin_snapshot(1_000, rdb::AuxInfo::now(0), &[]);
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
    /// A set of `n` members `m0..`, in its table encoding.
    fn big_set(n: usize) -> Value {
        let members: Vec<Vec<u8>> = (0..n).map(|i| format!("m{i}").into_bytes()).collect();
        let set = crate::shard::value::set::Set::build(
            members.iter().map(|m| m.as_slice()),
            &Default::default(),
        );
        Value::Set(Box::new(set))
    }

    fn members(v: &Value) -> Vec<Vec<u8>> {
        let mut m: Vec<Vec<u8>> = v
            .as_set()
            .expect("a set")
            .iter()
            .map(|m| m.to_vec())
            .collect();
        m.sort();
        m
    }

    #[test]
    fn a_big_value_is_encoded_in_slices_and_its_writers_wait() {
        let mut s = Shard::new(0, SlotTable::contiguous(1), 1);
        let n = 3 * super::SLICE_PARTS;
        s.set(0, b"big", big_set(n), 0);
        s.set(0, b"small", Value::int(5), 0);
        let want = members(&big_set(n));
        s.begin_snapshot(1_000, rdb::AuxInfo::now(0), &[]);
        // The first write command to it serializes its table and defers it.
        assert!(!s.snapshot_admits(0, b"big"));
        assert!(s.snapshot_admits(0, b"small"));
        s.set(0, b"small", Value::int(6), 0);
        let mut file = s.snapshot_take();
        let mut steps = 0;
        let mut released = false;
        loop {
            let done = s.snapshot_step(1 << 20);
            file.extend(s.snapshot_take());
            released |= s.snapshot_released();
            if done {
                break;
            }
            steps += 1;
            // Writers wait until the value is complete, then may go on.
            assert_eq!(s.snapshot_admits(0, b"big"), released);
        }
        assert!(released);
        assert!(steps >= 3, "{steps} steps");
        s.end_snapshot();
        let got = load(&file);
        assert_eq!(got.len(), 2);
        assert_eq!(members(&got[0].2), want);
        assert_eq!(got[1].2, Value::int(5));
    }

    #[test]
    fn a_write_that_cannot_wait_finishes_the_value_first() {
        let mut s = Shard::new(0, SlotTable::contiguous(1), 1);
        let n = 2 * super::SLICE_PARTS;
        s.set(0, b"big", big_set(n), 0);
        let want = members(&big_set(n));
        s.begin_snapshot(1_000, rdb::AuxInfo::now(0), &[]);
        assert!(!s.snapshot_admits(0, b"big"));
        assert!(!s.snapshot_step(1 << 20));
        // A transaction's part, say: the rest is encoded before it changes.
        s.set(0, b"big", Value::int(1), 0);
        assert!(s.snapshot_released());
        let mut file = s.snapshot_take();
        while !s.snapshot_step(1 << 20) {}
        file.extend(s.snapshot_take());
        s.end_snapshot();
        let got = load(&file);
        assert_eq!(got.len(), 1);
        assert_eq!(members(&got[0].2), want);
        assert_eq!(s.db(0).len(), 1);
    }
}
