//! The Prometheus exposition of a scrape: a `prometheus-client` [`Collector`]
//! over every core's [`CoreSnapshot`], gathered just before encoding (so
//! nothing is registered per core and nothing is shared between cores).
//!
//! Series (prefix `ringkv_`): per command (`cmd="get"`) calls, failures,
//! rejections and a latency histogram; clients and connections; keys and
//! expiring keys per db (`db="db0"`, as redis_exporter); expired, evicted,
//! hits, misses; bytes in and out; cross-shard batches and their sizes per
//! shard; per-shard queue depth; memory used.

use crate::metrics::stats::StatsSnapshot;
use crate::runtime::gather::CoreSnapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt::Error;

/// Content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency histogram bounds exported: 2^k µs for these k (8 µs .. 16.8 s).
const HIST_OCTAVES: std::ops::RangeInclusive<u32> = 3..=24;

#[derive(Debug)]
struct Scrape {
    cores: Vec<CoreSnapshot>,
    stats: StatsSnapshot,
    memory_used: u64,
}

/// Encodes one scrape of `cores` (every core's snapshot) as OpenMetrics text.
pub fn encode(cores: Vec<CoreSnapshot>, memory_used: u64) -> Result<String, Error> {
    let mut stats = StatsSnapshot::default();
    for c in &cores {
        stats.merge(c.stats.clone());
    }
    let mut registry = Registry::with_prefix("ringkv");
    registry.register_collector(Box::new(Scrape {
        cores,
        stats,
        memory_used,
    }));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), Error> {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> Result<(), Error> {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A counter family with one label.
fn counters(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    items: impl Iterator<Item = (String, u64)>,
) -> Result<(), Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, n) in items {
        let labels = [(label, value.as_str())];
        ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge family with one label.
fn gauges(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    items: impl Iterator<Item = (String, i64)>,
) -> Result<(), Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (value, n) in items {
        let labels = [(label, value.as_str())];
        ConstGauge::new(n).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Scrape {
    fn sum(&self, f: impl Fn(&CoreSnapshot) -> u64) -> u64 {
        self.cores.iter().map(f).sum()
    }
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), Error> {
        let e = &mut enc;
        let cmds = &self.stats.cmds;
        counters(
            e,
            "commands_processed",
            "Commands processed, by command",
            "cmd",
            cmds.iter().map(|c| {
                (
                    crate::cmd::stat_index::stat_name(c.index).to_string(),
                    c.calls,
                )
            }),
        )?;
        counters(
            e,
            "commands_failed",
            "Commands that replied with an error, by command",
            "cmd",
            cmds.iter().map(|c| {
                (
                    crate::cmd::stat_index::stat_name(c.index).to_string(),
                    c.failed,
                )
            }),
        )?;
        counters(
            e,
            "commands_rejected",
            "Commands refused before running (arity, cross-slot), by command",
            "cmd",
            cmds.iter().map(|c| {
                (
                    crate::cmd::stat_index::stat_name(c.index).to_string(),
                    c.rejected,
                )
            }),
        )?;
        {
            let mut m = e.encode_descriptor(
                "command_duration_seconds",
                "Command execution time, by command",
                None,
                MetricType::Histogram,
            )?;
            for c in cmds.iter().filter(|c| c.calls > 0) {
                let mut buckets = Vec::with_capacity(HIST_OCTAVES.count() + 1);
                let mut below = 0;
                for k in HIST_OCTAVES {
                    let cum = c.count_below_pow2(k);
                    buckets.push(((1u64 << k) as f64 / 1e6, cum - below));
                    below = cum;
                }
                buckets.push((f64::INFINITY, c.calls - below));
                let labels = [("cmd", crate::cmd::stat_index::stat_name(c.index))];
                m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    c.usec as f64 / 1e6,
                    c.calls,
                    &buckets,
                    None,
                )?;
            }
        }
        counters(
            e,
            "errors",
            "Error replies, by error code",
            "code",
            self.stats.errors.iter().cloned(),
        )?;
        counter(
            e,
            "commands_total",
            "Commands processed (INFO total_commands_processed)",
            self.sum(|c| c.counters.total_commands_processed),
        )?;
        counter(
            e,
            "error_replies",
            "Error replies sent (INFO total_error_replies)",
            self.sum(|c| c.counters.total_error_replies),
        )?;
        gauge(
            e,
            "connected_clients",
            "Clients connected",
            self.sum(|c| c.counters.connected_clients) as i64,
        )?;
        gauge(
            e,
            "blocked_clients",
            "Clients waiting in a blocking command",
            self.sum(|c| c.counters.blocked_clients) as i64,
        )?;
        counter(
            e,
            "connections_received",
            "Connections accepted",
            self.sum(|c| c.counters.total_connections_received),
        )?;
        counter(
            e,
            "rejected_connections",
            "Connections refused (maxclients)",
            self.sum(|c| c.counters.rejected_connections),
        )?;
        let dbs = self
            .cores
            .iter()
            .map(|c| c.keyspace.len())
            .max()
            .unwrap_or(0);
        let per_db = |i: usize, f: fn(&(usize, usize)) -> usize| -> i64 {
            self.cores
                .iter()
                .filter_map(|c| c.keyspace.get(i))
                .map(|x| f(x) as i64)
                .sum()
        };
        gauges(
            e,
            "db_keys",
            "Keys per database",
            "db",
            (0..dbs).map(|i| (format!("db{i}"), per_db(i, |x| x.0))),
        )?;
        gauges(
            e,
            "db_keys_expiring",
            "Keys with an expiry per database",
            "db",
            (0..dbs).map(|i| (format!("db{i}"), per_db(i, |x| x.1))),
        )?;
        counter(
            e,
            "expired_keys",
            "Keys expired",
            self.sum(|c| c.expired_keys),
        )?;
        counter(
            e,
            "evicted_keys",
            "Keys evicted (maxmemory)",
            self.sum(|c| c.evicted_keys),
        )?;
        counter(
            e,
            "keyspace_hits",
            "Successful key lookups",
            self.sum(|c| c.keyspace_hits),
        )?;
        counter(
            e,
            "keyspace_misses",
            "Failed key lookups",
            self.sum(|c| c.keyspace_misses),
        )?;
        counter(
            e,
            "net_input_bytes",
            "Bytes read from clients",
            self.sum(|c| c.counters.net_input_bytes),
        )?;
        counter(
            e,
            "net_output_bytes",
            "Bytes written to clients",
            self.sum(|c| c.counters.net_output_bytes),
        )?;
        counters(
            e,
            "cross_shard_batches",
            "Command batches received from other cores, by receiving shard",
            "shard",
            self.cores
                .iter()
                .map(|c| (c.core.to_string(), c.peer_batches)),
        )?;
        counters(
            e,
            "cross_shard_commands",
            "Commands received from other cores, by receiving shard",
            "shard",
            self.cores
                .iter()
                .map(|c| (c.core.to_string(), c.peer_batch_cmds)),
        )?;
        {
            let mut m = e.encode_descriptor(
                "cross_shard_batch_size",
                "Commands per batch received from another core, by receiving shard",
                None,
                MetricType::Histogram,
            )?;
            for c in &self.cores {
                let buckets: Vec<(f64, u64)> = c
                    .batch_sizes
                    .iter()
                    .enumerate()
                    .map(|(b, n)| {
                        let upper = if b + 1 == c.batch_sizes.len() {
                            f64::INFINITY
                        } else {
                            ((2u64 << b) - 1) as f64
                        };
                        (upper, *n)
                    })
                    .collect();
                if buckets.is_empty() {
                    continue;
                }
                let shard = c.core.to_string();
                let labels = [("shard", shard.as_str())];
                m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    c.peer_batch_cmds as f64,
                    c.peer_batches,
                    &buckets,
                    None,
                )?;
            }
        }
        gauges(
            e,
            "shard_queue_depth",
            "Outstanding cross-core calls made by each shard",
            "shard",
            self.cores
                .iter()
                .map(|c| (c.core.to_string(), c.in_flight as i64)),
        )?;
        gauge(e, "shards", "Shards (executors)", self.cores.len() as i64)?;
        gauge(
            e,
            "memory_used_bytes",
            "Memory used by the process (resident set)",
            self.memory_used as i64,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::stat_index::stat_index;
    use crate::metrics::stats::CommandStats;

    #[test]
    fn encodes_families_with_labels() {
        let stats = CommandStats::default();
        let get = stat_index(crate::cmd::table::lookup(b"get").unwrap()).unwrap();
        stats.record_call(get, 20, false);
        stats.record_call(get, 3_000_000, true);
        stats.record_error(b"ERR x");
        let core = CoreSnapshot {
            stats: stats.snapshot(),
            keyspace: vec![(3, 1), (0, 0)],
            batch_sizes: vec![0; 16],
            ..Default::default()
        };
        let text = encode(vec![core], 1234).unwrap();
        for line in [
            "ringkv_commands_processed_total{cmd=\"get\"} 2",
            "ringkv_commands_failed_total{cmd=\"get\"} 1",
            "ringkv_command_duration_seconds_count{cmd=\"get\"} 2",
            "ringkv_command_duration_seconds_bucket{le=\"0.000032\",cmd=\"get\"} 1",
            "ringkv_command_duration_seconds_bucket{le=\"+Inf\",cmd=\"get\"} 2",
            "ringkv_errors_total{code=\"ERR\"} 1",
            "ringkv_db_keys{db=\"db0\"} 3",
            "ringkv_db_keys_expiring{db=\"db0\"} 1",
            "ringkv_memory_used_bytes 1234",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
