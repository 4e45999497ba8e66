//! Snapshots (RDB) through the real binary. SAVE, BGSAVE (and BGSAVE SCHEDULE),
//! SHUTDOWN SAVE, SIGTERM with a save schedule and the `save` schedule itself write
//! `<dbfilename>.manifest` plus one Redis RDB v10 file per shard into `--dir`; a
//! restart, with the same or another `--threads`, holds exactly the saved keys, values
//! and absolute expiry times. Also: LASTSAVE and the INFO persistence counters;
//! corrupt or truncated shard files stop start-up with exit 1 naming the file and
//! an offset. Interop with redis-server and BGSAVE under writers are in
//! `tests/snapshot_interop.rs`.
//!
//! ringkv only: `RINGKV_TEST_TARGET=redis` skips these. Every server gets its own
//! temporary `--dir` (kept on failure for inspection); servers are killed on drop.

mod common;

use common::persist::*;
use common::snapshot::*;
use common::{resp, show, target_is_redis, TestServer};
use ringkv::slot::SlotTable;
use std::time::Duration;

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

/// The two hashtags of the consistency test: with 2 shards, on different shards.

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
