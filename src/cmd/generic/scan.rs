//! The per-shard halves of KEYS, SCAN and RANDOMKEY, and SCAN's argument
//! parser. The commands themselves are declared in `server.rs`; the router
//! fans them out (through `ops::ShardOp`) and merges the shards' answers.
//!
//! SCAN order: a shard's keys live in one table per owned slot; the
//! shard-local cursor is `table << 40 | hash_prefix`, and within a table keys
//! are visited in order of the top 40 bits of their hash. The order depends
//! only on the keys, never on the tables' memory layout, so a key present for
//! a whole scan is returned exactly once, however the tables grow or shrink.
//!
//! These functions only read: expired keys are skipped, not deleted.

use super::super::error::CmdError;
use super::super::glob::glob_match;
use super::super::{arg_i64, eq_ic};
use crate::protocol::Args;
use crate::shard::entry::EntryRef;
use crate::shard::Shard;
use rand::Rng;

/// KEYS on one shard: every unexpired key of `db` matching `pattern`.
pub fn keys_in_shard(shard: &Shard, db: usize, pattern: &[u8], now_ms: u64) -> Vec<Vec<u8>> {
    // Redis skips matching for exactly "*" (which then also returns the empty key).
    let all = pattern == b"*";
    shard
        .db(db)
        .iter()
        .filter(|e| !e.is_expired(now_ms) && (all || glob_match(pattern, e.key(), false)))
        .map(|e| e.key().to_vec())
        .collect()
}

/// A parsed `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanArgs<'a> {
    /// The client's cursor, as Redis's `strtoul` reads it.
    pub cursor: u64,
    /// COUNT (default 10, always ≥ 1).
    pub count: usize,
    /// MATCH pattern; None when absent or exactly `*` (matches everything).
    pub pattern: Option<&'a [u8]>,
    /// TYPE filter, compared case-insensitively with the type name.
    pub type_name: Option<&'a [u8]>,
}

/// Parses SCAN's arguments with Redis 7.0's checks and texts: the cursor
/// first (`ERR invalid cursor`), then the options left to right (a later
/// MATCH or TYPE overrides an earlier one; COUNT < 1 is a syntax error).
pub fn parse_scan_args<'a>(args: &Args<'a>) -> Result<ScanArgs<'a>, CmdError> {
    let cursor = parse_cursor(args.get(1)).ok_or(CmdError::InvalidCursor)?;
    parse_scan_options(args, 2, true).map(|o| ScanArgs { cursor, ..o })
}

