//! Generic keyspace commands through the real binary with two shards: DEL,
//! UNLINK, REMOVE, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, COPY, the EXPIRE and
//! TTL families, PERSIST, KEYS, SCAN and RANDOMKEY — every option and error,
//! exact reply bytes, keys spread over both shards (`foo` and `bar` live on
//! different shards) and hashtag keys sharing one (`{a}x`, `{a}y`).
//!
//! Every expectation was checked against redis-server 7.0 with
//! `RINGKV_TEST_TARGET=redis cargo test --test keys` (REMOVE, ringkv's alias
//! of DEL, is skipped there).

mod common;

use common::{show, Kind, RawConn, TestServer};
use ringkv::slot::key_slot;
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

const THREADS: usize = 2;

fn server() -> TestServer {
    TestServer::start(THREADS)
}

/// The shard owning `key` with two contiguous slot ranges.
fn shard_of(key: &str) -> usize {
    key_slot(key.as_bytes()) as usize * THREADS / 16384
}

/// Runs `(command, reply)` steps on one connection, comparing reply bytes.
/// Commands are split on spaces (use [`RawConn::cmd`] for odd arguments).
fn script(c: &mut RawConn, steps: &[(&str, &str)]) {
    for (line, want) in steps {
        let args: Vec<&str> = line.split(' ').collect();
        let got = c.cmd(&args);
        assert_eq!(show(&got), show(want.as_bytes()), "command {line:?}");
    }
}

/// An integer reply's value.
fn int(c: &mut RawConn, line: &str) -> i64 {
    let args: Vec<&str> = line.split(' ').collect();
    let got = c.cmd(&args);
    let text = std::str::from_utf8(&got).expect("utf8");
    text.strip_prefix(':')
        .and_then(|t| t.strip_suffix("\r\n"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}: not an integer reply: {:?}", show(&got)))
}

/// Polls `cond` every few ms until it holds (5 s limit).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn switch_to_resp3(c: &mut RawConn) {
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(hello.starts_with(b"%"), "HELLO 3: {:?}", show(&hello));
}

#[test]
fn test_keys_span_both_shards() {
    assert_ne!(shard_of("foo"), shard_of("bar"));
    assert_eq!(shard_of("{a}x"), shard_of("{a}y"));
}

#[test]
fn del_unlink_remove_exists_touch() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("SET foo 1", "+OK\r\n"),
            ("SET bar 2", "+OK\r\n"),
            ("SET {a}x 3", "+OK\r\n"),
            ("SET {a}y 4", "+OK\r\n"),
            ("EXISTS foo bar {a}x {a}y {a}x nokey", ":5\r\n"),
            ("EXISTS nokey", ":0\r\n"),
            ("TOUCH foo bar nokey foo", ":3\r\n"),
            ("TOUCH {a}x {a}y", ":2\r\n"),
            ("DEL foo bar nokey foo", ":2\r\n"),
            ("EXISTS foo bar", ":0\r\n"),
            ("UNLINK {a}x {a}y {a}x", ":2\r\n"),
            ("DEL foo", ":0\r\n"),
            ("SET foo 1", "+OK\r\n"),
            ("SET {a}x 1", "+OK\r\n"),
            ("unlink foo {a}x bar", ":2\r\n"),
            (
                "del",
                "-ERR wrong number of arguments for 'del' command\r\n",
            ),
            (
                "UNLINK",
                "-ERR wrong number of arguments for 'unlink' command\r\n",
            ),
            (
                "exists",
                "-ERR wrong number of arguments for 'exists' command\r\n",
            ),
            (
                "touch",
                "-ERR wrong number of arguments for 'touch' command\r\n",
            ),
            ("DBSIZE", ":0\r\n"),
        ],
    );
    if srv.kind() == Kind::Ringkv {
        script(
            &mut c,
            &[
                ("SET foo 1", "+OK\r\n"),
                ("SET bar 1", "+OK\r\n"),
                ("REMOVE foo bar foo nokey", ":2\r\n"),
                (
                    "remove",
                    "-ERR wrong number of arguments for 'remove' command\r\n",
                ),
            ],
        );
    }
}

