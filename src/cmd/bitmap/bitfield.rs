//! BITFIELD and BITFIELD_RO: a list of GET / SET / INCRBY operations on
//! integer fields of one string, with OVERFLOW switching the mode of the
//! writes after it (the integers themselves are `field`'s).
//!
//! As Redis: every operation is parsed before anything runs (so a bad one
//! fails the whole command), then the key is checked; with any write the
//! string is created or grown, once, to hold the farthest field written,
//! even when every write then fails under OVERFLOW FAIL. A command of
//! GETs only is a read (a missing key reads as zeros) and never creates
//! the key. BITFIELD_RO refuses writes after parsing them.

use super::field::{self, FieldType, Overflow, Write};
use super::{bit_offset, read_string, with_bytes, write_string};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::Value;

/// One parsed operation.
struct Op {
    ty: FieldType,
    offset: u64,
    /// None for a GET.
    write: Option<Write>,
    overflow: Overflow,
}

/// The operations of `args[2..]`, and the last bit any write reaches.
fn parse(args: &Args) -> Result<(Vec<Op>, Option<u64>), CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut reach: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let (sub, left) = (args.get(j), args.len() - j - 1);
        let kind = if eq_ic(sub, "get") && left >= 2 {
            0
        } else if eq_ic(sub, "set") && left >= 3 {
            1
        } else if eq_ic(sub, "incrby") && left >= 3 {
            2
        } else if eq_ic(sub, "overflow") && left >= 1 {
            let mode = args.get(j + 1);
            overflow = if eq_ic(mode, "wrap") {
                Overflow::Wrap
            } else if eq_ic(mode, "sat") {
                Overflow::Sat
            } else if eq_ic(mode, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::Static("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let ty = FieldType::parse(args.get(j + 1))?;
        let offset = bit_offset(args.get(j + 2), Some(ty.bits))?;
        let write = match kind {
            0 => None,
            _ => {
                let last = offset + u64::from(ty.bits) - 1;
                reach = Some(reach.map_or(last, |r| r.max(last)));
                let v = arg_i64(args.get(j + 3))?;
                Some(if kind == 1 {
                    Write::Set(v)
                } else {
                    Write::IncrBy(v)
                })
            }
        };
        ops.push(Op {
            ty,
            offset,
            write,
            overflow,
        });
        j += if write.is_some() { 4 } else { 3 };
    }
    Ok((ops, reach))
}

pub(super) fn bitfield(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    run(ctx, args, false)
}

pub(super) fn bitfield_ro(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    run(ctx, args, true)
}

fn run(ctx: &mut ExecCtx, args: &Args, read_only: bool) -> CmdResult {
    let (ops, reach) = parse(args)?;
    let Some(reach) = reach else {
        return gets(ctx, args, &ops);
    };
    if read_only {
        return Err(CmdError::Static(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let len = (reach >> 3) as usize + 1;
    write_string(shard, *db, args.get(1), *now_ms, len, |e| {
        reply.array(ops.len());
        for op in &ops {
            let old = with_bytes(&e.value, |p| field::get(p, op.offset, op.ty));
            let Some(w) = op.write else {
                reply.int(old);
                continue;
            };
            match field::apply(op.ty, op.overflow, old, w) {
                None => reply.null(),
                Some((new, answer)) => {
                    reply.int(answer);
                    if new != old {
                        write_field(&mut e.value, op, new);
                    }
                }
            }
        }
    })
}

/// Stores a changed field (the string is in place and long enough).
fn write_field(v: &mut Value, op: &Op, new: i64) {
    if let Some(buf) = v.make_raw() {
        field::set(buf, op.offset, op.ty, new);
    }
}

/// A command of GETs only: a read of the key.
fn gets(ctx: &mut ExecCtx, args: &Args, ops: &[Op]) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let found = read_string(shard, *db, args.get(1), *now_ms)?;
    let answer = |reply: &mut ReplyWriter, p: &[u8]| {
        reply.array(ops.len());
        for op in ops {
            reply.int(field::get(p, op.offset, op.ty));
        }
    };
    match found {
        Some(e) => with_bytes(&e.value, |p| answer(reply, p)),
        None => answer(reply, b""),
    }
    Ok(())
}
