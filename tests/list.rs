//! List commands through the real binary: a seeded differential run
//! against redis-server over every list command (replies byte for byte,
//! errors included; the blocking ones with short timeouts, so that they
//! answer at once or time out), RESP2 and RESP3, one and two shards, with
//! small node fills so that lists span many nodes, and again with
//! compressed nodes (`list-compress-depth 1`); then the lists' whole
//! contents compared; MEMORY USAGE with and without compression; an AOF
//! replay of list writes.

mod common;

use common::persist::{aof_ringkv, kill9, TempDir};
use common::{show, RawConn, RedisServer, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KEYS: [&str; 5] = ["l1", "l2", "{l1}x", "str", "nokey"];

fn element(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..12) {
        0 => b"-0".to_vec(),
        1 => b"01".to_vec(),
        2 => Vec::new(),
        3 => i64::MAX.to_string().into_bytes(),
        4 => i64::MIN.to_string().into_bytes(),
        5 => vec![0, 255, b'\r', b'\n'],
        6 => vec![b'w'; rng.gen_range(60..300)],
        7 => (70000 + rng.gen_range(0..3)).to_string().into_bytes(),
        _ => format!("e{}", rng.gen_range(0..6)).into_bytes(),
    }
}

fn index(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => b"x".to_vec(),
        1 => i64::MIN.to_string().into_bytes(),
        2 => i64::MAX.to_string().into_bytes(),
        _ => rng.gen_range(-12i64..12).to_string().into_bytes(),
    }
}

fn random_command(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let names = [
        "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "LLEN", "LRANGE", "LINDEX", "LSET",
        "LTRIM", "LREM", "LINSERT", "LPOS", "RPUSH", "LPUSH",
    ];
    if rng.gen_bool(0.25) {
        return multi_key_command(rng);
    }
    let name = names[rng.gen_range(0..names.len())];
    let mut a: Vec<Vec<u8>> = vec![name.as_bytes().to_vec()];
    a.push(KEYS[rng.gen_range(0..KEYS.len())].as_bytes().to_vec());
    match name {
        "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" => {
            for _ in 0..rng.gen_range(1..8) {
                a.push(element(rng));
            }
        }
        "LPOP" | "RPOP" => match rng.gen_range(0..6) {
            0 => {}
            1 => a.push(b"-1".to_vec()),
            2 => {
                a.push(b"1".to_vec());
                a.push(b"2".to_vec());
            }
            _ => a.push(rng.gen_range(0..5).to_string().into_bytes()),
        },
        "LRANGE" | "LTRIM" => {
            a.push(index(rng));
            a.push(index(rng));
        }
        "LINDEX" => a.push(index(rng)),
        "LSET" => {
            a.push(index(rng));
            a.push(element(rng));
        }
        "LREM" => {
            a.push(index(rng));
            a.push(element(rng));
        }
        "LINSERT" => {
            a.push(
                ["BEFORE", "after", "middle"][rng.gen_range(0..3)]
                    .as_bytes()
                    .to_vec(),
            );
            a.push(element(rng));
            a.push(element(rng));
        }
        "LPOS" => {
            a.push(element(rng));
            for _ in 0..rng.gen_range(0..3) {
                let opt = ["RANK", "COUNT", "MAXLEN", "BOGUS"][rng.gen_range(0..4)];
                a.push(opt.as_bytes().to_vec());
                if rng.gen_bool(0.95) {
                    a.push(index(rng));
                }
            }
        }
        _ => {}
    }
    a
}

fn key(rng: &mut StdRng) -> Vec<u8> {
    KEYS[rng.gen_range(0..KEYS.len())].as_bytes().to_vec()
}

fn end(rng: &mut StdRng) -> Vec<u8> {
    let choices = if rng.gen_bool(0.95) { 4 } else { 5 };
    ["LEFT", "right", "RIGHT", "left", "up"][rng.gen_range(0..choices)]
        .as_bytes()
        .to_vec()
}

/// A timeout: mostly short (a blocking command on empty keys then waits
/// 10 ms), sometimes one Redis refuses.
fn timeout(rng: &mut StdRng) -> Vec<u8> {
    ["0.01", "0.01", "0.01", "0.01", "-1", "x", "inf", "1e-5"][rng.gen_range(0..8)]
        .as_bytes()
        .to_vec()
}

