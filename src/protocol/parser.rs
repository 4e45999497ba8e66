//! Request parser: RESP multibulk and inline commands, with Redis 7.0's limits and
//! error texts.
//!
//! The parser is a pure function over a byte slice: it either finds one complete
//! command at the given position, reports that more bytes are needed
//! ([`ParseOutcome::Incomplete`] is a normal value, not an error), or returns a
//! [`ProtocolError`] after which the connection must reply and close, exactly where
//! Redis would. RESP arguments are recorded as spans into the caller's buffer;
//! inline arguments are unescaped into the caller's side buffer.

use super::args::{Span, INLINE_BIT};
use std::fmt;

/// Longest inline request / count line Redis accepts before giving up (64 KiB).
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Protocol limits (config `proto-max-bulk-len`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bulk_len: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
        }
    }
}

/// What one parse attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseOutcome {
    /// Not enough bytes yet; nothing was consumed.
    Incomplete,
    /// Bytes that hold no command (empty inline line, `*0`, `*-1`).
    Empty { consumed: usize },
    /// A command of `argc` arguments whose spans were appended.
    Command { consumed: usize, argc: usize },
}

/// A protocol violation; the text follows `-ERR Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    TooBigMbulkCount,
    TooBigBulkCount,
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error reply's text after `-`, bytes as Redis sends them: the byte
    /// found instead of `$` is echoed raw (0x80-0xFF too, never re-encoded).
    pub fn reply_text(&self) -> Vec<u8> {
        let mut text = b"ERR Protocol error: ".to_vec();
        match self {
            ProtocolError::ExpectedDollar(c) => {
                text.extend_from_slice(b"expected '$', got '");
                text.push(*c);
                text.push(b'\'');
            }
            other => text.extend_from_slice(other.to_string().as_bytes()),
        }
        text
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::TooBigMbulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::ExpectedDollar(c) => {
                write!(f, "expected '$', got '{}'", c.escape_ascii())
            }
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
        }
    }
}

/// Parses one command starting at `buf[pos..]`.
///
/// On `Command`, `argc` spans were pushed onto `spans` (absolute offsets into `buf`,
/// or into `inline` when flagged). On any other outcome `spans` is unchanged.
pub fn parse_command(
    buf: &[u8],
    pos: usize,
    inline: &mut Vec<u8>,
    spans: &mut Vec<Span>,
    limits: &Limits,
) -> Result<ParseOutcome, ProtocolError> {
    if pos >= buf.len() {
        return Ok(ParseOutcome::Incomplete);
    }
    if buf[pos] == b'*' {
        let mark = spans.len();
        let result = parse_multibulk(buf, pos, spans, limits);
        if !matches!(result, Ok(ParseOutcome::Command { .. })) {
            spans.truncate(mark);
        }
        result
    } else {
        parse_inline(buf, pos, inline, spans)
    }
}

/// Finds `\r` from `from` and requires the `\n` after it; returns the `\r` index.
/// `None` means incomplete; `too_big` is returned when the line grew past the limit.
/// As Redis's strchr(), the search ends at a NUL byte: such a line never completes.
fn find_line(
    buf: &[u8],
    from: usize,
    too_big: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    match memchr_cr(&buf[from..]).filter(|&off| buf[from + off] == b'\r') {
        None => {
            if buf.len() - from > PROTO_INLINE_MAX_SIZE {
                Err(too_big)
            } else {
                Ok(None)
            }
        }
        Some(off) => {
            let cr = from + off;
            if cr + 1 >= buf.len() {
                Ok(None)
            } else {
                Ok(Some(cr))
            }
        }
    }
}

/// The first `\r` or NUL.
#[inline]
fn memchr_cr(hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == b'\r' || b == 0)
}

/// How far a multibulk request has been parsed (Redis keeps the same in its
/// client: `multibulklen` and `bulklen`), so that a request arriving in many
/// reads is parsed once in total, not again from its start on every read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Arguments the count line announced.
    pub argc: usize,
    /// Arguments parsed so far (their spans were pushed).
    pub parsed: usize,
    /// Offset of the first byte not parsed yet: the next argument's `$` line,
    /// or its payload when `bulk` is set.
    pub next: usize,
    /// The announced length of the next argument once its `$` line was read.
    pub bulk: Option<usize>,
}

