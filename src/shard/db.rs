//! One logical database of one shard: its keys, split into one table per
//! owned cluster slot, and the exact count of the bytes they use.
//!
//! Splitting by slot keeps every table small, which gives SCAN a stable order
//! (keys sorted by hash inside a slot, so a key present for a whole scan is always
//! returned, even across table growth), makes the active expiry sweep incremental,
//! and prepares slot migration for cluster mode.
//!
//! A table is a dense `Vec<Entry>` (40-byte entries, see entry.rs) and an
//! index of positions into it (index.rs: 3 bytes a bucket with its control
//! byte). Removal swaps the last entry into the hole and re-points its index
//! bucket (found by re-hashing its key). The vector grows by an eighth to a
//! quarter at a time, to the allocator's next size class (`grown`), not by
//! doubling: tables are many and small, so doubling would waste a third of
//! their room on average. Expiries live in
//! a column parallel to the entries, allocated only while the table holds a
//! key with a TTL (`expires` is empty or exactly as long as `entries`).
//! The per-slot tables themselves are allocated at a database's first write.
//!
//! Invariants: `keys` and `volatile` always equal the number of entries and of
//! entries with a non-zero expiry; expiries change only through
//! [`Db::set_expire`] and [`Db::insert`] so the counts stay exact.
//! `volatile_tables` has exactly the bits of the tables whose `volatile`
//! count is non-zero: the expiry index the active sweep walks, so keys with
//! a TTL are found however sparse they are among persistent keys.
//! `mem.total` always equals [`Db::recount_memory`]: the allocations of the
//! tables (their vectors and index, at capacity) plus every key's and
//! value's heap bytes; `mem.payload` the key and value bytes proper. Both are
//! updated by every write, O(1) each (an in-place change of a value is
//! accounted by the caller through [`Db::find_mut`]'s [`MemCount`]).

use super::entry::{Detached, Entry, EntryRef};
use super::index::Index;
use super::value::Value;
use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;
use std::mem::size_of;

/// A prefetch hint for the cache line at `p` (never dereferenced here).
#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint: it never faults, even on an invalid
        // address, and reads nothing the program sees.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Where a key lives: its slot's table index in this shard and its hash.
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    pub table: usize,
    pub hash: u64,
}

/// A database's byte counts (see the module invariants).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemCount {
    /// Every byte the database's keys, values, entries and tables use.
    pub total: usize,
    /// Key and value bytes proper (what is not overhead).
    pub payload: usize,
}

impl MemCount {
    /// Accounts a value (or entry) whose heap and payload bytes changed from
    /// `before` to `after` (each `(heap, payload)`).
    pub fn changed(&mut self, before: (usize, usize), after: (usize, usize)) {
        self.total = self.total - before.0 + after.0;
        self.payload = self.payload - before.1 + after.1;
    }
}

/// The capacity a full vector of `len` elements of `size` bytes grows to:
/// the most elements that fit in the smallest quarter-octave size (the
/// allocator's size classes: ..., 2048, 2560, 3072, 3584, 4096, ...) that
/// holds `len + 1`.
fn grown(len: usize, size: usize) -> usize {
    let need = (len + 1) * size;
    let pow = 1usize << (usize::BITS - 1 - need.leading_zeros());
    let step = (pow / 4).max(16);
    need.div_ceil(step) * step / size
}

/// Makes room for one more element (see [`grown`]).
fn reserve_one<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        let cap = grown(v.len(), size_of::<T>());
        v.reserve_exact(cap - v.len());
    }
}

#[derive(Default)]
struct Table {
    index: Index,
    entries: Vec<Entry>,
    /// Empty, or the expiry of each entry (0 = none).
    expires: Vec<u64>,
    volatile: u32,
}

impl Table {
    /// Bytes of this table's own allocations.
    fn alloc_bytes(&self) -> usize {
        self.index.allocation_size()
            + self.entries.capacity() * size_of::<Entry>()
            + self.expires.capacity() * size_of::<u64>()
    }

