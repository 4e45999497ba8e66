//! The 24-bit access clock every entry keeps, as Redis's `robj.lru`.
//!
//! - Under an LRU (or non-LFU) `maxmemory-policy` it holds the last access
//!   time in seconds, modulo 2^24 (Redis's `LRU_CLOCK`, resolution 1000 ms);
//!   OBJECT IDLETIME is the distance to now, wrapping as Redis's
//!   `estimateObjectIdleTime`.
//! - Under an LFU policy it holds 16 bits of access time in minutes
//!   (mod 2^16) and an 8-bit logarithmic counter: new keys start at
//!   [`LFU_INIT_VAL`]; each access first decays the counter by one per
//!   `lfu-decay-time` minutes elapsed, then increments it with probability
//!   1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1) (Redis's
//!   `updateLFU`). OBJECT FREQ is the decayed counter.
//!
//! Redis's defaults `lfu-log-factor 10` and `lfu-decay-time 1` apply (not yet
//! configurable). Nothing here is evicted yet: the clock is kept so eviction
//! can come without growing the entry.

/// Largest clock value (24 bits).
pub const CLOCK_MAX: u32 = (1 << 24) - 1;
/// The counter a new key starts with under LFU.
pub const LFU_INIT_VAL: u8 = 5;
const LFU_LOG_FACTOR: f64 = 10.0;
const LFU_DECAY_TIME: u64 = 1;

/// How entries' clocks are kept, from `maxmemory-policy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClockPolicy {
    /// Last access time (every policy without "lfu" in its name).
    #[default]
    Lru,
    /// Access frequency (`allkeys-lfu`, `volatile-lfu`).
    Lfu,
}

impl ClockPolicy {
    /// The policy for a `maxmemory-policy` value.
    pub fn from_maxmemory_policy(name: &str) -> Self {
        if name.to_ascii_lowercase().ends_with("-lfu") {
            ClockPolicy::Lfu
        } else {
            ClockPolicy::Lru
        }
    }

    /// The clock of a key created at `now_ms`.
    pub fn initial(self, now_ms: u64) -> u32 {
        match self {
            ClockPolicy::Lru => lru_now(now_ms),
            ClockPolicy::Lfu => (lfu_minutes(now_ms) << 8) | u32::from(LFU_INIT_VAL),
        }
    }

    /// The clock RESTORE's IDLETIME or FREQ sets at `now_ms` (Redis's
    /// `objectSetLRUOrLFU`): FREQ only under LFU, IDLETIME only under LRU
    /// (an idle time past the clock's range wraps to half of it, as Redis);
    /// `None` when the option does not apply to this policy.
    pub fn restored(self, now_ms: u64, idle_secs: Option<u64>, freq: Option<u8>) -> Option<u32> {
        match (self, idle_secs, freq) {
            (ClockPolicy::Lfu, _, Some(f)) => Some((lfu_minutes(now_ms) << 8) | u32::from(f)),
            (ClockPolicy::Lru, Some(idle), _) => {
                let now = u64::from(lru_now(now_ms));
                Some(match now.checked_sub(idle) {
                    Some(at) => at as u32,
                    None => ((now + u64::from(CLOCK_MAX) / 2) % u64::from(CLOCK_MAX)) as u32,
                })
            }
            _ => None,
        }
    }

    /// The clock after an access at `now_ms`; `chance` is a uniform draw in
    /// [0, 1) (only the LFU increment uses it).
    pub fn touched(self, clock: u32, now_ms: u64, chance: impl FnOnce() -> f64) -> u32 {
        match self {
            ClockPolicy::Lru => lru_now(now_ms),
            ClockPolicy::Lfu => {
                let mut counter = lfu_decayed(clock, now_ms);
                if counter < 255 {
                    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
                    if chance() < 1.0 / (base * LFU_LOG_FACTOR + 1.0) {
                        counter += 1;
                    }
                }
                (lfu_minutes(now_ms) << 8) | u32::from(counter)
            }
        }
    }
}

fn lru_now(now_ms: u64) -> u32 {
    ((now_ms / 1000) & u64::from(CLOCK_MAX)) as u32
}

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// Seconds since the last access recorded in an LRU `clock`.
pub fn idle_seconds(clock: u32, now_ms: u64) -> u64 {
    let now = u64::from(lru_now(now_ms));
    let then = u64::from(clock & CLOCK_MAX);
    if now >= then {
        now - then
    } else {
        now + (u64::from(CLOCK_MAX) - then)
    }
}

/// The LFU counter of `clock` after decay to `now_ms` (OBJECT FREQ).
pub fn lfu_decayed(clock: u32, now_ms: u64) -> u8 {
    let last = u64::from((clock >> 8) & 0xffff);
    let now = u64::from(lfu_minutes(now_ms));
    let elapsed = if now >= last {
        now - last
    } else {
        65535 - last + now
    };
    let counter = (clock & 0xff) as u8;
    let periods = elapsed / LFU_DECAY_TIME;
    u8::try_from(u64::from(counter).saturating_sub(periods)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_idle_time_wraps_like_redis() {
        let c = ClockPolicy::Lru.initial(5_000);
        assert_eq!(idle_seconds(c, 5_999), 0);
        assert_eq!(idle_seconds(c, 7_000), 2);
        let late = ClockPolicy::Lru.initial(u64::from(CLOCK_MAX) * 1000);
        assert_eq!(idle_seconds(late, 3_000), 3);
    }

    #[test]
    fn lfu_counts_up_and_decays() {
        let p = ClockPolicy::Lfu;
        let mut c = p.initial(0);
        assert_eq!(lfu_decayed(c, 0), LFU_INIT_VAL);
        c = p.touched(c, 0, || 0.0);
        assert_eq!(lfu_decayed(c, 0), LFU_INIT_VAL + 1);
        assert_eq!(lfu_decayed(c, 3 * 60_000), LFU_INIT_VAL - 2);
        assert_eq!(lfu_decayed(c, 300 * 60_000), 0);
        assert_eq!(p.touched(c, 0, || 0.99), c);
        assert_eq!(ClockPolicy::from_maxmemory_policy("allkeys-lfu"), p);
        assert_eq!(
            ClockPolicy::from_maxmemory_policy("volatile-lru"),
            ClockPolicy::Lru
        );
    }
}
