//! Snapshots (RDB) through the real binary. SAVE, BGSAVE (and BGSAVE SCHEDULE),
//! SHUTDOWN SAVE, SIGTERM with a save schedule and the `save` schedule itself write
//! `<dbfilename>.manifest` plus one Redis RDB v10 file per shard into `--dir`; a
//! restart, with the same or another `--threads`, holds exactly the saved keys, values
//! and absolute expiry times. Also: LASTSAVE and the INFO persistence counters; shard
//! files pass `redis-check-rdb` and load into redis-server 7.0 with exactly their
//! shard's keys; ringkv loads redis-server's own dump.rdb (LZF, integers, TTLs, an
//! already-expired key skipped); corrupt or truncated shard files stop start-up with
//! exit 1 naming the file and an offset; leftovers of a crash mid-save leave the
//! previous snapshot loadable; BGSAVE is one consistent cut across shards (a
//! cross-shard MSET or RENAME is never half in it) and writes keep being answered
//! while it runs.
//!
//! ringkv only: `RINGKV_TEST_TARGET=redis` skips these. Every server gets its own
//! temporary `--dir` (kept on failure for inspection); servers are killed on drop.

mod common;

use common::persist::*;

use common::{resp, show, target_is_redis, Builder, TestServer};
use ringkv::slot::SlotTable;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------- helpers

/// ringkv on `dir` with `threads` executors; snapshots only when a test asks
/// (`--save ""` unless `args` set another schedule).
fn ringkv(dir: &Path, threads: usize, args: &[&str]) -> Builder {
    let mut b = TestServer::builder()
        .threads(threads)
        .arg("--dir")
        .arg(dir.to_str().expect("utf-8 temp dir"));
    if !args.contains(&"--save") {
        b = b.arg("--save").arg("");
    }
    for a in args {
        b = b.arg(*a);
    }
    b
}

fn start(dir: &Path, threads: usize) -> TestServer {
    ringkv(dir, threads, &[]).start()
}

/// INFO persistence as a field -> value map.
fn info_persistence(con: &mut redis::Connection) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn info_num(con: &mut redis::Connection, field: &str) -> u64 {
    let v = info_field(con, field);
    v.parse()
        .unwrap_or_else(|_| panic!("{field}:{v} is not a number"))
}

fn lastsave(con: &mut redis::Connection) -> u64 {
    redis::cmd("LASTSAVE").query(con).expect("LASTSAVE")
}

fn save(con: &mut redis::Connection) {
    let r: String = redis::cmd("SAVE").query(con).expect("SAVE");
    assert_eq!(r, "OK");
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).expect("DBSIZE")
}

/// Waits until no BGSAVE runs any more.
fn wait_bgsave_done(con: &mut redis::Connection) {
    wait_for(Duration::from_secs(60), "BGSAVE to finish", || {
        info_field(con, "rdb_bgsave_in_progress") == "0"
    });
}

/// Sends `SHUTDOWN <how>` (no reply comes) and asserts a clean exit.
fn shutdown(server: &mut TestServer, how: &str) {
    let mut c = server.raw();
    c.send(&resp(&["SHUTDOWN", how]));
    assert_clean_exit(server, &format!("SHUTDOWN {how}"));
}

fn assert_clean_exit(server: &mut TestServer, what: &str) {
    let status = server
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("still running 60 s after {what}\n{}", server.log()));
    assert!(
        status.success(),
        "{what}: exit {status}\n--- log ---\n{}",
        server.log()
    );
}

/// Starts ringkv on `dir`, expecting it to refuse: exit code 1 within the limit.
/// Returns its output.
fn expect_start_failure(dir: &Path, threads: usize) -> String {
    expect_refusal(ringkv(dir, threads, &[]))
}

/// A parsed `<dbfilename>.manifest`.
#[derive(Debug, Clone, PartialEq)]
struct Manifest {
    gen: u64,
    /// (file name, shard), in manifest order.
    files: Vec<(String, usize)>,
}

