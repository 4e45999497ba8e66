//! Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) and their
//! non-blocking relatives (LMOVE, RPOPLPUSH, LMPOP) through the real binary
//! with four shards. Every reply is compared byte for byte with what Redis 7.0
//! writes (each expectation here passes against redis-server under
//! `RINGKV_TEST_TARGET=redis`): immediate answers, wake-ups by pushes from
//! other connections in the order the clients blocked, waits over keys on
//! different shards, which waiter a pipeline or an EXEC serves, timeouts and
//! their parse errors, CLIENT UNBLOCK, clients that disconnect while blocked,
//! keys recreated with another type, shutdown while clients are blocked.
//! Then a bounded stress run of producers,
//! consumers and BLMOVE chains over all shards: every element arrives exactly
//! once, in push order where one consumer owns a key, and no blocked client is
//! left behind.

mod common;

use common::blocking::*;
use common::reply::{parsed, R};
use common::{resp, show, RawConn, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringkv::slot::SlotTable;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
const NEGATIVE: &[u8] = b"-ERR timeout is negative\r\n";
const NOT_FLOAT: &[u8] = b"-ERR timeout is not a float or out of range\r\n";
const NULL_ARRAY: &[u8] = b"*-1\r\n";
const NULL_BULK: &[u8] = b"$-1\r\n";

/// Every semantic of the blocking list commands on one four-shard server,
/// section by section (each starts from an empty database): see the doc
/// comment of each section function below. The keys `a b c d` live on the
/// four different shards, `{t}a {t}b` and `{q}src {q}dst` on one shard each.
#[test]
fn blocking_semantics() {
    let table = SlotTable::contiguous(4);
    let shard = |k: &str| table.shard_of(k.as_bytes());
    assert_eq!(["a", "b", "c", "d"].map(shard), [3, 0, 1, 2]);
    assert_eq!(shard("{t}a"), shard("{t}b"));
    assert_eq!(shard("{q}src"), shard("{q}dst"));

    let server = TestServer::builder().threads(4).start();
    immediate_pops(&server);
    wakeups_in_blocking_order(&server);
    cross_shard_wakeups(&server);
    pipelined_push_then_pop(&server);
    exec_serves_in_signal_order(&server, "{t}a", "{t}b");
    transactions_never_block(&server);
    timeouts_and_their_errors(&server);
    blmove_and_brpoplpush(&server);
    blmpop(&server);
    non_blocking_moves(&server);
    disconnects_while_blocked(&server);
    client_unblock(&server);
    other_types_do_not_wake(&server);
}

/// An EXEC that pushes `b` then `a` serves a client blocked on `BLPOP a b`
/// from `b`, as Redis does (keys are served in the order they became ready,
/// not in the waiter's argument order), with `a` and `b` on different shards.
#[test]
fn exec_readiness_order_across_shards() {
    let table = SlotTable::contiguous(4);
    assert_ne!(table.shard_of(b"a"), table.shard_of(b"b"));
    let server = TestServer::builder().threads(4).start();
    exec_serves_in_signal_order(&server, "a", "b");
}

/// SIGTERM while clients are blocked (on one shard, on several, in a
/// BLMOVE across shards): the server exits 0 promptly and each blocked
/// client sees its connection closed, as Redis closes them at shutdown.
#[test]
fn shutdown_while_blocked() {
    if common::target_is_redis() {
        return; // The harness stops redis-server by SIGKILL; nothing to compare.
    }
    let mut server = TestServer::builder().threads(4).start();
    let mut ctl = server.raw();
    let mut waiters: Vec<RawConn> = Vec::new();
    for (i, argv) in [
        &["BLPOP", "a", "0"][..],
        &["BLPOP", "a", "b", "c", "d", "0"],
        &["BLMOVE", "c", "d", "LEFT", "RIGHT", "0"],
        &["BLMPOP", "0", "2", "b", "d", "LEFT"],
    ]
    .iter()
    .enumerate()
    {
        waiters.push(waiter(&server, &mut ctl, argv, i + 1));
    }
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", server.log());
    for mut w in waiters {
        w.expect_closed();
    }
}

/// Producers push unique elements over eight queues on four shards while
/// sixteen consumers pop them with BLPOP, BRPOP and BLMPOP over several keys
/// each (short and long timeouts) and BLMOVE/BRPOPLPUSH movers chain queues
/// across shards; meanwhile clients blocked on idle keys are dropped without
/// reading, and a 0.2 s timeout must still fire in time. At the end every
/// element was received exactly once, the keys with a single consumer
/// delivered each producer's elements in push order, and the only blocked
/// clients left are the two parked ones (then none).
#[test]
fn blocking_stress() {
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 2000;
    let queues = ["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7"];
    let table = SlotTable::contiguous(4);
    let shards = queues.map(|q| table.shard_of(q.as_bytes()));
    assert_eq!(shards, [0, 1, 2, 3, 0, 1, 2, 3]);

    let server = TestServer::builder().threads(4).start();
    let mut ctl = server.raw();
    // Two clients blocked for good on keys nobody pushes to, across shards.
    let mut parked = [server.raw(), server.raw()];
    let forms: [&[&str]; 2] = [
        &["BLPOP", "idle0", "idle3", "0"],
        &["BLMOVE", "idle1", "idle2", "RIGHT", "LEFT", "0"],
    ];
    for (n, (p, argv)) in parked.iter_mut().zip(forms).enumerate() {
        block(&mut ctl, p, argv, n + 1);
    }

    // q0 and q1 have one consumer each; q6 has one mover (to q7) and q7 one
    // consumer: those keys deliver each producer's elements in push order.
    // q2..q5 are shared by many consumers and fed by two more movers.
    let consumers: [(&[&str], bool); 16] = [
        (&["BLPOP", "q0", "1"], true),
        (&["BLPOP", "q1", "0.05"], true),
        (&["BLMOVE", "q6", "q7", "LEFT", "RIGHT", "1"], false),
        (&["BLPOP", "q7", "0.05"], true),
        (&["BLMOVE", "q5", "q3", "RIGHT", "LEFT", "0.05"], false),
        (&["BRPOPLPUSH", "q4", "q2", "1"], false),
        (&["BLPOP", "q2", "q3", "1"], false),
        (&["BRPOP", "q3", "q4", "0.05"], false),
        (&["BLPOP", "q4", "q5", "q2", "1"], false),
        (&["BLPOP", "q5", "q3", "0.05"], false),
        (
            &["BLMPOP", "1", "3", "q2", "q4", "q5", "LEFT", "COUNT", "3"],
            false,
        ),
        (
            &["BLMPOP", "0.05", "2", "q3", "q5", "RIGHT", "COUNT", "2"],
            false,
        ),
        (&["BLPOP", "q3", "q2", "q5", "q4", "1"], false),
        (&["BRPOP", "q2", "q5", "0.05"], false),
        (&["BLPOP", "q4", "q3", "1"], false),
        (&["BRPOP", "q5", "q2", "q4", "0.05"], false),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicUsize::new(0));
    let consumer_threads: Vec<_> = consumers
        .iter()
        .map(|&(argv, in_order)| {
            let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
            let (stop, received, conn) = (stop.clone(), received.clone(), server.raw());
            let handle = thread::spawn(move || consume(conn, &argv, &stop, &received));
            (handle, in_order)
        })
        .collect();

    let producer_threads: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let conn = server.raw();
            thread::spawn(move || produce(conn, p, PER_PRODUCER, &queues))
        })
        .collect();

    // Clients dropped while blocked (without reading) on idle keys only, so
    // that no element can be lost with them.
    let dropper = {
        let port = server.port();
        thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(99);
            let forms: [&[&str]; 4] = [
                &["BLPOP", "idle0", "0"],
                &["BLMOVE", "idle1", "idle2", "LEFT", "RIGHT", "0"],
                &["BLMPOP", "0", "2", "idle2", "idle3", "LEFT"],
                &["BRPOP", "idle3", "idle0", "idle1", "0"],
            ];
            for i in 0..24 {
                let mut c = RawConn::connect(port);
                c.send(&resp(forms[i % forms.len()]));
                thread::sleep(Duration::from_millis(rng.gen_range(1..15)));
            }
        })
    };

    // A short timeout still fires in time under the load.
    let mut timed = server.raw();
    for _ in 0..3 {
        let start = Instant::now();
        check(&mut timed, &["BLPOP", "idle4", "0.2"], NULL_ARRAY);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(180) && took < Duration::from_secs(2),
            "BLPOP idle4 0.2 under load took {took:?}"
        );
    }

    let mut produced = Vec::new();
    for h in producer_threads {
        produced.extend(h.join().expect("producer thread"));
    }
    dropper.join().expect("dropper thread");
    assert_eq!(produced.len(), PRODUCERS * PER_PRODUCER);

    // Drain: every element reaches a consumer (bounded wait), no list is left.
    let deadline = Instant::now() + Duration::from_secs(15);
    while received.load(Ordering::SeqCst) < produced.len() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let lengths: Vec<Vec<u8>> = queues.iter().map(|q| ctl.cmd(&["LLEN", q])).collect();
    assert!(
        lengths.iter().all(|l| l == b":0\r\n"),
        "queues not drained after 15 s: {:?} (received {} of {})",
        lengths.iter().map(|l| show(l)).collect::<Vec<_>>(),
        received.load(Ordering::SeqCst),
        produced.len()
    );
    stop.store(true, Ordering::SeqCst);

    let mut counts: HashMap<String, usize> = HashMap::new();
    for (h, in_order) in consumer_threads {
        let got = h.join().expect("consumer thread");
        if in_order {
            assert_push_order(&got);
        }
        for e in got {
            *counts.entry(e).or_default() += 1;
        }
    }
    for e in &produced {
        assert_eq!(counts.remove(e), Some(1), "{e} received once");
    }
    assert!(counts.is_empty(), "never produced: {:?}", counts.keys());

    // The dropped clients left nothing behind: only the parked two are blocked.
    wait_blocked(&mut ctl, 2);
    for p in &mut parked {
        p.expect_silence(SILENCE);
    }
    drop(parked);
    wait_blocked(&mut ctl, 0);
}

