//! The shard's side of blocking commands (BLPOP, BLMOVE, BLMPOP; later
//! BZPOPMIN and XREAD BLOCK): who waits on which key, first in first out,
//! which keys became ready, and what serving a waiter produced.
//!
//! As Redis 7.0 (`blocked.c`): a waiter is queued on every key of its
//! command that this shard owns; storing a value under a key someone waits
//! on ([`Shard::set`]) *signals* it, once, in signal order; after the
//! command (or the transaction) that made it ready, [`Shard::serve_ready`]
//! walks the ready keys in that order and serves each key's waiters from the
//! front while the key can serve them, in place: the waiter's `serve`
//! function pops (and journals what it did as the non-blocking command).
//! What a serve produced waits in `deliveries` until the runtime takes it to
//! the waiter's core (runtime/blocked.rs); a served waiter leaves every
//! queue of this shard.
//!
//! The command semantics live in the command's group (cmd/list/blocking.rs):
//! here a waiter is a [`ServeFn`] and its words. Nothing here waits or
//! knows of cores but as numbers; a waker (the core's pump task) is woken
//! when there is something to serve or deliver.

use super::Shard;
use bytes::Bytes;
use hashbrown::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

/// A wait, unique in the process: the waiting client's core and a sequence
/// number of that core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WaitId {
    pub home: usize,
    pub seq: u64,
}

/// Why a serve function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeMode {
    /// The command's first attempt: a key of the wrong type is the
    /// command's WRONGTYPE error.
    Try,
    /// A key the waiter waits on became ready: a key of the wrong type does
    /// not serve it (it stays blocked, as in Redis).
    Ready,
}

/// What a serve function sees: the key it serves from and the command's
/// words (directions, count, destination: whatever the command parsed).
pub struct ServeCtx<'a> {
    pub db: usize,
    pub key: &'a [u8],
    pub words: &'a [Bytes],
    pub resp3: bool,
    pub now_ms: u64,
    pub mode: ServeMode,
}

/// Elements a pop took, and how to put them back where they were taken
/// (when the waiter left before its reply reached it).
#[derive(Debug, Clone)]
pub struct Taken {
    pub db: usize,
    pub key: Bytes,
    /// Taken from the head (else the tail), in the order taken.
    pub head: bool,
    /// What was taken, as the type's serve function encodes it (a list's
    /// elements; a sorted set's member/score pairs).
    pub elements: Vec<Vec<u8>>,
    /// Puts them back (false when the key now holds another type).
    pub restore: fn(&mut Shard, &Taken, u64) -> bool,
}

/// What serving a waiter from one key produced.
#[derive(Debug)]
pub enum Served {
    /// The key cannot serve this waiter (missing, empty, another type in
    /// [`ServeMode::Ready`]): it stays where it is.
    NotReady,
    /// The waiter's reply (an error reply included), and what a pop took.
    Reply {
        reply: Vec<u8>,
        taken: Option<Taken>,
    },
    /// The serve needs another shard (BLMOVE to a key elsewhere): the
    /// waiter's core runs the command again, coordinated.
    WakeHome,
}

/// Serves a waiter from `ctx.key`, changing the shard as the command would.
pub type ServeFn = fn(&mut Shard, &ServeCtx) -> Served;

/// One blocked command as this shard knows it.
#[derive(Debug, Clone)]
pub struct Waiter {
    pub id: WaitId,
    pub db: usize,
    /// The keys it waits on that this shard owns.
    pub keys: Vec<Bytes>,
    pub serve: ServeFn,
    pub words: Vec<Bytes>,
    pub resp3: bool,
}

/// A served waiter's outcome on its way to the waiter's core.
#[derive(Debug)]
pub struct Delivery {
    pub id: WaitId,
    pub served: Served,
    /// When the key that served it became ready (`ready_stamp`): a waiter
    /// served by several shards at once keeps the earliest, as Redis serves
    /// keys in the order they became ready.
    pub ready_at: u64,
}

/// A process-wide order of signals: a key signalled after another (the
/// later command of one EXEC on another shard, say) gets a greater stamp.
/// Taken only when someone waits on the key.
fn ready_stamp() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// (db, key) → its waiters, first come first.
type Queues = HashMap<(usize, Box<[u8]>), VecDeque<Arc<Waiter>>>;

#[derive(Default)]
pub struct Blocking {
    queues: Queues,
    /// Keys signalled and not yet served, in signal order, each once, with
    /// their [`ready_stamp`].
    ready: Vec<(usize, Bytes, u64)>,
    deliveries: Vec<Delivery>,
    /// Waits their core asked to cancel while a key they wait on was ready
    /// but held by a transaction: served when it is released, or told
    /// they were not ([`Served::NotReady`]).
    cancelling: Vec<WaitId>,
    /// Set when the pump has work (a key became ready, a delivery waits,
    /// a release may have freed a ready key); cleared as it starts.
    notified: bool,
    pump: Option<Waker>,
}

