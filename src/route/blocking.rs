//! Blocking commands from the client's side, as their declarations say
//! (cmd/blocking.rs): the first attempt, the wait, and its end.
//!
//! The attempt holds every key the command touches (the coordinator's
//! locks, or the no-lock shortcut when they are all on this core's shard)
//! while it tries each waited-on key in order and, when none serves it,
//! queues the waiter on every key's shard (shard/blocking.rs): a push can
//! come only after the waiter is queued. Inside EXEC nothing blocks: an
//! attempt that finds nothing answers as timed out.
//!
//! Then the connection parks ([`park`]): the shards serve the waiter in
//! place and deliver its reply (runtime/blocked.rs). A wait on one shard
//! takes its delivery. A wait on several shards, once one served it, and
//! any wait that times out or is unblocked, first cancels the waiter on
//! every shard: a shard that had already served it (or holds a ready key
//! for it under a transaction) sends its outcome; of those, the one whose
//! key became ready first is the reply, the others' elements go back. A
//! client that disconnects leaves at once; a late delivery's elements go
//! back to their list. A serve that needs another shard (BLMOVE to a key
//! elsewhere) wakes the client's core, which attempts again.

use super::coordinator::{LockPlan, Tx};
use super::multikey::run_op;
use super::pipeline::{write_cmd_error, Batch, Env};
use crate::cmd::blocking::{BlockReq, BlockSpec};
use crate::cmd::client::{ClientState, Queued};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::split::Split;
use crate::cmd::{CmdError, CommandSpec};
use crate::protocol::{Args, ReplyWriter};
use crate::runtime::blocked::{Candidate, Outcome, WaitSlot};
use crate::runtime::core::Core;
use crate::runtime::locks::lock_id;
use crate::runtime::mesh::JobKind;
use crate::shard::blocking::{Served, WaitId, Waiter};
use bytes::Bytes;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// A blocked command: what its connection waits on.
pub struct Parked {
    /// The command's own copy (a retry runs it again).
    cmd: Queued,
    spec: &'static BlockSpec,
    wait: Registered,
    deadline: Option<Instant>,
}

/// A waiter queued on the shards of its keys.
struct Registered {
    id: WaitId,
    slot: Rc<WaitSlot>,
    shards: Vec<usize>,
}

enum Attempt {
    /// The command's reply (served at once, or an error).
    Reply(Vec<u8>),
    /// Nothing to serve it, and it may not wait.
    NotServed,
    Waiting(Registered),
}

/// Runs blocking command `cmd_idx`: its reply goes to `out`, or it waits
/// (returned, for the connection to [`park`]).
pub async fn start(
    env: &Env<'_>,
    spec: &'static CommandSpec,
    block: &'static BlockSpec,
    cmd_idx: usize,
    out: &mut Vec<u8>,
) -> Option<Parked> {
    let args = env.batch.args(cmd_idx);
    let req = match (block.parse)(&args) {
        Ok(r) => r,
        Err(e) => {
            write_cmd_error(env.core, out, &e);
            return None;
        }
    };
    let deadline = req
        .timeout_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    // Inside EXEC (the keys held by it) nothing blocks.
    let may_wait = env.txid.is_none();
    match attempt(env, block, &args, &req, cmd_idx, may_wait).await {
        Attempt::Reply(reply) => out.extend_from_slice(&reply),
        Attempt::NotServed => (block.not_blocking)(&mut reply_writer(env, out)),
        Attempt::Waiting(wait) => {
            let mut cmd = Queued::default();
            cmd.push(spec, &args);
            return Some(Parked {
                cmd,
                spec: block,
                wait,
                deadline,
            });
        }
    }
    None
}

fn reply_writer<'o>(env: &Env<'_>, out: &'o mut Vec<u8>) -> ReplyWriter<'o> {
    ReplyWriter::new(out, env.client.borrow().resp3)
}

