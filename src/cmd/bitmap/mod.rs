//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS (in `bits`), BITOP
//! (`bitop`), BITFIELD and BITFIELD_RO (`bitfield`), and LCS (`lcs`, a
//! string command that reads two keys). The arithmetic lives apart from
//! the commands, as pure functions with their unit tests: bit ranges,
//! popcount and bit search in `scan`, bitfield integers and their
//! overflow modes in `field`.
//!
//! A bitmap is a Redis string (`Value::Str`): bit 0 is the most
//! significant bit of byte 0. Writes grow the string in place (its `raw`
//! form, as Redis's `dbUnshareStringValue` + `sdsgrowzero`), padding with
//! zero bytes, so GET gives back exactly Redis's bytes. Bit offsets are
//! limited to the bytes a string may hold (`proto-max-bulk-len`'s 512 MB
//! default, [`MAX_STRING_LEN`]).
//!
//! A write that changes nothing (SETBIT of a bit to its value, a BITFIELD
//! whose writes all fail or store what was there) does not mark the key
//! modified, so it is neither journaled nor seen by WATCH, as in Redis.
//! (Redis still converts such a string to `raw`; ringkv keeps its encoding.)
//!
//! BITOP and LCS are [`crate::cmd::split::Gather`]s: their source keys are
//! read on their shards, combined here, and BITOP's result stored on the
//! destination's shard (journaled as `SET` or `DEL` of that one key).
//!
//! Replies and error texts are Redis 7.0's byte for byte, RESP2 and RESP3.

mod bitfield;
mod bitop;
mod bits;
pub mod field;
mod lcs;
pub mod scan;

use super::error::CmdError;
use super::string::MAX_STRING_LEN;
use super::table::{flag::*, spec, CommandSpec, Exec};
use crate::protocol::parser::parse_i64;
use crate::shard::entry::EntryRef;
use crate::shard::value::Value;
use crate::shard::{EntryMut, Shard};

const ONE: (i32, i32, i32) = (1, 1, 1);
const R_FAST: &[&str] = &["read", "bitmap", "fast"];
const R_SLOW: &[&str] = &["read", "bitmap", "slow"];
const W_SLOW: &[&str] = &["write", "bitmap", "slow"];

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("bitmap", "setbit", 4, WRITE | DENYOOM, ONE, W_SLOW, "Sets or clears the bit at offset in the string value stored at key", "2.2.0", Exec::Shard(bits::setbit)),
    spec("bitmap", "getbit", 3, READONLY | FAST, ONE, R_FAST, "Returns the bit value at offset in the string value stored at key", "2.2.0", Exec::Shard(bits::getbit)),
    spec("bitmap", "bitcount", -2, READONLY, ONE, R_SLOW, "Count set bits in a string", "2.6.0", Exec::Shard(bits::bitcount)),
    spec("bitmap", "bitpos", -3, READONLY, ONE, R_SLOW, "Find first bit set or clear in a string", "2.8.7", Exec::Shard(bits::bitpos)),
    spec("bitmap", "bitop", -4, WRITE | DENYOOM, (2, -1, 1), W_SLOW, "Perform bitwise operations between strings", "2.6.0", Exec::MultiKey(bitop::bitop, bitop::BITOP_SPLIT)),
    spec("bitmap", "bitfield", -2, WRITE | DENYOOM, ONE, W_SLOW, "Perform arbitrary bitfield integer operations on strings", "3.2.0", Exec::Shard(bitfield::bitfield)),
    spec("bitmap", "bitfield_ro", -2, READONLY | FAST, ONE, R_FAST, "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "6.0.0", Exec::Shard(bitfield::bitfield_ro)),
    spec("string", "lcs", -3, READONLY, (1, 2, 1), &["read", "string", "slow"], "Find longest common substring", "7.0.0", Exec::MultiKey(lcs::lcs, lcs::LCS_SPLIT)),
];

const BAD_OFFSET: CmdError = CmdError::Static("ERR bit offset is not an integer or out of range");

