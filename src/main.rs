//! The `ringkv` binary: parse settings, check the port, start one executor per
//! CPU, wait for them to stop.

use clap::Parser;
use ringkv::cmd::client::CoreInfo;
use ringkv::config::Config;
use ringkv::runtime::executor::{allowed_cpus, run};

fn main() {
    let cfg = Config::parse();
    env_logger::Builder::new()
        .parse_filters(&std::env::var("RUST_LOG").unwrap_or_else(|_| cfg.loglevel.clone()))
        .format_timestamp_millis()
        .init();
    let cpus = allowed_cpus();
    let threads = cfg.threads.unwrap_or(cpus.len()).clamp(1, 1024);
    let addr = format!("{}:{}", cfg.bind, cfg.port);

    // SO_REUSEPORT would let a second server silently share the port: probe it
    // with a plain listener first so a taken port fails loudly, as Redis does.
    match std::net::TcpListener::bind(&addr) {
        Ok(probe) => drop(probe),
        Err(e) => {
            eprintln!("Could not create server TCP listening socket {addr}: bind: {e}");
            log::error!("Could not create server TCP listening socket {addr}: bind: {e}");
            std::process::exit(1);
        }
    }

    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let info = CoreInfo {
        core: 0,
        cores: threads,
        databases: cfg.databases,
        port: cfg.port,
        bind: cfg.bind.clone(),
        started: std::time::Instant::now(),
        started_unix,
        run_id: run_id(),
        config_file: String::new(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        config: cfg.as_pairs(threads),
    };
    log::info!(
        "ringkv {} starting: {threads} threads on CPUs {:?}, listening on {addr}",
        env!("CARGO_PKG_VERSION"),
        cpus
    );
    let code = run(cfg, cpus, threads, info);
    log::info!("ringkv stopped");
    std::process::exit(code);
}

/// 40 hex characters, like Redis's run_id.
fn run_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
        .collect()
}
