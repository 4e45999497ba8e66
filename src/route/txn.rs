//! MULTI / EXEC / DISCARD / WATCH / UNWATCH. EXEC locks every key its
//! queued commands touch (and the watched ones) through the coordinator
//! (route/coordinator.rs), checks the WATCH versions, then runs the queue
//! through the ordinary pipeline executor in transaction mode, so it is
//! atomic and serializable across shards. An EXEC whose keys all live on
//! this core's shard takes the coordinator's no-lock shortcut: it waits
//! until no transaction holds any of them, then runs without yielding.

use super::coordinator::{group_keys, Held, LockPlan, Tx};
use super::pipeline::{execute_batch_in, write_cmd_error, write_error, Batch, Env};
use crate::cmd::client::{Queued, WatchedKey};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::table::{flag, CommandSpec, Exec, Global};
use crate::cmd::CmdError;
use crate::protocol::ReplyWriter;
use crate::runtime::core::Core;
use crate::runtime::locks::lock_id;
use crate::runtime::mesh::{JobKind, JobOutput};
use bytes::Bytes;
use std::rc::Rc;

/// (shard, db) of a watched key.
type Place = (usize, usize);
/// A watched key to check: key, version seen by WATCH, existed then.
type WatchCheck = (Bytes, u64, bool);

/// MULTI / EXEC / DISCARD / WATCH / UNWATCH.
pub async fn run(env: &Env<'_>, g: Global, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let resp3 = env.client.borrow().resp3;
    match g {
        Global::Multi => {
            let mut c = env.client.borrow_mut();
            if c.tx.queued.is_some() {
                drop(c);
                write_cmd_error(env.core, out, &CmdError::NestedMulti);
                return;
            }
            c.tx.queued = Some(Queued::default());
            c.tx.errored = false;
            ReplyWriter::new(out, resp3).ok();
        }
        Global::Discard => {
            if env.client.borrow_mut().tx.queued.take().is_none() {
                write_cmd_error(env.core, out, &CmdError::DiscardWithoutMulti);
                return;
            }
            unwatch_all(env).await;
            ReplyWriter::new(out, resp3).ok();
        }
        Global::Unwatch => {
            unwatch_all(env).await;
            ReplyWriter::new(out, resp3).ok();
        }
        Global::Watch => {
            if env.client.borrow().tx.queued.is_some() {
                write_cmd_error(env.core, out, &CmdError::WatchInMulti);
                return;
            }
            let db = env.client.borrow().db;
            let spans = args.spans();
            let slots = env.core.slots();
            let groups = group_keys((1..args.len()).map(|i| {
                (
                    slots.shard_of(args.get(i)),
                    (db, env.batch.arg_bytes(spans[i])),
                )
            }));
            let ops = groups
                .iter()
                .map(|(s, keys)| {
                    (
                        *s,
                        ShardOp::Watch {
                            keys: keys.iter().map(|k| k.1.clone()).collect(),
                        },
                    )
                })
                .collect();
            let results = super::multikey::run_ops(env, db, ops).await;
            let mut c = env.client.borrow_mut();
            for ((shard, keys), r) in groups.into_iter().zip(results) {
                if let OpResult::Watched(versions) = r {
                    for ((_, key), (version, existed)) in keys.into_iter().zip(versions) {
                        c.tx.watched.push(WatchedKey {
                            shard,
                            db,
                            key,
                            version,
                            existed,
                        });
                    }
                }
            }
            drop(c);
            ReplyWriter::new(out, resp3).ok();
        }
        Global::Exec => exec(env, out).await,
        _ => write_cmd_error(env.core, out, &CmdError::Internal),
    }
}

