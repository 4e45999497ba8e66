//! MEMORY and `INFO memory` through the real binary: replies and errors
//! byte for byte against redis-server where the numbers cannot differ, the
//! shape of MEMORY STATS and INFO memory (names, order, reply types) against
//! redis-server's, and the accounting itself: `used_memory` follows every
//! write and returns exactly to its start-up value when the data goes, and it
//! tracks the RSS growth of a load.

mod common;

use common::{show, RawConn, RedisServer, TestServer};

fn cmd(conn: &mut RawConn, line: &str) -> Vec<u8> {
    let args: Vec<&str> = line.split(' ').collect();
    conn.cmd(&args)
}

fn int_of(reply: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(reply);
    text.trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("not an integer reply: {text:?}"))
}

fn info_field(conn: &mut RawConn, name: &str) -> u64 {
    let text = String::from_utf8_lossy(&cmd(conn, "INFO memory")).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO memory"))
        .trim()
        .parse()
        .unwrap()
}

/// Replies that do not depend on sizes: errors, HELP, nil for a missing key,
/// PURGE, in RESP2 and RESP3.
#[test]
fn memory_replies_match_redis() {
    let script = [
        "MEMORY HELP",
        "MEMORY help",
        "MEMORY",
        "MEMORY nope",
        "MEMORY USAGE",
        "MEMORY USAGE nokey",
        "MEMORY USAGE nokey SAMPLES 5",
        "SET k v",
        "MEMORY USAGE k SAMPLES -1",
        "MEMORY USAGE k SAMPLES",
        "MEMORY USAGE k SAMPLES x",
        "MEMORY USAGE k SAMPLES 99999999999999999999",
        "MEMORY USAGE k other 1",
        "MEMORY STATS now",
        "MEMORY DOCTOR now",
        "MEMORY PURGE",
        "MEMORY PURGE now",
        "MEMORY MALLOC-STATS now",
        "MEMORY HELP now",
    ];
    for threads in [1, 2] {
        let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
        for hello in ["HELLO 2", "HELLO 3"] {
            let (mut a, mut b) = (ringkv.raw(), redis.raw());
            cmd(&mut a, hello);
            cmd(&mut b, hello);
            for line in script {
                let (ours, theirs) = (cmd(&mut a, line), cmd(&mut b, line));
                assert_eq!(
                    show(&ours),
                    show(&theirs),
                    "threads {threads}, {hello}, {line:?}"
                );
            }
        }
    }
}

/// The field names of a MEMORY STATS reply, with `i`/`d`/`m` for integer,
/// double and map values, nested maps flattened with their db name.
fn stats_shape(conn: &mut RawConn) -> Vec<String> {
    let reply = String::from_utf8(cmd(conn, "MEMORY STATS")).unwrap();
    let mut lines = reply.split("\r\n").filter(|l| !l.is_empty());
    let mut shape = Vec::new();
    lines.next(); // the map / array header
    let kind_of = |l: &str| match l.as_bytes()[0] {
        b':' => "i",
        b',' => "d",
        b'%' | b'*' => "m",
        b'$' => "s",
        _ => "?",
    };
    while let Some(line) = lines.next() {
        if line.starts_with('$') {
            continue;
        }
        let name = line.to_string();
        let value = lines.next().unwrap();
        let kind = if value.starts_with('$') {
            // A RESP2 double is a bulk string: take its text.
            let text = lines.next().unwrap();
            if text.parse::<f64>().is_ok() {
                "d"
            } else {
                "s"
            }
        } else {
            kind_of(value)
        };
        let name = if name.starts_with("db.") {
            "db.N".into()
        } else {
            name
        };
        shape.push(format!("{name}={kind}"));
    }
    shape
}

#[test]
fn memory_stats_and_info_memory_have_redis_shape() {
    let (ringkv, redis) = (TestServer::start(2), RedisServer::start());
    for hello in ["HELLO 2", "HELLO 3"] {
        let (mut a, mut b) = (ringkv.raw(), redis.raw());
        for c in [&mut a, &mut b] {
            cmd(c, hello);
            cmd(c, "FLUSHALL");
            cmd(c, "SET x 1");
        }
        assert_eq!(stats_shape(&mut a), stats_shape(&mut b), "{hello}");
    }
    let names = |conn: &mut RawConn| -> Vec<String> {
        String::from_utf8_lossy(&cmd(conn, "INFO memory"))
            .lines()
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_string()))
            .collect()
    };
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    assert_eq!(names(&mut a), names(&mut b));
    for c in ["MEMORY DOCTOR", "MEMORY MALLOC-STATS"] {
        let r2 = cmd(&mut a, c);
        assert!(r2.starts_with(b"$") && r2.len() > 20, "{c}: {}", show(&r2));
    }
    cmd(&mut a, "HELLO 3");
    for c in ["MEMORY DOCTOR", "MEMORY MALLOC-STATS"] {
        let r3 = cmd(&mut a, c);
        assert!(
            r3.starts_with(b"=") && r3[1..].windows(5).any(|w| w == b"\r\ntxt"),
            "{c}"
        );
    }
    let text = String::from_utf8_lossy(&cmd(&mut a, "INFO memory")).into_owned();
    assert!(text.contains("\r\nmem_allocator:mimalloc-"), "{text}");
}

