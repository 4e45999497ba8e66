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
//!   end of the data, a `MULTI` without `EXEC` at the end, or trailing zero
//!   bytes. More precisely, a malformed byte is a torn tail when nothing but
//!   zero bytes follows it. Parsing stops there and [`AofFile::valid_len`] is
//!   where the torn unit begins (truncate the file there before appending).
//! - Anything else malformed is corruption: an [`AofError`] at the offending
//!   unit's first byte. Lengths above [`MAX_ARRAY_LEN`] / [`MAX_BULK_LEN`] are
//!   always corruption, so a corrupt header cannot make the parser allocate.
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
    let mut int = itoa::Buffer::new();
    let value: &[u8] = match value {
        Value::Int(n) => int.format(*n).as_bytes(),
        Value::Bytes(b) => b,
    };
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

// ---------------------------------------------------------------- lexing

/// Why a piece of the file could not be read.
#[derive(Debug)]
enum Fail {
    /// The data ended inside it.
    Short,
    /// An unexpected byte at `at`: torn if only zeros follow it, else corrupt.
    Bad { at: usize, what: &'static str },
    /// Corrupt whatever follows (a length over the limits, an empty command).
    Invalid(String),
}

type Lexed<T> = Result<(T, usize), Fail>;

/// Reads `\r\n` at `pos`; returns the offset after it.
fn expect_crlf(data: &[u8], pos: usize) -> Result<usize, Fail> {
    let bad = |at| Fail::Bad {
        at,
        what: "expected CRLF",
    };
    match (data.get(pos), data.get(pos + 1)) {
        (None, _) | (Some(b'\r'), None) => Err(Fail::Short),
        (Some(b'\r'), Some(b'\n')) => Ok(pos + 2),
        (Some(b'\r'), Some(_)) => Err(bad(pos + 1)),
        (Some(_), _) => Err(bad(pos)),
    }
}

/// Reads `<decimal>\r\n` at `pos`, at most `max`.
fn read_len(data: &[u8], pos: usize, max: usize) -> Lexed<usize> {
    let mut n: usize = 0;
    let mut p = pos;
    loop {
        match data.get(p) {
            None => return Err(Fail::Short),
            Some(b'\r') if p > pos => return Ok((n, expect_crlf(data, p)?)),
            Some(&d) if d.is_ascii_digit() => {
                n = n.saturating_mul(10).saturating_add(usize::from(d - b'0'));
                if n > max {
                    return Err(Fail::Invalid(format!("length over the limit of {max}")));
                }
            }
            Some(_) => {
                return Err(Fail::Bad {
                    at: p,
                    what: "expected a decimal length",
                })
            }
        }
        p += 1;
    }
}

/// Reads one `$<len>\r\n<bytes>\r\n` at `pos`.
fn read_bulk(data: &[u8], pos: usize) -> Lexed<Vec<u8>> {
    match data.get(pos) {
        None => return Err(Fail::Short),
        Some(b'$') => {}
        Some(_) => {
            return Err(Fail::Bad {
                at: pos,
                what: "expected '$'",
            })
        }
    }
    let (len, start) = read_len(data, pos + 1, MAX_BULK_LEN)?;
    let body = start
        .checked_add(len)
        .and_then(|end| data.get(start..end))
        .ok_or(Fail::Short)?;
    let next = expect_crlf(data, start + len)?;
    Ok((body.to_vec(), next))
}

/// Reads one `*<n>\r\n` array of bulk strings at `pos`.
fn read_array(data: &[u8], pos: usize) -> Lexed<Vec<Vec<u8>>> {
    let (n, mut p) = read_len(data, pos + 1, MAX_ARRAY_LEN)?;
    if n == 0 {
        return Err(Fail::Invalid("empty command".into()));
    }
    let mut args = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        let (arg, next) = read_bulk(data, p)?;
        args.push(arg);
        p = next;
    }
    Ok((args, p))
}

