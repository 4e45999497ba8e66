//! Blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) through the real
//! binary with four shards, on the blocking mechanism the lists use. Every
//! expectation is Redis 7.0's reply byte for byte (each passes against
//! redis-server under `RINGKV_TEST_TARGET=redis`): immediate pops, wake-ups
//! by ZADD from another connection in blocking order, waits over keys of
//! different shards, RESP3 doubles, timeouts, MULTI, WRONGTYPE, other types
//! not waking a waiter, a waiter that disconnects.

mod common;

use common::blocking::*;
use common::{RawConn, TestServer};
use ringkv::slot::SlotTable;

const NULL_ARRAY: &[u8] = b"*-1\r\n";
const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// BZPOPMIN's reply: key, member, score (a bulk in RESP2).
fn popped(key: &str, member: &str, score: &str) -> Vec<u8> {
    array(&[key, member, score])
}

/// BZMPOP's reply in RESP2: key, then member/score pairs.
fn mpopped(key: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = b"*2\r\n".to_vec();
    out.extend(bulk(key));
    out.extend(format!("*{}\r\n", pairs.len()).into_bytes());
    for (m, s) in pairs {
        out.extend(array(&[m, s]));
    }
    out
}

#[test]
fn blocking_zset_semantics() {
    let table = SlotTable::contiguous(4);
    let shard = |k: &str| table.shard_of(k.as_bytes());
    assert_eq!(["a", "b", "c", "d"].map(shard), [3, 0, 1, 2]);
    let server = TestServer::builder().threads(4).start();
    immediate(&server);
    wakeups(&server);
    across_shards(&server);
    timeouts_multi_and_types(&server);
    disconnect(&server);
}

/// A non-empty key answers at once, as ZPOPMIN/ZMPOP would.
fn immediate(server: &TestServer) {
    let mut c = fresh(server);
    check(
        &mut c,
        &["ZADD", "c", "1", "x", "2", "y", "3", "z"],
        b":3\r\n",
    );
    check(
        &mut c,
        &["BZPOPMIN", "nokey", "c", "0"],
        &popped("c", "x", "1"),
    );
    check(&mut c, &["BZPOPMAX", "c", "0"], &popped("c", "z", "3"));
    check(&mut c, &["ZADD", "c", "1.5", "x", "-inf", "w"], b":2\r\n");
    check(
        &mut c,
        &["BZMPOP", "0", "2", "nokey", "c", "MIN", "COUNT", "2"],
        &mpopped("c", &[("w", "-inf"), ("x", "1.5")]),
    );
    check(
        &mut c,
        &["BZMPOP", "0", "1", "c", "MAX", "COUNT", "9"],
        &mpopped("c", &[("y", "2")]),
    );
    check(&mut c, &["EXISTS", "c"], b":0\r\n");
    c.cmd(&["HELLO", "3"]);
    check(&mut c, &["ZADD", "c", "0.5", "m"], b":1\r\n");
    check(
        &mut c,
        &["BZPOPMIN", "c", "0"],
        b"*3\r\n$1\r\nc\r\n$1\r\nm\r\n,0.5\r\n",
    );
}

/// Waiters on one key are served first in, first out, after the whole
/// ZADD, each with the lowest (or highest) member left.
fn wakeups(server: &TestServer) {
    let mut ctl = fresh(server);
    let mut w1 = waiter(server, &mut ctl, &["BZPOPMIN", "c", "0"], 1);
    let mut w2 = waiter(server, &mut ctl, &["BZPOPMAX", "c", "0"], 2);
    let mut w3 = waiter(
        server,
        &mut ctl,
        &["BZMPOP", "0", "1", "c", "MIN", "COUNT", "5"],
        3,
    );
    check(
        &mut ctl,
        &["ZADD", "c", "3", "p", "1", "q", "2", "r", "4", "s"],
        b":4\r\n",
    );
    expect(w1.reply(), &popped("c", "q", "1"));
    expect(w2.reply(), &popped("c", "s", "4"));
    expect(w3.reply(), &mpopped("c", &[("r", "2"), ("p", "3")]));
    check(&mut ctl, &["EXISTS", "c"], b":0\r\n");
    wait_blocked(&mut ctl, 0);
}

/// A waiter over keys of different shards is served by the key that gets
/// a member.
fn across_shards(server: &TestServer) {
    let mut ctl = fresh(server);
    let mut w = waiter(server, &mut ctl, &["BZPOPMIN", "a", "b", "c", "d", "0"], 1);
    check(&mut ctl, &["ZADD", "d", "7", "v"], b":1\r\n");
    expect(w.reply(), &popped("d", "v", "7"));
    block(&mut ctl, &mut w, &["BZMPOP", "0", "2", "a", "b", "MAX"], 1);
    check(&mut ctl, &["ZADD", "a", "1", "u", "2", "t"], b":2\r\n");
    expect(w.reply(), &mpopped("a", &[("t", "2")]));
    check(&mut ctl, &["ZRANGE", "a", "0", "-1"], &array(&["u"]));
}

/// Timeouts answer the null array; inside MULTI nothing blocks; a key of
/// another type is WRONGTYPE at once but does not wake a waiter later.
fn timeouts_multi_and_types(server: &TestServer) {
    let mut c = fresh(server);
    check(&mut c, &["BZPOPMIN", "a", "0.05"], NULL_ARRAY);
    check(&mut c, &["BZMPOP", "0.05", "1", "b", "MIN"], NULL_ARRAY);
    check(
        &mut c,
        &["BZPOPMIN", "a", "-1"],
        b"-ERR timeout is negative\r\n",
    );
    check(
        &mut c,
        &["BZMPOP", "x", "1", "b", "LEFT"],
        b"-ERR syntax error\r\n",
    );
    check(&mut c, &["MULTI"], b"+OK\r\n");
    check(&mut c, &["BZPOPMAX", "a", "0"], b"+QUEUED\r\n");
    check(&mut c, &["BZMPOP", "0", "1", "a", "MIN"], b"+QUEUED\r\n");
    check(&mut c, &["EXEC"], b"*2\r\n*-1\r\n*-1\r\n");
    check(&mut c, &["SET", "s", "x"], b"+OK\r\n");
    check(&mut c, &["BZPOPMIN", "s", "0"], WRONGTYPE);
    let mut w = waiter(server, &mut c, &["BZPOPMIN", "a", "0"], 1);
    check(&mut c, &["RPUSH", "a", "l"], b":1\r\n");
    w.expect_silence(SILENCE);
    check(&mut c, &["DEL", "a"], b":1\r\n");
    check(&mut c, &["ZADD", "a", "5", "z"], b":1\r\n");
    expect(w.reply(), &popped("a", "z", "5"));
}

/// A waiter that leaves takes nothing: the member stays.
fn disconnect(server: &TestServer) {
    let mut ctl = fresh(server);
    let w: RawConn = waiter(server, &mut ctl, &["BZPOPMIN", "b", "0"], 1);
    drop(w);
    wait_blocked(&mut ctl, 0);
    check(&mut ctl, &["ZADD", "b", "1", "m"], b":1\r\n");
    check(&mut ctl, &["ZCARD", "b"], b":1\r\n");
}
