//! Observability: per-command statistics, SLOWLOG, the latency monitor,
//! MONITOR, and the Prometheus `/metrics` + `/healthz` HTTP endpoint.
//!
//! Layout:
//! - [`stats`]: calls / failures / µs / latency histogram per command (indexed
//!   by position in the command table) and errors by code;
//! - [`slowlog`], [`latency`]: Redis's SLOWLOG and latency monitor, per core;
//! - [`monitor`]: MONITOR's per-core fan-out with bounded buffers;
//! - [`gather`]: the mesh job ([`MetricsJob`]) each core answers and the
//!   fan-out that collects every core's answer;
//! - [`prom`]: the `prometheus-client` collector that encodes a scrape;
//! - [`http`]: the small HTTP/1.1 responder serving `/metrics` and `/healthz`;
//! - [`commands`]: SLOWLOG, LATENCY and MONITOR as the router runs them.
//!
//! Invariant: every cell here belongs to one core and is written only by that
//! core ([`CoreMetrics`] is thread-local: an executor is one thread); readers
//! on other cores get copies through the mesh. The only shared word is
//! MONITOR's count of monitors (see [`monitor`]).

pub mod commands;
pub mod gather;
pub mod http;
pub mod latency;
pub mod monitor;
pub mod prom;
pub mod slowlog;
pub mod stats;

use crate::cmd::client::{ClientIdent, ClientState, CoreInfo};
use crate::cmd::table::{flag, CommandSpec};
use crate::protocol::Args;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

pub use gather::{MetricsJob, MetricsOutput};

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
    pub fn from_info(info: &CoreInfo) -> ObsConfig {
        fn setting<T: std::str::FromStr>(info: &CoreInfo, name: &str, env: &str, default: T) -> T {
            info.config_value(name)
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
    /// with [`MetricsJob::Configure`]).
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

    fn record(&self, spec: &CommandSpec, args: &Args, usec: u64, ok: bool) {
        if let Some(i) = stats::stat_index(spec) {
            self.stats.record_call(i, usec, !ok);
        }
        let slower = self.slowlog_slower_than.get();
        if slower >= 0 && usec >= slower as u64 && spec.flags & flag::SKIP_SLOWLOG == 0 {
            self.log_slow(args, usec);
        }
        let threshold = self.latency_threshold_ms.get();
        if threshold > 0 && usec / 1000 >= threshold {
            let event = if spec.flags & flag::FAST != 0 {
                "fast-command"
            } else {
                "command"
            };
            self.latency
                .borrow_mut()
                .add_sample(event, unix_us() / 1_000_000, usec / 1000);
        }
    }

    fn log_slow(&self, args: &Args, usec: u64) {
        let now = unix_us();
        let (addr, name) = match &*self.current_client.borrow() {
            Some(Current::Local(c)) => {
                let c = c.borrow();
                (c.addr.clone(), c.name.clone())
            }
            Some(Current::Remote(i)) => (i.addr.clone(), i.name.clone()),
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

/// A command ran on this core: calls, µs, failures, slowlog, latency monitor.
#[inline]
pub fn record_command(spec: &CommandSpec, args: &Args, started: quanta::Instant, ok: bool) {
    record_command_us(spec, args, started.elapsed().as_micros() as u64, ok);
}

/// Like [`record_command`], with the duration already measured.
#[inline]
pub fn record_command_us(spec: &CommandSpec, args: &Args, usec: u64, ok: bool) {
    with(|m| m.record(spec, args, usec, ok));
}

/// A command was refused before running (`rejected_calls`).
pub fn record_rejected(spec: &CommandSpec) {
    if let Some(i) = stats::stat_index(spec) {
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

/// The client a batch runs for: on its own core, its live state; on a peer's,
/// the identity its batch carried.
#[derive(Clone, Copy)]
pub enum ClientWho<'a> {
    Local(&'a Rc<RefCell<ClientState>>),
    Remote(&'a Arc<ClientIdent>),
    /// Not run for a client (AOF replay, internal batches).
    Nobody,
}

enum Current {
    Local(Rc<RefCell<ClientState>>),
    Remote(Arc<ClientIdent>),
}

/// Marks `who` as the client whose commands run on this core until the guard
/// drops (slowlog entries then name it). Hold it only across synchronous code.
pub struct ClientScope(());

impl ClientScope {
    pub fn enter(who: ClientWho) -> ClientScope {
        let current = match who {
            ClientWho::Local(c) => Some(Current::Local(c.clone())),
            ClientWho::Remote(i) => Some(Current::Remote(i.clone())),
            ClientWho::Nobody => None,
        };
        with(|m| *m.current_client.borrow_mut() = current);
        ClientScope(())
    }
}

impl Drop for ClientScope {
    fn drop(&mut self) {
        with(|m| *m.current_client.borrow_mut() = None);
    }
}

/// Sets up this core's metrics and, on core 0, serves the HTTP endpoint.
/// Called once per executor after its `Core` is built.
pub fn start(core: &Rc<crate::runtime::core::Core>) {
    let cfg = ObsConfig::from_info(&core.info);
    with(|m| {
        m.core.set(core.id);
        m.cores.set(core.cores);
        m.configure(&cfg);
    });
    if core.id == 0 {
        // Resolved (and checked free) by main.rs from `metrics-addr`.
        let addr = core.info.metrics_addr.clone();
        if addr.is_empty() {
            log::info!("metrics endpoint disabled");
        } else {
            glommio::spawn_local(http::serve(core.clone(), addr)).detach();
        }
    }
}

/// Re-reads the runtime-changeable settings after CONFIG SET / SIGHUP
/// (called on every core when its settings change).
pub fn reconfigure(info: &CoreInfo) {
    let cfg = ObsConfig::from_info(info);
    with(|m| m.configure(&cfg));
}
