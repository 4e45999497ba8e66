//! Bitmaps, BITFIELD and LCS through the real binary: a seeded
//! differential run against redis-server (SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP, BITFIELD, BITFIELD_RO, LCS mixed with SET, APPEND, GET
//! and DEL on a few keys, a list for WRONGTYPE, a missing key, negative,
//! huge and malformed arguments), replies byte for byte, RESP2 and RESP3,
//! one and two shards, then GET of every key; fixed edge cases; BITOP
//! and LCS over keys on different shards; COMMAND INFO.

mod common;

use common::persist::{aof_ringkv, kill9, TempDir};
use common::{show, tags_on_different_shards, RawConn, RedisServer, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KEYS: [&str; 7] = ["b1", "b2", "{b1}x", "b3", "str", "lst", "nokey"];

fn key(rng: &mut StdRng) -> String {
    KEYS[rng.gen_range(0..KEYS.len())].to_string()
}

/// A bit offset: mostly small, sometimes at the limits or malformed.
/// `write` leaves out the valid huge ones (a 512 MB string).
fn offset(rng: &mut StdRng, write: bool) -> String {
    match rng.gen_range(0..20) {
        0 => "-1".into(),
        1 => "4294967296".into(),
        2 => "x".into(),
        3 if !write => "4294967295".into(),
        4 => "01".into(),
        _ => rng.gen_range(0..260).to_string(),
    }
}

fn index(rng: &mut StdRng) -> String {
    match rng.gen_range(0..12) {
        0 => "x".into(),
        1 => i64::MIN.to_string(),
        2 => i64::MAX.to_string(),
        _ => rng.gen_range(-40..40).to_string(),
    }
}

fn unit(rng: &mut StdRng) -> String {
    ["BIT", "BYTE", "bit", "byte", "BITS"][rng.gen_range(0..5)].into()
}

fn value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..6) {
        0 => rng.gen_range(-1000..100000).to_string().into_bytes(),
        1 => Vec::new(),
        2 => (0..rng.gen_range(1..30)).map(|_| rng.gen()).collect(),
        _ => (0..rng.gen_range(1..30))
            .map(|_| b"abcde\xff\x00"[rng.gen_range(0..7)])
            .collect(),
    }
}

fn field_type(rng: &mut StdRng) -> String {
    match rng.gen_range(0..14) {
        0 => ["u64", "i65", "i0", "x8", "u", "i08", "I8"][rng.gen_range(0..7)].into(),
        1 => "i64".into(),
        2 => "u63".into(),
        3 => "i1".into(),
        s if s % 2 == 0 => format!("i{}", rng.gen_range(1..=64)),
        _ => format!("u{}", rng.gen_range(1..=63)),
    }
}

fn field_offset(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => format!("#{}", rng.gen_range(0..6)),
        1 => "-3".into(),
        2 => "#-1".into(),
        _ => rng.gen_range(0..200).to_string(),
    }
}

fn field_value(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => i64::MAX.to_string(),
        1 => i64::MIN.to_string(),
        2 => "nan".into(),
        3 => (1i64 << rng.gen_range(0..63)).to_string(),
        4 => (-(1i64 << rng.gen_range(0..63))).to_string(),
        _ => rng.gen_range(-300..300).to_string(),
    }
}

fn bitfield(rng: &mut StdRng, a: &mut Vec<Vec<u8>>, ro: bool) {
    for _ in 0..rng.gen_range(0..5) {
        let sub = match rng.gen_range(0..10) {
            0..=3 => "GET",
            4 | 5 if !ro || rng.gen_bool(0.2) => "SET",
            6 | 7 if !ro || rng.gen_bool(0.2) => "INCRBY",
            8 => "OVERFLOW",
            9 if rng.gen_bool(0.3) => "BOGUS",
            _ => "get",
        };
        a.push(sub.into());
        match sub {
            "OVERFLOW" => {
                a.push(["WRAP", "SAT", "FAIL", "fail", "NONE"][rng.gen_range(0..5)].into())
            }
            "BOGUS" => {}
            _ => {
                a.push(field_type(rng).into_bytes());
                a.push(field_offset(rng).into_bytes());
                if sub != "GET" && sub != "get" {
                    a.push(field_value(rng).into_bytes());
                }
            }
        }
        // Now and then a truncated operation.
        if rng.gen_range(0..30) == 0 {
            a.pop();
        }
    }
}

