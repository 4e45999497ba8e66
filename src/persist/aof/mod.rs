//! The append-only file format: Redis AOF, i.e. RESP arrays of bulk strings,
//! plus `#` annotation lines that tag transactions and mark them committed.
//!
//! ```text
//! *<n>\r\n { $<len>\r\n <len bytes> \r\n }      one command (n >= 1 arguments)
//! #TX <tag>\r\n                                 tags the MULTI that follows it
//! *1\r\n$5\r\nMULTI\r\n ... *1\r\n$4\r\nEXEC\r\n  one transaction
//! #COMMIT <tag>\r\n                             the transaction <tag> committed
//! #<anything else>\r\n                          ignored
//! ```
//!
//! Redis's own loader skips lines starting with `#`, so every file written here
//! stays a valid Redis AOF. Tags are 1..=64 printable ASCII bytes without spaces.
//!
//! [`parse`] reads a whole file into [`Record`]s and never panics:
//!
//! - A *unit* is a command outside a transaction, an annotation line, or a
//!   whole transaction (its `#TX` line, `MULTI`, commands, `EXEC`).
//! - A *torn tail* is what a crash leaves at the end: a unit cut short by the
//!   end of the data, or a `MULTI` without `EXEC` at the end. Parsing stops
//!   there and [`AofFile::valid_len`] is where the torn unit begins (truncate
//!   the file there before appending).
//! - Anything else malformed is corruption: an [`AofError`] at the offending
//!   unit's first byte. That includes zero bytes (a zero-filled tail is not
//!   what a torn write leaves; Redis refuses it too). Lengths above
//!   [`MAX_ARRAY_LEN`] / the bulk limit ([`MAX_BULK_LEN`], or the server's
//!   higher `proto-max-bulk-len`) are always corruption, so a corrupt header
//!   cannot make the parser allocate.
//! - `#COMMIT` tags only count when their line lies before `valid_len`.

use crate::shard::value::Value;
use std::collections::HashSet;
use std::fmt;

/// The longest bulk string accepted (Redis's `proto-max-bulk-len` default).
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// The most arguments one command may have.
pub const MAX_ARRAY_LEN: usize = 1024 * 1024;
/// The longest annotation line accepted, CRLF excluded.
pub const MAX_ANNOTATION_LEN: usize = 4096;
/// The longest transaction tag accepted.
pub const MAX_TAG_LEN: usize = 64;

const TX_PREFIX: &[u8] = b"#TX ";
const COMMIT_PREFIX: &[u8] = b"#COMMIT ";

// ---------------------------------------------------------------- encoders