// ---- Sections of `blocking_semantics` ----

/// BLPOP/BRPOP on a non-empty key answer at once; over several keys the
/// first non-empty one in argument order wins; a wrong-typed key answers
/// WRONGTYPE unless a non-empty list comes before it.
fn immediate_pops(server: &TestServer) {
    let mut c = fresh(server);
    check(&mut c, &["RPUSH", "a", "x", "y", "z"], b":3\r\n");
    check(&mut c, &["BLPOP", "a", "0"], &pair("a", "x"));
    check(&mut c, &["BRPOP", "a", "0"], &pair("a", "z"));
    check(&mut c, &["RPUSH", "c", "c1", "c2"], b":2\r\n");
    check(&mut c, &["RPUSH", "d", "d1"], b":1\r\n");
    check(&mut c, &["BLPOP", "b", "c", "d", "0"], &pair("c", "c1"));
    check(&mut c, &["BRPOP", "d", "c", "0"], &pair("d", "d1"));
    check(&mut c, &["BLPOP", "b", "d", "c", "0.5"], &pair("c", "c2"));
    check(&mut c, &["EXISTS", "c", "d"], b":0\r\n");
    check(&mut c, &["SET", "s", "str"], b"+OK\r\n");
    check(&mut c, &["BLPOP", "s", "0"], WRONGTYPE);
    check(&mut c, &["BRPOP", "b", "s", "0"], WRONGTYPE);
    check(&mut c, &["BLPOP", "a", "s", "0"], &pair("a", "y"));
}

