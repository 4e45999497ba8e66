//! `MEMORY` and its subcommands: what a key costs (USAGE, on the key's
//! shard), the server's memory report (STATS, DOCTOR: every shard's figures
//! summed by `route::memory`), and the allocator's own view (MALLOC-STATS,
//! PURGE: [`allocator`]).
//!
//! The figures come from each shard's exact accounting of its keys, values,
//! entries and tables (`Shard::used_memory`), not from sampling: USAGE is exact
//! whatever SAMPLES says (the option is still parsed and checked as Redis
//! does). `total.allocated` (`INFO` `used_memory`) is that sum plus the AOF
//! buffers not yet written; connection buffers are not counted yet
//! (`clients.normal` is 0).

pub mod allocator;

use super::command_docs::{check_subcommand, reply_help};
use super::error::CmdError;
use super::table::{flag::*, spec, CommandSpec, Exec, Global, NO_KEYS};
use crate::protocol::{Args, ReplyWriter};
use crate::shard::Shard;
use std::sync::atomic::{AtomicUsize, Ordering};

const MEMORY: Exec = Exec::Global(Global::Memory);
const STATS_FLAGS: u32 = 0;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("server", "memory", -2, 0, NO_KEYS, &["slow"], "A container for memory diagnostics commands", "4.0.0", MEMORY).with_subcommands(SUBCOMMANDS),
];

#[rustfmt::skip]
pub static SUBCOMMANDS: &[CommandSpec] = &[
    spec("server", "memory|doctor", 2, STATS_FLAGS, NO_KEYS, &["slow"], "Outputs memory problems report", "4.0.0", MEMORY),
    spec("server", "memory|help", 2, LOADING | STALE, NO_KEYS, &["slow"], "Show helpful text about the different subcommands", "4.0.0", MEMORY),
    spec("server", "memory|malloc-stats", 2, STATS_FLAGS, NO_KEYS, &["slow"], "Show allocator internal stats", "4.0.0", MEMORY),
    spec("server", "memory|purge", 2, STATS_FLAGS, NO_KEYS, &["slow"], "Ask the allocator to release memory", "4.0.0", MEMORY),
    spec("server", "memory|stats", 2, STATS_FLAGS, NO_KEYS, &["slow"], "Show memory usage details", "4.0.0", MEMORY),
    spec("server", "memory|usage", -3, READONLY, (2, 2, 1), &["read", "slow"], "Estimate the memory usage of a key", "4.0.0", MEMORY),
];

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
];

/// A parsed MEMORY invocation.
#[derive(Debug, PartialEq, Eq)]
pub enum Memory<'a> {
    Help,
    /// `USAGE key`: SAMPLES was valid (exact accounting needs no samples).
    Usage(&'a [u8]),
    Stats,
    Doctor,
    MallocStats,
    Purge,
}

/// Parses `MEMORY ...` with Redis's checks: the subcommand and its arity,
/// then `USAGE key [SAMPLES n]...` (repeatable; a negative count, a missing
/// count or any other word is a syntax error, a non-integer count is
/// `ERR value is not an integer or out of range`).
pub fn parse<'a>(args: &'a Args<'a>) -> Result<Memory<'a>, CmdError> {
    let sub = check_subcommand(args, SUBCOMMANDS)?;
    Ok(match sub {
        "help" => Memory::Help,
        "stats" => Memory::Stats,
        "doctor" => Memory::Doctor,
        "malloc-stats" => Memory::MallocStats,
        "purge" => Memory::Purge,
        _ => {
            let mut i = 3;
            while i < args.len() {
                if !super::eq_ic(args.get(i), "samples") || i + 1 >= args.len() {
                    return Err(CmdError::Syntax);
                }
                if super::arg_i64(args.get(i + 1))? < 0 {
                    return Err(CmdError::Syntax);
                }
                i += 2;
            }
            Memory::Usage(args.get(2))
        }
    })
}

/// Replies `MEMORY HELP`.
pub fn help(reply: &mut ReplyWriter, args: &Args) {
    reply_help(reply, args, HELP);
}

/// One database's share of a shard's memory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DbMemory {
    pub keys: usize,
    /// Tables and entry slots beyond key and value bytes.
    pub overhead: usize,
}

/// One shard's memory figures, gathered for STATS, DOCTOR and INFO.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShardMemory {
    /// Every byte the shard accounts (keys, values, entries, tables).
    pub used: usize,
    /// What the shard held empty (its tables for every database).
    pub startup: usize,
    /// AOF bytes journaled and not yet handed to the writer.
    pub aof_buffer: usize,
    pub dbs: Vec<DbMemory>,
}

