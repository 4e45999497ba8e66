//! How a multi-key command runs when its keys live on several shards, as its
//! group file declares it next to its handler ([`Split`] in
//! `Exec::MultiKey(handler, split)`). The router (route/multikey.rs,
//! route/segment.rs) reads only these declarations: adding SMOVE, LMOVE or
//! SUNIONSTORE is one declaration in its group file, no arm in route/.
//!
//! Two shapes are generic:
//! - [`SplitParts`]: the same command over each shard's keys (MGET, MSET,
//!   DEL, EXISTS, ...). `split` cuts the arguments into per-shard parts that
//!   join the pipeline's coordinated step; `merge` joins the parts' encoded
//!   replies into the command's one reply. Both are pure (unit-tested on the
//!   3-shard harness).
//! - [`Guarded`]: a check on every shard, then (when the merged check allows
//!   it) a write on every shard, all in one transaction (MSETNX). Each step is
//!   a [`PartFn`] run on its shard over that shard's arguments.
//!
//! - [`Gather`]: read the source keys on their shards, combine what was
//!   read on the connection's core with a pure function, then write the
//!   result on the shards of the written keys, all in one transaction
//!   (SINTER/SUNION/SDIFF and their STORE forms, SINTERCARD, SMOVE).
//!
//! RENAME, RENAMENX and COPY move a value between two shards; their plan is
//! still route/multikey.rs's (`Split::Rename`, `Split::Copy`).
//!
//! Everything here is synchronous and knows nothing of cores or messages.

use super::error::CmdError;
use super::ops::OpResult;
use crate::protocol::{Args, ReplyWriter, Span};
use crate::shard::Shard;
use crate::slot::SlotTable;
use bytes::Bytes;

/// One shard's parts of a split command: (shard, the part's argument spans:
/// the command name, then that shard's keys or key-value pairs), shards in
/// order of first appearance.
pub type Parts = Vec<(usize, Vec<Span>)>;

/// Cuts a command into per-shard [`Parts`]; an error is the command's reply
/// (nothing runs).
pub type SplitFn = fn(SlotTable, &Args) -> Result<Parts, CmdError>;

/// Writes the command's reply from its parts' replies (in the order of its
/// `split`): Some(true) for a success, Some(false) when a part's error is
/// the reply, None when the parts' replies do not fit the command (nothing
/// written; the router answers an internal error).
pub type MergeFn = fn(SlotTable, &Args, &[&[u8]], &mut Vec<u8>) -> Option<bool>;

/// What a step of a [`Guarded`] command sees on its shard: the db, the
/// clock, and that shard's arguments (keys, or key-value pairs).
pub struct PartCtx<'a> {
    pub db: usize,
    pub now_ms: u64,
    pub args: &'a [Bytes],
}

/// A step run on one shard, returning plain data for the coordinator.
pub type PartFn = fn(&mut Shard, &PartCtx) -> OpResult;

/// The same command over each shard's keys.
pub struct SplitParts {
    pub split: SplitFn,
    pub merge: MergeFn,
    /// The key-spec flags `COMMAND INFO` reports for a write (`RM delete`,
    /// `OW update`).
    pub key_flags: &'static [&'static str],
}

/// Check every shard, then write every shard, as one transaction.
pub struct Guarded {
    /// Argument words per key (1: keys, 2: key-value pairs).
    pub per_key: usize,
    /// Validates the arguments before anything runs.
    pub check_args: fn(&Args) -> Result<(), CmdError>,
    /// Runs on each shard first; `proceed` reads every result.
    pub check: PartFn,
    pub proceed: fn(&[OpResult]) -> bool,
    /// Runs on each shard when `proceed` said so.
    pub apply: PartFn,
    /// The reply, given whether `apply` ran.
    pub reply: fn(bool, &mut ReplyWriter),
    pub key_flags: &'static [&'static str],
}

/// One write of a [`Gather`]: `apply` on the shard owning argument `key`,
/// over `args` (the key first).
pub struct GatherWrite {
    pub key: usize,
    pub apply: PartFn,
    pub args: Vec<Bytes>,
}

/// What a [`Gather`] read: per source key (in `sources` order), its
/// elements, None when the key does not exist.
pub type Gathered = [Option<Vec<Vec<u8>>>];

/// The pure step of a [`Gather`]: from the arguments, the encoding limits
/// and what was read, writes the reply and returns the writes to make (an
/// error is the reply, nothing is written).
pub type CombineFn = fn(
    &Args,
    &crate::shard::value::EncodingLimits,
    &Gathered,
    &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError>;

/// Read on every shard, combine here, write where the result goes, as one
/// transaction.
pub struct Gather {
    /// Validates the arguments and names the keys to read (argument indexes).
    pub sources: fn(&Args) -> Result<Vec<usize>, CmdError>,
    /// Argument indexes appended, after its keys, to every shard's read.
    pub extra: fn(&Args) -> Vec<usize>,
    /// Runs on each shard over its source keys (then the extra words):
    /// `OpResult::Lists`, one entry per key, or an error.
    pub read: PartFn,
    pub combine: CombineFn,
    pub key_flags: &'static [&'static str],
}

