//! Sets through the real binary: a seeded differential run against
//! redis-server over every set command (replies byte for byte, hashtable
//! orders compared as multisets, intset orders exactly; SPOP/SRANDMEMBER
//! by shape), RESP2 and RESP3, one and two shards; SMOVE and SUNIONSTORE
//! across shards never seen half-done; DUMP/RESTORE both ways; sets kept
//! across an RDB restart and an AOF replay of SPOP.

mod common;

use common::persist::{aof_ringkv, TempDir};
use common::reply::{elements, parsed, unordered, R};
use common::{show, tags_on_different_shards, RawConn, RedisServer, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: [&str; 6] = ["s1", "s2", "{s1}x", "s3", "str", "nokey"];

fn member(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..12) {
        0 => b"-0".to_vec(),
        1 => b"01".to_vec(),
        2 => Vec::new(),
        3 => i64::MAX.to_string().into_bytes(),
        4 => i64::MIN.to_string().into_bytes(),
        5 => vec![0, 255, b'\r', b'\n'],
        6 => format!("m{}", rng.gen_range(0..8)).into_bytes(),
        7 => (70000 + rng.gen_range(0..3)).to_string().into_bytes(),
        _ => rng.gen_range(-5i64..20).to_string().into_bytes(),
    }
}

fn key(rng: &mut StdRng) -> Vec<u8> {
    KEYS[rng.gen_range(0..KEYS.len())].as_bytes().to_vec()
}

/// How two replies must agree.
enum Cmp {
    Exact,
    Unordered,
    /// Random picks: same kind, same length; `distinct` when positive COUNT.
    Random {
        distinct: bool,
    },
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Cmp) {
    let name = [
        "SADD",
        "SREM",
        "SCARD",
        "SISMEMBER",
        "SMISMEMBER",
        "SMEMBERS",
        "SRANDMEMBER",
        "SPOP",
        "SMOVE",
        "SINTER",
        "SINTERCARD",
        "SINTERSTORE",
        "SUNION",
        "SUNIONSTORE",
        "SDIFF",
        "SDIFFSTORE",
        "SSCAN",
        "OBJECT",
    ][rng.gen_range(0..18)];
    let mut a: Vec<Vec<u8>> = vec![name.as_bytes().to_vec()];
    let some_members = |rng: &mut StdRng, a: &mut Vec<Vec<u8>>| {
        for _ in 0..rng.gen_range(1..5) {
            a.push(member(rng));
        }
    };
    let some_keys = |rng: &mut StdRng, a: &mut Vec<Vec<u8>>| {
        for _ in 0..rng.gen_range(1..4) {
            a.push(key(rng));
        }
    };
    let cmp = match name {
        "SADD" | "SREM" | "SMISMEMBER" => {
            a.push(key(rng));
            some_members(rng, &mut a);
            Cmp::Exact
        }
        "SCARD" => {
            a.push(key(rng));
            Cmp::Exact
        }
        "SISMEMBER" => {
            a.push(key(rng));
            a.push(member(rng));
            Cmp::Exact
        }
        "SMEMBERS" | "SUNION" | "SDIFF" | "SINTER" => {
            some_keys(rng, &mut a);
            Cmp::Unordered
        }
        "SRANDMEMBER" | "SPOP" => {
            a.push(key(rng));
            match rng.gen_range(0..4) {
                0 => Cmp::Random { distinct: true },
                _ => {
                    let n: i64 = rng.gen_range(-6..8);
                    a.push(n.to_string().into_bytes());
                    Cmp::Random { distinct: n >= 0 }
                }
            }
        }
        "SMOVE" => {
            a.push(key(rng));
            a.push(key(rng));
            a.push(member(rng));
            Cmp::Exact
        }
        "SINTERCARD" => {
            let n = rng.gen_range(0..4usize);
            a.push(n.to_string().into_bytes());
            for _ in 0..n.max(1) {
                a.push(key(rng));
            }
            if rng.gen_bool(0.3) {
                a.push(b"LIMIT".to_vec());
                a.push(rng.gen_range(-1..3).to_string().into_bytes());
            }
            Cmp::Exact
        }
        "SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" => {
            a.push(key(rng));
            some_keys(rng, &mut a);
            Cmp::Exact
        }
        "SSCAN" => {
            a.push(key(rng));
            a.push(b"0".to_vec());
            if rng.gen_bool(0.3) {
                a.push(b"MATCH".to_vec());
                a.push(b"*1*".to_vec());
            }
            if rng.gen_bool(0.3) {
                a.push(b"COUNT".to_vec());
                a.push(b"1000".to_vec());
            }
            Cmp::Unordered
        }
        _ => {
            a.push(b"ENCODING".to_vec());
            a.push(key(rng));
            Cmp::Exact
        }
    };
    (a, cmp)
}

