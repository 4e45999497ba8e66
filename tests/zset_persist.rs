//! Sorted sets persisted: a redis-server 7.0 dump.rdb with sorted sets of
//! both encodings loads into ringkv (same members, scores and encodings),
//! DUMP payloads go both ways, ringkv's own snapshot passes
//! `redis-check-rdb` and loads in redis-server; under the AOF every write
//! (pops, blocking pops served by a ZADD, STORE forms across shards, range
//! removals) replays to the same sets after kill -9, with another shard
//! count, and after BGREWRITEAOF.

mod common;

use common::persist::*;
use common::snapshot::*;
use common::{show, target_is_redis, RawConn, RedisServer};
use std::time::Duration;

/// Sorted sets in a server: packed ones (integers, strings, binary, the
/// special scores), a big one (skiplist), one with a member too long to
/// pack, one with a TTL.
fn fill(r: &mut RawConn) {
    let ok = |reply: Vec<u8>| assert!(reply.starts_with(b":"), "{}", show(&reply));
    ok(r.cmd(&[
        "ZADD", "small", "1", "a", "2", "12", "-7", "-7", "inf", "top", "-inf", "low",
    ]));
    ok(r.cmd(&[
        &b"ZADD"[..],
        b"bin",
        b"1.5",
        b"\x00\xff\r\n",
        b"-0",
        b"z",
        b"1e300",
        b"",
    ]));
    let mut big: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..300 {
        big.push(format!("{}", (i * 7919) % 1000) + ".25");
        big.push(format!("member:{i}"));
    }
    ok(r.cmd(&big));
    ok(r.cmd(&["ZADD", "long", "3", &"L".repeat(100), "1", "short"]));
    ok(r.cmd(&["ZADD", "ttl", "5", "v"]));
    assert_eq!(r.cmd(&["PEXPIREAT", "ttl", "99999999999999"]), b":1\r\n");
}

const KEYS: &[&str] = &["small", "bin", "big", "long", "ttl"];

