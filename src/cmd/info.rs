//! `INFO`: Redis 7.0's report text, sections and field names, so that
//! `redis-cli --stat`, redis_exporter and client libraries parse it.
//!
//! The router gathers [`InfoFacts`] (every core's counters and every shard's
//! keyspace figures, summed) and calls [`render_info`]; the text goes out as a
//! verbatim string (a bulk string in RESP2), as Redis sends it. Fields ringkv
//! has no notion of yet (forks, AOF rewrites, replication backlog) read as
//! Redis reports them on an idle master with persistence off. Rendering is
//! pure apart from process facts read here (rusage, RSS, uname).

use super::client::CoreInfo;
use super::connection::REDIS_COMPAT_VERSION;
use super::eq_ic;
use crate::protocol::Args;
use std::fmt::Write;

/// Server-wide facts gathered from every core for `INFO` (summed by the router).
#[derive(Debug, Default, Clone)]
pub struct InfoFacts {
    pub connected_clients: u64,
    pub blocked_clients: u64,
    pub total_connections_received: u64,
    pub rejected_connections: u64,
    pub total_commands_processed: u64,
    pub instantaneous_ops_per_sec: u64,
    pub total_error_replies: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Writes since the last snapshot, summed over shards.
    pub rdb_changes_since_last_save: u64,
    /// False when some shard's last AOF write or fsync failed.
    /// Per database: (keys, keys with an expiry).
    pub keyspace: Vec<(usize, usize)>,
    /// Every shard's accounted memory with the process's RSS (`# Memory`).
    pub memory: super::memory::MemoryReport,
    /// `# Commandstats`, one entry per command that ran (full names,
    /// `client|list`).
    pub commandstats: Vec<CommandStat>,
    /// `# Errorstats`: (error code such as `ERR` or `WRONGTYPE`, count).
    pub errorstats: Vec<(String, u64)>,
    /// `# Latencystats`: per command that ran, its p50, p99 and p99.9 in µs.
    pub latencystats: Vec<LatencyStat>,
}

