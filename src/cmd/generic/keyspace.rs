//! KEYS, SCAN and RANDOMKEY across shards: how each fans out and merges
//! (cmd/fanout.rs), over the per-shard halves in [`super::scan`]. The router
//! runs these declarations; it knows nothing of the three commands.
//!
//! - KEYS: every shard lists its matching keys; the lists are concatenated
//!   in shard order.
//! - SCAN: a walk from the shard named by the cursor's top bits; each shard
//!   scans from its local cursor; the router encodes the next global cursor.
//! - RANDOMKEY: every shard answers its db's size and one random key of it;
//!   the merge picks a shard weighted by size (so every key is equally
//!   likely), falling back to the other non-empty shards in order when the
//!   picked one had only expired keys.

use super::scan::{keys_in_shard, parse_scan_args, random_key, scan_shard};
use crate::cmd::error::CmdError;
use crate::cmd::fanout::{in_selected_db, Fan, FanEnv, FanOut, FanPart, FanPlan};
use crate::cmd::ops::OpResult;
use crate::protocol::args::OwnedArgs;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::Shard;

pub static KEYS: FanOut = FanOut {
    fan: Fan::Every,
    plan: in_selected_db,
    part: keys_part,
    merge: keys_merge,
};

pub static SCAN: FanOut = FanOut {
    fan: Fan::Walk,
    plan: scan_plan,
    part: scan_part,
    merge: scan_merge,
};

pub static RANDOMKEY: FanOut = FanOut {
    fan: Fan::Every,
    plan: in_selected_db,
    part: randomkey_part,
    merge: randomkey_merge,
};

fn keys_part(shard: &mut Shard, p: &FanPart) -> OpResult {
    let pattern = p.args.get(1).map_or(&b"*"[..], |b| b.as_ref());
    OpResult::Keys(keys_in_shard(shard, p.db, pattern, p.now_ms))
}

fn keys_merge(results: Vec<OpResult>, reply: &mut ReplyWriter) {
    let keys: Vec<Vec<u8>> = results
        .into_iter()
        .flat_map(|r| match r {
            OpResult::Keys(k) => k,
            _ => Vec::new(),
        })
        .collect();
    reply.array(keys.len());
    for k in &keys {
        reply.bulk(k);
    }
}

/// SCAN's arguments are checked once, before any shard is visited.
fn scan_plan(args: &Args, env: &FanEnv) -> Result<FanPlan, CmdError> {
    let parsed = parse_scan_args(args)?;
    Ok(FanPlan {
        db: env.db,
        cursor: parsed.cursor,
        count: parsed.count,
        ..FanPlan::default()
    })
}

fn scan_part(shard: &mut Shard, p: &FanPart) -> OpResult {
    let owned = OwnedArgs::from_parts(p.args.iter());
    let args = owned.args();
    let Ok(parsed) = parse_scan_args(&args) else {
        return OpResult::Err(CmdError::Internal);
    };
    let (next, keys) = scan_shard(
        shard,
        p.db,
        p.cursor,
        p.count,
        parsed.pattern,
        parsed.type_name,
        p.now_ms,
    );
    OpResult::Scan { next, keys }
}

fn scan_merge(results: Vec<OpResult>, reply: &mut ReplyWriter) {
    let (next, keys) = match results.into_iter().next() {
        Some(OpResult::Scan { next, keys }) => (next, keys),
        _ => (0, Vec::new()),
    };
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(keys.len());
    for k in &keys {
        reply.bulk(k);
    }
}

fn randomkey_part(shard: &mut Shard, p: &FanPart) -> OpResult {
    OpResult::Sampled {
        len: shard.db(p.db).len() as u64,
        key: random_key(shard, p.db, p.now_ms),
    }
}

fn randomkey_merge(results: Vec<OpResult>, reply: &mut ReplyWriter) {
    let samples: Vec<(u64, Option<Vec<u8>>)> = results
        .into_iter()
        .map(|r| match r {
            OpResult::Sampled { len, key } => (len, key),
            _ => (0, None),
        })
        .collect();
    match pick_weighted(samples, rand::random::<u64>()) {
        Some(k) => reply.bulk(&k),
        None => reply.null(),
    }
}

/// The key of the shard that `draw` (uniform over u64) picks in proportion
/// to the shards' sizes; when that shard had no live key, the first other
/// non-empty shard's that had one.
fn pick_weighted(mut samples: Vec<(u64, Option<Vec<u8>>)>, draw: u64) -> Option<Vec<u8>> {
    let total: u64 = samples.iter().map(|s| s.0).sum();
    if total == 0 {
        return None;
    }
    let mut pick = draw % total;
    let mut first = 0;
    for (s, (n, _)) in samples.iter().enumerate() {
        if pick < *n {
            first = s;
            break;
        }
        pick -= n;
    }
    if let Some(k) = samples.get_mut(first).and_then(|s| s.1.take()) {
        return Some(k);
    }
    samples.into_iter().filter(|s| s.0 > 0).find_map(|s| s.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randomkey_picks_by_size_and_falls_back() {
        let k = |s: &str| Some(s.as_bytes().to_vec());
        assert_eq!(pick_weighted(vec![(0, None), (0, None)], 7), None);
        let samples = || vec![(1, k("a")), (0, None), (3, k("c"))];
        assert_eq!(pick_weighted(samples(), 0), k("a"));
        for draw in 1..4 {
            assert_eq!(pick_weighted(samples(), draw), k("c"));
        }
        // The picked shard had only expired keys: the next non-empty one.
        assert_eq!(pick_weighted(vec![(2, None), (1, k("b"))], 0), k("b"));
    }
}
