//! Keyspace-wide and server-wide commands: fan out to every shard (or core),
//! merge, reply. SCAN's cursor encodes the shard in its top bits.

use super::multikey::{run_op, run_ops};
use super::pipeline::{write_cmd_error, write_error, Env};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::table::Global;
use crate::cmd::CmdError;
use crate::cmd::{eq_ic, generic};
use crate::protocol::ReplyWriter;
use crate::runtime::mesh::{CoreCounters, JobKind, JobOutput};
use crate::runtime::shutdown::request_process_shutdown;

/// Bits of a SCAN cursor below the shard number.
const SCAN_SHARD_SHIFT: u32 = 54;

/// Runs `op` (built per shard) on every shard; results indexed by shard.
pub(super) async fn fan_out(env: &Env<'_>, db: usize, make: impl Fn() -> ShardOp) -> Vec<OpResult> {
    let ops = (0..env.core.cores).map(|s| (s, make())).collect();
    run_ops(env, db, ops).await
}

/// Runs a write `op` on every shard as one transaction (every shard locked
/// whole), so no observer and no replay sees it done on some shards only.
/// Inside EXEC the transaction's own locks already cover it.
async fn on_every_shard_atomically(env: &Env<'_>, db: usize, make: impl Fn() -> ShardOp) {
    if env.txid.is_some() {
        fan_out(env, db, make).await;
        return;
    }
    let all = crate::route::txn::all_shards(env.core);
    let tx = crate::route::txn::Tx::begin(env.core, all, true).await;
    let inner = env.in_tx(tx.txid, None);
    fan_out(&inner, db, make).await;
    tx.commit(env.core).await;
}

