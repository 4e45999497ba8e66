//! The Unix-domain socket listener (`unixsocket`, `unixsocketperm`).
//!
//! A path can be bound only once and glommio 0.9's `UnixListener` has no
//! SO_REUSEPORT, so **executor 0 binds the path and accepts for everyone**: it
//! deals accepted sockets round-robin to every executor, itself included, one
//! `shared_channel` per peer carrying `AcceptedUnixStream`s (which are `Send`);
//! the receiving executor binds the socket to itself and runs the same
//! connection loop as TCP clients. The hand-off costs one cross-core message
//! per connection, never per request.
//!
//! Its listen backlog is `tcp-backlog`, as Redis uses for both listeners.
//!
//! The path: a stale socket file (nobody accepting on it) is removed before
//! binding, a live one or a non-socket file fails start-up; `unixsocketperm`
//! is applied after bind (as Redis does); at clean exit the file is removed if
//! it is still the one this process bound (same device and inode).

use super::connection::{handle_connection, Peer};
use super::limits::ClientLimits;
use crate::runtime::core::Core;
use futures_lite::future;
use glommio::channels::shared_channel::{self, ConnectedSender, SharedReceiver, SharedSender};
use glommio::net::{AcceptedUnixStream, UnixListener};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Sockets in flight from executor 0 to one peer before the acceptor waits.
const HANDOFF_CAPACITY: usize = 64;

/// One executor's ends of the hand-off channels.
pub struct UnixEnds {
    /// Executor 0 only: a sender to every other executor (`None` for itself).
    senders: Vec<Option<SharedSender<AcceptedUnixStream>>>,
    /// Other executors: where executor 0's accepted sockets arrive.
    receiver: Option<SharedReceiver<AcceptedUnixStream>>,
}

/// The hand-off channels for `cores` executors (none when `enabled` is false).
pub fn handoff_ends(cores: usize, enabled: bool) -> Vec<UnixEnds> {
    let mut ends: Vec<UnixEnds> = (0..cores)
        .map(|_| UnixEnds {
            senders: Vec::new(),
            receiver: None,
        })
        .collect();
    if !enabled {
        return ends;
    }
    let mut senders = vec![None];
    for end in ends.iter_mut().skip(1) {
        let (tx, rx) = shared_channel::new_bounded(HANDOFF_CAPACITY);
        senders.push(Some(tx));
        end.receiver = Some(rx);
    }
    ends[0].senders = senders;
    ends
}

/// The bound Unix socket (executor 0 only).
pub struct UnixSocket {
    listener: UnixListener,
    path: PathBuf,
    /// (device, inode) of the socket file we created, to remove only our own.
    file_id: (u64, u64),
}

impl UnixSocket {
    /// Removes a stale socket file at `path`, binds, sets the listen backlog
    /// (`tcp-backlog`), applies `perm` (octal mode bits; 0 leaves the
    /// umask's). Must run on an executor.
    pub fn bind(path: &Path, perm: u32, backlog: u32) -> Result<UnixSocket, String> {
        let fail = |e: &dyn std::fmt::Display| {
            format!("Failed opening Unix socket {}: {e}", path.display())
        };
        remove_stale(path).map_err(|e| fail(&e))?;
        let listener = UnixListener::bind(path).map_err(|e| fail(&e))?;
        // glommio listens with a backlog of 128; listen(2) on a socket that
        // is already listening only changes its backlog.
        let backlog = backlog.min(i32::MAX as u32) as i32;
        // SAFETY: listen(2) on the descriptor `listener` owns (open, bound).
        if unsafe { libc::listen(listener.as_raw_fd(), backlog) } != 0 {
            return Err(fail(&std::io::Error::last_os_error()));
        }
        if perm != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))
                .map_err(|e| fail(&e))?;
        }
        let meta = std::fs::symlink_metadata(path).map_err(|e| fail(&e))?;
        Ok(UnixSocket {
            listener,
            path: path.to_path_buf(),
            file_id: (meta.dev(), meta.ino()),
        })
    }

    /// Closes the listener and removes the socket file if it is still ours
    /// (a newer server may have replaced it).
    fn close(self) {
        let UnixSocket {
            listener,
            path,
            file_id,
        } = self;
        drop(listener);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if (m.dev(), m.ino()) == file_id => {
                if let Err(e) = std::fs::remove_file(&path) {
                    log::warn!("cannot remove {}: {e}", path.display());
                }
            }
            _ => {}
        }
    }
}

/// Makes `path` free for binding: nothing there, or a socket file nobody
/// accepts on (removed). A live socket or any other file is an error.
fn remove_stale(path: &Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) => m,
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket",
        ));
    }
    if super::probe::unix_accepting(path) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another server is accepting on it (address already in use)",
        ));
    }
    log::info!("removing stale Unix socket file {}", path.display());
    std::fs::remove_file(path)
}

