//! The allocator's own view of memory (mimalloc, the global allocator set in
//! `main.rs`): its committed and resident bytes for `MEMORY STATS`/`INFO`,
//! its statistics text for `MEMORY MALLOC-STATS`, and `MEMORY PURGE`.
//!
//! mimalloc keeps no running count of bytes handed out in release builds, so
//! `allocated` and `active` are both its committed bytes (the fragmentation
//! ratio between them reads 1); on Linux it only estimates its resident size
//! from what it committed, so `resident` is the process's RSS instead.

use std::ffi::{c_char, c_void, CStr};

/// The allocator's figures, in bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AllocatorStats {
    pub allocated: usize,
    pub active: usize,
    pub resident: usize,
}

impl AllocatorStats {
    /// Reads mimalloc's process figures.
    pub fn read() -> Self {
        // Only the committed bytes are used; the rest are out-parameters.
        let (mut elapsed, mut user, mut system) = (0usize, 0usize, 0usize);
        let (mut rss, mut peak_rss, mut commit, mut peak_commit, mut faults) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        // SAFETY: every pointer is a valid, exclusive `usize` out-parameter
        // that outlives the call; mimalloc only writes through them.
        unsafe {
            libmimalloc_sys::mi_process_info(
                &mut elapsed,
                &mut user,
                &mut system,
                &mut rss,
                &mut peak_rss,
                &mut commit,
                &mut peak_commit,
                &mut faults,
            );
        }
        AllocatorStats {
            allocated: commit,
            active: commit,
            resident: crate::cmd::info::resident_memory() as usize,
        }
    }

    pub fn fragmentation_ratio(&self) -> f64 {
        single_ratio(self.active, self.allocated)
    }

    pub fn rss_ratio(&self) -> f64 {
        single_ratio(self.resident, self.active)
    }
}

fn single_ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f32 / b as f32) as f64
    }
}

/// mimalloc's version as Redis's `mem_allocator` names an allocator
/// (`mimalloc-2.1.7`).
pub fn name() -> String {
    // SAFETY: mi_version takes no arguments and only returns a number.
    let v = unsafe { libmimalloc_sys::mi_version() };
    format!("mimalloc-{}.{}.{}", v / 100, (v / 10) % 10, v % 10)
}

/// Appends one chunk of mimalloc's statistics output to the `String` behind `arg`.
unsafe extern "C" fn append_text(msg: *const c_char, arg: *mut c_void) {
    if msg.is_null() || arg.is_null() {
        return;
    }
    // SAFETY: `arg` is the `&mut String` passed by `stats_text` for the
    // duration of the call, and `msg` is a NUL-terminated string mimalloc
    // owns while this callback runs.
    let (out, text) = unsafe { (&mut *(arg as *mut String), CStr::from_ptr(msg)) };
    out.push_str(&text.to_string_lossy());
}

/// `MEMORY MALLOC-STATS`: mimalloc's statistics report as text.
pub fn stats_text() -> String {
    let mut out = String::new();
    // SAFETY: `append_text` matches `mi_output_fun` and only uses `arg` as the
    // `&mut String` given here, which outlives the call (mimalloc calls the
    // function synchronously and keeps no pointer after returning).
    unsafe {
        libmimalloc_sys::mi_stats_print_out(
            Some(append_text),
            &mut out as *mut String as *mut c_void,
        );
    }
    if out.is_empty() {
        out.push_str("Stats not supported for the current allocator\n");
    }
    out
}

/// Lets mimalloc return the pages it freed a while ago (its purge delay) to
/// the system: it does so only inside allocation calls of the same thread,
/// so an idle executor would keep them; called every expiry cycle, as
/// Redis's jemalloc background thread decays dirty pages.
pub fn decay() {
    // SAFETY: mi_collect has no preconditions; `false` is the cheap,
    // unforced collection.
    unsafe { libmimalloc_sys::mi_collect(false) }
}

/// `MEMORY PURGE`: asks mimalloc to return free pages of this thread's heap
/// (and abandoned ones) to the system.
pub fn purge() {
    // SAFETY: mi_collect has no preconditions; `true` forces a full collection.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_reports_memory_and_text() {
        let s = AllocatorStats::read();
        assert!(s.resident > 0 && s.active > 0, "{s:?}");
        assert!(name().starts_with("mimalloc-"));
        assert!(!stats_text().is_empty());
        purge();
    }
}
