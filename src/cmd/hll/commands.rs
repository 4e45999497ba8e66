//! PFADD, PFCOUNT and PFMERGE.
//!
//! PFADD edits the string in place. It only takes the string for writing
//! when a register rises (a dense check is a register compare; a sparse one
//! runs on a copy of at most `hll-sparse-max-bytes`), so an add that changes
//! nothing neither journals nor disturbs WATCH, as in Redis.
//!
//! PFCOUNT of one key answers the cached cardinality, or computes it and
//! stores it back (a write journaled as `SETRANGE key 8 <cache>`). PFCOUNT of
//! several keys and PFMERGE read the raw strings, combine them here in key
//! order (so the first bad key is the one reported, as Redis's loop does)
//! and PFMERGE stores the bytes Redis's in-place merge would leave.

use super::repr::{self, Encoding, HllBuf, HDR, REGISTERS};
use super::{estimate, hll_of, hll_of_read, murmur, sparse, INVALID};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::ExecCtx;
use crate::persist::aof::encode_set_argv;
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::{EncodingLimits, Value};
use crate::shard::Shard;
use bytes::Bytes;

pub const PFCOUNT_SPLIT: Split = Split::Gather(&Gather {
    sources: all_keys,
    extra: no_extra,
    read: read_strings,
    combine: combine_pfcount,
    key_flags: &["RO", "access"],
});

pub const PFMERGE_SPLIT: Split = Split::Gather(&Gather {
    sources: all_keys,
    extra: no_extra,
    read: read_strings,
    combine: combine_pfmerge,
    key_flags: &["RW", "access", "insert"],
});

fn all_keys(args: &Args) -> Result<Vec<usize>, CmdError> {
    Ok((1..args.len()).collect())
}

fn no_extra(_: &Args) -> Vec<usize> {
    Vec::new()
}

/// Adds one element to an HLL in `buf` (either encoding): whether a
/// register rose, or `INVALIDOBJ`.
fn add(buf: &mut impl HllBuf, element: &[u8], max_bytes: usize) -> Result<bool, CmdError> {
    let (index, count) = murmur::pattern(element);
    set(buf, index, count, max_bytes)
}

/// Raises register `index` to `count` in either encoding.
fn set(buf: &mut impl HllBuf, index: usize, count: u8, max_bytes: usize) -> Result<bool, CmdError> {
    match repr::encoding(buf) {
        Encoding::Dense => Ok(repr::raise_register(&mut buf[HDR..], index, count)),
        Encoding::Sparse => match sparse::raise(buf, index, count, max_bytes) {
            sparse::Raised::Raised => Ok(true),
            sparse::Raised::Unchanged => Ok(false),
            sparse::Raised::Invalid => Err(INVALID),
        },
    }
}

/// `PFADD key [element ...]`: 1 when the key was created or a register
/// rose, else 0.
pub fn pfadd(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    let max_bytes = ctx.shard.encoding_limits().hll_sparse_max_bytes;
    let elements = || args.iter_from(2);
    let Some(mut e) = ctx.shard.get_mut(db, key, now) else {
        let mut buf = sparse::empty();
        let added = elements().try_for_each(|el| add(&mut buf, el, max_bytes).map(drop));
        // Redis adds the key before the elements: it stays even when one fails.
        repr::invalidate(&mut buf);
        ctx.shard.set(db, key, Value::raw(&buf), 0);
        added?;
        ctx.reply.int(1);
        return Ok(());
    };
    let (bytes, enc) = hll_of(&e.value)?;
    let raised = match enc {
        Encoding::Dense => {
            let regs = &bytes[HDR..];
            let hits: Vec<(usize, u8)> = elements().map(murmur::pattern).collect();
            if hits.iter().all(|&(i, c)| c <= repr::get_register(regs, i)) {
                false
            } else {
                let buf = e.value.make_raw().ok_or(CmdError::WrongType)?;
                for (i, c) in hits {
                    repr::raise_register(&mut buf[HDR..], i, c);
                }
                repr::invalidate(buf);
                true
            }
        }
        Encoding::Sparse => {
            let mut scratch = bytes.to_vec();
            let mut raised = false;
            let mut failed = Ok(());
            for el in elements() {
                match add(&mut scratch, el, max_bytes) {
                    Ok(r) => raised |= r,
                    Err(err) => {
                        failed = Err(err);
                        break;
                    }
                }
            }
            if raised && failed.is_ok() {
                repr::invalidate(&mut scratch);
            }
            // A failing add keeps what the adds before it changed, as Redis.
            let changed = scratch != bytes;
            if changed {
                let buf = e.value.make_raw().ok_or(CmdError::WrongType)?;
                buf.clear();
                buf.extend_from_slice(&scratch);
            }
            if let Err(err) = failed {
                // Replay stops at a failing command: journal the new string.
                let expire_at = e.expire_at();
                drop(e);
                if changed {
                    journal_set(ctx.shard, db, key, &scratch, expire_at);
                }
                return Err(err);
            }
            raised
        }
    };
    ctx.reply.int(i64::from(raised));
    Ok(())
}