#[test]
fn type_of_keys() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("TYPE foo", "+none\r\n"),
            ("SET foo 12", "+OK\r\n"),
            ("SET bar abc", "+OK\r\n"),
            ("TYPE foo", "+string\r\n"),
            ("type bar", "+string\r\n"),
            (
                "TYPE",
                "-ERR wrong number of arguments for 'type' command\r\n",
            ),
            (
                "TYPE foo bar",
                "-ERR wrong number of arguments for 'type' command\r\n",
            ),
        ],
    );
    switch_to_resp3(&mut c);
    script(
        &mut c,
        &[("TYPE foo", "+string\r\n"), ("TYPE nokey", "+none\r\n")],
    );
}

#[test]
fn rename_and_renamenx_on_one_and_two_shards() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("RENAME foo bar", "-ERR no such key\r\n"),
            ("RENAME foo foo", "-ERR no such key\r\n"),
            ("RENAMENX foo bar", "-ERR no such key\r\n"),
            ("SET foo v1 PX 100000", "+OK\r\n"),
            ("RENAME foo foo", "+OK\r\n"),
            ("RENAMENX foo foo", ":0\r\n"),
            // Across shards, keeping the TTL.
            ("RENAME foo bar", "+OK\r\n"),
            ("EXISTS foo", ":0\r\n"),
            ("GET bar", "$2\r\nv1\r\n"),
        ],
    );
    let pttl = int(&mut c, "PTTL bar");
    assert!((90_000..=100_000).contains(&pttl), "pttl {pttl}");
    script(
        &mut c,
        &[
            // Overwrites the destination and its TTL.
            ("SET foo v2", "+OK\r\n"),
            ("RENAME foo bar", "+OK\r\n"),
            ("PTTL bar", ":-1\r\n"),
            ("GET bar", "$2\r\nv2\r\n"),
            ("SET foo v3", "+OK\r\n"),
            ("RENAMENX foo bar", ":0\r\n"),
            ("GET foo", "$2\r\nv3\r\n"),
            ("GET bar", "$2\r\nv2\r\n"),
            ("DEL bar", ":1\r\n"),
            ("RENAMENX foo bar", ":1\r\n"),
            ("MGET foo bar", "*2\r\n$-1\r\n$2\r\nv3\r\n"),
            // On one shard through a hashtag.
            ("SET {a}x 1 EX 100", "+OK\r\n"),
            ("RENAME {a}x {a}y", "+OK\r\n"),
            ("TTL {a}y", ":100\r\n"),
            ("SET {a}x 2", "+OK\r\n"),
            ("RENAMENX {a}x {a}y", ":0\r\n"),
            ("RENAMENX {a}y {a}z", ":1\r\n"),
            ("MGET {a}x {a}y {a}z", "*3\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n"),
            (
                "RENAME foo",
                "-ERR wrong number of arguments for 'rename' command\r\n",
            ),
            (
                "RENAMENX a b c",
                "-ERR wrong number of arguments for 'renamenx' command\r\n",
            ),
        ],
    );
}

#[test]
fn rename_of_an_expired_key_fails() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("SET foo v PX 30", "+OK\r\n"),
            ("SET {a}x v PX 30", "+OK\r\n"),
        ],
    );
    wait_until("foo to expire", || int(&mut c, "EXISTS foo {a}x") == 0);
    script(
        &mut c,
        &[
            ("RENAME foo bar", "-ERR no such key\r\n"),
            ("RENAME {a}x {a}y", "-ERR no such key\r\n"),
            ("EXISTS bar {a}y", ":0\r\n"),
        ],
    );
}

