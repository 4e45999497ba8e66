//! The append-only file through the real binary (`--appendonly yes`): the per-shard
//! layout under `<dir>/<appenddirname>/` (manifest, `.base.rdb` and `.incr.aof`
//! files); replay after `kill -9` of every kind of write (string commands, expiry,
//! cross-shard MSET / RENAME / COPY, MULTI/EXEC, FLUSHDB, FLUSHALL, SWAPDB, several
//! dbs), also into another `--threads`; a torn last record is trimmed with a warning
//! while corruption in the middle stops start-up naming file and offset; the
//! automatic rewrite after growth. Crash trials and BGREWRITEAOF under writers are
//! in `tests/aof_crash.rs`.
//!
//! ringkv only: `RINGKV_TEST_TARGET=redis` skips these. Every server gets its own
//! temporary `--dir` (kept on failure for inspection); servers are killed on drop.

mod common;

use common::aof::*;
use common::persist::*;

use common::{target_is_redis, TestServer};
use std::collections::BTreeSet;
use std::time::Duration;

// ---------------------------------------------------------------- tests

#[test]
fn aof_files_follow_the_manifest_layout() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("layout");
    let server = aof_ringkv(
        dir.path(),
        2,
        &["--appenddirname", "aofs", "--appendfilename", "log.aof"],
    )
    .start();
    let mut con = server.connection();
    assert_eq!(info_field(&mut con, "aof_enabled"), "1");
    for i in 0..500 {
        run(&mut con, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let aof_dir = dir.path().join("aofs");
    let m = read_aof_manifest(&aof_dir, "log.aof");
    assert_eq!(m.shards, 2, "{m:?}");
    for s in 0..2 {
        assert!(
            m.files.iter().any(|f| f.shard == s && f.kind == 'i'),
            "shard {s} has no incr file: {m:?}"
        );
    }

    let r: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(r, "Background append only file rewriting started");
    wait_for(Duration::from_secs(30), "the rewrite", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "ok");
    let m = read_aof_manifest(&aof_dir, "log.aof");
    assert_eq!(m.of_kind('b').count(), 2, "one base per shard: {m:?}");
    for f in m.of_kind('b') {
        check_rdb(&aof_dir.join(&f.name));
    }

    // A write after the rewrite shows up as RESP in an incr file.
    run(
        &mut con,
        &["SET", "after-rewrite-key", "after-rewrite-value"],
    );
    wait_for(Duration::from_secs(5), "the write in an incr file", || {
        let m = read_aof_manifest(&aof_dir, "log.aof");
        let found = m.of_kind('i').any(|f| {
            let bytes = std::fs::read(aof_dir.join(&f.name)).unwrap_or_default();
            bytes.windows(17).any(|w| w == b"after-rewrite-key")
        });
        found
    });
    assert_only_manifest_files(&aof_dir, "log.aof");
    assert!(
        !dir.path().join("appendonlydir").exists(),
        "--appenddirname ignored"
    );
}

#[test]
fn always_replays_every_write_kind_after_kill_9() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("kinds");
    let mut server = start_always(dir.path(), 2);
    let mut con = server.connection();
    let far = (now_ms() + DAY_MS).to_string();
    run(&mut con, &["SET", "junk", "x"]);
    select(&mut con, 7);
    run(&mut con, &["SET", "junk7", "x"]);
    run(&mut con, &["FLUSHALL"]);
    select(&mut con, 0);
    for args in [
        &["SET", "s", "hello"][..],
        &["APPEND", "s", " world"],
        &["APPEND", "appended", "abc"],
        &["SET", "n", "10"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["DECR", "n"],
        &["DECRBY", "n", "3"],
        &["INCR", "fresh-counter"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["INCRBYFLOAT", "f", "1e3"],
        &["SET", "r", "Hello World"],
        &["SETRANGE", "r", "6", "Redis"],
        &["SETRANGE", "padded", "5", "x"],
        &["SET", "d1", "x"],
        &["DEL", "d1"],
        &["SET", "d2", "x"],
        &["SET", "{a}d3", "x"],
        &["DEL", "d2", "{a}d3", "{b}never"],
        &["SET", "{a}g", "x"],
        &["GETDEL", "{a}g"],
        &["SET", "u", "x"],
        &["UNLINK", "u"],
        &["GETSET", "gs", "new"],
        &["SETNX", "nx", "1"],
        &["SETNX", "nx", "2"],
        &["SET", "e-ex", "v", "EX", "1000"],
        &["SET", "e-px", "v", "PX", "2000000"],
        &["SETEX", "e-setex", "500", "v"],
        &["PSETEX", "e-psetex", "900000", "v"],
        &["SET", "e-expire", "v"],
        &["EXPIRE", "e-expire", "700"],
        &["SET", "e-persist", "v"],
        &["EXPIRE", "e-persist", "100"],
        &["PERSIST", "e-persist"],
        &["SET", "e-at", "v"],
        &["PEXPIREAT", "e-at", &far],
        &["SET", "e-getex", "v"],
        &["GETEX", "e-getex", "EX", "300"],
        &["SET", "e-getex-persist", "v", "EX", "100"],
        &["GETEX", "e-getex-persist", "PERSIST"],
        &["SET", "e-keepttl", "v", "EX", "100"],
        &["SET", "e-keepttl", "v2", "KEEPTTL"],
        &["SET", "e-short", "v", "PX", "150"],
        &["SET", "e-float", "1.5", "EX", "1000"],
        &["INCRBYFLOAT", "e-float", "1"],
        &["MSET", "{a}m", "1", "{b}m", "2", "plain-m", "3"],
        &["MSETNX", "{a}mx", "1", "{b}mx", "2"],
        &["SET", "{a}src", "moved", "EX", "5000"],
        &["RENAME", "{a}src", "{b}dst"],
        &["SET", "{a}rn", "1"],
        &["RENAMENX", "{a}rn", "{b}rn2"],
        &["SET", "{b}c1", "copied"],
        &["COPY", "{b}c1", "{a}c2"],
        &["COPY", "{b}c1", "c3", "DB", "4"],
    ] {
        run(&mut con, args);
    }
    select(&mut con, 1);
    run(&mut con, &["SET", "a", "1"]);
    run(&mut con, &["SET", "{b}b", "2"]);
    run(&mut con, &["FLUSHDB"]);
    run(&mut con, &["SET", "after-flushdb", "yes"]);
    select(&mut con, 0);
    run(&mut con, &["MULTI"]);
    run(&mut con, &["SET", "tx1", "1"]);
    run(&mut con, &["INCR", "tx1"]);
    run(&mut con, &["SET", "{b}tx2", "2"]);
    run(&mut con, &["DEL", "{a}m"]);
    run(&mut con, &["EXEC"]);
    select(&mut con, 5);
    run(&mut con, &["MULTI"]);
    run(&mut con, &["SET", "{a}t5", "x", "PXAT", &far]);
    run(&mut con, &["SET", "{b}t5", "y"]);
    run(&mut con, &["EXEC"]);
    select(&mut con, 0);
    wait_for(Duration::from_secs(5), "e-short to expire", || {
        let v: Option<String> = redis::cmd("GET").arg("e-short").query(&mut con).unwrap();
        v.is_none()
    });

    let want = dump(server.port());
    // Spot checks that the writes did what they should before comparing replays.
    let get = |db: u32, k: &str| want.get(&(db, k.as_bytes().to_vec())).map(|e| e.0.clone());
    assert_eq!(get(0, "s").as_deref(), Some(&b"hello world"[..]));
    assert_eq!(get(0, "n").as_deref(), Some(&b"12"[..]));
    assert!(get(0, "f").unwrap().starts_with(b"1001.")); // 1001.59999999999999998
    assert_eq!(get(0, "e-float").as_deref(), Some(&b"2.5"[..]));
    assert!(
        want[&(0, b"e-float".to_vec())].1 > 0,
        "INCRBYFLOAT kept the TTL"
    );
    assert_eq!(get(0, "padded").as_deref(), Some(&b"\0\0\0\0\0x"[..]));
    assert_eq!(get(0, "{b}dst").as_deref(), Some(&b"moved"[..]));
    assert_eq!(get(4, "c3").as_deref(), Some(&b"copied"[..]));
    assert_eq!(get(1, "after-flushdb").as_deref(), Some(&b"yes"[..]));
    assert_eq!(get(0, "e-short"), None);
    assert_eq!(get(0, "junk"), None);
    assert!(
        want[&(0, b"e-keepttl".to_vec())].1 > 0,
        "KEEPTTL kept the TTL"
    );
    assert_eq!(want.keys().filter(|k| k.0 == 1).count(), 1);

    drop(con);
    kill9(&mut server);
    let mut server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "replay after kill -9");

    // The replayed AOF takes further writes.
    let mut con = server.connection();
    run(&mut con, &["SET", "after-restart", "1"]);
    run(&mut con, &["DEL", "n"]);
    drop(con);
    kill9(&mut server);
    let server = start_always(dir.path(), 2);
    let mut want2 = want.clone();
    want2.insert((0, b"after-restart".to_vec()), (b"1".to_vec(), -1));
    want2.remove(&(0, b"n".to_vec()));
    assert_same(&dump(server.port()), &want2, "second replay");
}

#[test]
fn swapdb_is_replayed() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("swapdb");
    let mut server = start_always(dir.path(), 2);
    let mut con = server.connection();
    select(&mut con, 2);
    run(&mut con, &["SET", "in2", "two"]);
    run(&mut con, &["SET", "{a}in2", "two-a"]);
    select(&mut con, 3);
    run(&mut con, &["SET", "in3", "three"]);
    run(&mut con, &["SWAPDB", "2", "3"]);
    run(&mut con, &["SET", "after-swap", "in db 3"]);
    let want = dump(server.port());
    assert!(want.contains_key(&(3, b"in2".to_vec())), "{want:?}");
    assert!(want.contains_key(&(2, b"in3".to_vec())), "{want:?}");
    drop(con);
    kill9(&mut server);
    let server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "SWAPDB replayed");
}