impl Progress {
    /// True once every argument was parsed.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.parsed == self.argc
    }
}

/// Reads the count line of the multibulk at `buf[pos]` (a `*`): `Ok(None)` when
/// incomplete, `Empty` outcomes as `Err(Ok(consumed))`.
#[inline(always)]
fn multibulk_header(
    buf: &[u8],
    pos: usize,
) -> Result<Option<Result<Progress, usize>>, ProtocolError> {
    let Some(cr) = find_line(buf, pos, ProtocolError::TooBigMbulkCount)? else {
        return Ok(None);
    };
    let count = match parse_i64(&buf[pos + 1..cr]) {
        Some(n) if n <= i32::MAX as i64 => n,
        _ => return Err(ProtocolError::InvalidMultibulkLength),
    };
    let next = cr + 2;
    if count <= 0 {
        return Ok(Some(Err(next - pos)));
    }
    Ok(Some(Ok(Progress {
        argc: count as usize,
        parsed: 0,
        next,
        bulk: None,
    })))
}

/// The progress of the multibulk at `buf[pos]` right after its count line
/// (`None` when that line is incomplete or announces no arguments).
pub(super) fn multibulk_progress(
    buf: &[u8],
    pos: usize,
) -> Result<Option<Progress>, ProtocolError> {
    match multibulk_header(buf, pos)? {
        Some(Ok(p)) => Ok(Some(p)),
        _ => Ok(None),
    }
}

fn parse_multibulk(
    buf: &[u8],
    pos: usize,
    spans: &mut Vec<Span>,
    limits: &Limits,
) -> Result<ParseOutcome, ProtocolError> {
    let mut p = match multibulk_header(buf, pos)? {
        None => return Ok(ParseOutcome::Incomplete),
        Some(Err(consumed)) => return Ok(ParseOutcome::Empty { consumed }),
        Some(Ok(p)) => p,
    };
    if parse_args(buf, &mut p, spans, limits)? {
        Ok(ParseOutcome::Command {
            consumed: p.next - pos,
            argc: p.argc,
        })
    } else {
        Ok(ParseOutcome::Incomplete)
    }
}

/// Parses arguments from `p.next` on, pushing a span for each complete one;
/// returns true once all `p.argc` are in. On an incomplete argument `p` says
/// where to resume (its `$` line is never read twice).
#[inline(always)]
pub fn parse_args(
    buf: &[u8],
    p: &mut Progress,
    spans: &mut Vec<Span>,
    limits: &Limits,
) -> Result<bool, ProtocolError> {
    while p.parsed < p.argc {
        let len = match p.bulk {
            Some(len) => len,
            None => {
                let at = p.next;
                let Some(cr) = find_line(buf, at, ProtocolError::TooBigBulkCount)? else {
                    return Ok(false);
                };
                if buf[at] != b'$' {
                    return Err(ProtocolError::ExpectedDollar(buf[at]));
                }
                let len = match parse_i64(&buf[at + 1..cr]) {
                    Some(n) if n >= 0 && n <= limits.max_bulk_len => n as usize,
                    _ => return Err(ProtocolError::InvalidBulkLength),
                };
                p.next = cr + 2;
                p.bulk = Some(len);
                len
            }
        };
        let start = p.next;
        // Redis skips the two bytes after the payload without checking them.
        if buf.len() - start < len + 2 {
            return Ok(false);
        }
        spans.push(Span {
            start: start as u32,
            len: len as u32,
        });
        p.next = start + len + 2;
        p.bulk = None;
        p.parsed += 1;
    }
    Ok(true)
}

