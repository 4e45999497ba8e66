//! CONFIG across cores. Every core keeps its own copy of the live settings
//! (`CoreInfo::settings`), so the parts of CONFIG that change state reach
//! every core through the mesh instead of a shared, locked structure:
//!
//! - `CONFIG SET`: checked once here against this core's copy
//!   ([`config_cmd::plan_set`]), then the validated changes go to every core
//!   (this one included) as [`JobKind::ApplyConfig`]; OK is sent once all
//!   cores have applied them, so the next command on any core sees them;
//! - `CONFIG RESETSTAT`: [`JobKind::ResetStats`] on every core;
//! - everything else (GET, REWRITE, HELP, arity and unknown-subcommand
//!   errors) is connection-local and runs through the CONFIG handler.

use super::global::every_core;
use super::pipeline::{write_error, Env};
use crate::cmd::{config_cmd, eq_ic, ConnCtx};
use crate::protocol::ReplyWriter;
use crate::runtime::mesh::JobKind;

pub async fn run(env: &Env<'_>, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let resp3 = env.client.borrow().resp3;
    let sub = if args.len() >= 2 {
        args.get(1)
    } else {
        &[][..]
    };
    if eq_ic(sub, "set") && args.len() >= 4 {
        let planned = config_cmd::plan_set(&env.core.info().settings.borrow(), &args);
        match planned {
            Ok(changes) => {
                every_core(env, || JobKind::ApplyConfig(changes.clone())).await;
                let shown: Vec<String> =
                    changes.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                log::info!("CONFIG SET {}", shown.join(" "));
                ReplyWriter::new(out, resp3).ok();
            }
            Err(e) => write_error(env.core, out, e.to_string().as_bytes()),
        }
        return;
    }
    if eq_ic(sub, "resetstat") && args.len() == 2 {
        every_core(env, || JobKind::ResetStats).await;
        ReplyWriter::new(out, resp3).ok();
        return;
    }
    let core = env.core;
    let result = {
        let mut client = env.client.borrow_mut();
        let mut shard = core.shard().borrow_mut();
        let mut ctx = ConnCtx {
            client: &mut client,
            core: core.info(),
            shard: &mut shard,
            txkeys: core.txkeys(),
            now_ms: env.now_ms,
            reply: ReplyWriter::new(out, resp3),
        };
        config_cmd::config(&mut ctx, &args)
    };
    if let Err(e) = result {
        write_error(core, out, e.to_string().as_bytes());
    }
}
