//! BITOP AND | OR | XOR | NOT destkey key…: a [`Gather`] that reads the
//! source strings on their shards, computes the result here (word-wise,
//! [`combine_strings`]) and stores it on the destination's shard.
//!
//! As Redis: a missing source is an empty string, shorter sources are
//! padded with zeros to the longest, the result replaces the destination
//! whatever its type (and drops its TTL) or deletes it when the result is
//! empty; the reply is the result's length. The stored string is `raw`,
//! as Redis builds it, and journaled as `SET dest value` (or `DEL dest`),
//! a record of the destination's slot alone.

use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::{eq_ic, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::{EncodingLimits, Value};
use crate::shard::Shard;
use bytes::Bytes;

pub const BITOP_SPLIT: Split = Split::Gather(&Gather {
    sources,
    extra: |_| Vec::new(),
    read: read_strings,
    combine,
    key_flags: &["OW", "update"],
});

pub(super) fn bitop(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    gather_split_here(ctx, args, BITOP_SPLIT)
}

/// The operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn parse_op(args: &Args) -> Result<BitOp, CmdError> {
    let name = args.get(1);
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .into_iter()
    .find(|(n, _)| eq_ic(name, n))
    .map(|(_, op)| op)
    .ok_or(CmdError::Syntax)?;
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::Static(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    Ok(op)
}

/// Checks the operation; the sources are the keys after the destination.
fn sources(args: &Args) -> Result<Vec<usize>, CmdError> {
    parse_op(args)?;
    Ok((3..args.len()).collect())
}

/// The read of BITOP's sources: each string's bytes (a lookup counted as
/// Redis's `lookupKeyRead`), `WRONGTYPE` for any other type.
fn read_strings(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let mut lists = Vec::with_capacity(p.args.len());
    for key in p.args {
        match shard.get_counted(p.db, key, p.now_ms) {
            None => lists.push(None),
            Some(e) => match e.value.as_str() {
                Some(mut s) => lists.push(Some(vec![s.with(<[u8]>::to_vec)])),
                None => return OpResult::Err(CmdError::WrongType),
            },
        }
    }
    OpResult::Lists(lists)
}

/// `dst[..] op= src[..]` over their common length, eight bytes at a time.
fn fold_words(dst: &mut [u8], src: &[u8], f: impl Fn(u64, u64) -> u64) {
    let n = dst.len().min(src.len());
    let (d8, s8) = (dst[..n].chunks_exact_mut(8), src[..n].chunks_exact(8));
    let tail = n - n % 8;
    for (d, s) in d8.zip(s8) {
        let a = u64::from_ne_bytes((&*d).try_into().unwrap_or([0; 8]));
        let b = u64::from_ne_bytes(s.try_into().unwrap_or([0; 8]));
        d.copy_from_slice(&f(a, b).to_ne_bytes());
    }
    for (d, s) in dst[tail..n].iter_mut().zip(&src[tail..n]) {
        *d = f(u64::from(*d), u64::from(*s)) as u8;
    }
}

/// The result of `op` over `srcs` (empty when every source is).
pub fn combine_strings(op: BitOp, srcs: &[&[u8]]) -> Vec<u8> {
    let max = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let Some((first, rest)) = srcs.split_first() else {
        return Vec::new();
    };
    let mut out = vec![0u8; max];
    out[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in rest {
                fold_words(&mut out, s, |a, b| a & b);
                // Past a shorter source, its zeros clear the result.
                out[s.len().min(max)..].fill(0);
            }
        }
        BitOp::Or => rest
            .iter()
            .for_each(|s| fold_words(&mut out, s, |a, b| a | b)),
        BitOp::Xor => rest
            .iter()
            .for_each(|s| fold_words(&mut out, s, |a, b| a ^ b)),
    }
    out
}

fn combine(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let op = parse_op(args)?;
    let srcs: Vec<&[u8]> = read
        .iter()
        .map(|l| {
            l.as_ref()
                .and_then(|v| v.first())
                .map_or(&[][..], Vec::as_slice)
        })
        .collect();
    let result = combine_strings(op, &srcs);
    reply.int(result.len() as i64);
    let mut words = vec![Bytes::copy_from_slice(args.get(2))];
    if !result.is_empty() {
        words.push(Bytes::from(result));
    }
    Ok(vec![GatherWrite {
        key: 2,
        apply: store,
        args: words,
    }])
}

/// The destination's write: `args` is the key, then the result (none: the
/// key is deleted). Journaled as one `SET` or `DEL` of that key.
fn store(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let Some((key, value)) = p.args.split_first() else {
        return OpResult::Err(CmdError::Internal);
    };
    shard.journaled(p.now_ms, |shard| match value.first() {
        Some(v) => {
            shard.set(p.db, key, Value::raw(v), 0);
            shard.propagate(p.db, &[b"SET", key, v]);
        }
        None => {
            if shard.remove(p.db, key, p.now_ms).is_some() {
                shard.propagate(p.db, &[b"DEL", key]);
            }
        }
    });
    OpResult::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Byte by byte, as the operation is defined.
    fn slow(op: BitOp, srcs: &[&[u8]]) -> Vec<u8> {
        let max = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
        (0..max)
            .map(|i| {
                let at = |s: &[u8]| s.get(i).copied().unwrap_or(0);
                let mut v = at(srcs[0]);
                for s in &srcs[1..] {
                    v = match op {
                        BitOp::And => v & at(s),
                        BitOp::Or => v | at(s),
                        BitOp::Xor => v ^ at(s),
                        BitOp::Not => v,
                    };
                }
                if op == BitOp::Not {
                    !v
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn word_wise_matches_byte_wise() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for _ in 0..2000 {
            let op = [BitOp::And, BitOp::Or, BitOp::Xor, BitOp::Not][rng.gen_range(0..4)];
            let n = if op == BitOp::Not {
                1
            } else {
                rng.gen_range(1..5)
            };
            let srcs: Vec<Vec<u8>> = (0..n)
                .map(|_| (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect())
                .collect();
            let refs: Vec<&[u8]> = srcs.iter().map(Vec::as_slice).collect();
            assert_eq!(combine_strings(op, &refs), slow(op, &refs), "{op:?}");
        }
        assert!(combine_strings(BitOp::Or, &[b"", b""]).is_empty());
    }
}
