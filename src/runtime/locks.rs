//! Per-shard key intent locks for multi-shard transactions (the VLL idea:
//! locks are plain entries in a table owned by the shard's core, taken only
//! while a multi-shard operation is scheduled; single-shard commands on
//! unlocked keys pay one branch).
//!
//! Deadlock freedom: a transaction locks its shards one after another in
//! ascending shard order and waits only at the shard it is currently locking,
//! holding only lower ones; so along any waits-for chain the shard index
//! strictly grows and no cycle can form. Within a shard, a lock request is
//! granted all-or-nothing, and requests that overlap an earlier waiting request
//! queue behind it (FIFO per key, no starvation).
//!
//! Work that finds its keys locked waits here: remote command batches are
//! parked with their position and resumed, local connections await
//! [`LockTable::released`].

use bytes::Bytes;
use hashbrown::HashMap;
use std::collections::VecDeque;

/// Transaction id: unique per process (`counter << 10 | core`); order is not
/// needed for correctness since shards are locked in ascending order.
pub type TxId = u64;

/// A locked key: (db, key bytes).
type LockKey = (usize, Box<[u8]>);

use crate::shard::watch::DbKeyRef as KeyRef;

/// A lock request waiting for its keys.
pub struct LockWait<G> {
    pub txid: TxId,
    pub keys: Vec<(usize, Bytes)>,
    pub whole: bool,
    pub grantee: G,
}

/// The lock table of one shard. `G` is what to notify on grant; `P` is a
/// parked piece of work.
pub struct LockTable<G, P> {
    held: HashMap<LockKey, TxId>,
    /// Transaction holding the whole shard (FLUSHALL, EXEC with keyspace-wide
    /// commands), if any.
    whole: Option<TxId>,
    /// Keys held per transaction, for release.
    by_tx: HashMap<TxId, Vec<LockKey>>,
    waiting: VecDeque<LockWait<G>>,
    /// Work that found a key locked, in arrival order.
    pub parked: VecDeque<P>,
    /// Bumped at every release; local waiters watch it.
    pub epoch: u64,
}

impl<G, P> Default for LockTable<G, P> {
    fn default() -> Self {
        LockTable {
            held: HashMap::new(),
            whole: None,
            by_tx: HashMap::new(),
            waiting: VecDeque::new(),
            parked: VecDeque::new(),
            epoch: 0,
        }
    }
}