fn read_manifest(dir: &Path, dbfilename: &str) -> Option<Manifest> {
    let text = std::fs::read_to_string(dir.join(format!("{dbfilename}.manifest"))).ok()?;
    let bad = || -> ! { panic!("malformed snapshot manifest:\n{text}") };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if lines.next() != Some("ringkv-snapshot 1") {
        bad();
    }
    let mut field = |name: &str| -> u64 {
        let l = lines.next().unwrap_or_else(|| bad());
        match l.split_once(' ') {
            Some((n, v)) if n == name => v.trim().parse().unwrap_or_else(|_| bad()),
            _ => bad(),
        }
    };
    let gen = field("gen");
    let shards = field("shards") as usize;
    let mut files = Vec::new();
    for l in lines {
        match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["file", name, "shard", i] => {
                files.push((name.to_string(), i.parse().unwrap_or_else(|_| bad())))
            }
            _ => bad(),
        }
    }
    assert_eq!(files.len(), shards, "one file per shard:\n{text}");
    let mut seen: Vec<usize> = files.iter().map(|f| f.1).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..shards).collect::<Vec<_>>(),
        "shards 0..n:\n{text}"
    );
    for (name, shard) in &files {
        assert_eq!(
            name,
            &format!("{dbfilename}.{gen}.s{shard}.rdb"),
            "shard file name:\n{text}"
        );
    }
    Some(Manifest { gen, files })
}

fn manifest(dir: &Path) -> Manifest {
    read_manifest(dir, "dump.rdb").expect("dump.rdb.manifest exists")
}

fn snapshot_files(dir: &Path) -> BTreeSet<String> {
    file_names(dir)
        .into_iter()
        .filter(|n| n.starts_with("dump.rdb"))
        .collect()
}

/// Bytes that LZF cannot shrink, from a seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A varied data set over dbs 0, 3 and 15: integers, raw and binary strings, an
/// empty key and value, 1 MB values (compressible and not), absolute and relative
/// TTLs far ahead. Thousands of keys, so every shard gets some.
fn write_sample(port: u16) {
    let mut con = connect(port);
    let far = (now_ms() + DAY_MS) as i64;
    let mut p = redis::pipe();
    let ints: [&[u8]; 8] = [
        b"0",
        b"-1",
        b"127",
        b"-40000",
        b"2147483648",
        b"-9223372036854775808",
        b"9223372036854775807",
        b"12345",
    ];
    for (i, v) in ints.iter().enumerate() {
        p.cmd("SET").arg(format!("int:{i}")).arg(*v).ignore();
    }
    for (k, v) in [
        (&b""[..], &b"the empty key"[..]),
        (b"empty-value", b""),
        (b"leading-zero", b"007"),
        (b"float", b"3.14"),
        (b"bin\0\r\nkey\xff", b"\0\r\n\xff\x00*3\r\n"),
        (b"\r\n", b"crlf key"),
        (b"big", &noise(1, 1 << 20)),
        (b"big-compressible", &b"abcdefghij".repeat(1 << 17)),
    ] {
        p.cmd("SET").arg(k).arg(v).ignore();
    }
    p.cmd("PEXPIREAT")
        .arg(&b"bin\0\r\nkey\xff"[..])
        .arg(far)
        .ignore();
    p.cmd("PEXPIRE").arg("big").arg(DAY_MS).ignore();
    for i in 0..3000u64 {
        let key = format!("key:{i}");
        let value = match i % 4 {
            0 => i.to_string().into_bytes(),
            1 => format!("value-{i}-{}", "x".repeat(i as usize % 50)).into_bytes(),
            2 => noise(i, i as usize % 200),
            _ => format!("{i}\0{i}").into_bytes(),
        };
        p.cmd("SET").arg(&key).arg(value).ignore();
        if i % 3 == 0 {
            p.cmd("PEXPIREAT").arg(&key).arg(far + i as i64).ignore();
        }
    }
    p.query::<()>(&mut con).expect("db 0 sample");
    for db in [3u32, 15] {
        select(&mut con, db);
        let mut p = redis::pipe();
        for i in 0..500u64 {
            p.cmd("SET")
                .arg(format!("db{db}:{i}"))
                .arg(format!("in db {db}: {i}"))
                .ignore();
            if i % 2 == 0 {
                p.cmd("PEXPIREAT")
                    .arg(format!("db{db}:{i}"))
                    .arg(far + 7 * i as i64)
                    .ignore();
            }
        }
        p.cmd("SET").arg("int:0").arg(db).ignore();
        p.query::<()>(&mut con).expect("db sample");
    }
}

/// Loads `n` keys `fill:<i>` with pipelined SETs.
fn fill(server: &TestServer, n: usize) {
    let mut c = server.raw();
    for start in (0..n).step_by(5000) {
        let end = (start + 5000).min(n);
        let mut buf = Vec::new();
        for i in start..end {
            buf.extend(resp(&[
                "SET".to_string(),
                format!("fill:{i}"),
                format!("value-{i}-0123456789abcdef"),
            ]));
        }
        c.send(&buf);
        for _ in start..end {
            let r = c.reply();
            assert_eq!(r, b"+OK\r\n", "{}", show(&r));
        }
    }
}

