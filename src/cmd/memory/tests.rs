//! MEMORY's parsing and its report arithmetic.

use super::*;
use crate::protocol::args::OwnedArgs;

fn parsed(line: &str) -> Result<String, String> {
    let owned = OwnedArgs::from_parts(line.split(' '));
    let args = owned.args();
    parse(&args)
        .map(|m| format!("{m:?}"))
        .map_err(|e| e.to_string())
}

#[test]
fn parse_follows_redis() {
    assert_eq!(parsed("memory usage k").unwrap(), "Usage([107])");
    assert_eq!(
        parsed("memory USAGE k samples 0 SAMPLES 9").unwrap(),
        "Usage([107])"
    );
    assert_eq!(
        parsed("memory usage k samples -1").unwrap_err(),
        "ERR syntax error"
    );
    assert_eq!(
        parsed("memory usage k samples").unwrap_err(),
        "ERR syntax error"
    );
    assert_eq!(
        parsed("memory usage k foo 1").unwrap_err(),
        "ERR syntax error"
    );
    assert_eq!(
        parsed("memory usage k samples x").unwrap_err(),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        parsed("memory usage").unwrap_err(),
        "ERR wrong number of arguments for 'memory|usage' command"
    );
    assert_eq!(
        parsed("memory stats now").unwrap_err(),
        "ERR wrong number of arguments for 'memory|stats' command"
    );
    assert_eq!(
        parsed("memory nope").unwrap_err(),
        "ERR unknown subcommand 'nope'. Try MEMORY HELP."
    );
    for (line, want) in [
        ("memory help", "Help"),
        ("memory Stats", "Stats"),
        ("memory doctor", "Doctor"),
        ("memory malloc-stats", "MallocStats"),
        ("memory purge", "Purge"),
    ] {
        assert_eq!(parsed(line).unwrap(), want);
    }
}

fn shard(used: usize, startup: usize, dbs: &[(usize, usize)]) -> ShardMemory {
    ShardMemory {
        used,
        startup,
        aof_buffer: 0,
        dbs: dbs
            .iter()
            .map(|&(keys, overhead)| DbMemory { keys, overhead })
            .collect(),
    }
}

#[test]
fn report_sums_shards() {
    let a = shard(1_000, 100, &[(10, 150), (0, 50)]);
    let mut b = shard(3_000, 100, &[(0, 50), (20, 250)]);
    b.aof_buffer = 24;
    let r = MemoryReport::from_shards(&[a, b], 10_000, Default::default());
    assert_eq!(r.total, 4_024);
    assert_eq!(r.startup, 200);
    assert_eq!(r.dbs, vec![(0, 10, 200), (1, 20, 300)]);
    assert_eq!(r.keys, 30);
    assert_eq!(r.overhead_total, 24 + 500);
    assert_eq!(r.dataset(), 3_500);
    assert_eq!(r.bytes_per_key(), (4_024 - 200) / 30);
    assert_eq!(r.peak_percentage(), 100.0);
    assert_eq!(r.dataset_percentage(), (350_000f32 / 3_824f32) as f64);
    let empty = MemoryReport::from_shards(&[shard(100, 100, &[(0, 100)])], 0, Default::default());
    assert_eq!(
        (empty.keys, empty.bytes_per_key(), empty.dbs.len()),
        (0, 0, 0)
    );
    assert!(doctor(&empty, 0).contains("too little data"));
}

#[test]
fn doctor_reports_peak_and_growth_beyond_the_base() {
    let mut r = MemoryReport::from_shards(
        &[shard(100 << 20, 1 << 20, &[(1, 1)])],
        0,
        Default::default(),
    );
    r.rss = (100 << 20) + (30 << 20);
    assert!(doctor(&r, 30 << 20).starts_with("No memory issue"));
    r.peak = 200 << 20;
    assert!(doctor(&r, 30 << 20).contains("Peak memory"));
    r.peak = r.total;
    r.rss = (300 << 20) + (30 << 20);
    let text = doctor(&r, 30 << 20);
    assert!(
        text.contains("High RSS overhead") && !text.contains("Peak"),
        "{text}"
    );
}
