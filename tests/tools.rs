//! The standard Redis tools against the real binary: redis-cli (commands and `--pipe`),
//! `nc` with inline commands, redis-benchmark, `ss` (one SO_REUSEPORT listener per
//! thread), and process behaviour an operator relies on: a taken port fails fast with
//! exit code 1 and names the address, SIGTERM and `SHUTDOWN NOSAVE` exit 0.
//!
//! A test is skipped (with a message) only when the tool binary is not installed.

mod common;

use common::{target_is_redis, Kind, TestServer};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// True if `name` is on PATH; otherwise say the test is skipped.
fn have(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join(name).is_file());
    if !found {
        eprintln!("SKIPPED: `{name}` is not installed");
    }
    found
}

/// Run `cmd` with `stdin`, failing the test if it takes longer than `limit`.
fn run(mut cmd: Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cli(srv: &TestServer, args: &[&str]) -> String {
    let mut c = Command::new("redis-cli");
    c.args(["-p", &srv.port().to_string()]).args(args);
    let out = run(c, b"", Duration::from_secs(20));
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn redis_cli_and_nc() {
    if !have("redis-cli") || !have("nc") {
        return;
    }
    let srv = TestServer::start(2);
    assert_eq!(cli(&srv, &["set", "foo", "bar"]), "OK\n");
    assert_eq!(cli(&srv, &["get", "foo"]), "bar\n");
    assert_eq!(cli(&srv, &["get", "nope"]), "\n");
    assert_eq!(cli(&srv, &["incr", "n"]), "1\n");
    let sh = format!("printf 'GET foo\\r\\n' | nc -q1 127.0.0.1 {}", srv.port());
    let mut c = Command::new("sh");
    c.args(["-c", &sh]);
    let out = run(c, b"", Duration::from_secs(20));
    assert_eq!(
        out.stdout,
        b"$3\r\nbar\r\n",
        "nc printed {:?}",
        text(&out.stdout)
    );
}

#[test]
fn redis_cli_pipe_mode() {
    if !have("redis-cli") {
        return;
    }
    let srv = TestServer::start(2);
    let input: Vec<u8> = (0..1000)
        .flat_map(|i| common::resp(&["SET".to_string(), format!("key{i}"), i.to_string()]))
        .collect();
    let mut c = Command::new("redis-cli");
    c.args(["-p", &srv.port().to_string(), "--pipe"]);
    let out = run(c, &input, Duration::from_secs(30));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("errors: 0, replies: 1000"), "{stdout}");
    assert_eq!(cli(&srv, &["dbsize"]), "1000\n");
    assert_eq!(cli(&srv, &["get", "key999"]), "999\n");
}

#[test]
fn redis_benchmark_runs_without_errors() {
    if !have("redis-benchmark") {
        return;
    }
    let srv = TestServer::start(2);
    let mut c = Command::new("redis-benchmark");
    c.args(["-p", &srv.port().to_string()])
        .args(["-t", "set,get", "-n", "20000", "-P", "16", "-q"]);
    let out = run(c, b"", Duration::from_secs(120));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success(), "{all}");
    for test in ["SET: ", "GET: "] {
        assert!(all.contains(test), "no {test:?} result in {all}");
    }
    assert!(all.contains("requests per second"), "{all}");
    let lower = all.to_lowercase();
    assert!(
        !lower.contains("error") && !lower.contains("warning"),
        "{all}"
    );
}

#[test]
fn one_listening_socket_per_thread() {
    if !have("ss") {
        return;
    }
    let threads = 2;
    let srv = TestServer::start(threads);
    let want = if srv.kind() == Kind::Redis {
        1
    } else {
        threads
    };
    let filter = format!("sport = :{}", srv.port());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Command::new("ss");
        c.args(["-ltnH", &filter]);
        let out = text(&run(c, b"", Duration::from_secs(10)).stdout);
        let n = out.lines().filter(|l| !l.trim().is_empty()).count();
        if n == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "want {want} listening sockets, ss shows:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn taken_port_fails_fast_with_a_clear_message() {
    let srv = TestServer::start(1);
    let port = srv.port().to_string();
    let c = if target_is_redis() {
        common::redis_command(srv.port())
    } else {
        let mut c = Command::new(common::ringkv_bin());
        c.args(["--port", &port, "--bind", "127.0.0.1", "--threads", "1"]);
        c
    };
    let started = Instant::now();
    let out = run(c, b"", Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "exit status {:?}", out.status);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // ringkv must say it on stderr; redis-server logs to stdout.
    let msg = if target_is_redis() {
        text(&out.stdout) + &text(&out.stderr)
    } else {
        text(&out.stderr)
    };
    let addr = format!("127.0.0.1:{port}");
    assert!(msg.contains(&addr), "message does not name {addr}: {msg:?}");
    // The first server is unharmed.
    assert_eq!(srv.raw().cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn sigterm_exits_zero() {
    let mut srv = TestServer::start(2);
    assert_eq!(srv.raw().cmd(&["SET", "k", "v"]), b"+OK\r\n");
    let status = Command::new("kill")
        .args(["-TERM", &srv.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = srv.wait_exit(Duration::from_secs(10));
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "after SIGTERM: {exit:?}\n{}",
        srv.log()
    );
}

#[test]
fn shutdown_nosave_exits_zero() {
    let mut srv = TestServer::start(2);
    let mut c = srv.raw();
    c.send(&common::resp(&["SHUTDOWN", "NOSAVE"]));
    c.expect_closed();
    let exit = srv.wait_exit(Duration::from_secs(10));
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "after SHUTDOWN: {exit:?}\n{}",
        srv.log()
    );
}