/// ringkv started with nothing but port, bind, `--threads 1` and `--dir`, so that its
/// own defaults apply (the harness adds `--save ""`).
struct PlainRingkv {
    child: Child,
    port: u16,
}

impl PlainRingkv {
    fn start(dir: &Path) -> PlainRingkv {
        let port = common::free_port();
        let child = Command::new(common::ringkv_bin())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--threads", "1", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ringkv");
        let mut server = PlainRingkv { child, port };
        wait_for(Duration::from_secs(10), "ringkv to answer PING", || {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("ringkv exited: {status}");
            }
            redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        });
        server
    }
}

impl Drop for PlainRingkv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn config_get_reports_persistence_settings() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("config");
    // Not through the harness, which turns the save schedule off.
    let server = PlainRingkv::start(dir.path());
    let mut con = connect(server.port);
    let get = |con: &mut redis::Connection, name: &str| -> String {
        let r: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .expect("CONFIG GET");
        assert_eq!(r.len(), 2, "CONFIG GET {name}: {r:?}");
        assert_eq!(r[0], name);
        r[1].clone()
    };
    for (name, want) in [
        ("dbfilename", "dump.rdb"),
        ("save", "3600 1 300 100 60 10000"),
        ("appendonly", "no"),
        ("appendfsync", "everysec"),
        ("appenddirname", "appendonlydir"),
        ("appendfilename", "appendonly.aof"),
        ("auto-aof-rewrite-percentage", "100"),
        ("auto-aof-rewrite-min-size", "67108864"),
    ] {
        assert_eq!(get(&mut con, name), want, "default of {name}");
    }
    let got_dir = get(&mut con, "dir");
    assert_eq!(
        std::fs::canonicalize(&got_dir).ok(),
        std::fs::canonicalize(dir.path()).ok(),
        "CONFIG GET dir = {got_dir}"
    );
    drop(con);
    drop(server);

    let server = ringkv(
        dir.path(),
        1,
        &[
            "--dbfilename",
            "snap.rdb",
            "--save",
            "900 1 60 5",
            "--appendfsync",
            "always",
            "--appenddirname",
            "aofs",
            "--appendfilename",
            "log.aof",
            "--auto-aof-rewrite-percentage",
            "50",
            "--auto-aof-rewrite-min-size",
            "1048576",
        ],
    )
    .start();
    let mut con = server.connection();
    for (name, want) in [
        ("dbfilename", "snap.rdb"),
        ("save", "900 1 60 5"),
        ("appendfsync", "always"),
        ("appenddirname", "aofs"),
        ("appendfilename", "log.aof"),
        ("auto-aof-rewrite-percentage", "50"),
        ("auto-aof-rewrite-min-size", "1048576"),
    ] {
        assert_eq!(get(&mut con, name), want, "{name} from the command line");
    }
    // And SAVE honours --dbfilename.
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    save(&mut con);
    let m = read_manifest(dir.path(), "snap.rdb").expect("snap.rdb.manifest");
    assert_eq!(m.files.len(), 1);
    check_rdb(&dir.path().join(&m.files[0].0));
}

