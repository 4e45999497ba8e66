//! Access clocks and eviction settings: how the per-entry LRU/LFU clock is
//! kept (lru.rs) under `maxmemory-policy`, shared integers for OBJECT
//! REFCOUNT, and RESTORE's IDLETIME/FREQ.

use super::*;

impl Shard {
    /// Follows `maxmemory-policy` `name` and `maxmemory`: access clocks are
    /// kept as LRU or LFU, and integers are shared (Redis's shared integers,
    /// which OBJECT REFCOUNT reports) unless a `maxmemory` limit is set with
    /// an LRU or LFU policy (Redis's `MAXMEMORY_FLAG_NO_SHARED_INTEGERS`).
    /// Called at start and should be on every CONFIG SET of either.
    pub fn set_eviction(&mut self, name: &str, maxmemory: u64) {
        self.policy = ClockPolicy::from_maxmemory_policy(name);
        let lower = name.to_ascii_lowercase();
        let lru_or_lfu = lower.ends_with("-lru") || lower.ends_with("-lfu");
        self.shared_integers = maxmemory == 0 || !lru_or_lfu;
    }

    /// True while integers 0..10000 count as shared (OBJECT REFCOUNT).
    pub fn shares_integers(&self) -> bool {
        self.shared_integers
    }

    /// How access clocks are kept now.
    pub fn clock_policy(&self) -> ClockPolicy {
        self.policy
    }

    /// RESTORE's IDLETIME / FREQ for `key` (see [`ClockPolicy::restored`]);
    /// a no-op for a missing key or an option the policy does not keep.
    pub fn restore_clock(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        idle: Option<u64>,
        freq: Option<u8>,
    ) {
        let Some(clock) = self.policy.restored(now_ms, idle, freq) else {
            return;
        };
        let loc = self.locate(key);
        if let Some((e, _, _)) = self.dbs[db].find_mut(loc, key) {
            e.set_clock(clock);
        }
    }
}
