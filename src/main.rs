//! The `ringkv` binary: load the settings (defaults < TOML file < flags <
//! `RINGKV_*` environment), set up logging, check the port, start one
//! executor per CPU, wait for them to stop.

use ringkv::cmd::client::CoreInfo;
use ringkv::config::{self, Config, Start};
use ringkv::net::probe;
use ringkv::server::{allowed_cpus, run};

/// As Redis's `disable-thp yes`: no transparent huge pages for this process.
/// With them, first touches of fresh memory clear whole 2 MB pages: a
/// 1M-key mass insertion spent ~40% of its CPU in `clear_page_erms` and took
/// 0.94 s instead of 0.64 s, with a larger RSS.
fn disable_transparent_huge_pages() {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        log::warn!(
            "could not disable transparent huge pages: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// mimalloc: per-thread heaps with no cross-thread trimming. With glibc's
/// malloc, freeing a batch's buffers cost ~14% of the CPU at two executors
/// (plus TLB-shootdown IPIs when it returned memory to the kernel).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut cfg, warnings) = match Config::from_args_and_env(args, std::env::vars()) {
        Ok((Start::Run(cfg), warnings)) => (*cfg, warnings),
        Ok((Start::Help, _)) => {
            print!("{}", config::help_text());
            return;
        }
        Ok((Start::Version, _)) => {
            println!("ringkv v={}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Err(e) => fatal(&e.to_string()),
    };
    if let Some(file) = &cfg.origin.file {
        // Absolute, so SIGHUP and CONFIG REWRITE find it whatever the cwd.
        if let Ok(abs) = std::path::absolute(file) {
            cfg.origin.file = Some(abs);
        }
    }
    if let Err(e) = config::logging::init(&cfg) {
        fatal(&e);
    }
    for w in warnings {
        log::warn!("{w}");
    }
    if cfg.disable_thp {
        disable_transparent_huge_pages();
    }

    let allowed = allowed_cpus();
    let cpus = if cfg.cpus.is_empty() {
        allowed
    } else {
        if let Some(cpu) = cfg.cpus.iter().find(|c| !allowed.contains(c)) {
            fatal(&format!(
                "cpus: CPU {cpu} is not in this process's affinity mask {allowed:?}"
            ));
        }
        cfg.cpus.clone()
    };
    let threads = if cfg.threads == 0 {
        cpus.len()
    } else {
        cfg.threads
    };
    cfg.threads = threads;
    let addr = format!("{}:{}", cfg.bind, cfg.port);

    // SO_REUSEPORT would let a second server silently share the port: probe it
    // with a plain listener first so a taken port fails loudly, as Redis does
    // (retried briefly: a process killed a moment ago may still hold it).
    if let Err(e) = probe::wait_tcp_free(&addr, "TCP", probe::FREE_WAIT) {
        eprintln!("Could not create server TCP listening socket {addr}: bind: {e}");
        log::error!("Could not create server TCP listening socket {addr}: bind: {e}");
        std::process::exit(1);
    }
    warn_if_backlog_capped(cfg.tcp_backlog);
    let unix_path = cfg.unixsocket.trim();
    if !unix_path.is_empty() {
        probe::wait_unix_free(std::path::Path::new(unix_path), probe::FREE_WAIT);
    }

    let metrics_addr = metrics_addr(&cfg);

    let config_file = cfg
        .origin
        .file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    log::info!(
        "ringkv {} starting: pid {}, {threads} threads on CPUs {cpus:?}, listening on {addr}{}, config file {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        if cfg.unixsocket.is_empty() {
            String::new()
        } else {
            format!(" and {}", cfg.unixsocket)
        },
        if config_file.is_empty() { "none (defaults)" } else { &config_file },
    );
    let info = CoreInfo {
        core: 0,
        cores: threads,
        databases: cfg.databases,
        port: cfg.port,
        bind: cfg.bind.clone(),
        started: std::time::Instant::now(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        run_id: run_id(),
        config_file,
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        metrics_addr,
        settings: std::cell::RefCell::new(cfg.clone()),
    };
    let code = run(cfg, cpus, threads, info);
    log::info!("ringkv stopped");
    std::process::exit(code);
}

/// A setting that cannot be used: say why (naming the key and where it was
/// given) and exit with status 1, as redis-server does.
fn fatal(msg: &str) -> ! {
    eprintln!(
        "\n*** FATAL CONFIG ERROR (ringkv {}) ***\n{msg}",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(1);
}

/// The metrics endpoint's address, checked free (retried briefly, as the
/// client port). One named in `metrics-addr` must be free or the server
/// exits with status 1; the `auto` one (port + 2742) only logs and runs
/// without metrics. Empty: no endpoint.
fn metrics_addr(cfg: &Config) -> String {
    let Some(addr) = cfg.metrics_listen_addr() else {
        return String::new();
    };
    match probe::wait_tcp_free(&addr, "metrics", probe::FREE_WAIT) {
        Ok(()) => addr,
        Err(e) if cfg.metrics_addr_is_explicit() => {
            let msg = format!(
                "Could not create metrics listening socket {addr}: bind: {e} \
                 (metrics-addr; set another address, or \"\" to run without metrics)"
            );
            eprintln!("{msg}");
            log::error!("{msg}");
            std::process::exit(1);
        }
        Err(e) => {
            log::warn!(
                "metrics endpoint disabled: {addr} (metrics-addr auto: 127.0.0.1, port + {}) \
                 cannot be bound: {e}; set metrics-addr to choose an address",
                config::METRICS_PORT_OFFSET
            );
            String::new()
        }
    }
}

/// As Redis: say when the kernel will cap `tcp-backlog` (net.core.somaxconn).
fn warn_if_backlog_capped(backlog: u32) {
    let max = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    if let Some(max) = max.filter(|&m| m < backlog) {
        log::warn!(
            "tcp-backlog {backlog} cannot be enforced: /proc/sys/net/core/somaxconn is {max}"
        );
    }
}

/// 40 hex characters, like Redis's run_id.
fn run_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
        .collect()
}
