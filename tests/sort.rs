//! SORT and SORT_RO through the real binary: a seeded differential run
//! against redis-server (lists, sets and sorted sets as sources; BY, GET
//! and hash-field patterns; LIMIT, ASC/DESC, ALPHA, STORE; errors), RESP2
//! and RESP3, at one, two and three shards, where the patterns' keys are
//! spread over every shard; a SORT over weights on two shards is never seen
//! half-updated; the stored list survives an AOF restart under another
//! `--threads`; COMMAND INFO and GETKEYS as Redis's.
//!
//! Where Redis's order is not defined (a set's own order under `BY nosort`,
//! ties between equal `ALPHA` weights, which its unstable partial sort
//! breaks as it goes), replies are compared as multisets, or by length when
//! a LIMIT cuts such ties. Out-of-range numbers (`1e400`) appear only
//! once, last: Redis then keeps refusing numeric sorts on that connection
//! (a stale `errno`), which ringkv does not copy.

mod common;

use common::persist::{aof_ringkv, kill9, TempDir};
use common::reply::{elements, parsed, R};
use common::{show, tags_on_different_shards, target_is_redis, RawConn, RedisServer, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SOURCES: [&str; 6] = ["l1", "l2", "s1", "z1", "str", "nokey"];

fn element(rng: &mut StdRng) -> String {
    match rng.gen_range(0..16) {
        0 => "".into(),
        1 => "1.5".into(),
        2 => "-2".into(),
        3 => "x".into(),
        4 => "abc".into(),
        5 => " 3".into(),
        6 => "1e-3".into(),
        7 => "0x10".into(),
        _ => rng.gen_range(0..12).to_string(),
    }
}

fn weight(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => "w".into(),
        1 => "-inf".into(),
        2 => "2.5".into(),
        3 => "nan".into(),
        _ => rng.gen_range(-5..20).to_string(),
    }
}

/// How the replies of a command must agree.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Cmp {
    Exact,
    Multiset,
    Length,
}

fn push(a: &mut Vec<String>, s: impl Into<String>) {
    a.push(s.into());
}

/// A SORT or SORT_RO, and how its reply (and stored list) compares.
fn sort_command(rng: &mut StdRng) -> (Vec<String>, Cmp) {
    let ro = rng.gen_bool(0.25);
    let source = SOURCES[rng.gen_range(0..SOURCES.len())];
    let mut a = vec![
        if ro { "SORT_RO" } else { "SORT" }.to_string(),
        source.to_string(),
    ];
    let (mut alpha, mut by_pattern, mut nosort, mut limited, mut store) =
        (false, false, false, false, false);
    let mut junk = None;
    for _ in 0..rng.gen_range(0..5) {
        match rng.gen_range(0..12) {
            0 => push(&mut a, "DESC"),
            1 => push(&mut a, "ASC"),
            2 | 3 => {
                alpha = true;
                push(&mut a, "ALPHA");
            }
            4 => {
                limited = true;
                push(&mut a, "LIMIT");
                push(&mut a, rng.gen_range(-2..5).to_string());
                push(&mut a, rng.gen_range(-2..5).to_string());
            }
            5 => {
                push(&mut a, "BY");
                match rng.gen_range(0..4) {
                    0 => {
                        nosort = true;
                        by_pattern = false;
                        push(&mut a, "nosort");
                    }
                    1 => {
                        by_pattern = true;
                        nosort = false;
                        push(&mut a, "h_*->f");
                    }
                    _ => {
                        by_pattern = true;
                        nosort = false;
                        push(&mut a, "w_*");
                    }
                }
            }
            6 | 7 => {
                push(&mut a, "GET");
                push(
                    &mut a,
                    ["#", "w_*", "h_*->f", "h_*->nofield", "fixed", "h_*->"][rng.gen_range(0..6)],
                );
            }
            8 if !ro => {
                store = true;
                push(&mut a, "STORE");
                push(&mut a, ["dst", "l2", "s1"][rng.gen_range(0..3)]);
            }
            // A syntax error (last, so it takes no option's place).
            9 => junk = Some(["BOGUS", "LIMIT", "BY"][rng.gen_range(0..3)]),
            10 if ro => {
                push(&mut a, "STORE");
                push(&mut a, "dst");
            }
            _ => {
                limited = true;
                push(&mut a, "LIMIT");
                push(&mut a, "1");
                push(&mut a, ["x", "2", "-1"][rng.gen_range(0..3)]);
            }
        }
    }
    if let Some(j) = junk {
        push(&mut a, j);
    }
    // Where Redis's order is its own (see the module comment).
    let set_order = source == "s1" && nosort && !store;
    let alpha_ties = alpha && by_pattern && source != "nokey";
    let cmp = if set_order || alpha_ties {
        if limited {
            Cmp::Length
        } else {
            Cmp::Multiset
        }
    } else {
        Cmp::Exact
    };
    (a, cmp)
}

