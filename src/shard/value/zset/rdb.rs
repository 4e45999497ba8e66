//! The sorted set's [`ValueType`] face: names, memory, RDB payloads and the
//! AOF-rewrite form.
//!
//! Written: a listpack as RDB type 17 (its bytes, one string: a copy); a
//! skiplist as type 5 (count, then member and 8-byte little-endian score
//! from the highest score down, as Redis's `rdbSaveObject`), in slices of
//! members for a snapshot ([`ValueType::write_rdb_part`]).
//! Read: 17, 12 (a ziplist, Redis ≤ 6.2), 5 and 3 (scores as text), the
//! encoding chosen as Redis 7.0's `rdbLoadObject` does: 17 and 12 stay
//! listpacks unless the count is over `zset-max-listpack-entries`; 5 and 3
//! become a listpack when the count and the longest member fit both limits.
//! Every payload is checked fully: a NaN or unreadable score, a repeated
//! member, an odd element count or (stricter than Redis, whose later edits
//! would misbehave on one) a listpack out of order is corrupt; an empty
//! set is [`RdbReader::empty_key`]. No input panics.

use super::listpack::{parse_score, Listpack};
use super::{cmp_entry, fits, Repr, ZSet, REWRITE_CHUNK};
use crate::persist::rdb::listpack::{self as lp, Entry};
use crate::persist::rdb::read::RdbReader;
use crate::persist::rdb::write::{encode_len, encode_string};
use crate::persist::rdb::{op, ziplist, RdbError};
use crate::protocol::reply::format_double;
use crate::shard::value::{EncodingLimits, Value, ValueType};
use std::cmp::Ordering;
use std::collections::HashSet;

/// Checks (member, score) entries of a listpack or ziplist: pairs, scores
/// that parse, strictly ascending, no member twice. Returns the pairs.
fn check_pairs(r: &RdbReader<'_>, elems: &[Entry<'_>]) -> Result<usize, RdbError> {
    if elems.is_empty() {
        return Err(r.empty_key());
    }
    if !elems.len().is_multiple_of(2) {
        return Err(r.corrupt("zset listpack must hold pairs"));
    }
    let mut seen = HashSet::with_capacity(elems.len() / 2);
    let mut prev: Option<(f64, Vec<u8>)> = None;
    for p in elems.chunks_exact(2) {
        let s = parse_score(&p[1]).ok_or_else(|| r.corrupt("zset score is not a number"))?;
        let m = p[0].to_vec();
        if let Some((ps, pm)) = &prev {
            if cmp_entry((*ps, pm), (s, &m)) != Ordering::Less {
                return Err(r.corrupt("zset listpack out of order"));
            }
        }
        if !seen.insert(m.clone()) {
            return Err(r.corrupt("duplicate zset member"));
        }
        prev = Some((s, m));
    }
    Ok(elems.len() / 2)
}

/// A packed set, converted when over the entry limit (types 17 and 12).
fn packed(l: Listpack, limits: &EncodingLimits) -> ZSet {
    let mut z = ZSet(Repr::Packed(l));
    if z.len() > limits.zset_max_listpack_entries {
        z.convert();
    }
    z
}

fn read_blob(r: &mut RdbReader<'_>) -> Result<Vec<u8>, RdbError> {
    Ok(r.read_string()?.into_bytes())
}

