//! Graceful shutdown.
//!
//! SIGTERM/SIGINT (and `SHUTDOWN`, which raises SIGTERM) reach every executor
//! through its own self-pipe (signal-hook writes a byte; the executor awaits
//! the read end with glommio I/O). Each executor then stops accepting, lets
//! its connections finish the batch in flight (their sockets are shut for
//! reading, so the next read ends them), and keeps serving peers' requests
//! until every core has drained; only then do all executors return.
//!
//! Around that: the first executor to stop accepting reports it to the main
//! thread, which tells systemd `STOPPING=1` ([`super::systemd`]); executor 0
//! closes the Unix socket and removes its file ([`crate::net::unix`]). The
//! process exits 0 after a graceful stop, whether it came from SIGTERM,
//! SIGINT or `SHUTDOWN`.
//!
//! A signal while a script is timed out (cmd/script/busy.rs) waits for
//! the script's end, as in Redis: the other cores keep serving (`-BUSY`,
//! SCRIPT KILL) until then.
//! `SHUTDOWN NOSAVE` while a script is timed out
//! cannot wait for the script's core: [`exit_now`] ends the process at
//! once (exit status 0), with no final snapshot and no last AOF flush
//! beyond what each core had already written.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A one-shot, core-local stop flag that tasks can await.
#[derive(Default)]
pub struct StopSignal {
    stopped: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl StopSignal {
    pub fn trigger(&self) {
        if !self.stopped.replace(true) {
            for w in self.waiters.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Resolves once [`trigger`](Self::trigger) has been called.
    pub fn wait(&self) -> StopWait<'_> {
        StopWait { signal: self }
    }
}

pub struct StopWait<'a> {
    signal: &'a StopSignal,
}

impl Future for StopWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.stopped.get() {
            Poll::Ready(())
        } else {
            let mut waiters = self.signal.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}

/// A process-wide countdown of executors that have yet to reach a point
/// (listeners bound at start; connections drained at shutdown). Each core
/// arrives once; an atomic, touched twice per core per process lifetime.
#[derive(Clone)]
pub struct Countdown(Arc<AtomicUsize>);

impl Countdown {
    pub fn new(cores: usize) -> Self {
        Countdown(Arc::new(AtomicUsize::new(cores)))
    }

    pub fn arrive(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn all_arrived(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }
}

/// Asks the whole process to shut down gracefully (as SIGTERM does).
pub fn request_process_shutdown() {
    // SAFETY: kill(2) on our own pid with a valid signal has no memory effects.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGTERM);
    }
}

/// Ends the process now (SHUTDOWN NOSAVE while a script is timed out):
/// removes the Unix socket's file when there is one, flushes the log, exits 0.
pub fn exit_now(unixsocket: &str) -> ! {
    log::warn!("SHUTDOWN NOSAVE while a script is busy: exiting now, without waiting for it");
    if !unixsocket.is_empty() {
        let _ = std::fs::remove_file(unixsocket);
    }
    log::logger().flush();
    std::process::exit(0)
}
