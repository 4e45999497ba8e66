//! Sorted sets through the real binary: a seeded differential run against
//! redis-server over every sorted-set command (replies byte for byte;
//! ZRANDMEMBER by shape; a skiplist's ZSCAN by what a whole scan
//! returns), RESP2 and RESP3, one and two shards, both encodings (the
//! limits drop mid-run); lex commands on a key whose scores are all 0
//! (their precondition); COMMAND INFO; cross-shard ZUNIONSTORE/ZMPOP
//! never seen half-done.

mod common;

use common::reply::{elements, parsed, R};
use common::{show, tags_on_different_shards, RawConn, RedisServer, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const KEYS: [&str; 7] = ["z1", "z2", "{z1}x", "z3", "str", "set", "nokey"];

fn member(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..14) {
        0 => b"-0".to_vec(),
        1 => b"01".to_vec(),
        2 => Vec::new(),
        3 => i64::MAX.to_string().into_bytes(),
        4 => vec![0, 255, b'\r', b'\n'],
        5 => vec![b'L'; 70],
        6..=8 => format!("m{}", rng.gen_range(0..8)).into_bytes(),
        _ => rng.gen_range(-3i64..12).to_string().into_bytes(),
    }
}

fn score(rng: &mut StdRng) -> String {
    match rng.gen_range(0..20) {
        0 => "inf".into(),
        1 => "-inf".into(),
        2 => "+inf".into(),
        3 => "-0".into(),
        4 => "1.5".into(),
        5 => "0.1".into(),
        6 => "1e300".into(),
        7 => "-2.5e-3".into(),
        8 => "3.0000000000000004".into(),
        9 => "abc".into(),
        10 => "nan".into(),
        11 => " 1".into(),
        12 => "1e2".into(),
        _ => rng.gen_range(-4i64..8).to_string(),
    }
}

fn bound(rng: &mut StdRng) -> String {
    let s = match rng.gen_range(0..8) {
        0 => "-inf".to_string(),
        1 => "+inf".to_string(),
        2 => "x".to_string(),
        3 => "1.5".to_string(),
        _ => rng.gen_range(-3i64..8).to_string(),
    };
    if rng.gen_bool(0.3) {
        format!("({s}")
    } else {
        s
    }
}

fn lex_bound(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..8) {
        0 => b"-".to_vec(),
        1 => b"+".to_vec(),
        2 => b"m".to_vec(),
        3 => b"".to_vec(),
        _ => {
            let mut v = vec![if rng.gen_bool(0.5) { b'[' } else { b'(' }];
            v.extend(member(rng));
            v
        }
    }
}

fn index(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => "x".into(),
        1 => i64::MAX.to_string(),
        2 => i64::MIN.to_string(),
        _ => rng.gen_range(-6i64..8).to_string(),
    }
}

fn key(rng: &mut StdRng) -> Vec<u8> {
    KEYS[rng.gen_range(0..KEYS.len())].as_bytes().to_vec()
}

/// How two replies must agree.
enum Cmp {
    Exact,
    /// Random picks: same kind, same length.
    Random,
}

fn push(a: &mut Vec<Vec<u8>>, s: impl AsRef<[u8]>) {
    a.push(s.as_ref().to_vec());
}

fn range_options(rng: &mut StdRng, a: &mut Vec<Vec<u8>>, store: bool) {
    let mut opts: Vec<Vec<u8>> = Vec::new();
    for _ in 0..rng.gen_range(0..3) {
        match rng.gen_range(0..6) {
            0 if !store => opts.push(b"WITHSCORES".to_vec()),
            1 => opts.push(b"REV".to_vec()),
            2 => opts.push(b"BYSCORE".to_vec()),
            3 => {
                opts.push(b"LIMIT".to_vec());
                opts.push(rng.gen_range(-1i64..4).to_string().into_bytes());
                opts.push(rng.gen_range(-2i64..4).to_string().into_bytes());
            }
            4 => opts.push(b"BYLEX".to_vec()),
            _ => opts.push(b"WITHSCORES".to_vec()),
        }
    }
    a.extend(opts);
}

