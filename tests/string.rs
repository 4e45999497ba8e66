//! String commands through the real binary with two shards: GET, SET (every
//! option and their syntax errors), SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX,
//! APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE, INCR, DECR, INCRBY, DECRBY,
//! INCRBYFLOAT, MGET, MSET, MSETNX — exact reply bytes in RESP2 and RESP3,
//! binary and 1 MB values, TTL interactions, multi-key commands across both
//! shards, and INCRBYFLOAT compared with a real redis-server on random input.
//!
//! Every expectation was checked against redis-server 7.0 with
//! `RINGKV_TEST_TARGET=redis cargo test --test string`.

mod common;

use common::{show, RawConn, RedisServer, TestServer};
use rand::{rngs::StdRng, Rng, SeedableRng};
use ringkv::cmd::string::long_double;
use std::time::{SystemTime, UNIX_EPOCH};

const NIL: &str = "$-1\r\n";
const OK: &str = "+OK\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const TOO_BIG: &str = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";

fn server() -> TestServer {
    TestServer::start(2)
}

/// Runs `(command, reply)` steps; commands are split on single spaces.
fn script(c: &mut RawConn, steps: &[(&str, &str)]) {
    for (cmd, want) in steps {
        let args: Vec<&str> = cmd.split(' ').collect();
        let got = c.cmd(&args);
        assert_eq!(show(&got), show(want.as_bytes()), "{cmd}");
    }
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

fn int_reply(c: &mut RawConn, args: &[&str]) -> i64 {
    let r = c.cmd(args);
    let text = String::from_utf8_lossy(&r);
    text.trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("{args:?}: {text:?}"))
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn resp3(c: &mut RawConn) {
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(hello.starts_with(b"%"), "HELLO 3: {:?}", show(&hello));
}

#[test]
fn get_set_plain_binary_and_big() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("GET k", NIL),
            ("SET k v", OK),
            ("GET k", "$1\r\nv\r\n"),
            ("SET k 12345", OK),
            ("GET k", "$5\r\n12345\r\n"),
            ("SET k -0", OK),
            ("GET k", "$2\r\n-0\r\n"),
            ("SET  x", OK),
            ("GET ", "$1\r\nx\r\n"),
            ("SET e ", OK),
            ("GET e", "$0\r\n\r\n"),
            ("STRLEN e", ":0\r\n"),
        ],
    );
    let key: &[u8] = b"bin\0\r\n\xff";
    let val: &[u8] = b"\0\x01\r\n$-1\r\n\xfe";
    assert_eq!(c.cmd(&[&b"SET"[..], key, val]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[&b"GET"[..], key]),
        [&b"$10\r\n"[..], val, b"\r\n"].concat()
    );
    let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &big]), b"+OK\r\n");
    let want = [format!("${}\r\n", big.len()).as_bytes(), &big, b"\r\n"].concat();
    assert!(c.cmd(&["GET", "big"]) == want, "1 MB GET");
    assert_eq!(c.cmd(&[&b"APPEND"[..], b"big", &big]), b":2097152\r\n");
    assert_eq!(c.cmd(&["STRLEN", "big"]), b":2097152\r\n");
    let tail = c.cmd(&["GETRANGE", "big", "-3", "-1"]);
    assert_eq!(
        tail,
        [&b"$3\r\n"[..], &big[big.len() - 3..], b"\r\n"].concat()
    );
    assert_eq!(
        c.cmd(&["SETRANGE", "big", "2097151", "xy"]),
        b":2097153\r\n"
    );
    assert_eq!(
        c.cmd(&["GETRANGE", "big", "2097150", "-1"]),
        [
            &b"$3\r\n"[..],
            &big[(1 << 20) - 2..(1 << 20) - 1],
            b"xy\r\n"
        ]
        .concat()
    );
}

