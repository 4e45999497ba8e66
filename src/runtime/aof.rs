//! The per-core append-only file writer: drains the shard's journal
//! (shard/journal.rs) into this shard's incr file through io_uring, with
//! group commit.
//!
//! - Replies wait at a *barrier* before they leave (a connection before its
//!   socket write, the mesh before a response message): the barrier wakes the
//!   writer when the journal holds effects and waits until they are written
//!   to the kernel — and, under `appendfsync always`, fdatasynced. A reply
//!   that read data written in the same tick waits too, so nothing a client
//!   was told can be lost (to a `kill -9` in every mode, to a power loss
//!   under `always`). Every effect appended while one write and fdatasync
//!   are in flight goes out in the next one: one write and one fdatasync per
//!   tick however many clients wrote.
//! - `everysec`: fdatasyncs about once a second in a task of its own, so
//!   writes never wait for it (a power loss loses at most about a second).
//!   `no`: writes, never fsyncs.
//! - Rotation (BGREWRITEAOF's cut): what the journal held before the cut goes
//!   to the old file, which is then fdatasynced and closed; later effects go
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
    /// Journal bytes appended before the cut (belong to the old file).
    old_tail: Vec<u8>,
    /// Journal position at the cut.
    old_end: u64,
    new_path: PathBuf,
}

pub struct AofWriter {
    kick: Notify,
    synced: Cell<u64>,
    written: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    rotation: RefCell<Option<Rotation>>,
    /// The incr file being appended to.
    path: RefCell<PathBuf>,
    /// False after a failed write or fsync (`aof_last_write_status`).
    pub write_ok: Cell<bool>,
    stopping: Cell<bool>,
    stopped: Notify,
    running: Cell<bool>,
    /// Size of the current incr file (for automatic rewrites).
    file_bytes: Cell<u64>,
    /// An `everysec` background fdatasync is running.
    sync_in_flight: Cell<bool>,
    sync_done: Notify,
}

impl AofWriter {
    pub fn new(path: PathBuf) -> Rc<AofWriter> {
        Rc::new(AofWriter {
            kick: Notify::default(),
            synced: Cell::new(0),
            written: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            rotation: RefCell::new(None),
            path: RefCell::new(path),
            write_ok: Cell::new(true),
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
    pub fn barrier(&self, appended: u64, always: bool) -> Durable<'_> {
        if appended > self.written.get() {
            self.kick.notify();
        }
        Durable {
            aof: self,
            pos: appended,
            synced: always,
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
    pub async fn stop(&self) {
        if !self.running.get() {
            return;
        }
        self.stopping.set(true);
        self.kick.notify();
        self.stopped.wait().await;
    }

    fn set_written(&self, pos: u64) {
        self.written.set(pos);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    fn set_synced(&self, pos: u64) {
        if pos > self.synced.get() {
            self.synced.set(pos);
            for w in self.waiters.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    /// The writer task: runs until [`AofWriter::stop`].
    pub async fn run(self: Rc<Self>, core: Rc<Core>) {
        self.running.set(true);
        let path = self.path.borrow().clone();
        let (file, mut pos) = match files::open_append(&path).await {
            Ok(f) => f,
            Err(e) => {
                log::error!("AOF: {e}; writes will not be acknowledged under appendfsync always");
                self.write_ok.set(false);
                self.running.set(false);
                return;
            }
        };
        let mut file = Rc::new(file);
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
            if let Some(rot) = rotation {
                self.background_sync_done().await;
                match self.rotate_file(file, pos, rot).await {
                    Ok((f, p)) => {
                        (file, pos) = (Rc::new(f), p);
                        self.file_bytes.set(pos);
                    }
                    Err(e) => {
                        log::error!("AOF rotation failed: {e}");
                        self.write_ok.set(false);
                        self.running.set(false);
                        self.stopped.notify();
                        return;
                    }
                }
                continue;
            }
            let (buf, end) = match core.shard.borrow_mut().journal.as_mut() {
                Some(j) => j.take(),
                None => (Vec::new(), 0),
            };
            let mode = core.info.settings.borrow().appendfsync;
            let sync_due = mode != "no" && last_sync.elapsed() >= Duration::from_secs(1);
            if buf.is_empty() {
                let unsynced = self.written.get() > self.synced.get();
                if self.stopping.get() {
                    self.background_sync_done().await;
                    if unsynced && self.sync(&file).await {
                        self.set_synced(self.written.get());
                    }
                    break;
                }
                if unsynced && sync_due {
                    self.background_sync(&file);
                    last_sync = Instant::now();
                }
                // Woken by effects, by stop(), or by the ticker (everysec).
                self.kick.wait().await;
                continue;
            }
            if let Err(e) = files::write_all(&file, buf, &mut pos).await {
                log::error!("AOF write to {} failed: {e}", path.display());
                self.write_ok.set(false);
                glommio::timer::sleep(Duration::from_millis(100)).await;
                continue;
            }
            self.set_written(end);
            self.file_bytes.set(pos);
            if mode == "always" {
                if self.sync(&file).await {
                    self.set_synced(end);
                }
                last_sync = Instant::now();
            } else if sync_due {
                self.background_sync(&file);
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
    fn background_sync(self: &Rc<Self>, file: &Rc<BufferedFile>) {
        if self.sync_in_flight.replace(true) {
            return;
        }
        let (me, file, target) = (self.clone(), file.clone(), self.written.get());
        glommio::spawn_local(async move {
            if me.sync(&file).await {
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

    async fn sync(&self, file: &BufferedFile) -> bool {
        match file.fdatasync().await {
            Ok(()) => {
                self.write_ok.set(true);
                true
            }
            Err(e) => {
                log::error!("AOF fdatasync failed: {e}");
                self.write_ok.set(false);
                false
            }
        }
    }

    async fn rotate_file(
        &self,
        file: Rc<BufferedFile>,
        mut pos: u64,
        rot: Rotation,
    ) -> Result<(BufferedFile, u64), String> {
        files::write_all(&file, rot.old_tail, &mut pos).await?;
        file.fdatasync()
            .await
            .map_err(|e| format!("fdatasync: {e}"))?;
        if let Ok(f) = Rc::try_unwrap(file) {
            let _ = f.close().await;
        }
        self.set_written(rot.old_end);
        self.set_synced(rot.old_end);
        let (new, size) = files::open_append(&rot.new_path).await?;
        files::sync_dir(&rot.new_path).await?;
        *self.path.borrow_mut() = rot.new_path;
        Ok((new, size))
    }
}

/// Resolves once the AOF is fdatasynced (`synced`) or written up to a
/// position.
pub struct Durable<'a> {
    aof: &'a AofWriter,
    pos: u64,
    synced: bool,
}

impl Future for Durable<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let reached = if self.synced {
            self.aof.synced.get()
        } else {
            self.aof.written.get()
        };
        if reached >= self.pos {
            return Poll::Ready(());
        }
        self.aof.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}