impl<G, P> LockTable<G, P> {
    /// True when nothing is locked (the fast path's single check).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.whole.is_none() && self.held.is_empty() && self.waiting.is_empty()
    }

    /// Is `key` in `db` locked by a transaction other than `txid`?
    pub fn is_locked(&self, db: usize, key: &[u8], txid: Option<TxId>) -> bool {
        if let Some(w) = self.whole {
            return Some(w) != txid;
        }
        if self.held.is_empty() {
            return false;
        }
        match self.held.get(&KeyRef(db, key)) {
            Some(holder) => Some(*holder) != txid,
            None => false,
        }
    }

    /// True when the whole shard is locked by someone other than `txid`.
    pub fn shard_locked(&self, txid: Option<TxId>) -> bool {
        self.whole.is_some_and(|w| Some(w) != txid)
    }

    fn conflicts(&self, txid: TxId, keys: &[(usize, Bytes)], whole: bool) -> bool {
        if self.whole.is_some_and(|w| w != txid) {
            return true;
        }
        if whole {
            return self.held.values().any(|&t| t != txid);
        }
        keys.iter()
            .any(|(db, k)| self.is_locked(*db, k, Some(txid)))
    }

    fn overlaps_waiting(&self, keys: &[(usize, Bytes)], whole: bool, upto: usize) -> bool {
        self.waiting.iter().take(upto).any(|w| {
            w.whole
                || whole
                || w.keys
                    .iter()
                    .any(|a| keys.iter().any(|b| a.0 == b.0 && a.1 == b.1))
        })
    }

    fn grant(&mut self, txid: TxId, keys: &[(usize, Bytes)], whole: bool) {
        if whole {
            self.whole = Some(txid);
            self.by_tx.entry(txid).or_default();
            return;
        }
        let owned = self.by_tx.entry(txid).or_default();
        for (db, k) in keys {
            let key: Box<[u8]> = k.as_ref().into();
            if self.held.insert((*db, key.clone()), txid).is_none() {
                owned.push((*db, key));
            }
        }
    }

    /// Locks `keys` (or the whole shard) for `txid` now if possible and returns
    /// the grantee; otherwise queues the request and returns None.
    pub fn lock_or_wait(&mut self, req: LockWait<G>) -> Option<G> {
        let queue_len = self.waiting.len();
        if !self.conflicts(req.txid, &req.keys, req.whole)
            && !self.overlaps_waiting(&req.keys, req.whole, queue_len)
        {
            self.grant(req.txid, &req.keys, req.whole);
            Some(req.grantee)
        } else {
            self.waiting.push_back(req);
            None
        }
    }

    /// Releases everything `txid` holds. Returns the grantees of lock requests
    /// that became grantable, in order. Parked work must be retried by the
    /// caller (before these grants are acted upon, it runs first).
    pub fn release(&mut self, txid: TxId) -> Vec<G> {
        if self.whole == Some(txid) {
            self.whole = None;
        }
        if let Some(keys) = self.by_tx.remove(&txid) {
            for k in keys {
                self.held.remove(&k);
            }
        }
        self.epoch += 1;
        let mut granted = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            let (txid, grantable) = {
                let w = &self.waiting[i];
                (
                    w.txid,
                    !self.conflicts(w.txid, &w.keys, w.whole)
                        && !self.overlaps_waiting(&w.keys, w.whole, i),
                )
            };
            if grantable {
                let w = self.waiting.remove(i).expect("index checked");
                self.grant(txid, &w.keys, w.whole);
                granted.push(w.grantee);
            } else {
                i += 1;
            }
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ks: &[&str]) -> Vec<(usize, Bytes)> {
        ks.iter()
            .map(|k| (0, Bytes::copy_from_slice(k.as_bytes())))
            .collect()
    }

    fn req(txid: TxId, ks: &[&str]) -> LockWait<u32> {
        LockWait {
            txid,
            keys: keys(ks),
            whole: false,
            grantee: txid as u32,
        }
    }

    #[test]
    fn grant_queue_release_fifo() {
        let mut t: LockTable<u32, ()> = LockTable::default();
        assert!(t.is_idle());
        assert_eq!(t.lock_or_wait(req(1, &["a", "b"])), Some(1));
        assert!(t.is_locked(0, b"a", None));
        assert!(!t.is_locked(0, b"a", Some(1)));
        assert!(!t.is_locked(1, b"a", None));
        assert_eq!(t.lock_or_wait(req(2, &["b", "c"])), None);
        // 3 wants c, which 2 is waiting for: it queues behind 2 (FIFO per key).
        assert_eq!(t.lock_or_wait(req(3, &["c"])), None);
        // 4 is independent.
        assert_eq!(t.lock_or_wait(req(4, &["d"])), Some(4));
        assert_eq!(t.release(1), vec![2]);
        assert_eq!(t.release(2), vec![3]);
        assert_eq!(t.release(3), Vec::<u32>::new());
        t.release(4);
        assert!(t.is_idle());
    }

    #[test]
    fn whole_shard_lock_excludes_everything() {
        let mut t: LockTable<u32, ()> = LockTable::default();
        assert_eq!(t.lock_or_wait(req(1, &["a"])), Some(1));
        let whole = LockWait {
            txid: 2,
            keys: vec![],
            whole: true,
            grantee: 2,
        };
        assert_eq!(t.lock_or_wait(whole), None);
        assert_eq!(t.release(1), vec![2]);
        assert!(t.is_locked(0, b"zzz", None));
        assert!(t.shard_locked(None));
        t.release(2);
        assert!(t.is_idle());
    }
}
