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
use crate::cmd::table::{self, CommandSpec, Exec, Global};
use crate::cmd::{run_on_shard, unix_ms, ConnCtx};
use crate::protocol::{Args, ReplyWriter, Span};
use crate::runtime::core::{Core, Counters, ReplyFuture};
use crate::runtime::locks::{lock_id, LockId, TxId};
use crate::runtime::mesh::{BatchCmd, CmdBatch, JobKind, JobOutput};
use bytes::Bytes;
use std::cell::RefCell;
use std::rc::Rc;

/// Keys above which a coordinated pipeline step locks its shards whole.
const WHOLE_SHARD_LOCK_KEYS: usize = 256;

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

/// One entry of a segment: a whole command, or one shard's part of a
/// multi-key command split across shards (see [`Segment::push_parts`]).
#[derive(Clone, Copy)]
struct Item {
    /// The command's index in the batch.
    idx: usize,
    shard: usize,
    spec: &'static CommandSpec,
    /// A part's own arguments: (first, argc) in `Segment::part_spans`.
    part: Option<(u32, u32)>,
}

#[derive(Default)]
struct Segment {
    items: Vec<Item>,
    /// Argument lists of the parts of split commands.
    part_spans: Vec<Span>,
    single: Option<usize>,
    readonly: bool,
    /// Holds a split command, which must be atomic: the segment runs as a
    /// coordinated step even when it only reads.
    split: bool,
}

impl Segment {
    fn push(&mut self, idx: usize, shard: usize, spec: &'static CommandSpec) {
        self.push_item(Item {
            idx,
            shard,
            spec,
            part: None,
        });
    }

    /// Adds a multi-key command as one part per shard, each the same command
    /// over that shard's keys (`parts`: shard and argument list, in shard
    /// order of first appearance).
    fn push_parts(
        &mut self,
        idx: usize,
        spec: &'static CommandSpec,
        parts: Vec<(usize, Vec<Span>)>,
    ) {
        self.split = true;
        for (shard, spans) in parts {
            let first = self.part_spans.len() as u32;
            self.part_spans.extend_from_slice(&spans);
            self.push_item(Item {
                idx,
                shard,
                spec,
                part: Some((first, spans.len() as u32)),
            });
        }
    }

    fn push_item(&mut self, item: Item) {
        if self.items.is_empty() {
            self.single = Some(item.shard);
            self.readonly = true;
        } else if self.single != Some(item.shard) {
            self.single = None;
        }
        self.readonly &= item.spec.is_readonly();
        self.items.push(item);
    }

    fn clear(&mut self) {
        self.items.clear();
        self.part_spans.clear();
        self.single = None;
        self.split = false;
    }
}

/// The items of a segment with the argument lists of its parts.
#[derive(Clone, Copy)]
struct Items<'s> {
    list: &'s [Item],
    part_spans: &'s [Span],
}