/// A bit offset argument, as Redis's `getBitOffsetFromArgument`: a
/// non-negative integer whose byte is below [`MAX_STRING_LEN`]. With
/// `field_bits` (BITFIELD), `#n` means the n-th field of that width
/// (multiplied as C's 64-bit arithmetic does, wrapping).
fn bit_offset(arg: &[u8], field_bits: Option<u32>) -> Result<u64, CmdError> {
    let (digits, width) = match (arg.split_first(), field_bits) {
        (Some((b'#', rest)), Some(bits)) if bits > 0 => (rest, bits as i64),
        _ => (arg, 1),
    };
    let n = parse_i64(digits).ok_or(BAD_OFFSET)?.wrapping_mul(width);
    if n < 0 || (n as u64 >> 3) >= MAX_STRING_LEN {
        return Err(BAD_OFFSET);
    }
    Ok(n as u64)
}

/// A read lookup (Redis's `lookupKeyRead`, counting a hit or miss) that
/// requires a string: `WRONGTYPE` otherwise.
fn read_string<'s>(
    shard: &'s mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<EntryRef<'s>>, CmdError> {
    match shard.get_counted(db, key, now) {
        Some(e) if !e.value.is_string() => Err(CmdError::WrongType),
        found => Ok(found),
    }
}

/// The write lookup of SETBIT and BITFIELD (Redis's
/// `lookupStringForBitCommand`): `WRONGTYPE` for another type; a missing
/// key is created as an empty in-place string. The string is grown with
/// zero bytes to at least `len` bytes (marking the key modified only when
/// it grows), then `f` runs on it; its writes must be the ones that change.
fn write_string<R>(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    now: u64,
    len: usize,
    f: impl FnOnce(&mut EntryMut) -> R,
) -> Result<R, CmdError> {
    // One lookup when the key exists (the common case).
    if let Some(mut e) = shard.get_mut(db, key, now) {
        if !e.value.is_string() {
            return Err(CmdError::WrongType);
        }
        grow(&mut e, len);
        return Ok(f(&mut e));
    }
    shard.set(db, key, Value::raw(b""), 0);
    let mut e = shard.get_mut(db, key, now).ok_or(CmdError::Internal)?;
    grow(&mut e, len);
    Ok(f(&mut e))
}

fn grow(e: &mut EntryMut, len: usize) {
    if e.value.str_len().unwrap_or(0) < len {
        if let Some(buf) = e.value.make_raw() {
            buf.resize(len, 0);
        }
    }
}

/// The string's bytes, given to `f` (integers in their decimal form).
fn with_bytes<R>(v: &Value, f: impl FnOnce(&[u8]) -> R) -> R {
    match v.as_str() {
        Some(mut s) => s.with(f),
        None => f(b""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_as_redis_reads_them() {
        assert_eq!(bit_offset(b"0", None), Ok(0));
        assert_eq!(bit_offset(b"4294967295", None), Ok(4294967295));
        assert_eq!(bit_offset(b"4294967296", None), Err(BAD_OFFSET));
        assert_eq!(bit_offset(b"-1", None), Err(BAD_OFFSET));
        assert_eq!(bit_offset(b"#3", None), Err(BAD_OFFSET));
        assert_eq!(bit_offset(b"#3", Some(8)), Ok(24));
        assert_eq!(bit_offset(b"3", Some(8)), Ok(3));
        assert_eq!(bit_offset(b"#", Some(8)), Err(BAD_OFFSET));
        assert_eq!(bit_offset(b"", Some(8)), Err(BAD_OFFSET));
        assert_eq!(bit_offset(b"01", None), Err(BAD_OFFSET));
        // Wraps as C's multiplication does, then fails the range check.
        assert_eq!(
            bit_offset(b"#9223372036854775807", Some(64)),
            Err(BAD_OFFSET)
        );
        assert_eq!(bit_offset(b"#536870912", Some(8)), Err(BAD_OFFSET));
        assert_eq!(bit_offset(b"#536870911", Some(8)), Ok(4294967288));
    }
}