/// Queues a command while the client is in MULTI (or rejects it, flagging
/// the transaction so EXEC aborts). Returns false when the client is not in
/// MULTI or the command acts immediately (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
pub fn queue_if_multi(
    env: &Env<'_>,
    spec: Option<&'static CommandSpec>,
    cmd_idx: usize,
    out: &mut Vec<u8>,
) -> bool {
    if env.client.borrow().tx.queued.is_none() {
        return false;
    }
    if let Some(spec) = spec {
        if matches!(
            spec.exec,
            Exec::Global(Global::Exec | Global::Discard | Global::Multi | Global::Watch)
        ) || spec.name == "quit"
            || spec.name == "reset"
        {
            return false;
        }
    }
    let args = env.batch.args(cmd_idx);
    let reject = match spec {
        None => Some(super::pipeline::unknown_command_error(&args)),
        Some(s) if !s.arity_ok(args.len()) => Some(
            CmdError::WrongArity(s.name.to_string())
                .to_string()
                .into_bytes(),
        ),
        Some(s) if s.flags & flag::NO_MULTI != 0 => {
            Some(CmdError::NotInTransaction.to_string().into_bytes())
        }
        Some(s) => super::pipeline::disk_error_refusal(env.core, env.client, s)
            .map(String::into_bytes)
            .or_else(|| crate::cmd::script::busy::refusal(s, &args).map(|b| b.as_bytes().to_vec())),
    };
    let mut c = env.client.borrow_mut();
    if let Some(spec) = spec {
        // As Redis, CLIENT LIST's cmd= names the last command queued too.
        c.last_cmd = crate::cmd::command_docs::resolve(spec, &args).name;
    }
    let Some(queue) = c.tx.queued.as_mut() else {
        return false;
    };
    let reject = reject.or_else(|| {
        (!queue.fits(&args)).then(|| CmdError::MultiQueueTooLarge.to_string().into_bytes())
    });
    match (reject, spec) {
        (Some(msg), _) => {
            c.tx.errored = true;
            drop(c);
            write_error(env.core, out, &msg);
        }
        (None, Some(spec)) => {
            queue.push(spec, &args);
            out.extend_from_slice(b"+QUEUED\r\n");
        }
        (None, None) => {}
    }
    true
}

/// Redis's answer to a rejected EXEC: discard the transaction (and the
/// watches) and reply `EXECABORT Transaction discarded because of: <why>`.
pub async fn exec_abort(env: &Env<'_>, why: &str, out: &mut Vec<u8>) {
    env.client.borrow_mut().tx.queued = None;
    unwatch_all(env).await;
    let abort = CmdError::ExecAbort(why.to_string());
    write_cmd_error(env.core, out, &abort);
}

/// Forgets every WATCHed key of the client.
pub async fn unwatch_all(env: &Env<'_>) {
    let watched = std::mem::take(&mut env.client.borrow_mut().tx.watched);
    if watched.is_empty() {
        return;
    }
    let mut by_place: Vec<((usize, usize), Vec<Bytes>)> = Vec::new();
    for w in watched {
        match by_place.iter_mut().find(|p| p.0 == (w.shard, w.db)) {
            Some(p) => p.1.push(w.key),
            None => by_place.push(((w.shard, w.db), vec![w.key])),
        }
    }
    for ((shard, db), keys) in by_place {
        super::multikey::run_op(env, shard, db, ShardOp::Unwatch { keys }).await;
    }
}

/// Drops the client's watches when its connection ends.
pub async fn on_disconnect(
    core: &Rc<Core>,
    client: &Rc<std::cell::RefCell<crate::cmd::client::ClientState>>,
) {
    let empty = Bytes::new();
    let batch = Batch {
        data: &empty,
        inline: &empty,
        big: &[],
        spans: &[],
        cmds: &[],
    };
    let env = Env {
        core,
        client,
        batch: &batch,
        now_ms: crate::clock::unix_ms(),
        txid: None,
        lock_with_first_op: None,
    };
    unwatch_all(&env).await;
}

