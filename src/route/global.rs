//! Keyspace-wide and server-wide commands. A keyspace-wide command declares
//! its fan-out in its spec (cmd/fanout.rs) and runs through
//! [`run_fan_out`], the same for every such command; the server-wide ones
//! (INFO, STATUS, CLIENT LIST, SHUTDOWN, and the router's own CONFIG,
//! persistence, observability and transaction commands) are `Global`s.

use super::coordinator::{LockPlan, Tx};
use super::multikey::{run_op, run_ops};
use super::pipeline::{write_cmd_error, write_error, Env};
use crate::cmd::eq_ic;
use crate::cmd::fanout::{Fan, FanEnv, FanOut, FanPlan, SCAN_SHARD_SHIFT};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::table::Global;
use crate::cmd::CmdError;
use crate::protocol::ReplyWriter;
use crate::runtime::mesh::{CoreCounters, JobKind, JobOutput};
use crate::runtime::shutdown::request_process_shutdown;
use bytes::Bytes;

/// Runs `op` (built per shard) on every shard; results indexed by shard.
pub(super) async fn fan_out(env: &Env<'_>, db: usize, make: impl Fn() -> ShardOp) -> Vec<OpResult> {
    let ops = (0..env.core.cores()).map(|s| (s, make())).collect();
    run_ops(env, db, ops).await
}

/// Runs a keyspace-wide command as its spec declares it (cmd/fanout.rs):
/// `plan` first (its error is the reply), then `part` on the shards the
/// [`Fan`] names, then `merge`. An [`Fan::EveryAtomic`] write runs as one
/// transaction with every shard locked whole (inside EXEC, the
/// transaction's own locks already cover it), so no observer and no replay
/// sees it done on some shards only.
pub async fn run_fan_out(env: &Env<'_>, f: &'static FanOut, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    let fan_env = FanEnv {
        db,
        databases: env.core.info().databases,
        shards: env.core.cores(),
    };
    let plan = match (f.plan)(&args, &fan_env) {
        Ok(p) => p,
        Err(e) => {
            write_cmd_error(env.core, out, &e);
            return;
        }
    };
    let words: Vec<Bytes> = args
        .spans()
        .iter()
        .map(|&s| env.batch.arg_bytes(s))
        .collect();
    let op = |cursor, count| ShardOp::Fan {
        f: f.part,
        args: words.clone(),
        cursor,
        count,
    };
    let results = match f.fan {
        Fan::Every => fan_out(env, plan.db, || op(0, 0)).await,
        Fan::EveryAtomic if env.txid.is_some() => fan_out(env, plan.db, || op(0, 0)).await,
        Fan::EveryAtomic => {
            let tx = Tx::begin(env.core, LockPlan::every_shard(env.core.cores())).await;
            let inner = env.in_tx(tx.txid(), None);
            let results = fan_out(&inner, plan.db, || op(0, 0)).await;
            tx.commit().await;
            results
        }
        Fan::Walk => vec![walk(env, plan, &op).await],
        Fan::Server => {
            let shard = if plan.server_write { 0 } else { env.core.id() };
            vec![run_op(env, shard, plan.db, op(0, 0)).await]
        }
    };
    if let Some(e) = results.iter().find_map(|r| match r {
        OpResult::Err(e) => Some(e.clone()),
        _ => None,
    }) {
        write_cmd_error(env.core, out, &e);
        return;
    }
    (f.merge)(results, &mut ReplyWriter::new(out, resp3));
}

