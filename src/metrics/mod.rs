//! Observability recorders: each core's per-command statistics, slow log,
//! latency events and MONITOR buffers. They know commands only by their stat
//! index (`cmd::stat_index` maps a spec to it) and clients only through
//! [`SlowlogClient`], so this layer sits below `cmd`.
//!
//! Layout:
//! - [`stats`]: calls / failures / µs / latency histogram per command (by
//!   stat index) and errors by code;
//! - [`slowlog`], [`latency`]: Redis's SLOWLOG and latency monitor, per core;
//! - [`monitor`]: MONITOR's per-core buffers, bounded.
//!
//! Above it: the mesh job every core answers and the fan-out that collects
//! the answers (`runtime::gather`), SLOWLOG/LATENCY/MONITOR as the router
//! runs them (`route::observe`, `route::monitor`), and the `/metrics` +
//! `/healthz` endpoint (`net::http`, `net::prom`).
//!
//! Invariant: every cell here belongs to one core and is written only by that
//! core ([`CoreMetrics`] is thread-local: an executor is one thread); readers
//! on other cores get copies through the mesh. The only shared word is
//! MONITOR's count of monitors (see [`monitor`]).

pub mod latency;
pub mod monitor;
pub mod slowlog;
pub mod stats;

use crate::protocol::Args;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// Redis's `slowlog-log-slower-than` default (µs; negative disables, 0 logs all).
pub const DEFAULT_SLOWLOG_SLOWER_THAN: i64 = 10_000;
/// Redis's `slowlog-max-len` default.
pub const DEFAULT_SLOWLOG_MAX_LEN: usize = 128;
/// Redis's `latency-monitor-threshold` default (ms; 0 disables).
pub const DEFAULT_LATENCY_THRESHOLD: u64 = 0;

/// Observability settings. Read at start from the `CONFIG GET` view (names as
/// Redis: `slowlog-log-slower-than`, `slowlog-max-len`,
/// `latency-monitor-threshold`), else from
/// `RINGKV_SLOWLOG_LOG_SLOWER_THAN`, `RINGKV_SLOWLOG_MAX_LEN`,
/// `RINGKV_LATENCY_MONITOR_THRESHOLD`, else the defaults above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObsConfig {
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: usize,
    pub latency_threshold_ms: u64,
}

impl ObsConfig {
    /// Reads the settings through `config_value` (the `CONFIG GET` view).
    pub fn from_settings(config_value: impl Fn(&str) -> Option<String>) -> ObsConfig {
        let info = &config_value;
        fn setting<T: std::str::FromStr>(
            info: &dyn Fn(&str) -> Option<String>,
            name: &str,
            env: &str,
            default: T,
        ) -> T {
            info(name)
                .or_else(|| std::env::var(env).ok())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        }
        ObsConfig {
            slowlog_slower_than: setting(
                info,
                "slowlog-log-slower-than",
                "RINGKV_SLOWLOG_LOG_SLOWER_THAN",
                DEFAULT_SLOWLOG_SLOWER_THAN,
            ),
            slowlog_max_len: setting(
                info,
                "slowlog-max-len",
                "RINGKV_SLOWLOG_MAX_LEN",
                DEFAULT_SLOWLOG_MAX_LEN,
            ),
            latency_threshold_ms: setting(
                info,
                "latency-monitor-threshold",
                "RINGKV_LATENCY_MONITOR_THRESHOLD",
                DEFAULT_LATENCY_THRESHOLD,
            ),
        }
    }
}

/// Everything one core records. Thread-local: see the module comment.
pub struct CoreMetrics {
    pub core: Cell<usize>,
    pub cores: Cell<usize>,
    pub stats: stats::CommandStats,
    pub slowlog: RefCell<slowlog::SlowLog>,
    pub latency: RefCell<latency::LatencyMonitor>,
    pub monitor: monitor::MonitorState,
    slowlog_slower_than: Cell<i64>,
    slowlog_max_len: Cell<usize>,
    latency_threshold_ms: Cell<u64>,
    /// The client whose commands run right now on this core (set by the
    /// batch runner, cmd/batch.rs, for local and peers' batches alike).
    current_client: RefCell<Option<Current>>,
    /// Command batches this core received from peers, and their commands.
    pub peer_batches: Cell<u64>,
    pub peer_batch_cmds: Cell<u64>,
    /// Histogram of commands per received batch (log2 buckets: 1, 2-3, 4-7...).
    pub batch_sizes: [Cell<u64>; 16],
}

impl Default for CoreMetrics {
    fn default() -> Self {
        CoreMetrics {
            core: Cell::new(0),
            cores: Cell::new(1),
            stats: stats::CommandStats::default(),
            slowlog: RefCell::default(),
            latency: RefCell::default(),
            monitor: monitor::MonitorState::default(),
            slowlog_slower_than: Cell::new(DEFAULT_SLOWLOG_SLOWER_THAN),
            slowlog_max_len: Cell::new(DEFAULT_SLOWLOG_MAX_LEN),
            latency_threshold_ms: Cell::new(DEFAULT_LATENCY_THRESHOLD),
            current_client: RefCell::new(None),
            peer_batches: Cell::new(0),
            peer_batch_cmds: Cell::new(0),
            batch_sizes: std::array::from_fn(|_| Cell::new(0)),
        }
    }
}

