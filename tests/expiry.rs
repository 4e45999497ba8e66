//! Active expiry through the real binary: keys with a short TTL that no client
//! touches again are removed by the background sweep within Redis's time,
//! however sparse they are among persistent keys (the sweep walks an index of
//! the tables holding TTLs, as Redis samples its expires dict).
//!
//! Checked against redis-server 7.0 with
//! `RINGKV_TEST_TARGET=redis cargo test --test expiry`.

mod common;

use common::{show, RawConn, TestServer};
use std::time::{Duration, Instant};

/// The integer reply to `args`.
fn int(c: &mut RawConn, args: &[&str]) -> i64 {
    let got = c.cmd(args);
    std::str::from_utf8(&got)
        .ok()
        .and_then(|t| t.strip_prefix(':'))
        .and_then(|t| t.strip_suffix("\r\n"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: not an integer reply: {:?}", show(&got)))
}

/// Polls DBSIZE every 20 ms until it equals `want` or `limit` passes.
fn dbsize_reaches(c: &mut RawConn, want: i64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if int(c, &["DBSIZE"]) == want {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn psetex_three(c: &mut RawConn) {
    for k in ["exp:a", "exp:b", "exp:c"] {
        assert_eq!(show(&c.cmd(&["PSETEX", k, "500", "a"])), "+OK\\r\\n");
    }
}

#[test]
fn three_untouched_keys_expire_within_two_seconds() {
    for threads in [1, 2] {
        let srv = TestServer::start(threads);
        let mut c = srv.raw();
        psetex_three(&mut c);
        assert!(
            dbsize_reaches(&mut c, 0, Duration::from_millis(2000)),
            "threads {threads}: DBSIZE still {}",
            int(&mut c, &["DBSIZE"])
        );
    }
}

#[test]
fn sparse_ttl_keys_among_many_persistent_ones_expire() {
    for threads in [1, 2] {
        let srv = TestServer::start(threads);
        let mut c = srv.raw();
        let mut pipe = Vec::new();
        for i in 0..10_000 {
            let k = format!("key:{i:010}");
            pipe.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$1\r\nv\r\n", k.len()).as_bytes(),
            );
        }
        c.send(&pipe);
        for _ in 0..10_000 {
            assert_eq!(show(&c.reply()), "+OK\\r\\n");
        }
        psetex_three(&mut c);
        assert_eq!(int(&mut c, &["DBSIZE"]), 10_003);
        assert!(
            dbsize_reaches(&mut c, 10_000, Duration::from_millis(2500)),
            "threads {threads}: DBSIZE still {}",
            int(&mut c, &["DBSIZE"])
        );
    }
}