/// True when redis reports every listed key as an intset (so replies that
/// iterate them have a defined order).
fn all_intsets(redis: &mut RawConn, keys: &[Vec<u8>]) -> bool {
    keys.iter().all(|k| {
        let r = redis.cmd(&[b"OBJECT".as_slice(), b"ENCODING", k]);
        r == b"$6\r\nintset\r\n"
    })
}

fn check_pair(ours: &[u8], theirs: &[u8], cmp: &Cmp, exact_order: bool, ctx: &str) {
    match cmp {
        Cmp::Exact => assert_eq!(show(ours), show(theirs), "{ctx}"),
        Cmp::Unordered if exact_order => assert_eq!(show(ours), show(theirs), "{ctx}"),
        Cmp::Unordered => assert_eq!(
            unordered(&parsed(ours)),
            unordered(&parsed(theirs)),
            "{ctx}"
        ),
        Cmp::Random { distinct } => {
            let (a, b) = (parsed(ours), parsed(theirs));
            match (&a, &b) {
                (R::Agg(ka, va), R::Agg(kb, vb)) => {
                    assert_eq!((ka, va.len()), (kb, vb.len()), "{ctx}");
                    if *distinct {
                        let set: HashSet<&R> = va.iter().collect();
                        assert_eq!(set.len(), va.len(), "{ctx}: repeated member");
                    }
                }
                (R::Bulk(x), R::Bulk(y)) => assert_eq!(x.is_some(), y.is_some(), "{ctx}"),
                _ => assert_eq!(show(ours), show(theirs), "{ctx}"),
            }
        }
    }
}

/// Every member an SSCAN of `argv`'s key and options returns, cursor 0 to 0.
fn full_scan(c: &mut RawConn, argv: &[Vec<u8>]) -> std::collections::BTreeSet<R> {
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let mut args = argv.to_vec();
        args[2] = cursor.clone();
        let page = elements(&parsed(&c.cmd(&args)));
        seen.extend(elements(&page[1]));
        match &page[0] {
            R::Bulk(Some(next)) if next != b"0" => cursor = next.clone(),
            _ => return seen,
        }
    }
}

/// Makes both servers' sets equal again after random pops: copies
/// redis-server's members of every key into ringkv.
fn resync(ours: &mut RawConn, theirs: &mut RawConn) {
    for k in KEYS {
        let t = theirs.cmd(&["TYPE", k]);
        if t != b"+set\r\n" {
            let o = ours.cmd(&["TYPE", k]);
            assert_eq!(show(&o), show(&t), "type of {k}");
            continue;
        }
        let members = elements(&parsed(&theirs.cmd(&["SMEMBERS", k])));
        ours.cmd(&["DEL", k]);
        let mut argv: Vec<Vec<u8>> = vec![b"SADD".to_vec(), k.as_bytes().to_vec()];
        for m in members {
            if let R::Bulk(Some(b)) = m {
                argv.push(b);
            }
        }
        ours.cmd(&argv);
        let (eo, et) = (
            ours.cmd(&["OBJECT", "ENCODING", k]),
            theirs.cmd(&["OBJECT", "ENCODING", k]),
        );
        // A popped-from hashtable stays one in Redis: rebuild it the same way.
        if eo != et {
            ours.cmd(&["SADD", k, "not-an-int"]);
            ours.cmd(&["SREM", k, "not-an-int"]);
        }
    }
}