fn numkeys(rng: &mut StdRng, a: &mut Vec<Vec<u8>>) -> usize {
    let n = rng.gen_range(0..4usize);
    push(a, n.to_string());
    for _ in 0..n.max(1) {
        a.push(key(rng));
    }
    n
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Cmp) {
    const NAMES: &[&str] = &[
        "ZADD",
        "ZADD",
        "ZADD",
        "ZINCRBY",
        "ZREM",
        "ZCARD",
        "ZCOUNT",
        "ZSCORE",
        "ZMSCORE",
        "ZRANK",
        "ZREVRANK",
        "ZRANGE",
        "ZRANGE",
        "ZRANGEBYSCORE",
        "ZREVRANGEBYSCORE",
        "ZREVRANGE",
        "ZRANGESTORE",
        "ZREMRANGEBYRANK",
        "ZREMRANGEBYSCORE",
        "ZPOPMIN",
        "ZPOPMAX",
        "ZMPOP",
        "BZPOPMIN",
        "BZMPOP",
        "ZRANDMEMBER",
        "ZUNION",
        "ZINTER",
        "ZDIFF",
        "ZINTERCARD",
        "ZUNIONSTORE",
        "ZINTERSTORE",
        "ZDIFFSTORE",
        "ZSCAN",
        "OBJECT",
        "LEX",
    ];
    let name = NAMES[rng.gen_range(0..NAMES.len())];
    let mut a: Vec<Vec<u8>> = vec![name.as_bytes().to_vec()];
    let cmp = match name {
        "ZADD" => {
            a.push(key(rng));
            for opt in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                if rng.gen_bool(0.12) {
                    push(&mut a, opt);
                }
            }
            for _ in 0..rng.gen_range(0..4) {
                push(&mut a, score(rng));
                a.push(member(rng));
            }
            if rng.gen_bool(0.1) {
                push(&mut a, score(rng));
            }
            Cmp::Exact
        }
        "ZINCRBY" => {
            a.push(key(rng));
            push(&mut a, score(rng));
            a.push(member(rng));
            Cmp::Exact
        }
        "ZREM" | "ZMSCORE" => {
            a.push(key(rng));
            for _ in 0..rng.gen_range(1..4) {
                a.push(member(rng));
            }
            Cmp::Exact
        }
        "ZCARD" => {
            a.push(key(rng));
            Cmp::Exact
        }
        "ZSCORE" | "ZRANK" | "ZREVRANK" => {
            a.push(key(rng));
            a.push(member(rng));
            Cmp::Exact
        }
        "ZCOUNT" | "ZREMRANGEBYSCORE" => {
            a.push(key(rng));
            push(&mut a, bound(rng));
            push(&mut a, bound(rng));
            Cmp::Exact
        }
        "ZREMRANGEBYRANK" | "ZREVRANGE" => {
            a.push(key(rng));
            push(&mut a, index(rng));
            push(&mut a, index(rng));
            if name == "ZREVRANGE" && rng.gen_bool(0.5) {
                push(&mut a, "WITHSCORES");
            }
            Cmp::Exact
        }
        "ZRANGE" | "ZRANGESTORE" => {
            let store = name == "ZRANGESTORE";
            if store {
                a.push(key(rng));
            }
            a.push(key(rng));
            let byscore = rng.gen_bool(0.5);
            if byscore {
                push(&mut a, bound(rng));
                push(&mut a, bound(rng));
            } else {
                push(&mut a, index(rng));
                push(&mut a, index(rng));
            }
            if byscore {
                push(&mut a, "BYSCORE");
            }
            range_options(rng, &mut a, store);
            Cmp::Exact
        }
        "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" => {
            a.push(key(rng));
            push(&mut a, bound(rng));
            push(&mut a, bound(rng));
            if rng.gen_bool(0.4) {
                push(&mut a, "WITHSCORES");
            }
            if rng.gen_bool(0.4) {
                push(&mut a, "LIMIT");
                push(&mut a, rng.gen_range(-1i64..4).to_string());
                push(&mut a, rng.gen_range(-2i64..4).to_string());
            }
            Cmp::Exact
        }
        "ZPOPMIN" | "ZPOPMAX" => {
            a.push(key(rng));
            if rng.gen_bool(0.6) {
                push(&mut a, rng.gen_range(-1i64..5).to_string());
            }
            Cmp::Exact
        }
        "ZMPOP" | "BZMPOP" => {
            if name == "BZMPOP" {
                push(&mut a, "0.01");
            }
            numkeys(rng, &mut a);
            push(&mut a, if rng.gen_bool(0.5) { "MIN" } else { "MAX" });
            if rng.gen_bool(0.5) {
                push(&mut a, "COUNT");
                push(&mut a, rng.gen_range(0i64..4).to_string());
            }
            Cmp::Exact
        }
        "BZPOPMIN" => {
            for _ in 0..rng.gen_range(1..3) {
                a.push(key(rng));
            }
            push(&mut a, "0.01");
            Cmp::Exact
        }
        "ZRANDMEMBER" => {
            a.push(key(rng));
            if rng.gen_bool(0.7) {
                push(&mut a, rng.gen_range(-5i64..8).to_string());
                if rng.gen_bool(0.5) {
                    push(&mut a, "WITHSCORES");
                }
            }
            Cmp::Random
        }
        "ZUNION" | "ZINTER" | "ZDIFF" | "ZINTERCARD" | "ZUNIONSTORE" | "ZINTERSTORE"
        | "ZDIFFSTORE" => {
            let store = name.ends_with("STORE");
            if store {
                a.push(key(rng));
            }
            let n = numkeys(rng, &mut a);
            if rng.gen_bool(0.3) {
                push(&mut a, "WEIGHTS");
                for _ in 0..n {
                    push(
                        &mut a,
                        ["2", "-1", "0", "inf", "x", "0.5"][rng.gen_range(0..6)],
                    );
                }
            }
            if rng.gen_bool(0.3) {
                push(&mut a, "AGGREGATE");
                push(&mut a, ["SUM", "MIN", "MAX", "AVG"][rng.gen_range(0..4)]);
            }
            if rng.gen_bool(0.3) {
                push(&mut a, "WITHSCORES");
            }
            if name == "ZINTERCARD" && rng.gen_bool(0.4) {
                push(&mut a, "LIMIT");
                push(&mut a, rng.gen_range(-1i64..3).to_string());
            }
            Cmp::Exact
        }
        "ZSCAN" => {
            a.push(key(rng));
            push(&mut a, "0");
            if rng.gen_bool(0.3) {
                push(&mut a, "MATCH");
                push(&mut a, "*1*");
            }
            Cmp::Exact
        }
        "LEX" => {
            a.clear();
            lex_command(rng, &mut a);
            Cmp::Exact
        }
        _ => {
            push(&mut a, "ENCODING");
            a.push(key(rng));
            Cmp::Exact
        }
    };
    (a, cmp)
}