/// LMOVE, RPOPLPUSH, LMPOP and the blocking commands over one to three of
/// the keys (on one or both shards), with their options and bad ones.
fn multi_key_command(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let names = [
        "LMOVE",
        "RPOPLPUSH",
        "LMPOP",
        "BLPOP",
        "BRPOP",
        "BLMPOP",
        "BLMOVE",
        "BRPOPLPUSH",
    ];
    let name = names[rng.gen_range(0..names.len())];
    let mut a: Vec<Vec<u8>> = vec![name.as_bytes().to_vec()];
    let keys = |rng: &mut StdRng, n: usize| (0..n).map(|_| key(rng)).collect::<Vec<_>>();
    let mpop_tail = |rng: &mut StdRng, a: &mut Vec<Vec<u8>>| {
        let n = rng.gen_range(1..4);
        let count = if rng.gen_bool(0.05) { 0 } else { n };
        a.push(count.to_string().into_bytes());
        a.extend(keys(rng, n));
        if rng.gen_bool(0.97) {
            a.push(end(rng));
        }
        match rng.gen_range(0..6) {
            0 => a.extend([
                b"COUNT".to_vec(),
                rng.gen_range(1..6).to_string().into_bytes(),
            ]),
            1 => a.extend([b"count".to_vec(), b"0".to_vec()]),
            2 => a.push(b"COUNT".to_vec()),
            _ => {}
        }
    };
    match name {
        "LMOVE" | "BLMOVE" => {
            a.extend(keys(rng, 2));
            a.push(end(rng));
            a.push(end(rng));
            if name == "BLMOVE" {
                a.push(timeout(rng));
            }
        }
        "RPOPLPUSH" | "BRPOPLPUSH" => {
            a.extend(keys(rng, 2));
            if name == "BRPOPLPUSH" {
                a.push(timeout(rng));
            }
        }
        "LMPOP" => mpop_tail(rng, &mut a),
        "BLMPOP" => {
            a.push(timeout(rng));
            mpop_tail(rng, &mut a);
        }
        _ => {
            let n = rng.gen_range(1..4);
            a.extend(keys(rng, n));
            a.push(timeout(rng));
        }
    }
    a
}

fn render(argv: &[Vec<u8>]) -> Vec<String> {
    argv.iter()
        .map(|x| String::from_utf8_lossy(x).into_owned())
        .collect()
}

#[test]
fn differential_against_redis() {
    for threads in [1, 2] {
        for resp3 in [false, true] {
            differential_run(threads, resp3, 0);
        }
    }
}

/// The same run with `list-compress-depth 1` on both servers: nodes
/// holding the long `w` runs are compressed inside each list (ringkv's
/// nodes; Redis's answers do not depend on them).
#[test]
fn differential_with_compressed_nodes() {
    differential_run(1, false, 1);
    differential_run(2, true, 1);
}

