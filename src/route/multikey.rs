//! Multi-key commands whose keys live on several shards, run as their
//! declarations say (cmd/split.rs): the router calls a command's `split` and
//! `merge` generically and knows no command by name, except RENAME,
//! RENAMENX and COPY, whose move of a value between two shards is planned
//! here.
//!
//! A [`Split::Parts`] command (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) is cut
//! into per-shard parts that join the pipeline's coordinated step with their
//! neighbours (one lock round for the whole step, route/segment.rs), and
//! [`merge_parts`] joins the parts' replies. SORT runs as route/sort.rs says. A [`Split::Guarded`] command
//! (MSETNX), a [`Split::Gather`] one (the set algebra, SMOVE), RENAME,
//! RENAMENX and COPY run here as their own transaction of
//! shard ops: every key locked (route/coordinator.rs) before the first op
//! runs and released after the last, so no observer sees half of one.

use super::coordinator::{LockPlan, Tx};
use super::pipeline::{write_cmd_error, write_error, Env};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::split::{Gather, Guarded, Parts, Split};
use crate::cmd::table::CommandSpec;
use crate::cmd::CmdError;
use crate::protocol::{Args, ReplyWriter};
use crate::runtime::core::Core;
use crate::runtime::locks::lock_id;
use crate::runtime::mesh::{JobKind, JobOutput};
use std::cell::RefCell;

/// The per-shard parts of a multi-key command whose keys span shards, when
/// its split is [`Split::Parts`]; None when it runs as its own transaction.
/// An error is the command's reply (nothing runs).
pub fn split_parts(core: &Core, split: Split, args: &Args) -> Option<Result<Parts, CmdError>> {
    match split {
        Split::Parts(p) => Some((p.split)(core.slots(), args)),
        _ => None,
    }
}

/// Writes the reply of a split command (`args`) from its parts' replies, in
/// the order of [`split_parts`], as its declaration merges them. Returns
/// false when the reply is an error.
pub fn merge_parts(
    core: &Core,
    spec: &CommandSpec,
    args: &Args,
    replies: &[&[u8]],
    out: &mut Vec<u8>,
) -> bool {
    let merged = match spec.split() {
        Some(Split::Parts(p)) => (p.merge)(core.slots(), args, replies, out),
        _ => None,
    };
    match merged {
        Some(ok) => ok,
        None => {
            write_cmd_error(core, out, &CmdError::Internal);
            false
        }
    }
}

fn op_job(env: &Env<'_>, shard: usize, op: ShardOp) -> JobKind {
    let Some(txid) = env.txid else {
        return JobKind::Op(op);
    };
    if let Some(pending) = env.lock_with_first_op {
        let mut p = pending.borrow_mut();
        if p.as_ref().is_some_and(|(s, _)| *s == shard) {
            if let Some((_, keys)) = p.take() {
                return JobKind::LockThenOp { txid, keys, op };
            }
        }
    }
    JobKind::TxOp { txid, op }
}

/// Runs `op` on `shard` (inline when it is this core's) and returns its result.
pub async fn run_op(env: &Env<'_>, shard: usize, db: usize, op: ShardOp) -> OpResult {
    let core = env.core;
    let output = if shard == core.id() {
        core.run_local(db, op_job(env, shard, op))
    } else {
        core.call(shard, db, op_job(env, shard, op)).await
    };
    match output {
        JobOutput::Op(r) => r,
        _ => OpResult::Err(CmdError::Internal),
    }
}