#[test]
fn set_syntax_and_expiry_errors() {
    let srv = server();
    let mut c = srv.raw();
    let invalid = "-ERR invalid expire time in 'set' command\r\n";
    script(
        &mut c,
        &[
            ("SET k v NX XX", SYNTAX),
            ("SET k v XX NX", SYNTAX),
            ("SET k v EX 10 PX 10", SYNTAX),
            ("SET k v PXAT 10 EXAT 10", SYNTAX),
            ("SET k v KEEPTTL EX 10", SYNTAX),
            ("SET k v EX 10 KEEPTTL", SYNTAX),
            ("SET k v EX", SYNTAX),
            ("SET k v GET EX", SYNTAX),
            ("SET k v EX abc NX XX", SYNTAX),
            ("SET k v PERSIST", SYNTAX),
            ("SET k v NXX", SYNTAX),
            ("SET k v EX abc", NOT_INT),
            ("SET k v PX 1.5", NOT_INT),
            ("SET k v EX 0", invalid),
            ("SET k v EX -1", invalid),
            ("SET k v PX 0", invalid),
            ("SET k v EXAT 0", invalid),
            ("SET k v PXAT -5", invalid),
            ("SET k v EX 9223372036854776", invalid),
            ("SET k v EX 9223372036854775", invalid),
            ("SET k v PX 9223372036854775807", invalid),
            (
                "SET k",
                "-ERR wrong number of arguments for 'set' command\r\n",
            ),
            ("EXISTS k", ":0\r\n"),
        ],
    );
}

#[test]
fn set_nx_xx_get_keepttl() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("SET k v XX", NIL),
            ("SET k v xx GET", NIL),
            ("EXISTS k", ":0\r\n"),
            ("SET k v NX GET", NIL),
            ("SET k v2 NX GET", "$1\r\nv\r\n"),
            ("SET k v3 nx", NIL),
            ("SET k v3 XX GET", "$1\r\nv\r\n"),
            ("SET k v4 GET", "$2\r\nv3\r\n"),
            ("SET k v5 NX NX GET GET", "$2\r\nv4\r\n"),
            ("GET k", "$2\r\nv4\r\n"),
            ("SET k v EX 100 EX 200", OK),
            ("TTL k", ":200\r\n"),
            ("SET k v2 KEEPTTL keepttl", OK),
            ("TTL k", ":200\r\n"),
            ("SET k v3 XX KEEPTTL GET", "$2\r\nv2\r\n"),
            ("TTL k", ":200\r\n"),
            ("SET k v4", OK),
            ("TTL k", ":-1\r\n"),
            ("SET k v PX 100000", OK),
            ("SET k v GET", "$1\r\nv\r\n"),
            ("TTL k", ":-1\r\n"),
            ("SET k v PXAT 1", OK),
            ("EXISTS k", ":0\r\n"),
            ("SET k v EXAT 1 GET", NIL),
            ("GET k", NIL),
        ],
    );
    let at = unix_ms() + 100_000;
    script(
        &mut c,
        &[
            (&format!("SET k v PXAT {at}"), OK),
            ("PEXPIRETIME k", &format!(":{at}\r\n")),
            (&format!("SET k v exat {}", at / 1000), OK),
            ("PEXPIRETIME k", &format!(":{}\r\n", at / 1000 * 1000)),
            ("SET k v PXAT 9223372036854775807", OK),
            ("PEXPIRETIME k", ":9223372036854775807\r\n"),
        ],
    );
    c.cmd(&["SET", "k", "v", "PX", "5000"]);
    let pttl = int_reply(&mut c, &["PTTL", "k"]);
    assert!((4000..=5000).contains(&pttl), "PTTL {pttl}");
}

#[test]
fn setnx_setex_psetex_getset_getdel() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("SETNX k 1", ":1\r\n"),
            ("SETNX k 2", ":0\r\n"),
            ("GET k", "$1\r\n1\r\n"),
            ("SETEX k 100 v", OK),
            ("TTL k", ":100\r\n"),
            (
                "SETEX k 0 v",
                "-ERR invalid expire time in 'setex' command\r\n",
            ),
            (
                "SETEX k -1 v",
                "-ERR invalid expire time in 'setex' command\r\n",
            ),
            ("SETEX k x v", NOT_INT),
            (
                "SETEX k 9223372036854776 v",
                "-ERR invalid expire time in 'setex' command\r\n",
            ),
            (
                "PSETEX k 0 v",
                "-ERR invalid expire time in 'psetex' command\r\n",
            ),
            ("PSETEX k 100000 w", OK),
            ("TTL k", ":100\r\n"),
            ("GETSET k x", "$1\r\nw\r\n"),
            ("TTL k", ":-1\r\n"),
            ("GETSET new y", NIL),
            ("GET new", "$1\r\ny\r\n"),
            ("GETDEL k", "$1\r\nx\r\n"),
            ("GETDEL k", NIL),
            ("EXISTS k", ":0\r\n"),
            (
                "SETNX k",
                "-ERR wrong number of arguments for 'setnx' command\r\n",
            ),
            (
                "SETEX k 10",
                "-ERR wrong number of arguments for 'setex' command\r\n",
            ),
        ],
    );
}

