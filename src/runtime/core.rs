//! The state one executor owns: its shard, its clients, its counters, and its
//! end of the mesh (outboxes, pending replies).
//!
//! `Core::call` is how a connection reaches another shard: the job goes into
//! the outbox for that peer and a flusher task sends the whole outbox as one
//! message once the tasks already runnable in this tick have added theirs.
//! Replies land in `pending` (a slab indexed by the job's token) and wake the
//! waiting connection. Nothing here is shared with other threads.

use super::mesh::{CoreCounters, Job, JobKind, JobOutput, Request, Response};
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

struct Outbox {
    jobs: RefCell<Vec<Job>>,
    /// Set when jobs are waiting and the flusher has been (or will be) woken.
    scheduled: Cell<bool>,
    flusher: Cell<Option<Waker>>,
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
    pub maxclients: usize,
    /// Clients connected to this core, by id.
    pub clients: RefCell<hashbrown::HashMap<u64, Rc<RefCell<ClientState>>>>,
    outboxes: Vec<Outbox>,
    pending: RefCell<Slab<Slot>>,
    pub stop: super::shutdown::StopSignal,
}

impl Core {
    pub fn new(
        id: usize,
        cores: usize,
        shard: Shard,
        info: CoreInfo,
        cfg: &crate::config::Config,
    ) -> Self {
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
            maxclients: cfg.maxclients,
            clients: RefCell::new(hashbrown::HashMap::new()),
            outboxes: (0..cores)
                .map(|_| Outbox {
                    jobs: RefCell::new(Vec::new()),
                    scheduled: Cell::new(false),
                    flusher: Cell::new(None),
                })
                .collect(),
            pending: RefCell::new(Slab::new()),
            stop: super::shutdown::StopSignal::default(),
        }
    }

    /// Sends `kind` to shard `dest` (never this core) and waits for its output.
    pub fn call(self: &Rc<Self>, dest: usize, db: usize, kind: JobKind) -> ReplyFuture {
        debug_assert_ne!(dest, self.id);
        let token = self.pending.borrow_mut().insert(Slot::Waiting(None)) as u32;
        let outbox = &self.outboxes[dest];
        outbox.jobs.borrow_mut().push(Job { token, db, kind });
        if !outbox.scheduled.replace(true) {
            if let Some(w) = outbox.flusher.take() {
                w.wake();
            }
        }
        ReplyFuture {
            core: self.clone(),
            token,
            done: false,
        }
    }

    /// Runs a job locally (used for this core's own part of a fan-out).
    pub fn run_local(&self, db: usize, kind: JobKind) -> JobOutput {
        let now = unix_ms();
        match kind {
            JobKind::Cmds(batch) => {
                let (data, ends, errors) =
                    super::mesh::run_cmd_batch(&mut self.shard.borrow_mut(), db, now, &batch);
                Counters::add(&self.counters.total_error_replies, errors);
                JobOutput::Replies { data, ends }
            }
            JobKind::Op(op) => JobOutput::Op(super::mesh::run_op(
                &mut self.shard.borrow_mut(),
                db,
                now,
                op,
            )),
            JobKind::Clients => JobOutput::Clients(
                self.clients
                    .borrow()
                    .values()
                    .map(|c| c.borrow().clone())
                    .collect(),
            ),
            JobKind::Counters => JobOutput::Counters(self.counters.snapshot()),
        }
    }

    /// Sends this core's outbox for `dest` whenever it fills, forever.
    pub async fn flusher(self: Rc<Self>, dest: usize, tx: ConnectedSender<Request>) {
        loop {
            WaitScheduled { core: &self, dest }.await;
            let jobs = std::mem::take(&mut *self.outboxes[dest].jobs.borrow_mut());
            self.outboxes[dest].scheduled.set(false);
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

    /// Executes every request from peer `src` on this shard and answers it.
    pub async fn serve_peer(
        self: Rc<Self>,
        rx: ConnectedReceiver<Request>,
        tx: ConnectedSender<Response>,
    ) {
        while let Some(req) = rx.recv().await {
            let results = req
                .jobs
                .into_iter()
                .map(|job| (job.token, self.run_local(job.db, job.kind)))
                .collect();
            if tx.send(Response { results }).await.is_err() {
                return;
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

    /// Outstanding cross-core calls (for shutdown and metrics).
    pub fn in_flight(&self) -> usize {
        self.pending.borrow().len()
    }
}

struct WaitScheduled<'a> {
    core: &'a Core,
    dest: usize,
}

impl Future for WaitScheduled<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let outbox = &self.core.outboxes[self.dest];
        if outbox.scheduled.get() {
            Poll::Ready(())
        } else {
            outbox.flusher.set(Some(cx.waker().clone()));
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
