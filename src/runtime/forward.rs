//! Two-shard steps forwarded from shard to shard (no AOF): a coordinated
//! step over shards `a < b` (route::segment) locks its keys on `a`, runs its
//! part there, then `a` itself forwards the part for `b` in a request
//! message; `b` runs it once its keys are free (no locks on the last shard,
//! as in the general path), answers the coordinator with both parts'
//! replies and tells `a` to release. The coordinator, on any core, only
//! waits for that answer.
//!
//! Why: on a hot key every step holds the lock of `a` for the time its last
//! part takes to run. Coordinated from a third place, that is two or three
//! hops plus wake-ups of the coordinator's task per step, one step at a time.
//! Here the lock is held for one hop each way, handled inside the message
//! loops, and steps that queue for the same keys on `a` while a group is in
//! flight *join* one lock request (`LockTable::lock_or_join`): at the next
//! grant `a` runs all their first parts in queue order and forwards all their
//! last parts in one message, which `b` runs in the same order. So a round
//! trip of the lock serves every step that waited for it.
//!
//! Correctness, as the general path (two-phase locking, last shard lock-free):
//! the group holds its keys on `a` until every last part has run on `b`;
//! each last part runs whole, without yielding, when no transaction holds any
//! of its keys; parts of a group run in the same order on both shards; and
//! forwarded parts waiting on `b` are resumed strictly in arrival order, so
//! two groups that passed the same keys on `a` in one order never run on `b`
//! in the other. Deadlock: a group waits only at `a` holding nothing, then
//! at `b > a` holding `a`, the ascending order of runtime/locks.rs.

use super::core::Core;
use super::grants::Grantee;
use super::locks::{LockId, LockWait, TxId};
use super::mesh::{
    BatchProgress, CmdBatch, ForwardPart, ForwardedPart, Job, JobKind, JobOutput, NO_TOKEN,
};

/// Most steps in one group (bounds the forwarded message and the wait of
/// the group's last member).
const MAX_GROUP: usize = 64;

/// A group of last parts waiting on this shard for their keys.
pub struct Forwarded {
    db: usize,
    lock_shard: usize,
    group: TxId,
    parts: Vec<ForwardedPart>,
}

impl Core {
    /// On the lower shard: locks `keys` for `part` (joining the group queued
    /// just before it when it must wait), then runs it (now or at a release).
    pub fn lock_run_forward(
        &self,
        db: usize,
        keys: Vec<LockId>,
        last_shard: usize,
        part: ForwardPart,
    ) {
        let wait = LockWait {
            txid: part.txid,
            keys,
            whole: false,
            grantee: Grantee::Forward {
                db,
                last_shard,
                group: part.txid,
                parts: vec![part],
            },
        };
        let granted = self.locks.borrow_mut().lock_or_join(wait, join);
        if let Some(Grantee::Forward {
            db,
            last_shard,
            group,
            parts,
        }) = granted
        {
            self.run_first_parts(db, last_shard, group, parts);
        }
    }

    /// On the lower shard, locked: runs each step's first part in order and
    /// forwards the last parts to `last_shard` in one message.
    pub(super) fn run_first_parts(
        &self,
        db: usize,
        last_shard: usize,
        group: TxId,
        parts: Vec<ForwardPart>,
    ) {
        let parts: Vec<ForwardedPart> = parts
            .into_iter()
            .map(|p| ForwardedPart {
                origin: p.origin,
                token: p.token,
                txid: p.txid,
                first: self.run_held(db, &p.first),
                last: p.last,
            })
            .collect();
        let kind = JobKind::RunForwarded {
            lock_shard: self.id,
            group,
            parts,
        };
        if last_shard == self.id {
            // Not built by route::segment (its shards differ); run it here.
            if let JobKind::RunForwarded {
                lock_shard,
                group,
                parts,
            } = kind
            {
                self.run_forwarded_when_free(db, lock_shard, group, parts);
            }
            return;
        }
        self.send_job(
            last_shard,
            Job {
                token: NO_TOKEN,
                db,
                kind,
            },
        );
    }

    /// On the last shard: runs a forwarded group now if nothing forwarded
    /// waits before it and its keys are free; else queues it.
    pub(super) fn run_forwarded_when_free(
        &self,
        db: usize,
        lock_shard: usize,
        group: TxId,
        parts: Vec<ForwardedPart>,
    ) {
        let f = Forwarded {
            db,
            lock_shard,
            group,
            parts,
        };
        if self.forwarded.borrow().is_empty() && self.forwarded_runnable(&f) {
            self.run_forwarded(f);
        } else {
            self.forwarded.borrow_mut().push_back(f);
        }
    }

    /// After a release: runs waiting forwarded groups, oldest first, as far
    /// as their keys are free.
    pub(super) fn resume_forwarded(&self) {
        loop {
            let next = {
                let mut queue = self.forwarded.borrow_mut();
                match queue.front() {
                    Some(f) if self.forwarded_runnable(f) => queue.pop_front(),
                    _ => None,
                }
            };
            match next {
                Some(f) => self.run_forwarded(f),
                None => return,
            }
        }
    }

    fn forwarded_runnable(&self, f: &Forwarded) -> bool {
        let locks = self.locks.borrow();
        locks.is_idle()
            || !f
                .parts
                .iter()
                .any(|p| p.last.keys().any(|key| locks.is_locked(f.db, key, None)))
    }

    /// Runs a group's last parts in order, answers each coordinator, then
    /// releases the group's locks on the lower shard.
    fn run_forwarded(&self, f: Forwarded) {
        for p in f.parts {
            let last = self.run_held(f.db, &p.last);
            let out = JobOutput::Stepped {
                first: p.first,
                last,
            };
            if p.origin == self.id {
                self.complete(p.token, out);
            } else {
                self.responses[p.origin].push((p.token, out));
            }
        }
        let release = JobKind::Release { txid: f.group };
        if f.lock_shard == self.id {
            self.release_tx(f.group);
        } else {
            self.send_job(
                f.lock_shard,
                Job {
                    token: NO_TOKEN,
                    db: 0,
                    kind: release,
                },
            );
        }
    }

    /// Runs a step's batch whose keys its group holds, or found free:
    /// (replies, where each ends).
    fn run_held(&self, db: usize, batch: &CmdBatch) -> (Vec<u8>, Vec<u32>) {
        let mut progress = BatchProgress::default();
        let now = crate::clock::unix_ms();
        super::mesh::run_cmd_batch(
            &mut self.shard.borrow_mut(),
            db,
            now,
            batch,
            &mut progress,
            |_, _| false,
        );
        super::core::Counters::add(&self.counters.total_error_replies, progress.errors);
        (progress.data, progress.ends)
    }
}

/// Lets a waiting step join the group queued just before it: same database
/// and last shard, and room left.
fn join(queued: &mut Grantee, new: Grantee) -> Option<Grantee> {
    match (queued, new) {
        (
            Grantee::Forward {
                db,
                last_shard,
                parts,
                ..
            },
            Grantee::Forward {
                db: new_db,
                last_shard: new_last,
                parts: mut new_parts,
                ..
            },
        ) if *db == new_db && *last_shard == new_last && parts.len() < MAX_GROUP => {
            parts.append(&mut new_parts);
            None
        }
        (_, new) => Some(new),
    }
}
