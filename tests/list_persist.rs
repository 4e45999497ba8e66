//! Lists held and persisted before their commands land (issue 15): a
//! redis-server 7.0 dump.rdb with lists of every shape loads into ringkv,
//! which answers TYPE, OBJECT ENCODING, EXISTS and DUMP for them, writes them
//! back in its own snapshot (accepted by `redis-check-rdb` and loaded by
//! redis-server with identical LRANGEs), and exchanges DUMP payloads with
//! redis-server both ways; the same with compressed nodes
//! (`list-compress-depth 1`).

mod common;

use common::persist::*;
use common::snapshot::*;
use common::{show, target_is_redis, RawConn, RedisServer};

/// Lists in redis-server: short ones (one listpack node: strings, integers,
/// binary, empty elements), one of several nodes, one with an element
/// bigger than a node (a plain node), and one with a TTL.
fn fill(r: &mut RawConn) {
    let ok = |reply: Vec<u8>| assert!(reply.starts_with(b":"), "{}", show(&reply));
    ok(r.cmd(&["RPUSH", "short", "a", "12", "-7", "", "9223372036854775807"]));
    ok(r.cmd(&[&b"RPUSH"[..], b"bin", b"\x00\xff\r\n", b"x"]));
    let mut long: Vec<String> = vec!["RPUSH".into(), "long".into()];
    long.extend((0..5000).map(|i| format!("element:{i}")));
    ok(r.cmd(&long));
    ok(r.cmd(&["LPUSH", "long", "head"]));
    let big = "b".repeat(20_000);
    ok(r.cmd(&["RPUSH", "plain", "before", &big, "after"]));
    ok(r.cmd(&["RPUSH", "ttl", "v"]));
    assert_eq!(r.cmd(&["PEXPIREAT", "ttl", "99999999999999"]), b":1\r\n");
}

const KEYS: &[&str] = &["short", "bin", "long", "plain", "ttl"];

fn lrange(r: &mut RawConn, key: &str) -> Vec<u8> {
    r.cmd(&["LRANGE", key, "0", "-1"])
}

fn bulk(reply: &[u8]) -> Vec<u8> {
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    reply[start..reply.len() - 2].to_vec()
}

#[test]
fn redis_lists_load_save_and_dump_both_ways() {
    if target_is_redis() {
        return;
    }
    let rdir = TempDir::new("list-redis-dump");
    let redis = Redis::start(rdir.path(), "dump.rdb");
    let mut r = RawConn::connect(redis.port);
    fill(&mut r);
    let want: Vec<Vec<u8>> = KEYS.iter().map(|k| lrange(&mut r, k)).collect();
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");

    // ringkv loads Redis's file and holds the lists.
    let mut server = ringkv(rdir.path(), 2, &["--dbfilename", "dump.rdb"]).start();
    let mut k = RawConn::connect(server.port());
    for key in KEYS {
        assert_eq!(k.cmd(&["TYPE", key]), b"+list\r\n", "{key}");
        assert_eq!(
            k.cmd(&["OBJECT", "ENCODING", key]),
            b"$9\r\nquicklist\r\n",
            "{key}"
        );
    }
    assert_eq!(k.cmd(&["PEXPIRETIME", "ttl"]), b":99999999999999\r\n");
    assert_eq!(
        k.cmd(&["GET", "short"]),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );

    // ringkv's DUMP restores in Redis; Redis's restores in ringkv.
    let other = RedisServer::start();
    let mut o = RawConn::connect(other.port());
    for (key, want) in KEYS.iter().zip(&want) {
        let payload = bulk(&k.cmd(&["DUMP", key]));
        assert_eq!(
            o.cmd(&[b"RESTORE", key.as_bytes(), b"0", &payload[..]]),
            b"+OK\r\n"
        );
        assert_eq!(show(&lrange(&mut o, key)), show(want), "{key} via DUMP");
        let theirs = bulk(&r.cmd(&["DUMP", key]));
        let copy = format!("{key}-copy");
        assert_eq!(
            k.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &theirs[..]]),
            b"+OK\r\n"
        );
        let back = bulk(&k.cmd(&["DUMP", &copy]));
        assert_eq!(
            o.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &back[..]]),
            b"+OK\r\n"
        );
        assert_eq!(show(&lrange(&mut o, &copy)), show(want), "{key} restored");
    }

    // ringkv's own snapshot: valid for redis-check-rdb, loaded by redis-server.
    let kdir = TempDir::new("list-ringkv-save");
    drop(k);
    shutdown(&mut server, "NOSAVE");
    let mut saver = ringkv(kdir.path(), 1, &[]).start();
    let mut s = RawConn::connect(saver.port());
    for key in KEYS {
        let payload = bulk(&o.cmd(&["DUMP", key]));
        assert_eq!(
            s.cmd(&[b"RESTORE", key.as_bytes(), b"0", &payload[..]]),
            b"+OK\r\n"
        );
    }
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
            show(&lrange(&mut l, key)),
            show(want),
            "{key} from ringkv's file"
        );
    }
}

