//! WATCH support: a version per watched key, bumped by every write to it.
//!
//! Only keys some client watches are in the table, so writes pay one
//! `is_empty` branch when nobody watches anything. Versions come from one
//! shard-wide sequence, so a key unwatched and watched again never reuses a
//! version. A keyspace-wide write (FLUSHDB, FLUSHALL, SWAPDB) changes only
//! the watched keys that were there (as Redis 7.0: watching a missing key and
//! flushing leaves the watch intact), so the shard picks them with [`WatchTable::keys`].

use hashbrown::HashMap;

/// Borrowed form of a `(db, Box<[u8]>)` key for lookups without allocating.
/// Hashes exactly as the tuple does (the db, then the bytes as a slice).
#[derive(Hash)]
pub struct DbKeyRef<'a>(pub usize, pub &'a [u8]);

impl hashbrown::Equivalent<(usize, Box<[u8]>)> for DbKeyRef<'_> {
    fn equivalent(&self, key: &(usize, Box<[u8]>)) -> bool {
        self.0 == key.0 && self.1 == &*key.1
    }
}

/// (db, key) → (version, number of watchers).
type Watched = HashMap<(usize, Box<[u8]>), (u64, u32)>;

#[derive(Default)]
pub struct WatchTable {
    keys: Watched,
    seq: u64,
}

impl WatchTable {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Registers one more watcher of `key`; returns its current version.
    pub fn watch(&mut self, db: usize, key: &[u8]) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        let entry = self.keys.entry((db, key.into())).or_insert((seq, 0));
        entry.1 += 1;
        entry.0
    }

    /// Drops one watcher of `key`.
    pub fn unwatch(&mut self, db: usize, key: &[u8]) {
        let k = (db, Box::<[u8]>::from(key));
        if let Some(e) = self.keys.get_mut(&k) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                self.keys.remove(&k);
            }
        }
    }

    pub fn version(&self, db: usize, key: &[u8]) -> Option<u64> {
        self.keys.get(&DbKeyRef(db, key)).map(|e| e.0)
    }

    /// Records a write to `key`.
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if let Some(e) = self.keys.get_mut(&DbKeyRef(db, key)) {
            self.seq += 1;
            e.0 = self.seq;
        }
    }

    /// The watched keys of `db` (None: every db), with their db.
    pub fn keys(&self, db: Option<usize>) -> impl Iterator<Item = (usize, &[u8])> {
        self.keys
            .keys()
            .filter(move |k| db.is_none_or(|d| d == k.0))
            .map(|k| (k.0, &*k.1))
    }
}
