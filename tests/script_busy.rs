//! Long scripts through the real binary at two executors, step for step
//! against redis-server with the same `busy-reply-threshold` (100 ms, set
//! with CONFIG SET), replies compared byte for byte: once a script has run
//! past the threshold, clients of the other core get `-BUSY` for PING,
//! GET, SET, EVAL, INFO, CLIENT, COMMAND and a plain SHUTDOWN, and inside
//! MULTI (EXEC then aborts), while SCRIPT KILL, MULTI, DISCARD, WATCH,
//! UNWATCH, RESET and SHUTDOWN ABORT still answer, and argument errors
//! come first; SCRIPT KILL stops a script that has not written (also one
//! that `pcall`s its loop, one that runs with every shard locked, one
//! inside EXEC), its client gets the killed error, and everyone is served
//! again; a script that wrote (on another shard's key, from a script that
//! locked every shard) is UNKILLABLE and SHUTDOWN NOSAVE ends the server;
//! SIGTERM waits for a timed-out script, which SCRIPT KILL still stops.
//! ringkv alone: before the threshold the other core serves as usual and
//! SCRIPT KILL is NOTBUSY.
//!
//! Which core a connection is on: its CLIENT ID (ids encode their core).
//! Every read has a timeout (the harness's 10 s, or shorter).

mod common;

use common::{
    conn_on, show, tags_on_different_shards, target_is_redis, RawConn, RedisServer, TestServer,
};
use std::time::{Duration, Instant};

const THREADS: usize = 2;
const BUSY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

/// Replies by step, to compare two servers.
type Log = Vec<(String, Vec<u8>)>;

/// Sends EVAL of `body` with `keys` without reading its reply.
fn send_eval(c: &mut RawConn, body: &str, keys: &[&str]) {
    let n = keys.len().to_string();
    let mut argv = vec!["EVAL", body, n.as_str()];
    argv.extend_from_slice(keys);
    c.send(&common::resp(&argv));
}