/// Runs a core-level job on every core.
pub async fn every_core(env: &Env<'_>, kind: impl Fn() -> JobKind) -> Vec<JobOutput> {
    let core = env.core;
    let futures: Vec<_> = (0..core.cores)
        .map(|c| {
            if c == core.id {
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
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    match g {
        Global::DbSize => {
            let total: i64 = fan_out(env, db, || ShardOp::DbSize)
                .await
                .iter()
                .map(|r| if let OpResult::Int(n) = r { *n } else { 0 })
                .sum();
            ReplyWriter::new(out, resp3).int(total);
        }
        Global::Keys => {
            let pattern = env.batch.arg_bytes(args.spans()[1]);
            let results = fan_out(env, db, || ShardOp::Keys {
                pattern: pattern.clone(),
            })
            .await;
            let keys: Vec<Vec<u8>> = results
                .into_iter()
                .flat_map(|r| {
                    if let OpResult::Keys(k) = r {
                        k
                    } else {
                        Vec::new()
                    }
                })
                .collect();
            let mut reply = ReplyWriter::new(out, resp3);
            reply.array(keys.len());
            for k in &keys {
                reply.bulk(k);
            }
        }
        Global::Scan => {
            let parsed = match generic::parse_scan_args(&args) {
                Ok(p) => p,
                Err(e) => {
                    write_error(env.core, out, e.to_string().as_bytes());
                    return;
                }
            };
            let mut shard = (parsed.cursor >> SCAN_SHARD_SHIFT) as usize;
            let mut local = parsed.cursor & ((1u64 << SCAN_SHARD_SHIFT) - 1);
            let mut keys = Vec::new();
            let mut next_cursor = 0u64;
            let pattern = parsed
                .pattern
                .as_ref()
                .map(|p| bytes::Bytes::copy_from_slice(p));
            let type_name = parsed
                .type_name
                .as_ref()
                .map(|t| bytes::Bytes::copy_from_slice(t));
            while shard < env.core.cores {
                let op = ShardOp::Scan {
                    cursor: local,
                    count: parsed.count.saturating_sub(keys.len()).max(1),
                    pattern: pattern.clone(),
                    type_name: type_name.clone(),
                };
                let OpResult::Scan { next, keys: found } = run_op(env, shard, db, op).await else {
                    break;
                };
                keys.extend(found);
                if next != 0 {
                    next_cursor = ((shard as u64) << SCAN_SHARD_SHIFT) | next;
                    break;
                }
                shard += 1;
                local = 0;
                if keys.len() >= parsed.count && shard < env.core.cores {
                    next_cursor = (shard as u64) << SCAN_SHARD_SHIFT;
                    break;
                }
            }
            let mut reply = ReplyWriter::new(out, resp3);
            reply.array(2);
            reply.bulk(next_cursor.to_string().as_bytes());
            reply.array(keys.len());
            for k in &keys {
                reply.bulk(k);
            }
        }
        Global::RandomKey => {
            let sizes: Vec<i64> = fan_out(env, db, || ShardOp::DbSize)
                .await
                .iter()
                .map(|r| if let OpResult::Int(n) = r { *n } else { 0 })
                .collect();
            let total: i64 = sizes.iter().sum();
            let mut found = None;
            if total > 0 {
                use rand::Rng;
                let mut pick = rand::thread_rng().gen_range(0..total);
                let mut first = 0;
                for (s, n) in sizes.iter().enumerate() {
                    if pick < *n {
                        first = s;
                        break;
                    }
                    pick -= n;
                }
                let mut order = vec![first];
                order.extend((0..sizes.len()).filter(|&s| sizes[s] > 0 && s != first));
                for s in order {
                    if let OpResult::Key(Some(k)) = run_op(env, s, db, ShardOp::RandomKey).await {
                        found = Some(k);
                        break;
                    }
                }
            }
            let mut reply = ReplyWriter::new(out, resp3);
            match found {
                Some(k) => reply.bulk(&k),
                None => reply.null(),
            }
        }
        Global::FlushDb | Global::FlushAll => {
            if args.len() > 2
                || (args.len() == 2 && !eq_ic(args.get(1), "sync") && !eq_ic(args.get(1), "async"))
            {
                write_cmd_error(env.core, out, &CmdError::Syntax);
                return;
            }
            if g == Global::FlushAll {
                on_every_shard_atomically(env, 0, || ShardOp::FlushAll).await;
            } else {
                on_every_shard_atomically(env, db, || ShardOp::FlushDb).await;
            }
            ReplyWriter::new(out, resp3).ok();
        }
        Global::SwapDb => {
            let parse = |i: usize| crate::cmd::arg_i64(args.get(i));
            let (a, b) = match (parse(1), parse(2)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(_), _) => {
                    write_cmd_error(env.core, out, &CmdError::InvalidFirstDb);
                    return;
                }
                (_, Err(_)) => {
                    write_cmd_error(env.core, out, &CmdError::InvalidSecondDb);
                    return;
                }
            };
            let dbs = env.core.info.databases as i64;
            if a < 0 || a >= dbs || b < 0 || b >= dbs {
                write_cmd_error(env.core, out, &CmdError::DbOutOfRange);
                return;
            }
            on_every_shard_atomically(env, a as usize, || ShardOp::SwapDb { other: b as usize })
                .await;
            ReplyWriter::new(out, resp3).ok();
        }
        Global::Info => {
            let facts = gather_info(env).await;
            let text = crate::cmd::info::render_info(&args, &facts, &env.core.info);
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
                &env.core.info,
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
            let core = env.core;
            let mut c = env.client.borrow_mut();
            let mut shard = core.shard.borrow_mut();
            let mut ctx = crate::cmd::ConnCtx {
                client: &mut c,
                core: &core.info,
                shard: &mut shard,
                txkeys: &core.txkeys,
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

/// Sums every core's counters and every shard's keyspace figures.
async fn gather_info(env: &Env<'_>) -> crate::cmd::server::InfoFacts {
    let mut facts = crate::cmd::server::InfoFacts {
        keyspace: vec![(0, 0); env.core.info.databases],
        ..Default::default()
    };
    for o in every_core(env, || JobKind::Counters).await {
        if let JobOutput::Counters(c) = o {
            let CoreCounters {
                connected_clients,
                total_connections_received,
                rejected_connections,
                total_commands_processed,
                total_error_replies,
                net_input_bytes,
                net_output_bytes,
            } = c;
            facts.connected_clients += connected_clients;
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
