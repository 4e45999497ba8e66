//! Unit tests of the string handlers: each builds a one-shard `Shard`, runs
//! handlers through the table with a fixed clock and asserts exact reply bytes
//! (every expectation was checked against redis-server 7.0).

use crate::cmd::{run_on_shard, table};
use crate::protocol::args::OwnedArgs;
use crate::shard::value::Value;
use crate::shard::Shard;
use crate::slot::SlotTable;

const NOW: u64 = 1_700_000_000_000;

struct T {
    shard: Shard,
    now: u64,
    resp3: bool,
}

impl T {
    fn new() -> T {
        T {
            shard: Shard::new(0, SlotTable::contiguous(1), 16),
            now: NOW,
            resp3: false,
        }
    }

    /// Runs one command and returns its reply bytes as text.
    fn run(&mut self, parts: &[&str]) -> String {
        self.run_bytes(&parts.iter().map(|p| p.as_bytes()).collect::<Vec<_>>())
    }

    fn run_bytes(&mut self, parts: &[&[u8]]) -> String {
        let spec = table::lookup(parts[0]).expect("known command");
        let args = OwnedArgs::from_parts(parts);
        let mut out = Vec::new();
        if !spec.arity_ok(parts.len()) {
            return format!(
                "-ERR wrong number of arguments for '{}' command\r\n",
                spec.name
            );
        }
        run_on_shard(
            &mut self.shard,
            spec,
            &args.args(),
            0,
            self.resp3,
            &mut crate::cmd::CommandClock::start(self.now),
            false,
            &mut out,
        );
        String::from_utf8_lossy(&out).into_owned()
    }

    fn ttl_ms(&mut self, key: &str) -> Option<u64> {
        self.shard
            .get(0, key.as_bytes(), self.now)
            .map(|e| e.expire_at())
    }
}

const NIL: &str = "$-1\r\n";
const OK: &str = "+OK\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

#[test]
fn get_set_basics_and_encoding() {
    let mut t = T::new();
    assert_eq!(t.run(&["GET", "k"]), NIL);
    assert_eq!(t.run(&["SET", "k", "v"]), OK);
    assert_eq!(t.run(&["GET", "k"]), bulk("v"));
    assert_eq!(t.run(&["SET", "n", "-42"]), OK);
    assert_eq!(t.shard.get(0, b"n", NOW).unwrap().value, Value::int(-42));
    assert_eq!(t.run(&["GET", "n"]), bulk("-42"));
    assert_eq!(t.run(&["SET", "", ""]), OK);
    assert_eq!(t.run(&["GET", ""]), "$0\r\n\r\n");
    assert_eq!(t.run_bytes(&[b"SET", b"b\0\r\n", b"\xff\0\r\n"]), OK);
    assert_eq!(
        t.run_bytes(&[b"GET", b"b\0\r\n"]),
        "$4\r\n\u{fffd}\0\r\n\r\n"
    );
    t.resp3 = true;
    assert_eq!(t.run(&["GET", "missing"]), "_\r\n");
    assert_eq!(t.shard.stats().keyspace_hits, 4);
    assert_eq!(t.shard.stats().keyspace_misses, 2);
}

#[test]
fn set_option_syntax() {
    let mut t = T::new();
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "EX", "10", "PX", "10"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "GET", "EX"],
        &["SET", "k", "v", "EX", "abc", "NX", "XX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
    ] {
        assert_eq!(t.run(bad), SYNTAX, "{bad:?}");
    }
    assert_eq!(t.run(&["SET", "k", "v", "EX", "abc"]), NOT_INT);
    let invalid = "-ERR invalid expire time in 'set' command\r\n";
    for bad in ["0", "-1", "9223372036854776"] {
        assert_eq!(t.run(&["SET", "k", "v", "EX", bad]), invalid, "{bad}");
    }
    assert_eq!(
        t.run(&["SET", "k", "v", "PX", "9223372036854775807"]),
        invalid
    );
    assert_eq!(t.run(&["SET", "k", "v", "exat", "0"]), invalid);
    assert_eq!(t.run(&["GET", "k"]), NIL);
    // Repeats are fine; the last expiry wins.
    assert_eq!(
        t.run(&["SET", "k", "v", "nx", "nx", "EX", "10", "ex", "20"]),
        OK
    );
    assert_eq!(t.ttl_ms("k"), Some(NOW + 20_000));
    assert_eq!(t.run(&["SET", "k", "v", "keepttl", "KEEPTTL"]), OK);
    assert_eq!(t.ttl_ms("k"), Some(NOW + 20_000));
    assert_eq!(t.run(&["SET", "k", "v", "PXAT", "9223372036854775807"]), OK);
    assert_eq!(t.ttl_ms("k"), Some(i64::MAX as u64));
    assert_eq!(t.run(&["SET", "k", "v"]), OK);
    assert_eq!(t.ttl_ms("k"), Some(0));
}