#[test]
fn a_transaction_missing_a_part_is_not_replayed_at_all() {
    // What a power loss can leave under everysec: one shard's file lost its
    // tail (its part of a cross-shard MSET and its commit record) while the
    // other shard's file kept both. Replay must drop the whole transaction.
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("lost-part");
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "everysec"]).start();
    let mut con = server.connection();
    run(&mut con, &["SET", "{a}x", "old"]);
    run(&mut con, &["SET", "{b}x", "old"]);
    run(&mut con, &["MSET", "{a}x", "new", "{b}x", "new"]);
    drop(con);
    stop_cleanly(&mut server);
    // Cut the tail of the incr file holding {b}x's new value at its group.
    let m = aof_manifest(&dir);
    let mut cut = 0;
    for f in m.of_kind('i') {
        let path = dir.aof_dir().join(&f.name);
        let bytes = std::fs::read(&path).unwrap();
        let holds_b = bytes.windows(4).any(|w| w == b"{b}x");
        let group = bytes.windows(4).rposition(|w| w == b"#TX ");
        if let (true, Some(at)) = (holds_b, group) {
            std::fs::write(&path, &bytes[..at]).unwrap();
            cut += 1;
        }
    }
    assert_eq!(cut, 1, "exactly one file holds {{b}}x's part");
    let server = aof_ringkv(dir.path(), 2, &[]).start();
    let mut con = server.connection();
    let got: (String, String) = redis::cmd("MGET")
        .arg("{a}x")
        .arg("{b}x")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        got,
        ("old".to_string(), "old".to_string()),
        "half an MSET replayed"
    );
}

