//! Hash commands against a real redis-server 7.0: seeded random sequences
//! over every hash command (missing keys, wrong types both ways, bad numbers,
//! HINCRBY overflow, HINCRBYFLOAT inf/nan, empty and binary fields, the
//! listpack → hashtable conversion at both thresholds, also after CONFIG SET),
//! sent as raw RESP over a RESP2 and a RESP3 connection to each server.
//!
//! Replies must be byte-identical, except where Redis leaves the order
//! unspecified: HKEYS/HVALS/HGETALL/HSCAN on a `hashtable` hash compare as
//! multisets (listpack order must match exactly), and HRANDFIELD, random by
//! nature, is checked for shape (length, distinctness, membership; the
//! whole hash in order when the count covers it). HSCAN on a hashtable is
//! iterated to the end on both servers and the sets of pairs compared.
//! `RINGKV_HASH_SEED=N` reruns one seed.

mod common;

use common::reply::{parsed, R};
use common::{show, RawConn, RedisServer, TestServer};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::{BTreeSet, HashSet};

const KEYS: &[&str] = &["h1", "h2", "{t}h3", "h4", "str", "missing"];
const FIELDS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"",
    b"1",
    b"-5",
    b"01",
    b"9223372036854775807",
    b"f\x00\xff\r\n",
    b"long-field-of-exactly-sixty-five-bytes-000000000000000000000000000",
];
const VALUES: &[&[u8]] = &[
    b"0",
    b"1",
    b"-1",
    b"100",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"3.5",
    b"1e3",
    b"abc",
    b"",
    b" 1",
    b"inf",
    b"nan",
    b"x\r\ny\x00",
    b"12345678901234567890123456789012345678901234567890123456789012345",
];
const INCRS: &[&[u8]] = &[
    b"1",
    b"-1",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"abc",
    b"",
    b"1.5",
    b"-0.25",
    b"inf",
    b"-inf",
    b"nan",
    b"1e400",
    b"0x10",
];

/// The reply's elements grouped by `group` (pairs for HGETALL), sorted.
fn multiset(n: &R, group: usize) -> (u8, Vec<Vec<R>>) {
    match n {
        R::Agg(t, items) => {
            let mut g: Vec<Vec<R>> = items.chunks(group).map(<[R]>::to_vec).collect();
            g.sort();
            (*t, g)
        }
        other => (0, vec![vec![other.clone()]]),
    }
}

struct Pair {
    redis: [RawConn; 2],
    ringkv: [RawConn; 2],
}

impl Pair {
    fn new(redis: &RedisServer, ringkv: &TestServer) -> Pair {
        let conns = |port| {
            let (a, mut b) = (RawConn::connect(port), RawConn::connect(port));
            assert!(b.cmd(&["HELLO", "3"]).starts_with(b"%"));
            [a, b]
        };
        Pair {
            redis: conns(redis.port()),
            ringkv: conns(ringkv.port()),
        }
    }

    fn both(&mut self, proto: usize, args: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        (self.redis[proto].cmd(args), self.ringkv[proto].cmd(args))
    }

    fn encoding(&mut self, key: &[u8]) -> Vec<u8> {
        self.redis[0].cmd(&[&b"OBJECT"[..], b"ENCODING", key])
    }

    fn fields(&mut self, key: &[u8]) -> HashSet<Vec<u8>> {
        match parsed(&self.redis[0].cmd(&[&b"HKEYS"[..], key])) {
            R::Agg(_, items) => items
                .into_iter()
                .filter_map(|n| match n {
                    R::Bulk(Some(b)) => Some(b),
                    _ => None,
                })
                .collect(),
            _ => HashSet::new(),
        }
    }