/// A command on `lx`, whose scores are all 0.
fn lex_command(rng: &mut StdRng, a: &mut Vec<Vec<u8>>) {
    let name = [
        "ZADD",
        "ZREM",
        "ZRANGEBYLEX",
        "ZREVRANGEBYLEX",
        "ZLEXCOUNT",
        "ZREMRANGEBYLEX",
        "ZRANGE",
    ][rng.gen_range(0..7)];
    push(a, name);
    push(a, "lx");
    match name {
        "ZADD" => {
            for _ in 0..rng.gen_range(1..4) {
                push(a, "0");
                a.push(member(rng));
            }
        }
        "ZREM" => a.push(member(rng)),
        _ => {
            a.push(lex_bound(rng));
            a.push(lex_bound(rng));
            if name == "ZRANGE" {
                push(a, "BYLEX");
                if rng.gen_bool(0.3) {
                    push(a, "REV");
                }
            }
            if name != "ZLEXCOUNT" && name != "ZREMRANGEBYLEX" && rng.gen_bool(0.4) {
                push(a, "LIMIT");
                push(a, rng.gen_range(-1i64..3).to_string());
                push(a, rng.gen_range(-1i64..3).to_string());
            }
        }
    }
}

fn check_pair(ours: &[u8], theirs: &[u8], cmp: &Cmp, ctx: &str) {
    match cmp {
        Cmp::Exact => assert_eq!(show(ours), show(theirs), "{ctx}"),
        Cmp::Random => match (parsed(ours), parsed(theirs)) {
            (R::Agg(ka, va), R::Agg(kb, vb)) => {
                assert_eq!((ka, va.len()), (kb, vb.len()), "{ctx}")
            }
            (R::Bulk(x), R::Bulk(y)) => assert_eq!(x.is_some(), y.is_some(), "{ctx}"),
            (x, y) => assert_eq!(format!("{x:?}"), format!("{y:?}"), "{ctx}"),
        },
    }
}

/// Every member/score pair a ZSCAN returns, cursor 0 to 0.
fn full_scan(c: &mut RawConn, argv: &[Vec<u8>]) -> BTreeSet<(R, R)> {
    let mut seen = BTreeSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let mut args = argv.to_vec();
        args[2] = cursor.clone();
        let page = elements(&parsed(&c.cmd(&args)));
        let items = elements(&page[1]);
        for p in items.chunks(2) {
            seen.insert((p[0].clone(), p[1].clone()));
        }
        match &page[0] {
            R::Bulk(Some(next)) if next != b"0" => cursor = next.clone(),
            _ => return seen,
        }
    }
}

fn ctx_of(threads: usize, resp3: bool, step: usize, argv: &[Vec<u8>]) -> String {
    format!(
        "threads {threads} resp3 {resp3} step {step}: {:?}",
        argv.iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect::<Vec<_>>()
    )
}

