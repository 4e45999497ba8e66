//! Accepting connections on this executor's SO_REUSEPORT listener until
//! shutdown, and closing idle clients when it comes.

use super::connection::handle_connection;
use crate::runtime::core::{Core, Counters};
use futures_lite::future;
use glommio::net::TcpListener;
use std::os::fd::AsRawFd;
use std::rc::Rc;

/// Accepts clients until the core's stop signal fires.
pub async fn accept_loop(core: Rc<Core>, listener: TcpListener) {
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            core.stop.wait().await;
            None
        })
        .await;
        let stream = match accepted {
            None => return,
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                log::warn!("shard {}: accept failed: {e}", core.id);
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        Counters::add(&core.counters.total_connections_received, 1);
        glommio::spawn_local(handle_connection(core.clone(), stream)).detach();
    }
}

/// Shuts the read side of every client socket so idle connections end at once
/// and busy ones end after writing the replies of the batch in flight.
pub fn shut_clients(core: &Core) {
    for client in core.clients.borrow().values() {
        let fd = client.borrow().fd;
        // SAFETY: fd belongs to a live connection on this core; shutdown(2)
        // only changes socket state and never invalidates the descriptor.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RD);
        }
    }
}

/// Raw fd of a stream (for CLIENT LIST's `fd=` and shutdown).
pub fn fd_of(s: &impl AsRawFd) -> i32 {
    s.as_raw_fd()
}
