//! SSCAN: an intset is answered whole with cursor 0 (as Redis does); a
//! table is walked with its reverse-binary bucket cursor (set/table.rs),
//! which never misses a member present for the whole scan.

use super::read_set;
use crate::cmd::error::{CmdError, CmdResult};
use crate::cmd::generic::scan::{parse_cursor, parse_scan_options, scan_reply_head, ScanArgs};
use crate::cmd::glob::glob_match;
use crate::cmd::ExecCtx;
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
        scan_reply_head(reply, 0, 0);
        return Ok(());
    };
    // Options after the key is found, as Redis's scanGenericCommand.
    let ScanArgs { count, pattern, .. } = parse_scan_options(args, 3, false)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = set.scan(cursor, count, |m| {
        m.with(|b| {
            if pattern.is_none_or(|p| glob_match(p, b, false)) {
                found.push(b.to_vec());
            }
        })
    });
    scan_reply_head(reply, next, found.len());
    found.iter().for_each(|m| reply.bulk(m));
    Ok(())
}