#[test]
fn differential_against_redis() {
    for threads in [1, 2] {
        for resp3 in [false, true] {
            let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
            let (mut a, mut b) = (ringkv.raw(), redis.raw());
            if resp3 {
                a.cmd(&["HELLO", "3"]);
                b.cmd(&["HELLO", "3"]);
            }
            for c in [&mut a, &mut b] {
                c.cmd(&["SET", "str", "x"]);
            }
            let mut rng = StdRng::seed_from_u64(14 + threads as u64 * 2 + resp3 as u64);
            for step in 0..3000 {
                if step == 1500 {
                    for c in [&mut a, &mut b] {
                        assert_eq!(
                            c.cmd(&["CONFIG", "SET", "set-max-intset-entries", "4"]),
                            b"+OK\r\n"
                        );
                    }
                }
                let (argv, cmp) = random_command(&mut rng);
                let exact = match argv[0].as_slice() {
                    b"SMEMBERS" | b"SINTER" | b"SSCAN" => {
                        let keys = if argv[0] == b"SSCAN" {
                            &argv[1..2]
                        } else {
                            &argv[1..]
                        };
                        all_intsets(&mut b, keys)
                    }
                    _ => false,
                };
                if argv[0] == b"SSCAN"
                    && !exact
                    && b.cmd(&[b"TYPE".as_slice(), &argv[1]]) == b"+set\r\n"
                {
                    // A hashtable's cursor and pages depend on its layout:
                    // compare what a whole scan returns.
                    assert_eq!(
                        full_scan(&mut a, &argv),
                        full_scan(&mut b, &argv),
                        "{argv:?}"
                    );
                    continue;
                }
                let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
                let ctx = format!(
                    "threads {threads} resp3 {resp3} step {step}: {:?}",
                    argv.iter()
                        .map(|x| String::from_utf8_lossy(x).into_owned())
                        .collect::<Vec<_>>()
                );
                check_pair(&ours, &theirs, &cmp, exact, &ctx);
                if matches!(cmp, Cmp::Random { .. }) && argv[0] == b"SPOP" {
                    resync(&mut a, &mut b);
                }
            }
        }
    }
}

#[test]
fn command_info_matches_redis() {
    common::assert_command_info_like_redis(&[
        "sadd",
        "srem",
        "scard",
        "sismember",
        "smismember",
        "smembers",
        "srandmember",
        "spop",
        "smove",
        "sinter",
        "sinterstore",
        "sunion",
        "sunionstore",
        "sdiff",
        "sdiffstore",
        "sscan",
    ]);
}