/// One command's latency percentiles for `# Latencystats`.
#[derive(Debug, Default, Clone)]
pub struct LatencyStat {
    pub name: String,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

/// Fills commandstats, errorstats and latencystats from every core's
/// command statistics (summed).
pub fn add_command_stats(facts: &mut InfoFacts, stats: crate::metrics::stats::StatsSnapshot) {
    for c in &stats.cmds {
        facts.commandstats.push(CommandStat {
            name: crate::cmd::stat_index::stat_name(c.index).to_string(),
            calls: c.calls,
            usec: c.usec,
            rejected_calls: c.rejected,
            failed_calls: c.failed,
        });
        if c.calls > 0 {
            facts.latencystats.push(LatencyStat {
                name: crate::cmd::stat_index::stat_name(c.index).to_string(),
                p50: c.percentile(50.0),
                p99: c.percentile(99.0),
                p999: c.percentile(99.9),
            });
        }
    }
    facts.errorstats = stats.errors;
}

/// One command's counters for `# Commandstats`.
#[derive(Debug, Default, Clone)]
pub struct CommandStat {
    pub name: String,
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// Every section, in the order Redis prints them.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Sections of a bare `INFO` / `INFO default` (`module_list` is `modules`).
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Which sections `INFO args[1..]` asks for, as Redis's
/// `genInfoSectionDict`: `default`, `all` (every section), `everything` (all
/// plus module-generated ones, of which there are none), or names,
/// case-insensitively; unknown names select nothing.
fn selected(args: &Args) -> Vec<&'static str> {
    if args.len() <= 1 {
        return DEFAULT_SECTIONS.to_vec();
    }
    let mut all = false;
    let mut picked: Vec<&'static str> = Vec::new();
    for a in args.iter_from(1) {
        if eq_ic(a, "default") {
            picked.extend(DEFAULT_SECTIONS);
        } else if eq_ic(a, "all") || eq_ic(a, "everything") {
            all = true;
        } else if eq_ic(a, "module_list") {
            picked.push("modules");
        } else if let Some(s) = SECTIONS.iter().find(|s| eq_ic(a, s)) {
            picked.push(s);
        }
    }
    SECTIONS
        .iter()
        .copied()
        .filter(|s| all || picked.contains(s))
        .collect()
}

/// The `INFO` text for `args` (the whole command, `INFO` included).
pub fn render_info(args: &Args, facts: &InfoFacts, core: &CoreInfo) -> String {
    let mut out = String::with_capacity(4096);
    for (i, section) in selected(args).into_iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut lines = Section(String::new());
        match section {
            "server" => server(&mut lines, core),
            "clients" => clients(&mut lines, facts, core),
            "memory" => memory(&mut lines, facts, core),
            "persistence" => persistence(&mut lines, facts, core),
            "stats" => stats(&mut lines, facts),
            "replication" => replication(&mut lines, core),
            "cpu" => cpu(&mut lines),
            "commandstats" => {
                for c in &facts.commandstats {
                    let per_call = if c.calls == 0 {
                        0.0
                    } else {
                        c.usec as f64 / c.calls as f64
                    };
                    lines.kv(
                        &format!("cmdstat_{}", c.name),
                        format_args!(
                            "calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                            c.calls, c.usec, per_call, c.rejected_calls, c.failed_calls
                        ),
                    );
                }
            }
            "errorstats" => {
                for (code, count) in &facts.errorstats {
                    lines.kv(&format!("errorstat_{code}"), format_args!("count={count}"));
                }
            }
            "latencystats" => {
                for l in &facts.latencystats {
                    lines.kv(
                        &format!("latency_percentiles_usec_{}", l.name),
                        format_args!("p50={:.3},p99={:.3},p99.9={:.3}", l.p50, l.p99, l.p999),
                    );
                }
            }
            "cluster" => lines.kv("cluster_enabled", 0),
            "keyspace" => {
                for (db, (keys, expires)) in facts.keyspace.iter().enumerate() {
                    if *keys > 0 {
                        lines.kv(
                            &format!("db{db}"),
                            format_args!("keys={keys},expires={expires},avg_ttl=0"),
                        );
                    }
                }
            }
            _ => {} // modules: nothing to report.
        }
        out.push_str("# ");
        out.push_str(title(section));
        out.push_str("\r\n");
        out.push_str(&lines.0);
    }
    out
}

fn title(section: &str) -> &'static str {
    match section {
        "server" => "Server",
        "clients" => "Clients",
        "memory" => "Memory",
        "persistence" => "Persistence",
        "stats" => "Stats",
        "replication" => "Replication",
        "cpu" => "CPU",
        "modules" => "Modules",
        "commandstats" => "Commandstats",
        "errorstats" => "Errorstats",
        "latencystats" => "Latencystats",
        "cluster" => "Cluster",
        _ => "Keyspace",
    }
}

/// `key:value\r\n` lines.
struct Section(String);

impl Section {
    fn kv(&mut self, key: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{key}:{value}\r\n");
    }
}

fn config(core: &CoreInfo, name: &str, default: &str) -> String {
    core.config_value(name)
        .unwrap_or_else(|| default.to_string())
}

fn server(s: &mut Section, core: &CoreInfo) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let uptime = core.started.elapsed().as_secs();
    let supervised = if std::env::var_os("NOTIFY_SOCKET").is_some() {
        "systemd"
    } else {
        "no"
    };
    s.kv("redis_version", REDIS_COMPAT_VERSION);
    s.kv("redis_git_sha1", "00000000");
    s.kv("redis_git_dirty", 0);
    s.kv("redis_build_id", "0");
    s.kv("redis_mode", "standalone");
    s.kv("os", os_name());
    s.kv("arch_bits", usize::BITS);
    s.kv("monotonic_clock", "POSIX clock_gettime");
    s.kv("multiplexing_api", "io_uring");
    s.kv("atomicvar_api", "c11-builtin");
    s.kv("gcc_version", "0.0.0");
    s.kv("process_id", std::process::id());
    s.kv("process_supervised", supervised);
    s.kv("run_id", &core.run_id);
    s.kv("tcp_port", core.port);
    s.kv("server_time_usec", now.as_micros());
    s.kv("uptime_in_seconds", uptime);
    s.kv("uptime_in_days", uptime / 86400);
    s.kv("hz", 10);
    s.kv("configured_hz", 10);
    s.kv("lru_clock", now.as_secs() & ((1 << 24) - 1));
    s.kv("executable", &core.executable);
    s.kv("config_file", &core.config_file);
    s.kv("io_threads_active", 0);
    s.kv("ringkv_version", env!("CARGO_PKG_VERSION"));
    s.kv("ringkv_threads", core.cores);
    // Where /metrics is served (empty: nowhere), see `metrics-addr`.
    s.kv("metrics_addr", &core.metrics_addr);
}