/// Lists under the AOF: RESTOREd, copied and renamed across shards (the
/// moves journal the value itself), expired and rewritten; after kill -9
/// and after BGREWRITEAOF the restarted server holds the same lists.
#[test]
fn lists_survive_the_aof_and_its_rewrite() {
    if target_is_redis() {
        return;
    }
    let redis = RedisServer::start();
    let mut r = RawConn::connect(redis.port());
    fill(&mut r);
    let dir = TempDir::new("list-aof");
    let mut server = aof_ringkv(dir.path(), 2, &[]).start();
    let mut k = RawConn::connect(server.port());
    for key in KEYS {
        let payload = bulk(&r.cmd(&["DUMP", key]));
        let name = format!("{{a}}{key}");
        assert_eq!(
            k.cmd(&[b"RESTORE", name.as_bytes(), b"0", &payload[..]]),
            b"+OK\r\n"
        );
    }
    assert_eq!(k.cmd(&["COPY", "{a}long", "{b}copy"]), b":1\r\n");
    assert_eq!(k.cmd(&["RENAME", "{a}plain", "{b}plain"]), b"+OK\r\n");
    assert_eq!(
        k.cmd(&["PEXPIREAT", "{b}copy", "99999999999999"]),
        b":1\r\n"
    );
    let dumps = |k: &mut RawConn| -> Vec<Vec<u8>> {
        [
            "{a}short", "{a}bin", "{a}long", "{b}plain", "{b}copy", "{a}ttl",
        ]
        .iter()
        .map(|key| k.cmd(&["DUMP", key]))
        .collect()
    };
    let want = dumps(&mut k);
    assert!(want.iter().all(|d| d.starts_with(b"$")));
    kill9(&mut server);
    let mut server = aof_ringkv(dir.path(), 3, &[]).start();
    let mut k = RawConn::connect(server.port());
    assert_eq!(dumps(&mut k), want, "after kill -9");
    assert_eq!(k.cmd(&["PEXPIRETIME", "{b}copy"]), b":99999999999999\r\n");
    assert!(k.cmd(&["BGREWRITEAOF"]).starts_with(b"+"));
    let mut con = server.connection();
    wait_for(
        std::time::Duration::from_secs(30),
        "the AOF rewrite",
        || {
            info_field(&mut con, "aof_rewrite_in_progress") == "0"
                && info_field(&mut con, "aof_last_bgrewrite_status") == "ok"
        },
    );
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 1, &[]).start();
    let mut k = RawConn::connect(server.port());
    assert_eq!(dumps(&mut k), want, "after the rewrite");
}