/// 3000 random commands on both servers, compared reply by reply, then
/// the lists' contents.
fn differential_run(threads: usize, resp3: bool, depth: usize) {
    let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    let seed = 15 + threads as u64 * 2 + resp3 as u64 + 100 * depth as u64;
    let depth = depth.to_string();
    for c in [&mut a, &mut b] {
        if resp3 {
            c.cmd(&["HELLO", "3"]);
        }
        c.cmd(&["SET", "str", "x"]);
        let set = ["CONFIG", "SET", "list-compress-depth", &depth];
        assert_eq!(c.cmd(&set), b"+OK\r\n");
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..3000 {
        if step == 1000 {
            // Nodes of two elements from here on: every path over node
            // boundaries (ringkv's nodes; Redis's answers are the same
            // whatever its nodes).
            for c in [&mut a, &mut b] {
                let set = ["CONFIG", "SET", "list-max-listpack-size", "2"];
                assert_eq!(c.cmd(&set), b"+OK\r\n");
            }
        }
        let argv = random_command(&mut rng);
        let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
        assert_eq!(
            show(&ours),
            show(&theirs),
            "threads {threads} resp3 {resp3} depth {depth} step {step}: {:?}",
            render(&argv)
        );
    }
    for key in KEYS {
        let range = ["LRANGE", key, "0", "-1"];
        assert_eq!(show(&a.cmd(&range)), show(&b.cmd(&range)), "{key}");
        let ty = ["TYPE", key];
        assert_eq!(show(&a.cmd(&ty)), show(&b.cmd(&ty)), "{key}");
    }
}

/// Lists of thousands of elements over many nodes: LRANGE windows, LINDEX
/// everywhere, LINSERT and LSET splitting nodes, LTRIM and LREM, against
/// redis-server.
#[test]
fn long_lists_against_redis() {
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    let mut rng = StdRng::seed_from_u64(1515);
    let both = |a: &mut RawConn, b: &mut RawConn, argv: &[Vec<u8>]| {
        let (ours, theirs) = (a.cmd(argv), b.cmd(argv));
        assert_eq!(show(&ours), show(&theirs), "{:?}", render(argv));
    };
    let cmd =
        |parts: &[&str]| -> Vec<Vec<u8>> { parts.iter().map(|p| p.as_bytes().to_vec()).collect() };
    for round in 0..4 {
        let mut push = cmd(&["RPUSH", "big"]);
        for i in 0..2000 {
            push.push(format!("v{}", (i * 7 + round) % 500).into_bytes());
        }
        both(&mut a, &mut b, &push);
        both(&mut a, &mut b, &cmd(&["LPUSH", "big", "head", "12345"]));
        for _ in 0..50 {
            let (s, e) = (rng.gen_range(-3000i64..3000), rng.gen_range(-3000i64..3000));
            both(
                &mut a,
                &mut b,
                &cmd(&["LRANGE", "big", &s.to_string(), &e.to_string()]),
            );
            both(&mut a, &mut b, &cmd(&["LINDEX", "big", &s.to_string()]));
            both(
                &mut a,
                &mut b,
                &cmd(&[
                    "LSET",
                    "big",
                    &e.to_string(),
                    &"z".repeat(rng.gen_range(1..400)),
                ]),
            );
            let pivot = format!("v{}", rng.gen_range(0..500));
            both(
                &mut a,
                &mut b,
                &cmd(&["LINSERT", "big", "AFTER", &pivot, "ins"]),
            );
            both(
                &mut a,
                &mut b,
                &cmd(&["LPOS", "big", &pivot, "RANK", "-2", "COUNT", "3"]),
            );
        }
        let v = format!("v{}", round * 3);
        both(&mut a, &mut b, &cmd(&["LREM", "big", "-3", &v]));
        both(&mut a, &mut b, &cmd(&["LREM", "big", "0", "ins"]));
        both(&mut a, &mut b, &cmd(&["LTRIM", "big", "100", "-100"]));
        both(&mut a, &mut b, &cmd(&["LRANGE", "big", "0", "-1"]));
        both(&mut a, &mut b, &cmd(&["LPOP", "big", "333"]));
        both(&mut a, &mut b, &cmd(&["RPOP", "big", "333"]));
        both(&mut a, &mut b, &cmd(&["LLEN", "big"]));
    }
    both(&mut a, &mut b, &cmd(&["LTRIM", "big", "5", "1"]));
    both(&mut a, &mut b, &cmd(&["EXISTS", "big"]));
}

/// `MEMORY USAGE key SAMPLES 0` as a number.
fn memory_usage(c: &mut RawConn, key: &str) -> u64 {
    let reply = c.cmd(&["MEMORY", "USAGE", key, "SAMPLES", "0"]);
    let text = String::from_utf8_lossy(&reply);
    text.trim()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("MEMORY USAGE {key}: {text}"))
}

/// RPUSH of `element-NNNN` for NNNN in `range`, one command.
fn push_numbered(c: &mut RawConn, key: &str, range: std::ops::Range<usize>) {
    let mut argv = vec!["RPUSH".to_string(), key.to_string()];
    argv.extend(range.map(|i| format!("element-{i:04}")));
    assert!(c.cmd(&argv).starts_with(b":"));
}

