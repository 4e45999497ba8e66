//! Snapshots against Redis and under load, through the real binary: shard files
//! pass `redis-check-rdb` and load into redis-server 7.0 with exactly their
//! shard's keys; ringkv loads redis-server's own dump.rdb (LZF, integers, TTLs,
//! an already-expired key skipped); leftovers of a crash mid-save leave the
//! previous snapshot loadable; BGSAVE is one consistent cut across shards (a
//! cross-shard MSET or RENAME is never half in it) and writes keep being
//! answered while it runs; big collections are encoded a slice at a time while
//! writes to them wait, and the cut still holds them as they were.
//!
//! ringkv only: `RINGKV_TEST_TARGET=redis` skips these. Every server gets its own
//! temporary `--dir` (kept on failure for inspection); servers are killed on drop.

mod common;

use common::persist::*;
use common::snapshot::*;
use common::{resp, show, target_is_redis};
use ringkv::slot::SlotTable;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TAG_A: &str = "{a}k";
const TAG_B: &str = "{b}k";
/// A key renamed back and forth between the two shards.
const MOVING: [&str; 2] = ["{a}mv", "{b}mv"];

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

/// A BGSAVE of collections big enough to be encoded a slice at a time
/// (shard/snapshot.rs): writes to them pipelined right after BGSAVE wait
/// for their value's encoding and are then applied; the file holds the
/// values as of the cut; other commands are served meanwhile. One key per
/// shard, so one write is a local command and the other a peer's batch.
#[test]
fn bgsave_of_big_collections_keeps_the_cut_while_their_writes_wait() {
    if target_is_redis() {
        return;
    }
    const N: usize = 40_000;
    let (hash, set) = ("{a}bigh", "{b}bigs");
    let dir = TempDir::new("big-cut");
    let mut server = start(dir.path(), 2);
    let mut c = server.raw();
    let mut hset: Vec<String> = vec!["HSET".into(), hash.into()];
    let mut sadd: Vec<String> = vec!["SADD".into(), set.into()];
    for i in 0..N {
        hset.extend([format!("f{i}"), format!("v{i}")]);
        sadd.push(format!("m{i}"));
    }
    assert_eq!(c.cmd(&hset), format!(":{N}\r\n").into_bytes());
    assert_eq!(c.cmd(&sadd), format!(":{N}\r\n").into_bytes());

    let mut pipeline = resp(&["BGSAVE"]);
    for cmd in [
        &["HSET", hash, "new", "1"][..],
        &["SADD", set, "new"],
        &["HLEN", hash],
        &["SCARD", set],
    ] {
        pipeline.extend(resp(cmd));
    }
    c.send(&pipeline);
    let replies: Vec<Vec<u8>> = (0..5).map(|_| c.reply()).collect();
    let after = N + 1;
    assert_eq!(
        replies.iter().map(|r| show(r)).collect::<Vec<_>>(),
        [
            "+Background saving started\r\n".to_string(),
            ":1\r\n".into(),
            ":1\r\n".into(),
            format!(":{after}\r\n"),
            format!(":{after}\r\n"),
        ]
        .map(|s| show(s.as_bytes()))
    );
    let mut con = server.connection();
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    for f in snapshot_files(dir.path()) {
        if f.ends_with(".rdb") {
            check_rdb(&dir.path().join(f));
        }
    }
    shutdown(&mut server, "NOSAVE");

    let server = start(dir.path(), 1);
    let mut c = server.raw();
    let n = format!(":{N}\r\n").into_bytes();
    assert_eq!(c.cmd(&["HLEN", hash]), n);
    assert_eq!(c.cmd(&["SCARD", set]), n);
    assert_eq!(c.cmd(&["HEXISTS", hash, "new"]), b":0\r\n");
    assert_eq!(c.cmd(&["SISMEMBER", set, "new"]), b":0\r\n");
    assert_eq!(c.cmd(&["HGET", hash, "f39999"]), b"$6\r\nv39999\r\n");
    assert_eq!(c.cmd(&["SISMEMBER", set, "m0"]), b":1\r\n");
}
