//! Protocol edge cases, compared byte for byte with what redis-server 7.0 sends:
//! inline commands and their quoting rules, mixed inline/RESP pipelines, frames split at
//! every byte, bad and giant lengths, Redis's error texts (protocol errors close the
//! connection), RESP3 after `HELLO 3`, big and binary values, a 10,000-command
//! cross-shard pipeline whose replies must come back in order, and seeded random junk
//! after which the server must still answer.
//!
//! Every expected byte string here was checked against redis-server 7.0
//! (`RINGKV_TEST_TARGET=redis cargo test --test protocol`).

mod common;

use common::{for_each_threads, raw, resp, show, RawConn, TestServer};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::Duration;

const THREADS: &[usize] = &[1, 2, 4];

/// Send `input` on a fresh connection and require exactly `expected` back.
fn exchange(srv: &TestServer, input: &[u8], expected: &[u8]) {
    let got = raw(srv.port(), input, expected.len());
    assert_eq!(show(&got), show(expected), "input {:?}", show(input));
}

#[test]
fn inline_commands() {
    for_each_threads(THREADS, |srv| {
        exchange(
            srv,
            b"SET foo bar\r\nGET foo\r\nDEL foo\r\n",
            b"+OK\r\n$3\r\nbar\r\n:1\r\n",
        );
        exchange(srv, b"PING\n", b"+PONG\r\n");
        exchange(srv, b"ECHO  \t  a\r\n", b"$1\r\na\r\n");
        // `\r` alone is whitespace inside an inline line: this is ECHO PING.
        exchange(srv, b"PING\rPING\r\n", b"$4\r\nPING\r\n");
    });
}

#[test]
fn inline_quoting() {
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"SET \"a b\" 'c d'\r\nGET \"a b\"\r\n",
            b"+OK\r\n$3\r\nc d\r\n",
        ),
        (b"ECHO \"\\x41\\x42\\n\"\r\n", b"$3\r\nAB\n\r\n"),
        (b"ECHO \"a\\x4g\"\r\n", b"$4\r\nax4g\r\n"),
        (b"ECHO \"\\t\\r\\b\\a\\z\"\r\n", b"$5\r\n\t\r\x08\x07z\r\n"),
        (b"ECHO \"\"\r\n", b"$0\r\n\r\n"),
        (b"ECHO ''\r\n", b"$0\r\n\r\n"),
        (b"ECHO 'it\\'s'\r\n", b"$4\r\nit's\r\n"),
        (b"ECHO a\"b\"\r\n", b"$2\r\nab\r\n"),
    ];
    for_each_threads(&[1], |srv| {
        for (input, expected) in cases {
            exchange(srv, input, expected);
        }
    });
}

#[test]
fn inline_unbalanced_quotes_close_the_connection() {
    for_each_threads(&[1], |srv| {
        for input in [
            &b"SET \"a b\r\nPING\r\n"[..],
            b"ECHO \"abc\"def\r\n",
            b"ECHO 'x\r\n",
        ] {
            let mut c = srv.raw();
            c.send(input);
            let want = b"-ERR Protocol error: unbalanced quotes in request\r\n";
            assert_eq!(show(&c.reply()), show(want), "input {:?}", show(input));
            c.expect_closed();
        }
    });
}

#[test]
fn empty_lines_and_empty_multibulks_are_ignored() {
    for_each_threads(THREADS, |srv| {
        exchange(srv, b"\r\n\r\n\n  \t \r\nPING\r\n", b"+PONG\r\n");
        exchange(srv, b"*0\r\n*-1\r\n*-5\r\nPING\r\n", b"+PONG\r\n");
    });
}

#[test]
fn mixed_inline_and_resp_pipeline() {
    let input = b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO inline\r\n\r\n*1\r\n$4\r\nPING\r\n";
    for_each_threads(THREADS, |srv| {
        exchange(
            srv,
            input,
            b"+PONG\r\n$2\r\nhi\r\n$6\r\ninline\r\n+PONG\r\n",
        );
    });
}

