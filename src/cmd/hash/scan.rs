//! HSCAN key cursor [MATCH pattern] [COUNT count], as Redis 7.0's
//! `scanGenericCommand` for a hash: the cursor is checked first (`ERR
//! invalid cursor`), then the key (a missing one answers an empty scan
//! whatever the options), then the options. A listpack answers every pair
//! with cursor 0; a table walks Redis's reverse-binary bucket cursor
//! (`shard::value::hash::table`), so a field present for the whole scan is
//! returned at least once. MATCH filters after collecting, as Redis does.

use super::super::error::{CmdError, CmdResult};
use super::super::generic::scan::{parse_cursor, parse_scan_options, scan_reply_head, ScanArgs};
use super::super::glob::glob_match;
use super::super::ExecCtx;
use super::{bulk_entry, read_hash};
use crate::protocol::Args;

pub(super) fn hscan(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let cursor = parse_cursor(args.get(2)).ok_or(CmdError::InvalidCursor)?;
    let Some(h) = read_hash(ctx.shard, ctx.db, args.get(1), ctx.now_ms)? else {
        scan_reply_head(&mut ctx.reply, 0, 0);
        return Ok(());
    };
    // Options after the key is found, as Redis's scanGenericCommand.
    let ScanArgs { count, pattern, .. } = parse_scan_options(args, 3, false)?;
    let mut found = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        let keep = pattern.is_none_or(|p| f.with_bytes(|f| glob_match(p, f, false)));
        if keep {
            found.push((f, v));
        }
    });
    let reply = &mut ctx.reply;
    scan_reply_head(reply, next, found.len() * 2);
    for (f, v) in found {
        bulk_entry(reply, f);
        bulk_entry(reply, v);
    }
    Ok(())
}