#[test]
fn copy_options_and_errors() {
    let srv = server();
    let mut c = srv.raw();
    let same = "-ERR source and destination objects are the same\r\n";
    let range = "-ERR DB index is out of range\r\n";
    let i32_range = "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n";
    script(
        &mut c,
        &[
            ("COPY foo bar", ":0\r\n"),
            ("COPY foo foo", same),
            ("COPY foo foo DB 0", same),
            ("SET foo v1 PX 100000", "+OK\r\n"),
            // Across shards, keeping the TTL.
            ("COPY foo bar", ":1\r\n"),
            ("GET bar", "$2\r\nv1\r\n"),
            ("COPY foo bar", ":0\r\n"),
            ("SET foo v2", "+OK\r\n"),
            ("COPY foo bar REPLACE", ":1\r\n"),
            ("GET bar", "$2\r\nv2\r\n"),
            ("PTTL bar", ":-1\r\n"),
            ("copy foo bar replace REPLACE", ":1\r\n"),
            // Same shard.
            ("SET {a}x 1", "+OK\r\n"),
            ("COPY {a}x {a}y", ":1\r\n"),
            ("COPY {a}x {a}y", ":0\r\n"),
            ("MGET {a}x {a}y", "*2\r\n$1\r\n1\r\n$1\r\n1\r\n"),
            // Errors, in argument order.
            ("COPY foo bar DB 16", range),
            ("COPY foo bar DB -1", range),
            ("COPY foo bar DB 99 junk", range),
            ("COPY foo bar junk DB 99", "-ERR syntax error\r\n"),
            ("COPY foo bar DB", "-ERR syntax error\r\n"),
            (
                "COPY foo bar DB x",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("COPY foo bar DB 2147483648", i32_range),
            ("COPY foo bar DB 0 REPLACE x", "-ERR syntax error\r\n"),
            (
                "COPY foo",
                "-ERR wrong number of arguments for 'copy' command\r\n",
            ),
        ],
    );
    let pttl_src = int(&mut c, "PEXPIRE foo 100000");
    assert_eq!(pttl_src, 1);
    script(
        &mut c,
        &[
            // Into another DB: same key allowed, same shard or not.
            ("COPY foo foo DB 1", ":1\r\n"),
            ("COPY foo bar DB 1", ":1\r\n"),
            ("COPY foo bar DB 1", ":0\r\n"),
            ("COPY {a}x {a}x db 15", ":1\r\n"),
            ("SELECT 1", "+OK\r\n"),
            ("MGET foo bar", "*2\r\n$2\r\nv2\r\n$2\r\nv2\r\n"),
            ("COPY foo foo DB 1", same),
            ("COPY foo foo DB 0", ":0\r\n"),
            ("COPY foo foo DB 0 REPLACE", ":1\r\n"),
            ("SELECT 15", "+OK\r\n"),
            ("GET {a}x", "$1\r\n1\r\n"),
            ("DBSIZE", ":1\r\n"),
        ],
    );
    let pttl = int(&mut c, "PTTL nokey");
    assert_eq!(pttl, -2);
    c.cmd(&["SELECT", "1"]);
    let pttl = int(&mut c, "PTTL bar");
    assert!((90_000..=100_000).contains(&pttl), "copied TTL {pttl}");
}

#[test]
fn expire_family_options_and_errors() {
    let srv = server();
    let mut c = srv.raw();
    let nx_err = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    let gtlt_err = "-ERR GT and LT options at the same time are not compatible\r\n";
    for key in ["foo", "bar", "{a}x"] {
        let s = |fmt: &str| fmt.replace("K", key);
        let steps: Vec<(String, &str)> = vec![
            (s("EXPIRE K 100"), ":0\r\n"),
            (s("SET K v"), "+OK\r\n"),
            (s("EXPIRE K 10 XX"), ":0\r\n"),
            (s("EXPIRE K 10 GT"), ":0\r\n"),
            (s("EXPIRE K 10 xx gt"), ":0\r\n"),
            (s("EXPIRE K 100 NX"), ":1\r\n"),
            (s("EXPIRE K 200 NX"), ":0\r\n"),
            (s("TTL K"), ":100\r\n"),
            (s("EXPIRE K 200 LT"), ":0\r\n"),
            (s("EXPIRE K 50 LT"), ":1\r\n"),
            (s("EXPIRE K 40 GT"), ":0\r\n"),
            (s("EXPIRE K 60 gt"), ":1\r\n"),
            (s("EXPIRE K 70 XX GT"), ":1\r\n"),
            (s("EXPIRE K 80 XX LT"), ":0\r\n"),
            (s("TTL K"), ":70\r\n"),
            (s("PEXPIRE K 5000"), ":1\r\n"),
            (s("TTL K"), ":5\r\n"),
            (s("EXPIREAT K 4102444800"), ":1\r\n"),
            (s("EXPIRETIME K"), ":4102444800\r\n"),
            (s("PEXPIRETIME K"), ":4102444800000\r\n"),
            (s("PEXPIREAT K 4102444800123"), ":1\r\n"),
            (s("PEXPIRETIME K"), ":4102444800123\r\n"),
            (s("EXPIRETIME K"), ":4102444800\r\n"),
            (s("EXPIRE K 10 NX XX"), nx_err),
            (s("EXPIRE K 10 gt nx"), nx_err),
            (s("PEXPIRE K 10 nx lt"), nx_err),
            (s("EXPIREAT K 10 GT LT"), gtlt_err),
            (s("PEXPIREAT K 10 XX GT LT"), gtlt_err),
            (s("EXPIRE K 10 FOO"), "-ERR Unsupported option FOO\r\n"),
            (s("EXPIRE K x FOO"), "-ERR Unsupported option FOO\r\n"),
            (s("EXPIRE K x NX XX"), nx_err),
            (
                s("EXPIRE K x"),
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                s("EXPIRE K 1.5"),
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                s("EXPIRE K 9223372036854775807"),
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                s("EXPIRE K -9223372036854776"),
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                s("PEXPIRE K 9223372036854775807"),
                "-ERR invalid expire time in 'pexpire' command\r\n",
            ),
            (
                s("EXPIREAT K 9223372036854776"),
                "-ERR invalid expire time in 'expireat' command\r\n",
            ),
            (
                s("EXPIRE nokey 9223372036854775807"),
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (s("PEXPIRETIME K"), ":4102444800123\r\n"),
            (s("PEXPIREAT K 9223372036854775807"), ":1\r\n"),
            (s("PEXPIRETIME K"), ":9223372036854775807\r\n"),
            (s("EXPIRETIME K"), ":9223372036854776\r\n"),
            (s("PERSIST K"), ":1\r\n"),
            (s("PERSIST K"), ":0\r\n"),
            (s("TTL K"), ":-1\r\n"),
            // Times in the past delete the key and reply 1.
            (s("EXPIRE K -1"), ":1\r\n"),
            (s("EXISTS K"), ":0\r\n"),
            (s("SET K v"), "+OK\r\n"),
            (s("EXPIRE K 0"), ":1\r\n"),
            (s("SET K v"), "+OK\r\n"),
            (s("PEXPIRE K -100 LT"), ":1\r\n"),
            (s("SET K v"), "+OK\r\n"),
            (s("EXPIREAT K 1"), ":1\r\n"),
            (s("SET K v"), "+OK\r\n"),
            (s("PEXPIREAT K 0"), ":1\r\n"),
            (s("EXISTS K"), ":0\r\n"),
            (s("EXPIREAT K 1"), ":0\r\n"),
            (
                s("EXPIRE K"),
                "-ERR wrong number of arguments for 'expire' command\r\n",
            ),
            (
                s("PEXPIRE K"),
                "-ERR wrong number of arguments for 'pexpire' command\r\n",
            ),
            (
                s("EXPIREAT K"),
                "-ERR wrong number of arguments for 'expireat' command\r\n",
            ),
            (
                s("PEXPIREAT K"),
                "-ERR wrong number of arguments for 'pexpireat' command\r\n",
            ),
        ];
        let steps: Vec<(&str, &str)> = steps.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        script(&mut c, &steps);
    }
}

#[test]
fn ttl_pttl_expiretime_persist() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("TTL foo", ":-2\r\n"),
            ("PTTL foo", ":-2\r\n"),
            ("EXPIRETIME foo", ":-2\r\n"),
            ("PEXPIRETIME foo", ":-2\r\n"),
            ("PERSIST foo", ":0\r\n"),
            ("SET foo v", "+OK\r\n"),
            ("TTL foo", ":-1\r\n"),
            ("PTTL foo", ":-1\r\n"),
            ("EXPIRETIME foo", ":-1\r\n"),
            ("PEXPIRETIME foo", ":-1\r\n"),
            ("PERSIST foo", ":0\r\n"),
            ("SET bar v EX 100", "+OK\r\n"),
            ("TTL bar", ":100\r\n"),
            ("PERSIST bar", ":1\r\n"),
            ("TTL bar", ":-1\r\n"),
            (
                "TTL",
                "-ERR wrong number of arguments for 'ttl' command\r\n",
            ),
            (
                "PTTL a b",
                "-ERR wrong number of arguments for 'pttl' command\r\n",
            ),
            (
                "EXPIRETIME",
                "-ERR wrong number of arguments for 'expiretime' command\r\n",
            ),
            (
                "PEXPIRETIME",
                "-ERR wrong number of arguments for 'pexpiretime' command\r\n",
            ),
            (
                "PERSIST",
                "-ERR wrong number of arguments for 'persist' command\r\n",
            ),
        ],
    );
    // Seconds are rounded: 1.5 s left reads 1 or 2 depending on elapsed ms.
    script(&mut c, &[("PEXPIRE foo 1500", ":1\r\n")]);
    let ttl = int(&mut c, "TTL foo");
    assert!(ttl == 1 || ttl == 2, "ttl {ttl}");
    script(
        &mut c,
        &[("PEXPIRE foo 400", ":1\r\n"), ("TTL foo", ":0\r\n")],
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = int(&mut c, "PEXPIRETIME foo");
    assert!(
        (now_ms..=now_ms + 1000).contains(&at),
        "pexpiretime {at} vs now {now_ms}"
    );
    let at_s = int(&mut c, "EXPIRETIME foo");
    assert_eq!(at_s, (at + 500) / 1000);
    switch_to_resp3(&mut c);
    script(&mut c, &[("TTL nokey", ":-2\r\n"), ("PTTL bar", ":-1\r\n")]);
}

