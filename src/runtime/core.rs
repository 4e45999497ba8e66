//! The state one executor owns: its shard, its clients, its counters, and its
//! end of the mesh (outboxes, pending replies).
//!
//! `Core::call` is how a connection reaches another shard: the job goes into
//! the outbox for that peer and a flusher task sends the whole outbox as one
//! message once the tasks already runnable in this tick have added theirs.
//! Replies land in `pending` (a slab indexed by the job's token) and wake the
//! waiting connection. Nothing here is shared with other threads. What happens
//! around key locks (grants, parked batches, lock waits) is in `grants.rs`;
//! the tasks on each peer channel (flushers, request service, responses) in
//! `peers.rs`.

use super::grants::{Grantee, Parked};
use super::locks::{LockTable, TxId};
use super::mesh::{BatchProgress, CoreCounters, Job, JobKind, JobOutput, Request};
use crate::clock::unix_ms;
use crate::cmd::client::{ClientState, CoreInfo};
use crate::cmd::keygen::TxKeyGen;
use crate::shard::Shard;
use glommio::channels::shared_channel::ConnectedSender;
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
            blocked_clients: 0,
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
pub(super) struct Outbox<T> {
    items: RefCell<Vec<T>>,
    /// Journal position after the last effect made by work whose answer is
    /// in `items` (0: none); see [`Core::journal_barrier`].
    effects_end: Cell<u64>,
    /// Set when items are waiting and the flusher has been (or will be) woken.
    scheduled: Cell<bool>,
    flusher: Cell<Option<Waker>>,
}

impl<T> Outbox<T> {
    fn new() -> Self {
        Outbox {
            items: RefCell::new(Vec::new()),
            effects_end: Cell::new(0),
            scheduled: Cell::new(false),
            flusher: Cell::new(None),
        }
    }

    pub(super) fn push(&self, item: T) {
        self.items.borrow_mut().push(item);
        if !self.scheduled.replace(true) {
            if let Some(w) = self.flusher.take() {
                w.wake();
            }
        }
    }

    /// Waits until something is scheduled, then takes it all, with where
    /// the effects of the work it answers end (0: none).
    pub(super) async fn next_batch(&self) -> (Vec<T>, u64) {
        WaitScheduled {
            scheduled: &self.scheduled,
            flusher: &self.flusher,
        }
        .await;
        self.scheduled.set(false);
        (
            std::mem::take(&mut *self.items.borrow_mut()),
            self.effects_end.take(),
        )
    }
}

