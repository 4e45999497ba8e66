//! Cross-shard atomicity and ordering, observed from outside through the real
//! binary: MSET/MGET, RENAME ping-pong, MULTI/EXEC transfers and pipelined
//! writes must never be seen half-done. Each observer is first shown to detect
//! tearing on a deliberately non-atomic sequence, so the checks cannot pass
//! vacuously.

mod common;

use common::{tags_on_different_shards, TestServer};
use redis::Commands;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const RUN_FOR: Duration = Duration::from_secs(5);

fn conn(server: &TestServer) -> redis::Connection {
    server.connection()
}

/// Runs `writer` in 2 threads and `check` in 2 reader threads for RUN_FOR (or
/// until a reader reports a violation); returns the number of violations seen.
fn race(
    server: &TestServer,
    writer: impl Fn(&mut redis::Connection, u64) + Send + Sync + 'static,
    check: impl Fn(&mut redis::Connection) -> bool + Send + Sync + 'static,
) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(AtomicU64::new(0));
    let checks = Arc::new(AtomicU64::new(0));
    let writer = Arc::new(writer);
    let check = Arc::new(check);
    let mut handles = Vec::new();
    for w in 0..2u64 {
        let (stop, writer, mut c) = (stop.clone(), writer.clone(), conn(server));
        handles.push(thread::spawn(move || {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                writer(&mut c, i);
                i += 2;
            }
        }));
    }
    for _ in 0..2 {
        let (stop, check, violations, checks, mut c) = (
            stop.clone(),
            check.clone(),
            violations.clone(),
            checks.clone(),
            conn(server),
        );
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if !check(&mut c) {
                    violations.fetch_add(1, Ordering::Relaxed);
                    stop.store(true, Ordering::Relaxed);
                }
                checks.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let deadline = Instant::now() + RUN_FOR;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("worker thread");
    }
    let violations = violations.load(Ordering::Relaxed);
    assert!(
        violations > 0 || checks.load(Ordering::Relaxed) > 100,
        "observers made too few checks"
    );
    violations
}

fn mget_consistent(keys: Vec<String>) -> impl Fn(&mut redis::Connection) -> bool {
    move |c| {
        let vals: Vec<Option<String>> = c.mget(&keys).expect("MGET");
        let ok = vals.windows(2).all(|w| w[0] == w[1]);
        if !ok {
            eprintln!("torn read: {keys:?} = {vals:?}");
        }
        ok
    }
}

#[test]
fn mset_is_never_seen_half_done() {
    for threads in [2, 4] {
        let server = TestServer::start(threads);
        let (a, b) = tags_on_different_shards(threads);
        let keys = vec![
            format!("{{{a}}}k1"),
            format!("{{{b}}}k2"),
            format!("{{{a}}}k3"),
            format!("{{{b}}}k4"),
        ];
        let k = keys.clone();
        let violations = race(
            &server,
            move |c, i| {
                let pairs: Vec<(String, u64)> = k.iter().map(|key| (key.clone(), i)).collect();
                let _: () = c.mset(&pairs).expect("MSET");
            },
            mget_consistent(keys),
        );
        assert_eq!(
            violations, 0,
            "an MGET saw a torn MSET with --threads {threads}"
        );
    }
}

/// Pipelined MSETs and DEL-then-MSET steps: split commands travel as
/// per-shard parts of one coordinated pipeline step, which must stay atomic
/// for MGET and EXISTS observers.
#[test]
fn pipelined_split_commands_are_never_seen_half_done() {
    for threads in [2, 4] {
        let server = TestServer::start(threads);
        let (a, b) = tags_on_different_shards(threads);
        let keys = vec![
            format!("{{{a}}}p1"),
            format!("{{{b}}}p2"),
            format!("{{{a}}}p3"),
            format!("{{{b}}}p4"),
        ];
        let k = keys.clone();
        let violations = race(
            &server,
            move |c, i| {
                let mut pipe = redis::pipe();
                for v in [i, i + 1] {
                    let pairs: Vec<(String, u64)> = k.iter().map(|key| (key.clone(), v)).collect();
                    pipe.mset(&pairs).ignore();
                }
                pipe.set("unrelated", i).ignore();
                let _: () = pipe.query(c).expect("pipelined MSETs");
            },
            mget_consistent(keys.clone()),
        );
        assert_eq!(
            violations, 0,
            "pipelined MSETs torn with --threads {threads}"
        );

        let k = keys.clone();
        let violations = race(
            &server,
            move |c, i| {
                let pairs: Vec<(String, u64)> = k.iter().map(|key| (key.clone(), i)).collect();
                let _: () = redis::pipe()
                    .del(&k)
                    .ignore()
                    .mset(&pairs)
                    .ignore()
                    .query(c)
                    .expect("DEL then MSET");
            },
            move |c| {
                let n: usize = c.exists(&keys).expect("EXISTS");
                n == 0 || n == keys.len()
            },
        );
        assert_eq!(
            violations, 0,
            "EXISTS saw part of a DEL with --threads {threads}"
        );
    }
}

