//! SORT and SORT_RO across shards: the steps of cmd/sort/engine.rs, each
//! run on the shard it needs, inside one transaction. When the patterns
//! name keys (they may be anywhere) every shard is locked whole; otherwise
//! only the source and the STORE key are. Inside EXEC the transaction's own
//! locks cover it (route/txn.rs locks every shard for such a SORT).

use super::coordinator::{LockPlan, Tx};
use super::multikey::{run_op, run_ops};
use super::pipeline::{write_cmd_error, Env};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::sort::engine::{self, Loaded};
use crate::cmd::sort::plan::{Lookup, SortPlan};
use crate::cmd::table::CommandSpec;
use crate::cmd::CmdError;
use crate::protocol::ReplyWriter;
use crate::runtime::locks::lock_id;

/// Runs SORT (or SORT_RO) `cmd_idx` of the batch as one transaction.
pub async fn run(env: &Env<'_>, spec: &'static CommandSpec, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    let plan = match crate::cmd::sort::parse(&args, !spec.is_write()) {
        Ok(p) => p,
        Err(e) => return write_cmd_error(env.core, out, &e),
    };
    if env.txid.is_some() {
        sort(env, &plan, &args, db, resp3, out).await;
        return;
    }
    let locks = if plan.reaches_keys() {
        LockPlan::every_shard(env.core.cores())
    } else {
        let slots = env.core.slots();
        let keys = std::iter::once(args.get(1)).chain(plan.store.as_deref());
        LockPlan::keys(
            keys.map(|k| (slots.shard_of(k), lock_id(db, k)))
                .collect::<Vec<_>>(),
        )
    };
    let tx = Tx::begin(env.core, locks).await;
    let inner = env.in_tx(tx.txid(), None);
    let stored = sort(&inner, &plan, &args, db, resp3, out).await;
    tx.finish(stored).await;
}

/// The steps; true when something was stored.
async fn sort(
    env: &Env<'_>,
    plan: &SortPlan,
    args: &crate::protocol::Args<'_>,
    db: usize,
    resp3: bool,
    out: &mut Vec<u8>,
) -> bool {
    let slots = env.core.slots();
    let read = ShardOp::Part {
        f: engine::read_source,
        args: crate::cmd::sort::source_words(args),
    };
    let loaded: Loaded =
        match crate::cmd::sort::loaded_of(run_op(env, slots.shard_of(args.get(1)), db, read).await)
        {
            Ok(l) => l,
            Err(e) => {
                write_cmd_error(env.core, out, &e);
                return false;
            }
        };
    let weights = match lookup_all(env, db, plan.weight_lookups(&loaded)).await {
        Ok(w) => w,
        Err(e) => {
            write_cmd_error(env.core, out, &e);
            return false;
        }
    };
    let selected = match plan.order(loaded, weights) {
        Ok(s) => s,
        Err(e) => {
            write_cmd_error(env.core, out, &e);
            return false;
        }
    };
    let values = match lookup_all(env, db, plan.get_lookups(&selected)).await {
        Ok(v) => v,
        Err(e) => {
            write_cmd_error(env.core, out, &e);
            return false;
        }
    };
    let output = plan.output(selected, values);
    let mut reply = ReplyWriter::new(out, resp3);
    match &plan.store {
        None => {
            SortPlan::reply(&output, &mut reply);
            false
        }
        Some(dest) => {
            let store = ShardOp::Part {
                f: engine::store_part,
                args: engine::store_words(dest, output),
            };
            match run_op(env, slots.shard_of(dest), db, store).await {
                OpResult::Int(n) => reply.int(n),
                _ => write_cmd_error(env.core, out, &CmdError::Internal),
            }
            true
        }
    }
}

/// Looks every lookup up on its key's shard (one part per shard, run
/// concurrently); the values in the order of `lookups`.
async fn lookup_all(
    env: &Env<'_>,
    db: usize,
    lookups: Vec<Lookup>,
) -> Result<Vec<Option<Vec<u8>>>, CmdError> {
    if lookups.is_empty() {
        return Ok(Vec::new());
    }
    let slots = env.core.slots();
    // Each lookup's place: (its shard's part, its position there).
    let mut parts: Vec<(usize, Vec<Lookup>)> = Vec::new();
    let mut at = Vec::with_capacity(lookups.len());
    for l in lookups {
        let shard = slots.shard_of(&l.0);
        let p = match parts.iter().position(|(s, _)| *s == shard) {
            Some(p) => p,
            None => {
                parts.push((shard, Vec::new()));
                parts.len() - 1
            }
        };
        at.push((p, parts[p].1.len()));
        parts[p].1.push(l);
    }
    let ops = parts
        .iter()
        .map(|(s, ls)| {
            let op = ShardOp::Part {
                f: engine::lookup_part,
                args: engine::lookup_words(ls),
            };
            (*s, op)
        })
        .collect();
    let mut found = Vec::with_capacity(parts.len());
    for r in run_ops(env, db, ops).await {
        match r {
            OpResult::Lists(l) => found.push(l),
            OpResult::Err(e) => return Err(e),
            _ => return Err(CmdError::Internal),
        }
    }
    at.into_iter()
        .map(|(p, j)| {
            let v = found
                .get_mut(p)
                .and_then(|l| l.get_mut(j))
                .ok_or(CmdError::Internal)?;
            Ok(v.take().and_then(|mut v| v.pop()))
        })
        .collect()
}
