//! The shard: sole owner of one executor's part of the keyspace.
//!
//! A `Shard` is built empty inside its executor, or filled by the loader on the
//! main thread before the executors start; once its executor runs it never
//! leaves it. Every change goes through the methods here, which keep WATCH
//! versions, the dirty counter, the journal (AOF) and a running snapshot in
//! step with the data. Inside a command handler (between
//! [`Shard::begin_command`] and [`Shard::settle`]) writes only mark the
//! command as having changed something, and the command itself is journaled
//! (see journal.rs); elsewhere they journal their effects. Everything here
//! is synchronous: handlers borrow the shard, run to completion and return; no
//! borrow is ever held across an `.await`. Expired keys are removed lazily on
//! access and by a time-bounded active sweep ([`Shard::active_expire`]).
//!
//! Memory: every db counts its bytes exactly on every write (see db.rs);
//! [`Shard::used_memory`] is their sum. Lookups through [`Shard::get`],
//! [`Shard::get_counted`] and [`Shard::get_mut`] update the key's access
//! clock (lru.rs) as Redis's `lookupKey`; [`Shard::peek`] and
//! [`Shard::exists`] do not (Redis's `LOOKUP_NOTOUCH`: TYPE, EXISTS, TTL,
//! OBJECT).

pub mod blocking;
pub mod db;
mod durability;
pub mod entry;
mod eviction;
pub mod index;
pub mod journal;
pub mod lru;
mod memory;
#[cfg(test)]
mod memory_tests;
pub mod snapshot;
pub mod value;
pub mod watch;

use crate::slot::{key_slot, SlotTable};
use db::{Db, Loc, MemCount};
use entry::{Detached, Entry, EntryRef};
use hashbrown::DefaultHashBuilder;
use lru::ClockPolicy;
use std::hash::BuildHasher;
use value::Value;

/// Mutable access to an entry that reports writes to WATCH and the dirty
/// counter, and to the journal (see [`Shard::get_mut`]). When dropped after
/// a write it accounts the value's size change in its db's byte count.
pub struct EntryMut<'a> {
    entry: &'a mut Entry,
    expire_at: u64,
    mem: &'a mut MemCount,
    /// The value's (heap, payload) bytes when the guard was made.
    before: (usize, usize),
    watched: &'a mut watch::WatchTable,
    changes: &'a mut InPlaceChanges,
    modified: bool,
    db: usize,
    key: &'a [u8],
}

/// Bookkeeping for the running command: in-place writes through
/// [`EntryMut`] and how the command is journaled when [`Shard::settle`] ends it.
#[derive(Default)]
struct InPlaceChanges {
    dirty: u64,
    journaling: bool,
    /// Between [`Shard::begin_command`] and [`Shard::settle`], journal on.
    in_command: bool,
    /// The running command changed data: its arguments are journaled.
    changed: bool,
    /// The handler journaled its own records ([`Shard::propagate`]).
    propagated: bool,
    /// The handler asked for effects ([`Shard::journal_effects`]).
    effects: bool,
    /// In effects mode, the key written in place: its new value is only
    /// known after the guard is gone, so it is journaled whole at settle.
    pending: Option<(usize, entry::Key)>,
}

impl EntryMut<'_> {
    /// The key's expiry (absolute Unix ms, 0 = none).
    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        if self.modified {
            let v = &self.entry.value;
            self.mem
                .changed(self.before, (v.mem_usage(), v.payload_bytes()));
        }
    }
}

impl std::ops::Deref for EntryMut<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        self.entry
    }
}

impl std::ops::DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut Entry {
        if !self.modified {
            self.modified = true;
            self.changes.dirty += 1;
            if self.changes.journaling {
                if self.changes.in_command && !self.changes.effects {
                    self.changes.changed = true;
                } else {
                    self.changes.pending = Some((self.db, self.key.into()));
                }
            }
        }
        if !self.watched.is_empty() {
            self.watched.touch(self.db, self.key);
        }
        self.entry
    }
}

/// Counters owned and written only by this shard.
#[derive(Default, Debug, Clone)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
}

