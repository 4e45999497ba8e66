//! Messages between cores and their execution on the receiving shard.
//!
//! A core sends each peer at most one [`Request`] per scheduler tick holding
//! every [`Job`] bound there (coalesced in an outbox by `Core::call`), and the
//! peer answers with one [`Response`] holding every result, replies already
//! encoded. Command arguments travel as `Bytes` slices of the sender's read
//! buffer, never copied.
//!
//! Deadlock freedom (glommio issue #555): requests and responses use separate
//! channels; the response receiver never sends, so a request handler blocked on
//! a full response channel always makes progress.

use super::locks::{LockId, TxId};
use crate::cmd::batch::{run_batch, BatchCmds, BatchCtx, Cursor};
use crate::cmd::client::ClientWho;
use crate::cmd::client::{ClientIdent, ClientState};
use crate::cmd::ops::{self, OpResult, ShardOp};
use crate::cmd::CommandSpec;
use crate::protocol::{Args, Span};
use bytes::Bytes;
use std::sync::Arc;

/// Commands for one shard, executed in order with their replies concatenated.
#[derive(Debug)]
pub struct CmdBatch {
    pub data: Bytes,
    pub inline: Bytes,
    /// Big arguments in their own buffers (spans with `BIG_BIT`); usually empty.
    pub big: Vec<Bytes>,
    pub spans: Vec<Span>,
    pub cmds: Vec<BatchCmd>,
    pub resp3: bool,
    /// Set when the batch is part of a coordinated transaction that holds its
    /// keys' locks (it may pass them); None for ordinary batches, which wait
    /// for locked keys.
    pub txid: Option<TxId>,
    /// Lock these (db, key)s — or the whole shard — for `txid` first, then
    /// run: a coordinator's last shard, saving the separate Lock message.
    pub lock: Option<(Vec<LockId>, bool)>,
    /// Run only once none of the batch's keys is held by another transaction,
    /// then all of it at once (it never runs in part and parks): the last shard
    /// of a coordinated step, whose keys need only be free while its part runs
    /// (every earlier shard is locked until then), so it takes no locks
    /// (route::segment::run_step_in_order).
    pub when_free: bool,
    /// The client it runs for, for SLOWLOG (None for internal batches).
    pub client: Option<Arc<ClientIdent>>,
}

impl CmdBatch {
    /// The arguments of command `i`.
    pub fn args(&self, i: usize) -> Args<'_> {
        let BatchCmd { first, argc, .. } = self.cmds[i];
        let spans = &self.spans[first as usize..(first + argc) as usize];
        Args::with_big(&self.data, &self.inline, &self.big, spans)
    }

    /// Every key of every command, in order.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.cmds.len()).flat_map(move |i| {
            let args = self.args(i);
            self.cmds[i]
                .spec
                .key_indexes(&args)
                .map(move |k| args.get(k))
        })
    }
}

/// One command of a [`CmdBatch`]: its arguments are `spans[first..first + argc]`.
#[derive(Debug, Clone, Copy)]
pub struct BatchCmd {
    pub spec: &'static CommandSpec,
    pub first: u32,
    pub argc: u32,
    /// One shard's part of a multi-key command split across shards: the
    /// router records the command's statistics once, for the whole command.
    pub part: bool,
}

/// Per-core counters a peer asks for (INFO).
#[derive(Debug, Default, Clone)]
pub struct CoreCounters {
    pub connected_clients: u64,
    /// Clients waiting in a blocking command (runtime/blocked.rs).
    pub blocked_clients: u64,
    pub total_connections_received: u64,
    pub rejected_connections: u64,
    pub total_commands_processed: u64,
    pub total_error_replies: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
}

#[derive(Debug)]
pub enum JobKind {
    Cmds(CmdBatch),
    Op(ShardOp),
    /// A shard op run inside transaction `txid` (which holds the locks).
    TxOp {
        txid: TxId,
        op: ShardOp,
    },
    /// Lock `keys` for `txid` (the transaction's last lock), then run `op`.
    LockThenOp {
        txid: TxId,
        keys: Vec<LockId>,
        op: ShardOp,
    },
    /// Lock `keys` (db, key) — or the whole shard — for `txid`; answered with
    /// `Locked` once granted (possibly much later).
    Lock {
        txid: TxId,
        keys: Vec<LockId>,
        whole: bool,
    },
    /// Release everything `txid` holds on this shard.
    Release {
        txid: TxId,
    },
    /// A two-shard step (route::segment): lock `keys` here, run
    /// `part.first`, then forward `part.last` to `last_shard`, which answers
    /// the coordinator (never this job's sender directly) and releases.
    LockRunForward {
        keys: Vec<LockId>,
        last_shard: usize,
        /// Boxed: a step's two batches would make every job this big.
        part: Box<ForwardPart>,
    },
    /// The last parts of a group of two-shard steps whose first parts ran on
    /// `lock_shard` under its lock `group`, in that order: run them in order
    /// once their keys are free, answer each coordinator, release `group`.
    RunForwarded {
        lock_shard: usize,
        group: TxId,
        parts: Vec<ForwardedPart>,
    },
    /// The cut of a snapshot: start writing this shard to `target`; with
    /// `rotate_to`, also switch the journal to a new incr file (AOF rewrite).
    SnapshotBegin {
        target: std::path::PathBuf,
        cut_ms: u64,
        rotate_to: Option<std::path::PathBuf>,
    },
    /// Where this shard's snapshot stands.
    SnapshotPoll,
    /// The shard's dirty count and AOF bytes written (save schedule, auto rewrite).
    PersistFacts,
    /// Appends a transaction's commit record (one of `parts`, one per shard
    /// of the transaction) to this shard's journal; answered once written.
    Commit {
        txid: TxId,
        parts: usize,
    },
    /// The clients connected to this core (CLIENT LIST).
    Clients,
    /// This core's counters (INFO).
    Counters,
    /// Apply validated settings to this core's live copy (CONFIG SET).
    ApplyConfig(crate::cmd::config_cmd::Changes),
    /// Zero this core's statistics (CONFIG RESETSTAT).
    ResetStats,
    /// Observability: stats snapshot, SLOWLOG, LATENCY, MONITOR lines.
    Metrics(super::gather::MetricsJob),
    /// A blocked command's outcome, for the waiting client's core (one-way;
    /// `from`: the shard that served it).
    Deliver {
        from: usize,
        delivery: crate::shard::blocking::Delivery,
    },
    /// Put back what a pop took for a waiter that had left (one-way).
    PutBack(crate::shard::blocking::Taken),
    /// Cancel a wait on this shard (`Shard::cancel_wait`): Op(Int(1)) when
    /// removed, Op(Int(0)) when a delivery is (or will be) on its way.
    CancelWait(crate::shard::blocking::WaitId),
    /// A script's command for this shard, inside the script's transaction;
    /// the reply goes to the call's own slot (one-way).
    ScriptCall(Box<crate::cmd::script::remote::RemoteCall>),
    /// CLIENT UNBLOCK for a client of this core: Op(Int(1)) if it was blocked.
    Unblock {
        client: u64,
        error: bool,
    },
}