impl CoreMetrics {
    /// Applies runtime-changeable settings (CONFIG SET reaches every core
    /// with `runtime::gather::MetricsJob::Configure`).
    pub fn configure(&self, cfg: &ObsConfig) {
        self.slowlog_slower_than.set(cfg.slowlog_slower_than);
        self.slowlog_max_len.set(cfg.slowlog_max_len);
        self.latency_threshold_ms.set(cfg.latency_threshold_ms);
        let max = cfg.slowlog_max_len;
        let mut log = self.slowlog.borrow_mut();
        if log.len() > max {
            let keep = log.newest(max);
            log.reset();
            for e in keep.into_iter().rev() {
                log.push(e, self.core.get(), self.cores.get(), max);
            }
        }
    }

    pub fn slowlog_max_len(&self) -> usize {
        self.slowlog_max_len.get()
    }

    fn record(&self, call: Call, args: &Args, usec: u64, ok: bool) {
        if let Some(i) = call.stat {
            self.stats.record_call(i, usec, !ok);
        }
        let slower = self.slowlog_slower_than.get();
        if slower >= 0 && usec >= slower as u64 && call.slowlog {
            self.log_slow(args, usec);
        }
        let threshold = self.latency_threshold_ms.get();
        if threshold > 0 && usec / 1000 >= threshold {
            let event = if call.fast { "fast-command" } else { "command" };
            self.latency
                .borrow_mut()
                .add_sample(event, unix_us() / 1_000_000, usec / 1000);
        }
    }

    fn log_slow(&self, args: &Args, usec: u64) {
        let now = unix_us();
        let (addr, name) = match &*self.current_client.borrow() {
            Some(Current::Local(c)) => c.addr_and_name(),
            Some(Current::Remote(c)) => c.addr_and_name(),
            None => (String::new(), Vec::new()),
        };
        let entry = slowlog::SlowEntry {
            id: 0,
            time: now / 1_000_000,
            time_us: now,
            duration_us: usec,
            args: slowlog::truncate_args(args.len(), |i| args.get(i)),
            addr,
            name,
        };
        let max = self.slowlog_max_len.get();
        self.slowlog
            .borrow_mut()
            .push(entry, self.core.get(), self.cores.get(), max);
    }
}

thread_local! {
    static LOCAL: CoreMetrics = CoreMetrics::default();
}

/// This core's metrics.
#[inline]
pub fn with<R>(f: impl FnOnce(&CoreMetrics) -> R) -> R {
    LOCAL.with(f)
}

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// What the recorders need to know of a command that ran (filled in from its
/// spec by `cmd::stat_index`).
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// Its stat index (None: not a command of the table).
    pub stat: Option<usize>,
    /// Flagged `fast` (latency monitor event `fast-command`).
    pub fast: bool,
    /// May appear in the slow log (not flagged `skip_slowlog`).
    pub slowlog: bool,
}

/// A command ran on this core, for `usec` µs: calls, failures, slowlog,
/// latency monitor.
#[inline]
pub fn record_call(call: Call, args: &Args, usec: u64, ok: bool) {
    with(|m| m.record(call, args, usec, ok));
}

/// A command was refused before running (`rejected_calls`).
pub fn record_rejected(stat: Option<usize>) {
    if let Some(i) = stat {
        with(|m| m.stats.record_rejected(i));
    }
}

/// An error reply (counted under its code in errorstats).
pub fn record_error(msg: &[u8]) {
    with(|m| m.stats.record_error(msg));
}

/// A command batch from a peer with `cmds` commands was executed here.
pub fn record_peer_batch(cmds: usize) {
    with(|m| {
        m.peer_batches.set(m.peer_batches.get() + 1);
        m.peer_batch_cmds.set(m.peer_batch_cmds.get() + cmds as u64);
        let b = (usize::BITS - cmds.max(1).leading_zeros() - 1) as usize;
        let cell = &m.batch_sizes[b.min(15)];
        cell.set(cell.get() + 1);
    });
}

/// The client a slow-log entry names.
pub trait SlowlogClient {
    /// Its address (`ip:port`) and its CLIENT SETNAME name.
    fn addr_and_name(&self) -> (String, Vec<u8>);
}

/// The client a batch runs for: on its own core, its live state; on a
/// peer's, the identity its batch carried.
pub enum Current {
    Local(Rc<dyn SlowlogClient>),
    Remote(Arc<dyn SlowlogClient + Send + Sync>),
}

/// Marks `current` as the client whose commands run on this core until the guard
/// drops (slowlog entries then name it). Hold it only across synchronous code.
pub struct ClientScope(());

impl ClientScope {
    pub fn enter(current: Option<Current>) -> ClientScope {
        with(|m| *m.current_client.borrow_mut() = current);
        ClientScope(())
    }
}

impl Drop for ClientScope {
    fn drop(&mut self) {
        with(|m| *m.current_client.borrow_mut() = None);
    }
}

/// Sets up this core's recorders (called once per executor).
pub fn start(core: usize, cores: usize, cfg: &ObsConfig) {
    with(|m| {
        m.core.set(core);
        m.cores.set(cores);
        m.configure(cfg);
    });
}

/// Re-reads the runtime-changeable settings after CONFIG SET / SIGHUP
/// (called on every core when its settings change).
pub fn reconfigure(config_value: impl Fn(&str) -> Option<String>) {
    let cfg = ObsConfig::from_settings(config_value);
    with(|m| m.configure(&cfg));
}
