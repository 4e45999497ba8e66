//! The composition root: start-up loading ([`load`], with AOF [`replay`]),
//! then one pinned glommio `LocalExecutor` per shard, the full mesh of
//! request and response channels between them, the listeners, and the
//! shutdown sequence. Nothing below this module names it.

pub mod load;
pub mod replay;

use crate::cmd::client::CoreInfo;
use crate::config::Config;
use crate::runtime::core::Core;
use crate::runtime::mesh::{Request, Response};
use crate::runtime::shutdown::Countdown;
use crate::shard::Shard;
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};
use glommio::{LocalExecutorBuilder, Placement};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::time::Duration;

/// Capacity of each mesh channel, in messages (each message is a batch).
const MESH_CHANNEL_CAPACITY: usize = 1024;

/// This executor's ends of the mesh: senders to and receivers from every peer.
struct MeshEnds {
    req_tx: Vec<Option<SharedSender<Request>>>,
    req_rx: Vec<Option<SharedReceiver<Request>>>,
    resp_tx: Vec<Option<SharedSender<Response>>>,
    resp_rx: Vec<Option<SharedReceiver<Response>>>,
}

fn build_mesh(n: usize) -> Vec<MeshEnds> {
    let mut ends: Vec<MeshEnds> = (0..n)
        .map(|_| MeshEnds {
            req_tx: (0..n).map(|_| None).collect(),
            req_rx: (0..n).map(|_| None).collect(),
            resp_tx: (0..n).map(|_| None).collect(),
            resp_rx: (0..n).map(|_| None).collect(),
        })
        .collect();
    for from in 0..n {
        for to in 0..n {
            if from == to {
                continue;
            }
            let (tx, rx) = shared_channel::new_bounded(MESH_CHANNEL_CAPACITY);
            ends[from].req_tx[to] = Some(tx);
            ends[to].req_rx[from] = Some(rx);
            let (tx, rx) = shared_channel::new_bounded(MESH_CHANNEL_CAPACITY);
            ends[to].resp_tx[from] = Some(tx);
            ends[from].resp_rx[to] = Some(rx);
        }
    }
    ends
}

/// CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    let ids: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.is_empty() {
        vec![0]
    } else {
        ids
    }
}

/// Puts the calling executor thread under SCHED_BATCH, for executors that share
/// a CPU (more executors than CPUs): waking one (a peer's message, a client's
/// request) then does not preempt the executor running on that CPU mid-turn;
/// they take turns as each sleeps or uses up its slice. Otherwise each hop
/// between them can switch twice before either has finished its batch. With
/// its own CPU an executor keeps the normal policy, so a wake-up still
/// preempts whatever else runs there.
fn no_wakeup_preemption(id: usize, cpu: usize) {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler on the calling thread (0) with a valid param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0 {
        log::warn!(
            "executor {id} shares CPU {cpu} but cannot use SCHED_BATCH: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A panic (a bug) ends the process at once, after the panic's report,
/// rather than leaving the other executors serving while the panicked
/// core's shard, listener and peers' requests go unanswered forever (and
/// the process never exits, so a supervisor never restarts it). Nothing
/// acknowledged is lost: an acknowledged write is in the AOF as its
/// `appendfsync` promised.
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        log::error!("panic: {info}; aborting");
        std::process::abort();
    }));
}

