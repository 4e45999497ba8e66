//! Blocked clients, as their own core keeps them, and the pump that carries
//! what shards served to the waiting clients.
//!
//! A blocked command has one [`WaitSlot`] on its client's core, keyed by a
//! sequence number ([`WaitId`] with the core). The shards owning its keys
//! queue it and serve it in place (shard/blocking.rs); each shard's pump
//! task takes the outcome (after the AOF covers the pop it journaled) to the
//! waiter's core, where [`Core::deliver`] adds it to the slot. A wait on
//! several shards may be served by more than one at once: the client's core
//! keeps the outcome whose key became ready first (route/blocking.rs) and
//! sends the others back. An outcome for a wait that is over (the client
//! timed out, disconnected or was unblocked) is sent back too: what its pop
//! took goes back where it was taken from (`JobKind::PutBack`), once no
//! transaction holds the key, so an element is popped by exactly one waiter
//! or stays in the list.

use super::core::Core;
use super::mesh::JobKind;
use crate::shard::blocking::{Delivery, Served, Taken, WaitId};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// What ends a wait, besides its timeout and its client leaving.
#[derive(Debug)]
pub enum Outcome {
    /// A shard served it: the reply.
    Reply(Vec<u8>),
    /// A key is ready but serving needs another shard: run again here.
    WakeHome,
}

/// A shard's outcome for a wait, as it arrived.
#[derive(Debug)]
pub struct Candidate {
    /// The shard that served it.
    pub from: usize,
    pub served: Served,
    pub ready_at: u64,
}

/// One blocked command on its client's core: the outcomes shards sent
/// (several when keys on several shards became ready at once; the
/// waiter keeps the one that became ready first).
#[derive(Default)]
pub struct WaitSlot {
    candidates: RefCell<Vec<Candidate>>,
    /// CLIENT UNBLOCK asked for this (true: with an error).
    unblock: Cell<Option<bool>>,
    waker: RefCell<Option<Waker>>,
}

impl WaitSlot {
    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    pub fn has_candidates(&self) -> bool {
        !self.candidates.borrow().is_empty()
    }

    pub fn take_candidates(&self) -> Vec<Candidate> {
        std::mem::take(&mut *self.candidates.borrow_mut())
    }

    pub fn unblock_requested(&self) -> Option<bool> {
        self.unblock.get()
    }

