//! A segment of a pipeline and its execution: commands for one shard travel as
//! one message (or run inline on this core's shard), read-only runs over several
//! shards run in parallel, and anything that writes on several shards runs as one
//! coordinated step (two-phase locking over the segment's keys, shards visited
//! in ascending order). Replies are stitched back into request order; the parts
//! of a multi-key command split across shards are merged into its one reply.

use super::coordinator::{LockPlan, Locker, Tx, Visit};
use super::multikey;
use super::pipeline::{Batch, Env};
use crate::cmd::batch::{run_batch, BatchCmds, BatchCtx, Cursor};
use crate::cmd::client::ClientWho;
use crate::cmd::table::CommandSpec;
use crate::protocol::{Args, Span};
use crate::runtime::core::{Counters, ReplyFuture};
use crate::runtime::locks::{lock_id, LockId, TxId};
use crate::runtime::mesh::{BatchCmd, CmdBatch, ForwardPart, Job, JobKind, JobOutput};

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
pub struct Segment {
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
    pub fn push(&mut self, idx: usize, shard: usize, spec: &'static CommandSpec) {
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
    pub fn push_parts(
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
        Args::with_big(batch.data, batch.inline, batch.big, self.spans(batch, item))
    }
}

/// Runs the pending segment and appends its replies in order.
pub async fn flush(env: &Env<'_>, seg: &mut Segment, out: &mut Vec<u8>) {
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
        Some(s) if s == core.id() => {
            run_local_items(env, items, db, resp3, env.txid, out, None).await
        }
        Some(s) => {
            let job = build_job(env, items, resp3, env.txid);
            if let JobOutput::Replies { data, .. } = core.call(s, db, job).await {
                out.extend_from_slice(&data);
            }
        }
        None if seg.readonly && !seg.split => {
            run_parallel(env, items, db, resp3, env.txid, out).await
        }
        None if env.txid.is_some() => {
            // Inside a transaction (its keys held): each run of commands
            // for one shard after the other, in queue order, so that keys
            // become ready in that order (blocked clients are served in
            // it, shard/blocking.rs); a split command's parts run together.
            let list = &seg.items[..];
            let mut start = 0;
            while start < list.len() {
                let mut end = start + 1;
                while end < list.len()
                    && (list[end].shard == list[end - 1].shard
                        || list[end].idx == list[end - 1].idx)
                {
                    end += 1;
                }
                let run = Items {
                    list: &list[start..end],
                    ..items
                };
                run_parallel(env, run, db, resp3, env.txid, out).await;
                start = end;
            }
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
            let plan = LockPlan::for_step(seg.items.iter().flat_map(|item| {
                let args = items.args(env.batch, item);
                item.spec
                    .key_indexes(&args)
                    .map(move |k| (item.shard, lock_id(db, args.get(k))))
            }));
            run_step_in_order(env, items, db, resp3, plan, out).await;
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

/// Runs items on this core's shard in order through the one batch runner
/// (cmd/batch.rs), waiting while a key is locked by another transaction.
/// With `ends`, records where each reply ends.
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
    let local = LocalItems {
        items,
        batch: env.batch,
        shard: core.id(),
    };
    let ctx = BatchCtx {
        db,
        now_ms: env.now_ms,
        resp3,
        txid,
        client: ClientWho::Local(env.client),
    };
    let mut cursor = Cursor::default();
    // Inside a transaction every key of the batch is held by it.
    while !run_batch(
        &mut core.shard().borrow_mut(),
        &local,
        &ctx,
        &mut cursor,
        out,
        ends.as_deref_mut(),
        |db, key| txid.is_none() && core.key_locked(db, key, None),
    ) {
        core.released().await;
    }
    Counters::add(&core.counters().total_error_replies, cursor.errors);
}

/// This core's items of a segment, as the batch runner reads them.
struct LocalItems<'s, 'b> {
    items: Items<'s>,
    batch: &'s Batch<'b>,
    shard: usize,
}

impl<'s, 'b: 's> BatchCmds for LocalItems<'s, 'b> {
    fn count(&self) -> usize {
        self.items.list.len()
    }

    fn entry(&self, i: usize) -> Option<(&'static CommandSpec, Args<'_>, bool)> {
        let item = &self.items.list[i];
        (item.shard == self.shard).then(|| {
            (
                item.spec,
                self.items.args(self.batch, item),
                item.part.is_some(),
            )
        })
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
    let started = quanta::Instant::now();
    let mut shards: Vec<usize> = items.list.iter().map(|x| x.shard).collect();
    shards.sort_unstable();
    shards.dedup();
    let parts: Vec<(usize, ReplyFuture)> = shards
        .iter()
        .filter(|&&s| s != core.id())
        .map(|&s| (s, core.call(s, db, shard_job(env, items, s, resp3, txid))))
        .collect();
    let mut results: Vec<(usize, Vec<u8>, Vec<u32>)> = Vec::new();
    if shards.contains(&core.id()) {
        let (mut data, mut ends) = (Vec::new(), Vec::new());
        run_local_items(env, items, db, resp3, txid, &mut data, Some(&mut ends)).await;
        results.push((core.id(), data, ends));
    }
    for (s, fut) in parts {
        if let JobOutput::Replies { data, ends } = fut.await {
            results.push((s, data, ends));
        }
    }
    stitch(env, items, &results, started, out);
}

/// A coordinated step: a new transaction visits the segment's shards as
/// the coordinator orders them ([`LockPlan::visits`]: ascending, the last
/// shard lock-free without an AOF); at each it takes the locks (or the whole
/// shard) and runs that shard's part at once, a remote part in one
/// lock-then-run message. Every lock is held until the last part has run
/// (two-phase locking, so the step is atomic and keeps Redis's order for
/// every observer), then released. A step over exactly two shards without
/// an AOF goes through [`run_step_forwarded`] instead.
async fn run_step_in_order(
    env: &Env<'_>,
    items: Items<'_>,
    db: usize,
    resp3: bool,
    plan: LockPlan,
    out: &mut Vec<u8>,
) {
    let core = env.core;
    let started = quanta::Instant::now();
    let lock_last = core.aof().is_some();
    if let Some((lower, lock, last)) = plan.forwarded(lock_last) {
        return run_step_forwarded(env, items, db, resp3, (lower, lock, last), started, out).await;
    }
    let mut tx = Tx::new(core);
    let txid = tx.txid();
    let visits = plan.visits(lock_last);
    let mut results: Vec<(usize, Vec<u8>, Vec<u32>)> = Vec::with_capacity(visits.len());
    for (shard, visit) in visits {
        if shard == core.id() {
            match visit {
                Visit::Lock { keys, whole } => tx.lock(shard, keys, whole).await,
                Visit::WhenFree(keys) => core.wait_free(&keys).await,
            }
            // Runs without yielding: the step holds these keys, or (last) no
            // transaction does.
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
            continue;
        }
        let mut job = shard_job(env, items, shard, resp3, Some(txid));
        let locks = matches!(visit, Visit::Lock { .. });
        if let JobKind::Cmds(batch) = &mut job {
            match visit {
                Visit::Lock { keys, whole } => batch.lock = Some((keys, whole)),
                Visit::WhenFree(_) => batch.when_free = true,
            }
        }
        if let JobOutput::Replies { data, ends } = core.call(shard, db, job).await {
            results.push((shard, data, ends));
        }
        if locks {
            tx.holds(shard);
        }
    }
    tx.commit().await;
    stitch(env, items, &results, started, out);
}

/// A coordinated step over two shards without an AOF: handed to the lower
/// shard, which locks, runs its part and forwards the other part to the last
/// shard, which answers here and releases (runtime/forward.rs: steps waiting
/// for the same keys share one lock round). Same guarantees as
/// [`run_step_in_order`], with the lock held one hop each way instead of a
/// round trip through this coordinator.
async fn run_step_forwarded(
    env: &Env<'_>,
    items: Items<'_>,
    db: usize,
    resp3: bool,
    (lock_shard, lock, last_shard): (usize, Vec<LockId>, usize),
    started: quanta::Instant,
    out: &mut Vec<u8>,
) {
    let core = env.core;
    let txid = core.new_txid();
    let batch = |shard| match shard_job(env, items, shard, resp3, Some(txid)) {
        JobKind::Cmds(b) => Some(b),
        _ => None,
    };
    let (Some(first), Some(last)) = (batch(lock_shard), batch(last_shard)) else {
        super::pipeline::write_cmd_error(core, out, &crate::cmd::CmdError::Internal);
        return;
    };
    let (token, reply) = core.expect_reply();
    let part = ForwardPart {
        origin: core.id(),
        token,
        txid,
        first,
        last,
    };
    if lock_shard == core.id() {
        core.lock_run_forward(db, lock, last_shard, part);
    } else {
        let kind = JobKind::LockRunForward {
            keys: lock,
            last_shard,
            part: Box::new(part),
        };
        core.send_job(lock_shard, Job { token, db, kind });
    }
    let results = match reply.await {
        JobOutput::Stepped { first, last } => {
            vec![(lock_shard, first.0, first.1), (last_shard, last.0, last.1)]
        }
        _ => Vec::new(),
    };
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
    started: quanta::Instant,
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
        let _who = ClientWho::Local(env.client).scope();
        crate::cmd::stat_index::record_command(item.spec, &args, started, ok);
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
        big: env.batch.big.to_vec(),
        spans,
        cmds,
        resp3,
        txid,
        lock: None,
        when_free: false,
        client: Some(env.client.borrow_mut().ident()),
    })
}