/// Parses the options of a SCAN-family command from argument `from` on (as
/// [`parse_scan_args`]; the cursor is left 0). TYPE is SCAN's alone: with
/// `with_type` false (HSCAN, SSCAN) it is a syntax error, as in Redis.
pub fn parse_scan_options<'a>(
    args: &Args<'a>,
    from: usize,
    with_type: bool,
) -> Result<ScanArgs<'a>, CmdError> {
    let mut out = ScanArgs {
        cursor: 0,
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = from;
    while i < args.len() {
        let (opt, has_value) = (args.get(i), i + 1 < args.len());
        if eq_ic(opt, "count") && has_value {
            let n = arg_i64(args.get(i + 1))?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            out.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(opt, "match") && has_value {
            let p = args.get(i + 1);
            out.pattern = if p == b"*" { None } else { Some(p) };
        } else if eq_ic(opt, "type") && has_value && with_type {
            out.type_name = Some(args.get(i + 1));
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(out)
}

/// The head of a key-scan reply (HSCAN, SSCAN, ZSCAN): the next cursor,
/// then an array of `items` bulks the caller writes.
pub fn scan_reply_head(reply: &mut crate::protocol::ReplyWriter, next: u64, items: usize) {
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(items);
}

/// Reads a cursor as C's `strtoul(s, &end, 10)` with Redis's checks: the
/// string ends at its first NUL, may not start with white space, may carry
/// one sign (`-n` wraps around, as strtoul does), must be all digits after
/// it, and must not overflow 64 bits. The empty string is cursor 0.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let s = arg.split(|&b| b == 0).next().unwrap_or_default();
    let Some(&first) = s.first() else {
        return Some(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        return None;
    }
    let (negative, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// Bits of the shard-local SCAN cursor used for the hash position in a table.
pub const SCAN_HASH_BITS: u32 = 40;

/// SCAN on one shard from a shard-local cursor, visiting about `count` keys
/// (all keys sharing a 40-bit hash prefix are visited together). Returns the
/// next shard-local cursor, 0 when the shard is done, and the keys that pass
/// the MATCH and TYPE filters and have not expired.
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
    let prefix_mask = (1u64 << SCAN_HASH_BITS) - 1;
    let mut table = usize::try_from(cursor >> SCAN_HASH_BITS).unwrap_or(usize::MAX);
    let mut from = cursor & prefix_mask;
    let count = count.max(1);
    let keep = |e: &EntryRef| {
        !e.is_expired(now_ms)
            && pattern.is_none_or(|p| glob_match(p, e.key(), false))
            && type_name.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()))
    };
    let mut out = Vec::new();
    let mut visited = 0usize;
    while table < d.table_count() {
        if d.table_len(table) > 0 {
            let mut entries: Vec<(u64, EntryRef)> = d
                .table_iter(table)
                .map(|e| (shard.scan_hash(e.key()) >> (64 - SCAN_HASH_BITS), e))
                .filter(|(h, _)| *h >= from)
                .collect();
            entries.sort_unstable_by_key(|(h, _)| *h);
            let mut i = 0;
            while i < entries.len() {
                let h = entries[i].0;
                while i < entries.len() && entries[i].0 == h {
                    visited += 1;
                    if keep(&entries[i].1) {
                        out.push(entries[i].1.key().to_vec());
                    }
                    i += 1;
                }
                // h < 2^40 - 1 here: a larger prefix follows in this table.
                if visited >= count && i < entries.len() {
                    return (((table as u64) << SCAN_HASH_BITS) | (h + 1), out);
                }
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

/// How many uniform draws RANDOMKEY makes before falling back to a walk of
/// the live keys (only reached when most keys have expired).
const RANDOM_TRIES: usize = 8;

/// A random unexpired key of this shard's `db`, uniformly chosen, if any.
pub fn random_key(shard: &Shard, db: usize, now_ms: u64) -> Option<Vec<u8>> {
    let d = shard.db(db);
    if d.is_empty() {
        return None;
    }
    let mut rng = rand::thread_rng();
    // Draw indexes over all keys and resolve them in one pass over the table
    // sizes: every key is equally likely whatever the tables' fill. The first
    // live key in draw order is then a uniform pick among live keys.
    let mut picks: [(usize, usize); RANDOM_TRIES] = [(0, 0); RANDOM_TRIES];
    for (order, p) in picks.iter_mut().enumerate() {
        *p = (rng.gen_range(0..d.len()), order);
    }
    picks.sort_unstable();
    let mut found: [Option<EntryRef>; RANDOM_TRIES] = [None; RANDOM_TRIES];
    let (mut base, mut next) = (0, 0);
    for t in 0..d.table_count() {
        let len = d.table_len(t);
        while next < picks.len() && picks[next].0 < base + len {
            found[picks[next].1] = d.table_iter(t).nth(picks[next].0 - base);
            next += 1;
        }
        if next == picks.len() {
            break;
        }
        base += len;
    }
    if let Some(e) = found.iter().flatten().find(|e| !e.is_expired(now_ms)) {
        return Some(e.key().to_vec());
    }
    let live = d.iter().filter(|e| !e.is_expired(now_ms)).count();
    if live == 0 {
        return None;
    }
    let n = rng.gen_range(0..live);
    d.iter()
        .filter(|e| !e.is_expired(now_ms))
        .nth(n)
        .map(|e| e.key().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::args::OwnedArgs;
    use crate::shard::value::Value;
    use crate::slot::SlotTable;
    use std::collections::HashSet;

    fn shard_with(n: usize) -> Shard {
        let mut s = Shard::new(0, SlotTable::contiguous(1), 16);
        for i in 0..n {
            s.set(0, format!("key:{i}").as_bytes(), Value::int(i as i64), 0);
        }
        s
    }

    /// (cursor, count, pattern, type) or the error text.
    type Parsed = (u64, usize, Option<Vec<u8>>, Option<Vec<u8>>);

    fn parse(line: &str) -> Result<Parsed, String> {
        let owned = OwnedArgs::from_parts(line.split(' '));
        let args = owned.args();
        parse_scan_args(&args)
            .map(|a| {
                (
                    a.cursor,
                    a.count,
                    a.pattern.map(<[u8]>::to_vec),
                    a.type_name.map(<[u8]>::to_vec),
                )
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cursor_parses_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+3"), Some(3));
        assert_eq!(parse_cursor(b"-0"), Some(0));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"7\0junk"), Some(7));
        assert_eq!(parse_cursor(b"\0junk"), Some(0));
        for bad in [
            &b"18446744073709551616"[..],
            b"-18446744073709551616",
            b" 1",
            b"\x0b1",
            b"1 ",
            b"+",
            b"-",
            b"+-1",
            b"0x10",
            b"1.0",
            b"abc",
        ] {
            assert_eq!(
                parse_cursor(bad),
                None,
                "{:?}",
                bad.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn scan_options_and_errors() {
        assert_eq!(parse("scan 0"), Ok((0, 10, None, None)));
        assert_eq!(parse("scan 5 match * count 3"), Ok((5, 3, None, None)));
        assert_eq!(
            parse("scan 5 MATCH a* match b* TYPE String type hash COUNT 1 count 7"),
            Ok((5, 7, Some(b"b*".to_vec()), Some(b"hash".to_vec())))
        );
        assert_eq!(parse("scan 0 match "), Ok((0, 10, Some(Vec::new()), None)));
        let syntax = Err("ERR syntax error".to_string());
        let not_int = Err("ERR value is not an integer or out of range".to_string());
        let invalid = Err("ERR invalid cursor".to_string());
        assert_eq!(parse("scan 0 count 0"), syntax);
        assert_eq!(parse("scan 0 count -1"), syntax);
        assert_eq!(parse("scan 0 count x"), not_int);
        assert_eq!(parse("scan 0 count 9223372036854775808"), not_int);
        assert_eq!(parse("scan 0 match"), syntax);
        assert_eq!(parse("scan 0 count"), syntax);
        assert_eq!(parse("scan 0 type"), syntax);
        assert_eq!(parse("scan 0 foo bar"), syntax);
        assert_eq!(parse("scan x count 0"), invalid);
        assert_eq!(parse("scan 1a"), invalid);
        // Options are parsed left to right: the first error wins.
        assert_eq!(parse("scan 0 count x foo"), not_int);
        assert_eq!(parse("scan 0 foo count x"), syntax);
    }

    #[test]
    fn scan_visits_every_key_exactly_once() {
        let s = shard_with(5000);
        for count in [1, 7, 10, 1000, 100_000] {
            let (mut cursor, mut seen, mut calls) = (0, HashSet::new(), 0);
            loop {
                let (next, keys) = scan_shard(&s, 0, cursor, count, None, None, 0);
                calls += 1;
                for k in keys {
                    assert!(seen.insert(k), "duplicate with count {count}");
                }
                if next == 0 {
                    break;
                }
                assert!(next > cursor, "cursor goes forward");
                cursor = next;
            }
            assert_eq!(seen.len(), 5000, "count {count}");
            if count >= 100_000 {
                assert_eq!(calls, 1);
            }
        }
    }

    #[test]
    fn scan_is_stable_while_keys_are_added_and_removed() {
        let mut s = shard_with(2000);
        let (mut cursor, mut seen) = (0, HashSet::new());
        let mut round = 0;
        loop {
            let (next, keys) = scan_shard(&s, 0, cursor, 50, None, None, 0);
            for k in keys {
                assert!(seen.insert(k), "duplicate");
            }
            // Grow and shrink the keyspace between calls.
            for j in 0..40 {
                s.set(0, format!("extra:{round}:{j}").as_bytes(), Value::int(0), 0);
            }
            s.remove(0, format!("key:{}", 1000 + round).as_bytes(), 0);
            round += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // Every key present from start to end was returned.
        for i in (0..1000).chain(1000 + round..2000) {
            assert!(
                seen.contains(format!("key:{i}").as_bytes()),
                "key:{i} missed"
            );
        }
    }

    #[test]
    fn scan_filters_match_type_and_expiry() {
        let mut s = shard_with(300);
        s.set(0, b"volatile", Value::int(1), 50);
        let all = |pattern: Option<&[u8]>, ty: Option<&[u8]>, now| {
            let (mut cursor, mut out) = (0, Vec::new());
            loop {
                let (next, keys) = scan_shard(&s, 0, cursor, 10, pattern, ty, now);
                out.extend(keys);
                if next == 0 {
                    return out.len();
                }
                cursor = next;
            }
        };
        assert_eq!(all(None, None, 0), 301);
        assert_eq!(all(None, None, 50), 300);
        assert_eq!(all(Some(b"key:1?"), None, 0), 10);
        assert_eq!(all(Some(b"key:[12]*"), Some(b"STRING"), 0), 222);
        assert_eq!(all(None, Some(b"hash"), 0), 0);
        assert_eq!(all(None, Some(b"nosuchtype"), 0), 0);
        // A cursor past the last table ends the scan.
        assert_eq!(
            scan_shard(&s, 0, u64::MAX, 10, None, None, 0),
            (0, Vec::new())
        );
    }

    #[test]
    fn keys_skips_expired_and_matches_globs() {
        let mut s = shard_with(20);
        s.set(0, b"", Value::int(0), 0);
        s.set(0, b"gone", Value::int(0), 10);
        let mut k = keys_in_shard(&s, 0, b"key:1*", 10);
        k.sort();
        assert_eq!(k.len(), 11);
        assert_eq!(keys_in_shard(&s, 0, b"*", 10).len(), 21);
        assert_eq!(keys_in_shard(&s, 0, b"*", 0).len(), 22);
        // Only the literal "*" shortcut returns the empty key, as in Redis.
        assert_eq!(keys_in_shard(&s, 0, b"**", 10).len(), 20);
        assert_eq!(keys_in_shard(&s, 0, b"", 10), vec![Vec::<u8>::new()]);
        assert!(keys_in_shard(&s, 1, b"*", 10).is_empty());
    }

    #[test]
    fn random_key_is_live_and_covers_the_keyspace() {
        let mut s = Shard::new(0, SlotTable::contiguous(1), 16);
        assert_eq!(random_key(&s, 0, 0), None);
        for i in 0..8 {
            s.set(0, format!("k{i}").as_bytes(), Value::int(i), 0);
        }
        for i in 0..200 {
            s.set(0, format!("dead{i}").as_bytes(), Value::int(i), 5);
        }
        let mut seen = HashSet::new();
        for _ in 0..400 {
            let k = random_key(&s, 0, 10).expect("a live key");
            assert!(k.starts_with(b"k"), "expired key returned");
            seen.insert(k);
        }
        assert_eq!(seen.len(), 8);
        assert_eq!(random_key(&s, 1, 10), None);
        let mut only_dead = Shard::new(0, SlotTable::contiguous(1), 16);
        only_dead.set(0, b"x", Value::int(1), 5);
        assert_eq!(random_key(&only_dead, 0, 5), None);
        assert_eq!(random_key(&only_dead, 0, 4), Some(b"x".to_vec()));
    }
}