/// Reads one `#...\r\n` line at `pos`; returns it without the CRLF.
fn read_annotation(data: &[u8], pos: usize) -> Lexed<&[u8]> {
    let limit = data.len().min(pos.saturating_add(MAX_ANNOTATION_LEN + 1));
    let rest = data.get(pos..limit).unwrap_or_default();
    let Some(i) = rest.iter().position(|&b| matches!(b, b'\r' | b'\n' | 0)) else {
        return if limit == data.len() {
            Err(Fail::Short)
        } else {
            Err(Fail::Invalid("annotation line too long".into()))
        };
    };
    let end = pos + i;
    if data.get(end) != Some(&b'\r') {
        return Err(Fail::Bad {
            at: end,
            what: "expected CRLF",
        });
    }
    let next = expect_crlf(data, end)?;
    Ok((rest.get(..i).unwrap_or_default(), next))
}

/// True when every byte after `at` is zero (or there is none).
fn only_zeros_after(data: &[u8], at: usize) -> bool {
    data.get(at.saturating_add(1)..)
        .is_none_or(|rest| rest.iter().all(|&b| b == 0))
}

// ---------------------------------------------------------------- parsing

/// A transaction whose `EXEC` has not been read yet.
struct OpenTx {
    offset: usize,
    tag: Option<String>,
    cmds: Vec<Command>,
}

/// Grouping state: turns commands and annotation lines into records.
#[derive(Default)]
struct Grouper {
    file: AofFile,
    /// A `#TX` line (offset, tag) waiting for its `MULTI`.
    pending_tag: Option<(usize, String)>,
    open: Option<OpenTx>,
    /// `#COMMIT` tags read inside an unfinished unit.
    staged_commits: Vec<String>,
}

impl Grouper {
    fn on_line(&mut self, offset: usize, line: &[u8]) -> Result<(), AofError> {
        self.pending_tag = None;
        if let Some(tag) = line.strip_prefix(TX_PREFIX) {
            self.pending_tag = Some((offset, parse_tag(offset, tag)?));
        } else if let Some(tag) = line.strip_prefix(COMMIT_PREFIX) {
            self.staged_commits.push(parse_tag(offset, tag)?);
        }
        Ok(())
    }

    fn on_command(&mut self, cmd: Command) -> Result<(), AofError> {
        let pending = self.pending_tag.take();
        if cmd.is("MULTI") {
            if self.open.is_some() {
                return Err(AofError::new(cmd.offset, "nested MULTI"));
            }
            let (offset, tag) = match pending {
                Some((offset, tag)) => (offset, Some(tag)),
                None => (cmd.offset, None),
            };
            self.open = Some(OpenTx {
                offset,
                tag,
                cmds: Vec::new(),
            });
        } else if cmd.is("EXEC") {
            let Some(tx) = self.open.take() else {
                return Err(AofError::new(cmd.offset, "EXEC without MULTI"));
            };
            self.file.records.push(Record::Tx {
                offset: tx.offset,
                tag: tx.tag,
                cmds: tx.cmds,
            });
        } else if let Some(tx) = &mut self.open {
            tx.cmds.push(cmd);
        } else {
            self.file.records.push(Record::Cmd(cmd));
        }
        Ok(())
    }

    /// True between units (no transaction open, no `#TX` waiting).
    fn at_boundary(&self) -> bool {
        self.open.is_none() && self.pending_tag.is_none()
    }

    /// Marks everything up to `pos` as valid; keeps the staged commits.
    fn commit_prefix(&mut self, pos: usize) {
        self.file.valid_len = pos;
        self.file.commits.extend(self.staged_commits.drain(..));
    }
}

fn parse_tag(offset: usize, tag: &[u8]) -> Result<String, AofError> {
    if !is_valid_tag(tag) {
        return Err(AofError::new(offset, "invalid transaction tag"));
    }
    Ok(tag.iter().map(|&b| char::from(b)).collect())
}