/// How a multi-key command is split when its keys live on several shards.
#[derive(Clone, Copy)]
pub enum Split {
    /// The same command per shard, merged ([`SplitParts`]).
    Parts(&'static SplitParts),
    /// A check on every shard, then a write on every shard ([`Guarded`]).
    Guarded(&'static Guarded),
    /// Read, combine, write ([`Gather`]).
    Gather(&'static Gather),
    /// RENAME / RENAMENX: move the value between shards (route/multikey.rs).
    Rename { nx: bool },
    /// COPY: copy the value between shards, DB and REPLACE options.
    Copy,
    /// SORT / SORT_RO: the source read, lookups on every shard their
    /// patterns name, the store (cmd/sort, route/sort.rs).
    Sort,
    /// EVAL and its kin: a script run with every shard locked, reaching
    /// other shards' keys (cmd/script, route/script.rs).
    Script,
}

impl Split {
    /// The key-spec flags a write declares, when its split says them.
    pub fn key_flags(&self) -> Option<&'static [&'static str]> {
        match self {
            Split::Parts(p) => Some(p.key_flags),
            Split::Guarded(g) => Some(g.key_flags),
            Split::Gather(g) => Some(g.key_flags),
            Split::Rename { .. } | Split::Copy | Split::Sort | Split::Script => None,
        }
    }
}

impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Parts(_) => "Split::Parts",
            Split::Guarded(_) => "Split::Guarded",
            Split::Gather(_) => "Split::Gather",
            Split::Rename { .. } => "Split::Rename",
            Split::Copy => "Split::Copy",
            Split::Sort => "Split::Sort",
            Split::Script => "Split::Script",
        })
    }
}

/// [`gather_here`] for a command declared as `split` (a [`Split::Gather`]).
pub fn gather_split_here(
    ctx: &mut super::ExecCtx,
    args: &Args,
    split: Split,
) -> Result<(), CmdError> {
    match split {
        Split::Gather(g) => gather_here(ctx, args, g),
        _ => Err(CmdError::Internal),
    }
}

/// Runs a [`Gather`] inside its handler, when every key is on this shard:
/// the same read, combine and writes the coordinator runs across shards.
pub fn gather_here(ctx: &mut super::ExecCtx, args: &Args, g: &Gather) -> Result<(), CmdError> {
    let keys = (g.sources)(args)?;
    let words: Vec<Bytes> = keys
        .iter()
        .chain((g.extra)(args).iter())
        .map(|&i| Bytes::copy_from_slice(args.get(i)))
        .collect();
    let (db, now_ms) = (ctx.db, ctx.now_ms);
    let part = PartCtx {
        db,
        now_ms,
        args: &words,
    };
    let lists = match (g.read)(ctx.shard, &part) {
        OpResult::Lists(l) => l,
        OpResult::Err(e) => return Err(e),
        _ => return Err(CmdError::Internal),
    };
    let limits = ctx.shard.encoding_limits();
    for w in (g.combine)(args, &limits, &lists, &mut ctx.reply)? {
        let part = PartCtx {
            db,
            now_ms,
            args: &w.args,
        };
        (w.apply)(ctx.shard, &part);
    }
    Ok(())
}

/// Groups the command's key arguments (each with `per_key - 1` following
/// words) by owning shard: one part per shard, the command name first, in
/// order of first appearance. The caller checks that the words pair up.
pub fn by_shard(slots: SlotTable, args: &Args, per_key: usize) -> Parts {
    let spans = args.spans();
    let mut parts: Parts = Vec::new();
    let per_key = per_key.max(1);
    for k in (1..args.len()).step_by(per_key) {
        let Some(words) = spans.get(k..k + per_key) else {
            break;
        };
        let shard = slots.shard_of(args.get(k));
        match parts.iter_mut().find(|p| p.0 == shard) {
            Some(p) => p.1.extend_from_slice(words),
            None => {
                let mut part = vec![spans[0]];
                part.extend_from_slice(words);
                parts.push((shard, part));
            }
        }
    }
    parts
}

/// Copies the first error among `replies` to `out`; true if there was one.
pub fn first_error(replies: &[&[u8]], out: &mut Vec<u8>) -> bool {
    match replies.iter().find(|r| r.first() == Some(&b'-')) {
        Some(err) => {
            out.extend_from_slice(err);
            true
        }
        None => false,
    }
}

/// The sum of integer replies (`:n\r\n`); None when one is not an integer.
pub fn sum_ints(replies: &[&[u8]]) -> Option<i64> {
    replies.iter().try_fold(0i64, |total, r| {
        let n = r.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
        Some(total.saturating_add(crate::protocol::parser::parse_i64(n)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_errors() {
        assert_eq!(sum_ints(&[b":2\r\n", b":0\r\n", b":5\r\n"]), Some(7));
        assert_eq!(sum_ints(&[b":2\r\n", b"+OK\r\n"]), None);
        let mut out = Vec::new();
        assert!(first_error(&[b":1\r\n", b"-ERR x\r\n"], &mut out));
        assert_eq!(out, b"-ERR x\r\n");
    }
}