#[test]
fn getex_options_and_errors() {
    let srv = server();
    let mut c = srv.raw();
    let invalid = "-ERR invalid expire time in 'getex' command\r\n";
    script(
        &mut c,
        &[
            ("GETEX k", NIL),
            ("GETEX k EX abc", NIL),
            ("GETEX k NX", SYNTAX),
            ("SET k v", OK),
            ("GETEX k NX", SYNTAX),
            ("GETEX k KEEPTTL", SYNTAX),
            ("GETEX k GET", SYNTAX),
            ("GETEX k EX 10 PERSIST", SYNTAX),
            ("GETEX k PERSIST EX 10", SYNTAX),
            ("GETEX k EX 10 PX 10", SYNTAX),
            ("GETEX k EX", SYNTAX),
            ("GETEX k EX abc", NOT_INT),
            ("GETEX k EX 0", invalid),
            ("GETEX k PXAT -1", invalid),
            ("GETEX k EX 9223372036854776", invalid),
            ("GETEX k", "$1\r\nv\r\n"),
            ("TTL k", ":-1\r\n"),
            ("GETEX k ex 100", "$1\r\nv\r\n"),
            ("TTL k", ":100\r\n"),
            ("GETEX k PX 200000 px 300000", "$1\r\nv\r\n"),
            ("TTL k", ":300\r\n"),
            ("GETEX k", "$1\r\nv\r\n"),
            ("TTL k", ":300\r\n"),
            ("GETEX k PERSIST persist", "$1\r\nv\r\n"),
            ("TTL k", ":-1\r\n"),
            ("GETEX k PERSIST", "$1\r\nv\r\n"),
            ("GETEX k EXAT 1", "$1\r\nv\r\n"),
            ("EXISTS k", ":0\r\n"),
            ("SET k 7", OK),
            ("GETEX k PXAT 1", "$1\r\n7\r\n"),
            ("GETEX k", NIL),
        ],
    );
    let at = unix_ms() + 100_000;
    c.cmd(&["SET", "k", "v"]);
    script(
        &mut c,
        &[
            (&format!("GETEX k PXAT {at}"), "$1\r\nv\r\n"),
            ("PEXPIRETIME k", &format!(":{at}\r\n")),
            (&format!("GETEX k EXAT {}", at / 1000), "$1\r\nv\r\n"),
            ("EXPIRETIME k", &format!(":{}\r\n", at / 1000)),
        ],
    );
}

#[test]
fn append_strlen_getrange_substr() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("STRLEN k", ":0\r\n"),
            ("APPEND k Hello", ":5\r\n"),
            ("APPEND k _", ":6\r\n"),
            ("GET k", "$6\r\nHello_\r\n"),
        ],
    );
    assert_eq!(c.cmd(&["SETRANGE", "k", "5", " "]), b":6\r\n");
    script(
        &mut c,
        &[
            ("APPEND k World", ":11\r\n"),
            ("STRLEN k", ":11\r\n"),
            ("SET n 12345 EX 100", OK),
            ("STRLEN n", ":5\r\n"),
            ("APPEND n 6", ":6\r\n"),
            ("TTL n", ":100\r\n"),
            ("INCR n", ":123457\r\n"),
            ("GETRANGE n 1 -2", "$4\r\n2345\r\n"),
            ("GETRANGE nokey 0 1", "$0\r\n\r\n"),
            ("GETRANGE k a 1", NOT_INT),
            ("GETRANGE k 0 b", NOT_INT),
            ("SET e ", OK),
            ("GETRANGE e 0 -1", "$0\r\n\r\n"),
            ("GETRANGE e -1 0", "$0\r\n\r\n"),
        ],
    );
    let cases = [
        ("0", "4", "Hello"),
        ("-3", "-5", ""),
        ("-5", "-3", "Wor"),
        ("-5", "-1", "World"),
        ("0", "-100", "H"),
        ("-100", "-100", "H"),
        ("-100", "2", "Hel"),
        ("5", "3", ""),
        ("11", "20", ""),
        ("10", "10", "d"),
        ("0", "9223372036854775807", "Hello World"),
        ("-9223372036854775808", "3", "Hell"),
        ("-9223372036854775808", "-9223372036854775808", "H"),
    ];
    for (start, end, want) in cases {
        for cmd in ["GETRANGE", "SUBSTR"] {
            let got = c.cmd(&[cmd, "k", start, end]);
            assert_eq!(
                show(&got),
                show(bulk(want).as_bytes()),
                "{cmd} {start} {end}"
            );
        }
    }
}