/// A push from another connection serves a blocked client (the pusher's
/// reply is the length before serving); several clients blocked on one key
/// are served in the order they blocked, each with the element its own
/// direction pops; a client left without an element stays blocked.
fn wakeups_in_blocking_order(server: &TestServer) {
    let mut ctl = fresh(server);
    let mut w = waiter(server, &mut ctl, &["BLPOP", "c", "0"], 1);
    check(&mut ctl, &["RPUSH", "c", "v"], b":1\r\n");
    expect(w.reply(), &pair("c", "v"));
    check(&mut ctl, &["LLEN", "c"], b":0\r\n");
    wait_blocked(&mut ctl, 0);

    let cases: [(&str, &str, [&str; 3]); 3] = [
        ("BLPOP", "RPUSH", ["x", "y", "z"]),
        ("BRPOP", "RPUSH", ["z", "y", "x"]),
        ("BLPOP", "LPUSH", ["z", "y", "x"]),
    ];
    for (pop, push, want) in cases {
        let mut ws: Vec<RawConn> = (1..=3)
            .map(|n| waiter(server, &mut ctl, &[pop, "c", "0"], n))
            .collect();
        check(&mut ctl, &[push, "c", "x", "y", "z"], b":3\r\n");
        for (w, e) in ws.iter_mut().zip(want) {
            expect(w.reply(), &pair("c", e));
        }
        check(&mut ctl, &["EXISTS", "c"], b":0\r\n");
    }

    let mut ws: Vec<RawConn> = (1..=3)
        .map(|n| waiter(server, &mut ctl, &["BLPOP", "c", "0"], n))
        .collect();
    check(&mut ctl, &["RPUSH", "c", "x", "y"], b":2\r\n");
    expect(ws[0].reply(), &pair("c", "x"));
    expect(ws[1].reply(), &pair("c", "y"));
    ws[2].expect_silence(SILENCE);
    wait_blocked(&mut ctl, 1);
    check(&mut ctl, &["RPUSH", "c", "z"], b":1\r\n");
    expect(ws[2].reply(), &pair("c", "z"));
    check(&mut ctl, &["EXISTS", "c"], b":0\r\n");
}

/// A client blocked on keys of different shards is served by whichever key
/// is pushed, and in the order it blocked relative to clients waiting on
/// just one of those keys.
fn cross_shard_wakeups(server: &TestServer) {
    let mut ctl = fresh(server);
    let mut w = waiter(server, &mut ctl, &["BLPOP", "a", "b", "0"], 1);
    check(&mut ctl, &["RPUSH", "b", "v"], b":1\r\n");
    expect(w.reply(), &pair("b", "v"));
    block(&mut ctl, &mut w, &["BLPOP", "a", "b", "0"], 1);
    check(&mut ctl, &["RPUSH", "a", "u"], b":1\r\n");
    expect(w.reply(), &pair("a", "u"));
    block(&mut ctl, &mut w, &["BRPOP", "a", "b", "c", "d", "0"], 1);
    check(&mut ctl, &["RPUSH", "d", "d1", "d2"], b":2\r\n");
    expect(w.reply(), &pair("d", "d2"));
    check(&mut ctl, &["LRANGE", "d", "0", "-1"], &array(&["d1"]));
    check(&mut ctl, &["DEL", "d"], b":1\r\n");

    // w1 waits on a and b, w2 on b alone; w1 blocked first.
    let mut w1 = waiter(server, &mut ctl, &["BLPOP", "a", "b", "0"], 1);
    let mut w2 = waiter(server, &mut ctl, &["BLPOP", "b", "0"], 2);
    check(&mut ctl, &["RPUSH", "b", "x", "y"], b":2\r\n");
    expect(w1.reply(), &pair("b", "x"));
    expect(w2.reply(), &pair("b", "y"));
    block(&mut ctl, &mut w1, &["BLPOP", "a", "b", "0"], 1);
    block(&mut ctl, &mut w2, &["BLPOP", "b", "0"], 2);
    check(&mut ctl, &["RPUSH", "b", "x"], b":1\r\n");
    expect(w1.reply(), &pair("b", "x"));
    w2.expect_silence(SILENCE);
    check(&mut ctl, &["RPUSH", "a", "y"], b":1\r\n");
    w2.expect_silence(SILENCE);
    check(&mut ctl, &["LLEN", "a"], b":1\r\n");
    check(&mut ctl, &["RPUSH", "b", "z"], b":1\r\n");
    expect(w2.reply(), &pair("b", "z"));
    check(&mut ctl, &["EXISTS", "b"], b":0\r\n");
}

/// Blocked clients are served after each command, not after each read: a
/// pipelined `RPUSH k v` + `LPOP k` gives v to the waiter and the LPOP finds
/// the list empty (or the second element).
fn pipelined_push_then_pop(server: &TestServer) {
    let mut ctl = fresh(server);
    for key in ["a", "{q}src"] {
        let mut w = waiter(server, &mut ctl, &["BLPOP", key, "0"], 1);
        let mut p = server.raw();
        p.send(&[resp(&["RPUSH", key, "v"]), resp(&["LPOP", key])].concat());
        expect(p.reply(), b":1\r\n");
        expect(p.reply(), NULL_BULK);
        expect(w.reply(), &pair(key, "v"));

        block(&mut ctl, &mut w, &["BLPOP", key, "0"], 1);
        p.send(&[resp(&["RPUSH", key, "v1", "v2"]), resp(&["LPOP", key])].concat());
        expect(p.reply(), b":2\r\n");
        expect(p.reply(), &bulk("v2"));
        expect(w.reply(), &pair(key, "v1"));
        check(&mut ctl, &["EXISTS", key], b":0\r\n");
    }
}