/// Tries the command once; with `may_wait`, queues it when nothing serves it.
async fn attempt(
    env: &Env<'_>,
    block: &BlockSpec,
    args: &Args<'_>,
    req: &BlockReq,
    cmd_idx: usize,
    may_wait: bool,
) -> Attempt {
    let core = env.core;
    let (db, resp3, client_id) = {
        let c = env.client.borrow();
        (c.db, c.resp3, c.id)
    };
    let slots = core.slots();
    let key = |i: usize| env.batch.arg_bytes(args.spans()[i]);
    let waited: Vec<(usize, Bytes)> = req
        .keys
        .iter()
        .map(|&i| (slots.shard_of(args.get(i)), key(i)))
        .collect();
    let mut shards: Vec<usize> = Vec::new();
    for (s, _) in &waited {
        if !shards.contains(s) {
            shards.push(*s);
        }
    }
    let across = match block.across {
        Some(split)
            if req
                .writes
                .iter()
                .any(|&i| !shards.contains(&slots.shard_of(args.get(i)))) =>
        {
            Some(split)
        }
        _ => None,
    };
    let locks: Vec<(usize, u64)> = req
        .keys
        .iter()
        .chain(&req.writes)
        .map(|&i| (slots.shard_of(args.get(i)), lock_id(db, args.get(i))))
        .collect();
    let wait = may_wait.then(|| {
        let (seq, slot) = core.blocked().open(client_id);
        let id = WaitId {
            home: core.id(),
            seq,
        };
        (id, slot)
    });
    let waiter = |id: WaitId, keys: Vec<Bytes>| Waiter {
        id,
        db,
        keys,
        serve: req.serve,
        words: req
            .words
            .iter()
            .map(|w| Bytes::copy_from_slice(w))
            .collect(),
        resp3,
    };
    let id = wait.as_ref().map_or(
        WaitId {
            home: core.id(),
            seq: 0,
        },
        |w| w.0,
    );
    let steps = Steps {
        waited: &waited,
        shards: &shards,
        across,
        cmd_idx,
        db,
        register: wait.is_some(),
        make: &|keys| waiter(id, keys),
    };
    let (served, _) = if env.txid.is_some() {
        steps.run(env).await
    } else if let (Some(ids), None) = (LockPlan::keys(locks.clone()).only_on(core.id()), across) {
        // Every key on this shard: once none is held, the whole attempt
        // runs without yielding.
        core_wait_free(core, &ids).await;
        steps.run(env).await
    } else {
        let plan = LockPlan::keys(locks);
        let one_remote = match (&shards[..], across) {
            ([s], None) => plan.only_on(*s).map(|ids| (*s, ids)),
            _ => None,
        };
        let (tx, last) = match one_remote {
            // One remote shard: its locks ride on the attempt's op there.
            Some((s, ids)) => {
                let mut tx = Tx::new(core);
                tx.holds(s);
                (tx, Some((s, ids)))
            }
            None => Tx::begin_but_last(core, plan).await,
        };
        let pending = RefCell::new(last);
        let inner = env.in_tx(tx.txid(), Some(&pending));
        let r = steps.run(&inner).await;
        tx.finish(r.1).await;
        r
    };
    match (served, wait) {
        (Some(reply), wait) => {
            if let Some((id, _)) = wait {
                core.blocked().close(id.seq);
            }
            Attempt::Reply(reply)
        }
        (None, Some((id, slot))) => Attempt::Waiting(Registered { id, slot, shards }),
        (None, None) => Attempt::NotServed,
    }
}

async fn core_wait_free(core: &Rc<Core>, ids: &[u64]) {
    use super::coordinator::Locker;
    core.wait_free(ids).await
}

/// The attempt's steps, run with its keys held.
struct Steps<'a> {
    waited: &'a [(usize, Bytes)],
    shards: &'a [usize],
    across: Option<Split>,
    cmd_idx: usize,
    db: usize,
    register: bool,
    make: &'a dyn Fn(Vec<Bytes>) -> Waiter,
}

