//! DUMP and RESTORE against redis-server 7.0: the same payload bytes for the
//! values both servers encode alike (integers, strings up to 20 bytes, which
//! Redis never compresses), payloads moved both ways (redis-server's LZF-
//! compressed long strings restore here, ringkv's restore there), and the
//! same replies for every RESTORE error, at one and two executors.

mod common;

use common::{show, RawConn, RedisServer, TestServer};

/// The bulk reply's bytes (None for nil).
fn bulk(reply: &[u8]) -> Option<Vec<u8>> {
    if reply.starts_with(b"$-1") || reply.starts_with(b"_") {
        return None;
    }
    let start = reply.iter().position(|&b| b == b'\n')? + 1;
    Some(reply[start..reply.len() - 2].to_vec())
}

fn set(c: &mut RawConn, key: &str, value: &[u8]) {
    assert_eq!(
        c.cmd(&[b"SET".as_slice(), key.as_bytes(), value]),
        b"+OK\r\n"
    );
}

fn values() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "0",
        "1",
        "-1",
        "127",
        "128",
        "-129",
        "32767",
        "65536",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "007",
        "+1",
        "-0",
        "",
        "hello",
        "a b\r\nc",
        "12345678901234567890",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(vec![0, 255, 13, 10]);
    v
}

#[test]
fn dump_payloads_match_redis_byte_for_byte() {
    for threads in [1, 2] {
        let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
        let (mut a, mut b) = (ringkv.raw(), redis.raw());
        for (i, v) in values().iter().enumerate() {
            let key = format!("k{i}");
            set(&mut a, &key, v);
            set(&mut b, &key, v);
            let (ours, theirs) = (a.cmd(&["DUMP", &key]), b.cmd(&["DUMP", &key]));
            assert_eq!(show(&ours), show(&theirs), "threads {threads}, value {v:?}");
        }
        assert_eq!(a.cmd(&["DUMP", "nokey"]), b.cmd(&["DUMP", "nokey"]));
    }
}

#[test]
fn payloads_move_both_ways() {
    let mut long = values();
    long.push("x".repeat(5_000).into_bytes());
    long.push(b"abcdefghij".repeat(300));
    long.push((0..70_000u32).map(|i| (i % 251) as u8).collect());
    for threads in [1, 2] {
        let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
        let (mut a, mut b) = (ringkv.raw(), redis.raw());
        for (i, v) in long.iter().enumerate() {
            let key = format!("k{i}");
            for redis_first in [true, false] {
                let (from, to) = if redis_first {
                    (&mut b, &mut a)
                } else {
                    (&mut a, &mut b)
                };
                set(from, &key, v);
                let payload = bulk(&from.cmd(&["DUMP", &key])).expect("payload");
                let reply = to.cmd(&[
                    b"RESTORE".as_slice(),
                    key.as_bytes(),
                    b"0",
                    &payload,
                    b"REPLACE",
                ]);
                assert_eq!(
                    reply,
                    b"+OK\r\n",
                    "threads {threads}, value {i}: {}",
                    show(&reply)
                );
                assert_eq!(bulk(&to.cmd(&["GET", &key])).as_deref(), Some(v.as_slice()));
            }
        }
    }
}

#[test]
fn restore_replies_match_redis() {
    for threads in [1, 2] {
        let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
        let (mut a, mut b) = (ringkv.raw(), redis.raw());
        set(&mut a, "src", b"value");
        let good = bulk(&a.cmd(&["DUMP", "src"])).unwrap();
        let mut corrupt = good.clone();
        corrupt[2] ^= 0x20;
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 1);
        let payloads: [&[u8]; 4] = [&good, &corrupt, &truncated, b""];
        let scripts: &[&[&[u8]]] = &[
            &[b"RESTORE", b"k", b"0", &good],
            &[b"RESTORE", b"k", b"0", &good],
            &[b"RESTORE", b"k", b"0", &good, b"REPLACE"],
            &[b"RESTORE", b"k", b"-5", &good],
            &[b"RESTORE", b"k2", b"-5", &good],
            &[b"RESTORE", b"k2", b"abc", &good],
            &[b"RESTORE", b"k2", b"0", &good, b"bogus"],
            &[b"RESTORE", b"k2", b"0", &good, b"IDLETIME"],
            &[b"RESTORE", b"k2", b"0", &good, b"IDLETIME", b"-1"],
            &[b"RESTORE", b"k2", b"0", &good, b"IDLETIME", b"x"],
            &[b"RESTORE", b"k2", b"0", &good, b"FREQ", b"256"],
            &[
                b"RESTORE",
                b"k2",
                b"0",
                &good,
                b"FREQ",
                b"1",
                b"IDLETIME",
                b"1",
            ],
            &[b"RESTORE", b"k2", b"0", payloads[1]],
            &[b"RESTORE", b"k2", b"0", payloads[2]],
            &[b"RESTORE", b"k2", b"0", payloads[3]],
            &[b"RESTORE", b"k2", b"1", &good, b"ABSTTL"],
            &[b"EXISTS", b"k2"],
            &[b"RESTORE", b"k", b"1", &good, b"ABSTTL", b"REPLACE"],
            &[b"EXISTS", b"k"],
            &[b"RESTORE", b"k3", b"0", &good, b"FREQ", b"5"],
            &[
                b"RESTORE",
                b"k4",
                b"0",
                &good,
                b"IDLETIME",
                b"50",
                b"ABSTTL",
                b"REPLACE",
            ],
            &[b"GET", b"k4"],
            &[b"RESTORE", b"k"],
            &[b"DUMP"],
            &[b"DUMP", b"a", b"b"],
        ];
        for hello in ["HELLO 2", "HELLO 3"] {
            a.cmd(&hello.split(' ').collect::<Vec<_>>());
            b.cmd(&hello.split(' ').collect::<Vec<_>>());
            a.cmd(&["DEL", "k", "k2", "k3", "k4"]);
            b.cmd(&["DEL", "k", "k2", "k3", "k4"]);
            for s in scripts {
                let (ours, theirs) = (a.cmd(s), b.cmd(s));
                assert_eq!(
                    show(&ours),
                    show(&theirs),
                    "threads {threads}, {hello}, {:?}",
                    show(&s.concat())
                );
            }
        }
        let p = bulk(&a.cmd(&["DUMP", "src"])).unwrap();
        a.cmd(&[b"RESTORE".as_slice(), b"t", b"100000", &p]);
        let pttl: i64 = String::from_utf8_lossy(&a.cmd(&["PTTL", "t"]))[1..]
            .trim()
            .parse()
            .unwrap();
        assert!((98_000..=100_000).contains(&pttl), "{pttl}");
    }
}