#[test]
fn set_nx_xx_get_and_past_expiry() {
    let mut t = T::new();
    assert_eq!(t.run(&["SET", "k", "v", "XX"]), NIL);
    assert_eq!(t.run(&["SET", "k", "v", "GET", "XX"]), NIL);
    assert_eq!(t.run(&["SET", "k", "v", "GET", "NX"]), NIL);
    assert_eq!(t.run(&["SET", "k", "v2", "GET", "NX"]), bulk("v"));
    assert_eq!(t.run(&["SET", "k", "v3", "NX"]), NIL);
    assert_eq!(
        t.run(&["SET", "k", "v3", "XX", "GET", "PX", "5000"]),
        bulk("v")
    );
    assert_eq!(t.ttl_ms("k"), Some(NOW + 5000));
    assert_eq!(t.run(&["SET", "k", "v4", "KEEPTTL", "GET"]), bulk("v3"));
    assert_eq!(t.ttl_ms("k"), Some(NOW + 5000));
    assert_eq!(t.run(&["SET", "k", "v", "PXAT", "1"]), OK);
    assert_eq!(t.run(&["GET", "k"]), NIL);
    assert_eq!(t.shard.db(0).len(), 0);
    assert_eq!(
        t.run(&["SET", "k", "v", "EXAT", &(NOW / 1000 + 1).to_string()]),
        OK
    );
    assert_eq!(t.ttl_ms("k"), Some(NOW + 1000));
    t.now += 1000;
    assert_eq!(t.run(&["SET", "k", "new", "GET"]), NIL);
}