/// `MEMORY USAGE key SAMPLES 0` as a number.
fn memory_usage(c: &mut RawConn, key: &str) -> u64 {
    let reply = c.cmd(&["MEMORY", "USAGE", key, "SAMPLES", "0"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.trim()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("MEMORY USAGE {key}: {text}"))
}

/// Compressed nodes both ways (`list-compress-depth 1`): redis-server's
/// dump.rdb and DUMP payloads, whose interior nodes are LZF blobs, load in
/// ringkv, which compresses them again by its own depth (MEMORY USAGE
/// shows it, and none at depth 0); ringkv's DUMP payloads and snapshot,
/// its compressed nodes written as LZF strings, load in redis-server
/// (`redis-check-rdb` accepts the file).
#[test]
fn compressed_nodes_load_save_and_dump_both_ways() {
    if target_is_redis() {
        return;
    }
    let rdir = TempDir::new("list-compressed-redis");
    let redis = Redis::start(rdir.path(), "dump.rdb");
    let mut r = RawConn::connect(redis.port);
    let depth1 = ["CONFIG", "SET", "list-compress-depth", "1"];
    assert_eq!(r.cmd(&depth1), b"+OK\r\n");
    fill(&mut r);
    let mut numbered: Vec<String> = vec!["RPUSH".into(), "numbered".into()];
    numbered.extend((0..10_000).map(|i| format!("element-{i:04}")));
    assert!(r.cmd(&numbered).starts_with(b":"));
    let keys: Vec<&str> = KEYS.iter().copied().chain(["numbered"]).collect();
    let want: Vec<Vec<u8>> = keys.iter().map(|k| lrange(&mut r, k)).collect();
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
    let redis_dumps: Vec<Vec<u8>> = keys.iter().map(|k| bulk(&r.cmd(&["DUMP", k]))).collect();

    // ringkv loads Redis's file at depth 1 and at depth 0.
    let mut usage = Vec::new();
    let mut dumps = Vec::new();
    for depth in ["1", "0"] {
        let args = ["--dbfilename", "dump.rdb", "--list-compress-depth", depth];
        let mut server = ringkv(rdir.path(), 2, &args).start();
        let mut k = RawConn::connect(server.port());
        for (key, want) in keys.iter().zip(&want) {
            assert_eq!(show(&lrange(&mut k, key)), show(want), "{key} at {depth}");
        }
        usage.push(memory_usage(&mut k, "numbered"));
        dumps.push(bulk(&k.cmd(&["DUMP", "numbered"])));
        // Redis's compressed DUMP payloads restore here.
        for ((key, payload), want) in keys.iter().zip(&redis_dumps).zip(&want) {
            let copy = format!("{key}-copy");
            let restore = [b"RESTORE", copy.as_bytes(), b"0", &payload[..]];
            assert_eq!(k.cmd(&restore), b"+OK\r\n", "{key} at {depth}");
            assert_eq!(show(&lrange(&mut k, &copy)), show(want), "{key} at {depth}");
        }
        drop(k);
        shutdown(&mut server, "NOSAVE");
    }
    eprintln!(
        "ringkv MEMORY USAGE of Redis's 10k list: depth 1 {}, depth 0 {}",
        usage[0], usage[1]
    );
    assert!(usage[0] < usage[1] * 6 / 10, "{usage:?}");
    // At depth 1 the DUMP carries LZF strings; at 0 raw listpacks.
    assert!(
        dumps[0].len() < dumps[1].len() / 2,
        "{} {}",
        dumps[0].len(),
        dumps[1].len()
    );

    // ringkv at depth 1: its DUMP payloads restore in Redis, and its
    // snapshot passes redis-check-rdb and loads in redis-server.
    let kdir = TempDir::new("list-compressed-ringkv");
    let mut saver = ringkv(kdir.path(), 1, &["--list-compress-depth", "1"]).start();
    let mut s = RawConn::connect(saver.port());
    let other = RedisServer::start();
    let mut o = RawConn::connect(other.port());
    for ((key, payload), want) in keys.iter().zip(&redis_dumps).zip(&want) {
        let restore = [b"RESTORE", key.as_bytes(), b"0", &payload[..]];
        assert_eq!(s.cmd(&restore), b"+OK\r\n");
        let ours = bulk(&s.cmd(&["DUMP", key]));
        let restore = [b"RESTORE", key.as_bytes(), b"0", &ours[..]];
        assert_eq!(o.cmd(&restore), b"+OK\r\n", "{key}");
        assert_eq!(
            show(&lrange(&mut o, key)),
            show(want),
            "{key} via ringkv's DUMP"
        );
    }
    assert_eq!(s.cmd(&["SAVE"]), b"+OK\r\n");
    let files: Vec<String> = snapshot_files(kdir.path())
        .into_iter()
        .filter(|f| f.ends_with(".rdb"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    check_rdb(&kdir.path().join(&files[0]));
    drop(s);
    shutdown(&mut saver, "NOSAVE");
    std::fs::rename(kdir.path().join(&files[0]), kdir.path().join("dump.rdb")).unwrap();
    let loaded = Redis::start(kdir.path(), "dump.rdb");
    let mut l = RawConn::connect(loaded.port);
    for (key, want) in keys.iter().zip(&want) {
        assert_eq!(
            show(&lrange(&mut l, key)),
            show(want),
            "{key} from ringkv's file"
        );
    }
}
