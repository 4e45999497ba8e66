//! The per-core append-only file writer: drains the shard's journal
//! (shard/journal.rs) into this shard's incr file through io_uring, with
//! group commit.
//!
//! - Replies wait at a *barrier* before they leave (a connection before its
//!   socket write, the mesh before a response message): the barrier wakes the
//!   writer when the journal holds effects, and under `appendfsync always`
//!   waits until the fdatasync covering everything appended so far is done.
//!   A reply that read data written in the same tick waits too, so nothing a
//!   client was told can be lost. Every effect appended while one write and
//!   fdatasync are in flight goes out in the next one: one fdatasync per tick
//!   however many clients wrote.
//! - `everysec`: writes as effects come, fdatasyncs at most once a second
//!   (and within a second of the last write). `no`: writes, never fsyncs.
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
        })
    }

    /// Wakes the writer if `appended` is beyond what it wrote; under
    /// `always`, resolves once everything up to `appended` is durable.
    pub fn barrier(&self, appended: u64, always: bool) -> Durable<'_> {
        if appended > self.written.get() {
            self.kick.notify();
        }
        Durable {
            aof: self,
            pos: if always { appended } else { 0 },
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
        let (mut file, mut pos) = match files::open_append(&path).await {
            Ok(f) => f,
            Err(e) => {
                log::error!("AOF: {e}; writes will not be acknowledged under appendfsync always");
                self.write_ok.set(false);
                self.running.set(false);
                return;
            }
        };
        self.file_bytes.set(pos);
        let mut unsynced = false;
        let mut last_sync = Instant::now();
        loop {
            let rotation = self.rotation.borrow_mut().take();
            if let Some(rot) = rotation {
                match self.rotate_file(file, pos, rot).await {
                    Ok((f, p)) => {
                        (file, pos) = (f, p);
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
                unsynced = false;
                continue;
            }
            let (buf, end) = match core.shard.borrow_mut().journal.as_mut() {
                Some(j) => j.take(),
                None => (Vec::new(), 0),
            };
            let mode = core.info.settings.borrow().appendfsync;
            if buf.is_empty() {
                if unsynced && (mode != "no") && last_sync.elapsed() >= Duration::from_secs(1)
                    || unsynced && self.stopping.get()
                {
                    if self.sync(&file).await {
                        self.set_synced(self.written.get());
                        unsynced = false;
                    }
                    last_sync = Instant::now();
                }
                if self.stopping.get() {
                    break;
                }
                futures_lite::future::or(
                    self.kick.wait(),
                    glommio::timer::sleep(Duration::from_millis(250)),
                )
                .await;
                continue;
            }
            if let Err(e) = files::write_all(&file, buf, &mut pos).await {
                log::error!("AOF write to {} failed: {e}", path.display());
                self.write_ok.set(false);
                glommio::timer::sleep(Duration::from_millis(100)).await;
                continue;
            }
            self.written.set(end);
            self.file_bytes.set(pos);
            match mode {
                "always" => {
                    if self.sync(&file).await {
                        self.set_synced(end);
                    }
                    last_sync = Instant::now();
                }
                _ => unsynced = true,
            }
        }
        let _ = file.close().await;
        self.running.set(false);
        self.stopped.notify();
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
        file: BufferedFile,
        mut pos: u64,
        rot: Rotation,
    ) -> Result<(BufferedFile, u64), String> {
        files::write_all(&file, rot.old_tail, &mut pos).await?;
        file.fdatasync()
            .await
            .map_err(|e| format!("fdatasync: {e}"))?;
        let _ = file.close().await;
        self.written.set(rot.old_end);
        self.set_synced(rot.old_end);
        let (new, size) = files::open_append(&rot.new_path).await?;
        files::sync_dir(&rot.new_path).await?;
        *self.path.borrow_mut() = rot.new_path;
        Ok((new, size))
    }
}

/// Resolves once the AOF is durable up to a position (immediately for 0).
pub struct Durable<'a> {
    aof: &'a AofWriter,
    pos: u64,
}

impl Future for Durable<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.aof.synced.get() >= self.pos || !self.aof.running.get() && self.pos == 0 {
            return Poll::Ready(());
        }
        self.aof.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}