fn random_command(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let mut a: Vec<Vec<u8>> = Vec::new();
    let push = |a: &mut Vec<Vec<u8>>, s: &str| a.push(s.as_bytes().to_vec());
    match rng.gen_range(0..24) {
        0..=3 => {
            push(&mut a, "SETBIT");
            push(&mut a, &key(rng));
            push(&mut a, &offset(rng, true));
            push(
                &mut a,
                ["0", "1", "1", "0", "2", "-1", "x"][rng.gen_range(0..7)],
            );
        }
        4 | 5 => {
            push(&mut a, "GETBIT");
            push(&mut a, &key(rng));
            push(&mut a, &offset(rng, false));
        }
        6 | 7 => {
            push(&mut a, "BITCOUNT");
            push(&mut a, &key(rng));
            match rng.gen_range(0..5) {
                0 => {}
                1 => push(&mut a, &index(rng)),
                _ => {
                    push(&mut a, &index(rng));
                    push(&mut a, &index(rng));
                    if rng.gen_bool(0.5) {
                        push(&mut a, &unit(rng));
                    }
                    if rng.gen_range(0..10) == 0 {
                        push(&mut a, "BIT");
                    }
                }
            }
        }
        8 | 9 => {
            push(&mut a, "BITPOS");
            push(&mut a, &key(rng));
            push(&mut a, ["0", "1", "0", "1", "2", "x"][rng.gen_range(0..6)]);
            let n = rng.gen_range(0..5);
            if n >= 1 {
                push(&mut a, &index(rng));
            }
            if n >= 2 {
                push(&mut a, &index(rng));
            }
            if n >= 3 {
                push(&mut a, &unit(rng));
            }
            if n >= 4 && rng.gen_bool(0.3) {
                push(&mut a, "BIT");
            }
        }
        10..=12 => {
            push(&mut a, "BITOP");
            push(
                &mut a,
                ["AND", "OR", "XOR", "NOT", "and", "xor", "nand"][rng.gen_range(0..7)],
            );
            push(&mut a, &key(rng));
            for _ in 0..rng.gen_range(1..4) {
                push(&mut a, &key(rng));
            }
        }
        13 | 14 => {
            push(&mut a, "BITFIELD");
            push(&mut a, &key(rng));
            bitfield(rng, &mut a, false);
        }
        15 => {
            push(&mut a, "BITFIELD_RO");
            push(&mut a, &key(rng));
            bitfield(rng, &mut a, true);
        }
        16 | 17 => {
            push(&mut a, "LCS");
            push(&mut a, &key(rng));
            push(&mut a, &key(rng));
            for _ in 0..rng.gen_range(0..3) {
                match rng.gen_range(0..6) {
                    0 => push(&mut a, "LEN"),
                    1 | 2 => push(&mut a, "IDX"),
                    3 => push(&mut a, "WITHMATCHLEN"),
                    4 => {
                        push(&mut a, "MINMATCHLEN");
                        push(&mut a, ["0", "2", "3", "-1", "x"][rng.gen_range(0..5)]);
                    }
                    _ => push(&mut a, ["BOGUS", "MINMATCHLEN"][rng.gen_range(0..2)]),
                }
            }
        }
        18 | 19 => {
            push(&mut a, "SET");
            push(&mut a, &key(rng));
            a.push(value(rng));
        }
        20 => {
            push(&mut a, "APPEND");
            push(&mut a, &key(rng));
            a.push(value(rng));
        }
        21 => {
            push(&mut a, "GET");
            push(&mut a, &key(rng));
        }
        22 => {
            push(&mut a, "DEL");
            push(&mut a, &key(rng));
        }
        _ => {
            push(&mut a, "RPUSH");
            push(&mut a, "lst");
            push(&mut a, "x");
        }
    }
    a
}

fn readable(argv: &[Vec<u8>]) -> String {
    format!(
        "{:?}",
        argv.iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect::<Vec<_>>()
    )
}

fn setup(c: &mut RawConn, resp3: bool) {
    if resp3 {
        c.cmd(&["HELLO", "3"]);
    }
    c.cmd(&["SET", "str", "ohmytext"]);
    c.cmd(&["SET", "b3", "12345"]);
    c.cmd(&["RPUSH", "lst", "a", "b"]);
}