/// Replies and statistics of split commands inside a pipeline: one reply and
/// one call per command, whatever the number of shards (MGET's values back in
/// key order).
#[test]
fn pipelined_split_commands_reply_once_each() {
    let server = TestServer::start(2);
    let (a, b) = tags_on_different_shards(2);
    let (ka, kb) = (format!("{{{a}}}x"), format!("{{{b}}}y"));
    let mut c = conn(&server);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("RESETSTAT");
    let replies: Vec<redis::Value> = redis::pipe()
        .mset(&[(&ka, "1"), (&kb, "2")])
        .exists(&[&ka, &kb, "missing", &ka])
        .get(&kb)
        .mget(&[&kb, "missing", &ka, &kb])
        .cmd("TOUCH")
        .arg(&ka)
        .arg(&kb)
        .del(&[&ka, "missing", &kb, &ka])
        .exists(&[&ka, &kb])
        .mset(&[(&kb, "3"), (&ka, "4")])
        .unlink(&[&ka, &kb, &kb])
        .query(&mut c)
        .expect("pipeline");
    use redis::Value::{BulkString, Int, Okay};
    assert_eq!(replies.len(), 9);
    assert_eq!(replies[0], Okay);
    assert_eq!(replies[1], Int(3));
    assert_eq!(replies[2], BulkString(b"2".to_vec()));
    assert_eq!(
        replies[3],
        redis::Value::Array(vec![
            BulkString(b"2".to_vec()),
            redis::Value::Nil,
            BulkString(b"1".to_vec()),
            BulkString(b"2".to_vec()),
        ])
    );
    assert_eq!(replies[4], Int(2));
    assert_eq!(replies[5], Int(2));
    assert_eq!(replies[6], Int(0));
    assert_eq!(replies[7], Okay);
    assert_eq!(replies[8], Int(2));
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .expect("INFO");
    for (cmd, calls) in [
        ("mset", 2),
        ("exists", 2),
        ("touch", 1),
        ("del", 1),
        ("unlink", 1),
    ] {
        let line = stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
            .unwrap_or_else(|| panic!("no {cmd} in {stats}"));
        assert!(line.contains(&format!("calls={calls},")), "{line}");
    }
}

#[test]
fn observer_detects_non_atomic_writes() {
    // The same observer against two separate SETs must see tearing: proof that
    // the atomicity tests above can fail.
    let server = TestServer::start(2);
    let (a, b) = tags_on_different_shards(2);
    let keys = vec![format!("{{{a}}}k1"), format!("{{{b}}}k2")];
    let k = keys.clone();
    let violations = race(
        &server,
        move |c, i| {
            let _: () = c.set(&k[0], i).expect("SET");
            let _: () = c.set(&k[1], i).expect("SET");
        },
        mget_consistent(keys),
    );
    assert!(
        violations > 0,
        "the observer never noticed two separate SETs"
    );
}

#[test]
fn rename_ping_pong_keeps_exactly_one_name() {
    for threads in [2, 4] {
        let server = TestServer::start(threads);
        let (a, b) = tags_on_different_shards(threads);
        let (x, y) = (format!("{{{a}}}ping"), format!("{{{b}}}pong"));
        let mut c = conn(&server);
        let _: () = c.set(&x, "ball").unwrap();
        let (x2, y2) = (x.clone(), y.clone());
        let violations = race(
            &server,
            move |c, _| {
                // Whichever name holds the key moves it to the other; a
                // concurrent writer may win the race and leave "no such key".
                let _: redis::RedisResult<()> = c.rename(&x2, &y2);
                let _: redis::RedisResult<()> = c.rename(&y2, &x2);
            },
            move |c| {
                let vals: Vec<Option<String>> = c.mget(&[&x, &y]).expect("MGET");
                vals.iter().filter(|v| v.is_some()).count() == 1
            },
        );
        assert_eq!(
            violations, 0,
            "the key was seen under zero or two names with --threads {threads}"
        );
    }
}

#[test]
fn multi_exec_transfers_keep_the_sum() {
    for threads in [2, 4] {
        let server = TestServer::start(threads);
        let (a, b) = tags_on_different_shards(threads);
        let (x, y) = (format!("{{{a}}}acct"), format!("{{{b}}}acct"));
        let mut c = conn(&server);
        let _: () = c.mset(&[(&x, 1000), (&y, 1000)]).unwrap();
        let (x2, y2) = (x.clone(), y.clone());
        let violations = race(
            &server,
            move |c, i| {
                let amount = (i % 7) as i64 + 1;
                let _: () = redis::pipe()
                    .atomic()
                    .decr(&x2, amount)
                    .incr(&y2, amount)
                    .query(c)
                    .expect("EXEC");
            },
            move |c| {
                let vals: Vec<i64> = c.mget(&[&x, &y]).expect("MGET");
                vals.iter().sum::<i64>() == 2000
            },
        );
        assert_eq!(
            violations, 0,
            "a transfer was seen half-done with --threads {threads}"
        );
    }
}