#[test]
fn frames_split_at_every_byte() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n", b"+OK\r\n"),
        (
            b"*2\r\n$4\r\nECHO\r\n$5\r\na\r\nbc\r\n",
            b"$5\r\na\r\nbc\r\n",
        ),
        (b"ECHO \"x y\"\r\n", b"$3\r\nx y\r\n"),
    ];
    for_each_threads(THREADS, |srv| {
        let mut c = srv.raw();
        for (cmd, want) in cases {
            for at in 1..cmd.len() {
                c.send(&cmd[..at]);
                c.expect_silence(Duration::from_millis(10));
                c.send(&cmd[at..]);
                assert_eq!(
                    show(&c.reply()),
                    show(want),
                    "split at {at} of {:?}",
                    show(cmd)
                );
            }
        }
    });
}

#[test]
fn protocol_errors_reply_and_close() {
    const MB: &[u8] = b"-ERR Protocol error: invalid multibulk length\r\n";
    const BULK: &[u8] = b"-ERR Protocol error: invalid bulk length\r\n";
    let big_inline = vec![b'A'; 65537];
    let nul_inline = [&b"GET k\0\r\nPING\r\n"[..], &[b'A'; 65537]].concat();
    let nul_mbulk = [&b"*1\0\r\n$4\r\nPING\r\n"[..], &[b'A'; 65537]].concat();
    let nul_bulk = [&b"*1\r\n$4\0\r\nPING\r\n"[..], &[b'A'; 65537]].concat();
    let big_mbulk = [b"*".to_vec(), vec![b'1'; 70_000]].concat();
    let big_bulk = [b"*1\r\n$".to_vec(), vec![b'1'; 70_000]].concat();
    let cases: Vec<(&[u8], &[u8])> = vec![
        (b"*abc\r\n", MB),
        (b"*\r\n", MB),
        (b"*3abc\r\n", MB),
        (b"*01\r\n$4\r\nPING\r\n", MB),
        (b"*2147483648\r\n", MB),
        (b"*1\r\n$abc\r\n", BULK),
        (b"*1\r\n$-5\r\n", BULK),
        (b"*1\r\n$-1\r\n", BULK),
        (b"*1\r\n$\r\n", BULK),
        (b"*1\r\n$+4\r\nPING\r\n", BULK),
        (b"*1\r\n$2147483648\r\n", BULK),
        (b"*1\r\n$536870913\r\n", BULK),
        (
            b"*1\r\nxabc\r\n",
            b"-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
        (
            b"*2\r\n$4\r\nECHO\r\n:5\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        // Redis turns \r and \n in an error text into spaces.
        (
            b"*1\r\n\r\n",
            b"-ERR Protocol error: expected '$', got ' '\r\n",
        ),
        (
            b"*1\r\n\nabc\r\n",
            b"-ERR Protocol error: expected '$', got ' '\r\n",
        ),
        (
            b"PING\r\n*abc\r\nPING\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            &big_inline,
            b"-ERR Protocol error: too big inline request\r\n",
        ),
        // A NUL ends Redis's search for the inline line's newline (strchr): the
        // line never completes, later commands included, until the limit.
        (
            &nul_inline,
            b"-ERR Protocol error: too big inline request\r\n",
        ),
        (
            &nul_mbulk,
            b"-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            &nul_bulk,
            b"-ERR Protocol error: too big bulk count string\r\n",
        ),
        (
            &big_mbulk,
            b"-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            &big_bulk,
            b"-ERR Protocol error: too big bulk count string\r\n",
        ),
    ];
    for_each_threads(&[1, 2], |srv| {
        for (input, want) in &cases {
            let mut c = srv.raw();
            c.send(input);
            let got = c.read_up_to(want.len(), Duration::from_secs(10));
            assert_eq!(
                show(&got),
                show(want),
                "input {:?}",
                show(&input[..input.len().min(40)])
            );
            c.expect_closed();
        }
    });
}

#[test]
fn one_megabyte_inline_line_without_newline() {
    for_each_threads(&[1], |srv| {
        let mut c = srv.raw();
        // The server may close while we are still writing: ignore write errors.
        let _ = std::io::Write::write_all(&mut c.stream(), &vec![b'A'; 1 << 20]);
        let want = b"-ERR Protocol error: too big inline request\r\n";
        assert_eq!(
            show(&c.read_up_to(want.len(), Duration::from_secs(10))),
            show(want)
        );
    });
}

#[test]
fn large_declared_lengths_within_limits_wait_for_data() {
    let inputs: &[&[u8]] = &[
        b"*1\r\n$536870912\r\n",
        b"*1048577\r\n",
        b"*2147483647\r\n",
        &[b'A'; 65536],
    ];
    for_each_threads(&[1, 2], |srv| {
        for input in inputs {
            let mut c = srv.raw();
            c.send(input);
            c.expect_silence(Duration::from_millis(300));
            exchange(srv, b"PING\r\n", b"+PONG\r\n");
        }
    });
}

#[test]
fn unknown_command_and_arity_errors() {
    let long_arg = [b"foo ".to_vec(), vec![b'x'; 200], b"\r\n".to_vec()].concat();
    let long_name = [vec![b'y'; 200], b" a\r\n".to_vec()].concat();
    let x128 = "x".repeat(128);
    let y128 = "y".repeat(128);
    let cases: Vec<(&[u8], String)> = vec![
        (b"foo a b\r\n", "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n".into()),
        (b"*3\r\n$3\r\nfoo\r\n$1\r\na\r\n$1\r\nb\r\n", "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n".into()),
        (b"foo\r\n", "-ERR unknown command 'foo', with args beginning with: \r\n".into()),
        (&long_arg, format!("-ERR unknown command 'foo', with args beginning with: '{x128}' \r\n")),
        (&long_name, format!("-ERR unknown command '{y128}', with args beginning with: 'a' \r\n")),
        (b"*1\r\n$0\r\n\r\n", "-ERR unknown command '', with args beginning with: \r\n".into()),
        (b"$3\r\nfoo\r\n", "-ERR unknown command '$3', with args beginning with: \r\n-ERR unknown command 'foo', with args beginning with: \r\n".into()),
        (b"GET\r\n", "-ERR wrong number of arguments for 'get' command\r\n".into()),
        (b"GeT a b\r\n", "-ERR wrong number of arguments for 'get' command\r\n".into()),
        (b"SET a\r\n", "-ERR wrong number of arguments for 'set' command\r\n".into()),
        (b"ECHO a b\r\n", "-ERR wrong number of arguments for 'echo' command\r\n".into()),
    ];
    for_each_threads(&[1], |srv| {
        for (input, want) in &cases {
            exchange(srv, input, want.as_bytes());
        }
        // Errors do not close the connection.
        exchange(
            srv,
            b"foo\r\nPING\r\n",
            b"-ERR unknown command 'foo', with args beginning with: \r\n+PONG\r\n",
        );
    });
}

#[test]
fn resp3_after_hello_3() {
    for_each_threads(&[1, 2], |srv| {
        let mut c = srv.raw();
        let hello = c.cmd(&["HELLO", "3"]);
        let text = show(&hello);
        assert!(hello.starts_with(b"%7\r\n$6\r\nserver\r\n"), "{text}");
        for field in [
            "$7\r\nversion\r\n$",
            "$5\r\nproto\r\n:3\r\n",
            "$2\r\nid\r\n:",
        ] {
            assert!(
                text.contains(&show(field.as_bytes())),
                "{field:?} in {text}"
            );
        }
        let tail = b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
        assert!(hello.ends_with(tail), "{text}");
        let steps: &[(&[&str], &[u8])] = &[
            (&["DEL", "{a}f", "{a}x"], b":0\r\n"),
            (&["GET", "{a}missing"], b"_\r\n"),
            (&["INCRBYFLOAT", "{a}f", "1.5"], b"$3\r\n1.5\r\n"),
            (&["SET", "{a}x", "1", "GET"], b"_\r\n"),
            (
                &["MGET", "{a}x", "{a}missing", "{b}y"],
                b"*3\r\n$1\r\n1\r\n_\r\n_\r\n",
            ),
            (&["GETDEL", "{a}nope"], b"_\r\n"),
            (&["TTL", "{a}x"], b":-1\r\n"),
            (
                &["HELLO", "4"],
                b"-NOPROTO unsupported protocol version\r\n",
            ),
        ];
        for (args, want) in steps {
            assert_eq!(show(&c.cmd(args)), show(want), "{args:?}");
        }
        assert!(c.cmd(&["HELLO", "2"]).starts_with(b"*14\r\n"));
        assert_eq!(show(&c.cmd(&["GET", "{a}missing"])), "$-1\\r\\n");
    });
}

#[test]
fn big_values_round_trip() {
    for_each_threads(THREADS, |srv| {
        let mut con = srv.connection();
        let mut rng = StdRng::seed_from_u64(7);
        for len in [16 * 1024 - 1, 64 * 1024 + 1, 1 << 20, 3 << 20] {
            let value: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let key = format!("big{len}");
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(&value)
                .query(&mut con)
                .unwrap();
            let back: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
            assert!(back == value, "value of {len} bytes came back different");
        }
        // Raw: the exact bulk header and payload.
        let value = vec![b'z'; 1 << 20];
        let mut c = srv.raw();
        assert_eq!(c.cmd(&[&b"SET"[..], b"raw1m", &value]), b"+OK\r\n");
        let want = [b"$1048576\r\n".to_vec(), value, b"\r\n".to_vec()].concat();
        assert!(c.cmd(&["GET", "raw1m"]) == want, "1 MB GET reply differs");
    });
}

#[test]
fn binary_safe_keys_and_values() {
    let key: &[u8] = b"k\0\r\n\xff{x}";
    let value: &[u8] = b"\0\r\n$3\r\n*1\r\n\xfe";
    for_each_threads(THREADS, |srv| {
        let mut c = srv.raw();
        assert_eq!(c.cmd(&[&b"SET"[..], key, value]), b"+OK\r\n");
        assert_eq!(
            show(&c.cmd(&[&b"GET"[..], key])),
            show(b"$12\r\n\0\r\n$3\r\n*1\r\n\xfe\r\n")
        );
        assert_eq!(c.cmd(&[&b"STRLEN"[..], key]), b":12\r\n");
        assert_eq!(c.cmd(&[&b"GET"[..], b"k\0\r\n"]), b"$-1\r\n");
        assert_eq!(c.cmd(&[&b"EXISTS"[..], key, b"k"]), b":1\r\n");
    });
}

/// 10,000 pipelined commands over keys on many shards; replies must come back in
/// request order, and APPEND logs prove the writes ran in order too.
#[test]
fn ten_thousand_command_pipeline_keeps_order() {
    for_each_threads(THREADS, |srv| {
        let (mut input, mut want) = (Vec::new(), Vec::new());
        let mut counters = [0i64; 13];
        let mut logs = vec![String::new(); 5];
        for i in 0..2500usize {
            let key = |j: usize| format!("{{s{}}}key{j}", j % 61);
            input.extend(resp(&["SET".into(), key(i), i.to_string()]));
            want.push(b"+OK\r\n".to_vec());
            counters[i % 13] += 1;
            input.extend(resp(&["INCR".into(), format!("{{c{}}}ctr", i % 13)]));
            want.push(format!(":{}\r\n", counters[i % 13]).into_bytes());
            let v = (i / 2).to_string();
            input.extend(resp(&["GET".into(), key(i / 2)]));
            want.push(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
            logs[i % 5].push_str(&format!("{i},"));
            input.extend(resp(&[
                "APPEND".into(),
                format!("log{}", i % 5),
                format!("{i},"),
            ]));
            want.push(format!(":{}\r\n", logs[i % 5].len()).into_bytes());
        }
        let mut c = srv.raw();
        let mut writer = c.stream();
        let sender = std::thread::spawn(move || std::io::Write::write_all(&mut writer, &input));
        for (n, w) in want.iter().enumerate() {
            let got = c.reply();
            assert_eq!(show(&got), show(w), "reply #{n} out of order or wrong");
        }
        sender.join().unwrap().unwrap();
        for (j, log) in logs.iter().enumerate() {
            let got = c.cmd(&["GET".to_string(), format!("log{j}")]);
            assert!(
                got.ends_with(format!("{log}\r\n").as_bytes()),
                "log{j} out of order"
            );
        }
    });
}

#[test]
fn same_hashtag_and_cross_shard_multi_key_commands() {
    let steps: &[(&[&str], &[u8])] = &[
        (
            &["MSET", "{user1}a", "1", "{user1}b", "2", "{user1}c", "3"],
            b"+OK\r\n",
        ),
        (
            &["MGET", "{user1}a", "{user1}b", "{user1}c", "{user1}d"],
            b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n",
        ),
        (&["RENAME", "{user1}a", "{user1}z"], b"+OK\r\n"),
        (&["EXISTS", "{user1}a", "{user1}z", "{user1}z"], b":2\r\n"),
        (
            &["MSET", "p", "1", "q", "2", "r", "3", "s", "4"],
            b"+OK\r\n",
        ),
        (
            &["MGET", "p", "q", "r", "s", "{user1}z"],
            b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n1\r\n",
        ),
        (&["MSETNX", "t", "1", "p", "9"], b":0\r\n"),
        (&["EXISTS", "t"], b":0\r\n"),
        (&["RENAME", "p", "{user1}p"], b"+OK\r\n"),
        (&["COPY", "q", "{user1}q"], b":1\r\n"),
        (
            &["DEL", "{user1}b", "{user1}c", "q", "r", "nope"],
            b":4\r\n",
        ),
        (
            &["MGET", "{user1}p", "{user1}q", "s"],
            b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n4\r\n",
        ),
        (&["DBSIZE"], b":4\r\n"),
    ];
    for_each_threads(THREADS, |srv| {
        let mut c = srv.raw();
        for (args, want) in steps {
            assert_eq!(show(&c.cmd(args)), show(want), "{args:?}");
        }
    });
}

/// Junk for the parser: random bytes, or a valid command with random damage.
fn junk(rng: &mut StdRng) -> Vec<u8> {
    const BASES: &[&[u8]] = &[
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
        b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
        b"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$4\r\n{a}b\r\n",
        b"ECHO \"a\\x41 b\" 'c'\r\n",
        b"INCR n\r\n",
    ];
    const ALPHABET: &[u8] = b"*$:+-\r\n0123456789\"'\\ x{}";
    match rng.gen_range(0..3) {
        0 => (0..rng.gen_range(1..300)).map(|_| rng.gen()).collect(),
        1 => (0..rng.gen_range(1..100))
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
            .collect(),
        _ => {
            let mut v = BASES[rng.gen_range(0..BASES.len())].to_vec();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..v.len());
                match rng.gen_range(0..3) {
                    0 => v[at] = ALPHABET[rng.gen_range(0..ALPHABET.len())],
                    1 => v.insert(at, ALPHABET[rng.gen_range(0..ALPHABET.len())]),
                    _ => v.truncate(at.max(1)),
                }
            }
            v
        }
    }
}

#[test]
fn random_junk_never_breaks_the_server() {
    for_each_threads(&[2], |srv| {
        let mut watcher = srv.raw();
        let workers: Vec<_> = (0..4u64)
            .map(|t| {
                let port = srv.port();
                std::thread::spawn(move || {
                    let mut rng = StdRng::seed_from_u64(0x5eed_0000 + t);
                    for n in 0..75 {
                        let mut c = RawConn::connect(port);
                        for _ in 0..rng.gen_range(1..4) {
                            let _ = std::io::Write::write_all(&mut c.stream(), &junk(&mut rng));
                        }
                        // Half-close: the server must answer what it parsed, then close.
                        let _ = c.stream().shutdown(std::net::Shutdown::Write);
                        let out = c.read_up_to(usize::MAX, Duration::from_secs(10));
                        let mut r = &out[..];
                        while !r.is_empty() {
                            let mut reply = Vec::new();
                            common::read_reply(&mut r, &mut reply).unwrap_or_else(|e| {
                                panic!("seed {t} conn {n}: malformed output {:?}: {e}", show(&out))
                            });
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(watcher.cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(srv.raw().cmd(&["SET", "after", "junk"]), b"+OK\r\n");
        assert_eq!(srv.raw().cmd(&["GET", "after"]), b"$4\r\njunk\r\n");
    });
}
