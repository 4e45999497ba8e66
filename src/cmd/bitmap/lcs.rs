//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest
//! common subsequence of two strings, a [`Gather`] (read both keys on
//! their shards, compute here, write nothing).
//!
//! As Redis 7.0: missing keys are empty strings; a key of another type
//! fails the command before its options are read; the table of the
//! dynamic programme (4 bytes a cell) may not exceed `proto-max-bulk-len`.
//! The walk back through the table (and so which subsequence and which
//! match ranges are reported, from the ends of the strings backwards)
//! follows Redis's tie-break: up in the first string only when that keeps
//! a strictly longer subsequence.

use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::ops::OpResult;
use crate::cmd::split::{gather_split_here, Gather, GatherWrite, Gathered, PartCtx, Split};
use crate::cmd::string::MAX_STRING_LEN;
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::value::EncodingLimits;
use crate::shard::Shard;

pub const LCS_SPLIT: Split = Split::Gather(&Gather {
    sources: |_| Ok(vec![1, 2]),
    extra: |_| Vec::new(),
    read: read_strings,
    combine,
    key_flags: &["RO", "access"],
});

pub(super) fn lcs(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    gather_split_here(ctx, args, LCS_SPLIT)
}

/// Both keys' bytes (lookups counted as Redis's `lookupKeyRead`).
fn read_strings(shard: &mut Shard, p: &PartCtx) -> OpResult {
    let mut lists = Vec::with_capacity(p.args.len());
    for key in p.args {
        match shard.get_counted(p.db, key, p.now_ms) {
            None => lists.push(None),
            Some(e) => match e.value.as_str() {
                Some(mut s) => lists.push(Some(vec![s.with(<[u8]>::to_vec)])),
                None => {
                    return OpResult::Err(CmdError::Static(
                        "ERR The specified keys must contain string values",
                    ))
                }
            },
        }
    }
    OpResult::Lists(lists)
}

/// LCS's options.
#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    with_len: bool,
    min_len: u64,
}

