//! The generic key commands on hashes, sets and sorted sets, against redis-server: TYPE,
//! OBJECT, EXISTS/DEL/UNLINK, the EXPIRE family, RENAME/RENAMENX, COPY (DB,
//! REPLACE), MOVE, SWAPDB, RANDOMKEY, SCAN ... TYPE, and WRONGTYPE from
//! string commands on collections and from collection commands on strings.
//! Replies compared byte for byte (aggregates as multisets where Redis's
//! order is a hashtable's), RESP2 and RESP3, one and two shards (so RENAME
//! and COPY also move values between shards). MEMORY USAGE, which is
//! ringkv's own accounting, is checked for growth rather than equality.

mod common;

use common::reply::{parsed, unordered, R};
use common::{show, RawConn, RedisServer, TestServer};

/// How two replies must agree.
#[derive(Clone, Copy)]
enum Cmp {
    Exact,
    /// Same elements, any order (hashtable-encoded replies).
    Unordered,
    /// A SCAN reply: cursor `0` on both (COUNT covers everything) and the
    /// same keys in any order.
    Scan,
}

use Cmp::{Exact, Scan, Unordered};

/// A script that exercises every generic command on both types; `big`
/// hashes and sets are hashtable-encoded, the others compact.
fn script() -> Vec<(Vec<Vec<u8>>, Cmp)> {
    let mut steps: Vec<(Vec<Vec<u8>>, Cmp)> = Vec::new();
    let mut add = |line: &str, cmp: Cmp| {
        steps.push((
            line.split(' ').map(|w| w.as_bytes().to_vec()).collect(),
            cmp,
        ));
    };
    add("FLUSHALL", Exact);
    add("HSET h a 1 b 2 c 3", Exact);
    add("SADD s 1 2 3", Exact);
    add("SADD t x y z", Exact);
    add("SET str v", Exact);
    for k in ["h", "s", "t", "str", "nokey"] {
        add(&format!("TYPE {k}"), Exact);
        add(&format!("OBJECT ENCODING {k}"), Exact);
        add(&format!("OBJECT REFCOUNT {k}"), Exact);
    }
    add("EXISTS h s t str nokey h", Exact);
    // String commands on collections.
    for k in ["h", "s"] {
        for cmd in [
            "GET {k}",
            "APPEND {k} x",
            "INCR {k}",
            "INCRBYFLOAT {k} 1.5",
            "STRLEN {k}",
            "SETRANGE {k} 0 x",
            "GETRANGE {k} 0 1",
            "GETDEL {k}",
            "GETEX {k}",
            "GETSET {k} x",
            "SETNX {k} x",
            "MGET {k} str nokey",
            "TYPE {k}",
        ] {
            add(&cmd.replace("{k}", k), Exact);
        }
    }
    // Collection commands on the wrong type.
    for cmd in [
        "HSET str a 1",
        "HGET str a",
        "HGETALL s",
        "HLEN s",
        "SADD h x",
        "SCARD h",
        "SMEMBERS str",
        "SISMEMBER h a",
        "SINTER s h",
        "SUNIONSTORE dst s h",
        "SMOVE s h 1",
        "SMOVE h s 1",
        "HINCRBY s a 1",
    ] {
        add(cmd, Exact);
    }
    add("EXISTS dst", Exact);
    // SET replaces a collection whatever its type.
    add("SADD gone a b", Exact);
    add("SET gone v", Exact);
    add("TYPE gone", Exact);
    add("GET gone", Exact);
    // Expiry.
    add("EXPIRE h 100", Exact);
    add("TTL h", Exact);
    add("EXPIRE s 100 NX", Exact);
    add("EXPIRE s 200 GT", Exact);
    add("TTL s", Exact);
    add("PERSIST h", Exact);
    add("TTL h", Exact);
    add("PEXPIREAT t 1", Exact);
    add("EXISTS t", Exact);
    add("SMEMBERS t", Exact);
    add("SADD t x y z", Exact);
    // Big (hashtable) values, to move between shards.
    let fields: Vec<String> = (0..600).map(|i| format!("f{i} v{i}")).collect();
    add(&format!("HSET bigh {}", fields.join(" ")), Exact);
    let members: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    add(&format!("SADD bigs {}", members.join(" ")), Exact);
    add("OBJECT ENCODING bigh", Exact);
    add("OBJECT ENCODING bigs", Exact);
    add("EXPIRE bigh 500", Exact);
    // RENAME / RENAMENX, across whatever shards the names land on.
    add("RENAME h h2", Exact);
    add("EXISTS h", Exact);
    add("HGETALL h2", Exact);
    add("RENAMENX s h2", Exact);
    add("RENAMENX s s2", Exact);
    add("SMEMBERS s2", Exact);
    add("RENAME bigh bigh2", Exact);
    add("TTL bigh2", Exact);
    add("HGETALL bigh2", Unordered);
    add("OBJECT ENCODING bigh2", Exact);
    add("RENAME bigs {bigs}2", Exact);
    add("SCARD {bigs}2", Exact);
    add("RENAME {bigs}2 bigs", Exact);
    add("RENAME nokey x", Exact);
    // COPY: an independent copy, DB and REPLACE.
    add("COPY h2 h3", Exact);
    add("COPY h2 h3", Exact);
    add("HSET h3 d 4", Exact);
    add("HGETALL h2", Exact);
    add("HGETALL h3", Exact);
    add("COPY h2 h3 REPLACE", Exact);
    add("HGETALL h3", Exact);
    add("COPY s2 s9 DB 1", Exact);
    add("COPY bigs bigs9 DB 1", Exact);
    add("COPY bigh2 bigh3", Exact);
    add("TTL bigh3", Exact);
    add("HDEL bigh3 f1 f2", Exact);
    add("HLEN bigh2", Exact);
    add("HLEN bigh3", Exact);
    add("SELECT 1", Exact);
    add("SMEMBERS s9", Exact);
    add("SMEMBERS bigs9", Unordered);
    add("OBJECT ENCODING bigs9", Exact);
    add("SELECT 0", Exact);
    add("COPY str s2", Exact);
    add("COPY str s2 REPLACE", Exact);
    add("TYPE s2", Exact);
    // MOVE and SWAPDB.
    add("MOVE h3 2", Exact);
    add("EXISTS h3", Exact);
    add("SADD clash a", Exact);
    add("SELECT 2", Exact);
    add("HGETALL h3", Exact);
    add("SADD clash b", Exact);
    add("SELECT 0", Exact);
    add("MOVE clash 2", Exact);
    add("SWAPDB 0 2", Exact);
    add("HGETALL h3", Exact);
    add("SMEMBERS clash", Exact);
    add("SWAPDB 0 2", Exact);
    // SCAN by type, and RANDOMKEY in a database of one set.
    add("SCAN 0 TYPE hash COUNT 10000", Scan);
    add("SCAN 0 TYPE set COUNT 10000", Scan);
    add("SCAN 0 TYPE string COUNT 10000", Scan);
    add("SCAN 0 TYPE list COUNT 10000", Scan);
    add("SELECT 3", Exact);
    add("SADD only a", Exact);
    add("RANDOMKEY", Exact);
    add("SELECT 0", Exact);
    // Sorted sets: the generic commands and WRONGTYPE both ways.
    add("ZADD z 1 a 2 b 3 c", Exact);
    let zmembers: Vec<String> = (0..600).map(|i| format!("{i} m{i}")).collect();
    add(&format!("ZADD bigz {}", zmembers.join(" ")), Exact);
    for k in ["z", "bigz"] {
        add(&format!("TYPE {k}"), Exact);
        add(&format!("OBJECT ENCODING {k}"), Exact);
        for cmd in [
            "GET {k}",
            "APPEND {k} x",
            "INCR {k}",
            "STRLEN {k}",
            "HGET {k} a",
            "SCARD {k}",
            "LLEN {k}",
            "SADD {k} x",
        ] {
            add(&cmd.replace("{k}", k), Exact);
        }
    }
    for cmd in [
        "ZADD str 1 a",
        "ZCARD h2",
        "ZRANGE s2 0 -1",
        "ZSCORE str a",
        "ZUNIONSTORE d 2 z str",
        "ZINTER 2 z s2",
        "ZPOPMIN str",
        "ZRANGESTORE d str 0 -1",
    ] {
        add(cmd, Exact);
    }
    add("EXPIRE bigz 500", Exact);
    add("RENAME bigz {bigz}2", Exact);
    add("TTL {bigz}2", Exact);
    add("ZRANGE {bigz}2 590 -1 WITHSCORES", Exact);
    add("OBJECT ENCODING {bigz}2", Exact);
    add("COPY z z2", Exact);
    add("ZADD z2 9 d", Exact);
    add("ZRANGE z 0 -1 WITHSCORES", Exact);
    add("ZRANGE z2 0 -1 WITHSCORES", Exact);
    add("COPY {bigz}2 bigz9 DB 1", Exact);
    add("MOVE z2 2", Exact);
    add("SELECT 1", Exact);
    add("ZCARD bigz9", Exact);
    add("ZRANK bigz9 m300", Exact);
    add("SELECT 2", Exact);
    add("ZRANGE z2 0 -1 WITHSCORES", Exact);
    add("SELECT 0", Exact);
    add("SCAN 0 TYPE zset COUNT 10000", Scan);
    add("SET z now-a-string", Exact);
    add("TYPE z", Exact);
    // DEL / UNLINK of collections, then their names reused as strings.
    add("DEL h2 s2 nokey", Exact);
    add("UNLINK bigh2 bigs", Exact);
    add("EXISTS h2 s2 bigh2 bigs", Exact);
    add("SET bigs now-a-string", Exact);
    add("TYPE bigs", Exact);
    add("DBSIZE", Exact);
    steps
}