/// One lexed unit of the file.
enum Piece<'a> {
    /// A command's arguments.
    Cmd(Vec<Vec<u8>>),
    /// An annotation line without its CRLF.
    Line(&'a [u8]),
}

/// Lexes the piece starting at `pos` (the byte there is `first`).
fn read_piece(data: &[u8], pos: usize, first: u8) -> Lexed<Piece<'_>> {
    match first {
        b'*' => read_array(data, pos).map(|(args, next)| (Piece::Cmd(args), next)),
        b'#' => read_annotation(data, pos).map(|(line, next)| (Piece::Line(line), next)),
        _ => Err(Fail::Bad {
            at: pos,
            what: "expected '*' or '#'",
        }),
    }
}

/// Parses a whole append-only file (see the module doc for the rules).
pub fn parse(data: &[u8]) -> Result<AofFile, AofError> {
    let mut g = Grouper::default();
    let mut pos = 0;
    let mut torn = false;
    while let Some(&first) = data.get(pos) {
        let (piece, next) = match read_piece(data, pos, first) {
            Ok(lexed) => lexed,
            Err(Fail::Short) => {
                torn = true;
                break;
            }
            Err(Fail::Bad { at, .. }) if only_zeros_after(data, at) => {
                torn = true;
                break;
            }
            Err(Fail::Bad { at, what }) => {
                return Err(AofError::new(pos, format!("{what} (byte {at})")));
            }
            Err(Fail::Invalid(message)) => return Err(AofError::new(pos, message)),
        };
        match piece {
            Piece::Cmd(args) => g.on_command(Command { offset: pos, args })?,
            Piece::Line(line) => g.on_line(pos, line)?,
        }
        pos = next;
        if g.at_boundary() {
            g.commit_prefix(pos);
        }
    }
    if torn || !g.at_boundary() {
        g.file.torn_tail = Some(g.file.valid_len);
    }
    Ok(g.file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&[u8]]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.to_vec()).collect()
    }

    fn args_of(rec: &Record) -> Vec<Vec<Vec<u8>>> {
        match rec {
            Record::Cmd(c) => vec![c.args.clone()],
            Record::Tx { cmds, .. } => cmds.iter().map(|c| c.args.clone()).collect(),
        }
    }

    fn only_cmd(data: &[u8]) -> Vec<Vec<u8>> {
        let file = parse(data).unwrap();
        assert_eq!(file.records.len(), 1);
        assert_eq!(file.torn_tail, None);
        assert_eq!(file.valid_len, data.len());
        args_of(&file.records[0]).remove(0)
    }

    #[test]
    fn encodes_resp_arrays() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn every_encoder_round_trips() {
        let cases: Vec<(Vec<u8>, Vec<Vec<u8>>)> = vec![
            (enc(|o| encode_select(o, 7)), cmd(&[b"SELECT", b"7"])),
            (
                enc(|o| encode_set(o, b"k", &Value::Int(-12), 0)),
                cmd(&[b"SET", b"k", b"-12"]),
            ),
            (
                enc(|o| encode_set(o, b"k\r\n", &Value::Bytes(b"a\r\nb".to_vec()), 99)),
                cmd(&[b"SET", b"k\r\n", b"a\r\nb", b"PXAT", b"99"]),
            ),
            (enc(|o| encode_del(o, b"k")), cmd(&[b"DEL", b"k"])),
            (
                enc(|o| encode_pexpireat(o, b"k", 1234)),
                cmd(&[b"PEXPIREAT", b"k", b"1234"]),
            ),
            (enc(|o| encode_persist(o, b"k")), cmd(&[b"PERSIST", b"k"])),
            (enc(encode_flushdb), cmd(&[b"FLUSHDB"])),
            (enc(encode_flushall), cmd(&[b"FLUSHALL"])),
            (
                enc(|o| encode_swapdb(o, 1, 15)),
                cmd(&[b"SWAPDB", b"1", b"15"]),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(only_cmd(&bytes), want);
        }
    }

    fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    #[test]
    fn tagged_transaction_and_commit() {
        let data = enc(|o| {
            encode_tx_begin(o, "5f3a9c-1027");
            encode_set(o, b"a", &Value::Int(1), 0);
            encode_del(o, b"b");
            encode_tx_end(o);
            encode_commit(o, "5f3a9c-1027");
            encode_command(o, &[b"multi"]);
            encode_tx_end(o);
        });
        let file = parse(&data).unwrap();
        assert_eq!(file.torn_tail, None);
        assert_eq!(file.records.len(), 2);
        let Record::Tx { offset, tag, cmds } = &file.records[0] else {
            panic!("not a transaction: {:?}", file.records[0]);
        };
        assert_eq!((*offset, tag.as_deref()), (0, Some("5f3a9c-1027")));
        assert_eq!(cmds.len(), 2);
        assert!(cmds[1].is("del"));
        assert!(matches!(&file.records[1], Record::Tx { tag: None, cmds, .. } if cmds.is_empty()));
        assert!(file.commits.contains("5f3a9c-1027"));
    }

    #[test]
    fn tx_tag_only_attaches_to_the_next_multi() {
        let data = enc(|o| {
            o.extend_from_slice(b"#TX lost\r\n");
            encode_del(o, b"k");
            o.extend_from_slice(b"# a comment\r\n#TXT x y\r\n");
            encode_command(o, &[b"MULTI"]);
            encode_tx_end(o);
        });
        let file = parse(&data).unwrap();
        assert_eq!(file.records.len(), 2);
        assert!(matches!(&file.records[1], Record::Tx { tag: None, .. }));
        assert!(file.commits.is_empty());
    }

    /// A file of several units, with the offset where each unit ends and the
    /// record and commit counts once it is complete.
    fn sample() -> (Vec<u8>, Vec<(usize, usize, usize)>) {
        let mut out = Vec::new();
        let mut ends = vec![(0, 0, 0)];
        let mut unit = |out: &mut Vec<u8>, f: &dyn Fn(&mut Vec<u8>), recs: usize, commits| {
            f(out);
            ends.push((out.len(), recs, commits));
        };
        unit(&mut out, &|o| encode_select(o, 1), 1, 0);
        unit(
            &mut out,
            &|o| encode_set(o, b"key", &Value::Int(10), 5),
            2,
            0,
        );
        unit(
            &mut out,
            &|o| {
                encode_tx_begin(o, "t1");
                encode_set(o, b"x", &Value::Bytes(b"yy".to_vec()), 0);
                encode_del(o, b"key");
                encode_tx_end(o);
            },
            3,
            0,
        );
        unit(&mut out, &|o| o.extend_from_slice(b"# note\r\n"), 3, 0);
        unit(&mut out, &|o| encode_commit(o, "t1"), 3, 1);
        unit(&mut out, &encode_flushall, 4, 1);
        (out, ends)
    }

    #[test]
    fn torn_at_every_offset() {
        let (data, ends) = sample();
        let full = parse(&data).unwrap();
        for cut in 0..=data.len() {
            let file = parse(&data[..cut]).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            let &(end, recs, commits) = ends.iter().rev().find(|u| u.0 <= cut).unwrap();
            assert_eq!(file.valid_len, end, "cut {cut}");
            assert_eq!(file.records[..], full.records[..recs], "cut {cut}");
            assert_eq!(file.commits.len(), commits, "cut {cut}");
            let expect_torn = (end != cut).then_some(end);
            assert_eq!(file.torn_tail, expect_torn, "cut {cut}");
        }
    }

    #[test]
    fn torn_with_zero_padding_at_every_offset() {
        let (data, ends) = sample();
        for cut in 0..=data.len() {
            let mut padded = data[..cut].to_vec();
            padded.resize(cut + 100, 0);
            let file = parse(&padded).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            let &(end, recs, _) = ends.iter().rev().find(|u| u.0 <= cut).unwrap();
            assert_eq!(file.valid_len, end, "cut {cut}");
            assert_eq!(file.records.len(), recs, "cut {cut}");
            assert_eq!(file.torn_tail, Some(end), "cut {cut}");
        }
    }

    #[test]
    fn multi_without_exec_at_the_end_is_dropped() {
        let data = enc(|o| {
            encode_del(o, b"a");
            encode_tx_begin(o, "t9");
            encode_del(o, b"b");
            encode_commit(o, "t9");
        });
        let file = parse(&data).unwrap();
        assert_eq!(file.records.len(), 1);
        assert_eq!(file.torn_tail, Some(enc(|o| encode_del(o, b"a")).len()));
        assert!(
            file.commits.is_empty(),
            "a commit inside the torn tail counts"
        );
    }

    /// A clean file, then `bad` at `at`, then more records.
    fn corrupt_at(bad: &[u8]) -> (Vec<u8>, usize) {
        let mut data = enc(|o| {
            encode_select(o, 0);
            encode_del(o, b"k");
        });
        let at = data.len();
        data.extend_from_slice(bad);
        encode_flushall(&mut data);
        (data, at)
    }

    #[test]
    fn corruption_in_the_middle_reports_its_offset() {
        let cases: &[&[u8]] = &[
            b"x",
            b"\0",
            b"*1\r\n$3\r\nDELX",
            b"*1\r\n$x\r\nDEL\r\n",
            b"*z\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*2\r\n$3\r\nDEL\r\n:1\r\n",
            b"*1\r\n$3\r\nDEL\r",
            b"*1\r\n$4\r\nEXEC\r\n",
            b"#TX \r\n",
            b"#COMMIT a b\r\n",
            b"# bare LF\n",
            b"*99999999999\r\n",
            b"*1\r\n$999999999999\r\n",
        ];
        for bad in cases {
            let (data, at) = corrupt_at(bad);
            let err = parse(&data).unwrap_err();
            assert_eq!(
                err.offset,
                at,
                "{:?}: {err}",
                bad.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn nested_multi_is_corrupt() {
        let data = enc(|o| {
            encode_command(o, &[b"MULTI"]);
            encode_command(o, &[b"MULTI"]);
            encode_tx_end(o);
        });
        assert_eq!(parse(&data).unwrap_err().offset, 15);
    }

    #[test]
    fn over_limit_lengths_are_corrupt_even_at_the_end() {
        for bad in [&b"*1048577"[..], b"*1\r\n$536870913"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.offset, 0, "{err}");
        }
        // Within the limits, a length past the end of the data is a torn tail.
        let file = parse(b"*1\r\n$536870912\r\nab").unwrap();
        assert_eq!(file.torn_tail, Some(0));
    }

    #[test]
    fn garbage_before_zeros_is_torn() {
        let mut data = enc(|o| encode_del(o, b"k"));
        let len = data.len();
        data.extend_from_slice(b"x\0\0\0");
        let file = parse(&data).unwrap();
        assert_eq!((file.records.len(), file.torn_tail), (1, Some(len)));
        assert!(parse(b"\0\0\0").unwrap().records.is_empty());
        assert_eq!(parse(b"").unwrap().torn_tail, None);
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let (data, _) = sample();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..5000 {
            let mut bad = data.clone();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..bad.len());
                bad[i] = rng.gen();
            }
            let cut = rng.gen_range(0..=bad.len());
            for file in [parse(&bad), parse(&bad[..cut])].into_iter().flatten() {
                assert!(file.valid_len <= bad.len());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = parse(&data);
        }
    }

    #[test]
    fn error_display_names_the_offset() {
        let err = AofError::new(42, "empty command");
        assert_eq!(err.to_string(), "aof: empty command at offset 42");
    }
}