fn clients(s: &mut Section, f: &InfoFacts, core: &CoreInfo) {
    s.kv("connected_clients", f.connected_clients);
    s.kv("cluster_connections", 0);
    s.kv("maxclients", config(core, "maxclients", "10000"));
    s.kv("client_recent_max_input_buffer", 0);
    s.kv("client_recent_max_output_buffer", 0);
    s.kv("blocked_clients", f.blocked_clients);
    s.kv("tracking_clients", 0);
    s.kv("clients_in_timeout_table", 0);
}

fn memory(s: &mut Section, f: &InfoFacts, core: &CoreInfo) {
    let m = &f.memory;
    let a = &m.allocator;
    let (used, rss, peak) = (m.total as u64, m.rss as u64, m.peak.max(m.total) as u64);
    let system = total_system_memory();
    let maxmemory: u64 = config(core, "maxmemory", "0").parse().unwrap_or(0);
    let two = |v: f64| format!("{v:.2}");
    s.kv("used_memory", used);
    s.kv("used_memory_human", bytes_to_human(used));
    s.kv("used_memory_rss", rss);
    s.kv("used_memory_rss_human", bytes_to_human(rss));
    s.kv("used_memory_peak", peak);
    s.kv("used_memory_peak_human", bytes_to_human(peak));
    s.kv(
        "used_memory_peak_perc",
        format_args!("{:.2}%", m.peak_percentage()),
    );
    s.kv("used_memory_overhead", m.overhead_total);
    s.kv("used_memory_startup", m.startup);
    s.kv("used_memory_dataset", m.dataset());
    s.kv(
        "used_memory_dataset_perc",
        format_args!("{:.2}%", m.dataset_percentage()),
    );
    s.kv("allocator_allocated", a.allocated);
    s.kv("allocator_active", a.active);
    s.kv("allocator_resident", a.resident);
    s.kv("total_system_memory", system);
    s.kv("total_system_memory_human", bytes_to_human(system));
    // Scripting: the Lua states of the core answering (each core has its
    // own), and the script bodies and libraries every core shares.
    let vm_eval = crate::cmd::script::host::Host::used_memory();
    let vm_functions = crate::cmd::function::host::FunctionHost::used_memory();
    let scripts_eval = crate::cmd::script::cache::body_bytes();
    let registry = crate::cmd::function::registry::current();
    let functions = crate::cmd::function::registry::code_bytes();
    s.kv("used_memory_lua", vm_eval);
    s.kv("used_memory_vm_eval", vm_eval);
    s.kv("used_memory_lua_human", bytes_to_human(vm_eval as u64));
    s.kv("used_memory_scripts_eval", scripts_eval);
    s.kv(
        "number_of_cached_scripts",
        crate::cmd::script::cache::count(),
    );
    s.kv("number_of_functions", registry.function_count());
    s.kv("number_of_libraries", registry.libraries.len());
    s.kv("used_memory_vm_functions", vm_functions);
    s.kv("used_memory_vm_total", vm_eval + vm_functions);
    s.kv(
        "used_memory_vm_total_human",
        bytes_to_human((vm_eval + vm_functions) as u64),
    );
    s.kv("used_memory_functions", functions);
    s.kv("used_memory_scripts", scripts_eval + functions);
    s.kv(
        "used_memory_scripts_human",
        bytes_to_human((scripts_eval + functions) as u64),
    );
    s.kv("maxmemory", maxmemory);
    s.kv("maxmemory_human", bytes_to_human(maxmemory));
    s.kv(
        "maxmemory_policy",
        config(core, "maxmemory-policy", "noeviction"),
    );
    s.kv("allocator_frag_ratio", two(a.fragmentation_ratio()));
    s.kv("allocator_frag_bytes", a.active.saturating_sub(a.allocated));
    s.kv("allocator_rss_ratio", two(a.rss_ratio()));
    s.kv("allocator_rss_bytes", a.resident.saturating_sub(a.active));
    let rss_overhead = if a.resident == 0 {
        0.0
    } else {
        rss as f64 / a.resident as f64
    };
    s.kv("rss_overhead_ratio", two(rss_overhead));
    s.kv("rss_overhead_bytes", m.rss as i64 - a.resident as i64);
    s.kv("mem_fragmentation_ratio", two(m.fragmentation()));
    s.kv("mem_fragmentation_bytes", rss as i64 - used as i64);
    s.kv("mem_not_counted_for_evict", m.aof_buffer);
    s.kv("mem_replication_backlog", 0);
    s.kv("mem_total_replication_buffers", 0);
    s.kv("mem_clients_slaves", 0);
    s.kv("mem_clients_normal", 0);
    s.kv("mem_cluster_links", 0);
    s.kv("mem_aof_buffer", m.aof_buffer);
    s.kv("mem_allocator", super::memory::allocator::name());
    s.kv("active_defrag_running", 0);
    s.kv("lazyfree_pending_objects", 0);
    s.kv("lazyfreed_objects", 0);
}

