//! The tasks on each channel between this core and a peer: the flusher
//! that sends an outbox as one request, the service of a peer's requests
//! (its answers sent by a flusher of their own), the delivery of a peer's
//! responses, and [`Core::send_now`] for a job that cannot wait for the
//! flusher (a script's call to another shard).

use super::core::Core;
use super::mesh::{Job, Request, Response};
use glommio::channels::shared_channel::{ConnectedReceiver, ConnectedSender};
use std::rc::Rc;

impl Core {
    /// Sends `job` to peer `dest` at once, from code that cannot yield (a
    /// script's call to another shard, cmd/script/remote.rs): straight into
    /// the request channel, retrying while it is full. False when the
    /// channel is not connected (start-up) or closed.
    pub fn send_now(&self, dest: usize, job: Job) -> bool {
        let Some(tx) = self.senders.borrow().get(dest).cloned().flatten() else {
            return false;
        };
        let mut req = Request {
            from: self.id,
            jobs: vec![job],
        };
        use glommio::{GlommioError, ResourceType};
        loop {
            match tx.try_send(req) {
                Ok(()) => return true,
                Err(GlommioError::WouldBlock(ResourceType::Channel(back))) => {
                    req = back;
                    std::hint::spin_loop();
                }
                Err(_) => return false,
            }
        }
    }

    /// Sends this core's outbox for `dest` whenever it fills, forever.
    pub async fn flusher(self: Rc<Self>, dest: usize, tx: ConnectedSender<Request>) {
        let tx = Rc::new(tx);
        if let Some(slot) = self.senders.borrow_mut().get_mut(dest) {
            *slot = Some(tx.clone());
        }
        loop {
            let (jobs, _) = self.outboxes[dest].next_batch().await;
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
                let (results, effects_end) = flusher.responses[peer].next_batch().await;
                if results.is_empty() {
                    continue;
                }
                if !flusher.journal_barrier_or_hold(effects_end).await {
                    // The AOF is failing and these answers report effects
                    // not yet written: they wait aside, later answers (reads,
                    // refusals) go on. Answers are matched by token, so
                    // their order across messages does not matter.
                    let holder = flusher.clone();
                    glommio::spawn_local(async move {
                        holder.journal_barrier_at(effects_end).await;
                        for r in results {
                            holder.responses[peer].push(r);
                        }
                    })
                    .detach();
                    continue;
                }
                if tx.send(Response { results }).await.is_err() {
                    return;
                }
            }
        })
        .detach();
        while let Some(req) = rx.recv().await {
            for job in req.jobs {
                let token = job.token;
                let mark = self.journal_mark();
                if let Some(out) = self.handle_remote(req.from, job) {
                    self.respond(req.from, (token, out), mark);
                }
            }
        }
    }

    /// Delivers responses from a peer to the waiting connections. Never sends,
    /// so it can never block the peer (see mesh.rs).
    pub async fn receive_responses(self: Rc<Self>, rx: ConnectedReceiver<Response>) {
        while let Some(resp) = rx.recv().await {
            for (token, output) in resp.results {
                self.complete(token, output);
            }
        }
    }
}