fn zrange(r: &mut RawConn, key: &str) -> Vec<u8> {
    r.cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

fn bulk(reply: &[u8]) -> Vec<u8> {
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    reply[start..reply.len() - 2].to_vec()
}

#[test]
fn redis_zsets_load_save_and_dump_both_ways() {
    if target_is_redis() {
        return;
    }
    let rdir = TempDir::new("zset-redis-dump");
    let redis = Redis::start(rdir.path(), "dump.rdb");
    let mut r = RawConn::connect(redis.port);
    fill(&mut r);
    let want: Vec<Vec<u8>> = KEYS.iter().map(|k| zrange(&mut r, k)).collect();
    let encodings: Vec<Vec<u8>> = KEYS
        .iter()
        .map(|k| r.cmd(&["OBJECT", "ENCODING", k]))
        .collect();
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");

    // ringkv loads Redis's file and holds the same sets, encoded alike.
    let mut server = ringkv(rdir.path(), 2, &["--dbfilename", "dump.rdb"]).start();
    let mut k = RawConn::connect(server.port());
    for ((key, want), enc) in KEYS.iter().zip(&want).zip(&encodings) {
        assert_eq!(k.cmd(&["TYPE", key]), b"+zset\r\n", "{key}");
        assert_eq!(
            show(&k.cmd(&["OBJECT", "ENCODING", key])),
            show(enc),
            "{key}"
        );
        assert_eq!(show(&zrange(&mut k, key)), show(want), "{key}");
    }
    assert_eq!(k.cmd(&["PEXPIRETIME", "ttl"]), b":99999999999999\r\n");

    // DUMP both ways, byte for byte where the encodings agree (ringkv
    // writes no LZF strings: compare with Redis's uncompressed form).
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "rdbcompression", "no"]),
        b"+OK\r\n"
    );
    let other = RedisServer::start();
    let mut o = RawConn::connect(other.port());
    for (key, want) in KEYS.iter().zip(&want) {
        let ours = bulk(&k.cmd(&["DUMP", key]));
        let theirs = bulk(&r.cmd(&["DUMP", key]));
        assert_eq!(show(&ours), show(&theirs), "{key}: DUMP payloads");
        assert_eq!(
            o.cmd(&[b"RESTORE", key.as_bytes(), b"0", &ours[..]]),
            b"+OK\r\n"
        );
        assert_eq!(show(&zrange(&mut o, key)), show(want), "{key} via DUMP");
        let copy = format!("{key}-copy");
        assert_eq!(
            k.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &theirs[..]]),
            b"+OK\r\n"
        );
        assert_eq!(show(&zrange(&mut k, &copy)), show(want), "{key} restored");
    }

    // ringkv's own snapshot: valid for redis-check-rdb, loaded by redis-server.
    let kdir = TempDir::new("zset-ringkv-save");
    drop(k);
    shutdown(&mut server, "NOSAVE");
    let mut saver = ringkv(kdir.path(), 1, &[]).start();
    let mut s = RawConn::connect(saver.port());
    fill(&mut s);
    assert_eq!(s.cmd(&["SAVE"]), b"+OK\r\n");
    let files: Vec<String> = snapshot_files(kdir.path())
        .into_iter()
        .filter(|f| f.ends_with(".rdb"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    check_rdb(&kdir.path().join(&files[0]));
    shutdown(&mut saver, "NOSAVE");
    std::fs::rename(kdir.path().join(&files[0]), kdir.path().join("dump.rdb")).unwrap();
    let loaded = Redis::start(kdir.path(), "dump.rdb");
    let mut l = RawConn::connect(loaded.port);
    for (key, want) in KEYS.iter().zip(&want) {
        assert_eq!(
            show(&zrange(&mut l, key)),
            show(want),
            "{key} from ringkv's file"
        );
    }
}

/// Every sorted-set write under the AOF, with keys on several shards:
/// after kill -9 (restarted with another shard count) and after a rewrite
/// the server holds the same sets.
#[test]
fn zsets_survive_the_aof_and_its_rewrite() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("zset-aof");
    let mut server = aof_ringkv(dir.path(), 2, &[]).start();
    let mut k = RawConn::connect(server.port());
    fill(&mut k);
    let steps: &[&[&str]] = &[
        &["ZINCRBY", "small", "2.5", "a"],
        &["ZADD", "small", "GT", "CH", "0", "a", "9", "12"],
        &["ZPOPMIN", "big", "3"],
        &["ZPOPMAX", "small"],
        &["ZMPOP", "2", "nokey", "big", "MAX", "COUNT", "2"],
        &["ZREMRANGEBYSCORE", "big", "(100", "200.25"],
        &["ZREMRANGEBYRANK", "big", "0", "4"],
        &["ZREM", "long", "short"],
        &[
            "ZUNIONSTORE",
            "u",
            "3",
            "small",
            "big",
            "bin",
            "WEIGHTS",
            "1",
            "2",
            "3",
        ],
        &["ZINTERSTORE", "i", "2", "big", "u", "AGGREGATE", "MAX"],
        &["ZDIFFSTORE", "d", "2", "big", "small"],
        &[
            "ZRANGESTORE",
            "rs",
            "big",
            "(300",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "1",
            "20",
        ],
        &["ZADD", "lx", "0", "a", "0", "b", "0", "c", "0", "d"],
        &["ZREMRANGEBYLEX", "lx", "[b", "(d"],
    ];
    for argv in steps {
        let r = k.cmd(argv);
        assert!(!r.starts_with(b"-"), "{argv:?}: {}", show(&r));
    }
    // A blocking pop served by a later ZADD.
    let mut w = RawConn::connect(server.port());
    w.send(&common::resp(&["BZPOPMIN", "served", "0"]));
    wait_for(Duration::from_secs(5), "the waiter", || {
        let info = String::from_utf8_lossy(&k.cmd(&["INFO", "clients"])).into_owned();
        info.contains("blocked_clients:1\r\n")
    });
    assert_eq!(
        k.cmd(&["ZADD", "served", "2", "second", "1", "first"]),
        b":2\r\n"
    );
    assert_eq!(
        show(&w.reply()),
        show(b"*3\r\n$6\r\nserved\r\n$5\r\nfirst\r\n$1\r\n1\r\n")
    );
    let keys = [
        "small", "bin", "big", "long", "ttl", "u", "i", "d", "rs", "lx", "served",
    ];
    let state = |k: &mut RawConn| -> Vec<String> {
        let mut out: Vec<String> = keys.iter().map(|key| show(&zrange(k, key))).collect();
        for key in keys {
            out.push(show(&k.cmd(&["OBJECT", "ENCODING", key])));
        }
        out
    };
    let want = state(&mut k);
    kill9(&mut server);
    let mut server = aof_ringkv(dir.path(), 3, &[]).start();
    let mut k = RawConn::connect(server.port());
    assert_eq!(state(&mut k), want, "after kill -9");
    assert_eq!(k.cmd(&["PEXPIRETIME", "ttl"]), b":99999999999999\r\n");
    assert!(k.cmd(&["BGREWRITEAOF"]).starts_with(b"+"));
    let mut con = server.connection();
    wait_for(Duration::from_secs(30), "the AOF rewrite", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
            && info_field(&mut con, "aof_last_bgrewrite_status") == "ok"
    });
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 1, &[]).start();
    let mut k = RawConn::connect(server.port());
    let ranges = |v: &[String]| v[..keys.len()].to_vec();
    assert_eq!(ranges(&state(&mut k)), ranges(&want), "after the rewrite");
}
