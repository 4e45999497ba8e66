//! Snapshots and AOF rewrites across shards: SAVE, BGSAVE, LASTSAVE,
//! BGREWRITEAOF, the `save` schedule, automatic AOF rewrites and the save at
//! shutdown.
//!
//! Both jobs start with the same *cut*: a transaction locking every shard
//! whole (route::txn), during which each shard installs its copy-on-write
//! snapshot (shard/snapshot.rs) — so every shard snapshots at the same point
//! of the transaction order and no snapshot holds half of an MSET. The locks
//! are released at once; shards then write their files in the background
//! while serving. The coordinator polls the shards, and when all are done
//! publishes the new files by replacing the manifest atomically, then
//! deletes the files of the previous generation. A crash at any point leaves
//! the previous manifest and its files intact.
//!
//! An AOF rewrite also switches every shard's journal to a new incr file at
//! the cut, and lists those files in the manifest before releasing the cut,
//! so every write acknowledged after the cut is found by a replay whether
//! the rewrite finishes or not.

use super::coordinator::{LockPlan, Tx};
use super::pipeline::{write_cmd_error, Env};
use crate::cmd::eq_ic;
use crate::cmd::table::Global;
use crate::cmd::CmdError;
use crate::persist::manifest::{self, AofEntry, AofFileKind, AofManifest, SnapshotManifest};
use crate::persist::status::{self, Job};
use crate::protocol::ReplyWriter;
use crate::runtime::core::Core;
use crate::runtime::files;
use crate::runtime::mesh::{JobKind, JobOutput};
use crate::runtime::snapshot::SnapshotState;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often the coordinator checks the shards' progress.
const POLL: Duration = Duration::from_millis(5);

pub async fn run(env: &Env<'_>, g: Global, cmd_idx: usize, out: &mut Vec<u8>) {
    let args = env.batch.args(cmd_idx);
    let resp3 = env.client.borrow().resp3;
    let core = env.core;
    match g {
        Global::Save => {
            if !status::try_begin(Job::Snapshot) {
                write_cmd_error(core, out, &CmdError::BgSaveInProgress);
                return;
            }
            match snapshot(core).await {
                Ok(()) => ReplyWriter::new(out, resp3).ok(),
                Err(_) => write_cmd_error(core, out, &CmdError::SaveFailed),
            }
        }
        Global::BgSave => {
            let schedule = args.len() == 2 && eq_ic(args.get(1), "schedule");
            if args.len() > 2 || (args.len() == 2 && !schedule) {
                write_cmd_error(core, out, &CmdError::Syntax);
                return;
            }
            if !status::try_begin(Job::Snapshot) {
                if schedule {
                    let c = core.clone();
                    glommio::spawn_local(async move { save_when_idle(c).await }).detach();
                    ReplyWriter::new(out, resp3).simple("Background saving scheduled");
                } else {
                    write_cmd_error(core, out, &CmdError::BgSaveInProgress);
                }
                return;
            }
            let c = core.clone();
            glommio::spawn_local(async move {
                let _ = snapshot(&c).await;
            })
            .detach();
            ReplyWriter::new(out, resp3).simple("Background saving started");
        }
        Global::LastSave => ReplyWriter::new(out, resp3).int(status::last_save_time() as i64),
        Global::BgRewriteAof => {
            if core.aof().is_none() {
                // Redis rewrites even with appendonly off; ringkv needs the
                // per-shard journals, which exist only with appendonly yes.
                write_cmd_error(core, out, &CmdError::AofRewriteNeedsAppendonly);
                return;
            }
            if !status::try_begin(Job::Rewrite) {
                let c = core.clone();
                glommio::spawn_local(async move { rewrite_when_idle(c).await }).detach();
                ReplyWriter::new(out, resp3)
                    .simple("Background append only file rewriting scheduled");
                return;
            }
            let c = core.clone();
            glommio::spawn_local(async move {
                let _ = rewrite_aof(&c).await;
            })
            .detach();
            ReplyWriter::new(out, resp3).simple("Background append only file rewriting started");
        }
        _ => write_cmd_error(core, out, &CmdError::Internal),
    }
}