    /// Runs HSCAN to the end on each server; the sets of pairs must match.
    fn full_scan(&mut self, key: &[u8], opts: &[&[u8]], ctx: &str) {
        let mut sets = Vec::new();
        for conn in [&mut self.redis[0], &mut self.ringkv[0]] {
            let (mut cursor, mut set, mut rounds) = (b"0".to_vec(), BTreeSet::new(), 0);
            loop {
                let mut args: Vec<&[u8]> = vec![b"HSCAN", key, &cursor];
                args.extend_from_slice(opts);
                let reply = conn.cmd(&args);
                let R::Agg(_, parts) = parsed(&reply) else {
                    set.insert(vec![R::Line(b'-', reply)]);
                    break;
                };
                let (R::Bulk(Some(next)), R::Agg(_, items)) = (&parts[0], &parts[1]) else {
                    panic!("{ctx}: bad HSCAN reply {}", show(&reply));
                };
                set.extend(items.chunks(2).map(<[R]>::to_vec));
                cursor = next.clone();
                rounds += 1;
                if cursor == b"0" || rounds > 100_000 {
                    break;
                }
            }
            sets.push(set);
        }
        assert!(
            sets[0] == sets[1],
            "{ctx}: HSCAN {opts:?} sets differ ({} vs {})",
            sets[0].len(),
            sets[1].len()
        );
    }
}

/// A reply shown, cut to 300 bytes (replies of big hashes are long).
fn short(b: &[u8]) -> String {
    let s = show(&b[..b.len().min(300)]);
    format!("{s} ({} bytes)", b.len())
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a [u8]]) -> &'a [u8] {
    from[rng.gen_range(0..from.len())]
}

