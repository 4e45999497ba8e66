//! SETBIT, GETBIT, BITCOUNT and BITPOS: single bits and bit ranges of one
//! string. Arguments are checked in Redis's order, which decides which
//! error a bad call gets: SETBIT reads its offset, then its bit, then the
//! key; BITCOUNT and BITPOS look the key up first (a missing key answers
//! before its range is read), then read `start`, and BITPOS reads its
//! `BYTE|BIT` word before `end`.

use super::scan::{count_ones, first_bit, resolve, Unit};
use super::{bit_offset, read_string, with_bytes, write_string};
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::parser::parse_i64;
use crate::protocol::Args;

const BAD_BIT: CmdError = CmdError::Static("ERR bit is not an integer or out of range");

/// The mask of bit `offset` within its byte (bit 0 is the top bit).
fn mask_of(offset: u64) -> u8 {
    0x80 >> (offset & 7)
}

pub(super) fn setbit(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let offset = bit_offset(args.get(2), None)?;
    let on = match parse_i64(args.get(3)).ok_or(BAD_BIT)? {
        0 => false,
        1 => true,
        _ => return Err(BAD_BIT),
    };
    let (byte, mask) = ((offset >> 3) as usize, mask_of(offset));
    let (db, now) = (ctx.db, ctx.now_ms);
    let old = write_string(ctx.shard, db, args.get(1), now, byte + 1, |e| {
        let old = with_bytes(&e.value, |b| b.get(byte).is_some_and(|v| v & mask != 0));
        // Write only a change (growing the string marked it modified).
        if old != on {
            if let Some(v) = e.value.make_raw().and_then(|buf| buf.get_mut(byte)) {
                *v ^= mask;
            }
        }
        old
    })?;
    ctx.reply.int(i64::from(old));
    Ok(())
}

pub(super) fn getbit(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let offset = bit_offset(args.get(2), None)?;
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let bit = match read_string(shard, *db, args.get(1), *now_ms)? {
        None => false,
        Some(e) => with_bytes(&e.value, |b| {
            b.get((offset >> 3) as usize)
                .is_some_and(|v| v & mask_of(offset) != 0)
        }),
    };
    reply.int(i64::from(bit));
    Ok(())
}

/// The `BYTE|BIT` word of a range.
fn unit_of(arg: &[u8]) -> Result<Unit, CmdError> {
    if eq_ic(arg, "bit") {
        Ok(Unit::Bit)
    } else if eq_ic(arg, "byte") {
        Ok(Unit::Byte)
    } else {
        Err(CmdError::Syntax)
    }
}

pub(super) fn bitcount(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let Some(e) = read_string(shard, *db, args.get(1), *now_ms)? else {
        reply.int(0);
        return Ok(());
    };
    let n = with_bytes(&e.value, |p| -> Result<u64, CmdError> {
        let range = match args.len() {
            2 => resolve(p.len(), 0, -1, Unit::Byte),
            4 | 5 => {
                let (start, end) = (arg_i64(args.get(2))?, arg_i64(args.get(3))?);
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let unit = match args.len() {
                    5 => unit_of(args.get(4))?,
                    _ => Unit::Byte,
                };
                resolve(p.len(), start, end, unit)
            }
            _ => return Err(CmdError::Syntax),
        };
        Ok(range.map_or(0, |(first, last)| count_ones(p, first, last)))
    })?;
    reply.int(n as i64);
    Ok(())
}

pub(super) fn bitpos(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let bit = match arg_i64(args.get(2))? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::Static("ERR The bit argument must be 1 or 0.")),
    };
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let Some(e) = read_string(shard, *db, args.get(1), *now_ms)? else {
        // A missing key is an endless run of zeros.
        reply.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let pos = with_bytes(&e.value, |p| -> Result<i64, CmdError> {
        let (range, end_given) = match args.len() {
            3 => (resolve(p.len(), 0, -1, Unit::Byte), false),
            4..=6 => {
                let start = arg_i64(args.get(3))?;
                let unit = match args.len() {
                    6 => unit_of(args.get(5))?,
                    _ => Unit::Byte,
                };
                let end = match args.len() {
                    4 => None,
                    _ => Some(arg_i64(args.get(4))?),
                };
                (
                    resolve(p.len(), start, end.unwrap_or(-1), unit),
                    end.is_some(),
                )
            }
            _ => return Err(CmdError::Syntax),
        };
        let Some((first, last)) = range else {
            return Ok(-1);
        };
        Ok(match first_bit(p, first, last, bit) {
            Some(pos) => pos as i64,
            // Without an end, the string is taken as followed by zeros.
            None if !bit && !end_given => last as i64 + 1,
            None => -1,
        })
    })?;
    reply.int(pos);
    Ok(())
}
