//! SLOWLOG: each core logs the commands it executed that took at least
//! `slowlog-log-slower-than` µs, keeping the newest `slowlog-max-len`.
//! `SLOWLOG GET` merges every core's log by time (newest first).
//!
//! Entries are Redis 7.0's: id, Unix time, duration (µs), arguments (at most
//! 32, the last one then reading `... (N more arguments)`; each at most 128
//! bytes followed by `... (N more bytes)`), client address and name. Ids are
//! unique across cores (`sequence * cores + core`), increasing on each core.

use std::collections::VecDeque;

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC`.
pub const MAX_ARGC: usize = 32;
/// Redis's `SLOWLOG_ENTRY_MAX_STRING`.
pub const MAX_STRING: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowEntry {
    pub id: u64,
    /// Unix time in seconds.
    pub time: u64,
    /// Microseconds since the epoch (ordering across cores).
    pub time_us: u64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
}

/// Arguments as Redis's `slowlogCreateEntry` keeps them.
pub fn truncate_args<'a>(argc: usize, arg: impl Fn(usize) -> &'a [u8]) -> Vec<Vec<u8>> {
    let kept = argc.min(MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for i in 0..kept {
        if kept != argc && i == kept - 1 {
            out.push(format!("... ({} more arguments)", argc - kept + 1).into_bytes());
            break;
        }
        let a = arg(i);
        if a.len() > MAX_STRING {
            let mut v = a[..MAX_STRING].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(v);
        } else {
            out.push(a.to_vec());
        }
    }
    out
}

/// One core's log.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<SlowEntry>,
    seq: u64,
}

impl SlowLog {
    /// Adds an entry (its id is assigned here) and trims to `max_len`.
    pub fn push(&mut self, mut e: SlowEntry, core: usize, cores: usize, max_len: usize) {
        e.id = self.seq * cores.max(1) as u64 + core as u64;
        self.seq += 1;
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }

    /// The newest `count` entries, newest first.
    pub fn newest(&self, count: usize) -> Vec<SlowEntry> {
        self.entries.iter().take(count).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// Merges per-core entry lists: newest first, at most `count`.
pub fn merge(lists: Vec<Vec<SlowEntry>>, count: usize) -> Vec<SlowEntry> {
    let mut all: Vec<SlowEntry> = lists.into_iter().flatten().collect();
    all.sort_by(|a, b| b.time_us.cmp(&a.time_us).then(b.id.cmp(&a.id)));
    all.truncate(count);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_like_redis() {
        let args: Vec<Vec<u8>> = (0..40).map(|i| vec![b'a'; 100 + i]).collect();
        let t = truncate_args(args.len(), |i| &args[i]);
        assert_eq!(t.len(), 32);
        assert_eq!(t[31], b"... (9 more arguments)");
        assert_eq!(t[0], vec![b'a'; 100]);
        let mut long = vec![b'a'; 128];
        long.extend_from_slice(b"... (2 more bytes)");
        assert_eq!(t[30], long);
        let short = [b"get".to_vec(), b"k".to_vec()];
        assert_eq!(truncate_args(2, |i| &short[i]), short.to_vec());
    }

    #[test]
    fn ids_trim_and_merge() {
        let e = |t: u64| SlowEntry {
            id: 0,
            time: t / 1_000_000,
            time_us: t,
            duration_us: 5,
            args: vec![],
            addr: String::new(),
            name: vec![],
        };
        let mut a = SlowLog::default();
        let mut b = SlowLog::default();
        a.push(e(1), 0, 2, 2);
        a.push(e(3), 0, 2, 2);
        a.push(e(5), 0, 2, 2);
        b.push(e(4), 1, 2, 2);
        assert_eq!(a.len(), 2);
        let m = merge(vec![a.newest(10), b.newest(10)], 3);
        let times: Vec<u64> = m.iter().map(|x| x.time_us).collect();
        assert_eq!(times, [5, 4, 3]);
        let ids: Vec<u64> = m.iter().map(|x| x.id).collect();
        assert_eq!(ids, [4, 1, 2]);
    }
}
