//! Multi-key commands whose keys live on several shards: split per shard into
//! [`ShardOp`]s, run the parts, merge the results into one Redis reply.
//!
//! The whole command runs inside a coordinated transaction (route::txn): its
//! keys are locked on every shard before the first part runs and released
//! after the last, so no observer sees half of an MSET or a RENAME, and later
//! commands never overtake it. Adding a multi-key command is one `Split` in
//! the command table plus its merge here.
//!
//! MGET, MSET, DEL, UNLINK, EXISTS and TOUCH are the same command on each
//! shard's keys: [`split_parts`] cuts them into per-shard commands that join
//! the pipeline's coordinated step with their neighbours (one lock round for
//! the whole step instead of one transaction per command), and
//! [`merge_parts`] joins the parts' replies. MSETNX, RENAME, RENAMENX and COPY
//! run here, as their own transaction of shard ops.

use super::pipeline::{write_cmd_error, write_error, Env};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::table::{CommandSpec, Exec, Split};
use crate::cmd::CmdError;
use crate::protocol::{Args, ReplyWriter, Span};
use crate::runtime::core::Core;
use crate::runtime::locks::lock_id;
use crate::runtime::mesh::{JobKind, JobOutput};
use crate::slot::SlotTable;
use std::cell::RefCell;

/// The per-shard commands of a multi-key command whose keys span shards,
/// when each part is the same command over that shard's keys: (shard, the
/// part's arguments: the command name, then its keys, or key-value pairs),
/// shards in order of first appearance. None when the command must run as
/// its own transaction (MSETNX, RENAME and COPY read before they write) or
/// is malformed (MSET with a key but no value: `run` answers the error).
pub fn split_parts(core: &Core, split: Split, args: &Args) -> Option<Vec<(usize, Vec<Span>)>> {
    split_by_slots(core.shard.borrow().slots, split, args)
}

/// [`split_parts`] over the layout `slots` (pure: the unit tests' entry).
pub fn split_by_slots(
    slots: SlotTable,
    split: Split,
    args: &Args,
) -> Option<Vec<(usize, Vec<Span>)>> {
    let per_key = match split {
        Split::MSet if args.len() % 2 == 1 => 2,
        Split::SumKeys | Split::MGet => 1,
        _ => return None,
    };
    let spans = args.spans();
    let mut parts: Vec<(usize, Vec<Span>)> = Vec::new();
    for k in (1..args.len()).step_by(per_key) {
        let shard = slots.shard_of(args.get(k));
        let part = match parts.iter().position(|p| p.0 == shard) {
            Some(p) => &mut parts[p].1,
            None => {
                parts.push((shard, vec![spans[0]]));
                &mut parts.last_mut()?.1
            }
        };
        part.extend_from_slice(&spans[k..k + per_key]);
    }
    Some(parts)
}

/// Writes the reply of a split command (`args`) from its parts' replies, in
/// the order of [`split_parts`]: MSET's `+OK`, the sum of the integer
/// replies, or MGET's values back in key order; the first part error, if
/// any, instead. Returns false when the reply is an error.
pub fn merge_parts(
    core: &Core,
    spec: &CommandSpec,
    args: &Args,
    replies: &[&[u8]],
    out: &mut Vec<u8>,
) -> bool {
    let Exec::MultiKey(_, split) = spec.exec else {
        write_cmd_error(core, out, &CmdError::Internal);
        return false;
    };
    match merge_replies(core.shard.borrow().slots, split, args, replies, out) {
        Some(ok) => ok,
        None => {
            write_cmd_error(core, out, &CmdError::Internal);
            false
        }
    }
}