/// Runs one op per shard concurrently; results in the order of `ops`.
pub async fn run_ops(env: &Env<'_>, db: usize, ops: Vec<(usize, ShardOp)>) -> Vec<OpResult> {
    let core = env.core;
    let mut local = None;
    let mut futures = Vec::with_capacity(ops.len());
    for (idx, (shard, op)) in ops.into_iter().enumerate() {
        if shard == core.id() {
            local = Some((idx, op));
            futures.push(None);
        } else {
            futures.push(Some(core.call(shard, db, op_job(env, shard, op))));
        }
    }
    let mut results: Vec<Option<OpResult>> = (0..futures.len()).map(|_| None).collect();
    if let Some((idx, op)) = local {
        if let JobOutput::Op(r) = core.run_local(db, op_job(env, core.id(), op)) {
            results[idx] = Some(r);
        }
    }
    for (idx, f) in futures.into_iter().enumerate() {
        if let Some(f) = f {
            if let JobOutput::Op(r) = f.await {
                results[idx] = Some(r);
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(OpResult::Err(CmdError::Internal)))
        .collect()
}

fn int_of(r: &OpResult) -> i64 {
    match r {
        OpResult::Int(n) => *n,
        _ => 0,
    }
}

/// Runs a multi-key command whose keys span shards, atomically: inside the
/// caller's transaction if there is one, else in its own (every key locked
/// through the coordinator, the highest remote shard's lock riding on the
/// first op sent there, released at the end).
pub async fn run(
    env: &Env<'_>,
    spec: &'static CommandSpec,
    split: Split,
    cmd_idx: usize,
    out: &mut Vec<u8>,
) {
    if let Split::Sort = split {
        return super::sort::run(env, spec, cmd_idx, out).await;
    }
    if let Split::Script = split {
        return super::script::run(env, cmd_idx, out).await;
    }
    if env.txid.is_some() {
        return run_split(env, spec, split, cmd_idx, out).await;
    }
    let args = env.batch.args(cmd_idx);
    let db = env.client.borrow().db;
    let mut dbs = vec![db];
    if let Split::Copy = split {
        match crate::cmd::generic::parse_copy_args(&args, db, env.core.info().databases) {
            Ok(o) => dbs.push(o.dst_db),
            Err(e) => {
                write_error(env.core, out, e.to_string().as_bytes());
                return;
            }
        }
    }
    let plan = {
        let slots = env.core.slots();
        let mut items = Vec::new();
        for k in spec.key_indexes(&args) {
            let key = args.get(k);
            let owner = slots.shard_of(key);
            for &d in &dbs {
                items.push((owner, lock_id(d, key)));
            }
        }
        LockPlan::keys(items)
    };
    let (tx, last) = Tx::begin_but_last(env.core, plan).await;
    let pending = RefCell::new(last);
    let inner = env.in_tx(tx.txid(), Some(&pending));
    run_split(&inner, spec, split, cmd_idx, out).await;
    tx.finish(spec.is_write()).await;
}

/// A [`Split::Guarded`] command: `check` on every shard of its keys, then,
/// when the checks allow it, `apply` on every one; the reply says which.
async fn run_guarded(env: &Env<'_>, g: &Guarded, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    if let Err(e) = (g.check_args)(&args) {
        write_cmd_error(env.core, out, &e);
        return;
    }
    let parts: Vec<(usize, Vec<bytes::Bytes>)> =
        crate::cmd::split::by_shard(env.core.slots(), &args, g.per_key)
            .into_iter()
            .map(|(s, spans)| {
                let words = spans[1..].iter().map(|&sp| env.batch.arg_bytes(sp));
                (s, words.collect())
            })
            .collect();
    let step = |f| {
        parts
            .iter()
            .map(|(s, words)| {
                let op = ShardOp::Part {
                    f,
                    args: words.clone(),
                };
                (*s, op)
            })
            .collect::<Vec<_>>()
    };
    let found = run_ops(env, db, step(g.check)).await;
    let proceed = (g.proceed)(&found);
    if proceed {
        run_ops(env, db, step(g.apply)).await;
    }
    (g.reply)(proceed, &mut ReplyWriter::new(out, resp3));
}

/// A [`Split::Gather`] command: `read` on every shard of its source keys
/// (concurrently), `combine` here over what was read (in source order),
/// then each write on the shard of its key, one after another; every key
/// stays locked throughout (the caller's transaction).
pub async fn run_gather(env: &Env<'_>, g: &Gather, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let spans = args.spans();
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    let keys = match (g.sources)(&args) {
        Ok(k) => k,
        Err(e) => return write_cmd_error(env.core, out, &e),
    };
    let slots = env.core.slots();
    // Each source key's place: (its shard's part, its position there).
    let mut parts: Vec<(usize, Vec<bytes::Bytes>)> = Vec::new();
    let mut at: Vec<(usize, usize)> = Vec::with_capacity(keys.len());
    for &k in &keys {
        let shard = slots.shard_of(args.get(k));
        let p = match parts.iter().position(|(s, _)| *s == shard) {
            Some(p) => p,
            None => {
                parts.push((shard, Vec::new()));
                parts.len() - 1
            }
        };
        at.push((p, parts[p].1.len()));
        parts[p].1.push(env.batch.arg_bytes(spans[k]));
    }
    let extra: Vec<bytes::Bytes> = (g.extra)(&args)
        .into_iter()
        .map(|i| env.batch.arg_bytes(spans[i]))
        .collect();
    let ops = parts
        .into_iter()
        .map(|(s, mut words)| {
            words.extend(extra.iter().cloned());
            (
                s,
                ShardOp::Part {
                    f: g.read,
                    args: words,
                },
            )
        })
        .collect();
    let mut read = Vec::new();
    for r in run_ops(env, db, ops).await {
        match r {
            OpResult::Lists(l) => read.push(l),
            OpResult::Err(e) => return write_cmd_error(env.core, out, &e),
            _ => return write_cmd_error(env.core, out, &CmdError::Internal),
        }
    }
    let mut lists = Vec::with_capacity(at.len());
    for (p, j) in at {
        match read.get_mut(p).and_then(|l| l.get_mut(j)) {
            Some(l) => lists.push(l.take()),
            None => return write_cmd_error(env.core, out, &CmdError::Internal),
        }
    }
    let limits = env.core.shard().borrow().encoding_limits();
    let mut reply = Vec::new();
    let writes = (g.combine)(
        &args,
        &limits,
        &lists,
        &mut ReplyWriter::new(&mut reply, resp3),
    );
    match writes {
        Err(e) => write_cmd_error(env.core, out, &e),
        Ok(writes) => {
            for w in writes {
                let shard = slots.shard_of(args.get(w.key));
                let op = ShardOp::Part {
                    f: w.apply,
                    args: w.args,
                };
                run_op(env, shard, db, op).await;
            }
            out.extend_from_slice(&reply);
        }
    }
}

async fn run_split(
    env: &Env<'_>,
    _spec: &'static CommandSpec,
    split: Split,
    cmd_idx: usize,
    out: &mut Vec<u8>,
) {
    let args = env.batch.args(cmd_idx);
    let spans = args.spans();
    let key = |i: usize| env.batch.arg_bytes(spans[i]);
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    let mut reply = ReplyWriter::new(out, resp3);
    match split {
        // Always split into pipeline parts (`split_parts`): never run here.
        Split::Parts(_) => {
            write_cmd_error(env.core, out, &CmdError::Internal);
        }
        Split::Guarded(g) => run_guarded(env, g, cmd_idx, out).await,
        Split::Sort => super::sort::run(env, _spec, cmd_idx, out).await,
        Split::Script => super::script::run(env, cmd_idx, out).await,
        Split::Gather(g) => run_gather(env, g, cmd_idx, out).await,
        Split::Rename { nx } => {
            let slots = env.core.slots();
            let (src_shard, dst_shard) = (slots.shard_of(args.get(1)), slots.shard_of(args.get(2)));
            let checks = vec![
                (src_shard, ShardOp::CountExisting { keys: vec![key(1)] }),
                (dst_shard, ShardOp::CountExisting { keys: vec![key(2)] }),
            ];
            let found = run_ops(env, db, checks).await;
            if int_of(&found[0]) == 0 {
                write_cmd_error(env.core, out, &CmdError::NoSuchKey);
                return;
            }
            if nx && int_of(&found[1]) > 0 {
                reply.int(0);
                return;
            }
            let taken = run_op(env, src_shard, db, ShardOp::Take { key: key(1) }).await;
            let OpResult::Moved(Some(value)) = taken else {
                write_cmd_error(env.core, out, &CmdError::NoSuchKey);
                return;
            };
            run_op(
                env,
                dst_shard,
                db,
                ShardOp::Put {
                    key: key(2),
                    value,
                    replace: true,
                },
            )
            .await;
            if nx {
                reply.int(1);
            } else {
                reply.ok();
            }
        }
        Split::Copy => {
            let opts =
                match crate::cmd::generic::parse_copy_args(&args, db, env.core.info().databases) {
                    Ok(o) => o,
                    Err(e) => {
                        write_error(env.core, out, e.to_string().as_bytes());
                        return;
                    }
                };
            let (dst_db, replace) = (opts.dst_db, opts.replace);
            let slots = env.core.slots();
            let (src_shard, dst_shard) = (slots.shard_of(args.get(1)), slots.shard_of(args.get(2)));
            let OpResult::Moved(Some(value)) =
                run_op(env, src_shard, db, ShardOp::Peek { key: key(1) }).await
            else {
                reply.int(0);
                return;
            };
            let stored = run_op(
                env,
                dst_shard,
                dst_db,
                ShardOp::Put {
                    key: key(2),
                    value,
                    replace,
                },
            )
            .await;
            reply.int(int_of(&stored));
        }
    }
}
