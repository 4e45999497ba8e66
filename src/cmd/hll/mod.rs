//! HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST):
//! the group's table entries and the checks its handlers share.
//!
//! A HyperLogLog is a plain string holding Redis 7.0's exact bytes, so GET,
//! SET, DUMP, RDB and replication carry it unchanged and an HLL moves
//! between redis-server and ringkv either way. The layout is in [`repr`]
//! (header, dense registers) and [`sparse`] (the run-length encoding and
//! its in-place updates), the element hash in [`murmur`], the estimator in
//! [`estimate`]; the commands are in `commands` and `debug`.
//!
//! Strings come from clients, so every reader accepts any bytes: a string
//! that is not an HLL answers `WRONGTYPE Key is not a valid HyperLogLog
//! string value.`, a corrupt body `INVALIDOBJ Corrupted HLL object
//! detected`, never a panic. Where Redis is lenient with corrupt bodies
//! (each reader in its own way) ringkv is lenient alike.
//!
//! PFCOUNT over several keys and PFMERGE are a [`crate::cmd::split::Gather`]:
//! the raw strings are read, combined here (a pure function), and PFMERGE's
//! result is stored as `SET dest <bytes>`, so its journal record touches one
//! slot; the same steps run in the handler when every key is on one shard.
//! PFCOUNT of one key refreshes the cached cardinality in place; Redis
//! propagates the PFCOUNT, which ringkv's replay (writes only) refuses, so
//! it is journaled as the `SETRANGE` of the cache's 8 bytes. A PFADD that
//! fails on a corrupt body after changing it journals the new string.
//!
//! The reference is the redis-server 7.0.15 the tests run (Debian's, with
//! the CVE-2025-32023 fix): a sparse body with an opcode past the last
//! register is corrupt to every reader that decodes it whole.
//!
//! Known differences: an XZERO cut short by the string's end reads its
//! second byte as 0 (Redis reads past the end: its terminator, or a byte
//! an earlier split of the same opcode left there); commands that change
//! nothing leave an `embstr` HLL `embstr` (Redis unshares it to `raw`);
//! `COMMAND INFO` key-spec flags are the table's generic ones.

mod commands;
mod debug;
pub mod estimate;
pub mod murmur;
pub mod repr;
pub mod sparse;

use super::error::CmdError;
use super::table::{flag::*, spec, CommandSpec, Exec, NO_KEYS};
use crate::shard::value::Value;

const W_FAST: &[&str] = &["write", "hyperloglog", "fast"];
const W_SLOW: &[&str] = &["write", "hyperloglog", "slow"];
const R_SLOW: &[&str] = &["read", "hyperloglog", "slow"];
const ADMIN: &[&str] = &["write", "hyperloglog", "admin", "slow", "dangerous"];
const SELFTEST: &[&str] = &["hyperloglog", "admin", "slow", "dangerous"];

/// As Redis 7.0's `COMMAND INFO` and `COMMAND DOCS` report them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("hyperloglog", "pfadd", -2, WRITE | DENYOOM | FAST, (1, 1, 1), W_FAST, "Adds the specified elements to the specified HyperLogLog.", "2.8.9", Exec::Shard(commands::pfadd)),
    spec("hyperloglog", "pfcount", -2, READONLY, (1, -1, 1), R_SLOW, "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", "2.8.9", Exec::MultiKey(commands::pfcount, commands::PFCOUNT_SPLIT)),
    spec("hyperloglog", "pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), W_SLOW, "Merge N different HyperLogLogs into a single one.", "2.8.9", Exec::MultiKey(commands::pfmerge, commands::PFMERGE_SPLIT)),
    spec("hyperloglog", "pfdebug", 3, WRITE | DENYOOM | super::table::flag::ADMIN, (2, 2, 1), ADMIN, "Internal commands for debugging HyperLogLog values", "2.8.9", Exec::Shard(debug::pfdebug)),
    spec("hyperloglog", "pfselftest", 1, super::table::flag::ADMIN, NO_KEYS, SELFTEST, "An internal command for testing HyperLogLog values", "2.8.9", Exec::Conn(debug::pfselftest)),
];

/// `INVALIDOBJ`: an HLL whose body does not decode.
pub const INVALID: CmdError = CmdError::Static("INVALIDOBJ Corrupted HLL object detected");

/// A string that is not an HLL.
pub const NOT_HLL: CmdError =
    CmdError::Static("WRONGTYPE Key is not a valid HyperLogLog string value.");

/// Redis's `isHLLObjectOrReply` on a value: its bytes and encoding when it
/// is an HLL string, `WRONGTYPE` (of either kind) otherwise.
fn hll_of(value: &Value) -> Result<(&[u8], repr::Encoding), CmdError> {
    let s = value.as_string().ok_or(CmdError::WrongType)?;
    let bytes = s.as_slice().ok_or(NOT_HLL)?;
    let enc = repr::encoding_of(bytes).ok_or(NOT_HLL)?;
    Ok((bytes, enc))
}

/// The same check on what a gather read (see [`commands::read_strings`]):
/// None for a missing key.
fn hll_of_read(read: &Option<Vec<Vec<u8>>>) -> Result<Option<(&[u8], repr::Encoding)>, CmdError> {
    match read {
        None => Ok(None),
        Some(v) => {
            let bytes = v.first().ok_or(CmdError::WrongType)?;
            let enc = repr::encoding_of(bytes).ok_or(NOT_HLL)?;
            Ok(Some((bytes, enc)))
        }
    }
}