/// Starts ringkv with an environment switch (for the deliberately broken build).
fn start_with_env(threads: usize, env: &[(&str, &str)]) -> (std::process::Child, u16) {
    let port = common::free_port();
    let mut cmd = std::process::Command::new(common::ringkv_bin());
    cmd.args([
        "--port",
        &port.to_string(),
        "--threads",
        &threads.to_string(),
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn ringkv");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ringkv did not start");
        thread::sleep(Duration::from_millis(10));
    }
    (child, port)
}

/// One connection pipelines `SET a{x} i` then `SET b{y} i` (different shards)
/// for i = 1..; another checks that whenever it sees b = i, a is already ≥ i.
fn pipelined_order_violations(port: u16) -> u64 {
    let (ta, tb) = tags_on_different_shards(2);
    let (a, b) = (format!("a{{{ta}}}"), format!("b{{{tb}}}"));
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut setup = client.get_connection().unwrap();
    let _: () = setup.mset(&[(&a, 0), (&b, 0)]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, a, b, mut c) = (
            stop.clone(),
            a.clone(),
            b.clone(),
            client.get_connection().unwrap(),
        );
        thread::spawn(move || {
            let mut i = 1u64;
            while !stop.load(Ordering::Relaxed) {
                let mut p = redis::pipe();
                for j in i..i + 50 {
                    p.set(&a, j).ignore().set(&b, j).ignore();
                }
                let _: () = p.query(&mut c).expect("pipeline");
                i += 50;
            }
        })
    };
    let mut c = client.get_connection().unwrap();
    let mut violations = 0;
    let deadline = Instant::now() + RUN_FOR;
    while Instant::now() < deadline && violations == 0 {
        let seen_b: u64 = c.get(&b).unwrap();
        let seen_a: u64 = c.get(&a).unwrap();
        if seen_a < seen_b {
            violations += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    violations
}

#[test]
fn pipelined_writes_keep_their_order_across_shards() {
    let (mut child, port) = start_with_env(2, &[]);
    let violations = pipelined_order_violations(port);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        violations, 0,
        "a later pipelined write became visible before an earlier one"
    );
}

#[test]
fn order_observer_detects_a_reordering_build() {
    let (mut child, port) = start_with_env(2, &[("RINGKV_DEBUG_REORDER_PIPELINE", "1")]);
    let violations = pipelined_order_violations(port);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        violations > 0,
        "the order observer never noticed the reordering build"
    );
}

/// 64 clients hammering one key pair on two shards (the hot-pair contention
/// case): every client finishes its fixed number of MSET/MGET, every MSET
/// answers OK and every MGET sees both keys from the same MSET (or neither).
#[test]
fn hot_pair_of_64_clients_all_finish_and_never_see_half_an_mset() {
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 150;
    let server = TestServer::start(2);
    let (a, b) = tags_on_different_shards(2);
    let (k1, k2) = (format!("{{{a}}}hot"), format!("{{{b}}}hot"));
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut conn = server.raw();
            let (k1, k2) = (k1.clone(), k2.clone());
            thread::spawn(move || {
                let (mut ok, mut consistent) = (0usize, 0usize);
                for r in 0..ROUNDS {
                    let v = format!("{c}:{r}");
                    let reply =
                        conn.cmd(&["MSET", k1.as_str(), v.as_str(), k2.as_str(), v.as_str()]);
                    ok += usize::from(reply == b"+OK\r\n");
                    let got = conn.cmd(&["MGET", k1.as_str(), k2.as_str()]);
                    let text = String::from_utf8_lossy(&got).into_owned();
                    let lines: Vec<&str> = text.split("\r\n").collect();
                    // *2 $n v1 $n v2: both values present and equal.
                    let same = lines.len() == 6 && lines[0] == "*2" && lines[2] == lines[4];
                    consistent += usize::from(same);
                }
                (ok, consistent)
            })
        })
        .collect();
    let (mut ok, mut consistent) = (0, 0);
    for h in handles {
        let (o, c) = h.join().expect("client thread");
        ok += o;
        consistent += c;
    }
    let took = started.elapsed();
    assert_eq!(ok, CLIENTS * ROUNDS, "MSETs answered +OK");
    assert_eq!(
        consistent,
        CLIENTS * ROUNDS,
        "MGETs that saw one MSET's pair"
    );
    assert!(took < Duration::from_secs(120), "took {took:?}");
}