/// Runs the server until shutdown. Returns the process exit code.
pub fn run(cfg: Config, cpus: Vec<usize>, threads: usize, info: CoreInfo) -> i32 {
    // Calibrate the command clock's TSC scale now (quanta: usually 10-20 ms, at
    // most 200), not in the middle of an executor's first command.
    let _ = quanta::Instant::now();
    let drain = Countdown::new(threads);
    // Counts executors whose listeners are bound (see `serve`).
    let bound = Countdown::new(threads);
    crate::persist::status::init(info.started_unix);
    crate::cmd::script::busy::set_threshold(cfg.busy_reply_threshold);
    let (ready, supervisor) = crate::runtime::systemd::channel(threads);
    let mut net_ends = crate::net::listener::NetEnds::build(&cfg, threads, &ready).into_iter();
    drop(ready); // the executors hold the only notifiers
    let loaded = match crate::server::load::load(&cfg, threads) {
        Ok(l) => l,
        Err(e) => {
            log::error!("{e}");
            eprintln!("ringkv: {e}");
            return 1;
        }
    };
    let mut shards = loaded.shards.into_iter();
    let mut aof_incr = loaded.aof_incr.into_iter();
    abort_on_panic();
    let mut handles = Vec::new();
    for (id, mesh) in build_mesh(threads).into_iter().enumerate() {
        let shard = shards.next().expect("one shard per executor");
        let aof_path = aof_incr.next().flatten();
        let cpu = cpus[id % cpus.len()];
        let shares_cpu = (0..threads).filter(|j| cpus[j % cpus.len()] == cpu).count() > 1;
        let (cfg, drain, bound) = (cfg.clone(), drain.clone(), bound.clone());
        let net = net_ends.next().expect("one NetEnds per executor");
        let mut info = info.clone();
        info.core = id;
        // One self-pipe per executor for SIGTERM/SIGINT.
        let (sig_rx, sig_tx) = match std::os::unix::net::UnixStream::pair() {
            Ok(p) => p,
            Err(e) => {
                log::error!("cannot create signal pipe: {e}");
                return 1;
            }
        };
        for sig in [libc::SIGTERM, libc::SIGINT] {
            let tx = match sig_tx.try_clone() {
                Ok(tx) => tx,
                Err(e) => {
                    log::error!("cannot clone signal pipe: {e}");
                    return 1;
                }
            };
            if let Err(e) = signal_hook::low_level::pipe::register(sig, tx) {
                log::error!("cannot register signal handler: {e}");
                return 1;
            }
        }
        let sig_fd = sig_rx.into_raw_fd();
        let builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("ringkv-shard-{id}"))
            .preempt_timer(Duration::from_micros(
                std::env::var("RINGKV_PREEMPT_US")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1000),
            ))
            .io_memory(256 << 10);
        let spawned = builder.spawn(move || async move {
            if shares_cpu {
                no_wakeup_preemption(id, cpu);
            }
            // SAFETY: sig_fd is the read end of a socketpair we own exclusively.
            let signals = unsafe { glommio::net::UnixStream::from_raw_fd(sig_fd) };
            let parts = Parts {
                shard,
                aof_path,
                mesh,
                drain,
                bound,
                signals,
                net,
            };
            serve(id, threads, cfg, info, parts).await
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                log::error!("cannot start executor {id} on CPU {cpu}: {e}");
                eprintln!("ringkv: cannot start executor {id} on CPU {cpu}: {e} (is io_uring available? check kernel.io_uring_disabled and RLIMIT_MEMLOCK)");
                std::process::exit(1);
            }
        }
    }
    // systemd: READY=1 once every executor's listeners are bound, STOPPING=1
    // when shutdown starts.
    supervisor.run(&crate::net::listener::describe(&cfg));
    let mut code = 0;
    for h in handles {
        match h.join() {
            Ok(c) if c != 0 => code = c,
            Ok(_) => {}
            Err(e) => {
                log::error!("executor failed: {e}");
                code = 1;
            }
        }
    }
    code
}

/// What one executor starts with.
struct Parts {
    shard: Shard,
    aof_path: Option<std::path::PathBuf>,
    mesh: MeshEnds,
    drain: Countdown,
    /// Reaches zero once every executor has bound its listeners.
    bound: Countdown,
    signals: glommio::net::UnixStream,
    net: crate::net::listener::NetEnds,
}