/// One random command (argv).
fn gen(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let key = KEYS[rng.gen_range(0..KEYS.len())].as_bytes();
    let f = |rng: &mut StdRng| pick(rng, FIELDS).to_vec();
    let v = |rng: &mut StdRng| pick(rng, VALUES).to_vec();
    let mut a: Vec<Vec<u8>> = Vec::new();
    let cmd = |a: &mut Vec<Vec<u8>>, name: &str| a.push(name.as_bytes().to_vec());
    match rng.gen_range(0..32) {
        0..=4 => {
            cmd(&mut a, if rng.gen_bool(0.8) { "HSET" } else { "HMSET" });
            a.push(key.to_vec());
            for _ in 0..rng.gen_range(1..4) {
                a.push(f(rng));
                a.push(v(rng));
            }
            if rng.gen_bool(0.05) {
                a.pop(); // odd: wrong number of arguments
            }
        }
        5 => {
            cmd(&mut a, "HSET");
            a.push(key.to_vec());
            // Enough fields to cross hash-max-listpack-entries at times.
            let n = rng.gen_range(1..12) * rng.gen_range(1..60);
            for i in 0..n {
                a.push(format!("bulk{i}").into_bytes());
                a.push(i.to_string().into_bytes());
            }
        }
        6 => {
            cmd(&mut a, "HSETNX");
            a.extend([key.to_vec(), f(rng), v(rng)]);
        }
        7..=8 => {
            cmd(&mut a, "HGET");
            a.extend([key.to_vec(), f(rng)]);
        }
        9 => {
            cmd(&mut a, "HMGET");
            a.push(key.to_vec());
            (0..rng.gen_range(1..4)).for_each(|_| a.push(f(rng)));
        }
        10..=11 => {
            cmd(&mut a, "HDEL");
            a.push(key.to_vec());
            (0..rng.gen_range(1..4)).for_each(|_| a.push(f(rng)));
        }
        12 => {
            cmd(
                &mut a,
                ["HLEN", "HKEYS", "HVALS", "HGETALL"][rng.gen_range(0..4)],
            );
            a.push(key.to_vec());
        }
        13 => {
            cmd(&mut a, ["HSTRLEN", "HEXISTS"][rng.gen_range(0..2)]);
            a.extend([key.to_vec(), f(rng)]);
        }
        14..=16 => {
            cmd(&mut a, "HINCRBY");
            a.extend([key.to_vec(), f(rng), pick(rng, INCRS).to_vec()]);
        }
        17..=18 => {
            cmd(&mut a, "HINCRBYFLOAT");
            a.extend([key.to_vec(), f(rng), pick(rng, INCRS).to_vec()]);
        }
        19..=20 => {
            cmd(&mut a, "HRANDFIELD");
            a.push(key.to_vec());
            if rng.gen_bool(0.8) {
                let counts = [
                    "0",
                    "1",
                    "2",
                    "5",
                    "-3",
                    "-20",
                    "100",
                    "abc",
                    "-9223372036854775808",
                    "9223372036854775807",
                ];
                a.push(counts[rng.gen_range(0..counts.len())].as_bytes().to_vec());
                match rng.gen_range(0..6) {
                    0..=2 => a.push(b"WITHVALUES".to_vec()),
                    3 => a.push(b"bogus".to_vec()),
                    _ => {}
                }
            }
        }
        21..=22 => {
            cmd(&mut a, "HSCAN");
            a.push(key.to_vec());
            a.push(
                ["0", "abc", "-1", "18446744073709551616"][rng.gen_range(0..4)]
                    .as_bytes()
                    .to_vec(),
            );
            match rng.gen_range(0..5) {
                0 => a.extend([b"MATCH".to_vec(), b"b*".to_vec()]),
                1 => a.extend([b"COUNT".to_vec(), b"3".to_vec()]),
                2 => a.extend([b"COUNT".to_vec(), b"0".to_vec()]),
                3 => a.extend([b"TYPE".to_vec(), b"hash".to_vec()]),
                _ => {}
            }
        }
        23 => {
            // String commands against hashes (and a string key).
            let c = ["GET", "STRLEN", "INCR", "GETDEL", "TYPE", "EXISTS"][rng.gen_range(0..6)];
            cmd(&mut a, c);
            a.push(key.to_vec());
        }
        24 => {
            cmd(&mut a, ["APPEND", "GETSET", "SETNX"][rng.gen_range(0..3)]);
            a.extend([key.to_vec(), v(rng)]);
        }
        25 => {
            cmd(&mut a, "MGET");
            a.extend([b"h1".to_vec(), b"str".to_vec(), b"missing".to_vec()]);
        }
        26 => {
            cmd(&mut a, "SET");
            a.extend([b"str".to_vec(), v(rng)]);
        }
        27 => {
            cmd(&mut a, "DEL");
            a.push(key.to_vec());
        }
        28 => {
            cmd(&mut a, "CONFIG");
            a.push(b"SET".to_vec());
            if rng.gen_bool(0.5) {
                let n = ["2", "4", "16", "128", "512"][rng.gen_range(0..5)];
                let name =
                    ["hash-max-listpack-entries", "hash-max-ziplist-entries"][rng.gen_range(0..2)];
                a.extend([name.as_bytes().to_vec(), n.as_bytes().to_vec()]);
            } else {
                let n = ["1", "3", "8", "64"][rng.gen_range(0..4)];
                a.extend([b"hash-max-listpack-value".to_vec(), n.as_bytes().to_vec()]);
            }
        }
        29 => {
            cmd(&mut a, "OBJECT");
            a.extend([b"ENCODING".to_vec(), key.to_vec()]);
        }
        30 => {
            cmd(&mut a, ["HGET", "HSETNX", "HLEN"][rng.gen_range(0..3)]);
            a.push(key.to_vec()); // wrong arity for HGET/HSETNX
        }
        _ => {
            cmd(&mut a, "HSET");
            a.extend([key.to_vec(), f(rng), pick(rng, VALUES).to_vec()]);
        }
    }
    a
}

/// Commands whose reply order Redis leaves unspecified on a hashtable.
fn group_of(name: &[u8]) -> Option<usize> {
    match name.to_ascii_uppercase().as_slice() {
        b"HKEYS" | b"HVALS" => Some(1),
        b"HGETALL" => Some(2),
        _ => None,
    }
}