/// Executor 0: accepts until shutdown, dealing clients round-robin over the
/// executors; then removes the socket file.
pub async fn accept_loop(
    core: Rc<Core>,
    limits: Rc<ClientLimits>,
    socket: UnixSocket,
    ends: UnixEnds,
) {
    let path: Rc<str> = socket.path.to_string_lossy().into();
    let mut peers: Vec<Option<ConnectedSender<AcceptedUnixStream>>> = Vec::new();
    for tx in ends.senders {
        peers.push(match tx {
            Some(tx) => Some(tx.connect().await),
            None => None,
        });
    }
    let mut next = 0usize;
    while let Some(accepted) =
        super::listener::next_accepted(&core, "unix", || socket.listener.shared_accept()).await
    {
        next = (next + 1) % peers.len().max(1);
        let accepted = match peers.get(next).and_then(Option::as_ref) {
            // `AcceptedUnixStream` is a `Copy` fd holder; a failed send
            // (the peer stopped) delivered nothing, so serve the client here.
            Some(peer) => match peer.send(accepted).await {
                Ok(()) => continue,
                Err(_) => accepted,
            },
            None => accepted,
        };
        spawn_client(&core, &limits, &path, accepted);
    }
    socket.close();
}

/// Other executors: serves the clients executor 0 hands over, until shutdown.
pub async fn receive_loop(core: Rc<Core>, limits: Rc<ClientLimits>, ends: UnixEnds, path: Rc<str>) {
    let Some(rx) = ends.receiver else { return };
    let rx = rx.connect().await;
    loop {
        let accepted = future::or(rx.recv(), async {
            core.stop().wait().await;
            None
        })
        .await;
        match accepted {
            Some(a) => spawn_client(&core, &limits, &path, a),
            None => return,
        }
    }
}

fn spawn_client(
    core: &Rc<Core>,
    limits: &Rc<ClientLimits>,
    path: &str,
    accepted: AcceptedUnixStream,
) {
    let fd = accepted_fd(&accepted).unwrap_or(-1);
    let stream = accepted.bind_to_executor();
    // Redis shows Unix clients as `addr=/path:0 laddr=/path:0`.
    let addr = format!("{path}:0");
    let peer = Peer {
        fd,
        laddr: addr.clone(),
        addr,
    };
    glommio::spawn_local(handle_connection(
        core.clone(),
        limits.clone(),
        stream,
        peer,
    ))
    .detach();
}

/// The descriptor inside an `AcceptedUnixStream`. glommio 0.9 keeps it
/// private and its `UnixStream` has no `AsRawFd`, but the type derives
/// `Debug` as `AcceptedUnixStream { fd: N }`; the fd is needed for shutdown,
/// the idle sweep and CLIENT LIST. Checked by a unit test against glommio.
fn accepted_fd(a: &AcceptedUnixStream) -> Option<RawFd> {
    let text = format!("{a:?}");
    let digits = text.split("fd:").nth(1)?;
    digits.trim().trim_end_matches('}').trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("ringkv-unit-{}-{name}.sock", std::process::id()))
    }

    #[test]
    fn stale_socket_removed_live_or_regular_file_refused() {
        let path = temp_path("stale");
        let _ = std::fs::remove_file(&path);
        assert!(remove_stale(&path).is_ok(), "nothing there");

        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let err = remove_stale(&path).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        drop(live); // the file stays behind: stale now
        assert!(path.exists());
        remove_stale(&path).unwrap();
        assert!(!path.exists());

        std::fs::write(&path, b"not a socket").unwrap();
        assert!(remove_stale(&path).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn accepted_fd_reads_glommio_debug_output() {
        let path = temp_path("fd");
        let _ = std::fs::remove_file(&path);
        let p = path.clone();
        let ex = glommio::LocalExecutorBuilder::default()
            .spawn(move || async move {
                let sock = UnixSocket::bind(&p, 0o600, 511).unwrap();
                let client = std::os::unix::net::UnixStream::connect(&p).unwrap();
                let accepted = sock.listener.shared_accept().await.unwrap();
                let fd = accepted_fd(&accepted).expect("fd parsed");
                // The fd is the server end of `client`: its peer is unnamed and
                // its local name is the socket path.
                let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
                // SAFETY: addr/len are valid for writes of their sizes.
                let rc = unsafe {
                    libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len)
                };
                assert_eq!(rc, 0);
                assert_eq!(addr.sun_family as i32, libc::AF_UNIX);
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
                drop(accepted.bind_to_executor());
                drop(client);
                sock.close();
                assert!(!p.exists());
            })
            .unwrap();
        ex.join().unwrap();
    }
}