#[test]
fn setrange_growth_limits_and_ttl() {
    let srv = server();
    let mut c = srv.raw();
    script(
        &mut c,
        &[
            ("SETRANGE k -1 x", "-ERR offset is out of range\r\n"),
            ("SETRANGE k x x", NOT_INT),
            ("SETRANGE k 536870912 x", TOO_BIG),
            ("SETRANGE k 536870912 ", ":0\r\n"),
            ("SETRANGE k 0 ", ":0\r\n"),
            ("EXISTS k", ":0\r\n"),
            ("SETRANGE k 3 ab", ":5\r\n"),
            ("GET k", "$5\r\n\0\0\0ab\r\n"),
            ("SETRANGE k 100 ", ":5\r\n"),
            ("SETRANGE k 536870911 xy", TOO_BIG),
            ("SET i 12345 EX 100", OK),
            ("SETRANGE i 1 9", ":5\r\n"),
            ("GET i", "$5\r\n19345\r\n"),
            ("TTL i", ":100\r\n"),
            ("SETRANGE i 7 x", ":8\r\n"),
            ("GET i", "$8\r\n19345\0\0x\r\n"),
            ("SETRANGE i 0 HELLO", ":8\r\n"),
            ("GET i", "$8\r\nHELLO\0\0x\r\n"),
        ],
    );
}