fn persistence(s: &mut Section, f: &InfoFacts, core: &CoreInfo) {
    let aof = config(core, "appendonly", "no") == "yes";
    let status = crate::persist::status::info_fields();
    let st = |name: &str| {
        status
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    s.kv("loading", 0);
    s.kv("async_loading", 0);
    s.kv("current_cow_peak", 0);
    s.kv("current_cow_size", 0);
    s.kv("current_cow_size_age", 0);
    s.kv("current_fork_perc", "0.00");
    s.kv("current_save_keys_processed", 0);
    s.kv("current_save_keys_total", 0);
    s.kv("rdb_changes_since_last_save", f.rdb_changes_since_last_save);
    for name in [
        "rdb_bgsave_in_progress",
        "rdb_last_save_time",
        "rdb_last_bgsave_status",
        "rdb_last_bgsave_time_sec",
    ] {
        s.kv(name, st(name));
    }
    s.kv("rdb_current_bgsave_time_sec", -1);
    s.kv("rdb_saves", st("rdb_saves"));
    s.kv("rdb_last_cow_size", 0);
    s.kv("rdb_last_load_keys_expired", 0);
    s.kv("rdb_last_load_keys_loaded", 0);
    s.kv("aof_enabled", aof as u8);
    s.kv("aof_rewrite_in_progress", st("aof_rewrite_in_progress"));
    s.kv("aof_rewrite_scheduled", 0);
    s.kv("aof_last_rewrite_time_sec", st("aof_last_rewrite_time_sec"));
    s.kv("aof_current_rewrite_time_sec", -1);
    s.kv("aof_last_bgrewrite_status", st("aof_last_bgrewrite_status"));
    s.kv("aof_rewrites", st("aof_rewrites"));
    s.kv("aof_rewrites_consecutive_failures", 0);
    s.kv("aof_last_write_status", st("aof_last_write_status"));
    s.kv("aof_last_cow_size", 0);
    s.kv("module_fork_in_progress", 0);
    s.kv("module_fork_last_cow_size", 0);
}

fn stats(s: &mut Section, f: &InfoFacts) {
    s.kv("total_connections_received", f.total_connections_received);
    s.kv("total_commands_processed", f.total_commands_processed);
    s.kv("instantaneous_ops_per_sec", f.instantaneous_ops_per_sec);
    s.kv("total_net_input_bytes", f.net_input_bytes);
    s.kv("total_net_output_bytes", f.net_output_bytes);
    s.kv("total_net_repl_input_bytes", 0);
    s.kv("total_net_repl_output_bytes", 0);
    s.kv("instantaneous_input_kbps", "0.00");
    s.kv("instantaneous_output_kbps", "0.00");
    s.kv("instantaneous_input_repl_kbps", "0.00");
    s.kv("instantaneous_output_repl_kbps", "0.00");
    s.kv("rejected_connections", f.rejected_connections);
    s.kv("sync_full", 0);
    s.kv("sync_partial_ok", 0);
    s.kv("sync_partial_err", 0);
    s.kv("expired_keys", f.expired_keys);
    s.kv("expired_stale_perc", "0.00");
    s.kv("expired_time_cap_reached_count", 0);
    s.kv("expire_cycle_cpu_milliseconds", 0);
    s.kv("evicted_keys", f.evicted_keys);
    s.kv("evicted_clients", 0);
    s.kv("total_eviction_exceeded_time", 0);
    s.kv("current_eviction_exceeded_time", 0);
    s.kv("keyspace_hits", f.keyspace_hits);
    s.kv("keyspace_misses", f.keyspace_misses);
    s.kv("pubsub_channels", 0);
    s.kv("pubsub_patterns", 0);
    s.kv("pubsubshard_channels", 0);
    s.kv("latest_fork_usec", 0);
    s.kv("total_forks", 0);
    s.kv("migrate_cached_sockets", 0);
    s.kv("slave_expires_tracked_keys", 0);
    s.kv("active_defrag_hits", 0);
    s.kv("active_defrag_misses", 0);
    s.kv("active_defrag_key_hits", 0);
    s.kv("active_defrag_key_misses", 0);
    s.kv("total_active_defrag_time", 0);
    s.kv("current_active_defrag_time", 0);
    s.kv("tracking_total_keys", 0);
    s.kv("tracking_total_items", 0);
    s.kv("tracking_total_prefixes", 0);
    s.kv("unexpected_error_replies", 0);
    s.kv("total_error_replies", f.total_error_replies);
    s.kv("dump_payload_sanitizations", 0);
    s.kv("total_reads_processed", 0);
    s.kv("total_writes_processed", 0);
    s.kv("io_threaded_reads_processed", 0);
    s.kv("io_threaded_writes_processed", 0);
    s.kv("reply_buffer_shrinks", 0);
    s.kv("reply_buffer_expands", 0);
}

fn replication(s: &mut Section, core: &CoreInfo) {
    s.kv("role", "master");
    s.kv("connected_slaves", 0);
    s.kv("master_failover_state", "no-failover");
    s.kv("master_replid", &core.run_id);
    s.kv("master_replid2", "0000000000000000000000000000000000000000");
    s.kv("master_repl_offset", 0);
    s.kv("second_repl_offset", -1);
    s.kv("repl_backlog_active", 0);
    s.kv("repl_backlog_size", 1048576);
    s.kv("repl_backlog_first_byte_offset", 0);
    s.kv("repl_backlog_histlen", 0);
}

fn cpu(s: &mut Section) {
    let this = rusage(libc::RUSAGE_SELF);
    let children = rusage(libc::RUSAGE_CHILDREN);
    let thread = rusage(libc::RUSAGE_THREAD);
    s.kv("used_cpu_sys", this.0);
    s.kv("used_cpu_user", this.1);
    s.kv("used_cpu_sys_children", children.0);
    s.kv("used_cpu_user_children", children.1);
    s.kv("used_cpu_sys_main_thread", thread.0);
    s.kv("used_cpu_user_main_thread", thread.1);
}

/// (system, user) CPU time as Redis prints it: `%ld.%06ld` seconds.
fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: getrusage only writes the struct we pass, which is zeroed and
    // lives for the whole call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `who` is one of the RUSAGE_* constants.
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    if rc != 0 {
        return ("0.000000".into(), "0.000000".into());
    }
    let fmt = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (fmt(ru.ru_stime), fmt(ru.ru_utime))
}

