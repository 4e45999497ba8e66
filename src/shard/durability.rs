//! The shard's side of persistence: running a snapshot cut (snapshot.rs)
//! alongside writes, and journaling each command or its effects for the AOF
//! (journal.rs) between `begin_command` and `settle`.

use super::*;

impl Shard {
    /// Starts a point-in-time snapshot of this shard (see snapshot.rs),
    /// its file holding `functions` (library code) after the header.
    /// Replaces any snapshot in progress.
    pub fn begin_snapshot(
        &mut self,
        cut_ms: u64,
        aux: crate::persist::rdb::AuxInfo,
        functions: &[std::sync::Arc<[u8]>],
    ) {
        self.snapshot = Some(snapshot::SnapshotCut::new(
            &self.dbs,
            cut_ms,
            aux,
            functions,
            self.hasher,
        ));
    }

    /// True when a write command may change `key` now; false while a
    /// running snapshot still encodes its value (see shard/snapshot.rs):
    /// the command waits until [`Self::snapshot_released`] says so.
    #[inline]
    pub fn snapshot_admits(&mut self, db: usize, key: &[u8]) -> bool {
        if self.snapshot.is_none() {
            return true;
        }
        let loc = self.locate(key);
        match self.snapshot.as_mut() {
            Some(s) => s.admits(&self.dbs, db, loc, key),
            None => true,
        }
    }

    /// True once after a value the snapshot was encoding is complete:
    /// commands waiting in [`Self::snapshot_admits`] may go on.
    pub fn snapshot_released(&mut self) -> bool {
        self.snapshot.as_mut().is_some_and(|s| s.take_released())
    }

    /// Encodes more of the running snapshot (about `budget` bytes); true once
    /// it is complete. False when no snapshot runs.
    pub fn snapshot_step(&mut self, budget: usize) -> bool {
        match self.snapshot.as_mut() {
            Some(s) => s.step(&self.dbs, budget),
            None => false,
        }
    }

    /// The snapshot bytes encoded so far, in file order.
    pub fn snapshot_take(&mut self) -> Vec<u8> {
        self.snapshot
            .as_mut()
            .map(|s| s.take_output())
            .unwrap_or_default()
    }

    /// Drops the snapshot (finished or abandoned).
    pub fn end_snapshot(&mut self) {
        self.snapshot = None;
    }