/// One shard's data: `databases` logical DBs over the slots this shard owns.
pub struct Shard {
    id: usize,
    slots: SlotTable,
    /// The slots this shard owns; slot `s` has table `s - owned.start` in
    /// every `Db`.
    owned: std::ops::Range<u16>,
    hasher: DefaultHashBuilder,
    dbs: Vec<Db>,
    stats: ShardStats,
    /// Where the active expiry sweep resumes: (db, table).
    sweep: (usize, usize),
    /// Versions of WATCHed keys.
    watched: watch::WatchTable,
    /// Changes since the last successful snapshot (`rdb_changes_since_last_save`).
    dirty: u64,
    /// The append-only journal, when `appendonly` is on.
    journal: Option<journal::Journal>,
    in_place: InPlaceChanges,
    /// The snapshot being written, if any: consulted before every change.
    snapshot: Option<snapshot::SnapshotCut>,
    /// How access clocks are kept (from `maxmemory-policy`).
    policy: ClockPolicy,
    /// Whether integers count as shared (see [`Shard::set_eviction`]).
    shared_integers: bool,
    /// When collections leave their compact encodings.
    limits: value::EncodingLimits,
    /// The running command's clock (Unix ms, the batch's cached time as
    /// Redis caches it per event-loop turn), set by
    /// [`Shard::begin_command`]; it stamps the access clock of new values.
    /// 0 until a command has run (loading), when the wall clock is read.
    command_ms: u64,
    /// [`Shard::used_memory`] when built empty: its tables for every db.
    startup_memory: usize,
    /// Blocked commands waiting on this shard's keys (blocking.rs).
    blocking: blocking::Blocking,
}

impl Shard {
    pub fn new(id: usize, slots: SlotTable, databases: usize) -> Self {
        let owned = slots.slots_of(id);
        let tables = owned.len();
        let hasher = DefaultHashBuilder::default();
        let mut shard = Shard {
            id,
            slots,
            owned,
            hasher,
            dbs: (0..databases).map(|_| Db::new(tables, hasher)).collect(),
            stats: ShardStats::default(),
            sweep: (0, 0),
            watched: watch::WatchTable::default(),
            dirty: 0,
            journal: None,
            in_place: InPlaceChanges::default(),
            snapshot: None,
            policy: ClockPolicy::Lru,
            shared_integers: true,
            limits: value::EncodingLimits::default(),
            command_ms: 0,
            startup_memory: 0,
            blocking: blocking::Blocking::default(),
        };
        shard.dbs[0].allocate_tables();
        shard.startup_memory = shard.used_memory();
        shard
    }

    /// Follows the settings that shape stored data: eviction
    /// ([`Shard::set_eviction`]) and the encoding thresholds. Called at
    /// start and after every CONFIG SET or reload.
    pub fn configure(&mut self, cfg: &crate::config::Config) {
        self.set_eviction(cfg.maxmemory_policy, cfg.maxmemory);
        self.limits = value::EncodingLimits::from_config(cfg);
    }

    /// When collections leave their compact encodings (the live settings).
    pub fn encoding_limits(&self) -> value::EncodingLimits {
        self.limits
    }

    /// This shard's number (its executor's).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Which shard owns which slot.
    pub fn slots(&self) -> SlotTable {
        self.slots
    }

    /// The shard's counters (INFO stats, keyspace).
    pub fn stats(&self) -> &ShardStats {
        &self.stats
    }

    /// CONFIG RESETSTAT, and replay (whose lookups are not the clients').
    pub fn reset_stats(&mut self) {
        self.stats = ShardStats::default();
    }

    /// Versions of WATCHed keys (WATCH, UNWATCH, EXEC's check).
    pub fn watched_mut(&mut self) -> &mut watch::WatchTable {
        &mut self.watched
    }

    /// Changes since the last successful snapshot.
    pub fn dirty(&self) -> u64 {
        self.dirty
    }

    /// Forgets `done` changes: a snapshot that covered them succeeded, or
    /// loading (whose writes are not changes) finished.
    pub fn settle_dirty(&mut self, done: u64) {
        self.dirty = self.dirty.saturating_sub(done);
    }

    /// The append-only journal, when `appendonly` is on.
    pub fn journal(&self) -> Option<&journal::Journal> {
        self.journal.as_ref()
    }

