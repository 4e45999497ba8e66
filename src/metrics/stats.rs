//! Per-command statistics of one core: calls, failures, rejections, total
//! microseconds and a latency histogram per command, plus error counts by
//! error code (`errorstat_ERR`).
//!
//! Commands are indexed by their position in the command table (containers'
//! subcommands included): [`stat_index`] maps a `&'static CommandSpec` to
//! that position by binary search over the specs' addresses, a table built
//! once. Recording is a few `Cell` updates: no allocation, no hashing. Only
//! the owning core writes these cells; scrapes copy them out through the mesh
//! ([`StatsSnapshot`]) and add the copies up.

use crate::cmd::command_docs::subcommands_of;
use crate::cmd::table::{self, CommandSpec};
use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

/// Histogram buckets: values 0..4 µs exactly, then 4 buckets per power of two
/// (relative error under 25%) up to 2^31 µs (about 36 minutes).
pub const BUCKETS: usize = 4 + 4 * 30;

/// The bucket of a duration in microseconds.
pub fn bucket_of(usec: u64) -> usize {
    if usec < 4 {
        return usec as usize;
    }
    let octave = 63 - usec.leading_zeros() as usize; // >= 2
    let sub = ((usec >> (octave - 2)) & 3) as usize;
    (4 + (octave - 2) * 4 + sub).min(BUCKETS - 1)
}

/// The largest value (µs) that falls in bucket `b`.
pub fn bucket_upper(b: usize) -> u64 {
    if b < 4 {
        return b as u64;
    }
    let octave = (b - 4) / 4 + 2;
    let sub = ((b - 4) % 4) as u64;
    ((5 + sub) << (octave - 2)) - 1
}

/// Every command the statistics know, in table order, and the sorted
/// addresses used to find a spec's index.
struct StatTable {
    specs: Vec<&'static CommandSpec>,
    /// (address, index) sorted by address.
    by_addr: Vec<(usize, u16)>,
}

fn stat_table() -> &'static StatTable {
    static TABLE: OnceLock<StatTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut specs: Vec<&'static CommandSpec> = Vec::new();
        for c in table::all() {
            specs.push(c);
            specs.extend(subcommands_of(c).iter());
        }
        let mut by_addr: Vec<(usize, u16)> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (*s as *const CommandSpec as usize, i as u16))
            .collect();
        by_addr.sort_unstable();
        StatTable { specs, by_addr }
    })
}

/// Number of command slots (the table's commands and subcommands).
pub fn stat_count() -> usize {
    stat_table().specs.len()
}

/// The command at a stat index.
pub fn stat_spec(index: usize) -> &'static CommandSpec {
    stat_table().specs[index]
}

/// The stat index of a command of the table (None for a spec not in it).
pub fn stat_index(spec: &CommandSpec) -> Option<usize> {
    let t = stat_table();
    let addr = spec as *const CommandSpec as usize;
    t.by_addr
        .binary_search_by_key(&addr, |e| e.0)
        .ok()
        .map(|i| t.by_addr[i].1 as usize)
}

/// One command's cells on one core.
pub struct CmdCells {
    calls: Cell<u64>,
    usec: Cell<u64>,
    failed: Cell<u64>,
    rejected: Cell<u64>,
    hist: [Cell<u64>; BUCKETS],
}

impl Default for CmdCells {
    fn default() -> Self {
        CmdCells {
            calls: Cell::new(0),
            usec: Cell::new(0),
            failed: Cell::new(0),
            rejected: Cell::new(0),
            hist: std::array::from_fn(|_| Cell::new(0)),
        }
    }
}

fn bump(c: &Cell<u64>, n: u64) {
    c.set(c.get().wrapping_add(n));
}

/// Redis keeps at most this many distinct error codes in errorstats.
const MAX_ERROR_CODES: usize = 128;

/// One core's command and error statistics.
pub struct CommandStats {
    cmds: Box<[CmdCells]>,
    errors: RefCell<Vec<(Box<str>, u64)>>,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats {
            cmds: (0..stat_count()).map(|_| CmdCells::default()).collect(),
            errors: RefCell::new(Vec::new()),
        }
    }
}

impl CommandStats {
    /// A command ran for `usec` µs; `failed` when it replied with an error.
    pub fn record_call(&self, index: usize, usec: u64, failed: bool) {
        let Some(c) = self.cmds.get(index) else {
            return;
        };
        bump(&c.calls, 1);
        bump(&c.usec, usec);
        bump(&c.hist[bucket_of(usec)], 1);
        if failed {
            bump(&c.failed, 1);
        }
    }

    /// A command was refused before it ran (arity, CROSSSLOT...).
    pub fn record_rejected(&self, index: usize) {
        if let Some(c) = self.cmds.get(index) {
            bump(&c.rejected, 1);
        }
    }

    /// An error reply: counted under its code (the first word, as Redis).
    pub fn record_error(&self, msg: &[u8]) {
        let msg = msg.strip_prefix(b"-").unwrap_or(msg);
        let end = msg.iter().position(|&b| b == b' ').unwrap_or(msg.len());
        let code = &msg[..end.min(64)];
        let mut errors = self.errors.borrow_mut();
        if let Some(e) = errors.iter_mut().find(|e| e.0.as_bytes() == code) {
            e.1 += 1;
        } else if errors.len() < MAX_ERROR_CODES {
            errors.push((String::from_utf8_lossy(code).into(), 1));
        }
    }

