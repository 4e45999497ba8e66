//! Generic keyspace commands: DEL, EXISTS, TYPE, TTL family, RENAME, COPY,
//! KEYS/SCAN/RANDOMKEY (their per-shard halves; the fan-out lives in `route`).

use super::error::{CmdError, CmdResult};
use super::glob::glob_match;
use super::table::{flag::*, CommandSpec, Exec, Split};
use super::ExecCtx;
use crate::protocol::Args;
use crate::shard::Shard;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
    exec: Exec,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        acl,
        group: "generic",
        summary,
        since,
        exec,
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    cmd("del", -2, WRITE, (1, -1, 1), &["keyspace", "write", "slow"], "Deletes one or more keys.", "1.0.0", Exec::MultiKey(del, Split::SumKeys)),
    cmd("exists", -2, READONLY | FAST, (1, -1, 1), &["keyspace", "read", "fast"], "Determines whether one or more keys exist.", "1.0.0", Exec::MultiKey(exists, Split::SumKeys)),
];

fn del(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    let n = args.iter_from(1).filter(|k| ctx.shard.remove(db, k, now).is_some()).count();
    ctx.reply.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut ExecCtx, args: &Args) -> CmdResult {
    let (db, now) = (ctx.db, ctx.now_ms);
    let n = args.iter_from(1).filter(|k| ctx.shard.exists(db, k, now)).count();
    ctx.reply.int(n as i64);
    Ok(())
}

/// KEYS on one shard: every unexpired key matching `pattern`.
pub fn keys_in_shard(shard: &Shard, db: usize, pattern: &[u8], now_ms: u64) -> Vec<Vec<u8>> {
    let all = pattern == b"*";
    shard
        .db(db)
        .iter()
        .filter(|e| !e.is_expired(now_ms) && (all || glob_match(pattern, &e.key, false)))
        .map(|e| e.key.to_vec())
        .collect()
}

/// Bits of the shard-local SCAN cursor used for the hash position in a table.
pub const SCAN_HASH_BITS: u32 = 40;

/// SCAN on one shard. The shard-local cursor is `table << 40 | hash_prefix`:
/// within a table keys are visited in order of the top 40 bits of their hash,
/// so a key present during the whole scan is returned exactly once (ties of
/// the 40-bit prefix are returned together). Returns 0 when the shard is done.
pub fn scan_shard(
    shard: &Shard,
    db: usize,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    type_name: Option<&[u8]>,
    now_ms: u64,
) -> (u64, Vec<Vec<u8>>) {
    let d = shard.db(db);
    let mut table = (cursor >> SCAN_HASH_BITS) as usize;
    let mut from = cursor & ((1u64 << SCAN_HASH_BITS) - 1);
    let mut out = Vec::new();
    let mut visited = 0usize;
    let count = count.max(1);
    while table < d.table_count() {
        let mut entries: Vec<(u64, &crate::shard::db::Entry)> = d
            .table_iter(table)
            .map(|e| (shard.scan_hash(&e.key) >> (64 - SCAN_HASH_BITS), e))
            .filter(|(h, _)| *h >= from)
            .collect();
        entries.sort_unstable_by_key(|(h, _)| *h);
        let mut i = 0;
        while i < entries.len() {
            let h = entries[i].0;
            // Emit every key sharing this prefix together.
            while i < entries.len() && entries[i].0 == h {
                let e = entries[i].1;
                visited += 1;
                let keep = !e.is_expired(now_ms)
                    && pattern.map_or(true, |p| glob_match(p, &e.key, false))
                    && type_name.map_or(true, |t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
                if keep {
                    out.push(e.key.to_vec());
                }
                i += 1;
            }
            if visited >= count {
                if i < entries.len() {
                    return (((table as u64) << SCAN_HASH_BITS) | (h + 1), out);
                }
                break;
            }
        }
        table += 1;
        from = 0;
        if visited >= count {
            break;
        }
    }
    if table >= d.table_count() {
        (0, out)
    } else {
        ((table as u64) << SCAN_HASH_BITS, out)
    }
}

/// A random unexpired key of this shard's `db`, if any.
pub fn random_key(shard: &Shard, db: usize, now_ms: u64) -> Option<Vec<u8>> {
    use rand::Rng;
    let d = shard.db(db);
    if d.is_empty() || d.table_count() == 0 {
        return None;
    }
    let mut rng = rand::thread_rng();
    // Try random non-empty tables first, then fall back to a full walk.
    for _ in 0..16 {
        let t = rng.gen_range(0..d.table_count());
        let len = d.table_len(t);
        if len == 0 {
            continue;
        }
        let pick = rng.gen_range(0..len);
        if let Some(e) = d.table_iter(t).nth(pick) {
            if !e.is_expired(now_ms) {
                return Some(e.key.to_vec());
            }
        }
    }
    let live: Vec<_> = d.iter().filter(|e| !e.is_expired(now_ms)).collect();
    if live.is_empty() {
        return None;
    }
    Some(live[rng.gen_range(0..live.len())].key.to_vec())
}

#[allow(dead_code)]
fn _unused(_: CmdError) {}
