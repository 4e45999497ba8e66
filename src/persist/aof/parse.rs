//! Reading an AOF: lexing RESP records and annotations, grouping MULTI/EXEC
//! and `#TX` tags, telling a torn tail from corruption (see the module doc).

use super::*;

// ---------------------------------------------------------------- lexing

/// Why a piece of the file could not be read.
#[derive(Debug)]
enum Fail {
    /// The data ended inside it.
    Short,
    /// An unexpected byte at `at`: corrupt (zeros too: a crash cuts a file
    /// short, it does not write garbage, and Redis refuses them as well).
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

/// Reads one `$<len>\r\n<bytes>\r\n` at `pos`, at most `max_bulk` bytes.
fn read_bulk(data: &[u8], pos: usize, max_bulk: usize) -> Lexed<Vec<u8>> {
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
    let (len, start) = read_len(data, pos + 1, max_bulk)?;
    let body = start
        .checked_add(len)
        .and_then(|end| data.get(start..end))
        .ok_or(Fail::Short)?;
    let next = expect_crlf(data, start + len)?;
    Ok((body.to_vec(), next))
}

/// Reads one `*<n>\r\n` array of bulk strings at `pos`.
fn read_array(data: &[u8], pos: usize, max_bulk: usize) -> Lexed<Vec<Vec<u8>>> {
    let (n, mut p) = read_len(data, pos + 1, MAX_ARRAY_LEN)?;
    if n == 0 {
        return Err(Fail::Invalid("empty command".into()));
    }
    let mut args = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        let (arg, next) = read_bulk(data, p, max_bulk)?;
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
fn read_piece(data: &[u8], pos: usize, first: u8, max_bulk: usize) -> Lexed<Piece<'_>> {
    match first {
        b'*' => read_array(data, pos, max_bulk).map(|(args, next)| (Piece::Cmd(args), next)),
        b'#' => read_annotation(data, pos).map(|(line, next)| (Piece::Line(line), next)),
        _ => Err(Fail::Bad {
            at: pos,
            what: "expected '*' or '#'",
        }),
    }
}

/// Parses a whole append-only file (see the module doc for the rules), with
/// bulk strings of at most [`MAX_BULK_LEN`] bytes.
pub fn parse(data: &[u8]) -> Result<AofFile, AofError> {
    parse_with_limit(data, MAX_BULK_LEN)
}

/// [`parse`] accepting bulk strings of up to `max_bulk` bytes (the server's
/// `proto-max-bulk-len` when that is higher: it accepted such values).
pub fn parse_with_limit(data: &[u8], max_bulk: usize) -> Result<AofFile, AofError> {
    let mut g = Grouper::default();
    let mut pos = 0;
    let mut torn = false;
    while let Some(&first) = data.get(pos) {
        let (piece, next) = match read_piece(data, pos, first, max_bulk) {
            Ok(lexed) => lexed,
            Err(Fail::Short) => {
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