    /// True while a snapshot is being written.
    pub fn snapshot_running(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Turns the journal on (appendonly): every later change is journaled.
    pub fn enable_journal(&mut self) {
        self.journal = Some(journal::Journal::default());
        self.in_place.journaling = true;
    }

    /// Ends a command run in `db` with `args`: counts its in-place writes
    /// and journals it: as `args` when it changed data and its handler
    /// journaled nothing itself, else as the handler's records or effects.
    /// Called after every command handler.
    #[inline]
    pub fn settle(&mut self, db: usize, args: &crate::protocol::Args) {
        if self.in_place.dirty != 0 {
            self.dirty += std::mem::take(&mut self.in_place.dirty);
        }
        if self.journal.is_none() {
            return;
        }
        let c = &mut self.in_place;
        let (changed, propagated) = (c.changed, c.propagated);
        c.in_command = false;
        c.changed = false;
        c.propagated = false;
        c.effects = false;
        if let Some((db, key)) = self.in_place.pending.take() {
            let loc = self.locate(&key);
            if let (Some(j), Some(e)) = (self.journal.as_mut(), self.dbs[db].find(loc, &key)) {
                j.set(db, &key, &e.value, e.expire_at());
            }
        }
        if let Some(j) = self.journal.as_mut() {
            if changed && !propagated {
                let argv: smallvec::SmallVec<[&[u8]; 8]> = args.iter_from(0).collect();
                j.command(db, &argv);
            }
            j.end_command();
        }
    }

    /// Runs `f`, a command nested in the running one (a script's
    /// `redis.call`), and journals it as `args` when it changed data and
    /// journaled nothing itself, so the running command's records are the
    /// writes its nested commands made (wrapped in MULTI/EXEC when more than
    /// one, journal.rs). Outside a journaled command `f` just runs.
    pub fn nested_command<R>(
        &mut self,
        db: usize,
        args: &[&[u8]],
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        if !self.in_place.in_command {
            return f(self);
        }
        let c = &mut self.in_place;
        let outer = (
            std::mem::take(&mut c.changed),
            std::mem::take(&mut c.propagated),
        );
        let r = f(self);
        let c = &mut self.in_place;
        let (changed, propagated) = (c.changed, c.propagated);
        if changed && !propagated {
            if let Some(j) = self.journal.as_mut() {
                j.command(db, args);
            }
        }
        let c = &mut self.in_place;
        c.changed = outer.0 || changed;
        c.propagated = outer.1 || propagated || changed;
        r
    }

    /// Makes `key` writable at once for a write that cannot wait (a
    /// script's): when a running snapshot is still encoding its value, the
    /// encoding is finished first (see shard/snapshot.rs).
    pub fn snapshot_make_writable(&mut self, db: usize, key: &[u8]) {
        if !self.snapshot_admits(db, key) {
            if let Some(s) = self.snapshot.as_mut() {
                s.finish_key(&self.dbs, db, key);
            }
        }
    }

    /// A command starts, at `now_ms` (its batch's clock; see
    /// [`journal::Journal::begin_command`]).
    #[inline]
    pub fn begin_command(&mut self, now_ms: u64) {
        self.command_ms = now_ms;
        if let Some(j) = self.journal.as_mut() {
            j.begin_command();
            self.in_place.in_command = true;
        }
    }

    /// Journals `args` (run in `db`) for the running command, in place of
    /// the arguments it received: for a command whose arguments would not
    /// replay to the same data (see journal.rs). May be called several times.
    pub fn propagate(&mut self, db: usize, args: &[&[u8]]) {
        self.in_place.propagated = true;
        if let Some(j) = self.journal.as_mut() {
            j.command(db, args);
        }
    }

    /// Runs `f` as a write that journals itself: what `f` passes to
    /// [`Shard::propagate`] is its record, its in-place writes are not
    /// journaled as effects. Inside a command handler `f` just runs (the
    /// handler's arguments are then not journaled); outside one (a part of
    /// a cross-shard command) it runs as its own command, at `now_ms`.
    pub fn journaled<R>(&mut self, now_ms: u64, f: impl FnOnce(&mut Self) -> R) -> R {
        if self.in_place.in_command || self.journal.is_none() {
            return f(self);
        }
        self.begin_command(now_ms);
        let r = f(self);
        self.dirty += std::mem::take(&mut self.in_place.dirty);
        let c = &mut self.in_place;
        c.in_command = false;
        c.changed = false;
        c.propagated = false;
        c.effects = false;
        if let Some(j) = self.journal.as_mut() {
            j.end_command();
        }
        r
    }

    /// The running command journals the effects of its writes (each key's new
    /// state) instead of itself: for RENAME/COPY between keys of different
    /// slots, which no single-slot command reproduces.
    pub fn journal_effects(&mut self) {
        self.in_place.effects = true;
    }

    /// Effects from now until [`Shard::end_tx_part`] belong to transaction
    /// `txid` in the journal (no-op without a journal).
    pub fn begin_tx_part(&mut self, txid: u64) {
        if let Some(j) = self.journal.as_mut() {
            j.begin_part(journal::tx_tag(txid));
        }
    }

    pub fn end_tx_part(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            j.end_part();
        }
    }

    /// Journals a `DEL` for every key of `table` expired at `now_ms`, before
    /// the sweep removes them (replay never expires keys itself).
    pub(super) fn journal_expired(&mut self, db: usize, table: usize, now_ms: u64) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        for e in self.dbs[db].table_iter(table) {
            if e.is_expired(now_ms) {
                j.del(db, e.key());
            }
        }
    }
}