/// A [`Fan::Walk`]: shard by shard from the cursor's shard, until a shard
/// stops inside its keys or `plan.count` keys are in; one `OpResult::Scan`
/// with the next global cursor (0: done) and every key found.
async fn walk(env: &Env<'_>, plan: FanPlan, op: &impl Fn(u64, usize) -> ShardOp) -> OpResult {
    let mut shard = usize::try_from(plan.cursor >> SCAN_SHARD_SHIFT).unwrap_or(usize::MAX);
    let mut local = plan.cursor & ((1u64 << SCAN_SHARD_SHIFT) - 1);
    let mut keys = Vec::new();
    let mut next_cursor = 0u64;
    while shard < env.core.cores() {
        let want = plan.count.saturating_sub(keys.len()).max(1);
        let OpResult::Scan { next, keys: found } =
            run_op(env, shard, plan.db, op(local, want)).await
        else {
            break;
        };
        keys.extend(found);
        if next != 0 {
            next_cursor = ((shard as u64) << SCAN_SHARD_SHIFT) | next;
            break;
        }
        shard += 1;
        local = 0;
        if keys.len() >= plan.count && shard < env.core.cores() {
            next_cursor = (shard as u64) << SCAN_SHARD_SHIFT;
            break;
        }
    }
    OpResult::Scan {
        next: next_cursor,
        keys,
    }
}

/// Runs a core-level job on every core.
pub async fn every_core(env: &Env<'_>, kind: impl Fn() -> JobKind) -> Vec<JobOutput> {
    let core = env.core;
    let futures: Vec<_> = (0..core.cores())
        .map(|c| {
            if c == core.id() {
                None
            } else {
                Some(core.call(c, 0, kind()))
            }
        })
        .collect();
    let mut outputs = vec![core.run_local(0, kind())];
    for f in futures.into_iter().flatten() {
        outputs.push(f.await);
    }
    outputs
}

pub async fn run(env: &Env<'_>, g: Global, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let resp3 = env.client.borrow().resp3;
    match g {
        Global::Info => {
            let facts = gather_info(env).await;
            let text = crate::cmd::info::render_info(&args, &facts, env.core.info());
            ReplyWriter::new(out, resp3).verbatim(text.as_bytes());
        }
        Global::Multi | Global::Exec | Global::Discard | Global::Watch | Global::Unwatch => {
            crate::route::txn::run(env, g, cmd_idx, out).await
        }
        Global::Config => super::config::run(env, cmd_idx, out).await,
        Global::Memory => super::memory::run(env, cmd_idx, out).await,
        Global::Save | Global::BgSave | Global::LastSave | Global::BgRewriteAof => {
            super::persist::run(env, g, cmd_idx, out).await
        }
        Global::Slowlog | Global::Latency | Global::Monitor => {
            if let Err(e) = super::observe::run(env.core, env.client, g, &args, out).await {
                write_error(env.core, out, e.to_string().as_bytes());
            }
        }
        Global::Status => {
            let facts = gather_info(env).await;
            crate::cmd::server::write_status(
                &mut ReplyWriter::new(out, resp3),
                env.core.info(),
                facts.connected_clients,
            );
        }
        Global::Client => {
            if args.len() >= 2 && eq_ic(args.get(1), "list") {
                let mut clients = Vec::new();
                for o in every_core(env, || JobKind::Clients).await {
                    if let JobOutput::Clients(c) = o {
                        clients.extend(c);
                    }
                }
                clients.sort_by_key(|c| c.id);
                match crate::cmd::connection::client_list(&clients, &args) {
                    Ok(text) => ReplyWriter::new(out, resp3).verbatim(text.as_bytes()),
                    Err(e) => write_error(env.core, out, e.to_string().as_bytes()),
                }
                return;
            }
            if (3..=4).contains(&args.len()) && eq_ic(args.get(1), "unblock") {
                match crate::cmd::connection::parse_unblock(&args) {
                    Ok((id, error)) => {
                        let n = unblock(env.core, id, error).await;
                        ReplyWriter::new(out, resp3).int(n);
                    }
                    Err(e) => write_error(env.core, out, e.to_string().as_bytes()),
                }
                return;
            }
            let core = env.core;
            let mut c = env.client.borrow_mut();
            let mut shard = core.shard().borrow_mut();
            let mut ctx = crate::cmd::ConnCtx {
                client: &mut c,
                core: core.info(),
                shard: &mut shard,
                txkeys: core.txkeys(),
                now_ms: env.now_ms,
                reply: ReplyWriter::new(out, resp3),
            };
            if let Err(e) = crate::cmd::connection::client(&mut ctx, &args) {
                ctx.reply.error(&e.to_string());
            }
        }
        Global::Shutdown => {
            for i in 1..args.len() {
                let a = args.get(i);
                if !(eq_ic(a, "nosave")
                    || eq_ic(a, "save")
                    || eq_ic(a, "now")
                    || eq_ic(a, "force")
                    || eq_ic(a, "abort"))
                {
                    write_cmd_error(env.core, out, &CmdError::Syntax);
                    return;
                }
                if eq_ic(a, "abort") {
                    write_cmd_error(env.core, out, &CmdError::NoShutdownInProgress);
                    return;
                }
            }
            use super::persist::{set_shutdown_save, ShutdownSave};
            let has = |w: &str| (1..args.len()).any(|i| eq_ic(args.get(i), w));
            if let Some(busy) = crate::cmd::script::busy::busy_reply() {
                // A timed-out script holds its core: only NOSAVE ends the
                // process, at once, as Redis does without waiting for it.
                if !has("nosave") {
                    write_error(env.core, out, busy.as_bytes());
                    return;
                }
                let unixsocket = env.core.info().settings.borrow().unixsocket.clone();
                crate::runtime::shutdown::exit_now(&unixsocket);
            }
            set_shutdown_save(if has("nosave") {
                ShutdownSave::NoSave
            } else if has("save") {
                ShutdownSave::Save
            } else {
                ShutdownSave::Default
            });
            log::warn!("User requested shutdown...");
            request_process_shutdown();
            env.client.borrow_mut().close_after_reply = true;
        }
    }
}