fn parse_inline(
    buf: &[u8],
    pos: usize,
    inline: &mut Vec<u8>,
    spans: &mut Vec<Span>,
) -> Result<ParseOutcome, ProtocolError> {
    // Redis finds the line's end with strchr(), which stops at a NUL byte: an
    // inline line with a NUL before its newline never ends, so the request waits
    // (replying nothing) until the buffer outgrows the inline limit.
    let end = buf[pos..].iter().position(|&b| b == b'\n' || b == 0);
    let Some(nl_off) = end.filter(|&off| buf[pos + off] == b'\n') else {
        if buf.len() - pos > PROTO_INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(ParseOutcome::Incomplete);
    };
    let nl = pos + nl_off;
    let line_end = if nl > pos && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let mark = spans.len();
    let inline_mark = inline.len();
    if let Err(e) = split_args(&buf[pos..line_end], inline, spans) {
        spans.truncate(mark);
        inline.truncate(inline_mark);
        return Err(e);
    }
    let consumed = nl + 1 - pos;
    let argc = spans.len() - mark;
    if argc == 0 {
        Ok(ParseOutcome::Empty { consumed })
    } else {
        Ok(ParseOutcome::Command { consumed, argc })
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline line the way redis-cli and Redis do (`sdssplitargs`): spaces
/// separate arguments; "double quotes" support `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a`
/// escapes; 'single quotes' support `\'`; a closing quote must be followed by a
/// space or the end of the line.
pub fn split_args(
    line: &[u8],
    out: &mut Vec<u8>,
    spans: &mut Vec<Span>,
) -> Result<(), ProtocolError> {
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let start = out.len();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            if in_dq {
                if p >= line.len() {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[p];
                if c == b'\\'
                    && p + 3 < line.len()
                    && line[p + 1] == b'x'
                    && hex_val(line[p + 2]).is_some()
                    && hex_val(line[p + 3]).is_some()
                {
                    out.push(
                        hex_val(line[p + 2]).unwrap_or(0) * 16 + hex_val(line[p + 3]).unwrap_or(0),
                    );
                    p += 3;
                } else if c == b'\\' && p + 1 < line.len() {
                    p += 1;
                    out.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if p + 1 < line.len() && !is_space(line[p + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else if in_sq {
                if p >= line.len() {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[p];
                if c == b'\\' && p + 1 < line.len() && line[p + 1] == b'\'' {
                    p += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < line.len() && !is_space(line[p + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else {
                if p >= line.len() {
                    break;
                }
                match line[p] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        p += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
            }
            p += 1;
        }
        spans.push(Span {
            start: start as u32 | INLINE_BIT,
            len: (out.len() - start) as u32,
        });
    }
}

/// Strict decimal parse as Redis's `string2ll`: optional '-', no '+', no leading
/// zeros (except "0"), no spaces, must fit in i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Args;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let (mut inline, mut spans, mut pos, mut out) = (Vec::new(), Vec::new(), 0, Vec::new());
        loop {
            match parse_command(input, pos, &mut inline, &mut spans, &Limits::default())? {
                ParseOutcome::Incomplete => return Ok(out),
                ParseOutcome::Empty { consumed } => pos += consumed,
                ParseOutcome::Command { consumed, argc } => {
                    let s = &spans[spans.len() - argc..];
                    let a = Args::new(input, &inline, s);
                    out.push((0..argc).map(|i| a.get(i).to_vec()).collect());
                    pos += consumed;
                }
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nSET a \"b c\\x41\" 'd\\'e'\r\n\r\n").unwrap();
        assert_eq!(cmds[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(
            cmds[1],
            vec![
                b"SET".to_vec(),
                b"a".to_vec(),
                b"b cA".to_vec(),
                b"d'e".to_vec()
            ]
        );
        assert_eq!(cmds.len(), 2);
    }

    #[test]
    fn incomplete_at_every_split() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_all(&full[..cut]).unwrap().len(), 0, "cut {cut}");
        }
        assert_eq!(parse_all(full).unwrap().len(), 1);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_all(b"*abc\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\nx\r\n"),
            Err(ProtocolError::ExpectedDollar(b'x'))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$536870913\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"SET \"a\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse_all(b"SET \"a\"b\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse_all(&vec![b'a'; 70000]),
            Err(ProtocolError::TooBigInline)
        );
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"-0"), None);
    }
}
