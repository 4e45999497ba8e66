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

use crate::cmd::client::ClientState;
use crate::cmd::ops::{self, OpResult, ShardOp};
use crate::cmd::{run_on_shard, CommandSpec};
use crate::protocol::{Args, Span};
use bytes::Bytes;

/// Commands for one shard, executed in order with their replies concatenated.
#[derive(Debug)]
pub struct CmdBatch {
    pub data: Bytes,
    pub inline: Bytes,
    pub spans: Vec<Span>,
    /// (spec, first span, argc) per command.
    pub cmds: Vec<(&'static CommandSpec, u32, u32)>,
    pub resp3: bool,
}

/// Per-core counters a peer asks for (INFO).
#[derive(Debug, Default, Clone)]
pub struct CoreCounters {
    pub connected_clients: u64,
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
    /// The clients connected to this core (CLIENT LIST).
    Clients,
    /// This core's counters (INFO).
    Counters,
}

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
    Clients(Vec<ClientState>),
    Counters(CoreCounters),
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

/// Executes a command batch on `shard`.
pub fn run_cmd_batch(
    shard: &mut crate::shard::Shard,
    db: usize,
    now_ms: u64,
    batch: &CmdBatch,
) -> (Vec<u8>, Vec<u32>, u64) {
    let mut data = Vec::with_capacity(64 * batch.cmds.len());
    let mut ends = Vec::with_capacity(batch.cmds.len());
    let mut errors = 0;
    for &(spec, first, argc) in &batch.cmds {
        let spans = &batch.spans[first as usize..(first + argc) as usize];
        let args = Args::new(&batch.data, &batch.inline, spans);
        if !run_on_shard(shard, spec, &args, db, batch.resp3, now_ms, &mut data) {
            errors += 1;
        }
        ends.push(data.len() as u32);
    }
    (data, ends, errors)
}

/// Applies a shard op (thin wrapper so the runtime has one entry point).
pub fn run_op(shard: &mut crate::shard::Shard, db: usize, now_ms: u64, op: ShardOp) -> OpResult {
    ops::apply(shard, db, now_ms, op)
}