fn random_command(rng: &mut StdRng) -> (Vec<String>, Cmp) {
    let e = element(rng);
    let exact = |v: Vec<String>| (v, Cmp::Exact);
    let s = |x: &str| x.to_string();
    match rng.gen_range(0..20) {
        0 | 1 => exact(vec![s("RPUSH"), s(["l1", "l2"][rng.gen_range(0..2)]), e]),
        2 => exact(vec![s("LPUSH"), s("l1"), e]),
        3 => exact(vec![s("SADD"), s("s1"), e]),
        4 => exact(vec![s("ZADD"), s("z1"), rng.gen_range(0..5).to_string(), e]),
        5 | 6 => exact(vec![s("SET"), format!("w_{e}"), weight(rng)]),
        7 => exact(vec![s("HSET"), format!("h_{e}"), s("f"), weight(rng)]),
        8 => exact(vec![s("DEL"), format!("w_{e}")]),
        9 => exact(vec![s("LREM"), s("l1"), s("0"), e]),
        10 => exact(vec![s("SREM"), s("s1"), e]),
        _ => sort_command(rng),
    }
}

/// The elements of a reply, as text, sorted.
fn multiset(reply: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = elements(&parsed(reply))
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    v.sort();
    v
}

fn check(ours: &[u8], theirs: &[u8], cmp: Cmp, ctx: &str) {
    match cmp {
        Cmp::Exact => assert_eq!(show(ours), show(theirs), "{ctx}"),
        _ if theirs.starts_with(b"-") || theirs.starts_with(b":") => {
            assert_eq!(show(ours), show(theirs), "{ctx}")
        }
        Cmp::Multiset => assert_eq!(multiset(ours), multiset(theirs), "{ctx}"),
        Cmp::Length => assert_eq!(
            elements(&parsed(ours)).len(),
            elements(&parsed(theirs)).len(),
            "{ctx}"
        ),
    }
}

/// Gives ringkv redis-server's copy of list `key` (stored in an order
/// Redis does not define), so the runs go on from the same data.
fn resync(a: &mut RawConn, b: &mut RawConn, key: &str) {
    let theirs = b.cmd(&["LRANGE", key, "0", "-1"]);
    a.cmd(&["DEL", key]);
    let items = elements(&parsed(&theirs));
    if items.is_empty() {
        return;
    }
    let mut argv = vec![b"RPUSH".to_vec(), key.as_bytes().to_vec()];
    argv.extend(items.iter().map(|r| match r {
        R::Bulk(Some(v)) => v.clone(),
        other => panic!("not a bulk: {other:?}"),
    }));
    a.cmd(&argv);
}

#[test]
fn differential_against_redis() {
    for threads in [1, 2, 3] {
        for resp3 in [false, true] {
            if threads == 3 && resp3 {
                continue;
            }
            let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
            let (mut a, mut b) = (ringkv.raw(), redis.raw());
            for c in [&mut a, &mut b] {
                if resp3 {
                    c.cmd(&["HELLO", "3"]);
                }
                c.cmd(&["SET", "str", "x"]);
                c.cmd(&["HSET", "h_1", "f", "3", "g", "1"]);
            }
            let mut rng = StdRng::seed_from_u64(17 + threads as u64 * 2 + resp3 as u64);
            let mut sorts = 0;
            for step in 0..2500 {
                if step == 1200 {
                    for c in [&mut a, &mut b] {
                        // Bigger encodings for the second half.
                        for (k, v) in [
                            ("set-max-intset-entries", "4"),
                            ("zset-max-listpack-entries", "4"),
                            ("list-max-listpack-size", "4"),
                        ] {
                            assert_eq!(c.cmd(&["CONFIG", "SET", k, v]), b"+OK\r\n");
                        }
                    }
                }
                let (argv, cmp) = random_command(&mut rng);
                let ctx = format!("threads {threads} resp3 {resp3} step {step}: {argv:?}");
                let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
                check(&ours, &theirs, cmp, &ctx);
                if argv[0].starts_with("SORT") {
                    sorts += 1;
                    if let Some(i) = argv.iter().rposition(|w| w == "STORE") {
                        let probe = ["LRANGE", argv[i + 1].as_str(), "0", "-1"];
                        let stored_cmp = if cmp == Cmp::Length { Cmp::Length } else { cmp };
                        check(&a.cmd(&probe), &b.cmd(&probe), stored_cmp, &ctx);
                        let probe = ["TYPE", argv[i + 1].as_str()];
                        assert_eq!(show(&a.cmd(&probe)), show(&b.cmd(&probe)), "{ctx}");
                        if cmp != Cmp::Exact && theirs.starts_with(b":") {
                            resync(&mut a, &mut b, &argv[i + 1]);
                        }
                    }
                }
            }
            assert!(sorts > 1000, "{sorts} sorts");
        }
    }
}