/// Reads a shard's figures.
pub fn shard_memory(shard: &Shard) -> ShardMemory {
    ShardMemory {
        used: shard.used_memory(),
        startup: shard.startup_memory(),
        aof_buffer: shard.journal().map_or(0, |j| j.pending_bytes()),
        dbs: (0..shard.databases())
            .map(|d| DbMemory {
                keys: shard.db(d).len(),
                overhead: shard.db_overhead(d),
            })
            .collect(),
    }
}

/// The server's memory, as `MEMORY STATS` and `INFO memory` report it: Redis's
/// `getMemoryOverheadData` fields, computed from the shards' accounting.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MemoryReport {
    pub total: usize,
    pub peak: usize,
    pub startup: usize,
    pub aof_buffer: usize,
    /// (db index, keys, main table overhead) for every non-empty database.
    pub dbs: Vec<(usize, usize, usize)>,
    /// The AOF buffers and every database's overhead (empty ones too: their
    /// tables are the start-up memory).
    pub overhead_total: usize,
    pub keys: usize,
    pub rss: usize,
    pub allocator: allocator::AllocatorStats,
}

impl MemoryReport {
    /// Sums the shards' figures; `peak` is the highest total seen so far
    /// (updated by the caller) and `rss` the process's resident size.
    pub fn from_shards(
        shards: &[ShardMemory],
        rss: usize,
        allocator: allocator::AllocatorStats,
    ) -> Self {
        let mut r = MemoryReport {
            rss,
            allocator,
            ..Default::default()
        };
        let databases = shards.iter().map(|s| s.dbs.len()).max().unwrap_or(0);
        let mut dbs = vec![(0usize, 0usize); databases];
        let mut all_overhead = 0;
        for s in shards {
            r.total += s.used + s.aof_buffer;
            r.startup += s.startup;
            r.aof_buffer += s.aof_buffer;
            for (d, m) in s.dbs.iter().enumerate() {
                dbs[d].0 += m.keys;
                dbs[d].1 += m.overhead;
                all_overhead += m.overhead;
            }
        }
        r.dbs = dbs
            .into_iter()
            .enumerate()
            .filter(|(_, (keys, _))| *keys > 0)
            .map(|(d, (keys, overhead))| (d, keys, overhead))
            .collect();
        r.keys = r.dbs.iter().map(|d| d.1).sum();
        r.overhead_total = r.aof_buffer + all_overhead;
        r.peak = r.total;
        r
    }

    pub fn dataset(&self) -> usize {
        self.total.saturating_sub(self.overhead_total)
    }

    pub fn dataset_percentage(&self) -> f64 {
        ratio(self.dataset() as f64 * 100.0, self.net().max(1) as f64)
    }

    pub fn peak_percentage(&self) -> f64 {
        ratio(self.total as f64 * 100.0, self.peak as f64)
    }

    pub fn bytes_per_key(&self) -> usize {
        match self.keys {
            0 => 0,
            n => self.net().max(1) / n,
        }
    }

    /// RSS over what the shards account (Redis's `fragmentation`).
    pub fn fragmentation(&self) -> f64 {
        ratio(self.rss as f64, self.total as f64)
    }

    /// Accounted bytes above start-up: the data.
    pub fn net(&self) -> usize {
        self.total.saturating_sub(self.startup)
    }
}

/// `a / b` in single precision, as Redis computes its ratios (so the printed
/// digits have the same shape), 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        (a as f32 / b as f32) as f64
    }
}