fn check_hrandfield(p: &mut Pair, argv: &[&[u8]], r: &[u8], k: &[u8], ctx: &str) {
    if r.starts_with(b"-") || k.starts_with(b"-") {
        assert_eq!(short(r), short(k), "{ctx}");
        return;
    }
    let (rn, kn) = (parsed(r), parsed(k));
    let count: Option<i64> = argv
        .get(2)
        .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap());
    let withvalues = argv.len() == 4;
    let fields = p.fields(argv[1]);
    let flat = |n: &R| -> Vec<R> {
        match n {
            R::Agg(_, items) => items.clone(),
            other => vec![other.clone()],
        }
    };
    let (ri, ki) = (flat(&rn), flat(&kn));
    assert_eq!(ri.len(), ki.len(), "{ctx}: {} vs {}", short(r), short(k));
    let names = |items: &[R]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let step = if withvalues && !matches!(items.first(), Some(R::Agg(..))) {
            2
        } else {
            1
        };
        for it in items.iter().step_by(step) {
            match it {
                R::Bulk(Some(b)) => out.push(b.clone()),
                R::Agg(_, pair) => match &pair[0] {
                    R::Bulk(Some(b)) => out.push(b.clone()),
                    other => panic!("{ctx}: {other:?}"),
                },
                R::Bulk(None) | R::Line(b'_', _) => {}
                other => panic!("{ctx}: {other:?}"),
            }
        }
        out
    };
    let kn_names = names(&ki);
    for f in &kn_names {
        assert!(fields.contains(f), "{ctx}: {} not a field", show(f));
    }
    if count.is_some_and(|c| c > 1) {
        let distinct: HashSet<_> = kn_names.iter().collect();
        assert_eq!(
            distinct.len(),
            kn_names.len(),
            "{ctx}: repeats in {}",
            short(k)
        );
        if count.unwrap() as usize >= fields.len() && p.encoding(argv[1]) == b"$8\r\nlistpack\r\n" {
            assert_eq!(short(r), short(k), "{ctx}: whole listpack hash in order");
        }
    }
}

/// Runs one seed; returns how many commands met a hashtable-encoded key.
fn run_seed(seed: u64, redis: &RedisServer, ringkv: &TestServer, steps: usize) -> usize {
    let mut on_tables = 0;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut p = Pair::new(redis, ringkv);
    for (i, proto) in [0usize, 1].iter().enumerate() {
        for c in [&mut p.redis[*proto], &mut p.ringkv[*proto]] {
            if i == 0 {
                assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
                for (n, v) in [
                    ("hash-max-listpack-entries", "512"),
                    ("hash-max-listpack-value", "64"),
                ] {
                    assert_eq!(c.cmd(&["CONFIG", "SET", n, v]), b"+OK\r\n");
                }
            }
        }
    }
    for step in 0..steps {
        let argv = gen(&mut rng);
        let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let proto = rng.gen_range(0..2);
        let ctx = format!(
            "seed {seed} step {step} resp{} {:?}",
            proto + 2,
            argv.iter()
                .map(|a| show(&a[..a.len().min(40)]))
                .collect::<Vec<_>>()
        );
        let name = argv[0].to_ascii_uppercase();
        let key = argv.get(1).copied().unwrap_or_default();
        let enc = p.encoding(key);
        let table = enc == b"$9\r\nhashtable\r\n";
        on_tables += table as usize;
        let (r, k) = p.both(proto, &argv);
        if name == b"HRANDFIELD" {
            check_hrandfield(&mut p, &argv, &r, &k, &ctx);
        } else if let (Some(g), true, false) = (group_of(&name), table, r.starts_with(b"-")) {
            assert!(
                multiset(&parsed(&r), g) == multiset(&parsed(&k), g),
                "{ctx}: {} vs {}",
                short(&r),
                short(&k)
            );
        } else if name == b"HSCAN" && table && !r.starts_with(b"-") {
            let opts: Vec<&[u8]> = argv[3..].to_vec();
            p.full_scan(key, &opts, &ctx);
        } else {
            assert_eq!(short(&r), short(&k), "{ctx}");
        }
        if step % 16 == 0 {
            for key in KEYS {
                let e = p.encoding(key.as_bytes());
                let got = p.ringkv[0].cmd(&["OBJECT", "ENCODING", key]);
                assert_eq!(short(&e), short(&got), "{ctx}: encoding of {key}");
                let (a, b) = p.both(0, &[b"HLEN", key.as_bytes()]);
                assert_eq!(short(&a), short(&b), "{ctx}: HLEN {key}");
            }
        }
    }
    on_tables
}