async fn serve(id: usize, cores: usize, cfg: Config, info: CoreInfo, parts: Parts) -> i32 {
    let Parts {
        shard,
        aof_path,
        mesh,
        drain,
        bound,
        signals,
        net,
    } = parts;
    let core = Rc::new(Core::new(id, cores, shard, info, &cfg, aof_path));
    let listeners = match crate::net::listener::Listeners::bind(id, &cfg, net) {
        Ok(l) => l,
        Err(e) => {
            log::error!("shard {id}: {e}");
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // Connect the mesh.
    let MeshEnds {
        req_tx,
        req_rx,
        resp_tx,
        resp_rx,
    } = mesh;
    // Each end is connected inside its own task: glommio's connect() waits for
    // the peer's matching end, so connecting in sequence would deadlock.
    let mut resp_tx = resp_tx;
    for (peer, (tx, rx)) in req_tx.into_iter().zip(req_rx).enumerate() {
        if let (Some(tx), Some(rx), Some(rtx)) = (tx, rx, resp_tx[peer].take()) {
            let c = core.clone();
            glommio::spawn_local(async move { c.flusher(peer, tx.connect().await).await }).detach();
            let c = core.clone();
            glommio::spawn_local(async move {
                let rx = rx.connect().await;
                let rtx = rtx.connect().await;
                c.serve_peer(peer, rx, rtx).await
            })
            .detach();
        }
    }
    for rx in resp_rx.into_iter().flatten() {
        let c = core.clone();
        glommio::spawn_local(async move { c.receive_responses(rx.connect().await).await }).detach();
    }
    glommio::spawn_local(crate::net::expiry::active_expiry_loop(core.clone())).detach();
    glommio::spawn_local(core.clone().blocking_pump()).detach();
    let c = core.clone();
    glommio::spawn_local(
        async move { crate::runtime::bigbuf::lazy_free_loop(c.stop().wait()).await },
    )
    .detach();
    if let Some(aof) = core.aof().cloned() {
        glommio::spawn_local(aof.run(core.clone())).detach();
    }
    glommio::spawn_local(core.snapshots().clone().run(core.clone())).detach();
    if id == 0 {
        glommio::spawn_local(crate::route::persist::schedule_loop(core.clone())).detach();
    }
    start_metrics(&core);
    glommio::spawn_local(watch_signals(core.clone(), signals)).detach();
    glommio::spawn_local(crate::runtime::reload::watch_sighup(core.clone())).detach();
    // Accept nothing until every executor has bound (TCP on each, the Unix
    // socket on core 0): a client that got an answer must be able to use
    // every listener, as with Redis, which binds all before serving.
    bound.arrive();
    while !bound.all_arrived() {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    listeners.serve(core.clone()).await;

    // Drain: close idle connections, wait for in-flight ones.
    crate::net::listener::shut_clients(&core);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !core.clients().borrow().is_empty() && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    if id == 0 {
        // The final snapshot needs every shard: the others keep answering
        // the mesh until this core reports drained.
        let mode = crate::route::persist::shutdown_save();
        if let Err(e) = crate::route::persist::save_on_shutdown(&core, mode).await {
            log::error!("Error trying to save the DB, can't exit cleanly: {e}");
        }
    }
    drain.arrive();
    // Keep answering peers until every core has drained (a final snapshot
    // may take a while; an hour is a safety net, not a timeout).
    let mesh_deadline = std::time::Instant::now() + Duration::from_secs(3600);
    while !drain.all_arrived() && std::time::Instant::now() < mesh_deadline {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    if let Some(aof) = &core.aof() {
        aof.stop().await;
    }
    log::info!("shard {id} stopped");
    0
}

async fn watch_signals(core: Rc<Core>, signals: glommio::net::UnixStream) {
    use futures_lite::AsyncReadExt;
    let mut signals = signals;
    let mut byte = [0u8; 1];
    let _ = signals.read(&mut byte).await;
    log::info!("shard {}: shutdown requested", core.id());
    // As Redis: while a script is timed out the shutdown waits for it, and
    // clients still get -BUSY, SCRIPT KILL and SHUTDOWN NOSAVE meanwhile.
    while crate::cmd::script::busy::any_timed_out() {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    core.stop().trigger();
}

/// Sets up this core's metrics recorders and, on core 0, serves the HTTP
/// endpoint (`metrics-addr`, resolved and checked free by main.rs).
fn start_metrics(core: &Rc<Core>) {
    let cfg = crate::metrics::ObsConfig::from_settings(|n| core.info().config_value(n));
    crate::metrics::start(core.id(), core.cores(), &cfg);
    if core.id() == 0 {
        let addr = core.info().metrics_addr.clone();
        if addr.is_empty() {
            log::info!("metrics endpoint disabled");
        } else {
            glommio::spawn_local(crate::net::http::serve(core.clone(), addr)).detach();
        }
    }
}