/// Replies `MEMORY STATS`: Redis 7.0's fields in its order (a map in RESP3, a
/// flat array in RESP2; ratios as doubles).
pub fn write_stats(reply: &mut ReplyWriter, r: &MemoryReport) {
    let a = &r.allocator;
    let int = |reply: &mut ReplyWriter, name: &str, v: usize| {
        reply.bulk(name.as_bytes());
        reply.int(v as i64);
    };
    let dbl = |reply: &mut ReplyWriter, name: &str, v: f64| {
        reply.bulk(name.as_bytes());
        reply.double(v);
    };
    reply.map(27 + r.dbs.len());
    int(reply, "peak.allocated", r.peak);
    int(reply, "total.allocated", r.total);
    int(reply, "startup.allocated", r.startup);
    int(reply, "replication.backlog", 0);
    int(reply, "clients.slaves", 0);
    int(reply, "clients.normal", 0);
    int(reply, "cluster.links", 0);
    int(reply, "aof.buffer", r.aof_buffer);
    int(reply, "lua.caches", 0);
    int(reply, "functions.caches", 0);
    for &(db, _, overhead) in &r.dbs {
        reply.bulk(format!("db.{db}").as_bytes());
        reply.map(3);
        int(reply, "overhead.hashtable.main", overhead);
        int(reply, "overhead.hashtable.expires", 0);
        int(reply, "overhead.hashtable.slot-to-keys", 0);
    }
    int(reply, "overhead.total", r.overhead_total);
    int(reply, "keys.count", r.keys);
    int(reply, "keys.bytes-per-key", r.bytes_per_key());
    int(reply, "dataset.bytes", r.dataset());
    dbl(reply, "dataset.percentage", r.dataset_percentage());
    dbl(reply, "peak.percentage", r.peak_percentage());
    int(reply, "allocator.allocated", a.allocated);
    int(reply, "allocator.active", a.active);
    int(reply, "allocator.resident", a.resident);
    dbl(
        reply,
        "allocator-fragmentation.ratio",
        a.fragmentation_ratio(),
    );
    int(
        reply,
        "allocator-fragmentation.bytes",
        a.active.saturating_sub(a.allocated),
    );
    dbl(reply, "allocator-rss.ratio", a.rss_ratio());
    int(
        reply,
        "allocator-rss.bytes",
        a.resident.saturating_sub(a.active),
    );
    dbl(
        reply,
        "rss-overhead.ratio",
        ratio(r.rss as f64, a.resident as f64),
    );
    int(
        reply,
        "rss-overhead.bytes",
        r.rss.saturating_sub(a.resident),
    );
    dbl(reply, "fragmentation", r.fragmentation());
    int(reply, "fragmentation.bytes", r.rss.saturating_sub(r.total));
}

/// The highest `total.allocated` seen by any core (`peak.allocated`,
/// `used_memory_peak`): a statistic, raised whenever a report is made.
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Records `total` and returns the peak including it.
pub fn observe_peak(total: usize) -> usize {
    PEAK.fetch_max(total, Ordering::Relaxed).max(total)
}

/// The smallest RSS beyond the accounted bytes seen by any report: the
/// process's own footprint (binary, stacks, rings, buffers), so DOCTOR judges
/// fragmentation by what grows beyond it rather than by a fixed floor.
static MIN_RSS_EXCESS: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Records this report's RSS excess and returns the smallest seen.
pub fn observe_rss_excess(r: &MemoryReport) -> usize {
    let excess = r.rss.saturating_sub(r.total);
    MIN_RSS_EXCESS
        .fetch_min(excess, Ordering::Relaxed)
        .min(excess)
}

/// Below this much data (accounted bytes above start-up) there is too little
/// to judge.
const DOCTOR_MIN_BYTES: usize = 5 << 20;
/// Ratios and sizes above which DOCTOR reports a problem (Redis's limits).
const PEAK_RATIO: f64 = 1.5;
const FRAG_RATIO: f64 = 1.4;
const FRAG_BYTES: usize = 10 << 20;

/// `MEMORY DOCTOR`'s report: Redis's checks in ringkv's words: too little
/// data to judge, a peak far above today's use, and resident memory growing
/// far beyond what the shards account (`base_excess`: the process's own
/// footprint, [`observe_rss_excess`]).
pub fn doctor(r: &MemoryReport, base_excess: usize) -> String {
    if r.net() < DOCTOR_MIN_BYTES {
        return "The server holds too little data (under 5 MB) for a meaningful memory \
                diagnosis. Load some data and ask again.\n"
            .into();
    }
    let human = |n: usize| super::info::bytes_to_human(n as u64);
    let mut issues = Vec::new();
    if r.peak as f64 / r.total as f64 > PEAK_RATIO {
        issues.push(format!(
            " * Peak memory: the peak ({}) is more than 150% of the memory in use now ({}). \
             The allocator may keep the pages of the peak; MEMORY PURGE asks it to return them.",
            human(r.peak),
            human(r.total)
        ));
    }
    let grown = r.rss.saturating_sub(base_excess);
    let frag = grown as f64 / r.total as f64;
    if frag > FRAG_RATIO && grown.saturating_sub(r.total) > FRAG_BYTES {
        issues.push(format!(
            " * High RSS overhead: beyond the process's own {}, the resident size ({}) is \
             {frag:.2} times what the shards account for ({}). After a large peak this is \
             expected; otherwise the workload fragments the allocator's pages.",
            human(base_excess),
            human(grown),
            human(r.total)
        ));
    }
    if issues.is_empty() {
        return "No memory issue found: the resident size is close to what the shards \
                account for, and use is near its peak.\n"
            .into();
    }
    let mut s = String::from("Memory issues found:\n\n");
    for i in issues {
        s.push_str(&i);
        s.push_str("\n\n");
    }
    s
}

#[cfg(test)]
mod tests;