#[test]
fn integer_counters() {
    let srv = server();
    let mut c = srv.raw();
    let overflow = "-ERR increment or decrement would overflow\r\n";
    script(
        &mut c,
        &[
            ("INCR n", ":1\r\n"),
            ("INCRBY n 41", ":42\r\n"),
            ("DECR n", ":41\r\n"),
            ("DECRBY n -9", ":50\r\n"),
            ("INCRBY n -100", ":-50\r\n"),
            ("GET n", "$3\r\n-50\r\n"),
            ("DECR fresh", ":-1\r\n"),
            ("INCRBY n 1a", NOT_INT),
            ("INCRBY n 9223372036854775808", NOT_INT),
            (
                "DECRBY n -9223372036854775808",
                "-ERR decrement would overflow\r\n",
            ),
            ("SET s abc", OK),
            (
                "DECRBY s -9223372036854775808",
                "-ERR decrement would overflow\r\n",
            ),
            ("INCR s", NOT_INT),
            ("SET big 9223372036854775807 EX 100", OK),
            ("INCR big", overflow),
            ("INCRBY big -9223372036854775807", ":0\r\n"),
            ("TTL big", ":100\r\n"),
            ("SET neg -9223372036854775808", OK),
            ("DECR neg", overflow),
            ("DECRBY neg 1", overflow),
            ("INCRBY neg -1", overflow),
            ("INCRBY neg 9223372036854775807", ":-1\r\n"),
            ("SET x 1.5", OK),
            ("INCR x", NOT_INT),
            ("SET x -0", OK),
            ("INCR x", NOT_INT),
            ("SET x +1", OK),
            ("INCR x", NOT_INT),
            ("SET x 01", OK),
            ("INCR x", NOT_INT),
            ("SET x ", OK),
            ("INCR x", NOT_INT),
            ("SET x 10", OK),
            ("APPEND x 0", ":3\r\n"),
            ("INCR x", ":101\r\n"),
            (
                "INCR",
                "-ERR wrong number of arguments for 'incr' command\r\n",
            ),
        ],
    );
    assert_eq!(c.cmd(&["SET", "x", " 1"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["INCR", "x"]), NOT_INT.as_bytes());
}

#[test]
fn incrbyfloat_replies_and_errors() {
    let srv = server();
    let mut c = srv.raw();
    let nan = "-ERR increment would produce NaN or Infinity\r\n";
    script(
        &mut c,
        &[
            ("INCRBYFLOAT f 0.1", "$3\r\n0.1\r\n"),
            ("INCRBYFLOAT f 0.2", "$3\r\n0.3\r\n"),
            ("INCRBYFLOAT f -0.3", "$1\r\n0\r\n"),
            ("SET h 5.0e3 EX 100", OK),
            ("INCRBYFLOAT h 0x1p3", "$4\r\n5008\r\n"),
            ("TTL h", ":100\r\n"),
            ("INCRBYFLOAT h 10.50", "$6\r\n5018.5\r\n"),
            ("INCRBYFLOAT h 1.5e3", "$6\r\n6518.5\r\n"),
            // Redis's long double arithmetic shows through here.
            ("INCRBYFLOAT h -2.7", "$22\r\n6515.79999999999999982\r\n"),
            ("INCRBYFLOAT h 1e", NOT_FLOAT),
            ("INCRBYFLOAT h nan", NOT_FLOAT),
            ("INCRBYFLOAT h 1e5000", NOT_FLOAT),
            ("INCRBYFLOAT h 1e-5000", NOT_FLOAT),
            ("INCRBYFLOAT h ", NOT_FLOAT),
            ("INCRBYFLOAT h inf", nan),
            ("INCRBYFLOAT h -Infinity", nan),
            ("GET h", "$22\r\n6515.79999999999999982\r\n"),
            ("SET s abc", OK),
            ("INCRBYFLOAT s 1", NOT_FLOAT),
            ("SET i 10", OK),
            ("INCRBYFLOAT i 1", "$2\r\n11\r\n"),
            ("INCR i", ":12\r\n"),
            ("INCRBYFLOAT z -1e-20", "$1\r\n0\r\n"),
            ("INCRBYFLOAT y 2.5e-17", "$19\r\n0.00000000000000002\r\n"),
            (
                "INCRBYFLOAT w 0.000003814697265625",
                "$19\r\n0.00000381469726562\r\n",
            ),
            (
                "INCRBYFLOAT v 123456789012345678901234567890",
                "$30\r\n123456789012345678899921813504\r\n",
            ),
        ],
    );
    assert!(c
        .cmd(&["INCRBYFLOAT", "q", "1e300"])
        .starts_with(b"$301\r\n1000000000000000000008997324079"));
    assert_eq!(c.cmd(&["INCRBYFLOAT", "q", "1 "]), NOT_FLOAT.as_bytes());
    assert_eq!(c.cmd(&["INCRBYFLOAT", "q", "  1"]), NOT_FLOAT.as_bytes());
    assert_eq!(
        c.cmd(&[&b"INCRBYFLOAT"[..], b"q", b"1\0"]),
        NOT_FLOAT.as_bytes()
    );
}

#[test]
fn resp3_replies() {
    let srv = server();
    let mut c = srv.raw();
    resp3(&mut c);
    script(
        &mut c,
        &[
            ("GET k", "_\r\n"),
            ("SET k v XX", "_\r\n"),
            ("SET k v GET", "_\r\n"),
            ("SET k v NX", "_\r\n"),
            ("GETSET j v", "_\r\n"),
            ("GETDEL nokey", "_\r\n"),
            ("GETEX nokey PERSIST", "_\r\n"),
            ("GETRANGE nokey 0 -1", "$0\r\n\r\n"),
            ("MGET k nokey", "*2\r\n$1\r\nv\r\n_\r\n"),
            ("INCRBYFLOAT f 1.5", "$3\r\n1.5\r\n"),
            ("INCR n", ":1\r\n"),
            ("SETNX k v", ":0\r\n"),
            ("MSETNX k v", ":0\r\n"),
        ],
    );
}

#[test]
fn wrong_type_where_other_types_exist() {
    let srv = server();
    let mut c = srv.raw();
    if !c.cmd(&["LPUSH", "l", "a"]).starts_with(b":") {
        eprintln!("no list type yet: WRONGTYPE cases skipped");
        return;
    }
    let wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        "GET l",
        "SET l v GET",
        "GETSET l v",
        "GETDEL l",
        "GETEX l",
        "GETEX l EX 10",
        "APPEND l x",
        "STRLEN l",
        "GETRANGE l 0 1",
        "SUBSTR l 0 1",
        "SETRANGE l 0 x",
        "INCR l",
        "DECR l",
        "INCRBY l 1",
        "DECRBY l 1",
        "INCRBYFLOAT l 1",
    ] {
        script(&mut c, &[(cmd, wrong)]);
    }
    script(
        &mut c,
        &[
            ("GETEX l EX abc", wrong),
            ("INCRBY l x", NOT_INT),
            ("SETRANGE l -1 x", "-ERR offset is out of range\r\n"),
            ("MGET l", "*1\r\n$-1\r\n"),
            ("SET l v", OK),
            ("GET l", "$1\r\nv\r\n"),
        ],
    );
}