/// The keys of a SCAN reply, after checking its cursor is 0.
fn scanned_keys(reply: &R, ctx: &str) -> R {
    let R::Agg(_, parts) = reply else {
        panic!("{ctx}: not a SCAN reply: {reply:?}");
    };
    assert_eq!(parts[0], R::Bulk(Some(b"0".to_vec())), "{ctx}: cursor");
    unordered(&parts[1])
}

fn run_script(ringkv: &TestServer, redis: &RedisServer, resp3: bool) {
    let (mut ours, mut theirs) = (ringkv.raw(), redis.raw());
    if resp3 {
        for c in [&mut ours, &mut theirs] {
            c.cmd(&["HELLO", "3"]);
        }
    }
    for (argv, cmp) in script() {
        let (o, t) = (ours.cmd(&argv), theirs.cmd(&argv));
        let ctx = format!(
            "resp3={resp3} `{}`: ringkv {} redis {}",
            show(&argv.join(&b' ')).chars().take(80).collect::<String>(),
            show(&o).chars().take(300).collect::<String>(),
            show(&t).chars().take(300).collect::<String>()
        );
        match cmp {
            Exact => assert!(o == t, "{ctx}"),
            Unordered => assert!(unordered(&parsed(&o)) == unordered(&parsed(&t)), "{ctx}"),
            Scan => assert_eq!(
                scanned_keys(&parsed(&o), &ctx),
                scanned_keys(&parsed(&t), &ctx),
                "{ctx}"
            ),
        }
    }
}