#[test]
fn save_round_trips_across_thread_counts() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("roundtrip");
    let mut server = start(dir.path(), 2);
    write_sample(server.port());
    let want = dump(server.port());
    assert!(want.len() > 3000, "{} keys", want.len());
    let mut con = server.connection();
    // Saved, but expired by the time the snapshot is loaded: skipped.
    let _: () = redis::cmd("SET")
        .arg("short-lived")
        .arg("x")
        .arg("PX")
        .arg(300)
        .query(&mut con)
        .unwrap();
    let short_expiry: u64 = redis::cmd("PEXPIRETIME")
        .arg("short-lived")
        .query(&mut con)
        .unwrap();
    save(&mut con);
    let m = manifest(dir.path());
    assert_eq!(m.files.len(), 2, "{m:?}");
    for (name, _) in &m.files {
        assert!(dir.path().join(name).is_file(), "{name} missing");
    }
    drop(con);
    shutdown(&mut server, "NOSAVE");
    assert_eq!(manifest(dir.path()), m, "SHUTDOWN NOSAVE wrote a snapshot");
    wait_for(Duration::from_secs(5), "short-lived to expire", || {
        now_ms() > short_expiry + 100
    });

    let db0 = want.keys().filter(|(db, _)| *db == 0).count() as u64;
    for threads in [2, 1, 4] {
        let mut server = start(dir.path(), threads);
        let got = dump(server.port());
        assert_same(&got, &want, &format!("restart with --threads {threads}"));
        let mut con = server.connection();
        assert_eq!(dbsize(&mut con), db0, "DBSIZE: an expired key was loaded?");
        // The relative TTL set before the save is still about a day.
        let pttl: i64 = redis::cmd("PTTL").arg("big").query(&mut con).unwrap();
        assert!(
            pttl <= DAY_MS as i64 && pttl > DAY_MS as i64 - 120_000,
            "PTTL big = {pttl}"
        );
        if threads == 4 {
            // A snapshot taken by 4 shards loads into 3.
            save(&mut con);
            let m4 = manifest(dir.path());
            assert_eq!(m4.files.len(), 4, "{m4:?}");
            assert!(m4.gen != m.gen, "a new save has a new generation: {m4:?}");
            drop(con);
            kill9(&mut server);
            let server = start(dir.path(), 3);
            assert_same(&dump(server.port()), &want, "saved by 4, loaded by 3");
        }
    }
}

#[test]
fn bgsave_reports_progress_and_resets_counters() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("bgsave");
    let server = start(dir.path(), 2);
    let mut con = server.connection();
    assert_eq!(info_field(&mut con, "rdb_bgsave_in_progress"), "0");
    assert_eq!(info_num(&mut con, "rdb_saves"), 0);
    fill(&server, 200_000);
    assert_eq!(info_num(&mut con, "rdb_changes_since_last_save"), 200_000);
    let before = lastsave(&mut con);
    // LASTSAVE has one-second resolution: let a second boundary pass.
    wait_for(Duration::from_secs(3), "the next second", || {
        now_ms() / 1000 > before
    });

    // Two BGSAVEs and an INFO in one pipeline: the second finds the first running.
    let mut c = server.raw();
    let mut pipeline = resp(&["BGSAVE"]);
    pipeline.extend(resp(&["BGSAVE"]));
    pipeline.extend(resp(&["INFO", "persistence"]));
    c.send(&pipeline);
    assert_eq!(show(&c.reply()), "+Background saving started\\r\\n");
    assert_eq!(
        show(&c.reply()),
        "-ERR Background save already in progress\\r\\n"
    );
    let info = String::from_utf8_lossy(&c.reply()).into_owned();
    assert!(
        info.contains("rdb_bgsave_in_progress:1"),
        "INFO right after BGSAVE:\n{info}"
    );

    wait_bgsave_done(&mut con);
    let info = info_persistence(&mut con);
    assert_eq!(info["rdb_last_bgsave_status"], "ok", "{info:?}");
    assert_eq!(info["rdb_changes_since_last_save"], "0", "{info:?}");
    assert_eq!(info["rdb_saves"], "1", "{info:?}");
    let after = lastsave(&mut con);
    assert!(after > before, "LASTSAVE {before} -> {after}");
    assert_eq!(info["rdb_last_save_time"], after.to_string(), "{info:?}");
    let m = manifest(dir.path());
    assert_eq!(m.files.len(), 2);

    // One more write counts; BGSAVE SCHEDULE with nothing running starts at once.
    let _: () = redis::cmd("SET")
        .arg("one")
        .arg("more")
        .query(&mut con)
        .unwrap();
    assert_eq!(info_num(&mut con, "rdb_changes_since_last_save"), 1);
    let r: String = redis::cmd("BGSAVE")
        .arg("SCHEDULE")
        .query(&mut con)
        .expect("BGSAVE SCHEDULE");
    assert_eq!(r, "Background saving started");
    wait_for(Duration::from_secs(60), "second save", || {
        info_num(&mut con, "rdb_saves") == 2
    });
    wait_bgsave_done(&mut con);
    assert_eq!(info_num(&mut con, "rdb_changes_since_last_save"), 0);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let m2 = manifest(dir.path());
    assert!(m2.gen != m.gen, "{m:?} then {m2:?}");

    // What BGSAVE wrote loads back.
    let want = dump(server.port());
    drop(con);
    drop(server);
    let server = start(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "after BGSAVE");
}