async fn exec(env: &Env<'_>, out: &mut Vec<u8>) {
    let (queued, errored, resp3, start_db) = {
        let mut c = env.client.borrow_mut();
        let Some(q) = c.tx.queued.take() else {
            drop(c);
            write_cmd_error(env.core, out, &CmdError::ExecWithoutMulti);
            return;
        };
        (q, c.tx.errored, c.resp3, c.db)
    };
    if errored {
        unwatch_all(env).await;
        write_cmd_error(env.core, out, &CmdError::ExecAbortPrevious);
        return;
    }
    // Every key the queue touches (following SELECTs), and the watched ones.
    let mut whole = false;
    let mut keys = Vec::new();
    {
        let slots = env.core.slots();
        let mut db = start_db;
        for (spec, args) in queued.iter() {
            match spec.exec {
                // Keys no argument names may be on any shard.
                // A script may reach any key (route/script.rs).
                _ if env.core.cores() > 1
                    && (spec.reads_unnamed_keys(&args)
                        || matches!(
                            spec.exec,
                            Exec::MultiKey(_, crate::cmd::split::Split::Script)
                        )) =>
                {
                    whole = true
                }
                Exec::Shard(_) | Exec::MultiKey(..) | Exec::Blocking(_) => {
                    for k in spec.key_indexes(&args) {
                        let key = args.get(k);
                        keys.push((slots.shard_of(key), lock_id(db, key)));
                    }
                }
                Exec::Global(_) | Exec::FanOut(_) => whole = true,
                Exec::Conn(_) => {
                    if spec.name == "select" {
                        if let Some(n) = crate::protocol::parser::parse_i64(args.get(1)) {
                            if n >= 0 && (n as usize) < env.core.info().databases {
                                db = n as usize;
                            }
                        }
                    }
                }
            }
        }
        let watched = &env.client.borrow().tx.watched;
        keys.extend(watched.iter().map(|w| (w.shard, lock_id(w.db, &w.key))));
    }
    // A queue of keyed commands whose keys (and watched keys) all live on this
    // core's shard needs no locks: once none of its keys is held by another
    // transaction, everything below up to the last queued command runs without
    // yielding, so nothing can interleave. With an AOF the commit record of the
    // locked path keeps the queue atomic on replay.
    let local_ok = env.core.aof().is_none()
        && queued
            .specs
            .iter()
            .all(|spec| matches!(spec.exec, Exec::Shard(_) | Exec::MultiKey(..)));
    let plan = if whole {
        LockPlan::every_shard(env.core.cores())
    } else {
        LockPlan::keys(keys)
    };
    let (tx, txid) = match Tx::begin_or_local(env.core, plan, local_ok).await {
        Held::Tx(tx) => {
            let txid = tx.txid();
            (Some(tx), txid)
        }
        Held::Local(txid) => (None, txid),
    };

    // WATCH: abort (null reply) if any watched key changed.
    let watched = std::mem::take(&mut env.client.borrow_mut().tx.watched);
    let mut dirty = false;
    let mut places: Vec<(Place, Vec<WatchCheck>)> = Vec::new();
    for w in &watched {
        let item = (w.key.clone(), w.version, w.existed);
        match places.iter_mut().find(|p| p.0 == (w.shard, w.db)) {
            Some(p) => p.1.push(item),
            None => places.push(((w.shard, w.db), vec![item])),
        }
    }
    for ((shard, db), keys) in places {
        let op = ShardOp::CheckWatch { keys };
        let r = if shard == env.core.id() {
            env.core.run_local(db, JobKind::TxOp { txid, op })
        } else {
            env.core.call(shard, db, JobKind::TxOp { txid, op }).await
        };
        if matches!(r, JobOutput::Op(OpResult::Int(n)) if n > 0) {
            dirty = true;
        }
    }
    env.client.borrow_mut().tx.watched = watched;
    if dirty {
        if let Some(tx) = tx {
            tx.release();
        }
        unwatch_all(env).await;
        ReplyWriter::new(out, resp3).null_array();
        return;
    }

    // Run the queue as one batch in transaction mode.
    let Queued {
        specs,
        data,
        spans,
        cmds,
    } = queued;
    let data = Bytes::from(data);
    let empty = Bytes::new();
    let batch = Batch {
        data: &data,
        inline: &empty,
        big: &[],
        spans: &spans,
        cmds: &cmds,
    };
    ReplyWriter::new(out, resp3).array(specs.len());
    // Boxed: EXEC runs through the executor that called it (recursion).
    Box::pin(execute_batch_in(
        env.core,
        env.client,
        &batch,
        0,
        out,
        Some(txid),
    ))
    .await;
    // The queued commands named themselves on the way; Redis reports EXEC.
    env.client.borrow_mut().last_cmd = "exec";
    if let Some(tx) = tx {
        tx.finish(specs.iter().any(|spec| spec.is_write())).await;
    }
    unwatch_all(env).await;
}
