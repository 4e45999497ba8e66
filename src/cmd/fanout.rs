//! How a keyspace-wide command fans out and merges, declared in its spec
//! (`Exec::FanOut(&FanOut)`) next to its handlers: DBSIZE, FLUSHDB,
//! FLUSHALL, SWAPDB (cmd/server.rs), KEYS, SCAN, RANDOMKEY
//! (cmd/generic/keyspace.rs). The router (route/global.rs) runs every
//! declaration the same way, so a new fan-out command is one declaration
//! and no arm in route/ or runtime/.
//!
//! A declaration is three functions and a [`Fan`]: `plan` validates the
//! arguments (its error is the reply, nothing runs) and says which db the
//! parts run in; `part` runs synchronously on one shard (a message to each
//! peer, inline on this core's shard) and returns plain data; `merge` writes
//! the reply from the parts' results, in shard order. What only the router
//! can do (locking every shard whole for a write, walking shards by a
//! cursor) is chosen by the `Fan`, not written per command.
//!
//! AOF replay runs a journaled fan-out write (FLUSHDB, FLUSHALL, SWAPDB) as
//! its `part` on the replaying shard (server/replay.rs).

use super::error::CmdError;
use super::ops::OpResult;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::Shard;
use bytes::Bytes;

/// Where a fan-out runs and how its parts are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fan {
    /// Every shard, in parallel (reads).
    Every,
    /// Every shard as one transaction: each shard locked whole, in ascending
    /// order, so no observer and no replay sees it done on some shards only
    /// (inside EXEC, the transaction's own locks cover it).
    EveryAtomic,
    /// Shard by shard, from the shard named by the cursor's top bits
    /// ([`SCAN_SHARD_SHIFT`]), each part given the shard-local cursor and
    /// the count still wanted; stops at a part that returns a non-zero
    /// cursor, or once `count` results are in. `merge` gets one
    /// `OpResult::Scan` holding the next global cursor and every key.
    Walk,
    /// Server-wide state kept outside the keyspace (FUNCTION's libraries):
    /// when `plan` says it writes ([`FanPlan::server_write`]) the part runs
    /// on shard 0 alone, whose journal records it, so one core makes every
    /// change and the AOF holds it once; otherwise the part runs here.
    Server,
}

/// Bits of a walk's cursor below the shard number.
pub const SCAN_SHARD_SHIFT: u32 = 54;

/// Context a fan-out's `plan` reads.
pub struct FanEnv {
    /// The client's selected db.
    pub db: usize,
    pub databases: usize,
    pub shards: usize,
}

/// What `plan` decides: the db the parts run in and, for a [`Fan::Walk`],
/// the global cursor and the count wanted.
#[derive(Clone, Copy, Debug, Default)]
pub struct FanPlan {
    pub db: usize,
    pub cursor: u64,
    pub count: usize,
    /// A [`Fan::Server`] command that changes the server-wide state (and
    /// is replayed from the AOF).
    pub server_write: bool,
}

/// What a part sees on its shard.
pub struct FanPart<'a> {
    pub db: usize,
    pub now_ms: u64,
    /// The command's arguments (name first), as `Bytes` slices of the read buffer.
    pub args: &'a [Bytes],
    /// A walk's shard-local cursor and the count still wanted (0 otherwise).
    pub cursor: u64,
    pub count: usize,
}

pub type PlanFn = fn(&Args, &FanEnv) -> Result<FanPlan, CmdError>;
pub type FanPartFn = fn(&mut Shard, &FanPart) -> OpResult;
pub type FanMergeFn = fn(Vec<OpResult>, &mut ReplyWriter);

/// A keyspace-wide command's declaration.
pub struct FanOut {
    pub fan: Fan,
    pub plan: PlanFn,
    pub part: FanPartFn,
    pub merge: FanMergeFn,
}

impl std::fmt::Debug for FanOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FanOut({:?})", self.fan)
    }
}

/// A `plan` for commands that take no options: run in the client's db.
pub fn in_selected_db(_args: &Args, env: &FanEnv) -> Result<FanPlan, CmdError> {
    Ok(FanPlan {
        db: env.db,
        ..FanPlan::default()
    })
}

/// A `merge` adding up integer results (DBSIZE).
pub fn sum_merge(results: Vec<OpResult>, reply: &mut ReplyWriter) {
    let total: i64 = results
        .iter()
        .map(|r| if let OpResult::Int(n) = r { *n } else { 0 })
        .sum();
    reply.int(total);
}

/// A `merge` for writes done on every shard: `+OK`.
pub fn ok_merge(_results: Vec<OpResult>, reply: &mut ReplyWriter) {
    reply.ok();
}