#[test]
fn shard_files_pass_redis_check_rdb_and_load_into_redis_server() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("check");
    let server = start(dir.path(), 3);
    write_sample(server.port());
    let want = dump(server.port());
    save(&mut server.connection());
    drop(server);

    let m = manifest(dir.path());
    assert_eq!(m.files.len(), 3, "{m:?}");
    let table = SlotTable::contiguous(3);
    let mut union = Dump::new();
    for (name, shard) in &m.files {
        let path = dir.path().join(name);
        check_rdb(&path);
        let redis = Redis::start(dir.path(), name);
        let got = dump(redis.port);
        let mine: Dump = want
            .iter()
            .filter(|((_, k), _)| table.shard_of(k) == *shard)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert!(!mine.is_empty(), "shard {shard} owns no sample key");
        assert_same(&got, &mine, &format!("redis-server loading {name}"));
        union.extend(got);
        drop(redis);
    }
    assert_same(&union, &want, "all shard files together");
}

#[test]
fn loads_dump_rdb_written_by_redis_server() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("redis-dump");
    let redis = Redis::start(dir.path(), "dump.rdb");
    let mut con = connect(redis.port);
    let far = (now_ms() + DAY_MS) as i64;
    let mut p = redis::pipe();
    for (k, v) in [
        (&b"int8"[..], &b"-100"[..]),
        (b"int16", b"30000"),
        (b"int32", b"-2000000000"),
        (b"int64", b"9223372036854775807"),
        (b"not-int", b"0042"),
        (b"12345", b"the key is an integer"),
        (b"bin\0\r\nkey\xff", b"\0\r\n\xff"),
        (b"", b""),
    ] {
        p.cmd("SET").arg(k).arg(v).ignore();
    }
    p.cmd("SET")
        .arg("lzf-long")
        .arg(b"abcdefghij".repeat(100_000))
        .ignore();
    p.cmd("SET").arg("random").arg(noise(7, 5000)).ignore();
    p.cmd("PEXPIREAT").arg("int16").arg(far).ignore();
    p.cmd("PEXPIRE").arg("random").arg(DAY_MS).ignore();
    for i in 0..2000 {
        let k = format!("lzf:{i}");
        p.cmd("SET")
            .arg(&k)
            .arg(format!("value {i} compressible {}", "z".repeat(60)))
            .ignore();
        if i % 2 == 0 {
            p.cmd("PEXPIREAT").arg(&k).arg(far + i).ignore();
        }
    }
    p.query::<()>(&mut con).unwrap();
    for db in [2u32, 9] {
        select(&mut con, db);
        for i in 0..100 {
            let _: () = redis::cmd("SET")
                .arg(format!("db{db}:{i}"))
                .arg(i)
                .query(&mut con)
                .unwrap();
        }
    }
    select(&mut con, 0);
    let want = dump(redis.port);
    // Expires 300 ms after the save: skipped when ringkv loads the file later.
    let _: () = redis::cmd("SET")
        .arg("short-lived")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let _: i64 = redis::cmd("PEXPIRE")
        .arg("short-lived")
        .arg(300)
        .query(&mut con)
        .unwrap();
    let short_expiry: u64 = redis::cmd("PEXPIRETIME")
        .arg("short-lived")
        .query(&mut con)
        .unwrap();
    save(&mut con);
    drop(con);
    drop(redis);
    let size = std::fs::metadata(dir.path().join("dump.rdb"))
        .unwrap()
        .len();
    assert!(
        size < 500_000,
        "redis-server did not compress: {size} bytes"
    );
    wait_for(Duration::from_secs(5), "short-lived to expire", || {
        now_ms() > short_expiry + 200
    });

    let mut server = start(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "ringkv loading dump.rdb");
    let mut con = server.connection();
    let db0 = want.keys().filter(|(db, _)| *db == 0).count() as u64;
    assert_eq!(dbsize(&mut con), db0, "the expired key was loaded");

    // Once ringkv saved, its manifest wins over the stale dump.rdb.
    let _: () = redis::cmd("SET")
        .arg("after-load")
        .arg("1")
        .query(&mut con)
        .unwrap();
    save(&mut con);
    assert!(dir.path().join("dump.rdb.manifest").is_file());
    drop(con);
    shutdown(&mut server, "NOSAVE");
    let server = start(dir.path(), 1);
    let mut want2 = want.clone();
    want2.insert((0, b"after-load".to_vec()), (b"1".to_vec(), -1));
    assert_same(&dump(server.port()), &want2, "manifest over dump.rdb");
}