/// Keys `k0..k{n}` spread over both shards (and hashtags that share one).
fn keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i % 5 == 4 {
                format!("{{tag}}k{i}")
            } else {
                format!("k{i}")
            }
        })
        .collect()
}

#[test]
fn mget_mset_msetnx_across_shards() {
    let srv = server();
    let mut c = srv.raw();
    let ks = keys(40);
    let mut mset = vec!["MSET".to_string()];
    for k in &ks {
        mset.push(k.clone());
        mset.push(format!("v-{k}"));
    }
    assert_eq!(show(&c.cmd(&mset)), "+OK\\r\\n");
    let mut mget = vec!["MGET".to_string()];
    mget.extend(ks.iter().cloned());
    mget.push("missing".into());
    let mut want = format!("*{}\r\n", ks.len() + 1);
    for k in &ks {
        want += &bulk(&format!("v-{k}"));
    }
    want += NIL;
    assert_eq!(show(&c.cmd(&mget)), show(want.as_bytes()));
    script(
        &mut c,
        &[
            (
                "MSET a",
                "-ERR wrong number of arguments for 'mset' command\r\n",
            ),
            (
                "MSET a 1 b",
                "-ERR wrong number of arguments for 'mset' command\r\n",
            ),
            (
                "MSETNX a 1 b",
                "-ERR wrong number of arguments for 'msetnx' command\r\n",
            ),
            (
                "MGET",
                "-ERR wrong number of arguments for 'mget' command\r\n",
            ),
            ("EXISTS a b", ":0\r\n"),
            ("MSET a 1 b 2 a 3", OK),
            ("MGET a b a", "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n3\r\n"),
            ("SET t v EX 100", OK),
            ("MSET t w", OK),
            ("TTL t", ":-1\r\n"),
            ("MSETNX new1 1 new2 2 k0 x", ":0\r\n"),
            ("EXISTS new1 new2", ":0\r\n"),
            ("GET k0", "$4\r\nv-k0\r\n"),
            ("MSETNX new1 1 new2 2 new3 3 new1 4", ":1\r\n"),
            (
                "MGET new1 new2 new3",
                "*3\r\n$1\r\n4\r\n$1\r\n2\r\n$1\r\n3\r\n",
            ),
            ("MSETNX {x}1 a {x}2 b", ":1\r\n"),
            ("MSETNX {x}1 a {x}3 b", ":0\r\n"),
            ("EXISTS {x}3", ":0\r\n"),
        ],
    );
    // MSETNX over all 40 keys after deleting all but one, on either shard.
    for keep in [0usize, 1, 4] {
        let mut del = vec!["DEL".to_string()];
        del.extend(
            ks.iter()
                .enumerate()
                .filter(|(i, _)| *i != keep)
                .map(|(_, k)| k.clone()),
        );
        c.cmd(&del);
        let mut msetnx = vec!["MSETNX".to_string()];
        for k in &ks {
            msetnx.push(k.clone());
            msetnx.push("n".into());
        }
        assert_eq!(c.cmd(&msetnx), b":0\r\n", "keep {keep}");
        let exists: Vec<&str> = std::iter::once("EXISTS")
            .chain(ks.iter().map(String::as_str))
            .collect();
        assert_eq!(int_reply(&mut c, &exists), 1);
        c.cmd(&["DEL", &ks[keep]]);
        assert_eq!(c.cmd(&msetnx), b":1\r\n");
        c.cmd(&mset);
    }
}