fn parse(args: &Args) -> Result<Options, CmdError> {
    let mut o = Options::default();
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        if eq_ic(opt, "idx") {
            o.idx = true;
        } else if eq_ic(opt, "len") {
            o.len = true;
        } else if eq_ic(opt, "withmatchlen") {
            o.with_len = true;
        } else if eq_ic(opt, "minmatchlen") && j + 1 < args.len() {
            o.min_len = arg_i64(args.get(j + 1))?.max(0) as u64;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if o.len && o.idx {
        return Err(CmdError::Static(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// One run of matching bytes: (start, end) in each string, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub a: (u32, u32),
    pub b: (u32, u32),
}

impl Match {
    fn len(&self) -> u32 {
        self.a.1 - self.a.0 + 1
    }
}

/// The table of LCS lengths: cell (i, j) is the length for `a[..i]` and
/// `b[..j]`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    /// Fills the table, or Redis's error when it would be too big.
    fn build(a: &[u8], b: &[u8]) -> Result<Table, CmdError> {
        if a.len() as u64 >= u64::from(u32::MAX - 1) || b.len() as u64 >= u64::from(u32::MAX - 1) {
            return Err(CmdError::Static("ERR String too long for LCS"));
        }
        let (rows, width) = (a.len() + 1, b.len() + 1);
        let cells = (rows as u64).saturating_mul(width as u64);
        if cells.saturating_mul(4) > MAX_STRING_LEN {
            return Err(CmdError::Static(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ));
        }
        let mut v: Vec<u32> = Vec::new();
        if v.try_reserve_exact(cells as usize).is_err() {
            return Err(CmdError::Static(
                "ERR Insufficient memory, failed allocating transient memory for LCS",
            ));
        }
        v.resize(cells as usize, 0);
        for i in 1..rows {
            let (prev, row) = v[(i - 1) * width..(i + 1) * width].split_at_mut(width);
            for j in 1..width {
                row[j] = if a[i - 1] == b[j - 1] {
                    prev[j - 1] + 1
                } else {
                    prev[j].max(row[j - 1])
                };
            }
        }
        Ok(Table { cells: v, width })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

/// The subsequence and its match runs (from the ends backwards), as
/// Redis's walk finds them.
fn walk(a: &[u8], b: &[u8], t: &Table) -> (Vec<u8>, Vec<Match>) {
    let total = t.at(a.len(), b.len()) as usize;
    let mut seq = vec![0u8; total];
    let mut runs = Vec::new();
    let (mut i, mut j, mut k) = (a.len(), b.len(), total);
    let mut open: Option<Match> = None;
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            // Every step down the diagonal is one byte of the subsequence.
            k = k.saturating_sub(1);
            if let Some(c) = seq.get_mut(k) {
                *c = a[i - 1];
            }
            let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
            let run = match open {
                // A match right before the open run extends it backwards.
                Some(m) if m.a.0 == ai + 1 && m.b.0 == bj + 1 => Match {
                    a: (ai, m.a.1),
                    b: (bj, m.b.1),
                },
                _ => Match {
                    a: (ai, ai),
                    b: (bj, bj),
                },
            };
            i -= 1;
            j -= 1;
            if ai == 0 || bj == 0 {
                runs.push(run);
                open = None;
            } else {
                open = Some(run);
            }
        } else {
            if t.at(i - 1, j) > t.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if let Some(m) = open.take() {
                runs.push(m);
            }
        }
    }
    (seq, runs)
}

fn combine(
    args: &Args,
    _: &EncodingLimits,
    read: &Gathered,
    reply: &mut ReplyWriter,
) -> Result<Vec<GatherWrite>, CmdError> {
    let bytes = |i: usize| {
        read.get(i)
            .and_then(Option::as_ref)
            .and_then(|v| v.first())
            .map_or(&[][..], Vec::as_slice)
    };
    let (a, b) = (bytes(0), bytes(1));
    let o = parse(args)?;
    let table = Table::build(a, b)?;
    let total = table.at(a.len(), b.len());
    if o.len {
        reply.int(i64::from(total));
        return Ok(Vec::new());
    }
    let (seq, runs) = walk(a, b, &table);
    if !o.idx {
        reply.bulk(&seq);
        return Ok(Vec::new());
    }
    let kept: Vec<&Match> = runs
        .iter()
        .filter(|m| o.min_len == 0 || u64::from(m.len()) >= o.min_len)
        .collect();
    reply.map(2);
    reply.bulk(b"matches");
    reply.array(kept.len());
    for m in kept {
        reply.array(2 + usize::from(o.with_len));
        for (s, e) in [m.a, m.b] {
            reply.array(2);
            reply.int(i64::from(s));
            reply.int(i64::from(e));
        }
        if o.with_len {
            reply.int(i64::from(m.len()));
        }
    }
    reply.bulk(b"len");
    reply.int(i64::from(total));
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcs_of(a: &str, b: &str) -> (String, Vec<Match>) {
        let t = Table::build(a.as_bytes(), b.as_bytes()).unwrap();
        let (seq, runs) = walk(a.as_bytes(), b.as_bytes(), &t);
        (String::from_utf8(seq).unwrap(), runs)
    }

    #[test]
    fn redis_documentation_example() {
        let (seq, runs) = lcs_of("ohmytext", "mynewtext");
        assert_eq!(seq, "mytext");
        assert_eq!(
            runs,
            [
                Match {
                    a: (4, 7),
                    b: (5, 8)
                },
                Match {
                    a: (2, 3),
                    b: (0, 1)
                }
            ]
        );
        assert_eq!(lcs_of("", "abc").0, "");
        assert_eq!(lcs_of("abc", "abc").1.len(), 1);
    }

    #[test]
    fn table_size_is_limited() {
        let big = vec![b'a'; 12_000];
        assert!(Table::build(&big, &big).is_err());
        assert!(Table::build(&big, b"ab").is_ok());
    }
}