#[test]
fn generic_commands_on_hashes_and_sets_match_redis() {
    let redis = RedisServer::start();
    for threads in [1, 2] {
        let ringkv = TestServer::start(threads);
        for resp3 in [false, true] {
            eprintln!("-- threads = {threads}, resp3 = {resp3}");
            run_script(&ringkv, &redis, resp3);
        }
    }
}

/// MEMORY USAGE is ringkv's own exact accounting: it grows with a
/// collection, shrinks when it loses elements, and is nil for a missing key.
#[test]
fn memory_usage_follows_collections() {
    let server = TestServer::start(2);
    let mut c: RawConn = server.raw();
    let usage = |c: &mut RawConn, key: &str| -> i64 {
        match parsed(&c.cmd(&["MEMORY", "USAGE", key])) {
            R::Line(b':', n) => String::from_utf8(n).unwrap().parse().unwrap(),
            other => panic!("MEMORY USAGE {key}: {other:?}"),
        }
    };
    assert_eq!(c.cmd(&["MEMORY", "USAGE", "nokey"]), b"$-1\r\n");
    for (add, key, del) in [("HSET", "h", "HDEL"), ("SADD", "s", "SREM")] {
        let with = |n: usize| -> Vec<String> {
            let mut argv = vec![add.to_string(), key.to_string()];
            for i in 0..n {
                argv.push(format!("e{i:05}"));
                if add == "HSET" {
                    argv.push(format!("v{i:05}"));
                }
            }
            argv
        };
        c.cmd(&with(10));
        let small = usage(&mut c, key);
        c.cmd(&with(2000));
        let big = usage(&mut c, key);
        assert!(small > 10 * 6, "{key}: {small} bytes for 10 elements");
        assert!(big > 2000 * 12, "{key}: {big} bytes for 2000 elements");
        let removed: Vec<String> = std::iter::once(del.to_string())
            .chain(std::iter::once(key.to_string()))
            .chain((0..1000).map(|i| format!("e{i:05}")))
            .collect();
        assert_eq!(c.cmd(&removed), b":1000\r\n");
        let half = usage(&mut c, key);
        assert!(half < big, "{key}: {half} after removing half of {big}");
    }
}
