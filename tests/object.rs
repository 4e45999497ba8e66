//! OBJECT IDLETIME and FREQ through the real binary, next to redis-server:
//! the idle time is 0 right after an access, at least 2 after 2.1 s without
//! one, and neither OBJECT, TYPE, EXISTS nor TTL resets it (Redis looks keys up
//! with `LOOKUP_NOTOUCH` there) while GET and TOUCH do. Under an LFU
//! `maxmemory-policy` IDLETIME is an error and FREQ counts accesses.

mod common;

use common::{show, RawConn, RedisServer, TestServer};
use std::time::Duration;

fn int(reply: &[u8]) -> i64 {
    let text = std::str::from_utf8(reply).expect("utf8");
    assert!(text.starts_with(':'), "not an integer: {text:?}");
    text[1..].trim_end().parse().expect("integer")
}

fn idle(c: &mut RawConn, key: &str) -> i64 {
    int(&c.cmd(&["OBJECT", "IDLETIME", key]))
}

fn check_idletime(c: &mut RawConn, who: &str) {
    assert_eq!(show(&c.cmd(&["SET", "k", "value"])), "+OK\\r\\n", "{who}");
    assert_eq!(idle(c, "k"), 0, "{who}: right after SET");
    std::thread::sleep(Duration::from_millis(2100));
    for probe in [
        &["TYPE", "k"][..],
        &["OBJECT", "ENCODING", "k"],
        &["EXISTS", "k"],
        &["TTL", "k"],
        &["OBJECT", "REFCOUNT", "k"],
    ] {
        c.cmd(probe);
    }
    assert!(
        idle(c, "k") >= 2,
        "{who}: not reset by OBJECT/TYPE/EXISTS/TTL"
    );
    c.cmd(&["GET", "k"]);
    assert!(idle(c, "k") <= 1, "{who}: GET touches");
    std::thread::sleep(Duration::from_millis(2100));
    c.cmd(&["TOUCH", "k"]);
    assert!(idle(c, "k") <= 1, "{who}: TOUCH touches");
}

#[test]
fn idletime_follows_accesses_like_redis() {
    let (ringkv, redis) = (TestServer::start(2), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    // Both servers in one pass: the sleeps overlap.
    let t = std::thread::spawn(move || check_idletime(&mut b, "redis-server"));
    check_idletime(&mut a, "ringkv");
    t.join().expect("redis-server side");
}

#[test]
fn lfu_policy_tracks_frequency_not_idle_time() {
    let ringkv = TestServer::builder()
        .threads(1)
        .arg("--maxmemory-policy")
        .arg("allkeys-lfu")
        .start();
    let mut c = ringkv.raw();
    c.cmd(&["SET", "k", "value"]);
    // New keys start at Redis's LFU_INIT_VAL; the first accesses always count.
    assert_eq!(int(&c.cmd(&["OBJECT", "FREQ", "k"])), 5);
    c.cmd(&["GET", "k"]);
    assert_eq!(int(&c.cmd(&["OBJECT", "FREQ", "k"])), 6);
    assert_eq!(
        show(&c.cmd(&["OBJECT", "IDLETIME", "k"])),
        "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\\r\\n"
    );
    assert_eq!(show(&c.cmd(&["OBJECT", "IDLETIME", "nokey"])), "$-1\\r\\n");
}
