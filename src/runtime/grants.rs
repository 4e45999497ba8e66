//! Key locks at work on one executor: who a granted lock request answers
//! ([`Grantee`]), peers' batches parked on a locked key and resumed at the next
//! release, lock-then-run jobs from coordinators on other cores, and the local
//! waits (a coordinator's own lock, a command on a locked key). The lock table
//! itself is runtime/locks.rs.

use super::core::{Core, Counters};
use super::locks::{LockId, LockWait, TxId};
use super::mesh::{BatchProgress, CmdBatch, ForwardPart, Job, JobKind, JobOutput, NO_TOKEN};
use crate::clock::unix_ms;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Who is told when a lock request is granted.
pub enum Grantee {
    /// A peer's `Lock` job: answer it with `Locked`.
    Remote { peer: usize, token: u32 },
    /// A coordinator on this core: wake it.
    Local(Rc<super::notify::Notify>),
    /// A peer's lock-then-run batch: run it once locked, answer with replies.
    RunBatch {
        peer: usize,
        token: u32,
        db: usize,
        batch: CmdBatch,
    },
    /// Two-shard steps sharing one lock round (joined while waiting, see
    /// `LockTable::lock_or_join`): once locked, run their first parts in
    /// order, forward their last parts to `last_shard` in one message.
    Forward {
        db: usize,
        last_shard: usize,
        /// The transaction id the lock table holds the keys under.
        group: TxId,
        parts: Vec<ForwardPart>,
    },
    /// A peer's lock-then-op: run the op once locked, answer with its result.
    RunOp {
        peer: usize,
        token: u32,
        db: usize,
        txid: TxId,
        op: crate::cmd::ops::ShardOp,
    },
}

/// A peer's command batch that found a key locked; resumed on release.
pub struct Parked {
    peer: usize,
    token: u32,
    db: usize,
    batch: CmdBatch,
    progress: BatchProgress,
}

impl Core {
    /// Handles a job from peer `peer`: answers now, or later (parked batch,
    /// waiting lock) through the response outbox.
    pub(super) fn handle_remote(&self, peer: usize, job: Job) -> Option<JobOutput> {
        match job.kind {
            JobKind::Cmds(mut batch) if batch.lock.is_some() => {
                let (keys, whole) = batch.lock.take().unwrap_or_default();
                let wait = LockWait {
                    txid: batch.txid.unwrap_or_default(),
                    keys,
                    whole,
                    grantee: Grantee::RunBatch {
                        peer,
                        token: job.token,
                        db: job.db,
                        batch,
                    },
                };
                let granted = self.locks.borrow_mut().lock_or_wait(wait)?;
                self.run_granted(granted)
            }
            JobKind::LockThenOp { txid, keys, op } => {
                let wait = LockWait {
                    txid,
                    keys,
                    whole: false,
                    grantee: Grantee::RunOp {
                        peer,
                        token: job.token,
                        db: job.db,
                        txid,
                        op,
                    },
                };
                let granted = self.locks.borrow_mut().lock_or_wait(wait)?;
                self.run_granted(granted)
            }
            JobKind::Cmds(batch) => {
                crate::metrics::record_peer_batch(batch.cmds.len());
                let mut progress = BatchProgress::default();
                if self.run_batch_unless_locked(job.db, &batch, &mut progress) {
                    Some(JobOutput::Replies {
                        data: progress.data,
                        ends: progress.ends,
                    })
                } else {
                    self.locks.borrow_mut().parked.push_back(Parked {
                        peer,
                        token: job.token,
                        db: job.db,
                        batch,
                        progress,
                    });
                    None
                }
            }
            JobKind::LockRunForward {
                keys,
                last_shard,
                part,
            } => {
                self.lock_run_forward(job.db, keys, last_shard, *part);
                None
            }
            JobKind::RunForwarded {
                lock_shard,
                group,
                parts,
            } => {
                self.run_forwarded_when_free(job.db, lock_shard, group, parts);
                None
            }
            JobKind::ScriptCall(call) => {
                crate::cmd::script::remote::execute(&mut self.shard.borrow_mut(), &call);
                None
            }
            JobKind::Release { txid } if job.token == NO_TOKEN => {
                self.release_tx(txid);
                None
            }
            JobKind::Lock { txid, keys, whole } => {
                let wait = LockWait {
                    txid,
                    keys,
                    whole,
                    grantee: Grantee::Remote {
                        peer,
                        token: job.token,
                    },
                };
                let granted = self.locks.borrow_mut().lock_or_wait(wait);
                granted.map(|_| JobOutput::Locked)
            }
            kind => Some(self.run_local(job.db, kind)),
        }
    }

