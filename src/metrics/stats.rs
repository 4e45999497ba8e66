//! Per-command statistics of one core: calls, failures, rejections, total
//! microseconds and a latency histogram per command, plus error counts by
//! error code (`errorstat_ERR`).
//!
//! Commands are known by their stat index, their position in the command
//! table with subcommands (`cmd::stat_index` maps a spec to it). A core's
//! cells for a command are made the first time it runs there; after that,
//! recording is a few `Cell` updates: no allocation, no hashing. Only
//! the owning core writes these cells; scrapes copy them out through the mesh
//! ([`StatsSnapshot`]) and add the copies up.

use std::cell::{Cell, RefCell};

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

/// Stat indexes at or above this are not recorded (the table has a few
/// hundred; this bounds the cells whatever index a caller passes).
pub const MAX_STAT_INDEX: usize = 4096;

/// One core's command and error statistics.
#[derive(Default)]
pub struct CommandStats {
    /// Cells by stat index, grown to the highest index recorded so far.
    cmds: RefCell<Vec<CmdCells>>,
    errors: RefCell<Vec<(Box<str>, u64)>>,
}

impl CommandStats {
    /// A command ran for `usec` µs; `failed` when it replied with an error.
    pub fn record_call(&self, index: usize, usec: u64, failed: bool) {
        self.with_cells(index, |c| {
            bump(&c.calls, 1);
            bump(&c.usec, usec);
            bump(&c.hist[bucket_of(usec)], 1);
            if failed {
                bump(&c.failed, 1);
            }
        });
    }

    /// A command was refused before it ran (arity, CROSSSLOT...).
    pub fn record_rejected(&self, index: usize) {
        self.with_cells(index, |c| bump(&c.rejected, 1));
    }

    /// Runs `f` on the cells of `index`, made on first use.
    #[inline]
    fn with_cells(&self, index: usize, f: impl FnOnce(&CmdCells)) {
        if index >= MAX_STAT_INDEX {
            return;
        }
        let mut cmds = self.cmds.borrow_mut();
        if index >= cmds.len() {
            cmds.resize_with(index + 1, CmdCells::default);
        }
        f(&cmds[index]);
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
        for c in self.cmds.borrow().iter() {
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
            .borrow()
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
    fn record_merge_and_percentiles() {
        let a = CommandStats::default();
        let b = CommandStats::default();
        let get = 7;
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