#[test]
fn short_ttls_expire_on_both_shards() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("SET foo v PX 50", "+OK\r\n"),
            ("SET bar v", "+OK\r\n"),
            ("PEXPIRE bar 50", ":1\r\n"),
            ("SET {a}x v", "+OK\r\n"),
            ("SET {a}y v", "+OK\r\n"),
            ("PEXPIRE {a}x 50", ":1\r\n"),
        ],
    );
    for key in ["foo", "bar", "{a}x"] {
        let pttl = int(&mut c, &format!("PTTL {key}"));
        assert!(pttl == -2 || (0..=50).contains(&pttl), "{key}: {pttl}");
    }
    wait_until("short TTLs to pass", || {
        int(&mut c, "EXISTS foo bar {a}x") == 0
    });
    script(
        &mut c,
        &[
            ("TTL foo", ":-2\r\n"),
            ("PTTL bar", ":-2\r\n"),
            ("TYPE {a}x", "+none\r\n"),
            ("PERSIST foo", ":0\r\n"),
            ("EXPIRE bar 10", ":0\r\n"),
            ("GET {a}y", "$1\r\nv\r\n"),
            ("KEYS *", "*1\r\n$4\r\n{a}y\r\n"),
            ("DBSIZE", ":1\r\n"),
        ],
    );
}

