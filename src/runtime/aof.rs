//! The per-core append-only file writer: drains the shard's journal
//! (shard/journal.rs) into this shard's incr file through io_uring, with
//! group commit.
//!
//! - Replies wait at a *barrier* before they leave (a connection before its
//!   socket write, the mesh before a response message): the barrier wakes the
//!   writer when the journal holds records and waits until they are written
//!   to the kernel — and, under `appendfsync always`, fdatasynced. A reply
//!   that read data written in the same tick waits too, so nothing a client
//!   was told can be lost (to a `kill -9` in every mode, to a power loss
//!   under `always`). Every record appended while one write and fdatasync
//!   are in flight goes out in the next one: one write and one fdatasync per
//!   tick however many clients wrote.
//! - `everysec`: fdatasyncs about once a second in a task of its own, so
//!   writes never wait for it (a power loss loses at most about a second).
//!   `no`: writes, never fsyncs.
//! - Rotation (BGREWRITEAOF's cut): what the journal held before the cut goes
//!   to the old file, which is then fdatasynced and closed; later records go
//!   to the new file.
//!
//! Invariant: `synced` ≤ `written` ≤ the journal's `appended`, all in journal
//! bytes; `synced` only ever grows.

use super::core::Core;
use super::files;
use super::notify::Notify;
use glommio::io::BufferedFile;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A switch to a new incr file at a cut.
struct Rotation {
    /// Journal bytes appended before the cut (belong to the old file);
    /// emptied once written there.
    old_tail: Vec<u8>,
    /// Journal position at the cut.
    old_end: u64,
    new_path: PathBuf,
}

/// Effects taken from the journal whose write failed: written again, first,
/// until it succeeds (never dropped, so no waiter is released early).
struct Held {
    buf: Vec<u8>,
    end: u64,
}

pub struct AofWriter {
    kick: Notify,
    synced: Cell<u64>,
    written: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    rotation: RefCell<Option<Rotation>>,
    /// The incr file being appended to.
    path: RefCell<PathBuf>,
    /// True from a failed write or fsync until a write or fsync succeeds
    /// again (`aof_last_write_status:err`, MISCONF for write commands, see
    /// persist/status.rs). Meanwhile replies that carry no effects of their
    /// own are not held back (Durable).
    failing: Cell<bool>,
    stopping: Cell<bool>,
    stopped: Notify,
    running: Cell<bool>,
    /// Size of the current incr file (for automatic rewrites).
    file_bytes: Cell<u64>,
    /// An `everysec` background fdatasync is running.
    sync_in_flight: Cell<bool>,
    sync_done: Notify,
}

/// How long a failing writer waits before it tries again (Redis retries
/// from its once-a-second cron and before each sleep).
const RETRY: Duration = Duration::from_millis(100);

impl AofWriter {
    pub fn new(path: PathBuf) -> Rc<AofWriter> {
        Rc::new(AofWriter {
            kick: Notify::default(),
            synced: Cell::new(0),
            written: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            rotation: RefCell::new(None),
            path: RefCell::new(path),
            failing: Cell::new(false),
            stopping: Cell::new(false),
            stopped: Notify::default(),
            running: Cell::new(false),
            file_bytes: Cell::new(0),
            sync_in_flight: Cell::new(false),
            sync_done: Notify::default(),
        })
    }

