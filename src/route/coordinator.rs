//! The transaction coordinator: the one place that says how a multi-shard
//! operation takes its locks. Pipeline steps (route/segment.rs), multi-key
//! commands (route/multikey.rs), MULTI/EXEC (route/txn.rs) and keyspace-wide
//! writes (route/global.rs) all build a [`LockPlan`] and lock it through a
//! [`Tx`]; none of them orders shards or picks lock granularity itself.
//!
//! The rule (deadlock freedom, runtime/locks.rs): a transaction locks its
//! shards one after another in ascending shard order, waiting only at the
//! shard it is locking, holding only lower ones. Every lock is held until
//! the last part has run (two-phase locking), then released; with an AOF,
//! after every shard has written its commit record.
//!
//! Variations, each written once here:
//! - a pipeline step of more than [`WHOLE_SHARD_LOCK_KEYS`] keys locks each
//!   shard whole ([`LockPlan::for_step`]);
//! - a step that runs each shard's part as soon as that shard is locked
//!   visits the shards through [`LockPlan::visits`]: without an AOF the last
//!   shard takes no lock, its part runs when its keys are free (every lower
//!   shard is still held then: the step's lock point); exactly two shards
//!   without an AOF go through the lower shard, which forwards
//!   ([`LockPlan::forwarded`]);
//! - a multi-key command's highest remote lock rides on the first op sent
//!   there ([`Tx::begin_but_last`]);
//! - an EXEC whose keys all live on this core's shard takes no locks: it
//!   waits until none is held, then runs without yielding ([`Tx::begin_or_local`]).
//!
//! The coordinator reaches shards through a [`Locker`]: `Core` over the mesh,
//! or the in-process harness's three lock tables (route/harness.rs), where
//! the rule is unit-tested. A [`Tx`] that is dropped without being finished
//! (an error, a cancelled connection) releases what it holds.

use crate::runtime::core::Core;
use crate::runtime::locks::{LockId, TxId};
use crate::runtime::mesh::JobKind;
use std::future::Future;
use std::rc::Rc;

/// Keys above which a coordinated pipeline step locks its shards whole.
pub const WHOLE_SHARD_LOCK_KEYS: usize = 256;

/// Locks per shard: (shard, lock ids).
pub type ShardKeys = Vec<(usize, Vec<LockId>)>;

/// How the coordinator reaches the shards' lock tables.
pub trait Locker {
    /// This core's shard.
    fn me(&self) -> usize;
    fn new_txid(&self) -> TxId;
    /// Locks `keys` (or the whole shard) on `shard` for `txid`; resolves once granted.
    fn lock(
        &self,
        shard: usize,
        txid: TxId,
        keys: Vec<LockId>,
        whole: bool,
    ) -> impl Future<Output = ()>;
    /// Releases everything `txid` holds on `shard` (one-way for a peer:
    /// safe because every lock was held before any release).
    fn release(&self, shard: usize, txid: TxId);
    /// Resolves once no transaction holds any of `ids` on this core's shard.
    fn wait_free(&self, ids: &[LockId]) -> impl Future<Output = ()>;
}

impl Locker for Rc<Core> {
    fn me(&self) -> usize {
        self.id()
    }

    fn new_txid(&self) -> TxId {
        Core::new_txid(self)
    }

    async fn lock(&self, shard: usize, txid: TxId, keys: Vec<LockId>, whole: bool) {
        if shard == self.id() {
            self.lock_local(txid, keys, whole).await;
        } else {
            let _locked = self
                .call(shard, 0, JobKind::Lock { txid, keys, whole })
                .await;
        }
    }

    fn release(&self, shard: usize, txid: TxId) {
        if shard == self.id() {
            self.release_tx(txid);
        } else {
            drop(self.call(shard, 0, JobKind::Release { txid }));
        }
    }

    async fn wait_free(&self, ids: &[LockId]) {
        while self.any_locked(ids) {
            self.released().await;
        }
    }
}

/// What a transaction will lock: each shard's lock ids, shards in ascending
/// order, or every listed shard whole.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LockPlan {
    shards: ShardKeys,
    whole: bool,
}

/// How one shard is locked as a step visits it ([`LockPlan::visits`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Visit {
    /// Take these locks (none when `whole`: the whole shard) for the step,
    /// then run its part.
    Lock { keys: Vec<LockId>, whole: bool },
    /// The last shard without an AOF: take nothing, run its part whole once
    /// none of these keys is held.
    WhenFree(Vec<LockId>),
}