#[test]
fn a_missing_dir_stops_startup() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("missing-dir");
    let missing = dir.path().join("nope");
    let log = expect_start_failure(&missing, 2);
    assert!(
        log.contains("Can't chdir to") && log.contains("nope"),
        "no clear message:\n{log}"
    );
}

#[test]
fn corrupt_or_truncated_shard_file_stops_startup() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("corrupt");
    let table = SlotTable::contiguous(2);
    let marker_key = "{a}marker";
    assert_eq!(table.shard_of(marker_key.as_bytes()), 1);
    let mut server = start(dir.path(), 2);
    write_sample(server.port());
    let mut con = server.connection();
    let marker: Vec<u8> = [&b"MARKER-"[..], &noise(3, 65_536)].concat();
    let _: () = redis::cmd("SET")
        .arg(marker_key)
        .arg(&marker)
        .query(&mut con)
        .unwrap();
    let want = dump(server.port());
    save(&mut con);
    drop(con);
    shutdown(&mut server, "NOSAVE");

    let m = manifest(dir.path());
    let name = &m.files.iter().find(|f| f.1 == 1).unwrap().0;
    let path = dir.path().join(name);
    let original = std::fs::read(&path).unwrap();
    let at = original
        .windows(7)
        .position(|w| w == b"MARKER-")
        .expect("marker value stored raw in shard 1's file");

    let mut cases: Vec<(String, Vec<u8>)> = [5, original.len() / 2, original.len() - 1]
        .into_iter()
        .map(|cut| (format!("truncated to {cut}"), original[..cut].to_vec()))
        .collect();
    let mut flipped = original.clone();
    flipped[at + 30_000] ^= 0x20;
    cases.push(("one flipped byte".to_string(), flipped));

    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let log = expect_start_failure(dir.path(), 2);
        assert!(
            log.contains(name.as_str()) && log.contains("offset"),
            "{what}: the error must name {name} and an offset:\n{log}"
        );
    }

    std::fs::write(&path, &original).unwrap();
    let server = start(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "restored file");
}

#[test]
fn crash_mid_save_leaves_previous_snapshot_loadable() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("midsave");
    let mut server = start(dir.path(), 2);
    write_sample(server.port());
    let want = dump(server.port());
    save(&mut server.connection());
    shutdown(&mut server, "NOSAVE");
    let m = manifest(dir.path());

    // What a crash during the next save could leave: partial temporaries, a complete
    // shard file the manifest does not name yet, a partial new manifest.
    let next = m.gen + 1;
    let garbage = b"REDIS0010\xfa\x09garbage!!".repeat(100);
    for name in [
        format!("dump.rdb.{next}.s0.rdb.tmp"),
        format!("dump.rdb.{next}.s1.rdb"),
        "dump.rdb.manifest.tmp".to_string(),
    ] {
        std::fs::write(dir.path().join(name), &garbage).unwrap();
    }

    let mut server = start(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "previous snapshot");
    // Start-up cleared the leftovers: only the manifest's files remain.
    let mut expected: BTreeSet<String> = m.files.iter().map(|(f, _)| f.clone()).collect();
    expected.insert("dump.rdb.manifest".to_string());
    assert_eq!(
        snapshot_files(dir.path()),
        expected,
        "leftovers removed at start"
    );
    // The next save succeeds over the leftovers and is loaded in turn.
    let mut con = server.connection();
    let _: () = redis::cmd("SET")
        .arg("new")
        .arg("1")
        .query(&mut con)
        .unwrap();
    save(&mut con);
    let m2 = manifest(dir.path());
    assert!(m2.gen > m.gen, "{m:?} then {m2:?}");
    drop(con);
    kill9(&mut server);
    eprintln!(
        "snapshot files after the second save: {:?}",
        snapshot_files(dir.path())
    );
    let server = start(dir.path(), 2);
    let mut want2 = want.clone();
    want2.insert((0, b"new".to_vec()), (b"1".to_vec(), -1));
    assert_same(&dump(server.port()), &want2, "after the second save");
}

/// The two hashtags of the consistency test: with 2 shards, on different shards.
const TAG_A: &str = "{a}k";
const TAG_B: &str = "{b}k";
/// A key renamed back and forth between the two shards.
const MOVING: [&str; 2] = ["{a}mv", "{b}mv"];