/// Redis's documented examples, byte for byte, at two shards: weights and
/// objects on every shard.
#[test]
fn documented_forms_match_redis() {
    let (ringkv, redis) = (TestServer::start(2), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    let setup: &[&[&str]] = &[
        &["RPUSH", "ids", "3", "1", "2", "10"],
        &[
            "MSET",
            "weight_1",
            "30",
            "weight_2",
            "20",
            "weight_3",
            "10",
            "weight_10",
            "5",
        ],
        &[
            "MSET", "object_1", "one", "object_2", "two", "object_3", "three",
        ],
        &["HSET", "user_1", "name", "ann", "age", "31"],
        &["HSET", "user_2", "name", "bob", "age", "25"],
        &["SADD", "tags", "b", "a", "c"],
        &["ZADD", "zs", "3", "x", "1", "y", "2", "z"],
    ];
    let probes: &[&[&str]] = &[
        &["SORT", "ids"],
        &["SORT", "ids", "DESC"],
        &["SORT", "ids", "LIMIT", "1", "2"],
        &["SORT", "ids", "BY", "weight_*"],
        &[
            "SORT", "ids", "BY", "weight_*", "GET", "object_*", "GET", "#",
        ],
        &["SORT", "ids", "BY", "nosort", "GET", "object_*"],
        &["SORT", "ids", "BY", "user_*->age", "GET", "user_*->name"],
        &["SORT", "tags", "ALPHA"],
        &["SORT", "tags", "ALPHA", "DESC", "LIMIT", "0", "2"],
        &["SORT", "tags"],
        &["SORT", "zs", "BY", "nosort", "DESC"],
        &["SORT", "zs", "BY", "nosort", "LIMIT", "1", "5"],
        &["SORT", "zs", "ALPHA"],
        &["SORT", "ids", "BY", "weight_*", "STORE", "out"],
        &["LRANGE", "out", "0", "-1"],
        &["SORT", "tags", "BY", "nosort", "STORE", "out2"],
        &["LRANGE", "out2", "0", "-1"],
        &["SORT", "ids", "GET", "object_*", "STORE", "out3"],
        &["LRANGE", "out3", "0", "-1"],
        &["SORT", "nokey", "STORE", "out3"],
        &["EXISTS", "out3"],
        &["SORT_RO", "ids", "BY", "weight_*", "GET", "object_*"],
        &["SORT_RO", "ids", "STORE", "x"],
        &["SORT", "ids", "BY", "object_*"],
        &["SORT", "weight_1"],
        &["SORT", "user_1"],
        &["SORT", "tags"],
        &["MULTI"],
        &["SET", "weight_3", "100"],
        &["SORT", "ids", "BY", "weight_*"],
        &["EXEC"],
        &["SORT", "ids", "LIMIT", "0"],
        &["SORT", "ids", "LIMIT", "a", "1"],
        // Last: Redis reads `errno` after strtod without clearing it, so
        // after an out-of-range weight its connection refuses every
        // numeric SORT until some call resets errno (not copied).
        &["RPUSH", "far", "1", "1e400"],
        &["SORT", "far"],
    ];
    for argv in setup.iter().chain(probes) {
        assert_eq!(show(&a.cmd(argv)), show(&b.cmd(argv)), "{argv:?}");
    }
}

/// Two elements whose weights live on different shards, swapped together by
/// transactions: every SORT sees both old or both new.
#[test]
fn a_sort_over_two_shards_is_never_seen_half_updated() {
    let server = TestServer::start(2);
    let (ta, tb) = tags_on_different_shards(2);
    let (ea, eb) = (format!("{{{ta}}}"), format!("{{{tb}}}"));
    let (wa, wb) = (format!("w_{ea}"), format!("w_{eb}"));
    let mut c = server.raw();
    c.cmd(&["RPUSH", "src", &ea, &eb]);
    c.cmd(&["MSET", &wa, "1"]);
    c.cmd(&["MSET", &wb, "2"]);
    let stop = Arc::new(AtomicBool::new(false));
    let (torn, seen) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    std::thread::scope(|s| {
        {
            let (wa, wb, stop) = (&wa, &wb, stop.clone());
            let mut c = server.raw();
            s.spawn(move || {
                let mut flip = false;
                while !stop.load(Ordering::Relaxed) {
                    let (x, y) = if flip { ("2", "1") } else { ("1", "2") };
                    c.cmd(&["MULTI"]);
                    c.cmd(&["SET", wa.as_str(), x]);
                    c.cmd(&["SET", wb.as_str(), y]);
                    assert!(c.cmd(&["EXEC"]).starts_with(b"*2"));
                    flip = !flip;
                }
            });
        }
        for reader in 0..2 {
            let (stop, torn, seen) = (stop.clone(), torn.clone(), seen.clone());
            let mut c = server.raw();
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = if reader == 0 {
                        c.cmd(&["SORT", "src", "BY", "w_*", "GET", "w_*"])
                    } else {
                        c.cmd(&["SORT", "src", "BY", "w_*", "GET", "w_*", "STORE", "{x}out"]);
                        c.cmd(&["LRANGE", "{x}out", "0", "-1"])
                    };
                    seen.fetch_add(1, Ordering::Relaxed);
                    if r != b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n" {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
    });
    assert!(seen.load(Ordering::Relaxed) > 100, "too few observations");
    assert_eq!(
        torn.load(Ordering::Relaxed),
        0,
        "a half-updated pair was sorted"
    );
}

/// SORT … STORE journals the stored list: a restart from the AOF, under
/// another `--threads`, holds it.
#[test]
fn a_stored_sort_survives_the_aof() {
    if target_is_redis() {
        return;
    }
    let dir = TempDir::new("sort-aof");
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "always"]).start();
    let mut k = RawConn::connect(server.port());
    k.cmd(&["RPUSH", "ids", "3", "1", "2"]);
    k.cmd(&[
        "MSET", "w_1", "3", "w_2", "2", "w_3", "1", "o_1", "a", "o_3", "c",
    ]);
    assert_eq!(
        k.cmd(&["SORT", "ids", "BY", "w_*", "GET", "o_*", "GET", "#", "STORE", "out"]),
        b":6\r\n"
    );
    k.cmd(&["SET", "gone", "x"]);
    assert_eq!(k.cmd(&["SORT", "nokey", "STORE", "gone"]), b":0\r\n");
    let want = show(&k.cmd(&["LRANGE", "out", "0", "-1"]));
    assert_eq!(
        want,
        show(b"*6\r\n$1\r\nc\r\n$1\r\n3\r\n$0\r\n\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1\r\n")
    );
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 3, &[]).start();
    let mut k = RawConn::connect(server.port());
    assert_eq!(show(&k.cmd(&["LRANGE", "out", "0", "-1"])), want);
    assert_eq!(k.cmd(&["EXISTS", "gone"]), b":0\r\n");
}

#[test]
fn command_info_and_getkeys_match_redis() {
    common::assert_command_info_like_redis(&["sort", "sort_ro"]);
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    for argv in [
        &[
            "COMMAND", "GETKEYS", "SORT", "a", "STORE", "b", "LIMIT", "0", "1", "STORE", "c",
        ][..],
        &["COMMAND", "GETKEYS", "SORT", "a", "BY", "store", "GET", "#"],
        &["COMMAND", "GETKEYS", "SORT_RO", "a", "BY", "w_*"],
    ] {
        let (ours, theirs) = (a.cmd(argv), b.cmd(argv));
        assert_eq!(show(&ours), show(&theirs), "{argv:?}");
        assert!(matches!(parsed(&ours), R::Agg(b'*', _)), "{argv:?}");
    }
}
