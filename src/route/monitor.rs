//! MONITOR's feed: a command about to run on the connection's core becomes
//! a line for every monitor on every core (the per-core buffers and their
//! limits are [`crate::metrics::monitor`]'s).

use crate::cmd::table::{flag, CommandSpec};
use crate::metrics::monitor;
use crate::protocol::Args;
use crate::runtime::core::Core;
use crate::runtime::gather::MetricsJob;
use crate::runtime::mesh::JobKind;
use bytes::Bytes;
use std::rc::Rc;

/// Feeds a command about to run on the connection's core to every monitor.
/// Call only when [`monitor::active`]; admin and `skip_monitor` commands are
/// not shown.
pub fn feed(core: &Rc<Core>, spec: &CommandSpec, db: usize, addr: &str, args: &Args) {
    if spec.flags & (flag::ADMIN | flag::SKIP_MONITOR) != 0 {
        return;
    }
    if monitor::queue_line(db, addr, args) {
        glommio::spawn_local(broadcast(core.clone())).detach();
    }
}

/// Sends this tick's lines to every core's monitors.
async fn broadcast(core: Rc<Core>) {
    let lines = monitor::take_outgoing();
    if lines.is_empty() {
        return;
    }
    let lines = Bytes::from(lines);
    for c in 0..core.cores() {
        if c != core.id() {
            // Fire and forget: the reply slot is dropped when it arrives.
            drop(core.call(c, 0, JobKind::Metrics(MetricsJob::Monitor(lines.clone()))));
        }
    }
    crate::metrics::with(|m| m.monitor.deliver(&lines));
}
