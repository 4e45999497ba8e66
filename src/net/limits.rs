//! Client limits, enforced at connect time and by a per-core timer, never on
//! the request path: `maxclients` across the whole process, the `timeout`
//! idle disconnect, and TCP keepalive on accepted sockets.
//!
//! `maxclients` is the only cross-core state here: one process-wide
//! `AtomicUsize` of connected clients, touched once when a client connects
//! and once when it leaves (through [`ClientSlot`]'s drop).

use crate::runtime::core::Core;
use futures_lite::future;
use std::cell::Cell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the idle sweep looks at this core's clients (Redis checks
/// every client about once a second; a finer tick keeps `timeout 1` close).
const IDLE_TICK: Duration = Duration::from_millis(250);

/// One executor's view of the client limits.
pub struct ClientLimits {
    /// Clients connected to the whole process (shared by every core).
    connected: Arc<AtomicUsize>,
    /// `timeout`: seconds of inactivity before a client is closed; 0 = never.
    /// Refreshed from the core's live settings on every sweep tick, so
    /// `CONFIG SET timeout` and SIGHUP take effect within one tick.
    pub timeout: Cell<u64>,
    /// `tcp-keepalive`: seconds of idle before TCP keepalive probes; 0 = off.
    pub tcp_keepalive: u32,
}

impl ClientLimits {
    pub fn new(connected: Arc<AtomicUsize>, timeout: u64, tcp_keepalive: u32) -> Self {
        ClientLimits {
            connected,
            timeout: Cell::new(timeout),
            tcp_keepalive,
        }
    }

    /// Takes a client slot if fewer than `maxclients` clients are connected
    /// across the process. The slot is given back when dropped.
    pub fn admit(&self, maxclients: usize) -> Option<ClientSlot> {
        let before = self.connected.fetch_add(1, Ordering::AcqRel);
        let slot = ClientSlot(self.connected.clone());
        (before < maxclients).then_some(slot)
    }
}

/// A client's place in the process-wide count; dropping it frees the place.
pub struct ClientSlot(Arc<AtomicUsize>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Closes this core's clients idle for longer than `timeout` seconds, as
/// Redis's `clientsCronHandleTimeout` does (no reply, the socket is shut and
/// the connection loop ends on its next read). Runs until shutdown.
pub async fn idle_sweep(core: Rc<Core>, limits: Rc<ClientLimits>) {
    loop {
        let stopped = future::or(
            async {
                glommio::timer::sleep(IDLE_TICK).await;
                false
            },
            async {
                core.stop().wait().await;
                true
            },
        )
        .await;
        if stopped {
            return;
        }
        // Follow the live setting (CONFIG SET timeout reaches every core's copy).
        limits
            .timeout
            .set(u64::from(core.info().settings.borrow().timeout));
        let timeout = limits.timeout.get();
        if timeout == 0 {
            continue;
        }
        let limit = Duration::from_secs(timeout);
        let now = Instant::now();
        for client in core.clients().borrow().values() {
            let Ok(c) = client.try_borrow() else { continue };
            // A blocked client waits for its own timeout, as in Redis.
            let idle = now.saturating_duration_since(c.last_interaction) > limit;
            if idle && c.fd >= 0 && !c.blocked {
                log::debug!("shard {}: closing idle client {}", core.id(), c.id);
                // SAFETY: the fd belongs to a live connection on this core
                // (connections leave `core.clients()` before closing their
                // socket); shutdown(2) only changes socket state.
                unsafe {
                    libc::shutdown(c.fd, libc::SHUT_RDWR);
                }
            }
        }
    }
}

/// Turns on TCP keepalive with Redis's parameters: first probe after `secs`
/// idle seconds, then every `secs / 3`, and give up after 3 unanswered.
pub fn set_tcp_keepalive(fd: RawFd, secs: u32) -> std::io::Result<()> {
    if secs == 0 {
        return Ok(());
    }
    let idle = secs.min(i32::MAX as u32) as libc::c_int;
    let interval = (idle / 3).max(1);
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle)?;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, interval)?;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3)
}

fn setsockopt(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: `value` outlives the call and its exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn admit_counts_across_cores_and_frees_on_drop() {
        let shared = Arc::new(AtomicUsize::new(0));
        let a = ClientLimits::new(shared.clone(), 0, 0);
        let b = ClientLimits::new(shared.clone(), 0, 0);
        let s1 = a.admit(2).expect("first");
        let s2 = b.admit(2).expect("second");
        assert!(a.admit(2).is_none(), "third over the limit");
        assert_eq!(shared.load(Ordering::Acquire), 2, "a refused slot is freed");
        drop(s1);
        let _s3 = b.admit(2).expect("room again");
        drop(s2);
    }

    fn getsockopt(fd: RawFd, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: v and len are valid for writes of their sizes.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                &mut v as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        v
    }

    #[test]
    fn keepalive_sets_redis_parameters() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let fd = s.as_raw_fd();
        set_tcp_keepalive(fd, 300).unwrap();
        assert_eq!(getsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 300);
        assert_eq!(getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 100);
        assert_eq!(getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
    }
}