impl Blocking {
    /// True when nobody waits on any key of this shard (one branch for
    /// every write).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.queues.is_empty()
    }

    /// How many waits (not keys) this shard holds.
    #[cfg(test)]
    fn waits(&self) -> usize {
        let mut ids: Vec<WaitId> = self.queues.values().flatten().map(|w| w.id).collect();
        ids.sort_unstable_by_key(|id| (id.home, id.seq));
        ids.dedup();
        ids.len()
    }

    fn signal(&mut self, db: usize, key: &[u8]) {
        if !self.queues.contains_key(&super::watch::DbKeyRef(db, key)) {
            return;
        }
        if self.ready.iter().any(|(d, k, _)| *d == db && k == key) {
            return;
        }
        self.ready
            .push((db, Bytes::copy_from_slice(key), ready_stamp()));
        self.wake();
    }

    fn wake(&mut self) {
        self.notified = true;
        if let Some(w) = self.pump.take() {
            w.wake();
        }
    }

    /// Wakes the pump (a release may have freed a ready key).
    pub fn notify(&mut self) {
        self.wake();
    }

    /// True once after [`Blocking::notify`] or a signal.
    pub fn take_notified(&mut self) -> bool {
        std::mem::take(&mut self.notified)
    }

    /// Queues `waiter` at the back of each of its keys.
    pub fn register(&mut self, waiter: Waiter) {
        let w = Arc::new(waiter);
        for key in &w.keys {
            self.queues
                .entry((w.db, key.to_vec().into_boxed_slice()))
                .or_default()
                .push_back(w.clone());
        }
    }

    /// Whether `id` waits on a key that is ready (held by a transaction).
    fn waits_on_ready(&self, id: WaitId) -> bool {
        self.ready.iter().any(|(db, key, _)| {
            self.queues
                .get(&super::watch::DbKeyRef(*db, key))
                .is_some_and(|q| q.iter().any(|w| w.id == id))
        })
    }

    /// Removes a wait from every queue of this shard; true if it was queued.
    pub fn remove(&mut self, id: WaitId) -> bool {
        let mut found = false;
        self.queues.retain(|_, q| {
            let before = q.len();
            q.retain(|w| w.id != id);
            found |= q.len() != before;
            !q.is_empty()
        });
        found
    }

    /// True while a signalled key waits to be served.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// True while a serve's outcome waits to be delivered.
    pub fn has_deliveries(&self) -> bool {
        !self.deliveries.is_empty()
    }

    /// Takes what serving produced, for the runtime to deliver.
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        std::mem::take(&mut self.deliveries)
    }

    /// The pump to wake when a key becomes ready or a delivery is waiting.
    pub fn set_pump(&mut self, waker: Waker) {
        self.pump = Some(waker);
    }
}

impl Shard {
    /// The blocked commands waiting on this shard's keys.
    pub fn blocking(&self) -> &Blocking {
        &self.blocking
    }

    pub fn blocking_mut(&mut self) -> &mut Blocking {
        &mut self.blocking
    }