    #[inline]
    fn position(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash, |i| entries.get(i).is_some_and(|e| &**e.key() == key))
    }

    fn expire_of(&self, i: usize) -> u64 {
        self.expires.get(i).copied().unwrap_or(0)
    }

    /// Sets entry `i`'s expiry; returns whether it had one before.
    fn set_expire_at(&mut self, i: usize, at: u64) -> bool {
        if at != 0 && self.expires.is_empty() {
            let mut column = Vec::with_capacity(self.entries.capacity());
            column.resize(self.entries.len(), 0);
            self.expires = column;
        }
        let was = match self.expires.get_mut(i) {
            Some(slot) => std::mem::replace(slot, at) != 0,
            None => false,
        };
        match (was, at != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        if self.volatile == 0 && !self.expires.is_empty() {
            self.expires = Vec::new();
        }
        was
    }

    /// Removes entry `i` (its index bucket already removed): the last entry
    /// moves into its place and its bucket is re-pointed.
    fn take(&mut self, i: usize, hasher: &DefaultHashBuilder) -> (Entry, u64) {
        let last = self.entries.len() - 1;
        let entry = self.entries.swap_remove(i);
        let expire_at = if self.expires.is_empty() {
            0
        } else {
            self.expires.swap_remove(i)
        };
        if i != last {
            let h = hasher.hash_one(&**self.entries[i].key());
            self.index.repoint(h, last, i);
        }
        if expire_at != 0 {
            self.volatile -= 1;
            if self.volatile == 0 {
                self.expires = Vec::new();
            }
        }
        self.shrink_if_sparse(hasher);
        (entry, expire_at)
    }

    /// Removes the entry at position `i`, finding its bucket by hash.
    fn take_at(&mut self, i: usize, hasher: &DefaultHashBuilder) -> (Entry, u64) {
        let h = hasher.hash_one(&**self.entries[i].key());
        self.index.remove(h, |j| j == i);
        self.take(i, hasher)
    }

    /// Gives memory back once a table has shrunk to a quarter of its room.
    fn shrink_if_sparse(&mut self, hasher: &DefaultHashBuilder) {
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        if cap > 16 && len * 4 < cap {
            self.entries.shrink_to(len * 2);
            self.expires.shrink_to(len * 2);
            let entries = &self.entries;
            self.index.shrink_to(len, |i| {
                entries.get(i).map_or(0, |e| hasher.hash_one(&**e.key()))
            });
        }
    }
}

/// The keys of one database in one shard.
pub struct Db {
    /// One per owned slot; empty until the first write.
    tables: Vec<Table>,
    /// How many tables `tables` has once allocated.
    slots: usize,
    hasher: DefaultHashBuilder,
    keys: usize,
    volatile: usize,
    /// Bit t set iff table t has a key with a TTL; allocated with `tables`.
    volatile_tables: Vec<u64>,
    mem: MemCount,
    /// Tables allocated at start-up, kept (empty) when the db is cleared.
    resident: bool,
}

impl Db {
    /// A database of `tables` slot tables hashing keys with `hasher` (the
    /// shard's, so a [`Loc`] computed by the shard finds them).
    pub fn new(tables: usize, hasher: DefaultHashBuilder) -> Self {
        Db {
            tables: Vec::new(),
            // At least one: a shard's Loc always names a table.
            slots: tables.max(1),
            hasher,
            keys: 0,
            volatile: 0,
            volatile_tables: Vec::new(),
            mem: MemCount::default(),
            resident: false,
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
        self.slots
    }

    /// The byte counts of this database.
    pub fn memory(&self) -> MemCount {
        self.mem
    }

    /// Bytes used beyond key and value bytes proper: tables, index, entry
    /// slots and their unused inline room (`overhead.hashtable.main`).
    pub fn overhead(&self) -> usize {
        self.mem.total - self.mem.payload
    }

    /// Recounts [`Db::memory`] from scratch (tests and debug checks).
    pub fn recount_memory(&self) -> MemCount {
        let mut m = MemCount {
            total: self.fixed_bytes(),
            payload: 0,
        };
        for t in &self.tables {
            m.total += t.alloc_bytes();
            for e in &t.entries {
                m.total += e.heap_bytes();
                m.payload += e.payload_bytes();
            }
        }
        m
    }

    /// Debug builds: panics when the running count has drifted.
    pub fn debug_check_memory(&self) {
        debug_assert_eq!(self.mem, self.recount_memory(), "memory count drifted");
    }

    pub(super) fn fixed_bytes(&self) -> usize {
        self.tables.capacity() * size_of::<Table>() + self.volatile_tables.capacity() * 8
    }

    /// Allocates the slot tables at the first write.
    fn tables_mut(&mut self) -> &mut Vec<Table> {
        if self.tables.is_empty() && self.slots > 0 {
            self.tables = (0..self.slots).map(|_| Table::default()).collect();
            self.volatile_tables = vec![0; self.slots.div_ceil(64)];
            self.mem.total += self.fixed_bytes();
        }
        &mut self.tables
    }

    pub fn find(&self, loc: Loc, key: &[u8]) -> Option<EntryRef<'_>> {
        let t = self.tables.get(loc.table)?;
        let i = t.position(loc.hash, key)?;
        Some(EntryRef::new(&t.entries[i], t.expire_of(i)))
    }