#[test]
fn bgsave_is_a_consistent_cut_and_writes_continue() {
    if target_is_redis() {
        return;
    }
    let table = SlotTable::contiguous(2);
    assert_ne!(
        table.shard_of(TAG_A.as_bytes()),
        table.shard_of(TAG_B.as_bytes()),
        "{TAG_A} and {TAG_B} must live on different shards"
    );
    let dir = TempDir::new("cut");
    let server = start(dir.path(), 2);
    const FILL: usize = 300_000;
    fill(&server, FILL);

    // Writers: MSET of both keys with one version, as fast as replies come; and
    // one that renames a key from shard to shard and back.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let _: () = redis::cmd("SET")
        .arg(MOVING[0])
        .arg("moving")
        .query(&mut server.connection())
        .unwrap();
    let mut writers: Vec<_> = (0..2)
        .map(|w| {
            let (stop, writes) = (stop.clone(), writes.clone());
            let port = server.port();
            std::thread::spawn(move || {
                let mut con = connect(port);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let v = format!("w{w}-v{i}");
                    let _: () = redis::cmd("MSET")
                        .arg(TAG_A)
                        .arg(&v)
                        .arg(TAG_B)
                        .arg(&v)
                        .query(&mut con)
                        .expect("MSET");
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    writers.push({
        let (stop, port) = (stop.clone(), server.port());
        std::thread::spawn(move || {
            let mut con = connect(port);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let _: () = redis::cmd("RENAME")
                    .arg(MOVING[i % 2])
                    .arg(MOVING[1 - i % 2])
                    .query(&mut con)
                    .expect("RENAME");
                i += 1;
            }
        })
    });

    let mut con = server.connection();
    let mut probe = server.connection();
    select(&mut probe, 1); // out of db 0, whose size the copies check
    let mut copies = Vec::new();
    let mut writes_seen_during_save = 0;
    for round in 0..6u64 {
        let w0 = writes.load(Ordering::Relaxed);
        wait_for(Duration::from_secs(10), "writers to make progress", || {
            writes.load(Ordering::Relaxed) > w0 + 200
        });
        let r: String = redis::cmd("BGSAVE").query(&mut con).expect("BGSAVE");
        assert_eq!(r, "Background saving started");
        // The save runs from before that reply until INFO says it ended. A probe
        // write sent now and acknowledged while INFO still says "running" was
        // served during the save.
        let after_reply = writes.load(Ordering::Relaxed);
        let _: () = redis::cmd("SET")
            .arg("probe")
            .arg(round)
            .query(&mut probe)
            .unwrap();
        if info_field(&mut probe, "rdb_bgsave_in_progress") == "1" {
            writes_seen_during_save += 1;
        }
        // So was a writer's MSET counted later (each of the 2 writers may count
        // one reply received before `after_reply` was read, hence the margin).
        let mut writer_seen = false;
        loop {
            let count = writes.load(Ordering::Relaxed);
            if info_field(&mut con, "rdb_bgsave_in_progress") == "0" {
                break;
            }
            if !writer_seen && count > after_reply + 2 {
                writer_seen = true;
                writes_seen_during_save += 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
        assert_eq!(info_num(&mut con, "rdb_saves"), round + 1);
        // Keep this snapshot for loading later.
        let copy = dir.path().join(format!("copy-{round}"));
        std::fs::create_dir(&copy).unwrap();
        let m = manifest(dir.path());
        std::fs::copy(
            dir.path().join("dump.rdb.manifest"),
            copy.join("dump.rdb.manifest"),
        )
        .unwrap();
        for (name, _) in &m.files {
            std::fs::copy(dir.path().join(name), copy.join(name)).unwrap();
        }
        copies.push(copy);
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    eprintln!(
        "{} MSETs; writes seen acknowledged during a BGSAVE in {writes_seen_during_save} \
         observations",
        writes.load(Ordering::Relaxed)
    );
    assert!(
        writes_seen_during_save > 0,
        "no write was acknowledged while a BGSAVE of {FILL} keys ran: do saves block writes?"
    );
    drop((con, probe, server));

    for copy in &copies {
        let server = start(copy, 2);
        let mut con = server.connection();
        let a: Option<String> = redis::cmd("GET").arg(TAG_A).query(&mut con).unwrap();
        let b: Option<String> = redis::cmd("GET").arg(TAG_B).query(&mut con).unwrap();
        assert!(a.is_some(), "{}: {TAG_A} missing", copy.display());
        assert_eq!(a, b, "{}: MSET split by the snapshot", copy.display());
        let moving: Vec<bool> = MOVING
            .iter()
            .map(|k| redis::cmd("EXISTS").arg(*k).query(&mut con).unwrap())
            .collect();
        assert!(
            moving == [true, false] || moving == [false, true],
            "{}: the renamed key exists as {MOVING:?}: {moving:?}",
            copy.display()
        );
        let size = dbsize(&mut con);
        assert_eq!(size, FILL as u64 + 3, "{}: DBSIZE", copy.display());
        let v: String = redis::cmd("GET")
            .arg(format!("fill:{}", FILL - 1))
            .query(&mut con)
            .unwrap();
        assert_eq!(v, format!("value-{}-0123456789abcdef", FILL - 1));
    }
}

#[test]
fn shutdown_and_sigterm_follow_the_save_setting() {
    if target_is_redis() {
        return;
    }
    let write = |server: &TestServer| {
        let mut con = server.connection();
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
        select(&mut con, 5);
        let _: () = redis::cmd("SET")
            .arg("k5")
            .arg("v5")
            .query(&mut con)
            .unwrap();
    };
    let mut want = Dump::new();
    want.insert((0, b"k".to_vec()), (b"v".to_vec(), -1));
    want.insert((5, b"k5".to_vec()), (b"v5".to_vec(), -1));

    // SHUTDOWN SAVE saves even without a schedule.
    let dir = TempDir::new("shutdown-save");
    let mut server = start(dir.path(), 2);
    write(&server);
    shutdown(&mut server, "SAVE");
    assert_eq!(manifest(dir.path()).files.len(), 2);
    assert_same(
        &dump(start(dir.path(), 2).port()),
        &want,
        "after SHUTDOWN SAVE",
    );

    // SIGTERM with a schedule saves.
    let dir = TempDir::new("sigterm-save");
    let mut server = ringkv(dir.path(), 2, &["--save", "3600 1"]).start();
    write(&server);
    server.signal(libc::SIGTERM);
    assert_clean_exit(&mut server, "SIGTERM");
    assert_eq!(manifest(dir.path()).files.len(), 2);
    assert_same(&dump(start(dir.path(), 1).port()), &want, "after SIGTERM");

    // SIGTERM without a schedule does not.
    let dir = TempDir::new("sigterm-nosave");
    let mut server = start(dir.path(), 2);
    write(&server);
    server.signal(libc::SIGTERM);
    assert_clean_exit(&mut server, "SIGTERM");
    assert!(
        snapshot_files(dir.path()).is_empty(),
        "{:?}",
        snapshot_files(dir.path())
    );
    let server = start(dir.path(), 2);
    assert!(dump(server.port()).is_empty());
    drop(server);

    // SHUTDOWN NOSAVE with a schedule does not either.
    let dir = TempDir::new("shutdown-nosave");
    let mut server = ringkv(dir.path(), 2, &["--save", "3600 1"]).start();
    write(&server);
    shutdown(&mut server, "NOSAVE");
    assert!(
        snapshot_files(dir.path()).is_empty(),
        "{:?}",
        snapshot_files(dir.path())
    );
}

#[test]
fn save_schedule_snapshots_after_changes() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("schedule");
    let mut server = ringkv(dir.path(), 2, &["--save", "1 1"]).start();
    let mut con = server.connection();
    let first = lastsave(&mut con);
    assert_eq!(info_num(&mut con, "rdb_saves"), 0);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let _: () = redis::cmd("SET")
        .arg("{a}x")
        .arg("y")
        .query(&mut con)
        .unwrap();
    wait_for(Duration::from_secs(8), "a scheduled save", || {
        info_num(&mut con, "rdb_saves") >= 1
    });
    wait_bgsave_done(&mut con);
    assert!(lastsave(&mut con) > first);
    assert_eq!(info_num(&mut con, "rdb_changes_since_last_save"), 0);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert!(manifest(dir.path()).files.len() == 2);

    // No changes, no more saves.
    let saves = info_num(&mut con, "rdb_saves");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        info_num(&mut con, "rdb_saves"),
        saves,
        "saved without changes"
    );

    drop(con);
    kill9(&mut server);
    let server = start(dir.path(), 2);
    let mut want = Dump::new();
    want.insert((0, b"k".to_vec()), (b"v".to_vec(), -1));
    want.insert((0, b"{a}x".to_vec()), (b"y".to_vec(), -1));
    assert_same(&dump(server.port()), &want, "after the scheduled save");
}
