//! The state one executor owns: its shard, its clients, its counters, and its
//! end of the mesh (outboxes, pending replies).
//!
//! `Core::call` is how a connection reaches another shard: the job goes into
//! the outbox for that peer and a flusher task sends the whole outbox as one
//! message once the tasks already runnable in this tick have added theirs.
//! Replies land in `pending` (a slab indexed by the job's token) and wake the
//! waiting connection. Nothing here is shared with other threads.

use super::locks::{LockId, LockTable, LockWait, TxId};
use super::mesh::{
    BatchProgress, CmdBatch, CoreCounters, Job, JobKind, JobOutput, Request, Response,
};
use crate::cmd::client::{ClientState, CoreInfo};
use crate::cmd::keygen::TxKeyGen;
use crate::cmd::unix_ms;
use crate::shard::Shard;
use glommio::channels::shared_channel::{ConnectedReceiver, ConnectedSender};
use slab::Slab;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

enum Slot {
    Waiting(Option<Waker>),
    Done(JobOutput),
    /// The waiter went away; drop the reply when it arrives.
    Abandoned,
}

/// Counters written only by this core (summed across cores at read time).
#[derive(Default)]
pub struct Counters {
    pub connected_clients: Cell<u64>,
    pub total_connections_received: Cell<u64>,
    pub rejected_connections: Cell<u64>,
    pub total_commands_processed: Cell<u64>,
    pub total_error_replies: Cell<u64>,
    pub net_input_bytes: Cell<u64>,
    pub net_output_bytes: Cell<u64>,
}

impl Counters {
    pub fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get() + n);
    }

    /// CONFIG RESETSTAT: zero everything but the live client count.
    pub fn reset(&self) {
        for cell in [
            &self.total_connections_received,
            &self.rejected_connections,
            &self.total_commands_processed,
            &self.total_error_replies,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            cell.set(0);
        }
    }

    pub fn snapshot(&self) -> CoreCounters {
        CoreCounters {
            connected_clients: self.connected_clients.get(),
            total_connections_received: self.total_connections_received.get(),
            rejected_connections: self.rejected_connections.get(),
            total_commands_processed: self.total_commands_processed.get(),
            total_error_replies: self.total_error_replies.get(),
            net_input_bytes: self.net_input_bytes.get(),
            net_output_bytes: self.net_output_bytes.get(),
        }
    }
}

/// Items bound for one peer, sent as one message by that peer's flusher task
/// once the tasks runnable in this tick have added theirs.
struct Outbox<T> {
    items: RefCell<Vec<T>>,
    /// Set when items are waiting and the flusher has been (or will be) woken.
    scheduled: Cell<bool>,
    flusher: Cell<Option<Waker>>,
}

impl<T> Outbox<T> {
    fn new() -> Self {
        Outbox {
            items: RefCell::new(Vec::new()),
            scheduled: Cell::new(false),
            flusher: Cell::new(None),
        }
    }

    fn push(&self, item: T) {
        self.items.borrow_mut().push(item);
        if !self.scheduled.replace(true) {
            if let Some(w) = self.flusher.take() {
                w.wake();
            }
        }
    }

    /// Waits until something is scheduled, then takes it all.
    async fn next_batch(&self) -> Vec<T> {
        WaitScheduled {
            scheduled: &self.scheduled,
            flusher: &self.flusher,
        }
        .await;
        self.scheduled.set(false);
        std::mem::take(&mut *self.items.borrow_mut())
    }
}

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

/// One executor's state.
pub struct Core {
    pub id: usize,
    pub cores: usize,
    pub shard: RefCell<Shard>,
    pub info: CoreInfo,
    pub txkeys: TxKeyGen,
    pub counters: Counters,
    pub limits: crate::protocol::Limits,
    pub query_buffer_limit: usize,
    /// Clients connected to this core, by id.
    pub clients: RefCell<hashbrown::HashMap<u64, Rc<RefCell<ClientState>>>>,
    outboxes: Vec<Outbox<Job>>,
    responses: Vec<Outbox<(u32, JobOutput)>>,
    pending: RefCell<Slab<Slot>>,
    /// Key intent locks of this shard (see locks.rs).
    pub locks: RefCell<LockTable<Grantee, Parked>>,
    /// Local tasks waiting for a lock release.
    release_waiters: RefCell<Vec<Waker>>,
    next_tx: Cell<u64>,
    pub stop: super::shutdown::StopSignal,
    /// This shard's AOF writer, when `appendonly` is on.
    pub aof: Option<Rc<super::aof::AofWriter>>,
    /// This shard's snapshot writer.
    pub snapshots: Rc<super::snapshot::SnapshotWriter>,
}