    /// Asks the CPU to start fetching what a lookup of `loc` reads first,
    /// so the lookups of a pipelined batch overlap their cache misses
    /// instead of paying them one after another. Stage 0 fetches the
    /// table's header; stage 1 (after stage 0 of the whole batch) reads it
    /// and fetches the start of its entries; stage 2 probes the index and
    /// fetches the candidates' heap keys. Only a hint: no effect on
    /// results, and nothing on other architectures.
    #[inline]
    pub fn prefetch(&self, loc: Loc, stage: u8) {
        let Some(t) = self.tables.get(loc.table) else {
            return;
        };
        match stage {
            0 => prefetch_line(t as *const Table as *const u8),
            1 => {
                let first = t.entries.as_ptr() as *const u8;
                // A small table's entries span a few lines: fetch two.
                prefetch_line(first);
                prefetch_line(first.wrapping_add(64));
            }
            _ => {
                // Probe the index without matching, fetching each
                // candidate's heap key (the lookup's last miss).
                let entries = &t.entries;
                t.index.find(loc.hash, |i| {
                    if let Some(p) = entries.get(i).and_then(|e| e.key().heap_ptr()) {
                        prefetch_line(p);
                    }
                    false
                });
            }
        }
    }

    /// The entry for writing, its expiry, and the byte counts to account a
    /// change of its value in (see [`MemCount::changed`]).
    pub fn find_mut(&mut self, loc: Loc, key: &[u8]) -> Option<(&mut Entry, u64, &mut MemCount)> {
        let t = self.tables.get_mut(loc.table)?;
        let i = t.position(loc.hash, key)?;
        let expire_at = t.expire_of(i);
        Some((&mut t.entries[i], expire_at, &mut self.mem))
    }

    /// Inserts or replaces `key` (a new entry gets `clock`); the expiry is
    /// set to `expire_at` (0 = none). Returns the stored entry and whether
    /// it replaced one.
    pub fn insert(
        &mut self,
        loc: Loc,
        key: &[u8],
        value: Value,
        expire_at: u64,
        clock: u32,
    ) -> (&mut Entry, bool) {
        self.tables_mut();
        let table = &mut self.tables[loc.table];
        let before = table.alloc_bytes();
        let (i, replaced) = match table.position(loc.hash, key) {
            Some(i) => {
                let e = &mut table.entries[i];
                let old = (e.value.mem_usage(), e.value.payload_bytes());
                self.mem
                    .changed(old, (value.mem_usage(), value.payload_bytes()));
                e.value = value;
                (i, true)
            }
            None => {
                let entry = Entry::new(key, value, clock);
                self.mem.total += entry.heap_bytes();
                self.mem.payload += entry.payload_bytes();
                let i = table.entries.len();
                reserve_one(&mut table.entries);
                table.entries.push(entry);
                if !table.expires.is_empty() {
                    let room = table.entries.capacity() - table.expires.len();
                    table.expires.reserve_exact(room);
                    table.expires.push(0);
                }
                let (entries, hasher) = (&table.entries, &self.hasher);
                table.index.insert(loc.hash, i, |j| {
                    entries.get(j).map_or(0, |e| hasher.hash_one(&**e.key()))
                });
                self.keys += 1;
                (i, false)
            }
        };
        let was = table.set_expire_at(i, expire_at);
        let after = table.alloc_bytes();
        self.mem.total = self.mem.total - before + after;
        self.count_volatile(loc.table, was, expire_at != 0);
        (&mut self.tables[loc.table].entries[i], replaced)
    }