#[test]
fn differential_against_redis() {
    for threads in [1, 2] {
        for resp3 in [false, true] {
            let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
            let (mut a, mut b) = (ringkv.raw(), redis.raw());
            setup(&mut a, resp3);
            setup(&mut b, resp3);
            let mut rng = StdRng::seed_from_u64(20 + threads as u64 * 2 + resp3 as u64);
            for step in 0..6000 {
                let argv = random_command(&mut rng);
                let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
                assert_eq!(
                    show(&ours),
                    show(&theirs),
                    "threads {threads} resp3 {resp3} step {step}: {}",
                    readable(&argv)
                );
            }
            for k in KEYS {
                for probe in [vec!["GET", k], vec!["TYPE", k], vec!["STRLEN", k]] {
                    assert_eq!(show(&a.cmd(&probe)), show(&b.cmd(&probe)), "{probe:?}");
                }
            }
        }
    }
}

/// Cases worth pinning down, each compared with redis-server.
const SCRIPT: &[&[&str]] = &[
    &["SET", "k", "\u{ff}\u{f0}\0"],
    &["BITPOS", "k", "0"],
    &["BITPOS", "k", "1", "2"],
    &["BITPOS", "k", "0", "0", "-1", "BIT"],
    &["SET", "ones", "\u{ff}\u{ff}"],
    &["BITPOS", "ones", "0"],
    &["BITPOS", "ones", "0", "1"],
    &["BITPOS", "ones", "0", "1", "-1"],
    &["BITPOS", "ones", "0", "3", "-1", "BIT"],
    &["BITPOS", "ones", "0", "3", "BIT"],
    &["BITPOS", "ones", "1", "-5", "-10"],
    &["BITPOS", "ones", "1", "0", "x", "FOO"],
    &["BITPOS", "nokey", "1", "x"],
    &["BITPOS", "ones", "1", "0", "1", "BIT", "extra"],
    &["BITCOUNT", "ones", "-1", "-5", "FOO"],
    &["BITCOUNT", "ones", "-5", "-10"],
    &["BITCOUNT", "ones", "1"],
    &["BITCOUNT", "nokey", "a", "b"],
    &["BITCOUNT", "ones", "5", "100", "BIT"],
    &["SET", "e", ""],
    &["BITPOS", "e", "0"],
    &["BITCOUNT", "e", "0", "-1", "BIT"],
    &["SET", "n", "-12"],
    &["GETBIT", "n", "2"],
    &["SETBIT", "n", "0", "0"],
    &["GET", "n"],
    &["SETBIT", "n", "26", "1"],
    &["GET", "n"],
    &["GETBIT", "n", "4294967295"],
    &["SETBIT", "n", "4294967296", "1"],
    &["SETBIT", "n", "1", "2"],
    &["SETBIT", "n", "x", "2"],
    &["BITFIELD", "bf"],
    &["EXISTS", "bf"],
    &[
        "BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "5",
    ],
    &["STRLEN", "bf"],
    &[
        "BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "GET", "u8", "0",
    ],
    &[
        "BITFIELD",
        "bf",
        "SET",
        "i64",
        "#1",
        "-9223372036854775808",
        "INCRBY",
        "i64",
        "#1",
        "-1",
    ],
    &[
        "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i64", "#1", "-1", "GET", "u63", "1",
    ],
    &[
        "BITFIELD",
        "bf",
        "GET",
        "u8",
        "#536870911",
        "GET",
        "i64",
        "4294967295",
    ],
    &["BITFIELD", "bf", "GET", "u8", "#536870912"],
    &["BITFIELD", "bf", "GET", "u64", "0"],
    &["BITFIELD", "bf", "OVERFLOW", "BAD", "GET", "u8", "0"],
    &["BITFIELD", "bf", "GET", "u8"],
    &["BITFIELD", "bf", "SET", "u8", "0", "x"],
    &["BITFIELD_RO", "bf", "GET", "u8", "0", "SET", "u8", "0", "1"],
    &["BITFIELD_RO", "bf", "SET", "u8", "0", "x"],
    &["BITFIELD_RO", "bf"],
    &["GET", "bf"],
    &["RPUSH", "l", "x"],
    &["BITFIELD", "l", "GET", "u8", "0"],
    &["BITFIELD", "l", "GET", "u99", "0"],
    &["BITFIELD_RO", "l", "SET", "u8", "0", "1"],
    &["SETBIT", "l", "0", "1"],
    &["SETBIT", "l", "-1", "1"],
    &["BITOP", "NOT", "d", "k", "ones"],
    &["BITOP", "NOT", "d", "k"],
    &["GET", "d"],
    &["BITOP", "AND", "d", "k", "ones", "nokey"],
    &["GET", "d"],
    &["BITOP", "OR", "d", "nokey"],
    &["EXISTS", "d"],
    &["BITOP", "OR", "l", "k"],
    &["TYPE", "l"],
    &["BITOP", "XOR", "d", "k", "l2"],
    &["RPUSH", "l2", "x"],
    &["BITOP", "XOR", "d", "k", "l2"],
    &["BITOP", "NAND", "d", "l2"],
    &["OBJECT", "ENCODING", "d"],
    &["SET", "s1", "ohmytext"],
    &["SET", "s2", "mynewtext"],
    &["LCS", "s1", "s2"],
    &["LCS", "s1", "s2", "LEN"],
    &["LCS", "s1", "s2", "IDX"],
    &["LCS", "s1", "s2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    &["LCS", "s1", "s2", "IDX", "LEN"],
    &["LCS", "s1", "s2", "MINMATCHLEN"],
    &["LCS", "s1", "l2", "BOGUS"],
    &["LCS", "nokey", "s2", "IDX", "WITHMATCHLEN"],
    &["SETRANGE", "big", "12000", "x"],
    &["LCS", "big", "big"],
    &["LCS", "big", "s1", "LEN"],
];

#[test]
fn edge_cases_match_redis() {
    for resp3 in [false, true] {
        let (ringkv, redis) = (TestServer::start(2), RedisServer::start());
        let (mut a, mut b) = (ringkv.raw(), redis.raw());
        if resp3 {
            a.cmd(&["HELLO", "3"]);
            b.cmd(&["HELLO", "3"]);
        }
        for argv in SCRIPT {
            // Latin-1 for the test's binary strings: each char one byte.
            let argv: Vec<Vec<u8>> = argv
                .iter()
                .map(|s| s.chars().map(|c| c as u32 as u8).collect())
                .collect();
            assert_eq!(
                show(&a.cmd(&argv)),
                show(&b.cmd(&argv)),
                "resp3 {resp3}: {}",
                readable(&argv)
            );
        }
    }
}

/// BITOP and LCS whose keys live on different shards (sources on one,
/// the destination on the other, and mixed) answer and store as Redis.
#[test]
fn cross_shard_bitop_and_lcs() {
    for threads in [2, 3] {
        let (ta, tb) = tags_on_different_shards(threads);
        let (x, y, z, d) = (
            format!("{{{ta}}}x"),
            format!("{{{tb}}}y"),
            format!("{{{ta}}}z"),
            format!("{{{tb}}}d"),
        );
        let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
        let (mut a, mut b) = (ringkv.raw(), redis.raw());
        let script: Vec<Vec<&str>> = vec![
            vec!["SET", &x, "foobar-foobar-foobar-foobar-foobar-foobar"],
            vec!["SET", &y, "abcdef"],
            vec!["SETBIT", &z, "300", "1"],
            vec!["SET", &d, "old"],
            vec!["EXPIRE", &d, "100"],
            vec!["BITOP", "AND", &d, &x, &y],
            vec!["GET", &d],
            vec!["TTL", &d],
            vec!["BITOP", "OR", &d, &x, &y, &z],
            vec!["GET", &d],
            vec!["BITOP", "XOR", &x, &y, &z, &d],
            vec!["GET", &x],
            vec!["BITOP", "NOT", &y, &z],
            vec!["GET", &y],
            vec!["BITOP", "OR", &d, "nokey1", "nokey2"],
            vec!["EXISTS", &d],
            vec!["RPUSH", &d, "l"],
            vec!["BITOP", "AND", &z, &x, &d],
            vec!["LCS", &x, &y],
            vec!["LCS", &x, &y, "IDX", "WITHMATCHLEN"],
            vec!["LCS", &x, &d],
            vec!["BITOP", "OR", &d, &x],
            vec!["TYPE", &d],
            vec!["GET", &d],
            vec!["MULTI"],
            vec!["BITOP", "XOR", &d, &x, &y],
            vec!["SETBIT", &x, "1", "1"],
            vec!["LCS", &x, &d, "LEN"],
            vec!["EXEC"],
        ];
        for argv in &script {
            assert_eq!(
                show(&a.cmd(argv)),
                show(&b.cmd(argv)),
                "threads {threads}: {argv:?}"
            );
        }
    }
}

#[test]
fn command_info_matches_redis() {
    common::assert_command_info_like_redis(&[
        "setbit",
        "getbit",
        "bitcount",
        "bitpos",
        "bitop",
        "bitfield",
        "bitfield_ro",
        "lcs",
    ]);
}

/// Every bitmap write survives an AOF restart under another `--threads`:
/// SETBIT and BITFIELD replay as received, a cross-shard BITOP as the
/// `SET`/`DEL` of its destination.
#[test]
fn writes_replay_from_the_aof() {
    let dir = TempDir::new("bitmap-aof");
    let (ta, tb) = tags_on_different_shards(2);
    let (x, y, d, gone) = (
        format!("{{{ta}}}x"),
        format!("{{{tb}}}y"),
        format!("{{{tb}}}d"),
        format!("{{{tb}}}gone"),
    );
    let mut server = aof_ringkv(dir.path(), 2, &["--appendfsync", "always"]).start();
    let mut c = RawConn::connect(server.port());
    let writes: Vec<Vec<&str>> = vec![
        vec!["SETBIT", &x, "77", "1"],
        vec!["SETBIT", &x, "3", "1"],
        vec!["SETBIT", &x, "3", "1"],
        vec![
            "BITFIELD", &y, "SET", "i12", "5", "-100", "INCRBY", "u4", "#9", "7",
        ],
        vec![
            "BITFIELD", &y, "OVERFLOW", "FAIL", "INCRBY", "u4", "#9", "100",
        ],
        vec!["BITOP", "OR", &d, &x, &y],
        vec!["SET", &gone, "v"],
        vec!["BITOP", "OR", &gone, "nokey1", "nokey2"],
    ];
    for w in &writes {
        c.cmd(w);
    }
    let probes = [&x, &y, &d, &gone];
    let before: Vec<Vec<u8>> = probes.iter().map(|k| c.cmd(&["GET", k.as_str()])).collect();
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 3, &[]).start();
    let mut c = RawConn::connect(server.port());
    for (k, want) in probes.iter().zip(&before) {
        assert_eq!(show(&c.cmd(&["GET", k.as_str()])), show(want), "{k}");
    }
    assert_eq!(c.cmd(&["EXISTS", &gone]), b":0\r\n");
}