/// SMOVE ping-pongs N members between two sets on different shards while
/// SUNIONSTORE copies both into a third; observers always see exactly N
/// members in total and in the union.
#[test]
fn smove_and_sunionstore_are_never_seen_half_done() {
    const N: usize = 20;
    let server = TestServer::start(2);
    let (ta, tb) = tags_on_different_shards(2);
    let (ka, kb, ku) = (
        format!("{{{ta}}}a"),
        format!("{{{tb}}}b"),
        format!("{{{tb}}}u"),
    );
    let mut c = server.raw();
    for i in 0..N {
        c.cmd(&["SADD", &ka, &format!("m{i}")]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (torn, seen) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    std::thread::scope(|s| {
        for w in 0..2 {
            let (ka, kb, ku, stop) = (&ka, &kb, &ku, stop.clone());
            let mut c = server.raw();
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(w);
                while !stop.load(Ordering::Relaxed) {
                    let m = format!("m{}", rng.gen_range(0..N));
                    let (from, to) = if rng.gen_bool(0.5) {
                        (ka, kb)
                    } else {
                        (kb, ka)
                    };
                    c.cmd(&["SMOVE", from.as_str(), to.as_str(), &m]);
                    c.cmd(&["SUNIONSTORE", ku.as_str(), ka.as_str(), kb.as_str()]);
                }
            });
        }
        for _ in 0..2 {
            let (ka, kb, ku, stop, torn, seen) =
                (&ka, &kb, &ku, stop.clone(), torn.clone(), seen.clone());
            let mut c = server.raw();
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let count = |r: Vec<u8>| elements(&parsed(&r)).len();
                    let both = count(c.cmd(&["SUNION", ka.as_str(), kb.as_str()]));
                    let stored = c.cmd(&["SCARD", ku.as_str()]);
                    let cards = c.cmd(&["SINTERCARD", "2", ka.as_str(), kb.as_str()]);
                    seen.fetch_add(1, Ordering::Relaxed);
                    let ok = both == N
                        && (stored == b":0\r\n" || stored == format!(":{N}\r\n").as_bytes())
                        && cards == b":0\r\n";
                    if !ok {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(4) {
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(seen.load(Ordering::Relaxed) > 100, "too few observations");
    assert_eq!(
        torn.load(Ordering::Relaxed),
        0,
        "a half-done SMOVE or SUNIONSTORE was seen"
    );
}

fn bulk(reply: &[u8]) -> Vec<u8> {
    match parsed(reply) {
        R::Bulk(Some(b)) => b,
        other => panic!("not a bulk: {other:?}"),
    }
}

#[test]
fn dump_and_restore_both_ways() {
    let (ringkv, redis) = (TestServer::start(2), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    b.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
    let cases: Vec<Vec<&str>> = vec![
        vec!["1", "2", "3"],
        vec!["-5", "70000", "9"],
        vec!["9223372036854775807", "-9223372036854775808", "0"],
        (0..200)
            .map(|i| Box::leak(i.to_string().into_boxed_str()) as &str)
            .collect(),
        vec!["a", "b", "01", ""],
    ];
    for (i, members) in cases.iter().enumerate() {
        let k = format!("k{i}");
        let mut argv = vec!["SADD", k.as_str()];
        argv.extend(members.iter());
        a.cmd(&argv);
        b.cmd(&argv);
        let (ours, theirs) = (bulk(&a.cmd(&["DUMP", &k])), bulk(&b.cmd(&["DUMP", &k])));
        let intset = b.cmd(&["OBJECT", "ENCODING", &k]) == b"$6\r\nintset\r\n";
        if intset {
            assert_eq!(ours, theirs, "intset payload of {k}");
        }
        for (from, to, payload) in [("redis", &mut a, &theirs), ("ringkv", &mut b, &ours)] {
            let r = to.cmd(&[b"RESTORE".as_slice(), b"copy", b"0", payload]);
            assert_eq!(r, b"+OK\r\n", "RESTORE from {from}: {}", show(&r));
            let got = unordered(&parsed(&to.cmd(&["SMEMBERS", "copy"])));
            let want = unordered(&parsed(&to.cmd(&["SMEMBERS", &k])));
            assert_eq!(got, want, "{k} from {from}");
            to.cmd(&["DEL", "copy"]);
        }
    }
}

#[test]
fn sets_survive_rdb_restart_and_aof_replay_of_spop() {
    let dir = TempDir::new("set-persist");
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let before = {
        let mut server = aof_ringkv(dir.path(), 2, &[]).start();
        let mut c = server.raw();
        let mut argv = vec!["SADD", "big"];
        argv.extend(members.iter().map(String::as_str));
        c.cmd(&argv);
        c.cmd(&["SADD", "ints", "5", "1", "-3"]);
        c.cmd(&["SPOP", "big", "7"]);
        c.cmd(&["SPOP", "big"]);
        c.cmd(&["SPOP", "ints", "3"]);
        c.cmd(&["SUNIONSTORE", "u", "big", "ints"]);
        let snapshot = (
            unordered(&parsed(&c.cmd(&["SMEMBERS", "big"]))),
            c.cmd(&["EXISTS", "ints"]),
            unordered(&parsed(&c.cmd(&["SMEMBERS", "u"]))),
        );
        common::aof::stop_cleanly(&mut server);
        snapshot
    };
    let server = aof_ringkv(dir.path(), 2, &[]).start();
    let mut c = server.raw();
    let after = (
        unordered(&parsed(&c.cmd(&["SMEMBERS", "big"]))),
        c.cmd(&["EXISTS", "ints"]),
        unordered(&parsed(&c.cmd(&["SMEMBERS", "u"]))),
    );
    assert_eq!(before, after, "AOF replay");
    assert_eq!(elements(&before.0).len(), 292);
    // Then an RDB save and a restart from it.
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    drop(c);
    drop(server);
    let rdb_dir = TempDir::new("set-rdb");
    {
        let server = TestServer::builder()
            .threads(2)
            .arg("--dir")
            .arg(rdb_dir.path().to_str().unwrap())
            .start();
        let mut c = server.raw();
        c.cmd(&["SADD", "s", "1", "2", "x"]);
        c.cmd(&["SADD", "i", "7", "8"]);
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    }
    let server = TestServer::builder()
        .threads(2)
        .arg("--dir")
        .arg(rdb_dir.path().to_str().unwrap())
        .start();
    let mut c = server.raw();
    assert_eq!(c.cmd(&["SCARD", "s"]), b":3\r\n");
    assert_eq!(c.cmd(&["SMEMBERS", "i"]), b"*2\r\n$1\r\n7\r\n$1\r\n8\r\n");
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "i"]), b"$6\r\nintset\r\n");
}