/// `MULTI; RPUSH second x; RPUSH first y; EXEC` serves a client blocked on
/// `BLPOP first second 0` from `second`, the key that became ready first;
/// `first` keeps its element.
fn exec_serves_in_signal_order(server: &TestServer, first: &str, second: &str) {
    let mut ctl = fresh(server);
    let mut w = waiter(server, &mut ctl, &["BLPOP", first, second, "0"], 1);
    check(&mut ctl, &["MULTI"], b"+OK\r\n");
    check(&mut ctl, &["RPUSH", second, "x"], b"+QUEUED\r\n");
    check(&mut ctl, &["RPUSH", first, "y"], b"+QUEUED\r\n");
    check(&mut ctl, &["EXEC"], b"*2\r\n:1\r\n:1\r\n");
    expect(w.reply(), &pair(second, "x"));
    check(&mut ctl, &["LRANGE", first, "0", "-1"], &array(&["y"]));
    check(&mut ctl, &["EXISTS", second], b":0\r\n");
    wait_blocked(&mut ctl, 0);
}

/// Inside MULTI the blocking commands never block: on empty keys EXEC
/// answers their null replies at once, even with timeout 0. A transaction
/// that pushes and pops the same element leaves nothing for a waiter.
fn transactions_never_block(server: &TestServer) {
    let mut ctl = fresh(server);
    let mut c = server.raw();
    check(&mut c, &["MULTI"], b"+OK\r\n");
    check(&mut c, &["BLPOP", "a", "b", "0"], b"+QUEUED\r\n");
    check(
        &mut c,
        &["BLMOVE", "a", "b", "LEFT", "LEFT", "0"],
        b"+QUEUED\r\n",
    );
    check(&mut c, &["BRPOPLPUSH", "a", "b", "0"], b"+QUEUED\r\n");
    check(
        &mut c,
        &["BLMPOP", "0", "2", "a", "b", "LEFT"],
        b"+QUEUED\r\n",
    );
    check(&mut c, &["BRPOP", "a", "0"], b"+QUEUED\r\n");
    let start = Instant::now();
    check(
        &mut c,
        &["EXEC"],
        b"*5\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n*-1\r\n",
    );
    assert!(start.elapsed() < Duration::from_secs(1));

    let mut w = waiter(server, &mut ctl, &["BLPOP", "c", "0"], 1);
    check(&mut ctl, &["MULTI"], b"+OK\r\n");
    check(&mut ctl, &["RPUSH", "c", "x"], b"+QUEUED\r\n");
    check(&mut ctl, &["LPOP", "c"], b"+QUEUED\r\n");
    check(&mut ctl, &["EXEC"], b"*2\r\n:1\r\n$1\r\nx\r\n");
    w.expect_silence(SILENCE);
    wait_blocked(&mut ctl, 1);
    check(&mut ctl, &["RPUSH", "c", "z"], b":1\r\n");
    expect(w.reply(), &pair("c", "z"));
}

/// A timeout answers the null array (`*-1` in RESP2, `_` in RESP3) after
/// about that long, for every blocking command. The timeout is parsed as a
/// long double before any key is looked at: what Redis 7.0 rejects as
/// negative (its conversion to milliseconds overflows for huge values and
/// infinities), what it rejects as no float, and the odd forms it accepts.
fn timeouts_and_their_errors(server: &TestServer) {
    let mut c = fresh(server);
    for (argv, want) in [
        (&["BLPOP", "a", "0.1"][..], NULL_ARRAY),
        (&["BRPOP", "a", "b", "0.1"], NULL_ARRAY),
        (&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.1"], NULL_ARRAY),
        (&["BRPOPLPUSH", "a", "b", "0.1"], NULL_ARRAY),
        (&["BLMPOP", "0.1", "2", "a", "b", "LEFT"], NULL_ARRAY),
    ] {
        let start = Instant::now();
        check(&mut c, argv, want);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(90) && took < Duration::from_secs(2),
            "{argv:?} took {took:?}"
        );
    }
    let mut c3 = server.raw();
    assert!(c3.cmd(&["HELLO", "3"]).starts_with(b"%"));
    for argv in [
        &["BLPOP", "a", "0.1"][..],
        &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.1"],
        &["BLMPOP", "0.1", "1", "a", "RIGHT"],
    ] {
        check(&mut c3, argv, b"_\r\n");
    }
    check(&mut c3, &["RPUSH", "c", "v"], b":1\r\n");
    check(&mut c3, &["BLPOP", "c", "0"], &pair("c", "v"));

    // Errors come before the keys: `c` holds an element all along.
    check(&mut c, &["RPUSH", "c", "v"], b":1\r\n");
    let negative = [
        "-1",
        "-0.002",
        "inf",
        "+inf",
        "-inf",
        "infinity",
        "1e400",
        "1e308",
        "1e20",
        "9999999999999999",
    ];
    let not_float = [
        "abc", "nan", "-nan", "", " 1", "1 ", "1e", "1e5000", "1e-5000",
    ];
    for (values, want) in [(&negative[..], NEGATIVE), (&not_float, NOT_FLOAT)] {
        for &t in values {
            check(&mut c, &["BLPOP", "c", t], want);
            check(&mut c, &["BRPOP", "a", "c", t], want);
            check(&mut c, &["BLMOVE", "c", "d", "LEFT", "LEFT", t], want);
            check(&mut c, &["BRPOPLPUSH", "c", "d", t], want);
            check(&mut c, &["BLMPOP", t, "1", "c", "LEFT"], want);
        }
    }
    check(&mut c, &["LRANGE", "c", "0", "-1"], &array(&["v"]));
    // Accepted: hex (strtold), values that round to 0 ms, underflow to 0.
    for t in ["0x10", "0x1p3", "1e-400", "-0.0005", ".5", "1E1", "+2"] {
        check(&mut c, &["BLPOP", "c", t], &pair("c", "v"));
        check(&mut c, &["RPUSH", "c", "v"], b":1\r\n");
    }
}