async fn save_when_idle(core: Rc<Core>) {
    while !status::try_begin(Job::Snapshot) {
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
    let _ = snapshot(&core).await;
}

async fn rewrite_when_idle(core: Rc<Core>) {
    while !status::try_begin(Job::Rewrite) {
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
    let _ = rewrite_aof(&core).await;
}

/// Takes a snapshot of every shard (the caller holds `Job::Snapshot`) and
/// publishes it under `<dir>/<dbfilename>.manifest`.
pub async fn snapshot(core: &Rc<Core>) -> Result<(), String> {
    let started = Instant::now();
    let (dir, dbfilename) = {
        let s = core.info().settings.borrow();
        (PathBuf::from(&s.dir), s.dbfilename.clone())
    };
    log::info!("Background saving started");
    let gen = crate::clock::unix_ms();
    let names: Vec<String> = (0..core.cores())
        .map(|s| manifest::snapshot_file_name(&dbfilename, gen, s))
        .collect();
    let targets = names.iter().map(|n| dir.join(n)).collect();
    let manifest_path = dir.join(manifest::snapshot_manifest_name(&dbfilename));
    let result = async {
        cut(core, targets, None).await?;
        let previous = read_manifest(&manifest_path)
            .await
            .and_then(|t| SnapshotManifest::parse(&t).ok());
        let m = SnapshotManifest {
            gen,
            files: names.clone(),
        };
        files::replace(&manifest_path, m.render().as_bytes()).await?;
        for old in previous.iter().flat_map(|p| &p.files) {
            if !names.contains(old) {
                files::remove_quietly(&dir.join(old)).await;
            }
        }
        Ok::<(), String>(())
    }
    .await;
    let secs = started.elapsed().as_secs() as i64;
    match &result {
        Ok(()) => log::info!("DB saved on disk ({} shard files)", core.cores()),
        Err(e) => log::error!("Background saving error: {e}"),
    }
    status::finish(Job::Snapshot, result.is_ok(), secs);
    result
}

/// Rewrites the AOF (the caller holds `Job::Rewrite`): new base files from a
/// snapshot at the cut, new incr files from the cut on.
pub async fn rewrite_aof(core: &Rc<Core>) -> Result<(), String> {
    let started = Instant::now();
    let (aof_dir, appendfilename) = {
        let s = core.info().settings.borrow();
        (
            Path::new(&s.dir).join(&s.appenddirname),
            s.appendfilename.clone(),
        )
    };
    log::info!("Background append only file rewriting started");
    let manifest_path = aof_dir.join(manifest::aof_manifest_name(&appendfilename));
    let result = async {
        let text = read_manifest(&manifest_path)
            .await
            .ok_or_else(|| format!("cannot read {}", manifest_path.display()))?;
        let old =
            AofManifest::parse(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
        let seq = old.max_seq() + 1;
        let entry = |kind, s| AofEntry {
            name: match kind {
                AofFileKind::Base => manifest::aof_base_name(&appendfilename, seq, s),
                AofFileKind::Incr => manifest::aof_incr_name(&appendfilename, seq, s),
            },
            seq,
            kind,
            shard: s,
        };
        let bases: Vec<AofEntry> = (0..core.cores())
            .map(|s| entry(AofFileKind::Base, s))
            .collect();
        let incrs: Vec<AofEntry> = (0..core.cores())
            .map(|s| entry(AofFileKind::Incr, s))
            .collect();
        let targets = bases.iter().map(|e| aof_dir.join(&e.name)).collect();
        let rotate: Vec<PathBuf> = incrs.iter().map(|e| aof_dir.join(&e.name)).collect();
        // The new incr files exist (durably) before any manifest names them,
        // so a listed file missing at start-up is always lost data. Should the
        // rewrite fail, the unlisted files are removed at the next start.
        for path in &rotate {
            let file = files::create(path).await?;
            let _ = file.close().await;
        }
        if let Some(first) = rotate.first() {
            files::sync_dir(first).await?;
        }
        // Before the cut moves any writer to them: list the new (empty) incr
        // files after the old ones, so every write is replayed whatever
        // fails later. Should this fail, no writer has moved.
        let mut during = old.clone();
        during.entries.extend(incrs.iter().cloned());
        files::replace(&manifest_path, during.render().as_bytes()).await?;
        cut(core, targets, Some(rotate)).await?;
        let mut done = AofManifest {
            shards: core.cores(),
            entries: Vec::new(),
        };
        for (b, i) in bases.into_iter().zip(incrs) {
            done.entries.push(b);
            done.entries.push(i);
        }
        files::replace(&manifest_path, done.render().as_bytes()).await?;
        for e in &old.entries {
            files::remove_quietly(&aof_dir.join(&e.name)).await;
        }
        status::set_aof_base_size(persist_facts(core).await.2);
        Ok::<(), String>(())
    }
    .await;
    match &result {
        Ok(()) => log::info!("Background AOF rewrite finished successfully"),
        Err(e) => log::error!("Background AOF rewrite failed: {e}"),
    }
    status::finish(
        Job::Rewrite,
        result.is_ok(),
        started.elapsed().as_secs() as i64,
    );
    result
}

/// The cut: locks every shard whole, starts each shard's snapshot into
/// `targets[shard]` (and its journal rotation), releases, then waits until
/// every shard has written its file.
async fn cut(
    core: &Rc<Core>,
    targets: Vec<PathBuf>,
    rotate: Option<Vec<PathBuf>>,
) -> Result<(), String> {
    let tx = Tx::begin(core, LockPlan::every_shard(core.cores())).await;
    let cut_ms = crate::clock::unix_ms();
    let mut rotate = rotate.map(|r| r.into_iter());
    let mut waits = Vec::new();
    for (s, target) in targets.into_iter().enumerate() {
        let kind = JobKind::SnapshotBegin {
            target,
            cut_ms,
            rotate_to: rotate.as_mut().and_then(|r| r.next()),
        };
        if s == core.id() {
            core.run_local(0, kind);
        } else {
            waits.push(core.call(s, 0, kind));
        }
    }
    for w in waits {
        w.await;
    }
    tx.release();
    loop {
        let mut running = false;
        for s in 0..core.cores() {
            let state = if s == core.id() {
                core.run_local(0, JobKind::SnapshotPoll)
            } else {
                core.call(s, 0, JobKind::SnapshotPoll).await
            };
            match state {
                JobOutput::Snapshot(SnapshotState::Done) => {}
                JobOutput::Snapshot(SnapshotState::Failed(e)) => return Err(e),
                _ => running = true,
            }
        }
        if !running {
            return Ok(());
        }
        glommio::timer::sleep(POLL).await;
    }
}

async fn read_manifest(path: &Path) -> Option<String> {
    let file = glommio::io::BufferedFile::open(path).await.ok()?;
    let size = file.file_size().await.ok()?;
    let data = file.read_at(0, size as usize).await.ok()?;
    let _ = file.close().await;
    String::from_utf8(data.to_vec()).ok()
}

/// Sums every shard's (dirty count, AOF incr bytes, last snapshot bytes).
async fn persist_facts(core: &Rc<Core>) -> (u64, u64, u64) {
    let (mut dirty, mut bytes, mut snap) = (0, 0, 0);
    for s in 0..core.cores() {
        let out = if s == core.id() {
            core.run_local(0, JobKind::PersistFacts)
        } else {
            core.call(s, 0, JobKind::PersistFacts).await
        };
        if let JobOutput::PersistFacts {
            dirty: d,
            aof_bytes,
            snapshot_bytes,
        } = out
        {
            dirty += d;
            bytes += aof_bytes;
            snap += snapshot_bytes;
        }
    }
    (dirty, bytes, snap)
}

/// The total of `rdb_changes_since_last_save` over every shard.
pub async fn changes_since_save(core: &Rc<Core>) -> u64 {
    persist_facts(core).await.0
}

/// Parses a `save` setting into (seconds, changes) rules.
pub fn save_rules(text: &str) -> Vec<(u64, u64)> {
    let n: Vec<u64> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    n.chunks_exact(2).map(|c| (c[0], c[1])).collect()
}

/// Core 0's persistence clock: once a second, takes a snapshot when a `save`
/// rule is met (retrying a failed save after 5 s, as Redis) and rewrites the
/// AOF when it outgrew `auto-aof-rewrite-percentage`.
pub async fn schedule_loop(core: Rc<Core>) {
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        if core.stop().is_stopped() {
            return;
        }
        if status::busy() {
            continue;
        }
        let (save, pct, min_size) = {
            let s = core.info().settings.borrow();
            (
                s.save.clone(),
                s.auto_aof_rewrite_percentage,
                s.auto_aof_rewrite_min_size,
            )
        };
        let rules = save_rules(&save);
        let needs_facts = !rules.is_empty() || (core.aof().is_some() && pct > 0);
        if !needs_facts {
            continue;
        }
        let (dirty, incr_bytes, _) = persist_facts(&core).await;
        let now = crate::clock::unix_ms() / 1000;
        let since_save = now.saturating_sub(status::last_save_time());
        let retry_ok =
            status::last_bgsave_ok() || now.saturating_sub(status::last_save_attempt()) > 5;
        if retry_ok
            && rules
                .iter()
                .any(|&(secs, changes)| dirty >= changes && since_save >= secs)
            && status::try_begin(Job::Snapshot)
        {
            log::info!("{dirty} changes in {since_save} seconds. Saving...");
            let _ = snapshot(&core).await;
            continue;
        }
        // Redis's rule: the AOF grew by `pct` % over its size after the last
        // rewrite (the base files), and is at least `min_size`.
        let base = status::aof_base_size().max(1);
        if core.aof().is_some() && pct > 0 && base + incr_bytes >= min_size {
            let growth = incr_bytes * 100 / base;
            if growth >= pct && status::try_begin(Job::Rewrite) {
                log::info!("Starting automatic rewriting of AOF on {growth}% growth");
                let _ = rewrite_aof(&core).await;
            }
        }
    }
}

/// At shutdown: a final snapshot when asked (`SHUTDOWN SAVE`) or when a save
/// schedule is set (SIGTERM, plain SHUTDOWN), unless `NOSAVE`.
pub async fn save_on_shutdown(core: &Rc<Core>, mode: ShutdownSave) -> Result<(), String> {
    let wanted = match mode {
        ShutdownSave::Save => true,
        ShutdownSave::NoSave => false,
        ShutdownSave::Default => !save_rules(&core.info().settings.borrow().save).is_empty(),
    };
    if !wanted {
        return Ok(());
    }
    while !status::try_begin(Job::Snapshot) {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    log::info!("Saving the final RDB snapshot before exiting.");
    snapshot(core).await
}

/// What SHUTDOWN (or a signal) asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownSave {
    Default,
    Save,
    NoSave,
}

/// The save mode of the shutdown in progress (set by SHUTDOWN before it
/// stops the process; a signal leaves the default).
static SHUTDOWN_MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

pub fn set_shutdown_save(mode: ShutdownSave) {
    let v = match mode {
        ShutdownSave::Default => 0,
        ShutdownSave::Save => 1,
        ShutdownSave::NoSave => 2,
    };
    SHUTDOWN_MODE.store(v, std::sync::atomic::Ordering::Relaxed);
}

pub fn shutdown_save() -> ShutdownSave {
    match SHUTDOWN_MODE.load(std::sync::atomic::Ordering::Relaxed) {
        1 => ShutdownSave::Save,
        2 => ShutdownSave::NoSave,
        _ => ShutdownSave::Default,
    }
}