impl LockPlan {
    /// The locks of (shard, lock id) pairs, keyed.
    pub fn keys(items: impl IntoIterator<Item = (usize, LockId)>) -> LockPlan {
        let mut shards = group_keys(items);
        shards.sort_unstable_by_key(|(s, _)| *s);
        LockPlan {
            shards,
            whole: false,
        }
    }

    /// A pipeline step's locks: keyed, or past [`WHOLE_SHARD_LOCK_KEYS`]
    /// keys each shard whole (cheaper than a lock entry per key for mass
    /// insertion and big pipelines). The keys are kept: a lock-free last
    /// shard still waits for them.
    pub fn for_step(items: impl IntoIterator<Item = (usize, LockId)>) -> LockPlan {
        let mut plan = LockPlan::keys(items);
        plan.whole = plan.key_count() > WHOLE_SHARD_LOCK_KEYS;
        plan
    }

    /// Every shard of `cores`, each whole (FLUSHALL, EXEC with keyspace-wide
    /// commands).
    pub fn every_shard(cores: usize) -> LockPlan {
        LockPlan {
            shards: (0..cores).map(|s| (s, Vec::new())).collect(),
            whole: true,
        }
    }

    pub fn is_whole(&self) -> bool {
        self.whole
    }

    pub fn key_count(&self) -> usize {
        self.shards.iter().map(|(_, k)| k.len()).sum()
    }

    /// The shards, ascending.
    pub fn shards(&self) -> impl Iterator<Item = usize> + '_ {
        self.shards.iter().map(|(s, _)| *s)
    }

    /// Every lock id when all of them are on `shard` and nothing is locked
    /// whole (the no-lock shortcut's test).
    pub fn only_on(&self, shard: usize) -> Option<Vec<LockId>> {
        match self.shards.as_slice() {
            _ if self.whole => None,
            [] => Some(Vec::new()),
            [(s, ids)] if *s == shard => Some(ids.clone()),
            _ => None,
        }
    }

    /// The shards of a step that runs each shard's part as soon as it is
    /// locked, ascending, with how each is locked. With `lock_last` (an
    /// AOF: every shard must hold its keys until its commit record), the
    /// last shard locks too; otherwise it takes nothing ([`Visit::WhenFree`]).
    pub fn visits(self, lock_last: bool) -> Vec<(usize, Visit)> {
        let LockPlan { shards, whole } = self;
        let n = shards.len();
        shards
            .into_iter()
            .enumerate()
            .map(|(i, (shard, keys))| {
                let visit = if i + 1 == n && !lock_last {
                    Visit::WhenFree(keys)
                } else if whole {
                    Visit::Lock {
                        keys: Vec::new(),
                        whole,
                    }
                } else {
                    Visit::Lock { keys, whole }
                };
                (shard, visit)
            })
            .collect()
    }

    /// A two-shard keyed step without an AOF, handed to the lower shard,
    /// which locks, runs its part and forwards the other part to the last
    /// shard (runtime/forward.rs): (lower shard, its locks, last shard).
    pub fn forwarded(&self, lock_last: bool) -> Option<(usize, Vec<LockId>, usize)> {
        match self.shards.as_slice() {
            [(lower, keys), (last, _)] if !self.whole && !lock_last => {
                Some((*lower, keys.clone(), *last))
            }
            _ => None,
        }
    }
}

/// A running coordinated transaction and the shards where it holds locks.
/// Finish it with [`Tx::release`] or [`Tx::commit`]; dropped unfinished, it
/// releases.
pub struct Tx<'l, L: Locker> {
    locker: &'l L,
    txid: TxId,
    shards: Vec<usize>,
}

/// A transaction, or the no-lock shortcut of a queue whose keys are all on
/// this core's shard ([`Tx::begin_or_local`]).
pub enum Held<'l, L: Locker> {
    Tx(Tx<'l, L>),
    /// Nothing locked; the id is for journal grouping only.
    Local(TxId),
}

impl<'l, L: Locker> Tx<'l, L> {
    /// A transaction holding nothing yet (a step that locks as it visits).
    pub fn new(locker: &'l L) -> Self {
        Tx {
            locker,
            txid: locker.new_txid(),
            shards: Vec::new(),
        }
    }

