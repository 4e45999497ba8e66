//! The append-only file journals commands, not values, through the real
//! binary (`--appendonly yes`): APPEND and SETRANGE write O(argument) per
//! call, and a server restarted from its AOF (after `kill -9`, under
//! `appendfsync always`) answers the same GET and expiry for every kind of
//! write, at `--threads` 1 and 2 and restarted with another `--threads`.
//! Keys that expire before the restart, or that expired and were written
//! again, replay as they were seen (replay itself expires nothing).
//!
//! ringkv only: `RINGKV_TEST_TARGET=redis` skips these.

mod common;

use common::persist::*;
use common::{target_is_redis, TestServer};
use std::path::Path;
use std::time::Duration;

fn start(dir: &Path, threads: usize) -> TestServer {
    aof_ringkv(dir, threads, &["--appendfsync", "always"]).start()
}

/// Total size of the incr files under the AOF directory.
fn incr_bytes(dir: &TempDir) -> u64 {
    std::fs::read_dir(dir.aof_dir())
        .expect("aof dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

/// Every incr file's bytes, concatenated.
fn incr_text(dir: &TempDir) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.aof_dir()).expect("aof dir").flatten() {
        if e.file_name().to_string_lossy().ends_with(".incr.aof") {
            out.extend(std::fs::read(e.path()).expect("read incr"));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn appends_journal_their_argument_not_the_value() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("append-size");
    let mut server = start(dir.path(), 2);
    let mut con = server.connection();
    let chunk = "x".repeat(100);
    let mut p = redis::pipe();
    for _ in 0..2000 {
        p.cmd("APPEND").arg("k").arg(&chunk).ignore();
    }
    for i in 0..100 {
        p.cmd("SETRANGE").arg("k").arg(i * 1000).arg("yy").ignore();
    }
    p.query::<()>(&mut con).unwrap();
    let len: usize = redis::cmd("STRLEN").arg("k").query(&mut con).unwrap();
    assert_eq!(len, 200_000);
    let bytes = incr_bytes(&dir);
    // The whole value each time would be about 200 MB.
    assert!(bytes < 1_000_000, "incr files hold {bytes} bytes");
    let want = dump(server.port());
    drop(con);
    kill9(&mut server);
    let server = start(dir.path(), 1);
    assert_same(&dump(server.port()), &want, "APPENDs replayed");
}

/// Every kind of write in db 0..=3, leaving keys with and without TTLs.
fn write_every_kind(con: &mut redis::Connection) {
    let far = (now_ms() + DAY_MS).to_string();
    let far_s = ((now_ms() + DAY_MS) / 1000).to_string();
    for args in [
        &["SET", "ex", "v", "EX", "1000"][..],
        &["SET", "px", "v", "PX", "2000000"],
        &["SET", "exat", "v", "EXAT", &far_s],
        &["SET", "pxat", "v", "PXAT", &far],
        &["SET", "nx", "1", "NX"],
        &["SET", "nx", "2", "NX"],
        &["SET", "xx-missing", "1", "XX"],
        &["SET", "keep", "1", "EX", "500"],
        &["SET", "keep", "2", "KEEPTTL"],
        &["SET", "get", "1"],
        &["SET", "get", "2", "GET", "EX", "77"],
        &["SETEX", "setex", "500", "v"],
        &["PSETEX", "psetex", "900000", "v"],
        &["SETNX", "setnx", "a"],
        &["SETNX", "setnx", "b"],
        &["GETSET", "getset", "new"],
        &["SET", "getdel", "x"],
        &["GETDEL", "getdel"],
        &["GETDEL", "getdel"],
        &["SET", "getex", "v"],
        &["GETEX", "getex", "EX", "300"],
        &["SET", "getex-px", "v"],
        &["GETEX", "getex-px", "PX", "300000"],
        &["SET", "getex-persist", "v", "EX", "100"],
        &["GETEX", "getex-persist", "PERSIST"],
        &["SET", "getex-past", "v"],
        &["GETEX", "getex-past", "PXAT", "1"],
        &["INCRBYFLOAT", "float", "1.5"],
        &["INCRBYFLOAT", "float", "0.1"],
        &["SET", "float-ttl", "2", "EX", "1000"],
        &["INCRBYFLOAT", "float-ttl", "1e3"],
        &["APPEND", "append", "abc"],
        &["APPEND", "append", "def"],
        &["SETRANGE", "setrange", "5", "x"],
        &["SETRANGE", "setrange", "1", "yz"],
        &["SETRANGE", "setrange-empty", "3", ""],
        &["INCR", "incr"],
        &["INCRBY", "incr", "41"],
        &["DECR", "incr"],
        &["DECRBY", "incr", "-10"],
        &["SET", "expire", "v"],
        &["EXPIRE", "expire", "700"],
        &["SET", "pexpire", "v"],
        &["PEXPIRE", "pexpire", "700000", "NX"],
        &["SET", "expireat", "v"],
        &["EXPIREAT", "expireat", &far_s],
        &["SET", "expire-past", "v"],
        &["EXPIRE", "expire-past", "-1"],
        &["SET", "persist", "v", "EX", "100"],
        &["PERSIST", "persist"],
        &["SET", "{a}src", "moved", "EX", "5000"],
        &["RENAME", "{a}src", "{b}dst"],
        &["SET", "{a}same", "1", "PX", "600000"],
        &["RENAME", "{a}same", "{a}same2"],
        &["SET", "{a}rn", "1"],
        &["RENAMENX", "{a}rn", "{b}rn2"],
        &["SET", "{b}c1", "copied", "EX", "800"],
        &["COPY", "{b}c1", "{a}c2"],
        &["COPY", "{b}c1", "{b}c3"],
        &["COPY", "{b}c1", "c4", "DB", "3"],
        &[
            "MSET", "{a}m", "1", "{b}m", "2", "plain-m", "3", "{a}m", "4",
        ],
        &["MSETNX", "{a}mx", "1", "{b}mx", "2"],
        &["MSET", "{c}one", "1", "{c}two", "2"],
        &["SET", "{a}d", "x"],
        &["SET", "{b}d", "x"],
        &["DEL", "{a}d", "{b}d", "{c}never"],
        &["UNLINK", "{c}one"],
    ] {
        run(con, args);
    }
    select(con, 1);
    run(con, &["SET", "a", "1"]);
    run(con, &["SET", "{b}b", "2", "EX", "300"]);
    run(con, &["FLUSHDB"]);
    run(con, &["SET", "after-flushdb", "yes"]);
    select(con, 2);
    run(con, &["SET", "in2", "x", "EX", "900"]);
    run(con, &["SWAPDB", "2", "3"]);
    select(con, 0);
    run(con, &["SET", "mv", "moving", "EX", "900"]);
    run(con, &["MOVE", "mv", "5"]);
    run(con, &["MULTI"]);
    run(con, &["SET", "tx1", "1"]);
    run(con, &["INCR", "tx1"]);
    run(con, &["SET", "{b}tx2", "2", "EX", "100"]);
    run(con, &["EXEC"]);
}

fn check_spots(want: &Dump) {
    let get = |db: u32, k: &str| want.get(&(db, k.as_bytes().to_vec())).cloned();
    assert_eq!(get(0, "nx").unwrap().0, b"1");
    assert_eq!(get(0, "get").unwrap().0, b"2");
    assert!(get(0, "get").unwrap().1 > 0);
    assert_eq!(get(0, "getdel"), None);
    assert_eq!(get(0, "getex-past"), None);
    assert_eq!(get(0, "expire-past"), None);
    assert_eq!(get(0, "getex-persist").unwrap().1, -1);
    assert_eq!(get(0, "persist").unwrap().1, -1);
    assert_eq!(get(0, "float-ttl").unwrap().0, b"1002");
    assert!(get(0, "float-ttl").unwrap().1 > 0);
    assert_eq!(get(0, "setrange").unwrap().0, b"\0yz\0\0x");
    assert_eq!(get(0, "incr").unwrap().0, b"51");
    assert_eq!(get(0, "{b}dst").unwrap().0, b"moved");
    assert_eq!(get(0, "{a}m").unwrap().0, b"4");
    assert_eq!(get(2, "c4").unwrap().0, b"copied", "SWAPDB 2 3 moved it");
    assert_eq!(get(3, "in2").unwrap().0, b"x");
    assert_eq!(get(5, "mv").unwrap().0, b"moving");
    assert!(get(5, "mv").unwrap().1 > 0, "MOVE keeps the TTL");
    assert_eq!(get(1, "after-flushdb").unwrap().0, b"yes");
    assert_eq!(want.keys().filter(|k| k.0 == 1).count(), 1);
}

/// Writes, kills, restarts with each later thread count in turn.
fn restart_trial(name: &str, layouts: &[usize]) {
    let dir = TempDir::new(name);
    let mut server = start(dir.path(), layouts[0]);
    let mut con = server.connection();
    write_every_kind(&mut con);
    let want = dump(server.port());
    check_spots(&want);
    let journal = incr_text(&dir);
    assert!(
        contains(&journal, b"PXAT"),
        "relative times journaled as PXAT"
    );
    assert!(
        !contains(&journal, b"INCRBYFLOAT"),
        "INCRBYFLOAT journaled as SET"
    );
    assert!(
        !contains(&journal, b"$6\r\nGETDEL"),
        "GETDEL journaled as DEL"
    );
    drop(con);
    kill9(&mut server);
    for &threads in &layouts[1..] {
        let mut server = start(dir.path(), threads);
        assert_same(
            &dump(server.port()),
            &want,
            &format!("{name}: replay into --threads {threads}"),
        );
        kill9(&mut server);
    }
}

#[test]
fn every_write_kind_replays_at_one_thread() {
    if target_is_redis() {
        return;
    }
    restart_trial("kinds-1", &[1, 1, 2]);
}

#[test]
fn every_write_kind_replays_at_two_threads() {
    if target_is_redis() {
        return;
    }
    restart_trial("kinds-2", &[2, 2, 1, 3]);
}

/// A key that expired and was written again, and a TTL removed before the
/// key would have expired, replay as they were seen, however long after.
/// (The active sweep's `DEL`s are checked by a unit test in src/shard.)
#[test]
fn expiry_seen_by_writes_replays_the_same() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("expired-then-written");
    let mut server = start(dir.path(), 2);
    let mut con = server.connection();
    run(&mut con, &["SET", "lazy", "old", "PX", "100"]);
    run(&mut con, &["SET", "kept", "v", "PX", "400"]);
    run(&mut con, &["PERSIST", "kept"]);
    run(&mut con, &["SET", "{b}renamed", "v", "PX", "400"]);
    run(&mut con, &["RENAME", "{b}renamed", "{b}renamed2"]);
    run(&mut con, &["PERSIST", "{b}renamed2"]);
    std::thread::sleep(Duration::from_millis(150));
    // A lazy expiry (GET), then a write that only succeeds on a missing key.
    let gone: Option<String> = redis::cmd("GET").arg("lazy").query(&mut con).unwrap();
    assert_eq!(gone, None);
    run(&mut con, &["SETNX", "lazy", "new"]);
    let want = dump(server.port());
    assert_eq!(want[&(0, b"lazy".to_vec())].0, b"new");
    assert_eq!(want[&(0, b"kept".to_vec())], (b"v".to_vec(), -1));
    assert_eq!(want[&(0, b"{b}renamed2".to_vec())], (b"v".to_vec(), -1));
    drop(con);
    std::thread::sleep(Duration::from_millis(300));
    kill9(&mut server);
    for threads in [2, 1] {
        let mut server = start(dir.path(), threads);
        assert_same(&dump(server.port()), &want, "expiry replayed");
        kill9(&mut server);
    }
}
