//! The metrics job every core answers through the mesh, and the fan-out that
//! asks all of them. A scrape, `INFO commandstats`, `SLOWLOG GET` and
//! `/healthz` are each one round of [`every_core`].

use super::core::Core;
use super::mesh::{CoreCounters, JobKind, JobOutput};
use crate::cmd::ops::{OpResult, ShardOp};
use crate::metrics::latency::EventSeries;
use crate::metrics::slowlog::SlowEntry;
use crate::metrics::stats::StatsSnapshot;
use crate::metrics::{with, ObsConfig};
use bytes::Bytes;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What a core is asked (`JobKind::Metrics`).
#[derive(Debug)]
pub enum MetricsJob {
    /// Counters, command stats, keyspace figures, queue depth.
    Snapshot,
    /// Command and error statistics only (INFO).
    CommandStats,
    /// The newest `n` slowlog entries.
    SlowlogGet(usize),
    SlowlogLen,
    SlowlogReset,
    /// Every latency-monitor event.
    Latency,
    /// Reset the named events (all when empty).
    LatencyReset(Vec<String>),
    /// MONITOR lines for this core's monitors (fire and forget).
    Monitor(Bytes),
    /// New observability settings (CONFIG SET).
    Configure(ObsConfig),
    /// Clear command and error statistics (CONFIG RESETSTAT).
    ResetStats,
    /// Answer at once (`/healthz`).
    Ping,
}

/// One core's figures for a scrape.
#[derive(Debug, Default, Clone)]
pub struct CoreSnapshot {
    pub core: usize,
    pub counters: CoreCounters,
    pub stats: StatsSnapshot,
    /// Per database: (keys, keys with an expiry).
    pub keyspace: Vec<(usize, usize)>,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Outstanding cross-core calls made by this core.
    pub in_flight: usize,
    pub peer_batches: u64,
    pub peer_batch_cmds: u64,
    pub batch_sizes: Vec<u64>,
}

#[derive(Debug)]
pub enum MetricsOutput {
    Snapshot(Box<CoreSnapshot>),
    Stats(StatsSnapshot),
    Slowlog(Vec<SlowEntry>),
    Latency(Vec<(String, EventSeries)>),
    Count(usize),
    Done,
}

/// Runs a metrics job on this core (from `Core::run_local`).
pub fn run_job(core: &Core, job: MetricsJob) -> MetricsOutput {
    match job {
        MetricsJob::Snapshot => MetricsOutput::Snapshot(Box::new(snapshot(core))),
        MetricsJob::CommandStats => with(|m| MetricsOutput::Stats(m.stats.snapshot())),
        MetricsJob::SlowlogGet(n) => with(|m| MetricsOutput::Slowlog(m.slowlog.borrow().newest(n))),
        MetricsJob::SlowlogLen => with(|m| MetricsOutput::Count(m.slowlog.borrow().len())),
        MetricsJob::SlowlogReset => with(|m| {
            m.slowlog.borrow_mut().reset();
            MetricsOutput::Done
        }),
        MetricsJob::Latency => with(|m| MetricsOutput::Latency(m.latency.borrow().snapshot())),
        MetricsJob::LatencyReset(names) => {
            with(|m| MetricsOutput::Count(m.latency.borrow_mut().reset(&names)))
        }
        MetricsJob::Monitor(lines) => {
            with(|m| m.monitor.deliver(&lines));
            MetricsOutput::Done
        }
        MetricsJob::Configure(cfg) => {
            with(|m| m.configure(&cfg));
            MetricsOutput::Done
        }
        MetricsJob::ResetStats => {
            with(|m| m.stats.reset());
            MetricsOutput::Done
        }
        MetricsJob::Ping => MetricsOutput::Done,
    }
}

fn snapshot(core: &Core) -> CoreSnapshot {
    let mut s = CoreSnapshot {
        core: core.id,
        counters: core.counter_snapshot(),
        in_flight: core.in_flight(),
        ..Default::default()
    };
    if let Ok(mut shard) = core.shard.try_borrow_mut() {
        if let OpResult::Keyspace {
            dbs,
            expired,
            hits,
            misses,
        } = crate::cmd::ops::apply(&mut shard, 0, crate::clock::unix_ms(), ShardOp::Keyspace)
        {
            s.keyspace = dbs;
            s.expired_keys = expired;
            s.keyspace_hits = hits;
            s.keyspace_misses = misses;
        }
    }
    with(|m| {
        s.stats = m.stats.snapshot();
        s.peer_batches = m.peer_batches.get();
        s.peer_batch_cmds = m.peer_batch_cmds.get();
        s.batch_sizes = m.batch_sizes.iter().map(|c| c.get()).collect();
    });
    s
}

/// Runs `make()` on every core (this one inline); None for a core that did
/// not answer within `timeout`. Results are indexed by core.
pub async fn every_core(
    core: &Rc<Core>,
    make: impl Fn() -> MetricsJob,
    timeout: Option<Duration>,
) -> Vec<Option<MetricsOutput>> {
    let calls: Vec<_> = (0..core.cores)
        .map(|c| (c != core.id).then(|| core.call(c, 0, JobKind::Metrics(make()))))
        .collect();
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut out = Vec::with_capacity(core.cores);
    for call in calls {
        let output = match call {
            None => Some(JobOutput::Metrics(run_job(core, make()))),
            Some(f) => match deadline {
                None => Some(f.await),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    glommio::timer::timeout(left, async { Ok(f.await) })
                        .await
                        .ok()
                }
            },
        };
        out.push(output.and_then(|o| match o {
            JobOutput::Metrics(m) => Some(m),
            _ => None,
        }));
    }
    out
}

/// Every core's snapshot (cores that did not answer are skipped).
pub async fn snapshots(core: &Rc<Core>) -> Vec<CoreSnapshot> {
    every_core(core, || MetricsJob::Snapshot, None)
        .await
        .into_iter()
        .flatten()
        .filter_map(|o| match o {
            MetricsOutput::Snapshot(s) => Some(*s),
            _ => None,
        })
        .collect()
}

/// Every core's command statistics, summed (INFO commandstats/errorstats).
pub async fn command_stats(core: &Rc<Core>) -> StatsSnapshot {
    let mut total = StatsSnapshot::default();
    for o in every_core(core, || MetricsJob::CommandStats, None)
        .await
        .into_iter()
        .flatten()
    {
        if let MetricsOutput::Stats(s) = o {
            total.merge(s);
        }
    }
    total
}