#[test]
fn setnx_setex_psetex_getset_getdel() {
    let mut t = T::new();
    assert_eq!(t.run(&["SETNX", "k", "1"]), ":1\r\n");
    assert_eq!(t.run(&["SETNX", "k", "2"]), ":0\r\n");
    assert_eq!(t.run(&["SETEX", "k", "10", "v"]), OK);
    assert_eq!(t.ttl_ms("k"), Some(NOW + 10_000));
    assert_eq!(
        t.run(&["SETEX", "k", "0", "v"]),
        "-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_eq!(t.run(&["SETEX", "k", "x", "v"]), NOT_INT);
    assert_eq!(
        t.run(&["PSETEX", "k", "-5", "v"]),
        "-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_eq!(t.run(&["PSETEX", "k", "1500", "w"]), OK);
    assert_eq!(t.ttl_ms("k"), Some(NOW + 1500));
    assert_eq!(t.run(&["GETSET", "k", "x"]), bulk("w"));
    assert_eq!(t.ttl_ms("k"), Some(0));
    assert_eq!(t.run(&["GETSET", "new", "x"]), NIL);
    assert_eq!(t.run(&["GETDEL", "k"]), bulk("x"));
    assert_eq!(t.run(&["GETDEL", "k"]), NIL);
    t.resp3 = true;
    assert_eq!(t.run(&["GETDEL", "k"]), "_\r\n");
}

#[test]
fn getex_options() {
    let mut t = T::new();
    assert_eq!(t.run(&["GETEX", "k", "EX", "abc"]), NIL);
    assert_eq!(t.run(&["SET", "k", "v"]), OK);
    for bad in [
        &["GETEX", "k", "NX"][..],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "PERSIST", "PX", "10"],
        &["GETEX", "k", "EX"],
        &["GETEX", "k", "EX", "1", "PXAT", "1"],
    ] {
        assert_eq!(t.run(bad), SYNTAX, "{bad:?}");
    }
    assert_eq!(t.run(&["GETEX", "k", "EX", "abc"]), NOT_INT);
    assert_eq!(
        t.run(&["GETEX", "k", "EX", "0"]),
        "-ERR invalid expire time in 'getex' command\r\n"
    );
    assert_eq!(t.run(&["GETEX", "k"]), bulk("v"));
    assert_eq!(t.run(&["GETEX", "k", "ex", "100"]), bulk("v"));
    assert_eq!(t.ttl_ms("k"), Some(NOW + 100_000));
    assert_eq!(t.run(&["GETEX", "k", "PERSIST", "persist"]), bulk("v"));
    assert_eq!(t.ttl_ms("k"), Some(0));
    assert_eq!(
        t.run(&["GETEX", "k", "PXAT", &(NOW + 7).to_string()]),
        bulk("v")
    );
    assert_eq!(t.ttl_ms("k"), Some(NOW + 7));
    assert_eq!(t.run(&["GETEX", "k", "EXAT", "1"]), bulk("v"));
    assert_eq!(t.run(&["GETEX", "k"]), NIL);
    assert_eq!(t.shard.db(0).len(), 0);
}

#[test]
fn append_strlen_ranges() {
    let mut t = T::new();
    assert_eq!(t.run(&["APPEND", "k", "Hello"]), ":5\r\n");
    assert_eq!(t.run(&["APPEND", "k", " World"]), ":11\r\n");
    assert_eq!(t.run(&["STRLEN", "k"]), ":11\r\n");
    assert_eq!(t.run(&["STRLEN", "nokey"]), ":0\r\n");
    let cases: &[(&str, &str, &str)] = &[
        ("-3", "-5", ""),
        ("-5", "-3", "Wor"),
        ("0", "-100", "H"),
        ("-100", "-100", "H"),
        ("5", "3", ""),
        ("0", "9223372036854775807", "Hello World"),
        ("-9223372036854775808", "3", "Hell"),
        ("6", "-1", "World"),
    ];
    for (s, e, want) in cases {
        assert_eq!(t.run(&["GETRANGE", "k", s, e]), bulk(want), "{s} {e}");
        assert_eq!(t.run(&["SUBSTR", "k", s, e]), bulk(want), "{s} {e}");
    }
    assert_eq!(t.run(&["GETRANGE", "nokey", "0", "1"]), bulk(""));
    assert_eq!(t.run(&["GETRANGE", "k", "a", "1"]), NOT_INT);
    assert_eq!(t.run(&["SET", "i", "12345"]), OK);
    assert_eq!(t.run(&["GETRANGE", "i", "1", "-2"]), bulk("234"));
    assert_eq!(t.run(&["STRLEN", "i"]), ":5\r\n");
    assert_eq!(t.run(&["APPEND", "i", "6"]), ":6\r\n");
    assert_eq!(t.run(&["INCR", "i"]), ":123457\r\n");
    assert_eq!(t.run(&["SET", "e", ""]), OK);
    assert_eq!(t.run(&["GETRANGE", "e", "0", "-1"]), bulk(""));
    t.resp3 = true;
    assert_eq!(t.run(&["GETRANGE", "nokey", "0", "1"]), bulk(""));
}

#[test]
fn setrange_cases() {
    let mut t = T::new();
    assert_eq!(
        t.run(&["SETRANGE", "k", "-1", "x"]),
        "-ERR offset is out of range\r\n"
    );
    assert_eq!(t.run(&["SETRANGE", "k", "x", "x"]), NOT_INT);
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    assert_eq!(t.run(&["SETRANGE", "k", "536870912", "x"]), too_big);
    assert_eq!(t.run(&["SETRANGE", "k", "536870912", ""]), ":0\r\n");
    assert_eq!(t.run(&["SETRANGE", "k", "5", ""]), ":0\r\n");
    assert_eq!(t.shard.db(0).len(), 0);
    assert_eq!(t.run(&["SETRANGE", "k", "3", "ab"]), ":5\r\n");
    assert_eq!(t.run(&["GET", "k"]), "$5\r\n\0\0\0ab\r\n");
    assert_eq!(t.run(&["SET", "i", "12345", "EX", "100"]), OK);
    assert_eq!(t.run(&["SETRANGE", "i", "1", "9"]), ":5\r\n");
    assert_eq!(t.run(&["GET", "i"]), bulk("19345"));
    assert_eq!(t.ttl_ms("i"), Some(NOW + 100_000));
    assert_eq!(t.run(&["SETRANGE", "i", "7", "x"]), ":8\r\n");
    assert_eq!(t.run(&["GET", "i"]), "$8\r\n19345\0\0x\r\n");
    assert_eq!(t.run(&["SETRANGE", "i", "100", ""]), ":8\r\n");
    assert_eq!(t.run(&["SETRANGE", "i", "536870911", "xy"]), too_big);
}

#[test]
fn integer_counters() {
    let mut t = T::new();
    assert_eq!(t.run(&["INCR", "n"]), ":1\r\n");
    assert_eq!(t.run(&["INCRBY", "n", "41"]), ":42\r\n");
    assert_eq!(t.run(&["DECR", "n"]), ":41\r\n");
    assert_eq!(t.run(&["DECRBY", "n", "-9"]), ":50\r\n");
    assert_eq!(t.shard.get(0, b"n", NOW).unwrap().value, Value::int(50));
    assert_eq!(
        t.run(&["DECRBY", "n", "-9223372036854775808"]),
        "-ERR decrement would overflow\r\n"
    );
    assert_eq!(t.run(&["INCRBY", "n", "1a"]), NOT_INT);
    let overflow = "-ERR increment or decrement would overflow\r\n";
    assert_eq!(t.run(&["SET", "big", "9223372036854775807"]), OK);
    assert_eq!(t.run(&["INCR", "big"]), overflow);
    assert_eq!(
        t.run(&["SET", "neg", "-9223372036854775808", "PX", "100"]),
        OK
    );
    assert_eq!(t.run(&["DECR", "neg"]), overflow);
    assert_eq!(t.run(&["INCRBY", "neg", "9223372036854775807"]), ":-1\r\n");
    assert_eq!(t.ttl_ms("neg"), Some(NOW + 100));
    for v in [" 1", "-0", "+1", "1.5", "", "01"] {
        assert_eq!(t.run(&["SET", "s", v]), OK);
        assert_eq!(t.run(&["INCR", "s"]), NOT_INT, "{v:?}");
    }
    t.shard.set(0, b"raw", Value::raw(b"17"), 0);
    assert_eq!(t.run(&["INCRBY", "raw", "3"]), ":20\r\n");
}

#[test]
fn incrbyfloat_cases() {
    let mut t = T::new();
    assert_eq!(t.run(&["INCRBYFLOAT", "f", "0.1"]), bulk("0.1"));
    assert_eq!(t.run(&["INCRBYFLOAT", "f", "0.2"]), bulk("0.3"));
    assert_eq!(t.run(&["SET", "h", "5.0e3", "EX", "9"]), OK);
    assert_eq!(t.run(&["INCRBYFLOAT", "h", "0x1p3"]), bulk("5008"));
    // Redis 7.0 stores INCRBYFLOAT's result as a new embstr, even "5008".
    assert_eq!(
        t.shard.get(0, b"h", NOW).unwrap().value,
        Value::embstr(b"5008")
    );
    assert_eq!(t.run(&["OBJECT", "ENCODING", "h"]), bulk("embstr"));
    assert_eq!(t.ttl_ms("h"), Some(NOW + 9000));
    for bad in ["  1", "1e", "nan", "1e5000", "", "1 "] {
        assert_eq!(t.run(&["INCRBYFLOAT", "h", bad]), NOT_FLOAT, "{bad:?}");
    }
    let nan = "-ERR increment would produce NaN or Infinity\r\n";
    assert_eq!(t.run(&["INCRBYFLOAT", "h", "inf"]), nan);
    assert_eq!(t.run(&["SET", "x", "abc"]), OK);
    assert_eq!(t.run(&["INCRBYFLOAT", "x", "1"]), NOT_FLOAT);
    assert_eq!(t.run(&["INCRBYFLOAT", "z", "-1e-20"]), bulk("0"));
    t.resp3 = true;
    assert_eq!(t.run(&["INCRBYFLOAT", "z", "1.5"]), bulk("1.5"));
}

#[test]
fn mget_mset_msetnx() {
    let mut t = T::new();
    assert_eq!(t.run(&["MSET", "a", "1", "b", "2", "a", "3"]), OK);
    assert_eq!(
        t.run(&["MGET", "a", "b", "c"]),
        format!("*3\r\n{}{}{NIL}", bulk("3"), bulk("2"))
    );
    assert_eq!(
        t.run(&["MSET", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(
        t.run(&["MSETNX", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
    assert_eq!(t.run(&["MSETNX", "a", "9", "c", "9"]), ":0\r\n");
    assert_eq!(t.run(&["GET", "c"]), NIL);
    assert_eq!(t.run(&["MSETNX", "c", "1", "d", "2", "c", "3"]), ":1\r\n");
    assert_eq!(t.run(&["GET", "c"]), bulk("3"));
    assert_eq!(t.run(&["SET", "e", "v", "EX", "5"]), OK);
    assert_eq!(t.run(&["MSET", "e", "w"]), OK);
    assert_eq!(t.ttl_ms("e"), Some(0));
    t.resp3 = true;
    assert_eq!(t.run(&["MGET", "zz"]), "*1\r\n_\r\n");
}

#[test]
fn table_matches_redis_command_info() {
    let get = table::lookup(b"getex").unwrap();
    assert_eq!(
        (get.arity, get.first_key, get.last_key, get.step),
        (-2, 1, 1, 1)
    );
    let msetnx = table::lookup(b"msetnx").unwrap();
    assert_eq!(
        (msetnx.arity, msetnx.first_key, msetnx.last_key, msetnx.step),
        (-3, 1, -1, 2)
    );
    assert_eq!(super::COMMANDS.len(), 21);
}