    /// The journal, for the AOF writer that drains it.
    pub fn journal_mut(&mut self) -> Option<&mut journal::Journal> {
        self.journal.as_mut()
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Locates `key` in this shard. Keys of slots this shard does not own are
    /// kept in table 0 (only reachable through misrouting, which is a bug).
    #[inline]
    pub fn locate(&self, key: &[u8]) -> Loc {
        let idx = key_slot(key).wrapping_sub(self.owned.start) as usize;
        let owned = idx < self.owned.len();
        debug_assert!(owned, "key routed to the wrong shard");
        Loc {
            table: if owned { idx } else { 0 },
            hash: self.hash(key),
        }
    }

    /// Prefetch hints for the lookups of a batch's keys (see
    /// [`Db::prefetch`]): each stage for every key before the next stage.
    pub fn prefetch<'k>(&self, db: usize, keys: impl Iterator<Item = &'k [u8]> + Clone) {
        let Some(d) = self.dbs.get(db) else {
            return;
        };
        for stage in 0..3 {
            for key in keys.clone() {
                d.prefetch(self.locate(key), stage);
            }
        }
    }

    pub fn db(&self, db: usize) -> &Db {
        &self.dbs[db]
    }

    pub fn db_mut(&mut self, db: usize) -> &mut Db {
        &mut self.dbs[db]
    }

    /// Removes `key` if it has expired; returns its location.
    fn expire_if_needed(&mut self, db: usize, key: &[u8], now_ms: u64) -> Loc {
        let loc = self.locate(key);
        if self.dbs[db]
            .find(loc, key)
            .is_some_and(|e| e.is_expired(now_ms))
        {
            self.before_write(db, loc.table, key);
            self.dbs[db].remove(loc, key);
            self.stats.expired_keys += 1;
            self.touched(db, key);
            // Replay never expires keys: the removal is a record of its own.
            if let Some(j) = self.journal.as_mut() {
                j.del(db, key);
            }
        }
        loc
    }

    /// The journal a write by the methods below records its effect in: none
    /// inside a command handler (the command is journaled instead; the write
    /// only marks it as having changed something) unless it asked for effects.
    #[inline]
    fn effect_journal(&mut self) -> Option<&mut journal::Journal> {
        if self.in_place.in_command && !self.in_place.effects {
            self.in_place.changed = true;
            return None;
        }
        self.journal.as_mut()
    }

    /// Looks a key up for reading (expired keys are deleted and reported
    /// absent) and updates its access clock.
    pub fn get(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        self.lookup(db, key, now_ms, true, false)
    }

    /// As [`Shard::get`], and counts a keyspace hit or miss.
    pub fn get_counted(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        self.lookup(db, key, now_ms, true, true)
    }

    /// Looks a key up without touching its access clock (Redis's
    /// `LOOKUP_NOTOUCH`); expired keys are deleted and reported absent.
    pub fn peek(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        self.lookup(db, key, now_ms, false, false)
    }

    /// As [`Shard::peek`], and counts a keyspace hit or miss (OBJECT).
    pub fn peek_counted(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        self.lookup(db, key, now_ms, false, true)
    }

