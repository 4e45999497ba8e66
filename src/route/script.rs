//! A script that may touch keys of any shard (declared keys on several
//! shards, no declared keys, or seen reaching beyond its declared ones):
//! it runs on this core with every shard locked whole, as one transaction,
//! and each `redis.call` on a key of another shard goes to that shard at
//! once (cmd/script/remote.rs) while this core waits without yielding. So
//! the script is atomic and isolated, as in Redis, at the price of pausing
//! every shard's writes and reads for its duration. Inside EXEC the
//! transaction already holds every shard (route/txn.rs).

use super::coordinator::{LockPlan, Tx};
use super::pipeline::{write_cmd_error, Env};
use crate::cmd::script::remote::{self, RemoteCall};
use crate::cmd::ExecCtx;
use crate::protocol::args::OwnedArgs;
use crate::protocol::ReplyWriter;
use crate::runtime::mesh::{Job, JobKind, NO_TOKEN};
use std::sync::{Arc, OnceLock};

/// Runs EVAL-like command `cmd_idx` of the batch with every shard locked.
pub async fn run(env: &Env<'_>, cmd_idx: usize, out: &mut Vec<u8>) {
    let tx = match env.txid {
        Some(_) => None,
        None => Some(Tx::begin(env.core, LockPlan::every_shard(env.core.cores())).await),
    };
    let txid = match (&tx, env.txid) {
        (Some(tx), _) => tx.txid(),
        (None, Some(t)) => t,
        (None, None) => return,
    };
    let args = env.batch.args(cmd_idx);
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    let (core, now_ms) = (env.core, env.now_ms);
    let call_remote = |dest: usize, call_args: OwnedArgs, call_resp3: bool| -> Vec<u8> {
        let reply = Arc::new(OnceLock::new());
        let call = RemoteCall {
            txid,
            db,
            now_ms,
            args: call_args,
            resp3: call_resp3,
            reply: reply.clone(),
        };
        let job = Job {
            token: NO_TOKEN,
            db,
            kind: JobKind::ScriptCall(Box::new(call)),
        };
        if !core.send_now(dest, job) {
            return b"-ERR the shard of this key cannot be reached now\r\n".to_vec();
        }
        remote::wait(&reply)
    };
    let mut reply = Vec::new();
    let result = {
        let mut shard = core.shard().borrow_mut();
        shard.begin_tx_part(txid);
        shard.begin_command(now_ms);
        let mut ctx = ExecCtx {
            shard: &mut shard,
            db,
            now_ms,
            reply: ReplyWriter::new(&mut reply, resp3),
        };
        let result = crate::cmd::script::eval_in(&mut ctx, &args, Some(&call_remote));
        shard.settle(db, &args);
        shard.end_tx_part();
        result
    };
    match result {
        Ok(()) => out.extend_from_slice(&reply),
        Err(e) => write_cmd_error(core, out, &e),
    }
    if let Some(tx) = tx {
        tx.commit().await;
    }
}
