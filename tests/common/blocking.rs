//! Helpers for the blocking-command tests: clients blocked in a known
//! order (waiting for `INFO clients` to count them), and exact-reply checks.

use super::{resp, show, RawConn, TestServer};
use std::thread;
use std::time::{Duration, Instant};

/// How long a client must stay without a reply to count as still blocked.
pub const SILENCE: Duration = Duration::from_millis(200);

/// A control connection on an empty database.
pub fn fresh(server: &TestServer) -> RawConn {
    let mut c = server.raw();
    check(&mut c, &["FLUSHALL"], b"+OK\r\n");
    c
}

/// A new connection blocked on `argv` (see [`block`]).
#[track_caller]
pub fn waiter(server: &TestServer, ctl: &mut RawConn, argv: &[&str], blocked: usize) -> RawConn {
    let mut w = server.raw();
    block(ctl, &mut w, argv, blocked);
    w
}

/// Sends `argv` on `w` and returns once the server counts `blocked` blocked
/// clients, this one included (5 s at most), so that clients blocked one
/// after the other blocked in that order; fails if `w` is answered instead.
#[track_caller]
pub fn block(ctl: &mut RawConn, w: &mut RawConn, argv: &[&str], blocked: usize) {
    w.send(&resp(argv));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = blocked_clients(ctl);
        if now == blocked {
            return;
        }
        if let Some(r) = w.reply_within(Duration::from_millis(2)) {
            panic!("{argv:?} answered {} instead of blocking", show(&r));
        }
        assert!(
            Instant::now() < deadline,
            "{argv:?}: blocked_clients {now}, want {blocked} (5 s)"
        );
    }
}

/// `blocked_clients` of `INFO clients`.
pub fn blocked_clients(c: &mut RawConn) -> usize {
    let info = String::from_utf8(c.cmd(&["INFO", "clients"])).expect("utf-8 INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap_or_else(|| panic!("no blocked_clients in {info}"))
        .parse()
        .expect("blocked_clients number")
}

/// Polls `INFO clients` until `blocked_clients` is `n` (5 s at most).
#[track_caller]
pub fn wait_blocked(c: &mut RawConn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = blocked_clients(c);
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "blocked_clients {now}, want {n} (5 s)"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// The id `CLIENT ID` gives the connection.
pub fn client_id(c: &mut RawConn) -> String {
    let r = String::from_utf8(c.cmd(&["CLIENT", "ID"])).unwrap();
    r.strip_prefix(':')
        .and_then(|r| r.strip_suffix("\r\n"))
        .unwrap_or_else(|| panic!("CLIENT ID: {r:?}"))
        .to_string()
}

/// Sends `argv` and asserts its reply is exactly `want`.
#[track_caller]
pub fn check(c: &mut RawConn, argv: &[&str], want: &[u8]) {
    let got = c.cmd(argv);
    assert_eq!(show(&got), show(want), "{argv:?}");
}

/// Asserts a reply read earlier is exactly `want`.
#[track_caller]
pub fn expect(got: Vec<u8>, want: &[u8]) {
    assert_eq!(show(&got), show(want));
}

pub fn bulk(v: &str) -> Vec<u8> {
    format!("${}\r\n{v}\r\n", v.len()).into_bytes()
}

pub fn array(items: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend(bulk(i));
    }
    out
}