impl Steps<'_> {
    /// The reply when something served it, and whether anything was written.
    async fn run(&self, env: &Env<'_>) -> (Option<Vec<u8>>, bool) {
        if let Some(Split::Gather(g)) = self.across {
            // The non-blocking command through the coordinator; a null
            // reply (an empty source) means wait.
            let mut reply = Vec::new();
            super::multikey::run_gather(env, g, self.cmd_idx, &mut reply).await;
            if !matches!(&reply[..], b"$-1\r\n" | b"_\r\n") {
                return (Some(reply), true);
            }
            if self.register {
                if let Some((shard, key)) = self.waited.first() {
                    self.try_serve(env, *shard, vec![key.clone()], true).await;
                }
            }
            return (None, false);
        }
        if let [shard] = self.shards {
            let keys = self.waited.iter().map(|(_, k)| k.clone()).collect();
            let r = self.try_serve(env, *shard, keys, self.register).await;
            let served = r.is_some();
            return (r, served);
        }
        for (shard, key) in self.waited {
            if let Some(reply) = self.try_serve(env, *shard, vec![key.clone()], false).await {
                return (Some(reply), true);
            }
        }
        if self.register {
            for &shard in self.shards {
                let keys = self
                    .waited
                    .iter()
                    .filter(|(s, _)| *s == shard)
                    .map(|(_, k)| k.clone())
                    .collect();
                self.try_serve(env, shard, keys, true).await;
            }
        }
        (None, false)
    }

    async fn try_serve(
        &self,
        env: &Env<'_>,
        shard: usize,
        keys: Vec<Bytes>,
        register: bool,
    ) -> Option<Vec<u8>> {
        let op = ShardOp::TryServe {
            waiter: (self.make)(keys),
            register,
        };
        match run_op(env, shard, self.db, op).await {
            OpResult::Served(Served::Reply { reply, .. }) => Some(reply),
            OpResult::Served(_) => None,
            OpResult::Err(e) => Some(error_bytes(env, &e)),
            _ => Some(error_bytes(env, &CmdError::Internal)),
        }
    }
}

fn error_bytes(env: &Env<'_>, e: &CmdError) -> Vec<u8> {
    let mut out = Vec::new();
    write_cmd_error(env.core, &mut out, e);
    out
}

/// What ended a wait.
enum Event {
    Changed,
    TimedOut,
    Left,
}

/// Waits for a parked command's reply: a delivery, its timeout, CLIENT
/// UNBLOCK, or `left` (the client closed its connection: None). The
/// client shows as blocked meanwhile.
pub async fn park(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    mut parked: Parked,
    left: impl Future<Output = ()>,
) -> Option<Vec<u8>> {
    client.borrow_mut().blocked = true;
    let mut left = std::pin::pin!(left);
    let reply = loop {
        let event = {
            let wait = &parked.wait;
            let mut changed = std::pin::pin!(wait.slot.changed());
            let deadline = parked.deadline;
            let mut timer = std::pin::pin!(async move {
                match deadline {
                    Some(d) => {
                        glommio::timer::sleep(d.saturating_duration_since(Instant::now())).await
                    }
                    None => std::future::pending::<()>().await,
                }
            });
            std::future::poll_fn(|cx| {
                if changed.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::Changed)
                } else if left.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::Left)
                } else if timer.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::TimedOut)
                } else {
                    Poll::Pending
                }
            })
            .await
        };
        let outcome = match event {
            Event::Left => {
                leave(core, &parked.wait);
                break None;
            }
            // Served by its one shard: nothing else can come.
            Event::Changed
                if parked.wait.shards.len() == 1 && parked.wait.slot.has_candidates() =>
            {
                core.blocked().close(parked.wait.id.seq);
                choose(core, parked.wait.slot.take_candidates()).await
            }
            // Served by a shard of several, unblocked, or timed out.
            Event::Changed | Event::TimedOut => settle(core, &parked.wait).await,
        };
        match outcome {
            Some(Outcome::Reply(reply)) => break Some(reply),
            Some(Outcome::WakeHome) if parked.wait.slot.unblock_requested().is_none() => {
                match retry(core, client, &mut parked).await {
                    Some(reply) => break Some(reply),
                    None => continue,
                }
            }
            _ => break Some(ended(client, &parked)),
        }
    };
    client.borrow_mut().blocked = false;
    reply
}

