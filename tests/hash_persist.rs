//! Hashes through DUMP/RESTORE, RDB snapshots and the AOF, against
//! redis-server 7.0 where it has the other end:
//!
//! - DUMP in redis-server → RESTORE in ringkv and back, both encodings; a
//!   listpack payload is byte-identical to Redis's (with `rdbcompression no`
//!   on the Redis side, since ringkv writes no LZF), and Redis's compressed
//!   payloads restore too; corrupt payloads are refused as Redis refuses
//!   them with `sanitize-dump-payload yes`.
//! - SAVE and restart keeps hashes (contents, encodings, TTLs); the shard
//!   files pass `redis-check-rdb`; redis-server's own dump.rdb with hashes of
//!   both encodings loads.
//! - The AOF replays hash writes (HINCRBYFLOAT journaled as HSET).

mod common;

use common::persist::*;
use common::snapshot::*;
use common::{show, target_is_redis, RawConn, RedisServer, TestServer};
use std::collections::BTreeMap;

type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

/// Builds the test hashes: small listpacks (ints, strings, binary, empty)
/// and a 600-field hashtable, plus one with a TTL.
fn fill(c: &mut RawConn) {
    let ok = |r: Vec<u8>| assert!(r.starts_with(b":") || r == b"+OK\r\n", "{}", show(&r));
    ok(c.cmd(&[
        "HSET",
        "lp",
        "f",
        "v",
        "n",
        "5",
        "neg",
        "-4097",
        "big",
        "9223372036854775807",
    ]));
    ok(c.cmd(&[
        &b"HSET"[..],
        b"bin",
        b"\x00\xff",
        b"",
        b"",
        b"\r\n",
        b"1234567890123456789",
        b"0",
    ]));
    ok(c.cmd(&["HSET", "one", "only", "1"]));
    let mut argv: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"table".to_vec()];
    for i in 0..600 {
        argv.push(format!("field:{i}").into_bytes());
        argv.push(
            if i % 2 == 0 {
                i.to_string()
            } else {
                format!("value {i}")
            }
            .into_bytes(),
        );
    }
    ok(c.cmd(&argv));
    ok(c.cmd(&["HSET", "ttl", "a", "1"]));
    ok(c.cmd(&["PEXPIRE", "ttl", "86400000"]));
}

const KEYS: &[&str] = &["lp", "bin", "one", "table", "ttl"];

fn contents(c: &mut RawConn, key: &str) -> Contents {
    let reply = c.cmd(&["HGETALL", key]);
    let mut out = Contents::new();
    let mut items = Vec::new();
    let mut pos = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    while pos < reply.len() {
        let end = pos + reply[pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let n: usize = std::str::from_utf8(&reply[pos + 1..end])
            .unwrap()
            .parse()
            .unwrap();
        items.push(reply[end + 2..end + 2 + n].to_vec());
        pos = end + 4 + n;
    }
    for p in items.chunks(2) {
        out.insert(p[0].clone(), p[1].clone());
    }
    out
}

fn encoding(c: &mut RawConn, key: &str) -> Vec<u8> {
    c.cmd(&["OBJECT", "ENCODING", key])
}

fn bulk(reply: &[u8]) -> Vec<u8> {
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    reply[start..reply.len() - 2].to_vec()
}

#[test]
fn dump_and_restore_both_ways() {
    if target_is_redis() {
        return;
    }
    let redis = RedisServer::start();
    let ringkv = TestServer::start(2);
    let (mut r, mut k) = (
        RawConn::connect(redis.port()),
        RawConn::connect(ringkv.port()),
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "rdbcompression", "no"]),
        b"+OK\r\n"
    );
    fill(&mut r);
    fill(&mut k);
    for key in KEYS {
        let (rd, kd) = (bulk(&r.cmd(&["DUMP", key])), bulk(&k.cmd(&["DUMP", key])));
        if encoding(&mut r, key) == b"$8\r\nlistpack\r\n" {
            assert_eq!(show(&kd), show(&rd), "DUMP {key}: listpack payloads");
        }
        // Redis's payload restores here, ours restores there.
        let copy = format!("{key}-copy");
        assert_eq!(
            k.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &rd[..]]),
            b"+OK\r\n"
        );
        assert_eq!(
            r.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &kd[..]]),
            b"+OK\r\n"
        );
        for (c, what) in [(&mut r, "redis"), (&mut k, "ringkv")] {
            let (a, b) = (contents(c, key), contents(c, &copy));
            assert_eq!(a, b, "{what}: {key} restored");
            assert_eq!(
                encoding(c, key),
                encoding(c, &copy),
                "{what}: {key} encoding"
            );
        }
    }
    // Redis's LZF-compressed payloads restore too.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "rdbcompression", "yes"]),
        b"+OK\r\n"
    );
    for key in ["lp", "table"] {
        let rd = bulk(&r.cmd(&["DUMP", key]));
        assert_eq!(
            k.cmd(&[b"RESTORE", b"lzf".as_slice(), b"0", &rd, b"REPLACE"]),
            b"+OK\r\n"
        );
        assert_eq!(contents(&mut k, "lzf"), contents(&mut r, key), "LZF {key}");
    }
}