#[test]
fn keys_patterns() {
    let srv = server();
    let mut c = srv.raw();
    let keys: &[&[u8]] = &[
        b"hello",
        b"hallo",
        b"hxllo",
        b"hllo",
        b"heeeello",
        b"h*llo",
        b"h[llo",
        b"a\\b",
        b"",
        b"{a}x",
        b"{a}y",
        b"foo",
        b"bar",
        b"x]y",
        b"-",
        b"]",
        b"^x]",
        b"K1",
        b"k1",
    ];
    for k in keys {
        assert_eq!(c.cmd(&[&b"SET"[..], k, b"v"]), b"+OK\r\n");
    }
    let cases: &[(&[u8], &[&[u8]])] = &[
        (
            b"h?llo",
            &[b"h*llo", b"h[llo", b"hallo", b"hello", b"hxllo"],
        ),
        (
            b"h*llo",
            &[
                b"h*llo",
                b"h[llo",
                b"hallo",
                b"heeeello",
                b"hello",
                b"hllo",
                b"hxllo",
            ],
        ),
        (b"h[ae]llo", &[b"hallo", b"hello"]),
        (b"h[^e]llo", &[b"h*llo", b"h[llo", b"hallo", b"hxllo"]),
        (b"h[a-e]llo", &[b"hallo", b"hello"]),
        (b"h[e-a]llo", &[b"hallo", b"hello"]),
        (b"h\\*llo", &[b"h*llo"]),
        (b"h[[]llo", &[b"h[llo"]),
        (b"h\\[llo", &[b"h[llo"]),
        (b"a\\\\b", &[b"a\\b"]),
        (b"{a}*", &[b"{a}x", b"{a}y"]),
        (b"*]*", &[b"]", b"^x]", b"x]y"]),
        (b"[a-]x]", &[b"]"]),
        (b"[\\]]", &[b"]"]),
        (b"[]]", &[]),
        (b"[^]", &[b"-", b"]"]),
        (b"-", &[b"-"]),
        (b"[a-", &[b"-"]),
        (b"K*", &[b"K1"]),
        (b"[k]?", &[b"k1"]),
        (b"?", &[b"-", b"]"]),
        (b"", &[b""]),
        (b"nomatch*", &[]),
    ];
    for (pattern, want) in cases {
        let got = keys_of(&c.cmd(&[&b"KEYS"[..], pattern]));
        let want: BTreeSet<Vec<u8>> = want.iter().map(|k| k.to_vec()).collect();
        assert_eq!(got, want, "KEYS {:?}", show(pattern));
    }
    // "*" lists everything (the empty key included); "**" and "?*" do not match "".
    assert_eq!(keys_of(&c.cmd(&["KEYS", "*"])).len(), keys.len());
    assert_eq!(keys_of(&c.cmd(&["KEYS", "**"])).len(), keys.len() - 1);
    assert_eq!(keys_of(&c.cmd(&["KEYS", "?*"])).len(), keys.len() - 1);
    script(
        &mut c,
        &[
            (
                "KEYS",
                "-ERR wrong number of arguments for 'keys' command\r\n",
            ),
            (
                "KEYS a b",
                "-ERR wrong number of arguments for 'keys' command\r\n",
            ),
            ("SELECT 3", "+OK\r\n"),
            ("KEYS *", "*0\r\n"),
        ],
    );
}