    /// A value was stored under `key`: if someone waits on it, it is ready.
    #[inline]
    pub(super) fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if !self.blocking.is_idle() {
            self.blocking.signal(db, key);
        }
    }

    /// Every waited-on key of dbs `a` and `b` that holds a value is ready
    /// (SWAPDB).
    pub(super) fn signal_swapped(&mut self, a: usize, b: usize) {
        if self.blocking.is_idle() {
            return;
        }
        let keys: Vec<(usize, Vec<u8>)> = self
            .blocking
            .queues
            .keys()
            .filter(|(db, _)| *db == a || *db == b)
            .map(|(db, k)| (*db, k.to_vec()))
            .collect();
        for (db, key) in keys {
            let loc = self.locate(&key);
            if self.dbs[db].find(loc, &key).is_some() {
                self.blocking.signal(db, &key);
            }
        }
    }

    /// The first attempt of a blocking command over `waiter.keys` (all on
    /// this shard), in order: the first key that serves it answers;
    /// otherwise, with `register`, the waiter is queued on every key.
    /// Returns the serve's outcome, or [`Served::NotReady`].
    pub fn try_serve(&mut self, waiter: Waiter, now_ms: u64, register: bool) -> Served {
        for key in &waiter.keys {
            let ctx = ServeCtx {
                db: waiter.db,
                key,
                words: &waiter.words,
                resp3: waiter.resp3,
                now_ms,
                mode: ServeMode::Try,
            };
            match (waiter.serve)(self, &ctx) {
                Served::NotReady => continue,
                done => return done,
            }
        }
        if register {
            self.blocking.register(waiter);
        }
        Served::NotReady
    }

    /// Serves the ready keys that `is_locked` does not hold, in signal
    /// order, each key's waiters from the front while the key serves them
    /// (keys made ready meanwhile, by a BLMOVE's push, are served in the
    /// same call). Locked keys stay ready for the next call.
    pub fn serve_ready(&mut self, now_ms: u64, is_locked: impl Fn(usize, &[u8]) -> bool) {
        let mut deferred = Vec::new();
        while !self.blocking.ready.is_empty() {
            let ready = std::mem::take(&mut self.blocking.ready);
            for (db, key, stamp) in ready {
                // A transaction holds it, or a snapshot still encodes it
                // (a write waits for that, durability.rs).
                if is_locked(db, &key) || !self.snapshot_admits(db, &key) {
                    deferred.push((db, key, stamp));
                    continue;
                }
                self.serve_key(db, &key, stamp, now_ms);
            }
        }
        self.blocking.ready = deferred;
    }

    /// Cancels wait `id` here: true when it was removed; false when it was
    /// served (its delivery is on its way) or waits on a ready key that a
    /// transaction still holds (it is served, or told it was not, after
    /// the release: its delivery will come). Serve what is ready first.
    pub fn cancel_wait(
        &mut self,
        id: WaitId,
        now_ms: u64,
        is_locked: impl Fn(usize, &[u8]) -> bool,
    ) -> bool {
        self.serve_ready(now_ms, is_locked);
        if self.blocking.waits_on_ready(id) {
            self.blocking.cancelling.push(id);
            return false;
        }
        self.blocking.remove(id)
    }

    fn serve_key(&mut self, db: usize, key: &Bytes, ready_at: u64, now_ms: u64) {
        self.serve_waiters(db, key, ready_at, now_ms);
        if self.blocking.cancelling.is_empty() {
            return;
        }
        // Cancelled waits this key did not serve: they are told so.
        let left: Vec<WaitId> = match self.blocking.queues.get(&super::watch::DbKeyRef(db, key)) {
            Some(q) => q
                .iter()
                .map(|w| w.id)
                .filter(|id| self.blocking.cancelling.contains(id))
                .collect(),
            None => Vec::new(),
        };
        for id in left {
            self.blocking.remove(id);
            self.blocking.deliveries.push(Delivery {
                id,
                served: Served::NotReady,
                ready_at,
            });
            self.blocking.wake();
        }
        let queued =
            |b: &Blocking, id: &WaitId| b.queues.values().any(|q| q.iter().any(|w| w.id == *id));
        let still: Vec<WaitId> = self
            .blocking
            .cancelling
            .iter()
            .copied()
            .filter(|id| queued(&self.blocking, id))
            .collect();
        self.blocking.cancelling = still;
    }

    fn serve_waiters(&mut self, db: usize, key: &Bytes, ready_at: u64, now_ms: u64) {
        loop {
            let front = match self.blocking.queues.get(&super::watch::DbKeyRef(db, key)) {
                Some(q) => q.front().cloned(),
                None => None,
            };
            let Some(w) = front else { return };
            let ctx = ServeCtx {
                db,
                key,
                words: &w.words,
                resp3: w.resp3,
                now_ms,
                mode: ServeMode::Ready,
            };
            match (w.serve)(self, &ctx) {
                Served::NotReady => return,
                served => {
                    self.blocking.remove(w.id);
                    self.blocking.deliveries.push(Delivery {
                        id: w.id,
                        served,
                        ready_at,
                    });
                    self.blocking.wake();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(seq: u64, keys: &[&str]) -> Waiter {
        Waiter {
            id: WaitId { home: 0, seq },
            db: 0,
            keys: keys
                .iter()
                .map(|k| Bytes::copy_from_slice(k.as_bytes()))
                .collect(),
            serve: |_, _| Served::NotReady,
            words: Vec::new(),
            resp3: false,
        }
    }

    #[test]
    fn signals_only_waited_keys_once_in_order() {
        let mut b = Blocking::default();
        b.register(waiter(1, &["a", "b"]));
        b.signal(0, b"x");
        b.signal(0, b"b");
        b.signal(0, b"a");
        b.signal(0, b"b");
        b.signal(1, b"a");
        let ready: Vec<_> = b.ready.iter().map(|(_, k, _)| k.clone()).collect();
        assert_eq!(
            ready,
            vec![Bytes::from_static(b"b"), Bytes::from_static(b"a")]
        );
        assert_eq!(b.waits(), 1);
        assert!(b.remove(WaitId { home: 0, seq: 1 }));
        assert!(!b.remove(WaitId { home: 0, seq: 1 }));
        assert!(b.is_idle());
    }
}
