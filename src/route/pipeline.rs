//! Executing a pipeline in Redis's order.
//!
//! Commands are cut into *segments*, executed one after another:
//! - a run of commands for one shard (reads and writes mixed) is one segment,
//!   sent as one message (or run inline when the shard is this core's);
//! - a run of read-only commands over several shards is one segment whose
//!   per-shard parts run in parallel (reads may be reordered among themselves);
//! - anything else (a write after commands on another shard, a connection or
//!   global command, a multi-key command spanning shards) closes the segment.
//!
//! A segment is finished before the next starts, so a later write can never
//! overtake an earlier one on another shard. Replies are stitched back into
//! request order and appended to the connection's output buffer. This module
//! cuts the segments; [`super::segment`] runs them. How a command runs is
//! read from its spec only: its keys, its split (cmd/split.rs), its fan-out
//! (cmd/fanout.rs).

use super::segment::{flush, Segment};
use super::{global, multikey};
use crate::cmd::client::ClientState;
use crate::cmd::client::ClientWho;
use crate::cmd::table::{self, CommandSpec, Exec, Global};
use crate::cmd::{unix_ms, CmdError, ConnCtx};
use crate::protocol::{Args, ReplyWriter, Span};
use crate::runtime::core::{Core, Counters};
use crate::runtime::locks::{LockId, TxId};
use bytes::Bytes;
use std::cell::RefCell;
use std::rc::Rc;

/// The commands parsed from one read.
pub struct Batch<'a> {
    pub data: &'a Bytes,
    pub inline: &'a Bytes,
    /// Big arguments read into their own buffers (spans with `BIG_BIT`).
    pub big: &'a [Bytes],
    pub spans: &'a [Span],
    /// (first span, argc) per command.
    pub cmds: &'a [(u32, u32)],
}

impl<'a> Batch<'a> {
    pub fn args(&self, i: usize) -> Args<'a> {
        let (first, argc) = self.cmds[i];
        Args::with_big(
            self.data,
            self.inline,
            self.big,
            &self.spans[first as usize..(first + argc) as usize],
        )
    }

    /// Argument bytes as a zero-copy `Bytes` slice of the read buffer.
    pub fn arg_bytes(&self, span: Span) -> Bytes {
        use crate::protocol::args::{BIG_BIT, INLINE_BIT};
        if span.start & INLINE_BIT != 0 {
            let at = (span.start & !INLINE_BIT) as usize;
            self.inline.slice(at..at + span.len as usize)
        } else if span.start & BIG_BIT != 0 {
            self.big[(span.start & !BIG_BIT) as usize].clone()
        } else {
            self.data
                .slice(span.start as usize..(span.start + span.len) as usize)
        }
    }
}

/// Per-command execution environment shared by the router's parts.
pub struct Env<'a> {
    pub core: &'a Rc<Core>,
    pub client: &'a Rc<RefCell<ClientState>>,
    pub batch: &'a Batch<'a>,
    pub now_ms: u64,
    /// Set inside a coordinated transaction (EXEC, a multi-key command):
    /// its locks are held, so its parts pass them instead of waiting.
    pub txid: Option<TxId>,
    /// A shard of the transaction still to lock: the first op sent there
    /// carries the lock (one message fewer); see multikey.rs.
    pub lock_with_first_op: Option<&'a PendingLock>,
}

