//! A script's `redis.call` on a key of another shard, for a script that
//! runs with every shard locked (route/script.rs): the command travels to
//! its shard as one job, runs there inside the script's transaction, and
//! its reply comes back through a slot the script's core waits on.
//!
//! The script's core waits without yielding (the script is one atomic
//! step, as in Redis): it spins on the slot. Nothing can deadlock: every
//! shard is locked for this script, so no other script waits on this core,
//! and the peer's executor keeps running its tasks while its own commands
//! wait for the locks.

use super::ExecCtx;
use crate::cmd::error::CmdError;
use crate::cmd::table;
use crate::protocol::args::OwnedArgs;
use crate::protocol::ReplyWriter;
use crate::shard::Shard;
use std::sync::{Arc, OnceLock};

/// One command of a script, sent to the shard of its keys.
#[derive(Debug)]
pub struct RemoteCall {
    pub txid: u64,
    pub db: usize,
    pub now_ms: u64,
    pub args: OwnedArgs,
    pub resp3: bool,
    /// Where the reply goes (set once, read by the script's core).
    pub reply: Arc<OnceLock<Vec<u8>>>,
}

/// Runs `call` on `shard` (the shard of its keys), as part of its
/// transaction: journaled as the command, inside the transaction's part.
pub fn execute(shard: &mut Shard, call: &RemoteCall) {
    let args = call.args.args();
    let mut out = Vec::new();
    match table::lookup(args.get(0)).map(|s| s.exec) {
        Some(table::Exec::Shard(handler) | table::Exec::MultiKey(handler, _)) => {
            if let Some(spec) = table::lookup(args.get(0)).filter(|s| s.is_write()) {
                for k in spec.key_indexes(&args) {
                    shard.snapshot_make_writable(call.db, args.get(k));
                }
            }
            shard.begin_tx_part(call.txid);
            shard.begin_command(call.now_ms);
            let mut ctx = ExecCtx {
                shard,
                db: call.db,
                now_ms: call.now_ms,
                reply: ReplyWriter::new(&mut out, call.resp3),
            };
            if let Err(e) = handler(&mut ctx, &args) {
                ctx.reply.error(&e.to_string());
            }
            shard.settle(call.db, &args);
            shard.end_tx_part();
        }
        _ => ReplyWriter::new(&mut out, call.resp3).error(&CmdError::Internal.to_string()),
    }
    let _ = call.reply.set(out);
}

/// Waits for `reply` without yielding; see the module comment.
pub fn wait(reply: &OnceLock<Vec<u8>>) -> Vec<u8> {
    let mut spins = 0u32;
    loop {
        if let Some(r) = reply.get() {
            return r.clone();
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}