/// Loading, overwriting, growing and deleting keys moves `used_memory` by what
/// MEMORY USAGE says each key costs; deleting frees the keys' bytes, and
/// FLUSHALL returns it exactly to its start-up value.
#[test]
fn used_memory_follows_every_write_exactly() {
    for threads in [1, 2] {
        let server = TestServer::start(threads);
        let mut c = server.raw();
        let empty = info_field(&mut c, "used_memory");
        assert_eq!(empty, info_field(&mut c, "used_memory_startup"));
        // Db 0's slot tables are allocated at start-up (part of
        // used_memory_startup); `{a}` and `{b}` are on different shards at
        // two threads.
        cmd(&mut c, "MSET {a}warm 1 {b}warm 1");
        let start = info_field(&mut c, "used_memory");
        let value = "x".repeat(100);
        let mut usage_sum = 0;
        for i in 0..1000 {
            cmd(&mut c, &format!("SET key:{i} {value}"));
        }
        for key in ["{a}warm", "{b}warm"]
            .map(String::from)
            .into_iter()
            .chain((0..1000).map(|i| format!("key:{i}")))
        {
            usage_sum += int_of(&cmd(&mut c, &format!("MEMORY USAGE {key}")));
        }
        let loaded = info_field(&mut c, "used_memory");
        let per_key = (loaded - start) / 1000;
        assert!(
            (100..400).contains(&per_key),
            "threads {threads}: {per_key} B/key"
        );
        // Every key's own bytes are part of the growth since start-up; the
        // rest is table overhead (spare entry slots, index rounding), which
        // is no key's.
        let growth = (loaded - empty) as i64;
        assert!(
            usage_sum <= growth && growth - usage_sum < 200 * 1000,
            "{usage_sum} vs {growth}"
        );
        // A bigger value costs more by about its size.
        let before = int_of(&cmd(&mut c, "MEMORY USAGE key:0"));
        cmd(&mut c, &format!("SET key:0 {}", "y".repeat(10_000)));
        let after = int_of(&cmd(&mut c, "MEMORY USAGE key:0"));
        assert!(
            (9_900..10_300).contains(&(after - before)),
            "{before} -> {after}"
        );
        let now = info_field(&mut c, "used_memory") as i64;
        assert_eq!(now - loaded as i64, after - before);
        cmd(&mut c, &format!("APPEND key:1 {}", "z".repeat(5_000)));
        cmd(&mut c, "SETRANGE key:2 20000 w");
        cmd(&mut c, "INCR counter");
        cmd(&mut c, "SET ttl v EX 1000");
        cmd(&mut c, "SELECT 3");
        cmd(&mut c, "SET other-db v");
        assert!(info_field(&mut c, "used_memory") > loaded + 25_000);
        cmd(&mut c, "FLUSHALL");
        assert_eq!(
            info_field(&mut c, "used_memory"),
            empty,
            "threads {threads}"
        );
        cmd(&mut c, "SELECT 0");
        cmd(&mut c, "MSET {a}warm 1 {b}warm 1");
        assert_eq!(
            info_field(&mut c, "used_memory"),
            start,
            "threads {threads}"
        );
        for i in 0..100 {
            cmd(&mut c, &format!("SET key:{i} {value}"));
        }
        let full = info_field(&mut c, "used_memory");
        for i in 0..100 {
            cmd(&mut c, &format!("DEL key:{i}"));
        }
        // Deleting frees each key's bytes; a table keeps its slots (no shrink).
        let after = info_field(&mut c, "used_memory");
        assert!(full - after >= 100 * 100, "{full} -> {after}");
        assert!(after - start <= 100 * 200, "{start} -> {after}");
        cmd(&mut c, "FLUSHALL");
        assert_eq!(
            info_field(&mut c, "used_memory"),
            empty,
            "threads {threads}"
        );
    }
}

/// A load of 200,000 keys grows `used_memory` by roughly what it grows RSS
/// (what the shards account is what the process holds for the data).
#[test]
fn used_memory_tracks_rss_growth() {
    let server = TestServer::start(1);
    let mut c = server.raw();
    let (used0, rss0) = (
        info_field(&mut c, "used_memory"),
        info_field(&mut c, "used_memory_rss"),
    );
    let n = 200_000;
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend_from_slice(&common::resp(&[
            "SET".to_string(),
            format!("key:{i:010}"),
            format!("v{i:031}"),
        ]));
        if batch.len() > 64 * 1024 || i == n - 1 {
            c.send(&batch);
            batch.clear();
        }
    }
    // Every SET answers +OK.
    let oks = c.read_up_to(5 * n, std::time::Duration::from_secs(60));
    assert_eq!(oks.len(), 5 * n, "replies");
    let (used1, rss1) = (
        info_field(&mut c, "used_memory"),
        info_field(&mut c, "used_memory_rss"),
    );
    let used = (used1 - used0) as f64 / n as f64;
    let rss = rss1.saturating_sub(rss0) as f64 / n as f64;
    assert!(used > 46.0, "used_memory grew {used:.1} B/key");
    assert!(
        used <= rss * 1.25 && used >= rss * 0.6,
        "used_memory grew {used:.1} B/key, RSS {rss:.1} B/key"
    );
}