    fn lookup(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        touch: bool,
        count: bool,
    ) -> Option<EntryRef<'_>> {
        let loc = self.expire_if_needed(db, key, now_ms);
        let policy = self.policy;
        let found = match self.dbs[db].find_mut(loc, key) {
            Some((entry, expire_at, _)) => {
                if touch {
                    Self::touch_clock(policy, entry, now_ms);
                }
                Some(EntryRef::new(entry, expire_at))
            }
            None => None,
        };
        if count {
            if found.is_some() {
                self.stats.keyspace_hits += 1;
            } else {
                self.stats.keyspace_misses += 1;
            }
        }
        found
    }

    #[inline]
    fn touch_clock(policy: ClockPolicy, entry: &mut Entry, now_ms: u64) {
        let clock = policy.touched(entry.clock(), now_ms, rand::random::<f64>);
        entry.set_clock(clock);
    }

    /// Looks a key up for modification. Writing through the returned guard
    /// marks the key modified for WATCH; reading through it does not, so a
    /// command that fails (or changes nothing) leaves watchers undisturbed.
    pub fn get_mut<'a>(
        &'a mut self,
        db: usize,
        key: &'a [u8],
        now_ms: u64,
    ) -> Option<EntryMut<'a>> {
        let loc = self.expire_if_needed(db, key, now_ms);
        self.before_write(db, loc.table, key);
        let policy = self.policy;
        let (entry, expire_at, mem) = self.dbs[db].find_mut(loc, key)?;
        Self::touch_clock(policy, entry, now_ms);
        let before = (entry.value.mem_usage(), entry.value.payload_bytes());
        Some(EntryMut {
            entry,
            expire_at,
            mem,
            before,
            watched: &mut self.watched,
            changes: &mut self.in_place,
            modified: false,
            db,
            key,
        })
    }

    /// True when `key` is present (no clock touch, as Redis's EXISTS).
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        self.peek(db, key, now_ms).is_some()
    }

    /// Stores `value` under `key`, replacing any value; expiry as given (0 = none).
    pub fn set(&mut self, db: usize, key: &[u8], value: Value, expire_at: u64) {
        let loc = self.locate(key);
        self.before_write(db, loc.table, key);
        self.touched(db, key);
        self.signal_ready(db, key);
        self.dirty += 1;
        if let Some(j) = self.effect_journal() {
            j.set(db, key, &value, expire_at);
        }
        let now_ms = match self.command_ms {
            0 => crate::clock::unix_ms(),
            ms => ms,
        };
        let (policy, clock) = (self.policy, self.policy.initial(now_ms));
        let (entry, replaced) = self.dbs[db].insert(loc, key, value, expire_at, clock);
        // A new value is a new object to Redis (a fresh LRU time) but keeps
        // its LFU count on overwrite (`dbSetValue`).
        if replaced && policy == ClockPolicy::Lru {
            entry.set_clock(clock);
        }
    }

    /// Changes the expiry of an existing, unexpired key.
    /// Removing a TTL the key does not have changes nothing (no WATCH touch).
    pub fn set_expire(&mut self, db: usize, key: &[u8], expire_at: u64) -> bool {
        let loc = self.locate(key);
        let Some(old) = self.dbs[db].find(loc, key).map(|e| e.expire_at()) else {
            return false;
        };
        if expire_at != 0 || old != 0 {
            self.touched(db, key);
            self.before_write(db, loc.table, key);
            self.dirty += 1;
            if let Some(j) = self.effect_journal() {
                j.expire(db, key, expire_at);
            }
        }
        self.dbs[db].set_expire(loc, key, expire_at)
    }

    /// Deletes `key`; returns the removed entry if it existed and was not expired.
    pub fn remove(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<Detached> {
        let loc = self.expire_if_needed(db, key, now_ms);
        if self.snapshot.is_some() {
            self.dbs[db].find(loc, key)?;
            self.before_write(db, loc.table, key);
        }
        let removed = self.dbs[db].remove(loc, key)?;
        self.touched(db, key);
        self.dirty += 1;
        if let Some(j) = self.effect_journal() {
            j.del(db, key);
        }
        Some(removed)
    }

    /// Bumps the WATCH version of `key` (one branch when nothing is watched).
    #[inline]
    fn touched(&mut self, db: usize, key: &[u8]) {
        if !self.watched.is_empty() {
            self.watched.touch(db, key);
        }
    }

    /// Bumps the WATCH version of every watched key of `db` (None: every
    /// db) stored in `db` or in `other` (expired or not), as Redis's
    /// `touchAllWatchedKeysInDb`: a flush or swap changes only those.
    fn touch_present(&mut self, db: Option<usize>, other: Option<usize>) {
        if self.watched.is_empty() {
            return;
        }
        let present: Vec<(usize, Box<[u8]>)> = self
            .watched
            .keys(db)
            .filter(|&(d, k)| {
                let loc = self.locate(k);
                let stored = |d: usize| self.dbs[d].find(loc, k).is_some();
                stored(d) || other.is_some_and(stored)
            })
            .map(|(d, k)| (d, k.into()))
            .collect();
        for (d, k) in present {
            self.watched.touch(d, &k);
        }
    }

    pub fn flush_db(&mut self, db: usize) {
        self.before_db_write(db);
        self.touch_present(Some(db), None);
        self.dirty += self.dbs[db].len() as u64;
        if let Some(j) = self.effect_journal() {
            j.flush_db(db);
        }
        self.dbs[db].clear();
    }

    pub fn flush_all(&mut self) {
        for db in 0..self.dbs.len() {
            self.before_db_write(db);
        }
        self.touch_present(None, None);
        self.dirty += self.dbs.iter().map(|d| d.len() as u64).sum::<u64>();
        if let Some(j) = self.effect_journal() {
            j.flush_all();
        }
        for d in &mut self.dbs {
            d.clear();
        }
    }

    pub fn swap_db(&mut self, a: usize, b: usize) {
        self.before_db_write(a);
        self.before_db_write(b);
        self.touch_present(Some(a), Some(b));
        self.touch_present(Some(b), Some(a));
        self.dirty += 1;
        if let Some(j) = self.effect_journal() {
            j.swap_db(a, b);
        }
        self.dbs.swap(a, b);
        self.signal_swapped(a, b);
    }

    /// Serializes a key's table into the running snapshot before the key
    /// changes (and finishes the key's value if it is still being encoded).
    #[inline]
    fn before_write(&mut self, db: usize, table: usize, key: &[u8]) {
        if let Some(s) = self.snapshot.as_mut() {
            s.before_write(&self.dbs, db, table, Some(key));
        }
    }

    /// [`Self::before_write`] for a change to any key of a table.
    fn before_table_write(&mut self, db: usize, table: usize) {
        if let Some(s) = self.snapshot.as_mut() {
            s.before_write(&self.dbs, db, table, None);
        }
    }

    fn before_db_write(&mut self, db: usize) {
        if let Some(s) = self.snapshot.as_mut() {
            s.before_db_write(&self.dbs, db);
        }
    }

    /// Removes every key of every database whose expiry is at or before
    /// `now_ms` (after a replay, which expires nothing while it runs).
    pub fn remove_expired(&mut self, now_ms: u64) -> usize {
        let tables = self.dbs.first().map_or(0, |d| d.table_count());
        let mut removed = 0;
        for db in 0..self.dbs.len() {
            for t in 0..tables {
                if self.dbs[db].table_has_volatile(t) {
                    self.before_table_write(db, t);
                    self.journal_expired(db, t, now_ms);
                    removed += self.dbs[db].expire_table(t, now_ms);
                }
            }
        }
        removed
    }

    /// Every entry of every database (for loading, rewriting and tests).
    pub fn entries(&self) -> impl Iterator<Item = (usize, EntryRef<'_>)> {
        self.dbs
            .iter()
            .enumerate()
            .flat_map(|(i, d)| d.iter().map(move |e| (i, e)))
    }

    /// The key hash SCAN orders by (stable for this process's lifetime).
    pub fn scan_hash(&self, key: &[u8]) -> u64 {
        self.hash(key)
    }

    /// Active expiry: sweeps the tables holding volatile keys (each db's
    /// expiry index), resuming where the last sweep stopped, until `budget`
    /// tables were visited, `out_of_time` (checked every few tables) says
    /// stop, or every volatile table was visited once. Returns keys removed.
    pub fn active_expire(
        &mut self,
        now_ms: u64,
        budget: usize,
        mut out_of_time: impl FnMut() -> bool,
    ) -> usize {
        let mut removed = 0;
        let (mut db, mut table) = self.sweep;
        let dbs = self.dbs.len();
        // Each db is entered at most twice (once resumed mid-way, once more
        // from table 0 after wrapping), so the loop ends within one pass.
        let mut db_steps = 0;
        let mut visited = 0;
        while visited < budget && db_steps <= dbs {
            if db >= dbs {
                db = 0;
            }
            let Some(t) = self.dbs[db].next_volatile_table(table) else {
                db += 1;
                table = 0;
                db_steps += 1;
                continue;
            };
            table = t + 1;
            // A table whose big value is still being encoded for a snapshot
            // waits for the next sweep rather than stall the shard now.
            if self
                .snapshot
                .as_ref()
                .is_some_and(|s| s.defers_table(db, t))
            {
                continue;
            }
            self.before_table_write(db, t);
            self.journal_expired(db, t, now_ms);
            removed += self.dbs[db].expire_table(t, now_ms);
            visited += 1;
            if visited % 16 == 0 && out_of_time() {
                break;
            }
        }
        self.sweep = (db, table);
        self.stats.expired_keys += removed as u64;
        removed
    }
}

#[cfg(test)]
mod tests;