/// `PFCOUNT key [key ...]`.
pub fn pfcount(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    if args.len() > 2 {
        return gather_split_here(ctx, args, PFCOUNT_SPLIT);
    }
    let (db, now, key) = (ctx.db, ctx.now_ms, args.get(1));
    let Some(e) = ctx.shard.get_counted(db, key, now) else {
        ctx.reply.int(0);
        return Ok(());
    };
    let (bytes, enc) = hll_of(&e.value)?;
    if let Some(card) = repr::cached(bytes) {
        ctx.reply.int(card as i64);
        return Ok(());
    }
    let card = count_of(bytes, enc).ok_or(INVALID)?;
    if let Some(mut e) = ctx.shard.get_mut(db, key, now) {
        if let Some(buf) = e.value.make_raw() {
            repr::set_cached(buf, card);
        }
    }
    // Journaled as the cache's bytes written in place (Redis propagates the
    // PFCOUNT itself, which replay, taking only writes, would refuse).
    ctx.propagate(&[b"SETRANGE", key, b"8", &card.to_le_bytes()]);
    // Redis replies the u64 as a signed integer.
    ctx.reply.int(card as i64);
    Ok(())
}

/// `PFMERGE dest [source ...]`: the destination is a source too.
pub fn pfmerge(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    gather_split_here(ctx, args, PFMERGE_SPLIT)
}

/// The estimate of one HLL; None when its sparse body is corrupt.
fn count_of(bytes: &[u8], enc: Encoding) -> Option<u64> {
    let hist = match enc {
        Encoding::Dense => repr::dense_histogram(&bytes[HDR..]),
        Encoding::Sparse => match sparse::histogram(&bytes[HDR..]) {
            (h, true) => h,
            (_, false) => return None,
        },
    };
    Some(estimate::estimate(&hist))
}

/// Raises each of `max`'s registers to the HLL's (Redis's `hllMerge`);
/// false for a corrupt sparse body.
fn merge_into(max: &mut [u8; REGISTERS], bytes: &[u8], enc: Encoding) -> bool {
    match enc {
        Encoding::Dense => {
            let regs = &bytes[HDR..];
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(repr::get_register(regs, i));
            }
            true
        }
        Encoding::Sparse => sparse::for_each_value(&bytes[HDR..], |i, v| {
            max[i] = max[i].max(v);
        }),
    }
}

/// The read of PFCOUNT and PFMERGE on each shard: per key, None when
/// missing, its bytes as a one-element list for a string, an empty list
/// for another type (the combine answers `WRONGTYPE` in key order).
pub fn read_strings(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let lists = p
        .args
        .iter()
        .map(|key| {
            shard
                .get_counted(p.db, key, p.now_ms)
                .map(|e| match e.value.as_string() {
                    Some(s) => vec![s.with_bytes(<[u8]>::to_vec)],
                    None => Vec::new(),
                })
        })
        .collect();
    OpResult::Lists(lists)
}