#[test]
fn differential_against_redis() {
    for threads in [1, 2] {
        for resp3 in [false, true] {
            let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
            let (mut a, mut b) = (ringkv.raw(), redis.raw());
            for c in [&mut a, &mut b] {
                if resp3 {
                    c.cmd(&["HELLO", "3"]);
                }
                c.cmd(&["SET", "str", "x"]);
                c.cmd(&["SADD", "set", "m1", "3", "m5"]);
            }
            let mut rng = StdRng::seed_from_u64(16 + threads as u64 * 2 + resp3 as u64);
            for step in 0..3000 {
                if step == 1500 {
                    for c in [&mut a, &mut b] {
                        for (k, v) in [
                            ("zset-max-listpack-entries", "4"),
                            ("zset-max-ziplist-value", "8"),
                        ] {
                            assert_eq!(c.cmd(&["CONFIG", "SET", k, v]), b"+OK\r\n");
                        }
                    }
                }
                let (argv, cmp) = random_command(&mut rng);
                let ctx = ctx_of(threads, resp3, step, &argv);
                if argv[0] == b"ZSCAN"
                    && b.cmd(&[b"OBJECT".as_slice(), b"ENCODING", &argv[1]])
                        == b"$8\r\nskiplist\r\n"
                {
                    assert_eq!(full_scan(&mut a, &argv), full_scan(&mut b, &argv), "{ctx}");
                    continue;
                }
                let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
                check_pair(&ours, &theirs, &cmp, &ctx);
            }
            // The final state agrees too.
            for k in KEYS.iter().chain(["lx"].iter()) {
                for probe in [
                    vec!["ZRANGE", k, "0", "-1", "WITHSCORES"],
                    vec!["OBJECT", "ENCODING", k],
                    vec!["TYPE", k],
                ] {
                    assert_eq!(show(&a.cmd(&probe)), show(&b.cmd(&probe)), "{probe:?}");
                }
            }
        }
    }
}

#[test]
fn command_info_matches_redis() {
    common::assert_command_info_like_redis(&[
        "zadd",
        "zincrby",
        "zrem",
        "zcard",
        "zcount",
        "zlexcount",
        "zscore",
        "zmscore",
        "zrank",
        "zrevrank",
        "zrange",
        "zrangebyscore",
        "zrevrangebyscore",
        "zrangebylex",
        "zrevrangebylex",
        "zrevrange",
        "zrangestore",
        "zremrangebyrank",
        "zremrangebyscore",
        "zremrangebylex",
        "zpopmin",
        "zpopmax",
        "zmpop",
        "bzpopmin",
        "bzpopmax",
        "bzmpop",
        "zrandmember",
        "zunion",
        "zinter",
        "zdiff",
        "zintercard",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zscan",
    ]);
}

/// Members move between two sorted sets on different shards in
/// transactions (ZREM here, ZADD there) while ZUNIONSTORE copies both into
/// a third; observers always see exactly N members in the union, none in
/// the intersection, and 0 or N in the stored copy.
#[test]
fn cross_shard_algebra_is_never_seen_half_done() {
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
        c.cmd(&["ZADD", &ka, &i.to_string(), &format!("m{i}")]);
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
                    let i = rng.gen_range(0..N);
                    let m = format!("m{i}");
                    let (from, to) = if rng.gen_bool(0.5) {
                        (ka, kb)
                    } else {
                        (kb, ka)
                    };
                    c.cmd(&["MULTI"]);
                    c.cmd(&["ZREM", from.as_str(), &m]);
                    c.cmd(&["ZADD", to.as_str(), &i.to_string(), &m]);
                    // A move that found nothing to remove must add nothing.
                    let r = c.cmd(&["EXEC"]);
                    if r.starts_with(b"*2\r\n:0\r\n:1") {
                        c.cmd(&["ZREM", to.as_str(), &m]);
                        c.cmd(&["ZADD", from.as_str(), &i.to_string(), &m]);
                    }
                    c.cmd(&["ZUNIONSTORE", ku.as_str(), "2", ka.as_str(), kb.as_str()]);
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
                    let both = count(c.cmd(&["ZUNION", "2", ka.as_str(), kb.as_str()]));
                    let stored = c.cmd(&["ZCARD", ku.as_str()]);
                    let inter = c.cmd(&["ZINTERCARD", "2", ka.as_str(), kb.as_str()]);
                    seen.fetch_add(1, Ordering::Relaxed);
                    let ok = both == N
                        && (stored == b":0\r\n" || stored == format!(":{N}\r\n").as_bytes())
                        && inter == b":0\r\n";
                    if !ok {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(4));
        stop.store(true, Ordering::Relaxed);
    });
    assert!(seen.load(Ordering::Relaxed) > 100, "too few observations");
    assert_eq!(
        torn.load(Ordering::Relaxed),
        0,
        "a half-done move or ZUNIONSTORE was seen"
    );
}