impl<'s> Items<'s> {
    /// The argument spans of `item` (its part's, or its whole command's).
    fn spans<'b: 's>(&self, batch: &Batch<'b>, item: &Item) -> &'s [Span] {
        match item.part {
            Some((first, argc)) => &self.part_spans[first as usize..(first + argc) as usize],
            None => {
                let (first, argc) = batch.cmds[item.idx];
                &batch.spans[first as usize..(first + argc) as usize]
            }
        }
    }

    fn args<'b: 's>(&self, batch: &Batch<'b>, item: &Item) -> Args<'s> {
        Args::new(batch.data, batch.inline, self.spans(batch, item))
    }
}

/// Executes every command of `batch` in order, appending replies to `out`.
pub async fn execute_batch(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    batch: &Batch<'_>,
    out: &mut Vec<u8>,
) {
    execute_batch_in(core, client, batch, out, None).await
}

/// [`execute_batch`], inside transaction `txid` when given (EXEC's queue).
pub async fn execute_batch_in(
    core: &Rc<Core>,
    client: &Rc<RefCell<ClientState>>,
    batch: &Batch<'_>,
    out: &mut Vec<u8>,
    txid: Option<TxId>,
) {
    let env = Env {
        core,
        client,
        batch,
        now_ms: unix_ms(),
        txid,
        lock_with_first_op: None,
    };
    let mut seg = Segment::default();
    for i in 0..batch.cmds.len() {
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
            crate::metrics::record_rejected(spec);
            let msg = format!("wrong number of arguments for '{}' command", spec.name);
            if matches!(spec.exec, Exec::Global(Global::Exec)) {
                // As Redis: a rejected EXEC discards the transaction.
                super::txn::exec_abort(&env, &msg, out).await;
            } else {
                // A rejected command inside MULTI (here: DISCARD/MULTI/WATCH
                // with bad arity) makes EXEC abort, as in Redis.
                let mut c = client.borrow_mut();
                if c.tx.queued.is_some() {
                    c.tx.errored = true;
                }
                drop(c);
                write_error(core, out, format!("ERR {msg}").as_bytes());
            }
            continue;
        }
        Counters::add(&core.counters.total_commands_processed, 1);
        let stat_spec = crate::cmd::command_docs::resolve(spec, &args);
        client.borrow_mut().last_cmd = stat_spec.name;
        if crate::metrics::monitor::active() {
            let c = client.borrow();
            crate::metrics::monitor::feed(core, stat_spec, c.db, &c.addr, &args);
        }
        // Shard commands are timed where they run (run_on_shard); the rest here.
        let mut started = None;
        if matches!(spec.exec, Exec::Conn(_) | Exec::Global(_)) {
            flush(&env, &mut seg, out).await;
            started = Some(std::time::Instant::now());
        }
        let errors_before = core.counters.total_error_replies.get();
        match spec.exec {
            Exec::Shard(_) | Exec::MultiKey(..) => match owner_of_keys(core, spec, &args) {
                Some(shard) => seg.push(i, shard, spec),
                None => match spec.exec {
                    Exec::MultiKey(_, split) => match multikey::split_parts(core, split, &args) {
                        // The same command per shard: one coordinated step
                        // with its neighbours (statistics recorded on merge).
                        Some(parts) => seg.push_parts(i, spec, parts),
                        None => {
                            flush(&env, &mut seg, out).await;
                            started = Some(std::time::Instant::now());
                            multikey::run(&env, spec, split, i, out).await
                        }
                    },
                    _ => {
                        flush(&env, &mut seg, out).await;
                        crate::metrics::record_rejected(spec);
                        write_error(
                            core,
                            out,
                            b"CROSSSLOT Keys in request don't hash to the same slot",
                        )
                    }
                },
            },
            Exec::Conn(handler) => {
                flush(&env, &mut seg, out).await;
                let reset = {
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
                        let msg = e.to_string();
                        ctx.reply.error(&msg);
                        crate::metrics::record_error(msg.as_bytes());
                        Counters::add(&core.counters.total_error_replies, 1);
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
            Exec::Global(g) => {
                flush(&env, &mut seg, out).await;
                global::run(&env, g, i, out).await;
            }
        }
        if let Some(t) = started {
            let ok = core.counters.total_error_replies.get() == errors_before;
            crate::metrics::record_command(stat_spec, &args, t, ok);
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
    let items = Items {
        list: &seg.items,
        part_spans: &seg.part_spans,
    };
    match seg.single {
        Some(s) if s == core.id => {
            run_local_items(env, items, db, resp3, env.txid, out, None).await
        }
        Some(s) => {
            let job = build_job(env, items, resp3, env.txid);
            if let JobOutput::Replies { data, .. } = core.call(s, db, job).await {
                out.extend_from_slice(&data);
            }
        }
        None if (seg.readonly && !seg.split) || env.txid.is_some() => {
            run_parallel(env, items, db, resp3, env.txid, out).await
        }
        None if debug_reorder() => {
            // Test-only broken build: per-shard parts one after another, last
            // shard first, no locks (tests/cross_shard.rs must catch it).
            let mut shards: Vec<usize> = Vec::new();
            for item in seg.items.iter().rev() {
                if !shards.contains(&item.shard) {
                    shards.push(item.shard);
                }
            }
            for s in shards {
                let mine: Vec<Item> = seg.items.iter().copied().filter(|x| x.shard == s).collect();
                let mut sink = Vec::new();
                let part = Items {
                    list: &mine,
                    ..items
                };
                run_parallel(env, part, db, resp3, None, &mut sink).await;
                // Widen the window so the reordering is observable.
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            }
            let mut last = None;
            for item in &seg.items {
                if last.replace(item.idx) != Some(item.idx) {
                    out.extend_from_slice(b"+OK\r\n");
                }
            }
        }
        None => {
            // Writes on several shards: one coordinated step (see
            // run_step_in_order) over every key of the segment.
            let mut keys = super::txn::group_keys(seg.items.iter().flat_map(|item| {
                let args = items.args(env.batch, item);
                item.spec
                    .key_indexes(args.len())
                    .map(move |k| (item.shard, lock_id(db, args.get(k))))
            }));
            // Past a few hundred keys, locking each shard whole is cheaper than
            // a lock entry per key (mass insertion, big pipelines).
            let key_count: usize = keys.iter().map(|(_, k)| k.len()).sum();
            let whole = key_count > WHOLE_SHARD_LOCK_KEYS;
            keys.sort_unstable_by_key(|(s, _)| *s);
            run_step_in_order(env, items, db, resp3, keys, whole, out).await;
        }
    }
    seg.clear();
}

/// `RINGKV_DEBUG_REORDER_PIPELINE=1` makes multi-shard write segments run
/// out of order — a deliberately broken build for the ordering tests only.
fn debug_reorder() -> bool {
    static REORDER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REORDER
        .get_or_init(|| std::env::var_os("RINGKV_DEBUG_REORDER_PIPELINE").is_some_and(|v| v == "1"))
}

/// Runs items on this core's shard in order, waiting while a key is locked by
/// another transaction. With `ends`, records where each reply ends.
async fn run_local_items(
    env: &Env<'_>,
    items: Items<'_>,
    db: usize,
    resp3: bool,
    txid: Option<TxId>,
    out: &mut Vec<u8>,
    mut ends: Option<&mut Vec<u32>>,
) {
    let core = env.core;
    let mut clock = crate::cmd::CommandClock::start(env.now_ms);
    for item in items.list {
        if item.shard != core.id {
            continue;
        }
        let spec = item.spec;
        let args = items.args(env.batch, item);
        let mut waited = false;
        // Inside a transaction every key of the batch is held by it.
        while txid.is_none()
            && spec
                .key_indexes(args.len())
                .any(|k| core.key_locked(db, args.get(k), None))
        {
            core.released().await;
            waited = true;
        }
        if waited {
            clock = crate::cmd::CommandClock::start(env.now_ms);
        }
        let _client = crate::metrics::ClientScope::enter(env.client);
        let mut shard = core.shard.borrow_mut();
        if let Some(txid) = txid {
            shard.begin_tx_part(txid);
        }
        let part = item.part.is_some();
        if !run_on_shard(&mut shard, spec, &args, db, resp3, &mut clock, part, out) {
            Counters::add(&core.counters.total_error_replies, 1);
        }
        if txid.is_some() {
            shard.end_tx_part();
        }
        drop(shard);
        if let Some(e) = ends.as_deref_mut() {
            e.push(out.len() as u32);
        }
    }
}

/// Runs items spread over several shards in parallel (remote parts first,
/// then the local part) and stitches the replies back into request order.
async fn run_parallel(
    env: &Env<'_>,
    items: Items<'_>,
    db: usize,
    resp3: bool,
    txid: Option<TxId>,
    out: &mut Vec<u8>,
) {
    let core = env.core;
    let started = std::time::Instant::now();
    let mut shards: Vec<usize> = items.list.iter().map(|x| x.shard).collect();
    shards.sort_unstable();
    shards.dedup();
    let parts: Vec<(usize, ReplyFuture)> = shards
        .iter()
        .filter(|&&s| s != core.id)
        .map(|&s| (s, core.call(s, db, shard_job(env, items, s, resp3, txid))))
        .collect();
    let mut results: Vec<(usize, Vec<u8>, Vec<u32>)> = Vec::new();
    if shards.contains(&core.id) {
        let (mut data, mut ends) = (Vec::new(), Vec::new());
        run_local_items(env, items, db, resp3, txid, &mut data, Some(&mut ends)).await;
        results.push((core.id, data, ends));
    }
    for (s, fut) in parts {
        if let JobOutput::Replies { data, ends } = fut.await {
            results.push((s, data, ends));
        }
    }
    stitch(env, items, &results, started, out);
}

/// A coordinated step: a new transaction visits the segment's shards in
/// ascending order (`keys`: each shard's locks, sorted by shard); at each it
/// takes the locks (or the whole shard) and runs that shard's part at once,
/// a remote part in one lock-then-run message. Every lock is held until the
/// last part has run (two-phase locking, so the step is atomic and keeps
/// Redis's order for every observer), then released; the last shard, when
/// remote and without an AOF, releases its own locks right after its part
/// (every other part has run by then), which saves its release message.
/// With an AOF every shard first writes the transaction's commit record.
/// Waiting only at the shard being locked, holding lower ones, keeps the
/// ascending order that makes deadlock impossible (runtime/locks.rs).
async fn run_step_in_order(
    env: &Env<'_>,
    items: Items<'_>,
    db: usize,
    resp3: bool,
    keys: super::txn::ShardKeys,
    whole: bool,
    out: &mut Vec<u8>,
) {
    let core = env.core;
    let started = std::time::Instant::now();
    let txid = core.new_txid();
    let shards = keys.len();
    let mut results: Vec<(usize, Vec<u8>, Vec<u32>)> = Vec::with_capacity(shards);
    let mut held = Vec::with_capacity(shards);
    for (i, (shard, shard_keys)) in keys.into_iter().enumerate() {
        let lock = if whole { Vec::new() } else { shard_keys };
        if shard == core.id {
            core.lock_local(txid, lock, whole).await;
            let (mut data, mut ends) = (Vec::new(), Vec::new());
            run_local_items(
                env,
                items,
                db,
                resp3,
                Some(txid),
                &mut data,
                Some(&mut ends),
            )
            .await;
            results.push((shard, data, ends));
            held.push(shard);
            continue;
        }
        let release_after = i + 1 == shards && core.aof.is_none();
        let mut job = shard_job(env, items, shard, resp3, Some(txid));
        if let JobKind::Cmds(batch) = &mut job {
            batch.lock = Some((lock, whole));
            batch.release_after = release_after;
        }
        if let JobOutput::Replies { data, ends } = core.call(shard, db, job).await {
            results.push((shard, data, ends));
        }
        if !release_after {
            held.push(shard);
        }
    }
    super::txn::Tx::held(txid, held).commit(core).await;
    stitch(env, items, &results, started, out);
}

/// The job running `shard`'s items.
fn shard_job(
    env: &Env<'_>,
    items: Items<'_>,
    shard: usize,
    resp3: bool,
    txid: Option<TxId>,
) -> JobKind {
    let mine: Vec<Item> = items
        .list
        .iter()
        .copied()
        .filter(|x| x.shard == shard)
        .collect();
    let list = Items {
        list: &mine,
        ..items
    };
    build_job(env, list, resp3, txid)
}

/// Appends the replies of `items` in request order from the per-shard
/// `results` (shard, replies, where each ends): each item takes the next
/// reply of its shard; the parts of a split command (consecutive items) are
/// merged into its one reply, and the command recorded once.
fn stitch(
    env: &Env<'_>,
    items: Items<'_>,
    results: &[(usize, Vec<u8>, Vec<u32>)],
    started: std::time::Instant,
    out: &mut Vec<u8>,
) {
    let mut cursor: Vec<(usize, usize)> = vec![(0, 0); results.len()];
    let mut next_reply = |shard: usize| -> Option<&[u8]> {
        let r = results.iter().position(|x| x.0 == shard)?;
        let (next, start) = cursor[r];
        let end = *results[r].2.get(next)? as usize;
        cursor[r] = (next + 1, end);
        Some(&results[r].1[start..end])
    };
    let mut k = 0;
    while k < items.list.len() {
        let item = items.list[k];
        if item.part.is_none() {
            if let Some(reply) = next_reply(item.shard) {
                out.extend_from_slice(reply);
            }
            k += 1;
            continue;
        }
        let count = items.list[k..]
            .iter()
            .take_while(|x| x.idx == item.idx)
            .count();
        let replies: Vec<&[u8]> = items.list[k..k + count]
            .iter()
            .filter_map(|x| next_reply(x.shard))
            .collect();
        let args = env.batch.args(item.idx);
        let ok = multikey::merge_parts(env.core, item.spec, &args, &replies, out);
        crate::metrics::record_command(item.spec, &args, started, ok);
        k += count;
    }
}

fn build_job(env: &Env<'_>, items: Items<'_>, resp3: bool, txid: Option<TxId>) -> JobKind {
    let mut spans = Vec::new();
    let mut cmds = Vec::with_capacity(items.list.len());
    for item in items.list {
        let mine = items.spans(env.batch, item);
        cmds.push(BatchCmd {
            spec: item.spec,
            first: spans.len() as u32,
            argc: mine.len() as u32,
            part: item.part.is_some(),
        });
        spans.extend_from_slice(mine);
    }
    JobKind::Cmds(CmdBatch {
        data: env.batch.data.clone(),
        inline: env.batch.inline.clone(),
        spans,
        cmds,
        resp3,
        txid,
        lock: None,
        release_after: false,
    })
}
