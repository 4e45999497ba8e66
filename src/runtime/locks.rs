//! Per-shard key intent locks for multi-shard transactions (the VLL idea:
//! locks are plain entries in a table owned by the shard's core, taken only
//! while a multi-shard operation is scheduled; single-shard commands on
//! unlocked keys pay one branch).
//!
//! Deadlock freedom: a transaction locks its shards one after another in
//! ascending shard order and waits only at the shard it is currently locking,
//! holding only lower ones; so along any waits-for chain the shard index
//! strictly grows and no cycle can form. Within a shard, a lock request is
//! granted all-or-nothing, and a request queues behind every earlier waiting
//! request that wants one of its keys (FIFO per key, no starvation).
//!
//! Every key with a holder or waiters has a FIFO of waiting requests, and
//! each waiting request counts its *blocked* keys: those held by another
//! transaction or with an earlier waiter. A release hands each freed key to
//! the head of its queue, which is granted when its count reaches zero, so a
//! release costs O(its keys) however many requests wait (a scan of every
//! waiting request per release made big pipelined steps quadratic).
//!
//! A whole-shard request waits until no other transaction holds or waits for
//! a key; requests arriving behind it queue behind it, in order.
//!
//! Work that finds its keys locked waits here: remote command batches are
//! parked with their position and resumed, local connections await
//! [`Core::released`](super::core::Core::released).

use hashbrown::HashMap;
use slab::Slab;
use std::collections::VecDeque;
use std::hash::BuildHasher;

/// Transaction id: unique per process (`counter << 10 | core`); order is not
/// needed for correctness since shards are locked in ascending order.
pub type TxId = u64;

/// What is locked: a 64-bit hash of (db, key) under one seed for the whole
/// process ([`lock_id`]), so requests carry and tables store plain integers
/// (no key copies or reference counts). Two keys with the same id share one
/// lock: a rare false conflict only makes a request wait a little longer.
pub type LockId = u64;

/// The lock of `key` in `db`; the same on every core.
pub fn lock_id(db: usize, key: &[u8]) -> LockId {
    static SEED: std::sync::LazyLock<hashbrown::DefaultHashBuilder> =
        std::sync::LazyLock::new(Default::default);
    SEED.hash_one((db, key))
}

type LockKey = LockId;

/// A lock request waiting for its keys.
pub struct LockWait<G> {
    pub txid: TxId,
    pub keys: Vec<LockId>,
    pub whole: bool,
    pub grantee: G,
}

/// A key's holder and the requests waiting for it, oldest first.
#[derive(Default)]
struct KeyState {
    holder: Option<TxId>,
    queue: VecDeque<usize>,
}

/// A keyed request in the key queues.
struct Waiter<G> {
    txid: TxId,
    /// The keys whose queues hold this request.
    queued: Vec<LockKey>,
    /// Queued keys held by another transaction or with an earlier waiter.
    blocked: usize,
    grantee: G,
}

/// The lock table of one shard. `G` is what to notify on grant; `P` is a
/// parked piece of work.
pub struct LockTable<G, P> {
    keys: HashMap<LockKey, KeyState>,
    waiters: Slab<Waiter<G>>,
    /// Transaction holding the whole shard (FLUSHALL, EXEC with keyspace-wide
    /// commands, big pipelined steps), if any.
    whole: Option<TxId>,
    /// Keys held per transaction, for release.
    by_tx: HashMap<TxId, Vec<LockKey>>,
    /// Keys held, by all transactions.
    held: usize,
    /// A whole-shard request that could not be granted, and every request
    /// that arrived after it, in arrival order.
    behind_whole: VecDeque<LockWait<G>>,
    /// Work that found a key locked, in arrival order.
    pub parked: VecDeque<P>,
    /// Bumped at every release; local waiters watch it.
    pub epoch: u64,
    /// The keyed request queued most recently, while it still waits: a
    /// request arriving next may join it ([`LockTable::lock_or_join`]).
    last_waiter: Option<usize>,
}

impl<G, P> Default for LockTable<G, P> {
    fn default() -> Self {
        LockTable {
            keys: HashMap::new(),
            waiters: Slab::new(),
            whole: None,
            by_tx: HashMap::new(),
            held: 0,
            behind_whole: VecDeque::new(),
            parked: VecDeque::new(),
            epoch: 0,
            last_waiter: None,
        }
    }
}