#[test]
fn random_hash_sequences_match_redis() {
    let redis = RedisServer::start();
    let ringkv = TestServer::start(2);
    let seeds: Vec<u64> = match std::env::var("RINGKV_HASH_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (1..=12).collect(),
    };
    let mut on_tables = 0;
    for seed in seeds {
        on_tables += run_seed(seed, &redis, &ringkv, 600);
    }
    assert!(on_tables > 0, "no command met a hashtable-encoded hash");
}

#[test]
fn command_info_matches_redis() {
    let redis = RedisServer::start();
    let ringkv = TestServer::start(1);
    let (mut r, mut k) = (
        RawConn::connect(redis.port()),
        RawConn::connect(ringkv.port()),
    );
    for c in [
        "hset",
        "hsetnx",
        "hget",
        "hmget",
        "hmset",
        "hdel",
        "hlen",
        "hstrlen",
        "hexists",
        "hkeys",
        "hvals",
        "hgetall",
        "hincrby",
        "hincrbyfloat",
        "hrandfield",
        "hscan",
    ] {
        // The first seven fields: name, arity, flags, first, last, step, ACL categories.
        let head = |reply: Vec<u8>| match parsed(&reply) {
            R::Agg(_, outer) => match &outer[0] {
                R::Agg(_, fields) => fields[..7].to_vec(),
                other => panic!("{c}: {other:?}"),
            },
            other => panic!("{c}: {other:?}"),
        };
        let want = head(r.cmd(&["COMMAND", "INFO", c]));
        let got = head(k.cmd(&["COMMAND", "INFO", c]));
        assert_eq!(got, want, "COMMAND INFO {c}");
    }
}

#[test]
fn conversion_thresholds_match_redis() {
    let redis = RedisServer::start();
    let ringkv = TestServer::start(1);
    let mut p = Pair::new(&redis, &ringkv);
    let check = |p: &mut Pair, argv: &[&[u8]], ctx: &str| {
        let table = p.encoding(argv[1]) == b"$9\r\nhashtable\r\n";
        let (r, k) = p.both(0, argv);
        match group_of(argv[0]) {
            Some(g) if table => {
                assert!(
                    multiset(&parsed(&r), g) == multiset(&parsed(&k), g),
                    "{ctx}"
                )
            }
            _ => assert_eq!(short(&r), short(&k), "{ctx}"),
        }
    };
    for (entries, value) in [(512usize, 64usize), (4, 8), (1, 1), (0, 0)] {
        for (n, v) in [
            ("hash-max-listpack-entries", entries),
            ("hash-max-listpack-value", value),
        ] {
            check(
                &mut p,
                &[b"CONFIG", b"SET", n.as_bytes(), v.to_string().as_bytes()],
                "config",
            );
        }
        for len in [value, value + 1] {
            let ctx = format!("entries {entries} value {value} len {len}");
            check(&mut p, &[b"DEL", b"v"], &ctx);
            check(&mut p, &[b"HSET", b"v", b"f", &vec![b'x'; len]], &ctx);
            check(&mut p, &[b"OBJECT", b"ENCODING", b"v"], &ctx);
            check(&mut p, &[b"DEL", b"v"], &ctx);
            check(
                &mut p,
                &[b"HINCRBY", b"v", &vec![b'7'; len.max(1)], b"1"],
                &ctx,
            );
            check(&mut p, &[b"OBJECT", b"ENCODING", b"v"], &ctx);
        }
        check(&mut p, &[b"DEL", b"n"], "n");
        for i in 0..=entries + 1 {
            let f = format!("f{i}");
            check(&mut p, &[b"HSET", b"n", f.as_bytes(), b"1"], &f);
            check(&mut p, &[b"OBJECT", b"ENCODING", b"n"], &f);
            check(&mut p, &[b"HGETALL", b"n"], &f);
        }
        // Never back: deleting down to one field keeps the hashtable.
        for i in 1..=entries + 1 {
            check(&mut p, &[b"HDEL", b"n", format!("f{i}").as_bytes()], "hdel");
        }
        check(&mut p, &[b"OBJECT", b"ENCODING", b"n"], "after hdel");
    }
}