    /// Counts a key of table `t` gaining (`!was && now`) or losing a TTL,
    /// keeping `volatile_tables` equal to the tables with a non-zero count.
    fn count_volatile(&mut self, t: usize, was: bool, now: bool) {
        match (was, now) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => return,
        }
        let set = self.tables.get(t).is_some_and(|t| t.volatile > 0);
        if let Some(word) = self.volatile_tables.get_mut(t / 64) {
            if set {
                *word |= 1 << (t % 64);
            } else {
                *word &= !(1 << (t % 64));
            }
        }
    }

    /// The first table at or after `from` holding a key with a TTL.
    pub fn next_volatile_table(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        let mut bits = *self.volatile_tables.get(w)? & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            bits = *self.volatile_tables.get(w)?;
        }
    }

    /// Sets the expiry of an existing key; returns false if the key is absent.
    pub fn set_expire(&mut self, loc: Loc, key: &[u8], expire_at: u64) -> bool {
        let Some(table) = self.tables.get_mut(loc.table) else {
            return false;
        };
        let Some(i) = table.position(loc.hash, key) else {
            return false;
        };
        let before = table.alloc_bytes();
        let was = table.set_expire_at(i, expire_at);
        let after = table.alloc_bytes();
        self.mem.total = self.mem.total - before + after;
        self.count_volatile(loc.table, was, expire_at != 0);
        true
    }

    pub fn remove(&mut self, loc: Loc, key: &[u8]) -> Option<Detached> {
        let table = self.tables.get_mut(loc.table)?;
        let entries = &table.entries;
        let i = table.index.remove(loc.hash, |i| {
            entries.get(i).is_some_and(|e| &**e.key() == key)
        })?;
        let before = table.alloc_bytes();
        let (entry, expire_at) = table.take(i, &self.hasher);
        let after = table.alloc_bytes();
        self.mem.total = self.mem.total - before + after;
        self.forget(&entry);
        self.count_volatile(loc.table, expire_at != 0, false);
        Some(Detached::new(entry, expire_at))
    }

    /// Accounts an entry gone from a table.
    fn forget(&mut self, entry: &Entry) {
        self.keys -= 1;
        self.mem.total -= entry.heap_bytes();
        self.mem.payload -= entry.payload_bytes();
    }

    /// Empties the database. Its slot tables stay allocated (empty) when
    /// they were allocated at start-up, else they go.
    pub fn clear(&mut self) {
        if self.resident {
            for t in &mut self.tables {
                *t = Table::default();
            }
            self.volatile_tables.fill(0);
        } else {
            self.tables = Vec::new();
            self.volatile_tables = Vec::new();
        }
        self.keys = 0;
        self.volatile = 0;
        self.mem = MemCount {
            total: self.fixed_bytes(),
            ..MemCount::default()
        };
    }

    /// Allocates the slot tables now rather than at the first write (the
    /// shard does so for database 0, a cost of its start-up, as Redis's
    /// main dictionary is).
    pub fn allocate_tables(&mut self) {
        self.resident = true;
        self.tables_mut();
    }

    /// Removes the expired entries of table `t`; returns how many were removed.
    pub fn expire_table(&mut self, t: usize, now_ms: u64) -> usize {
        let Some(table) = self.tables.get_mut(t) else {
            return 0;
        };
        if table.volatile == 0 {
            return 0;
        }
        let before = table.alloc_bytes();
        let mut gone = Vec::new();
        let mut i = 0;
        while i < table.entries.len() {
            let at = table.expire_of(i);
            if at != 0 && at <= now_ms {
                gone.push(table.take_at(i, &self.hasher).0);
            } else {
                i += 1;
            }
        }
        let after = table.alloc_bytes();
        self.mem.total = self.mem.total - before + after;
        for e in &gone {
            self.forget(e);
            self.count_volatile(t, true, false);
        }
        gone.len()
    }

    pub fn table_has_volatile(&self, t: usize) -> bool {
        self.tables.get(t).is_some_and(|t| t.volatile > 0)
    }

    pub fn table_len(&self, t: usize) -> usize {
        self.tables.get(t).map_or(0, |t| t.entries.len())
    }

    /// Bytes of table `t`'s index (its share of which a key costs).
    pub fn table_index_bytes(&self, t: usize) -> usize {
        self.tables.get(t).map_or(0, |t| t.index.allocation_size())
    }

    /// True when table `t` keeps an expiry column (8 bytes per key).
    pub fn table_has_expiry_column(&self, t: usize) -> bool {
        self.tables.get(t).is_some_and(|t| !t.expires.is_empty())
    }

    /// Entries of table `t` (any order).
    pub fn table_iter(&self, t: usize) -> impl Iterator<Item = EntryRef<'_>> {
        self.tables.get(t).into_iter().flat_map(|t| {
            t.entries
                .iter()
                .enumerate()
                .map(move |(i, e)| EntryRef::new(e, t.expire_of(i)))
        })
    }

    /// Every entry of the database.
    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> {
        (0..self.tables.len()).flat_map(move |t| self.table_iter(t))
    }
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
