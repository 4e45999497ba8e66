//! One logical database of one shard: its keys, split into one hash table per
//! owned cluster slot.
//!
//! Splitting by slot keeps every table small, which gives SCAN a stable order
//! (keys sorted by hash inside a slot, so a key present for a whole scan is always
//! returned, even across table growth), makes the active expiry sweep incremental,
//! and prepares slot migration for cluster mode.
//!
//! Invariant: `keys` and `volatile` always equal the number of entries and of
//! entries with a non-zero `expire_at`; entries change expiry only through
//! [`Db::set_expire`] so the counts stay exact. `volatile_tables` holds exactly
//! the tables whose `volatile` count is non-zero: the expiry index the active
//! sweep walks, so keys with a TTL are found however sparse they are among
//! persistent keys (visiting a table costs its size, never the slot count).

use super::value::Value;
use hashbrown::HashTable;
use std::collections::BTreeSet;

/// A stored key: up to 16 bytes live inline in the entry (no allocation, one
/// cache miss fewer per lookup); longer keys go to the heap.
pub type Key = smallvec::SmallVec<[u8; 16]>;

/// A key, its value and its absolute expiry in Unix milliseconds (0 = none).
#[derive(Debug)]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    expire_at: u64,
}

impl Entry {
    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

/// Where a key lives: its slot's table index in this shard and its hash.
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    pub table: usize,
    pub hash: u64,
}

#[derive(Default)]
pub struct Table {
    map: HashTable<Entry>,
    volatile: u32,
}

/// The keys of one database in one shard.
pub struct Db {
    tables: Vec<Table>,
    keys: usize,
    volatile: usize,
    volatile_tables: BTreeSet<u32>,
}

impl Db {
    pub fn new(tables: usize) -> Self {
        Db {
            tables: (0..tables).map(|_| Table::default()).collect(),
            keys: 0,
            volatile: 0,
            volatile_tables: BTreeSet::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    pub fn volatile(&self) -> usize {
        self.volatile
    }

    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    pub fn find(&self, loc: Loc, key: &[u8]) -> Option<&Entry> {
        self.tables[loc.table]
            .map
            .find(loc.hash, |e| &*e.key == key)
    }

    pub fn find_mut(&mut self, loc: Loc, key: &[u8]) -> Option<&mut Entry> {
        self.tables[loc.table]
            .map
            .find_mut(loc.hash, |e| &*e.key == key)
    }

    /// Inserts or replaces `key`; the expiry is set to `expire_at` (0 = none).
    pub fn insert(
        &mut self,
        loc: Loc,
        hasher: &impl Fn(&[u8]) -> u64,
        key: &[u8],
        value: Value,
        expire_at: u64,
    ) {
        let table = &mut self.tables[loc.table];
        match table.map.find_mut(loc.hash, |e| &*e.key == key) {
            Some(entry) => {
                entry.value = value;
                let was = entry.expire_at != 0;
                entry.expire_at = expire_at;
                self.adjust_volatile(loc.table, was, expire_at != 0);
            }
            None => {
                table.map.insert_unique(
                    loc.hash,
                    Entry {
                        key: Key::from_slice(key),
                        value,
                        expire_at,
                    },
                    |e| hasher(&e.key),
                );
                self.keys += 1;
                if expire_at != 0 {
                    self.adjust_volatile(loc.table, false, true);
                }
            }
        }
    }

    /// Counts a key of table `t` gaining (`!was && now`) or losing a TTL,
    /// keeping `volatile_tables` equal to the tables with a non-zero count.
    fn adjust_volatile(&mut self, t: usize, was: bool, now: bool) {
        let table = &mut self.tables[t];
        match (was, now) {
            (false, true) => {
                table.volatile += 1;
                self.volatile += 1;
                if table.volatile == 1 {
                    self.volatile_tables.insert(t as u32);
                }
            }
            (true, false) => {
                table.volatile -= 1;
                self.volatile -= 1;
                if table.volatile == 0 {
                    self.volatile_tables.remove(&(t as u32));
                }
            }
            _ => {}
        }
    }

    /// The first table at or after `from` holding a key with a TTL.
    pub fn next_volatile_table(&self, from: usize) -> Option<usize> {
        let from = u32::try_from(from).ok()?;
        self.volatile_tables
            .range(from..)
            .next()
            .map(|&t| t as usize)
    }

    /// Sets the expiry of an existing key; returns false if the key is absent.
    pub fn set_expire(&mut self, loc: Loc, key: &[u8], expire_at: u64) -> bool {
        let table = &mut self.tables[loc.table];
        let Some(entry) = table.map.find_mut(loc.hash, |e| &*e.key == key) else {
            return false;
        };
        let was = entry.expire_at != 0;
        entry.expire_at = expire_at;
        self.adjust_volatile(loc.table, was, expire_at != 0);
        true
    }

    pub fn remove(&mut self, loc: Loc, key: &[u8]) -> Option<Entry> {
        let table = &mut self.tables[loc.table];
        let found = table.map.find_entry(loc.hash, |e| &*e.key == key).ok()?;
        let (entry, _) = found.remove();
        self.keys -= 1;
        if entry.expire_at != 0 {
            self.adjust_volatile(loc.table, true, false);
        }
        Some(entry)
    }

    pub fn clear(&mut self) {
        for t in &mut self.tables {
            *t = Table::default();
        }
        self.keys = 0;
        self.volatile = 0;
        self.volatile_tables.clear();
    }

    /// Removes the expired entries of table `t`; returns how many were removed.
    pub fn expire_table(&mut self, t: usize, now_ms: u64) -> usize {
        let table = &mut self.tables[t];
        if table.volatile == 0 {
            return 0;
        }
        let before = table.map.len();
        table.map.retain(|e| !e.is_expired(now_ms));
        let removed = before - table.map.len();
        table.volatile -= removed as u32;
        if table.volatile == 0 {
            self.volatile_tables.remove(&(t as u32));
        }
        self.volatile -= removed;
        self.keys -= removed;
        removed
    }

    pub fn table_has_volatile(&self, t: usize) -> bool {
        self.tables[t].volatile > 0
    }

    pub fn table_len(&self, t: usize) -> usize {
        self.tables[t].map.len()
    }

    /// Entries of table `t` (any order).
    pub fn table_iter(&self, t: usize) -> impl Iterator<Item = &Entry> {
        self.tables[t].map.iter()
    }

    /// Every entry of the database.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.tables.iter().flat_map(|t| t.map.iter())
    }
}