impl Core {
    pub fn new(
        id: usize,
        cores: usize,
        shard: Shard,
        info: CoreInfo,
        cfg: &crate::config::Config,
        aof_path: Option<std::path::PathBuf>,
    ) -> Self {
        let mut shard = shard;
        if aof_path.is_some() {
            shard.enable_journal();
        }
        Core {
            id,
            cores,
            shard: RefCell::new(shard),
            info,
            txkeys: TxKeyGen::default(),
            counters: Counters::default(),
            limits: crate::protocol::Limits {
                max_bulk_len: cfg.proto_max_bulk_len,
            },
            query_buffer_limit: cfg.client_query_buffer_limit,
            clients: RefCell::new(hashbrown::HashMap::new()),
            outboxes: (0..cores).map(|_| Outbox::new()).collect(),
            responses: (0..cores).map(|_| Outbox::new()).collect(),
            pending: RefCell::new(Slab::new()),
            locks: RefCell::new(LockTable::default()),
            release_waiters: RefCell::new(Vec::new()),
            next_tx: Cell::new(0),
            stop: super::shutdown::StopSignal::default(),
            aof: aof_path.map(super::aof::AofWriter::new),
            snapshots: Default::default(),
        }
    }

    /// Sends `kind` to shard `dest` (never this core) and waits for its output.
    pub fn call(self: &Rc<Self>, dest: usize, db: usize, kind: JobKind) -> ReplyFuture {
        debug_assert_ne!(dest, self.id);
        let token = self.pending.borrow_mut().insert(Slot::Waiting(None)) as u32;
        self.outboxes[dest].push(Job { token, db, kind });
        ReplyFuture {
            core: self.clone(),
            token,
            done: false,
        }
    }

    /// The live `maxclients` (CONFIG SET changes it on every core).
    pub fn maxclients(&self) -> usize {
        self.info.settings.borrow().maxclients
    }

    /// A fresh transaction id, unique in the process.
    pub fn new_txid(&self) -> TxId {
        let n = self.next_tx.get() + 1;
        self.next_tx.set(n);
        (n << 10) | self.id as u64
    }

    /// Runs a job locally (used for this core's own part of a fan-out and for
    /// jobs that never wait).
    pub fn run_local(&self, db: usize, kind: JobKind) -> JobOutput {
        let now = unix_ms();
        match kind {
            JobKind::Cmds(batch) => {
                // Local batches are only sent by coordinators holding the locks.
                let mut progress = BatchProgress::default();
                super::mesh::run_cmd_batch(
                    &mut self.shard.borrow_mut(),
                    db,
                    now,
                    &batch,
                    &mut progress,
                    |_, _| false,
                );
                Counters::add(&self.counters.total_error_replies, progress.errors);
                JobOutput::Replies {
                    data: progress.data,
                    ends: progress.ends,
                }
            }
            // LockThenOp is only sent to remote shards (local locks go through
            // lock_local); here it can only be a local replay: run it as TxOp.
            JobKind::Op(op) => JobOutput::Op(super::mesh::run_op(
                &mut self.shard.borrow_mut(),
                db,
                now,
                op,
                None,
            )),
            JobKind::TxOp { op, txid } | JobKind::LockThenOp { op, txid, .. } => JobOutput::Op(
                super::mesh::run_op(&mut self.shard.borrow_mut(), db, now, op, Some(txid)),
            ),
            JobKind::SnapshotBegin {
                target,
                cut_ms,
                rotate_to,
            } => {
                if let (Some(aof), Some(path)) = (&self.aof, rotate_to) {
                    if let Some(j) = self.shard.borrow_mut().journal.as_mut() {
                        aof.rotate(j, path);
                    }
                }
                self.snapshots.start(self, target, cut_ms);
                JobOutput::Done
            }
            JobKind::SnapshotPoll => JobOutput::Snapshot(self.snapshots.state()),
            JobKind::PersistFacts => JobOutput::PersistFacts {
                dirty: self.shard.borrow().dirty,
                aof_bytes: self.aof.as_ref().map_or(0, |a| a.file_bytes()),
                snapshot_bytes: self.snapshots.last_bytes(),
            },
            JobKind::Commit { txid, parts } => {
                if let Some(j) = self.shard.borrow_mut().journal.as_mut() {
                    j.commit(&crate::shard::journal::commit_tag(txid, parts));
                }
                JobOutput::Done
            }
            JobKind::Lock { .. } => JobOutput::Locked,
            JobKind::Release { txid } => {
                self.release_tx(txid);
                JobOutput::Released
            }
            JobKind::Clients => JobOutput::Clients(
                self.clients
                    .borrow()
                    .values()
                    .map(|c| c.borrow().clone())
                    .collect(),
            ),
            JobKind::Counters => JobOutput::Counters(self.counters.snapshot()),
            JobKind::ApplyConfig(changes) => {
                crate::cmd::config_cmd::apply_changes(
                    &mut self.info.settings.borrow_mut(),
                    &changes,
                );
                crate::metrics::reconfigure(&self.info);
                JobOutput::Done
            }
            JobKind::ResetStats => {
                self.counters.reset();
                self.shard.borrow_mut().stats = Default::default();
                crate::metrics::with(|m| m.stats.reset());
                JobOutput::Done
            }
            JobKind::Metrics(job) => JobOutput::Metrics(crate::metrics::gather::run_job(self, job)),
        }
    }

