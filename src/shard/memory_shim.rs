//! TEMPORARY (branch `memory`): the accounting API the `entries` branch
//! provides exactly and in O(1); computed here by walking the data so the
//! MEMORY/INFO work can be built and tested meanwhile. Removed at merge.

use super::Shard;

const TABLE_BYTES: usize = 40;

impl Shard {
    pub fn used_memory(&self) -> usize {
        (0..self.databases())
            .map(|d| {
                self.db_overhead(d)
                    + self
                        .db(d)
                        .iter()
                        .map(|e| e.key.len() + e.value.mem_usage())
                        .sum::<usize>()
            })
            .sum()
    }

    pub fn startup_memory(&self) -> usize {
        (0..self.databases())
            .map(|d| self.db(d).table_count() * TABLE_BYTES)
            .sum()
    }

    pub fn key_memory(&self, db: usize, key: &[u8]) -> Option<usize> {
        self.db(db)
            .iter()
            .find(|e| &*e.key == key)
            .map(|e| std::mem::size_of_val(e) + e.key.len() + e.value.mem_usage())
    }

    pub fn db_overhead(&self, db: usize) -> usize {
        let d = self.db(db);
        d.table_count() * TABLE_BYTES + d.len() * std::mem::size_of::<super::db::Entry>()
    }
}
