//! The per-core snapshot writer: after a cut (shard/snapshot.rs) it encodes
//! the shard a megabyte at a time and writes the bytes to a temporary file
//! through io_uring, yielding between chunks so the shard keeps serving (a
//! big collection is encoded a slice per step, and the commands waiting to
//! change it are resumed once it is complete); at
//! the end it fdatasyncs, renames the file into place and fsyncs the
//! directory.

use super::core::Core;
use super::files;
use super::notify::Notify;
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Bytes encoded per step before they are written.
const CHUNK: usize = 1 << 20;

/// Where this core's part of a snapshot stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotState {
    Idle,
    Running,
    Done,
    Failed(String),
}

#[derive(Default)]
pub struct SnapshotWriter {
    notify: Notify,
    target: RefCell<Option<PathBuf>>,
    state: RefCell<Option<SnapshotState>>,
    /// The shard's dirty count at the cut (subtracted once the save succeeds).
    dirty_at_cut: Cell<u64>,
    /// Size of the last file written.
    last_bytes: Cell<u64>,
}

impl SnapshotWriter {
    /// At the cut: starts the snapshot of `core`'s shard into `target`.
    pub fn start(&self, core: &Core, target: PathBuf, cut_ms: u64) {
        let mut shard = core.shard.borrow_mut();
        // Shard 0's file holds the function libraries (one copy of them).
        let functions = match shard.id() {
            0 => crate::cmd::function::registry::codes(),
            _ => Vec::new(),
        };
        shard.begin_snapshot(cut_ms, crate::persist::rdb::AuxInfo::now(0), &functions);
        self.dirty_at_cut.set(shard.dirty());
        drop(shard);
        // Commands waiting on a replaced snapshot's values go on.
        core.snapshot_released();
        *self.target.borrow_mut() = Some(target);
        *self.state.borrow_mut() = Some(SnapshotState::Running);
        self.notify.notify();
    }

    pub fn last_bytes(&self) -> u64 {
        self.last_bytes.get()
    }

    pub fn state(&self) -> SnapshotState {
        self.state.borrow().clone().unwrap_or(SnapshotState::Idle)
    }

    /// The writer task (one per core, for the process's lifetime).
    pub async fn run(self: Rc<Self>, core: Rc<Core>) {
        loop {
            self.notify.wait().await;
            let Some(target) = self.target.borrow_mut().take() else {
                continue;
            };
            let result = write(&core, &target).await.map(|n| self.last_bytes.set(n));
            let mut shard = core.shard.borrow_mut();
            shard.end_snapshot();
            drop(shard);
            core.snapshot_released();
            let mut shard = core.shard.borrow_mut();
            let state = match result {
                Ok(()) => {
                    shard.settle_dirty(self.dirty_at_cut.get());
                    SnapshotState::Done
                }
                Err(e) => {
                    log::error!("snapshot of shard {} failed: {e}", core.id);
                    SnapshotState::Failed(e)
                }
            };
            *self.state.borrow_mut() = Some(state);
        }
    }
}

/// Writes the snapshot to `target`; returns its size.
async fn write(core: &Core, target: &Path) -> Result<u64, String> {
    let tmp = files::temp_name(target);
    let file = files::create(&tmp).await?;
    let mut pos = 0;
    loop {
        let (chunk, done, released) = {
            let mut shard = core.shard.borrow_mut();
            if !shard.snapshot_running() {
                return Err("snapshot abandoned".into());
            }
            let done = shard.snapshot_step(CHUNK);
            (shard.snapshot_take(), done, shard.snapshot_released())
        };
        if released {
            core.snapshot_released();
        }
        if chunk.is_empty() && !done {
            // A slice of a big value encoded nothing to write yet: let the
            // shard serve before the next one.
            futures_lite::future::yield_now().await;
            continue;
        }
        if let Err(e) = files::write_all(&file, &chunk, &mut pos).await {
            let _ = file.close().await;
            files::remove_quietly(&tmp).await;
            return Err(format!("{}: {e}", tmp.display()));
        }
        if done {
            break;
        }
    }
    files::commit(file, &tmp, target).await?;
    Ok(pos)
}