/// PINGs on `c` until the answer is not PONG (the script timed out; in
/// Redis the first PING waits for it), at most 5 s; returns that answer.
fn wait_busy(c: &mut RawConn) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.cmd(&["PING"]);
        if r != b"+PONG\r\n" {
            return r;
        }
        assert!(Instant::now() < deadline, "no -BUSY after 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The busy, kill and recovery steps, for a server with `cores` executors.
/// The script's client is on core 0 with its declared key on shard 0 (or
/// none: then it locks every shard, on core 0); the others on the last core.
fn kill_scenario(server: &TestServer, cores: usize) -> Log {
    let mut log = Log::new();
    let (tag0, _) = tags_on_different_shards(THREADS);
    let key = format!("{{{tag0}}}k");
    let mut runner = conn_on(server, cores, 0);
    let mut other = conn_on(server, cores, cores - 1);
    let mut multi = conn_on(server, cores, cores - 1);
    let mut killer = conn_on(server, cores, cores - 1);
    step(
        &mut log,
        "set",
        &mut other,
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    );
    step(
        &mut log,
        "alias",
        &mut other,
        &["CONFIG", "GET", "lua-time-limit"],
    );
    step(
        &mut log,
        "name",
        &mut other,
        &["CONFIG", "GET", "busy-reply-threshold"],
    );
    step(&mut log, "idle", &mut killer, &["SCRIPT", "KILL"]);
    let scripts: [(&str, Vec<&str>); 3] = [
        ("while true do end", vec![key.as_str()]),
        (
            "local n = 0\nwhile true do\n  n = n + 1\n  pcall(function() while true do end end)\nend",
            vec![key.as_str()],
        ),
        ("while true do end", vec![]),
    ];
    for (round, (body, keys)) in scripts.iter().enumerate() {
        let r = format!("round {round}");
        step(&mut log, &r, &mut multi, &["MULTI"]);
        step(&mut log, &r, &mut multi, &["SET", "q", "1"]);
        send_eval(&mut runner, body, keys);
        // Pipelined behind the script: answered once it is killed.
        runner.send(&common::resp(&["PING"]));
        log.push((format!("{r}: first busy"), wait_busy(&mut other)));
        for argv in [
            &["GET", "x"][..],
            &["SET", "x", "1"],
            &["EVAL", "return 1", "0"],
            &["CLIENT", "ID"],
            &["COMMAND"],
            &["COMMAND", "COUNT"],
            &["COMMAND", "NOPE"],
            &["INFO", "server"],
            &["SCRIPT", "KILL", "x"],
            &["SCRIPT", "FOO"],
            &["CONFIG", "GET"],
            &["SHUTDOWN"],
            &["SHUTDOWN", "ABORT"],
            &["WATCH", "x"],
            &["UNWATCH"],
            &["MULTI"],
            &["DISCARD"],
            &["RESET"],
        ] {
            step(&mut log, &r, &mut other, argv);
        }
        step(&mut log, &r, &mut multi, &["GET", "x"]);
        step(&mut log, &r, &mut multi, &["EXEC"]);
        step(&mut log, &r, &mut multi, &["MULTI"]);
        step(&mut log, &r, &mut multi, &["SET", "a", "b"]);
        step(&mut log, &r, &mut multi, &["DISCARD"]);
        step(&mut log, &r, &mut killer, &["SCRIPT", "KILL"]);
        log.push((format!("{r}: killed"), runner.reply()));
        log.push((format!("{r}: pipelined"), runner.reply()));
        step(&mut log, &r, &mut other, &["PING"]);
        step(&mut log, &r, &mut other, &["SET", "x", "1"]);
        step(&mut log, &r, &mut other, &["GET", "x"]);
        step(&mut log, &r, &mut runner, &["GET", &key]);
        step(&mut log, &r, &mut multi, &["MULTI"]);
        step(&mut log, &r, &mut multi, &["SET", "q", "2"]);
        step(&mut log, &r, &mut multi, &["EXEC"]);
        step(&mut log, &r, &mut killer, &["SCRIPT", "KILL"]);
    }
    // A script inside EXEC (which holds every shard at two executors): the
    // same, and EXEC's other replies stand.
    step(&mut log, "exec", &mut runner, &["MULTI"]);
    step(&mut log, "exec", &mut runner, &["SET", &key, "v"]);
    step(
        &mut log,
        "exec",
        &mut runner,
        &["EVAL", "while true do end", "0"],
    );
    step(&mut log, "exec", &mut runner, &["GET", &key]);
    runner.send(&common::resp(&["EXEC"]));
    log.push(("exec: first busy".into(), wait_busy(&mut other)));
    step(&mut log, "exec", &mut other, &["GET", &key]);
    step(&mut log, "exec", &mut killer, &["SCRIPT", "KILL"]);
    log.push(("exec: reply".into(), runner.reply()));
    step(&mut log, "exec", &mut other, &["GET", &key]);
    log
}

/// A script that wrote (an undeclared key of shard 1, from a script that
/// locks every shard): UNKILLABLE, a plain SHUTDOWN is BUSY, SHUTDOWN
/// NOSAVE closes the connections and ends the process with status 0.
fn unkillable_scenario(server: &mut TestServer, cores: usize) -> Log {
    let mut log = Log::new();
    let (_, tag1) = tags_on_different_shards(THREADS);
    let mut runner = conn_on(server, cores, 0);
    let mut other = conn_on(server, cores, cores - 1);
    step(
        &mut log,
        "set",
        &mut other,
        &["CONFIG", "SET", "lua-time-limit", "100"],
    );
    let body = format!("redis.call('set', '{{{tag1}}}w', 'v')\nwhile true do end");
    send_eval(&mut runner, &body, &[]);
    log.push(("first busy".into(), wait_busy(&mut other)));
    step(&mut log, "kill", &mut other, &["SCRIPT", "KILL"]);
    step(&mut log, "plain", &mut other, &["SHUTDOWN"]);
    step(&mut log, "get", &mut other, &["GET", "x"]);
    other.send(&common::resp(&["SHUTDOWN", "NOSAVE"]));
    other.expect_closed();
    runner.expect_closed();
    let status = server.wait_exit(Duration::from_secs(10));
    log.push(("exit".into(), format!("{status:?}").into_bytes()));
    log
}

/// SIGTERM while a script is timed out: as Redis, the shutdown waits for
/// it, clients still get -BUSY and SCRIPT KILL meanwhile, and the process
/// exits (status 0) once the script is killed.
fn sigterm_scenario(server: &mut TestServer, cores: usize) -> Log {
    let mut log = Log::new();
    let (tag0, _) = tags_on_different_shards(THREADS);
    let key = format!("{{{tag0}}}k");
    let mut runner = conn_on(server, cores, 0);
    let mut other = conn_on(server, cores, cores - 1);
    let mut killer = conn_on(server, cores, cores - 1);
    step(
        &mut log,
        "set",
        &mut other,
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    );
    send_eval(&mut runner, "while true do end", &[&key]);
    log.push(("first busy".into(), wait_busy(&mut other)));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    step(&mut log, "after SIGTERM", &mut other, &["GET", "x"]);
    step(&mut log, "after SIGTERM", &mut killer, &["SCRIPT", "KILL"]);
    let status = server.wait_exit(Duration::from_secs(10));
    log.push(("exit".into(), format!("{status:?}").into_bytes()));
    log
}

/// Runs `argv` on `c`, logging its reply under `name`.
fn step(log: &mut Log, name: &str, c: &mut RawConn, argv: &[&str]) {
    log.push((format!("{name}: {argv:?}"), c.cmd(argv)));
}

fn compare(ours: &Log, theirs: &Log) {
    assert_eq!(ours.len(), theirs.len());
    for ((step, a), (_, b)) in ours.iter().zip(theirs) {
        assert_eq!(show(a), show(b), "{step}: ringkv / redis-server");
    }
}

#[test]
fn busy_and_script_kill_like_redis() {
    let ringkv = TestServer::builder().threads(THREADS).start();
    let ours = kill_scenario(&ringkv, THREADS);
    let redis = RedisServer::start();
    let theirs = kill_scenario(&redis, 1);
    compare(&ours, &theirs);
    // The texts themselves, so a change on both sides still shows.
    let text = |step: &str| &ours.iter().find(|(s, _)| s.starts_with(step)).unwrap().1;
    assert_eq!(text("round 0: first busy"), BUSY);
    assert_eq!(
        text("idle"),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(
        text("round 2: killed"),
        b"-ERR Script killed by user with SCRIPT KILL... script: 694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7, on @user_script:1.\r\n"
    );
    assert!(
        ringkv.log().contains("Slow script detected"),
        "{}",
        ringkv.log()
    );
}

#[test]
fn unkillable_then_shutdown_nosave_like_redis() {
    let mut ringkv = TestServer::builder().threads(THREADS).start();
    let ours = unkillable_scenario(&mut ringkv, THREADS);
    let mut redis = RedisServer::start();
    let theirs = unkillable_scenario(&mut redis, 1);
    compare(&ours, &theirs);
    assert_eq!(
        ours[2].1,
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    assert_eq!(ours[3].1, BUSY);
    assert!(ours[5]
        .1
        .starts_with(b"Some(ExitStatus(unix_wait_status(0)))"));
}

#[test]
fn sigterm_waits_for_a_timed_out_script_like_redis() {
    let mut ringkv = TestServer::builder().threads(THREADS).start();
    let ours = sigterm_scenario(&mut ringkv, THREADS);
    let mut redis = RedisServer::start();
    let theirs = sigterm_scenario(&mut redis, 1);
    compare(&ours, &theirs);
    assert_eq!(ours[2].1, BUSY);
    assert_eq!(ours[3].1, b"+OK\r\n");
    assert!(ours[4]
        .1
        .starts_with(b"Some(ExitStatus(unix_wait_status(0)))"));
}

/// ringkv only (Redis, one thread, answers no one meanwhile): a script
/// below the threshold leaves the other core serving, and cannot be
/// killed (it is not timed out).
#[test]
fn other_core_serves_before_the_threshold() {
    if target_is_redis() {
        return;
    }
    let server = TestServer::builder()
        .threads(THREADS)
        .arg("--busy-reply-threshold")
        .arg("60000")
        .start();
    let (tag0, _) = tags_on_different_shards(THREADS);
    let key = format!("{{{tag0}}}k");
    let mut runner = conn_on(&server, THREADS, 0);
    let mut other = conn_on(&server, THREADS, 1);
    assert_eq!(
        other.cmd(&["CONFIG", "GET", "lua-time-limit"]),
        b"*2\r\n$14\r\nlua-time-limit\r\n$5\r\n60000\r\n"
    );
    // Long enough to be seen running (debug or release build), bounded.
    let body = "local deadline = tonumber(ARGV[1]) for i = 1, deadline do end return 1";
    let mut served = 0;
    let started = Instant::now();
    runner.send(&common::resp(&["EVAL", body, "1", &key, "100000000"]));
    let reply = loop {
        if let Some(r) = runner.reply_within(Duration::from_millis(5)) {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "script still running"
        );
        assert_eq!(show(&other.cmd(&["PING"])), "+PONG\\r\\n");
        assert_eq!(
            show(&other.cmd(&["SCRIPT", "KILL"])),
            "-NOTBUSY No scripts in execution right now.\\r\\n"
        );
        served += 1;
    };
    assert_eq!(reply, b":1\r\n");
    assert!(
        served > 0,
        "the script ended before the other core was asked"
    );
    assert_eq!(runner.cmd(&["PING"]), b"+PONG\r\n");
}