/// The bulk strings of a flat array reply, as a set.
fn keys_of(reply: &[u8]) -> BTreeSet<Vec<u8>> {
    fn line<'a>(r: &mut &'a [u8]) -> &'a [u8] {
        let end = r.windows(2).position(|w| w == b"\r\n").expect("CRLF");
        let l = &r[..end];
        *r = &r[end + 2..];
        l
    }
    fn number(l: &[u8]) -> usize {
        std::str::from_utf8(&l[1..]).unwrap().parse().unwrap()
    }
    let mut r = reply;
    let head = line(&mut r);
    assert_eq!(head[0], b'*', "not an array: {:?}", show(reply));
    let mut out = BTreeSet::new();
    for _ in 0..number(head) {
        let h = line(&mut r);
        assert_eq!(h[0], b'$', "not a bulk string: {:?}", show(reply));
        let (k, rest) = r.split_at(number(h));
        out.insert(k.to_vec());
        r = &rest[2..];
    }
    out
}

/// Iterates SCAN to completion, asserting no key comes back twice.
fn scan_all(con: &mut redis::Connection, opts: &[&str]) -> HashSet<String> {
    let (mut cursor, mut seen, mut calls) = (0u64, HashSet::new(), 0);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg(opts)
            .query(con)
            .expect("SCAN");
        for k in keys {
            assert!(seen.insert(k.clone()), "SCAN {opts:?} returned {k} twice");
        }
        calls += 1;
        assert!(calls < 100_000, "SCAN does not finish");
        if next == 0 {
            return seen;
        }
        cursor = next;
    }
}