/// A 10,000-element list of `element-NNNN` at `list-compress-depth` 0 and
/// 1, in ringkv and redis-server: compression saves more than 40% on both;
/// a list made before the depth changed keeps its own (pushes to it stay
/// raw), on both.
#[test]
fn compression_shows_in_memory_usage() {
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    for (name, mut c) in [("ringkv", ringkv.raw()), ("redis", redis.raw())] {
        let at = |c: &mut RawConn, depth: &str, key: &str| {
            let set = ["CONFIG", "SET", "list-compress-depth", depth];
            assert_eq!(c.cmd(&set), b"+OK\r\n");
            push_numbered(c, key, 0..10_000);
            memory_usage(c, key)
        };
        let zero = at(&mut c, "0", "at0");
        let one = at(&mut c, "1", "at1");
        eprintln!("{name}: MEMORY USAGE of 10k element-NNNN: depth 0 {zero}, depth 1 {one}");
        assert!(one < zero * 6 / 10, "{name}: {one} against {zero}");
        let same: Vec<Vec<u8>> = ["at0", "at1"]
            .iter()
            .map(|k| c.cmd(&["LRANGE", k, "0", "-1"]))
            .collect();
        assert_eq!(same[0], same[1], "{name}");
        // "at0" was made at depth 0: twice the elements, twice the bytes.
        push_numbered(&mut c, "at0", 10_000..20_000);
        let grown = memory_usage(&mut c, "at0");
        assert!(grown > zero * 19 / 10, "{name}: {grown} against {zero}");
    }
}

/// List writes, moves and served blocking commands replay from the AOF
/// after kill -9, on another thread count.
#[test]
fn aof_replays_list_writes() {
    let dir = TempDir::new("list-aof-writes");
    let mut server = aof_ringkv(dir.path(), 2, &[]).start();
    let mut c = server.raw();
    let cmds: &[&[&str]] = &[
        &["RPUSH", "q", "a", "b", "c", "d", "e"],
        &["LPUSH", "q", "z"],
        &["LPOP", "q"],
        &["RPOP", "q", "2"],
        &["LINSERT", "q", "BEFORE", "b", "ab"],
        &["LSET", "q", "-1", "last"],
        &["RPUSH", "{q}2", "x", "y", "x"],
        &["LREM", "{q}2", "0", "x"],
        &["RPUSH", "t", "1", "2", "3", "4"],
        &["LTRIM", "t", "1", "2"],
        &["RPUSH", "m", "m1", "m2", "m3", "m4", "m5"],
        &["LMOVE", "m", "{m}d", "LEFT", "RIGHT"],
        &["LMOVE", "m", "t", "RIGHT", "LEFT"],
        &["RPOPLPUSH", "m", "{q}2"],
        &["LMPOP", "2", "nokey", "m", "LEFT", "COUNT", "1"],
    ];
    for argv in cmds {
        let r = c.cmd(argv);
        assert!(!r.starts_with(b"-"), "{argv:?}: {}", show(&r));
    }
    // Blocked clients served by pushes: journaled as the pops and moves
    // they made.
    let mut waiters: Vec<RawConn> = Vec::new();
    for argv in [
        &["BLPOP", "w", "0"][..],
        &["BLMOVE", "w2", "{w2}d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "w3", "t", "0"],
        &["BLMPOP", "0", "1", "w4", "RIGHT", "COUNT", "2"],
    ] {
        let mut w = server.raw();
        w.send(&common::resp(argv));
        waiters.push(w);
    }
    let blocked = |c: &mut RawConn| {
        let info = c.cmd(&["INFO", "clients"]);
        String::from_utf8_lossy(&info).contains("blocked_clients:4")
    };
    let start = std::time::Instant::now();
    while !blocked(&mut c) {
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for key in ["w", "w2", "w3", "w4"] {
        c.cmd(&["RPUSH", key, "x", "y", "z"]);
    }
    let replies: Vec<String> = waiters.iter_mut().map(|w| show(&w.reply())).collect();
    assert_eq!(
        replies,
        [
            show(b"*2\r\n$1\r\nw\r\n$1\r\nx\r\n"),
            show(b"$1\r\nx\r\n"),
            show(b"$1\r\nz\r\n"),
            show(b"*2\r\n$2\r\nw4\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n"),
        ]
    );
    let state = |c: &mut RawConn| -> Vec<Vec<u8>> {
        [
            "q", "{q}2", "t", "m", "{m}d", "w", "w2", "{w2}d", "w3", "w4",
        ]
        .iter()
        .map(|k| c.cmd(&["LRANGE", k, "0", "-1"]))
        .collect()
    };
    let want = state(&mut c);
    assert_eq!(
        show(&want[0]),
        show(b"*4\r\n$1\r\na\r\n$2\r\nab\r\n$1\r\nb\r\n$4\r\nlast\r\n")
    );
    kill9(&mut server);
    let server = aof_ringkv(dir.path(), 3, &[]).start();
    let mut c = server.raw();
    assert_eq!(state(&mut c), want);
}
