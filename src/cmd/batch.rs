//! The one batch runner: a run of shard commands executed on the shard that
//! owns their keys, the same function whether the batch came from this core's
//! connection (route/segment.rs) or from a peer's (runtime/grants.rs); the
//! runtime only transports batches.
//!
//! Per call it enters the client's scope once (SLOWLOG names the client
//! either way), reads the clock once, and, inside a coordinated transaction,
//! wraps the commands it runs in one journal group. It never waits: it stops
//! before the first command whose key another transaction holds (or, for a
//! write, whose value a snapshot is still encoding) and says so; the caller
//! resumes it (same [`Cursor`]) after a release.

use super::client::ClientWho;
use super::{run_on_shard, CommandClock, CommandSpec};
use crate::protocol::Args;
use crate::shard::Shard;

/// The commands of a batch, however they are stored.
pub trait BatchCmds {
    /// How many entries the batch has (some may belong to other shards).
    fn count(&self) -> usize;
    /// Entry `i`: its spec, its arguments and whether it is one shard's part
    /// of a command split across shards; None when it is another shard's.
    fn entry(&self, i: usize) -> Option<(&'static CommandSpec, Args<'_>, bool)>;
}

/// Where a batch run stands: the next entry to run and the error replies so
/// far (the caller adds them to its counters).
#[derive(Debug, Default, Clone, Copy)]
pub struct Cursor {
    pub next: usize,
    pub errors: u64,
}

/// What every command of one run shares.
pub struct BatchCtx<'a> {
    pub db: usize,
    /// The batch's Unix time (all its commands see the same clock).
    pub now_ms: u64,
    pub resp3: bool,
    /// The coordinated transaction the batch belongs to, holding its keys.
    pub txid: Option<u64>,
    pub client: ClientWho<'a>,
}

/// How many keys of a batch's next commands are prefetched at once.
const PREFETCH_WINDOW: usize = 32;

/// Prefetches the keys of the commands from `from` on (at most
/// [`PREFETCH_WINDOW`] keys, every key of a command: an MSET's ten as much
/// as ten GETs' one), so a pipeline's lookups overlap their cache misses.
/// Returns the first command whose keys were not all prefetched.
fn prefetch_keys(shard: &Shard, cmds: &impl BatchCmds, db: usize, from: usize) -> usize {
    let mut keys: [&[u8]; PREFETCH_WINDOW] = [&[]; PREFETCH_WINDOW];
    let mut n = 0;
    let mut next = from;
    'commands: while next < cmds.count() {
        if let Some((spec, args, _)) = cmds.entry(next) {
            for k in spec.key_indexes(&args) {
                if n == PREFETCH_WINDOW {
                    break 'commands;
                }
                keys[n] = args.get(k);
                n += 1;
            }
        }
        next += 1;
    }
    if n >= 2 {
        shard.prefetch(db, keys[..n].iter().copied());
    }
    next
}

/// Runs `cmds` from `cursor.next` on, appending each reply to `out` (and,
/// with `ends`, where each ends). Stops before the first command with a key
/// for which `is_locked(db, key)` holds and returns false; true when done.
pub fn run_batch(
    shard: &mut Shard,
    cmds: &impl BatchCmds,
    ctx: &BatchCtx,
    cursor: &mut Cursor,
    out: &mut Vec<u8>,
    mut ends: Option<&mut Vec<u32>>,
    is_locked: impl Fn(usize, &[u8]) -> bool,
) -> bool {
    let _client = ctx.client.scope();
    if let Some(txid) = ctx.txid {
        shard.begin_tx_part(txid);
    }
    let mut clock = CommandClock::start(ctx.now_ms);
    let mut done = true;
    let mut prefetched = prefetch_keys(shard, cmds, ctx.db, cursor.next);
    while cursor.next < cmds.count() {
        // At or past the last window's end (a command of more keys than
        // the window is refilled before each run until passed).
        if cursor.next >= prefetched {
            prefetched = prefetch_keys(shard, cmds, ctx.db, cursor.next);
        }
        let Some((spec, args, part)) = cmds.entry(cursor.next) else {
            cursor.next += 1;
            continue;
        };
        if spec
            .key_indexes(&args)
            .any(|k| is_locked(ctx.db, args.get(k)))
        {
            done = false;
            break;
        }
        // A write waits while a snapshot still encodes its key's big value
        // (shard/snapshot.rs); a transaction's part never waits there: the
        // shard finishes the value first.
        if ctx.txid.is_none()
            && spec.is_write()
            && shard.snapshot_running()
            && !spec
                .key_indexes(&args)
                .all(|k| shard.snapshot_admits(ctx.db, args.get(k)))
        {
            done = false;
            break;
        }
        if !run_on_shard(shard, spec, &args, ctx.db, ctx.resp3, &mut clock, part, out) {
            cursor.errors += 1;
        }
        if let Some(e) = ends.as_deref_mut() {
            e.push(out.len() as u32);
        }
        cursor.next += 1;
        // As Redis, blocked clients are served after each command that made
        // their keys ready (a transaction's after its release), before the
        // next command runs.
        if ctx.txid.is_none() && shard.blocking().has_ready() {
            shard.serve_ready(ctx.now_ms, &is_locked);
        }
    }
    if ctx.txid.is_some() {
        shard.end_tx_part();
    }
    done
}