/// BLMOVE and BRPOPLPUSH: immediate when the source has elements; blocked,
/// then served by a push with every LEFT/RIGHT combination, on one shard
/// and across shards (the reply is the element, which ends up in the
/// destination); a served move wakes a client waiting on the destination; a
/// destination holding a string answers WRONGTYPE when served and the
/// source keeps its element; a wrong-typed source answers at once.
fn blmove_and_brpoplpush(server: &TestServer) {
    let mut ctl = fresh(server);
    check(&mut ctl, &["RPUSH", "{q}src", "1", "2", "3"], b":3\r\n");
    check(
        &mut ctl,
        &["BLMOVE", "{q}src", "{q}dst", "LEFT", "RIGHT", "0"],
        &bulk("1"),
    );
    check(
        &mut ctl,
        &["BLMOVE", "{q}src", "{q}dst", "RIGHT", "LEFT", "0"],
        &bulk("3"),
    );
    check(
        &mut ctl,
        &["BRPOPLPUSH", "{q}src", "{q}dst", "0"],
        &bulk("2"),
    );
    check(
        &mut ctl,
        &["LRANGE", "{q}dst", "0", "-1"],
        &array(&["2", "3", "1"]),
    );
    check(&mut ctl, &["EXISTS", "{q}src"], b":0\r\n");
    check(&mut ctl, &["RPUSH", "a", "1"], b":1\r\n");
    check(
        &mut ctl,
        &["BLMOVE", "a", "b", "LEFT", "LEFT", "0"],
        &bulk("1"),
    );
    check(&mut ctl, &["LRANGE", "b", "0", "-1"], &array(&["1"]));
    check(&mut ctl, &["EXISTS", "a"], b":0\r\n");

    for (src, dst) in [("{q}src", "{q}dst"), ("a", "b")] {
        for from in ["LEFT", "RIGHT"] {
            for to in ["LEFT", "RIGHT"] {
                ctl.cmd(&["DEL", src, dst]);
                check(&mut ctl, &["RPUSH", dst, "d0", "d1"], b":2\r\n");
                let argv = ["BLMOVE", src, dst, from, to, "0"];
                let mut w = waiter(server, &mut ctl, &argv, 1);
                check(&mut ctl, &["RPUSH", src, "x", "y"], b":2\r\n");
                let (got, left) = if from == "LEFT" {
                    ("x", "y")
                } else {
                    ("y", "x")
                };
                expect(w.reply(), &bulk(got));
                let want = if to == "LEFT" {
                    [got, "d0", "d1"]
                } else {
                    ["d0", "d1", got]
                };
                check(&mut ctl, &["LRANGE", dst, "0", "-1"], &array(&want));
                check(&mut ctl, &["LRANGE", src, "0", "-1"], &array(&[left]));
            }
        }
        // BRPOPLPUSH into a missing destination creates it.
        check(&mut ctl, &["DEL", src, dst], b":2\r\n");
        let mut w = waiter(server, &mut ctl, &["BRPOPLPUSH", src, dst, "0"], 1);
        check(&mut ctl, &["RPUSH", src, "x", "y"], b":2\r\n");
        expect(w.reply(), &bulk("y"));
        check(&mut ctl, &["LRANGE", dst, "0", "-1"], &array(&["y"]));
        check(&mut ctl, &["LRANGE", src, "0", "-1"], &array(&["x"]));

        // A served move wakes the client blocked on its destination.
        check(&mut ctl, &["DEL", src, dst], b":2\r\n");
        let mut mover = waiter(
            server,
            &mut ctl,
            &["BLMOVE", src, dst, "LEFT", "LEFT", "0"],
            1,
        );
        let mut tail = waiter(server, &mut ctl, &["BLPOP", dst, "0"], 2);
        check(&mut ctl, &["RPUSH", src, "m"], b":1\r\n");
        expect(mover.reply(), &bulk("m"));
        expect(tail.reply(), &pair(dst, "m"));
        check(&mut ctl, &["EXISTS", src, dst], b":0\r\n");

        // A destination that holds a string when the move is served.
        check(&mut ctl, &["SET", dst, "str"], b"+OK\r\n");
        let mut w = waiter(
            server,
            &mut ctl,
            &["BLMOVE", src, dst, "LEFT", "LEFT", "0"],
            1,
        );
        check(&mut ctl, &["RPUSH", src, "v"], b":1\r\n");
        expect(w.reply(), WRONGTYPE);
        check(&mut ctl, &["LRANGE", src, "0", "-1"], &array(&["v"]));
        check(&mut ctl, &["GET", dst], &bulk("str"));
        wait_blocked(&mut ctl, 0);
        check(
            &mut ctl,
            &["BLMOVE", src, dst, "LEFT", "LEFT", "0"],
            WRONGTYPE,
        );
        check(&mut ctl, &["BRPOPLPUSH", src, dst, "0"], WRONGTYPE);
        check(&mut ctl, &["LLEN", src], b":1\r\n");
        // A source that holds a string.
        check(
            &mut ctl,
            &["BLMOVE", dst, src, "LEFT", "LEFT", "0"],
            WRONGTYPE,
        );
        check(&mut ctl, &["BRPOPLPUSH", dst, src, "0"], WRONGTYPE);
        check(&mut ctl, &["DEL", src, dst], b":2\r\n");
    }
    check(&mut ctl, &["BLMOVE", "a", "b", "LEFT", "UP", "0"], SYNTAX);
    check(
        &mut ctl,
        &["BLMOVE", "a", "b", "LEFT", "0"],
        b"-ERR wrong number of arguments for 'blmove' command\r\n",
    );
}

/// BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]: immediate and served
/// forms (`*2` of the key and the popped elements), and its argument errors.
fn blmpop(server: &TestServer) {
    let mut ctl = fresh(server);
    check(&mut ctl, &["RPUSH", "b", "1", "2", "3"], b":3\r\n");
    check(
        &mut ctl,
        &["BLMPOP", "0", "2", "a", "b", "LEFT"],
        &mpop("b", &["1"]),
    );
    check(
        &mut ctl,
        &["BLMPOP", "0", "2", "a", "b", "right", "count", "5"],
        &mpop("b", &["3", "2"]),
    );
    check(&mut ctl, &["EXISTS", "b"], b":0\r\n");

    let mut w = waiter(
        server,
        &mut ctl,
        &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"],
        1,
    );
    check(&mut ctl, &["RPUSH", "b", "x", "y", "z"], b":3\r\n");
    expect(w.reply(), &mpop("b", &["x", "y"]));
    check(&mut ctl, &["LRANGE", "b", "0", "-1"], &array(&["z"]));
    check(&mut ctl, &["DEL", "b"], b":1\r\n");
    block(
        &mut ctl,
        &mut w,
        &["BLMPOP", "0", "3", "c", "a", "b", "RIGHT", "COUNT", "10"],
        1,
    );
    check(&mut ctl, &["RPUSH", "a", "p", "q"], b":2\r\n");
    expect(w.reply(), &mpop("a", &["q", "p"]));
    check(&mut ctl, &["EXISTS", "a"], b":0\r\n");

    check(&mut ctl, &["RPUSH", "k", "v"], b":1\r\n");
    check(&mut ctl, &["SET", "s", "str"], b"+OK\r\n");
    let numkeys = b"-ERR numkeys should be greater than 0\r\n";
    let count = b"-ERR count should be greater than 0\r\n";
    let arity = b"-ERR wrong number of arguments for 'blmpop' command\r\n";
    let cases: [(&[&str], &[u8]); 16] = [
        (&["BLMPOP", "0", "0", "k", "LEFT"], numkeys),
        (&["BLMPOP", "0", "-1", "k", "LEFT"], numkeys),
        (&["BLMPOP", "0", "x", "k", "LEFT"], numkeys),
        (&["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"], count),
        (&["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "-1"], count),
        (&["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "x"], count),
        (&["BLMPOP", "0", "1", "k"], arity),
        (&["BLMPOP", "0", "1"], arity),
        (&["BLMPOP", "0", "2", "k", "LEFT"], SYNTAX),
        (&["BLMPOP", "0", "1", "k", "UP"], SYNTAX),
        (&["BLMPOP", "0", "1", "k", "LEFT", "COUNT"], SYNTAX),
        (
            &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "1", "COUNT", "2"],
            SYNTAX,
        ),
        (&["BLMPOP", "0", "1", "k", "LEFT", "FOO"], SYNTAX),
        (&["BLMPOP", "-1", "1", "k", "LEFT"], NEGATIVE),
        (&["BLMPOP", "0", "1", "s", "LEFT"], WRONGTYPE),
        (&["BLMPOP", "0", "2", "a", "s", "LEFT"], WRONGTYPE),
    ];
    for (argv, want) in cases {
        check(&mut ctl, argv, want);
    }
    check(&mut ctl, &["LRANGE", "k", "0", "-1"], &array(&["v"]));
}

/// LMOVE, RPOPLPUSH and LMPOP, which never block: moves on one shard and
/// across shards, a list rotated onto itself, missing sources, wrong types
/// (a missing source wins over a wrong-typed destination) and syntax errors.
fn non_blocking_moves(server: &TestServer) {
    let mut c = fresh(server);
    check(&mut c, &["RPUSH", "{q}src", "1", "2", "3"], b":3\r\n");
    check(
        &mut c,
        &["LMOVE", "{q}src", "{q}dst", "LEFT", "RIGHT"],
        &bulk("1"),
    );
    check(
        &mut c,
        &["LMOVE", "{q}src", "{q}dst", "right", "left"],
        &bulk("3"),
    );
    check(&mut c, &["RPOPLPUSH", "{q}src", "{q}dst"], &bulk("2"));
    check(
        &mut c,
        &["LMOVE", "{q}src", "{q}dst", "LEFT", "LEFT"],
        NULL_BULK,
    );
    check(&mut c, &["RPOPLPUSH", "{q}src", "{q}dst"], NULL_BULK);
    check(
        &mut c,
        &["LRANGE", "{q}dst", "0", "-1"],
        &array(&["2", "3", "1"]),
    );
    check(&mut c, &["EXISTS", "{q}src"], b":0\r\n");

    check(&mut c, &["RPUSH", "a", "x", "y"], b":2\r\n");
    check(&mut c, &["LMOVE", "a", "b", "RIGHT", "RIGHT"], &bulk("y"));
    check(&mut c, &["RPOPLPUSH", "a", "b"], &bulk("x"));
    check(&mut c, &["LRANGE", "b", "0", "-1"], &array(&["x", "y"]));
    check(&mut c, &["EXISTS", "a"], b":0\r\n");

    check(&mut c, &["RPUSH", "r", "1", "2", "3"], b":3\r\n");
    check(&mut c, &["LMOVE", "r", "r", "LEFT", "RIGHT"], &bulk("1"));
    check(
        &mut c,
        &["LRANGE", "r", "0", "-1"],
        &array(&["2", "3", "1"]),
    );
    check(&mut c, &["LMOVE", "r", "r", "RIGHT", "LEFT"], &bulk("1"));
    check(&mut c, &["RPOPLPUSH", "r", "r"], &bulk("3"));
    check(&mut c, &["LMOVE", "r", "r", "LEFT", "LEFT"], &bulk("3"));
    check(
        &mut c,
        &["LRANGE", "r", "0", "-1"],
        &array(&["3", "1", "2"]),
    );
    check(&mut c, &["RPUSH", "one", "x"], b":1\r\n");
    check(
        &mut c,
        &["LMOVE", "one", "one", "LEFT", "RIGHT"],
        &bulk("x"),
    );
    check(&mut c, &["LRANGE", "one", "0", "-1"], &array(&["x"]));

    check(&mut c, &["SET", "s", "str"], b"+OK\r\n");
    check(&mut c, &["LMOVE", "nokey", "s", "LEFT", "LEFT"], NULL_BULK);
    check(&mut c, &["RPOPLPUSH", "nokey", "s"], NULL_BULK);
    check(&mut c, &["LMOVE", "s", "b", "LEFT", "LEFT"], WRONGTYPE);
    check(&mut c, &["LMOVE", "b", "s", "LEFT", "LEFT"], WRONGTYPE);
    check(&mut c, &["RPOPLPUSH", "s", "b"], WRONGTYPE);
    check(&mut c, &["RPOPLPUSH", "b", "s"], WRONGTYPE);
    check(&mut c, &["LRANGE", "b", "0", "-1"], &array(&["x", "y"]));
    check(&mut c, &["LMOVE", "b", "a", "LEFT", "UP"], SYNTAX);
    check(
        &mut c,
        &["LMOVE", "b", "a"],
        b"-ERR wrong number of arguments for 'lmove' command\r\n",
    );
    check(
        &mut c,
        &["RPOPLPUSH", "b"],
        b"-ERR wrong number of arguments for 'rpoplpush' command\r\n",
    );

    check(&mut c, &["DEL", "b"], b":1\r\n");
    check(&mut c, &["RPUSH", "b", "1", "2", "3"], b":3\r\n");
    check(
        &mut c,
        &["LMPOP", "2", "a", "b", "LEFT"],
        &mpop("b", &["1"]),
    );
    check(
        &mut c,
        &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10"],
        &mpop("b", &["3", "2"]),
    );
    check(&mut c, &["LMPOP", "2", "a", "b", "LEFT"], NULL_ARRAY);
    check(&mut c, &["RPUSH", "a", "v"], b":1\r\n");
    check(
        &mut c,
        &["LMPOP", "2", "a", "s", "LEFT"],
        &mpop("a", &["v"]),
    );
    let cases: [(&[&str], &[u8]); 7] = [
        (
            &["LMPOP", "0", "a", "LEFT"],
            b"-ERR numkeys should be greater than 0\r\n",
        ),
        (
            &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
            b"-ERR count should be greater than 0\r\n",
        ),
        (
            &["LMPOP", "1", "a"],
            b"-ERR wrong number of arguments for 'lmpop' command\r\n",
        ),
        (&["LMPOP", "2", "a", "LEFT"], SYNTAX),
        (&["LMPOP", "1", "s", "LEFT"], WRONGTYPE),
        (&["LMPOP", "2", "nokey", "s", "LEFT"], WRONGTYPE),
        (&["LMPOP", "2", "s", "r", "LEFT"], WRONGTYPE),
    ];
    for (argv, want) in cases {
        check(&mut c, argv, want);
    }
    check(&mut c, &["LLEN", "r"], b":3\r\n");
    let mut c3 = server.raw();
    assert!(c3.cmd(&["HELLO", "3"]).starts_with(b"%"));
    check(&mut c3, &["LMPOP", "1", "nokey", "LEFT"], b"_\r\n");
    check(&mut c3, &["LMOVE", "nokey", "a", "LEFT", "LEFT"], b"_\r\n");
}

/// `INFO clients` counts blocked clients; a client that disconnects while
/// blocked stops counting, and a later push stays in the list instead of
/// going to the closed client.
fn disconnects_while_blocked(server: &TestServer) {
    let mut ctl = fresh(server);
    let ws = [
        waiter(server, &mut ctl, &["BLPOP", "c", "0"], 1),
        waiter(
            server,
            &mut ctl,
            &["BLMOVE", "d", "a", "LEFT", "LEFT", "0"],
            2,
        ),
        waiter(server, &mut ctl, &["BLMPOP", "0", "2", "a", "b", "LEFT"], 3),
        waiter(server, &mut ctl, &["BRPOP", "a", "b", "c", "d", "0"], 4),
    ];
    for (n, w) in ws.into_iter().enumerate().rev() {
        drop(w);
        wait_blocked(&mut ctl, n);
    }
    for key in ["a", "b", "c", "d"] {
        check(&mut ctl, &["RPUSH", key, "v"], b":1\r\n");
    }
    for key in ["a", "b", "c", "d"] {
        check(&mut ctl, &["LLEN", key], b":1\r\n");
    }
}

/// CLIENT UNBLOCK: a blocked client (CLIENT LIST shows `flags=b`) gets its
/// timeout reply (`:1`), or `-UNBLOCKED` with ERROR; a client that is not
/// blocked answers `:0`; bad arguments are errors. An unblocked client stays
/// usable and is no longer waiting for the key.
fn client_unblock(server: &TestServer) {
    let mut ctl = fresh(server);
    let mut w = server.raw();
    let id = client_id(&mut w);
    let unblock = ["CLIENT", "UNBLOCK", id.as_str()];
    let listed =
        |ctl: &mut RawConn| String::from_utf8(ctl.cmd(&["CLIENT", "LIST", "ID", &id])).unwrap();

    block(&mut ctl, &mut w, &["BLPOP", "c", "0"], 1);
    let line = listed(&mut ctl);
    assert!(
        line.contains(&format!("id={id} ")) && line.contains(" flags=b "),
        "{line}"
    );
    check(&mut ctl, &unblock, b":1\r\n");
    expect(w.reply(), NULL_ARRAY);
    wait_blocked(&mut ctl, 0);
    let line = listed(&mut ctl);
    assert!(line.contains(" flags=N "), "{line}");
    check(&mut ctl, &unblock, b":0\r\n");

    block(&mut ctl, &mut w, &["BLPOP", "a", "b", "0"], 1);
    check(&mut ctl, &["CLIENT", "UNBLOCK", &id, "ERROR"], b":1\r\n");
    expect(
        w.reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
    );

    block(
        &mut ctl,
        &mut w,
        &["BLMOVE", "a", "b", "LEFT", "LEFT", "0"],
        1,
    );
    check(
        &mut ctl,
        &["CLIENT", "UNBLOCK", &id, "FOO"],
        b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
    );
    check(&mut ctl, &["CLIENT", "UNBLOCK", &id, "timeout"], b":1\r\n");
    expect(w.reply(), NULL_ARRAY);

    assert!(w.cmd(&["HELLO", "3"]).starts_with(b"%"));
    block(&mut ctl, &mut w, &["BLMPOP", "0", "1", "d", "LEFT"], 1);
    check(&mut ctl, &unblock, b":1\r\n");
    expect(w.reply(), b"_\r\n");

    check(&mut ctl, &["CLIENT", "UNBLOCK", "999999999"], b":0\r\n");
    check(
        &mut ctl,
        &["CLIENT", "UNBLOCK", "abc"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    check(&mut w, &["PING"], b"+PONG\r\n");
    for key in ["a", "b", "c", "d"] {
        check(&mut ctl, &["RPUSH", key, "v"], b":1\r\n");
    }
    for key in ["a", "b", "c", "d"] {
        check(&mut ctl, &["LLEN", key], b":1\r\n");
    }
}

/// A key created with another type does not wake a client blocked on it;
/// the client is served once the key is a list again, or by its other key.
fn other_types_do_not_wake(server: &TestServer) {
    let mut ctl = fresh(server);
    let mut w = waiter(server, &mut ctl, &["BLPOP", "c", "0"], 1);
    check(&mut ctl, &["SET", "c", "str"], b"+OK\r\n");
    w.expect_silence(SILENCE);
    check(&mut ctl, &["RPUSH", "c", "v"], WRONGTYPE);
    check(&mut ctl, &["DEL", "c"], b":1\r\n");
    check(&mut ctl, &["HSET", "c", "f", "v"], b":1\r\n");
    w.expect_silence(SILENCE);
    check(&mut ctl, &["DEL", "c"], b":1\r\n");
    check(&mut ctl, &["SADD", "c", "m"], b":1\r\n");
    w.expect_silence(SILENCE);
    wait_blocked(&mut ctl, 1);
    check(&mut ctl, &["DEL", "c"], b":1\r\n");
    check(&mut ctl, &["RPUSH", "c", "v"], b":1\r\n");
    expect(w.reply(), &pair("c", "v"));

    block(&mut ctl, &mut w, &["BLPOP", "b", "a", "0"], 1);
    check(&mut ctl, &["SET", "b", "str"], b"+OK\r\n");
    w.expect_silence(SILENCE);
    check(&mut ctl, &["RPUSH", "a", "x"], b":1\r\n");
    expect(w.reply(), &pair("a", "x"));
}

// ---- Helpers ----

/// A producer: `count` elements `p{producer}-q{queue}-{seq}` pushed with
/// RPUSH (one to three per command, four commands per pipeline, a short
/// pause between pipelines) to random queues; returns them.
fn produce(mut c: RawConn, producer: usize, count: usize, queues: &[&str]) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(producer as u64);
    let mut produced = Vec::with_capacity(count);
    while produced.len() < count {
        let mut batch = Vec::new();
        let mut commands = 0;
        while commands < 4 && produced.len() < count {
            let q = rng.gen_range(0..queues.len());
            let n = rng.gen_range(1..=3).min(count - produced.len());
            let mut argv = vec!["RPUSH".to_string(), queues[q].to_string()];
            for _ in 0..n {
                let e = format!("p{producer}-q{q}-{}", produced.len());
                argv.push(e.clone());
                produced.push(e);
            }
            batch.extend(resp(&argv));
            commands += 1;
        }
        c.send(&batch);
        for _ in 0..commands {
            let r = c.reply();
            assert!(r.starts_with(b":"), "RPUSH: {}", show(&r));
        }
        thread::sleep(Duration::from_millis(2));
    }
    produced
}

/// A consumer: runs `argv` until `stop` (checked after each reply) and
/// returns the elements it popped, in order; a mover's replies (BLMOVE,
/// BRPOPLPUSH) are not counted, since the element stays in a list.
fn consume(
    mut c: RawConn,
    argv: &[String],
    stop: &AtomicBool,
    received: &AtomicUsize,
) -> Vec<String> {
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("utf-8 element");
    let mut got = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let reply = c.cmd(argv);
        let popped = match parsed(&reply) {
            R::Bulk(_) => Vec::new(),
            R::Agg(b'*', v) => match &v[..] {
                [R::Bulk(Some(_)), R::Bulk(Some(e))] => vec![text(e)],
                [R::Bulk(Some(_)), R::Agg(b'*', es)] => es
                    .iter()
                    .map(|e| match e {
                        R::Bulk(Some(e)) => text(e),
                        other => panic!("{argv:?}: element {other:?}"),
                    })
                    .collect(),
                _ => panic!("{argv:?}: {}", show(&reply)),
            },
            _ => panic!("{argv:?}: {}", show(&reply)),
        };
        received.fetch_add(popped.len(), Ordering::SeqCst);
        got.extend(popped);
    }
    got
}

/// Each producer's elements from each origin queue arrive with increasing
/// sequence numbers.
fn assert_push_order(got: &[String]) {
    let mut last: HashMap<(&str, &str), usize> = HashMap::new();
    for e in got {
        let mut parts = e.split('-');
        let (p, q, seq) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap().parse::<usize>().unwrap(),
        );
        if let Some(prev) = last.insert((p, q), seq) {
            assert!(prev < seq, "{e} arrived after {p}-{q}-{prev}");
        }
    }
}

/// BLPOP's reply: the key and the element.
fn pair(key: &str, elem: &str) -> Vec<u8> {
    array(&[key, elem])
}

/// LMPOP's reply: the key and the popped elements.
fn mpop(key: &str, elems: &[&str]) -> Vec<u8> {
    [b"*2\r\n".to_vec(), bulk(key), array(elems)].concat()
}