    /// Wakes the writer if `appended` is beyond what it wrote and resolves
    /// once everything up to `appended` is durable (`always`) or at least
    /// written to the kernel (otherwise: as Redis, a reply never leaves
    /// before its write, so killing the process loses nothing acknowledged).
    ///
    /// `own` is where the reply's own effects end (0: it has none). While the
    /// AOF cannot be written only that is waited for, so reads and refused
    /// writes are answered meanwhile, as Redis serves them; such a read may
    /// see a write whose client is still waiting, as in Redis.
    pub fn barrier(&self, appended: u64, own: u64, always: bool) -> Durable<'_> {
        if appended > self.written.get() {
            self.kick.notify();
        }
        Durable {
            aof: self,
            pos: appended,
            own,
            synced: always,
            hold: false,
        }
    }

    /// [`AofWriter::barrier`] for replies that need not leave in order (the
    /// mesh's answers): resolves to false instead of waiting while the AOF
    /// is failing and `own` is not written, so the caller can set them aside
    /// and send later answers meanwhile.
    pub fn barrier_or_hold(&self, appended: u64, own: u64, always: bool) -> Durable<'_> {
        Durable {
            hold: true,
            ..self.barrier(appended, own, always)
        }
    }

    /// At a rewrite's cut: everything the journal holds now belongs to the
    /// current file; later effects go to `new_path`.
    pub fn rotate(&self, journal: &mut crate::shard::journal::Journal, new_path: PathBuf) {
        let (old_tail, old_end) = journal.take();
        journal.reset_stream();
        let previous = self.rotation.borrow_mut().replace(Rotation {
            old_tail,
            old_end,
            new_path,
        });
        debug_assert!(previous.is_none(), "one rotation at a time");
        self.kick.notify();
    }

    /// Bytes in the current incr file.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes.get()
    }

    /// True once a requested rotation has been carried out.
    pub fn rotated(&self) -> bool {
        self.rotation.borrow().is_none()
    }

    /// Writes and fdatasyncs everything left, then stops the writer task.
    /// A writer that cannot write gives up on what it holds (replies to
    /// those writes were never sent).
    pub async fn stop(&self) {
        if !self.running.get() {
            return;
        }
        self.stopping.set(true);
        self.kick.notify();
        self.stopped.wait().await;
    }

    fn wake_waiters(&self) {
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    fn set_written(&self, pos: u64) {
        self.written.set(pos);
        self.wake_waiters();
    }

    fn set_synced(&self, pos: u64) {
        if pos > self.synced.get() {
            self.synced.set(pos);
            self.wake_waiters();
        }
    }

    /// Enters (or stays in) the failing state after `e`.
    fn fail(&self, what: &str, e: &std::io::Error) {
        if !self.failing.replace(true) {
            log::error!(
                "AOF {what} to {} failed: {e}; write commands are refused (MISCONF) until it succeeds",
                self.path.borrow().display()
            );
            crate::persist::status::aof_write_failed(e.raw_os_error().unwrap_or(libc::EIO));
            // Replies without effects of their own stop waiting (Durable).
            self.wake_waiters();
        }
    }

    /// Leaves the failing state after a successful write or fsync.
    fn recover(&self) {
        if self.failing.replace(false) {
            log::warn!("AOF write error looks solved, writes are accepted again");
            crate::persist::status::aof_write_recovered();
        }
    }

    /// Opens the incr file, retrying while that fails (MISCONF meanwhile).
    async fn open(&self, path: &std::path::Path) -> Option<(BufferedFile, u64)> {
        loop {
            match files::open_append(path).await {
                Ok(f) => return Some(f),
                Err(e) => self.fail("open", &e),
            }
            if self.stopping.get() {
                return None;
            }
            glommio::timer::sleep(RETRY).await;
        }
    }

    /// Appends `buf` at `*pos`. A failed write is cut back out of the file
    /// (a short write would leave a torn record that later records would
    /// follow); if even that fails, `*torn` keeps where the file must be cut
    /// before anything else is appended.
    async fn append(
        &self,
        file: &BufferedFile,
        buf: &[u8],
        pos: &mut u64,
        torn: &mut Option<u64>,
    ) -> std::io::Result<()> {
        if let Some(at) = *torn {
            file.truncate(at).await.map_err(files::io_error)?;
            *pos = at;
            *torn = None;
        }
        let start = *pos;
        match files::write_all_io(file, buf, pos).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if *pos != start {
                    match file.truncate(start).await.map_err(files::io_error) {
                        Ok(()) => *pos = start,
                        Err(te) => {
                            log::error!("AOF: cannot cut a failed write back out: {te}");
                            *torn = Some(start);
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// The writer task: runs until [`AofWriter::stop`].
    pub async fn run(self: Rc<Self>, core: Rc<Core>) {
        self.running.set(true);
        let path = self.path.borrow().clone();
        let Some((file, mut pos)) = self.open(&path).await else {
            self.running.set(false);
            self.stopped.notify();
            return;
        };
        let mut file = Rc::new(file);
        let mut torn = None;
        let mut held: Option<Held> = None;
        self.file_bytes.set(pos);
        // A separate ticker wakes the loop for the everysec fsync: racing a
        // timer against `kick` would cancel an io_uring timeout on nearly
        // every wake-up (costly, and cancellations that race io-wq work were
        // seen to stall the ring).
        let ticker = self.clone();
        glommio::spawn_local(async move {
            while ticker.running.get() {
                glommio::timer::sleep(Duration::from_millis(250)).await;
                ticker.kick.notify();
            }
        })
        .detach();
        let mut last_sync = Instant::now();
        loop {
            let rotation = self.rotation.borrow_mut().take();
            if let Some(mut rot) = rotation {
                self.background_sync_done().await;
                // Effects held from a failed write precede the cut's tail.
                if let Some(h) = held.take() {
                    let mut tail = h.buf;
                    tail.extend_from_slice(&rot.old_tail);
                    rot.old_tail = tail;
                }
                match self
                    .rotate_file(&mut file, &mut pos, &mut torn, &mut rot)
                    .await
                {
                    Ok(()) => {
                        self.recover();
                        self.file_bytes.set(pos);
                    }
                    Err(e) => {
                        self.fail("rotation", &e);
                        if self.stopping.get() {
                            break;
                        }
                        *self.rotation.borrow_mut() = Some(rot);
                        glommio::timer::sleep(RETRY).await;
                    }
                }
                continue;
            }
            let (new, new_end) = match core.shard.borrow_mut().journal_mut() {
                Some(j) => j.take(),
                None => (Vec::new(), 0),
            };
            let (buf, end) = match held.take() {
                Some(mut h) if !new.is_empty() => {
                    h.buf.extend_from_slice(&new);
                    (h.buf, new_end)
                }
                Some(h) => (h.buf, h.end),
                None => (new, new_end),
            };
            let mode = core.info.settings.borrow().appendfsync;
            let sync_due = mode != "no" && last_sync.elapsed() >= Duration::from_secs(1);
            if buf.is_empty() {
                let unsynced = self.written.get() > self.synced.get();
                if self.stopping.get() {
                    self.background_sync_done().await;
                    if unsynced && self.sync(&file, mode).await {
                        self.set_synced(self.written.get());
                    }
                    break;
                }
                if unsynced && sync_due {
                    self.background_sync(&file, mode);
                    last_sync = Instant::now();
                }
                // Woken by effects, by stop(), or by the ticker (everysec).
                self.kick.wait().await;
                continue;
            }
            if let Err(e) = self.append(&file, &buf, &mut pos, &mut torn).await {
                self.fail("write", &e);
                if self.stopping.get() {
                    log::error!(
                        "AOF: {} bytes of unanswered writes could not be written before exit",
                        buf.len()
                    );
                    break;
                }
                held = Some(Held { buf, end });
                glommio::timer::sleep(RETRY).await;
                continue;
            }
            self.recover();
            self.set_written(end);
            self.file_bytes.set(pos);
            if mode == "always" {
                if self.sync(&file, mode).await {
                    self.set_synced(end);
                }
                last_sync = Instant::now();
            } else if sync_due {
                self.background_sync(&file, mode);
                last_sync = Instant::now();
            }
        }
        if let Ok(f) = Rc::try_unwrap(file) {
            let _ = f.close().await;
        }
        self.running.set(false);
        self.stopped.notify();
    }

    /// `everysec`: fdatasyncs what is written so far in a task of its own, so
    /// writes go on meanwhile (as Redis's background fsync thread); at most
    /// one at a time.
    fn background_sync(self: &Rc<Self>, file: &Rc<BufferedFile>, mode: &'static str) {
        if self.sync_in_flight.replace(true) {
            return;
        }
        let (me, file, target) = (self.clone(), file.clone(), self.written.get());
        glommio::spawn_local(async move {
            if me.sync(&file, mode).await {
                me.set_synced(target);
            }
            drop(file);
            me.sync_in_flight.set(false);
            me.sync_done.notify();
        })
        .detach();
    }

    async fn background_sync_done(&self) {
        while self.sync_in_flight.get() {
            self.sync_done.wait().await;
        }
    }

    /// fdatasyncs `file`. A failure under `always` ends the process, as
    /// Redis does: after a failed fsync the kernel may have dropped the dirty
    /// pages, so a later fsync that succeeds proves nothing and waiting
    /// writes could never be made durable. Under `everysec` it refuses writes
    /// (MISCONF) until an fsync succeeds.
    async fn sync(&self, file: &BufferedFile, mode: &str) -> bool {
        match file.fdatasync().await {
            Ok(()) => {
                self.recover();
                true
            }
            Err(e) => {
                let e = files::io_error(e);
                if mode == "always" {
                    log::error!(
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
                    );
                    std::process::exit(1);
                }
                self.fail("fdatasync", &e);
                false
            }
        }
    }

    /// Finishes the old file at a cut (its tail written and fdatasynced,
    /// waiters up to the cut released) and opens the new one. Each step that
    /// succeeded is not repeated when a later one fails and is retried.
    async fn rotate_file(
        &self,
        file: &mut Rc<BufferedFile>,
        pos: &mut u64,
        torn: &mut Option<u64>,
        rot: &mut Rotation,
    ) -> std::io::Result<()> {
        if self.written.get() < rot.old_end {
            self.append(file, &rot.old_tail, pos, torn).await?;
            rot.old_tail = Vec::new();
            file.fdatasync().await.map_err(files::io_error)?;
            self.set_written(rot.old_end);
            self.set_synced(rot.old_end);
        }
        let (new, size) = files::open_append(&rot.new_path).await?;
        files::sync_dir(&rot.new_path)
            .await
            .map_err(std::io::Error::other)?;
        let old = std::mem::replace(file, Rc::new(new));
        if let Ok(f) = Rc::try_unwrap(old) {
            let _ = f.close().await;
        }
        *pos = size;
        *torn = None;
        *self.path.borrow_mut() = rot.new_path.clone();
        Ok(())
    }
}

/// Resolves (to true) once the AOF is fdatasynced (`synced`) or written up
/// to a position (up to `own` only, while the writer is failing); with
/// `hold`, to false as soon as the writer is failing with `own` unwritten.
pub struct Durable<'a> {
    aof: &'a AofWriter,
    pos: u64,
    own: u64,
    synced: bool,
    hold: bool,
}

impl Future for Durable<'_> {
    type Output = bool;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let reached = if self.synced {
            self.aof.synced.get()
        } else {
            self.aof.written.get()
        };
        let failing = self.aof.failing.get();
        if reached >= self.pos || (failing && reached >= self.own) {
            return Poll::Ready(true);
        }
        if failing && self.hold {
            return Poll::Ready(false);
        }
        self.aof.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}