fn read_listpack(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<ZSet, RdbError> {
    let blob = read_blob(r)?;
    lp::validate(&blob).map_err(|_| r.corrupt("zset listpack integrity"))?;
    let elems: Vec<Entry<'_>> = lp::iter(&blob).collect();
    let pairs = check_pairs(r, &elems)?;
    drop(elems);
    Ok(packed(Listpack::from_validated(blob, pairs), limits))
}

fn read_ziplist(r: &mut RdbReader<'_>, limits: &EncodingLimits) -> Result<ZSet, RdbError> {
    let blob = read_blob(r)?;
    let elems = ziplist::elements(&blob).map_err(|why| r.corrupt(why))?;
    check_pairs(r, &elems)?;
    // The elements as they are (Redis's ziplist-to-listpack copy).
    let mut bytes = lp::empty();
    bytes.pop();
    for e in &elems {
        e.with_bytes(|b| lp::encode_entry(&mut bytes, b));
    }
    bytes.push(lp::EOF);
    lp::set_header(&mut bytes, elems.len());
    Ok(packed(
        Listpack::from_validated(bytes, elems.len() / 2),
        limits,
    ))
}

/// Types 5 and 3: count, then (member, score) in any order; a listpack
/// when it fits the limits once loaded.
fn read_pairs(
    r: &mut RdbReader<'_>,
    limits: &EncodingLimits,
    binary: bool,
) -> Result<ZSet, RdbError> {
    let n = r.read_len()?;
    if n == 0 {
        return Err(r.empty_key());
    }
    // A capacity hint only: never more than a sane first allocation.
    let hint = (n as usize).min(1 << 20);
    let mut entries: Vec<(Vec<u8>, f64)> = Vec::with_capacity(hint);
    for _ in 0..n {
        let m = r.read_string()?.into_bytes();
        let s = if binary {
            r.read_binary_double()?
        } else {
            read_text_double(r)?
        };
        if s.is_nan() {
            return Err(r.corrupt("NaN zset score"));
        }
        entries.push((m, s));
    }
    let maxlen = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let big = super::Skiplist::from_pairs(entries.into_iter(), hint, true)
        .ok_or_else(|| r.corrupt("duplicate zset member"))?;
    let mut z = ZSet(Repr::Big(big));
    if fits(z.len(), maxlen, limits) {
        z = ZSet(Repr::Packed(Listpack::from_sorted(z.iter())));
    }
    Ok(z)
}

/// Type 3's score: a length byte (253 NaN, 254 +inf, 255 -inf) and text.
fn read_text_double(r: &mut RdbReader<'_>) -> Result<f64, RdbError> {
    let len = match r.read_u8()? {
        253 => return Ok(f64::NAN),
        254 => return Ok(f64::INFINITY),
        255 => return Ok(f64::NEG_INFINITY),
        n => n as usize,
    };
    let text = r.read_bytes(len)?;
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .ok_or_else(|| r.corrupt("zset score is not a number"))
}

impl ValueType for ZSet {
    const NAME: &'static str = "zset";

    fn encoding(&self) -> &'static str {
        match self.0 {
            Repr::Packed(_) => "listpack",
            Repr::Big(_) => "skiplist",
        }
    }

    fn mem_usage(&self) -> usize {
        std::mem::size_of::<ZSet>() + self.heap_bytes()
    }

    fn rdb_type(&self) -> u8 {
        match self.0 {
            Repr::Packed(_) => op::TYPE_ZSET_LISTPACK,
            Repr::Big(_) => op::TYPE_ZSET_2,
        }
    }

    fn write_rdb(&self, out: &mut Vec<u8>) {
        let _ = self.write_rdb_part(out, 0, usize::MAX);
    }

    /// A skiplist's parts are its members (highest score first); a
    /// listpack is one part.
    fn rdb_parts(&self) -> usize {
        match &self.0 {
            Repr::Packed(_) => 1,
            Repr::Big(b) => b.len().max(1),
        }
    }

    fn write_rdb_part(&self, out: &mut Vec<u8>, from: usize, max: usize) -> Option<usize> {
        match &self.0 {
            Repr::Packed(l) => encode_string(out, l.bytes()),
            Repr::Big(b) => {
                let n = b.len();
                if from == 0 {
                    encode_len(out, n as u64);
                }
                let hi = n.saturating_sub(from);
                let lo = hi.saturating_sub(max);
                for (m, s) in b.range(lo, hi, true) {
                    m.with(|m| encode_string(out, m));
                    out.extend_from_slice(&s.to_le_bytes());
                }
                return (lo > 0).then(|| from.saturating_add(max));
            }
        }
        None
    }

    fn read_rdb(
        rdb_type: u8,
        r: &mut RdbReader<'_>,
        limits: &EncodingLimits,
    ) -> Option<Result<Value, RdbError>> {
        let z = match rdb_type {
            op::TYPE_ZSET_LISTPACK => read_listpack(r, limits),
            op::TYPE_ZSET_ZIPLIST => read_ziplist(r, limits),
            op::TYPE_ZSET_2 => read_pairs(r, limits, true),
            op::TYPE_ZSET => read_pairs(r, limits, false),
            _ => return None,
        };
        Some(z.map(|z| Value::ZSet(Box::new(z))))
    }

    /// `DEL key`, `ZADD key score member…` in chunks of [`REWRITE_CHUNK`]
    /// members (scores as `%.17g`), then `PEXPIREAT`.
    fn rewrite(&self, key: &[u8], expire_at_ms: u64, emit: &mut dyn FnMut(&[&[u8]])) {
        emit(&[b"DEL", key]);
        let mut it = self.iter().peekable();
        while it.peek().is_some() {
            let chunk: Vec<(Vec<u8>, String)> = it
                .by_ref()
                .take(REWRITE_CHUNK)
                .map(|(m, s)| (m.to_vec(), format_double(s)))
                .collect();
            let mut argv: Vec<&[u8]> = Vec::with_capacity(2 + 2 * chunk.len());
            argv.extend_from_slice(&[b"ZADD", key]);
            for (m, s) in &chunk {
                argv.push(s.as_bytes());
                argv.push(m);
            }
            emit(&argv);
        }
        if expire_at_ms != 0 {
            let mut ms = itoa::Buffer::new();
            emit(&[b"PEXPIREAT", key, ms.format(expire_at_ms).as_bytes()]);
        }
    }
}
