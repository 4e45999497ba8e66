//! SORT and SORT_RO: their table entries, their options (`plan`) and their
//! steps (`engine`).
//!
//! A SORT whose `BY`/`GET` patterns name no key (no `*`, or `GET #`) reads
//! only its source and writes only its STORE key: it runs on their shard
//! when they share one, through the coordinator otherwise, like any
//! multi-key command. A pattern with a `*` names keys that may live on any
//! shard; with more than one shard such a SORT runs through the
//! coordinator with every shard locked (route/sort.rs), so it reads one
//! consistent keyspace, as Redis's does. Both paths run the steps of
//! `engine` in the same order; the handler here is the one-shard path.
//!
//! Differences from Redis 7.0, on purpose: `ALPHA` compares bytes (Redis
//! uses `strcoll`, the same in the C locale, except that C strings stop at
//! a NUL byte); SORT does not convert a packed sorted set to a skiplist.

pub mod engine;
pub mod plan;

use super::error::{CmdError, CmdResult};
use super::split::PartCtx;
use super::table::{flag::*, spec, CommandSpec, Exec, KeywordKey};
use super::ExecCtx;
use crate::cmd::ops::OpResult;
use crate::protocol::Args;
use bytes::Bytes;
use engine::Loaded;
use plan::SortPlan;

const ONE: (i32, i32, i32) = (1, 1, 1);
const W_ACL: &[&str] = &["write", "set", "sortedset", "list", "slow", "dangerous"];
const R_ACL: &[&str] = &["read", "set", "sortedset", "list", "slow", "dangerous"];

const BY_GET_NOTES: (&str, &[&str]) = ("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort", &["RO", "access"]);
const STORE_NOTES: (&str, &[&str]) = ("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array", &["OW", "update"]);

/// SORT's STORE key, and its key specs as Redis reports them.
static SORT_KEYS: KeywordKey = KeywordKey {
    keywords: &["STORE"],
    startfrom: 2,
    find: plan::store_key,
    unknown_specs: &[BY_GET_NOTES, STORE_NOTES],
};

/// SORT_RO names no key but its source; its patterns' spec as Redis's.
static SORT_RO_KEYS: KeywordKey = KeywordKey {
    keywords: &[],
    startfrom: 2,
    find: |_| None,
    unknown_specs: &[BY_GET_NOTES],
};

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("generic", "sort", -2, WRITE | DENYOOM, ONE, W_ACL, "Sort the elements in a list, set or sorted set", "1.0.0", Exec::MultiKey(sort, super::split::Split::Sort)).with_keyword_key(&SORT_KEYS),
    spec("generic", "sort_ro", -2, READONLY, ONE, R_ACL, "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0", Exec::MultiKey(sort_ro, super::split::Split::Sort)).with_keyword_key(&SORT_RO_KEYS),
];

/// Whether a SORT invocation's patterns name keys (see the module
/// comment); false when its options do not parse (the error is its reply,
/// wherever it runs).
pub fn reaches_keys(args: &Args) -> bool {
    let words: Vec<&[u8]> = (2..args.len()).map(|i| args.get(i)).collect();
    SortPlan::parse(&words, false).is_ok_and(|p| p.reaches_keys())
}

/// The plan of SORT (`readonly` false) or SORT_RO, from its arguments.
pub fn parse(args: &Args, readonly: bool) -> Result<SortPlan, CmdError> {
    let words: Vec<&[u8]> = (2..args.len()).map(|i| args.get(i)).collect();
    SortPlan::parse(&words, readonly)
}

/// Step 1's words: the key, then the options.
pub fn source_words(args: &Args) -> Vec<Bytes> {
    (1..args.len())
        .map(|i| Bytes::copy_from_slice(args.get(i)))
        .collect()
}

/// The source as step 1 read it, from its part's result.
pub fn loaded_of(r: OpResult) -> Result<Loaded, CmdError> {
    match r {
        OpResult::SortSource(l) => Ok(l),
        OpResult::Err(e) => Err(e),
        _ => Err(CmdError::Internal),
    }
}

fn sort(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    sort_here(ctx, args, false)
}

fn sort_ro(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    sort_here(ctx, args, true)
}

/// Every step on this shard: the router sends a SORT here only when every
/// key it reads or writes is this shard's.
fn sort_here(ctx: &mut ExecCtx, args: &Args, readonly: bool) -> CmdResult {
    let plan = parse(args, readonly)?;
    let (db, now_ms) = (ctx.db, ctx.now_ms);
    let words = source_words(args);
    let part = PartCtx {
        db,
        now_ms,
        args: &words,
    };
    let loaded = loaded_of(engine::read_source(ctx.shard, &part))?;
    let weights = engine::lookup_here(ctx.shard, db, now_ms, &plan.weight_lookups(&loaded));
    let selected = plan.order(loaded, weights)?;
    let values = engine::lookup_here(ctx.shard, db, now_ms, &plan.get_lookups(&selected));
    let output = plan.output(selected, values);
    match &plan.store {
        None => SortPlan::reply(&output, &mut ctx.reply),
        Some(dest) => {
            let words = engine::store_words(dest, output);
            let part = PartCtx {
                db,
                now_ms,
                args: &words,
            };
            match engine::store_part(ctx.shard, &part) {
                OpResult::Int(n) => ctx.reply.int(n),
                _ => return Err(CmdError::Internal),
            }
        }
    }
    Ok(())
}
