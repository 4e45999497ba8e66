//! The latency monitor (`LATENCY LATEST/HISTORY/RESET`), as Redis's
//! latency.c: per event name, a ring of the last 160 samples (one per second
//! at most, keeping the worst of that second) and the worst ever seen.
//! Samples are recorded only when the latency reaches
//! `latency-monitor-threshold` ms (0 disables the monitor).
//!
//! Events recorded: `command` (a slow command) and `fast-command` (a slow
//! command flagged `fast`). Each core keeps its own; replies merge them.

/// Redis's `LATENCY_TS_LEN`.
pub const HISTORY_LEN: usize = 160;

#[derive(Debug, Clone, Default)]
pub struct EventSeries {
    /// (Unix seconds, latency ms), oldest first.
    pub samples: Vec<(u64, u64)>,
    pub max: u64,
}

/// One core's events.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: Vec<(&'static str, EventSeries)>,
}

impl LatencyMonitor {
    pub fn add_sample(&mut self, event: &'static str, now_s: u64, ms: u64) {
        let series = match self.events.iter_mut().position(|e| e.0 == event) {
            Some(i) => &mut self.events[i].1,
            None => {
                self.events.push((event, EventSeries::default()));
                &mut self.events.last_mut().expect("just pushed").1
            }
        };
        series.max = series.max.max(ms);
        match series.samples.last_mut() {
            Some(last) if last.0 == now_s => last.1 = last.1.max(ms),
            _ => {
                series.samples.push((now_s, ms));
                if series.samples.len() > HISTORY_LEN {
                    series.samples.remove(0);
                }
            }
        }
    }

    pub fn snapshot(&self) -> Vec<(String, EventSeries)> {
        self.events
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect()
    }

    /// Resets the named events (all when `names` is empty); returns how many
    /// existed.
    pub fn reset(&mut self, names: &[String]) -> usize {
        let before = self.events.len();
        if names.is_empty() {
            self.events.clear();
        } else {
            self.events
                .retain(|(n, _)| !names.iter().any(|x| x.eq_ignore_ascii_case(n)));
        }
        before - self.events.len()
    }
}

/// Merges every core's events: samples of the same second keep the worst.
pub fn merge(lists: Vec<Vec<(String, EventSeries)>>) -> Vec<(String, EventSeries)> {
    let mut out: Vec<(String, EventSeries)> = Vec::new();
    for (name, s) in lists.into_iter().flatten() {
        let at = match out.iter().position(|e| e.0 == name) {
            Some(i) => i,
            None => {
                out.push((name, EventSeries::default()));
                out.len() - 1
            }
        };
        let m = &mut out[at].1;
        m.max = m.max.max(s.max);
        for (t, ms) in s.samples {
            match m.samples.iter_mut().find(|x| x.0 == t) {
                Some(x) => x.1 = x.1.max(ms),
                None => m.samples.push((t, ms)),
            }
        }
    }
    for (_, s) in out.iter_mut() {
        s.samples.sort_unstable();
        let extra = s.samples.len().saturating_sub(HISTORY_LEN);
        s.samples.drain(..extra);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_per_second_and_merge() {
        let mut a = LatencyMonitor::default();
        a.add_sample("command", 10, 5);
        a.add_sample("command", 10, 3);
        a.add_sample("command", 11, 7);
        let mut b = LatencyMonitor::default();
        b.add_sample("command", 10, 9);
        b.add_sample("fast-command", 12, 1);
        let m = merge(vec![a.snapshot(), b.snapshot()]);
        assert_eq!(m[0].0, "command");
        assert_eq!(m[0].1.samples, vec![(10, 9), (11, 7)]);
        assert_eq!(m[0].1.max, 9);
        assert_eq!(m[1].0, "fast-command");
        assert_eq!(a.reset(&["COMMAND".into()]), 1);
        assert_eq!(b.reset(&[]), 2);
        for i in 0..200 {
            a.add_sample("command", i, 1);
        }
        assert_eq!(a.snapshot()[0].1.samples.len(), HISTORY_LEN);
    }
}