    /// Handles a job from peer `peer`: answers now, or later (parked batch,
    /// waiting lock) through the response outbox.
    fn handle_remote(&self, peer: usize, job: Job) -> Option<JobOutput> {
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
                let (output, release) = self.run_granted(granted);
                if let Some(txid) = release {
                    self.release_tx(txid);
                }
                output
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
                self.run_granted(granted).0
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
    /// transaction other than the batch's own.
    fn run_batch_unless_locked(
        &self,
        db: usize,
        batch: &CmdBatch,
        progress: &mut BatchProgress,
    ) -> bool {
        let now = unix_ms();
        let locks = self.locks.borrow();
        let before = progress.errors;
        // A transaction's batch touches only keys its transaction holds (or
        // its whole shard): nothing to check.
        let done = if locks.is_idle() || batch.txid.is_some() {
            super::mesh::run_cmd_batch(
                &mut self.shard.borrow_mut(),
                db,
                now,
                batch,
                progress,
                |_, _| false,
            )
        } else {
            super::mesh::run_cmd_batch(
                &mut self.shard.borrow_mut(),
                db,
                now,
                batch,
                progress,
                |db, key| locks.is_locked(db, key, batch.txid),
            )
        };
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
    /// notifies the lock requests that became grantable. A granted batch that
    /// releases right after it runs (the last part of a step) is released in
    /// the same loop, not by recursion.
    pub fn release_tx(&self, txid: TxId) {
        let mut releasing = vec![txid];
        while let Some(txid) = releasing.pop() {
            let granted = self.locks.borrow_mut().release(txid);
            self.resume_parked();
            for g in granted {
                match g {
                    Grantee::Remote { peer, token } => {
                        self.responses[peer].push((token, JobOutput::Locked))
                    }
                    Grantee::Local(granted) => granted.notify(),
                    Grantee::RunBatch { peer, token, .. } | Grantee::RunOp { peer, token, .. } => {
                        let (output, release) = self.run_granted(g);
                        if let Some(out) = output {
                            self.responses[peer].push((token, out));
                        }
                        releasing.extend(release);
                    }
                }
            }
        }
        for w in self.release_waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Runs a lock-then-run batch or op whose locks were just granted; also
    /// returns the transaction to release now (a batch with `release_after`).
    fn run_granted(&self, g: Grantee) -> (Option<JobOutput>, Option<TxId>) {
        let (db, batch) = match g {
            Grantee::RunBatch { db, batch, .. } => (db, batch),
            Grantee::RunOp { db, op, txid, .. } => {
                return (Some(self.run_local(db, JobKind::TxOp { txid, op })), None)
            }
            _ => return (Some(JobOutput::Locked), None),
        };
        let mut progress = BatchProgress::default();
        // Its keys are held by its own transaction: it never parks.
        self.run_batch_unless_locked(db, &batch, &mut progress);
        let release = batch.txid.filter(|_| batch.release_after);
        let output = JobOutput::Replies {
            data: progress.data,
            ends: progress.ends,
        };
        (Some(output), release)
    }

    fn resume_parked(&self) {
        let parked = std::mem::take(&mut self.locks.borrow_mut().parked);
        for mut p in parked {
            if self.run_batch_unless_locked(p.db, &p.batch, &mut p.progress) {
                let out = JobOutput::Replies {
                    data: p.progress.data,
                    ends: p.progress.ends,
                };
                self.responses[p.peer].push((p.token, out));
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

    /// True when a command of this shard touching `key` must wait.
    #[inline]
    pub fn key_locked(&self, db: usize, key: &[u8], txid: Option<TxId>) -> bool {
        let locks = self.locks.borrow();
        !locks.is_idle() && locks.is_locked(db, key, txid)
    }

    /// Sends this core's outbox for `dest` whenever it fills, forever.
    pub async fn flusher(self: Rc<Self>, dest: usize, tx: ConnectedSender<Request>) {
        loop {
            let jobs = self.outboxes[dest].next_batch().await;
            if jobs.is_empty() {
                continue;
            }
            if tx
                .send(Request {
                    from: self.id,
                    jobs,
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Executes every request from peer `peer` on this shard; answers go
    /// through the response outbox (some answers come later: parked batches,
    /// waiting locks), sent by a flusher task of their own.
    pub async fn serve_peer(
        self: Rc<Self>,
        peer: usize,
        rx: ConnectedReceiver<Request>,
        tx: ConnectedSender<Response>,
    ) {
        let flusher = self.clone();
        glommio::spawn_local(async move {
            loop {
                let results = flusher.responses[peer].next_batch().await;
                if results.is_empty() {
                    continue;
                }
                flusher.journal_barrier().await;
                if tx.send(Response { results }).await.is_err() {
                    return;
                }
            }
        })
        .detach();
        while let Some(req) = rx.recv().await {
            for job in req.jobs {
                let token = job.token;
                if let Some(out) = self.handle_remote(req.from, job) {
                    self.responses[req.from].push((token, out));
                }
            }
        }
    }

    /// Delivers responses from a peer to the waiting connections. Never sends,
    /// so it can never block the peer (see mesh.rs).
    pub async fn receive_responses(self: Rc<Self>, rx: ConnectedReceiver<Response>) {
        while let Some(resp) = rx.recv().await {
            let mut pending = self.pending.borrow_mut();
            for (token, output) in resp.results {
                let token = token as usize;
                let Some(slot) = pending.get_mut(token) else {
                    continue;
                };
                match std::mem::replace(slot, Slot::Done(output)) {
                    Slot::Waiting(Some(w)) => w.wake(),
                    Slot::Waiting(None) => {}
                    Slot::Abandoned => {
                        pending.remove(token);
                    }
                    Slot::Done(_) => {}
                }
            }
        }
    }

    /// Waits until replies computed so far may leave: the AOF writer has
    /// written what the journal holds and, under `appendfsync always`,
    /// fdatasynced it (runtime/aof.rs). Free without AOF or new effects.
    pub async fn journal_barrier(&self) {
        let Some(aof) = &self.aof else { return };
        let appended = match self.shard.borrow().journal.as_ref() {
            Some(j) => j.appended(),
            None => return,
        };
        let always = self.info.settings.borrow().appendfsync == "always";
        aof.barrier(appended, always).await;
    }

    /// Outstanding cross-core calls (for shutdown and metrics).
    pub fn in_flight(&self) -> usize {
        self.pending.borrow().len()
    }
}

struct WaitScheduled<'a> {
    scheduled: &'a Cell<bool>,
    flusher: &'a Cell<Option<Waker>>,
}

impl Future for WaitScheduled<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.scheduled.get() {
            Poll::Ready(())
        } else {
            self.flusher.set(Some(cx.waker().clone()));
            Poll::Pending
        }
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

/// Resolves to the output of a job sent with [`Core::call`].
pub struct ReplyFuture {
    core: Rc<Core>,
    token: u32,
    done: bool,
}

impl Future for ReplyFuture {
    type Output = JobOutput;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<JobOutput> {
        let token = self.token as usize;
        let mut pending = self.core.pending.borrow_mut();
        let slot = pending
            .get_mut(token)
            .expect("reply slot exists until taken");
        match slot {
            Slot::Done(_) => {
                let Slot::Done(output) = pending.remove(token) else {
                    unreachable!()
                };
                drop(pending);
                self.done = true;
                Poll::Ready(output)
            }
            Slot::Waiting(w) => {
                *w = Some(cx.waker().clone());
                Poll::Pending
            }
            Slot::Abandoned => unreachable!("abandoned slot polled"),
        }
    }
}

impl Drop for ReplyFuture {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut pending = self.core.pending.borrow_mut();
        let token = self.token as usize;
        if let Some(slot) = pending.get_mut(token) {
            if matches!(slot, Slot::Done(_)) {
                pending.remove(token);
            } else {
                *slot = Slot::Abandoned;
            }
        }
    }
}