#[test]
fn torn_tail_is_trimmed_and_mid_file_corruption_stops_startup() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("torn");
    let mut server = start_always(dir.path(), 2);
    let mut con = server.connection();
    for i in 0..300 {
        run(&mut con, &["SET", &format!("k:{i}"), &format!("value-{i}")]);
        if i % 10 == 0 {
            run(
                &mut con,
                &[
                    "MSET",
                    &format!("{{a}}p{i}"),
                    "pa",
                    &format!("{{b}}p{i}"),
                    "pb",
                ],
            );
        }
    }
    let want = dump(server.port());
    drop(con);
    stop_cleanly(&mut server);

    // A record cut short, as a crash in the middle of a write leaves it.
    let (name, path) = largest_incr(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk");
    std::fs::write(&path, &bytes).unwrap();
    let mut server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "after trimming the torn tail");
    let log = server.log();
    assert!(
        log.to_lowercase().contains("trim"),
        "no warning about trimming {name}:\n{log}"
    );
    // Writes after the trim land after the last good record.
    let mut con = server.connection();
    run(&mut con, &["SET", "after-trim", "1"]);
    drop(con);
    kill9(&mut server);
    let mut server = start_always(dir.path(), 2);
    let mut want2 = want.clone();
    want2.insert((0, b"after-trim".to_vec()), (b"1".to_vec(), -1));
    assert_same(&dump(server.port()), &want2, "writes after the trim");
    stop_cleanly(&mut server);

    // Garbage over the start of a record in the middle of a file.
    let (name, path) = largest_incr(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    let at = bytes
        .windows(3)
        .enumerate()
        .filter(|(_, w)| w == b"\r\n*")
        .map(|(i, _)| i + 2)
        .min_by_key(|&i| i.abs_diff(middle))
        .expect("a record start");
    assert!(at + 100 < bytes.len(), "record at {at} of {}", bytes.len());
    bytes[at..at + 4].copy_from_slice(b"!!!!");
    std::fs::write(&path, &bytes).unwrap();
    let log = expect_aof_start_failure(dir.path(), 2);
    assert!(
        log.contains(name.as_str()) && log.contains("offset"),
        "the error must name {name} and an offset:\n{log}"
    );
}

