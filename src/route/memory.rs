//! `MEMORY` routed: USAGE runs on the key's shard, STATS and DOCTOR sum every
//! shard's figures, PURGE reaches every executor's heap, MALLOC-STATS and
//! HELP answer here. The figures and replies are `cmd::memory`'s.

use super::global::fan_out;
use super::multikey::run_op;
use super::pipeline::{write_cmd_error, Env};
use crate::cmd::memory::{self, allocator, Memory, MemoryReport};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::cmd::CmdError;
use crate::protocol::ReplyWriter;

pub async fn run(env: &Env<'_>, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    let parsed = match memory::parse(&args) {
        Ok(p) => p,
        Err(e) => return write_cmd_error(env.core, out, &e),
    };
    match parsed {
        Memory::Help => memory::help(&mut ReplyWriter::new(out, resp3), &args),
        Memory::Usage(key) => {
            let owner = env.core.shard().borrow().slots().shard_of(key);
            let key = bytes::Bytes::copy_from_slice(key);
            match run_op(env, owner, db, ShardOp::MemoryUsage { key }).await {
                OpResult::Usage(Some(n)) => ReplyWriter::new(out, resp3).int(n as i64),
                OpResult::Usage(None) => ReplyWriter::new(out, resp3).null(),
                OpResult::Err(e) => write_cmd_error(env.core, out, &e),
                _ => write_cmd_error(env.core, out, &CmdError::Internal),
            }
        }
        Memory::Stats => {
            let r = report(env).await;
            memory::write_stats(&mut ReplyWriter::new(out, resp3), &r);
        }
        Memory::Doctor => {
            let r = report(env).await;
            let text = memory::doctor(&r, memory::observe_rss_excess(&r));
            ReplyWriter::new(out, resp3).verbatim(text.as_bytes());
        }
        Memory::MallocStats => {
            ReplyWriter::new(out, resp3).verbatim(allocator::stats_text().as_bytes())
        }
        Memory::Purge => {
            fan_out(env, db, || ShardOp::Purge).await;
            ReplyWriter::new(out, resp3).ok();
        }
    }
}

/// Every shard's memory figures, summed, with the process's RSS and peak.
pub async fn report(env: &Env<'_>) -> MemoryReport {
    let shards: Vec<_> = fan_out(env, 0, || ShardOp::Memory)
        .await
        .into_iter()
        .filter_map(|r| match r {
            OpResult::Memory(m) => Some(m),
            _ => None,
        })
        .collect();
    let rss = crate::cmd::info::resident_memory() as usize;
    let mut r = MemoryReport::from_shards(&shards, rss, allocator::AllocatorStats::read());
    r.peak = memory::observe_peak(r.total);
    memory::observe_rss_excess(&r);
    r
}
