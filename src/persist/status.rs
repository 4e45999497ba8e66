//! Process-wide persistence status, for LASTSAVE, INFO persistence and to
//! let only one snapshot or rewrite run at a time. Plain atomics written only
//! when a save or rewrite starts or ends — never on a request path.

use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed,
};

/// A snapshot or AOF rewrite is running (they share the cut machinery).
static BUSY: AtomicBool = AtomicBool::new(false);
static BGSAVE_IN_PROGRESS: AtomicBool = AtomicBool::new(false);
static REWRITE_IN_PROGRESS: AtomicBool = AtomicBool::new(false);
static LAST_SAVE_TIME: AtomicU64 = AtomicU64::new(0);
static LAST_BGSAVE_OK: AtomicBool = AtomicBool::new(true);
static LAST_BGSAVE_SECS: AtomicI64 = AtomicI64::new(-1);
static LAST_REWRITE_OK: AtomicBool = AtomicBool::new(true);
static LAST_REWRITE_SECS: AtomicI64 = AtomicI64::new(-1);
static SAVES: AtomicU64 = AtomicU64::new(0);
static REWRITES: AtomicU64 = AtomicU64::new(0);
static LAST_SAVE_ATTEMPT: AtomicU64 = AtomicU64::new(0);
/// AOF size (bytes, all shards) right after the last rewrite or load.
static AOF_BASE_SIZE: AtomicU64 = AtomicU64::new(0);
/// Shards whose last AOF write or fsync failed and is not yet redone. Each
/// shard's writer adds itself once when it starts failing and removes itself
/// once when a write succeeds again, so this is never a request-path write.
static AOF_FAILING_SHARDS: AtomicUsize = AtomicUsize::new(0);
/// errno of the latest AOF write or fsync failure (for the MISCONF text).
static AOF_WRITE_ERRNO: AtomicI32 = AtomicI32::new(0);

/// What a running job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Snapshot,
    Rewrite,
}

/// Claims the persistence machinery; false if a snapshot or rewrite runs.
pub fn try_begin(job: Job) -> bool {
    if BUSY
        .compare_exchange(false, true, Relaxed, Relaxed)
        .is_err()
    {
        return false;
    }
    match job {
        Job::Snapshot => BGSAVE_IN_PROGRESS.store(true, Relaxed),
        Job::Rewrite => REWRITE_IN_PROGRESS.store(true, Relaxed),
    }
    LAST_SAVE_ATTEMPT.store(unix_s(), Relaxed);
    true
}

/// Records the end of the running job.
pub fn finish(job: Job, ok: bool, secs: i64) {
    match job {
        Job::Snapshot => {
            LAST_BGSAVE_OK.store(ok, Relaxed);
            LAST_BGSAVE_SECS.store(secs, Relaxed);
            if ok {
                LAST_SAVE_TIME.store(unix_s(), Relaxed);
                SAVES.fetch_add(1, Relaxed);
            }
            BGSAVE_IN_PROGRESS.store(false, Relaxed);
        }
        Job::Rewrite => {
            LAST_REWRITE_OK.store(ok, Relaxed);
            LAST_REWRITE_SECS.store(secs, Relaxed);
            if ok {
                REWRITES.fetch_add(1, Relaxed);
            }
            REWRITE_IN_PROGRESS.store(false, Relaxed);
        }
    }
    BUSY.store(false, Relaxed);
}

pub fn busy() -> bool {
    BUSY.load(Relaxed)
}

/// Sets LASTSAVE's starting value (the start time, as Redis does).
pub fn init(start_unix: u64) {
    LAST_SAVE_TIME.store(start_unix, Relaxed);
}

pub fn last_save_time() -> u64 {
    LAST_SAVE_TIME.load(Relaxed)
}

pub fn last_save_attempt() -> u64 {
    LAST_SAVE_ATTEMPT.load(Relaxed)
}

pub fn last_bgsave_ok() -> bool {
    LAST_BGSAVE_OK.load(Relaxed)
}

pub fn set_aof_base_size(bytes: u64) {
    AOF_BASE_SIZE.store(bytes, Relaxed);
}

pub fn aof_base_size() -> u64 {
    AOF_BASE_SIZE.load(Relaxed)
}

/// A shard's AOF writer starts failing (`errno` of the failed call).
pub fn aof_write_failed(errno: i32) {
    AOF_WRITE_ERRNO.store(errno, Relaxed);
    AOF_FAILING_SHARDS.fetch_add(1, Relaxed);
}

/// A shard's AOF writer that was failing wrote successfully again.
pub fn aof_write_recovered() {
    AOF_FAILING_SHARDS.fetch_sub(1, Relaxed);
}

/// True while some shard cannot write its AOF (`aof_last_write_status:err`).
pub fn aof_write_failing() -> bool {
    AOF_FAILING_SHARDS.load(Relaxed) != 0
}

/// Redis's refusal after a failed snapshot (`stop-writes-on-bgsave-error`).
pub const BGSAVE_ERROR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The error that write commands (and PING, as Redis) get instead of
/// running while the data cannot be persisted: after a failed snapshot when
/// `stop_on_bgsave_error` (the setting, with save rules set) holds, and while
/// an AOF cannot be written (`MISCONF Errors writing to the AOF file:
/// <strerror>`). None when all is well: two relaxed loads, no more.
pub fn write_refusal(stop_on_bgsave_error: impl FnOnce() -> bool) -> Option<String> {
    if !LAST_BGSAVE_OK.load(Relaxed) && stop_on_bgsave_error() {
        return Some(BGSAVE_ERROR.to_string());
    }
    if !aof_write_failing() {
        return None;
    }
    let errno = AOF_WRITE_ERRNO.load(Relaxed);
    Some(format!(
        "MISCONF Errors writing to the AOF file: {}",
        strerror(errno)
    ))
}

/// The C library's text for `errno` (what Redis prints), without Rust's
/// " (os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The INFO persistence fields that live here, as (name, value) pairs.
pub fn info_fields() -> Vec<(&'static str, String)> {
    let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
    vec![
        (
            "rdb_bgsave_in_progress",
            (BGSAVE_IN_PROGRESS.load(Relaxed) as u8).to_string(),
        ),
        (
            "rdb_last_save_time",
            LAST_SAVE_TIME.load(Relaxed).to_string(),
        ),
        ("rdb_last_bgsave_status", ok(LAST_BGSAVE_OK.load(Relaxed))),
        (
            "rdb_last_bgsave_time_sec",
            LAST_BGSAVE_SECS.load(Relaxed).to_string(),
        ),
        ("rdb_saves", SAVES.load(Relaxed).to_string()),
        (
            "aof_rewrite_in_progress",
            (REWRITE_IN_PROGRESS.load(Relaxed) as u8).to_string(),
        ),
        (
            "aof_last_bgrewrite_status",
            ok(LAST_REWRITE_OK.load(Relaxed)),
        ),
        (
            "aof_last_rewrite_time_sec",
            LAST_REWRITE_SECS.load(Relaxed).to_string(),
        ),
        ("aof_rewrites", REWRITES.load(Relaxed).to_string()),
        ("aof_last_write_status", ok(!aof_write_failing())),
    ]
}

fn unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