#[test]
fn corrupt_payloads_are_refused_like_redis() {
    if target_is_redis() {
        return;
    }
    let redis = RedisServer::start();
    let ringkv = TestServer::start(1);
    let (mut r, mut k) = (
        RawConn::connect(redis.port()),
        RawConn::connect(ringkv.port()),
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "rdbcompression", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "sanitize-dump-payload", "yes"]),
        b"+OK\r\n"
    );
    r.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    let good = bulk(&r.cmd(&["DUMP", "h"]));
    // Re-seal a changed body with a valid footer (version + CRC64 Jones).
    let seal = |body: &[u8]| -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&10u16.to_le_bytes());
        let crc = ringkv::persist::rdb::crc64::crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    let body = &good[..good.len() - 10];
    let mut cases: Vec<Vec<u8>> = Vec::new();
    // A duplicate field: listpack of a, 1, a, 2.
    let mut dup = body.to_vec();
    let at = dup.windows(2).position(|w| w == [0x81, b'b']).unwrap();
    dup[at + 1] = b'a';
    cases.push(seal(&dup));
    // An odd element count, a wrong total, truncation.
    let mut odd = body.to_vec();
    odd[6] = 3; // header count (after type byte + 1-byte string length)
    cases.push(seal(&odd));
    let mut total = body.to_vec();
    total[2] = 99;
    cases.push(seal(&total));
    cases.push(seal(&body[..body.len() - 3]));
    // Type 4 with a duplicate field, and an empty one.
    cases.push(seal(&[4, 2, 1, b'a', 1, b'x', 1, b'a', 1, b'y']));
    cases.push(seal(&[4, 0]));
    for (i, payload) in cases.iter().enumerate() {
        let args: [&[u8]; 4] = [b"RESTORE", b"bad", b"0", payload];
        let (want, got) = (r.cmd(&args), k.cmd(&args));
        assert_eq!(show(&got), show(&want), "case {i}");
        assert!(want.starts_with(b"-"), "case {i}: redis accepted it");
    }
}

#[test]
fn snapshot_restart_keeps_hashes_and_redis_dump_loads() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("hash-rdb");
    let mut server = start(dir.path(), 2);
    let mut c = RawConn::connect(server.port());
    fill(&mut c);
    let before: Vec<(Contents, Vec<u8>)> = KEYS
        .iter()
        .map(|k| (contents(&mut c, k), encoding(&mut c, k)))
        .collect();
    let ttl = c.cmd(&["PEXPIRETIME", "ttl"]);
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    for f in snapshot_files(dir.path()) {
        if f.ends_with(".rdb") {
            check_rdb(&dir.path().join(f));
        }
    }
    shutdown(&mut server, "NOSAVE");
    let server = start(dir.path(), 3);
    let mut c = RawConn::connect(server.port());
    for (key, want) in KEYS.iter().zip(&before) {
        assert_eq!(
            &(contents(&mut c, key), encoding(&mut c, key)),
            want,
            "{key}"
        );
    }
    assert_eq!(c.cmd(&["PEXPIRETIME", "ttl"]), ttl);

    // redis-server's own dump.rdb (LZF-compressed listpacks and a table).
    let rdir = TempDir::new("hash-redis-dump");
    let redis = Redis::start(rdir.path(), "dump.rdb");
    let mut r = RawConn::connect(redis.port);
    fill(&mut r);
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
    let want: Vec<(Contents, Vec<u8>)> = KEYS
        .iter()
        .map(|k| (contents(&mut r, k), encoding(&mut r, k)))
        .collect();
    let loaded = ringkv(rdir.path(), 2, &["--dbfilename", "dump.rdb"]).start();
    let mut c = RawConn::connect(loaded.port());
    for (key, want) in KEYS.iter().zip(&want) {
        assert_eq!(
            &(contents(&mut c, key), encoding(&mut c, key)),
            want,
            "{key} from redis"
        );
    }
}

#[test]
fn aof_replay_keeps_hashes() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("hash-aof");
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "always"]).start();
    let mut c = RawConn::connect(server.port());
    fill(&mut c);
    c.cmd(&["HINCRBYFLOAT", "lp", "n", "0.1"]);
    c.cmd(&["HINCRBY", "table", "field:0", "7"]);
    c.cmd(&["HDEL", "one", "only"]);
    c.cmd(&["HSETNX", "lp", "new", "x"]);
    c.cmd(&["RENAME", "lp", "{other}renamed"]);
    let keys = ["bin", "table", "ttl", "{other}renamed", "one"];
    let before: Vec<(Contents, Vec<u8>)> = keys
        .iter()
        .map(|k| (contents(&mut c, k), encoding(&mut c, k)))
        .collect();
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 1, &[]).start();
    let mut c = RawConn::connect(server.port());
    for (key, want) in keys.iter().zip(&before) {
        assert_eq!(
            &(contents(&mut c, key), encoding(&mut c, key)),
            want,
            "{key}"
        );
    }
    assert_eq!(c.cmd(&["EXISTS", "one", "lp"]), b":0\r\n");
}