/// The registers' union of every key read, in key order, and whether one
/// of them was dense.
fn union(read: &Gathered) -> Result<(Box<[u8; REGISTERS]>, bool), CmdError> {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut dense = false;
    for r in read {
        let Some((bytes, enc)) = hll_of_read(r)? else {
            continue;
        };
        dense |= enc == Encoding::Dense;
        if !merge_into(&mut max, bytes, enc) {
            return Err(INVALID);
        }
    }
    Ok((max, dense))
}

fn combine_pfcount(
    _: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let (max, _) = union(read)?;
    let mut hist = [0u32; 64];
    for &v in max.iter() {
        hist[(v & 63) as usize] += 1;
    }
    reply.int(estimate::estimate(&hist) as i64);
    Ok(Vec::new())
}

/// The destination's bytes after Redis's PFMERGE: its own string (or a new
/// sparse one), made dense when a source was, then raised register by
/// register to the union, the cache marked stale.
fn merged(
    dest: Option<&[u8]>,
    max: &[u8; REGISTERS],
    dense: bool,
    max_bytes: usize,
) -> Result<Vec<u8>, CmdError> {
    let mut buf = dest.map_or_else(sparse::empty, <[u8]>::to_vec);
    if dense && repr::encoding(&buf) == Encoding::Sparse && !sparse::to_dense(&mut buf) {
        return Err(INVALID);
    }
    for (i, &v) in max.iter().enumerate() {
        if v != 0 {
            // The destination decoded above, so an update cannot fail.
            let _ = set(&mut buf, i, v, max_bytes);
        }
    }
    repr::invalidate(&mut buf);
    Ok(buf)
}

fn combine_pfmerge(
    args: &Args,
    limits: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let (max, dense) = union(read)?;
    let dest = read
        .first()
        .and_then(|r| r.as_ref())
        .and_then(|v| v.first());
    let bytes = merged(
        dest.map(Vec::as_slice),
        &max,
        dense,
        limits.hll_sparse_max_bytes,
    )?;
    reply.ok();
    Ok(vec![GatherWrite {
        key: 1,
        apply: store_part,
        args: vec![Bytes::copy_from_slice(args.get(1)), Bytes::from(bytes)],
    }])
}

/// PFMERGE's write on the destination's shard: the key's string becomes
/// `args[1]`, its expiry kept; journaled as `SET key bytes [PXAT ms]`.
fn store_part(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let [key, bytes] = p.args else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |shard| {
        let expire_at = shard.peek(p.db, key, p.now_ms).map_or(0, |e| e.expire_at());
        shard.set(p.db, key, Value::raw(bytes), expire_at);
        journal_set(shard, p.db, key, bytes, expire_at);
    });
    OpResult::Ok
}

/// Journals `key`'s string as `SET key bytes [PXAT ms]` for the running
/// command.
fn journal_set(shard: &mut Shard, db: usize, key: &[u8], bytes: &[u8], expire_at: u64) {
    let mut argv: Vec<Vec<u8>> = Vec::new();
    encode_set_argv(key, bytes, expire_at, &mut |a| {
        argv = a.iter().map(|w| w.to_vec()).collect();
    });
    let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    shard.propagate(db, &argv);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts taken from redis-server 7.0.15: `PFADD k e0 … e{n-1}` then
    /// `PFCOUNT k`.
    #[test]
    fn estimates_match_redis() {
        for &(n, want) in REDIS_COUNTS {
            let mut buf = sparse::empty();
            for i in 0..n {
                add(&mut buf, format!("e{i}").as_bytes(), 3000).unwrap();
            }
            let enc = repr::encoding_of(&buf).unwrap();
            assert_eq!(count_of(&buf, enc), Some(want), "n = {n}");
        }
    }

    const REDIS_COUNTS: &[(usize, u64)] = &[
        (1, 1),
        (2, 2),
        (3, 3),
        (10, 10),
        (50, 50),
        (100, 100),
        (200, 200),
        (500, 506),
        (1000, 1008),
        (1500, 1509),
        (2000, 2000),
        (3000, 2979),
        (5000, 4968),
        (10000, 9973),
        (30000, 29797),
        (100000, 100853),
    ];
}