/// CLIENT UNBLOCK on the core of client `id` (ids encode their core,
/// net/connection.rs): 1 if it was blocked.
async fn unblock(core: &std::rc::Rc<crate::runtime::core::Core>, id: u64, error: bool) -> i64 {
    let Some(home) = id
        .checked_sub(1)
        .map(|n| (n % core.cores() as u64) as usize)
    else {
        return 0;
    };
    if home == core.id() {
        return core.blocked().unblock(id, error) as i64;
    }
    match core
        .call(home, 0, JobKind::Unblock { client: id, error })
        .await
    {
        JobOutput::Op(OpResult::Int(n)) => n,
        _ => 0,
    }
}

/// Sums every core's counters and every shard's keyspace figures.
async fn gather_info(env: &Env<'_>) -> crate::cmd::server::InfoFacts {
    let mut facts = crate::cmd::server::InfoFacts {
        keyspace: vec![(0, 0); env.core.info().databases],
        ..Default::default()
    };
    for o in every_core(env, || JobKind::Counters).await {
        if let JobOutput::Counters(c) = o {
            let CoreCounters {
                connected_clients,
                blocked_clients,
                total_connections_received,
                rejected_connections,
                total_commands_processed,
                total_error_replies,
                net_input_bytes,
                net_output_bytes,
            } = c;
            facts.connected_clients += connected_clients;
            facts.blocked_clients += blocked_clients;
            facts.total_connections_received += total_connections_received;
            facts.rejected_connections += rejected_connections;
            facts.total_commands_processed += total_commands_processed;
            facts.total_error_replies += total_error_replies;
            facts.net_input_bytes += net_input_bytes;
            facts.net_output_bytes += net_output_bytes;
        }
    }
    for r in fan_out(env, 0, || ShardOp::Keyspace).await {
        if let OpResult::Keyspace {
            dbs,
            expired,
            hits,
            misses,
        } = r
        {
            for (i, (k, e)) in dbs.into_iter().enumerate() {
                if let Some(slot) = facts.keyspace.get_mut(i) {
                    slot.0 += k;
                    slot.1 += e;
                }
            }
            facts.expired_keys += expired;
            facts.keyspace_hits += hits;
            facts.keyspace_misses += misses;
        }
    }
    facts.rdb_changes_since_last_save = super::persist::changes_since_save(env.core).await;
    facts.memory = super::memory::report(env).await;
    crate::cmd::info::add_command_stats(
        &mut facts,
        crate::runtime::gather::command_stats(env.core).await,
    );
    facts
}
