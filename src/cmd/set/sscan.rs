//! SSCAN: an intset is answered whole with cursor 0 (as Redis does); a
//! table is walked with its reverse-binary bucket cursor (set/table.rs),
//! which never misses a member present for the whole scan.

use super::read_set;
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::generic::scan::parse_cursor;
use crate::cmd::glob::glob_match;
use crate::cmd::{arg_i64, eq_ic, ExecCtx};
use crate::protocol::Args;

pub fn sscan(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let cursor = parse_cursor(args.get(2)).ok_or(CmdError::InvalidCursor)?;
    let ExecCtx {
        shard,
        reply,
        db,
        now_ms,
    } = ctx;
    let Some(set) = read_set(shard, *db, args.get(1), *now_ms)? else {
        reply.array(2);
        reply.bulk(b"0");
        reply.array(0);
        return Ok(());
    };
    // Options after the key is found, as Redis's scanGenericCommand.
    let (mut count, mut pattern) = (10usize, None);
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if eq_ic(args.get(i), "count") && has_value {
            let n = arg_i64(args.get(i + 1))?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(args.get(i), "match") && has_value {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = set.scan(cursor, count, |m| {
        m.with(|b| {
            if pattern.is_none_or(|p| glob_match(p, b, false)) {
                found.push(b.to_vec());
            }
        })
    });
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(found.len());
    found.iter().for_each(|m| reply.bulk(m));
    Ok(())
}