/// Appends one command as a RESP array of bulk strings.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    push_header(out, b'*', args.len());
    for arg in args {
        push_header(out, b'$', arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_header(out: &mut Vec<u8>, prefix: u8, n: usize) {
    out.push(prefix);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `SELECT db`.
pub fn encode_select(out: &mut Vec<u8>, db: usize) {
    let mut n = itoa::Buffer::new();
    encode_command(out, &[b"SELECT", n.format(db).as_bytes()]);
}

/// Appends `SET key value`, with `PXAT expire_at_ms` unless it is 0 (no expiry).
/// Integer values are written as their decimal text.
pub fn encode_set(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at_ms: u64) {
    let Some(mut value) = value.as_str() else {
        return;
    };
    value.with(|value| encode_set_bytes(out, key, value, expire_at_ms));
}

fn encode_set_bytes(out: &mut Vec<u8>, key: &[u8], value: &[u8], expire_at_ms: u64) {
    if expire_at_ms == 0 {
        encode_command(out, &[b"SET", key, value]);
    } else {
        let mut ms = itoa::Buffer::new();
        let ms = ms.format(expire_at_ms).as_bytes();
        encode_command(out, &[b"SET", key, value, b"PXAT", ms]);
    }
}

/// Appends `DEL key`.
pub fn encode_del(out: &mut Vec<u8>, key: &[u8]) {
    encode_command(out, &[b"DEL", key]);
}

/// Appends `PEXPIREAT key ms`.
pub fn encode_pexpireat(out: &mut Vec<u8>, key: &[u8], ms: u64) {
    let mut n = itoa::Buffer::new();
    encode_command(out, &[b"PEXPIREAT", key, n.format(ms).as_bytes()]);
}

/// Appends `PERSIST key`.
pub fn encode_persist(out: &mut Vec<u8>, key: &[u8]) {
    encode_command(out, &[b"PERSIST", key]);
}

/// Appends `FLUSHDB`.
pub fn encode_flushdb(out: &mut Vec<u8>) {
    encode_command(out, &[b"FLUSHDB"]);
}

/// Appends `FLUSHALL`.
pub fn encode_flushall(out: &mut Vec<u8>) {
    encode_command(out, &[b"FLUSHALL"]);
}

/// Appends `SWAPDB a b`.
pub fn encode_swapdb(out: &mut Vec<u8>, a: usize, b: usize) {
    let (mut x, mut y) = (itoa::Buffer::new(), itoa::Buffer::new());
    encode_command(
        out,
        &[b"SWAPDB", x.format(a).as_bytes(), y.format(b).as_bytes()],
    );
}

/// Appends the `#TX <tag>` line and `MULTI` that open a tagged transaction.
/// `tag` must satisfy [`is_valid_tag`].
pub fn encode_tx_begin(out: &mut Vec<u8>, tag: &str) {
    debug_assert!(is_valid_tag(tag.as_bytes()), "bad transaction tag {tag:?}");
    push_annotation(out, TX_PREFIX, tag);
    encode_command(out, &[b"MULTI"]);
}

/// Appends the `EXEC` that closes a transaction.
pub fn encode_tx_end(out: &mut Vec<u8>) {
    encode_command(out, &[b"EXEC"]);
}

/// Appends the `#COMMIT <tag>` line marking transaction `tag` committed.
/// `tag` must satisfy [`is_valid_tag`].
pub fn encode_commit(out: &mut Vec<u8>, tag: &str) {
    debug_assert!(is_valid_tag(tag.as_bytes()), "bad transaction tag {tag:?}");
    push_annotation(out, COMMIT_PREFIX, tag);
}

fn push_annotation(out: &mut Vec<u8>, prefix: &[u8], tag: &str) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// True for a usable transaction tag: 1..=64 printable ASCII bytes, no spaces.
pub fn is_valid_tag(tag: &[u8]) -> bool {
    !tag.is_empty() && tag.len() <= MAX_TAG_LEN && tag.iter().all(u8::is_ascii_graphic)
}

// ---------------------------------------------------------------- parsed form

/// One command read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Byte offset of the command's `*` in the file.
    pub offset: usize,
    /// The arguments, name first (never empty).
    pub args: Vec<Vec<u8>>,
}

impl Command {
    /// True when the command's name is `name` (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.args
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// One complete unit of the file that changes data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A command outside any transaction.
    Cmd(Command),
    /// A `MULTI` ... `EXEC` group.
    Tx {
        /// Offset of the group's first byte (its `#TX` line, else its `MULTI`).
        offset: usize,
        /// The tag of the `#TX` line right before `MULTI`, if any.
        tag: Option<String>,
        /// The commands between `MULTI` and `EXEC`.
        cmds: Vec<Command>,
    },
}

/// A parsed append-only file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AofFile {
    /// The complete records, in file order.
    pub records: Vec<Record>,
    /// Tags of every `#COMMIT` line before `valid_len`.
    pub commits: HashSet<String>,
    /// Length of the well-formed prefix; the file should be truncated here.
    pub valid_len: usize,
    /// `Some(valid_len)` when the file ends in a torn tail, else `None`.
    pub torn_tail: Option<usize>,
}

/// A corrupt file: `message` describes the unit starting at byte `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofError {
    /// Offset of the offending unit's first byte.
    pub offset: usize,
    /// What is wrong with it.
    pub message: String,
}

impl AofError {
    /// An error about the unit starting at `offset`.
    pub fn new(offset: usize, message: impl Into<String>) -> Self {
        AofError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for AofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aof: {} at offset {}", self.message, self.offset)
    }
}

impl std::error::Error for AofError {}

mod parse;
pub use parse::{parse, parse_with_limit};

#[cfg(test)]
mod tests;