#[test]
fn scan_returns_every_key_exactly_once() {
    let srv = server();
    let mut con = srv.connection();
    let n = 3000;
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    for i in 0..20 {
        pipe.cmd("SET").arg(format!("{{tag}}:{i}")).arg(i).ignore();
    }
    pipe.query::<()>(&mut con).expect("load");
    let all: HashSet<String> = (0..n)
        .map(|i| format!("key:{i}"))
        .chain((0..20).map(|i| format!("{{tag}}:{i}")))
        .collect();
    let shards: HashSet<usize> = all.iter().map(|k| shard_of(k)).collect();
    assert_eq!(shards.len(), THREADS);
    let variants: [&[&str]; 5] = [
        &[],
        &["COUNT", "1"],
        &["COUNT", "7"],
        &["COUNT", "100000"],
        &["MATCH", "*"],
    ];
    for opts in variants {
        assert_eq!(scan_all(&mut con, opts), all, "SCAN {opts:?}");
    }
    let ones: HashSet<String> = all
        .iter()
        .filter(|k| k.starts_with("key:1"))
        .cloned()
        .collect();
    assert_eq!(scan_all(&mut con, &["MATCH", "key:1*"]), ones);
    assert_eq!(
        scan_all(&mut con, &["MATCH", "key:1*", "COUNT", "50"]),
        ones
    );
    let tags: HashSet<String> = (0..20).map(|i| format!("{{tag}}:{i}")).collect();
    assert_eq!(
        scan_all(&mut con, &["MATCH", "{tag}:*", "COUNT", "3"]),
        tags
    );
    assert_eq!(scan_all(&mut con, &["TYPE", "string", "COUNT", "500"]), all);
    assert_eq!(scan_all(&mut con, &["type", "STRING"]), all);
    assert!(scan_all(&mut con, &["TYPE", "hash"]).is_empty());
    assert!(scan_all(&mut con, &["TYPE", "nosuchtype", "MATCH", "key:*"]).is_empty());
    assert_eq!(
        scan_all(
            &mut con,
            &["MATCH", "nomatch", "MATCH", "key:2?", "TYPE", "list", "TYPE", "string"]
        ),
        (20..30).map(|i| format!("key:{i}")).collect()
    );
    // Keys deleted during a scan are simply not returned; the rest still are.
    let (mut cursor, mut seen) = (0u64, HashSet::new());
    let mut deleted = HashSet::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut con)
            .unwrap();
        for k in keys {
            assert!(seen.insert(k), "duplicate during concurrent deletes");
        }
        let victim = format!("key:{}", 2999 - deleted.len());
        let _: i64 = redis::cmd("DEL").arg(&victim).query(&mut con).unwrap();
        deleted.insert(victim);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    for k in all.difference(&deleted) {
        assert!(seen.contains(k), "{k} missed");
    }
}