impl<G, P> LockTable<G, P> {
    /// True when nothing is locked (the fast path's single check).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.whole.is_none() && self.keys.is_empty() && self.behind_whole.is_empty()
    }

    /// Is `key` in `db` locked by a transaction other than `txid`?
    pub fn is_locked(&self, db: usize, key: &[u8], txid: Option<TxId>) -> bool {
        if self.whole.is_none() && self.keys.is_empty() {
            return false;
        }
        self.is_locked_id(lock_id(db, key), txid)
    }

    /// Is the key with lock id `id` locked by a transaction other than `txid`?
    pub fn is_locked_id(&self, id: LockId, txid: Option<TxId>) -> bool {
        if let Some(w) = self.whole {
            return Some(w) != txid;
        }
        match self.keys.get(&id) {
            Some(KeyState {
                holder: Some(holder),
                ..
            }) => Some(*holder) != txid,
            _ => false,
        }
    }

    /// True when the whole shard is locked by someone other than `txid`.
    pub fn shard_locked(&self, txid: Option<TxId>) -> bool {
        self.whole.is_some_and(|w| Some(w) != txid)
    }

    /// Locks `keys` (or the whole shard) for `txid` now if possible and returns
    /// the grantee; otherwise queues the request and returns None.
    pub fn lock_or_wait(&mut self, req: LockWait<G>) -> Option<G> {
        if !self.behind_whole.is_empty() || self.whole.is_some_and(|w| w != req.txid) {
            self.behind_whole.push_back(req);
            return None;
        }
        if req.whole {
            if self.whole_grantable(req.txid) {
                self.whole = Some(req.txid);
                return Some(req.grantee);
            }
            self.behind_whole.push_back(req);
            return None;
        }
        self.lock_keys(req)
    }

    /// As [`LockTable::lock_or_wait`] for a keyed request, except that a
    /// request that must wait may instead join the request queued just
    /// before it, if that one still waits: `join(queued, new)` absorbs the
    /// new grantee into the queued one (returning None) or hands it back.
    /// The joined request then waits for the union of both key sets, under
    /// the first one's transaction id, and both are granted together. That
    /// keeps every key's FIFO order: nothing was queued between the two, so
    /// granting the pair at once equals granting the first then the second.
    /// A group of waiting two-shard steps shares one lock round this way
    /// (route::segment), instead of one round trip each on a hot key.
    pub fn lock_or_join(
        &mut self,
        req: LockWait<G>,
        join: impl FnOnce(&mut G, G) -> Option<G>,
    ) -> Option<G> {
        let plain = req.whole || !self.behind_whole.is_empty() || self.whole.is_some();
        if plain || self.keys_free(&req) {
            return self.lock_or_wait(req);
        }
        let Some(id) = self.last_waiter.filter(|&id| self.waiters.contains(id)) else {
            return self.lock_or_wait(req);
        };
        let LockWait {
            txid,
            keys,
            grantee,
            ..
        } = req;
        let Some(grantee) = join(&mut self.waiters[id].grantee, grantee) else {
            let mut blocked = 0;
            let mut queued = Vec::new();
            for key in keys {
                let state = self.keys.entry(key).or_default();
                if state.queue.back() == Some(&id) {
                    continue; // already queued by the request it joined
                }
                if state.holder.is_some() || !state.queue.is_empty() {
                    blocked += 1;
                }
                state.queue.push_back(id);
                queued.push(key);
            }
            let w = &mut self.waiters[id];
            w.blocked += blocked;
            w.queued.extend(queued);
            return None;
        };
        self.lock_keys(LockWait {
            txid,
            keys,
            whole: false,
            grantee,
        })
    }

    /// Whether `req` can take its keys at once (the uncontended case).
    fn keys_free(&self, req: &LockWait<G>) -> bool {
        req.keys.iter().all(|k| {
            self.keys.get(k).is_none_or(|s| {
                s.holder == Some(req.txid) || (s.holder.is_none() && s.queue.is_empty())
            })
        })
    }

    /// No transaction but `txid` holds a key, and no keyed request waits.
    fn whole_grantable(&self, txid: TxId) -> bool {
        let own = self.by_tx.get(&txid).map_or(0, Vec::len);
        self.waiters.is_empty() && self.held == own
    }

    /// Queues a keyed request on each of its keys; grants it at once when no
    /// key is blocked.
    fn lock_keys(&mut self, req: LockWait<G>) -> Option<G> {
        // Uncontended (the common case): take the keys without queueing.
        if self.keys_free(&req) {
            let owned = self.by_tx.entry(req.txid).or_default();
            for key in req.keys {
                let state = self.keys.entry(key).or_default();
                if state.holder.is_none() {
                    state.holder = Some(req.txid);
                    owned.push(key);
                    self.held += 1;
                }
            }
            return Some(req.grantee);
        }
        let id = self.waiters.vacant_key();
        let mut queued = Vec::with_capacity(req.keys.len());
        let mut blocked = 0;
        for key in req.keys {
            let state = self.keys.entry(key).or_default();
            if state.holder == Some(req.txid) || state.queue.back() == Some(&id) {
                continue; // already held by this transaction, or a repeated key
            }
            if state.holder.is_some() || !state.queue.is_empty() {
                blocked += 1;
            }
            state.queue.push_back(id);
            queued.push(key);
        }
        let waiter = Waiter {
            txid: req.txid,
            queued,
            blocked,
            grantee: req.grantee,
        };
        let id = self.waiters.insert(waiter);
        if blocked == 0 {
            return Some(self.grant(id));
        }
        self.last_waiter = Some(id);
        None
    }

    /// Gives waiter `id` (at the head of all its queues, none held) its keys.
    fn grant(&mut self, id: usize) -> G {
        if self.last_waiter == Some(id) {
            self.last_waiter = None;
        }
        let w = self.waiters.remove(id);
        for key in &w.queued {
            if let Some(state) = self.keys.get_mut(key) {
                debug_assert_eq!(state.queue.front(), Some(&id));
                state.queue.pop_front();
                state.holder = Some(w.txid);
            }
        }
        self.held += w.queued.len();
        self.by_tx.entry(w.txid).or_default().extend(w.queued);
        w.grantee
    }

    /// Releases everything `txid` holds. Returns the grantees of lock requests
    /// that became grantable, in order. Parked work must be retried by the
    /// caller (before these grants are acted upon, it runs first).
    pub fn release(&mut self, txid: TxId) -> Vec<G> {
        self.epoch += 1;
        let mut granted = Vec::new();
        if self.whole == Some(txid) {
            self.whole = None;
        }
        for key in self.by_tx.remove(&txid).unwrap_or_default() {
            self.held -= 1;
            let Some(state) = self.keys.get_mut(&key) else {
                continue;
            };
            state.holder = None;
            let Some(&head) = state.queue.front() else {
                self.keys.remove(&key);
                continue;
            };
            let w = &mut self.waiters[head];
            w.blocked -= 1;
            if w.blocked == 0 {
                granted.push(self.grant(head));
            }
        }
        // Requests behind a whole-shard request, in order, as far as they go.
        while let Some(front) = self.behind_whole.front() {
            if self.whole.is_some_and(|w| w != front.txid) {
                break;
            }
            if front.whole && !self.whole_grantable(front.txid) {
                break;
            }
            let req = self.behind_whole.pop_front().expect("front checked");
            if req.whole {
                self.whole = Some(req.txid);
                granted.push(req.grantee);
            } else if let Some(g) = self.lock_keys(req) {
                granted.push(g);
            }
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ks: &[&str]) -> Vec<LockId> {
        ks.iter().map(|k| lock_id(0, k.as_bytes())).collect()
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
    fn a_waiting_request_joins_the_one_queued_before_it() {
        let mut t: LockTable<Vec<TxId>, ()> = LockTable::default();
        let group = |txid: TxId, ks: &[&str]| LockWait {
            txid,
            keys: keys(ks),
            whole: false,
            grantee: vec![txid],
        };
        let absorb = |queued: &mut Vec<TxId>, new: Vec<TxId>| {
            queued.extend(new);
            None
        };
        assert_eq!(t.lock_or_join(group(1, &["a"]), absorb), Some(vec![1]));
        assert_eq!(t.lock_or_join(group(2, &["a", "b"]), absorb), None);
        assert_eq!(t.lock_or_join(group(3, &["a", "c"]), absorb), None);
        // 4 is refused by the queued group: it waits on its own, behind it on c.
        assert_eq!(t.lock_or_join(group(4, &["c"]), |_, g| Some(g)), None);
        // Free keys are taken at once, never joined.
        assert_eq!(t.lock_or_join(group(5, &["z"]), absorb), Some(vec![5]));
        assert_eq!(t.release(1), vec![vec![2, 3]]);
        assert!(t.is_locked(0, b"c", Some(3)), "held under the group's id");
        assert!(!t.is_locked(0, b"c", Some(2)));
        assert_eq!(t.release(2), vec![vec![4]]);
        t.release(4);
        t.release(5);
        assert!(t.is_idle());
    }

    fn whole_req(txid: TxId) -> LockWait<u32> {
        LockWait {
            txid,
            keys: vec![],
            whole: true,
            grantee: txid as u32,
        }
    }

    #[test]
    fn whole_shard_lock_excludes_everything() {
        let mut t: LockTable<u32, ()> = LockTable::default();
        assert_eq!(t.lock_or_wait(req(1, &["a"])), Some(1));
        assert_eq!(t.lock_or_wait(whole_req(2)), None);
        assert_eq!(t.release(1), vec![2]);
        assert!(t.is_locked(0, b"zzz", None));
        assert!(t.shard_locked(None));
        t.release(2);
        assert!(t.is_idle());
    }

    #[test]
    fn a_waiter_holds_back_later_requests_for_its_keys() {
        let mut t: LockTable<u32, ()> = LockTable::default();
        assert_eq!(t.lock_or_wait(req(1, &["a"])), Some(1));
        assert_eq!(t.lock_or_wait(req(2, &["a", "b"])), None);
        // b is free, but 2 asked for it first.
        assert_eq!(t.lock_or_wait(req(3, &["b"])), None);
        assert!(!t.is_locked(0, b"b", None), "a waiter holds nothing");
        assert_eq!(t.release(1), vec![2]);
        assert!(t.is_locked(0, b"b", None));
        assert_eq!(t.release(2), vec![3]);
        assert_eq!(t.release(3), Vec::<u32>::new());
        assert!(t.is_idle());
    }

    #[test]
    fn repeated_and_already_held_keys_do_not_block() {
        let mut t: LockTable<u32, ()> = LockTable::default();
        assert_eq!(t.lock_or_wait(req(1, &["a", "a"])), Some(1));
        assert_eq!(t.lock_or_wait(req(1, &["a", "b"])), Some(1));
        assert_eq!(t.lock_or_wait(req(2, &["b"])), None);
        assert_eq!(t.release(1), vec![2]);
        t.release(2);
        assert!(t.is_idle());
    }

    #[test]
    fn requests_after_a_waiting_whole_lock_queue_behind_it() {
        let mut t: LockTable<u32, ()> = LockTable::default();
        assert_eq!(t.lock_or_wait(req(1, &["a"])), Some(1));
        assert_eq!(t.lock_or_wait(whole_req(2)), None);
        // c is free, but the whole-shard request came first.
        assert_eq!(t.lock_or_wait(req(3, &["c"])), None);
        assert_eq!(t.release(1), vec![2]);
        assert_eq!(t.release(2), vec![3]);
        t.release(3);
        assert!(t.is_idle());
    }

    /// The straightforward table the per-key queues replace: a request is
    /// granted when no key is held and no earlier waiting request shares a
    /// key; every release rescans the waiting requests in order.
    #[derive(Default)]
    struct Reference {
        held: Vec<(TxId, Vec<u8>)>,
        waiting: Vec<(TxId, Vec<u8>)>,
    }

    impl Reference {
        fn grantable(&self, keys: &[u8], upto: usize) -> bool {
            !keys
                .iter()
                .any(|k| self.held.iter().any(|h| h.1.contains(k)))
                && !self.waiting[..upto]
                    .iter()
                    .any(|w| w.1.iter().any(|k| keys.contains(k)))
        }

        fn lock(&mut self, txid: TxId, keys: Vec<u8>) -> bool {
            if self.grantable(&keys, self.waiting.len()) {
                self.held.push((txid, keys));
                return true;
            }
            self.waiting.push((txid, keys));
            false
        }

        fn release(&mut self, txid: TxId) -> Vec<TxId> {
            self.held.retain(|h| h.0 != txid);
            let mut granted = Vec::new();
            let mut i = 0;
            while i < self.waiting.len() {
                if self.grantable(&self.waiting[i].1, i) {
                    let w = self.waiting.remove(i);
                    granted.push(w.0);
                    self.held.push(w);
                } else {
                    i += 1;
                }
            }
            granted
        }
    }

    proptest::proptest! {
        /// Random lock and release sequences grant exactly what the reference
        /// grants.
        #[test]
        fn per_key_queues_grant_as_the_reference(
            steps in proptest::collection::vec(
                (proptest::bool::ANY, proptest::collection::vec(0u8..6, 1..4), 0usize..8),
                1..120,
            )
        ) {
            let mut t: LockTable<u32, ()> = LockTable::default();
            let mut r = Reference::default();
            let mut holders: Vec<TxId> = Vec::new();
            let mut next: TxId = 1;
            for (lock, keys, pick) in steps {
                if lock || holders.is_empty() {
                    let txid = next;
                    next += 1;
                    let names: Vec<String> = keys.iter().map(|k| format!("k{k}")).collect();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let got = t.lock_or_wait(req(txid, &names));
                    let want = r.lock(txid, keys);
                    proptest::prop_assert_eq!(got.is_some(), want);
                    if want {
                        holders.push(txid);
                    }
                } else {
                    let txid = holders.remove(pick % holders.len());
                    // Grants of one release share no key: their order is free.
                    let mut got: Vec<TxId> = t.release(txid).into_iter().map(TxId::from).collect();
                    let mut want = r.release(txid);
                    got.sort_unstable();
                    want.sort_unstable();
                    proptest::prop_assert_eq!(&got, &want);
                    holders.extend(want);
                }
            }
            for txid in holders.clone() {
                t.release(txid);
                holders.extend(r.release(txid));
            }
            // Everything granted was released or granted on the way.
            while let Some(txid) = holders.pop() {
                holders.extend(t.release(txid).into_iter().map(TxId::from));
            }
            proptest::prop_assert!(t.is_idle());
        }
    }
}