/// One two-shard step on its way through [`JobKind::LockRunForward`].
#[derive(Debug)]
pub struct ForwardPart {
    /// The coordinator's core and the token it waits on there.
    pub origin: usize,
    pub token: u32,
    pub txid: TxId,
    /// The commands for the locking (lower) shard and for the last one.
    pub first: CmdBatch,
    pub last: CmdBatch,
}

/// A step whose first part has run: its replies travel with its last part.
#[derive(Debug)]
pub struct ForwardedPart {
    pub origin: usize,
    pub token: u32,
    pub txid: TxId,
    pub first: (Vec<u8>, Vec<u32>),
    pub last: CmdBatch,
}

/// The token of a job nobody waits for (one-way releases).
pub const NO_TOKEN: u32 = u32::MAX;

#[derive(Debug)]
pub struct Job {
    pub token: u32,
    pub db: usize,
    pub kind: JobKind,
}

#[derive(Debug)]
pub enum JobOutput {
    /// Encoded replies; `ends[i]` is where command i's reply ends.
    Replies {
        data: Vec<u8>,
        ends: Vec<u32>,
    },
    Op(OpResult),
    /// A forwarded two-shard step: the replies of its first and last parts.
    Stepped {
        first: (Vec<u8>, Vec<u32>),
        last: (Vec<u8>, Vec<u32>),
    },
    Locked,
    Released,
    Clients(Vec<ClientState>),
    Counters(CoreCounters),
    Snapshot(crate::runtime::snapshot::SnapshotState),
    PersistFacts {
        dirty: u64,
        aof_bytes: u64,
        snapshot_bytes: u64,
    },
    /// A job with nothing to report (ApplyConfig, ResetStats).
    Done,
    Metrics(super::gather::MetricsOutput),
}

/// Everything one core sends another in one tick.
pub struct Request {
    pub from: usize,
    pub jobs: Vec<Job>,
}

/// The answers to one [`Request`], in the same order.
pub struct Response {
    pub results: Vec<(u32, JobOutput)>,
}

/// Progress of a command batch: replies so far and the next command to run.
#[derive(Debug, Default)]
pub struct BatchProgress {
    pub next: usize,
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
    pub errors: u64,
}

/// Runs the commands of `batch` from `progress.next` on, through the one
/// batch runner (cmd/batch.rs). Stops before the first command whose keys are
/// locked by another transaction (`is_locked`) and returns false; returns
/// true when the batch is complete.
pub fn run_cmd_batch(
    shard: &mut crate::shard::Shard,
    db: usize,
    now_ms: u64,
    batch: &CmdBatch,
    progress: &mut BatchProgress,
    is_locked: impl Fn(usize, &[u8]) -> bool,
) -> bool {
    let ctx = BatchCtx {
        db,
        now_ms,
        resp3: batch.resp3,
        txid: batch.txid,
        client: match &batch.client {
            Some(i) => ClientWho::Remote(i),
            None => ClientWho::Nobody,
        },
    };
    let mut cursor = Cursor {
        next: progress.next,
        errors: progress.errors,
    };
    let done = run_batch(
        shard,
        batch,
        &ctx,
        &mut cursor,
        &mut progress.data,
        Some(&mut progress.ends),
        is_locked,
    );
    progress.next = cursor.next;
    progress.errors = cursor.errors;
    done
}

impl BatchCmds for CmdBatch {
    fn count(&self) -> usize {
        self.cmds.len()
    }

    fn entry(&self, i: usize) -> Option<(&'static CommandSpec, Args<'_>, bool)> {
        let c = self.cmds[i];
        Some((c.spec, self.args(i), c.part))
    }
}

/// Applies a shard op (the runtime's one entry point), inside transaction
/// `txid`'s journal group when given.
pub fn run_op(
    shard: &mut crate::shard::Shard,
    db: usize,
    now_ms: u64,
    op: ShardOp,
    txid: Option<TxId>,
) -> OpResult {
    let Some(txid) = txid else {
        return ops::apply(shard, db, now_ms, op);
    };
    shard.begin_tx_part(txid);
    let result = ops::apply(shard, db, now_ms, op);
    shard.end_tx_part();
    result
}