/// A write that changes nothing (SETBIT of a bit to its value, BITFIELD
/// writes that all fail) leaves a WATCH undisturbed; one that changes
/// the string aborts the transaction, as in Redis.
#[test]
fn only_real_changes_touch_watched_keys() {
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    for port in [ringkv.port(), redis.port()] {
        let (mut w, mut other) = (RawConn::connect(port), RawConn::connect(port));
        other.cmd(&["SETBIT", "k", "5", "1"]);
        let run = |w: &mut RawConn, other: &mut RawConn, argv: &[&str]| {
            w.cmd(&["WATCH", "k"]);
            other.cmd(argv);
            w.cmd(&["MULTI"]);
            w.cmd(&["PING"]);
            w.cmd(&["EXEC"])
        };
        let ran = b"*1\r\n+PONG\r\n".to_vec();
        let aborted = b"*-1\r\n".to_vec();
        for (argv, want) in [
            (&["SETBIT", "k", "5", "1"][..], &ran),
            (&["SETBIT", "k", "6", "0"][..], &ran),
            (
                &[
                    "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u1", "5", "1",
                ][..],
                &ran,
            ),
            (&["BITFIELD", "k", "SET", "u1", "5", "1"][..], &ran),
            (&["SETBIT", "k", "6", "1"][..], &aborted),
            (&["SETBIT", "k", "100", "0"][..], &aborted),
            (&["BITFIELD", "k", "INCRBY", "u2", "0", "1"][..], &aborted),
        ] {
            assert_eq!(
                show(&run(&mut w, &mut other, argv)),
                show(want),
                "{port} {argv:?}"
            );
        }
    }
}
