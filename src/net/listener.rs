//! An executor's listeners: its own SO_REUSEPORT TCP socket on `bind:port`
//! (listen backlog `tcp-backlog`, as the Unix socket's),
//! and on executor 0 the Unix socket it accepts for every executor (see
//! [`super::unix`]). Binding reports to the main thread for systemd's
//! `READY=1`; serving runs the accept loops, the idle sweep and the Unix
//! hand-off until the core's stop signal, then reports `Stopping`.

use super::connection::{handle_connection, Peer};
use super::limits::{idle_sweep, set_tcp_keepalive, ClientLimits};
use super::unix::{self, UnixEnds, UnixSocket};
use crate::config::Config;
use crate::runtime::core::{Core, Counters};
use crate::runtime::systemd::Notifier;
use futures_lite::future;
use glommio::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// What one executor needs from the main thread to run its listeners.
pub struct NetEnds {
    connected: Arc<AtomicUsize>,
    unix: UnixEnds,
    ready: Notifier,
}

impl NetEnds {
    /// One entry per executor, in shard order.
    pub fn build(cfg: &Config, cores: usize, ready: &Notifier) -> Vec<NetEnds> {
        let connected = Arc::new(AtomicUsize::new(0));
        unix::handoff_ends(cores, unix_path(cfg).is_some())
            .into_iter()
            .map(|unix| NetEnds {
                connected: connected.clone(),
                unix,
                ready: ready.clone(),
            })
            .collect()
    }
}