    /// Runs a batch until done or until a command's key is locked by a
    /// transaction other than the batch's own; a `when_free` batch runs only
    /// when none of its keys is locked, then whole.
    fn run_batch_unless_locked(
        &self,
        db: usize,
        batch: &CmdBatch,
        progress: &mut BatchProgress,
    ) -> bool {
        let now = unix_ms();
        let locks = self.locks.borrow();
        if batch.when_free
            && !locks.is_idle()
            && batch.keys().any(|key| locks.is_locked(db, key, None))
        {
            return false;
        }
        let before = progress.errors;
        // A transaction's batch touches only keys its transaction holds (or
        // its whole shard), or ones found free just above: nothing to check.
        let unchecked = locks.is_idle() || batch.txid.is_some();
        let done = super::mesh::run_cmd_batch(
            &mut self.shard.borrow_mut(),
            db,
            now,
            batch,
            progress,
            |db, key| !unchecked && locks.is_locked(db, key, batch.txid),
        );
        Counters::add(&self.counters.total_error_replies, progress.errors - before);
        done
    }

    /// Locks `keys` on this core's shard for `txid`, waiting if needed.
    pub async fn lock_local(&self, txid: TxId, keys: Vec<LockId>, whole: bool) {
        let granted = Rc::new(super::notify::Notify::default());
        let wait = LockWait {
            txid,
            keys,
            whole,
            grantee: Grantee::Local(granted.clone()),
        };
        if self.locks.borrow_mut().lock_or_wait(wait).is_some() {
            return;
        }
        // Woken by the grant itself, not by every release.
        granted.wait().await;
    }

    /// Releases `txid`'s locks on this shard, resumes parked batches, then
    /// notifies the lock requests that became grantable.
    pub fn release_tx(&self, txid: TxId) {
        let granted = self.locks.borrow_mut().release(txid);
        // Elements held back for this transaction's keys first: what runs
        // next must see them.
        self.blocking_released();
        self.resume_parked();
        for g in granted {
            match g {
                Grantee::Remote { peer, token } => {
                    self.responses[peer].push((token, JobOutput::Locked))
                }
                Grantee::Local(granted) => granted.notify(),
                Grantee::Forward {
                    db,
                    last_shard,
                    group,
                    parts,
                } => self.run_first_parts(db, last_shard, group, parts),
                Grantee::RunBatch { peer, token, .. } | Grantee::RunOp { peer, token, .. } => {
                    let mark = self.journal_mark();
                    if let Some(out) = self.run_granted(g) {
                        self.respond(peer, (token, out), mark);
                    }
                }
            }
        }
        self.resume_forwarded();
        for w in self.release_waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Resumes what waits on a key the running snapshot was still encoding
    /// (shard/snapshot.rs): parked peers' batches and local commands, as a
    /// lock release does.
    pub fn snapshot_released(&self) {
        self.locks.borrow_mut().epoch += 1;
        self.resume_parked();
        for w in self.release_waiters.borrow_mut().drain(..) {
            w.wake();
        }
        self.blocking_released();
    }

    /// Runs a lock-then-run batch or op whose locks were just granted.
    fn run_granted(&self, g: Grantee) -> Option<JobOutput> {
        let (db, batch) = match g {
            Grantee::RunBatch { db, batch, .. } => (db, batch),
            Grantee::RunOp { db, op, txid, .. } => {
                return Some(self.run_local(db, JobKind::TxOp { txid, op }))
            }
            _ => return Some(JobOutput::Locked),
        };
        let mut progress = BatchProgress::default();
        // Its keys are held by its own transaction: it never parks.
        self.run_batch_unless_locked(db, &batch, &mut progress);
        Some(JobOutput::Replies {
            data: progress.data,
            ends: progress.ends,
        })
    }

    fn resume_parked(&self) {
        let parked = std::mem::take(&mut self.locks.borrow_mut().parked);
        for mut p in parked {
            // Effects of the parked batch's earlier runs came before the mark:
            // a parked batch holds them all the same (conservative, 0 mark).
            let mark = if p.progress.ends.is_empty() {
                self.journal_mark()
            } else {
                0
            };
            if self.run_batch_unless_locked(p.db, &p.batch, &mut p.progress) {
                let out = JobOutput::Replies {
                    data: p.progress.data,
                    ends: p.progress.ends,
                };
                self.respond(p.peer, (p.token, out), mark);
            } else {
                self.locks.borrow_mut().parked.push_back(p);
            }
        }
    }

    /// Resolves at the next lock release on this shard.
    pub fn released(&self) -> Released<'_> {
        Released {
            core: self,
            epoch: self.locks.borrow().epoch,
        }
    }

    /// True when any of `ids` is held by a transaction (a local EXEC waits).
    pub fn any_locked(&self, ids: &[LockId]) -> bool {
        let locks = self.locks.borrow();
        !locks.is_idle() && ids.iter().any(|&id| locks.is_locked_id(id, None))
    }

    /// True when a command of this shard touching `key` must wait.
    #[inline]
    pub fn key_locked(&self, db: usize, key: &[u8], txid: Option<TxId>) -> bool {
        let locks = self.locks.borrow();
        !locks.is_idle() && locks.is_locked(db, key, txid)
    }
}

/// Resolves once the shard's lock epoch moves (a release happened).
pub struct Released<'a> {
    core: &'a Core,
    epoch: u64,
}

impl Future for Released<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.core.locks.borrow().epoch != self.epoch {
            Poll::Ready(())
        } else {
            self.core
                .release_waiters
                .borrow_mut()
                .push(cx.waker().clone());
            Poll::Pending
        }
    }
}