/// [`merge_parts`] over the layout `slots`, pure: Some(false) when a part's
/// error is the reply, None when the parts' replies do not fit the command
/// (nothing is written then).
pub fn merge_replies(
    slots: SlotTable,
    split: Split,
    args: &Args,
    replies: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<bool> {
    if let Some(err) = replies.iter().find(|r| r.first() == Some(&b'-')) {
        out.extend_from_slice(err);
        return Some(false);
    }
    match split {
        Split::SumKeys => {
            let total: i64 = replies
                .iter()
                .filter_map(|r| r.strip_prefix(b":")?.strip_suffix(b"\r\n"))
                .filter_map(crate::protocol::parser::parse_i64)
                .sum();
            ReplyWriter::new(out, false).int(total);
        }
        Split::MGet => merge_mget(slots, args, replies, out)?,
        _ => out.extend_from_slice(replies.first().copied().unwrap_or(b"+OK\r\n")),
    }
    Some(true)
}

/// Each MGET part answers an array of its keys' values (bulk strings or
/// nulls); the elements are copied back in key order, each key taking the
/// next element of its shard's part.
fn merge_mget(slots: SlotTable, args: &Args, replies: &[&[u8]], out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    let merged = copy_mget_elements(slots, args, replies, out);
    if merged.is_none() {
        // Never half an array: the caller answers an error instead.
        out.truncate(start);
    }
    merged
}

fn copy_mget_elements(
    slots: SlotTable,
    args: &Args,
    replies: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<()> {
    let mut shards: Vec<usize> = Vec::with_capacity(replies.len());
    let mut cursors: Vec<usize> = replies
        .iter()
        .map(|r| Some(r.iter().position(|&b| b == b'\n')? + 1))
        .collect::<Option<_>>()?;
    ReplyWriter::new(out, false).array(args.len() - 1);
    for key in args.iter_from(1) {
        let shard = slots.shard_of(key);
        let part = match shards.iter().position(|&s| s == shard) {
            Some(p) => p,
            None => {
                shards.push(shard);
                shards.len() - 1
            }
        };
        let reply = replies.get(part)?;
        let at = *cursors.get(part)?;
        let end = element_end(reply, at)?;
        out.extend_from_slice(&reply[at..end]);
        cursors[part] = end;
    }
    cursors
        .iter()
        .zip(replies)
        .all(|(&c, r)| c == r.len())
        .then_some(())
}

/// Where the bulk string or null that starts at `at` ends.
fn element_end(reply: &[u8], at: usize) -> Option<usize> {
    let end = match reply.get(at)? {
        b'_' => at + 3,
        b'$' => {
            let line = at + reply[at..].iter().position(|&b| b == b'\r')?;
            match crate::protocol::parser::parse_i64(&reply[at + 1..line])? {
                n if n < 0 => line + 2,
                n => line + 2 + usize::try_from(n).ok()? + 2,
            }
        }
        _ => return None,
    };
    (end <= reply.len()).then_some(end)
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
    let output = if shard == core.id {
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
        if shard == core.id {
            local = Some((idx, op));
            futures.push(None);
        } else {
            futures.push(Some(core.call(shard, db, op_job(env, shard, op))));
        }
    }
    let mut results: Vec<Option<OpResult>> = (0..futures.len()).map(|_| None).collect();
    if let Some((idx, op)) = local {
        if let JobOutput::Op(r) = core.run_local(db, op_job(env, core.id, op)) {
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

/// Groups key argument indexes by owning shard, preserving order.
fn group_by_shard(
    env: &Env<'_>,
    args: &Args,
    idxs: impl Iterator<Item = usize>,
) -> Vec<(usize, Vec<usize>)> {
    let shard = env.core.shard.borrow();
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in idxs {
        let s = shard.slots.shard_of(args.get(i));
        match groups.iter_mut().find(|g| g.0 == s) {
            Some(g) => g.1.push(i),
            None => groups.push((s, vec![i])),
        }
    }
    groups
}

fn int_of(r: &OpResult) -> i64 {
    match r {
        OpResult::Int(n) => *n,
        _ => 0,
    }
}

/// Runs a multi-key command whose keys span shards, atomically: inside the
/// caller's transaction if there is one, else in its own (every key locked,
/// ascending shard order, released at the end).
pub async fn run(
    env: &Env<'_>,
    spec: &'static CommandSpec,
    split: Split,
    cmd_idx: usize,
    out: &mut Vec<u8>,
) {
    if env.txid.is_some() {
        return run_split(env, spec, split, cmd_idx, out).await;
    }
    let args = env.batch.args(cmd_idx);
    let db = env.client.borrow().db;
    let mut dbs = vec![db];
    if split == Split::Copy {
        match crate::cmd::generic::parse_copy_args(&args, db, env.core.info.databases) {
            Ok(o) => dbs.push(o.dst_db),
            Err(e) => {
                write_error(env.core, out, e.to_string().as_bytes());
                return;
            }
        }
    }
    let keys = {
        let shard = env.core.shard.borrow();
        let mut items = Vec::new();
        for k in spec.key_indexes(args.len()) {
            let key = args.get(k);
            let owner = shard.slots.shard_of(key);
            for &d in &dbs {
                items.push((owner, lock_id(d, key)));
            }
        }
        super::txn::group_keys(items)
    };
    // Lock every shard but the highest now (ascending order); when the highest
    // is remote, its lock rides on the first op sent there.
    let mut keys = keys;
    keys.sort_unstable_by_key(|(s, _)| *s);
    let last = match keys.last() {
        Some((s, _)) if *s != env.core.id && keys.len() > 1 => keys.pop(),
        _ => None,
    };
    let mut tx = super::txn::Tx::begin(env.core, keys, false).await;
    if let Some((s, _)) = &last {
        tx.also_holds(*s);
    }
    let pending = RefCell::new(last);
    let inner = env.in_tx(tx.txid, Some(&pending));
    run_split(&inner, spec, split, cmd_idx, out).await;
    if spec.is_write() {
        tx.commit(env.core).await;
    } else {
        tx.release(env.core);
    }
}

async fn run_split(
    env: &Env<'_>,
    spec: &'static CommandSpec,
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
        Split::MGet | Split::SumKeys => {
            write_cmd_error(env.core, out, &CmdError::Internal);
        }
        Split::MSet | Split::MSetNx => {
            if args.len().is_multiple_of(2) {
                let arity = CmdError::WrongArity(spec.name.to_string());
                write_cmd_error(env.core, out, &arity);
                return;
            }
            let groups = group_by_shard(env, &args, (1..args.len()).step_by(2));
            if split == Split::MSetNx {
                let checks = groups
                    .iter()
                    .map(|(s, idxs)| {
                        (
                            *s,
                            ShardOp::CountExisting {
                                keys: idxs.iter().map(|&i| key(i)).collect(),
                            },
                        )
                    })
                    .collect();
                let existing: i64 = run_ops(env, db, checks).await.iter().map(int_of).sum();
                if existing > 0 {
                    reply.int(0);
                    return;
                }
            }
            let ops = groups
                .iter()
                .map(|(s, idxs)| {
                    (
                        *s,
                        ShardOp::MSet {
                            pairs: idxs.iter().map(|&i| (key(i), key(i + 1))).collect(),
                        },
                    )
                })
                .collect();
            run_ops(env, db, ops).await;
            if split == Split::MSetNx {
                reply.int(1);
            } else {
                reply.ok();
            }
        }
        Split::Rename { nx } => {
            let (src_shard, dst_shard) = {
                let shard = env.core.shard.borrow();
                (
                    shard.slots.shard_of(args.get(1)),
                    shard.slots.shard_of(args.get(2)),
                )
            };
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
                match crate::cmd::generic::parse_copy_args(&args, db, env.core.info.databases) {
                    Ok(o) => o,
                    Err(e) => {
                        write_error(env.core, out, e.to_string().as_bytes());
                        return;
                    }
                };
            let (dst_db, replace) = (opts.dst_db, opts.replace);
            let (src_shard, dst_shard) = {
                let shard = env.core.shard.borrow();
                (
                    shard.slots.shard_of(args.get(1)),
                    shard.slots.shard_of(args.get(2)),
                )
            };
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