impl<'a> Env<'a> {
    /// The same request context, inside transaction `txid`, with an optional
    /// shard still to lock along with its first op.
    pub fn in_tx(&self, txid: TxId, lock_with_first_op: Option<&'a PendingLock>) -> Env<'a> {
        Env {
            txid: Some(txid),
            lock_with_first_op,
            ..*self
        }
    }
}

/// (shard, (db, key)s) to lock along with the first op sent to that shard.
pub type PendingLock = RefCell<Option<(usize, Vec<LockId>)>>;

/// Executes the commands of `batch` from `from` on, in order, appending
/// replies to `out`, up to a command that blocks: that command's index and
/// wait are returned (the connection parks it, route/blocking.rs, then
/// resumes after it).
pub async fn execute_batch(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    batch: &Batch<'_>,
    from: usize,
    out: &mut Vec<u8>,
) -> Option<(usize, super::blocking::Parked)> {
    execute_batch_in(core, client, batch, from, out, None).await
}

/// [`execute_batch`], inside transaction `txid` when given (EXEC's queue,
/// where nothing blocks).
pub async fn execute_batch_in(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    batch: &Batch<'_>,
    from: usize,
    out: &mut Vec<u8>,
    txid: Option<TxId>,
) -> Option<(usize, super::blocking::Parked)> {
    let env = Env {
        core,
        client,
        batch,
        now_ms: unix_ms(),
        txid,
        lock_with_first_op: None,
    };
    let mut seg = Segment::default();
    for i in from..batch.cmds.len() {
        let args = batch.args(i);
        let found = table::lookup(args.get(0));
        if txid.is_none() && super::txn::queue_if_multi(&env, found, i, out) {
            continue;
        }
        let Some(spec) = found else {
            flush(&env, &mut seg, out).await;
            write_error(core, out, &unknown_command_error(&args));
            continue;
        };
        if !spec.arity_ok(args.len()) {
            flush(&env, &mut seg, out).await;
            crate::cmd::stat_index::record_rejected(spec);
            let arity = CmdError::WrongArity(spec.name.to_string());
            if matches!(spec.exec, Exec::Global(Global::Exec)) {
                // As Redis: a rejected EXEC discards the transaction.
                // EXECABORT's reason is the error without its `ERR `.
                let text = arity.to_string();
                let why = text.strip_prefix("ERR ").unwrap_or(&text);
                super::txn::exec_abort(&env, why, out).await;
            } else {
                // A rejected command inside MULTI (here: DISCARD/MULTI/WATCH
                // with bad arity) makes EXEC abort, as in Redis.
                let mut c = client.borrow_mut();
                if c.tx.queued.is_some() {
                    c.tx.errored = true;
                }
                drop(c);
                write_cmd_error(core, out, &arity);
            }
            continue;
        }
        if let Some(refusal) = disk_error_refusal(core, client, spec) {
            flush(&env, &mut seg, out).await;
            crate::cmd::stat_index::record_rejected(spec);
            if matches!(spec.exec, Exec::Global(Global::Exec)) {
                super::txn::exec_abort(&env, &refusal, out).await;
            } else {
                write_error(core, out, refusal.as_bytes());
            }
            continue;
        }
        // While a script is timed out (cmd/script/busy.rs): one relaxed load.
        // Not inside EXEC: its queue runs whole.
        let busy = match txid {
            None => crate::cmd::script::busy::refusal(spec, &args),
            Some(_) => None,
        };
        if let Some(busy) = busy {
            flush(&env, &mut seg, out).await;
            crate::cmd::stat_index::record_rejected(spec);
            if matches!(spec.exec, Exec::Global(Global::Exec)) {
                super::txn::exec_abort(&env, busy, out).await;
            } else {
                write_error(core, out, busy.as_bytes());
            }
            continue;
        }
        Counters::add(&core.counters().total_commands_processed, 1);
        let stat_spec = crate::cmd::command_docs::resolve(spec, &args);
        client.borrow_mut().last_cmd = stat_spec.name;
        if crate::metrics::monitor::active() {
            let c = client.borrow();
            super::monitor::feed(core, stat_spec, c.db, &c.addr, &args);
        }
        // Shard commands are timed where they run (run_on_shard); the rest here.
        let mut started = None;
        if matches!(
            spec.exec,
            Exec::Conn(_) | Exec::Global(_) | Exec::FanOut(_) | Exec::Blocking(_)
        ) {
            flush(&env, &mut seg, out).await;
            started = Some(quanta::Instant::now());
        }
        let errors_before = core.counters().total_error_replies.get();
        match spec.exec {
            Exec::Shard(_) | Exec::MultiKey(..) => match owner_of_keys(core, spec, &args) {
                Some(shard) => seg.push(i, shard, spec),
                None => match spec.exec {
                    Exec::MultiKey(_, split) => match multikey::split_parts(core, split, &args) {
                        // The same command per shard: one coordinated step
                        // with its neighbours (statistics recorded on merge).
                        Some(Ok(parts)) => seg.push_parts(i, spec, parts),
                        Some(Err(e)) => {
                            flush(&env, &mut seg, out).await;
                            started = Some(quanta::Instant::now());
                            write_cmd_error(core, out, &e);
                        }
                        None => {
                            flush(&env, &mut seg, out).await;
                            started = Some(quanta::Instant::now());
                            multikey::run(&env, spec, split, i, out).await
                        }
                    },
                    _ => {
                        flush(&env, &mut seg, out).await;
                        crate::cmd::stat_index::record_rejected(spec);
                        write_cmd_error(core, out, &CmdError::CrossSlot)
                    }
                },
            },
            Exec::Conn(handler) => {
                flush(&env, &mut seg, out).await;
                let reset = {
                    let mut c = client.borrow_mut();
                    let resp3 = c.resp3;
                    let mut shard = core.shard().borrow_mut();
                    let mut ctx = ConnCtx {
                        client: &mut c,
                        core: core.info(),
                        shard: &mut shard,
                        txkeys: core.txkeys(),
                        now_ms: env.now_ms,
                        reply: ReplyWriter::new(out, resp3),
                    };
                    if let Err(e) = handler(&mut ctx, &args) {
                        let msg = e.to_string();
                        ctx.reply.error(&msg);
                        crate::metrics::record_error(msg.as_bytes());
                        Counters::add(&core.counters().total_error_replies, 1);
                    }
                    let reset = std::mem::take(&mut c.reset_requested);
                    if reset {
                        c.tx.queued = None;
                    }
                    reset
                };
                if reset {
                    // RESET also forgets every WATCHed key.
                    super::txn::unwatch_all(&env).await;
                }
            }
            Exec::Global(
                g @ (Global::Multi
                | Global::Exec
                | Global::Discard
                | Global::Watch
                | Global::Unwatch),
            ) => {
                flush(&env, &mut seg, out).await;
                super::txn::run(&env, g, i, out).await;
            }
            Exec::FanOut(f) => global::run_fan_out(&env, f, i, out).await,
            Exec::Blocking(b) => {
                if let Some(parked) = super::blocking::start(&env, spec, b, i, out).await {
                    // Recorded now, as Redis records a command that blocks.
                    if let Some(t) = started {
                        let _who = ClientWho::Local(client).scope();
                        crate::cmd::stat_index::record_command(stat_spec, &args, t, true);
                    }
                    return Some((i, parked));
                }
            }
            Exec::Global(g) => {
                flush(&env, &mut seg, out).await;
                global::run(&env, g, i, out).await;
            }
        }
        if let Some(t) = started {
            let ok = core.counters().total_error_replies.get() == errors_before;
            let _who = ClientWho::Local(client).scope();
            crate::cmd::stat_index::record_command(stat_spec, &args, t, ok);
            // QUIT (or SHUTDOWN) closes before the commands after it run, as
            // Redis stops reading its query buffer (the segment is empty:
            // connection and global commands flush it before running).
            if env.client.borrow().close_after_reply {
                break;
            }
        }
    }
    flush(&env, &mut seg, out).await;
    None
}

/// While the data cannot be persisted (persist/status.rs), Redis's MISCONF
/// error for a command that would write: a write command, an EXEC whose
/// queue writes, and PING (Redis refuses it too, so that health checks
/// notice).
pub fn disk_error_refusal(
    core: &Core,
    client: &RefCell<ClientState>,
    spec: &'static CommandSpec,
) -> Option<String> {
    let refusal = crate::persist::status::write_refusal(|| {
        let s = core.info().settings.borrow();
        s.stop_writes_on_bgsave_error && !super::persist::save_rules(&s.save).is_empty()
    })?;
    let writes = spec.flags & table::flag::WRITE != 0
        || spec.name == "ping"
        || (matches!(spec.exec, Exec::Global(Global::Exec))
            && client
                .borrow()
                .tx
                .queued
                .as_ref()
                .is_some_and(|q| q.writes()));
    writes.then_some(refusal)
}

/// The shard owning every key of this invocation, or None if they span shards.
fn owner_of_keys(core: &Core, spec: &CommandSpec, args: &Args) -> Option<usize> {
    if core.cores() == 1 {
        return Some(0);
    }
    if spec.reads_unnamed_keys(args) {
        return None;
    }
    let shard = core.shard().borrow();
    let mut owner = None;
    for k in spec.key_indexes(args) {
        let s = shard.slots().shard_of(args.get(k));
        match owner {
            None => owner = Some(s),
            Some(o) if o != s => return None,
            _ => {}
        }
    }
    Some(owner.unwrap_or(core.id()))
}

/// Writes a command error (the one error type, cmd/error.rs) as an error reply.
pub fn write_cmd_error(core: &Core, out: &mut Vec<u8>, e: &CmdError) {
    write_error(core, out, e.to_string().as_bytes());
}

pub fn write_error(core: &Core, out: &mut Vec<u8>, msg: &[u8]) {
    Counters::add(&core.counters().total_error_replies, 1);
    crate::metrics::record_error(msg);
    out.push(b'-');
    out.extend(
        msg.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` as Redis
/// builds it (C-string semantics: text stops at a NUL byte; 128-byte caps).
pub fn unknown_command_error(args: &Args) -> Vec<u8> {
    fn cstr(b: &[u8]) -> &[u8] {
        b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
    }
    let name = cstr(args.get(0));
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut list: Vec<u8> = Vec::new();
    for i in 1..args.len() {
        if list.len() >= 128 {
            break;
        }
        let a = cstr(args.get(i));
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    msg.extend_from_slice(&list);
    msg
}
