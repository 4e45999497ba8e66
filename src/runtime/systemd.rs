//! systemd readiness: `READY=1` once every listener on every executor is
//! bound, `STOPPING=1` when a graceful shutdown begins (the unit is
//! `Type=notify`, see `deploy/ringkv.service`).
//!
//! Executors never call `sd_notify` themselves: each sends small events over a
//! std channel ([`Notifier`]) and the main thread, which is not an executor and
//! may block, turns them into notifications ([`Supervisor::run`]). Without
//! `NOTIFY_SOCKET` in the environment (not started by systemd) the
//! notifications are no-ops; the events still drive the "ready" log line.

use std::sync::mpsc::{self, Receiver, Sender};

/// What an executor reports to the main thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Every listener of this executor (by shard index) is bound.
    Bound(usize),
    /// This executor saw the stop signal and stopped accepting.
    Stopping,
}

/// An executor's handle for reporting [`Event`]s. Sending never blocks.
#[derive(Clone)]
pub struct Notifier(Sender<Event>);

impl Notifier {
    pub fn bound(&self, core: usize) {
        let _ = self.0.send(Event::Bound(core));
    }

    pub fn stopping(&self) {
        let _ = self.0.send(Event::Stopping);
    }
}

/// The main thread's end: waits for the executors' events.
pub struct Supervisor {
    events: Receiver<Event>,
    cores: usize,
}

/// A notifier for the executors and the supervisor for the main thread.
pub fn channel(cores: usize) -> (Notifier, Supervisor) {
    let (tx, rx) = mpsc::channel();
    (Notifier(tx), Supervisor { events: rx, cores })
}

impl Supervisor {
    /// Blocks until every executor reported `Bound` (then sends `READY=1`) and
    /// until the first `Stopping` (then sends `STOPPING=1`). Returns early,
    /// without notifying, if every notifier was dropped first (an executor
    /// failed): systemd then sees the process exit instead.
    ///
    /// Every [`Notifier`] must be owned by the executors when this runs, or it
    /// never sees them all dropped.
    pub fn run(self, listening: &str) {
        let mut bound = vec![false; self.cores];
        let mut left = self.cores;
        while left > 0 {
            match self.events.recv() {
                Ok(Event::Bound(core)) => {
                    if let Some(b) = bound.get_mut(core) {
                        if !std::mem::replace(b, true) {
                            left -= 1;
                        }
                    }
                }
                // A stop before readiness (SIGTERM during start-up).
                Ok(Event::Stopping) => return notify_stopping(),
                Err(_) => return,
            }
        }
        log::info!("Ready to accept connections ({listening})");
        let status = format!("Ready to accept connections ({listening})");
        if let Err(e) = sd_notify::notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&status),
        ]) {
            log::warn!("sd_notify READY failed: {e}");
        }
        loop {
            match self.events.recv() {
                Ok(Event::Stopping) => return notify_stopping(),
                Ok(Event::Bound(_)) => {}
                Err(_) => return,
            }
        }
    }
}

fn notify_stopping() {
    if let Err(e) = sd_notify::notify(&[
        sd_notify::NotifyState::Stopping,
        sd_notify::NotifyState::Status("Shutting down"),
    ]) {
        log::warn!("sd_notify STOPPING failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_when_executors_fail_before_binding() {
        let (n, sup) = channel(2);
        n.bound(0);
        drop(n);
        sup.run("test"); // must not hang
    }

    #[test]
    fn waits_for_every_core_then_the_first_stop() {
        let (n, sup) = channel(2);
        let t = std::thread::spawn(move || sup.run("test"));
        n.bound(1);
        n.bound(1); // duplicates count once
        n.bound(0);
        n.stopping();
        t.join().unwrap();
    }
}