/// One executor's state.
pub struct Core {
    pub(super) id: usize,
    pub(super) cores: usize,
    pub(super) shard: RefCell<Shard>,
    pub(super) info: CoreInfo,
    pub(super) txkeys: TxKeyGen,
    pub(super) counters: Counters,
    pub(super) limits: crate::protocol::Limits,
    pub(super) query_buffer_limit: usize,
    /// Clients connected to this core, by id.
    pub(super) clients: RefCell<hashbrown::HashMap<u64, Rc<RefCell<ClientState>>>>,
    pub(super) outboxes: Vec<Outbox<Job>>,
    /// The request channel to each peer, for a job that cannot wait for
    /// the outbox's flusher task ([`Core::send_now`]); None until connected.
    pub(super) senders: RefCell<Vec<Option<Rc<ConnectedSender<Request>>>>>,
    pub(super) responses: Vec<Outbox<(u32, JobOutput)>>,
    pending: RefCell<Slab<Slot>>,
    /// Key intent locks of this shard (see locks.rs).
    pub(super) locks: RefCell<LockTable<Grantee, Parked>>,
    /// Forwarded last parts of two-shard steps waiting for their keys, in
    /// arrival order (runtime/forward.rs); at most one per client step.
    pub(super) forwarded: RefCell<std::collections::VecDeque<super::forward::Forwarded>>,
    /// Local tasks waiting for a lock release.
    pub(super) release_waiters: RefCell<Vec<Waker>>,
    next_tx: Cell<u64>,
    pub(super) stop: super::shutdown::StopSignal,
    /// This shard's AOF writer, when `appendonly` is on.
    pub(super) aof: Option<Rc<super::aof::AofWriter>>,
    /// This shard's snapshot writer.
    pub(super) snapshots: Rc<super::snapshot::SnapshotWriter>,
    /// This core's blocked clients (blocked.rs).
    pub(super) blocked: super::blocked::BlockedTable,
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
            senders: RefCell::new((0..cores).map(|_| None).collect()),
            responses: (0..cores).map(|_| Outbox::new()).collect(),
            pending: RefCell::new(Slab::new()),
            locks: RefCell::new(LockTable::default()),
            forwarded: RefCell::new(std::collections::VecDeque::new()),
            release_waiters: RefCell::new(Vec::new()),
            next_tx: Cell::new(0),
            stop: super::shutdown::StopSignal::default(),
            aof: aof_path.map(super::aof::AofWriter::new),
            snapshots: Default::default(),
            blocked: Default::default(),
        }
    }

    /// This core's number (its shard's).
    pub fn id(&self) -> usize {
        self.id
    }

    /// How many cores (shards) the server runs.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// This core's shard. Borrow it only between awaits.
    pub fn shard(&self) -> &RefCell<Shard> {
        &self.shard
    }

    /// Server and connection information this core keeps (settings included).
    pub fn info(&self) -> &CoreInfo {
        &self.info
    }

    /// Where transaction keys (`#TX` tags) come from.
    pub fn txkeys(&self) -> &TxKeyGen {
        &self.txkeys
    }

    /// This core's counters (INFO stats).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The protocol limits of this core's connections.
    pub fn limits(&self) -> crate::protocol::Limits {
        self.limits
    }

    /// `client-query-buffer-limit` as started.
    pub fn query_buffer_limit(&self) -> usize {
        self.query_buffer_limit
    }

    /// Clients connected to this core, by id.
    pub fn clients(&self) -> &RefCell<hashbrown::HashMap<u64, Rc<RefCell<ClientState>>>> {
        &self.clients
    }

    /// Key intent locks of this shard (see locks.rs).
    pub fn locks(&self) -> &RefCell<LockTable<Grantee, Parked>> {
        &self.locks
    }

    /// Signalled when the server shuts down.
    pub fn stop(&self) -> &super::shutdown::StopSignal {
        &self.stop
    }

    /// This shard's AOF writer, when `appendonly` is on.
    pub fn aof(&self) -> Option<&Rc<super::aof::AofWriter>> {
        self.aof.as_ref()
    }

    /// This shard's snapshot writer.
    pub fn snapshots(&self) -> &Rc<super::snapshot::SnapshotWriter> {
        &self.snapshots
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

    /// The slot layout (which shard owns a key).
    pub fn slots(&self) -> crate::slot::SlotTable {
        self.shard.borrow().slots()
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
                    if let Some(j) = self.shard.borrow_mut().journal_mut() {
                        aof.rotate(j, path);
                    }
                }
                self.snapshots.start(self, target, cut_ms);
                JobOutput::Done
            }
            JobKind::SnapshotPoll => JobOutput::Snapshot(self.snapshots.state()),
            JobKind::PersistFacts => JobOutput::PersistFacts {
                dirty: self.shard.borrow().dirty(),
                aof_bytes: self.aof.as_ref().map_or(0, |a| a.file_bytes()),
                snapshot_bytes: self.snapshots.last_bytes(),
            },
            JobKind::Commit { txid, parts } => {
                if let Some(j) = self.shard.borrow_mut().journal_mut() {
                    j.commit(&crate::shard::journal::commit_tag(txid, parts));
                }
                JobOutput::Done
            }
            JobKind::LockRunForward {
                keys,
                last_shard,
                part,
            } => {
                self.lock_run_forward(db, keys, last_shard, *part);
                JobOutput::Done
            }
            JobKind::RunForwarded {
                lock_shard,
                group,
                parts,
            } => {
                self.run_forwarded_when_free(db, lock_shard, group, parts);
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
            JobKind::Counters => JobOutput::Counters(self.counter_snapshot()),
            JobKind::ApplyConfig(changes) => {
                crate::cmd::config_cmd::apply_changes(
                    &mut self.info.settings.borrow_mut(),
                    &changes,
                );
                crate::metrics::reconfigure(|n| self.info.config_value(n));
                let threshold = self.info.settings.borrow().busy_reply_threshold;
                crate::cmd::script::busy::set_threshold(threshold);
                self.shard
                    .borrow_mut()
                    .configure(&self.info.settings.borrow());
                JobOutput::Done
            }
            JobKind::ResetStats => {
                self.counters.reset();
                self.shard.borrow_mut().reset_stats();
                crate::metrics::with(|m| m.stats.reset());
                JobOutput::Done
            }
            JobKind::Metrics(job) => JobOutput::Metrics(super::gather::run_job(self, job)),
            JobKind::Deliver { from, delivery } => {
                self.deliver(from, delivery);
                JobOutput::Done
            }
            JobKind::PutBack(taken) => {
                self.put_back(taken);
                JobOutput::Done
            }
            JobKind::ScriptCall(call) => {
                crate::cmd::script::remote::execute(&mut self.shard.borrow_mut(), &call);
                JobOutput::Done
            }
            JobKind::CancelWait(id) => {
                JobOutput::Op(crate::cmd::ops::OpResult::Int(self.cancel_wait(id) as i64))
            }
            JobKind::Unblock { client, error } => JobOutput::Op(crate::cmd::ops::OpResult::Int(
                self.blocked.unblock(client, error) as i64,
            )),
        }
    }

    /// This core's counters now, with its blocked clients.
    pub fn counter_snapshot(&self) -> CoreCounters {
        CoreCounters {
            blocked_clients: self.blocked.count() as u64,
            ..self.counters.snapshot()
        }
    }

    /// Where this shard's journal ends now (0 without AOF): taken before
    /// work whose reply will wait at [`Core::journal_barrier`], to tell
    /// whether that work journaled effects of its own.
    pub fn journal_mark(&self) -> u64 {
        match (&self.aof, self.shard.borrow().journal()) {
            (Some(_), Some(j)) => j.appended(),
            _ => 0,
        }
    }

    /// Queues `item` for peer `peer`; `mark` is the [`Core::journal_mark`]
    /// taken before the work it answers ran.
    pub(super) fn respond(&self, peer: usize, item: (u32, JobOutput), mark: u64) {
        let now = self.journal_mark();
        if now > mark {
            self.responses[peer].effects_end.set(now);
        }
        self.responses[peer].push(item);
    }

    /// A reply slot for a job whose answer may come from any core (or from
    /// this one, through [`Core::complete`]); the token goes into the job.
    pub fn expect_reply(self: &Rc<Self>) -> (u32, ReplyFuture) {
        let token = self.pending.borrow_mut().insert(Slot::Waiting(None)) as u32;
        let reply = ReplyFuture {
            core: self.clone(),
            token,
            done: false,
        };
        (token, reply)
    }

    /// Queues `job` for peer `dest` (its token from [`Core::expect_reply`],
    /// or [`super::mesh::NO_TOKEN`]).
    pub fn send_job(&self, dest: usize, job: Job) {
        debug_assert_ne!(dest, self.id);
        self.outboxes[dest].push(job);
    }

    /// Queues `kind` for peer `dest`, answered to nobody (one-way).
    pub fn send_one_way(&self, dest: usize, kind: JobKind) {
        self.send_job(
            dest,
            Job {
                token: super::mesh::NO_TOKEN,
                db: 0,
                kind,
            },
        );
    }

    /// Hands `output` to whoever waits on `token` on this core.
    pub fn complete(&self, token: u32, output: JobOutput) {
        let mut pending = self.pending.borrow_mut();
        let token = token as usize;
        let Some(slot) = pending.get_mut(token) else {
            return;
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

    /// Waits until replies computed so far may leave: the AOF writer has
    /// written what the journal holds and, under `appendfsync always`,
    /// fdatasynced it (runtime/aof.rs). Free without AOF or new effects.
    /// `mark` is the [`Core::journal_mark`] taken before the work answered:
    /// while the AOF cannot be written, only effects journaled since then
    /// hold the reply.
    pub async fn journal_barrier(&self, mark: u64) {
        let now = self.journal_mark();
        self.journal_barrier_at(if now > mark { now } else { 0 })
            .await
    }

    /// [`Core::journal_barrier`] for a reply whose own effects end at
    /// `effects_end` (0: none).
    pub(super) async fn journal_barrier_at(&self, effects_end: u64) {
        if let Some((aof, appended, always)) = self.barrier_args() {
            aof.barrier(appended, effects_end, always).await;
        }
    }

    /// [`Core::journal_barrier_at`], but false at once (instead of waiting)
    /// while the AOF is failing and `effects_end` is not written.
    pub(super) async fn journal_barrier_or_hold(&self, effects_end: u64) -> bool {
        match self.barrier_args() {
            Some((aof, appended, always)) => {
                aof.barrier_or_hold(appended, effects_end, always).await
            }
            None => true,
        }
    }

    /// The AOF writer, the journal's end and whether replies wait for
    /// fdatasync; None when there is nothing to wait for.
    fn barrier_args(&self) -> Option<(&super::aof::AofWriter, u64, bool)> {
        let aof = self.aof.as_deref()?;
        let appended = self.journal_mark();
        let always = self.info.settings.borrow().appendfsync == "always";
        (appended != 0).then_some((aof, appended, always))
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