/// A random number in one of the forms a user might send INCRBYFLOAT.
fn random_number(rng: &mut StdRng) -> String {
    let digits = |rng: &mut StdRng, lo: usize, hi: usize| -> String {
        let n = rng.gen_range(lo..hi);
        (0..n)
            .map(|_| char::from(b'0' + rng.gen_range(0..10)))
            .collect()
    };
    let sign = if rng.gen_bool(0.3) { "-" } else { "" };
    match rng.gen_range(0..10) {
        0 => format!("{sign}{}", rng.gen_range(0..1000)),
        1 => format!("{sign}{}", digits(rng, 1, 30)),
        2 => format!("{sign}{}.{}", digits(rng, 0, 6), digits(rng, 1, 20)),
        3 => format!(
            "{sign}{}.{}e{}",
            digits(rng, 1, 4),
            digits(rng, 0, 10),
            rng.gen_range(-30..30)
        ),
        4 => format!("{sign}{}E+{}", digits(rng, 1, 20), rng.gen_range(0..400)),
        5 => format!(
            "{sign}0.{}",
            ["1", "2", "3", "5", "7", "01", "001", "25", "125", "9"][rng.gen_range(0..10)]
        ),
        6 => format!("{sign}{}e{}", digits(rng, 1, 3), rng.gen_range(-4960..4940)),
        7 => format!(
            "{sign}0x{:x}p{}",
            rng.gen::<u64>() >> rng.gen_range(0..60),
            rng.gen_range(-16500..16400)
        ),
        8 => format!("{sign}1.18973149535723176{}e4932", digits(rng, 1, 6)),
        _ => format!("{sign}{}.{}", rng.gen_range(0..100), digits(rng, 1, 4)),
    }
}

/// The emulated long double arithmetic against redis-server itself: 2,000
/// increments in 400 short chains (extreme values are slow to print in debug
/// builds, so they do not linger), replies compared byte for byte.
#[test]
fn incrbyfloat_arithmetic_matches_redis_server() {
    let redis = RedisServer::start();
    let mut c = redis.raw();
    let mut rng = StdRng::seed_from_u64(7);
    for chain in 0..400 {
        let key = format!("f{chain}");
        let incs: Vec<String> = (0..5).map(|_| random_number(&mut rng)).collect();
        let mut batch = Vec::new();
        for i in &incs {
            batch.extend(common::resp(&["INCRBYFLOAT", &key, i]));
        }
        c.send(&batch);
        let mut current = long_double::Ext::from_i64(0);
        for i in &incs {
            let mine = match long_double::incr_text(current, i.as_bytes()) {
                Ok(text) => {
                    current = long_double::parse(text.as_bytes()).expect("reparse");
                    bulk(&text)
                }
                Err(true) => NOT_FLOAT.to_string(),
                Err(false) => "-ERR increment would produce NaN or Infinity\r\n".to_string(),
            };
            assert_eq!(
                show(&c.reply()),
                show(mine.as_bytes()),
                "INCRBYFLOAT {key} {i}"
            );
        }
    }
}

/// The same random chains through ringkv and redis-server, replies compared.
#[test]
fn incrbyfloat_server_matches_redis_server() {
    let (srv, redis) = (server(), RedisServer::start());
    let (mut a, mut b) = (srv.raw(), redis.raw());
    let mut rng = StdRng::seed_from_u64(11);
    for chain in 0..20 {
        let key = format!("f{chain}");
        for _ in 0..20 {
            let args = [
                "INCRBYFLOAT".to_string(),
                key.clone(),
                random_number(&mut rng),
            ];
            assert_eq!(show(&a.cmd(&args)), show(&b.cmd(&args)), "{args:?}");
        }
        let get = ["GET", key.as_str()];
        assert_eq!(show(&a.cmd(&get)), show(&b.cmd(&get)));
    }
}