    /// Takes every lock of `plan`, ascending, and returns once all are held.
    pub async fn begin(locker: &'l L, plan: LockPlan) -> Self {
        let mut tx = Tx::new(locker);
        for (shard, keys) in plan.shards {
            let keys = if plan.whole { Vec::new() } else { keys };
            tx.lock(shard, keys, plan.whole).await;
        }
        tx
    }

    /// [`Tx::begin`] for every shard but the highest when that one is
    /// remote and not the only one: its locks are returned, to ride on the
    /// first op sent there (one message fewer). The transaction counts it
    /// as held.
    pub async fn begin_but_last(
        locker: &'l L,
        mut plan: LockPlan,
    ) -> (Self, Option<(usize, Vec<LockId>)>) {
        let last = match plan.shards.last() {
            Some((s, _)) if *s != locker.me() && plan.shards.len() > 1 && !plan.whole => {
                plan.shards.pop()
            }
            _ => None,
        };
        let mut tx = Tx::begin(locker, plan).await;
        if let Some((s, _)) = &last {
            tx.holds(*s);
        }
        (tx, last)
    }

    /// With `local_ok`, when every lock of `plan` is on this core's shard,
    /// takes none: waits until no transaction holds any of them (what runs
    /// next, up to its end, must not yield). Otherwise [`Tx::begin`].
    pub async fn begin_or_local(locker: &'l L, plan: LockPlan, local_ok: bool) -> Held<'l, L> {
        if local_ok {
            if let Some(ids) = plan.only_on(locker.me()) {
                locker.wait_free(&ids).await;
                return Held::Local(locker.new_txid());
            }
        }
        Held::Tx(Tx::begin(locker, plan).await)
    }

    pub fn txid(&self) -> TxId {
        self.txid
    }

    /// Locks `keys` (or the whole shard) on `shard`, which must be above
    /// every shard locked so far.
    pub async fn lock(&mut self, shard: usize, keys: Vec<LockId>, whole: bool) {
        debug_assert!(self.shards.iter().all(|&s| s < shard), "ascending order");
        self.locker.lock(shard, self.txid, keys, whole).await;
        self.shards.push(shard);
    }

    /// Records that `shard` is locked too, by a message that carried the
    /// lock with its work (lock-then-run).
    pub fn holds(&mut self, shard: usize) {
        if !self.shards.contains(&shard) {
            self.shards.push(shard);
        }
    }

    /// The shards held, in locking order.
    pub fn held(&self) -> &[usize] {
        &self.shards
    }

    /// Releases every lock.
    pub fn release(mut self) {
        self.release_all();
    }

    fn release_all(&mut self) {
        for shard in std::mem::take(&mut self.shards) {
            self.locker.release(shard, self.txid);
        }
    }
}

impl Tx<'_, Rc<Core>> {
    /// Ends a transaction that may have written, then releases its locks.
    /// With an AOF, once every part has answered, every shard of the
    /// transaction appends one of its commit records (shard/journal.rs) and
    /// answers when the record is written — fdatasynced under `appendfsync
    /// always` — so the reply, and the release that lets others see the
    /// writes, come only when a replay would apply the whole transaction.
    pub async fn commit(self) {
        let core = self.locker;
        if core.aof().is_some() {
            let (txid, parts) = (self.txid, self.shards.len());
            let remote: Vec<_> = self
                .shards
                .iter()
                .filter(|&&s| s != core.id())
                .map(|&s| core.call(s, 0, JobKind::Commit { txid, parts }))
                .collect();
            if self.shards.contains(&core.id()) {
                core.run_local(0, JobKind::Commit { txid, parts });
            }
            for ack in remote {
                ack.await;
            }
            // Commit records are effects of this reply's own.
            core.journal_barrier(0).await;
        }
        self.release();
    }

    /// Commits after a write, releases after a read.
    pub async fn finish(self, wrote: bool) {
        if wrote {
            self.commit().await;
        } else {
            self.release();
        }
    }
}

impl<L: Locker> Drop for Tx<'_, L> {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Groups (shard, item) pairs by shard, in order of first appearance.
pub fn group_keys<K>(items: impl IntoIterator<Item = (usize, K)>) -> Vec<(usize, Vec<K>)> {
    let mut groups: Vec<(usize, Vec<K>)> = Vec::new();
    for (shard, item) in items {
        match groups.iter_mut().find(|g| g.0 == shard) {
            Some(g) => g.1.push(item),
            None => groups.push((shard, vec![item])),
        }
    }
    groups
}