    /// Resolves once `n` outcomes have arrived.
    pub fn delivered(&self, n: usize) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.candidates.borrow().len() >= n {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    /// Resolves once an outcome or an unblock request is there.
    pub fn changed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.has_candidates() || self.unblock.get().is_some() {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// This core's blocked commands.
#[derive(Default)]
pub struct BlockedTable {
    next: Cell<u64>,
    /// seq → (client id, slot).
    waits: RefCell<hashbrown::HashMap<u64, (u64, Rc<WaitSlot>)>>,
    /// Elements to put back into keys a transaction holds: they go back
    /// at its release (a transaction never sees a key change under it).
    held_back: RefCell<Vec<Taken>>,
}

impl BlockedTable {
    /// A new wait of `client`.
    pub fn open(&self, client: u64) -> (u64, Rc<WaitSlot>) {
        let seq = self.next.get() + 1;
        self.next.set(seq);
        let slot = Rc::new(WaitSlot::default());
        self.waits.borrow_mut().insert(seq, (client, slot.clone()));
        (seq, slot)
    }

    /// Forgets a wait: outcomes arriving later are sent back (those that
    /// arrived are the caller's).
    pub fn close(&self, seq: u64) {
        self.waits.borrow_mut().remove(&seq);
    }

    /// How many clients are blocked (INFO `blocked_clients`).
    pub fn count(&self) -> usize {
        self.waits.borrow().len()
    }

    /// CLIENT UNBLOCK: true if `client` was blocked.
    pub fn unblock(&self, client: u64, error: bool) -> bool {
        let waits = self.waits.borrow();
        match waits.values().find(|(c, _)| *c == client) {
            Some((_, slot)) => {
                if slot.unblock.get().is_none() {
                    slot.unblock.set(Some(error));
                    slot.wake();
                }
                true
            }
            None => false,
        }
    }
}

impl Core {
    /// This core's blocked commands.
    pub fn blocked(&self) -> &BlockedTable {
        &self.blocked
    }

    /// A shard's outcome for wait `seq` of this core (served by shard
    /// `from`): it goes to the waiter, or back when the wait is over.
    pub fn deliver(&self, from: usize, delivery: Delivery) {
        let Delivery {
            id,
            served,
            ready_at,
        } = delivery;
        let slot = self
            .blocked
            .waits
            .borrow()
            .get(&id.seq)
            .map(|(_, s)| s.clone());
        match slot {
            Some(slot) => {
                slot.candidates.borrow_mut().push(Candidate {
                    from,
                    served,
                    ready_at,
                });
                slot.wake();
            }
            None => self.send_back(Candidate {
                from,
                served,
                ready_at,
            }),
        }
    }

    /// An outcome the waiter does not take: what its pop took goes back.
    pub fn send_back(&self, c: Candidate) {
        if let Served::Reply {
            taken: Some(taken), ..
        } = c.served
        {
            self.put_back_on(c.from, taken);
        }
    }

    /// [`Core::send_back`], resolved once the elements are back in their
    /// list (or held for the release of the transaction holding it): a
    /// reply sent after it cannot be overtaken by a read that misses them.
    pub async fn send_back_now(self: &Rc<Self>, c: Candidate) {
        if let Served::Reply {
            taken: Some(taken), ..
        } = c.served
        {
            if c.from == self.id() {
                self.put_back(taken);
            } else {
                self.call(c.from, 0, JobKind::PutBack(taken)).await;
            }
        }
    }

    fn put_back_on(&self, shard: usize, taken: Taken) {
        if shard == self.id() {
            self.put_back(taken);
        } else {
            self.send_one_way(shard, JobKind::PutBack(taken));
        }
    }

    /// Puts back what a pop took for a waiter that left (its next waiter,
    /// if any, is then served from it), once no transaction holds the key.
    pub fn put_back(&self, taken: Taken) {
        let mut shard = self.shard().borrow_mut();
        // As any write: not under a transaction's lock, nor into a value a
        // snapshot still encodes (snapshot_released comes here again).
        if self.key_locked(taken.db, &taken.key, None)
            || !shard.snapshot_admits(taken.db, &taken.key)
        {
            self.blocked.held_back.borrow_mut().push(taken);
            return;
        }
        let now = crate::clock::unix_ms();
        if !(taken.restore)(&mut shard, &taken, now) {
            log::warn!(
                "shard {}: {} element(s) popped for a client that left could not go back: the key holds another type now",
                self.id(),
                taken.elements.len()
            );
        }
    }

    /// Cancels wait `id` on this shard (`Shard::cancel_wait`): true when it
    /// was removed, false when its delivery is or will be on its way.
    pub fn cancel_wait(&self, id: WaitId) -> bool {
        let now = crate::clock::unix_ms();
        self.shard()
            .borrow_mut()
            .cancel_wait(id, now, |db, key| self.key_locked(db, key, None))
    }

    /// Cancels wait `id` on shard `shard` without waiting for the answer.
    pub fn forget_wait(&self, shard: usize, id: WaitId) {
        if shard == self.id() {
            self.cancel_wait(id);
        } else {
            self.send_one_way(shard, JobKind::CancelWait(id));
        }
    }

    /// After a release (or a snapshot letting a value go): puts back what
    /// waited for its key, and tells the
    /// pump that a ready key may be free.
    pub fn blocking_released(&self) {
        let held = std::mem::take(&mut *self.blocked.held_back.borrow_mut());
        for taken in held {
            self.put_back(taken);
        }
        let mut shard = self.shard().borrow_mut();
        if shard.blocking().has_ready() {
            shard.blocking_mut().notify();
        }
    }

    /// The pump: serves this shard's ready keys that no transaction holds
    /// and carries every outcome to its waiter's core, forever.
    pub async fn blocking_pump(self: Rc<Self>) {
        loop {
            Pump { core: &self }.await;
            let deliveries = {
                let mut shard = self.shard().borrow_mut();
                let now = crate::clock::unix_ms();
                shard.serve_ready(now, |db, key| self.key_locked(db, key, None));
                shard.blocking_mut().take_deliveries()
            };
            if deliveries.is_empty() {
                continue;
            }
            // A reply leaves only once the AOF covers the pop it reports.
            self.journal_barrier(0).await;
            for d in deliveries {
                if d.id.home == self.id() {
                    self.deliver(self.id(), d);
                } else {
                    let from = self.id();
                    self.send_one_way(d.id.home, JobKind::Deliver { from, delivery: d });
                }
            }
        }
    }
}

/// Resolves when the shard has been notified (a key became ready, a
/// delivery waits, a release may have freed a ready key).
struct Pump<'a> {
    core: &'a Core,
}

impl Future for Pump<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut shard = self.core.shard().borrow_mut();
        if shard.blocking_mut().take_notified() {
            Poll::Ready(())
        } else {
            shard.blocking_mut().set_pump(cx.waker().clone());
            Poll::Pending
        }
    }
}
