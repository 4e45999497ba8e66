//! Start-up checks that the listening addresses are free, run on the main
//! thread before any executor binds (blocking calls and sleeps are fine
//! here: no executor exists yet).
//!
//! glommio's listeners set SO_REUSEPORT, so a second server on the same port
//! would bind silently and share clients with the first: [`wait_tcp_free`]
//! binds the address once without SO_REUSEPORT (with SO_REUSEADDR, as Redis
//! and Rust's std do, so TIME_WAIT leftovers never count) to fail loudly.
//!
//! After `kill -9` the dead process's listening sockets outlive it for a
//! moment: its io_uring instance is torn down asynchronously by the kernel
//! and holds the descriptors until then. An immediate restart would see the
//! port (or the Unix socket path) as taken. So a taken address is retried for
//! [`FREE_WAIT`] before giving up, with a log line saying so; a port held by
//! a live process still fails, within that bound.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a taken address is retried at start-up.
pub const FREE_WAIT: Duration = Duration::from_secs(2);
/// Pause between tries.
const RETRY_EVERY: Duration = Duration::from_millis(20);

/// Binds `addr` (plain listener, no SO_REUSEPORT) and releases it, retrying
/// "address in use" for up to `wait`. `what` names the listener in the log.
pub fn wait_tcp_free(addr: &str, what: &str, wait: Duration) -> io::Result<()> {
    let start = Instant::now();
    let mut logged = false;
    loop {
        match std::net::TcpListener::bind(addr) {
            Ok(probe) => {
                drop(probe);
                if logged {
                    log::info!(
                        "{what} address {addr} is free after {} ms",
                        start.elapsed().as_millis()
                    );
                }
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && start.elapsed() < wait => {
                if !logged {
                    log::warn!(
                        "{what} address {addr} is in use; retrying for up to {} ms \
                         (a previous server's listener may still be closing)",
                        wait.as_millis()
                    );
                    logged = true;
                }
                std::thread::sleep(RETRY_EVERY);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Waits up to `wait` until nobody accepts on the Unix socket at `path`
/// (nothing there, a regular file, or a stale socket file all end the wait
/// at once). Executor 0 then checks again and reports a path still in use.
pub fn wait_unix_free(path: &Path, wait: Duration) {
    let start = Instant::now();
    let mut logged = false;
    while unix_accepting(path) {
        if start.elapsed() >= wait {
            return;
        }
        if !logged {
            log::warn!(
                "Unix socket {} is accepting connections; retrying for up to {} ms \
                 (a previous server's listener may still be closing)",
                path.display(),
                wait.as_millis()
            );
            logged = true;
        }
        std::thread::sleep(RETRY_EVERY);
    }
    if logged {
        log::info!(
            "Unix socket {} is free after {} ms",
            path.display(),
            start.elapsed().as_millis()
        );
    }
}

/// Whether a listener accepts on the Unix socket at `path`. The connect is
/// non-blocking: a listener whose backlog is full (a dead server's, say)
/// counts as accepting instead of blocking the caller.
pub fn unix_accepting(path: &Path) -> bool {
    use socket2::{Domain, SockAddr, Socket, Type};
    let Ok(addr) = SockAddr::unix(path) else {
        return false;
    };
    let Ok(sk) = Socket::new(Domain::UNIX, Type::STREAM, None) else {
        return false;
    };
    if sk.set_nonblocking(true).is_err() {
        return false;
    }
    match sk.connect(&addr) {
        Ok(()) => true,
        Err(e) => matches!(
            e.raw_os_error(),
            Some(libc::EAGAIN) | Some(libc::EINPROGRESS)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_tcp_port_fails_after_the_wait() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap().to_string();
        let start = Instant::now();
        let err = wait_tcp_free(&addr, "test", Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(start.elapsed() >= Duration::from_millis(100));
        drop(held);
        wait_tcp_free(&addr, "test", Duration::from_millis(100)).unwrap();
    }

    #[test]
    fn unix_accepting_sees_live_listeners_only() {
        let path = std::env::temp_dir().join(format!("ringkv-probe-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        assert!(!unix_accepting(&path), "nothing there");
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(unix_accepting(&path));
        drop(live);
        assert!(!unix_accepting(&path), "stale file");
        wait_unix_free(&path, Duration::from_millis(50));
        std::fs::remove_file(&path).unwrap();
    }
}
