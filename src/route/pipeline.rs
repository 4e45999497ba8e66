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
//! request order and appended to the connection's output buffer.

use super::{global, multikey};
use crate::cmd::client::ClientState;
use crate::cmd::table::{self, CommandSpec, Exec};
use crate::cmd::{run_on_shard, unix_ms, ConnCtx};
use crate::protocol::{Args, ReplyWriter, Span};
use crate::runtime::core::{Core, Counters, ReplyFuture};
use crate::runtime::mesh::{CmdBatch, JobKind, JobOutput};
use bytes::Bytes;
use std::cell::RefCell;
use std::rc::Rc;

/// The commands parsed from one read.
pub struct Batch<'a> {
    pub data: &'a Bytes,
    pub inline: &'a Bytes,
    pub spans: &'a [Span],
    /// (first span, argc) per command.
    pub cmds: &'a [(u32, u32)],
}

impl<'a> Batch<'a> {
    pub fn args(&self, i: usize) -> Args<'a> {
        let (first, argc) = self.cmds[i];
        Args::new(
            self.data,
            self.inline,
            &self.spans[first as usize..(first + argc) as usize],
        )
    }

    /// Argument bytes as a zero-copy `Bytes` slice of the read buffer.
    pub fn arg_bytes(&self, span: Span) -> Bytes {
        if span.start & crate::protocol::args::INLINE_BIT != 0 {
            let at = (span.start & !crate::protocol::args::INLINE_BIT) as usize;
            self.inline.slice(at..at + span.len as usize)
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
}

#[derive(Default)]
struct Segment {
    /// (command index, shard, spec)
    items: Vec<(usize, usize, &'static CommandSpec)>,
    single: Option<usize>,
    readonly: bool,
}

impl Segment {
    fn accepts(&self, shard: usize, readonly: bool) -> bool {
        self.items.is_empty() || self.single == Some(shard) || (self.readonly && readonly)
    }

    fn push(&mut self, idx: usize, shard: usize, spec: &'static CommandSpec) {
        if self.items.is_empty() {
            self.single = Some(shard);
            self.readonly = true;
        } else if self.single != Some(shard) {
            self.single = None;
        }
        self.readonly &= spec.is_readonly();
        self.items.push((idx, shard, spec));
    }
}

/// Executes every command of `batch` in order, appending replies to `out`.
pub async fn execute_batch(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    batch: &Batch<'_>,
    out: &mut Vec<u8>,
) {
    let env = Env {
        core,
        client,
        batch,
        now_ms: unix_ms(),
    };
    let mut seg = Segment::default();
    for i in 0..batch.cmds.len() {
        let args = batch.args(i);
        let Some(spec) = table::lookup(args.get(0)) else {
            flush(&env, &mut seg, out).await;
            write_error(core, out, &unknown_command_error(&args));
            continue;
        };
        if !spec.arity_ok(args.len()) {
            flush(&env, &mut seg, out).await;
            write_error(
                core,
                out,
                format!("ERR wrong number of arguments for '{}' command", spec.name).as_bytes(),
            );
            continue;
        }
        Counters::add(&core.counters.total_commands_processed, 1);
        client.borrow_mut().last_cmd = crate::cmd::command_docs::resolve(spec, &args).name;
        match spec.exec {
            Exec::Shard(_) | Exec::MultiKey(..) => match owner_of_keys(core, spec, &args) {
                Some(shard) => {
                    if !seg.accepts(shard, spec.is_readonly()) {
                        flush(&env, &mut seg, out).await;
                    }
                    seg.push(i, shard, spec);
                }
                None => {
                    flush(&env, &mut seg, out).await;
                    match spec.exec {
                        Exec::MultiKey(_, split) => multikey::run(&env, spec, split, i, out).await,
                        _ => write_error(
                            core,
                            out,
                            b"CROSSSLOT Keys in request don't hash to the same slot",
                        ),
                    }
                }
            },
            Exec::Conn(handler) => {
                flush(&env, &mut seg, out).await;
                let mut c = client.borrow_mut();
                let resp3 = c.resp3;
                let mut shard = core.shard.borrow_mut();
                let mut ctx = ConnCtx {
                    client: &mut c,
                    core: &core.info,
                    shard: &mut shard,
                    txkeys: &core.txkeys,
                    now_ms: env.now_ms,
                    reply: ReplyWriter::new(out, resp3),
                };
                if let Err(e) = handler(&mut ctx, &args) {
                    ctx.reply.error(&e.to_string());
                    Counters::add(&core.counters.total_error_replies, 1);
                }
            }
            Exec::Global(g) => {
                flush(&env, &mut seg, out).await;
                global::run(&env, g, i, out).await;
            }
        }
    }
    flush(&env, &mut seg, out).await;
}

/// The shard owning every key of this invocation, or None if they span shards.
fn owner_of_keys(core: &Core, spec: &CommandSpec, args: &Args) -> Option<usize> {
    if core.cores == 1 {
        return Some(0);
    }
    let shard = core.shard.borrow();
    let mut owner = None;
    for k in spec.key_indexes(args.len()) {
        let s = shard.slots.shard_of(args.get(k));
        match owner {
            None => owner = Some(s),
            Some(o) if o != s => return None,
            _ => {}
        }
    }
    Some(owner.unwrap_or(core.id))
}

pub fn write_error(core: &Core, out: &mut Vec<u8>, msg: &[u8]) {
    Counters::add(&core.counters.total_error_replies, 1);
    out.push(b'-');
    out.extend(
        msg.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` as Redis
/// builds it (C-string semantics: text stops at a NUL byte; 128-byte caps).
fn unknown_command_error(args: &Args) -> Vec<u8> {
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

/// Runs the pending segment and appends its replies in order.
async fn flush(env: &Env<'_>, seg: &mut Segment, out: &mut Vec<u8>) {
    if seg.items.is_empty() {
        return;
    }
    let core = env.core;
    let (db, resp3) = {
        let c = env.client.borrow();
        (c.db, c.resp3)
    };
    match seg.single {
        Some(s) if s == core.id => {
            let mut shard = core.shard.borrow_mut();
            for &(i, _, spec) in &seg.items {
                let args = env.batch.args(i);
                if !run_on_shard(&mut shard, spec, &args, db, resp3, env.now_ms, out) {
                    Counters::add(&core.counters.total_error_replies, 1);
                }
            }
        }
        Some(s) => {
            let job = build_job(env, &seg.items, resp3);
            if let JobOutput::Replies { data, .. } = core.call(s, db, job).await {
                out.extend_from_slice(&data);
            }
        }
        None => {
            // Read-only commands over several shards: send every remote part
            // first, run the local part, then stitch replies in order.
            let mut parts: Vec<(usize, Option<ReplyFuture>)> = Vec::new();
            let mut shards: Vec<usize> = seg.items.iter().map(|x| x.1).collect();
            shards.sort_unstable();
            shards.dedup();
            for &s in &shards {
                if s != core.id {
                    let items: Vec<_> = seg.items.iter().copied().filter(|x| x.1 == s).collect();
                    parts.push((s, Some(core.call(s, db, build_job(env, &items, resp3)))));
                }
            }
            let mut results: Vec<(usize, Vec<u8>, Vec<u32>)> = Vec::new();
            if shards.contains(&core.id) {
                let mut data = Vec::new();
                let mut ends = Vec::new();
                let mut shard = core.shard.borrow_mut();
                for &(i, s, spec) in &seg.items {
                    if s == core.id {
                        run_on_shard(
                            &mut shard,
                            spec,
                            &env.batch.args(i),
                            db,
                            resp3,
                            env.now_ms,
                            &mut data,
                        );
                        ends.push(data.len() as u32);
                    }
                }
                results.push((core.id, data, ends));
            }
            for (s, fut) in parts.iter_mut() {
                if let Some(f) = fut.take() {
                    if let JobOutput::Replies { data, ends } = f.await {
                        results.push((*s, data, ends));
                    }
                }
            }
            let mut cursor: Vec<(usize, usize)> = vec![(0, 0); results.len()];
            for &(_, s, _) in &seg.items {
                let Some(r) = results.iter().position(|x| x.0 == s) else {
                    continue;
                };
                let (data, ends) = (&results[r].1, &results[r].2);
                let (next, start) = cursor[r];
                let end = ends[next] as usize;
                out.extend_from_slice(&data[start..end]);
                cursor[r] = (next + 1, end);
            }
        }
    }
    seg.items.clear();
    seg.single = None;
}

fn build_job(
    env: &Env<'_>,
    items: &[(usize, usize, &'static CommandSpec)],
    resp3: bool,
) -> JobKind {
    let mut spans = Vec::new();
    let mut cmds = Vec::with_capacity(items.len());
    for &(i, _, spec) in items {
        let (first, argc) = env.batch.cmds[i];
        cmds.push((spec, spans.len() as u32, argc));
        spans.extend_from_slice(&env.batch.spans[first as usize..(first + argc) as usize]);
    }
    JobKind::Cmds(CmdBatch {
        data: env.batch.data.clone(),
        inline: env.batch.inline.clone(),
        spans,
        cmds,
        resp3,
    })
}
