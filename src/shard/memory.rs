//! The shard's memory figures: the exact byte counts its dbs keep on every
//! write (db.rs), summed for INFO and MEMORY, and what one key costs.

use super::*;

impl Shard {
    /// What the shard used when built empty (MEMORY STATS `startup.allocated`).
    pub fn startup_memory(&self) -> usize {
        self.startup_memory
    }

    /// Every byte this shard's keys, values, entries and tables use: the
    /// exact sum of its dbs' running counts, O(databases).
    pub fn used_memory(&self) -> usize {
        self.dbs.iter().map(|d| d.memory().total).sum()
    }

    /// The bytes `key` costs in `db`: its 40-byte entry, its key's and
    /// value's heap bytes, 8 for its expiry slot when its table keeps an
    /// expiry column, and its even share of its table's index allocation
    /// (index bytes / keys in the table, rounded down). `None` when absent or
    /// expired (an expired key is reported absent and left for the sweep).
    pub fn key_memory(&self, db: usize, key: &[u8], now_ms: u64) -> Option<usize> {
        let loc = self.locate(key);
        let d = self.dbs.get(db)?;
        let e = d.find(loc, key)?;
        if e.is_expired(now_ms) {
            return None;
        }
        let column = if d.table_has_expiry_column(loc.table) {
            std::mem::size_of::<u64>()
        } else {
            0
        };
        let share = d.table_index_bytes(loc.table) / d.table_len(loc.table).max(1);
        Some(std::mem::size_of::<Entry>() + e.heap_bytes() + column + share)
    }

    /// Bytes of `db`'s tables, index and entry slots beyond key and value
    /// bytes proper (Redis's MEMORY STATS `overhead.hashtable.main`).
    pub fn db_overhead(&self, db: usize) -> usize {
        self.dbs.get(db).map_or(0, Db::overhead)
    }

    /// [`Shard::used_memory`] minus the overhead of every db.
    pub fn dataset_bytes(&self) -> usize {
        self.dbs.iter().map(|d| d.memory().payload).sum()
    }

    /// Debug builds: panics when a db's byte count differs from a recount.
    pub fn debug_check_memory(&self) {
        for d in &self.dbs {
            d.debug_check_memory();
        }
    }
}