    pub fn reset(&self) {
        for c in self.cmds.iter() {
            c.calls.set(0);
            c.usec.set(0);
            c.failed.set(0);
            c.rejected.set(0);
            for h in &c.hist {
                h.set(0);
            }
        }
        self.errors.borrow_mut().clear();
    }

    /// A copy of every command that has counts, for merging across cores.
    pub fn snapshot(&self) -> StatsSnapshot {
        let cmds = self
            .cmds
            .iter()
            .enumerate()
            .filter(|(_, c)| c.calls.get() > 0 || c.rejected.get() > 0 || c.failed.get() > 0)
            .map(|(i, c)| CmdSnapshot {
                index: i,
                calls: c.calls.get(),
                usec: c.usec.get(),
                failed: c.failed.get(),
                rejected: c.rejected.get(),
                hist: c.hist.iter().map(Cell::get).collect(),
            })
            .collect();
        let errors = self
            .errors
            .borrow()
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        StatsSnapshot { cmds, errors }
    }
}

/// One command's counts (one core's, or summed).
#[derive(Debug, Clone, Default)]
pub struct CmdSnapshot {
    pub index: usize,
    pub calls: u64,
    pub usec: u64,
    pub failed: u64,
    pub rejected: u64,
    pub hist: Vec<u64>,
}

impl CmdSnapshot {
    pub fn name(&self) -> &'static str {
        stat_spec(self.index).name
    }

    /// The `p`-th percentile (0..=100) in µs: the upper bound of the bucket
    /// holding it.
    pub fn percentile(&self, p: f64) -> f64 {
        let total: u64 = self.hist.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in self.hist.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_upper(b) as f64;
            }
        }
        bucket_upper(BUCKETS - 1) as f64
    }

    /// How many calls took less than `2^octave` µs.
    pub fn count_below_pow2(&self, octave: u32) -> u64 {
        let limit = 1u64 << octave;
        self.hist
            .iter()
            .enumerate()
            .take_while(|(b, _)| bucket_upper(*b) < limit)
            .map(|(_, n)| n)
            .sum()
    }
}

/// One core's statistics, or several cores' summed with [`merge`](Self::merge).
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    /// Commands with counts, sorted by stat index.
    pub cmds: Vec<CmdSnapshot>,
    /// (error code, count).
    pub errors: Vec<(String, u64)>,
}

impl StatsSnapshot {
    pub fn merge(&mut self, other: StatsSnapshot) {
        for c in other.cmds {
            match self.cmds.binary_search_by_key(&c.index, |x| x.index) {
                Ok(i) => {
                    let m = &mut self.cmds[i];
                    m.calls += c.calls;
                    m.usec += c.usec;
                    m.failed += c.failed;
                    m.rejected += c.rejected;
                    for (a, b) in m.hist.iter_mut().zip(&c.hist) {
                        *a += b;
                    }
                }
                Err(i) => self.cmds.insert(i, c),
            }
        }
        for (code, n) in other.errors {
            match self.errors.iter_mut().find(|e| e.0 == code) {
                Some(e) => e.1 += n,
                None => self.errors.push((code, n)),
            }
        }
        self.errors.sort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_values() {
        for v in [
            0u64,
            1,
            3,
            4,
            5,
            7,
            8,
            9,
            15,
            16,
            100,
            1000,
            123_456,
            1 << 30,
        ] {
            let b = bucket_of(v);
            assert!(v <= bucket_upper(b), "{v} above bucket {b}");
            if b > 0 {
                assert!(v > bucket_upper(b - 1), "{v} below bucket {b}");
            }
        }
        for b in 1..BUCKETS {
            assert!(bucket_upper(b) > bucket_upper(b - 1));
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn index_covers_commands_and_subcommands() {
        let get = table::lookup(b"get").unwrap();
        let i = stat_index(get).unwrap();
        assert_eq!(stat_spec(i).name, "get");
        let client = table::lookup(b"client").unwrap();
        let list = crate::cmd::command_docs::find_subcommand(subcommands_of(client), b"list");
        let j = stat_index(list.unwrap()).unwrap();
        assert_eq!(stat_spec(j).name, "client|list");
    }

    #[test]
    fn record_merge_and_percentiles() {
        let a = CommandStats::default();
        let b = CommandStats::default();
        let get = stat_index(table::lookup(b"get").unwrap()).unwrap();
        for _ in 0..98 {
            a.record_call(get, 10, false);
        }
        b.record_call(get, 1000, true);
        b.record_call(get, 5000, false);
        b.record_rejected(get);
        a.record_error(b"ERR syntax error");
        b.record_error(b"-ERR nope");
        b.record_error(b"WRONGTYPE Operation");
        let mut s = a.snapshot();
        s.merge(b.snapshot());
        let c = &s.cmds[0];
        assert_eq!((c.calls, c.failed, c.rejected), (100, 1, 1));
        assert_eq!(c.usec, 98 * 10 + 6000);
        assert_eq!(c.percentile(50.0), 11.0);
        assert!(c.percentile(99.0) >= 1000.0 && c.percentile(99.0) < 1300.0);
        assert!(c.percentile(99.9) >= 5000.0);
        assert_eq!(c.count_below_pow2(4), 98);
        assert_eq!(s.errors, vec![("ERR".into(), 2), ("WRONGTYPE".into(), 1)]);
        a.reset();
        assert!(a.snapshot().cmds.is_empty());
    }
}