#[test]
fn automatic_rewrite_after_growth() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("auto-rewrite");
    let args = [
        "--auto-aof-rewrite-min-size",
        "1048576",
        "--auto-aof-rewrite-percentage",
        "100",
    ];
    let mut server = aof_ringkv(dir.path(), 2, &args).start();
    let first = aof_manifest(&dir);
    let mut con = server.connection();
    let mut want = Dump::new();
    for round in 0..400 {
        let mut p = redis::pipe();
        for i in 0..100 {
            let v = format!("round-{round}-{i}-{}", "q".repeat(100));
            p.cmd("SET").arg(format!("k{i}")).arg(&v).ignore();
            want.insert((0, format!("k{i}").into_bytes()), (v.into_bytes(), -1));
        }
        p.query::<()>(&mut con).unwrap();
    }
    let first_bases: BTreeSet<_> = first.of_kind('b').map(|f| f.name.clone()).collect();
    wait_for(Duration::from_secs(30), "an automatic rewrite", || {
        aof_manifest(&dir)
            .of_kind('b')
            .any(|f| !first_bases.contains(&f.name))
    });
    wait_for(Duration::from_secs(30), "the rewrite to finish", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    drop(con);
    stop_cleanly(&mut server);
    let server = aof_ringkv(dir.path(), 2, &args).start();
    assert_same(&dump(server.port()), &want, "after the automatic rewrite");
}

#[test]
fn restart_with_other_thread_counts_replays_aof() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("threads");
    let far = now_ms() + DAY_MS;
    let write = |server: &TestServer, tag: &str| {
        let mut con = server.connection();
        let mut p = redis::pipe();
        for i in 0..2000u64 {
            let k = format!("{tag}:{i}");
            p.cmd("SET").arg(&k).arg(format!("{tag}-{i}")).ignore();
            if i % 3 == 0 {
                p.cmd("PEXPIREAT").arg(&k).arg(far + i).ignore();
            }
        }
        p.query::<()>(&mut con).unwrap();
        run(
            &mut con,
            &[
                "MSET",
                &format!("{{a}}{tag}"),
                "1",
                &format!("{{b}}{tag}"),
                "2",
            ],
        );
        run(&mut con, &["DEL", &format!("{tag}:1"), &format!("{tag}:2")]);
        select(&mut con, 3);
        run(&mut con, &["SET", &format!("db3-{tag}"), tag]);
        run(&mut con, &["MULTI"]);
        run(&mut con, &["INCR", "db3-counter"]);
        run(&mut con, &["SET", &format!("{{a}}tx-{tag}"), tag]);
        run(&mut con, &["EXEC"]);
    };

    let mut server = start_always(dir.path(), 2);
    write(&server, "two");
    let mut want = dump(server.port());
    kill9(&mut server);
    for (threads, tag) in [(1, "one"), (4, "four"), (3, "three")] {
        let mut server = start_always(dir.path(), threads);
        assert_same(
            &dump(server.port()),
            &want,
            &format!("replay into --threads {threads}"),
        );
        write(&server, tag);
        want = dump(server.port());
        kill9(&mut server);
    }
    // A rewrite by 3 shards, replayed by 2.
    let mut server = start_always(dir.path(), 3);
    let mut con = server.connection();
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    wait_for(Duration::from_secs(30), "the rewrite", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(aof_manifest(&dir).shards, 3);
    drop(con);
    kill9(&mut server);
    let server = start_always(dir.path(), 2);
    assert_same(&dump(server.port()), &want, "rewritten by 3, replayed by 2");
}