/// `uname -s -r -m`, as Redis's `os` field.
fn os_name() -> String {
    // SAFETY: uname fills the zeroed struct; its fields are NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// Resident set size of this process in bytes (0 if /proc is unreadable).
pub fn resident_memory() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    pages.max(0) as u64 * page.max(0) as u64
}

/// Redis's `bytesToHuman`: `123B`, `1.35M`, two decimals from K to P.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: &[(u32, &str)] = &[(10, "K"), (20, "M"), (30, "G"), (40, "T"), (50, "P")];
    for (shift, unit) in UNITS {
        if n >= 1 << shift && n < 1 << (shift + 10) {
            return format!("{:.2}{unit}", n as f64 / (1u64 << shift) as f64);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::args::OwnedArgs;

    fn info(parts: &[&str], facts: &InfoFacts) -> String {
        let args = OwnedArgs::from_parts(parts);
        render_info(&args.args(), facts, &CoreInfo::for_tests())
    }

    fn headers(text: &str) -> Vec<&str> {
        text.split("\r\n").filter(|l| l.starts_with("# ")).collect()
    }

    #[test]
    fn section_selection() {
        let f = InfoFacts::default();
        let default = [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace",
        ];
        assert_eq!(headers(&info(&["info"], &f)), default);
        assert_eq!(headers(&info(&["info", "DEFAULT"], &f)), default);
        let all_text = info(&["info", "all"], &f);
        let all = headers(&all_text);
        assert_eq!(all.len(), 13);
        assert!(all.contains(&"# Commandstats") && all.contains(&"# Latencystats"));
        assert_eq!(headers(&info(&["info", "everything"], &f)), all);
        assert_eq!(
            headers(&info(&["info", "clients", "Server"], &f)),
            ["# Server", "# Clients"]
        );
        assert_eq!(info(&["info", "foo"], &f), "");
        assert_eq!(
            info(&["info", "cluster"], &f),
            "# Cluster\r\ncluster_enabled:0\r\n"
        );
        assert_eq!(info(&["info", "modules"], &f), "# Modules\r\n");
    }

    #[test]
    fn fields_and_line_endings() {
        let f = InfoFacts {
            connected_clients: 3,
            total_commands_processed: 42,
            keyspace: vec![(2, 1), (0, 0), (5, 0)],
            commandstats: vec![CommandStat {
                name: "client|list".into(),
                calls: 3,
                usec: 10,
                ..Default::default()
            }],
            errorstats: vec![("ERR".into(), 4)],
            latencystats: vec![LatencyStat {
                name: "get".into(),
                p50: 1.0,
                p99: 3.0,
                p999: 11.0,
            }],
            memory: crate::cmd::memory::MemoryReport {
                total: 1_411_368,
                ..Default::default()
            },
            ..Default::default()
        };
        let text = info(&["info", "everything"], &f);
        assert!(!text.replace("\r\n", "").contains('\n'));
        assert!(text.ends_with("\r\n") && !text.ends_with("\r\n\r\n"));
        for field in [
            "redis_version:7.0.15", "redis_mode:standalone", "arch_bits:64", "tcp_port:6379",
            "connected_clients:3", "used_memory:1411368", "used_memory_human:1.35M",
            "maxmemory:0", "loading:0", "aof_enabled:0", "total_commands_processed:42",
            "role:master", "connected_slaves:0", "blocked_clients:0",
            "cmdstat_client|list:calls=3,usec=10,usec_per_call=3.33,rejected_calls=0,failed_calls=0",
            "errorstat_ERR:count=4", "latency_percentiles_usec_get:p50=1.000,p99=3.000,p99.9=11.000", "db0:keys=2,expires=1,avg_ttl=0", "db2:keys=5,expires=0,avg_ttl=0",
        ] {
            assert!(text.contains(&format!("\r\n{field}\r\n")), "missing {field}");
        }
        assert!(!text.contains("db1:"));
        assert!(text.contains("\r\n\r\n# Clients\r\n"));
        assert!(text.contains("\r\nused_cpu_user:"));
    }

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(32768), "32.00K");
        assert_eq!(bytes_to_human(7_393_280), "7.05M");
        assert_eq!(bytes_to_human(25_276_510_208), "23.54G");
    }
}