/// The reply of a wait that ended without a delivery: timed out, or
/// unblocked (with CLIENT UNBLOCK's error when asked).
fn ended(client: &RefCell<ClientState>, parked: &Parked) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = ReplyWriter::new(&mut out, client.borrow().resp3);
    if parked.wait.slot.unblock_requested() == Some(true) {
        w.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        (parked.spec.timed_out)(&mut w);
    }
    out
}

/// Ends a wait on several shards, or one that timed out or was unblocked:
/// removes the waiter from every shard; each shard that no longer had it
/// has served it and its outcome is on its way. Once all are in, the
/// outcome whose key became ready first is the waiter's (Redis serves keys
/// in the order they became ready), the others go back; None when no
/// shard had served it.
async fn settle(core: &Rc<Core>, wait: &Registered) -> Option<Outcome> {
    let mut answers = Vec::new();
    let mut gone = 0;
    for &s in &wait.shards {
        if s == core.id() {
            if !core.cancel_wait(wait.id) {
                gone += 1;
            }
        } else {
            answers.push(core.call(s, 0, JobKind::CancelWait(wait.id)));
        }
    }
    for a in answers {
        if let crate::runtime::mesh::JobOutput::Op(OpResult::Int(0)) = a.await {
            gone += 1;
        }
    }
    wait.slot.delivered(gone).await;
    core.blocked().close(wait.id.seq);
    choose(core, wait.slot.take_candidates()).await
}

/// The outcome whose key became ready first; the others go back (before
/// the reply leaves).
async fn choose(core: &Rc<Core>, mut candidates: Vec<Candidate>) -> Option<Outcome> {
    // A shard that was asked to cancel and could not serve it says so.
    candidates.retain(|c| !matches!(c.served, Served::NotReady));
    candidates.sort_by_key(|c| c.ready_at);
    let mut candidates = candidates.into_iter();
    let first = candidates.next()?;
    for c in candidates {
        core.send_back_now(c).await;
    }
    match first.served {
        Served::Reply { reply, .. } => Some(Outcome::Reply(reply)),
        Served::WakeHome => Some(Outcome::WakeHome),
        Served::NotReady => None,
    }
}

/// Forgets the wait here and on every shard, without waiting (the client
/// left, or one shard served it).
fn leave(core: &Core, wait: &Registered) {
    core.blocked().close(wait.id.seq);
    for &s in &wait.shards {
        core.forget_wait(s, wait.id);
    }
}

/// Runs a woken command again (its serve needed another shard): its reply,
/// or None when it waits again (or, past its deadline, its timeout reply).
async fn retry(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    parked: &mut Parked,
) -> Option<Vec<u8>> {
    let data = Bytes::from(std::mem::take(&mut parked.cmd.data));
    let empty = Bytes::new();
    let batch = Batch {
        data: &data,
        inline: &empty,
        big: &[],
        spans: &parked.cmd.spans,
        cmds: &parked.cmd.cmds,
    };
    let env = Env {
        core,
        client,
        batch: &batch,
        now_ms: crate::cmd::unix_ms(),
        txid: None,
        lock_with_first_op: None,
    };
    let args = batch.args(0);
    let may_wait = parked.deadline.is_none_or(|d| Instant::now() < d);
    let result = match (parked.spec.parse)(&args) {
        Ok(req) => match attempt(&env, parked.spec, &args, &req, 0, may_wait).await {
            Attempt::Reply(r) => Some(r),
            Attempt::NotServed => Some(ended(client, parked)),
            Attempt::Waiting(wait) => {
                parked.wait = wait;
                None
            }
        },
        Err(e) => Some(error_bytes(&env, &e)),
    };
    parked.cmd.data = data.to_vec();
    result
}
