//! MONITOR: every command executed on any core is streamed to every
//! monitoring client, as Redis formats it:
//! `+1700000000.123456 [0 127.0.0.1:50000] "set" "foo" "bar"`.
//!
//! The connection's core formats the line (it knows the client and its DB)
//! into a per-core outgoing buffer; a task spawned once per tick
//! (`route::monitor`) hands the buffer to this core's monitors and sends it
//! to every other core through the mesh, where it is appended to their
//! monitors' buffers. Each monitor's
//! buffer is bounded ([`MONITOR_BUFFER_LIMIT`]): a monitor that cannot keep up
//! is disconnected instead of growing memory without bound.
//!
//! [`active`] is one relaxed atomic load per command: the number of monitors
//! on all cores, written only when a monitor starts or stops.

use super::with;
use crate::protocol::Args;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};

/// Bytes queued for one monitor before it is disconnected (Redis's default
/// output limit for pub/sub clients).
pub const MONITOR_BUFFER_LIMIT: usize = 32 << 20;

/// Monitors on every core (the only cross-core state here: a hint that
/// lines must be formatted at all).
static MONITORS: AtomicUsize = AtomicUsize::new(0);

/// True when some client, on any core, is monitoring.
#[inline]
pub fn active() -> bool {
    MONITORS.load(Ordering::Relaxed) != 0
}

struct Slot {
    client_id: u64,
    buf: Vec<u8>,
    waker: Option<Waker>,
    /// Fell too far behind: the connection closes.
    overflowed: bool,
}

/// This core's monitors and the lines waiting to be broadcast.
#[derive(Default)]
pub struct MonitorState {
    slots: RefCell<Vec<Slot>>,
    outgoing: RefCell<Vec<u8>>,
    flush_scheduled: Cell<bool>,
}

impl MonitorState {
    /// Appends `lines` to every monitor of this core.
    pub fn deliver(&self, lines: &[u8]) {
        for s in self.slots.borrow_mut().iter_mut() {
            if s.overflowed {
                continue;
            }
            if s.buf.len() + lines.len() > MONITOR_BUFFER_LIMIT {
                s.overflowed = true;
                s.buf = Vec::new();
            } else {
                s.buf.extend_from_slice(lines);
            }
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }

    fn has(&self, client_id: u64) -> bool {
        let slots = self.slots.borrow();
        !slots.is_empty() && slots.iter().any(|s| s.client_id == client_id)
    }
}

/// Makes `client_id` a monitor (its connection then calls [`serve`]).
pub fn register(client_id: u64) {
    with(|m| {
        if m.monitor.has(client_id) {
            return;
        }
        m.monitor.slots.borrow_mut().push(Slot {
            client_id,
            buf: Vec::new(),
            waker: None,
            overflowed: false,
        });
        MONITORS.fetch_add(1, Ordering::Relaxed);
    });
}

fn unregister(client_id: u64) {
    with(|m| {
        let mut slots = m.monitor.slots.borrow_mut();
        let before = slots.len();
        slots.retain(|s| s.client_id != client_id);
        if slots.len() < before {
            MONITORS.fetch_sub(1, Ordering::Relaxed);
        }
    });
}

/// True when the connection `client_id` has become a monitor.
pub fn is_monitor(client_id: u64) -> bool {
    with(|m| m.monitor.has(client_id))
}

/// Redis's `sdscatrepr`: a quoted string with C escapes.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// One monitor line (with its `+` and CRLF), as Redis's
/// `replicationFeedMonitors` writes it.
pub fn format_line(out: &mut Vec<u8>, unix_us: u64, db: usize, addr: &str, args: &Args) {
    use std::io::Write;
    let _ = write!(
        out,
        "+{}.{:06} [{} {}]",
        unix_us / 1_000_000,
        unix_us % 1_000_000,
        db,
        addr
    );
    for a in args.iter_from(0) {
        out.push(b' ');
        repr(out, a);
    }
    out.extend_from_slice(b"\r\n");
}

/// Formats a command about to run on this core into the lines waiting to be
/// broadcast. True when the caller must schedule the broadcast
/// ([`take_outgoing`], then [`MonitorState::deliver`] on every core): the
/// first line since the last one.
pub fn queue_line(db: usize, addr: &str, args: &Args) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    with(|m| {
        format_line(&mut m.monitor.outgoing.borrow_mut(), now, db, addr, args);
        !m.monitor.flush_scheduled.replace(true)
    })
}

/// The lines queued since the last broadcast (clears the schedule mark).
pub fn take_outgoing() -> Vec<u8> {
    with(|m| {
        m.monitor.flush_scheduled.set(false);
        std::mem::take(&mut *m.monitor.outgoing.borrow_mut())
    })
}

/// Streams lines to a monitoring connection until it closes (or overflows).
/// Input from the client is read and discarded; EOF ends the stream.
pub async fn serve<S>(client_id: u64, stream: &mut S) -> std::io::Result<()>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    struct Guard(u64);
    impl Drop for Guard {
        fn drop(&mut self) {
            unregister(self.0);
        }
    }
    let _guard = Guard(client_id);
    let mut input = [0u8; 512];
    loop {
        enum Event {
            Input(std::io::Result<usize>),
            Lines(Option<Vec<u8>>),
        }
        let ev = {
            let read = async { Event::Input(stream.read(&mut input).await) };
            let lines = async { Event::Lines(next_lines(client_id).await) };
            futures_lite::future::or(lines, read).await
        };
        match ev {
            Event::Input(Ok(0)) | Event::Input(Err(_)) => return Ok(()),
            Event::Input(Ok(_)) => {}
            Event::Lines(None) => {
                log::warn!("closing monitor client {client_id}: output buffer limit reached");
                return Ok(());
            }
            Event::Lines(Some(buf)) => stream.write_all(&buf).await?,
        }
    }
}

/// Waits for lines for `client_id`; None once it overflowed (or vanished).
async fn next_lines(client_id: u64) -> Option<Vec<u8>> {
    futures_lite::future::poll_fn(|cx| {
        with(|m| {
            let mut slots = m.monitor.slots.borrow_mut();
            let Some(s) = slots.iter_mut().find(|s| s.client_id == client_id) else {
                return Poll::Ready(None);
            };
            if s.overflowed {
                return Poll::Ready(None);
            }
            if s.buf.is_empty() {
                s.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Some(std::mem::take(&mut s.buf)))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::args::OwnedArgs;

    #[test]
    fn line_format_like_redis() {
        let args = OwnedArgs::from_parts(["set", "fo\"o", "a\r\n\x01é"]);
        let mut out = Vec::new();
        format_line(
            &mut out,
            1_700_000_000_000_123,
            3,
            "127.0.0.1:50000",
            &args.args(),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "+1700000000.000123 [3 127.0.0.1:50000] \"set\" \"fo\\\"o\" \"a\\r\\n\\x01\\xc3\\xa9\"\r\n"
        );
    }

    #[test]
    fn bounded_buffers() {
        let st = MonitorState::default();
        st.slots.borrow_mut().push(Slot {
            client_id: 1,
            buf: Vec::new(),
            waker: None,
            overflowed: false,
        });
        st.deliver(b"+x\r\n");
        assert_eq!(st.slots.borrow()[0].buf, b"+x\r\n");
        let big = vec![b'a'; MONITOR_BUFFER_LIMIT];
        st.deliver(&big);
        assert!(st.slots.borrow()[0].overflowed);
        assert!(st.has(1) && !st.has(2));
    }
}