#[test]
fn scan_cursor_and_option_errors() {
    let srv = server();
    let mut c = srv.raw();
    let empty = "*2\r\n$1\r\n0\r\n*0\r\n";
    script(
        &mut c,
        &[
            ("SCAN 0", empty),
            ("SCAN 0 COUNT 10 MATCH * TYPE string", empty),
            ("SCAN x", "-ERR invalid cursor\r\n"),
            ("SCAN 1a", "-ERR invalid cursor\r\n"),
            ("SCAN 18446744073709551616", "-ERR invalid cursor\r\n"),
            ("SCAN 0x10", "-ERR invalid cursor\r\n"),
            ("SCAN x COUNT 0", "-ERR invalid cursor\r\n"),
            ("SCAN 0 COUNT 0", "-ERR syntax error\r\n"),
            ("SCAN 0 COUNT -1", "-ERR syntax error\r\n"),
            (
                "SCAN 0 COUNT x",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "SCAN 0 COUNT 9223372036854775808",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("SCAN 0 COUNT", "-ERR syntax error\r\n"),
            ("SCAN 0 MATCH", "-ERR syntax error\r\n"),
            ("SCAN 0 TYPE", "-ERR syntax error\r\n"),
            ("SCAN 0 FOO bar", "-ERR syntax error\r\n"),
            (
                "SCAN 0 COUNT x FOO",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "SCAN",
                "-ERR wrong number of arguments for 'scan' command\r\n",
            ),
        ],
    );
    assert_eq!(
        show(&c.cmd(&["SCAN", " 1"])),
        show(b"-ERR invalid cursor\r\n")
    );
    script(&mut c, &[("SET k v", "+OK\r\n")]);
    // strtoul's forms: "", "+0" and "-0" are cursor 0.
    for zero in ["", "+0", "-0"] {
        let got = c.cmd(&["SCAN", zero]);
        assert_eq!(
            show(&got),
            show(b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"),
            "SCAN {zero:?}"
        );
    }
    switch_to_resp3(&mut c);
    script(&mut c, &[("SCAN 0", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n")]);
}

#[test]
fn randomkey_on_empty_and_full_dbs() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("RANDOMKEY", "$-1\r\n"),
            (
                "RANDOMKEY x",
                "-ERR wrong number of arguments for 'randomkey' command\r\n",
            ),
            ("SET foo 1", "+OK\r\n"),
            ("RANDOMKEY", "$3\r\nfoo\r\n"),
            ("DEL foo", ":1\r\n"),
            ("SET bar 1", "+OK\r\n"),
            ("RANDOMKEY", "$3\r\nbar\r\n"),
            ("SET foo 1", "+OK\r\n"),
            ("SET {a}x 1", "+OK\r\n"),
            ("SET {a}y 1 PX 20", "+OK\r\n"),
        ],
    );
    wait_until("{a}y to expire", || int(&mut c, "EXISTS {a}y") == 0);
    let want: BTreeSet<Vec<u8>> = [&b"foo"[..], b"bar", b"{a}x"]
        .iter()
        .map(|k| k.to_vec())
        .collect();
    let mut seen = BTreeSet::new();
    for _ in 0..500 {
        let r = c.cmd(&["RANDOMKEY"]);
        let key = keys_of(&[b"*1\r\n".to_vec(), r].concat());
        seen.extend(key);
        if seen == want {
            break;
        }
    }
    assert_eq!(seen, want, "RANDOMKEY over both shards");
    script(&mut c, &[("SELECT 2", "+OK\r\n"), ("RANDOMKEY", "$-1\r\n")]);
    switch_to_resp3(&mut c);
    script(&mut c, &[("RANDOMKEY", "_\r\n")]);
}