fn unix_path(cfg: &Config) -> Option<PathBuf> {
    Some(cfg.unixsocket.trim())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// One executor's bound listeners.
pub struct Listeners {
    id: usize,
    tcp: (TcpListener, std::os::fd::RawFd),
    tcp_addr: String,
    /// Executor 0 when `unixsocket` is set.
    unix: Option<UnixSocket>,
    unix_path: Option<Rc<str>>,
    unix_ends: UnixEnds,
    limits: Rc<ClientLimits>,
    ready: Notifier,
}

impl Listeners {
    /// Binds this executor's listeners. The error is the message to print
    /// before exiting.
    pub fn bind(id: usize, cfg: &Config, ends: NetEnds) -> Result<Listeners, String> {
        let tcp_addr = format!("{}:{}", cfg.bind, cfg.port);
        let tcp = bind_tcp(&tcp_addr, cfg.tcp_backlog)
            .map_err(|e| format!("Could not create server TCP listening socket {tcp_addr}: {e}"))?;
        let path = unix_path(cfg);
        let unix = match (&path, id) {
            (Some(p), 0) => Some(UnixSocket::bind(p, cfg.unixsocketperm, cfg.tcp_backlog)?),
            _ => None,
        };
        Ok(Listeners {
            id,
            tcp,
            tcp_addr,
            unix,
            unix_path: path.map(|p| p.to_string_lossy().into()),
            unix_ends: ends.unix,
            limits: Rc::new(ClientLimits::new(
                ends.connected,
                u64::from(cfg.timeout),
                cfg.tcp_keepalive,
            )),
            ready: ends.ready,
        })
    }

    /// Tells the main thread this executor is ready (for systemd's READY=1;
    /// anything the executor bound synchronously before this call is covered),
    /// then accepts clients until the core's stop signal fires. The Unix
    /// socket file is removed once executor 0 stops accepting on it.
    pub async fn serve(self, core: Rc<Core>) {
        let Listeners {
            id,
            tcp,
            tcp_addr,
            unix,
            unix_path,
            unix_ends,
            limits,
            ready,
        } = self;
        ready.bound(id);
        glommio::spawn_local(idle_sweep(core.clone(), limits.clone())).detach();
        let unix_task = match (unix, unix_path) {
            (Some(socket), Some(path)) => {
                log::info!("shard {id} listening on {tcp_addr} and unix:{path}");
                Some(glommio::spawn_local(unix::accept_loop(
                    core.clone(),
                    limits.clone(),
                    socket,
                    unix_ends,
                )))
            }
            (None, Some(path)) => {
                log::info!("shard {id} listening on {tcp_addr} (and unix:{path} via shard 0)");
                Some(glommio::spawn_local(unix::receive_loop(
                    core.clone(),
                    limits.clone(),
                    unix_ends,
                    path,
                )))
            }
            _ => {
                log::info!("shard {id} listening on {tcp_addr}");
                None
            }
        };
        tcp_accept_loop(&core, &limits, tcp).await;
        ready.stopping();
        if let Some(t) = unix_task {
            t.await;
        }
    }
}

/// The next accepted connection, counted in `total_connections_received`;
/// accept errors are logged and retried after a short pause. None once the
/// core's stop signal fires (the listener then stops accepting).
pub async fn next_accepted<T, E, Fut>(
    core: &Core,
    what: &str,
    mut accept: impl FnMut() -> Fut,
) -> Option<T>
where
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    loop {
        let accepted = future::or(async { Some(accept().await) }, async {
            core.stop().wait().await;
            None
        })
        .await;
        match accepted {
            None => return None,
            Some(Ok(s)) => {
                Counters::add(&core.counters().total_connections_received, 1);
                return Some(s);
            }
            Some(Err(e)) => {
                log::warn!("shard {}: {what} accept failed: {e}", core.id());
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Accepts TCP clients until the core's stop signal fires.
async fn tcp_accept_loop(
    core: &Rc<Core>,
    limits: &Rc<ClientLimits>,
    (listener, fd): (TcpListener, std::os::fd::RawFd),
) {
    while let Some(stream) = next_accepted(core, "tcp", || listener.accept()).await {
        let _ = stream.set_nodelay(true);
        let fd = stream.as_raw_fd();
        if let Err(e) = set_tcp_keepalive(fd, limits.tcp_keepalive) {
            log::debug!("shard {}: cannot set TCP keepalive: {e}", core.id());
        }
        let peer = Peer {
            fd,
            addr: stream
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            laddr: stream
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        };
        glommio::spawn_local(handle_connection(
            core.clone(),
            limits.clone(),
            stream,
            peer,
        ))
        .detach();
    }
    // Stop listening now: the descriptor itself may outlive the process for
    // a moment (io_uring tears down asynchronously), and a restart on the
    // same port must not find it still listening.
    // SAFETY: shutdown(2) on the descriptor `listener` owns (still open).
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    drop(listener);
}

/// Shuts the read side of every client socket so idle connections end at once
/// and busy ones end after writing the replies of the batch in flight.
pub fn shut_clients(core: &Core) {
    for client in core.clients().borrow().values() {
        let Ok(c) = client.try_borrow() else { continue };
        if c.fd < 0 {
            continue;
        }
        // SAFETY: fd belongs to a live connection on this core (connections
        // leave `core.clients()` before closing); shutdown(2) only changes
        // socket state and never invalidates the descriptor.
        unsafe {
            libc::shutdown(c.fd, libc::SHUT_RD);
        }
    }
}

/// Raw fd of a stream (for CLIENT LIST's `fd=` and shutdown).
pub fn fd_of(s: &impl AsRawFd) -> i32 {
    s.as_raw_fd()
}

/// The listening addresses, for the "ready" log line and systemd's STATUS.
pub fn describe(cfg: &Config) -> String {
    match unix_path(cfg) {
        Some(p) => format!("tcp {}:{}, unix {}", cfg.bind, cfg.port, p.display()),
        None => format!("tcp {}:{}", cfg.bind, cfg.port),
    }
}

/// Binds one executor's TCP listener: SO_REUSEPORT (one listener per
/// executor) and, as Redis, SO_REUSEADDR — without it the connections this
/// server closed first linger in TIME_WAIT without the flag and make a
/// restart on the same port fail its start-up probe for a minute. `backlog`
/// is `tcp-backlog`.
fn bind_tcp(addr: &str, backlog: u32) -> std::io::Result<(TcpListener, std::os::fd::RawFd)> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    use std::net::ToSocketAddrs;
    use std::os::fd::{FromRawFd, IntoRawFd};
    let addr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty address"))?;
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sk = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    sk.set_reuse_address(true)?;
    sk.set_reuse_port(true)?;
    sk.bind(&SockAddr::from(addr))?;
    sk.listen(backlog.min(i32::MAX as u32) as i32)?;
    let fd = sk.into_raw_fd();
    // SAFETY: the descriptor is a bound, listening TCP socket we own.
    Ok((unsafe { TcpListener::from_raw_fd(fd) }, fd))
}
